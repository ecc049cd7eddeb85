//! keepalived's signal dumps: SIGUSR1 writes the data (what `vrrp-daemon status` shows) to
//! `/tmp/keepalived.data`, SIGUSR2 the per-instance statistics to `/tmp/keepalived.stats`,
//! so operators' habits and scripts keep working.
use std::fmt::Write as _;

use super::Snapshot;

/// Where SIGUSR1 writes: `keepalived.data` in `$TMPDIR`, else `/tmp` (keepalived's).
pub const DATA_FILE: &str = "keepalived.data";
/// Where SIGUSR2 writes: `keepalived.stats` in `$TMPDIR`, else `/tmp`.
pub const STATS_FILE: &str = "keepalived.stats";

/// Write `text` to `name` in the temporary directory, replacing it; failures are logged,
/// never fatal.
pub fn write(name: &str, text: &str) {
    let dir = std::env::var_os("TMPDIR").unwrap_or_else(|| "/tmp".into());
    let path = std::path::Path::new(&dir).join(name);
    let path = path.display().to_string();
    match std::fs::write(&path, text) {
        Ok(()) => tracing::info!(path, "dump written"),
        Err(e) => tracing::warn!(path, error = %e, "dump not written"),
    }
}

/// The statistics dump, one block per instance in keepalived's layout and names.
pub fn stats(s: &Snapshot) -> String {
    let mut out = String::new();
    for i in &s.instances {
        let st = &i.stats;
        let _ = writeln!(out, "VRRP Instance: {}", i.iname);
        let _ = writeln!(out, "  Advertisements:");
        let _ = writeln!(out, "    Received: {}", st.advert_rcvd);
        let _ = writeln!(out, "    Sent: {}", st.advert_sent);
        let _ = writeln!(out, "  Became master: {}", st.become_master);
        let _ = writeln!(out, "  Released master: {}", st.release_master);
        let _ = writeln!(out, "  Priority Zero:");
        let _ = writeln!(out, "    Received: {}", st.pri_zero_rcvd);
        let _ = writeln!(out, "    Sent: {}", st.pri_zero_sent);
        let _ = writeln!(out, "  Gratuitous ARP / NA sent: {}", st.garp_sent);
    }
    let _ = writeln!(out, "XDP (all instances):");
    for (name, value) in &s.dataplane.counters {
        let _ = writeln!(out, "  {name}: {value}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::InstanceStatus;

    #[test]
    fn stats_follow_keepalived_names() {
        let mut s = Snapshot::default();
        s.instances.push(InstanceStatus {
            iname: "VI_1".into(),
            ..Default::default()
        });
        s.instances[0].stats.advert_sent = 7;
        s.dataplane.counters.insert("ip_ttl_err".into(), 2);
        let text = stats(&s);
        assert!(
            text.starts_with(
                "VRRP Instance: VI_1\n  Advertisements:\n    Received: 0\n    Sent: 7\n"
            )
        );
        assert!(text.contains("  ip_ttl_err: 2\n"));
    }
}
