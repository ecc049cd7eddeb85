//! What the data plane needs from the running kernel, checked before the XDP program is
//! loaded, so that an old kernel is refused with its version and the missing feature named
//! instead of a raw verifier dump.
//!
//! | feature | mainline | how it is checked |
//! |---|---|---|
//! | XDP programs | 4.8 | probed (a trivial program is loaded) |
//! | BPF ring buffers (`BPF_MAP_TYPE_RINGBUF`): the `EVENTS` map | 5.8 | probed (a map is created) |
//! | XDP attached through a `bpf_link` | 5.9 | by version (see [`check`]) |
//! | every BPF helper the program calls | per helper, see [`HELPERS`] | probed one by one, as libbpf does |
//!
//! Distribution kernels backport features, so whatever can be probed is probed; the version
//! only names what is missing. `cargo xtask vm-test` boots Linux 5.10 and 6.1 and runs these
//! checks there, including a variant of the program that calls a helper 5.10 lacks.
use std::{collections::BTreeSet, fmt};

use anyhow::{Context as _, Result, bail};
use aya::{
    maps::MapType,
    programs::ProgramType,
    sys::{BpfHelper, is_helper_supported, is_map_supported, is_program_supported},
    util::KernelVersion as Version,
};

/// The running kernel: its version and `uname -r`.
#[derive(Clone, Debug)]
pub struct KernelVersion {
    /// major.minor.patch. On Debian and Ubuntu this is the upstream version their
    /// packages name (Debian 11's `5.10.0-32-cloud-amd64` is 5.10.223).
    pub version: Version,
    /// `uname -r` (`/proc/sys/kernel/osrelease`).
    pub release: String,
}

impl KernelVersion {
    /// The running kernel.
    pub fn current() -> Result<Self> {
        let version =
            Version::current().map_err(|e| anyhow::anyhow!("reading the kernel version: {e}"))?;
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|r| r.trim().to_string())
            .unwrap_or_else(|_| version.to_string());
        Ok(Self { version, release })
    }

    /// Whether this kernel is `major.minor` or later.
    pub fn at_least(&self, major: u8, minor: u8) -> bool {
        self.version >= Version::new(major, minor, 0)
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Linux {} ({})", self.version, self.release)
    }
}

/// A BPF helper, with the mainline release that introduced it.
#[derive(Clone, Copy, Debug)]
pub struct Helper {
    /// Its id (`enum bpf_func_id`).
    pub id: BpfHelper,
    /// The first mainline release that has it (for XDP programs).
    pub since: (u8, u8),
}

impl Helper {
    /// Its name in `bpf-helpers(7)`, e.g. `bpf_ringbuf_output`.
    pub fn name(&self) -> String {
        format!("{:?}", self.id).replace("BPF_FUNC_", "bpf_")
    }
}

