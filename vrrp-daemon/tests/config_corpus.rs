//! The configuration corpus (`tests/configs/`): realistic keepalived.conf files that
//! `vrrp-daemon check` accepts, through the binary and through `config::load`, and broken
//! variants of them (one injected mistake each) that it rejects at the right line.
use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use vrrp_daemon::config::{self, Family, Severity};

/// `check`'s exit codes (keepalived's `-t` codes).
const OK: i32 = 0;
const ERRORS: i32 = 4;
const WARNINGS: i32 = 5;
const INSECURE_SCRIPTS: i32 = 6;

/// Every corpus configuration: file (under tests/configs), `check`'s exit code, instances.
const CORPUS: &[(&str, i32, usize)] = &[
    ("seed-master.conf", OK, 1),
    ("seed-backup.conf", OK, 1),
    ("seed-nginx-check.conf", OK, 1),
    ("haproxy-lb1.conf", OK, 1),
    ("haproxy-lb2.conf", OK, 1),
    ("vrrpv3-subsecond.conf", OK, 3),
    ("ipv6.conf", OK, 2),
    ("cloud-unicast.conf", OK, 1),
    ("sync-group.conf", OK, 4),
    ("200-instances.conf", OK, 200),
    ("lvs-mixed.conf", OK, 1),
    ("includes/keepalived.conf", OK, 2),
    ("notify-scripts.conf", OK, 1),
    ("tracking.conf", OK, 1),
    ("global-defs-heavy.conf", OK, 1),
    ("strict-owner.conf", OK, 2),
    ("vmac-router.conf", OK, 1),
    ("one-file-two-hosts.conf", OK, 1),
    // Loads, but keepalived -t would report what strict mode changes: exit 5.
    ("strict-sample.conf", WARNINGS, 1),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs")
}

fn check(path: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vrrp-daemon"))
        .arg("check")
        .arg("-f")
        .arg(path)
        .args(extra)
        .output()
        .expect("vrrp-daemon runs")
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("vrrp-corpus-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_corpus_has_every_file_and_at_least_15() {
    assert!(CORPUS.len() >= 15);
    let mut on_disk: Vec<String> = fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".conf"))
        .collect();
    on_disk.push("includes/keepalived.conf".into());
    on_disk.sort();
    let mut listed: Vec<String> = CORPUS.iter().map(|(f, _, _)| (*f).to_owned()).collect();
    listed.sort();
    assert_eq!(listed, on_disk, "every file of tests/configs is in CORPUS");
}

#[test]
fn check_accepts_the_corpus_with_keepalived_exit_codes() {
    for (file, code, instances) in CORPUS {
        let path = corpus_dir().join(file);
        let out = check(&path, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{file}:\n{stderr}");
        assert!(
            out.stdout.is_empty(),
            "{file}: nothing on stdout without --dump"
        );
        assert!(!stderr.contains("error:"), "{file}:\n{stderr}");
        assert!(
            stderr.contains(&format!("configuration valid: {instances} instance(s)")),
            "{file}:\n{stderr}"
        );
        // The dump is the typed model, as JSON.
        let out = check(&path, &["--dump", "json"]);
        assert_eq!(out.status.code(), Some(*code), "{file}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{file}: --dump json is not JSON: {e}"));
        assert_eq!(
            json["instances"].as_array().map(Vec::len),
            Some(*instances),
            "{file}"
        );
    }
}

