//! The typed configuration: what the daemon acts on, with keepalived's defaults applied.
//!
//! Produced by [`super::load`]; every field is already validated and defaulted, so the rest
//! of the daemon never re-derives a default. Fields of keywords the daemon does not act on
//! yet are here too (see [`super::keywords`]), so that features can land without touching
//! the parser, and so that `vrrp-daemon check --dump json` shows the whole configuration.
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::PathBuf,
    time::Duration,
};

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
    /// `track_file` / `vrrp_track_file` blocks, in file order.
    pub track_files: Vec<TrackFile>,
    /// `vrrp_track_process` blocks, in file order.
    pub track_processes: Vec<TrackProcess>,
    /// `vrrp_sync_group` blocks, in file order.
    pub sync_groups: Vec<SyncGroup>,
    /// `vrrp_instance` blocks, in file order.
    pub instances: Vec<VrrpInstance>,
    /// `static_ipaddress`: addresses on the host whatever the VRRP states, added at start
    /// and removed at stop (an address without `dev` is on `default_interface`).
    pub static_addresses: Vec<VirtualAddress>,
    /// `static_routes`: likewise, routes.
    pub static_routes: Vec<VirtualRoute>,
    /// `static_rules`: likewise, rules.
    pub static_rules: Vec<VirtualRule>,
}

impl Config {
    /// Whether the configuration runs any script (a `vrrp_script`, a notify script of an
    /// instance or sync group, or a FIFO script): keepalived's `-t` then wants
    /// `enable_script_security` (exit code 6 without it).
    pub fn runs_scripts(&self) -> bool {
        let instance_scripts = |i: &VrrpInstance| {
            i.notify_master.is_some()
                || i.notify_backup.is_some()
                || i.notify_fault.is_some()
                || i.notify_stop.is_some()
                || i.notify.is_some()
                || i.notify_deleted_script.is_some()
                || i.notify_master_rx_lower_pri.is_some()
        };
        let group_scripts = |g: &SyncGroup| {
            g.notify_master.is_some()
                || g.notify_backup.is_some()
                || g.notify_fault.is_some()
                || g.notify_stop.is_some()
                || g.notify.is_some()
        };
        let fifo_script = |f: &Option<NotifyFifo>| f.as_ref().is_some_and(|f| f.script.is_some());
        !self.scripts.is_empty()
            || self.instances.iter().any(instance_scripts)
            || self.sync_groups.iter().any(group_scripts)
            || fifo_script(&self.global.notify_fifo)
            || fifo_script(&self.global.vrrp_notify_fifo)
    }
}

/// An address family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub enum Family {
    /// IPv4 (an instance without addresses is IPv4, as in keepalived).
    #[default]
    #[serde(rename = "IPv4")]
    Ipv4,
    /// IPv6 (always VRRPv3).
    #[serde(rename = "IPv6")]
    Ipv6,
}

impl Family {
    /// The family of `addr`.
    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// `IPv4` or `IPv6`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }
}

/// The GARP/NA settings beyond the takeover burst (`garp_master_delay`/`_repeat` are fields
/// of their own, as the daemon acts on them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GarpConfig {
    /// `garp_master_refresh` (`vrrp_garp_master_refresh`): period of GARPs while master;
    /// zero (the default) sends none.
    pub master_refresh: Duration,
    /// `garp_master_refresh_repeat` (`vrrp_garp_master_refresh_repeat`, default 1).
    pub master_refresh_repeat: u32,
    /// `garp_lower_prio_delay` (`vrrp_garp_lower_prio_delay`, default the global
    /// `vrrp_garp_master_delay`; 0 in strict mode): delay of the second burst after a master
    /// hears a lower priority.
    pub lower_prio_delay: Duration,
    /// `garp_lower_prio_repeat` (`vrrp_garp_lower_prio_repeat`, default the global
    /// `vrrp_garp_master_repeat`; 0 in strict mode).
    pub lower_prio_repeat: u32,
}

