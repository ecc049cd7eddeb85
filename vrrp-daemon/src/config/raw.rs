//! What the file says, per block, before defaults: the parser's output and `resolve`'s
//! input. A value is kept with the location of the statement that set it; what the file
//! does not say stays `None`.
use std::{collections::HashSet, net::IpAddr, time::Duration};

use super::{
    Location,
    model::{
        InitialState, NotifyFifo, OldUnicastChecksum, ParamMatch, TrackFileInit, UnicastPeer,
        VirtualAddress, VirtualRoute, VirtualRule,
    },
};

/// A value and the statement that set it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Spanned<T> {
    pub(super) value: T,
    pub(super) loc: Location,
}

/// How a block went: keywords whose value was refused, and whether part of it could not be
/// read at all.
#[derive(Debug, Default)]
pub(super) struct Health {
    /// Keywords that had an invalid value (already reported): not reported again as missing.
    pub(super) bad: HashSet<String>,
    /// Part of the block was unusable (unsupported syntax, no block): its name exists, but
    /// nothing may be reported as missing from it.
    pub(super) tainted: bool,
}

impl Health {
    /// Whether the absence of `keyword` may be reported.
    pub(super) fn reportable(&self, keyword: &str) -> bool {
        !self.tainted && !self.bad.contains(keyword)
    }
}

/// Everything the file says.
#[derive(Debug, Default)]
pub(super) struct RawConfig {
    pub(super) global: RawGlobal,
    pub(super) scripts: Vec<RawScript>,
    pub(super) track_files: Vec<RawTrackFile>,
    pub(super) track_processes: Vec<RawTrackProcess>,
    pub(super) sync_groups: Vec<RawSyncGroup>,
    pub(super) instances: Vec<RawInstance>,
    /// `static_ipaddress { }`.
    pub(super) static_addresses: Vec<Spanned<VirtualAddress>>,
    /// `static_routes { }`.
    pub(super) static_routes: Vec<Spanned<VirtualRoute>>,
    /// `static_rules { }`.
    pub(super) static_rules: Vec<Spanned<VirtualRule>>,
}

/// `global_defs` (all of them merged: keepalived allows several).
#[derive(Debug, Default)]
pub(super) struct RawGlobal {
    pub(super) router_id: Option<Spanned<String>>,
    pub(super) vrrp_version: Option<Spanned<u8>>,
    /// `script_user USER [GROUP]`.
    pub(super) script_user: Option<Spanned<(String, Option<String>)>>,
    pub(super) enable_script_security: bool,
    /// Seconds.
    pub(super) garp_master_delay: Option<Spanned<u32>>,
    pub(super) garp_master_repeat: Option<Spanned<u32>>,
    /// Seconds.
    pub(super) garp_master_refresh: Option<Spanned<u32>>,
    pub(super) garp_master_refresh_repeat: Option<Spanned<u32>>,
    /// Seconds.
    pub(super) garp_lower_prio_delay: Option<Spanned<u32>>,
    pub(super) garp_lower_prio_repeat: Option<Spanned<u32>>,
    pub(super) garp_interval: Option<Spanned<Duration>>,
    pub(super) gna_interval: Option<Spanned<Duration>>,
    pub(super) min_garp: Option<Spanned<bool>>,
    pub(super) lower_prio_no_advert: Option<Spanned<bool>>,
    pub(super) higher_prio_send_advert: Option<Spanned<bool>>,
    pub(super) down_timer_adverts: Option<Spanned<u8>>,
    pub(super) notify_priority_changes: Option<Spanned<bool>>,
    pub(super) strict: bool,
    pub(super) check_unicast_src: bool,
    pub(super) skip_check_adv_addr: bool,
    pub(super) mcast_group4: Option<Spanned<std::net::Ipv4Addr>>,
    pub(super) mcast_group6: Option<Spanned<std::net::Ipv6Addr>>,
    pub(super) startup_delay: Option<Spanned<Duration>>,
    /// `dynamic_interfaces [allow_if_changes]`.
    pub(super) dynamic_interfaces: bool,
    /// `default_interface`.
    pub(super) default_interface: Option<Spanned<String>>,
    /// `net_namespace` (top level or in `global_defs`).
    pub(super) net_namespace: Option<Spanned<String>>,
    pub(super) nice: Option<Spanned<i8>>,
    pub(super) rt_priority: Option<Spanned<u8>>,
    pub(super) no_swap: bool,
    pub(super) cpu_affinity: Option<Spanned<Vec<u16>>>,
    pub(super) rlimit_rttime: Option<Spanned<u64>>,
    pub(super) max_auto_priority: Option<Spanned<i8>>,
    /// Microseconds.
    pub(super) min_auto_priority_delay: Option<Spanned<u64>>,
    pub(super) notify_fifo: Option<Spanned<NotifyFifo>>,
    pub(super) notify_fifo_script: Option<Spanned<String>>,
    pub(super) vrrp_notify_fifo: Option<Spanned<NotifyFifo>>,
    pub(super) vrrp_notify_fifo_script: Option<Spanned<String>>,
    pub(super) health: Health,
}

