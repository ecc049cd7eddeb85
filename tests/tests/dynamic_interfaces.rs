//! `dynamic_interfaces`: an instance whose interface does not exist yet waits for it while
//! the others run, and starts when it appears (a VLAN or bond a network manager brings up
//! after the daemon). Without the keyword the daemon refuses to start, as keepalived does,
//! and says which keyword would let it. Needs root (`cargo xtask test`).
use std::time::Duration;

use vrrp_tests::{Lab, is_root};

const MS: Duration = Duration::from_millis(1);

fn config(dynamic: bool) -> String {
    let global = if dynamic {
        "global_defs {\n    dynamic_interfaces\n}\n"
    } else {
        ""
    };
    let instance = |name: &str, iface: &str, vrid: u8, vip: &str| {
        format!(
            "vrrp_instance {name} {{\n    state MASTER\n    interface {iface}\n    \
             virtual_router_id {vrid}\n    priority 100\n    advert_int 0.1\n    version 3\n    \
             virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
        )
    };
    format!(
        "{global}{}{}",
        instance("VI_A", "eth0", 1, "10.0.0.100/24"),
        instance("VI_B", "lb0", 2, "10.0.1.100/24")
    )
}

/// Whether `addr/` is on `dev` of node1.
fn on(lab: &Lab, dev: &str, addr: &str) -> bool {
    lab.exec(1, &["ip", "-o", "addr", "show", "dev", dev])
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("inet {addr}/")))
}

#[test]
fn an_instance_waits_for_its_interface_and_starts_when_it_appears() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    let d = lab.spawn_daemon(1, &config(true), &[]).expect("daemon");
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        on(&lab, "eth0", "10.0.0.100")
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    assert!(
        d.log()
            .contains("interface does not exist yet; the instance starts when it appears"),
        "{}",
        d.log()
    );
    std::thread::sleep(300 * MS);
    assert!(d.is_running());

    // The interface appears (down, without an address, then with both).
    lab.sh_ok(1, "ip link add link eth0 name lb0 type macvlan mode bridge")
        .expect("lb0");
    std::thread::sleep(300 * MS);
    lab.sh_ok(1, "ip addr add 10.0.1.1/24 dev lb0 && ip link set lb0 up")
        .expect("lb0 up");
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        on(&lab, "lb0", "10.0.1.100")
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    assert!(on(&lab, "eth0", "10.0.0.100"), "VI_A kept its address");
    assert!(
        d.log()
            .contains("VRRP transition BACKUP -> MASTER instance=VI_B"),
        "{}",
        d.log()
    );
}

#[test]
fn without_dynamic_interfaces_a_missing_interface_stops_the_start_with_the_fix() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    let d = lab.spawn_daemon(1, &config(false), &[]).expect("daemon");
    let status = d.wait_exit(Duration::from_secs(10)).expect("it exits");
    assert_eq!(status.code(), Some(1), "{}", d.log());
    assert!(
        d.log().contains("interface lb0 does not exist")
            && d.log().contains("set dynamic_interfaces in global_defs"),
        "{}",
        d.log()
    );
}
