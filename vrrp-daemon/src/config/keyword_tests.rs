//! Tests of the keywords added after the seed: each with valid and invalid values (the
//! exact `file:line:column` of every message), and the defaults they get.
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use super::{
    Severity,
    model::*,
    testing::{errors, failed, instance, ok, warnings},
};

/// The messages of `text` (which must load) of one severity, displayed.
fn of(text: &str, severity: Severity) -> Vec<String> {
    ok(text)
        .warnings
        .iter()
        .filter(|w| w.severity == severity)
        .map(ToString::to_string)
        .collect()
}

fn only(text: &str) -> VrrpInstance {
    let mut loaded = ok(text);
    assert_eq!(loaded.config.instances.len(), 1);
    loaded.config.instances.remove(0)
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// `instance(body)` after a `global_defs` holding `global` (the instance starts at line
/// `3 + lines of global`).
fn with_global(global: &str, body: &str) -> String {
    format!("global_defs {{\n{global}\n}}\n{}", instance(body))
}

// ===== global_defs =====

#[test]
fn net_namespace_at_the_top_or_in_global_defs() {
    let top = ok(&format!("net_namespace blue\n{}", instance("")));
    assert_eq!(top.config.global.net_namespace.as_deref(), Some("blue"));
    let global = ok(&with_global("    net_namespace red", ""));
    assert_eq!(global.config.global.net_namespace.as_deref(), Some("red"));
    assert_eq!(GlobalDefs::default().net_namespace, None);
    assert_eq!(
        errors("net_namespace ../etc\n"),
        [
            "keepalived.conf:1:1: net_namespace ../etc is not a namespace name; write the name \
          `ip netns list` shows, e.g. `net_namespace blue`"
        ]
    );
}

#[test]
fn static_entries_and_default_interface() {
    let text = format!(
        "static_ipaddress {{\n    10.0.9.1/24 dev eth1 label eth1:a\n    10.0.9.2\n    \
         10.0.9.1/24\n}}\nstatic_routes {{\n    10.9.0.0/16 via 10.0.0.254\n}}\n\
         static_rules {{\n    from 10.0.9.1 table 100 priority 1001\n}}\n{}",
        with_global("    default_interface ens3", "")
    );
    let loaded = ok(&text);
    let c = &loaded.config;
    assert_eq!(c.global.default_interface, "ens3");
    assert_eq!(GlobalDefs::default().default_interface, "eth0");
    let addresses: Vec<(IpAddr, u8, Option<&str>)> = c
        .static_addresses
        .iter()
        .map(|a| (a.addr, a.prefix_len, a.dev.as_deref()))
        .collect();
    assert_eq!(
        addresses,
        [
            (ip("10.0.9.1"), 24, Some("eth1")),
            (ip("10.0.9.2"), 32, None)
        ]
    );
    assert_eq!(c.static_addresses[0].label.as_deref(), Some("eth1:a"));
    assert_eq!(
        c.static_routes[0].words,
        ["10.9.0.0/16", "via", "10.0.0.254"]
    );
    assert_eq!(
        c.static_rules[0].words,
        ["from", "10.0.9.1", "table", "100", "priority", "1001"]
    );
    assert_eq!(
        of(&text, Severity::Warning),
        [
            "keepalived.conf:4:5: 10.0.9.1 is listed twice in static_ipaddress; the second is \
          ignored: remove it"
        ]
    );
    assert_eq!(
        errors("static_routes {\n    10.9.0.0/16 frobnicate\n}\n").len(),
        1,
        "a bad route is an error at its line"
    );
}

#[test]
fn dynamic_interfaces() {
    assert!(!GlobalDefs::default().dynamic_interfaces);
    for line in ["dynamic_interfaces", "dynamic_interfaces allow_if_changes"] {
        let c = ok(&with_global(&format!("    {line}"), "")).config;
        assert!(c.global.dynamic_interfaces, "{line}");
    }
    assert_eq!(
        errors("global_defs {\n    dynamic_interfaces sometimes\n}\n"),
        [
            "keepalived.conf:2:5: dynamic_interfaces takes only `allow_if_changes`, not \
          `sometimes`; write `dynamic_interfaces` or `dynamic_interfaces allow_if_changes`"
        ]
    );
}

#[test]
fn process_keywords() {
    let g = ok(&with_global(
        "    vrrp_priority -5\n    vrrp_rt_priority 20\n    vrrp_no_swap\n    \
         vrrp_cpu_affinity 3 0 3\n    vrrp_rlimit_rtime 5000",
        "",
    ))
    .config
    .global;
    assert_eq!(
        g.process,
        ProcessTuning {
            nice: Some(-5),
            rt_priority: Some(20),
            no_swap: true,
            cpu_affinity: vec![0, 3],
            rlimit_rttime_us: 5000,
            ..ProcessTuning::default()
        }
    );
    assert!(g.process.is_set());
    let auto = ok(&with_global(
        "    max_auto_priority\n    min_auto_priority_delay 20000",
        "",
    ))
    .config
    .global
    .process;
    assert_eq!(
        (auto.max_auto_priority, auto.min_auto_priority_delay),
        (99, Duration::from_millis(20))
    );
    assert!(auto.is_set());
    let off = ok(&with_global("    max_auto_priority -1", ""))
        .config
        .global
        .process;
    assert_eq!(off.max_auto_priority, 0);
    let d = ProcessTuning::default();
    assert_eq!((d.rlimit_rttime_us, d.is_set()), (10_000, false));
    let text = "global_defs {
    vrrp_priority 20
    vrrp_rt_priority 0
    vrrp_cpu_affinity
    vrrp_cpu_affinity 1 x
    vrrp_cpu_affinity 1024
    vrrp_rlimit_rttime 1
    vrrp_no_swap yes
    max_auto_priority 100
    min_auto_priority_delay 0
}
";
    let expected = [
        "2:5: vrrp_priority 20 is out of range; use a nice value from -20 to 19",
        "3:5: vrrp_rt_priority 0 is out of range; use a realtime priority from 1 to 99",
        "4:5: vrrp_cpu_affinity needs the CPUs to run on; write e.g. `vrrp_cpu_affinity 0 1`",
        "5:5: vrrp_cpu_affinity x is not a number; use a CPU number from 0 to 1023",
        "6:5: vrrp_cpu_affinity 1024 is out of range; use a CPU number from 0 to 1023",
        "7:5: vrrp_rlimit_rttime 1 is out of range; use microseconds from 2 to 3600000000",
        "8:5: `vrrp_no_swap` takes no value; remove `yes`",
        "9:5: max_auto_priority 100 is out of range; use a realtime priority (-1 or 0: off) \
         from -1 to 99",
        "10:5: min_auto_priority_delay 0 is out of range; use microseconds from 1 to 10000000",
    ]
    .map(|e| format!("keepalived.conf:{e}"));
    assert_eq!(errors(text), expected);
}

#[test]
fn global_defaults() {
    let loaded = ok("global_defs {\n}\n");
    assert_eq!(loaded.config.global, GlobalDefs::default());
    let g = GlobalDefs::default();
    assert_eq!(g.vrrp_version, 2);
    assert_eq!(
        (g.garp_master_delay, g.garp_master_repeat),
        (Duration::from_secs(5), 5)
    );
    assert_eq!(
        g.garp,
        GarpConfig {
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
        }
    );
    assert_eq!(g.down_timer_adverts, 3);
    assert_eq!(g.mcast_group4, Ipv4Addr::new(224, 0, 0, 18));
    assert_eq!(g.mcast_group6, "ff02::12".parse::<Ipv6Addr>().unwrap());
    assert!(!g.strict && !g.check_unicast_src && !g.skip_check_adv_addr && !g.min_garp);
    assert!(!g.lower_prio_no_advert && g.higher_prio_send_advert);
    assert_eq!(
        (g.garp_interval, g.gna_interval, g.startup_delay),
        Default::default()
    );
    assert_eq!(
        (g.notify_fifo.clone(), g.vrrp_notify_fifo.clone()),
        (None, None)
    );
}

