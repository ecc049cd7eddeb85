//! The XDP program proper (compiled only for the BPF target; see `main.rs`).

use core::mem::size_of;

use aya_ebpf::{
    bindings::xdp_action::{XDP_DROP, XDP_PASS},
    helpers::bpf_ktime_get_ns,
    macros::{map, xdp},
    maps::{HashMap, PerCpuArray, RingBuf},
    programs::XdpContext,
};
use vrrp_common::{
    AUTH_PASS, FAMILY_V4, FAMILY_V6, IPPROTO_VRRP, InstanceConfig, InstanceKey, PeerEvent,
    PeerState, TtlBounds, UnicastPeerKey, VRRP_MCAST_V4, VRRP_TTL, counter, csum, event,
    iface_flags, instance_flags,
};

/// Instances this host runs, filled by the daemon.
#[map(name = "INSTANCES")]
static INSTANCES: HashMap<InstanceKey, InstanceConfig> = HashMap::with_max_entries(1024, 0);

/// The last valid advert per instance.
#[map(name = "PEERS")]
static PEERS: HashMap<InstanceKey, PeerState> = HashMap::with_max_entries(1024, 0);

/// Changes the daemon reacts to immediately.
#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(64 * 1024, 0);

/// Per-interface switches (`vrrp_common::iface_flags`).
#[map(name = "IFACES")]
static IFACES: HashMap<u32, u32> = HashMap::with_max_entries(256, 0);

/// Configured unicast peers per instance, with their TTL bounds.
#[map(name = "UNICAST_PEERS")]
static UNICAST_PEERS: HashMap<UnicastPeerKey, TtlBounds> = HashMap::with_max_entries(4096, 0);

/// Receive and drop counters, indexed by `vrrp_common::counter`.
#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

const ETH_HLEN: usize = 14;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_ARP: u16 = 0x0806;
const IPPROTO_ICMPV6: u8 = 58;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const VRRP_HDR_LEN: usize = 8;
const V2_AUTH_LEN: usize = 8;
/// Longest VRRP message in 32-bit words: header and 255 IPv6 addresses.
const MAX_VRRP_WORDS: usize = (VRRP_HDR_LEN + 255 * 16) / 4;
const NS_PER_CS: u64 = 10_000_000;

/// The cheapest possible XDP program, loaded only by the cost benchmark as its baseline
/// (`cargo xtask bench`): the observer's cost on foreign traffic is measured against it.
#[xdp]
pub fn xdp_pass_baseline(_ctx: XdpContext) -> u32 {
    XDP_PASS
}

#[xdp]
pub fn vrrp_xdp(ctx: XdpContext) -> u32 {
    // Any bounds failure means "not an advert we can judge": never drop on our own error.
    observe(&ctx).unwrap_or(XDP_PASS)
}

/// A bounds-checked pointer to `T` at `off` bytes into the frame.
#[inline(always)]
pub(crate) fn ptr_at<T>(ctx: &XdpContext, off: usize) -> Result<*const T, ()> {
    let start = ctx.data();
    if start + off + size_of::<T>() > ctx.data_end() {
        return Err(());
    }
    Ok((start + off) as *const T)
}

#[inline(always)]
pub(crate) fn load<T: Copy>(ctx: &XdpContext, off: usize) -> Result<T, ()> {
    // SAFETY: ptr_at checked that the whole T lies inside the frame; T is plain bytes.
    Ok(unsafe { core::ptr::read_unaligned(ptr_at::<T>(ctx, off)?) })
}

#[inline(always)]
fn be16(ctx: &XdpContext, off: usize) -> Result<u16, ()> {
    Ok(u16::from_be_bytes(load::<[u8; 2]>(ctx, off)?))
}

#[inline(always)]
pub(crate) fn bump(index: u32) {
    if let Some(slot) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        unsafe { *slot += 1 };
    }
}

/// Count a rejected advert and let it through unchanged.
#[inline(always)]
fn reject(ctx: &XdpContext, index: u32) -> Result<u32, ()> {
    bump(index);
    debug_log!(ctx, "VRRP advert rejected: counter {}", index);
    Ok(XDP_PASS)
}

