//! Who holds a virtual address, to the microsecond: one thread per node listens to the
//! kernel's address notifications (rtnetlink groups `RTMGRP_IPV4_IFADDR` and
//! `RTMGRP_IPV6_IFADDR`) inside the node's namespace and timestamps every appearance and
//! disappearance of the address.
//!
//! Unlike polling [`crate::Lab::vip_holders`] (two `ip` processes per sample, a few ms
//! each), nothing is missed however briefly the address was there: a backup that holds
//! the VIP for 1 ms shows up. Fault tests use it to measure takeover times and the windows
//! in which two nodes hold the VIP at once ([`VipTimeline::multi_holder_windows`]).

use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::netns;

/// How often watcher threads look at their stop flag.
const TICK: Duration = Duration::from_millis(20);
/// How long to wait for every watcher's initial dump.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

const NLMSG_HDRLEN: usize = 16;
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_GETADDR: u16 = 22;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTMGRP_IPV6_IFADDR: u32 = 0x100;
/// Sequence number of our dump request.
const DUMP_SEQ: u32 = 1;

/// The address appeared on (`held`) or disappeared from a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VipEvent {
    /// When the notification was read, relative to [`VipTimeline::started_at`].
    pub at: Duration,
    /// Node (1-based).
    pub node: usize,
    /// Whether the node holds the address from `at` on.
    pub held: bool,
}

/// Everything a [`VipWatch`] saw: who held the address when the watch started, and each
/// change after that.
#[derive(Clone, Debug)]
pub struct VipTimeline {
    /// Time zero of the timeline.
    pub started_at: Instant,
    /// Where the timeline ends (when it was taken), relative to `started_at`.
    pub end: Duration,
    /// Whether each node (index 0 is node1) held the address at time zero.
    pub initial: Vec<bool>,
    /// Changes, in the order they were read (only real changes: a notification that
    /// does not change whether a node holds the address is not an event).
    pub events: Vec<VipEvent>,
}

