//! The crash guardian: a small companion process that makes a crash fail over like a clean
//! stop.
//!
//! The daemon starts `vrrp-daemon guardian` with a pipe on its stdin and, whenever an
//! instance becomes master, hands it the finished priority-0 advert packets and the
//! addresses to release; when the instance leaves master it withdraws them. If the daemon
//! dies for any reason (SIGKILL, panic, OOM kill), the kernel closes the pipe and the
//! guardian, blocked in `read`, wakes at once: it sends the priority-0 adverts (the peer
//! takes over after skew time instead of the whole master-down interval) and removes the
//! addresses, then exits. A planned stop (SIGTERM, or a `--takeover` restart) first writes
//! [`Message::Planned`], after which the guardian exits without sending anything. If the
//! guardian itself dies, the daemon starts a new one and hands it the current masters.
use std::{
    collections::BTreeMap,
    io::{BufRead as _, Write as _},
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
    /// What the guardian currently holds, to hand a new one after a restart.
    masters: BTreeMap<String, Message>,
}

impl Guardian {
    /// Start the guardian (this same binary, `guardian` subcommand).
    pub fn start() -> Result<Self> {
        let exe = std::env::current_exe().context("locating the vrrp-daemon binary")?;
        let (child, stdin) = spawn(&exe)?;
        Ok(Self {
            exe,
            child,
            stdin,
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
            Ok((child, stdin)) => {
                self.child = child;
                self.stdin = stdin;
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

fn spawn(exe: &std::path::Path) -> Result<(Child, ChildStdin)> {
    use std::os::unix::process::CommandExt as _;
    let mut child = Command::new(exe)
        .arg("guardian")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        // Its own process group: a ^C or a signal to the daemon's group leaves it alone.
        .process_group(0)
        .spawn()
        .context("starting the crash guardian")?;
    let stdin = child.stdin.take().context("guardian stdin")?;
    Ok((child, stdin))
}

/// What to do for one master instance on a crash: packets to send, addresses to remove.
type Resignation = (Vec<Packet>, Vec<(String, String)>);

/// The `vrrp-daemon guardian` process: read until the daemon goes away.
pub fn run_guardian() -> std::process::ExitCode {
    // SAFETY: ignoring SIGTERM/SIGINT/SIGHUP: the guardian ends on EOF or Planned only.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    let mut masters: BTreeMap<String, Resignation> = BTreeMap::new();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Message>(&line) {
            Ok(Message::Master {
                instance,
                packets,
                vips,
            }) => {
                masters.insert(instance, (packets, vips));
            }
            Ok(Message::NotMaster { instance }) => {
                masters.remove(&instance);
            }
            Ok(Message::Planned) => return std::process::ExitCode::SUCCESS,
            Err(e) => eprintln!("vrrp-daemon guardian: bad message: {e}"),
        }
    }
    // EOF without a planned stop: the daemon died.
    for (packets, _) in masters.values() {
        for p in packets {
            if let Err(e) = send(p) {
                eprintln!("vrrp-daemon guardian: priority-0 advert not sent: {e:#}");
            }
        }
    }
    for (instance, (_, vips)) in &masters {
        for (interface, addr) in vips {
            let _ = Command::new("ip")
                .args(["addr", "del", addr, "dev", interface])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        eprintln!(
            "vrrp-daemon guardian: the daemon died; {instance} resigned with priority 0 and released its addresses"
        );
    }
    std::process::ExitCode::SUCCESS
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
            v6.set_scope_id(nix_ifindex(&p.interface));
            SocketAddr::V6(v6)
        }
        v4 => v4,
    };
    socket.send_to(&p.bytes, &SockAddr::from(to))?;
    Ok(())
}

fn nix_ifindex(name: &str) -> u32 {
    let Ok(c) = std::ffi::CString::new(name) else {
        return 0;
    };
    // SAFETY: valid C string.
    unsafe { libc::if_nametoindex(c.as_ptr()) }
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
        };
        let line = serde_json::to_string(&m).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(serde_json::from_str::<Message>(&line).unwrap(), m);
    }
}
