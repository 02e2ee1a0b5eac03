//! A publisher following congestion control: on every tick the lowest of its connections'
//! send estimates (the server's, each direct subscriber's) is spent on its encoders
//! ([`Budget::allocate`]) at the picture size and frame rate the [`Scaler`] picks from the
//! QP the encoder reports; the encoder threads read the new rates before their next frame.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::congestion::{
    Allocation, Budget, CAPACITY_SHARE, Degradation, Quality, Reason, Scaler, scaled_side,
};
use crate::peer::{SendEstimate, SendRate};

/// How often a climbing estimate asks for a probe, below what share of its ceiling, and
/// below what share of it arriving (more is a sender that shows the path by itself); how
/// often once the path's capacity is what holds the estimate.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
const PROBE_BELOW: f64 = 0.95;
const APP_LIMITED: f64 = 0.6;
const PROBE_REFRESH: Duration = Duration::from_secs(5);
/// The longest the start's climb is waited for before the picture's QP is judged.
const RATE_FINDING: Duration = Duration::from_secs(5);

/// The rates the encoder threads use, set by the [`Adapter`]; and what the video encoder
/// made of its pictures, which the adapter takes.
#[derive(Debug)]
pub struct Rates {
    video_bps: AtomicU32,
    fps_divisor: AtomicU32,
    scale: AtomicU32,
    audio_bps: AtomicU32,
    hold: AtomicBool,
    /// Pictures encoded, the sum of their QPs, and pictures skipped to hold the rate, since
    /// the adapter last took them.
    frames: AtomicU32,
    qp_sum: AtomicU32,
    skipped: AtomicU32,
    /// The next video frame goes out as a train of packets, to probe the path.
    probe: AtomicBool,
}

impl Rates {
    pub fn new(a: Allocation) -> Arc<Rates> {
        Arc::new(Rates {
            video_bps: AtomicU32::new(a.video_bps),
            fps_divisor: AtomicU32::new(a.fps_divisor),
            scale: AtomicU32::new(a.scale),
            audio_bps: AtomicU32::new(a.audio_bps),
            hold: AtomicBool::new(a.hold),
            frames: AtomicU32::new(0),
            qp_sum: AtomicU32::new(0),
            skipped: AtomicU32::new(0),
            probe: AtomicBool::new(true),
        })
    }

    /// Whether the next frame is to probe the path (once asked, it is taken).
    pub fn take_probe(&self) -> bool {
        self.probe.swap(false, Ordering::Relaxed)
    }

