//! SIGHUP reload end to end: parse first, keep state, hand over what was removed.
use std::time::{Duration, Instant};

use vrrp_tests::{Lab, is_root};

const VIP: &str = "10.0.0.100";
const VIP2: &str = "10.0.0.101";
const MS: Duration = Duration::from_millis(1);

fn instance(name: &str, vrid: u8, state: &str, priority: u8, vip: &str) -> String {
    format!(
        "vrrp_instance {name} {{
    state {state}
    interface eth0
    virtual_router_id {vrid}
    priority {priority}
    advert_int 0.1
    virtual_ipaddress {{
        {vip}
    }}
}}
"
    )
}

fn config(instances: &[String]) -> String {
    format!(
        "global_defs {{\n    vrrp_version 3\n}}\n{}",
        instances.concat()
    )
}

fn pair(
    lab: &Lab,
    node1: &str,
    node2: &str,
) -> (vrrp_tests::DaemonHandle, vrrp_tests::DaemonHandle) {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let d1 = lab.spawn_daemon(1, node1, &[]).expect("node1");
    let d2 = lab.spawn_daemon(2, node2, &[]).expect("node2");
    (d1, d2)
}

fn settle(lab: &Lab, vip: &str, node: usize) {
    lab.wait_for(Duration::from_secs(5), MS, || {
        lab.vip_holders(vip) == [node]
    })
    .unwrap_or_else(|_| {
        panic!(
            "{vip} not on node{node} alone: {:?}\n{}\n{}",
            lab.vip_holders(vip),
            lab.log(1),
            lab.log(2)
        )
    });
}

/// Rewrite node1's config file in place (the daemon reloads the path it was started with).
fn rewrite(d: &vrrp_tests::DaemonHandle, text: &str) {
    std::fs::write(d.config_path(), text).expect("rewrite config");
}

#[test]
fn sighup_with_an_unchanged_instance_moves_nothing_and_the_client_sees_no_gap() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(true).build().expect("lab");
    let master = config(&[instance("VI_1", 51, "MASTER", 100, VIP)]);
    let (d1, _d2) = pair(
        &lab,
        &master,
        &config(&[instance("VI_1", 51, "BACKUP", 90, VIP)]),
    );
    settle(&lab, VIP, 1);
    let probe = lab.start_probe(VIP, 9201).expect("probe");
    std::thread::sleep(300 * MS);
    // Same identity; a new priority and a comment, as an operator would touch it.
    rewrite(
        &d1,
        &format!(
            "# edited\n{}",
            master.replace("priority 100", "priority 110")
        ),
    );
    for _ in 0..3 {
        d1.signal(libc::SIGHUP).unwrap();
        std::thread::sleep(300 * MS);
        assert_eq!(lab.vip_holders(VIP), [1], "the VIP never moves on reload");
    }
    let report = probe.stop().unwrap();
    assert_eq!(report.nodes_seen(), [1], "{report}");
    assert!(
        report.longest_gap < 50 * MS,
        "no gap at the client: {report}"
    );
    let log = lab.log(1);
    assert_eq!(log.matches("configuration reloaded").count(), 3, "{log}");
    assert_eq!(
        log.matches("VRRP transition").count(),
        2,
        "INIT->BACKUP->MASTER only:\n{log}"
    );
    assert!(d1.is_running());
}

#[test]
fn sighup_with_a_broken_file_changes_nothing() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(true).build().expect("lab");
    let master = config(&[instance("VI_1", 51, "MASTER", 100, VIP)]);
    let (d1, _d2) = pair(
        &lab,
        &master,
        &config(&[instance("VI_1", 51, "BACKUP", 90, VIP)]),
    );
    settle(&lab, VIP, 1);
    // Removing the instance would hand the VIP over, but the file also has an error.
    rewrite(
        &d1,
        "global_defs {\n    vrrp_version 3\n}\nvrrp_instance VI_1 {\n    virtual_router_id 999\n}\n",
    );
    d1.signal(libc::SIGHUP).unwrap();
    std::thread::sleep(500 * MS);
    assert_eq!(lab.vip_holders(VIP), [1]);
    assert!(d1.is_running());
    let log = lab.log(1);
    assert!(log.contains("reload refused"), "{log}");
    assert!(log.contains(":5:"), "the error names the line: {log}");
}

#[test]
fn sighup_that_removes_an_instance_hands_its_vip_to_the_peer() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(true).build().expect("lab");
    let a1 = instance("VI_A", 51, "MASTER", 100, VIP);
    let b1 = instance("VI_B", 52, "MASTER", 100, VIP2);
    let a2 = instance("VI_A", 51, "BACKUP", 90, VIP);
    let b2 = instance("VI_B", 52, "BACKUP", 90, VIP2);
    let (d1, _d2) = pair(&lab, &config(&[a1.clone(), b1]), &config(&[a2, b2]));
    settle(&lab, VIP, 1);
    settle(&lab, VIP2, 1);
    // Drop VI_B on node1: it resigns with priority 0, node2 takes over after skew time.
    rewrite(&d1, &config(&[a1]));
    let sent = Instant::now();
    d1.signal(libc::SIGHUP).unwrap();
    lab.wait_for(Duration::from_secs(3), MS, || lab.vip_holders(VIP2) == [2])
        .unwrap_or_else(|_| panic!("VIP2 not handed over:\n{}", lab.log(1)));
    let took = sent.elapsed();
    // Skew of priority 90 at 100 ms is 65 ms; a reload also parses the file.
    assert!(took < Duration::from_millis(300), "handover took {took:?}");
    // VI_A is untouched.
    std::thread::sleep(300 * MS);
    assert_eq!(lab.vip_holders(VIP), [1]);
    assert_eq!(lab.vip_holders(VIP2), [2]);
}
