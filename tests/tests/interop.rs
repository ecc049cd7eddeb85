//! Interoperability with the real keepalived (Debian's 2.2.7, `keepalived --vrrp` in the
//! foreground inside a node namespace): mixed pairs, each implementation in each role.
//!
//! node1 is the master (`state MASTER`, priority 100), node2 the backup (`state BACKUP`,
//! priority 90); one of them runs keepalived, the other this daemon. In every case:
//! - the master is elected and the backup stays backup: exactly one VIP holder, on node1,
//!   sampled every 10 ms for longer than the backup's master-down interval (a backup
//!   that rejected the master's adverts would take over within that time);
//! - `kill -9` of the master (keepalived: its whole process group): the backup holds the
//!   VIP within its Master_Down_Interval + 300 ms (interop, not precision: the timing
//!   tests are in `failover.rs`), and the client follows it;
//! - the master returns and preempts, and the backup gives the VIP up;
//! - SIGTERM of the master (priority-0 advert): the backup takes over within its
//!   Skew_Time + 300 ms; the master returns and preempts again;
//! - the client, probing the VIP every millisecond, is answered by node1, node2, node1,
//!   node2, node1 in that order;
//! - keepalived logs none of the messages it prints for an advert it rejects, its counters
//!   of rejected adverts stay at 0 while it counts the adverts it received, and our daemon
//!   logs no error;
//! - on the wire (tcpdump on the bridge, decoded by tshark): every advert of both has good
//!   VRRP and IP checksums, TTL 255 and no tshark expert info; the backup's first advert
//!   follows the master's last by its Master_Down_Interval (no earlier than 5 ms before,
//!   no later than 300 ms after), or the priority-0 advert by its Skew_Time; a returning
//!   master silences the backup at once.
//!
//! Tests cover VRRPv2 with PASS and `advert_int 1` (the seed), VRRPv3 with `advert_int`
//! 0.1 and 0.05, VRRPv3 over IPv6 and with unicast peers (see `mixed_pair_scenario`,
//! where the master's death is a link cut plus `kill -9`), plus a negative control (a
//! wrong PASS key) showing that keepalived's log and counters do catch what it rejects.
//! Needs root, keepalived, tcpdump and tshark (`cargo xtask test` and `.ci/run` install
//! them).
use std::io::ErrorKind;
use std::net::{Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vrrp_tests::{Capture, DaemonHandle, DaemonKind, Host, Lab, is_root, keepalived_stat};

const VIP: &str = "10.0.0.100";
/// The IPv6 VIP (as in `ipv6.rs`), and the client's address on its prefix.
const VIP6: &str = "2001:db8::100";
const CLIENT6: &str = "2001:db8::200/64";
const MS: Duration = Duration::from_millis(1);
/// Slack on top of the protocol bound: this checks that the two implementations
/// understand each other, not how precisely either one keeps time.
const SLACK: Duration = Duration::from_millis(300);
/// How much earlier than the protocol timer a takeover may show on the wire (capture
/// timestamps versus the daemons' clocks); earlier than that, the backup ignored adverts.
const TIMER_TOLERANCE: Duration = Duration::from_millis(5);
/// Longest a test may run; each one checks itself against it.
const TEST_BUDGET: Duration = Duration::from_secs(60);

/// What keepalived 2.2.7 logs when it drops or distrusts a received advert (from
/// `vrrp_check_packet` and friends, `strings /usr/sbin/keepalived`). None of these may
/// appear about our adverts. ("received lower priority (..) advert - discarding" is not
/// here: it is what a preempting keepalived says about a legitimate lower-priority
/// master.)
const KEEPALIVED_RX_ERRORS: &[&str] = &[
    "vrrp packet too",                 // length (short, long) mismatch
    "TTL/HL",                          // "invalid TTL/HL", "TTL/HL %d not in range"
    "wrong version",                   // version mismatch
    "auth, expecting",                 // auth type mismatch
    "invalid passwd",                  // PASS key mismatch
    "IPSEC-AH",                        // AH mismatch
    "advertisement interval mismatch", // v2 interval mismatch
    "Invalid packet type",             // type != advertisement
    "unexpected ip number count",      // count_ip mismatch
    "ip_tot_len mismatch",             // IP length vs received length
    "checksum",                        // "Invalid VRRPv2/v3 checksum", "... to old version"
    "not present in MASTER advert",    // v2 address list mismatch
    "VIPs but received",               // address count mismatch
    "icast packet",                    // multicast/unicast mismatch
    "Invalid auth type",
    "bogus",
    "VRRP packet too short", // "IPv4/IPv6 VRRP packet too short"
    "not a unicast peer",    // check_unicast_src
    "CONFIGURATION ERROR",   // both address owners
    "Unknown interface",
];

/// Counters keepalived keeps for adverts it rejected (its `keepalived.stats` sections
/// "Packet Errors" and "Authentication Errors"); all must stay 0.
const KEEPALIVED_ERROR_COUNTERS: &[(&str, &str)] = &[
    ("Packet Errors", "Length"),
    ("Packet Errors", "TTL"),
    ("Packet Errors", "Invalid Type"),
    ("Packet Errors", "Advertisement Interval"),
    ("Packet Errors", "Address List"),
    ("Authentication Errors", "Invalid Type"),
    ("Authentication Errors", "Type Mismatch"),
    ("Authentication Errors", "Failure"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    /// This project's daemon.
    Ours,
    /// The real keepalived.
    Keepalived,
}

impl Impl {
    fn other(self) -> Self {
        match self {
            Impl::Ours => Impl::Keepalived,
            Impl::Keepalived => Impl::Ours,
        }
    }
}

/// How the two nodes exchange adverts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    /// IPv4 multicast to 224.0.0.18 (VRRPv2 or v3): VIP [`VIP`].
    Multicast4,
    /// VRRPv3 over IPv6: from each node's link-local address to ff02::12; VIP [`VIP6`].
    Ipv6,
    /// IPv4 unicast peers: from `unicast_src_ip` 10.0.0.N to the other node; VIP [`VIP`].
    Unicast4,
    /// The same with VRRPv2, `advert_int 1` and PASS authentication (the seed's settings
    /// over unicast, as in clouds without multicast).
    Unicast4V2,
}

impl Transport {
    fn vip(self) -> &'static str {
        match self {
            Transport::Ipv6 => VIP6,
            Transport::Multicast4 | Transport::Unicast4 | Transport::Unicast4V2 => VIP,
        }
    }

    /// The timers of the mixed-pair scenario over this transport.
    fn timers(self) -> &'static Timers {
        match self {
            Transport::Unicast4V2 => &V2_1S,
            _ => &V3_100MS,
        }
    }

    /// Source address of `node`'s adverts.
    fn advert_src(self, lab: &Lab, node: usize) -> String {
        match self {
            Transport::Ipv6 => link_local(lab, node),
            Transport::Multicast4 | Transport::Unicast4 | Transport::Unicast4V2 => {
                lab.addr(node).to_string()
            }
        }
    }

    /// Destination address of `node`'s adverts (as tshark prints it).
    fn advert_dst(self, node: usize) -> String {
        match self {
            Transport::Multicast4 => "224.0.0.18".into(),
            Transport::Ipv6 => "ff02::12".into(),
            Transport::Unicast4 | Transport::Unicast4V2 => format!("10.0.0.{}", 3 - node),
        }
    }
}