/// Helpers an XDP program may call, with the release that introduced each (bcc's
/// `docs/kernel-versions.md`). Every helper the program calls must be listed here: the
/// `kernel_gate` test checks it, so adding a helper to the program means stating which
/// kernels have it.
#[rustfmt::skip]
pub const HELPERS: &[Helper] = &[
    Helper { id: BpfHelper::BPF_FUNC_map_lookup_elem, since: (3, 19) },
    Helper { id: BpfHelper::BPF_FUNC_map_update_elem, since: (3, 19) },
    Helper { id: BpfHelper::BPF_FUNC_map_delete_elem, since: (3, 19) },
    Helper { id: BpfHelper::BPF_FUNC_ktime_get_ns, since: (4, 1) },
    Helper { id: BpfHelper::BPF_FUNC_trace_printk, since: (4, 1) },
    Helper { id: BpfHelper::BPF_FUNC_get_prandom_u32, since: (4, 1) },
    Helper { id: BpfHelper::BPF_FUNC_get_smp_processor_id, since: (4, 1) },
    Helper { id: BpfHelper::BPF_FUNC_tail_call, since: (4, 2) },
    Helper { id: BpfHelper::BPF_FUNC_redirect, since: (4, 4) },
    Helper { id: BpfHelper::BPF_FUNC_perf_event_output, since: (4, 4) },
    Helper { id: BpfHelper::BPF_FUNC_csum_diff, since: (4, 6) },
    Helper { id: BpfHelper::BPF_FUNC_xdp_adjust_head, since: (4, 10) },
    Helper { id: BpfHelper::BPF_FUNC_redirect_map, since: (4, 14) },
    Helper { id: BpfHelper::BPF_FUNC_xdp_adjust_meta, since: (4, 15) },
    Helper { id: BpfHelper::BPF_FUNC_xdp_adjust_tail, since: (4, 18) },
    Helper { id: BpfHelper::BPF_FUNC_fib_lookup, since: (4, 18) },
    Helper { id: BpfHelper::BPF_FUNC_map_push_elem, since: (4, 20) },
    Helper { id: BpfHelper::BPF_FUNC_map_pop_elem, since: (4, 20) },
    Helper { id: BpfHelper::BPF_FUNC_map_peek_elem, since: (4, 20) },
    Helper { id: BpfHelper::BPF_FUNC_probe_read_kernel, since: (5, 5) },
    Helper { id: BpfHelper::BPF_FUNC_ringbuf_output, since: (5, 8) },
    Helper { id: BpfHelper::BPF_FUNC_ringbuf_reserve, since: (5, 8) },
    Helper { id: BpfHelper::BPF_FUNC_ringbuf_submit, since: (5, 8) },
    Helper { id: BpfHelper::BPF_FUNC_ringbuf_discard, since: (5, 8) },
    Helper { id: BpfHelper::BPF_FUNC_ringbuf_query, since: (5, 8) },
    Helper { id: BpfHelper::BPF_FUNC_ktime_get_coarse_ns, since: (5, 11) },
    Helper { id: BpfHelper::BPF_FUNC_check_mtu, since: (5, 12) },
    Helper { id: BpfHelper::BPF_FUNC_for_each_map_elem, since: (5, 13) },
    Helper { id: BpfHelper::BPF_FUNC_snprintf, since: (5, 13) },
    Helper { id: BpfHelper::BPF_FUNC_timer_init, since: (5, 15) },
    Helper { id: BpfHelper::BPF_FUNC_loop, since: (5, 17) },
    Helper { id: BpfHelper::BPF_FUNC_xdp_get_buff_len, since: (5, 18) },
    Helper { id: BpfHelper::BPF_FUNC_xdp_load_bytes, since: (5, 18) },
    Helper { id: BpfHelper::BPF_FUNC_xdp_store_bytes, since: (5, 18) },
    Helper { id: BpfHelper::BPF_FUNC_ktime_get_tai_ns, since: (6, 1) },
];

/// The entry of [`HELPERS`] with id `id`.
pub fn helper_by_id(id: u32) -> Option<&'static Helper> {
    HELPERS.iter().find(|h| h.id as u32 == id)
}

/// Probing needs the same privileges as loading; say so rather than "operation not permitted".
fn probe_error(what: &str, e: impl fmt::Display) -> anyhow::Error {
    anyhow::anyhow!(
        "could not probe the kernel for {what}: {e} (loading XDP needs root, or CAP_BPF and \
         CAP_NET_ADMIN)"
    )
}

/// Check that the running kernel has what the data plane needs regardless of the program's
/// code: XDP, BPF ring buffers (5.8) and XDP attachment through a `bpf_link` (5.9). Returns
/// the kernel's version, for the start-up log.
///
/// The `bpf_link` attachment cannot be probed without attaching to an interface, so it is
/// checked by version. It matters: without it aya falls back to a netlink attachment, which
/// outlives the daemon, so a `kill -9`ed daemon would leave its program on the interface.
pub fn check() -> Result<KernelVersion> {
    let kernel = KernelVersion::current()?;
    let need = "vrrp-daemon needs Linux 5.10 or later";
    if !is_program_supported(ProgramType::Xdp).map_err(|e| probe_error("XDP", e))? {
        bail!("{kernel} cannot load XDP programs (CONFIG_BPF_SYSCALL, Linux 4.8+); {need}");
    }
    if !is_map_supported(MapType::RingBuf).map_err(|e| probe_error("BPF ring buffers", e))? {
        bail!(
            "{kernel} has no BPF ring buffers (BPF_MAP_TYPE_RINGBUF, Linux 5.8+), through which \
             the XDP program reports peer changes; {need}"
        );
    }
    if !kernel.at_least(5, 9) {
        bail!(
            "{kernel} cannot attach XDP programs through a bpf_link (Linux 5.9+), which detaches \
             the program when the daemon dies; {need}"
        );
    }
    Ok(kernel)
}

