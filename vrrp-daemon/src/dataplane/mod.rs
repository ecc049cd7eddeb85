//! The XDP program as the daemon sees it: load, attach, fill INSTANCES, read PEERS, take the
//! EVENTS ring buffer, sum the counters.
//!
//! The object is built by `build.rs` and embedded in the binary, so the daemon that runs is
//! always the one whose map layouts it was compiled with (`vrrp-common`).
pub mod kernel;

use std::os::fd::AsFd as _;

use anyhow::{Context as _, Result, anyhow, bail};
use aya::{
    Ebpf,
    maps::Map,
    maps::{Array, HashMap, MapData, PerCpuArray, RingBuf},
    programs::{
        TestRun, TestRunOptions, Xdp, XdpMode,
        links::{FdLink, PinnedLink},
        xdp::XdpLink,
    },
};
use tracing::{info, warn};
use vrrp_common::{
    InstanceConfig, InstanceKey, PeerState, TtlBounds, UnicastPeerKey, VipKeyV4, VipKeyV6,
    VipOwner, XDP_PROGRAM, counter, maps,
};

/// The XDP object embedded at build time (empty when the eBPF toolchain was missing).
static XDP_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp-xdp"));

/// The loaded program and the maps the daemon uses.
pub struct Dataplane {
    /// The object as loaded by this daemon; absent when its program and maps were taken
    /// over from a predecessor's pins ([`Dataplane::from_pins`]).
    ebpf: Option<Ebpf>,
    /// The program taken over from a pin.
    pinned_program: Option<Xdp>,
    instances: HashMap<MapData, InstanceKey, InstanceConfig>,
    peers: HashMap<MapData, InstanceKey, PeerState>,
    unicast_peers: HashMap<MapData, UnicastPeerKey, TtlBounds>,
    vips_v4: HashMap<MapData, VipKeyV4, VipOwner>,
    vips_v6: HashMap<MapData, VipKeyV6, VipOwner>,
    heartbeat: Array<MapData, u64>,
    ifaces: HashMap<MapData, u32, u32>,
    counters: PerCpuArray<MapData, u64>,
    events: Option<RingBuf<MapData>>,
    /// The attachment (a bpf_link) per interface name; dropping one detaches it.
    links: Vec<(String, FdLink)>,
    /// A second handle on every map, by name, for pinning them at a handover: finding
    /// them from the program (`BPF_MAP_GET_FD_BY_ID`) needs CAP_SYS_ADMIN, which the
    /// running daemon has dropped (see [`crate::privilege`]).
    map_handles: Vec<(&'static str, MapData)>,
}

/// A second handle on `map` (its fd duplicated).
fn second_handle(map: &MapData) -> Result<MapData> {
    let fd = map
        .fd()
        .as_fd()
        .try_clone_to_owned()
        .context("duplicating a map's file descriptor")?;
    MapData::from_fd(fd).context("opening a second handle on a map")
}

/// A second handle on a map of the object, as [`second_handle`].
fn second_handle_of(map: &Map) -> Result<MapData> {
    match map {
        Map::HashMap(d) | Map::Array(d) | Map::PerCpuArray(d) | Map::RingBuf(d) => second_handle(d),
        _ => bail!("unexpected map type in the XDP object"),
    }
}

/// A stable fingerprint of the embedded XDP object (FNV-1a 64): a handover reuses the
/// predecessor's loaded program and maps only when it ran the very same object.
pub fn object_tag() -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in XDP_OBJECT {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}-{}", XDP_OBJECT.len())
}

/// Every map of the program, by the name it has in the object and in the kernel.
const MAP_NAMES: [&str; 9] = [
    maps::INSTANCES,
    maps::PEERS,
    maps::UNICAST_PEERS,
    maps::VIPS_V4,
    maps::VIPS_V6,
    maps::HEARTBEAT,
    maps::IFACES,
    maps::COUNTERS,
    maps::EVENTS,
];

/// The pin of the program in a handover directory.
const PROGRAM_PIN: &str = "prog";