struct Timers {
    /// VRRPv3 (else v2 with PASS authentication, as in the seed's configuration).
    v3: bool,
    /// advert_int as written in the config.
    advert_int: &'static str,
    /// The same, as a duration.
    advert: Duration,
    /// Master_Down_Interval of the priority-90 backup.
    backup_down: Duration,
    /// Skew_Time of the priority-90 backup.
    backup_skew: Duration,
    /// Master_Down_Interval of the priority-100 node (its start-up wait).
    master_down: Duration,
}

/// The seed: VRRPv2, `advert_int 1`, PASS. keepalived's v2 skew does not depend on the
/// interval: (256 - prio) / 256 s.
const V2_1S: Timers = Timers {
    v3: false,
    advert_int: "1",
    advert: Duration::from_secs(1),
    backup_down: Duration::from_nanos(3_648_437_500),
    backup_skew: Duration::from_nanos(648_437_500),
    master_down: Duration::from_nanos(3_609_375_000),
};

/// VRRPv3, `advert_int 0.1`: skew = (256 - prio) / 256 × 100 ms.
const V3_100MS: Timers = Timers {
    v3: true,
    advert_int: "0.1",
    advert: Duration::from_millis(100),
    backup_down: Duration::from_nanos(364_843_750),
    backup_skew: Duration::from_nanos(64_843_750),
    master_down: Duration::from_nanos(360_937_500),
};

/// VRRPv3, `advert_int 0.05`.
const V3_50MS: Timers = Timers {
    v3: true,
    advert_int: "0.05",
    advert: Duration::from_millis(50),
    backup_down: Duration::from_nanos(182_421_875),
    backup_skew: Duration::from_nanos(32_421_875),
    master_down: Duration::from_nanos(180_468_750),
};

/// One configuration both implementations read: the seed's for v2, and the same without
/// authentication (which VRRPv3 does not have) for v3.
fn config(t: &Timers, state: &str, priority: u8) -> String {
    let (global, auth) = if t.v3 {
        ("global_defs {\n    vrrp_version 3\n}\n", "")
    } else {
        (
            "",
            "    authentication {\n        auth_type PASS\n        auth_pass 1234\n    }\n",
        )
    };
    format!(
        "{global}
vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int {advert_int}
{auth}    virtual_ipaddress {{
        {VIP}
    }}
}}
",
        advert_int = t.advert_int
    )
}

fn spawn(lab: &Lab, imp: Impl, node: usize, cfg: &str) -> DaemonHandle {
    match imp {
        Impl::Ours => lab.spawn_daemon(node, cfg, &[]),
        Impl::Keepalived => lab.spawn_keepalived(node, cfg, &[]),
    }
    .unwrap_or_else(|e| panic!("starting {imp:?} on node{node}: {e:#}"))
}

/// A running pair with its capture, so that every failure explains itself.
struct Pair<'a> {
    lab: &'a Lab,
    capture: &'a Capture,
    name: String,
    /// How the pair talks (and so which VIP it moves).
    transport: Transport,
    /// Source address of each node's adverts, and the node.
    senders: Vec<(String, usize)>,
}

impl<'a> Pair<'a> {
    fn new(lab: &'a Lab, capture: &'a Capture, name: String, transport: Transport) -> Self {
        let senders = (1..=lab.nodes())
            .map(|n| (transport.advert_src(lab, n), n))
            .collect();
        Pair {
            lab,
            capture,
            name,
            transport,
            senders,
        }
    }

    fn holders(&self) -> Vec<usize> {
        self.lab.vip_holders(self.transport.vip())
    }

    fn fail(&self, what: &str) -> ! {
        let wire = self
            .capture
            .decode(&["-e"])
            .unwrap_or_else(|e| format!("(no capture: {e:#})"));
        let tail: Vec<&str> = wire.lines().collect();
        let tail = tail[tail.len().saturating_sub(80)..].join("\n");
        panic!(
            "{}: {what}\nholders now {:?}\n---- node1 log ----\n{}\n---- node2 log ----\n{}\n---- last adverts and ARP on br0 ----\n{tail}",
            self.name,
            self.holders(),
            self.lab.log(1),
            self.lab.log(2),
        )
    }

    /// Waits until `cond(holders)`; returns the time from `since` to the first poll that
    /// saw it.
    fn wait_holders(
        &self,
        since: Instant,
        limit: Duration,
        what: &str,
        cond: impl Fn(&[usize]) -> bool,
    ) -> Duration {
        if self
            .lab
            .wait_for(limit, MS, || cond(&self.holders()))
            .is_err()
        {
            self.fail(&format!("{what}: not within {limit:?}"));
        }
        since.elapsed()
    }

    /// Waits until exactly `node` holds the VIP and checks, every 10 ms, that it stays
    /// that way for `steady`; returns how long the wait took from `since`.
    fn settle_on(
        &self,
        node: usize,
        since: Instant,
        limit: Duration,
        steady: Duration,
    ) -> Duration {
        let took = self.wait_holders(since, limit, &format!("VIP on node{node} only"), |h| {
            h == [node]
        });
        let end = Instant::now() + steady;
        while Instant::now() < end {
            let h = self.holders();
            if h != [node] {
                self.fail(&format!(
                    "VIP must stay on node{node} alone once settled, but holders are {h:?}"
                ));
            }
            std::thread::sleep(10 * MS);
        }
        took
    }
}

/// keepalived's statistics, checked: no rejected advert; returns adverts received.
fn check_keepalived_stats(pair: &Pair<'_>, k: &DaemonHandle) -> u64 {
    assert_eq!(k.kind(), DaemonKind::Keepalived);
    let stats = k
        .keepalived_stats()
        .unwrap_or_else(|e| pair.fail(&format!("keepalived stats: {e:#}")));
    for (section, name) in KEEPALIVED_ERROR_COUNTERS {
        match keepalived_stat(&stats, "VI_1", section, name) {
            Some(0) => {}
            other => pair.fail(&format!(
                "keepalived counted rejected adverts: {section} / {name} = {other:?}\n{stats}"
            )),
        }
    }
    keepalived_stat(&stats, "VI_1", "Advertisements", "Received")
        .unwrap_or_else(|| pair.fail(&format!("no advert count in keepalived's stats:\n{stats}")))
}

/// One VRRP advert seen on the bridge, as tshark decoded it.
#[derive(Clone, Debug)]
struct Advert {
    /// Capture time (CLOCK_REALTIME, like [`SystemTime`]), in seconds.
    at: f64,
    /// Frame number in the capture, for pointing at it.
    frame: u64,
    /// Sender: the node whose address `src` is ([`Pair::senders`]), 0 for a stranger.
    node: usize,
    /// IP source and destination.
    src: String,
    dst: String,
    prio: u8,
    /// tshark's `vrrp.checksum.status` and `ip.checksum.status`: 1 is good (IPv6 has no
    /// header checksum: empty).
    vrrp_checksum: String,
    ip_checksum: String,
    /// IPv4 TTL or IPv6 hop limit.
    ttl: u8,
    version: u8,
    /// Any expert info or malformed-packet mark tshark attached.
    expert: String,
}