/// Check that the running kernel has every BPF helper that the XDP program in `object` (an
/// ELF object for `bpfel`) calls. A helper the kernel lacks is refused by name, with the
/// release that introduced it. Helpers missing from [`HELPERS`] are left to the verifier.
pub fn check_program(kernel: &KernelVersion, object: &[u8]) -> Result<()> {
    for id in helpers_called(object)? {
        let Some(helper) = helper_by_id(id) else {
            continue;
        };
        let present = is_helper_supported(ProgramType::Xdp, helper.id)
            .map_err(|e| probe_error(&helper.name(), e))?;
        if !present {
            let (major, minor) = helper.since;
            bail!(
                "{kernel} lacks the BPF helper {} (Linux {major}.{minor}+), which this build's \
                 XDP program calls; run it on Linux {major}.{minor} or later",
                helper.name()
            );
        }
    }
    Ok(())
}

/// The ids of the BPF helpers the code in `object` calls.
pub fn helpers_called(object: &[u8]) -> Result<BTreeSet<u32>> {
    Ok(helper_calls(object)?
        .into_iter()
        .map(|c| c.helper)
        .collect())
}

/// One `call` instruction of a BPF helper in an object file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelperCall {
    /// Byte offset of the instruction in the object file.
    pub offset: usize,
    /// The helper's id (the instruction's immediate).
    pub helper: u32,
}

/// Every helper call in the executable sections of a little-endian ELF64 object (what
/// bpf-linker produces for `bpfel-unknown-none`). BPF-to-BPF calls (`src_reg` 1) and kfunc
/// calls (`src_reg` 2) are not helper calls.
pub fn helper_calls(object: &[u8]) -> Result<Vec<HelperCall>> {
    const SHT_PROGBITS: u32 = 1;
    const SHF_EXECINSTR: u64 = 4;
    const BPF_CALL: u8 = 0x85;
    const BPF_LD_IMM64: u8 = 0x18;
    let u16_at = |at| field::<2>(object, at).map(u16::from_le_bytes);
    let u32_at = |at| field::<4>(object, at).map(u32::from_le_bytes);
    let u64_at = |at| field::<8>(object, at).map(u64::from_le_bytes);
    if object.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        bail!("the XDP object is not a little-endian ELF64 file");
    }
    let shoff = usize::try_from(u64_at(0x28)?)?;
    let shentsize = usize::from(u16_at(0x3a)?);
    let shnum = usize::from(u16_at(0x3c)?);
    let mut calls = Vec::new();
    for i in 0..shnum {
        let sh = shoff + i * shentsize;
        if u32_at(sh + 4)? != SHT_PROGBITS || u64_at(sh + 8)? & SHF_EXECINSTR == 0 {
            continue;
        }
        let start = usize::try_from(u64_at(sh + 24)?)?;
        let size = usize::try_from(u64_at(sh + 32)?)?;
        let code = object
            .get(start..start.saturating_add(size))
            .context("the XDP object is truncated")?;
        let mut at = 0;
        while at + 8 <= code.len() {
            let (opcode, src_reg) = (code[at], code[at + 1] >> 4);
            if opcode == BPF_CALL && src_reg == 0 {
                calls.push(HelperCall {
                    offset: start + at,
                    helper: u32_at(start + at + 4)?,
                });
            }
            // A 64-bit immediate load takes two slots; the second is not an instruction.
            at += if opcode == BPF_LD_IMM64 { 16 } else { 8 };
        }
    }
    Ok(calls)
}

/// `N` bytes of `object` at `at`.
fn field<const N: usize>(object: &[u8], at: usize) -> Result<[u8; N]> {
    object
        .get(at..at.saturating_add(N))
        .and_then(|b| b.try_into().ok())
        .context("the XDP object is truncated")
}
