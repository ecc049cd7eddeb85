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
//!
//! A route or rule removed by someone else while its instance is master makes the master
//! step down, as keepalived does (unless `no_track`): the kernel's deletion notice is
//! matched here, then checked on the same ordered task, after the changes queued before
//! it, so the daemon's own removals and re-adds (a reload) never count as a loss.
use std::{process::Stdio, time::Duration};

use tokio::{process::Command, sync::mpsc, task::JoinHandle};
use tracing::{debug, info, warn};

use std::net::IpAddr;

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

enum Job {
    Change {
        instance: String,
        change: Change,
        entries: Vec<Entry>,
    },
    /// After what is queued before it: is the entry still on the host?
    Verify {
        instance: String,
        /// The entry as written, for the report.
        shown: String,
        /// `ip` arguments that list it if it is there.
        probe: Vec<String>,
    },
}

/// A tracked route or rule of `instance` that is gone from the host while nothing of
/// ours removed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lost {
    /// The instance it belongs to.
    pub instance: String,
    /// The route or rule as written.
    pub entry: String,
}

/// The background task that runs route changes in order.
pub struct Routes {
    tx: mpsc::UnboundedSender<Job>,
    worker: JoinHandle<()>,
}

impl Routes {
    /// Start the worker (on the current tokio runtime); what it finds lost goes to `lost`.
    pub fn start(lost: mpsc::UnboundedSender<Lost>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let worker = tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                match job {
                    Job::Change {
                        instance,
                        change,
                        entries,
                    } => {
                        for entry in &entries {
                            apply(&instance, entry, change).await;
                        }
                    }
                    Job::Verify {
                        instance,
                        shown,
                        probe,
                    } => {
                        if is_gone(&probe).await {
                            let _ = lost.send(Lost {
                                instance,
                                entry: shown,
                            });
                        }
                    }
                }
            }
        });
        Self { tx, worker }
    }

    /// Queue a check that `shown` (of `instance`), which `probe` lists, is still there,
    /// after the changes already queued.
    pub fn verify(&self, instance: &str, shown: String, probe: Vec<String>) {
        let _ = self.tx.send(Job::Verify {
            instance: instance.to_string(),
            shown,
            probe,
        });
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
        let _ = self.tx.send(Job::Change {
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

/// Whether `ip PROBE` answers, and with nothing: the entry is not there. An `ip` that
/// fails or hangs proves nothing.
async fn is_gone(probe: &[String]) -> bool {
    let output = Command::new("ip")
        .args(probe)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(5), output).await {
        Ok(Ok(out)) => out.status.success() && out.stdout.iter().all(u8::is_ascii_whitespace),
        _ => false,
    }
}

/// The id of routing table `table` as written (`None`: main), from its number, the
/// kernel's names, or iproute2's `rt_tables` files.
pub fn table_id(table: Option<&str>) -> Option<u32> {
    match table {
        None | Some("main") => Some(254),
        Some("local") => Some(255),
        Some("default") => Some(253),
        Some(t) => t.parse().ok().or_else(|| {
            [
                "/etc/iproute2/rt_tables",
                "/usr/share/iproute2/rt_tables",
                "/usr/lib/iproute2/rt_tables",
            ]
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .find_map(|text| {
                text.lines().find_map(|l| {
                    let mut w = l.split_whitespace();
                    let id = w.next()?.parse().ok()?;
                    (w.next()? == t).then_some(id)
                })
            })
        }),
    }
}

/// The preference of a rule (`priority`, `preference` or `pref N`), which identifies it.
pub fn rule_priority(words: &[String]) -> Option<u32> {
    words
        .windows(2)
        .find(|w| matches!(w[0].as_str(), "priority" | "preference" | "pref" | "prio"))
        .and_then(|w| w[1].parse().ok())
}

fn family_flag(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "-4",
        Family::Ipv6 => "-6",
    }
}

/// Whether a deleted route (`v6`, destination, table id) is `r`.
pub fn is_route(r: &VirtualRoute, v6: bool, dst: Option<(IpAddr, u8)>, table: u32) -> bool {
    (r.family == Family::Ipv6) == v6
        && r.dst.map(|p| (p.addr, p.prefix_len)) == dst
        && table_id(r.table.as_deref()) == Some(table)
}

/// Whether a deleted rule (`v6`, preference) is `r`.
pub fn is_rule(r: &VirtualRule, v6: bool, priority: u32) -> bool {
    (r.family == Family::Ipv6) == v6 && rule_priority(&r.words) == Some(priority)
}

/// `ip` arguments that list route `r` when it is there.
pub fn route_probe(r: &VirtualRoute) -> Vec<String> {
    let dst = r.dst.map_or_else(
        || "default".to_string(),
        |p| format!("{}/{}", p.addr, p.prefix_len),
    );
    [
        family_flag(r.family),
        "route",
        "show",
        "table",
        r.table.as_deref().unwrap_or("main"),
        "exact",
        &dst,
    ]
    .map(String::from)
    .to_vec()
}

/// `ip` arguments that list rule `r` (of preference `priority`) when it is there.
pub fn rule_probe(r: &VirtualRule, priority: u32) -> Vec<String> {
    [
        family_flag(r.family),
        "rule",
        "show",
        "pref",
        &priority.to_string(),
    ]
    .map(String::from)
    .to_vec()
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
    fn deleted_routes_and_rules_are_known_by_destination_table_and_preference() {
        use crate::config::model::IpPrefix;
        let route = |dst: Option<(&str, u8)>, table: Option<&str>, family: Family| VirtualRoute {
            words: vec![],
            dst: dst.map(|(a, l)| IpPrefix {
                addr: a.parse().unwrap(),
                prefix_len: l,
            }),
            family,
            via: None,
            dev: None,
            table: table.map(String::from),
            metric: None,
            src: None,
            blackhole: false,
            no_track: false,
        };
        let net: IpAddr = "10.9.0.0".parse().unwrap();
        let ten = Some((net, 16));
        let r = route(Some(("10.9.0.0", 16)), None, Family::Ipv4);
        assert!(is_route(&r, false, ten, 254));
        assert!(!is_route(&r, true, ten, 254), "family");
        assert!(!is_route(&r, false, ten, 100), "table");
        assert!(!is_route(&r, false, Some((net, 24)), 254), "prefix length");
        let default = route(None, Some("100"), Family::Ipv4);
        assert!(is_route(&default, false, None, 100));
        assert_eq!(
            route_probe(&default).join(" "),
            "-4 route show table 100 exact default"
        );
        assert_eq!(
            route_probe(&r).join(" "),
            "-4 route show table main exact 10.9.0.0/16"
        );
        assert_eq!(table_id(None), Some(254));
        assert_eq!(table_id(Some("local")), Some(255));
        assert_eq!(table_id(Some("42")), Some(42));
        assert_eq!(table_id(Some("no-such-table-name")), None);
        let words = |w: &str| w.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            rule_priority(&words("from 10.0.0.1 table 100 priority 1001")),
            Some(1001)
        );
        assert_eq!(rule_priority(&words("pref 7 from all lookup 100")), Some(7));
        assert_eq!(rule_priority(&words("from 10.0.0.1 table 100")), None);
        let rule = VirtualRule {
            words: words("from 10.0.0.1 table 100 preference 1001"),
            family: Family::Ipv6,
            no_track: false,
        };
        assert!(is_rule(&rule, true, 1001) && !is_rule(&rule, false, 1001));
        assert_eq!(rule_probe(&rule, 1001).join(" "), "-6 rule show pref 1001");
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
