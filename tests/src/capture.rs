//! Packet captures of lab traffic (`tcpdump -w` in a lab namespace), for checking what
//! went over the wire and for explaining failures.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd;

/// How long [`Capture::stop`] lets tcpdump flush after SIGINT before killing it.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// A running `tcpdump -w FILE` (started by [`crate::Lab::start_capture`]). Stop it with
/// [`Capture::stop`] before reading the file; dropping it kills tcpdump, and the lab's
/// teardown would too.
pub struct Capture {
    child: Mutex<Option<Child>>,
    path: PathBuf,
}

impl Capture {
    pub(crate) fn new(child: Child, path: PathBuf) -> Self {
        Self {
            child: Mutex::new(Some(child)),
            path,
        }
    }

    /// The pcap file (in the lab dir, so gone once the lab is dropped).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops tcpdump (SIGINT, so it flushes; SIGKILL after 3 s) and waits for it.
    /// Idempotent.
    pub fn stop(&self) -> Result<()> {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut child) = guard.take() else {
            return Ok(());
        };
        if child.try_wait()?.is_none() {
            // SAFETY: plain syscall; the child is not reaped, so the pid is still ours.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        }
        if cmd::wait_deadline(&mut child, Instant::now() + STOP_GRACE)?.is_none() {
            bail!(
                "tcpdump (pid {}) ignored SIGINT for {STOP_GRACE:?}",
                child.id()
            );
        }
        Ok(())
    }

    /// Stops the capture and decodes it with `tcpdump -r FILE -n -vvv EXTRA...` (e.g.
    /// `&["-e"]` for MAC addresses): one line per packet, plus tcpdump's continuation
    /// lines.
    pub fn decode(&self, extra: &[&str]) -> Result<String> {
        self.stop()?;
        let mut c = Command::new("tcpdump");
        c.arg("-r")
            .arg(&self.path)
            .args(["-n", "-vvv", "-tt"])
            .args(extra)
            .stdin(Stdio::null());
        cmd::run_ok(c, Duration::from_secs(30))
            .with_context(|| format!("decoding {}", self.path.display()))
    }

    /// Stops the capture and runs `tshark -r FILE -n ARGS...` on it (e.g. `-T fields -e
    /// ...` to list fields, or `-o ip.check_checksum:TRUE` to have tshark verify IP
    /// header checksums too); returns its stdout. Needs `tshark` (Debian package).
    pub fn tshark(&self, args: &[&str]) -> Result<String> {
        self.stop()?;
        let mut c = Command::new("tshark");
        c.arg("-r")
            .arg(&self.path)
            .arg("-n")
            .args(args)
            .stdin(Stdio::null());
        cmd::run_ok(c, Duration::from_secs(60)).with_context(|| {
            format!(
                "tshark on {} (is the Debian package `tshark` installed?)",
                self.path.display()
            )
        })
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut child) = guard.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
