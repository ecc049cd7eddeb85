//! `cargo xtask vm-test`: the daemon on the kernels operators run (Linux 5.10 and 6.1, from
//! Debian 11 and 12), booted in qemu.
//!
//! For each kernel: fetch Debian's cloud kernel package through a private apt
//! configuration (cached under `target/vm/`), build an initramfs with busybox, iproute2's
//! `ip`, the kernel's veth and bridge modules, the daemon and the `kernel_gate` and
//! `xdp_fixtures` test binaries, boot it under qemu (software emulation, bounded by a
//! timeout) and report one line per check:
//!
//! * `boot`: the guest reached its init;
//! * `kernel-check`: `dataplane/kernel.rs` finds XDP, ring buffers, bpf_link XDP and every
//!   helper the program calls;
//! * `verifier`: the XDP program loads (the verifier's log is printed when it does not);
//! * `fixtures`: the BPF_PROG_TEST_RUN fixture table (`vrrp-daemon/tests/xdp_fixtures.rs`);
//! * `gate-variant`: a test-only variant of the program calling a helper 5.10 lacks is
//!   refused by name where the helper is missing, and loads where it is present;
//! * `failover`: two daemons and a client in namespaces; the master is killed, the VIP moves.
//!
//! The guest's console is kept in `target/vm/<kernel>/console.log`.
mod debian;
mod initramfs;
mod qemu;

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use clap::ValueEnum;

use self::{debian::Target, initramfs::Cpio};

/// Which kernels `vm-test` boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KernelChoice {
    /// Linux 5.10 (Debian 11).
    #[value(name = "5.10")]
    V5_10,
    /// Linux 6.1 (Debian 12).
    #[value(name = "6.1")]
    V6_1,
    /// Both.
    All,
}

/// The checks the guest runs, in order (see `init.sh`).
const CHECKS: &[&str] = &[
    "boot",
    "kernel-check",
    "verifier",
    "fixtures",
    "gate-variant",
    "failover",
];

/// Kernel modules the failover lab needs (their dependencies are added).
const MODULES: &[&str] = &["veth", "bridge"];

/// The binaries the guest runs, built on the host.
struct Binaries {
    daemon: PathBuf,
    kernel_gate: PathBuf,
    xdp_fixtures: PathBuf,
    ip: PathBuf,
    busybox: PathBuf,
}

/// One check's outcome, as the guest reported it.
struct Outcome {
    check: String,
    pass: bool,
    detail: String,
}

/// Run `vm-test` for `choice`; `timeout` bounds each boot.
pub fn run(choice: KernelChoice, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    host_tools()?;
    let vm_dir = crate::workspace().join("target").join("vm");
    fs::create_dir_all(&vm_dir)?;
    let t = Instant::now();
    let bins = binaries(&vm_dir)?;
    let build_time = t.elapsed();
    let targets: Vec<&Target> = debian::TARGETS
        .iter()
        .filter(|t| match choice {
            KernelChoice::All => true,
            KernelChoice::V5_10 => t.label == "5.10",
            KernelChoice::V6_1 => t.label == "6.1",
        })
        .collect();
    let mut failed = Vec::new();
    let mut summary = Vec::new();
    for target in targets {
        let kernel_started = Instant::now();
        let outcome = run_kernel(&vm_dir, target, &bins, timeout);
        let total = kernel_started.elapsed();
        match outcome {
            Ok((outcomes, timing)) => {
                let bad: Vec<&str> = outcomes
                    .iter()
                    .filter(|o| !o.pass)
                    .map(|o| o.check.as_str())
                    .collect();
                if !bad.is_empty() {
                    failed.push(format!("{} ({})", target.label, bad.join(", ")));
                }
                summary.push(format!(
                    "{:<5} {:<13} {}  {timing}, {:.1} s in all",
                    target.label,
                    "time",
                    if bad.is_empty() { "PASS" } else { "FAIL" },
                    total.as_secs_f64()
                ));
            }
            Err(e) => {
                println!("{:<5} {:<13} FAIL  {e:#}", target.label, "setup");
                failed.push(format!("{} (setup)", target.label));
            }
        }
    }
    for line in summary {
        println!("{line}");
    }
    println!(
        "vm-test: {:.1} s in all (building the binaries: {:.1} s); consoles in {}",
        started.elapsed().as_secs_f64(),
        build_time.as_secs_f64(),
        vm_dir.display()
    );
    if !failed.is_empty() {
        bail!("vm-test failed on {}", failed.join("; "));
    }
    Ok(())
}

