//! `track_file`: a file holding an integer that, times the weight, moves the priority.
//!
//! keepalived (`trackers/track_file.c`): the value is read with `strtol(buf, NULL, 0)` from
//! the first 127 bytes (so `0x10` is 16, `010` is 8, leading blanks and trailing text are
//! fine, no digits is 0); a missing or empty file is 0; a number that overflows or lies
//! outside `[INT32_MIN, INT32_MAX + 1]` is ignored (the previous value stays). With weight 0
//! a non-zero value is FAULT (`reverse`: a zero value is); otherwise `value × weight`
//! (negated by `reverse`) is clamped to `[-254, 253]` and -254 is FAULT.
//!
//! The file is watched with inotify on its directory (`IN_CLOSE_WRITE | IN_DELETE |
//! IN_MOVE`, as keepalived), so `echo 5 > f`, `mv tmp f` and `rm f` are all seen; a write
//! through a descriptor that stays open is seen when it is closed.
use std::{
    collections::HashMap,
    ffi::{CString, OsStr, OsString},
    io::{self, Read as _},
    os::{
        fd::{AsRawFd, FromRawFd as _, OwnedFd, RawFd},
        unix::ffi::OsStrExt as _,
    },
    path::{Path, PathBuf},
};

use anyhow::{Context as _, Result};
use tokio::{
    io::{Interest, unix::AsyncFd},
    sync::mpsc,
    task::JoinHandle,
};
use tracing::{debug, info, warn};

use super::Effect;
use crate::config::{TrackFile, TrackRef};

/// keepalived's marker for "this tracked object puts the instance in FAULT" (-254): a
/// weighted value at or below it is FAULT.
const FAULT_STATUS: i64 = -254;
/// The largest priority change one file can make.
const MAX_DELTA: i64 = 253;

/// What one tracked file does to an instance tracking it through `tref`, given the value
/// last read (`None`: the file is missing, which counts as 0).
pub fn file_effect(track: &TrackFile, tref: &TrackRef, value: Option<i64>) -> Effect {
    value_effect(tref.weight.unwrap_or(track.weight), tref.reverse, value)
}

/// [`file_effect`] with the weight already decided (`reverse` from the `track_file` entry,
/// which the configuration defaults to the block's).
pub fn value_effect(weight: i32, reverse: bool, value: Option<i64>) -> Effect {
    let value = value.unwrap_or(0);
    if weight == 0 {
        // keepalived: `!new_status != (weight_multiplier == 1)` is FAULT.
        return Effect {
            delta: 0,
            fault: (value != 0) != reverse,
        };
    }
    let multiplier = if reverse { -1 } else { 1 };
    let status = value
        .saturating_mul(i64::from(weight))
        .saturating_mul(multiplier)
        .clamp(FAULT_STATUS, MAX_DELTA);
    if status == FAULT_STATUS {
        Effect {
            delta: 0,
            fault: true,
        }
    } else {
        Effect {
            delta: i32::try_from(status).unwrap_or(0),
            fault: false,
        }
    }
}

/// keepalived's parse of a track file: `strtol(text, NULL, 0)` on at most 127 bytes, then
/// the range check. `None`: not a usable number (keepalived logs it and keeps the previous
/// value).
pub fn parse_value(text: &[u8]) -> Option<i64> {
    let text = &text[..text.len().min(127)];
    let mut i = 0;
    // C isspace(): space, \t, \n, \v, \f, \r.
    while i < text.len() && matches!(text[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let negative = match text.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let base: u32 = if text.get(i) == Some(&b'0')
        && matches!(text.get(i + 1), Some(b'x' | b'X'))
        && text.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        i += 2;
        16
    } else if text.get(i) == Some(&b'0') {
        8
    } else {
        10
    };
    // Accumulate as a negative number, as strtol does, so i64::MIN parses.
    let mut acc: i64 = 0;
    while let Some(d) = text.get(i).and_then(|&c| char::from(c).to_digit(base)) {
        acc = acc
            .checked_mul(i64::from(base))?
            .checked_sub(i64::from(d))?;
        i += 1;
    }
    let value = if negative { acc } else { acc.checked_neg()? };
    let range = i64::from(i32::MIN)..=i64::from(i32::MAX) + 1;
    range.contains(&value).then_some(value)
}

/// One read of a track file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// The file does not exist or cannot be read: counts as 0.
    Missing,
    /// A value (an empty file, or text without digits, is 0).
    Value(i64),
    /// Not a number in range: keepalived ignores the change.
    Invalid,
}