#[inline(always)]
fn observe(ctx: &XdpContext) -> Result<u32, ()> {
    let mut l3 = ETH_HLEN;
    let mut ethertype = be16(ctx, 12)?;
    if ethertype == ETH_P_8021Q || ethertype == ETH_P_8021AD {
        ethertype = be16(ctx, 16)?;
        l3 += 4;
    }
    // Protocol first: everything that is not VRRP leaves after this load.
    if ethertype == ETH_P_IP {
        if load::<u8>(ctx, l3 + 9)? != IPPROTO_VRRP {
            return Ok(XDP_PASS);
        }
        observe_v4(ctx, l3)
    } else if ethertype == ETH_P_IPV6 {
        // Next header must be VRRP (or ICMPv6) directly: extension headers are not walked.
        match load::<u8>(ctx, l3 + 6)? {
            IPPROTO_VRRP => observe_v6(ctx, l3),
            IPPROTO_ICMPV6 => crate::responder::neighbour_solicitation(ctx, l3),
            _ => Ok(XDP_PASS),
        }
    } else if ethertype == ETH_P_ARP {
        crate::responder::arp_request(ctx, l3)
    } else {
        Ok(XDP_PASS)
    }
}

/// What the IP layer tells about an advert, whichever the family.
struct Carrier {
    family: u8,
    /// Source address (IPv4 in the first 4 bytes).
    src: [u8; 16],
    ttl: u8,
    /// Sent to a multicast group (else to one of our unicast addresses).
    multicast: bool,
    /// Offset of the VRRP header in the frame.
    vrrp: usize,
    /// VRRP message length according to the IP header.
    vrrp_len: usize,
    /// Bytes per virtual address.
    addr_len: usize,
    /// One's-complement sum of the pseudo-header with the real destination.
    pseudo: u64,
    /// IPv4 only: the pseudo-header sum with 224.0.0.18 as destination.
    pseudo_old_unicast: u64,
}

// Each header is read through one bounds-checked pointer, fields at constant offsets from it:
// the verifier tracks a variable packet offset per pointer, so recomputing `data + off` for
// every field (after a variable-length IPv4 header) loses the proof that it is in bounds.
#[inline(always)]
fn observe_v4(ctx: &XdpContext, l3: usize) -> Result<u32, ()> {
    let ip = load::<[u8; 20]>(ctx, l3)?;
    if ip[0] >> 4 != 4 {
        return Ok(XDP_PASS);
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ihl < 20 {
        return reject(ctx, counter::PACKET_LEN_ERR);
    }
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
        return reject(ctx, counter::FRAGMENT_ERR);
    }
    let tot_len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if tot_len < ihl || l3 + tot_len > ctx.data_end() - ctx.data() {
        return reject(ctx, counter::PACKET_LEN_ERR);
    }
    let vrrp_len = tot_len - ihl;
    let src = [ip[12], ip[13], ip[14], ip[15]];
    let dst = [ip[16], ip[17], ip[18], ip[19]];
    let base = word_sum(src) + u64::from(IPPROTO_VRRP) + vrrp_len as u64;
    let mut src16 = [0u8; 16];
    src16[..4].copy_from_slice(&src);
    check_and_record(
        ctx,
        Carrier {
            family: FAMILY_V4,
            src: src16,
            ttl: ip[8],
            multicast: dst[0] & 0xf0 == 0xe0,
            vrrp: l3 + ihl,
            vrrp_len,
            addr_len: 4,
            pseudo: base + word_sum(dst),
            pseudo_old_unicast: base + word_sum(VRRP_MCAST_V4),
        },
    )
}

