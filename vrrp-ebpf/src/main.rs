//! The VRRP advert observer, run by XDP on every frame the interface receives.
//!
//! Foreign traffic leaves after a couple of loads (`XDP_PASS`). A VRRP advert is checked the
//! way RFC 3768 / RFC 5798 and keepalived demand (TTL, version, type, exact length, v2
//! authentication and interval, checksum), then the peer's priority, address, interval and
//! arrival time are written into `PEERS`. Only a change the daemon must react to at once
//! (a new peer, priority 0, a priority / source / interval change, a peer back from silence)
//! is pushed to the `EVENTS` ring buffer; a steady stream of identical adverts wakes nobody.
//! Every rejected advert bumps its own per-CPU counter and is passed on untouched.
// Built for `bpfel-unknown-none` by vrrp-daemon/build.rs. A workspace-wide host build
// (`cargo build --workspace`, clippy) compiles this crate too, with std unified in through
// vrrp-common's `user` feature, so the program only exists on the BPF target.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

/// A debug log line through aya-log, compiled in only with the `log` feature (the
/// daemon's `ebpf-log` feature): by default the program carries no logging at all, so the
/// per-packet path pays nothing for it.
#[cfg(target_arch = "bpf")]
macro_rules! debug_log {
    ($ctx:expr, $($arg:tt)+) => {{
        #[cfg(feature = "log")]
        aya_log_ebpf::debug!($ctx, $($arg)+);
        #[cfg(not(feature = "log"))]
        let _ = $ctx;
    }};
}

#[cfg(target_arch = "bpf")]
mod observer;
#[cfg(target_arch = "bpf")]
mod responder;

#[cfg(target_arch = "bpf")]
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// Host builds have nothing to run: the program is loaded by vrrp-daemon.
#[cfg(not(target_arch = "bpf"))]
fn main() {}
