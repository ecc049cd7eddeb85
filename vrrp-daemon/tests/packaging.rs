//! The systemd unit shipped in packaging/ is valid (`systemd-analyze verify`, where systemd
//! is installed) and says what the daemon needs: Type=notify, reload by SIGHUP, restart on
//! failure, a bounded capability set.
use std::process::Command;

fn unit() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/vrrp-daemon.service"
    );
    std::fs::read_to_string(path).expect("packaging/vrrp-daemon.service")
}

#[test]
fn the_unit_declares_readiness_reload_restart_and_capabilities() {
    let unit = unit();
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "KillMode=mixed",
        "RestartKillSignal=SIGRTMIN+1",
        "LimitMEMLOCK=infinity",
    ] {
        assert!(unit.lines().any(|l| l == line), "missing `{line}`:\n{unit}");
    }
    let caps = unit
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .expect("a capability bounding set");
    for cap in ["CAP_BPF", "CAP_NET_ADMIN", "CAP_NET_RAW"] {
        assert!(
            caps.split_whitespace().any(|c| c == cap),
            "{cap} missing: {caps}"
        );
    }
}

#[test]
fn systemd_analyze_accepts_the_unit() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    // Point ExecStart at the binary this test was built with, so the check covers it too.
    let dir = std::env::temp_dir().join(format!("vrrp-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vrrp-daemon.service");
    std::fs::write(
        &path,
        unit().replace("/usr/sbin/vrrp-daemon", env!("CARGO_BIN_EXE_vrrp-daemon")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
}
