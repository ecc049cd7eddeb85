//! `vrrp-daemon`: command line.
use std::{io::IsTerminal as _, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use vrrp_daemon::{config, daemon};

/// A keepalived-compatible VRRP daemon whose advert observer runs in the kernel (XDP).
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the VRRP instances of a keepalived.conf in the foreground, logging to stderr.
    Run {
        /// keepalived.conf to run.
        #[arg(
            short = 'f',
            long = "use-file",
            default_value = "/etc/keepalived/keepalived.conf"
        )]
        config: PathBuf,
        /// Log level: error, warn, info, debug or trace (or a tracing filter such as
        /// `vrrp_daemon=debug`). RUST_LOG overrides it.
        #[arg(short = 'l', long, default_value = "info")]
        log_level: String,
    },
    /// Check a keepalived.conf and exit: 0 when valid, 1 on errors (warnings are printed).
    Check {
        /// keepalived.conf to check.
        #[arg(
            short = 'f',
            long = "use-file",
            default_value = "/etc/keepalived/keepalived.conf"
        )]
        config: PathBuf,
    },
}

fn load(path: &std::path::Path) -> Result<config::Config, ExitCode> {
    match config::load(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => match load(&config) {
            Ok(_) => ExitCode::SUCCESS,
            Err(code) => code,
        },
        Command::Run { config, log_level } => {
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
            match runtime.block_on(daemon::run(path, config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
