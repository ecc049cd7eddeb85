//! Link state changes from the kernel (rtnetlink multicast group RTNLGRP_LINK), for
//! `track_interface` and the instance's own interface, and removed addresses (the IPv4
//! and IPv6 address groups), for virtual addresses someone else deletes: no polling.
use anyhow::{Context as _, Result};
use futures::StreamExt as _;
use rtnetlink::{
    MulticastGroup,
    packet_core::NetlinkPayload,
    packet_route::{
        AddressFamily, RouteNetlinkMessage,
        link::{LinkAttribute, LinkFlags, LinkMessage},
        route::{RouteAddress, RouteAttribute, RouteMessage},
        rule::{RuleAttribute, RuleMessage},
    },
};
use tokio::sync::mpsc;

/// An interface appeared, changed or disappeared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkChange {
    /// Its name.
    pub name: String,
    /// Its index: an interface deleted and created again under the same name has a new
    /// one, and whatever named the old index (XDP link, sockets, map keys) is gone.
    pub index: u32,
    /// Administratively up and running (carrier); false when it was deleted.
    pub up: bool,
    /// It was deleted.
    pub deleted: bool,
}

/// keepalived's idea of a usable interface: IFF_UP and IFF_RUNNING.
pub fn link_is_up(link: &LinkMessage) -> bool {
    link.header.flags.contains(LinkFlags::Up) && link.header.flags.contains(LinkFlags::Running)
}

fn name_of(link: &LinkMessage) -> Option<String> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

/// Subscribe to link changes; each one is sent on `tx` until the receiver is dropped.
pub fn spawn_link_monitor(tx: mpsc::UnboundedSender<LinkChange>) -> Result<()> {
    let (conn, _handle, mut messages) =
        rtnetlink::new_multicast_connection(&[MulticastGroup::Link])
            .context("subscribing to link changes (rtnetlink)")?;
    tokio::spawn(conn);
    tokio::spawn(async move {
        while let Some((message, _)) = messages.next().await {
            let change = match message.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => name_of(&link)
                    .map(|name| LinkChange {
                        up: link_is_up(&link),
                        index: link.header.index,
                        deleted: false,
                        name,
                    }),
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(link)) => name_of(&link)
                    .map(|name| LinkChange {
                        name,
                        index: link.header.index,
                        up: false,
                        deleted: true,
                    }),
                _ => None,
            };
            if let Some(change) = change
                && tx.send(change).is_err()
            {
                return;
            }
        }
    });
    Ok(())
}

/// An address removed from the interface with this index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressRemoved {
    /// The interface's index.
    pub index: u32,
    /// The address.
    pub addr: std::net::IpAddr,
}

/// Subscribe to address removals; each one is sent on `tx` until the receiver is dropped.
pub fn spawn_address_monitor(tx: mpsc::UnboundedSender<AddressRemoved>) -> Result<()> {
    let (conn, _handle, mut messages) = rtnetlink::new_multicast_connection(&[
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ])
    .context("subscribing to address changes (rtnetlink)")?;
    tokio::spawn(conn);
    tokio::spawn(async move {
        while let Some((message, _)) = messages.next().await {
            let NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelAddress(msg)) =
                message.payload
            else {
                continue;
            };
            let Some(addr) = crate::net::addresses::address_of(&msg) else {
                continue;
            };
            if tx
                .send(AddressRemoved {
                    index: msg.header.index,
                    addr,
                })
                .is_err()
            {
                return;
            }
        }
    });
    Ok(())
}

/// A route or policy rule the kernel reports deleted (by anyone: the daemon's own removals
/// come through here too, and are told apart by the daemon).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoutingRemoved {
    /// A route: its family, destination (`None`: the default route) and table.
    Route {
        /// IPv6.
        v6: bool,
        /// Destination address and prefix length.
        dst: Option<(std::net::IpAddr, u8)>,
        /// Routing table id.
        table: u32,
    },
    /// A rule: its family and preference.
    Rule {
        /// IPv6.
        v6: bool,
        /// `priority` / `pref`.
        priority: u32,
    },
}

/// Watch for deleted routes and rules (both families).
pub fn spawn_routing_monitor(tx: mpsc::UnboundedSender<RoutingRemoved>) -> Result<()> {
    let (conn, _handle, mut messages) = rtnetlink::new_multicast_connection(&[
        MulticastGroup::Ipv4Route,
        MulticastGroup::Ipv6Route,
        MulticastGroup::Ipv4Rule,
        MulticastGroup::Ipv6Rule,
    ])
    .context("subscribing to route and rule changes (rtnetlink)")?;
    tokio::spawn(conn);
    tokio::spawn(async move {
        while let Some((message, _)) = messages.next().await {
            let removed = match message.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(msg)) => {
                    route_removed(&msg)
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRule(msg)) => {
                    rule_removed(&msg)
                }
                _ => None,
            };
            if let Some(removed) = removed
                && tx.send(removed).is_err()
            {
                return;
            }
        }
    });
    Ok(())
}

fn route_removed(msg: &RouteMessage) -> Option<RoutingRemoved> {
    let v6 = match msg.header.address_family {
        AddressFamily::Inet => false,
        AddressFamily::Inet6 => true,
        _ => return None,
    };
    let table = msg
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(msg.header.table));
    let dst = msg.attributes.iter().find_map(|a| match a {
        RouteAttribute::Destination(RouteAddress::Inet(a)) => Some(std::net::IpAddr::V4(*a)),
        RouteAttribute::Destination(RouteAddress::Inet6(a)) => Some(std::net::IpAddr::V6(*a)),
        _ => None,
    });
    Some(RoutingRemoved::Route {
        v6,
        dst: dst.map(|a| (a, msg.header.destination_prefix_length)),
        table,
    })
}

fn rule_removed(msg: &RuleMessage) -> Option<RoutingRemoved> {
    let v6 = match msg.header.family {
        AddressFamily::Inet => false,
        AddressFamily::Inet6 => true,
        _ => return None,
    };
    let priority = msg.attributes.iter().find_map(|a| match a {
        RuleAttribute::Priority(p) => Some(*p),
        _ => None,
    })?;
    Some(RoutingRemoved::Rule { v6, priority })
}
