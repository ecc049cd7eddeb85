//! `cargo xtask run` with no config: a two-node lab in namespaces, one VIP, the master is
//! killed, and the timeline shows who owned the VIP when and the gap the client saw.
use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use vrrp_tests::{Host, Lab};

const VIP: &str = "10.0.0.100";
const PORT: u16 = 9000;

fn config(state: &str, priority: u8) -> String {
    format!(
        "global_defs {{
    vrrp_version 3
}}

vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 0.1
    virtual_ipaddress {{
        {VIP}
    }}
}}
"
    )
}

struct Timeline {
    start: Instant,
}

impl Timeline {
    fn say(&self, what: impl AsRef<str>) {
        let t = self.start.elapsed();
        println!(
            "  {:>4}.{:03} s  {}",
            t.as_secs(),
            t.subsec_millis(),
            what.as_ref()
        );
    }
}

/// Wait until `cond` holds on the VIP holders; bounded.
fn wait_holders(lab: &Lab, limit: Duration, cond: impl Fn(&[usize]) -> bool) -> Result<()> {
    lab.wait_for(limit, Duration::from_millis(1), || {
        cond(&lab.vip_holders(VIP))
    })
    .map(|_| ())
}

/// Run the demo with the daemon binary at `daemon`.
pub fn run(daemon: &Path) -> Result<()> {
    println!(
        "vrrp-daemon demo: two nodes and a client in network namespaces, VRRPv3, advert_int 0.1 s"
    );
    println!("(node1: state MASTER priority 100, node2: state BACKUP priority 90, VIP {VIP})\n");
    let lab = Lab::builder()
        .nodes(2)
        .client(true)
        .daemon_bin(daemon)
        .build()
        .context("building the lab (needs root and iproute2)")?;
    let tl = Timeline {
        start: Instant::now(),
    };
    tl.say(format!(
        "lab up: node1 {} node2 {} client {}",
        lab.addr(1),
        lab.addr(2),
        lab.addr(Host::Client)
    ));
    let d1 = lab.spawn_daemon(1, &config("MASTER", 100), &[])?;
    let _d2 = lab.spawn_daemon(2, &config("BACKUP", 90), &[])?;
    tl.say("daemons started; both wait the master-down interval (~0.36 s) before electing");
    wait_holders(&lab, Duration::from_secs(5), |h| h == [1])
        .context("node1 never became master")?;
    tl.say("node1 is MASTER and owns the VIP");

    let probe = lab.start_probe(VIP, PORT)?;
    tl.say("client starts probing the VIP over UDP every millisecond");
    std::thread::sleep(Duration::from_millis(500));

    let killed = Instant::now();
    // A host dying: the link goes first, so not even the crash guardian's priority-0
    // advert gets out (a daemon crash alone fails over after skew time instead).
    lab.set_link(1, false)?;
    d1.kill9()?;
    tl.say("node1 dies: its link is cut and its daemon killed with kill -9 (no priority-0 advert)");
    wait_holders(&lab, Duration::from_secs(5), |h| h.contains(&2))
        .context("node2 never took over")?;
    tl.say(format!(
        "node2 is MASTER and owns the VIP, {} ms after the kill (bound: 3 × 100 ms + skew 65 ms = 365 ms)",
        killed.elapsed().as_millis()
    ));
    std::thread::sleep(Duration::from_millis(500));

    lab.set_link(1, true)?;
    lab.spawn_daemon(1, &config("MASTER", 100), &[])?;
    tl.say("node1 is back: link up, daemon restarted (removes its stale VIP, waits master-down, preempts)");
    wait_holders(&lab, Duration::from_secs(5), |h| h == [1])
        .context("node1 never took the VIP back")?;
    tl.say("node1 is MASTER again and owns the VIP; node2 went back to BACKUP");
    std::thread::sleep(Duration::from_millis(300));

    let report = probe.stop()?;
    tl.say("client stops probing");
    println!(
        "\nWhat the client saw ({} probes sent, {} answered):",
        report.sent, report.received
    );
    for c in &report.changes {
        let at = c.at + report.started_at.saturating_duration_since(tl.start);
        println!(
            "  {:>4}.{:03} s  answered by node{}",
            at.as_secs(),
            at.subsec_millis(),
            c.to
        );
    }
    println!(
        "  longest gap without an answer: {} ms (from {:?} to {:?} after the probe started)",
        report.longest_gap_ms(),
        report.longest_gap_span.0,
        report.longest_gap_span.1
    );
    for node in 1..=2 {
        println!("\nnode{node}'s transitions, as logged by vrrp-daemon:");
        for line in lab
            .log(node)
            .lines()
            .filter(|l| l.contains("VRRP transition"))
        {
            println!("  {}", line.trim());
        }
    }
    println!("\n(the lab, its namespaces and daemons are removed now)");
    Ok(())
}
