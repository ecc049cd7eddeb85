//! `vrrp_garp_interval` / `vrrp_gna_interval`: a takeover's gratuitous ARPs go out at
//! least that far apart on their interface, and its unsolicited NAs on their own pace;
//! what is still queued when the instance stops being master is never sent. Needs root
//! (`cargo xtask test`).
use std::time::Duration;

use vrrp_tests::{Host, Lab, is_root};

const MS: Duration = Duration::from_millis(1);

/// An instance on eth0 with `v4` IPv4 addresses (10.0.0.100 + k) and one IPv6 excluded
/// address, its announcements repeated `repeat` times, paced by `interval` seconds.
fn config(v4: usize, repeat: u32, interval: &str) -> String {
    let vips: String = (0..v4)
        .map(|k| format!("        10.0.0.{}/24\n", 100 + k))
        .collect();
    format!(
        "global_defs {{\n    vrrp_garp_interval {interval}\n    vrrp_gna_interval {interval}\n}}\n\
         vrrp_instance VI_1 {{\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n    \
         priority 100\n    advert_int 0.1\n    version 3\n    garp_master_repeat {repeat}\n    \
         garp_master_delay 0\n    virtual_ipaddress {{\n{vips}    }}\n    \
         virtual_ipaddress_excluded {{\n        2001:db8::100/64\n    }}\n}}\n"
    )
}

/// Capture times (s) of the gratuitous ARPs and of the NAs for 2001:db8::100 in `frames`.
fn times(frames: &[vrrp_tests::CapturedFrame]) -> (Vec<f64>, Vec<f64>) {
    let garps = frames
        .iter()
        .filter(|f| f.line.contains("(ff:ff:ff:ff:ff:ff) tell 10.0.0.1"))
        .map(|f| f.at)
        .collect();
    let nas = frames
        .iter()
        .filter(|f| {
            f.line
                .contains("neighbor advertisement, tgt is 2001:db8::100")
        })
        .map(|f| f.at)
        .collect();
    (garps, nas)
}

fn gaps(t: &[f64]) -> Vec<f64> {
    t.windows(2).map(|w| (w[1] - w[0]) * 1e3).collect()
}

fn lab_with_dad_off() -> Lab {
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    lab.sh_ok(1, "sysctl -qw net.ipv6.conf.eth0.accept_dad=0")
        .expect("sysctl");
    lab
}

#[test]
fn a_takeover_announces_at_the_configured_pace() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = lab_with_dad_off();
    let capture = lab
        .start_capture(Host::Switch, "br0", &["arp", "or", "icmp6"], "paced")
        .expect("capture");
    // 3 addresses x 2 = 6 GARPs 50 ms apart (250 ms), 2 NAs 50 ms apart meanwhile.
    let d = lab
        .spawn_daemon(1, &config(3, 2, "0.05"), &[])
        .expect("daemon");
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        d.log().contains("BACKUP -> MASTER")
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    std::thread::sleep(800 * MS);
    let frames = capture.frames(&["arp", "or", "icmp6"]).expect("frames");
    let (garps, nas) = times(&frames);
    let listing = frames
        .iter()
        .map(|f| f.line.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!((garps.len(), nas.len()), (6, 2), "{listing}");
    // Capture timestamps: allow 2 ms of jitter below the pace, and a generous bound above.
    for gap in gaps(&garps).into_iter().chain(gaps(&nas)) {
        assert!((48.0..150.0).contains(&gap), "gap {gap:.1} ms:\n{listing}");
    }
    // The lanes are separate: the first NA does not wait behind the ARPs.
    assert!(
        (nas[0] - garps[0]).abs() < 0.040,
        "first NA {:.1} ms after the first GARP:\n{listing}",
        (nas[0] - garps[0]) * 1e3
    );
}

#[test]
fn announcements_still_queued_when_mastership_ends_are_dropped() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let mac = |node: usize| {
        lab.exec_ok(node, &["cat", "/sys/class/net/eth0/address"])
            .unwrap()
            .trim()
            .to_owned()
    };
    let node1_mac = mac(1);
    let capture = lab
        .start_capture(Host::Switch, "br0", &["arp", "or", "vrrp"], "dropped")
        .expect("capture");
    // node1: 5 x 2 = 10 GARPs 200 ms apart, 1.8 s in all. About 0.5 s into them, node2
    // (priority 200) preempts it: node1 leaves MASTER with most of them still queued, and
    // keeps running.
    let d1 = lab
        .spawn_daemon(1, &config(5, 2, "0.2"), &[])
        .expect("node1");
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        d1.log().contains("BACKUP -> MASTER")
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d1.log()));
    std::thread::sleep(500 * MS);
    let higher = config(5, 1, "0").replace("priority 100", "priority 200");
    let d2 = lab.spawn_daemon(2, &higher, &[]).expect("node2");
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        d1.log().contains("MASTER -> BACKUP")
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}\n{}", d1.log(), d2.log()));
    std::thread::sleep(2000 * MS);
    assert!(d1.is_running());
    let frames = capture.frames(&["arp", "or", "vrrp"]).expect("frames");
    let listing = frames
        .iter()
        .map(|f| f.line.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    // node2's first advert (priority 200) is what ended node1's mastership.
    let preempted = frames
        .iter()
        .find(|f| f.line.contains("prio 200"))
        .map(|f| f.at)
        .unwrap_or_else(|| panic!("no advert of node2:\n{listing}"));
    let node1_garps: Vec<f64> = times(&frames)
        .0
        .into_iter()
        .zip(
            frames
                .iter()
                .filter(|f| f.line.contains("(ff:ff:ff:ff:ff:ff) tell 10.0.0.1")),
        )
        .filter(|(_, f)| f.src_mac == node1_mac)
        .map(|(t, _)| t)
        .collect();
    assert!(
        (2..10).contains(&node1_garps.len()),
        "{} GARPs from node1:\n{listing}",
        node1_garps.len()
    );
    // Its answer to that advert is immediate; 50 ms covers the capture's clock.
    assert!(
        node1_garps.iter().all(|&t| t < preempted + 0.050),
        "node1 announced after it was preempted:\n{listing}"
    );
}
