//! A new master announces every address on the interface that holds it: a
//! `virtual_ipaddress` with `dev` on another interface than the instance's gets its
//! gratuitous ARPs (IPv4) and unsolicited neighbour advertisements (IPv6) there, from that
//! interface's hardware address, as keepalived sends them. Otherwise clients on that link
//! keep the old master's MAC until their cache expires. Needs root (`cargo xtask test`).
use std::time::Duration;

use vrrp_tests::{Host, Lab, is_root};

const MS: Duration = Duration::from_millis(1);

#[test]
fn addresses_on_another_interface_are_announced_there() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    // lb0: a second interface on node1 (a macvlan over eth0, so its frames reach the
    // switch), without DAD so that its link-local address is usable at once.
    lab.sh_ok(
        1,
        "ip link add link eth0 name lb0 type macvlan mode bridge && \
         sysctl -qw net.ipv6.conf.lb0.accept_dad=0 && ip link set lb0 up",
    )
    .expect("lb0");
    let mac = |dev: &str| {
        lab.exec_ok(1, &["cat", &format!("/sys/class/net/{dev}/address")])
            .unwrap()
            .trim()
            .to_owned()
    };
    let (eth0_mac, lb0_mac) = (mac("eth0"), mac("lb0"));
    assert_ne!(eth0_mac, lb0_mac);
    let capture = lab
        .start_capture(Host::Switch, "br0", &["arp", "or", "icmp6"], "announce")
        .expect("capture");
    let config = "vrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n    \
                  virtual_router_id 51\n    priority 100\n    advert_int 0.1\n    version 3\n    \
                  garp_master_repeat 2\n    virtual_ipaddress {\n        10.0.0.100/24\n        \
                  10.0.0.150/24 dev lb0\n    }\n    virtual_ipaddress_excluded {\n        \
                  2001:db8::150/64 dev lb0\n    }\n}\n";
    let d = lab.spawn_daemon(1, config, &[]).expect("daemon");
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        d.log().contains("BACKUP -> MASTER")
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    std::thread::sleep(500 * MS);

    let frames = capture.frames(&["arp", "or", "icmp6"]).expect("frames");
    let count = |mac: &str, needle: &str| {
        frames
            .iter()
            .filter(|f| f.src_mac == mac && f.line.contains(needle))
            .count()
    };
    let listing = || {
        frames
            .iter()
            .map(|f| f.line.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    // Two of each (garp_master_repeat 2), each from its own interface.
    assert_eq!(
        count(
            &eth0_mac,
            "who-has 10.0.0.100 (ff:ff:ff:ff:ff:ff) tell 10.0.0.100"
        ),
        2,
        "{}",
        listing()
    );
    assert_eq!(
        count(
            &lb0_mac,
            "who-has 10.0.0.150 (ff:ff:ff:ff:ff:ff) tell 10.0.0.150"
        ),
        2,
        "{}",
        listing()
    );
    assert_eq!(
        count(&lb0_mac, "neighbor advertisement, tgt is 2001:db8::150"),
        2,
        "{}",
        listing()
    );
    // Never from the wrong interface.
    assert_eq!(count(&eth0_mac, "10.0.0.150"), 0, "{}", listing());
    assert_eq!(count(&lb0_mac, "10.0.0.100"), 0, "{}", listing());
}
