//! What a load test tells: figures while it runs, a summary at the end (a table on stderr,
//! JSON lines on stdout), the verdict of `--expect`, and whether the generator itself was
//! the limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::check::{Figures, Sequence, VideoCheck};
use super::pictures::Pictures;
use super::{Seat, SeatRole};
use crate::client::measure::Latencies;
use crate::conditions::Condition;
use crate::exit::{CmdResult, Exit, Failure};

/// How often the runtime's lateness is sampled.
const LAG_TICK: Duration = Duration::from_millis(20);

/// One subscribed stream: where it is, and its checks.
#[derive(Debug)]
pub(super) struct StreamReport {
    pub(super) room: u32,
    pub(super) subscriber: u32,
    pub(super) name: String,
    pub(super) video: Option<VideoCheck>,
    pub(super) audio: Option<Sequence>,
    /// What its decoded pictures showed, when it is one of those `--decode` samples.
    pub(super) pictures: Option<Pictures>,
    /// When its stream ended (its publisher left): its figures stop there, not frozen since.
    pub(super) ended: Option<Instant>,
}

impl StreamReport {
    pub(super) fn new(seat: Seat, name: &str) -> StreamReport {
        let subscriber = match seat.role {
            SeatRole::Subscriber(i) | SeatRole::Publisher(i) => i,
        };
        StreamReport {
            room: seat.room,
            subscriber,
            name: name.to_owned(),
            video: None,
            audio: None,
            pictures: None,
            ended: None,
        }
    }

    fn label(&self) -> String {
        format!(
            "room {} subscriber {} ← {}",
            self.room, self.subscriber, self.name
        )
    }
}

/// Everything the participants report, shared.
#[derive(Debug)]
pub(super) struct Report {
    participants: u64,
    expected_streams: u64,
    joined: AtomicU64,
    failures: Mutex<Vec<(u32, String)>>,
    streams: Mutex<Vec<Arc<Mutex<StreamReport>>>>,
    /// Units a publisher missed because it fell behind the shared encoder.
    dropped: AtomicU64,
    /// Publishers' steps between rate tiers: down, up.
    steps: [AtomicU64; 2],
    started: Instant,
    shard: Shard,
}

impl Report {
    pub(super) fn new(participants: u64, expected_streams: u64, shard: Shard) -> Report {
        Report {
            participants,
            expected_streams,
            joined: AtomicU64::new(0),
            failures: Mutex::default(),
            streams: Mutex::default(),
            dropped: AtomicU64::new(0),
            steps: Default::default(),
            started: Instant::now(),
            shard,
        }
    }

