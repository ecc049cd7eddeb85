//! `cargo xtask bench`: this daemon and keepalived side by side, one table.
//!
//! One command, one run: it builds what it needs first (the release daemon and the XDP
//! cost bench), so that no compiler competes with the measurements,
//! then runs the lab scenarios of `vrrp_tests::bench` (failover gap, takeover precision
//! idle / CPU saturated / flooded, stalled backup, frozen master, defective adverts, CPU
//! and memory per node), the XDP cost per packet (`benches/xdp_cost.rs`) and the config
//! parse (`bench-config`). It prints one table (medians, 95th percentiles, the ratio
//! ours / keepalived) and writes it as Markdown to `target/bench/report.md` and, for a full
//! run, to `BENCHMARKS.md` at the top of the workspace (the committed record).
//!
//! A benchmark, not a test: it asserts nothing and is not part of `cargo xtask test` or
//! CI. Every scenario is bounded (a fixed number of repetitions, every wait with a
//! deadline, load that stops by itself); the whole run takes about 10 minutes on two
//! cores, `--quick` about 4. `--only GROUP,...` runs a subset.
//!
//! `cargo xtask bench-config` alone times loading a large keepalived.conf: it builds
//! `vrrp-daemon` with optimisations (without the XDP program, which parsing does not
//! need, into `target/bench` so the normal release binary is left alone), then runs its
//! hidden `bench-config` command on the corpus's 200-instance file: `config::load` (read,
//! include expansion, parse, defaults and checks) run N times, median and 95th percentile
//! printed in milliseconds.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use vrrp_tests::bench::{self, Row, Section, Summary};

use crate::workspace;

/// The configuration timed when none is given.
pub const DEFAULT_CONFIG: &str = "vrrp-daemon/tests/configs/200-instances.conf";

/// Groups `--only` accepts besides the lab's.
const OWN_GROUPS: &[&str] = &["xdp", "config"];

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(workspace());
    c
}

