//! What the running daemon tells the outside: a [`Snapshot`] of every instance, built by the
//! event loop on request (so it is exact at that instant), served as status over a unix
//! socket, as Prometheus metrics, and as keepalived's SIGUSR1 / SIGUSR2 dumps.
//!
//! The event loop owns all state; servers only hold a [`Requests`] sender and ask.
pub mod dump;
pub mod metrics;
pub mod server;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// Ask the event loop for a snapshot.
pub type Requests = mpsc::Sender<oneshot::Sender<Snapshot>>;

/// Everything `vrrp-daemon status` shows, field names close to keepalived's JSON dump.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Daemon version.
    pub version: String,
    /// Daemon pid.
    pub pid: u32,
    /// Seconds since start.
    pub uptime_secs: f64,
    /// The configuration file in use.
    pub config_file: String,
    /// One entry per running instance, in configuration order.
    pub instances: Vec<InstanceStatus>,
    /// Health checks.
    pub scripts: Vec<ScriptStatus>,
    /// XDP attachment and counters.
    pub dataplane: DataplaneStatus,
}

/// One `vrrp_instance`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    /// Instance name (keepalived: `iname`).
    pub iname: String,
    /// `INIT`, `BACKUP`, `MASTER`, `FAULT` or `STOP`.
    pub state: String,
    /// Virtual router id.
    pub vrid: u8,
    /// `IPv4` or `IPv6`.
    pub family: String,
    /// Interface.
    pub interface: String,
    /// VRRP version.
    pub version: u8,
    /// Configured priority.
    pub base_priority: u8,
    /// Priority after tracking.
    pub effective_priority: u8,
    /// Own advert interval, seconds.
    pub adver_int: f64,
    /// Master_Adver_Interval in use (learned from the master in v3), seconds.
    pub master_adver_int: f64,
    /// The master last heard, if any.
    pub master_addr: Option<String>,
    /// Its priority.
    pub master_priority: Option<u8>,
    /// This node's advert source address.
    pub source: String,
    /// Unicast peers, if unicast.
    pub unicast_peers: Vec<String>,
    /// Virtual addresses (with prefix).
    pub vips: Vec<String>,
    /// Seconds in the current state.
    pub time_in_state_secs: f64,
    /// The last transition, if any.
    pub last_transition: Option<TransitionInfo>,
    /// Tracked objects and their state.
    pub tracked: Vec<TrackedObject>,
    /// Sync group, if any.
    pub sync_group: Option<String>,
    /// Counters (keepalived's `stats`).
    pub stats: InstanceStats,
}

/// A state change.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TransitionInfo {
    /// Previous state.
    pub from: String,
    /// New state.
    pub to: String,
    /// Why, in words.
    pub reason: String,
    /// Seconds ago.
    pub secs_ago: f64,
}

/// A tracked object as an instance sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackedObject {
    /// `script`, `interface`, `file` or `process`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// `OK`, `FAILED`, `INIT`, `UP`, `DOWN`...
    pub state: String,
    /// Configured weight (0: FAULT when failed).
    pub weight: i32,
}

/// Per-instance counters, named as keepalived's stats where it has them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceStats {
    /// Adverts accepted from peers (data plane events and deadline reads fed in).
    pub advert_rcvd: u64,
    /// Adverts sent.
    pub advert_sent: u64,
    /// Times this instance became master.
    pub become_master: u64,
    /// Times it left master.
    pub release_master: u64,
    /// Priority-0 adverts received.
    pub pri_zero_rcvd: u64,
    /// Priority-0 adverts sent.
    pub pri_zero_sent: u64,
    /// Gratuitous ARPs / unsolicited NAs sent.
    pub garp_sent: u64,
    /// Transitions by reason (`master_down`, `higher_priority`, ...).
    pub transitions_by_reason: BTreeMap<String, u64>,
    /// Reaction latency histogram: microseconds from the XDP program seeing an advert to
    /// the daemon acting on it; bucket upper bounds (µs) → count (cumulative, Prometheus
    /// style), plus the sum and count.
    pub reaction_latency_us: Histogram,
}

/// A cumulative histogram (Prometheus `le` buckets).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// `(upper bound, cumulative count)`.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// Bucket bounds used for reaction latency, in microseconds.
    pub const LATENCY_BOUNDS_US: [f64; 10] = [
        10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
    ];

    /// An empty histogram with `bounds`.
    pub fn new(bounds: &[f64]) -> Self {
        Self {
            buckets: bounds.iter().map(|b| (*b, 0)).collect(),
            sum: 0.0,
            count: 0,
        }
    }

    /// Record one observation.
    pub fn observe(&mut self, value: f64) {
        for (bound, count) in &mut self.buckets {
            if value <= *bound {
                *count += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }
}

/// One `vrrp_script`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScriptStatus {
    /// Name.
    pub name: String,
    /// `INIT`, `OK` or `FAILED`.
    pub status: String,
    /// Runs that succeeded.
    pub successes: u64,
    /// Runs that failed (exit status, timeout, could not start).
    pub failures: u64,
    /// Duration of the last run, seconds.
    pub last_duration_secs: f64,
}

/// The XDP side.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DataplaneStatus {
    /// `(interface, mode)` for each attachment (`native` / `generic`).
    pub attached: Vec<(String, String)>,
    /// The program's counters summed over CPUs (`advert_rcvd`, `ip_ttl_err`, ...).
    pub counters: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::new(&[10.0, 100.0]);
        h.observe(5.0);
        h.observe(50.0);
        h.observe(500.0);
        assert_eq!(h.buckets, vec![(10.0, 1), (100.0, 2)]);
        assert_eq!(h.count, 3);
        assert_eq!(h.sum, 555.0);
    }
}
