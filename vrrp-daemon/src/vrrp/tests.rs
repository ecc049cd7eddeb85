//! The state machine under a virtual clock: every time below is exact, in nanoseconds.
use std::net::{IpAddr, Ipv4Addr};

use super::*;

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000 * MS;
const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
const PEER_HIGH_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));

fn params(version: u8, priority: u8, advert_int: Centiseconds) -> Params {
    Params {
        version,
        priority,
        advert_int,
        primary_addr: ME,
        wants_master: false,
        nopreempt: false,
        preempt_delay_nanos: 0,
        down_timer_adverts: 3,
        lower_prio_no_advert: false,
        higher_prio_send_advert: false,
        garp_master_delay_nanos: 5 * SEC,
        garp_lower_prio: false,
        garp_lower_prio_delay_nanos: 0,
        garp_refresh_nanos: 0,
        sync_group: false,
    }
}

fn t(nanos: u64) -> MonoTime {
    MonoTime(nanos)
}

fn advert(from: IpAddr, priority: u8, adver_int: Centiseconds) -> Event {
    Event::Advert(Advert {
        from,
        priority,
        adver_int,
    })
}

/// Start a backup at t=0 and return it.
fn started(p: Params) -> Instance {
    let mut i = Instance::new(p);
    i.handle(Event::Startup, t(0));
    i
}

fn became_master(actions: &[Action]) -> bool {
    actions.iter().any(|a| {
        matches!(
            a,
            Action::Transition {
                to: State::Master,
                ..
            }
        )
    })
}

#[test]
fn backup_takes_over_after_master_down_interval_with_keepalived_order() {
    // v2, priority 90: 3 s + (256-90)/256 s = 3.6484375 s.
    let mut i = started(params(2, 90, Centiseconds::from_secs(1)));
    assert_eq!(i.state(), State::Backup);
    let down = 3 * SEC + 166 * SEC / 256;
    assert_eq!(i.deadline(), Some(t(down)));
    assert!(i.handle(Event::Timer, t(down - 1)).is_empty());
    let actions = i.handle(Event::Timer, t(down));
    assert_eq!(
        actions,
        vec![
            Action::Transition {
                from: State::Backup,
                to: State::Master,
                reason: Reason::MasterDown
            },
            Action::SendAdvert { priority: 90 },
            Action::AddAddresses,
            Action::SendGarp(GarpBurst::Takeover),
            Action::Notify {
                state: State::Master,
                priority: 90
            },
        ]
    );
    assert_eq!(i.state(), State::Master);
}

#[test]
fn adverts_from_the_master_restart_the_down_timer_from_their_arrival() {
    let mut i = started(params(2, 90, Centiseconds::from_secs(1)));
    let down = 3 * SEC + 166 * SEC / 256;
    for k in 1..=10 {
        assert!(
            i.handle(advert(PEER, 100, Centiseconds(100)), t(k * SEC))
                .is_empty()
        );
        assert_eq!(i.deadline(), Some(t(k * SEC + down)));
    }
    assert_eq!(i.master(), Some((PEER, 100)));
    // The master dies after its advert at 10 s: takeover exactly one interval later.
    assert!(!became_master(
        &i.handle(Event::Timer, t(10 * SEC + down - 1))
    ));
    assert!(became_master(&i.handle(Event::Timer, t(10 * SEC + down))));
}

#[test]
fn priority_zero_takes_over_after_skew_time() {
    let mut i = started(params(3, 90, Centiseconds(10)));
    i.handle(advert(PEER, 100, Centiseconds(10)), t(SEC));
    i.handle(advert(PEER, 0, Centiseconds(10)), t(SEC + 50 * MS));
    // v3 skew = (256-90) * 100 ms / 256 = 64.84375 ms.
    let skew = 166 * 100 * MS / 256;
    assert_eq!(i.deadline(), Some(t(SEC + 50 * MS + skew)));
    let actions = i.handle(Event::Timer, t(SEC + 50 * MS + skew));
    assert!(matches!(
        actions[0],
        Action::Transition {
            reason: Reason::MasterResigned,
            ..
        }
    ));
}

#[test]
fn v3_backup_adopts_the_master_interval() {
    let mut i = started(params(3, 90, Centiseconds(100)));
    i.handle(advert(PEER, 100, Centiseconds(10)), t(SEC));
    assert_eq!(i.master_adver_int(), Centiseconds(10));
    // 3 × 100 ms + 166/256 × 100 ms
    assert_eq!(i.deadline(), Some(t(SEC + 300 * MS + 166 * 100 * MS / 256)));
}

