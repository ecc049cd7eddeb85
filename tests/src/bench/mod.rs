//! The lab half of `cargo xtask bench`: this daemon and keepalived side by side, in the
//! same lab and the same run, under the same scenarios.
//!
//! Each scenario builds one lab, runs a pair of our daemons in it, then a pair of
//! keepalived (2.2.7, `--vrrp`, foreground) with the very same configuration text, and
//! turns what the probe, the VIP watch and the bridge capture saw into [`Row`]s:
//!
//! - failover gap: a client probing the VIP over UDP every millisecond, the longest time
//!   without an answer around each failover; host death (`kill -9` + link cut) at
//!   `advert_int` 0.01, 0.1 and 1, and a graceful stop (SIGTERM, priority 0) at 0.1;
//! - takeover precision: the new master's first advert on the wire minus the RFC timer
//!   (Master_Down_Interval after the old master's last advert, Skew_Time after its
//!   priority-0 advert), idle, with every CPU busy, and with the interface flooded;
//! - a stalled backup and a frozen master (SIGSTOP for 5 × master-down, then SIGCONT);
//! - defective adverts (TTL 64, bad checksum, wrong version) for the master's VRID, sent
//!   by the client at the advert rate;
//! - CPU and resident memory per node at 1, 50 and 200 instances.
//!
//! Everything is bounded: a fixed number of repetitions, every wait with a deadline, load
//! and floods that stop by themselves. Nothing here asserts: a benchmark reports.

mod cpu;
mod defective;
mod failover;
mod freeze;
mod load;
mod report;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub use report::{Row, Section, Summary, render_markdown, render_samples, render_text};

use crate::daemon::{DaemonHandle, DaemonKind};
use crate::lab::Lab;
use crate::takeover::master_down_v3;

/// The VIP of single-instance scenarios.
const VIP: &str = "10.0.0.100";

/// The two implementations compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// This project's daemon.
    Ours,
    /// The real keepalived.
    Keepalived,
}

impl Impl {
    /// Both, in the order they run.
    pub const BOTH: [Impl; 2] = [Impl::Ours, Impl::Keepalived];
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Impl::Ours => "vrrp-daemon",
            Impl::Keepalived => "keepalived",
        })
    }
}

/// Parts of the lab benchmark, for running a subset.
pub const GROUPS: &[&str] = &["failover", "precision", "freeze", "defective", "cpu"];

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Our daemon (a release build).
    pub daemon_bin: PathBuf,
    /// Fewer repetitions and shorter windows (a smoke run, minutes instead of ten).
    pub quick: bool,
    /// Groups of [`GROUPS`] to run; empty: all.
    pub only: Vec<String>,
}

impl Options {
    fn wants(&self, group: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|g| g == group)
    }

    /// `full` repetitions, or `quick` with `--quick`.
    fn reps(&self, full: usize, quick: usize) -> usize {
        if self.quick { quick } else { full }
    }
}

/// An `advert_int`, in centiseconds (VRRPv3's unit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Interval(u32);

impl Interval {
    pub(crate) fn duration(self) -> Duration {
        Duration::from_millis(10 * u64::from(self.0))
    }

    /// As written after `advert_int`.
    pub(crate) fn config(self) -> String {
        if self.0.is_multiple_of(100) {
            (self.0 / 100).to_string()
        } else {
            format!("{}", f64::from(self.0) / 100.0)
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "advert_int {}", self.config())
    }
}

const I_10MS: Interval = Interval(1);
const I_100MS: Interval = Interval(10);
const I_1S: Interval = Interval(100);

/// Node `n`'s address in the default lab subnet.
pub(crate) fn node_ip(n: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, n as u8))
}

/// CPUs this process may run on.
pub(crate) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

const V3_GLOBALS: &str = "global_defs {\n    vrrp_version 3\n}\n";

/// One VRRPv3 instance (VRID 51, [`VIP`]); both implementations read it as is.
pub(crate) fn single_config(interval: Interval, state: &str, priority: u8) -> String {
    format!(
        "{V3_GLOBALS}
vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int {}
    virtual_ipaddress {{
        {VIP}
    }}
}}
",
        interval.config()
    )
}

