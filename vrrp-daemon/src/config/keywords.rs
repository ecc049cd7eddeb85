//! The one table of keepalived.conf keywords: where each may appear and what this daemon
//! does with it.
//!
//! The parser uses it to tell a known keyword from a typo (and to suggest the keyword that
//! was probably meant), to place a keyword written in the wrong block, and to say once, at
//! the keyword, that a keyword is accepted but not acted on. `vrrp-daemon keywords
//! --markdown` prints it as the README's support table, and a test keeps the README equal to
//! that output, so the table cannot drift from the code.
//!
//! When a feature lands, flip its entries to [`Status::Acted`]: the "accepted, not acted on"
//! note disappears from the operator's output and the README says "acted on".
use std::fmt::Write as _;

use serde::Serialize;

/// Where a keyword is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Block {
    /// Outside any block.
    Top,
    /// `global_defs { }`.
    GlobalDefs,
    /// `vrrp_instance NAME { }`.
    VrrpInstance,
    /// `authentication { }` inside a `vrrp_instance`.
    Authentication,
    /// The options after an address in `virtual_ipaddress { }` and
    /// `virtual_ipaddress_excluded { }`.
    VirtualIpaddress,
    /// The options after an address in `unicast_peer { }`.
    UnicastPeer,
    /// `vrrp_script NAME { }`.
    VrrpScript,
    /// `vrrp_sync_group NAME { }`.
    VrrpSyncGroup,
    /// `track_file NAME { }` (old name `vrrp_track_file`).
    TrackFile,
    /// `vrrp_track_process NAME { }`.
    VrrpTrackProcess,
}

impl Block {
    /// Every block, in the README's order.
    pub const ALL: [Block; 10] = [
        Block::Top,
        Block::GlobalDefs,
        Block::VrrpInstance,
        Block::Authentication,
        Block::VirtualIpaddress,
        Block::UnicastPeer,
        Block::VrrpScript,
        Block::VrrpSyncGroup,
        Block::TrackFile,
        Block::VrrpTrackProcess,
    ];

    /// The README heading of the block.
    pub fn title(self) -> &'static str {
        match self {
            Block::Top => "Top level",
            Block::GlobalDefs => "`global_defs`",
            Block::VrrpInstance => "`vrrp_instance`",
            Block::Authentication => "`authentication` (in `vrrp_instance`)",
            Block::VirtualIpaddress => {
                "Address options in `virtual_ipaddress` / `virtual_ipaddress_excluded`"
            }
            Block::UnicastPeer => "Peer options in `unicast_peer`",
            Block::VrrpScript => "`vrrp_script`",
            Block::VrrpSyncGroup => "`vrrp_sync_group`",
            Block::TrackFile => "`track_file` / `vrrp_track_file`",
            Block::VrrpTrackProcess => "`vrrp_track_process`",
        }
    }

    /// Where a statement is, for messages ("unknown keyword `x` in vrrp_instance").
    pub(super) fn place(self) -> &'static str {
        match self {
            Block::Top => "at top level",
            Block::GlobalDefs => "in global_defs",
            Block::VrrpInstance => "in vrrp_instance",
            Block::Authentication => "in authentication",
            Block::VirtualIpaddress => "in a virtual_ipaddress entry",
            Block::UnicastPeer => "in a unicast_peer entry",
            Block::VrrpScript => "in vrrp_script",
            Block::VrrpSyncGroup => "in vrrp_sync_group",
            Block::TrackFile => "in track_file",
            Block::VrrpTrackProcess => "in vrrp_track_process",
        }
    }

    /// The block to move a keyword to, for messages ("belongs in ...").
    pub(super) fn home(self) -> &'static str {
        match self {
            Block::Top => "the top level",
            Block::GlobalDefs => "global_defs { }",
            Block::VrrpInstance => "a vrrp_instance NAME { } block",
            Block::Authentication => "an authentication { } block",
            Block::VirtualIpaddress => "a virtual_ipaddress entry",
            Block::UnicastPeer => "a unicast_peer entry",
            Block::VrrpScript => "a vrrp_script NAME { } block",
            Block::VrrpSyncGroup => "a vrrp_sync_group NAME { } block",
            Block::TrackFile => "a track_file NAME { } block",
            Block::VrrpTrackProcess => "a vrrp_track_process NAME { } block",
        }
    }
}

/// What this daemon does with a keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Status {
    /// Parsed, validated and acted on.
    Acted,
    /// Parsed and validated where keepalived validates it, kept in the model, but not acted
    /// on (yet): each use gets a note saying what that means.
    AcceptedNotActed,
    /// Refused: the configuration does not load.
    Rejected,
    /// Skipped as a whole with one warning (the LVS/health-checker blocks).
    Skipped,
}

impl Status {
    /// The README's wording.
    pub fn text(self) -> &'static str {
        match self {
            Status::Acted => "acted on",
            Status::AcceptedNotActed => "accepted, not acted on",
            Status::Rejected => "rejected",
            Status::Skipped => "skipped",
        }
    }
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Keyword {
    /// Where it is written.
    pub block: Block,
    /// The keyword (an option word for [`Block::VirtualIpaddress`] and
    /// [`Block::UnicastPeer`]; a few rows describe a form, e.g. `auth_type AH`).
    pub name: &'static str,
    /// What the daemon does with it.
    pub status: Status,
    /// One line for the operator: for [`Status::AcceptedNotActed`], what happens instead
    /// ("" when nothing the operator would notice); otherwise a remark or "".
    pub note: &'static str,
}

