//! Least privilege: refuse to start without the capabilities set-up needs, and keep only
//! those the running daemon still needs once set-up is done.
//!
//! Set-up (loading the XDP program, creating its maps, attaching it, opening the raw
//! sockets, adding addresses, raising RLIMIT_MEMLOCK on old kernels) needs more than the
//! steady state. The check runs before anything on the host is touched, so a daemon started
//! without, say, `CAP_NET_RAW` names it and exits instead of failing half-way with a bare
//! `EPERM`. After set-up, [`drop_after_setup`] lowers the permitted, effective and
//! inheritable sets to [`RUNTIME`] (ambient capabilities follow automatically). The
//! bounding set is left alone on purpose: a notify script that runs as root gets the
//! bounding set back on `execve` (the kernel's rule for uid 0), so `ip addr add` in a
//! `notify_master` script still works; the unit file's `CapabilityBoundingSet=` is where an
//! administrator narrows that.
//!
//! Capabilities are per thread in Linux; the daemon runs a current-thread runtime and
//! starts no threads, so lowering the calling thread's sets lowers the process's. Threads
//! started later inherit the lowered sets.
use std::{fmt, net::SocketAddr};

use caps::{CapSet, Capability, CapsHashSet};

use crate::{config::Config, dataplane::kernel::KernelVersion, track::identity};

/// One capability requirement: `cap`, or `alternative` (a broader capability the kernel
/// accepts in its place, such as `CAP_SYS_ADMIN` for `CAP_BPF`), and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need {
    /// The capability asked for.
    pub cap: Capability,
    /// A capability that the kernel accepts instead (`CAP_SYS_ADMIN` for `CAP_BPF` and
    /// `CAP_PERFMON`).
    pub alternative: Option<Capability>,
    /// What it is for, as the refusal message and the README say it.
    pub why: &'static str,
}

impl Need {
    const fn new(cap: Capability, why: &'static str) -> Self {
        Self {
            cap,
            alternative: None,
            why,
        }
    }

    const fn or(cap: Capability, alternative: Capability, why: &'static str) -> Self {
        Self {
            cap,
            alternative: Some(alternative),
            why,
        }
    }

    /// Whether `set` satisfies this need.
    pub fn met_by(&self, set: &CapsHashSet) -> bool {
        set.contains(&self.cap) || self.alternative.is_some_and(|a| set.contains(&a))
    }
}

/// `CAP_NET_ADMIN`: kept at run time.
const NET_ADMIN: Need = Need::new(
    Capability::CAP_NET_ADMIN,
    "virtual addresses and VMAC interfaces over rtnetlink and their sysctls, XDP attachment \
     (also on reload), the proc connector of vrrp_track_process",
);
/// `CAP_NET_RAW`: kept at run time.
const NET_RAW: Need = Need::new(
    Capability::CAP_NET_RAW,
    "raw sockets for adverts, gratuitous ARPs and unsolicited NAs (also on reload, and in \
     the crash guardian)",
);
/// `CAP_BPF`: kept at run time.
const BPF: Need = Need::or(
    Capability::CAP_BPF,
    Capability::CAP_SYS_ADMIN,
    "every bpf() call: loading the program, creating and updating its maps (the heartbeat \
     and VIPS maps at run time), bpf_link attachment",
);
/// `CAP_PERFMON`: set-up only.
const PERFMON: Need = Need::or(
    Capability::CAP_PERFMON,
    Capability::CAP_SYS_ADMIN,
    "loading the XDP program: without it the verifier refuses its packet-pointer arithmetic",
);
/// `CAP_SYS_RESOURCE`: set-up only, kernels before 5.11.
const SYS_RESOURCE: Need = Need::new(
    Capability::CAP_SYS_RESOURCE,
    "raising RLIMIT_MEMLOCK for the BPF maps (Linux before 5.11; or set LimitMEMLOCK=infinity)",
);
/// `CAP_SETUID`: kept at run time.
const SETUID: Need = Need::new(
    Capability::CAP_SETUID,
    "running scripts as `user` / `script_user`",
);
/// `CAP_SETGID`: kept at run time.
const SETGID: Need = Need::new(
    Capability::CAP_SETGID,
    "running scripts with the user's group, without root's supplementary groups",
);
/// `CAP_KILL`: kept at run time.
const KILL: Need = Need::new(
    Capability::CAP_KILL,
    "ending timed-out scripts (their process groups) that run as another user",
);
/// `CAP_SYS_NICE`: for `vrrp_rt_priority` or a negative `vrrp_priority` at set-up, kept
/// at run time for `max_auto_priority`.
const SYS_NICE: Need = Need::new(
    Capability::CAP_SYS_NICE,
    "vrrp_rt_priority (realtime scheduling), a negative vrrp_priority, and max_auto_priority \
     (kept at run time for it)",
);
/// `CAP_IPC_LOCK`: set-up only, for `vrrp_no_swap` when RLIMIT_MEMLOCK is limited.
const IPC_LOCK: Need = Need::new(
    Capability::CAP_IPC_LOCK,
    "vrrp_no_swap (locking the daemon's memory; or set LimitMEMLOCK=infinity)",
);
/// `CAP_SYS_ADMIN`: set-up only, for `net_namespace` (the shipped unit does not grant it).
const SYS_ADMIN_NETNS: Need = Need::new(
    Capability::CAP_SYS_ADMIN,
    "net_namespace (entering the namespace with setns)",
);
/// `CAP_NET_BIND_SERVICE`: set-up only, when `--metrics-listen` names a privileged port.
const NET_BIND_SERVICE: Need = Need::new(
    Capability::CAP_NET_BIND_SERVICE,
    "--metrics-listen on a port below ip_unprivileged_port_start",
);