/// Read a track file now.
pub fn read_file(path: &Path) -> Reading {
    let mut buf = [0u8; 127];
    let Ok(mut f) = std::fs::File::open(path) else {
        return Reading::Missing;
    };
    // One read, as keepalived does: a writer caught half-way is seen again at its close.
    match f.read(&mut buf) {
        Ok(n) => parse_value(&buf[..n]).map_or(Reading::Invalid, Reading::Value),
        Err(_) => Reading::Missing,
    }
}

/// The value a track file holds now: `None` when it is missing or does not hold a number
/// in range (see [`read_file`] to tell them apart).
pub fn read_value(path: &Path) -> Option<i64> {
    match read_file(path) {
        Reading::Value(v) => Some(v),
        Reading::Missing | Reading::Invalid => None,
    }
}

/// `init_file [VALUE] [overwrite]`: write `VALUE\n` when the file is missing, or always
/// with `overwrite` (only over a regular file). keepalived does this at start, not on a
/// reload. Returns whether the file was written.
pub fn init_file(track: &TrackFile) -> io::Result<bool> {
    let Some(init) = &track.init_file else {
        return Ok(false);
    };
    let path = Path::new(&track.file);
    match std::fs::metadata(path) {
        Ok(_) if !init.overwrite => return Ok(false),
        Ok(meta) if !meta.is_file() => {
            return Err(io::Error::other(format!(
                "cannot initialise track file {}: {} is not a regular file",
                track.name, track.file
            )));
        }
        _ => {}
    }
    std::fs::write(path, format!("{}\n", init.value))?;
    Ok(true)
}

/// Watch `files` (`(track_file name, path)`): sends `(name, value)` for every file at once
/// (before returning), then whenever its value changes. `None` is a missing file (value 0).
///
/// A file whose directory does not exist is reported once as missing and not watched
/// (keepalived drops such a track_file at start).
pub fn spawn_file_watcher(
    files: Vec<(String, PathBuf)>,
    tx: mpsc::UnboundedSender<(String, Option<i64>)>,
) -> Result<JoinHandle<()>> {
    if files.is_empty() {
        return Ok(tokio::spawn(async {}));
    }
    let inotify = Inotify::new().context("inotify_init1")?;
    let mut watcher = Watcher {
        entries: Vec::new(),
        tx,
    };
    for (name, path) in files {
        let (dir, file_part) = resolve(&path);
        let wd = match inotify.add_watch(&dir) {
            Ok(wd) => Some(wd),
            Err(e) => {
                warn!(track_file = %name, path = %path.display(), error = %e, "cannot watch the directory of a track file; it counts as missing");
                None
            }
        };
        let full = dir.join(&file_part);
        // The first value: an unusable number counts as 0, as in keepalived.
        let value = match read_file(&full) {
            Reading::Value(v) => Some(v),
            Reading::Missing | Reading::Invalid => None,
        };
        debug!(track_file = %name, path = %full.display(), ?value, "track file");
        let _ = watcher.tx.send((name.clone(), value));
        if let Some(wd) = wd {
            watcher.entries.push(Entry {
                name,
                wd,
                file_part,
                path: full,
                last: value,
            });
        }
    }
    // SAFETY: the descriptor stays open and unchanged for as long as the AsyncFd owns it.
    let fd = unsafe { AsyncFd::register_with_interest(inotify, Interest::READABLE) }
        .map_err(|e| anyhow::anyhow!("registering inotify with tokio: {e}"))?;
    Ok(tokio::spawn(async move {
        if let Err(e) = watcher.run(fd).await {
            warn!(error = %e, "track_file watcher stopped");
        }
    }))
}

