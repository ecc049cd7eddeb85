//! The XDP program's receive checks, mirrored in userspace.
//!
//! [`classify`] takes a whole Ethernet frame and says what the XDP observer does with it:
//! not an advert it can judge (passed untouched), rejected with which counter, or accepted
//! with what it records. It follows the program's order check for check, so the
//! differential test can feed both the same corpus (and random mutations of it) and demand
//! the same verdict and the same reason for every frame. [`respond_arp`] does the same for
//! the ARP responder: whether a frame is answered, dropped by the liveness gate or left to
//! the kernel, and the exact bytes of the answer. Keep the two in step.
use vrrp_common::{
    AUTH_PASS, FAMILY_V4, FAMILY_V6, IPPROTO_VRRP, InstanceConfig, InstanceKey, TtlBounds,
    UnicastPeerKey, VRRP_MCAST_V4, VRRP_TTL, VipKeyV4, VipOwner, counter, csum, instance_flags,
};

use super::{checksum, pseudo_header_sum, pseudo_header_sum_v6};

/// What the observer does with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a VRRP advert it can judge (other protocol, cut short before the VRRP
    /// header): passed with no counter.
    NotAdvert,
    /// Rejected; the counter (one of [`vrrp_common::counter`]) that moves.
    Rejected(u32),
    /// Recorded as the instance's peer.
    Accepted {
        /// The instance.
        key: InstanceKey,
        /// Advertised priority.
        priority: u8,
        /// Interval in centiseconds.
        adver_int_cs: u16,
        /// Checksum form ([`vrrp_common::csum`]).
        csum_flavour: u8,
    },
}

/// The maps the observer consults.
pub trait Lookup {
    /// `INSTANCES`.
    fn instance(&self, key: &InstanceKey) -> Option<InstanceConfig>;
    /// `UNICAST_PEERS`.
    fn unicast_peer(&self, key: &UnicastPeerKey) -> Option<TtlBounds>;
}

/// Classify `frame` as received on `ifindex`.
pub fn classify(frame: &[u8], ifindex: u32, maps: &impl Lookup) -> Verdict {
    let Some(mut ethertype) = be16(frame, 12) else {
        return Verdict::NotAdvert;
    };
    let mut l3 = 14;
    if ethertype == 0x8100 || ethertype == 0x88a8 {
        let Some(inner) = be16(frame, 16) else {
            return Verdict::NotAdvert;
        };
        ethertype = inner;
        l3 = 18;
    }
    match ethertype {
        0x0800 if frame.get(l3 + 9) == Some(&IPPROTO_VRRP) => v4(frame, l3, ifindex, maps),
        0x86dd if frame.get(l3 + 6) == Some(&IPPROTO_VRRP) => v6(frame, l3, ifindex, maps),
        _ => Verdict::NotAdvert,
    }
}

struct Carrier {
    family: u8,
    src: [u8; 16],
    ttl: u8,
    multicast: bool,
    vrrp: usize,
    vrrp_len: usize,
    addr_len: usize,
    /// Pseudo-header partial sums: real destination, and 224.0.0.18 (IPv4).
    pseudo: u32,
    pseudo_old_unicast: u32,
}

fn v4(frame: &[u8], l3: usize, ifindex: u32, maps: &impl Lookup) -> Verdict {
    let Some(ip) = frame.get(l3..l3 + 20) else {
        return Verdict::NotAdvert;
    };
    if ip[0] >> 4 != 4 {
        return Verdict::NotAdvert;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ihl < 20 {
        return Verdict::Rejected(counter::PACKET_LEN_ERR);
    }
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
        return Verdict::Rejected(counter::FRAGMENT_ERR);
    }
    let tot_len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    if tot_len < ihl || l3 + tot_len > frame.len() {
        return Verdict::Rejected(counter::PACKET_LEN_ERR);
    }
    let vrrp_len = tot_len - ihl;
    let addr = |at: usize| std::net::Ipv4Addr::new(ip[at], ip[at + 1], ip[at + 2], ip[at + 3]);
    let (src, dst) = (addr(12), addr(16));
    let mut src16 = [0u8; 16];
    src16[..4].copy_from_slice(&src.octets());
    check(
        frame,
        ifindex,
        maps,
        Carrier {
            family: FAMILY_V4,
            src: src16,
            ttl: ip[8],
            multicast: dst.is_multicast(),
            vrrp: l3 + ihl,
            vrrp_len,
            addr_len: 4,
            pseudo: pseudo_header_sum(src, dst, vrrp_len),
            pseudo_old_unicast: pseudo_header_sum(src, VRRP_MCAST_V4.into(), vrrp_len),
        },
    )
}

