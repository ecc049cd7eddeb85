//! `use_vmac`: the VIP lives on a macvlan with the RFC virtual MAC (00:00:5e:00:01:VRID), so
//! the MAC a client learned for the VIP is the same on every node and survives failover.
use std::time::{Duration, Instant};

use vrrp_tests::{Host, Lab, is_root};

const VIP: &str = "10.0.0.100";
const VMAC: &str = "00:00:5e:00:01:33";
const MS: Duration = Duration::from_millis(1);

fn config(state: &str, priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    virtual_router_id 51\n    priority {priority}\n    advert_int 0.1\n    version 3\n    use_vmac\n    virtual_ipaddress {{\n        {VIP}\n    }}\n}}\n"
    )
}

/// The MAC the client's neighbour table holds for the VIP after asking.
fn client_mac_for_vip(lab: &Lab) -> Option<String> {
    let _ = lab.exec(Host::Client, &["ping", "-c", "1", "-W", "1", VIP]);
    lab.neigh(Host::Client, VIP).ok()?.map(|(mac, _)| mac)
}

#[test]
fn the_vip_moves_with_its_virtual_mac() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(true).build().expect("lab");
    let arp_sysctls = |node: usize| {
        lab.sh_ok(
            node,
            "cat /proc/sys/net/ipv4/conf/eth0/arp_ignore /proc/sys/net/ipv4/conf/eth0/arp_filter \
             /proc/sys/net/ipv4/conf/eth0/arp_announce",
        )
        .unwrap()
    };
    let before = arp_sysctls(2);
    let d1 = lab
        .spawn_daemon(1, &config("MASTER", 100), &[])
        .expect("node1");
    let d2 = lab
        .spawn_daemon(2, &config("BACKUP", 90), &[])
        .expect("node2");
    lab.wait_for(Duration::from_secs(5), MS, || lab.vip_holders(VIP) == [1])
        .unwrap_or_else(|_| panic!("no master:\n{}\n{}", lab.log(1), lab.log(2)));
    // The VIP sits on vrrp.51, whose MAC is the VMAC, on both nodes.
    for node in [1, 2] {
        let link = lab
            .exec_ok(node, &["ip", "-o", "link", "show", "vrrp.51"])
            .unwrap();
        assert!(link.contains(VMAC), "node{node}: {link}");
    }
    let addr = lab
        .exec_ok(1, &["ip", "-o", "addr", "show", "dev", "vrrp.51"])
        .unwrap();
    assert!(addr.contains(VIP), "{addr}");
    assert_eq!(client_mac_for_vip(&lab).as_deref(), Some(VMAC));

    let probe = lab.start_probe(VIP, 9501).unwrap();
    std::thread::sleep(200 * MS);
    let cut = Instant::now();
    lab.set_link(1, false).unwrap();
    d1.kill9().unwrap();
    lab.wait_for(Duration::from_secs(3), MS, || {
        lab.vip_holders(VIP).contains(&2)
    })
    .unwrap_or_else(|_| panic!("no takeover:\n{}", lab.log(2)));
    eprintln!("takeover {:?}", cut.elapsed());
    std::thread::sleep(300 * MS);
    let report = probe.stop().unwrap();
    assert_eq!(report.nodes_seen(), [1, 2], "{report}");
    // The client never had to learn a new MAC.
    assert_eq!(client_mac_for_vip(&lab).as_deref(), Some(VMAC));

    // While it runs, the base interface neither answers ARP for the VIP nor announces it.
    assert_eq!(
        arp_sysctls(2).split_whitespace().collect::<Vec<_>>(),
        ["1", "1", "2"]
    );
    // A clean stop removes the VMAC interface and puts the base interface's ARP settings
    // back as they were (keepalived does too).
    d2.term(Duration::from_secs(5)).unwrap();
    let links = lab.exec_ok(2, &["ip", "-o", "link", "show"]).unwrap();
    assert!(!links.contains("vrrp.51"), "{links}");
    assert_eq!(arp_sysctls(2), before, "{}", lab.log(2));
}
