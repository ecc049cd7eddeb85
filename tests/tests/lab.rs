//! Tests of the namespace lab itself (not of the daemon). They need root; as a normal
//! user each test prints "skipped: needs root" and passes.

use std::net::{Ipv4Addr, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use vrrp_tests::{Host, Lab};

macro_rules! require_root {
    () => {
        if !vrrp_tests::is_root() {
            eprintln!("skipped: needs root");
            return Ok(());
        }
    };
}

/// Namespaces whose name starts with `<id>-`, as `ip netns list` shows them.
fn namespaces_of(id: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let prefix = format!("{id}-");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

/// A stand-in daemon script, deleted when dropped.
struct FakeDaemon(PathBuf);

impl FakeDaemon {
    fn new(tag: &str) -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let path =
            std::env::temp_dir().join(format!("vrrp-tests-fake-{}-{tag}.sh", std::process::id()));
        // Logs what it was given and what it sees, exits 3 on SIGTERM, and gives up by
        // itself after ~100 s so it can never outlive a broken test for long.
        let script = r#"#!/bin/sh
echo "fake-daemon args: $*"
echo "config: $(cat "$3")"
echo "sysfs: $(ls /sys/class/net | tr '\n' ' ')"
trap 'echo got TERM; exit 3' TERM
i=0
while [ $i -lt 2000 ]; do sleep 0.05; i=$((i+1)); done
"#;
        std::fs::write(&path, script)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        Ok(Self(path))
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

#[test]
fn lab_end_to_end() -> Result<()> {
    require_root!();
    let lab = Lab::builder().nodes(2).client(true).build()?;
    let id = lab.id().to_owned();
    assert_eq!(namespaces_of(&id).len(), 4, "switch + 2 nodes + client");
    assert_eq!(lab.addr(1), Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(lab.addr(Host::Client), Ipv4Addr::new(10, 0, 0, 200));

    assert!(
        lab.ping(Host::Client, "10.0.0.1"),
        "client cannot ping node1"
    );
    assert!(lab.ping(2, "10.0.0.1"), "node2 cannot ping node1");
    assert!(!lab.ping(Host::Client, "10.0.0.99"), "nobody has .99");

    let vip = "10.0.0.100";
    assert!(lab.vip_holders(vip).is_empty());
    lab.exec_ok(2, &["ip", "addr", "add", "10.0.0.100/32", "dev", "eth0"])?;
    assert_eq!(lab.vip_holders(vip), [2]);

    let probe = lab.start_probe_for(vip, 7000, Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_millis(300));
    // Move the VIP the way a failover does (minus the gratuitous ARP, which we replace
    // by flushing the client's ARP entry).
    let moved = std::time::Instant::now();
    lab.exec_ok(2, &["ip", "addr", "del", "10.0.0.100/32", "dev", "eth0"])?;
    lab.exec_ok(1, &["ip", "addr", "add", "10.0.0.100/32", "dev", "eth0"])?;
    lab.exec_ok(Host::Client, &["ip", "neigh", "flush", "to", vip])?;
    assert_eq!(lab.vip_holders(vip), [1]);
    std::thread::sleep(Duration::from_millis(300));
    let report = probe.stop()?;
    println!("{report}");

    let moved = report.since_start(moved);
    ensure!(
        report.sent >= 400,
        "only {} probes sent in ~600 ms",
        report.sent
    );
    ensure!(
        report.received * 10 >= report.sent * 8,
        "too many losses: {report}"
    );
    ensure!(report.owner_at(moved / 2) == Some(2), "{report}");
    ensure!(report.owner_at(report.duration) == Some(1), "{report}");
    ensure!(report.nodes_seen() == [2, 1], "{report}");
    let change = report.changes[1];
    ensure!(
        change.from == Some(2) && change.to == 1 && change.at >= moved,
        "{report}"
    );
    // The move itself costs a few ms (ARP re-resolution); anything long means the lab is
    // slow or lossy, which would make failover timings meaningless.
    ensure!(report.longest_gap < Duration::from_millis(100), "{report}");

    drop(lab);
    assert_eq!(namespaces_of(&id), Vec::<String>::new());
    Ok(())
}

#[test]
fn multicast_crosses_the_bridge() -> Result<()> {
    require_root!();
    let lab = Lab::builder().nodes(2).client(false).build()?;
    let group = Ipv4Addr::new(224, 0, 0, 18);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let me = lab.addr(2);
    let rx = lab.spawn_in(2, move || {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 5118))?;
        s.join_multicast_v4(&group, &me)?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        ready_tx.send(())?;
        let mut buf = [0u8; 64];
        let (n, from) = s.recv_from(&mut buf)?;
        Ok((buf[..n].to_vec(), from))
    })?;
    ready_rx.recv_timeout(Duration::from_secs(5))?;
    let src = lab.addr(1);
    lab.spawn_in(1, move || {
        // Bound to its address, the kernel sends the multicast out of that address's
        // interface even though the namespace has no multicast route.
        let s = UdpSocket::bind((src, 0))?;
        s.send_to(b"advert", (group, 5118))?;
        Ok(())
    })?
    .join()
    .expect("sender panicked")?;
    let (payload, from) = rx
        .join()
        .expect("receiver panicked")
        .context("no multicast received")?;
    assert_eq!(payload, b"advert");
    assert_eq!(from.ip(), src);
    Ok(())
}

#[test]
fn daemon_handle_lifecycle() -> Result<()> {
    require_root!();
    let fake = FakeDaemon::new("lifecycle")?;
    let lab = Lab::builder()
        .nodes(2)
        .client(false)
        .daemon_bin(&fake.0)
        .build()?;
    let d = lab.spawn_daemon(2, "vrrp_instance VI_1 {}\n", &["--extra"])?;

    // The pid is the daemon itself, already inside node2's namespace.
    let ns_ino = std::fs::metadata(format!("/var/run/netns/{}", lab.ns(2)))?.ino();
    lab.wait_for(Duration::from_secs(5), Duration::from_millis(5), || {
        d.log().contains("sysfs:")
    })?;
    assert_eq!(
        std::fs::metadata(format!("/proc/{}/ns/net", d.pid()))?.ino(),
        ns_ino
    );
    let log = d.log();
    assert!(log.contains("args: run -f "), "{log}");
    assert!(log.contains("--extra"), "{log}");
    assert!(log.contains("config: vrrp_instance VI_1 {}"), "{log}");
    // /sys is the namespace's: only lo and eth0.
    assert!(log.contains("sysfs: eth0 lo \n"), "{log}");
    assert_eq!(d.log_path(), lab.log_path(2));

    d.stop()?;
    lab.wait_for(Duration::from_secs(2), Duration::from_millis(5), || {
        proc_state(d.pid()) == Some('T')
    })?;
    d.cont()?;
    lab.wait_for(Duration::from_secs(2), Duration::from_millis(5), || {
        proc_state(d.pid()) != Some('T')
    })?;
    assert!(d.is_running());
    assert!(d.wait_exit(Duration::from_millis(50)).is_none());

    let status = d.term(Duration::from_secs(5))?;
    assert_eq!(status.code(), Some(3), "trap exit code");
    assert!(d.log().contains("got TERM"));
    assert!(
        d.signal(libc::SIGTERM).is_err(),
        "signalling an exited daemon must fail"
    );

    // A second run on the same node appends to the same file; its handle sees only its part.
    let d2 = lab.spawn_daemon(2, "second\n", &[])?;
    let status = d2.kill9()?;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(!d2.log().contains("got TERM"));
    assert!(lab.log(2).contains("got TERM"));

    // Left running on purpose: the lab must stop it (and its `sleep` child) on drop.
    let d3 = lab.spawn_daemon(1, "third\n", &[])?;
    let id = lab.id().to_owned();
    drop(lab);
    assert!(!d3.is_running());
    assert_eq!(namespaces_of(&id), Vec::<String>::new());
    Ok(())
}

/// keepalived runs in the node's namespace with everything in the lab dir, and its
/// handle reaches both its processes: stop/cont, kill -9, and the lab's teardown.
#[test]
fn keepalived_handle_lifecycle() -> Result<()> {
    require_root!();
    if vrrp_tests::keepalived_bin().is_err() {
        eprintln!("skipped: keepalived is not installed (`cargo xtask test` installs it)");
        return Ok(());
    }
    let lab = Lab::builder().nodes(1).client(false).build()?;
    let vip = "10.0.0.100";
    let config = "global_defs {\n    vrrp_version 3\n}\nvrrp_instance VI_1 {\n    state MASTER\n    \
                  interface eth0\n    virtual_router_id 51\n    priority 100\n    advert_int 0.1\n    \
                  virtual_ipaddress {\n        10.0.0.100\n    }\n}\n";
    let k = lab.spawn_keepalived(1, config, &[])?;
    assert_eq!(k.kind(), vrrp_tests::DaemonKind::Keepalived);
    // The parent forks its VRRP child; both are in the group the handle leads.
    lab.wait_for(Duration::from_secs(5), Duration::from_millis(5), || {
        k.pids().len() == 2
    })
    .with_context(|| format!("pids {:?}\n{}", k.pids(), k.log()))?;
    let ns_ino = std::fs::metadata(format!("/var/run/netns/{}", lab.ns(1)))?.ino();
    for pid in k.pids() {
        assert_eq!(
            std::fs::metadata(format!("/proc/{pid}/ns/net"))?.ino(),
            ns_ino,
            "keepalived pid {pid} outside node1's namespace"
        );
    }
    lab.wait_for(Duration::from_secs(5), Duration::from_millis(10), || {
        lab.vip_holders(vip) == [1]
    })
    .with_context(|| k.log())?;
    // Pid files in the lab dir, never the system's.
    let pid_file = std::fs::read_dir(lab.dir())?
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with("-keepalived.pid"))
        .context("no keepalived pid file in the lab dir")?;
    assert_eq!(
        std::fs::read_to_string(pid_file.path())?.trim(),
        k.pid().to_string()
    );

    let stats = k.keepalived_stats()?;
    assert!(
        vrrp_tests::keepalived_stat(&stats, "VI_1", "Advertisements", "Sent").unwrap_or(0) > 0,
        "{stats}"
    );

    k.stop()?;
    lab.wait_for(Duration::from_secs(2), Duration::from_millis(5), || {
        k.pids().iter().all(|&p| proc_state(p) == Some('T'))
    })?;
    k.cont()?;
    lab.wait_for(Duration::from_secs(2), Duration::from_millis(5), || {
        k.pids().iter().all(|&p| proc_state(p) != Some('T'))
    })?;

    // kill -9 takes the child too; like a crash, the VIP stays behind.
    let pids = k.pids();
    let status = k.kill9()?;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(k.pids().is_empty());
    for pid in pids {
        assert!(
            proc_state(pid).is_none_or(|s| s == 'Z'),
            "keepalived pid {pid} survived kill -9"
        );
    }
    assert_eq!(lab.vip_holders(vip), [1]);

    // A graceful stop releases the VIP and exits 0.
    let k = lab.spawn_keepalived(1, config, &[])?;
    lab.wait_for(Duration::from_secs(5), Duration::from_millis(5), || {
        k.pids().len() == 2 && k.log().contains("Entering MASTER STATE")
    })
    .with_context(|| k.log())?;
    let status = k.term(Duration::from_secs(5))?;
    assert!(status.success(), "{status:?}\n{}", k.log());
    assert!(k.pids().is_empty());
    assert!(lab.vip_holders(vip).is_empty(), "{}", k.log());

    // Left running: the lab's teardown stops parent and child.
    let k = lab.spawn_keepalived(1, config, &[])?;
    lab.wait_for(Duration::from_secs(5), Duration::from_millis(5), || {
        k.pids().len() == 2
    })?;
    let pids = k.pids();
    let id = lab.id().to_owned();
    drop(lab);
    for pid in pids {
        assert!(
            proc_state(pid).is_none_or(|s| s == 'Z'),
            "keepalived pid {pid} survived the lab"
        );
    }
    assert_eq!(namespaces_of(&id), Vec::<String>::new());
    Ok(())
}

#[test]
fn missing_daemon_binary_is_a_clear_error() -> Result<()> {
    require_root!();
    let lab = Lab::builder()
        .nodes(1)
        .client(false)
        .daemon_bin("/nonexistent/vrrp-daemon")
        .build()?;
    let err = lab
        .spawn_daemon(1, "", &[])
        .err()
        .context("spawn should fail")?;
    let msg = format!("{err:#}");
    assert!(
        msg.contains("/nonexistent/vrrp-daemon") && msg.contains("not found"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn panicking_test_still_cleans_up() -> Result<()> {
    require_root!();
    let fake = FakeDaemon::new("panic")?;
    let mut id = String::new();
    let mut pid = 0;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let lab = Lab::builder()
            .nodes(2)
            .client(true)
            .daemon_bin(&fake.0)
            .build()
            .unwrap();
        id = lab.id().to_owned();
        pid = lab.spawn_daemon(1, "x\n", &[]).unwrap().pid();
        panic!("test body failed");
    }));
    assert!(result.is_err());
    assert!(!id.is_empty());
    assert_eq!(namespaces_of(&id), Vec::<String>::new());
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "daemon {pid} survived"
    );
    Ok(())
}