use Block::*;
use Status::*;

const fn kw(block: Block, name: &'static str, status: Status, note: &'static str) -> Keyword {
    Keyword {
        block,
        name,
        status,
        note,
    }
}

const VMAC_NOTE: &str = "the addresses go on the interface itself, not on a VMAC";

/// Every keepalived 2.2.7 keyword of the VRRP side (`vrrp/vrrp_parser.c`,
/// `core/global_parser.c`, `trackers/track_file.c`), plus `v3_checksum_as_v2` (2.2.8).
pub const KEYWORDS: &[Keyword] = &[
    // ----- top level -----
    kw(Top, "global_defs", Acted, ""),
    kw(Top, "vrrp_instance", Acted, ""),
    kw(Top, "vrrp_script", Acted, ""),
    kw(
        Top,
        "include",
        Acted,
        "globs are expanded relative to the including file, in sorted order",
    ),
    kw(
        Top,
        "vrrp_sync_group",
        Acted,
        "members go MASTER together once every member's master is gone, leave it together \
         and share FAULT",
    ),
    kw(Top, "track_file", Acted, "watched with inotify"),
    kw(Top, "vrrp_track_file", Acted, "old name of track_file"),
    kw(
        Top,
        "vrrp_track_process",
        Acted,
        "netlink process connector, /proc rescans as a fallback",
    ),
    kw(
        Top,
        "garp_group",
        AcceptedNotActed,
        "GARPs are not paced per interface group",
    ),
    kw(
        Top,
        "linkbeat_interfaces",
        AcceptedNotActed,
        "links are watched through netlink",
    ),
    kw(
        Top,
        "interface_up_down_delays",
        AcceptedNotActed,
        "link changes are not delayed",
    ),
    kw(
        Top,
        "static_ipaddress",
        Acted,
        "added at start whatever the VRRP state, removed at stop, diffed on reload",
    ),
    kw(
        Top,
        "static_routes",
        Acted,
        "added at start (`ip route replace`), removed at stop, diffed on reload",
    ),
    kw(
        Top,
        "static_rules",
        Acted,
        "added at start (`ip rule add`), removed at stop, diffed on reload",
    ),
    kw(Top, "track_group", AcceptedNotActed, ""),
    kw(
        Top,
        "bfd_instance",
        AcceptedNotActed,
        "BFD sessions are not run",
    ),
    kw(Top, "linkbeat_use_polling", AcceptedNotActed, ""),
    kw(
        Top,
        "net_namespace",
        Acted,
        "entered at start (`ip netns` name; needs CAP_SYS_ADMIN); a reload cannot change it",
    ),
    kw(Top, "net_namespace_ipvs", AcceptedNotActed, ""),
    kw(Top, "namespace_with_ipsets", AcceptedNotActed, ""),
    kw(Top, "use_pid_dir", AcceptedNotActed, ""),
    kw(Top, "instance", AcceptedNotActed, ""),
    kw(Top, "child_wait_time", AcceptedNotActed, ""),
    kw(
        Top,
        "virtual_server",
        Skipped,
        "LVS: one warning for all LVS blocks; the VRRP part still runs",
    ),
    kw(Top, "virtual_server_group", Skipped, "LVS"),
    kw(Top, "real_server", Skipped, "LVS"),
    kw(Top, "SSL", Skipped, "LVS checker"),
    kw(
        Top,
        "@ID / @^ID lines",
        Acted,
        "conditional configuration: ID is `run -i`/`check -i` (`--config-id`), else the host \
         name up to its first dot",
    ),
    kw(
        Top,
        "$NAME=VALUE parameters",
        Acted,
        "multi-line definitions too; uses `$NAME`, `${NAME}`; pre-defined `${_PWD}`, \
         `${_INSTANCE}`, `${_RANDOM MIN MAX}`, `${_HASH}`, `${_BANG}`",
    ),
    kw(
        Top,
        "~SEQ(var, start, step, end) lines",
        Acted,
        "and `~SEQx` (hexadecimal)",
    ),
    // ----- global_defs -----
    kw(GlobalDefs, "router_id", Acted, "used in logs"),
    kw(GlobalDefs, "vrrp_version", Acted, ""),
    kw(GlobalDefs, "vrrp_garp_master_delay", Acted, ""),
    kw(GlobalDefs, "vrrp_garp_master_repeat", Acted, ""),
    kw(
        GlobalDefs,
        "script_user",
        Acted,
        "the group is not used: scripts run with the user's primary group",
    ),
    kw(
        GlobalDefs,
        "enable_script_security",
        Acted,
        "root scripts writable by others are refused",
    ),
    kw(GlobalDefs, "vrrp_garp_master_refresh", Acted, ""),
    kw(GlobalDefs, "vrrp_garp_master_refresh_repeat", Acted, ""),
    kw(GlobalDefs, "vrrp_garp_lower_prio_delay", Acted, ""),
    kw(GlobalDefs, "vrrp_garp_lower_prio_repeat", Acted, ""),
    kw(
        GlobalDefs,
        "vrrp_garp_interval",
        Acted,
        "gratuitous ARPs on an interface at least this far apart; leaving MASTER drops \
         those still queued",
    ),
    kw(
        GlobalDefs,
        "vrrp_gna_interval",
        Acted,
        "unsolicited NAs on an interface at least this far apart, paced apart from ARPs",
    ),
    kw(
        GlobalDefs,
        "vrrp_min_garp",
        Acted,
        "through the defaults of the GARP settings",
    ),
    kw(GlobalDefs, "vrrp_lower_prio_no_advert", Acted, ""),
    kw(
        GlobalDefs,
        "vrrp_higher_prio_send_advert",
        Acted,
        "default on here (off in keepalived): the yielding master's last advert makes the winner re-announce after a split brain",
    ),
    kw(GlobalDefs, "vrrp_down_timer_adverts", Acted, ""),
    kw(
        GlobalDefs,
        "vrrp_strict",
        AcceptedNotActed,
        "its configuration checks apply; no firewall rule is installed",
    ),
    kw(GlobalDefs, "vrrp_check_unicast_src", Acted, ""),
    kw(GlobalDefs, "vrrp_skip_check_adv_addr", AcceptedNotActed, ""),
    kw(GlobalDefs, "vrrp_mcast_group4", Acted, ""),
    kw(GlobalDefs, "vrrp_mcast_group6", Acted, ""),
    kw(
        GlobalDefs,
        "vrrp_startup_delay",
        Acted,
        "instances stay in INIT that long after a fresh start (not after a --takeover restart)",
    ),
    kw(
        GlobalDefs,
        "notify_fifo",
        Acted,
        "keepalived's line format; the script is started as the reader",
    ),
    kw(
        GlobalDefs,
        "notify_fifo_script",
        Acted,
        "keepalived's line format; the script is started as the reader",
    ),
    kw(
        GlobalDefs,
        "vrrp_notify_fifo",
        Acted,
        "keepalived's line format; the script is started as the reader",
    ),
    kw(
        GlobalDefs,
        "vrrp_notify_fifo_script",
        Acted,
        "keepalived's line format; the script is started as the reader",
    ),
    kw(GlobalDefs, "process_names", AcceptedNotActed, ""),
    kw(GlobalDefs, "process_name", AcceptedNotActed, ""),
    kw(GlobalDefs, "vrrp_process_name", AcceptedNotActed, ""),
    kw(GlobalDefs, "checker_process_name", AcceptedNotActed, ""),
    kw(GlobalDefs, "lvs_process_name", AcceptedNotActed, ""),
    kw(GlobalDefs, "bfd_process_name", AcceptedNotActed, ""),
    kw(GlobalDefs, "notification_email_from", AcceptedNotActed, ""),
    kw(GlobalDefs, "smtp_server", AcceptedNotActed, ""),
    kw(GlobalDefs, "smtp_helo_name", AcceptedNotActed, ""),
    kw(GlobalDefs, "smtp_connect_timeout", AcceptedNotActed, ""),
    kw(GlobalDefs, "notification_email", AcceptedNotActed, ""),
    kw(GlobalDefs, "smtp_alert", AcceptedNotActed, ""),
    kw(GlobalDefs, "startup_script", AcceptedNotActed, ""),
    kw(GlobalDefs, "startup_script_timeout", AcceptedNotActed, ""),
    kw(GlobalDefs, "shutdown_script", AcceptedNotActed, ""),
    kw(GlobalDefs, "shutdown_script_timeout", AcceptedNotActed, ""),
    kw(
        GlobalDefs,
        "max_auto_priority",
        Acted,
        "the event loop goes realtime (then one priority higher) each time it wakes \
         min_auto_priority_delay late, up to this",
    ),
    kw(
        GlobalDefs,
        "min_auto_priority_delay",
        Acted,
        "microseconds, default 1 s",
    ),
    kw(GlobalDefs, "smtp_alert_vrrp", AcceptedNotActed, ""),
    kw(GlobalDefs, "smtp_alert_checker", AcceptedNotActed, ""),
    kw(GlobalDefs, "checker_log_all_failures", AcceptedNotActed, ""),
    kw(
        GlobalDefs,
        "dynamic_interfaces",
        Acted,
        "an instance whose interface (or a VIP's `dev`) does not exist waits for it; \
         allow_if_changes is implied",
    ),
    kw(GlobalDefs, "no_email_faults", AcceptedNotActed, ""),
    kw(
        GlobalDefs,
        "default_interface",
        Acted,
        "where a static_ipaddress without `dev` goes (default eth0)",
    ),
    kw(GlobalDefs, "disable_local_igmp", AcceptedNotActed, ""),
    kw(GlobalDefs, "lvs_timeouts", AcceptedNotActed, ""),
    kw(GlobalDefs, "lvs_flush", AcceptedNotActed, ""),
    kw(GlobalDefs, "lvs_flush_on_stop", AcceptedNotActed, ""),
    kw(GlobalDefs, "lvs_flush_onstop", AcceptedNotActed, ""),
    kw(GlobalDefs, "lvs_sync_daemon", AcceptedNotActed, ""),
    kw(GlobalDefs, "lvs_id", AcceptedNotActed, ""),
    kw(GlobalDefs, "vrrp_garp_extra_if", AcceptedNotActed, ""),
    kw(GlobalDefs, "vrrp_vmac_garp_intvl", AcceptedNotActed, ""),
    kw(GlobalDefs, "vrrp_iptables", AcceptedNotActed, ""),
    kw(GlobalDefs, "vrrp_ipsets", AcceptedNotActed, ""),
    kw(GlobalDefs, "nftables", AcceptedNotActed, ""),
    kw(GlobalDefs, "nftables_priority", AcceptedNotActed, ""),
    kw(GlobalDefs, "nftables_ifindex", AcceptedNotActed, ""),
    kw(GlobalDefs, "nftables_ipvs", AcceptedNotActed, ""),
    kw(GlobalDefs, "nftables_ipvs_priority", AcceptedNotActed, ""),
    kw(
        GlobalDefs,
        "nftables_ipvs_start_fwmark",
        AcceptedNotActed,
        "",
    ),
    kw(GlobalDefs, "nftables_counters", AcceptedNotActed, ""),
    kw(
        GlobalDefs,
        "vrrp_priority",
        Acted,
        "the nice value of the whole daemon",
    ),
    kw(
        GlobalDefs,
        "vrrp_no_swap",
        Acted,
        "mlockall: what is mapped at start-up is loaded and locked, later pages as they are \
         touched",
    ),
    kw(
        GlobalDefs,
        "vrrp_rt_priority",
        Acted,
        "SCHED_RR for the event loop once set-up is done; scripts are not realtime",
    ),
    kw(GlobalDefs, "vrrp_cpu_affinity", Acted, ""),
    kw(
        GlobalDefs,
        "vrrp_rlimit_rttime",
        Acted,
        "with vrrp_rt_priority: past it the loop leaves realtime; a loop still running a \
         second later is killed (the crash guardian resigns for it)",
    ),
    kw(
        GlobalDefs,
        "vrrp_rlimit_rtime",
        Acted,
        "old name of vrrp_rlimit_rttime",
    ),
    kw(
        GlobalDefs,
        "vrrp_notify_priority_changes",
        Acted,
        "the instances' default for notify_priority_changes",
    ),
    kw(
        GlobalDefs,
        "fifo_write_vrrp_states_on_reload",
        AcceptedNotActed,
        "",
    ),
    kw(GlobalDefs, "lvs_notify_fifo", AcceptedNotActed, ""),
    kw(GlobalDefs, "lvs_notify_fifo_script", AcceptedNotActed, ""),
    kw(GlobalDefs, "checker_priority", AcceptedNotActed, ""),
    kw(GlobalDefs, "checker_no_swap", AcceptedNotActed, ""),
    kw(GlobalDefs, "checker_rt_priority", AcceptedNotActed, ""),
    kw(GlobalDefs, "checker_cpu_affinity", AcceptedNotActed, ""),
    kw(GlobalDefs, "checker_rlimit_rttime", AcceptedNotActed, ""),
    kw(GlobalDefs, "checker_rlimit_rtime", AcceptedNotActed, ""),
    kw(GlobalDefs, "bfd_priority", AcceptedNotActed, ""),
    kw(GlobalDefs, "bfd_no_swap", AcceptedNotActed, ""),
    kw(GlobalDefs, "bfd_rt_priority", AcceptedNotActed, ""),
    kw(GlobalDefs, "bfd_cpu_affinity", AcceptedNotActed, ""),
    kw(GlobalDefs, "bfd_rlimit_rttime", AcceptedNotActed, ""),
    kw(GlobalDefs, "bfd_rlimit_rtime", AcceptedNotActed, ""),
    kw(GlobalDefs, "snmp_socket", AcceptedNotActed, ""),
    kw(GlobalDefs, "enable_traps", AcceptedNotActed, ""),
    kw(GlobalDefs, "enable_snmp_vrrp", AcceptedNotActed, ""),
    kw(GlobalDefs, "enable_snmp_keepalived", AcceptedNotActed, ""),
    kw(GlobalDefs, "enable_snmp_rfc", AcceptedNotActed, ""),
    kw(GlobalDefs, "enable_snmp_rfcv2", AcceptedNotActed, ""),
    kw(GlobalDefs, "enable_snmp_rfcv3", AcceptedNotActed, ""),
    kw(GlobalDefs, "enable_snmp_checker", AcceptedNotActed, ""),
    kw(GlobalDefs, "enable_dbus", AcceptedNotActed, ""),
    kw(GlobalDefs, "dbus_service_name", AcceptedNotActed, ""),
    kw(
        GlobalDefs,
        "vrrp_netlink_cmd_rcv_bufs",
        AcceptedNotActed,
        "",
    ),
    kw(
        GlobalDefs,
        "vrrp_netlink_cmd_rcv_bufs_force",
        AcceptedNotActed,
        "",
    ),
    kw(
        GlobalDefs,
        "vrrp_netlink_monitor_rcv_bufs",
        AcceptedNotActed,
        "",
    ),
    kw(
        GlobalDefs,
        "vrrp_netlink_monitor_rcv_bufs_force",
        AcceptedNotActed,
        "",
    ),
    kw(GlobalDefs, "process_monitor_rcv_bufs", AcceptedNotActed, ""),
    kw(
        GlobalDefs,
        "process_monitor_rcv_bufs_force",
        AcceptedNotActed,
        "",
    ),
    kw(GlobalDefs, "lvs_netlink_cmd_rcv_bufs", AcceptedNotActed, ""),
    kw(
        GlobalDefs,
        "lvs_netlink_cmd_rcv_bufs_force",
        AcceptedNotActed,
        "",
    ),
    kw(
        GlobalDefs,
        "lvs_netlink_monitor_rcv_bufs",
        AcceptedNotActed,
        "",
    ),
    kw(
        GlobalDefs,
        "lvs_netlink_monitor_rcv_bufs_force",
        AcceptedNotActed,
        "",
    ),
    kw(GlobalDefs, "rs_init_notifies", AcceptedNotActed, ""),
    kw(GlobalDefs, "no_checker_emails", AcceptedNotActed, ""),
    kw(GlobalDefs, "vrrp_rx_bufs_policy", AcceptedNotActed, ""),
    kw(GlobalDefs, "vrrp_rx_bufs_multiplier", AcceptedNotActed, ""),
    kw(GlobalDefs, "log_unknown_vrids", AcceptedNotActed, ""),
    kw(GlobalDefs, "vmac_prefix", AcceptedNotActed, ""),
    kw(GlobalDefs, "vmac_addr_prefix", AcceptedNotActed, ""),
    kw(GlobalDefs, "umask", AcceptedNotActed, ""),
    kw(GlobalDefs, "random_seed", AcceptedNotActed, ""),
    kw(GlobalDefs, "reload_check_config", AcceptedNotActed, ""),
    kw(GlobalDefs, "reload_time_file", AcceptedNotActed, ""),
    kw(GlobalDefs, "reload_repeat", AcceptedNotActed, ""),
    kw(GlobalDefs, "reload_file", AcceptedNotActed, ""),
    kw(GlobalDefs, "include_check", AcceptedNotActed, ""),
    kw(GlobalDefs, "config_save_dir", AcceptedNotActed, ""),
    kw(GlobalDefs, "tmp_config_directory", AcceptedNotActed, ""),
    kw(GlobalDefs, "data_use_instance", AcceptedNotActed, ""),
    // keepalived also accepts these here (they are top-level keywords that are commonly
    // written inside global_defs).
    kw(GlobalDefs, "linkbeat_use_polling", AcceptedNotActed, ""),
    kw(GlobalDefs, "net_namespace", Acted, "as at the top level"),
    kw(GlobalDefs, "use_pid_dir", AcceptedNotActed, ""),
    kw(GlobalDefs, "instance", AcceptedNotActed, ""),
    kw(GlobalDefs, "child_wait_time", AcceptedNotActed, ""),
    // ----- vrrp_instance -----
    kw(VrrpInstance, "state", Acted, ""),
    kw(VrrpInstance, "interface", Acted, ""),
    kw(VrrpInstance, "virtual_router_id", Acted, ""),
    kw(VrrpInstance, "priority", Acted, ""),
    kw(
        VrrpInstance,
        "advert_int",
        Acted,
        "whole seconds for VRRPv2, centiseconds for VRRPv3",
    ),
    kw(VrrpInstance, "version", Acted, ""),
    kw(VrrpInstance, "authentication", Acted, "VRRPv2 only"),
    kw(VrrpInstance, "virtual_ipaddress", Acted, ""),
    kw(VrrpInstance, "track_script", Acted, ""),
    kw(VrrpInstance, "nopreempt", Acted, ""),
    kw(VrrpInstance, "preempt", Acted, ""),
    kw(VrrpInstance, "preempt_delay", Acted, ""),
    kw(VrrpInstance, "notify_master", Acted, ""),
    kw(VrrpInstance, "notify_backup", Acted, ""),
    kw(VrrpInstance, "notify_fault", Acted, ""),
    kw(VrrpInstance, "notify_stop", Acted, ""),
    kw(VrrpInstance, "notify", Acted, ""),
    kw(VrrpInstance, "garp_master_delay", Acted, ""),
    kw(VrrpInstance, "garp_master_repeat", Acted, ""),
    kw(
        VrrpInstance,
        "use_vmac",
        Acted,
        "a macvlan with the RFC virtual MAC carries the addresses, adverts and GARPs",
    ),
    kw(VrrpInstance, "use_vmac_addr", AcceptedNotActed, VMAC_NOTE),
    kw(
        VrrpInstance,
        "vmac_xmit_base",
        Acted,
        "adverts go out on the base interface; the VMAC holds the addresses",
    ),
    kw(
        VrrpInstance,
        "use_ipvlan",
        AcceptedNotActed,
        "the addresses go on the interface itself, not on an ipvlan",
    ),
    kw(VrrpInstance, "unicast_peer", Acted, ""),
    kw(VrrpInstance, "unicast_src_ip", Acted, ""),
    kw(VrrpInstance, "unicast_ttl", Acted, ""),
    kw(
        VrrpInstance,
        "unicast_fault_no_peer",
        AcceptedNotActed,
        "without peers the instance advertises by multicast instead of staying in FAULT",
    ),
    kw(VrrpInstance, "check_unicast_src", Acted, ""),
    kw(
        VrrpInstance,
        "old_unicast_checksum",
        Acted,
        "chooses the checksum sent; every form is accepted on receive",
    ),
    kw(
        VrrpInstance,
        "v3_checksum_as_v2",
        Acted,
        "keepalived 2.2.8+; chooses the checksum sent; every form is accepted on receive",
    ),
    kw(VrrpInstance, "mcast_src_ip", Acted, ""),
    kw(VrrpInstance, "mcast_dst_ip", Acted, ""),
    kw(
        VrrpInstance,
        "native_ipv6",
        AcceptedNotActed,
        "deprecated; the family comes from the addresses",
    ),
    kw(
        VrrpInstance,
        "vrf",
        AcceptedNotActed,
        "the instance is not bound to a VRF",
    ),
    kw(VrrpInstance, "dont_track_primary", Acted, ""),
    kw(
        VrrpInstance,
        "track_interface",
        Acted,
        "from netlink link notifications",
    ),
    kw(VrrpInstance, "track_file", Acted, ""),
    kw(VrrpInstance, "track_process", Acted, ""),
    kw(
        VrrpInstance,
        "track_bfd",
        AcceptedNotActed,
        "BFD sessions are not tracked",
    ),
    kw(
        VrrpInstance,
        "track_src_ip",
        AcceptedNotActed,
        "the source address is not tracked",
    ),
    kw(
        VrrpInstance,
        "virtual_ipaddress_excluded",
        Acted,
        "added and removed with the VIPs, not advertised",
    ),
    kw(
        VrrpInstance,
        "virtual_routes",
        Acted,
        "added (`ip route replace`) while master, removed on leaving, by the crash guardian too; \
         a master whose route someone else removes steps down to BACKUP unless no_track",
    ),
    kw(
        VrrpInstance,
        "virtual_rules",
        Acted,
        "added (`ip rule add`) while master, removed on leaving, by the crash guardian too; \
         a master whose rule someone else removes steps down to BACKUP unless no_track (a \
         rule is known by its priority: one without is not tracked)",
    ),
    kw(VrrpInstance, "promote_secondaries", AcceptedNotActed, ""),
    kw(VrrpInstance, "linkbeat_use_polling", AcceptedNotActed, ""),
    kw(VrrpInstance, "accept", AcceptedNotActed, ""),
    kw(
        VrrpInstance,
        "no_accept",
        AcceptedNotActed,
        "no firewall rule drops traffic to the addresses",
    ),
    kw(VrrpInstance, "skip_check_adv_addr", AcceptedNotActed, ""),
    kw(
        VrrpInstance,
        "strict_mode",
        AcceptedNotActed,
        "its configuration checks apply; no firewall rule is installed",
    ),
    kw(VrrpInstance, "debug", AcceptedNotActed, ""),
    kw(
        VrrpInstance,
        "notify_deleted",
        Acted,
        "a reload that removes the instance reports DELETED instead of FAULT",
    ),
    kw(
        VrrpInstance,
        "notify_master_rx_lower_pri",
        Acted,
        "run each time this master hears a lower priority; notify FIFOs get \
         MASTER_RX_LOWER_PRI",
    ),
    kw(VrrpInstance, "smtp_alert", AcceptedNotActed, ""),
    kw(
        VrrpInstance,
        "notify_priority_changes",
        Acted,
        "notify FIFOs get MASTER_PRIORITY / BACKUP_PRIORITY lines",
    ),
    kw(
        VrrpInstance,
        "lvs_sync_daemon_interface",
        AcceptedNotActed,
        "",
    ),
    kw(VrrpInstance, "garp_master_refresh", Acted, ""),
    kw(VrrpInstance, "garp_master_refresh_repeat", Acted, ""),
    kw(VrrpInstance, "garp_lower_prio_delay", Acted, ""),
    kw(VrrpInstance, "garp_lower_prio_repeat", Acted, ""),
    kw(VrrpInstance, "down_timer_adverts", Acted, ""),
    kw(VrrpInstance, "garp_extra_if", AcceptedNotActed, ""),
    kw(VrrpInstance, "vmac_garp_intvl", AcceptedNotActed, ""),
    kw(VrrpInstance, "lower_prio_no_advert", Acted, ""),
    kw(VrrpInstance, "higher_prio_send_advert", Acted, ""),
    kw(VrrpInstance, "kernel_rx_buf_size", AcceptedNotActed, ""),
    // ----- authentication -----
    kw(Authentication, "auth_type", Acted, "PASS"),
    kw(
        Authentication,
        "auth_pass",
        Acted,
        "cut to 8 characters, as keepalived does",
    ),
    kw(
        Authentication,
        "auth_type AH",
        Rejected,
        "IPsec AH is not implemented; use PASS, or VRRPv3 without authentication",
    ),
    // ----- virtual_ipaddress entries -----
    kw(VirtualIpaddress, "ADDRESS[/PREFIX]", Acted, ""),
    kw(VirtualIpaddress, "dev", Acted, ""),
    kw(VirtualIpaddress, "label", Acted, "IPv4 only, as in Linux"),
    kw(VirtualIpaddress, "brd", Acted, "IPv4 only: ADDRESS, + or -"),
    kw(
        VirtualIpaddress,
        "broadcast",
        Acted,
        "IPv4 only: ADDRESS, + or -",
    ),
    kw(
        VirtualIpaddress,
        "scope",
        Acted,
        "IPv4 only (keepalived ignores it for IPv6)",
    ),
    kw(
        VirtualIpaddress,
        "no_track",
        Acted,
        "without it, a master whose address someone else removes steps down to BACKUP",
    ),
    kw(VirtualIpaddress, "peer", AcceptedNotActed, ""),
    kw(VirtualIpaddress, "preferred_lft", AcceptedNotActed, ""),
    kw(VirtualIpaddress, "home", AcceptedNotActed, ""),
    kw(VirtualIpaddress, "-nodad", AcceptedNotActed, ""),
    kw(VirtualIpaddress, "mngtmpaddr", AcceptedNotActed, ""),
    kw(VirtualIpaddress, "noprefixroute", AcceptedNotActed, ""),
    kw(VirtualIpaddress, "autojoin", AcceptedNotActed, ""),
    kw(VirtualIpaddress, "use_vmac", AcceptedNotActed, ""),
    // ----- unicast_peer entries -----
    kw(UnicastPeer, "min_ttl", Acted, "checked in XDP"),
    kw(UnicastPeer, "max_ttl", Acted, "checked in XDP"),
    // ----- vrrp_script -----
    kw(VrrpScript, "script", Acted, ""),
    kw(VrrpScript, "interval", Acted, "whole seconds"),
    kw(
        VrrpScript,
        "timeout",
        Acted,
        "TERM, then KILL of the process group",
    ),
    kw(VrrpScript, "weight", Acted, ""),
    kw(VrrpScript, "rise", Acted, ""),
    kw(VrrpScript, "fall", Acted, ""),
    kw(VrrpScript, "init_fail", Acted, ""),
    kw(
        VrrpScript,
        "user",
        Acted,
        "the group is not used: the script runs with the user's primary group",
    ),
    // ----- vrrp_sync_group -----
    kw(VrrpSyncGroup, "group", Acted, ""),
    kw(VrrpSyncGroup, "track_interface", Acted, ""),
    kw(VrrpSyncGroup, "track_script", Acted, ""),
    kw(VrrpSyncGroup, "track_file", Acted, ""),
    kw(VrrpSyncGroup, "track_process", Acted, ""),
    kw(
        VrrpSyncGroup,
        "track_bfd",
        AcceptedNotActed,
        "BFD sessions are not tracked",
    ),
    kw(
        VrrpSyncGroup,
        "notify_master",
        AcceptedNotActed,
        "the members' own scripts run",
    ),
    kw(
        VrrpSyncGroup,
        "notify_backup",
        AcceptedNotActed,
        "the members' own scripts run",
    ),
    kw(
        VrrpSyncGroup,
        "notify_fault",
        AcceptedNotActed,
        "the members' own scripts run",
    ),
    kw(
        VrrpSyncGroup,
        "notify_stop",
        AcceptedNotActed,
        "the members' own scripts run",
    ),
    kw(
        VrrpSyncGroup,
        "notify",
        AcceptedNotActed,
        "the members' own scripts run",
    ),
    kw(VrrpSyncGroup, "smtp_alert", AcceptedNotActed, ""),
    kw(
        VrrpSyncGroup,
        "global_tracking",
        Acted,
        "deprecated: same as sync_group_tracking_weight",
    ),
    kw(VrrpSyncGroup, "sync_group_tracking_weight", Acted, ""),
    kw(
        VrrpSyncGroup,
        "notify_priority_changes",
        AcceptedNotActed,
        "",
    ),
    // ----- track_file -----
    kw(TrackFile, "file", Acted, ""),
    kw(TrackFile, "weight", Acted, ""),
    kw(TrackFile, "init_file", Acted, "at start-up"),
    // ----- vrrp_track_process -----
    kw(VrrpTrackProcess, "process", Acted, ""),
    kw(VrrpTrackProcess, "param_match", Acted, ""),
    kw(VrrpTrackProcess, "weight", Acted, ""),
    kw(VrrpTrackProcess, "quorum", Acted, ""),
    kw(VrrpTrackProcess, "quorum_max", Acted, ""),
    kw(VrrpTrackProcess, "delay", Acted, ""),
    kw(VrrpTrackProcess, "terminate_delay", Acted, ""),
    kw(VrrpTrackProcess, "fork_delay", Acted, ""),
    kw(VrrpTrackProcess, "full_command", Acted, ""),
];