/// `check -i ID --dump json` of a corpus file.
fn dump_as(file: &str, id: &str) -> serde_json::Value {
    let out = check(&corpus_dir().join(file), &["-i", id, "--dump", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(OK), "{file} -i {id}:\n{stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn one_file_serves_both_hosts_through_the_config_id() {
    let file = "one-file-two-hosts.conf";
    let peers = |i: &serde_json::Value| -> Vec<String> {
        i["unicast"]["peers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["addr"].as_str().unwrap().to_owned())
            .collect()
    };
    for (id, state, priority, src, peer) in [
        ("lb1", "Master", 150, "10.20.30.11", "10.20.30.12"),
        ("lb2", "Backup", 100, "10.20.30.12", "10.20.30.11"),
    ] {
        let d = dump_as(file, id);
        assert_eq!(d["global"]["router_id"], id);
        let i = &d["instances"][0];
        assert_eq!(i["initial_state"], state, "{id}");
        assert_eq!(i["priority"], priority, "{id}");
        assert_eq!(i["src_ip"], src, "{id}");
        assert_eq!(peers(i), [peer], "{id}");
        assert_eq!(i["interface"], "eth0", "{id}");
        // The ~SEQ line: three addresses built from parameters.
        let vips: Vec<String> = i["virtual_addresses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| format!("{}/{} {}", v["addr"], v["prefix_len"], v["dev"]))
            .collect();
        assert_eq!(
            vips,
            [100, 101, 102].map(|h| format!("\"10.20.30.{h}\"/24 \"eth0\"")),
            "{id}"
        );
        // ${_PWD} is the file's directory, absolute; ${_INSTANCE} the id.
        let notify = i["notify"].as_str().unwrap();
        let expected = corpus_dir().canonicalize().unwrap().join("notify.sh");
        assert_eq!(notify, format!("{} {id}", expected.display()));
        // The multi-line definition, used twice: two scripts, located at their uses.
        let scripts: Vec<(String, String, u64)> = d["scripts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_owned(),
                    s["script"].as_str().unwrap().to_owned(),
                    s["location"]["line"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            scripts,
            [
                ("chk_haproxy".into(), "/usr/bin/pgrep -x haproxy".into(), 25),
                ("chk_nginx".into(), "/usr/bin/pgrep -x nginx".into(), 27),
            ]
        );
    }
    // Any other host runs the `@^lb2` lines: lb1's role, with both addresses as peers.
    let d = dump_as(file, "lb3");
    let i = &d["instances"][0];
    assert_eq!(
        (&i["initial_state"], &i["priority"]),
        (&"Master".into(), &150.into())
    );
    assert_eq!(peers(i), ["10.20.30.11", "10.20.30.12"]);
}

#[test]
fn a_config_error_in_an_expanded_line_names_the_line_of_the_use() {
    let dir = TempDir::new("expanded-error");
    let path = dir.0.join("keepalived.conf");
    fs::write(
        &path,
        "$VRID=300\nvrrp_instance VI_1 {\n    interface eth0\n    @lb1 virtual_router_id $VRID\n    \
         virtual_ipaddress {\n        10.0.0.1\n    }\n}\n",
    )
    .unwrap();
    let out = check(&path, &["-i", "lb1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(ERRORS), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:4:", path.display())) && stderr.contains("300"),
        "{stderr}"
    );
    // For another host the line does not exist, and the missing VRID is what is wrong.
    let out = check(&path, &["-i", "lb2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(ERRORS), "{stderr}");
    assert!(stderr.contains("virtual_router_id"), "{stderr}");
    assert!(!stderr.contains(":4:"), "{stderr}");
}

/// keepalived 2.2.7's own sample files (Debian's `keepalived` package, which `cargo xtask
/// test` installs): every one loads, except where refusing is deliberate (README,
/// "keepalived.conf keywords").
#[test]
fn keepalived_s_own_samples_load() {
    let dir = Path::new("/usr/share/doc/keepalived/samples");
    assert!(
        dir.is_dir(),
        "{} is missing: install the Debian package keepalived (`cargo xtask test` does)",
        dir.display()
    );
    let refused = [
        (
            "keepalived.conf.SSL_GET",
            "auth_type AH (IPsec AH) is not supported",
        ),
        (
            "keepalived.conf.conditional_conf",
            "vrrp_script check_VI_0 has no `script`",
        ),
    ];
    let mut samples: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("keepalived.conf."))
        })
        .collect();
    samples.sort();
    assert!(samples.len() >= 20, "{samples:?}");
    for path in &samples {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let out = check(path, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match refused.iter().find(|(n, _)| *n == name) {
            Some((_, why)) => {
                assert_eq!(out.status.code(), Some(ERRORS), "{name}:\n{stderr}");
                assert!(stderr.contains(why), "{name}:\n{stderr}");
            }
            None => assert!(
                matches!(out.status.code(), Some(OK | WARNINGS | INSECURE_SCRIPTS)),
                "{name}:\n{stderr}"
            ),
        }
    }
    // The conditional sample loads for the ids it is written for.
    for id in ["high", "low"] {
        let out = check(&dir.join("keepalived.conf.conditional_conf"), &["-i", id]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(INSECURE_SCRIPTS),
            "-i {id}:\n{stderr}"
        );
    }
}

#[test]
fn the_corpus_loads_through_config_load() {
    for (file, code, instances) in CORPUS {
        let loaded =
            config::load(&corpus_dir().join(file)).unwrap_or_else(|e| panic!("{file}:\n{e}"));
        assert_eq!(loaded.config.instances.len(), *instances, "{file}");
        let warnings = loaded
            .warnings
            .iter()
            .filter(|w| w.severity == Severity::Warning)
            .count();
        assert_eq!(
            warnings > 0,
            *code == WARNINGS,
            "{file}: {:#?}",
            loaded.warnings
        );
    }
    let dir = corpus_dir();
    let load = |f: &str| config::load(&dir.join(f)).unwrap().config;

    let big = load("200-instances.conf");
    let mut ids: Vec<(String, u8)> = big
        .instances
        .iter()
        .map(|i| (i.interface.clone(), i.vrid))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200);
    assert!(big.instances.iter().all(|i| i.track_scripts.len() == 1));

    let v6 = load("ipv6.conf");
    assert_eq!(v6.instances[1].family, Family::Ipv6);
    assert_eq!(v6.instances[1].version, 3);
    assert_eq!(v6.instances[1].virtual_addresses_excluded.len(), 2);

    let cloud = load("cloud-unicast.conf");
    assert!(cloud.instances[0].is_unicast());
    assert_eq!(cloud.instances[0].unicast.peers.len(), 2);

    let sync = load("sync-group.conf");
    assert_eq!(sync.sync_groups.len(), 2);
    assert_eq!(sync.instances[0].sync_group.as_deref(), Some("VG_EDGE"));
    assert_eq!(sync.instances[1].virtual_routes.len(), 2);

    let inc = load("includes/keepalived.conf");
    let names: Vec<&str> = inc.scripts.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["chk_web", "chk_db"]);
    assert_eq!(
        inc.instances[1].location.file,
        dir.join("includes/conf.d/20-db.conf")
    );

    let tracking = load("tracking.conf");
    assert_eq!(tracking.track_files.len(), 2);
    assert_eq!(tracking.track_processes.len(), 2);
    assert_eq!(tracking.instances[0].track_interfaces.len(), 3);

    let sub = load("vrrpv3-subsecond.conf");
    let ints: Vec<u32> = sub.instances.iter().map(|i| i.advert_int.0).collect();
    assert_eq!(ints, vec![10, 5, 200]);
}

/// One mistake injected into a corpus file: `from` (which must occur once) becomes `to`;
/// the error is on the line where `from` starts plus `line_offset`, at `column`.
struct Broken {
    file: &'static str,
    from: &'static str,
    to: &'static str,
    line_offset: i32,
    column: u32,
    message: &'static str,
}

const BROKEN: &[Broken] = &[
    Broken {
        file: "seed-master.conf",
        from: "virtual_router_id 51",
        to: "virtual_router_id 256",
        line_offset: 0,
        column: 5,
        message: "virtual_router_id 256 is out of range; use a number from 1 to 255",
    },
    Broken {
        file: "seed-backup.conf",
        from: "priority 90",
        to: "priority 0",
        line_offset: 0,
        column: 5,
        message: "priority 0 is out of range; use a number from 1 to 255",
    },
    Broken {
        file: "seed-master.conf",
        from: "    interface eth0                    # interface to watch (replace with yours)\n",
        to: "",
        // Reported at the instance (line 2), two lines above.
        line_offset: -2,
        column: 1,
        message: "vrrp_instance VI_1 has no `interface`",
    },
    Broken {
        file: "seed-nginx-check.conf",
        from: "        chk_nginx\n",
        to: "        chk_ngnix\n",
        line_offset: 0,
        column: 9,
        message: "track_script chk_ngnix names no vrrp_script; did you mean `chk_nginx`?",
    },
    Broken {
        file: "haproxy-lb1.conf",
        from: "advert_int 1",
        to: "advert_int 0.5",
        line_offset: 0,
        column: 5,
        message: "advert_int 0.5 is sub-second, which needs VRRPv3",
    },
    Broken {
        // The `}` of track_script is missing: the instance's `{` is never closed.
        file: "haproxy-lb2.conf",
        from: "        chk_haproxy\n    }\n",
        to: "        chk_haproxy\n",
        line_offset: 0,
        column: 1,
        message: "__unclosed__",
    },
    Broken {
        file: "vrrpv3-subsecond.conf",
        from: "advert_int 0.05",
        to: "advert_int 41",
        line_offset: 0,
        column: 5,
        message: "advert_int 41 is out of range for VRRPv3; use seconds from 0.01 to 40.95",
    },
    Broken {
        file: "ipv6.conf",
        from: "        2001:db8:60::2/64\n",
        to: "        2001:db8:60::2/64\n        198.51.100.61/24\n",
        line_offset: 1,
        column: 9,
        message: "virtual_ipaddress of vrrp_instance V6 mixes IPv4",
    },
    Broken {
        file: "cloud-unicast.conf",
        from: "10.0.2.12",
        to: "10.0.2.312",
        line_offset: 0,
        column: 9,
        message: "`10.0.2.312` is not an IP address",
    },
    Broken {
        file: "sync-group.conf",
        from: "        VI_INSIDE\n",
        to: "        VI_INSIDEE\n",
        line_offset: 0,
        column: 9,
        message: "vrrp_sync_group VG_EDGE lists VI_INSIDEE, which is no vrrp_instance; did you \
                  mean `VI_INSIDE`?",
    },
    Broken {
        file: "sync-group.conf",
        from: "group { VI_DMZ_A VI_DMZ_B }",
        to: "group { VI_DMZ_A VI_DMZ_B VI_OUTSIDE }",
        line_offset: 0,
        column: 31,
        message: "vrrp_instance VI_OUTSIDE is already in vrrp_sync_group VG_EDGE",
    },
    Broken {
        file: "200-instances.conf",
        from: "virtual_router_id 7\n",
        to: "virtual_router_id 6\n",
        line_offset: 0,
        column: 5,
        message: "vrrp_instance VI_007 uses virtual_router_id 6 on eth0 for IPv4, like \
                  vrrp_instance VI_006",
    },
    Broken {
        file: "lvs-mixed.conf",
        from: "auth_type PASS",
        to: "auth_type MD5",
        line_offset: 0,
        column: 9,
        message: "auth_type MD5 is invalid; use PASS",
    },
    Broken {
        file: "includes/conf.d/20-db.conf",
        from: "chk_db weight -30",
        to: "chk_db weight -300",
        line_offset: 0,
        column: 9,
        message: "track_script chk_db weight -300 is out of range",
    },
    Broken {
        file: "notify-scripts.conf",
        from: "notify_master /etc/keepalived/scripts/master.sh",
        to: "notify_master /etc/keepalived/scripts/master.sh MASTER web now",
        line_offset: 0,
        column: 5,
        message: "`notify_master` has too many values (`now` is one too many)",
    },
    Broken {
        file: "tracking.conf",
        from: "tf_maintenance weight -254",
        to: "tf_maintenance weight -255",
        line_offset: 0,
        column: 9,
        message: "track_file tf_maintenance weight -255 is out of range; use a number from \
                  -254 to 254",
    },
    Broken {
        file: "tracking.conf",
        from: "quorum_max 8",
        to: "quorum_max 1",
        line_offset: 0,
        column: 5,
        message: "quorum 2 of vrrp_track_process proc_haproxy is above its quorum_max 1",
    },
    Broken {
        file: "global-defs-heavy.conf",
        from: "vrrp_down_timer_adverts 3",
        to: "vrrp_down_timer_adverts 0",
        line_offset: 0,
        column: 5,
        message: "vrrp_down_timer_adverts 0 is out of range; use a number from 1 to 100",
    },
    Broken {
        file: "strict-owner.conf",
        from: "    priority 255\n",
        to: "    priority 255\n    unicast_peer {\n        192.0.2.1\n    }\n",
        line_offset: 1,
        column: 5,
        message: "unicast peers are not allowed in strict mode",
    },
    Broken {
        file: "vmac-router.conf",
        from: "use_vmac vrrp.20",
        to: "use_vmac vrrp.20 01:00:5e:00:01:14",
        line_offset: 0,
        column: 5,
        message: "use_vmac MAC address `01:00:5e:00:01:14` is a multicast address",
    },
];

/// Writes the corpus with `b` applied into `dir`; the broken file's path and the
/// expected `path:line:column: message` prefix.
fn inject(b: &Broken, dir: &Path) -> (PathBuf, String) {
    copy_tree(&corpus_dir(), dir);
    let broken_file = dir.join(b.file);
    let text = fs::read_to_string(&broken_file).unwrap();
    assert_eq!(text.matches(b.from).count(), 1, "{}: `{}`", b.file, b.from);
    let at = text.find(b.from).unwrap();
    let line = (text[..at].matches('\n').count() as i32 + 1 + b.line_offset) as u32;
    fs::write(&broken_file, text.replacen(b.from, b.to, 1)).unwrap();
    let expected = if b.message == "__unclosed__" {
        // The error points at the instance's opening brace.
        let header = "vrrp_instance VI_HAPROXY {";
        let line = text[..text.find(header).unwrap()].matches('\n').count() + 1;
        format!(
            "{}:{line}:{}: the `{{` of `vrrp_instance VI_HAPROXY` is never closed",
            broken_file.display(),
            header.len()
        )
    } else {
        format!(
            "{}:{line}:{}: {}",
            broken_file.display(),
            b.column,
            b.message
        )
    };
    (top_file(b, dir), expected)
}

/// The file to check: the corpus file, or the main file of the includes.
fn top_file(b: &Broken, dir: &Path) -> PathBuf {
    if b.file.starts_with("includes/") {
        dir.join("includes/keepalived.conf")
    } else {
        dir.join(b.file)
    }
}

#[test]
fn broken_variants_are_rejected_at_the_right_line() {
    assert!(BROKEN.len() >= 15);
    for (n, b) in BROKEN.iter().enumerate() {
        let dir = TempDir::new(&format!("broken{n}"));
        let (path, expected) = inject(b, &dir.0);
        let out = check(&path, &["--dump", "json"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(ERRORS), "{}:\n{stderr}", b.file);
        assert!(out.stdout.is_empty(), "{}: no dump with errors", b.file);
        assert!(
            stderr.contains(&format!("error: {expected}")),
            "{}: expected `{expected}` in:\n{stderr}",
            b.file
        );
        assert!(
            stderr.contains("the configuration cannot be run"),
            "{stderr}"
        );
        // The library reports the same error.
        let err = config::load(&path).unwrap_err();
        assert!(
            err.errors
                .iter()
                .any(|e| e.to_string().starts_with(&expected)),
            "{}: {err}",
            b.file
        );
    }
}

#[test]
fn an_unknown_keyword_is_a_warning_with_the_line_and_exit_5() {
    let dir = TempDir::new("typo");
    let path = dir.0.join("keepalived.conf");
    let text = fs::read_to_string(corpus_dir().join("seed-master.conf")).unwrap();
    fs::write(&path, text.replace("    priority 100", "    priorty 100")).unwrap();
    let out = check(&path, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(WARNINGS), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: {}:6:5: unknown keyword `priorty` in vrrp_instance is ignored; did you \
             mean `priority`?",
            path.display()
        )),
        "{stderr}"
    );
}

#[test]
fn scripts_without_script_security_exit_6() {
    let dir = TempDir::new("security");
    let path = dir.0.join("keepalived.conf");
    let text = fs::read_to_string(corpus_dir().join("seed-nginx-check.conf")).unwrap();
    fs::write(&path, text.replace("    enable_script_security\n", "")).unwrap();
    let out = check(&path, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(INSECURE_SCRIPTS), "{stderr}");
    assert!(stderr.contains("enable_script_security"), "{stderr}");
}

#[test]
fn an_unreadable_file_is_exit_4() {
    let out = check(Path::new("/nonexistent/keepalived.conf"), &[]);
    assert_eq!(out.status.code(), Some(ERRORS));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/keepalived.conf"));
}

#[test]
fn check_help_documents_the_exit_codes() {
    let out = Command::new(env!("CARGO_BIN_EXE_vrrp-daemon"))
        .args(["check", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--dump",
        "KEEPALIVED_CHK_EXIT_CONFIG)",
        "KEEPALIVED_CHK_EXIT_CONFIG_TEST)",
        "KEEPALIVED_CHK_EXIT_CONFIG_TEST_SECURITY",
        "  0  valid",
        "  4  errors",
        "  5  it loads",
        "  6  it loads",
    ] {
        assert!(
            help.contains(needle),
            "check --help lacks {needle}:\n{help}"
        );
    }
}

#[test]
fn keywords_markdown_is_the_readme_table() {
    let out = Command::new(env!("CARGO_BIN_EXE_vrrp-daemon"))
        .args(["keywords", "--markdown"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(printed, config::keywords::markdown());
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    assert!(
        readme.contains(&format!(
            "<!-- keywords:begin -->\n{printed}<!-- keywords:end -->"
        )),
        "README.md's table differs from `vrrp-daemon keywords --markdown`"
    );
}