#[test]
fn parallel_labs_are_isolated() -> Result<()> {
    require_root!();
    let a = Lab::builder().nodes(1).build()?;
    let b = Lab::builder().nodes(1).build()?;
    assert_ne!(a.id(), b.id());
    // Same addresses in both, no conflict: each is its own L2 segment.
    b.exec_ok(1, &["ip", "link", "set", "eth0", "down"])?;
    assert!(a.ping(Host::Client, "10.0.0.1"));
    assert!(!b.ping(Host::Client, "10.0.0.1"));
    b.set_link(Host::Client, false)?;
    a.set_link(1, false)?;
    assert!(!a.ping(Host::Client, "10.0.0.1"));
    a.set_link(1, true)?;
    assert!(a.ping(Host::Client, "10.0.0.1"));
    Ok(())
}

#[test]
fn stale_labs_of_dead_processes_are_swept() -> Result<()> {
    require_root!();
    // A pid that no longer exists: a child we already reaped. (Were it reused, the start
    // tag "0" still would not match the new process, so the lab is stale either way.)
    let mut child = Command::new("true").spawn()?;
    child.wait()?;
    let dead = child.id();
    let stale = format!("vrrpt-{dead}-0-0-node1");
    // Something still running inside, as a crashed test leaves behind. The name is
    // attached only once the squatter is inside, so a concurrent sweep (another test
    // building a lab) always sees the complete stale lab and does what ours would.
    let mut squatter = Command::new("unshare")
        .args(["--net", "sleep", "30"])
        .spawn()?;
    let own_ns = std::fs::metadata("/proc/self/ns/net")?.ino();
    let unshared = vrrp_tests::wait_for(Duration::from_secs(5), Duration::from_millis(5), || {
        std::fs::metadata(format!("/proc/{}/ns/net", squatter.id()))
            .is_ok_and(|m| m.ino() != own_ns)
    });
    let attached = unshared.and_then(|_| {
        let pid = squatter.id().to_string();
        let ok = Command::new("ip")
            .args(["netns", "attach", &stale, &pid])
            .status()?;
        ensure!(ok.success(), "ip netns attach {stale} {pid}");
        Ok(())
    });
    if let Err(e) = attached {
        let _ = squatter.kill();
        let _ = squatter.wait();
        return Err(e.context("setting up the stale lab"));
    }
    let stale_dir = std::env::temp_dir().join(format!("vrrpt-{dead}-0-0"));
    std::fs::create_dir_all(&stale_dir)?;

    let _lab = Lab::builder().nodes(1).client(false).build()?;

    let status = squatter.wait()?;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(!std::path::Path::new("/var/run/netns").join(&stale).exists());
    assert!(!stale_dir.exists());
    Ok(())
}

