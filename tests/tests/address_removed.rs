//! A virtual address removed by someone else (`ip addr del`, a network manager flushing
//! "foreign" addresses): as in keepalived, the master steps down to BACKUP so the peer
//! takes over, and with its higher priority it takes the address back after a master-down
//! interval; with `no_track` on the address nothing moves. Needs root (`cargo xtask
//! test`).
use std::time::Duration;

use vrrp_tests::{Lab, is_root};

const VIP: &str = "10.0.0.100";
const MS: Duration = Duration::from_millis(1);

fn config(state: &str, priority: u8, vip_options: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    virtual_router_id 51\n    \
         priority {priority}\n    advert_int 0.1\n    version 3\n    virtual_ipaddress {{\n        \
         {VIP}{vip_options}\n    }}\n}}\n"
    )
}

fn pair(lab: &Lab, vip_options: &str) {
    lab.spawn_daemon(1, &config("MASTER", 100, vip_options), &[])
        .unwrap();
    lab.spawn_daemon(2, &config("BACKUP", 90, vip_options), &[])
        .unwrap();
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        lab.vip_holders(VIP) == [1]
    })
    .unwrap_or_else(|_| panic!("no master:\n{}", lab.log(1)));
    // Let a start-up election (node2 first, node1 preempting) settle.
    std::thread::sleep(Duration::from_millis(500));
}

#[test]
fn a_removed_vip_makes_the_master_step_down_and_come_back() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    pair(&lab, "");
    let watch = lab.watch_vip(VIP).unwrap();
    lab.exec_ok(
        1,
        &["ip", "addr", "del", &format!("{VIP}/32"), "dev", "eth0"],
    )
    .unwrap();
    // node2 takes over after its master-down interval, then node1 preempts it.
    watch
        .wait(Duration::from_secs(5), |h| h == [2])
        .unwrap_or_else(|_| panic!("node2 never took over:\n{}\n{}", lab.log(1), lab.log(2)));
    watch
        .wait(Duration::from_secs(5), |h| h == [1])
        .unwrap_or_else(|_| panic!("node1 never came back:\n{}\n{}", lab.log(1), lab.log(2)));
    let timeline = watch.stop().unwrap();
    assert_eq!(timeline.acquisitions(2).len(), 1, "{timeline}");
    let log = lab.log(1);
    assert!(
        log.contains("reason=a virtual address was removed by someone else"),
        "{log}"
    );
    assert!(log.contains("from=MASTER to=BACKUP"), "{log}");
}

#[test]
fn with_no_track_a_removed_vip_moves_nothing() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    pair(&lab, " no_track");
    let transitions = lab.log(1).matches("VRRP transition").count();
    let watch = lab.watch_vip(VIP).unwrap();
    lab.exec_ok(
        1,
        &["ip", "addr", "del", &format!("{VIP}/32"), "dev", "eth0"],
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let timeline = watch.stop().unwrap();
    assert_eq!(timeline.acquisitions(2), [], "{timeline}");
    let log = lab.log(1);
    assert_eq!(
        log.matches("VRRP transition").count(),
        transitions,
        "node1 stays MASTER:\n{log}"
    );
}
