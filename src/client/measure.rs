//! What a receiver can tell about the media it got, for `--expect` and the reports: frame
//! counts, freezes, packet loss for any source; latency, lost frames and A/V offset from the
//! marks vcall's test pattern and tone carry. A metric that cannot be measured says why.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::codec::{H264Decoder, OpusDecoder};
use crate::conditions::Condition;
use crate::media::{testsrc, tone};
use crate::record::assemble::Frame;
use crate::vocab::Codec;

/// The `p` quantile (0..=1) of `values`, nearest rank; `None` when there are none.
fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    (!sorted.is_empty()).then(|| sorted[((sorted.len() - 1) as f64 * p).round() as usize])
}

/// Opus's decoder delay (libopus's lookahead) in samples at 48 kHz.
const OPUS_DELAY: u64 = 312;

/// Everything measured on one stream.
#[derive(Debug, Default, Clone)]
pub struct Measurements {
    /// Capture-to-receipt latency of each frame whose marks were read, ms.
    pub latencies_ms: Vec<f64>,
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
    /// Per track kind (video, audio): RTP packets received and expected (from sequence numbers).
    packets: [(u64, u64); 2],
    /// Per track kind (video, audio): the smallest (arrival − RTP time) seen, ms — the same
    /// alignment the recorder uses.
    base_ms: [Option<f64>; 2],
    /// Marked video frames: (frame number, RTP time ms, capture ms).
    marked: Vec<(u32, f64, u64)>,
    /// Tone marks: RTP time of their first sample, ms.
    audio_marks: Vec<f64>,
}

impl Measurements {
    fn note_base(&mut self, kind: usize, arrival_ms: f64, rtp_ms: f64) {
        let d = arrival_ms - rtp_ms;
        let b = &mut self.base_ms[kind];
        if b.is_none_or(|old| d < old) {
            *b = Some(d);
        }
    }

    /// A/V offsets in the recording's timeline ([`tone::av_skews`]).
    pub fn av_skews(&self) -> Result<Vec<f64>, String> {
        let (Some(vb), Some(ab)) = (self.base_ms[0], self.base_ms[1]) else {
            return Err("needs both audio and video".into());
        };
        if self.audio_marks.is_empty() {
            return Err("no tone marks in the audio (needs vcall's --audio tone)".into());
        }
        if self.marked.is_empty() {
            return Err(
                "no test-pattern marks in the video (needs vcall's --video testsrc)".into(),
            );
        }
        let marks: Vec<f64> = self.audio_marks.iter().map(|m| m + ab).collect();
        let frames = self.marked.iter().map(|(_, rtp_ms, c)| (rtp_ms + vb, *c));
        let skews = tone::av_skews(&marks, frames);
        if skews.is_empty() {
            return Err("no whole-second frame matched a tone mark".into());
        }
        Ok(skews)
    }

    /// A metric's value, or why it cannot be measured.
    pub fn value(&self, metric: &str) -> Result<f64, String> {
        let pct = |p: f64| {
            percentile(&self.latencies_ms, p).ok_or_else(|| {
                "no frame with readable test-pattern marks (needs vcall's --video testsrc)"
                    .to_owned()
            })
        };
        match metric {
            "frames" => Ok(self.recorded.map_or(self.video_frames, |r| r.0) as f64),
            "audio-frames" => Ok(self.recorded.map_or(self.audio_frames, |r| r.1) as f64),
            "frames.lost" => {
                if self.marked.is_empty() {
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
            "av-skew" => self
                .av_skews()
                .map(|s| s.iter().fold(0.0f64, |m, x| m.max(x.abs()))),
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

/// Measures one track as its packets and frames arrive (runs on the track's task).
pub struct TrackProbe {
    m: Arc<Mutex<Measurements>>,
    codec: Codec,
    clock_ms: f64,
    start: Instant,
    video: Option<H264Decoder>,
    audio: Option<OpusDecoder>,
    /// Streaming tone-mark detector: quiet run start (RTP sample), and sound heard before.
    quiet_from: Option<u64>,
    loud_before: bool,
    first_seq: Option<u64>,
    last_seq: u64,
    received: u64,
}

impl TrackProbe {
    pub fn new(codec: Codec, m: Arc<Mutex<Measurements>>, start: Instant) -> TrackProbe {
        TrackProbe {
            m,
            codec,
            clock_ms: codec.clock_rate() as f64 / 1000.0,
            start,
            video: (codec == Codec::H264)
                .then(|| H264Decoder::new().ok())
                .flatten(),
            audio: (codec == Codec::Opus)
                .then(|| OpusDecoder::new().ok())
                .flatten(),
            quiet_from: None,
            loud_before: false,
            first_seq: None,
            last_seq: 0,
            received: 0,
        }
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
        if let Some(dec) = self.video.as_mut()
            && let Ok(Some(img)) = dec.decode(&frame.data)
        {
            marks_read = Some(testsrc::read_marks(&img));
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
        let mut m = self.m.lock().expect("measurements lock");
        let kind = usize::from(!is_video);
        let expected = self.first_seq.map_or(0, |f| self.last_seq + 1 - f);
        m.packets[kind] = (self.received, expected);
        m.note_base(kind, arrival_ms, rtp_ms);
        m.audio_marks.extend(audio_marks);
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
                    if let Some(last) = m.last_number
                        && mk.frame > last
                    {
                        m.frames_lost += (mk.frame - last - 1) as u64;
                    }
                    m.last_number = Some(mk.frame);
                    m.marked.push((mk.frame, rtp_ms, mk.capture_ms));
                }
                None => m.unreadable += 1,
            }
        }
    }
}
