//! Raw values → the typed [`Config`]: keepalived 2.2.7's defaults, applied here and only
//! here, and the checks that need the whole file.
//!
//! The order follows keepalived's `vrrp_complete_instance()`: address family from the
//! VIPs, then the version (IPv6 forces 3), then what depends on the version (advert
//! interval rounding, authentication), then priority from the state and the state from the
//! priority, then strict mode's and preemption's clean-ups, then the defaults that come
//! from `global_defs`. Unlike keepalived, `global_defs` applies wherever it is in the file
//! (keepalived copies some globals into an instance when it reads the instance).
use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    time::Duration,
};

use super::{
    Diags, Location,
    model::{
        Authentication, ChecksumConfig, Config, DEFAULT_RLIMIT_RTTIME_US, Family, GarpConfig,
        GlobalDefs, InitialState, ParamMatch, ProcessTuning, SyncGroup, TrackFile, TrackInterface,
        TrackProcess, TrackRef, TrackScript, UnicastConfig, VirtualAddress, VmacConfig,
        VrrpInstance, VrrpScript,
    },
    parser::short_location,
    raw::{
        AuthType, RawConfig, RawGlobal, RawInstance, RawNotify, RawScript, RawSyncGroup, RawTrack,
        RawTrackFile, RawTrackProcess, RawTracking, Seconds, Spanned,
    },
    suggest::did_you_mean,
};
use crate::units::Centiseconds;

/// `vrrp_version` when neither the instance nor `global_defs` says.
const DEFAULT_VERSION: u8 = 2;
/// `priority` when unset and not `state MASTER`.
const DEFAULT_PRIORITY: u8 = 100;
/// The address owner's priority; also what `state MASTER` without `priority` gets.
const OWNER_PRIORITY: u8 = 255;
/// `advert_int` when unset.
const DEFAULT_ADVERT_INT: Centiseconds = Centiseconds::from_secs(1);
/// VRRPv2's advert interval is an 8-bit count of seconds.
const V2_MAX_ADVERT_SECS: u64 = 255;
/// VRRPv3's advert interval is a 12-bit count of centiseconds.
const V3_MAX_ADVERT_CS: u64 = 4095;
/// `vrrp_garp_master_delay` / `garp_master_delay` when unset.
const DEFAULT_GARP_DELAY_SECS: u32 = 5;
/// `vrrp_garp_master_repeat` / `garp_master_repeat` when unset.
const DEFAULT_GARP_REPEAT: u32 = 5;
/// `vrrp_garp_master_refresh_repeat` when unset.
const DEFAULT_GARP_REFRESH_REPEAT: u32 = 1;
/// `vrrp_down_timer_adverts` / `down_timer_adverts` when unset (RFC 5798's 3).
const DEFAULT_DOWN_TIMER_ADVERTS: u8 = 3;
/// `vrrp_script interval` when unset.
const DEFAULT_SCRIPT_INTERVAL_SECS: u32 = 1;
/// `rise` and `fall` when unset.
const DEFAULT_RISE_FALL: u32 = 1;
/// `track_file weight` when unset.
const DEFAULT_TRACK_FILE_WEIGHT: i32 = 1;
/// The TTL of IPv4 unicast adverts when `unicast_ttl` is unset.
const DEFAULT_UNICAST_TTL4: u8 = 255;
/// keepalived sizes adverts for this MTU when the interface is not known.
const DEFAULT_MTU: usize = 1500;
/// An advert's address count is 8 bits wide.
const MAX_ADVERT_ADDRESSES: usize = 255;

/// Builds the model, reporting what only the whole file shows. The result is meaningful
/// only when no error was reported.
pub(super) fn resolve(raw: RawConfig, diags: &mut Diags) -> Config {
    let global = global_defs(&raw.global, diags);
    let scripts = scripts(&raw.scripts, diags);
    let track_files = track_files(&raw.track_files, diags);
    let track_processes = track_processes(&raw.track_processes, diags);
    let tracked = Tracked {
        scripts: &scripts,
        script_names: raw.scripts.iter().map(|s| s.name.as_str()).collect(),
        files: &track_files,
        file_names: raw.track_files.iter().map(|s| s.name.as_str()).collect(),
        processes: &track_processes,
        process_names: raw
            .track_processes
            .iter()
            .map(|s| s.name.as_str())
            .collect(),
    };
    let mut instances: Vec<VrrpInstance> = raw
        .instances
        .iter()
        .map(|r| instance(r, &raw.global, &global, &tracked, diags))
        .collect();
    unique_instances(&raw.instances, &instances, diags);
    let sync_groups = sync_groups(&raw.sync_groups, &mut instances, &tracked, diags);
    let static_addresses = static_addresses(&raw.static_addresses, diags);
    Config {
        global,
        scripts,
        track_files,
        track_processes,
        sync_groups,
        instances,
        static_addresses,
        static_routes: raw.static_routes.iter().map(|r| r.value.clone()).collect(),
        static_rules: raw.static_rules.iter().map(|r| r.value.clone()).collect(),
    }
}

/// `static_ipaddress` entries, each address once (a repeat is warned about and dropped).
fn static_addresses(list: &[Spanned<VirtualAddress>], diags: &mut Diags) -> Vec<VirtualAddress> {
    let mut out: Vec<VirtualAddress> = Vec::new();
    for a in list {
        if out.iter().any(|o| o.addr == a.value.addr) {
            diags.warn(
                &a.loc,
                format!(
                    "{} is listed twice in static_ipaddress; the second is ignored: remove it",
                    a.value.addr
                ),
            );
            continue;
        }
        out.push(a.value.clone());
    }
    out
}

/// What `track_*` entries may name.
struct Tracked<'a> {
    scripts: &'a [VrrpScript],
    /// Every `vrrp_script` name, also of scripts refused for an error (so that the error
    /// is not followed by "names no vrrp_script").
    script_names: Vec<&'a str>,
    files: &'a [TrackFile],
    file_names: Vec<&'a str>,
    processes: &'a [TrackProcess],
    process_names: Vec<&'a str>,
}

fn global_defs(g: &RawGlobal, diags: &mut Diags) -> GlobalDefs {
    let min_garp = value(&g.min_garp).unwrap_or(false);
    // `vrrp_min_garp` changes the defaults of what is not set (keepalived: one GARP, no
    // second burst, no refresh repeats).
    let (delay_default, repeat_default, refresh_repeat_default) = if min_garp {
        (0, 1, 0)
    } else {
        (
            DEFAULT_GARP_DELAY_SECS,
            DEFAULT_GARP_REPEAT,
            DEFAULT_GARP_REFRESH_REPEAT,
        )
    };
    let garp_master_delay = value(&g.garp_master_delay).unwrap_or(delay_default);
    let garp_master_repeat = value(&g.garp_master_repeat).unwrap_or(repeat_default);
    let defaults = GlobalDefs::default();
    let fifo = |fifo: &Option<Spanned<super::NotifyFifo>>,
                script: &Option<Spanned<String>>,
                fifo_kw: &str,
                diags: &mut Diags| {
        let mut f = value(fifo);
        match (&mut f, script) {
            (Some(f), Some(s)) => f.script = Some(s.value.clone()),
            (None, Some(s)) => diags.warn(
                &s.loc,
                format!(
                    "{fifo_kw}_script without {fifo_kw} is ignored (it would be given the \
                     FIFO's path); add `{fifo_kw} /run/keepalived.fifo` or remove it"
                ),
            ),
            _ => {}
        }
        f
    };
    GlobalDefs {
        router_id: value(&g.router_id),
        vrrp_version: value(&g.vrrp_version).unwrap_or(DEFAULT_VERSION),
        script_user: g.script_user.as_ref().map(|u| u.value.0.clone()),
        script_group: g.script_user.as_ref().and_then(|u| u.value.1.clone()),
        enable_script_security: g.enable_script_security,
        garp_master_delay: secs(garp_master_delay),
        garp_master_repeat,
        garp: GarpConfig {
            master_refresh: secs(value(&g.garp_master_refresh).unwrap_or(0)),
            master_refresh_repeat: value(&g.garp_master_refresh_repeat)
                .unwrap_or(refresh_repeat_default),
            lower_prio_delay: secs(value(&g.garp_lower_prio_delay).unwrap_or(garp_master_delay)),
            lower_prio_repeat: value(&g.garp_lower_prio_repeat).unwrap_or(garp_master_repeat),
        },
        garp_interval: value(&g.garp_interval).unwrap_or_default(),
        gna_interval: value(&g.gna_interval).unwrap_or_default(),
        min_garp,
        lower_prio_no_advert: value(&g.lower_prio_no_advert).unwrap_or(false),
        notify_priority_changes: value(&g.notify_priority_changes).unwrap_or(false),
        // On by default here (keepalived: off): a master yielding to a higher priority sends
        // one last advert, which makes the winner re-announce (garp_lower_prio_*), so a
        // healed split brain never leaves clients pointing at the loser.
        higher_prio_send_advert: value(&g.higher_prio_send_advert).unwrap_or(true),
        down_timer_adverts: value(&g.down_timer_adverts).unwrap_or(DEFAULT_DOWN_TIMER_ADVERTS),
        strict: g.strict,
        check_unicast_src: g.check_unicast_src,
        skip_check_adv_addr: g.skip_check_adv_addr,
        mcast_group4: value(&g.mcast_group4).unwrap_or(defaults.mcast_group4),
        mcast_group6: value(&g.mcast_group6).unwrap_or(defaults.mcast_group6),
        startup_delay: value(&g.startup_delay).unwrap_or_default(),
        dynamic_interfaces: g.dynamic_interfaces,
        default_interface: value(&g.default_interface)
            .unwrap_or_else(|| defaults.default_interface.clone()),
        net_namespace: value(&g.net_namespace),
        process: ProcessTuning {
            nice: value(&g.nice),
            rt_priority: value(&g.rt_priority),
            no_swap: g.no_swap,
            cpu_affinity: value(&g.cpu_affinity).unwrap_or_default(),
            rlimit_rttime_us: value(&g.rlimit_rttime).unwrap_or(DEFAULT_RLIMIT_RTTIME_US),
            // -1 (keepalived: off, and no start-up warning) and 0 are both off.
            max_auto_priority: value(&g.max_auto_priority)
                .and_then(|p| u8::try_from(p).ok())
                .unwrap_or(0),
            min_auto_priority_delay: value(&g.min_auto_priority_delay)
                .map_or(Duration::from_secs(1), Duration::from_micros),
        },
        notify_fifo: fifo(&g.notify_fifo, &g.notify_fifo_script, "notify_fifo", diags),
        vrrp_notify_fifo: fifo(
            &g.vrrp_notify_fifo,
            &g.vrrp_notify_fifo_script,
            "vrrp_notify_fifo",
            diags,
        ),
    }
}

