//! `/metrics` of `vcall serve`, scraped and parsed by the Prometheus project's own Python
//! client during a real call: the gauges say what is there, the counters move, a
//! subscription's own series goes with it; beyond loopback it needs the API key pair.

use std::collections::HashMap;
use std::process::Command;

use vcall::auth::Role;

use crate::common::*;

/// A scrape: the HTTP status and, for 200, every sample by `name{label=value,...}`.
pub(crate) struct Scrape {
    status: u64,
    samples: HashMap<String, f64>,
}

impl Scrape {
    pub(crate) fn get(&self, key: &str) -> f64 {
        *self
            .samples
            .get(key)
            .unwrap_or_else(|| panic!("no {key} among {:?}", self.samples.keys()))
    }

    /// The samples whose name starts with `prefix`.
    fn named(&self, prefix: &str) -> Vec<(&String, &f64)> {
        self.samples
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .collect()
    }
}

pub(crate) fn scrape(ws_url: &str, credentials: Option<(&str, &str)>) -> Scrape {
    let url = format!("{}/metrics", ws_url.replacen("ws://", "http://", 1));
    let mut c = Command::new(peers_python());
    c.arg(peer_script("scrape_metrics.py")).arg(&url);
    if let Some((user, password)) = credentials {
        c.args([user, password]);
    }
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("the scraper's JSON");
    let samples = v["samples"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
                .collect()
        })
        .unwrap_or_default();
    Scrape {
        status: v["status"].as_u64().unwrap(),
        samples,
    }
}

#[test]
fn metrics_count_a_call_as_prometheus_reads_them() {
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let session = fixed_session("metrics");
    let on = |role: Role, args: &[&str]| client(&url, &session, role, args);
    let before = scrape(&url, None);
    assert_eq!(before.status, 200);
    assert_eq!(before.get("vcall_connections{}"), 0.0);
    assert_eq!(before.get("vcall_forwarded_packets_total{kind=video}"), 0.0);

    let mut publisher = Proc::spawn(on(Role::Publisher, &publish_args("60s")));
    publisher.wait_for("stream is live");
    let dir = temp_dir();
    let out = path_str(&dir.path().join("sub.mkv"));
    // Loss on the subscriber's path: it asks for packets again (NACK).
    let mut args = recording_args(&out, "150", "frames>=150");
    args.extend(["--impair", "loss=5%,seed=7"]);
    let mut subscriber = Proc::spawn(on(Role::Subscriber, &args));
    subscriber.wait_for("first frame");
    let during = scrape(&url, None);
    assert_eq!(during.status, 200);
    for (gauge, n) in [
        ("vcall_sessions{}", 1.0),
        ("vcall_connections{}", 2.0),
        ("vcall_streams{}", 1.0),
        ("vcall_subscriptions{}", 1.0),
    ] {
        assert_eq!(during.get(gauge), n, "{gauge}");
    }
    // The subscription's own queue drops, labelled by its session.
    let own = during.named("vcall_subscriber_queue_dropped_packets_total");
    assert_eq!(own.len(), 1, "{own:?}");
    assert!(own[0].0.contains(&format!("session={session}")), "{own:?}");
    // A new subscription asks for a keyframe at once.
    assert!(during.get("vcall_keyframe_requests_total{stage=asked}") >= 1.0);
    assert!(during.get("process_resident_memory_bytes{}") > 1e6);
    assert!(during.samples.contains_key("process_cpu_seconds_total{}"));
    assert_eq!(subscriber.wait(), 0, "{}", subscriber.output());

    // The subscriber has gone: its subscription ends, and its series with it.
    let after = poll_until("the subscription's end", || {
        let s = scrape(&url, None);
        (s.get("vcall_subscriptions{}") == 0.0).then_some(s)
    });
    assert!(
        after
            .named("vcall_subscriber_queue_dropped_packets_total")
            .is_empty()
    );
    // 150 frames and their audio went through: the counters moved by at least that.
    let video = |s: &Scrape| s.get("vcall_forwarded_packets_total{kind=video}");
    let audio = |s: &Scrape| s.get("vcall_forwarded_packets_total{kind=audio}");
    // (From 0 before the call: every one of the 150 frames is at least a packet.)
    assert!(video(&after) >= 150.0, "{}", video(&after));
    assert!(video(&after) >= video(&during) && audio(&after) >= audio(&during));
    assert!(audio(&after) > 0.0);
    assert!(after.get("vcall_forwarded_bytes_total{kind=video}") > 100.0 * 150.0);
    assert!(after.get("vcall_nack_requested_packets_total{}") > 0.0);
    assert!(
        after.get("vcall_nack_admitted_packets_total{}")
            <= after.get("vcall_nack_requested_packets_total{}")
    );
    assert!(after.get("process_cpu_seconds_total{}") > 0.0);
    drop(publisher);
}

#[test]
fn metrics_need_the_key_pair_beyond_loopback() {
    // Listening on every address: a scrape must bring the key pair, even over loopback.
    let (_serve, url) = serve_process("0.0.0.0:0", &[]);
    let port = url.rsplit(':').next().unwrap();
    let local = format!("ws://127.0.0.1:{port}");
    assert_eq!(scrape(&local, None).status, 401);
    assert_eq!(scrape(&local, Some(("k", "wrong"))).status, 401);
    let ok = scrape(&local, Some(("k", "s")));
    assert_eq!(ok.status, 200);
    assert!(ok.samples.contains_key("vcall_streams{}"));
}
