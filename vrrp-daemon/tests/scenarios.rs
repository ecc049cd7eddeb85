//! Golden scenarios: scripted events in, the engine's actions out, on a virtual clock.
//!
//! Each `tests/scenarios/NAME.txt` holds, in this order:
//!
//! - `#` comment lines: what the scenario shows and why every expected time is right
//!   (KEEPALIVED.md §2.1 formulas);
//! - `router NAME ADDRESS` followed by that router's keepalived.conf, indented: one daemon
//!   each, its instances parsed by `config::parse_str` and turned into engine parameters
//!   by the daemon's own `daemon::params_of` (ADDRESS is the primary address of the
//!   interface: advert source and tie-breaker);
//! - `input:` then one event per line, `AT_MS WHAT...` (milliseconds, decimals allowed):
//!   - `R startup` / `R shutdown` (SIGTERM) / `R crash` (silent death) / `R restart`
//!   - `link R1 R2` / `unlink R1 R2`: adverts of one reach the other's instance of the same
//!     VRID at the same instant while linked (routers start unlinked);
//!   - `R script NAME ok|fail`: one result of a `vrrp_script` (rise/fall apply);
//!   - `R iface NAME up|down`: link state (every interface the config names starts up);
//!   - `R file NAME VALUE|missing`, `R process NAME up|down`: what the track_file /
//!     vrrp_track_process watchers report;
//!   - `R/INSTANCE advert from=ADDR prio=P [int=CS]`: an advert from a router not simulated;
//!   - `end`: stop (required, last);
//! - `expect:` then the trace: `TIME_US ROUTER/INSTANCE ACTION`, µs with 3 decimals (the
//!   engine counts nanoseconds). Besides the engine's [`Action`]s (Debug-formatted) the
//!   trace shows `script NAME -> STATUS` when rise/fall change a script's status and
//!   `tracking delta=D fault=F` when the daemon would feed a [`Event::Tracking`].
//!
//! The runner advances the clock to the earliest of: an instance's [`Instance::deadline`]
//! (fires [`Event::Timer`]; at equal times deadlines come first, in router and instance
//! order), a scheduled input, an advert in flight (delivered in the order sent). It plays
//! the daemon's part: tracking is recomputed with `track::instance_effect_with` and fed only
//! when it changed, a FAULT of one sync-group member is shared by all members, the group
//! goes MASTER once every member is ready (`Action::ReadyForMaster`), and a member's move
//! out of MASTER is followed by the others (`Event::SyncGroup`).
//! VRRPv2 adverts whose interval differs from the receiver's are dropped (the data plane's
//! RFC 3768 check).
//!
//! `UPDATE_GOLDEN=1 cargo test --test scenarios` rewrites the expected traces; review every
//! change against the formulas in the file's comment before committing it.
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt::Write as _,
    net::IpAddr,
    path::{Path, PathBuf},
};

use vrrp_daemon::{
    config::{self, Config},
    daemon::params_of,
    track::{self, ScriptState, Status, Tracked, Watched},
    units::{Centiseconds, MonoTime},
    vrrp::{Action, Advert, Event, Instance, Reason, State},
};

/// One simulated daemon.
struct Router {
    name: String,
    addr: IpAddr,
    config: Config,
    instances: Vec<Running>,
    links: HashMap<String, bool>,
    scripts: Vec<ScriptState>,
    file_values: HashMap<String, Option<i64>>,
    process_ok: HashMap<String, bool>,
    alive: bool,
}

struct Running {
    fsm: Instance,
    tracking: Option<track::Effect>,
}

