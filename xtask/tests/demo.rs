//! `cargo xtask run`'s demo, end to end without a terminal: the scripted tour runs on its
//! own, shows the failovers with the client's measured gaps, exits 0, and leaves nothing
//! behind; Ctrl-C in the middle tears everything down too.
//!
//! Runs the xtask binary's hidden `demo` command (what `run` does after building) with the
//! daemon `cargo xtask test` built, as root.
use std::{
    io::{BufRead as _, BufReader, Read as _},
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use vrrp_tests::is_root;

/// Generous: the tour takes a few seconds, but the machine may be busy.
const TOUR_LIMIT: Duration = Duration::from_secs(180);

fn daemon_bin() -> PathBuf {
    let bin = std::env::var_os("VRRP_DAEMON_BIN")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/vrrp-daemon")
        });
    assert!(
        bin.is_file(),
        "{} missing: run through `cargo xtask test`",
        bin.display()
    );
    bin
}

fn start_demo() -> Child {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("demo")
        .arg("--daemon")
        .arg(daemon_bin())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting xtask demo")
}

/// Waits for `child` (bounded: killed and reported after `limit`).
fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    let end = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the demo did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Lines of `child`'s stdout as they come, and its stderr once it ends.
fn output(child: &mut Child) -> (mpsc::Receiver<String>, std::thread::JoinHandle<String>) {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    (rx, err)
}

/// What the demo run by `pid` left behind: namespaces, lab dirs, processes of its lab
/// (all named `vrrpt-<pid>-...`).
fn leftovers(pid: u32) -> Vec<String> {
    let prefix = format!("vrrpt-{pid}-");
    let mut left = Vec::new();
    for dir in ["/var/run/netns", "/tmp"] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(&prefix) {
                    left.push(format!("{dir}/{name}"));
                }
            }
        }
    }
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(&prefix)
        {
            left.push(format!("process {}", e.file_name().to_string_lossy()));
        }
    }
    left
}

/// The number of milliseconds in "... went N ms without an answer".
fn gap_ms(line: &str) -> Option<u64> {
    let (_, rest) = line.split_once("went ")?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn tour_runs_unattended_shows_failovers_with_gaps_and_leaves_nothing() {
    let mut child = start_demo();
    let pid = child.id();
    let (lines, err) = output(&mut child);
    let status = wait(&mut child, TOUR_LIMIT);
    let out: Vec<String> = lines.try_iter().collect();
    let text = out.join("\n");
    let err = err.join().unwrap();
    assert!(status.success(), "{status}\n{text}\n{err}");

    // Each step ends with the VIP's move and the client's gap, measured.
    let moves: Vec<(&str, u64)> = out
        .iter()
        .filter_map(|l| {
            let l = l.trim();
            let (what, _) = l.strip_prefix("→ VIP moved ")?.split_once(';')?;
            Some((what, gap_ms(l)?))
        })
        .collect();
    assert_eq!(
        moves.iter().map(|m| m.0).collect::<Vec<_>>(),
        ["node1 → node2", "node2 → node1", "node1 → node2"],
        "kill -9, restart (preemption), SIGTERM:\n{text}"
    );
    // kill -9 and SIGTERM interrupt the client: a real gap, measured in milliseconds.
    assert!(moves[0].1 > 0 && moves[2].1 > 0, "{moves:?}\n{text}");
    // The timeline shows who caused what: the crash guardian's priority 0 on the wire,
    // node2's transition with its reason, the client's answers switching.
    for needle in [
        "kill -9 node1's daemon",
        "node1 sends priority 0",
        "node2   BACKUP → MASTER",
        "answers now come from node2",
        "node1   BACKUP → MASTER",
        "node1   MASTER → STOP",
        "vrrp-daemon status --json",
    ] {
        assert!(text.contains(needle), "no {needle:?} in:\n{text}");
    }
    let summary = text.split("── Summary").nth(1).expect("a summary");
    for row in ["kill -9 node1", "restart node1", "SIGTERM node1"] {
        assert!(summary.contains(row), "{summary}");
    }
    assert!(!summary.contains("did not settle"), "{summary}");
    assert_eq!(leftovers(pid), Vec::<String>::new(), "{text}");
}

#[test]
fn ctrl_c_in_the_middle_of_the_tour_removes_the_lab() {
    let mut child = start_demo();
    let pid = child.id();
    let (lines, err) = output(&mut child);
    let mut seen = Vec::new();
    // Interrupt once the lab is up and the daemons have elected a master.
    let end = Instant::now() + TOUR_LIMIT;
    while !seen
        .iter()
        .any(|l: &String| l.contains("vrrp-daemon status --json"))
    {
        let left = end.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) => seen.push(l),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the demo never showed the status table:\n{}",
                    seen.join("\n")
                );
            }
        }
    }
    // SAFETY: plain syscall on our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) }, 0);
    let status = wait(&mut child, TOUR_LIMIT);
    let err = err.join().unwrap();
    assert_eq!(status.code(), Some(130), "{status}: {err}");
    assert!(err.contains("interrupted"), "{err}");
    assert_eq!(leftovers(pid), Vec::<String>::new(), "{err}");
}