fn map_pin(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    dir.join(format!("map-{name}"))
}

/// How the program ended up attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMode {
    /// Driver (native) XDP.
    Native,
    /// Generic (SKB) XDP: the driver has no native support.
    Generic,
}

impl Dataplane {
    /// Load the embedded object into the kernel and verify the program.
    pub fn load() -> Result<Self> {
        if XDP_OBJECT.is_empty() {
            bail!(
                "this vrrp-daemon was built without its XDP program (nightly with rust-src and \
                 bpf-linker were missing at build time); run `cargo xtask build`"
            );
        }
        // A helper this kernel lacks is refused by name, not by a verifier dump.
        kernel::check_program(&kernel::KernelVersion::current()?, XDP_OBJECT)?;
        raise_memlock_limit();
        let mut ebpf = Ebpf::load(XDP_OBJECT)
            .context("loading the XDP object into the kernel (needs root / CAP_BPF)")?;
        #[cfg(feature = "ebpf-log")]
        forward_ebpf_logs(&mut ebpf);
        let program: &mut Xdp = ebpf
            .program_mut(XDP_PROGRAM)
            .ok_or_else(|| anyhow!("program {XDP_PROGRAM} missing from the object"))?
            .try_into()?;
        program
            .load()
            .context("the kernel's verifier rejected the XDP program")?;
        let mut taken = Vec::new();
        for name in MAP_NAMES {
            let map = ebpf
                .take_map(name)
                .ok_or_else(|| anyhow!("map {name} missing from the object"))?;
            taken.push((name, map));
        }
        let mut dataplane = Self::from_maps(|name, _| {
            let i = taken
                .iter()
                .position(|(n, _)| *n == name)
                .ok_or_else(|| anyhow!("map {name} taken twice"))?;
            Ok(taken.swap_remove(i).1)
        })?;
        dataplane.ebpf = Some(ebpf);
        Ok(dataplane)
    }

    /// The typed maps, each taken by name from `map` (given the variant a bare map of
    /// that name is), with a second handle on each for a handover; no program yet.
    fn from_maps(
        mut map: impl FnMut(&'static str, fn(MapData) -> Map) -> Result<Map>,
    ) -> Result<Self> {
        let mut map_handles = Vec::new();
        let mut take = |name: &'static str, variant: fn(MapData) -> Map| {
            let map = map(name, variant)?;
            map_handles.push((name, second_handle_of(&map)?));
            anyhow::Ok(map)
        };
        let instances = HashMap::try_from(take(maps::INSTANCES, Map::HashMap)?)?;
        let peers = HashMap::try_from(take(maps::PEERS, Map::HashMap)?)?;
        let unicast_peers = HashMap::try_from(take(maps::UNICAST_PEERS, Map::HashMap)?)?;
        let vips_v4 = HashMap::try_from(take(maps::VIPS_V4, Map::HashMap)?)?;
        let vips_v6 = HashMap::try_from(take(maps::VIPS_V6, Map::HashMap)?)?;
        let heartbeat = Array::try_from(take(maps::HEARTBEAT, Map::Array)?)?;
        let ifaces = HashMap::try_from(take(maps::IFACES, Map::HashMap)?)?;
        let counters = PerCpuArray::try_from(take(maps::COUNTERS, Map::PerCpuArray)?)?;
        let events = Some(RingBuf::try_from(take(maps::EVENTS, Map::RingBuf)?)?);
        Ok(Self {
            ebpf: None,
            pinned_program: None,
            instances,
            peers,
            unicast_peers,
            vips_v4,
            vips_v6,
            heartbeat,
            ifaces,
            counters,
            events,
            links: Vec::new(),
            map_handles,
        })
    }

