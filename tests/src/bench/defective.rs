//! Defective adverts for the master's VRID, sent by a third host (the client) at the
//! advert rate: every implementation must reject them, and they must not disturb the
//! master enough for its backup to take over.

use std::ffi::CString;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{Impl, Interval, Pair, VIP, single_config};
use crate::lab::{Host, Lab};
use crate::takeover::master_down_v3;

/// Ways an advert can be wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Defect {
    /// IP TTL 64 instead of 255 (an advert that crossed a router).
    Ttl64,
    /// A VRRP checksum that does not add up.
    BadChecksum,
    /// A VRRPv2 advert to a VRRPv3 instance.
    WrongVersion,
}

impl Defect {
    const ALL: [Defect; 3] = [Defect::Ttl64, Defect::BadChecksum, Defect::WrongVersion];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Defect::Ttl64 => "TTL 64",
            Defect::BadChecksum => "bad-checksum",
            Defect::WrongVersion => "wrong-version (v2)",
        }
    }
}

/// What one kind of defective advert did.
#[derive(Clone, Copy, Default)]
pub(crate) struct Outcome {
    /// Times the backup took the VIP while they were sent (and master-down after).
    pub takeovers: u64,
    /// Defective adverts sent.
    pub sent: u64,
}

/// For each kind of defect: the pair settles (node1 MASTER 100, node2 BACKUP 90), the
/// client sends that kind of advert for VRID 51 (priority 100, the VIP, 224.0.0.18)
/// every advert interval for `duration`, and the backup's acquisitions of the VIP are
/// counted.
pub(crate) fn run(
    lab: &Lab,
    imp: Impl,
    interval: Interval,
    duration: Duration,
) -> Result<Vec<(&'static str, Outcome)>> {
    let advert = interval.duration();
    let down = master_down_v3(90, advert);
    let watch = lab.watch_vip(VIP)?;
    let mut pair = Pair::new(lab, imp);
    pair.start(1, &single_config(interval, "MASTER", 100))?;
    pair.start(2, &single_config(interval, "BACKUP", 90))?;
    watch
        .wait(2 * down + Duration::from_secs(10), |h| h == [1])
        .context("node1 never became the only master")?;
    std::thread::sleep(down + 3 * advert);
    let client_mac = parse_mac(&lab.mac(Host::Client)?)?;
    let src = lab.addr(Host::Client);
    let mut out = Vec::new();
    for defect in Defect::ALL {
        let _ = watch.wait(Duration::from_secs(3), |h| h == [1]);
        let before = watch.snapshot().events.len();
        let frame = frame(defect, client_mac, src, interval);
        let sender = lab.spawn_in(Host::Client, move || send_every(&frame, advert, duration))?;
        let sent = sender
            .join()
            .unwrap_or_else(|_| bail!("defective advert sender panicked"))?;
        std::thread::sleep(down);
        let takeovers = watch.snapshot().events[before..]
            .iter()
            .filter(|e| e.node == 2 && e.held)
            .count() as u64;
        out.push((defect.name(), Outcome { takeovers, sent }));
    }
    pair.stop_all();
    drop(watch);
    Ok(out)
}

fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let v: Vec<u8> = s
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad MAC {s:?}"))?;
    v.try_into().map_err(|_| anyhow::anyhow!("bad MAC {s:?}"))
}

