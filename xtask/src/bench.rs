//! `cargo xtask bench-config`: how long loading a large keepalived.conf takes.
//!
//! Builds `vrrp-daemon` with optimisations (without the XDP program, which parsing does not
//! need, into `target/bench` so the normal release binary is left alone), then runs its
//! hidden `bench-config` command on the corpus's 200-instance file: `config::load` (read,
//! include expansion, parse, defaults and checks) run N times, median and 95th percentile
//! printed in milliseconds. A benchmark, not a test: it never fails on a slow machine.
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::workspace;

/// The configuration timed when none is given.
pub const DEFAULT_CONFIG: &str = "vrrp-daemon/tests/configs/200-instances.conf";

/// Builds the daemon and times `config::load` of `config` (relative to the workspace)
/// `runs` times.
pub fn config(config: &str, runs: usize) -> Result<()> {
    let root = workspace();
    let target = root.join("target").join("bench");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--package",
            "vrrp-daemon",
            "--bin",
            "vrrp-daemon",
        ])
        .env("CARGO_TARGET_DIR", &target)
        // Parsing needs no XDP object: skip building it (and the nightly toolchain).
        .env("AYA_BUILD_SKIP", "1")
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building vrrp-daemon for the benchmark failed ({status})");
    }
    let bin = target.join("release").join("vrrp-daemon");
    let path = root.join(config);
    let status = Command::new(&bin)
        .args(["bench-config", "--runs", &runs.to_string(), "-f"])
        .arg(&path)
        .status()
        .with_context(|| format!("running {}", bin.display()))?;
    if !status.success() {
        bail!("vrrp-daemon bench-config failed ({status})");
    }
    Ok(())
}
