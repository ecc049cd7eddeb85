//! Frozen daemons: a stalled backup and a frozen master (SIGSTOP for 5 × master-down,
//! then SIGCONT), node1 `state MASTER` priority 100 and node2 `state BACKUP` priority 90.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};

use super::{Impl, Interval, Pair, VIP, node_ip, single_config};
use crate::impair::{Direction, Impairment};
use crate::lab::{Host, Lab};
use crate::takeover::{epoch_secs, master_down_v3};

/// The backup's Master_Down_Interval at `interval`.
fn backup_down(interval: Interval) -> Duration {
    master_down_v3(90, interval.duration())
}

/// Starts node1 (MASTER, 100) and node2 (BACKUP, 90) and waits until node1 alone holds
/// the VIP for longer than the backup's master-down interval.
fn start_pair<'a>(
    lab: &'a Lab,
    imp: Impl,
    interval: Interval,
    watch: &crate::VipWatch,
) -> Result<Pair<'a>> {
    let mut pair = Pair::new(lab, imp);
    pair.start(1, &single_config(interval, "MASTER", 100))?;
    pair.start(2, &single_config(interval, "BACKUP", 90))?;
    let down = backup_down(interval);
    watch
        .wait(2 * down + Duration::from_secs(10), |h| h == [1])
        .context("node1 never became the only master")?;
    std::thread::sleep(down + 3 * interval.duration());
    if watch.holders() != [1] {
        bail!("{imp}: holders {:?} after the election", watch.holders());
    }
    Ok(pair)
}

/// What the stalled-backup runs saw.
#[derive(Default)]
pub(crate) struct Stalled {
    /// Stalls after which the backup took the VIP or advertised as master.
    pub takeovers: u64,
    pub cycles: u64,
    /// Client gap around each stall (ms): the master is untouched, so this is noise.
    pub gaps: Vec<f64>,
    pub notes: Vec<String>,
}

/// The backup's daemon is frozen for 5 × its master-down interval, then resumed,
/// `cycles` times. A false takeover is the VIP appearing on node2 or node2 advertising
/// with a priority above 0, from the freeze until master-down + 5 adverts after SIGCONT.
pub(crate) fn stalled_backup(
    lab: &Lab,
    imp: Impl,
    interval: Interval,
    cycles: usize,
    tag: &str,
) -> Result<Stalled> {
    let down = backup_down(interval);
    let advert = interval.duration();
    let capture = lab.start_capture(Host::Switch, "br0", &["vrrp"], &format!("stall-{tag}"))?;
    let watch = lab.watch_vip(VIP)?;
    let pair = start_pair(lab, imp, interval, &watch)?;
    let budget = (6 * down + 10 * advert + Duration::from_secs(4)) * cycles as u32;
    let probe = lab.start_probe_for(VIP, 9310, budget + Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_millis(100));
    let mut windows = Vec::new();
    for _ in 0..cycles {
        let wall = epoch_secs(SystemTime::now());
        let at = Instant::now();
        pair.freeze(2)?;
        std::thread::sleep(5 * down);
        pair.thaw(2)?;
        std::thread::sleep(down + 5 * advert);
        let end = Instant::now();
        windows.push((wall, epoch_secs(SystemTime::now()), at, end));
        // A backup that did take over hands back to the master (priority 100 preempts).
        let _ = watch.wait(Duration::from_secs(3), |h| h == [1]);
    }
    let report = probe.stop()?;
    let timeline = watch.stop()?;
    drop(pair);
    let adverts = capture.vrrp_adverts()?;
    let mut out = Stalled {
        cycles: cycles as u64,
        ..Stalled::default()
    };
    for &(wall_from, wall_to, from, to) in &windows {
        let (f, t) = (timeline.since_start(from), timeline.since_start(to));
        let vip = timeline.held_during(2, f, t);
        let advertised = adverts
            .iter()
            .any(|a| a.src == node_ip(2) && a.priority > 0 && a.at >= wall_from && a.at <= wall_to);
        if vip || advertised {
            out.takeovers += 1;
        }
        out.gaps
            .push(report.gap_around(from, to).as_secs_f64() * 1e3);
    }
    Ok(out)
}

/// Whose ARP reply reaches the client first in the frozen-master runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FirstReply {
    /// The new master's (the frozen node's link delays frames to it by 2 ms).
    NewMaster,
    /// The frozen node's (the new master's link delays frames to it by 2 ms).
    Frozen,
}

impl fmt::Display for FirstReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FirstReply::NewMaster => "new master's ARP reply first",
            FirstReply::Frozen => "frozen host's ARP reply first",
        })
    }
}

/// What the frozen-master runs saw.
#[derive(Default)]
pub(crate) struct Frozen {
    /// Longest client gap (ms) from the freeze to 1.5 s after SIGCONT, per run.
    pub gaps: Vec<f64>,
    /// ARP replies for the VIP sent by the frozen node between the takeover and SIGCONT.
    pub frozen_replies: u64,
    /// ARP requests for the VIP the client sent in that time.
    pub requests: u64,
    pub notes: Vec<String>,
}

