//! keepalived.conf: reading it, checking it, and turning it into the typed [`Config`].
//!
//! Three steps, one file each, so that each can be tested alone:
//!
//! ```text
//!   text ──lexer──► tokens ──parser──► raw values per keyword ──resolve──► Config
//!         (include,          (blocks, syntax,    (raw.rs)        (defaults, versions,
//!          comments,          value ranges)                       cross-checks)
//!          file:line:col)
//! ```
//!
//! * `preprocess`: keepalived's line-level language first: `@id` conditional lines,
//!   `$NAME=value` parameters and their uses, `~SEQ` lines.
//! * `lexer`: words, quoted strings, braces and comments, each token with its file, line and
//!   column; `include` globs are expanded in place, as keepalived does.
//! * `parser`: statements and `{ }` blocks, then one handler per keyword that checks the
//!   value's syntax and range and stores it raw (unset stays unset).
//! * `resolve`: applies keepalived 2.2.7's defaults in one place and runs the checks that
//!   need the whole file (`global_defs` may come after the instances, a `vrrp_script` after
//!   the instance that tracks it).
//!
//! [`keywords`] is the one table of keywords: where each may appear and whether the daemon
//! acts on it. The parser takes "known keyword" and "did you mean" from it, a keyword that
//! is accepted but not acted on gets a [`Severity::Note`] where it is written, and the
//! README's support table is printed from it (`vrrp-daemon keywords --markdown`).
//!
//! Every problem of a file is reported in one run. Invalid values are errors; unknown
//! keywords are warnings, so a keepalived.conf written for keepalived still loads. Every
//! message says what is wrong and what to write instead.
use std::{fmt, path::Path};

#[cfg(test)]
mod keyword_tests;
pub mod keywords;
mod lexer;
pub mod model;
mod parser;
mod preprocess;
mod raw;
mod resolve;
mod suggest;

pub use model::*;
pub use preprocess::default_config_id;

/// A configuration that loaded: what the daemon runs, plus the warnings to log once.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    /// The validated configuration, defaults applied.
    pub config: Config,
    /// Things the operator should fix or know (unknown keywords, rounded values, keywords
    /// not acted on, ...), in file order: [`Severity::Warning`]s and [`Severity::Note`]s.
    pub warnings: Vec<Diagnostic>,
}

/// How serious a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The configuration is refused (`check` exits 4).
    Error,
    /// A problem of the file that keepalived also reports (an unknown keyword, a value
    /// given twice, a value rounded or cleared): it loads, but `check` exits 5, as
    /// `keepalived -t` does.
    Warning,
    /// Information: a keyword accepted but not acted on, skipped LVS blocks, advice that
    /// keepalived only logs. `check` exits 0.
    Note,
}

/// One message about the configuration, pinned to where the operator has to look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, line and column the message is about (line 0 when it is about the
    /// file as a whole, e.g. it cannot be read).
    pub location: Location,
    /// What is wrong and what to write instead.
    pub message: String,
    /// Error, warning or note ([`ConfigErrors::errors`] holds the errors, the other two
    /// are in the warnings).
    pub severity: Severity,
}

impl fmt::Display for Diagnostic {
    /// `file:line:column: message`, the format editors and CI annotate; a message about the
    /// whole file (line 0) is `file: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc = &self.location;
        if loc.line == 0 {
            write!(f, "{}: {}", loc.file.display(), self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                loc.file.display(),
                loc.line,
                loc.column,
                self.message
            )
        }
    }
}

/// Why a configuration was refused: every error of the file, plus the warnings, so that
/// the operator fixes everything in one go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors {
    /// The errors, in file order (at least one).
    pub errors: Vec<Diagnostic>,
    /// The warnings and notes found on the way, in file order.
    pub warnings: Vec<Diagnostic>,
}

