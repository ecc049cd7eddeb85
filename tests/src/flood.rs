//! Foreign traffic as fast as the machine allows, inside the lab: UDP datagrams blasted
//! from one lab host at an address of the lab, bounded in time (and stopped on drop).

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use crate::netns;

/// Sends between two looks at the stop flag and the clock.
const BATCH: u64 = 256;

/// What a flood sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloodReport {
    /// Datagrams handed to the kernel.
    pub sent: u64,
    /// Sends that failed (e.g. `ENOBUFS`).
    pub errors: u64,
    /// How long it ran.
    pub duration: Duration,
}

impl FloodReport {
    /// Datagrams sent per second.
    pub fn pps(&self) -> f64 {
        self.sent as f64 / self.duration.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for FloodReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "flood: {} datagrams in {:.2?} ({:.0}/s), {} send errors",
            self.sent,
            self.duration,
            self.pps(),
            self.errors
        )
    }
}

/// A running flood (see [`crate::Lab::start_flood`]).
pub struct Flood {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Result<(u64, u64)>>>,
    started_at: Instant,
}

impl Flood {
    pub(crate) fn start(
        ns: &str,
        dst: SocketAddrV4,
        threads: usize,
        payload: usize,
        max: Duration,
    ) -> Result<Flood> {
        let stop = Arc::new(AtomicBool::new(false));
        let started_at = Instant::now();
        let mut flood = Flood {
            stop: stop.clone(),
            threads: Vec::new(),
            started_at,
        };
        for i in 0..threads.max(1) {
            let stop = stop.clone();
            let h = netns::spawn_in(ns, format!("vrrpt-flood{i}"), move || {
                blast(dst, payload, started_at + max, &stop)
            })?;
            flood.threads.push(h);
        }
        Ok(flood)
    }

    /// Whether every sender has finished (its time is up).
    pub fn finished(&self) -> bool {
        self.threads.iter().all(JoinHandle::is_finished)
    }

    /// Stops the senders and reports what they sent.
    pub fn stop(mut self) -> Result<FloodReport> {
        self.halt()
    }

    fn halt(&mut self) -> Result<FloodReport> {
        self.stop.store(true, Ordering::Relaxed);
        let mut report = FloodReport {
            sent: 0,
            errors: 0,
            duration: Duration::ZERO,
        };
        let mut first_err = None;
        for h in self.threads.drain(..) {
            match h
                .join()
                .unwrap_or_else(|_| Err(anyhow!("flood thread panicked")))
            {
                Ok((sent, errors)) => {
                    report.sent += sent;
                    report.errors += errors;
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        report.duration = self.started_at.elapsed();
        match first_err {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            let _ = self.halt();
        }
    }
}

fn blast(
    dst: SocketAddrV4,
    payload: usize,
    until: Instant,
    stop: &AtomicBool,
) -> Result<(u64, u64)> {
    let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    sock.set_broadcast(true)?;
    let data = vec![0x5au8; payload];
    let (mut sent, mut errors) = (0u64, 0u64);
    loop {
        for _ in 0..BATCH {
            match sock.send_to(&data, dst) {
                Ok(_) => sent += 1,
                Err(_) => errors += 1,
            }
        }
        if stop.load(Ordering::Relaxed) || Instant::now() >= until {
            return Ok((sent, errors));
        }
    }
}
