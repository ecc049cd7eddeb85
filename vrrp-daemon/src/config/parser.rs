//! keepalived.conf grammar: tokens → statements and `{ }` blocks → raw values per keyword.
//!
//! A statement is a keyword and the values after it on the same line, plus a `{ }` block
//! if one follows (on the same line or the next, as keepalived accepts). Blocks nest, so
//! `virtual_ipaddress { 10.0.0.1 }` and `authentication {auth_type PASS` + `auth_pass x}`
//! parse like their multi-line forms.
//!
//! Each keyword's handler checks its value's syntax and range and stores it *raw*: what
//! the file says, with its location, and nothing for what it does not say. Defaults and
//! checks that need the whole file are left to `resolve`, because keepalived.conf may
//! define things after their use (`global_defs` after the instances, a `vrrp_script` after
//! the instance that tracks it).
use std::{collections::HashSet, net::IpAddr, time::Duration};

use super::{
    Diags, Location,
    lexer::{Token, TokenKind},
    model::{InitialState, VirtualAddress},
    suggest::did_you_mean,
};

// ===== raw values =====

/// A value and the statement that set it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Spanned<T> {
    pub(super) value: T,
    pub(super) loc: Location,
}

/// Everything the file says, per block, before defaults.
#[derive(Debug, Default)]
pub(super) struct RawConfig {
    pub(super) global: RawGlobal,
    pub(super) scripts: Vec<RawScript>,
    pub(super) instances: Vec<RawInstance>,
}

/// `global_defs` (all of them merged: keepalived allows several).
#[derive(Debug, Default)]
pub(super) struct RawGlobal {
    pub(super) router_id: Option<Spanned<String>>,
    pub(super) vrrp_version: Option<Spanned<u8>>,
    pub(super) script_user: Option<Spanned<String>>,
    pub(super) enable_script_security: bool,
    pub(super) garp_master_delay: Option<Spanned<u32>>,
    pub(super) garp_master_repeat: Option<Spanned<u32>>,
    /// Keywords that had an invalid value (already reported).
    pub(super) bad: HashSet<String>,
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
    pub(super) user: Option<Spanned<String>>,
    /// Keywords that had an invalid value (already reported).
    pub(super) bad: HashSet<String>,
    /// Part of the block was unusable (unsupported syntax, no block): its name exists, but
    /// nothing may be reported as missing from it.
    pub(super) tainted: bool,
}

/// `auth_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AuthType {
    Pass,
    Ah,
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

/// One `track_script` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RawTrack {
    pub(super) name: String,
    pub(super) weight: Option<i32>,
    /// `reverse` (true) or `noreverse` (false) after the weight; unset means the script's.
    pub(super) reverse: Option<bool>,
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
    pub(super) track_scripts: Vec<Spanned<RawTrack>>,
    /// `nopreempt` (true) or `preempt` (false), whichever came last.
    pub(super) nopreempt: Option<Spanned<bool>>,
    pub(super) preempt_delay: Option<Spanned<Duration>>,
    pub(super) notify_master: Option<Spanned<String>>,
    pub(super) notify_backup: Option<Spanned<String>>,
    pub(super) notify_fault: Option<Spanned<String>>,
    pub(super) notify_stop: Option<Spanned<String>>,
    pub(super) notify: Option<Spanned<String>>,
    pub(super) garp_master_delay: Option<Spanned<u32>>,
    pub(super) garp_master_repeat: Option<Spanned<u32>>,
    /// Keywords that had an invalid value (already reported).
    pub(super) bad: HashSet<String>,
    /// Part of the block used unsupported syntax (already reported): nothing may be
    /// reported as missing from it.
    pub(super) tainted: bool,
}

impl RawInstance {
    fn new(name: String, loc: Location) -> Self {
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
            track_scripts: Vec::new(),
            nopreempt: None,
            preempt_delay: None,
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            notify_stop: None,
            notify: None,
            garp_master_delay: None,
            garp_master_repeat: None,
            bad: HashSet::new(),
            tainted: false,
        }
    }
}

// ===== keyword tables =====

/// Where a statement is; decides which keywords are known there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    Top,
    Global,
    Script,
    Instance,
    Auth,
}

const TOP_HANDLED: &[&str] = &["global_defs", "vrrp_script", "vrrp_instance"];

/// LVS / health-checker blocks: a whole other daemon in keepalived; skipped as a whole.
const LVS_BLOCKS: &[&str] = &[
    "virtual_server",
    "virtual_server_group",
    "real_server",
    "SSL",
];

/// Known keepalived keywords this daemon does not act on, each with what that means for
/// the operator ("" = harmless: "accepted, not acted on").
const TOP_IGNORED: &[(&str, &str)] = &[
    (
        "vrrp_sync_group",
        "the instances of the group fail over independently",
    ),
    ("vrrp_track_process", "processes are not tracked"),
    ("track_file", "files are not tracked"),
    ("vrrp_track_file", "files are not tracked"),
    ("garp_group", "GARPs are not paced per interface group"),
    ("linkbeat_interfaces", "links are watched through netlink"),
    ("interface_up_down_delays", "link changes are not delayed"),
    ("static_ipaddress", "these addresses are not added"),
    ("static_routes", "these routes are not added"),
    ("static_rules", "these rules are not added"),
    ("track_group", ""),
    ("bfd_instance", "BFD sessions are not run"),
    ("linkbeat_use_polling", ""),
    (
        "net_namespace",
        "the daemon runs in the namespace it is started in",
    ),
    ("net_namespace_ipvs", ""),
    ("namespace_with_ipsets", ""),
    ("use_pid_dir", ""),
    ("instance", ""),
    ("child_wait_time", ""),
];

const GLOBAL_HANDLED: &[&str] = &[
    "router_id",
    "vrrp_version",
    "script_user",
    "enable_script_security",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
];

/// Every other `global_defs` keyword of keepalived 2.2.7 (`core/global_parser.c`).
const GLOBAL_IGNORED: &[(&str, &str)] = &[
    ("process_names", ""),
    ("process_name", ""),
    ("vrrp_process_name", ""),
    ("checker_process_name", ""),
    ("lvs_process_name", ""),
    ("bfd_process_name", ""),
    ("notification_email_from", ""),
    ("smtp_server", ""),
    ("smtp_helo_name", ""),
    ("smtp_connect_timeout", ""),
    ("notification_email", ""),
    ("smtp_alert", ""),
    ("startup_script", ""),
    ("startup_script_timeout", ""),
    ("shutdown_script", ""),
    ("shutdown_script_timeout", ""),
    ("max_auto_priority", ""),
    ("min_auto_priority_delay", ""),
    ("smtp_alert_vrrp", ""),
    ("smtp_alert_checker", ""),
    ("checker_log_all_failures", ""),
    ("dynamic_interfaces", ""),
    ("no_email_faults", ""),
    ("default_interface", ""),
    ("disable_local_igmp", ""),
    ("lvs_timeouts", ""),
    ("lvs_flush", ""),
    ("lvs_flush_on_stop", ""),
    ("lvs_flush_onstop", ""),
    ("lvs_sync_daemon", ""),
    ("lvs_id", ""),
    ("vrrp_mcast_group4", ""),
    ("vrrp_mcast_group6", ""),
    ("vrrp_garp_master_refresh", ""),
    ("vrrp_garp_master_refresh_repeat", ""),
    ("vrrp_garp_lower_prio_delay", ""),
    ("vrrp_garp_lower_prio_repeat", ""),
    ("vrrp_down_timer_adverts", ""),
    ("vrrp_garp_interval", ""),
    ("vrrp_gna_interval", ""),
    ("vrrp_min_garp", ""),
    ("vrrp_garp_extra_if", ""),
    ("vrrp_vmac_garp_intvl", ""),
    ("vrrp_lower_prio_no_advert", ""),
    ("vrrp_higher_prio_send_advert", ""),
    ("vrrp_iptables", ""),
    ("vrrp_ipsets", ""),
    ("nftables", ""),
    ("nftables_priority", ""),
    ("nftables_ifindex", ""),
    ("nftables_ipvs", ""),
    ("nftables_ipvs_priority", ""),
    ("nftables_ipvs_start_fwmark", ""),
    ("nftables_counters", ""),
    ("vrrp_check_unicast_src", ""),
    ("vrrp_skip_check_adv_addr", ""),
    ("vrrp_strict", ""),
    ("vrrp_priority", ""),
    ("vrrp_no_swap", ""),
    ("vrrp_rt_priority", ""),
    ("vrrp_cpu_affinity", ""),
    ("vrrp_rlimit_rttime", ""),
    ("vrrp_rlimit_rtime", ""),
    ("notify_fifo", ""),
    ("notify_fifo_script", ""),
    ("vrrp_notify_fifo", ""),
    ("vrrp_notify_fifo_script", ""),
    ("vrrp_notify_priority_changes", ""),
    ("fifo_write_vrrp_states_on_reload", ""),
    ("lvs_notify_fifo", ""),
    ("lvs_notify_fifo_script", ""),
    ("checker_priority", ""),
    ("checker_no_swap", ""),
    ("checker_rt_priority", ""),
    ("checker_cpu_affinity", ""),
    ("checker_rlimit_rttime", ""),
    ("checker_rlimit_rtime", ""),
    ("bfd_priority", ""),
    ("bfd_no_swap", ""),
    ("bfd_rt_priority", ""),
    ("bfd_cpu_affinity", ""),
    ("bfd_rlimit_rttime", ""),
    ("bfd_rlimit_rtime", ""),
    ("snmp_socket", ""),
    ("enable_traps", ""),
    ("enable_snmp_vrrp", ""),
    ("enable_snmp_keepalived", ""),
    ("enable_snmp_rfc", ""),
    ("enable_snmp_rfcv2", ""),
    ("enable_snmp_rfcv3", ""),
    ("enable_snmp_checker", ""),
    ("enable_dbus", ""),
    ("dbus_service_name", ""),
    ("vrrp_netlink_cmd_rcv_bufs", ""),
    ("vrrp_netlink_cmd_rcv_bufs_force", ""),
    ("vrrp_netlink_monitor_rcv_bufs", ""),
    ("vrrp_netlink_monitor_rcv_bufs_force", ""),
    ("process_monitor_rcv_bufs", ""),
    ("process_monitor_rcv_bufs_force", ""),
    ("lvs_netlink_cmd_rcv_bufs", ""),
    ("lvs_netlink_cmd_rcv_bufs_force", ""),
    ("lvs_netlink_monitor_rcv_bufs", ""),
    ("lvs_netlink_monitor_rcv_bufs_force", ""),
    ("rs_init_notifies", ""),
    ("no_checker_emails", ""),
    ("vrrp_rx_bufs_policy", ""),
    ("vrrp_rx_bufs_multiplier", ""),
    ("vrrp_startup_delay", ""),
    ("log_unknown_vrids", ""),
    ("vmac_prefix", ""),
    ("vmac_addr_prefix", ""),
    ("umask", ""),
    ("random_seed", ""),
    ("reload_check_config", ""),
    ("reload_time_file", ""),
    ("reload_repeat", ""),
    ("reload_file", ""),
    ("include_check", ""),
    ("config_save_dir", ""),
    ("tmp_config_directory", ""),
    ("data_use_instance", ""),
    // Also accepted at top level by keepalived, and commonly written here.
    ("linkbeat_use_polling", ""),
    ("net_namespace", ""),
    ("use_pid_dir", ""),
    ("instance", ""),
    ("child_wait_time", ""),
];

