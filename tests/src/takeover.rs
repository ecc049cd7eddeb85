//! Takeover timing read off a capture: when the new master's first advert went on the
//! wire, against the RFC 5798 timer that should have sent it.
//!
//! A backup takes over when its Master_Down_Timer expires: Master_Down_Interval after the
//! last advert it heard from a master that died, or Skew_Time after a master's priority-0
//! advert (a graceful stop). On a capture of the lab's bridge both ends of that interval
//! are visible, timestamped by the same kernel clock: the old master's last (or
//! priority-0) advert and the new master's first advert. Their difference minus the timer
//! is how late the implementation acted, whatever the load on the machine; the interop
//! tests check it against the protocol and `cargo xtask bench` reports it.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::capture::WireAdvert;

/// VRRPv3 Skew_Time as keepalived computes it: `(256 - priority) × advert / 256`.
pub fn skew_v3(priority: u8, advert: Duration) -> Duration {
    advert * (256 - u32::from(priority)) / 256
}

/// VRRPv3 Master_Down_Interval: `3 × advert + Skew_Time`.
pub fn master_down_v3(priority: u8, advert: Duration) -> Duration {
    3 * advert + skew_v3(priority, advert)
}

/// keepalived's VRRPv2 Skew_Time: `(256 - priority) / 256` s, whatever the interval.
pub fn skew_v2(priority: u8) -> Duration {
    Duration::from_secs(1) * (256 - u32::from(priority)) / 256
}

/// VRRPv2 Master_Down_Interval: `3 × advert + (256 - priority) / 256` s.
pub fn master_down_v2(priority: u8, advert: Duration) -> Duration {
    3 * advert + skew_v2(priority)
}

/// `t` as seconds since the Unix epoch, the time base of capture timestamps
/// ([`WireAdvert::at`]).
pub fn epoch_secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// One takeover as the wire saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Takeover {
    /// The advert that started the new master's timer: the old master's last advert
    /// (it died) or its priority-0 advert (it stopped), capture time in epoch seconds.
    pub trigger: WireAdvert,
    /// The new master's first advert after it.
    pub first: WireAdvert,
}

impl Takeover {
    /// From the trigger to the new master's first advert.
    pub fn delay(&self) -> Duration {
        Duration::from_secs_f64((self.first.at - self.trigger.at).max(0.0))
    }

    /// How much later than `timer` the new master's first advert came, in seconds
    /// (negative: earlier, i.e. it took over while the old master was still heard).
    pub fn late_by(&self, timer: Duration) -> f64 {
        self.first.at - self.trigger.at - timer.as_secs_f64()
    }
}

/// The old master `old` went silent at about `event` (epoch seconds; e.g. `kill -9`):
/// the first advert (priority > 0) of `new` after `event`, and the last advert of `old`
/// before that one. (Not the last before `event`: a kill or a link cut takes effect a
/// little after the instant recorded for it, and an advert sent in between is the one
/// the new master's timer started from. An old master still heard right before the new
/// one's first advert shows as a takeover early by nearly the whole timer.)
/// `None` if either is missing from the capture.
pub fn takeover_after_silence(
    adverts: &[WireAdvert],
    old: IpAddr,
    new: IpAddr,
    event: f64,
) -> Option<Takeover> {
    let first = adverts
        .iter()
        .find(|a| a.src == new && a.priority > 0 && a.at > event)?;
    let trigger = adverts.iter().rfind(|a| a.src == old && a.at < first.at)?;
    Some(Takeover {
        trigger: trigger.clone(),
        first: first.clone(),
    })
}

/// The old master `old` was stopped at `event` (e.g. SIGTERM): its first priority-0
/// advert after `event`, and the first advert (priority > 0) of `new` after that.
pub fn takeover_after_priority_zero(
    adverts: &[WireAdvert],
    old: IpAddr,
    new: IpAddr,
    event: f64,
) -> Option<Takeover> {
    let trigger = adverts
        .iter()
        .find(|a| a.src == old && a.priority == 0 && a.at >= event)?;
    let first = adverts
        .iter()
        .find(|a| a.src == new && a.priority > 0 && a.at > trigger.at)?;
    Some(Takeover {
        trigger: trigger.clone(),
        first: first.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ad(at: f64, n: u8, priority: u8) -> WireAdvert {
        WireAdvert {
            at,
            src_mac: String::new(),
            src: IpAddr::from([10, 0, 0, n]),
            version: 3,
            vrid: 51,
            priority,
        }
    }

    #[test]
    fn timers_match_keepalived() {
        let ms = Duration::from_millis;
        assert_eq!(skew_v3(90, ms(100)), Duration::from_nanos(64_843_750));
        assert_eq!(
            master_down_v3(90, ms(100)),
            Duration::from_nanos(364_843_750)
        );
        assert_eq!(
            master_down_v3(100, ms(50)),
            Duration::from_nanos(180_468_750)
        );
        assert_eq!(
            master_down_v2(90, Duration::from_secs(1)),
            Duration::from_nanos(3_648_437_500)
        );
    }

    #[test]
    fn finds_the_takeovers() {
        let v = vec![
            ad(0.0, 1, 100),
            ad(0.1, 1, 100),
            ad(0.2, 1, 100),
            ad(0.565, 2, 90),
            ad(0.665, 2, 90),
            ad(1.0, 2, 0),
            ad(1.066, 1, 100),
        ];
        let one = IpAddr::from([10, 0, 0, 1]);
        let two = IpAddr::from([10, 0, 0, 2]);
        let t = takeover_after_silence(&v, one, two, 0.25).unwrap();
        assert_eq!((t.trigger.at, t.first.at), (0.2, 0.565));
        let late = t.late_by(master_down_v3(90, Duration::from_millis(100)));
        assert!((late - 0.000_156_25).abs() < 1e-9, "{late}");
        let t = takeover_after_priority_zero(&v, two, one, 0.9).unwrap();
        assert_eq!((t.trigger.at, t.first.at), (1.0, 1.066));
        assert!(takeover_after_silence(&v, one, two, 2.0).is_none());
    }
}
