//! `static_ipaddress`, `static_routes`, `static_rules`: the host has them whatever its VRRP
//! state (here on a backup that never becomes master), a reload applies only what changed,
//! and a stop removes them. Needs root (`cargo xtask test`).
use std::time::Duration;

use vrrp_tests::{Lab, is_root};

const MS: Duration = Duration::from_millis(1);

/// node1's configuration: a backup (priority 50 next to node2's 200) with static entries.
fn config(addresses: &[&str], routes: &[&str], rules: &[&str]) -> String {
    let block = |name: &str, lines: &[&str]| {
        let body: String = lines.iter().map(|l| format!("    {l}\n")).collect();
        format!("{name} {{\n{body}}}\n")
    };
    format!(
        "global_defs {{\n    default_interface eth0\n}}\n{}{}{}\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    \
         priority 50\n    advert_int 0.1\n    version 3\n    virtual_ipaddress {{\n        \
         10.0.0.100/24\n    }}\n}}\n",
        block("static_ipaddress", addresses),
        block("static_routes", routes),
        block("static_rules", rules),
    )
}

const MASTER: &str = "vrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n    \
                      virtual_router_id 51\n    priority 200\n    advert_int 0.1\n    \
                      version 3\n    virtual_ipaddress {\n        10.0.0.100/24\n    }\n}\n";

/// What node1 has of the static entries: (addresses, routes, rules), squeezed.
fn seen(lab: &Lab) -> (String, String, String) {
    let run = |cmd: &str| {
        lab.sh_ok(1, cmd)
            .unwrap()
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    (
        run("ip -o addr show | grep -E '10\\.0\\.9\\.|2001:db8:9::' || true"),
        run("ip route show table all | grep -E '^10\\.(8|9)\\.' || true"),
        run("ip rule show | grep -E '^(1001|1002):' || true"),
    )
}

#[test]
fn static_entries_are_there_whatever_the_state_follow_reloads_and_go_at_stop() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let _master = lab.spawn_daemon(2, MASTER, &[]).expect("node2");
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        lab.vip_holders("10.0.0.100") == [2]
    })
    .expect("node2 master");
    let d = lab
        .spawn_daemon(
            1,
            &config(
                &["10.0.9.1/24", "10.0.9.2/24 dev eth0 label eth0:st"],
                &[
                    "10.9.0.0/16 via 10.0.0.254",
                    "10.8.0.0/16 dev eth0 src 10.0.9.1",
                ],
                &["from 10.0.9.1 table 100 priority 1001"],
            ),
            &[],
        )
        .expect("node1");
    let has = |s: &str, needle: &str| s.lines().any(|l| l.contains(needle));
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        let (a, r, u) = seen(&lab);
        has(&a, "inet 10.0.9.1/24")
            && has(&a, "inet 10.0.9.2/24")
            && has(&r, "10.9.0.0/16 via 10.0.0.254 dev eth0")
            && has(&r, "10.8.0.0/16 dev eth0 scope link src 10.0.9.1")
            && has(&u, "1001: from 10.0.9.1 lookup 100")
    })
    .unwrap_or_else(|e| panic!("{e:#}: {:?}\n{}", seen(&lab), d.log()));
    let (a, ..) = seen(&lab);
    assert!(has(&a, "eth0:st"), "the label: {a}");
    assert!(d.log().contains("static address added"), "{}", d.log());
    // node1 is a backup all along: the entries do not depend on the state.
    assert_eq!(lab.vip_holders("10.0.0.100"), [2]);
    assert!(!d.log().contains("-> MASTER"), "{}", d.log());

    // A reload: one address, one route and the rule go, an address and a rule come.
    std::fs::write(
        d.config_path(),
        config(
            &["10.0.9.1/24", "2001:db8:9::1/64"],
            &["10.9.0.0/16 via 10.0.0.254"],
            &["from 10.0.9.1 table 100 priority 1002"],
        ),
    )
    .unwrap();
    d.signal(libc::SIGHUP).unwrap();
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        let (a, r, u) = seen(&lab);
        has(&a, "inet 10.0.9.1/24")
            && !has(&a, "inet 10.0.9.2/")
            && has(&a, "2001:db8:9::1/64")
            && has(&r, "10.9.0.0/16")
            && !has(&r, "10.8.0.0/16")
            && has(&u, "1002: from 10.0.9.1 lookup 100")
            && !has(&u, "1001:")
    })
    .unwrap_or_else(|e| panic!("{e:#}: {:?}\n{}", seen(&lab), d.log()));

    // A stop removes them all.
    d.term(Duration::from_secs(10)).expect("stops");
    let (a, r, u) = seen(&lab);
    assert!(
        a.is_empty() && r.is_empty() && u.is_empty(),
        "{a}\n{r}\n{u}"
    );
}