const TSHARK_FIELDS: &[&str] = &[
    "frame.number",
    "frame.time_epoch",
    "ip.src",
    "ipv6.src",
    "ip.dst",
    "ipv6.dst",
    "ip.ttl",
    "ipv6.hlim",
    "vrrp.version",
    "vrrp.prio",
    "vrrp.checksum.status",
    "ip.checksum.status",
    "_ws.expert.message",
    "_ws.malformed",
];

/// Capture time of `node`'s first gratuitous ARP for the IPv4 VIP after `after` (infinity
/// when there is none).
fn first_garp(pair: &Pair<'_>, node: usize, after: f64) -> f64 {
    let mac = pair
        .lab
        .mac(node)
        .unwrap_or_else(|e| pair.fail(&format!("node{node}'s MAC: {e:#}")));
    let vip = pair.transport.vip();
    pair.capture
        .frames(&["arp"])
        .unwrap_or_else(|e| pair.fail(&format!("ARP frames of the capture: {e:#}")))
        .iter()
        .filter(|f| f.src_mac == mac && f.at > after)
        .find(|f| {
            f.line
                .contains(&format!("who-has {vip} (ff:ff:ff:ff:ff:ff) tell {vip},"))
        })
        .map_or(f64::INFINITY, |f| f.at)
}

/// Every VRRP advert of the capture, decoded by tshark with checksum verification on.
fn wire_adverts(pair: &Pair<'_>) -> Vec<Advert> {
    let mut args = vec![
        "-o",
        "ip.check_checksum:TRUE",
        "-Y",
        "vrrp",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=;",
    ];
    for f in TSHARK_FIELDS {
        args.extend(["-e", f]);
    }
    let out = pair
        .capture
        .tshark(&args)
        .unwrap_or_else(|e| pair.fail(&format!("{e:#}")));
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            // Exactly one of each IPv4/IPv6 pair of columns is filled.
            let either = |a: &str, b: &str| format!("{a}{b}");
            let parsed = (|| {
                if f.len() != TSHARK_FIELDS.len() {
                    return None;
                }
                let src = either(f[2], f[3]);
                let node = pair
                    .senders
                    .iter()
                    .find(|(a, _)| *a == src)
                    .map_or(0, |&(_, n)| n);
                Some(Advert {
                    frame: f[0].parse().ok()?,
                    at: f[1].parse().ok()?,
                    node,
                    src,
                    dst: either(f[4], f[5]),
                    ttl: either(f[6], f[7]).parse().ok()?,
                    version: f[8].parse().ok()?,
                    prio: f[9].parse().ok()?,
                    vrrp_checksum: f[10].to_string(),
                    ip_checksum: f[11].to_string(),
                    expert: format!("{}{}", f[12], f[13]),
                })
            })();
            parsed.unwrap_or_else(|| pair.fail(&format!("cannot parse tshark line {l:?}")))
        })
        .collect()
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

fn secs(d: f64) -> Duration {
    Duration::from_secs_f64(d.max(0.0))
}

/// Checks what went over the wire and returns the figures for the report.
///
/// - every advert (ours and keepalived's) is well formed for tshark: good VRRP and IP
///   checksums, TTL 255, the configured version, no expert info, not malformed;
/// - after `kill -9` (at `killed`): the backup's first advert comes its
///   Master_Down_Interval after the master's last one (not earlier, which would mean it
///   ignored some of them, and at most `SLACK` later);
/// - after SIGTERM (at `termed`): the master sent priority 0, and the backup's first
///   advert follows it by Skew_Time (at most `SLACK` later);
/// - after each return of the master (at `restarts`): the backup stops advertising as
///   soon as the master's first advert reaches it (dual-master window on the wire at most
///   `SLACK`; with a 1 s interval that means no second advert).
fn check_wire(
    pair: &Pair<'_>,
    t: &Timers,
    ours: usize,
    killed: SystemTime,
    termed: SystemTime,
    restarts: [SystemTime; 2],
) -> String {
    let adverts = wire_adverts(pair);
    let version = if t.v3 { 3 } else { 2 };
    let ip_checksum = if pair.transport == Transport::Ipv6 {
        ""
    } else {
        "1"
    };
    let mut per_node = [0u64; 3];
    for a in &adverts {
        if !(1..=2).contains(&a.node)
            || a.dst != pair.transport.advert_dst(a.node)
            || a.vrrp_checksum != "1"
            || a.ip_checksum != ip_checksum
            || a.ttl != 255
            || a.version != version
            || !a.expert.is_empty()
        {
            let who = match a.node {
                0 => "a stranger's",
                n if n == ours => "our",
                _ => "keepalived's",
            };
            pair.fail(&format!(
                "fault with {who} advert (frame {}, {} > {}): {a:?}; want a sender of {:?}, \
                 destination {}, TTL/hop limit 255, VRRPv{version}, checksums good and no \
                 expert info for tshark",
                a.frame,
                a.src,
                a.dst,
                pair.senders,
                pair.transport.advert_dst(a.node),
            ));
        }
        per_node[a.node] += 1;
    }
    let from = |node: usize, after: f64| {
        adverts
            .iter()
            .filter(move |a| a.node == node && a.at > after)
    };
    let tol = TIMER_TOLERANCE.as_secs_f64();
    // Timing from a capture that lost frames would blame a daemon for tcpdump's loss (seen
    // only with the host's cores saturated by other work). Every advert's contents were
    // still checked above, and the VIP's moves by the caller.
    let dropped = pair.capture.dropped().unwrap_or(0);
    if dropped > 0 {
        eprintln!(
            "{}: wire timing not checked: the capture lost {dropped} frames",
            pair.name
        );
        return format!("wire timing not checked (capture lost {dropped} frames)");
    }

    // kill -9.
    let k = epoch(killed);
    let Some(last) = adverts.iter().rfind(|a| a.node == 1 && a.at < k) else {
        pair.fail("no advert from node1 before the kill");
    };
    if let Some(a) = from(1, k).next().filter(|a| a.at < epoch(restarts[0])) {
        pair.fail(&format!("node1 advertised after kill -9: {a:?}"));
    }
    let Some(first) = from(2, k).next() else {
        pair.fail("node2 never advertised after the kill");
    };
    // Over unicast the new master's first advert goes to the dead master: if the kernel's
    // neighbour entry for it has expired meanwhile (its probes went unanswered), that
    // advert waits for an ARP answer that never comes, whoever the daemon is. The takeover
    // then shows on the wire as the new master's first gratuitous ARP for the VIP.
    let takeover_at = match pair.transport {
        Transport::Unicast4 | Transport::Unicast4V2 => first.at.min(first_garp(pair, 2, k)),
        Transport::Multicast4 | Transport::Ipv6 => first.at,
    };
    let down = takeover_at - last.at;
    let bound = t.backup_down.as_secs_f64();
    if down < bound - tol || down > bound + SLACK.as_secs_f64() {
        pair.fail(&format!(
            "after kill -9 the backup's first advert (frame {}) or gratuitous ARP came {:?} \
             after the master's last advert (frame {}); Master_Down_Interval is {:?}",
            first.frame,
            secs(down),
            last.frame,
            t.backup_down
        ));
    }

    // SIGTERM.
    let s = epoch(termed);
    let Some(zero) = from(1, s).find(|a| a.prio == 0) else {
        pair.fail("the master sent no priority-0 advert on SIGTERM");
    };
    let Some(first_term) = from(2, zero.at).next() else {
        pair.fail("node2 never advertised after the priority-0 advert");
    };
    let skew = first_term.at - zero.at;
    let bound = t.backup_skew.as_secs_f64();
    if skew < bound - tol || skew > bound + SLACK.as_secs_f64() {
        pair.fail(&format!(
            "after the priority-0 advert (frame {}) the backup's first advert (frame {}) came \
             {:?} later; Skew_Time is {:?}",
            zero.frame,
            first_term.frame,
            secs(skew),
            t.backup_skew
        ));
    }

    // Preemption: the window during which both sent adverts.
    let mut windows = Vec::new();
    for (i, r) in restarts.iter().enumerate() {
        let r = epoch(*r);
        let end = if i == 0 { s } else { f64::INFINITY };
        let Some(back) = from(1, r).find(|a| a.prio == 100) else {
            pair.fail("the returning master never advertised");
        };
        let dual = from(2, back.at)
            .rfind(|a| a.at < end)
            .map_or(0.0, |a| a.at - back.at);
        if dual > SLACK.as_secs_f64() {
            pair.fail(&format!(
                "node2 kept advertising {:?} after the returning master's first advert \
                 (frame {})",
                secs(dual),
                back.frame
            ));
        }
        windows.push(secs(dual));
    }
    format!(
        "on the wire: kill -9 -> first backup advert {:?} after the master's last (timer {:?}, \
         {:+.2} ms); priority 0 -> first backup advert {:?} (skew {:?}, {:+.2} ms); \
         dual-advertising windows at preemption {windows:?}; adverts node1 {} node2 {}, all \
         clean for tshark",
        secs(down),
        t.backup_down,
        (down - t.backup_down.as_secs_f64()) * 1e3,
        secs(skew),
        t.backup_skew,
        (skew - t.backup_skew.as_secs_f64()) * 1e3,
        per_node[1],
        per_node[2],
    )
}

