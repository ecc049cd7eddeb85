//! Raw values → the typed [`Config`]: keepalived 2.2.7's defaults, applied here and only
//! here, and the checks that need the whole file.
//!
//! The order follows keepalived's `vrrp_complete_instance()`: address family from the
//! VIPs, then the version (IPv6 forces 3), then what depends on the version (advert
//! interval rounding, authentication), then priority from the state and the state from the
//! priority, then preemption clean-ups.
use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use super::{
    Diags, Location,
    model::{
        Authentication, Config, GlobalDefs, InitialState, TrackScript, VirtualAddress,
        VrrpInstance, VrrpScript,
    },
    parser::{AuthType, RawConfig, RawGlobal, RawInstance, RawScript, Spanned, short_location},
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
/// `vrrp_script interval` when unset.
const DEFAULT_SCRIPT_INTERVAL_SECS: u32 = 1;
/// `rise` and `fall` when unset.
const DEFAULT_RISE_FALL: u32 = 1;

/// Builds the model, reporting what only the whole file shows. The result is meaningful
/// only when no error was reported.
pub(super) fn resolve(raw: RawConfig, diags: &mut Diags) -> Config {
    let global = GlobalDefs {
        router_id: raw.global.router_id.as_ref().map(|v| v.value.clone()),
        vrrp_version: raw
            .global
            .vrrp_version
            .as_ref()
            .map_or(DEFAULT_VERSION, |v| v.value),
        script_user: raw.global.script_user.as_ref().map(|v| v.value.clone()),
        enable_script_security: raw.global.enable_script_security,
    };
    let scripts = scripts(&raw.scripts, diags);
    let script_names: Vec<&str> = raw.scripts.iter().map(|s| s.name.as_str()).collect();
    let instances: Vec<VrrpInstance> = raw
        .instances
        .iter()
        .map(|r| instance(r, &raw.global, &scripts, &script_names, diags))
        .collect();
    unique_instances(&raw.instances, &instances, diags);
    Config {
        global,
        scripts,
        instances,
    }
}

fn scripts(raw: &[RawScript], diags: &mut Diags) -> Vec<VrrpScript> {
    let mut scripts = Vec::new();
    let mut first: HashMap<&str, &Location> = HashMap::new();
    for r in raw {
        if let Some(earlier) = first.get(r.name.as_str()) {
            diags.error(
                &r.loc,
                format!(
                    "vrrp_script {} is defined twice (first at {}); rename or remove one",
                    r.name,
                    short_location(earlier, &r.loc)
                ),
            );
            continue;
        }
        first.insert(&r.name, &r.loc);
        let Some(script) = &r.script else {
            if !r.tainted && !r.bad.contains("script") {
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
            interval: Duration::from_secs(interval.into()),
            timeout: Duration::from_secs(timeout.into()),
            weight,
            weight_reverse,
            rise: value(&r.rise).unwrap_or(DEFAULT_RISE_FALL),
            fall: value(&r.fall).unwrap_or(DEFAULT_RISE_FALL),
            init_fail: r.init_fail,
            user: r.user.as_ref().map(|u| u.value.clone()),
            location: r.loc.clone(),
        });
    }
    scripts
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
    scripts: &[VrrpScript],
    script_names: &[&str],
    diags: &mut Diags,
) -> VrrpInstance {
    let name = &r.name;
    // Required keywords; not reported again when their value was already refused.
    let reportable = |keyword: &str| !r.tainted && !r.bad.contains(keyword);
    let interface = match &r.interface {
        Some(i) => i.value.clone(),
        None => {
            if reportable("interface") {
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
            if reportable("virtual_router_id") {
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

    let virtual_addresses = addresses(r, diags);
    let ipv6 = r.vips.first().is_some_and(|v| v.value.addr.is_ipv6());

    let (version, from) = if ipv6 {
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
            !r.bad.contains("version") && !global.bad.contains("vrrp_version")
        }
    };
    let advert_int = match &r.advert_int {
        Some(a) if version_known => advert_int(a, version, from, diags),
        _ => DEFAULT_ADVERT_INT,
    };

    let authentication = authentication(r, version, diags);

    // keepalived: an unset priority comes from the state, then an unset state from the
    // priority (the address owner wishes MASTER).
    let state = value(&r.state);
    let priority = value(&r.priority).unwrap_or(if state == Some(InitialState::Master) {
        OWNER_PRIORITY
    } else {
        DEFAULT_PRIORITY
    });
    let initial_state = state.unwrap_or(if priority == OWNER_PRIORITY {
        InitialState::Master
    } else {
        InitialState::Backup
    });

    let (nopreempt, preempt_delay) = preemption(r, initial_state, priority, diags);
    let track_scripts = tracks(r, scripts, script_names, diags);

    let notify = |slot: &Option<Spanned<String>>| slot.as_ref().map(|s| s.value.clone());
    VrrpInstance {
        name: name.clone(),
        initial_state,
        interface,
        vrid,
        priority,
        advert_int,
        version,
        authentication,
        virtual_addresses,
        track_scripts,
        nopreempt,
        preempt_delay,
        notify_master: notify(&r.notify_master),
        notify_backup: notify(&r.notify_backup),
        notify_fault: notify(&r.notify_fault),
        notify_stop: notify(&r.notify_stop),
        notify: notify(&r.notify),
        garp_master_delay: Duration::from_secs(
            value(&r.garp_master_delay)
                .or(value(&global.garp_master_delay))
                .unwrap_or(DEFAULT_GARP_DELAY_SECS)
                .into(),
        ),
        garp_master_repeat: value(&r.garp_master_repeat)
            .or(value(&global.garp_master_repeat))
            .unwrap_or(DEFAULT_GARP_REPEAT),
        location: r.loc.clone(),
    }
}

/// The VIPs without duplicates; all of one family.
fn addresses(r: &RawInstance, diags: &mut Diags) -> Vec<VirtualAddress> {
    if r.vips.is_empty() && !r.tainted && !r.bad.contains("virtual_ipaddress") {
        diags.warn(
            &r.loc,
            format!(
                "vrrp_instance {} has no virtual_ipaddress; add e.g. \
                 `virtual_ipaddress {{ 192.168.1.100/24 }}` (without addresses it only takes \
                 part in elections)",
                r.name
            ),
        );
    }
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
                 vrrp_instance of their own",
                r.name,
                v4.value.addr,
                short_location(&v4.loc, &other.loc),
                v6.value.addr,
                short_location(&v6.loc, &other.loc),
            ),
        );
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for vip in &r.vips {
        if seen.insert(vip.value.addr) {
            out.push(vip.value.clone());
        } else {
            diags.warn(
                &vip.loc,
                format!(
                    "{} is listed twice in vrrp_instance {}; the second is ignored: remove it",
                    vip.value.addr, r.name
                ),
            );
        }
    }
    out
}

/// keepalived's rounding of the advert interval: whole seconds for v2, centiseconds for v3.
fn advert_int(
    a: &Spanned<super::parser::Seconds>,
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

fn authentication(r: &RawInstance, version: u8, diags: &mut Diags) -> Option<Authentication> {
    let auth = r.auth.as_ref()?;
    if r.bad.contains("authentication") {
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
            AuthType::Ah => Authentication::Ah,
        }),
    }
}

/// `nopreempt` and `preempt_delay`, cleared where keepalived clears them.
fn preemption(
    r: &RawInstance,
    state: InitialState,
    priority: u8,
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

fn tracks(
    r: &RawInstance,
    scripts: &[VrrpScript],
    script_names: &[&str],
    diags: &mut Diags,
) -> Vec<TrackScript> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for t in &r.track_scripts {
        let name = t.value.name.as_str();
        if !script_names.contains(&name) {
            let near = did_you_mean(name, script_names.iter().copied())
                .map(|n| format!("did you mean `{n}`? If not, "))
                .unwrap_or_default();
            diags.error(
                &t.loc,
                format!(
                    "track_script {name} names no vrrp_script; {near}define \
                     `vrrp_script {name} {{ script \"...\" }}`"
                ),
            );
            continue;
        }
        if !seen.insert(name) {
            diags.warn(
                &t.loc,
                format!(
                    "track_script {name} is listed twice in vrrp_instance {}; the second is \
                     ignored (as keepalived does): remove it",
                    r.name
                ),
            );
            continue;
        }
        let script_reverse = scripts
            .iter()
            .find(|s| s.name == name)
            .is_some_and(|s| s.weight_reverse);
        out.push(TrackScript {
            name: name.to_owned(),
            weight: t.value.weight,
            reverse: t.value.reverse.unwrap_or(script_reverse),
        });
    }
    out
}

/// Instance names are unique, and so is (interface, VRID, family): two instances there
/// would answer each other's adverts.
fn unique_instances(raw: &[RawInstance], built: &[VrrpInstance], diags: &mut Diags) {
    let mut names: HashMap<&str, &Location> = HashMap::new();
    let mut ids: HashMap<(&str, u8, bool), &RawInstance> = HashMap::new();
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
        let ipv6 = inst
            .virtual_addresses
            .first()
            .is_some_and(|v| v.addr.is_ipv6());
        let key = (interface.value.as_str(), vrid.value, ipv6);
        if let Some(first) = ids.get(&key) {
            diags.error(
                &vrid.loc,
                format!(
                    "vrrp_instance {} uses virtual_router_id {} on {} for {}, like \
                     vrrp_instance {} (at {}); give one of them another virtual_router_id",
                    r.name,
                    vrid.value,
                    interface.value,
                    if ipv6 { "IPv6" } else { "IPv4" },
                    first.name,
                    short_location(&first.loc, &vrid.loc)
                ),
            );
        } else {
            ids.insert(key, r);
        }
    }
}

fn value<T: Clone>(slot: &Option<Spanned<T>>) -> Option<T> {
    slot.as_ref().map(|s| s.value.clone())
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
                 family, so move the IPv6 addresses to a vrrp_instance of their own"
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
                "keepalived.conf:6:9: 10.0.0.1 is listed twice in vrrp_instance VI_1; the second \
                 is ignored: remove it"
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
