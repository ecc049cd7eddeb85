//! Events beyond state changes that scripts and notify FIFOs hear of:
//! - `notify_master_rx_lower_pri`: after a split brain heals, the master that wins hears
//!   the other side's lower-priority adverts and runs that script (in the cloud, to take
//!   back a secondary address the other side moved), and its notify FIFO gets a
//!   `MASTER_RX_LOWER_PRI` line;
//! - `vrrp_notify_priority_changes`: a priority change without a state change is a
//!   `MASTER_PRIORITY` / `BACKUP_PRIORITY` line.
//!
//! Needs root (`cargo xtask test`).
use std::time::Duration;

use vrrp_tests::{Lab, is_root};

const MS: Duration = Duration::from_millis(1);
const VIP: &str = "10.0.0.100";

fn instance(state: &str, priority: u8, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    virtual_router_id 51\n    \
         priority {priority}\n    advert_int 0.1\n    version 3\n{extra}    virtual_ipaddress {{\n        \
         {VIP}/24\n    }}\n}}\n"
    )
}

fn script(lab: &Lab, name: &str, body: &str) -> std::path::PathBuf {
    let path = lab.dir().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

#[test]
fn the_winner_of_a_healed_split_brain_runs_its_rx_lower_pri_script() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let rx_out = lab.dir().join("rx.out");
    let fifo_out = lab.dir().join("fifo.out");
    let rx = script(
        &lab,
        "rx.sh",
        &format!("echo \"rx $*\" >> {}", rx_out.display()),
    );
    let reader = script(
        &lab,
        "reader.sh",
        &format!("cat \"$1\" >> {}", fifo_out.display()),
    );
    let node1 = format!(
        "global_defs {{\n    notify_fifo {}\n    notify_fifo_script {}\n}}\n{}",
        lab.dir().join("notify.fifo").display(),
        reader.display(),
        instance(
            "MASTER",
            200,
            &format!("    notify_master_rx_lower_pri \"{} VI_1\"\n", rx.display())
        )
    );
    let d1 = lab.spawn_daemon(1, &node1, &[]).expect("node1");
    let d2 = lab
        .spawn_daemon(2, &instance("BACKUP", 100, ""), &[])
        .expect("node2");
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        lab.vip_holders(VIP) == [1] && d2.log().contains("INIT -> BACKUP")
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}\n{}", d1.log(), d2.log()));
    std::thread::sleep(300 * MS);
    assert!(!rx_out.exists(), "no lower priority heard yet");

    // The split: node2 becomes master too. The heal: node1 hears it and stays.
    lab.set_isolated(1, true).unwrap();
    lab.set_isolated(2, true).unwrap();
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        lab.vip_holders(VIP) == [1, 2]
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d2.log()));
    assert!(!rx_out.exists(), "nothing heard during the split");
    lab.set_isolated(1, false).unwrap();
    lab.set_isolated(2, false).unwrap();
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        lab.vip_holders(VIP) == [1]
            && std::fs::read_to_string(&rx_out).is_ok_and(|s| s.contains("rx VI_1"))
            && std::fs::read_to_string(&fifo_out)
                .is_ok_and(|s| s.contains("INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 200"))
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e:#}: rx {:?}, fifo {:?}\n{}",
            std::fs::read_to_string(&rx_out),
            std::fs::read_to_string(&fifo_out),
            d1.log()
        )
    });
    // As keepalived: the script gets no arguments of its own (only what it was given).
    let runs = std::fs::read_to_string(&rx_out).unwrap();
    assert!(runs.lines().all(|l| l == "rx VI_1"), "{runs}");
}

#[test]
fn priority_changes_reach_the_notify_fifo() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    let fifo_out = lab.dir().join("fifo.out");
    let weight = lab.dir().join("weight");
    std::fs::write(&weight, "0\n").unwrap();
    let reader = script(
        &lab,
        "reader.sh",
        &format!("cat \"$1\" >> {}", fifo_out.display()),
    );
    let config = format!(
        "global_defs {{\n    notify_fifo {}\n    notify_fifo_script {}\n    \
         vrrp_notify_priority_changes\n}}\ntrack_file weight {{\n    file {}\n    weight 1\n}}\n{}",
        lab.dir().join("notify.fifo").display(),
        reader.display(),
        weight.display(),
        instance("MASTER", 100, "    track_file {\n        weight\n    }\n")
    );
    let d = lab.spawn_daemon(1, &config, &[]).expect("daemon");
    let lines = || {
        std::fs::read_to_string(&fifo_out)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        lines().contains(&"INSTANCE \"VI_1\" MASTER 100".to_owned())
    })
    .unwrap_or_else(|e| panic!("{e:#}: {:?}\n{}", lines(), d.log()));
    // The tracked file lowers the priority, then gives it back: two lines, no state change.
    std::fs::write(&weight, "-20\n").unwrap();
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        lines().contains(&"INSTANCE \"VI_1\" MASTER_PRIORITY 80".to_owned())
    })
    .unwrap_or_else(|e| panic!("{e:#}: {:?}\n{}", lines(), d.log()));
    std::fs::write(&weight, "0\n").unwrap();
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        lines().contains(&"INSTANCE \"VI_1\" MASTER_PRIORITY 100".to_owned())
    })
    .unwrap_or_else(|e| panic!("{e:#}: {:?}\n{}", lines(), d.log()));
    assert_eq!(
        lines(),
        [
            "INSTANCE \"VI_1\" BACKUP 100",
            "INSTANCE \"VI_1\" MASTER 100",
            "INSTANCE \"VI_1\" MASTER_PRIORITY 80",
            "INSTANCE \"VI_1\" MASTER_PRIORITY 100",
        ]
    );
}
