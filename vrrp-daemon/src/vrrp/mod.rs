//! The VRRP instance state machine, sans-IO.
//!
//! [`Instance`] takes [`Event`]s together with the time they happen at and returns
//! [`Action`]s; it never reads a clock, a socket or a map. The daemon owns all I/O: it feeds
//! adverts observed by XDP, wakes the instance at [`Instance::deadline`], and carries out the
//! actions in the order returned (keepalived's order: advert, VIPs, GARP, notify).
//!
//! Every arm of [`Instance::handle`] cites the RFC 5798 / RFC 3768 rule it implements, with
//! keepalived's choices where the RFC leaves room (KEEPALIVED.md §2).
use std::{fmt, net::IpAddr};

use serde::Serialize;

use crate::units::{Centiseconds, MonoTime};

pub mod timers;

/// The protocol state (RFC 5798 §6.4), plus FAULT and STOP as keepalived reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum State {
    /// Not started.
    Init,
    /// Listening for the master; takes over when it falls silent.
    Backup,
    /// Owns the virtual addresses and advertises.
    Master,
    /// A tracked object failed: neither advertises nor takes over.
    Fault,
    /// Shut down.
    Stop,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Stop => "STOP",
        })
    }
}

/// The static parameters of an instance, taken from the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// VRRP version, 2 or 3.
    pub version: u8,
    /// Configured priority (1..=255; 255 = address owner).
    pub priority: u8,
    /// Configured advert interval.
    pub advert_int: Centiseconds,
    /// This router's primary address on the interface: the advert source and the
    /// equal-priority tie-breaker (RFC 5798 §6.4.3).
    pub primary_addr: IpAddr,
    /// `state MASTER`.
    pub wants_master: bool,
    /// `nopreempt`.
    pub nopreempt: bool,
    /// `preempt_delay` in nanoseconds.
    pub preempt_delay_nanos: u64,
    /// `down_timer_adverts` (3 = RFC).
    pub down_timer_adverts: u32,
    /// `lower_prio_no_advert`: do not answer a lower-priority advert with one of ours.
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert`: send one advert before yielding to a higher priority.
    pub higher_prio_send_advert: bool,
    /// `garp_master_delay` in nanoseconds: second GARP burst after takeover (0 = none).
    pub garp_master_delay_nanos: u64,
    /// `garp_lower_prio_repeat` > 0: a master hearing a lower priority re-announces its
    /// addresses (the split-brain recovery path).
    pub garp_lower_prio: bool,
    /// `garp_lower_prio_delay` in nanoseconds: second such burst (0 = none).
    pub garp_lower_prio_delay_nanos: u64,
    /// `garp_master_refresh` in nanoseconds: periodic bursts while master (0 = none).
    pub garp_refresh_nanos: u64,
    /// A member of a `vrrp_sync_group`: when its master-down interval passes it only
    /// becomes ready ([`Action::ReadyForMaster`]); the group goes MASTER together once
    /// every member is ready (keepalived's vrrp_sync_can_goto_master), so a member whose
    /// own master is still heard holds the others back instead of being dragged into a
    /// second master.
    pub sync_group: bool,
}

/// An advert the data plane accepted (all receive checks already passed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Advert {
    /// Source address.
    pub from: IpAddr,
    /// Advertised priority.
    pub priority: u8,
    /// Advertised interval (VRRPv3 backups adopt it).
    pub adver_int: Centiseconds,
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The daemon is up and the interface is usable.
    Startup,
    /// An advert arrived at the time passed to [`Instance::handle`].
    Advert(Advert),
    /// The time passed to [`Instance::handle`] reached [`Instance::deadline`].
    Timer,
    /// Tracked objects changed: `delta` is the sum of weights now applied, `fault` whether a
    /// weight-0 object failed.
    Tracking {
        /// Priority adjustment.
        delta: i32,
        /// A tracked object with no weight is down: go to FAULT.
        fault: bool,
    },
    /// SIGTERM: resign (priority 0) and release the addresses.
    Shutdown,
    /// Another member of the instance's `vrrp_sync_group` became MASTER or left MASTER:
    /// follow it (keepalived: members change state together).
    SyncGroup {
        /// [`State::Master`] or [`State::Backup`].
        to: State,
    },
    /// Instead of [`Event::Startup`]: carry on where the previous daemon left off
    /// (a `--takeover` restart), without announcing anything new to the network or to
    /// notify scripts.
    Resume(Resumed),
    /// Someone else removed one of the master's tracked virtual addresses (keepalived:
    /// the master becomes backup, so a peer that still can serve takes over, and this
    /// node re-adds the address if it wins the next election).
    AddressLost,
    /// Someone else removed one of the master's tracked virtual routes or rules (as for
    /// an address, in keepalived).
    RouteLost,
}

/// What a restarted daemon inherits of an instance from its predecessor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resumed {
    /// The state the previous daemon was in ([`State::Master`] or [`State::Backup`];
    /// anything else starts afresh).
    pub state: State,
    /// The master it last heard, if backup.
    pub master: Option<(IpAddr, u8)>,
    /// The master's advert interval it had learned (VRRPv3), if backup.
    pub master_adver_int: Centiseconds,
}

/// Why a transition happened; logged and passed to status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Reason {
    /// Start-up as address owner wishing MASTER.
    OwnerStartup,
    /// Start-up as backup.
    Startup,
    /// No advert from the master within Master_Down_Interval.
    MasterDown,
    /// The master sent priority 0 and the skew time passed.
    MasterResigned,
    /// A peer with a higher priority (or equal and higher address) advertised.
    HigherPriority {
        /// The peer.
        from: IpAddr,
        /// Its priority.
        priority: u8,
    },
    /// A tracked object failed.
    TrackFault,
    /// The tracked objects recovered.
    TrackRecovered,
    /// Shut down by signal.
    Shutdown,
    /// Another member of the sync group changed state.
    SyncGroup,
    /// Taken over from the previous daemon by a `--takeover` restart.
    Resumed,
    /// Someone else removed one of its virtual addresses while it was master.
    AddressLost,
    /// Someone else removed one of its virtual routes or rules while it was master.
    RouteLost,
}

impl Reason {
    /// A short stable name, for metrics labels and counters.
    pub fn key(&self) -> &'static str {
        match self {
            Reason::OwnerStartup => "owner_startup",
            Reason::Startup => "startup",
            Reason::MasterDown => "master_down",
            Reason::MasterResigned => "master_resigned",
            Reason::HigherPriority { .. } => "higher_priority",
            Reason::TrackFault => "track_fault",
            Reason::TrackRecovered => "track_recovered",
            Reason::Shutdown => "shutdown",
            Reason::SyncGroup => "sync_group",
            Reason::Resumed => "resumed",
            Reason::AddressLost => "address_lost",
            Reason::RouteLost => "route_lost",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::OwnerStartup => f.write_str("address owner (priority 255) starting as MASTER"),
            Reason::Startup => f.write_str("starting"),
            Reason::MasterDown => {
                f.write_str("no advert from the master within master-down interval")
            }
            Reason::MasterResigned => f.write_str("master sent priority 0 and skew time passed"),
            Reason::HigherPriority { from, priority } => {
                write!(f, "advert from {from} with higher priority {priority}")
            }
            Reason::TrackFault => f.write_str("a tracked object failed"),
            Reason::TrackRecovered => f.write_str("tracked objects recovered"),
            Reason::Shutdown => f.write_str("shutting down"),
            Reason::SyncGroup => f.write_str("following its sync group"),
            Reason::Resumed => f.write_str("taken over from the previous daemon"),
            Reason::AddressLost => {
                f.write_str("a virtual address was removed by someone else (not no_track)")
            }
            Reason::RouteLost => {
                f.write_str("a virtual route or rule was removed by someone else (not no_track)")
            }
        }
    }
}

/// What the daemon must do, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Log and publish the state change (first in the list of its transition).
    Transition {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        reason: Reason,
    },
    /// Send one advert with this priority (0 = resign).
    SendAdvert {
        /// The priority field.
        priority: u8,
    },
    /// Add the virtual addresses and mark them owned in the data plane.
    AddAddresses,
    /// Remove the virtual addresses.
    RemoveAddresses,
    /// Send a burst of gratuitous ARPs / unsolicited NAs for every virtual address.
    SendGarp(GarpBurst),
    /// A sync-group member's master-down interval passed and it is ready for MASTER; the
    /// daemon moves the whole group to MASTER ([`Event::SyncGroup`]) once every member is
    /// ready ([`Instance::is_ready_for_master`]) or already master.
    ReadyForMaster,
    /// This master heard a lower priority from another router (`notify_master_rx_lower_pri`
    /// and the notify FIFOs' `MASTER_RX_LOWER_PRI`).
    HeardLowerPriority {
        /// Who sent it.
        from: IpAddr,
        /// This master's effective priority.
        priority: u8,
    },
    /// The effective priority changed without a change of state.
    PriorityChanged {
        /// The state it stays in (MASTER or BACKUP).
        state: State,
        /// The new effective priority.
        priority: u8,
    },
    /// Run the notify scripts for the state just entered.
    Notify {
        /// The state entered.
        state: State,
        /// Effective priority at the time.
        priority: u8,
    },
}

/// Which burst a [`Action::SendGarp`] is; each has its own repeat count in the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum GarpBurst {
    /// On becoming master, and again `garp_master_delay` later (`garp_master_repeat`).
    Takeover,
    /// A master heard a lower priority (`garp_lower_prio_repeat`).
    LowerPriority,
    /// Periodic while master (`garp_master_refresh_repeat`).
    Refresh,
}

/// One VRRP instance's protocol state.
#[derive(Clone, Debug)]
pub struct Instance {
    params: Params,
    state: State,
    /// Configured priority adjusted by tracking, clamped as keepalived does.
    priority: u8,
    track_delta: i32,
    track_fault: bool,
    /// Master_Adver_Interval: our own interval, or the master's (v3) while backup.
    master_adver_int: Centiseconds,
    /// Backup: when the master is declared down.
    master_down_at: Option<MonoTime>,
    /// Master: when the next advert is due.
    advert_at: Option<MonoTime>,
    /// Master: when the second takeover GARP burst is due (`garp_master_delay`).
    garp_at: Option<MonoTime>,
    /// Master: when the second lower-priority GARP burst is due (`garp_lower_prio_delay`);
    /// its own timer, so it never cancels the takeover one.
    lower_prio_garp_at: Option<MonoTime>,
    /// Master: when the next periodic GARP burst is due (`garp_master_refresh`).
    refresh_at: Option<MonoTime>,
    /// Backup with `preempt_delay`: when a lower-priority master may be preempted.
    preempt_at: Option<MonoTime>,
    /// The last accepted advert's sender and priority (status, logs).
    master: Option<(IpAddr, u8)>,
    /// Sync-group member whose master-down interval passed (see [`Params::sync_group`]).
    ready_for_master: bool,
}

impl Instance {
    /// A new instance in INIT; send it [`Event::Startup`] to begin.
    pub fn new(params: Params) -> Self {
        Self {
            priority: params.priority,
            master_adver_int: params.advert_int,
            params,
            state: State::Init,
            track_delta: 0,
            track_fault: false,
            master_down_at: None,
            advert_at: None,
            garp_at: None,
            lower_prio_garp_at: None,
            refresh_at: None,
            preempt_at: None,
            master: None,
            ready_for_master: false,
        }
    }

    /// A sync-group backup whose master-down interval passed, waiting for the rest of its
    /// group ([`Action::ReadyForMaster`]).
    pub fn is_ready_for_master(&self) -> bool {
        self.ready_for_master
    }

    /// Current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Effective priority (configured priority adjusted by tracking).
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// Master_Adver_Interval currently in use.
    pub fn master_adver_int(&self) -> Centiseconds {
        self.master_adver_int
    }

    /// The master last heard (address, priority), if any.
    pub fn master(&self) -> Option<(IpAddr, u8)> {
        self.master
    }

    /// The static parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The earliest time the instance needs [`Event::Timer`], if any.
    pub fn deadline(&self) -> Option<MonoTime> {
        [
            self.master_down_at,
            self.advert_at,
            self.garp_at,
            self.lower_prio_garp_at,
            self.refresh_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The master-down deadline while backup: the data plane may have seen adverts since the
    /// last one fed in, so the daemon rereads it before letting this fire.
    pub fn master_down_at(&self) -> Option<MonoTime> {
        self.master_down_at
    }

    fn master_down_nanos(&self) -> u64 {
        timers::master_down_nanos(
            self.params.version,
            self.priority,
            self.master_adver_int,
            self.params.down_timer_adverts,
        )
    }

    fn skew_nanos(&self) -> u64 {
        timers::skew_nanos(self.params.version, self.priority, self.master_adver_int)
    }

    /// Feed one event at time `now`; returns what to do, in order.
    pub fn handle(&mut self, event: Event, now: MonoTime) -> Vec<Action> {
        let mut out = Vec::new();
        match (self.state, event) {
            // Tracking is recorded in every state (before start-up too, so an instance whose
            // script already failed starts in FAULT).
            (_, Event::Tracking { delta, fault }) => self.tracking(delta, fault, now, &mut out),
            // RFC 5798 §6.4.1: an owner (255) starts as master, everyone else as backup with
            // Master_Down_Timer = Master_Down_Interval. keepalived (vrrp_init_state) does the
            // same for `state MASTER` below 255: it waits the full interval first.
            (State::Init, Event::Startup) => self.handle_startup(now, &mut out),
            (State::Init, Event::Resume(resumed)) => self.resume(resumed, now, &mut out),
            (State::Init | State::Stop, _) => {}

            // RFC 5798 §6.4.2 (Backup), keepalived vrrp_state_backup.
            (State::Backup, Event::Advert(adv)) => self.backup_rx(adv, now),
            (State::Backup, Event::Timer) => {
                if self.master_down_at.is_some_and(|t| now >= t) {
                    if self.params.sync_group {
                        // Ready, and looked at again every advert interval: the daemon
                        // rereads the data plane before each timer, so a master heard
                        // again makes this member not ready.
                        self.master_down_at = Some(now.add_nanos(self.master_adver_int.as_nanos()));
                        if !self.ready_for_master {
                            self.ready_for_master = true;
                            out.push(Action::ReadyForMaster);
                        }
                    } else {
                        let reason = if self.master.is_some_and(|(_, p)| p == 0) {
                            Reason::MasterResigned
                        } else {
                            Reason::MasterDown
                        };
                        self.enter(State::Master, reason, now, &mut out);
                    }
                }
            }

            // RFC 5798 §6.4.3 (Master), keepalived vrrp_state_master_rx.
            (State::Master, Event::Advert(adv)) => self.master_rx(adv, now, &mut out),
            (State::Master, Event::Timer) => {
                if self.garp_at.is_some_and(|t| now >= t) {
                    self.garp_at = None;
                    out.push(Action::SendGarp(GarpBurst::Takeover));
                }
                if self.lower_prio_garp_at.is_some_and(|t| now >= t) {
                    self.lower_prio_garp_at = None;
                    out.push(Action::SendGarp(GarpBurst::LowerPriority));
                }
                if let Some(due) = self.refresh_at.filter(|t| now >= *t) {
                    out.push(Action::SendGarp(GarpBurst::Refresh));
                    let next = due.add_nanos(self.params.garp_refresh_nanos);
                    self.refresh_at = Some(if next > now {
                        next
                    } else {
                        now.add_nanos(self.params.garp_refresh_nanos)
                    });
                }
                if let Some(due) = self.advert_at.filter(|t| now >= *t) {
                    out.push(Action::SendAdvert {
                        priority: self.priority,
                    });
                    // Keep the cadence of the schedule, not of our (late) wake-ups; after a
                    // long stall, restart it from now instead of sending a burst.
                    let interval = self.params.advert_int.as_nanos();
                    let next = due.add_nanos(interval);
                    self.advert_at = Some(if next > now {
                        next
                    } else {
                        now.add_nanos(interval)
                    });
                }
            }

            // FAULT ignores adverts and timers until the tracked objects recover.
            (State::Fault, Event::Advert(_) | Event::Timer) => {}

            // keepalived restore_vrrp_interfaces: a master resigns with priority 0.
            (_, Event::Shutdown) => self.enter(State::Stop, Reason::Shutdown, now, &mut out),
            // Sync groups: members go MASTER together and leave it together; FAULT is shared
            // through the tracking flag instead.
            (State::Backup, Event::SyncGroup { to: State::Master }) => {
                self.enter(State::Master, Reason::SyncGroup, now, &mut out);
            }
            (State::Master, Event::SyncGroup { to: State::Backup }) => {
                self.enter(State::Backup, Reason::SyncGroup, now, &mut out);
            }
            (_, Event::SyncGroup { .. }) => {}
            // keepalived: no priority 0 (nothing is wrong with this node's reachability);
            // the peers take over after their master-down interval.
            (State::Master, Event::RouteLost) => {
                self.enter(State::Backup, Reason::RouteLost, now, &mut out);
            }
            (_, Event::RouteLost) => {}
            (State::Master, Event::AddressLost) => {
                self.enter(State::Backup, Reason::AddressLost, now, &mut out);
            }
            (_, Event::AddressLost) => {}
            (State::Backup | State::Master | State::Fault, Event::Startup | Event::Resume(_)) => {}
        }
        out
    }

    /// Apply new parameters from a configuration reload without leaving the current state
    /// (keepalived's reload: a master stays master and advertises at once, so peers see the
    /// new priority without waiting and nothing moves).
    pub fn reconfigure(&mut self, params: Params, now: MonoTime) -> Vec<Action> {
        self.params = params;
        self.priority = effective_priority(self.params.priority, self.track_delta);
        let mut out = Vec::new();
        match self.state {
            State::Master => {
                self.master_adver_int = self.params.advert_int;
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
                self.advert_at = Some(now.add_nanos(self.params.advert_int.as_nanos()));
            }
            State::Backup => {
                // Keep the running timer unless the new interval makes it shorter.
                let down = now.add_nanos(self.master_down_nanos());
                self.master_down_at = self.master_down_at.map(|t| t.min(down));
            }
            State::Init | State::Fault | State::Stop => {}
        }
        out
    }

    fn backup_rx(&mut self, adv: Advert, now: MonoTime) {
        // RFC 5798 §6.4.2: priority 0 → Master_Down_Timer = Skew_Time.
        if adv.priority == 0 {
            self.master = Some((adv.from, 0));
            self.master_down_at = Some(now.add_nanos(self.skew_nanos()));
            self.ready_for_master = false;
            return;
        }
        let lower = adv.priority < self.priority;
        let mut accept = self.params.nopreempt || !lower;
        if lower && !accept && self.params.preempt_delay_nanos > 0 {
            // keepalived: the delay starts with the first lower-priority advert; until it
            // runs out, the lower-priority master is still accepted.
            let until = *self
                .preempt_at
                .get_or_insert(now.add_nanos(self.params.preempt_delay_nanos));
            accept = now < until;
        }
        if !lower {
            self.preempt_at = None;
        }
        if accept {
            // v3: adopt the master's interval (v2 adverts with another interval were already
            // dropped by the data plane, RFC 3768 §7.1).
            if self.params.version == 3 && adv.adver_int.0 > 0 {
                self.master_adver_int = adv.adver_int;
            }
            self.master = Some((adv.from, adv.priority));
            self.master_down_at = Some(now.add_nanos(self.master_down_nanos()));
            self.ready_for_master = false;
        }
        // Otherwise discard: the timer keeps running and we preempt when it fires.
    }

    fn master_rx(&mut self, adv: Advert, now: MonoTime, out: &mut Vec<Action>) {
        if adv.priority == 0 {
            // §6.4.3: send an advert at once and restart the advert timer.
            out.push(Action::SendAdvert {
                priority: self.priority,
            });
            self.advert_at = Some(now.add_nanos(self.params.advert_int.as_nanos()));
            return;
        }
        // Two address owners meeting fall under the equal-priority rule below: the higher
        // address stays master, the other yields keeping 255 (keepalived 2.2.7).
        let higher = adv.priority > self.priority
            || (adv.priority == self.priority && addr_greater(adv.from, self.params.primary_addr));
        if higher {
            if self.params.higher_prio_send_advert {
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
            }
            let reason = Reason::HigherPriority {
                from: adv.from,
                priority: adv.priority,
            };
            self.enter(State::Backup, reason, now, out);
            // Listen to the new master as to any accepted advert (adopting its v3 interval).
            self.backup_rx(adv, now);
        } else if adv.from != self.params.primary_addr {
            out.push(Action::HeardLowerPriority {
                from: adv.from,
                priority: self.priority,
            });
            // keepalived's default ("forcing new election"), RFC 9568 §6.4.3: re-assert at once
            // so the lower-priority router yields and bridges relearn where the master is.
            if !self.params.lower_prio_no_advert {
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
                self.advert_at = Some(now.add_nanos(self.params.advert_int.as_nanos()));
            }
            // The lower-priority router may have sent the last GARPs (split brain healing):
            // re-announce so traffic comes back here (KEEPALIVED.md §2.3).
            if self.params.garp_lower_prio {
                out.push(Action::SendGarp(GarpBurst::LowerPriority));
                if self.params.garp_lower_prio_delay_nanos > 0 {
                    let at = now.add_nanos(self.params.garp_lower_prio_delay_nanos);
                    self.lower_prio_garp_at = Some(at);
                }
            }
        }
    }

    fn tracking(&mut self, delta: i32, fault: bool, now: MonoTime, out: &mut Vec<Action>) {
        self.track_delta = delta;
        self.track_fault = fault;
        let old_down = self.master_down_nanos();
        let old_priority = self.priority;
        self.priority = effective_priority(self.params.priority, delta);
        // Without a state change (which reports its priority itself), a new priority of a
        // master or backup is news for the notify FIFOs (`notify_priority_changes`).
        if self.priority != old_priority
            && !fault
            && matches!(self.state, State::Master | State::Backup)
        {
            out.push(Action::PriorityChanged {
                state: self.state,
                priority: self.priority,
            });
        }
        match (self.state, fault) {
            (State::Backup | State::Master, true) => {
                self.enter(State::Fault, Reason::TrackFault, now, out);
            }
            (State::Fault, false) => self.enter(State::Backup, Reason::TrackRecovered, now, out),
            (State::Backup, false) => {
                // keepalived (vrrp_set_effective_priority): the running master-down timer
                // moves by the change of the skew time, so both ends agree on the deadline.
                let new_down = self.master_down_nanos();
                self.master_down_at = self
                    .master_down_at
                    .map(|t| MonoTime(t.0.saturating_add(new_down).saturating_sub(old_down)));
            }
            // A master's new priority goes out with its next scheduled advert, as in
            // keepalived: sending one early would move the takeover time of mixed clusters.
            _ => {}
        }
    }

    /// Leave the current state and enter `to`, emitting exit and entry actions.
    /// A `--takeover` restart: the previous daemon stopped without resigning, so the peers
    /// still see this router in its old state. A master advertises at once (well inside
    /// the peers' master-down interval) and keeps its addresses, which never left the
    /// interface: no GARP, no notify, nothing moves. A backup gives the master a full
    /// master-down interval from now. Anything else, or a tracked object now failing, is
    /// an ordinary start-up.
    fn resume(&mut self, resumed: Resumed, now: MonoTime, out: &mut Vec<Action>) {
        if self.track_fault {
            self.enter(State::Fault, Reason::TrackFault, now, out);
            return;
        }
        match resumed.state {
            State::Master => {
                out.push(Action::Transition {
                    from: self.state,
                    to: State::Master,
                    reason: Reason::Resumed,
                });
                self.state = State::Master;
                self.master_adver_int = self.params.advert_int;
                self.master = None;
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
                // Idempotent: the addresses are still there; this re-arms the responder
                // and the crash guardian of the new daemon.
                out.push(Action::AddAddresses);
                self.advert_at = Some(now.add_nanos(self.params.advert_int.as_nanos()));
                if self.params.garp_refresh_nanos > 0 {
                    self.refresh_at = Some(now.add_nanos(self.params.garp_refresh_nanos));
                }
            }
            State::Backup => {
                out.push(Action::Transition {
                    from: self.state,
                    to: State::Backup,
                    reason: Reason::Resumed,
                });
                self.state = State::Backup;
                self.master = resumed.master;
                if self.params.version == 3 && resumed.master.is_some() {
                    self.master_adver_int = resumed.master_adver_int;
                }
                self.master_down_at = Some(now.add_nanos(self.master_down_nanos()));
            }
            _ => self.handle_startup(now, out),
        }
    }

    /// RFC 5798 §6.4.1 start-up (see [`Instance::handle`]).
    fn handle_startup(&mut self, now: MonoTime, out: &mut Vec<Action>) {
        if self.track_fault {
            self.enter(State::Fault, Reason::TrackFault, now, out);
        } else if self.params.priority == 255 && self.params.wants_master {
            self.enter(State::Master, Reason::OwnerStartup, now, out);
        } else {
            self.enter(State::Backup, Reason::Startup, now, out);
        }
    }

    fn enter(&mut self, to: State, reason: Reason, now: MonoTime, out: &mut Vec<Action>) {
        let from = self.state;
        self.ready_for_master = false;
        out.push(Action::Transition { from, to, reason });
        // Exit actions.
        if from == State::Master {
            if matches!(to, State::Fault | State::Stop) {
                // RFC 5798 §6.4.3 / keepalived: resign with priority 0 so a backup takes over
                // after skew time instead of the full master-down interval.
                out.push(Action::SendAdvert { priority: 0 });
            }
            out.push(Action::RemoveAddresses);
            self.advert_at = None;
            self.garp_at = None;
            self.lower_prio_garp_at = None;
            self.refresh_at = None;
            self.master_adver_int = self.params.advert_int;
        }
        self.master_down_at = None;
        self.preempt_at = None;
        self.state = to;
        // Entry actions.
        match to {
            State::Master => {
                // keepalived's order: advert first (the old master yields), then addresses,
                // then GARP, then notify.
                self.master_adver_int = self.params.advert_int;
                self.master = None;
                out.push(Action::SendAdvert {
                    priority: self.priority,
                });
                out.push(Action::AddAddresses);
                out.push(Action::SendGarp(GarpBurst::Takeover));
                self.advert_at = Some(now.add_nanos(self.params.advert_int.as_nanos()));
                if self.params.garp_master_delay_nanos > 0 {
                    self.garp_at = Some(now.add_nanos(self.params.garp_master_delay_nanos));
                }
                if self.params.garp_refresh_nanos > 0 {
                    self.refresh_at = Some(now.add_nanos(self.params.garp_refresh_nanos));
                }
            }
            State::Backup => {
                if from != State::Master {
                    self.master_adver_int = self.params.advert_int;
                }
                self.master_down_at = Some(now.add_nanos(self.master_down_nanos()));
            }
            State::Fault | State::Stop | State::Init => {}
        }
        out.push(Action::Notify {
            state: to,
            priority: self.priority,
        });
    }
}

/// keepalived: an owner's priority is never adjusted; others are clamped to 1..=254.
pub fn effective_priority(base: u8, delta: i32) -> u8 {
    if base == 255 {
        return 255;
    }
    let p = (i32::from(base) + delta).clamp(1, 254);
    u8::try_from(p).unwrap_or(1)
}

/// RFC 5798 §6.4.3: the tie-break compares primary addresses as unsigned integers.
fn addr_greater(a: IpAddr, b: IpAddr) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => u32::from(a) > u32::from(b),
        (IpAddr::V6(a), IpAddr::V6(b)) => u128::from(a) > u128::from(b),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