#[inline(always)]
fn observe_v6(ctx: &XdpContext, l3: usize) -> Result<u32, ()> {
    let ip = load::<[u8; 40]>(ctx, l3)?;
    if ip[0] >> 4 != 6 {
        return Ok(XDP_PASS);
    }
    let vrrp_len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    if l3 + 40 + vrrp_len > ctx.data_end() - ctx.data() {
        return reject(ctx, counter::PACKET_LEN_ERR);
    }
    let mut src = [0u8; 16];
    src.copy_from_slice(&ip[8..24]);
    let mut pseudo = u64::from(IPPROTO_VRRP) + vrrp_len as u64;
    let mut i = 8;
    while i < 40 {
        pseudo += word_sum([ip[i], ip[i + 1], ip[i + 2], ip[i + 3]]);
        i += 4;
    }
    check_and_record(
        ctx,
        Carrier {
            family: FAMILY_V6,
            src,
            ttl: ip[7],
            multicast: ip[24] == 0xff,
            vrrp: l3 + 40,
            vrrp_len,
            addr_len: 16,
            pseudo,
            pseudo_old_unicast: pseudo,
        },
    )
}

/// The VRRP-level checks, in keepalived's order (vrrp_check_packet, KEEPALIVED.md §2.4),
/// then the peer record.
#[inline(always)]
fn check_and_record(ctx: &XdpContext, ip: Carrier) -> Result<u32, ()> {
    let Ok(hdr) = load::<[u8; VRRP_HDR_LEN]>(ctx, ip.vrrp) else {
        return reject(ctx, counter::PACKET_LEN_ERR);
    };
    let version_type = hdr[0];
    let vrid = hdr[1];
    let priority = hdr[2];
    let naddr = usize::from(hdr[3]);

    let key = InstanceKey::new(ctx.ingress_ifindex() as u32, vrid, ip.family);
    // SAFETY: the value is plain data; a concurrent update by the daemon can only tear it,
    // which at worst rejects one advert.
    let Some(config) = (unsafe { INSTANCES.get(&key) }) else {
        return reject(ctx, counter::UNKNOWN_VRID);
    };

    let version = version_type >> 4;
    let auth_len = if version == 2 { V2_AUTH_LEN } else { 0 };
    if ip.vrrp_len != VRRP_HDR_LEN + naddr * ip.addr_len + auth_len {
        return reject(ctx, counter::PACKET_LEN_ERR);
    }
    // keepalived: the destination must match the instance's mode; multicast adverts carry
    // TTL 255 (RFC 5798 §5.1.1.3), unicast ones only the peer's optional bounds.
    if config.flags & instance_flags::UNICAST != 0 {
        if ip.multicast {
            return reject(ctx, counter::DEST_MODE_ERR);
        }
        let peer_key = UnicastPeerKey {
            instance: key,
            addr: ip.src,
        };
        // SAFETY: plain data, as above.
        match unsafe { UNICAST_PEERS.get(&peer_key) } {
            None if config.flags & instance_flags::CHECK_UNICAST_SRC != 0 => {
                return reject(ctx, counter::UNICAST_SRC_ERR);
            }
            Some(bounds) if ip.ttl < bounds.min_ttl || ip.ttl > bounds.max_ttl => {
                return reject(ctx, counter::IP_TTL_ERR);
            }
            _ => {}
        }
    } else {
        if !ip.multicast {
            return reject(ctx, counter::DEST_MODE_ERR);
        }
        if ip.ttl != VRRP_TTL {
            return reject(ctx, counter::IP_TTL_ERR);
        }
    }
    if version != config.version {
        return reject(ctx, counter::VERSION_ERR);
    }
    let adver_int_cs = if version == 2 {
        let (auth_type, adver_int) = (hdr[4], hdr[5]);
        if auth_type != config.auth_type {
            return reject(ctx, counter::AUTH_FAILURE);
        }
        if auth_type == AUTH_PASS {
            let pass = load::<[u8; 8]>(ctx, ip.vrrp + VRRP_HDR_LEN + naddr * ip.addr_len)?;
            if pass != config.auth_pass {
                return reject(ctx, counter::AUTH_FAILURE);
            }
        }
        if adver_int != config.adver_int_secs {
            return reject(ctx, counter::ADVER_INT_ERR);
        }
        u16::from(adver_int) * 100
    } else {
        u16::from_be_bytes([hdr[4], hdr[5]]) & 0x0fff
    };
    if version_type & 0x0f != 1 {
        return reject(ctx, counter::INVALID_TYPE);
    }

    let message = ones_sum(ctx, ip.vrrp, ip.vrrp_len / 4)?;
    let csum_flavour = if version == 2 {
        if fold(message) != 0xffff {
            return reject(ctx, counter::CHECKSUM_ERR);
        }
        csum::V2
    } else if fold(message + ip.pseudo) == 0xffff {
        csum::V3_PSEUDO
    } else if ip.family == FAMILY_V4 && fold(message) == 0xffff {
        csum::V3_MESSAGE_ONLY
    } else if ip.family == FAMILY_V4 && fold(message + ip.pseudo_old_unicast) == 0xffff {
        csum::V3_OLD_UNICAST
    } else {
        return reject(ctx, counter::CHECKSUM_ERR);
    };

    record(
        key,
        PeerState {
            last_seen_ns: 0,
            adverts: 0,
            addr: ip.src,
            adver_int_cs,
            priority,
            version,
            csum_flavour,
            _pad: [0; 3],
        },
    );
    bump(counter::ADVERT_RCVD);
    debug_log!(
        ctx,
        "VRRP advert accepted: ifindex {} vrid {} priority {}",
        key.ifindex,
        key.vrid,
        priority
    );
    // SAFETY: plain data.
    let switches = unsafe { IFACES.get(&key.ifindex) }.copied().unwrap_or(0);
    if switches & iface_flags::CONSUME_ADVERTS != 0 {
        return Ok(XDP_DROP);
    }
    Ok(XDP_PASS)
}

