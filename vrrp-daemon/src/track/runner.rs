//! Runs one `vrrp_script` periodically in its own task.
//!
//! Each run gets its own process group; when it outlives `timeout` the group gets SIGTERM,
//! then SIGKILL two seconds later (keepalived's rule), and the run counts as a failure. A
//! hung or failing script therefore changes priority exactly like a failing one and never
//! blocks the event loop.
use std::{process::Stdio, time::Duration};

use tokio::{process::Command, sync::mpsc, time};
use tracing::{debug, warn};

use crate::{config::VrrpScript, track::identity::RunAs, util::split_command};

/// One finished run.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Index of the script in the configuration's `scripts`.
    pub script: usize,
    /// Exit status 0 within the timeout.
    pub success: bool,
    /// How long the run took.
    pub duration: Duration,
}

/// Grace period between SIGTERM and SIGKILL of a timed-out script.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// Spawn the periodic runner; results go to `results` until the receiver is dropped or the
/// returned task is aborted (configuration reload).
pub fn spawn(
    index: usize,
    script: VrrpScript,
    run_as: RunAs,
    results: mpsc::Sender<RunResult>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = time::interval(script.interval);
        ticker.set_missed_tick_behavior(time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let started = time::Instant::now();
            let success = run_once(&script, run_as).await;
            if results
                .send(RunResult {
                    script: index,
                    success,
                    duration: started.elapsed(),
                })
                .await
                .is_err()
            {
                return;
            }
        }
    })
}

/// Run the script once; `true` on exit status 0 within the timeout.
pub async fn run_once(script: &VrrpScript, run_as: RunAs) -> bool {
    let argv = split_command(&script.script);
    let Some((program, args)) = argv.split_first() else {
        return false;
    };
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .uid(run_as.uid)
        .gid(run_as.gid)
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            warn!(script = %script.name, error = %e, "cannot run vrrp_script");
            return false;
        }
    };
    match time::timeout(script.timeout, child.wait()).await {
        Ok(Ok(status)) => {
            debug!(script = %script.name, %status, "vrrp_script finished");
            status.success()
        }
        Ok(Err(e)) => {
            warn!(script = %script.name, error = %e, "waiting for vrrp_script");
            false
        }
        Err(_) => {
            warn!(script = %script.name, timeout = ?script.timeout, "vrrp_script timed out; terminating its process group");
            if let Some(pid) = child.id() {
                signal_group(pid, libc::SIGTERM);
                if time::timeout(KILL_GRACE, child.wait()).await.is_err() {
                    signal_group(pid, libc::SIGKILL);
                }
            }
            let _ = child.wait().await;
            false
        }
    }
}

fn signal_group(pid: u32, signal: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) on a process group we created; errors (already gone) are harmless.
        unsafe { libc::kill(-pid, signal) };
    }
}
