//! What a load test tells: figures while it runs, a summary at the end (a table on stderr,
//! JSON lines on stdout), the verdict of `--expect`, and whether the generator itself was
//! the limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::check::{Figures, Sequence, VideoCheck};
use super::{Seat, SeatRole};
use crate::client::measure::Latencies;
use crate::conditions::Condition;
use crate::exit::{CmdResult, Exit, Failure};

/// How late the generator's runtime may run its timers (p99) before it, not the server, is
/// taken to be the limit.
const LAG_LIMIT_MS: f64 = 200.0;
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
    started: Instant,
}

impl Report {
    pub(super) fn new(participants: u64, expected_streams: u64) -> Report {
        Report {
            participants,
            expected_streams,
            joined: AtomicU64::new(0),
            failures: Mutex::default(),
            streams: Mutex::default(),
            dropped: AtomicU64::new(0),
            started: Instant::now(),
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

    pub(super) fn stream(&self, stream: StreamReport) -> Arc<Mutex<StreamReport>> {
        let slot = Arc::new(Mutex::new(stream));
        self.streams
            .lock()
            .expect("streams lock")
            .push(Arc::clone(&slot));
        slot
    }

    /// Each stream's figures as of `now`.
    fn figures(&self, now: Instant) -> Vec<(String, u32, Figures, u64, u64)> {
        let streams = self.streams.lock().expect("streams lock").clone();
        streams
            .iter()
            .map(|s| {
                let s = s.lock().expect("stream lock");
                let f = s
                    .video
                    .as_ref()
                    .map(|v| v.figures_at(now))
                    .unwrap_or_default();
                let (ap, al) = s.audio.as_ref().map_or((0, 0), |a| (a.received, a.lost()));
                (s.label(), s.room, f, ap, al)
            })
            .collect()
    }

    pub(super) fn summary(&self, now: Instant, generator: Generator) -> Summary {
        let streams = self.figures(now);
        let mut latency = Latencies::default();
        for (_, _, f, _, _) in &streams {
            latency.merge(&f.latency);
        }
        Summary {
            participants: self.participants,
            joined: self.joined.load(Ordering::Relaxed),
            failures: self.failures.lock().expect("failures lock").clone(),
            expected_streams: self.expected_streams,
            streams,
            latency,
            generator: Generator {
                dropped: self.dropped.load(Ordering::Relaxed),
                ..generator
            },
            seconds: now.duration_since(self.started).as_secs_f64(),
        }
    }
}

/// How the generator itself did.
#[derive(Debug, Default, Clone)]
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
        if self.lag_p99 > LAG_LIMIT_MS {
            return Some(format!(
                "its runtime ran timers {:.0} ms late (p99)",
                self.lag_p99
            ));
        }
        if self.dropped > 0 {
            return Some(format!(
                "its publishers fell behind the encoder and missed {} frames",
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
            cpu0: process_cpu_seconds(),
            t0: Instant::now(),
            lag,
            task,
        }
    }

    pub(super) fn finish(self, cpu_limit: f64) -> Generator {
        self.task.abort();
        let wall = self.t0.elapsed().as_secs_f64();
        let cpu = match (self.cpu0, process_cpu_seconds()) {
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
        }
    }
}

/// This process's CPU time (user and system), seconds.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // Clock ticks are USER_HZ, 100 a second on every Linux.
    Some(ticks / 100.0)
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
        if json {
            crate::jsonl::emit("loadStats", s.totals());
        } else if !quiet {
            eprintln!(
                "vcall: {:>5.0}s  joined {}/{}  streams {}/{}  frames {}  lost {}  latency p95 {}  freeze.max max {}",
                s.seconds,
                s.joined,
                s.participants,
                s.receiving(),
                s.expected_streams,
                s.frames(),
                s.frames_lost(),
                ms(s.latency.quantile(0.95)),
                ms(s.across(|f| Some(f.freeze_max_ms), 1.0)),
            );
        }
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.0}ms"))
}