fn interop_scenario(t: &Timers, master: Impl, port: u16) {
    if !is_root() {
        panic!("needs root: run through `cargo xtask test`");
    }
    let test_start = Instant::now();
    let backup = master.other();
    let lab = Lab::builder().nodes(2).client(true).build().expect("lab");
    let capture = lab
        .start_capture(Host::Switch, "br0", &["vrrp", "or", "arp"], "br0")
        .expect("tcpdump on br0");
    let pair = Pair::new(
        &lab,
        &capture,
        format!(
            "{master:?} master (node1) + {backup:?} backup (node2), VRRPv{} advert_int {}",
            if t.v3 { 3 } else { 2 },
            t.advert_int
        ),
        Transport::Multicast4,
    );
    let master_cfg = config(t, "MASTER", 100);
    let backup_cfg = config(t, "BACKUP", 90);
    let election = t.master_down + Duration::from_secs(2);
    // Long enough for a backup that ignored the master's adverts to have taken over.
    let steady_backup = t.backup_down + (2 * t.advert).max(500 * MS);
    let steady = (3 * t.advert).max(Duration::from_secs(1));
    let (keepalived_node, our_node) = if master == Impl::Keepalived {
        (1, 2)
    } else {
        (2, 1)
    };

    // 1. The master comes up alone, then the backup joins and stays backup.
    let m = spawn(&lab, master, 1, &master_cfg);
    let first = pair.settle_on(1, Instant::now(), election, Duration::ZERO);
    let b = spawn(&lab, backup, 2, &backup_cfg);
    pair.settle_on(1, Instant::now(), election, steady_backup);
    let k = if master == Impl::Keepalived { &m } else { &b };
    let received = check_keepalived_stats(&pair, k);
    if backup == Impl::Keepalived {
        // It accepted our adverts: it counted them and never went master.
        if received == 0 {
            pair.fail("the keepalived backup received no advert from our master");
        }
        if b.log().contains("Entering MASTER STATE") {
            pair.fail("the keepalived backup became master while ours was master");
        }
    }

    let probe = lab.start_probe(VIP, port).expect("probe");
    std::thread::sleep(200 * MS);

    // 2. The master's host dies: its link is cut, then kill -9 (a cut first, so that our
    //    daemon's crash guardian cannot resign on its behalf: that is what a host death
    //    looks like). The backup takes over within master-down + slack.
    lab.set_link(1, false)
        .unwrap_or_else(|e| pair.fail(&format!("cutting node1's link: {e:#}")));
    // Timestamps once the link is down: adverts still went out while `ip` ran.
    let killed_wall = SystemTime::now();
    let killed = Instant::now();
    m.kill9()
        .unwrap_or_else(|e| pair.fail(&format!("kill -9 of the master: {e:#}")));
    let takeover = pair.wait_holders(
        killed,
        t.backup_down + Duration::from_secs(2),
        "backup takes over after kill -9",
        |h| h.contains(&2),
    );
    if takeover > t.backup_down + SLACK {
        pair.fail(&format!(
            "takeover after kill -9 took {takeover:?}, bound {:?} + {SLACK:?}",
            t.backup_down
        ));
    }
    std::thread::sleep(300 * MS);

    // 3. The master comes back (its stale VIP is cleaned up at start) and preempts. What
    //    node1's kernel queued while cut off is flushed, as a reboot would.
    lab.exec_ok(1, &["ip", "neigh", "flush", "dev", "eth0"])
        .unwrap_or_else(|e| pair.fail(&format!("flushing node1's neighbours: {e:#}")));
    lab.set_link(1, true)
        .unwrap_or_else(|e| pair.fail(&format!("restoring node1's link: {e:#}")));
    let restart1_wall = SystemTime::now();
    let restarted = Instant::now();
    let m = spawn(&lab, master, 1, &master_cfg);
    let preempt_kill = pair.settle_on(1, restarted, election, steady);

    // 4. SIGTERM: priority 0, the backup takes over within skew time + slack.
    let termed_wall = SystemTime::now();
    let stopped = Instant::now();
    m.signal(libc::SIGTERM)
        .unwrap_or_else(|e| pair.fail(&format!("SIGTERM to the master: {e:#}")));
    let takeover_term = pair.wait_holders(
        stopped,
        t.backup_down + Duration::from_secs(2),
        "backup takes over after SIGTERM",
        |h| h == [2],
    );
    if takeover_term > t.backup_skew + SLACK {
        pair.fail(&format!(
            "takeover after SIGTERM took {takeover_term:?}, bound {:?} + {SLACK:?}",
            t.backup_skew
        ));
    }
    match m.wait_exit(Duration::from_secs(5)) {
        Some(status) if status.success() => {}
        other => pair.fail(&format!("the master's exit after SIGTERM: {other:?}")),
    }
    std::thread::sleep(300 * MS);

    // 5. And comes back once more.
    let restart2_wall = SystemTime::now();
    let restarted = Instant::now();
    let m = spawn(&lab, master, 1, &master_cfg);
    let preempt_term = pair.settle_on(1, restarted, election, steady);
    std::thread::sleep(200 * MS);

    let report = probe.stop().expect("probe report");
    // A sub-millisecond overlap at a preemption (both answering) is not a failover.
    let owners = report.settled_owners(5 * MS);
    if owners != [1, 2, 1, 2, 1] {
        pair.fail(&format!(
            "the client must reach the VIP before and after each failover: {report}"
        ));
    }
    if !b.is_running() {
        pair.fail("the backup exited");
    }

    // 6. Neither side complained about the other's packets.
    let k = if master == Impl::Keepalived { &m } else { &b };
    let received = check_keepalived_stats(&pair, k);
    let ka_log = lab.log(keepalived_node);
    for pattern in KEEPALIVED_RX_ERRORS {
        if let Some(line) = ka_log.lines().find(|l| l.contains(pattern)) {
            pair.fail(&format!(
                "keepalived logged a rejected advert ({pattern:?}): {line}"
            ));
        }
    }
    let ours_log = lab.log(our_node);
    for line in ours_log.lines() {
        if line.contains(" ERROR ") || line.contains("not sent") {
            pair.fail(&format!("our daemon logged an error: {line}"));
        }
    }

    // 7. And the wire agrees.
    let wire = check_wire(
        &pair,
        t,
        our_node,
        killed_wall,
        termed_wall,
        [restart1_wall, restart2_wall],
    );
    let elapsed = test_start.elapsed();
    eprintln!(
        "{}: first election {first:?}; kill -9 takeover {takeover:?} (bound {:?}); preemption \
         after restart {preempt_kill:?}; SIGTERM takeover {takeover_term:?} (bound {:?}); \
         preemption {preempt_term:?}; keepalived received {received} adverts; test \
         {elapsed:?}\n  {wire}\n  {report}",
        pair.name, t.backup_down, t.backup_skew,
    );
    assert!(
        elapsed < TEST_BUDGET,
        "{}: took {elapsed:?}, over the {TEST_BUDGET:?} budget",
        pair.name
    );
    drop(capture);
    drop(lab);
}

