//! Tracked objects: `vrrp_script` (the pure rise/fall logic here, the process runner in
//! [`runner`]), `track_interface`, `track_file` ([`file`]) and `vrrp_track_process`
//! ([`process`]), and what they do to an instance ([`instance_effect_with`]).
//!
//! A script's status only changes after `rise` consecutive successes or `fall` consecutive
//! failures, as in keepalived; how a status moves an instance's priority is
//! [`priority_effect`].
//!
//! Weights follow keepalived's table for every kind of object ([`weighted_effect`]): weight
//! 0 → FAULT while the object is down; weight > 0 → added while it is up; weight < 0 → added
//! while it is down; `reverse` negates the change (+10 reverse subtracts 10 while up) and,
//! for weight 0, makes "up" the fault. A track_file adds its value × weight instead.
pub mod file;
pub mod identity;
pub mod process;
pub mod runner;

use std::collections::HashMap;

use crate::config::{
    SyncGroup, TrackFile, TrackInterface, TrackProcess, TrackRef, TrackScript, VrrpInstance,
    VrrpScript,
};

/// Where a script stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Status {
    /// No verdict yet: neither adds nor subtracts weight, never faults.
    Init,
    /// Passing.
    Ok,
    /// Failing.
    Failed,
}

/// Counts consecutive results and decides the status.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScriptState {
    rise: u32,
    fall: u32,
    status: Status,
    /// Consecutive results pointing away from the current status.
    streak: u32,
}

impl ScriptState {
    /// Whether `self` counts rise and fall as `other` does (a script whose definition
    /// changed across a restart starts its counting afresh).
    pub fn counts_like(&self, other: &ScriptState) -> bool {
        self.rise == other.rise && self.fall == other.fall
    }

    /// A fresh state: `Init`, or `Failed` with `init_fail`.
    pub fn new(script: &VrrpScript) -> Self {
        Self {
            rise: script.rise.max(1),
            fall: script.fall.max(1),
            status: if script.init_fail {
                Status::Failed
            } else {
                Status::Init
            },
            streak: 0,
        }
    }

    /// A script that will never run (refused by `enable_script_security`): permanently
    /// failed, so its weight applies and a weight-0 script holds the instance in FAULT.
    pub fn refused(script: &VrrpScript) -> Self {
        Self {
            status: Status::Failed,
            ..Self::new(script)
        }
    }

    /// Current status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// Record one run's result; returns the new status if it changed.
    ///
    /// The first result of a script that has not reported yet decides at once, whatever
    /// `rise` and `fall` say (keepalived starts the counter at `rise - 1`: "one success is
    /// enough", and a failure in the init state fails it); `init_fail` starts it failed, so
    /// it needs `rise` successes.
    pub fn record(&mut self, success: bool) -> Option<Status> {
        if self.status == Status::Init {
            self.status = if success { Status::Ok } else { Status::Failed };
            self.streak = 0;
            return Some(self.status);
        }
        let (target, needed) = if success {
            (Status::Ok, self.rise)
        } else {
            (Status::Failed, self.fall)
        };
        if self.status == target {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        if self.streak >= needed {
            self.status = target;
            self.streak = 0;
            Some(target)
        } else {
            None
        }
    }
}

/// How one tracked script affects its instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effect {
    /// Priority change.
    pub delta: i32,
    /// The instance must go to FAULT.
    pub fault: bool,
}

/// keepalived's rule for a script: [`weighted_effect`] with up = OK, the entry's weight
/// (else the script's) and `reverse`. A script that has not reported yet does nothing.
pub fn priority_effect(script: &VrrpScript, track: &TrackScript, status: Status) -> Effect {
    let weight = track.weight.unwrap_or(script.weight);
    match status {
        Status::Init => Effect {
            delta: 0,
            fault: false,
        },
        Status::Ok => weighted_effect(weight, script_reverse(script, track), true),
        Status::Failed => weighted_effect(weight, script_reverse(script, track), false),
    }
}

