//! Announcing a new owner of the virtual addresses: gratuitous ARP on an AF_PACKET socket as
//! keepalived sends it (vrrp_arp.c), and unsolicited neighbour advertisements for IPv6.
use std::{
    io, mem,
    net::{Ipv4Addr, Ipv6Addr, SocketAddrV6},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
};

use anyhow::{Context as _, Result};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::packet::{gratuitous_arp, unsolicited_na};

/// A send-only packet socket, bound to no interface: each gratuitous ARP goes out on the
/// interface of its address (a `dev` address may live on another one than the instance's)
/// with that interface's hardware address.
pub struct GarpSocket {
    fd: OwnedFd,
}

impl GarpSocket {
    /// Open the socket (protocol 0: it never receives).
    pub fn open() -> Result<Self> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error()).context("opening a packet socket for GARP");
        }
        // SAFETY: fd was just returned by socket(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd })
    }

    /// Send one gratuitous ARP for `vip` on interface `ifindex`, whose hardware address is
    /// `mac`.
    pub fn send(&self, ifindex: u32, mac: [u8; 6], vip: Ipv4Addr) -> Result<()> {
        let frame = gratuitous_arp(mac, vip);
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid starting value.
        let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = 0x0806u16.to_be();
        addr.sll_ifindex = ifindex as i32;
        addr.sll_halen = 6;
        addr.sll_addr[..6].copy_from_slice(&[0xff; 6]);
        // SAFETY: frame and addr are valid for the lengths given.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&raw const addr).cast(),
                mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error()).context("sending a gratuitous ARP");
        }
        Ok(())
    }
}

/// A send-only ICMPv6 socket for unsolicited neighbour advertisements on one interface.
pub struct NaSocket {
    socket: Socket,
    ifindex: u32,
    mac: [u8; 6],
}

/// All-nodes: where unsolicited advertisements go (RFC 4861 §7.2.6).
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

impl NaSocket {
    /// Open the socket on interface `name` (index `ifindex`, hardware address `mac`); hop
    /// limit 255 as neighbour discovery requires.
    pub fn open(name: &str, ifindex: u32, mac: [u8; 6]) -> Result<Self> {
        let socket = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))
            .context("opening an ICMPv6 socket for neighbour advertisements")?;
        socket
            .bind_device(Some(name.as_bytes()))
            .with_context(|| format!("binding the neighbour advertisement socket to {name}"))?;
        socket.set_multicast_hops_v6(255)?;
        socket.set_unicast_hops_v6(255)?;
        socket.set_multicast_if_v6(ifindex)?;
        socket.set_multicast_loop_v6(false)?;
        socket.set_nonblocking(true)?;
        Ok(Self {
            socket,
            ifindex,
            mac,
        })
    }

    /// The interface it sends on.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Send one unsolicited NA for `vip` to all nodes.
    pub fn send(&self, vip: Ipv6Addr) -> Result<()> {
        let message = unsolicited_na(self.mac, vip);
        let to = SockAddr::from(SocketAddrV6::new(ALL_NODES, 0, 0, self.ifindex));
        self.socket
            .send_to(&message, &to)
            .context("sending an unsolicited neighbour advertisement")?;
        Ok(())
    }
}