/// Internet checksum of `data` with `sum` as the initial value.
fn checksum(data: &[u8], mut sum: u32) -> u16 {
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The Ethernet frame of one defective advert from `src` (MAC `mac`).
fn frame(defect: Defect, mac: [u8; 6], src: Ipv4Addr, interval: Interval) -> Vec<u8> {
    let dst = Ipv4Addr::new(224, 0, 0, 18);
    let vip: Ipv4Addr = VIP.parse().expect("VIP");
    let mut vrrp = match defect {
        // RFC 3768: version 2, type 1, VRID, priority, count, auth type 0, advert int
        // (s), checksum, address, 8 bytes of authentication data.
        Defect::WrongVersion => vec![0x21, 51, 100, 1, 0, 1, 0, 0],
        // RFC 5798: version 3, type 1, VRID, priority, count, max advert int (cs).
        _ => {
            let cs = (interval.0 as u16) & 0x0fff;
            vec![0x31, 51, 100, 1, (cs >> 8) as u8, cs as u8, 0, 0]
        }
    };
    vrrp.extend(vip.octets());
    if defect == Defect::WrongVersion {
        vrrp.extend([0u8; 8]);
    }
    let sum = if defect == Defect::WrongVersion {
        checksum(&vrrp, 0)
    } else {
        // IPv4 pseudo-header: source, destination, zero, protocol, length.
        let mut pseudo = Vec::new();
        pseudo.extend(src.octets());
        pseudo.extend(dst.octets());
        pseudo.extend([0, 112]);
        pseudo.extend((vrrp.len() as u16).to_be_bytes());
        let partial = !checksum(&pseudo, 0);
        checksum(&vrrp, u32::from(partial))
    };
    let sum = if defect == Defect::BadChecksum {
        sum ^ 0x5a5a
    } else {
        sum
    };
    vrrp[6..8].copy_from_slice(&sum.to_be_bytes());
    let ttl = if defect == Defect::Ttl64 { 64 } else { 255 };
    let total = (20 + vrrp.len()) as u16;
    let mut ip = vec![0x45, 0xc0];
    ip.extend(total.to_be_bytes());
    ip.extend([0, 0, 0, 0, ttl, 112, 0, 0]);
    ip.extend(src.octets());
    ip.extend(dst.octets());
    let ip_sum = checksum(&ip, 0);
    ip[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    let mut f = vec![0x01, 0x00, 0x5e, 0x00, 0x00, 0x12];
    f.extend(mac);
    f.extend([0x08, 0x00]);
    f.extend(ip);
    f.extend(vrrp);
    f
}

/// Sends `frame` on `eth0` every `every` for `duration` (AF_PACKET); runs inside the
/// sender's namespace. Returns how many went out.
fn send_every(frame: &[u8], every: Duration, duration: Duration) -> Result<u64> {
    let name = CString::new("eth0")?;
    // SAFETY: valid C string.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Err(std::io::Error::last_os_error()).context("no eth0");
    }
    // SAFETY: plain syscall; the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("AF_PACKET socket");
    }
    // SAFETY: fresh fd we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_ifindex = ifindex as i32;
    addr.sll_halen = 6;
    addr.sll_addr[..6].copy_from_slice(&frame[..6]);
    let start = Instant::now();
    let mut next = start;
    let mut sent = 0;
    while start.elapsed() < duration {
        // SAFETY: valid fd, buffer and address.
        let rc = unsafe {
            libc::sendto(
                sock.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc >= 0 {
            sent += 1;
        }
        next += every;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_what_they_claim() {
        let mac = [2, 0, 0, 0, 0, 200];
        let src = Ipv4Addr::new(10, 0, 0, 200);
        let good_ip = |f: &[u8]| checksum(&f[14..34], 0) == 0;
        let vrrp_ok_v3 = |f: &[u8]| {
            let v = &f[34..];
            let mut pseudo = Vec::new();
            pseudo.extend(src.octets());
            pseudo.extend([224, 0, 0, 18, 0, 112]);
            pseudo.extend((v.len() as u16).to_be_bytes());
            checksum(v, u32::from(!checksum(&pseudo, 0))) == 0
        };
        let ttl = frame(Defect::Ttl64, mac, src, Interval(10));
        assert!(good_ip(&ttl) && vrrp_ok_v3(&ttl));
        assert_eq!((ttl[22], ttl[34], ttl[35], ttl[39]), (64, 0x31, 51, 10));
        let bad = frame(Defect::BadChecksum, mac, src, Interval(10));
        assert!(good_ip(&bad) && !vrrp_ok_v3(&bad));
        assert_eq!(bad[22], 255);
        let v2 = frame(Defect::WrongVersion, mac, src, Interval(10));
        assert!(good_ip(&v2));
        assert_eq!((v2[34], v2.len()), (0x21, 14 + 20 + 20));
        assert_eq!(checksum(&v2[34..], 0), 0);
    }
}
