//! Data-plane switches end to end: adverts are passed to the stack by default (tcpdump
//! sees them) and consumed with `--consume-adverts`; an interface that already has another
//! XDP program is refused with a message naming it.
use std::time::Duration;

use vrrp_tests::{Lab, is_root};

const MS: Duration = Duration::from_millis(1);

fn config(state: &str, priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    virtual_router_id 51\n    priority {priority}\n    advert_int 0.1\n    version 3\n    virtual_ipaddress {{\n        10.0.0.100\n    }}\n}}\n"
    )
}

/// Adverts that reach node2's stack during `window`, counted by tcpdump inside node2.
fn adverts_seen_by_stack(lab: &Lab, window: Duration) -> usize {
    let secs = window.as_secs().max(1).to_string();
    let out = lab
        .exec_timeout(
            2,
            &[
                "timeout", &secs, "tcpdump", "-i", "eth0", "-n", "-l", "vrrp",
            ],
            window + Duration::from_secs(3),
        )
        .expect("tcpdump");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("VRRP"))
        .count()
}

#[test]
fn adverts_are_passed_by_default_and_consumed_on_request() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    for (consume, expect_seen) in [(false, true), (true, false)] {
        let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
        let args: &[&str] = if consume { &["--consume-adverts"] } else { &[] };
        let _d1 = lab
            .spawn_daemon(1, &config("MASTER", 100), &[])
            .expect("node1");
        let _d2 = lab
            .spawn_daemon(2, &config("BACKUP", 90), args)
            .expect("node2");
        lab.wait_for(Duration::from_secs(5), MS, || {
            lab.vip_holders("10.0.0.100") == [1]
        })
        .expect("node1 master");
        let seen = adverts_seen_by_stack(&lab, Duration::from_secs(1));
        assert_eq!(
            seen > 0,
            expect_seen,
            "consume={consume}: the stack saw {seen} adverts"
        );
        // Either way node2 keeps hearing the master (XDP records before it drops).
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(lab.vip_holders("10.0.0.100"), [1], "consume={consume}");
    }
}

#[test]
fn another_xdp_program_on_the_interface_is_refused_by_name() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    // Another vrrp-daemon holds node1's eth0 first.
    let first = lab
        .spawn_daemon(1, &config("MASTER", 100), &[])
        .expect("first");
    lab.wait_for(Duration::from_secs(5), MS, || {
        lab.log(1).contains("XDP advert observer attached")
    })
    .expect("first daemon attached");
    // Its own status socket, so the refusal can only come from the XDP hook.
    let socket = lab.dir().join("second.sock");
    let socket = socket.to_str().unwrap();
    let second = lab
        .spawn_daemon(
            1,
            &config("MASTER", 100).replace("51", "52"),
            &["--control-socket", socket],
        )
        .expect("second");
    let status = second
        .wait_exit(Duration::from_secs(10))
        .expect("the second daemon exits");
    assert!(!status.success());
    let log = second.log();
    assert!(
        log.contains("already has the XDP program \"vrrp_xdp\""),
        "{log}"
    );
    assert!(log.contains("xdp off"), "says how to fix it: {log}");
    assert!(first.is_running());
}
