//! The lab: a bridge, N VRRP nodes and a client, each in its own network namespace.

use std::ffi::OsString;
use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};

use crate::capture::Capture;
use crate::cmd;
use crate::daemon::{self, DaemonHandle, DaemonKind};
use crate::flood::Flood;
use crate::impair::ImpairedLink;
use crate::netns::{self, SpawnOpts};
use crate::probe::Probe;
use crate::vipwatch::VipWatch;

/// A lab's temp dir holding this file is kept by the stale sweep (see `VRRPT_KEEP`).
pub(crate) const KEEP_MARKER: &str = "keep";

/// Host part of the client's address (nodes use 1..=N).
const CLIENT_HOST: u32 = 200;
/// Default deadline for [`Lab::exec`] and friends: generous, but a hang still ends.
const EXEC_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on a probe's life, so a forgotten probe stops by itself.
const PROBE_MAX: Duration = Duration::from_secs(120);
/// How long teardown lets daemons handle SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);
/// Lines of each daemon log printed when a lab is dropped during a panic.
const LOG_TAIL_LINES: usize = 60;

/// One machine of the lab. Node indices are 1-based like the namespace names, and a bare
/// `usize` converts into a node, so `lab.exec(2, ..)` and `lab.exec(Host::Client, ..)`
/// both read naturally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Host {
    /// VRRP node `n` (1-based): namespace `…-nodeN`, address `subnet + n`.
    Node(usize),
    /// The client: namespace `…-client`, address `subnet + 200`.
    Client,
    /// The namespace holding bridge `br0` (e.g. to `tcpdump -i br0` all lab traffic).
    Switch,
}

impl From<usize> for Host {
    fn from(n: usize) -> Self {
        Host::Node(n)
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Node(n) => write!(f, "node{n}"),
            Host::Client => f.write_str("client"),
            Host::Switch => f.write_str("switch"),
        }
    }
}

/// Configures a [`Lab`]; start from [`Lab::builder`].
#[derive(Clone, Debug)]
pub struct LabBuilder {
    nodes: usize,
    client: bool,
    base: Ipv4Addr,
    prefix_len: u8,
    daemon_bin: Option<PathBuf>,
}

impl Default for LabBuilder {
    fn default() -> Self {
        Self {
            nodes: 2,
            client: true,
            base: Ipv4Addr::new(10, 0, 0, 0),
            prefix_len: 24,
            daemon_bin: None,
        }
    }
}

impl LabBuilder {
    /// Number of VRRP nodes (default 2; at most 199 so they stay below the client's .200).
    pub fn nodes(mut self, n: usize) -> Self {
        self.nodes = n;
        self
    }

    /// Whether to add the client namespace that probes and pings use (default true).
    pub fn client(mut self, yes: bool) -> Self {
        self.client = yes;
        self
    }

    /// The lab subnet (default 10.0.0.0/24). Labs are isolated from each other, so this
    /// only matters for tests about the addresses themselves; `prefix_len` must be ≤ 24
    /// so that node and client host numbers fit.
    pub fn subnet(mut self, network: Ipv4Addr, prefix_len: u8) -> Self {
        self.base = network;
        self.prefix_len = prefix_len;
        self
    }

    /// The program [`Lab::spawn_daemon`] runs, overriding `VRRP_DAEMON_BIN` and the
    /// workspace default; lets a test swap in a stand-in without touching process-wide
    /// environment that parallel tests share.
    pub fn daemon_bin(mut self, path: impl Into<PathBuf>) -> Self {
        self.daemon_bin = Some(path.into());
        self
    }

