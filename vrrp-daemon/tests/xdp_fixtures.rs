//! The XDP program in the real kernel, fed crafted frames through BPF_PROG_TEST_RUN.
//!
//! Each fixture states the verdict, which counter moves, and what PEERS / EVENTS must show.
//! The same frames go through the userspace decoder, which must agree on what is valid.
//! Needs root (loading BPF); without it the test says so and fails.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vrrp_common::{
    AUTH_NONE, AUTH_PASS, FAMILY_V4, FAMILY_V6, InstanceConfig, InstanceKey, PeerEvent, TtlBounds,
    counter, csum, event, instance_flags,
};
use vrrp_daemon::{
    dataplane::Dataplane,
    packet::{self, Advert, V2Auth, V3Checksum, classify},
    units::Centiseconds,
};

const XDP_PASS: u32 = 2;
/// `lo` exists in every network namespace; BPF_PROG_TEST_RUN needs a real ingress device.
const IFINDEX: u32 = 1;
const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const MCAST: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const V2_VRID: u8 = 51;
const V3_VRID: u8 = 60;
const UNICAST_VRID: u8 = 80;
/// Our own address, where unicast adverts are sent.
const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// A configured peer with `min_ttl 250`.
const NEAR_PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);

/// A unicast VRRPv3 advert from `src` to us with `ttl`.
fn unicast(src: Ipv4Addr, ttl: u8, vrid: u8) -> Vec<u8> {
    let msg = Advert { vrid, ..v3(100) }.encode(
        IpAddr::V4(src),
        IpAddr::V4(ME),
        V3Checksum::PseudoHeader,
    );
    frame(
        &msg,
        Wrap {
            ttl,
            src,
            dst: ME,
            ..PLAIN
        },
    )
}

fn key8(s: &str) -> [u8; 8] {
    let mut k = [0; 8];
    k[..s.len()].copy_from_slice(s.as_bytes());
    k
}

fn v2(priority: u8) -> Advert {
    Advert {
        version: 2,
        vrid: V2_VRID,
        priority,
        adver_int: Centiseconds::from_secs(1),
        auth: V2Auth::Pass(key8("1234")),
        addrs: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100))],
    }
}

fn v3(priority: u8) -> Advert {
    Advert {
        version: 3,
        vrid: V3_VRID,
        priority,
        adver_int: Centiseconds(10),
        auth: V2Auth::None,
        addrs: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 101))],
    }
}

/// Options for the IPv4 + Ethernet wrapping of a VRRP message.
#[derive(Clone, Copy)]
struct Wrap {
    ttl: u8,
    protocol: u8,
    frag: u16,
    /// Extra bytes claimed by tot_len beyond what is present.
    claim_extra: u16,
    vlan: bool,
    options: bool,
    src: Ipv4Addr,
    dst: Ipv4Addr,
}

const PLAIN: Wrap = Wrap {
    ttl: 255,
    protocol: 112,
    frag: 0,
    claim_extra: 0,
    vlan: false,
    options: false,
    src: SRC,
    dst: MCAST,
};

fn frame(vrrp: &[u8], w: Wrap) -> Vec<u8> {
    let mut f = vec![0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x02, 0, 0, 0, 0, 1];
    if w.vlan {
        f.extend([0x81, 0x00, 0x00, 0x0a]);
    }
    f.extend([0x08, 0x00]);
    let ihl: u8 = if w.options { 6 } else { 5 };
    let tot = u16::from(ihl) * 4 + vrrp.len() as u16 + w.claim_extra;
    let mut ip = vec![0x40 | ihl, 0xc0];
    ip.extend(tot.to_be_bytes());
    ip.extend([0, 0]);
    ip.extend(w.frag.to_be_bytes());
    ip.extend([w.ttl, w.protocol, 0, 0]);
    ip.extend(w.src.octets());
    ip.extend(w.dst.octets());
    if w.options {
        ip.extend([1, 1, 1, 0]); // NOP NOP NOP EOL
    }
    let sum = packet::checksum(&ip, 0);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend(ip);
    f.extend(vrrp);
    f
}

fn encode(a: &Advert) -> Vec<u8> {
    a.encode(IpAddr::V4(SRC), IpAddr::V4(MCAST), V3Checksum::PseudoHeader)
}

const SRC6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);
const MCAST6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
const V6_VRID: u8 = 70;

fn v6(priority: u8) -> Advert {
    Advert {
        version: 3,
        vrid: V6_VRID,
        priority,
        adver_int: Centiseconds(10),
        auth: V2Auth::None,
        addrs: vec![
            IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x100)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100)),
        ],
    }
}

/// An Ethernet + IPv6 frame around a VRRP message.
fn frame6(vrrp: &[u8], hop_limit: u8, next_header: u8) -> Vec<u8> {
    let mut f = vec![0x33, 0x33, 0, 0, 0, 0x12, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd];
    f.extend([0x60, 0, 0, 0]);
    f.extend((vrrp.len() as u16).to_be_bytes());
    f.extend([next_header, hop_limit]);
    f.extend(SRC6.octets());
    f.extend(MCAST6.octets());
    f.extend(vrrp);
    f
}

fn encode6(a: &Advert) -> Vec<u8> {
    a.encode(
        IpAddr::V6(SRC6),
        IpAddr::V6(MCAST6),
        V3Checksum::PseudoHeader,
    )
}

struct Fixture {
    name: &'static str,
    frame: Vec<u8>,
    /// The counter that must move by one, if any.
    counter: Option<u32>,
}