    /// Attach to `ifname`: native mode when the driver supports it, generic otherwise.
    /// veth gets generic mode on purpose: in native mode a frame sent back with `XDP_TX`
    /// (the ARP / ND responder) is dropped unless the peer end runs XDP too.
    ///
    /// The program stays attached while `self` lives and is detached when it is dropped.
    pub fn attach(&mut self, ifname: &str, kind: Option<&str>) -> Result<AttachMode> {
        let program = self.program()?;
        if kind == Some("veth") {
            info!(
                interface = ifname,
                "veth: generic XDP, so XDP_TX replies reach the peer"
            );
            let id = program.attach(ifname, XdpMode::Skb).with_context(|| {
                format!(
                    "attaching XDP to {ifname} (is another XDP program attached? \
                     see `ip link show {ifname}`)"
                )
            })?;
            let link = FdLink::try_from(program.take_link(id)?)
                .context("the XDP attachment is not a bpf_link")?;
            self.links.push((ifname.to_string(), link));
            return Ok(AttachMode::Generic);
        }
        let (id, mode) = match program.attach(ifname, XdpMode::Driver) {
            Ok(id) => (id, AttachMode::Native),
            Err(native) => {
                warn!(interface = ifname, error = %native, "native XDP unavailable, using generic mode");
                let id = program.attach(ifname, XdpMode::Skb).with_context(|| {
                    format!(
                        "attaching XDP to {ifname} (is another XDP program attached? \
                         see `ip link show {ifname}`)"
                    )
                })?;
                (id, AttachMode::Generic)
            }
        };
        let link = FdLink::try_from(program.take_link(id)?)
            .context("the XDP attachment is not a bpf_link")?;
        self.links.push((ifname.to_string(), link));
        Ok(mode)
    }

    /// Forget the attachments to `ifname` (the interface was deleted, which detached them).
    pub fn forget_links(&mut self, ifname: &str) {
        self.links.retain(|(name, _)| name != ifname);
    }

    /// The observer program, loaded by this daemon or taken over.
    fn program(&mut self) -> Result<&mut Xdp> {
        if let Some(p) = self.pinned_program.as_mut() {
            return Ok(p);
        }
        let ebpf = self
            .ebpf
            .as_mut()
            .ok_or_else(|| anyhow!("no XDP program loaded"))?;
        Ok(ebpf
            .program_mut(XDP_PROGRAM)
            .ok_or_else(|| anyhow!("program {XDP_PROGRAM} missing"))?
            .try_into()?)
    }

    /// Whether the program and maps were taken over from a predecessor's pins.
    pub fn is_taken_over(&self) -> bool {
        self.pinned_program.is_some()
    }

