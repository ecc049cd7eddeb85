//! The layouts that the XDP program (`vrrp-ebpf`) and the daemon (`vrrp-daemon`) both read.
//!
//! Everything here is `#[repr(C)]` plain old data with explicit padding, so that the bytes the
//! kernel writes into a map are exactly the bytes the daemon reads back. With the `user`
//! feature, `bytemuck`'s derive rejects any implicit padding at compile time and the types
//! implement `aya::Pod`. Nothing here may use `bool`, enums or `Option`: they are not valid
//! for every bit pattern a map can hold.
#![no_std]
#![deny(missing_docs)]

use core::mem::size_of;

/// IP protocol number of VRRP (RFC 5798 §5.1.1.4).
pub const IPPROTO_VRRP: u8 = 112;
/// The TTL / hop limit every multicast advert must carry (RFC 5798 §5.1.1.3).
pub const VRRP_TTL: u8 = 255;
/// IPv4 multicast group of VRRP.
pub const VRRP_MCAST_V4: [u8; 4] = [224, 0, 0, 18];

/// Address family tag used in [`InstanceKey::family`]: IPv4.
pub const FAMILY_V4: u8 = 4;
/// Address family tag used in [`InstanceKey::family`]: IPv6.
pub const FAMILY_V6: u8 = 6;

/// Names of the BPF maps, as the daemon looks them up in the loaded object.
pub mod maps {
    /// `HashMap<InstanceKey, InstanceConfig>`: which VRIDs this host runs, per interface.
    pub const INSTANCES: &str = "INSTANCES";
    /// `HashMap<InstanceKey, PeerState>`: the last valid advert seen per instance.
    pub const PEERS: &str = "PEERS";
    /// `RingBuf` of [`crate::PeerEvent`]: changes the daemon must react to at once.
    pub const EVENTS: &str = "EVENTS";
    /// `PerCpuArray<u64>` indexed by [`crate::counter`]: why packets were dropped.
    pub const COUNTERS: &str = "COUNTERS";
    /// `HashMap<UnicastPeerKey, TtlBounds>`: the configured `unicast_peer`s of each
    /// instance, with their TTL bounds.
    pub const UNICAST_PEERS: &str = "UNICAST_PEERS";
    /// `HashMap<VipKeyV4, VipOwner>`: the IPv4 virtual addresses this host owns now; the
    /// XDP program answers ARP requests for them. Separate from [`VIPS_V6`] so that the
    /// ARP path hashes and compares an 8-byte key, not a 20-byte one.
    pub const VIPS_V4: &str = "VIPS_V4";
    /// `HashMap<VipKeyV6, VipOwner>`: the IPv6 virtual addresses this host owns now; the
    /// XDP program answers neighbour solicitations for them.
    pub const VIPS_V6: &str = "VIPS_V6";
    /// `HashMap<u32, u32>`: per-interface switches (ifindex → [`crate::iface_flags`]).
    pub const IFACES: &str = "IFACES";
    /// `Array<u64>` of one slot: the daemon's heartbeat (CLOCK_MONOTONIC ns). The responder
    /// stops answering for a VIP once it is older than that VIP's `max_silence_ns`.
    pub const HEARTBEAT: &str = "HEARTBEAT";
}

/// An IPv4 virtual address on an interface, key of the `VIPS_V4` map. Eight bytes, no
/// padding: the ARP responder builds it from two loads and the kernel hashes two words.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct VipKeyV4 {
    /// The interface the address is configured on (requests on others are not answered).
    pub ifindex: u32,
    /// The address, in network order as on the wire.
    pub addr: [u8; 4],
}

/// An IPv6 virtual address on an interface, key of the `VIPS_V6` map.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct VipKeyV6 {
    /// The interface the address is configured on (solicitations on others are not
    /// answered).
    pub ifindex: u32,
    /// The address, in network order as on the wire.
    pub addr: [u8; 16],
}

/// How to answer for an owned virtual address.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct VipOwner {
    /// Heartbeats older than this (the instance's master-down interval) mean the daemon is
    /// frozen or dead: stop answering, so traffic follows the backup that takes over.
    pub max_silence_ns: u64,
    /// The hardware address to answer with (the interface's, or the VMAC).
    pub mac: [u8; 6],
    /// Explicit padding; always zero.
    pub _pad: [u8; 2],
}

/// Name of the XDP program inside the object.
pub const XDP_PROGRAM: &str = "vrrp_xdp";
/// A trivial `XDP_PASS` program in the same object: the baseline of the cost benchmark.
pub const XDP_BASELINE_PROGRAM: &str = "xdp_pass_baseline";

