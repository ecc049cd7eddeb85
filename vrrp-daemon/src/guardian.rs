//! The crash guardian: a small companion process that makes a crash fail over like a clean
//! stop.
//!
//! The daemon starts `vrrp-daemon guardian` with a pipe on its stdin and, whenever an
//! instance becomes master, hands it the finished priority-0 advert packets and the
//! addresses to release; when the instance leaves master it withdraws them. If the daemon
//! dies for any reason (SIGKILL, panic, OOM kill), the kernel closes the pipe and the
//! guardian, blocked in `poll`, wakes at once: it sends the priority-0 adverts (the peer
//! takes over after skew time instead of the whole master-down interval) and removes the
//! addresses, then exits.
//!
//! "At once" needs care: a dying process's descriptors are released one by one, and some
//! releases are slow (an XDP link detaches under RTNL with text patching and IPIs, a
//! multicast socket leaves its groups under RTNL: 30 ms on a busy 2-core host). Linux
//! releases them in descriptor order on older kernels and in reverse order on newer ones
//! (task_work lists lost their FIFO order), so the guardian watches two pipes: its stdin,
//! opened before anything else (a low descriptor), and a death pipe whose write end the
//! daemon moves to a high descriptor ([`DEATH_FD_MIN`]). Whichever closes first wakes it. A planned stop (SIGTERM, or a `--takeover` restart) first writes
//! [`Message::Planned`], after which the guardian exits without sending anything. If the
//! guardian itself dies, the daemon starts a new one and hands it the current masters.
use std::{
    collections::BTreeMap,
    io::Write as _,
    net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6},
    process::{Child, ChildStdin, Command, Stdio},
};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// One line on the guardian's stdin (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// `instance` is master: on a crash, send `packets` and remove `vips`.
    Master {
        /// Instance name.
        instance: String,
        /// Complete IP packets (header included) of the priority-0 adverts.
        packets: Vec<Packet>,
        /// `(interface, address/prefix)` to remove.
        vips: Vec<(String, String)>,
        /// `ip` arguments that remove each of its `virtual_routes` and `virtual_rules`
        /// (absent from an older daemon's messages).
        #[serde(default)]
        routes: Vec<Vec<String>>,
    },
    /// `instance` is no longer master: nothing to do for it on a crash.
    NotMaster {
        /// Instance name.
        instance: String,
    },
    /// A planned stop: exit without sending anything.
    Planned,
}

/// A ready-to-send IP packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packet {
    /// Interface to send it on.
    pub interface: String,
    /// Its destination (the socket address of `sendto`).
    pub dst: IpAddr,
    /// The IPv4 or IPv6 packet, header first.
    pub bytes: Vec<u8>,
}

/// The daemon's end: the guardian process and the pipe to it.
pub struct Guardian {
    exe: std::path::PathBuf,
    child: Child,
    stdin: ChildStdin,
    /// The write end of the death pipe (never written; its closing is the message).
    _death: std::os::fd::OwnedFd,
    /// What the guardian currently holds, to hand a new one after a restart.
    masters: BTreeMap<String, Message>,
}

impl Guardian {
    /// Start the guardian (this same binary, `guardian` subcommand).
    pub fn start() -> Result<Self> {
        let exe = std::env::current_exe().context("locating the vrrp-daemon binary")?;
        let (child, stdin, death) = spawn(&exe)?;
        Ok(Self {
            exe,
            child,
            stdin,
            _death: death,
            masters: BTreeMap::new(),
        })
    }

    /// Tell the guardian about a change; restarts it first if it died.
    pub fn send(&mut self, message: Message) {
        match &message {
            Message::Master { instance, .. } => {
                self.masters.insert(instance.clone(), message.clone());
            }
            Message::NotMaster { instance } => {
                self.masters.remove(instance);
            }
            Message::Planned => {}
        }
        if self.write(&message).is_err() || !matches!(self.child.try_wait(), Ok(None)) {
            self.restart();
        }
    }

    fn write(&mut self, message: &Message) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(message).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.stdin.write_all(&line)?;
        self.stdin.flush()
    }

    fn restart(&mut self) {
        tracing::warn!("the crash guardian died; starting a new one");
        let _ = self.child.kill();
        let _ = self.child.wait();
        match spawn(&self.exe) {
            Ok((child, stdin, death)) => {
                self.child = child;
                self.stdin = stdin;
                self._death = death;
                let masters: Vec<Message> = self.masters.values().cloned().collect();
                for m in &masters {
                    let _ = self.write(m);
                }
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot restart the crash guardian")
            }
        }
    }

    /// A planned stop: the guardian exits without sending anything.
    pub fn planned_stop(mut self) {
        let _ = self.write(&Message::Planned);
        drop(self.stdin);
        let _ = self.child.wait();
    }
}

/// The guardian's descriptor for the read end of the death pipe.
const DEATH_FD: std::os::fd::RawFd = 3;
/// The daemon keeps the write end of the death pipe at or above this descriptor, above
/// everything else it opens (200 instances take about 600), so newer kernels release it
/// first when the daemon dies.
pub const DEATH_FD_MIN: std::os::fd::RawFd = 4095;

