//! The guest's initramfs: an uncompressed `newc` cpio archive (the kernel unpacks it
//! without a decompressor, which is faster under emulation) with busybox, iproute2's `ip`,
//! the daemon and test binaries, the shared libraries they link (found with `ldd`), the
//! kernel modules the checks need, and the scripts that run the checks.
use std::{
    collections::BTreeSet,
    fs,
    io::{BufWriter, Write as _},
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result, bail};

/// A `newc` cpio archive being written. Parent directories are added as needed.
pub struct Cpio {
    out: BufWriter<fs::File>,
    ino: u32,
    dirs: BTreeSet<String>,
    files: BTreeSet<String>,
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

impl Cpio {
    pub fn create(path: &Path) -> Result<Self> {
        let file =
            fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self {
            out: BufWriter::new(file),
            ino: 1,
            dirs: BTreeSet::new(),
            files: BTreeSet::new(),
        })
    }

    fn entry(&mut self, path: &str, mode: u32, rdev: (u32, u32), data: &[u8]) -> Result<()> {
        let name = path.trim_start_matches('/');
        let nlink = if mode & 0o170000 == S_IFDIR { 2 } else { 1 };
        let header = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            data.len(),
            0, // dev major
            0, // dev minor
            rdev.0,
            rdev.1,
            name.len() + 1,
            0, // check
        );
        self.ino += 1;
        self.out.write_all(header.as_bytes())?;
        self.out.write_all(name.as_bytes())?;
        self.out.write_all(&[0])?;
        self.pad(header.len() + name.len() + 1)?;
        self.out.write_all(data)?;
        self.pad(data.len())?;
        Ok(())
    }

    fn pad(&mut self, len: usize) -> Result<()> {
        let pad = (4 - len % 4) % 4;
        self.out.write_all(&[0; 3][..pad])?;
        Ok(())
    }

    fn parents(&mut self, path: &str) -> Result<()> {
        let mut prefix = String::new();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            prefix.push('/');
            prefix.push_str(part);
            self.dir(&prefix.clone())?;
        }
        Ok(())
    }

    pub fn dir(&mut self, path: &str) -> Result<()> {
        if self.dirs.contains(path) {
            return Ok(());
        }
        self.parents(path)?;
        self.dirs.insert(path.to_string());
        self.entry(path, S_IFDIR | 0o755, (0, 0), &[])
    }

    /// A regular file; a second file at the same path is skipped (shared libraries).
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> Result<()> {
        if !self.files.insert(path.to_string()) {
            return Ok(());
        }
        self.parents(path)?;
        self.entry(path, S_IFREG | mode, (0, 0), data)
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        if !self.files.insert(path.to_string()) {
            return Ok(());
        }
        self.parents(path)?;
        self.entry(path, S_IFLNK | 0o777, (0, 0), target.as_bytes())
    }

    pub fn char_device(&mut self, path: &str, major: u32, minor: u32) -> Result<()> {
        self.parents(path)?;
        self.entry(path, S_IFCHR | 0o600, (major, minor), &[])
    }

    /// A host executable at `path` in the guest, with every shared library it links at the
    /// same path as on the host.
    pub fn executable(&mut self, path: &str, host: &Path) -> Result<()> {
        let data = fs::read(host).with_context(|| format!("reading {}", host.display()))?;
        self.file(path, 0o755, &data)?;
        for lib in shared_libraries(host)? {
            let data = fs::read(&lib).with_context(|| format!("reading {}", lib.display()))?;
            self.file(&lib.to_string_lossy(), 0o755, &data)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<()> {
        self.entry("TRAILER!!!", 0, (0, 0), &[])?;
        self.out.flush()?;
        Ok(())
    }
}

/// The shared libraries `ldd` lists for `bin` (none for a static binary).
fn shared_libraries(bin: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .context("running ldd (package libc-bin)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("not a dynamic executable") {
        return Ok(Vec::new());
    }
    let mut libs = Vec::new();
    for line in text.lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
        // "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vDSO has no file.
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim(),
            None => line.trim(),
        };
        let path = path.split(" (").next().unwrap_or_default().trim();
        if path.starts_with('/') {
            libs.push(PathBuf::from(path));
        } else if line.contains("not found") {
            bail!(
                "{} links a library ldd cannot find: {}",
                bin.display(),
                line.trim()
            );
        }
    }
    Ok(libs)
}

/// Whether `bin` is statically linked.
pub fn is_static(bin: &Path) -> bool {
    shared_libraries(bin).is_ok_and(|libs| libs.is_empty())
}

/// A copy of `bin` without debug information under `dir` (a debug build of the test
/// binaries is several times larger with it); the binary itself when `strip` is missing.
pub fn stripped(bin: &Path, dir: &Path) -> Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let name = bin.file_name().context("binary name")?;
    let out = dir.join(name);
    let ok = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&out)
        .arg(bin)
        .status()
        .is_ok_and(|s| s.success());
    Ok(if ok { out } else { bin.to_path_buf() })
}
