//! Tracked objects end to end: a sync group whose member fails moves together, a sync group
//! takes over only when every member's master is gone, a tracked interface going down puts
//! the instance in FAULT, and the notify FIFO reports each transition in keepalived's
//! format.
use std::{
    io::{BufRead as _, BufReader},
    time::Duration,
};

use vrrp_tests::{Lab, is_root};

const MS: Duration = Duration::from_millis(1);

fn instance(name: &str, vrid: u8, state: &str, priority: u8, vip: &str, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{
    state {state}
    interface eth0
    virtual_router_id {vrid}
    priority {priority}
    advert_int 0.1
    version 3
{extra}    virtual_ipaddress {{
        {vip}
    }}
}}
"
    )
}

fn on(lab: &Lab, vip: &str, node: usize, within: Duration) {
    lab.wait_for(within, MS, || lab.vip_holders(vip) == [node])
        .unwrap_or_else(|_| {
            panic!(
                "{vip} not on node{node} alone: {:?}\n{}\n{}",
                lab.vip_holders(vip),
                lab.log(1),
                lab.log(2)
            )
        });
}

#[test]
fn a_sync_group_fails_over_together() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let flag = lab.dir().join("b-ok");
    std::fs::write(&flag, "").unwrap();
    let group = "vrrp_sync_group G {\n    group {\n        VI_A\n        VI_B\n    }\n}\n";
    // On node1 only VI_B tracks a check without weight: its failure is FAULT, and FAULT
    // takes the whole group. (keepalived ignores weighted checks of sync-group members
    // unless the group says `sync_group_tracking_weight`.)
    let check = format!(
        "vrrp_script chk_b {{\n    script \"/bin/test -f {}\"\n    interval 1\n}}\n",
        flag.display()
    );
    let node1 = format!(
        "{check}{group}{}{}",
        instance("VI_A", 51, "MASTER", 100, "10.0.0.100", ""),
        instance(
            "VI_B",
            52,
            "MASTER",
            100,
            "10.0.0.101",
            "    track_script {\n        chk_b\n    }\n"
        )
    );
    let node2 = format!(
        "{group}{}{}",
        instance("VI_A", 51, "BACKUP", 90, "10.0.0.100", ""),
        instance("VI_B", 52, "BACKUP", 90, "10.0.0.101", "")
    );
    let _d1 = lab.spawn_daemon(1, &node1, &[]).expect("node1");
    let _d2 = lab.spawn_daemon(2, &node2, &[]).expect("node2");
    on(&lab, "10.0.0.100", 1, Duration::from_secs(5));
    on(&lab, "10.0.0.101", 1, Duration::from_secs(5));

    std::fs::remove_file(&flag).unwrap();
    on(&lab, "10.0.0.101", 2, Duration::from_secs(4));
    on(&lab, "10.0.0.100", 2, Duration::from_secs(1));
    let log = lab.log(1);
    assert_eq!(
        log.matches("-> FAULT").count(),
        2,
        "both members in FAULT:\n{log}"
    );

    std::fs::write(&flag, "").unwrap();
    on(&lab, "10.0.0.100", 1, Duration::from_secs(5));
    on(&lab, "10.0.0.101", 1, Duration::from_secs(1));
}