impl VipTimeline {
    /// Converts an instant the test recorded to the timeline's time base (zero if earlier).
    pub fn since_start(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.started_at)
    }

    /// Nodes (ascending) holding the address at `t` (changes at exactly `t` included).
    pub fn holders_at(&self, t: Duration) -> Vec<usize> {
        let mut held = self.initial.clone();
        for e in self.events.iter().take_while(|e| e.at <= t) {
            held[e.node - 1] = e.held;
        }
        indices(&held)
    }

    /// The intervals during which `node` held the address; one still held at the end
    /// runs to [`VipTimeline::end`].
    pub fn held_intervals(&self, node: usize) -> Vec<(Duration, Duration)> {
        let mut out = Vec::new();
        let mut since = self
            .initial
            .get(node - 1)
            .copied()
            .unwrap_or(false)
            .then_some(Duration::ZERO);
        for e in self.events.iter().filter(|e| e.node == node) {
            match (e.held, since) {
                (true, None) => since = Some(e.at),
                (false, Some(s)) => {
                    out.push((s, e.at));
                    since = None;
                }
                _ => {}
            }
        }
        if let Some(s) = since {
            out.push((s, self.end.max(s)));
        }
        out
    }

    /// When `node` acquired the address (each time), from the events.
    pub fn acquisitions(&self, node: usize) -> Vec<Duration> {
        self.events
            .iter()
            .filter(|e| e.node == node && e.held)
            .map(|e| e.at)
            .collect()
    }

    /// Whether `node` held the address at any moment of `[from, to]`.
    pub fn held_during(&self, node: usize, from: Duration, to: Duration) -> bool {
        self.held_intervals(node)
            .iter()
            .any(|&(s, e)| s <= to && e >= from)
    }

    /// The first time at or after `after` when exactly `nodes` hold the address.
    pub fn first_time_holders(&self, after: Duration, nodes: &[usize]) -> Option<Duration> {
        if self.holders_at(after) == nodes {
            return Some(after);
        }
        self.events
            .iter()
            .filter(|e| e.at > after)
            .map(|e| e.at)
            .find(|&t| self.holders_at(t) == nodes)
    }

    /// The windows within `[from, to]` during which two or more nodes held the address.
    pub fn multi_holder_windows(&self, from: Duration, to: Duration) -> Vec<(Duration, Duration)> {
        let mut held = self.initial.clone();
        let mut out = Vec::new();
        let mut open: Option<Duration> = (count(&held) >= 2).then_some(Duration::ZERO);
        for e in &self.events {
            held[e.node - 1] = e.held;
            match (count(&held) >= 2, open) {
                (true, None) => open = Some(e.at),
                (false, Some(s)) => {
                    out.push((s, e.at));
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(s) = open {
            out.push((s, self.end.max(s)));
        }
        out.into_iter()
            .filter_map(|(s, e)| {
                let (s, e) = (s.max(from), e.min(to));
                (s < e).then_some((s, e))
            })
            .collect()
    }

    /// The longest of [`VipTimeline::multi_holder_windows`] (zero if none).
    pub fn longest_multi_holder(&self, from: Duration, to: Duration) -> Duration {
        self.multi_holder_windows(from, to)
            .iter()
            .map(|&(s, e)| e - s)
            .max()
            .unwrap_or_default()
    }

    /// The sum of [`VipTimeline::multi_holder_windows`].
    pub fn total_multi_holder(&self, from: Duration, to: Duration) -> Duration {
        self.multi_holder_windows(from, to)
            .iter()
            .map(|&(s, e)| e - s)
            .sum()
    }
}

impl std::fmt::Display for VipTimeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VIP holders at 0: {:?};", indices(&self.initial))?;
        for e in &self.events {
            let sign = if e.held { '+' } else { '-' };
            write!(f, " {sign}node{}@{:.1}ms", e.node, e.at.as_secs_f64() * 1e3)?;
        }
        write!(f, " (until {:.1}ms)", self.end.as_secs_f64() * 1e3)
    }
}

fn indices(held: &[bool]) -> Vec<usize> {
    held.iter()
        .enumerate()
        .filter(|(_, h)| **h)
        .map(|(i, _)| i + 1)
        .collect()
}

fn count(held: &[bool]) -> usize {
    held.iter().filter(|h| **h).count()
}

