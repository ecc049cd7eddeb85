//! CPU and memory per node in steady state: node1 master and node2 backup of N instances.
//!
//! CPU is what the kernel charged the daemon's processes (`utime + stime` of
//! `/proc/PID/stat`, every thread included; keepalived: its parent and its VRRP child),
//! sampled every second. Work done in softirq context is charged to whichever task was
//! running: on the lab's veth links the receiving node's receive path (our XDP program in
//! it) runs in the sending task, so it counts towards the master's figure, not the
//! backup's. Its cost per packet is the XDP section of the report.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::{Impl, Interval, Pair, many_config};
use crate::lab::Lab;
use crate::takeover::master_down_v3;

/// One node's figures.
#[derive(Default)]
pub(crate) struct Node {
    /// % of one core, per 1 s sample.
    pub cpu: Vec<f64>,
    /// % of one core over the whole window.
    pub mean: f64,
    /// Resident memory at the end of the window.
    pub rss_mib: f64,
}

pub(crate) struct Outcome {
    pub master: Node,
    pub backup: Node,
}

/// How many of the 10.0.1.k VIPs `node` holds.
fn vips_held(lab: &Lab, node: usize) -> Result<usize> {
    let out = lab.exec_ok(node, &["ip", "-o", "-4", "addr", "show", "dev", "eth0"])?;
    Ok(out.lines().filter(|l| l.contains(" inet 10.0.1.")).count())
}

/// Clock ticks (`utime + stime`) of `pid`, every thread included.
fn ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    // Fields from 3 (state) on: utime is field 14, stime 15.
    let mut f = rest.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` of `pid`, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Runs node1 (MASTER, 100) and node2 (BACKUP, 90) with `instances` instances of
/// `interval`, waits until node1 holds every VIP and node2 none, lets a second pass,
/// then samples both nodes' CPU every second for `window`.
pub(crate) fn run(
    lab: &Lab,
    imp: Impl,
    instances: usize,
    interval: Interval,
    window: Duration,
) -> Result<Outcome> {
    let mut pair = Pair::new(lab, imp);
    pair.start(1, &many_config(instances, interval, "MASTER", 100))?;
    pair.start(2, &many_config(instances, interval, "BACKUP", 90))?;
    let limit = 2 * master_down_v3(90, interval.duration()) + Duration::from_secs(20);
    let settled = crate::wait_for(limit, Duration::from_millis(200), || {
        vips_held(lab, 1).ok() == Some(instances) && vips_held(lab, 2).ok() == Some(0)
    });
    if settled.is_err() {
        bail!(
            "{imp}, {instances} instances: node1 holds {:?} VIPs and node2 {:?} after {limit:?}",
            vips_held(lab, 1).ok(),
            vips_held(lab, 2).ok()
        );
    }
    std::thread::sleep(Duration::from_secs(1));
    // SAFETY: no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let pids = [pair.pids(1), pair.pids(2)];
    for (i, p) in pids.iter().enumerate() {
        if p.is_empty() {
            bail!("{imp}: no process on node{}", i + 1);
        }
    }
    let total = |node: usize| -> u64 { pids[node].iter().filter_map(|&p| ticks(p)).sum() };
    let start = Instant::now();
    let first = [total(0), total(1)];
    let mut last = first;
    let mut last_at = start;
    let mut samples: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let secs = window.as_secs().max(1);
    for s in 1..=secs {
        std::thread::sleep(
            (start + Duration::from_secs(s)).saturating_duration_since(Instant::now()),
        );
        let now = [total(0), total(1)];
        let dt = last_at.elapsed().as_secs_f64();
        last_at = Instant::now();
        for n in 0..2 {
            samples[n].push(now[n].saturating_sub(last[n]) as f64 / hz / dt * 100.0);
        }
        last = now;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rss = |node: usize| -> f64 {
        pids[node].iter().filter_map(|&p| rss_kib(p)).sum::<u64>() as f64 / 1024.0
    };
    let node = |n: usize, cpu: Vec<f64>| Node {
        cpu,
        mean: last[n].saturating_sub(first[n]) as f64 / hz / elapsed * 100.0,
        rss_mib: rss(n),
    };
    let [m, b] = samples;
    let out = Outcome {
        master: node(0, m),
        backup: node(1, b),
    };
    for (i, p) in pids.iter().enumerate() {
        if p.iter().any(|&p| ticks(p).is_none()) {
            bail!("{imp}: a process on node{} exited during the window", i + 1);
        }
    }
    pair.stop_all();
    Ok(out)
}
