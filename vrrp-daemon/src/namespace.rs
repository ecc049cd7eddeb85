//! `net_namespace NAME`: the daemon runs in a named network namespace (`ip netns add
//! NAME`), as keepalived does, so one host can run a pair of routers per namespace with one
//! configuration file each.
//!
//! The namespace is entered once, at start, before any thread, socket or BPF object exists:
//! every one of them then belongs to it (the crash guardian too, which the daemon starts).
//! A reload cannot move a running daemon to another namespace, as in keepalived.
use std::{fs::File, os::fd::AsRawFd, path::PathBuf};

use anyhow::{Context as _, Result, bail};

/// Where `ip netns` keeps its namespaces (`/var/run` is a link to `/run` on current
/// systems; both are looked at).
const NETNS_DIRS: [&str; 2] = ["/run/netns", "/var/run/netns"];

/// Moves this process (which must have one thread) into the namespace `name`.
///
/// # Errors
/// When no such namespace exists, or `setns` is refused (it needs `CAP_SYS_ADMIN`).
pub fn enter(name: &str) -> Result<()> {
    let path = NETNS_DIRS
        .iter()
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.exists())
        .with_context(|| {
            format!(
                "net_namespace {name}: no such network namespace in /run/netns; create it \
                 with `ip netns add {name}`, or fix the name"
            )
        })?;
    let file = File::open(&path)
        .with_context(|| format!("net_namespace {name}: opening {}", path.display()))?;
    // SAFETY: plain syscall on a valid, open descriptor.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        bail!(
            "net_namespace {name}: entering it failed: {} (it needs CAP_SYS_ADMIN)",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}
