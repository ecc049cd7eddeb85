//! Restart without failover: one daemon hands its instances and its XDP attachment to the
//! next, so an upgrade or `systemctl restart` moves no virtual address.
//!
//! The old daemon, on [`signal`] (the unit's `RestartKillSignal=`, or sent by a new daemon
//! started with `--takeover`), stops without resigning: it tells its crash guardian the
//! stop is planned (so nothing sends priority 0 after it), pins each interface's XDP
//! bpf_link under bpffs (the program keeps observing adverts and answering ARP while no
//! daemon runs), writes each instance's state to the [`state_file`] next to its control
//! socket, and exits leaving the addresses in place.
//!
//! The new daemon loads and verifies its own program first (the slow part), then takes the
//! state file, swaps its program into each pinned link atomically (`BPF_LINK_UPDATE`, see
//! [`crate::dataplane::Dataplane::adopt`]) and resumes each instance
//! ([`crate::vrrp::Event::Resume`]): a master sends its next advert at once, well inside
//! the peers' master-down interval. Its maps start empty and are filled from its own
//! configuration, so a new version may change their layout; what the old maps knew about
//! the peers is relearned from the next advert, and the state file carries what the
//! engines need meanwhile. Counters start again from zero.
use std::{
    io::Write as _,
    net::IpAddr,
    os::unix::fs::OpenOptionsExt as _,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use crate::{track::ScriptState, units::Centiseconds, util::mono_now, vrrp};

/// The signal that asks a running daemon to hand over: `SIGRTMIN+1` (in the unit file:
/// `RestartKillSignal=SIGRTMIN+1`; from a shell: `kill -s RTMIN+1 PID`).
pub fn signal() -> libc::c_int {
    libc::SIGRTMIN() + 1
}

/// Where bpffs is normally mounted (the default of `--bpffs`).
pub const DEFAULT_BPFFS: &str = "/sys/fs/bpf";
/// `statfs.f_type` of bpffs.
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
/// Format of [`Handoff`]; a daemon refuses a state file of another format.
const FORMAT: u32 = 1;
/// A state file older than this is not resumed (the peers have long taken over).
const MAX_AGE: Duration = Duration::from_secs(30);

/// The state file of the daemon whose control socket is `control_socket`: next to it, so
/// that two daemons (one per network namespace, say) never take each other's.
pub fn state_file(control_socket: &Path) -> PathBuf {
    let mut name = control_socket.as_os_str().to_owned();
    name.push(".handoff");
    PathBuf::from(name)
}

/// Where the XDP link of `ifname` in this network namespace is pinned during a handover,
/// on the bpffs mounted at `bpffs`. Interface names are unique within a namespace, and the
/// namespace's inode tells namespaces apart (a bpffs is shared by all of them).
///
/// Each mount of bpffs is a file system of its own: the old and the new daemon must see
/// the same one. systemd mounts /sys/fs/bpf at boot, before any service; a daemon run
/// under `ip netns exec` (which mounts a fresh /sys) needs `--bpffs` pointing at a bpffs
/// mounted outside it.
pub fn link_pin(bpffs: &Path, ifname: &str) -> PathBuf {
    pin_dir(bpffs).join(format!("link-{ifname}"))
}

/// The directory of this network namespace's handover pins: the links ([`link_pin`]),
/// and the program and maps when the successor runs the same object.
pub fn pin_dir(bpffs: &Path) -> PathBuf {
    let netns = std::fs::metadata("/proc/self/ns/net")
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .unwrap_or(0);
    bpffs.join("vrrp-daemon").join(format!("netns{netns}"))
}

/// Make sure [`link_pin`]'s directory exists on a bpffs, mounting bpffs at `bpffs` when
/// nothing is mounted there (as libbpf-based tools do).
pub fn prepare_pin_dir(bpffs: &Path) -> Result<()> {
    mount_bpffs(bpffs)?;
    let dir = pin_dir(bpffs);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))
}