    pub(super) fn joined(&self) {
        self.joined.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn failed(&self, room: u32, why: &str) {
        tracing::warn!("room {room}: a participant failed: {why}");
        self.failures
            .lock()
            .expect("failures lock")
            .push((room, why.to_owned()));
    }

    pub(super) fn generator_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// A publisher moved to a lower rate tier (`down`) or a higher one.
    pub(super) fn stepped(&self, down: bool) {
        self.steps[usize::from(!down)].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn stream(&self, stream: StreamReport) -> Arc<Mutex<StreamReport>> {
        let slot = Arc::new(Mutex::new(stream));
        self.streams
            .lock()
            .expect("streams lock")
            .push(Arc::clone(&slot));
        slot
    }

    /// Each stream's figures as of `now`, and every frame's latency.
    fn lines(&self, now: Instant) -> (Vec<StreamLine>, Latencies) {
        let streams = self.streams.lock().expect("streams lock").clone();
        let mut latency = Latencies::default();
        let lines = streams
            .iter()
            .map(|s| {
                let s = s.lock().expect("stream lock");
                let f = s
                    .video
                    .as_ref()
                    .map(|v| v.figures_at(s.ended.map_or(now, |e| e.min(now))))
                    .unwrap_or_default();
                latency.merge(&f.latency);
                let (ap, al) = s.audio.as_ref().map_or((0, 0), |a| (a.received, a.lost()));
                let mut line = StreamLine::new(s.label(), s.room, &f, ap, al);
                line.pictures = s.pictures.clone();
                line
            })
            .collect();
        (lines, latency)
    }

    pub(super) fn summary(&self, now: Instant, generator: Generator) -> Summary {
        let (streams, latency) = self.lines(now);
        let failures = self.failures.lock().expect("failures lock");
        Summary {
            participants: self.participants,
            joined: self.joined.load(Ordering::Relaxed),
            failed: failures.len() as u64,
            failures: failures
                .iter()
                .take(MAX_FAILURES_KEPT)
                .map(|(r, w)| format!("room {r}: {w}"))
                .collect(),
            expected_streams: self.expected_streams,
            streams,
            latency_histogram: latency,
            generators: vec![(
                self.shard,
                Generator {
                    dropped: self.dropped.load(Ordering::Relaxed),
                    ..generator
                },
            )],
            seconds: now.duration_since(self.started).as_secs_f64(),
            steps_down: self.steps[0].load(Ordering::Relaxed),
            steps_up: self.steps[1].load(Ordering::Relaxed),
        }
    }
}

/// Rooms the table lists one by one without `--per-stream`.
const ROOMS_LISTED: usize = 10;

/// Failures a summary names (the rest are counted).
const MAX_FAILURES_KEPT: usize = 10;

/// Which share of a run a process runs: the `index`th of `count` (from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Shard {
    pub(crate) index: u32,
    pub(crate) count: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Quantiles of one figure, ms.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Quantiles {
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
    max: Option<f64>,
}

impl Quantiles {
    fn of(q: impl Fn(f64) -> Option<f64>) -> Quantiles {
        Quantiles {
            p50: q(0.5),
            p95: q(0.95),
            p99: q(0.99),
            max: q(1.0),
        }
    }
}

/// One stream's figures as a summary, its JSON line (`loadStream`) and a merge read them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StreamLine {
    stream: String,
    room: u32,
    frames: u64,
    frames_lost: u64,
    out_of_order: u64,
    identity_violations: u64,
    /// One publisher whose frames it carried instead, when it did.
    other_publisher: Option<u32>,
    packets: u64,
    packets_lost: u64,
    audio_packets: u64,
    audio_packets_lost: u64,
    latency_ms: Quantiles,
    freeze_max_ms: f64,
    first_frame_ms: Option<f64>,
    /// What its decoded pictures showed (the streams `--decode` samples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pictures: Option<Pictures>,
}

impl StreamLine {
    fn new(stream: String, room: u32, f: &Figures, audio: u64, audio_lost: u64) -> StreamLine {
        StreamLine {
            stream,
            room,
            frames: f.frames,
            frames_lost: f.frames_lost,
            out_of_order: f.out_of_order,
            identity_violations: f.wrong,
            other_publisher: f.wrong_publisher,
            packets: f.packets,
            packets_lost: f.packets_lost,
            audio_packets: audio,
            audio_packets_lost: audio_lost,
            latency_ms: Quantiles::of(|p| f.latency.quantile(p)),
            freeze_max_ms: (f.freeze_max_ms * 10.0).round() / 10.0,
            first_frame_ms: f.first_frame_ms.map(|v| (v * 10.0).round() / 10.0),
            pictures: None,
        }
    }
}

/// One room's figures: its streams' added up, and their worst.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct RoomLine {
    room: u32,
    /// Streams that got at least one whole frame.
    streams: u64,
    frames: u64,
    frames_lost: u64,
    identity_violations: u64,
    packets_lost: u64,
    /// The worst stream's latency p95, longest freeze and first frame, ms.
    latency_p95_ms: Option<f64>,
    freeze_max_ms: f64,
    first_frame_max_ms: Option<f64>,
}

/// How the generator itself did.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Generator {
    /// Its CPU time over the run, as a share of one core, and the cores it had.
    pub(super) cpu: f64,
    pub(super) cores: usize,
    /// How late its runtime ran a timer, ms.
    pub(super) lag_p99: f64,
    pub(super) lag_max: f64,
    /// Units publishers missed.
    pub(super) dropped: u64,
    /// The share of the cores it may use before it is the limit.
    pub(super) cpu_limit: f64,
    /// How late its encoders made their frames (p99), ms.
    #[serde(default)]
    pub(super) pacing_p99: f64,
    /// How late its timers and encoders may run (p99) before it is the limit, ms.
    #[serde(default)]
    pub(super) lag_limit: f64,
}