#[test]
fn v2_backup_keeps_its_own_interval() {
    let mut i = started(params(2, 90, Centiseconds(100)));
    i.handle(advert(PEER, 100, Centiseconds(200)), t(SEC));
    assert_eq!(i.master_adver_int(), Centiseconds(100));
}

#[test]
fn master_yields_to_a_higher_priority_and_becomes_backup() {
    let mut i = started(params(3, 90, Centiseconds(10)));
    let down = i.deadline().unwrap();
    i.handle(Event::Timer, down);
    assert_eq!(i.state(), State::Master);
    let at = down.add_nanos(5 * MS);
    let actions = i.handle(advert(PEER, 100, Centiseconds(10)), at);
    assert_eq!(
        actions,
        vec![
            Action::Transition {
                from: State::Master,
                to: State::Backup,
                reason: Reason::HigherPriority {
                    from: PEER,
                    priority: 100
                }
            },
            Action::RemoveAddresses,
            Action::Notify {
                state: State::Backup,
                priority: 90
            },
        ]
    );
    assert_eq!(i.master(), Some((PEER, 100)));
    assert_eq!(
        i.deadline(),
        Some(at.add_nanos(300 * MS + 166 * 100 * MS / 256))
    );
}

#[test]
fn a_master_whose_route_is_removed_becomes_backup_and_gets_it_back_as_master() {
    let mut i = started(params(3, 90, Centiseconds(10)));
    assert!(i.handle(Event::RouteLost, t(MS)).is_empty());
    let down = i.deadline().unwrap();
    i.handle(Event::Timer, down);
    assert_eq!(i.state(), State::Master);
    let actions = i.handle(Event::RouteLost, down.add_nanos(MS));
    assert_eq!(
        actions[0],
        Action::Transition {
            from: State::Master,
            to: State::Backup,
            reason: Reason::RouteLost
        }
    );
    assert!(actions.contains(&Action::RemoveAddresses), "{actions:?}");
    let again = i.handle(Event::Timer, i.deadline().unwrap());
    assert!(again.contains(&Action::AddAddresses), "{again:?}");
}

#[test]
fn a_master_whose_address_is_removed_becomes_backup_without_resigning() {
    let mut i = started(params(3, 90, Centiseconds(10)));
    // Not master: nothing to lose.
    assert!(i.handle(Event::AddressLost, t(MS)).is_empty());
    assert_eq!(i.state(), State::Backup);
    let down = i.deadline().unwrap();
    i.handle(Event::Timer, down);
    assert_eq!(i.state(), State::Master);
    let at = down.add_nanos(5 * MS);
    let actions = i.handle(Event::AddressLost, at);
    assert_eq!(
        actions,
        vec![
            Action::Transition {
                from: State::Master,
                to: State::Backup,
                reason: Reason::AddressLost
            },
            Action::RemoveAddresses,
            Action::Notify {
                state: State::Backup,
                priority: 90
            },
        ]
    );
    // A full master-down interval before it may take over again (and re-add the address).
    assert_eq!(
        i.deadline(),
        Some(at.add_nanos(300 * MS + 166 * 100 * MS / 256))
    );
    let again = i.handle(Event::Timer, i.deadline().unwrap());
    assert!(again.contains(&Action::AddAddresses), "{again:?}");
    assert_eq!(i.state(), State::Master);
}

#[test]
fn higher_prio_send_advert_sends_one_before_yielding() {
    let mut p = params(3, 90, Centiseconds(10));
    p.higher_prio_send_advert = true;
    let mut i = started(p);
    i.handle(Event::Timer, i.deadline().unwrap());
    let actions = i.handle(advert(PEER, 100, Centiseconds(10)), t(SEC));
    assert_eq!(actions[0], Action::SendAdvert { priority: 90 });
    assert_eq!(i.state(), State::Backup);
}

#[test]
fn preemption_backup_discards_lower_priority_and_takes_over_at_expiry() {
    // The returning higher-priority router hears the current, lower-priority master.
    let mut i = started(params(3, 100, Centiseconds(10)));
    let first = i.deadline().unwrap();
    for k in 1..=3 {
        i.handle(advert(PEER, 90, Centiseconds(10)), t(k * 100 * MS));
        assert_eq!(
            i.deadline(),
            Some(first),
            "lower-priority adverts must not reset the timer"
        );
    }
    assert!(became_master(&i.handle(Event::Timer, first)));
}

