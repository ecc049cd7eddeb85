//! Handles on daemons a lab started.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail, ensure};

/// Which program a [`DaemonHandle`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DaemonKind {
    /// This project's `vrrp-daemon` ([`crate::Lab::spawn_daemon`]): one process.
    Vrrpd,
    /// The real keepalived ([`crate::Lab::spawn_keepalived`]): a parent that forks a
    /// VRRP child, both in a process group of their own led by the parent.
    Keepalived,
}

/// A daemon process running in one node's namespace: this project's daemon or the real
/// keepalived (see [`DaemonHandle::kind`]).
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
    kind: DaemonKind,
    pid: u32,
    /// Held while signalling so the pid cannot be reaped (and reused) under our feet.
    child: Mutex<Child>,
    log_path: PathBuf,
    log_offset: u64,
    config_path: PathBuf,
    /// keepalived's `$TMPDIR`, where it writes `keepalived.stats` and `keepalived.data`.
    tmp_dir: Option<PathBuf>,
}

impl DaemonHandle {
    pub(crate) fn new(
        node: usize,
        kind: DaemonKind,
        child: Child,
        log_path: PathBuf,
        log_offset: u64,
        config_path: PathBuf,
        tmp_dir: Option<PathBuf>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                node,
                kind,
                pid: child.id(),
                child: Mutex::new(child),
                log_path,
                log_offset,
                config_path,
                tmp_dir,
            }),
        }
    }

    fn child(&self) -> MutexGuard<'_, Child> {
        self.inner.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Which program this is.
    pub fn kind(&self) -> DaemonKind {
        self.inner.kind
    }

    /// Whether the program runs in a process group of its own (keepalived), so that
    /// [`DaemonHandle::kill9`], [`DaemonHandle::stop`] and [`DaemonHandle::cont`] reach
    /// every process of it, not just the one [`DaemonHandle::pid`] names.
    fn grouped(&self) -> bool {
        self.inner.kind == DaemonKind::Keepalived
    }

    /// The daemon's own pid (no `ip netns exec` in between), for tools like `ss -p`.
    /// For keepalived this is the parent, which also leads the process group.
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

    /// Sends `sig` to the daemon's whole process group (keepalived: the parent and its
    /// VRRP child at once); for a daemon without a group of its own this is
    /// [`DaemonHandle::signal`]. Fails if the group leader already exited.
    pub fn signal_group(&self, sig: libc::c_int) -> Result<()> {
        if !self.grouped() {
            return self.signal(sig);
        }
        let mut child = self.child();
        if let Some(status) = child.try_wait()? {
            bail!(
                "daemon on node{} (pid {}) already exited: {status}",
                self.node(),
                self.pid()
            );
        }
        // SAFETY: plain syscall. The leader is not reaped, so the group id is still ours
        // (a pid is never reused while a process group of that id exists).
        if unsafe { libc::kill(-(self.pid() as libc::pid_t), sig) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(())
    }

    /// Live (non-zombie) processes of the daemon: its process group for keepalived
    /// (parent and VRRP child, even once the parent is gone), else the daemon itself.
    pub fn pids(&self) -> Vec<u32> {
        if self.grouped() {
            group_members(self.pid())
        } else if self.is_running() {
            vec![self.pid()]
        } else {
            Vec::new()
        }
    }

    /// Simulates a crash: SIGKILL (to the whole process group for keepalived), then
    /// waits (bounded) for the exit of every process of the daemon.
    pub fn kill9(&self) -> Result<ExitStatus> {
        let status = match self.exit_status() {
            Some(status) => status,
            None => {
                self.signal_group(libc::SIGKILL)?;
                self.wait_exit(Duration::from_secs(5)).ok_or_else(|| {
                    anyhow!("daemon on node{} survived SIGKILL for 5 s", self.node())
                })?
            }
        };
        if self.grouped() {
            // A child that outlived its parent (e.g. the parent was killed alone).
            let left = crate::wait_for(Duration::from_secs(5), Duration::from_millis(2), || {
                let left = group_members(self.pid());
                for &pid in &left {
                    // SAFETY: plain syscall; these are live members of the group.
                    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                }
                left.is_empty()
            });
            if left.is_err() {
                bail!(
                    "processes {:?} of the daemon on node{} survived SIGKILL for 5 s",
                    group_members(self.pid()),
                    self.node()
                );
            }
        }
        Ok(status)
    }

    /// Graceful shutdown (SIGTERM, plus SIGCONT in case it is stopped); if it has not
    /// exited within `timeout` it is SIGKILLed and an error is returned, so a test that
    /// expects a clean exit notices a hang instead of leaking the process.
    pub fn term(&self, timeout: Duration) -> Result<ExitStatus> {
        if let Some(status) = self.exit_status() {
            return Ok(status);
        }
        self.signal(libc::SIGTERM)?;
        let _ = self.cont();
        if let Some(status) = self.wait_exit(timeout) {
            return Ok(status);
        }
        let _ = self.signal_group(libc::SIGKILL);
        let _ = self.wait_exit(Duration::from_secs(5));
        bail!(
            "daemon on node{} ignored SIGTERM for {timeout:?} (SIGKILLed)",
            self.node()
        )
    }

    /// Freezes the daemon (SIGSTOP, to the whole group for keepalived): it stops sending
    /// adverts without its sockets or XDP program going away, the classic "hung master"
    /// case.
    pub fn stop(&self) -> Result<()> {
        self.signal_group(libc::SIGSTOP)
    }

    /// Resumes a daemon frozen with [`DaemonHandle::stop`].
    pub fn cont(&self) -> Result<()> {
        self.signal_group(libc::SIGCONT)
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

    /// Waits until keepalived's VRRP child has finished starting (it logs "Startup
    /// complete"), after which keepalived handles signals such as `SIGUSR2` instead of
    /// dying of them. Fails for our daemon, if keepalived exits, or after `timeout`.
    pub fn wait_keepalived_ready(&self, timeout: Duration) -> Result<()> {
        ensure!(
            self.kind() == DaemonKind::Keepalived,
            "node{} does not run keepalived",
            self.node()
        );
        let ready = crate::wait_for(timeout, Duration::from_millis(5), || {
            self.log().contains("Startup complete") || !self.is_running()
        });
        if let Some(status) = self.exit_status() {
            bail!(
                "keepalived on node{} exited: {status}\n{}",
                self.node(),
                self.log()
            );
        }
        ready.map(drop).map_err(|_| {
            anyhow!(
                "keepalived on node{} not started within {timeout:?}:\n{}",
                self.node(),
                self.log()
            )
        })
    }

    /// keepalived's statistics (what `SIGUSR2` makes it write to `$TMPDIR/keepalived.stats`):
    /// per instance, adverts received and sent, and its counters of rejected packets
    /// ("Packet Errors", "Authentication Errors"). Fails for our daemon, or if keepalived
    /// does not write the file within 5 s. Parse it with [`keepalived_stat`].
    pub fn keepalived_stats(&self) -> Result<String> {
        let Some(dir) = &self.inner.tmp_dir else {
            bail!(
                "keepalived_stats: node{} does not run keepalived",
                self.node()
            );
        };
        // Before its handlers are installed SIGUSR2 would simply kill it.
        self.wait_keepalived_ready(Duration::from_secs(5))?;
        let path = dir.join("keepalived.stats");
        let _ = std::fs::remove_file(&path);
        self.signal(libc::SIGUSR2)?;
        // Written by the VRRP child after the parent forwards the signal; wait until the
        // file exists and stops growing.
        let mut last = None;
        crate::wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
            let now = std::fs::read_to_string(&path)
                .ok()
                .filter(|s| !s.is_empty());
            let stable = now.is_some() && now == last;
            last = now;
            stable
        })
        .map_err(|_| {
            anyhow!(
                "keepalived on node{} wrote no {}",
                self.node(),
                path.display()
            )
        })?;
        Ok(last.unwrap_or_default())
    }
}