const SCRIPT_HANDLED: &[&str] = &[
    "script",
    "interval",
    "timeout",
    "weight",
    "rise",
    "fall",
    "init_fail",
    "user",
];

const INSTANCE_HANDLED: &[&str] = &[
    "state",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "authentication",
    "virtual_ipaddress",
    "track_script",
    "nopreempt",
    "preempt",
    "preempt_delay",
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify",
    "garp_master_delay",
    "garp_master_repeat",
];

/// The other `vrrp_instance` keywords of keepalived 2.2.7 (`vrrp/vrrp_parser.c`).
const INSTANCE_IGNORED: &[(&str, &str)] = &[
    (
        "use_vmac",
        "the addresses go on the interface itself, not on a VMAC",
    ),
    (
        "use_vmac_addr",
        "the addresses go on the interface itself, not on a VMAC",
    ),
    (
        "vmac_xmit_base",
        "the addresses go on the interface itself, not on a VMAC",
    ),
    (
        "use_ipvlan",
        "the addresses go on the interface itself, not on an ipvlan",
    ),
    ("unicast_peer", "adverts are sent by multicast"),
    ("unicast_fault_no_peer", "adverts are sent by multicast"),
    ("check_unicast_src", "adverts are sent by multicast"),
    (
        "unicast_src_ip",
        "adverts are sent by multicast from the interface's address",
    ),
    ("unicast_ttl", "adverts are sent by multicast"),
    ("old_unicast_checksum", "adverts are sent by multicast"),
    (
        "mcast_src_ip",
        "adverts use the interface's primary address",
    ),
    ("mcast_dst_ip", "adverts go to the standard VRRP group"),
    ("native_ipv6", ""),
    ("vrf", "the instance is not bound to a VRF"),
    (
        "dont_track_primary",
        "a fault of the interface still puts the instance in FAULT",
    ),
    (
        "track_interface",
        "interfaces other than the instance's are not tracked",
    ),
    ("track_file", "files are not tracked"),
    ("track_process", "processes are not tracked"),
    ("track_bfd", "BFD sessions are not tracked"),
    ("track_src_ip", "the source address is not tracked"),
    (
        "virtual_ipaddress_excluded",
        "these addresses are not added",
    ),
    ("virtual_routes", "these routes are not added"),
    ("virtual_rules", "these rules are not added"),
    ("promote_secondaries", ""),
    ("linkbeat_use_polling", ""),
    ("accept", ""),
    ("no_accept", "the addresses accept traffic in BACKUP too"),
    ("skip_check_adv_addr", ""),
    (
        "strict_mode",
        "RFC strictness is not enforced beyond the defaults",
    ),
    ("debug", ""),
    ("notify_deleted", ""),
    ("notify_master_rx_lower_pri", "that script is not run"),
    ("smtp_alert", ""),
    ("notify_priority_changes", ""),
    ("lvs_sync_daemon_interface", ""),
    (
        "garp_master_refresh",
        "no periodic GARPs are sent while master",
    ),
    (
        "garp_master_refresh_repeat",
        "no periodic GARPs are sent while master",
    ),
    ("garp_lower_prio_delay", ""),
    ("garp_lower_prio_repeat", ""),
    (
        "down_timer_adverts",
        "the master-down interval is 3 adverts",
    ),
    ("garp_extra_if", ""),
    ("vmac_garp_intvl", ""),
    ("lower_prio_no_advert", ""),
    ("higher_prio_send_advert", ""),
    ("kernel_rx_buf_size", ""),
];

const AUTH_HANDLED: &[&str] = &["auth_type", "auth_pass"];

impl Ctx {
    /// Where the statement is, for messages.
    fn place(self) -> &'static str {
        match self {
            Ctx::Top => "at top level",
            Ctx::Global => "in global_defs",
            Ctx::Script => "in vrrp_script",
            Ctx::Instance => "in vrrp_instance",
            Ctx::Auth => "in authentication",
        }
    }

    /// The block to move a keyword to, for messages.
    fn block(self) -> &'static str {
        match self {
            Ctx::Top => "the top level",
            Ctx::Global => "global_defs { }",
            Ctx::Script => "a vrrp_script NAME { } block",
            Ctx::Instance => "a vrrp_instance NAME { } block",
            Ctx::Auth => "an authentication { } block",
        }
    }

    fn handled(self) -> &'static [&'static str] {
        match self {
            Ctx::Top => TOP_HANDLED,
            Ctx::Global => GLOBAL_HANDLED,
            Ctx::Script => SCRIPT_HANDLED,
            Ctx::Instance => INSTANCE_HANDLED,
            Ctx::Auth => AUTH_HANDLED,
        }
    }

    fn ignored(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Ctx::Top => TOP_IGNORED,
            Ctx::Global => GLOBAL_IGNORED,
            Ctx::Instance => INSTANCE_IGNORED,
            Ctx::Script | Ctx::Auth => &[],
        }
    }

    /// Every keyword keepalived knows here (what "did you mean" chooses from).
    fn known(self) -> impl Iterator<Item = &'static str> {
        let lvs = if self == Ctx::Top { LVS_BLOCKS } else { &[] };
        self.handled()
            .iter()
            .copied()
            .chain(self.ignored().iter().map(|(k, _)| *k))
            .chain(lvs.iter().copied())
    }

    fn knows(self, keyword: &str) -> bool {
        self.known().any(|k| k == keyword)
    }
}

// ===== syntax tree =====

/// `keyword values... [{ block }]`.
struct Stmt<'t> {
    keyword: &'t Token,
    args: Vec<&'t Token>,
    block: Option<Block<'t>>,
}

struct Block<'t> {
    open: &'t Token,
    stmts: Vec<Stmt<'t>>,
}

impl Stmt<'_> {
    fn kw(&self) -> &str {
        &self.keyword.text
    }

    fn loc(&self) -> &Location {
        &self.keyword.loc
    }

    /// Holds `@host` or `$VAR` (reported by the lexer): skipped without further messages.
    fn unsupported(&self) -> bool {
        self.keyword.unsupported || self.args.iter().any(|a| a.unsupported)
    }
}

/// How deep blocks may nest; keepalived's deepest real nesting is 4.
const MAX_NESTING: usize = 16;

struct TreeBuilder<'t, 'd> {
    tokens: &'t [Token],
    pos: usize,
    diags: &'d mut Diags,
}