/// Mount bpffs at `bpffs` unless one is mounted there already. Needs CAP_SYS_ADMIN, which
/// the daemon drops after set-up ([`crate::privilege`]), so set-up calls this for the
/// handover to come.
pub fn mount_bpffs(bpffs: &Path) -> Result<()> {
    if !is_bpffs(bpffs) {
        let source = c"bpffs";
        let target =
            std::ffi::CString::new(bpffs.as_os_str().as_encoded_bytes()).context("bpffs path")?;
        let fstype = c"bpf";
        // SAFETY: valid NUL-terminated strings; no data argument.
        let rc = unsafe {
            libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        if rc != 0 {
            bail!(
                "mounting bpffs at {}: {} (mount it: `mount -t bpf bpffs {}`)",
                bpffs.display(),
                std::io::Error::last_os_error(),
                bpffs.display()
            );
        }
    }
    Ok(())
}

fn is_bpffs(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: zeroed statfs is a valid out-parameter; `c` is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0) && st.f_type as i64 == BPF_FS_MAGIC
}

/// What one daemon hands the next.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    /// [`FORMAT`].
    pub format: u32,
    /// The boot it was written in (CLOCK_MONOTONIC restarts with the machine).
    pub boot_id: String,
    /// When it was written, on CLOCK_MONOTONIC.
    pub written_ns: u64,
    /// The daemon that wrote it.
    pub pid: u32,
    /// Instances and their state.
    pub instances: Vec<HandedInstance>,
    /// Health-check histories, so a failing script's weight stays applied.
    pub scripts: Vec<HandedScript>,
    /// The pinned XDP links, per interface.
    pub links: Vec<(String, PathBuf)>,
    /// The writer's XDP object ([`crate::dataplane::object_tag`]).
    #[serde(default)]
    pub object: String,
    /// Whether its program and maps are pinned in [`pin_dir`] for a successor running
    /// the same object.
    #[serde(default)]
    pub program_pinned: bool,
    /// `(interface, sysctl, value before use_vmac changed it)`, restored by whichever daemon
    /// finally stops.
    #[serde(default)]
    pub sysctls: Vec<(String, String, String)>,
}

/// One instance, identified as keepalived does across reloads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HandedInstance {
    /// Its name (logs only).
    pub name: String,
    /// VRID.
    pub vrid: u8,
    /// IPv6 or IPv4.
    pub ipv6: bool,
    /// Interface.
    pub interface: String,
    /// Unicast or multicast.
    pub unicast: bool,
    /// `unicast_src_ip` / `mcast_src_ip`.
    pub src_ip: Option<IpAddr>,
    /// `mcast_dst_ip`.
    pub mcast_dst_ip: Option<IpAddr>,
    /// MASTER, BACKUP or FAULT.
    pub state: String,
    /// The master last heard.
    pub master: Option<(IpAddr, u8)>,
    /// The master's advert interval in use, in centiseconds.
    pub master_adver_int: u32,
}

/// One `vrrp_script`'s rise/fall history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HandedScript {
    /// Its name.
    pub name: String,
    /// Where its rise/fall counting stands.
    pub state: ScriptState,
}

impl HandedInstance {
    /// What the engine resumes from, if this is a state worth resuming.
    pub fn resumed(&self) -> Option<vrrp::Resumed> {
        let state = match self.state.as_str() {
            "MASTER" => vrrp::State::Master,
            "BACKUP" => vrrp::State::Backup,
            _ => return None,
        };
        Some(vrrp::Resumed {
            state,
            master: self.master,
            master_adver_int: Centiseconds(self.master_adver_int),
        })
    }
}

impl Handoff {
    /// A new handoff, stamped now.
    pub fn new(
        instances: Vec<HandedInstance>,
        scripts: Vec<HandedScript>,
        links: Vec<(String, PathBuf)>,
    ) -> Self {
        Self {
            format: FORMAT,
            boot_id: boot_id(),
            written_ns: mono_now().0,
            pid: std::process::id(),
            instances,
            scripts,
            links,
            object: String::new(),
            program_pinned: false,
            sysctls: Vec::new(),
        }
    }

