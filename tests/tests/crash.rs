//! A crash fails over like a clean stop: when the master's daemon is SIGKILLed (the host
//! stays up), its crash guardian sends the priority-0 adverts at once and releases the VIP,
//! so the backup takes over after skew time instead of the whole master-down interval, and
//! the VIP moves once.
//!
//! The three run one after another: the labs share one kernel, and another lab's daemon
//! attaching or detaching XDP holds the RTNL lock the new master needs to add the VIP,
//! which at 10 ms adverts shows in the client's gap (real hosts do not share that lock).
use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use vrrp_tests::{Lab, is_root};

const VIP: &str = "10.0.0.100";
const MS: Duration = Duration::from_millis(1);

fn config(version: u8, advert_int: &str, state: &str, priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    virtual_router_id 51\n    priority {priority}\n    advert_int {advert_int}\n    version {version}\n    virtual_ipaddress {{\n        {VIP}\n    }}\n}}\n"
    )
}

/// One crash lab at a time (see the module comment).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Seconds since midnight of a log line's timestamp (`2026-11-26T06:17:50.617506Z ...`).
fn log_time(line: &str) -> Option<f64> {
    let time = line.split_whitespace().next()?.split('T').nth(1)?;
    let mut hms = time.trim_end_matches('Z').split(':');
    let (h, m, s): (f64, f64, f64) = (
        hms.next()?.parse().ok()?,
        hms.next()?.parse().ok()?,
        hms.next()?.parse().ok()?,
    );
    Some(h * 3600.0 + m * 60.0 + s)
}

/// From the daemons' own logs (one clock): node1's guardian noticing the death to node2's
/// move to MASTER. This is the protocol's handover (the guardian's priority 0, then
/// node2's skew time), free of what the shared lab kernel adds to the VIP's arrival (the
/// dead daemon's XDP detach holds RTNL while node2 adds the address).
fn reaction(lab: &Lab) -> Duration {
    let noticed = lab
        .log(1)
        .lines()
        .find(|l| l.contains("guardian: the daemon died"))
        .and_then(log_time);
    let master = lab
        .log(2)
        .lines()
        .rev()
        .filter(|l| l.contains("VRRP transition BACKUP -> MASTER"))
        .find_map(log_time);
    match (noticed, master) {
        (Some(a), Some(b)) if b >= a => Duration::from_secs_f64(b - a),
        _ => panic!(
            "no guardian or takeover line:\n{}\n{}",
            lab.log(1),
            lab.log(2)
        ),
    }
}

/// SIGKILL the master; return the client's longest gap, the takeover time (kill to the
/// VIP's arrival on node2, from the kernel's address notifications) and the protocol's
/// handover ([`reaction`]).
fn crash(version: u8, advert_int: &str, port: u16) -> (Duration, Duration, Duration) {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::builder().nodes(2).client(true).build().expect("lab");
    let d1 = lab
        .spawn_daemon(1, &config(version, advert_int, "MASTER", 100), &[])
        .unwrap();
    let _d2 = lab
        .spawn_daemon(2, &config(version, advert_int, "BACKUP", 90), &[])
        .unwrap();
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        lab.vip_holders(VIP) == [1]
    })
    .unwrap_or_else(|_| panic!("no master:\n{}", lab.log(1)));
    // Both daemons start as backups and the first to time out may be node2, which node1
    // then preempts: let that settle (and its gratuitous ARPs) before the client looks.
    std::thread::sleep(Duration::from_millis(100));
    let watch = lab.watch_vip(VIP).unwrap();
    let probe = lab.start_probe(VIP, port).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let killed = Instant::now();
    d1.kill9().unwrap();
    watch
        .wait(Duration::from_secs(6), |holders| holders == [2])
        .unwrap_or_else(|_| panic!("no clean handover:\n{}\n{}", lab.log(1), lab.log(2)));
    std::thread::sleep(Duration::from_millis(300));
    let report = probe.stop().unwrap();
    let timeline = watch.stop().unwrap();
    // `kill9` returns only once the daemon is gone, after the handover: the times come
    // from the timeline.
    let killed_at = killed - timeline.started_at;
    let acquired = timeline.acquisitions(2);
    assert_eq!(acquired.len(), 1, "node2 takes the VIP once: {timeline}");
    let took = acquired[0].saturating_sub(killed_at);
    eprintln!(
        "v{version} advert_int {advert_int}: handover {took:?}; {report}; {timeline}, killed at {killed_at:?}"
    );
    // The client moves once, from node1 to node2, and only at the crash.
    let killed_in_probe = report.since_start(killed);
    let owners: Vec<(usize, bool)> = report
        .changes
        .iter()
        .map(|c| (c.to, c.at >= killed_in_probe))
        .collect();
    assert_eq!(
        owners,
        [(1, false), (2, true)],
        "the VIP moves once: {report}"
    );
    let log = lab.log(1);
    assert!(
        log.contains("guardian: the daemon died") && log.contains("VI_1 resigned with priority 0"),
        "{log}"
    );
    assert!(
        lab.log(2).contains("master sent priority 0"),
        "{}",
        lab.log(2)
    );
    let gap = report.gap_around(killed, killed + took);
    let reacted = reaction(&lab);
    eprintln!("crash gap {gap:?}; guardian to node2's MASTER {reacted:?}");
    (gap, took, reacted)
}

#[test]
fn sigkill_of_the_master_at_one_second_fails_over_after_skew_time() {
    // Skew of priority 90: 648 ms; master-down would be 3.65 s.
    let (gap, took, reacted) = crash(2, "1", 9301);
    assert!(
        reacted < Duration::from_millis(648 + 20),
        "reaction {reacted:?}"
    );
    assert!(took < Duration::from_millis(648 + 150), "handover {took:?}");
    assert!(gap < Duration::from_millis(648 + 150), "client gap {gap:?}");
}

#[test]
fn sigkill_of_the_master_at_100ms_fails_over_after_skew_time() {
    // Skew of priority 90 at 100 ms: 65 ms; master-down would be 365 ms.
    let (gap, took, reacted) = crash(3, "0.1", 9302);
    assert!(
        reacted < Duration::from_millis(65 + 10),
        "reaction {reacted:?}"
    );
    assert!(took < Duration::from_millis(65 + 60), "handover {took:?}");
    assert!(gap < Duration::from_millis(65 + 60), "client gap {gap:?}");
}

#[test]
fn sigkill_of_the_master_at_10ms_fails_over_after_skew_time() {
    // Skew of priority 90 at 10 ms: 6.5 ms; master-down would be 36.5 ms, and without the
    // guardian's priority 0 node2 would move 26.5-36.5 ms after the kill depending on its
    // phase. The protocol's handover is held to the skew time plus 3.5 ms. The VIP's
    // arrival and the client's gap also carry the shared lab kernel's RTNL wait (the dead
    // daemon's XDP detach): 6-10 ms usually, once 22 ms; their bound only has to stay
    // clear of a master-down takeover. The figures are printed (and in the note).
    let (gap, took, reacted) = crash(3, "0.01", 9303);
    assert!(
        reacted < Duration::from_micros(6_500 + 3_500),
        "reaction {reacted:?}"
    );
    assert!(
        took < Duration::from_micros(6_500 + 19_500),
        "handover {took:?}"
    );
    assert!(
        gap < Duration::from_micros(6_500 + 19_500),
        "client gap {gap:?}"
    );
}
