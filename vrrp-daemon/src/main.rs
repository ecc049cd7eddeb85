//! `vrrp-daemon`: command line.
use std::{
    io::IsTerminal as _,
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;
use vrrp_daemon::{
    config::{self, Severity, keywords},
    daemon,
};

/// A keepalived-compatible VRRP daemon whose advert observer runs in the kernel (XDP).
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `check`'s exit status: keepalived 2.2.7's for `keepalived -t` (`lib/scheduler.h`,
/// `enum chk_exit_code`; `core/main.c`, `config_test_exit()`).
const CHECK_EXIT_CODES: &str = "\
Exit status, as `keepalived -t` (keepalived 2.2.7, lib/scheduler.h `enum chk_exit_code`):
  0  valid; notes about keywords accepted but not acted on may be printed
  4  errors: the daemon refuses to run this file, or it cannot be read
     (KEEPALIVED_CHK_EXIT_CONFIG)
  5  it loads, with warnings keepalived also reports: unknown or repeated keywords,
     values rounded or cleared (KEEPALIVED_CHK_EXIT_CONFIG_TEST)
  6  it loads, but runs scripts without `enable_script_security` in global_defs
     (KEEPALIVED_CHK_EXIT_CONFIG_TEST_SECURITY)
Messages go to stderr as `file:line:column: message`; `--dump json` writes the
configuration, defaults applied, to stdout (unless there are errors).";

/// The exit codes of [`CHECK_EXIT_CODES`].
mod check_exit {
    pub const OK: u8 = 0;
    pub const CONFIG: u8 = 4;
    pub const CONFIG_TEST: u8 = 5;
    pub const CONFIG_TEST_SECURITY: u8 = 6;
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The crash guardian (started by `run`; not for direct use).
    #[command(hide = true)]
    Guardian,
    /// Show the running daemon's instances: state, priorities, master, VIPs, tracked
    /// objects, counters.
    Status {
        /// The daemon's control socket.
        #[arg(long, default_value = vrrp_daemon::control::server::DEFAULT_SOCKET)]
        control_socket: PathBuf,
        /// Print JSON (field names close to keepalived's JSON dump) instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Run the VRRP instances of a keepalived.conf in the foreground, logging to stderr.
    Run {
        /// keepalived.conf to run.
        #[arg(
            short = 'f',
            long = "use-file",
            default_value = "/etc/keepalived/keepalived.conf"
        )]
        config: PathBuf,
        /// Unix socket `vrrp-daemon status` talks to (mode 0600, root only).
        #[arg(long, default_value = vrrp_daemon::control::server::DEFAULT_SOCKET)]
        control_socket: PathBuf,
        /// Serve Prometheus metrics on ADDR:PORT (`/metrics`); off by default.
        #[arg(long, value_name = "ADDR:PORT")]
        metrics_listen: Option<std::net::SocketAddr>,
        /// Drop valid VRRP adverts in XDP once recorded, instead of passing them to the
        /// stack (saves work on busy hosts; `tcpdump` no longer shows them).
        #[arg(long)]
        consume_adverts: bool,
        /// Restart without failover: ask the daemon running on the control socket to hand
        /// over (it exits without resigning, leaving the addresses and its XDP link pinned
        /// under /sys/fs/bpf), then carry on its instances in their current state. Without
        /// a running daemon, starts normally. (`systemctl restart` does the same through
        /// the unit's `RestartKillSignal=SIGRTMIN+1`.)
        #[arg(long)]
        takeover: bool,
        /// The bpffs a handover pins the XDP links on (mounted there if nothing is). The
        /// old and the new daemon must see the same one: under `ip netns exec`, which
        /// mounts a fresh /sys, point this at a bpffs mounted outside.
        #[arg(long, value_name = "DIR", default_value = vrrp_daemon::handoff::DEFAULT_BPFFS)]
        bpffs: PathBuf,
        /// Log level: error, warn, info, debug or trace (or a tracing filter such as
        /// `vrrp_daemon=debug`). RUST_LOG overrides it.
        #[arg(short = 'l', long, default_value = "info")]
        log_level: String,
    },
    /// Check a keepalived.conf and exit with keepalived's `-t` codes (0 when valid).
    #[command(after_help = CHECK_EXIT_CODES)]
    Check {
        /// keepalived.conf to check.
        #[arg(
            short = 'f',
            long = "use-file",
            default_value = "/etc/keepalived/keepalived.conf"
        )]
        config: PathBuf,
        /// Also print the configuration as loaded (defaults applied) to stdout.
        #[arg(long, value_name = "FORMAT")]
        dump: Option<DumpFormat>,
    },
    /// Print what this daemon does with each keepalived.conf keyword (acted on, accepted
    /// but not acted on, rejected, skipped).
    Keywords {
        /// As the Markdown tables of README.md.
        #[arg(long)]
        markdown: bool,
    },
    /// Time the loading of a configuration (for `cargo xtask bench-config`).
    #[command(hide = true)]
    BenchConfig {
        /// keepalived.conf to load.
        #[arg(short = 'f', long = "use-file")]
        config: PathBuf,
        /// How many times to load it.
        #[arg(long, default_value_t = 100)]
        runs: usize,
    },
}