impl Router {
    fn new(name: &str, addr: IpAddr, conf: &str) -> Self {
        let config = config::parse_str(conf, Path::new(&format!("{name}.conf")))
            .unwrap_or_else(|e| panic!("router {name}: {e}"))
            .config;
        let mut links = HashMap::new();
        for i in &config.instances {
            links.insert(i.interface.clone(), true);
            for t in &i.track_interfaces {
                links.insert(t.interface.clone(), true);
            }
        }
        for g in &config.sync_groups {
            for t in &g.track_interfaces {
                links.insert(t.interface.clone(), true);
            }
        }
        let mut r = Self {
            name: name.to_string(),
            addr,
            instances: Vec::new(),
            links,
            scripts: config.scripts.iter().map(ScriptState::new).collect(),
            file_values: HashMap::new(),
            process_ok: HashMap::new(),
            alive: true,
            config,
        };
        r.instances = r.fresh_instances();
        r
    }

    fn fresh_instances(&self) -> Vec<Running> {
        self.config
            .instances
            .iter()
            .map(|i| Running {
                fsm: Instance::new(params_of(i, self.addr)),
                tracking: None,
            })
            .collect()
    }

    fn group_of(&self, i: usize) -> Option<&config::SyncGroup> {
        let name = self.config.instances[i].sync_group.as_ref()?;
        self.config.sync_groups.iter().find(|g| &g.name == name)
    }

    /// What every instance's tracked objects do to it now, sync-group faults shared (the
    /// daemon's `refresh_tracking`).
    fn effects(&self) -> Vec<track::Effect> {
        let statuses: Vec<Status> = self.scripts.iter().map(ScriptState::status).collect();
        let tracked = Tracked {
            scripts: &self.config.scripts,
            statuses: &statuses,
            links: &self.links,
        };
        let watched = Watched {
            files: &self.config.track_files,
            file_values: &self.file_values,
            processes: &self.config.track_processes,
            process_ok: &self.process_ok,
        };
        let mut effects: Vec<track::Effect> = (0..self.config.instances.len())
            .map(|i| {
                track::instance_effect_with(
                    &self.config.instances[i],
                    self.group_of(i),
                    &tracked,
                    &watched,
                )
            })
            .collect();
        for g in &self.config.sync_groups {
            let members: Vec<usize> = (0..self.config.instances.len())
                .filter(|&i| self.config.instances[i].sync_group.as_deref() == Some(&g.name))
                .collect();
            if members.iter().any(|&i| effects[i].fault) {
                for &i in &members {
                    effects[i].fault = true;
                }
            }
        }
        effects
    }
}

/// Something scheduled on the clock.
enum Item {
    Input(String),
    Deliver {
        router: usize,
        vrid: u8,
        advert: Advert,
    },
}

struct Sim {
    routers: Vec<Router>,
    /// Linked router pairs (lower index first).
    wires: HashSet<(usize, usize)>,
    queue: BTreeMap<(u64, u64), Item>,
    seq: u64,
    trace: Vec<String>,
}

fn fmt_time(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000, ns % 1_000)
}

impl Sim {
    fn router(&self, name: &str) -> usize {
        self.routers
            .iter()
            .position(|r| r.name == name)
            .unwrap_or_else(|| panic!("no router {name}"))
    }

    fn push(&mut self, at: u64, item: Item) {
        self.seq += 1;
        self.queue.insert((at, self.seq), item);
    }

    fn log(&mut self, at: u64, r: usize, i: usize, what: &str) {
        let who = format!(
            "{}/{}",
            self.routers[r].name, self.routers[r].config.instances[i].name
        );
        self.trace
            .push(format!("{:>15} {who:<8} {what}", fmt_time(at)));
    }

