//! Running short commands with a deadline, so a hung tool cannot hang a test.

use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long to wait for a pipe to reach EOF after the child exited. Only matters when
/// the command left a background process holding its stdout/stderr.
const PIPE_GRACE: Duration = Duration::from_secs(2);

fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
    }
    rx
}

/// Waits for `child` until `deadline`; kills and reaps it on timeout.
pub(crate) fn wait_deadline(
    child: &mut Child,
    deadline: Instant,
) -> Result<Option<std::process::ExitStatus>> {
    let mut nap = Duration::from_micros(500);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(nap.min(deadline - now));
        nap = (nap * 2).min(Duration::from_millis(10));
    }
}

/// Runs `cmd` to completion (stdin closed, output captured), killing it after `timeout`.
pub(crate) fn run(mut cmd: Command, timeout: Duration) -> Result<Output> {
    let desc = describe(&cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().with_context(|| format!("spawning {desc}"))?;
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let Some(status) = wait_deadline(&mut child, Instant::now() + timeout)? else {
        bail!("{desc} did not finish within {timeout:?} (killed)");
    };
    Ok(Output {
        status,
        stdout: out.recv_timeout(PIPE_GRACE).unwrap_or_default(),
        stderr: err.recv_timeout(PIPE_GRACE).unwrap_or_default(),
    })
}

/// Like [`run`] but a non-zero exit is an error carrying the command's stderr; returns stdout.
pub(crate) fn run_ok(cmd: Command, timeout: Duration) -> Result<String> {
    let desc = describe(&cmd);
    let out = run(cmd, timeout)?;
    check(&desc, out)
}

/// Turns a finished command's output into stdout, or an error quoting its stderr.
pub(crate) fn check(desc: &str, out: Output) -> Result<String> {
    if !out.status.success() {
        bail!(
            "{desc} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `prog arg arg` for error messages (Command's Debug quotes every word).
pub(crate) fn describe(cmd: &Command) -> String {
    let mut s = format!("`{}", cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s.push('`');
    s
}
