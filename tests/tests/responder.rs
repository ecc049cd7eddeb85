//! The XDP ARP / ND responder with its liveness gate, end to end.
//!
//! node1 runs with `arp_ignore = 8` (its kernel never answers ARP), so every ARP answer for
//! the VIP from node1 comes from the XDP program. When node1's daemon is frozen (SIGSTOP),
//! the gate closes after the master-down interval: node1 stops answering for the VIP, so a
//! client that asks again lands on the backup that took over.
use std::time::Duration;

use vrrp_tests::{Host, Lab, is_root};

const VIP: &str = "10.0.0.100";
const MS: Duration = Duration::from_millis(1);

fn config(state: &str, priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 0.1
    version 3
    virtual_ipaddress {{
        {VIP}
    }}
}}
"
    )
}

/// Forget the VIP's neighbour entry on the client, ask again, and return the MAC it got.
fn resolve_vip(lab: &Lab) -> Option<String> {
    let _ = lab.exec(Host::Client, &["ip", "neigh", "flush", "to", VIP]);
    let _ = lab.exec(Host::Client, &["ping", "-c", "1", "-W", "1", VIP]);
    lab.neigh(Host::Client, VIP).ok()?.map(|(mac, _)| mac)
}

#[test]
fn xdp_answers_arp_for_the_master_and_stops_when_its_daemon_freezes() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(true).build().expect("lab");
    lab.exec_ok(1, &["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=8"])
        .unwrap();
    lab.exec_ok(1, &["sysctl", "-qw", "net.ipv4.conf.eth0.arp_ignore=8"])
        .unwrap();
    let d1 = lab
        .spawn_daemon(1, &config("MASTER", 100), &[])
        .expect("node1");
    let _d2 = lab
        .spawn_daemon(2, &config("BACKUP", 90), &[])
        .expect("node2");
    lab.wait_for(Duration::from_secs(5), MS, || lab.vip_holders(VIP) == [1])
        .unwrap_or_else(|_| panic!("node1 never master:\n{}", lab.log(1)));
    let (mac1, mac2) = (lab.mac(1).unwrap(), lab.mac(2).unwrap());

    // node1's kernel is told never to answer ARP: the answers come from XDP.
    for _ in 0..3 {
        assert_eq!(
            resolve_vip(&lab).as_deref(),
            Some(mac1.as_str()),
            "XDP answered for the VIP"
        );
    }

    // Freeze node1's daemon: node2 takes over after master-down; node1 still has the
    // address configured, but the gate closes, so every new question lands on node2.
    d1.stop().unwrap();
    lab.wait_for(Duration::from_secs(3), MS, || {
        lab.vip_holders(VIP).contains(&2)
    })
    .unwrap_or_else(|_| panic!("no takeover:\n{}", lab.log(2)));
    std::thread::sleep(100 * MS);
    for _ in 0..5 {
        assert_eq!(
            resolve_vip(&lab).as_deref(),
            Some(mac2.as_str()),
            "a frozen master must not attract traffic"
        );
    }

    // Thaw: node1 hears the lower priority, reasserts, and answers again.
    d1.cont().unwrap();
    lab.wait_for(Duration::from_secs(3), MS, || lab.vip_holders(VIP) == [1])
        .unwrap_or_else(|_| panic!("node1 did not take back:\n{}\n{}", lab.log(1), lab.log(2)));
    assert_eq!(resolve_vip(&lab).as_deref(), Some(mac1.as_str()));
}
