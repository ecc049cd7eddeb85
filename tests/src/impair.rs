//! A user-space `netem` for one lab link: loss, delay with jitter, and dropping VRRP or
//! everything, per direction, changeable while it runs.
//!
//! The kernels this project runs on (CI's included) are built without `sch_netem` and
//! without the `gact` action, so `tc qdisc ... netem` and `tc filter ... action drop` are
//! not available. Instead [`crate::Lab::impair_link`] takes the host's bridge port `nN`
//! out of the bridge and puts a relay in between: two threads in the switch namespace
//! copy frames between `nN` and a new veth pair `nNx`/`nNy` (`nNy` is the bridge port now)
//! through AF_PACKET sockets, dropping or holding each frame as the current [`Impairment`]
//! says. Held frames leave in order of their release time, so jitter reorders as netem's
//! does.
//!
//! Frames that the sending namespace left with a partial checksum (veth offload: the
//! UDP/TCP checksum is completed by whoever finally needs it) are completed here, since
//! re-injecting them would otherwise deliver a bad checksum.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::netns;
use crate::vipwatch::poll_readable;

/// How often relay threads look at their stop flag when idle.
const TICK: Duration = Duration::from_millis(20);
const ETH_P_ALL: u16 = 0x0003;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const IPPROTO_VRRP: u8 = 112;
const SOL_PACKET: libc::c_int = 263;
const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
const PACKET_AUXDATA: libc::c_int = 8;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const PACKET_MR_PROMISC: libc::c_ushort = 1;
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;

/// What happens to the frames of one direction of an impaired link. The default passes
/// everything at once.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Impairment {
    /// Probability (0..=1) that a frame is dropped.
    pub loss: f64,
    /// Fixed delay added to each frame.
    pub delay: Duration,
    /// Each frame's delay is `delay` ± up to `jitter` (uniform; never below zero), like
    /// netem's `delay D J`.
    pub jitter: Duration,
    /// Drop every VRRP packet (IP protocol 112, IPv4 or IPv6).
    pub drop_vrrp: bool,
    /// Drop the VRRP packets of this virtual router only (one member of a sync group
    /// going silent while the others are still heard).
    pub drop_vrid: Option<u8>,
    /// Drop everything: the link is cut, but unlike [`crate::Lab::set_link`] the carrier
    /// stays up.
    pub drop_all: bool,
}

impl Impairment {
    /// `loss` (0..=1) random loss.
    pub fn loss(loss: f64) -> Self {
        Self {
            loss,
            ..Self::default()
        }
    }

    /// The same with netem-style `delay D J` added.
    pub fn with_delay(mut self, delay: Duration, jitter: Duration) -> Self {
        self.delay = delay;
        self.jitter = jitter;
        self
    }
}

/// Which way frames travel on the link of a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Sent by the host, towards the bridge.
    FromHost,
    /// Delivered to the host, from the bridge.
    ToHost,
    /// Both.
    Both,
}

/// Frames counted by one direction of a relay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Passed on (possibly delayed).
    pub passed: u64,
    /// Dropped by the loss probability.
    pub lost: u64,
    /// Dropped by `drop_vrrp` / `drop_vrid` / `drop_all`.
    pub filtered: u64,
    /// Failed to send (e.g. too big); normally 0.
    pub send_errors: u64,
}

#[derive(Default)]
struct Counters {
    passed: AtomicU64,
    lost: AtomicU64,
    filtered: AtomicU64,
    send_errors: AtomicU64,
}

impl Counters {
    fn get(&self) -> RelayStats {
        RelayStats {
            passed: self.passed.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            filtered: self.filtered.load(Ordering::Relaxed),
            send_errors: self.send_errors.load(Ordering::Relaxed),
        }
    }
}

struct Side {
    settings: Mutex<Impairment>,
    counters: Counters,
}