/// What the running daemon keeps after set-up, and why (README "Privileges").
///
/// `CAP_BPF` is replaced by `CAP_SYS_ADMIN` when the daemon was started with the latter
/// only. Everything else is dropped from the permitted and effective sets: `CAP_PERFMON`
/// (the program is loaded once), `CAP_SYS_RESOURCE` (the limit is raised once),
/// `CAP_NET_BIND_SERVICE` (the metrics socket is bound once), `CAP_SYS_ADMIN` (when
/// `CAP_BPF` is there), the file-permission overrides and the rest.
pub const RUNTIME: [Need; 6] = [NET_ADMIN, NET_RAW, BPF, SETUID, SETGID, KILL];

/// What set-up needs, beyond the configuration-dependent needs of [`setup_needs`]: the
/// XDP program, its maps and sockets.
pub const SETUP_ALWAYS: [Need; 4] = [NET_ADMIN, NET_RAW, BPF, PERFMON];

/// What the host and the command line imply for set-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Setup {
    /// The kernel charges BPF maps to RLIMIT_MEMLOCK (before 5.11) and the hard limit is
    /// not already unlimited.
    pub memlock_must_rise: bool,
    /// Some script runs as a user other than root.
    pub scripts_as_other_users: bool,
    /// `--metrics-listen` names a privileged port.
    pub privileged_port: bool,
    /// `vrrp_rt_priority`, a negative `vrrp_priority` or `max_auto_priority` raises the
    /// daemon's scheduling.
    pub raises_scheduling: bool,
    /// `vrrp_no_swap` with a limited RLIMIT_MEMLOCK.
    pub locks_memory_beyond_limit: bool,
    /// `net_namespace`: the daemon enters a namespace at start.
    pub enters_namespace: bool,
}

impl Setup {
    /// Work out the facts for `config` on this host.
    pub fn of(config: &Config, metrics_listen: Option<SocketAddr>) -> Self {
        let old_kernel = KernelVersion::current().is_ok_and(|k| !k.at_least(5, 11));
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into a valid struct.
        let unlimited = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } == 0
            && limit.rlim_max == libc::RLIM_INFINITY;
        let unprivileged_start =
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
                .ok()
                .and_then(|s| s.trim().parse::<u16>().ok())
                .unwrap_or(1024);
        let process = &config.global.process;
        Self {
            raises_scheduling: process.rt_priority.is_some()
                || process.nice.is_some_and(|n| n < 0)
                || process.max_auto_priority > 0,
            locks_memory_beyond_limit: process.no_swap && !unlimited,
            enters_namespace: config.global.net_namespace.is_some(),
            memlock_must_rise: old_kernel && !unlimited,
            scripts_as_other_users: scripts_as_other_users(config),
            privileged_port: metrics_listen
                .is_some_and(|a| a.port() != 0 && a.port() < unprivileged_start),
        }
    }
}

