//! Health checks (`vrrp_script`): the pure rise/fall logic here, the process runner in
//! [`runner`].
//!
//! A script's status only changes after `rise` consecutive successes or `fall` consecutive
//! failures, as in keepalived; how a status moves an instance's priority is
//! [`priority_effect`].
pub mod identity;
pub mod runner;

use std::collections::HashMap;

use crate::config::{SyncGroup, TrackInterface, TrackScript, VrrpInstance, VrrpScript};

/// Where a script stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// No verdict yet: neither adds nor subtracts weight, never faults.
    Init,
    /// Passing.
    Ok,
    /// Failing.
    Failed,
}

/// Counts consecutive results and decides the status.
#[derive(Clone, Debug)]
pub struct ScriptState {
    rise: u32,
    fall: u32,
    status: Status,
    /// Consecutive results pointing away from the current status.
    streak: u32,
}

impl ScriptState {
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
    pub fn record(&mut self, success: bool) -> Option<Status> {
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

/// keepalived's rule: weight 0 → a failure is FAULT; weight > 0 → added while OK; weight < 0
/// → added (subtracted) while failed. `reverse` swaps the sense of OK and failed.
pub fn priority_effect(script: &VrrpScript, track: &TrackScript, status: Status) -> Effect {
    let weight = track.weight.unwrap_or(script.weight);
    match effective_status(script, track, status) {
        Status::Init => Effect {
            delta: 0,
            fault: false,
        },
        Status::Ok => Effect {
            delta: weight.max(0),
            fault: false,
        },
        Status::Failed => Effect {
            delta: weight.min(0),
            fault: weight == 0,
        },
    }
}

/// The status as the weight sees it: `reverse` swaps OK and failed.
fn effective_status(script: &VrrpScript, track: &TrackScript, status: Status) -> Status {
    let reverse = track.reverse || (track.weight.is_none() && script.weight_reverse);
    match (status, reverse) {
        (Status::Ok, true) => Status::Failed,
        (Status::Failed, true) => Status::Ok,
        (s, _) => s,
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

/// keepalived's rule for a tracked interface, as for scripts: weight 0 → down is FAULT;
/// weight > 0 added while up; weight < 0 added while down; `reverse` swaps up and down.
pub fn interface_effect(track: &TrackInterface, up: bool) -> Effect {
    let ok = up != track.reverse;
    match (track.weight, ok) {
        (0, ok) => Effect {
            delta: 0,
            fault: !ok,
        },
        (w, true) => Effect {
            delta: w.max(0),
            fault: false,
        },
        (w, false) => Effect {
            delta: w.min(0),
            fault: false,
        },
    }
}

/// What everything an instance tracks does to it: its own interface (unless
/// `dont_track_primary`), `track_interface`, `track_script`, and its sync group's tracked
/// objects. In a sync group the members' weights count as 0 (a failure is FAULT) unless the
/// group says `sync_group_tracking_weight`, as keepalived does.
pub fn instance_effect(inst: &VrrpInstance, group: Option<&SyncGroup>, t: &Tracked) -> Effect {
    let weights = group.is_none_or(|g| g.tracking_weight);
    let mut total = Effect {
        delta: 0,
        fault: !inst.dont_track_primary && !t.link_up(&inst.interface),
    };
    let mut add = |e: Effect, failed: bool| {
        if weights {
            total.delta += e.delta;
            total.fault |= e.fault;
        } else {
            total.fault |= e.fault || failed;
        }
    };
    for ti in &inst.track_interfaces {
        let up = t.link_up(&ti.interface);
        add(interface_effect(ti, up), up == ti.reverse);
    }
    for ts in &inst.track_scripts {
        if let Some((script, status)) = t.script(&ts.name) {
            let failed = effective_status(script, ts, status) == Status::Failed;
            add(priority_effect(script, ts, status), failed);
        }
    }
    // What the sync group itself tracks puts every member in FAULT when it fails.
    if let Some(g) = group {
        for ti in &g.track_interfaces {
            total.fault |= t.link_up(&ti.interface) == ti.reverse;
        }
        for ts in &g.track_scripts {
            if let Some((script, status)) = t.script(&ts.name) {
                total.fault |= effective_status(script, ts, status) == Status::Failed;
            }
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
        assert_eq!(s.record(true), None);
        assert_eq!(s.record(true), Some(Status::Ok));
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(true), None, "a success breaks the failure streak");
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), None);
        assert_eq!(s.record(false), Some(Status::Failed));
        assert_eq!(s.record(false), None);
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
        assert_eq!(
            interface_effect(&ti(-10, true), true),
            Effect {
                delta: -10,
                fault: false
            }
        );
    }

    #[test]
    fn track_weight_overrides_and_reverse_swaps() {
        let s = script(-20, 1, 1);
        assert_eq!(
            priority_effect(&s, &track(Some(-5), false), Status::Failed).delta,
            -5
        );
        assert_eq!(
            priority_effect(&s, &track(Some(-5), true), Status::Ok).delta,
            -5
        );
        assert_eq!(
            priority_effect(&s, &track(Some(-5), true), Status::Failed).delta,
            0
        );
    }
}
