//! One keepalived.conf for both nodes of a pair, written with keepalived's configuration
//! language (`@id` lines, `$NAME` parameters, a `~SEQ` line): real keepalived reads it
//! with `-i kad` on node1, this daemon with `-i ours` on node2, and the two form the pair
//! the file describes. A SIGHUP re-reads it with the same id. Needs root and keepalived
//! (`cargo xtask test` installs it).
use std::{process::Command, time::Duration};

use serde_json::Value;
use vrrp_tests::{Lab, is_root};

const MS: Duration = Duration::from_millis(1);
const VIPS: [&str; 3] = ["10.0.0.100", "10.0.0.101", "10.0.0.102"];

/// The shared file. `@kad` lines are keepalived's (node1), `@ours` lines this daemon's
/// (node2); a host with any other id would get neither priority line and run at 100.
const SHARED: &str = r"
$NET=10.0.0
$IFACE=eth0
global_defs {
    vrrp_version 3
    @kad router_id node1-keepalived
    @ours router_id node2-vrrp-daemon
}
vrrp_instance VI_SHARED {
    interface $IFACE
    virtual_router_id 77
    advert_int 0.1
    @kad state MASTER
    @kad priority 150
    @^kad state BACKUP
    @ours priority 120
    virtual_ipaddress {
        ~SEQ(HOST, 100, 102) ${NET}.${HOST}/24 dev $IFACE
    }
}
";

fn status(lab: &Lab, node: usize) -> Option<Value> {
    let out = Command::new(lab.daemon_bin().ok()?)
        .arg("status")
        .arg("--control-socket")
        .arg(lab.control_socket(node))
        .arg("--json")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten()
}

/// The VIPs of [`VIPS`] that `node` holds.
fn held(lab: &Lab, node: usize) -> Vec<String> {
    VIPS.iter()
        .filter(|v| lab.vip_holders(v).contains(&node))
        .map(ToString::to_string)
        .collect()
}

#[test]
fn keepalived_and_this_daemon_run_one_shared_file_with_their_config_ids() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let kad = lab
        .spawn_keepalived(1, SHARED, &["-i", "kad"])
        .expect("keepalived");
    kad.wait_keepalived_ready(Duration::from_secs(10))
        .expect("keepalived ready");
    let ours = lab
        .spawn_daemon(2, SHARED, &["-i", "ours"])
        .expect("vrrp-daemon");

    // keepalived took its @kad lines (MASTER, 150) and the three VIPs of the ~SEQ line;
    // ours took its @ours priority and the @^kad state, and sees keepalived as master.
    let backup_of_keepalived = |s: &Value| {
        let i = &s["instances"][0];
        i["state"] == "BACKUP" && i["master_addr"] == "10.0.0.1" && i["master_priority"] == 150
    };
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        held(&lab, 1) == VIPS
            && held(&lab, 2).is_empty()
            && status(&lab, 2).is_some_and(|s| backup_of_keepalived(&s))
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e:#}: node1 holds {:?}, node2 {:?}; status {:?}\n{}",
            held(&lab, 1),
            held(&lab, 2),
            status(&lab, 2),
            kad.log()
        )
    });
    let s = status(&lab, 2).expect("status");
    let i = &s["instances"][0];
    assert_eq!(i["iname"], "VI_SHARED");
    assert_eq!(i["base_priority"], 120, "the @ours line: {i}");
    assert_eq!(i["vrid"], 77);

    // A reload re-reads the file for the same id: still 120 (without the id, 100).
    let reloads = |log: &str| log.matches("SIGHUP: reloading the configuration").count();
    ours.signal(libc::SIGHUP).expect("SIGHUP");
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        reloads(&ours.log()) == 1
    })
    .expect("the reload is logged");
    std::thread::sleep(200 * MS);
    let s = status(&lab, 2).expect("status after the reload");
    assert_eq!(s["instances"][0]["base_priority"], 120, "{s}");
    assert!(backup_of_keepalived(&s), "{s}");
    assert!(!ours.log().contains("reload refused"), "{}", ours.log());

    // keepalived stops (priority 0): ours takes every VIP of the sequence.
    kad.term(Duration::from_secs(5)).expect("keepalived stops");
    lab.wait_for(Duration::from_secs(5), 10 * MS, || held(&lab, 2) == VIPS)
        .expect("node2 takes over every VIP");
    let s = status(&lab, 2).expect("status after the takeover");
    assert_eq!(s["instances"][0]["state"], "MASTER", "{s}");
}