    /// A `--takeover` restart, old side, when the successor runs the same object: pin the
    /// program and every map in `dir`, so it can carry on with them as they are (peer
    /// records, counters, liveness gate) without loading and verifying anything.
    pub fn pin_program_and_maps(&mut self, dir: &std::path::Path) -> Result<()> {
        let program = self.program()?;
        let _ = std::fs::remove_file(dir.join(PROGRAM_PIN));
        program
            .pin(dir.join(PROGRAM_PIN))
            .context("pinning the XDP program")?;
        for name in MAP_NAMES {
            let (_, map) = self
                .map_handles
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| anyhow!("no handle on the map {name}"))?;
            let path = map_pin(dir, name);
            let _ = std::fs::remove_file(&path);
            map.pin(&path)
                .with_context(|| format!("pinning {}", path.display()))?;
        }
        Ok(())
    }

    /// A `--takeover` restart, new side: the predecessor's program and maps from the pins
    /// [`Dataplane::pin_program_and_maps`] left in `dir` (the pins are removed; the
    /// objects live on through the handles). Nothing is verified again, so this takes
    /// microseconds instead of the verifier's tenths of a second.
    pub fn from_pins(dir: &std::path::Path) -> Result<Self> {
        let program = Xdp::from_pin(
            dir.join(PROGRAM_PIN),
            aya_obj::programs::XdpAttachType::Interface,
        )
        .context("opening the pinned XDP program")?;
        let mut dataplane = Self::from_maps(|name, variant| {
            let path = map_pin(dir, name);
            let map = MapData::from_pin(&path)
                .with_context(|| format!("opening the pinned map {}", path.display()))?;
            Ok(variant(map))
        })?;
        dataplane.pinned_program = Some(program);
        Self::remove_pins(dir);
        Ok(dataplane)
    }

    /// Remove the program and map pins of a handover directory (what is in use lives on).
    pub fn remove_pins(dir: &std::path::Path) {
        let _ = std::fs::remove_file(dir.join(PROGRAM_PIN));
        for name in MAP_NAMES {
            let _ = std::fs::remove_file(map_pin(dir, name));
        }
    }

    /// Forget every instance, address, unicast peer and interface setting, keeping what
    /// the program observed (peers, counters, events): a program taken over is then
    /// configured afresh from this daemon's own configuration.
    pub fn clear_settings(&mut self) {
        fn clear<K: aya::Pod, V: aya::Pod>(map: &mut HashMap<MapData, K, V>) {
            let keys: Vec<K> = map.keys().filter_map(Result::ok).collect();
            for key in keys {
                let _ = map.remove(&key);
            }
        }
        clear(&mut self.instances);
        clear(&mut self.vips_v4);
        clear(&mut self.vips_v6);
        clear(&mut self.unicast_peers);
        clear(&mut self.ifaces);
    }

    /// A `--takeover` restart, old side: pin every attachment at `pin_of(interface)` so the
    /// program keeps running on the interface after this process exits, until the new
    /// daemon swaps its own program in ([`Dataplane::adopt`]). Returns `(interface, pin)`.
    pub fn pin_links(
        &mut self,
        pin_of: impl Fn(&str) -> std::path::PathBuf,
    ) -> Result<Vec<(String, std::path::PathBuf)>> {
        let mut pinned = Vec::new();
        for (ifname, link) in self.links.drain(..) {
            let path = pin_of(&ifname);
            let _ = std::fs::remove_file(&path);
            link.pin(&path).with_context(|| {
                format!("pinning the XDP link of {ifname} at {}", path.display())
            })?;
            pinned.push((ifname, path));
        }
        Ok(pinned)
    }

    /// A `--takeover` restart, new side: take the link the previous daemon pinned at `pin`
    /// and atomically replace its program with this one (`BPF_LINK_UPDATE`): the interface
    /// is never without an XDP program. The pin is removed; the link is then ours and is
    /// detached when `self` is dropped, as after [`Dataplane::attach`].
    pub fn adopt(&mut self, ifname: &str, pin: &std::path::Path) -> Result<()> {
        let pinned = PinnedLink::from_pin(pin)
            .with_context(|| format!("opening the pinned XDP link {}", pin.display()))?;
        let fd = pinned
            .unpin()
            .with_context(|| format!("unpinning {}", pin.display()))?;
        if self.is_taken_over() {
            // The link already runs this very program.
            self.links.push((ifname.to_string(), fd));
            return Ok(());
        }
        let program = self.program()?;
        let link = XdpLink::try_from(fd).context("the pinned link is not an XDP link")?;
        let id = program
            .attach_to_link(link)
            .with_context(|| format!("replacing the program on the XDP link of {ifname}"))?;
        let link = FdLink::try_from(program.take_link(id)?)
            .context("the XDP attachment is not a bpf_link")?;
        self.links.push((ifname.to_string(), link));
        Ok(())
    }

    /// Declare an instance, so the program validates and records its adverts.
    pub fn add_instance(&mut self, key: InstanceKey, config: InstanceConfig) -> Result<()> {
        self.instances
            .insert(key, config, 0)
            .context("writing INSTANCES")?;
        Ok(())
    }

    /// Forget an instance (configuration reload removed it): its adverts are no longer
    /// recorded.
    pub fn remove_instance(&mut self, key: &InstanceKey) -> Result<()> {
        self.instances
            .remove(key)
            .context("removing from INSTANCES")?;
        let _ = self.peers.remove(key);
        self.set_unicast_peers(*key, &[])
    }

    /// This host owns `addr` on `ifindex` now: the XDP program answers ARP / neighbour
    /// solicitations for it with `mac`, as long as heartbeats are younger than
    /// `max_silence_nanos`.
    pub fn add_vip(
        &mut self,
        ifindex: u32,
        addr: std::net::IpAddr,
        mac: [u8; 6],
        max_silence_nanos: u64,
    ) -> Result<()> {
        let owner = VipOwner {
            max_silence_ns: max_silence_nanos,
            mac,
            _pad: [0; 2],
        };
        match addr {
            std::net::IpAddr::V4(a) => self
                .vips_v4
                .insert(vip_key_v4(ifindex, a), owner, 0)
                .context("writing VIPS_V4"),
            std::net::IpAddr::V6(a) => self
                .vips_v6
                .insert(vip_key_v6(ifindex, a), owner, 0)
                .context("writing VIPS_V6"),
        }
    }

    /// This host no longer owns `addr` on `ifindex`.
    pub fn remove_vip(&mut self, ifindex: u32, addr: std::net::IpAddr) -> Result<()> {
        match addr {
            std::net::IpAddr::V4(a) => self
                .vips_v4
                .remove(&vip_key_v4(ifindex, a))
                .context("removing from VIPS_V4"),
            std::net::IpAddr::V6(a) => self
                .vips_v6
                .remove(&vip_key_v6(ifindex, a))
                .context("removing from VIPS_V6"),
        }
    }

    /// Set the per-interface switches ([`vrrp_common::iface_flags`]) of `ifindex`.
    pub fn set_iface_flags(&mut self, ifindex: u32, flags: u32) -> Result<()> {
        self.ifaces
            .insert(ifindex, flags, 0)
            .context("writing IFACES")?;
        Ok(())
    }

    /// Tell the responder the daemon is alive (CLOCK_MONOTONIC ns).
    pub fn heartbeat(&mut self, now_ns: u64) -> Result<()> {
        self.heartbeat
            .set(0, now_ns, 0)
            .context("writing HEARTBEAT")?;
        Ok(())
    }

    /// Declare one `unicast_peer` of an instance with its TTL bounds.
    pub fn add_unicast_peer(
        &mut self,
        instance: InstanceKey,
        addr: std::net::IpAddr,
        bounds: TtlBounds,
    ) -> Result<()> {
        self.unicast_peers
            .insert(unicast_key(instance, addr), bounds, 0)
            .context("writing UNICAST_PEERS")?;
        Ok(())
    }

    /// Make the instance's unicast peers exactly `peers` (reload removes the others).
    pub fn set_unicast_peers(
        &mut self,
        instance: InstanceKey,
        peers: &[(std::net::IpAddr, TtlBounds)],
    ) -> Result<()> {
        let stale: Vec<UnicastPeerKey> = self
            .unicast_peers
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k.instance == instance)
            .collect();
        for key in stale {
            let _ = self.unicast_peers.remove(&key);
        }
        for (addr, bounds) in peers {
            self.add_unicast_peer(instance, *addr, *bounds)?;
        }
        Ok(())
    }

    /// The last valid advert recorded for an instance.
    pub fn peer(&self, key: &InstanceKey) -> Option<PeerState> {
        self.peers.get(key, 0).ok()
    }

    /// Every recorded advert, read with `BPF_MAP_LOOKUP_BATCH` (Linux 5.6): one syscall for
    /// all instances where [`Dataplane::peer`] costs one each; a backup of 200 instances
    /// spent most of its time in those lookups.
    pub fn peers(&self) -> Result<Vec<(InstanceKey, PeerState)>> {
        use aya::maps::IterableMap as _;
        use bytemuck::Zeroable as _;
        use std::os::fd::{AsFd as _, AsRawFd as _};
        /// `union bpf_attr`'s `batch` member (the kernel zero-checks the rest of the union).
        #[repr(C)]
        #[derive(Default)]
        struct BatchAttr {
            in_batch: u64,
            out_batch: u64,
            keys: u64,
            values: u64,
            count: u32,
            map_fd: u32,
            elem_flags: u64,
            flags: u64,
        }
        const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
        /// Entries per call: at most the map's size (no bucket holds more).
        const CHUNK: usize = 256;
        let fd = self.peers.map().fd().as_fd().as_raw_fd();
        let mut out = Vec::new();
        let mut keys = vec![InstanceKey::zeroed(); CHUNK];
        let mut values = vec![PeerState::zeroed(); CHUNK];
        // The hash map's batch token is a bucket index (u32).
        let (mut token, mut first) = (0u32, true);
        loop {
            let mut next = 0u32;
            let mut attr = BatchAttr {
                in_batch: if first { 0 } else { &raw const token as u64 },
                out_batch: &raw mut next as u64,
                keys: keys.as_mut_ptr() as u64,
                values: values.as_mut_ptr() as u64,
                count: CHUNK as u32,
                map_fd: fd as u32,
                ..BatchAttr::default()
            };
            // SAFETY: `attr` points at buffers of `count` keys and values of the map's sizes
            // and at two u32 tokens, all alive for the call.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_bpf,
                    BPF_MAP_LOOKUP_BATCH,
                    &raw mut attr,
                    std::mem::size_of::<BatchAttr>(),
                )
            };
            let err = (rc < 0).then(std::io::Error::last_os_error);
            let n = (attr.count as usize).min(CHUNK);
            out.extend(keys[..n].iter().copied().zip(values[..n].iter().copied()));
            match err {
                None => {}
                // ENOENT: the end of the map (possibly with the last entries above).
                Some(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(out),
                Some(e) => return Err(e).context("reading PEERS (BPF_MAP_LOOKUP_BATCH)"),
            }
            token = next;
            first = false;
        }
    }

    /// Hand the event ring buffer to the event loop (once).
    pub fn take_events(&mut self) -> Option<RingBuf<MapData>> {
        self.events.take()
    }

    /// Counters summed over CPUs, indexed like [`vrrp_common::counter`].
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        (0..counter::COUNT)
            .map(|i| {
                let total = self
                    .counters
                    .get(&i, 0)
                    .map(|per_cpu| per_cpu.iter().sum())
                    .unwrap_or(0);
                (counter::NAMES[i as usize], total)
            })
            .collect()
    }
}

