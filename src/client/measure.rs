//! What a receiver can tell about the media it got, for `--expect` and the reports: frame
//! counts, freezes, packet loss for any source; latency, lost frames and A/V offset from the
//! marks vcall's test pattern and tone carry. A metric that cannot be measured says why.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::codec::{OpusDecoder, VideoDecoder};
use crate::conditions::Condition;
use crate::media::{testsrc, tone};
use crate::record::assemble::Frame;
use crate::vocab::{Codec, I420, Kind};

/// Latencies as a histogram of a fixed size, so a call of any length (or hundreds of streams
/// at once) keeps the same few kilobytes: buckets 1 % wide from 0.1 ms up to 10 minutes, the
/// smallest and largest kept exactly. A quantile is the upper edge of the bucket its rank
/// falls in (clamped to what was seen): within 1 % of the exact value.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Latencies {
    /// Values above -0.1 ms, by bucket of their size (the first: -0.1 to 0.1 ms).
    counts: Vec<u64>,
    /// Values below -0.1 ms (clocks that disagree), by bucket of their size.
    negative: Vec<u64>,
    n: u64,
    min: f64,
    max: f64,
}

/// The first bucket's edge, ms: every value nearer zero counts there.
const LATENCY_FLOOR_MS: f64 = 0.1;
/// Each bucket's upper edge over the one before.
const LATENCY_GROWTH: f64 = 1.01;
/// Buckets: 0.1 ms × 1.01^n reaches 10 minutes at n ≈ 1572; anything longer counts in the
/// last.
const LATENCY_BUCKETS: usize = 1600;

impl Latencies {
    /// The bucket of a value of size `ms` (≥ 0).
    fn bucket(ms: f64) -> usize {
        if ms <= LATENCY_FLOOR_MS {
            return 0;
        }
        let n = ((ms / LATENCY_FLOOR_MS).ln() / LATENCY_GROWTH.ln()).ceil();
        (n as usize).min(LATENCY_BUCKETS - 1)
    }

    /// A bucket's edge nearest zero (0 for the first): `b`'s values are above it in size,
    /// by at most 1 %.
    fn inner_edge(b: usize) -> f64 {
        match b {
            0 => 0.0,
            b => LATENCY_FLOOR_MS * LATENCY_GROWTH.powi(b as i32 - 1),
        }
    }

    /// Counts one latency (a NaN is no measurement, and is not counted).
    pub fn push(&mut self, ms: f64) {
        if ms.is_nan() {
            return;
        }
        let counts = match ms < -LATENCY_FLOOR_MS {
            true => &mut self.negative,
            false => &mut self.counts,
        };
        let b = Self::bucket(ms.abs());
        if counts.len() <= b {
            counts.resize(b + 1, 0);
        }
        counts[b] += 1;
        if self.n == 0 {
            (self.min, self.max) = (ms, ms);
        } else {
            self.min = self.min.min(ms);
            self.max = self.max.max(ms);
        }
        self.n += 1;
    }