/// `notify_fifo` / `vrrp_notify_fifo FILE [USER [GROUP]]` with its `*_script`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotifyFifo {
    /// The FIFO's path.
    pub path: String,
    /// Owner of the FIFO.
    pub user: Option<String>,
    /// Its group.
    pub group: Option<String>,
    /// `notify_fifo_script` / `vrrp_notify_fifo_script`: run with the FIFO's path appended.
    pub script: Option<String>,
}

/// The VRRP-relevant part of `global_defs`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GlobalDefs {
    /// `router_id`: a name used in logs (keepalived: e-mails and SNMP).
    pub router_id: Option<String>,
    /// `vrrp_version`: default protocol version of instances (2).
    pub vrrp_version: u8,
    /// `script_user USER [GROUP]`: the user.
    pub script_user: Option<String>,
    /// `script_user USER GROUP`: the group.
    pub script_group: Option<String>,
    /// `enable_script_security`.
    pub enable_script_security: bool,
    /// `vrrp_garp_master_delay` (default 5 s; 0 with `vrrp_min_garp`).
    pub garp_master_delay: Duration,
    /// `vrrp_garp_master_repeat` (default 5; 1 with `vrrp_min_garp`).
    pub garp_master_repeat: u32,
    /// `vrrp_garp_master_refresh`, `vrrp_garp_lower_prio_*`: the instances' defaults.
    pub garp: GarpConfig,
    /// `vrrp_garp_interval`: minimum gap between GARPs on an interface (default 0).
    pub garp_interval: Duration,
    /// `vrrp_gna_interval`: minimum gap between unsolicited NAs on an interface (default 0).
    pub gna_interval: Duration,
    /// `vrrp_min_garp`: one GARP, no second burst (changes the defaults above).
    pub min_garp: bool,
    /// `vrrp_lower_prio_no_advert` (default false).
    pub lower_prio_no_advert: bool,
    /// `vrrp_notify_priority_changes` (default false): the instances' default.
    pub notify_priority_changes: bool,
    /// `vrrp_higher_prio_send_advert` (default true here, false in keepalived: see the
    /// keyword table).
    pub higher_prio_send_advert: bool,
    /// `vrrp_down_timer_adverts` (1..=100, default 3).
    pub down_timer_adverts: u8,
    /// `vrrp_strict`: the instances' default `strict_mode`.
    pub strict: bool,
    /// `vrrp_check_unicast_src`.
    pub check_unicast_src: bool,
    /// `vrrp_skip_check_adv_addr`.
    pub skip_check_adv_addr: bool,
    /// `vrrp_mcast_group4` (default 224.0.0.18).
    pub mcast_group4: Ipv4Addr,
    /// `vrrp_mcast_group6` (default ff02::12).
    pub mcast_group6: Ipv6Addr,
    /// `vrrp_startup_delay` (default 0).
    pub startup_delay: Duration,
    /// `dynamic_interfaces`: an instance whose interface does not exist yet waits for it
    /// (without, as in keepalived, the daemon refuses to start).
    pub dynamic_interfaces: bool,
    /// `default_interface` (default `eth0`): where a static address without `dev` goes.
    pub default_interface: String,
    /// `net_namespace`: the network namespace (`ip netns` name) the daemon runs in.
    pub net_namespace: Option<String>,
    /// `vrrp_priority`, `vrrp_rt_priority`, `vrrp_no_swap`, `vrrp_cpu_affinity`,
    /// `vrrp_rlimit_rttime`: how the daemon's own process is scheduled.
    pub process: ProcessTuning,
    /// `notify_fifo` (+ `notify_fifo_script`).
    pub notify_fifo: Option<NotifyFifo>,
    /// `vrrp_notify_fifo` (+ `vrrp_notify_fifo_script`).
    pub vrrp_notify_fifo: Option<NotifyFifo>,
}