/// Reports a block whose name was already used; whether this one is the first.
fn first_of_name<'a>(
    first: &mut HashMap<&'a str, &'a Location>,
    what: &str,
    name: &'a str,
    loc: &'a Location,
    fix: &str,
    diags: &mut Diags,
) -> bool {
    if let Some(earlier) = first.get(name) {
        diags.error(
            loc,
            format!(
                "{what} {name} is defined twice (first at {}); {fix}",
                short_location(earlier, loc)
            ),
        );
        return false;
    }
    first.insert(name, loc);
    true
}

fn scripts(raw: &[RawScript], diags: &mut Diags) -> Vec<VrrpScript> {
    let mut scripts = Vec::new();
    let mut first = HashMap::new();
    for r in raw {
        let fix = "rename or remove one";
        if !first_of_name(&mut first, "vrrp_script", &r.name, &r.loc, fix, diags) {
            continue;
        }
        let Some(script) = &r.script else {
            if r.health.reportable("script") {
                diags.error(
                    &r.loc,
                    format!(
                        "vrrp_script {} has no `script`; add e.g. \
                         `script \"/usr/local/bin/check.sh\"`",
                        r.name
                    ),
                );
            }
            continue;
        };
        let interval = value(&r.interval).unwrap_or(DEFAULT_SCRIPT_INTERVAL_SECS);
        let timeout = value(&r.timeout).unwrap_or(interval);
        let (weight, weight_reverse) = value(&r.weight).unwrap_or((0, false));
        scripts.push(VrrpScript {
            name: r.name.clone(),
            script: script.value.clone(),
            interval: secs(interval),
            timeout: secs(timeout),
            weight,
            weight_reverse,
            rise: value(&r.rise).unwrap_or(DEFAULT_RISE_FALL),
            fall: value(&r.fall).unwrap_or(DEFAULT_RISE_FALL),
            init_fail: r.init_fail,
            user: r.user.as_ref().map(|u| u.value.0.clone()),
            group: r.user.as_ref().and_then(|u| u.value.1.clone()),
            location: r.loc.clone(),
        });
    }
    scripts
}

fn track_files(raw: &[RawTrackFile], diags: &mut Diags) -> Vec<TrackFile> {
    let mut out = Vec::new();
    let mut first = HashMap::new();
    for r in raw {
        let fix = "rename or remove one (track_file and vrrp_track_file share names)";
        if !first_of_name(&mut first, "track_file", &r.name, &r.loc, fix, diags) {
            continue;
        }
        let Some(file) = &r.file else {
            if r.health.reportable("file") {
                diags.error(
                    &r.loc,
                    format!(
                        "track_file {} has no `file`; add e.g. `file \"/var/run/keepalived/{}\"`",
                        r.name, r.name
                    ),
                );
            }
            continue;
        };
        let (weight, weight_reverse) =
            value(&r.weight).unwrap_or((DEFAULT_TRACK_FILE_WEIGHT, false));
        out.push(TrackFile {
            name: r.name.clone(),
            file: file.value.clone(),
            weight,
            weight_reverse,
            init_file: value(&r.init_file),
            location: r.loc.clone(),
        });
    }
    out
}

fn track_processes(raw: &[RawTrackProcess], diags: &mut Diags) -> Vec<TrackProcess> {
    let mut out = Vec::new();
    let mut first = HashMap::new();
    for r in raw {
        let fix = "rename or remove one";
        if !first_of_name(
            &mut first,
            "vrrp_track_process",
            &r.name,
            &r.loc,
            fix,
            diags,
        ) {
            continue;
        }
        let Some(process) = &r.process else {
            if r.health.reportable("process") {
                diags.error(
                    &r.loc,
                    format!(
                        "vrrp_track_process {} has no `process`; add e.g. `process haproxy`",
                        r.name
                    ),
                );
            }
            continue;
        };
        let (name, params) = process.value.clone();
        let param_match = value(&r.param_match).or_else(|| {
            // keepalived: parameters after the name mean an exact match of them.
            (!params.is_empty()).then_some(ParamMatch::Exact)
        });
        let (weight, weight_reverse) = value(&r.weight).unwrap_or((0, false));
        let mut quorum = value(&r.quorum).unwrap_or(1);
        let quorum_max = value(&r.quorum_max);
        if let Some(max) = &r.quorum_max {
            let explicit_quorum = r.quorum.as_ref().map(|q| q.value);
            if max.value == 0 && explicit_quorum.is_none_or(|q| q <= 1) {
                // `quorum_max 0`: the process must not run.
                quorum = 0;
            } else if quorum > max.value {
                let at = match &r.quorum {
                    Some(q) if q.loc.line > max.loc.line => &q.loc,
                    _ => &max.loc,
                };
                diags.error(
                    at,
                    format!(
                        "quorum {quorum} of vrrp_track_process {} is above its quorum_max {}; \
                         the quorum must lie between 1 and quorum_max",
                        r.name, max.value
                    ),
                );
            }
        }
        out.push(TrackProcess {
            name: r.name.clone(),
            process: name,
            full_command: r.full_command || !params.is_empty() || r.param_match.is_some(),
            params,
            param_match,
            weight,
            weight_reverse,
            quorum,
            quorum_max,
            fork_delay: value(&r.fork_delay).unwrap_or_default(),
            terminate_delay: value(&r.terminate_delay).unwrap_or_default(),
            location: r.loc.clone(),
        });
    }
    out
}

/// Where an instance's protocol version came from, to say what to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VersionFrom {
    Instance,
    Global,
    Default,
    Ipv6,
}

