//! Interface lookup and virtual-address add/remove through rtnetlink.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use anyhow::{Context as _, Result, anyhow, bail};
use futures::TryStreamExt as _;
use rtnetlink::{
    Handle,
    packet_route::{
        address::{
            AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
        },
        link::{LinkAttribute, LinkInfo, LinkXdp, MacVlanMode},
    },
};

/// What the daemon needs to know about an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Name.
    pub name: String,
    /// Index.
    pub index: u32,
    /// Hardware address (GARP sender).
    pub mac: [u8; 6],
    /// Up and running when looked up.
    pub up: bool,
    /// The link kind (`veth`, `bond`, `vlan`...), `None` for plain hardware.
    pub kind: Option<String>,
    /// The id of the XDP program attached to it, if any.
    pub xdp_prog_id: Option<u32>,
}

/// A route-netlink connection; its background task lives on the tokio runtime.
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Open the connection and spawn its I/O task.
    pub fn connect() -> Result<Self> {
        let (conn, handle, _) = rtnetlink::new_connection().context("opening rtnetlink")?;
        tokio::spawn(conn);
        Ok(Self { handle })
    }

    /// Look up an interface by name.
    pub async fn interface(&self, name: &str) -> Result<Interface> {
        if interface_index(name) == 0 {
            bail!(
                "interface {name} does not exist; check the `interface` / `dev` keywords and \
                 `ip link` (or set dynamic_interfaces in global_defs to start the instance \
                 when the interface appears)"
            );
        }
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        let link = links
            .try_next()
            .await
            .map_err(|e| {
                anyhow!("interface {name}: {e}; check the `interface` keyword and `ip link`")
            })?
            .ok_or_else(|| anyhow!("interface {name} does not exist"))?;
        let mut mac = [0u8; 6];
        let mut kind = None;
        let mut xdp_prog_id = None;
        for attr in &link.attributes {
            match attr {
                LinkAttribute::Address(bytes) if bytes.len() == 6 => mac.copy_from_slice(bytes),
                LinkAttribute::Xdp(xdp) => {
                    for x in xdp {
                        if let LinkXdp::ProgId(id) = x
                            && *id != 0
                        {
                            xdp_prog_id = Some(*id);
                        }
                    }
                }
                LinkAttribute::LinkInfo(infos) => {
                    for info in infos {
                        if let LinkInfo::Kind(k) = info {
                            kind = Some(k.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(Interface {
            name: name.to_string(),
            index: link.header.index,
            mac,
            up: super::monitor::link_is_up(&link),
            kind,
            xdp_prog_id,
        })
    }

    async fn addresses(&self, index: u32) -> Result<Vec<AddressMessage>> {
        self.handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute()
            .try_collect()
            .await
            .context("listing addresses")
    }

    /// The interface's primary IPv4 address: the first one that is not a virtual address.
    /// It is the advert source and the equal-priority tie-breaker (RFC 5798 §6.4.3).
    pub async fn primary_ipv4(&self, index: u32, exclude: &[IpAddr]) -> Result<Ipv4Addr> {
        for msg in self.addresses(index).await? {
            if let Some(IpAddr::V4(a)) = address_of(&msg)
                && !exclude.contains(&IpAddr::V4(a))
            {
                return Ok(a);
            }
        }
        bail!("the interface has no IPv4 address of its own to send adverts from; add one")
    }

    /// The interface's usable IPv6 link-local address: the VRRPv3-over-IPv6 advert source
    /// (RFC 5798 §5.1.2.1) and tie-breaker. `None` while it is missing or still tentative
    /// (duplicate address detection runs for about a second after the link comes up).
    pub async fn link_local_ipv6(&self, index: u32) -> Result<Option<Ipv6Addr>> {
        for msg in self.addresses(index).await? {
            let tentative = msg.attributes.iter().any(|a| {
                matches!(a, AddressAttribute::Flags(f)
                    if f.intersects(AddressFlags::Tentative | AddressFlags::Dadfailed))
            });
            if let Some(IpAddr::V6(a)) = address_of(&msg)
                && a.segments()[0] & 0xffc0 == 0xfe80
                && !tentative
            {
                return Ok(Some(a));
            }
        }
        Ok(None)
    }

    /// Create the macvlan `name` on `base` with hardware address `mac` (private mode, up),
    /// replacing a leftover of the same name: keepalived's `use_vmac`. ARP on it answers
    /// only for its own addresses and reverse-path filtering is off, as keepalived sets it.
    pub async fn create_vmac(&self, name: &str, base: u32, mac: [u8; 6]) -> Result<Interface> {
        if let Ok(old) = self.interface(name).await {
            self.delete_link(old.index).await?;
        }
        let message = rtnetlink::LinkMacVlan::new(name, base, MacVlanMode::Private)
            .address(mac.to_vec())
            .up()
            .build();
        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .with_context(|| format!("creating the VMAC interface {name}"))?;
        for (key, value) in [("arp_ignore", "1"), ("arp_filter", "1"), ("rp_filter", "0")] {
            set_sysctl(name, key, value);
        }
        self.interface(name).await
    }

    /// Delete a link (the VMAC on the way out).
    pub async fn delete_link(&self, index: u32) -> Result<()> {
        self.handle
            .link()
            .del(index)
            .execute()
            .await
            .context("deleting a link")
    }

    /// Whether `addr` is configured on the interface.
    pub async fn has_address(&self, index: u32, addr: IpAddr) -> Result<bool> {
        Ok(self
            .addresses(index)
            .await?
            .iter()
            .any(|m| address_of(m) == Some(addr)))
    }

    /// Add `addr/prefix_len` (already present is fine) with keepalived's `label`, `brd`
    /// and `scope`. IPv6 addresses skip duplicate address detection, as keepalived adds
    /// them: a VIP must answer at once.
    pub async fn add_address(
        &self,
        index: u32,
        addr: IpAddr,
        prefix_len: u8,
        options: &AddressOptions,
    ) -> Result<()> {
        let mut request = self.handle.address().add(index, addr, prefix_len).replace();
        let msg = request.message_mut();
        if addr.is_ipv6() {
            msg.header.flags |= AddressHeaderFlags::Nodad;
            msg.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        if let Some(scope) = options.scope {
            msg.header.scope = AddressScope::from(scope);
        }
        if let Some(brd) = options.broadcast {
            msg.attributes
                .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
            msg.attributes.push(AddressAttribute::Broadcast(brd));
        }
        if let Some(label) = &options.label {
            msg.attributes.push(AddressAttribute::Label(label.clone()));
        }
        request
            .execute()
            .await
            .with_context(|| format!("adding {addr}/{prefix_len}"))
    }

    /// Remove `addr` from the interface, whatever its prefix (absent is fine).
    pub async fn remove_address(&self, index: u32, addr: IpAddr) -> Result<bool> {
        let mut removed = false;
        for msg in self.addresses(index).await? {
            if address_of(&msg) == Some(addr) {
                self.handle
                    .address()
                    .del(msg)
                    .execute()
                    .await
                    .with_context(|| format!("removing {addr}"))?;
                removed = true;
            }
        }
        Ok(removed)
    }
}

/// What keepalived's `virtual_ipaddress` may say about an address beyond the address and
/// its prefix (IPv4 only; the configuration drops them for IPv6).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressOptions {
    /// `label IF:x`: the name `ip addr` and `ifconfig` show it under.
    pub label: Option<String>,
    /// `brd`, resolved to an address.
    pub broadcast: Option<Ipv4Addr>,
    /// `scope`, as the kernel's number (global 0 ... nowhere 255).
    pub scope: Option<u8>,
}

impl AddressOptions {
    /// The options a configured address asks for.
    pub fn of(vip: &crate::config::VirtualAddress) -> Self {
        match vip.addr {
            IpAddr::V4(v4) => Self {
                label: vip.label.clone(),
                broadcast: vip.brd.map(|b| b.resolve(v4, vip.prefix_len)),
                scope: vip.scope.map(|s| s.number()),
            },
            IpAddr::V6(_) => Self::default(),
        }
    }
}

/// The index of interface `name` in this network namespace, 0 when there is none.
pub fn interface_index(name: &str) -> u32 {
    let Ok(c) = std::ffi::CString::new(name) else {
        return 0;
    };
    // SAFETY: valid C string.
    unsafe { libc::if_nametoindex(c.as_ptr()) }
}

/// Set `net.ipv4.conf.IFACE.KEY`, returning the previous value (to restore it later).
pub fn set_sysctl(iface: &str, key: &str, value: &str) -> Option<String> {
    let path = format!("/proc/sys/net/ipv4/conf/{iface}/{key}");
    let old = std::fs::read_to_string(&path)
        .ok()
        .map(|v| v.trim().to_string());
    if let Err(e) = std::fs::write(&path, value) {
        tracing::warn!(path, error = %e, "sysctl not set");
    }
    old
}

/// The address an address message is about.
pub(crate) fn address_of(msg: &AddressMessage) -> Option<IpAddr> {
    // IFA_LOCAL is the interface's own address on point-to-point links; IFA_ADDRESS otherwise.
    let mut address = None;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(a) => return Some(*a),
            AddressAttribute::Address(a) => address = Some(*a),
            _ => {}
        }
    }
    address
}