/// Identifies one VRRP instance as the wire sees it: the receiving interface, the VRID and
/// the address family (two instances may share a VRID across families, RFC 5798 §5.2.3).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct InstanceKey {
    /// Interface index the advert arrived on.
    pub ifindex: u32,
    /// Virtual router identifier, 1..=255.
    pub vrid: u8,
    /// [`FAMILY_V4`] or [`FAMILY_V6`].
    pub family: u8,
    /// Explicit padding; always zero.
    pub _pad: [u8; 2],
}

impl InstanceKey {
    /// A key with its padding zeroed, as map lookups require.
    pub const fn new(ifindex: u32, vrid: u8, family: u8) -> Self {
        Self {
            ifindex,
            vrid,
            family,
            _pad: [0; 2],
        }
    }
}

/// What the XDP program needs to validate adverts of one instance before it records them.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct InstanceConfig {
    /// VRRP version the instance runs: 2 or 3. Adverts of another version are dropped.
    pub version: u8,
    /// VRRPv2 authentication type: [`AUTH_NONE`] or [`AUTH_PASS`].
    pub auth_type: u8,
    /// VRRPv2 only: the configured advert interval in seconds; RFC 3768 §7.1 drops others.
    pub adver_int_secs: u8,
    /// Bit set of [`instance_flags`].
    pub flags: u8,
    /// VRRPv2 PASS key, zero-padded to 8 bytes as on the wire.
    pub auth_pass: [u8; 8],
}

/// Bits of the per-interface switches in the `IFACES` map.
pub mod iface_flags {
    /// Valid adverts are dropped after being recorded instead of passed on: the stack and
    /// `tcpdump` no longer see them (off by default).
    pub const CONSUME_ADVERTS: u32 = 1 << 0;
}

/// Bits of [`InstanceConfig::flags`].
pub mod instance_flags {
    /// The instance talks unicast (`unicast_peer`): adverts must come to a unicast address,
    /// and the TTL-255 rule is replaced by the peers' optional `min_ttl` / `max_ttl`.
    pub const UNICAST: u8 = 1 << 0;
    /// `check_unicast_src`: drop unicast adverts whose source is not a configured peer.
    pub const CHECK_UNICAST_SRC: u8 = 1 << 1;
}

/// Key of the `UNICAST_PEERS` map: a peer address of an instance.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct UnicastPeerKey {
    /// The instance.
    pub instance: InstanceKey,
    /// The peer's address; IPv4 uses the first 4 bytes.
    pub addr: [u8; 16],
}

/// TTL / hop-limit bounds a unicast peer's adverts must respect (`min_ttl`, `max_ttl`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct TtlBounds {
    /// Lowest accepted TTL (0 = no bound).
    pub min_ttl: u8,
    /// Highest accepted TTL (255 = no bound).
    pub max_ttl: u8,
    /// Explicit padding; always zero.
    pub _pad: [u8; 2],
}

/// VRRPv2 authentication type 0: none.
pub const AUTH_NONE: u8 = 0;
/// VRRPv2 authentication type 1: simple text password (RFC 2338).
pub const AUTH_PASS: u8 = 1;

/// The last valid advert seen for an instance: who is speaking and with what priority.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct PeerState {
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) when the last valid advert arrived.
    pub last_seen_ns: u64,
    /// Valid adverts counted since the entry was created.
    pub adverts: u64,
    /// Source address of the last advert; IPv4 uses the first 4 bytes.
    pub addr: [u8; 16],
    /// Advertised interval in centiseconds (VRRPv2 seconds are converted).
    pub adver_int_cs: u16,
    /// Advertised priority; 0 means the master is leaving.
    pub priority: u8,
    /// VRRP version of the advert.
    pub version: u8,
    /// Which checksum form the peer used: one of [`csum`].
    pub csum_flavour: u8,
    /// Explicit padding; always zero.
    pub _pad: [u8; 3],
}

/// Checksum forms seen on the wire (KEEPALIVED.md §2.5).
pub mod csum {
    /// VRRPv2: over the VRRP message only.
    pub const V2: u8 = 0;
    /// VRRPv3 over IPv4 with the pseudo-header of the real destination (RFC 5798).
    pub const V3_PSEUDO: u8 = 1;
    /// VRRPv3 over IPv4 over the message only (Cisco, Juniper, RFC 9568).
    pub const V3_MESSAGE_ONLY: u8 = 2;
    /// VRRPv3 over IPv4, pseudo-header with 224.0.0.18 even for unicast (keepalived ≤ 1.3.6).
    pub const V3_OLD_UNICAST: u8 = 3;
}

/// A change the daemon must hear about now rather than at its next deadline.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "user", derive(bytemuck::Pod, bytemuck::Zeroable))]
pub struct PeerEvent {
    /// The instance the advert belongs to.
    pub key: InstanceKey,
    /// Bit set of [`event`] flags saying what changed.
    pub flags: u32,
    /// Explicit padding; always zero.
    pub _pad: u32,
    /// The peer record after the advert was applied.
    pub peer: PeerState,
}