impl Generator {
    /// Why the generator, not the server, was the limit, if it was.
    fn overloaded(&self) -> Option<String> {
        if self.cpu > self.cpu_limit * self.cores as f64 {
            return Some(format!(
                "it used {:.1}% of a core, more than {:.0}% of its {} cores",
                self.cpu * 100.0,
                self.cpu_limit * 100.0,
                self.cores
            ));
        }
        if self.lag_p99 > self.lag_limit {
            return Some(format!(
                "its runtime ran timers {:.0} ms late (p99)",
                self.lag_p99
            ));
        }
        if self.pacing_p99 > self.lag_limit {
            return Some(format!(
                "its encoders made frames {:.0} ms late (p99)",
                self.pacing_p99
            ));
        }
        if self.dropped > 0 {
            return Some(format!(
                "its publishers fell behind the encoders and missed {} units of media",
                self.dropped
            ));
        }
        None
    }
}

/// Watches the generator: its CPU time, and how late its runtime runs a timer.
pub(super) struct Watch {
    cpu0: Option<f64>,
    t0: Instant,
    lag: Arc<Mutex<Latencies>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    pub(super) fn start() -> Watch {
        let lag: Arc<Mutex<Latencies>> = Arc::default();
        let l = Arc::clone(&lag);
        let task = tokio::spawn(async move {
            let mut due = Instant::now() + LAG_TICK;
            loop {
                tokio::time::sleep_until(due.into()).await;
                let now = Instant::now();
                l.lock()
                    .expect("lag lock")
                    .push(now.saturating_duration_since(due).as_secs_f64() * 1000.0);
                due = now + LAG_TICK;
            }
        });
        Watch {
            cpu0: crate::process::cpu_seconds(),
            t0: Instant::now(),
            lag,
            task,
        }
    }

    pub(super) fn finish(self, cpu_limit: f64, lag_limit: Duration) -> Generator {
        self.task.abort();
        let wall = self.t0.elapsed().as_secs_f64();
        let cpu = match (self.cpu0, crate::process::cpu_seconds()) {
            (Some(a), Some(b)) if wall > 0.0 => (b - a) / wall,
            _ => 0.0,
        };
        let lag = self.lag.lock().expect("lag lock");
        Generator {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            lag_p99: lag.quantile(0.99).unwrap_or(0.0),
            lag_max: lag.quantile(1.0).unwrap_or(0.0),
            dropped: 0,
            cpu_limit,
            pacing_p99: 0.0,
            lag_limit: lag_limit.as_secs_f64() * 1000.0,
        }
    }
}

/// Prints figures every `every` while the run goes on.
pub(super) async fn intervals(report: Arc<Report>, every: Duration, json: bool, quiet: bool) {
    if every.is_zero() {
        return;
    }
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tick.tick().await;
        let s = report.summary(Instant::now(), Generator::default());
        crate::jsonl::emit_or_keep(json, "loadStats", s.totals());
        if !json && !quiet {
            eprintln!(
                "vcall: {:>5.0}s  joined {}/{}  streams {}/{}  frames {}  lost {}  latency p95 {}  freeze.max max {}",
                s.seconds,
                s.joined,
                s.participants,
                s.receiving(),
                s.expected_streams,
                s.frames(),
                s.frames_lost(),
                ms(s.latency(0.95)),
                ms(s.across(|f| Some(f.freeze_max_ms), 1.0)),
            );
        }
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.0}ms"))
}

/// The run's figures at its end (or one shard's, or the shards' merged).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Summary {
    participants: u64,
    joined: u64,
    failed: u64,
    /// The first failures, as said.
    failures: Vec<String>,
    expected_streams: u64,
    #[serde(skip)]
    streams: Vec<StreamLine>,
    /// Every whole frame's latency (what shards' merges add up).
    latency_histogram: Latencies,
    /// Each shard's generator.
    generators: Vec<(Shard, Generator)>,
    seconds: f64,
    /// Publishers' steps to a lower rate tier, and to a higher one.
    #[serde(default)]
    steps_down: u64,
    #[serde(default)]
    steps_up: u64,
}