/// Whether any script of `config` runs as a user other than root. A user that does not
/// exist is left to start-up, which names it.
fn scripts_as_other_users(config: &Config) -> bool {
    let script_user = config.global.script_user.as_deref();
    let other = |own: Option<&str>| {
        identity::resolve(own, script_user).is_ok_and(|r| r != identity::RunAs::ROOT)
    };
    (config.runs_scripts() && other(None))
        || config.scripts.iter().any(|s| other(s.user.as_deref()))
}

/// Everything set-up needs on this host for this configuration.
pub fn setup_needs(setup: Setup) -> Vec<Need> {
    let mut needs = SETUP_ALWAYS.to_vec();
    if setup.memlock_must_rise {
        needs.push(SYS_RESOURCE);
    }
    if setup.scripts_as_other_users {
        needs.extend([SETUID, SETGID, KILL]);
    }
    if setup.privileged_port {
        needs.push(NET_BIND_SERVICE);
    }
    if setup.raises_scheduling {
        needs.push(SYS_NICE);
    }
    if setup.locks_memory_beyond_limit {
        needs.push(IPC_LOCK);
    }
    if setup.enters_namespace {
        needs.push(SYS_ADMIN_NETNS);
    }
    needs
}

/// The refusal: which capabilities are missing and how to grant them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing(pub Vec<Need>);

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.0.iter().map(|n| n.cap.to_string()).collect();
        write!(f, "vrrp-daemon cannot start: missing ")?;
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{}", n.cap)?;
            if let Some(alt) = n.alternative {
                write!(f, " (or {alt})")?;
            }
            write!(f, " for {}", n.why)?;
        }
        write!(
            f,
            ". Run it as root, or grant them: in its systemd unit add {} to \
             CapabilityBoundingSet= and, for a non-root User=, to AmbientCapabilities=. \
             Nothing on the host was changed.",
            names.join(" ")
        )
    }
}

impl std::error::Error for Missing {}

/// The needs of `needs` that `effective` does not meet.
pub fn missing(needs: &[Need], effective: &CapsHashSet) -> Vec<Need> {
    let mut out: Vec<Need> = Vec::new();
    for n in needs {
        if !n.met_by(effective) && !out.contains(n) {
            out.push(*n);
        }
    }
    out
}

/// Refuse to start when the effective set lacks something set-up needs.
///
/// # Errors
/// [`Missing`] names every missing capability and the fix; an error reading the sets
/// is reported as such.
pub fn check_setup(config: &Config, metrics_listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let effective = caps::read(None, CapSet::Effective)
        .map_err(|e| anyhow::anyhow!("reading the effective capability set: {e}"))?;
    let lacking = missing(&setup_needs(Setup::of(config, metrics_listen)), &effective);
    if lacking.is_empty() {
        Ok(())
    } else {
        Err(Missing(lacking).into())
    }
}

/// The set to keep after set-up, out of `permitted`: [`RUNTIME`], with `CAP_SYS_ADMIN`
/// standing in for `CAP_BPF` only when `CAP_BPF` is not there.
pub fn runtime_set(permitted: &CapsHashSet) -> CapsHashSet {
    let mut keep = CapsHashSet::new();
    for n in RUNTIME {
        if permitted.contains(&n.cap) {
            keep.insert(n.cap);
        } else if let Some(alt) = n.alternative.filter(|a| permitted.contains(a)) {
            keep.insert(alt);
        }
    }
    keep
}

/// Names of a set, sorted, for logs.
pub fn names(set: &CapsHashSet) -> Vec<String> {
    let mut v: Vec<Capability> = set.iter().copied().collect();
    v.sort_by_key(|c| c.index());
    v.into_iter().map(|c| c.to_string()).collect()
}

