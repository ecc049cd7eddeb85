//! The typed configuration: what the daemon acts on, with keepalived's defaults applied.
//!
//! Produced by [`super::load`]; every field is already validated and defaulted, so the rest
//! of the daemon never re-derives a default.
use std::{net::IpAddr, path::PathBuf, time::Duration};

use serde::Serialize;

use crate::units::Centiseconds;

/// Where a definition came from, for messages that point the operator at a line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The file (an `include`d file names itself, not the includer).
    pub file: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// A whole keepalived.conf.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Config {
    /// `global_defs`.
    pub global: GlobalDefs,
    /// `vrrp_script` blocks, in file order.
    pub scripts: Vec<VrrpScript>,
    /// `vrrp_instance` blocks, in file order.
    pub instances: Vec<VrrpInstance>,
}

/// The VRRP-relevant part of `global_defs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GlobalDefs {
    /// `router_id`: a name used in logs (keepalived: e-mails and SNMP).
    pub router_id: Option<String>,
    /// `vrrp_version`: default protocol version of instances (2).
    pub vrrp_version: u8,
    /// `script_user USER [GROUP]`.
    pub script_user: Option<String>,
    /// `enable_script_security`.
    pub enable_script_security: bool,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        Self {
            router_id: None,
            vrrp_version: 2,
            script_user: None,
            enable_script_security: false,
        }
    }
}

/// A `vrrp_script NAME { ... }` health check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VrrpScript {
    /// The block's name, referenced by `track_script`.
    pub name: String,
    /// `script "cmd args"`: run through `/bin/sh -c` when it is not a plain path.
    pub script: String,
    /// `interval`: seconds between runs (default 1).
    pub interval: Duration,
    /// `timeout`: a run longer than this fails (default: the interval).
    pub timeout: Duration,
    /// `weight` (-253..=253, default 0): 0 means a failed script puts the instance in FAULT.
    pub weight: i32,
    /// `weight W reverse`: the weight applies in the opposite sense.
    pub weight_reverse: bool,
    /// `rise`: consecutive successes to become OK (default 1).
    pub rise: u32,
    /// `fall`: consecutive failures to become failed (default 1).
    pub fall: u32,
    /// `init_fail`: start in the failed state.
    pub init_fail: bool,
    /// `user USER [GROUP]`.
    pub user: Option<String>,
    /// Where the block starts.
    pub location: Location,
}

/// The `state` keyword: only a wish at start-up (keepalived starts everything in BACKUP,
/// except an address owner wishing MASTER).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum InitialState {
    /// `state MASTER`.
    Master,
    /// `state BACKUP` (the default).
    Backup,
}

/// VRRPv2 authentication.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Authentication {
    /// `auth_type PASS`: the key, truncated to 8 bytes and zero-padded as on the wire.
    Pass([u8; 8]),
    /// `auth_type AH`: accepted, not supported on the wire yet.
    Ah,
}

/// One entry of `virtual_ipaddress`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VirtualAddress {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length (default /32 or /128).
    pub prefix_len: u8,
    /// `dev IF`: defaults to the instance's interface.
    pub dev: Option<String>,
    /// `label IF:x`.
    pub label: Option<String>,
}

/// One entry of `track_script`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackScript {
    /// Name of a `vrrp_script` (checked to exist).
    pub name: String,
    /// `weight W`: overrides the script's weight.
    pub weight: Option<i32>,
    /// `reverse` after the weight.
    pub reverse: bool,
}

/// A `vrrp_instance NAME { ... }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VrrpInstance {
    /// The block's name (`VI_1`).
    pub name: String,
    /// `state`.
    pub initial_state: InitialState,
    /// `interface`.
    pub interface: String,
    /// `virtual_router_id` (1..=255).
    pub vrid: u8,
    /// `priority` (1..=255, default 100; 255 when `state MASTER` has no priority).
    pub priority: u8,
    /// `advert_int`: whole seconds for v2, centiseconds for v3 (default 1 s).
    pub advert_int: Centiseconds,
    /// `version`, else `global_defs vrrp_version` (2 or 3).
    pub version: u8,
    /// `authentication { }` (v2 only).
    pub authentication: Option<Authentication>,
    /// `virtual_ipaddress { }`.
    pub virtual_addresses: Vec<VirtualAddress>,
    /// `track_script { }`.
    pub track_scripts: Vec<TrackScript>,
    /// `nopreempt`.
    pub nopreempt: bool,
    /// `preempt_delay` (0..=1000 s).
    pub preempt_delay: Duration,
    /// `notify_master`.
    pub notify_master: Option<String>,
    /// `notify_backup`.
    pub notify_backup: Option<String>,
    /// `notify_fault`.
    pub notify_fault: Option<String>,
    /// `notify_stop`.
    pub notify_stop: Option<String>,
    /// `notify`: generic script, gets `INSTANCE NAME STATE PRIORITY` appended.
    pub notify: Option<String>,
    /// `garp_master_delay` (global `vrrp_garp_master_delay`, default 5 s; 0 = no 2nd burst).
    pub garp_master_delay: Duration,
    /// `garp_master_repeat` (global `vrrp_garp_master_repeat`, default 5).
    pub garp_master_repeat: u32,
    /// Where the block starts.
    pub location: Location,
}
