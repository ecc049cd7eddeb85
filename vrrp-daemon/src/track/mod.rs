//! Health checks (`vrrp_script`): the pure rise/fall logic here, the process runner in
//! [`runner`].
//!
//! A script's status only changes after `rise` consecutive successes or `fall` consecutive
//! failures, as in keepalived; how a status moves an instance's priority is
//! [`priority_effect`].
pub mod identity;
pub mod runner;

use crate::config::{TrackScript, VrrpScript};

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
    let reverse = track.reverse || (track.weight.is_none() && script.weight_reverse);
    let status = match (status, reverse) {
        (Status::Ok, true) => Status::Failed,
        (Status::Failed, true) => Status::Ok,
        (s, _) => s,
    };
    match status {
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