fn v6(frame: &[u8], l3: usize, ifindex: u32, maps: &impl Lookup) -> Verdict {
    let Some(ip) = frame.get(l3..l3 + 40) else {
        return Verdict::NotAdvert;
    };
    if ip[0] >> 4 != 6 {
        return Verdict::NotAdvert;
    }
    let vrrp_len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    if l3 + 40 + vrrp_len > frame.len() {
        return Verdict::Rejected(counter::PACKET_LEN_ERR);
    }
    let mut src = [0u8; 16];
    src.copy_from_slice(&ip[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&ip[24..40]);
    let pseudo = pseudo_header_sum_v6(src.into(), dst.into(), vrrp_len);
    check(
        frame,
        ifindex,
        maps,
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

fn check(frame: &[u8], ifindex: u32, maps: &impl Lookup, ip: Carrier) -> Verdict {
    use Verdict::Rejected;
    let Some(hdr) = frame.get(ip.vrrp..ip.vrrp + 8) else {
        return Rejected(counter::PACKET_LEN_ERR);
    };
    let key = InstanceKey::new(ifindex, hdr[1], ip.family);
    let Some(config) = maps.instance(&key) else {
        return Rejected(counter::UNKNOWN_VRID);
    };
    let version = hdr[0] >> 4;
    let naddr = usize::from(hdr[3]);
    let auth_len = if version == 2 { 8 } else { 0 };
    if ip.vrrp_len != 8 + naddr * ip.addr_len + auth_len {
        return Rejected(counter::PACKET_LEN_ERR);
    }
    if config.flags & instance_flags::UNICAST != 0 {
        if ip.multicast {
            return Rejected(counter::DEST_MODE_ERR);
        }
        let peer = maps.unicast_peer(&UnicastPeerKey {
            instance: key,
            addr: ip.src,
        });
        match peer {
            None if config.flags & instance_flags::CHECK_UNICAST_SRC != 0 => {
                return Rejected(counter::UNICAST_SRC_ERR);
            }
            Some(b) if ip.ttl < b.min_ttl || ip.ttl > b.max_ttl => {
                return Rejected(counter::IP_TTL_ERR);
            }
            _ => {}
        }
    } else {
        if !ip.multicast {
            return Rejected(counter::DEST_MODE_ERR);
        }
        if ip.ttl != VRRP_TTL {
            return Rejected(counter::IP_TTL_ERR);
        }
    }
    if version != config.version {
        return Rejected(counter::VERSION_ERR);
    }
    let adver_int_cs = if version == 2 {
        if hdr[4] != config.auth_type {
            return Rejected(counter::AUTH_FAILURE);
        }
        if hdr[4] == AUTH_PASS {
            let at = ip.vrrp + 8 + naddr * ip.addr_len;
            match frame.get(at..at + 8) {
                Some(pass) if pass == config.auth_pass => {}
                Some(_) => return Rejected(counter::AUTH_FAILURE),
                None => return Verdict::NotAdvert,
            }
        }
        if hdr[5] != config.adver_int_secs {
            return Rejected(counter::ADVER_INT_ERR);
        }
        u16::from(hdr[5]) * 100
    } else {
        u16::from_be_bytes([hdr[4], hdr[5]]) & 0x0fff
    };
    if hdr[0] & 0x0f != 1 {
        return Rejected(counter::INVALID_TYPE);
    }
    let message = &frame[ip.vrrp..ip.vrrp + ip.vrrp_len];
    let csum_flavour = if version == 2 {
        if checksum(message, 0) != 0 {
            return Rejected(counter::CHECKSUM_ERR);
        }
        csum::V2
    } else if checksum(message, ip.pseudo) == 0 {
        csum::V3_PSEUDO
    } else if ip.family == FAMILY_V4 && checksum(message, 0) == 0 {
        csum::V3_MESSAGE_ONLY
    } else if ip.family == FAMILY_V4 && checksum(message, ip.pseudo_old_unicast) == 0 {
        csum::V3_OLD_UNICAST
    } else {
        return Rejected(counter::CHECKSUM_ERR);
    };
    Verdict::Accepted {
        key,
        priority: hdr[2],
        adver_int_cs,
        csum_flavour,
    }
}

fn be16(frame: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]))
}

