//! A client that measures who answers on a VIP, and for how long nobody does.
//!
//! Every node runs a UDP echo responder that prefixes its reply with its node name; the
//! client sends a sequence-numbered datagram to the VIP every millisecond. Because a
//! node only receives datagrams for the VIP while it holds the address (and the client's
//! ARP entry points at it), the replies tell who owned the VIP, when, and how long a
//! failover left the VIP unreachable.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::netns;

/// Identifies our datagrams, so stray traffic on the port is never miscounted.
const MAGIC: &[u8; 8] = b"vrrpt-p1";
/// Time between probes.
const INTERVAL: Duration = Duration::from_millis(1);
/// Responders poll their stop flag this often.
const RESPONDER_TICK: Duration = Duration::from_millis(20);
/// After the last send, how long to keep collecting replies still in flight.
const DRAIN: Duration = Duration::from_millis(20);
/// How long to wait for a responder/prober thread to report it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// A running probe; stop it with [`Probe::stop`] to get the [`ProbeReport`].
///
/// It also stops by itself after its maximum duration, and dropping it stops it too, so
/// a failing test never leaves the threads behind.
pub struct Probe {
    stop: Arc<AtomicBool>,
    live: Arc<LiveCounters>,
    prober: Option<JoinHandle<Result<Samples>>>,
    responders: Vec<JoinHandle<Result<()>>>,
    started_at: Instant,
}

/// What a running probe has seen so far ([`Probe::live`]), for a display that refreshes
/// while the probe runs; the full picture comes from [`Probe::stop`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeLive {
    /// Datagrams sent so far.
    pub sent: u64,
    /// Replies received so far.
    pub received: u64,
    /// The last reply: which node sent it and when it arrived, relative to
    /// [`Probe::started_at`]; `None` before the first reply.
    pub last_reply: Option<(usize, Duration)>,
    /// How long the probe has been running.
    pub elapsed: Duration,
}

/// Counters the prober thread updates as it goes, read by [`Probe::live`] without
/// stopping it (atomics: the 1 ms send loop never waits for a reader).
#[derive(Default)]
struct LiveCounters {
    sent: AtomicU64,
    received: AtomicU64,
    /// Node of the last reply; 0 before the first one.
    last_node: AtomicU64,
    /// Arrival of the last reply, in microseconds since the start.
    last_at_us: AtomicU64,
}

/// One answered probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeReply {
    /// Sequence number (0-based, one per millisecond).
    pub seq: u64,
    /// When it was sent, relative to [`ProbeReport::started_at`].
    pub sent_at: Duration,
    /// When the reply came back, relative to [`ProbeReport::started_at`].
    pub received_at: Duration,
    /// Which node (1-based) answered.
    pub node: usize,
}

/// A point where a different node started answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnerChange {
    /// Receive time of the first reply from `to`, relative to the probe start.
    pub at: Duration,
    /// Who answered before (`None` for the very first reply).
    pub from: Option<usize>,
    /// Who answers from now on.
    pub to: usize,
}

/// Everything a probe observed; the derived figures are what failover tests assert on.
#[derive(Clone, Debug)]
pub struct ProbeReport {
    /// Time zero for every `Duration` in the report; compare with [`Instant`]s taken by
    /// the test through [`ProbeReport::since_start`].
    pub started_at: Instant,
    /// How long probes were sent.
    pub duration: Duration,
    /// Datagrams sent.
    pub sent: u64,
    /// Replies received (a request answered twice counts twice).
    pub received: u64,
    /// Sends that failed locally (e.g. no route); normally 0.
    pub send_errors: u64,
    /// All replies, in the order they arrived.
    pub replies: Vec<ProbeReply>,
    /// Who answered, and from when; the first entry is the first reply.
    pub changes: Vec<OwnerChange>,
    /// Longest time without any reply: between two consecutive replies, before the first
    /// one, or after the last one until sending stopped (so a VIP that never came back
    /// shows as a long gap instead of hiding).
    pub longest_gap: Duration,
    /// Where `longest_gap` was: (start, end) relative to the probe start.
    pub longest_gap_span: (Duration, Duration),
}

