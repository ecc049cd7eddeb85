//! The raw IPv4 socket adverts are sent from.
//!
//! Receiving is XDP's job, so this socket never queues what it receives: a classic BPF filter
//! that accepts nothing is attached. Its mere existence still matters: a raw socket for
//! protocol 112 stops the kernel from answering unicast adverts with ICMP
//! protocol-unreachable, and joining 224.0.0.18 makes real NICs deliver the group.
use std::net::{Ipv4Addr, SocketAddrV4};

use anyhow::{Context as _, Result};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, SockFilter, Socket, Type};
use vrrp_common::{IPPROTO_VRRP, VRRP_MCAST_V4, VRRP_TTL};

/// A bound, configured advert socket for one interface.
pub struct AdvertSocket {
    socket: Socket,
    /// The source address the kernel puts on every advert.
    pub source: Ipv4Addr,
}

impl AdvertSocket {
    /// Open the socket on `ifname` / `ifindex`, sending from `source` with TTL 255.
    pub fn open(ifname: &str, ifindex: u32, source: Ipv4Addr) -> Result<Self> {
        let socket = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(i32::from(IPPROTO_VRRP))),
        )
        .context("opening a raw VRRP socket (needs CAP_NET_RAW)")?;
        socket
            .bind_device(Some(ifname.as_bytes()))
            .with_context(|| format!("binding the advert socket to {ifname}"))?;
        socket
            .bind(&SockAddr::from(SocketAddrV4::new(source, 0)))
            .with_context(|| format!("binding the advert socket to {source}"))?;
        socket.set_multicast_ttl_v4(u32::from(VRRP_TTL))?;
        socket.set_ttl_v4(u32::from(VRRP_TTL))?;
        socket.set_multicast_loop_v4(false)?;
        socket.set_multicast_if_v4(&source)?;
        socket
            .join_multicast_v4_n(
                &Ipv4Addr::from(VRRP_MCAST_V4),
                &InterfaceIndexOrAddress::Index(ifindex),
            )
            .context("joining 224.0.0.18")?;
        // `ret #0`: accept no packet into this socket's queue.
        let reject_all = [SockFilter::new(
            (libc::BPF_RET | libc::BPF_K) as u16,
            0,
            0,
            0,
        )];
        socket
            .attach_filter(&reject_all)
            .context("attaching the receive filter")?;
        socket.set_nonblocking(true)?;
        Ok(Self { socket, source })
    }

    /// Send one VRRP message (the kernel adds the IPv4 header) to `dst`.
    pub fn send(&self, message: &[u8], dst: Ipv4Addr) -> Result<()> {
        self.socket
            .send_to(message, &SockAddr::from(SocketAddrV4::new(dst, 0)))
            .with_context(|| format!("sending an advert to {dst}"))?;
        Ok(())
    }
}
