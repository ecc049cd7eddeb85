//! The demo's lab: three nodes running vrrp-daemon and a client probing the VIP, plus
//! everything that watches them (adverts on the wire, the VIP's moves, the daemons'
//! transitions), and the actions a newcomer can take against them.
use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use vrrp_tests::{DaemonHandle, Lab, Probe, ProbeLive, VipWatch};

use super::{
    Interrupted,
    logs::LogTail,
    status::{self, NodeStatus},
    timeline::{Events, Outcome, Source},
    wire::Wire,
};

/// The virtual address the three nodes share.
pub const VIP: &str = "10.0.0.100";
/// UDP port the client probes and every node answers on.
const PORT: u16 = 9000;
/// Configured priorities of node1, node2, node3.
pub const PRIORITIES: [u8; 3] = [150, 100, 50];
/// How far `p` lowers a node's priority: the value written to its track file (weight 1).
pub const TRACK_DROP: i64 = 120;
/// The nodes' advert interval (`advert_int 0.1`).
const ADVERT_INT: Duration = Duration::from_millis(100);
/// A node that sent no advert for this long has stopped advertising (3 intervals + slack).
const SILENCE: Duration = Duration::from_millis(500);
/// An action has settled once nothing happened for this long...
const QUIET: Duration = Duration::from_millis(600);
/// ...and at least this long after it (a backup's skew time is over by then).
const MIN_SETTLE: Duration = Duration::from_millis(300);
/// How long an action may take to settle before its timeline is shown anyway. Generous:
/// a restart loads the XDP program, which takes seconds on a busy machine.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(20);
/// A probe stops by itself after this; the demo starts a fresh one for every action.
const PROBE_MAX: Duration = Duration::from_secs(600);

/// What became of a node's daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proc {
    /// Running and answering.
    Running,
    /// Frozen with SIGSTOP.
    Frozen,
    /// Not running; how it ended.
    Gone(&'static str),
}

/// An action that is still playing out.
pub struct Pending {
    label: String,
    at: Instant,
    before: Option<usize>,
    expect: Option<usize>,
}

impl Pending {
    /// What was done.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// How long ago it was done.
    pub fn elapsed(&self) -> Duration {
        self.at.elapsed()
    }
}

/// The running demo lab. Dropping it stops the watchers, then the lab removes its
/// daemons, namespaces and files.
pub struct Cluster {
    probe: Option<Probe>,
    wire: Option<Wire>,
    logs: Option<LogTail>,
    vip: VipWatch,
    daemons: Vec<Option<DaemonHandle>>,
    frozen: Vec<bool>,
    gone: Vec<&'static str>,
    lowered: Option<usize>,
    events: Events,
    interrupted: Arc<AtomicBool>,
    daemon_bin: PathBuf,
    /// Time zero of everything the demo prints.
    pub t0: Instant,
    lab: Lab,
}

fn config(node: usize, track: &Path) -> String {
    let state = if node == 1 { "MASTER" } else { "BACKUP" };
    let priority = PRIORITIES[node - 1];
    format!(
        "global_defs {{
    vrrp_version 3
}}

# `p` in the demo writes -{TRACK_DROP} here (priority {priority} - {TRACK_DROP}), and 0 again.
track_file demo_priority {{
    file \"{}\"
    weight 1
}}

vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 0.1
    track_file {{
        demo_priority
    }}
    virtual_ipaddress {{
        {VIP}
    }}
}}
",
        track.display()
    )
}

