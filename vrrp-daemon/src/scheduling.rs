//! keepalived's process keywords applied to the daemon itself: `vrrp_cpu_affinity`,
//! `vrrp_priority` (nice), `vrrp_no_swap` (locked memory), `vrrp_rt_priority` (`SCHED_RR`)
//! with `vrrp_rlimit_rttime`. On a load balancer whose cores are busy forwarding, they keep
//! the event loop's adverts and takeovers on time.
//!
//! They are applied once set-up is done: loading the XDP program keeps this thread in the
//! verifier for hundreds of milliseconds, which a realtime CPU limit would count. What
//! fails is logged and skipped (a daemon running without realtime beats one not running).
//!
//! Only the event loop becomes realtime, with `SCHED_RESET_ON_FORK`: scripts, and threads
//! started later, run as ordinary processes (a health check must not be able to starve the
//! host). The nice value and the CPU set apply to every thread; scripts inherit the CPU
//! set, and not a negative nice value.
use std::{io, time::Duration};

use tracing::{info, warn};

use crate::config::ProcessTuning;

/// `SCHED_RESET_ON_FORK` (linux/sched.h): children start with the default policy.
const SCHED_RESET_ON_FORK: libc::c_int = 0x4000_0000;
/// `MCL_ONFAULT` (linux/mman.h, x86 and arm): lock pages as they are touched.
const MCL_ONFAULT: libc::c_int = 4;

/// Applies `tuning` to this process and logs what it did, once, in one line.
pub fn apply(tuning: &ProcessTuning) {
    if !tuning.is_set() {
        return;
    }
    let tasks = threads();
    let mut done = Vec::new();
    if !tuning.cpu_affinity.is_empty() {
        match tasks
            .iter()
            .try_for_each(|&tid| set_affinity(tid, &tuning.cpu_affinity))
        {
            Ok(()) => done.push(format!("CPUs {:?}", tuning.cpu_affinity)),
            Err(e) => {
                warn!(cpus = ?tuning.cpu_affinity, error = %e, "vrrp_cpu_affinity not applied")
            }
        }
    }
    if let Some(nice) = tuning.nice {
        match tasks.iter().try_for_each(|&tid| set_nice(tid, nice)) {
            Ok(()) => done.push(format!("nice {nice}")),
            Err(e) => warn!(nice, error = %e, "vrrp_priority not applied"),
        }
    }
    if tuning.no_swap {
        match lock_memory() {
            Ok(()) => done.push("memory locked".to_owned()),
            Err(e) => warn!(error = %e, "vrrp_no_swap not applied: memory not locked"),
        }
    }
    if tuning.max_auto_priority > 0 {
        // The CPU limit that protects the host once the loop is realtime (the daemon keeps
        // CAP_SYS_NICE to get there: privilege.rs).
        match set_rttime_limit(tuning.rlimit_rttime_us) {
            Ok(()) => done.push(format!(
                "realtime up to priority {} when the loop wakes {:?} late (max_auto_priority)",
                tuning.max_auto_priority, tuning.min_auto_priority_delay
            )),
            Err(e) => warn!(error = %e, "max_auto_priority not applied"),
        }
    }
    if let Some(priority) = tuning.rt_priority {
        match set_realtime(priority, tuning.rlimit_rttime_us) {
            Ok(()) => done.push(format!(
                "SCHED_RR priority {priority} (RLIMIT_RTTIME {} µs)",
                tuning.rlimit_rttime_us
            )),
            Err(e) => warn!(priority, error = %e, "vrrp_rt_priority not applied: not realtime"),
        }
    }
    if !done.is_empty() {
        info!(applied = %done.join(", "), "process scheduling set");
    }
}

/// `max_auto_priority`: the event loop raises its own realtime priority when it wakes
/// later than `min_auto_priority_delay` after a deadline (a busy host starving it), as
/// keepalived does: realtime at priority 1 first, then one higher at each such delay.
#[derive(Debug, Default)]
pub struct AutoPriority {
    max: u8,
    min_delay: Duration,
    /// The loop's realtime priority now (`None`: not realtime).
    current: Option<u8>,
}

impl AutoPriority {
    /// For the settings `apply` applied.
    pub fn new(tuning: &ProcessTuning) -> Self {
        Self {
            max: tuning.max_auto_priority,
            min_delay: tuning.min_auto_priority_delay,
            current: tuning.rt_priority,
        }
    }

    /// The loop woke `late` after the deadline it slept for.
    pub fn on_wake(&mut self, late: Duration) {
        if self.max == 0 || late < self.min_delay {
            return;
        }
        let Some(next) = next_priority(self.current, self.max) else {
            return;
        };
        match set_round_robin(next) {
            Ok(()) => {
                warn!(
                    late_ms = late.as_secs_f64() * 1e3,
                    priority = next,
                    "the event loop woke {late:?} after its deadline; realtime priority raised \
                     to {next} (max_auto_priority {})",
                    self.max
                );
                self.current = Some(next);
            }
            Err(e) => {
                warn!(error = %e, "max_auto_priority: raising the realtime priority failed; not trying again");
                self.max = 0;
            }
        }
    }

