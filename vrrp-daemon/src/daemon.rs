//! The event loop: wires the kernel edges (XDP maps and events, sockets, netlink, scripts,
//! signals) to the sans-IO [`vrrp::Instance`]s.
//!
//! It sleeps until the earliest instance deadline, an XDP ring-buffer event, a script result
//! or a signal. A backup is never woken per advert: at its master-down deadline it rereads the
//! peer's last-seen time from the `PEERS` map and only then decides.
use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use tokio::{
    io::unix::AsyncFd,
    signal::unix::{SignalKind, signal},
    sync::mpsc,
    time,
};
use tracing::{debug, error, info, warn};
use vrrp_common::{
    AUTH_NONE, AUTH_PASS, FAMILY_V4, InstanceConfig, InstanceKey, PeerEvent, PeerState,
};

use crate::{
    config::{Authentication, Config, VrrpInstance},
    dataplane::Dataplane,
    net::{AdvertSocket, GarpSocket, Interface, Netlink},
    notify::Notifier,
    packet::{self, V2Auth, V3Checksum},
    track::{self, ScriptState, runner},
    units::MonoTime,
    util::mono_now,
    vrrp::{self, Action, Event, Instance, Params},
};

/// One configured instance with its edges.
struct Running {
    config: VrrpInstance,
    key: InstanceKey,
    fsm: Instance,
    iface: Interface,
    socket: AdvertSocket,
    garp: GarpSocket,
    notifier: Notifier,
    /// `(ifindex, address, prefix)` of every virtual address.
    vips: Vec<(u32, IpAddr, u8)>,
    /// The advert template (priority patched per send).
    advert: packet::Advert,
    /// `last_seen_ns` of the newest advert fed to the state machine.
    fed_ns: u64,
}

/// Run the daemon until SIGTERM / SIGINT.
pub async fn run(config: Config) -> Result<()> {
    let netlink = Netlink::connect()?;
    let mut dataplane = Dataplane::load()?;
    let now = mono_now();

    let mut attached: Vec<String> = Vec::new();
    let mut running = Vec::new();
    for inst in &config.instances {
        if !attached.contains(&inst.interface) {
            let mode = dataplane.attach(&inst.interface)?;
            info!(interface = %inst.interface, ?mode, "XDP advert observer attached");
            attached.push(inst.interface.clone());
        }
        running.push(setup_instance(inst, &netlink, &mut dataplane).await?);
    }

    // Health checks: one task per referenced script.
    let (results_tx, mut results) = mpsc::channel(64);
    let mut script_states: Vec<ScriptState> = config.scripts.iter().map(ScriptState::new).collect();
    for (index, script) in config.scripts.iter().enumerate() {
        let used = config
            .instances
            .iter()
            .any(|i| i.track_scripts.iter().any(|t| t.name == script.name));
        if used {
            runner::spawn(index, script.clone(), results_tx.clone());
        }
    }
    drop(results_tx);

    for r in &mut running {
        let (delta, fault) = tracking_of(&config, &r.config, &script_states);
        let mut actions = r.fsm.handle(Event::Tracking { delta, fault }, now);
        actions.extend(r.fsm.handle(Event::Startup, now));
        execute(r, actions, &netlink).await;
    }

    let ring = dataplane
        .take_events()
        .context("the event ring buffer was already taken")?;
    // SAFETY: the ring buffer owns its map fd, which stays open and unchanged until the
    // AsyncFd (its owner from here on) is dropped.
    let mut events =
        unsafe { AsyncFd::register_with_interest(ring, tokio::io::Interest::READABLE) }
            .map_err(|e| anyhow::anyhow!("watching the XDP event ring buffer: {e}"))?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sighup = signal(SignalKind::hangup())?;

    loop {
        let next = running.iter().filter_map(|r| r.fsm.deadline()).min();
        let sleep = sleep_until_mono(next);
        tokio::select! {
            biased;
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
            _ = sighup.recv() => warn!("SIGHUP: configuration reload is not supported yet; keeping the running configuration"),
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
                    on_peer_event(&mut running, ev, &netlink).await;
                }
            }
            Some(result) = results.recv() => {
                let index = result.script;
                if let Some(status) = script_states[index].record(result.success) {
                    info!(script = %config.scripts[index].name, ?status, "vrrp_script status changed");
                    let now = mono_now();
                    for r in &mut running {
                        if r.config.track_scripts.iter().any(|t| t.name == config.scripts[index].name) {
                            let (delta, fault) = tracking_of(&config, &r.config, &script_states);
                            let before = r.fsm.priority();
                            let actions = r.fsm.handle(Event::Tracking { delta, fault }, now);
                            if r.fsm.priority() != before {
                                info!(instance = %r.config.name, from = before, priority = r.fsm.priority(), "effective priority changed by tracked scripts");
                            }
                            execute(r, actions, &netlink).await;
                        }
                    }
                }
            }
            () = sleep => {
                let now = mono_now();
                for r in &mut running {
                    if r.fsm.deadline().is_some_and(|d| d <= now) {
                        on_deadline(r, &dataplane, now, &netlink).await;
                    }
                }
            }
        }
    }

    info!("shutting down");
    let now = mono_now();
    for r in &mut running {
        let actions = r.fsm.handle(Event::Shutdown, now);
        execute(r, actions, &netlink).await;
    }
    for (name, count) in dataplane.counters() {
        debug!(counter = name, count, "XDP counter");
    }
    for r in running {
        r.notifier.finish(Duration::from_secs(1)).await;
    }
    drop(dataplane);
    info!("stopped; XDP program detached");
    Ok(())
}