/// How the daemon's own process is scheduled (keepalived's `vrrp_*` process keywords). On
/// a host whose cores are busy with other work, these keep adverts and takeovers on time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProcessTuning {
    /// `vrrp_priority` (-20..=19): the nice value.
    pub nice: Option<i8>,
    /// `vrrp_rt_priority` (1..=99): `SCHED_RR` at this priority for the event loop.
    pub rt_priority: Option<u8>,
    /// `vrrp_no_swap`: lock the daemon's memory, so no page of the takeover path has to
    /// come back from swap or disk when it runs.
    pub no_swap: bool,
    /// `vrrp_cpu_affinity`: the CPUs the daemon may run on (empty: any).
    pub cpu_affinity: Vec<u16>,
    /// `vrrp_rlimit_rttime` (µs, default 10000): how long the realtime event loop may run
    /// without sleeping before the kernel signals it (`RLIMIT_RTTIME`).
    pub rlimit_rttime_us: u64,
    /// `max_auto_priority` (0: off, the default): when the event loop wakes later than
    /// `min_auto_priority_delay` after a deadline, it goes realtime, then one realtime
    /// priority higher at each such delay, up to this.
    pub max_auto_priority: u8,
    /// `min_auto_priority_delay` (default 1 s).
    pub min_auto_priority_delay: Duration,
}

/// keepalived's default `vrrp_rlimit_rttime`, in µs.
pub const DEFAULT_RLIMIT_RTTIME_US: u64 = 10_000;

impl Default for ProcessTuning {
    fn default() -> Self {
        Self {
            nice: None,
            rt_priority: None,
            no_swap: false,
            cpu_affinity: Vec::new(),
            rlimit_rttime_us: DEFAULT_RLIMIT_RTTIME_US,
            max_auto_priority: 0,
            min_auto_priority_delay: Duration::from_secs(1),
        }
    }
}

impl ProcessTuning {
    /// Whether any setting differs from the kernel's defaults for a process.
    pub fn is_set(&self) -> bool {
        self.nice.is_some()
            || self.rt_priority.is_some()
            || self.no_swap
            || !self.cpu_affinity.is_empty()
            || self.max_auto_priority > 0
    }
}

/// keepalived's `224.0.0.18` (RFC 5798 §5.1.1.2).
pub const VRRP_GROUP4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// keepalived's `ff02::12` (RFC 5798 §5.1.2.2).
pub const VRRP_GROUP6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

impl Default for GlobalDefs {
    fn default() -> Self {
        Self {
            router_id: None,
            vrrp_version: 2,
            script_user: None,
            script_group: None,
            enable_script_security: false,
            garp_master_delay: Duration::from_secs(5),
            garp_master_repeat: 5,
            garp: GarpConfig {
                master_refresh: Duration::ZERO,
                master_refresh_repeat: 1,
                lower_prio_delay: Duration::from_secs(5),
                lower_prio_repeat: 5,
            },
            garp_interval: Duration::ZERO,
            gna_interval: Duration::ZERO,
            min_garp: false,
            lower_prio_no_advert: false,
            notify_priority_changes: false,
            higher_prio_send_advert: true,
            down_timer_adverts: 3,
            strict: false,
            check_unicast_src: false,
            skip_check_adv_addr: false,
            mcast_group4: VRRP_GROUP4,
            mcast_group6: VRRP_GROUP6,
            startup_delay: Duration::ZERO,
            dynamic_interfaces: false,
            default_interface: "eth0".to_owned(),
            net_namespace: None,
            process: ProcessTuning::default(),
            notify_fifo: None,
            vrrp_notify_fifo: None,
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
    /// `user USER [GROUP]`: the user.
    pub user: Option<String>,
    /// `user USER GROUP`: the group.
    pub group: Option<String>,
    /// Where the block starts.
    pub location: Location,
}

/// `track_file NAME { init_file [VALUE] [overwrite] }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackFileInit {
    /// The value written (default 0).
    pub value: i32,
    /// `overwrite`: write it even if the file exists.
    pub overwrite: bool,
}

/// A `track_file NAME { ... }` (or `vrrp_track_file`): a file holding a number that, times
/// the weight, moves the priority.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackFile {
    /// The block's name, referenced by `track_file` in instances.
    pub name: String,
    /// `file PATH`.
    pub file: String,
    /// `weight W` (-254..=254, default 1).
    pub weight: i32,
    /// `weight W reverse`.
    pub weight_reverse: bool,
    /// `init_file [VALUE] [overwrite]`: create the file at start.
    pub init_file: Option<TrackFileInit>,
    /// Where the block starts.
    pub location: Location,
}

