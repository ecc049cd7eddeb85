//! Small helpers shared by the script runners and the event loop.
use crate::units::MonoTime;

/// Split a keepalived script line into argv: whitespace separates words, single or double
/// quotes group them (keepalived runs scripts directly, not through a shell).
pub fn split_command(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// CLOCK_MONOTONIC now: the clock of `bpf_ktime_get_ns()`.
pub fn mono_now() -> MonoTime {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    MonoTime(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Give the heap memory freed since start-up back to the kernel (`malloc_trim`). Loading
/// the XDP program parses the kernel's BTF (megabytes, freed once loaded), and glibc keeps
/// freed heap pages mapped: without this the daemon's resident memory stayed about 16 MiB
/// higher than it uses for the rest of its life.
pub fn release_free_heap() {
    // SAFETY: no preconditions; it only returns unused heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Ask the scheduler for its shortest time slice (EEVDF's custom slice, `sched_attr.
/// sched_runtime` for a fair policy, Linux 6.12+), keeping the policy and nice value.
///
/// Why: when a master-down or advert timer fires while batch work keeps every CPU busy, a
/// task with the default slice may wait for the running task to finish its own (about 3 ms:
/// one takeover in ten came 3.6 ms late with two busy loops at nice 0). A short slice gives
/// the woken daemon an earlier virtual deadline, so it preempts at once; it does not give it
/// more CPU time. Needs no privilege. Kernels without custom slices ignore or refuse it,
/// which changes nothing. Returns whether the kernel took it.
pub fn request_short_slice() -> bool {
    /// `struct sched_attr` (include/uapi/linux/sched/types.h), version 1 (56 bytes).
    #[repr(C)]
    struct SchedAttr {
        size: u32,
        sched_policy: u32,
        sched_flags: u64,
        sched_nice: i32,
        sched_priority: u32,
        sched_runtime: u64,
        sched_deadline: u64,
        sched_period: u64,
        sched_util_min: u32,
        sched_util_max: u32,
    }
    /// The kernel's lower bound for a custom slice: 0.1 ms.
    const SHORTEST_SLICE_NS: u64 = 100_000;
    // SAFETY: sched_getscheduler / getpriority only read the calling thread's settings.
    let policy = unsafe { libc::sched_getscheduler(0) };
    if policy != libc::SCHED_OTHER && policy != libc::SCHED_BATCH {
        // A real-time policy chosen by the operator (systemd's CPUSchedulingPolicy=) wins.
        return false;
    }
    // SAFETY: as above (errno is not needed: a nice value of -1 is as good as any).
    let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        sched_policy: policy as u32,
        sched_flags: 0,
        sched_nice: nice,
        sched_priority: 0,
        sched_runtime: SHORTEST_SLICE_NS,
        sched_deadline: 0,
        sched_period: 0,
        sched_util_min: 0,
        sched_util_max: 0,
    };
    // SAFETY: sched_setattr on the calling thread with a valid, fully initialised struct.
    unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &raw const attr, 0) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_slice_is_what_the_kernel_then_reports() {
        std::thread::spawn(|| {
            let took = request_short_slice();
            // sched_getattr: sched_runtime at byte 24 of struct sched_attr.
            let mut raw = [0u8; 56];
            // SAFETY: sched_getattr into a buffer of the size we pass.
            let rc =
                unsafe { libc::syscall(libc::SYS_sched_getattr, 0, raw.as_mut_ptr(), 56u32, 0u32) };
            assert_eq!(rc, 0);
            let runtime = u64::from_ne_bytes(raw[24..32].try_into().unwrap());
            if took {
                // Linux 6.12+: the custom slice is in force.
                assert_eq!(runtime, 100_000);
            } else {
                eprintln!("this kernel has no custom slices; nothing changed");
            }
            // The policy and nice value are kept.
            assert_eq!(u32::from_ne_bytes(raw[4..8].try_into().unwrap()), 0);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn splits_words_and_quotes() {
        assert_eq!(split_command("/bin/check  a b"), ["/bin/check", "a", "b"]);
        assert_eq!(
            split_command("/bin/sh -c 'exit 1'"),
            ["/bin/sh", "-c", "exit 1"]
        );
        assert_eq!(split_command(r#"x "" y"#), ["x", "", "y"]);
        assert!(split_command("   ").is_empty());
    }

    #[test]
    fn monotonic_clock_moves_forward() {
        let a = mono_now();
        let b = mono_now();
        assert!(b >= a && a.0 > 0);
    }
}