#[test]
fn nopreempt_never_takes_over_from_a_live_lower_priority_master() {
    let mut p = params(3, 100, Centiseconds(10));
    p.nopreempt = true;
    let mut i = started(p);
    for k in 1..=50 {
        let now = t(k * 100 * MS);
        i.handle(advert(PEER, 90, Centiseconds(10)), now);
        if let Some(d) = i.deadline().filter(|d| *d <= now) {
            assert!(!became_master(&i.handle(Event::Timer, d)));
        }
    }
    assert_eq!(i.state(), State::Backup);
}

#[test]
fn preempt_delay_accepts_a_lower_master_until_it_runs_out() {
    let mut p = params(3, 100, Centiseconds(10));
    p.preempt_delay_nanos = SEC;
    let mut i = started(p);
    let down = 300 * MS + 156 * 100 * MS / 256;
    // Adverts every 100 ms from a lower-priority master, starting at 100 ms.
    let mut now = 0;
    let mut took_over_at = None;
    for k in 1..=40 {
        now = k * 100 * MS;
        if let Some(d) = i.deadline().filter(|d| d.0 <= now)
            && became_master(&i.handle(Event::Timer, d))
        {
            took_over_at = Some(d.0);
            break;
        }
        i.handle(advert(PEER, 90, Centiseconds(10)), t(now));
    }
    // The delay started at 100 ms and ends at 1.1 s; the last accepted advert is the one at
    // 1.0 s, so the master is declared down at 1.0 s + down.
    assert_eq!(took_over_at, Some(SEC + down), "stopped at {now}");
}

/// What a master at `priority` reports when it hears a lower one from [`PEER`].
fn heard_lower(priority: u8) -> Action {
    Action::HeardLowerPriority {
        from: PEER,
        priority,
    }
}

#[test]
fn equal_priority_tie_break_on_primary_address() {
    // We (10.0.0.2) are master; an equal-priority advert from 10.0.0.1 loses.
    let mut i = started(params(3, 100, Centiseconds(10)));
    i.handle(Event::Timer, i.deadline().unwrap());
    let actions = i.handle(advert(PEER, 100, Centiseconds(10)), t(SEC));
    assert_eq!(
        actions,
        vec![heard_lower(100), Action::SendAdvert { priority: 100 }]
    );
    assert_eq!(i.state(), State::Master);
    // From 10.0.0.3 it wins.
    i.handle(advert(PEER_HIGH_ADDR, 100, Centiseconds(10)), t(SEC + MS));
    assert_eq!(i.state(), State::Backup);
}

#[test]
fn master_answers_lower_priority_unless_told_not_to() {
    let mut i = started(params(3, 100, Centiseconds(10)));
    i.handle(Event::Timer, i.deadline().unwrap());
    assert_eq!(
        i.handle(advert(PEER, 50, Centiseconds(10)), t(SEC)),
        vec![heard_lower(100), Action::SendAdvert { priority: 100 }]
    );
    let mut p = params(3, 100, Centiseconds(10));
    p.lower_prio_no_advert = true;
    let mut quiet = started(p);
    quiet.handle(Event::Timer, quiet.deadline().unwrap());
    // No advert in answer; the scripts and FIFOs still hear of it.
    assert_eq!(
        quiet.handle(advert(PEER, 50, Centiseconds(10)), t(SEC)),
        vec![heard_lower(100)]
    );
}

#[test]
fn master_answers_priority_zero_with_an_advert_and_restarts_its_timer() {
    let mut i = started(params(3, 100, Centiseconds(10)));
    i.handle(Event::Timer, i.deadline().unwrap());
    let actions = i.handle(advert(PEER, 0, Centiseconds(10)), t(SEC));
    assert_eq!(actions, vec![Action::SendAdvert { priority: 100 }]);
    assert_eq!(i.deadline(), Some(t(SEC + 100 * MS)));
}

#[test]
fn master_advertises_every_interval() {
    let mut i = started(params(3, 100, Centiseconds(5)));
    let start = i.deadline().unwrap();
    i.handle(Event::Timer, start);
    let mut sent = 0;
    let mut now = start;
    for _ in 0..20 {
        now = i.deadline().unwrap().min(now.add_nanos(SEC));
        sent += i
            .handle(Event::Timer, now)
            .iter()
            .filter(|a| matches!(a, Action::SendAdvert { .. }))
            .count();
    }
    assert_eq!(sent, 20);
    assert_eq!(now, start.add_nanos(20 * 50 * MS));
}

