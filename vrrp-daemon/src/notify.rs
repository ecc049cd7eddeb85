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
    /// `notify_master_rx_lower_pri`.
    master_rx_lower_pri: Option<String>,
    /// `notify_deleted`: report DELETED instead of FAULT on removal.
    deleted: bool,
    deleted_script: Option<String>,
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
                master_rx_lower_pri: instance.notify_master_rx_lower_pri.clone(),
                deleted: instance.notify_deleted,
                deleted_script: instance.notify_deleted_script.clone(),
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

    /// The argv lists to run when a reload removes the instance: as keepalived, FAULT
    /// (`notify_fault`, generic `notify ... FAULT`), or with `notify_deleted` the DELETED
    /// report (its own script if given, generic `notify ... DELETED`).
    pub fn removal_commands(&self, priority: u8) -> Vec<Vec<String>> {
        let s = &self.scripts;
        if !s.deleted {
            return self.commands(State::Fault, priority);
        }
        let mut out = Vec::new();
        if let Some(line) = &s.deleted_script {
            out.push(split_command(line));
        }
        if let Some(line) = &s.generic {
            let mut argv = split_command(line);
            argv.extend([
                "INSTANCE".to_string(),
                s.name.clone(),
                "DELETED".to_string(),
                priority.to_string(),
            ]);
            out.push(argv);
        }
        out
    }

    /// The state word of the removal report (FIFO line, logs).
    pub fn removal_state(&self) -> &'static str {
        if self.scripts.deleted {
            "DELETED"
        } else {
            "FAULT"
        }
    }

    /// Queue the removal scripts ([`Notifier::removal_commands`]).
    pub fn notify_removed(&self, priority: u8) {
        let commands = self.removal_commands(priority);
        if !commands.is_empty() {
            let _ = self.queue.send(commands);
        }
    }

    /// Queue `notify_master_rx_lower_pri`, as written (keepalived adds no arguments, and
    /// runs no generic `notify` for this event).
    pub fn notify_rx_lower_pri(&self) {
        if let Some(line) = &self.scripts.master_rx_lower_pri {
            let _ = self.queue.send(vec![split_command(line)]);
        }
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

/// A keepalived notify FIFO (`notify_fifo`, `vrrp_notify_fifo`): one line per transition,
/// `INSTANCE "VI_1" MASTER 100`, written in transition order. Lines are written without
/// blocking: with no reader, or a reader too slow to keep a pipe buffer free, a line is
/// dropped with a warning rather than stalling the daemon.
pub struct Fifo {
    path: std::path::PathBuf,
    file: std::fs::File,
    /// The `*_fifo_script` reading it, stopped with the daemon.
    reader: Option<tokio::process::Child>,
}

impl Fifo {
    /// Open (creating it when missing) the FIFO and start its script, if any.
    pub fn open(config: &crate::config::NotifyFifo, run_as: RunAs) -> anyhow::Result<Self> {
        use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};

        use anyhow::Context as _;
        let path = std::path::PathBuf::from(&config.path);
        match std::fs::metadata(&path) {
            Ok(m) if m.file_type().is_fifo() => {}
            Ok(_) => anyhow::bail!("{} exists and is not a FIFO", path.display()),
            Err(_) => {
                let c = std::ffi::CString::new(config.path.as_bytes())
                    .context("FIFO path contains NUL")?;
                // SAFETY: mkfifo with a valid C string.
                if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
                    return Err(std::io::Error::last_os_error())
                        .with_context(|| format!("creating FIFO {}", path.display()));
                }
            }
        }
        // Read-write: opening never blocks waiting for a reader, and writes never fail
        // with EPIPE while no reader is attached.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .with_context(|| format!("opening FIFO {}", path.display()))?;
        let reader = match &config.script {
            Some(line) => {
                let mut argv = split_command(line);
                argv.push(config.path.clone());
                let (program, args) = argv.split_first().context("empty notify_fifo_script")?;
                Some(
                    Command::new(program)
                        .args(args)
                        .stdin(Stdio::null())
                        .process_group(0)
                        .uid(run_as.uid)
                        .gid(run_as.gid)
                        .kill_on_drop(true)
                        .spawn()
                        .with_context(|| format!("starting notify_fifo_script {program}"))?,
                )
            }
            None => None,
        };
        Ok(Self { path, file, reader })
    }

    /// The FIFO line for an instance's `event` (keepalived's format): the state it
    /// entered, or `DELETED`, `MASTER_RX_LOWER_PRI`, `MASTER_PRIORITY`...
    pub fn line(instance: &str, event: impl std::fmt::Display, priority: u8) -> String {
        format!("INSTANCE \"{instance}\" {event} {priority}\n")
    }

    /// Write one line; never blocks.
    pub fn write_line(&mut self, line: &str) {
        use std::io::Write as _;
        if let Err(e) = self.file.write_all(line.as_bytes()) {
            warn!(fifo = %self.path.display(), error = %e, "notify FIFO line dropped");
        }
    }

    /// Stop the FIFO's script.
    pub async fn close(mut self) {
        if let Some(mut child) = self.reader.take() {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                // SAFETY: signalling the process group we created.
                unsafe { libc::kill(-pid, libc::SIGTERM) };
            }
            let _ = time::timeout(Duration::from_secs(1), child.wait()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(extra: &str) -> crate::config::VrrpInstance {
        let text = format!(
            "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n notify_fault /bin/f\n notify \"/bin/n x\"\n{extra} virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n"
        );
        crate::config::parse_str(&text, std::path::Path::new("t.conf"))
            .unwrap()
            .config
            .instances
            .remove(0)
    }

    #[tokio::test]
    async fn removal_reports_fault_or_deleted_with_keepalived_arguments() {
        let n = Notifier::new(&instance(""), RunAs::ROOT);
        assert_eq!(
            n.removal_commands(100),
            vec![
                vec!["/bin/f".to_string()],
                ["/bin/n", "x", "INSTANCE", "VI_1", "FAULT", "100"]
                    .map(String::from)
                    .to_vec(),
            ]
        );
        assert_eq!(n.removal_state(), "FAULT");
        let d = Notifier::new(&instance(" notify_deleted /bin/d\n"), RunAs::ROOT);
        assert_eq!(
            d.removal_commands(90),
            vec![
                vec!["/bin/d".to_string()],
                ["/bin/n", "x", "INSTANCE", "VI_1", "DELETED", "90"]
                    .map(String::from)
                    .to_vec(),
            ]
        );
        assert_eq!(d.removal_state(), "DELETED");
    }

    #[test]
    fn fifo_lines_follow_keepalived() {
        assert_eq!(
            Fifo::line("VI_1", State::Master, 100),
            "INSTANCE \"VI_1\" MASTER 100\n"
        );
        assert_eq!(
            Fifo::line("VI_1", State::Fault, 90),
            "INSTANCE \"VI_1\" FAULT 90\n"
        );
    }

    #[tokio::test]
    async fn fifo_is_created_written_and_never_blocks_without_a_reader() {
        let dir = std::env::temp_dir().join(format!("vrrp-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.fifo");
        let config = crate::config::NotifyFifo {
            path: path.to_string_lossy().into_owned(),
            user: None,
            group: None,
            script: None,
        };
        let mut fifo = Fifo::open(&config, RunAs::ROOT).unwrap();
        // Far more than a pipe buffer, with nobody reading: must return, not block.
        for _ in 0..5000 {
            fifo.write_line(&Fifo::line("VI_1", State::Backup, 90));
        }
        let mut reader = std::fs::File::open(&path).unwrap();
        let mut first = [0u8; 26];
        std::io::Read::read_exact(&mut reader, &mut first).unwrap();
        assert_eq!(&first, b"INSTANCE \"VI_1\" BACKUP 90\n");
        fifo.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