struct State {
    held: Vec<bool>,
    initial: Vec<bool>,
    events: Vec<VipEvent>,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// A running watch on one address across a lab's nodes (started by
/// [`crate::Lab::watch_vip`]). Stops when stopped or dropped, or when the lab goes away.
pub struct VipWatch {
    stop: Arc<AtomicBool>,
    shared: Shared,
    threads: Vec<JoinHandle<Result<()>>>,
    started_at: Instant,
}

impl VipWatch {
    /// Starts one watcher thread per `(node, namespace)` and waits until each has read
    /// the node's current addresses.
    pub(crate) fn start(nodes: &[(usize, String)], vip: IpAddr) -> Result<VipWatch> {
        let n = nodes.iter().map(|(i, _)| *i).max().unwrap_or(0);
        let shared: Shared = Arc::new((
            Mutex::new(State {
                held: vec![false; n],
                initial: vec![false; n],
                events: Vec::new(),
            }),
            Condvar::new(),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let started_at = Instant::now();
        let mut watch = VipWatch {
            stop: stop.clone(),
            shared: shared.clone(),
            threads: Vec::new(),
            started_at,
        };
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        for (node, ns) in nodes {
            let (node, stop, shared, ready) =
                (*node, stop.clone(), shared.clone(), ready_tx.clone());
            let h = netns::spawn_in(ns, format!("vrrpt-vip{node}"), move || {
                watch_node(node, vip, started_at, &stop, &shared, &ready)
            })?;
            watch.threads.push(h);
        }
        for _ in nodes {
            ready_rx
                .recv_timeout(READY_TIMEOUT)
                .map_err(|_| anyhow!("VIP watcher did not start within {READY_TIMEOUT:?}"))??;
        }
        Ok(watch)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Time zero of the timeline.
    pub fn started_at(&self) -> Instant {
        self.started_at
    }

    /// Nodes holding the address now (as far as the notifications read so far say).
    pub fn holders(&self) -> Vec<usize> {
        indices(&self.state().held)
    }

    /// Waits until `cond(holders)` holds, for at most `timeout`, and returns the instant of
    /// the notification that made it true (or now, if it already held): that is when it
    /// happened, not when this thread woke up.
    pub fn wait(&self, timeout: Duration, cond: impl Fn(&[usize]) -> bool) -> Result<Instant> {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.shared;
        let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
        if cond(&indices(&st.held)) {
            return Ok(Instant::now());
        }
        let mut seen = st.events.len();
        loop {
            // Replay events one by one: a condition that held only briefly between two
            // wake-ups still counts.
            let mut held = st.held.clone();
            for e in st.events[seen..].iter().rev() {
                held[e.node - 1] = !e.held;
            }
            for e in &st.events[seen..] {
                held[e.node - 1] = e.held;
                if cond(&indices(&held)) {
                    return Ok(self.started_at + e.at);
                }
            }
            seen = st.events.len();
            let now = Instant::now();
            if now >= deadline {
                bail!(
                    "VIP holders {:?} did not meet the condition within {timeout:?}",
                    indices(&st.held)
                );
            }
            st = cvar
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The timeline so far, without stopping.
    pub fn snapshot(&self) -> VipTimeline {
        let end = self.started_at.elapsed();
        let st = self.state();
        VipTimeline {
            started_at: self.started_at,
            end,
            initial: st.initial.clone(),
            events: st.events.clone(),
        }
    }

    /// Stops the watchers and returns the timeline.
    pub fn stop(mut self) -> Result<VipTimeline> {
        self.halt()
    }

    fn halt(&mut self) -> Result<VipTimeline> {
        let timeline = self.snapshot();
        self.stop.store(true, Ordering::Relaxed);
        let mut first_err = None;
        for h in self.threads.drain(..) {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(anyhow!("VIP watcher panicked")));
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(timeline),
        }
    }
}

impl Drop for VipWatch {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            let _ = self.halt();
        }
    }
}

/// The watcher of one node; runs inside the node's namespace.
fn watch_node(
    node: usize,
    vip: IpAddr,
    t0: Instant,
    stop: &AtomicBool,
    shared: &Shared,
    ready: &mpsc::Sender<Result<()>>,
) -> Result<()> {
    let sock = match open_and_dump() {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("node{node}: {e:#}");
            let _ = ready.send(Err(e));
            bail!(msg);
        }
    };
    let mut dumping = true;
    let mut buf = vec![0u8; 1 << 16];
    while !stop.load(Ordering::Relaxed) {
        if !poll_readable(sock.as_raw_fd(), TICK)? {
            continue;
        }
        // SAFETY: valid fd and buffer.
        let n = unsafe {
            libc::recv(
                sock.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        let at = t0.elapsed();
        if n < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => continue,
                // The namespace is being torn down, or we overflowed: either way our view
                // is no longer complete, which the test must hear about.
                _ => {
                    if dumping {
                        let _ = ready.send(Err(anyhow!("node{node}: netlink recv: {e}")));
                    }
                    return Err(e).with_context(|| format!("node{node}: netlink recv"));
                }
            }
        }
        for msg in messages(&buf[..n as usize]) {
            match msg {
                Msg::Done if dumping => {
                    dumping = false;
                    let _ = ready.send(Ok(()));
                }
                Msg::Error(errno) if dumping => {
                    let _ = ready.send(Err(anyhow!(
                        "node{node}: address dump failed: errno {errno}"
                    )));
                    bail!("node{node}: address dump failed: errno {errno}");
                }
                Msg::Addr { new, addr } if addr == vip => {
                    let (lock, cvar) = &**shared;
                    let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
                    if dumping {
                        st.initial[node - 1] = new;
                        st.held[node - 1] = new;
                    } else if st.held[node - 1] != new {
                        st.held[node - 1] = new;
                        st.events.push(VipEvent {
                            at,
                            node,
                            held: new,
                        });
                        cvar.notify_all();
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// A NETLINK_ROUTE socket subscribed to address changes, with a dump of the current
/// addresses requested (the replies and the notifications arrive on the same socket, in
/// order).
fn open_and_dump() -> Result<OwnedFd> {
    // SAFETY: plain syscall; the fd is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("netlink socket");
    }
    // SAFETY: fd is a fresh descriptor we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let rcvbuf: libc::c_int = 4 << 20;
    // SAFETY: valid fd, option value of the right size. Failure only means the default size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&rcvbuf as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    // SAFETY: zeroed sockaddr_nl is valid; we fill the fields we need.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    sa.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
    // SAFETY: valid fd and address of the right size.
    let rc = unsafe {
        libc::bind(
            fd,
            (&sa as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("binding netlink socket");
    }
    // nlmsghdr + ifaddrmsg (family AF_UNSPEC: both IPv4 and IPv6).
    let mut req = [0u8; NLMSG_HDRLEN + 8];
    let len = req.len() as u32;
    req[0..4].copy_from_slice(&len.to_ne_bytes());
    req[4..6].copy_from_slice(&RTM_GETADDR.to_ne_bytes());
    req[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req[8..12].copy_from_slice(&DUMP_SEQ.to_ne_bytes());
    // SAFETY: zeroed sockaddr_nl addresses the kernel.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: valid fd, buffer and address.
    let n = unsafe {
        libc::sendto(
            fd,
            req.as_ptr().cast(),
            req.len(),
            0,
            (&kernel as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error()).context("requesting the address dump");
    }
    Ok(sock)
}

/// Waits up to `timeout` for `fd` to become readable (ppoll: sub-ms precision).
pub(crate) fn poll_readable(fd: libc::c_int, timeout: Duration) -> Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: one valid pollfd, a valid timespec, no signal mask.
    let rc = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e).context("ppoll");
    }
    Ok(rc > 0)
}

#[derive(Debug, PartialEq, Eq)]
enum Msg {
    Done,
    Error(i32),
    Addr { new: bool, addr: IpAddr },
    Other,
}

/// Splits a netlink datagram into the messages we care about.
fn messages(mut b: &[u8]) -> Vec<Msg> {
    let mut out = Vec::new();
    while b.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if len < NLMSG_HDRLEN || len > b.len() {
            break;
        }
        let ty = u16::from_ne_bytes([b[4], b[5]]);
        let body = &b[NLMSG_HDRLEN..len];
        out.push(match ty {
            NLMSG_DONE => Msg::Done,
            NLMSG_ERROR => {
                let errno = body
                    .get(..4)
                    .map_or(0, |e| i32::from_ne_bytes([e[0], e[1], e[2], e[3]]));
                if errno == 0 {
                    Msg::Other
                } else {
                    Msg::Error(-errno)
                }
            }
            RTM_NEWADDR | RTM_DELADDR => match addr_of(body) {
                Some(addr) => Msg::Addr {
                    new: ty == RTM_NEWADDR,
                    addr,
                },
                None => Msg::Other,
            },
            _ => Msg::Other,
        });
        let aligned = (len + 3) & !3;
        b = &b[aligned.min(b.len())..];
    }
    out
}

/// The address of an `ifaddrmsg` body: IFA_LOCAL if present (IPv4), else IFA_ADDRESS.
fn addr_of(body: &[u8]) -> Option<IpAddr> {
    let family = *body.first()?;
    let mut attrs = body.get(8..)?;
    let mut local = None;
    let mut address = None;
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let ty = u16::from_ne_bytes([attrs[2], attrs[3]]);
        if len < 4 || len > attrs.len() {
            break;
        }
        let data = &attrs[4..len];
        let ip = match (i32::from(family), data.len()) {
            (libc::AF_INET, 4) => Some(IpAddr::from(<[u8; 4]>::try_from(data).ok()?)),
            (libc::AF_INET6, 16) => Some(IpAddr::from(<[u8; 16]>::try_from(data).ok()?)),
            _ => None,
        };
        match ty {
            IFA_LOCAL => local = ip,
            IFA_ADDRESS => address = ip,
            _ => {}
        }
        let aligned = (len + 3) & !3;
        attrs = &attrs[aligned.min(attrs.len())..];
    }
    local.or(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tl(initial: &[bool], events: &[(u64, usize, bool)], end: u64) -> VipTimeline {
        VipTimeline {
            started_at: Instant::now(),
            end: Duration::from_millis(end),
            initial: initial.to_vec(),
            events: events
                .iter()
                .map(|&(ms, node, held)| VipEvent {
                    at: Duration::from_millis(ms),
                    node,
                    held,
                })
                .collect(),
        }
    }

    #[test]
    fn timeline_windows() {
        let ms = Duration::from_millis;
        // node1 holds; node2 takes it at 100, node1 drops at 130; node2 drops at 500,
        // node1 back at 480.
        let t = tl(
            &[true, false],
            &[
                (100, 2, true),
                (130, 1, false),
                (480, 1, true),
                (500, 2, false),
            ],
            1000,
        );
        assert_eq!(t.holders_at(ms(0)), [1]);
        assert_eq!(t.holders_at(ms(110)), [1, 2]);
        assert_eq!(t.holders_at(ms(200)), [2]);
        assert_eq!(
            t.multi_holder_windows(ms(0), ms(1000)),
            [(ms(100), ms(130)), (ms(480), ms(500))]
        );
        assert_eq!(t.longest_multi_holder(ms(0), ms(1000)), ms(30));
        assert_eq!(t.total_multi_holder(ms(200), ms(1000)), ms(20));
        assert_eq!(t.longest_multi_holder(ms(120), ms(490)), ms(10));
        assert_eq!(t.held_intervals(1), [(ms(0), ms(130)), (ms(480), ms(1000))]);
        assert_eq!(t.acquisitions(2), [ms(100)]);
        assert!(t.held_during(2, ms(0), ms(100)));
        assert!(!t.held_during(2, ms(501), ms(1000)));
        assert_eq!(t.first_time_holders(ms(0), &[2]), Some(ms(130)));
        assert_eq!(t.first_time_holders(ms(140), &[1]), Some(ms(500)));
    }

    #[test]
    fn parses_address_notifications() {
        // RTM_NEWADDR for 10.0.0.100/32 on ifindex 2: ifaddrmsg + IFA_ADDRESS + IFA_LOCAL.
        let mut m = Vec::new();
        let body_len = 8 + 8 + 8;
        m.extend_from_slice(&((NLMSG_HDRLEN + body_len) as u32).to_ne_bytes());
        m.extend_from_slice(&RTM_NEWADDR.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&[libc::AF_INET as u8, 32, 0, 0, 2, 0, 0, 0]);
        for ty in [IFA_ADDRESS, IFA_LOCAL] {
            m.extend_from_slice(&8u16.to_ne_bytes());
            m.extend_from_slice(&ty.to_ne_bytes());
            m.extend_from_slice(&[10, 0, 0, 100]);
        }
        let mut done = Vec::new();
        done.extend_from_slice(&20u32.to_ne_bytes());
        done.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        done.extend_from_slice(&[0; 14]);
        m.extend_from_slice(&done);
        assert_eq!(
            messages(&m),
            [
                Msg::Addr {
                    new: true,
                    addr: "10.0.0.100".parse().unwrap()
                },
                Msg::Done
            ]
        );
    }
}
