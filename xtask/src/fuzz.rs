//! `cargo xtask fuzz`: run the cargo-fuzz targets of `fuzz/` for a bounded time each.
//!
//! Not part of `cargo xtask test` or CI. Needs the nightly toolchain; installs cargo-fuzz
//! when `cargo +nightly fuzz` is missing, and nothing else. The targets are built with
//! `AYA_BUILD_SKIP=1` (they need no XDP object) into `target/fuzz`, so the daemon's normal
//! build in `target/debug` is left alone. An empty corpus is seeded with valid adverts in
//! the layout each target reads (see `fuzz/fuzz_targets/*.rs`).
use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
};

use anyhow::{Context as _, Result, bail};
use clap::ValueEnum;

/// Which fuzz target(s) to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// `packet::decode`: arbitrary bytes and addresses.
    Decode,
    /// `packet::classify::classify`: arbitrary Ethernet frames.
    Classify,
    /// Both, one after the other.
    All,
}

impl Target {
    fn names(self) -> &'static [&'static str] {
        match self {
            Target::Decode => &["decode"],
            Target::Classify => &["classify"],
            Target::All => &["decode", "classify"],
        }
    }
}

/// Fuzz each selected target for `seconds`.
pub fn run(target: Target, seconds: u64) -> Result<()> {
    if seconds == 0 {
        // libFuzzer reads -max_total_time=0 as "no limit".
        bail!("--seconds must be at least 1");
    }
    ensure_cargo_fuzz()?;
    let workspace = crate::workspace();
    let fuzz_dir = workspace.join("fuzz");
    let target_dir = workspace.join("target").join("fuzz");
    let mut failed = Vec::new();
    for &name in target.names() {
        seed(&fuzz_dir.join("corpus").join(name), name)?;
        eprintln!("xtask: fuzzing {name} for {seconds} s");
        let status = Command::new("cargo")
            .current_dir(&fuzz_dir)
            .args(["+nightly", "fuzz", "run", "--debug-assertions", name, "--"])
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1")
            .env("AYA_BUILD_SKIP", "1")
            .env("CARGO_TARGET_DIR", &target_dir)
            .status()
            .context("could not start `cargo +nightly fuzz`")?;
        if !status.success() {
            failed.push(name);
        }
    }
    if !failed.is_empty() {
        bail!(
            "fuzz target(s) {} failed: either the build broke (see above) or a crash was found; \
             its input is in fuzz/artifacts/TARGET/, and `cargo +nightly fuzz run TARGET FILE` \
             from fuzz/ (with AYA_BUILD_SKIP=1) replays it",
            failed.join(", ")
        );
    }
    Ok(())
}

