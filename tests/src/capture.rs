//! Packet captures of lab traffic (`tcpdump -w` in a lab namespace), for checking what
//! went over the wire and for explaining failures.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd;

/// How long [`Capture::stop`] lets tcpdump flush after SIGINT before killing it.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// A running `tcpdump -w FILE` (started by [`crate::Lab::start_capture`]). Stop it with
/// [`Capture::stop`] before reading the file; dropping it kills tcpdump, and the lab's
/// teardown would too.
pub struct Capture {
    child: Mutex<Option<Child>>,
    path: PathBuf,
}

impl Capture {
    pub(crate) fn new(child: Child, path: PathBuf) -> Self {
        Self {
            child: Mutex::new(Some(child)),
            path,
        }
    }

    /// The pcap file (in the lab dir, so gone once the lab is dropped).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops tcpdump (SIGINT, so it flushes; SIGKILL after 3 s) and waits for it.
    /// Idempotent.
    pub fn stop(&self) -> Result<()> {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut child) = guard.take() else {
            return Ok(());
        };
        if child.try_wait()?.is_none() {
            // SAFETY: plain syscall; the child is not reaped, so the pid is still ours.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
        }
        if cmd::wait_deadline(&mut child, Instant::now() + STOP_GRACE)?.is_none() {
            bail!(
                "tcpdump (pid {}) ignored SIGINT for {STOP_GRACE:?}",
                child.id()
            );
        }
        Ok(())
    }

    /// Frames the kernel dropped before tcpdump could read them (its own count, once it has
    /// stopped). A capture that lost frames cannot time anything: a lost advert would pass
    /// for a late one.
    pub fn dropped(&self) -> Result<u64> {
        self.stop()?;
        let log = self.path.with_extension("tcpdump.log");
        let text =
            std::fs::read_to_string(&log).with_context(|| format!("reading {}", log.display()))?;
        Ok(text
            .lines()
            .find_map(|l| {
                l.strip_suffix(" packets dropped by kernel")?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0))
    }

    /// Stops the capture and decodes it with `tcpdump -r FILE -n -vvv EXTRA...` (e.g.
    /// `&["-e"]` for MAC addresses): one line per packet, plus tcpdump's continuation
    /// lines.
    pub fn decode(&self, extra: &[&str]) -> Result<String> {
        self.stop()?;
        let mut c = Command::new("tcpdump");
        c.arg("-r")
            .arg(&self.path)
            .args(["-n", "-vvv", "-tt"])
            .args(extra)
            .stdin(Stdio::null());
        cmd::run_ok(c, Duration::from_secs(30))
            .with_context(|| format!("decoding {}", self.path.display()))
    }

    /// Stops the capture and runs `tshark -r FILE -n ARGS...` on it (e.g. `-T fields -e
    /// ...` to list fields, or `-o ip.check_checksum:TRUE` to have tshark verify IP
    /// header checksums too); returns its stdout. Needs `tshark` (Debian package).
    pub fn tshark(&self, args: &[&str]) -> Result<String> {
        self.stop()?;
        let mut c = Command::new("tshark");
        c.arg("-r")
            .arg(&self.path)
            .arg("-n")
            .args(args)
            .stdin(Stdio::null());
        cmd::run_ok(c, Duration::from_secs(60)).with_context(|| {
            format!(
                "tshark on {} (is the Debian package `tshark` installed?)",
                self.path.display()
            )
        })
    }
}

/// One frame of a capture, as `tcpdump -n -tt -e` prints it on one line.
#[derive(Clone, Debug, PartialEq)]
pub struct CapturedFrame {
    /// Capture time, seconds since the Unix epoch (CLOCK_REALTIME, like
    /// [`std::time::SystemTime`]).
    pub at: f64,
    /// Source MAC address (lower case, as tcpdump prints it).
    pub src_mac: String,
    /// The whole line.
    pub line: String,
}

/// One VRRP advertisement of a capture ([`Capture::vrrp_adverts`]).
#[derive(Clone, Debug, PartialEq)]
pub struct WireAdvert {
    /// Capture time, seconds since the Unix epoch.
    pub at: f64,
    /// Source MAC address.
    pub src_mac: String,
    /// Source IP address.
    pub src: IpAddr,
    /// VRRP version (2 or 3).
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
}

impl WireAdvert {
    /// Parses a `tcpdump -n -tt -e` line of a VRRP advert:
    /// `TS SRCMAC > DSTMAC, ethertype IPv4 (0x0800), length 54: 10.0.0.1 > 224.0.0.18:
    /// VRRPv3, Advertisement, vrid 51, prio 100, intvl 10cs, length 12`.
    pub fn parse(line: &str) -> Option<WireAdvert> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.first()?.parse().ok()?;
        let src_mac = words.get(1)?.to_string();
        let v = words.iter().position(|w| w.starts_with("VRRPv"))?;
        let version = words[v]
            .trim_start_matches("VRRPv")
            .trim_end_matches(',')
            .parse()
            .ok()?;
        let src = words.get(v.checked_sub(3)?)?.parse().ok()?;
        let after = |key: &str| -> Option<u8> {
            let i = words.iter().position(|w| *w == key)?;
            words.get(i + 1)?.trim_end_matches(',').parse().ok()
        };
        Some(WireAdvert {
            at,
            src_mac,
            src,
            version,
            vrid: after("vrid")?,
            priority: after("prio")?,
        })
    }
}

