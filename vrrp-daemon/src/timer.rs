//! A deadline timer with microsecond precision: a CLOCK_MONOTONIC timerfd armed at
//! absolute times, awaited through tokio.
//!
//! tokio's own timers round every sleep up to the next millisecond, which shows as
//! takeovers 1-2 ms after the protocol timer; keepalived is within about 0.2 ms. A timerfd
//! is served by the kernel's high-resolution timers and uses the same clock as the times
//! the XDP program records (`bpf_ktime_get_ns`), so deadlines need no conversion.
//!
//! The event loop asks for the same deadline again after every other event; the timer is
//! only re-armed when the deadline changed or has fired, which saves a `timerfd_settime`
//! (an hrtimer reprogramming, the costliest syscall of an idle backup) per wake.
use std::{
    cell::Cell,
    io,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
};

use tokio::io::{Interest, unix::AsyncFd};

use crate::units::MonoTime;

/// One timerfd, re-armed whenever the deadline waited for changes.
pub struct DeadlineTimer {
    fd: AsyncFd<OwnedFd>,
    /// The deadline the timerfd is armed for and has not yet reported.
    armed: Cell<Option<u64>>,
}

impl DeadlineTimer {
    /// Create the timer (needs a tokio runtime with I/O enabled).
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the result is checked.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: raw is a new descriptor owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the OwnedFd stays open and unchanged for as long as the AsyncFd owns it.
        let fd = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Self {
            fd,
            armed: Cell::new(None),
        })
    }

    /// Wait until `deadline` (CLOCK_MONOTONIC); forever when there is none. A deadline in
    /// the past returns at once.
    pub async fn sleep_until(&self, deadline: Option<MonoTime>) -> io::Result<()> {
        let Some(deadline) = deadline else {
            return std::future::pending().await;
        };
        // A zero it_value would disarm the timer: the earliest real deadline is 1 ns.
        let at = deadline.0.max(1);
        if self.armed.get() != Some(at) {
            self.arm(at)?;
        }
        loop {
            let mut guard = self.fd.readable().await?;
            let mut expirations = [0u8; 8];
            // SAFETY: reading 8 bytes into an 8-byte buffer.
            let n = unsafe {
                libc::read(
                    guard.get_inner().as_raw_fd(),
                    expirations.as_mut_ptr().cast(),
                    expirations.len(),
                )
            };
            if n == 8 {
                self.armed.set(None);
                return Ok(());
            }
            // EAGAIN: spurious readiness, or a stale expiry consumed by re-arming.
            guard.clear_ready();
        }
    }

    /// Arm the timerfd for the absolute time `at` (nanoseconds, CLOCK_MONOTONIC).
    fn arm(&self, at: u64) -> io::Result<()> {
        // Whatever happens below, the old arming no longer holds.
        self.armed.set(None);
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (at / 1_000_000_000) as libc::time_t,
                tv_nsec: (at % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: valid fd and itimerspec; the old value is not wanted.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.get_ref().as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        self.armed.set(Some(at));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::mono_now;

    #[tokio::test]
    async fn never_wakes_before_the_deadline() {
        // Precision is measured by the benchmark, not asserted here: only the contract.
        let timer = DeadlineTimer::new().unwrap();
        for _ in 0..20 {
            let deadline = mono_now().add_nanos(2_000_000);
            timer.sleep_until(Some(deadline)).await.unwrap();
            assert!(mono_now() >= deadline);
        }
    }

    #[tokio::test]
    async fn a_past_deadline_returns_at_once_and_rearming_works() {
        let timer = DeadlineTimer::new().unwrap();
        timer.sleep_until(Some(MonoTime(1))).await.unwrap();
        let soon = mono_now().add_nanos(1_000_000);
        timer.sleep_until(Some(soon)).await.unwrap();
        assert!(mono_now() >= soon);
    }

    #[tokio::test]
    async fn a_wait_given_up_and_resumed_for_the_same_deadline_still_fires() {
        // The event loop drops the wait whenever another event comes first and asks for the
        // same deadline again; the timerfd is not re-armed then, and must still fire (also
        // when it expired in between).
        let timer = DeadlineTimer::new().unwrap();
        let deadline = mono_now().add_nanos(20_000_000);
        let _ = tokio::time::timeout(
            std::time::Duration::from_millis(1),
            timer.sleep_until(Some(deadline)),
        )
        .await;
        timer.sleep_until(Some(deadline)).await.unwrap();
        assert!(mono_now() >= deadline);
        // Expired while nobody waited, then asked for again: returns at once.
        let soon = mono_now().add_nanos(1_000_000);
        let _ = tokio::time::timeout(
            std::time::Duration::from_micros(100),
            timer.sleep_until(Some(soon)),
        )
        .await;
        std::thread::sleep(std::time::Duration::from_millis(3));
        timer.sleep_until(Some(soon)).await.unwrap();
        // A later deadline after that re-arms.
        let later = mono_now().add_nanos(2_000_000);
        timer.sleep_until(Some(later)).await.unwrap();
        assert!(mono_now() >= later);
    }
}
