//! Byte vectors whose checksums were computed by hand (RFC 1071 arithmetic written out in the
//! comments), so the tests do not trust the code they test.
use std::net::{IpAddr, Ipv4Addr};

use super::*;

fn key(s: &str) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[..s.len()].copy_from_slice(s.as_bytes());
    k
}

/// The seed's master advert: v2, VRID 51, priority 100, 1 s, PASS "1234", VIP 192.168.1.100.
/// Sum of words 2133+6401+0101+c0a8+0164+3132+3334 = 1aca7 → aca8 → checksum 5357.
const SEED_V2: [u8; 20] = [
    0x21, 0x33, 0x64, 0x01, 0x01, 0x01, 0x53, 0x57, 0xc0, 0xa8, 0x01, 0x64, b'1', b'2', b'3', b'4',
    0, 0, 0, 0,
];

/// v3, VRID 51, priority 100, 100 cs, VIP 192.168.1.100, from 192.168.1.1 to 224.0.0.18.
/// Message 3133+6401+0064+c0a8+0164 = 157a4; pseudo c0a8+0101+e000+0012+0070+000c = 1a237;
/// total 2f9db → f9dd → checksum 0622. Message only: 57a5 → a85a.
const V3_PSEUDO: [u8; 12] = [
    0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0x06, 0x22, 0xc0, 0xa8, 0x01, 0x64,
];
const V3_MSG_ONLY: [u8; 12] = [
    0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0xa8, 0x5a, 0xc0, 0xa8, 0x01, 0x64,
];

const SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1));
const MCAST: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));

fn seed_v2() -> Advert {
    Advert {
        version: 2,
        vrid: 51,
        priority: 100,
        adver_int: Centiseconds::from_secs(1),
        auth: V2Auth::Pass(key("1234")),
        addrs: vec![IpAddr::V4(Ipv4Addr::new(192, 168, 1, 100))],
    }
}

fn v3() -> Advert {
    Advert {
        version: 3,
        vrid: 51,
        priority: 100,
        adver_int: Centiseconds(100),
        auth: V2Auth::None,
        addrs: vec![IpAddr::V4(Ipv4Addr::new(192, 168, 1, 100))],
    }
}

#[test]
fn encodes_v2_seed_advert() {
    assert_eq!(seed_v2().encode(SRC, MCAST, V3Checksum::default()), SEED_V2);
}

#[test]
fn decodes_v2_seed_advert() {
    assert_eq!(decode(&SEED_V2, SRC, MCAST), Ok((seed_v2(), csum::V2)));
}

#[test]
fn encodes_v3_with_pseudo_header_by_default() {
    assert_eq!(v3().encode(SRC, MCAST, V3Checksum::PseudoHeader), V3_PSEUDO);
    assert_eq!(
        v3().encode(SRC, MCAST, V3Checksum::MessageOnly),
        V3_MSG_ONLY
    );
}

#[test]
fn decodes_every_v3_checksum_flavour() {
    assert_eq!(decode(&V3_PSEUDO, SRC, MCAST), Ok((v3(), csum::V3_PSEUDO)));
    assert_eq!(
        decode(&V3_MSG_ONLY, SRC, MCAST),
        Ok((v3(), csum::V3_MESSAGE_ONLY))
    );
    // keepalived <= 1.3.6 unicast: pseudo-header with 224.0.0.18 although sent to a peer.
    let peer = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2));
    assert_eq!(
        decode(&V3_PSEUDO, SRC, peer),
        Ok((v3(), csum::V3_OLD_UNICAST))
    );
}

#[test]
fn sub_second_v3_interval_round_trips() {
    let mut a = v3();
    a.adver_int = Centiseconds(5);
    let bytes = a.encode(SRC, MCAST, V3Checksum::PseudoHeader);
    assert_eq!(&bytes[4..6], &[0x00, 0x05]);
    assert_eq!(
        decode(&bytes, SRC, MCAST).unwrap().0.adver_int,
        Centiseconds(5)
    );
}

#[test]
fn v3_reserved_bits_are_ignored_on_receive() {
    let mut a = v3();
    a.adver_int = Centiseconds(0x0fff);
    let bytes = a.encode(SRC, MCAST, V3Checksum::MessageOnly);
    assert_eq!(&bytes[4..6], &[0x0f, 0xff]);
}

