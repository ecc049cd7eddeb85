//! `cargo xtask run` with no arguments: the first five minutes with vrrp-daemon.
//!
//! Three nodes (priorities 150, 100, 50) share one VIP on a bridge, each running the real
//! daemon with its XDP program, in network namespaces; a client probes the VIP over UDP
//! every millisecond, so every interruption is measured. Watchers record what happens on
//! one clock: the adverts on the wire ([`wire`]), the VIP appearing and disappearing on
//! each node (rtnetlink), the daemons' transitions and why ([`logs`]), and who answers the
//! client. After each action the demo prints that as a timeline ([`timeline`]).
//!
//! At a terminal it is interactive ([`live`]): a screen refreshed four times a second from
//! each daemon's `vrrp-daemon status --json`, and keys to kill, freeze, stop, restart, and
//! lower a priority. Otherwise (CI, a pipe, `< /dev/null`) it runs a scripted tour
//! ([`tour`]) that ends by itself. Either way the lab is removed on every exit: normal,
//! error, Ctrl-C / SIGTERM / SIGHUP (a second one exits at once; the next lab sweeps what
//! is left), or a panic.
mod cluster;
mod live;
mod logs;
mod status;
mod timeline;
mod tour;
mod wire;

use std::{
    io::IsTerminal as _,
    path::Path,
    sync::{Arc, atomic::AtomicBool},
};

use anyhow::{Context as _, Result};

/// The demo stopped because of Ctrl-C, SIGTERM or SIGHUP; the lab was torn down.
/// `main` turns it into exit status 130, as a shell reports an interrupted command.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted; the demo lab (namespaces, daemons) was removed")
    }
}

impl std::error::Error for Interrupted {}

/// Runs the demo with the daemon binary at `daemon`: interactive when stdin and stdout
/// are a terminal, the scripted tour otherwise.
pub fn run(daemon: &Path) -> Result<()> {
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // Order matters: a signal that finds the flag already set (the second Ctrl-C)
        // exits at once; the first one only sets it, and the demo winds down.
        signal_hook::flag::register_conditional_shutdown(sig, 130, interrupted.clone())
            .context("installing signal handlers")?;
        signal_hook::flag::register(sig, interrupted.clone())
            .context("installing signal handlers")?;
    }
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        live::run(daemon, interrupted)
    } else {
        tour::run(daemon, interrupted)
    }
}