/// `instances` VRRPv3 instances: VRID k, VIP 10.0.1.k (k = 1..=instances, at most 200).
pub(crate) fn many_config(
    instances: usize,
    interval: Interval,
    state: &str,
    priority: u8,
) -> String {
    let mut s = V3_GLOBALS.to_string();
    for k in 1..=instances {
        s.push_str(&format!(
            "
vrrp_instance VI_{k} {{
    state {state}
    interface eth0
    virtual_router_id {k}
    priority {priority}
    advert_int {}
    virtual_ipaddress {{
        10.0.1.{k}
    }}
}}
",
            interval.config()
        ));
    }
    s
}

/// The daemons of one implementation on a lab's nodes; dropping it stops them.
pub(crate) struct Pair<'a> {
    lab: &'a Lab,
    imp: Impl,
    daemons: Vec<Option<DaemonHandle>>,
}

impl<'a> Pair<'a> {
    pub(crate) fn new(lab: &'a Lab, imp: Impl) -> Self {
        Self {
            lab,
            imp,
            daemons: vec![None; lab.nodes() + 1],
        }
    }

    /// Starts the implementation on `node` with `config` and waits until it runs its
    /// instances (keepalived: "Startup complete"; ours: its first state transition).
    pub(crate) fn start(&mut self, node: usize, config: &str) -> Result<()> {
        let d = match self.imp {
            Impl::Ours => {
                let d = self.lab.spawn_daemon(node, config, &[])?;
                let up = crate::wait_for(Duration::from_secs(10), Duration::from_millis(5), || {
                    d.log().contains("VRRP transition") || !d.is_running()
                });
                if up.is_err() || !d.is_running() {
                    bail!("vrrp-daemon on node{node} did not start:\n{}", d.log());
                }
                d
            }
            Impl::Keepalived => {
                let d = self.lab.spawn_keepalived(node, config, &[])?;
                d.wait_keepalived_ready(Duration::from_secs(10))?;
                d
            }
        };
        self.daemons[node] = Some(d);
        Ok(())
    }

    pub(crate) fn handle(&self, node: usize) -> Result<&DaemonHandle> {
        self.daemons[node]
            .as_ref()
            .with_context(|| format!("no daemon on node{node}"))
    }

    /// Every live process of the daemon on `node` (keepalived: parent and VRRP child).
    pub(crate) fn pids(&self, node: usize) -> Vec<u32> {
        self.daemons[node]
            .as_ref()
            .map(DaemonHandle::pids)
            .unwrap_or_default()
    }

    pub(crate) fn kill9(&mut self, node: usize) -> Result<()> {
        self.handle(node)?.kill9()?;
        self.daemons[node] = None;
        Ok(())
    }

    /// Sends `sig` to the daemon (keepalived: the parent, which tells its child).
    pub(crate) fn signal(&self, node: usize, sig: libc::c_int) -> Result<()> {
        self.handle(node)?.signal(sig)
    }

    /// SIGSTOP (keepalived: the whole process group).
    pub(crate) fn freeze(&self, node: usize) -> Result<()> {
        self.handle(node)?.stop()
    }

    pub(crate) fn thaw(&self, node: usize) -> Result<()> {
        self.handle(node)?.cont()
    }

    pub(crate) fn wait_exit(&mut self, node: usize, timeout: Duration) -> Result<()> {
        let d = self.handle(node)?;
        if d.wait_exit(timeout).is_none() {
            bail!("{} on node{node} did not exit within {timeout:?}", self.imp);
        }
        if d.kind() == DaemonKind::Keepalived {
            // Its VRRP child too.
            crate::wait_for(timeout, Duration::from_millis(5), || d.pids().is_empty())
                .with_context(|| format!("keepalived's child on node{node} outlived it"))?;
        }
        self.daemons[node] = None;
        Ok(())
    }

    /// Stops every daemon (SIGTERM, then SIGKILL after 5 s).
    pub(crate) fn stop_all(&mut self) {
        for d in self.daemons.iter_mut().filter_map(Option::take) {
            let _ = d.term(Duration::from_secs(5));
            if d.kind() == DaemonKind::Keepalived {
                let _ = crate::wait_for(Duration::from_secs(5), Duration::from_millis(5), || {
                    d.pids().is_empty()
                });
                let _ = d.kill9();
            }
        }
    }
}