/// Fetch, pack, boot and check one kernel; print its lines as the guest reports them.
fn run_kernel(
    vm_dir: &Path,
    target: &Target,
    bins: &Binaries,
    timeout: Duration,
) -> Result<(Vec<Outcome>, String)> {
    let t = Instant::now();
    let kernel = debian::kernel(vm_dir, target)?;
    let fetch_time = t.elapsed();
    let t = Instant::now();
    let dir = vm_dir.join(target.label);
    fs::create_dir_all(&dir)?;
    let initrd = dir.join("initramfs.cpio");
    pack(&initrd, &kernel, bins)?;
    let pack_time = t.elapsed();
    let log = dir.join("console.log");
    let label = target.label;
    let mut outcomes: Vec<Outcome> = Vec::new();
    let mut output: Vec<String> = Vec::new();
    let t = Instant::now();
    let ending = qemu::boot(
        &kernel.vmlinuz,
        &initrd,
        "console=ttyS0 loglevel=4 panic=-1 rdinit=/init",
        &log,
        timeout,
        |line| {
            // The first line may follow the firmware's terminal escapes.
            if let Some(rest) = line.find("VMTEST ").map(|at| &line[at + 7..]) {
                let mut parts = rest.splitn(3, ' ');
                let check = parts.next().unwrap_or_default().to_string();
                let pass = parts.next() == Some("PASS");
                let detail = parts.next().unwrap_or_default().to_string();
                println!(
                    "{label:<5} {check:<13} {}  {detail}",
                    if pass { "PASS" } else { "FAIL" }
                );
                if !pass {
                    for l in &output {
                        println!("      {l}");
                    }
                }
                output.clear();
                outcomes.push(Outcome {
                    check,
                    pass,
                    detail,
                });
            } else if let Some(printed) = line.strip_prefix("  | ") {
                output.push(printed.to_string());
            }
        },
    )?;
    let guest_time = t.elapsed();
    let why = match ending {
        qemu::Ending::Finished => None,
        qemu::Ending::Stopped => Some("the guest stopped".to_string()),
        qemu::Ending::TimedOut => Some(format!("no result within {} s", timeout.as_secs())),
    };
    for check in CHECKS {
        if !outcomes.iter().any(|o| o.check == *check) {
            let why = why
                .clone()
                .unwrap_or_else(|| "the guest did not report it".into());
            let detail = format!("{why}; see {}", log.display());
            println!("{label:<5} {check:<13} FAIL  {detail}");
            for l in &output {
                println!("      {l}");
            }
            output.clear();
            outcomes.push(Outcome {
                check: check.to_string(),
                pass: false,
                detail,
            });
        }
    }
    let timing = format!(
        "{} ({}): kernel package {:.1} s{}, initramfs {:.1} s, guest {:.1} s",
        kernel.release,
        kernel
            .deb
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        fetch_time.as_secs_f64(),
        if kernel.downloaded {
            " (downloaded)"
        } else {
            " (cached)"
        },
        pack_time.as_secs_f64(),
        guest_time.as_secs_f64(),
    );
    // Keep every check's detail in the log directory too, for CI artifacts.
    let report: String = outcomes
        .iter()
        .map(|o| {
            format!(
                "{label} {} {} {}\n",
                o.check,
                if o.pass { "PASS" } else { "FAIL" },
                o.detail
            )
        })
        .collect();
    fs::write(dir.join("report.txt"), report)?;
    Ok((outcomes, timing))
}

/// Write the guest's initramfs.
fn pack(path: &Path, kernel: &debian::Kernel, bins: &Binaries) -> Result<()> {
    let mut cpio = Cpio::create(path)?;
    for dir in [
        "/proc", "/sys", "/dev", "/tmp", "/run", "/root", "/etc", "/var",
    ] {
        cpio.dir(dir)?;
    }
    cpio.symlink("/var/run", "../run")?;
    cpio.char_device("/dev/console", 5, 1)?;
    cpio.char_device("/dev/null", 1, 3)?;
    cpio.file("/etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")?;
    cpio.file("/etc/group", 0o644, b"root:x:0:\n")?;
    cpio.file("/init", 0o755, include_bytes!("init.sh"))?;
    cpio.file("/failover.sh", 0o755, include_bytes!("failover.sh"))?;
    cpio.executable("/bin/busybox", &bins.busybox)?;
    cpio.executable("/usr/sbin/ip", &bins.ip)?;
    cpio.executable("/bin/vrrp-daemon", &bins.daemon)?;
    cpio.executable("/bin/kernel_gate", &bins.kernel_gate)?;
    cpio.executable("/bin/xdp_fixtures", &bins.xdp_fixtures)?;
    for applet in busybox_applets(&bins.busybox)? {
        if applet != "busybox" {
            cpio.symlink(&format!("/bin/{applet}"), "busybox")?;
        }
    }
    let mut names = String::new();
    for (name, file) in debian::modules(kernel, MODULES)? {
        let data = debian::module_bytes(&file)?;
        cpio.file(&format!("/lib/modules/{name}.ko"), 0o644, &data)?;
        names.push_str(&name);
        names.push('\n');
    }
    cpio.file("/etc/vmtest/modules", 0o644, names.as_bytes())?;
    cpio.finish()
}

