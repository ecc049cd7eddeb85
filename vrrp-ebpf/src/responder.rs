//! The ARP and neighbour-discovery responder for the virtual addresses this host owns.
//!
//! A request for an address in `VIPS` on the interface it belongs to is turned into the
//! reply in place and sent back with `XDP_TX`: no trip through the stack, no matter how busy
//! the host is. The answer is gated on the daemon's heartbeat: when the daemon has been
//! silent longer than the instance's master-down interval (hung, SIGSTOPped), requests for
//! its addresses are dropped instead — the kernel would otherwise keep answering for the
//! still-configured address and keep traffic on a host whose daemon no longer advertises,
//! while a backup has taken over. Gratuitous ARPs and unsolicited NAs stay in userspace.
use aya_ebpf::{
    bindings::xdp_action::{XDP_DROP, XDP_PASS, XDP_TX},
    helpers::bpf_ktime_get_ns,
    macros::map,
    maps::{Array, HashMap},
    programs::XdpContext,
};
use vrrp_common::{FAMILY_V4, FAMILY_V6, VipKey, VipOwner, counter};

use crate::observer::{bump, fold, load, word_sum};

/// Owned virtual addresses, filled by the daemon on becoming master.
#[map(name = "VIPS")]
static VIPS: HashMap<VipKey, VipOwner> = HashMap::with_max_entries(4096, 0);

/// The daemon's heartbeat (CLOCK_MONOTONIC ns), slot 0.
#[map(name = "HEARTBEAT")]
static HEARTBEAT: Array<u64> = Array::with_max_entries(1, 0);

const ARP_LEN: usize = 28;
const ICMPV6_NS: u8 = 135;
const ICMPV6_NA: u8 = 136;
/// NS / NA with one link-layer address option: 24 + 8 bytes.
const ND_LEN: usize = 32;

/// A mutable, bounds-checked pointer to `T` at `off`.
#[inline(always)]
fn ptr_mut<T>(ctx: &XdpContext, off: usize) -> Result<*mut T, ()> {
    let start = ctx.data();
    if start + off + core::mem::size_of::<T>() > ctx.data_end() {
        return Err(());
    }
    Ok((start + off) as *mut T)
}

/// Who answers for `key`, and whether the daemon is alive enough to let it.
#[inline(always)]
fn owner(key: &VipKey) -> Option<Result<VipOwner, ()>> {
    // SAFETY: plain data; a torn read by a concurrent update only changes one answer.
    let owner = *unsafe { VIPS.get(key) }?;
    let heartbeat = HEARTBEAT.get(0).copied().unwrap_or(0);
    // SAFETY: no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    if now.wrapping_sub(heartbeat) > owner.max_silence_ns {
        return Some(Err(()));
    }
    Some(Ok(owner))
}

/// ARP request for an owned IPv4 VIP → ARP reply, in place.
#[inline(always)]
pub fn arp_request(ctx: &XdpContext, l3: usize) -> Result<u32, ()> {
    let arp = load::<[u8; ARP_LEN]>(ctx, l3)?;
    // Ethernet / IPv4 / 6 / 4 / request.
    if arp[0..8] != [0, 1, 0x08, 0x00, 6, 4, 0, 1] {
        return Ok(XDP_PASS);
    }
    let (sha, spa, tpa) = (&arp[8..14], &arp[14..18], &arp[24..28]);
    if spa == tpa {
        // Someone announcing the address (a gratuitous ARP): not a question.
        return Ok(XDP_PASS);
    }
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(tpa);
    let key = VipKey {
        ifindex: ctx.ingress_ifindex() as u32,
        family: FAMILY_V4,
        _pad: [0; 3],
        addr,
    };
    let owner = match owner(&key) {
        None => return Ok(XDP_PASS),
        Some(Err(())) => {
            bump(counter::STALE_DROPPED);
            return Ok(XDP_DROP);
        }
        Some(Ok(owner)) => owner,
    };
    let mut reply = [0u8; ARP_LEN];
    reply[0..6].copy_from_slice(&arp[0..6]);
    reply[7] = 2; // reply
    reply[8..14].copy_from_slice(&owner.mac);
    reply[14..18].copy_from_slice(tpa);
    reply[18..24].copy_from_slice(sha);
    reply[24..28].copy_from_slice(spa);
    let mut eth = [0u8; 12];
    eth[0..6].copy_from_slice(sha);
    eth[6..12].copy_from_slice(&owner.mac);
    // SAFETY: both ranges were bounds-checked by ptr_mut; the frame is ours to rewrite.
    unsafe {
        core::ptr::write_unaligned(ptr_mut::<[u8; 12]>(ctx, 0)?, eth);
        core::ptr::write_unaligned(ptr_mut::<[u8; ARP_LEN]>(ctx, l3)?, reply);
    }
    bump(counter::ARP_REPLIED);
    Ok(XDP_TX)
}