async fn setup_instance(
    inst: &VrrpInstance,
    netlink: &Netlink,
    dataplane: &mut Dataplane,
) -> Result<Running> {
    let iface = netlink.interface(&inst.interface).await?;
    let mut vips = Vec::new();
    for vip in &inst.virtual_addresses {
        let index = match &vip.dev {
            Some(dev) if *dev != inst.interface => netlink.interface(dev).await?.index,
            _ => iface.index,
        };
        vips.push((index, vip.addr, vip.prefix_len));
    }
    let vip_addrs: Vec<IpAddr> = vips.iter().map(|v| v.1).collect();
    // A crashed run may have left our addresses behind: start clean (keepalived does too).
    for (index, addr, _) in &vips {
        if netlink.remove_address(*index, *addr).await? {
            warn!(instance = %inst.name, %addr, "removed a virtual address left by an earlier run");
        }
    }
    let primary = netlink
        .primary_ipv4(iface.index, &vip_addrs)
        .await
        .with_context(|| format!("instance {}: interface {}", inst.name, inst.interface))?;
    let socket = AdvertSocket::open(&iface.name, iface.index, primary)?;
    let garp = GarpSocket::open(&iface)?;

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
    let key = InstanceKey::new(iface.index, inst.vrid, FAMILY_V4);
    dataplane.add_instance(
        key,
        InstanceConfig {
            version: inst.version,
            auth_type,
            adver_int_secs: u8::try_from(inst.advert_int.0 / 100).unwrap_or(u8::MAX),
            _pad: 0,
            auth_pass,
        },
    )?;
    let v4_vips = vip_addrs
        .iter()
        .filter_map(|a| match a {
            IpAddr::V4(a) => Some(*a),
            IpAddr::V6(_) => None,
        })
        .collect();
    let fsm = Instance::new(Params {
        version: inst.version,
        priority: inst.priority,
        advert_int: inst.advert_int,
        primary_addr: IpAddr::V4(primary),
        wants_master: inst.initial_state == crate::config::InitialState::Master,
        nopreempt: inst.nopreempt,
        preempt_delay_nanos: inst.preempt_delay.as_nanos() as u64,
        down_timer_adverts: 3,
        lower_prio_no_advert: false,
        higher_prio_send_advert: false,
        garp_master_delay_nanos: inst.garp_master_delay.as_nanos() as u64,
    });
    info!(
        instance = %inst.name, interface = %iface.name, vrid = inst.vrid, priority = inst.priority,
        advert_int = %inst.advert_int, version = inst.version, source = %primary,
        "instance configured"
    );
    Ok(Running {
        config: inst.clone(),
        key,
        fsm,
        iface,
        socket,
        garp,
        notifier: Notifier::new(inst),
        vips,
        advert: packet::Advert {
            version: inst.version,
            vrid: inst.vrid,
            priority: inst.priority,
            adver_int: inst.advert_int,
            auth,
            addrs: v4_vips,
        },
        fed_ns: 0,
    })
}

/// The summed effect of an instance's tracked scripts.
fn tracking_of(config: &Config, inst: &VrrpInstance, states: &[ScriptState]) -> (i32, bool) {
    let mut delta = 0;
    let mut fault = false;
    for t in &inst.track_scripts {
        if let Some(i) = config.scripts.iter().position(|s| s.name == t.name) {
            let effect = track::priority_effect(&config.scripts[i], t, states[i].status());
            delta += effect.delta;
            fault |= effect.fault;
        }
    }
    (delta, fault)
}

