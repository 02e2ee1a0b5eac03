//! Congestion control on a connection: webrtc-rs's interceptors number what leaves
//! (transport-wide sequence numbers), keep its history and join it with the far end's
//! feedback; vcall's own estimator ([`crate::congestion::Estimator`])
//! turns the feedback into a rate. The far end's REMB (a Janus room's cap, vcall serve's
//! slowest subscriber) is noted beside it. The application reads both through
//! [`SendEstimates`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use rtc::interceptor::{
    BandwidthEstimator, CongestionControlBuilder, PacketReport, Registry, Slot, TwccSenderBuilder,
};

use crate::congestion::{Ack, Estimator, Reason};

/// The range a connection's send rate is kept in (bit/s on the wire). Nothing is paced: a
/// pacer's queue is a delay the feedback cannot see (an encoder over its rate would build it
/// up unnoticed), and on a server it would hold a slow subscriber's packets for seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendRate {
    pub(crate) min: f64,
    pub(crate) max: f64,
    /// Where the estimate starts: a publisher does not open an unknown path at several times
    /// what it may carry; a forwarding server starts at its top (no limit known: starting a
    /// subscriber's path at 600 kbit/s put the publisher under the far end's limit on every
    /// join, and its encoder skipped pictures of streams that needed less).
    pub(crate) start: f64,
}

impl SendRate {
    /// Where a publisher's estimate starts (or its range's top, when lower), as browsers do:
    /// it doubles every half second until the path shows a queue, so a narrow path (or a
    /// slow subscriber that joins at the start) is found before its queue overflows.
    pub(crate) const PUBLISHER_START: f64 = 300_000.0;
}

impl Default for SendRate {
    fn default() -> SendRate {
        SendRate {
            min: 100_000.0,
            max: 50_000_000.0,
            start: 50_000_000.0,
        }
    }
}

/// What a connection may send now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SendEstimate {
    /// bit/s on the wire: the estimate, or the far end's REMB when lower.
    pub(crate) bps: f64,
    pub(crate) reason: Reason,
    /// The far end's last REMB.
    pub(crate) remb: Option<f64>,
    /// Queueing delay the last feedback showed, ms.
    pub(crate) queue_ms: Option<f64>,
    /// Share of packets the far end reported lost over the last second.
    pub(crate) loss: f64,
    /// Whether any feedback has arrived (before it, the figure is the configured start).
    pub(crate) measured: bool,
}

/// A connection's send estimate, shared by its estimator, its RTCP tap and the application:
/// the estimator's own figure, with the far end's REMB beside it; and how far the far end's
/// feedback has confirmed each stream's packets.
#[derive(Debug, Clone)]
pub(crate) struct SendEstimates(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    estimate: Mutex<SendEstimate>,
    /// The newest RTP sequence number of each SSRC that the feedback reported arrived.
    arrived: Mutex<HashMap<u32, u16>>,
    /// Woken by every feedback.
    feedback: Notify,
}

impl SendEstimates {
    fn new(start: f64) -> SendEstimates {
        SendEstimates(Arc::new(Shared {
            estimate: Mutex::new(SendEstimate {
                bps: start,
                reason: Reason::Start,
                remb: None,
                queue_ms: None,
                loss: 0.0,
                measured: false,
            }),
            arrived: Mutex::new(HashMap::new()),
            feedback: Notify::new(),
        }))
    }