/// Neighbour solicitation for an owned IPv6 VIP → solicited neighbour advertisement, in
/// place. Only the common form is answered here (one source link-layer address option, a
/// specified source); anything else goes to the kernel.
#[inline(always)]
pub fn neighbour_solicitation(ctx: &XdpContext, l3: usize) -> Result<u32, ()> {
    let ip = load::<[u8; 40]>(ctx, l3)?;
    let payload_len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    if ip[0] >> 4 != 6 || ip[7] != 255 || payload_len != ND_LEN {
        return Ok(XDP_PASS);
    }
    let icmp = load::<[u8; ND_LEN]>(ctx, l3 + 40)?;
    // NS, code 0, a source link-layer address option of length 1.
    if icmp[0] != ICMPV6_NS || icmp[1] != 0 || icmp[24] != 1 || icmp[25] != 1 {
        return Ok(XDP_PASS);
    }
    let src = &ip[8..24];
    if src.iter().all(|b| *b == 0) {
        // Duplicate address detection from the unspecified address: leave it to the kernel.
        return Ok(XDP_PASS);
    }
    let mut target = [0u8; 16];
    target.copy_from_slice(&icmp[8..24]);
    let key = VipKey {
        ifindex: ctx.ingress_ifindex() as u32,
        family: FAMILY_V6,
        _pad: [0; 3],
        addr: target,
    };
    let owner = match owner(&key) {
        None => return Ok(XDP_PASS),
        Some(Err(())) => {
            bump(counter::STALE_DROPPED);
            return Ok(XDP_DROP);
        }
        Some(Ok(owner)) => owner,
    };
    let mut requester_mac = [0u8; 6];
    requester_mac.copy_from_slice(&icmp[26..32]);

    // IPv6 header: back to the solicitor, from the target.
    let mut ip6 = ip;
    ip6[8..24].copy_from_slice(&target);
    ip6[24..40].copy_from_slice(src);
    // ICMPv6 NA: Solicited + Override, target, target link-layer address option.
    let mut na = [0u8; ND_LEN];
    na[0] = ICMPV6_NA;
    na[4] = 0x60;
    na[8..24].copy_from_slice(&target);
    na[24] = 2;
    na[25] = 1;
    na[26..32].copy_from_slice(&owner.mac);
    // Checksum over the pseudo-header {src, dst, length, next header 58} and the message.
    let mut sum = ND_LEN as u64 + 58;
    let mut i = 8;
    while i < 40 {
        sum += word_sum([ip6[i], ip6[i + 1], ip6[i + 2], ip6[i + 3]]);
        i += 4;
    }
    let mut j = 0;
    while j < ND_LEN {
        sum += word_sum([na[j], na[j + 1], na[j + 2], na[j + 3]]);
        j += 4;
    }
    let csum = !(fold(sum) as u16);
    na[2..4].copy_from_slice(&csum.to_be_bytes());
    let mut eth = [0u8; 12];
    eth[0..6].copy_from_slice(&requester_mac);
    eth[6..12].copy_from_slice(&owner.mac);
    // SAFETY: all three ranges are bounds-checked by ptr_mut.
    unsafe {
        core::ptr::write_unaligned(ptr_mut::<[u8; 12]>(ctx, 0)?, eth);
        core::ptr::write_unaligned(ptr_mut::<[u8; 40]>(ctx, l3)?, ip6);
        core::ptr::write_unaligned(ptr_mut::<[u8; ND_LEN]>(ctx, l3 + 40)?, na);
    }
    bump(counter::NA_SENT);
    Ok(XDP_TX)
}
