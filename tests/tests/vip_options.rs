//! keepalived's `virtual_ipaddress` options reach the kernel: `label`, `brd` and `scope`
//! are on the address as `ip addr` shows it, and a reload that changes a label re-adds
//! that address only. Needs root (`cargo xtask test`).
use std::time::Duration;

use vrrp_tests::{Lab, is_root};

const MS: Duration = Duration::from_millis(1);

fn config(vips: &[&str]) -> String {
    let vips: String = vips.iter().map(|v| format!("        {v}\n")).collect();
    format!(
        "vrrp_instance VI_1 {{\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n    \
         priority 100\n    advert_int 0.1\n    version 3\n    virtual_ipaddress {{\n{vips}    }}\n}}\n"
    )
}

/// `ip -4 -o addr show dev eth0` lines for `addr/`, whitespace squeezed.
fn shown(lab: &Lab, addr: &str) -> Option<String> {
    let out = lab
        .exec_ok(1, &["ip", "-4", "-o", "addr", "show", "dev", "eth0"])
        .unwrap();
    out.lines()
        .map(|l| {
            l.replace('\\', " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .find(|l| l.contains(&format!("inet {addr}/")))
}

#[test]
fn label_brd_and_scope_are_on_the_address() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    let vips = [
        // Other subnets for other scopes: the kernel wants every address of one subnet
        // in the scope of its first (the node's own 10.0.0.1/24 is global).
        "10.1.0.100/24 brd + label eth0:vip scope site",
        "10.0.0.101/24 brd - dev eth0",
        "10.0.0.102/24 broadcast 10.0.0.127 label eth0:b",
        "10.2.0.103 scope link",
    ];
    let d = lab.spawn_daemon(1, &config(&vips), &[]).unwrap();
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        shown(&lab, "10.2.0.103").is_some()
    })
    .unwrap_or_else(|_| panic!("never master:\n{}", lab.log(1)));
    let line = |a| shown(&lab, a).unwrap_or_else(|| panic!("{a} missing:\n{}", lab.log(1)));
    let l100 = line("10.1.0.100");
    assert!(
        l100.contains("inet 10.1.0.100/24 brd 10.1.0.255 scope site eth0:vip"),
        "{l100}"
    );
    let l101 = line("10.0.0.101");
    assert!(
        l101.contains("inet 10.0.0.101/24 brd 10.0.0.0 scope global"),
        "{l101}"
    );
    let l102 = line("10.0.0.102");
    assert!(
        l102.contains("inet 10.0.0.102/24 brd 10.0.0.127 scope global")
            && l102.contains(" eth0:b "),
        "{l102}"
    );
    let l103 = line("10.2.0.103");
    assert!(l103.contains("inet 10.2.0.103/32 scope link"), "{l103}");

    // A reload with another label re-adds that address with it, and nothing else moves.
    let mut changed = vips;
    changed[2] = "10.0.0.102/24 broadcast 10.0.0.127 label eth0:c";
    std::fs::write(d.config_path(), config(&changed)).unwrap();
    d.signal(libc::SIGHUP).unwrap();
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        shown(&lab, "10.0.0.102").is_some_and(|l| l.contains(" eth0:c "))
    })
    .unwrap_or_else(|_| {
        panic!(
            "label not changed: {:?}\n{}",
            shown(&lab, "10.0.0.102"),
            lab.log(1)
        )
    });
    assert_eq!(line("10.1.0.100"), l100);
    assert_eq!(line("10.2.0.103"), l103);
    let log = lab.log(1);
    assert_eq!(
        log.matches("VRRP transition").count(),
        2,
        "no state change:\n{log}"
    );
}
