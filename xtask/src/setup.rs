//! Toolchain and system checks: install what is missing, say exactly what to do when it
//! cannot be installed. Recipe: `shared/TOOLCHAIN.md`.
use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context as _, Result, bail};

const BPF_LINKER_VERSION: &str = "0.13.0";
/// cargo-deb, which `cargo xtask package` drives; pinned so the package layout does not
/// change under us (3.x puts units in /usr/lib/systemd/system).
const CARGO_DEB_VERSION: &str = "3.8.0";

/// Output of a command, if it ran and succeeded.
fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Run `cmd` (an installation step), saying `what` first; fail with the command if it does.
pub(crate) fn run(cmd: &mut Command, what: &str) -> Result<()> {
    eprintln!("xtask: {what}");
    let status = cmd
        .status()
        .with_context(|| format!("{what}: could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{what} failed ({status}); command: {cmd:?}");
    }
    Ok(())
}

/// Make sure nightly (with rust-src) and a matching bpf-linker are installed.
pub fn toolchain() -> Result<()> {
    if output(Command::new("rustup").arg("--version")).is_none() {
        bail!(
            "rustup is required to build the XDP program (nightly + rust-src); install it from https://rustup.rs"
        );
    }
    let toolchains = output(Command::new("rustup").args(["toolchain", "list"])).unwrap_or_default();
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        run(
            Command::new("rustup").args([
                "toolchain",
                "install",
                "nightly",
                "--profile",
                "minimal",
            ]),
            "installing the nightly toolchain (builds the eBPF program)",
        )?;
    }
    let components = output(Command::new("rustup").args([
        "component",
        "list",
        "--installed",
        "--toolchain",
        "nightly",
    ]))
    .unwrap_or_default();
    if !components.lines().any(|l| l.starts_with("rust-src")) {
        run(
            Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]),
            "adding rust-src to nightly (needed by -Z build-std=core)",
        )?;
    }
    let verbose = output(Command::new("rustc").args(["+nightly", "-vV"]))
        .context("`rustc +nightly -vV` failed: is the nightly toolchain broken? try `rustup toolchain install nightly`")?;
    let llvm = verbose
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .context("rustc +nightly does not report its LLVM version")?
        .trim()
        .to_string();
    let llvm_major = llvm.split('.').next().unwrap_or_default().to_string();
    let sysroot = PathBuf::from(
        output(Command::new("rustc").args(["+nightly", "--print", "sysroot"]))
            .context("rustc +nightly --print sysroot")?
            .trim(),
    );
    ensure_bpf_linker(&sysroot, &verbose, &llvm_major)
}

/// bpf-linker must be linked against the same LLVM as nightly's rustc. It is built against
/// the libLLVM that nightly ships (Debian 12 has no LLVM 22 package); a stamp file records
/// which nightly it was built for, so a nightly update triggers a rebuild and nothing else does.
fn ensure_bpf_linker(sysroot: &Path, rustc_version: &str, llvm_major: &str) -> Result<()> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/root".into());
    let prefix = home.join(".cache/vrrp-xdp/llvm");
    let stamp = home.join(".cache/vrrp-xdp/bpf-linker.stamp");
    let wanted = format!("bpf-linker {BPF_LINKER_VERSION}\n{rustc_version}");
    let lib = prefix.join("lib");
    link_llvm(sysroot, &lib)?;
    let works = output(Command::new("bpf-linker").arg("--version")).is_some();
    if works && fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    run(
        Command::new("cargo")
            .args([
                "+nightly",
                "install",
                "bpf-linker",
                "--locked",
                "--force",
                "--version",
                BPF_LINKER_VERSION,
                "--no-default-features",
                "--features",
                &format!("llvm-{llvm_major}"),
            ])
            .env("LLVM_PREFIX", &prefix),
        &format!("building bpf-linker {BPF_LINKER_VERSION} against nightly's LLVM {llvm_major} (about a minute)"),
    )
    .with_context(|| {
        format!(
            "bpf-linker {BPF_LINKER_VERSION} could not be built for LLVM {llvm_major}; if this \
             nightly's LLVM is newer than bpf-linker supports, install the nightly named in \
             TOOLCHAIN.md (rustup toolchain install nightly-2026-05-19)"
        )
    })?;
    if output(Command::new("bpf-linker").arg("--version")).is_none() {
        bail!("bpf-linker was installed but does not run; is ~/.cargo/bin on PATH?");
    }
    fs::write(&stamp, wanted)?;
    Ok(())
}

