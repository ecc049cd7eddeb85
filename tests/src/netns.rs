//! Network-namespace plumbing: naming, entering, spawning into, and sweeping.
//!
//! Everything here works on *named* namespaces (`/var/run/netns/NAME`, as made by
//! `ip netns add`) so that a human can inspect a running lab with `ip netns`.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd;

/// Where `ip netns` keeps its bind mounts.
pub(crate) const NETNS_DIR: &str = "/var/run/netns";

/// Every namespace and temp dir a lab creates starts with this.
pub const PREFIX: &str = "vrrpt-";

/// Per-process lab counter, so two labs of one process never share a name.
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// `ip netns add` creates and `--make-shared` mounts `/var/run/netns` the first time it
/// runs; two racing first calls can stack mounts. Serialising our own calls avoids that.
static NETNS_ADD_LOCK: Mutex<()> = Mutex::new(());

/// Path of the bind mount behind a named namespace.
pub(crate) fn ns_path(ns: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(ns)
}

/// A fresh lab id: `vrrpt-<pid>-<start>-<n>`.
///
/// `<start>` is this process's start time (base 36 clock ticks since boot). With it the
/// sweeper can tell a dead owner from a live process that merely reused the pid, without
/// comparing wall clocks.
pub(crate) fn new_lab_id() -> Result<String> {
    let pid = std::process::id();
    let start = proc_start_ticks(pid)
        .with_context(|| format!("reading start time of own process {pid}"))?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(format!("{PREFIX}{pid}-{}-{n}", base36(start)))
}

fn base36(mut v: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(v % 36) as usize]);
        v /= 36;
        if v == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Field 22 of `/proc/PID/stat`: start time in clock ticks since boot (immutable for
/// the life of the process, unlike anything derived from the wall clock).
fn proc_start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `comm` (field 2) may contain spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts with field 3 (state), so field 22 is at index 19.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the lab named `name` (a namespace or temp dir) belongs to a process that is gone.
///
/// Returns `false` for anything that does not parse as one of our names, and for our
/// own labs, so a sweep can never hurt a live lab.
pub(crate) fn is_stale(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return false;
    };
    let mut parts = rest.split('-');
    let (Some(pid), Some(tag)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    match proc_start_ticks(pid) {
        None => true,
        Some(start) => base36(start) != tag,
    }
}

/// Enters `ns` on the calling thread.
///
/// `setns(2)` only moves the calling thread, so this must only ever run on a dedicated
/// thread that exists to live in that namespace, never on a test's main thread.
pub(crate) fn enter(ns: &str) -> Result<()> {
    let path = ns_path(ns);
    let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: plain syscall on a valid, open descriptor.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("setns({ns})"));
    }
    Ok(())
}

/// Options for [`command`].
#[derive(Clone, Copy)]
pub(crate) struct SpawnOpts {
    /// Kill the child if the spawning *thread* dies. Only safe for children that the
    /// spawning thread waits for, as the signal follows the thread, not the process.
    pub die_with_parent: bool,
}

/// A `Command` that runs `program` inside `ns`, like `ip netns exec` but with no helper
/// process in between, so the child's pid is the program's pid from the first instant.
///
/// In the child (between fork and exec) it enters the namespace with `setns(2)`, then
/// does what `ip netns exec` does so that `/sys/class/net` shows the namespace's
/// interfaces: a private mount namespace with a fresh sysfs mounted on `/sys`.
pub(crate) fn command(
    ns: &str,
    program: impl AsRef<std::ffi::OsStr>,
    opts: SpawnOpts,
) -> Result<Command> {
    let path = ns_path(ns);
    // O_CLOEXEC (std's default) closes it at exec; the closure keeps it open until then.
    let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let sys = CString::new("/sys")?;
    let root = CString::new("/")?;
    let sysfs = CString::new("sysfs")?;
    let sys_flags = sysfs_flags();
    let parent = std::process::id() as libc::pid_t;
    let mut cmd = Command::new(program);
    // SAFETY: the closure runs in the forked child and only makes async-signal-safe raw
    // syscalls on data prepared before the fork; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let check = |rc: libc::c_int| {
                if rc == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            };
            if opts.die_with_parent {
                check(libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                ))?;
                if libc::getppid() != parent {
                    // The parent died before prctl took effect.
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
            }
            check(libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET))?;
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_SLAVE | libc::MS_REC,
                std::ptr::null(),
            ))?;
            // Not mounted at all is fine; we mount ours on top either way.
            libc::umount2(sys.as_ptr(), libc::MNT_DETACH);
            check(libc::mount(
                sysfs.as_ptr(),
                sys.as_ptr(),
                sysfs.as_ptr(),
                sys_flags,
                std::ptr::null(),
            ))?;
            Ok(())
        });
    }
    Ok(cmd)
}