impl<'t> TreeBuilder<'t, '_> {
    /// Statements up to the `}` matching `open` (`None`: to the end, at top level).
    fn stmts(&mut self, open: Option<(&'t Token, &str)>, depth: usize) -> Vec<Stmt<'t>> {
        let mut stmts = Vec::new();
        loop {
            let Some(token) = self.tokens.get(self.pos) else {
                if let Some((brace, owner)) = open {
                    self.diags.error(
                        &brace.loc,
                        format!(
                            "the `{{` of {owner} is never closed; add a `}}` where its block ends"
                        ),
                    );
                }
                return stmts;
            };
            match token.kind {
                TokenKind::Close => {
                    self.pos += 1;
                    if open.is_some() {
                        return stmts;
                    }
                    self.diags.error(
                        &token.loc,
                        "this `}` closes no block; remove it, or add the `{` it should close",
                    );
                }
                TokenKind::Open => {
                    self.pos += 1;
                    self.diags.error(
                        &token.loc,
                        "this `{` follows no keyword; write the block's keyword before it \
                         (e.g. `virtual_ipaddress {`) or remove the braces",
                    );
                    let _ = self.block(token, "this block", depth);
                }
                TokenKind::Word | TokenKind::Quoted => stmts.push(self.stmt(depth)),
            }
        }
    }

    fn stmt(&mut self, depth: usize) -> Stmt<'t> {
        let keyword = &self.tokens[self.pos];
        self.pos += 1;
        let mut args = Vec::new();
        while let Some(token) = self.tokens.get(self.pos)
            && token.is_value()
            && !token.starts_line
        {
            args.push(token);
            self.pos += 1;
        }
        let block = match self.tokens.get(self.pos) {
            Some(open) if open.kind == TokenKind::Open => {
                self.pos += 1;
                let owner = match args.first() {
                    Some(name) => format!("`{} {}`", keyword.text, name.text),
                    None => format!("`{}`", keyword.text),
                };
                Some(self.block(open, &owner, depth))
            }
            _ => None,
        };
        Stmt {
            keyword,
            args,
            block,
        }
    }

    /// The block after `open` (already consumed).
    fn block(&mut self, open: &'t Token, owner: &str, depth: usize) -> Block<'t> {
        if depth >= MAX_NESTING {
            self.diags.error(
                &open.loc,
                format!(
                    "blocks are nested more than {MAX_NESTING} deep here; keepalived.conf \
                     needs at most 4 levels, so look for `{{` that should be `}}`"
                ),
            );
            self.skip_balanced();
            return Block {
                open,
                stmts: Vec::new(),
            };
        }
        Block {
            open,
            stmts: self.stmts(Some((open, owner)), depth + 1),
        }
    }

    /// Skips to after the `}` matching an already consumed `{`.
    fn skip_balanced(&mut self) {
        let mut level = 1usize;
        while let Some(token) = self.tokens.get(self.pos) {
            self.pos += 1;
            match token.kind {
                TokenKind::Open => level += 1,
                TokenKind::Close => {
                    level -= 1;
                    if level == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }
}

// ===== keyword handlers =====

/// Parses tokens into raw values, reporting every syntax and value problem.
pub(super) fn parse(tokens: &[Token], diags: &mut Diags) -> RawConfig {
    let stmts = TreeBuilder {
        tokens,
        pos: 0,
        diags: &mut *diags,
    }
    .stmts(None, 0);
    let mut walker = Walker { diags, lvs: None };
    let mut raw = RawConfig::default();
    for stmt in &stmts {
        walker.top(stmt, &mut raw);
    }
    raw
}

/// A range for a number, with what to call its unit in messages.
struct Range {
    min: i64,
    max: i64,
    /// "a number", "whole seconds", ...: completes "use ... from MIN to MAX".
    what: &'static str,
}

/// keepalived's limit for values kept in µs in a 32-bit unsigned (`UINT_MAX / TIMER_HZ`).
const MAX_SECONDS: i64 = u32::MAX as i64 / 1_000_000;

const VRID: Range = Range {
    min: 1,
    max: 255,
    what: "a number",
};
const PRIORITY: Range = VRID;
const WEIGHT: Range = Range {
    min: -253,
    max: 253,
    what: "a number",
};
const SCRIPT_SECONDS: Range = Range {
    min: 1,
    max: MAX_SECONDS,
    what: "whole seconds",
};
const RISE_FALL: Range = Range {
    min: 1,
    max: i32::MAX as i64,
    what: "a number",
};
const GARP_DELAY: Range = Range {
    min: 0,
    max: MAX_SECONDS,
    what: "whole seconds",
};
const GARP_REPEAT: Range = Range {
    min: 0,
    max: u32::MAX as i64,
    what: "a number",
};
/// `preempt_delay`, in µs.
const MAX_PREEMPT_DELAY_US: u64 = 1_000 * 1_000_000;

/// Linux's IFNAMSIZ less the terminating NUL.
const MAX_IFNAME: usize = 15;

struct Walker<'d> {
    diags: &'d mut Diags,
    /// The LVS warning: its index in the warnings, how many blocks it covers, and the
    /// keyword of the first.
    lvs: Option<(usize, usize, String)>,
}

impl Walker<'_> {
    fn top(&mut self, s: &Stmt<'_>, raw: &mut RawConfig) {
        if s.unsupported() {
            return;
        }
        match s.kw() {
            "global_defs" => {
                self.no_name(s);
                if let Some(block) = self.need_block(s, "`global_defs { router_id LB1 }`") {
                    let global = &mut raw.global;
                    for st in &block.stmts {
                        if st.unsupported() {
                            continue;
                        }
                        let errors = self.diags.errors.len();
                        self.global(st, global);
                        if self.diags.errors.len() > errors {
                            global.bad.insert(st.kw().to_owned());
                        }
                    }
                }
            }
            "vrrp_script" => self.script(s, raw),
            "vrrp_instance" => self.instance(s, raw),
            kw if LVS_BLOCKS.contains(&kw) => self.lvs(s),
            _ => self.other(s, Ctx::Top),
        }
    }

    /// One warning for all LVS blocks, at the first, counting the others.
    fn lvs(&mut self, s: &Stmt<'_>) {
        match &mut self.lvs {
            Some((index, count, first)) => {
                *count += 1;
                self.diags.warnings[*index].message = lvs_message(first, *count);
            }
            None => {
                self.lvs = Some((self.diags.warnings.len(), 1, s.kw().to_owned()));
                self.diags.warn(s.loc(), lvs_message(s.kw(), 1));
            }
        }
    }

    /// A keyword no handler took: known but not acted on, misplaced, or unknown.
    fn other(&mut self, s: &Stmt<'_>, ctx: Ctx) {
        let kw = s.kw();
        if let Some((_, note)) = ctx.ignored().iter().find(|(k, _)| *k == kw) {
            let message = if note.is_empty() {
                format!("`{kw}` is accepted, not acted on; remove it to silence this warning")
            } else {
                format!(
                    "`{kw}` is not supported yet and is ignored: {note}; remove it to silence \
                     this warning"
                )
            };
            self.diags.warn(s.loc(), message);
            return;
        }
        let elsewhere = [Ctx::Instance, Ctx::Global, Ctx::Script, Ctx::Auth, Ctx::Top]
            .into_iter()
            .find(|c| *c != ctx && c.knows(kw));
        let message = if let Some(home) = elsewhere {
            format!(
                "`{kw}` belongs in {}, not {}; it is ignored here: move it (or check the \
                 braces around it)",
                home.block(),
                ctx.place()
            )
        } else if let Some(near) = did_you_mean(kw, ctx.known()) {
            format!(
                "unknown keyword `{kw}` {} is ignored; did you mean `{near}`?",
                ctx.place()
            )
        } else {
            format!(
                "unknown keyword `{kw}` {} is ignored; check its spelling or remove it",
                ctx.place()
            )
        };
        self.diags.warn(s.loc(), message);
    }

    // ----- global_defs -----

    fn global(&mut self, s: &Stmt<'_>, g: &mut RawGlobal) {
        match s.kw() {
            "router_id" => {
                if let Some(v) = self.value(s, "router_id LB1") {
                    set(self.diags, &mut g.router_id, s, v.text.clone());
                }
            }
            "vrrp_version" => {
                if let Some(v) = self.value(s, "vrrp_version 3")
                    && let Some(version) = self.version(s, v)
                {
                    set(self.diags, &mut g.vrrp_version, s, version);
                }
            }
            "script_user" => {
                if let Some(user) = self.user(s, "script_user keepalived_script") {
                    set(self.diags, &mut g.script_user, s, user);
                }
            }
            "enable_script_security" => {
                if self.flag(s) {
                    g.enable_script_security = true;
                }
            }
            "vrrp_garp_master_delay" => {
                if let Some(delay) = self.number_value(s, "vrrp_garp_master_delay 5", &GARP_DELAY) {
                    set(self.diags, &mut g.garp_master_delay, s, delay as u32);
                }
            }
            "vrrp_garp_master_repeat" => {
                if let Some(repeat) = self.garp_repeat(s, "vrrp_garp_master_repeat 5") {
                    set(self.diags, &mut g.garp_master_repeat, s, repeat);
                }
            }
            _ => self.other(s, Ctx::Global),
        }
    }

    // ----- vrrp_script -----

    fn script(&mut self, s: &Stmt<'_>, raw: &mut RawConfig) {
        let Some(name) = self.name(s, "vrrp_script chk_nginx {") else {
            return;
        };
        let mut script = RawScript {
            name,
            loc: s.loc().clone(),
            script: None,
            interval: None,
            timeout: None,
            weight: None,
            rise: None,
            fall: None,
            init_fail: false,
            user: None,
            bad: HashSet::new(),
            tainted: false,
        };
        match self.need_block(
            s,
            "vrrp_script chk_nginx { script \"/usr/local/bin/check.sh\" }",
        ) {
            Some(block) => {
                for st in &block.stmts {
                    if st.unsupported() {
                        script.tainted = true;
                        continue;
                    }
                    let errors = self.diags.errors.len();
                    self.script_stmt(st, &mut script);
                    if self.diags.errors.len() > errors {
                        script.bad.insert(st.kw().to_owned());
                    }
                }
            }
            None => script.tainted = true,
        }
        raw.scripts.push(script);
    }

    fn script_stmt(&mut self, s: &Stmt<'_>, sc: &mut RawScript) {
        match s.kw() {
            "script" => {
                self.leaf(s);
                if s.args.is_empty() {
                    self.diags.error(
                        s.loc(),
                        "`script` needs a command; write e.g. `script \"/usr/local/bin/check.sh\"`",
                    );
                } else {
                    set(self.diags, &mut sc.script, s, command_line(&s.args));
                }
            }
            "interval" => {
                if let Some(n) = self.number_value(s, "interval 2", &SCRIPT_SECONDS) {
                    set(self.diags, &mut sc.interval, s, n as u32);
                }
            }
            "timeout" => {
                if let Some(n) = self.number_value(s, "timeout 2", &SCRIPT_SECONDS) {
                    set(self.diags, &mut sc.timeout, s, n as u32);
                }
            }
            "weight" => {
                self.leaf(s);
                match s.args.as_slice() {
                    [] => self.needs_value(s, "weight -20"),
                    [w, rest @ ..] => {
                        let reverse = match rest {
                            [] => Some(false),
                            [r] if r.text == "reverse" => Some(true),
                            [r] => {
                                self.diags.error(
                                    s.loc(),
                                    format!(
                                        "unknown weight option `{}`; write `weight {} reverse` \
                                         or leave the option out",
                                        r.text, w.text
                                    ),
                                );
                                None
                            }
                            [_, extra, ..] => {
                                self.too_many(s, extra, "weight -20 reverse");
                                None
                            }
                        };
                        let weight = self.number(s.loc(), "weight", w, &WEIGHT);
                        if let (Some(weight), Some(reverse)) = (weight, reverse) {
                            set(self.diags, &mut sc.weight, s, (weight as i32, reverse));
                        }
                    }
                }
            }
            "rise" => {
                if let Some(n) = self.number_value(s, "rise 2", &RISE_FALL) {
                    set(self.diags, &mut sc.rise, s, n as u32);
                }
            }
            "fall" => {
                if let Some(n) = self.number_value(s, "fall 2", &RISE_FALL) {
                    set(self.diags, &mut sc.fall, s, n as u32);
                }
            }
            "init_fail" => {
                if self.flag(s) {
                    sc.init_fail = true;
                }
            }
            "user" => {
                if let Some(user) = self.user(s, "user nobody") {
                    set(self.diags, &mut sc.user, s, user);
                }
            }
            _ => self.other(s, Ctx::Script),
        }
    }

    // ----- vrrp_instance -----

    fn instance(&mut self, s: &Stmt<'_>, raw: &mut RawConfig) {
        let Some(name) = self.name(s, "vrrp_instance VI_1 {") else {
            return;
        };
        let Some(block) = self.need_block(
            s,
            "`vrrp_instance VI_1 {` followed by its keywords (`interface eth0`, ...) and `}`",
        ) else {
            return;
        };
        let mut inst = RawInstance::new(name, s.loc().clone());
        for st in &block.stmts {
            if st.unsupported() {
                inst.tainted = true;
                continue;
            }
            let errors = self.diags.errors.len();
            self.instance_stmt(st, &mut inst);
            if self.diags.errors.len() > errors {
                inst.bad.insert(st.kw().to_owned());
            }
        }
        raw.instances.push(inst);
    }

    fn instance_stmt(&mut self, s: &Stmt<'_>, inst: &mut RawInstance) {
        match s.kw() {
            "state" => {
                if let Some(v) = self.value(s, "state BACKUP") {
                    let state = match v.text.as_str() {
                        "MASTER" => Some(InitialState::Master),
                        "BACKUP" => Some(InitialState::Backup),
                        other => {
                            self.diags.error(
                                s.loc(),
                                format!(
                                    "state {other} is invalid; use MASTER or BACKUP (in capitals)"
                                ),
                            );
                            None
                        }
                    };
                    if let Some(state) = state {
                        set(self.diags, &mut inst.state, s, state);
                    }
                }
            }
            "interface" => {
                if let Some(v) = self.value(s, "interface eth0")
                    && self.ifname(s.loc(), "interface", &v.text)
                {
                    set(self.diags, &mut inst.interface, s, v.text.clone());
                }
            }
            "virtual_router_id" => {
                if let Some(n) = self.number_value(s, "virtual_router_id 51", &VRID) {
                    set(self.diags, &mut inst.vrid, s, n as u8);
                }
            }
            "priority" => {
                if let Some(n) = self.number_value(s, "priority 100", &PRIORITY) {
                    set(self.diags, &mut inst.priority, s, n as u8);
                }
            }
            "advert_int" => {
                if let Some(v) = self.value(s, "advert_int 1")
                    && let Some(micros) = self.seconds(s, v, "e.g. `advert_int 1`")
                {
                    let seconds = Seconds {
                        micros,
                        text: v.text.clone(),
                    };
                    set(self.diags, &mut inst.advert_int, s, seconds);
                }
            }
            "version" => {
                if let Some(v) = self.value(s, "version 3")
                    && let Some(version) = self.version(s, v)
                {
                    set(self.diags, &mut inst.version, s, version);
                }
            }
            "authentication" => {
                self.no_name(s);
                if let Some(block) = self.need_block(
                    s,
                    "`authentication {`, then `auth_type PASS` and `auth_pass secret` on \
                         lines of their own, then `}`",
                ) {
                    if inst.auth.is_some() {
                        self.again(s, inst.auth.as_ref().map(|a| &a.loc));
                    }
                    let mut auth = RawAuth {
                        loc: s.loc().clone(),
                        auth_type: None,
                        auth_pass: None,
                    };
                    for st in &block.stmts {
                        if st.unsupported() {
                            inst.tainted = true;
                        } else {
                            self.auth_stmt(st, &mut auth);
                        }
                    }
                    inst.auth = Some(auth);
                }
            }
            "virtual_ipaddress" => {
                self.no_name(s);
                if let Some(block) = self.need_block(s, "`virtual_ipaddress { 192.168.1.100/24 }`")
                {
                    for entry in &block.stmts {
                        if entry.unsupported() {
                            inst.tainted = true;
                        } else if let Some(vip) = self.vip(entry) {
                            inst.vips.push(vip);
                        }
                    }
                }
            }
            "track_script" => {
                self.no_name(s);
                if let Some(block) = self.need_block(s, "`track_script { chk_nginx }`") {
                    for entry in &block.stmts {
                        if entry.unsupported() {
                            inst.tainted = true;
                        } else if let Some(track) = self.track(entry) {
                            inst.track_scripts.push(track);
                        }
                    }
                }
            }
            "nopreempt" | "preempt" => {
                // keepalived: whichever comes last wins, silently (`preempt` is a no-op
                // otherwise, kept for old configurations).
                if self.flag(s) {
                    inst.nopreempt = Some(Spanned {
                        value: s.kw() == "nopreempt",
                        loc: s.loc().clone(),
                    });
                }
            }
            "preempt_delay" => {
                if let Some(v) = self.value(s, "preempt_delay 10")
                    && let Some(micros) = self.seconds(s, v, "seconds from 0 to 1000")
                {
                    if micros > MAX_PREEMPT_DELAY_US {
                        self.diags.error(
                            s.loc(),
                            format!(
                                "preempt_delay {} is out of range; use seconds from 0 to 1000",
                                v.text
                            ),
                        );
                    } else {
                        set(
                            self.diags,
                            &mut inst.preempt_delay,
                            s,
                            Duration::from_micros(micros),
                        );
                    }
                }
            }
            "notify_master" => self.notify(s, &mut inst.notify_master),
            "notify_backup" => self.notify(s, &mut inst.notify_backup),
            "notify_fault" => self.notify(s, &mut inst.notify_fault),
            "notify_stop" => self.notify(s, &mut inst.notify_stop),
            "notify" => self.notify(s, &mut inst.notify),
            "garp_master_delay" => {
                if let Some(delay) = self.number_value(s, "garp_master_delay 5", &GARP_DELAY) {
                    set(self.diags, &mut inst.garp_master_delay, s, delay as u32);
                }
            }
            "garp_master_repeat" => {
                if let Some(repeat) = self.garp_repeat(s, "garp_master_repeat 5") {
                    set(self.diags, &mut inst.garp_master_repeat, s, repeat);
                }
            }
            _ => self.other(s, Ctx::Instance),
        }
    }

    fn auth_stmt(&mut self, s: &Stmt<'_>, auth: &mut RawAuth) {
        match s.kw() {
            "auth_type" => {
                if let Some(v) = self.value(s, "auth_type PASS") {
                    let auth_type = match v.text.as_str() {
                        "PASS" => Some(AuthType::Pass),
                        "AH" => Some(AuthType::Ah),
                        other => {
                            self.diags.error(
                                s.loc(),
                                format!("auth_type {other} is invalid; use PASS (or AH)"),
                            );
                            None
                        }
                    };
                    if let Some(auth_type) = auth_type {
                        set(self.diags, &mut auth.auth_type, s, auth_type);
                    }
                }
            }
            "auth_pass" => {
                if let Some(v) = self.value(s, "auth_pass secret") {
                    let bytes = v.text.as_bytes();
                    if bytes.is_empty() {
                        self.diags.error(
                            s.loc(),
                            "auth_pass is empty; write a password of 1 to 8 characters",
                        );
                        return;
                    }
                    if bytes.len() > 8 {
                        let kept = String::from_utf8_lossy(&bytes[..8]).into_owned();
                        self.diags.warn(
                            s.loc(),
                            format!(
                                "auth_pass is longer than 8 characters and is cut to `{kept}` \
                                 (as keepalived does); write `auth_pass {kept}` on every node"
                            ),
                        );
                    }
                    let mut pass = [0u8; 8];
                    let n = bytes.len().min(8);
                    pass[..n].copy_from_slice(&bytes[..n]);
                    set(self.diags, &mut auth.auth_pass, s, pass);
                }
            }
            _ => self.other(s, Ctx::Auth),
        }
    }

    /// One `virtual_ipaddress` line: `ADDR[/LEN] [dev IF] [label L] [brd X] [scope S] ...`.
    fn vip(&mut self, e: &Stmt<'_>) -> Option<Spanned<VirtualAddress>> {
        self.leaf(e);
        let text = e.kw();
        let (addr_text, len_text) = match text.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (text, None),
        };
        let Ok(addr) = addr_text.parse::<IpAddr>() else {
            self.diags.error(
                e.loc(),
                format!(
                    "`{text}` is not an IP address; write one address per line, e.g. \
                     `192.168.1.100/24 dev eth0`"
                ),
            );
            return None;
        };
        let max_len: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len_text {
            None => max_len,
            Some(len) => match len.parse::<u8>() {
                Ok(n) if n <= max_len && len.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => {
                    self.diags.error(
                        e.loc(),
                        format!(
                            "prefix length /{len} of {text} is invalid; use /0 to /{max_len} \
                             (or leave it out for /{max_len})"
                        ),
                    );
                    return None;
                }
            },
        };
        let mut vip = VirtualAddress {
            addr,
            prefix_len,
            dev: None,
            label: None,
        };
        let mut ok = true;
        let mut i = 0;
        while let Some(option) = e.args.get(i) {
            let opt = option.text.as_str();
            match opt {
                "dev" | "label" | "brd" | "broadcast" | "scope" | "peer" | "preferred_lft" => {
                    let Some(value) = e.args.get(i + 1) else {
                        self.diags.error(
                            &option.loc,
                            format!(
                                "`{opt}` needs a value after it; write e.g. `{}`",
                                vip_example(opt)
                            ),
                        );
                        return None;
                    };
                    i += 2;
                    let v = value.text.as_str();
                    match opt {
                        "dev" => {
                            if vip.dev.is_some() {
                                self.diags.error(
                                    &option.loc,
                                    format!("`dev` is given twice for {text}; keep one"),
                                );
                                ok = false;
                            } else if self.ifname(&option.loc, "dev", v) {
                                vip.dev = Some(v.to_owned());
                            } else {
                                ok = false;
                            }
                        }
                        "label" if v.len() > MAX_IFNAME => {
                            self.diags.error(
                                &option.loc,
                                format!(
                                    "label `{v}` is longer than {MAX_IFNAME} characters; use a \
                                     shorter one such as `eth0:1`"
                                ),
                            );
                            ok = false;
                        }
                        "label" if addr.is_ipv6() => self.diags.warn(
                            &option.loc,
                            format!(
                                "label `{v}` is ignored on IPv6 address {text} (Linux labels \
                                 only IPv4 addresses); remove it"
                            ),
                        ),
                        "label" => vip.label = Some(v.to_owned()),
                        "brd" | "broadcast" => {
                            if addr.is_ipv6() {
                                self.diags.error(
                                    &option.loc,
                                    format!(
                                        "`{opt}` is not valid for IPv6 address {text} (IPv6 has \
                                         no broadcast); remove it"
                                    ),
                                );
                                ok = false;
                            } else if v != "+"
                                && v != "-"
                                && v.parse::<std::net::Ipv4Addr>().is_err()
                            {
                                self.diags.error(
                                    &option.loc,
                                    format!(
                                        "`{opt} {v}` is invalid; use an IPv4 address, `+` (all \
                                         host bits set) or `-` (none)"
                                    ),
                                );
                                ok = false;
                            } else {
                                self.not_acted_on(
                                    &option.loc,
                                    opt,
                                    "the kernel's default broadcast applies",
                                );
                            }
                        }
                        "scope" => {
                            let known = ["global", "site", "link", "host", "nowhere"].contains(&v)
                                || v.parse::<u8>().is_ok();
                            if !known {
                                self.diags.error(
                                    &option.loc,
                                    format!(
                                        "scope {v} is invalid; use global, site, link, host or \
                                         nowhere"
                                    ),
                                );
                                ok = false;
                            } else if addr.is_ipv6() {
                                self.diags.warn(
                                    &option.loc,
                                    format!(
                                        "scope is ignored on IPv6 address {text} (as keepalived \
                                         does); remove it"
                                    ),
                                );
                            } else {
                                self.not_acted_on(
                                    &option.loc,
                                    opt,
                                    "the address is added with scope global",
                                );
                            }
                        }
                        _ => self.not_acted_on(&option.loc, opt, ""),
                    }
                }
                "home" | "-nodad" | "mngtmpaddr" | "noprefixroute" | "autojoin" | "no_track"
                | "use_vmac" => {
                    i += 1;
                    self.not_acted_on(&option.loc, opt, "");
                }
                _ => {
                    ok = false;
                    let message = if opt
                        .split('/')
                        .next()
                        .is_some_and(|a| a.parse::<IpAddr>().is_ok())
                    {
                        format!(
                            "`{opt}` follows {text} on the same line; put each virtual_ipaddress \
                             on its own line"
                        )
                    } else {
                        let near = did_you_mean(opt, VIP_OPTIONS.iter().copied())
                            .map(|n| format!("did you mean `{n}`? "))
                            .unwrap_or_default();
                        format!(
                            "unknown virtual_ipaddress option `{opt}`; {near}the options are \
                             dev, label, brd, scope, peer, preferred_lft, home, -nodad, \
                             mngtmpaddr, noprefixroute, autojoin, no_track, use_vmac"
                        )
                    };
                    self.diags.error(&option.loc, message);
                    // What follows cannot be told apart from option values: one error
                    // per line is enough.
                    break;
                }
            }
        }
        ok.then(|| Spanned {
            value: vip,
            loc: e.loc().clone(),
        })
    }

    /// One `track_script` line: `NAME [weight W [reverse|noreverse]]`.
    fn track(&mut self, e: &Stmt<'_>) -> Option<Spanned<RawTrack>> {
        self.leaf(e);
        let name = e.kw().to_owned();
        let example = format!("{name} weight -20");
        let (weight, reverse) = match e.args.as_slice() {
            [] => (None, None),
            [w] if w.text == "weight" => {
                self.diags.error(
                    e.loc(),
                    format!(
                        "`weight` after track_script {name} needs a value; write e.g. `{example}`"
                    ),
                );
                return None;
            }
            [w, value, rest @ ..] if w.text == "weight" => {
                let reverse = match rest {
                    [] => None,
                    [r] if r.text == "reverse" => Some(true),
                    [r] if r.text == "noreverse" || r.text == "no_reverse" => Some(false),
                    [r, ..] => {
                        self.diags.error(
                            e.loc(),
                            format!(
                                "unknown option `{}` after the weight of track_script {name}; \
                                 write `{example} reverse` or leave it out",
                                r.text
                            ),
                        );
                        return None;
                    }
                };
                let label = format!("track_script {name} weight");
                let weight = self.number(e.loc(), &label, value, &WEIGHT)?;
                (Some(weight as i32), reverse)
            }
            [other, ..] => {
                self.diags.error(
                    e.loc(),
                    format!(
                        "unknown option `{}` after track_script {name}; write `{example}` or just \
                         `{name}` (one script per line)",
                        other.text
                    ),
                );
                return None;
            }
        };
        Some(Spanned {
            value: RawTrack {
                name,
                weight,
                reverse,
            },
            loc: e.loc().clone(),
        })
    }

    /// `notify_* SCRIPT [USER [GROUP]]`.
    fn notify(&mut self, s: &Stmt<'_>, slot: &mut Option<Spanned<String>>) {
        self.leaf(s);
        let example = format!("{} \"/etc/keepalived/notify.sh\"", s.kw());
        match s.args.as_slice() {
            [] => self.needs_value(s, &example),
            [_, _, _, extra, ..] => self.too_many(s, extra, &format!("{example} USER GROUP")),
            [script, rest @ ..] => {
                if !rest.is_empty() {
                    self.diags.warn(
                        s.loc(),
                        format!(
                            "the user/group after the {} script are accepted, not acted on: the \
                             script runs as the default script user; remove them to silence \
                             this warning (quote the command if they were its arguments)",
                            s.kw()
                        ),
                    );
                }
                set(self.diags, slot, s, script.text.clone());
            }
        }
    }

    // ----- helpers -----

    /// A keyword that takes no block: reports one.
    fn leaf(&mut self, s: &Stmt<'_>) {
        if let Some(block) = &s.block {
            self.diags.error(
                &block.open.loc,
                format!(
                    "`{}` takes no {{ }} block; remove the braces and what is between them",
                    s.kw()
                ),
            );
        }
    }

    /// A keyword that takes nothing: whether it was written so.
    fn flag(&mut self, s: &Stmt<'_>) -> bool {
        self.leaf(s);
        match s.args.first() {
            None => true,
            Some(arg) => {
                self.diags.error(
                    s.loc(),
                    format!("`{}` takes no value; remove `{}`", s.kw(), arg.text),
                );
                false
            }
        }
    }

    /// The single value of a statement.
    fn value<'t>(&mut self, s: &Stmt<'t>, example: &str) -> Option<&'t Token> {
        self.leaf(s);
        match s.args.as_slice() {
            [v] => Some(*v),
            [] => {
                self.needs_value(s, example);
                None
            }
            [_, extra, ..] => {
                self.too_many(s, extra, example);
                None
            }
        }
    }

    fn needs_value(&mut self, s: &Stmt<'_>, example: &str) {
        self.diags.error(
            s.loc(),
            format!("`{}` needs a value; write e.g. `{example}`", s.kw()),
        );
    }

    fn too_many(&mut self, s: &Stmt<'_>, extra: &Token, example: &str) {
        self.diags.error(
            s.loc(),
            format!(
                "`{}` has too many values (`{}` is one too many); write e.g. `{example}`, \
                 quoting a value that has spaces",
                s.kw(),
                extra.text
            ),
        );
    }

    /// The name of a `vrrp_script`/`vrrp_instance` block.
    fn name(&mut self, s: &Stmt<'_>, example: &str) -> Option<String> {
        match s.args.as_slice() {
            [name] => Some(name.text.clone()),
            [] => {
                self.diags.error(
                    s.loc(),
                    format!("`{}` needs a name; write e.g. `{example}`", s.kw()),
                );
                None
            }
            [_, extra, ..] => {
                self.too_many(s, extra, example);
                None
            }
        }
    }

    /// A block keyword that takes no name or value.
    fn no_name(&mut self, s: &Stmt<'_>) {
        if let Some(arg) = s.args.first() {
            self.diags.error(
                s.loc(),
                format!(
                    "`{}` takes no name or value before its {{ }} block; remove `{}`",
                    s.kw(),
                    arg.text
                ),
            );
        }
    }

    /// The block of a block keyword; `example` completes "write e.g. ...".
    fn need_block<'s, 't>(&mut self, s: &'s Stmt<'t>, example: &str) -> Option<&'s Block<'t>> {
        if s.block.is_none() {
            self.diags.error(
                s.loc(),
                format!("`{}` needs a {{ }} block; write e.g. {example}", s.kw()),
            );
        }
        s.block.as_ref()
    }

    fn again(&mut self, s: &Stmt<'_>, first: Option<&Location>) {
        if let Some(first) = first {
            self.diags.warn(
                s.loc(),
                format!(
                    "`{}` is given again (first at {}); the later one is used: remove the other",
                    s.kw(),
                    short_location(first, s.loc())
                ),
            );
        }
    }

    fn not_acted_on(&mut self, loc: &Location, option: &str, note: &str) {
        let note = if note.is_empty() {
            String::new()
        } else {
            format!(" ({note})")
        };
        self.diags.warn(
            loc,
            format!(
                "`{option}` on a virtual_ipaddress is accepted, not acted on{note}; remove it \
                 to silence this warning"
            ),
        );
    }

    /// `USER [GROUP]`: the user (the group is not acted on).
    fn user(&mut self, s: &Stmt<'_>, example: &str) -> Option<String> {
        self.leaf(s);
        match s.args.as_slice() {
            [] => {
                self.needs_value(s, example);
                None
            }
            [user] => Some(user.text.clone()),
            [user, group] => {
                self.diags.warn(
                    s.loc(),
                    format!(
                        "group `{}` of `{}` is accepted, not acted on: scripts run with the \
                         primary group of {}; remove it to silence this warning",
                        group.text,
                        s.kw(),
                        user.text
                    ),
                );
                Some(user.text.clone())
            }
            [_, _, extra, ..] => {
                self.too_many(s, extra, example);
                None
            }
        }
    }

    /// A Linux interface name.
    fn ifname(&mut self, loc: &Location, what: &str, name: &str) -> bool {
        let message = if name.len() > MAX_IFNAME {
            format!(
                "{what} name `{name}` is longer than {MAX_IFNAME} characters, which Linux does \
                 not allow; use the interface's real name (see `ip link`)"
            )
        } else if name.contains(':') {
            let base = name.split(':').next().unwrap_or_default();
            format!(
                "{what} `{name}` is not an interface name (`:` marks an address label); write \
                 `{what} {base}` and give the address `label {name}`"
            )
        } else if name.is_empty() || name.contains(['/', ' ', '\t']) || name == "." || name == ".."
        {
            format!("{what} `{name}` is not a valid interface name; use a name from `ip link`")
        } else {
            return true;
        };
        self.diags.error(loc, message);
        false
    }

    fn version(&mut self, s: &Stmt<'_>, v: &Token) -> Option<u8> {
        match v.text.as_str() {
            "2" => Some(2),
            "3" => Some(3),
            other => {
                self.diags.error(
                    s.loc(),
                    format!("{} {other} is invalid; use 2 or 3", s.kw()),
                );
                None
            }
        }
    }

    fn garp_repeat(&mut self, s: &Stmt<'_>, example: &str) -> Option<u32> {
        let repeat = self.number_value(s, example, &GARP_REPEAT)?;
        if repeat == 0 {
            // keepalived accepts 0 for compatibility with pre-2.0.7 files and uses 1.
            self.diags.warn(
                s.loc(),
                format!(
                    "{} 0 is raised to 1 (as keepalived does); write `{} 1`",
                    s.kw(),
                    s.kw()
                ),
            );
            return Some(1);
        }
        Some(repeat as u32)
    }

    /// The single value of a statement, as a number in `range`.
    fn number_value(&mut self, s: &Stmt<'_>, example: &str, range: &Range) -> Option<i64> {
        let v = self.value(s, example)?;
        self.number(s.loc(), s.kw(), v, range)
    }

    /// `v` as a whole number in `range`; `label` names it in messages.
    fn number(&mut self, loc: &Location, label: &str, v: &Token, range: &Range) -> Option<i64> {
        let text = v.text.as_str();
        let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
        let use_instead = format!("use {} from {} to {}", range.what, range.min, range.max);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            let kind = if parse_seconds(text).is_some() {
                "is not a whole number"
            } else {
                "is not a number"
            };
            self.diags
                .error(loc, format!("{label} {text} {kind}; {use_instead}"));
            return None;
        }
        match text.parse::<i64>() {
            Ok(n) if (range.min..=range.max).contains(&n) => Some(n),
            _ => {
                self.diags.error(
                    loc,
                    format!("{label} {text} is out of range; {use_instead}"),
                );
                None
            }
        }
    }

    /// `v` as decimal seconds, in µs; `hint` completes "use ..." in messages.
    fn seconds(&mut self, s: &Stmt<'_>, v: &Token, hint: &str) -> Option<u64> {
        let micros = parse_seconds(&v.text);
        if micros.is_none() {
            self.diags.error(
                s.loc(),
                format!(
                    "{} {} is not a number of seconds; use {hint}",
                    s.kw(),
                    v.text
                ),
            );
        }
        micros
    }
}