impl ProbeReport {
    fn new(started_at: Instant, s: Samples) -> Self {
        let mut changes = Vec::new();
        let mut prev: Option<usize> = None;
        for r in &s.replies {
            if prev != Some(r.node) {
                changes.push(OwnerChange {
                    at: r.received_at,
                    from: prev,
                    to: r.node,
                });
                prev = Some(r.node);
            }
        }
        let mut edges = Vec::with_capacity(s.replies.len() + 2);
        edges.push(Duration::ZERO);
        edges.extend(s.replies.iter().map(|r| r.received_at));
        edges.push(s.duration.max(edges.last().copied().unwrap_or_default()));
        let mut span = (Duration::ZERO, Duration::ZERO);
        for w in edges.windows(2) {
            if w[1].saturating_sub(w[0]) > span.1 - span.0 {
                span = (w[0], w[1]);
            }
        }
        ProbeReport {
            started_at,
            duration: s.duration,
            sent: s.sent,
            received: s.replies.len() as u64,
            send_errors: s.send_errors,
            replies: s.replies,
            changes,
            longest_gap: span.1 - span.0,
            longest_gap_span: span,
        }
    }

    /// Who was answering at `t` (the node of the last reply received at or before `t`);
    /// `None` before the first reply.
    pub fn owner_at(&self, t: Duration) -> Option<usize> {
        let i = self.replies.partition_point(|r| r.received_at <= t);
        i.checked_sub(1).map(|i| self.replies[i].node)
    }

    /// Converts an instant the test recorded (e.g. when it killed the master) to the
    /// report's time base; zero if it was before the probe started.
    pub fn since_start(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.started_at)
    }

    /// `longest_gap` in whole milliseconds, for messages and thresholds.
    pub fn longest_gap_ms(&self) -> u64 {
        self.longest_gap.as_millis() as u64
    }

    /// Distinct nodes that answered, in order of first answer.
    pub fn nodes_seen(&self) -> Vec<usize> {
        let mut seen = Vec::new();
        for c in &self.changes {
            if !seen.contains(&c.to) {
                seen.push(c.to);
            }
        }
        seen
    }

    /// Who answered, in order, counting only owners that kept answering for at least
    /// `min_hold` (the last one always counts), with repeats merged. At a preemption the
    /// old and the new master may both answer for a fraction of a millisecond (replies in
    /// flight, the old one's VIP not yet removed): `[1, 2, 1, 2, 1]` is what the client
    /// lived through even when the raw changes show `2, 1, 2` within one millisecond.
    pub fn settled_owners(&self, min_hold: Duration) -> Vec<usize> {
        let mut owners: Vec<usize> = Vec::new();
        for (i, c) in self.changes.iter().enumerate() {
            let held = match self.changes.get(i + 1) {
                Some(next) => next.at.saturating_sub(c.at) >= min_hold,
                None => true,
            };
            if held && owners.last() != Some(&c.to) {
                owners.push(c.to);
            }
        }
        owners
    }

    /// Probes that got no reply (duplicates do not make this negative).
    pub fn lost(&self) -> u64 {
        let mut answered: Vec<u64> = self.replies.iter().map(|r| r.seq).collect();
        answered.sort_unstable();
        answered.dedup();
        self.sent.saturating_sub(answered.len() as u64)
    }

    /// The longest time without a reply that overlaps `[from, to]` (instants the test
    /// recorded, e.g. a kill and a moment after the takeover): from the last reply before
    /// the outage to the first one after it, so a failover's gap is measured in full even
    /// though it began a little before `from`. Replies end at the probe's end, and a gap
    /// still open there runs to it.
    pub fn gap_around(&self, from: Instant, to: Instant) -> Duration {
        let (from, to) = (self.since_start(from), self.since_start(to));
        let mut edges = Vec::with_capacity(self.replies.len() + 2);
        edges.push(Duration::ZERO);
        edges.extend(self.replies.iter().map(|r| r.received_at));
        edges.push(self.duration.max(edges.last().copied().unwrap_or_default()));
        edges.sort_unstable();
        edges
            .windows(2)
            .filter(|w| w[1] >= from && w[0] <= to)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default()
    }
}

