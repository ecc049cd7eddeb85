//! The event loop: wires the kernel edges (XDP maps and events, sockets, netlink, scripts,
//! signals) to the sans-IO [`vrrp::Instance`]s.
//!
//! It sleeps until the earliest instance deadline, an XDP ring-buffer event, a script result
//! or a signal. A backup is never woken per advert: at its master-down deadline it rereads the
//! peer's last-seen time from the `PEERS` map and only then decides.
use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::PathBuf,
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use tokio::{
    io::unix::AsyncFd,
    signal::unix::{SignalKind, signal},
    sync::{mpsc, oneshot},
    task::JoinHandle,
    time,
};
use tracing::{debug, error, info, warn};
use vrrp_common::{
    AUTH_NONE, AUTH_PASS, FAMILY_V4, FAMILY_V6, InstanceConfig, InstanceKey, PeerEvent, PeerState,
    TtlBounds, iface_flags, instance_flags,
};

use crate::{
    coalesce,
    config::{
        self, Authentication, Config, Family, InitialState, OldUnicastChecksum, VrrpInstance,
    },
    control::{
        self, DataplaneStatus, Histogram, InstanceStats, InstanceStatus, ScriptStatus, Snapshot,
        TrackedObject, TransitionInfo,
    },
    dataplane::Dataplane,
    guardian::{self, Guardian},
    handoff::{self, HandedInstance, HandedScript, Handoff},
    net::monitor::{
        AddressRemoved, LinkChange, RoutingRemoved, spawn_address_monitor, spawn_link_monitor,
        spawn_routing_monitor,
    },
    net::{
        AddressOptions, AdvertSocket, GarpSocket, Interface, NaSocket, Netlink, Outbox,
        pacer::{self, Pacer},
        routes::{self, Change, Routes},
    },
    notify::{Fifo, Notifier},
    packet::{self, V2Auth, V3Checksum},
    timer::DeadlineTimer,
    track::{
        self, ScriptState,
        identity::{self, RunAs},
        runner,
    },
    units::{Centiseconds, MonoTime},
    util::mono_now,
    vrrp::{self, Action, Event, GarpBurst, Instance, Params},
};

/// Command-line switches that are not keepalived.conf keywords.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Drop valid adverts in XDP after recording them (the stack never sees them).
    pub consume_adverts: bool,
    /// The status socket (`vrrp-daemon status`).
    pub control_socket: PathBuf,
    /// Where to serve Prometheus metrics, if anywhere.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Ask the daemon already running on `control_socket` to hand over, then carry on
    /// its instances without failover (see [`crate::handoff`]).
    pub takeover: bool,
    /// The bpffs where a handover pins the XDP links.
    pub bpffs: PathBuf,
    /// The configuration id `@ID` lines are chosen by, at start and at every reload.
    pub config_id: String,
}

