//! Time units of the protocol.
//!
//! VRRPv3 counts intervals in centiseconds (RFC 5798 §5.2.7) and keepalived rounds every
//! interval to them, so the engine keeps intervals in [`Centiseconds`] and converts to
//! nanoseconds only where it meets a clock. This avoids the seconds/centiseconds mix-ups that
//! break other implementations.
use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

/// A protocol interval in units of 10 ms.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Centiseconds(pub u32);

impl Centiseconds {
    /// Whole seconds.
    pub const fn from_secs(secs: u32) -> Self {
        Self(secs * 100)
    }

    /// The interval in nanoseconds, the unit of the monotonic clock.
    pub const fn as_nanos(self) -> u64 {
        self.0 as u64 * 10_000_000
    }

    /// The interval as a [`Duration`].
    pub const fn as_duration(self) -> Duration {
        Duration::from_millis(self.0 as u64 * 10)
    }
}

impl fmt::Display for Centiseconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}s", self.0 / 100, self.0 % 100)
    }
}

/// A point on CLOCK_MONOTONIC in nanoseconds: the clock `bpf_ktime_get_ns()` reads, so times
/// the XDP program writes into maps compare directly with the daemon's.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct MonoTime(pub u64);

impl MonoTime {
    /// `self + d`, saturating.
    pub const fn add_nanos(self, nanos: u64) -> Self {
        Self(self.0.saturating_add(nanos))
    }

    /// Nanoseconds from `earlier` to `self`, zero if `earlier` is later.
    pub const fn nanos_since(self, earlier: MonoTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}
