//! Many instances on one interface, as in the CPU benchmark: the instances share one advert
//! socket, every master instance keeps advertising (its adverts batched with the others'),
//! every backup instance keeps reading them from the data plane without a false takeover,
//! and every one of them still takes over when the master dies. Needs root
//! (`cargo xtask test`).
use std::time::Duration;

use serde_json::Value;
use vrrp_tests::{Lab, is_root};

/// Instances per node.
const N: usize = 30;
const MS: Duration = Duration::from_millis(1);

/// `N` VRRPv3 instances at 20 ms (VRIDs 1..=N, VIPs 10.0.1.k).
fn config(state: &str, priority: u8) -> String {
    let mut s = String::from("global_defs {\n    vrrp_version 3\n}\n");
    for k in 1..=N {
        s.push_str(&format!(
            "vrrp_instance VI_{k} {{\n    state {state}\n    interface eth0\n    \
             virtual_router_id {k}\n    priority {priority}\n    advert_int 0.02\n    \
             virtual_ipaddress {{\n        10.0.1.{k}\n    }}\n}}\n"
        ));
    }
    s
}

/// How many of the 10.0.1.k VIPs `node` holds.
fn vips_held(lab: &Lab, node: usize) -> usize {
    lab.exec_ok(node, &["ip", "-o", "-4", "addr", "show", "dev", "eth0"])
        .map(|out| out.lines().filter(|l| l.contains(" inet 10.0.1.")).count())
        .unwrap_or(usize::MAX)
}

/// Raw IPv4 sockets of protocol 112 open in `node`'s namespace (`/proc/net/raw` names them
/// `address:protocol` in hex).
fn vrrp_raw_sockets(lab: &Lab, node: usize) -> usize {
    let table = lab
        .exec_ok(node, &["cat", "/proc/net/raw"])
        .expect("/proc/net/raw");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|local| local.ends_with(":0070"))
        })
        .count()
}

/// `vrrp-daemon status --json` of `node`, or the error (the daemon is still setting up).
fn try_status(lab: &Lab, node: usize) -> Result<Value, String> {
    let out = std::process::Command::new(lab.daemon_bin().unwrap())
        .arg("status")
        .arg("--control-socket")
        .arg(lab.control_socket(node))
        .arg("--json")
        .output()
        .expect("vrrp-daemon status");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())
}

fn status(lab: &Lab, node: usize) -> Value {
    try_status(lab, node).unwrap()
}

/// Every instance of `node` is set up and in `state`.
fn all_in_state(lab: &Lab, node: usize, state: &str) -> bool {
    try_status(lab, node).is_ok_and(|s| {
        s["instances"]
            .as_array()
            .is_some_and(|a| a.len() == N && a.iter().all(|i| i["state"] == state))
    })
}

#[test]
fn many_instances_share_a_socket_advertise_every_one_and_all_take_over() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let master = lab.spawn_daemon(1, &config("MASTER", 100), &[]).unwrap();
    let _backup = lab.spawn_daemon(2, &config("BACKUP", 90), &[]).unwrap();
    // Both daemons start at once: wait until node2 has set up (and so opened its socket)
    // too, not only until node1, which may finish first, has taken the VIPs.
    lab.wait_for(Duration::from_secs(20), 10 * MS, || {
        vips_held(&lab, 1) == N
            && vips_held(&lab, 2) == 0
            && all_in_state(&lab, 1, "MASTER")
            && all_in_state(&lab, 2, "BACKUP")
    })
    .expect("node1 holds every VIP as MASTER, node2 none as BACKUP");

    // One socket per node for all N instances (they send alike).
    assert_eq!(vrrp_raw_sockets(&lab, 1), 1);
    assert_eq!(vrrp_raw_sockets(&lab, 2), 1);

    // Let every instance advertise a while: none may be skipped by the batching, and the
    // backup's instances, which read the adverts from the data plane in batches, must all
    // stay backups.
    let sent_before: Vec<u64> = status(&lab, 1)["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["stats"]["advert_sent"].as_u64().unwrap())
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let m = status(&lab, 1);
    let b = status(&lab, 2);
    let (m, b) = (
        m["instances"].as_array().unwrap(),
        b["instances"].as_array().unwrap(),
    );
    assert_eq!((m.len(), b.len()), (N, N));
    for (i, inst) in m.iter().enumerate() {
        assert_eq!(inst["state"], "MASTER", "{inst}");
        let sent = inst["stats"]["advert_sent"].as_u64().unwrap() - sent_before[i];
        // 50 adverts a second: at least 10 in the second that passed, however loaded.
        assert!(
            sent >= 10,
            "{} sent only {sent} adverts in 1 s",
            inst["iname"]
        );
    }
    for inst in b {
        assert_eq!(inst["state"], "BACKUP", "{inst}");
        assert_eq!(inst["master_addr"], "10.0.0.1", "{inst}");
        assert!(
            inst["stats"]["advert_rcvd"].as_u64().unwrap() >= 10,
            "{inst}"
        );
    }
    assert_eq!(vips_held(&lab, 2), 0, "a backup instance took over");

    // The master dies: every backup instance takes over.
    master.kill9().unwrap();
    lab.wait_for(Duration::from_secs(10), 10 * MS, || vips_held(&lab, 2) == N)
        .expect("node2 took over every instance");
    let b = status(&lab, 2);
    for inst in b["instances"].as_array().unwrap() {
        assert_eq!(inst["state"], "MASTER", "{inst}");
    }
}