impl fmt::Display for ConfigErrors {
    /// The errors, one per line (warnings are in [`ConfigErrors::warnings`] for the caller
    /// to log at its own level).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads and checks the keepalived.conf at `path`, with its `include`s, for this host
/// (conditional lines are chosen by [`default_config_id`], as keepalived does without `-i`).
///
/// # Errors
/// Every problem found in the file and the files it includes, each with its location.
pub fn load(path: &Path) -> Result<Loaded, ConfigErrors> {
    load_as(path, &default_config_id())
}

/// [`load`] for the host whose configuration id (keepalived's `-i`/`--config-id`) is
/// `config_id`: `@config_id` lines apply, `@^config_id` lines do not, and `${_INSTANCE}`
/// is `config_id`.
///
/// # Errors
/// Every problem found in the file and the files it includes, each with its location.
pub fn load_as(path: &Path, config_id: &str) -> Result<Loaded, ConfigErrors> {
    let mut diags = Diags::default();
    let lexed = lexer::lex_file(path, config_id, &mut diags);
    finish(lexed, diags)
}

/// Checks keepalived.conf text as if it were read from `file` (which names it in messages
/// and is the base of relative `include`s); for tests and `--check` of piped text.
///
/// # Errors
/// Every problem found in the text and the files it includes, each with its location.
pub fn parse_str(text: &str, file: &Path) -> Result<Loaded, ConfigErrors> {
    parse_str_as(text, file, &default_config_id())
}

/// [`parse_str`] for the host whose configuration id is `config_id` (see [`load_as`]).
///
/// # Errors
/// Every problem found in the text and the files it includes, each with its location.
pub fn parse_str_as(text: &str, file: &Path, config_id: &str) -> Result<Loaded, ConfigErrors> {
    let mut diags = Diags::default();
    let lexed = lexer::lex_str(text, file, config_id, &mut diags);
    finish(lexed, diags)
}

fn finish(lexed: lexer::Lexed, mut diags: Diags) -> Result<Loaded, ConfigErrors> {
    let raw = parser::parse(&lexed.tokens, &mut diags);
    let config = resolve::resolve(raw, &mut diags);
    diags.sort(&lexed.files);
    if diags.errors.is_empty() {
        Ok(Loaded {
            config,
            warnings: diags.warnings,
        })
    } else {
        Err(ConfigErrors {
            errors: diags.errors,
            warnings: diags.warnings,
        })
    }
}

/// The errors and warnings collected by all three steps.
#[derive(Debug, Default)]
struct Diags {
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Diags {
    fn error(&mut self, location: &Location, message: impl Into<String>) {
        self.errors.push(Diagnostic {
            location: location.clone(),
            message: message.into(),
            severity: Severity::Error,
        });
    }

    fn warn(&mut self, location: &Location, message: impl Into<String>) {
        self.warnings.push(Diagnostic {
            location: location.clone(),
            message: message.into(),
            severity: Severity::Warning,
        });
    }

    /// Information, not a problem of the file (see [`Severity::Note`]).
    fn note(&mut self, location: &Location, message: impl Into<String>) {
        self.warnings.push(Diagnostic {
            location: location.clone(),
            message: message.into(),
            severity: Severity::Note,
        });
    }

    /// Puts the messages in reading order: files in the order they were read, then line and
    /// column (the steps find problems in a different order than the operator reads them).
    fn sort(&mut self, files: &[std::path::PathBuf]) {
        let key = |d: &Diagnostic| {
            let file = files
                .iter()
                .position(|f| *f == d.location.file)
                .unwrap_or(usize::MAX);
            (file, d.location.line, d.location.column)
        };
        self.errors.sort_by_key(key);
        self.warnings.sort_by_key(key);
    }
}

/// Helpers shared by the tests of the three steps.
#[cfg(test)]
mod testing {
    use std::path::Path;

    use super::{ConfigErrors, Loaded, parse_str};

    /// `text` as `keepalived.conf`; panics on errors, showing them.
    pub(super) fn ok(text: &str) -> Loaded {
        parse_str(text, Path::new("keepalived.conf"))
            .unwrap_or_else(|e| panic!("unexpected errors:\n{e}\nwarnings: {:#?}", e.warnings))
    }

    /// The errors of `text`, displayed; panics if it loads.
    pub(super) fn errors(text: &str) -> Vec<String> {
        failed(text)
            .errors
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    pub(super) fn failed(text: &str) -> ConfigErrors {
        match parse_str(text, Path::new("keepalived.conf")) {
            Ok(loaded) => panic!("expected errors, got {loaded:#?}"),
            Err(e) => e,
        }
    }

    /// The warnings of `text` (which must load), displayed.
    pub(super) fn warnings(text: &str) -> Vec<String> {
        ok(text).warnings.iter().map(ToString::to_string).collect()
    }

    /// A valid instance with `body` from line 5 on (4-space indent is the caller's).
    pub(super) fn instance(body: &str) -> String {
        format!(
            "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    \
             virtual_ipaddress {{ 10.0.0.1 }}\n{body}\n}}\n"
        )
    }
}

#[cfg(test)]
mod tests {
    use std::{
        fs,
        net::{IpAddr, Ipv4Addr},
        path::PathBuf,
        time::Duration,
    };

    use super::*;
    use crate::units::Centiseconds;

    const SEED: &str = r#"vrrp_instance VI_1 {
    state MASTER                      # comment
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1

    authentication {
        auth_type PASS
        auth_pass 1234
    }

    virtual_ipaddress {
        192.168.1.100
    }
}
vrrp_script chk_nginx {
    script "/etc/keepalived/check_nginx.sh"
    interval 2
}
"#;