/// Bits of [`PeerEvent::flags`].
pub mod event {
    /// First advert ever seen for this instance.
    pub const NEW_PEER: u32 = 1 << 0;
    /// The advertised priority differs from the previous advert.
    pub const PRIORITY_CHANGED: u32 = 1 << 1;
    /// The advert came from another address than the previous one.
    pub const SOURCE_CHANGED: u32 = 1 << 2;
    /// Priority 0: the master is resigning (RFC 5798 §6.4.3).
    pub const PRIORITY_ZERO: u32 = 1 << 3;
    /// The advertised interval changed (a VRRPv3 backup adopts it).
    pub const INTERVAL_CHANGED: u32 = 1 << 4;
    /// The peer was silent for longer than three of its intervals and is back.
    pub const RETURNED: u32 = 1 << 5;
}

/// Indices of the per-CPU drop and receive counters, named as keepalived's statistics.
pub mod counter {
    /// Valid adverts recorded.
    pub const ADVERT_RCVD: u32 = 0;
    /// TTL was not 255.
    pub const IP_TTL_ERR: u32 = 1;
    /// VRRP version was not the instance's.
    pub const VERSION_ERR: u32 = 2;
    /// VRRP type was not 1 (advertisement).
    pub const INVALID_TYPE: u32 = 3;
    /// Lengths did not match the address count, or the packet was truncated.
    pub const PACKET_LEN_ERR: u32 = 4;
    /// Checksum did not verify in any accepted form.
    pub const CHECKSUM_ERR: u32 = 5;
    /// No instance runs this VRID on this interface and family.
    pub const UNKNOWN_VRID: u32 = 6;
    /// VRRPv2 authentication type or password mismatch.
    pub const AUTH_FAILURE: u32 = 7;
    /// VRRPv2 advert interval differs from the configured one.
    pub const ADVER_INT_ERR: u32 = 8;
    /// IPv4 fragment carrying VRRP (never valid).
    pub const FRAGMENT_ERR: u32 = 9;
    /// The event ring buffer was full; the daemon still sees the change at its deadline.
    pub const EVENT_LOST: u32 = 10;
    /// Multicast advert for a unicast instance, or unicast advert for a multicast one.
    pub const DEST_MODE_ERR: u32 = 11;
    /// `check_unicast_src`: the source is not one of the instance's `unicast_peer`s.
    pub const UNICAST_SRC_ERR: u32 = 12;
    /// ARP requests for an owned VIP answered in XDP.
    pub const ARP_REPLIED: u32 = 13;
    /// Neighbour solicitations for an owned VIP answered in XDP.
    pub const NA_SENT: u32 = 14;
    /// Requests for an owned VIP dropped because the daemon's heartbeat is stale.
    pub const STALE_DROPPED: u32 = 15;
    /// Number of counters.
    pub const COUNT: u32 = 16;
    /// Human names, indexed like the constants above.
    pub const NAMES: [&str; COUNT as usize] = [
        "advert_rcvd",
        "ip_ttl_err",
        "version_err",
        "invalid_type",
        "packet_len_err",
        "checksum_err",
        "unknown_vrid",
        "auth_failure",
        "adver_int_err",
        "fragment_err",
        "event_lost",
        "dest_mode_err",
        "unicast_src_err",
        "arp_replied",
        "na_sent",
        "stale_dropped",
    ];
}

const _: () = assert!(size_of::<InstanceKey>() == 8);
const _: () = assert!(size_of::<InstanceConfig>() == 12);
const _: () = assert!(size_of::<PeerState>() == 40);
const _: () = assert!(size_of::<PeerEvent>() == 56);
const _: () = assert!(size_of::<UnicastPeerKey>() == 24);
const _: () = assert!(size_of::<TtlBounds>() == 4);
const _: () = assert!(size_of::<VipKeyV4>() == 8);
const _: () = assert!(size_of::<VipKeyV6>() == 20);
const _: () = assert!(size_of::<VipOwner>() == 16);

#[cfg(feature = "user")]
mod pod {
    // SAFETY: each type is repr(C), has no padding (checked by bytemuck's derive) and every
    // bit pattern is valid.
    unsafe impl aya::Pod for super::InstanceKey {}
    unsafe impl aya::Pod for super::InstanceConfig {}
    unsafe impl aya::Pod for super::PeerState {}
    unsafe impl aya::Pod for super::PeerEvent {}
    unsafe impl aya::Pod for super::UnicastPeerKey {}
    unsafe impl aya::Pod for super::TtlBounds {}
    unsafe impl aya::Pod for super::VipKeyV4 {}
    unsafe impl aya::Pod for super::VipKeyV6 {}
    unsafe impl aya::Pod for super::VipOwner {}
}