impl Cluster {
    /// Builds the lab (3 nodes, a client, a bridge), starts the watchers and the three
    /// daemons, and returns at once: the election is still under way.
    pub fn start(daemon: &Path, interrupted: Arc<AtomicBool>) -> Result<Cluster> {
        let lab = Lab::builder()
            .nodes(PRIORITIES.len())
            .client(true)
            .daemon_bin(daemon)
            .build()
            .context("building the lab (needs root and iproute2)")?;
        let events = Events::default();
        let vip = lab.watch_vip(VIP)?;
        let wire = Wire::start(&lab, events.clone(), SILENCE)?;
        let logs = LogTail::start(
            (1..=lab.nodes()).map(|n| lab.log_path(n)).collect(),
            events.clone(),
        );
        let mut c = Cluster {
            probe: None,
            wire: Some(wire),
            logs: Some(logs),
            vip,
            daemons: vec![None; PRIORITIES.len()],
            frozen: vec![false; PRIORITIES.len()],
            gone: vec!["not started"; PRIORITIES.len()],
            lowered: None,
            events,
            interrupted,
            daemon_bin: daemon.to_path_buf(),
            t0: Instant::now(),
            lab,
        };
        c.probe = Some(c.lab.start_probe_for(VIP, PORT, PROBE_MAX)?);
        c.t0 = Instant::now();
        for n in 1..=PRIORITIES.len() {
            c.write_track(n, 0)?;
            c.spawn(n)?;
        }
        c.events.push(
            c.t0,
            Source::You,
            "start vrrp-daemon on node1, node2 and node3",
        );
        Ok(c)
    }

    /// The start itself as an action, to show the first election's timeline.
    pub fn first_election(&self) -> Pending {
        Pending {
            label: "start".into(),
            at: self.t0,
            before: None,
            expect: self.expected_master(),
        }
    }

    /// The lab underneath (addresses, namespaces).
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    fn track_path(&self, node: usize) -> PathBuf {
        self.lab.dir().join(format!("node{node}.track"))
    }