/// `param_match` of a `vrrp_track_process`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ParamMatch {
    /// The parameters must be exactly those given (the default when `process` has any).
    Exact,
    /// `param_match initial`: the given parameters start the process's.
    Initial,
    /// `param_match partial`: the given parameters appear in the process's.
    Partial,
}

/// A `vrrp_track_process NAME { ... }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackProcess {
    /// The block's name, referenced by `track_process` in instances.
    pub name: String,
    /// `process NAME [PARAMS...]`: the name.
    pub process: String,
    /// The parameters after the name.
    pub params: Vec<String>,
    /// `param_match` (exact when parameters are given and nothing else is said).
    pub param_match: Option<ParamMatch>,
    /// `full_command`: match the whole command line, not the process name.
    pub full_command: bool,
    /// `weight W [reverse]` (-254..=254, default 0: FAULT when the quorum is lost).
    pub weight: i32,
    /// `reverse` after the weight.
    pub weight_reverse: bool,
    /// `quorum` (1..=65535, default 1; 0 when `quorum_max 0`).
    pub quorum: u32,
    /// `quorum_max` (0..=65535; none: no maximum).
    pub quorum_max: Option<u32>,
    /// `fork_delay` (or `delay`): wait after a process starts (default 0).
    pub fork_delay: Duration,
    /// `terminate_delay` (or `delay`): wait after a process ends (default 0).
    pub terminate_delay: Duration,
    /// Where the block starts.
    pub location: Location,
}

/// A `vrrp_sync_group NAME { ... }`: instances that change state together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyncGroup {
    /// The block's name.
    pub name: String,
    /// `group { I1 I2 }`: names of `vrrp_instance`s (checked to exist, each in one group).
    pub instances: Vec<String>,
    /// `track_interface { }`.
    pub track_interfaces: Vec<TrackInterface>,
    /// `track_script { }`.
    pub track_scripts: Vec<TrackScript>,
    /// `track_file { }`.
    pub track_files: Vec<TrackRef>,
    /// `track_process { }`.
    pub track_processes: Vec<TrackRef>,
    /// `notify_master`.
    pub notify_master: Option<String>,
    /// `notify_backup`.
    pub notify_backup: Option<String>,
    /// `notify_fault`.
    pub notify_fault: Option<String>,
    /// `notify_stop`.
    pub notify_stop: Option<String>,
    /// `notify`: gets `GROUP NAME STATE PRIORITY` appended.
    pub notify: Option<String>,
    /// `sync_group_tracking_weight` (or the deprecated `global_tracking`): the members'
    /// tracking weights apply (keepalived otherwise forces them to 0).
    pub tracking_weight: bool,
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
    /// `auth_type AH`: refused by the parser (kept for the daemon's exhaustive matches).
    Ah,
}

/// `brd` / `broadcast` of an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Broadcast {
    /// `brd ADDRESS`.
    Address(Ipv4Addr),
    /// `brd +`: all host bits set.
    AllHostBits,
    /// `brd -`: no host bits set.
    NoHostBits,
}