#[test]
fn rejects_each_malformation() {
    let mut bad = SEED_V2;
    bad[6] ^= 1;
    assert_eq!(decode(&bad, SRC, MCAST), Err(DecodeError::Checksum));
    assert_eq!(decode(&SEED_V2[..19], SRC, MCAST), Err(DecodeError::Length));
    assert_eq!(decode(&SEED_V2[..4], SRC, MCAST), Err(DecodeError::Length));
    let mut more = SEED_V2.to_vec();
    more.extend([0; 4]);
    assert_eq!(decode(&more, SRC, MCAST), Err(DecodeError::Length));
    let mut v4 = SEED_V2;
    v4[0] = 0x41;
    assert_eq!(decode(&v4, SRC, MCAST), Err(DecodeError::Version(4)));
    let mut t2 = V3_PSEUDO;
    t2[0] = 0x32;
    assert_eq!(decode(&t2, SRC, MCAST), Err(DecodeError::Type(2)));
    let mut v3_bad = V3_PSEUDO;
    v3_bad[9] ^= 0x40;
    assert_eq!(decode(&v3_bad, SRC, MCAST), Err(DecodeError::Checksum));
}

#[test]
fn priority_zero_and_many_addresses_round_trip() {
    let mut a = seed_v2();
    a.priority = 0;
    a.addrs = (1..=20)
        .map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)))
        .collect();
    let bytes = a.encode(SRC, MCAST, V3Checksum::default());
    assert_eq!(bytes.len(), 8 + 20 * 4 + 8);
    assert_eq!(decode(&bytes, SRC, MCAST), Ok((a, csum::V2)));
}

#[test]
fn checksum_of_odd_length_pads_with_zero() {
    // 0x0102 + 0x0300 = 0x0402 → !0x0402
    assert_eq!(checksum(&[1, 2, 3], 0), !0x0402);
}

#[test]
fn gratuitous_arp_is_a_broadcast_request_for_the_vip() {
    let mac = [2, 0, 0, 0, 0, 1];
    let f = gratuitous_arp(mac, Ipv4Addr::new(10, 0, 0, 100));
    let expected: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, // ethernet
        0, 1, 0x08, 0, 6, 4, 0, 1, // ARP request
        2, 0, 0, 0, 0, 1, 10, 0, 0, 100, // sender
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 10, 0, 0, 100, // target
    ];
    assert_eq!(f, expected);
}

/// v3 over IPv6: VRID 1, priority 100, 100 cs, VIP fe80::1, from fe80::2 to ff02::12.
/// Message 3101+6401+0064+fe80+0001 = 193e7; pseudo fe80+0002+ff02+0012+0018+0070 = 1fe1e;
/// total 39205 → 9208 → checksum 6df7.
const V3_V6: [u8; 24] = [
    0x31, 0x01, 0x64, 0x01, 0x00, 0x64, 0x6d, 0xf7, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0x01,
];

fn v6_advert() -> Advert {
    Advert {
        version: 3,
        vrid: 1,
        priority: 100,
        adver_int: Centiseconds(100),
        auth: V2Auth::None,
        addrs: vec!["fe80::1".parse().unwrap()],
    }
}

#[test]
fn ipv6_advert_uses_the_ipv6_pseudo_header() {
    let src: IpAddr = "fe80::2".parse().unwrap();
    let dst: IpAddr = "ff02::12".parse().unwrap();
    assert_eq!(v6_advert().encode(src, dst, V3Checksum::MessageOnly), V3_V6);
    assert_eq!(decode(&V3_V6, src, dst), Ok((v6_advert(), csum::V3_PSEUDO)));
    let other: IpAddr = "fe80::3".parse().unwrap();
    assert_eq!(decode(&V3_V6, other, dst), Err(DecodeError::Checksum));
    // VRRPv2 does not exist over IPv6.
    let mut v2 = V3_V6;
    v2[0] = 0x21;
    assert_eq!(decode(&v2, src, dst), Err(DecodeError::Version(2)));
}

#[test]
fn unsolicited_na_overrides_with_the_target_link_layer_address() {
    let m = unsolicited_na([2, 0, 0, 0, 0, 1], "2001:db8::100".parse().unwrap());
    let expected: [u8; 32] = [
        136, 0, 0, 0, // type, code, checksum (kernel)
        0x20, 0, 0, 0, // O flag
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00, // target
        2, 1, 2, 0, 0, 0, 0, 1, // option: target link-layer address
    ];
    assert_eq!(m, expected);
}