    /// Creates the namespaces and links. Stale labs of dead processes are swept first.
    /// On error everything created so far is torn down again.
    pub fn build(self) -> Result<Lab> {
        netns::check_privileges()?;
        ensure!(
            (1..=199).contains(&self.nodes),
            "nodes must be 1..=199, got {}",
            self.nodes
        );
        ensure!(
            self.prefix_len <= 24,
            "prefix_len must be <= 24, got {}",
            self.prefix_len
        );
        let host_mask = u32::MAX >> self.prefix_len;
        ensure!(
            u32::from(self.base) & host_mask == 0,
            "{}/{} has host bits set",
            self.base,
            self.prefix_len
        );
        netns::sweep_stale();
        let id = netns::new_lab_id()?;
        let dir = std::env::temp_dir().join(&id);
        let mut lab = Lab {
            switch_ns: format!("{id}-switch"),
            node_ns: (1..=self.nodes).map(|n| format!("{id}-node{n}")).collect(),
            client_ns: self.client.then(|| format!("{id}-client")),
            id,
            base: self.base,
            prefix_len: self.prefix_len,
            dir,
            daemon_bin: self.daemon_bin,
            daemons: Mutex::new(Vec::new()),
            spawns: AtomicUsize::new(0),
            torn_down: false,
        };
        // From here on `lab`'s Drop cleans up whatever part of the set-up happened.
        std::fs::create_dir(&lab.dir).with_context(|| format!("creating {}", lab.dir.display()))?;
        lab.setup()?;
        Ok(lab)
    }
}

/// A running lab. Dropping it (normally or while a test panics) stops every daemon it
/// started, kills anything else left in its namespaces and deletes them, which also
/// removes the veths, the bridge and any XDP programs.
///
/// Topology: namespace `…-switch` holds bridge `br0` (STP off, forward delay 0, multicast
/// snooping off so VRRP adverts to 224.0.0.18 reach every port); each node and the client
/// has `eth0`, a veth whose peer (`nN` / `cl`) is a port of `br0`.
pub struct Lab {
    id: String,
    switch_ns: String,
    node_ns: Vec<String>,
    client_ns: Option<String>,
    base: Ipv4Addr,
    prefix_len: u8,
    dir: PathBuf,
    daemon_bin: Option<PathBuf>,
    daemons: Mutex<Vec<DaemonHandle>>,
    spawns: AtomicUsize,
    torn_down: bool,
}

impl Lab {
    /// Starts configuring a lab (2 nodes and a client on 10.0.0.0/24 by default).
    pub fn builder() -> LabBuilder {
        LabBuilder::default()
    }

    fn setup(&mut self) -> Result<()> {
        let sw = self.switch_ns.clone();
        netns::add(&sw)?;
        ipn(&sw, &["link", "set", "lo", "up"])?;
        ipn(
            &sw,
            &[
                "link",
                "add",
                "br0",
                "type",
                "bridge",
                "stp_state",
                "0",
                "forward_delay",
                "0",
                "mcast_snooping",
                "0",
            ],
        )?;
        ipn(&sw, &["link", "set", "br0", "up"])?;
        let hosts = self.endpoints();
        for &host in &hosts {
            self.attach(host)?;
        }
        for &host in &hosts {
            let ns = self.ns(host);
            let up = || {
                ipn(ns, &["-o", "link", "show", "dev", "eth0"])
                    .is_ok_and(|s| s.contains("LOWER_UP"))
            };
            crate::wait_for(Duration::from_secs(5), Duration::from_millis(5), up)
                .with_context(|| format!("{host}: eth0 did not come up"))?;
        }
        Ok(())
    }

    /// Creates `host`'s namespace and plugs it into the bridge.
    fn attach(&self, host: Host) -> Result<()> {
        let ns = self.ns(host);
        let sw = &self.switch_ns;
        let port = self.port(host);
        netns::add(ns)?;
        // No IPv6 duplicate address detection: it only delays link-local addresses and
        // adds noise to captures. `-e`: fine if the kernel has no IPv6.
        self.exec_ok(
            host,
            &[
                "sysctl",
                "-q",
                "-e",
                "-w",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            ],
        )?;
        // Created from inside the switch namespace with the peer placed straight into the
        // host namespace: nothing ever appears in the root namespace, so parallel labs
        // cannot collide on interface names.
        ipn(
            sw,
            &[
                "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ],
        )?;
        ipn(sw, &["link", "set", &port, "master", "br0", "up"])?;
        ipn(ns, &["link", "set", "lo", "up"])?;
        let cidr = format!("{}/{}", self.addr(host), self.prefix_len);
        ipn(ns, &["addr", "add", &cidr, "dev", "eth0"])?;
        ipn(ns, &["link", "set", "eth0", "up"])?;
        Ok(())
    }

    fn endpoints(&self) -> Vec<Host> {
        let mut v: Vec<Host> = (1..=self.node_ns.len()).map(Host::Node).collect();
        if self.client_ns.is_some() {
            v.push(Host::Client);
        }
        v
    }

    /// Bridge port (in the switch namespace) that `host` hangs off.
    fn port(&self, host: Host) -> String {
        match host {
            Host::Node(n) => format!("n{n}"),
            Host::Client => "cl".into(),
            Host::Switch => "br0".into(),
        }
    }

    /// This lab's id (`vrrpt-<pid>-<start>-<n>`), the prefix of all its namespace names.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Number of VRRP nodes.
    pub fn nodes(&self) -> usize {
        self.node_ns.len()
    }

    /// Directory (removed on drop) holding configs and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Prefix length of the lab subnet, for configs that spell out `VIP/len`.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    fn try_ns(&self, host: Host) -> Result<&str> {
        match host {
            Host::Node(n) if (1..=self.node_ns.len()).contains(&n) => Ok(&self.node_ns[n - 1]),
            Host::Node(n) => bail!("no node{n} in a lab of {} nodes", self.node_ns.len()),
            Host::Client => self
                .client_ns
                .as_deref()
                .ok_or_else(|| anyhow!("lab built without a client")),
            Host::Switch => Ok(&self.switch_ns),
        }
    }