#[test]
fn global_keywords_and_what_instances_inherit() {
    let text = with_global(
        "    vrrp_garp_master_refresh 60
    vrrp_garp_master_refresh_repeat 2
    vrrp_garp_lower_prio_delay 3
    vrrp_garp_lower_prio_repeat 1
    vrrp_garp_interval 0.001
    vrrp_gna_interval 0.0025
    vrrp_lower_prio_no_advert
    vrrp_higher_prio_send_advert true
    vrrp_down_timer_adverts 5
    vrrp_check_unicast_src
    vrrp_skip_check_adv_addr
    vrrp_mcast_group4 224.0.0.19
    vrrp_mcast_group6 ff02::13
    vrrp_startup_delay 5.5
    notify_fifo /run/keepalived.fifo root adm
    notify_fifo_script /usr/local/bin/fifo.sh
    vrrp_notify_fifo /run/vrrp.fifo
    vrrp_notify_fifo_script \"/usr/local/bin/vrrp fifo.sh\"",
        "",
    );
    let loaded = ok(&text);
    let g = &loaded.config.global;
    assert_eq!(
        g.garp,
        GarpConfig {
            master_refresh: Duration::from_secs(60),
            master_refresh_repeat: 2,
            lower_prio_delay: Duration::from_secs(3),
            lower_prio_repeat: 1,
        }
    );
    assert_eq!(g.garp_interval, Duration::from_millis(1));
    assert_eq!(g.gna_interval, Duration::from_micros(2500));
    assert!(g.lower_prio_no_advert && g.higher_prio_send_advert);
    assert_eq!(g.down_timer_adverts, 5);
    assert!(g.check_unicast_src && g.skip_check_adv_addr);
    assert_eq!(g.mcast_group4, Ipv4Addr::new(224, 0, 0, 19));
    assert_eq!(g.startup_delay, Duration::from_millis(5500));
    assert_eq!(
        g.notify_fifo,
        Some(NotifyFifo {
            path: "/run/keepalived.fifo".into(),
            user: Some("root".into()),
            group: Some("adm".into()),
            script: Some("/usr/local/bin/fifo.sh".into()),
        })
    );
    assert_eq!(
        g.vrrp_notify_fifo
            .as_ref()
            .and_then(|f| f.script.as_deref()),
        Some("/usr/local/bin/vrrp fifo.sh")
    );
    assert!(loaded.config.runs_scripts());
    let i = &loaded.config.instances[0];
    assert_eq!(i.garp, g.garp);
    assert!(i.lower_prio_no_advert && i.higher_prio_send_advert && i.skip_check_adv_addr);
    assert_eq!(i.down_timer_adverts, 5);
    assert_eq!(i.mcast_dst_ip, Some(ip("224.0.0.19")));
    // No warning; a note for each keyword not acted on.
    assert_eq!(of(&text, Severity::Warning), Vec::<String>::new());
    assert_eq!(
        of(&text, Severity::Note),
        vec!["keepalived.conf:12:5: `vrrp_skip_check_adv_addr` is accepted, not acted on",]
    );
}

#[test]
fn global_values_out_of_range() {
    let text = "global_defs {
    vrrp_garp_master_refresh -1
    vrrp_garp_master_refresh_repeat x
    vrrp_garp_lower_prio_delay 4295
    vrrp_garp_lower_prio_repeat 2147483648
    vrrp_garp_interval -1
    vrrp_gna_interval abc
    vrrp_min_garp maybe
    vrrp_lower_prio_no_advert yes no
    vrrp_down_timer_adverts 0
    vrrp_down_timer_adverts 101
    vrrp_strict now
    vrrp_mcast_group4 10.0.0.1
    vrrp_mcast_group4 ff02::12
    vrrp_mcast_group6 224.0.0.18
    vrrp_mcast_group6 2001:db8::1
    vrrp_startup_delay 0.0005
    notify_fifo
    vrrp_notify_fifo /a u g extra
    vrrp_check_unicast_src { }
}
";
    let expected = [
        "2:5: vrrp_garp_master_refresh -1 is out of range; use whole seconds from 0 to \
         4294967295",
        "3:5: vrrp_garp_master_refresh_repeat x is not a number; use a number from 0 to \
         4294967295",
        "4:5: vrrp_garp_lower_prio_delay 4295 is out of range; use whole seconds from 0 to \
         4294",
        "5:5: vrrp_garp_lower_prio_repeat 2147483648 is out of range; use a number from 0 to \
         2147483647",
        "6:5: vrrp_garp_interval -1 is not a number of seconds; use seconds from 0 to \
         4294.967295",
        "7:5: vrrp_gna_interval abc is not a number of seconds; use seconds from 0 to \
         4294.967295",
        "8:5: `vrrp_min_garp maybe` is invalid; write `vrrp_min_garp` (or `vrrp_min_garp \
         true`) to enable it, `vrrp_min_garp false` to disable it",
        "9:5: `vrrp_lower_prio_no_advert` has too many values (`no` is one too many); write \
         e.g. `vrrp_lower_prio_no_advert false`, quoting a value that has spaces",
        "10:5: vrrp_down_timer_adverts 0 is out of range; use a number from 1 to 100",
        "11:5: vrrp_down_timer_adverts 101 is out of range; use a number from 1 to 100",
        "12:5: `vrrp_strict` takes no value; remove `now`",
        "13:5: vrrp_mcast_group4 10.0.0.1 is not a multicast address; use one from \
         224.0.0.0/4, normally 224.0.0.18",
        "14:5: vrrp_mcast_group4 ff02::12 is not an IPv4 address; write e.g. \
         `vrrp_mcast_group4 224.0.0.18`",
        "15:5: vrrp_mcast_group6 224.0.0.18 is not an IPv6 address; write e.g. \
         `vrrp_mcast_group6 ff02::12`",
        "16:5: vrrp_mcast_group6 2001:db8::1 is not a multicast address; use one from \
         ff02::/16, normally ff02::12",
        "17:5: vrrp_startup_delay 0.0005 is out of range; use seconds from 0.001 to \
         4294.967295",
        "18:5: `notify_fifo` needs a value; write e.g. `notify_fifo /run/keepalived.fifo`",
        "19:5: `vrrp_notify_fifo` has too many values (`extra` is one too many); write e.g. \
         `vrrp_notify_fifo /run/keepalived.fifo USER GROUP`, quoting a value that has spaces",
        "20:28: `vrrp_check_unicast_src` takes no { } block; remove the braces and what is \
         between them",
    ]
    .map(|e| format!("keepalived.conf:{e}"));
    assert_eq!(errors(text), expected);
}

#[test]
fn vrrp_min_garp_changes_only_the_defaults() {
    let g = ok("global_defs {\n    vrrp_min_garp\n}\n").config.global;
    assert!(g.min_garp);
    assert_eq!(
        (g.garp_master_delay, g.garp_master_repeat),
        (Duration::ZERO, 1)
    );
    assert_eq!(g.garp.master_refresh_repeat, 0);
    assert_eq!(
        (g.garp.lower_prio_delay, g.garp.lower_prio_repeat),
        (Duration::ZERO, 1)
    );
    let g = ok("global_defs {\n    vrrp_min_garp\n    vrrp_garp_master_repeat 3\n}\n")
        .config
        .global;
    assert_eq!(
        (g.garp_master_delay, g.garp_master_repeat),
        (Duration::ZERO, 3)
    );
    assert_eq!(g.garp.lower_prio_repeat, 3);
    let g = ok("global_defs {\n    vrrp_min_garp off\n}\n")
        .config
        .global;
    assert_eq!(g, GlobalDefs::default());
}

#[test]
fn lower_prio_garps_follow_the_master_garps() {
    let g = ok("global_defs {\n    vrrp_garp_master_delay 2\n    vrrp_garp_master_repeat 3\n}\n")
        .config
        .global;
    assert_eq!(
        (g.garp.lower_prio_delay, g.garp.lower_prio_repeat),
        (Duration::from_secs(2), 3)
    );
}

