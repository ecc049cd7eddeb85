//! Each node's state as its daemon reports it: `vrrp-daemon status --json` on the node's
//! control socket, the same command an operator runs.
use std::{
    io::Read as _,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

/// How long one `status` call may take before it is killed (a frozen daemon never answers;
/// the demo does not ask those, but a busy machine may be slow).
const STATUS_TIMEOUT: Duration = Duration::from_secs(3);

/// What the live screen and the tour show of one node's instance `VI_1`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeStatus {
    /// MASTER, BACKUP, FAULT, INIT...
    pub state: String,
    /// Configured priority.
    pub base_priority: u64,
    /// After tracking (the track file moves it).
    pub effective_priority: u64,
    /// The master it knows of (address, priority), if any.
    pub master: Option<(String, u64)>,
    /// Adverts sent and received by the daemon.
    pub adverts_sent: u64,
    /// Adverts received.
    pub adverts_rcvd: u64,
    /// The last transition: "BACKUP -> MASTER (reason)".
    pub last_transition: Option<String>,
}

impl NodeStatus {
    /// Reads the first instance of a `status --json` document.
    pub fn from_json(doc: &Value) -> Result<NodeStatus> {
        let i = doc["instances"]
            .get(0)
            .context("the daemon reports no instance")?;
        let num = |v: &Value| v.as_u64().unwrap_or_default();
        let master = match (i["master_addr"].as_str(), i["master_priority"].as_u64()) {
            (Some(a), Some(p)) => Some((a.to_string(), p)),
            _ => None,
        };
        let last_transition = i["last_transition"].as_object().map(|t| {
            format!(
                "{} -> {} ({})",
                t["from"].as_str().unwrap_or("?"),
                t["to"].as_str().unwrap_or("?"),
                t["reason"].as_str().unwrap_or("?")
            )
        });
        Ok(NodeStatus {
            state: i["state"].as_str().unwrap_or("?").to_string(),
            base_priority: num(&i["base_priority"]),
            effective_priority: num(&i["effective_priority"]),
            master,
            adverts_sent: num(&i["stats"]["advert_sent"]),
            adverts_rcvd: num(&i["stats"]["advert_rcvd"]),
            last_transition,
        })
    }
}

/// Runs `daemon status --json --control-socket SOCKET` (killed after a few seconds).
pub fn query(daemon: &Path, socket: &Path) -> Result<NodeStatus> {
    let mut child = Command::new(daemon)
        .args(["status", "--json", "--control-socket"])
        .arg(socket)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {} status", daemon.display()))?;
    // The output is a few kB: it fits the pipe, so waiting before reading cannot block.
    let deadline = Instant::now() + STATUS_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("no answer within {STATUS_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        o.read_to_string(&mut out)?;
    }
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err)?;
    }
    if !status.success() {
        bail!("{}", err.trim());
    }
    let doc: Value = serde_json::from_str(&out).context("parsing status --json")?;
    NodeStatus::from_json(&doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_instance() {
        let doc: Value = serde_json::json!({
            "instances": [{
                "state": "BACKUP", "base_priority": 100, "effective_priority": 100,
                "master_addr": "10.0.0.1", "master_priority": 150,
                "stats": {"advert_sent": 0, "advert_rcvd": 42},
                "last_transition": {"from": "INIT", "to": "BACKUP", "reason": "startup"}
            }]
        });
        let s = NodeStatus::from_json(&doc).unwrap();
        assert_eq!(s.state, "BACKUP");
        assert_eq!(s.master, Some(("10.0.0.1".into(), 150)));
        assert_eq!(s.adverts_rcvd, 42);
        assert_eq!(
            s.last_transition.as_deref(),
            Some("INIT -> BACKUP (startup)")
        );
        assert!(NodeStatus::from_json(&serde_json::json!({"instances": []})).is_err());
    }
}