fn fixtures() -> Vec<Fixture> {
    let good = encode(&v2(100));
    let mut bad_sum = good.clone();
    bad_sum[6] ^= 0xff;
    let mut wrong_pass = v2(100);
    wrong_pass.auth = V2Auth::Pass(key8("abcd"));
    let mut no_auth = v2(100);
    no_auth.auth = V2Auth::None;
    let mut slow = v2(100);
    slow.adver_int = Centiseconds::from_secs(2);
    let mut other_vrid = v2(100);
    other_vrid.vrid = 52;
    let mut v3_on_v2 = v3(100);
    v3_on_v2.vrid = V2_VRID;
    let mut type2 = good.clone();
    type2[0] = 0x22;
    let sum = packet::checksum(
        &{
            let mut t = type2.clone();
            t[6] = 0;
            t[7] = 0;
            t
        },
        0,
    );
    type2[6..8].copy_from_slice(&sum.to_be_bytes());
    let mut count2 = good.clone();
    count2[3] = 2;
    let udp = {
        let mut f = frame(&[0u8; 20], PLAIN);
        f[14 + 9] = 17;
        f
    };
    let mut arp = packet::gratuitous_arp([2, 0, 0, 0, 0, 9], Ipv4Addr::new(10, 0, 0, 9)).to_vec();
    arp.extend([0; 18]);
    vec![
        Fixture {
            name: "valid v2 seed advert",
            frame: frame(&good, PLAIN),
            counter: Some(counter::ADVERT_RCVD),
        },
        Fixture {
            name: "valid v2 behind an 802.1Q tag",
            frame: frame(
                &good,
                Wrap {
                    vlan: true,
                    ..PLAIN
                },
            ),
            counter: Some(counter::ADVERT_RCVD),
        },
        Fixture {
            name: "valid v2 with IPv4 options",
            frame: frame(
                &good,
                Wrap {
                    options: true,
                    ..PLAIN
                },
            ),
            counter: Some(counter::ADVERT_RCVD),
        },
        Fixture {
            name: "TTL 64",
            frame: frame(&good, Wrap { ttl: 64, ..PLAIN }),
            counter: Some(counter::IP_TTL_ERR),
        },
        Fixture {
            name: "unknown VRID",
            frame: frame(&encode(&other_vrid), PLAIN),
            counter: Some(counter::UNKNOWN_VRID),
        },
        Fixture {
            name: "bad checksum",
            frame: frame(&bad_sum, PLAIN),
            counter: Some(counter::CHECKSUM_ERR),
        },
        Fixture {
            name: "wrong password",
            frame: frame(&encode(&wrong_pass), PLAIN),
            counter: Some(counter::AUTH_FAILURE),
        },
        Fixture {
            name: "no authentication",
            frame: frame(&encode(&no_auth), PLAIN),
            counter: Some(counter::AUTH_FAILURE),
        },
        Fixture {
            name: "v2 interval 2 s against 1 s",
            frame: frame(&encode(&slow), PLAIN),
            counter: Some(counter::ADVER_INT_ERR),
        },
        Fixture {
            name: "v3 advert for a v2 instance",
            frame: frame(&encode(&v3_on_v2), PLAIN),
            counter: Some(counter::VERSION_ERR),
        },
        Fixture {
            name: "type 2",
            frame: frame(&type2, PLAIN),
            counter: Some(counter::INVALID_TYPE),
        },
        Fixture {
            name: "count says 2, carries 1",
            frame: frame(&count2, PLAIN),
            counter: Some(counter::PACKET_LEN_ERR),
        },
        Fixture {
            name: "IP length beyond the frame",
            frame: frame(
                &good,
                Wrap {
                    claim_extra: 8,
                    ..PLAIN
                },
            ),
            counter: Some(counter::PACKET_LEN_ERR),
        },
        Fixture {
            name: "truncated VRRP",
            frame: frame(&good[..12], PLAIN),
            counter: Some(counter::PACKET_LEN_ERR),
        },
        Fixture {
            name: "fragment",
            frame: frame(
                &good,
                Wrap {
                    frag: 0x2000,
                    ..PLAIN
                },
            ),
            counter: Some(counter::FRAGMENT_ERR),
        },
        Fixture {
            name: "UDP is not ours",
            frame: udp,
            counter: None,
        },
        Fixture {
            name: "ARP is not ours",
            frame: arp,
            counter: None,
        },
        // BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header.
        Fixture {
            name: "IPv4 ethertype, no IP header",
            frame: {
                let mut f = vec![0xff; 12];
                f.extend([8, 0]);
                f
            },
            counter: None,
        },
        Fixture {
            name: "VRRP protocol, IP header cut short",
            frame: frame(&good, PLAIN)[..30].to_vec(),
            counter: None,
        },
        Fixture {
            name: "valid v3 pseudo-header checksum",
            frame: frame(&encode(&v3(100)), PLAIN),
            counter: Some(counter::ADVERT_RCVD),
        },
        Fixture {
            name: "unicast from a configured peer, TTL 64",
            frame: unicast(SRC, 64, UNICAST_VRID),
            counter: Some(counter::ADVERT_RCVD),
        },
        Fixture {
            name: "unicast from a stranger with check_unicast_src",
            frame: unicast(Ipv4Addr::new(10, 0, 0, 3), 255, UNICAST_VRID),
            counter: Some(counter::UNICAST_SRC_ERR),
        },
        Fixture {
            name: "unicast below the peer's min_ttl",
            frame: unicast(NEAR_PEER, 64, UNICAST_VRID),
            counter: Some(counter::IP_TTL_ERR),
        },
        Fixture {
            name: "unicast within the peer's TTL bounds",
            frame: unicast(NEAR_PEER, 254, UNICAST_VRID),
            counter: Some(counter::ADVERT_RCVD),
        },
        Fixture {
            name: "multicast advert for a unicast instance",
            frame: frame(
                &encode(&Advert {
                    vrid: UNICAST_VRID,
                    ..v3(100)
                }),
                PLAIN,
            ),
            counter: Some(counter::DEST_MODE_ERR),
        },
        Fixture {
            name: "unicast advert for a multicast instance",
            frame: unicast(SRC, 255, V3_VRID),
            counter: Some(counter::DEST_MODE_ERR),
        },
        Fixture {
            name: "valid v3 over IPv6",
            frame: frame6(&encode6(&v6(100)), 255, 112),
            counter: Some(counter::ADVERT_RCVD),
        },
        Fixture {
            name: "IPv6 hop limit 1",
            frame: frame6(&encode6(&v6(100)), 1, 112),
            counter: Some(counter::IP_TTL_ERR),
        },
        Fixture {
            name: "IPv6 with an IPv4-style checksum",
            frame: frame6(
                &v6(100).encode(IpAddr::V4(SRC), IpAddr::V4(MCAST), V3Checksum::MessageOnly),
                255,
                112,
            ),
            counter: Some(counter::CHECKSUM_ERR),
        },
        Fixture {
            name: "IPv6 unknown VRID",
            frame: frame6(
                &encode6(&Advert {
                    vrid: 71,
                    ..v6(100)
                }),
                255,
                112,
            ),
            counter: Some(counter::UNKNOWN_VRID),
        },
        Fixture {
            name: "IPv6 payload length beyond the frame",
            frame: frame6(&encode6(&v6(100)), 255, 112)[..70].to_vec(),
            counter: Some(counter::PACKET_LEN_ERR),
        },
        Fixture {
            name: "IPv6 behind an extension header is not walked",
            frame: frame6(&encode6(&v6(100)), 255, 0),
            counter: None,
        },
    ]
}