impl Summary {
    /// Streams that got at least one whole frame.
    fn receiving(&self) -> u64 {
        self.streams.iter().filter(|s| s.frames > 0).count() as u64
    }
    fn frames(&self) -> u64 {
        self.streams.iter().map(|s| s.frames).sum()
    }
    fn frames_lost(&self) -> u64 {
        self.streams.iter().map(|s| s.frames_lost).sum()
    }
    fn wrong(&self) -> u64 {
        self.streams.iter().map(|s| s.identity_violations).sum()
    }
    /// Each room's figures, by room.
    fn rooms(&self) -> Vec<RoomLine> {
        let mut rooms: std::collections::BTreeMap<u32, RoomLine> = Default::default();
        let worst = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for s in &self.streams {
            let r = rooms.entry(s.room).or_insert_with(|| RoomLine {
                room: s.room,
                ..RoomLine::default()
            });
            r.streams += u64::from(s.frames > 0);
            r.frames += s.frames;
            r.frames_lost += s.frames_lost;
            r.identity_violations += s.identity_violations;
            r.packets_lost += s.packets_lost + s.audio_packets_lost;
            r.latency_p95_ms = worst(r.latency_p95_ms, s.latency_ms.p95);
            r.freeze_max_ms = r.freeze_max_ms.max(s.freeze_max_ms);
            r.first_frame_max_ms = worst(r.first_frame_max_ms, s.first_frame_ms);
        }
        rooms.into_values().collect()
    }

    /// Pictures decoded, bad ones, and the streams decoded.
    fn pictures(&self) -> (u64, u64, u64) {
        self.streams
            .iter()
            .filter_map(|s| s.pictures.as_ref())
            .fold((0, 0, 0), |(d, b, n), p| (d + p.decoded, b + p.bad, n + 1))
    }
    fn loss_percent(&self) -> f64 {
        let (mut got, mut lost) = (0, 0);
        for s in &self.streams {
            got += s.packets + s.audio_packets;
            lost += s.packets_lost + s.audio_packets_lost;
        }
        match got + lost {
            0 => 0.0,
            n => lost as f64 * 100.0 / n as f64,
        }
    }

    /// The `p` quantile across the streams that have `value`.
    fn across(&self, value: impl Fn(&StreamLine) -> Option<f64>, p: f64) -> Option<f64> {
        let mut v: Vec<f64> = self
            .streams
            .iter()
            .filter(|s| s.frames > 0)
            .filter_map(value)
            .collect();
        quantile(&mut v, p)
    }

    fn latency(&self, p: f64) -> Option<f64> {
        self.latency_histogram.quantile(p)
    }

    /// A metric's value, by its `--expect` name.
    fn value(&self, metric: &str) -> Option<f64> {
        let q = |name: &str| match name {
            "p50" => Some(0.5),
            "p95" => Some(0.95),
            "p99" => Some(0.99),
            "max" => Some(1.0),
            _ => None,
        };
        let pct = |a: u64, b: u64| {
            if b == 0 {
                0.0
            } else {
                a as f64 * 100.0 / b as f64
            }
        };
        match metric {
            "joined" => Some(pct(self.joined, self.participants)),
            "streams" => Some(pct(self.receiving(), self.expected_streams)),
            "streams.frames" => Some(self.frames() as f64),
            "streams.frames.lost" => Some(self.frames_lost() as f64),
            "loss" => Some(self.loss_percent()),
            "identity.violations" => Some(self.wrong() as f64),
            "pictures.decoded" => Some(self.pictures().0 as f64),
            "pictures.bad" => Some(self.pictures().1 as f64),
            m => {
                if let Some(p) = m.strip_prefix("latency.").and_then(q) {
                    return self.latency(p);
                }
                if let Some(p) = m.strip_prefix("freeze.max.").and_then(q) {
                    return self.across(|s| Some(s.freeze_max_ms), p);
                }
                if let Some(p) = m.strip_prefix("first-frame.").and_then(q) {
                    return self.across(|s| s.first_frame_ms, p);
                }
                None
            }
        }
    }