/// The warning for `count` skipped LVS blocks, the first of them a `keyword` block.
fn lvs_message(keyword: &str, count: usize) -> String {
    let others = match count {
        1 => String::new(),
        2 => " (and 1 more LVS block)".to_owned(),
        n => format!(" (and {} more LVS blocks)", n - 1),
    };
    format!(
        "`{keyword}` is an LVS/health-checker block{others}: this daemon does only VRRP and \
         skips it; run keepalived's checker (`keepalived --check`) for LVS"
    )
}

/// Stores a value, warning when the keyword was already given (keepalived uses the last).
fn set<T>(diags: &mut Diags, slot: &mut Option<Spanned<T>>, s: &Stmt<'_>, value: T) {
    if let Some(first) = slot {
        diags.warn(
            s.loc(),
            format!(
                "`{}` is given again (first at {}); the later value is used: remove the other",
                s.kw(),
                short_location(&first.loc, s.loc())
            ),
        );
    }
    *slot = Some(Spanned {
        value,
        loc: s.loc().clone(),
    });
}

/// `line N` when `loc` is in the file of `here`, else `file:N`.
pub(super) fn short_location(loc: &Location, here: &Location) -> String {
    if loc.file == here.file {
        format!("line {}", loc.line)
    } else {
        format!("{}:{}", loc.file.display(), loc.line)
    }
}

