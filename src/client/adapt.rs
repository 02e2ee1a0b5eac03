//! A publisher following congestion control: on every tick the lowest of its connections'
//! send estimates (the server's, each direct subscriber's) is spent on its encoders
//! ([`Budget::allocate`]); the encoder threads read the new rates before their next frame.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use serde_json::{Value, json};

use crate::congestion::{Allocation, Budget, Reason, scaled_side};
use crate::peer::SendEstimate;

/// The rates the encoder threads use, set by the [`Adapter`].
#[derive(Debug)]
pub struct Rates {
    video_bps: AtomicU32,
    fps_divisor: AtomicU32,
    scale: AtomicU32,
    audio_bps: AtomicU32,
    hold: AtomicBool,
}

impl Rates {
    pub fn new(a: Allocation) -> Arc<Rates> {
        Arc::new(Rates {
            video_bps: AtomicU32::new(a.video_bps),
            fps_divisor: AtomicU32::new(a.fps_divisor),
            scale: AtomicU32::new(a.scale),
            audio_bps: AtomicU32::new(a.audio_bps),
            hold: AtomicBool::new(a.hold),
        })
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
    rates: Arc<Rates>,
    current: Allocation,
    /// The estimate the current rates were set from.
    estimate: Option<SendEstimate>,
    /// Times the video rate moved by more than 5 %, and the lowest estimate seen.
    changes: u64,
    lowest: Option<f64>,
}

impl Adapter {
    /// Starts at the ceilings: the rates the encoders were made with.
    pub fn new(budget: Budget) -> Adapter {
        let (_, max) = budget.range();
        let current = budget.allocate(max, None);
        Adapter {
            budget,
            rates: Rates::new(current),
            current,
            estimate: None,
            changes: 0,
            lowest: None,
        }
    }

    pub fn rates(&self) -> Arc<Rates> {
        Arc::clone(&self.rates)
    }

    /// Spends the lowest measured estimate; returns whether the rates changed.
    pub fn step(&mut self, estimates: impl IntoIterator<Item = SendEstimate>) -> bool {
        let Some(estimate) = estimates
            .into_iter()
            .filter(|e| e.measured)
            .min_by(|a, b| a.bps.total_cmp(&b.bps))
        else {
            return false;
        };
        self.lowest = Some(self.lowest.map_or(estimate.bps, |l| l.min(estimate.bps)));
        self.estimate = Some(estimate);
        let mut next = self.budget.allocate(estimate.bps, Some(self.current));
        next.hold = matches!(estimate.reason, Reason::Delay | Reason::Loss | Reason::Remb);
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
                estimate = estimate.bps,
                reason = estimate.reason.as_str(),
                "send rate"
            );
        }
        self.current = next;
        self.rates.set(next);
        true
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
            "lossPercent": self.estimate.map(|e| (e.loss * 1000.0).round() / 10.0),
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
