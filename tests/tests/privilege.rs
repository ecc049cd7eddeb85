//! Least privilege end to end: after set-up the daemon holds only the capabilities it
//! still needs, and failover, reload and root notify scripts work with those; without a
//! capability set-up needs it refuses at once, naming it, and touches nothing.
use std::time::Duration;

use vrrp_tests::{Lab, is_root};

const VIP: &str = "10.0.0.100";
/// Added by node2's `notify_master` script: proof the script had CAP_NET_ADMIN.
const SCRIPT_ADDR: &str = "10.0.0.201";
/// The instance added by the reload, on a second interface of node2.
const VIP2: &str = "10.9.0.100";
const MS: Duration = Duration::from_millis(1);

// Capability numbers (linux/capability.h).
const CAP_KILL: u32 = 5;
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;
const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

fn mask(caps: &[u32]) -> u64 {
    caps.iter().fold(0, |m, c| m | 1 << c)
}

/// `Cap*` lines of a `/proc/.../status` text, by name (`CapEff` → mask).
fn cap_field(status: &str, field: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:\t")))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or_else(|| panic!("no {field} in:\n{status}"))
}

fn status_of(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"))
}

/// The direct children of `pid` (the crash guardian, scripts).
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .unwrap_or_default()
}

fn instance(
    name: &str,
    iface: &str,
    vrid: u8,
    state: &str,
    prio: u8,
    vip: &str,
    extra: &str,
) -> String {
    format!(
        "vrrp_instance {name} {{
    state {state}
    interface {iface}
    virtual_router_id {vrid}
    priority {prio}
    advert_int 0.1
    version 3
{extra}    virtual_ipaddress {{
        {vip}
    }}
}}
"
    )
}