impl Broadcast {
    /// The broadcast address of `addr/prefix_len` this stands for.
    pub fn resolve(self, addr: std::net::Ipv4Addr, prefix_len: u8) -> std::net::Ipv4Addr {
        let host_bits = u32::MAX.checked_shr(u32::from(prefix_len)).unwrap_or(0);
        match self {
            Broadcast::Address(a) => a,
            Broadcast::AllHostBits => (u32::from(addr) | host_bits).into(),
            Broadcast::NoHostBits => (u32::from(addr) & !host_bits).into(),
        }
    }
}

impl AddressScope {
    /// The kernel's number for it (`ifa_scope`, /etc/iproute2/rt_scopes).
    pub fn number(self) -> u8 {
        match self {
            AddressScope::Global => 0,
            AddressScope::Site => 200,
            AddressScope::Link => 253,
            AddressScope::Host => 254,
            AddressScope::Nowhere => 255,
            AddressScope::Number(n) => n,
        }
    }
}

/// `scope` of an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AddressScope {
    /// `global` (0).
    Global,
    /// `site` (200).
    Site,
    /// `link` (253).
    Link,
    /// `host` (254).
    Host,
    /// `nowhere` (255).
    Nowhere,
    /// Another number from /etc/iproute2/rt_scopes.
    Number(u8),
}

/// One entry of `virtual_ipaddress` or `virtual_ipaddress_excluded`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VirtualAddress {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length (default /32 or /128).
    pub prefix_len: u8,
    /// `dev IF`: defaults to the instance's interface.
    pub dev: Option<String>,
    /// `label IF:x` (IPv4 only).
    pub label: Option<String>,
    /// `brd` (IPv4 only).
    pub brd: Option<Broadcast>,
    /// `scope` (IPv4 only; keepalived ignores it for IPv6).
    pub scope: Option<AddressScope>,
    /// `no_track`: removal of the address by someone else does not make the instance FAULT.
    pub no_track: bool,
}

/// An address with a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct IpPrefix {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
}

/// One entry of `virtual_routes`: `ip route` syntax.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VirtualRoute {
    /// The words as written, for `ip route add` (without `no_track`).
    pub words: Vec<String>,
    /// The destination (none: `default`).
    pub dst: Option<IpPrefix>,
    /// The family of the route.
    pub family: Family,
    /// `via` / `gw`.
    pub via: Option<IpAddr>,
    /// `dev`.
    pub dev: Option<String>,
    /// `table` (name or number, as written).
    pub table: Option<String>,
    /// `metric` / `priority` / `preference`.
    pub metric: Option<u32>,
    /// `src`.
    pub src: Option<IpAddr>,
    /// Route type `blackhole`.
    pub blackhole: bool,
    /// `no_track`: removal of the route by someone else does not make a master step down.
    pub no_track: bool,
}

/// One entry of `virtual_rules`: `ip rule` syntax.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VirtualRule {
    /// The words as written, for `ip rule add` (without `no_track`).
    pub words: Vec<String>,
    /// The family of the rule (from its addresses; IPv4 when it has none).
    pub family: Family,
    /// `no_track`: removal of the rule by someone else does not make a master step down.
    pub no_track: bool,
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

/// One entry of `track_file` or `track_process`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackRef {
    /// Name of a `track_file` / `vrrp_track_process` block (checked to exist).
    pub name: String,
    /// `weight W` (-254..=254): overrides the block's weight.
    pub weight: Option<i32>,
    /// `reverse` after the weight (default: the block's).
    pub reverse: bool,
}

/// One entry of `track_interface`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrackInterface {
    /// The interface.
    pub interface: String,
    /// `weight W` (-253..=253; 0, the default, means FAULT while the interface is down).
    pub weight: i32,
    /// `reverse` after the weight.
    pub reverse: bool,
}

/// One entry of `unicast_peer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnicastPeer {
    /// The peer's address.
    pub addr: IpAddr,
    /// `min_ttl` (default 0).
    pub min_ttl: u8,
    /// `max_ttl` (default 255).
    pub max_ttl: u8,
}