/// Run the daemon for the configuration in `path` (already loaded as `config`) until
/// SIGTERM / SIGINT. SIGHUP reloads `path`.
pub async fn run(path: PathBuf, config: Config, options: Options) -> Result<()> {
    if crate::util::request_short_slice() {
        debug!("scheduler: shortest time slice requested, so timer wake-ups preempt batch work");
    }
    // The guardian first: when this process dies the kernel closes its descriptors in
    // order, and closing an XDP link detaches the program (RTNL, RCU grace periods: tens of
    // milliseconds on a busy host). The pipe to the guardian, opened before any of them,
    // is closed first, so the priority-0 adverts leave before the teardown, not after.
    let guardian = match Guardian::start() {
        Ok(g) => Some(g),
        Err(e) => {
            warn!(error = %format!("{e:#}"), "no crash guardian: a crash will fail over after the full master-down interval");
            None
        }
    };
    // An old kernel is refused by version and missing feature before anything is touched.
    let kernel = crate::dataplane::kernel::check()?;
    tracing::info!(%kernel, "kernel has BPF ring buffers and bpf_link XDP");
    let netlink = Netlink::connect()?;
    let (mut dataplane, resume) = dataplane_and_handoff(&options).await?;
    let ring = dataplane
        .take_events()
        .context("the event ring buffer was already taken")?;
    // SAFETY: the ring buffer owns its map fd, which stays open and unchanged until the
    // AsyncFd (its owner from here on) is dropped.
    let mut events =
        unsafe { AsyncFd::register_with_interest(ring, tokio::io::Interest::READABLE) }
            .map_err(|e| anyhow::anyhow!("watching the XDP event ring buffer: {e}"))?;
    let (lost_tx, mut routes_lost) = mpsc::unbounded_channel();

    let mut daemon = Daemon {
        options,
        path,
        config: Config::default(),
        netlink,
        dataplane,
        attached: Vec::new(),
        attach_modes: Vec::new(),
        started: mono_now(),
        running: Vec::new(),
        scripts: Scripts::default(),
        heartbeat: coalesce::HeartbeatLimiter::default(),
        routes: Routes::start(lost_tx),
        recreated: Default::default(),
        awaited: Default::default(),
        startup_hold: None,
        outbox: Outbox::default(),
        links: HashMap::new(),
        watched: Watchers::default(),
        fifos: Vec::new(),
        vmac_sysctls: resume
            .as_ref()
            .map(|h| {
                h.sysctls
                    .iter()
                    .map(|(i, k, v)| ((i.clone(), k.clone()), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        resume,
        guardian,
        pacer: Pacer::default(),
        auto_priority: Default::default(),
    };
    let (requests_tx, mut requests) = mpsc::channel::<oneshot::Sender<Snapshot>>(16);
    let _control =
        control::server::spawn(&daemon.options.control_socket, requests_tx.clone()).await?;
    let metrics = match daemon.options.metrics_listen {
        Some(addr) => Some(control::metrics::spawn(addr, requests_tx).await?),
        None => None,
    };
    let (link_tx, mut link_changes) = mpsc::unbounded_channel();
    spawn_link_monitor(link_tx)?;
    let (removed_tx, mut removed_addresses) = mpsc::unbounded_channel();
    spawn_address_monitor(removed_tx)?;
    let (routing_tx, mut routing_removed) = mpsc::unbounded_channel();
    spawn_routing_monitor(routing_tx)?;
    daemon.dataplane.heartbeat(mono_now().0)?;
    // A restart that takes over carries on at once; only a fresh start waits.
    let delay = config.global.startup_delay;
    if !delay.is_zero() && daemon.resume.is_none() {
        info!(
            ?delay,
            "vrrp_startup_delay: instances stay in INIT until it has passed"
        );
        daemon.startup_hold = Some(tokio::time::Instant::now() + delay);
    }
    daemon.apply(config).await?;
    if let Some(h) = daemon.resume.take() {
        info!(
            from_pid = h.pid,
            instances = h.instances.len(),
            handoff_age_ms = h.age().as_secs_f64() * 1e3,
            "took over from the previous daemon"
        );
    }
    // A handover pins under --bpffs; mounting one there needs CAP_SYS_ADMIN, dropped below.
    if let Err(e) = handoff::mount_bpffs(&daemon.options.bpffs) {
        debug!(error = %format!("{e:#}"), "no bpffs for a handover; a restart will resign instead");
    }
    // Set-up is done: the event loop's scheduling (realtime only now: see the module),
    // then keep only what reloads, VIP changes, map updates and scripts need.
    crate::scheduling::apply(&daemon.config.global.process);
    daemon.auto_priority = crate::scheduling::AutoPriority::new(&daemon.config.global.process);
    crate::privilege::drop_after_setup(&daemon.config)?;
    // Ready: XDP attached, instances running, status socket up.
    crate::util::release_free_heap();
    crate::sd_notify::notify("READY=1");

    let timer = DeadlineTimer::new().context("creating the deadline timer (timerfd)")?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigusr1 = signal(SignalKind::user_defined1())?;
    let mut sigusr2 = signal(SignalKind::user_defined2())?;
    let mut sigxcpu = signal(SignalKind::from_raw(libc::SIGXCPU))?;
    let mut handoff_signal = signal(SignalKind::from_raw(handoff::signal()))?;
    let mut handing_over = false;
    let mut retry = time::interval(Duration::from_secs(1));
    retry.set_missed_tick_behavior(time::MissedTickBehavior::Delay);
    loop {
        let next = daemon.running.iter().filter_map(|r| r.fsm.deadline()).min();
        let paced = daemon.pacer.next_due();
        tokio::select! {
            biased;
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
            _ = handoff_signal.recv() => {
                handing_over = true;
                break;
            }
            // Deadlines before any other event: a stream of ring-buffer events, status requests
            // or script results must never hold back a takeover. Handling a deadline
            // before a pending ring-buffer event loses nothing: on_deadlines rereads PEERS.
            woke = timer.sleep_until(next) => {
                woke.context("waiting on the deadline timer")?;
                if let Some(due) = next {
                    let late = Duration::from_nanos(mono_now().0.saturating_sub(due.0));
                    daemon.auto_priority.on_wake(late);
                }
                daemon.on_deadlines().await;
            }
            _ = sighup.recv() => daemon.reload().await,
            _ = sigxcpu.recv() => {
                crate::scheduling::on_cpu_limit();
                daemon.auto_priority.demoted();
            }
            _ = time::sleep_until(paced.unwrap_or_else(time::Instant::now)), if paced.is_some() => {
                daemon.send_paced();
            }
            // keepalived's dumps: SIGUSR1 the data, SIGUSR2 the statistics.
            _ = sigusr1.recv() => control::dump::write(control::dump::DATA_FILE, &control::server::render(&daemon.snapshot())),
            _ = sigusr2.recv() => control::dump::write(control::dump::STATS_FILE, &control::dump::stats(&daemon.snapshot())),
            guard = events.readable_mut() => {
                let mut guard = guard?;
                let mut batch = Vec::new();
                while let Some(item) = guard.get_inner_mut().next() {
                    if let Ok(ev) = bytemuck::try_pod_read_unaligned::<PeerEvent>(&item) {
                        batch.push(ev);
                    }
                }
                guard.clear_ready();
                for ev in batch {
                    daemon.on_peer_event(ev).await;
                }
            }
            Some(result) = daemon.scripts.results.recv() => daemon.on_script_result(result).await,
            Some(change) = link_changes.recv() => daemon.on_link_change(change).await,
            Some(removed) = removed_addresses.recv() => daemon.on_address_removed(removed).await,
            Some(removed) = routing_removed.recv() => daemon.on_routing_removed(&removed),
            Some(lost) = routes_lost.recv() => daemon.on_route_lost(lost).await,
            _ = retry.tick(), if !daemon.recreated.is_empty() => daemon.set_up_recreated().await,
            _ = time::sleep_until(daemon.startup_hold.unwrap_or_else(time::Instant::now)), if daemon.startup_hold.is_some() => {
                daemon.end_startup_hold().await;
            }
            Some((name, value)) = daemon.watched.files.recv() => {
                if daemon.watched.file_values.insert(name.clone(), value) != Some(value) {
                    info!(track_file = %name, ?value, "tracked file changed");
                    daemon.refresh_tracking(mono_now()).await;
                }
            }
            Some((name, ok)) = daemon.watched.processes.recv() => {
                if daemon.watched.process_ok.insert(name.clone(), ok) != Some(ok) {
                    info!(track_process = %name, ok, "tracked process quorum changed");
                    daemon.refresh_tracking(mono_now()).await;
                }
            }
            Some(reply) = requests.recv() => {
                let _ = reply.send(daemon.snapshot());
            }
        }
    }
    if let Some(task) = metrics {
        task.abort();
    }
    if handing_over {
        daemon.hand_over().await;
    } else {
        daemon.shutdown().await;
    }
    Ok(())
}

/// Load the data plane and take over from a predecessor, if there is one.
///
/// With `--takeover` the predecessor still runs: the program is loaded and verified first
/// (the slow part) and only then is it asked to hand over. Without, a predecessor stopped
/// by the handoff signal may have left its state: take it first, since every moment counts
/// now. Either way, when the predecessor pinned the very same object, its program and
/// maps are taken as they are (nothing to verify, peers and counters kept).
async fn dataplane_and_handoff(options: &Options) -> Result<(Dataplane, Option<Handoff>)> {
    let dir = handoff::pin_dir(&options.bpffs);
    let (fresh, resume) = if options.takeover {
        let fresh = Dataplane::load()?;
        (Some(fresh), receive_handoff(options).await)
    } else {
        (None, receive_handoff(options).await)
    };
    let reusable = resume
        .as_ref()
        .is_some_and(|h| h.program_pinned && h.object == crate::dataplane::object_tag());
    if reusable {
        match Dataplane::from_pins(&dir) {
            Ok(mut dataplane) => {
                // Configured afresh from this daemon's configuration by `apply`.
                dataplane.clear_settings();
                info!("XDP program and maps taken over from the previous daemon (same object)");
                return Ok((dataplane, resume));
            }
            Err(e) => {
                warn!(error = %format!("{e:#}"), "could not take over the pinned XDP program; loading it afresh")
            }
        }
    }
    // Not taken: a predecessor's pins must not keep its program and maps alive.
    Dataplane::remove_pins(&dir);
    let dataplane = match fresh {
        Some(fresh) => fresh,
        None => Dataplane::load()?,
    };
    Ok((dataplane, resume))
}

/// With `--takeover`, signal the daemon running on our control socket to hand over and wait
/// for it to exit; then take the state file it (or a predecessor stopped by the unit's
/// `RestartKillSignal=`) left, if any.
async fn receive_handoff(options: &Options) -> Option<Handoff> {
    if options.takeover {
        match control::server::query(&options.control_socket).await {
            Ok(snapshot) if snapshot.pid != std::process::id() => {
                let pid = snapshot.pid;
                info!(pid, "--takeover: asking the running daemon to hand over");
                // SAFETY: plain kill(2).
                if unsafe { libc::kill(pid as libc::pid_t, handoff::signal()) } != 0 {
                    warn!(pid, error = %std::io::Error::last_os_error(), "could not signal the running daemon; starting afresh");
                } else {
                    let deadline = std::time::Instant::now() + Duration::from_secs(10);
                    while !exited(pid) {
                        if std::time::Instant::now() > deadline {
                            warn!(pid, "the running daemon did not exit within 10 s");
                            break;
                        }
                        time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            Ok(_) => {}
            Err(e) => {
                info!(error = %format!("{e:#}"), "--takeover: no daemon answers on the control socket; starting afresh")
            }
        }
    }
    match Handoff::take(&handoff::state_file(&options.control_socket)) {
        Ok(found) => found,
        Err(e) => {
            warn!(error = %format!("{e:#}"), "not resuming from the handoff state file");
            None
        }
    }
}

/// Whether process `pid` is gone (a zombie counts: it no longer does anything).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_none_or(|state| matches!(state, 'Z' | 'X')),
    }
}

/// Everything the event loop owns.
struct Daemon {
    options: Options,
    path: PathBuf,
    config: Config,
    netlink: Netlink,
    dataplane: Dataplane,
    /// Interface name → up, for tracking (kept current by the link monitor).
    links: HashMap<String, bool>,
    /// Notify FIFOs (`notify_fifo`, `vrrp_notify_fifo`).
    fifos: Vec<Fifo>,
    /// The crash guardian (absent only if it could not be started).
    guardian: Option<Guardian>,
    /// Gratuitous ARPs and NAs waiting for their interface's pace.
    pacer: Pacer<Announcement>,
    /// `max_auto_priority`.
    auto_priority: crate::scheduling::AutoPriority,
    /// What the previous daemon handed over, until the first configuration is applied.
    resume: Option<Handoff>,
    /// `(interface, sysctl) → value before` of the base interfaces `use_vmac` changed:
    /// restored when the last VMAC instance on that interface goes (stop or reload), and
    /// handed to the next daemon on a handover.
    vmac_sysctls: std::collections::BTreeMap<(String, String), String>,
    /// `track_file` values and `vrrp_track_process` quorums, kept current by watchers.
    watched: Watchers,
    /// Interfaces the XDP program is attached to.
    attached: Vec<String>,
    /// `(interface, mode)` of each attachment, for status.
    attach_modes: Vec<(String, String)>,
    /// When the daemon started.
    started: MonoTime,
    running: Vec<Running>,
    scripts: Scripts,
    /// Keeps heartbeat writes to one per millisecond however often the loop wakes.
    heartbeat: coalesce::HeartbeatLimiter,
    /// Adverts of the current wake, sent together at its end.
    outbox: Outbox,
    /// `virtual_routes` and `virtual_rules` changes, run in order in the background.
    routes: Routes,
    /// Interfaces deleted and created again under the same name whose instances still
    /// have to be set up on the new one (retried every second until that works).
    recreated: std::collections::BTreeSet<String>,
    /// Interfaces that instances need but that do not exist yet (`dynamic_interfaces`):
    /// their instances are set up when the link monitor sees them appear.
    awaited: std::collections::BTreeSet<String>,
    /// `vrrp_startup_delay`: until then instances stay in INIT (no adverts, no takeover),
    /// as keepalived holds them while a booting host's network settles.
    startup_hold: Option<tokio::time::Instant>,
}

/// The file and process watchers of the current configuration and what they last said.
struct Watchers {
    file_values: HashMap<String, Option<i64>>,
    process_ok: HashMap<String, bool>,
    tasks: Vec<JoinHandle<()>>,
    files: mpsc::UnboundedReceiver<(String, Option<i64>)>,
    processes: mpsc::UnboundedReceiver<(String, bool)>,
}

impl Default for Watchers {
    fn default() -> Self {
        Self {
            file_values: HashMap::new(),
            process_ok: HashMap::new(),
            tasks: Vec::new(),
            files: mpsc::unbounded_channel().1,
            processes: mpsc::unbounded_channel().1,
        }
    }
}

/// The health-check runners of the current configuration.
struct Scripts {
    states: Vec<ScriptState>,
    /// Per script: successes, failures, duration of the last run.
    runs: Vec<(u64, u64, Duration)>,
    tasks: Vec<JoinHandle<()>>,
    /// Results of this configuration's runners (replaced on reload, so a result of an old
    /// runner can never be attributed to a new script).
    results: mpsc::Receiver<runner::RunResult>,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            states: Vec::new(),
            runs: Vec::new(),
            tasks: Vec::new(),
            results: mpsc::channel(1).1,
        }
    }
}

/// One configured instance with its edges.
struct Running {
    config: VrrpInstance,
    key: InstanceKey,
    fsm: Instance,
    iface: Interface,
    socket: AdvertSocket,
    garp: GarpSocket,
    /// Unsolicited neighbour advertisements: one socket per interface that holds IPv6
    /// addresses of the instance.
    na: Vec<NaSocket>,
    notifier: Notifier,
    /// Every address the instance moves: the virtual addresses, then
    /// `virtual_ipaddress_excluded`.
    vips: Vec<Vip>,
    /// Where adverts go: each `unicast_peer`, or the multicast group.
    destinations: Vec<IpAddr>,
    /// Checksum form to send (VRRPv3 over IPv4).
    v3_checksum: V3Checksum,
    /// The advert template (priority patched per send).
    advert: packet::Advert,
    /// The VMAC interface this daemon created (`use_vmac`), deleted on the way out.
    vmac: Option<Interface>,
    /// `(base interface, sysctl, value before)` of what `use_vmac` changed on the base
    /// interface (taken into [`Daemon::vmac_sysctls`] once the instance runs).
    vmac_sysctls: Vec<(String, String, String)>,
    /// `last_seen_ns` of the newest advert fed to the state machine.
    fed_ns: u64,
    /// The tracking result last given to the state machine.
    tracking: Option<track::Effect>,
    /// Counters for status and metrics.
    stats: InstanceStats,
    /// When the current state was entered.
    state_since: MonoTime,
    /// The last transition and when it happened.
    last_transition: Option<(Transition, MonoTime)>,
    /// What the previous daemon handed over for it, until it starts.
    resumed: Option<vrrp::Resumed>,
}

/// A virtual address as the edges need it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Vip {
    /// The interface it lives on (`dev`, else the instance's, or its VMAC).
    ifindex: u32,
    /// Where the XDP program sees requests for it: the VMAC's base interface for a VMAC
    /// address, else `ifindex`.
    xdp_ifindex: u32,
    /// Its name.
    ifname: String,
    addr: IpAddr,
    prefix_len: u8,
    /// That interface's hardware address (the ARP / NA responder answers with it).
    mac: [u8; 6],
    /// `label`, `brd`, `scope`.
    options: AddressOptions,
    /// Not `no_track`: its removal by someone else makes a master step down.
    tracked: bool,
}

/// The kernel-side edges an action may touch.
struct Edges<'a> {
    netlink: &'a Netlink,
    dataplane: &'a mut Dataplane,
    fifos: &'a mut [Fifo],
    guardian: &'a mut Option<Guardian>,
    routes: &'a Routes,
    /// Gratuitous ARPs and NAs waiting for their interface's pace.
    pacer: &'a mut Pacer<Announcement>,
    /// `vrrp_garp_interval`, `vrrp_gna_interval`.
    pacing: (Duration, Duration),
}

/// One gratuitous ARP or unsolicited NA: for `addr`, of instance `key`, on interface
/// `ifindex` whose hardware address is `mac`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Announcement {
    key: InstanceKey,
    ifindex: u32,
    mac: [u8; 6],
    addr: IpAddr,
}

impl Running {
    /// Sends `a` through this instance's sockets.
    fn announce(&mut self, a: &Announcement) {
        let sent = match a.addr {
            IpAddr::V4(v4) => self.garp.send(a.ifindex, a.mac, v4),
            IpAddr::V6(v6) => self
                .na
                .iter()
                .find(|n| n.ifindex() == a.ifindex)
                .map_or(Ok(()), |na| na.send(v6)),
        };
        match sent {
            Ok(()) => self.stats.garp_sent += 1,
            Err(e) => {
                warn!(instance = %self.config.name, addr = %a.addr, error = %e, "gratuitous ARP / unsolicited NA not sent");
            }
        }
    }
}