/// One counter out of [`DaemonHandle::keepalived_stats`]: the number after `name:` in
/// `section` (e.g. `("Advertisements", "Received")`, `("Packet Errors", "TTL")`) of
/// instance `instance`; `None` if absent.
///
/// The file looks like
/// ```text
/// VRRP Instance: VI_1
///   Advertisements:
///     Received: 42
///     Sent: 0
///   Packet Errors:
///     Length: 0
///     TTL: 0
/// ```
pub fn keepalived_stat(stats: &str, instance: &str, section: &str, name: &str) -> Option<u64> {
    let mut in_instance = false;
    let mut in_section = false;
    for line in stats.lines() {
        let indent = line.len() - line.trim_start().len();
        let line = line.trim();
        if indent == 0 {
            in_instance = line.strip_prefix("VRRP Instance:").map(str::trim) == Some(instance);
            in_section = false;
        } else if in_instance && indent <= 2 {
            in_section = line.strip_suffix(':').map(str::trim) == Some(section);
        } else if in_instance
            && in_section
            && let Some((key, value)) = line.split_once(':')
            && key.trim() == name
        {
            return value.trim().parse().ok();
        }
    }
    None
}

/// Live (not zombie) processes whose process group is `pgid`.
pub(crate) fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // After `comm` (which may hold spaces and parentheses): state ppid pgrp ...
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                return false;
            };
            let mut f = rest.split_whitespace();
            let state = f.next();
            let pgrp = f.nth(1).and_then(|p| p.parse::<u32>().ok());
            state != Some("Z") && state != Some("X") && pgrp == Some(pgid)
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What keepalived 2.2.7 writes on SIGUSR2 (its `vrrp_print_stats`).
    const STATS: &str = "VRRP Instance: VI_1
  Advertisements:
    Received: 36
    Sent: 0
  Became master: 0
  Released master: 0
  Packet Errors:
    Length: 0
    TTL: 2
    Invalid Type: 0
    Advertisement Interval: 0
    Address List: 0
  Authentication Errors:
    Invalid Type: 0
    Type Mismatch: 0
    Failure: 1
  Priority Zero:
    Received: 0
    Sent: 0
VRRP Instance: VI_2
  Advertisements:
    Received: 7
    Sent: 3
";

    #[test]
    fn parses_keepalived_stats() {
        let get = |i, s, n| keepalived_stat(STATS, i, s, n);
        assert_eq!(get("VI_1", "Advertisements", "Received"), Some(36));
        assert_eq!(get("VI_1", "Packet Errors", "TTL"), Some(2));
        assert_eq!(get("VI_1", "Packet Errors", "Invalid Type"), Some(0));
        assert_eq!(
            get("VI_1", "Authentication Errors", "Invalid Type"),
            Some(0)
        );
        assert_eq!(get("VI_1", "Authentication Errors", "Failure"), Some(1));
        assert_eq!(get("VI_1", "Priority Zero", "Received"), Some(0));
        assert_eq!(get("VI_2", "Advertisements", "Sent"), Some(3));
        assert_eq!(get("VI_2", "Packet Errors", "TTL"), None);
        assert_eq!(get("VI_3", "Advertisements", "Sent"), None);
    }
}
