//! `vrrp-daemon`: command line.
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::{CommandFactory as _, Parser, Subcommand, ValueEnum};
use vrrp_daemon::{
    config::{self, Severity, keywords},
    daemon,
};

/// A keepalived-compatible VRRP daemon whose advert observer runs in the kernel (XDP).
#[derive(Parser, Debug)]
#[command(version, about, long_about = None, after_long_help = FILES_AND_SIGNALS)]
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

/// What `--help` and the man page add after the subcommands: where things are and how the
/// running daemon is driven, which an operator needs and no option says.
const FILES_AND_SIGNALS: &str = "\
Files:
  /etc/keepalived/keepalived.conf   the configuration (keepalived's syntax and keywords)
  /run/vrrp-daemon.sock             the control socket `status` queries (root only)
Signals to `run`:
  SIGTERM, SIGINT   resign (priority 0 adverts), release the addresses, detach XDP, exit
  SIGHUP            re-read the configuration; on any error the running one stays
  SIGUSR1, SIGUSR2  keepalived's data and statistics dumps ($TMPDIR or /tmp)
See `vrrp-daemon keywords` for what each keepalived.conf keyword does here.";

/// `run`'s exit status when a capability set-up needs is missing (1 is a configuration
/// error or a failure while running), so a wrapper can tell the two apart.
const EXIT_PRIVILEGE: u8 = 2;

/// `run`'s exit statuses, for `--help`.
const RUN_EXIT_CODES: &str = "\
Exit status:
  0  stopped by SIGTERM or SIGINT (masters resigned, addresses released)
  1  the configuration has errors, or set-up or the event loop failed
  2  a capability set-up needs is missing (the message names it); nothing was changed";

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
    #[command(after_help = RUN_EXIT_CODES)]
    Run {
        /// keepalived.conf to run.
        #[arg(
            short = 'f',
            long = "use-file",
            default_value = "/etc/keepalived/keepalived.conf"
        )]
        config: PathBuf,
        /// The configuration id (keepalived's `-i`): `@ID` lines of the configuration
        /// apply to this host, `@^ID` lines do not. Defaults to the host name up to its
        /// first dot.
        #[arg(short = 'i', long, value_name = "ID")]
        config_id: Option<String>,
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
        /// Log level: error, warn, info (the default), debug or trace (or a tracing
        /// filter such as `vrrp_daemon=debug`). RUST_LOG overrides it.
        #[arg(short = 'l', long, value_name = "LEVEL")]
        log_level: Option<String>,
        /// Detailed logs (keepalived's `-D`): the same as `-l debug`.
        #[arg(short = 'D', long, conflicts_with = "log_level")]
        log_detail: bool,
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
        /// The configuration id (keepalived's `-i`): `@ID` lines of the configuration
        /// apply to this host, `@^ID` lines do not. Defaults to the host name up to its
        /// first dot.
        #[arg(short = 'i', long, value_name = "ID")]
        config_id: Option<String>,
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
    /// Print a completion script for SHELL to stdout, e.g.
    /// `vrrp-daemon completions bash > /usr/share/bash-completion/completions/vrrp-daemon`.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (section 8: the command and each subcommand) into DIR (for
    /// `cargo xtask package` and `install`, which ship them).
    #[command(hide = true)]
    Manpages {
        /// Directory to write `vrrp-daemon.8`, `vrrp-daemon-run.8`, ... into (created if missing).
        dir: PathBuf,
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

fn load(path: &Path, config_id: &str) -> Result<config::Config, ExitCode> {
    match config::load_as(path, config_id) {
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
fn check(path: &Path, config_id: &str, dump: Option<DumpFormat>) -> ExitCode {
    let loaded = match config::load_as(path, config_id) {
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

/// `completions`: clap_complete's script for `shell`, from the same definitions that parse
/// the command line, so the two cannot drift. Hidden subcommands (the guardian, build
/// helpers) are left out: clap_complete would offer them.
fn completions(shell: clap_complete::Shell) -> ExitCode {
    let full = Cli::command();
    let mut cmd = clap::Command::new("vrrp-daemon")
        .version(env!("CARGO_PKG_VERSION"))
        .about(full.get_about().cloned().unwrap_or_default())
        .subcommand_required(true)
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    clap_complete::generate(shell, &mut cmd, "vrrp-daemon", &mut std::io::stdout());
    ExitCode::SUCCESS
}

/// `manpages`: one page for the command and one per visible subcommand, section 8 (a daemon
/// in /usr/sbin), named as git names its pages (`vrrp-daemon-check.8`).
fn manpages(dir: &Path) -> ExitCode {
    let result = (|| -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let mut cmd = Cli::command().disable_help_subcommand(true);
        // Building fills in each subcommand's display name (`vrrp-daemon-check`) and usage.
        cmd.build();
        let mut pages = vec![cmd.clone()];
        pages.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
        pages
            .into_iter()
            .map(|page| {
                let path = dir.join(format!(
                    "{}.8",
                    page.get_display_name().unwrap_or(page.get_name())
                ));
                std::fs::write(&path, manpage(page)?)?;
                Ok(path)
            })
            .collect()
    })();
    match result {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: writing man pages into {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

/// One page in roff. clap_mangen's own "EXTRA" section would refill the text after the
/// options (exit codes, files and signals) into one paragraph, so that text goes into a
/// section named for what it is, kept line by line.
fn manpage(cmd: clap::Command) -> std::io::Result<Vec<u8>> {
    use clap_mangen::roff::{Roff, roman};
    let heading = match cmd.get_name() {
        "check" | "run" => "EXIT STATUS",
        "vrrp-daemon" => "FILES AND SIGNALS",
        _ => "NOTES",
    };
    let after = cmd
        .get_after_long_help()
        .or(cmd.get_after_help())
        .map(ToString::to_string);
    // clap_mangen panics on a version section for a command without one (the subcommands).
    let versioned = cmd.get_version().is_some();
    let man = clap_mangen::Man::new(cmd)
        .section("8")
        .source(format!("vrrp-daemon {}", env!("CARGO_PKG_VERSION")))
        .manual("System Administration");
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    if let Some(text) = after {
        let mut roff = Roff::new();
        roff.control("SH", [heading]).control("nf", []);
        for line in text.lines() {
            roff.text([roman(line)]);
        }
        roff.control("fi", []);
        roff.to_writer(&mut out)?;
    }
    if versioned {
        man.render_version_section(&mut out)?;
    }
    Ok(out)
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
        Command::Check {
            config,
            config_id,
            dump,
        } => check(
            &config,
            &config_id.unwrap_or_else(config::default_config_id),
            dump,
        ),
        Command::Keywords { markdown } => {
            print_keywords(markdown);
            ExitCode::SUCCESS
        }
        Command::BenchConfig { config, runs } => bench_config(&config, runs),
        Command::Completions { shell } => completions(shell),
        Command::Manpages { dir } => manpages(&dir),
        Command::Guardian => vrrp_daemon::guardian::run_guardian(),
        Command::Status {
            control_socket,
            json,
        } => status(&control_socket, json),
        Command::Run {
            config,
            config_id,
            log_level,
            log_detail,
            consume_adverts,
            takeover,
            bpffs,
            control_socket,
            metrics_listen,
        } => {
            vrrp_daemon::logging::init(vrrp_daemon::logging::level_directive(
                log_level.as_deref(),
                log_detail,
            ));
            let path = config;
            let config_id = config_id.unwrap_or_else(config::default_config_id);
            let config = match load(&path, &config_id) {
                Ok(c) => c,
                Err(code) => return code,
            };
            // Before anything on the host is touched: every capability set-up needs.
            if let Err(e) = vrrp_daemon::privilege::check_setup(&config, metrics_listen) {
                tracing::error!("{e:#}");
                return ExitCode::from(EXIT_PRIVILEGE);
            }
            // Before any thread or socket exists, so that all of them live there.
            if let Some(ns) = &config.global.net_namespace {
                if let Err(e) = vrrp_daemon::namespace::enter(ns) {
                    tracing::error!("{e:#}");
                    return ExitCode::FAILURE;
                }
                tracing::info!(net_namespace = %ns, "running in network namespace {ns}");
            }
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
                    config_id,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_names_the_default_control_socket() {
        assert!(
            FILES_AND_SIGNALS.contains(vrrp_daemon::control::server::DEFAULT_SOCKET),
            "update FILES_AND_SIGNALS: the default socket is {}",
            vrrp_daemon::control::server::DEFAULT_SOCKET
        );
    }

    #[test]
    fn the_cli_definitions_are_consistent() {
        Cli::command().debug_assert();
    }
}