    /// SIGXCPU took the loop out of realtime ([`on_cpu_limit`]).
    pub fn demoted(&mut self) {
        self.current = None;
    }
}

/// The realtime priority one escalation gives: 1 from ordinary scheduling, else one
/// higher; never above `max`.
fn next_priority(current: Option<u8>, max: u8) -> Option<u8> {
    let next = current.map_or(1, |c| c.saturating_add(1));
    (next <= max).then_some(next)
}

/// SIGXCPU: the realtime loop ran for `vrrp_rlimit_rttime` without sleeping. It goes back
/// to ordinary scheduling rather than risk the kernel's kill at twice the limit.
pub fn on_cpu_limit() {
    let param = libc::sched_param { sched_priority: 0 };
    // The reset-on-fork flag stays: without CAP_SYS_NICE (dropped after set-up) a thread
    // may leave realtime but not clear that flag.
    // SAFETY: plain syscall on this thread with a valid parameter.
    let rc =
        unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER | SCHED_RESET_ON_FORK, &param) };
    if rc == 0 {
        warn!(
            "the event loop used its realtime CPU limit (vrrp_rlimit_rttime) without sleeping; \
             it runs with ordinary scheduling from now on"
        );
    } else {
        warn!(error = %io::Error::last_os_error(), "SIGXCPU: leaving realtime scheduling failed");
    }
}

/// The ids of this process's threads.
fn threads() -> Vec<libc::pid_t> {
    let listed: Vec<libc::pid_t> = std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    if listed.is_empty() {
        // SAFETY: gettid has no preconditions.
        vec![unsafe { libc::gettid() }]
    } else {
        listed
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_affinity(tid: libc::pid_t, cpus: &[u16]) -> io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: CPU_SET writes within the set: the parser bounds CPU numbers by
        // CPU_SETSIZE.
        unsafe { libc::CPU_SET(usize::from(cpu), &mut set) };
    }
    // SAFETY: valid set of the size given.
    check(unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(&set), &set) })
}

fn set_nice(tid: libc::pid_t, nice: i8) -> io::Result<()> {
    // On Linux the nice value is per thread, and PRIO_PROCESS with a thread id sets one.
    // SAFETY: plain syscall.
    check(unsafe {
        libc::setpriority(
            libc::PRIO_PROCESS,
            libc::id_t::try_from(tid).unwrap_or(0),
            i32::from(nice),
        )
    })
}

/// Loads and locks what is mapped now (the program text of the takeover path included,
/// which would otherwise be read from disk the first time a takeover runs), then keeps
/// locking new pages as they are touched rather than populating every future mapping.
fn lock_memory() -> io::Result<()> {
    // SAFETY: plain syscalls.
    check(unsafe { libc::mlockall(libc::MCL_CURRENT) })?;
    check(unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | MCL_ONFAULT) })
}

/// `SCHED_RR` at `priority` for the calling thread (the event loop), with
/// `RLIMIT_RTTIME` first: SIGXCPU at `rttime_us` of CPU without sleeping
/// ([`on_cpu_limit`]); a loop too wedged to handle it is killed one second later (the
/// crash guardian then resigns for it) instead of holding a CPU.
fn set_realtime(priority: u8, rttime_us: u64) -> io::Result<()> {
    set_rttime_limit(rttime_us)?;
    set_round_robin(priority)
}

/// `RLIMIT_RTTIME`: SIGXCPU at `rttime_us`, SIGKILL one second later.
fn set_rttime_limit(rttime_us: u64) -> io::Result<()> {
    set_limit(
        libc::RLIMIT_RTTIME,
        rttime_us,
        rttime_us.saturating_add(1_000_000),
    )
}

fn set_limit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: valid struct.
    check(unsafe { libc::setrlimit(resource, &limit) })
}

/// `SCHED_RR` at `priority` for the calling thread, children not inheriting it.
fn set_round_robin(priority: u8) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority),
    };
    // SAFETY: plain syscall on this thread with a valid parameter.
    check(unsafe { libc::sched_setscheduler(0, libc::SCHED_RR | SCHED_RESET_ON_FORK, &param) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalation_goes_realtime_then_one_higher_up_to_the_ceiling() {
        assert_eq!(next_priority(None, 3), Some(1));
        assert_eq!(next_priority(Some(1), 3), Some(2));
        assert_eq!(next_priority(Some(3), 3), None);
        assert_eq!(
            next_priority(Some(50), 10),
            None,
            "vrrp_rt_priority above the ceiling"
        );
        assert_eq!(next_priority(None, 0), None);
    }

    #[test]
    fn only_a_wake_up_late_enough_counts_and_off_is_off() {
        let tuning = ProcessTuning {
            max_auto_priority: 0,
            ..ProcessTuning::default()
        };
        let mut off = AutoPriority::new(&tuning);
        off.on_wake(Duration::from_secs(60));
        assert_eq!(off.current, None);
        let tuning = ProcessTuning {
            max_auto_priority: 5,
            min_auto_priority_delay: Duration::from_millis(500),
            ..ProcessTuning::default()
        };
        let mut auto = AutoPriority::new(&tuning);
        // Not late enough: nothing changes (and no syscall is made).
        auto.on_wake(Duration::from_millis(499));
        assert_eq!(auto.current, None);
    }
}
