//! The scripted tour, for when nobody is at a terminal (CI, pipes, `< /dev/null`): start,
//! status, kill the master, bring it back, stop it gracefully; each step with its timeline
//! and the client's gap, then a summary. Ends by itself, normally within 30 s.
use std::{
    io::Write as _,
    path::Path,
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

use anyhow::{Result, bail};
use vrrp_tests::Host;

use super::{
    cluster::{Cluster, PRIORITIES, VIP},
    timeline::Outcome,
};

/// How long the first election may take (daemon start, XDP load, master-down wait).
const ELECTION_LIMIT: Duration = Duration::from_secs(30);

fn heading(title: &str) {
    println!(
        "\n── {title} {}",
        "─".repeat(70usize.saturating_sub(title.chars().count()))
    );
}

fn at(c: &Cluster, what: impl AsRef<str>) {
    let t = c.t0.elapsed();
    println!("  {:>7.3} s  {}", t.as_secs_f64(), what.as_ref());
    let _ = std::io::stdout().flush();
}

fn show(o: &Outcome) {
    for l in o.lines("  ") {
        println!("{l}");
    }
    let _ = std::io::stdout().flush();
}

/// Prints each node's `vrrp-daemon status --json` as a table.
fn status_table(c: &Cluster) -> Result<()> {
    // Until every daemon answers and the backups heard a second of adverts (bounded:
    // after that, print what there is).
    c.wait(Duration::from_secs(10), |c| {
        (1..=PRIORITIES.len()).all(|n| {
            c.status(n).and_then(Result::ok).is_some_and(|s| {
                s.state == "MASTER" || (s.master.is_some() && s.adverts_rcvd >= 10)
            })
        })
    })?;
    println!("\n  vrrp-daemon status --json, asked on each node's control socket:");
    println!(
        "    {:<6}  {:<7}  {:>8}  {:<20}  {:<4}  adverts sent / received",
        "node", "state", "priority", "master (priority)", "VIP"
    );
    let holders = c.holders();
    for n in 1..=PRIORITIES.len() {
        let vip = if holders.contains(&n) { "yes" } else { "-" };
        match c.status(n) {
            Some(Ok(s)) => {
                let master = match &s.master {
                    _ if s.state == "MASTER" => "itself".to_string(),
                    Some((a, p)) => format!("{a} ({p})"),
                    None => "-".into(),
                };
                println!(
                    "    {:<6}  {:<7}  {:>8}  {:<20}  {:<4}  {} / {}",
                    format!("node{n}"),
                    s.state,
                    s.effective_priority,
                    master,
                    vip,
                    s.adverts_sent,
                    s.adverts_rcvd
                );
            }
            Some(Err(e)) => println!("    node{n}   (status failed: {e:#})"),
            None => println!("    node{n}   (daemon not running)"),
        }
    }
    Ok(())
}

/// Runs the tour; `interrupted` is set by Ctrl-C, SIGTERM or SIGHUP.
pub fn run(daemon: &Path, interrupted: Arc<AtomicBool>) -> Result<()> {
    println!("vrrp-daemon demo: three nodes share the virtual IP {VIP}, and a client watches");
    println!(
        "  node1 priority {}, node2 priority {}, node3 priority {}; VRRPv3, an advert every 0.1 s.",
        PRIORITIES[0], PRIORITIES[1], PRIORITIES[2]
    );
    println!("  Each node runs vrrp-daemon (XDP program attached) in its own network namespace;");
    println!(
        "  all hang off one bridge. The client sends a UDP probe to the VIP every millisecond"
    );
    println!("  and whoever holds the VIP answers, so every interruption is measured.");
    println!(
        "  (Not at a terminal: this is the scripted tour. Run `cargo xtask run` in a terminal"
    );
    println!("  as root to drive it yourself: kill, freeze, stop, restart, lower a priority.)");

    heading("1. Start");
    let built = Instant::now();
    let mut c = Cluster::start(daemon, interrupted)?;
    at(
        &c,
        format!(
            "lab up in {:.1} s: node1 {}, node2 {}, node3 {}, client {}",
            built.elapsed().as_secs_f64(),
            c.lab().addr(1),
            c.lab().addr(2),
            c.lab().addr(3),
            c.lab().addr(Host::Client)
        ),
    );
    println!("  The daemons start; each waits its master-down interval (~0.36 s) before electing:");
    let p = c.first_election();
    let elected = c.wait(ELECTION_LIMIT, |c| {
        c.settled(&p) || c.check_daemons().is_err()
    })?;
    c.check_daemons()?;
    let o = c.conclude(p, elected)?;
    show(&o);
    if o.holder_after != Some(1) {
        bail!(
            "node1 did not become master within {ELECTION_LIMIT:?} (VIP holders: {:?}); logs in {}",
            c.holders(),
            c.lab().dir().display()
        );
    }
    status_table(&c)?;

    let mut outcomes = Vec::new();
    heading("2. kill -9 the master, node1");
    println!("  A crash. node1's crash guardian (a small companion process) sends the priority-0");
    println!("  advert for it, so node2, the next in priority, waits only its skew time,");
    println!("  (256 - 100) / 256 × 0.1 s = 61 ms, not the 361 ms master-down interval.");
    let p = c.kill9(1)?;
    outcomes.push(c.settle(p)?);
    show(&outcomes[0]);

    heading("3. Restart node1");
    println!("  It comes back as a backup, hears node2 advertise priority 100 < its 150, and");
    println!("  preempts once its master-down interval is over: the VIP goes back to node1.");
    let p = c.restart(1)?;
    outcomes.push(c.settle(p)?);
    show(&outcomes[1]);

    heading("4. SIGTERM the master, node1");
    println!("  A graceful stop: node1 sends priority 0 and removes the VIP itself; node2 again");
    println!("  takes over after its skew time.");
    let p = c.term(1)?;
    outcomes.push(c.settle(p)?);
    show(&outcomes[2]);

    heading("Summary");
    println!("  {:<16}  {:<16}  {:>10}", "action", "VIP", "client gap");
    for o in &outcomes {
        println!(
            "  {:<16}  {:<16}  {:>7} ms{}",
            o.label,
            o.movement(),
            o.gap.as_millis(),
            if o.settled { "" } else { "  (did not settle)" }
        );
    }
    let unsettled: Vec<&str> = std::iter::once(&o)
        .chain(&outcomes)
        .filter(|o| !o.settled)
        .map(|o| o.label.as_str())
        .collect();
    let dir = c.lab().dir().display().to_string();
    drop(c);
    println!("\nThe lab is gone: daemons stopped, namespaces deleted, {dir} removed.");
    if !unsettled.is_empty() {
        bail!("the lab did not settle after: {}", unsettled.join(", "));
    }
    Ok(())
}
