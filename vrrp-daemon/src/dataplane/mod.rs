//! The XDP program as the daemon sees it: load, attach, fill INSTANCES, read PEERS, take the
//! EVENTS ring buffer, sum the counters.
//!
//! The object is built by `build.rs` and embedded in the binary, so the daemon that runs is
//! always the one whose map layouts it was compiled with (`vrrp-common`).
pub mod kernel;

use anyhow::{Context as _, Result, anyhow, bail};
use aya::{
    Ebpf,
    maps::{Array, HashMap, MapData, PerCpuArray, RingBuf},
    programs::{TestRun, TestRunOptions, Xdp, XdpMode},
};
use tracing::{info, warn};
use vrrp_common::{
    FAMILY_V4, FAMILY_V6, InstanceConfig, InstanceKey, PeerState, TtlBounds, UnicastPeerKey,
    VipKey, VipOwner, XDP_PROGRAM, counter, maps,
};

/// The XDP object embedded at build time (empty when the eBPF toolchain was missing).
static XDP_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vrrp-xdp"));

/// The loaded program and the maps the daemon uses.
pub struct Dataplane {
    ebpf: Ebpf,
    instances: HashMap<MapData, InstanceKey, InstanceConfig>,
    peers: HashMap<MapData, InstanceKey, PeerState>,
    unicast_peers: HashMap<MapData, UnicastPeerKey, TtlBounds>,
    vips: HashMap<MapData, VipKey, VipOwner>,
    heartbeat: Array<MapData, u64>,
    ifaces: HashMap<MapData, u32, u32>,
    counters: PerCpuArray<MapData, u64>,
    events: Option<RingBuf<MapData>>,
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
        let program: &mut Xdp = ebpf
            .program_mut(XDP_PROGRAM)
            .ok_or_else(|| anyhow!("program {XDP_PROGRAM} missing from the object"))?
            .try_into()?;
        program
            .load()
            .context("the kernel's verifier rejected the XDP program")?;
        let mut take = |name: &str| {
            ebpf.take_map(name)
                .ok_or_else(|| anyhow!("map {name} missing from the object"))
        };
        let instances = HashMap::try_from(take(maps::INSTANCES)?)?;
        let peers = HashMap::try_from(take(maps::PEERS)?)?;
        let unicast_peers = HashMap::try_from(take(maps::UNICAST_PEERS)?)?;
        let vips = HashMap::try_from(take(maps::VIPS)?)?;
        let heartbeat = Array::try_from(take(maps::HEARTBEAT)?)?;
        let ifaces = HashMap::try_from(take(maps::IFACES)?)?;
        let counters = PerCpuArray::try_from(take(maps::COUNTERS)?)?;
        let events = Some(RingBuf::try_from(take(maps::EVENTS)?)?);
        Ok(Self {
            ebpf,
            instances,
            peers,
            unicast_peers,
            vips,
            heartbeat,
            ifaces,
            counters,
            events,
        })
    }

    /// Attach to `ifname`: native mode when the driver supports it, generic otherwise.
    /// veth gets generic mode on purpose: in native mode a frame sent back with `XDP_TX`
    /// (the ARP / ND responder) is dropped unless the peer end runs XDP too.
    ///
    /// The program stays attached while `self` lives and is detached when it is dropped.
    pub fn attach(&mut self, ifname: &str, kind: Option<&str>) -> Result<AttachMode> {
        let program: &mut Xdp = self
            .ebpf
            .program_mut(XDP_PROGRAM)
            .ok_or_else(|| anyhow!("program {XDP_PROGRAM} missing"))?
            .try_into()?;
        if kind == Some("veth") {
            info!(
                interface = ifname,
                "veth: generic XDP, so XDP_TX replies reach the peer"
            );
            program.attach(ifname, XdpMode::Skb).with_context(|| {
                format!(
                    "attaching XDP to {ifname} (is another XDP program attached? \
                     see `ip link show {ifname}`)"
                )
            })?;
            return Ok(AttachMode::Generic);
        }
        match program.attach(ifname, XdpMode::Driver) {
            Ok(_) => Ok(AttachMode::Native),
            Err(native) => {
                warn!(interface = ifname, error = %native, "native XDP unavailable, using generic mode");
                program.attach(ifname, XdpMode::Skb).with_context(|| {
                    format!(
                        "attaching XDP to {ifname} (is another XDP program attached? \
                         see `ip link show {ifname}`)"
                    )
                })?;
                Ok(AttachMode::Generic)
            }
        }
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
        self.vips
            .insert(vip_key(ifindex, addr), owner, 0)
            .context("writing VIPS")?;
        Ok(())
    }

    /// This host no longer owns `addr` on `ifindex`.
    pub fn remove_vip(&mut self, ifindex: u32, addr: std::net::IpAddr) -> Result<()> {
        self.vips
            .remove(&vip_key(ifindex, addr))
            .context("removing from VIPS")?;
        Ok(())
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
        let program: &mut Xdp = self
            .ebpf
            .program_mut(XDP_PROGRAM)
            .ok_or_else(|| anyhow!("program {XDP_PROGRAM} missing"))?
            .try_into()?;
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

fn vip_key(ifindex: u32, addr: std::net::IpAddr) -> VipKey {
    let (family, bytes) = match addr {
        std::net::IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            (FAMILY_V4, b)
        }
        std::net::IpAddr::V6(a) => (FAMILY_V6, a.octets()),
    };
    VipKey {
        ifindex,
        family,
        _pad: [0; 3],
        addr: bytes,
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