#[test]
fn second_garp_burst_after_garp_master_delay() {
    let mut i = started(params(3, 100, Centiseconds(100)));
    let t0 = i.deadline().unwrap();
    i.handle(Event::Timer, t0);
    let mut garps = 0;
    for k in 1..=60 {
        let now = t0.add_nanos(k * SEC / 10);
        garps += i
            .handle(Event::Timer, now)
            .iter()
            .filter(|a| **a == Action::SendGarp(GarpBurst::Takeover))
            .count();
    }
    assert_eq!(garps, 1);
}

#[test]
fn address_owner_wishing_master_starts_as_master_at_once() {
    let mut p = params(2, 255, Centiseconds(100));
    p.wants_master = true;
    let mut i = Instance::new(p);
    let actions = i.handle(Event::Startup, t(0));
    assert!(matches!(
        actions[0],
        Action::Transition {
            to: State::Master,
            reason: Reason::OwnerStartup,
            ..
        }
    ));
    // `state MASTER` below 255 waits like any backup.
    let mut p = params(2, 100, Centiseconds(100));
    p.wants_master = true;
    assert_eq!(started(p).state(), State::Backup);
}

#[test]
fn failed_tracking_lowers_priority_and_a_better_backup_preempts() {
    // The master at 100 loses 20 for a failed script; as in keepalived the new priority
    // goes out with its next scheduled advert.
    let mut m = started(params(2, 100, Centiseconds(100)));
    m.handle(Event::Timer, m.deadline().unwrap());
    let actions = m.handle(
        Event::Tracking {
            delta: -20,
            fault: false,
        },
        t(10 * SEC),
    );
    // Nothing on the wire yet; the FIFOs may hear of it (notify_priority_changes).
    assert_eq!(
        actions,
        vec![Action::PriorityChanged {
            state: State::Master,
            priority: 80
        }]
    );
    assert_eq!(m.priority(), 80);
    // The same tracking result again is no news.
    assert!(
        m.handle(
            Event::Tracking {
                delta: -20,
                fault: false,
            },
            t(10 * SEC),
        )
        .is_empty()
    );
    let next = m.deadline().unwrap();
    assert_eq!(
        m.handle(Event::Timer, next),
        vec![Action::SendAdvert { priority: 80 }]
    );
    // The backup at 90 discards the 80 advert and takes over when its timer runs out.
    let mut b = started(params(2, 90, Centiseconds(100)));
    b.handle(advert(PEER, 100, Centiseconds(100)), t(9 * SEC));
    let due = b.deadline().unwrap();
    b.handle(advert(PEER, 80, Centiseconds(100)), t(10 * SEC));
    assert_eq!(b.deadline(), Some(due));
    assert!(became_master(&b.handle(Event::Timer, due)));
    // ... and the old master yields to it.
    m.handle(advert(PEER, 90, Centiseconds(100)), due);
    assert_eq!(m.state(), State::Backup);
}

#[test]
fn weight_zero_failure_is_fault_with_resignation_and_recovery_is_backup() {
    let mut i = started(params(2, 100, Centiseconds(100)));
    i.handle(Event::Timer, i.deadline().unwrap());
    let actions = i.handle(
        Event::Tracking {
            delta: 0,
            fault: true,
        },
        t(10 * SEC),
    );
    assert_eq!(
        actions,
        vec![
            Action::Transition {
                from: State::Master,
                to: State::Fault,
                reason: Reason::TrackFault
            },
            Action::SendAdvert { priority: 0 },
            Action::RemoveAddresses,
            Action::Notify {
                state: State::Fault,
                priority: 100
            },
        ]
    );
    assert_eq!(i.deadline(), None);
    assert!(
        i.handle(advert(PEER, 50, Centiseconds(100)), t(11 * SEC))
            .is_empty()
    );
    let actions = i.handle(
        Event::Tracking {
            delta: 0,
            fault: false,
        },
        t(12 * SEC),
    );
    assert_eq!(i.state(), State::Backup);
    assert!(matches!(
        actions[0],
        Action::Transition {
            reason: Reason::TrackRecovered,
            ..
        }
    ));
}

