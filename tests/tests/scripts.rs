//! Health and notify scripts end to end: a hung check is killed at its timeout and counts as
//! failed; notify scripts get keepalived's arguments in transition order, and a failing or
//! hanging one never delays a takeover.
use std::time::{Duration, Instant};

use vrrp_tests::{Lab, is_root};

const VIP: &str = "10.0.0.100";
const MS: Duration = Duration::from_millis(1);
/// 300 ms + (256-90)/256 × 100 ms.
const BACKUP_DOWN: Duration = Duration::from_nanos(364_843_750);

fn instance(state: &str, priority: u8, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 0.1
    version 3
{extra}    virtual_ipaddress {{
        {VIP}
    }}
}}
"
    )
}

/// Processes in `ns` whose command line contains `needle`.
fn processes_matching(lab: &Lab, node: usize, needle: &str) -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "pids", lab.ns(node)])
        .output()
        .expect("ip netns pids");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(needle))
        .collect()
}

#[test]
fn a_hung_health_script_is_killed_at_its_timeout_and_counts_as_failed() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let flag = lab.dir().join("hang");
    // Passes until the flag exists, then hangs (its child too: the whole group must die).
    let script = format!(
        "vrrp_script chk {{\n    script \"/bin/sh -c 'if [ -e {} ]; then sleep 1000 & sleep 1000; fi'\"\n    interval 1\n    timeout 1\n    weight -20\n}}\n",
        flag.display()
    );
    let master = format!(
        "{script}{}",
        instance("MASTER", 100, "    track_script {\n        chk\n    }\n")
    );
    let _d1 = lab.spawn_daemon(1, &master, &[]).expect("node1");
    let _d2 = lab
        .spawn_daemon(2, &instance("BACKUP", 90, ""), &[])
        .expect("node2");
    lab.wait_for(Duration::from_secs(5), MS, || lab.vip_holders(VIP) == [1])
        .unwrap_or_else(|_| panic!("no master:\n{}", lab.log(1)));

    let hung = Instant::now();
    std::fs::write(&flag, "").unwrap();
    // Next run starts within 1 s, times out after 1 s: priority 80, node2 preempts.
    lab.wait_for(Duration::from_secs(6), MS, || lab.vip_holders(VIP) == [2])
        .unwrap_or_else(|_| panic!("the hung check did not fail the master:\n{}", lab.log(1)));
    let took = hung.elapsed();
    assert!(
        took <= Duration::from_secs(2) + BACKUP_DOWN + 500 * MS,
        "took {took:?}"
    );
    let log = lab.log(1);
    assert!(log.contains("timed out"), "{log}");
    // TERM goes to the whole process group: once the flag is gone no run hangs again, and
    // the sleeps of the runs that did hang (the backgrounded one included) are gone too.
    std::fs::remove_file(&flag).unwrap();
    lab.wait_for(Duration::from_secs(6), 50 * MS, || {
        processes_matching(&lab, 1, "sleep 1000").is_empty()
    })
    .unwrap_or_else(|_| {
        panic!(
            "hung script processes left: {:?}",
            processes_matching(&lab, 1, "sleep 1000")
        )
    });
    // Recovery: the script passes again and node1 takes the VIP back.
    lab.wait_for(Duration::from_secs(6), MS, || lab.vip_holders(VIP) == [1])
        .unwrap_or_else(|_| panic!("no recovery:\n{}", lab.log(1)));
}

#[test]
fn notify_scripts_run_in_order_with_keepalived_arguments_and_never_delay_takeover() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let record = lab.dir().join("notify.log");
    let notify = format!(
        "    notify_master \"/bin/sh -c 'sleep 3; exit 1'\"\n    notify_backup /bin/false\n    notify \"/bin/sh -c 'echo $* >> {}' notify\"\n",
        record.display()
    );
    let d1 = lab
        .spawn_daemon(1, &instance("MASTER", 100, ""), &[])
        .expect("node1");
    let _d2 = lab
        .spawn_daemon(2, &instance("BACKUP", 90, &notify), &[])
        .expect("node2");
    lab.wait_for(Duration::from_secs(5), MS, || lab.vip_holders(VIP) == [1])
        .expect("node1 master");
    std::thread::sleep(200 * MS);

    // Failover: notify_master hangs for 3 s and fails, the takeover must not wait for it.
    let killed = Instant::now();
    d1.kill9().unwrap();
    lab.set_link(1, false).unwrap();
    lab.wait_for(Duration::from_secs(3), MS, || {
        lab.vip_holders(VIP).contains(&2)
    })
    .expect("takeover");
    let took = killed.elapsed();
    assert!(took <= BACKUP_DOWN + 50 * MS, "took {took:?}");

    // Back: node1 preempts, node2 goes BACKUP. The generic notify for MASTER runs after the
    // slow notify_master (3 s), and BACKUP after it: order is kept.
    lab.set_link(1, true).unwrap();
    let _d1 = lab
        .spawn_daemon(1, &instance("MASTER", 100, ""), &[])
        .expect("node1 again");
    lab.wait_for(Duration::from_secs(5), MS, || lab.vip_holders(VIP) == [1])
        .expect("preempted");
    lab.wait_for(Duration::from_secs(8), 20 * MS, || {
        std::fs::read_to_string(&record).is_ok_and(|r| r.lines().count() >= 3)
    })
    .unwrap_or_else(|_| {
        panic!(
            "notify record: {:?}\n{}",
            std::fs::read_to_string(&record),
            lab.log(2)
        )
    });
    let lines: Vec<String> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            "INSTANCE VI_1 BACKUP 90",
            "INSTANCE VI_1 MASTER 90",
            "INSTANCE VI_1 BACKUP 90"
        ]
    );
    assert!(
        lab.log(2).contains("notify script failed"),
        "{}",
        lab.log(2)
    );
}
