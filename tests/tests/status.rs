//! `vrrp-daemon status` against running daemons in a lab: the table and the JSON agree with
//! what the lab sees (who is master, the VIP, priorities, counters).
use std::{process::Command, time::Duration};

use vrrp_tests::{Lab, is_root};

const MS: Duration = Duration::from_millis(1);

fn config(state: &str, priority: u8, extra: &str) -> String {
    format!(
        "{extra}vrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    virtual_router_id 51\n    priority {priority}\n    advert_int 0.1\n    version 3\n    track_script {{\n        chk\n    }}\n    virtual_ipaddress {{\n        10.0.0.100\n    }}\n}}\n"
    )
}

fn status(lab: &Lab, node: usize, json: bool) -> String {
    let bin = lab.daemon_bin().unwrap();
    let socket = lab.control_socket(node);
    let mut cmd = Command::new(bin);
    cmd.arg("status").arg("--control-socket").arg(&socket);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().expect("vrrp-daemon status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn status_reports_state_priorities_master_and_counters() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let script = "vrrp_script chk {\n    script /bin/true\n    interval 1\n    weight 10\n}\n";
    let _d1 = lab
        .spawn_daemon(1, &config("MASTER", 100, script), &[])
        .unwrap();
    let _d2 = lab
        .spawn_daemon(2, &config("BACKUP", 90, script), &[])
        .unwrap();
    lab.wait_for(Duration::from_secs(5), MS, || {
        lab.vip_holders("10.0.0.100") == [1]
    })
    .expect("node1 master");
    std::thread::sleep(Duration::from_millis(1500));

    let master: serde_json::Value = serde_json::from_str(&status(&lab, 1, true)).unwrap();
    let backup: serde_json::Value = serde_json::from_str(&status(&lab, 2, true)).unwrap();
    let (m, b) = (&master["instances"][0], &backup["instances"][0]);
    assert_eq!(m["iname"], "VI_1");
    assert_eq!(m["state"], "MASTER");
    assert_eq!(b["state"], "BACKUP");
    assert_eq!(m["base_priority"], 100);
    assert_eq!(m["effective_priority"], 110, "script OK adds its weight");
    assert_eq!(b["master_addr"], "10.0.0.1");
    assert_eq!(b["master_priority"], 110);
    assert_eq!(m["vips"][0], "10.0.0.100/32");
    assert!(m["stats"]["advert_sent"].as_u64().unwrap() >= 10, "{m}");
    assert!(b["stats"]["advert_rcvd"].as_u64().unwrap() >= 10, "{b}");
    assert_eq!(m["stats"]["become_master"], 1);
    assert_eq!(m["last_transition"]["to"], "MASTER");
    assert_eq!(master["scripts"][0]["status"], "OK");
    assert!(master["scripts"][0]["successes"].as_u64().unwrap() >= 1);
    assert!(
        backup["dataplane"]["counters"]["advert_rcvd"]
            .as_u64()
            .unwrap()
            >= 10
    );
    assert_eq!(master["dataplane"]["attached"][0][0], "eth0");

    // keepalived's SIGUSR1: the data dump in /tmp/keepalived.data.
    let dump = std::path::Path::new("/tmp/keepalived.data");
    let before = std::fs::metadata(dump).and_then(|m| m.modified()).ok();
    _d1.signal(libc::SIGUSR1).unwrap();
    lab.wait_for(Duration::from_secs(3), MS, || {
        std::fs::read_to_string(dump).is_ok_and(|t| {
            t.contains(&lab.dir().display().to_string())
                && std::fs::metadata(dump).and_then(|m| m.modified()).ok() != before
        })
    })
    .expect("SIGUSR1 writes the data dump");
    assert!(
        std::fs::read_to_string(dump)
            .unwrap()
            .contains("VI_1 MASTER vrid 51")
    );

    // No daemon behind a socket: a clear error, not a hang.
    let out = Command::new(lab.daemon_bin().unwrap())
        .args(["status", "--control-socket"])
        .arg(lab.dir().join("nobody.sock"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is vrrp-daemon running"));

    let table = status(&lab, 1, false);
    assert!(
        table.contains("VI_1 MASTER vrid 51 eth0 IPv4 v3  priority 110 (base 100)"),
        "{table}"
    );
    assert!(
        table.contains("tracks script chk: OK (weight 10)"),
        "{table}"
    );
}