#[test]
fn global_warnings() {
    assert_eq!(
        of(
            "global_defs {\n    vrrp_mcast_group6 ff05::12\n    vrrp_notify_fifo_script /x\n}\n",
            Severity::Warning
        ),
        vec![
            "keepalived.conf:2:5: vrrp_mcast_group6 ff05::12 is not link-local multicast \
             (ff02::/16); VRRP adverts stay on the link, so use e.g. ff02::12",
            "keepalived.conf:3:5: vrrp_notify_fifo_script without vrrp_notify_fifo is ignored \
             (it would be given the FIFO's path); add `vrrp_notify_fifo /run/keepalived.fifo` \
             or remove it",
        ]
    );
}

// ===== unicast =====

const UNICAST: &str = "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    unicast_src_ip 10.0.0.2
    unicast_peer {
        10.0.0.3
        10.0.0.4 min_ttl 250 max_ttl 255
    }
    virtual_ipaddress {
        10.0.0.1
    }
}
";

#[test]
fn unicast_peers() {
    let i = only(UNICAST);
    assert!(i.is_unicast());
    assert_eq!(i.family, Family::Ipv4);
    assert_eq!(i.src_ip, Some(ip("10.0.0.2")));
    assert_eq!(
        i.unicast,
        UnicastConfig {
            peers: vec![
                UnicastPeer {
                    addr: ip("10.0.0.3"),
                    min_ttl: 0,
                    max_ttl: 255,
                },
                UnicastPeer {
                    addr: ip("10.0.0.4"),
                    min_ttl: 250,
                    max_ttl: 255,
                },
            ],
            ttl: Some(255),
            // min_ttl/max_ttl switch the source check on, as in keepalived.
            check_src: true,
            fault_no_peer: false,
        }
    );
    assert_eq!(i.mcast_dst_ip, None);
    assert_eq!(ok(UNICAST).warnings, vec![]);
    let text = UNICAST
        .replace(
            "    unicast_peer {",
            "    unicast_ttl 64\n    unicast_peer {",
        )
        .replace("min_ttl 250 max_ttl 255", "");
    let i = only(&text);
    assert_eq!(i.unicast.ttl, Some(64));
    assert!(!i.unicast.check_src);
    let i = only(&text.replace("    unicast_ttl 64", "    check_unicast_src"));
    assert!(i.unicast.check_src);
    let i = only(&with_global(
        "    vrrp_check_unicast_src",
        "    unicast_peer {\n        10.0.0.3\n    }",
    ));
    assert!(i.unicast.check_src);
}

#[test]
fn unicast_peer_errors() {
    let text = UNICAST.replace(
        "        10.0.0.3\n",
        "        10.0.0.3 10.0.0.5
        peer1
        10.0.0.6 min_tll 3
        10.0.0.7 min_ttl
        10.0.0.8 max_ttl 256
        10.0.0.9 min_ttl 100 max_ttl 10
        10.0.0.10 {
        }
",
    );
    let expected = [
        "6:18: `10.0.0.5` follows 10.0.0.3 on the same line; put each unicast_peer on its own \
         line",
        "7:9: `peer1` is not an IP address; write one peer address per line of unicast_peer, \
         e.g. `192.168.1.2`",
        "8:18: unknown unicast_peer option `min_tll`; did you mean `min_ttl`? the options are \
         min_ttl and max_ttl",
        "9:18: `min_ttl` needs a value after it; write e.g. `min_ttl 64`",
        "10:18: max_ttl 256 is out of range; use a number from 0 to 255",
        "11:9: min_ttl 100 is above max_ttl 10 for unicast_peer 10.0.0.9, so every advert \
         from it would be dropped; swap them",
        "12:19: `10.0.0.10` takes no { } block; remove the braces and what is between them",
    ]
    .map(|e| format!("keepalived.conf:{e}"));
    assert_eq!(errors(&text), expected);
    assert_eq!(
        errors(&UNICAST.replace("unicast_src_ip 10.0.0.2", "unicast_src_ip 10.0.0")),
        vec![
            "keepalived.conf:4:5: unicast_src_ip `10.0.0` is not an IP address; write e.g. \
             `unicast_src_ip 192.168.1.1`"
        ]
    );
    assert_eq!(
        errors(&UNICAST.replace(
            "    unicast_peer {",
            "    unicast_ttl 256\n    unicast_peer {"
        )),
        vec!["keepalived.conf:5:5: unicast_ttl 256 is out of range; use a number from 0 to 255"]
    );
}

#[test]
fn one_family_per_instance() {
    let text = UNICAST
        .replace("unicast_src_ip 10.0.0.2", "unicast_src_ip fe80::2")
        .replace("        10.0.0.3\n", "        2001:db8::3\n");
    assert_eq!(
        errors(&text),
        vec![
            "keepalived.conf:4:5: unicast_src_ip fe80::2 is IPv6 but vrrp_instance VI_1 is IPv4 \
             (from its virtual_ipaddress 10.0.0.1 at line 10); an instance carries one family, \
             so use an IPv4 address here",
            "keepalived.conf:6:9: unicast_peer 2001:db8::3 is IPv6 but vrrp_instance VI_1 is \
             IPv4 (from its virtual_ipaddress 10.0.0.1 at line 10); an instance carries one \
             family, so use an IPv4 address here",
        ]
    );
    assert_eq!(
        errors(&instance(
            "    mcast_dst_ip ff02::12\n    mcast_src_ip fe80::1"
        )),
        vec![
            "keepalived.conf:5:5: mcast_dst_ip ff02::12 is IPv6 but vrrp_instance VI_1 is IPv4 \
             (from its virtual_ipaddress 10.0.0.1 at line 4); an instance carries one family, \
             so use an IPv4 address here",
            "keepalived.conf:6:5: mcast_src_ip fe80::1 is IPv6 but vrrp_instance VI_1 is IPv4 \
             (from its virtual_ipaddress 10.0.0.1 at line 4); an instance carries one family, \
             so use an IPv4 address here",
        ]
    );
    // Without addresses the source address decides; IPv6 is VRRPv3, which needs addresses.
    assert_eq!(
        errors(
            "vrrp_instance V6 {\n    interface eth0\n    virtual_router_id 5\n    mcast_src_ip fe80::1\n}\n"
        ),
        vec![
            "keepalived.conf:1:1: vrrp_instance V6 has no virtual_ipaddress, which VRRPv3 \
             requires; add e.g. `virtual_ipaddress { 192.168.1.100/24 }`"
        ]
    );
}

#[test]
fn unicast_keywords_without_peers() {
    assert_eq!(
        of(
            &instance("    unicast_src_ip 10.0.0.2\n    unicast_ttl 10"),
            Severity::Warning
        ),
        vec![
            "keepalived.conf:5:5: vrrp_instance VI_1 asks for unicast (`unicast_src_ip`) but \
             has no unicast_peer, so its adverts go by multicast (deprecated in keepalived); add \
             `unicast_peer { ADDRESS }` or remove `unicast_src_ip`",
            "keepalived.conf:6:5: unicast_ttl without unicast peers is ignored (as keepalived \
             does); add a unicast_peer block or remove it",
        ]
    );
    assert_eq!(
        of(&instance("    unicast_fault_no_peer"), Severity::Warning),
        vec![
            "keepalived.conf:5:5: vrrp_instance VI_1 asks for unicast (`unicast_fault_no_peer`) \
             but has no unicast_peer, and unicast_fault_no_peer keeps it in FAULT; add \
             `unicast_peer { ADDRESS }`"
        ]
    );
    let i = only(&instance("    unicast_fault_no_peer"));
    assert!(i.unicast.fault_no_peer && !i.is_unicast());
    assert_eq!(i.unicast.ttl, None);
}

