//! `vrrp_track_process`: count the processes matching `process NAME [PARAMS]` and hold the
//! quorum (`quorum` ..= `quorum_max`).
//!
//! keepalived (`core/track_process.c`) is event-driven through the netlink process
//! connector, and so is this module: after one scan of /proc it follows `fork` (a child of
//! a counted process is counted for the same blocks, without reading /proc), `exec` (the
//! process is checked again), `comm` (`prctl(PR_SET_NAME)`: the process is checked again
//! against the name-matching blocks, with the new name) and `exit`. A change of the count
//! caused by a fork waits `fork_delay`, one caused by an exit `terminate_delay`, one caused
//! by an exec or a name change applies at once; a pending delay is cancelled if the count
//! comes back first, all as keepalived does.
//!
//! When the connector is not there (kernel without `CONFIG_PROC_EVENTS`, not in the initial
//! PID namespace, or no `CAP_NET_ADMIN`: the kernel then never acknowledges the
//! subscription, or refuses it), /proc is rescanned every second instead; a rise of the
//! count then waits `fork_delay` and a fall `terminate_delay` (keepalived's rule when it
//! rescans after losing events).
//!
//! Matching, as keepalived: without `full_command` the process name (`comm`, the name in
//! `/proc/PID/stat`, at most 15 bytes) must equal `process` exactly; with it (implied by
//! parameters or `param_match`) `argv[0]` must equal it, and the parameters must be exactly
//! those given, start with them (`param_match partial`), or start with them with the last
//! one allowed to be longer (`param_match initial`). Zombies are not counted.
use std::{
    collections::{HashMap, HashSet},
    io, mem,
    os::fd::{AsRawFd, FromRawFd as _, OwnedFd, RawFd},
    path::Path,
    time::Duration,
};

use anyhow::{Context as _, Result};
use tokio::{
    io::{Interest, unix::AsyncFd},
    sync::mpsc,
    task::JoinHandle,
    time::{Instant, sleep_until},
};
use tracing::{debug, info, warn};

use super::{Effect, weighted_effect};
use crate::config::{ParamMatch, TrackProcess, TrackRef};

/// What one `vrrp_track_process` does to an instance tracking it through `tref`: as
/// keepalived, weight 0 → FAULT while the quorum is lost (`reverse`: while it is held);
/// weight > 0 → `weight` added while held, weight < 0 → added while lost; `reverse` negates
/// the change.
pub fn process_effect(track: &TrackProcess, tref: &TrackRef, ok: bool) -> Effect {
    weighted_effect(tref.weight.unwrap_or(track.weight), tref.reverse, ok)
}

/// A process as /proc shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcInfo {
    /// Its PID (thread group ID).
    pub pid: i32,
    /// Its name (`comm`), without the parentheses of `/proc/PID/stat`.
    pub comm: Vec<u8>,
    /// `/proc/PID/cmdline` (NUL-separated arguments), empty if not read.
    pub cmdline: Vec<u8>,
    /// State `Z`: exited, not yet reaped.
    pub zombie: bool,
}

/// Whether `proc` counts for `spec`.
pub fn matches(spec: &TrackProcess, proc: &ProcInfo) -> bool {
    if proc.zombie {
        return false;
    }
    if !spec.full_command {
        return proc.comm == spec.process.as_bytes();
    }
    let mut args = proc
        .cmdline
        .strip_suffix(b"\0")
        .unwrap_or(&proc.cmdline)
        .split(|&c| c == 0);
    if proc.cmdline.is_empty() || args.next() != Some(spec.process.as_bytes()) {
        return false;
    }
    let args: Vec<&[u8]> = args.collect();
    let want: Vec<&[u8]> = spec.params.iter().map(|p| p.as_bytes()).collect();
    match spec.param_match {
        // `full_command` alone: only argv[0] is compared.
        None => true,
        Some(ParamMatch::Exact) => args == want,
        Some(ParamMatch::Partial) => args.len() >= want.len() && args[..want.len()] == want[..],
        Some(ParamMatch::Initial) => match want.split_last() {
            None => true,
            Some((last, first)) => {
                args.len() >= want.len()
                    && args[..first.len()] == *first
                    && args[first.len()].starts_with(last)
            }
        },
    }
}

/// How many of `procs` count for `spec`.
pub fn count_matching(procs: &[ProcInfo], spec: &TrackProcess) -> usize {
    procs.iter().filter(|p| matches(spec, p)).count()
}

/// Read one process from a /proc-like directory (`root` is `/proc` outside tests); the
/// command line only when `cmdline` is asked for (keepalived avoids it when no block needs
/// it: reading it may swap the process in). `None` if it is gone.
pub fn read_proc(root: &Path, pid: i32, cmdline: bool) -> Option<ProcInfo> {
    let dir = root.join(pid.to_string());
    let stat = std::fs::read(dir.join("stat")).ok()?;
    // "PID (COMM) S ...": COMM may itself hold parentheses, the last ')' ends it.
    let open = stat.iter().position(|&c| c == b'(')?;
    let close = stat.iter().rposition(|&c| c == b')')?;
    let comm = stat.get(open + 1..close)?.to_vec();
    let zombie = stat.get(close + 2) == Some(&b'Z');
    let cmdline = if cmdline {
        std::fs::read(dir.join("cmdline")).ok()?
    } else {
        Vec::new()
    };
    Some(ProcInfo {
        pid,
        comm,
        cmdline,
        zombie,
    })
}

/// Every process under `root` (a /proc-like directory).
pub fn scan(root: &Path, cmdline: bool) -> Vec<ProcInfo> {
    let Ok(dir) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        read_proc(root, pid, cmdline)
    })
    .collect()
}

