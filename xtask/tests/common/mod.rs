//! Helpers for the packaging tests: temporary roots removed even when a test panics, and
//! running the xtask binary under test.
#![allow(dead_code)] // each test file uses a different part

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::atomic::{AtomicU32, Ordering},
};

/// A directory under the system's temp dir, unique per process and call, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory named `vrrp-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "vrrp-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `cargo xtask ARGS` (the binary this test was built with); panics with its output
/// unless it succeeds, and returns its stdout.
pub fn xtask(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("start the xtask binary");
    assert_success(&out, &format!("cargo xtask {}", args.join(" ")));
    String::from_utf8(out.stdout).unwrap()
}

/// Panics with the command's stdout and stderr unless it exited 0.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The file at `path`, which must exist and not be empty.
pub fn non_empty(path: &Path) -> Vec<u8> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!data.is_empty(), "{} is empty", path.display());
    data
}

/// A gzipped man page, decompressed with gzip(1).
pub fn gunzip(path: &Path) -> String {
    non_empty(path);
    let out = Command::new("gzip").arg("-dc").arg(path).output().unwrap();
    assert_success(&out, &format!("gzip -dc {}", path.display()));
    String::from_utf8(out.stdout).unwrap()
}

/// Checks the man pages (section 8, one per public subcommand) in `man8`, and each completion script: they complete
/// the public subcommands and not the hidden ones.
pub fn assert_docs(man8: &Path, completions: &[PathBuf]) {
    let page = gunzip(&man8.join("vrrp-daemon.8.gz"));
    assert!(
        page.lines().any(|l| l.starts_with(".TH vrrp-daemon 8 ")),
        "{page}"
    );
    assert!(page.contains("FILES AND SIGNALS"), "{page}");
    let check = gunzip(&man8.join("vrrp-daemon-check.8.gz"));
    assert!(
        check
            .lines()
            .any(|l| l.starts_with(".TH vrrp-daemon-check 8 ")),
        "{check}"
    );
    assert!(check.contains("EXIT STATUS"), "{check}");
    for sub in ["run", "status", "keywords", "completions"] {
        gunzip(&man8.join(format!("vrrp-daemon-{sub}.8.gz")));
    }
    assert!(!man8.join("vrrp-daemon-guardian.8.gz").exists());
    for script in completions {
        let text = String::from_utf8(non_empty(script)).unwrap();
        assert!(
            text.contains("check") && text.contains("use-file"),
            "{}",
            script.display()
        );
        assert!(
            !text.contains("guardian") && !text.contains("manpages"),
            "{} completes a hidden subcommand",
            script.display()
        );
    }
}

/// Fails unless root: dpkg and chroot need it (`cargo xtask test` runs as root).
pub fn need_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the packaging tests run dpkg and chroot and need root (cargo xtask test)"
    );
}