#[test]
fn after_setup_only_the_runtime_capabilities_are_left_and_failover_reload_and_root_scripts_work() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let record = lab.dir().join("notify-caps");
    // Runs as root (script_user root): it records its own capabilities and adds an
    // address, which needs CAP_NET_ADMIN in the script, whatever the daemon kept.
    let notify = format!(
        "    notify_master \"/bin/sh -c 'grep ^Cap /proc/self/status > {}; ip addr add {SCRIPT_ADDR}/32 dev eth0'\"\n",
        record.display()
    );
    let global = "global_defs {\n    script_user root\n}\n";
    let node2 = format!(
        "{global}{}",
        instance("VI_1", "eth0", 51, "BACKUP", 90, VIP, &notify)
    );
    let d1 = lab
        .spawn_daemon(
            1,
            &instance("VI_1", "eth0", 51, "MASTER", 100, VIP, ""),
            &[],
        )
        .expect("node1");
    let d2 = lab.spawn_daemon(2, &node2, &[]).expect("node2");
    lab.wait_for(Duration::from_secs(5), MS, || lab.vip_holders(VIP) == [1])
        .unwrap_or_else(|_| panic!("no master:\n{}\n{}", lab.log(1), lab.log(2)));
    for (node, d) in [(1, &d1), (2, &d2)] {
        lab.wait_for(Duration::from_secs(5), 10 * MS, || {
            d.log().contains("capabilities lowered")
        })
        .unwrap_or_else(|_| panic!("node{node} never lowered its capabilities:\n{}", d.log()));
    }

    // The daemon: exactly the run-time set, on every thread; the bounding set untouched.
    let ours = status_of(std::process::id());
    let kept = mask(&[
        CAP_KILL,
        CAP_SETGID,
        CAP_SETUID,
        CAP_NET_ADMIN,
        CAP_NET_RAW,
        CAP_BPF,
    ]);
    for d in [&d1, &d2] {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", d.pid())).expect("tasks");
        for task in tasks {
            let path = task.expect("task").path().join("status");
            let status = std::fs::read_to_string(&path).expect("task status");
            assert_eq!(
                cap_field(&status, "CapEff"),
                kept,
                "{}:\n{status}",
                path.display()
            );
            assert_eq!(
                cap_field(&status, "CapPrm"),
                kept,
                "{}:\n{status}",
                path.display()
            );
            assert_eq!(cap_field(&status, "CapInh"), 0, "{status}");
            assert_eq!(cap_field(&status, "CapAmb"), 0, "{status}");
            assert_eq!(
                cap_field(&status, "CapBnd"),
                cap_field(&ours, "CapBnd"),
                "the bounding set must stay as it was: {status}"
            );
        }
        // The crash guardian: raw packets and `ip addr del` only.
        let guardian = children(d.pid())
            .into_iter()
            .find(|&p| cmdline(p).ends_with("guardian "))
            .unwrap_or_else(|| panic!("no guardian under daemon {}", d.pid()));
        let status = status_of(guardian);
        assert_eq!(
            cap_field(&status, "CapEff"),
            mask(&[CAP_NET_ADMIN, CAP_NET_RAW]),
            "guardian: {status}"
        );
    }
    let log = d2.log();
    assert!(
        log.contains("kept=CAP_KILL,CAP_SETGID,CAP_SETUID,CAP_NET_ADMIN,CAP_NET_RAW,CAP_BPF"),
        "the kept set is logged once:\n{log}"
    );

    // SIGHUP with only those: a new instance on a new interface needs an XDP attachment,
    // new raw sockets, a map update, a VMAC interface with its sysctls and a new address.
    lab.sh_ok(
        2,
        "ip link add ex0 type veth peer name ex1 && ip addr add 10.9.0.2/24 dev ex0 \
         && ip link set ex0 up && ip link set ex1 up",
    )
    .expect("second interface");
    let reloaded = format!(
        "{node2}{}",
        instance(
            "VI_2",
            "ex0",
            52,
            "MASTER",
            100,
            &format!("{VIP2}/24"),
            "    use_vmac\n"
        )
    );
    std::fs::write(d2.config_path(), reloaded).expect("rewrite config");
    d2.signal(libc::SIGHUP).expect("SIGHUP");
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        lab.sh_ok(2, "ip -o addr show dev vrrp.52")
            .is_ok_and(|a| a.contains(&format!("{VIP2}/24")))
    })
    .unwrap_or_else(|_| panic!("the reloaded instance did not take its VIP:\n{}", d2.log()));
    let link = lab.sh_ok(2, "ip -d link show dev ex0").expect("ip link");
    assert!(
        link.contains("xdp"),
        "XDP not attached to ex0 on reload:\n{link}"
    );
    assert!(d2.log().contains("configuration reloaded"), "{}", d2.log());
    assert!(!d2.log().contains("sysctl not set"), "{}", d2.log());
    assert!(lab.vip_holders(VIP) == [1], "the reload must not move VI_1");

    // Failover with only those: node1 dies, node2 takes over and runs its root script.
    d1.kill9().expect("kill node1");
    lab.set_link(1, false).expect("cut node1");
    lab.wait_for(Duration::from_secs(5), MS, || lab.vip_holders(VIP) == [2])
        .unwrap_or_else(|_| panic!("no takeover:\n{}", d2.log()));
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        lab.sh_ok(2, "ip -o addr show dev eth0")
            .is_ok_and(|a| a.contains(&format!("{SCRIPT_ADDR}/32")))
    })
    .unwrap_or_else(|_| {
        panic!(
            "the root notify_master script could not add an address:\n{:?}\n{}",
            std::fs::read_to_string(&record),
            d2.log()
        )
    });
    let script = std::fs::read_to_string(&record).expect("the script's capabilities");
    let script_eff = cap_field(&script, "CapEff");
    assert_eq!(
        script_eff,
        cap_field(&script, "CapBnd"),
        "a root script gets the bounding set back on execve:\n{script}"
    );
    assert_ne!(
        script_eff & mask(&[CAP_SYS_ADMIN, CAP_PERFMON]),
        0,
        "the script has what the daemon dropped:\n{script}"
    );

    // Every transition line names the instance, both states, the reason, the priority and
    // the master (this host after a takeover).
    let log = d2.log();
    let line = log
        .lines()
        .find(|l| l.contains("VRRP transition BACKUP -> MASTER") && l.contains("instance=VI_1"))
        .unwrap_or_else(|| panic!("no takeover line:\n{log}"));
    for field in [
        "from=BACKUP",
        "to=MASTER",
        "reason=",
        "priority=90",
        &format!("master={} (this host)", lab.addr(2)),
    ] {
        assert!(line.contains(field), "{field} missing from: {line}");
    }
}