    /// Feed one event to an instance, record its actions, send its adverts, and let its
    /// sync group follow a move into or out of MASTER (the daemon's `drive`).
    fn drive(&mut self, r: usize, i: usize, event: Event, at: u64) {
        let actions = self.routers[r].instances[i].fsm.handle(event, MonoTime(at));
        self.emit(r, i, at, &actions);
        let Some(group) = self.routers[r].config.instances[i].sync_group.clone() else {
            return;
        };
        // A member ready for MASTER: the group goes when every member is ready or master
        // (the daemon's `sync_group_ready`).
        if actions.contains(&Action::ReadyForMaster) {
            let members: Vec<usize> = (0..self.routers[r].instances.len())
                .filter(|&j| {
                    self.routers[r].config.instances[j].sync_group.as_deref() == Some(&group)
                })
                .collect();
            let all = members.iter().all(|&j| {
                let fsm = &self.routers[r].instances[j].fsm;
                fsm.state() == State::Master || fsm.is_ready_for_master()
            });
            if all {
                for j in members {
                    if self.routers[r].instances[j].fsm.state() == State::Backup {
                        let more = self.routers[r].instances[j]
                            .fsm
                            .handle(Event::SyncGroup { to: State::Master }, MonoTime(at));
                        self.emit(r, j, at, &more);
                    }
                }
            }
        }
        for a in &actions {
            let Action::Transition { from, to, reason } = *a else {
                continue;
            };
            if reason == Reason::SyncGroup {
                continue;
            }
            let follow = match (from, to) {
                (_, State::Master) => State::Master,
                (State::Master, State::Backup) => State::Backup,
                _ => continue,
            };
            for j in 0..self.routers[r].instances.len() {
                if j != i
                    && self.routers[r].config.instances[j].sync_group.as_deref() == Some(&group)
                {
                    let more = self.routers[r].instances[j]
                        .fsm
                        .handle(Event::SyncGroup { to: follow }, MonoTime(at));
                    self.emit(r, j, at, &more);
                }
            }
        }
    }

    fn emit(&mut self, r: usize, i: usize, at: u64, actions: &[Action]) {
        for a in actions {
            self.log(at, r, i, &format!("{a:?}"));
            if let Action::SendAdvert { priority } = *a {
                let inst = &self.routers[r].config.instances[i];
                let advert = Advert {
                    from: self.routers[r].addr,
                    priority,
                    adver_int: inst.advert_int,
                };
                let vrid = inst.vrid;
                let peers: Vec<usize> = (0..self.routers.len())
                    .filter(|&o| o != r && self.wires.contains(&(r.min(o), r.max(o))))
                    .collect();
                for o in peers {
                    self.push(
                        at,
                        Item::Deliver {
                            router: o,
                            vrid,
                            advert,
                        },
                    );
                }
            }
        }
    }

    fn refresh_tracking(&mut self, r: usize, at: u64) {
        let effects = self.routers[r].effects();
        for (i, effect) in effects.into_iter().enumerate() {
            let running = &mut self.routers[r].instances[i];
            let unchanged = running.tracking == Some(effect)
                || (running.tracking.is_none()
                    && effect
                        == track::Effect {
                            delta: 0,
                            fault: false,
                        });
            running.tracking = Some(effect);
            if unchanged {
                continue;
            }
            self.log(
                at,
                r,
                i,
                &format!("tracking delta={} fault={}", effect.delta, effect.fault),
            );
            let event = Event::Tracking {
                delta: effect.delta,
                fault: effect.fault,
            };
            self.drive(r, i, event, at);
        }
    }

    fn deliver(&mut self, r: usize, vrid: u8, advert: Advert, at: u64) {
        if !self.routers[r].alive {
            return;
        }
        let Some(i) = self.routers[r]
            .config
            .instances
            .iter()
            .position(|inst| inst.vrid == vrid)
        else {
            return;
        };
        let inst = &self.routers[r].config.instances[i];
        if inst.version == 2 && advert.adver_int != inst.advert_int {
            return;
        }
        self.drive(r, i, Event::Advert(advert), at);
    }

