//! Cost per packet of the XDP program, measured by the kernel (BPF_PROG_TEST_RUN with a
//! large repeat), side by side with a trivial `XDP_PASS` program from the same object.
//!
//! Run by `cargo xtask bench` (root). Prints medians over several rounds; it asserts
//! nothing: targets (foreign traffic ≤ 10 ns above the baseline, an advert < 150 ns, an ARP
//! reply < 100 ns) are read off the table.
use std::net::{IpAddr, Ipv4Addr};

use vrrp_common::{
    AUTH_PASS, FAMILY_V4, InstanceConfig, InstanceKey, XDP_BASELINE_PROGRAM, XDP_PROGRAM,
};
use vrrp_daemon::{
    dataplane::Dataplane,
    packet::{self, Advert, V2Auth, V3Checksum},
    units::Centiseconds,
    util::mono_now,
};

const LO: u32 = 1;
const REPEAT: u32 = 1_000_000;
const ROUNDS: usize = 7;
/// Single-run measurements for frames the program rewrites; the kernel times each run.
const SINGLE_SHOTS: usize = 20_001;

fn ipv4_frame(protocol: u8, ttl: u8, dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let tot = 20 + payload.len() as u16;
    let mut ip = vec![0x45, 0];
    ip.extend(tot.to_be_bytes());
    ip.extend([0, 0, 0x40, 0, ttl, protocol, 0, 0, 10, 0, 0, 1]);
    ip.extend(dst);
    let sum = packet::checksum(&ip, 0);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend(ip);
    f.extend(payload);
    f
}

fn main() {
    // SAFETY: no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("xdp_cost: needs root (BPF); run `cargo xtask bench`");
        std::process::exit(2);
    }
    let mut dp = Dataplane::load().expect("load the XDP object");
    let mut key = [0u8; 8];
    key[..4].copy_from_slice(b"1234");
    dp.add_instance(
        InstanceKey::new(LO, 51, FAMILY_V4),
        InstanceConfig {
            version: 2,
            auth_type: AUTH_PASS,
            adver_int_secs: 1,
            flags: 0,
            auth_pass: key,
        },
    )
    .unwrap();
    let vip = Ipv4Addr::new(10, 0, 0, 100);
    dp.add_vip(LO, IpAddr::V4(vip), [2, 0, 0, 0, 0, 1], 3_600_000_000_000)
        .unwrap();
    dp.heartbeat(mono_now().0).unwrap();

    let advert = Advert {
        version: 2,
        vrid: 51,
        priority: 100,
        adver_int: Centiseconds::from_secs(1),
        auth: V2Auth::Pass(key),
        addrs: vec![IpAddr::V4(vip)],
    }
    .encode(
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
        V3Checksum::PseudoHeader,
    );
    let mut tcp = vec![0u8; 20];
    tcp[12] = 0x50;
    let mut arp = vec![0xff; 6];
    arp.extend([2, 0, 0, 0, 0, 9, 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    arp.extend([2, 0, 0, 0, 0, 9, 10, 0, 0, 200]);
    arp.extend([0; 6]);
    arp.extend(vip.octets());
    let frames: [(&str, Vec<u8>); 3] = [
        ("IPv4/TCP (foreign)", ipv4_frame(6, 64, [10, 0, 0, 2], &tcp)),
        (
            "VRRPv2 advert",
            ipv4_frame(112, 255, [224, 0, 0, 18], &advert),
        ),
        ("ARP request for the VIP", arp),
    ];

    println!(
        "XDP cost per packet (BPF_PROG_TEST_RUN; median of {ROUNDS} rounds of {REPEAT} runs, \
         or of {SINGLE_SHOTS} single runs for frames answered with XDP_TX)"
    );
    println!(
        "{:<26} {:>12} {:>14} {:>14} {:>8}",
        "packet", "verdict", "vrrp_xdp ns", "baseline ns", "delta"
    );
    for (name, frame) in &frames {
        let mut ours = Vec::new();
        let mut base = Vec::new();
        let mut verdict = 0;
        // A frame the program rewrites (XDP_TX) would be a different frame from the second
        // repetition on: measure those one run per syscall, the baseline likewise.
        let rewrites = dp.cost_nanos(XDP_PROGRAM, frame, LO, 1).unwrap().0 == 3;
        let (repeat, rounds) = if rewrites {
            (1, SINGLE_SHOTS)
        } else {
            (REPEAT, ROUNDS)
        };
        for _ in 0..rounds {
            let (v, ns) = dp.cost_nanos(XDP_PROGRAM, frame, LO, repeat).unwrap();
            verdict = v;
            ours.push(ns);
            base.push(
                dp.cost_nanos(XDP_BASELINE_PROGRAM, frame, LO, repeat)
                    .unwrap()
                    .1,
            );
        }
        ours.sort_unstable();
        base.sort_unstable();
        let (o, b) = (ours[rounds / 2], base[rounds / 2]);
        let verdict = match verdict {
            1 => "XDP_DROP",
            2 => "XDP_PASS",
            3 => "XDP_TX",
            _ => "other",
        };
        println!(
            "{name:<26} {verdict:>12} {o:>14} {b:>14} {:>+8}",
            o as i64 - b as i64
        );
    }
}