#[test]
fn starting_with_a_failed_script_starts_in_fault() {
    let mut i = Instance::new(params(2, 100, Centiseconds(100)));
    i.handle(
        Event::Tracking {
            delta: 0,
            fault: true,
        },
        t(0),
    );
    i.handle(Event::Startup, t(0));
    assert_eq!(i.state(), State::Fault);
}

#[test]
fn shutdown_as_master_resigns_and_releases() {
    let mut i = started(params(2, 100, Centiseconds(100)));
    i.handle(Event::Timer, i.deadline().unwrap());
    let actions = i.handle(Event::Shutdown, t(20 * SEC));
    assert_eq!(
        actions,
        vec![
            Action::Transition {
                from: State::Master,
                to: State::Stop,
                reason: Reason::Shutdown
            },
            Action::SendAdvert { priority: 0 },
            Action::RemoveAddresses,
            Action::Notify {
                state: State::Stop,
                priority: 100
            },
        ]
    );
    assert_eq!(i.deadline(), None);
    assert!(i.handle(Event::Timer, t(30 * SEC)).is_empty());
}

#[test]
fn shutdown_as_backup_sends_nothing() {
    let mut i = started(params(2, 100, Centiseconds(100)));
    let actions = i.handle(Event::Shutdown, t(SEC));
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::SendAdvert { .. }))
    );
    assert!(!actions.contains(&Action::RemoveAddresses));
}

#[test]
fn effective_priority_is_clamped_and_owners_are_fixed() {
    assert_eq!(effective_priority(100, -20), 80);
    assert_eq!(effective_priority(100, -200), 1);
    assert_eq!(effective_priority(200, 100), 254);
    assert_eq!(effective_priority(255, -100), 255);
}

#[test]
fn late_wake_ups_do_not_stretch_the_advert_cadence() {
    let mut i = started(params(3, 100, Centiseconds(10)));
    let t0 = i.deadline().unwrap();
    i.handle(Event::Timer, t0);
    // Woken 3 ms late each time: adverts stay on the 100 ms grid.
    for k in 1..=5 {
        let due = t0.add_nanos(k * 100 * MS);
        assert_eq!(i.deadline(), Some(due));
        i.handle(Event::Timer, due.add_nanos(3 * MS));
    }
    // A 1 s stall: one advert, then a fresh 100 ms schedule (no burst).
    let late = t0.add_nanos(1600 * MS);
    let sent = i.handle(Event::Timer, late);
    assert_eq!(sent, vec![Action::SendAdvert { priority: 100 }]);
    assert_eq!(i.deadline(), Some(late.add_nanos(100 * MS)));
}

#[test]
fn reconfigure_keeps_a_master_master_and_advertises_the_new_priority_at_once() {
    let mut i = started(params(3, 100, Centiseconds(10)));
    i.handle(Event::Timer, i.deadline().unwrap());
    let actions = i.reconfigure(params(3, 120, Centiseconds(20)), t(5 * SEC));
    assert_eq!(actions, vec![Action::SendAdvert { priority: 120 }]);
    assert_eq!(i.state(), State::Master);
    assert_eq!(i.deadline(), Some(t(5 * SEC + 200 * MS)));
}

#[test]
fn reconfigure_keeps_a_backup_listening_and_tracking_applies_to_the_new_base() {
    let mut i = started(params(2, 90, Centiseconds(100)));
    i.handle(
        Event::Tracking {
            delta: -10,
            fault: false,
        },
        t(0),
    );
    i.handle(advert(PEER, 100, Centiseconds(100)), t(SEC));
    let due = i.deadline().unwrap();
    assert!(
        i.reconfigure(params(2, 95, Centiseconds(100)), t(2 * SEC))
            .is_empty()
    );
    assert_eq!(i.state(), State::Backup);
    assert_eq!(i.priority(), 85);
    assert_eq!(i.deadline(), Some(due));
}

#[test]
fn two_address_owners_meeting_break_the_tie_on_the_address() {
    let mut p = params(2, 255, Centiseconds(100));
    p.wants_master = true;
    let mut i = Instance::new(p);
    i.handle(Event::Startup, t(0));
    assert_eq!(i.state(), State::Master);
    // A lower address: we stay master and answer at once.
    assert_eq!(
        i.handle(advert(PEER, 255, Centiseconds(100)), t(SEC)),
        vec![heard_lower(255), Action::SendAdvert { priority: 255 }]
    );
    assert_eq!(i.state(), State::Master);
    // A higher address: we yield, keeping 255.
    i.handle(advert(PEER_HIGH_ADDR, 255, Centiseconds(100)), t(2 * SEC));
    assert_eq!(i.state(), State::Backup);
    assert_eq!(i.priority(), 255);
}