    fn input(&mut self, line: &str, at: u64) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["link", a, b] | ["unlink", a, b] => {
                let (a, b) = (self.router(a), self.router(b));
                let pair = (a.min(b), a.max(b));
                if words[0] == "link" {
                    self.wires.insert(pair);
                } else {
                    self.wires.remove(&pair);
                }
            }
            [target, "advert", rest @ ..] => {
                let (router, inst) = target
                    .split_once('/')
                    .unwrap_or_else(|| panic!("`{line}`: advert needs ROUTER/INSTANCE"));
                let r = self.router(router);
                let i = self.routers[r]
                    .config
                    .instances
                    .iter()
                    .position(|x| x.name == inst)
                    .unwrap_or_else(|| panic!("`{line}`: no instance {inst}"));
                let own = &self.routers[r].config.instances[i];
                let mut advert = Advert {
                    from: "0.0.0.0".parse().unwrap(),
                    priority: 0,
                    adver_int: own.advert_int,
                };
                for kv in rest {
                    match kv.split_once('=') {
                        Some(("from", v)) => advert.from = v.parse().unwrap(),
                        Some(("prio", v)) => advert.priority = v.parse().unwrap(),
                        Some(("int", v)) => advert.adver_int = Centiseconds(v.parse().unwrap()),
                        _ => panic!("`{line}`: unknown {kv}"),
                    }
                }
                let vrid = own.vrid;
                self.deliver(r, vrid, advert, at);
            }
            [router, rest @ ..] => {
                let r = self.router(router);
                self.router_input(r, rest, line, at);
            }
            [] => {}
        }
    }

    fn router_input(&mut self, r: usize, words: &[&str], line: &str, at: u64) {
        match words {
            ["startup"] => {
                self.refresh_tracking(r, at);
                for i in 0..self.routers[r].instances.len() {
                    self.drive(r, i, Event::Startup, at);
                }
            }
            ["shutdown"] => {
                for i in 0..self.routers[r].instances.len() {
                    self.drive(r, i, Event::Shutdown, at);
                }
            }
            ["crash"] => {
                self.routers[r].alive = false;
                self.trace.push(format!(
                    "{:>15} {:<8} (crashed)",
                    fmt_time(at),
                    self.routers[r].name
                ));
            }
            ["restart"] => {
                let router = &mut self.routers[r];
                router.alive = true;
                router.instances = router.fresh_instances();
                router.scripts = router.config.scripts.iter().map(ScriptState::new).collect();
                self.refresh_tracking(r, at);
                for i in 0..self.routers[r].instances.len() {
                    self.drive(r, i, Event::Startup, at);
                }
            }
            ["script", name, result] => {
                let ok = match *result {
                    "ok" => true,
                    "fail" => false,
                    _ => panic!("`{line}`: ok or fail"),
                };
                let router = &mut self.routers[r];
                let index = router
                    .config
                    .scripts
                    .iter()
                    .position(|s| s.name == *name)
                    .unwrap_or_else(|| panic!("`{line}`: no vrrp_script {name}"));
                if let Some(status) = router.scripts[index].record(ok) {
                    let msg = format!(
                        "{:>15} {:<8} script {name} -> {status:?}",
                        fmt_time(at),
                        router.name
                    );
                    self.trace.push(msg);
                    self.refresh_tracking(r, at);
                }
            }
            ["iface", name, state] => {
                let up = match *state {
                    "up" => true,
                    "down" => false,
                    _ => panic!("`{line}`: up or down"),
                };
                self.routers[r].links.insert(name.to_string(), up);
                self.refresh_tracking(r, at);
            }
            ["file", name, value] => {
                let value = match *value {
                    "missing" => None,
                    v => Some(v.parse().unwrap()),
                };
                self.routers[r].file_values.insert(name.to_string(), value);
                self.refresh_tracking(r, at);
            }
            ["process", name, state] => {
                let up = *state == "up";
                self.routers[r].process_ok.insert(name.to_string(), up);
                self.refresh_tracking(r, at);
            }
            _ => panic!("unknown input `{line}`"),
        }
    }

    /// The earliest deadline of a live instance: (time, router, instance).
    fn next_deadline(&self) -> Option<(u64, usize, usize)> {
        let mut best: Option<(u64, usize, usize)> = None;
        for (r, router) in self.routers.iter().enumerate() {
            if !router.alive {
                continue;
            }
            for (i, running) in router.instances.iter().enumerate() {
                if let Some(d) = running.fsm.deadline()
                    && best.is_none_or(|(t, _, _)| d.0 < t)
                {
                    best = Some((d.0, r, i));
                }
            }
        }
        best
    }

    fn run(&mut self, end: u64) {
        loop {
            let deadline = self.next_deadline();
            let queued = self.queue.first_key_value().map(|(&(t, _), _)| t);
            match (deadline, queued) {
                (Some((t, r, i)), q) if t <= end && q.is_none_or(|q| t <= q) => {
                    self.drive(r, i, Event::Timer, t);
                    let after = self.routers[r].instances[i].fsm.deadline();
                    assert!(
                        after.is_none_or(|d| d.0 > t) || !self.routers[r].alive,
                        "the deadline of {}/{} did not move past {t} ns",
                        self.routers[r].name,
                        self.routers[r].config.instances[i].name
                    );
                }
                (_, Some(q)) if q <= end => {
                    let (&key, _) = self.queue.first_key_value().unwrap();
                    let item = self.queue.remove(&key).unwrap();
                    match item {
                        Item::Input(line) => self.input(&line, q),
                        Item::Deliver {
                            router,
                            vrid,
                            advert,
                        } => self.deliver(router, vrid, advert, q),
                    }
                }
                _ => return,
            }
        }
    }
}