    fn at(line: u32, column: u32) -> Location {
        Location {
            file: PathBuf::from("keepalived.conf"),
            line,
            column,
        }
    }

    /// The seed instance with every default written out: this is the table of
    /// keepalived's defaults for an instance.
    fn seed_instance() -> VrrpInstance {
        VrrpInstance {
            name: "VI_1".into(),
            initial_state: InitialState::Master,
            interface: "eth0".into(),
            vrid: 51,
            priority: 100,
            advert_int: Centiseconds(100),
            version: 2,
            family: Family::Ipv4,
            authentication: Some(Authentication::Pass(*b"1234\0\0\0\0")),
            virtual_addresses: vec![VirtualAddress {
                addr: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 100)),
                prefix_len: 32,
                dev: None,
                label: None,
                brd: None,
                scope: None,
                no_track: false,
            }],
            virtual_addresses_excluded: vec![],
            virtual_routes: vec![],
            virtual_rules: vec![],
            track_scripts: vec![],
            track_interfaces: vec![],
            track_files: vec![],
            track_processes: vec![],
            dont_track_primary: false,
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            src_ip: None,
            unicast: UnicastConfig {
                peers: vec![],
                ttl: None,
                check_src: false,
                fault_no_peer: false,
            },
            mcast_dst_ip: Some(IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18))),
            vmac: None,
            accept: true,
            strict_mode: false,
            skip_check_adv_addr: false,
            down_timer_adverts: 3,
            lower_prio_no_advert: false,
            higher_prio_send_advert: true,
            checksum: ChecksumConfig {
                old_unicast: OldUnicastChecksum::Auto,
                v3_as_v2: false,
            },
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            notify_stop: None,
            notify: None,
            notify_deleted: false,
            notify_deleted_script: None,
            notify_master_rx_lower_pri: None,
            notify_priority_changes: false,
            garp_master_delay: Duration::from_secs(5),
            garp_master_repeat: 5,
            garp: GarpConfig {
                master_refresh: Duration::ZERO,
                master_refresh_repeat: 1,
                lower_prio_delay: Duration::from_secs(5),
                lower_prio_repeat: 5,
            },
            sync_group: None,
            location: at(1, 1),
        }
    }

    fn seed_script() -> VrrpScript {
        VrrpScript {
            name: "chk_nginx".into(),
            script: "/etc/keepalived/check_nginx.sh".into(),
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(2),
            weight: 0,
            weight_reverse: false,
            rise: 1,
            fall: 1,
            init_fail: false,
            user: None,
            group: None,
            location: at(17, 1),
        }
    }

    #[test]
    fn seed_config_parses_to_the_expected_model() {
        let loaded = parse_str(SEED, Path::new("keepalived.conf")).unwrap();
        assert_eq!(loaded.warnings, vec![]);
        assert_eq!(
            loaded.config,
            Config {
                global: GlobalDefs::default(),
                scripts: vec![seed_script()],
                track_files: vec![],
                track_processes: vec![],
                sync_groups: vec![],
                instances: vec![seed_instance()],
                static_addresses: vec![],
                static_routes: vec![],
                static_rules: vec![],
            }
        );
        assert!(loaded.config.runs_scripts());
        assert!(!loaded.config.instances[0].is_unicast());
    }

    #[test]
    fn seed_with_track_script_refers_to_the_later_script() {
        let text = SEED.replace(
            "    virtual_ipaddress {",
            "    track_script {\n        chk_nginx\n    }\n    virtual_ipaddress {",
        );
        let loaded = parse_str(&text, Path::new("keepalived.conf")).unwrap();
        let mut expected = seed_instance();
        expected.track_scripts = vec![TrackScript {
            name: "chk_nginx".into(),
            weight: None,
            reverse: false,
        }];
        assert_eq!(loaded.config.instances, vec![expected]);
        assert_eq!(loaded.warnings, vec![]);
    }

    #[test]
    fn an_empty_file_is_an_empty_config() {
        let loaded = parse_str("# nothing yet\n", Path::new("keepalived.conf")).unwrap();
        assert_eq!(loaded.config, Config::default());
        assert_eq!(loaded.warnings, vec![]);
    }

    #[test]
    fn diagnostic_display_is_file_line_column_message() {
        let d = Diagnostic {
            location: at(7, 5),
            message: "virtual_router_id 300 is out of range; use a number from 1 to 255".into(),
            severity: Severity::Error,
        };
        assert_eq!(
            d.to_string(),
            "keepalived.conf:7:5: virtual_router_id 300 is out of range; use a number from 1 to 255"
        );
        let whole_file = Diagnostic {
            location: at(0, 0),
            message: "m".into(),
            severity: Severity::Note,
        };
        assert_eq!(whole_file.to_string(), "keepalived.conf: m");
    }

    #[test]
    fn config_errors_display_one_error_per_line() {
        let text = "vrrp_instance A {\n  interface eth0\n  virtual_router_id 300\n  priority 0\n  virtual_ipaddress { 10.0.0.1 }\n}\n";
        let err = parse_str(text, Path::new("keepalived.conf")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "keepalived.conf:3:3: virtual_router_id 300 is out of range; use a number from 1 to 255\n\
             keepalived.conf:4:3: priority 0 is out of range; use a number from 1 to 255"
        );
        let as_error: &dyn std::error::Error = &err;
        assert!(as_error.source().is_none());
    }

    #[test]
    fn errors_and_warnings_come_sorted_in_reading_order() {
        // The resolve step finds "no interface" (line 1) after the parser found line 3.
        let text = "vrrp_instance A {\n  virtual_router_id 1\n  priority 300\n  prioity 3\n}\n";
        let err = parse_str(text, Path::new("keepalived.conf")).unwrap_err();
        let lines: Vec<u32> = err.errors.iter().map(|e| e.location.line).collect();
        assert_eq!(lines, vec![1, 3]);
        assert_eq!(err.warnings.len(), 2, "{:?}", err.warnings); // prioity, no VIPs
        assert_eq!(err.warnings[0].location.line, 1);
        assert_eq!(err.warnings[1].location.line, 4);
    }

    /// A directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let dir = std::env::temp_dir()
                .join(format!("vrrp-config-{tag}-{}-{nanos}", std::process::id()));
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn load_reads_includes_by_glob_in_sorted_order() {
        let dir = TempDir::new("load");
        fs::create_dir(dir.0.join("conf.d")).unwrap();
        fs::write(
            dir.0.join("keepalived.conf"),
            "global_defs {\n  router_id LB1\n}\ninclude conf.d/*.conf\n",
        )
        .unwrap();
        fs::write(
            dir.0.join("conf.d/20-b.conf"),
            "vrrp_instance B {\n  interface eth0\n  virtual_router_id 2\n  virtual_ipaddress { 10.0.0.2 }\n  track_script { chk }\n}\n",
        )
        .unwrap();
        fs::write(
            dir.0.join("conf.d/10-a.conf"),
            "vrrp_script chk {\n  script /bin/true\n}\nvrrp_instance A {\n  interface eth0\n  virtual_router_id 1\n  virtual_ipaddress { 10.0.0.1 }\n}\n",
        )
        .unwrap();
        fs::write(dir.0.join("conf.d/notes.txt"), "garbage {{{").unwrap();

        let loaded = load(&dir.0.join("keepalived.conf")).unwrap();
        assert_eq!(loaded.warnings, vec![]);
        let names: Vec<&str> = loaded
            .config
            .instances
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(names, vec!["A", "B"]);
        assert_eq!(loaded.config.global.router_id.as_deref(), Some("LB1"));
        let b = &loaded.config.instances[1];
        assert_eq!(b.location.file, dir.0.join("conf.d/20-b.conf"));
        assert_eq!((b.location.line, b.location.column), (1, 1));
        assert_eq!(b.track_scripts[0].name, "chk");
    }

    #[test]
    fn errors_in_an_included_file_name_that_file() {
        let dir = TempDir::new("incerr");
        fs::write(
            dir.0.join("keepalived.conf"),
            "include vi.conf\nvrrp_instance X {\n  interface eth0\n  virtual_router_id 0\n}\n",
        )
        .unwrap();
        fs::write(
            dir.0.join("vi.conf"),
            "vrrp_instance A {\n  interface eth0\n  virtual_router_id 300\n}\n",
        )
        .unwrap();
        let err = load(&dir.0.join("keepalived.conf")).unwrap_err();
        let got: Vec<(PathBuf, u32)> = err
            .errors
            .iter()
            .map(|e| (e.location.file.clone(), e.location.line))
            .collect();
        // Files in the order they were first read (the main file, then the included one).
        assert_eq!(
            got,
            vec![
                (dir.0.join("keepalived.conf"), 4),
                (dir.0.join("vi.conf"), 3)
            ]
        );
        assert!(err.errors[1].message.contains("virtual_router_id 300"));
    }

    #[test]
    fn load_of_a_missing_file_says_so() {
        let err = load(Path::new("/nonexistent/keepalived.conf")).unwrap_err();
        assert_eq!(err.errors.len(), 1);
        let msg = err.errors[0].to_string();
        assert!(
            msg.starts_with("/nonexistent/keepalived.conf: cannot read"),
            "{msg}"
        );
    }
}