/// Why a count changed: which delay applies (keepalived's rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// A counted process forked: `fork_delay`.
    Fork,
    /// A counted process exited: `terminate_delay`.
    Exit,
    /// A process exec'd or was renamed: at once.
    Exec,
    /// A rescan of /proc: `fork_delay` when the quorum comes, `terminate_delay` when it goes.
    Rescan,
}

/// One block's quorum, debounced by its delays.
#[derive(Clone, Debug)]
struct Quorum {
    min: usize,
    max: usize,
    fork_delay: Duration,
    terminate_delay: Duration,
    /// What was last reported.
    up: bool,
    /// A delayed re-evaluation.
    pending: Option<Instant>,
}

impl Quorum {
    fn new(spec: &TrackProcess, count: usize) -> Self {
        let mut q = Self {
            min: spec.quorum as usize,
            max: spec.quorum_max.map_or(usize::MAX, |m| m as usize),
            fork_delay: spec.fork_delay,
            terminate_delay: spec.terminate_delay,
            up: false,
            pending: None,
        };
        q.up = q.in_range(count);
        q
    }

    fn in_range(&self, count: usize) -> bool {
        (self.min..=self.max).contains(&count)
    }

    /// The count is now `count`; returns the new status if it changes now.
    fn update(&mut self, count: usize, cause: Cause, now: Instant) -> Option<bool> {
        let target = self.in_range(count);
        if target == self.up {
            // Back where it was before the delay ran out: nothing happened.
            self.pending = None;
            return None;
        }
        let delay = match cause {
            Cause::Fork => self.fork_delay,
            Cause::Exit => self.terminate_delay,
            Cause::Exec => Duration::ZERO,
            Cause::Rescan if target => self.fork_delay,
            Cause::Rescan => self.terminate_delay,
        };
        if delay.is_zero() {
            self.pending = None;
            self.up = target;
            return Some(target);
        }
        if self.pending.is_none() {
            self.pending = Some(now + delay);
        }
        None
    }

    /// A delay ran out: the status is what the count says now.
    fn expire(&mut self, count: usize, now: Instant) -> Option<bool> {
        if self.pending.is_none_or(|t| t > now) {
            return None;
        }
        self.pending = None;
        let target = self.in_range(count);
        (target != self.up).then(|| {
            self.up = target;
            target
        })
    }
}

/// The process counts of every block, driven by process events (sans-IO: the caller reads
/// /proc and the connector).
#[derive(Debug)]
pub struct Tracker {
    specs: Vec<TrackProcess>,
    /// Per block: the PIDs counted.
    pids: Vec<HashSet<i32>>,
    quorums: Vec<Quorum>,
}

impl Tracker {
    /// Start from a full scan.
    pub fn new(specs: Vec<TrackProcess>, procs: &[ProcInfo]) -> Self {
        let pids: Vec<HashSet<i32>> = specs
            .iter()
            .map(|s| {
                procs
                    .iter()
                    .filter(|p| matches(s, p))
                    .map(|p| p.pid)
                    .collect()
            })
            .collect();
        let quorums = specs
            .iter()
            .zip(&pids)
            .map(|(s, p)| Quorum::new(s, p.len()))
            .collect();
        Self {
            specs,
            pids,
            quorums,
        }
    }

    /// Whether any block matches the command line (so /proc/PID/cmdline must be read).
    pub fn needs_cmdline(&self) -> bool {
        self.specs.iter().any(|s| s.full_command)
    }

    /// Every block's name and status (quorum held).
    pub fn statuses(&self) -> Vec<(String, bool)> {
        self.specs
            .iter()
            .zip(&self.quorums)
            .map(|(s, q)| (s.name.clone(), q.up))
            .collect()
    }

    /// How many processes block `i` counts.
    pub fn count(&self, i: usize) -> usize {
        self.pids[i].len()
    }

    /// When [`Tracker::expire`] must be called next.
    pub fn deadline(&self) -> Option<Instant> {
        self.quorums.iter().filter_map(|q| q.pending).min()
    }

    /// A new full scan of /proc.
    pub fn rescan(&mut self, procs: &[ProcInfo], now: Instant) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for i in 0..self.specs.len() {
            let pids: HashSet<i32> = procs
                .iter()
                .filter(|p| matches(&self.specs[i], p))
                .map(|p| p.pid)
                .collect();
            if pids != self.pids[i] {
                self.pids[i] = pids;
                self.update(i, Cause::Rescan, now, &mut out);
            }
        }
        out
    }

    /// `parent` forked `child` (a new process, not a thread).
    pub fn fork(&mut self, parent: i32, child: i32, now: Instant) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for i in 0..self.specs.len() {
            if self.pids[i].contains(&parent) && self.pids[i].insert(child) {
                self.update(i, Cause::Fork, now, &mut out);
            }
        }
        out
    }

    /// `pid` exec'd: `proc` is what /proc shows now (`None`: already gone).
    pub fn exec(&mut self, pid: i32, proc: Option<&ProcInfo>, now: Instant) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for i in 0..self.specs.len() {
            let counted = proc.is_some_and(|p| matches(&self.specs[i], p));
            if self.set(i, pid, counted) {
                self.update(i, Cause::Exec, now, &mut out);
            }
        }
        out
    }

    /// `pid` renamed itself to `comm`: only the name-matching blocks look again (keepalived
    /// does not reread the command line then).
    pub fn comm(&mut self, pid: i32, comm: &[u8], now: Instant) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for i in 0..self.specs.len() {
            if self.specs[i].full_command {
                continue;
            }
            let counted = comm == self.specs[i].process.as_bytes();
            if self.set(i, pid, counted) {
                self.update(i, Cause::Exec, now, &mut out);
            }
        }
        out
    }

    /// `pid` exited.
    pub fn exit(&mut self, pid: i32, now: Instant) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for i in 0..self.specs.len() {
            if self.pids[i].remove(&pid) {
                self.update(i, Cause::Exit, now, &mut out);
            }
        }
        out
    }

    /// Delays that ran out by `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for i in 0..self.specs.len() {
            if let Some(up) = self.quorums[i].expire(self.pids[i].len(), now) {
                out.push((self.specs[i].name.clone(), up));
            }
        }
        out
    }

    /// Count `pid` for block `i` or not; whether that changed anything.
    fn set(&mut self, i: usize, pid: i32, counted: bool) -> bool {
        if counted {
            self.pids[i].insert(pid)
        } else {
            self.pids[i].remove(&pid)
        }
    }

    fn update(&mut self, i: usize, cause: Cause, now: Instant, out: &mut Vec<(String, bool)>) {
        let count = self.pids[i].len();
        debug!(track_process = %self.specs[i].name, count, ?cause, "process count changed");
        if let Some(up) = self.quorums[i].update(count, cause, now) {
            out.push((self.specs[i].name.clone(), up));
        }
    }
}