    /// Waits until the far end's feedback has reported each `(ssrc, seq)` arrived (or a newer
    /// packet of its stream), for `limit` at most; whether it did. A stream the feedback never
    /// spoke of (sent without transport-wide numbers) is not waited for.
    pub(super) async fn delivered(&self, last: &[(u32, u16)], limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let news = self.0.feedback.notified();
            tokio::pin!(news);
            news.as_mut().enable();
            let done = {
                let arrived = self.0.arrived.lock().expect("arrived lock");
                last.iter()
                    .all(|(ssrc, seq)| arrived.get(ssrc).is_none_or(|&a| !is_newer(*seq, a)))
            };
            if done {
                return true;
            }
            if tokio::time::timeout_at(deadline, news).await.is_err() {
                return false;
            }
        }
    }

    pub(crate) fn get(&self) -> SendEstimate {
        let mut e = *self.0.estimate.lock().expect("estimate lock");
        if let Some(remb) = e.remb {
            e.measured = true;
            if remb < e.bps {
                (e.bps, e.reason) = (remb, Reason::Remb);
            }
        }
        e
    }

    /// The far end's REMB.
    pub(super) fn remb(&self, bps: f64) {
        self.0.estimate.lock().expect("estimate lock").remb = Some(bps);
    }
}

/// The estimator as webrtc-rs's congestion-control interceptor drives it.
struct Tracked {
    estimator: Estimator,
    shared: SendEstimates,
}

impl BandwidthEstimator for Tracked {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        // Only packets the feedback can speak of: a stream sent without transport-wide numbers
        // (Janus numbers video only) is never reported, and would read as lost.
        let acks: Vec<Ack> = reports
            .iter()
            .filter(|r| r.is_twcc)
            .map(|r| Ack {
                departure: r.departure,
                arrival: r.arrival.filter(|_| r.arrived),
                size: r.size,
            })
            .collect();
        self.estimator.on_acks(now, &acks);
        if acks.is_empty() {
            return;
        }
        {
            let mut s = self.shared.0.estimate.lock().expect("estimate lock");
            s.bps = self.estimator.target();
            s.reason = self.estimator.reason();
            s.queue_ms = self.estimator.queue_ms();
            s.loss = self.estimator.loss();
            s.measured = true;
        }
        {
            let mut arrived = self.shared.0.arrived.lock().expect("arrived lock");
            for r in reports.iter().filter(|r| r.is_twcc && r.arrived) {
                let seq = r.rtp_sequence_number;
                let a = arrived.entry(r.ssrc).or_insert(seq);
                if is_newer(seq, *a) {
                    *a = seq;
                }
            }
        }
        self.shared.0.feedback.notify_waiters();
    }

    fn target_bitrate(&self) -> f64 {
        self.estimator.target()
    }
}

/// Adds send-side congestion control to `registry` (the media engine already asks the far
/// end for transport-wide feedback: see `configure_twcc_receiver_only`).
pub(super) fn with_congestion_control(
    registry: Registry,
    rate: SendRate,
) -> (Registry, SendEstimates) {
    let start = rate.start.clamp(rate.min, rate.max);
    let shared = SendEstimates::new(start);
    let tracked = Tracked {
        estimator: Estimator::new(start, rate.min, rate.max),
        shared: shared.clone(),
    };
    let registry = registry
        .with(
            Slot::CongestionControl,
            CongestionControlBuilder::new(tracked).build(),
        )
        .with(Slot::TwccSender, TwccSenderBuilder::new().build());
    (registry, shared)
}

/// Whether RTP sequence number `a` comes after `b` (within half the number space).
fn is_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_compare_across_the_wrap() {
        assert!(is_newer(2, 1));
        assert!(is_newer(1, 65_535));
        assert!(!is_newer(65_535, 1));
        assert!(!is_newer(7, 7));
    }

    #[tokio::test]
    async fn delivery_waits_for_the_feedback_on_the_last_packet() {
        let e = SendEstimates::new(1e6);
        // No feedback about a stream: nothing to wait for.
        assert!(e.delivered(&[(1, 10)], Duration::ZERO).await);
        e.0.arrived.lock().unwrap().insert(1, 8);
        assert!(!e.delivered(&[(1, 10)], Duration::from_millis(10)).await);
        let later = e.clone();
        let wait =
            tokio::spawn(async move { later.delivered(&[(1, 10)], Duration::from_secs(60)).await });
        tokio::task::yield_now().await;
        e.0.arrived.lock().unwrap().insert(1, 10);
        e.0.feedback.notify_waiters();
        assert!(wait.await.unwrap());
    }
}