    /// Adds `other`'s counts to these (quantiles of the two together, as exact as each).
    pub fn merge(&mut self, other: &Latencies) {
        if other.n == 0 {
            return;
        }
        for (mine, theirs) in [
            (&mut self.counts, &other.counts),
            (&mut self.negative, &other.negative),
        ] {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), 0);
            }
            for (m, t) in mine.iter_mut().zip(theirs) {
                *m += t;
            }
        }
        if self.n == 0 {
            (self.min, self.max) = (other.min, other.max);
        } else {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
        self.n += other.n;
    }

    /// How many were measured.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// The `p` quantile (0..=1), nearest rank; `None` when nothing was measured.
    pub fn quantile(&self, p: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        if p >= 1.0 {
            return Some(self.max);
        }
        if p <= 0.0 {
            return Some(self.min);
        }
        let rank = ((self.n - 1) as f64 * p).round() as u64;
        // From the most negative up: the negative buckets by falling size, then the rest.
        let below = self
            .negative
            .iter()
            .enumerate()
            .rev()
            .map(|(b, c)| (-Self::inner_edge(b), c));
        let above = self
            .counts
            .iter()
            .enumerate()
            .map(|(b, c)| (LATENCY_FLOOR_MS * LATENCY_GROWTH.powi(b as i32), c));
        let mut seen = 0;
        for (edge, count) in below.chain(above) {
            seen += count;
            if seen > rank {
                return Some(edge.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}

/// How many whole seconds of A/V marks (a video frame and a tone mark per second) are kept
/// for matching; older ones are matched as they leave, so the offset is measured over the
/// whole call in a bounded space.
const AV_WINDOW: usize = 600;

/// Opus's decoder delay (libopus's lookahead) in samples at 48 kHz.
const OPUS_DELAY: u64 = 312;

/// Everything measured on one stream.
#[derive(Debug, Default, Clone)]
pub struct Measurements {
    /// Capture-to-receipt latency of the frames whose marks were read, ms.
    pub latencies_ms: Latencies,
    /// Frames decoded, and those whose marks could not be read.
    pub decoded: u64,
    pub unreadable: u64,
    /// The first decoded frame's arrival.
    pub first_frame: Option<Instant>,
    /// Frames received (assembled) per kind.
    pub video_frames: u64,
    pub audio_frames: u64,
    /// Frames in the finished recording (video, audio), when it has finished.
    pub recorded: Option<(u64, u64)>,
    /// Longest time between two video frames' arrivals, ms.
    pub freeze_max_ms: Option<f64>,
    last_video: Option<Instant>,
    /// Frame numbers missing between the marks read.
    pub frames_lost: u64,
    last_number: Option<u32>,
    /// Video frames whose marks were read.
    marked_frames: u64,
    /// Per track kind (video, audio): RTP packets received and expected (from sequence numbers).
    packets: [(u64, u64); 2],
    /// Per track kind (video, audio): the smallest (arrival − RTP time) seen, ms — the same
    /// alignment the recorder uses.
    base_ms: [Option<f64>; 2],
    /// The first marked video frame of each capture second, newest [`AV_WINDOW`]: (RTP
    /// time ms, capture ms).
    marked: VecDeque<(f64, u64)>,
    /// Tone marks: RTP time of their first sample, ms; the newest [`AV_WINDOW`].
    audio_marks: VecDeque<f64>,
    /// The seconds that left the window, matched as they left: how many, and the largest
    /// offset's size (ms).
    av_past: (u64, f64),
    /// Latencies since the last `--stats-interval` sample (`take_interval`).
    interval_latencies: Latencies,
    /// Whether pictures are kept for a report (`subscribe --report`).
    pub thumbnails_wanted: bool,
    /// Pictures kept since the last sample, oldest first (at most [`THUMBNAILS_PENDING`]).
    thumbnails: Vec<Thumbnail>,
}

/// A small picture of the stream for a report: when (ms from the start of the recording's
/// measurements), why (`interval`, `freezeStart`, `freezeEnd`), and the JPEG.
#[derive(Debug, Clone)]
pub struct Thumbnail {
    pub at_ms: f64,
    pub reason: &'static str,
    pub jpeg: Vec<u8>,
}

/// Pictures waiting for the next sample; more are dropped (the report keeps what it got).
const THUMBNAILS_PENDING: usize = 16;
/// A picture at least this often, for a report.
const THUMBNAIL_EVERY_MS: f64 = 5000.0;
/// A gap between two video frames this long is a freeze whose start and end are pictured.
const THUMBNAIL_FREEZE_MS: f64 = 500.0;
/// A report's pictures are this wide (the height follows the picture's).
const THUMBNAIL_WIDTH: usize = 192;

impl Measurements {
    /// What was measured since the last call, for a `--stats-interval` sample: the
    /// interval's latency (p50, p95) and the latest A/V offset, ms (`null` when not measured).
    pub fn take_interval(&mut self) -> serde_json::Value {
        let tenth = |ms: f64| (ms * 10.0).round() / 10.0;
        let l = std::mem::take(&mut self.interval_latencies);
        let latency = (l.len() > 0).then(|| {
            serde_json::json!({
                "p50": l.quantile(0.5).map(tenth), "p95": l.quantile(0.95).map(tenth),
            })
        });
        let av = self
            .window_skews(self.marked.iter().copied())
            .last()
            .copied()
            .map(tenth);
        serde_json::json!({ "latencyMs": latency, "avSkewMs": av })
    }

    /// The pictures kept since the last call.
    pub fn take_thumbnails(&mut self) -> Vec<Thumbnail> {
        std::mem::take(&mut self.thumbnails)
    }

    fn keep_thumbnail(&mut self, at_ms: f64, reason: &'static str, picture: &I420) {
        if self.thumbnails.len() < THUMBNAILS_PENDING
            && let Some(jpeg) = thumbnail_jpeg(picture)
        {
            self.thumbnails.push(Thumbnail {
                at_ms,
                reason,
                jpeg,
            });
        }
    }

    fn note_base(&mut self, kind: usize, arrival_ms: f64, rtp_ms: f64) {
        let d = arrival_ms - rtp_ms;
        let b = &mut self.base_ms[kind];
        if b.is_none_or(|old| d < old) {
            *b = Some(d);
        }
    }

    /// The number of the newest video frame whose marks were read.
    pub fn last_frame_number(&self) -> Option<u32> {
        self.last_number
    }

    /// The A/V offset in the recording's timeline ([`tone::av_skews`]) over the whole call:
    /// how many seconds were matched, and the largest offset's size (ms).
    pub fn av_skew(&self) -> Result<(u64, f64), String> {
        let (Some(_), Some(_)) = (self.base_ms[0], self.base_ms[1]) else {
            return Err("needs both audio and video".into());
        };
        let (past, past_max) = self.av_past;
        if self.audio_marks.is_empty() && past == 0 {
            return Err("no tone marks in the audio (needs vcall's --audio tone)".into());
        }
        if self.marked.is_empty() && past == 0 {
            return Err(
                "no test-pattern marks in the video (needs vcall's --video testsrc)".into(),
            );
        }
        let now = self.window_skews(self.marked.iter().copied());
        let seconds = past + now.len() as u64;
        if seconds == 0 {
            return Err("no whole-second frame matched a tone mark".into());
        }
        let largest = now.iter().fold(past_max, |m, s| m.max(s.abs()));
        Ok((seconds, largest))
    }

    /// The offsets of `frames` against the tone marks in the window, with the bases as
    /// they are now.
    fn window_skews(&self, frames: impl Iterator<Item = (f64, u64)>) -> Vec<f64> {
        let (Some(vb), Some(ab)) = (self.base_ms[0], self.base_ms[1]) else {
            return Vec::new();
        };
        let marks: Vec<f64> = self.audio_marks.iter().map(|m| m + ab).collect();
        tone::av_skews(&marks, frames.map(|(rtp_ms, c)| (rtp_ms + vb, c)))
    }

    /// Keeps a second's first marked frame, matching the oldest against the tone marks as
    /// it leaves the window.
    fn keep_marked(&mut self, rtp_ms: f64, capture_ms: u64) {
        if self
            .marked
            .back()
            .is_some_and(|(_, c)| c / 1000 == capture_ms / 1000)
        {
            return;
        }
        self.marked.push_back((rtp_ms, capture_ms));
        if self.marked.len() > AV_WINDOW
            && let Some(old) = self.marked.pop_front()
        {
            for skew in self.window_skews(std::iter::once(old)) {
                self.av_past.0 += 1;
                self.av_past.1 = self.av_past.1.max(skew.abs());
            }
        }
    }

    fn keep_audio_marks(&mut self, marks: Vec<f64>) {
        self.audio_marks.extend(marks);
        // Twice the window: a leaving frame still finds the marks around it.
        while self.audio_marks.len() > 2 * AV_WINDOW {
            self.audio_marks.pop_front();
        }
    }

    /// A metric's value, or why it cannot be measured.
    pub fn value(&self, metric: &str) -> Result<f64, String> {
        let pct = |p: f64| {
            self.latencies_ms.quantile(p).ok_or_else(|| {
                "no frame with readable test-pattern marks (needs vcall's --video testsrc)"
                    .to_owned()
            })
        };
        match metric {
            "frames" => Ok(self.recorded.map_or(self.video_frames, |r| r.0) as f64),
            "audio-frames" => Ok(self.recorded.map_or(self.audio_frames, |r| r.1) as f64),
            "frames.lost" => {
                if self.marked_frames == 0 {
                    Err("no test-pattern marks (needs vcall's --video testsrc)".into())
                } else {
                    Ok(self.frames_lost as f64)
                }
            }
            "latency.p50" => pct(0.5),
            "latency.p95" => pct(0.95),
            "latency.max" => pct(1.0),
            "freeze.max" => self
                .freeze_max_ms
                .ok_or_else(|| "fewer than two video frames".to_owned()),
            "av-skew" => self.av_skew().map(|(_, largest)| largest),
            "loss" => {
                let (received, expected) = self
                    .packets
                    .iter()
                    .fold((0, 0), |(r, e), (pr, pe)| (r + pr, e + pe));
                if expected == 0 {
                    Err("no packets".into())
                } else {
                    Ok(100.0 * expected.saturating_sub(received) as f64 / expected as f64)
                }
            }
            other => Err(format!("unknown metric {other}")),
        }
    }

    /// Checks `conditions`; the failures as "condition (measured …)" lines.
    pub fn check(&self, conditions: &[Condition]) -> Vec<String> {
        conditions
            .iter()
            .filter_map(|c| match self.value(&c.metric) {
                Ok(v) if c.holds(v) => None,
                Ok(v) => Some(format!("{c} failed: measured {}", c.show(v))),
                Err(why) => Some(format!("{c} cannot be measured: {why}")),
            })
            .collect()
    }
}

/// `picture` made [`THUMBNAIL_WIDTH`] wide (nearest pixel) and RGB, as a JPEG.
fn thumbnail_jpeg(picture: &I420) -> Option<Vec<u8>> {
    let (w, h) = (picture.width, picture.height);
    if w < 2 || h < 2 {
        return None;
    }
    let tw = THUMBNAIL_WIDTH.min(w);
    let th = (h * tw / w).max(1);
    let (y_plane, chroma) = picture.data.split_at(w * h);
    let (u_plane, v_plane) = chroma.split_at((w / 2) * (h / 2));
    let mut rgb = Vec::with_capacity(tw * th * 3);
    for ty in 0..th {
        let sy = ty * h / th;
        for tx in 0..tw {
            let sx = tx * w / tw;
            let y = y_plane[sy * w + sx] as f32 - 16.0;
            let ci = (sy / 2) * (w / 2) + sx / 2;
            let u = *u_plane.get(ci)? as f32 - 128.0;
            let v = *v_plane.get(ci)? as f32 - 128.0;
            let c = |x: f32| x.round().clamp(0.0, 255.0) as u8;
            rgb.push(c(1.164 * y + 1.596 * v));
            rgb.push(c(1.164 * y - 0.392 * u - 0.813 * v));
            rgb.push(c(1.164 * y + 2.017 * u));
        }
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 70)
        .encode(&rgb, tw as u32, th as u32, image::ExtendedColorType::Rgb8)
        .ok()?;
    Some(out)
}

/// Measures one track as its packets and frames arrive (runs on the track's task).
pub struct TrackProbe {
    m: Arc<Mutex<Measurements>>,
    codec: Codec,
    clock_ms: f64,
    start: Instant,
    video: Option<VideoDecoder>,
    audio: Option<OpusDecoder>,
    /// Streaming tone-mark detector: quiet run start (RTP sample), and sound heard before.
    quiet_from: Option<u64>,
    loud_before: bool,
    first_seq: Option<u64>,
    last_seq: u64,
    received: u64,
    /// For a report's pictures: the last decoded picture and when it came (ms), and when
    /// the last interval picture was kept.
    last_picture: Option<(I420, f64)>,
    last_thumbnail_ms: Option<f64>,
}

impl TrackProbe {
    pub fn new(codec: Codec, m: Arc<Mutex<Measurements>>, start: Instant) -> TrackProbe {
        TrackProbe {
            m,
            codec,
            clock_ms: codec.clock_rate() as f64 / 1000.0,
            start,
            video: (codec.kind() == Kind::Video)
                .then(|| {
                    VideoDecoder::new(codec)
                        .inspect_err(|e| tracing::warn!("{codec:?} pictures not measured: {e}"))
                        .ok()
                })
                .flatten(),
            audio: (codec == Codec::Opus)
                .then(|| OpusDecoder::new().ok())
                .flatten(),
            quiet_from: None,
            loud_before: false,
            first_seq: None,
            last_seq: 0,
            received: 0,
            last_picture: None,
            last_thumbnail_ms: None,
        }
    }

    /// A report's pictures from decoded `img`, arrived at `at_ms`: one every
    /// [`THUMBNAIL_EVERY_MS`], and a freeze's last picture before and first after.
    fn pictures(&mut self, m: &mut Measurements, img: I420, at_ms: f64) {
        if let Some((before, before_ms)) = &self.last_picture
            && at_ms - before_ms >= THUMBNAIL_FREEZE_MS
        {
            m.keep_thumbnail(*before_ms, "freezeStart", before);
            m.keep_thumbnail(at_ms, "freezeEnd", &img);
            self.last_thumbnail_ms = Some(at_ms);
        } else if self
            .last_thumbnail_ms
            .is_none_or(|t| at_ms - t >= THUMBNAIL_EVERY_MS)
        {
            m.keep_thumbnail(at_ms, "interval", &img);
            self.last_thumbnail_ms = Some(at_ms);
        }
        self.last_picture = Some((img, at_ms));
    }

    /// One RTP packet, by sequence number (extended here).
    pub fn packet(&mut self, seq: u16) {
        let ext = match self.first_seq {
            None => {
                self.first_seq = Some(seq as u64 + 65_536);
                seq as u64 + 65_536
            }
            Some(_) => {
                // The extension of `seq` nearest the last one seen.
                let base = self.last_seq & !0xffff;
                [base.wrapping_sub(65_536), base, base + 65_536]
                    .into_iter()
                    .map(|b| b + seq as u64)
                    .min_by_key(|c| c.abs_diff(self.last_seq))
                    .expect("three candidates")
            }
        };
        self.last_seq = self.last_seq.max(ext);
        self.received += 1;
    }

    /// One assembled frame.
    pub fn frame(&mut self, frame: &Frame, arrival: Instant) {
        let arrival_ms = arrival.duration_since(self.start).as_secs_f64() * 1000.0;
        let rtp_ms = frame.timestamp as f64 / self.clock_ms;
        let is_video = self.codec != Codec::Opus;
        let mut marks_read = None;
        let mut audio_marks = Vec::new();
        let mut picture = None;
        if let Some(dec) = self.video.as_mut() {
            match dec.decode(&frame.data) {
                Ok(Some(img)) => {
                    marks_read = Some(testsrc::read_marks(&img));
                    picture = Some(img);
                }
                Ok(None) => tracing::debug!(bytes = frame.data.len(), "a frame gave no picture"),
                Err(e) => tracing::debug!(bytes = frame.data.len(), "a frame did not decode: {e}"),
            }
        }
        if let Some(dec) = self.audio.as_mut()
            && let Ok(pcm) = dec.decode(&frame.data)
        {
            let quiet = tone::quiet_level();
            let min_run = tone::min_mark_run(tone::SAMPLE_RATE) as u64;
            // Left channel of interleaved stereo; sample n has RTP time timestamp + n.
            for (i, s) in pcm.iter().step_by(2).enumerate() {
                let at = frame.timestamp + i as u64;
                if (*s as i32).abs() <= quiet {
                    let from = *self.quiet_from.get_or_insert(at);
                    if at + 1 - from == min_run && self.loud_before {
                        let ms = from.saturating_sub(OPUS_DELAY) as f64 / self.clock_ms;
                        audio_marks.push(ms);
                    }
                } else {
                    self.loud_before = true;
                    self.quiet_from = None;
                }
            }
        }
        let shared = Arc::clone(&self.m);
        let mut m = shared.lock().expect("measurements lock");
        let kind = usize::from(!is_video);
        let expected = self.first_seq.map_or(0, |f| self.last_seq + 1 - f);
        m.packets[kind] = (self.received, expected);
        m.note_base(kind, arrival_ms, rtp_ms);
        m.keep_audio_marks(audio_marks);
        if is_video {
            m.video_frames += 1;
            if let Some(last) = m.last_video {
                let gap = arrival.duration_since(last).as_secs_f64() * 1000.0;
                m.freeze_max_ms = Some(m.freeze_max_ms.map_or(gap, |g| g.max(gap)));
            }
            m.last_video = Some(arrival);
        } else {
            m.audio_frames += 1;
        }
        if let Some(marks) = marks_read {
            m.decoded += 1;
            m.first_frame.get_or_insert(arrival);
            match marks {
                Some(mk) => {
                    let now = crate::session::now_ms();
                    m.latencies_ms.push(now as f64 - mk.capture_ms as f64);
                    m.interval_latencies.push(now as f64 - mk.capture_ms as f64);
                    if let Some(last) = m.last_number
                        && mk.frame > last
                    {
                        m.frames_lost += (mk.frame - last - 1) as u64;
                        if mk.frame > last + 1 {
                            tracing::debug!(after = last, next = mk.frame, "frames missing");
                        }
                    }
                    m.last_number = Some(mk.frame);
                    m.marked_frames += 1;
                    m.keep_marked(rtp_ms, mk.capture_ms);
                }
                None => m.unreadable += 1,
            }
        }
        if let Some(img) = picture
            && m.thumbnails_wanted
        {
            self.pictures(&mut m, img, arrival_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_quantiles_are_within_a_percent_of_the_exact_ones() {
        let mut h = Latencies::default();
        // A spread from sub-millisecond to seconds, in no order.
        let values: Vec<f64> = (0..10_000u64)
            .map(|i| 0.2 + ((i * 7919) % 10_000) as f64 * 0.37)
            .collect();
        for v in &values {
            h.push(*v);
        }
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        for p in [0.0, 0.5, 0.9, 0.95, 0.99, 1.0] {
            let exact = sorted[((sorted.len() - 1) as f64 * p).round() as usize];
            let got = h.quantile(p).unwrap();
            assert!(
                (got - exact).abs() <= exact * 0.01 + 1e-9,
                "p{p}: {got} for {exact}"
            );
        }
        assert_eq!(h.len(), 10_000);
        assert_eq!(h.quantile(1.0), Some(*sorted.last().unwrap()));
        assert_eq!(Latencies::default().quantile(0.5), None);
    }

    #[test]
    fn latencies_below_zero_keep_their_value_and_order() {
        // Clocks 50 ms apart: most frames seem to arrive before they were captured.
        let mut h = Latencies::default();
        let values: Vec<f64> = (0..1000).map(|i| -50.0 + i as f64 * 0.1).collect();
        for v in &values {
            h.push(*v);
        }
        for p in [0.0, 0.25, 0.5, 0.9, 1.0] {
            let exact = values[((values.len() - 1) as f64 * p).round() as usize];
            let got = h.quantile(p).unwrap();
            assert!(
                (got - exact).abs() <= exact.abs() * 0.01 + 0.1,
                "p{p}: {got} for {exact}"
            );
        }
    }

    #[test]
    fn latencies_take_the_same_space_however_many_and_however_odd() {
        let mut h = Latencies::default();
        for i in 0..1_000_000u64 {
            h.push((i % 5000) as f64);
        }
        for odd in [-5.0, 0.0, f64::NAN, 1e12] {
            h.push(odd);
        }
        assert!(h.counts.len() <= LATENCY_BUCKETS && h.negative.len() <= LATENCY_BUCKETS);
        assert_eq!(h.len(), 1_000_003, "a NaN is no measurement");
        assert_eq!(h.quantile(0.0), Some(-5.0));
    }

    #[test]
    fn av_offsets_are_measured_over_the_whole_call_in_a_bounded_window() {
        let mut m = Measurements {
            base_ms: [Some(0.0), Some(0.0)],
            ..Default::default()
        };
        let seconds = 3 * AV_WINDOW as u64;
        for k in 1..=seconds {
            // The first frame of each second (and a later one the window skips), and the tone
            // mark 20 ms after it, then (in the last third) 30 ms.
            m.keep_marked(k as f64 * 1000.0, k * 1000);
            m.keep_marked(k as f64 * 1000.0 + 33.0, k * 1000 + 33);
            let skew = if k > 2 * AV_WINDOW as u64 { 30.0 } else { 20.0 };
            m.keep_audio_marks(vec![k as f64 * 1000.0 + skew]);
        }
        assert!(m.marked.len() <= AV_WINDOW && m.audio_marks.len() <= 2 * AV_WINDOW);
        let (matched, largest) = m.av_skew().unwrap();
        assert_eq!(matched, seconds, "one offset per second, old ones too");
        assert!((largest - 30.0).abs() < 1e-9, "{largest}");
        assert_eq!(m.av_past.0, seconds - AV_WINDOW as u64);
        assert!(
            (m.av_past.1 - 20.0).abs() < 1e-9,
            "those that left: {:?}",
            m.av_past
        );
        assert_eq!(m.value("av-skew"), Ok(30.0));
    }
}