/// keepalived's identity of an instance across reloads (KEEPALIVED.md §1.1): VRID, family,
/// interface, unicast or not with its source, multicast group. Not its name.
type Identity<'a> = (u8, bool, &'a str, bool, Option<IpAddr>, Option<IpAddr>);

fn identity(inst: &VrrpInstance) -> Identity<'_> {
    (
        inst.vrid,
        is_v6(inst),
        inst.interface.as_str(),
        inst.is_unicast(),
        inst.src_ip,
        inst.mcast_dst_ip,
    )
}

/// The instance's address family (resolved by the configuration).
fn is_v6(inst: &VrrpInstance) -> bool {
    inst.family == Family::Ipv6
}

/// How long start-up waits for an IPv6 link-local address to finish duplicate address
/// detection (about one second after the link comes up).
const LINK_LOCAL_WAIT: Duration = Duration::from_secs(5);

/// The advert source: the primary IPv4 address, or the IPv6 link-local address.
async fn primary_address(
    inst: &VrrpInstance,
    iface: &Interface,
    vips: &[IpAddr],
    netlink: &Netlink,
) -> Result<IpAddr> {
    if let Some(src) = inst.src_ip {
        // `unicast_src_ip` / `mcast_src_ip`: binding the socket to it checks it is ours.
        return Ok(src);
    }
    if !is_v6(inst) {
        return netlink
            .primary_ipv4(iface.index, vips)
            .await
            .map(IpAddr::V4);
    }
    let deadline = tokio::time::Instant::now() + LINK_LOCAL_WAIT;
    loop {
        if let Some(ll) = netlink.link_local_ipv6(iface.index).await? {
            return Ok(IpAddr::V6(ll));
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "{} has no usable IPv6 link-local address (IPv6 disabled, or duplicate address \
                 detection failed); VRRPv3 over IPv6 sends from it",
                iface.name
            );
        }
        time::sleep(Duration::from_millis(100)).await;
    }
}