/// Decimal seconds (`1`, `0.5`, `.25`) in µs, keepalived's resolution; digits past the
/// sixth decimal are dropped, a value too large to count saturates (and fails range checks).
pub(super) fn parse_seconds(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let whole = if whole.is_empty() {
        0
    } else {
        whole.parse::<u64>().unwrap_or(u64::MAX)
    };
    let mut micros = 0u64;
    for i in 0..6 {
        let digit = fraction
            .as_bytes()
            .get(i)
            .map_or(0, |b| u64::from(b - b'0'));
        micros = micros * 10 + digit;
    }
    Some(whole.saturating_mul(1_000_000).saturating_add(micros))
}

/// The command of `script`: one quoted string as is, or several words joined by spaces
/// (keepalived takes the rest of the line); a quoted word among several keeps its quotes
/// so `/bin/sh -c` sees the same words.
fn command_line(args: &[&Token]) -> String {
    if let [one] = args {
        return one.text.clone();
    }
    args.iter()
        .map(|a| match a.kind {
            TokenKind::Quoted => {
                format!("\"{}\"", a.text.replace('\\', "\\\\").replace('"', "\\\""))
            }
            _ => a.text.clone(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

const VIP_OPTIONS: &[&str] = &[
    "dev",
    "label",
    "brd",
    "broadcast",
    "scope",
    "peer",
    "preferred_lft",
    "home",
    "-nodad",
    "mngtmpaddr",
    "noprefixroute",
    "autojoin",
    "no_track",
    "use_vmac",
];

fn vip_example(option: &str) -> &'static str {
    match option {
        "dev" => "dev eth0",
        "label" => "label eth0:1",
        "brd" | "broadcast" => "brd +",
        "scope" => "scope global",
        "peer" => "peer 192.168.1.1",
        _ => "preferred_lft forever",
    }
}

#[cfg(test)]
mod tests {
    use std::{
        net::{IpAddr, Ipv4Addr},
        time::Duration,
    };

    use super::{
        super::{
            Authentication, GlobalDefs, InitialState, TrackScript, VirtualAddress,
            testing::{errors, failed, instance, ok, warnings},
        },
        parse_seconds,
    };

    #[test]
    fn global_defs_keywords() {
        let text = "global_defs {
    router_id LB1
    vrrp_version 3
    script_user ka ka_group
    enable_script_security
    vrrp_garp_master_delay 10
    vrrp_garp_master_repeat 2
    smtp_server 127.0.0.1
    notification_email {
        root@localhost
    }
}
";
        let loaded = ok(text);
        assert_eq!(
            loaded.config.global,
            GlobalDefs {
                router_id: Some("LB1".into()),
                vrrp_version: 3,
                script_user: Some("ka".into()),
                enable_script_security: true,
            }
        );
        let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            vec![
                "keepalived.conf:4:5: group `ka_group` of `script_user` is accepted, not acted \
                 on: scripts run with the primary group of ka; remove it to silence this warning",
                "keepalived.conf:8:5: `smtp_server` is accepted, not acted on; remove it to \
                 silence this warning",
                "keepalived.conf:9:5: `notification_email` is accepted, not acted on; remove it \
                 to silence this warning",
            ]
        );
    }

    #[test]
    fn global_garp_settings_are_the_instance_defaults() {
        let text = format!(
            "{}{}global_defs {{\n    vrrp_garp_master_delay 10\n    vrrp_garp_master_repeat 2\n}}\n",
            instance(""),
            instance("    garp_master_delay 0\n    garp_master_repeat 7")
                .replace("VI_1", "VI_2")
                .replace("51", "52"),
        );
        let loaded = ok(&text);
        let [a, b] = loaded.config.instances.as_slice() else {
            panic!("two instances expected")
        };
        assert_eq!(
            (a.garp_master_delay, a.garp_master_repeat),
            (Duration::from_secs(10), 2)
        );
        assert_eq!(
            (b.garp_master_delay, b.garp_master_repeat),
            (Duration::ZERO, 7)
        );
    }

    #[test]
    fn vrrp_script_keywords() {
        let text = r#"vrrp_script chk {
    script /usr/bin/pgrep -x "my proc"
    interval 3
    timeout 10
    weight -20 reverse
    rise 2
    fall 4
    init_fail
    user nobody
}
vrrp_script chk2 {
    script "killall -0 nginx"
    weight 5
    user nobody nogroup
}
"#;
        let loaded = ok(text);
        let [a, b] = loaded.config.scripts.as_slice() else {
            panic!("two scripts expected")
        };
        assert_eq!(a.name, "chk");
        assert_eq!(a.script, r#"/usr/bin/pgrep -x "my proc""#);
        assert_eq!(
            (a.interval, a.timeout),
            (Duration::from_secs(3), Duration::from_secs(10))
        );
        assert_eq!((a.weight, a.weight_reverse), (-20, true));
        assert_eq!((a.rise, a.fall, a.init_fail), (2, 4, true));
        assert_eq!(a.user.as_deref(), Some("nobody"));
        assert_eq!(b.script, "killall -0 nginx");
        assert_eq!((b.weight, b.weight_reverse), (5, false));
        assert_eq!(b.user.as_deref(), Some("nobody"));
        assert_eq!(b.location.line, 11);
        assert_eq!(
            loaded
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "keepalived.conf:14:5: group `nogroup` of `user` is accepted, not acted on: \
                 scripts run with the primary group of nobody; remove it to silence this warning"
            ]
        );
    }

    #[test]
    fn vrrp_instance_keywords() {
        let text = r#"vrrp_instance VI_9 {
    state BACKUP
    interface ens3
    virtual_router_id 9
    priority 150
    advert_int 2
    authentication {
        auth_type AH
        auth_pass secret
    }
    virtual_ipaddress {
        192.168.1.10/24 dev ens4 label ens4:vip
        192.168.1.11
    }
    track_script {
        chk
        chk2 weight 10 reverse
        chk3 weight -5 noreverse
    }
    nopreempt
    notify_master "/etc/keepalived/notify.sh master"
    notify_backup /bin/b
    notify_fault /bin/f
    notify_stop /bin/s
    notify /bin/n
    garp_master_delay 1
    garp_master_repeat 3
}
vrrp_script chk { script /bin/true }
vrrp_script chk2 { script /bin/true }
vrrp_script chk3 {
    script /bin/true
    weight 2 reverse
}
"#;
        let loaded = ok(text);
        assert_eq!(loaded.warnings, vec![]);
        let i = &loaded.config.instances[0];
        assert_eq!(i.name, "VI_9");
        assert_eq!(i.initial_state, InitialState::Backup);
        assert_eq!((i.interface.as_str(), i.vrid, i.priority), ("ens3", 9, 150));
        assert_eq!(i.advert_int, crate::units::Centiseconds(200));
        assert_eq!(i.version, 2);
        assert_eq!(i.authentication, Some(Authentication::Ah));
        assert_eq!(
            i.virtual_addresses,
            vec![
                VirtualAddress {
                    addr: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)),
                    prefix_len: 24,
                    dev: Some("ens4".into()),
                    label: Some("ens4:vip".into()),
                },
                VirtualAddress {
                    addr: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 11)),
                    prefix_len: 32,
                    dev: None,
                    label: None,
                },
            ]
        );
        assert_eq!(
            i.track_scripts,
            vec![
                TrackScript {
                    name: "chk".into(),
                    weight: None,
                    reverse: false
                },
                TrackScript {
                    name: "chk2".into(),
                    weight: Some(10),
                    reverse: true
                },
                TrackScript {
                    name: "chk3".into(),
                    weight: Some(-5),
                    reverse: false
                },
            ]
        );
        assert!(i.nopreempt);
        assert_eq!(
            i.notify_master.as_deref(),
            Some("/etc/keepalived/notify.sh master")
        );
        assert_eq!(i.notify_backup.as_deref(), Some("/bin/b"));
        assert_eq!(i.notify_fault.as_deref(), Some("/bin/f"));
        assert_eq!(i.notify_stop.as_deref(), Some("/bin/s"));
        assert_eq!(i.notify.as_deref(), Some("/bin/n"));
        assert_eq!(
            (i.garp_master_delay, i.garp_master_repeat),
            (Duration::from_secs(1), 3)
        );
    }

    #[test]
    fn track_script_without_weight_takes_the_scripts_reverse() {
        let text = format!(
            "{}vrrp_script chk {{\n    script /bin/true\n    weight -10 reverse\n}}\n",
            instance("    track_script {\n        chk\n    }")
        );
        let i = &ok(&text).config.instances[0];
        assert_eq!(
            i.track_scripts,
            vec![TrackScript {
                name: "chk".into(),
                weight: None,
                reverse: true
            }]
        );
    }

    #[test]
    fn preempt_delay_and_preempt() {
        let i = &ok(&instance("    preempt_delay 2.5")).config.instances[0];
        assert_eq!(i.preempt_delay, Duration::from_millis(2500));
        let i = &ok(&instance("    nopreempt\n    preempt")).config.instances[0];
        assert!(!i.nopreempt);
        let i = &ok(&instance("    preempt\n    nopreempt")).config.instances[0];
        assert!(i.nopreempt);
    }

    #[test]
    fn braces_on_the_same_line_as_content() {
        let text = r#"vrrp_instance A { interface eth0
  virtual_router_id 1
  authentication {auth_type PASS
   auth_pass x}
  virtual_ipaddress { 10.0.0.1 }
  track_script { chk }
}
vrrp_script chk { script "/bin/true" }
vrrp_instance B
{
  interface eth0
  virtual_router_id 2
  virtual_ipaddress
  {
    10.0.0.2
  }
}
"#;
        let loaded = ok(text);
        assert_eq!(loaded.warnings, vec![]);
        let [a, b] = loaded.config.instances.as_slice() else {
            panic!("two instances expected")
        };
        assert_eq!(a.interface, "eth0");
        assert_eq!(
            a.authentication,
            Some(Authentication::Pass(*b"x\0\0\0\0\0\0\0"))
        );
        assert_eq!(a.virtual_addresses[0].addr.to_string(), "10.0.0.1");
        assert_eq!(a.track_scripts[0].name, "chk");
        assert_eq!(b.vrid, 2);
        assert_eq!(b.virtual_addresses[0].addr.to_string(), "10.0.0.2");
    }

    #[test]
    fn comments_with_hash_and_bang() {
        let text = "! Configuration File for keepalived
# another comment
vrrp_instance VI_1 { # trailing
    interface eth0 ! trailing too
    virtual_router_id 51#glued
    ! priority 1
    # priority 2
    virtual_ipaddress {
        10.0.0.1 # the VIP
    }
}
";
        let loaded = ok(text);
        assert_eq!(loaded.warnings, vec![]);
        let i = &loaded.config.instances[0];
        assert_eq!((i.vrid, i.priority), (51, 100));
        assert_eq!(i.location.line, 3);
    }

    #[test]
    fn all_value_errors_of_a_file_in_one_run() {
        let text = r#"vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 300
    priority abc
    advert_int x
    state master
    version 4
    virtual_ipaddress {
        10.0.0.300
        10.0.0.1/33
        10.0.0.2 dev
        10.0.0.3 10.0.0.4
        10.0.0.5 devv eth0
    }
    nopreempt now
    priority 100 200
    preempt_delay 1001
    garp_master_delay -1
    track_script {
        chk weight
        chk weight 300
        chk weigth 3
    }
    interface eth0:1
    authentication {
        auth_type MD5
        auth_pass ""
    }
}
vrrp_script chk {
    script
    interval 0
    rise 0
    weight 10 inverse
}
"#;
        let err = failed(text);
        let got: Vec<String> = err.errors.iter().map(ToString::to_string).collect();
        let expected = [
            "3:5: virtual_router_id 300 is out of range; use a number from 1 to 255",
            "4:5: priority abc is not a number; use a number from 1 to 255",
            "5:5: advert_int x is not a number of seconds; use e.g. `advert_int 1`",
            "6:5: state master is invalid; use MASTER or BACKUP (in capitals)",
            "7:5: version 4 is invalid; use 2 or 3",
            "9:9: `10.0.0.300` is not an IP address; write one address per line, e.g. \
             `192.168.1.100/24 dev eth0`",
            "10:9: prefix length /33 of 10.0.0.1/33 is invalid; use /0 to /32 (or leave it out \
             for /32)",
            "11:18: `dev` needs a value after it; write e.g. `dev eth0`",
            "12:18: `10.0.0.4` follows 10.0.0.3 on the same line; put each virtual_ipaddress on \
             its own line",
            "13:18: unknown virtual_ipaddress option `devv`; did you mean `dev`? the options are \
             dev, label, brd, scope, peer, preferred_lft, home, -nodad, mngtmpaddr, \
             noprefixroute, autojoin, no_track, use_vmac",
            "15:5: `nopreempt` takes no value; remove `now`",
            "16:5: `priority` has too many values (`200` is one too many); write e.g. \
             `priority 100`, quoting a value that has spaces",
            "17:5: preempt_delay 1001 is out of range; use seconds from 0 to 1000",
            "18:5: garp_master_delay -1 is out of range; use whole seconds from 0 to 4294",
            "20:9: `weight` after track_script chk needs a value; write e.g. `chk weight -20`",
            "21:9: track_script chk weight 300 is out of range; use a number from -253 to 253",
            "22:9: unknown option `weigth` after track_script chk; write `chk weight -20` or \
             just `chk` (one script per line)",
            "24:5: interface `eth0:1` is not an interface name (`:` marks an address label); \
             write `interface eth0` and give the address `label eth0:1`",
            "26:9: auth_type MD5 is invalid; use PASS (or AH)",
            "27:9: auth_pass is empty; write a password of 1 to 8 characters",
            "31:5: `script` needs a command; write e.g. `script \"/usr/local/bin/check.sh\"`",
            "32:5: interval 0 is out of range; use whole seconds from 1 to 4294",
            "33:5: rise 0 is out of range; use a number from 1 to 2147483647",
            "34:5: unknown weight option `inverse`; write `weight 10 reverse` or leave the \
             option out",
        ]
        .map(|e| format!("keepalived.conf:{e}"));
        assert_eq!(got, expected);
        // No follow-up noise: nothing reported missing for values already refused.
        assert_eq!(err.warnings, vec![]);
    }

    #[test]
    fn unclosed_brace_points_at_the_opening_brace() {
        let text = "vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        10.0.0.1
}
";
        assert_eq!(
            errors(text),
            vec![
                "keepalived.conf:1:20: the `{` of `vrrp_instance VI_1` is never closed; add a \
                 `}` where its block ends"
            ]
        );
    }

    #[test]
    fn stray_closing_brace() {
        let text = format!("{}}}\n", instance(""));
        assert_eq!(
            errors(&text),
            vec![
                "keepalived.conf:7:1: this `}` closes no block; remove it, or add the `{` it \
                 should close"
            ]
        );
    }

    #[test]
    fn block_without_keyword() {
        assert_eq!(
            errors("{\n  x\n}\n"),
            vec![
                "keepalived.conf:1:1: this `{` follows no keyword; write the block's keyword \
                 before it (e.g. `virtual_ipaddress {`) or remove the braces"
            ]
        );
    }

    #[test]
    fn nesting_is_limited() {
        let text = format!("{}{}", "a {\n".repeat(17), "}\n".repeat(17));
        let err = failed(&text);
        assert_eq!(err.errors.len(), 1, "{:?}", err.errors);
        assert_eq!(
            (err.errors[0].location.line, err.errors[0].location.column),
            (17, 3)
        );
        assert!(err.errors[0].message.contains("nested more than 16 deep"));
    }

    #[test]
    fn unknown_keyword_did_you_mean() {
        assert_eq!(
            warnings(&instance("    priorty 90")),
            vec![
                "keepalived.conf:5:5: unknown keyword `priorty` in vrrp_instance is ignored; did \
                 you mean `priority`?"
            ]
        );
        assert_eq!(
            warnings("vrrp_scirpt chk {\n  script x\n}\n"),
            vec![
                "keepalived.conf:1:1: unknown keyword `vrrp_scirpt` at top level is ignored; did \
                 you mean `vrrp_script`?"
            ]
        );
        assert_eq!(
            warnings("global_defs {\n  router_idd x\n}\n"),
            vec![
                "keepalived.conf:2:3: unknown keyword `router_idd` in global_defs is ignored; did \
                 you mean `router_id`?"
            ]
        );
        assert_eq!(
            warnings(&instance(
                "    authentication {\n        auth_typ PASS\n    }"
            )),
            vec![
                "keepalived.conf:5:5: this authentication block is empty and is ignored; remove \
                 it, or add `auth_type PASS` and `auth_pass`",
                "keepalived.conf:6:9: unknown keyword `auth_typ` in authentication is ignored; \
                 did you mean `auth_type`?",
            ]
        );
    }

    #[test]
    fn unknown_keyword_skips_its_values_and_block() {
        let text = format!("foo_bar_baz 1 2 {{\n  a b {{ c }}\n  }}\n{}", instance(""));
        assert_eq!(
            warnings(&text),
            vec![
                "keepalived.conf:1:1: unknown keyword `foo_bar_baz` at top level is ignored; \
                 check its spelling or remove it"
            ]
        );
    }

    #[test]
    fn keyword_in_the_wrong_block() {
        assert_eq!(
            warnings("global_defs {\n  priority 100\n}\n"),
            vec![
                "keepalived.conf:2:3: `priority` belongs in a vrrp_instance NAME { } block, not \
                 in global_defs; it is ignored here: move it (or check the braces around it)"
            ]
        );
        assert_eq!(
            warnings(&instance("    vrrp_version 3")),
            vec![
                "keepalived.conf:5:5: `vrrp_version` belongs in global_defs { }, not in \
                 vrrp_instance; it is ignored here: move it (or check the braces around it)"
            ]
        );
    }

    #[test]
    fn known_but_unsupported_keywords_warn() {
        assert_eq!(
            warnings(&instance(
                "    unicast_peer {\n        10.0.0.2\n    }\n    accept"
            )),
            vec![
                "keepalived.conf:5:5: `unicast_peer` is not supported yet and is ignored: \
                 adverts are sent by multicast; remove it to silence this warning",
                "keepalived.conf:8:5: `accept` is accepted, not acted on; remove it to silence \
                 this warning",
            ]
        );
        assert_eq!(
            warnings("vrrp_sync_group G {\n  group {\n    VI_1\n  }\n}\n"),
            vec![
                "keepalived.conf:1:1: `vrrp_sync_group` is not supported yet and is ignored: the \
                 instances of the group fail over independently; remove it to silence this \
                 warning"
            ]
        );
    }

    #[test]
    fn lvs_blocks_are_skipped_with_one_warning() {
        let lvs = "virtual_server 10.0.0.1 80 {
    delay_loop 6
    lb_algo rr
    real_server 10.0.0.2 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 3
        }
    }
}
";
        let text = format!("{lvs}{}", instance(""));
        assert_eq!(
            warnings(&text),
            vec![
                "keepalived.conf:1:1: `virtual_server` is an LVS/health-checker block: this \
                 daemon does only VRRP and skips it; run keepalived's checker (`keepalived \
                 --check`) for LVS"
            ]
        );
        let text = format!("{lvs}virtual_server_group G {{\n  10.0.0.1 80\n}}\n{lvs}");
        assert_eq!(
            warnings(&text),
            vec![
                "keepalived.conf:1:1: `virtual_server` is an LVS/health-checker block (and 2 more \
                 LVS blocks): this daemon does only VRRP and skips it; run keepalived's checker \
                 (`keepalived --check`) for LVS"
            ]
        );
    }

    #[test]
    fn unsupported_syntax_gives_one_error_and_no_follow_ups() {
        let text = "vrrp_instance VI_1 {
    @lb1 interface eth0
    virtual_router_id $VRID
    virtual_ipaddress { 10.0.0.1 }
}
@lb2 vrrp_instance VI_2 {
    interface eth0
}
";
        let err = failed(text);
        let got: Vec<(u32, u32)> = err
            .errors
            .iter()
            .map(|e| (e.location.line, e.location.column))
            .collect();
        assert_eq!(got, vec![(2, 5), (3, 23), (6, 1)]);
        assert_eq!(err.warnings, vec![]);
    }

    #[test]
    fn keyword_given_twice_warns_and_the_later_wins() {
        let loaded = ok(&instance("    priority 90\n    priority 80"));
        assert_eq!(loaded.config.instances[0].priority, 80);
        assert_eq!(
            loaded
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "keepalived.conf:6:5: `priority` is given again (first at line 5); the later \
                 value is used: remove the other"
            ]
        );
    }

    #[test]
    fn block_and_value_shape_errors() {
        assert_eq!(
            errors(&instance("    priority 90 { }")),
            vec![
                "keepalived.conf:5:17: `priority` takes no { } block; remove the braces and what \
                 is between them"
            ]
        );
        assert_eq!(
            errors(&instance("    authentication")),
            vec![
                "keepalived.conf:5:5: `authentication` needs a { } block; write e.g. \
                 `authentication {`, then `auth_type PASS` and `auth_pass secret` on lines of \
                 their own, then `}`"
            ]
        );
        assert_eq!(
            errors(&instance("    priority")),
            vec!["keepalived.conf:5:5: `priority` needs a value; write e.g. `priority 100`"]
        );
        assert_eq!(
            errors("vrrp_instance {\n}\n"),
            vec![
                "keepalived.conf:1:1: `vrrp_instance` needs a name; write e.g. `vrrp_instance \
                 VI_1 {`"
            ]
        );
        assert_eq!(
            errors("vrrp_script a b {\n}\n"),
            vec![
                "keepalived.conf:1:1: `vrrp_script` has too many values (`b` is one too many); \
                 write e.g. `vrrp_script chk_nginx {`, quoting a value that has spaces"
            ]
        );
        assert_eq!(
            errors(&instance("    virtual_ipaddress x { 10.0.0.2 }")),
            vec![
                "keepalived.conf:5:5: `virtual_ipaddress` takes no name or value before its { } \
                 block; remove `x`"
            ]
        );
    }

    #[test]
    fn interface_names() {
        assert_eq!(
            errors(&instance("    interface averyveryverylongname")),
            vec![
                "keepalived.conf:5:5: interface name `averyveryverylongname` is longer than 15 \
                 characters, which Linux does not allow; use the interface's real name (see `ip \
                 link`)"
            ]
        );
        assert_eq!(
            errors(&instance("    interface a/b")),
            vec![
                "keepalived.conf:5:5: interface `a/b` is not a valid interface name; use a name \
                 from `ip link`"
            ]
        );
    }

    #[test]
    fn auth_pass_is_truncated_and_padded() {
        let text = instance(
            "    authentication {\n        auth_type PASS\n        auth_pass 1234567890\n    }",
        );
        let loaded = ok(&text);
        assert_eq!(
            loaded.config.instances[0].authentication,
            Some(Authentication::Pass(*b"12345678"))
        );
        assert_eq!(
            loaded
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "keepalived.conf:7:9: auth_pass is longer than 8 characters and is cut to \
                 `12345678` (as keepalived does); write `auth_pass 12345678` on every node"
            ]
        );
    }

    #[test]
    fn garp_repeat_zero_becomes_one() {
        let loaded = ok(&instance("    garp_master_repeat 0"));
        assert_eq!(loaded.config.instances[0].garp_master_repeat, 1);
        assert_eq!(
            loaded
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            vec![
                "keepalived.conf:5:5: garp_master_repeat 0 is raised to 1 (as keepalived does); \
                 write `garp_master_repeat 1`"
            ]
        );
    }

    #[test]
    fn notify_with_user_and_group() {
        let loaded = ok(&instance("    notify_master /bin/x root root"));
        assert_eq!(
            loaded.config.instances[0].notify_master.as_deref(),
            Some("/bin/x")
        );
        assert_eq!(loaded.warnings.len(), 1);
        assert!(
            loaded.warnings[0]
                .message
                .contains("accepted, not acted on")
        );
        assert_eq!(
            errors(&instance("    notify_master /bin/x a b c")),
            vec![
                "keepalived.conf:5:5: `notify_master` has too many values (`c` is one too many); \
                 write e.g. `notify_master \"/etc/keepalived/notify.sh\" USER GROUP`, quoting a \
                 value that has spaces"
            ]
        );
    }

    #[test]
    fn virtual_ipaddress_options() {
        let text = "vrrp_instance A {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress {
        10.0.0.2/24 brd + scope host no_track
    }
}
vrrp_instance B {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress {
        fe80::1/64 label eth0:6 scope link
    }
}
";
        let loaded = ok(text);
        let [a, b] = loaded.config.instances.as_slice() else {
            panic!("two instances expected")
        };
        assert_eq!(a.virtual_addresses[0].prefix_len, 24);
        assert_eq!(b.virtual_addresses[0].prefix_len, 64);
        assert_eq!(b.virtual_addresses[0].label, None);
        assert_eq!(b.version, 3);
        let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            vec![
                "keepalived.conf:5:21: `brd` on a virtual_ipaddress is accepted, not acted on \
                 (the kernel's default broadcast applies); remove it to silence this warning",
                "keepalived.conf:5:27: `scope` on a virtual_ipaddress is accepted, not acted on \
                 (the address is added with scope global); remove it to silence this warning",
                "keepalived.conf:5:38: `no_track` on a virtual_ipaddress is accepted, not acted \
                 on; remove it to silence this warning",
                "keepalived.conf:12:20: label `eth0:6` is ignored on IPv6 address fe80::1/64 \
                 (Linux labels only IPv4 addresses); remove it",
                "keepalived.conf:12:33: scope is ignored on IPv6 address fe80::1/64 (as \
                 keepalived does); remove it",
            ]
        );

        assert_eq!(
            errors(&instance(
                "    virtual_ipaddress {
        fe80::2 brd +
        10.0.0.3 scope planet
        10.0.0.4 dev a dev b
        10.0.0.5 label
    }"
            )),
            vec![
                "keepalived.conf:6:17: `brd` is not valid for IPv6 address fe80::2 (IPv6 has no \
                 broadcast); remove it",
                "keepalived.conf:7:18: scope planet is invalid; use global, site, link, host or \
                 nowhere",
                "keepalived.conf:8:24: `dev` is given twice for 10.0.0.4; keep one",
                "keepalived.conf:9:18: `label` needs a value after it; write e.g. `label eth0:1`",
            ]
        );
    }

    #[test]
    fn seconds_parsing() {
        assert_eq!(parse_seconds("1"), Some(1_000_000));
        assert_eq!(parse_seconds("0.5"), Some(500_000));
        assert_eq!(parse_seconds(".25"), Some(250_000));
        assert_eq!(parse_seconds("2."), Some(2_000_000));
        assert_eq!(parse_seconds("0.1234567"), Some(123_456));
        assert_eq!(parse_seconds("99999999999999999999"), Some(u64::MAX));
        for bad in ["", ".", "-1", "1e3", "1.2.3", "abc", "1,5"] {
            assert_eq!(parse_seconds(bad), None, "{bad}");
        }
    }
}