    /// Namespace name of `host`, for running tools by hand (`ip -n NS ...`).
    ///
    /// Panics if `host` is not part of this lab: that is a bug in the test, not a
    /// condition to handle.
    pub fn ns(&self, host: impl Into<Host>) -> &str {
        let host = host.into();
        self.try_ns(host)
            .unwrap_or_else(|e| panic!("{host}: {e:#}"))
    }

    /// `host`'s own address on the lab subnet (node n: subnet + n, client: subnet + 200).
    ///
    /// Panics for [`Host::Switch`] (it has no address) and for unknown hosts.
    pub fn addr(&self, host: impl Into<Host>) -> Ipv4Addr {
        let host = host.into();
        self.ns(host);
        let offset = match host {
            Host::Node(n) => n as u32,
            Host::Client => CLIENT_HOST,
            Host::Switch => panic!("the switch has no address"),
        };
        Ipv4Addr::from(u32::from(self.base) + offset)
    }

    /// Runs `args` (program first) inside `host`'s namespace and returns its output,
    /// whatever the exit status; killed after 30 s.
    pub fn exec(&self, host: impl Into<Host>, args: &[&str]) -> Result<Output> {
        self.exec_timeout(host, args, EXEC_TIMEOUT)
    }

    /// [`Lab::exec`] with an explicit deadline, for commands that legitimately run long
    /// (e.g. a bounded `tcpdump -c N`).
    pub fn exec_timeout(
        &self,
        host: impl Into<Host>,
        args: &[&str],
        timeout: Duration,
    ) -> Result<Output> {
        let host = host.into();
        let (program, rest) = args
            .split_first()
            .ok_or_else(|| anyhow!("exec: empty command"))?;
        let mut c = netns::command(
            self.try_ns(host)?,
            program,
            SpawnOpts {
                die_with_parent: true,
            },
        )?;
        c.args(rest);
        cmd::run(c, timeout).with_context(|| format!("in {host}"))
    }

    /// [`Lab::exec`] that fails on a non-zero exit (with the command's stderr in the
    /// error) and returns stdout, for set-up steps that must work.
    pub fn exec_ok(&self, host: impl Into<Host>, args: &[&str]) -> Result<String> {
        let host = host.into();
        let out = self.exec(host, args)?;
        cmd::check(&format!("`{}` in {host}", args.join(" ")), out)
    }

    /// Runs a `sh -c` script inside `host`'s namespace (pipes, redirections...).
    pub fn sh(&self, host: impl Into<Host>, script: &str) -> Result<Output> {
        self.exec(host, &["sh", "-c", script])
    }

    /// [`Lab::sh`] that fails on a non-zero exit and returns stdout.
    pub fn sh_ok(&self, host: impl Into<Host>, script: &str) -> Result<String> {
        self.exec_ok(host, &["sh", "-c", script])
    }

    /// Sends one ping (1 s timeout) from `from` to `addr`: a quick reachability check.
    pub fn ping(&self, from: impl Into<Host>, addr: &str) -> bool {
        let args = ["ping", "-c", "1", "-W", "1", "-n", "-q", addr];
        self.exec_timeout(from, &args, Duration::from_secs(5))
            .is_ok_and(|o| o.status.success())
    }

