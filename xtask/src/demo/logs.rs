//! The daemons' own account of their transitions, read from their logs as they write them
//! (one `VRRP transition FROM -> TO` line each, with the reason), timestamped by the
//! daemon itself.
use std::{
    fs::File,
    io::{Read as _, Seek as _, SeekFrom},
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant, SystemTime},
};

use super::timeline::{Events, Source};

/// How often the logs are read.
const TICK: Duration = Duration::from_millis(20);

/// The running reader; stops when dropped.
pub struct LogTail {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LogTail {
    /// Follows `logs` (node n's log at index n - 1), including runs started later.
    pub fn start(logs: Vec<PathBuf>, events: Events) -> LogTail {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut offsets = vec![0u64; logs.len()];
            let mut partial = vec![String::new(); logs.len()];
            while !flag.load(Ordering::Relaxed) {
                for (i, path) in logs.iter().enumerate() {
                    for line in read_new(path, &mut offsets[i], &mut partial[i]) {
                        if let Some((at, text)) = parse(&line) {
                            events.push(at, Source::Node(i + 1), text);
                        }
                    }
                }
                std::thread::sleep(TICK);
            }
        });
        LogTail {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for LogTail {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Complete lines appended to `path` since `offset`; a line still being written waits in
/// `partial` for its end.
fn read_new(path: &PathBuf, offset: &mut u64, partial: &mut String) -> Vec<String> {
    let Ok(mut f) = File::open(path) else {
        return Vec::new();
    };
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(*offset)).is_err() || f.read_to_end(&mut buf).is_err() {
        return Vec::new();
    }
    *offset += buf.len() as u64;
    partial.push_str(&String::from_utf8_lossy(&buf));
    let Some(end) = partial.rfind('\n') else {
        return Vec::new();
    };
    let complete: String = partial.drain(..=end).collect();
    complete.lines().map(str::to_string).collect()
}

/// `2026-11-25T22:00:00.123456Z  INFO vrrp_daemon::daemon: VRRP transition BACKUP -> MASTER
/// instance=VI_1 from=BACKUP to=MASTER reason=... priority=100 master=...` into the
/// instant it was logged and "BACKUP → MASTER: reason (priority 100)".
pub fn parse(line: &str) -> Option<(Instant, String)> {
    let rest = &line[line.find("VRRP transition ")? + "VRRP transition ".len()..];
    let (from, rest) = rest.split_once(" -> ")?;
    let to = rest.split_whitespace().next()?;
    let field = |name: &str, until: &str| -> Option<String> {
        let start = line.find(name)? + name.len();
        let end = line[start..].find(until).map_or(line.len(), |e| start + e);
        Some(line[start..end].trim().to_string())
    };
    let reason = field(" reason=", " priority=").unwrap_or_default();
    let priority = field(" priority=", " ").unwrap_or_default();
    let stamp = humantime::parse_rfc3339(line.split_whitespace().next()?).ok()?;
    Some((
        instant_of(stamp),
        format!("{from} → {to}: {reason} (priority {priority})"),
    ))
}

/// The monotonic instant of a wall-clock time (both read now, so the error is the
/// distance between two clock reads).
fn instant_of(t: SystemTime) -> Instant {
    let (now_i, now_s) = (Instant::now(), SystemTime::now());
    match now_s.duration_since(t) {
        Ok(ago) => now_i.checked_sub(ago).unwrap_or(now_i),
        Err(e) => now_i + e.duration(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_transition_line() {
        let stamp = humantime::format_rfc3339_micros(SystemTime::now() - Duration::from_secs(2));
        let line = format!(
            "{stamp}  INFO vrrp_daemon::daemon: VRRP transition BACKUP -> MASTER \
             instance=VI_1 from=BACKUP to=MASTER reason=master down timer expired priority=100 \
             master=10.0.0.2 (priority 100)"
        );
        let (at, text) = parse(&line).unwrap();
        assert_eq!(
            text,
            "BACKUP → MASTER: master down timer expired (priority 100)"
        );
        let ago = at.elapsed();
        assert!(
            ago >= Duration::from_secs(2) && ago < Duration::from_secs(60),
            "{ago:?}"
        );
        assert!(parse("2026-11-25T22:00:00Z  INFO other line").is_none());
    }
}