    /// How long ago it was written.
    pub fn age(&self) -> Duration {
        Duration::from_nanos(mono_now().0.saturating_sub(self.written_ns))
    }

    /// Write it atomically (mode 0600) at `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        file.write_all(serde_json::to_string(self)?.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))
    }

    /// Take (read and delete) the state file at `path`, if there is one worth resuming:
    /// same boot, same format, younger than [`MAX_AGE`]. What is not taken is said why.
    pub fn take(path: &Path) -> Result<Option<Self>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let _ = std::fs::remove_file(path);
        let handoff: Self = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a handoff state file", path.display()))?;
        if handoff.format != FORMAT {
            bail!(
                "{}: handoff format {} (this daemon reads {FORMAT}); starting afresh",
                path.display(),
                handoff.format
            );
        }
        if handoff.boot_id != boot_id() {
            bail!("{}: written before the last reboot", path.display());
        }
        if handoff.age() > MAX_AGE {
            bail!(
                "{}: written {:.1} s ago, too old to resume",
                path.display(),
                handoff.age().as_secs_f64()
            );
        }
        Ok(Some(handoff))
    }
}

/// This boot's identity.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Handoff {
        Handoff::new(
            vec![HandedInstance {
                name: "VI_1".into(),
                vrid: 51,
                ipv6: false,
                interface: "eth0".into(),
                unicast: false,
                src_ip: None,
                mcast_dst_ip: None,
                state: "BACKUP".into(),
                master: Some(("10.0.0.1".parse().unwrap(), 150)),
                master_adver_int: 10,
            }],
            Vec::new(),
            vec![("eth0".into(), link_pin(Path::new(DEFAULT_BPFFS), "eth0"))],
        )
    }

    /// A private scratch directory, removed on drop.
    struct Scratch(PathBuf);
    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("handoff-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn state_file_sits_next_to_the_control_socket() {
        assert_eq!(
            state_file(Path::new("/run/vrrp-daemon.sock")),
            Path::new("/run/vrrp-daemon.sock.handoff")
        );
    }

    #[test]
    fn a_written_handoff_is_taken_once() {
        let dir = Scratch::new("once");
        let path = dir.0.join("x.handoff");
        let h = sample();
        h.write(&path).unwrap();
        assert_eq!(Handoff::take(&path).unwrap(), Some(h));
        assert_eq!(Handoff::take(&path).unwrap(), None, "taken, so deleted");
    }

    #[test]
    fn a_stale_or_foreign_handoff_is_refused_and_deleted() {
        let dir = Scratch::new("stale");
        let path = dir.0.join("x.handoff");
        for spoil in [
            (|h: &mut Handoff| h.written_ns = 1) as fn(&mut Handoff),
            |h| h.boot_id = "another boot".into(),
            |h| h.format = FORMAT + 1,
        ] {
            let mut h = sample();
            spoil(&mut h);
            h.write(&path).unwrap();
            let err = Handoff::take(&path).unwrap_err().to_string();
            assert!(err.contains("x.handoff"), "{err}");
            assert!(!path.exists());
        }
        std::fs::write(&path, "garbage").unwrap();
        assert!(Handoff::take(&path).is_err());
    }

    #[test]
    fn only_master_and_backup_are_resumed() {
        let mut i = sample().instances.remove(0);
        let r = i.resumed().unwrap();
        assert_eq!(r.state, vrrp::State::Backup);
        assert_eq!(r.master_adver_int, Centiseconds(10));
        i.state = "FAULT".into();
        assert_eq!(i.resumed(), None);
    }

    #[test]
    fn link_pins_are_per_namespace_and_interface() {
        let bpffs = Path::new(DEFAULT_BPFFS);
        let p = link_pin(bpffs, "eth0");
        assert!(p.starts_with("/sys/fs/bpf/vrrp-daemon"));
        assert_eq!(p.file_name().unwrap(), "link-eth0");
        let netns = p.parent().unwrap().file_name().unwrap().to_str().unwrap();
        assert!(netns.starts_with("netns"), "{netns}");
        assert_ne!(link_pin(bpffs, "eth1"), p);
    }
}
