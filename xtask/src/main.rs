//! `cargo xtask`: everything a new user or CI needs, from a fresh machine.
//!
//! Every command first runs [`setup`], which checks and installs only what is missing
//! (nightly's rust-src, bpf-linker built on nightly's own LLVM, the Debian packages the
//! tests use), so that `cargo xtask run` and `cargo xtask test` are the only commands a user
//! needs. A second run installs nothing.
mod bench;
mod demo;
mod fuzz;
mod package;
mod setup;
mod vm;

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Build, run and test vrrp-daemon", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check the toolchain and install what is missing (nightly rust-src, bpf-linker).
    Setup,
    /// Build the XDP program and the daemon (after `setup`).
    Build {
        /// Build with optimisations.
        #[arg(long)]
        release: bool,
    },
    /// With no arguments: the demo, three nodes and a client in namespaces (interactive at
    /// a terminal, a scripted tour otherwise). With `-- ARGS`: run `vrrp-daemon run ARGS`
    /// on this host, e.g. `cargo xtask run -- -f keepalived.conf`.
    Run {
        /// Arguments for `vrrp-daemon run`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// The demo alone, with an already built daemon (no set-up, no build): what `run`
    /// does after building. For the demo's own test, which runs it end to end.
    #[command(hide = true)]
    Demo {
        /// The daemon binary.
        #[arg(long)]
        daemon: PathBuf,
    },
    /// Run every test: unit tests, the XDP program in the kernel, and the namespace labs.
    Test {
        /// Extra arguments for the test harness (a name filter, `--nocapture`, ...).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Benchmark against keepalived in namespace labs (root): failover gaps, takeover
    /// precision, frozen daemons, defective adverts, CPU and memory, XDP cost, config
    /// parse. Prints one table and writes it to target/bench/report.md. Not a test.
    Bench {
        /// Fewer repetitions and shorter windows (about 4 minutes instead of 10).
        #[arg(long)]
        quick: bool,
        /// Run only these groups (comma-separated): failover, precision, freeze,
        /// defective, cpu, xdp, config.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Time loading a keepalived.conf (the 200-instance corpus file by default): median and
    /// 95th percentile of `config::load`, in milliseconds. Needs neither root nor nightly.
    BenchConfig {
        /// The configuration, relative to the workspace.
        #[arg(short = 'f', long = "use-file", default_value = bench::DEFAULT_CONFIG)]
        config: String,
        /// How many times to load it.
        #[arg(long, default_value_t = 200)]
        runs: usize,
    },
    /// Boot Linux 5.10 and 6.1 (Debian's cloud kernels) in qemu and run the XDP checks, the
    /// fixture table and a failover inside each; one line per kernel and check.
    VmTest {
        /// Which kernel to boot.
        #[arg(long, value_enum, default_value = "all")]
        kernel: vm::KernelChoice,
        /// Seconds each boot may take before the guest is killed.
        #[arg(long, default_value_t = 900)]
        timeout: u64,
    },
    /// Build a Debian package with cargo-deb (installed if missing): the release binary in
    /// /usr/sbin, the systemd unit, a sample keepalived.conf under /usr/share/doc, man pages
    /// and bash/zsh/fish completions. Prints the .deb's path.
    Package {
        /// Package the debug build instead (quicker; for tests, not for hosts).
        #[arg(long)]
        debug: bool,
        /// Directory to write the .deb into (default target/debian).
        #[arg(long, value_name = "DIR")]
        output: Option<PathBuf>,
    },
    /// Install the release binary, the systemd unit, a sample keepalived.conf, man pages and
    /// completions under DIR/usr/local (never touching an existing keepalived.conf), then
    /// `systemctl daemon-reload` when DIR is / and systemd runs.
    Install {
        /// The root to install into.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
        /// Install the debug build instead (quicker; for tests).
        #[arg(long)]
        debug: bool,
    },
    /// Fuzz the advert decoder and the XDP checks' userspace mirror (cargo-fuzz, fuzz/) for
    /// a bounded time each. Needs nightly; installs cargo-fuzz if missing. Not in CI.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Which target to run.
        #[arg(long, value_enum, default_value = "all")]
        target: fuzz::Target,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<demo::Interrupted>() => {
            eprintln!("xtask: {e}");
            // What a shell reports for a command ended by SIGINT.
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Cmd::Setup => setup::toolchain(),
        Cmd::Build { release } => {
            setup::toolchain()?;
            build(release).map(|_| ())
        }
        Cmd::Run { args } => {
            setup::toolchain()?;
            setup::require_root("run the daemon (XDP, raw sockets, netlink)")?;
            let daemon = build(false)?;
            if args.is_empty() {
                setup::test_packages()?;
                demo::run(&daemon)
            } else {
                let status = Command::new(&daemon).arg("run").args(&args).status()?;
                if status.success() {
                    Ok(())
                } else {
                    bail!("vrrp-daemon exited with {status}")
                }
            }
        }
        Cmd::Demo { daemon } => {
            setup::require_root("run the demo (XDP, raw sockets, namespaces)")?;
            demo::run(&daemon)
        }
        Cmd::Package { debug, output } => {
            setup::toolchain()?;
            setup::cargo_deb()?;
            let daemon = build(!debug)?;
            let deb = package::package(&daemon, !debug, output.as_deref())?;
            println!("{}", deb.display());
            Ok(())
        }
        Cmd::Install { root, debug } => {
            setup::toolchain()?;
            let daemon = build(!debug)?;
            package::install(&daemon, &root)
        }
        Cmd::BenchConfig { config, runs } => bench::config(&config, runs),
        Cmd::Fuzz { seconds, target } => fuzz::run(target, seconds),
        Cmd::VmTest { kernel, timeout } => {
            setup::toolchain()?;
            vm::run(kernel, std::time::Duration::from_secs(timeout))
        }
        Cmd::Bench { quick, only } => {
            setup::toolchain()?;
            setup::require_root("run the benchmark labs (XDP, raw sockets, namespaces)")?;
            setup::test_packages()?;
            let daemon = build(true)?;
            bench::run(&daemon, quick, only)
        }
        Cmd::Test { args } => {
            setup::toolchain()?;
            setup::require_root("run the XDP and namespace tests")?;
            setup::test_packages()?;
            // The package test (xtask/tests/package.rs) runs `cargo xtask package`.
            setup::cargo_deb()?;
            let daemon = build(false)?;
            cargo(
                &["test", "--workspace", "--no-fail-fast"],
                &args,
                &[("VRRP_DAEMON_BIN", &daemon)],
            )
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

/// Build the daemon (with its XDP object) and return the binary's path.
fn build(release: bool) -> Result<PathBuf> {
    let mut args = vec!["build", "--package", "vrrp-daemon"];
    if release {
        args.push("--release");
    }
    cargo(&args, &[], &[])?;
    let bin = workspace()
        .join("target")
        .join(if release { "release" } else { "debug" })
        .join("vrrp-daemon");
    if !bin.exists() {
        bail!("{} was not produced", bin.display());
    }
    Ok(bin)
}

fn cargo(args: &[&str], extra: &[String], env: &[(&str, &Path)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace()).args(args);
    if !extra.is_empty() {
        cmd.arg("--").args(extra);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd
        .status()
        .with_context(|| format!("running cargo {args:?}"))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
