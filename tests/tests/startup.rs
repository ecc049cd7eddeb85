//! A backup that starts next to a live master waits a full master-down interval from the
//! moment each instance starts, however long the daemon took to set them all up.
//!
//! Set-up can be slow for reasons outside the daemon: here an IPv6 instance waits for its
//! interface's link-local address, still tentative under duplicate address detection (as on
//! a host booting with a freshly raised interface). Timers started from the time set-up
//! began would expire at once, and every IPv4 instance would take over from the live
//! master. Needs root (`cargo xtask test`).
use std::time::{Duration, Instant};

use vrrp_tests::{Lab, is_root};

const VIP: &str = "10.0.0.100";
const MS: Duration = Duration::from_millis(1);

fn v4_instance(state: &str, priority: u8) -> String {
    format!(
        "vrrp_instance VI_4 {{\n    state {state}\n    interface eth0\n    virtual_router_id 51\n    \
         priority {priority}\n    advert_int 0.1\n    version 3\n    virtual_ipaddress {{\n        \
         {VIP}\n    }}\n}}\n"
    )
}

#[test]
fn a_backup_slow_to_set_up_does_not_take_over_from_a_live_master() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let _master = lab
        .spawn_daemon(1, &v4_instance("MASTER", 100), &[])
        .unwrap();
    lab.wait_for(Duration::from_secs(10), MS, || lab.vip_holders(VIP) == [1])
        .unwrap_or_else(|_| panic!("no master:\n{}", lab.log(1)));

    // A second interface on node2 whose link-local address goes through DAD (the lab turns
    // DAD off; this interface turns it back on) and so stays tentative for a second or so.
    lab.sh_ok(
        2,
        "ip link add slow0 type veth peer name slow1 && \
         sysctl -qw net.ipv6.conf.slow0.accept_dad=1 net.ipv6.conf.slow0.dad_transmits=1 && \
         ip link set slow1 up && ip link set slow0 up",
    )
    .expect("slow interface");
    let tentative = lab
        .exec_ok(2, &["ip", "-6", "addr", "show", "dev", "slow0"])
        .unwrap();
    assert!(
        tentative.contains("tentative"),
        "link-local not under DAD: {tentative}"
    );

    // The IPv6 instance comes first, so every instance's set-up waits for it.
    let config = format!(
        "vrrp_instance VI_6 {{\n    state BACKUP\n    interface slow0\n    virtual_router_id 61\n    \
         priority 90\n    advert_int 0.1\n    virtual_ipaddress {{\n        2001:db8:6::100/64\n    }}\n}}\n{}",
        v4_instance("BACKUP", 90)
    );
    let watch = lab.watch_vip(VIP).unwrap();
    let started = Instant::now();
    let _backup = lab.spawn_daemon(2, &config, &[]).unwrap();
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        lab.log(2).contains("instance=VI_4 from=INIT to=BACKUP")
    })
    .unwrap_or_else(|_| panic!("VI_4 never started:\n{}", lab.log(2)));
    let set_up = started.elapsed();
    // Well past its master-down interval (365 ms) from its start.
    std::thread::sleep(Duration::from_secs(1));
    let timeline = watch.stop().unwrap();
    let log = lab.log(2);
    eprintln!("node2 set up in {set_up:?}");
    assert!(
        set_up > Duration::from_millis(365),
        "set-up was not slower than master-down ({set_up:?}); the test proves nothing:\n{log}"
    );
    assert_eq!(
        timeline.acquisitions(2),
        [],
        "node2 took the VIP from a live master:\n{log}"
    );
    assert!(
        !log.contains("instance=VI_4 from=BACKUP to=MASTER"),
        "VI_4 took over:\n{log}"
    );
    assert_eq!(lab.vip_holders(VIP), [1]);
}

/// Seconds since midnight of a log line's RFC 3339 timestamp (`2026-...T01:02:03.456789Z`).
fn logged_at(line: &str) -> f64 {
    let time = line
        .split_whitespace()
        .next()
        .and_then(|stamp| stamp.split('T').nth(1))
        .unwrap_or_else(|| panic!("no timestamp: {line}"))
        .trim_end_matches('Z');
    let parts: Vec<f64> = time.split(':').map(|p| p.parse().unwrap()).collect();
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}

#[test]
fn vrrp_startup_delay_holds_the_instances_in_init() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    let config = format!(
        "global_defs {{\n    vrrp_startup_delay 1.5\n}}\n{}",
        v4_instance("MASTER", 100)
    );
    let _d = lab.spawn_daemon(1, &config, &[]).unwrap();
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        lab.log(1).contains("set-up done")
    })
    .unwrap_or_else(|_| panic!("never set up:\n{}", lab.log(1)));
    // Set up and running, but held: no state, no VIP.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lab.vip_holders(VIP), Vec::<usize>::new());
    assert!(!lab.log(1).contains("VRRP transition"), "{}", lab.log(1));
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        lab.vip_holders(VIP) == [1]
    })
    .unwrap_or_else(|_| panic!("never master:\n{}", lab.log(1)));
    let log = lab.log(1);
    let line = |what: &str| {
        log.lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no `{what}`:\n{log}"))
    };
    let held = logged_at(line("VRRP transition INIT -> BACKUP"))
        - logged_at(line("vrrp_startup_delay: instances stay in INIT"));
    assert!(
        (1.5..2.5).contains(&held),
        "instances started {held:.3} s after the hold began:\n{log}"
    );
}
