//! Notify scripts with keepalived's argument convention, delivered in transition order.
//!
//! Each instance has one queue worker: a later transition's scripts never start before the
//! earlier ones finished (keepalived fires and forgets, which reorders them, a known
//! complaint). A script that hangs is killed after [`NOTIFY_TIMEOUT`]; the event loop only
//! enqueues and never waits.
use std::{process::Stdio, time::Duration};

use tokio::{process::Command, sync::mpsc, time};
use tracing::warn;

use crate::{config::VrrpInstance, track::identity::RunAs, util::split_command, vrrp::State};

/// Longest a notify script may run before it is killed.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);

/// The scripts of one instance and the queue feeding its worker.
pub struct Notifier {
    queue: mpsc::UnboundedSender<Vec<Vec<String>>>,
    worker: tokio::task::JoinHandle<()>,
    scripts: Scripts,
}

#[derive(Clone, Debug, Default)]
struct Scripts {
    name: String,
    master: Option<String>,
    backup: Option<String>,
    fault: Option<String>,
    stop: Option<String>,
    generic: Option<String>,
}

impl Notifier {
    /// Start the worker for `instance`; scripts run as `run_as`.
    pub fn new(instance: &VrrpInstance, run_as: RunAs) -> Self {
        let (queue, mut rx) = mpsc::unbounded_channel::<Vec<Vec<String>>>();
        let worker = tokio::spawn(async move {
            while let Some(batch) = rx.recv().await {
                for argv in batch {
                    run(argv, run_as).await;
                }
            }
        });
        Self {
            queue,
            worker,
            scripts: Scripts {
                name: instance.name.clone(),
                master: instance.notify_master.clone(),
                backup: instance.notify_backup.clone(),
                fault: instance.notify_fault.clone(),
                stop: instance.notify_stop.clone(),
                generic: instance.notify.clone(),
            },
        }
    }

    /// The argv lists to run for entering `state`, in keepalived's order: the state's own
    /// script with its configured arguments, then the generic `notify` with
    /// `INSTANCE NAME STATE PRIORITY` appended.
    pub fn commands(&self, state: State, priority: u8) -> Vec<Vec<String>> {
        let s = &self.scripts;
        let specific = match state {
            State::Master => &s.master,
            State::Backup => &s.backup,
            State::Fault => &s.fault,
            State::Stop => &s.stop,
            State::Init => &None,
        };
        let mut out = Vec::new();
        if let Some(line) = specific {
            out.push(split_command(line));
        }
        if let Some(line) = &s.generic
            && state != State::Init
        {
            let mut argv = split_command(line);
            argv.extend([
                "INSTANCE".to_string(),
                s.name.clone(),
                state.to_string(),
                priority.to_string(),
            ]);
            out.push(argv);
        }
        out
    }

    /// Queue the scripts for entering `state`.
    pub fn notify(&self, state: State, priority: u8) {
        let commands = self.commands(state, priority);
        if !commands.is_empty() {
            let _ = self.queue.send(commands);
        }
    }

    /// Let queued scripts finish, for at most `grace`.
    pub async fn finish(self, grace: Duration) {
        drop(self.queue);
        let _ = time::timeout(grace, self.worker).await;
    }
}

async fn run(argv: Vec<String>, run_as: RunAs) {
    let Some((program, args)) = argv.split_first() else {
        return;
    };
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .process_group(0)
        .uid(run_as.uid)
        .gid(run_as.gid)
        .kill_on_drop(true)
        .spawn();
    match child {
        Ok(mut child) => match time::timeout(NOTIFY_TIMEOUT, child.wait()).await {
            Ok(Ok(status)) if !status.success() => {
                warn!(script = %program, %status, "notify script failed");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!(script = %program, error = %e, "notify script"),
            Err(_) => warn!(script = %program, "notify script timed out; killed"),
        },
        Err(e) => warn!(script = %program, error = %e, "cannot run notify script"),
    }
}