/// A host's link running through a relay (see the module docs); made by
/// [`crate::Lab::impair_link`]. Starts as a plain pass-through. Dropping it (or
/// [`ImpairedLink::restore`]) stops the relay and plugs the host's port back into the
/// bridge; the lab's teardown removes whatever is left.
pub struct ImpairedLink {
    host: String,
    switch_ns: String,
    port: String,
    relay_end: String,
    stop: Arc<AtomicBool>,
    from_host: Arc<Side>,
    to_host: Arc<Side>,
    threads: Vec<JoinHandle<Result<()>>>,
}

impl ImpairedLink {
    pub(crate) fn start(host: String, switch_ns: &str, port: &str) -> Result<ImpairedLink> {
        let relay_end = format!("{port}x");
        let bridge_end = format!("{port}y");
        let ip = |args: &[&str]| -> Result<String> {
            let mut full = vec!["-n", switch_ns];
            full.extend_from_slice(args);
            netns::ip(&full)
        };
        ip(&[
            "link",
            "add",
            &relay_end,
            "type",
            "veth",
            "peer",
            "name",
            &bridge_end,
        ])?;
        let mut link = ImpairedLink {
            host,
            switch_ns: switch_ns.to_owned(),
            port: port.to_owned(),
            relay_end: relay_end.clone(),
            stop: Arc::new(AtomicBool::new(false)),
            from_host: Arc::new(Side {
                settings: Mutex::new(Impairment::default()),
                counters: Counters::default(),
            }),
            to_host: Arc::new(Side {
                settings: Mutex::new(Impairment::default()),
                counters: Counters::default(),
            }),
            threads: Vec::new(),
        };
        // From here on Drop undoes what was done.
        let mut sysctl = netns::command(
            switch_ns,
            "sysctl",
            netns::SpawnOpts {
                die_with_parent: true,
            },
        )?;
        // The relayed port is no bridge port any more: keep its own stack quiet.
        sysctl.args(["-q", "-e", "-w"]);
        for dev in [port, &relay_end, &bridge_end] {
            sysctl.arg(format!("net.ipv6.conf.{dev}.disable_ipv6=1"));
        }
        crate::cmd::run_ok(sysctl, Duration::from_secs(10))?;
        ip(&["link", "set", &relay_end, "up"])?;
        ip(&["link", "set", &bridge_end, "up"])?;
        ip(&["link", "set", port, "nomaster"])?;
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        for (from, to, side, name) in [
            (
                port.to_owned(),
                relay_end.clone(),
                link.from_host.clone(),
                "up",
            ),
            (
                relay_end.clone(),
                port.to_owned(),
                link.to_host.clone(),
                "down",
            ),
        ] {
            let (stop, ready) = (link.stop.clone(), ready_tx.clone());
            let h = netns::spawn_in(switch_ns, format!("vrrpt-relay-{name}"), move || {
                relay(&from, &to, &side, &stop, &ready)
            })?;
            link.threads.push(h);
        }
        for _ in 0..2 {
            ready_rx
                .recv_timeout(Duration::from_secs(5))
                .map_err(|_| anyhow!("link relay did not start"))??;
        }
        ip(&["link", "set", &bridge_end, "master", "br0"])?;
        Ok(link)
    }

    fn sides(&self, dir: Direction) -> Vec<&Side> {
        match dir {
            Direction::FromHost => vec![&self.from_host],
            Direction::ToHost => vec![&self.to_host],
            Direction::Both => vec![&self.from_host, &self.to_host],
        }
    }

    /// Applies `imp` to the frames going `dir` from now on (frames already held keep
    /// their release time).
    pub fn set(&self, dir: Direction, imp: Impairment) {
        for side in self.sides(dir) {
            *side.settings.lock().unwrap_or_else(|e| e.into_inner()) = imp;
        }
    }

    /// Back to a plain pass-through, both ways.
    pub fn clear(&self) {
        self.set(Direction::Both, Impairment::default());
    }

