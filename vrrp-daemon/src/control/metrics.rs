//! Prometheus metrics (`--metrics-listen ADDR:PORT`, off by default): each scrape asks the
//! event loop for a [`Snapshot`] and encodes it with `prometheus-client` in the OpenMetrics
//! text format, so the numbers are exactly those `vrrp-daemon status` shows.
use std::{borrow::Cow, net::SocketAddr, time::Duration};

use anyhow::{Context as _, Result};
use prometheus_client::{
    encoding::{EncodeMetric, MetricEncoder, NoLabelSet, text::encode},
    metrics::{MetricType, counter::Counter, family::Family, gauge::Gauge},
    registry::{Registry, Unit},
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    sync::oneshot,
    time,
};
use tracing::{debug, info};

use super::{Histogram, Requests, Snapshot};

/// Serve `/metrics` on `addr` until the returned task is aborted.
pub async fn spawn(addr: SocketAddr, requests: Requests) -> Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening for metrics on {addr}"))?;
    info!(%addr, "Prometheus metrics on /metrics");
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let requests = requests.clone();
            tokio::spawn(async move {
                if let Err(e) = serve(stream, requests).await {
                    debug!(error = %format!("{e:#}"), "metrics client");
                }
            });
        }
    }))
}

async fn serve(mut stream: TcpStream, requests: Requests) -> Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    // Read the request head (bounded in size and time).
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        let n = time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await??;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let path = line.split_whitespace().nth(1).unwrap_or("");
    let (status, content_type, body) = if path == "/metrics" || path == "/" {
        let (tx, rx) = oneshot::channel();
        requests.send(tx).await.context("daemon stopping")?;
        let snapshot = rx.await.context("daemon stopping")?;
        (
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            render(&snapshot),
        )
    } else {
        ("404 Not Found", "text/plain", "try /metrics\n".to_string())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    Ok(())
}

/// A histogram whose buckets are already counted (from the snapshot).
#[derive(Debug)]
struct Observed(Histogram);