#[test]
fn v2_seed_keepalived_master_our_backup() {
    interop_scenario(&V2_1S, Impl::Keepalived, 9201);
}

#[test]
fn v2_seed_our_master_keepalived_backup() {
    interop_scenario(&V2_1S, Impl::Ours, 9202);
}

#[test]
fn v3_100ms_keepalived_master_our_backup() {
    interop_scenario(&V3_100MS, Impl::Keepalived, 9203);
}

#[test]
fn v3_100ms_our_master_keepalived_backup() {
    interop_scenario(&V3_100MS, Impl::Ours, 9204);
}

#[test]
fn v3_50ms_keepalived_master_our_backup() {
    interop_scenario(&V3_50MS, Impl::Keepalived, 9205);
}

#[test]
fn v3_50ms_our_master_keepalived_backup() {
    interop_scenario(&V3_50MS, Impl::Ours, 9206);
}

/// Negative control for the checks above: adverts keepalived must reject (a PASS key that
/// differs from its own) do show up in its log and in its counters, so the silence of
/// both in the other tests means something.
#[test]
fn keepalived_reports_adverts_it_rejects() {
    if !is_root() {
        panic!("needs root: run through `cargo xtask test`");
    }
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let capture = lab
        .start_capture(Host::Switch, "br0", &["vrrp"], "br0")
        .expect("tcpdump on br0");
    let pair = Pair::new(
        &lab,
        &capture,
        "our master with another PASS key".into(),
        Transport::Multicast4,
    );
    let ours = config(&V2_1S, "MASTER", 100).replace("auth_pass 1234", "auth_pass 4321");
    let _m = spawn(&lab, Impl::Ours, 1, &ours);
    pair.wait_holders(
        Instant::now(),
        Duration::from_secs(6),
        "our master up",
        |h| h == [1],
    );
    let k = spawn(&lab, Impl::Keepalived, 2, &config(&V2_1S, "BACKUP", 90));
    let mut stats = String::new();
    let counted = lab.wait_for(Duration::from_secs(5), 100 * MS, || {
        stats = k.keepalived_stats().unwrap_or_default();
        keepalived_stat(&stats, "VI_1", "Authentication Errors", "Failure").unwrap_or(0) > 0
    });
    if counted.is_err() {
        pair.fail(&format!("keepalived did not count a bad key:\n{stats}"));
    }
    let log = lab.log(2);
    let Some(line) = log
        .lines()
        .find(|l| KEEPALIVED_RX_ERRORS.iter().any(|p| l.contains(p)))
    else {
        pair.fail("keepalived logged nothing about the bad key");
    };
    eprintln!("keepalived about a bad key: {line}");
}

// ---- IPv6 and unicast peers ------------------------------------------------------------
//
// The same mixed pairs over the two other transports, both VRRPv3 with `advert_int 0.1`
// (timers as [`V3_100MS`]):
// - IPv6: VIP 2001:db8::100/64, adverts from each node's link-local address to ff02::12
//   (keepalived makes an instance IPv6 when its virtual_ipaddress is); the client
//   (2001:db8::200/64) probes the VIP over UDP every millisecond ([`Probe6`]);
// - unicast peers (IPv4): `unicast_src_ip` 10.0.0.N and the other node as the only
//   `unicast_peer`, `check_unicast_src` on both sides; keepalived 2.2.7 checksums VRRPv3
//   unicast adverts over the pseudo-header with the real destination, as tshark does.
//
// The master's failure is a dead host: its link is cut *before* `kill -9` (keepalived:
// its whole process group), so that nothing it or our crash guardian sends on the way
// down (a priority-0 advert) reaches the backup, which must take over on its own
// Master_Down_Interval. Then the link comes back and the master returns and preempts;
// then SIGTERM (priority 0, Skew_Time) and preemption once more. Each test stays under
// [`MIXED_BUDGET`].

/// Budget of each IPv6 / unicast test.
const MIXED_BUDGET: Duration = Duration::from_secs(40);
/// Longest a [`Probe6`] runs, whatever the test does.
const PROBE6_MAX: Duration = Duration::from_secs(40);