#[test]
fn multicast_destination() {
    let i = only(&instance(
        "    mcast_dst_ip 224.0.0.100\n    mcast_src_ip 10.0.0.9",
    ));
    assert_eq!(i.mcast_dst_ip, Some(ip("224.0.0.100")));
    assert_eq!(i.src_ip, Some(ip("10.0.0.9")));
    assert_eq!(
        errors(&instance("    mcast_dst_ip 10.0.0.100")),
        vec![
            "keepalived.conf:5:5: mcast_dst_ip 10.0.0.100 is not a multicast address; use e.g. \
             224.0.0.18, or leave it out for the standard VRRP group"
        ]
    );
    assert_eq!(
        errors(&instance("    mcast_dst_ip ff05::12")),
        vec![
            "keepalived.conf:5:5: mcast_dst_ip ff05::12 is not a link-local multicast address \
             (ff02::/16); use e.g. ff02::12, or leave it out for the standard VRRP group"
        ]
    );
    assert_eq!(
        of(
            &UNICAST.replace(
                "    unicast_peer {",
                "    mcast_dst_ip 224.0.0.18\n    unicast_peer {"
            ),
            Severity::Warning
        ),
        vec![
            "keepalived.conf:5:5: mcast_dst_ip is ignored with unicast peers (adverts go to each \
             peer); remove it"
        ]
    );
    assert_eq!(
        of(
            &instance("    unicast_src_ip 10.0.0.2\n    mcast_src_ip 10.0.0.3"),
            Severity::Warning
        )[1],
        "keepalived.conf:6:5: mcast_src_ip and unicast_src_ip (at line 5) both set the source \
         address; the later one is used: keep one"
    );
}

// ===== IPv6 =====

const V6: &str = "vrrp_instance V6 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        fe80::51/64
        2001:db8::51/64
    }
}
";

#[test]
fn ipv6_instances() {
    let loaded = ok(V6);
    assert_eq!(loaded.warnings, vec![]);
    let i = &loaded.config.instances[0];
    assert_eq!((i.family, i.version), (Family::Ipv6, 3));
    assert_eq!(i.mcast_dst_ip, Some(ip("ff02::12")));
    let global_first = V6.replace("        fe80::51/64\n", "");
    assert_eq!(
        of(&global_first, Severity::Note),
        vec![
            "keepalived.conf:5:9: the first IPv6 address of vrrp_instance V6 should be \
             link-local (RFC 5798); put a fe80:: address first in virtual_ipaddress"
        ]
    );
    assert_eq!(
        errors(&global_first.replace("    interface eth0", "    interface eth0\n    strict_mode")),
        vec![
            "keepalived.conf:6:9: the first IPv6 address of vrrp_instance V6 should be \
             link-local (RFC 5798); put a fe80:: address first in virtual_ipaddress (strict \
             mode requires it)"
        ]
    );
}

// ===== addresses =====

#[test]
fn virtual_address_options_in_the_model() {
    let i = only(&instance(
        "    virtual_ipaddress {
        10.0.1.1/24 brd + scope link no_track
        10.0.1.2/24 broadcast - scope 200
        10.0.1.3/24 brd 10.0.1.255 dev eth1 label eth1:3 peer 10.0.1.9 preferred_lft forever
    }",
    ));
    let a = &i.virtual_addresses[1..];
    assert_eq!(
        (a[0].brd, a[0].scope, a[0].no_track),
        (Some(Broadcast::AllHostBits), Some(AddressScope::Link), true)
    );
    assert_eq!(
        (a[1].brd, a[1].scope, a[1].no_track),
        (
            Some(Broadcast::NoHostBits),
            Some(AddressScope::Number(200)),
            false
        )
    );
    assert_eq!(
        a[2].brd,
        Some(Broadcast::Address(Ipv4Addr::new(10, 0, 1, 255)))
    );
    assert_eq!(
        (a[2].dev.as_deref(), a[2].label.as_deref()),
        (Some("eth1"), Some("eth1:3"))
    );
    assert_eq!(
        errors(&instance(
            "    virtual_ipaddress {
        10.0.1.4 peer fe80::1
        10.0.1.5 preferred_lft soon
        10.0.1.6 brd 10.0.1
    }"
        )),
        vec![
            "keepalived.conf:6:18: peer fe80::1 is not an address of the same family as \
             10.0.1.4; write e.g. `peer 192.168.1.1`",
            "keepalived.conf:7:18: preferred_lft soon is invalid; use seconds (0 to 4294967295) \
             or `forever`",
            "keepalived.conf:8:18: `brd 10.0.1` is invalid; use an IPv4 address, `+` (all host \
             bits set) or `-` (none)",
        ]
    );
}

#[test]
fn excluded_addresses_may_mix_families() {
    let text = instance(
        "    virtual_ipaddress_excluded {
        10.0.2.1/24 brd +
        2001:db8::1/64 dev eth1
        10.0.0.1
    }",
    );
    let loaded = ok(&text);
    let i = &loaded.config.instances[0];
    assert_eq!(i.family, Family::Ipv4);
    let excluded: Vec<IpAddr> = i
        .virtual_addresses_excluded
        .iter()
        .map(|v| v.addr)
        .collect();
    assert_eq!(excluded, vec![ip("10.0.2.1"), ip("2001:db8::1")]);
    let messages: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    // The duplicate is a warning.
    assert_eq!(
        messages,
        vec![
            "keepalived.conf:8:9: 10.0.0.1 is in both virtual_ipaddress and \
             virtual_ipaddress_excluded of vrrp_instance VI_1; the one in \
             virtual_ipaddress_excluded is ignored: remove it",
        ]
    );
    assert_eq!(
        errors(&instance(
            "    virtual_ipaddress_excluded {\n        10.0.2.1/40\n    }"
        )),
        vec![
            "keepalived.conf:6:9: prefix length /40 of 10.0.2.1/40 is invalid; use /0 to /32 \
             (or leave it out for /32)"
        ]
    );
}

#[test]
fn addresses_beyond_one_advert_move_to_the_excluded() {
    let vips: String = (0..300)
        .map(|n| format!("        10.1.{}.{}\n", n / 250, n % 250 + 1))
        .collect();
    let text = format!(
        "vrrp_instance BIG {{\n    interface eth0\n    virtual_router_id 9\n    virtual_ipaddress {{\n{vips}    }}\n}}\n"
    );
    let loaded = ok(&text);
    let i = &loaded.config.instances[0];
    assert_eq!(i.virtual_addresses.len(), 255);
    assert_eq!(i.virtual_addresses_excluded.len(), 45);
    assert_eq!(i.virtual_addresses_excluded[0].addr, ip("10.1.1.6"));
    assert_eq!(
        of(&text, Severity::Warning),
        vec![
            "keepalived.conf:260:9: vrrp_instance BIG has 300 virtual addresses but an advert \
             carries at most 255; the last 45 are moved to virtual_ipaddress_excluded (as \
             keepalived does): move them there yourself"
        ]
    );
}

// ===== routes =====

#[test]
fn virtual_routes() {
    let i = only(&instance(
        "    virtual_routes {
        10.9.0.0/16 via 10.0.0.254 dev eth1 table 100 metric 5 src 10.0.0.1
        blackhole 10.8.0.0/16
        default via 10.0.0.254 no_track
        to 2001:db8:9::/48 via inet6 fe80::1 dev eth1 onlink
        10.7.0.0/16 nexthop via 10.0.0.1 weight 1 nexthop via 10.0.0.2 weight 2
    }",
    ));
    let r = &i.virtual_routes;
    assert_eq!(r.len(), 5);
    assert_eq!(
        r[0],
        VirtualRoute {
            words: "10.9.0.0/16 via 10.0.0.254 dev eth1 table 100 metric 5 src 10.0.0.1"
                .split(' ')
                .map(String::from)
                .collect(),
            dst: Some(IpPrefix {
                addr: ip("10.9.0.0"),
                prefix_len: 16
            }),
            family: Family::Ipv4,
            via: Some(ip("10.0.0.254")),
            dev: Some("eth1".into()),
            table: Some("100".into()),
            metric: Some(5),
            src: Some(ip("10.0.0.1")),
            blackhole: false,
            no_track: false,
        }
    );
    assert!(r[1].blackhole && r[1].via.is_none());
    assert_eq!((r[2].dst, r[2].no_track), (None, true));
    assert_eq!(r[2].words, vec!["default", "via", "10.0.0.254"]);
    assert_eq!((r[3].family, r[3].via), (Family::Ipv6, Some(ip("fe80::1"))));
    assert_eq!(r[4].words.len(), 11);
}

