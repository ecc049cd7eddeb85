//! Empty library target: it lets `vrrp-daemon` name this crate as a build-dependency so cargo
//! rebuilds the daemon when the eBPF sources change. The program itself is `src/main.rs`.
#![no_std]