impl Drop for Pair<'_> {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// Median and 95th percentile (nearest rank) of `v`; `None` if empty.
pub fn median_p95(v: &[f64]) -> Option<(f64, f64)> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let rank = |q: f64| s[((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
    let median = if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
    };
    Some((median, rank(0.95)))
}

/// Labs of other processes (namespaces named like ours): they share the machine's CPUs
/// with the benchmark and make its numbers worse, so the report says so.
pub fn foreign_labs() -> Vec<String> {
    let me = format!("{}{}-", crate::PREFIX, std::process::id());
    let mut v: Vec<String> = std::fs::read_dir(crate::netns::NETNS_DIR)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with(crate::PREFIX) && !n.starts_with(&me))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Runs the groups `opts` asks for and returns their rows, calling `progress` with a
/// line for each step. A scenario that fails becomes a row saying why; the rest still run.
pub fn run(opts: &Options, progress: &mut dyn FnMut(&str)) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut step = |name: &str, f: &mut dyn FnMut(&mut Vec<Row>) -> Result<()>| {
        let start = Instant::now();
        progress(&format!("{name} ..."));
        let before = rows.len();
        if let Err(e) = f(&mut rows) {
            let msg = format!("{e:#}");
            progress(&format!("{name}: FAILED: {msg}"));
            rows.push(Row::failed(name, &msg));
        }
        for line in rows[before..].iter().filter_map(Row::samples_line) {
            progress(&format!("{name}:   {line}"));
        }
        progress(&format!(
            "{name}: {} rows in {:.1} s",
            rows.len() - before,
            start.elapsed().as_secs_f64()
        ));
    };
    let builder = || {
        Lab::builder()
            .nodes(2)
            .client(true)
            .daemon_bin(&opts.daemon_bin)
    };

    if opts.wants("failover") {
        for (interval, reps) in [
            (I_10MS, opts.reps(20, 3)),
            (I_100MS, opts.reps(15, 3)),
            (I_1S, opts.reps(3, 1)),
        ] {
            step(&format!("host death, {interval}"), &mut |rows| {
                let lab = builder().build()?;
                let spec = failover::Spec {
                    interval,
                    trigger: failover::Trigger::HostDeath,
                    load: failover::Load::Idle,
                    reps,
                    port: 9300,
                };
                let [o, k] = both(|imp| failover::run(&lab, imp, &spec, &tag(imp)))?;
                rows.push(Row::samples(
                    Section::Gap,
                    format!("host death (kill -9 + link cut), {interval}"),
                    "ms",
                    1,
                    &o.gaps,
                    &k.gaps,
                    notes(&o, &k, master_down_v3(90, interval.duration())),
                ));
                rows.push(Row::samples(
                    Section::Precision,
                    format!("after host death, idle, {interval}"),
                    "ms",
                    3,
                    &o.late,
                    &k.late,
                    String::new(),
                ));
                Ok(())
            });
        }
        step("graceful stop, advert_int 0.1", &mut |rows| {
            let lab = builder().build()?;
            let spec = failover::Spec {
                interval: I_100MS,
                trigger: failover::Trigger::Graceful,
                load: failover::Load::Idle,
                reps: opts.reps(10, 2),
                port: 9301,
            };
            let [o, k] = both(|imp| failover::run(&lab, imp, &spec, &tag(imp)))?;
            rows.push(Row::samples(
                Section::Gap,
                format!("graceful (SIGTERM, priority 0), {I_100MS}"),
                "ms",
                1,
                &o.gaps,
                &k.gaps,
                notes(&o, &k, crate::takeover::skew_v3(90, I_100MS.duration())),
            ));
            rows.push(Row::samples(
                Section::Precision,
                format!("after priority 0 (Skew_Time), idle, {I_100MS}"),
                "ms",
                3,
                &o.late,
                &k.late,
                String::new(),
            ));
            Ok(())
        });
    }

    if opts.wants("precision") {
        for (load, what) in [
            (failover::Load::Cpu, "every CPU busy"),
            (failover::Load::Flood, "interface flooded"),
        ] {
            step(&format!("host death, {what}, {I_100MS}"), &mut |rows| {
                let lab = builder().build()?;
                let spec = failover::Spec {
                    interval: I_100MS,
                    trigger: failover::Trigger::HostDeath,
                    load,
                    reps: opts.reps(10, 3),
                    port: 9302,
                };
                let [o, k] = both(|imp| failover::run(&lab, imp, &spec, &tag(imp)))?;
                let mut note = match load {
                    failover::Load::Cpu => format!(
                        "{} busy-looping processes (nice 0) on {} CPUs",
                        cpus(),
                        cpus()
                    ),
                    _ => format!(
                        "broadcast UDP from the client: {:.0} / {:.0} datagrams/s during \
                         our / keepalived's runs",
                        o.flood_pps.unwrap_or(0.0),
                        k.flood_pps.unwrap_or(0.0)
                    ),
                };
                let extra = notes(&o, &k, Duration::ZERO);
                if !extra.is_empty() {
                    note = format!("{note}; {extra}");
                }
                rows.push(Row::samples(
                    Section::Precision,
                    format!("after host death, {what}, {I_100MS}"),
                    "ms",
                    3,
                    &o.late,
                    &k.late,
                    note,
                ));
                rows.push(Row::samples(
                    Section::Gap,
                    format!("host death, {what}, {I_100MS}"),
                    "ms",
                    1,
                    &o.gaps,
                    &k.gaps,
                    String::new(),
                ));
                Ok(())
            });
        }
    }

    if opts.wants("freeze") {
        step(&format!("stalled backup, {I_100MS}"), &mut |rows| {
            let lab = builder().build()?;
            let cycles = opts.reps(5, 2);
            let [o, k] = both(|imp| freeze::stalled_backup(&lab, imp, I_100MS, cycles, &tag(imp)))?;
            rows.push(Row::counts(
                Section::Freeze,
                format!("stalled backup: false takeovers, {I_100MS}"),
                (o.takeovers, o.cycles),
                (k.takeovers, k.cycles),
                with_notes(
                    "the backup's daemon SIGSTOPped for 5 × master-down, then SIGCONT",
                    &o.notes,
                    &k.notes,
                ),
            ));
            rows.push(Row::samples(
                Section::Freeze,
                format!("stalled backup: client gap, {I_100MS}"),
                "ms",
                1,
                &o.gaps,
                &k.gaps,
                String::new(),
            ));
            Ok(())
        });
        for first in [freeze::FirstReply::NewMaster, freeze::FirstReply::Frozen] {
            step(&format!("frozen master, {first}, {I_100MS}"), &mut |rows| {
                let lab = builder().build()?;
                let reps = opts.reps(3, 1);
                let [o, k] = both(|imp| {
                    freeze::frozen_master(&lab, imp, I_100MS, reps, first, 9303, &tag(imp))
                })?;
                let note = with_notes(
                    "the master's daemon SIGSTOPped for 5 × master-down while the service behind \
                     the VIP there is dead too; the client re-ARPs after the takeover; gap from \
                     the freeze to 1.5 s after SIGCONT",
                    &o.notes,
                    &k.notes,
                );
                rows.push(Row::samples(
                    Section::Freeze,
                    format!("frozen master, {first}: client gap, {I_100MS}"),
                    "ms",
                    1,
                    &o.gaps,
                    &k.gaps,
                    note,
                ));
                rows.push(Row::counts(
                    Section::Freeze,
                    format!("frozen master, {first}: ARP replies from the frozen host"),
                    (o.frozen_replies, o.requests),
                    (k.frozen_replies, k.requests),
                    "out of N: ARP requests for the VIP the client sent while the host was \
                     frozen"
                        .into(),
                ));
                Ok(())
            });
        }
    }

    if opts.wants("defective") {
        let secs = opts.reps(5, 2) as u64;
        step(&format!("defective adverts, {I_100MS}"), &mut |rows| {
            let lab = builder().build()?;
            let [o, k] = both(|imp| defective::run(&lab, imp, I_100MS, Duration::from_secs(secs)))?;
            for ((kind, ov), (_, kv)) in o.iter().zip(k.iter()) {
                rows.push(Row::counts(
                    Section::Defective,
                    format!("{kind}: false takeovers in {secs} s, {I_100MS}"),
                    (ov.takeovers, ov.sent),
                    (kv.takeovers, kv.sent),
                    "out of N: defective adverts for the master's VRID sent by the client, one \
                     per advert interval"
                        .into(),
                ));
            }
            Ok(())
        });
    }

    if opts.wants("cpu") {
        let window = Duration::from_secs(opts.reps(10, 3) as u64);
        let mut configs: Vec<(usize, Interval)> = if opts.quick {
            vec![(1, I_100MS), (200, I_100MS)]
        } else {
            vec![
                (1, I_1S),
                (50, I_1S),
                (200, I_1S),
                (1, I_100MS),
                (50, I_100MS),
                (200, I_100MS),
            ]
        };
        if !opts.quick {
            configs.push((200, I_10MS));
        }
        for (n, interval) in configs {
            step(&format!("CPU, {n} instances, {interval}"), &mut |rows| {
                let lab = Lab::builder()
                    .nodes(2)
                    .client(false)
                    .daemon_bin(&opts.daemon_bin)
                    .build()?;
                let [o, k] = both(|imp| cpu::run(&lab, imp, n, interval, window))?;
                for (role, of, kf) in [
                    ("master", &o.master, &k.master),
                    ("backup", &o.backup, &k.backup),
                ] {
                    let mut row = Row::samples(
                        Section::Cpu,
                        format!("{role}, {n} instances, {interval}"),
                        "% of a core",
                        1,
                        &of.cpu,
                        &kf.cpu,
                        format!(
                            "mean over {} s: {:.2} / {:.2}; ratio of the means",
                            window.as_secs(),
                            of.mean,
                            kf.mean
                        ),
                    );
                    row.ratio = (kf.mean > 0.0).then(|| of.mean / kf.mean);
                    rows.push(row);
                    if interval == I_100MS {
                        rows.push(Row::samples(
                            Section::Memory,
                            format!("{role}, {n} instances"),
                            "MiB",
                            1,
                            &[of.rss_mib],
                            &[kf.rss_mib],
                            "VmRSS; keepalived: parent + VRRP child".into(),
                        ));
                    }
                }
                Ok(())
            });
        }
    }
    rows
}