/// After set-up: lower the effective, permitted and inheritable sets to [`runtime_set`]
/// (the ambient set follows), leave the bounding set, and log the kept set once.
///
/// # Errors
/// When the sets cannot be read or lowered, or read back differently: the daemon would
/// otherwise run with more than it claims.
pub fn drop_after_setup(config: &Config) -> anyhow::Result<CapsHashSet> {
    let read = |set| {
        caps::read(None, set).map_err(|e| anyhow::anyhow!("reading the capability sets: {e}"))
    };
    let permitted = read(CapSet::Permitted)?;
    let mut keep = runtime_set(&permitted);
    // `max_auto_priority` raises the loop's realtime priority at run time.
    if config.global.process.max_auto_priority > 0 && permitted.contains(&SYS_NICE.cap) {
        keep.insert(SYS_NICE.cap);
    }
    let inheritable = read(CapSet::Inheritable)?;
    // Effective first: it must stay a subset of the permitted set at every step.
    for (set, value) in [
        (CapSet::Effective, keep.clone()),
        (CapSet::Permitted, keep.clone()),
        (
            CapSet::Inheritable,
            inheritable.intersection(&keep).copied().collect(),
        ),
    ] {
        caps::set(None, set, &value)
            .map_err(|e| anyhow::anyhow!("lowering the {set:?} capability set: {e}"))?;
    }
    let now = read(CapSet::Permitted)?;
    if now != keep || read(CapSet::Effective)? != keep {
        anyhow::bail!(
            "the capability sets read back as {:?}, not the {:?} they were lowered to",
            names(&now),
            names(&keep)
        );
    }
    let threads = std::fs::read_dir("/proc/self/task").map_or(1, |d| d.count());
    if threads > 1 {
        tracing::warn!(
            threads,
            "capabilities were lowered on the main thread only; other threads keep theirs"
        );
    }
    let dropped: CapsHashSet = permitted.difference(&keep).copied().collect();
    tracing::info!(
        kept = %names(&keep).join(","),
        dropped = dropped.len(),
        "set-up done; capabilities lowered to what the running daemon needs"
    );
    Ok(keep)
}