fn instance(
    r: &RawInstance,
    global: &RawGlobal,
    defs: &GlobalDefs,
    tracked: &Tracked<'_>,
    diags: &mut Diags,
) -> VrrpInstance {
    let name = &r.name;
    // Required keywords; not reported again when their value was already refused.
    let interface = match &r.interface {
        Some(i) => i.value.clone(),
        None => {
            if r.health.reportable("interface") {
                diags.error(
                    &r.loc,
                    format!(
                        "vrrp_instance {name} has no `interface`; add e.g. `interface eth0`, \
                         the interface its adverts use"
                    ),
                );
            }
            String::new()
        }
    };
    let vrid = match &r.vrid {
        Some(v) => v.value,
        None => {
            if r.health.reportable("virtual_router_id") {
                diags.error(
                    &r.loc,
                    format!(
                        "vrrp_instance {name} has no `virtual_router_id`; add e.g. \
                         `virtual_router_id 51` (1 to 255, the same on every node of this \
                         virtual router)"
                    ),
                );
            }
            0
        }
    };

    let family = family(r, diags);
    let strict = value(&r.strict_mode).unwrap_or(defs.strict);

    let (version, from) = if family == Family::Ipv6 {
        if let Some(v) = &r.version
            && v.value == 2
        {
            diags.error(
                &v.loc,
                "version 2 cannot carry IPv6 addresses (VRRPv2 is IPv4 only); write \
                 `version 3` or remove the line",
            );
        }
        (3, VersionFrom::Ipv6)
    } else if let Some(v) = &r.version {
        (v.value, VersionFrom::Instance)
    } else if let Some(v) = &global.vrrp_version {
        (v.value, VersionFrom::Global)
    } else {
        (DEFAULT_VERSION, VersionFrom::Default)
    };
    // An invalid version was reported already; judging the interval by a guess would add
    // a misleading second error.
    let version_known = match from {
        VersionFrom::Instance | VersionFrom::Ipv6 => true,
        VersionFrom::Global | VersionFrom::Default => {
            !r.health.bad.contains("version") && !global.health.bad.contains("vrrp_version")
        }
    };
    let advert_int = match &r.advert_int {
        Some(a) if version_known => advert_int(a, version, from, diags),
        _ => DEFAULT_ADVERT_INT,
    };

    let (mut virtual_addresses, mut virtual_addresses_excluded) = addresses(r, diags);
    if virtual_addresses.is_empty() && r.health.reportable("virtual_ipaddress") {
        if version == 3 || strict {
            diags.error(
                &r.loc,
                format!(
                    "vrrp_instance {name} has no virtual_ipaddress, which {} requires; add \
                     e.g. `virtual_ipaddress {{ 192.168.1.100/24 }}`",
                    if version == 3 {
                        "VRRPv3"
                    } else {
                        "strict mode"
                    }
                ),
            );
        } else {
            diags.warn(
                &r.loc,
                format!(
                    "vrrp_instance {name} has no virtual_ipaddress; add e.g. \
                     `virtual_ipaddress {{ 192.168.1.100/24 }}` (without addresses it only \
                     takes part in elections)"
                ),
            );
        }
    }

    let authentication = authentication(r, version, strict, diags);

    // keepalived: an unset priority comes from the state, then an unset state from the
    // priority (the address owner wishes MASTER).
    let state = value(&r.state);
    let priority = value(&r.priority).unwrap_or(if state == Some(InitialState::Master) {
        OWNER_PRIORITY
    } else {
        DEFAULT_PRIORITY
    });
    let owner = priority == OWNER_PRIORITY;
    let derived_state = if owner {
        InitialState::Master
    } else {
        InitialState::Backup
    };
    let initial_state = match &r.state {
        Some(s) if strict && s.value != derived_state => {
            diags.warn(
                &s.loc,
                format!(
                    "in strict mode the state must match being the address owner (priority \
                     255), so state {} is replaced by {} (as keepalived does); write `state {}`",
                    state_name(s.value),
                    state_name(derived_state),
                    state_name(derived_state)
                ),
            );
            derived_state
        }
        Some(s) => s.value,
        None => derived_state,
    };

    let (nopreempt, preempt_delay) = preemption(r, initial_state, priority, strict, diags);

    let unicast = unicast(r, defs, family, strict, diags);
    let is_unicast = !unicast.peers.is_empty();
    let mcast_dst_ip = match &r.mcast_dst_ip {
        Some(d) if is_unicast => {
            diags.warn(
                &d.loc,
                "mcast_dst_ip is ignored with unicast peers (adverts go to each peer); remove \
                 it",
            );
            None
        }
        Some(d) => Some(d.value),
        None if is_unicast => None,
        None => Some(match family {
            Family::Ipv4 => IpAddr::V4(defs.mcast_group4),
            Family::Ipv6 => IpAddr::V6(defs.mcast_group6),
        }),
    };

    // An IPv6 instance's first address goes in the advert's source role: RFC 5798 wants it
    // link-local.
    if family == Family::Ipv6
        && !is_unicast
        && let (Some(first), Some(raw_first)) = (virtual_addresses.first(), r.vips.first())
        && let IpAddr::V6(a) = first.addr
        && a.segments()[0] & 0xffc0 != 0xfe80
    {
        let message = format!(
            "the first IPv6 address of vrrp_instance {name} should be link-local (RFC 5798); \
             put a fe80:: address first in virtual_ipaddress"
        );
        if strict {
            diags.error(
                &raw_first.loc,
                format!("{message} (strict mode requires it)"),
            );
        } else {
            diags.note(&raw_first.loc, message);
        }
    }

    // keepalived moves what does not fit in one advert (at the default MTU) to the eVIPs.
    let fit = advert_capacity(family, version, authentication.is_some());
    if virtual_addresses.len() > fit {
        let moved = virtual_addresses.split_off(fit);
        diags.warn(
            &r.vips[fit].loc,
            format!(
                "vrrp_instance {name} has {} virtual addresses but an advert carries at most \
                 {fit}; the last {} are moved to virtual_ipaddress_excluded (as keepalived \
                 does): move them there yourself",
                fit + moved.len(),
                moved.len()
            ),
        );
        virtual_addresses_excluded.splice(0..0, moved);
    }

    let vmac = vmac(r, strict, is_unicast, diags);

    let accept = match &r.accept {
        Some(a) if a.value && !owner && strict && version == 2 => {
            diags.warn(
                &a.loc,
                "accept does not comply with RFC 3768 (VRRPv2) in strict mode and is cleared \
                 (as keepalived does); remove it or use version 3",
            );
            false
        }
        Some(a) => a.value,
        None => owner || !strict,
    };

    let strict_clear =
        |slot: &Option<Spanned<u32>>, name: &str, diags: &mut Diags| -> Option<u32> {
            match slot {
                Some(s) if strict && s.value != 0 => {
                    diags.warn(
                        &s.loc,
                        format!(
                            "strict mode sends no GARPs for lower priority adverts, so {name} is \
                         reset to 0 (as keepalived does); remove it"
                        ),
                    );
                    Some(0)
                }
                Some(s) => Some(s.value),
                None if strict => Some(0),
                None => None,
            }
        };
    let garp = GarpConfig {
        master_refresh: value(&r.garp_master_refresh).map_or(defs.garp.master_refresh, secs),
        master_refresh_repeat: value(&r.garp_master_refresh_repeat)
            .unwrap_or(defs.garp.master_refresh_repeat),
        lower_prio_delay: strict_clear(&r.garp_lower_prio_delay, "garp_lower_prio_delay", diags)
            .map_or(defs.garp.lower_prio_delay, secs),
        lower_prio_repeat: strict_clear(&r.garp_lower_prio_repeat, "garp_lower_prio_repeat", diags)
            .unwrap_or(defs.garp.lower_prio_repeat),
    };

    let strict_bool = |slot: &Option<Spanned<bool>>,
                       global: bool,
                       forced: bool,
                       name: &str,
                       diags: &mut Diags| {
        match slot {
            Some(s) if strict && s.value != forced => {
                diags.warn(
                    &s.loc,
                    format!(
                        "strict mode needs `{name} {forced}`, so it is reset (as keepalived \
                         does); remove the line"
                    ),
                );
                forced
            }
            Some(s) => s.value,
            None if strict => forced,
            None => global,
        }
    };
    let lower_prio_no_advert = strict_bool(
        &r.lower_prio_no_advert,
        defs.lower_prio_no_advert,
        true,
        "lower_prio_no_advert",
        diags,
    );
    let higher_prio_send_advert = strict_bool(
        &r.higher_prio_send_advert,
        defs.higher_prio_send_advert,
        false,
        "higher_prio_send_advert",
        diags,
    );

    let down_timer_adverts = match &r.down_timer_adverts {
        Some(d) if strict && d.value != DEFAULT_DOWN_TIMER_ADVERTS => {
            diags.warn(
                &d.loc,
                format!(
                    "down_timer_adverts {} does not comply with the RFC in strict mode and is \
                     reset to 3 (as keepalived does); remove it",
                    d.value
                ),
            );
            DEFAULT_DOWN_TIMER_ADVERTS
        }
        Some(d) => d.value,
        None if strict => DEFAULT_DOWN_TIMER_ADVERTS,
        None => defs.down_timer_adverts,
    };

    let track_interfaces = track_interfaces(
        &r.tracking,
        &interface,
        &format!("vrrp_instance {name}"),
        diags,
    );
    let owner_name = format!("vrrp_instance {name}");
    let (track_scripts, track_files, track_processes) =
        tracks(&r.tracking, &owner_name, tracked, diags);

    let notify = |slot: &Option<Spanned<String>>| slot.as_ref().map(|s| s.value.clone());
    VrrpInstance {
        name: name.clone(),
        initial_state,
        interface,
        vrid,
        priority,
        advert_int,
        version,
        family,
        authentication,
        virtual_addresses,
        virtual_addresses_excluded,
        virtual_routes: r.routes.iter().map(|v| v.value.clone()).collect(),
        virtual_rules: r.rules.iter().map(|v| v.value.clone()).collect(),
        track_scripts,
        track_interfaces,
        track_files,
        track_processes,
        dont_track_primary: r.dont_track_primary,
        nopreempt,
        preempt_delay,
        src_ip: r.src_ip.as_ref().map(|s| s.value.0),
        unicast,
        mcast_dst_ip,
        vmac,
        accept,
        strict_mode: strict,
        skip_check_adv_addr: value(&r.skip_check_adv_addr).unwrap_or(defs.skip_check_adv_addr),
        down_timer_adverts,
        lower_prio_no_advert,
        higher_prio_send_advert,
        checksum: ChecksumConfig {
            old_unicast: value(&r.old_unicast_checksum).unwrap_or_default(),
            v3_as_v2: value(&r.v3_checksum_as_v2).unwrap_or(false),
        },
        notify_master: notify(&r.notify.master),
        notify_backup: notify(&r.notify.backup),
        notify_fault: notify(&r.notify.fault),
        notify_stop: notify(&r.notify.stop),
        notify: notify(&r.notify.generic),
        notify_deleted: r.notify_deleted.is_some(),
        notify_priority_changes: value(&r.notify_priority_changes)
            .unwrap_or(defs.notify_priority_changes),
        notify_deleted_script: r.notify_deleted.as_ref().and_then(|n| n.value.clone()),
        notify_master_rx_lower_pri: notify(&r.notify.master_rx_lower_pri),
        garp_master_delay: value(&r.garp_master_delay).map_or(defs.garp_master_delay, secs),
        garp_master_repeat: value(&r.garp_master_repeat).unwrap_or(defs.garp_master_repeat),
        garp,
        sync_group: None,
        location: r.loc.clone(),
    }
}

