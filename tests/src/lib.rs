//! A throw-away network lab in Linux network namespaces, for end-to-end tests of the
//! VRRP daemon and for the `cargo xtask run` demo.
//!
//! Each [`Lab`] gets its own namespaces (`vrrpt-<pid>-<start>-<n>-{switch,nodeN,client}`),
//! so labs of parallel tests, and of parallel test processes, never see each other, and
//! nothing is created in the root namespace. Dropping the lab, even while a test panics,
//! removes all of it; labs left behind by a process that died are swept by the next
//! [`LabBuilder::build`]. Needs root.
//!
//! Besides this project's daemon ([`Lab::spawn_daemon`]), a lab runs the real keepalived
//! ([`Lab::spawn_keepalived`]) for interop tests, and captures traffic
//! ([`Lab::start_capture`]) for checking adverts with tcpdump or tshark
//! ([`Capture::vrrp_adverts`], [`dual_advertising`]).
//!
//! For fault tests it also breaks things on purpose and measures the result:
//! - [`Lab::watch_vip`]: who holds the VIP, from the kernel's address notifications, to
//!   the microsecond ([`VipTimeline::multi_holder_windows`]: two masters);
//! - [`Lab::impair_link`]: loss, delay and jitter, or dropping VRRP or everything, on one
//!   host's link, per direction (a user-space netem: these kernels have no `sch_netem`);
//! - [`Lab::set_isolated`]: a partition between nodes that keeps the client connected;
//! - [`Lab::set_link`]: the cable pulled;
//! - [`Lab::start_flood`]: foreign traffic as fast as the machine allows, bounded;
//! - [`Lab::mac`], [`Lab::neigh`]: where a host's neighbour entry for the VIP points.
//!
//! ```no_run
//! use std::time::Duration;
//! use vrrp_tests::{Host, Lab};
//!
//! # fn main() -> anyhow::Result<()> {
//! let lab = Lab::builder().nodes(2).client(true).build()?;
//! assert!(lab.ping(Host::Client, "10.0.0.1"));
//! let _d1 = lab.spawn_daemon(1, "vrrp_instance VI_1 { ... }", &[])?;
//! lab.wait_for(Duration::from_secs(5), Duration::from_millis(10), || {
//!     lab.vip_holders("10.0.0.100") == [1]
//! })?;
//! let probe = lab.start_probe("10.0.0.100", 9000)?;
//! // ... kill the master, wait ...
//! let report = probe.stop()?;
//! println!("{report}");
//! # Ok(())
//! # }
//! ```

pub mod bench;
mod capture;
mod cmd;
mod daemon;
mod flood;
mod impair;
mod lab;
mod netns;
mod probe;
mod takeover;
mod vipwatch;

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

pub use capture::{Capture, CapturedFrame, WireAdvert, advertising_runs, dual_advertising};
pub use daemon::{DaemonHandle, DaemonKind, keepalived_stat};
pub use flood::{Flood, FloodReport};
pub use impair::{Direction, ImpairedLink, Impairment, RelayStats};
pub use lab::{Host, Lab, LabBuilder, keepalived_bin};
pub use netns::PREFIX;
pub use probe::{OwnerChange, Probe, ProbeLive, ProbeReply, ProbeReport};
pub use takeover::{
    Takeover, epoch_secs, master_down_v2, master_down_v3, skew_v2, skew_v3,
    takeover_after_priority_zero, takeover_after_silence,
};
pub use vipwatch::{VipEvent, VipTimeline, VipWatch};

/// Polls `cond` every `poll` until it returns true and returns how long that took, or
/// fails after `timeout`; `cond` is checked at least once and once more at the deadline.
///
/// Tests must never wait unboundedly for a daemon to do something, and the elapsed time
/// is often itself the thing under test (e.g. how fast a backup took over).
pub fn wait_for(
    timeout: Duration,
    poll: Duration,
    mut cond: impl FnMut() -> bool,
) -> Result<Duration> {
    let start = Instant::now();
    let poll = poll.max(Duration::from_micros(100));
    loop {
        if cond() {
            return Ok(start.elapsed());
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            bail!("condition not met within {timeout:?}");
        }
        std::thread::sleep(poll.min(timeout - elapsed));
    }
}

/// Whether we run as root; tests that need a lab skip themselves otherwise, so a plain
/// `cargo test` as a normal user stays green.
pub fn is_root() -> bool {
    // SAFETY: trivial getter.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_for_is_bounded() {
        let t = wait_for(Duration::from_millis(30), Duration::from_millis(5), || {
            false
        });
        assert!(t.is_err());
        let mut n = 0;
        let t = wait_for(Duration::from_secs(1), Duration::from_millis(1), || {
            n += 1;
            n == 3
        });
        assert!(t.is_ok());
    }
}