/// Where to watch for `path`: keepalived resolves the file (when it exists) or its
/// directory to a real path, so a symlinked file is followed to its target.
fn resolve(path: &Path) -> (PathBuf, OsString) {
    if let Ok(real) = std::fs::canonicalize(path)
        && let (Some(dir), Some(name)) = (real.parent(), real.file_name())
    {
        return (dir.to_path_buf(), name.to_os_string());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let name = path
        .file_name()
        .map(OsStr::to_os_string)
        .unwrap_or_default();
    (dir, name)
}

struct Entry {
    name: String,
    wd: i32,
    file_part: OsString,
    path: PathBuf,
    last: Option<i64>,
}

struct Watcher {
    entries: Vec<Entry>,
    tx: mpsc::UnboundedSender<(String, Option<i64>)>,
}

impl Watcher {
    async fn run(&mut self, fd: AsyncFd<Inotify>) -> io::Result<()> {
        // Room for many events (each is 16 bytes + a name of up to NAME_MAX + 1).
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let mut guard = fd.readable().await?;
            let n = match guard.try_io(|inner| inner.get_ref().read(&mut buf)) {
                Ok(Ok(n)) => n,
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            };
            for event in events(&buf[..n]) {
                self.on_event(&event);
            }
            if self.tx.is_closed() {
                return Ok(());
            }
        }
    }

    fn on_event(&mut self, ev: &Event<'_>) {
        if ev.mask & libc::IN_Q_OVERFLOW != 0 {
            info!("inotify queue overflowed; rereading every track file");
            for i in 0..self.entries.len() {
                self.reread(i);
            }
            return;
        }
        if ev.mask & libc::IN_IGNORED != 0 {
            for e in self.entries.iter().filter(|e| e.wd == ev.wd) {
                warn!(track_file = %e.name, path = %e.path.display(), "the directory of a track file went away; changes are no longer seen");
            }
            return;
        }
        if ev.mask & libc::IN_ISDIR != 0 {
            return;
        }
        for i in 0..self.entries.len() {
            let e = &self.entries[i];
            if e.wd != ev.wd || e.file_part.as_bytes() != ev.name {
                continue;
            }
            if ev.mask & (libc::IN_MOVED_FROM | libc::IN_DELETE) != 0 {
                // keepalived: the file disappeared, treat the value as 0.
                self.set(i, None);
            } else if ev.mask & (libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE) != 0 {
                self.reread(i);
            }
        }
    }

    fn reread(&mut self, i: usize) {
        match read_file(&self.entries[i].path) {
            Reading::Missing => self.set(i, None),
            Reading::Value(v) => self.set(i, Some(v)),
            Reading::Invalid => {
                let e = &self.entries[i];
                info!(track_file = %e.name, path = %e.path.display(), "track file does not hold a number in range; ignored");
            }
        }
    }

    fn set(&mut self, i: usize, value: Option<i64>) {
        let e = &mut self.entries[i];
        if e.last == value {
            return;
        }
        debug!(track_file = %e.name, from = ?e.last, to = ?value, "track file changed");
        e.last = value;
        let _ = self.tx.send((e.name.clone(), value));
    }
}

/// One inotify event, borrowed from the read buffer.
struct Event<'a> {
    wd: i32,
    mask: u32,
    /// The name in the watched directory, without its NUL padding.
    name: &'a [u8],
}

/// Split a read of the inotify descriptor into events (`struct inotify_event`: wd, mask,
/// cookie, len, then `len` bytes of NUL-padded name).
fn events(mut buf: &[u8]) -> impl Iterator<Item = Event<'_>> {
    std::iter::from_fn(move || {
        let header = buf.get(..16)?;
        let word = |at: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&header[at..at + 4]);
            b
        };
        let wd = i32::from_ne_bytes(word(0));
        let mask = u32::from_ne_bytes(word(4));
        let len = u32::from_ne_bytes(word(12)) as usize;
        let raw = buf.get(16..16 + len)?;
        let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
        buf = &buf[16 + len..];
        Some(Event {
            wd,
            mask,
            name: &raw[..end],
        })
    })
}

/// An inotify descriptor (non-blocking, close-on-exec).
struct Inotify(OwnedFd);