/// Unicast adverts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UnicastConfig {
    /// `unicast_peer { }`: adverts go to each of them instead of the multicast group.
    pub peers: Vec<UnicastPeer>,
    /// `unicast_ttl` (0..=255; default 255 for IPv4, the kernel's for IPv6). Only with peers.
    pub ttl: Option<u8>,
    /// `check_unicast_src` (or global `vrrp_check_unicast_src`, or any `min_ttl`/`max_ttl`):
    /// drop adverts whose source is not a peer.
    pub check_src: bool,
    /// `unicast_fault_no_peer`: FAULT rather than multicast when there are no peers.
    pub fault_no_peer: bool,
}

/// `use_vmac [IFNAME] [MAC]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VmacConfig {
    /// The macvlan's name (default `vrrp.VRID`).
    pub ifname: Option<String>,
    /// Its MAC address (default 00:00:5e:00:01:VRID, or :02: for IPv6), lower case.
    pub mac: Option<String>,
    /// `vmac_xmit_base`: adverts on the base interface, the VMAC only holds the addresses.
    pub xmit_base: bool,
}

/// `old_unicast_checksum`: the IPv4 VRRPv3 unicast checksum of keepalived ≤ 1.3.6.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum OldUnicastChecksum {
    /// Not written: switch to the old form if a peer is seen using it.
    #[default]
    Auto,
    /// `old_unicast_checksum`: always send the old form.
    Always,
    /// `old_unicast_checksum never`: never switch.
    Never,
}