fn peer_advert(peer: &PeerState) -> vrrp::Advert {
    vrrp::Advert {
        from: IpAddr::V4(Ipv4Addr::new(
            peer.addr[0],
            peer.addr[1],
            peer.addr[2],
            peer.addr[3],
        )),
        priority: peer.priority,
        adver_int: crate::units::Centiseconds(u32::from(peer.adver_int_cs)),
    }
}

async fn on_peer_event(running: &mut [Running], ev: PeerEvent, netlink: &Netlink) {
    let Some(r) = running.iter_mut().find(|r| r.key == ev.key) else {
        return;
    };
    let latency_us = mono_now().nanos_since(MonoTime(ev.peer.last_seen_ns)) / 1_000;
    debug!(instance = %r.config.name, flags = ev.flags, priority = ev.peer.priority, latency_us, "XDP event");
    if ev.peer.last_seen_ns > r.fed_ns {
        r.fed_ns = ev.peer.last_seen_ns;
    }
    let at = MonoTime(ev.peer.last_seen_ns);
    let actions = r.fsm.handle(Event::Advert(peer_advert(&ev.peer)), at);
    execute(r, actions, netlink).await;
}

/// A deadline passed: first catch up with adverts XDP recorded since the last one fed in.
async fn on_deadline(r: &mut Running, dataplane: &Dataplane, now: MonoTime, netlink: &Netlink) {
    if r.fsm.master_down_at().is_some_and(|d| d <= now)
        && let Some(peer) = dataplane.peer(&r.key)
        && peer.last_seen_ns > r.fed_ns
    {
        r.fed_ns = peer.last_seen_ns;
        let actions = r.fsm.handle(
            Event::Advert(peer_advert(&peer)),
            MonoTime(peer.last_seen_ns),
        );
        execute(r, actions, netlink).await;
    }
    if r.fsm.deadline().is_some_and(|d| d <= now) {
        let actions = r.fsm.handle(Event::Timer, now);
        execute(r, actions, netlink).await;
    }
}

/// Carry out actions in order.
async fn execute(r: &mut Running, actions: Vec<Action>, netlink: &Netlink) {
    for action in actions {
        match action {
            Action::Transition { from, to, reason } => {
                let master = r.fsm.master().map(|(a, p)| format!("{a} (priority {p})"));
                info!(
                    instance = %r.config.name, from = %from, to = %to, %reason,
                    priority = r.fsm.priority(), master = master.as_deref().unwrap_or("-"),
                    "VRRP transition {} -> {}", from, to
                );
            }
            Action::SendAdvert { priority } => {
                r.advert.priority = priority;
                let dst = Ipv4Addr::from(vrrp_common::VRRP_MCAST_V4);
                let msg = r
                    .advert
                    .encode_v4(r.socket.source, dst, V3Checksum::default());
                if let Err(e) = r.socket.send(&msg, dst) {
                    warn!(instance = %r.config.name, error = %e, "advert not sent");
                }
            }
            Action::AddAddresses => {
                for (index, addr, prefix) in &r.vips {
                    if let Err(e) = netlink.add_address(*index, *addr, *prefix).await {
                        error!(instance = %r.config.name, error = %e, "adding a virtual address");
                    }
                }
            }
            Action::RemoveAddresses => {
                for (index, addr, _) in &r.vips {
                    if let Err(e) = netlink.remove_address(*index, *addr).await {
                        error!(instance = %r.config.name, error = %e, "removing a virtual address");
                    }
                }
            }
            Action::SendGarp => {
                for _ in 0..r.config.garp_master_repeat.max(1) {
                    for (index, addr, _) in &r.vips {
                        if let (IpAddr::V4(v4), true) = (addr, *index == r.iface.index)
                            && let Err(e) = r.garp.send(*v4)
                        {
                            warn!(instance = %r.config.name, error = %e, "gratuitous ARP not sent");
                        }
                    }
                }
            }
            Action::Notify { state, priority } => r.notifier.notify(state, priority),
        }
    }
}

/// Sleep until a CLOCK_MONOTONIC deadline (forever when there is none).
async fn sleep_until_mono(deadline: Option<MonoTime>) {
    match deadline {
        Some(d) => {
            let wait = d.nanos_since(mono_now());
            time::sleep(Duration::from_nanos(wait)).await;
        }
        None => std::future::pending().await,
    }
}