/// Builds the optimised daemon without its XDP program into `target/bench` (parsing needs
/// no XDP object, nor nightly) and returns the binary.
fn build_parse_binary() -> Result<PathBuf> {
    let target = workspace().join("target").join("bench");
    let status = cargo()
        .args([
            "build",
            "--release",
            "--package",
            "vrrp-daemon",
            "--bin",
            "vrrp-daemon",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .env("AYA_BUILD_SKIP", "1")
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building vrrp-daemon for the benchmark failed ({status})");
    }
    Ok(target.join("release").join("vrrp-daemon"))
}

/// Times `config::load` of `config` `runs` times with `bin`; returns its summary line.
fn time_config(bin: &Path, config: &str, runs: usize) -> Result<String> {
    let path = workspace().join(config);
    let out = Command::new(bin)
        .args(["bench-config", "--runs", &runs.to_string(), "-f"])
        .arg(&path)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    if !out.status.success() {
        bail!("vrrp-daemon bench-config failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `cargo xtask bench-config`: builds the daemon and times `config::load` of `config`
/// (relative to the workspace) `runs` times.
pub fn config(config: &str, runs: usize) -> Result<()> {
    let bin = build_parse_binary()?;
    println!("{}", time_config(&bin, config, runs)?);
    Ok(())
}

/// The `bench-config` line as a row: "... median 1.234 ms, p95 2.345 ms, ...".
fn config_row(line: &str, runs: usize) -> Row {
    let after = |key: &str| -> Option<f64> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.split_whitespace().next()?.parse().ok()
    };
    let instances = line
        .split('(')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or("?");
    match after("median ") {
        Some(median) => Row::ours_only(
            Section::Config,
            format!("config::load of the {instances}-instance corpus file"),
            "ms",
            3,
            Summary::Given {
                median,
                p95: after("p95 "),
                n: runs,
            },
            String::new(),
        ),
        None => Row::failed("config parse", &format!("unexpected output {line:?}")),
    }
}

/// Builds the XDP cost bench without running it; returns its executable (run directly
/// later, so that sources edited meanwhile are not rebuilt in the middle of the run).
fn build_xdp_bench() -> Result<PathBuf> {
    let out = cargo()
        .args([
            "bench",
            "--package",
            "vrrp-daemon",
            "--bench",
            "xdp_cost",
            "--no-run",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo bench --no-run")?;
    if !out.status.success() {
        bail!("building the xdp_cost bench failed ({})", out.status);
    }
    let json = String::from_utf8_lossy(&out.stdout);
    json.lines()
        .filter(|l| l.contains(r#""name":"xdp_cost""#))
        .find_map(|l| {
            let rest = &l[l.find(r#""executable":""#)? + 14..];
            Some(PathBuf::from(&rest[..rest.find('"')?]))
        })
        .context("cargo did not name the xdp_cost executable")
}

/// Runs the XDP cost bench; returns its output.
fn run_xdp_bench(exe: &Path) -> Result<String> {
    let out = Command::new(exe)
        .arg("--bench")
        .current_dir(workspace().join("vrrp-daemon"))
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    if !out.status.success() {
        bail!("the xdp_cost bench failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Rows out of the xdp_cost table: `NAME  VERDICT  OURS_NS  BASELINE_NS  DELTA`.
fn xdp_rows(output: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    for line in output.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() < 5 || !w[w.len() - 4].starts_with("XDP_") {
            continue;
        }
        let n = w.len();
        let (Ok(ours), Ok(base)) = (w[n - 3].parse::<f64>(), w[n - 2].parse::<f64>()) else {
            continue;
        };
        rows.push(Row::ours_only(
            Section::Xdp,
            format!("{} → {}", w[..n - 4].join(" "), w[n - 4]),
            "ns",
            0,
            Summary::Given {
                median: ours,
                p95: None,
                n: 1,
            },
            format!(
                "trivial XDP_PASS program: {base:.0} ns, so {:+.0} ns of our own",
                ours - base
            ),
        ));
    }
    if rows.is_empty() {
        rows.push(Row::failed(
            "XDP cost",
            &format!("no rows in the xdp_cost output: {output:?}"),
        ));
    }
    rows
}

fn first_line(mut c: Command) -> String {
    c.stdin(Stdio::null())
        .output()
        .ok()
        .map(|o| {
            let s = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&s)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// Date, kernel, CPUs: what the numbers are about.
fn machine() -> (String, String) {
    let date = first_line({
        let mut c = Command::new("date");
        c.args(["-u", "+%Y-%m-%d %H:%M UTC"]);
        c
    });
    let kernel = first_line({
        let mut c = Command::new("uname");
        c.arg("-r");
        c
    });
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let keepalived = first_line({
        let mut c = Command::new("keepalived");
        c.arg("--version");
        c
    });
    (
        date,
        format!("{cpus} CPUs ({cpu}), Linux {kernel}; {keepalived}"),
    )
}

/// The 1-minute load average (`/proc/loadavg`): anything well above 0 before the run
/// means someone else is using the CPUs the benchmark measures.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// `cargo xtask bench [--quick] [--only GROUP,...]`.
pub fn run(daemon: &Path, quick: bool, only: Vec<String>) -> Result<()> {
    let known: Vec<&str> = bench::GROUPS.iter().chain(OWN_GROUPS).copied().collect();
    for g in &only {
        if !known.contains(&g.as_str()) {
            bail!("unknown group {g:?}; groups are {}", known.join(", "));
        }
    }
    let wants = |g: &str| only.is_empty() || only.iter().any(|o| o == g);
    let started = Instant::now();
    let (date, machine) = machine();
    let load_before = loadavg();
    let config_runs = if quick { 50 } else { 200 };

    // Everything is compiled before anything is measured. (The config parse runs the
    // release daemon's own `bench-config`: no separate build.)
    let xdp_exe = if wants("xdp") {
        Some(build_xdp_bench()?)
    } else {
        None
    };
    // A copy of the daemon, so that a rebuild meanwhile (others work on this tree) cannot
    // swap the binary in the middle of the run.
    let dir = workspace().join("target").join("bench");
    std::fs::create_dir_all(&dir)?;
    let pinned = dir.join("vrrp-daemon");
    std::fs::copy(daemon, &pinned)
        .with_context(|| format!("copying {} to {}", daemon.display(), pinned.display()))?;
    let daemon = pinned.as_path();
    let others = bench::foreign_labs();
    if !others.is_empty() {
        eprintln!(
            "xtask: warning: other labs are running ({}); they compete for the CPUs and \
             disturb the numbers",
            others.join(", ")
        );
    }

    let lab_only: Vec<String> = only
        .iter()
        .filter(|g| bench::GROUPS.contains(&g.as_str()))
        .cloned()
        .collect();
    let mut rows = Vec::new();
    // Whoever else uses the machine meanwhile is worth knowing: a sampler looks for other
    // labs every second and notes the step it saw them in.
    let watch = Arc::new((
        AtomicBool::new(false),
        Mutex::new((String::new(), Vec::new())),
    ));
    let sampler = {
        let watch = watch.clone();
        std::thread::spawn(move || {
            while !watch.0.load(Ordering::Relaxed) {
                if !bench::foreign_labs().is_empty() {
                    let mut g = watch.1.lock().unwrap_or_else(|e| e.into_inner());
                    let (step, seen): &mut (String, Vec<String>) = &mut g;
                    if !step.is_empty() && !seen.contains(step) {
                        seen.push(step.clone());
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    if only.is_empty() || !lab_only.is_empty() {
        let opts = bench::Options {
            daemon_bin: daemon.to_path_buf(),
            quick,
            only: lab_only,
        };
        let t0 = Instant::now();
        rows = bench::run(&opts, &mut |line| {
            eprintln!("bench [{:>6.1} s] {line}", t0.elapsed().as_secs_f64());
            let step = line.split(':').next().unwrap_or(line);
            let mut g = watch.1.lock().unwrap_or_else(|e| e.into_inner());
            g.0 = step.trim_end_matches(" ...").to_string();
        });
    }
    watch.0.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let disturbed = std::mem::take(&mut watch.1.lock().unwrap_or_else(|e| e.into_inner()).1);
    if let Some(exe) = xdp_exe {
        eprintln!("bench: XDP cost per packet ...");
        match run_xdp_bench(&exe) {
            Ok(out) => {
                eprint!("{out}");
                rows.extend(xdp_rows(&out));
            }
            Err(e) => rows.push(Row::failed("XDP cost", &format!("{e:#}"))),
        }
    }
    if wants("config") {
        eprintln!("bench: config parse ...");
        match time_config(daemon, DEFAULT_CONFIG, config_runs) {
            Ok(line) => rows.push(config_row(&line, config_runs)),
            Err(e) => rows.push(Row::failed("config parse", &format!("{e:#}"))),
        }
    }
    let mut command = String::from("cargo xtask bench");
    if quick {
        command.push_str(" --quick");
    }
    if !only.is_empty() {
        command.push_str(&format!(" --only {}", only.join(",")));
    }
    let took = started.elapsed().as_secs_f64();
    let mut header = format!(
        "{date}; {machine}; `{command}` took {:.0} min {:.0} s; load average {load_before} \
         before, {} after.",
        (took / 60.0).floor(),
        took % 60.0,
        loadavg()
    );
    if !others.is_empty() || !disturbed.is_empty() {
        header.push_str(&format!(
            " Other labs were running on the machine (at the start: {}; during: {}), so \
             some numbers are disturbed.",
            if others.is_empty() { "no" } else { "yes" },
            if disturbed.is_empty() {
                "none seen".to_string()
            } else {
                disturbed.join("; ")
            }
        ));
    }
    let text = bench::render_text(&rows);
    println!("\n{header}\n\n{text}");
    let path = dir.join("report.md");
    let md = format!(
        "# vrrp-daemon vs keepalived\n\n{header}\n\nMedians and 95th percentiles over the \
         repetitions (n: ours/keepalived); the ratio is ours / keepalived of the medians.\n\n{}\n\
         ## Every repetition\n\n{}",
        bench::render_markdown(&rows),
        bench::render_samples(&rows)
    );
    std::fs::write(&path, &md).with_context(|| format!("writing {}", path.display()))?;
    println!("written to {}", path.display());
    // The committed record (the README quotes it): only a full run replaces it, so a
    // subset never leaves it half a table.
    let record = workspace().join("BENCHMARKS.md");
    if only.is_empty() {
        std::fs::write(&record, &md).with_context(|| format!("writing {}", record.display()))?;
        println!("and to {}", record.display());
    } else {
        println!(
            "{} left as it is (a subset run; only a full run replaces it)",
            record.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_xdp_table() {
        let out = "XDP cost per packet (BPF_PROG_TEST_RUN; ...)\n\
                   packet                          verdict    vrrp_xdp ns    baseline ns    delta\n\
                   IPv4/TCP (foreign)             XDP_PASS             12              9       +3\n\
                   ARP request for the VIP          XDP_TX             61             21      +40\n";
        let rows = xdp_rows(out);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].metric, "IPv4/TCP (foreign) → XDP_PASS");
        assert_eq!(
            rows[1].ours,
            Summary::Given {
                median: 61.0,
                p95: None,
                n: 1
            }
        );
    }

    #[test]
    fn parses_the_config_line() {
        let line = "config::load /x/200-instances.conf (200 instances), 200 runs: median 1.234 ms, \
                    p95 2.345 ms, min 1.000 ms, max 3.000 ms";
        let row = config_row(line, 200);
        assert_eq!(
            row.ours,
            Summary::Given {
                median: 1.234,
                p95: Some(2.345),
                n: 200
            }
        );
        assert!(row.metric.contains("200-instance"));
    }
}