fn loaded() -> Dataplane {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the XDP fixture tests need root (cargo xtask test)"
    );
    let mut dp = Dataplane::load().expect("load the XDP program");
    dp.add_instance(
        InstanceKey::new(IFINDEX, V2_VRID, FAMILY_V4),
        InstanceConfig {
            version: 2,
            auth_type: AUTH_PASS,
            adver_int_secs: 1,
            flags: 0,
            auth_pass: key8("1234"),
        },
    )
    .unwrap();
    let unicast = InstanceKey::new(IFINDEX, UNICAST_VRID, FAMILY_V4);
    dp.add_instance(
        unicast,
        InstanceConfig {
            version: 3,
            auth_type: AUTH_NONE,
            adver_int_secs: 0,
            flags: instance_flags::UNICAST | instance_flags::CHECK_UNICAST_SRC,
            auth_pass: [0; 8],
        },
    )
    .unwrap();
    let any_ttl = TtlBounds {
        min_ttl: 0,
        max_ttl: 255,
        _pad: [0; 2],
    };
    let near = TtlBounds {
        min_ttl: 250,
        max_ttl: 255,
        _pad: [0; 2],
    };
    dp.add_unicast_peer(unicast, IpAddr::V4(SRC), any_ttl)
        .unwrap();
    dp.add_unicast_peer(unicast, IpAddr::V4(NEAR_PEER), near)
        .unwrap();
    dp.add_instance(
        InstanceKey::new(IFINDEX, V6_VRID, FAMILY_V6),
        InstanceConfig {
            version: 3,
            auth_type: AUTH_NONE,
            adver_int_secs: 0,
            flags: 0,
            auth_pass: [0; 8],
        },
    )
    .unwrap();
    dp.add_instance(
        InstanceKey::new(IFINDEX, V3_VRID, FAMILY_V4),
        InstanceConfig {
            version: 3,
            auth_type: AUTH_NONE,
            adver_int_secs: 0,
            flags: 0,
            auth_pass: [0; 8],
        },
    )
    .unwrap();
    dp
}

fn counters(dp: &Dataplane) -> Vec<u64> {
    dp.counters().into_iter().map(|(_, v)| v).collect()
}

#[test]
fn every_fixture_passes_the_frame_and_moves_exactly_its_counter() {
    let mut dp = loaded();
    for f in fixtures() {
        let before = counters(&dp);
        let verdict = dp.test_run(&f.frame, IFINDEX).expect(f.name);
        assert_eq!(
            verdict, XDP_PASS,
            "{}: adverts and foreign traffic are passed",
            f.name
        );
        let after = counters(&dp);
        for (i, (b, a)) in before.iter().zip(&after).enumerate() {
            let expected = u64::from(f.counter == Some(i as u32));
            assert_eq!(a - b, expected, "{}: counter {}", f.name, counter::NAMES[i]);
        }
    }
}

#[test]
fn userspace_decoder_agrees_with_the_kernel_on_vrrp_validity() {
    for f in fixtures() {
        // Only the VRRP-level checks are shared; IP-level ones (TTL, fragment, instance
        // config) are the data plane's alone.
        let vrrp_level = matches!(
            f.counter,
            Some(counter::ADVERT_RCVD | counter::CHECKSUM_ERR | counter::INVALID_TYPE)
        );
        if !vrrp_level || f.frame.len() < 34 {
            continue;
        }
        let l3 = if f.frame[12] == 0x81 { 18 } else { 14 };
        let ihl = usize::from(f.frame[l3] & 0x0f) * 4;
        let decoded = if f.frame[l3] >> 4 == 6 {
            packet::decode(&f.frame[l3 + 40..], IpAddr::V6(SRC6), IpAddr::V6(MCAST6))
        } else {
            let addr = |at: usize| {
                let b = &f.frame[l3 + at..l3 + at + 4];
                IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            };
            packet::decode(&f.frame[l3 + ihl..], addr(12), addr(16))
        };
        assert_eq!(
            decoded.is_ok(),
            f.counter == Some(counter::ADVERT_RCVD),
            "{}: {decoded:?}",
            f.name
        );
    }
}