#[test]
fn virtual_route_errors() {
    let text = instance(
        "    virtual_routes {
        10.9.0.0/16 vai 10.0.0.254
        10.9.0.0/16 via 2001:db8::1
        10.9.0.0/16 via
        via 10.0.0.1
        10.9.0.0/33
        10.9.0.0/16 dev eth1:0
        10.9.0.0/16 metric many
        blackhole
    }",
    );
    let expected = [
        "6:21: unknown word `vai` in virtual_routes entry `10.9.0.0/16 vai 10.0.0.254`; did you \
         mean `via`? write `DESTINATION [via ADDRESS] [dev IF] [src ADDRESS] [table N] [metric \
         N] [no_track]`",
        "7:25: route `10.9.0.0/16 via 2001:db8::1` mixes IPv4 (10.9.0.0/16) and IPv6 \
         (2001:db8::1); a route has one family",
        "8:21: `via` in virtual_routes needs a value after it; write e.g. `via 192.168.1.1`",
        "9:9: virtual_routes entry `via 10.0.0.1` has no destination; write it first, e.g. \
         `10.1.0.0/16 via 192.168.1.1 dev eth0` (or `default via ...`)",
        "10:9: prefix length /33 of route 10.9.0.0/33 is invalid; use /0 to /32",
        "11:25: dev `eth1:0` is not an interface name (`:` marks an address label); write `dev \
         eth1` and give the address `label eth1:0`",
        "12:28: metric `many` in virtual_routes is not a number; use 0 to 4294967295",
        "13:9: virtual_routes entry `blackhole` has no destination after `blackhole`; write \
         e.g. `blackhole 10.2.0.0/16`",
    ]
    .map(|e| format!("keepalived.conf:{e}"));
    assert_eq!(errors(&text), expected);
}

#[test]
fn virtual_rules() {
    let i = only(&instance(
        "    virtual_rules {
        from 10.0.0.100 table 100 priority 100
        to 2001:db8:7::/48 table 100 no_track
        fwmark 7 table 200
    }",
    ));
    let r = &i.virtual_rules;
    assert_eq!(
        r[0],
        VirtualRule {
            words: "from 10.0.0.100 table 100 priority 100"
                .split(' ')
                .map(String::from)
                .collect(),
            family: Family::Ipv4,
            no_track: false,
        }
    );
    assert_eq!((r[1].family, r[1].no_track), (Family::Ipv6, true));
    assert_eq!(r[1].words.join(" "), "to 2001:db8:7::/48 table 100");
    // No address: IPv4, as `ip rule` would take it.
    assert_eq!((r[2].family, r[2].words.len()), (Family::Ipv4, 4));
    assert_eq!(r.len(), 3);
}

#[test]
fn virtual_rule_errors() {
    let text = instance(
        "    virtual_rules {
        from 10.0.0.0/8 to 2001:db8::/32 table 100
    }",
    );
    assert_eq!(
        errors(&text),
        [
            "keepalived.conf:6:28: rule `from 10.0.0.0/8 to 2001:db8::/32 table 100` mixes IPv4 \
          (10.0.0.0/8) and IPv6 (2001:db8::/32); a rule has one family"
        ]
    );
}

// ===== tracking =====

#[test]
fn track_interface() {
    let text = instance(
        "    track_interface {
        eth1
        eth2 weight -20
        eth3 weight 10 reverse
        eth0
        eth1
    }",
    );
    let loaded = ok(&text);
    assert_eq!(
        loaded.config.instances[0].track_interfaces,
        vec![
            TrackInterface {
                interface: "eth1".into(),
                weight: 0,
                reverse: false
            },
            TrackInterface {
                interface: "eth2".into(),
                weight: -20,
                reverse: false
            },
            TrackInterface {
                interface: "eth3".into(),
                weight: 10,
                reverse: true
            },
        ]
    );
    assert_eq!(
        of(&text, Severity::Warning),
        vec![
            "keepalived.conf:9:9: track_interface eth0 is the instance's own interface, which \
             is always tracked; it is ignored (as keepalived does): remove it",
            "keepalived.conf:10:9: track_interface eth1 is listed twice in vrrp_instance VI_1; \
             the second is ignored (as keepalived does): remove it",
        ]
    );
    assert_eq!(
        errors(&instance(
            "    track_interface {
        eth1 weight 254
        eth2 weigth 2
        eth3/x
        eth4 weight 2 inverse
    }"
        )),
        vec![
            "keepalived.conf:6:9: track_interface eth1 weight 254 is out of range; use a number \
             from -253 to 253",
            "keepalived.conf:7:9: unknown option `weigth` after track_interface eth2; write \
             `eth2 weight -20` or just `eth2` (one per line)",
            "keepalived.conf:8:9: track_interface `eth3/x` is not a valid interface name; use a \
             name from `ip link`",
            "keepalived.conf:9:9: unknown option `inverse` after the weight of track_interface \
             eth4; write `eth4 weight -20 reverse` or leave it out",
        ]
    );
}

const TRACK_FILE: &str = "track_file tf_db {
    file \"/var/run/keepalived/db state\"
    weight -10 reverse
    init_file 5 overwrite
}
vrrp_track_file tf_old {
    file /var/run/old
}
";

#[test]
fn track_files() {
    let text = format!(
        "{TRACK_FILE}{}",
        instance("    track_file {\n        tf_db\n        tf_old weight 254 noreverse\n    }")
    );
    let loaded = ok(&text);
    assert_eq!(
        loaded.config.track_files,
        vec![
            TrackFile {
                name: "tf_db".into(),
                file: "/var/run/keepalived/db state".into(),
                weight: -10,
                weight_reverse: true,
                init_file: Some(TrackFileInit {
                    value: 5,
                    overwrite: true
                }),
                location: loaded.config.track_files[0].location.clone(),
            },
            TrackFile {
                name: "tf_old".into(),
                file: "/var/run/old".into(),
                weight: 1,
                weight_reverse: false,
                init_file: None,
                location: loaded.config.track_files[1].location.clone(),
            },
        ]
    );
    assert_eq!(loaded.config.track_files[1].location.line, 6);
    assert_eq!(
        loaded.config.instances[0].track_files,
        vec![
            TrackRef {
                name: "tf_db".into(),
                weight: None,
                reverse: true
            },
            TrackRef {
                name: "tf_old".into(),
                weight: Some(254),
                reverse: false
            },
        ]
    );
    // track_file is acted on: no "accepted, not acted on" notes.
    assert!(of(&text, Severity::Note).is_empty());
    let init = |v: &str| {
        ok(&format!(
            "track_file t {{\n    file /x\n    init_file {v}\n}}\n"
        ))
        .config
        .track_files[0]
            .init_file
            .clone()
    };
    assert_eq!(
        init(""),
        Some(TrackFileInit {
            value: 0,
            overwrite: false
        })
    );
    assert_eq!(init("-254").map(|i| i.value), Some(-254));
}

#[test]
fn track_file_errors() {
    let text = "track_file a {
    weight 255
    init_file 300
    init_file now
    file
}
track_file b {
    file /b
    file /c d
}
track_file a {
    file /a
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress { 10.0.0.1 }
    track_file {
        bb
        b weight -255
    }
}
";
    let expected = [
        "2:5: weight 255 is out of range; use a number from -254 to 254",
        "3:5: init_file 300 is out of range; use a number from -254 to 254",
        "4:5: unknown init_file option `now`; write `init_file [VALUE] [overwrite]`, e.g. \
         `init_file 0 overwrite`",
        "5:5: `file` needs a value; write e.g. `file \"/var/run/keepalived/tf_1\"`",
        "9:5: `file` has too many values (`d` is one too many); write e.g. `file \
         \"/var/run/keepalived/tf_1\"`, quoting a value that has spaces",
        "11:1: track_file a is defined twice (first at line 1); rename or remove one \
         (track_file and vrrp_track_file share names)",
        "19:9: track_file bb names no track_file; did you mean `b`? If not, define \
         `track_file bb { file \"...\" }`",
        "20:9: track_file b weight -255 is out of range; use a number from -254 to 254",
    ]
    .map(|e| format!("keepalived.conf:{e}"));
    assert_eq!(errors(text), expected);
    assert_eq!(
        errors("track_file t {\n    weight 2\n}\n"),
        vec![
            "keepalived.conf:1:1: track_file t has no `file`; add e.g. `file \
             \"/var/run/keepalived/t\"`"
        ]
    );
}