fn busybox_applets(busybox: &Path) -> Result<Vec<String>> {
    let out = Command::new(busybox)
        .arg("--list")
        .output()
        .context("busybox --list")?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains('/'))
        .map(str::to_string)
        .collect())
}

/// Build the daemon (with its XDP object) and the test binaries the guest runs, and strip
/// their debug information into `target/vm/bin`.
fn binaries(vm_dir: &Path) -> Result<Binaries> {
    let daemon = crate::build(false)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(crate::workspace())
        .args([
            "test",
            "--package",
            "vrrp-daemon",
            "--test",
            "kernel_gate",
            "--test",
            "xdp_fixtures",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("cargo test --no-run")?;
    if !out.status.success() {
        bail!("building the test binaries failed ({})", out.status);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let test_bin = |name: &str| -> Result<PathBuf> {
        stdout
            .lines()
            .filter(|l| l.contains("\"reason\":\"compiler-artifact\""))
            .filter_map(|l| json_string(l, "executable"))
            .map(PathBuf::from)
            .find(|p| {
                p.file_name()
                    .is_some_and(|f| f.to_string_lossy().starts_with(&format!("{name}-")))
            })
            .with_context(|| format!("cargo produced no {name} test binary"))
    };
    let stripped = vm_dir.join("bin");
    Ok(Binaries {
        daemon: initramfs::stripped(&daemon, &stripped)?,
        kernel_gate: initramfs::stripped(&test_bin("kernel_gate")?, &stripped)?,
        xdp_fixtures: initramfs::stripped(&test_bin("xdp_fixtures")?, &stripped)?,
        ip: which("ip")?,
        busybox: busybox()?,
    })
}

/// The string value of `"key":"..."` in one line of cargo's JSON (paths need no unescaping
/// beyond `\\` and `\"`).
fn json_string(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let mut value = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => value.push(chars.next()?),
            c => value.push(c),
        }
    }
    None
}

fn which(program: &str) -> Result<PathBuf> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || path.is_empty() {
        bail!("{program} is not installed");
    }
    Ok(PathBuf::from(path))
}

/// busybox-static's busybox (Debian's plain `busybox` package is dynamically linked, which
/// would work too, but the static one needs nothing else in the image).
fn busybox() -> Result<PathBuf> {
    let bin = which("busybox")?;
    if !initramfs::is_static(&bin) {
        bail!(
            "{} is not statically linked; install busybox-static",
            bin.display()
        );
    }
    Ok(bin)
}

/// What the host needs: qemu, a static busybox, iproute2, and Debian's package tools.
/// Missing Debian packages are installed (as `cargo xtask test` does for its own).
fn host_tools() -> Result<()> {
    let mut missing = Vec::new();
    if which("qemu-system-x86_64").is_err() {
        missing.push("qemu-system-x86");
    }
    if which("busybox").map_or(true, |b| !initramfs::is_static(&b)) {
        missing.push("busybox-static");
    }
    if which("ip").is_err() {
        missing.push("iproute2");
    }
    for (tool, package) in [
        ("apt-get", "apt"),
        ("dpkg-deb", "dpkg"),
        ("ldd", "libc-bin"),
    ] {
        if which(tool).is_err() {
            bail!("{tool} (package {package}) is needed: vm-test runs on Debian or Ubuntu hosts");
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "vm-test needs {} installed: run as root, or `sudo apt-get install {}`",
            missing.join(", "),
            missing.join(" ")
        );
    }
    eprintln!("xtask: vm-test: installing {}", missing.join(" "));
    let install = |update: bool| -> Result<bool> {
        if update {
            Command::new("apt-get").args(["update", "-q"]).status()?;
        }
        Ok(Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()?
            .success())
    };
    if !install(false)? && !install(true)? {
        bail!("apt-get install {} failed", missing.join(" "));
    }
    Ok(())
}