/// Watch the processes of `specs`: sends `(name, quorum held)` for every block at once
/// (before returning), then on every change. Uses the netlink process connector when the
/// kernel acknowledges the subscription within a second, else rescans /proc every second.
pub fn spawn_process_watcher(
    specs: Vec<TrackProcess>,
    tx: mpsc::UnboundedSender<(String, bool)>,
) -> Result<JoinHandle<()>> {
    spawn_with(specs, tx, true)
}

fn spawn_with(
    specs: Vec<TrackProcess>,
    tx: mpsc::UnboundedSender<(String, bool)>,
    use_connector: bool,
) -> Result<JoinHandle<()>> {
    if specs.is_empty() {
        return Ok(tokio::spawn(async {}));
    }
    // Subscribe before the first scan, so nothing that happens during it is missed.
    let connector = if use_connector {
        match ProcConnector::open() {
            Ok(c) => Some(register(c).context("registering the process connector")?),
            Err(e) => {
                info!(error = %e, "no process connector; vrrp_track_process rescans /proc every second");
                None
            }
        }
    } else {
        None
    };
    let cmdline = specs.iter().any(|s| s.full_command);
    let tracker = Tracker::new(specs, &scan(Path::new(PROC), cmdline));
    for (i, (name, up)) in tracker.statuses().into_iter().enumerate() {
        info!(track_process = %name, count = tracker.count(i), quorum = up, "tracked process");
        let _ = tx.send((name, up));
    }
    Ok(tokio::spawn(run(tracker, connector, tx)))
}

const PROC: &str = "/proc";
const POLL: Duration = Duration::from_secs(1);
const ACK_WAIT: Duration = Duration::from_secs(1);

async fn run(
    mut tracker: Tracker,
    mut connector: Option<AsyncFd<ProcConnector>>,
    tx: mpsc::UnboundedSender<(String, bool)>,
) {
    let ack_by = Instant::now() + ACK_WAIT;
    let our_ack = connector.as_ref().map(|c| c.get_ref().nonce + 1);
    let mut acked = false;
    let mut next_poll = Instant::now() + POLL;
    let mut buf = vec![0u8; 4096];
    let root = Path::new(PROC);
    loop {
        let deadline = tracker.deadline();
        let changes = tokio::select! {
            r = readable(&connector) => {
                let received = match r {
                    Err(e) => Err(e),
                    Ok(mut guard) => match guard.try_io(|c| c.get_ref().recv(&mut buf)) {
                        Err(_would_block) => Ok(None),
                        Ok(r) => r.map(Some),
                    },
                };
                match received {
                    Ok(None) => Vec::new(),
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                        // Events were lost: start again from /proc, as keepalived does.
                        info!("process connector lost events; rescanning /proc");
                        let cmdline = tracker.needs_cmdline();
                        tracker.rescan(&scan(root, cmdline), Instant::now())
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => Vec::new(),
                    Err(e) => {
                        warn!(error = %e, "process connector failed; rescanning /proc every second");
                        connector = None;
                        next_poll = Instant::now();
                        Vec::new()
                    }
                    // Only the kernel's messages count.
                    Ok(Some((_, false))) => Vec::new(),
                    Ok(Some((n, true))) => {
                        let mut out = Vec::new();
                        for ev in proc_events(&buf[..n]) {
                            match ev {
                                ProcEvent::Ack { ack, .. } if Some(ack) != our_ack => {}
                                ProcEvent::Ack { err: 0, .. } => {
                                    if !acked {
                                        debug!("process connector subscribed");
                                    }
                                    acked = true;
                                }
                                ProcEvent::Ack { err, .. } if !acked => {
                                    warn!(errno = err, "the kernel refused process events; rescanning /proc every second");
                                    connector = None;
                                    next_poll = Instant::now();
                                    break;
                                }
                                ev => out.extend(apply(&mut tracker, ev, root)),
                            }
                        }
                        out
                    }
                }
            }
            _ = sleep_until(ack_by), if connector.is_some() && !acked => {
                info!("the kernel does not acknowledge process events (CONFIG_PROC_EVENTS, PID namespace?); rescanning /proc every second");
                connector = None;
                next_poll = Instant::now();
                Vec::new()
            }
            _ = sleep_until(next_poll), if connector.is_none() => {
                next_poll = Instant::now() + POLL;
                let cmdline = tracker.needs_cmdline();
                tracker.rescan(&scan(root, cmdline), Instant::now())
            }
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                tracker.expire(Instant::now())
            }
        };
        for (name, up) in changes {
            info!(track_process = %name, quorum = up, "tracked process quorum changed");
            if tx.send((name, up)).is_err() {
                return;
            }
        }
        if tx.is_closed() {
            return;
        }
    }
}