/// What the ARP responder does with a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArpVerdict {
    /// Not an ARP request for an IPv4 VIP owned on this interface: passed untouched, no
    /// counter.
    Pass,
    /// A request for an owned VIP while the daemon's heartbeat is older than the VIP's
    /// `max_silence_ns`: dropped, `stale_dropped` counted.
    Stale,
    /// Answered in place (`XDP_TX`): the frame as sent back; `arp_replied` counted.
    Reply(Vec<u8>),
}

/// The `VIPS_V4` map, as the responder consults it.
pub trait VipLookup {
    /// The owner of an IPv4 VIP on an interface, if this host owns it.
    fn vip_v4(&self, key: &VipKeyV4) -> Option<VipOwner>;
}

/// What the XDP program does with `frame` received on `ifindex` when it is not an advert
/// (see [`classify`]), `silence_ns` after the daemon's last heartbeat: the same dispatch
/// (802.1Q / 802.1ad tag, EtherType ARP), the same checks in the same order.
pub fn respond_arp(
    frame: &[u8],
    ifindex: u32,
    vips: &impl VipLookup,
    silence_ns: u64,
) -> ArpVerdict {
    let Some(mut ethertype) = be16(frame, 12) else {
        return ArpVerdict::Pass;
    };
    let mut l3 = 14;
    if ethertype == 0x8100 || ethertype == 0x88a8 {
        let Some(inner) = be16(frame, 16) else {
            return ArpVerdict::Pass;
        };
        ethertype = inner;
        l3 = 18;
    }
    if ethertype != 0x0806 {
        return ArpVerdict::Pass;
    }
    let Some(arp) = frame.get(l3..l3 + 28) else {
        return ArpVerdict::Pass;
    };
    // Ethernet / IPv4 / 6 / 4 / request, and not a gratuitous ARP (sender = target).
    if arp[..8] != [0, 1, 0x08, 0x00, 6, 4, 0, 1] || arp[14..18] == arp[24..28] {
        return ArpVerdict::Pass;
    }
    let mut addr = [0u8; 4];
    addr.copy_from_slice(&arp[24..28]);
    let Some(owner) = vips.vip_v4(&VipKeyV4 { ifindex, addr }) else {
        return ArpVerdict::Pass;
    };
    if silence_ns > owner.max_silence_ns {
        return ArpVerdict::Stale;
    }
    let mut reply = frame.to_vec();
    // Ethernet: back to the sender, from the VIP's MAC.
    reply[0..6].copy_from_slice(&arp[8..14]);
    reply[6..12].copy_from_slice(&owner.mac);
    // ARP reply: "the target address is at our MAC", to the sender.
    let at = |field: usize| l3 + field;
    reply[at(6)..at(8)].copy_from_slice(&[0, 2]);
    reply[at(8)..at(14)].copy_from_slice(&owner.mac);
    reply[at(14)..at(18)].copy_from_slice(&arp[24..28]);
    reply[at(18)..at(24)].copy_from_slice(&arp[8..14]);
    reply[at(24)..at(28)].copy_from_slice(&arp[14..18]);
    ArpVerdict::Reply(reply)
}