/// Whether a command runs and succeeds (its output is discarded).
fn works(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Nightly (cargo-fuzz's sanitizer flags need it) and cargo-fuzz, installed if missing.
fn ensure_cargo_fuzz() -> Result<()> {
    if !works(Command::new("cargo").args(["+nightly", "--version"])) {
        if !works(Command::new("rustup").arg("--version")) {
            bail!(
                "fuzzing needs the nightly toolchain through rustup (`cargo +nightly`); \
                 install rustup from https://rustup.rs"
            );
        }
        crate::setup::run(
            Command::new("rustup").args([
                "toolchain",
                "install",
                "nightly",
                "--profile",
                "minimal",
            ]),
            "installing the nightly toolchain (cargo-fuzz needs it)",
        )?;
    }
    if works(Command::new("cargo").args(["+nightly", "fuzz", "--version"])) {
        return Ok(());
    }
    crate::setup::run(
        Command::new("cargo").args(["+nightly", "install", "cargo-fuzz", "--locked"]),
        "installing cargo-fuzz (a minute or two)",
    )?;
    if !works(Command::new("cargo").args(["+nightly", "fuzz", "--version"])) {
        bail!(
            "cargo-fuzz was installed but `cargo +nightly fuzz` does not run; is ~/.cargo/bin on PATH?"
        );
    }
    Ok(())
}

/// Write the seeds of `target` into `dir` unless it already holds inputs.
fn seed(dir: &Path, target: &str) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if fs::read_dir(dir)?.next().is_some() {
        return Ok(());
    }
    let seeds = if target == "decode" {
        seeds::decode()
    } else {
        seeds::classify()
    };
    for (name, bytes) in seeds {
        let path = dir.join(name);
        fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!("xtask: seeded {}", dir.display());
    Ok(())
}

/// Valid adverts, with checksums computed here (RFC 1071) rather than written by hand.
mod seeds {
    const V4_SRC: [u8; 4] = [192, 168, 1, 1];
    const V4_PEER: [u8; 4] = [192, 168, 1, 2];
    const V4_PEER3: [u8; 4] = [192, 168, 1, 3];
    const V4_MCAST: [u8; 4] = [224, 0, 0, 18];
    const V4_VIP: [u8; 4] = [192, 168, 1, 100];
    const V6_SRC: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const V6_PEER: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const V6_MCAST: [u8; 16] = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];
    const V6_VIP: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
    const PASS_1234: [u8; 8] = *b"1234\0\0\0\0";

    /// The seed's master advert: v2, VRID 51, priority 100, 1 s, PASS "1234".
    fn v2_seed() -> Vec<u8> {
        message(2, 51, [1, 1], &[&V4_VIP], &PASS_1234, 0)
    }

    /// v3, priority 100, 1 s, over IPv4 with the checksum over `pseudo` (0: message only).
    fn v3_v4(vrid: u8, pseudo: u32) -> Vec<u8> {
        message(3, vrid, [0, 100], &[&V4_VIP], &[], pseudo)
    }

    /// v3, priority 100, 1 s, over IPv6, with `n` virtual addresses.
    fn v3_v6(vrid: u8, src: [u8; 16], dst: [u8; 16], n: usize) -> Vec<u8> {
        let addrs = vec![&V6_VIP[..]; n];
        message(
            3,
            vrid,
            [0, 100],
            &addrs,
            &[],
            pseudo(&src, &dst, 8 + 16 * n),
        )
    }

    /// Inputs of the `decode` target: a selector byte (0 = IPv4 192.168.1.1 → 224.0.0.18,
    /// 1 = IPv4 from the next 8 bytes, 2 = IPv6 fe80::1 → ff02::12, 3 = IPv6 from the next
    /// 32 bytes), the addresses if chosen, then the message.
    pub fn decode() -> Vec<(&'static str, Vec<u8>)> {
        let with = |parts: &[&[u8]]| parts.concat();
        let v4_pseudo = pseudo(&V4_SRC, &V4_MCAST, 12);
        // Unicast from the peer, summed as if sent to 224.0.0.18 (keepalived <= 1.3.6).
        let old_unicast = v3_v4(52, pseudo(&V4_PEER, &V4_MCAST, 12));
        vec![
            ("seed-v2-ipv4", with(&[&[0], &v2_seed()])),
            ("seed-v3-ipv4", with(&[&[0], &v3_v4(51, v4_pseudo)])),
            ("seed-v3-ipv4-message-only", with(&[&[0], &v3_v4(51, 0)])),
            (
                "seed-v3-ipv4-old-unicast",
                with(&[&[1], &V4_PEER, &V4_SRC, &old_unicast]),
            ),
            (
                "seed-v3-ipv6",
                with(&[&[2], &v3_v6(51, V6_SRC, V6_MCAST, 1)]),
            ),
            (
                "seed-v3-ipv6-unicast",
                with(&[&[3], &V6_PEER, &V6_SRC, &v3_v6(54, V6_PEER, V6_SRC, 2)]),
            ),
        ]
    }

    /// Frames the `classify` target's instances accept (ifindex 2).
    pub fn classify() -> Vec<(&'static str, Vec<u8>)> {
        let mcast4 = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
        let mcast6 = [0x33, 0x33, 0x00, 0x00, 0x00, 0x12];
        let host = [0x52, 0x54, 0x00, 0x00, 0x00, 0x01];
        let unicast = v3_v4(52, pseudo(&V4_PEER, &V4_SRC, 12));
        let v2_unicast = message(2, 53, [0, 3], &[&V4_VIP], &[0; 8], 0);
        let multicast6 = ipv6(V6_SRC, V6_MCAST, 255, &v3_v6(51, V6_SRC, V6_MCAST, 1));
        let unicast6 = ipv6(V6_PEER, V6_SRC, 255, &v3_v6(54, V6_PEER, V6_SRC, 2));
        let (v4, v6) = (0x0800, 0x86dd);
        vec![
            (
                "seed-v2-ipv4-multicast",
                ether(mcast4, None, v4, ipv4(V4_SRC, V4_MCAST, 255, &v2_seed())),
            ),
            (
                "seed-v2-ipv4-unicast",
                ether(host, None, v4, ipv4(V4_PEER3, V4_SRC, 64, &v2_unicast)),
            ),
            (
                "seed-v3-ipv4-unicast-vlan",
                ether(host, Some(100), v4, ipv4(V4_PEER, V4_SRC, 64, &unicast)),
            ),
            (
                "seed-v3-ipv4-unicast-message-only",
                ether(host, None, v4, ipv4(V4_PEER, V4_SRC, 255, &v3_v4(52, 0))),
            ),
            (
                "seed-v3-ipv6-multicast",
                ether(mcast6, None, v6, multicast6),
            ),
            ("seed-v3-ipv6-unicast", ether(host, None, v6, unicast6)),
        ]
    }

    /// A VRRP advert, priority 100; `word` is bytes 4-5 (v2: auth type and seconds, v3:
    /// centiseconds) and `pseudo` the pseudo-header sum its checksum covers (0: none).
    fn message(
        version: u8,
        vrid: u8,
        word: [u8; 2],
        addrs: &[&[u8]],
        trailer: &[u8],
        pseudo: u32,
    ) -> Vec<u8> {
        let count = u8::try_from(addrs.len()).expect("at most 255 addresses");
        let mut m = vec![(version << 4) | 1, vrid, 100, count, word[0], word[1], 0, 0];
        addrs.iter().for_each(|a| m.extend_from_slice(a));
        m.extend_from_slice(trailer);
        let sum = !fold(pseudo + sum16(&m));
        m[6..8].copy_from_slice(&sum.to_be_bytes());
        m
    }

    /// IPv4 and IPv6 pseudo-header sum for protocol 112 and a message under 64 KiB.
    fn pseudo(src: &[u8], dst: &[u8], len: usize) -> u32 {
        sum16(src) + sum16(dst) + 112 + u32::try_from(len).expect("small message")
    }

    fn sum16(data: &[u8]) -> u32 {
        data.chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
            .sum()
    }

    fn fold(mut sum: u32) -> u16 {
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    fn ipv4(src: [u8; 4], dst: [u8; 4], ttl: u8, payload: &[u8]) -> Vec<u8> {
        let total = u16::try_from(20 + payload.len()).expect("small packet");
        let mut h = vec![0x45, 0xc0];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0, ttl, 112, 0, 0]);
        h.extend_from_slice(&src);
        h.extend_from_slice(&dst);
        let sum = !fold(sum16(&h));
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }

    fn ipv6(src: [u8; 16], dst: [u8; 16], hop_limit: u8, payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(payload.len()).expect("small packet");
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&len.to_be_bytes());
        h.extend_from_slice(&[112, hop_limit]);
        h.extend_from_slice(&src);
        h.extend_from_slice(&dst);
        h.extend_from_slice(payload);
        h
    }

    /// An Ethernet frame from the VRRP virtual MAC of VRID 51, optionally 802.1Q-tagged.
    fn ether(dst: [u8; 6], vlan: Option<u16>, ethertype: u16, l3: Vec<u8>) -> Vec<u8> {
        let mut f = dst.to_vec();
        f.extend_from_slice(&[0x00, 0x00, 0x5e, 0x00, 0x01, 51]);
        if let Some(id) = vlan {
            f.extend_from_slice(&0x8100u16.to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(&l3);
        f
    }
}