fn drain(dp: &mut Dataplane, ring: &mut aya::maps::RingBuf<aya::maps::MapData>) -> Vec<PeerEvent> {
    let _ = dp;
    let mut out = Vec::new();
    while let Some(item) = ring.next() {
        out.push(bytemuck::pod_read_unaligned::<PeerEvent>(&item));
    }
    out
}

#[test]
fn peers_record_the_advert_and_events_fire_only_on_change() {
    let mut dp = loaded();
    let mut ring = dp.take_events().unwrap();
    let key = InstanceKey::new(IFINDEX, V2_VRID, FAMILY_V4);
    let f100 = frame(&encode(&v2(100)), PLAIN);

    dp.test_run(&f100, IFINDEX).unwrap();
    let events = drain(&mut dp, &mut ring);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].flags, event::NEW_PEER);
    assert_eq!(events[0].key, key);
    let peer = dp.peer(&key).expect("peer recorded");
    assert_eq!(&peer.addr[..4], &SRC.octets());
    assert_eq!(peer.priority, 100);
    assert_eq!(peer.adver_int_cs, 100);
    assert_eq!(peer.version, 2);
    assert_eq!(peer.csum_flavour, csum::V2);
    assert_eq!(peer.adverts, 1);
    assert!(peer.last_seen_ns > 0);

    // A steady stream of identical adverts wakes nobody.
    for _ in 0..10 {
        dp.test_run(&f100, IFINDEX).unwrap();
    }
    assert!(drain(&mut dp, &mut ring).is_empty());
    let later = dp.peer(&key).unwrap();
    assert_eq!(later.adverts, 11);
    assert!(later.last_seen_ns >= peer.last_seen_ns);

    // Priority change, then priority 0.
    dp.test_run(&frame(&encode(&v2(90)), PLAIN), IFINDEX)
        .unwrap();
    let events = drain(&mut dp, &mut ring);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].flags, event::PRIORITY_CHANGED);
    assert_eq!(events[0].peer.priority, 90);
    dp.test_run(&frame(&encode(&v2(0)), PLAIN), IFINDEX)
        .unwrap();
    let events = drain(&mut dp, &mut ring);
    assert_eq!(
        events[0].flags,
        event::PRIORITY_CHANGED | event::PRIORITY_ZERO
    );

    // A rejected advert changes nothing.
    dp.test_run(&frame(&encode(&v2(200)), Wrap { ttl: 1, ..PLAIN }), IFINDEX)
        .unwrap();
    assert!(drain(&mut dp, &mut ring).is_empty());
    assert_eq!(dp.peer(&key).unwrap().priority, 0);
}

#[test]
fn v3_records_which_checksum_flavour_the_peer_used() {
    let mut dp = loaded();
    let key = InstanceKey::new(IFINDEX, V3_VRID, FAMILY_V4);
    for (mode, flavour) in [
        (V3Checksum::MessageOnly, csum::V3_MESSAGE_ONLY),
        (V3Checksum::PseudoHeader, csum::V3_PSEUDO),
    ] {
        let msg = v3(100).encode(IpAddr::V4(SRC), IpAddr::V4(MCAST), mode);
        dp.test_run(&frame(&msg, PLAIN), IFINDEX).unwrap();
        let peer = dp.peer(&key).unwrap();
        assert_eq!(peer.csum_flavour, flavour);
        assert_eq!(peer.adver_int_cs, 10);
    }
    // keepalived <= 1.3.6 unicast: pseudo-header over 224.0.0.18 while sent to a peer.
    let unicast_key = InstanceKey::new(IFINDEX, UNICAST_VRID, FAMILY_V4);
    let msg = Advert {
        vrid: UNICAST_VRID,
        ..v3(100)
    }
    .encode(IpAddr::V4(SRC), IpAddr::V4(MCAST), V3Checksum::PseudoHeader);
    let f = frame(&msg, Wrap { dst: ME, ..PLAIN });
    dp.test_run(&f, IFINDEX).unwrap();
    assert_eq!(
        dp.peer(&unicast_key).unwrap().csum_flavour,
        csum::V3_OLD_UNICAST
    );
    // And the current form over the real destination.
    let msg = Advert {
        vrid: UNICAST_VRID,
        ..v3(100)
    }
    .encode(IpAddr::V4(SRC), IpAddr::V4(ME), V3Checksum::PseudoHeader);
    dp.test_run(&frame(&msg, Wrap { dst: ME, ..PLAIN }), IFINDEX)
        .unwrap();
    assert_eq!(dp.peer(&unicast_key).unwrap().csum_flavour, csum::V3_PSEUDO);
}

#[test]
fn ipv6_adverts_are_recorded_with_their_link_local_source() {
    let mut dp = loaded();
    let key = InstanceKey::new(IFINDEX, V6_VRID, FAMILY_V6);
    dp.test_run(&frame6(&encode6(&v6(150)), 255, 112), IFINDEX)
        .unwrap();
    let peer = dp.peer(&key).expect("recorded");
    assert_eq!(peer.addr, SRC6.octets());
    assert_eq!(peer.priority, 150);
    assert_eq!(peer.adver_int_cs, 10);
    assert_eq!(peer.csum_flavour, csum::V3_PSEUDO);
    // The same VRID over IPv4 is another instance (RFC 5798 §5.2.3).
    assert!(
        dp.peer(&InstanceKey::new(IFINDEX, V6_VRID, FAMILY_V4))
            .is_none()
    );
}

const XDP_DROP: u32 = 1;
const XDP_TX: u32 = 3;
const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
const OUR_MAC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 0x01];
const CLIENT_MAC: [u8; 6] = [0x02, 0xcc, 0, 0, 0, 0x02];
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 200);