impl Dataplane {
    /// Run the program once on `frame` as if it arrived on `ifindex` (BPF_PROG_TEST_RUN, no
    /// attachment needed) and return the XDP verdict. The maps are the live ones, so tests
    /// can check what the program recorded. The interface must exist in this namespace.
    pub fn test_run(&mut self, frame: &[u8], ifindex: u32) -> Result<u32> {
        Ok(self.test_run_frame(frame, ifindex)?.0)
    }

    /// Average nanoseconds per run of `program` (the observer, or the baseline
    /// [`vrrp_common::XDP_BASELINE_PROGRAM`]) over `repeat` runs on `frame`, measured by the
    /// kernel (BPF_PROG_TEST_RUN).
    pub fn cost_nanos(
        &mut self,
        program: &str,
        frame: &[u8],
        ifindex: u32,
        repeat: u32,
    ) -> Result<(u32, u64)> {
        let program: &mut Xdp = self
            .ebpf
            .as_mut()
            .ok_or_else(|| anyhow!("no XDP object loaded"))?
            .program_mut(program)
            .ok_or_else(|| anyhow!("program {program} missing"))?
            .try_into()?;
        if program.fd().is_err() {
            program.load()?;
        }
        let (result, _) = run_xdp(program, frame, ifindex, repeat)?;
        Ok((result.return_value, result.duration.as_nanos() as u64))
    }

