//! `--stats-interval`: per-track figures of a publish or a subscription, every interval and
//! summed up when the command ends. webrtc-rs counts packets, bytes, loss, jitter, NACKs,
//! keyframe requests and the round trip ([`Peer::stats`]); the tracks' own tasks count frames,
//! keyframes, picture size and freezes ([`TrackFigures`]). [`Monitor`] joins the two; the
//! commands drive it from their event loops.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::client::progress::Progress;
use crate::peer::{Peer, PeerStats, RtpCounters};
use crate::record::codecs::VideoConfig;
use crate::session::{Layer, MediaPath};
use crate::vocab::{Codec, Kind};

/// What a track's task counts about its frames.
#[derive(Debug, Default, Clone)]
pub struct TrackFigures {
    pub frames: u64,
    pub keyframes: u64,
    /// Picture size, from the last keyframe that carried it.
    pub size: Option<(u32, u32)>,
    /// Freezes (WebRTC's definition, counted on received video only) and their total length.
    pub freezes: u64,
    pub freeze_ms: f64,
    /// The first and the last frame's time.
    first: Option<Instant>,
    last: Option<Instant>,
    /// Running mean of the gaps between frames, ms.
    mean_gap_ms: Option<f64>,
}

impl TrackFigures {
    /// One frame sent or received at `at`.
    pub fn frame(&mut self, codec: Codec, data: &[u8], keyframe: bool, at: Instant) {
        self.frames += 1;
        if codec.kind() == Kind::Video && keyframe {
            self.keyframes += 1;
            if let Some(c) = VideoConfig::from_keyframe(codec, data) {
                self.size = Some(c.size());
            }
        }
        self.first.get_or_insert(at);
        if let Some(last) = self.last.replace(at) {
            self.gap(at.saturating_duration_since(last).as_secs_f64() * 1000.0);
        }
    }

    /// Seconds from the first frame to the last (none before two frames).
    fn span_secs(&self) -> Option<f64> {
        let secs = self
            .last?
            .saturating_duration_since(self.first?)
            .as_secs_f64();
        (secs > 0.0).then_some(secs)
    }

    /// A freeze is a gap of at least three mean frame times and at least 150 ms more than
    /// one (the definition of W3C's `freezeCount`); the mean runs over about 30 frames.
    fn gap(&mut self, ms: f64) {
        if let Some(mean) = self.mean_gap_ms
            && ms >= (3.0 * mean).max(mean + 150.0)
        {
            self.freezes += 1;
            self.freeze_ms += ms;
        }
        let mean = self.mean_gap_ms.get_or_insert(ms);
        *mean += (ms - *mean) / 30.0;
    }
}