#[test]
fn vip_watch_sees_every_change_with_its_time() -> Result<()> {
    require_root!();
    let lab = Lab::builder().nodes(2).client(false).build()?;
    lab.exec_ok(1, &["ip", "addr", "add", "10.0.0.77/32", "dev", "eth0"])?;
    let watch = lab.watch_vip("10.0.0.77")?;
    ensure!(
        watch.holders() == [1],
        "initial holders {:?}",
        watch.holders()
    );
    let added = std::time::Instant::now();
    lab.exec_ok(2, &["ip", "addr", "add", "10.0.0.77/32", "dev", "eth0"])?;
    let seen = watch.wait(Duration::from_secs(2), |h| h == [1, 2])?;
    ensure!(seen >= added, "event time before the change");
    // A blink shorter than any poll: add and remove in one shell.
    lab.sh_ok(
        1,
        "ip addr del 10.0.0.77/32 dev eth0 && ip addr add 10.0.0.77/32 dev eth0",
    )?;
    lab.exec_ok(2, &["ip", "addr", "del", "10.0.0.77/32", "dev", "eth0"])?;
    watch.wait(Duration::from_secs(2), |h| h == [1])?;
    let tl = watch.stop()?;
    ensure!(tl.initial == [true, false], "{tl}");
    let changes: Vec<(usize, bool)> = tl.events.iter().map(|e| (e.node, e.held)).collect();
    ensure!(
        changes == [(2, true), (1, false), (1, true), (2, false)],
        "{tl}"
    );
    ensure!(
        !tl.multi_holder_windows(Duration::ZERO, tl.end).is_empty(),
        "{tl}"
    );
    Ok(())
}