/// The run's figures at its end.
#[derive(Debug)]
pub(super) struct Summary {
    participants: u64,
    joined: u64,
    failures: Vec<(u32, String)>,
    expected_streams: u64,
    /// Each stream: its label, room, video figures, audio packets received and lost.
    streams: Vec<(String, u32, Figures, u64, u64)>,
    latency: Latencies,
    generator: Generator,
    seconds: f64,
}

impl Summary {
    /// Streams that got at least one whole frame.
    fn receiving(&self) -> u64 {
        self.streams.iter().filter(|s| s.2.frames > 0).count() as u64
    }
    fn frames(&self) -> u64 {
        self.streams.iter().map(|s| s.2.frames).sum()
    }
    fn frames_lost(&self) -> u64 {
        self.streams.iter().map(|s| s.2.frames_lost).sum()
    }
    fn wrong(&self) -> u64 {
        self.streams.iter().map(|s| s.2.wrong).sum()
    }
    fn loss_percent(&self) -> f64 {
        let (mut got, mut lost) = (0, 0);
        for (_, _, f, ap, al) in &self.streams {
            got += f.packets + ap;
            lost += f.packets_lost + al;
        }
        match got + lost {
            0 => 0.0,
            n => lost as f64 * 100.0 / n as f64,
        }
    }