impl std::fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "probe {:?}: sent {} received {} lost {}; longest gap {} ms ({:?}..{:?}); owners:",
            self.duration,
            self.sent,
            self.received,
            self.lost(),
            self.longest_gap_ms(),
            self.longest_gap_span.0,
            self.longest_gap_span.1,
        )?;
        if self.changes.is_empty() {
            write!(f, " none")?;
        }
        for c in &self.changes {
            write!(f, " node{}@{:?}", c.to, c.at)?;
        }
        Ok(())
    }
}

struct Samples {
    duration: Duration,
    sent: u64,
    send_errors: u64,
    replies: Vec<ProbeReply>,
}

impl Probe {
    /// Starts responders on `nodes` (pairs of node index and namespace) and the prober in
    /// `client_ns`.
    pub(crate) fn start(
        nodes: &[(usize, String)],
        client_ns: &str,
        vip: Ipv4Addr,
        port: u16,
        max: Duration,
    ) -> Result<Probe> {
        let stop = Arc::new(AtomicBool::new(false));
        let live = Arc::new(LiveCounters::default());
        let mut probe = Probe {
            stop: stop.clone(),
            live: live.clone(),
            prober: None,
            responders: Vec::new(),
            started_at: Instant::now(),
        };
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        for (node, ns) in nodes {
            let (node, stop, ready) = (*node, stop.clone(), ready_tx.clone());
            let h = netns::spawn_in(ns, format!("vrrpt-echo{node}"), move || {
                respond(node, port, &stop, &ready)
            })?;
            probe.responders.push(h);
        }
        for _ in nodes {
            ready_rx
                .recv_timeout(READY_TIMEOUT)
                .map_err(|_| anyhow!("probe responder did not start within {READY_TIMEOUT:?}"))??;
        }
        let (start_tx, start_rx) = mpsc::channel::<Result<Instant>>();
        let dst = SocketAddr::V4(SocketAddrV4::new(vip, port));
        let prober = netns::spawn_in(client_ns, "vrrpt-prober".into(), move || {
            send_loop(dst, max, &stop, &live, &start_tx)
        })?;
        probe.prober = Some(prober);
        probe.started_at = start_rx
            .recv_timeout(READY_TIMEOUT)
            .map_err(|_| anyhow!("prober did not start within {READY_TIMEOUT:?}"))??;
        Ok(probe)
    }

    /// When the first probe was sent (time zero of the report).
    pub fn started_at(&self) -> Instant {
        self.started_at
    }

    /// What the probe has seen so far, without stopping it: for a live display of who
    /// answers on the VIP and how long ago the last answer came.
    pub fn live(&self) -> ProbeLive {
        let node = self.live.last_node.load(Ordering::Acquire) as usize;
        let at = Duration::from_micros(self.live.last_at_us.load(Ordering::Acquire));
        ProbeLive {
            sent: self.live.sent.load(Ordering::Relaxed),
            received: self.live.received.load(Ordering::Relaxed),
            last_reply: (node != 0).then_some((node, at)),
            elapsed: self.started_at.elapsed(),
        }
    }

    /// Stops probing, waits for replies still in flight, and summarises.
    pub fn stop(mut self) -> Result<ProbeReport> {
        self.halt()
    }

    fn halt(&mut self) -> Result<ProbeReport> {
        self.stop.store(true, Ordering::Relaxed);
        let samples = match self.prober.take() {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(anyhow!("prober thread panicked"))),
            None => Err(anyhow!("probe already stopped")),
        };
        for h in self.responders.drain(..) {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("vrrp-tests: probe responder: {e:#}"),
                Err(_) => eprintln!("vrrp-tests: probe responder panicked"),
            }
        }
        Ok(ProbeReport::new(self.started_at, samples?))
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if self.prober.is_some() || !self.responders.is_empty() {
            let _ = self.halt();
        }
    }
}