fn state_name(state: InitialState) -> &'static str {
    match state {
        InitialState::Master => "MASTER",
        InitialState::Backup => "BACKUP",
    }
}

/// The instance's family: that of its first `virtual_ipaddress`, else of its source
/// address, its first unicast peer or `mcast_dst_ip`, else IPv4 (keepalived takes the first
/// of them in the file; the addresses are what an operator reads the family from). Every
/// other address of the instance must be of that family.
fn family(r: &RawInstance, diags: &mut Diags) -> Family {
    let src = r.src_ip.as_ref().map(|s| Spanned {
        value: s.value.0,
        loc: s.loc.clone(),
    });
    let (family, from) = if let Some(v) = r.vips.first() {
        (
            Family::of(&v.value.addr),
            format!("virtual_ipaddress {} at {{}}", v.value.addr),
        )
    } else if let Some(s) = &src {
        let kw = r.src_ip.as_ref().map_or("", |s| s.value.1);
        (Family::of(&s.value), format!("{kw} {} at {{}}", s.value))
    } else if let Some(p) = r.peers.first() {
        (
            Family::of(&p.value.addr),
            format!("unicast_peer {} at {{}}", p.value.addr),
        )
    } else if let Some(d) = &r.mcast_dst_ip {
        (
            Family::of(&d.value),
            format!("mcast_dst_ip {} at {{}}", d.value),
        )
    } else {
        return Family::Ipv4;
    };
    let from_loc = r
        .vips
        .first()
        .map(|v| &v.loc)
        .or(src.as_ref().map(|s| &s.loc))
        .or(r.peers.first().map(|p| &p.loc))
        .or(r.mcast_dst_ip.as_ref().map(|d| &d.loc))
        .cloned()
        .unwrap_or_default();
    let mut check = |what: String, addr: &IpAddr, loc: &Location| {
        if Family::of(addr) != family {
            let from = from.replace("{}", &short_location(&from_loc, loc));
            diags.error(
                loc,
                format!(
                    "{what} is {} but vrrp_instance {} is {} (from its {from}); an instance \
                     carries one family, so use an {} address here",
                    Family::of(addr).name(),
                    r.name,
                    family.name(),
                    family.name()
                ),
            );
        }
    };
    // Mixed VIPs have a message of their own (see `addresses`).
    if let Some(s) = &r.src_ip {
        check(format!("{} {}", s.value.1, s.value.0), &s.value.0, &s.loc);
    }
    for p in &r.peers {
        check(
            format!("unicast_peer {}", p.value.addr),
            &p.value.addr,
            &p.loc,
        );
    }
    if let Some(d) = &r.mcast_dst_ip {
        check(format!("mcast_dst_ip {}", d.value), &d.value, &d.loc);
    }
    family
}

/// How many addresses of `family` one advert carries at the default MTU.
fn advert_capacity(family: Family, version: u8, auth: bool) -> usize {
    const ETHER: usize = 14;
    const VRRP: usize = 8;
    let (ip, size) = match family {
        Family::Ipv4 => (20, 4),
        Family::Ipv6 => (40, 16),
    };
    let auth_data = if family == Family::Ipv4 && version == 2 {
        8
    } else {
        0
    };
    let _ = auth; // PASS travels in the 8 bytes counted above; AH is refused.
    ((DEFAULT_MTU - ETHER - ip - VRRP - auth_data) / size).min(MAX_ADVERT_ADDRESSES)
}

/// The VIPs (all of one family) and eVIPs (any family), without duplicates.
fn addresses(r: &RawInstance, diags: &mut Diags) -> (Vec<VirtualAddress>, Vec<VirtualAddress>) {
    if let Some(first) = r.vips.first()
        && let Some(other) = r
            .vips
            .iter()
            .find(|v| v.value.addr.is_ipv6() != first.value.addr.is_ipv6())
    {
        let (v4, v6) = if first.value.addr.is_ipv4() {
            (first, other)
        } else {
            (other, first)
        };
        let minority = if first.value.addr.is_ipv4() {
            "IPv6"
        } else {
            "IPv4"
        };
        diags.error(
            &other.loc,
            format!(
                "virtual_ipaddress of vrrp_instance {} mixes IPv4 ({} at {}) and IPv6 ({} at {}); \
                 an instance carries one family, so move the {minority} addresses to a \
                 vrrp_instance of their own (or to virtual_ipaddress_excluded)",
                r.name,
                v4.value.addr,
                short_location(&v4.loc, &other.loc),
                v6.value.addr,
                short_location(&v6.loc, &other.loc),
            ),
        );
    }
    let mut seen: HashMap<IpAddr, &'static str> = HashMap::new();
    let mut dedup = |list: &[Spanned<VirtualAddress>], kw: &'static str, diags: &mut Diags| {
        let mut out = Vec::new();
        for vip in list {
            match seen.get(&vip.value.addr) {
                None => {
                    seen.insert(vip.value.addr, kw);
                    out.push(vip.value.clone());
                }
                Some(first) if *first == kw => diags.warn(
                    &vip.loc,
                    format!(
                        "{} is listed twice in {kw} of vrrp_instance {}; the second is \
                         ignored: remove it",
                        vip.value.addr, r.name
                    ),
                ),
                Some(first) => diags.warn(
                    &vip.loc,
                    format!(
                        "{} is in both {first} and {kw} of vrrp_instance {}; the one in {kw} \
                         is ignored: remove it",
                        vip.value.addr, r.name
                    ),
                ),
            }
        }
        out
    };
    let vips = dedup(&r.vips, "virtual_ipaddress", diags);
    let evips = dedup(&r.evips, "virtual_ipaddress_excluded", diags);
    (vips, evips)
}