/// Update the peer record and tell the daemon what changed, if anything did.
#[inline(always)]
fn record(key: InstanceKey, mut seen: PeerState) {
    // SAFETY: bpf_ktime_get_ns has no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    seen.last_seen_ns = now;
    let mut flags = 0;
    match PEERS.get_ptr_mut(&key) {
        Some(prev) => {
            // SAFETY: the map value pointer is valid for this program run.
            let prev = unsafe { &mut *prev };
            if prev.priority != seen.priority {
                flags |= event::PRIORITY_CHANGED;
            }
            if prev.addr != seen.addr {
                flags |= event::SOURCE_CHANGED;
            }
            if prev.adver_int_cs != seen.adver_int_cs {
                flags |= event::INTERVAL_CHANGED;
            }
            let silence = 3 * u64::from(prev.adver_int_cs) * NS_PER_CS;
            if now.wrapping_sub(prev.last_seen_ns) > silence {
                flags |= event::RETURNED;
            }
            seen.adverts = prev.adverts + 1;
            *prev = seen;
        }
        None => {
            flags |= event::NEW_PEER;
            seen.adverts = 1;
            if PEERS.insert(&key, &seen, 0).is_err() {
                return;
            }
        }
    }
    if seen.priority == 0 {
        flags |= event::PRIORITY_ZERO;
    }
    if flags != 0 {
        let ev = PeerEvent {
            key,
            flags,
            _pad: 0,
            peer: seen,
        };
        if EVENTS.output::<PeerEvent>(&ev, 0).is_err() {
            bump(counter::EVENT_LOST);
        }
    }
}

/// Sum of the big-endian 32-bit words of the VRRP message (RFC 1071, folded later).
#[inline(always)]
fn ones_sum(ctx: &XdpContext, start: usize, words: usize) -> Result<u64, ()> {
    let mut sum = 0u64;
    let data = ctx.data();
    let end = ctx.data_end();
    for i in 0..MAX_VRRP_WORDS {
        if i >= words {
            break;
        }
        let p = data + start + i * 4;
        if p + 4 > end {
            return Err(());
        }
        // SAFETY: the four bytes at p were just checked to be inside the frame.
        let word = unsafe { core::ptr::read_unaligned(p as *const [u8; 4]) };
        sum += u64::from(u32::from_be_bytes(word));
    }
    Ok(sum)
}

#[inline(always)]
pub(crate) fn word_sum(addr: [u8; 4]) -> u64 {
    u64::from(u32::from_be_bytes(addr))
}

/// Fold a wide one's-complement sum to 16 bits; four rounds cover any u64.
#[inline(always)]
pub(crate) fn fold(mut sum: u64) -> u64 {
    sum = (sum & 0xffff_ffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    (sum & 0xffff) + (sum >> 16)
}
