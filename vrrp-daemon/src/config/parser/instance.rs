//! The `vrrp_instance` handlers: its keywords, `authentication`, and the entries of its
//! list blocks (addresses, routes, unicast peers).
use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use super::{
    super::{
        keywords::{self, Block, Status},
        model::{
            AddressScope, Broadcast, Family, InitialState, IpPrefix, OldUnicastChecksum,
            UnicastPeer, VirtualAddress, VirtualRoute, VirtualRule,
        },
        raw::{AuthType, RawAuth, RawConfig, RawInstance, RawVmac, Seconds, Spanned},
    },
    DOWN_TIMER_ADVERTS, GARP_DELAY, GARP_LOWER_PRIO_REPEAT, GARP_REFRESH, MAX_IFNAME,
    MAX_PREEMPT_DELAY_US, PRIORITY, Stmt, TTL, VRID, Walker, did_you_mean, is_vrrp_multicast, set,
};

impl Walker<'_> {
    pub(super) fn instance(&mut self, s: &Stmt<'_>, raw: &mut RawConfig) {
        let Some(name) = self.name(s, "vrrp_instance VI_1 {") else {
            return;
        };
        let Some(body) = self.need_block(
            s,
            "`vrrp_instance VI_1 {` followed by its keywords (`interface eth0`, ...) and `}`",
        ) else {
            return;
        };
        let mut inst = RawInstance::new(name, s.loc().clone());
        let i = &mut inst;
        let mut tainted = false;
        let health = self.walk(Block::VrrpInstance, &body.stmts, false, |w, st| {
            tainted |= w.instance_stmt(st, i);
        });
        inst.health = health;
        inst.health.tainted |= tainted;
        raw.instances.push(inst);
    }

    /// One statement of an instance; whether part of it held unsupported syntax.
    fn instance_stmt(&mut self, s: &Stmt<'_>, inst: &mut RawInstance) -> bool {
        let mut tainted = false;
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
                if let Some(body) = self.need_block(
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
                    let a = &mut auth;
                    let health = self.walk(Block::Authentication, &body.stmts, false, |w, st| {
                        w.auth_stmt(st, a);
                    });
                    tainted |= health.tainted;
                    inst.auth = Some(auth);
                }
            }
            "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                self.no_name(s);
                let excluded = s.kw() == "virtual_ipaddress_excluded";
                let example = format!("`{} {{ 192.168.1.100/24 }}`", s.kw());
                if let Some(body) = self.need_block(s, &example) {
                    for entry in &body.stmts {
                        if entry.already_reported() {
                            tainted = true;
                        } else if let Some(vip) = self.vip(entry, s.kw()) {
                            if excluded {
                                inst.evips.push(vip);
                            } else {
                                inst.vips.push(vip);
                            }
                        }
                    }
                }
            }
            "virtual_rules" => {
                self.no_name(s);
                if let Some(body) = self.need_block(
                    s,
                    "`virtual_rules { from 10.1.0.0/16 table 100 priority 100 }`",
                ) {
                    for entry in &body.stmts {
                        if entry.already_reported() {
                            tainted = true;
                        } else if let Some(rule) = self.rule(entry) {
                            inst.rules.push(rule);
                        }
                    }
                }
            }
            "virtual_routes" => {
                self.no_name(s);
                if let Some(body) =
                    self.need_block(s, "`virtual_routes { 10.1.0.0/16 via 192.168.1.1 }`")
                {
                    for entry in &body.stmts {
                        if entry.already_reported() {
                            tainted = true;
                        } else if let Some(route) = self.route(entry) {
                            inst.routes.push(route);
                        }
                    }
                }
            }
            "unicast_peer" => {
                self.no_name(s);
                self.unicast_keyword(s, inst);
                if let Some(body) = self.need_block(s, "`unicast_peer { 192.168.1.2 }`") {
                    inst.peer_block.get_or_insert_with(|| s.loc().clone());
                    for entry in &body.stmts {
                        if entry.already_reported() {
                            tainted = true;
                        } else if let Some(peer) = self.peer(entry) {
                            inst.peers.push(peer);
                        }
                    }
                }
            }
            "track_script" | "track_interface" | "track_file" | "track_process" => {
                tainted = self.track_block(s, &mut inst.tracking);
            }
            "dont_track_primary" => {
                if self.flag(s) {
                    inst.dont_track_primary = true;
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
            "notify_master" => self.notify(s, &mut inst.notify.master),
            "notify_backup" => self.notify(s, &mut inst.notify.backup),
            "notify_fault" => self.notify(s, &mut inst.notify.fault),
            "notify_stop" => self.notify(s, &mut inst.notify.stop),
            "notify" => self.notify(s, &mut inst.notify.generic),
            "notify_master_rx_lower_pri" => {
                self.notify(s, &mut inst.notify.master_rx_lower_pri);
            }
            "notify_deleted" => {
                self.leaf(s);
                match s.args.as_slice() {
                    [] => set(self.diags, &mut inst.notify_deleted, s, None),
                    [script, _rest @ ..] => {
                        let mut slot = None;
                        self.notify(s, &mut slot);
                        if slot.is_some() {
                            set(
                                self.diags,
                                &mut inst.notify_deleted,
                                s,
                                Some(script.text.clone()),
                            );
                        }
                    }
                }
            }
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
            "garp_master_refresh" => {
                if let Some(n) = self.number_value(s, "garp_master_refresh 60", &GARP_REFRESH) {
                    set(self.diags, &mut inst.garp_master_refresh, s, n as u32);
                }
            }
            "garp_master_refresh_repeat" => {
                if let Some(n) = self.garp_repeat(s, "garp_master_refresh_repeat 2") {
                    set(self.diags, &mut inst.garp_master_refresh_repeat, s, n);
                }
            }
            "garp_lower_prio_delay" => {
                if let Some(n) = self.number_value(s, "garp_lower_prio_delay 5", &GARP_DELAY) {
                    set(self.diags, &mut inst.garp_lower_prio_delay, s, n as u32);
                }
            }
            "garp_lower_prio_repeat" => {
                if let Some(n) =
                    self.number_value(s, "garp_lower_prio_repeat 1", &GARP_LOWER_PRIO_REPEAT)
                {
                    set(self.diags, &mut inst.garp_lower_prio_repeat, s, n as u32);
                }
            }
            "unicast_src_ip" | "mcast_src_ip" => {
                if s.kw() == "unicast_src_ip" {
                    self.unicast_keyword(s, inst);
                }
                let example = format!("{} 192.168.1.1", s.kw());
                if let Some(addr) = self.ip_value(s, &example) {
                    let kw = if s.kw() == "unicast_src_ip" {
                        "unicast_src_ip"
                    } else {
                        "mcast_src_ip"
                    };
                    if let Some(first) = &inst.src_ip
                        && first.value.1 != kw
                    {
                        // `set` only warns about the same keyword twice.
                        self.diags.warn(
                            s.loc(),
                            format!(
                                "{kw} and {} (at {}) both set the source address; the later \
                                 one is used: keep one",
                                first.value.1,
                                super::short_location(&first.loc, s.loc())
                            ),
                        );
                        inst.src_ip = None;
                    }
                    set(self.diags, &mut inst.src_ip, s, (addr, kw));
                }
            }
            "mcast_dst_ip" => {
                if let Some(addr) = self.ip_value(s, "mcast_dst_ip 224.0.0.18") {
                    if is_vrrp_multicast(&addr) {
                        set(self.diags, &mut inst.mcast_dst_ip, s, addr);
                    } else {
                        self.diags.error(
                            s.loc(),
                            format!(
                                "mcast_dst_ip {addr} is not {}; use e.g. {}, or leave it out for \
                                 the standard VRRP group",
                                if addr.is_ipv4() {
                                    "a multicast address"
                                } else {
                                    "a link-local multicast address (ff02::/16)"
                                },
                                if addr.is_ipv4() {
                                    "224.0.0.18"
                                } else {
                                    "ff02::12"
                                }
                            ),
                        );
                    }
                }
            }
            "unicast_ttl" => {
                if let Some(n) = self.number_value(s, "unicast_ttl 64", &TTL) {
                    set(self.diags, &mut inst.unicast_ttl, s, n as u8);
                }
            }
            "check_unicast_src" => {
                self.unicast_keyword(s, inst);
                if self.flag(s) {
                    inst.check_unicast_src = true;
                }
            }
            "unicast_fault_no_peer" => {
                self.unicast_keyword(s, inst);
                if self.flag(s) {
                    inst.unicast_fault_no_peer = true;
                }
            }
            "old_unicast_checksum" => {
                self.unicast_keyword(s, inst);
                self.leaf(s);
                let mode = match s.args.as_slice() {
                    [] => Some(OldUnicastChecksum::Always),
                    [v] if v.text == "never" => Some(OldUnicastChecksum::Never),
                    [v] => {
                        self.diags.error(
                            s.loc(),
                            format!(
                                "old_unicast_checksum {} is invalid; write \
                                 `old_unicast_checksum` (always use the old form) or \
                                 `old_unicast_checksum never`",
                                v.text
                            ),
                        );
                        None
                    }
                    [_, extra, ..] => {
                        self.too_many(s, extra, "old_unicast_checksum never");
                        None
                    }
                };
                if let Some(mode) = mode {
                    set(self.diags, &mut inst.old_unicast_checksum, s, mode);
                }
            }
            "v3_checksum_as_v2" => {
                if let Some(b) = self.bool_value(s) {
                    set(self.diags, &mut inst.v3_checksum_as_v2, s, b);
                }
            }
            "use_vmac" => {
                if let Some(vmac) = self.vmac(s) {
                    set(self.diags, &mut inst.vmac, s, vmac);
                }
            }
            "vmac_xmit_base" => {
                if self.flag(s) {
                    inst.vmac_xmit_base = Some(s.loc().clone());
                }
            }
            "accept" | "no_accept" => {
                if self.flag(s) {
                    inst.accept = Some(Spanned {
                        value: s.kw() == "accept",
                        loc: s.loc().clone(),
                    });
                }
            }
            "strict_mode" => {
                if let Some(b) = self.bool_value(s) {
                    set(self.diags, &mut inst.strict_mode, s, b);
                }
            }
            "skip_check_adv_addr" => {
                if let Some(b) = self.bool_value(s) {
                    set(self.diags, &mut inst.skip_check_adv_addr, s, b);
                }
            }
            "notify_priority_changes" => {
                if let Some(b) = self.bool_value(s) {
                    set(self.diags, &mut inst.notify_priority_changes, s, b);
                }
            }
            "lower_prio_no_advert" => {
                if let Some(b) = self.bool_value(s) {
                    set(self.diags, &mut inst.lower_prio_no_advert, s, b);
                }
            }
            "higher_prio_send_advert" => {
                if let Some(b) = self.bool_value(s) {
                    set(self.diags, &mut inst.higher_prio_send_advert, s, b);
                }
            }
            "down_timer_adverts" => {
                if let Some(n) = self.number_value(s, "down_timer_adverts 3", &DOWN_TIMER_ADVERTS) {
                    set(self.diags, &mut inst.down_timer_adverts, s, n as u8);
                }
            }
            _ => self.other(s, Block::VrrpInstance),
        }
        tainted
    }

    /// Remembers the first keyword that asks for unicast.
    fn unicast_keyword(&mut self, s: &Stmt<'_>, inst: &mut RawInstance) {
        if inst.unicast_keyword.is_none() {
            let kw = match s.kw() {
                "unicast_peer" => "unicast_peer",
                "unicast_src_ip" => "unicast_src_ip",
                "check_unicast_src" => "check_unicast_src",
                "unicast_fault_no_peer" => "unicast_fault_no_peer",
                _ => "old_unicast_checksum",
            };
            inst.unicast_keyword = Some(Spanned {
                value: kw,
                loc: s.loc().clone(),
            });
        }
    }

    fn auth_stmt(&mut self, s: &Stmt<'_>, auth: &mut RawAuth) {
        match s.kw() {
            "auth_type" => {
                if let Some(v) = self.value(s, "auth_type PASS") {
                    match v.text.as_str() {
                        "PASS" => set(self.diags, &mut auth.auth_type, s, AuthType::Pass),
                        "AH" => self.diags.error(
                            s.loc(),
                            "auth_type AH (IPsec AH) is not supported; use `auth_type PASS` \
                             on every node, or remove the authentication block (VRRPv3 has \
                             none)",
                        ),
                        other => self
                            .diags
                            .error(s.loc(), format!("auth_type {other} is invalid; use PASS")),
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
            _ => self.other(s, Block::Authentication),
        }
    }

    /// The note for an option of an address or peer entry that is not acted on.
    fn option_note(&mut self, block: Block, option: &super::Token, what: &str) {
        if let Some(k) = keywords::lookup(block, &option.text)
            && k.status == Status::AcceptedNotActed
        {
            let note = if k.note.is_empty() {
                String::new()
            } else {
                format!(": {}", k.note)
            };
            self.diags.note(
                &option.loc,
                format!("`{}` on {what} is accepted, not acted on{note}", k.name),
            );
        }
    }

    /// One line of `virtual_ipaddress` or `virtual_ipaddress_excluded`:
    /// `ADDR[/LEN] [dev IF] [label L] [brd X] [scope S] ...`.
    pub(super) fn vip(&mut self, e: &Stmt<'_>, list: &str) -> Option<Spanned<VirtualAddress>> {
        self.leaf(e);
        let text = e.kw();
        let (addr, prefix_len) = self.prefix(e, list)?;
        let mut vip = VirtualAddress {
            addr,
            prefix_len,
            dev: None,
            label: None,
            brd: None,
            scope: None,
            no_track: false,
        };
        let what = "a virtual_ipaddress";
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
                    let before = (self.diags.errors.len(), self.diags.warnings.len());
                    match opt {
                        "dev" => {
                            if vip.dev.is_some() {
                                self.diags.error(
                                    &option.loc,
                                    format!("`dev` is given twice for {text}; keep one"),
                                );
                            } else if self.ifname(&option.loc, "dev", v) {
                                vip.dev = Some(v.to_owned());
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
                            } else {
                                vip.brd = match v {
                                    "+" => Some(Broadcast::AllHostBits),
                                    "-" => Some(Broadcast::NoHostBits),
                                    _ => match v.parse::<Ipv4Addr>() {
                                        Ok(a) => Some(Broadcast::Address(a)),
                                        Err(_) => {
                                            self.diags.error(
                                                &option.loc,
                                                format!(
                                                    "`{opt} {v}` is invalid; use an IPv4 \
                                                     address, `+` (all host bits set) or `-` \
                                                     (none)"
                                                ),
                                            );
                                            None
                                        }
                                    },
                                };
                            }
                        }
                        "scope" => match address_scope(v) {
                            None => self.diags.error(
                                &option.loc,
                                format!(
                                    "scope {v} is invalid; use global, site, link, host or \
                                     nowhere"
                                ),
                            ),
                            Some(_) if addr.is_ipv6() => self.diags.warn(
                                &option.loc,
                                format!(
                                    "scope is ignored on IPv6 address {text} (as keepalived \
                                     does); remove it"
                                ),
                            ),
                            scope => vip.scope = scope,
                        },
                        "peer" => {
                            if v.split('/')
                                .next()
                                .and_then(|a| a.parse::<IpAddr>().ok())
                                .is_none_or(|p| p.is_ipv4() != addr.is_ipv4())
                            {
                                self.diags.error(
                                    &option.loc,
                                    format!(
                                        "peer {v} is not an address of the same family as \
                                         {text}; write e.g. `peer {}`",
                                        if addr.is_ipv4() {
                                            "192.168.1.1"
                                        } else {
                                            "fe80::1"
                                        }
                                    ),
                                );
                            }
                        }
                        _ => {
                            if v != "forever" && v.parse::<u32>().is_err() {
                                self.diags.error(
                                    &option.loc,
                                    format!(
                                        "preferred_lft {v} is invalid; use seconds (0 to \
                                         4294967295) or `forever`"
                                    ),
                                );
                            }
                        }
                    }
                    if self.diags.errors.len() > before.0 {
                        ok = false;
                    } else if self.diags.warnings.len() == before.1 {
                        self.option_note(Block::VirtualIpaddress, option, what);
                    }
                }
                "home" | "-nodad" | "mngtmpaddr" | "noprefixroute" | "autojoin" | "no_track"
                | "use_vmac" => {
                    i += 1;
                    if opt == "no_track" {
                        vip.no_track = true;
                    }
                    self.option_note(Block::VirtualIpaddress, option, what);
                }
                _ => {
                    ok = false;
                    let message = if opt
                        .split('/')
                        .next()
                        .is_some_and(|a| a.parse::<IpAddr>().is_ok())
                    {
                        format!(
                            "`{opt}` follows {text} on the same line; put each address of \
                             {list} on its own line"
                        )
                    } else {
                        let options = keywords::known(Block::VirtualIpaddress);
                        let near = did_you_mean(opt, options)
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

    /// `ADDR[/LEN]` at the start of an entry of `list`.
    fn prefix(&mut self, e: &Stmt<'_>, list: &str) -> Option<(IpAddr, u8)> {
        let text = e.kw();
        match parse_prefix(text) {
            Ok(p) => Some(p),
            Err(PrefixError::Address) => {
                self.diags.error(
                    e.loc(),
                    format!(
                        "`{text}` is not an IP address; write one address per line of {list}, \
                         e.g. `192.168.1.100/24 dev eth0`"
                    ),
                );
                None
            }
            Err(PrefixError::Length { len, max }) => {
                self.diags.error(
                    e.loc(),
                    format!(
                        "prefix length /{len} of {text} is invalid; use /0 to /{max} (or leave \
                         it out for /{max})"
                    ),
                );
                None
            }
        }
    }

    /// One line of `unicast_peer`: `ADDR [min_ttl N] [max_ttl N]`.
    fn peer(&mut self, e: &Stmt<'_>) -> Option<Spanned<UnicastPeer>> {
        self.leaf(e);
        let text = e.kw();
        let Ok(addr) = text.parse::<IpAddr>() else {
            self.diags.error(
                e.loc(),
                format!(
                    "`{text}` is not an IP address; write one peer address per line of \
                     unicast_peer, e.g. `192.168.1.2`"
                ),
            );
            return None;
        };
        let mut peer = UnicastPeer {
            addr,
            min_ttl: 0,
            max_ttl: 255,
        };
        let mut rest = e.args.as_slice();
        while let [option, tail @ ..] = rest {
            let opt = option.text.as_str();
            if opt != "min_ttl" && opt != "max_ttl" {
                let message = if opt.parse::<IpAddr>().is_ok() {
                    format!(
                        "`{opt}` follows {text} on the same line; put each unicast_peer on its \
                         own line"
                    )
                } else {
                    let near = did_you_mean(opt, keywords::known(Block::UnicastPeer))
                        .map(|n| format!("did you mean `{n}`? "))
                        .unwrap_or_default();
                    format!(
                        "unknown unicast_peer option `{opt}`; {near}the options are min_ttl and \
                         max_ttl"
                    )
                };
                self.diags.error(&option.loc, message);
                return None;
            }
            let Some(value) = tail.first() else {
                self.diags.error(
                    &option.loc,
                    format!("`{opt}` needs a value after it; write e.g. `{opt} 64`"),
                );
                return None;
            };
            let ttl = self.number(&option.loc, opt, value, &TTL)? as u8;
            if opt == "min_ttl" {
                peer.min_ttl = ttl;
            } else {
                peer.max_ttl = ttl;
            }
            rest = &tail[1..];
        }
        if peer.min_ttl > peer.max_ttl {
            self.diags.error(
                e.loc(),
                format!(
                    "min_ttl {} is above max_ttl {} for unicast_peer {text}, so every advert \
                     from it would be dropped; swap them",
                    peer.min_ttl, peer.max_ttl
                ),
            );
            return None;
        }
        Some(Spanned {
            value: peer,
            loc: e.loc().clone(),
        })
    }

    /// `use_vmac [IFNAME] [MAC]`.
    fn vmac(&mut self, s: &Stmt<'_>) -> Option<RawVmac> {
        self.leaf(s);
        let mut vmac = RawVmac {
            ifname: None,
            mac: None,
        };
        if let Some(extra) = s.args.get(2) {
            self.too_many(s, extra, "use_vmac vrrp.51 00:00:5e:00:01:33");
            return None;
        }
        for arg in &s.args {
            let t = arg.text.as_str();
            if t.contains(':') {
                if vmac.mac.is_some() {
                    self.diags
                        .error(s.loc(), "use_vmac has two MAC addresses; keep one");
                    return None;
                }
                match vmac_mac(t) {
                    Ok(mac) => vmac.mac = Some(mac),
                    Err(why) => {
                        self.diags
                            .error(s.loc(), format!("use_vmac MAC address `{t}` {why}"));
                        return None;
                    }
                }
            } else {
                if vmac.ifname.is_some() {
                    self.diags
                        .error(s.loc(), "use_vmac has two interface names; keep one");
                    return None;
                }
                if !self.ifname(s.loc(), "use_vmac", t) {
                    return None;
                }
                vmac.ifname = Some(t.to_owned());
            }
        }
        Some(vmac)
    }

    /// One line of `virtual_routes`: `ip route` syntax plus `no_track`.
    pub(super) fn route(&mut self, e: &Stmt<'_>) -> Option<Spanned<VirtualRoute>> {
        self.leaf(e);
        let words: Vec<&super::Token> = e.words().collect();
        let line = joined(&words);
        let mut route = VirtualRoute {
            words: Vec::new(),
            dst: None,
            family: Family::Ipv4,
            via: None,
            dev: None,
            table: None,
            metric: None,
            src: None,
            blackhole: false,
            no_track: false,
        };
        let mut family: Option<(Family, &str)> = None;
        let mut have_dst = false;
        let mut i = 0;
        // Fails the entry with `message` at `at`.
        macro_rules! fail {
            ($at:expr, $($message:tt)*) => {{
                self.diags.error(&$at.loc, format!($($message)*));
                return None;
            }};
        }
        // The family of one more address of the route must match the others.
        macro_rules! same_family {
            ($at:expr, $addr:expr) => {{
                if let Err(message) = same_family(&mut family, &$addr, &$at.text, "route", &line) {
                    fail!($at, "{message}");
                }
            }};
        }
        while let Some(word) = words.get(i) {
            let w = word.text.as_str();
            let value = words.get(i + 1);
            let need = |this: &mut Self| {
                this.diags.error(
                    &word.loc,
                    format!(
                        "`{w}` in virtual_routes needs a value after it; write e.g. `{}`",
                        route_example(w)
                    ),
                );
            };
            match w {
                "no_track" => {
                    route.no_track = true;
                    i += 1;
                    continue;
                }
                "src" | "from" | "or" => {
                    let Some(v) = value else {
                        need(self);
                        return None;
                    };
                    let Ok(addr) = v.text.split('/').next().unwrap_or("").parse::<IpAddr>() else {
                        fail!(v, "{w} `{}` in virtual_routes is not an IP address", v.text)
                    };
                    same_family!(v, addr);
                    if w == "src" {
                        route.src = Some(addr);
                    }
                    i += 2;
                }
                "via" | "gw" => {
                    let mut at = i + 1;
                    if words
                        .get(at)
                        .is_some_and(|t| t.text == "inet" || t.text == "inet6")
                    {
                        at += 1;
                    }
                    let Some(v) = words.get(at) else {
                        need(self);
                        return None;
                    };
                    let Ok(addr) = v.text.parse::<IpAddr>() else {
                        fail!(v, "via `{}` in virtual_routes is not an IP address", v.text)
                    };
                    same_family!(v, addr);
                    route.via = Some(addr);
                    i = at + 1;
                }
                "dev" | "oif" => {
                    let Some(v) = value else {
                        need(self);
                        return None;
                    };
                    if !self.ifname(&v.loc, "dev", &v.text) {
                        return None;
                    }
                    route.dev = Some(v.text.clone());
                    i += 2;
                }
                "table" | "vrf" => {
                    let Some(v) = value else {
                        need(self);
                        return None;
                    };
                    if w == "table" {
                        route.table = Some(v.text.clone());
                    }
                    i += 2;
                }
                "metric" | "priority" | "preference" => {
                    let Some(v) = value else {
                        need(self);
                        return None;
                    };
                    let Ok(n) = v.text.parse::<u32>() else {
                        fail!(
                            v,
                            "{w} `{}` in virtual_routes is not a number; use 0 to 4294967295",
                            v.text
                        )
                    };
                    route.metric = Some(n);
                    i += 2;
                }
                "inet" | "inet6" | "onlink" | "add" | "prepend" | "append" => i += 1,
                "mtu" | "advmss" | "rtt" | "rttvar" | "reordering" | "window" | "cwnd"
                | "ssthresh" | "initcwnd" | "initrwnd" | "rto_min" | "hoplimit" | "congctl" => {
                    let mut at = i + 1;
                    if words.get(at).is_some_and(|t| t.text == "lock") {
                        at += 1;
                    }
                    if words.get(at).is_none() {
                        need(self);
                        return None;
                    }
                    i = at + 1;
                }
                "scope" | "protocol" | "proto" | "tos" | "dsfield" | "realms" | "features"
                | "quickack" | "pref" | "expires" | "ttl-propagate" | "fastopen_no_cookie" => {
                    if value.is_none() {
                        need(self);
                        return None;
                    }
                    i += 2;
                }
                "as" => {
                    let at = if words.get(i + 1).is_some_and(|t| t.text == "to") {
                        i + 2
                    } else {
                        i + 1
                    };
                    if words.get(at).is_none() {
                        need(self);
                        return None;
                    }
                    i = at + 1;
                }
                // The rest of the line describes next hops or an encapsulation: kept as
                // written for `ip route`.
                "nexthop" | "encap" => break,
                _ => {
                    let mut at = i;
                    if w == "to" {
                        at += 1;
                    }
                    if words
                        .get(at)
                        .is_some_and(|t| ROUTE_TYPES.contains(&t.text.as_str()))
                    {
                        route.blackhole = words[at].text == "blackhole";
                        at += 1;
                    }
                    let Some(dst) = words.get(at) else {
                        fail!(
                            word,
                            "virtual_routes entry `{line}` has no destination after `{w}`; \
                             write e.g. `blackhole 10.2.0.0/16`"
                        )
                    };
                    if have_dst {
                        let near = did_you_mean(&dst.text, ROUTE_WORDS.iter().copied())
                            .map(|n| format!("did you mean `{n}`? "))
                            .unwrap_or_default();
                        fail!(
                            dst,
                            "unknown word `{}` in virtual_routes entry `{line}`; {near}write \
                             `DESTINATION [via ADDRESS] [dev IF] [src ADDRESS] [table N] \
                             [metric N] [no_track]`",
                            dst.text
                        )
                    }
                    if dst.text == "default" {
                        route.dst = None;
                    } else {
                        match parse_prefix(&dst.text) {
                            Ok((addr, prefix_len)) => {
                                same_family!(dst, addr);
                                route.dst = Some(IpPrefix { addr, prefix_len });
                            }
                            Err(PrefixError::Length { len, max }) => fail!(
                                dst,
                                "prefix length /{len} of route {} is invalid; use /0 to /{max}",
                                dst.text
                            ),
                            Err(PrefixError::Address) => {
                                let near = did_you_mean(&dst.text, ROUTE_WORDS.iter().copied())
                                    .map(|n| format!("did you mean `{n}`? "))
                                    .unwrap_or_default();
                                fail!(
                                    dst,
                                    "unknown word `{}` in virtual_routes entry `{line}`; \
                                     {near}write `DESTINATION [via ADDRESS] [dev IF] [src \
                                     ADDRESS] [table N] [metric N] [no_track]`",
                                    dst.text
                                )
                            }
                        }
                    }
                    have_dst = true;
                    i = at + 1;
                }
            }
        }
        if !have_dst {
            self.diags.error(
                e.loc(),
                format!(
                    "virtual_routes entry `{line}` has no destination; write it first, e.g. \
                     `10.1.0.0/16 via 192.168.1.1 dev eth0` (or `default via ...`)"
                ),
            );
            return None;
        }
        route.family = family.map_or(Family::Ipv4, |(f, _)| f);
        route.words = words
            .iter()
            .map(|w| w.text.clone())
            .filter(|w| w != "no_track")
            .collect();
        Some(Spanned {
            value: route,
            loc: e.loc().clone(),
        })
    }

    /// One line of `virtual_rules`: `ip rule` syntax plus `no_track`. Only its family is
    /// worked out here, from its addresses (`from`, `to`...); `ip rule` checks the rest
    /// when the rule is added, and a rule it refuses is logged with its words.
    pub(super) fn rule(&mut self, e: &Stmt<'_>) -> Option<Spanned<VirtualRule>> {
        self.leaf(e);
        let words: Vec<&super::Token> = e.words().collect();
        let line = joined(&words);
        let mut family: Option<(Family, &str)> = None;
        for w in &words {
            let Ok(addr) = w.text.split('/').next().unwrap_or("").parse::<IpAddr>() else {
                continue;
            };
            if let Err(message) = same_family(&mut family, &addr, &w.text, "rule", &line) {
                self.diags.error(&w.loc, message);
                return None;
            }
        }
        let rule = VirtualRule {
            words: words
                .iter()
                .map(|w| w.text.clone())
                .filter(|w| w != "no_track")
                .collect(),
            family: family.map_or(Family::Ipv4, |(f, _)| f),
            no_track: words.iter().any(|w| w.text == "no_track"),
        };
        if rule.words.is_empty() {
            self.diags.error(
                e.loc(),
                "empty virtual_rules entry; write e.g. `from 10.1.0.0/16 table 100`".to_string(),
            );
            return None;
        }
        Some(Spanned {
            value: rule,
            loc: e.loc().clone(),
        })
    }
}

/// An entry's words as one line, for messages.
fn joined(words: &[&super::Token]) -> String {
    words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Records the family of one more address (`text`) of a route or rule (`what`, written as
/// `line`) in `family`; the message when it differs from the first address's: an entry
/// has one family.
fn same_family<'t>(
    family: &mut Option<(Family, &'t str)>,
    addr: &IpAddr,
    text: &'t str,
    what: &str,
    line: &str,
) -> Result<(), String> {
    let f = Family::of(addr);
    match *family {
        Some((other, first)) if other != f => Err(format!(
            "{what} `{line}` mixes {} ({first}) and {} ({text}); a {what} has one family",
            other.name(),
            f.name(),
        )),
        Some(_) => Ok(()),
        None => {
            *family = Some((f, text));
            Ok(())
        }
    }
}

/// Route types of `ip route` that may come before the destination.
const ROUTE_TYPES: &[&str] = &[
    "unicast",
    "local",
    "broadcast",
    "multicast",
    "throw",
    "unreachable",
    "prohibit",
    "blackhole",
    "nat",
    "anycast",
];

/// The words of a route that take values (for "did you mean").
const ROUTE_WORDS: &[&str] = &[
    "src",
    "from",
    "via",
    "gw",
    "dev",
    "oif",
    "table",
    "metric",
    "priority",
    "preference",
    "scope",
    "protocol",
    "mtu",
    "onlink",
    "no_track",
    "nexthop",
    "default",
    "blackhole",
];

fn route_example(word: &str) -> &'static str {
    match word {
        "src" => "src 192.168.1.10",
        "via" | "gw" | "or" => "via 192.168.1.1",
        "dev" | "oif" => "dev eth0",
        "table" => "table 100",
        "metric" | "priority" | "preference" => "metric 100",
        "from" => "from 2001:db8::/64",
        _ => "ip route's syntax",
    }
}

enum PrefixError {
    Address,
    Length { len: String, max: u8 },
}

/// `ADDR[/LEN]`, the length defaulting to the full address.
fn parse_prefix(text: &str) -> Result<(IpAddr, u8), PrefixError> {
    let (addr_text, len_text) = match text.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (text, None),
    };
    let addr = addr_text
        .parse::<IpAddr>()
        .map_err(|_| PrefixError::Address)?;
    let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len_text {
        None => max,
        Some(len) => match len.parse::<u8>() {
            Ok(n) if n <= max && len.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return Err(PrefixError::Length {
                    len: len.to_owned(),
                    max,
                });
            }
        },
    };
    Ok((addr, len))
}

fn address_scope(v: &str) -> Option<AddressScope> {
    Some(match v {
        "global" => AddressScope::Global,
        "site" => AddressScope::Site,
        "link" => AddressScope::Link,
        "host" => AddressScope::Host,
        "nowhere" => AddressScope::Nowhere,
        _ => AddressScope::Number(v.parse().ok()?),
    })
}

/// A VMAC MAC address, as keepalived checks it: 6 octets, or 5 (the VRID is the last);
/// not multicast, not one of RFC 5798's own (which use_vmac picks by itself).
fn vmac_mac(text: &str) -> Result<String, &'static str> {
    let octets: Vec<&str> = text.trim_end_matches(':').split(':').collect();
    let bytes: Option<Vec<u8>> = octets
        .iter()
        .map(|o| {
            (1..=2)
                .contains(&o.len())
                .then(|| u8::from_str_radix(o, 16).ok())
                .flatten()
        })
        .collect();
    let Some(bytes) = bytes.filter(|b| b.len() == 5 || b.len() == 6) else {
        return Err(
            "is invalid; write six hex octets such as `02:00:5e:00:01:33` (or five, to end \
             with the VRID)",
        );
    };
    if bytes[0] & 1 == 1 {
        return Err("is a multicast address; use a unicast one (first octet even)");
    }
    if bytes[..4] == [0, 0, 0x5e, 0] && matches!(bytes[4], 1 | 2) {
        return Err("is an RFC 5798 virtual MAC, which use_vmac uses anyway; leave the MAC out");
    }
    Ok(octets.join(":").to_lowercase())
}

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
    use super::{parse_prefix, vmac_mac};

    #[test]
    fn prefixes() {
        assert_eq!(
            parse_prefix("10.0.0.1/24").ok(),
            Some(("10.0.0.1".parse().unwrap(), 24))
        );
        assert_eq!(
            parse_prefix("fe80::1").ok(),
            Some(("fe80::1".parse().unwrap(), 128))
        );
        assert!(parse_prefix("10.0.0.1/33").is_err());
        assert!(parse_prefix("10.0.0.1/+3").is_err());
        assert!(parse_prefix("host").is_err());
    }

    #[test]
    fn vmac_macs() {
        assert_eq!(vmac_mac("02:00:5E:00:01:33").unwrap(), "02:00:5e:00:01:33");
        assert_eq!(vmac_mac("02:00:5e:00:01").unwrap(), "02:00:5e:00:01");
        assert!(
            vmac_mac("01:00:5e:00:01:33")
                .unwrap_err()
                .contains("multicast")
        );
        assert!(
            vmac_mac("00:00:5e:00:01:33")
                .unwrap_err()
                .contains("RFC 5798")
        );
        assert!(vmac_mac("02:00:5e").unwrap_err().contains("six hex octets"));
        assert!(vmac_mac("02:00:5e:00:01:zz").is_err());
    }
}
