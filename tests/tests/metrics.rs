//! `--metrics-listen`: a running master's Prometheus endpoint, scraped inside its namespace
//! and read with a real Prometheus text parser (the `prometheus-parse` crate).
use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    time::Duration,
};

use vrrp_tests::{Lab, is_root};

fn config(state: &str, priority: u8) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    state {state}\n    interface eth0\n    virtual_router_id 51\n    priority {priority}\n    advert_int 0.1\n    version 3\n    virtual_ipaddress {{\n        10.0.0.100\n    }}\n}}\n"
    )
}

fn scrape(lab: &Lab, node: usize) -> String {
    lab.spawn_in(node, || {
        let mut s = TcpStream::connect(("127.0.0.1", 9911))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
        let mut body = String::new();
        s.read_to_string(&mut body)?;
        Ok(body)
    })
    .unwrap()
    .join()
    .unwrap()
    .unwrap()
}

#[test]
fn metrics_parse_and_match_the_cluster() {
    assert!(is_root(), "needs root: run through `cargo xtask test`");
    let lab = Lab::builder().nodes(2).client(false).build().expect("lab");
    let args = ["--metrics-listen", "127.0.0.1:9911"];
    let _d1 = lab.spawn_daemon(1, &config("MASTER", 100), &args).unwrap();
    let _d2 = lab.spawn_daemon(2, &config("BACKUP", 90), &args).unwrap();
    lab.wait_for(Duration::from_secs(5), Duration::from_millis(5), || {
        lab.vip_holders("10.0.0.100") == [1]
    })
    .expect("node1 master");
    std::thread::sleep(Duration::from_millis(500));

    let response = scrape(&lab, 1);
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid exposition format");
    let value = |name: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
            .unwrap_or_else(|| panic!("{name} {labels:?} missing:\n{body}"))
    };
    assert_eq!(
        value(
            "vrrp_instance_state",
            &[("instance", "VI_1"), ("state", "MASTER")]
        ),
        1.0
    );
    assert_eq!(
        value(
            "vrrp_instance_state",
            &[("instance", "VI_1"), ("state", "BACKUP")]
        ),
        0.0
    );
    assert_eq!(
        value("vrrp_instance_priority", &[("kind", "effective")]),
        100.0
    );
    assert!(value("vrrp_adverts_sent_total", &[("instance", "VI_1")]) >= 5.0);
    assert_eq!(
        value("vrrp_transitions_total", &[("reason", "master_down")]),
        1.0
    );
    let backup = scrape_body(&scrape_of(&lab, 2));
    assert!(
        backup.contains("vrrp_instance_state{instance=\"VI_1\",state=\"BACKUP\"} 1"),
        "{backup}"
    );
}

fn scrape_of(lab: &Lab, node: usize) -> String {
    scrape(lab, node)
}

fn scrape_body(response: &str) -> String {
    response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}