    /// The video encoder made a picture at `qp` (its average QP), or skipped one (`None`).
    pub fn encoded(&self, qp: Option<u32>) {
        match qp {
            Some(qp) => {
                self.qp_sum.fetch_add(qp, Ordering::Relaxed);
                self.frames.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn take_quality(&self) -> Quality {
        Quality {
            frames: self.frames.swap(0, Ordering::Relaxed),
            qp_sum: self.qp_sum.swap(0, Ordering::Relaxed),
            skipped: self.skipped.swap(0, Ordering::Relaxed),
        }
    }

    pub fn get(&self) -> Allocation {
        Allocation {
            video_bps: self.video_bps.load(Ordering::Relaxed),
            fps_divisor: self.fps_divisor.load(Ordering::Relaxed).max(1),
            scale: self.scale.load(Ordering::Relaxed).max(1),
            audio_bps: self.audio_bps.load(Ordering::Relaxed),
            hold: self.hold.load(Ordering::Relaxed),
        }
    }

    fn set(&self, a: Allocation) {
        self.video_bps.store(a.video_bps, Ordering::Relaxed);
        self.fps_divisor.store(a.fps_divisor, Ordering::Relaxed);
        self.scale.store(a.scale, Ordering::Relaxed);
        self.audio_bps.store(a.audio_bps, Ordering::Relaxed);
        self.hold.store(a.hold, Ordering::Relaxed);
    }
}

/// Turns send estimates into encoder rates and keeps what the stats report of them.
#[derive(Debug)]
pub struct Adapter {
    budget: Budget,
    scaler: Scaler,
    rates: Arc<Rates>,
    current: Allocation,
    /// The estimate the current rates were set from.
    estimate: Option<SendEstimate>,
    /// Times the video rate moved by more than 5 %, and the lowest estimate seen.
    changes: u64,
    lowest: Option<f64>,
    /// When the encoder was last asked to probe.
    probed: Option<Instant>,
    /// When the first step was taken, and whether the estimate has found the path's rate
    /// (reached its ceiling, backed off, or been capped by the far end).
    started: Option<Instant>,
    rate_found: bool,
}

impl Adapter {
    /// Starts where the estimate starts (the encoders take it after their first picture):
    /// a path is not opened at its ceiling before any feedback says what it carries.
    pub fn new(budget: Budget, degradation: Degradation) -> Adapter {
        let (_, max) = budget.range();
        let scaler = Scaler::new(degradation, budget.size, budget.fps);
        let current = budget.allocate(max.min(SendRate::PUBLISHER_START), scaler.step());
        Adapter {
            budget,
            scaler,
            rates: Rates::new(current),
            current,
            estimate: None,
            changes: 0,
            lowest: None,
            probed: None,
            started: None,
            rate_found: false,
        }
    }

    pub fn rates(&self) -> Arc<Rates> {
        Arc::clone(&self.rates)
    }

    /// Spends the lowest measured estimate at the picture step the encoder's QP calls for;
    /// returns whether the rates changed.
    pub fn step(
        &mut self,
        now: Instant,
        estimates: impl IntoIterator<Item = SendEstimate>,
    ) -> bool {
        if let Some(estimate) = estimates
            .into_iter()
            .filter(|e| e.measured)
            .min_by(|a, b| a.bps.total_cmp(&b.bps))
        {
            self.lowest = Some(self.lowest.map_or(estimate.bps, |l| l.min(estimate.bps)));
            self.estimate = Some(estimate);
        }
        self.probe(now);
        let started = *self.started.get_or_insert(now);
        self.rate_found |= now.saturating_duration_since(started) >= RATE_FINDING
            || self
                .estimate
                .is_some_and(|e| !matches!(e.reason, Reason::Start | Reason::Increase));
        let quality = self.rates.take_quality();
        self.scaler.observe(
            now,
            quality,
            f64::from(self.current.video_bps),
            self.rate_found,
        );
        let next = match self.estimate {
            Some(estimate) => Allocation {
                hold: matches!(estimate.reason, Reason::Delay | Reason::Loss | Reason::Remb),
                ..self.budget.allocate(estimate.bps, self.scaler.step())
            },
            // A far end that sends no feedback says nothing of the path: what was asked for.
            None if self.rate_found => self
                .budget
                .allocate(self.budget.range().1, self.scaler.step()),
            None => return false,
        };
        if next == self.current {
            return false;
        }
        let moved = (f64::from(next.video_bps) - f64::from(self.current.video_bps)).abs()
            > 0.05 * f64::from(self.current.video_bps);
        if moved || (next.fps_divisor, next.scale) != (self.current.fps_divisor, self.current.scale)
        {
            self.changes += 1;
            tracing::debug!(
                video_bps = next.video_bps,
                fps_divisor = next.fps_divisor,
                scale = next.scale,
                audio_bps = next.audio_bps,
                estimate = self.estimate.map(|e| e.bps),
                reason = self.reason().as_str(),
                "send rate"
            );
        }
        self.current = next;
        self.rates.set(next);
        true
    }

    /// Asks for a probe every `PROBE_INTERVAL` while the estimate climbs below its ceiling
    /// and the encoder sends much less than it (an application-limited sender shows the path
    /// nothing of its own accord: see `congestion`); every `PROBE_REFRESH` once the trains'
    /// capacity is what holds the estimate. A sender that fills its rate needs no probe: what
    /// arrives lets the estimate climb.
    fn probe(&mut self, now: Instant) {
        let (_, max) = self.budget.range();
        let interval = match self.estimate {
            None => Some(PROBE_INTERVAL),
            Some(e) if !matches!(e.reason, Reason::Start | Reason::Increase) => None,
            Some(e) if e.bps >= PROBE_BELOW * max => None,
            Some(e) if e.delivered.is_some_and(|d| d > APP_LIMITED * e.bps) => None,
            Some(e)
                if e.capacity
                    .is_some_and(|c| e.bps >= 0.9 * c * CAPACITY_SHARE) =>
            {
                Some(PROBE_REFRESH)
            }
            Some(_) => Some(PROBE_INTERVAL),
        };
        let due = interval.is_some_and(|i| {
            self.probed
                .is_none_or(|t| now.saturating_duration_since(t) >= i)
        });
        if due && self.budget.size.0 > 0 {
            self.rates.probe.store(true, Ordering::Relaxed);
            self.probed = Some(now);
        }
    }

    fn fps(&self) -> Option<f64> {
        (self.budget.fps > 0.0).then(|| self.budget.fps / f64::from(self.current.fps_divisor))
    }

    /// The picture size the encoder is told, when it encodes raw pictures.
    fn size(&self) -> Option<(usize, usize)> {
        let (w, h) = self.budget.size;
        (w * h > 0).then(|| {
            let s = self.current.scale;
            (scaled_side(w, s), scaled_side(h, s))
        })
    }

    fn reason(&self) -> Reason {
        self.estimate.map_or(Reason::Start, |e| e.reason)
    }

    /// The `congestion` object of a `stats` line.
    pub fn json(&self) -> Value {
        let kbps = |bps: f64| (bps / 100.0).round() / 10.0;
        json!({
            "targetVideoKbps": kbps(f64::from(self.current.video_bps)),
            "targetFps": self.fps().map(|f| (f * 10.0).round() / 10.0),
            "targetWidth": self.size().map(|s| s.0),
            "targetHeight": self.size().map(|s| s.1),
            "targetAudioKbps": kbps(f64::from(self.current.audio_bps)),
            "estimateKbps": self.estimate.map(|e| kbps(e.bps)),
            "rembKbps": self.estimate.and_then(|e| e.remb).map(kbps),
            "queueMs": self.estimate.and_then(|e| e.queue_ms).map(|q| q.round()),
            "capacityKbps": self.estimate.and_then(|e| e.capacity).map(kbps),
            "lossPercent": self.estimate.map(|e| (e.loss * 1000.0).round() / 10.0),
            "qp": self.scaler.last_qp().map(|q| (q * 10.0).round() / 10.0),
            "reason": self.reason().as_str(),
        })
    }

    /// The same for people.
    pub fn line(&self) -> String {
        let mut line = format!(
            "target video {:.0} kbit/s",
            f64::from(self.current.video_bps) / 1000.0
        );
        if let (Some(fps), Some((w, h))) = (self.fps(), self.size()) {
            line += &format!(" at {fps:.1} fps {w}x{h}");
        }
        if let Some(qp) = self.scaler.last_qp() {
            line += &format!(" qp {qp:.0}");
        }
        line += &format!(
            ", audio {:.0} kbit/s",
            f64::from(self.current.audio_bps) / 1000.0
        );
        match self.estimate {
            Some(e) => {
                line += &format!(" | estimate {:.0} kbit/s", e.bps / 1000.0);
                if let Some(q) = e.queue_ms {
                    line += &format!(" queue {q:.0} ms");
                }
                line += &format!(" loss {:.1}%", e.loss * 100.0);
            }
            None => line += " | no feedback yet",
        }
        line + &format!(" | reason {}", self.reason().as_str())
    }

    /// The summary's figures: changes, the lowest estimate, the last rates.
    pub fn summary_json(&self) -> Value {
        let mut v = self.json();
        if let Value::Object(m) = &mut v {
            m.insert("changes".into(), json!(self.changes));
            m.insert(
                "lowestEstimateKbps".into(),
                json!(self.lowest.map(|l| (l / 100.0).round() / 10.0)),
            );
        }
        v
    }

    pub fn summary_line(&self) -> String {
        let mut line = format!("rate changes {}", self.changes);
        if let Some(l) = self.lowest {
            line += &format!(", lowest estimate {:.0} kbit/s", l / 1000.0);
        }
        line + &format!("; last: {}", self.line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::congestion::VIDEO_FLOOR_BPS;

    fn adapter() -> Adapter {
        Adapter::new(
            Budget {
                video_floor: VIDEO_FLOOR_BPS,
                video_ceiling: 2_000_000,
                audio: 48_000,
                size: (1280, 720),
                fps: 30.0,
            },
            Degradation::Balanced,
        )
    }

    fn estimate(bps: f64, reason: Reason, delivered: f64) -> SendEstimate {
        SendEstimate {
            bps,
            reason,
            remb: None,
            queue_ms: None,
            loss: 0.0,
            capacity: None,
            newest_train: None,
            bottleneck: None,
            delivered: Some(delivered),
            measured: true,
        }
    }

    #[test]
    fn the_encoder_starts_where_the_estimate_starts_and_without_feedback_gets_its_ceiling() {
        let mut a = adapter();
        let start = a.rates().get().video_bps;
        assert!(start < 300_000, "{start}");
        let t = Instant::now();
        assert!(!a.step(t, None));
        assert!(a.step(t + RATE_FINDING, None));
        assert_eq!(a.rates().get().video_bps, 2_000_000);
        assert!(!a.rates().get().hold);
    }

    #[test]
    fn probes_are_asked_for_only_while_an_application_limited_estimate_climbs() {
        let mut a = adapter();
        let rates = a.rates();
        assert!(rates.take_probe(), "the first frame probes");
        let t = Instant::now();
        let mut probes = 0;
        // Sending 150 kbit/s of a 600 kbit/s estimate that climbs: a probe a second.
        for tick in 1..=30 {
            a.step(
                t + Duration::from_millis(100 * tick),
                [estimate(600_000.0, Reason::Increase, 150_000.0)],
            );
            probes += usize::from(rates.take_probe());
        }
        assert_eq!(probes, 3);
        // Filling its rate, at the ceiling, or held by the path: none.
        for (e, what) in [
            (estimate(600_000.0, Reason::Increase, 550_000.0), "filling"),
            (estimate(2_200_000.0, Reason::Ceiling, 150_000.0), "ceiling"),
            (estimate(600_000.0, Reason::Delay, 150_000.0), "delay"),
        ] {
            for tick in 31..=50 {
                a.step(t + Duration::from_millis(100 * tick), [e]);
                assert!(!rates.take_probe(), "{what}");
            }
        }
    }
}
