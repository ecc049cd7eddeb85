//! A master whose virtual route or rule someone else removes steps down to BACKUP, as
//! keepalived does, and gets it back with its next mastership; `no_track` keeps MASTER; and
//! the daemon's own changes (a reload that rewrites a route) never count as a loss. Needs
//! root (`cargo xtask test`).
use std::time::Duration;

use vrrp_tests::{Lab, is_root};

const MS: Duration = Duration::from_millis(1);

fn config(route_metric: u32) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n    \
         priority 100\n    advert_int 0.1\n    version 3\n    virtual_ipaddress {{\n        \
         10.0.0.100/24\n    }}\n    virtual_routes {{\n        10.9.0.0/16 via 10.0.0.254 metric \
         {route_metric}\n        10.8.0.0/16 dev eth0 no_track\n    }}\n    virtual_rules {{\n        \
         from 10.0.0.100 table 100 priority 1001\n    }}\n}}\n"
    )
}

fn has(lab: &Lab, cmd: &str, needle: &str) -> bool {
    lab.sh_ok(1, cmd).is_ok_and(|o| o.contains(needle))
}

#[test]
fn a_route_or_rule_removed_by_someone_else_makes_the_master_step_down() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    let d = lab.spawn_daemon(1, &config(7), &[]).expect("daemon");
    let route = |needle: &str| has(&lab, "ip route show", needle);
    let rule = || has(&lab, "ip rule show", "1001:");
    let downs = || d.log().matches("MASTER -> BACKUP").count();
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        route("10.9.0.0/16 via 10.0.0.254 dev eth0 metric 7") && route("10.8.0.0/16") && rule()
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));

    // no_track: removing it changes nothing.
    lab.sh_ok(1, "ip route del 10.8.0.0/16").unwrap();
    std::thread::sleep(500 * MS);
    assert_eq!(downs(), 0, "{}", d.log());

    // A reload that rewrites the tracked route (a new metric: removed, then added by us)
    // is not a loss.
    std::fs::write(d.config_path(), config(8)).unwrap();
    d.signal(libc::SIGHUP).unwrap();
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        route("10.9.0.0/16 via 10.0.0.254 dev eth0 metric 8")
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    std::thread::sleep(500 * MS);
    assert_eq!(downs(), 0, "{}", d.log());

    // The tracked route: down to BACKUP, then (no peer) MASTER again, route back.
    lab.sh_ok(1, "ip route del 10.9.0.0/16").unwrap();
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        downs() == 1 && route("10.9.0.0/16 via 10.0.0.254 dev eth0 metric 8")
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    assert!(
        d.log()
            .contains("reason=a virtual route or rule was removed by someone else"),
        "{}",
        d.log()
    );
    // The rule likewise.
    lab.sh_ok(1, "ip rule del pref 1001").unwrap();
    lab.wait_for(Duration::from_secs(5), 10 * MS, || downs() == 2 && rule())
        .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        lab.vip_holders("10.0.0.100") == [1]
    })
    .expect("master again");
}