#[test]
fn without_a_capability_setup_needs_the_daemon_refuses_at_once_and_touches_nothing() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    let bin = lab.daemon_bin().expect("daemon binary");
    let conf = lab.dir().join("node1.conf");
    std::fs::write(&conf, instance("VI_1", "eth0", 51, "MASTER", 100, VIP, "")).expect("config");
    // A stale VIP of this configuration: a daemon that got as far as set-up removes it.
    lab.exec_ok(
        1,
        &["ip", "addr", "add", &format!("{VIP}/32"), "dev", "eth0"],
    )
    .expect("stale VIP");
    let socket = lab.control_socket(1);
    for (drop, named, not_named) in [
        ("-net_raw", "CAP_NET_RAW for raw sockets", "CAP_PERFMON"),
        (
            "-perfmon,-sys_admin",
            "CAP_PERFMON (or CAP_SYS_ADMIN) for loading the XDP program",
            "CAP_NET_RAW",
        ),
    ] {
        // setpriv (util-linux) lowers the bounding set; root's execve then leaves the
        // capability out of the daemon's permitted and effective sets.
        let out = lab
            .exec_timeout(
                1,
                &[
                    "setpriv",
                    "--bounding-set",
                    drop,
                    "--",
                    bin.to_str().expect("utf-8 path"),
                    "run",
                    "-f",
                    conf.to_str().expect("utf-8 path"),
                    "--control-socket",
                    socket.to_str().expect("utf-8 path"),
                ],
                Duration::from_secs(10),
            )
            .expect("run the daemon");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{drop}: {stderr}");
        assert!(stderr.contains(named), "{drop}: {stderr}");
        assert!(
            !stderr.contains(not_named),
            "{drop}: only what is missing: {stderr}"
        );
        assert!(stderr.contains("Run it as root"), "{stderr}");
        assert!(stderr.contains("CapabilityBoundingSet="), "{stderr}");
        assert_eq!(
            stderr
                .lines()
                .filter(|l| l.contains("cannot start"))
                .count(),
            1,
            "one message: {stderr}"
        );
        // Nothing touched: no XDP program, the stale address still there, no socket.
        let link = lab
            .exec_ok(1, &["ip", "-d", "link", "show", "dev", "eth0"])
            .expect("ip link");
        assert!(!link.contains("xdp"), "{drop}: XDP attached:\n{link}");
        let addrs = lab
            .exec_ok(1, &["ip", "-o", "addr", "show", "dev", "eth0"])
            .expect("ip addr");
        assert!(
            addrs.contains(&format!("{VIP}/32")),
            "{drop}: address removed:\n{addrs}"
        );
        assert!(!socket.exists(), "{drop}: control socket created");
        assert!(
            !stderr.contains("kernel has BPF"),
            "{drop}: went past the check: {stderr}"
        );
    }
}

/// Live processes in `node`'s namespace whose command line contains `needle`, with their
/// real uid.
fn processes_matching(lab: &Lab, node: usize, needle: &str) -> Vec<(u32, u32)> {
    let out = std::process::Command::new("ip")
        .args(["netns", "pids", lab.ns(node)])
        .output()
        .expect("ip netns pids");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .filter(|&p| cmdline(p).contains(needle))
        .filter_map(|p| {
            let status = std::fs::read_to_string(format!("/proc/{p}/status")).ok()?;
            let uid = status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:\t"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some((p, uid))
        })
        .collect()
}

#[test]
fn after_the_drop_scripts_still_run_as_another_user_and_die_at_their_timeout() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    let flag = lab.dir().join("hang");
    // As nobody (CAP_SETUID, CAP_SETGID); hangs while the flag exists, and its process
    // group is then ended at the timeout (CAP_KILL: another user's processes).
    let config = format!(
        "vrrp_script chk {{\n    script \"/bin/sh -c 'if [ -e {} ]; then sleep 1000 & sleep 1000; fi'\"\n    user nobody\n    interval 1\n    timeout 1\n    weight -20\n}}\n{}",
        flag.display(),
        instance(
            "VI_1",
            "eth0",
            51,
            "MASTER",
            100,
            VIP,
            "    track_script {\n        chk\n    }\n"
        )
    );
    // `-D` (keepalived's --log-detail): debug lines too.
    let d = lab.spawn_daemon(1, &config, &["-D"]).expect("node1");
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        d.log().contains("capabilities lowered")
    })
    .unwrap_or_else(|_| panic!("capabilities never lowered:\n{}", d.log()));
    std::fs::write(&flag, "").expect("flag");
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        !processes_matching(&lab, 1, "sleep 1000").is_empty()
    })
    .unwrap_or_else(|_| panic!("the script never ran:\n{}", d.log()));
    let nobody = 65534;
    for (pid, uid) in processes_matching(&lab, 1, "sleep 1000") {
        assert_eq!(uid, nobody, "pid {pid} runs as {uid}, not nobody");
    }
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        d.log().contains("timed out")
    })
    .unwrap_or_else(|_| panic!("no timeout:\n{}", d.log()));
    // Once the flag is gone no run hangs again, and every hung run's group must be gone.
    std::fs::remove_file(&flag).expect("remove flag");
    lab.wait_for(Duration::from_secs(6), 50 * MS, || {
        processes_matching(&lab, 1, "sleep 1000").is_empty()
    })
    .unwrap_or_else(|_| {
        panic!(
            "script processes of nobody survived their timeout: {:?}\n{}",
            processes_matching(&lab, 1, "sleep 1000"),
            d.log()
        )
    });
    assert!(d.is_running(), "{}", d.log());
    assert!(
        d.log().contains(" DEBUG "),
        "-D logs at debug:\n{}",
        d.log()
    );
}
