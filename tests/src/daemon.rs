//! Handles on daemons a lab started.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

/// A daemon process running in one node's namespace.
///
/// Cheap to clone: clones share the process. Dropping a handle does *not* stop the
/// daemon (so `let _ = lab.spawn_daemon(..)` does what it looks like); the [`crate::Lab`]
/// that started it stops it when the lab is dropped.
#[derive(Clone)]
pub struct DaemonHandle {
    inner: Arc<Inner>,
}

struct Inner {
    node: usize,
    pid: u32,
    /// Held while signalling so the pid cannot be reaped (and reused) under our feet.
    child: Mutex<Child>,
    log_path: PathBuf,
    log_offset: u64,
    config_path: PathBuf,
}

impl DaemonHandle {
    pub(crate) fn new(
        node: usize,
        child: Child,
        log_path: PathBuf,
        log_offset: u64,
        config_path: PathBuf,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                node,
                pid: child.id(),
                child: Mutex::new(child),
                log_path,
                log_offset,
                config_path,
            }),
        }
    }

    fn child(&self) -> MutexGuard<'_, Child> {
        self.inner.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The daemon's own pid (no `ip netns exec` in between), for tools like `ss -p`.
    pub fn pid(&self) -> u32 {
        self.inner.pid
    }

    /// Which node (1-based) it runs on, to correlate with [`crate::Lab::vip_holders`].
    pub fn node(&self) -> usize {
        self.inner.node
    }

    /// Where its configuration was written, for tests that rewrite it before a reload.
    pub fn config_path(&self) -> &Path {
        &self.inner.config_path
    }

    /// Sends `sig`; fails if the daemon already exited (rather than signalling a pid that
    /// may now belong to someone else).
    pub fn signal(&self, sig: libc::c_int) -> Result<()> {
        let mut child = self.child();
        if let Some(status) = child.try_wait()? {
            bail!(
                "daemon on node{} (pid {}) already exited: {status}",
                self.node(),
                self.pid()
            );
        }
        // SAFETY: plain syscall; the child is not reaped, so the pid is still ours.
        if unsafe { libc::kill(self.pid() as libc::pid_t, sig) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(())
    }

    /// Simulates a crash: SIGKILL, then waits (bounded) for the exit.
    pub fn kill9(&self) -> Result<ExitStatus> {
        if let Some(status) = self.exit_status() {
            return Ok(status);
        }
        self.signal(libc::SIGKILL)?;
        self.wait_exit(Duration::from_secs(5))
            .ok_or_else(|| anyhow!("daemon on node{} survived SIGKILL for 5 s", self.node()))
    }

    /// Graceful shutdown (SIGTERM, plus SIGCONT in case it is stopped); if it has not
    /// exited within `timeout` it is SIGKILLed and an error is returned, so a test that
    /// expects a clean exit notices a hang instead of leaking the process.
    pub fn term(&self, timeout: Duration) -> Result<ExitStatus> {
        if let Some(status) = self.exit_status() {
            return Ok(status);
        }
        self.signal(libc::SIGTERM)?;
        let _ = self.signal(libc::SIGCONT);
        if let Some(status) = self.wait_exit(timeout) {
            return Ok(status);
        }
        let _ = self.signal(libc::SIGKILL);
        let _ = self.wait_exit(Duration::from_secs(5));
        bail!(
            "daemon on node{} ignored SIGTERM for {timeout:?} (SIGKILLed)",
            self.node()
        )
    }

    /// Freezes the daemon (SIGSTOP): it stops sending adverts without its sockets or
    /// XDP program going away, the classic "hung master" case.
    pub fn stop(&self) -> Result<()> {
        self.signal(libc::SIGSTOP)
    }

    /// Resumes a daemon frozen with [`DaemonHandle::stop`].
    pub fn cont(&self) -> Result<()> {
        self.signal(libc::SIGCONT)
    }

    /// Waits up to `timeout` for the daemon to exit; `None` if it is still running.
    pub fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                return Some(status);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5).min(deadline - now));
        }
    }

    /// The exit status if it has exited (reaping it), without waiting.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        match self.child().try_wait() {
            Ok(status) => status,
            Err(e) => {
                eprintln!("vrrp-tests: waiting for pid {}: {e}", self.pid());
                None
            }
        }
    }

    /// Whether it is still running (a stopped daemon counts as running).
    pub fn is_running(&self) -> bool {
        self.exit_status().is_none()
    }

    /// What this run of the daemon wrote to stdout and stderr so far (earlier runs on
    /// the same node share the file but are not included), for assertions and for
    /// explaining failures.
    pub fn log(&self) -> String {
        read_from(&self.inner.log_path, self.inner.log_offset)
    }

    /// The file both stdout and stderr go to (shared by all runs on this node).
    pub fn log_path(&self) -> &Path {
        &self.inner.log_path
    }
}

/// Reads `path` from `offset` to the end as (lossy) UTF-8; empty on error.
pub(crate) fn read_from(path: &Path, offset: u64) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path)
        && f.seek(SeekFrom::Start(offset)).is_ok()
    {
        let _ = f.read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}