/// A scenario file, split.
struct File {
    /// Everything up to and including the `expect:` line, verbatim.
    head: String,
    routers: Vec<(String, IpAddr, String)>,
    inputs: Vec<(u64, String)>,
    end: u64,
    expected: Vec<String>,
}

/// `12.5` ms → ns, exactly.
fn parse_ms(s: &str) -> u64 {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    assert!(
        frac.len() <= 6,
        "`{s}`: at most 6 decimals of a millisecond"
    );
    let frac_ns: u64 = format!("{frac:0<6}").parse().unwrap();
    int.parse::<u64>().unwrap() * 1_000_000 + frac_ns
}

fn parse_file(text: &str) -> File {
    #[derive(PartialEq)]
    enum Part {
        Setup,
        Input,
        Expect,
    }
    let mut part = Part::Setup;
    let mut head = String::new();
    let mut routers: Vec<(String, IpAddr, String)> = Vec::new();
    let mut inputs = Vec::new();
    let mut end = None;
    let mut expected = Vec::new();
    for line in text.lines() {
        if part != Part::Expect {
            head.push_str(line);
            head.push('\n');
        }
        let trimmed = line.trim();
        match part {
            _ if trimmed.starts_with('#') && part != Part::Expect => {}
            Part::Setup if trimmed == "input:" => part = Part::Input,
            Part::Setup if line.starts_with("router ") => {
                let w: Vec<&str> = line.split_whitespace().collect();
                let [_, name, addr] = w.as_slice() else {
                    panic!("`{line}`: router NAME ADDRESS");
                };
                routers.push((name.to_string(), addr.parse().unwrap(), String::new()));
            }
            Part::Setup if line.starts_with(' ') || trimmed.is_empty() => {
                if let Some((_, _, conf)) = routers.last_mut() {
                    conf.push_str(trimmed);
                    conf.push('\n');
                }
            }
            Part::Setup => panic!("unexpected setup line `{line}`"),
            Part::Input if trimmed == "expect:" => part = Part::Expect,
            Part::Input if trimmed.is_empty() => {}
            Part::Input => {
                let (at, what) = trimmed
                    .split_once(char::is_whitespace)
                    .unwrap_or_else(|| panic!("`{line}`: AT_MS WHAT"));
                let at = parse_ms(at);
                let what = what.split('#').next().unwrap().trim().to_string();
                if what == "end" {
                    end = Some(at);
                } else {
                    assert!(end.is_none(), "`{line}` after end");
                    inputs.push((at, what));
                }
            }
            Part::Expect if trimmed.is_empty() => {}
            Part::Expect => expected.push(line.trim_end().to_string()),
        }
    }
    assert!(part == Part::Expect, "no `expect:` line");
    File {
        head,
        routers,
        inputs,
        end: end.expect("no `end` input"),
        expected,
    }
}