/// keepalived's rule (vrrp_sync_can_goto_master): a sync group goes MASTER only when the
/// master-down interval of every member has passed. node1 keeps advertising VI_A while its
/// VI_B adverts are lost on the way: node2's VI_B is ready but its VI_A still hears node1,
/// so node2 takes nothing (dragging VI_A along would make two masters of it). When
/// node1's daemon dies, node2 takes both.
#[test]
fn a_sync_group_takes_over_only_when_every_member_s_master_is_gone() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let group = "vrrp_sync_group G {\n    group {\n        VI_A\n        VI_B\n    }\n}\n";
    let config = |state: &str, priority: u8| {
        format!(
            "{group}{}{}",
            instance("VI_A", 51, state, priority, "10.0.0.100", ""),
            instance("VI_B", 52, state, priority, "10.0.0.101", "")
        )
    };
    let link = lab.impair_link(1).expect("relay on node1's link");
    let d1 = lab
        .spawn_daemon(1, &config("MASTER", 100), &[])
        .expect("node1");
    let _d2 = lab
        .spawn_daemon(2, &config("BACKUP", 90), &[])
        .expect("node2");
    on(&lab, "10.0.0.100", 1, Duration::from_secs(5));
    on(&lab, "10.0.0.101", 1, Duration::from_secs(5));
    std::thread::sleep(300 * MS);

    let watch_a = lab.watch_vip("10.0.0.100").unwrap();
    let watch_b = lab.watch_vip("10.0.0.101").unwrap();
    link.set(
        vrrp_tests::Direction::FromHost,
        vrrp_tests::Impairment {
            drop_vrid: Some(52),
            ..Default::default()
        },
    );
    // Four master-down intervals (365 ms each).
    std::thread::sleep(1500 * MS);
    let (a, b) = (watch_a.stop().unwrap(), watch_b.stop().unwrap());
    let log2 = lab.log(2);
    assert!(
        link.stats(vrrp_tests::Direction::FromHost).filtered >= 10,
        "VI_B's adverts were not dropped"
    );
    assert_eq!(
        a.acquisitions(2),
        [],
        "node2 took VI_A from a live master:\n{log2}"
    );
    assert_eq!(
        b.acquisitions(2),
        [],
        "node2 took VI_B without its group:\n{log2}"
    );
    assert!(
        log2.contains("sync group member ready for MASTER; waiting for the others"),
        "{log2}"
    );

    // The whole of node1 goes: node2 takes both.
    link.clear();
    d1.kill9().unwrap();
    on(&lab, "10.0.0.100", 2, Duration::from_secs(3));
    on(&lab, "10.0.0.101", 2, Duration::from_secs(1));
}

#[test]
fn a_tracked_interface_going_down_is_fault_and_the_fifo_reports_it() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    // uplink0's carrier follows its veth peer: taking the peer down is a pulled cable.
    lab.exec_ok(
        1,
        &[
            "ip", "link", "add", "uplink0", "type", "veth", "peer", "name", "far0",
        ],
    )
    .unwrap();
    lab.exec_ok(1, &["ip", "link", "set", "uplink0", "up"])
        .unwrap();
    lab.exec_ok(1, &["ip", "link", "set", "far0", "up"])
        .unwrap();
    let fifo = lab.dir().join("notify.fifo");
    let node1 = format!(
        "global_defs {{\n    notify_fifo {}\n}}\n{}",
        fifo.display(),
        instance(
            "VI_1",
            51,
            "MASTER",
            100,
            "10.0.0.100",
            "    track_interface {\n        uplink0\n    }\n"
        )
    );
    let _d1 = lab.spawn_daemon(1, &node1, &[]).expect("node1");
    let _d2 = lab
        .spawn_daemon(
            2,
            &instance("VI_1", 51, "BACKUP", 90, "10.0.0.100", ""),
            &[],
        )
        .expect("node2");
    on(&lab, "10.0.0.100", 1, Duration::from_secs(5));
    // Read the FIFO the daemon created, in a bounded thread.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let file = std::fs::File::open(&fifo).expect("open fifo");
            let mut lines = Vec::new();
            for line in BufReader::new(file).lines().take(5) {
                lines.push(line.expect("line"));
            }
            lines
        })
    };
    lab.exec_ok(1, &["ip", "link", "set", "far0", "down"])
        .unwrap();
    on(&lab, "10.0.0.100", 2, Duration::from_secs(2));
    assert!(lab.log(1).contains("MASTER -> FAULT"), "{}", lab.log(1));
    lab.exec_ok(1, &["ip", "link", "set", "far0", "up"])
        .unwrap();
    on(&lab, "10.0.0.100", 1, Duration::from_secs(3));
    lab.wait_for(Duration::from_secs(3), 10 * MS, || reader.is_finished())
        .expect("five FIFO lines");
    let lines = reader.join().unwrap();
    // Lines written before the reader opened waited in the pipe: nothing lost or reordered.
    assert_eq!(
        lines,
        [
            "INSTANCE \"VI_1\" BACKUP 100",
            "INSTANCE \"VI_1\" MASTER 100",
            "INSTANCE \"VI_1\" FAULT 100",
            "INSTANCE \"VI_1\" BACKUP 100",
            "INSTANCE \"VI_1\" MASTER 100",
        ]
    );
}