    /// The stream that did worst at what `metric` measures, for the failure's message.
    fn worst(&self, metric: &str) -> Option<String> {
        let key: Box<dyn Fn(&StreamLine) -> f64> = if metric.starts_with("streams.frames.lost") {
            Box::new(|s| s.frames_lost as f64)
        } else if metric.starts_with("freeze") {
            Box::new(|s| s.freeze_max_ms)
        } else if metric.starts_with("first-frame") {
            Box::new(|s| s.first_frame_ms.unwrap_or(f64::INFINITY))
        } else if metric.starts_with("latency") {
            Box::new(|s| s.latency_ms.p95.unwrap_or(0.0))
        } else if metric.starts_with("identity") {
            Box::new(|s| s.identity_violations as f64)
        } else if metric == "pictures.decoded" {
            // The sampled stream with the fewest.
            Box::new(|s| {
                s.pictures
                    .as_ref()
                    .map_or(f64::MIN, |p| -(p.decoded as f64))
            })
        } else if metric.starts_with("pictures") {
            Box::new(|s| s.pictures.as_ref().map_or(-1.0, |p| p.bad as f64))
        } else if metric == "loss" {
            Box::new(|s| (s.packets_lost + s.audio_packets_lost) as f64)
        } else if metric == "streams" || metric == "joined" {
            return Some(self.short_rooms());
        } else {
            return None;
        };
        let s = self
            .streams
            .iter()
            .max_by(|a, b| key(a).total_cmp(&key(b)))?;
        let extra = match (metric.starts_with("identity"), s.other_publisher) {
            (true, Some(p)) => format!(" (it carried frames of publisher #{p})"),
            _ => String::new(),
        };
        let extra = match (metric.starts_with("pictures"), &s.pictures) {
            (true, Some(p)) => format!(
                "{extra}, {} pictures decoded, {} bad{}",
                p.decoded,
                p.bad,
                p.first_bad
                    .as_ref()
                    .map(|w| format!(" (first: {w})"))
                    .unwrap_or_default()
            ),
            _ => extra,
        };
        Some(format!(
            "worst: {}: {} frames, {} lost, freeze.max {:.0}ms{extra}",
            s.stream, s.frames, s.frames_lost, s.freeze_max_ms
        ))
    }

    /// The streams each room got, and the first failures.
    fn short_rooms(&self) -> String {
        let mut per_room: std::collections::BTreeMap<u32, u64> = Default::default();
        for s in self.streams.iter().filter(|s| s.frames > 0) {
            *per_room.entry(s.room).or_default() += 1;
        }
        let rooms: Vec<String> = per_room
            .iter()
            .map(|(r, n)| format!("room {r}: {n} streams"))
            .collect();
        let mut out = match rooms.is_empty() {
            true => "no stream received a whole frame".to_owned(),
            false => rooms.join(", "),
        };
        if !self.failures.is_empty() {
            out = format!(
                "{out}; {} failed: {}",
                self.failed,
                self.failures.join("; ")
            );
        }
        out
    }

    /// The whole run's figures, as a JSON object.
    pub(super) fn totals(&self) -> serde_json::Value {
        json!({
            "seconds": (self.seconds * 10.0).round() / 10.0,
            "participants": self.participants,
            "joined": self.joined,
            "failed": self.failed,
            "streamsExpected": self.expected_streams,
            "streams": self.receiving(),
            "frames": self.frames(),
            "framesLost": self.frames_lost(),
            "identityViolations": self.wrong(),
            "streamsDecoded": self.pictures().2,
            "picturesDecoded": self.pictures().0,
            "picturesBad": self.pictures().1,
            "lossPercent": self.loss_percent(),
            "latencyMs": Quantiles::of(|p| self.latency(p)),
            "freezeMaxMs": Quantiles::of(|p| self.across(|s| Some(s.freeze_max_ms), p)),
            "firstFrameMs": Quantiles::of(|p| self.across(|s| s.first_frame_ms, p)),
        })
    }

