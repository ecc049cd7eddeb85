//! The raw socket adverts are sent from, IPv4 or IPv6.
//!
//! Receiving is XDP's job, so this socket never queues what it receives: a classic BPF filter
//! that accepts nothing is attached. Its mere existence still matters: a raw socket for
//! protocol 112 stops the kernel from answering unicast adverts with ICMP
//! protocol-unreachable, and joining 224.0.0.18 / ff02::12 makes real NICs deliver the group.
//!
//! Instances that send alike (same interface, source, TTL and extra group) share one socket,
//! as keepalived's socket pool does. The kernel offers every received protocol-112 packet to
//! every raw socket of that protocol in turn, filter or not: with one socket per instance,
//! each advert arriving at a 200-instance node was checked against 200 sockets, and that walk
//! was the largest single cost of the whole advert path.
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6},
    sync::{Arc, Mutex, Weak},
};

use anyhow::{Context as _, Result};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, SockFilter, Socket, Type};
use vrrp_common::{IPPROTO_VRRP, VRRP_MCAST_V4, VRRP_TTL};

/// What makes two instances' advert sockets interchangeable: every argument of
/// [`AdvertSocket::open`].
#[derive(PartialEq, Eq)]
struct PoolKey {
    ifname: String,
    ifindex: u32,
    source: IpAddr,
    unicast_ttl: Option<u8>,
    group: Option<IpAddr>,
}

/// The open advert sockets, so that instances sending alike share one (weak: a socket
/// closes with its last instance).
static POOL: Mutex<Vec<(PoolKey, Weak<Socket>)>> = Mutex::new(Vec::new());

/// The VRRP group for IPv6 (RFC 5798 §5.1.2.2).
pub const VRRP_MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// A bound, configured advert socket for one interface (shared by the instances that send
/// alike; closed when the last of them drops it).
pub struct AdvertSocket {
    pub(super) socket: Arc<Socket>,
    ifindex: u32,
    /// The source address the kernel puts on every advert.
    pub source: IpAddr,
}

impl AdvertSocket {
    /// Open the socket on `ifname` / `ifindex`, sending from `source` with TTL / hop limit
    /// 255 (`unicast_ttl` for unicast adverts when given) and joining `group` as well as the
    /// standard group when it differs (`mcast_dst_ip`). An open socket with the very same
    /// arguments is shared instead.
    pub fn open(
        ifname: &str,
        ifindex: u32,
        source: IpAddr,
        unicast_ttl: Option<u8>,
        group: Option<IpAddr>,
    ) -> Result<Self> {
        let key = PoolKey {
            ifname: ifname.to_string(),
            ifindex,
            source,
            unicast_ttl,
            group,
        };
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        pool.retain(|(_, weak)| weak.strong_count() > 0);
        if let Some(socket) = pool
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, weak)| weak.upgrade())
        {
            return Ok(Self {
                socket,
                ifindex,
                source,
            });
        }
        let socket = Arc::new(Self::open_new(ifname, ifindex, source, unicast_ttl, group)?);
        pool.push((key, Arc::downgrade(&socket)));
        Ok(Self {
            socket,
            ifindex,
            source,
        })
    }

    fn open_new(
        ifname: &str,
        ifindex: u32,
        source: IpAddr,
        unicast_ttl: Option<u8>,
        group: Option<IpAddr>,
    ) -> Result<Socket> {
        let unicast_ttl = u32::from(unicast_ttl.unwrap_or(VRRP_TTL));
        let domain = if source.is_ipv6() {
            Domain::IPV6
        } else {
            Domain::IPV4
        };
        let socket = Socket::new(
            domain,
            Type::RAW,
            Some(Protocol::from(i32::from(IPPROTO_VRRP))),
        )
        .context("opening a raw VRRP socket (needs CAP_NET_RAW)")?;
        socket
            .bind_device(Some(ifname.as_bytes()))
            .with_context(|| format!("binding the advert socket to {ifname}"))?;
        match source {
            IpAddr::V4(src) => {
                socket
                    .bind(&SockAddr::from(SocketAddrV4::new(src, 0)))
                    .with_context(|| format!("binding the advert socket to {src}"))?;
                socket.set_multicast_ttl_v4(u32::from(VRRP_TTL))?;
                socket.set_ttl_v4(unicast_ttl)?;
                socket.set_multicast_loop_v4(false)?;
                // No IP_MULTICAST_IF by address: SO_BINDTODEVICE already picks the interface,
                // and the source address may live on another one (a VMAC sends with its
                // base interface's address), which IP_MULTICAST_IF would refuse.
                socket
                    .join_multicast_v4_n(
                        &Ipv4Addr::from(VRRP_MCAST_V4),
                        &InterfaceIndexOrAddress::Index(ifindex),
                    )
                    .context("joining 224.0.0.18")?;
            }
            IpAddr::V6(src) => {
                socket
                    .bind(&SockAddr::from(SocketAddrV6::new(src, 0, 0, ifindex)))
                    .with_context(|| format!("binding the advert socket to {src}%{ifname}"))?;
                socket.set_multicast_hops_v6(u32::from(VRRP_TTL))?;
                socket.set_unicast_hops_v6(unicast_ttl)?;
                socket.set_multicast_loop_v6(false)?;
                socket.set_multicast_if_v6(ifindex)?;
                socket
                    .join_multicast_v6(&VRRP_MCAST_V6, ifindex)
                    .context("joining ff02::12")?;
            }
        }
        match group {
            Some(IpAddr::V4(g)) if g != Ipv4Addr::from(VRRP_MCAST_V4) => socket
                .join_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(ifindex))
                .with_context(|| format!("joining {g}"))?,
            Some(IpAddr::V6(g)) if g != VRRP_MCAST_V6 => socket
                .join_multicast_v6(&g, ifindex)
                .with_context(|| format!("joining {g}"))?,
            _ => {}
        }
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
        Ok(socket)
    }

    /// The multicast group adverts of this family go to.
    pub fn group(&self) -> IpAddr {
        match self.source {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(VRRP_MCAST_V4)),
            IpAddr::V6(_) => IpAddr::V6(VRRP_MCAST_V6),
        }
    }

    /// The socket address of `dst` (IPv6: scoped to the interface).
    pub(super) fn destination(&self, dst: IpAddr) -> SockAddr {
        SockAddr::from(match dst {
            IpAddr::V4(d) => SocketAddr::V4(SocketAddrV4::new(d, 0)),
            IpAddr::V6(d) => SocketAddr::V6(SocketAddrV6::new(d, 0, 0, self.ifindex)),
        })
    }

    /// Send one VRRP message (the kernel adds the IP header) to `dst`.
    pub fn send(&self, message: &[u8], dst: IpAddr) -> Result<()> {
        self.socket
            .send_to(message, &self.destination(dst))
            .with_context(|| format!("sending an advert to {dst}"))?;
        Ok(())
    }
}
