//! `virtual_routes` and `virtual_rules` end to end: the master holds the routes and rules
//! and the backup does not; they follow the VIP on a stop, a reload changes only what
//! changed, and a crash's guardian removes them. Needs root (`cargo xtask test`).
use std::time::Duration;

use vrrp_tests::{Lab, is_root};

const VIP: &str = "10.0.0.100";
const MS: Duration = Duration::from_millis(1);

/// The routes as written in the configuration, and how `ip route show` lists each.
const ROUTES: [(&str, &str); 5] = [
    (
        "10.9.0.0/16 via 10.0.0.254 dev eth0",
        "10.9.0.0/16 via 10.0.0.254 dev eth0",
    ),
    // Its source is the VIP: added after the addresses.
    (
        "10.8.0.0/16 dev eth0 src 10.0.0.100",
        "10.8.0.0/16 dev eth0 scope link src 10.0.0.100",
    ),
    ("blackhole 10.7.0.0/16", "blackhole 10.7.0.0/16"),
    (
        "10.6.0.0/16 dev eth0 table 100 metric 7",
        "10.6.0.0/16 dev eth0 table 100 scope link metric 7",
    ),
    (
        "2001:db8:9::/48 dev eth0 metric 5",
        "2001:db8:9::/48 dev eth0 metric 5",
    ),
];

fn config(state: &str, priority: u8, routes: &[&str]) -> String {
    let routes: String = routes.iter().map(|r| format!("        {r}\n")).collect();
    format!(
        "vrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    virtual_router_id 51\n    \
         priority {priority}\n    advert_int 0.1\n    version 3\n    virtual_ipaddress {{\n        \
         {VIP}/24\n    }}\n    virtual_routes {{\n{routes}    }}\n}}\n"
    )
}

/// The routes of `ROUTES` (by their `ip route show` form) present on `node`.
fn routes_on(lab: &Lab, node: usize) -> Vec<&'static str> {
    let shown = lab
        .sh_ok(
            node,
            "ip -4 route show table all; ip -6 route show table all",
        )
        .unwrap();
    let lines: Vec<String> = shown
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    ROUTES
        .iter()
        .map(|(_, listed)| *listed)
        .filter(|listed| lines.iter().any(|l| l.starts_with(listed)))
        .collect()
}

fn wait_routes(lab: &Lab, node: usize, want: &[&str], what: &str) {
    let mut want: Vec<&str> = want.to_vec();
    want.sort_unstable();
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        let mut have = routes_on(lab, node);
        have.sort_unstable();
        have == want
    })
    .unwrap_or_else(|_| {
        panic!(
            "{what}: node{node} has {:?}, wanted {want:?}\n{}\n{}",
            routes_on(lab, node),
            lab.log(1),
            lab.log(2)
        )
    });
}

#[test]
fn virtual_routes_follow_the_master_through_stop_reload_and_crash() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let all: Vec<&str> = ROUTES.iter().map(|(written, _)| *written).collect();
    let listed: Vec<&str> = ROUTES.iter().map(|(_, listed)| *listed).collect();
    let d1 = lab
        .spawn_daemon(1, &config("MASTER", 100, &all), &[])
        .unwrap();
    let d2 = lab
        .spawn_daemon(2, &config("BACKUP", 90, &all), &[])
        .unwrap();
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        lab.vip_holders(VIP) == [1]
    })
    .unwrap_or_else(|_| panic!("no master:\n{}", lab.log(1)));
    wait_routes(&lab, 1, &listed, "master");
    // (node2 may have been master for a moment while node1 was still starting.)
    wait_routes(&lab, 2, &[], "the backup has none");

    // A clean stop: the routes leave with the VIP and arrive with it on node2.
    d1.term(Duration::from_secs(5)).unwrap();
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        lab.vip_holders(VIP) == [2]
    })
    .unwrap_or_else(|_| panic!("no takeover:\n{}", lab.log(2)));
    wait_routes(&lab, 2, &listed, "new master");
    assert_eq!(
        routes_on(&lab, 1),
        Vec::<&str>::new(),
        "a stop removes them"
    );
    let stop = lab
        .log(1)
        .lines()
        .find(|l| l.contains("from=MASTER to=STOP"))
        .map(String::from)
        .unwrap_or_else(|| panic!("no stop transition:\n{}", lab.log(1)));
    assert!(stop.contains("master=none (stopping)"), "{stop}");

    // A reload while master: one route dropped, the others untouched.
    let count = |what: &str| lab.log(2).matches(what).count();
    let (added, removed) = (count("virtual route added"), count("virtual route removed"));
    let mut changed: Vec<&str> = all.clone();
    changed.retain(|r| !r.starts_with("blackhole"));
    std::fs::write(d2.config_path(), config("BACKUP", 90, &changed)).unwrap();
    d2.signal(libc::SIGHUP).unwrap();
    let mut after: Vec<&str> = listed.clone();
    after.retain(|r| !r.starts_with("blackhole"));
    wait_routes(&lab, 2, &after, "after the reload");
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        count("virtual route removed") == removed + 1
    })
    .unwrap_or_else(|_| panic!("the blackhole route not removed:\n{}", lab.log(2)));
    assert_eq!(
        count("virtual route added"),
        added,
        "a reload re-adds nothing that stayed:\n{}",
        lab.log(2)
    );

    // A crash: the guardian removes the routes with the VIP.
    d2.kill9().unwrap();
    wait_routes(&lab, 2, &[], "after the crash");
    assert!(lab.vip_holders(VIP).is_empty());
}