/// Apply one connector event.
fn apply(tracker: &mut Tracker, ev: ProcEvent, root: &Path) -> Vec<(String, bool)> {
    let now = Instant::now();
    match ev {
        ProcEvent::Fork { parent, child } => tracker.fork(parent, child, now),
        ProcEvent::Exec { pid } => {
            let proc = read_proc(root, pid, tracker.needs_cmdline());
            tracker.exec(pid, proc.as_ref(), now)
        }
        ProcEvent::Comm { pid, comm } => {
            let end = comm.iter().position(|&c| c == 0).unwrap_or(comm.len());
            tracker.comm(pid, &comm[..end], now)
        }
        ProcEvent::Exit { pid } => tracker.exit(pid, now),
        ProcEvent::Ack { .. } => Vec::new(),
    }
}

/// Hand the connector to tokio.
fn register(c: ProcConnector) -> io::Result<AsyncFd<ProcConnector>> {
    // SAFETY: the descriptor stays open and unchanged for as long as the AsyncFd owns it.
    unsafe { AsyncFd::register_with_interest(c, Interest::READABLE) }
        .map_err(|e| io::Error::other(e.to_string()))
}

async fn readable(
    c: &Option<AsyncFd<ProcConnector>>,
) -> io::Result<tokio::io::unix::AsyncFdReadyGuard<'_, ProcConnector>> {
    match c {
        Some(c) => c.readable().await,
        None => std::future::pending().await,
    }
}

// The process connector (include/uapi/linux/connector.h, cn_proc.h).
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_CN_MCAST_IGNORE: u32 = 2;
const PROC_EVENT_NONE: u32 = 0;
const PROC_EVENT_FORK: u32 = 1;
const PROC_EVENT_EXEC: u32 = 2;
const PROC_EVENT_COMM: u32 = 0x200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// `struct nlmsghdr`.
const NLMSG_HDR: usize = 16;
/// `struct cn_msg` (id.idx, id.val, seq, ack, len, flags).
const CN_MSG: usize = 20;
/// `struct proc_event` up to `event_data`: what, cpu, timestamp_ns.
const EV_HDR: usize = 16;

/// A process event, with thread events already left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProcEvent {
    /// The kernel's answer to a subscription (`PROC_EVENT_NONE`): the request's `ack`
    /// field plus one, and `err` 0 for success.
    Ack {
        ack: u32,
        err: u32,
    },
    Fork {
        parent: i32,
        child: i32,
    },
    Exec {
        pid: i32,
    },
    Comm {
        pid: i32,
        comm: [u8; 16],
    },
    Exit {
        pid: i32,
    },
}

/// Parse one datagram from the connector (the kernel sends one message per datagram, but
/// chained ones are walked anyway).
fn proc_events(buf: &[u8]) -> Vec<ProcEvent> {
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
    };
    let i32_at = |b: &[u8], at: usize| u32_at(b, at).map(|v| v as i32);
    let mut out = Vec::new();
    let mut off = 0;
    while off + NLMSG_HDR <= buf.len() {
        let Some(len) = u32_at(buf, off).map(|l| l as usize) else {
            break;
        };
        if len < NLMSG_HDR || off + len > buf.len() {
            break;
        }
        let msg = &buf[off..off + len];
        off += (len + 3) & !3;
        let kind = u16::from_ne_bytes([msg[4], msg[5]]);
        if kind == NLMSG_ERROR || kind == NLMSG_NOOP {
            continue;
        }
        let cn = &msg[NLMSG_HDR..];
        if u32_at(cn, 0) != Some(CN_IDX_PROC) || u32_at(cn, 4) != Some(CN_VAL_PROC) {
            continue;
        }
        let ack = u32_at(cn, 12).unwrap_or(0);
        let ev = &cn[CN_MSG.min(cn.len())..];
        let Some(what) = u32_at(ev, 0) else {
            continue;
        };
        let data = &ev[EV_HDR.min(ev.len())..];
        // A process (not a thread) has pid == tgid.
        let process = |pid: Option<i32>, tgid: Option<i32>| match (pid, tgid) {
            (Some(p), Some(t)) if p == t => Some(t),
            _ => None,
        };
        let parsed = match what {
            PROC_EVENT_NONE if ack != 0 => u32_at(data, 0).map(|err| ProcEvent::Ack { ack, err }),
            PROC_EVENT_FORK => {
                let child = process(i32_at(data, 8), i32_at(data, 12));
                match (i32_at(data, 4), child) {
                    (Some(parent), Some(child)) => Some(ProcEvent::Fork { parent, child }),
                    _ => None,
                }
            }
            PROC_EVENT_EXEC => {
                process(i32_at(data, 0), i32_at(data, 4)).map(|pid| ProcEvent::Exec { pid })
            }
            PROC_EVENT_COMM => process(i32_at(data, 0), i32_at(data, 4)).and_then(|pid| {
                let comm: [u8; 16] = data.get(8..24)?.try_into().ok()?;
                Some(ProcEvent::Comm { pid, comm })
            }),
            PROC_EVENT_EXIT => {
                process(i32_at(data, 0), i32_at(data, 4)).map(|pid| ProcEvent::Exit { pid })
            }
            _ => None,
        };
        out.extend(parsed);
    }
    out
}

/// A netlink connector socket subscribed to process events; unsubscribes when dropped.
struct ProcConnector {
    fd: OwnedFd,
    /// The `ack` field of our requests: the kernel acknowledges with `nonce + 1`
    /// (acknowledgements go to every listener, so other processes' are seen too; the
    /// kernel overwrites the sequence number with its own).
    nonce: u32,
}

