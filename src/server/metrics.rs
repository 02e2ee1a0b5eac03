//! `/metrics`: what the server is doing, in Prometheus's text format (the `prometheus`
//! crate). Counters on the forwarding path are the crate's own (an atomic add each, the
//! label looked up once per leg, not per packet); gauges are read from the tables at each
//! scrape; what the WebRTC layer counts (`peer::counts`) is carried over at each scrape, as
//! are the process's CPU time and memory (from /proc). README.md lists them.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use prometheus::{
    Counter, Encoder, Gauge, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::peer::counts::Counts;
use crate::vocab::Kind;

/// How many of each thing there are now, read from the tables at a scrape.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Now {
    pub(crate) sessions: usize,
    pub(crate) connections: usize,
    pub(crate) streams: usize,
    pub(crate) subscriptions: usize,
}

pub(crate) struct Metrics {
    registry: Registry,
    sessions: IntGauge,
    connections: IntGauge,
    streams: IntGauge,
    subscriptions: IntGauge,
    forwarded_packets: IntCounterVec,
    forwarded_bytes: IntCounterVec,
    dropped: IntCounterVec,
    subscriber_drops: IntCounterVec,
    keyframe_requests: IntCounterVec,
    nacked: IntCounter,
    nack_admitted: IntCounter,
    cpu: Counter,
    resident: Gauge,
    /// The WebRTC layer's counts at the last scrape: its counters move by the difference.
    /// They are the process's: in `vcall demo`, whose clients share the server's process,
    /// the clients' own count too.
    carried: Mutex<Counts>,
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("a valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("registered once");
    c
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).expect("a valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("registered once");
    c
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).expect("a valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("registered once");
    g
}

fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Audio => "audio",
        Kind::Video => "video",
    }
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let r = Registry::new();
        let cpu = Counter::new(
            "process_cpu_seconds_total",
            "CPU time (user and system) of the server's process, seconds",
        )
        .expect("a valid metric");
        r.register(Box::new(cpu.clone())).expect("registered once");
        let resident = Gauge::new(
            "process_resident_memory_bytes",
            "Resident memory of the server's process, bytes",
        )
        .expect("a valid metric");
        r.register(Box::new(resident.clone()))
            .expect("registered once");
        Metrics {
            cpu,
            resident,
            sessions: gauge(
                &r,
                "vcall_sessions",
                "Sessions with at least one connection or stream",
            ),
            connections: gauge(&r, "vcall_connections", "Connections joined to sessions"),
            streams: gauge(
                &r,
                "vcall_streams",
                "Streams published (live, negotiating or interrupted)",
            ),
            subscriptions: gauge(
                &r,
                "vcall_subscriptions",
                "Subscriptions forwarded by the server",
            ),
            forwarded_packets: counter_vec(
                &r,
                "vcall_forwarded_packets_total",
                "RTP packets forwarded to subscribers",
                &["kind"],
            ),
            forwarded_bytes: counter_vec(
                &r,
                "vcall_forwarded_bytes_total",
                "RTP payload bytes forwarded to subscribers",
                &["kind"],
            ),
            dropped: counter_vec(
                &r,
                "vcall_dropped_packets_total",
                "Packets dropped, by reason: subscriber_queue (a subscriber's send queue was full), reader_queue (a received track's reader, the forwarder, had its queue full), socket_buffer (the UDP socket's buffer was full), unrouted (a datagram on the media port for no connection), ungranted (RTP under an SSRC its connection's far end did not declare: a subscriber sending media, a peer using another's SSRC), unauthenticated (SRTCP no key of its connection's handshake opens, or unencrypted under AES-CM: not from its far end)",
                &["reason"],
            ),
            subscriber_drops: counter_vec(
                &r,
                "vcall_subscriber_queue_dropped_packets_total",
                "Packets dropped because one subscription's send queue was full, while it lasts",
                &["session", "subscription"],
            ),
            keyframe_requests: counter_vec(
                &r,
                "vcall_keyframe_requests_total",
                "Keyframe requests: asked (by subscribers and new subscriptions), sent (to publishers; several asks for one keyframe are merged), throttled (a subscriber's asked again within 500 ms: dropped)",
                &["stage"],
            ),
            nacked: counter(
                &r,
                "vcall_nack_requested_packets_total",
                "Packets the far ends asked for again (NACK)",
            ),
            nack_admitted: counter(
                &r,
                "vcall_nack_admitted_packets_total",
                "Requested packets let through to be sent again (not already on their way)",
            ),
            // What the process counted before the server started is not the server's.
            carried: Mutex::new(crate::peer::counts::counts()),
            registry: r,
        }
    }

    /// What a subscription in `session`, `subscription`, counts: its legs' packets and its
    /// own queue drops (`session_packets`: the session's forwarded packets, for its API).
    pub(crate) fn subscription(
        self: &Arc<Self>,
        session_packets: Arc<AtomicU64>,
        session: &str,
        subscription: &str,
    ) -> SubscriptionCounts {
        SubscriptionCounts {
            session_packets,
            own_drops: self
                .subscriber_drops
                .with_label_values(&[session, subscription]),
            labels: [session.to_owned(), subscription.to_owned()],
            metrics: Arc::clone(self),
        }
    }

    /// A keyframe request: asked, and whether it was sent on to the publisher.
    pub(crate) fn keyframe_request(&self, sent: bool) {
        self.keyframe_requests.with_label_values(&["asked"]).inc();
        if sent {
            self.keyframe_requests.with_label_values(&["sent"]).inc();
        }
    }

    /// A subscriber's keyframe request dropped: it asked again too soon.
    pub(crate) fn keyframe_throttled(&self) {
        self.keyframe_requests
            .with_label_values(&["throttled"])
            .inc();
    }

    /// The text a scrape gets, with the gauges at `now`.
    pub(crate) fn render(&self, now: Now) -> String {
        self.sessions.set(now.sessions as i64);
        self.connections.set(now.connections as i64);
        self.streams.set(now.streams as i64);
        self.subscriptions.set(now.subscriptions as i64);
        {
            // Read under the lock: two scrapes at once carry each count over once.
            let mut carried = self.carried.lock().expect("carried lock");
            let counts = crate::peer::counts::counts();
            let moved = |now: u64, before: u64| now.saturating_sub(before);
            for (reason, now, before) in [
                ("unrouted", counts.unrouted, carried.unrouted),
                ("reader_queue", counts.reader_drops, carried.reader_drops),
                ("socket_buffer", counts.socket_drops, carried.socket_drops),
                ("ungranted", counts.ungranted, carried.ungranted),
                (
                    "unauthenticated",
                    counts.unauthenticated,
                    carried.unauthenticated,
                ),
            ] {
                self.dropped
                    .with_label_values(&[reason])
                    .inc_by(moved(now, before));
            }
            self.nacked.inc_by(moved(counts.nacked, carried.nacked));
            self.nack_admitted
                .inc_by(moved(counts.nack_admitted, carried.nack_admitted));
            *carried = counts;
            // Under the same lock: concurrent scrapes move the counter once.
            if let Some(cpu) = crate::process::cpu_seconds() {
                self.cpu.inc_by((cpu - self.cpu.get()).max(0.0));
            }
        }
        if let Some(bytes) = crate::process::resident_bytes() {
            self.resident.set(bytes as f64);
        }
        // Every reason and stage shows from the first scrape, at 0 until it happens.
        for reason in [
            "subscriber_queue",
            "unrouted",
            "reader_queue",
            "socket_buffer",
            "ungranted",
            "unauthenticated",
        ] {
            self.dropped.with_label_values(&[reason]);
        }
        for stage in ["asked", "sent", "throttled"] {
            self.keyframe_requests.with_label_values(&[stage]);
        }
        for kind in ["audio", "video"] {
            self.forwarded_packets.with_label_values(&[kind]);
            self.forwarded_bytes.with_label_values(&[kind]);
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into memory");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

/// What one subscription counts; its own series goes when it is dropped.
pub(crate) struct SubscriptionCounts {
    /// The session's forwarded packets (the session API's `forwardedPackets`).
    session_packets: Arc<AtomicU64>,
    own_drops: IntCounter,
    labels: [String; 2],
    metrics: Arc<Metrics>,
}

impl SubscriptionCounts {
    /// What one of its legs, of `kind`, counts.
    pub(crate) fn leg(&self, kind: Kind) -> LegCounts {
        let m = &self.metrics;
        LegCounts {
            session_packets: Arc::clone(&self.session_packets),
            packets: m.forwarded_packets.with_label_values(&[kind_label(kind)]),
            bytes: m.forwarded_bytes.with_label_values(&[kind_label(kind)]),
            own_drops: self.own_drops.clone(),
            drops: m.dropped.with_label_values(&["subscriber_queue"]),
        }
    }
}

impl Drop for SubscriptionCounts {
    fn drop(&mut self) {
        let [session, subscription] = &self.labels;
        let _ = self
            .metrics
            .subscriber_drops
            .remove_label_values(&[session, subscription]);
    }
}

/// What a leg counts per packet: handles resolved once, each an atomic add.
pub(crate) struct LegCounts {
    session_packets: Arc<AtomicU64>,
    packets: IntCounter,
    bytes: IntCounter,
    own_drops: IntCounter,
    drops: IntCounter,
}

impl LegCounts {
    pub(crate) fn forwarded(&self, bytes: usize) {
        self.session_packets
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.packets.inc();
        self.bytes.inc_by(bytes as u64);
    }

    pub(crate) fn dropped(&self) {
        self.own_drops.inc();
        self.drops.inc();
    }
}