impl Daemon {
    fn edges(&mut self) -> Edges<'_> {
        Edges {
            netlink: &self.netlink,
            dataplane: &mut self.dataplane,
            fifos: &mut self.fifos,
            guardian: &mut self.guardian,
            routes: &self.routes,
            pacer: &mut self.pacer,
            pacing: (
                self.config.global.garp_interval,
                self.config.global.gna_interval,
            ),
        }
    }

    /// Sends the paced announcements that are due.
    fn send_paced(&mut self) {
        for a in self.pacer.due(time::Instant::now()) {
            if let Some(r) = self.running.iter_mut().find(|r| r.key == a.key) {
                r.announce(&a);
            }
        }
    }

    /// Make the running set match `config`: keep instances whose identity is unchanged (with
    /// their state), stop removed ones, start new ones, restart the health checks.
    ///
    /// Every event is stamped with the time it is handed over, not the time `apply`
    /// began: attaching XDP and opening sockets can take tens of milliseconds on a busy
    /// host, and a master-down timer started from a stale clock would fire that much early
    /// (a new backup next to a live master would take over at 10 ms adverts).
    async fn apply(&mut self, config: Config) -> Result<()> {
        // 1. Prepare everything that can fail before changing anything.
        let notify_as = identity::resolve(None, config.global.script_user.as_deref())?;
        let mut script_as = Vec::new();
        for s in &config.scripts {
            let run_as = identity::resolve(s.user.as_deref(), config.global.script_user.as_deref())
                .map_err(|e| anyhow::anyhow!("vrrp_script {}: {e}", s.name))?;
            script_as.push(run_as);
        }
        let mut fifos = Vec::new();
        for fifo in [&config.global.notify_fifo, &config.global.vrrp_notify_fifo]
            .into_iter()
            .flatten()
        {
            fifos.push(Fifo::open(fifo, notify_as)?);
        }
        let mut fresh = Vec::new();
        for inst in &config.instances {
            if !self
                .running
                .iter()
                .any(|r| identity(&r.config) == identity(inst))
            {
                if config.global.dynamic_interfaces
                    && let Some(missing) = missing_interface(inst)
                {
                    if self.awaited.insert(missing.to_owned()) {
                        warn!(instance = %inst.name, interface = %missing, "interface does not exist yet; the instance starts when it appears (dynamic_interfaces)");
                    }
                    continue;
                }
                if !self.attached.contains(&inst.interface) && self.adopt_link(&inst.interface) {
                    if self.options.consume_adverts {
                        let iface = self.netlink.interface(&inst.interface).await?;
                        self.dataplane
                            .set_iface_flags(iface.index, iface_flags::CONSUME_ADVERTS)?;
                    }
                    info!(interface = %inst.interface, "XDP link taken over from the previous daemon; program replaced in place");
                    self.attach_modes
                        .push((inst.interface.clone(), "taken over".to_string()));
                    self.attached.push(inst.interface.clone());
                }
                if !self.attached.contains(&inst.interface) {
                    let iface = self.netlink.interface(&inst.interface).await?;
                    if let Some(id) = iface.xdp_prog_id {
                        bail!(
                            "interface {} already has the XDP program {} attached; vrrp-daemon \
                             does not replace another program. Detach it (`ip link set dev {} \
                             xdp off`) or chain both with a dispatcher such as libxdp",
                            inst.interface,
                            describe_program(id),
                            inst.interface
                        );
                    }
                    let mode = self
                        .dataplane
                        .attach(&inst.interface, iface.kind.as_deref())?;
                    if self.options.consume_adverts {
                        self.dataplane
                            .set_iface_flags(iface.index, iface_flags::CONSUME_ADVERTS)?;
                    }
                    info!(interface = %inst.interface, ?mode, "XDP advert observer attached");
                    self.attach_modes
                        .push((inst.interface.clone(), format!("{mode:?}").to_lowercase()));
                    self.attached.push(inst.interface.clone());
                }
                let resumed = self.resumed(inst);
                let keep_addresses = resumed.is_some_and(|r| r.state == vrrp::State::Master);
                let mut r = setup_instance(
                    inst,
                    notify_as,
                    &self.netlink,
                    &mut self.dataplane,
                    keep_addresses,
                )
                .await?;
                r.resumed = resumed;
                // The first value seen is the operator's; later ones are our own.
                for (iface, key, old) in std::mem::take(&mut r.vmac_sysctls) {
                    self.vmac_sysctls.entry((iface, key)).or_insert(old);
                }
                fresh.push(r);
            }
        }
        for name in tracked_interfaces(&config) {
            if !self.links.contains_key(&name) {
                let up = match self.netlink.interface(&name).await {
                    Ok(iface) => iface.up,
                    Err(_) => {
                        warn!(interface = %name, "tracked interface does not exist (counts as down)");
                        false
                    }
                };
                self.links.insert(name, up);
            }
        }
        for old in std::mem::replace(&mut self.fifos, fifos) {
            old.close().await;
        }
        // 2. The host's static addresses, routes and rules (before the instances: a
        //    virtual route may go through a static address).
        crate::statics::update(&self.config, &config, &self.netlink, &self.routes).await;
        // 3. Removed instances resign and release their addresses.
        let (kept, removed): (Vec<Running>, Vec<Running>) = std::mem::take(&mut self.running)
            .into_iter()
            .partition(|r| {
                config
                    .instances
                    .iter()
                    .any(|i| identity(i) == identity(&r.config))
            });
        for mut r in removed {
            info!(instance = %r.config.name, "instance removed from the configuration");
            // Resign and release as on a stop, but report FAULT (or DELETED with
            // notify_deleted) rather than STOP, as keepalived does.
            let actions: Vec<Action> = r
                .fsm
                .handle(Event::Shutdown, mono_now())
                .into_iter()
                .filter(|a| !matches!(a, Action::Notify { .. }))
                .collect();
            execute(&mut r, actions, &mut self.edges()).await;
            let priority = r.fsm.priority();
            r.notifier.notify_removed(priority);
            let line = Fifo::line(&r.config.name, r.notifier.removal_state(), priority);
            for fifo in &mut self.fifos {
                fifo.write_line(&line);
            }
            let _ = self.dataplane.remove_instance(&r.key);
            if let Some(v) = &r.vmac {
                let _ = self.netlink.delete_link(v.index).await;
            }
            tokio::spawn(r.notifier.finish(Duration::from_secs(1)));
        }
        let vmac_bases: Vec<String> = kept
            .iter()
            .chain(&fresh)
            .filter(|r| r.vmac.is_some())
            .map(|r| r.config.interface.clone())
            .collect();
        self.restore_vmac_sysctls(|iface| !vmac_bases.iter().any(|b| b == iface));
        // 4. Kept instances take their new parameters without leaving their state.
        for mut r in kept {
            let Some(new) = config
                .instances
                .iter()
                .find(|i| identity(i) == identity(&r.config))
            else {
                continue;
            };
            if let Err(e) = reconfigure(&mut r, new, notify_as, &mut self.edges()).await {
                error!(instance = %new.name, error = %format!("{e:#}"), "reload of this instance failed; it keeps its old settings");
            }
            self.running.push(r);
        }
        // 5. Health checks of the new configuration.
        for task in self.scripts.tasks.drain(..) {
            task.abort();
        }
        let mut states: Vec<ScriptState> = config
            .scripts
            .iter()
            .map(|s| {
                // A script whose definition did not change keeps its rise/fall history.
                let old = self.config.scripts.iter().position(|o| o == s);
                old.and_then(|i| self.scripts.states.get(i).cloned())
                    .or_else(|| handed_script(self.resume.as_ref(), s))
                    .unwrap_or_else(|| ScriptState::new(s))
            })
            .collect();
        let (tx, rx) = mpsc::channel(64);
        let mut tasks = Vec::new();
        let used = tracked_scripts(&config);
        for (index, s) in config.scripts.iter().enumerate() {
            if !used.contains(&s.name) {
                continue;
            }
            if let Some(why) = refuse_script(&config, s, script_as[index]) {
                error!(script = %s.name, "SECURITY: vrrp_script refused, it counts as failed: {why}");
                states[index] = ScriptState::refused(s);
                continue;
            }
            tasks.push(runner::spawn(
                index,
                s.clone(),
                script_as[index],
                tx.clone(),
            ));
        }
        self.scripts = Scripts {
            runs: vec![(0, 0, Duration::ZERO); states.len()],
            states,
            tasks,
            results: rx,
        };
        self.start_watchers(&config);
        self.config = config;
        // 6. Tracking for everyone, then start the new instances.
        let first_new = self.running.len();
        self.running.extend(fresh);
        self.refresh_tracking(mono_now()).await;
        for i in first_new..self.running.len() {
            let event = match self.running[i].resumed.take() {
                Some(resumed) => Event::Resume(resumed),
                // Held in INIT: started when vrrp_startup_delay has passed.
                None if self.startup_hold.is_some() => continue,
                None => Event::Startup,
            };
            self.drive(i, event, mono_now()).await;
        }
        Ok(())
    }

    /// (Re)start the `track_file` and `vrrp_track_process` watchers for `config` and take
    /// the current values they report before returning.
    fn start_watchers(&mut self, config: &Config) {
        let first_start = self.config.instances.is_empty();
        for task in self.watched.tasks.drain(..) {
            task.abort();
        }
        let used = |name: &String| {
            config
                .instances
                .iter()
                .any(|i| i.track_files.iter().any(|t| &t.name == name))
                || config
                    .sync_groups
                    .iter()
                    .any(|g| g.track_files.iter().any(|t| &t.name == name))
        };
        let files: Vec<&config::TrackFile> = config
            .track_files
            .iter()
            .filter(|f| used(&f.name))
            .collect();
        if first_start {
            for f in &files {
                if let Err(e) = track::file::init_file(f) {
                    warn!(track_file = %f.name, error = %e, "init_file could not create the file");
                }
            }
        }
        let used_process = |name: &String| {
            config
                .instances
                .iter()
                .any(|i| i.track_processes.iter().any(|t| &t.name == name))
                || config
                    .sync_groups
                    .iter()
                    .any(|g| g.track_processes.iter().any(|t| &t.name == name))
        };
        let processes: Vec<config::TrackProcess> = config
            .track_processes
            .iter()
            .filter(|p| used_process(&p.name))
            .cloned()
            .collect();
        let (file_tx, file_rx) = mpsc::unbounded_channel();
        let (process_tx, process_rx) = mpsc::unbounded_channel();
        let file_list = files
            .iter()
            .map(|f| (f.name.clone(), std::path::PathBuf::from(&f.file)))
            .collect();
        match track::file::spawn_file_watcher(file_list, file_tx) {
            Ok(task) => self.watched.tasks.push(task),
            Err(e) => {
                error!(error = %format!("{e:#}"), "track_file watcher not started; files count as missing")
            }
        }
        match track::process::spawn_process_watcher(processes, process_tx) {
            Ok(task) => self.watched.tasks.push(task),
            Err(e) => {
                error!(error = %format!("{e:#}"), "process watcher not started; tracked processes count as absent")
            }
        }
        self.watched.files = file_rx;
        self.watched.processes = process_rx;
        self.watched.file_values.clear();
        self.watched.process_ok.clear();
        while let Ok((name, value)) = self.watched.files.try_recv() {
            self.watched.file_values.insert(name, value);
        }
        while let Ok((name, ok)) = self.watched.processes.try_recv() {
            self.watched.process_ok.insert(name, ok);
        }
    }

    /// SIGHUP: parse first; on any error keep running the old configuration.
    async fn reload(&mut self) {
        info!(file = %self.path.display(), "SIGHUP: reloading the configuration");
        crate::sd_notify::notify("RELOADING=1");
        self.reload_inner().await;
        crate::sd_notify::notify("READY=1");
    }

    async fn reload_inner(&mut self) {
        let config = match config::load_as(&self.path, &self.options.config_id) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    warn!("{w}");
                }
                loaded.config
            }
            Err(errors) => {
                for e in &errors.errors {
                    error!("{e}");
                }
                error!(
                    "reload refused: the configuration has errors; still running the previous one"
                );
                return;
            }
        };
        if config.global.net_namespace != self.config.global.net_namespace {
            warn!(
                running_in = ?self.config.global.net_namespace,
                "net_namespace changed: a reload cannot move the daemon to another namespace; \
                 restart it to change namespace"
            );
        }
        if config.global.process != self.config.global.process {
            warn!(
                "vrrp_priority, vrrp_rt_priority, vrrp_no_swap, vrrp_cpu_affinity and \
                 vrrp_rlimit_rttime changed: they take effect when the daemon next starts"
            );
        }
        match self.apply(config).await {
            Ok(()) => info!(instances = self.running.len(), "configuration reloaded"),
            Err(e) => {
                error!(error = %format!("{e:#}"), "reload failed; still running the previous configuration")
            }
        }
    }

    /// Feed one event to instance `i`, carry out its actions, and make its sync group
    /// follow a move into or out of MASTER.
    async fn drive(&mut self, i: usize, event: Event, at: MonoTime) {
        let actions = self.running[i].fsm.handle(event, at);
        self.carry_out(i, actions, at).await;
    }

    /// Carry out `actions` of running instance `j` through the daemon's edges; returns its
    /// transitions.
    async fn execute_on(&mut self, j: usize, actions: Vec<Action>) -> Vec<Transition> {
        let Daemon {
            running,
            netlink,
            dataplane,
            fifos,
            guardian,
            routes,
            pacer,
            config,
            ..
        } = self;
        let mut edges = Edges {
            netlink,
            dataplane,
            fifos,
            guardian,
            routes,
            pacer,
            pacing: (config.global.garp_interval, config.global.gna_interval),
        };
        execute(&mut running[j], actions, &mut edges).await
    }

    /// Carry out instance `i`'s `actions` (the state machine's answer to an event at `at`)
    /// and make its sync group follow a move into or out of MASTER.
    async fn carry_out(&mut self, i: usize, actions: Vec<Action>, at: MonoTime) {
        let ready = actions.contains(&Action::ReadyForMaster);
        let transitions = self.execute_on(i, actions).await;
        let Some(group) = self.running[i].config.sync_group.clone() else {
            return;
        };
        if ready {
            self.sync_group_ready(&group, at).await;
        }
        for (from, to, reason) in transitions {
            if reason == vrrp::Reason::SyncGroup {
                continue;
            }
            let follow = match (from, to) {
                (_, vrrp::State::Master) => vrrp::State::Master,
                (vrrp::State::Master, vrrp::State::Backup) => vrrp::State::Backup,
                _ => continue,
            };
            for j in 0..self.running.len() {
                let member = &mut self.running[j];
                if j != i && member.config.sync_group.as_deref() == Some(group.as_str()) {
                    let actions = member.fsm.handle(Event::SyncGroup { to: follow }, at);
                    self.execute_on(j, actions).await;
                }
            }
        }
    }

    /// A member of sync group `group` became ready for MASTER: when every member is ready
    /// (or already master), the backups among them go MASTER together; otherwise the
    /// group waits, as keepalived's does, for the members whose masters are still heard.
    async fn sync_group_ready(&mut self, group: &str, at: MonoTime) {
        let members: Vec<usize> = (0..self.running.len())
            .filter(|&j| self.running[j].config.sync_group.as_deref() == Some(group))
            .collect();
        let waiting: Vec<&str> = members
            .iter()
            .map(|&j| &self.running[j])
            .filter(|m| m.fsm.state() != vrrp::State::Master && !m.fsm.is_ready_for_master())
            .map(|m| m.config.name.as_str())
            .collect();
        if !waiting.is_empty() {
            info!(
                sync_group = group,
                ?waiting,
                "sync group member ready for MASTER; waiting for the others"
            );
            return;
        }
        for j in members {
            if self.running[j].fsm.state() == vrrp::State::Backup {
                let actions = self.running[j].fsm.handle(
                    Event::SyncGroup {
                        to: vrrp::State::Master,
                    },
                    at,
                );
                self.execute_on(j, actions).await;
            }
        }
    }

    /// Recompute what tracked objects do to every instance (sync groups share FAULT) and
    /// tell the instances whose result changed.
    async fn refresh_tracking(&mut self, now: MonoTime) {
        let statuses: Vec<track::Status> = self
            .scripts
            .states
            .iter()
            .map(ScriptState::status)
            .collect();
        let tracked = track::Tracked {
            scripts: &self.config.scripts,
            statuses: &statuses,
            links: &self.links,
        };
        let mut effects: Vec<track::Effect> = self
            .running
            .iter()
            .map(|r| {
                let group = r
                    .config
                    .sync_group
                    .as_ref()
                    .and_then(|g| self.config.sync_groups.iter().find(|s| &s.name == g));
                let watched = track::Watched {
                    files: &self.config.track_files,
                    file_values: &self.watched.file_values,
                    processes: &self.config.track_processes,
                    process_ok: &self.watched.process_ok,
                };
                track::instance_effect_with(&r.config, group, &tracked, &watched)
            })
            .collect();
        // keepalived: one member in FAULT puts its whole sync group in FAULT.
        for g in &self.config.sync_groups {
            let members: Vec<usize> = (0..self.running.len())
                .filter(|&i| self.running[i].config.sync_group.as_deref() == Some(&g.name))
                .collect();
            if members.iter().any(|&i| effects[i].fault) {
                for &i in &members {
                    effects[i].fault = true;
                }
            }
        }
        for (i, effect) in effects.into_iter().enumerate() {
            let r = &mut self.running[i];
            if r.tracking == Some(effect) {
                continue;
            }
            r.tracking = Some(effect);
            let before = r.fsm.priority();
            let event = Event::Tracking {
                delta: effect.delta,
                fault: effect.fault,
            };
            self.drive(i, event, now).await;
            let r = &self.running[i];
            if r.fsm.priority() != before {
                info!(instance = %r.config.name, from = before, priority = r.fsm.priority(), "effective priority changed by tracked objects");
            }
        }
    }

    async fn on_script_result(&mut self, result: runner::RunResult) {
        let index = result.script;
        if let Some(run) = self.scripts.runs.get_mut(index) {
            if result.success {
                run.0 += 1;
            } else {
                run.1 += 1;
            }
            run.2 = result.duration;
        }
        let Some(state) = self.scripts.states.get_mut(index) else {
            return;
        };
        let Some(status) = state.record(result.success) else {
            return;
        };
        info!(script = %self.config.scripts[index].name, ?status, "vrrp_script status changed");
        self.refresh_tracking(mono_now()).await;
    }

    async fn on_link_change(&mut self, change: LinkChange) {
        if let Some(up) = self.links.get_mut(&change.name)
            && *up != change.up
        {
            *up = change.up;
            info!(interface = %change.name, up = change.up, "tracked interface changed");
            self.refresh_tracking(mono_now()).await;
        }
        // An interface instances were waiting for: set them up (retried every second
        // until it is up and has its address, as for a re-created one).
        if !change.deleted && self.awaited.remove(&change.name) {
            info!(interface = %change.name, "awaited interface appeared; setting up its instances");
            self.recreated.insert(change.name.clone());
        }
        // The same name on a new index: the interface was deleted and created again (a
        // network manager rebuilding a VLAN or a bond). The XDP link, the sockets and the
        // map keys of its instances named the old one.
        if !change.deleted
            && self
                .running
                .iter()
                // The key holds the configured interface's index (the VMAC's base).
                .any(|r| r.config.interface == change.name && r.key.ifindex != change.index)
        {
            self.recreated.insert(change.name.clone());
        }
        if change.up && self.recreated.contains(&change.name) {
            self.set_up_recreated().await;
        }
    }

    /// `vrrp_startup_delay` has passed: start every instance still in INIT.
    async fn end_startup_hold(&mut self) {
        self.startup_hold = None;
        info!("vrrp_startup_delay passed; starting the instances");
        for i in 0..self.running.len() {
            if self.running[i].fsm.state() == vrrp::State::Init {
                self.drive(i, Event::Startup, mono_now()).await;
            }
        }
    }

    /// An address disappeared. A master whose tracked virtual address it was, still
    /// holding it by its own account, did not remove it itself (leaving master, a reload
    /// and a stop change the state or the list first): someone else did, and keepalived's
    /// answer is to become backup so a peer takes over.
    async fn on_address_removed(&mut self, removed: AddressRemoved) {
        let Some(i) = self.running.iter().position(|r| {
            r.fsm.state() == vrrp::State::Master
                && r.vips
                    .iter()
                    .any(|v| v.tracked && v.ifindex == removed.index && v.addr == removed.addr)
        }) else {
            return;
        };
        // A reload that changed an address's options removed and re-added it: the
        // notification of the removal arrives after the address is back.
        if self
            .netlink
            .has_address(removed.index, removed.addr)
            .await
            .unwrap_or(true)
        {
            return;
        }
        warn!(instance = %self.running[i].config.name, addr = %removed.addr, "a virtual address was removed by someone else; stepping down to BACKUP (no_track on the address keeps MASTER)");
        self.drive(i, Event::AddressLost, mono_now()).await;
    }

    /// The kernel deleted a route or rule: if it is a tracked one of a master, check on the
    /// route task (after the changes queued there, our own included) that it is really
    /// gone before anything follows from it.
    fn on_routing_removed(&self, removed: &RoutingRemoved) {
        for r in self
            .running
            .iter()
            .filter(|r| r.fsm.state() == vrrp::State::Master)
        {
            let name = &r.config.name;
            match *removed {
                RoutingRemoved::Route { v6, dst, table } => {
                    for route in r.config.virtual_routes.iter().filter(|v| !v.no_track) {
                        if routes::is_route(route, v6, dst, table) {
                            self.routes.verify(
                                name,
                                route.words.join(" "),
                                routes::route_probe(route),
                            );
                        }
                    }
                }
                RoutingRemoved::Rule { v6, priority } => {
                    for rule in r.config.virtual_rules.iter().filter(|v| !v.no_track) {
                        if routes::is_rule(rule, v6, priority) {
                            self.routes.verify(
                                name,
                                rule.words.join(" "),
                                routes::rule_probe(rule, priority),
                            );
                        }
                    }
                }
            }
        }
    }

    /// A master's tracked route or rule is gone and we did not remove it: step down, as
    /// keepalived does, so that a peer that still can serve takes over (it comes back
    /// with the next mastership).
    async fn on_route_lost(&mut self, lost: routes::Lost) {
        let Some(i) = self
            .running
            .iter()
            .position(|r| r.config.name == lost.instance && r.fsm.state() == vrrp::State::Master)
        else {
            return;
        };
        warn!(instance = %lost.instance, entry = %lost.entry, "a virtual route or rule was removed by someone else; stepping down to BACKUP (no_track on it keeps MASTER)");
        self.drive(i, Event::RouteLost, mono_now()).await;
    }

    /// Set up afresh the instances of interfaces that were deleted and created again:
    /// drop what named the old interface, then apply the configuration as it stands,
    /// which attaches XDP to the new interface and starts the missing instances (as
    /// backups: a normal election follows). What fails (the interface is not up yet, or
    /// has no address yet) is retried every second.
    async fn set_up_recreated(&mut self) {
        for name in self.recreated.clone() {
            let (gone, kept): (Vec<Running>, Vec<Running>) = std::mem::take(&mut self.running)
                .into_iter()
                .partition(|r| r.config.interface == name);
            self.running = kept;
            for r in gone {
                // Its addresses and routes went with the old interface.
                if let Some(g) = self.guardian.as_mut() {
                    g.send(guardian::Message::NotMaster {
                        instance: r.config.name.clone(),
                    });
                }
                let _ = self.dataplane.remove_instance(&r.key);
                info!(instance = %r.config.name, interface = %name, "interface created again; setting the instance up on it");
            }
            self.dataplane.forget_links(&name);
            self.attached.retain(|a| *a != name);
            self.attach_modes.retain(|(a, _)| *a != name);
        }
        match self.apply(self.config.clone()).await {
            Ok(()) => self.recreated.clear(),
            Err(e) => {
                warn!(error = %format!("{e:#}"), interfaces = ?self.recreated, "instances of a re-created interface not set up yet; retrying in 1 s")
            }
        }
    }

    async fn on_peer_event(&mut self, ev: PeerEvent) {
        let Some(i) = self.running.iter().position(|r| r.key == ev.key) else {
            return;
        };
        let r = &mut self.running[i];
        let latency_us = mono_now().nanos_since(MonoTime(ev.peer.last_seen_ns)) / 1_000;
        debug!(instance = %r.config.name, flags = ev.flags, priority = ev.peer.priority, latency_us, "XDP event");
        r.stats.reaction_latency_us.observe(latency_us as f64);
        r.stats.pri_zero_rcvd += u64::from(ev.flags & vrrp_common::event::PRIORITY_ZERO != 0);
        r.fed_ns = r.fed_ns.max(ev.peer.last_seen_ns);
        let event = Event::Advert(peer_advert(&r.key, &ev.peer));
        self.drive(i, event, MonoTime(ev.peer.last_seen_ns)).await;
    }

    /// Deadlines passed: first catch up with adverts XDP recorded since the last one fed in.
    /// Instances due soon share this wake (see [`crate::coalesce`]): masters whose timer is
    /// due within the slack fire now, backups whose master-down deadline is near catch up now.
    async fn on_deadlines(&mut self) {
        let now = mono_now();
        // A master wakes at least every advert interval: the responder's liveness gate
        // (master-down interval) never closes while the daemon runs.
        if self.heartbeat.due(now)
            && let Err(e) = self.dataplane.heartbeat(now.0)
        {
            warn!(error = %format!("{e:#}"), "heartbeat not written");
        }
        let catching_up = |r: &Running| {
            r.fsm.master_down_at().is_some_and(|down| {
                down <= now.add_nanos(coalesce::catch_up_horizon_nanos(master_down_nanos(r)))
            })
        };
        // Many backups catching up: every recorded advert in one read, fetched when the
        // first needs it. A few (a takeover): one lookup each, which is quicker.
        let batch =
            self.running.iter().filter(|r| catching_up(r)).count() >= coalesce::BATCH_READ_MIN;
        let mut peers: Option<HashMap<InstanceKey, PeerState>> = None;
        for i in 0..self.running.len() {
            let r = &self.running[i];
            if catching_up(r)
                && let Some(peer) = if batch {
                    peers
                        .get_or_insert_with(|| self.recorded_peers())
                        .get(&r.key)
                        .copied()
                } else {
                    self.dataplane.peer(&r.key)
                }
                && peer.last_seen_ns > r.fed_ns
            {
                let r = &mut self.running[i];
                r.fed_ns = peer.last_seen_ns;
                let event = Event::Advert(peer_advert(&r.key, &peer));
                self.drive(i, event, MonoTime(peer.last_seen_ns)).await;
            }
            let r = &self.running[i];
            let Some(due) = r.fsm.deadline() else {
                continue;
            };
            let master = r.fsm.state() == vrrp::State::Master;
            // Early by less than the slack: the state machine is told the scheduled time, so
            // its next advert keeps the cadence.
            let at = if due <= now {
                now
            } else if master
                && due
                    <= now.add_nanos(coalesce::advert_slack_nanos(r.config.advert_int.as_nanos()))
            {
                due
            } else {
                continue;
            };
            if !master {
                self.drive(i, Event::Timer, at).await;
                continue;
            }
            let r = &mut self.running[i];
            let actions = r.fsm.handle(Event::Timer, at);
            if actions
                .iter()
                .all(|a| matches!(a, Action::SendAdvert { .. }))
            {
                // The steady state: adverts only, queued for one sendmmsg per socket.
                for action in actions {
                    if let Action::SendAdvert { priority } = action {
                        r.advert.priority = priority;
                        for dst in &r.destinations {
                            let msg = r.advert.encode(r.socket.source, *dst, r.v3_checksum);
                            self.outbox.push(&r.socket, msg, *dst, i);
                        }
                    }
                }
            } else {
                self.carry_out(i, actions, at).await;
            }
        }
        let running = &mut self.running;
        self.outbox.flush(|i, sent| {
            let r = &mut running[i];
            match sent {
                Ok(()) => {
                    r.stats.advert_sent += 1;
                    r.stats.pri_zero_sent += u64::from(r.advert.priority == 0);
                }
                Err(e) => {
                    warn!(instance = %r.config.name, error = %e, "advert not sent");
                }
            }
        });
    }

    /// Every advert the data plane recorded, by instance: one batch read, else one lookup
    /// per instance.
    fn recorded_peers(&self) -> HashMap<InstanceKey, PeerState> {
        match self.dataplane.peers() {
            Ok(all) => all.into_iter().collect(),
            Err(e) => {
                debug!(error = %format!("{e:#}"), "batch read failed; reading per instance");
                self.running
                    .iter()
                    .filter_map(|r| Some((r.key, self.dataplane.peer(&r.key)?)))
                    .collect()
            }
        }
    }

    /// The state of everything, for status and metrics.
    fn snapshot(&self) -> Snapshot {
        let now = mono_now();
        let secs = |nanos: u64| nanos as f64 / 1e9;
        let statuses: Vec<track::Status> = self
            .scripts
            .states
            .iter()
            .map(ScriptState::status)
            .collect();
        let status_name = |s: track::Status| match s {
            track::Status::Init => "INIT",
            track::Status::Ok => "OK",
            track::Status::Failed => "FAILED",
        };
        let instances = self
            .running
            .iter()
            .map(|r| {
                let c = &r.config;
                let mut tracked = Vec::new();
                for t in &c.track_scripts {
                    if let Some(i) = self.config.scripts.iter().position(|s| s.name == t.name) {
                        tracked.push(TrackedObject {
                            kind: "script".into(),
                            name: t.name.clone(),
                            state: status_name(statuses[i]).into(),
                            weight: t.weight.unwrap_or(self.config.scripts[i].weight),
                        });
                    }
                }
                let link = |name: &str| {
                    if self.links.get(name).copied().unwrap_or(false) {
                        "UP"
                    } else {
                        "DOWN"
                    }
                };
                if !c.dont_track_primary {
                    tracked.push(TrackedObject {
                        kind: "interface".into(),
                        name: c.interface.clone(),
                        state: link(&c.interface).into(),
                        weight: 0,
                    });
                }
                for t in &c.track_interfaces {
                    tracked.push(TrackedObject {
                        kind: "interface".into(),
                        name: t.interface.clone(),
                        state: link(&t.interface).into(),
                        weight: t.weight,
                    });
                }
                let mut stats = r.stats.clone();
                stats.advert_rcvd = self.dataplane.peer(&r.key).map_or(0, |p| p.adverts);
                InstanceStatus {
                    iname: c.name.clone(),
                    state: r.fsm.state().to_string(),
                    vrid: c.vrid,
                    family: c.family.name().to_string(),
                    interface: c.interface.clone(),
                    version: c.version,
                    base_priority: c.priority,
                    effective_priority: r.fsm.priority(),
                    adver_int: secs(c.advert_int.as_nanos()),
                    master_adver_int: secs(r.fsm.master_adver_int().as_nanos()),
                    master_addr: r.fsm.master().map(|(a, _)| a.to_string()),
                    master_priority: r.fsm.master().map(|(_, p)| p),
                    source: r.socket.source.to_string(),
                    unicast_peers: c.unicast.peers.iter().map(|p| p.addr.to_string()).collect(),
                    vips: c
                        .virtual_addresses
                        .iter()
                        .chain(&c.virtual_addresses_excluded)
                        .map(|v| format!("{}/{}", v.addr, v.prefix_len))
                        .collect(),
                    time_in_state_secs: secs(now.nanos_since(r.state_since)),
                    last_transition: r.last_transition.map(|((from, to, reason), at)| {
                        TransitionInfo {
                            from: from.to_string(),
                            to: to.to_string(),
                            reason: reason.to_string(),
                            secs_ago: secs(now.nanos_since(at)),
                        }
                    }),
                    tracked,
                    sync_group: c.sync_group.clone(),
                    stats,
                }
            })
            .collect();
        let scripts = self
            .config
            .scripts
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let (ok, failed, last) =
                    self.scripts
                        .runs
                        .get(i)
                        .copied()
                        .unwrap_or((0, 0, Duration::ZERO));
                ScriptStatus {
                    name: s.name.clone(),
                    status: status_name(statuses.get(i).copied().unwrap_or(track::Status::Init))
                        .into(),
                    successes: ok,
                    failures: failed,
                    last_duration_secs: last.as_secs_f64(),
                }
            })
            .collect();
        Snapshot {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            uptime_secs: secs(now.nanos_since(self.started)),
            config_file: self.path.display().to_string(),
            instances,
            scripts,
            dataplane: DataplaneStatus {
                attached: self.attach_modes.clone(),
                counters: self
                    .dataplane
                    .counters()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            },
        }
    }

    /// Put back the base-interface sysctls `use_vmac` changed, on the interfaces `which`
    /// selects (keepalived restores them too).
    fn restore_vmac_sysctls(&mut self, which: impl Fn(&str) -> bool) {
        let restore: Vec<(String, String)> = self
            .vmac_sysctls
            .keys()
            .filter(|(iface, _)| which(iface))
            .cloned()
            .collect();
        for key in restore {
            if let Some(old) = self.vmac_sysctls.remove(&key) {
                crate::net::addresses::set_sysctl(&key.0, &key.1, &old);
                debug!(interface = %key.0, sysctl = %key.1, value = %old, "restored");
            }
        }
    }

    /// Take over the XDP link of `ifname` the previous daemon pinned, if it handed it to
    /// us; a pin nobody handed over (a handover whose successor never came) is removed,
    /// which detaches that program. False when the interface still needs attaching.
    fn adopt_link(&mut self, ifname: &str) -> bool {
        let pin = handoff::link_pin(&self.options.bpffs, ifname);
        if !pin.exists() {
            return false;
        }
        let handed = self
            .resume
            .as_ref()
            .is_some_and(|h| h.links.iter().any(|(n, p)| n == ifname && *p == pin));
        if handed {
            match self.dataplane.adopt(ifname, &pin) {
                Ok(()) => return true,
                Err(e) => {
                    warn!(interface = ifname, error = %format!("{e:#}"), "could not take over the pinned XDP link; attaching afresh")
                }
            }
        } else {
            warn!(pin = %pin.display(), "removing an XDP link pinned by a daemon that handed over to nobody");
        }
        let _ = std::fs::remove_file(&pin);
        false
    }

    /// What the previous daemon handed over for `inst` (matched by keepalived's identity),
    /// if it is still worth resuming: a master only while the peers cannot yet have
    /// declared it down (three advert intervals since the handoff).
    fn resumed(&self, inst: &VrrpInstance) -> Option<vrrp::Resumed> {
        let h = self.resume.as_ref()?;
        let handed = h.instances.iter().find(|hi| {
            (
                hi.vrid,
                hi.ipv6,
                hi.interface.as_str(),
                hi.unicast,
                hi.src_ip,
                hi.mcast_dst_ip,
            ) == identity(inst)
        })?;
        let resumed = handed.resumed()?;
        let age = h.age();
        if resumed.state == vrrp::State::Master
            && age.as_nanos() >= 3 * u128::from(inst.advert_int.as_nanos())
        {
            warn!(instance = %inst.name, age_ms = age.as_secs_f64() * 1e3, "handed over too long ago to resume as MASTER (the peers may have taken over); starting afresh");
            return None;
        }
        Some(resumed)
    }

    /// The handoff signal: stop without resigning and leave everything in place for the
    /// next daemon (see [`crate::handoff`]). If the handover cannot be prepared, stop as
    /// on SIGTERM instead, so the peers still take over promptly.
    async fn hand_over(mut self) {
        info!("handing over to the next daemon: no priority 0; addresses and XDP program stay");
        crate::sd_notify::notify("STOPPING=1");
        let bpffs = self.options.bpffs.clone();
        let dir = handoff::pin_dir(&bpffs);
        let mut program_pinned = false;
        let pinned = handoff::prepare_pin_dir(&bpffs).and_then(|()| {
            // A successor running the same object carries on with these as they are.
            match self.dataplane.pin_program_and_maps(&dir) {
                Ok(()) => program_pinned = true,
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "XDP program and maps not pinned; the next daemon loads its own");
                    Dataplane::remove_pins(&dir);
                }
            }
            self.dataplane
                .pin_links(|ifname| handoff::link_pin(&bpffs, ifname))
        });
        let links = match pinned {
            Ok(links) => links,
            Err(e) => {
                error!(error = %format!("{e:#}"), "handover failed (XDP link not pinned); stopping normally");
                return self.shutdown().await;
            }
        };
        let instances = self
            .running
            .iter()
            .map(|r| HandedInstance {
                name: r.config.name.clone(),
                vrid: r.config.vrid,
                ipv6: is_v6(&r.config),
                interface: r.config.interface.clone(),
                unicast: r.config.is_unicast(),
                src_ip: r.config.src_ip,
                mcast_dst_ip: r.config.mcast_dst_ip,
                state: r.fsm.state().to_string(),
                master: r.fsm.master(),
                master_adver_int: r.fsm.master_adver_int().0,
            })
            .collect();
        let scripts = self
            .config
            .scripts
            .iter()
            .zip(&self.scripts.states)
            .map(|(s, state)| HandedScript {
                name: s.name.clone(),
                state: state.clone(),
            })
            .collect();
        let mut handoff = Handoff::new(instances, scripts, links);
        handoff.sysctls = self
            .vmac_sysctls
            .iter()
            .map(|((i, k), v)| (i.clone(), k.clone(), v.clone()))
            .collect();
        handoff.object = crate::dataplane::object_tag();
        handoff.program_pinned = program_pinned;
        let file = handoff::state_file(&self.options.control_socket);
        if let Err(e) = handoff.write(&file) {
            error!(error = %format!("{e:#}"), "handover failed (state not written); stopping normally");
            for (_, pin) in &handoff.links {
                let _ = std::fs::remove_file(pin);
            }
            Dataplane::remove_pins(&dir);
            return self.shutdown().await;
        }
        // From here on nothing may resign for us: the next daemon carries on.
        if let Some(g) = self.guardian.take() {
            g.planned_stop();
        }
        for task in self.scripts.tasks.drain(..) {
            task.abort();
        }
        for r in self.running {
            r.notifier.finish(Duration::from_secs(1)).await;
        }
        for fifo in self.fifos {
            fifo.close().await;
        }
        info!(
            state = %file.display(),
            instances = handoff.instances.len(),
            links = ?handoff.links.iter().map(|(_, p)| p.display().to_string()).collect::<Vec<_>>(),
            "handed over; exiting without resigning"
        );
    }

    /// SIGTERM: every master resigns with priority 0 and releases its addresses; the XDP
    /// program is detached when the data plane is dropped.
    async fn shutdown(mut self) {
        info!("shutting down");
        crate::sd_notify::notify("STOPPING=1");
        // A planned stop: the guardian must not resign on our behalf when we exit.
        if let Some(g) = self.guardian.take() {
            g.planned_stop();
        }
        let now = mono_now();
        for j in 0..self.running.len() {
            let actions = self.running[j].fsm.handle(Event::Shutdown, now);
            self.execute_on(j, actions).await;
        }
        for task in self.scripts.tasks.drain(..) {
            task.abort();
        }
        for (name, count) in self.dataplane.counters() {
            debug!(counter = name, count, "XDP counter");
        }
        self.restore_vmac_sysctls(|_| true);
        for r in self.running {
            if let Some(v) = &r.vmac
                && let Err(e) = self.netlink.delete_link(v.index).await
            {
                warn!(vmac = %v.name, error = %format!("{e:#}"), "VMAC interface not deleted");
            }
            r.notifier.finish(Duration::from_secs(1)).await;
        }
        for fifo in self.fifos {
            fifo.close().await;
        }
        crate::statics::remove_all(&self.config, &self.netlink, &self.routes).await;
        // The masters' `virtual_routes` and `virtual_rules` removals queued above, and the
        // static ones.
        self.routes.finish(Duration::from_secs(5)).await;
        drop(self.dataplane);
        info!("stopped; XDP program detached");
    }
}

