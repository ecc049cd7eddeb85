//! VRRP advert encoding and decoding (RFC 3768 §5, RFC 5798 §5) and the gratuitous ARP frame.
//!
//! Pure functions over byte slices: no sockets here. The XDP program validates received
//! adverts in the kernel; [`decode_v4`] applies the same rules in userspace so tests can check
//! that both sides agree on a packet corpus.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | v2: Auth Type | v2: Adver Int |          Checksum             |
//! | v3: (rsvd)|  Max Adver Int    |                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IPvX Address(es)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          v2 only: Authentication Data (8 bytes)               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub mod classify;

use thiserror::Error;
use vrrp_common::{IPPROTO_VRRP, VRRP_MCAST_V4, csum};

use crate::units::Centiseconds;

/// Length of the fixed VRRP header.
pub const HEADER_LEN: usize = 8;
/// Length of the VRRPv2 authentication trailer.
pub const V2_AUTH_LEN: usize = 8;

/// VRRPv2 authentication as carried in the advert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V2Auth {
    /// Type 0.
    None,
    /// Type 1: the 8-byte key, zero-padded.
    Pass([u8; 8]),
}

/// A VRRP advertisement: version 2 (IPv4) or 3 (IPv4 or IPv6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    /// 2 or 3.
    pub version: u8,
    /// Virtual router id.
    pub vrid: u8,
    /// Sender priority; 0 = resigning master.
    pub priority: u8,
    /// Advert interval. VRRPv2 carries whole seconds, so it must be a multiple of 100 cs.
    pub adver_int: Centiseconds,
    /// VRRPv2 authentication (ignored for v3).
    pub auth: V2Auth,
    /// The virtual addresses, all of one family (the packet's).
    pub addrs: Vec<IpAddr>,
}

/// Which checksum form to transmit for VRRPv3 over IPv4 (KEEPALIVED.md §2.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum V3Checksum {
    /// RFC 5798: pseudo-header + message (keepalived's default).
    #[default]
    PseudoHeader,
    /// RFC 9568 / Cisco / Juniper: message only.
    MessageOnly,
    /// keepalived ≤ 1.3.6 unicast: pseudo-header with 224.0.0.18 whatever the destination.
    OldUnicast,
}

/// Why an advert was rejected; the variants mirror the XDP program's counters.
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the header or than its address count says, or longer.
    #[error("length does not match the address count")]
    Length,
    /// Not version 2 or 3.
    #[error("unsupported VRRP version {0}")]
    Version(u8),
    /// Type other than 1 (advertisement).
    #[error("VRRP type {0} is not an advertisement")]
    Type(u8),
    /// Checksum verified in none of the accepted forms.
    #[error("bad checksum")]
    Checksum,
}

impl Advert {
    /// Length of the encoded message.
    pub fn len(&self) -> usize {
        let addr_len = match self.addrs.first() {
            Some(IpAddr::V6(_)) => 16,
            _ => 4,
        };
        HEADER_LEN
            + self.addrs.len().min(255) * addr_len
            + if self.version == 2 { V2_AUTH_LEN } else { 0 }
    }

    /// Never true: an advert always has a header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Encode the VRRP message (the payload of the IP packet) with its checksum.
    ///
    /// `src`/`dst` are the addresses the packet will carry; they enter the VRRPv3
    /// pseudo-header checksum (always for IPv6, RFC 5798 §5.2.8; for IPv4 unless
    /// `v3_csum` says message-only).
    pub fn encode(&self, src: IpAddr, dst: IpAddr, v3_csum: V3Checksum) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        out.push((self.version << 4) | 1);
        out.push(self.vrid);
        out.push(self.priority);
        out.push(u8::try_from(self.addrs.len()).unwrap_or(u8::MAX));
        if self.version == 2 {
            let (auth_type, _) = self.auth_parts();
            out.push(auth_type);
            out.push(u8::try_from(self.adver_int.0 / 100).unwrap_or(u8::MAX));
        } else {
            let cs = u16::try_from(self.adver_int.0.min(0x0fff)).unwrap_or(0x0fff);
            out.extend_from_slice(&cs.to_be_bytes());
        }
        out.extend_from_slice(&[0, 0]);
        for addr in self.addrs.iter().take(255) {
            match addr {
                IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
                IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
            }
        }
        if self.version == 2 {
            out.extend_from_slice(&self.auth_parts().1);
        }
        let sum = match (src, dst) {
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                checksum(&out, pseudo_header_sum_v6(src, dst, out.len()))
            }
            (IpAddr::V4(src), IpAddr::V4(dst)) if self.version == 3 => match v3_csum {
                V3Checksum::PseudoHeader => checksum(&out, pseudo_header_sum(src, dst, out.len())),
                V3Checksum::OldUnicast => checksum(
                    &out,
                    pseudo_header_sum(src, Ipv4Addr::from(VRRP_MCAST_V4), out.len()),
                ),
                V3Checksum::MessageOnly => checksum(&out, 0),
            },
            _ => checksum(&out, 0),
        };
        out[6..8].copy_from_slice(&sum.to_be_bytes());
        out
    }

    fn auth_parts(&self) -> (u8, [u8; 8]) {
        match self.auth {
            V2Auth::None => (0, [0; 8]),
            V2Auth::Pass(key) => (1, key),
        }
    }
}