/// Takeover time after the master's last advert, to the nanosecond, for a grid of versions,
/// priorities and intervals: `3 × interval + skew` with keepalived's v2 / v3 skew.
#[test]
fn takeover_timing_matches_the_formulas_table() {
    // (version, priority, advert_int cs, expected master-down ns)
    let table: &[(u8, u8, u32, u64)] = &[
        (2, 1, 100, 3 * SEC + 255 * SEC / 256),
        (2, 90, 100, 3 * SEC + 166 * SEC / 256),
        (2, 100, 300, 9 * SEC + 156 * SEC / 256),
        (2, 254, 100, 3 * SEC + 2 * SEC / 256),
        (3, 1, 1, 30 * MS + 255 * 10 * MS / 256),
        (3, 90, 5, 150 * MS + 166 * 50 * MS / 256),
        (3, 100, 10, 300 * MS + 156 * 100 * MS / 256),
        (3, 200, 100, 3 * SEC + 56 * SEC / 256),
        (3, 254, 4095, 3 * 40_950 * MS + 2 * 40_950 * MS / 256),
    ];
    for &(version, priority, cs, down) in table {
        let mut i = started(params(version, priority, Centiseconds(cs)));
        let last_advert = t(7 * SEC);
        // The master (priority 255 is above everyone) advertises our own interval.
        i.handle(advert(PEER_HIGH_ADDR, 255, Centiseconds(cs)), last_advert);
        assert_eq!(
            i.deadline(),
            Some(last_advert.add_nanos(down)),
            "v{version} priority {priority} interval {cs} cs"
        );
        assert!(!became_master(
            &i.handle(Event::Timer, last_advert.add_nanos(down - 1))
        ));
        assert!(became_master(
            &i.handle(Event::Timer, last_advert.add_nanos(down))
        ));
        // Priority 0 instead: skew only.
        let mut j = started(params(version, priority, Centiseconds(cs)));
        j.handle(advert(PEER_HIGH_ADDR, 0, Centiseconds(cs)), last_advert);
        let skew = down - 3 * Centiseconds(cs).as_nanos();
        assert_eq!(j.deadline(), Some(last_advert.add_nanos(skew)));
    }
}

#[test]
fn lower_priority_advert_triggers_the_split_brain_garp_bursts() {
    let mut p = params(3, 100, Centiseconds(10));
    p.garp_lower_prio = true;
    p.garp_lower_prio_delay_nanos = 2 * SEC;
    p.garp_master_delay_nanos = 0;
    let mut i = started(p);
    i.handle(Event::Timer, i.deadline().unwrap());
    let heard = t(10 * SEC);
    assert_eq!(
        i.handle(advert(PEER, 90, Centiseconds(10)), heard),
        vec![
            heard_lower(100),
            Action::SendAdvert { priority: 100 },
            Action::SendGarp(GarpBurst::LowerPriority)
        ]
    );
    // The second burst comes 2 s later, on the advert timeline.
    let mut second = None;
    let mut now = heard;
    while now < heard.add_nanos(3 * SEC) {
        now = i.deadline().unwrap();
        if i.handle(Event::Timer, now)
            .contains(&Action::SendGarp(GarpBurst::LowerPriority))
        {
            second = Some(now);
        }
    }
    assert_eq!(second, Some(heard.add_nanos(2 * SEC)));
}

#[test]
fn garp_master_refresh_repeats_while_master_and_stops_on_leaving() {
    let mut p = params(3, 100, Centiseconds(10));
    p.garp_refresh_nanos = SEC;
    p.garp_master_delay_nanos = 0;
    let mut i = started(p);
    let t0 = i.deadline().unwrap();
    i.handle(Event::Timer, t0);
    let mut refreshes = Vec::new();
    let mut now = t0;
    while now < t0.add_nanos(3500 * MS) {
        now = i.deadline().unwrap();
        if i.handle(Event::Timer, now)
            .contains(&Action::SendGarp(GarpBurst::Refresh))
        {
            refreshes.push(now.nanos_since(t0));
        }
    }
    assert_eq!(refreshes, [SEC, 2 * SEC, 3 * SEC]);
    i.handle(advert(PEER_HIGH_ADDR, 200, Centiseconds(10)), now);
    assert_eq!(i.state(), State::Backup);
    let later = now.add_nanos(5 * SEC);
    assert!(
        !i.handle(Event::Timer, later)
            .contains(&Action::SendGarp(GarpBurst::Refresh))
    );
}