const TRACK_PROCESS: &str = "vrrp_track_process haproxy {
    process haproxy -f /etc/haproxy/haproxy.cfg
    weight 20 reverse
    quorum 2
    quorum_max 4
    delay 0.5
    terminate_delay 2
}
vrrp_track_process nginx {
    process nginx
    param_match initial
    fork_delay 1
    full_command
}
vrrp_track_process sshd {
    process sshd
}
";

#[test]
fn track_processes() {
    let text = format!(
        "{TRACK_PROCESS}{}",
        instance("    track_process {\n        haproxy\n        nginx weight -30\n    }")
    );
    let loaded = ok(&text);
    let p = &loaded.config.track_processes;
    assert_eq!(
        p[0],
        TrackProcess {
            name: "haproxy".into(),
            process: "haproxy".into(),
            params: vec!["-f".into(), "/etc/haproxy/haproxy.cfg".into()],
            param_match: Some(ParamMatch::Exact),
            full_command: true,
            weight: 20,
            weight_reverse: true,
            quorum: 2,
            quorum_max: Some(4),
            fork_delay: Duration::from_millis(500),
            terminate_delay: Duration::from_secs(2),
            location: p[0].location.clone(),
        }
    );
    assert_eq!(
        (
            p[1].param_match,
            p[1].full_command,
            p[1].fork_delay,
            p[1].terminate_delay
        ),
        (
            Some(ParamMatch::Initial),
            true,
            Duration::from_secs(1),
            Duration::ZERO
        )
    );
    // Defaults.
    assert_eq!(
        (
            p[2].param_match,
            p[2].full_command,
            p[2].weight,
            p[2].quorum,
            p[2].quorum_max
        ),
        (None, false, 0, 1, None)
    );
    assert_eq!(
        loaded.config.instances[0].track_processes,
        vec![
            TrackRef {
                name: "haproxy".into(),
                weight: None,
                reverse: true
            },
            TrackRef {
                name: "nginx".into(),
                weight: Some(-30),
                reverse: false
            },
        ]
    );
    let absent = ok("vrrp_track_process x {\n    process x\n    quorum_max 0\n}\n");
    assert_eq!(
        (
            absent.config.track_processes[0].quorum,
            absent.config.track_processes[0].quorum_max
        ),
        (0, Some(0))
    );
}

#[test]
fn track_process_errors() {
    let text = "vrrp_track_process a {
    process
    param_match regex
    quorum 0
    quorum_max 65536
    weight 255
    delay 0
    fork_delay 3601
    full_command yes
}
vrrp_track_process b {
    process b
    quorum 5
    quorum_max 3
}
vrrp_track_process c {
    weight 1
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress { 10.0.0.1 }
    track_process {
        chk_proc
    }
}
";
    let expected = [
        "2:5: `process` needs a value; write e.g. `process haproxy`",
        "3:5: param_match regex is invalid; write `param_match` (exact), `param_match initial` \
         or `param_match partial`",
        "4:5: quorum 0 is out of range; use a number from 1 to 65535",
        "5:5: quorum_max 65536 is out of range; use a number from 0 to 65535",
        "6:5: weight 255 is out of range; use a number from -254 to 254",
        "7:5: delay 0 is out of range; use seconds from 0.000001 to 3600",
        "8:5: fork_delay 3601 is out of range; use seconds from 0.000001 to 3600",
        "9:5: `full_command` takes no value; remove `yes`",
        "14:5: quorum 5 of vrrp_track_process b is above its quorum_max 3; the quorum must lie \
         between 1 and quorum_max",
        "16:1: vrrp_track_process c has no `process`; add e.g. `process haproxy`",
        "24:9: track_process chk_proc names no vrrp_track_process; define \
         `vrrp_track_process chk_proc { process NAME }`",
    ]
    .map(|e| format!("keepalived.conf:{e}"));
    assert_eq!(errors(text), expected);
}

// ===== sync groups =====

fn two_instances() -> String {
    format!(
        "{}{}",
        instance(""),
        instance("").replace("VI_1", "VI_2").replace("51", "52")
    )
}

#[test]
fn sync_groups() {
    let text = format!(
        "{}vrrp_script chk {{\n    script /bin/true\n}}\nvrrp_sync_group VG_1 {{
    group {{
        VI_1 VI_2
    }}
    track_script {{
        chk weight 5
    }}
    track_interface {{
        eth9
    }}
    notify_master /bin/master
    notify /bin/all
    sync_group_tracking_weight
    smtp_alert
}}
",
        two_instances()
    );
    let loaded = ok(&text);
    assert_eq!(
        loaded.config.sync_groups,
        vec![SyncGroup {
            name: "VG_1".into(),
            instances: vec!["VI_1".into(), "VI_2".into()],
            track_interfaces: vec![TrackInterface {
                interface: "eth9".into(),
                weight: 0,
                reverse: false
            }],
            track_scripts: vec![TrackScript {
                name: "chk".into(),
                weight: Some(5),
                reverse: false
            }],
            track_files: vec![],
            track_processes: vec![],
            notify_master: Some("/bin/master".into()),
            notify_backup: None,
            notify_fault: None,
            notify_stop: None,
            notify: Some("/bin/all".into()),
            tracking_weight: true,
            location: loaded.config.sync_groups[0].location.clone(),
        }]
    );
    for i in &loaded.config.instances {
        assert_eq!(i.sync_group.as_deref(), Some("VG_1"));
    }
    // The group is acted on; its notify scripts and smtp_alert are not.
    assert_eq!(
        loaded
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![
            "keepalived.conf:26:5: `notify_master` is accepted, not acted on: the members' own \
             scripts run",
            "keepalived.conf:27:5: `notify` is accepted, not acted on: the members' own scripts \
             run",
            "keepalived.conf:29:5: `smtp_alert` is accepted, not acted on",
        ]
    );
}

#[test]
fn sync_group_errors() {
    let text = format!(
        "{}vrrp_sync_group A {{
    group {{
        VI_1
        VI_3
        VI_1
    }}
    group {{ VI_2 }}
}}
vrrp_sync_group B {{
    group {{
        VI_1 VI_2
    }}
    global_tracking
}}
vrrp_sync_group A {{
    group {{ VI_2 }}
}}
vrrp_sync_group C {{
    notify /x
}}
vrrp_sync_group D {{
    group {{
    }}
}}
",
        two_instances()
    );
    let err = failed(&text);
    let got: Vec<String> = err.errors.iter().map(ToString::to_string).collect();
    let expected = [
        "16:9: vrrp_sync_group A lists VI_3, which is no vrrp_instance; did you mean `VI_1`? \
         If not, remove it from the group",
        "19:5: vrrp_sync_group A has a second group block (the first is at line 14); list all \
         its instances in one `group { }`",
        "23:9: vrrp_instance VI_1 is already in vrrp_sync_group A (at line 15); an instance can \
         be in one sync group only, so remove it from one of them",
        "27:1: vrrp_sync_group A is defined twice (first at line 13); rename or remove one",
    ]
    .map(|e| format!("keepalived.conf:{e}"));
    assert_eq!(got, expected);
    let warnings: Vec<String> = err
        .warnings
        .iter()
        .filter(|w| w.severity == Severity::Warning)
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        warnings,
        vec![
            "keepalived.conf:17:9: VI_1 is listed twice in vrrp_sync_group A; the second is \
             ignored: remove it",
            "keepalived.conf:25:5: global_tracking is deprecated; write \
             `sync_group_tracking_weight` instead (it has the same effect here)",
            "keepalived.conf:30:1: vrrp_sync_group C has no `group { }`, so it does nothing and \
             is ignored (as keepalived does); add the instances that fail over together, e.g. \
             `group { VI_1 VI_2 }`, or remove the block",
            "keepalived.conf:34:5: the group of vrrp_sync_group D is empty, so the sync group \
             does nothing and is ignored (as keepalived does); list its instances, e.g. `group \
             { VI_1 VI_2 }`, or remove the block",
        ]
    );
}

