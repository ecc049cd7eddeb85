//! Debian's kernel packages, fetched with `apt-get download` through a private apt
//! configuration (its own sources list, lists, cache and status file under `target/vm/apt/`;
//! the system's apt sources are never read or changed), cached between runs, and unpacked.
use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result, bail};

/// A kernel line to boot: which Debian release ships it.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// As given to `--kernel`.
    pub label: &'static str,
    /// Debian suite whose `linux-image-cloud-amd64` is this kernel.
    pub suite: &'static str,
}

/// Debian 11 ships 5.10, Debian 12 ships 6.1. The cloud flavour boots fast and has BPF,
/// BTF, XDP, network namespaces, and veth and the bridge as modules.
pub const TARGETS: &[Target] = &[
    Target {
        label: "5.10",
        suite: "bullseye",
    },
    Target {
        label: "6.1",
        suite: "bookworm",
    },
];

/// The meta package whose dependency names the current kernel of a suite.
const META: &str = "linux-image-cloud-amd64";

/// An unpacked kernel package.
pub struct Kernel {
    /// `uname -r` of the kernel, e.g. `5.10.0-32-cloud-amd64`.
    pub release: String,
    /// The package file it came from.
    pub deb: PathBuf,
    /// Whether this run downloaded it (else it came from the cache).
    pub downloaded: bool,
    /// `boot/vmlinuz-RELEASE`.
    pub vmlinuz: PathBuf,
    /// `lib/modules/RELEASE`.
    pub modules: PathBuf,
}

/// The private apt configuration of one suite.
struct Apt {
    dir: PathBuf,
}

impl Apt {
    fn new(vm_dir: &Path, suite: &str) -> Result<Self> {
        let dir = vm_dir.join("apt").join(suite);
        for sub in [
            "etc/sources.list.d",
            "etc/preferences.d",
            "lists/partial",
            "cache/archives/partial",
        ] {
            fs::create_dir_all(dir.join(sub))?;
        }
        fs::write(
            dir.join("etc/sources.list"),
            format!(
                "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] \
                 http://deb.debian.org/debian {suite} main\n"
            ),
        )?;
        if !dir.join("status").exists() {
            fs::write(dir.join("status"), "")?;
        }
        Ok(Self { dir })
    }

    /// `program` (apt-get or apt-cache) with every path pointed into this configuration.
    fn command(&self, program: &str) -> Command {
        let d = |p: &str| self.dir.join(p).display().to_string();
        let mut cmd = Command::new(program);
        for (key, value) in [
            ("Dir::Etc::SourceList", d("etc/sources.list")),
            ("Dir::Etc::SourceParts", d("etc/sources.list.d")),
            ("Dir::Etc::Preferences", d("etc/preferences")),
            ("Dir::Etc::PreferencesParts", d("etc/preferences.d")),
            ("Dir::State::Lists", d("lists")),
            ("Dir::State::status", d("status")),
            ("Dir::Cache", d("cache")),
            ("APT::Architecture", "amd64".into()),
            ("APT::Architectures", "amd64".into()),
            ("Acquire::Languages", "none".into()),
            ("Debug::NoLocking", "1".into()),
            // Root downloading into a directory `_apt` cannot write: no sandbox warning.
            ("APT::Sandbox::User", "root".into()),
            (
                "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled",
                "false".into(),
            ),
            (
                "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled",
                "false".into(),
            ),
            (
                "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled",
                "false".into(),
            ),
            (
                "Acquire::IndexTargets::deb::CNF::DefaultEnabled",
                "false".into(),
            ),
        ] {
            cmd.arg("-o").arg(format!("{key}={value}"));
        }
        cmd
    }