impl ProcConnector {
    fn open() -> io::Result<Self> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::NETLINK_CONNECTOR,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a new descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let sock = Self {
            fd,
            nonce: (std::process::id() ^ nanos) & 0x7fff_ffff,
        };
        // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // nl_pid 0: the kernel picks a free port (the daemon has other netlink sockets).
        addr.nl_groups = CN_IDX_PROC;
        // SAFETY: valid descriptor and address of the given length.
        let rc = unsafe {
            libc::bind(
                sock.fd.as_raw_fd(),
                (&raw const addr).cast(),
                mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // Room for bursts (a fork bomb of short-lived processes); best effort.
        let size: libc::c_int = 1 << 20;
        // SAFETY: valid descriptor and option value.
        unsafe {
            libc::setsockopt(
                sock.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&raw const size).cast(),
                mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        sock.send_op(PROC_CN_MCAST_LISTEN)?;
        Ok(sock)
    }

    /// Send `PROC_CN_MCAST_LISTEN` / `_IGNORE` to the kernel.
    fn send_op(&self, op: u32) -> io::Result<()> {
        let mut msg = [0u8; NLMSG_HDR + CN_MSG + 4];
        let len = msg.len() as u32;
        msg[0..4].copy_from_slice(&len.to_ne_bytes());
        msg[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
        let cn = NLMSG_HDR;
        msg[cn..cn + 4].copy_from_slice(&CN_IDX_PROC.to_ne_bytes());
        msg[cn + 4..cn + 8].copy_from_slice(&CN_VAL_PROC.to_ne_bytes());
        msg[cn + 12..cn + 16].copy_from_slice(&self.nonce.to_ne_bytes());
        msg[cn + 16..cn + 18].copy_from_slice(&4u16.to_ne_bytes());
        msg[cn + CN_MSG..].copy_from_slice(&op.to_ne_bytes());
        // SAFETY: valid descriptor and buffer.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// One datagram, and whether the kernel sent it (port 0).
    fn recv(&self, buf: &mut [u8]) -> io::Result<(usize, bool)> {
        // SAFETY: sockaddr_nl is plain data; all-zero is a valid value.
        let mut from: libc::sockaddr_nl = unsafe { mem::zeroed() };
        let mut from_len = mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: valid descriptor, buffer and address storage.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&raw mut from).cast(),
                &mut from_len,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let kernel = from_len as usize == mem::size_of::<libc::sockaddr_nl>() && from.nl_pid == 0;
        Ok((n as usize, kernel))
    }
}

impl AsRawFd for ProcConnector {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Drop for ProcConnector {
    fn drop(&mut self) {
        // Older kernels count listeners and only stop the events when told.
        let _ = self.send_op(PROC_CN_MCAST_IGNORE);
    }
}

/// Quorum statuses by `vrrp_track_process` name, as [`spawn_process_watcher`] reports them.
pub type ProcessStates = HashMap<String, bool>;

#[cfg(test)]
mod tests {
    use std::{os::unix::process::CommandExt as _, process::Command};

    use super::*;

    fn spec(process: &str, params: &[&str], pm: Option<ParamMatch>, full: bool) -> TrackProcess {
        TrackProcess {
            name: "p".into(),
            process: process.into(),
            params: params.iter().map(|s| s.to_string()).collect(),
            param_match: pm,
            full_command: full,
            weight: 0,
            weight_reverse: false,
            quorum: 1,
            quorum_max: None,
            fork_delay: Duration::ZERO,
            terminate_delay: Duration::ZERO,
            location: Default::default(),
        }
    }

    fn proc(pid: i32, comm: &str, argv: &[&str]) -> ProcInfo {
        let mut cmdline = Vec::new();
        for a in argv {
            cmdline.extend_from_slice(a.as_bytes());
            cmdline.push(0);
        }
        ProcInfo {
            pid,
            comm: comm.as_bytes().to_vec(),
            cmdline,
            zombie: false,
        }
    }

    fn listing() -> Vec<ProcInfo> {
        vec![
            proc(1, "systemd", &["/sbin/init"]),
            proc(
                10,
                "haproxy",
                &["/usr/sbin/haproxy", "-f", "/etc/haproxy.cfg"],
            ),
            proc(
                11,
                "haproxy",
                &["/usr/sbin/haproxy", "-f", "/etc/haproxy.cfg", "-x"],
            ),
            proc(
                12,
                "haproxy",
                &["/usr/sbin/haproxy", "-f", "/etc/haproxy.cfg.new"],
            ),
            proc(20, "sshd", &["sshd: /usr/sbin/sshd -D [listener]"]),
            proc(21, "ssh", &["ssh", "host"]),
            ProcInfo {
                zombie: true,
                ..proc(30, "haproxy", &[])
            },
            // A kernel thread: no command line.
            proc(40, "kworker/0:1", &[]),
        ]
    }

    #[test]
    fn name_match_is_exact_on_comm_and_skips_zombies() {
        let l = listing();
        assert_eq!(count_matching(&l, &spec("haproxy", &[], None, false)), 3);
        assert_eq!(
            count_matching(&l, &spec("ssh", &[], None, false)),
            1,
            "not sshd"
        );
        assert_eq!(count_matching(&l, &spec("hap", &[], None, false)), 0);
        assert_eq!(
            count_matching(&l, &spec("kworker/0:1", &[], None, false)),
            1
        );
    }

    #[test]
    fn full_command_compares_argv0_and_parameters() {
        let l = listing();
        let s = |params: &[&str], pm| spec("/usr/sbin/haproxy", params, pm, true);
        // full_command alone: argv[0] only.
        assert_eq!(count_matching(&l, &s(&[], None)), 3);
        assert_eq!(count_matching(&l, &spec("haproxy", &[], None, true)), 0);
        // Exact.
        let exact = Some(ParamMatch::Exact);
        assert_eq!(
            count_matching(&l, &s(&["-f", "/etc/haproxy.cfg"], exact)),
            1
        );
        assert_eq!(count_matching(&l, &s(&["-f"], exact)), 0);
        assert_eq!(
            count_matching(&l, &s(&[], exact)),
            0,
            "exact, no parameters"
        );
        assert_eq!(count_matching(&l, &spec("/sbin/init", &[], exact, true)), 1);
        // Partial: the given parameters come first, whole.
        let partial = Some(ParamMatch::Partial);
        assert_eq!(
            count_matching(&l, &s(&["-f", "/etc/haproxy.cfg"], partial)),
            2
        );
        assert_eq!(count_matching(&l, &s(&["-f"], partial)), 3);
        assert_eq!(count_matching(&l, &s(&[], partial)), 3);
        assert_eq!(count_matching(&l, &s(&["-f", "/etc/haproxy"], partial)), 0);
        // Initial: the last one may be longer.
        let initial = Some(ParamMatch::Initial);
        assert_eq!(count_matching(&l, &s(&["-f", "/etc/haproxy"], initial)), 3);
        assert_eq!(
            count_matching(&l, &s(&["-f", "/etc/haproxy.cfg."], initial)),
            1
        );
        assert_eq!(
            count_matching(&l, &s(&["-", "/etc/haproxy.cfg"], initial)),
            0
        );
        // A command line rewritten into one string is one argv[0].
        let sshd = spec("sshd: /usr/sbin/sshd -D [listener]", &[], None, true);
        assert_eq!(count_matching(&l, &sshd), 1);
    }

    #[test]
    fn reads_a_proc_like_directory() {
        let root = std::env::temp_dir().join(format!("vrrp-fake-proc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mk = |pid: &str, stat: &str, cmdline: &[u8]| {
            let d = root.join(pid);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("stat"), stat).unwrap();
            std::fs::write(d.join("cmdline"), cmdline).unwrap();
        };
        mk("7", "7 (haproxy) S 1 7 7 0 -1", b"haproxy\0-f\0x\0");
        mk("8", "8 (my (odd) name) R 1 8 8", b"odd\0");
        mk("9", "9 (haproxy) Z 1 9 9", b"");
        std::fs::create_dir_all(root.join("self")).unwrap();
        std::fs::write(root.join("uptime"), "1 2").unwrap();
        let mut procs = scan(&root, true);
        procs.sort_by_key(|p| p.pid);
        assert_eq!(procs.len(), 3);
        assert_eq!(procs[0].comm, b"haproxy");
        assert_eq!(procs[0].cmdline, b"haproxy\0-f\0x\0");
        assert_eq!(procs[1].comm, b"my (odd) name");
        assert!(!procs[1].zombie);
        assert!(procs[2].zombie);
        assert_eq!(
            count_matching(&procs, &spec("haproxy", &[], None, false)),
            1
        );
        let full = spec("haproxy", &["-f", "x"], Some(ParamMatch::Exact), true);
        assert_eq!(count_matching(&procs, &full), 1);
        assert!(scan(&root, false).iter().all(|p| p.cmdline.is_empty()));
        assert_eq!(read_proc(&root, 99, false), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn tracker(quorum: u32, max: Option<u32>, fork: u64, term: u64) -> Tracker {
        let mut s = spec("d", &[], None, false);
        s.quorum = quorum;
        s.quorum_max = max;
        s.fork_delay = Duration::from_millis(fork);
        s.terminate_delay = Duration::from_millis(term);
        Tracker::new(vec![s], &[])
    }

    fn up(v: bool) -> Vec<(String, bool)> {
        vec![("p".to_string(), v)]
    }

    #[test]
    fn quorum_range_without_delays() {
        let t0 = Instant::now();
        // quorum 2 ..= 3.
        let mut t = tracker(2, Some(3), 0, 0);
        assert_eq!(t.statuses(), up(false));
        let d = proc(0, "d", &[]);
        let p = |pid| ProcInfo { pid, ..d.clone() };
        assert_eq!(t.exec(1, Some(&p(1)), t0), vec![]);
        assert_eq!(t.exec(2, Some(&p(2)), t0), up(true));
        assert_eq!(t.fork(2, 3, t0), vec![]);
        assert_eq!(t.fork(3, 4, t0), up(false), "above quorum_max");
        assert_eq!(t.fork(99, 5, t0), vec![], "an untracked parent");
        assert_eq!(t.count(0), 4);
        assert_eq!(t.exit(4, t0), up(true));
        assert_eq!(t.exit(77, t0), vec![]);
        // exec into something else: no longer counted.
        let other = ProcInfo {
            comm: b"other".to_vec(),
            ..p(3)
        };
        assert_eq!(t.exec(3, Some(&other), t0), vec![]);
        assert_eq!(t.exec(2, None, t0), up(false));
        // A rename into the name.
        assert_eq!(t.comm(8, b"d", t0), up(true));
        assert_eq!(t.comm(8, b"x", t0), up(false));
        assert_eq!(t.deadline(), None);
    }

    #[test]
    fn quorum_max_zero_means_must_not_run() {
        let t0 = Instant::now();
        let mut t = tracker(0, Some(0), 0, 0);
        assert_eq!(t.statuses(), up(true));
        let p = proc(5, "d", &[]);
        assert_eq!(t.exec(5, Some(&p), t0), up(false));
        assert_eq!(t.exit(5, t0), up(true));
    }

    #[test]
    fn fork_and_terminate_delays_debounce() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut t = tracker(1, Some(1), 500, 300);
        let p = proc(1, "d", &[]);
        // An exec is counted at once.
        assert_eq!(t.exec(1, Some(&p), t0), up(true));
        // A fork goes above quorum_max: the loss waits fork_delay.
        assert_eq!(t.fork(1, 2, t0), vec![]);
        assert_eq!(t.deadline(), Some(t0 + ms(500)));
        assert_eq!(t.expire(t0 + ms(499)), vec![]);
        // The child exits first: the pending change is cancelled.
        assert_eq!(t.exit(2, t0 + ms(100)), vec![]);
        assert_eq!(t.deadline(), None);
        assert_eq!(t.expire(t0 + ms(600)), vec![]);
        // The last one exits: the loss waits terminate_delay.
        assert_eq!(t.exit(1, t0 + ms(1000)), vec![]);
        assert_eq!(t.deadline(), Some(t0 + ms(1300)));
        assert_eq!(t.expire(t0 + ms(1300)), up(false));
        // Comes back by exec: at once.
        assert_eq!(
            t.exec(
                3,
                Some(&ProcInfo {
                    pid: 3,
                    ..p.clone()
                }),
                t0 + ms(2000)
            ),
            up(true)
        );
        // Exit then re-exec within terminate_delay: nothing reported.
        assert_eq!(t.exit(3, t0 + ms(3000)), vec![]);
        assert_eq!(
            t.exec(
                4,
                Some(&ProcInfo {
                    pid: 4,
                    ..p.clone()
                }),
                t0 + ms(3100)
            ),
            vec![]
        );
        assert_eq!(t.deadline(), None);
        assert_eq!(t.statuses(), up(true));
    }

    #[test]
    fn rescans_use_the_delay_of_the_direction() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut t = tracker(1, None, 200, 400);
        let p = proc(1, "d", &[]);
        assert_eq!(t.rescan(std::slice::from_ref(&p), t0), vec![]);
        assert_eq!(t.deadline(), Some(t0 + ms(200)));
        assert_eq!(t.expire(t0 + ms(200)), up(true));
        assert_eq!(t.rescan(&[], t0 + ms(1000)), vec![]);
        assert_eq!(t.deadline(), Some(t0 + ms(1400)));
        assert_eq!(t.expire(t0 + ms(1400)), up(false));
    }

    #[test]
    fn parses_connector_messages() {
        fn msg(what: u32, ack: u32, data: &[u32]) -> Vec<u8> {
            let mut m = vec![0u8; NLMSG_HDR + CN_MSG + EV_HDR];
            let cn = NLMSG_HDR;
            m[cn..cn + 4].copy_from_slice(&CN_IDX_PROC.to_ne_bytes());
            m[cn + 4..cn + 8].copy_from_slice(&CN_VAL_PROC.to_ne_bytes());
            m[cn + 12..cn + 16].copy_from_slice(&ack.to_ne_bytes());
            m[cn + CN_MSG..cn + CN_MSG + 4].copy_from_slice(&what.to_ne_bytes());
            for d in data {
                m.extend_from_slice(&d.to_ne_bytes());
            }
            let len = m.len() as u32;
            m[0..4].copy_from_slice(&len.to_ne_bytes());
            m[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
            m
        }
        assert_eq!(
            proc_events(&msg(0, 1, &[0])),
            vec![ProcEvent::Ack { ack: 1, err: 0 }]
        );
        assert_eq!(
            proc_events(&msg(0, 1, &[1])),
            vec![ProcEvent::Ack { ack: 1, err: 1 }]
        );
        assert_eq!(
            proc_events(&msg(PROC_EVENT_FORK, 0, &[10, 10, 11, 11])),
            vec![ProcEvent::Fork {
                parent: 10,
                child: 11
            }]
        );
        assert_eq!(
            proc_events(&msg(PROC_EVENT_FORK, 0, &[10, 10, 12, 11])),
            vec![],
            "a thread"
        );
        assert_eq!(
            proc_events(&msg(PROC_EVENT_EXEC, 0, &[5, 5])),
            vec![ProcEvent::Exec { pid: 5 }]
        );
        assert_eq!(
            proc_events(&msg(PROC_EVENT_EXIT, 0, &[5, 5, 0, 17, 1, 1])),
            vec![ProcEvent::Exit { pid: 5 }]
        );
        assert_eq!(
            proc_events(&msg(PROC_EVENT_EXIT, 0, &[6, 5, 0, 17, 1, 1])),
            vec![]
        );
        let mut comm = vec![7, 7];
        comm.extend([u32::from_ne_bytes(*b"nam\0"), 0, 0, 0]);
        let mut want = [0u8; 16];
        want[..3].copy_from_slice(b"nam");
        assert_eq!(
            proc_events(&msg(PROC_EVENT_COMM, 0, &comm)),
            vec![ProcEvent::Comm { pid: 7, comm: want }]
        );
        // Two chained messages, and garbage after them.
        let mut two = msg(PROC_EVENT_EXEC, 0, &[5, 5]);
        two.extend(msg(PROC_EVENT_EXIT, 0, &[6, 6, 0, 0, 1, 1]));
        two.extend([1, 2, 3]);
        assert_eq!(
            proc_events(&two),
            vec![ProcEvent::Exec { pid: 5 }, ProcEvent::Exit { pid: 6 }]
        );
        // Another connector's message.
        let mut other = msg(PROC_EVENT_EXEC, 0, &[5, 5]);
        other[NLMSG_HDR] = 9;
        assert_eq!(proc_events(&other), vec![]);
    }

    #[test]
    fn effect_follows_keepalived_weights() {
        let s = spec("d", &[], None, false);
        let tr = |weight, reverse| TrackRef {
            name: "p".into(),
            weight,
            reverse,
        };
        let e = |delta, fault| Effect { delta, fault };
        assert_eq!(process_effect(&s, &tr(None, false), true), e(0, false));
        assert_eq!(process_effect(&s, &tr(None, false), false), e(0, true));
        assert_eq!(process_effect(&s, &tr(None, true), true), e(0, true));
        assert_eq!(process_effect(&s, &tr(None, true), false), e(0, false));
        assert_eq!(process_effect(&s, &tr(Some(10), false), true), e(10, false));
        assert_eq!(process_effect(&s, &tr(Some(10), false), false), e(0, false));
        assert_eq!(
            process_effect(&s, &tr(Some(-10), false), false),
            e(-10, false)
        );
        assert_eq!(process_effect(&s, &tr(Some(-10), false), true), e(0, false));
        // reverse negates the change, in the same condition (keepalived's table).
        assert_eq!(process_effect(&s, &tr(Some(10), true), true), e(-10, false));
        assert_eq!(
            process_effect(&s, &tr(Some(-10), true), false),
            e(10, false)
        );
        let mut weighted = s.clone();
        weighted.weight = 5;
        assert_eq!(
            process_effect(&weighted, &tr(None, false), true),
            e(5, false)
        );
    }

    /// An argv[0] unique to this test run.
    fn unique_name(tag: &str) -> String {
        format!(
            "vrrp-test-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        )
    }

    async fn expect(
        rx: &mut mpsc::UnboundedReceiver<(String, bool)>,
        want: bool,
        within: Duration,
    ) {
        let got = tokio::time::timeout(within, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no change to {want} within {within:?}"))
            .expect("watcher gone");
        assert_eq!(got, ("p".to_string(), want));
    }

    /// Count a `sleep 30` with a unique argv[0] going 0 → 1 → 0; how long each change took
    /// to be reported.
    async fn real_process_count(use_connector: bool, settle: Duration) -> (Duration, Duration) {
        let within = Duration::from_secs(3);
        let name = unique_name(if use_connector { "nl" } else { "poll" });
        let s = spec(&name, &[], None, true);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn_with(vec![s], tx, use_connector).unwrap();
        // Nothing runs under that name yet: quorum lost, reported before spawn returns.
        assert_eq!(rx.try_recv(), Ok(("p".to_string(), false)));
        // Past the acknowledgement wait: the watcher has settled on its mode.
        tokio::time::sleep(settle).await;
        let started = std::time::Instant::now();
        let mut child = Command::new("sleep").arg0(&name).arg("30").spawn().unwrap();
        expect(&mut rx, true, within).await;
        let up = started.elapsed();
        // Kill it: 1 → 0 (seen at the exit, or as a zombie, before it is reaped).
        let killed = std::time::Instant::now();
        child.kill().unwrap();
        expect(&mut rx, false, within).await;
        let down = killed.elapsed();
        child.wait().unwrap();
        task.abort();
        eprintln!("connector {use_connector}: seen up after {up:?}, down after {down:?}");
        (up, down)
    }

    /// Whether the kernel acknowledges a subscription here (root in the initial
    /// namespaces, CONFIG_PROC_EVENTS).
    async fn connector_acks() -> bool {
        let Ok(c) = ProcConnector::open() else {
            return false;
        };
        let c = register(c).unwrap();
        let ours = ProcEvent::Ack {
            ack: c.get_ref().nonce + 1,
            err: 0,
        };
        let mut buf = vec![0u8; 8192];
        tokio::time::timeout(Duration::from_secs(1), async {
            loop {
                let mut g = c.readable().await.unwrap();
                if let Ok(Ok((n, true))) = g.try_io(|c| c.get_ref().recv(&mut buf))
                    && proc_events(&buf[..n]).contains(&ours)
                {
                    return;
                }
            }
        })
        .await
        .is_ok()
    }

    #[tokio::test]
    async fn counts_a_real_process_through_the_connector() {
        let acks = connector_acks().await;
        let (up, down) = real_process_count(true, ACK_WAIT + Duration::from_millis(200)).await;
        if acks {
            // Event-driven: far below the one-second rescan period.
            let fast = Duration::from_millis(300);
            assert!(up < fast && down < fast, "up {up:?}, down {down:?}");
        } else {
            eprintln!("no process connector here: the rescanning fallback was tested");
        }
    }

    #[tokio::test]
    async fn counts_a_real_process_by_rescanning() {
        real_process_count(false, Duration::ZERO).await;
    }

    #[tokio::test]
    async fn the_kernel_reports_exec_and_exit_of_a_child() {
        let Ok(c) = ProcConnector::open() else {
            eprintln!("no process connector in this environment: skipped");
            return;
        };
        let c = register(c).unwrap();
        let mut buf = vec![0u8; 8192];
        let mut events = Vec::new();
        let mut child: Option<std::process::Child> = None;
        let mut pid = 0;
        let seen = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                let mut g = c.readable().await.unwrap();
                let Ok(Ok((n, true))) = g.try_io(|c| c.get_ref().recv(&mut buf)) else {
                    continue;
                };
                for ev in proc_events(&buf[..n]) {
                    let ours = ProcEvent::Ack {
                        ack: c.get_ref().nonce + 1,
                        err: 0,
                    };
                    if ev == ours && child.is_none() {
                        let mut ch = Command::new("sleep").arg("30").spawn().unwrap();
                        pid = ch.id() as i32;
                        ch.kill().unwrap();
                        child = Some(ch);
                    }
                    events.push(ev);
                }
                if pid != 0
                    && events.contains(&ProcEvent::Exec { pid })
                    && events.contains(&ProcEvent::Exit { pid })
                {
                    return;
                }
            }
        })
        .await;
        if let Some(mut ch) = child {
            ch.wait().unwrap();
        }
        if pid == 0 {
            eprintln!("the kernel did not acknowledge process events here: skipped");
            return;
        }
        assert!(seen.is_ok(), "exec and exit of {pid} not seen: {events:?}");
        assert!(
            events
                .iter()
                .any(|e| matches!(e, ProcEvent::Fork { child, .. } if *child == pid)),
            "fork of {pid} not seen"
        );
    }
}
