//! `static_ipaddress`, `static_routes` and `static_rules`: addresses, routes and rules the
//! host has whatever its VRRP states (keepalived's "static" entries, often the address a
//! pair talks over). Added at start, the difference applied on a reload, removed at a
//! stop; a planned handover (`--takeover`) leaves them to the next daemon.
//!
//! A failure is logged and the rest goes on: a static entry is host plumbing, not a reason
//! to stop the VRRP instances.
use tracing::{debug, info, warn};

use crate::{
    config::{Config, VirtualAddress},
    net::{
        AddressOptions, Netlink,
        routes::{self, Change, Routes},
    },
};

/// What `routes` logs these changes under.
const OWNER: &str = "static";

/// Makes the host's static entries go from `old`'s to `new`'s (at start, `old` is empty).
pub async fn update(old: &Config, new: &Config, netlink: &Netlink, routes: &Routes) {
    let (old_routes, new_routes) = (routes_of(old), routes_of(new));
    routes.change(
        OWNER,
        Change::Remove,
        old_routes.iter().filter(|e| !new_routes.contains(e)),
    );
    for a in &old.static_addresses {
        if !new.static_addresses.contains(a) {
            remove(a, old, netlink).await;
        }
    }
    for a in &new.static_addresses {
        if !old.static_addresses.contains(a) {
            add(a, new, netlink).await;
        }
    }
    // Routes may use the addresses (`src`): after them.
    routes.change(
        OWNER,
        Change::Add,
        routes::missing_from(&old_routes, &new_routes),
    );
}

/// Removes every static entry of `config` (a stop).
pub async fn remove_all(config: &Config, netlink: &Netlink, routes: &Routes) {
    update(config, &Config::default(), netlink, routes).await;
}

fn routes_of(config: &Config) -> Vec<routes::Entry> {
    config
        .static_routes
        .iter()
        .map(routes::Entry::from)
        .chain(config.static_rules.iter().map(routes::Entry::from))
        .collect()
}

/// The interface a static address goes on: its `dev`, else `default_interface`.
fn device<'a>(a: &'a VirtualAddress, config: &'a Config) -> &'a str {
    a.dev
        .as_deref()
        .unwrap_or(config.global.default_interface.as_str())
}

async fn add(a: &VirtualAddress, config: &Config, netlink: &Netlink) {
    let dev = device(a, config);
    let iface = match netlink.interface(dev).await {
        Ok(iface) => iface,
        Err(e) => {
            warn!(addr = %a.addr, dev, error = %format!("{e:#}"), "static address not added: no such interface (give it `dev`, or set default_interface)");
            return;
        }
    };
    if netlink
        .has_address(iface.index, a.addr)
        .await
        .unwrap_or(false)
    {
        debug!(addr = %a.addr, dev, "static address already there");
        return;
    }
    match netlink
        .add_address(iface.index, a.addr, a.prefix_len, &AddressOptions::of(a))
        .await
    {
        Ok(()) => info!(addr = %a.addr, prefix_len = a.prefix_len, dev, "static address added"),
        Err(e) => warn!(addr = %a.addr, dev, error = %format!("{e:#}"), "static address not added"),
    }
}

async fn remove(a: &VirtualAddress, config: &Config, netlink: &Netlink) {
    let dev = device(a, config);
    let Ok(iface) = netlink.interface(dev).await else {
        return;
    };
    match netlink.remove_address(iface.index, a.addr).await {
        Ok(true) => info!(addr = %a.addr, dev, "static address removed"),
        Ok(false) => debug!(addr = %a.addr, dev, "static address was already gone"),
        Err(e) => {
            warn!(addr = %a.addr, dev, error = %format!("{e:#}"), "static address not removed")
        }
    }
}
