//! What the wire shows: every VRRP advert on the lab's bridge, as the client sees it.
//!
//! A raw IPv4 socket for protocol 112 in the client's namespace, member of 224.0.0.18 on
//! its `eth0`, receives the adverts every node multicasts. Only changes become timeline
//! events (a node starts advertising, changes its priority, sends priority 0, falls
//! silent), so ten adverts a second make no noise.
use std::{
    collections::HashMap,
    io::Read as _,
    net::Ipv4Addr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use socket2::{Domain, Protocol, Socket, Type};
use vrrp_tests::{Host, Lab};

use super::timeline::{Events, Source};

/// IANA protocol number of VRRP.
const IPPROTO_VRRP: i32 = 112;
/// keepalived's and RFC 5798's multicast group for IPv4 adverts.
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// How often the listener looks at its stop flag and for silent nodes.
const TICK: Duration = Duration::from_millis(25);

/// The running listener; stops when dropped.
pub struct Wire {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
}

/// Per node: what it advertised last, and when.
struct Sender {
    priority: u8,
    last: Instant,
    silent: bool,
}

impl Wire {
    /// Starts listening in the lab's client namespace. A node that sent nothing for
    /// `silence` (a few advert intervals) is reported as having stopped advertising, at
    /// the time of its last advert.
    pub fn start(lab: &Lab, events: Events, silence: Duration) -> Result<Wire> {
        let stop = Arc::new(AtomicBool::new(false));
        let client = lab.addr(Host::Client);
        let nodes: HashMap<Ipv4Addr, usize> = (1..=lab.nodes()).map(|n| (lab.addr(n), n)).collect();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let flag = stop.clone();
        let thread = lab.spawn_in(Host::Client, move || {
            let sock = match open(client) {
                Ok(s) => {
                    let _ = ready_tx.send(Ok(()));
                    s
                }
                Err(e) => {
                    let msg = format!("{e:#}");
                    let _ = ready_tx.send(Err(e));
                    anyhow::bail!(msg)
                }
            };
            listen(&sock, &nodes, &events, silence, &flag)
        })?;
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .context("the advert listener did not start")??;
        Ok(Wire {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => eprintln!("demo: advert listener: {e:#}"),
                Err(_) => eprintln!("demo: advert listener panicked"),
            }
        }
    }
}

fn open(client: Ipv4Addr) -> Result<Socket> {
    let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(IPPROTO_VRRP)))
        .context("raw VRRP socket in the client namespace")?;
    sock.join_multicast_v4(&GROUP, &client)
        .context("joining 224.0.0.18 on the client")?;
    sock.set_read_timeout(Some(TICK))?;
    Ok(sock)
}

/// One advert: who sent it and with which priority, from the IPv4 packet (header included,
/// as raw sockets deliver it).
fn parse(packet: &[u8], nodes: &HashMap<Ipv4Addr, usize>) -> Option<(usize, u8)> {
    let ihl = usize::from(*packet.first()? & 0x0f) * 4;
    if packet.get(9) != Some(&(IPPROTO_VRRP as u8)) {
        return None;
    }
    let src = Ipv4Addr::new(
        *packet.get(12)?,
        *packet.get(13)?,
        *packet.get(14)?,
        *packet.get(15)?,
    );
    let vrrp = packet.get(ihl..)?;
    // Type 1 (advertisement) in the low nibble of the first byte; priority is byte 2.
    if vrrp.len() < 8 || vrrp[0] & 0x0f != 1 {
        return None;
    }
    Some((*nodes.get(&src)?, vrrp[2]))
}

fn listen(
    sock: &Socket,
    nodes: &HashMap<Ipv4Addr, usize>,
    events: &Events,
    silence: Duration,
    stop: &AtomicBool,
) -> Result<()> {
    let mut senders: HashMap<usize, Sender> = HashMap::new();
    let mut buf = [0u8; 2048];
    let mut reader = sock;
    while !stop.load(Ordering::Relaxed) {
        match reader.read(&mut buf) {
            Ok(n) => {
                let now = Instant::now();
                if let Some((node, priority)) = parse(&buf[..n], nodes) {
                    observe(&mut senders, events, node, priority, now);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).context("receiving adverts"),
        }
        let now = Instant::now();
        for (&node, s) in senders.iter_mut() {
            if !s.silent && now.duration_since(s.last) >= silence {
                s.silent = true;
                // A priority-0 advert already said goodbye.
                if s.priority != 0 {
                    events.push(
                        s.last,
                        Source::Wire,
                        format!("node{node} stops advertising (its last advert)"),
                    );
                }
            }
        }
    }
    Ok(())
}

fn observe(
    senders: &mut HashMap<usize, Sender>,
    events: &Events,
    node: usize,
    priority: u8,
    now: Instant,
) {
    let text = match senders.get(&node) {
        None => Some(format!(
            "node{node} starts advertising, priority {priority}"
        )),
        Some(s) if s.silent && priority != 0 => {
            Some(format!("node{node} advertises again, priority {priority}"))
        }
        Some(s) if s.priority != priority && priority == 0 => Some(format!(
            "node{node} sends priority 0: it resigns, the backups need only wait skew time"
        )),
        Some(s) if s.priority != priority => Some(format!(
            "node{node} now advertises priority {priority} (was {})",
            s.priority
        )),
        Some(_) => None,
    };
    if let Some(text) = text {
        events.push(now, Source::Wire, text);
    }
    senders.insert(
        node,
        Sender {
            priority,
            last: now,
            silent: false,
        },
    );
}