fn spawn(exe: &std::path::Path) -> Result<(Child, ChildStdin, std::os::fd::OwnedFd)> {
    use std::os::{
        fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
        unix::process::CommandExt as _,
    };
    let (reader, writer) = std::io::pipe().context("creating the guardian's death pipe")?;
    let reader_fd = reader.as_raw_fd();
    let mut command = Command::new(exe);
    command
        .arg("guardian")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        // Its own process group: a ^C or a signal to the daemon's group leaves it alone.
        .process_group(0);
    // SAFETY: dup2 is async-signal-safe; `reader_fd` stays open until after the spawn.
    unsafe {
        command.pre_exec(move || {
            // dup2 clears close-on-exec on the copy, so the guardian inherits it.
            if libc::dup2(reader_fd, DEATH_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().context("starting the crash guardian")?;
    drop(reader);
    let stdin = child.stdin.take().context("guardian stdin")?;
    raise_nofile_limit(DEATH_FD_MIN as u64 + 1);
    // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor we then own, or -1.
    let high = unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_DUPFD_CLOEXEC, DEATH_FD_MIN) };
    let death = if high >= 0 {
        // SAFETY: `high` is a fresh descriptor owned by nobody else.
        unsafe { OwnedFd::from_raw_fd(high) }
    } else {
        OwnedFd::from(writer)
    };
    Ok((child, stdin, death))
}

/// Make room for descriptors up to `needed` (the soft limit is often 1024 while the hard
/// one is much higher).
fn raise_nofile_limit(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
            && limit.rlim_cur < needed
            && limit.rlim_max >= needed
        {
            limit.rlim_cur = needed;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// What to do for one master instance on a crash: packets to send, addresses to remove,
/// `ip` arguments that remove its routes.
type Resignation = (Vec<Packet>, Vec<(String, String)>, Vec<Vec<String>>);

/// The `vrrp-daemon guardian` process: read until the daemon goes away.
pub fn run_guardian() -> std::process::ExitCode {
    // Same line format as the daemon (time-stamped, or journald's prefix), on the same
    // stderr: the time it acted is what an operator reading a crash wants to know.
    crate::logging::init("info");
    // Its whole job is to act the instant the daemon dies.
    crate::util::request_short_slice();
    // SAFETY: ignoring SIGTERM/SIGINT/SIGHUP: the guardian ends on EOF or Planned only.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    // It only sends raw packets and runs `ip addr del`: keep CAP_NET_RAW and CAP_NET_ADMIN.
    if let Err(e) = crate::privilege::drop_for_guardian() {
        tracing::warn!(error = %format!("{e:#}"), "guardian: capabilities not lowered");
    }
    let mut masters: BTreeMap<String, Resignation> = BTreeMap::new();
    let mut pending = Vec::new();
    let mut noticed = "its stdin";
    // A guardian started without the death pipe (an older daemon) watches stdin only.
    // SAFETY: fcntl(F_GETFD) on a descriptor number only queries it.
    let death = if unsafe { libc::fcntl(DEATH_FD, libc::F_GETFD) } >= 0 {
        DEATH_FD
    } else {
        -1
    };
    loop {
        let mut fds = [
            libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: death,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll on two valid pollfd structs (a negative fd is ignored).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        // What the daemon wrote before it died counts (a last NotMaster, or Planned), so
        // stdin is drained before the death pipe is looked at.
        let stdin_closed = fds[0].revents != 0 && !read_available(&mut pending);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            match serde_json::from_slice::<Message>(&line) {
                Ok(Message::Master {
                    instance,
                    packets,
                    vips,
                    routes,
                }) => {
                    masters.insert(instance, (packets, vips, routes));
                }
                Ok(Message::NotMaster { instance }) => {
                    masters.remove(&instance);
                }
                Ok(Message::Planned) => return std::process::ExitCode::SUCCESS,
                Err(e) => tracing::error!(error = %e, "guardian: bad message from the daemon"),
            }
        }
        if fds[1].revents != 0 {
            noticed = "the death pipe";
            break;
        }
        if stdin_closed {
            break;
        }
    }
    // The daemon died without a planned stop.
    let woke = std::time::Instant::now();
    for p in masters.values().flat_map(|(packets, _, _)| packets) {
        if let Err(e) = send(p) {
            tracing::error!(error = %format!("{e:#}"), "guardian: priority-0 advert not sent");
        }
    }
    let adverts_sent = woke.elapsed();
    for (interface, addr) in masters.values().flat_map(|(_, vips, _)| vips) {
        ip(&["addr", "del", addr, "dev", interface]);
    }
    let released = woke.elapsed();
    // Routes last: the peer needs the adverts, the client the addresses gone.
    for args in masters.values().flat_map(|(_, _, routes)| routes) {
        ip(args);
    }
    for (instance, (packets, _, _)) in &masters {
        tracing::warn!(
            instance = %instance,
            adverts = packets.len(),
            noticed_through = noticed,
            adverts_sent_after = ?adverts_sent,
            addresses_released_after = ?released,
            "guardian: the daemon died; {instance} resigned with priority 0 and released its addresses"
        );
    }
    if masters.is_empty() {
        tracing::info!(
            noticed_through = noticed,
            "guardian: the daemon died; it was master of nothing"
        );
    }
    std::process::ExitCode::SUCCESS
}

/// Run `ip ARGS`, quietly: a route or address already gone is what we wanted.
fn ip(args: &[impl AsRef<std::ffi::OsStr>]) {
    let _ = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Read what stdin has now into `pending`; false at end of file (or on an error).
fn read_available(pending: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 64 * 1024];
    // SAFETY: read into a buffer we own, of its size.
    let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted;
    }
    pending.extend_from_slice(&buf[..n as usize]);
    true
}

/// Send one complete IP packet on its interface.
pub fn send(p: &Packet) -> Result<()> {
    let (domain, to) = match p.dst {
        IpAddr::V4(a) => (Domain::IPV4, SocketAddr::V4(SocketAddrV4::new(a, 0))),
        IpAddr::V6(a) => (Domain::IPV6, SocketAddr::V6(SocketAddrV6::new(a, 0, 0, 0))),
    };
    let socket = Socket::new(domain, Type::RAW, Some(Protocol::from(libc::IPPROTO_RAW)))?;
    socket.bind_device(Some(p.interface.as_bytes()))?;
    if p.dst.is_ipv6() {
        let on: libc::c_int = 1;
        // SAFETY: setsockopt with a valid int option value (IPV6_HDRINCL = 36).
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&socket),
                libc::IPPROTO_IPV6,
                36,
                (&raw const on).cast(),
                std::mem::size_of::<libc::c_int>() as u32,
            )
        };
    }
    let to = match to {
        SocketAddr::V6(mut v6) => {
            v6.set_scope_id(crate::net::addresses::interface_index(&p.interface));
            SocketAddr::V6(v6)
        }
        v4 => v4,
    };
    socket.send_to(&p.bytes, &SockAddr::from(to))?;
    Ok(())
}