    fn output(&self, program: &str, args: &[&str], cwd: Option<&Path>) -> Result<String> {
        let mut cmd = self.command(program);
        cmd.args(args);
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
        let out = cmd
            .output()
            .with_context(|| format!("could not run {program}; is this a Debian host?"))?;
        if !out.status.success() {
            bail!(
                "{program} {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The kernel of `target`: from the cache when a package was fetched before, otherwise
/// fetched now (about 25 MB). Returns it unpacked under `target/vm/kernels/`.
pub fn kernel(vm_dir: &Path, target: &Target) -> Result<Kernel> {
    let debs = vm_dir.join("debs");
    fs::create_dir_all(&debs)?;
    // The package chosen the first time is kept: a later point release does not make
    // the run download again. `rm -r target/vm` refreshes.
    let chosen = vm_dir.join(format!("kernel-{}.deb-name", target.label));
    let cached = fs::read_to_string(&chosen)
        .ok()
        .map(|name| debs.join(name.trim()))
        .filter(|p| p.exists());
    let (deb, downloaded) = match cached {
        Some(deb) => (deb, false),
        None => {
            let deb = download(vm_dir, target, &debs)?;
            let name = deb.file_name().context("package path")?.to_string_lossy();
            fs::write(&chosen, name.as_bytes())?;
            (deb, true)
        }
    };
    unpack(vm_dir, &deb, downloaded)
}

fn download(vm_dir: &Path, target: &Target, debs: &Path) -> Result<PathBuf> {
    let apt = Apt::new(vm_dir, target.suite)?;
    eprintln!(
        "xtask: vm-test: fetching Debian {}'s package index (private apt configuration in {})",
        target.suite,
        apt.dir.display()
    );
    apt.output("apt-get", &["update", "-q"], None)?;
    let depends = apt.output("apt-cache", &["depends", META], None)?;
    let package = depends
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .with_context(|| format!("{META} in {} names no kernel package", target.suite))?
        .to_string();
    eprintln!("xtask: vm-test: apt-get download {package}");
    apt.output("apt-get", &["download", "-q", &package], Some(debs))?;
    let prefix = format!("{package}_");
    let mut found: Vec<PathBuf> = list_debs(debs)?
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
        .collect();
    // Newest last: the one just downloaded if an older version is lying there too.
    found.sort_by_key(|p| fs::metadata(p).and_then(|m| m.modified()).ok());
    found.pop().with_context(|| {
        format!(
            "apt-get download {package} left no package in {}",
            debs.display()
        )
    })
}

fn list_debs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for entry in fs::read_dir(dir)? {
        let p = entry?.path();
        if p.extension().is_some_and(|e| e == "deb") {
            v.push(p);
        }
    }
    Ok(v)
}

fn unpack(vm_dir: &Path, deb: &Path, downloaded: bool) -> Result<Kernel> {
    let stem = deb.file_stem().context("package name")?.to_string_lossy();
    let root = vm_dir.join("kernels").join(stem.as_ref());
    let done = root.join(".unpacked");
    if !done.exists() {
        if root.exists() {
            fs::remove_dir_all(&root)?;
        }
        fs::create_dir_all(&root)?;
        let status = Command::new("dpkg-deb")
            .arg("-x")
            .arg(deb)
            .arg(&root)
            .status()
            .context("running dpkg-deb")?;
        if !status.success() {
            bail!("dpkg-deb -x {} failed ({status})", deb.display());
        }
        fs::write(&done, "")?;
    }
    let modules_root = root.join("lib/modules");
    let release = fs::read_dir(&modules_root)
        .with_context(|| format!("{} has no lib/modules", deb.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .next()
        .context("no kernel release under lib/modules")?;
    let vmlinuz = root.join(format!("boot/vmlinuz-{release}"));
    if !vmlinuz.exists() {
        bail!("{} has no {}", deb.display(), vmlinuz.display());
    }
    Ok(Kernel {
        modules: modules_root.join(&release),
        release,
        deb: deb.to_path_buf(),
        downloaded,
        vmlinuz,
    })
}

/// The modules to load for `wanted`, dependencies first, as (name, file). The packages have
/// no `modules.dep` (depmod runs at install), so dependencies come from each module's
/// `.modinfo` section.
pub fn modules(kernel: &Kernel, wanted: &[&str]) -> Result<Vec<(String, PathBuf)>> {
    let mut index = BTreeMap::new();
    index_modules(&kernel.modules.join("kernel"), &mut index)?;
    let mut order = Vec::new();
    for name in wanted {
        add_module(name, &index, &mut order, 0)?;
    }
    Ok(order)
}

fn index_modules(dir: &Path, index: &mut BTreeMap<String, PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            index_modules(&path, index)?;
        } else if let Some(name) = path.file_name().and_then(|n| n.to_str())
            && let Some(stem) = name.split(".ko").next().filter(|_| name.contains(".ko"))
        {
            index.insert(stem.replace('-', "_"), path);
        }
    }
    Ok(())
}

fn add_module(
    name: &str,
    index: &BTreeMap<String, PathBuf>,
    order: &mut Vec<(String, PathBuf)>,
    depth: usize,
) -> Result<()> {
    let name = name.replace('-', "_");
    if order.iter().any(|(n, _)| *n == name) {
        return Ok(());
    }
    if depth > 16 {
        bail!("module dependencies of {name} loop");
    }
    let path = index
        .get(&name)
        .with_context(|| format!("the kernel package has no module {name}"))?;
    let data = module_bytes(path)?;
    for dep in modinfo(&data, "depends")
        .iter()
        .flat_map(|d| d.split(','))
        .filter(|d| !d.is_empty())
    {
        add_module(dep, index, order, depth + 1)?;
    }
    order.push((name, path.clone()));
    Ok(())
}

/// A module file, decompressed when the package compresses modules (`.ko.xz`, `.ko.zst`).
pub fn module_bytes(path: &Path) -> Result<Vec<u8>> {
    let name = path.to_string_lossy();
    let tool = if name.ends_with(".xz") {
        Some("xz")
    } else if name.ends_with(".zst") {
        Some("zstd")
    } else {
        None
    };
    match tool {
        None => fs::read(path).with_context(|| format!("reading {name}")),
        Some(tool) => {
            let out = Command::new(tool)
                .arg("-dc")
                .arg(path)
                .output()
                .with_context(|| format!("{tool} is needed to decompress {name}"))?;
            if !out.status.success() {
                bail!("{tool} -dc {name} failed");
            }
            Ok(out.stdout)
        }
    }
}

/// The values of `key` in a module's `.modinfo` section (`key=value` strings).
fn modinfo(elf: &[u8], key: &str) -> Vec<String> {
    let Some(section) = elf_section(elf, ".modinfo") else {
        return Vec::new();
    };
    section
        .split(|&b| b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .filter_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
        .collect()
}

/// The contents of the section `name` of a little-endian ELF64 file.
fn elf_section<'a>(elf: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(elf.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(elf.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(elf.get(at..at + 8)?.try_into().ok()?));
    if elf.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let shoff = usize::try_from(u64_at(0x28)?).ok()?;
    let shentsize = usize::from(u16_at(0x3a)?);
    let shnum = usize::from(u16_at(0x3c)?);
    let shstrndx = usize::from(u16_at(0x3e)?);
    let header = |i: usize| -> Option<(u32, usize, usize)> {
        let sh = shoff + i * shentsize;
        Some((
            u32_at(sh)?,
            usize::try_from(u64_at(sh + 24)?).ok()?,
            usize::try_from(u64_at(sh + 32)?).ok()?,
        ))
    };
    let (_, names_at, names_len) = header(shstrndx)?;
    let names = elf.get(names_at..names_at + names_len)?;
    (0..shnum).find_map(|i| {
        let (name_off, at, len) = header(i)?;
        let rest = names.get(name_off as usize..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        (&rest[..end] == name.as_bytes())
            .then(|| elf.get(at..at + len))
            .flatten()
    })
}