// ===== the other instance keywords =====

#[test]
fn instance_defaults_of_the_new_keywords() {
    let i = only(&instance(""));
    assert_eq!(i.family, Family::Ipv4);
    assert!(i.virtual_addresses_excluded.is_empty() && i.virtual_routes.is_empty());
    assert!(i.track_interfaces.is_empty() && i.track_files.is_empty());
    assert!(i.track_processes.is_empty() && !i.dont_track_primary);
    assert_eq!((i.src_ip, i.vmac.clone()), (None, None));
    assert_eq!(i.unicast, UnicastConfig::default());
    assert_eq!(i.mcast_dst_ip, Some(ip("224.0.0.18")));
    assert!(i.accept && !i.strict_mode && !i.skip_check_adv_addr);
    assert_eq!(i.down_timer_adverts, 3);
    assert!(!i.lower_prio_no_advert && i.higher_prio_send_advert);
    assert_eq!(i.checksum, ChecksumConfig::default());
    assert_eq!(i.checksum.old_unicast, OldUnicastChecksum::Auto);
    assert!(!i.notify_deleted && i.notify_deleted_script.is_none());
    assert_eq!(i.garp, GlobalDefs::default().garp);
    assert_eq!(i.sync_group, None);
}

#[test]
fn instance_keywords_valid() {
    let i = only(&instance(
        "    dont_track_primary
    no_accept
    skip_check_adv_addr off
    down_timer_adverts 10
    lower_prio_no_advert on
    higher_prio_send_advert yes
    garp_master_refresh 30
    garp_master_refresh_repeat 3
    garp_lower_prio_delay 2
    garp_lower_prio_repeat 0
    old_unicast_checksum never
    v3_checksum_as_v2
    notify_deleted /bin/deleted
    use_vmac vrrp.51 02:00:5e:00:01
    vmac_xmit_base",
    ));
    assert!(i.dont_track_primary && !i.accept && !i.skip_check_adv_addr);
    assert_eq!(i.down_timer_adverts, 10);
    assert!(i.lower_prio_no_advert && i.higher_prio_send_advert);
    assert_eq!(
        i.garp,
        GarpConfig {
            master_refresh: Duration::from_secs(30),
            master_refresh_repeat: 3,
            lower_prio_delay: Duration::from_secs(2),
            lower_prio_repeat: 0,
        }
    );
    assert_eq!(
        i.checksum,
        ChecksumConfig {
            old_unicast: OldUnicastChecksum::Never,
            v3_as_v2: true
        }
    );
    assert!(i.notify_deleted);
    assert_eq!(i.notify_deleted_script.as_deref(), Some("/bin/deleted"));
    assert_eq!(
        i.vmac,
        Some(VmacConfig {
            ifname: Some("vrrp.51".into()),
            mac: Some("02:00:5e:00:01".into()),
            xmit_base: true
        })
    );
    let i = only(&instance(
        "    no_accept\n    accept\n    old_unicast_checksum\n    notify_deleted",
    ));
    assert!(i.accept && i.notify_deleted && i.notify_deleted_script.is_none());
    assert_eq!(i.checksum.old_unicast, OldUnicastChecksum::Always);
    assert!(
        !only(&instance("    v3_checksum_as_v2 false"))
            .checksum
            .v3_as_v2
    );
}

#[test]
fn instance_keywords_invalid() {
    let text = instance(
        "    dont_track_primary eth0
    accept 1
    skip_check_adv_addr maybe
    down_timer_adverts 0
    down_timer_adverts 101
    lower_prio_no_advert 1
    garp_master_refresh -5
    garp_master_refresh_repeat many
    garp_lower_prio_delay 4295
    garp_lower_prio_repeat -1
    old_unicast_checksum always
    v3_checksum_as_v2 sometimes
    use_vmac vrrp.51 01:00:5e:00:01:33
    use_vmac a b c
    use_vmac vrrp:51
    vmac_xmit_base now
    strict_mode 2
    notify_deleted",
    );
    let text = text.replace("    notify_deleted\n", "    notify_deleted { }\n");
    let expected = [
        "5:5: `dont_track_primary` takes no value; remove `eth0`",
        "6:5: `accept` takes no value; remove `1`",
        "7:5: `skip_check_adv_addr maybe` is invalid; write `skip_check_adv_addr` (or \
         `skip_check_adv_addr true`) to enable it, `skip_check_adv_addr false` to disable it",
        "8:5: down_timer_adverts 0 is out of range; use a number from 1 to 100",
        "9:5: down_timer_adverts 101 is out of range; use a number from 1 to 100",
        "10:5: `lower_prio_no_advert 1` is invalid; write `lower_prio_no_advert` (or \
         `lower_prio_no_advert true`) to enable it, `lower_prio_no_advert false` to disable it",
        "11:5: garp_master_refresh -5 is out of range; use whole seconds from 0 to 4294967295",
        "12:5: garp_master_refresh_repeat many is not a number; use a number from 0 to \
         4294967295",
        "13:5: garp_lower_prio_delay 4295 is out of range; use whole seconds from 0 to 4294",
        "14:5: garp_lower_prio_repeat -1 is out of range; use a number from 0 to 2147483647",
        "15:5: old_unicast_checksum always is invalid; write `old_unicast_checksum` (always use \
         the old form) or `old_unicast_checksum never`",
        "16:5: `v3_checksum_as_v2 sometimes` is invalid; write `v3_checksum_as_v2` (or \
         `v3_checksum_as_v2 true`) to enable it, `v3_checksum_as_v2 false` to disable it",
        "17:5: use_vmac MAC address `01:00:5e:00:01:33` is a multicast address; use a unicast \
         one (first octet even)",
        "18:5: `use_vmac` has too many values (`c` is one too many); write e.g. `use_vmac \
         vrrp.51 00:00:5e:00:01:33`, quoting a value that has spaces",
        "19:5: use_vmac MAC address `vrrp:51` is invalid; write six hex octets such as \
         `02:00:5e:00:01:33` (or five, to end with the VRID)",
        "20:5: `vmac_xmit_base` takes no value; remove `now`",
        "21:5: `strict_mode 2` is invalid; write `strict_mode` (or `strict_mode true`) to \
         enable it, `strict_mode false` to disable it",
        "22:20: `notify_deleted` takes no { } block; remove the braces and what is between them",
    ]
    .map(|e| format!("keepalived.conf:{e}"));
    assert_eq!(errors(&text), expected);
}

#[test]
fn vmac_clean_ups() {
    assert_eq!(
        of(&instance("    vmac_xmit_base"), Severity::Warning),
        vec![
            "keepalived.conf:5:5: vmac_xmit_base only applies with use_vmac and is ignored; add \
             `use_vmac` or remove it"
        ]
    );
    let text = UNICAST.replace("    unicast_src_ip", "    use_vmac\n    unicast_src_ip");
    assert_eq!(
        of(&text, Severity::Warning),
        vec![
            "keepalived.conf:4:5: unicast with use_vmac needs vmac_xmit_base, which is set (as \
             keepalived does); add `vmac_xmit_base`"
        ]
    );
    assert_eq!(
        only(&text).vmac,
        Some(VmacConfig {
            ifname: None,
            mac: None,
            xmit_base: true
        })
    );
}

