//! `cargo xtask package` makes a .deb that `dpkg -i` installs into a clean root, whose
//! `vrrp-daemon check` runs there (chroot) on the sample configuration, with the unit, man
//! pages and completions where Debian looks for them, and that `dpkg -r` removes again.
//!
//! The package is the debug build's (`--debug`): `cargo xtask test` builds that one anyway,
//! and a release build would cost minutes. The root is an empty directory with a dpkg
//! database, the shell the maintainer scripts need, and the shared libraries of the daemon
//! and the shell (per `ldd`), registered as installed by the host's packages that own
//! them, so dpkg really checks the package's Depends.
mod common;

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use common::{TempDir, assert_docs, assert_success, need_root, xtask};

#[test]
fn the_package_installs_into_a_clean_root_and_its_daemon_checks_the_sample_there() {
    need_root();
    let out = TempDir::new("deb");
    let printed = xtask(&[
        "package",
        "--debug",
        "--output",
        out.path().to_str().unwrap(),
    ]);
    let deb = PathBuf::from(printed.lines().last().expect("the .deb's path").trim());
    assert!(
        deb.starts_with(out.path()) && deb.extension().is_some_and(|e| e == "deb"),
        "xtask package printed {printed:?}"
    );
    assert!(deb.is_file(), "{} is missing", deb.display());

    let root = TempDir::new("dpkg-root");
    let r = root.path();
    for dir in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/log",
        "bin",
    ] {
        fs::create_dir_all(r.join(dir)).unwrap();
    }
    fs::write(r.join("var/lib/dpkg/status"), "").unwrap();
    // The maintainer scripts run in the root, under /bin/sh.
    fs::copy("/bin/sh", r.join("bin/sh")).unwrap();
    let unpacked = TempDir::new("deb-contents");
    let x = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(unpacked.path())
        .output()
        .unwrap();
    assert_success(&x, "dpkg-deb -x");
    provide_libraries(
        r,
        &[
            &unpacked.path().join("usr/sbin/vrrp-daemon"),
            Path::new("/bin/sh"),
        ],
    );

    let install = Command::new("dpkg")
        .arg("--root")
        .arg(r)
        .arg("-i")
        .arg(&deb)
        .output()
        .unwrap();
    assert_success(&install, "dpkg --root ROOT -i");
    let status = Command::new("dpkg-query")
        .arg("--root")
        .arg(r)
        .args(["-W", "-f", "${Status} ${Version}", "vrrp-daemon"])
        .output()
        .unwrap();
    assert_success(&status, "dpkg-query");
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        format!("install ok installed {}-1", env!("CARGO_PKG_VERSION"))
    );

    let sample = "/usr/share/doc/vrrp-daemon/examples/keepalived.conf";
    let check = Command::new("chroot")
        .arg(r)
        .args(["/usr/sbin/vrrp-daemon", "check", "-f", sample])
        .output()
        .unwrap();
    assert_success(&check, "chroot ROOT vrrp-daemon check -f SAMPLE");
    assert!(
        String::from_utf8_lossy(&check.stderr).contains("configuration valid: 1 instance(s)"),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let unit = fs::read_to_string(r.join("usr/lib/systemd/system/vrrp-daemon.service")).unwrap();
    let shipped = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/vrrp-daemon.service"),
    )
    .unwrap();
    assert_eq!(unit, shipped);
    assert!(
        unit.contains("\nExecStart=/usr/sbin/vrrp-daemon run "),
        "{unit}"
    );
    assert_docs(
        &r.join("usr/share/man/man8"),
        &[
            r.join("usr/share/bash-completion/completions/vrrp-daemon"),
            r.join("usr/share/zsh/vendor-completions/_vrrp-daemon"),
            r.join("usr/share/fish/vendor_completions.d/vrrp-daemon.fish"),
        ],
    );
    // The package never writes the operator's configuration, and enables nothing.
    assert!(!r.join("etc/keepalived").exists());
    assert!(
        !r.join("etc/systemd/system/multi-user.target.wants")
            .exists()
    );

    let remove = Command::new("dpkg")
        .arg("--root")
        .arg(r)
        .args(["-r", "vrrp-daemon"])
        .output()
        .unwrap();
    assert_success(&remove, "dpkg --root ROOT -r vrrp-daemon");
    assert!(!r.join("usr/sbin/vrrp-daemon").exists());
    assert!(
        !r.join("usr/lib/systemd/system/vrrp-daemon.service")
            .exists()
    );
}

/// Copy the shared libraries `binaries` load (per ldd) into `root` at the same paths, and
/// register the host packages that own them as installed in `root`'s dpkg database.
fn provide_libraries(root: &Path, binaries: &[&Path]) {
    let mut libraries = BTreeSet::new();
    for bin in binaries {
        let out = Command::new("ldd").arg(bin).output().unwrap();
        assert_success(&out, &format!("ldd {}", bin.display()));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)` or
            // `/lib64/ld-linux-x86-64.so.2 (0x...)`; vdso has no path.
            let path = line
                .split("=>")
                .last()
                .and_then(|s| s.split_whitespace().next())
                .filter(|p| p.starts_with('/'));
            if let Some(path) = path {
                libraries.insert(PathBuf::from(path));
            }
        }
    }
    assert!(!libraries.is_empty(), "ldd found no libraries");
    let mut owners = BTreeSet::new();
    for lib in &libraries {
        let to = root.join(lib.strip_prefix("/").unwrap());
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(lib, &to).unwrap();
        owners.insert(owner(lib));
    }
    let mut status = String::new();
    for package in owners {
        let out = Command::new("dpkg-query")
            .args(["-s", &package])
            .output()
            .unwrap();
        assert_success(&out, &format!("dpkg-query -s {package}"));
        status.push_str(String::from_utf8_lossy(&out.stdout).trim_end());
        status.push_str("\n\n");
    }
    fs::write(root.join("var/lib/dpkg/status"), status).unwrap();
}

/// The host package that owns `lib` (`libc6:amd64`), trying the path with and without
/// /usr, as merged-/usr hosts record either.
fn owner(lib: &Path) -> String {
    let text = lib.to_str().unwrap();
    let alias = match text.strip_prefix("/usr") {
        Some(rest) => rest.to_string(),
        None => format!("/usr{text}"),
    };
    for candidate in [text, alias.as_str()] {
        let out = Command::new("dpkg")
            .args(["-S", candidate])
            .output()
            .unwrap();
        if out.status.success() {
            // `libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6`
            let line = String::from_utf8_lossy(&out.stdout);
            return line.split(": ").next().unwrap().trim().to_string();
        }
    }
    panic!("no installed package owns {text}: the root cannot be given its libraries");
}
