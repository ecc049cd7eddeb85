//! `packet::decode` on arbitrary bytes, from fixed or fuzzer-chosen addresses.
//!
//! Input: one selector byte, then the addresses when the fuzzer chooses them, then the VRRP
//! message. Selector bits 0-1: 0 = IPv4 192.168.1.1 → 224.0.0.18, 1 = IPv4 from the next
//! 8 bytes, 2 = IPv6 fe80::1 → ff02::12, 3 = IPv6 from the next 32 bytes. Bit 2: the
//! destination is of the other family (every such packet must be rejected). `cargo xtask
//! fuzz` seeds the corpus in this layout (xtask/src/fuzz.rs).
//!
//! Properties of every accepted message: the advert describes the bytes (version, VRID,
//! priority, count, length, address family), the checksum form fits the version and family,
//! and encoding the advert again with the same addresses and form gives a message that
//! decodes to the same advert and differs from the input only where the input was not
//! canonical (see [`canonical`]); when it was canonical, the bytes are identical.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vrrp_common::csum;
use vrrp_daemon::packet::{self, V2_AUTH_LEN, V3Checksum};

const V4_SRC: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
const V4_DST: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const V6_SRC: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const V6_DST: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Some((src, dst, msg)) = addresses(selector, rest) else {
        return;
    };
    let Ok((advert, flavour)) = packet::decode(msg, src, dst) else {
        return;
    };
    assert_eq!(src.is_ipv6(), dst.is_ipv6(), "accepted across families");

    // The advert describes the bytes.
    let v6 = src.is_ipv6();
    assert_eq!(advert.version, msg[0] >> 4);
    assert_eq!(msg[0] & 0x0f, 1, "accepted a type other than advertisement");
    assert_eq!(advert.vrid, msg[1]);
    assert_eq!(advert.priority, msg[2]);
    assert_eq!(advert.addrs.len(), usize::from(msg[3]));
    assert!(advert.addrs.iter().all(|a| a.is_ipv6() == v6));
    assert_eq!(advert.len(), msg.len());

    // The checksum form fits the version and family.
    let form = match (advert.version, v6, flavour) {
        (2, false, csum::V2) => V3Checksum::default(),
        (3, _, csum::V3_PSEUDO) => V3Checksum::PseudoHeader,
        (3, false, csum::V3_MESSAGE_ONLY) => V3Checksum::MessageOnly,
        (3, false, csum::V3_OLD_UNICAST) => V3Checksum::OldUnicast,
        other => panic!("accepted (version, ipv6, checksum form) = {other:?}"),
    };

    // Encoding it again round-trips.
    let again = advert.encode(src, dst, form);
    assert_eq!(again.len(), msg.len());
    let (redecoded, _) = packet::decode(&again, src, dst).expect("re-encoded advert rejected");
    assert_eq!(redecoded, advert);
    if canonical(msg, advert.version) {
        assert_eq!(again, msg, "canonical message not reproduced");
    } else {
        let trailer = if advert.version == 2 {
            msg.len() - V2_AUTH_LEN
        } else {
            msg.len()
        };
        for (i, (&a, &b)) in again.iter().zip(msg).enumerate() {
            let may_change = match i {
                4 if advert.version == 3 => a & 0x0f == b & 0x0f,
                4 | 6 | 7 => true,
                _ => i >= trailer,
            };
            assert!(
                may_change || a == b,
                "byte {i} changed: {b:#04x} -> {a:#04x}"
            );
        }
    }
});

/// Split off the addresses the selector asks for.
fn addresses(selector: u8, rest: &[u8]) -> Option<(IpAddr, IpAddr, &[u8])> {
    let (src, dst, msg): (IpAddr, IpAddr, &[u8]) = match selector & 0b11 {
        0 => (V4_SRC.into(), V4_DST.into(), rest),
        1 => {
            let (a, msg) = rest.split_first_chunk::<8>()?;
            let s: [u8; 4] = a[..4].try_into().ok()?;
            let d: [u8; 4] = a[4..].try_into().ok()?;
            (Ipv4Addr::from(s).into(), Ipv4Addr::from(d).into(), msg)
        }
        2 => (V6_SRC.into(), V6_DST.into(), rest),
        _ => {
            let (a, msg) = rest.split_first_chunk::<32>()?;
            let s: [u8; 16] = a[..16].try_into().ok()?;
            let d: [u8; 16] = a[16..].try_into().ok()?;
            (Ipv6Addr::from(s).into(), Ipv6Addr::from(d).into(), msg)
        }
    };
    let dst = if selector & 0b100 == 0 {
        dst
    } else if src.is_ipv6() {
        V4_DST.into()
    } else {
        V6_DST.into()
    };
    Some((src, dst, msg))
}

/// Whether `msg` (accepted, of `version`) is what the encoder writes. Three things are
/// ignored by decoding and normalised by encoding: a VRRPv2 auth type other than 0 or 1
/// (becomes 0), the key after auth type 0 (becomes zeros), and the reserved high nibble of
/// the VRRPv3 interval (becomes 0). And one's-complement arithmetic has two zeros: a
/// checksum field of ffff also verifies when the rest sums to ffff, but the encoder writes
/// 0000 there (it never writes ffff, since a message with a version nibble never sums to 0).
fn canonical(msg: &[u8], version: u8) -> bool {
    let header = match version {
        2 => match msg[4] {
            1 => true,
            0 => msg[msg.len() - V2_AUTH_LEN..].iter().all(|&b| b == 0),
            _ => false,
        },
        _ => msg[4] & 0xf0 == 0,
    };
    header && msg[6..8] != [0xff, 0xff]
}
