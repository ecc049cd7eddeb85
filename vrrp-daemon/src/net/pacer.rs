//! Pacing of gratuitous ARPs and unsolicited NAs per interface (`vrrp_garp_interval`,
//! `vrrp_gna_interval`): a takeover of many addresses otherwise sends its whole burst at
//! once, which some switches and hosts drop or rate-limit. ARPs and NAs are paced apart,
//! as keepalived paces them, each interface on its own.
//!
//! Sans-IO: the pacer says what may go now and when the next is due; the daemon sends, and
//! drops what an instance queued when it stops being master (an address no longer owned
//! must not be announced).
use std::{
    collections::{BTreeMap, VecDeque},
    time::Duration,
};

use tokio::time::Instant;

/// Which announcements a lane carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Gratuitous ARP (`vrrp_garp_interval`).
    Arp,
    /// Unsolicited neighbour advertisement (`vrrp_gna_interval`).
    Na,
}

/// The announcements of one kind on one interface, at most one per `interval`.
#[derive(Debug)]
struct Lane<T> {
    interval: Duration,
    /// When the next one may go.
    next: Instant,
    queue: VecDeque<T>,
}

/// Per-(interface, kind) queues of announcements `T`.
#[derive(Debug)]
pub struct Pacer<T> {
    lanes: BTreeMap<(u32, Kind), Lane<T>>,
}

impl<T> Default for Pacer<T> {
    fn default() -> Self {
        Self {
            lanes: BTreeMap::new(),
        }
    }
}

impl<T> Pacer<T> {
    /// Offers `item` for interface `ifindex`: returns it when it may go now (the lane is
    /// idle and its interval has passed, or `interval` is zero), else queues it.
    pub fn offer(
        &mut self,
        ifindex: u32,
        kind: Kind,
        interval: Duration,
        item: T,
        now: Instant,
    ) -> Option<T> {
        if interval.is_zero() {
            return Some(item);
        }
        let lane = self.lanes.entry((ifindex, kind)).or_insert_with(|| Lane {
            interval,
            next: now,
            queue: VecDeque::new(),
        });
        lane.interval = interval;
        if lane.queue.is_empty() && lane.next <= now {
            lane.next = now + interval;
            Some(item)
        } else {
            lane.queue.push_back(item);
            None
        }
    }

    /// When the next queued announcement is due, if any is queued.
    pub fn next_due(&self) -> Option<Instant> {
        self.lanes
            .values()
            .filter(|l| !l.queue.is_empty())
            .map(|l| l.next)
            .min()
    }

    /// The announcements due at `now`: at most one per lane, each lane's next slot moved on.
    pub fn due(&mut self, now: Instant) -> Vec<T> {
        let mut out = Vec::new();
        for lane in self.lanes.values_mut() {
            if lane.next <= now
                && let Some(item) = lane.queue.pop_front()
            {
                // From the slot, not from now: a late wake-up does not stretch the pace,
                // and never lets two go closer than `interval` apart.
                lane.next = (lane.next + lane.interval).max(now + lane.interval / 2);
                out.push(item);
            }
        }
        out
    }

    /// Drops the queued announcements `keep` refuses.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        for lane in self.lanes.values_mut() {
            lane.queue.retain(&mut keep);
        }
    }

    /// How many announcements are queued.
    pub fn queued(&self) -> usize {
        self.lanes.values().map(|l| l.queue.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn zero_interval_sends_everything_at_once() {
        let mut p = Pacer::default();
        let now = Instant::now();
        for i in 0..5 {
            assert_eq!(p.offer(1, Kind::Arp, Duration::ZERO, i, now), Some(i));
        }
        assert_eq!((p.queued(), p.next_due()), (0, None));
    }

    /// Drives `p` from `start` in 1 ms steps for `steps` ms; the (ms, item) sent.
    fn drain(p: &mut Pacer<u32>, start: Instant, steps: u64) -> Vec<(u64, u32)> {
        let mut sent = Vec::new();
        for ms in 0..=steps {
            let ms = u32::try_from(ms).unwrap();
            for item in p.due(start + ms * MS) {
                sent.push((u64::from(ms), item));
            }
        }
        sent
    }

    #[test]
    fn one_per_interval_per_interface_and_kind() {
        let mut p = Pacer::default();
        let t0 = Instant::now();
        let iv = 10 * MS;
        // The first of each lane goes at once.
        assert_eq!(p.offer(1, Kind::Arp, iv, 10, t0), Some(10));
        assert_eq!(p.offer(1, Kind::Na, iv, 20, t0), Some(20));
        assert_eq!(p.offer(2, Kind::Arp, iv, 30, t0), Some(30));
        for item in [11, 12] {
            assert_eq!(p.offer(1, Kind::Arp, iv, item, t0), None);
        }
        assert_eq!(p.offer(1, Kind::Na, iv, 21, t0), None);
        assert_eq!(p.offer(2, Kind::Arp, iv, 31, t0), None);
        assert_eq!(p.queued(), 4);
        assert_eq!(p.next_due(), Some(t0 + iv));
        let mut sent = drain(&mut p, t0, 50);
        sent.sort_unstable();
        assert_eq!(sent, [(10, 11), (10, 21), (10, 31), (20, 12)]);
        assert_eq!((p.queued(), p.next_due()), (0, None));
        // The lane is idle again, but its last one went at 20 ms: the next waits until 30.
        assert_eq!(p.offer(1, Kind::Arp, iv, 13, t0 + 25 * MS), None);
        assert_eq!(drain(&mut p, t0, 40), [(30, 13)]);
        assert_eq!(p.offer(1, Kind::Arp, iv, 14, t0 + 45 * MS), Some(14));
    }

    #[test]
    fn a_late_wake_up_never_sends_two_closer_than_half_the_interval() {
        let mut p = Pacer::default();
        let t0 = Instant::now();
        let iv = 10 * MS;
        assert_eq!(p.offer(1, Kind::Arp, iv, 0, t0), Some(0));
        for item in 1..4 {
            assert_eq!(p.offer(1, Kind::Arp, iv, item, t0), None);
        }
        // Woken 25 ms late: one goes, the next not before 5 ms later, then on the 10 ms
        // pace again.
        assert_eq!(p.due(t0 + 35 * MS), [1]);
        assert_eq!(p.due(t0 + 35 * MS), Vec::<u32>::new());
        assert_eq!(p.next_due(), Some(t0 + 40 * MS));
        assert_eq!(p.due(t0 + 40 * MS), [2]);
        assert_eq!(p.next_due(), Some(t0 + 50 * MS));
    }

    #[test]
    fn retain_drops_what_may_no_longer_be_sent() {
        let mut p = Pacer::default();
        let t0 = Instant::now();
        let iv = 10 * MS;
        for item in 0..6 {
            let _ = p.offer(1 + item % 2, Kind::Arp, iv, item, t0);
        }
        assert_eq!(p.queued(), 4);
        p.retain(|item| item % 2 == 0);
        assert_eq!(p.queued(), 2);
        let mut sent = drain(&mut p, t0, 50);
        sent.sort_unstable();
        assert_eq!(sent, [(10, 2), (20, 4)]);
        assert_eq!(p.next_due(), None);
    }
}