#[test]
fn sync_group_members_follow_to_master_and_back() {
    let mut i = started(params(3, 90, Centiseconds(10)));
    i.handle(advert(PEER, 100, Centiseconds(10)), t(SEC));
    let actions = i.handle(Event::SyncGroup { to: State::Master }, t(SEC + MS));
    assert_eq!(
        actions[0],
        Action::Transition {
            from: State::Backup,
            to: State::Master,
            reason: Reason::SyncGroup
        }
    );
    assert!(actions.contains(&Action::AddAddresses));
    let actions = i.handle(Event::SyncGroup { to: State::Backup }, t(2 * SEC));
    assert!(actions.contains(&Action::RemoveAddresses));
    assert_eq!(i.state(), State::Backup);
    // A FAULT member does not follow to MASTER.
    i.handle(
        Event::Tracking {
            delta: 0,
            fault: true,
        },
        t(3 * SEC),
    );
    assert!(
        i.handle(Event::SyncGroup { to: State::Master }, t(4 * SEC))
            .is_empty()
    );
    assert_eq!(i.state(), State::Fault);
}

#[test]
fn a_sync_group_member_is_only_ready_when_its_master_down_interval_passes() {
    let mut p = params(3, 90, Centiseconds(10));
    p.sync_group = true;
    let mut i = started(p);
    i.handle(advert(PEER, 100, Centiseconds(10)), t(SEC));
    let down = i.deadline().unwrap();
    assert_eq!(down, t(SEC).add_nanos(300 * MS + 166 * 100 * MS / 256));
    // Master-down passes: ready, still BACKUP, no addresses; looked at again every
    // advert interval, and ready is announced once.
    assert_eq!(i.handle(Event::Timer, down), vec![Action::ReadyForMaster]);
    assert_eq!(i.state(), State::Backup);
    assert!(i.is_ready_for_master());
    assert_eq!(i.deadline(), Some(down.add_nanos(100 * MS)));
    assert!(i.handle(Event::Timer, down.add_nanos(100 * MS)).is_empty());
    assert!(i.is_ready_for_master());
    // Its master is heard again: not ready, the full interval again.
    let back = down.add_nanos(150 * MS);
    assert!(
        i.handle(advert(PEER, 100, Centiseconds(10)), back)
            .is_empty()
    );
    assert!(!i.is_ready_for_master());
    assert_eq!(
        i.deadline(),
        Some(back.add_nanos(300 * MS + 166 * 100 * MS / 256))
    );
    // Ready again, then the group moves: MASTER, no longer ready.
    i.handle(Event::Timer, i.deadline().unwrap());
    assert!(i.is_ready_for_master());
    let actions = i.handle(Event::SyncGroup { to: State::Master }, t(5 * SEC));
    assert!(actions.contains(&Action::AddAddresses));
    assert_eq!(i.state(), State::Master);
    assert!(!i.is_ready_for_master());
    // A priority-0 advert also counts as hearing the master (skew time, then ready).
    let mut p = params(3, 90, Centiseconds(10));
    p.sync_group = true;
    let mut j = started(p);
    j.handle(Event::Timer, j.deadline().unwrap());
    assert!(j.is_ready_for_master());
    j.handle(advert(PEER, 0, Centiseconds(10)), t(SEC));
    assert!(!j.is_ready_for_master());
    assert_eq!(j.deadline(), Some(t(SEC).add_nanos(166 * 100 * MS / 256)));
}

#[test]
fn a_backup_s_priority_change_moves_its_running_timer_by_the_skew_change() {
    // Backup at 100 listening to a 200 master at 1 s: deadline = last advert + 3 s + 156/256 s.
    let mut i = started(params(2, 100, Centiseconds(100)));
    i.handle(advert(PEER_HIGH_ADDR, 200, Centiseconds(100)), t(SEC));
    assert_eq!(i.deadline(), Some(t(SEC + 3 * SEC + 156 * SEC / 256)));
    // A script takes 20 off: skew becomes 176/256 s, the deadline moves by 20/256 s.
    i.handle(
        Event::Tracking {
            delta: -20,
            fault: false,
        },
        t(2 * SEC),
    );
    assert_eq!(i.deadline(), Some(t(SEC + 3 * SEC + 176 * SEC / 256)));
}