#[test]
fn a_route_that_cannot_be_added_is_reported_and_the_others_still_go_in() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    // 10.99.0.254 is not on any link of the node: the kernel refuses the gateway.
    let bad = "10.5.0.0/16 via 10.99.0.254 dev eth0";
    let routes = [bad, ROUTES[0].0, ROUTES[2].0];
    let _d = lab
        .spawn_daemon(1, &config("MASTER", 100, &routes), &[])
        .unwrap();
    wait_routes(&lab, 1, &[ROUTES[0].1, ROUTES[2].1], "master");
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        lab.log(1).contains("virtual route not added")
    })
    .unwrap_or_else(|_| panic!("no warning:\n{}", lab.log(1)));
    let log = lab.log(1);
    let line = log
        .lines()
        .find(|l| l.contains("virtual route not added"))
        .unwrap();
    assert!(line.contains(bad), "the warning names the route: {line}");
    assert_eq!(
        lab.vip_holders(VIP),
        [1],
        "the instance is master all the same"
    );
}

/// The rules of the rules test (by their `ip rule show` form) present on `node`.
fn rules_on(lab: &Lab, node: usize) -> Vec<String> {
    let shown = lab.sh_ok(node, "ip -4 rule show; ip -6 rule show").unwrap();
    shown
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| l.starts_with("100: ") || l.starts_with("101: "))
        .collect()
}

#[test]
fn virtual_rules_follow_the_master_and_a_crash_removes_them() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let rules = "    virtual_rules {\n        from 10.0.0.100 table 100 priority 100\n        \
                 to 2001:db8:7::/48 table 100 priority 101 no_track\n    }\n";
    let with_rules = |state, priority| {
        config(state, priority, &[]).replace("    virtual_routes {\n    }\n", rules)
    };
    let expected = [
        "100: from 10.0.0.100 lookup 100".to_string(),
        "101: from all to 2001:db8:7::/48 lookup 100".to_string(),
    ];
    let d1 = lab
        .spawn_daemon(1, &with_rules("MASTER", 100), &[])
        .unwrap();
    let d2 = lab.spawn_daemon(2, &with_rules("BACKUP", 90), &[]).unwrap();
    let wait_rules = |node: usize, want: &[String], what: &str| {
        lab.wait_for(Duration::from_secs(5), 10 * MS, || {
            rules_on(&lab, node) == want
        })
        .unwrap_or_else(|_| {
            panic!(
                "{what}: node{node} has {:?}\n{}",
                rules_on(&lab, node),
                lab.log(node)
            )
        });
    };
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        lab.vip_holders(VIP) == [1]
    })
    .unwrap_or_else(|_| panic!("no master:\n{}", lab.log(1)));
    wait_rules(1, &expected, "master");
    wait_rules(2, &[], "backup");
    d1.term(Duration::from_secs(5)).unwrap();
    wait_rules(2, &expected, "new master");
    assert_eq!(
        rules_on(&lab, 1),
        Vec::<String>::new(),
        "a stop removes them"
    );
    d2.kill9().unwrap();
    wait_rules(2, &[], "after the crash");
}