/// Echo responder; runs inside a node namespace.
fn respond(
    node: usize,
    port: u16,
    stop: &AtomicBool,
    ready: &mpsc::Sender<Result<()>>,
) -> Result<()> {
    let bound = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port))
        .with_context(|| format!("node{node}: binding UDP port {port}"))
        .and_then(|s| {
            s.set_read_timeout(Some(RESPONDER_TICK))?;
            Ok(s)
        });
    let sock = match bound {
        Ok(s) => {
            let _ = ready.send(Ok(()));
            s
        }
        Err(e) => {
            let msg = format!("{e:#}");
            let _ = ready.send(Err(e));
            bail!(msg);
        }
    };
    let prefix = format!("node{node} ");
    let mut buf = [0u8; 256];
    let mut out = Vec::with_capacity(512);
    while !stop.load(Ordering::Relaxed) {
        match sock.recv_from(&mut buf) {
            Ok((n, src)) if buf[..n].starts_with(MAGIC) => {
                out.clear();
                out.extend_from_slice(prefix.as_bytes());
                out.extend_from_slice(&buf[..n]);
                // A lost reply is just a lost probe; the report shows it.
                let _ = sock.send_to(&out, src);
            }
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e).context("probe responder recv"),
        }
    }
    Ok(())
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Parses `nodeN <MAGIC><seq>` into (N, seq).
fn parse_reply(b: &[u8]) -> Option<(usize, u64)> {
    let sp = b.iter().position(|&c| c == b' ')?;
    let node = std::str::from_utf8(b[..sp].strip_prefix(b"node")?)
        .ok()?
        .parse()
        .ok()?;
    let rest = b[sp + 1..].strip_prefix(MAGIC.as_slice())?;
    let seq = u64::from_be_bytes(rest.try_into().ok()?);
    Some((node, seq))
}