    fn write_track(&self, node: usize, value: i64) -> Result<()> {
        // Write then rename, as a careful operator would: the daemon sees one whole value.
        let path = self.track_path(node);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{value}\n"))
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))
    }

    fn spawn(&mut self, node: usize) -> Result<()> {
        let conf = config(node, &self.track_path(node));
        let d = self.lab.spawn_daemon(node, &conf, &[])?;
        self.daemons[node - 1] = Some(d);
        self.frozen[node - 1] = false;
        Ok(())
    }

    /// Fails with [`Interrupted`] once Ctrl-C (or SIGTERM, SIGHUP) arrived.
    pub fn check_interrupt(&self) -> Result<()> {
        if self.interrupted.load(Ordering::Relaxed) {
            return Err(Interrupted.into());
        }
        Ok(())
    }

    /// Sleeps, but wakes for Ctrl-C.
    pub fn pause(&self, d: Duration) -> Result<()> {
        let end = Instant::now() + d;
        loop {
            self.check_interrupt()?;
            let now = Instant::now();
            if now >= end {
                return Ok(());
            }
            std::thread::sleep((end - now).min(Duration::from_millis(20)));
        }
    }

    /// Waits (bounded, interruptible) until `cond` holds; false if it never did.
    pub fn wait(&self, limit: Duration, mut cond: impl FnMut(&Self) -> bool) -> Result<bool> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if cond(self) {
                return Ok(true);
            }
            self.pause(Duration::from_millis(10))?;
        }
        Ok(cond(self))
    }

    /// Nodes holding the VIP now (from the kernel's notifications).
    pub fn holders(&self) -> Vec<usize> {
        self.vip.holders()
    }

    /// Nodes holding the VIP, less frozen ones: a SIGSTOPped daemon cannot remove its
    /// address, but its XDP program's liveness gate stops answering ARP for it, so the
    /// client's traffic moves to the new master all the same.
    pub fn active_holders(&self) -> Vec<usize> {
        self.holders()
            .into_iter()
            .filter(|&n| self.proc(n) != Proc::Frozen)
            .collect()
    }

    /// The node holding the VIP, when exactly one (not frozen) does.
    pub fn master(&self) -> Option<usize> {
        match self.active_holders()[..] {
            [n] => Some(n),
            _ => None,
        }
    }

    /// What became of `node`'s daemon.
    pub fn proc(&self, node: usize) -> Proc {
        match &self.daemons[node - 1] {
            None => Proc::Gone(self.gone[node - 1]),
            Some(d) if d.exit_status().is_some() => Proc::Gone("exited by itself"),
            Some(_) if self.frozen[node - 1] => Proc::Frozen,
            Some(_) => Proc::Running,
        }
    }

    /// The daemon's pid, while it runs.
    pub fn pid(&self, node: usize) -> Option<u32> {
        self.daemons[node - 1]
            .as_ref()
            .filter(|d| d.is_running())
            .map(|d| d.pid())
    }

    /// Fails if a daemon exited without being told to (a broken build, a config the
    /// daemon refuses, a crash), quoting the end of its log.
    pub fn check_daemons(&self) -> Result<()> {
        for n in 1..=PRIORITIES.len() {
            if let Some(d) = &self.daemons[n - 1]
                && let Some(status) = d.exit_status()
            {
                let log = d.log();
                let lines: Vec<&str> = log.lines().collect();
                let tail = lines[lines.len().saturating_sub(8)..].join("\n    ");
                bail!(
                    "node{n}'s vrrp-daemon exited by itself ({status}); its log ends:\n    {tail}"
                );
            }
        }
        Ok(())
    }

    /// Which node's priority `p` lowered, if any.
    pub fn lowered(&self) -> Option<usize> {
        self.lowered
    }

    /// The priority `node` should run at: its configured one, less the track file's drop
    /// (keepalived keeps it at 1 or more).
    pub fn intended_priority(&self, node: usize) -> i64 {
        let base = i64::from(PRIORITIES[node - 1]);
        if self.lowered == Some(node) {
            (base - TRACK_DROP).max(1)
        } else {
            base
        }
    }

    /// Who should hold the VIP: the running node with the highest priority.
    pub fn expected_master(&self) -> Option<usize> {
        (1..=PRIORITIES.len())
            .filter(|&n| self.proc(n) == Proc::Running)
            .max_by_key(|&n| self.intended_priority(n))
    }

    /// `vrrp-daemon status --json` of `node`; `None` when its daemon is frozen or gone
    /// (a frozen daemon cannot answer).
    pub fn status(&self, node: usize) -> Option<Result<NodeStatus>> {
        (self.proc(node) == Proc::Running)
            .then(|| status::query(&self.daemon_bin, &self.lab.control_socket(node)))
    }

    /// The daemon binary and control socket of `node`, to query its status from another
    /// thread.
    pub fn status_target(&self, node: usize) -> (PathBuf, PathBuf) {
        (self.daemon_bin.clone(), self.lab.control_socket(node))
    }

    /// What the client's current probe has seen.
    pub fn probe_live(&self) -> Option<ProbeLive> {
        self.probe.as_ref().map(Probe::live)
    }

    /// Replaces the client's probe with a fresh one (bounding its memory), waiting briefly
    /// for its first answer when someone holds the VIP.
    pub fn fresh_probe(&mut self) -> Result<()> {
        drop(self.probe.take());
        self.probe = Some(self.lab.start_probe_for(VIP, PORT, PROBE_MAX)?);
        if self.master().is_some() {
            self.wait(Duration::from_secs(1), |c| {
                c.probe_live().is_some_and(|l| l.last_reply.is_some())
            })?;
        }
        Ok(())
    }

    fn begin(
        &mut self,
        label: String,
        what: String,
        act: impl FnOnce(&mut Self) -> Result<()>,
    ) -> Result<Pending> {
        let before = self.master();
        self.fresh_probe()?;
        let at = Instant::now();
        act(self)?;
        self.events.push(at, Source::You, what);
        Ok(Pending {
            label,
            at,
            before,
            expect: self.expected_master(),
        })
    }

    fn running(&self, node: usize) -> Result<DaemonHandle> {
        match (self.proc(node), &self.daemons[node - 1]) {
            (Proc::Running | Proc::Frozen, Some(d)) => Ok(d.clone()),
            _ => bail!("node{node}'s daemon is not running"),
        }
    }

    /// `kill -9` of `node`'s daemon: a crash. Its crash guardian sends the priority-0
    /// advert and releases the VIP for it.
    pub fn kill9(&mut self, node: usize) -> Result<Pending> {
        let d = self.running(node)?;
        let pid = d.pid();
        let p = self.begin(
            format!("kill -9 node{node}"),
            format!(
                "kill -9 node{node}'s daemon (pid {pid}): a crash; its crash guardian speaks for it"
            ),
            |c| {
                d.kill9()?;
                c.daemons[node - 1] = None;
                c.gone[node - 1] = "killed with kill -9";
                c.frozen[node - 1] = false;
                Ok(())
            },
        )?;
        Ok(p)
    }

    /// SIGTERM to `node`'s daemon: a graceful stop (priority-0 advert, VIP released).
    pub fn term(&mut self, node: usize) -> Result<Pending> {
        let d = self.running(node)?;
        let pid = d.pid();
        self.begin(
            format!("SIGTERM node{node}"),
            format!("SIGTERM to node{node}'s daemon (pid {pid}): a graceful stop"),
            |c| {
                d.signal(libc::SIGTERM)?;
                let _ = d.cont();
                c.frozen[node - 1] = false;
                c.gone[node - 1] = "stopped with SIGTERM";
                // Reaped below; the timeline goes on while it exits.
                c.daemons[node - 1] = None;
                let exited = d.wait_exit(Duration::from_secs(10));
                if exited.is_none() {
                    let _ = d.kill9();
                    bail!("node{node}'s daemon ignored SIGTERM for 10 s (killed)");
                }
                Ok(())
            },
        )
    }

    /// SIGSTOP to `node`'s daemon: it hangs, sockets and XDP program in place, silent.
    pub fn freeze(&mut self, node: usize) -> Result<Pending> {
        let d = self.running(node)?;
        self.begin(
            format!("SIGSTOP node{node}"),
            format!(
                "SIGSTOP to node{node}'s daemon (pid {}): it hangs and stops advertising",
                d.pid()
            ),
            |c| {
                d.stop()?;
                c.frozen[node - 1] = true;
                Ok(())
            },
        )
    }

    /// SIGCONT to a frozen daemon.
    pub fn thaw(&mut self, node: usize) -> Result<Pending> {
        let d = self.running(node)?;
        self.begin(
            format!("SIGCONT node{node}"),
            format!(
                "SIGCONT to node{node}'s daemon (pid {}): it wakes up",
                d.pid()
            ),
            |c| {
                d.cont()?;
                c.frozen[node - 1] = false;
                Ok(())
            },
        )
    }

    /// Starts `node`'s daemon again.
    pub fn restart(&mut self, node: usize) -> Result<Pending> {
        if !matches!(self.proc(node), Proc::Gone(_)) {
            bail!("node{node}'s daemon is running");
        }
        self.begin(
            format!("restart node{node}"),
            format!(
                "start node{node}'s daemon again (priority {})",
                self.intended_priority(node)
            ),
            |c| c.spawn(node),
        )
    }

    /// Writes -TRACK_DROP into `node`'s track file: its priority drops, a backup with a
    /// higher one preempts.
    pub fn lower(&mut self, node: usize) -> Result<Pending> {
        let from = self.intended_priority(node);
        let to = (from - TRACK_DROP).max(1);
        self.begin(
            format!("lower node{node}'s priority"),
            format!("echo -{TRACK_DROP} > node{node}.track: node{node}'s priority {from} → {to}"),
            |c| {
                c.write_track(node, -TRACK_DROP)?;
                c.lowered = Some(node);
                Ok(())
            },
        )
    }

    /// Writes 0 back into the lowered node's track file.
    pub fn raise(&mut self) -> Result<Pending> {
        let Some(node) = self.lowered else {
            bail!("no priority is lowered");
        };
        let base = PRIORITIES[node - 1];
        self.begin(
            format!("raise node{node}'s priority"),
            format!("echo 0 > node{node}.track: node{node}'s priority back to {base}"),
            |c| {
                c.write_track(node, 0)?;
                c.lowered = None;
                Ok(())
            },
        )
    }

    /// Whether `p` has played out: the expected node alone holds the VIP and answers the
    /// client, and nothing happened for a moment; or it took too long.
    pub fn settled(&self, p: &Pending) -> bool {
        let now = Instant::now();
        if now.duration_since(p.at) < MIN_SETTLE {
            return false;
        }
        let want: Vec<usize> = p.expect.into_iter().collect();
        let answering = match p.expect {
            None => true,
            Some(n) => self.probe_live().is_some_and(|l| {
                l.last_reply.is_some_and(|(node, at)| {
                    node == n && l.elapsed.saturating_sub(at) < Duration::from_millis(100)
                })
            }),
        };
        let vip_last = self
            .vip
            .snapshot()
            .events
            .last()
            .map(|e| self.vip.started_at() + e.at);
        let last = self
            .events
            .latest()
            .into_iter()
            .chain(vip_last)
            .max()
            .unwrap_or(p.at);
        self.active_holders() == want && answering && now.saturating_duration_since(last) >= QUIET
    }

    /// Collects the timeline of `p` (from the action to now) and starts a fresh probe.
    pub fn conclude(&mut self, p: Pending, settled: bool) -> Result<Outcome> {
        let end = Instant::now();
        let report = self.probe.take().map(Probe::stop).transpose()?;
        // From one advert interval before: a node that stops advertising is reported at
        // its last advert, which may predate the action by that much.
        let from = p.at - ADVERT_INT.min(p.at.duration_since(self.t0));
        let mut events: Vec<(Instant, Source, String)> = self
            .events
            .between(from, end)
            .into_iter()
            .map(|e| (e.at, e.source, e.text))
            .collect();
        let vip = self.vip.snapshot();
        for e in &vip.events {
            let at = vip.started_at + e.at;
            if at >= from && at <= end {
                let text = if e.held {
                    format!("node{} holds {VIP} (address added)", e.node)
                } else {
                    format!("node{} lets go of {VIP} (address removed)", e.node)
                };
                events.push((at, Source::Vip, text));
            }
        }
        let mut gap = Duration::ZERO;
        if let Some(r) = &report {
            gap = r.gap_around(p.at, end);
            for c in &r.changes {
                let at = r.started_at + c.at;
                if at < p.at {
                    continue;
                }
                let i = r.replies.partition_point(|x| x.received_at < c.at);
                let silent = i
                    .checked_sub(1)
                    .map(|j| c.at - r.replies[j].received_at)
                    .unwrap_or(c.at);
                let text = match c.from {
                    Some(from) => format!(
                        "answers now come from node{} ({} ms after the last one from node{from})",
                        c.to,
                        silent.as_millis(),
                    ),
                    None => format!("first answer, from node{}", c.to),
                };
                events.push((at, Source::Client, text));
            }
        }
        events.sort_by_key(|e| e.0);
        let outcome = Outcome {
            label: p.label,
            at: p.at.duration_since(self.t0),
            events: events
                .into_iter()
                .map(|(at, s, t)| (signed_ms(at, p.at), s, t))
                .collect(),
            holder_before: p.before,
            holder_after: self.master(),
            gap,
            settled,
        };
        self.probe = Some(self.lab.start_probe_for(VIP, PORT, PROBE_MAX)?);
        Ok(outcome)
    }

    /// Runs `p` to its end (interruptible): waits until it settled or [`SETTLE_LIMIT`].
    pub fn settle(&mut self, p: Pending) -> Result<Outcome> {
        let settled = self.wait(SETTLE_LIMIT, |c| c.settled(&p))?;
        self.conclude(p, settled)
    }
}

/// `at - origin` in milliseconds, negative when `at` came first.
fn signed_ms(at: Instant, origin: Instant) -> f64 {
    match at.checked_duration_since(origin) {
        Some(d) => d.as_secs_f64() * 1e3,
        None => -(origin.duration_since(at).as_secs_f64() * 1e3),
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Listeners first, while their namespaces still exist; then `lab` tears down.
        drop(self.probe.take());
        drop(self.wire.take());
        drop(self.logs.take());
    }
}
