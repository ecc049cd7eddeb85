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
use std::io;

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
    let limit = libc::rlimit {
        rlim_cur: rttime_us,
        rlim_max: rttime_us.saturating_add(1_000_000),
    };
    // SAFETY: valid struct.
    check(unsafe { libc::setrlimit(libc::RLIMIT_RTTIME, &limit) })?;
    let param = libc::sched_param {
        sched_priority: i32::from(priority),
    };
    // SAFETY: plain syscall on this thread with a valid parameter.
    check(unsafe { libc::sched_setscheduler(0, libc::SCHED_RR | SCHED_RESET_ON_FORK, &param) })
}
