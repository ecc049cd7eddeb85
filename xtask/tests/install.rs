//! `cargo xtask install --root DIR` puts the binary, the unit (pointing at that binary),
//! the sample configuration, man pages and completions under DIR/usr/local, leaves an
//! existing keepalived.conf alone, does not reload systemd for a foreign root, and can run
//! again over its own installation.
mod common;

use std::{fs, os::unix::fs::PermissionsExt as _, process::Command};

use common::{TempDir, assert_docs, assert_success, xtask};

#[test]
fn install_into_a_root_puts_every_file_in_place_and_keeps_keepalived_conf() {
    let root = TempDir::new("install-root");
    let r = root.path();
    let conf = r.join("etc/keepalived/keepalived.conf");
    fs::create_dir_all(conf.parent().unwrap()).unwrap();
    let mine = "! the operator's own configuration\n";
    fs::write(&conf, mine).unwrap();

    for run in 0..2 {
        let printed = xtask(&["install", "--debug", "--root", r.to_str().unwrap()]);
        let local = r.join("usr/local");
        let bin = local.join("sbin/vrrp-daemon");
        assert!(
            printed.contains(&format!("installed {}", bin.display())),
            "run {run}: {printed}"
        );
        assert!(printed.contains("no daemon-reload"), "run {run}: {printed}");
        assert!(
            printed.contains(&format!("left {} as it is", conf.display())),
            "run {run}: {printed}"
        );
        assert_eq!(fs::read_to_string(&conf).unwrap(), mine, "run {run}");
        assert_eq!(
            fs::metadata(&bin).unwrap().permissions().mode() & 0o777,
            0o755
        );

        let unit =
            fs::read_to_string(local.join("lib/systemd/system/vrrp-daemon.service")).unwrap();
        let exec: Vec<&str> = unit
            .lines()
            .filter(|l| l.starts_with("ExecStart="))
            .collect();
        assert_eq!(
            exec,
            ["ExecStart=/usr/local/sbin/vrrp-daemon run -f /etc/keepalived/keepalived.conf"],
            "{unit}"
        );

        let sample = local.join("share/doc/vrrp-daemon/examples/keepalived.conf");
        let check = Command::new(&bin)
            .arg("check")
            .arg("-f")
            .arg(&sample)
            .output()
            .unwrap();
        assert_success(&check, "installed vrrp-daemon check -f SAMPLE");

        assert_docs(
            &local.join("share/man/man8"),
            &[
                local.join("share/bash-completion/completions/vrrp-daemon"),
                local.join("share/zsh/site-functions/_vrrp-daemon"),
                local.join("share/fish/vendor_completions.d/vrrp-daemon.fish"),
            ],
        );
    }
    // Nothing outside /usr/local and the untouched configuration.
    let mut top: Vec<String> = fs::read_dir(r)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["etc", "usr"]);
    assert_eq!(
        fs::read_dir(r.join("usr")).unwrap().count(),
        1,
        "only usr/local"
    );
}