/// A `vrrp_script NAME { }` block.
#[derive(Debug)]
pub(super) struct RawScript {
    pub(super) name: String,
    pub(super) loc: Location,
    pub(super) script: Option<Spanned<String>>,
    pub(super) interval: Option<Spanned<u32>>,
    pub(super) timeout: Option<Spanned<u32>>,
    /// `weight W [reverse]`.
    pub(super) weight: Option<Spanned<(i32, bool)>>,
    pub(super) rise: Option<Spanned<u32>>,
    pub(super) fall: Option<Spanned<u32>>,
    pub(super) init_fail: bool,
    /// `user USER [GROUP]`.
    pub(super) user: Option<Spanned<(String, Option<String>)>>,
    pub(super) health: Health,
}

/// A `track_file NAME { }` / `vrrp_track_file NAME { }` block.
#[derive(Debug)]
pub(super) struct RawTrackFile {
    pub(super) name: String,
    pub(super) loc: Location,
    pub(super) file: Option<Spanned<String>>,
    pub(super) weight: Option<Spanned<(i32, bool)>>,
    pub(super) init_file: Option<Spanned<TrackFileInit>>,
    pub(super) health: Health,
}

/// A `vrrp_track_process NAME { }` block.
#[derive(Debug)]
pub(super) struct RawTrackProcess {
    pub(super) name: String,
    pub(super) loc: Location,
    /// `process NAME [PARAMS...]`.
    pub(super) process: Option<Spanned<(String, Vec<String>)>>,
    pub(super) param_match: Option<Spanned<ParamMatch>>,
    pub(super) full_command: bool,
    pub(super) weight: Option<Spanned<(i32, bool)>>,
    pub(super) quorum: Option<Spanned<u32>>,
    pub(super) quorum_max: Option<Spanned<u32>>,
    pub(super) fork_delay: Option<Spanned<Duration>>,
    pub(super) terminate_delay: Option<Spanned<Duration>>,
    pub(super) health: Health,
}

/// One entry of a `track_*` block: `NAME [weight W [reverse|noreverse]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RawTrack {
    pub(super) name: String,
    pub(super) weight: Option<i32>,
    /// `reverse` (true) or `noreverse` (false) after the weight; unset means the tracked
    /// object's.
    pub(super) reverse: Option<bool>,
}

/// The `track_*` lists of an instance or a sync group.
#[derive(Debug, Default)]
pub(super) struct RawTracking {
    pub(super) scripts: Vec<Spanned<RawTrack>>,
    pub(super) interfaces: Vec<Spanned<RawTrack>>,
    pub(super) files: Vec<Spanned<RawTrack>>,
    pub(super) processes: Vec<Spanned<RawTrack>>,
}

/// The notify scripts of an instance or a sync group.
#[derive(Debug, Default)]
pub(super) struct RawNotify {
    pub(super) master: Option<Spanned<String>>,
    pub(super) backup: Option<Spanned<String>>,
    pub(super) fault: Option<Spanned<String>>,
    pub(super) stop: Option<Spanned<String>>,
    pub(super) generic: Option<Spanned<String>>,
    /// `notify_master_rx_lower_pri` (instances only).
    pub(super) master_rx_lower_pri: Option<Spanned<String>>,
}

/// A `vrrp_sync_group NAME { }` block.
#[derive(Debug)]
pub(super) struct RawSyncGroup {
    pub(super) name: String,
    pub(super) loc: Location,
    /// `group { }`: each member name with its location.
    pub(super) group: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) tracking: RawTracking,
    pub(super) notify: RawNotify,
    pub(super) tracking_weight: bool,
    pub(super) health: Health,
}

/// `auth_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AuthType {
    Pass,
}

/// An `authentication { }` block.
#[derive(Debug)]
pub(super) struct RawAuth {
    pub(super) loc: Location,
    pub(super) auth_type: Option<Spanned<AuthType>>,
    /// Truncated to 8 bytes and zero-padded.
    pub(super) auth_pass: Option<Spanned<[u8; 8]>>,
}

/// A decimal number of seconds as written, in microseconds (keepalived's resolution).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Seconds {
    pub(super) micros: u64,
    pub(super) text: String,
}

/// `use_vmac [IFNAME] [MAC]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RawVmac {
    pub(super) ifname: Option<String>,
    pub(super) mac: Option<String>,
}