fn arp(op: u16, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend(sha);
    f.extend([0x08, 0x06, 0, 1, 0x08, 0, 6, 4]);
    f.extend(op.to_be_bytes());
    f.extend(sha);
    f.extend(spa.octets());
    f.extend(tha);
    f.extend(tpa.octets());
    f
}

/// A loaded program that owns VIP on `lo` with a fresh heartbeat.
fn responder() -> Dataplane {
    let mut dp = loaded();
    dp.add_vip(IFINDEX, IpAddr::V4(VIP), OUR_MAC, 1_000_000_000)
        .unwrap();
    dp.add_vip(IFINDEX, IpAddr::V6(VIP6), OUR_MAC, 1_000_000_000)
        .unwrap();
    dp.heartbeat(vrrp_daemon::util::mono_now().0).unwrap();
    dp
}

#[test]
fn arp_requests_for_an_owned_vip_are_answered_in_place() {
    let mut dp = responder();
    let request = arp(1, CLIENT_MAC, CLIENT, [0; 6], VIP);
    let (verdict, reply) = dp.test_run_frame(&request, IFINDEX).unwrap();
    assert_eq!(verdict, XDP_TX);
    assert_eq!(reply, arp_reply());
    let counters = dp.counters();
    assert_eq!(counters[counter::ARP_REPLIED as usize].1, 1);
}

/// The reply to `arp(1, CLIENT_MAC, CLIENT, _, VIP)`: Ethernet back to the client from us;
/// ARP reply "VIP is at OUR_MAC".
fn arp_reply() -> Vec<u8> {
    let mut expected = CLIENT_MAC.to_vec();
    expected.extend(OUR_MAC);
    expected.extend([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
    expected.extend(OUR_MAC);
    expected.extend(VIP.octets());
    expected.extend(CLIENT_MAC);
    expected.extend(CLIENT.octets());
    expected
}

#[test]
fn the_arp_responder_reads_every_field_it_relies_on() {
    let mut dp = responder();
    let request = arp(1, CLIENT_MAC, CLIENT, [0; 6], VIP);
    let passed_untouched = |dp: &mut Dataplane, frame: &[u8], what: &str| {
        let (verdict, out) = dp.test_run_frame(frame, IFINDEX).unwrap();
        assert_eq!(verdict, XDP_PASS, "{what}");
        assert_eq!(out, frame, "{what}: untouched");
    };
    // Cut short anywhere in the ARP message: left to the kernel, not a byte changed.
    for len in 14..request.len() {
        passed_untouched(&mut dp, &request[..len], &format!("cut at {len} bytes"));
    }
    // Any other hardware / protocol type, address length or opcode is not our question.
    for at in 14..22 {
        for flip in [0x01, 0x80] {
            let mut f = request.clone();
            f[at] ^= flip;
            passed_untouched(&mut dp, &f, &format!("byte {at} ^ {flip:#x}"));
        }
    }
    // Every byte of the target address matters (one flipped is someone else's address).
    for at in 38..42 {
        let mut f = request.clone();
        f[at] ^= 0x01;
        passed_untouched(&mut dp, &f, &format!("target byte {at} changed"));
    }
    // Ethernet padding to the 60-byte minimum is answered and left as it was.
    let mut padded = request.clone();
    padded.resize(60, 0xee);
    let (verdict, reply) = dp.test_run_frame(&padded, IFINDEX).unwrap();
    assert_eq!(verdict, XDP_TX, "padded request");
    let mut expected = arp_reply();
    expected.resize(60, 0xee);
    assert_eq!(reply, expected, "padded request");
    // Behind an 802.1Q tag: answered in place, the tag kept.
    let tag = [0x81, 0x00, 0x00, 0x2a];
    let mut tagged = request[..12].to_vec();
    tagged.extend(tag);
    tagged.extend(&request[12..]);
    let (verdict, reply) = dp.test_run_frame(&tagged, IFINDEX).unwrap();
    assert_eq!(verdict, XDP_TX, "802.1Q-tagged request");
    let mut expected = arp_reply();
    expected.splice(12..12, tag);
    assert_eq!(reply, expected, "802.1Q-tagged request");
    assert_eq!(dp.counters()[counter::ARP_REPLIED as usize].1, 2);
}

#[test]
fn other_arp_is_left_to_the_kernel() {
    let mut dp = responder();
    let cases = [
        (
            "another address",
            arp(1, CLIENT_MAC, CLIENT, [0; 6], Ipv4Addr::new(10, 0, 0, 1)),
        ),
        (
            "a gratuitous ARP for the VIP",
            arp(1, CLIENT_MAC, VIP, [0xff; 6], VIP),
        ),
        (
            "a reply, not a request",
            arp(2, CLIENT_MAC, CLIENT, OUR_MAC, VIP),
        ),
    ];
    for (what, frame) in cases {
        let (verdict, out) = dp.test_run_frame(&frame, IFINDEX).unwrap();
        assert_eq!(verdict, XDP_PASS, "{what}");
        assert_eq!(out, frame, "{what}: untouched");
    }
    // The VIP belongs to `lo`, not to another interface.
    let mut other = loaded();
    other
        .add_vip(IFINDEX + 1000, IpAddr::V4(VIP), OUR_MAC, 1_000_000_000)
        .unwrap();
    other.heartbeat(vrrp_daemon::util::mono_now().0).unwrap();
    let request = arp(1, CLIENT_MAC, CLIENT, [0; 6], VIP);
    assert_eq!(other.test_run(&request, IFINDEX).unwrap(), XDP_PASS);
}

#[test]
fn a_stale_heartbeat_closes_the_gate() {
    let mut dp = loaded();
    dp.add_vip(IFINDEX, IpAddr::V4(VIP), OUR_MAC, 50_000_000)
        .unwrap();
    let request = arp(1, CLIENT_MAC, CLIENT, [0; 6], VIP);
    dp.heartbeat(vrrp_daemon::util::mono_now().0).unwrap();
    assert_eq!(dp.test_run(&request, IFINDEX).unwrap(), XDP_TX);
    // 60 ms without a heartbeat, more than the 50 ms allowed: the request is dropped so the
    // kernel does not answer for the still-configured address either.
    std::thread::sleep(std::time::Duration::from_millis(60));
    assert_eq!(dp.test_run(&request, IFINDEX).unwrap(), XDP_DROP);
    assert_eq!(dp.counters()[counter::STALE_DROPPED as usize].1, 1);
    dp.heartbeat(vrrp_daemon::util::mono_now().0).unwrap();
    assert_eq!(dp.test_run(&request, IFINDEX).unwrap(), XDP_TX);
    // Released: back to the kernel.
    dp.remove_vip(IFINDEX, IpAddr::V4(VIP)).unwrap();
    assert_eq!(dp.test_run(&request, IFINDEX).unwrap(), XDP_PASS);
}

const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x200);

fn neighbour_solicitation(target: Ipv6Addr) -> Vec<u8> {
    let seg = target.octets();
    let mut f = vec![0x33, 0x33, 0xff, seg[13], seg[14], seg[15]];
    f.extend(CLIENT_MAC);
    f.extend([0x86, 0xdd, 0x60, 0, 0, 0, 0, 32, 58, 255]);
    f.extend(CLIENT6.octets());
    let solicited = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(seg[13]),
        u16::from_be_bytes([seg[14], seg[15]]),
    );
    f.extend(solicited.octets());
    let mut icmp = vec![135, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend(target.octets());
    icmp.extend([1, 1]);
    icmp.extend(CLIENT_MAC);
    let sum = packet::checksum(&icmp, icmp6_pseudo(CLIENT6, solicited, icmp.len()));
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    f.extend(icmp);
    f
}

fn icmp6_pseudo(src: Ipv6Addr, dst: Ipv6Addr, len: usize) -> u32 {
    let words = |a: Ipv6Addr| a.segments().iter().map(|w| u32::from(*w)).sum::<u32>();
    words(src) + words(dst) + len as u32 + 58
}

#[test]
fn neighbour_solicitations_for_an_owned_vip_get_a_valid_advertisement() {
    let mut dp = responder();
    let (verdict, na) = dp
        .test_run_frame(&neighbour_solicitation(VIP6), IFINDEX)
        .unwrap();
    assert_eq!(verdict, XDP_TX);
    assert_eq!(&na[0..6], &CLIENT_MAC, "back to the solicitor");
    assert_eq!(&na[6..12], &OUR_MAC);
    assert_eq!(&na[22..38], &VIP6.octets(), "from the target");
    assert_eq!(&na[38..54], &CLIENT6.octets());
    assert_eq!(na[21], 255, "hop limit");
    let icmp = &na[54..];
    assert_eq!(icmp[0], 136);
    assert_eq!(icmp[4], 0x60, "Solicited + Override");
    assert_eq!(&icmp[8..24], &VIP6.octets());
    assert_eq!(
        &icmp[24..32],
        &[2, 1, 0x02, 0xaa, 0, 0, 0, 0x01],
        "target link-layer address"
    );
    assert_eq!(
        packet::checksum(icmp, icmp6_pseudo(VIP6, CLIENT6, icmp.len())),
        0,
        "ICMPv6 checksum verifies"
    );
    // Another target: the kernel's business.
    let other = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x1);
    assert_eq!(
        dp.test_run(&neighbour_solicitation(other), IFINDEX)
            .unwrap(),
        XDP_PASS
    );
}