    /// Frames counted so far going `dir` (for `Both`, the sum).
    pub fn stats(&self, dir: Direction) -> RelayStats {
        self.sides(dir)
            .iter()
            .map(|s| s.counters.get())
            .fold(RelayStats::default(), |a, b| RelayStats {
                passed: a.passed + b.passed,
                lost: a.lost + b.lost,
                filtered: a.filtered + b.filtered,
                send_errors: a.send_errors + b.send_errors,
            })
    }

    /// Stops the relay and plugs the host's port back into the bridge.
    pub fn restore(mut self) -> Result<()> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<()> {
        if self.threads.is_empty() {
            return Ok(());
        }
        self.stop.store(true, Ordering::Relaxed);
        let mut first_err = None;
        for h in self.threads.drain(..) {
            if let Err(e) = h
                .join()
                .unwrap_or_else(|_| Err(anyhow!("relay thread panicked")))
            {
                first_err.get_or_insert(e);
            }
        }
        if netns::exists(&self.switch_ns) {
            let ns = self.switch_ns.clone();
            let ip = |args: &[&str]| -> Result<String> {
                let mut full = vec!["-n", ns.as_str()];
                full.extend_from_slice(args);
                netns::ip(&full)
            };
            ip(&["link", "del", &self.relay_end])
                .with_context(|| format!("{}: removing the relay", self.host))?;
            ip(&["link", "set", &self.port, "master", "br0"])
                .with_context(|| format!("{}: back into the bridge", self.host))?;
        }
        match first_err {
            Some(e) => Err(e).with_context(|| format!("{}: link relay", self.host)),
            None => Ok(()),
        }
    }
}

impl Drop for ImpairedLink {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("vrrp-tests: {e:#}");
        }
    }
}

/// An AF_PACKET socket on `ifname`: receiving every frame that arrives (not those sent)
/// if `rx`, else send-only.
fn packet_socket(ifname: &str, rx: bool) -> Result<OwnedFd> {
    let cname = CString::new(ifname)?;
    // SAFETY: valid C string.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("no interface {ifname}"));
    }
    // Protocol 0 receives nothing until bound: no frames of other interfaces sneak in.
    // SAFETY: plain syscall; the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("AF_PACKET socket");
    }
    // SAFETY: fresh fd we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let setopt = |level: libc::c_int, name: libc::c_int, val: &[u8]| -> Result<()> {
        // SAFETY: valid fd and option buffer.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                val.as_ptr().cast(),
                val.len() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("setsockopt({level}, {name}) on {ifname}"));
        }
        Ok(())
    };
    if rx {
        let one = 1i32.to_ne_bytes();
        setopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, &one)?;
        setopt(SOL_PACKET, PACKET_AUXDATA, &one)?;
        let buf = (4i32 << 20).to_ne_bytes();
        setopt(libc::SOL_SOCKET, libc::SO_RCVBUF, &buf)?;
        // struct packet_mreq { int ifindex; u16 type; u16 alen; u8 address[8]; }
        let mut mreq = [0u8; 16];
        mreq[..4].copy_from_slice(&(ifindex as i32).to_ne_bytes());
        mreq[4..6].copy_from_slice(&PACKET_MR_PROMISC.to_ne_bytes());
        setopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq)?;
    }
    // SAFETY: zeroed sockaddr_ll is valid; we fill the fields we need.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as libc::c_ushort;
    sll.sll_protocol = if rx { ETH_P_ALL.to_be() } else { 0 };
    sll.sll_ifindex = ifindex as libc::c_int;
    // SAFETY: valid fd and address of the right size.
    let rc = unsafe {
        libc::bind(
            fd,
            (&sll as *const libc::sockaddr_ll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("binding to {ifname}"));
    }
    Ok(sock)
}