/// keepalived's rounding of the advert interval: whole seconds for v2, centiseconds for v3.
fn advert_int(
    a: &Spanned<Seconds>,
    version: u8,
    from: VersionFrom,
    diags: &mut Diags,
) -> Centiseconds {
    let (micros, text) = (a.value.micros, &a.value.text);
    if version == 2 {
        if micros == 0 {
            diags.error(
                &a.loc,
                format!("advert_int {text} is out of range; use whole seconds from 1 to 255"),
            );
            return DEFAULT_ADVERT_INT;
        }
        if micros < 1_000_000 {
            let fix = match from {
                VersionFrom::Instance => "change `version 2` to `version 3` in this vrrp_instance",
                VersionFrom::Global => {
                    "change `vrrp_version 2` to `vrrp_version 3` in global_defs, or add \
                     `version 3` to this vrrp_instance"
                }
                VersionFrom::Default | VersionFrom::Ipv6 => {
                    "add `version 3` to this vrrp_instance or `vrrp_version 3` to global_defs"
                }
            };
            diags.error(
                &a.loc,
                format!(
                    "advert_int {text} is sub-second, which needs VRRPv3 (VRRPv2 counts whole \
                     seconds); {fix}"
                ),
            );
            return DEFAULT_ADVERT_INT;
        }
        let secs = (micros + 500_000) / 1_000_000;
        if secs > V2_MAX_ADVERT_SECS {
            diags.error(
                &a.loc,
                format!(
                    "advert_int {text} is out of range for VRRPv2; use whole seconds from 1 to \
                     {V2_MAX_ADVERT_SECS}"
                ),
            );
            return DEFAULT_ADVERT_INT;
        }
        if micros % 1_000_000 != 0 {
            diags.warn(
                &a.loc,
                format!(
                    "advert_int {text} is rounded to {secs} s, as VRRPv2 counts whole seconds; \
                     write `advert_int {secs}` (or use version 3 for fractions)"
                ),
            );
        }
        Centiseconds::from_secs(secs as u32)
    } else {
        let cs = (micros + 5_000) / 10_000;
        if micros < 10_000 || cs > V3_MAX_ADVERT_CS {
            diags.error(
                &a.loc,
                format!(
                    "advert_int {text} is out of range for VRRPv3; use seconds from 0.01 to \
                     40.95"
                ),
            );
            return DEFAULT_ADVERT_INT;
        }
        if micros % 10_000 != 0 {
            let rounded = centiseconds_text(cs);
            diags.warn(
                &a.loc,
                format!(
                    "advert_int {text} is rounded to {rounded} s, as VRRPv3 counts \
                     centiseconds; write `advert_int {rounded}`"
                ),
            );
        }
        Centiseconds(cs as u32)
    }
}

/// `1`, `0.5`, `0.05`, `40.95`: centiseconds as an operator writes seconds.
fn centiseconds_text(cs: u64) -> String {
    let (secs, frac) = (cs / 100, cs % 100);
    match frac {
        0 => secs.to_string(),
        f if f % 10 == 0 => format!("{secs}.{}", f / 10),
        f => format!("{secs}.{f:02}"),
    }
}

fn authentication(
    r: &RawInstance,
    version: u8,
    strict: bool,
    diags: &mut Diags,
) -> Option<Authentication> {
    let auth = r.auth.as_ref()?;
    if r.health.bad.contains("authentication") {
        return None;
    }
    if strict {
        diags.warn(
            &auth.loc,
            "authentication is ignored in strict mode (RFC 3768 removed it); remove the \
             authentication block",
        );
        return None;
    }
    if version == 3 {
        diags.warn(
            &auth.loc,
            "authentication is ignored with VRRPv3 (RFC 5798 removed it); remove the \
             authentication block",
        );
        return None;
    }
    match (&auth.auth_type, &auth.auth_pass) {
        (None, None) => {
            diags.warn(
                &auth.loc,
                "this authentication block is empty and is ignored; remove it, or add \
                 `auth_type PASS` and `auth_pass`",
            );
            None
        }
        (None, Some(pass)) => {
            diags.warn(
                &pass.loc,
                "auth_pass without auth_type is ignored (no authentication is used); add \
                 `auth_type PASS` or remove auth_pass",
            );
            None
        }
        (Some(t), None) => {
            diags.error(
                &t.loc,
                "authentication has an auth_type but no auth_pass; add `auth_pass` with 1 to 8 \
                 characters, the same on every node",
            );
            None
        }
        (Some(t), Some(pass)) => Some(match t.value {
            AuthType::Pass => Authentication::Pass(pass.value),
        }),
    }
}

/// `nopreempt` and `preempt_delay`, cleared where keepalived clears them.
fn preemption(
    r: &RawInstance,
    state: InitialState,
    priority: u8,
    strict: bool,
    diags: &mut Diags,
) -> (bool, Duration) {
    // keepalived clears both for the owner and for `state MASTER`; the message names the
    // one the operator wrote (`state MASTER` alone implies priority 255).
    let mut nopreempt = r.nopreempt.as_ref().filter(|n| n.value);
    let mut delay = r.preempt_delay.as_ref().filter(|d| !d.value.is_zero());
    if state == InitialState::Master {
        if let Some(n) = nopreempt {
            diags.warn(
                &n.loc,
                "nopreempt does not work with state MASTER and is cleared (as keepalived does); \
                 write `state BACKUP` on every node that uses nopreempt",
            );
            nopreempt = None;
        }
        if let Some(d) = delay {
            diags.warn(
                &d.loc,
                "preempt_delay does not work with state MASTER and is cleared (as keepalived \
                 does); write `state BACKUP` to use preempt_delay",
            );
            delay = None;
        }
    } else if let Some(n) = nopreempt
        && priority == OWNER_PRIORITY
    {
        diags.warn(
            &n.loc,
            "nopreempt does not work with priority 255 (the address owner always takes over) \
             and is cleared; lower the priority or remove nopreempt",
        );
        nopreempt = None;
    }
    if let Some(d) = delay
        && strict
    {
        diags.warn(
            &d.loc,
            "preempt_delay is not allowed in strict mode and is cleared (as keepalived does); \
             remove it",
        );
        delay = None;
    }
    if let (Some(d), Some(_)) = (delay, nopreempt) {
        diags.warn(
            &d.loc,
            "preempt_delay has no effect with nopreempt and is cleared (as keepalived does); \
             remove one of them",
        );
        delay = None;
    }
    (
        nopreempt.is_some(),
        delay.map_or(Duration::ZERO, |d| d.value),
    )
}

fn unicast(
    r: &RawInstance,
    defs: &GlobalDefs,
    family: Family,
    strict: bool,
    diags: &mut Diags,
) -> UnicastConfig {
    let peers: Vec<_> = r.peers.iter().map(|p| p.value.clone()).collect();
    if peers.is_empty() {
        if let Some(kw) = &r.unicast_keyword
            && r.health.reportable("unicast_peer")
        {
            let message = if r.unicast_fault_no_peer {
                format!(
                    "vrrp_instance {} asks for unicast (`{}`) but has no unicast_peer, and \
                     unicast_fault_no_peer keeps it in FAULT; add `unicast_peer {{ ADDRESS }}`",
                    r.name, kw.value
                )
            } else {
                format!(
                    "vrrp_instance {} asks for unicast (`{}`) but has no unicast_peer, so its \
                     adverts go by multicast (deprecated in keepalived); add `unicast_peer {{ \
                     ADDRESS }}` or remove `{}`",
                    r.name, kw.value, kw.value
                )
            };
            diags.warn(&kw.loc, message);
        }
        if let Some(t) = &r.unicast_ttl {
            diags.warn(
                &t.loc,
                "unicast_ttl without unicast peers is ignored (as keepalived does); add a \
                 unicast_peer block or remove it",
            );
        }
    } else if strict {
        let at = r.peer_block.as_ref().unwrap_or(&r.loc);
        diags.error(
            at,
            format!(
                "unicast peers are not allowed in strict mode (vrrp_instance {}); remove \
                 `strict_mode`/`vrrp_strict` or the unicast_peer block",
                r.name
            ),
        );
    }
    let ttl = if peers.is_empty() {
        None
    } else {
        value(&r.unicast_ttl).or((family == Family::Ipv4).then_some(DEFAULT_UNICAST_TTL4))
    };
    let bounded = peers.iter().any(|p| p.min_ttl != 0 || p.max_ttl != 255);
    UnicastConfig {
        check_src: r.check_unicast_src || defs.check_unicast_src || bounded,
        fault_no_peer: r.unicast_fault_no_peer,
        ttl,
        peers,
    }
}

/// `use_vmac` with `vmac_xmit_base`, cleaned up as keepalived does.
fn vmac(r: &RawInstance, strict: bool, unicast: bool, diags: &mut Diags) -> Option<VmacConfig> {
    let Some(v) = &r.vmac else {
        if let Some(loc) = &r.vmac_xmit_base {
            diags.warn(
                loc,
                "vmac_xmit_base only applies with use_vmac and is ignored; add `use_vmac` or \
                 remove it",
            );
        }
        return None;
    };
    let mut xmit_base = r.vmac_xmit_base.is_some();
    if strict && let Some(loc) = &r.vmac_xmit_base {
        diags.warn(
            loc,
            "vmac_xmit_base is not allowed in strict mode and is cleared (as keepalived does); \
             remove it",
        );
        xmit_base = false;
    }
    if unicast && !xmit_base {
        diags.warn(
            &v.loc,
            "unicast with use_vmac needs vmac_xmit_base, which is set (as keepalived does); \
             add `vmac_xmit_base`",
        );
        xmit_base = true;
    }
    let mut mac = v.value.mac.clone();
    if strict && mac.is_some() {
        diags.warn(
            &v.loc,
            "a use_vmac MAC address is not allowed in strict mode and is cleared (as \
             keepalived does); remove it",
        );
        mac = None;
    }
    Some(VmacConfig {
        ifname: v.value.ifname.clone(),
        mac,
        xmit_base,
    })
}

