//! Unicast peers (the cloud setup without multicast): adverts go to each `unicast_peer`
//! from `unicast_src_ip`, `check_unicast_src` drops strangers, and failover works as with
//! multicast.
use std::time::{Duration, Instant};

use vrrp_tests::{Host, Lab, is_root};

const VIP: &str = "10.0.0.100";
const MS: Duration = Duration::from_millis(1);
/// 300 ms + (256-90)/256 × 100 ms.
const BACKUP_DOWN: Duration = Duration::from_nanos(364_843_750);
const SKEW: Duration = Duration::from_nanos(64_843_750);
const SLACK: Duration = Duration::from_millis(50);

fn config(state: &str, priority: u8, me: u8, peers: &[u8]) -> String {
    let peers: String = peers
        .iter()
        .map(|p| format!("        10.0.0.{p}\n"))
        .collect();
    format!(
        "global_defs {{
    vrrp_version 3
}}
vrrp_instance VI_U {{
    state {state}
    interface eth0
    virtual_router_id 71
    priority {priority}
    advert_int 0.1
    unicast_src_ip 10.0.0.{me}
    unicast_peer {{
{peers}    }}
    check_unicast_src
    virtual_ipaddress {{
        {VIP}
    }}
}}
"
    )
}

#[test]
fn unicast_peers_elect_fail_over_and_send_only_unicast() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(true).build().expect("lab");
    let capture = lab
        .start_capture(Host::Switch, "br0", &["vrrp"], "adverts")
        .expect("capture");
    let d1 = lab
        .spawn_daemon(1, &config("MASTER", 100, 1, &[2]), &[])
        .expect("node1");
    let _d2 = lab
        .spawn_daemon(2, &config("BACKUP", 90, 2, &[1]), &[])
        .expect("node2");
    let settle = |node: usize| {
        lab.wait_for(Duration::from_secs(5), MS, || {
            lab.vip_holders(VIP).contains(&node) && !lab.vip_holders(VIP).contains(&(3 - node))
        })
        .unwrap_or_else(|_| {
            panic!(
                "VIP not on node{node}: {:?}\n{}\n{}",
                lab.vip_holders(VIP),
                lab.log(1),
                lab.log(2)
            )
        });
    };
    settle(1);
    std::thread::sleep(500 * MS);
    assert_eq!(lab.vip_holders(VIP), [1]);

    let killed = Instant::now();
    d1.kill9().unwrap();
    lab.set_link(1, false).unwrap();
    lab.wait_for(Duration::from_secs(3), MS, || {
        lab.vip_holders(VIP).contains(&2)
    })
    .unwrap_or_else(|_| panic!("no takeover:\n{}", lab.log(2)));
    assert!(
        killed.elapsed() <= BACKUP_DOWN + SLACK,
        "took {:?}",
        killed.elapsed()
    );

    lab.set_link(1, true).unwrap();
    let d1 = lab
        .spawn_daemon(1, &config("MASTER", 100, 1, &[2]), &[])
        .expect("node1 again");
    settle(1);
    let stopped = Instant::now();
    d1.signal(libc::SIGTERM).unwrap();
    lab.wait_for(Duration::from_secs(3), MS, || lab.vip_holders(VIP) == [2])
        .unwrap_or_else(|_| panic!("no takeover after SIGTERM:\n{}", lab.log(2)));
    assert!(
        stopped.elapsed() <= SKEW + SLACK,
        "took {:?}",
        stopped.elapsed()
    );

    let decoded = capture.decode(&[]).expect("decode capture");
    let adverts: Vec<&str> = decoded.lines().filter(|l| l.contains("VRRP")).collect();
    assert!(adverts.len() > 10, "{decoded}");
    for line in &adverts {
        assert!(
            !line.contains("224.0.0.18"),
            "multicast advert from a unicast instance: {line}"
        );
    }
    assert!(
        adverts.iter().any(|l| l.contains("10.0.0.1 > 10.0.0.2")),
        "{decoded}"
    );
    assert!(
        adverts.iter().any(|l| l.contains("10.0.0.2 > 10.0.0.1")),
        "{decoded}"
    );
}

#[test]
fn check_unicast_src_ignores_an_unknown_sender() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(3).client(false).build().expect("lab");
    // node1 lists only node2 as its peer, and node2 never runs: node1 becomes master.
    // node3 (priority 200) then sends its adverts to node1, but it is not a configured
    // peer, so node1 must ignore it and stay master.
    let _d1 = lab
        .spawn_daemon(1, &config("BACKUP", 90, 1, &[2]), &[])
        .expect("node1");
    lab.wait_for(Duration::from_secs(5), MS, || {
        lab.vip_holders(VIP).contains(&1)
    })
    .unwrap_or_else(|_| panic!("node1 never master:\n{}", lab.log(1)));
    let stranger = config("MASTER", 200, 3, &[1]).replace(VIP, "10.0.0.150");
    let _d3 = lab.spawn_daemon(3, &stranger, &[]).expect("node3");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        lab.vip_holders(VIP).contains(&1),
        "node1 yielded to a stranger:\n{}",
        lab.log(1)
    );
    assert!(!lab.log(1).contains("MASTER -> BACKUP"), "{}", lab.log(1));
}
