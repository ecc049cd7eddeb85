//! Builds the XDP program (`vrrp-ebpf`) for `bpfel-unknown-none` and leaves the object in
//! `OUT_DIR` for `include_bytes_aligned!`.
//!
//! That build needs the nightly toolchain with `rust-src` and `bpf-linker`, which
//! `cargo xtask setup` installs. When they are missing (or `AYA_BUILD_SKIP=1`), an empty
//! object is written instead so that `cargo check`, `clippy` and the unit tests of the pure
//! modules still work; the daemon then refuses to start with a message naming the fix.
use std::{env, fs, path::PathBuf};

use anyhow::{Context as _, anyhow};
use aya_build::{Package, Toolchain};

const OBJECT: &str = "vrrp-xdp";

fn main() -> anyhow::Result<()> {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").context("OUT_DIR not set")?);
    println!("cargo:rerun-if-env-changed=AYA_BUILD_SKIP");
    println!("cargo:rerun-if-env-changed=PATH");
    let skip = env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    let missing = which::which("bpf-linker").is_err();
    if skip || missing {
        let why = if skip {
            "AYA_BUILD_SKIP is set"
        } else {
            "bpf-linker is not installed (run `cargo xtask setup`)"
        };
        println!(
            "cargo:warning=not building the XDP program: {why}; the daemon will refuse to start"
        );
        fs::write(out_dir.join(OBJECT), [])?;
        return Ok(());
    }
    let metadata = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("cargo metadata")?;
    let ebpf = metadata
        .packages
        .iter()
        .find(|p| p.name.as_str() == "vrrp-ebpf")
        .ok_or_else(|| anyhow!("package vrrp-ebpf not found in the workspace"))?;
    let root_dir = ebpf
        .manifest_path
        .parent()
        .ok_or_else(|| anyhow!("vrrp-ebpf has no directory"))?;
    // `--features ebpf-log` on the daemon compiles the program's aya-log lines in.
    let features: &[&str] = if env::var_os("CARGO_FEATURE_EBPF_LOG").is_some() {
        &["log"]
    } else {
        &[]
    };
    aya_build::build_ebpf(
        [Package {
            name: "vrrp-ebpf",
            root_dir: root_dir.as_str(),
            features,
            ..Default::default()
        }],
        Toolchain::Nightly,
    )
    .context(
        "building the XDP program with nightly + bpf-linker; `cargo xtask setup` installs them",
    )
}