/// The maps of [`loaded`], for the userspace mirror of the checks.
struct Maps;

impl classify::Lookup for Maps {
    fn instance(&self, key: &InstanceKey) -> Option<InstanceConfig> {
        let none = |version| InstanceConfig {
            version,
            auth_type: AUTH_NONE,
            adver_int_secs: 0,
            flags: 0,
            auth_pass: [0; 8],
        };
        match (key.ifindex, key.vrid, key.family) {
            (IFINDEX, V2_VRID, FAMILY_V4) => Some(InstanceConfig {
                version: 2,
                auth_type: AUTH_PASS,
                adver_int_secs: 1,
                flags: 0,
                auth_pass: key8("1234"),
            }),
            (IFINDEX, V3_VRID, FAMILY_V4) => Some(none(3)),
            (IFINDEX, V6_VRID, FAMILY_V6) => Some(none(3)),
            (IFINDEX, UNICAST_VRID, FAMILY_V4) => Some(InstanceConfig {
                flags: instance_flags::UNICAST | instance_flags::CHECK_UNICAST_SRC,
                ..none(3)
            }),
            _ => None,
        }
    }

    fn unicast_peer(&self, key: &vrrp_common::UnicastPeerKey) -> Option<TtlBounds> {
        if key.instance != InstanceKey::new(IFINDEX, UNICAST_VRID, FAMILY_V4) {
            return None;
        }
        let mut src = [0u8; 16];
        src[..4].copy_from_slice(&SRC.octets());
        let mut near = [0u8; 16];
        near[..4].copy_from_slice(&NEAR_PEER.octets());
        if key.addr == src {
            Some(TtlBounds {
                min_ttl: 0,
                max_ttl: 255,
                _pad: [0; 2],
            })
        } else if key.addr == near {
            Some(TtlBounds {
                min_ttl: 250,
                max_ttl: 255,
                _pad: [0; 2],
            })
        } else {
            None
        }
    }
}