impl Transport {
    fn label(self) -> &'static str {
        match self {
            Transport::Multicast4 => "IPv4 multicast",
            Transport::Ipv6 => "IPv6",
            Transport::Unicast4 => "IPv4 unicast peers",
            Transport::Unicast4V2 => "IPv4 unicast peers with PASS authentication",
        }
    }

    /// tcpdump filter for the lab's capture: adverts, and ARP or ICMPv6 (NA, NS) to see
    /// the client follow the VIP.
    fn capture_filter(self) -> &'static [&'static str] {
        match self {
            Transport::Ipv6 => &["ip6", "proto", "112", "or", "icmp6"],
            Transport::Multicast4 | Transport::Unicast4 | Transport::Unicast4V2 => {
                &["vrrp", "or", "arp"]
            }
        }
    }
}

/// `node`'s IPv6 link-local address on eth0 (where VRRPv3 over IPv6 sends from).
fn link_local(lab: &Lab, node: usize) -> String {
    let out = lab
        .exec_ok(
            node,
            &[
                "ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "link",
            ],
        )
        .unwrap_or_else(|e| panic!("node{node}: link-local address: {e:#}"));
    out.split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .filter(|a| a.starts_with("fe80:"))
        .unwrap_or_else(|| panic!("node{node} has no link-local address on eth0: {out:?}"))
        .to_string()
}

/// The configuration both implementations read for the IPv6 or unicast pair: VRRPv3 at
/// `advert_int 0.1` (VRRPv2 at 1 s with PASS for [`Transport::Unicast4V2`]), instance `VI_1` (the name [`check_keepalived_stats`] reads); `node`
/// (1 or 2) picks the unicast source, the other node being the peer.
fn transport_config(transport: Transport, state: &str, priority: u8, node: usize) -> String {
    let unicast_peers = format!(
        "    unicast_src_ip 10.0.0.{node}\n    unicast_peer {{\n        10.0.0.{}\n    \
         }}\n    check_unicast_src\n",
        3 - node
    );
    let (vrid, vip, unicast) = match transport {
        Transport::Ipv6 => (61, format!("{VIP6}/64"), String::new()),
        Transport::Unicast4 => (71, VIP.to_string(), unicast_peers),
        Transport::Unicast4V2 => (
            72,
            VIP.to_string(),
            unicast_peers
                + "    authentication {\n        auth_type PASS\n        auth_pass 1234\n    }\n",
        ),
        Transport::Multicast4 => unreachable!("multicast IPv4 uses config()"),
    };
    let t = transport.timers();
    format!(
        "global_defs {{
    vrrp_version {version}
}}

vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id {vrid}
    priority {priority}
    advert_int {advert_int}
{unicast}    virtual_ipaddress {{
        {vip}
    }}
}}
",
        version = if t.v3 { 3 } else { 2 },
        advert_int = t.advert_int,
    )
}

/// Waits until the daemon of `d` has started and entered the backup state (our daemon
/// logs `INIT -> BACKUP`, keepalived `Entering BACKUP STATE`).
fn wait_backup_state(pair: &Pair<'_>, d: &DaemonHandle, limit: Duration) {
    let marker = match d.kind() {
        DaemonKind::Vrrpd => "to=BACKUP",
        DaemonKind::Keepalived => "Entering BACKUP STATE",
    };
    if pair
        .lab
        .wait_for(limit, 5 * MS, || {
            d.log().contains(marker) || !d.is_running()
        })
        .is_err()
        || !d.is_running()
    {
        pair.fail(&format!(
            "node{} did not start as backup within {limit:?}",
            d.node()
        ));
    }
}

/// keepalived's log (every run on `keepalived_node`) has no line about a rejected
/// advert, and ours (every run on `our_node`) no error.
fn check_logs(pair: &Pair<'_>, keepalived_node: usize, our_node: usize) {
    let ka_log = pair.lab.log(keepalived_node);
    for pattern in KEEPALIVED_RX_ERRORS {
        if let Some(line) = ka_log.lines().find(|l| l.contains(pattern)) {
            pair.fail(&format!(
                "keepalived logged a rejected advert ({pattern:?}): {line}"
            ));
        }
    }
    for line in pair.lab.log(our_node).lines() {
        if line.contains(" ERROR ") || line.contains("not sent") {
            pair.fail(&format!("our daemon logged an error: {line}"));
        }
    }
}

/// What the client saw while probing the VIP.
struct ClientView {
    started_at: Instant,
    /// (receive time since `started_at`, answering node), in arrival order.
    replies: Vec<(Duration, usize)>,
    summary: String,
}

impl ClientView {
    /// Who answered last, if anyone did in the 50 ms before `t`.
    fn owner_before(&self, t: Instant) -> Option<usize> {
        let t = t.saturating_duration_since(self.started_at);
        self.replies
            .iter()
            .rev()
            .find(|r| r.0 <= t)
            .filter(|r| t - r.0 <= 50 * MS)
            .map(|r| r.1)
    }

    /// How long after `t` `node` first answered.
    fn first_from_after(&self, node: usize, t: Instant) -> Option<Duration> {
        let t = t.saturating_duration_since(self.started_at);
        self.replies
            .iter()
            .find(|r| r.0 >= t && r.1 == node)
            .map(|r| r.0 - t)
    }
}

/// Probes sent, and the replies: (receive time since the start, answering node).
type Probe6Samples = (u64, Vec<(Duration, usize)>);

/// The lab's probe ([`Lab::start_probe`]) speaks IPv4 only; this is the same over IPv6.
/// The client sends a numbered UDP datagram to `[VIP6]:port` every millisecond, and a
/// responder on each node echoes it with its node number appended; only the node that
/// holds the VIP, and that the client's neighbour entry points to, receives them (a node
/// answers from the VIP, its only global address). Stops on [`Probe6::stop`], on drop, or
/// after [`PROBE6_MAX`].
struct Probe6 {
    stop: Arc<AtomicBool>,
    prober: Option<JoinHandle<anyhow::Result<Probe6Samples>>>,
    responders: Vec<JoinHandle<anyhow::Result<()>>>,
    started_at: Instant,
}

impl Probe6 {
    fn start(lab: &Lab, port: u16) -> Probe6 {
        let stop = Arc::new(AtomicBool::new(false));
        // Built first, so that dropping it on a failed start stops the threads.
        let mut probe = Probe6 {
            stop: stop.clone(),
            prober: None,
            responders: Vec::new(),
            started_at: Instant::now(),
        };
        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        for node in 1..=lab.nodes() {
            let (stop, ready) = (stop.clone(), ready_tx.clone());
            let h = lab
                .spawn_in(node, move || respond6(node, port, &stop, &ready))
                .expect("IPv6 probe responder");
            probe.responders.push(h);
        }
        for _ in 1..=lab.nodes() {
            ready_rx
                .recv_timeout(Duration::from_secs(5))
                .expect("IPv6 probe responder did not start");
        }
        let (start_tx, start_rx) = mpsc::channel::<Instant>();
        let h = lab
            .spawn_in(Host::Client, move || probe6_loop(port, &stop, &start_tx))
            .expect("IPv6 prober");
        probe.prober = Some(h);
        probe.started_at = start_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("IPv6 prober did not start");
        probe
    }