/// Runs `f` for our daemon, then for keepalived.
fn both<T>(mut f: impl FnMut(Impl) -> Result<T>) -> Result<[T; 2]> {
    let o = f(Impl::Ours).context("vrrp-daemon")?;
    let k = f(Impl::Keepalived).context("keepalived")?;
    Ok([o, k])
}

fn tag(imp: Impl) -> String {
    match imp {
        Impl::Ours => "ours".into(),
        Impl::Keepalived => "keepalived".into(),
    }
}

fn notes(o: &failover::Outcome, k: &failover::Outcome, timer: Duration) -> String {
    let mut v = Vec::new();
    if !timer.is_zero() {
        v.push(format!("timer {:.1} ms", timer.as_secs_f64() * 1e3));
    }
    let s = join_notes(&o.notes, &k.notes);
    if !s.is_empty() {
        v.push(s);
    }
    v.join("; ")
}

fn with_notes(what: &str, o: &[String], k: &[String]) -> String {
    let extra = join_notes(o, k);
    if extra.is_empty() {
        what.to_string()
    } else {
        format!("{what}; {extra}")
    }
}

fn join_notes(o: &[String], k: &[String]) -> String {
    let mut v = Vec::new();
    if !o.is_empty() {
        v.push(format!("ours: {}", o.join(", ")));
    }
    if !k.is_empty() {
        v.push(format!("keepalived: {}", k.join(", ")));
    }
    v.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_as_configured() {
        assert_eq!(I_10MS.config(), "0.01");
        assert_eq!(I_100MS.config(), "0.1");
        assert_eq!(I_1S.config(), "1");
        assert_eq!(Interval(5).config(), "0.05");
        assert_eq!(I_10MS.duration(), Duration::from_millis(10));
    }

    #[test]
    fn median_and_p95() {
        assert_eq!(median_p95(&[]), None);
        assert_eq!(median_p95(&[3.0]), Some((3.0, 3.0)));
        assert_eq!(median_p95(&[4.0, 1.0, 3.0, 2.0]), Some((2.5, 4.0)));
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(median_p95(&v), Some((50.5, 95.0)));
    }

    #[test]
    fn many_instances() {
        let c = many_config(3, I_100MS, "MASTER", 100);
        assert_eq!(c.matches("vrrp_instance").count(), 3);
        assert!(c.contains("virtual_router_id 3\n") && c.contains("10.0.1.3\n"));
    }
}