/// The row of `name` in `block`.
pub fn lookup(block: Block, name: &str) -> Option<&'static Keyword> {
    KEYWORDS.iter().find(|k| k.block == block && k.name == name)
}

/// The keywords that can be written in `block` (what "did you mean" chooses from): rows
/// that describe a form (`auth_type AH`, `@HOST lines`) are left out.
pub(super) fn known(block: Block) -> impl Iterator<Item = &'static str> {
    KEYWORDS
        .iter()
        .filter(move |k| k.block == block && is_word(k.name))
        .map(|k| k.name)
}

/// Whether `name` is a keyword keepalived knows in `block`.
pub(super) fn knows(block: Block, name: &str) -> bool {
    known(block).any(|k| k == name)
}

fn is_word(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The support table as Markdown: one table per block, in [`Block::ALL`] order. This is
/// what README.md holds between `<!-- keywords:begin -->` and `<!-- keywords:end -->`.
pub fn markdown() -> String {
    let mut out = String::new();
    for (i, block) in Block::ALL.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "#### {}\n", block.title());
        out.push_str("| keyword | status | note |\n|---|---|---|\n");
        for k in KEYWORDS.iter().filter(|k| k.block == block) {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                k.name,
                k.status.text(),
                k.note.replace('|', "\\|")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn no_keyword_is_listed_twice_in_a_block() {
        let mut seen = HashSet::new();
        for k in KEYWORDS {
            assert!(
                seen.insert((k.block, k.name)),
                "{:?} {} twice",
                k.block,
                k.name
            );
        }
    }

    #[test]
    fn every_block_has_rows_and_notes_are_one_line() {
        for block in Block::ALL {
            assert!(KEYWORDS.iter().any(|k| k.block == block), "{block:?}");
        }
        for k in KEYWORDS {
            assert!(!k.note.contains('\n'), "{}", k.name);
            assert!(
                !k.note.ends_with('.'),
                "{}: notes end without a full stop",
                k.name
            );
        }
    }

    #[test]
    fn the_seed_keywords_are_acted_on() {
        let acted = [
            (VrrpInstance, "state"),
            (VrrpInstance, "interface"),
            (VrrpInstance, "virtual_router_id"),
            (VrrpInstance, "priority"),
            (VrrpInstance, "advert_int"),
            (VrrpInstance, "version"),
            (VrrpInstance, "authentication"),
            (VrrpInstance, "virtual_ipaddress"),
            (VrrpInstance, "track_script"),
            (VrrpInstance, "nopreempt"),
            (VrrpInstance, "preempt"),
            (VrrpInstance, "preempt_delay"),
            (VrrpInstance, "notify_master"),
            (VrrpInstance, "notify_backup"),
            (VrrpInstance, "notify_fault"),
            (VrrpInstance, "notify_stop"),
            (VrrpInstance, "notify"),
            (VrrpInstance, "garp_master_delay"),
            (VrrpInstance, "garp_master_repeat"),
            (GlobalDefs, "vrrp_version"),
            (GlobalDefs, "router_id"),
            (GlobalDefs, "vrrp_garp_master_delay"),
            (GlobalDefs, "vrrp_garp_master_repeat"),
            (Authentication, "auth_type"),
            (Authentication, "auth_pass"),
            (VirtualIpaddress, "dev"),
            (VrrpScript, "script"),
            (VrrpScript, "interval"),
            (VrrpScript, "timeout"),
            (VrrpScript, "weight"),
            (VrrpScript, "rise"),
            (VrrpScript, "fall"),
            (VrrpScript, "init_fail"),
            // Landed after the seed.
            (GlobalDefs, "script_user"),
            (GlobalDefs, "enable_script_security"),
            (VrrpScript, "user"),
            (VrrpInstance, "track_file"),
            (Top, "vrrp_track_process"),
            (VrrpInstance, "virtual_routes"),
            (VrrpInstance, "virtual_rules"),
        ];
        for (block, name) in acted {
            assert_eq!(lookup(block, name).map(|k| k.status), Some(Acted), "{name}");
        }
        for (block, name) in [
            (VrrpInstance, "promote_secondaries"),
            (GlobalDefs, "smtp_server"),
        ] {
            assert_eq!(
                lookup(block, name).map(|k| k.status),
                Some(AcceptedNotActed),
                "{name}"
            );
        }
        assert_eq!(
            lookup(Authentication, "auth_type AH").unwrap().status,
            Rejected
        );
        assert_eq!(lookup(Top, "virtual_server").unwrap().status, Skipped);
    }

    #[test]
    fn known_leaves_out_descriptions_of_forms() {
        assert!(knows(Authentication, "auth_type"));
        assert!(!known(Authentication).any(|k| k.contains(' ')));
        assert!(!known(Top).any(|k| k.starts_with(['@', '$', '~'])));
        assert!(knows(VirtualIpaddress, "-nodad"));
        assert!(!knows(VrrpInstance, "vrrp_version"));
    }

    #[test]
    fn markdown_has_one_table_per_block() {
        let md = markdown();
        assert_eq!(
            md.matches("| keyword | status | note |").count(),
            Block::ALL.len()
        );
        assert!(md.contains("| `priority` | acted on |  |\n"));
        assert!(md.contains(
            "| `use_vmac_addr` | accepted, not acted on | the addresses go on the interface \
             itself, not on a VMAC |\n"
        ));
        assert!(md.ends_with("|\n"));
    }

    /// README.md holds exactly what `vrrp-daemon keywords --markdown` prints, between its
    /// markers: regenerate it with that command when this fails.
    #[test]
    fn readme_support_table_is_generated_from_this_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let begin = "<!-- keywords:begin -->\n";
        let end = "<!-- keywords:end -->";
        let start = readme.find(begin).expect("begin marker") + begin.len();
        let stop = readme.find(end).expect("end marker");
        assert_eq!(
            &readme[start..stop],
            markdown(),
            "README.md's keyword table is stale: replace the text between the markers with \
             the output of `vrrp-daemon keywords --markdown`"
        );
    }
}
