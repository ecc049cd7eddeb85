//! keepalived's process keywords on a running daemon: `vrrp_priority`, `vrrp_rt_priority`,
//! `vrrp_no_swap` and `vrrp_cpu_affinity` shape the daemon (its event loop realtime, its
//! memory locked, its CPUs), while the scripts it runs stay ordinary processes; SIGXCPU
//! (the realtime CPU limit) puts the loop back to ordinary scheduling; `max_auto_priority`
//! makes a loop that woke late realtime, one priority higher at each delay. Needs root
//! (`cargo xtask test`).
use std::time::Duration;

use vrrp_tests::{Lab, is_root};

const MS: Duration = Duration::from_millis(1);

/// Fields of a `/proc/.../stat` line, numbered as in proc(5) (1 = pid, 2 = comm).
fn stat_field(stat: &str, n: usize) -> i64 {
    // comm may hold spaces: count from the `)` that ends it (field 3 follows).
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    after
        .split_whitespace()
        .nth(n - 3)
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| panic!("field {n} of {stat}"))
}

/// (policy, rt_priority, nice) of a `/proc/.../stat` line.
fn scheduling(stat: &str) -> (i64, i64, i64) {
    (
        stat_field(stat, 41),
        stat_field(stat, 40),
        stat_field(stat, 19),
    )
}

fn status_field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("{name} in {status}"))
        .trim()
        .to_owned()
}

const SCHED_OTHER: i64 = 0;
const SCHED_RR: i64 = 2;

#[test]
fn process_keywords_shape_the_daemon_and_not_its_scripts() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    let out = lab.dir().join("notify.out");
    let script = lab.dir().join("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat /proc/self/stat > {o}.tmp\ngrep Cpus_allowed_list /proc/self/status \
             >> {o}.tmp\nmv {o}.tmp {o}\n",
            o = out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = format!(
        "global_defs {{\n    vrrp_version 3\n    vrrp_priority -5\n    vrrp_rt_priority 20\n    \
         vrrp_no_swap\n    vrrp_cpu_affinity 0\n}}\nvrrp_instance VI_1 {{\n    state MASTER\n    \
         interface eth0\n    virtual_router_id 51\n    priority 100\n    advert_int 0.1\n    \
         notify_master {}\n    virtual_ipaddress {{\n        10.0.0.100\n    }}\n}}\n",
        script.display()
    );
    let d = lab.spawn_daemon(1, &config, &[]).expect("daemon");
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        d.log().contains("process scheduling set") && out.exists()
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));

    let proc_dir = format!("/proc/{}", d.pid());
    let main = std::fs::read_to_string(format!("{proc_dir}/task/{}/stat", d.pid())).unwrap();
    assert_eq!(scheduling(&main), (SCHED_RR, 20, -5), "event loop: {main}");
    let status = std::fs::read_to_string(format!("{proc_dir}/status")).unwrap();
    assert_eq!(status_field(&status, "Cpus_allowed_list"), "0");
    let locked: u64 = status_field(&status, "VmLck")
        .trim_end_matches(" kB")
        .parse()
        .unwrap();
    assert!(locked > 1024, "VmLck {locked} kB:\n{status}");
    // Any other thread: the CPU set and the nice value, not realtime.
    for task in std::fs::read_dir(format!("{proc_dir}/task")).unwrap() {
        let task = task.unwrap().file_name();
        if task.to_str() == Some(&d.pid().to_string()) {
            continue;
        }
        let stat = std::fs::read_to_string(format!("{proc_dir}/task/{}/stat", task.display()))
            .unwrap_or_default();
        if !stat.is_empty() {
            assert_ne!(stat_field(&stat, 41), SCHED_RR, "thread {task:?}: {stat}");
        }
    }

    // The notify script: ordinary scheduling, default nice, the daemon's CPU set.
    let seen = std::fs::read_to_string(&out).unwrap();
    let (stat, cpus) = seen.split_once('\n').expect("two lines");
    assert_eq!(scheduling(stat), (SCHED_OTHER, 0, 0), "script: {stat}");
    assert_eq!(cpus.trim(), "Cpus_allowed_list:\t0".trim());

    // The realtime CPU limit's signal: back to ordinary scheduling, still running.
    d.signal(libc::SIGXCPU).unwrap();
    lab.wait_for(Duration::from_secs(5), 10 * MS, || {
        std::fs::read_to_string(format!("{proc_dir}/task/{}/stat", d.pid()))
            .is_ok_and(|s| scheduling(&s).0 == SCHED_OTHER)
            && d.log().contains("ordinary scheduling from now on")
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    assert!(d.is_running());
    lab.wait_for(Duration::from_secs(2), 10 * MS, || {
        lab.vip_holders("10.0.0.100") == [1]
    })
    .expect("still master");
}

#[test]
fn a_loop_that_wakes_late_raises_its_realtime_priority_up_to_the_ceiling() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(1).client(false).build().expect("lab");
    let config = "global_defs {\n    vrrp_version 3\n    max_auto_priority 2\n    \
                  min_auto_priority_delay 200000\n}\nvrrp_instance VI_1 {\n    state MASTER\n    \
                  interface eth0\n    virtual_router_id 51\n    priority 100\n    \
                  advert_int 0.1\n    virtual_ipaddress {\n        10.0.0.100\n    }\n}\n";
    let d = lab.spawn_daemon(1, config, &[]).expect("daemon");
    lab.wait_for(Duration::from_secs(10), 10 * MS, || {
        lab.vip_holders("10.0.0.100") == [1]
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", d.log()));
    let main_stat =
        || std::fs::read_to_string(format!("/proc/{0}/task/{0}/stat", d.pid())).unwrap_or_default();
    // On time: ordinary scheduling.
    std::thread::sleep(300 * MS);
    assert_eq!(scheduling(&main_stat()).0, SCHED_OTHER, "{}", d.log());
    // Stopped past its next advert by more than 0.2 s, three times: realtime 1, then 2,
    // then still 2 (the ceiling).
    for expected in [1, 2, 2] {
        d.stop().unwrap();
        std::thread::sleep(400 * MS);
        d.cont().unwrap();
        lab.wait_for(Duration::from_secs(3), 10 * MS, || {
            let (policy, rt, _) = scheduling(&main_stat());
            policy == SCHED_RR && rt == expected
        })
        .unwrap_or_else(|e| panic!("{e:#}: {}\n{}", main_stat(), d.log()));
        std::thread::sleep(200 * MS);
    }
    assert_eq!(
        d.log().matches("realtime priority raised").count(),
        2,
        "{}",
        d.log()
    );
    assert!(d.is_running());
}