/// Priority of the `ip rule` that stands for the service on the frozen node dying.
const BLOCK_PREF: &str = "50";

/// The master's daemon is frozen for 5 × the backup's master-down interval while the
/// service behind the VIP on that host is dead too (the client's probes to it are
/// dropped by an `ip rule` there); the frozen kernel still holds the VIP. Once the backup
/// has taken over, the client forgets the VIP's MAC and asks again with a broadcast ARP
/// request, which reaches both nodes; the node that should answer second gets frames
/// 2 ms late through a relay on its link. The client keeps the first reply. Then the
/// service and the daemon resume.
pub(crate) fn frozen_master(
    lab: &Lab,
    imp: Impl,
    interval: Interval,
    reps: usize,
    first: FirstReply,
    port: u16,
    tag: &str,
) -> Result<Frozen> {
    let down = backup_down(interval);
    let slow = match first {
        FirstReply::NewMaster => 1,
        FirstReply::Frozen => 2,
    };
    let relay = lab.impair_link(slow)?;
    // The local table's rule moves below ours, so that ours can drop traffic to a local
    // address (once per lab).
    if lab
        .exec_ok(1, &["ip", "rule", "show", "pref", "0"])?
        .contains("lookup local")
    {
        lab.exec_ok(1, &["ip", "rule", "add", "pref", "100", "lookup", "local"])?;
        lab.exec_ok(1, &["ip", "rule", "del", "pref", "0", "lookup", "local"])?;
    }
    let block_args = [
        "pref",
        BLOCK_PREF,
        "iif",
        "eth0",
        "to",
        VIP,
        "ipproto",
        "udp",
        "dport",
        &port.to_string(),
        "prohibit",
    ]
    .map(str::to_string);
    let rule = |verb: &str| -> Result<()> {
        let mut args = vec!["ip", "rule", verb];
        args.extend(block_args.iter().map(String::as_str));
        lab.exec_ok(1, &args).map(drop)
    };

    let capture = lab.start_capture(
        Host::Switch,
        "br0",
        &["vrrp", "or", "arp"],
        &format!("frozen-{tag}"),
    )?;
    let watch = lab.watch_vip(VIP)?;
    let pair = start_pair(lab, imp, interval, &watch)?;
    let mac1 = lab.mac(1)?;
    let client_mac = lab.mac(Host::Client)?;
    let after = Duration::from_millis(1500);
    let budget = (5 * down + after + Duration::from_secs(5)) * reps as u32;
    let probe = lab.start_probe_for(VIP, port, budget + Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_millis(200));

    let mut out = Frozen::default();
    let mut runs = Vec::new();
    for rep in 0..reps {
        rule("add")?;
        let stopped = Instant::now();
        pair.freeze(1)?;
        let took = watch.wait(3 * down + Duration::from_secs(2), |h| h.contains(&2));
        let taken_wall = epoch_secs(SystemTime::now());
        if took.is_err() {
            out.notes
                .push(format!("run {}: the backup never took over", rep + 1));
        }
        // Let the takeover's gratuitous ARPs land, then make the client ask.
        std::thread::sleep(Duration::from_millis(100));
        relay.set(
            Direction::ToHost,
            Impairment {
                delay: Duration::from_millis(2),
                ..Impairment::default()
            },
        );
        let _ = lab.exec(Host::Client, &["ip", "neigh", "del", VIP, "dev", "eth0"]);
        std::thread::sleep((stopped + 5 * down).saturating_duration_since(Instant::now()));
        relay.clear();
        let thawed_wall = epoch_secs(SystemTime::now());
        rule("del")?;
        let thawed = Instant::now();
        pair.thaw(1)?;
        if watch.wait(Duration::from_secs(3), |h| h == [1]).is_err() {
            out.notes.push(format!(
                "run {}: holders {:?} 3 s after SIGCONT",
                rep + 1,
                watch.holders()
            ));
        }
        std::thread::sleep((thawed + after).saturating_duration_since(Instant::now()));
        runs.push((stopped, Instant::now(), taken_wall, thawed_wall));
        let _ = watch.wait(Duration::from_secs(3), |h| h == [1]);
    }
    let report = probe.stop()?;
    drop(watch);
    drop(pair);
    let frames = capture.frames(&["arp"])?;
    let reply_from_1 = format!("Reply {VIP} is-at {mac1}");
    let request = format!("Request who-has {VIP} tell");
    for &(from, to, taken, thawed) in &runs {
        out.gaps
            .push(report.gap_around(from, to).as_secs_f64() * 1e3);
        let window = frames.iter().filter(|f| f.at >= taken && f.at <= thawed);
        for f in window {
            if f.src_mac == mac1 && f.line.contains(&reply_from_1) {
                out.frozen_replies += 1;
            }
            if f.src_mac == client_mac && f.line.contains(&request) {
                out.requests += 1;
            }
        }
    }
    drop(relay);
    Ok(out)
}