/// What the kernel did with `frame`, in the mirror's terms: which counter moved and what
/// PEERS recorded.
fn kernel_verdict(dp: &mut Dataplane, frame: &[u8]) -> classify::Verdict {
    let before = counters(dp);
    assert_eq!(dp.test_run(frame, IFINDEX).unwrap(), XDP_PASS);
    let after = counters(dp);
    let moved: Vec<u32> = (0..counter::COUNT)
        .filter(|&i| after[i as usize] != before[i as usize])
        .collect();
    match moved.as_slice() {
        [] => classify::Verdict::NotAdvert,
        [c] if *c == counter::ADVERT_RCVD => {
            // The record the program just wrote is the one with the newest timestamp.
            let keys = [
                InstanceKey::new(IFINDEX, V2_VRID, FAMILY_V4),
                InstanceKey::new(IFINDEX, V3_VRID, FAMILY_V4),
                InstanceKey::new(IFINDEX, V6_VRID, FAMILY_V6),
                InstanceKey::new(IFINDEX, UNICAST_VRID, FAMILY_V4),
            ];
            let (key, peer) = keys
                .iter()
                .filter_map(|k| dp.peer(k).map(|p| (*k, p)))
                .max_by_key(|(_, p)| p.last_seen_ns)
                .expect("an accepted advert is recorded");
            classify::Verdict::Accepted {
                key,
                priority: peer.priority,
                adver_int_cs: peer.adver_int_cs,
                csum_flavour: peer.csum_flavour,
            }
        }
        [c] => classify::Verdict::Rejected(*c),
        many => panic!("several counters moved for one frame: {many:?}"),
    }
}

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Taken by each of the two 10,000-frame differential tests, so they run one after the
/// other: run at full rate at the same time, they hung the emulated 5.10 guest of
/// `cargo xtask vm-test` (soft lockups on both CPUs inside BPF_PROG_TEST_RUN; one after
/// the other they pass). The likely cause: older kernels swap the program in and out of
/// the XDP dispatcher on every test run, which patches code across all CPUs.
static DIFFERENTIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn kernel_and_userspace_agree_on_every_frame_and_ten_thousand_mutations() {
    let _turn = DIFFERENTIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut dp = loaded();
    let mut corpus: Vec<Vec<u8>> = fixtures().into_iter().map(|f| f.frame).collect();
    let valid = [
        frame(&encode(&v2(100)), PLAIN),
        frame(
            &encode(&v2(100)),
            Wrap {
                vlan: true,
                ..PLAIN
            },
        ),
        frame(&encode(&v3(150)), PLAIN),
        frame6(&encode6(&v6(120)), 255, 112),
        unicast(SRC, 64, UNICAST_VRID),
    ];
    // Every valid frame cut at every length: each header boundary and everything between.
    for f in &valid {
        corpus.extend((14..f.len()).map(|len| f[..len].to_vec()));
    }
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    for _ in 0..10_000 {
        let mut f = valid[rng.below(valid.len())].clone();
        match rng.below(6) {
            // Flip one to three bytes anywhere.
            0 | 1 => {
                for _ in 0..=rng.below(3) {
                    let at = rng.below(f.len());
                    f[at] = rng.next() as u8;
                }
            }
            // Cut short or pad with garbage.
            2 => f.truncate(14 + rng.below(f.len() - 13)),
            3 => f.extend((0..=rng.below(16)).map(|_| rng.next() as u8)),
            // Header fields that steer the checks: TTL / hop limit, version-type, VRID,
            // count, and the IP length.
            _ => {
                let l3 = if f[12] == 0x81 { 18 } else { 14 };
                let v6 = f[l3] >> 4 == 6;
                let vrrp = if v6 { l3 + 40 } else { l3 + 20 };
                let field = [
                    if v6 { l3 + 7 } else { l3 + 8 },
                    vrrp,
                    vrrp + 1,
                    vrrp + 3,
                    if v6 { l3 + 5 } else { l3 + 3 },
                ][rng.below(5)];
                f[field] = rng.next() as u8;
            }
        }
        corpus.push(f);
    }
    let mut agreed = [0usize; 3];
    for (i, f) in corpus.iter().enumerate() {
        let kernel = kernel_verdict(&mut dp, f);
        let user = classify::classify(f, IFINDEX, &Maps);
        assert_eq!(kernel, user, "frame {i} disagrees: {f:02x?}");
        agreed[match user {
            classify::Verdict::NotAdvert => 0,
            classify::Verdict::Rejected(_) => 1,
            classify::Verdict::Accepted { .. } => 2,
        }] += 1;
    }
    eprintln!(
        "agreed on {} frames: {agreed:?} (not advert, rejected, accepted)",
        corpus.len()
    );
    assert!(
        agreed.iter().all(|n| *n > 50),
        "the corpus exercises every outcome: {agreed:?}"
    );
}

/// An owned VIP whose gate stays open for the whole test (an hour of silence allowed).
const VIP_FRESH: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 100);
/// An owned VIP whose gate is always closed (no silence allowed at all).
const VIP_STALE: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 101);
/// Owned, but on another interface than the one frames arrive on.
const VIP_ELSEWHERE: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 102);
const HOUR_NS: u64 = 3_600_000_000_000;
/// The use_vmac MAC of VIP_STALE's instance: each VIP answers with its own MAC.
const VMAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x33];

/// The `VIPS_V4` map of [`arp_responder`], for the userspace mirror.
struct Vips;

impl classify::VipLookup for Vips {
    fn vip_v4(&self, key: &vrrp_common::VipKeyV4) -> Option<vrrp_common::VipOwner> {
        let owner = |max_silence_ns, mac| vrrp_common::VipOwner {
            max_silence_ns,
            mac,
            _pad: [0; 2],
        };
        match (key.ifindex, Ipv4Addr::from(key.addr)) {
            (IFINDEX, VIP_FRESH) => Some(owner(HOUR_NS, OUR_MAC)),
            (IFINDEX, VIP_STALE) => Some(owner(0, VMAC)),
            (i, VIP_ELSEWHERE) if i == IFINDEX + 1000 => Some(owner(HOUR_NS, OUR_MAC)),
            _ => None,
        }
    }
}