/// A `vrrp_instance NAME { }` block.
#[derive(Debug)]
pub(super) struct RawInstance {
    pub(super) name: String,
    pub(super) loc: Location,
    pub(super) state: Option<Spanned<InitialState>>,
    pub(super) interface: Option<Spanned<String>>,
    pub(super) vrid: Option<Spanned<u8>>,
    pub(super) priority: Option<Spanned<u8>>,
    pub(super) advert_int: Option<Spanned<Seconds>>,
    pub(super) version: Option<Spanned<u8>>,
    pub(super) auth: Option<RawAuth>,
    pub(super) vips: Vec<Spanned<VirtualAddress>>,
    pub(super) evips: Vec<Spanned<VirtualAddress>>,
    pub(super) routes: Vec<Spanned<VirtualRoute>>,
    pub(super) rules: Vec<Spanned<VirtualRule>>,
    pub(super) tracking: RawTracking,
    pub(super) dont_track_primary: bool,
    /// `nopreempt` (true) or `preempt` (false), whichever came last.
    pub(super) nopreempt: Option<Spanned<bool>>,
    pub(super) preempt_delay: Option<Spanned<Duration>>,
    pub(super) notify: RawNotify,
    /// `notify_deleted [SCRIPT]`.
    pub(super) notify_deleted: Option<Spanned<Option<String>>>,
    pub(super) notify_priority_changes: Option<Spanned<bool>>,
    pub(super) garp_master_delay: Option<Spanned<u32>>,
    pub(super) garp_master_repeat: Option<Spanned<u32>>,
    pub(super) garp_master_refresh: Option<Spanned<u32>>,
    pub(super) garp_master_refresh_repeat: Option<Spanned<u32>>,
    pub(super) garp_lower_prio_delay: Option<Spanned<u32>>,
    pub(super) garp_lower_prio_repeat: Option<Spanned<u32>>,
    /// `unicast_src_ip` or `mcast_src_ip`, whichever came last (the keyword is kept).
    pub(super) src_ip: Option<Spanned<(IpAddr, &'static str)>>,
    pub(super) peers: Vec<Spanned<UnicastPeer>>,
    /// A `unicast_peer` block was written (even empty).
    pub(super) peer_block: Option<Location>,
    pub(super) unicast_ttl: Option<Spanned<u8>>,
    pub(super) check_unicast_src: bool,
    pub(super) unicast_fault_no_peer: bool,
    /// The first keyword that asks for unicast (keepalived's "unicast configured").
    pub(super) unicast_keyword: Option<Spanned<&'static str>>,
    pub(super) mcast_dst_ip: Option<Spanned<IpAddr>>,
    pub(super) vmac: Option<Spanned<RawVmac>>,
    pub(super) vmac_xmit_base: Option<Location>,
    /// `accept` (true) or `no_accept` (false), whichever came last.
    pub(super) accept: Option<Spanned<bool>>,
    pub(super) strict_mode: Option<Spanned<bool>>,
    pub(super) skip_check_adv_addr: Option<Spanned<bool>>,
    pub(super) down_timer_adverts: Option<Spanned<u8>>,
    pub(super) lower_prio_no_advert: Option<Spanned<bool>>,
    pub(super) higher_prio_send_advert: Option<Spanned<bool>>,
    pub(super) old_unicast_checksum: Option<Spanned<OldUnicastChecksum>>,
    pub(super) v3_checksum_as_v2: Option<Spanned<bool>>,
    pub(super) health: Health,
}

impl RawInstance {
    pub(super) fn new(name: String, loc: Location) -> Self {
        Self {
            name,
            loc,
            state: None,
            interface: None,
            vrid: None,
            priority: None,
            advert_int: None,
            version: None,
            auth: None,
            vips: Vec::new(),
            evips: Vec::new(),
            routes: Vec::new(),
            rules: Vec::new(),
            tracking: RawTracking::default(),
            dont_track_primary: false,
            nopreempt: None,
            preempt_delay: None,
            notify: RawNotify::default(),
            notify_deleted: None,
            notify_priority_changes: None,
            garp_master_delay: None,
            garp_master_repeat: None,
            garp_master_refresh: None,
            garp_master_refresh_repeat: None,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            src_ip: None,
            peers: Vec::new(),
            peer_block: None,
            unicast_ttl: None,
            check_unicast_src: false,
            unicast_fault_no_peer: false,
            unicast_keyword: None,
            mcast_dst_ip: None,
            vmac: None,
            vmac_xmit_base: None,
            accept: None,
            strict_mode: None,
            skip_check_adv_addr: None,
            down_timer_adverts: None,
            lower_prio_no_advert: None,
            higher_prio_send_advert: None,
            old_unicast_checksum: None,
            v3_checksum_as_v2: None,
            health: Health::default(),
        }
    }
}