#[test]
fn a_lower_priority_burst_never_cancels_the_second_takeover_burst() {
    let mut p = params(3, 100, Centiseconds(100));
    p.garp_master_delay_nanos = 5 * SEC;
    p.garp_lower_prio = true;
    p.garp_lower_prio_delay_nanos = 2 * SEC;
    let mut i = started(p);
    let t0 = i.deadline().unwrap();
    i.handle(Event::Timer, t0);
    i.handle(advert(PEER, 50, Centiseconds(100)), t0.add_nanos(SEC));
    let mut bursts = Vec::new();
    let mut now = t0;
    while now < t0.add_nanos(6 * SEC) {
        now = i.deadline().unwrap();
        for a in i.handle(Event::Timer, now) {
            if let Action::SendGarp(kind) = a {
                bursts.push((now.nanos_since(t0), kind));
            }
        }
    }
    assert_eq!(
        bursts,
        [
            (3 * SEC, GarpBurst::LowerPriority),
            (5 * SEC, GarpBurst::Takeover)
        ]
    );
}

// --- `--takeover` restart: Event::Resume ---

fn resumed(state: State) -> Event {
    Event::Resume(Resumed {
        state,
        master: Some((PEER, 200)),
        master_adver_int: Centiseconds(50),
    })
}

#[test]
fn a_resumed_master_advertises_at_once_without_garp_or_notify() {
    let mut i = Instance::new(params(3, 100, Centiseconds(100)));
    let actions = i.handle(resumed(State::Master), t(7 * SEC));
    assert_eq!(
        actions,
        [
            Action::Transition {
                from: State::Init,
                to: State::Master,
                reason: Reason::Resumed
            },
            Action::SendAdvert { priority: 100 },
            Action::AddAddresses,
        ]
    );
    assert_eq!(i.state(), State::Master);
    // The takeover GARP's second burst belongs to a real takeover only.
    assert_eq!(i.deadline(), Some(t(8 * SEC)));
    let next = i.handle(Event::Timer, t(8 * SEC));
    assert_eq!(next, [Action::SendAdvert { priority: 100 }]);
}

#[test]
fn a_resumed_backup_gives_the_master_a_full_master_down_interval() {
    // v3 at 1 s, priority 100, learned 0.5 s: master-down from the learned interval.
    let mut i = Instance::new(params(3, 100, Centiseconds(100)));
    let actions = i.handle(resumed(State::Backup), t(SEC));
    assert_eq!(
        actions,
        [Action::Transition {
            from: State::Init,
            to: State::Backup,
            reason: Reason::Resumed
        }]
    );
    assert_eq!(i.master(), Some((PEER, 200)));
    assert_eq!(i.master_adver_int(), Centiseconds(50));
    let down = timers::master_down_nanos(3, 100, Centiseconds(50), 3);
    assert_eq!(i.master_down_at(), Some(t(SEC + down)));
    assert!(i.handle(Event::Timer, t(SEC + down - 1)).is_empty());
    assert!(became_master(&i.handle(Event::Timer, t(SEC + down))));
}

#[test]
fn a_resumed_instance_whose_tracking_now_fails_goes_to_fault_as_at_startup() {
    let mut i = Instance::new(params(2, 100, Centiseconds(100)));
    i.handle(
        Event::Tracking {
            delta: 0,
            fault: true,
        },
        t(0),
    );
    let actions = i.handle(resumed(State::Master), t(0));
    assert_eq!(i.state(), State::Fault);
    assert!(!actions.contains(&Action::AddAddresses), "{actions:?}");
}

#[test]
fn resuming_fault_or_stop_is_an_ordinary_startup() {
    for state in [State::Fault, State::Stop, State::Init] {
        let mut i = Instance::new(params(2, 100, Centiseconds(100)));
        let actions = i.handle(resumed(state), t(0));
        assert_eq!(i.state(), State::Backup, "{state}");
        assert!(actions.contains(&Action::Transition {
            from: State::Init,
            to: State::Backup,
            reason: Reason::Startup
        }));
    }
}

#[test]
fn resume_is_ignored_once_running() {
    let mut i = started(params(2, 100, Centiseconds(100)));
    assert!(i.handle(resumed(State::Master), t(1)).is_empty());
    assert_eq!(i.state(), State::Backup);
}
