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
//!
//! Which keywords exist where, and which the daemon acts on, is [`super::keywords`]: a
//! keyword with a handler here but not acted on gets one note where it is written.
//! The `vrrp_instance` handlers are in `parser/instance.rs`.
use std::{net::IpAddr, time::Duration};

use super::{
    Diags, Location,
    keywords::{self, Block, Status},
    lexer::{Token, TokenKind},
    model::{NotifyFifo, ParamMatch, TrackFileInit},
    raw::{
        Health, RawConfig, RawGlobal, RawNotify, RawScript, RawSyncGroup, RawTrack, RawTrackFile,
        RawTrackProcess, RawTracking, Spanned,
    },
    suggest::did_you_mean,
};

mod instance;

// ===== syntax tree =====

/// `keyword values... [{ block }]`.
pub(super) struct Stmt<'t> {
    keyword: &'t Token,
    args: Vec<&'t Token>,
    body: Option<Body<'t>>,
}

/// The `{ }` of a statement.
pub(super) struct Body<'t> {
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

    /// Comes from a line the preprocessor could not expand (reported there): skipped
    /// without further messages.
    fn already_reported(&self) -> bool {
        self.keyword.reported || self.args.iter().any(|a| a.reported)
    }

    /// The keyword and its values: the words of an entry of a list block.
    fn words(&self) -> impl Iterator<Item = &Token> {
        std::iter::once(self.keyword).chain(self.args.iter().copied())
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
                    let _ = self.body(token, "this block", depth);
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
        let body = match self.tokens.get(self.pos) {
            Some(open) if open.kind == TokenKind::Open => {
                self.pos += 1;
                let owner = match args.first() {
                    Some(name) => format!("`{} {}`", keyword.text, name.text),
                    None => format!("`{}`", keyword.text),
                };
                Some(self.body(open, &owner, depth))
            }
            _ => None,
        };
        Stmt {
            keyword,
            args,
            body,
        }
    }

    /// The block after `open` (already consumed).
    fn body(&mut self, open: &'t Token, owner: &str, depth: usize) -> Body<'t> {
        if depth >= MAX_NESTING {
            self.diags.error(
                &open.loc,
                format!(
                    "blocks are nested more than {MAX_NESTING} deep here; keepalived.conf \
                     needs at most 4 levels, so look for `{{` that should be `}}`"
                ),
            );
            self.skip_balanced();
            return Body {
                open,
                stmts: Vec::new(),
            };
        }
        Body {
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
    walker.walk(Block::Top, &stmts, false, |w, st| w.top(st, &mut raw));
    raw
}

/// A range for a number, with what to call its unit in messages.
pub(super) struct Range {
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
/// Weights of `vrrp_script`, `track_script` and `track_interface`.
pub(super) const WEIGHT: Range = Range {
    min: -253,
    max: 253,
    what: "a number",
};
/// Weights of `track_file` and `vrrp_track_process` (keepalived allows ±254 there).
pub(super) const WEIGHT_254: Range = Range {
    min: -254,
    max: 254,
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
const GARP_REFRESH: Range = Range {
    min: 0,
    max: u32::MAX as i64,
    what: "whole seconds",
};
const GARP_REPEAT: Range = Range {
    min: 0,
    max: u32::MAX as i64,
    what: "a number",
};
const GARP_LOWER_PRIO_REPEAT: Range = Range {
    min: 0,
    max: i32::MAX as i64,
    what: "a number",
};
const NICE: Range = Range {
    min: -20,
    max: 19,
    what: "a nice value",
};
const RT_PRIORITY: Range = Range {
    min: 1,
    max: 99,
    what: "a realtime priority",
};
/// `CPU_SETSIZE`: the CPUs an affinity mask can name.
const CPU: Range = Range {
    min: 0,
    max: 1023,
    what: "a CPU number",
};
/// keepalived's lower bound; the upper one keeps the limit meaningful (an hour).
const RLIMIT_RTTIME: Range = Range {
    min: 2,
    max: 3_600_000_000,
    what: "microseconds",
};
const AUTO_PRIORITY: Range = Range {
    min: -1,
    max: 99,
    what: "a realtime priority (-1 or 0: off)",
};
/// keepalived's bounds, in microseconds.
const AUTO_PRIORITY_DELAY: Range = Range {
    min: 1,
    max: 10_000_000,
    what: "microseconds",
};
const DOWN_TIMER_ADVERTS: Range = Range {
    min: 1,
    max: 100,
    what: "a number",
};
const TTL: Range = Range {
    min: 0,
    max: 255,
    what: "a number",
};
const QUORUM: Range = Range {
    min: 1,
    max: 65535,
    what: "a number",
};
const QUORUM_MAX: Range = Range {
    min: 0,
    max: 65535,
    what: "a number",
};
/// `preempt_delay`, in µs.
const MAX_PREEMPT_DELAY_US: u64 = 1_000 * 1_000_000;
/// keepalived's `UINT_MAX` µs limit of decimal-second globals.
const MAX_TIMER_US: u64 = u32::MAX as u64;

/// Linux's IFNAMSIZ less the terminating NUL.
pub(super) const MAX_IFNAME: usize = 15;

pub(super) struct Walker<'d> {
    diags: &'d mut Diags,
    /// The LVS warning: its index in the warnings, how many blocks it covers, and the
    /// keyword of the first.
    lvs: Option<(usize, usize, String)>,
}

impl Walker<'_> {
    /// Runs `handle` on each statement of a block of keywords. Statements from lines that
    /// could not be expanded are skipped (and taint the block); a keyword whose value was refused is
    /// recorded as bad; a keyword that is accepted but not acted on gets its note, unless
    /// `quiet` (the whole block got one already).
    fn walk<'t>(
        &mut self,
        block: Block,
        stmts: &[Stmt<'t>],
        quiet: bool,
        mut handle: impl FnMut(&mut Self, &Stmt<'t>),
    ) -> Health {
        let mut health = Health::default();
        for st in stmts {
            if st.already_reported() {
                health.tainted = true;
                continue;
            }
            let errors = self.diags.errors.len();
            handle(self, st);
            if self.diags.errors.len() > errors {
                health.bad.insert(st.kw().to_owned());
            } else if !quiet {
                self.not_acted_on(block, st);
            }
        }
        health
    }

    /// The note for a keyword that is accepted but not acted on.
    fn not_acted_on(&mut self, block: Block, s: &Stmt<'_>) {
        if let Some(k) = keywords::lookup(block, s.kw())
            && k.status == Status::AcceptedNotActed
        {
            let message = if k.note.is_empty() {
                format!("`{}` is accepted, not acted on", k.name)
            } else {
                format!("`{}` is accepted, not acted on: {}", k.name, k.note)
            };
            self.diags.note(s.loc(), message);
        }
    }

    fn top(&mut self, s: &Stmt<'_>, raw: &mut RawConfig) {
        match s.kw() {
            "global_defs" => {
                self.no_name(s);
                if let Some(body) = self.need_block(s, "`global_defs { router_id LB1 }`") {
                    let global = &mut raw.global;
                    let health = self.walk(Block::GlobalDefs, &body.stmts, false, |w, st| {
                        w.global(st, global);
                    });
                    raw.global.health.bad.extend(health.bad);
                }
            }
            "net_namespace" => self.net_namespace(s, &mut raw.global),
            "static_ipaddress" => {
                self.no_name(s);
                if let Some(body) =
                    self.need_block(s, "`static_ipaddress { 192.168.1.10/24 dev eth0 }`")
                {
                    for entry in body.stmts.iter().filter(|e| !e.already_reported()) {
                        if let Some(a) = self.vip(entry, "static_ipaddress") {
                            raw.static_addresses.push(a);
                        }
                    }
                }
            }
            "static_routes" => {
                self.no_name(s);
                if let Some(body) =
                    self.need_block(s, "`static_routes { 10.1.0.0/16 via 192.168.1.1 }`")
                {
                    for entry in body.stmts.iter().filter(|e| !e.already_reported()) {
                        if let Some(r) = self.route(entry) {
                            raw.static_routes.push(r);
                        }
                    }
                }
            }
            "static_rules" => {
                self.no_name(s);
                if let Some(body) = self.need_block(
                    s,
                    "`static_rules { from 10.1.0.0/16 table 100 priority 100 }`",
                ) {
                    for entry in body.stmts.iter().filter(|e| !e.already_reported()) {
                        if let Some(r) = self.rule(entry) {
                            raw.static_rules.push(r);
                        }
                    }
                }
            }
            "vrrp_script" => self.script(s, raw),
            "vrrp_instance" => self.instance(s, raw),
            "vrrp_sync_group" => self.sync_group(s, raw),
            "track_file" | "vrrp_track_file" => self.track_file(s, raw),
            "vrrp_track_process" => self.track_process(s, raw),
            _ => self.other(s, Block::Top),
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
                self.diags.note(s.loc(), lvs_message(s.kw(), 1));
            }
        }
    }

    /// A keyword no handler took: known (its note comes from [`Walker::walk`]), skipped,
    /// misplaced, or unknown.
    fn other(&mut self, s: &Stmt<'_>, block: Block) {
        let kw = s.kw();
        if let Some(k) = keywords::lookup(block, kw) {
            match k.status {
                Status::Skipped => self.lvs(s),
                Status::Rejected => self.diags.error(
                    s.loc(),
                    format!("`{kw}` is not supported: {}; remove it", k.note),
                ),
                Status::Acted | Status::AcceptedNotActed => {}
            }
            return;
        }
        const SEARCH: [Block; 8] = [
            Block::VrrpInstance,
            Block::GlobalDefs,
            Block::VrrpScript,
            Block::Authentication,
            Block::Top,
            Block::VrrpSyncGroup,
            Block::TrackFile,
            Block::VrrpTrackProcess,
        ];
        let elsewhere = SEARCH
            .into_iter()
            .find(|b| *b != block && keywords::knows(*b, kw));
        let message = if let Some(home) = elsewhere {
            format!(
                "`{kw}` belongs in {}, not {}; it is ignored here: move it (or check the \
                 braces around it)",
                home.home(),
                block.place()
            )
        } else if let Some(near) = did_you_mean(kw, keywords::known(block)) {
            format!(
                "unknown keyword `{kw}` {} is ignored; did you mean `{near}`?",
                block.place()
            )
        } else {
            format!(
                "unknown keyword `{kw}` {} is ignored; check its spelling or remove it",
                block.place()
            )
        };
        self.diags.warn(s.loc(), message);
    }

    // ----- global_defs -----

    /// `net_namespace NAME`, at the top level or in `global_defs`.
    fn net_namespace(&mut self, s: &Stmt<'_>, g: &mut RawGlobal) {
        let Some(v) = self.value(s, "net_namespace blue") else {
            return;
        };
        let name = v.text.as_str();
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            self.diags.error(
                s.loc(),
                format!(
                    "net_namespace {name} is not a namespace name; write the name `ip netns \
                     list` shows, e.g. `net_namespace blue`"
                ),
            );
            return;
        }
        set(self.diags, &mut g.net_namespace, s, name.to_owned());
    }

    fn global(&mut self, s: &Stmt<'_>, g: &mut RawGlobal) {
        match s.kw() {
            "net_namespace" => self.net_namespace(s, g),
            "dynamic_interfaces" => {
                self.leaf(s);
                match s.args.as_slice() {
                    [] => g.dynamic_interfaces = true,
                    [v] if v.text == "allow_if_changes" => g.dynamic_interfaces = true,
                    [v, ..] => self.diags.error(
                        s.loc(),
                        format!(
                            "dynamic_interfaces takes only `allow_if_changes`, not `{}`; write \
                             `dynamic_interfaces` or `dynamic_interfaces allow_if_changes`",
                            v.text
                        ),
                    ),
                }
            }
            "default_interface" => {
                if let Some(v) = self.value(s, "default_interface eth0") {
                    set(self.diags, &mut g.default_interface, s, v.text.clone());
                }
            }
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
            "vrrp_garp_master_refresh" => {
                if let Some(n) = self.number_value(s, "vrrp_garp_master_refresh 60", &GARP_REFRESH)
                {
                    set(self.diags, &mut g.garp_master_refresh, s, n as u32);
                }
            }
            "vrrp_garp_master_refresh_repeat" => {
                if let Some(n) = self.garp_repeat(s, "vrrp_garp_master_refresh_repeat 2") {
                    set(self.diags, &mut g.garp_master_refresh_repeat, s, n);
                }
            }
            "vrrp_garp_lower_prio_delay" => {
                if let Some(n) = self.number_value(s, "vrrp_garp_lower_prio_delay 5", &GARP_DELAY) {
                    set(self.diags, &mut g.garp_lower_prio_delay, s, n as u32);
                }
            }
            "vrrp_garp_lower_prio_repeat" => {
                if let Some(n) =
                    self.number_value(s, "vrrp_garp_lower_prio_repeat 1", &GARP_LOWER_PRIO_REPEAT)
                {
                    set(self.diags, &mut g.garp_lower_prio_repeat, s, n as u32);
                }
            }
            "vrrp_garp_interval" => {
                // keepalived refuses 0, but its own sample configuration writes it (it is
                // the default: no pacing), so 0 is accepted here.
                if let Some(d) =
                    self.decimal_seconds(s, "vrrp_garp_interval 0.001", 0, MAX_TIMER_US)
                {
                    set(self.diags, &mut g.garp_interval, s, d);
                }
            }
            "vrrp_gna_interval" => {
                if let Some(d) = self.decimal_seconds(s, "vrrp_gna_interval 0.001", 0, MAX_TIMER_US)
                {
                    set(self.diags, &mut g.gna_interval, s, d);
                }
            }
            "vrrp_startup_delay" => {
                if let Some(d) =
                    self.decimal_seconds(s, "vrrp_startup_delay 5", 1_000, MAX_TIMER_US)
                {
                    set(self.diags, &mut g.startup_delay, s, d);
                }
            }
            "vrrp_priority" => {
                if let Some(n) = self.number_value(s, "vrrp_priority -10", &NICE) {
                    set(self.diags, &mut g.nice, s, n as i8);
                }
            }
            "vrrp_rt_priority" => {
                if let Some(n) = self.number_value(s, "vrrp_rt_priority 50", &RT_PRIORITY) {
                    set(self.diags, &mut g.rt_priority, s, n as u8);
                }
            }
            "vrrp_no_swap" => {
                if self.flag(s) {
                    g.no_swap = true;
                }
            }
            "vrrp_cpu_affinity" => {
                self.leaf(s);
                if s.args.is_empty() {
                    self.diags.error(
                        s.loc(),
                        "vrrp_cpu_affinity needs the CPUs to run on; write e.g. \
                         `vrrp_cpu_affinity 0 1`",
                    );
                }
                let mut cpus = Vec::new();
                for v in &s.args {
                    if let Some(n) = self.number(s.loc(), s.kw(), v, &CPU) {
                        cpus.push(n as u16);
                    }
                }
                if !cpus.is_empty() && cpus.len() == s.args.len() {
                    cpus.sort_unstable();
                    cpus.dedup();
                    set(self.diags, &mut g.cpu_affinity, s, cpus);
                }
            }
            "max_auto_priority" => {
                self.leaf(s);
                match s.args.as_slice() {
                    // keepalived: no value is the highest realtime priority.
                    [] => set(self.diags, &mut g.max_auto_priority, s, 99),
                    [v] => {
                        if let Some(n) = self.number(s.loc(), s.kw(), v, &AUTO_PRIORITY) {
                            set(self.diags, &mut g.max_auto_priority, s, n as i8);
                        }
                    }
                    [_, extra, ..] => self.diags.error(
                        s.loc(),
                        format!(
                            "`max_auto_priority` has too many values (`{}` is one too many); \
                             write e.g. `max_auto_priority 50`",
                            extra.text
                        ),
                    ),
                }
            }
            "min_auto_priority_delay" => {
                if let Some(n) =
                    self.number_value(s, "min_auto_priority_delay 100000", &AUTO_PRIORITY_DELAY)
                {
                    set(self.diags, &mut g.min_auto_priority_delay, s, n as u64);
                }
            }
            "vrrp_rlimit_rttime" | "vrrp_rlimit_rtime" => {
                if let Some(n) = self.number_value(s, "vrrp_rlimit_rttime 10000", &RLIMIT_RTTIME) {
                    set(self.diags, &mut g.rlimit_rttime, s, n as u64);
                }
            }
            "vrrp_min_garp" => {
                if let Some(b) = self.bool_value(s) {
                    set(self.diags, &mut g.min_garp, s, b);
                }
            }
            "vrrp_notify_priority_changes" => {
                if let Some(b) = self.bool_value(s) {
                    set(self.diags, &mut g.notify_priority_changes, s, b);
                }
            }
            "vrrp_lower_prio_no_advert" => {
                if let Some(b) = self.bool_value(s) {
                    set(self.diags, &mut g.lower_prio_no_advert, s, b);
                }
            }
            "vrrp_higher_prio_send_advert" => {
                if let Some(b) = self.bool_value(s) {
                    set(self.diags, &mut g.higher_prio_send_advert, s, b);
                }
            }
            "vrrp_down_timer_adverts" => {
                if let Some(n) =
                    self.number_value(s, "vrrp_down_timer_adverts 3", &DOWN_TIMER_ADVERTS)
                {
                    set(self.diags, &mut g.down_timer_adverts, s, n as u8);
                }
            }
            "vrrp_strict" => {
                if self.flag(s) {
                    g.strict = true;
                }
            }
            "vrrp_check_unicast_src" => {
                if self.flag(s) {
                    g.check_unicast_src = true;
                }
            }
            "vrrp_skip_check_adv_addr" => {
                if self.flag(s) {
                    g.skip_check_adv_addr = true;
                }
            }
            "vrrp_mcast_group4" => {
                if let Some(v) = self.value(s, "vrrp_mcast_group4 224.0.0.18") {
                    match v.text.parse::<IpAddr>() {
                        Ok(IpAddr::V4(a)) if a.is_multicast() => {
                            set(self.diags, &mut g.mcast_group4, s, a);
                        }
                        Ok(IpAddr::V4(_)) => self.diags.error(
                            s.loc(),
                            format!(
                                "vrrp_mcast_group4 {} is not a multicast address; use one \
                                 from 224.0.0.0/4, normally 224.0.0.18",
                                v.text
                            ),
                        ),
                        _ => self.diags.error(
                            s.loc(),
                            format!(
                                "vrrp_mcast_group4 {} is not an IPv4 address; write e.g. \
                                 `vrrp_mcast_group4 224.0.0.18`",
                                v.text
                            ),
                        ),
                    }
                }
            }
            "vrrp_mcast_group6" => {
                if let Some(v) = self.value(s, "vrrp_mcast_group6 ff02::12") {
                    match v.text.parse::<IpAddr>() {
                        Ok(IpAddr::V6(a)) if a.is_multicast() => {
                            if a.segments()[0] & 0xff0f != 0xff02 {
                                self.diags.warn(
                                    s.loc(),
                                    format!(
                                        "vrrp_mcast_group6 {} is not link-local multicast \
                                         (ff02::/16); VRRP adverts stay on the link, so use \
                                         e.g. ff02::12",
                                        v.text
                                    ),
                                );
                            }
                            set(self.diags, &mut g.mcast_group6, s, a);
                        }
                        Ok(IpAddr::V6(_)) => self.diags.error(
                            s.loc(),
                            format!(
                                "vrrp_mcast_group6 {} is not a multicast address; use one \
                                 from ff02::/16, normally ff02::12",
                                v.text
                            ),
                        ),
                        _ => self.diags.error(
                            s.loc(),
                            format!(
                                "vrrp_mcast_group6 {} is not an IPv6 address; write e.g. \
                                 `vrrp_mcast_group6 ff02::12`",
                                v.text
                            ),
                        ),
                    }
                }
            }
            "notify_fifo" => {
                if let Some(fifo) = self.fifo(s) {
                    set(self.diags, &mut g.notify_fifo, s, fifo);
                }
            }
            "vrrp_notify_fifo" => {
                if let Some(fifo) = self.fifo(s) {
                    set(self.diags, &mut g.vrrp_notify_fifo, s, fifo);
                }
            }
            "notify_fifo_script" => self.notify(s, &mut g.notify_fifo_script),
            "vrrp_notify_fifo_script" => self.notify(s, &mut g.vrrp_notify_fifo_script),
            _ => self.other(s, Block::GlobalDefs),
        }
    }

    /// `notify_fifo FILE [USER [GROUP]]`.
    fn fifo(&mut self, s: &Stmt<'_>) -> Option<NotifyFifo> {
        self.leaf(s);
        let example = format!("{} /run/keepalived.fifo", s.kw());
        match s.args.as_slice() {
            [] => {
                self.needs_value(s, &example);
                None
            }
            [_, _, _, extra, ..] => {
                self.too_many(s, extra, &format!("{example} USER GROUP"));
                None
            }
            [path, rest @ ..] => Some(NotifyFifo {
                path: path.text.clone(),
                user: rest.first().map(|t| t.text.clone()),
                group: rest.get(1).map(|t| t.text.clone()),
                script: None,
            }),
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
            health: Health::default(),
        };
        match self.need_block(
            s,
            "vrrp_script chk_nginx { script \"/usr/local/bin/check.sh\" }",
        ) {
            Some(body) => {
                let sc = &mut script;
                script.health = self.walk(Block::VrrpScript, &body.stmts, false, |w, st| {
                    w.script_stmt(st, sc);
                });
            }
            None => script.health.tainted = true,
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
                if let Some(w) = self.weight(s, &WEIGHT) {
                    set(self.diags, &mut sc.weight, s, w);
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
            _ => self.other(s, Block::VrrpScript),
        }
    }

    /// `weight W [reverse]` of a `vrrp_script`, `track_file` or `vrrp_track_process`.
    fn weight(&mut self, s: &Stmt<'_>, range: &Range) -> Option<(i32, bool)> {
        self.leaf(s);
        match s.args.as_slice() {
            [] => {
                self.needs_value(s, "weight -20");
                None
            }
            [w, rest @ ..] => {
                let reverse = match rest {
                    [] => Some(false),
                    [r] if r.text == "reverse" => Some(true),
                    [r] => {
                        self.diags.error(
                            s.loc(),
                            format!(
                                "unknown weight option `{}`; write `weight {} reverse` or leave \
                                 the option out",
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
                let weight = self.number(s.loc(), "weight", w, range);
                Some((weight? as i32, reverse?))
            }
        }
    }

    // ----- track_file -----

    fn track_file(&mut self, s: &Stmt<'_>, raw: &mut RawConfig) {
        let example = format!("{} tf_1 {{", s.kw());
        let Some(name) = self.name(s, &example) else {
            return;
        };
        let mut tf = RawTrackFile {
            name,
            loc: s.loc().clone(),
            file: None,
            weight: None,
            init_file: None,
            health: Health::default(),
        };
        match self.need_block(s, "`track_file tf_1 { file /var/run/tf_1 }`") {
            Some(body) => {
                let t = &mut tf;
                tf.health = self.walk(Block::TrackFile, &body.stmts, true, |w, st| {
                    w.track_file_stmt(st, t);
                });
            }
            None => tf.health.tainted = true,
        }
        raw.track_files.push(tf);
    }

    fn track_file_stmt(&mut self, s: &Stmt<'_>, tf: &mut RawTrackFile) {
        match s.kw() {
            "file" => {
                if let Some(v) = self.value(s, "file \"/var/run/keepalived/tf_1\"") {
                    set(self.diags, &mut tf.file, s, v.text.clone());
                }
            }
            "weight" => {
                if let Some(w) = self.weight(s, &WEIGHT_254) {
                    set(self.diags, &mut tf.weight, s, w);
                }
            }
            "init_file" => {
                self.leaf(s);
                let mut init = TrackFileInit {
                    value: 0,
                    overwrite: false,
                };
                let mut ok = true;
                for arg in &s.args {
                    let t = arg.text.as_str();
                    if t == "overwrite" {
                        init.overwrite = true;
                    } else if t.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                        match self.number(s.loc(), "init_file", arg, &WEIGHT_254) {
                            Some(v) => init.value = v as i32,
                            None => ok = false,
                        }
                    } else {
                        self.diags.error(
                            s.loc(),
                            format!(
                                "unknown init_file option `{t}`; write `init_file [VALUE] \
                                 [overwrite]`, e.g. `init_file 0 overwrite`"
                            ),
                        );
                        ok = false;
                    }
                }
                if ok {
                    set(self.diags, &mut tf.init_file, s, init);
                }
            }
            _ => self.other(s, Block::TrackFile),
        }
    }

    // ----- vrrp_track_process -----

    fn track_process(&mut self, s: &Stmt<'_>, raw: &mut RawConfig) {
        let Some(name) = self.name(s, "vrrp_track_process chk_haproxy {") else {
            return;
        };
        let mut tp = RawTrackProcess {
            name,
            loc: s.loc().clone(),
            process: None,
            param_match: None,
            full_command: false,
            weight: None,
            quorum: None,
            quorum_max: None,
            fork_delay: None,
            terminate_delay: None,
            health: Health::default(),
        };
        match self.need_block(s, "`vrrp_track_process chk_haproxy { process haproxy }`") {
            Some(body) => {
                let t = &mut tp;
                tp.health = self.walk(Block::VrrpTrackProcess, &body.stmts, true, |w, st| {
                    w.track_process_stmt(st, t);
                });
            }
            None => tp.health.tainted = true,
        }
        raw.track_processes.push(tp);
    }

    fn track_process_stmt(&mut self, s: &Stmt<'_>, tp: &mut RawTrackProcess) {
        match s.kw() {
            "process" => {
                self.leaf(s);
                match s.args.as_slice() {
                    [] => self.needs_value(s, "process haproxy"),
                    [name, params @ ..] => {
                        let params = params.iter().map(|p| p.text.clone()).collect();
                        set(self.diags, &mut tp.process, s, (name.text.clone(), params));
                    }
                }
            }
            "param_match" => {
                self.leaf(s);
                let found = match s.args.as_slice() {
                    [] => Some(ParamMatch::Exact),
                    [v] if v.text == "initial" => Some(ParamMatch::Initial),
                    [v] if v.text == "partial" => Some(ParamMatch::Partial),
                    [v] => {
                        self.diags.error(
                            s.loc(),
                            format!(
                                "param_match {} is invalid; write `param_match` (exact), \
                                 `param_match initial` or `param_match partial`",
                                v.text
                            ),
                        );
                        None
                    }
                    [_, extra, ..] => {
                        self.too_many(s, extra, "param_match partial");
                        None
                    }
                };
                if let Some(m) = found {
                    set(self.diags, &mut tp.param_match, s, m);
                }
            }
            "weight" => {
                if let Some(w) = self.weight(s, &WEIGHT_254) {
                    set(self.diags, &mut tp.weight, s, w);
                }
            }
            "quorum" => {
                if let Some(n) = self.number_value(s, "quorum 2", &QUORUM) {
                    set(self.diags, &mut tp.quorum, s, n as u32);
                }
            }
            "quorum_max" => {
                if let Some(n) = self.number_value(s, "quorum_max 4", &QUORUM_MAX) {
                    set(self.diags, &mut tp.quorum_max, s, n as u32);
                }
            }
            "delay" | "fork_delay" | "terminate_delay" => {
                let example = format!("{} 0.5", s.kw());
                if let Some(d) = self.decimal_seconds(s, &example, 1, 3_600_000_000) {
                    if s.kw() != "terminate_delay" {
                        set(self.diags, &mut tp.fork_delay, s, d);
                    }
                    if s.kw() != "fork_delay" {
                        set(self.diags, &mut tp.terminate_delay, s, d);
                    }
                }
            }
            "full_command" => {
                if self.flag(s) {
                    tp.full_command = true;
                }
            }
            _ => self.other(s, Block::VrrpTrackProcess),
        }
    }

    // ----- vrrp_sync_group -----

    fn sync_group(&mut self, s: &Stmt<'_>, raw: &mut RawConfig) {
        let Some(name) = self.name(s, "vrrp_sync_group VG_1 {") else {
            return;
        };
        let mut sg = RawSyncGroup {
            name,
            loc: s.loc().clone(),
            group: None,
            tracking: RawTracking::default(),
            notify: RawNotify::default(),
            tracking_weight: false,
            health: Health::default(),
        };
        match self.need_block(s, "`vrrp_sync_group VG_1 { group { VI_1 VI_2 } }`") {
            Some(body) => {
                let g = &mut sg;
                let mut tainted = false;
                let health = self.walk(Block::VrrpSyncGroup, &body.stmts, false, |w, st| {
                    tainted |= w.sync_group_stmt(st, g);
                });
                sg.health = health;
                sg.health.tainted |= tainted;
            }
            None => sg.health.tainted = true,
        }
        raw.sync_groups.push(sg);
    }

    /// One statement of a sync group; whether it held a line that could not be expanded.
    fn sync_group_stmt(&mut self, s: &Stmt<'_>, sg: &mut RawSyncGroup) -> bool {
        let mut tainted = false;
        match s.kw() {
            "group" => {
                self.no_name(s);
                if let Some(body) = self.need_block(s, "`group { VI_1 VI_2 }`") {
                    if let Some(first) = &sg.group {
                        self.diags.error(
                            s.loc(),
                            format!(
                                "vrrp_sync_group {} has a second group block (the first is at \
                                 {}); list all its instances in one `group {{ }}`",
                                sg.name,
                                short_location(&first.loc, s.loc())
                            ),
                        );
                        return false;
                    }
                    let mut members = Vec::new();
                    for entry in &body.stmts {
                        if entry.already_reported() {
                            tainted = true;
                            continue;
                        }
                        self.leaf(entry);
                        members.extend(entry.words().map(|t| Spanned {
                            value: t.text.clone(),
                            loc: t.loc.clone(),
                        }));
                    }
                    sg.group = Some(Spanned {
                        value: members,
                        loc: s.loc().clone(),
                    });
                }
            }
            "track_interface" | "track_script" | "track_file" | "track_process" => {
                tainted = self.track_block(s, &mut sg.tracking);
            }
            "notify_master" => self.notify(s, &mut sg.notify.master),
            "notify_backup" => self.notify(s, &mut sg.notify.backup),
            "notify_fault" => self.notify(s, &mut sg.notify.fault),
            "notify_stop" => self.notify(s, &mut sg.notify.stop),
            "notify" => self.notify(s, &mut sg.notify.generic),
            "smtp_alert" | "notify_priority_changes" => {
                let _ = self.bool_value(s);
            }
            "sync_group_tracking_weight" => {
                if self.flag(s) {
                    sg.tracking_weight = true;
                }
            }
            "global_tracking" => {
                if self.flag(s) {
                    self.diags.warn(
                        s.loc(),
                        "global_tracking is deprecated; write `sync_group_tracking_weight` \
                         instead (it has the same effect here)",
                    );
                    sg.tracking_weight = true;
                }
            }
            _ => self.other(s, Block::VrrpSyncGroup),
        }
        tainted
    }

    /// A `track_interface`/`track_script`/`track_file`/`track_process { }` block of an
    /// instance or sync group; whether it held a line that could not be expanded.
    fn track_block(&mut self, s: &Stmt<'_>, tracking: &mut RawTracking) -> bool {
        self.no_name(s);
        let (list, example, range) = match s.kw() {
            "track_interface" => (
                &mut tracking.interfaces,
                "`track_interface { eth1 weight -20 }`",
                &WEIGHT,
            ),
            "track_script" => (
                &mut tracking.scripts,
                "`track_script { chk_nginx }`",
                &WEIGHT,
            ),
            "track_file" => (
                &mut tracking.files,
                "`track_file { tf_1 weight 10 }`",
                &WEIGHT_254,
            ),
            _ => (
                &mut tracking.processes,
                "`track_process { chk_haproxy }`",
                &WEIGHT_254,
            ),
        };
        let mut tainted = false;
        if let Some(body) = self.need_block(s, example) {
            for entry in &body.stmts {
                if entry.already_reported() {
                    tainted = true;
                } else if let Some(track) = self.track(entry, s.kw(), range) {
                    list.push(track);
                }
            }
        }
        tainted
    }

    /// One line of a `track_*` block: `NAME [weight W [reverse|noreverse]]`.
    fn track(&mut self, e: &Stmt<'_>, what: &str, range: &Range) -> Option<Spanned<RawTrack>> {
        self.leaf(e);
        let name = e.kw().to_owned();
        if what == "track_interface" && !self.ifname(e.loc(), what, &name) {
            return None;
        }
        let example = format!("{name} weight -20");
        let (weight, reverse) = match e.args.as_slice() {
            [] => (None, None),
            [w] if w.text == "weight" => {
                self.diags.error(
                    e.loc(),
                    format!("`weight` after {what} {name} needs a value; write e.g. `{example}`"),
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
                                "unknown option `{}` after the weight of {what} {name}; write \
                                 `{example} reverse` or leave it out",
                                r.text
                            ),
                        );
                        return None;
                    }
                };
                let label = format!("{what} {name} weight");
                let weight = self.number(e.loc(), &label, value, range)?;
                (Some(weight as i32), reverse)
            }
            [other, ..] => {
                self.diags.error(
                    e.loc(),
                    format!(
                        "unknown option `{}` after {what} {name}; write `{example}` or just \
                         `{name}` (one per line)",
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
                    self.diags.note(
                        s.loc(),
                        format!(
                            "the user/group after the {} script are accepted, not acted on: the \
                             script runs as the default script user (quote the command if they \
                             were its arguments)",
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
        if let Some(body) = &s.body {
            self.diags.error(
                &body.open.loc,
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

    /// A keyword with an optional `true|false` (also `on|off`, `yes|no`) that defaults to
    /// true, as keepalived's `check_true_false`.
    fn bool_value(&mut self, s: &Stmt<'_>) -> Option<bool> {
        self.leaf(s);
        match s.args.as_slice() {
            [] => Some(true),
            [v] => match v.text.as_str() {
                "true" | "on" | "yes" => Some(true),
                "false" | "off" | "no" => Some(false),
                other => {
                    self.diags.error(
                        s.loc(),
                        format!(
                            "`{} {other}` is invalid; write `{}` (or `{} true`) to enable it, \
                             `{} false` to disable it",
                            s.kw(),
                            s.kw(),
                            s.kw(),
                            s.kw()
                        ),
                    );
                    None
                }
            },
            [_, extra, ..] => {
                let example = format!("{} false", s.kw());
                self.too_many(s, extra, &example);
                None
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

    /// The single value of a statement, as an IP address.
    fn ip_value(&mut self, s: &Stmt<'_>, example: &str) -> Option<IpAddr> {
        let v = self.value(s, example)?;
        match v.text.parse::<IpAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.diags.error(
                    s.loc(),
                    format!(
                        "{} `{}` is not an IP address; write e.g. `{example}`",
                        s.kw(),
                        v.text
                    ),
                );
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

    /// The name of a named block (`vrrp_script NAME {`).
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
    fn need_block<'s, 't>(&mut self, s: &'s Stmt<'t>, example: &str) -> Option<&'s Body<'t>> {
        if s.body.is_none() {
            self.diags.error(
                s.loc(),
                format!("`{}` needs a {{ }} block; write e.g. {example}", s.kw()),
            );
        }
        s.body.as_ref()
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

    /// `USER [GROUP]`.
    fn user(&mut self, s: &Stmt<'_>, example: &str) -> Option<(String, Option<String>)> {
        self.leaf(s);
        match s.args.as_slice() {
            [] => {
                self.needs_value(s, example);
                None
            }
            [user] => Some((user.text.clone(), None)),
            [user, group] => {
                self.diags.note(
                    s.loc(),
                    format!(
                        "group `{}` of `{}` is accepted, not acted on: scripts run with the \
                         primary group of {}",
                        group.text,
                        s.kw(),
                        user.text
                    ),
                );
                Some((user.text.clone(), Some(group.text.clone())))
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

    /// The single value of a statement, as decimal seconds from `min_us` to `max_us` µs.
    fn decimal_seconds(
        &mut self,
        s: &Stmt<'_>,
        example: &str,
        min_us: u64,
        max_us: u64,
    ) -> Option<Duration> {
        let v = self.value(s, example)?;
        let hint = format!(
            "seconds from {} to {}",
            micros_text(min_us),
            micros_text(max_us)
        );
        let micros = self.seconds(s, v, &hint)?;
        if !(min_us..=max_us).contains(&micros) {
            self.diags.error(
                s.loc(),
                format!("{} {} is out of range; use {hint}", s.kw(), v.text),
            );
            return None;
        }
        Some(Duration::from_micros(micros))
    }
}

/// `0.000001`, `0.5`, `4294.967295`: µs written as seconds.
fn micros_text(micros: u64) -> String {
    let (secs, frac) = (micros / 1_000_000, micros % 1_000_000);
    if frac == 0 {
        secs.to_string()
    } else {
        format!("{secs}.{frac:06}").trim_end_matches('0').to_owned()
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

/// Whether `addr` is an IPv4 multicast address or an IPv6 link-local multicast one (what
/// keepalived accepts for `mcast_dst_ip`).
fn is_vrrp_multicast(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_multicast(),
        IpAddr::V6(a) => a.segments()[0] & 0xff0f == 0xff02,
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
            Authentication, GarpConfig, GlobalDefs, InitialState, TrackScript, VirtualAddress,
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
                script_group: Some("ka_group".into()),
                enable_script_security: true,
                garp_master_delay: Duration::from_secs(10),
                garp_master_repeat: 2,
                garp: GarpConfig {
                    master_refresh: Duration::ZERO,
                    master_refresh_repeat: 1,
                    lower_prio_delay: Duration::from_secs(10),
                    lower_prio_repeat: 2,
                },
                ..GlobalDefs::default()
            }
        );
        let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            vec![
                "keepalived.conf:4:5: group `ka_group` of `script_user` is accepted, not acted \
                 on: scripts run with the primary group of ka",
                "keepalived.conf:8:5: `smtp_server` is accepted, not acted on",
                "keepalived.conf:9:5: `notification_email` is accepted, not acted on",
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
                 scripts run with the primary group of nobody"
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
        auth_type PASS
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
        assert_eq!(
            loaded
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            Vec::<String>::new()
        );
        let i = &loaded.config.instances[0];
        assert_eq!(i.name, "VI_9");
        assert_eq!(i.initial_state, InitialState::Backup);
        assert_eq!((i.interface.as_str(), i.vrid, i.priority), ("ens3", 9, 150));
        assert_eq!(i.advert_int, crate::units::Centiseconds(200));
        assert_eq!(i.version, 2);
        assert_eq!(i.authentication, Some(Authentication::Pass(*b"secret\0\0")));
        assert_eq!(
            i.virtual_addresses,
            vec![
                VirtualAddress {
                    addr: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)),
                    prefix_len: 24,
                    dev: Some("ens4".into()),
                    label: Some("ens4:vip".into()),
                    brd: None,
                    scope: None,
                    no_track: false,
                },
                VirtualAddress {
                    addr: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 11)),
                    prefix_len: 32,
                    dev: None,
                    label: None,
                    brd: None,
                    scope: None,
                    no_track: false,
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
            "9:9: `10.0.0.300` is not an IP address; write one address per line of \
             virtual_ipaddress, e.g. `192.168.1.100/24 dev eth0`",
            "10:9: prefix length /33 of 10.0.0.1/33 is invalid; use /0 to /32 (or leave it out \
             for /32)",
            "11:18: `dev` needs a value after it; write e.g. `dev eth0`",
            "12:18: `10.0.0.4` follows 10.0.0.3 on the same line; put each address of \
             virtual_ipaddress on its own line",
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
             just `chk` (one per line)",
            "24:5: interface `eth0:1` is not an interface name (`:` marks an address label); \
             write `interface eth0` and give the address `label eth0:1`",
            "26:9: auth_type MD5 is invalid; use PASS",
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
            warnings(&instance("    use_vmac_addr\n    accept")),
            vec![
                "keepalived.conf:5:5: `use_vmac_addr` is accepted, not acted on: the addresses \
                 go on the interface itself, not on a VMAC",
                "keepalived.conf:6:5: `accept` is accepted, not acted on",
            ]
        );
        assert_eq!(
            warnings(&format!(
                "{}vrrp_sync_group G {{\n  group {{\n    VI_1\n  }}\n}}\n",
                instance("")
            )),
            vec![
                "keepalived.conf:8:3: vrrp_sync_group G has only one instance, which is probably \
                 not what you want (as keepalived warns); add the instances that must change \
                 state with VI_1",
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
    fn a_line_that_cannot_be_expanded_gives_one_error_and_no_follow_ups() {
        // The parameter uses itself: its use is reported once, and the instance does not
        // get "virtual_router_id is missing" on top.
        let text = "$LOOP=${LOOP}1
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id $LOOP
    virtual_ipaddress { 10.0.0.1 }
}
";
        let err = failed(text);
        let got: Vec<(u32, &str)> = err
            .errors
            .iter()
            .map(|e| (e.location.line, e.message.as_str()))
            .collect();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, 4);
        assert!(got[0].1.contains("uses itself"), "{}", got[0].1);
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