fn scenario_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(format!("{name}.txt"))
}

/// Replay a scenario; the trace it produces.
fn replay(file: &File) -> Vec<String> {
    let mut sim = Sim {
        routers: file
            .routers
            .iter()
            .map(|(name, addr, conf)| Router::new(name, *addr, conf))
            .collect(),
        wires: HashSet::new(),
        queue: BTreeMap::new(),
        seq: 0,
        trace: Vec::new(),
    };
    for (at, what) in &file.inputs {
        sim.push(*at, Item::Input(what.clone()));
    }
    sim.run(file.end);
    sim.trace
}

fn check(name: &str) {
    let path = scenario_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = parse_file(&text);
    let got = replay(&file);
    // A known bug's expected trace is keepalived's, written by hand: never regenerated.
    if std::env::var_os("UPDATE_GOLDEN").is_some() && !name.starts_with("known_bugs/") {
        let mut out = file.head.clone();
        for line in &got {
            writeln!(out, "{line}").unwrap();
        }
        std::fs::write(&path, out).unwrap();
        return;
    }
    if got != file.expected {
        let mut diff = String::new();
        let n = got.len().max(file.expected.len());
        for k in 0..n {
            let (g, e) = (got.get(k), file.expected.get(k));
            if g != e {
                writeln!(diff, "line {}:", k + 1).unwrap();
                writeln!(diff, "  expected: {}", e.map_or("(none)", String::as_str)).unwrap();
                writeln!(diff, "  got:      {}", g.map_or("(none)", String::as_str)).unwrap();
            }
        }
        panic!(
            "{name}: the trace differs from {} (UPDATE_GOLDEN=1 rewrites it; check the \
             formulas first)\n{diff}",
            path.display()
        );
    }
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*
        const ALL: &[&str] = &[$(stringify!($name)),*];
    };
}

scenarios!(
    election,
    master_loss,
    graceful_release,
    preemption,
    nopreempt_returning_higher,
    preempt_delay,
    split_brain,
    script_flapping,
    fault_tracked_interface,
    sync_group_fault,
    track_file_and_process,
    priority_change_while_backup,
    priority_change_while_master,
    garp_bursts_overlap,
    two_owners,
);

/// Scenarios whose expected trace is keepalived's and the engine does not match yet: see the
/// comment at the top of each file. `cargo test --test scenarios -- --ignored` runs them.
macro_rules! known_bugs {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            #[ignore = "the engine differs from keepalived here (see the file's comment)"]
            fn $name() {
                check(concat!("known_bugs/", stringify!($name)));
            }
        )*
        const KNOWN_BUGS: &[&str] = &[$(stringify!($name)),*];
    };
}

known_bugs!();

#[test]
fn every_scenario_file_is_listed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    for (sub, listed) in [("", ALL), ("known_bugs", KNOWN_BUGS)] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "txt") {
                let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
                assert!(
                    listed.contains(&stem.as_str()),
                    "{} is not in the scenarios!/known_bugs! list",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn times_parse_exactly() {
    assert_eq!(parse_ms("0"), 0);
    assert_eq!(parse_ms("12.5"), 12_500_000);
    assert_eq!(parse_ms("3648.4375"), 3_648_437_500);
    assert_eq!(fmt_time(3_648_437_500), "3648437.500");
}