impl Capture {
    /// Stops the capture and lists the frames matching the tcpdump `filter` (e.g.
    /// `&["arp"]`), one per line of `tcpdump -r FILE -n -tt -e FILTER`.
    pub fn frames(&self, filter: &[&str]) -> Result<Vec<CapturedFrame>> {
        self.stop()?;
        let mut c = Command::new("tcpdump");
        c.arg("-r")
            .arg(&self.path)
            .args(["-n", "-tt", "-e"])
            .args(filter)
            .stdin(Stdio::null());
        let out = cmd::run_ok(c, Duration::from_secs(60))
            .with_context(|| format!("reading {}", self.path.display()))?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let mut w = line.split_whitespace();
                let at = w.next()?.parse().ok()?;
                let src_mac = w.next()?.to_string();
                Some(CapturedFrame {
                    at,
                    src_mac,
                    line: line.to_string(),
                })
            })
            .collect())
    }

    /// Stops the capture and returns every VRRP advert in it, in capture order.
    pub fn vrrp_adverts(&self) -> Result<Vec<WireAdvert>> {
        let frames = self.frames(&["vrrp"])?;
        frames
            .iter()
            .map(|f| {
                WireAdvert::parse(&f.line)
                    .ok_or_else(|| anyhow::anyhow!("cannot parse tcpdump line {:?}", f.line))
            })
            .collect()
    }
}

/// Runs of adverts from `src` with priority > 0 whose consecutive adverts are at most
/// `max_gap` seconds apart: the spans during which `src` acted as master on the wire,
/// as (first advert, last advert) capture times. A lone advert is a run of length zero.
pub fn advertising_runs(adverts: &[WireAdvert], src: IpAddr, max_gap: f64) -> Vec<(f64, f64)> {
    let mut runs: Vec<(f64, f64)> = Vec::new();
    for a in adverts.iter().filter(|a| a.src == src && a.priority > 0) {
        match runs.last_mut() {
            Some(run) if a.at - run.1 <= max_gap => run.1 = a.at,
            _ => runs.push((a.at, a.at)),
        }
    }
    runs
}

/// The windows during which both `a` and `b` were advertising (their
/// [`advertising_runs`] overlap): two masters on the wire. Each window runs from the
/// later of the two runs' starts to the earlier of their ends.
pub fn dual_advertising(
    adverts: &[WireAdvert],
    a: IpAddr,
    b: IpAddr,
    max_gap: f64,
) -> Vec<(f64, f64)> {
    let ra = advertising_runs(adverts, a, max_gap);
    let rb = advertising_runs(adverts, b, max_gap);
    let mut out = Vec::new();
    for &(s1, e1) in &ra {
        for &(s2, e2) in &rb {
            let (s, e) = (s1.max(s2), e1.min(e2));
            if s <= e {
                out.push((s, e));
            }
        }
    }
    out.sort_by(|x, y| x.0.total_cmp(&y.0));
    out
}

impl Drop for Capture {
    fn drop(&mut self) {
        let mut guard = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut child) = guard.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "1732561234.123456 2a:9e:1c:00:00:01 > 01:00:5e:00:00:12, ethertype IPv4 (0x0800), length 54: 10.0.0.1 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 100, intvl 10cs, length 12";

    #[test]
    fn parses_adverts() {
        let a = WireAdvert::parse(LINE).unwrap();
        assert_eq!(a.src, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!((a.version, a.vrid, a.priority), (3, 51, 100));
        assert_eq!(a.src_mac, "2a:9e:1c:00:00:01");
        assert!((a.at - 1_732_561_234.123_456).abs() < 1e-6);
    }

    #[test]
    fn dual_advertising_windows() {
        let ad = |at: f64, n: u8, priority: u8| WireAdvert {
            at,
            src_mac: String::new(),
            src: IpAddr::from([10, 0, 0, n]),
            version: 3,
            vrid: 51,
            priority,
        };
        // node1 every 0.1 s from 0 to 1.0 with a hole 0.3..0.8; node2 0.45..0.95.
        let mut v: Vec<WireAdvert> = [0.0, 0.1, 0.2, 0.3, 0.8, 0.9, 1.0]
            .iter()
            .map(|&t| ad(t, 1, 100))
            .collect();
        v.extend(
            [0.45, 0.55, 0.65, 0.75, 0.85, 0.95]
                .iter()
                .map(|&t| ad(t, 2, 90)),
        );
        v.push(ad(0.96, 2, 0));
        v.sort_by(|a, b| a.at.total_cmp(&b.at));
        let one = IpAddr::from([10, 0, 0, 1]);
        let two = IpAddr::from([10, 0, 0, 2]);
        assert_eq!(advertising_runs(&v, one, 0.25), [(0.0, 0.3), (0.8, 1.0)]);
        let d = dual_advertising(&v, one, two, 0.25);
        assert_eq!(d.len(), 1);
        assert!((d[0].0 - 0.8).abs() < 1e-9 && (d[0].1 - 0.95).abs() < 1e-9);
    }
}
