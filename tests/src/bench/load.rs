//! Load on the machine while a benchmark measures: busy-looping processes.

use std::process::{Child, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::lab::{Host, Lab};
use crate::netns::{self, SpawnOpts};

/// Busy-looping processes (`timeout -s KILL MAX sh -c 'while :; do :; done'`, nice 0)
/// started inside a lab namespace. Each one ends by itself after `max`, is killed with
/// its process group when this is dropped, and the lab's teardown kills whatever is left
/// in its namespaces.
pub(crate) struct CpuHogs {
    children: Vec<Child>,
}

impl CpuHogs {
    pub(crate) fn start(lab: &Lab, host: Host, count: usize, max: Duration) -> Result<CpuHogs> {
        let mut hogs = CpuHogs {
            children: Vec::new(),
        };
        let secs = max.as_secs().max(1).to_string();
        for _ in 0..count {
            let mut c = netns::command(
                lab.ns(host),
                "timeout",
                SpawnOpts {
                    die_with_parent: false,
                },
            )?;
            c.args(["-s", "KILL", &secs, "sh", "-c", "while :; do :; done"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: one async-signal-safe syscall between fork and exec.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut c, || {
                    // Nice 0, whatever ours is: they compete with the daemons as equals.
                    if libc::setpriority(libc::PRIO_PROCESS, 0, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            hogs.children
                .push(c.spawn().context("starting a busy loop (timeout, sh)")?);
        }
        Ok(hogs)
    }
}

impl Drop for CpuHogs {
    fn drop(&mut self) {
        for c in &mut self.children {
            // `timeout` leads a process group of its own (it runs the loop in it): kill
            // both. The group exists as long as `timeout` is unreaped, so the id is ours.
            // SAFETY: plain syscalls.
            unsafe {
                libc::kill(-(c.id() as libc::pid_t), libc::SIGKILL);
                libc::kill(c.id() as libc::pid_t, libc::SIGKILL);
            }
            let _ = c.wait();
        }
    }
}