    /// [`Dataplane::test_run`] returning the frame as the program left it too (what
    /// `XDP_TX` would send).
    pub fn test_run_frame(&mut self, frame: &[u8], ifindex: u32) -> Result<(u32, Vec<u8>)> {
        let program = self.program()?;
        let (result, out) = run_xdp(program, frame, ifindex, 1)?;
        Ok((result.return_value, out))
    }
}

/// The loopback device's ifindex, in every network namespace.
const LOOPBACK_IFINDEX: u32 = 1;

/// BPF_PROG_TEST_RUN of `program` on `frame` as if it arrived on `ifindex`, `repeat` times;
/// returns the result and the frame as the program left it. The ingress device is set
/// through an `xdp_md` context, which kernels before 5.15 refuse for XDP (EINVAL): they run
/// the program as if the frame arrived on the namespace's loopback, so there the run is
/// repeated without a context when the loopback was asked for.
fn run_xdp(
    program: &mut Xdp,
    frame: &[u8],
    ifindex: u32,
    repeat: u32,
) -> Result<(aya::programs::TestRunResult, Vec<u8>)> {
    // struct xdp_md { data, data_end, data_meta, ingress_ifindex, rx_queue_index,
    // egress_ifindex }: the kernel wants data_end = the frame's length.
    let mut ctx = [0u8; 24];
    let len = u32::try_from(frame.len()).context("frame too long")?;
    ctx[4..8].copy_from_slice(&len.to_ne_bytes());
    ctx[12..16].copy_from_slice(&ifindex.to_ne_bytes());
    let mut out = vec![0u8; frame.len() + 256];
    let with_ctx = program.test_run(TestRunOptions {
        data_in: Some(frame),
        data_out: Some(&mut out),
        ctx_in: Some(&ctx),
        repeat,
        ..Default::default()
    });
    let result = match with_ctx {
        Err(aya::programs::ProgramError::SyscallError(e))
            if ifindex == LOOPBACK_IFINDEX && e.io_error.raw_os_error() == Some(libc::EINVAL) =>
        {
            program.test_run(TestRunOptions {
                data_in: Some(frame),
                data_out: Some(&mut out),
                repeat,
                ..Default::default()
            })
        }
        other => other,
    }
    .context("BPF_PROG_TEST_RUN")?;
    out.truncate(result.data_size_out as usize);
    Ok((result, out))
}