    /// Takes `host`'s bridge port down or up: the cable-pull failure, which (unlike a
    /// daemon crash) leaves the daemon running but cut off.
    pub fn set_link(&self, host: impl Into<Host>, up: bool) -> Result<()> {
        let host = host.into();
        ensure!(host != Host::Switch, "set_link: pick a node or the client");
        self.try_ns(host)?;
        let state = if up { "up" } else { "down" };
        ipn(&self.switch_ns, &["link", "set", &self.port(host), state]).map(drop)
    }

    /// Isolates `host`'s bridge port (`bridge link set dev PORT isolated on`) or ends
    /// that. Isolated ports cannot reach each other but still reach every other port, so
    /// isolating two nodes splits them while the client keeps talking to both: the
    /// partition that makes two masters. Healing is `false`.
    pub fn set_isolated(&self, host: impl Into<Host>, isolated: bool) -> Result<()> {
        let host = host.into();
        ensure!(
            host != Host::Switch,
            "set_isolated: pick a node or the client"
        );
        self.try_ns(host)?;
        let state = if isolated { "on" } else { "off" };
        let mut c = netns::command(
            &self.switch_ns,
            "bridge",
            SpawnOpts {
                die_with_parent: true,
            },
        )?;
        c.args(["link", "set", "dev", &self.port(host), "isolated", state]);
        cmd::run_ok(c, EXEC_TIMEOUT).map(drop)
    }

    /// Puts a user-space relay on `host`'s link that can lose, delay, jitter or filter
    /// frames in either direction (netem, which these kernels lack; see
    /// [`ImpairedLink`]). It starts as a plain pass-through; change it with
    /// [`ImpairedLink::set`]. Dropping the handle plugs the host back as before.
    pub fn impair_link(&self, host: impl Into<Host>) -> Result<ImpairedLink> {
        let host = host.into();
        ensure!(
            host != Host::Switch,
            "impair_link: pick a node or the client"
        );
        self.try_ns(host)?;
        ImpairedLink::start(host.to_string(), &self.switch_ns, &self.port(host))
    }

    /// Starts `threads` threads in `from`'s namespace that send UDP datagrams of
    /// `payload` bytes to `dst`:`port` back to back, as fast as they can, for at most
    /// `max` (the flood stops by itself then, and when the handle is dropped). Aim it at
    /// a lab address only.
    pub fn start_flood(
        &self,
        from: impl Into<Host>,
        dst: Ipv4Addr,
        port: u16,
        threads: usize,
        payload: usize,
        max: Duration,
    ) -> Result<Flood> {
        let ns = self.try_ns(from.into())?;
        Flood::start(
            ns,
            std::net::SocketAddrV4::new(dst, port),
            threads,
            payload,
            max,
        )
    }

    /// `host`'s `eth0` MAC address, lower case (as `ip` and tcpdump print it).
    pub fn mac(&self, host: impl Into<Host>) -> Result<String> {
        let host = host.into();
        let out = self.exec_ok(host, &["ip", "-o", "link", "show", "dev", "eth0"])?;
        let mut words = out.split_whitespace();
        while let Some(w) = words.next() {
            if w == "link/ether" {
                return words
                    .next()
                    .map(str::to_lowercase)
                    .ok_or_else(|| anyhow!("{host}: no MAC in {out:?}"));
            }
        }
        bail!("{host}: no MAC in {out:?}")
    }

    /// The link-layer address `host`'s neighbour table holds for `addr` (e.g. where the
    /// client sends traffic for the VIP), with the entry's state; `None` if there is no
    /// entry or it has no address (INCOMPLETE, FAILED).
    pub fn neigh(&self, host: impl Into<Host>, addr: &str) -> Result<Option<(String, String)>> {
        let out = self.exec_ok(host, &["ip", "neigh", "show", addr, "dev", "eth0"])?;
        let words: Vec<&str> = out.split_whitespace().collect();
        let Some(i) = words.iter().position(|w| *w == "lladdr") else {
            return Ok(None);
        };
        let mac = words.get(i + 1).map(|m| m.to_lowercase());
        let state = words.last().map(|s| s.to_string()).unwrap_or_default();
        Ok(mac.map(|m| (m, state)))
    }

