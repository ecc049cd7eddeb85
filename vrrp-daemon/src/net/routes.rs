//! `virtual_routes` and `virtual_rules`: routes and policy rules an instance adds while it
//! is master and removes when it leaves master, as keepalived does.
//!
//! Each goes to `ip route` / `ip rule` with the words the operator wrote: keepalived takes
//! their whole syntax (nexthop groups, `onlink`, `mtu`, `proto`, named tables, fwmarks...),
//! which iproute2 parses exactly; a second parser here would only drift from it. The
//! configuration parser still checks the parts it knows (addresses, families, numbers) so
//! mistakes are reported with their line before anything runs.
//!
//! Changes run on one background task, in the order they were asked for: a takeover's
//! gratuitous ARPs never wait for `ip`, and a quick master, backup, master sequence cannot
//! swap an add and a delete. Routes are added with `replace`, so a route left by a daemon
//! that could not clean up, or kept across a restart, is taken over rather than reported
//! as existing; a rule that already exists is left as it is.
use std::{process::Stdio, time::Duration};

use tokio::{process::Command, sync::mpsc, task::JoinHandle};
use tracing::{debug, info, warn};

use crate::config::model::{Family, VirtualRoute, VirtualRule, VrrpInstance};

/// Whether routes are being added or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Becoming (or staying) master: `ip route replace`.
    Add,
    /// Leaving master: `ip route delete`.
    Remove,
}

/// What `ip` adds or removes: a route or a policy rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    /// `ip route`.
    Route,
    /// `ip rule`.
    Rule,
}

/// One route or rule, as `ip` is told it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Route or rule.
    pub object: Object,
    /// Its family (`ip -4` / `ip -6`).
    pub family: Family,
    /// The words as written (without `no_track`).
    pub words: Vec<String>,
}

impl From<&VirtualRoute> for Entry {
    fn from(r: &VirtualRoute) -> Self {
        Entry {
            object: Object::Route,
            family: r.family,
            words: r.words.clone(),
        }
    }
}

impl From<&VirtualRule> for Entry {
    fn from(r: &VirtualRule) -> Self {
        Entry {
            object: Object::Rule,
            family: r.family,
            words: r.words.clone(),
        }
    }
}

/// An instance's routes, then its rules.
pub fn of_instance(inst: &VrrpInstance) -> Vec<Entry> {
    inst.virtual_routes
        .iter()
        .map(Entry::from)
        .chain(inst.virtual_rules.iter().map(Entry::from))
        .collect()
}

/// The arguments of `ip` for one change (`-4|-6 route replace|delete WORDS...`, `-4|-6
/// rule add|delete WORDS...`).
pub fn ip_args(entry: &Entry, change: Change) -> Vec<String> {
    let family = match entry.family {
        Family::Ipv4 => "-4",
        Family::Ipv6 => "-6",
    };
    let (object, verb) = match (entry.object, change) {
        (Object::Route, Change::Add) => ("route", "replace"),
        (Object::Rule, Change::Add) => ("rule", "add"),
        (Object::Route, Change::Remove) => ("route", "delete"),
        (Object::Rule, Change::Remove) => ("rule", "delete"),
    };
    [family, object, verb]
        .into_iter()
        .map(String::from)
        .chain(entry.words.iter().cloned())
        .collect()
}

/// The entries in `new` that are not in `old` (to add on a reload while master).
pub fn missing_from<'a>(old: &[Entry], new: &'a [Entry]) -> Vec<&'a Entry> {
    new.iter().filter(|n| !old.contains(n)).collect()
}

struct Job {
    instance: String,
    change: Change,
    entries: Vec<Entry>,
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
                for entry in &job.entries {
                    apply(&job.instance, entry, job.change).await;
                }
            }
        });
        Self { tx, worker }
    }

    /// Queue `change` for `entries` of `instance` (nothing when there are none).
    pub fn change<'a>(
        &self,
        instance: &str,
        change: Change,
        entries: impl IntoIterator<Item = &'a Entry>,
    ) {
        let entries: Vec<Entry> = entries.into_iter().cloned().collect();
        if entries.is_empty() {
            return;
        }
        let _ = self.tx.send(Job {
            instance: instance.to_string(),
            change,
            entries,
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

/// Run one `ip route` / `ip rule` change and log its outcome.
async fn apply(instance: &str, entry: &Entry, change: Change) {
    let args = ip_args(entry, change);
    let shown = entry.words.join(" ");
    let what = match entry.object {
        Object::Route => "virtual route",
        Object::Rule => "virtual rule",
    };
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
            warn!(instance, entry = %shown, error = %e, "cannot run `ip` for a {what}");
            return;
        }
        Err(_) => {
            warn!(instance, entry = %shown, "`ip` did not answer within 5 s for a {what}");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    match (change, output.status.success()) {
        (Change::Add, true) => info!(instance, entry = %shown, "{what} added"),
        (Change::Remove, true) => info!(instance, entry = %shown, "{what} removed"),
        // A rule kept across a restart, or left behind.
        (Change::Add, false) if stderr.contains("File exists") => {
            debug!(instance, entry = %shown, "{what} was already there")
        }
        // Already gone: removed with its source address, or by someone else.
        (Change::Remove, false)
            if stderr.contains("No such process") || stderr.contains("No such file") =>
        {
            debug!(instance, entry = %shown, "{what} was already gone")
        }
        (Change::Add, false) => {
            warn!(instance, entry = %shown, error = %stderr, "{what} not added")
        }
        (Change::Remove, false) => {
            warn!(instance, entry = %shown, error = %stderr, "{what} not removed")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: Object, family: Family, words: &str) -> Entry {
        Entry {
            object,
            family,
            words: words.split(' ').map(String::from).collect(),
        }
    }

    #[test]
    fn ip_is_told_the_family_the_object_the_verb_and_the_words_as_written() {
        let r = entry(
            Object::Route,
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
        let r6 = entry(Object::Route, Family::Ipv6, "default via fe80::1 dev eth0");
        assert_eq!(
            ip_args(&r6, Change::Add).join(" "),
            "-6 route replace default via fe80::1 dev eth0"
        );
        let rule = entry(Object::Rule, Family::Ipv4, "from 10.0.0.100 table 100");
        assert_eq!(
            ip_args(&rule, Change::Add).join(" "),
            "-4 rule add from 10.0.0.100 table 100"
        );
        assert_eq!(
            ip_args(&rule, Change::Remove).join(" "),
            "-4 rule delete from 10.0.0.100 table 100"
        );
    }

    #[test]
    fn a_reload_adds_only_what_is_new() {
        let a = entry(Object::Route, Family::Ipv4, "10.1.0.0/16 dev eth0");
        let b = entry(Object::Route, Family::Ipv4, "10.2.0.0/16 dev eth0");
        let b6 = entry(Object::Route, Family::Ipv6, "10.2.0.0/16 dev eth0");
        let b_rule = entry(Object::Rule, Family::Ipv4, "10.2.0.0/16 dev eth0");
        let (a_b, a_only) = ([a.clone(), b.clone()], [a]);
        assert_eq!(missing_from(&a_only, &a_b), [&b]);
        assert_eq!(missing_from(&a_b, &a_only), Vec::<&Entry>::new());
        // Same words, other family or other object: another entry.
        assert_eq!(
            missing_from(std::slice::from_ref(&b), &[b6.clone(), b_rule.clone()]),
            [&b6, &b_rule]
        );
        assert_eq!(missing_from(&[], &[]), Vec::<&Entry>::new());
    }
}
