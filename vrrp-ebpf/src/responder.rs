//! The ARP and neighbour-discovery responder for the virtual addresses this host owns.
//!
//! A request for an address in `VIPS_V4` / `VIPS_V6` on the interface it belongs to is
//! turned into the reply in place and sent back with `XDP_TX`: no trip through the stack,
//! no matter how busy the host is. The answer is gated on the daemon's heartbeat: when the
//! daemon has been silent longer than the instance's master-down interval (hung,
//! SIGSTOPped), requests for its addresses are dropped instead — the kernel would otherwise
//! keep answering for the still-configured address and keep traffic on a host whose daemon
//! no longer advertises, while a backup has taken over. Gratuitous ARPs and unsolicited NAs
//! stay in userspace.
use aya_ebpf::{
    bindings::xdp_action::{XDP_DROP, XDP_PASS, XDP_TX},
    helpers::bpf_ktime_get_ns,
    macros::map,
    maps::{Array, HashMap},
    programs::XdpContext,
};
use vrrp_common::{VipKeyV4, VipKeyV6, VipOwner, counter};

use crate::observer::{bump, fold, load, ptr_at, word_sum};

/// Owned IPv4 virtual addresses, filled by the daemon on becoming master.
#[map(name = "VIPS_V4")]
static VIPS_V4: HashMap<VipKeyV4, VipOwner> = HashMap::with_max_entries(4096, 0);

/// Owned IPv6 virtual addresses, filled by the daemon on becoming master.
#[map(name = "VIPS_V6")]
static VIPS_V6: HashMap<VipKeyV6, VipOwner> = HashMap::with_max_entries(4096, 0);

/// The daemon's heartbeat (CLOCK_MONOTONIC ns), slot 0.
#[map(name = "HEARTBEAT")]
static HEARTBEAT: Array<u64> = Array::with_max_entries(1, 0);

const ARP_LEN: usize = 28;
/// The fixed part of an ARP request we answer: Ethernet / IPv4 / 6 / 4 / request.
const ARP_REQUEST_HEAD: [u8; 8] = [0, 1, 0x08, 0x00, 6, 4, 0, 1];
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

/// Whether the daemon's last heartbeat is recent enough to answer for a VIP whose
/// instance tolerates `max_silence_ns` of silence (its master-down interval).
#[inline(always)]
fn alive(max_silence_ns: u64) -> bool {
    let heartbeat = HEARTBEAT.get(0).copied().unwrap_or(0);
    // SAFETY: no preconditions.
    let now = unsafe { bpf_ktime_get_ns() };
    now.wrapping_sub(heartbeat) <= max_silence_ns
}

/// Who answers for an IPv6 VIP, and whether the daemon is alive enough to let it.
#[inline(always)]
fn owner_v6(key: &VipKeyV6) -> Option<Result<VipOwner, ()>> {
    // SAFETY: plain data; a torn read by a concurrent update only changes one answer.
    let owner = *unsafe { VIPS_V6.get(key) }?;
    if !alive(owner.max_silence_ns) {
        return Some(Err(()));
    }
    Some(Ok(owner))
}

/// ARP request for an owned IPv4 VIP → ARP reply, in place.
///
/// This is the hot path of the responder (a client re-ARPing after a takeover), so it
/// reads only the fields it needs straight from the frame, builds an 8-byte key with no
/// stack copies, makes one hash lookup, and writes only the bytes that change.
#[inline(always)]
pub fn arp_request(ctx: &XdpContext, l3: usize) -> Result<u32, ()> {
    let arp = ptr_at::<[u8; ARP_LEN]>(ctx, l3)?;
    // SAFETY: ptr_at checked that all ARP_LEN bytes are inside the frame; the fields are
    // plain bytes read at constant offsets from it.
    let (head, sha, spa, tpa) = unsafe {
        (
            core::ptr::read_unaligned(arp as *const [u8; 8]),
            core::ptr::read_unaligned(arp.byte_add(8) as *const [u8; 6]),
            core::ptr::read_unaligned(arp.byte_add(14) as *const [u8; 4]),
            core::ptr::read_unaligned(arp.byte_add(24) as *const [u8; 4]),
        )
    };
    if head != ARP_REQUEST_HEAD {
        return Ok(XDP_PASS);
    }
    if spa == tpa {
        // Someone announcing the address (a gratuitous ARP): not a question.
        return Ok(XDP_PASS);
    }
    let key = VipKeyV4 {
        ifindex: ctx.ingress_ifindex() as u32,
        addr: tpa,
    };
    // SAFETY: plain data; a torn read by a concurrent update only changes one answer.
    let Some(owner) = (unsafe { VIPS_V4.get(&key) }) else {
        return Ok(XDP_PASS);
    };
    let (max_silence_ns, mac) = (owner.max_silence_ns, owner.mac);
    if !alive(max_silence_ns) {
        bump(counter::STALE_DROPPED);
        return Ok(XDP_DROP);
    }
    let eth = ptr_mut::<[u8; 12]>(ctx, 0)?;
    let arp = ptr_mut::<[u8; ARP_LEN]>(ctx, l3)?;
    // SAFETY: both ranges were bounds-checked by ptr_mut; the frame is ours to rewrite.
    // Hardware type, protocol type, lengths and the opcode's high byte (0) stay.
    unsafe {
        core::ptr::write_unaligned(eth as *mut [u8; 6], sha);
        core::ptr::write_unaligned(eth.byte_add(6) as *mut [u8; 6], mac);
        core::ptr::write_unaligned(arp.byte_add(7) as *mut u8, 2); // reply
        core::ptr::write_unaligned(arp.byte_add(8) as *mut [u8; 6], mac);
        core::ptr::write_unaligned(arp.byte_add(14) as *mut [u8; 4], tpa);
        core::ptr::write_unaligned(arp.byte_add(18) as *mut [u8; 6], sha);
        core::ptr::write_unaligned(arp.byte_add(24) as *mut [u8; 4], spa);
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
    let key = VipKeyV6 {
        ifindex: ctx.ingress_ifindex() as u32,
        addr: target,
    };
    let owner = match owner_v6(&key) {
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
