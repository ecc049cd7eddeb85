//! `classify::classify` (the XDP program's checks, mirrored) on arbitrary Ethernet frames,
//! received on ifindex 2 with a fixed set of instances: it must never panic, and whatever it
//! accepts `packet::decode` must accept too, with the same VRID, version, priority, interval
//! and checksum form. `cargo xtask fuzz` seeds the corpus with frames these instances
//! accept (xtask/src/fuzz.rs).
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use vrrp_common::{
    AUTH_NONE, AUTH_PASS, FAMILY_V4, FAMILY_V6, InstanceConfig, InstanceKey, TtlBounds,
    UnicastPeerKey, instance_flags,
};
use vrrp_daemon::packet::{
    self,
    classify::{self, Lookup, Verdict},
};

const IFINDEX: u32 = 2;

/// (VRID, family, config).
const INSTANCES: [(u8, u8, InstanceConfig); 5] = [
    // The seed's instance: v2, multicast, PASS "1234", 1 s.
    (51, FAMILY_V4, v2(AUTH_PASS, *b"1234\0\0\0\0", 1, 0)),
    // v2 unicast from anyone, no authentication, 3 s.
    (
        53,
        FAMILY_V4,
        v2(AUTH_NONE, [0; 8], 3, instance_flags::UNICAST),
    ),
    // v3 multicast over IPv6.
    (51, FAMILY_V6, v3(0)),
    // v3 unicast from configured peers only, IPv4 and IPv6.
    (52, FAMILY_V4, v3(UNICAST_CHECKED)),
    (54, FAMILY_V6, v3(UNICAST_CHECKED)),
];

const UNICAST_CHECKED: u8 = instance_flags::UNICAST | instance_flags::CHECK_UNICAST_SRC;

/// (VRID, family, peer address, min TTL, max TTL).
const PEERS: [(u8, u8, IpAddr, u8, u8); 3] = [
    (
        52,
        FAMILY_V4,
        IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2)),
        64,
        255,
    ),
    (
        53,
        FAMILY_V4,
        IpAddr::V4(Ipv4Addr::new(192, 168, 1, 3)),
        0,
        255,
    ),
    (
        54,
        FAMILY_V6,
        IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2)),
        255,
        255,
    ),
];

const fn v2(auth_type: u8, auth_pass: [u8; 8], adver_int_secs: u8, flags: u8) -> InstanceConfig {
    InstanceConfig {
        version: 2,
        auth_type,
        adver_int_secs,
        flags,
        auth_pass,
    }
}

const fn v3(flags: u8) -> InstanceConfig {
    InstanceConfig {
        version: 3,
        auth_type: AUTH_NONE,
        adver_int_secs: 0,
        flags,
        auth_pass: [0; 8],
    }
}

struct Maps;

impl Lookup for Maps {
    fn instance(&self, key: &InstanceKey) -> Option<InstanceConfig> {
        INSTANCES
            .iter()
            .find(|(vrid, family, _)| *key == InstanceKey::new(IFINDEX, *vrid, *family))
            .map(|(_, _, config)| *config)
    }

    fn unicast_peer(&self, key: &UnicastPeerKey) -> Option<TtlBounds> {
        PEERS
            .iter()
            .find(|(vrid, family, addr, _, _)| {
                let mut bytes = [0u8; 16];
                match addr {
                    IpAddr::V4(a) => bytes[..4].copy_from_slice(&a.octets()),
                    IpAddr::V6(a) => bytes.copy_from_slice(&a.octets()),
                }
                key.instance == InstanceKey::new(IFINDEX, *vrid, *family) && key.addr == bytes
            })
            .map(|(_, _, _, min_ttl, max_ttl)| TtlBounds {
                min_ttl: *min_ttl,
                max_ttl: *max_ttl,
                _pad: [0; 2],
            })
    }
}

fuzz_target!(|frame: &[u8]| {
    let Verdict::Accepted {
        key,
        priority,
        adver_int_cs,
        csum_flavour,
    } = classify::classify(frame, IFINDEX, &Maps)
    else {
        return;
    };
    let (msg, src, dst) = vrrp_part(frame, key.family);
    let (advert, flavour) = match packet::decode(msg, src, dst) {
        Ok(decoded) => decoded,
        Err(e) => panic!("classify accepted what decode rejects ({e}): {msg:02x?}"),
    };
    let config = Maps
        .instance(&key)
        .expect("accepted for an unknown instance");
    assert_eq!(key.ifindex, IFINDEX);
    assert_eq!(advert.vrid, key.vrid);
    assert_eq!(advert.version, config.version);
    assert_eq!(advert.priority, priority);
    assert_eq!(advert.adver_int.0, u32::from(adver_int_cs));
    assert_eq!(flavour, csum_flavour);
});

/// The VRRP message of an accepted frame and its IP addresses. Only called after
/// `classify` accepted the frame, so the headers are known to be there.
fn vrrp_part(frame: &[u8], family: u8) -> (&[u8], IpAddr, IpAddr) {
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let l3 = if ethertype == 0x8100 || ethertype == 0x88a8 {
        18
    } else {
        14
    };
    let ip = &frame[l3..];
    if family == FAMILY_V4 {
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let tot_len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let addr =
            |at: usize| IpAddr::V4(Ipv4Addr::new(ip[at], ip[at + 1], ip[at + 2], ip[at + 3]));
        (&ip[ihl..tot_len], addr(12), addr(16))
    } else {
        let len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
        let addr = |at: usize| {
            let bytes: [u8; 16] = ip[at..at + 16].try_into().expect("16 bytes");
            IpAddr::V6(Ipv6Addr::from(bytes))
        };
        (&ip[40..40 + len], addr(8), addr(24))
    }
}