/// Keep `/sys` read-only inside if it is read-only outside (as `ip netns exec` does).
fn sysfs_flags() -> libc::c_ulong {
    let path = c"/sys";
    // SAFETY: statvfs writes into the zeroed struct we own.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    if rc == 0 && st.f_flag & libc::ST_RDONLY != 0 {
        libc::MS_RDONLY
    } else {
        0
    }
}

/// Runs `ip ARGS` in the root namespace (callers only pass `netns` or `-n NS` commands,
/// so nothing is created in the root namespace).
pub(crate) fn ip(args: &[&str]) -> Result<String> {
    let mut c = Command::new("ip");
    c.args(args);
    cmd::run_ok(c, Duration::from_secs(20))
}

/// `ip netns add NS`.
pub(crate) fn add(ns: &str) -> Result<()> {
    let _guard = NETNS_ADD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    ip(&["netns", "add", ns]).map(drop)
}

/// `ip netns del NS`; deleting a namespace destroys its veths (and so their peers), its
/// bridge and any XDP program attached there, once no process holds it any more.
pub(crate) fn delete(ns: &str) -> Result<()> {
    if !ns_path(ns).exists() {
        return Ok(());
    }
    ip(&["netns", "del", ns]).map(drop)
}

/// Pids of processes whose network namespace is `ns` (what `ip netns pids` reports),
/// minus our own process.
pub(crate) fn pids(ns: &str) -> Vec<i32> {
    let Ok(target) = std::fs::metadata(ns_path(ns)) else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|m| m.dev() == target.dev() && m.ino() == target.ino())
        })
        .collect()
}

/// SIGKILLs every process in `ns` until none is left or `timeout` passes; returns the
/// survivors (e.g. stuck in uninterruptible sleep).
pub(crate) fn kill_all(ns: &str, timeout: Duration) -> Vec<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = pids(ns);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        for pid in left {
            // SAFETY: plain syscall; the pid was in our namespace a moment ago.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Removes namespaces and temp dirs of labs whose process is gone (crashed, killed by a
/// timeout, Ctrl-C'd...). Best effort: failures are reported, never fatal, because a
/// leftover lab of someone else must not stop a new one from being built.
pub(crate) fn sweep_stale() {
    if let Ok(dir) = std::fs::read_dir(NETNS_DIR) {
        let stale: Vec<String> = dir
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| is_stale(n))
            .collect();
        for ns in &stale {
            let left = kill_all(ns, Duration::from_secs(2));
            if !left.is_empty() {
                eprintln!("vrrp-tests: stale namespace {ns}: pids {left:?} survived SIGKILL");
            }
        }
        for ns in &stale {
            // A concurrent sweeper may have won the race: only complain if it is still there.
            if let Err(e) = delete(ns)
                && ns_path(ns).exists()
            {
                eprintln!("vrrp-tests: deleting stale namespace {ns}: {e:#}");
            }
        }
    }
    if let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) {
        for entry in dir.filter_map(|e| e.ok()) {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let path = entry.path();
            if !is_stale(name) || !path.is_dir() || path.join(crate::lab::KEEP_MARKER).exists() {
                continue;
            }
            if let Err(e) = std::fs::remove_dir_all(&path)
                && path.exists()
            {
                eprintln!("vrrp-tests: removing stale {}: {e}", path.display());
            }
        }
    }
}

/// Spawns a thread that lives in `ns` for its whole life and runs `f` there.
pub(crate) fn spawn_in<T, F>(
    ns: &str,
    name: String,
    f: F,
) -> Result<std::thread::JoinHandle<Result<T>>>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let ns = ns.to_owned();
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            enter(&ns)?;
            f()
        })
        .context("spawning namespace thread")
}

/// Checks that `ns` is absent; used by teardown to report namespaces that refused to go.
pub(crate) fn exists(ns: &str) -> bool {
    ns_path(ns).exists()
}

/// Fails unless we can manage namespaces at all, with a message that says why.
pub(crate) fn check_privileges() -> Result<()> {
    // SAFETY: trivial getter.
    if unsafe { libc::geteuid() } != 0 {
        bail!("network namespace labs need root (CAP_SYS_ADMIN + CAP_NET_ADMIN)");
    }
    Ok(())
}