#[test]
fn strict_mode_defaults_and_clean_ups() {
    let i = only(&with_global("    vrrp_strict", ""));
    assert!(i.strict_mode && !i.accept && i.lower_prio_no_advert && !i.higher_prio_send_advert);
    assert_eq!(
        (i.garp.lower_prio_delay, i.garp.lower_prio_repeat),
        (Duration::ZERO, 0)
    );
    // An owner accepts; `strict_mode false` overrides the global.
    assert!(only(&with_global("    vrrp_strict", "    priority 255")).accept);
    assert!(!only(&with_global("    vrrp_strict", "    strict_mode false")).strict_mode);

    let text = instance(
        "    strict_mode
    state MASTER
    priority 200
    preempt_delay 5
    accept
    down_timer_adverts 5
    lower_prio_no_advert false
    higher_prio_send_advert
    garp_lower_prio_repeat 2
    garp_lower_prio_delay 1
    authentication {
        auth_type PASS
        auth_pass x
    }",
    )
    .replace("VI_1 {", "VI_1 {\n    state BACKUP")
    .replace("    state BACKUP\n", "");
    let loaded = ok(&text);
    let i = &loaded.config.instances[0];
    assert_eq!(i.initial_state, InitialState::Backup);
    assert!(!i.accept && i.lower_prio_no_advert && !i.higher_prio_send_advert);
    assert_eq!((i.down_timer_adverts, i.preempt_delay), (3, Duration::ZERO));
    assert_eq!(i.authentication, None);
    assert_eq!(
        of(&text, Severity::Warning),
        vec![
            "keepalived.conf:6:5: in strict mode the state must match being the address owner \
             (priority 255), so state MASTER is replaced by BACKUP (as keepalived does); write \
             `state BACKUP`",
            "keepalived.conf:8:5: preempt_delay is not allowed in strict mode and is cleared (as \
             keepalived does); remove it",
            "keepalived.conf:9:5: accept does not comply with RFC 3768 (VRRPv2) in strict mode \
             and is cleared (as keepalived does); remove it or use version 3",
            "keepalived.conf:10:5: down_timer_adverts 5 does not comply with the RFC in strict \
             mode and is reset to 3 (as keepalived does); remove it",
            "keepalived.conf:11:5: strict mode needs `lower_prio_no_advert true`, so it is reset \
             (as keepalived does); remove the line",
            "keepalived.conf:12:5: strict mode needs `higher_prio_send_advert false`, so it is \
             reset (as keepalived does); remove the line",
            "keepalived.conf:13:5: strict mode sends no GARPs for lower priority adverts, so \
             garp_lower_prio_repeat is reset to 0 (as keepalived does); remove it",
            "keepalived.conf:14:5: strict mode sends no GARPs for lower priority adverts, so \
             garp_lower_prio_delay is reset to 0 (as keepalived does); remove it",
            "keepalived.conf:15:5: authentication is ignored in strict mode (RFC 3768 removed \
             it); remove the authentication block",
        ]
    );
    // Also without a state.
    assert_eq!(
        of(
            &instance("    strict_mode\n    preempt_delay 5"),
            Severity::Warning
        ),
        vec![
            "keepalived.conf:6:5: preempt_delay is not allowed in strict mode and is cleared (as \
             keepalived does); remove it"
        ]
    );
    assert_eq!(
        errors(&UNICAST.replace("    interface eth0", "    interface eth0\n    strict_mode")),
        vec![
            "keepalived.conf:6:5: unicast peers are not allowed in strict mode (vrrp_instance \
             VI_1); remove `strict_mode`/`vrrp_strict` or the unicast_peer block"
        ]
    );
    assert_eq!(
        errors(
            &with_global("    vrrp_strict", "",)
                .replace("    virtual_ipaddress { 10.0.0.1 }\n", "")
        ),
        vec![
            "keepalived.conf:4:1: vrrp_instance VI_1 has no virtual_ipaddress, which strict mode \
             requires; add e.g. `virtual_ipaddress { 192.168.1.100/24 }`"
        ]
    );
}

#[test]
fn garp_refresh_repeat_zero_becomes_one() {
    let loaded = ok(&instance("    garp_master_refresh_repeat 0"));
    assert_eq!(loaded.config.instances[0].garp.master_refresh_repeat, 1);
    assert_eq!(
        of(
            &instance("    garp_master_refresh_repeat 0"),
            Severity::Warning
        ),
        vec![
            "keepalived.conf:5:5: garp_master_refresh_repeat 0 is raised to 1 (as keepalived \
             does); write `garp_master_refresh_repeat 1`"
        ]
    );
}

#[test]
fn auth_type_ah_is_rejected() {
    assert_eq!(
        errors(&instance(
            "    authentication {\n        auth_type AH\n        auth_pass secret\n    }"
        )),
        vec![
            "keepalived.conf:6:9: auth_type AH (IPsec AH) is not supported; use `auth_type \
             PASS` on every node, or remove the authentication block (VRRPv3 has none)"
        ]
    );
}

#[test]
fn notes_warnings_and_errors_are_told_apart() {
    let text = instance("    use_vmac_addr\n    priorty 5\n    advert_int 1.5");
    let loaded = ok(&text);
    let kinds: Vec<(u32, Severity)> = loaded
        .warnings
        .iter()
        .map(|w| (w.location.line, w.severity))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (5, Severity::Note),
            (6, Severity::Warning),
            (7, Severity::Warning)
        ]
    );
    assert_eq!(
        warnings(&text)[0],
        "keepalived.conf:5:5: `use_vmac_addr` is accepted, not acted on: the addresses go on the \
         interface itself, not on a VMAC"
    );
}

#[test]
fn keywords_known_in_another_block_are_placed() {
    assert_eq!(
        warnings("vrrp_track_process p {\n    process p\n    file /x\n}\n")[0],
        "keepalived.conf:3:5: `file` belongs in a track_file NAME { } block, not in \
         vrrp_track_process; it is ignored here: move it (or check the braces around it)"
    );
    assert_eq!(
        warnings(&instance("    quorum 2"))[0],
        "keepalived.conf:5:5: `quorum` belongs in a vrrp_track_process NAME { } block, not in \
         vrrp_instance; it is ignored here: move it (or check the braces around it)"
    );
    assert_eq!(
        warnings(&format!(
            "{}vrrp_sync_group G {{\n    group {{ VI_1 }}\n    grop {{ }}\n}}\n",
            instance("")
        ))[1],
        "keepalived.conf:9:5: unknown keyword `grop` in vrrp_sync_group is ignored; did you mean \
         `group`?"
    );
}

#[test]
fn runs_scripts() {
    assert!(!ok(&instance("")).config.runs_scripts());
    assert!(
        ok(&instance("    notify_master /bin/x"))
            .config
            .runs_scripts()
    );
    assert!(
        ok(&instance("    notify_deleted /bin/x"))
            .config
            .runs_scripts()
    );
    assert!(!ok(&instance("    notify_deleted")).config.runs_scripts());
}

#[test]
fn the_model_serializes_to_json() {
    let loaded = ok(&format!("{TRACK_FILE}{TRACK_PROCESS}{UNICAST}"));
    let json = serde_json::to_value(&loaded.config).unwrap();
    assert_eq!(json["instances"][0]["family"], "IPv4");
    assert_eq!(json["instances"][0]["unicast"]["peers"][1]["min_ttl"], 250);
    assert_eq!(json["track_files"][0]["init_file"]["value"], 5);
    assert_eq!(json["track_processes"][0]["param_match"], "Exact");
    assert_eq!(json["global"]["mcast_group6"], "ff02::12");
}

#[test]
fn more_invalid_flag_and_address_values() {
    assert_eq!(
        errors(&with_global(
            "    vrrp_higher_prio_send_advert maybe\n    vrrp_skip_check_adv_addr yes",
            "    check_unicast_src on\n    unicast_fault_no_peer 1\n    higher_prio_send_advert \
             2\n    mcast_src_ip 10.0.0",
        )),
        vec![
            "keepalived.conf:2:5: `vrrp_higher_prio_send_advert maybe` is invalid; write \
             `vrrp_higher_prio_send_advert` (or `vrrp_higher_prio_send_advert true`) to enable \
             it, `vrrp_higher_prio_send_advert false` to disable it",
            "keepalived.conf:3:5: `vrrp_skip_check_adv_addr` takes no value; remove `yes`",
            "keepalived.conf:9:5: `check_unicast_src` takes no value; remove `on`",
            "keepalived.conf:10:5: `unicast_fault_no_peer` takes no value; remove `1`",
            "keepalived.conf:11:5: `higher_prio_send_advert 2` is invalid; write \
             `higher_prio_send_advert` (or `higher_prio_send_advert true`) to enable it, \
             `higher_prio_send_advert false` to disable it",
            "keepalived.conf:12:5: mcast_src_ip `10.0.0` is not an IP address; write e.g. \
             `mcast_src_ip 192.168.1.1`",
        ]
    );
}