/// Expose nightly's libLLVM under the names bpf-linker's build (`libLLVM.so`) and its
/// run-time loader (the versioned soname, via RUNPATH) look for.
fn link_llvm(sysroot: &Path, lib: &Path) -> Result<()> {
    fs::create_dir_all(lib)?;
    let sysroot_lib = sysroot.join("lib");
    let mut found = false;
    for entry in fs::read_dir(&sysroot_lib)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.starts_with("libLLVM") && name.contains(".so") {
            found = true;
            for link in [lib.join(&name), lib.join("libLLVM.so")] {
                if fs::read_link(&link).ok().as_deref() != Some(path.as_path()) {
                    let _ = fs::remove_file(&link);
                    std::os::unix::fs::symlink(&path, &link)?;
                }
            }
        }
    }
    if !found {
        bail!(
            "nightly at {} ships no libLLVM; bpf-linker needs it (reinstall nightly with rustup)",
            sysroot.display()
        );
    }
    Ok(())
}

/// Install cargo-deb at the pinned version unless `cargo deb --version` already reports it.
pub fn cargo_deb() -> Result<()> {
    let version = output(Command::new("cargo").args(["deb", "--version"])).unwrap_or_default();
    if version.split_whitespace().nth(1) == Some(CARGO_DEB_VERSION) {
        return Ok(());
    }
    run(
        Command::new("cargo").args([
            "install",
            "cargo-deb",
            "--locked",
            "--force",
            "--version",
            CARGO_DEB_VERSION,
        ]),
        &format!("installing cargo-deb {CARGO_DEB_VERSION} (builds the .deb; about two minutes)"),
    )?;
    if output(Command::new("cargo").args(["deb", "--version"])).is_none() {
        bail!("cargo-deb was installed but `cargo deb` does not run; is ~/.cargo/bin on PATH?");
    }
    Ok(())
}

/// Stop with a clear message unless running as root.
pub fn require_root(why: &str) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("root is needed to {why}; run `sudo -E cargo xtask ...`");
    }
    if !Path::new("/sys/fs/bpf").exists()
        && !Path::new("/proc/sys/kernel/unprivileged_bpf_disabled").exists()
    {
        bail!(
            "this kernel shows no BPF support (no /sys/fs/bpf); Linux 5.10+ with CONFIG_BPF_SYSCALL is required"
        );
    }
    Ok(())
}

/// Debian packages the labs use; installed with apt-get when missing. keepalived is the
/// peer of the interop tests; tcpdump and tshark capture and check their adverts.
const PACKAGES: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("ping", "iputils-ping"),
    ("keepalived", "keepalived"),
    ("tcpdump", "tcpdump"),
    ("tshark", "tshark"),
];

/// Install the packages the namespace labs need, if missing.
pub fn test_packages() -> Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(bin, _)| {
            output(Command::new("sh").args(["-c", &format!("command -v {bin}")])).is_none()
        })
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if output(Command::new("sh").args(["-c", "command -v apt-get"])).is_none() {
        bail!("missing packages {missing:?} and no apt-get to install them; install them by hand");
    }
    run(
        Command::new("apt-get").arg("update").arg("-q"),
        "apt-get update",
    )?;
    run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        &format!("installing {}", missing.join(" ")),
    )
}