/// A complete IPv4 or IPv6 packet around a VRRP message, as the kernel would build it for
/// the advert socket (TTL / hop limit `ttl`, protocol 112).
pub fn ip_packet(src: IpAddr, dst: IpAddr, ttl: u8, vrrp: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let tot = 20 + vrrp.len() as u16;
            let mut h = vec![0x45, 0xc0];
            h.extend(tot.to_be_bytes());
            h.extend([0, 0, 0, 0, ttl, vrrp_common::IPPROTO_VRRP, 0, 0]);
            h.extend(s.octets());
            h.extend(d.octets());
            let sum = crate::packet::checksum(&h, 0);
            h[10..12].copy_from_slice(&sum.to_be_bytes());
            h.extend(vrrp);
            h
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut h = vec![0x6c, 0, 0, 0];
            h.extend((vrrp.len() as u16).to_be_bytes());
            h.extend([vrrp_common::IPPROTO_VRRP, ttl]);
            h.extend(s.octets());
            h.extend(d.octets());
            h.extend(vrrp);
            h
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_packet_has_a_valid_header() {
        let p = ip_packet(
            "10.0.0.1".parse().unwrap(),
            "224.0.0.18".parse().unwrap(),
            255,
            &[0x31, 1, 0, 1, 0, 10, 0, 0, 10, 0, 0, 100],
        );
        assert_eq!(p.len(), 32);
        assert_eq!(p[8], 255);
        assert_eq!(p[9], 112);
        assert_eq!(crate::packet::checksum(&p[..20], 0), 0);
    }

    #[test]
    fn messages_round_trip_as_json_lines() {
        let m = Message::Master {
            instance: "VI_1".into(),
            packets: vec![Packet {
                interface: "eth0".into(),
                dst: "224.0.0.18".parse().unwrap(),
                bytes: vec![1, 2, 3],
            }],
            vips: vec![("eth0".into(), "10.0.0.100/32".into())],
            routes: vec![vec![
                "-4".into(),
                "route".into(),
                "delete".into(),
                "10.9.0.0/16".into(),
            ]],
        };
        let line = serde_json::to_string(&m).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(serde_json::from_str::<Message>(&line).unwrap(), m);
    }

    #[test]
    fn a_master_message_without_routes_still_reads() {
        // What a daemon from before `virtual_routes` were acted on sends its guardian.
        let line =
            r#"{"Master":{"instance":"VI_1","packets":[],"vips":[["eth0","10.0.0.100/32"]]}}"#;
        let Message::Master { routes, vips, .. } = serde_json::from_str(line).unwrap() else {
            panic!("not a Master message");
        };
        assert!(routes.is_empty());
        assert_eq!(vips.len(), 1);
    }
}