#[test]
fn impaired_link_passes_drops_and_restores() -> Result<()> {
    require_root!();
    let lab = Lab::builder().nodes(1).client(true).build()?;
    let node = lab.addr(1).to_string();
    let link = lab.impair_link(1)?;
    // Pass-through: ping, and UDP whose checksum the sender left to the relay.
    ensure!(lab.ping(Host::Client, &node), "no ping through the relay");
    let probe = lab.start_probe(&node, 9701)?;
    std::thread::sleep(Duration::from_millis(300));
    let report = probe.stop()?;
    ensure!(
        report.lost() < report.sent / 10 && report.nodes_seen() == [1],
        "UDP through the relay: {report}"
    );
    // Everything dropped towards the node: no ping, counted as filtered.
    link.set(
        vrrp_tests::Direction::ToHost,
        vrrp_tests::Impairment {
            drop_all: true,
            ..Default::default()
        },
    );
    ensure!(!lab.ping(Host::Client, &node), "ping through a cut relay");
    ensure!(link.stats(vrrp_tests::Direction::ToHost).filtered > 0);
    link.clear();
    ensure!(lab.ping(Host::Client, &node), "no ping after clear");
    // Loss is applied at about the rate asked for.
    link.set(
        vrrp_tests::Direction::FromHost,
        vrrp_tests::Impairment::loss(0.5),
    );
    let before = link.stats(vrrp_tests::Direction::FromHost);
    let probe = lab.start_probe(&node, 9702)?;
    std::thread::sleep(Duration::from_millis(1000));
    let report = probe.stop()?;
    let after = link.stats(vrrp_tests::Direction::FromHost);
    let (lost, passed) = (after.lost - before.lost, after.passed - before.passed);
    let rate = lost as f64 / (lost + passed).max(1) as f64;
    ensure!((0.4..0.6).contains(&rate), "loss {rate} ({report})");
    // Back into the bridge as before.
    link.restore()?;
    ensure!(lab.ping(Host::Client, &node), "no ping after restore");
    let ports = lab.exec_ok(Host::Switch, &["ip", "-o", "link", "show", "master", "br0"])?;
    ensure!(ports.contains("n1@") && !ports.contains("n1y"), "{ports}");
    Ok(())
}