    /// The `p` quantile across the streams that have `value`.
    fn across(&self, value: impl Fn(&Figures) -> Option<f64>, p: f64) -> Option<f64> {
        let mut v: Vec<f64> = self
            .streams
            .iter()
            .filter(|s| s.2.frames > 0)
            .filter_map(|s| value(&s.2))
            .collect();
        quantile(&mut v, p)
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
            m => {
                if let Some(p) = m.strip_prefix("latency.").and_then(q) {
                    return self.latency.quantile(p);
                }
                if let Some(p) = m.strip_prefix("freeze.max.").and_then(q) {
                    return self.across(|f| Some(f.freeze_max_ms), p);
                }
                if let Some(p) = m.strip_prefix("first-frame.").and_then(q) {
                    return self.across(|f| f.first_frame_ms, p);
                }
                None
            }
        }
    }

    /// The stream that did worst at what `metric` measures, for the failure's message.
    fn worst(&self, metric: &str) -> Option<String> {
        let key: Box<dyn Fn(&Figures) -> f64> = if metric.starts_with("streams.frames.lost") {
            Box::new(|f| f.frames_lost as f64)
        } else if metric.starts_with("freeze") {
            Box::new(|f| f.freeze_max_ms)
        } else if metric.starts_with("first-frame") {
            Box::new(|f| f.first_frame_ms.unwrap_or(f64::INFINITY))
        } else if metric.starts_with("latency") {
            Box::new(|f| f.latency.quantile(0.95).unwrap_or(0.0))
        } else if metric.starts_with("identity") {
            Box::new(|f| f.wrong as f64)
        } else if metric == "loss" {
            Box::new(|f| f.packets_lost as f64)
        } else if metric == "streams" {
            return self.short_rooms();
        } else {
            return None;
        };
        let (label, _, f, _, _) = self
            .streams
            .iter()
            .max_by(|a, b| key(&a.2).total_cmp(&key(&b.2)))?;
        let extra = match (metric.starts_with("identity"), f.wrong_publisher) {
            (true, Some(p)) => format!(" (it carried frames of publisher #{p})"),
            _ => String::new(),
        };
        Some(format!(
            "worst: {label}: {} frames, {} lost, freeze.max {:.0}ms{extra}",
            f.frames, f.frames_lost, f.freeze_max_ms
        ))
    }

    /// The rooms whose subscribers got fewer streams than they should.
    fn short_rooms(&self) -> Option<String> {
        let mut per_room: std::collections::BTreeMap<u32, u64> = Default::default();
        for s in self.streams.iter().filter(|s| s.2.frames > 0) {
            *per_room.entry(s.1).or_default() += 1;
        }
        let failed: Vec<String> = self
            .failures
            .iter()
            .take(3)
            .map(|(room, why)| format!("room {room}: {why}"))
            .collect();
        let rooms: Vec<String> = per_room
            .iter()
            .map(|(r, n)| format!("room {r}: {n} streams"))
            .collect();
        Some(format!("{}; {}", rooms.join(", "), failed.join("; ")))
    }

    /// The whole run's figures, as a JSON object.
    pub(super) fn totals(&self) -> serde_json::Value {
        json!({
            "seconds": (self.seconds * 10.0).round() / 10.0,
            "participants": self.participants,
            "joined": self.joined,
            "failed": self.failures.len(),
            "streamsExpected": self.expected_streams,
            "streams": self.receiving(),
            "frames": self.frames(),
            "framesLost": self.frames_lost(),
            "identityViolations": self.wrong(),
            "lossPercent": self.loss_percent(),
            "latencyMs": {
                "p50": self.latency.quantile(0.5),
                "p95": self.latency.quantile(0.95),
                "p99": self.latency.quantile(0.99),
                "max": self.latency.quantile(1.0),
            },
            "freezeMaxMs": {
                "p50": self.across(|f| Some(f.freeze_max_ms), 0.5),
                "p95": self.across(|f| Some(f.freeze_max_ms), 0.95),
                "p99": self.across(|f| Some(f.freeze_max_ms), 0.99),
                "max": self.across(|f| Some(f.freeze_max_ms), 1.0),
            },
            "firstFrameMs": {
                "p50": self.across(|f| f.first_frame_ms, 0.5),
                "p95": self.across(|f| f.first_frame_ms, 0.95),
                "p99": self.across(|f| f.first_frame_ms, 0.99),
                "max": self.across(|f| f.first_frame_ms, 1.0),
            },
        })
    }

    pub(super) fn print(&self, json: bool, per_stream: bool, quiet: bool) {
        let g = &self.generator;
        if json {
            if per_stream {
                for (label, room, f, ap, al) in &self.streams {
                    crate::jsonl::emit(
                        "loadStream",
                        json!({
                            "stream": label, "room": room, "frames": f.frames,
                            "framesLost": f.frames_lost, "outOfOrder": f.out_of_order,
                            "identityViolations": f.wrong, "packets": f.packets,
                            "packetsLost": f.packets_lost, "audioPackets": ap,
                            "audioPacketsLost": al,
                            "latencyMs": { "p50": f.latency.quantile(0.5), "p95": f.latency.quantile(0.95), "max": f.latency.quantile(1.0) },
                            "freezeMaxMs": f.freeze_max_ms, "firstFrameMs": f.first_frame_ms,
                        }),
                    );
                }
            }
            let mut totals = self.totals();
            totals["generator"] = json!({
                "cpuPercent": (g.cpu * 1000.0).round() / 10.0, "cores": g.cores,
                "timerLagP99Ms": g.lag_p99, "timerLagMaxMs": g.lag_max, "framesMissed": g.dropped,
                "overloaded": g.overloaded(),
            });
            crate::jsonl::emit("loadSummary", totals);
        }
        if quiet {
            return;
        }
        if per_stream && !json {
            for (label, _, f, ap, al) in &self.streams {
                eprintln!(
                    "  {label}: {} packets ({} lost), {} audio ({} lost), {} frames, {} lost, {} out of order, latency p95 {}, freeze.max {:.0}ms, first frame {}",
                    f.packets,
                    f.packets_lost,
                    ap,
                    al,
                    f.frames,
                    f.frames_lost,
                    f.out_of_order,
                    ms(f.latency.quantile(0.95)),
                    f.freeze_max_ms,
                    ms(f.first_frame_ms)
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
        row("latency", qs.map(|p| self.latency.quantile(p)));
        row(
            "freeze.max",
            qs.map(|p| self.across(|f| Some(f.freeze_max_ms), p)),
        );
        row(
            "first-frame",
            qs.map(|p| self.across(|f| f.first_frame_ms, p)),
        );
        eprintln!(
            "  generator: {:.0}% CPU of {} cores, timers late {:.0} ms (p99), {} frames missed",
            g.cpu * 100.0,
            g.cores,
            g.lag_p99,
            g.dropped
        );
    }

    /// The exit code: the generator's own when it was the limit, 11 when a condition
    /// failed (naming the worst stream), 0 otherwise.
    pub(super) fn verdict(&self, conditions: Option<&[Condition]>) -> CmdResult {
        if let Some(why) = self.generator.overloaded() {
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