/// Receives one frame without blocking; `None` when there is none. The flag says the
/// kernel left its L4 checksum incomplete.
fn recv_frame(fd: libc::c_int, buf: &mut [u8]) -> Result<Option<(usize, bool)>> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut cbuf = [0u64; 16];
    // SAFETY: zeroed msghdr is valid; we point it at our buffers.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&cbuf) as _;
    // SAFETY: valid fd and msghdr.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT | libc::MSG_TRUNC) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
            _ => Err(e).context("recvmsg"),
        };
    }
    let n = n as usize;
    let mut csum_not_ready = false;
    // SAFETY: walking the control messages the kernel wrote into our buffer.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == SOL_PACKET && (*c).cmsg_type == PACKET_AUXDATA {
                let aux = libc::CMSG_DATA(c)
                    .cast::<libc::tpacket_auxdata>()
                    .read_unaligned();
                csum_not_ready = aux.tp_status & TP_STATUS_CSUMNOTREADY != 0;
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    if n > buf.len() {
        // Truncated (bigger than our buffer): pass what fits rather than stall.
        return Ok(Some((buf.len(), csum_not_ready)));
    }
    Ok(Some((n, csum_not_ready)))
}

fn send_frame(fd: libc::c_int, frame: &[u8]) -> bool {
    // SAFETY: valid fd and buffer; the socket is bound to its interface.
    let n = unsafe { libc::send(fd, frame.as_ptr().cast(), frame.len(), 0) };
    n == frame.len() as isize
}

/// Whether `frame` is a VRRP packet (IPv4 or IPv6, no extension headers).
fn is_vrrp(frame: &[u8]) -> bool {
    match ethertype(frame) {
        Some(ETH_P_IP) => frame.get(14 + 9) == Some(&IPPROTO_VRRP),
        Some(ETH_P_IPV6) => frame.get(14 + 6) == Some(&IPPROTO_VRRP),
        _ => false,
    }
}

/// The virtual router id of a VRRP frame (the byte after version/type, behind an IPv4
/// header of any length or a plain IPv6 header).
fn vrid_of(frame: &[u8]) -> Option<u8> {
    if !is_vrrp(frame) {
        return None;
    }
    let vrrp = match ethertype(frame)? {
        ETH_P_IP => 14 + usize::from(frame.get(14)? & 0x0f) * 4,
        _ => 14 + 40,
    };
    frame.get(vrrp + 1).copied()
}

fn ethertype(frame: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]))
}