fn track_interfaces(
    tracking: &RawTracking,
    own: &str,
    owner: &str,
    diags: &mut Diags,
) -> Vec<TrackInterface> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for t in &tracking.interfaces {
        let name = t.value.name.as_str();
        if name == own {
            diags.warn(
                &t.loc,
                format!(
                    "track_interface {name} is the instance's own interface, which is always \
                     tracked; it is ignored (as keepalived does): remove it"
                ),
            );
            continue;
        }
        if !seen.insert(name) {
            diags.warn(
                &t.loc,
                format!(
                    "track_interface {name} is listed twice in {owner}; the second is ignored \
                     (as keepalived does): remove it"
                ),
            );
            continue;
        }
        out.push(TrackInterface {
            interface: name.to_owned(),
            weight: t.value.weight.unwrap_or(0),
            reverse: t.value.reverse.unwrap_or(false),
        });
    }
    out
}

/// The `track_script`, `track_file` and `track_process` entries: each must name a block of
/// its kind.
fn tracks(
    tracking: &RawTracking,
    owner: &str,
    tracked: &Tracked<'_>,
    diags: &mut Diags,
) -> (Vec<TrackScript>, Vec<TrackRef>, Vec<TrackRef>) {
    let scripts = refs(
        &tracking.scripts,
        &RefKind {
            keyword: "track_script",
            block: "vrrp_script",
            define: "script \"...\"",
        },
        owner,
        &tracked.script_names,
        |name| {
            tracked
                .scripts
                .iter()
                .find(|s| s.name == name)
                .is_some_and(|s| s.weight_reverse)
        },
        diags,
    )
    .into_iter()
    .map(|t| TrackScript {
        name: t.name,
        weight: t.weight,
        reverse: t.reverse,
    })
    .collect();
    let files = refs(
        &tracking.files,
        &RefKind {
            keyword: "track_file",
            block: "track_file",
            define: "file \"...\"",
        },
        owner,
        &tracked.file_names,
        |name| {
            tracked
                .files
                .iter()
                .find(|f| f.name == name)
                .is_some_and(|f| f.weight_reverse)
        },
        diags,
    );
    let processes = refs(
        &tracking.processes,
        &RefKind {
            keyword: "track_process",
            block: "vrrp_track_process",
            define: "process NAME",
        },
        owner,
        &tracked.process_names,
        |name| {
            tracked
                .processes
                .iter()
                .find(|p| p.name == name)
                .is_some_and(|p| p.weight_reverse)
        },
        diags,
    );
    (scripts, files, processes)
}

/// What a `track_*` entry refers to, for messages.
struct RefKind {
    keyword: &'static str,
    block: &'static str,
    define: &'static str,
}

fn refs(
    list: &[Spanned<RawTrack>],
    kind: &RefKind,
    owner: &str,
    names: &[&str],
    reverse_of: impl Fn(&str) -> bool,
    diags: &mut Diags,
) -> Vec<TrackRef> {
    let RefKind {
        keyword,
        block,
        define,
    } = kind;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for t in list {
        let name = t.value.name.as_str();
        if !names.contains(&name) {
            let near = did_you_mean(name, names.iter().copied())
                .map(|n| format!("did you mean `{n}`? If not, "))
                .unwrap_or_default();
            diags.error(
                &t.loc,
                format!(
                    "{keyword} {name} names no {block}; {near}define \
                     `{block} {name} {{ {define} }}`"
                ),
            );
            continue;
        }
        if !seen.insert(name) {
            diags.warn(
                &t.loc,
                format!(
                    "{keyword} {name} is listed twice in {owner}; the second is ignored (as \
                     keepalived does): remove it"
                ),
            );
            continue;
        }
        out.push(TrackRef {
            name: name.to_owned(),
            weight: t.value.weight,
            reverse: t.value.reverse.unwrap_or_else(|| reverse_of(name)),
        });
    }
    out
}

/// Instance names are unique, and so is (interface, VRID, family): two instances there
/// would answer each other's adverts.
fn unique_instances(raw: &[RawInstance], built: &[VrrpInstance], diags: &mut Diags) {
    let mut names: HashMap<&str, &Location> = HashMap::new();
    let mut ids: HashMap<(&str, u8, Family), &RawInstance> = HashMap::new();
    for (r, inst) in raw.iter().zip(built) {
        if let Some(first) = names.get(r.name.as_str()) {
            diags.error(
                &r.loc,
                format!(
                    "vrrp_instance {} is defined twice (first at {}); rename one of them",
                    r.name,
                    short_location(first, &r.loc)
                ),
            );
        } else {
            names.insert(&r.name, &r.loc);
        }
        let (Some(interface), Some(vrid)) = (&r.interface, &r.vrid) else {
            continue;
        };
        let key = (interface.value.as_str(), vrid.value, inst.family);
        if let Some(first) = ids.get(&key) {
            diags.error(
                &vrid.loc,
                format!(
                    "vrrp_instance {} uses virtual_router_id {} on {} for {}, like \
                     vrrp_instance {} (at {}); give one of them another virtual_router_id",
                    r.name,
                    vrid.value,
                    interface.value,
                    inst.family.name(),
                    first.name,
                    short_location(&first.loc, &vrid.loc)
                ),
            );
        } else {
            ids.insert(key, r);
        }
    }
}

/// The sync groups; each member must be an instance, and in one group only.
fn sync_groups(
    raw: &[RawSyncGroup],
    instances: &mut [VrrpInstance],
    tracked: &Tracked<'_>,
    diags: &mut Diags,
) -> Vec<SyncGroup> {
    let mut first = HashMap::new();
    // Instance name → (group, where it was listed).
    let mut member_of: HashMap<String, (String, Location)> = HashMap::new();
    let instance_names: Vec<String> = instances.iter().map(|i| i.name.clone()).collect();
    let mut out = Vec::new();
    for r in raw {
        let fix = "rename or remove one";
        if !first_of_name(&mut first, "vrrp_sync_group", &r.name, &r.loc, fix, diags) {
            continue;
        }
        let mut members: Vec<String> = Vec::new();
        match &r.group {
            // A group of nothing changes nothing: keepalived removes it with a warning,
            // and so it is ignored here, with one.
            None => {
                if r.health.reportable("group") {
                    diags.warn(
                        &r.loc,
                        format!(
                            "vrrp_sync_group {} has no `group {{ }}`, so it does nothing and is \
                             ignored (as keepalived does); add the instances that fail over \
                             together, e.g. `group {{ VI_1 VI_2 }}`, or remove the block",
                            r.name
                        ),
                    );
                }
                continue;
            }
            Some(group) if group.value.is_empty() => {
                if !r.health.tainted {
                    diags.warn(
                        &group.loc,
                        format!(
                            "the group of vrrp_sync_group {} is empty, so the sync group does \
                             nothing and is ignored (as keepalived does); list its instances, \
                             e.g. `group {{ VI_1 VI_2 }}`, or remove the block",
                            r.name
                        ),
                    );
                }
                continue;
            }
            Some(group) => {
                for m in &group.value {
                    let name = m.value.as_str();
                    if !instance_names.iter().any(|n| n == name) {
                        let near = did_you_mean(name, instance_names.iter().map(String::as_str))
                            .map(|n| format!("did you mean `{n}`? If not, "))
                            .unwrap_or_default();
                        diags.error(
                            &m.loc,
                            format!(
                                "vrrp_sync_group {} lists {name}, which is no vrrp_instance; \
                                 {near}remove it from the group",
                                r.name
                            ),
                        );
                        continue;
                    }
                    if members.iter().any(|n| n == name) {
                        diags.warn(
                            &m.loc,
                            format!(
                                "{name} is listed twice in vrrp_sync_group {}; the second is \
                                 ignored: remove it",
                                r.name
                            ),
                        );
                        continue;
                    }
                    if let Some((other, at)) = member_of.get(name) {
                        diags.error(
                            &m.loc,
                            format!(
                                "vrrp_instance {name} is already in vrrp_sync_group {other} \
                                 (at {}); an instance can be in one sync group only, so \
                                 remove it from one of them",
                                short_location(at, &m.loc)
                            ),
                        );
                        continue;
                    }
                    member_of.insert(name.to_owned(), (r.name.clone(), m.loc.clone()));
                    members.push(name.to_owned());
                }
                if members.len() == 1 && group.value.len() == 1 {
                    diags.warn(
                        &group.loc,
                        format!(
                            "vrrp_sync_group {} has only one instance, which is probably not \
                             what you want (as keepalived warns); add the instances that must \
                             change state with {}",
                            r.name, members[0]
                        ),
                    );
                }
            }
        }
        for inst in instances.iter_mut() {
            if members.contains(&inst.name) {
                inst.sync_group = Some(r.name.clone());
            }
        }
        let owner = format!("vrrp_sync_group {}", r.name);
        let (track_scripts, track_files, track_processes) =
            tracks(&r.tracking, &owner, tracked, diags);
        let notify = |n: &RawNotify| {
            let get = |slot: &Option<Spanned<String>>| slot.as_ref().map(|s| s.value.clone());
            (
                get(&n.master),
                get(&n.backup),
                get(&n.fault),
                get(&n.stop),
                get(&n.generic),
            )
        };
        let (notify_master, notify_backup, notify_fault, notify_stop, notify_generic) =
            notify(&r.notify);
        out.push(SyncGroup {
            name: r.name.clone(),
            instances: members,
            track_interfaces: track_interfaces(&r.tracking, "", &owner, diags),
            track_scripts,
            track_files,
            track_processes,
            notify_master,
            notify_backup,
            notify_fault,
            notify_stop,
            notify: notify_generic,
            tracking_weight: r.tracking_weight,
            location: r.loc.clone(),
        });
    }
    out
}