    fn stop(mut self) -> ClientView {
        self.stop.store(true, Ordering::Relaxed);
        let (sent, replies) = self
            .prober
            .take()
            .expect("probe running")
            .join()
            .expect("IPv6 prober panicked")
            .expect("IPv6 prober");
        for h in self.responders.drain(..) {
            h.join()
                .expect("IPv6 responder panicked")
                .expect("IPv6 responder");
        }
        let mut owners = String::new();
        let mut last = None;
        for &(at, node) in &replies {
            if last != Some(node) {
                owners.push_str(&format!(" node{node}@{at:?}"));
                last = Some(node);
            }
        }
        let longest_gap = replies
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .max()
            .unwrap_or_default();
        ClientView {
            started_at: self.started_at,
            summary: format!(
                "IPv6 probe: sent {sent} received {}; longest gap {longest_gap:?}; owners:{owners}",
                replies.len()
            ),
            replies,
        }
    }
}

impl Drop for Probe6 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.prober.take() {
            let _ = h.join();
        }
        for h in self.responders.drain(..) {
            let _ = h.join();
        }
    }
}

/// [`Probe6`]'s echo responder, in `node`'s namespace.
fn respond6(
    node: usize,
    port: u16,
    stop: &AtomicBool,
    ready: &mpsc::Sender<()>,
) -> anyhow::Result<()> {
    let sock = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, port))?;
    sock.set_read_timeout(Some(20 * MS))?;
    let _ = ready.send(());
    let mut buf = [0u8; 64];
    while !stop.load(Ordering::Relaxed) {
        match sock.recv_from(&mut buf) {
            Ok((8, from)) => {
                buf[8] = node as u8;
                let _ = sock.send_to(&buf[..9], from);
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// [`Probe6`]'s sender, in the client's namespace: returns probes sent and the replies.
fn probe6_loop(
    port: u16,
    stop: &AtomicBool,
    started: &mpsc::Sender<Instant>,
) -> anyhow::Result<Probe6Samples> {
    let dst = SocketAddr::new(VIP6.parse()?, port);
    let sock = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0))?;
    sock.set_nonblocking(true)?;
    let start = Instant::now();
    let _ = started.send(start);
    let (mut sent, mut replies) = (0u64, Vec::new());
    let mut next = start;
    let mut drain_until: Option<Instant> = None;
    let mut buf = [0u8; 64];
    loop {
        let now = Instant::now();
        match drain_until {
            Some(end) if now >= end => break,
            Some(_) => {}
            None if stop.load(Ordering::Relaxed) || now - start >= PROBE6_MAX => {
                drain_until = Some(now + 20 * MS);
            }
            None if now >= next => {
                // A send that fails (no neighbour yet) is a lost probe like any other.
                let _ = sock.send_to(&sent.to_be_bytes(), dst);
                sent += 1;
                next = (next + MS).max(now);
            }
            None => {}
        }
        while let Ok((n, _)) = sock.recv_from(&mut buf) {
            if n == 9 {
                replies.push((start.elapsed(), usize::from(buf[8])));
            }
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    Ok((sent, replies))
}

/// The client's probe of the VIP, over the pair's IP version.
enum ClientProbe {
    V4(vrrp_tests::Probe),
    V6(Probe6),
}

impl ClientProbe {
    fn start(lab: &Lab, transport: Transport, port: u16) -> ClientProbe {
        match transport {
            Transport::Ipv6 => ClientProbe::V6(Probe6::start(lab, port)),
            Transport::Multicast4 | Transport::Unicast4 | Transport::Unicast4V2 => {
                ClientProbe::V4(lab.start_probe(VIP, port).expect("probe"))
            }
        }
    }

    fn stop(self) -> ClientView {
        match self {
            ClientProbe::V6(p) => p.stop(),
            ClientProbe::V4(p) => {
                let report = p.stop().expect("probe report");
                ClientView {
                    started_at: report.started_at,
                    replies: report
                        .replies
                        .iter()
                        .map(|r| (r.received_at, r.node))
                        .collect(),
                    summary: report.to_string(),
                }
            }
        }
    }
}

/// One mixed pair over IPv6 or unicast peers; `master` runs on node1 (priority 100,
/// `state MASTER`), the other implementation on node2 (priority 90, `state BACKUP`).
fn mixed_pair_scenario(transport: Transport, master: Impl, port: u16) {
    if !is_root() {
        panic!("needs root: run through `cargo xtask test`");
    }
    let t = transport.timers();
    let test_start = Instant::now();
    let backup = master.other();
    let lab = Lab::builder().nodes(2).client(true).build().expect("lab");
    if transport == Transport::Ipv6 {
        lab.exec_ok(
            Host::Client,
            &["ip", "-6", "addr", "add", CLIENT6, "dev", "eth0", "nodad"],
        )
        .expect("client IPv6 address");
    }
    let capture = lab
        .start_capture(Host::Switch, "br0", transport.capture_filter(), "br0")
        .expect("tcpdump on br0");
    let pair = Pair::new(
        &lab,
        &capture,
        format!(
            "{master:?} master (node1) + {backup:?} backup (node2), VRRPv{} advert_int {} over {}",
            if t.v3 { 3 } else { 2 },
            t.advert_int,
            transport.label()
        ),
        transport,
    );
    let master_cfg = transport_config(transport, "MASTER", 100, 1);
    let backup_cfg = transport_config(transport, "BACKUP", 90, 2);
    // Includes starting the daemon: loading our XDP program (debug build) takes 0.5 s
    // on an idle machine and several seconds on a loaded one.
    let election = t.master_down + Duration::from_secs(6);
    // Long enough for a backup that ignored the master's adverts to have taken over.
    let steady_backup = t.backup_down + 500 * MS;
    let steady = Duration::from_secs(1);
    let (keepalived_node, our_node) = if master == Impl::Keepalived {
        (1, 2)
    } else {
        (2, 1)
    };
    let keepalived_of = |m: &DaemonHandle, b: &DaemonHandle| {
        if master == Impl::Keepalived {
            m.clone()
        } else {
            b.clone()
        }
    };

    // 1. The master comes up alone, then the backup joins and stays backup.
    let m = spawn(&lab, master, 1, &master_cfg);
    let first = pair.settle_on(1, Instant::now(), election, Duration::ZERO);
    let b = spawn(&lab, backup, 2, &backup_cfg);
    // Only a running backup can show that it accepts the master's adverts.
    wait_backup_state(&pair, &b, election);
    pair.settle_on(1, Instant::now(), election, steady_backup);
    let received_first = check_keepalived_stats(&pair, &keepalived_of(&m, &b));
    if backup == Impl::Keepalived {
        if received_first == 0 {
            pair.fail("the keepalived backup received no advert from our master");
        }
        if b.log().contains("Entering MASTER STATE") {
            pair.fail("the keepalived backup became master while ours was master");
        }
    }

    let probe = ClientProbe::start(&lab, transport, port);
    std::thread::sleep(200 * MS);
    let mut checkpoints = vec![Instant::now()];

    // 2. The master's host dies: link cut, then kill -9. The backup takes over within
    //    its master-down interval (counted from the cut) + slack.
    lab.set_link(1, false)
        .unwrap_or_else(|e| pair.fail(&format!("cutting node1's link: {e:#}")));
    // Once the link is down: adverts still went out while `ip` ran.
    let cut_wall = SystemTime::now();
    let cut = Instant::now();
    // SIGKILL without waiting for the exit here: the backup's clock runs already.
    m.signal_group(libc::SIGKILL)
        .unwrap_or_else(|e| pair.fail(&format!("kill -9 of the master: {e:#}")));
    let takeover = pair.wait_holders(
        cut,
        t.backup_down + Duration::from_secs(2),
        "backup takes over after the master's link cut and kill -9",
        |h| h.contains(&2),
    );
    m.kill9()
        .unwrap_or_else(|e| pair.fail(&format!("reaping the killed master: {e:#}")));
    if takeover > t.backup_down + SLACK {
        pair.fail(&format!(
            "takeover after link cut + kill -9 took {takeover:?}, bound {:?} + {SLACK:?}",
            t.backup_down
        ));
    }
    std::thread::sleep(300 * MS);
    checkpoints.push(Instant::now());
    // A killed keepalived leaves its VIP behind on the dead host (our guardian removes
    // ours); either way the restarted master sorts it out.
    let holders_after_kill = pair.holders();

    // 3. The host comes back, the master restarts and preempts. Not quite dead, node1's
    //    kernel still holds what both implementations send when their link goes down
    //    (they go FAULT and resign with priority 0; unicast adverts wait there for ARP):
    //    flush it as a reboot would, or it reaches the peer once the link is back.
    lab.exec_ok(1, &["ip", "neigh", "flush", "dev", "eth0"])
        .unwrap_or_else(|e| pair.fail(&format!("flushing node1's neighbours: {e:#}")));
    lab.set_link(1, true)
        .unwrap_or_else(|e| pair.fail(&format!("restoring node1's link: {e:#}")));
    let restart1_wall = SystemTime::now();
    let restarted1 = Instant::now();
    let m = spawn(&lab, master, 1, &master_cfg);
    let preempt_kill = pair.settle_on(1, restarted1, election, steady);
    checkpoints.push(Instant::now());

    // 4. SIGTERM: priority 0, the backup takes over within its skew time + slack.
    let termed_wall = SystemTime::now();
    let termed = Instant::now();
    m.signal(libc::SIGTERM)
        .unwrap_or_else(|e| pair.fail(&format!("SIGTERM to the master: {e:#}")));
    let takeover_term = pair.wait_holders(
        termed,
        t.backup_down + Duration::from_secs(2),
        "backup takes over after SIGTERM",
        |h| h == [2],
    );
    if takeover_term > t.backup_skew + SLACK {
        pair.fail(&format!(
            "takeover after SIGTERM took {takeover_term:?}, bound {:?} + {SLACK:?}",
            t.backup_skew
        ));
    }
    match m.wait_exit(Duration::from_secs(5)) {
        Some(status) if status.success() => {}
        other => pair.fail(&format!("the master's exit after SIGTERM: {other:?}")),
    }
    std::thread::sleep(300 * MS);
    checkpoints.push(Instant::now());

    // 5. And it comes back once more.
    let restart2_wall = SystemTime::now();
    let restarted2 = Instant::now();
    let m = spawn(&lab, master, 1, &master_cfg);
    let preempt_term = pair.settle_on(1, restarted2, election, steady);
    std::thread::sleep(200 * MS);
    checkpoints.push(Instant::now());

    // 6. The client followed the VIP each time, within the same bounds.
    let view = probe.stop();
    let owners: Vec<Option<usize>> = checkpoints.iter().map(|&c| view.owner_before(c)).collect();
    if owners != [Some(1), Some(2), Some(1), Some(2), Some(1)] {
        pair.fail(&format!(
            "the client must be answered by node1, node2, node1, node2, node1 once each \
             transition settled, but was by {owners:?}: {}",
            view.summary
        ));
    }
    let follow = |node: usize, since: Instant, bound: Duration, what: &str| match view
        .first_from_after(node, since)
    {
        Some(d) if d <= bound => d,
        other => pair.fail(&format!(
            "the client reached node{node} {other:?} after {what}, bound {bound:?}: {}",
            view.summary
        )),
    };
    let client_kill = follow(2, cut, t.backup_down + SLACK, "the link cut");
    let client_preempt1 = follow(1, restarted1, preempt_kill + SLACK, "the first restart");
    let client_term = follow(2, termed, t.backup_skew + SLACK, "SIGTERM");
    let client_preempt2 = follow(1, restarted2, preempt_term + SLACK, "the second restart");
    if !b.is_running() {
        pair.fail("the backup exited");
    }

    // 7. Neither side complained about the other's packets.
    let received = check_keepalived_stats(&pair, &keepalived_of(&m, &b));
    check_logs(&pair, keepalived_node, our_node);

    // 8. And the wire agrees: sources, destinations, checksums, hop limits, timers.
    let wire = check_wire(
        &pair,
        t,
        our_node,
        cut_wall,
        termed_wall,
        [restart1_wall, restart2_wall],
    );
    let elapsed = test_start.elapsed();
    eprintln!(
        "{}: first election {first:?}; link cut + kill -9 takeover {takeover:?} (bound {:?}, \
         holders then {holders_after_kill:?}); preemption after restart {preempt_kill:?}; \
         SIGTERM takeover {takeover_term:?} (bound {:?}); preemption {preempt_term:?}; \
         client on the new holder after {client_kill:?}, {client_preempt1:?}, \
         {client_term:?}, {client_preempt2:?}; keepalived received {received} adverts \
         (first run {received_first}); test {elapsed:?}\n  {wire}\n  {}",
        pair.name, t.backup_down, t.backup_skew, view.summary,
    );
    assert!(
        elapsed < MIXED_BUDGET,
        "{}: took {elapsed:?}, over the {MIXED_BUDGET:?} budget",
        pair.name
    );
    drop(capture);
    drop(lab);
}

#[test]
fn v3_ipv6_keepalived_master_our_backup() {
    mixed_pair_scenario(Transport::Ipv6, Impl::Keepalived, 9401);
}

#[test]
fn v3_ipv6_our_master_keepalived_backup() {
    mixed_pair_scenario(Transport::Ipv6, Impl::Ours, 9402);
}

#[test]
fn v3_unicast_keepalived_master_our_backup() {
    mixed_pair_scenario(Transport::Unicast4, Impl::Keepalived, 9403);
}

#[test]
fn v3_unicast_our_master_keepalived_backup() {
    mixed_pair_scenario(Transport::Unicast4, Impl::Ours, 9404);
}

#[test]
fn v2_unicast_pass_keepalived_master_our_backup() {
    mixed_pair_scenario(Transport::Unicast4V2, Impl::Keepalived, 9405);
}

#[test]
fn v2_unicast_pass_our_master_keepalived_backup() {
    mixed_pair_scenario(Transport::Unicast4V2, Impl::Ours, 9406);
}