impl Inotify {
    fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a new descriptor owned by nobody else.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Watch a directory for what keepalived watches (the same directory twice gives the
    /// same descriptor).
    fn add_watch(&self, dir: &Path) -> io::Result<i32> {
        let c = CString::new(dir.as_os_str().as_bytes()).map_err(io::Error::other)?;
        let mask = libc::IN_CLOSE_WRITE | libc::IN_DELETE | libc::IN_MOVE | libc::IN_ONLYDIR;
        // SAFETY: valid descriptor and NUL-terminated path.
        let wd = unsafe { libc::inotify_add_watch(self.0.as_raw_fd(), c.as_ptr(), mask) };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(wd)
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

impl AsRawFd for Inotify {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Values of several files by track_file name, as [`spawn_file_watcher`] reports them.
pub type FileValues = HashMap<String, Option<i64>>;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::TrackFileInit;

    fn track(weight: i32, reverse: bool) -> (TrackFile, TrackRef) {
        let tf = TrackFile {
            name: "f".into(),
            file: "/nonexistent/f".into(),
            weight,
            weight_reverse: reverse,
            init_file: None,
            location: Default::default(),
        };
        let tr = TrackRef {
            name: "f".into(),
            weight: None,
            reverse,
        };
        (tf, tr)
    }

    fn eff(delta: i32, fault: bool) -> Effect {
        Effect { delta, fault }
    }

    #[test]
    fn weight_zero_faults_on_a_non_zero_value() {
        let (tf, tr) = track(0, false);
        assert_eq!(file_effect(&tf, &tr, Some(0)), eff(0, false));
        assert_eq!(file_effect(&tf, &tr, None), eff(0, false));
        assert_eq!(file_effect(&tf, &tr, Some(1)), eff(0, true));
        assert_eq!(file_effect(&tf, &tr, Some(-7)), eff(0, true));
        // reverse: zero (or a missing file) is the fault.
        let (tf, tr) = track(0, true);
        assert_eq!(file_effect(&tf, &tr, Some(0)), eff(0, true));
        assert_eq!(file_effect(&tf, &tr, None), eff(0, true));
        assert_eq!(file_effect(&tf, &tr, Some(3)), eff(0, false));
    }

    #[test]
    fn weighted_value_is_clamped_and_minus_254_is_fault() {
        let (tf, tr) = track(1, false);
        assert_eq!(file_effect(&tf, &tr, Some(10)), eff(10, false));
        assert_eq!(file_effect(&tf, &tr, Some(-10)), eff(-10, false));
        assert_eq!(file_effect(&tf, &tr, Some(253)), eff(253, false));
        assert_eq!(file_effect(&tf, &tr, Some(1000)), eff(253, false));
        assert_eq!(file_effect(&tf, &tr, Some(-253)), eff(-253, false));
        assert_eq!(file_effect(&tf, &tr, Some(-254)), eff(0, true));
        assert_eq!(file_effect(&tf, &tr, Some(-100_000)), eff(0, true));
        let (tf, tr) = track(-2, false);
        assert_eq!(file_effect(&tf, &tr, Some(5)), eff(-10, false));
        assert_eq!(file_effect(&tf, &tr, Some(127)), eff(0, true), "-254");
        assert_eq!(file_effect(&tf, &tr, Some(-5)), eff(10, false));
        // reverse negates: weight 3 reverse, value 4 → -12.
        let (tf, tr) = track(3, true);
        assert_eq!(file_effect(&tf, &tr, Some(4)), eff(-12, false));
        assert_eq!(file_effect(&tf, &tr, Some(-4)), eff(12, false));
        // Extreme values do not overflow.
        let (tf, tr) = track(254, false);
        assert_eq!(file_effect(&tf, &tr, Some(i64::MIN)), eff(0, true));
        assert_eq!(file_effect(&tf, &tr, Some(i64::MAX)), eff(253, false));
    }

    #[test]
    fn the_entry_weight_overrides_the_block() {
        let (tf, mut tr) = track(1, false);
        tr.weight = Some(0);
        assert_eq!(file_effect(&tf, &tr, Some(5)), eff(0, true));
        tr.weight = Some(-10);
        assert_eq!(file_effect(&tf, &tr, Some(5)), eff(-50, false));
    }

    #[test]
    fn parse_follows_strtol_base_0() {
        assert_eq!(parse_value(b"42\n"), Some(42));
        assert_eq!(parse_value(b"  -17 trailing"), Some(-17));
        assert_eq!(parse_value(b"+5"), Some(5));
        assert_eq!(parse_value(b"0x1f"), Some(31));
        assert_eq!(parse_value(b"0X1F"), Some(31));
        assert_eq!(parse_value(b"010"), Some(8), "octal");
        assert_eq!(parse_value(b"08"), Some(0), "octal stops at 8");
        assert_eq!(parse_value(b"0x"), Some(0), "0 then x");
        assert_eq!(parse_value(b""), Some(0));
        assert_eq!(parse_value(b"abc"), Some(0));
        assert_eq!(parse_value(b"\t\n 7"), Some(7));
        assert_eq!(parse_value(b"-"), Some(0));
        // The range keepalived accepts: [INT32_MIN, INT32_MAX + 1].
        assert_eq!(parse_value(b"-2147483648"), Some(-2_147_483_648));
        assert_eq!(parse_value(b"2147483648"), Some(2_147_483_648));
        assert_eq!(parse_value(b"2147483649"), None);
        assert_eq!(parse_value(b"-2147483649"), None);
        assert_eq!(parse_value(b"99999999999999999999999"), None, "ERANGE");
        // Only the first 127 bytes are read.
        let mut long = vec![b' '; 127];
        long.extend_from_slice(b"5");
        assert_eq!(parse_value(&long), Some(0));
        long.truncate(126);
        long.extend_from_slice(b"55");
        assert_eq!(parse_value(&long), Some(5));
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "vrrp-track-file-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn read_file_tells_missing_from_invalid() {
        let dir = temp_dir("read");
        let f = dir.join("v");
        assert_eq!(read_file(&f), Reading::Missing);
        assert_eq!(read_value(&f), None);
        std::fs::write(&f, "12\n").unwrap();
        assert_eq!(read_file(&f), Reading::Value(12));
        assert_eq!(read_value(&f), Some(12));
        std::fs::write(&f, "").unwrap();
        assert_eq!(read_file(&f), Reading::Value(0));
        std::fs::write(&f, "9999999999").unwrap();
        assert_eq!(read_file(&f), Reading::Invalid);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn init_file_creates_or_overwrites() {
        let dir = temp_dir("init");
        let path = dir.join("v");
        let mut tf = track(1, false).0;
        tf.file = path.to_string_lossy().into_owned();
        assert!(!init_file(&tf).unwrap(), "no init_file: nothing written");
        tf.init_file = Some(TrackFileInit {
            value: -3,
            overwrite: false,
        });
        assert!(init_file(&tf).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "-3\n");
        std::fs::write(&path, "7\n").unwrap();
        assert!(!init_file(&tf).unwrap(), "an existing file is kept");
        assert_eq!(read_value(&path), Some(7));
        tf.init_file = Some(TrackFileInit {
            value: 4,
            overwrite: true,
        });
        assert!(init_file(&tf).unwrap());
        assert_eq!(read_value(&path), Some(4));
        // overwrite refuses what is not a regular file.
        tf.file = dir.to_string_lossy().into_owned();
        assert!(init_file(&tf).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    async fn next(
        rx: &mut mpsc::UnboundedReceiver<(String, Option<i64>)>,
    ) -> (String, Option<i64>) {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("no update within 5 s")
            .expect("watcher gone")
    }

    #[tokio::test]
    async fn watcher_sees_writes_renames_and_deletes() {
        let dir = temp_dir("watch");
        let a = dir.join("a");
        let b = dir.join("b");
        std::fs::write(&a, "3\n").unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = spawn_file_watcher(
            vec![
                ("A".to_string(), a.clone()),
                ("B".to_string(), b.clone()),
                ("C".to_string(), PathBuf::from("/nonexistent-dir/c")),
            ],
            tx,
        )
        .unwrap();
        // Current values first, in order, before anything changes.
        assert_eq!(next(&mut rx).await, ("A".into(), Some(3)));
        assert_eq!(next(&mut rx).await, ("B".into(), None));
        assert_eq!(next(&mut rx).await, ("C".into(), None));

        std::fs::write(&a, "-20\n").unwrap();
        assert_eq!(next(&mut rx).await, ("A".into(), Some(-20)));
        // Replaced by a rename: seen through the directory watch.
        let tmp = dir.join(".b.tmp");
        std::fs::write(&tmp, "0x10").unwrap();
        std::fs::rename(&tmp, &b).unwrap();
        assert_eq!(next(&mut rx).await, ("B".into(), Some(16)));
        // An invalid number is ignored; the same value again is not repeated.
        std::fs::write(&a, "99999999999").unwrap();
        std::fs::write(&a, "-20").unwrap();
        std::fs::write(&a, "5").unwrap();
        assert_eq!(next(&mut rx).await, ("A".into(), Some(5)));
        // Deleted: missing, value 0.
        std::fs::remove_file(&a).unwrap();
        assert_eq!(next(&mut rx).await, ("A".into(), None));
        // Moved away.
        std::fs::rename(&b, dir.join("elsewhere")).unwrap();
        assert_eq!(next(&mut rx).await, ("B".into(), None));
        task.abort();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