#[test]
fn isolated_ports_split_the_nodes_but_not_the_client() -> Result<()> {
    require_root!();
    let lab = Lab::builder().nodes(2).client(true).build()?;
    let (n1, n2) = (lab.addr(1).to_string(), lab.addr(2).to_string());
    lab.set_isolated(1, true)?;
    lab.set_isolated(2, true)?;
    ensure!(
        !lab.ping(1, &n2),
        "node1 reaches node2 across the partition"
    );
    ensure!(lab.ping(Host::Client, &n1) && lab.ping(Host::Client, &n2));
    lab.set_isolated(1, false)?;
    lab.set_isolated(2, false)?;
    // node1's neighbour entry for node2 failed during the split: resolving again may take
    // an ARP retransmission or two.
    lab.wait_for(Duration::from_secs(5), Duration::from_millis(10), || {
        lab.ping(1, &n2)
    })
    .context("not healed")?;
    let mac = lab.mac(2)?;
    ensure!(
        lab.neigh(1, &n2)?.is_some_and(|(m, _)| m == mac),
        "node1's neighbour entry for node2: {:?}",
        lab.neigh(1, &n2)?
    );
    Ok(())
}

#[test]
fn flood_is_bounded_and_counted() -> Result<()> {
    require_root!();
    let lab = Lab::builder().nodes(1).client(true).build()?;
    let started = std::time::Instant::now();
    let flood = lab.start_flood(
        Host::Client,
        lab.addr(1),
        9,
        1,
        18,
        Duration::from_millis(300),
    )?;
    lab.wait_for(Duration::from_secs(5), Duration::from_millis(10), || {
        flood.finished()
    })?;
    let report = flood.stop()?;
    ensure!(started.elapsed() < Duration::from_secs(3), "not bounded");
    ensure!(report.sent > 1000, "{report}");
    Ok(())
}
