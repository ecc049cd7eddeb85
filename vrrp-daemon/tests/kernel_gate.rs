//! The kernel feature gate (`dataplane/kernel.rs`) on the running kernel, and proof that it
//! can fail: a test-only variant of the XDP program that calls a helper Linux 5.10 lacks
//! must be refused there by name, and accepted (by the gate and the verifier) on kernels
//! that have it.
//!
//! `cargo xtask vm-test` runs these inside Linux 5.10 and 6.1 guests; `cargo xtask test` on
//! the host kernel. Loading needs root.
use aya::{
    Ebpf,
    programs::{ProgramError, Xdp},
};
use vrrp_common::XDP_PROGRAM;

use vrrp_daemon::dataplane::kernel;

/// The daemon's XDP object, as `dataplane` embeds it.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp-xdp"));

/// The helper the program uses for its clock, and the one the variant uses instead: the
/// same signature (`u64 (void)`), a coarser clock, and only in Linux 5.11 and later.
const KTIME_GET_NS: u32 = 5;
const KTIME_GET_COARSE_NS: u32 = 160;

fn object() -> &'static [u8] {
    assert!(
        !OBJECT.is_empty(),
        "the daemon was built without its XDP program (AYA_BUILD_SKIP or no bpf-linker); \
         run `cargo xtask test`"
    );
    OBJECT
}

fn need_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the kernel gate tests load BPF programs and need root (cargo xtask test)"
    );
}

/// The program with every call of `bpf_ktime_get_ns` turned into `bpf_ktime_get_coarse_ns`.
fn coarse_clock_variant() -> Vec<u8> {
    let mut variant = object().to_vec();
    let calls = kernel::helper_calls(object()).expect("scan the XDP object");
    let mut patched = 0;
    for call in calls.iter().filter(|c| c.helper == KTIME_GET_NS) {
        variant[call.offset + 4..call.offset + 8]
            .copy_from_slice(&KTIME_GET_COARSE_NS.to_le_bytes());
        patched += 1;
    }
    assert!(
        patched > 0,
        "the XDP program no longer calls bpf_ktime_get_ns"
    );
    assert!(
        kernel::helpers_called(&variant)
            .unwrap()
            .contains(&KTIME_GET_COARSE_NS)
    );
    variant
}

/// Load `object`'s XDP program into the kernel (maps, relocations, verifier).
fn load(object: &[u8]) -> Result<Ebpf, String> {
    let mut ebpf = Ebpf::load(object).map_err(|e| format!("loading the object: {e}"))?;
    let program: &mut Xdp = ebpf
        .program_mut(XDP_PROGRAM)
        .expect("the XDP program is in the object")
        .try_into()
        .expect("an XDP program");
    match program.load() {
        Ok(()) => Ok(ebpf),
        Err(ProgramError::LoadError {
            io_error,
            verifier_log,
        }) => Err(format!(
            "the verifier rejected it ({io_error}); its log:\n{verifier_log}"
        )),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn every_helper_the_program_calls_is_listed_with_its_kernel_version() {
    let called = kernel::helpers_called(object()).expect("scan the XDP object");
    assert!(
        !called.is_empty(),
        "no helper calls found: the scan is broken"
    );
    let unlisted: Vec<u32> = called
        .iter()
        .copied()
        .filter(|&id| kernel::helper_by_id(id).is_none())
        .collect();
    assert!(
        unlisted.is_empty(),
        "the XDP program calls helpers {unlisted:?} that dataplane/kernel.rs HELPERS does not \
         list: add each with the Linux release that introduced it"
    );
    let names: Vec<String> = called
        .iter()
        .map(|&id| {
            let h = kernel::helper_by_id(id).unwrap();
            format!("{} ({}.{})", h.name(), h.since.0, h.since.1)
        })
        .collect();
    println!("report: helpers called: {}", names.join(", "));
}

#[test]
fn this_kernel_has_what_the_data_plane_needs() {
    need_root();
    let kernel = kernel::check().unwrap_or_else(|e| panic!("{e:#}"));
    kernel::check_program(&kernel, object()).unwrap_or_else(|e| panic!("{e:#}"));
    println!(
        "report: {kernel}: XDP, ring buffers, bpf_link XDP and the program's {} helpers present",
        kernel::helpers_called(object()).unwrap().len()
    );
}

#[test]
fn the_xdp_program_passes_the_verifier() {
    need_root();
    // Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK (the daemon raises it too).
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit with a valid struct.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };
    match load(object()) {
        Ok(_) => println!("report: {XDP_PROGRAM} accepted by the verifier"),
        Err(e) => panic!("{XDP_PROGRAM}: {e}"),
    }
}

#[test]
fn a_variant_calling_a_helper_this_kernel_lacks_is_refused_by_name() {
    need_root();
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit with a valid struct.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };
    let variant = coarse_clock_variant();
    let kernel = kernel::check().unwrap_or_else(|e| panic!("{e:#}"));
    let gate = kernel::check_program(&kernel, &variant);
    let loaded = load(&variant);
    if kernel.at_least(5, 11) {
        gate.unwrap_or_else(|e| panic!("the gate refused the variant on {kernel}: {e:#}"));
        if let Err(e) = loaded {
            panic!("the variant is accepted by the gate but not by the kernel: {e}");
        }
        println!(
            "report: variant calling bpf_ktime_get_coarse_ns (5.11+) accepted on {kernel}, by \
             the gate and the verifier"
        );
    } else {
        let message = match gate {
            Ok(()) => {
                panic!("the gate let through a program calling bpf_ktime_get_coarse_ns on {kernel}")
            }
            Err(e) => format!("{e:#}"),
        };
        for part in ["bpf_ktime_get_coarse_ns", "5.11", &kernel.release] {
            assert!(message.contains(part), "{message:?} does not name {part}");
        }
        assert!(!message.contains("verifier"), "{message:?}");
        // And the gate was right: the kernel's own answer is a verifier dump.
        let raw = match loaded {
            Ok(_) => panic!("the gate refused a variant that {kernel} loads"),
            Err(e) => e,
        };
        assert!(
            raw.contains("unknown#160") || raw.contains("invalid func"),
            "{raw}"
        );
        let first = raw
            .lines()
            .find(|l| l.contains("invalid func"))
            .unwrap_or("");
        println!(
            "report: refused as expected: {message} (the verifier would have said: {first:?})"
        );
    }
}
