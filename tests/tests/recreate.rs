//! An interface deleted and created again under the same name (a network manager
//! rebuilding a VLAN or a bond; a macvlan here, which this kernel has) gets its instances
//! back: the daemon attaches XDP to the
//! new interface, opens its sockets there and takes part in the election again, also when
//! the address arrives after the link comes up. Needs root (`cargo xtask test`).
use std::time::Duration;

use vrrp_tests::{Lab, is_root};

const VIP: &str = "10.10.0.100";
const MS: Duration = Duration::from_millis(1);

fn config(state: &str, priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state {state}\n    interface lb0\n    virtual_router_id 51\n    \
         priority {priority}\n    advert_int 0.1\n    version 3\n    virtual_ipaddress {{\n        \
         {VIP}/24\n    }}\n}}\n"
    )
}

/// Create a macvlan `lb0` on `node`'s eth0 with its address, then raise it.
fn create_vlan(lab: &Lab, node: usize) {
    lab.sh_ok(
        node,
        &format!(
            "ip link add link eth0 name lb0 type macvlan mode bridge && \
             ip addr add 10.10.0.{node}/24 dev lb0 && ip link set lb0 up"
        ),
    )
    .expect("lb0");
}

fn holders_become(lab: &Lab, want: &[usize], what: &str) {
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        lab.try_vip_holders(VIP).is_ok_and(|h| h == want)
    })
    .unwrap_or_else(|_| {
        panic!(
            "{what}: VIP on {:?}, wanted {want:?}\n{}\n{}",
            lab.vip_holders(VIP),
            lab.log(1),
            lab.log(2)
        )
    });
}

/// The id of the XDP program on `node`'s lb0, if any.
fn xdp_on_lb0(lab: &Lab, node: usize) -> Option<String> {
    let out = lab
        .exec_ok(node, &["ip", "-d", "link", "show", "lb0"])
        .ok()?;
    let words: Vec<&str> = out.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[0] == "id" && out.contains("xdp"))
        .map(|w| w[1].to_string())
}

#[test]
fn an_interface_deleted_and_created_again_gets_its_instance_back() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    create_vlan(&lab, 1);
    create_vlan(&lab, 2);
    let _d1 = lab.spawn_daemon(1, &config("MASTER", 100), &[]).unwrap();
    let _d2 = lab.spawn_daemon(2, &config("BACKUP", 90), &[]).unwrap();
    holders_become(&lab, &[1], "start");
    assert!(xdp_on_lb0(&lab, 1).is_some(), "XDP on node1's lb0");

    // Deleted: the backup takes over.
    lab.exec_ok(1, &["ip", "link", "del", "lb0"]).unwrap();
    holders_become(&lab, &[2], "lb0 deleted on node1");

    // Created again: node1 attaches to it, hears node2 and, with the higher priority,
    // takes the VIP back.
    create_vlan(&lab, 1);
    holders_become(&lab, &[1], "lb0 created again on node1");
    assert!(
        xdp_on_lb0(&lab, 1).is_some(),
        "XDP on node1's new lb0:\n{}",
        lab.log(1)
    );
    let log = lab.log(1);
    assert!(
        log.contains("interface created again; setting the instance up on it"),
        "{log}"
    );

    // Again, with the address added only after the link is up: set-up fails until then
    // (no address to send from) and is retried.
    lab.exec_ok(1, &["ip", "link", "del", "lb0"]).unwrap();
    holders_become(&lab, &[2], "lb0 deleted on node1 again");
    lab.sh_ok(
        1,
        "ip link add link eth0 name lb0 type macvlan mode bridge && ip link set lb0 up",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    lab.exec_ok(1, &["ip", "addr", "add", "10.10.0.1/24", "dev", "lb0"])
        .unwrap();
    holders_become(&lab, &[1], "lb0 created again, address later");
    let log = lab.log(1);
    assert!(
        log.contains("not set up yet; retrying in 1 s"),
        "the first attempt, without an address, failed and was retried:\n{log}"
    );
    // Through all of it node2 followed: never two masters once settled.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lab.vip_holders(VIP), [1]);
}
