//! `virtual_routes`: routes an instance adds while it is master and removes when it leaves
//! master, as keepalived does.
//!
//! Each route goes to `ip route` with the words the operator wrote: `virtual_routes` takes
//! the whole `ip route` syntax (nexthop groups, `onlink`, `mtu`, `proto`, named tables...),
//! which iproute2 parses exactly; a second parser here would only drift from it. The
//! configuration parser still checks the parts it knows (addresses, families, numbers) so
//! mistakes are reported with their line before anything runs.
//!
//! Changes run on one background task, in the order they were asked for: a takeover's
//! gratuitous ARPs never wait for `ip`, and a quick master, backup, master sequence cannot
//! swap an add and a delete. Adding uses `replace`, so a route left by a daemon that could
//! not clean up, or kept across a restart, is taken over rather than reported as existing.
use std::{process::Stdio, time::Duration};

use tokio::{process::Command, sync::mpsc, task::JoinHandle};
use tracing::{debug, info, warn};

use crate::config::model::{Family, VirtualRoute};

/// Whether routes are being added or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Becoming (or staying) master: `ip route replace`.
    Add,
    /// Leaving master: `ip route delete`.
    Remove,
}

/// The arguments of `ip` for one route change (`-4|-6 route replace|delete WORDS...`).
pub fn ip_args(route: &VirtualRoute, change: Change) -> Vec<String> {
    let family = match route.family {
        Family::Ipv4 => "-4",
        Family::Ipv6 => "-6",
    };
    let verb = match change {
        Change::Add => "replace",
        Change::Remove => "delete",
    };
    [family, "route", verb]
        .into_iter()
        .map(String::from)
        .chain(route.words.iter().cloned())
        .collect()
}

/// The routes in `new` that are not in `old` (to add on a reload while master), by what
/// `ip` would be told.
pub fn missing_from<'a>(old: &[VirtualRoute], new: &'a [VirtualRoute]) -> Vec<&'a VirtualRoute> {
    new.iter()
        .filter(|n| {
            !old.iter()
                .any(|o| o.words == n.words && o.family == n.family)
        })
        .collect()
}

struct Job {
    instance: String,
    change: Change,
    routes: Vec<VirtualRoute>,
}

/// The background task that runs route changes in order.
pub struct Routes {
    tx: mpsc::UnboundedSender<Job>,
    worker: JoinHandle<()>,
}

impl Routes {
    /// Start the worker (on the current tokio runtime).
    pub fn start() -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let worker = tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                for route in &job.routes {
                    apply(&job.instance, route, job.change).await;
                }
            }
        });
        Self { tx, worker }
    }

    /// Queue `change` for `routes` of `instance` (nothing when there are none).
    pub fn change<'a>(
        &self,
        instance: &str,
        change: Change,
        routes: impl IntoIterator<Item = &'a VirtualRoute>,
    ) {
        let routes: Vec<VirtualRoute> = routes.into_iter().cloned().collect();
        if routes.is_empty() {
            return;
        }
        let _ = self.tx.send(Job {
            instance: instance.to_string(),
            change,
            routes,
        });
    }

    /// Run what is queued (at most `timeout`), then stop: a stop removes its routes
    /// before the process exits.
    pub async fn finish(self, timeout: Duration) {
        drop(self.tx);
        if tokio::time::timeout(timeout, self.worker).await.is_err() {
            warn!(
                ?timeout,
                "route changes still running at exit; some may be left"
            );
        }
    }
}

/// Run one `ip route` change and log its outcome.
async fn apply(instance: &str, route: &VirtualRoute, change: Change) {
    let args = ip_args(route, change);
    let shown = route.words.join(" ");
    let output = Command::new("ip")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    // `ip` on netlink answers in milliseconds; a wedged one must not hold the queue.
    let output = match tokio::time::timeout(Duration::from_secs(5), output).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => {
            warn!(instance, route = %shown, error = %e, "cannot run `ip` for a virtual route");
            return;
        }
        Err(_) => {
            warn!(instance, route = %shown, "`ip route` did not answer within 5 s");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    match (change, output.status.success()) {
        (Change::Add, true) => info!(instance, route = %shown, "virtual route added"),
        (Change::Remove, true) => info!(instance, route = %shown, "virtual route removed"),
        // Already gone: removed with its source address, or by someone else.
        (Change::Remove, false) if stderr.contains("No such process") => {
            debug!(instance, route = %shown, "virtual route was already gone")
        }
        (Change::Add, false) => {
            warn!(instance, route = %shown, error = %stderr, "virtual route not added")
        }
        (Change::Remove, false) => {
            warn!(instance, route = %shown, error = %stderr, "virtual route not removed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(family: Family, words: &str) -> VirtualRoute {
        VirtualRoute {
            words: words.split(' ').map(String::from).collect(),
            dst: None,
            family,
            via: None,
            dev: None,
            table: None,
            metric: None,
            src: None,
            blackhole: false,
            no_track: false,
        }
    }

    #[test]
    fn ip_is_told_the_family_the_verb_and_the_words_as_written() {
        let r = route(
            Family::Ipv4,
            "10.9.0.0/16 via 10.0.0.254 dev eth0 table 100",
        );
        assert_eq!(
            ip_args(&r, Change::Add).join(" "),
            "-4 route replace 10.9.0.0/16 via 10.0.0.254 dev eth0 table 100"
        );
        assert_eq!(
            ip_args(&r, Change::Remove).join(" "),
            "-4 route delete 10.9.0.0/16 via 10.0.0.254 dev eth0 table 100"
        );
        let r6 = route(Family::Ipv6, "default via fe80::1 dev eth0");
        assert_eq!(
            ip_args(&r6, Change::Add).join(" "),
            "-6 route replace default via fe80::1 dev eth0"
        );
    }

    #[test]
    fn a_reload_adds_only_the_routes_that_are_new() {
        let a = route(Family::Ipv4, "10.1.0.0/16 dev eth0");
        let b = route(Family::Ipv4, "10.2.0.0/16 dev eth0");
        let b6 = route(Family::Ipv6, "10.2.0.0/16 dev eth0");
        let (a_b, a_only) = ([a.clone(), b.clone()], [a]);
        assert_eq!(missing_from(&a_only, &a_b), [&b]);
        assert_eq!(missing_from(&a_b, &a_only), Vec::<&VirtualRoute>::new());
        // Same words, other family: another route.
        assert_eq!(
            missing_from(std::slice::from_ref(&b), std::slice::from_ref(&b6)),
            [&b6]
        );
        assert_eq!(missing_from(&[], &[]), Vec::<&VirtualRoute>::new());
    }
}