/// When a command samples its [`Monitor`]: every `--stats-interval`, or once a second when
/// only the summary is wanted (its round trip and peak jitter come from the samples).
pub fn stats_ticker(interval: Option<Duration>) -> tokio::time::Interval {
    let period = match interval {
        Some(i) if !i.is_zero() => i,
        _ => Duration::from_secs(1),
    };
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// One track's figures, shared by its task (writing) and the [`Monitor`] (reading).
pub type Figures = Arc<Mutex<TrackFigures>>;

/// The tracks of one peer connection, registered by their tasks as they start.
#[derive(Clone, Default)]
pub struct Tracks(Arc<Mutex<Vec<(Codec, u32, Figures)>>>);

impl Tracks {
    /// The figures of the track `ssrc`, for its task to update.
    pub fn add(&self, codec: Codec, ssrc: u32) -> Figures {
        let figures = Arc::new(Mutex::new(TrackFigures::default()));
        self.0
            .lock()
            .expect("tracks lock")
            .push((codec, ssrc, Arc::clone(&figures)));
        figures
    }

    fn snapshot(&self) -> Vec<(Codec, u32, TrackFigures)> {
        self.0
            .lock()
            .expect("tracks lock")
            .iter()
            .map(|(c, s, f)| (*c, *s, f.lock().expect("figures lock").clone()))
            .collect()
    }
}

/// One track's figures at one moment.
struct Row {
    codec: Codec,
    ssrc: u32,
    figures: TrackFigures,
    rtp: Option<RtpCounters>,
}

/// Samples one peer connection's figures, reports them and sums them up.
pub struct Monitor {
    stream_id: String,
    outbound: bool,
    /// Print every sample (`--stats-interval` above 0), besides the summary.
    every: bool,
    json: bool,
    progress: Progress,
    pub tracks: Tracks,
    /// How the stream's media goes now (peer-to-peer sessions: directly, or routed).
    pub path: MediaPath,
    /// The simulcast layer its video comes in, when the server tells.
    pub layer: Option<Layer>,
    /// A publisher's congestion control: its `congestion` object and its line for people
    /// (the summary's at the end).
    pub congestion: Option<(Value, String)>,
    /// What the receiver measured in the interval (`measured`: latency, A/V offset).
    pub measured: Option<Value>,
    /// Sampled for a report only: nothing printed, no summary.
    report_only: bool,
    start: Instant,
    /// When the previous sample was taken, and each track's bytes and frames then.
    last_at: Instant,
    last: Vec<(u32, u64, u64)>,
    /// Round trips seen, ms, and each track's highest jitter, for the summary.
    rtt: Vec<f64>,
    jitter_max: std::collections::HashMap<u32, f64>,
}

fn kind_name(codec: Codec) -> &'static str {
    match codec.kind() {
        Kind::Video => "video",
        Kind::Audio => "audio",
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl Monitor {
    /// `interval`: how often to report; zero reports only the summary.
    pub fn new(
        stream_id: &str,
        outbound: bool,
        interval: Duration,
        json: bool,
        progress: Progress,
    ) -> Monitor {
        Monitor {
            stream_id: stream_id.to_owned(),
            outbound,
            every: !interval.is_zero(),
            json,
            progress,
            tracks: Tracks::default(),
            path: MediaPath::Routed,
            layer: None,
            congestion: None,
            measured: None,
            report_only: false,
            start: Instant::now(),
            last_at: Instant::now(),
            last: Vec::new(),
            rtt: Vec::new(),
            jitter_max: Default::default(),
        }
    }

    fn direction(&self) -> &'static str {
        if self.outbound { "send" } else { "receive" }
    }

    fn rows(&self, stats: &PeerStats) -> Vec<Row> {
        self.tracks
            .snapshot()
            .into_iter()
            .map(|(codec, ssrc, figures)| Row {
                codec,
                ssrc,
                figures,
                rtp: stats
                    .stream(ssrc)
                    .filter(|s| s.outbound == self.outbound)
                    .cloned(),
            })
            .collect()
    }

    /// Takes a sample of `peer` and reports it (unless only the summary is wanted).
    pub async fn sample(&mut self, peer: &Peer) {
        let stats = peer.stats().await;
        let rows = self.note(&stats);
        if self.every || crate::jsonl::reporting() {
            self.report(&stats, &rows, Instant::now());
        }
    }

    /// A monitor whose samples only go into a report (no `--stats-interval`).
    pub fn report_only(mut self) -> Monitor {
        self.report_only = true;
        self.every = false;
        self
    }

    /// The tracks' rows for `stats`, keeping what the summary needs from every sample: the
    /// round trip and each track's highest jitter.
    fn note(&mut self, stats: &PeerStats) -> Vec<Row> {
        let rows = self.rows(stats);
        if let Some(rtt) = stats.rtt_ms {
            self.rtt.push(rtt);
        }
        for r in &rows {
            if let Some(rtp) = &r.rtp {
                let max = self.jitter_max.entry(r.ssrc).or_default();
                *max = max.max(rtp.jitter_ms);
            }
        }
        rows
    }

    /// Prints one sample, with rates over the time since the previous one.
    fn report(&mut self, stats: &PeerStats, rows: &[Row], now: Instant) {
        let counts: Vec<(u32, u64, u64)> = rows
            .iter()
            .map(|r| (r.ssrc, r.rtp.unwrap_or_default().bytes, r.figures.frames))
            .collect();
        let since = std::mem::replace(&mut self.last_at, now);
        let before = std::mem::replace(&mut self.last, counts);
        let secs = now.saturating_duration_since(since).as_secs_f64().max(1e-3);
        let rate = |r: &Row| {
            let (bytes0, frames0) = before
                .iter()
                .find(|b| b.0 == r.ssrc)
                .map_or((0, 0), |b| (b.1, b.2));
            (
                r.rtp.unwrap_or_default().bytes.saturating_sub(bytes0) as f64 * 8.0 / secs / 1000.0,
                r.figures.frames.saturating_sub(frames0) as f64 / secs,
            )
        };
        if self.json || crate::jsonl::reporting() {
            let tracks: Vec<Value> = rows
                .iter()
                .map(|r| {
                    let (kbps, fps) = rate(r);
                    let jitter = r.rtp.map(|s| round1(s.jitter_ms));
                    self.row_json(r, kbps, fps, json!({ "jitterMs": jitter }))
                })
                .collect();
            // With --report, the lines it is drawn from are printed with --json too, so that
            // `vcall report` can draw it again from them.
            crate::jsonl::emit_or_keep(
                self.json,
                "stats",
                json!({
                    "streamId": self.stream_id, "direction": self.direction(),
                    "path": self.path.as_str(),
                    "elapsedMs": now.saturating_duration_since(self.start).as_millis() as u64,
                    "rttMs": stats.rtt_ms.map(round1), "srtp": stats.srtp, "tracks": tracks,
                    "congestion": self.congestion.as_ref().map(|c| &c.0),
                    "measured": self.measured,
                }),
            );
        }
        if !self.every {
            return;
        }
        for r in rows {
            let (kbps, fps) = rate(r);
            self.progress
                .println(&self.row_line(r, kbps, fps, stats.rtt_ms));
        }
        if let Some((_, line)) = &self.congestion {
            self.progress
                .println(&format!("stats {} send rate | {line}", self.stream_id));
        }
    }

    /// The fields a track has in both `stats` and `statsSummary` lines, and `extra`.
    fn row_json(&self, r: &Row, kbps: f64, fps: f64, extra: Value) -> Value {
        let video = r.codec.kind() == Kind::Video;
        let f = &r.figures;
        let rtp = r.rtp.unwrap_or_default();
        let mut v = json!({
            "kind": kind_name(r.codec), "codec": Codec::name(r.codec), "ssrc": r.ssrc,
            "frames": f.frames,
            "keyframes": video.then_some(f.keyframes),
            "width": f.size.map(|s| s.0), "height": f.size.map(|s| s.1),
            "fps": video.then_some(round1(fps)),
            "bitrateKbps": round1(kbps),
            "packets": rtp.packets,
            "bytes": rtp.bytes,
            "packetsLost": rtp.packets_lost,
            "nacks": rtp.nacks,
            "plis": rtp.plis,
            "freezes": (video && !self.outbound).then_some(f.freezes),
            "freezeMs": (video && !self.outbound).then_some(f.freeze_ms.round()),
            "layer": self.layer.filter(|_| video).map(Layer::name),
        });
        if let (Value::Object(v), Value::Object(extra)) = (&mut v, extra) {
            v.extend(extra);
        }
        v
    }

    /// One track's sample for people.
    fn row_line(&self, r: &Row, kbps: f64, fps: f64, rtt: Option<f64>) -> String {
        let f = &r.figures;
        let mut line = format!(
            "stats {} {} {} {}",
            self.stream_id,
            self.direction(),
            kind_name(r.codec),
            Codec::name(r.codec)
        );
        if r.codec.kind() == Kind::Video {
            if let Some((w, h)) = f.size {
                line += &format!(" {w}x{h}");
            }
            if let Some(layer) = self.layer {
                line += &format!(" ({} layer)", layer.name());
            }
            line += &format!(" {fps:.1} fps");
        }
        line += &format!(" {kbps:.0} kbit/s");
        if let Some(s) = &r.rtp {
            line += &format!(
                " | packets {} lost {} jitter {:.1} ms",
                s.packets, s.packets_lost, s.jitter_ms
            );
        }
        if let Some(rtt) = rtt {
            line += &format!(" rtt {rtt:.1} ms");
        }
        if let Some(s) = &r.rtp {
            line += &format!(" | nack {} pli {}", s.nacks, s.plis);
        }
        if r.codec.kind() == Kind::Video {
            line += &format!(" key {}", f.keyframes);
            if !self.outbound {
                line += &format!(" freezes {}", f.freezes);
            }
        }
        line += &format!(" | path {}", self.path.as_str());
        line
    }

    /// The last sample, then the summary of the whole run: printed for people (unless quiet)
    /// and as a `statsSummary` line with `--json`.
    pub async fn finish(mut self, peer: &Peer) {
        if self.report_only {
            return;
        }
        let stats = peer.stats().await;
        let rows = self.note(&stats);
        self.summarize(&rows, Instant::now());
    }

    fn summarize(&self, rows: &[Row], now: Instant) {
        let secs = now
            .saturating_duration_since(self.start)
            .as_secs_f64()
            .max(1e-3);
        let rtt = (!self.rtt.is_empty()).then(|| {
            (
                self.rtt.iter().sum::<f64>() / self.rtt.len() as f64,
                self.rtt.iter().copied().fold(0.0, f64::max),
            )
        });
        let totals: Vec<Totals> = rows.iter().map(|r| self.totals(r)).collect();
        if self.json {
            self.summary_json(rows, &totals, secs, rtt);
        }
        self.progress
            .println(&self.summary_table(rows, &totals, secs, rtt));
    }

    /// A track's figures over the whole call.
    fn totals(&self, r: &Row) -> Totals {
        // Sent: the far end's lost of what we sent; received: lost of what was due.
        let loss = r.rtp.map(|s| {
            let lost = s.packets_lost.max(0) as f64;
            let total = match self.outbound {
                true => s.packets as f64,
                false => s.packets as f64 + lost,
            };
            match total > 0.0 {
                true => 100.0 * lost / total,
                false => 0.0,
            }
        });
        // Rates over the time the track had frames, not the setup before them.
        let (kbps, fps) = match r.figures.span_secs() {
            Some(span) => (
                r.rtp.unwrap_or_default().bytes as f64 * 8.0 / span / 1000.0,
                (r.figures.frames - 1) as f64 / span,
            ),
            None => (0.0, 0.0),
        };
        Totals {
            kbps,
            fps,
            loss,
            jitter_max: self.jitter_max.get(&r.ssrc).copied().unwrap_or(0.0),
        }
    }

    /// The `statsSummary` line.
    fn summary_json(&self, rows: &[Row], totals: &[Totals], secs: f64, rtt: Option<(f64, f64)>) {
        let tracks: Vec<Value> = rows
            .iter()
            .zip(totals)
            .map(|(r, t)| {
                let extra = json!({
                    "lossPercent": t.loss.map(|l| (l * 100.0).round() / 100.0),
                    "jitterMsMax": round1(t.jitter_max),
                });
                self.row_json(r, t.kbps, t.fps, extra)
            })
            .collect();
        crate::jsonl::emit(
            "statsSummary",
            json!({
                "streamId": self.stream_id, "direction": self.direction(),
                "durationMs": (secs * 1000.0) as u64,
                "rttMs": rtt.map(|(avg, max)| json!({"avg": round1(avg), "max": round1(max)})),
                "tracks": tracks,
                "congestion": self.congestion.as_ref().map(|c| &c.0),
            }),
        );
    }

    /// The summary as a table for people.
    fn summary_table(
        &self,
        rows: &[Row],
        totals: &[Totals],
        secs: f64,
        rtt: Option<(f64, f64)>,
    ) -> String {
        let mut out = format!(
            "stats summary: stream {} ({}), {:.1} s, round trip {}\n",
            self.stream_id,
            self.direction(),
            secs,
            rtt.map_or("unknown".to_owned(), |(a, m)| format!(
                "avg {a:.1} ms, max {m:.1} ms"
            ))
        );
        out += &format!(
            "  {:<6}{:<6}{:>10}{:>7}{:>9}{:>9}{:>15}{:>11}{:>6}{:>5}{:>6}{:>14}",
            "track",
            "codec",
            "size",
            "fps",
            "kbit/s",
            "packets",
            "lost",
            "jitter max",
            "nack",
            "pli",
            "key",
            "freezes"
        );
        for (r, t) in rows.iter().zip(totals) {
            let video = r.codec.kind() == Kind::Video;
            let f = &r.figures;
            let dash = || "-".to_owned();
            let s = r.rtp.unwrap_or_default();
            out += &format!(
                "\n  {:<6}{:<6}{:>10}{:>7}{:>9.0}{:>9}{:>15}{:>11}{:>6}{:>5}{:>6}{:>14}",
                kind_name(r.codec),
                Codec::name(r.codec),
                f.size.map_or_else(dash, |(w, h)| format!("{w}x{h}")),
                if video {
                    format!("{:.1}", t.fps)
                } else {
                    dash()
                },
                t.kbps,
                s.packets,
                format!("{} ({:.2}%)", s.packets_lost, t.loss.unwrap_or(0.0)),
                format!("{:.1} ms", t.jitter_max),
                s.nacks,
                s.plis,
                if video {
                    f.keyframes.to_string()
                } else {
                    dash()
                },
                if video && !self.outbound {
                    format!("{} ({:.0} ms)", f.freezes, f.freeze_ms)
                } else {
                    dash()
                },
            );
        }
        if let Some((_, line)) = &self.congestion {
            out += &format!("\n  send rate: {line}");
        }
        out
    }
}

/// One track's figures over a whole call, for the summary.
struct Totals {
    kbps: f64,
    fps: f64,
    /// Of what was sent or due, per cent; `None` without RTP counters.
    loss: Option<f64>,
    jitter_max: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(f: &mut TrackFigures, gaps_ms: &[u64]) {
        let t0 = Instant::now();
        let mut t = t0;
        f.frame(Codec::Opus, &[], false, t);
        for g in gaps_ms {
            t += Duration::from_millis(*g);
            f.frame(Codec::Opus, &[], false, t);
        }
    }

    #[test]
    fn steady_frames_are_no_freeze_and_a_long_gap_is_one() {
        let mut f = TrackFigures::default();
        feed(&mut f, &[33; 60]);
        assert_eq!((f.frames, f.freezes), (61, 0));
        // 100 ms at 30 fps: three frame times, but not 150 ms over one.
        feed(&mut f, &[100]);
        assert_eq!(f.freezes, 0);
        let mut f = TrackFigures::default();
        feed(&mut f, &[33; 60]);
        feed(&mut f, &[33, 400, 33, 33]);
        assert_eq!(f.freezes, 1);
        assert_eq!(f.freeze_ms, 400.0);
    }

    #[test]
    fn a_slow_steady_rate_is_no_freeze() {
        let mut f = TrackFigures::default();
        feed(&mut f, &[200; 30]);
        assert_eq!(f.freezes, 0);
    }

    #[test]
    fn summary_loss_and_rates_come_from_the_counters() {
        let mut m = Monitor::new("s1", false, Duration::ZERO, false, Progress::new("t", true));
        let figures = m.tracks.add(Codec::H264, 7);
        figures.lock().unwrap().frames = 30;
        let stats = PeerStats {
            rtt_ms: Some(2.0),
            srtp: None,
            streams: vec![RtpCounters {
                ssrc: 7,
                outbound: false,
                packets: 99,
                bytes: 125_000,
                packets_lost: 1,
                jitter_ms: 3.0,
                nacks: 1,
                plis: 0,
            }],
        };
        let rows = m.note(&stats);
        assert_eq!(m.rtt, vec![2.0]);
        assert_eq!(m.jitter_max[&7], 3.0);
        assert_eq!(rows[0].rtp.as_ref().unwrap().packets, 99);
        // A sent stream's counters do not match a receiving monitor's track.
        let mut sent = stats.clone();
        sent.streams[0].outbound = true;
        assert!(m.rows(&sent)[0].rtp.is_none());
    }
}