fn value<T: Clone>(slot: &Option<Spanned<T>>) -> Option<T> {
    slot.as_ref().map(|s| s.value.clone())
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(s.into())
}
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{
        super::{
            Authentication, InitialState, VrrpInstance,
            testing::{errors, failed, instance, ok, warnings},
        },
        centiseconds_text,
    };
    use crate::units::Centiseconds;

    fn only_instance(text: &str) -> VrrpInstance {
        let mut loaded = ok(text);
        assert_eq!(loaded.config.instances.len(), 1);
        loaded.config.instances.remove(0)
    }

    #[test]
    fn instance_defaults() {
        let i = only_instance(&instance(""));
        assert_eq!(i.initial_state, InitialState::Backup);
        assert_eq!(i.priority, 100);
        assert_eq!(i.advert_int, Centiseconds(100));
        assert_eq!(i.version, 2);
        assert_eq!(i.authentication, None);
        assert!(!i.nopreempt);
        assert_eq!(i.preempt_delay, Duration::ZERO);
        assert_eq!(i.garp_master_delay, Duration::from_secs(5));
        assert_eq!(i.garp_master_repeat, 5);
        assert_eq!(i.virtual_addresses[0].prefix_len, 32);
    }

    #[test]
    fn priority_and_state_derive_from_each_other() {
        let i = only_instance(&instance("    state MASTER"));
        assert_eq!((i.initial_state, i.priority), (InitialState::Master, 255));
        let i = only_instance(&instance("    priority 255"));
        assert_eq!((i.initial_state, i.priority), (InitialState::Master, 255));
        let i = only_instance(&instance("    state BACKUP\n    priority 255"));
        assert_eq!((i.initial_state, i.priority), (InitialState::Backup, 255));
        let i = only_instance(&instance("    state MASTER\n    priority 101"));
        assert_eq!((i.initial_state, i.priority), (InitialState::Master, 101));
    }

    #[test]
    fn script_defaults_and_timeout_follows_interval() {
        let loaded =
            ok("vrrp_script a {\n  script x\n}\nvrrp_script b {\n  script y\n  interval 7\n}\n");
        let [a, b] = loaded.config.scripts.as_slice() else {
            panic!("two scripts expected")
        };
        assert_eq!(
            (a.interval, a.timeout),
            (Duration::from_secs(1), Duration::from_secs(1))
        );
        assert_eq!((a.weight, a.rise, a.fall), (0, 1, 1));
        assert!(!a.init_fail && !a.weight_reverse && a.user.is_none());
        assert_eq!(
            (b.interval, b.timeout),
            (Duration::from_secs(7), Duration::from_secs(7))
        );
    }

    #[test]
    fn v2_advert_int_rounds_to_whole_seconds() {
        let loaded = ok(&instance("    advert_int 1.5"));
        assert_eq!(loaded.config.instances[0].advert_int, Centiseconds(200));
        assert_eq!(
            loaded
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "keepalived.conf:5:5: advert_int 1.5 is rounded to 2 s, as VRRPv2 counts whole \
                 seconds; write `advert_int 2` (or use version 3 for fractions)"
            ]
        );
        assert_eq!(
            only_instance(&instance("    advert_int 2.4")).advert_int,
            Centiseconds(200)
        );
        assert_eq!(
            only_instance(&instance("    advert_int 255")).advert_int,
            Centiseconds(25_500)
        );
    }

    #[test]
    fn v2_advert_int_range() {
        assert_eq!(
            errors(&instance("    advert_int 256")),
            vec![
                "keepalived.conf:5:5: advert_int 256 is out of range for VRRPv2; use whole \
                 seconds from 1 to 255"
            ]
        );
        assert_eq!(
            errors(&instance("    advert_int 0")),
            vec![
                "keepalived.conf:5:5: advert_int 0 is out of range; use whole seconds from 1 to \
                 255"
            ]
        );
    }

    #[test]
    fn sub_second_advert_int_needs_version_3() {
        assert_eq!(
            errors(&instance("    advert_int 0.5")),
            vec![
                "keepalived.conf:5:5: advert_int 0.5 is sub-second, which needs VRRPv3 (VRRPv2 \
                 counts whole seconds); add `version 3` to this vrrp_instance or `vrrp_version \
                 3` to global_defs"
            ]
        );
        assert_eq!(
            errors(&format!(
                "{}global_defs {{\n    vrrp_version 2\n}}\n",
                instance("    advert_int 0.5")
            )),
            vec![
                "keepalived.conf:5:5: advert_int 0.5 is sub-second, which needs VRRPv3 (VRRPv2 \
                 counts whole seconds); change `vrrp_version 2` to `vrrp_version 3` in \
                 global_defs, or add `version 3` to this vrrp_instance"
            ]
        );
        assert_eq!(
            errors(&instance("    advert_int 0.5\n    version 2")),
            vec![
                "keepalived.conf:5:5: advert_int 0.5 is sub-second, which needs VRRPv3 (VRRPv2 \
                 counts whole seconds); change `version 2` to `version 3` in this vrrp_instance"
            ]
        );
        let i = only_instance(&instance("    advert_int 0.5\n    version 3"));
        assert_eq!((i.version, i.advert_int), (3, Centiseconds(50)));
    }

    #[test]
    fn global_defs_after_the_instances_still_sets_the_version() {
        let text = format!(
            "{}global_defs {{\n    vrrp_version 3\n}}\n",
            instance("    advert_int 0.05")
        );
        let i = only_instance(&text);
        assert_eq!((i.version, i.advert_int), (3, Centiseconds(5)));
        // ... and the instance's own `version` still wins over it.
        let text = format!(
            "{}global_defs {{\n    vrrp_version 3\n}}\n",
            instance("    version 2")
        );
        assert_eq!(only_instance(&text).version, 2);
    }

    #[test]
    fn v3_advert_int_rounds_to_centiseconds_and_is_bounded() {
        let loaded = ok(&instance("    version 3\n    advert_int 0.125"));
        assert_eq!(loaded.config.instances[0].advert_int, Centiseconds(13));
        assert_eq!(
            loaded
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "keepalived.conf:6:5: advert_int 0.125 is rounded to 0.13 s, as VRRPv3 counts \
                 centiseconds; write `advert_int 0.13`"
            ]
        );
        assert_eq!(
            only_instance(&instance("    version 3\n    advert_int 40.95")).advert_int,
            Centiseconds(4095)
        );
        for bad in ["41", "0.001", "0"] {
            assert_eq!(
                errors(&instance(&format!("    version 3\n    advert_int {bad}"))),
                vec![format!(
                    "keepalived.conf:6:5: advert_int {bad} is out of range for VRRPv3; use \
                     seconds from 0.01 to 40.95"
                )]
            );
        }
    }

    #[test]
    fn invalid_version_does_not_cascade_into_advert_int() {
        assert_eq!(
            errors(&instance("    version 4\n    advert_int 0.5")),
            vec!["keepalived.conf:5:5: version 4 is invalid; use 2 or 3"]
        );
    }

    #[test]
    fn ipv6_addresses_mean_version_3() {
        let text = "global_defs {
    vrrp_version 2
}
vrrp_instance V6 {
    interface eth0
    virtual_router_id 51
    advert_int 0.1
    virtual_ipaddress {
        fe80::51
        2001:db8::1/64
    }
}
";
        let i = only_instance(text);
        assert_eq!((i.version, i.advert_int), (3, Centiseconds(10)));
        assert_eq!(
            errors(&text.replace("    advert_int 0.1", "    version 2")),
            vec![
                "keepalived.conf:7:5: version 2 cannot carry IPv6 addresses (VRRPv2 is IPv4 \
                 only); write `version 3` or remove the line"
            ]
        );
    }

    #[test]
    fn authentication_cases() {
        let auth = |body: &str| instance(&format!("    authentication {{\n{body}\n    }}"));
        assert_eq!(
            only_instance(&auth("        auth_type PASS\n        auth_pass abc")).authentication,
            Some(Authentication::Pass(*b"abc\0\0\0\0\0"))
        );
        let loaded = ok(&format!(
            "{}\n",
            auth("        auth_type PASS\n        auth_pass abc")
                .replace("{\n    interface", "{\n    version 3\n    interface")
        ));
        assert_eq!(loaded.config.instances[0].authentication, None);
        assert_eq!(
            loaded
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "keepalived.conf:6:5: authentication is ignored with VRRPv3 (RFC 5798 removed \
                 it); remove the authentication block"
            ]
        );
        assert_eq!(
            warnings(&auth("        auth_pass abc")),
            vec![
                "keepalived.conf:6:9: auth_pass without auth_type is ignored (no authentication \
                 is used); add `auth_type PASS` or remove auth_pass"
            ]
        );
        assert_eq!(
            errors(&auth("        auth_type PASS")),
            vec![
                "keepalived.conf:6:9: authentication has an auth_type but no auth_pass; add \
                 `auth_pass` with 1 to 8 characters, the same on every node"
            ]
        );
    }

    #[test]
    fn preemption_is_cleared_where_keepalived_clears_it() {
        let loaded = ok(&instance(
            "    state MASTER\n    nopreempt\n    preempt_delay 5",
        ));
        let i = &loaded.config.instances[0];
        assert!(!i.nopreempt);
        assert_eq!(i.preempt_delay, Duration::ZERO);
        assert_eq!(
            loaded
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "keepalived.conf:6:5: nopreempt does not work with state MASTER and is cleared \
                 (as keepalived does); write `state BACKUP` on every node that uses nopreempt",
                "keepalived.conf:7:5: preempt_delay does not work with state MASTER and is \
                 cleared (as keepalived does); write `state BACKUP` to use preempt_delay",
            ]
        );
        assert_eq!(
            warnings(&instance(
                "    state BACKUP\n    priority 255\n    nopreempt"
            )),
            vec![
                "keepalived.conf:7:5: nopreempt does not work with priority 255 (the address \
                 owner always takes over) and is cleared; lower the priority or remove nopreempt"
            ]
        );
        let loaded = ok(&instance("    nopreempt\n    preempt_delay 5"));
        assert!(loaded.config.instances[0].nopreempt);
        assert_eq!(loaded.config.instances[0].preempt_delay, Duration::ZERO);
        assert_eq!(
            loaded
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "keepalived.conf:6:5: preempt_delay has no effect with nopreempt and is cleared \
                 (as keepalived does); remove one of them"
            ]
        );
    }

    #[test]
    fn missing_interface_and_vrid() {
        assert_eq!(
            errors("vrrp_instance VI_1 {\n    virtual_ipaddress { 10.0.0.1 }\n}\n"),
            vec![
                "keepalived.conf:1:1: vrrp_instance VI_1 has no `interface`; add e.g. \
                 `interface eth0`, the interface its adverts use",
                "keepalived.conf:1:1: vrrp_instance VI_1 has no `virtual_router_id`; add e.g. \
                 `virtual_router_id 51` (1 to 255, the same on every node of this virtual router)",
            ]
        );
    }

    #[test]
    fn no_virtual_ipaddress_is_a_warning() {
        assert_eq!(
            warnings("vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 5\n}\n"),
            vec![
                "keepalived.conf:1:1: vrrp_instance VI_1 has no virtual_ipaddress; add e.g. \
                 `virtual_ipaddress { 192.168.1.100/24 }` (without addresses it only takes part \
                 in elections)"
            ]
        );
    }

    #[test]
    fn vrid_is_unique_per_interface_and_family() {
        let text = format!("{}{}", instance(""), instance("").replace("VI_1", "VI_2"));
        assert_eq!(
            errors(&text),
            vec![
                "keepalived.conf:9:5: vrrp_instance VI_2 uses virtual_router_id 51 on eth0 for \
                 IPv4, like vrrp_instance VI_1 (at line 1); give one of them another \
                 virtual_router_id"
            ]
        );
        // Another interface, or another family, is another virtual router.
        ok(&format!(
            "{}{}",
            instance(""),
            instance("").replace("VI_1", "VI_2").replace("eth0", "eth1")
        ));
        ok(&format!(
            "{}{}",
            instance(""),
            instance("")
                .replace("VI_1", "VI_2")
                .replace("10.0.0.1", "fe80::1")
        ));
    }

    #[test]
    fn mixed_families_in_one_instance() {
        let text = instance("    virtual_ipaddress {\n        fe80::1\n    }");
        assert_eq!(
            errors(&text),
            vec![
                "keepalived.conf:6:9: virtual_ipaddress of vrrp_instance VI_1 mixes IPv4 \
                 (10.0.0.1 at line 4) and IPv6 (fe80::1 at line 6); an instance carries one \
                 family, so move the IPv6 addresses to a vrrp_instance of their own (or to \
                 virtual_ipaddress_excluded)"
            ]
        );
    }

    #[test]
    fn duplicate_virtual_address() {
        let loaded = ok(&instance(
            "    virtual_ipaddress {\n        10.0.0.1/24\n    }",
        ));
        assert_eq!(loaded.config.instances[0].virtual_addresses.len(), 1);
        assert_eq!(
            loaded
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "keepalived.conf:6:9: 10.0.0.1 is listed twice in virtual_ipaddress of \
                 vrrp_instance VI_1; the second is ignored: remove it"
            ]
        );
    }

    #[test]
    fn track_script_must_name_a_vrrp_script() {
        let text = format!(
            "{}vrrp_script chk_nginx {{\n    script /bin/true\n}}\n",
            instance("    track_script {\n        chk_ngnix\n        chk_other\n    }")
        );
        assert_eq!(
            errors(&text),
            vec![
                "keepalived.conf:6:9: track_script chk_ngnix names no vrrp_script; did you mean \
                 `chk_nginx`? If not, define `vrrp_script chk_ngnix { script \"...\" }`",
                "keepalived.conf:7:9: track_script chk_other names no vrrp_script; define \
                 `vrrp_script chk_other { script \"...\" }`",
            ]
        );
        let text = format!(
            "{}vrrp_script chk {{\n    script /bin/true\n}}\n",
            instance("    track_script {\n        chk\n        chk weight 2\n    }")
        );
        let loaded = ok(&text);
        assert_eq!(loaded.config.instances[0].track_scripts.len(), 1);
        assert_eq!(
            loaded
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "keepalived.conf:7:9: track_script chk is listed twice in vrrp_instance VI_1; \
                 the second is ignored (as keepalived does): remove it"
            ]
        );
    }

    #[test]
    fn duplicate_names() {
        let text = format!("{}{}", instance(""), instance("").replace("eth0", "eth1"));
        assert_eq!(
            errors(&text),
            vec![
                "keepalived.conf:7:1: vrrp_instance VI_1 is defined twice (first at line 1); \
                 rename one of them"
            ]
        );
        assert_eq!(
            errors("vrrp_script a {\n  script x\n}\nvrrp_script a {\n  script y\n}\n"),
            vec![
                "keepalived.conf:4:1: vrrp_script a is defined twice (first at line 1); rename \
                 or remove one"
            ]
        );
    }

    #[test]
    fn vrrp_script_needs_a_script() {
        assert_eq!(
            errors("vrrp_script a {\n  interval 2\n}\n"),
            vec![
                "keepalived.conf:1:1: vrrp_script a has no `script`; add e.g. `script \
                 \"/usr/local/bin/check.sh\"`"
            ]
        );
        // A script whose block is missing is reported once, and its name still resolves.
        let err = failed(&format!(
            "vrrp_script chk\n{}",
            instance("    track_script {\n        chk\n    }")
        ));
        assert_eq!(err.errors.len(), 1, "{:?}", err.errors);
        assert!(
            err.errors[0]
                .message
                .starts_with("`vrrp_script` needs a { } block")
        );
    }

    #[test]
    fn centiseconds_are_written_as_seconds() {
        assert_eq!(centiseconds_text(100), "1");
        assert_eq!(centiseconds_text(50), "0.5");
        assert_eq!(centiseconds_text(13), "0.13");
        assert_eq!(centiseconds_text(4095), "40.95");
        assert_eq!(centiseconds_text(5), "0.05");
    }
}