    /// Why the generator of one of the shards was the limit, if it was.
    fn overloaded(&self) -> Option<String> {
        let why: Vec<String> = self
            .generators
            .iter()
            .filter_map(|(shard, g)| {
                let why = g.overloaded()?;
                Some(match shard.count {
                    0 => why,
                    _ => format!("shard {shard}: {why}"),
                })
            })
            .collect();
        (!why.is_empty()).then(|| why.join("; "))
    }

    /// Prints the summary: JSON lines on stdout with `json` (`loadStream` each with
    /// `per_stream`; `loadRoom` each; `loadSummary`, which a merge reads, with everything it
    /// needs), and the table on stderr unless `quiet` (each room's line with `per_stream`
    /// or up to [`ROOMS_LISTED`] rooms).
    pub(super) fn print(&self, json: bool, per_stream: bool, quiet: bool) {
        let rooms = self.rooms();
        // A report (`--report`) keeps every line, printed or not.
        if json || crate::jsonl::reporting() {
            for r in &rooms {
                if let Ok(serde_json::Value::Object(v)) = serde_json::to_value(r) {
                    crate::jsonl::emit_or_keep(json, "loadRoom", serde_json::Value::Object(v));
                }
            }
            for s in &self.streams {
                if let Ok(serde_json::Value::Object(v)) = serde_json::to_value(s) {
                    crate::jsonl::emit_or_keep(
                        json && per_stream,
                        "loadStream",
                        serde_json::Value::Object(v),
                    );
                }
            }
            let mut totals = self.totals();
            if let Ok(serde_json::Value::Object(all)) = serde_json::to_value(self) {
                for (k, v) in all {
                    totals[k] = v;
                }
            }
            totals["overloaded"] = json!(self.overloaded());
            crate::jsonl::emit_or_keep(json, "loadSummary", totals);
        }
        if quiet {
            return;
        }
        if per_stream || rooms.len() <= ROOMS_LISTED {
            for r in &rooms {
                eprintln!(
                    "  room {}: {} streams, {} frames, {} lost, {} identity violations, {} packets lost; worst stream: latency p95 {}, freeze.max {:.0}ms, first frame {}",
                    r.room,
                    r.streams,
                    r.frames,
                    r.frames_lost,
                    r.identity_violations,
                    r.packets_lost,
                    ms(r.latency_p95_ms),
                    r.freeze_max_ms,
                    ms(r.first_frame_max_ms)
                );
            }
        }
        if per_stream && !json {
            for s in &self.streams {
                eprintln!(
                    "  {}: {} packets ({} lost), {} audio ({} lost), {} frames, {} lost, {} out of order, latency p95 {}, freeze.max {:.0}ms, first frame {}",
                    s.stream,
                    s.packets,
                    s.packets_lost,
                    s.audio_packets,
                    s.audio_packets_lost,
                    s.frames,
                    s.frames_lost,
                    s.out_of_order,
                    ms(s.latency_ms.p95),
                    s.freeze_max_ms,
                    ms(s.first_frame_ms)
                );
            }
        }
        let row = |name: &str, v: [Option<f64>; 4]| {
            eprintln!(
                "  {name:<12} {:>9} {:>9} {:>9} {:>9}",
                ms(v[0]),
                ms(v[1]),
                ms(v[2]),
                ms(v[3])
            );
        };
        eprintln!(
            "vcall: load test over {:.0}s: {}/{} joined, {}/{} streams received, {} frames, {} lost, {} identity violations, loss {:.2}%",
            self.seconds,
            self.joined,
            self.participants,
            self.receiving(),
            self.expected_streams,
            self.frames(),
            self.frames_lost(),
            self.wrong(),
            self.loss_percent()
        );
        eprintln!(
            "  {:<12} {:>9} {:>9} {:>9} {:>9}",
            "", "p50", "p95", "p99", "max"
        );
        let qs = [0.5, 0.95, 0.99, 1.0];
        row("latency", qs.map(|p| self.latency(p)));
        row(
            "freeze.max",
            qs.map(|p| self.across(|s| Some(s.freeze_max_ms), p)),
        );
        row(
            "first-frame",
            qs.map(|p| self.across(|s| s.first_frame_ms, p)),
        );
        let (decoded, bad, streams) = self.pictures();
        eprintln!(
            "  pictures: {decoded} decoded in {streams} streams, {bad} bad; publishers stepped down a rate tier {} times, up {}",
            self.steps_down, self.steps_up
        );
        for (shard, g) in &self.generators {
            let name = match shard.count {
                0 => "generator".to_owned(),
                _ => format!("generator {shard}"),
            };
            eprintln!(
                "  {name}: {:.0}% CPU of {} cores, timers late {:.0} ms and frames made {:.0} ms late (p99), {} units missed",
                g.cpu * 100.0,
                g.cores,
                g.lag_p99,
                g.pacing_p99,
                g.dropped
            );
        }
    }