/// Checksum compatibility.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChecksumConfig {
    /// `old_unicast_checksum [never]`.
    pub old_unicast: OldUnicastChecksum,
    /// `v3_checksum_as_v2 [bool]` (keepalived 2.2.8+): VRRPv3 IPv4 checksum without the
    /// pseudo-header, as Cisco, Juniper and RFC 9568 compute it.
    pub v3_as_v2: bool,
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
    /// `version`, else `global_defs vrrp_version` (2 or 3; IPv6 is always 3).
    pub version: u8,
    /// The address family: that of the `virtual_ipaddress`es, else of the source address,
    /// the unicast peers or `mcast_dst_ip`, else IPv4.
    pub family: Family,
    /// `authentication { }` (v2 only).
    pub authentication: Option<Authentication>,
    /// `virtual_ipaddress { }` (all of [`VrrpInstance::family`]).
    pub virtual_addresses: Vec<VirtualAddress>,
    /// `virtual_ipaddress_excluded { }`: managed like the VIPs, not carried in adverts; may
    /// mix families. VIPs that do not fit in an advert are moved here, as keepalived does.
    pub virtual_addresses_excluded: Vec<VirtualAddress>,
    /// `virtual_routes { }`: added while master.
    pub virtual_routes: Vec<VirtualRoute>,
    /// `virtual_rules { }`: added while master.
    pub virtual_rules: Vec<VirtualRule>,
    /// `track_script { }`.
    pub track_scripts: Vec<TrackScript>,
    /// `track_interface { }` (the instance's own interface is left out, as keepalived does).
    pub track_interfaces: Vec<TrackInterface>,
    /// `track_file { }`.
    pub track_files: Vec<TrackRef>,
    /// `track_process { }`.
    pub track_processes: Vec<TrackRef>,
    /// `dont_track_primary`: a fault of the instance's own interface is ignored.
    pub dont_track_primary: bool,
    /// `nopreempt`.
    pub nopreempt: bool,
    /// `preempt_delay` (0..=1000 s).
    pub preempt_delay: Duration,
    /// `unicast_src_ip` / `mcast_src_ip`: source address of adverts.
    pub src_ip: Option<IpAddr>,
    /// `unicast_peer`, `unicast_ttl`, `check_unicast_src`, `unicast_fault_no_peer`.
    pub unicast: UnicastConfig,
    /// Where multicast adverts go: `mcast_dst_ip`, else `vrrp_mcast_group4/6`; none for a
    /// unicast instance.
    pub mcast_dst_ip: Option<IpAddr>,
    /// `use_vmac` (+ `vmac_xmit_base`).
    pub vmac: Option<VmacConfig>,
    /// `accept` / `no_accept` (default: accept, except in strict mode unless owner).
    pub accept: bool,
    /// `strict_mode` (default global `vrrp_strict`).
    pub strict_mode: bool,
    /// `skip_check_adv_addr` (default global `vrrp_skip_check_adv_addr`).
    pub skip_check_adv_addr: bool,
    /// `down_timer_adverts` (1..=100, default global `vrrp_down_timer_adverts`, 3).
    pub down_timer_adverts: u8,
    /// `lower_prio_no_advert` (default global; true in strict mode).
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert` (default global; false in strict mode).
    pub higher_prio_send_advert: bool,
    /// `old_unicast_checksum`, `v3_checksum_as_v2`.
    pub checksum: ChecksumConfig,
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
    /// `notify_deleted [SCRIPT]`: report DELETED rather than FAULT when a reload removes the
    /// instance.
    pub notify_deleted: bool,
    /// `notify_priority_changes` (default `vrrp_notify_priority_changes`): the notify FIFOs
    /// get `MASTER_PRIORITY` / `BACKUP_PRIORITY` lines when the priority changes.
    pub notify_priority_changes: bool,
    /// The script of `notify_deleted SCRIPT`.
    pub notify_deleted_script: Option<String>,
    /// `notify_master_rx_lower_pri`: run when this master hears a lower priority (after a
    /// split brain, e.g. to take back a cloud secondary address the other side moved).
    pub notify_master_rx_lower_pri: Option<String>,
    /// `garp_master_delay` (global `vrrp_garp_master_delay`, default 5 s; 0 = no 2nd burst).
    pub garp_master_delay: Duration,
    /// `garp_master_repeat` (global `vrrp_garp_master_repeat`, default 5).
    pub garp_master_repeat: u32,
    /// `garp_master_refresh(_repeat)`, `garp_lower_prio_delay/_repeat`.
    pub garp: GarpConfig,
    /// The `vrrp_sync_group` the instance is in.
    pub sync_group: Option<String>,
    /// Where the block starts.
    pub location: Location,
}

impl VrrpInstance {
    /// Whether adverts go to unicast peers rather than the multicast group.
    pub fn is_unicast(&self) -> bool {
        !self.unicast.peers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brd_resolves_as_ip_does() {
        let v4 = std::net::Ipv4Addr::new;
        let a = v4(10, 0, 0, 100);
        assert_eq!(Broadcast::AllHostBits.resolve(a, 24), v4(10, 0, 0, 255));
        assert_eq!(Broadcast::NoHostBits.resolve(a, 24), v4(10, 0, 0, 0));
        assert_eq!(Broadcast::AllHostBits.resolve(a, 22), v4(10, 0, 3, 255));
        assert_eq!(Broadcast::AllHostBits.resolve(a, 32), a);
        assert_eq!(Broadcast::NoHostBits.resolve(a, 32), a);
        assert_eq!(Broadcast::AllHostBits.resolve(a, 0), v4(255, 255, 255, 255));
        assert_eq!(Broadcast::NoHostBits.resolve(a, 0), v4(0, 0, 0, 0));
        let b = std::net::Ipv4Addr::new(10, 0, 0, 127);
        assert_eq!(Broadcast::Address(b).resolve(a, 24), b);
    }

    #[test]
    fn scopes_are_the_kernels_numbers() {
        let pairs = [
            (AddressScope::Global, 0),
            (AddressScope::Site, 200),
            (AddressScope::Link, 253),
            (AddressScope::Host, 254),
            (AddressScope::Nowhere, 255),
            (AddressScope::Number(42), 42),
        ];
        for (scope, n) in pairs {
            assert_eq!(scope.number(), n, "{scope:?}");
        }
    }
}
