//! Logging: plain `tracing` lines on stderr, in the form journald wants when stderr is the
//! journal.
//!
//! Under systemd, stderr is a stream to journald and systemd sets `JOURNAL_STREAM` to its
//! `DEVICE:INODE`; a program whose stderr has that device and inode writes to the journal
//! (systemd.exec(5), "JOURNAL_STREAM"). Then each line starts with a syslog priority
//! prefix (`<3>` error … `<7>` debug, sd-daemon(3)), which journald strips and stores as
//! the entry's priority, and carries no timestamp (journald stamps every entry) and no
//! colour. The prefix was chosen over the native journal protocol (tracing-journald):
//! it needs no extra dependency or socket, keeps the daemon's lines and its guardian's
//! on one ordered stream, and still works where the journal socket is not mounted; the
//! structured fields stay readable as `key=value` in the message, and `journalctl -p`
//! filters on the priority.
use std::{fmt, io::IsTerminal as _, os::fd::AsFd as _};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::{
    EnvFilter,
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    registry::LookupSpan,
};

/// Whether `journal_stream` (the value of `JOURNAL_STREAM`) names the file `stderr` is,
/// given as its `(st_dev, st_ino)`.
pub fn journal_stream_matches(journal_stream: Option<&str>, stderr: (u64, u64)) -> bool {
    let Some((dev, ino)) = journal_stream.and_then(|v| v.trim().split_once(':')) else {
        return false;
    };
    matches!((dev.parse::<u64>(), ino.parse::<u64>()), (Ok(d), Ok(i)) if (d, i) == stderr)
}

/// Whether this process's stderr is connected to the journal.
pub fn stderr_is_journal() -> bool {
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(file) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = std::fs::File::from(file).metadata() else {
        return false;
    };
    use std::os::unix::fs::MetadataExt as _;
    journal_stream_matches(Some(&value), (meta.dev(), meta.ino()))
}

/// The syslog priority of a tracing level (RFC 5424 severities, as journald stores them).
pub fn syslog_priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// The filter for `-l LEVEL` and `-D` (`--log-detail`): `-D` is debug, else the level
/// given, else info. `RUST_LOG`, when set, takes precedence over both (see [`init`]).
pub fn level_directive(log_level: Option<&str>, detail: bool) -> &str {
    match (log_level, detail) {
        (_, true) => "debug",
        (Some(level), false) => level,
        (None, false) => "info",
    }
}

/// The line after the prefix: no time (journald stamps entries), no level (the prefix is
/// the priority), no colour.
fn journal_format()
-> tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Full, ()> {
    tracing_subscriber::fmt::format()
        .without_time()
        .with_level(false)
        .with_ansi(false)
}

/// Prefixes each line with its syslog priority, `<N>`: every line, since journald makes
/// an entry of each (a multi-line message, such as a verifier log, keeps its priority).
struct SyslogPrefix<F>(F);

impl<S, N, F> FormatEvent<S, N> for SyslogPrefix<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut text = String::new();
        self.0.format_event(ctx, Writer::new(&mut text), event)?;
        let priority = syslog_priority(event.metadata().level());
        for line in text.lines() {
            writeln!(writer, "<{priority}>{line}")?;
        }
        Ok(())
    }
}

/// Install the global subscriber: `RUST_LOG` if set, else `directive` (an invalid one
/// falls back to info, with a warning); journald's form when stderr is the journal,
/// colour only at a terminal otherwise.
pub fn init(directive: &str) {
    let mut bad = None;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(directive))
        .unwrap_or_else(|e| {
            bad = Some(e.to_string());
            EnvFilter::new("info")
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if stderr_is_journal() {
        let format = journal_format();
        builder.event_format(SyslogPrefix(format)).init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
    if let Some(e) = bad {
        tracing::warn!(level = directive, error = %e, "invalid log level; logging at info");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_must_name_the_device_and_inode_of_stderr() {
        assert!(journal_stream_matches(Some("8:12345"), (8, 12345)));
        assert!(journal_stream_matches(Some("8:12345\n"), (8, 12345)));
        assert!(!journal_stream_matches(Some("8:12346"), (8, 12345)));
        assert!(!journal_stream_matches(Some("9:12345"), (8, 12345)));
        // Inherited by a child whose stderr was redirected: not the journal.
        assert!(!journal_stream_matches(None, (8, 12345)));
        assert!(!journal_stream_matches(Some(""), (8, 12345)));
        assert!(!journal_stream_matches(Some("8"), (8, 12345)));
        assert!(!journal_stream_matches(Some("x:y"), (8, 12345)));
    }

    #[test]
    fn journal_stream_matches_a_real_file_by_its_metadata() {
        use std::os::unix::fs::MetadataExt as _;
        let meta = std::fs::metadata("/proc/self/exe").unwrap();
        let value = format!("{}:{}", meta.dev(), meta.ino());
        assert!(journal_stream_matches(
            Some(&value),
            (meta.dev(), meta.ino())
        ));
        assert!(!journal_stream_matches(
            Some(&value),
            (meta.dev(), meta.ino() + 1)
        ));
    }

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(syslog_priority(&Level::ERROR), 3);
        assert_eq!(syslog_priority(&Level::WARN), 4);
        assert_eq!(syslog_priority(&Level::INFO), 6);
        assert_eq!(syslog_priority(&Level::DEBUG), 7);
        assert_eq!(syslog_priority(&Level::TRACE), 7);
    }

    #[test]
    fn log_detail_means_debug_and_the_default_is_info() {
        assert_eq!(level_directive(None, false), "info");
        assert_eq!(level_directive(Some("warn"), false), "warn");
        assert_eq!(level_directive(None, true), "debug");
        assert_eq!(
            level_directive(Some("vrrp_daemon=trace"), false),
            "vrrp_daemon=trace"
        );
    }

    #[test]
    fn the_journal_form_has_a_priority_prefix_and_no_time_or_colour() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let sink = buf.clone();
        let format = journal_format();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .event_format(SyslogPrefix(format))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(instance = "VI_1", "a warning");
            tracing::info!("some news");
            tracing::error!("two\nlines");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "<4>vrrp_daemon::logging::tests: a warning instance=\"VI_1\"",
                "<6>vrrp_daemon::logging::tests: some news",
                "<3>vrrp_daemon::logging::tests: two",
                "<3>lines",
            ],
            "{text}"
        );
        assert!(!text.contains('\x1b'), "{text}");
        assert!(!text.contains("Z "), "no timestamp: {text}");
    }
}
