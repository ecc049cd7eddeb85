//! VRRPv3 over IPv6 end to end: adverts from the link-local address to ff02::12, an IPv6 VIP
//! added without DAD, unsolicited NAs on takeover, failover and preemption.
use std::time::{Duration, Instant};

use vrrp_tests::{Host, Lab, is_root};

const VIP6: &str = "2001:db8::100";
const MS: Duration = Duration::from_millis(1);
/// 300 ms + (256-90)/256 × 100 ms.
const BACKUP_DOWN: Duration = Duration::from_nanos(364_843_750);
const SKEW: Duration = Duration::from_nanos(64_843_750);
const SLACK: Duration = Duration::from_millis(50);

fn config(state: &str, priority: u8) -> String {
    format!(
        "vrrp_instance VI_6 {{
    state {state}
    interface eth0
    virtual_router_id 61
    priority {priority}
    advert_int 0.1
    virtual_ipaddress {{
        {VIP6}/64
    }}
}}
"
    )
}

fn ping6(lab: &Lab) -> bool {
    lab.exec(Host::Client, &["ping", "-6", "-c", "1", "-W", "1", VIP6])
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn ipv6_vip_fails_over_and_back() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(true).build().expect("lab");
    lab.exec_ok(
        Host::Client,
        &[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8::200/64",
            "dev",
            "eth0",
            "nodad",
        ],
    )
    .expect("client address");
    let d1 = lab
        .spawn_daemon(1, &config("MASTER", 100), &[])
        .expect("node1");
    let _d2 = lab
        .spawn_daemon(2, &config("BACKUP", 90), &[])
        .expect("node2");
    let settle = |node: usize| {
        lab.wait_for(Duration::from_secs(8), MS, || {
            lab.vip_holders(VIP6) == [node]
        })
        .unwrap_or_else(|_| {
            panic!(
                "{VIP6} not on node{node} alone: {:?}\n{}\n{}",
                lab.vip_holders(VIP6),
                lab.log(1),
                lab.log(2)
            )
        });
    };
    settle(1);
    assert!(ping6(&lab), "client reaches the IPv6 VIP on node1");
    let log = lab.log(1);
    assert!(
        log.contains("source=fe80::"),
        "adverts go out from the link-local address:\n{log}"
    );

    // The master host dies.
    let killed = Instant::now();
    d1.kill9().unwrap();
    lab.set_link(1, false).unwrap();
    lab.wait_for(Duration::from_secs(3), MS, || {
        lab.vip_holders(VIP6).contains(&2)
    })
    .unwrap_or_else(|_| panic!("no takeover:\n{}", lab.log(2)));
    let took = killed.elapsed();
    assert!(took <= BACKUP_DOWN + SLACK, "took {took:?}");
    assert!(
        ping6(&lab),
        "client reaches the IPv6 VIP on node2 (unsolicited NA)"
    );

    // It comes back and preempts; then resigns with SIGTERM.
    lab.set_link(1, true).unwrap();
    let d1 = lab
        .spawn_daemon(1, &config("MASTER", 100), &[])
        .expect("node1 again");
    settle(1);
    let stopped = Instant::now();
    d1.signal(libc::SIGTERM).unwrap();
    lab.wait_for(Duration::from_secs(3), MS, || lab.vip_holders(VIP6) == [2])
        .unwrap_or_else(|_| panic!("no takeover after SIGTERM:\n{}", lab.log(2)));
    let took = stopped.elapsed();
    assert!(took <= SKEW + SLACK, "took {took:?}");
    assert!(ping6(&lab));
}