/// What `check --dump` writes.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum DumpFormat {
    /// The typed model as pretty JSON.
    Json,
}

/// `error:`, `warning:` or `note:`.
fn label(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn load(path: &Path) -> Result<config::Config, ExitCode> {
    match config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{}: {w}", label(w.severity));
            }
            Ok(loaded.config)
        }
        Err(errors) => {
            eprint!("{errors}");
            eprintln!(
                "{}: configuration not loaded; nothing was changed",
                path.display()
            );
            Err(ExitCode::from(1))
        }
    }
}

/// `check`: every message, then keepalived's `-t` exit code.
fn check(path: &Path, dump: Option<DumpFormat>) -> ExitCode {
    let loaded = match config::load(path) {
        Ok(loaded) => loaded,
        Err(e) => {
            for d in e.errors.iter().chain(&e.warnings) {
                eprintln!("{}: {d}", label(d.severity));
            }
            eprintln!(
                "{}: {} error(s), {} warning(s): the configuration cannot be run",
                path.display(),
                e.errors.len(),
                e.warnings
                    .iter()
                    .filter(|w| w.severity == Severity::Warning)
                    .count()
            );
            return ExitCode::from(check_exit::CONFIG);
        }
    };
    for w in &loaded.warnings {
        eprintln!("{}: {w}", label(w.severity));
    }
    let warnings = loaded
        .warnings
        .iter()
        .filter(|w| w.severity == Severity::Warning)
        .count();
    let insecure = loaded.config.runs_scripts() && !loaded.config.global.enable_script_security;
    if insecure {
        eprintln!(
            "warning: {}: scripts are configured but global_defs has no \
             `enable_script_security` (keepalived -t reports a SECURITY VIOLATION); add it, \
             with a `script_user` that is not root",
            path.display()
        );
    }
    if let Some(DumpFormat::Json) = dump {
        match serde_json::to_string_pretty(&loaded.config) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: writing the configuration as JSON: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let code = if warnings > 0 {
        check_exit::CONFIG_TEST
    } else if insecure {
        check_exit::CONFIG_TEST_SECURITY
    } else {
        check_exit::OK
    };
    eprintln!(
        "{}: configuration valid: {} instance(s), {} warning(s)",
        path.display(),
        loaded.config.instances.len(),
        warnings + usize::from(insecure)
    );
    ExitCode::from(code)
}

/// `keywords`: the support table.
fn print_keywords(markdown: bool) {
    if markdown {
        print!("{}", keywords::markdown());
        return;
    }
    for k in keywords::KEYWORDS {
        let block = k.block.title().replace('`', "");
        let note = if k.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", k.note)
        };
        println!("{block}: {}: {}{note}", k.name, k.status.text());
    }
}

/// `bench-config`: loads `path` `runs` times and prints the median and 95th percentile.
fn bench_config(path: &Path, runs: usize) -> ExitCode {
    let runs = runs.max(1);
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut instances = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let loaded = config::load(path);
        times.push(start.elapsed());
        match loaded {
            Ok(l) => instances = l.config.instances.len(),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(check_exit::CONFIG);
            }
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "config::load {} ({instances} instances), {runs} runs: median {:.3} ms, p95 {:.3} ms, \
         min {:.3} ms, max {:.3} ms",
        path.display(),
        ms(at(0.5)),
        ms(at(0.95)),
        ms(times[0]),
        ms(times[times.len() - 1]),
    );
    ExitCode::SUCCESS
}

fn status(socket: &std::path::Path, json: bool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(vrrp_daemon::control::server::query(socket)) {
        Ok(snapshot) if json => match serde_json::to_string_pretty(&snapshot) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(snapshot) => {
            print!("{}", vrrp_daemon::control::server::render(&snapshot));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config, dump } => check(&config, dump),
        Command::Keywords { markdown } => {
            print_keywords(markdown);
            ExitCode::SUCCESS
        }
        Command::BenchConfig { config, runs } => bench_config(&config, runs),
        Command::Guardian => vrrp_daemon::guardian::run_guardian(),
        Command::Status {
            control_socket,
            json,
        } => status(&control_socket, json),
        Command::Run {
            config,
            log_level,
            consume_adverts,
            takeover,
            bpffs,
            control_socket,
            metrics_listen,
        } => {
            let filter = EnvFilter::try_from_default_env()
                .or_else(|_| EnvFilter::try_new(&log_level))
                .unwrap_or_else(|_| EnvFilter::new("info"));
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                // Colour only for a person at a terminal; journald and log files get plain text.
                .with_ansi(std::io::stderr().is_terminal())
                .init();
            let path = config;
            let config = match load(&path) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: starting the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(daemon::run(
                path,
                config,
                daemon::Options {
                    consume_adverts,
                    control_socket,
                    metrics_listen,
                    takeover,
                    bpffs,
                },
            )) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