    /// The exit code: the generator's own when it was the limit, 11 when a condition
    /// failed (naming the worst stream), 0 otherwise.
    pub(super) fn verdict(&self, conditions: Option<&[Condition]>) -> CmdResult {
        if let Some(why) = self.overloaded() {
            return Err(Failure::new(
                Exit::Generator,
                format!(
                    "the load generator was the limit, not the server: {why}; run fewer participants per process (or more processes)"
                ),
            ));
        }
        let mut failed = Vec::new();
        for c in conditions.unwrap_or_default() {
            match self.value(&c.metric) {
                Some(v) if c.holds(v) => {}
                Some(v) => failed.push(format!(
                    "{c} (measured {}){}",
                    c.show(v),
                    self.worst(&c.metric)
                        .map(|w| format!(": {w}"))
                        .unwrap_or_default()
                )),
                None => failed.push(format!("{c}: nothing measured")),
            }
        }
        if failed.is_empty() {
            return Ok(Exit::Ok);
        }
        Err(Failure::new(
            Exit::Assertion,
            format!("expectation failed: {}", failed.join("; ")),
        ))
    }

    /// The shards' results, each process's `--json` output, as one run: counts added,
    /// latency histograms merged (so quantiles are the whole run's, not averages), the
    /// streams put together.
    pub(super) fn merge(outputs: &[(String, String)]) -> Result<Summary, Failure> {
        let mut all: Option<Summary> = None;
        for (name, text) in outputs {
            let (mut summary, mut streams) = (None, Vec::new());
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
                    Failure::new(
                        Exit::Usage,
                        format!("{name}: not a JSON line ({e}): {line}"),
                    )
                })?;
                let read_err = |e: serde_json::Error| {
                    Failure::new(
                        Exit::Usage,
                        format!("{name}: an unreadable {} line: {e}", v["event"]),
                    )
                };
                match v["event"].as_str() {
                    Some("loadStream") => streams
                        .push(serde_json::from_value::<StreamLine>(v.clone()).map_err(read_err)?),
                    Some("loadSummary") => {
                        summary =
                            Some(serde_json::from_value::<Summary>(v.clone()).map_err(read_err)?)
                    }
                    _ => {}
                }
            }
            let Some(mut s) = summary else {
                return Err(Failure::new(
                    Exit::Usage,
                    format!(
                        "{name}: no loadSummary line (was it a load-test run with --json, and did it end?)"
                    ),
                ));
            };
            s.streams = streams;
            all = Some(match all.take() {
                None => s,
                Some(mut a) => {
                    a.participants += s.participants;
                    a.joined += s.joined;
                    a.failed += s.failed;
                    a.failures.extend(s.failures);
                    a.failures.truncate(MAX_FAILURES_KEPT);
                    a.expected_streams += s.expected_streams;
                    a.streams.extend(s.streams);
                    a.latency_histogram.merge(&s.latency_histogram);
                    a.generators.extend(s.generators);
                    a.seconds = a.seconds.max(s.seconds);
                    a.steps_down += s.steps_down;
                    a.steps_up += s.steps_up;
                    a
                }
            });
        }
        all.ok_or_else(|| Failure::new(Exit::Usage, "no results to merge"))
    }
}

/// The `p` quantile (nearest rank) of `v`.
fn quantile(v: &mut [f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((v.len() - 1) as f64 * p).round() as usize;
    Some(v[rank.min(v.len() - 1)])
}