/// The rise/fall history the previous daemon handed over for `script`, if it counts alike.
fn handed_script(resume: Option<&Handoff>, script: &config::VrrpScript) -> Option<ScriptState> {
    let fresh = ScriptState::new(script);
    resume?
        .scripts
        .iter()
        .find(|h| h.name == script.name && h.state.counts_like(&fresh))
        .map(|h| h.state.clone())
}

/// `"name" (id N)` of a loaded BPF program, for messages.
fn describe_program(id: u32) -> String {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .find(|p| p.id() == id)
        .and_then(|p| p.name_as_str().map(|n| format!("\"{n}\" (id {id})")))
        .unwrap_or_else(|| format!("with id {id}"))
}

/// Every interface whose state matters: the instances' own and the tracked ones.
fn tracked_interfaces(config: &Config) -> Vec<String> {
    let mut names: Vec<String> = config
        .instances
        .iter()
        .flat_map(|i| {
            std::iter::once(i.interface.clone())
                .chain(i.track_interfaces.iter().map(|t| t.interface.clone()))
        })
        .chain(
            config
                .sync_groups
                .iter()
                .flat_map(|g| g.track_interfaces.iter().map(|t| t.interface.clone())),
        )
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Names of the scripts some instance or sync group tracks (only those run).
fn tracked_scripts(config: &Config) -> Vec<String> {
    config
        .instances
        .iter()
        .flat_map(|i| i.track_scripts.iter())
        .chain(
            config
                .sync_groups
                .iter()
                .flat_map(|g| g.track_scripts.iter()),
        )
        .map(|t| t.name.clone())
        .collect()
}

/// With `enable_script_security`, why a script must not run as root, if it must not.
fn refuse_script(config: &Config, script: &config::VrrpScript, run_as: RunAs) -> Option<String> {
    if run_as.uid != 0 {
        return None;
    }
    let argv = crate::util::split_command(&script.script);
    let program = argv.first()?;
    if !config.global.enable_script_security {
        debug!(script = %script.name, "running as root (no script_user, no keepalived_script user)");
        return None;
    }
    match identity::executable(program) {
        Some(path) => identity::insecure_component(&path),
        None => Some(format!("{program} not found on PATH")),
    }
}

/// Resolve the addresses, sockets and map entry of an instance and build its state machine.
async fn setup_instance(
    inst: &VrrpInstance,
    notify_as: RunAs,
    netlink: &Netlink,
    dataplane: &mut Dataplane,
    keep_addresses: bool,
) -> Result<Running> {
    let base = netlink.interface(&inst.interface).await?;
    // use_vmac: the addresses (and, unless vmac_xmit_base, the adverts and GARPs) live on a
    // macvlan with the RFC virtual MAC, so the MAC clients learn never changes on failover.
    let mut vmac_sysctls = Vec::new();
    let vmac = match &inst.vmac {
        Some(v) => {
            let name = v
                .ifname
                .clone()
                .unwrap_or_else(|| format!("vrrp.{}", inst.vrid));
            let mac = v.mac.as_deref().and_then(parse_mac).unwrap_or([
                0,
                0,
                0x5e,
                0,
                if is_v6(inst) { 2 } else { 1 },
                inst.vrid,
            ]);
            // A master taken over keeps the VMAC its predecessor created (and the addresses
            // on it); otherwise it is created afresh.
            let vmac = match netlink.interface(&name).await {
                Ok(existing) if keep_addresses && existing.mac == mac => existing,
                _ => netlink.create_vmac(&name, base.index, mac).await?,
            };
            // The base interface must not answer ARP for the VIPs with its own MAC, nor
            // announce them as source of its ARP requests: clients would learn the base MAC
            // instead of the VMAC (keepalived sets the same).
            for (key, value) in [
                ("arp_ignore", "1"),
                ("arp_filter", "1"),
                ("arp_announce", "2"),
            ] {
                if let Some(old) = crate::net::addresses::set_sysctl(&base.name, key, value) {
                    vmac_sysctls.push((base.name.clone(), key.to_string(), old));
                }
            }
            info!(instance = %inst.name, vmac = %name, "VMAC interface created");
            Some((vmac, v.xmit_base))
        }
        None => None,
    };
    let iface = match &vmac {
        Some((v, false)) => v.clone(),
        _ => base.clone(),
    };
    let vips = resolve_vips(inst, &base, vmac.as_ref().map(|v| &v.0), netlink).await?;
    let vip_addrs: Vec<IpAddr> = vips.iter().map(|v| v.addr).collect();
    // A crashed run may have left our addresses behind: start clean (keepalived does too).
    // A master taken over keeps them: they never left, and must not.
    for vip in vips.iter().filter(|_| !keep_addresses) {
        if netlink.remove_address(vip.ifindex, vip.addr).await? {
            warn!(instance = %inst.name, addr = %vip.addr, "removed a virtual address left by an earlier run");
        }
    }
    let primary = primary_address(inst, &base, &vip_addrs, netlink)
        .await
        .with_context(|| format!("instance {}: interface {}", inst.name, inst.interface))?;
    let socket = AdvertSocket::open(
        &iface.name,
        iface.index,
        primary,
        inst.unicast.ttl,
        inst.mcast_dst_ip,
    )?;
    let garp = GarpSocket::open()?;
    let mut na: Vec<NaSocket> = Vec::new();
    for vip in vips.iter().filter(|v| v.addr.is_ipv6()) {
        if !na.iter().any(|n| n.ifindex() == vip.ifindex) {
            na.push(NaSocket::open(&vip.ifname, vip.ifindex, vip.mac)?);
        }
    }
    let family = if is_v6(inst) { FAMILY_V6 } else { FAMILY_V4 };
    let key = InstanceKey::new(base.index, inst.vrid, family);
    let (map_entry, advert) = wire_settings(inst)?;
    dataplane.add_instance(key, map_entry)?;
    dataplane.set_unicast_peers(key, &unicast_peers(inst))?;
    info!(
        instance = %inst.name, interface = %iface.name, vrid = inst.vrid, priority = inst.priority,
        advert_int = %inst.advert_int, version = inst.version, source = %primary,
        "instance configured"
    );
    Ok(Running {
        fsm: Instance::new(params_of(inst, primary)),
        config: inst.clone(),
        key,
        iface,
        destinations: destinations(inst, &socket),
        v3_checksum: v3_checksum(inst),
        socket,
        garp,
        na,
        notifier: Notifier::new(inst, notify_as),
        vips,
        advert,
        vmac: vmac.map(|(v, _)| v),
        vmac_sysctls,
        fed_ns: 0,
        tracking: None,
        stats: InstanceStats {
            reaction_latency_us: Histogram::new(&Histogram::LATENCY_BOUNDS_US),
            ..InstanceStats::default()
        },
        state_since: mono_now(),
        last_transition: None,
        resumed: None,
    })
}

/// A reload kept this instance: apply its new settings in place.
async fn reconfigure(
    r: &mut Running,
    new: &VrrpInstance,
    notify_as: RunAs,
    edges: &mut Edges<'_>,
) -> Result<()> {
    let netlink = edges.netlink;
    let base = netlink.interface(&new.interface).await?;
    let vips = resolve_vips(new, &base, r.vmac.as_ref(), netlink).await?;
    let (map_entry, advert) = wire_settings(new)?;
    edges.dataplane.add_instance(r.key, map_entry)?;
    edges
        .dataplane
        .set_unicast_peers(r.key, &unicast_peers(new))?;
    if r.fsm.state() == vrrp::State::Master {
        // Apply the address list as a diff: nothing that stays is touched.
        let silence = max_silence_nanos(new);
        for old in r.vips.iter().filter(|v| !vips.contains(v)) {
            let _ = edges.dataplane.remove_vip(old.xdp_ifindex, old.addr);
            netlink.remove_address(old.ifindex, old.addr).await?;
        }
        for add in vips.iter().filter(|v| !r.vips.contains(v)) {
            edges
                .dataplane
                .add_vip(add.xdp_ifindex, add.addr, add.mac, silence)?;
            netlink
                .add_address(add.ifindex, add.addr, add.prefix_len, &add.options)
                .await?;
        }
        // Routes and rules too: the ones gone are removed, the new ones added, the rest
        // untouched.
        let (old, new_entries) = (routes::of_instance(&r.config), routes::of_instance(new));
        edges.routes.change(
            &new.name,
            Change::Remove,
            routes::missing_from(&new_entries, &old),
        );
        edges.routes.change(
            &new.name,
            Change::Add,
            routes::missing_from(&old, &new_entries),
        );
    }
    let added: Vec<Vip> = vips
        .iter()
        .filter(|v| !r.vips.contains(v))
        .cloned()
        .collect();
    r.vips = vips;
    r.advert = advert;
    r.destinations = destinations(new, &r.socket);
    r.v3_checksum = v3_checksum(new);
    r.notifier = Notifier::new(new, notify_as);
    r.config = new.clone();
    let primary = r.socket.source;
    let actions = r.fsm.reconfigure(params_of(new, primary), mono_now());
    execute(r, actions, edges).await;
    if r.fsm.state() == vrrp::State::Master {
        if let Some(g) = edges.guardian.as_mut() {
            g.send(crash_message(r));
        }
        if !added.is_empty() {
            execute(r, vec![Action::SendGarp(GarpBurst::Takeover)], edges).await;
        }
    }
    Ok(())
}

/// Each moved address with its interface (`dev` resolved, else the VMAC, else the
/// instance's interface) and the MAC to answer with.
async fn resolve_vips(
    inst: &VrrpInstance,
    iface: &Interface,
    vmac: Option<&Interface>,
    netlink: &Netlink,
) -> Result<Vec<Vip>> {
    let mut vips = Vec::new();
    for vip in inst
        .virtual_addresses
        .iter()
        .chain(&inst.virtual_addresses_excluded)
    {
        let (ifindex, xdp_ifindex, ifname, mac) = match (&vip.dev, vmac) {
            (Some(dev), _) if *dev != inst.interface => {
                let other = netlink.interface(dev).await?;
                (other.index, other.index, other.name, other.mac)
            }
            (_, Some(v)) => (v.index, iface.index, v.name.clone(), v.mac),
            _ => (iface.index, iface.index, iface.name.clone(), iface.mac),
        };
        let options = AddressOptions::of(vip);
        vips.push(Vip {
            ifindex,
            xdp_ifindex,
            ifname,
            addr: vip.addr,
            prefix_len: vip.prefix_len,
            mac,
            options,
            tracked: !vip.no_track,
        });
    }
    Ok(vips)
}

/// The first interface `inst` needs that does not exist: its own, or a virtual address's
/// `dev`.
fn missing_interface(inst: &VrrpInstance) -> Option<&str> {
    std::iter::once(inst.interface.as_str())
        .chain(
            inst.virtual_addresses
                .iter()
                .chain(&inst.virtual_addresses_excluded)
                .filter_map(|v| v.dev.as_deref()),
        )
        .find(|name| crate::net::addresses::interface_index(name) == 0)
}

/// What the XDP program checks for this instance, and the advert we send (it carries the
/// virtual addresses, not the excluded ones).
fn wire_settings(inst: &VrrpInstance) -> Result<(InstanceConfig, packet::Advert)> {
    let (auth_type, auth_pass, auth) = match &inst.authentication {
        Some(Authentication::Pass(key)) if inst.version == 2 => {
            (AUTH_PASS, *key, V2Auth::Pass(*key))
        }
        Some(Authentication::Ah) if inst.version == 2 => {
            bail!(
                "instance {}: auth_type AH is not supported; use PASS or none",
                inst.name
            )
        }
        _ => (AUTH_NONE, [0; 8], V2Auth::None),
    };
    let entry = InstanceConfig {
        version: inst.version,
        auth_type,
        adver_int_secs: u8::try_from(inst.advert_int.0 / 100).unwrap_or(u8::MAX),
        flags: if !inst.is_unicast() {
            0
        } else if inst.unicast.check_src {
            instance_flags::UNICAST | instance_flags::CHECK_UNICAST_SRC
        } else {
            instance_flags::UNICAST
        },
        auth_pass,
    };
    let advert = packet::Advert {
        version: inst.version,
        vrid: inst.vrid,
        priority: inst.priority,
        adver_int: inst.advert_int,
        auth,
        addrs: inst.virtual_addresses.iter().map(|v| v.addr).collect(),
    };
    Ok((entry, advert))
}

/// The unicast peers with their TTL bounds, for the data plane.
fn unicast_peers(inst: &VrrpInstance) -> Vec<(IpAddr, TtlBounds)> {
    inst.unicast
        .peers
        .iter()
        .map(|p| {
            let bounds = TtlBounds {
                min_ttl: p.min_ttl,
                max_ttl: p.max_ttl,
                _pad: [0; 2],
            };
            (p.addr, bounds)
        })
        .collect()
}

/// Where adverts go: every unicast peer, else the multicast group.
fn destinations(inst: &VrrpInstance, socket: &AdvertSocket) -> Vec<IpAddr> {
    if inst.is_unicast() {
        inst.unicast.peers.iter().map(|p| p.addr).collect()
    } else {
        vec![inst.mcast_dst_ip.unwrap_or_else(|| socket.group())]
    }
}

/// The VRRPv3-over-IPv4 checksum form to send (KEEPALIVED.md §2.5).
fn v3_checksum(inst: &VrrpInstance) -> V3Checksum {
    if inst.checksum.v3_as_v2 {
        V3Checksum::MessageOnly
    } else if inst.is_unicast() && inst.checksum.old_unicast == OldUnicastChecksum::Always {
        V3Checksum::OldUnicast
    } else {
        V3Checksum::PseudoHeader
    }
}

/// `00:00:5e:00:01:33` → bytes.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// What the crash guardian must do if the daemon dies while `r` is master: send its
/// priority-0 adverts (ready-made IP packets, one per destination) and release its
/// addresses.
fn crash_message(r: &Running) -> guardian::Message {
    let mut resign = r.advert.clone();
    resign.priority = 0;
    let ttl = if r.config.is_unicast() {
        r.config.unicast.ttl.unwrap_or(vrrp_common::VRRP_TTL)
    } else {
        vrrp_common::VRRP_TTL
    };
    let packets = r
        .destinations
        .iter()
        .map(|dst| {
            let vrrp = resign.encode(r.socket.source, *dst, r.v3_checksum);
            guardian::Packet {
                interface: r.iface.name.clone(),
                dst: *dst,
                bytes: guardian::ip_packet(r.socket.source, *dst, ttl, &vrrp),
            }
        })
        .collect();
    guardian::Message::Master {
        instance: r.config.name.clone(),
        packets,
        vips: r
            .vips
            .iter()
            .map(|v| (v.ifname.clone(), format!("{}/{}", v.addr, v.prefix_len)))
            .collect(),
        routes: routes::of_instance(&r.config)
            .iter()
            .map(|entry| routes::ip_args(entry, Change::Remove))
            .collect(),
    }
}

/// How long the XDP responder keeps answering without a heartbeat: the instance's
/// master-down interval, after which a backup has taken over anyway.
fn max_silence_nanos(inst: &VrrpInstance) -> u64 {
    vrrp::timers::master_down_nanos(
        inst.version,
        inst.priority,
        inst.advert_int,
        u32::from(inst.down_timer_adverts),
    )
}

/// The engine's parameters for one configured instance: the one mapping from keepalived.conf
/// to the state machine, shared with the golden scenario tests so they run what the daemon runs.
pub fn params_of(inst: &VrrpInstance, primary: IpAddr) -> Params {
    Params {
        version: inst.version,
        priority: inst.priority,
        advert_int: inst.advert_int,
        primary_addr: primary,
        wants_master: inst.initial_state == InitialState::Master,
        nopreempt: inst.nopreempt,
        preempt_delay_nanos: inst.preempt_delay.as_nanos() as u64,
        down_timer_adverts: u32::from(inst.down_timer_adverts),
        lower_prio_no_advert: inst.lower_prio_no_advert,
        higher_prio_send_advert: inst.higher_prio_send_advert,
        garp_master_delay_nanos: inst.garp_master_delay.as_nanos() as u64,
        garp_lower_prio: inst.garp.lower_prio_repeat > 0,
        garp_lower_prio_delay_nanos: inst.garp.lower_prio_delay.as_nanos() as u64,
        garp_refresh_nanos: inst.garp.master_refresh.as_nanos() as u64,
        sync_group: inst.sync_group.is_some(),
    }
}

fn peer_advert(key: &InstanceKey, peer: &PeerState) -> vrrp::Advert {
    let [a, b, c, d, ..] = peer.addr;
    vrrp::Advert {
        from: if key.family == FAMILY_V6 {
            IpAddr::V6(Ipv6Addr::from(peer.addr))
        } else {
            IpAddr::V4(Ipv4Addr::new(a, b, c, d))
        },
        priority: peer.priority,
        adver_int: Centiseconds(u32::from(peer.adver_int_cs)),
    }
}

/// Instance `r`'s current Master_Down_Interval (from the learned advert interval).
fn master_down_nanos(r: &Running) -> u64 {
    vrrp::timers::master_down_nanos(
        r.config.version,
        r.fsm.priority(),
        r.fsm.master_adver_int(),
        u32::from(r.config.down_timer_adverts),
    )
}

/// A state change as [`execute`] reports it: from, to, why.
type Transition = (vrrp::State, vrrp::State, vrrp::Reason);

/// Carry out actions in order; returns the transitions among them.
async fn execute(r: &mut Running, actions: Vec<Action>, edges: &mut Edges<'_>) -> Vec<Transition> {
    let netlink = edges.netlink;
    let mut transitions = Vec::new();
    for action in actions {
        match action {
            Action::Transition { from, to, reason } => {
                transitions.push((from, to, reason));
                let now = mono_now();
                r.state_since = now;
                r.last_transition = Some(((from, to, reason), now));
                *r.stats
                    .transitions_by_reason
                    .entry(reason.key().to_string())
                    .or_default() += 1;
                if to == vrrp::State::Master {
                    r.stats.become_master += 1;
                }
                if from == vrrp::State::Master {
                    r.stats.release_master += 1;
                }
                // The master after the transition: this host when it became master, else
                // the peer whose adverts it follows, if any.
                let master = if to == vrrp::State::Master {
                    format!("{} (this host)", r.socket.source)
                } else if to == vrrp::State::Stop {
                    "none (stopping)".to_string()
                } else {
                    r.fsm.master().map_or_else(
                        || "unknown".to_string(),
                        |(a, p)| format!("{a} (priority {p})"),
                    )
                };
                info!(
                    instance = %r.config.name, from = %from, to = %to, %reason,
                    priority = r.fsm.priority(), %master,
                    "VRRP transition {} -> {}", from, to
                );
            }
            Action::SendAdvert { priority } => {
                r.advert.priority = priority;
                for dst in &r.destinations {
                    // The checksum covers the destination (pseudo-header): one per peer.
                    let msg = r.advert.encode(r.socket.source, *dst, r.v3_checksum);
                    match r.socket.send(&msg, *dst) {
                        Ok(()) => {
                            r.stats.advert_sent += 1;
                            r.stats.pri_zero_sent += u64::from(priority == 0);
                        }
                        Err(e) => {
                            warn!(instance = %r.config.name, error = %format!("{e:#}"), "advert not sent");
                        }
                    }
                }
            }
            Action::AddAddresses => {
                // From here on a crash must resign and release, as a clean stop would.
                if let Some(g) = edges.guardian.as_mut() {
                    g.send(crash_message(r));
                }
                // The XDP responder answers ARP / NS from here on, then the kernel owns
                // the address.
                let silence = max_silence_nanos(&r.config);
                let started = std::time::Instant::now();
                for vip in &r.vips {
                    if let Err(e) =
                        edges
                            .dataplane
                            .add_vip(vip.xdp_ifindex, vip.addr, vip.mac, silence)
                    {
                        warn!(instance = %r.config.name, error = %format!("{e:#}"), "XDP responder not told about a virtual address");
                    }
                    if let Err(e) = netlink
                        .add_address(vip.ifindex, vip.addr, vip.prefix_len, &vip.options)
                        .await
                    {
                        error!(instance = %r.config.name, error = %format!("{e:#}"), "adding a virtual address");
                    }
                }
                debug!(instance = %r.config.name, count = r.vips.len(), took = ?started.elapsed(), "virtual addresses added");
                // Routes may name a VIP as their source: after the addresses.
                edges
                    .routes
                    .change(&r.config.name, Change::Add, &routes::of_instance(&r.config));
            }
            Action::RemoveAddresses => {
                // What is still queued would announce addresses no longer ours.
                edges.pacer.retain(|a| a.key != r.key);
                if let Some(g) = edges.guardian.as_mut() {
                    g.send(guardian::Message::NotMaster {
                        instance: r.config.name.clone(),
                    });
                }
                edges.routes.change(
                    &r.config.name,
                    Change::Remove,
                    &routes::of_instance(&r.config),
                );
                for vip in &r.vips {
                    let _ = edges.dataplane.remove_vip(vip.xdp_ifindex, vip.addr);
                    if let Err(e) = netlink.remove_address(vip.ifindex, vip.addr).await {
                        error!(instance = %r.config.name, error = %format!("{e:#}"), "removing a virtual address");
                    }
                }
            }
            Action::SendGarp(burst) => {
                let repeat = match burst {
                    GarpBurst::Takeover => r.config.garp_master_repeat,
                    GarpBurst::LowerPriority => r.config.garp.lower_prio_repeat,
                    GarpBurst::Refresh => r.config.garp.master_refresh_repeat,
                };
                // Each address is announced on its own interface (`dev`, a VMAC, or the
                // instance's), with that interface's hardware address, at that interface's
                // pace for its kind.
                let now = time::Instant::now();
                for _ in 0..repeat {
                    for i in 0..r.vips.len() {
                        let vip = &r.vips[i];
                        let a = Announcement {
                            key: r.key,
                            ifindex: vip.ifindex,
                            mac: vip.mac,
                            addr: vip.addr,
                        };
                        let (kind, interval) = match vip.addr {
                            IpAddr::V4(_) => (pacer::Kind::Arp, edges.pacing.0),
                            IpAddr::V6(_) => (pacer::Kind::Na, edges.pacing.1),
                        };
                        if let Some(a) = edges.pacer.offer(a.ifindex, kind, interval, a, now) {
                            r.announce(&a);
                        }
                    }
                }
            }
            // The sync group decides (Daemon::carry_out).
            Action::ReadyForMaster => {}
            Action::PriorityChanged { state, priority } => {
                if r.config.notify_priority_changes {
                    let line = Fifo::line(&r.config.name, format!("{state}_PRIORITY"), priority);
                    for fifo in edges.fifos.iter_mut() {
                        fifo.write_line(&line);
                    }
                }
            }
            Action::HeardLowerPriority { from, priority } => {
                debug!(instance = %r.config.name, %from, "master heard a lower priority");
                r.notifier.notify_rx_lower_pri();
                let line = Fifo::line(&r.config.name, "MASTER_RX_LOWER_PRI", priority);
                for fifo in edges.fifos.iter_mut() {
                    fifo.write_line(&line);
                }
            }
            Action::Notify { state, priority } => {
                r.notifier.notify(state, priority);
                let line = Fifo::line(&r.config.name, state, priority);
                for fifo in edges.fifos.iter_mut() {
                    fifo.write_line(&line);
                }
            }
        }
    }
    transitions
}
