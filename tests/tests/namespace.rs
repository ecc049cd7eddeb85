//! `net_namespace NAME`: a daemon started in one network namespace runs its instances in
//! the named one (node2 starts it; node1's namespace gets the VIP and the adverts), and a
//! name that does not exist stops it before anything is touched. Needs root
//! (`cargo xtask test`).
use std::time::Duration;

use vrrp_tests::{Lab, is_root};

const MS: Duration = Duration::from_millis(1);

fn config(ns: &str) -> String {
    format!(
        "net_namespace {ns}\nvrrp_instance VI_1 {{\n    state MASTER\n    interface eth0\n    \
         virtual_router_id 51\n    priority 100\n    advert_int 0.1\n    version 3\n    \
         virtual_ipaddress {{\n        10.0.0.100/24\n    }}\n}}\n"
    )
}

#[test]
fn the_daemon_runs_in_the_named_namespace() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let node1 = lab.ns(1).to_owned();
    // Started in node2's namespace, told to run in node1's.
    let d = lab.spawn_daemon(2, &config(&node1), &[]).expect("daemon");
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        lab.vip_holders("10.0.0.100") == [1]
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    assert!(
        d.log()
            .contains(&format!("running in network namespace {node1}")),
        "{}",
        d.log()
    );
    // Its adverts leave from node1's address (the namespace's eth0), and node2's eth0 has
    // no XDP program (the daemon attached node1's).
    assert!(d.log().contains("source=10.0.0.1"), "{}", d.log());
    let node2_link = lab
        .exec_ok(2, &["ip", "-o", "link", "show", "eth0"])
        .unwrap();
    assert!(!node2_link.contains("xdp"), "{node2_link}");
    let node1_link = lab
        .exec_ok(1, &["ip", "-o", "link", "show", "eth0"])
        .unwrap();
    assert!(node1_link.contains("xdp"), "{node1_link}");
    // A clean stop releases the VIP in that namespace.
    d.term(Duration::from_secs(5)).expect("stops");
    assert!(lab.vip_holders("10.0.0.100").is_empty());
}

#[test]
fn a_namespace_that_does_not_exist_is_a_clear_error() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    let d = lab
        .spawn_daemon(1, &config("vrrpt-no-such-namespace"), &[])
        .expect("daemon");
    let status = d.wait_exit(Duration::from_secs(10)).expect("it exits");
    assert_eq!(status.code(), Some(1), "{}", d.log());
    assert!(
        d.log().contains(
            "net_namespace vrrpt-no-such-namespace: no such network namespace in /run/netns; \
             create it with `ip netns add vrrpt-no-such-namespace`"
        ),
        "{}",
        d.log()
    );
    let link = lab
        .exec_ok(1, &["ip", "-o", "link", "show", "eth0"])
        .unwrap();
    assert!(!link.contains("xdp"), "nothing was touched: {link}");
}