/// Decode and verify the VRRP message of an IP packet from `src` to `dst`.
///
/// Returns the advert and the checksum form it used (one of [`vrrp_common::csum`]).
pub fn decode(msg: &[u8], src: IpAddr, dst: IpAddr) -> Result<(Advert, u8), DecodeError> {
    if msg.len() < HEADER_LEN {
        return Err(DecodeError::Length);
    }
    let version = msg[0] >> 4;
    let kind = msg[0] & 0x0f;
    let count = usize::from(msg[3]);
    let v6 = src.is_ipv6();
    let addr_len = if v6 { 16 } else { 4 };
    let auth_len = match (version, v6) {
        (2, false) => V2_AUTH_LEN,
        (3, _) => 0,
        (v, _) => return Err(DecodeError::Version(v)),
    };
    if msg.len() != HEADER_LEN + count * addr_len + auth_len {
        return Err(DecodeError::Length);
    }
    if kind != 1 {
        return Err(DecodeError::Type(kind));
    }
    let flavour = match (src, dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            if checksum(msg, pseudo_header_sum_v6(s, d, msg.len())) != 0 {
                return Err(DecodeError::Checksum);
            }
            csum::V3_PSEUDO
        }
        (IpAddr::V4(s), IpAddr::V4(d)) => v4_flavour(msg, version, s, d)?,
        _ => return Err(DecodeError::Checksum),
    };
    let addrs_end = HEADER_LEN + count * addr_len;
    let addrs = msg[HEADER_LEN..addrs_end]
        .chunks_exact(addr_len)
        .map(|c| match <[u8; 16]>::try_from(c) {
            Ok(b) => IpAddr::V6(Ipv6Addr::from(b)),
            Err(_) => IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])),
        })
        .collect();
    let (adver_int, auth) = if version == 2 {
        let mut key = [0u8; 8];
        key.copy_from_slice(&msg[addrs_end..addrs_end + V2_AUTH_LEN]);
        let auth = if msg[4] == 1 {
            V2Auth::Pass(key)
        } else {
            V2Auth::None
        };
        (Centiseconds::from_secs(u32::from(msg[5])), auth)
    } else {
        let cs = u16::from_be_bytes([msg[4], msg[5]]) & 0x0fff;
        (Centiseconds(u32::from(cs)), V2Auth::None)
    };
    Ok((
        Advert {
            version,
            vrid: msg[1],
            priority: msg[2],
            adver_int,
            auth,
            addrs,
        },
        flavour,
    ))
}

/// Which IPv4 checksum form verifies (KEEPALIVED.md §2.5), if any.
fn v4_flavour(msg: &[u8], version: u8, src: Ipv4Addr, dst: Ipv4Addr) -> Result<u8, DecodeError> {
    let len = msg.len();
    if version == 2 {
        return if checksum(msg, 0) == 0 {
            Ok(csum::V2)
        } else {
            Err(DecodeError::Checksum)
        };
    }
    if checksum(msg, pseudo_header_sum(src, dst, len)) == 0 {
        Ok(csum::V3_PSEUDO)
    } else if checksum(msg, 0) == 0 {
        Ok(csum::V3_MESSAGE_ONLY)
    } else if checksum(
        msg,
        pseudo_header_sum(src, Ipv4Addr::from(VRRP_MCAST_V4), len),
    ) == 0
    {
        Ok(csum::V3_OLD_UNICAST)
    } else {
        Err(DecodeError::Checksum)
    }
}

/// One's-complement sum of the IPv4 pseudo-header {src, dst, 0, 112, length}.
pub fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> u32 {
    let words = |a: Ipv4Addr| {
        let o = a.octets();
        u32::from(u16::from_be_bytes([o[0], o[1]])) + u32::from(u16::from_be_bytes([o[2], o[3]]))
    };
    words(src) + words(dst) + u32::from(IPPROTO_VRRP) + u32::try_from(len).unwrap_or(u32::MAX)
}

/// One's-complement sum of the IPv6 pseudo-header {src, dst, length, 0, 112} (RFC 8200
/// §8.1).
pub fn pseudo_header_sum_v6(src: Ipv6Addr, dst: Ipv6Addr, len: usize) -> u32 {
    let words = |a: Ipv6Addr| a.segments().iter().map(|w| u32::from(*w)).sum::<u32>();
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    words(src) + words(dst) + (len >> 16) + (len & 0xffff) + u32::from(IPPROTO_VRRP)
}

/// RFC 1071 Internet checksum of `data` with an initial partial sum.
///
/// Over a message that carries a correct checksum this returns 0.
pub fn checksum(data: &[u8], initial: u32) -> u16 {
    let mut sum = u64::from(initial);
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A gratuitous ARP as keepalived sends it (vrrp_arp.c): a broadcast ARP *request* with
/// sender and target protocol address both the VIP.
pub fn gratuitous_arp(mac: [u8; 6], vip: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // request
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&vip.octets());
    f[32..38].copy_from_slice(&[0xff; 6]);
    f[38..42].copy_from_slice(&vip.octets());
    f
}

/// An unsolicited neighbour advertisement for `target` (RFC 4861 §7.2.6), the IPv6
/// counterpart of the gratuitous ARP: the ICMPv6 message with the Override flag and the
/// target link-layer address option. The checksum is left 0 for the kernel to fill in
/// (raw ICMPv6 sockets always do).
pub fn unsolicited_na(mac: [u8; 6], target: Ipv6Addr) -> [u8; 32] {
    let mut m = [0u8; 32];
    m[0] = 136; // neighbour advertisement
    m[4] = 0x20; // Override; not Solicited; Router is left to the kernel's forwarding view
    m[8..24].copy_from_slice(&target.octets());
    m[24] = 2; // target link-layer address
    m[25] = 1; // in units of 8 bytes
    m[26..32].copy_from_slice(&mac);
    m
}

#[cfg(test)]
mod tests;
