//! One boot of a guest under qemu with software emulation (TCG: `-enable-kvm` hangs on the
//! project's machines), bounded by a timeout after which the guest is killed. The serial
//! console is copied line by line into a log file and handed to the caller as it comes.
use std::{
    fs,
    io::{BufRead as _, BufReader, Write as _},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};

/// The line the guest prints when every check has run.
pub const END: &str = "VMTEST-END";

/// How a boot ended.
pub enum Ending {
    /// The guest printed [`END`].
    Finished,
    /// The console closed before [`END`] (a panic, a crash of qemu).
    Stopped,
    /// [`END`] did not come in time; the guest was killed.
    TimedOut,
}

/// Boot `kernel` with `initrd` and `append` on its command line; call `on_line` for every
/// console line (without its line ending); stop at [`END`] or after `timeout`.
pub fn boot(
    kernel: &Path,
    initrd: &Path,
    append: &str,
    log: &Path,
    timeout: Duration,
    mut on_line: impl FnMut(&str),
) -> Result<Ending> {
    let mut log_file =
        fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut child = Command::new("qemu-system-x86_64")
        .args([
            "-nographic",
            "-no-reboot",
            "-nodefaults",
            "-serial",
            "stdio",
        ])
        .args(["-accel", "tcg,thread=multi", "-cpu", "max"])
        .args(["-m", "1G", "-smp", "2", "-nic", "none"])
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", append])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                if tx.send(std::mem::take(&mut line)).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let deadline = Instant::now() + timeout;
    let ending = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(raw) => {
                log_file.write_all(&raw)?;
                let text = String::from_utf8_lossy(&raw);
                let text = text.trim_end_matches(['\r', '\n']);
                on_line(text);
                if text == END {
                    break Ending::Finished;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => break Ending::TimedOut,
            Err(mpsc::RecvTimeoutError::Disconnected) => break Ending::Stopped,
        }
    };
    // The guest powers itself off after END; give it a moment, then kill it.
    let grace = if matches!(ending, Ending::Finished) {
        Duration::from_secs(10)
    } else {
        Duration::ZERO
    };
    stop(&mut child, grace)?;
    // Whatever the guest printed while stopping.
    while let Ok(raw) = rx.recv_timeout(Duration::from_millis(100)) {
        log_file.write_all(&raw)?;
    }
    if matches!(ending, Ending::TimedOut) {
        writeln!(
            log_file,
            "\n[xtask: no {END} after {} s; qemu killed]",
            timeout.as_secs()
        )?;
    }
    Ok(ending)
}

/// Wait up to `grace` for qemu to exit, then kill it.
fn stop(child: &mut Child, grace: Duration) -> Result<()> {
    let until = Instant::now() + grace;
    while Instant::now() < until {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait()?.is_none() {
        let _ = child.kill();
    }
    child.wait()?;
    Ok(())
}
