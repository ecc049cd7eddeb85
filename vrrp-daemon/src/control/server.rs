//! The status socket: a unix stream socket, mode 0600 and root peers only. A client writes
//! one line (`status`) and reads the [`Snapshot`] as JSON until the server closes.
use std::{
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    net::{UnixListener, UnixStream},
    sync::oneshot,
    time,
};
use tracing::{debug, warn};

use super::{Requests, Snapshot};

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/vrrp-daemon.sock";

/// Bind the socket (refusing if another daemon answers on it) and serve it until the
/// returned guard is dropped; then the socket file is removed.
pub async fn spawn(path: &Path, requests: Requests) -> Result<SocketGuard> {
    if UnixStream::connect(path).await.is_ok() {
        bail!(
            "another vrrp-daemon is running with control socket {}; stop it, or give this one \
             its own with --control-socket",
            path.display()
        );
    }
    let _ = std::fs::remove_file(path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let listener = UnixListener::bind(path)
        .with_context(|| format!("binding the control socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let requests = requests.clone();
            tokio::spawn(async move {
                if let Err(e) = serve(stream, requests).await {
                    debug!(error = %format!("{e:#}"), "control client");
                }
            });
        }
    });
    Ok(SocketGuard {
        path: path.to_path_buf(),
        task,
    })
}

/// Removes the socket file and stops serving when dropped.
pub struct SocketGuard {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve(stream: UnixStream, requests: Requests) -> Result<()> {
    let cred = stream.peer_cred()?;
    let (read, mut write) = stream.into_split();
    if cred.uid() != 0 {
        warn!(
            uid = cred.uid(),
            "control socket: refused a non-root client"
        );
        write.write_all(b"{\"error\":\"root only\"}\n").await?;
        return Ok(());
    }
    let mut line = String::new();
    time::timeout(
        Duration::from_secs(5),
        BufReader::new(read).read_line(&mut line),
    )
    .await
    .context("client sent no request")??;
    match line.trim() {
        "status" => {
            let (tx, rx) = oneshot::channel();
            requests.send(tx).await.context("daemon stopping")?;
            let snapshot = rx.await.context("daemon stopping")?;
            let mut json = serde_json::to_vec(&snapshot)?;
            json.push(b'\n');
            write.write_all(&json).await?;
        }
        other => {
            let msg = serde_json::json!({ "error": format!("unknown request {other:?}") });
            write.write_all(format!("{msg}\n").as_bytes()).await?;
        }
    }
    Ok(())
}

/// Ask the daemon listening on `path` for its snapshot.
pub async fn query(path: &Path) -> Result<Snapshot> {
    let mut stream = UnixStream::connect(path).await.with_context(|| {
        format!(
            "connecting to {} (is vrrp-daemon running? as root? another --control-socket?)",
            path.display()
        )
    })?;
    stream.write_all(b"status\n").await?;
    let mut body = Vec::new();
    time::timeout(Duration::from_secs(5), stream.read_to_end(&mut body))
        .await
        .context("the daemon did not answer within 5 s")??;
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(&body)
        && let Some(e) = map.get("error")
    {
        bail!("the daemon refused: {e}");
    }
    serde_json::from_slice(&body).context("parsing the daemon's answer")
}

/// The human table `vrrp-daemon status` prints.
pub fn render(s: &Snapshot) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "vrrp-daemon {} pid {} up {:.0}s, config {}",
        s.version, s.pid, s.uptime_secs, s.config_file
    );
    let attached: Vec<String> = s
        .dataplane
        .attached
        .iter()
        .map(|(i, m)| format!("{i} ({m})"))
        .collect();
    let _ = writeln!(out, "XDP on: {}", attached.join(", "));
    for i in &s.instances {
        let _ = writeln!(
            out,
            "\n{} {} vrid {} {} {} v{}  priority {} (base {})",
            i.iname,
            i.state,
            i.vrid,
            i.interface,
            i.family,
            i.version,
            i.effective_priority,
            i.base_priority
        );
        let master = match (&i.master_addr, i.master_priority) {
            (Some(a), Some(p)) => format!("{a} (priority {p})"),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "  advert {:.2}s (master's {:.2}s), source {}, master {}",
            i.adver_int, i.master_adver_int, i.source, master
        );
        if !i.unicast_peers.is_empty() {
            let _ = writeln!(out, "  unicast peers: {}", i.unicast_peers.join(", "));
        }
        let _ = writeln!(out, "  VIPs: {}", i.vips.join(", "));
        let last = i
            .last_transition
            .as_ref()
            .map(|t| {
                format!(
                    "{} -> {} ({}), {:.1}s ago",
                    t.from, t.to, t.reason, t.secs_ago
                )
            })
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "  in state {:.1}s; last transition {last}",
            i.time_in_state_secs
        );
        for t in &i.tracked {
            let _ = writeln!(
                out,
                "  tracks {} {}: {} (weight {})",
                t.kind, t.name, t.state, t.weight
            );
        }
        let st = &i.stats;
        let _ = writeln!(
            out,
            "  adverts rcvd {} sent {}, priority-0 rcvd {} sent {}, became master {}, released {}, GARP/NA {}",
            st.advert_rcvd,
            st.advert_sent,
            st.pri_zero_rcvd,
            st.pri_zero_sent,
            st.become_master,
            st.release_master,
            st.garp_sent
        );
    }
    if !s.scripts.is_empty() {
        let _ = writeln!(out);
        for sc in &s.scripts {
            let _ = writeln!(
                out,
                "script {}: {} ({} ok, {} failed, last run {:.3}s)",
                sc.name, sc.status, sc.successes, sc.failures, sc.last_duration_secs
            );
        }
    }
    let nonzero: Vec<String> = s
        .dataplane
        .counters
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(out, "\nXDP counters: {}", nonzero.join(", "));
    out
}