    /// Starts watching which nodes hold `vip`, from the kernel's address notifications
    /// (see [`VipWatch`]): exact times, nothing missed.
    pub fn watch_vip(&self, vip: &str) -> Result<VipWatch> {
        let vip: IpAddr = vip
            .parse()
            .with_context(|| format!("{vip:?} is not an IP address"))?;
        let nodes: Vec<(usize, String)> = self
            .node_ns
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, ns)| (i + 1, ns))
            .collect();
        VipWatch::start(&nodes, vip)
    }

    /// The daemon binary [`Lab::spawn_daemon`] runs: the builder's choice, else
    /// `$VRRP_DAEMON_BIN`, else `<workspace>/target/debug/vrrp-daemon`.
    pub fn daemon_bin(&self) -> Result<PathBuf> {
        let (path, origin) = if let Some(p) = &self.daemon_bin {
            (p.clone(), "LabBuilder::daemon_bin")
        } else if let Some(p) = std::env::var_os("VRRP_DAEMON_BIN").filter(|p| !p.is_empty()) {
            (PathBuf::from(p), "$VRRP_DAEMON_BIN")
        } else {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
            let ws = manifest.parent().unwrap_or(manifest);
            (ws.join("target/debug/vrrp-daemon"), "default")
        };
        ensure!(
            path.is_file(),
            "daemon binary {} ({origin}) not found: run `cargo build -p vrrp-daemon` or set VRRP_DAEMON_BIN",
            path.display()
        );
        Ok(path)
    }

    /// Where daemons on `node` log (stdout and stderr, all runs appended).
    pub fn log_path(&self, node: usize) -> PathBuf {
        self.dir.join(format!("node{node}.log"))
    }

    /// Everything daemons on `node` logged so far (empty if none ran).
    pub fn log(&self, node: usize) -> String {
        daemon::read_from(&self.log_path(node), 0)
    }

    /// Writes `config_text` to a file in the lab dir and starts `<daemon> run -f FILE
    /// EXTRA_ARGS...` inside `node`'s namespace, output appended to
    /// [`Lab::log_path`]. The process is entered into the namespace directly (no `ip
    /// netns exec` left in between), so [`DaemonHandle::pid`] is the daemon.
    ///
    /// The lab stops the daemon on drop; the handle is for stopping it earlier.
    pub fn spawn_daemon(
        &self,
        node: usize,
        config_text: &str,
        extra_args: &[&str],
    ) -> Result<DaemonHandle> {
        let bin = self.daemon_bin()?;
        let k = self.spawns.fetch_add(1, Ordering::Relaxed);
        let config = self.dir.join(format!("node{node}-{k}.conf"));
        let mut args: Vec<OsString> = vec!["run".into(), "-f".into(), config.clone().into()];
        // Each daemon gets its own status socket in the lab dir: unix sockets in the file
        // system are not per network namespace.
        if !extra_args.contains(&"--control-socket") {
            args.push("--control-socket".into());
            args.push(self.control_socket(node).into());
        }
        args.extend(extra_args.iter().map(OsString::from));
        self.spawn_program(
            node,
            DaemonKind::Vrrpd,
            &bin,
            &args,
            config_text,
            config,
            None,
        )
    }

    /// The status socket of `node`'s vrrp-daemon (`vrrp-daemon status --control-socket`).
    pub fn control_socket(&self, node: usize) -> std::path::PathBuf {
        self.dir.join(format!("node{node}.sock"))
    }

    /// Runs the real keepalived (VRRP subsystem only) in `node`'s namespace, in the
    /// foreground, with `config_text` as its whole configuration:
    ///
    /// `keepalived --dont-fork --log-console --log-detail --no-syslog --vrrp -f CONF
    /// -p PID -r VRRP_PID -c CHECKERS_PID -b BFD_PID EXTRA_ARGS...`
    ///
    /// Everything it writes stays in the lab dir: config and pid files (so it never
    /// collides with a system keepalived or another lab's, whose pid files are what
    /// keepalived checks to refuse a second start), and its `$TMPDIR` (the stats and data
    /// dumps, see [`DaemonHandle::keepalived_stats`]). `/etc/keepalived` is never read.
    /// Its console log is appended to [`Lab::log_path`] like the daemon's.
    ///
    /// keepalived forks a VRRP child even with `--dont-fork`; both run in a process
    /// group of their own, led by the parent ([`DaemonHandle::pid`]), so that
    /// [`DaemonHandle::kill9`], [`DaemonHandle::stop`] and [`DaemonHandle::cont`] hit
    /// both. [`DaemonHandle::term`] signals the parent, which stops its child as it does
    /// in production. On drop the lab SIGTERMs the parent, then SIGKILLs whatever is
    /// left in the namespace, the child included.
    pub fn spawn_keepalived(
        &self,
        node: usize,
        config_text: &str,
        extra_args: &[&str],
    ) -> Result<DaemonHandle> {
        let bin = keepalived_bin()?;
        let k = self.spawns.fetch_add(1, Ordering::Relaxed);
        let base = format!("node{node}-{k}-keepalived");
        let config = self.dir.join(format!("{base}.conf"));
        let tmp = self.dir.join(format!("{base}.tmp"));
        std::fs::create_dir(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let file = |suffix: &str| OsString::from(self.dir.join(format!("{base}{suffix}")));
        let mut args: Vec<OsString> = [
            "--dont-fork",
            "--log-console",
            "--log-detail",
            "--no-syslog",
            "--vrrp",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        for (flag, path) in [
            ("-f", config.clone().into()),
            ("-p", file(".pid")),
            ("-r", file("-vrrp.pid")),
            ("-c", file("-checkers.pid")),
            ("-b", file("-bfd.pid")),
        ] {
            args.push(flag.into());
            args.push(path);
        }
        args.extend(extra_args.iter().map(OsString::from));
        self.spawn_program(
            node,
            DaemonKind::Keepalived,
            &bin,
            &args,
            config_text,
            config,
            Some(tmp),
        )
    }

    /// Writes the config and starts `bin ARGS` in `node`'s namespace (see
    /// [`Lab::spawn_daemon`]); keepalived gets a process group and `$TMPDIR` of its own.
    #[allow(clippy::too_many_arguments)]
    fn spawn_program(
        &self,
        node: usize,
        kind: DaemonKind,
        bin: &Path,
        args: &[OsString],
        config_text: &str,
        config: PathBuf,
        tmp_dir: Option<PathBuf>,
    ) -> Result<DaemonHandle> {
        let ns = self.try_ns(Host::Node(node))?;
        std::fs::write(&config, config_text)
            .with_context(|| format!("writing {}", config.display()))?;
        let log_path = self.log_path(node);
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let mut c = netns::command(
            ns,
            bin,
            SpawnOpts {
                die_with_parent: false,
            },
        )?;
        c.args(args);
        if kind == DaemonKind::Keepalived {
            // Its own group: killing it must not signal the test harness's group.
            c.process_group(0);
        }
        if let Some(tmp) = &tmp_dir {
            c.env("TMPDIR", tmp);
        }
        writeln!(
            log,
            "==== vrrp-tests: node{node}: {} ====",
            cmd::describe(&c)
        )?;
        let offset = log.metadata()?.len();
        c.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
        let child = c
            .spawn()
            .with_context(|| format!("starting {} in node{node}", bin.display()))?;
        let handle = DaemonHandle::new(node, kind, child, log_path, offset, config, tmp_dir);
        self.daemons
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle.clone());
        Ok(handle)
    }

    /// Nodes (1-based, ascending) that currently have `vip` on an interface; panics if
    /// `vip` is not an IP address or `ip` fails (both mean the test or lab is broken).
    ///
    /// Exactly one holder is the steady state of a healthy VRRP group; none or several
    /// is what failover tests look for.
    pub fn vip_holders(&self, vip: &str) -> Vec<usize> {
        self.try_vip_holders(vip)
            .unwrap_or_else(|e| panic!("vip_holders({vip}): {e:#}"))
    }

    /// [`Lab::vip_holders`] returning errors instead of panicking.
    pub fn try_vip_holders(&self, vip: &str) -> Result<Vec<usize>> {
        let vip: IpAddr = vip
            .parse()
            .with_context(|| format!("{vip:?} is not an IP address"))?;
        let mut holders = Vec::new();
        for (i, ns) in self.node_ns.iter().enumerate() {
            if has_addr(&ipn(ns, &["-o", "addr", "show"])?, vip) {
                holders.push(i + 1);
            }
        }
        Ok(holders)
    }

    /// Polls `cond` every `poll` until it holds, for at most `timeout`; returns how long
    /// it took (see [`crate::wait_for`]).
    pub fn wait_for(
        &self,
        timeout: Duration,
        poll: Duration,
        cond: impl FnMut() -> bool,
    ) -> Result<Duration> {
        crate::wait_for(timeout, poll, cond)
    }

    /// Starts probing `vip`:`port` over UDP from the client (1 probe/ms, each node
    /// answering with its name); stops after at most 120 s.
    pub fn start_probe(&self, vip: &str, port: u16) -> Result<Probe> {
        self.start_probe_for(vip, port, PROBE_MAX)
    }

    /// [`Lab::start_probe`] with an explicit cap on how long it runs.
    pub fn start_probe_for(&self, vip: &str, port: u16, max: Duration) -> Result<Probe> {
        let vip: Ipv4Addr = vip
            .parse()
            .with_context(|| format!("{vip:?} is not an IPv4 address"))?;
        let client = self.try_ns(Host::Client)?;
        let nodes: Vec<(usize, String)> = self
            .node_ns
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, ns)| (i + 1, ns))
            .collect();
        Probe::start(&nodes, client, vip, port, max)
    }

    /// Starts `tcpdump -i IFACE --immediate-mode -U -s 0 -w FILE FILTER...` inside
    /// `host`'s namespace (e.g. `Host::Switch`, `"br0"`, `&["vrrp", "or", "arp"]` for all
    /// the lab's adverts and ARP) and waits until it is capturing. The file is
    /// `name.pcap` in the lab dir.
    pub fn start_capture(
        &self,
        host: impl Into<Host>,
        iface: &str,
        filter: &[&str],
        name: &str,
    ) -> Result<Capture> {
        let host = host.into();
        let path = self.dir.join(format!("{name}.pcap"));
        let log_path = self.dir.join(format!("{name}.tcpdump.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut c = netns::command(
            self.try_ns(host)?,
            "tcpdump",
            SpawnOpts {
                die_with_parent: false,
            },
        )?;
        // --immediate-mode: packets reach tcpdump (and the file) as they arrive, not a
        // buffer block later; otherwise the last second of a capture is lost at SIGINT.
        c.args(["-i", iface, "--immediate-mode", "-U", "-s", "0", "-n", "-w"])
            .arg(&path)
            .args(filter)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = c
            .spawn()
            .with_context(|| format!("starting tcpdump in {host}"))?;
        let capture = Capture::new(child, path);
        // tcpdump says "listening on IFACE" once the socket is bound; packets before
        // that would be missed.
        let ready = self.wait_for(Duration::from_secs(5), Duration::from_millis(5), || {
            std::fs::read_to_string(&log_path).is_ok_and(|s| s.contains("listening on"))
        });
        if ready.is_err() {
            let _ = capture.stop();
            bail!(
                "tcpdump in {host} did not start capturing on {iface}: {}",
                std::fs::read_to_string(&log_path)
                    .unwrap_or_default()
                    .trim()
            );
        }
        Ok(capture)
    }

    /// Runs `f` on a new thread that lives inside `host`'s namespace, for traffic the
    /// built-in tools cannot make (custom UDP, raw sockets, forged adverts). Only that
    /// thread moves; sockets it creates stay in the namespace even if handed out.
    pub fn spawn_in<T, F>(
        &self,
        host: impl Into<Host>,
        f: F,
    ) -> Result<std::thread::JoinHandle<Result<T>>>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        let host = host.into();
        netns::spawn_in(self.try_ns(host)?, format!("vrrpt-{host}"), f)
    }

    /// All namespaces of this lab, endpoints first (deleting those removes the veths
    /// before the bridge goes).
    fn all_ns(&self) -> Vec<String> {
        let mut v = self.node_ns.clone();
        v.extend(self.client_ns.clone());
        v.push(self.switch_ns.clone());
        v
    }

    /// Tears everything down; returns the problems instead of panicking so that `Drop`
    /// can report them and carry on.
    fn teardown(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        let daemons = std::mem::take(&mut *self.daemons.lock().unwrap_or_else(|e| e.into_inner()));
        for d in daemons.iter().filter(|d| d.is_running()) {
            let _ = d.signal(libc::SIGTERM);
            // The whole group for keepalived: a frozen VRRP child would hold up its parent.
            let _ = d.cont();
        }
        let deadline = Instant::now() + TERM_GRACE;
        for d in &daemons {
            d.wait_exit(deadline.saturating_duration_since(Instant::now()));
        }
        for d in daemons.iter().filter(|d| d.is_running()) {
            let _ = d.signal(libc::SIGKILL);
            if d.wait_exit(Duration::from_secs(2)).is_none() {
                errors.push(format!(
                    "daemon pid {} on node{} survived SIGKILL",
                    d.pid(),
                    d.node()
                ));
            }
        }
        let all = self.all_ns();
        for ns in all.iter().filter(|ns| netns::exists(ns)) {
            let left = netns::kill_all(ns, Duration::from_secs(2));
            if !left.is_empty() {
                errors.push(format!("{ns}: pids {left:?} survived SIGKILL"));
            }
        }
        if std::thread::panicking() {
            self.dump_logs();
        }
        for ns in &all {
            if let Err(e) = netns::delete(ns) {
                errors.push(format!("{e:#}"));
            }
        }
        if keep_requested() {
            let _ = std::fs::write(self.dir.join(KEEP_MARKER), b"");
            eprintln!("vrrp-tests: kept {} (VRRPT_KEEP)", self.dir.display());
        } else if self.dir.exists()
            && let Err(e) = std::fs::remove_dir_all(&self.dir)
        {
            errors.push(format!("removing {}: {e}", self.dir.display()));
        }
        errors
    }

    /// Prints the tail of every daemon log, so a failing test explains itself even
    /// though the lab dir is about to be removed.
    fn dump_logs(&self) {
        for n in 1..=self.node_ns.len() {
            let log = self.log(n);
            if log.is_empty() {
                continue;
            }
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            eprintln!(
                "---- vrrp-tests: last {} lines of node{n}.log ----",
                tail.len()
            );
            for l in tail {
                eprintln!("{l}");
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.torn_down {
            return;
        }
        self.torn_down = true;
        for e in self.teardown() {
            eprintln!("vrrp-tests: tearing down {}: {e}", self.id);
        }
    }
}

/// The keepalived [`Lab::spawn_keepalived`] runs: `$KEEPALIVED_BIN`, else the first
/// `keepalived` in `$PATH`, `/usr/sbin` or `/usr/local/sbin`.
pub fn keepalived_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("KEEPALIVED_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        ensure!(p.is_file(), "$KEEPALIVED_BIN {} not found", p.display());
        return Ok(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|d| d.join("keepalived"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!(
                "keepalived not found in $PATH, /usr/sbin or /usr/local/sbin: install the Debian \
                 package `keepalived` (`cargo xtask test` does) or set KEEPALIVED_BIN"
            )
        })
}

/// `VRRPT_KEEP=1` keeps lab dirs (configs, logs) for post-mortems.
fn keep_requested() -> bool {
    std::env::var_os("VRRPT_KEEP").is_some_and(|v| !v.is_empty() && v != "0")
}

/// `ip -n NS ARGS`: configures a namespace from outside, without entering it.
fn ipn(ns: &str, args: &[&str]) -> Result<String> {
    let mut full = vec!["-n", ns];
    full.extend_from_slice(args);
    netns::ip(&full)
}

/// Whether `ip -o addr show` output lists `addr` (IPv4 or IPv6).
fn has_addr(ip_o_addr: &str, addr: IpAddr) -> bool {
    ip_o_addr.lines().any(|line| {
        let mut words = line.split_whitespace();
        while let Some(w) = words.next() {
            if (w == "inet" || w == "inet6")
                && let Some(cidr) = words.next()
                && cidr
                    .split('/')
                    .next()
                    .and_then(|a| a.parse::<IpAddr>().ok())
                    == Some(addr)
            {
                return true;
            }
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ip_o_addr() {
        let out = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n\
                   2: eth0    inet 10.0.0.2/24 scope global eth0\\       valid_lft forever\n\
                   2: eth0    inet 10.0.0.100/32 scope global eth0\\       valid_lft forever\n\
                   2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever\n";
        assert!(has_addr(out, "10.0.0.100".parse().unwrap()));
        assert!(has_addr(out, "fe80::1".parse().unwrap()));
        assert!(!has_addr(out, "10.0.0.10".parse().unwrap()));
        assert!(!has_addr(out, "10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn host_names() {
        assert_eq!(Host::from(3).to_string(), "node3");
        assert_eq!(Host::Client.to_string(), "client");
    }
}
