//! How the event loop shares one wake among many instances.
//!
//! With 200 instances at 10 ms the daemon used to wake once per instance deadline: 20,000
//! times a second as master (each advert timer on its own) and about 6,000 as backup (each
//! master-down deadline, about 26 ms after the peer's advert the previous check had found).
//! Each wake costs a timer reprogramming, an epoll round trip, a heartbeat write and a scan
//! of every instance, more than the advert itself. Two rules cut that, neither of which
//! changes what goes on the wire nor when a backup takes over:
//!
//! * a master's timer that is due within [`advert_slack_nanos`] of a wake fires in that wake
//!   (its advert leaves at most 1 ms and never more than 5 % of its interval early; the
//!   state machine is told the scheduled time, so the cadence of later adverts is unchanged);
//! * a backup whose master-down deadline is within [`catch_up_horizon_nanos`] rereads the
//!   peer's last-seen time from the data plane in that wake, which moves its deadline a
//!   whole master-down interval past that advert: the next wake is one per half interval for
//!   all of them, not one per instance. The deadline itself is never moved earlier, so the
//!   takeover after a real master death happens exactly when it did.
use crate::units::MonoTime;

/// The most a master's advert (or GARP) timer is fired ahead of time to share a wake.
pub const MAX_ADVERT_SLACK_NANOS: u64 = 1_000_000;

/// How early a master's timer with this advert interval may fire to share a wake: a
/// twentieth of the interval, at most [`MAX_ADVERT_SLACK_NANOS`] (0.5 ms at 10 ms adverts).
pub fn advert_slack_nanos(advert_int_nanos: u64) -> u64 {
    (advert_int_nanos / 20).min(MAX_ADVERT_SLACK_NANOS)
}

/// How far ahead of its master-down deadline a backup catches up with the adverts the data
/// plane recorded: half its master-down interval, so that one wake serves every backup whose
/// deadline falls in the next half interval.
pub fn catch_up_horizon_nanos(master_down_nanos: u64) -> u64 {
    master_down_nanos / 2
}

/// From how many backups catching up in one wake the data plane is read in one batch
/// (`BPF_MAP_LOOKUP_BATCH` walks every bucket of the map) rather than one lookup each: a
/// lone backup at its takeover deadline keeps the single, quicker lookup.
pub const BATCH_READ_MIN: usize = 4;

/// The least time between two heartbeat writes (a BPF map update each). The XDP responder's
/// liveness gate closes after a whole master-down interval (30 ms or more) without one, so a
/// heartbeat at most 1 ms older than the wake changes nothing there.
pub const HEARTBEAT_MIN_GAP_NANOS: u64 = 1_000_000;

/// Rate-limits the heartbeat to one write per [`HEARTBEAT_MIN_GAP_NANOS`].
#[derive(Debug, Default)]
pub struct HeartbeatLimiter {
    last: Option<MonoTime>,
}

impl HeartbeatLimiter {
    /// Whether a heartbeat should be written at `now` (and, if so, records it as written).
    pub fn due(&mut self, now: MonoTime) -> bool {
        if self
            .last
            .is_some_and(|last| now.nanos_since(last) < HEARTBEAT_MIN_GAP_NANOS)
        {
            return false;
        }
        self.last = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn slack_is_a_twentieth_of_the_interval_capped_at_one_millisecond() {
        assert_eq!(advert_slack_nanos(10 * MS), MS / 2);
        assert_eq!(advert_slack_nanos(100 * MS), MS);
        assert_eq!(advert_slack_nanos(1_000 * MS), MS);
        // Never so much that a peer's master-down (3 intervals and more) could notice.
        for cs in 1..=4095u64 {
            let int = cs * 10 * MS;
            assert!(advert_slack_nanos(int) * 20 <= int);
        }
    }

    #[test]
    fn horizon_is_half_the_master_down_interval() {
        assert_eq!(catch_up_horizon_nanos(36 * MS), 18 * MS);
    }

    #[test]
    fn heartbeat_is_written_at_most_once_per_gap() {
        let mut hb = HeartbeatLimiter::default();
        let t = MonoTime(5 * MS);
        assert!(hb.due(t));
        assert!(!hb.due(t.add_nanos(HEARTBEAT_MIN_GAP_NANOS - 1)));
        assert!(hb.due(t.add_nanos(HEARTBEAT_MIN_GAP_NANOS)));
        assert!(!hb.due(t.add_nanos(HEARTBEAT_MIN_GAP_NANOS + 1)));
    }
}