/// Completes the UDP or TCP checksum of an IPv4/IPv6 frame whose checksum the sender
/// left to the hardware (only the pseudo-header sum is there).
fn complete_checksum(frame: &mut [u8]) {
    let (l4, proto, pseudo) = match ethertype(frame) {
        Some(ETH_P_IP) if frame.len() >= 34 => {
            let ihl = usize::from(frame[14] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
            let l4 = 14 + ihl;
            let end = (14 + total).min(frame.len());
            if l4 >= end {
                return;
            }
            let proto = frame[23];
            let mut sum = sum16(&frame[26..34]); // source and destination
            sum += u32::from(proto) + (end - l4) as u32;
            ((l4, end), proto, sum)
        }
        Some(ETH_P_IPV6) if frame.len() >= 54 => {
            let payload = usize::from(u16::from_be_bytes([frame[18], frame[19]]));
            let l4 = 54;
            let end = (l4 + payload).min(frame.len());
            let proto = frame[20];
            let mut sum = sum16(&frame[22..54]);
            sum += u32::from(proto) + (end - l4) as u32;
            ((l4, end), proto, sum)
        }
        _ => return,
    };
    let ((start, end), off) = match proto {
        17 => (l4, 6),
        6 => (l4, 16),
        _ => return,
    };
    if start + off + 2 > end {
        return;
    }
    frame[start + off] = 0;
    frame[start + off + 1] = 0;
    let sum = pseudo + sum16(&frame[start..end]);
    let mut c = fold(sum);
    if proto == 17 && c == 0 {
        c = 0xffff;
    }
    frame[start + off..start + off + 2].copy_from_slice(&c.to_be_bytes());
}

fn sum16(b: &[u8]) -> u32 {
    let mut sum = 0u32;
    let mut chunks = b.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// xorshift64*: plenty for drop decisions, no dependency.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        let tid = u64::from(std::process::id()) << 32;
        Rng((t ^ tid ^ 0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (v >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One direction of the relay: frames arriving on `from` go out of `to`.
fn relay(
    from: &str,
    to: &str,
    side: &Side,
    stop: &AtomicBool,
    ready: &mpsc::Sender<Result<()>>,
) -> Result<()> {
    let socks = packet_socket(from, true).and_then(|rx| Ok((rx, packet_socket(to, false)?)));
    let (rx, tx) = match socks {
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
    let mut rng = Rng::new();
    let mut held: BinaryHeap<Reverse<(Instant, u64, Vec<u8>)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    let c = &side.counters;
    let out = |frame: &[u8]| {
        if send_frame(tx.as_raw_fd(), frame) {
            c.passed.fetch_add(1, Ordering::Relaxed);
        } else {
            c.send_errors.fetch_add(1, Ordering::Relaxed);
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        while held.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
            if let Some(Reverse((_, _, frame))) = held.pop() {
                out(&frame);
            }
        }
        let wait = held.peek().map_or(TICK, |Reverse((at, _, _))| {
            at.saturating_duration_since(now).min(TICK)
        });
        if !poll_readable(rx.as_raw_fd(), wait)? {
            continue;
        }
        while let Some((n, partial)) = recv_frame(rx.as_raw_fd(), &mut buf)? {
            let imp = *side.settings.lock().unwrap_or_else(|e| e.into_inner());
            let frame = &mut buf[..n];
            if imp.drop_all
                || (imp.drop_vrrp && is_vrrp(frame))
                || imp.drop_vrid.is_some_and(|v| vrid_of(frame) == Some(v))
            {
                c.filtered.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if imp.loss > 0.0 && rng.next_f64() < imp.loss {
                c.lost.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if partial {
                complete_checksum(frame);
            }
            let delay = if imp.jitter.is_zero() {
                imp.delay
            } else {
                let j = imp.jitter.as_secs_f64() * (2.0 * rng.next_f64() - 1.0);
                Duration::from_secs_f64((imp.delay.as_secs_f64() + j).max(0.0))
            };
            if delay.is_zero() && held.is_empty() {
                out(frame);
            } else {
                seq += 1;
                held.push(Reverse((Instant::now() + delay, seq, frame.to_vec())));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_udp_checksum() {
        // Ethernet + IPv4 (10.0.0.1 -> 10.0.0.2) + UDP 1234 -> 9 with payload "hi".
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ETH_P_IP.to_be_bytes());
        let ip = [
            0x45, 0, 0, 30, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0x04, 0xd2, 0, 9, 0, 10, 0xab, 0xcd, b'h', b'i']);
        complete_checksum(&mut f);
        // Verify: the sum over pseudo-header and datagram, checksum included, folds to 0.
        let udp = &f[34..];
        let sum = sum16(&f[26..34]) + 17 + 10 + sum16(udp);
        assert_eq!(fold(sum), 0);
    }

    #[test]
    fn recognises_vrrp() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ETH_P_IP.to_be_bytes());
        f.extend_from_slice(&[0x45, 0, 0, 40, 0, 0, 0, 0, 255, 112]);
        f.resize(60, 0);
        assert!(is_vrrp(&f));
        f[34..36].copy_from_slice(&[0x31, 52]);
        assert_eq!(vrid_of(&f), Some(52));
        // IPv4 options move the VRRP header.
        f[14] = 0x46;
        f[38..40].copy_from_slice(&[0x31, 7]);
        assert_eq!(vrid_of(&f), Some(7));
        f[23] = 17;
        assert!(!is_vrrp(&f));
        assert_eq!(vrid_of(&f), None);
    }

    #[test]
    fn rng_is_uniformish() {
        let mut r = Rng::new();
        let n = 100_000;
        let below = (0..n).filter(|_| r.next_f64() < 0.3).count();
        assert!((27_000..33_000).contains(&below), "{below}");
    }
}