/// Whether the weight of a tracked script is reversed (the entry's `reverse`, else the
/// script's when the entry sets no weight).
fn script_reverse(script: &VrrpScript, track: &TrackScript) -> bool {
    track.reverse || (track.weight.is_none() && script.weight_reverse)
}

/// keepalived's weight table (`vrrp_track.c`; keepalived.conf(5) on `reverse`), shared by
/// scripts, interfaces and processes:
///
/// | weight | reverse | up    | down  |
/// |--------|---------|-------|-------|
/// | 0      | no      | –     | FAULT |
/// | 0      | yes     | FAULT | –     |
/// | +w     | no      | +w    | –     |
/// | −w     | no      | –     | −w    |
/// | +w     | yes     | −w    | –     |
/// | −w     | yes     | –     | +w    |
pub fn weighted_effect(weight: i32, reverse: bool, up: bool) -> Effect {
    let multiplier = if reverse { -1 } else { 1 };
    match weight {
        0 => Effect {
            delta: 0,
            fault: up == reverse,
        },
        w if (w > 0) == up => Effect {
            delta: w * multiplier,
            fault: false,
        },
        _ => Effect {
            delta: 0,
            fault: false,
        },
    }
}

/// The state of everything an instance can track, as the daemon last saw it.
pub struct Tracked<'a> {
    /// All `vrrp_script`s of the configuration.
    pub scripts: &'a [VrrpScript],
    /// Their statuses, in the same order.
    pub statuses: &'a [Status],
    /// Interface name → up (administratively up and running). A missing interface is down.
    pub links: &'a HashMap<String, bool>,
}

impl Tracked<'_> {
    fn script(&self, name: &str) -> Option<(&VrrpScript, Status)> {
        let i = self.scripts.iter().position(|s| s.name == name)?;
        Some((&self.scripts[i], self.statuses.get(i).copied()?))
    }

    fn link_up(&self, name: &str) -> bool {
        self.links.get(name).copied().unwrap_or(false)
    }
}

/// keepalived's rule for a tracked interface: [`weighted_effect`] with up = administratively
/// up and running.
pub fn interface_effect(track: &TrackInterface, up: bool) -> Effect {
    weighted_effect(track.weight, track.reverse, up)
}

/// What the `track_file` and `vrrp_track_process` watchers last reported (see
/// [`file::spawn_file_watcher`], [`process::spawn_process_watcher`]). An object the maps do
/// not hold (not reported yet, or not watched) does nothing.
pub struct Watched<'a> {
    /// All `track_file` blocks of the configuration.
    pub files: &'a [TrackFile],
    /// track_file name → value (`None`: the file is missing, value 0).
    pub file_values: &'a HashMap<String, Option<i64>>,
    /// All `vrrp_track_process` blocks of the configuration.
    pub processes: &'a [TrackProcess],
    /// vrrp_track_process name → quorum held.
    pub process_ok: &'a HashMap<String, bool>,
}

impl Watched<'_> {
    fn file_block(&self, name: &str) -> Option<&TrackFile> {
        self.files.iter().find(|f| f.name == name)
    }

    fn file(&self, name: &str) -> Option<(&TrackFile, Option<i64>)> {
        Some((self.file_block(name)?, *self.file_values.get(name)?))
    }

    fn process_block(&self, name: &str) -> Option<&TrackProcess> {
        self.processes.iter().find(|p| p.name == name)
    }

    fn process(&self, name: &str) -> Option<(&TrackProcess, bool)> {
        Some((self.process_block(name)?, *self.process_ok.get(name)?))
    }
}

/// [`instance_effect_with`] without track_file / vrrp_track_process.
pub fn instance_effect(inst: &VrrpInstance, group: Option<&SyncGroup>, t: &Tracked) -> Effect {
    let (values, states) = (HashMap::new(), HashMap::new());
    let w = Watched {
        files: &[],
        file_values: &values,
        processes: &[],
        process_ok: &states,
    };
    instance_effect_with(inst, group, t, &w)
}

