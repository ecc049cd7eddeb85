//! Failover runs: a pair of one implementation, the master stopped again and again (host
//! death or graceful stop), each time measured by the client's probe (gap) and on the
//! wire (takeover precision).
//!
//! Both nodes run the same configuration (`state BACKUP`, priority 90), so the roles
//! simply swap at each failover: the stopped node comes back as a backup of the new master
//! (equal priority: it does not preempt) and is the next one stopped. Every takeover is
//! therefore made by a priority-90 backup with the same timers, and no run waits for a
//! preemption.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};

use super::load::CpuHogs;
use super::{Impl, Interval, Pair, VIP, node_ip, single_config};
use crate::lab::{Host, Lab};
use crate::takeover::{
    epoch_secs, master_down_v3, skew_v3, takeover_after_priority_zero, takeover_after_silence,
};

/// Priority of both nodes.
const PRIORITY: u8 = 90;

/// How the master goes away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// Its link cut and its daemon killed (`kill -9`): the host died. It comes back
    /// "rebooted": link up, the VIP its kernel still had removed, the daemon started.
    HostDeath,
    /// SIGTERM: the daemon sends a priority-0 advert and releases the VIP.
    Graceful,
}

/// What else the machine is doing meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Load {
    Idle,
    /// One busy-looping process per CPU (nice 0), started in the lab's switch namespace.
    Cpu,
    /// UDP datagrams to the lab's broadcast address from the client, as fast as one
    /// thread can send them: every node's interface receives them all.
    Flood,
}

pub(crate) struct Spec {
    pub interval: Interval,
    pub trigger: Trigger,
    pub load: Load,
    pub reps: usize,
    pub port: u16,
}

/// What the runs of one implementation measured (milliseconds).
#[derive(Default)]
pub(crate) struct Outcome {
    /// Client gap per failover.
    pub gaps: Vec<f64>,
    /// New master's first advert minus (old master's last advert + Master_Down_Interval),
    /// or minus (priority-0 advert + Skew_Time), per failover.
    pub late: Vec<f64>,
    /// Anything odd (a failover that could not be measured, a node that took over at the
    /// wrong time).
    pub notes: Vec<String>,
    /// Datagrams per second sent by the flood, if any.
    pub flood_pps: Option<f64>,
}

struct Failover {
    wall: f64,
    at: Instant,
    end: Instant,
    old: usize,
    new: usize,
}

/// Runs `spec.reps` failovers of `imp` in `lab` (two nodes and a client) and measures
/// them. The lab is left without daemons.
pub(crate) fn run(lab: &Lab, imp: Impl, spec: &Spec, tag: &str) -> Result<Outcome> {
    let advert = spec.interval.duration();
    let down = master_down_v3(PRIORITY, advert);
    let timer = match spec.trigger {
        Trigger::HostDeath => down,
        Trigger::Graceful => skew_v3(PRIORITY, advert),
    };
    let config = single_config(spec.interval, "BACKUP", PRIORITY);
    // Time for a restarted node to start and hear a few adverts before it is relied on.
    let rejoin = 2 * advert + Duration::from_millis(300);
    let after = Duration::from_millis(300);
    let per_rep = down + after + rejoin + Duration::from_secs(1);
    let budget = per_rep * spec.reps as u32 + Duration::from_secs(20);

    let capture = lab.start_capture(Host::Switch, "br0", &["vrrp"], tag)?;
    let watch = lab.watch_vip(VIP)?;
    let mut pair = Pair::new(lab, imp);
    pair.start(1, &config)?;
    pair.start(2, &config)?;
    watch
        .wait(2 * down + Duration::from_secs(10), |h| h.len() == 1)
        .context("no single master after start")?;
    // The other node has been a backup for a master-down interval: it hears adverts.
    std::thread::sleep(2 * advert + Duration::from_millis(200));
    let mut master = match watch.holders()[..] {
        [m] => m,
        ref h => bail!("{imp}: holders {h:?} after the election"),
    };

    let hogs = match spec.load {
        Load::Cpu => Some(CpuHogs::start(lab, Host::Switch, super::cpus(), budget)?),
        _ => None,
    };
    let flood = match spec.load {
        Load::Flood => {
            Some(lab.start_flood(Host::Client, Ipv4Addr::new(10, 0, 0, 255), 9, 1, 18, budget)?)
        }
        _ => None,
    };
    if spec.load != Load::Idle {
        std::thread::sleep(Duration::from_millis(500));
    }
    let probe = lab.start_probe_for(VIP, spec.port, budget)?;
    std::thread::sleep(Duration::from_millis(100));

    let mut out = Outcome::default();
    let mut failovers = Vec::new();
    for rep in 0..spec.reps {
        if watch.holders() != [master] {
            // The rejoined node took over (see the note made then): measure the failover
            // of whoever is master now.
            match watch.wait(Duration::from_secs(2), |h| h.len() == 1) {
                Ok(_) => master = watch.holders()[0],
                Err(_) => bail!(
                    "failover {}: holders {:?}, no single master",
                    rep + 1,
                    watch.holders()
                ),
            }
        }
        let backup = 3 - master;
        let wall = epoch_secs(SystemTime::now());
        let at = Instant::now();
        match spec.trigger {
            Trigger::HostDeath => {
                // Link first: adverts and answers to the client stop together, as when
                // a host dies. The daemon dies right after, before it can react.
                lab.set_link(master, false)?;
                pair.kill9(master)?;
            }
            Trigger::Graceful => pair.signal(master, libc::SIGTERM)?,
        }
        watch
            .wait(3 * down + Duration::from_secs(2), |h| h.contains(&backup))
            .with_context(|| format!("failover {}: node{backup} never took over", rep + 1))?;
        std::thread::sleep(after);
        failovers.push(Failover {
            wall,
            at,
            end: Instant::now(),
            old: master,
            new: backup,
        });
        // The old master comes back as a backup.
        match spec.trigger {
            Trigger::HostDeath => {
                let _ = lab.exec(
                    master,
                    &["ip", "addr", "del", &format!("{VIP}/32"), "dev", "eth0"],
                );
                lab.set_link(master, true)?;
            }
            Trigger::Graceful => pair.wait_exit(master, Duration::from_secs(5))?,
        }
        pair.start(master, &config)?;
        if rep + 1 < spec.reps {
            std::thread::sleep(rejoin);
            if watch.holders() != [backup] {
                out.notes.push(format!(
                    "node{master}, restarted as a backup after failover {}, took over from \
                     node{backup} (holders {:?})",
                    rep + 1,
                    watch.holders()
                ));
            }
        }
        master = backup;
    }
    let report = probe.stop()?;
    if let Some(f) = flood {
        out.flood_pps = Some(f.stop()?.pps());
    }
    drop(hogs);
    pair.stop_all();
    drop(watch);
    let adverts = capture.vrrp_adverts()?;

    for (i, f) in failovers.iter().enumerate() {
        out.gaps
            .push(report.gap_around(f.at, f.end).as_secs_f64() * 1e3);
        let (old, new) = (node_ip(f.old), node_ip(f.new));
        let t = match spec.trigger {
            Trigger::HostDeath => takeover_after_silence(&adverts, old, new, f.wall),
            Trigger::Graceful => takeover_after_priority_zero(&adverts, old, new, f.wall),
        };
        match t {
            Some(t) => out.late.push(t.late_by(timer) * 1e3),
            None => out.notes.push(format!(
                "failover {}: takeover not found on the wire",
                i + 1
            )),
        }
    }
    Ok(out)
}