fn vip_key_v4(ifindex: u32, addr: std::net::Ipv4Addr) -> VipKeyV4 {
    VipKeyV4 {
        ifindex,
        addr: addr.octets(),
    }
}

fn vip_key_v6(ifindex: u32, addr: std::net::Ipv6Addr) -> VipKeyV6 {
    VipKeyV6 {
        ifindex,
        addr: addr.octets(),
    }
}

fn unicast_key(instance: InstanceKey, addr: std::net::IpAddr) -> UnicastPeerKey {
    let mut bytes = [0u8; 16];
    match addr {
        std::net::IpAddr::V4(a) => bytes[..4].copy_from_slice(&a.octets()),
        std::net::IpAddr::V6(a) => bytes = a.octets(),
    }
    UnicastPeerKey {
        instance,
        addr: bytes,
    }
}

/// `--features ebpf-log`: forward the program's aya-log lines to the daemon's log (they
/// arrive as `log` records, which tracing-subscriber picks up; shown at debug level).
#[cfg(feature = "ebpf-log")]
fn forward_ebpf_logs(ebpf: &mut Ebpf) {
    let logger = match aya_log::EbpfLogger::init(ebpf) {
        Ok(logger) => logger,
        Err(e) => {
            warn!(error = %e, "the XDP program's debug log is not available");
            return;
        }
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let _guard = runtime.enter();
    // SAFETY: the logger owns its ring buffer's fd, which stays open and unchanged until
    // the AsyncFd (its owner from here on) is dropped.
    let registered = unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(logger, tokio::io::Interest::READABLE)
    };
    match registered {
        Ok(mut logger) => {
            runtime.spawn(async move {
                loop {
                    let Ok(mut guard) = logger.readable_mut().await else {
                        return;
                    };
                    guard.get_inner_mut().flush();
                    guard.clear_ready();
                }
            });
            info!("forwarding the XDP program's debug log (ebpf-log build)");
        }
        Err(e) => warn!(error = %e, "the XDP program's debug log is not available"),
    }
}

/// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK.
fn raise_memlock_limit() {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit with a valid struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) } != 0 {
        info!("could not raise RLIMIT_MEMLOCK; fine on kernels ≥ 5.11");
    }
}