/// The crash guardian's own drop: it only sends raw packets and runs `ip addr del` (which,
/// for a root guardian, gets the bounding set back on `execve`; for a non-root one, the
/// ambient `CAP_NET_ADMIN` it keeps).
///
/// # Errors
/// When the sets cannot be read or lowered.
pub fn drop_for_guardian() -> anyhow::Result<()> {
    let permitted = caps::read(None, CapSet::Permitted)
        .map_err(|e| anyhow::anyhow!("reading the capability sets: {e}"))?;
    let keep: CapsHashSet = [Capability::CAP_NET_RAW, Capability::CAP_NET_ADMIN]
        .into_iter()
        .filter(|c| permitted.contains(c))
        .collect();
    let inheritable = caps::read(None, CapSet::Inheritable)
        .map_err(|e| anyhow::anyhow!("reading the capability sets: {e}"))?;
    for (set, value) in [
        (CapSet::Effective, keep.clone()),
        (CapSet::Permitted, keep.clone()),
        (
            CapSet::Inheritable,
            inheritable.intersection(&keep).copied().collect(),
        ),
    ] {
        caps::set(None, set, &value)
            .map_err(|e| anyhow::anyhow!("lowering the {set:?} capability set: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(caps: &[Capability]) -> CapsHashSet {
        caps.iter().copied().collect()
    }

    #[test]
    fn root_meets_every_setup_need() {
        let all = caps::all();
        let needs = setup_needs(Setup {
            memlock_must_rise: true,
            scripts_as_other_users: true,
            privileged_port: true,
            raises_scheduling: true,
            locks_memory_beyond_limit: true,
            enters_namespace: true,
        });
        assert!(missing(&needs, &all).is_empty());
    }

    #[test]
    fn process_keywords_need_sys_nice_and_ipc_lock_only_when_they_raise_or_lock() {
        let config = |global: &str| {
            crate::config::parse_str(
                &format!(
                    "global_defs {{\n{global}\n}}\nvrrp_instance V {{\n interface eth0\n \
                     virtual_router_id 1\n virtual_ipaddress {{\n 10.0.0.1\n }}\n}}\n"
                ),
                std::path::Path::new("k.conf"),
            )
            .unwrap()
            .config
        };
        let needs = |global: &str| -> Vec<Capability> {
            setup_needs(Setup::of(&config(global), None))
                .iter()
                .map(|n| n.cap)
                .filter(|c| [Capability::CAP_SYS_NICE, Capability::CAP_IPC_LOCK].contains(c))
                .collect()
        };
        assert_eq!(needs("vrrp_rt_priority 50"), [Capability::CAP_SYS_NICE]);
        assert_eq!(needs("vrrp_priority -5"), [Capability::CAP_SYS_NICE]);
        assert_eq!(needs("vrrp_priority 5\nvrrp_cpu_affinity 0"), []);
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into a valid struct.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) },
            0
        );
        let expected: &[Capability] = if limit.rlim_max == libc::RLIM_INFINITY {
            &[]
        } else {
            &[Capability::CAP_IPC_LOCK]
        };
        assert_eq!(needs("vrrp_no_swap"), expected);
    }

    #[test]
    fn sys_admin_stands_in_for_bpf_and_perfmon() {
        let needs = setup_needs(Setup::default());
        let have = set(&[
            Capability::CAP_NET_ADMIN,
            Capability::CAP_NET_RAW,
            Capability::CAP_SYS_ADMIN,
        ]);
        assert!(missing(&needs, &have).is_empty());
        assert_eq!(
            runtime_set(&have),
            set(&[
                Capability::CAP_NET_ADMIN,
                Capability::CAP_NET_RAW,
                Capability::CAP_SYS_ADMIN
            ])
        );
    }

    #[test]
    fn each_missing_capability_is_named_with_the_fix() {
        let needs = setup_needs(Setup {
            memlock_must_rise: true,
            ..Setup::default()
        });
        let have = set(&[Capability::CAP_NET_ADMIN, Capability::CAP_BPF]);
        let lacking = missing(&needs, &have);
        let caps: Vec<Capability> = lacking.iter().map(|n| n.cap).collect();
        assert_eq!(
            caps,
            [
                Capability::CAP_NET_RAW,
                Capability::CAP_PERFMON,
                Capability::CAP_SYS_RESOURCE
            ]
        );
        let text = Missing(lacking).to_string();
        assert!(text.contains("CAP_NET_RAW for raw sockets"), "{text}");
        assert!(text.contains("CAP_PERFMON (or CAP_SYS_ADMIN)"), "{text}");
        assert!(
            text.contains("add CAP_NET_RAW CAP_PERFMON CAP_SYS_RESOURCE to CapabilityBoundingSet="),
            "{text}"
        );
        assert!(text.contains("Run it as root"), "{text}");
        assert!(!text.contains('\n'), "one line: {text}");
    }

    #[test]
    fn the_runtime_set_of_root_keeps_bpf_and_drops_setup_only_capabilities() {
        let keep = runtime_set(&caps::all());
        assert_eq!(
            names(&keep),
            [
                "CAP_KILL",
                "CAP_SETGID",
                "CAP_SETUID",
                "CAP_NET_ADMIN",
                "CAP_NET_RAW",
                "CAP_BPF"
            ]
        );
    }

    #[test]
    fn scripts_need_setuid_only_when_they_run_as_another_user() {
        let plain = setup_needs(Setup::default());
        assert!(!plain.iter().any(|n| n.cap == Capability::CAP_SETUID));
        let users = setup_needs(Setup {
            scripts_as_other_users: true,
            ..Setup::default()
        });
        for cap in [
            Capability::CAP_SETUID,
            Capability::CAP_SETGID,
            Capability::CAP_KILL,
        ] {
            assert!(users.iter().any(|n| n.cap == cap), "{cap}");
        }
    }

    /// The unit's `CapabilityBoundingSet=` is what set-up and run time can need, no more.
    #[test]
    fn the_systemd_unit_bounds_exactly_what_the_daemon_can_need() {
        let unit = include_str!("../../packaging/vrrp-daemon.service");
        let line = unit
            .lines()
            .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
            .expect("CapabilityBoundingSet= in the unit");
        let mut listed: Vec<&str> = line.split_whitespace().collect();
        listed.sort_unstable();
        let mut wanted: Vec<String> = setup_needs(Setup {
            memlock_must_rise: true,
            scripts_as_other_users: true,
            privileged_port: true,
            raises_scheduling: true,
            locks_memory_beyond_limit: true,
            // net_namespace's CAP_SYS_ADMIN is not in the shipped unit: a unit for a
            // namespace adds it (README, Privileges).
            enters_namespace: false,
        })
        .iter()
        .chain(RUNTIME.iter())
        .map(|n| n.cap.to_string())
        .collect();
        wanted.sort_unstable();
        wanted.dedup();
        assert_eq!(listed, wanted);
    }
}