/// Prober; runs inside the client namespace.
fn send_loop(
    dst: SocketAddr,
    max: Duration,
    stop: &AtomicBool,
    live: &LiveCounters,
    started: &mpsc::Sender<Result<Instant>>,
) -> Result<Samples> {
    let sock = match UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)) {
        Ok(s) => s,
        Err(e) => {
            let _ = started.send(Err(anyhow!("client: binding UDP socket: {e}")));
            return Err(e).context("client: binding UDP socket");
        }
    };
    sock.set_nonblocking(true)?;
    let start = Instant::now();
    let _ = started.send(Ok(start));
    let mut sent_at: Vec<Duration> = Vec::with_capacity(max.as_millis().min(200_000) as usize + 1);
    let mut replies = Vec::new();
    let mut send_errors = 0;
    let mut next = start;
    let mut end: Option<Instant> = None;
    let mut buf = [0u8; 256];
    loop {
        let now = Instant::now();
        match end {
            None if stop.load(Ordering::Relaxed) || now - start >= max => end = Some(now),
            Some(e) if now >= e + DRAIN => break,
            _ => {}
        }
        if end.is_none() && now >= next {
            let seq = sent_at.len() as u64;
            let mut pkt = [0u8; 16];
            pkt[..8].copy_from_slice(MAGIC);
            pkt[8..].copy_from_slice(&seq.to_be_bytes());
            if sock.send_to(&pkt, dst).is_err() {
                send_errors += 1;
            }
            sent_at.push(now - start);
            live.sent.store(sent_at.len() as u64, Ordering::Relaxed);
            next += INTERVAL;
            if next < now {
                // We were descheduled: resume the cadence instead of bursting to catch up.
                next = now + INTERVAL;
            }
        }
        let wake = match end {
            Some(e) => e + DRAIN,
            None => next,
        };
        // SO_RCVTIMEO is rounded to scheduler ticks (up to 10 ms); ppoll sleeps on a
        // high-resolution timer, which a 1 ms cadence needs.
        let wait = wake.saturating_duration_since(Instant::now());
        if !crate::vipwatch::poll_readable(sock.as_raw_fd(), wait)? {
            continue;
        }
        loop {
            match sock.recv_from(&mut buf) {
                Ok((n, _)) => {
                    let received_at = start.elapsed();
                    if let Some((node, seq)) = parse_reply(&buf[..n])
                        && let Some(&sent) = sent_at.get(seq as usize)
                    {
                        replies.push(ProbeReply {
                            seq,
                            sent_at: sent,
                            received_at,
                            node,
                        });
                        live.received.store(replies.len() as u64, Ordering::Relaxed);
                        live.last_at_us
                            .store(received_at.as_micros() as u64, Ordering::Release);
                        live.last_node.store(node as u64, Ordering::Release);
                    }
                }
                Err(e) if is_timeout(&e) => break,
                // ICMP errors surfacing on the socket are just unanswered probes.
                Err(_) => {}
            }
        }
    }
    Ok(Samples {
        duration: end.map_or(max, |e| e - start),
        sent: sent_at.len() as u64,
        send_errors,
        replies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(ms: u64, node: usize) -> ProbeReply {
        ProbeReply {
            seq: ms,
            sent_at: Duration::from_millis(ms),
            received_at: Duration::from_millis(ms),
            node,
        }
    }

    #[test]
    fn report_changes_gaps_and_owner() {
        let s = Samples {
            duration: Duration::from_millis(100),
            sent: 100,
            send_errors: 0,
            replies: vec![
                reply(1, 2),
                reply(2, 2),
                reply(3, 2),
                reply(40, 1),
                reply(99, 1),
            ],
        };
        let r = ProbeReport::new(Instant::now(), s);
        assert_eq!(r.changes.len(), 2);
        assert_eq!(r.changes[1].from, Some(2));
        assert_eq!(r.changes[1].to, 1);
        assert_eq!(r.longest_gap, Duration::from_millis(59));
        assert_eq!(
            r.longest_gap_span,
            (Duration::from_millis(40), Duration::from_millis(99))
        );
        assert_eq!(r.owner_at(Duration::ZERO), None);
        assert_eq!(r.owner_at(Duration::from_millis(39)), Some(2));
        assert_eq!(r.owner_at(Duration::from_millis(40)), Some(1));
        assert_eq!(r.nodes_seen(), vec![2, 1]);
        assert_eq!(r.lost(), 95);
    }

    #[test]
    fn settled_owners_ignore_a_flap_at_a_preemption_but_keep_real_moves() {
        // 1, then 2 for 100 ms, then 1 / 2 / 1 within a millisecond (both answering while
        // the old master lets go), then 1 for good.
        let replies = vec![
            reply(1, 1),
            reply(10, 2),
            reply(110, 1),
            reply(110, 2),
            reply(111, 1),
            reply(200, 1),
        ];
        let s = Samples {
            duration: Duration::from_millis(200),
            sent: 200,
            send_errors: 0,
            replies,
        };
        let r = ProbeReport::new(Instant::now(), s);
        let raw: Vec<usize> = r.changes.iter().map(|c| c.to).collect();
        assert_eq!(raw, [1, 2, 1, 2, 1]);
        assert_eq!(r.settled_owners(Duration::from_millis(5)), [1, 2, 1]);
        // A real stay is never dropped.
        assert_eq!(r.settled_owners(Duration::ZERO), [1, 2, 1, 2, 1]);
    }

    #[test]
    fn gap_around_a_window() {
        let s = Samples {
            duration: Duration::from_millis(100),
            sent: 100,
            send_errors: 0,
            replies: vec![
                reply(1, 1),
                reply(2, 1),
                reply(40, 2),
                reply(41, 2),
                reply(99, 2),
            ],
        };
        let t0 = Instant::now();
        let r = ProbeReport::new(t0, s);
        let at = |ms| t0 + Duration::from_millis(ms);
        // The outage 2..40 overlaps a window starting at 10.
        assert_eq!(r.gap_around(at(10), at(20)), Duration::from_millis(38));
        // 41..99 is longer but outside 0..30.
        assert_eq!(r.gap_around(at(0), at(30)), Duration::from_millis(38));
        assert_eq!(r.gap_around(at(50), at(60)), Duration::from_millis(58));
    }

    #[test]
    fn report_without_replies_is_one_gap() {
        let s = Samples {
            duration: Duration::from_millis(50),
            sent: 50,
            send_errors: 0,
            replies: vec![],
        };
        let r = ProbeReport::new(Instant::now(), s);
        assert_eq!(r.longest_gap, Duration::from_millis(50));
        assert!(r.changes.is_empty());
    }

    #[test]
    fn parses_replies() {
        let mut b = b"node12 ".to_vec();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&7u64.to_be_bytes());
        assert_eq!(parse_reply(&b), Some((12, 7)));
        assert_eq!(parse_reply(b"node1 junk"), None);
    }
}
