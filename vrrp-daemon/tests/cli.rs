//! The command line as an operator meets it: a broken keepalived.conf is refused with file,
//! line and a fix, before anything on the host is touched; `--help` documents the flags.
use std::{path::PathBuf, process::Command};

fn daemon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vrrp-daemon"))
}

fn temp_config(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vrrp-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keepalived.conf");
    std::fs::write(&path, text).unwrap();
    path
}

const BROKEN: &str = "vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 300
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.168.1.100
    }
}
";

#[test]
fn run_with_a_config_error_exits_non_zero_naming_file_and_line() {
    let path = temp_config("run", BROKEN);
    // An interface that does not exist: if the daemon went past the config, it would fail
    // differently (and as root it would start touching the host).
    let out = daemon().arg("run").arg("-f").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let expected = format!("{}:4:", path.display());
    assert!(stderr.contains(&expected), "names file and line: {stderr}");
    assert!(
        stderr.contains("1 to 255"),
        "says what to write instead: {stderr}"
    );
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert!(!stderr.contains("XDP"), "nothing was loaded: {stderr}");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn check_accepts_the_seed_config_and_rejects_a_broken_one() {
    let good = temp_config(
        "good",
        &BROKEN.replace("virtual_router_id 300", "virtual_router_id 51"),
    );
    let out = daemon().arg("check").arg("-f").arg(&good).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = temp_config("bad", BROKEN);
    let out = daemon().arg("check").arg("-f").arg(&bad).output().unwrap();
    assert!(!out.status.success());
    for p in [good, bad] {
        std::fs::remove_dir_all(p.parent().unwrap()).unwrap();
    }
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = daemon()
        .args(["run", "-f", "/nonexistent/keepalived.conf"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("/nonexistent/keepalived.conf"), "{stderr}");
}

#[test]
fn help_documents_every_flag() {
    let out = daemon().args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--use-file", "--log-level", "-f", "-l"] {
        assert!(help.contains(flag), "run --help lacks {flag}:\n{help}");
    }
    let out = daemon().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("run") && help.contains("check"), "{help}");
}