/// A loaded program owning the VIPs of [`Vips`], with a fresh heartbeat.
fn arp_responder() -> Dataplane {
    let mut dp = loaded();
    dp.add_vip(IFINDEX, IpAddr::V4(VIP_FRESH), OUR_MAC, HOUR_NS)
        .unwrap();
    dp.add_vip(IFINDEX, IpAddr::V4(VIP_STALE), VMAC, 0).unwrap();
    dp.add_vip(IFINDEX + 1000, IpAddr::V4(VIP_ELSEWHERE), OUR_MAC, HOUR_NS)
        .unwrap();
    dp.heartbeat(vrrp_daemon::util::mono_now().0).unwrap();
    dp
}

/// What the kernel did with `frame`, in the mirror's terms; checks on the way that a passed
/// frame is untouched and that exactly the responder's counter for the outcome moved.
fn kernel_arp_verdict(dp: &mut Dataplane, frame: &[u8]) -> classify::ArpVerdict {
    let before = counters(dp);
    let (verdict, out) = dp.test_run_frame(frame, IFINDEX).unwrap();
    let after = counters(dp);
    let moved = |c: u32| after[c as usize] - before[c as usize];
    let (replied, stale) = (moved(counter::ARP_REPLIED), moved(counter::STALE_DROPPED));
    match verdict {
        XDP_PASS => {
            assert_eq!(out, frame, "a passed frame is untouched: {frame:02x?}");
            assert_eq!(
                (replied, stale),
                (0, 0),
                "no responder counter: {frame:02x?}"
            );
            classify::ArpVerdict::Pass
        }
        XDP_DROP => {
            assert_eq!((replied, stale), (0, 1), "stale_dropped once: {frame:02x?}");
            classify::ArpVerdict::Stale
        }
        XDP_TX => {
            assert_eq!((replied, stale), (1, 0), "arp_replied once: {frame:02x?}");
            classify::ArpVerdict::Reply(out)
        }
        other => panic!("verdict {other} for {frame:02x?}"),
    }
}

#[test]
fn kernel_and_userspace_agree_on_every_arp_frame_and_ten_thousand_mutations() {
    let _turn = DIFFERENTIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut dp = arp_responder();
    let request = |target| arp(1, CLIENT_MAC, CLIENT, [0; 6], target);
    let tagged = |f: &[u8], tpid: [u8; 2]| {
        let mut t = f[..12].to_vec();
        t.extend(tpid);
        t.extend([0x00, 0x2a]);
        t.extend(&f[12..]);
        t
    };
    let mut base = vec![
        request(VIP_FRESH),
        request(VIP_STALE),
        request(VIP_ELSEWHERE),
        request(Ipv4Addr::new(10, 0, 0, 1)),
        arp(1, CLIENT_MAC, VIP_FRESH, [0xff; 6], VIP_FRESH),
        arp(2, CLIENT_MAC, CLIENT, OUR_MAC, VIP_FRESH),
    ];
    let untagged = base.clone();
    for f in &untagged {
        base.push(tagged(f, [0x81, 0x00]));
        base.push(tagged(f, [0x88, 0xa8]));
        let mut padded = f.clone();
        padded.resize(60, 0xee);
        base.push(padded);
    }
    let mut corpus = base.clone();
    for f in &base {
        corpus.extend((14..f.len()).map(|len| f[..len].to_vec()));
    }
    let targets = [VIP_FRESH, VIP_STALE, VIP_ELSEWHERE, CLIENT];
    let mut rng = Rng(0x5eed_a4b0_0ff1_ce01);
    for _ in 0..10_000 {
        let mut f = base[rng.below(base.len())].clone();
        let l3 = if f[12] == 0x81 || f[12] == 0x88 {
            18
        } else {
            14
        };
        match rng.below(6) {
            // Flip one to three bytes anywhere.
            0 | 1 => {
                for _ in 0..=rng.below(3) {
                    let at = rng.below(f.len());
                    f[at] = rng.next() as u8;
                }
            }
            // Cut short or pad with garbage.
            2 => f.truncate(14 + rng.below(f.len() - 13)),
            3 => f.extend((0..=rng.below(16)).map(|_| rng.next() as u8)),
            // Another target address, sender address or sender MAC.
            4 => {
                let target = targets[rng.below(targets.len())].octets();
                f[l3 + 24..l3 + 28].copy_from_slice(&target);
                if rng.below(4) == 0 {
                    f[l3 + 14..l3 + 18].copy_from_slice(&target);
                }
            }
            _ => {
                let sha = rng.next().to_be_bytes();
                f[l3 + 8..l3 + 14].copy_from_slice(&sha[..6]);
            }
        }
        corpus.push(f);
    }
    let mut outcomes = [0usize; 3];
    for (i, f) in corpus.iter().enumerate() {
        let kernel = kernel_arp_verdict(&mut dp, f);
        // Any silence below an hour and above zero: the heartbeat was written just now.
        let user = classify::respond_arp(f, IFINDEX, &Vips, 1);
        assert_eq!(kernel, user, "frame {i} disagrees: {f:02x?}");
        outcomes[match user {
            classify::ArpVerdict::Pass => 0,
            classify::ArpVerdict::Stale => 1,
            classify::ArpVerdict::Reply(_) => 2,
        }] += 1;
    }
    eprintln!(
        "agreed on {} frames: {outcomes:?} (passed, stale, answered)",
        corpus.len()
    );
    assert!(
        outcomes.iter().all(|n| *n > 50),
        "the corpus exercises every outcome: {outcomes:?}"
    );
}