/// What everything an instance tracks does to it: its own interface (unless
/// `dont_track_primary`), its `track_interface`, `track_script`, `track_file` and
/// `track_process`, and those of its sync group, combined as keepalived does
/// (`vrrp_complete_instance`, `sync_group_tracking_init`):
///
/// - a member of a sync group without `sync_group_tracking_weight`, and an address owner,
///   lose their own weights: a weighted interface counts as weight 0 (down is FAULT; an
///   owner stops tracking it instead), a weighted script is ignored, a track_file of weight
///   1 (the default) counts as weight 0 and one of another weight is ignored. keepalived
///   leaves track_process weights as they are (its manual asks for weight 0 there);
/// - what the sync group tracks applies to every member with the group's weights;
/// - a script, file or process tracked both by the instance and by its group counts once:
///   through the group's entry, unless the instance's has weight 0.
pub fn instance_effect_with(
    inst: &VrrpInstance,
    group: Option<&SyncGroup>,
    t: &Tracked,
    w: &Watched,
) -> Effect {
    let owner = inst.priority == 255;
    let strip = owner || group.is_some_and(|g| !g.tracking_weight);
    let mut total = Effect {
        delta: 0,
        fault: !inst.dont_track_primary && !t.link_up(&inst.interface),
    };
    let mut add = |e: Effect| {
        total.delta += e.delta;
        total.fault |= e.fault;
    };

    // The weight keepalived leaves an instance's own entry with; `None`: dropped.
    let script_weight = |ts: &TrackScript| {
        let script = t.scripts.iter().find(|s| s.name == ts.name)?;
        let weight = ts.weight.unwrap_or(script.weight);
        (!strip || weight == 0).then_some(weight)
    };
    let file_weight = |tf: &TrackRef| match tf.weight.unwrap_or(w.file_block(&tf.name)?.weight) {
        1 if strip => Some(0),
        weight if strip && weight != 0 => None,
        weight => Some(weight),
    };
    let process_weight =
        |tp: &TrackRef| Some(tp.weight.unwrap_or(w.process_block(&tp.name)?.weight));
    let (g_interfaces, g_scripts, g_files, g_processes): (
        &[TrackInterface],
        &[TrackScript],
        &[TrackRef],
        &[TrackRef],
    ) = match group {
        Some(g) => (
            &g.track_interfaces,
            &g.track_scripts,
            &g.track_files,
            &g.track_processes,
        ),
        None => (&[], &[], &[], &[]),
    };

    for ti in &inst.track_interfaces {
        let weight = match ti.weight {
            0 => 0,
            _ if owner => continue,
            _ if strip => 0,
            weight => weight,
        };
        add(weighted_effect(
            weight,
            ti.reverse,
            t.link_up(&ti.interface),
        ));
    }
    for ts in &inst.track_scripts {
        let Some(weight) = script_weight(ts) else {
            continue;
        };
        if weight != 0 && g_scripts.iter().any(|e| e.name == ts.name) {
            continue;
        }
        if let Some((script, status)) = t.script(&ts.name) {
            let entry = TrackScript {
                weight: Some(weight),
                reverse: script_reverse(script, ts),
                ..ts.clone()
            };
            add(priority_effect(script, &entry, status));
        }
    }
    for tf in &inst.track_files {
        let Some(weight) = file_weight(tf) else {
            continue;
        };
        if weight != 0 && g_files.iter().any(|e| e.name == tf.name) {
            continue;
        }
        if let Some((_, value)) = w.file(&tf.name) {
            add(file::value_effect(weight, tf.reverse, value));
        }
    }
    for tp in &inst.track_processes {
        let Some(weight) = process_weight(tp) else {
            continue;
        };
        if weight != 0 && g_processes.iter().any(|e| e.name == tp.name) {
            continue;
        }
        if let Some((_, ok)) = w.process(&tp.name) {
            add(weighted_effect(weight, tp.reverse, ok));
        }
    }

    // What the sync group tracks, with the group's weights.
    for ti in g_interfaces {
        add(interface_effect(ti, t.link_up(&ti.interface)));
    }
    for ts in g_scripts {
        let own_unweighted = inst
            .track_scripts
            .iter()
            .any(|own| own.name == ts.name && script_weight(own) == Some(0));
        if !own_unweighted && let Some((script, status)) = t.script(&ts.name) {
            add(priority_effect(script, ts, status));
        }
    }
    for tf in g_files {
        let own_unweighted = inst
            .track_files
            .iter()
            .any(|own| own.name == tf.name && file_weight(own) == Some(0));
        if !own_unweighted && let Some((file, value)) = w.file(&tf.name) {
            add(file::file_effect(file, tf, value));
        }
    }
    for tp in g_processes {
        let own_unweighted = inst
            .track_processes
            .iter()
            .any(|own| own.name == tp.name && process_weight(own) == Some(0));
        if !own_unweighted && let Some((p, ok)) = w.process(&tp.name) {
            add(process::process_effect(p, tp, ok));
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn script(weight: i32, rise: u32, fall: u32) -> VrrpScript {
        VrrpScript {
            name: "chk".into(),
            script: "/bin/true".into(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            weight,
            weight_reverse: false,
            rise,
            fall,
            init_fail: false,
            user: None,
            group: None,
            location: Default::default(),
        }
    }

    fn track(weight: Option<i32>, reverse: bool) -> TrackScript {
        TrackScript {
            name: "chk".into(),
            weight,
            reverse,
        }
    }

    #[test]
    fn fall_and_rise_need_consecutive_results() {
        let mut s = ScriptState::new(&script(-20, 2, 3));
        // The first result decides (keepalived: "one success is enough").
        assert_eq!(s.record(true), Some(Status::Ok));
        assert_eq!(s.record(true), None);
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(true), None, "a success breaks the failure streak");
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), Some(Status::Failed));
        assert_eq!(s.record(false), None);
    }

    #[test]
    fn the_first_result_decides_unless_init_fail() {
        let mut s = ScriptState::new(&script(0, 3, 3));
        assert_eq!(s.record(false), Some(Status::Failed));
        assert_eq!(s.record(true), None);
        assert_eq!(s.record(true), None);
        assert_eq!(s.record(true), Some(Status::Ok));
        let mut sc = script(0, 3, 3);
        sc.init_fail = true;
        let mut s = ScriptState::new(&sc);
        assert_eq!(s.record(true), None);
        assert_eq!(s.record(true), None);
        assert_eq!(s.record(true), Some(Status::Ok));
    }

    #[test]
    fn defaults_react_to_one_result() {
        let mut s = ScriptState::new(&script(0, 1, 1));
        assert_eq!(s.status(), Status::Init);
        assert_eq!(s.record(false), Some(Status::Failed));
        assert_eq!(s.record(true), Some(Status::Ok));
    }

    #[test]
    fn init_fail_starts_failed() {
        let mut sc = script(0, 1, 1);
        sc.init_fail = true;
        assert_eq!(ScriptState::new(&sc).status(), Status::Failed);
    }

    #[test]
    fn weights_follow_keepalived() {
        let neg = script(-20, 1, 1);
        let t = track(None, false);
        assert_eq!(
            priority_effect(&neg, &t, Status::Failed),
            Effect {
                delta: -20,
                fault: false
            }
        );
        assert_eq!(
            priority_effect(&neg, &t, Status::Ok),
            Effect {
                delta: 0,
                fault: false
            }
        );
        let pos = script(10, 1, 1);
        assert_eq!(
            priority_effect(&pos, &t, Status::Ok),
            Effect {
                delta: 10,
                fault: false
            }
        );
        assert_eq!(
            priority_effect(&pos, &t, Status::Failed),
            Effect {
                delta: 0,
                fault: false
            }
        );
        let zero = script(0, 1, 1);
        assert_eq!(
            priority_effect(&zero, &t, Status::Failed),
            Effect {
                delta: 0,
                fault: true
            }
        );
        assert_eq!(
            priority_effect(&zero, &t, Status::Init),
            Effect {
                delta: 0,
                fault: false
            }
        );
    }

    fn instance(interface: &str) -> VrrpInstance {
        let text = format!(
            "vrrp_script chk {{\n script /bin/true\n weight -20\n}}\n\
             vrrp_instance VI {{\n interface {interface}\n virtual_router_id 1\n\
             track_interface {{\n bond0\n uplink weight -30\n }}\n\
             track_script {{\n chk\n }}\n virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n"
        );
        crate::config::parse_str(&text, std::path::Path::new("t.conf"))
            .unwrap()
            .config
            .instances
            .remove(0)
    }

    #[test]
    fn instance_effect_combines_interfaces_and_scripts() {
        let inst = instance("eth0");
        let scripts = [script(-20, 1, 1)];
        let links = |eth0, bond0, uplink| {
            HashMap::from([
                ("eth0".to_string(), eth0),
                ("bond0".to_string(), bond0),
                ("uplink".to_string(), uplink),
            ])
        };
        let effect = |statuses: &[Status], links: &HashMap<String, bool>| {
            let t = Tracked {
                scripts: &scripts,
                statuses,
                links,
            };
            instance_effect(&inst, None, &t)
        };
        let all_up = links(true, true, true);
        assert_eq!(
            effect(&[Status::Ok], &all_up),
            Effect {
                delta: 0,
                fault: false
            }
        );
        assert_eq!(
            effect(&[Status::Failed], &all_up),
            Effect {
                delta: -20,
                fault: false
            }
        );
        assert_eq!(
            effect(&[Status::Failed], &links(true, true, false)),
            Effect {
                delta: -50,
                fault: false
            }
        );
        // Unweighted track_interface down, or the instance's own interface down: FAULT.
        assert!(effect(&[Status::Ok], &links(true, false, true)).fault);
        assert!(effect(&[Status::Ok], &links(false, true, true)).fault);
        // An interface nobody reported is down.
        assert!(effect(&[Status::Ok], &HashMap::new()).fault);
    }

    #[test]
    fn in_a_sync_group_weights_count_as_zero() {
        let inst = instance("eth0");
        let scripts = [script(-20, 1, 1)];
        let links = HashMap::from([
            ("eth0".to_string(), true),
            ("bond0".to_string(), true),
            ("uplink".to_string(), false),
        ]);
        let t = Tracked {
            scripts: &scripts,
            statuses: &[Status::Ok],
            links: &links,
        };
        let group = crate::config::parse_str(
            "vrrp_instance VI {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1\n }\n}\nvrrp_sync_group G {\n group {\n VI\n }\n}\n",
            std::path::Path::new("g.conf"),
        )
        .unwrap()
        .config
        .sync_groups
        .remove(0);
        // The weighted interface is down: no priority change, FAULT instead.
        assert_eq!(
            instance_effect(&inst, Some(&group), &t),
            Effect {
                delta: 0,
                fault: true
            }
        );
    }

    #[test]
    fn interface_weights_follow_keepalived() {
        let ti = |weight, reverse| TrackInterface {
            interface: "x".into(),
            weight,
            reverse,
        };
        assert_eq!(
            interface_effect(&ti(0, false), false),
            Effect {
                delta: 0,
                fault: true
            }
        );
        assert_eq!(
            interface_effect(&ti(10, false), true),
            Effect {
                delta: 10,
                fault: false
            }
        );
        assert_eq!(
            interface_effect(&ti(-10, false), false),
            Effect {
                delta: -10,
                fault: false
            }
        );
        // reverse negates the change and keeps its condition (keepalived.conf(5) table):
        // -10 reverse adds 10 while down, nothing while up; +10 reverse subtracts 10 while up.
        let e = |delta, fault| Effect { delta, fault };
        assert_eq!(interface_effect(&ti(-10, true), true), e(0, false));
        assert_eq!(interface_effect(&ti(-10, true), false), e(10, false));
        assert_eq!(interface_effect(&ti(10, true), true), e(-10, false));
        assert_eq!(interface_effect(&ti(10, true), false), e(0, false));
        // weight 0 reverse: up is the fault.
        assert_eq!(interface_effect(&ti(0, true), true), e(0, true));
        assert_eq!(interface_effect(&ti(0, true), false), e(0, false));
    }

    #[test]
    fn track_weight_overrides_and_reverse_negates() {
        let s = script(-20, 1, 1);
        let delta = |t: TrackScript, st| priority_effect(&s, &t, st).delta;
        assert_eq!(delta(track(Some(-5), false), Status::Failed), -5);
        assert_eq!(delta(track(Some(-5), false), Status::Ok), 0);
        // keepalived: -5 reverse → +5 while failed, nothing while OK.
        assert_eq!(delta(track(Some(-5), true), Status::Ok), 0);
        assert_eq!(delta(track(Some(-5), true), Status::Failed), 5);
        // +5 reverse → -5 while OK.
        assert_eq!(delta(track(Some(5), true), Status::Ok), -5);
        assert_eq!(delta(track(Some(5), true), Status::Failed), 0);
        // weight 0 reverse: OK is the fault.
        assert!(priority_effect(&s, &track(Some(0), true), Status::Ok).fault);
        assert!(!priority_effect(&s, &track(Some(0), true), Status::Failed).fault);
        // The script's own `weight W reverse` applies when the entry sets no weight.
        let mut rev = script(8, 1, 1);
        rev.weight_reverse = true;
        assert_eq!(
            priority_effect(&rev, &track(None, false), Status::Ok).delta,
            -8
        );
    }

    fn parse(text: &str) -> crate::config::Config {
        crate::config::parse_str(text, std::path::Path::new("w.conf"))
            .unwrap()
            .config
    }

    /// A configuration with a track_file `F` and a vrrp_track_process `P` and the given
    /// instance / sync group bodies.
    fn watched_config(inst: &str, group: Option<&str>) -> crate::config::Config {
        let group = group
            .map(|g| format!("vrrp_sync_group G {{\n group {{\n VI\n VJ\n }}\n{g}}}\n"))
            .unwrap_or_default();
        parse(&format!(
            "track_file F {{\n file /tmp/vrrp-track-test-f\n}}\n\
             vrrp_track_process P {{\n process haproxy\n}}\n\
             vrrp_script S {{\n script /bin/true\n}}\n\
             vrrp_instance VI {{\n interface eth0\n virtual_router_id 1\n{inst}\
             virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n\
             vrrp_instance VJ {{\n interface eth0\n virtual_router_id 2\n\
             virtual_ipaddress {{\n 10.0.0.2\n }}\n}}\n{group}"
        ))
    }

    /// The effect on VI with file F = `value`, process P quorum `ok`, script S `status`.
    fn watched_effect(
        c: &crate::config::Config,
        value: Option<Option<i64>>,
        ok: Option<bool>,
        status: Status,
    ) -> Effect {
        let links = HashMap::from([("eth0".to_string(), true)]);
        let statuses = [status];
        let t = Tracked {
            scripts: &c.scripts,
            statuses: &statuses,
            links: &links,
        };
        let file_values: HashMap<String, Option<i64>> =
            value.map(|v| ("F".to_string(), v)).into_iter().collect();
        let process_ok: HashMap<String, bool> =
            ok.map(|v| ("P".to_string(), v)).into_iter().collect();
        let w = Watched {
            files: &c.track_files,
            file_values: &file_values,
            processes: &c.track_processes,
            process_ok: &process_ok,
        };
        let inst = &c.instances[0];
        let group = c.sync_groups.first();
        instance_effect_with(inst, group, &t, &w)
    }

    #[test]
    fn instance_track_file_and_process() {
        let e = |delta, fault| Effect { delta, fault };
        let c = watched_config(
            " track_file {\n F weight -3\n }\n track_process {\n P weight 7\n }\n",
            None,
        );
        assert_eq!(
            watched_effect(&c, Some(Some(4)), Some(true), Status::Ok),
            e(-5, false)
        );
        assert_eq!(
            watched_effect(&c, Some(None), Some(false), Status::Ok),
            e(0, false)
        );
        assert_eq!(
            watched_effect(&c, Some(Some(-2)), Some(true), Status::Ok),
            e(13, false)
        );
        assert_eq!(
            watched_effect(&c, Some(Some(85)), Some(true), Status::Ok),
            e(7, true)
        );
        // Not reported yet: no effect.
        assert_eq!(watched_effect(&c, None, None, Status::Ok), e(0, false));
        // Defaults: file weight 1, process weight 0.
        let c = watched_config(" track_file {\n F\n }\n track_process {\n P\n }\n", None);
        assert_eq!(
            watched_effect(&c, Some(Some(-30)), Some(true), Status::Ok),
            e(-30, false)
        );
        assert_eq!(
            watched_effect(&c, Some(Some(0)), Some(false), Status::Ok),
            e(0, true)
        );
        // The old instance_effect ignores both.
        let links = HashMap::from([("eth0".to_string(), true)]);
        let t = Tracked {
            scripts: &c.scripts,
            statuses: &[Status::Ok],
            links: &links,
        };
        assert_eq!(instance_effect(&c.instances[0], None, &t), e(0, false));
    }

    #[test]
    fn sync_group_members_lose_their_weights_as_in_keepalived() {
        let e = |delta, fault| Effect { delta, fault };
        // Member entries: file weight 1 (default) → weight 0; script weight -20 → ignored;
        // process weight 7 → kept (keepalived does not strip it).
        let c = watched_config(
            " track_file {\n F\n }\n track_process {\n P weight 7\n }\n\
             track_script {\n S weight -20\n }\n",
            Some(""),
        );
        assert_eq!(
            watched_effect(&c, Some(Some(0)), Some(true), Status::Failed),
            e(7, false)
        );
        assert_eq!(
            watched_effect(&c, Some(Some(2)), Some(false), Status::Failed),
            e(0, true)
        );
        // A file weight other than 1 is ignored.
        let c = watched_config(" track_file {\n F weight 5\n }\n", Some(""));
        assert_eq!(
            watched_effect(&c, Some(Some(2)), None, Status::Ok),
            e(0, false)
        );
        // With sync_group_tracking_weight the weights stay.
        let c = watched_config(
            " track_file {\n F weight 5\n }\n track_script {\n S weight -20\n }\n",
            Some(" sync_group_tracking_weight\n"),
        );
        assert_eq!(
            watched_effect(&c, Some(Some(2)), None, Status::Failed),
            e(-10, false)
        );
    }

    #[test]
    fn sync_group_objects_apply_with_the_group_weights() {
        let e = |delta, fault| Effect { delta, fault };
        let c = watched_config(
            "",
            Some(
                " track_file {\n F weight 2\n }\n track_process {\n P\n }\n\
                 track_script {\n S weight -20\n }\n",
            ),
        );
        assert_eq!(
            watched_effect(&c, Some(Some(3)), Some(true), Status::Failed),
            e(-14, false)
        );
        assert_eq!(
            watched_effect(&c, Some(Some(3)), Some(false), Status::Ok),
            e(6, true)
        );
        // Tracked by both: once, through the group's entry…
        let c = watched_config(
            " track_file {\n F weight 1\n }\n",
            Some(" sync_group_tracking_weight\n track_file {\n F weight 2\n }\n"),
        );
        assert_eq!(
            watched_effect(&c, Some(Some(3)), None, Status::Ok),
            e(6, false)
        );
        // …unless the instance's entry is unweighted.
        let c = watched_config(
            " track_file {\n F weight 0\n }\n",
            Some(" track_file {\n F weight 2\n }\n"),
        );
        assert_eq!(
            watched_effect(&c, Some(Some(3)), None, Status::Ok),
            e(0, true)
        );
        assert_eq!(
            watched_effect(&c, Some(Some(0)), None, Status::Ok),
            e(0, false)
        );
    }

    #[test]
    fn an_owner_ignores_weights_but_not_unweighted_objects() {
        let c = watched_config(
            " priority 255\n track_file {\n F\n }\n track_interface {\n eth1 weight -10\n }\n",
            None,
        );
        // The default file weight 1 counts as 0 for an owner: a non-zero value is FAULT.
        assert!(watched_effect(&c, Some(Some(1)), None, Status::Ok).fault);
        // The weighted interface is not tracked at all (eth1 is unknown, so down).
        assert_eq!(
            watched_effect(&c, Some(Some(0)), None, Status::Ok),
            Effect {
                delta: 0,
                fault: false
            }
        );
    }
}