impl EncodeMetric for Observed {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // The encoder accumulates; the snapshot's buckets are cumulative already.
        let mut previous = 0;
        let mut buckets = Vec::with_capacity(self.0.buckets.len() + 1);
        for (bound, cumulative) in &self.0.buckets {
            buckets.push((*bound, cumulative.saturating_sub(previous)));
            previous = *cumulative;
        }
        buckets.push((f64::INFINITY, self.0.count.saturating_sub(previous)));
        encoder.encode_histogram::<NoLabelSet>(self.0.sum, self.0.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

fn counter(value: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(value);
    c
}

fn gauge(value: i64) -> Gauge {
    let g = Gauge::default();
    g.set(value);
    g
}

type Labels = Vec<(String, String)>;

/// The OpenMetrics text for a snapshot.
pub fn render(s: &Snapshot) -> String {
    let mut registry = Registry::with_prefix("vrrp");
    let state = Family::<Labels, Gauge>::default();
    let priority = Family::<Labels, Gauge>::default();
    let sent = Family::<Labels, Counter>::default();
    let received = Family::<Labels, Counter>::default();
    let zero_sent = Family::<Labels, Counter>::default();
    let zero_received = Family::<Labels, Counter>::default();
    let garp = Family::<Labels, Counter>::default();
    let transitions = Family::<Labels, Counter>::default();
    let l = |pairs: &[(&str, &str)]| -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    for i in &s.instances {
        let name = i.iname.as_str();
        for st in ["INIT", "BACKUP", "MASTER", "FAULT", "STOP"] {
            state
                .get_or_create(&l(&[("instance", name), ("state", st)]))
                .set(i64::from(i.state == st));
        }
        priority
            .get_or_create(&l(&[("instance", name), ("kind", "effective")]))
            .set(i64::from(i.effective_priority));
        priority
            .get_or_create(&l(&[("instance", name), ("kind", "base")]))
            .set(i64::from(i.base_priority));
        let one = l(&[("instance", name)]);
        sent.get_or_create(&one).inc_by(i.stats.advert_sent);
        received.get_or_create(&one).inc_by(i.stats.advert_rcvd);
        zero_sent.get_or_create(&one).inc_by(i.stats.pri_zero_sent);
        zero_received
            .get_or_create(&one)
            .inc_by(i.stats.pri_zero_rcvd);
        garp.get_or_create(&one).inc_by(i.stats.garp_sent);
        for (reason, n) in &i.stats.transitions_by_reason {
            transitions
                .get_or_create(&l(&[("instance", name), ("reason", reason)]))
                .inc_by(*n);
        }
        registry
            .sub_registry_with_label((Cow::Borrowed("instance"), Cow::Owned(name.to_string())))
            .register_with_unit(
                "reaction_latency",
                "Time from the XDP program seeing an advert to the daemon acting on it",
                Unit::Other("microseconds".into()),
                Observed(i.stats.reaction_latency_us.clone()),
            );
    }
    registry.register(
        "instance_state",
        "1 for the state each instance is in",
        state,
    );
    registry.register(
        "instance_priority",
        "Base and effective (after tracking) priority",
        priority,
    );
    registry.register("adverts_sent", "Adverts sent", sent);
    registry.register(
        "adverts_received",
        "Valid adverts recorded by the XDP program",
        received,
    );
    registry.register("priority_zero_sent", "Priority-0 adverts sent", zero_sent);
    registry.register(
        "priority_zero_received",
        "Priority-0 adverts received",
        zero_received,
    );
    registry.register(
        "garp_sent",
        "Gratuitous ARPs and unsolicited NAs sent",
        garp,
    );
    registry.register("transitions", "State transitions by reason", transitions);

    let xdp = Family::<Labels, Counter>::default();
    for (name, value) in &s.dataplane.counters {
        xdp.get_or_create(&l(&[("counter", name)])).inc_by(*value);
    }
    registry.register(
        "xdp_packets",
        "XDP program counters: adverts recorded, drops by reason, ARP/NA answers",
        xdp,
    );

    let runs = Family::<Labels, Counter>::default();
    let script_ok = Family::<Labels, Gauge>::default();
    let duration = Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    for sc in &s.scripts {
        let name = sc.name.as_str();
        runs.get_or_create(&l(&[("script", name), ("result", "ok")]))
            .inc_by(sc.successes);
        runs.get_or_create(&l(&[("script", name), ("result", "failed")]))
            .inc_by(sc.failures);
        script_ok
            .get_or_create(&l(&[("script", name)]))
            .set(i64::from(sc.status == "OK"));
        duration
            .get_or_create(&l(&[("script", name)]))
            .set(sc.last_duration_secs);
    }
    registry.register("script_runs", "vrrp_script runs by result", runs);
    registry.register("script_ok", "1 while the vrrp_script is OK", script_ok);
    registry.register_with_unit(
        "script_last_duration",
        "Duration of the last run of each vrrp_script",
        Unit::Seconds,
        duration,
    );
    registry.register("up", "The daemon answers", gauge(1));
    registry.register(
        "uptime_seconds",
        "Seconds since start",
        counter(s.uptime_secs as u64),
    );

    let mut out = String::new();
    let _ = encode(&mut out, &registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::InstanceStatus;

    #[test]
    fn renders_states_counters_and_the_latency_histogram() {
        let mut latency = Histogram::new(&[10.0, 100.0]);
        latency.observe(5.0);
        latency.observe(50.0);
        latency.observe(500.0);
        let mut s = Snapshot::default();
        s.instances.push(InstanceStatus {
            iname: "VI_1".into(),
            state: "MASTER".into(),
            effective_priority: 110,
            base_priority: 100,
            ..Default::default()
        });
        s.instances[0].stats.advert_sent = 42;
        s.instances[0].stats.reaction_latency_us = latency;
        s.dataplane.counters.insert("ip_ttl_err".into(), 3);
        let text = render(&s);
        for line in [
            "vrrp_instance_state{instance=\"VI_1\",state=\"MASTER\"} 1",
            "vrrp_instance_state{instance=\"VI_1\",state=\"BACKUP\"} 0",
            "vrrp_instance_priority{instance=\"VI_1\",kind=\"effective\"} 110",
            "vrrp_adverts_sent_total{instance=\"VI_1\"} 42",
            "vrrp_xdp_packets_total{counter=\"ip_ttl_err\"} 3",
            "vrrp_reaction_latency_microseconds_bucket{instance=\"VI_1\",le=\"10.0\"} 1",
            "vrrp_reaction_latency_microseconds_bucket{instance=\"VI_1\",le=\"100.0\"} 2",
            "vrrp_reaction_latency_microseconds_bucket{instance=\"VI_1\",le=\"+Inf\"} 3",
            "vrrp_reaction_latency_microseconds_count{instance=\"VI_1\"} 3",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in:\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
