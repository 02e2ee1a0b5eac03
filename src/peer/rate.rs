//! Congestion control on a connection: its sending ledger (`outgoing.rs`) numbers what
//! leaves (transport-wide sequence numbers), keeps its history and joins it with the far
//! end's feedback; vcall's own estimator ([`crate::congestion::Estimator`])
//! turns the feedback into a rate. The far end's REMB (a Janus room's cap, vcall serve's
//! slowest subscriber) is noted beside it. The application reads both through
//! [`SendEstimates`].
//!
//! A feedback packet lost on the way back leaves its packets unreported, and webrtc-rs
//! reports them lost once a later feedback speaks of newer ones: a lossy return path would
//! read as twice the loss. [`Coverage`] notes which transport-wide numbers the feedback that
//! did arrive spoke of; a packet no feedback spoke of is left out (neither lost nor arrived).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use rtc::interceptor::{BandwidthEstimator, Packet, PacketReport, Registry, Slot, TaggedPacket};
use rtc::rtcp::transport_feedbacks::transport_layer_cc::TransportLayerCc;

use super::{ReadFilter, ReadOnly};

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
    /// Whether, after a back-off, what several probe trains show lifts the estimate at once
    /// ([`Estimator::taking_probes`]): a forwarding server's, which probes a simulcast leg to
    /// go back up a layer (a failed step up makes the next wait longer). A publisher climbs
    /// carefully instead: trains measure a bottleneck's line rate, not the share other
    /// traffic leaves it, and a jump there would be followed by the queue that caused the
    /// back-off.
    pub(crate) take_probes: bool,
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
            take_probes: true,
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
    /// Share of packets the far end reported lost over the last two seconds.
    pub(crate) loss: f64,
    /// What the path's packet trains showed it carries, bit/s.
    pub(crate) capacity: Option<f64>,
    /// What the newest train showed, bit/s.
    pub(crate) newest_train: Option<f64>,

    /// The bottleneck the last feedback showed a queue in front of (when it came, bit/s).
    pub(crate) bottleneck: Option<(Instant, f64)>,
    /// What arrived lately, bit/s.
    pub(crate) delivered: Option<f64>,
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
    /// The transport-wide numbers the feedback that arrived spoke of.
    coverage: Mutex<Coverage>,
}

/// The ranges of transport-wide sequence numbers (first, count) that arrived feedback covered,
/// newest last; enough of them to span the send history's reports.
#[derive(Debug, Default)]
pub(super) struct Coverage {
    ranges: VecDeque<(u16, u16)>,
}

/// Feedback ranges kept: at one feedback per 50-100 ms, several seconds of them.
const COVERAGE_RANGES: usize = 128;

impl Coverage {
    fn note(&mut self, first: u16, count: u16) {
        self.ranges.push_back((first, count));
        if self.ranges.len() > COVERAGE_RANGES {
            self.ranges.pop_front();
        }
    }

    fn covers(&self, seq: u16) -> bool {
        self.ranges
            .iter()
            .any(|&(first, count)| seq.wrapping_sub(first) < count)
    }

    /// What congestion control reads of one feedback's reports: the packets with
    /// transport-wide numbers (a stream sent without them is never reported, and would read
    /// as lost), and of those not arrived only the ones some feedback said were lost; and
    /// whether any were left out because no feedback spoke of them.
    fn acks(&self, reports: &[PacketReport]) -> (Vec<Ack>, bool) {
        let mut left_out = false;
        let acks = reports
            .iter()
            .filter(|r| r.is_twcc)
            .filter(|r| {
                let spoken = r.arrived || self.covers(r.twcc_sequence_number);
                left_out |= !spoken;
                spoken
            })
            .map(|r| Ack {
                departure: r.departure,
                arrival: r.arrival.filter(|_| r.arrived),
                size: r.size,
            })
            .collect();
        (acks, left_out)
    }
}

/// Notes each transport-wide feedback's range before congestion control reads it (it sits
/// wire-ward of it).
struct CoverageTap(SendEstimates);

impl ReadFilter for CoverageTap {
    fn read(&mut self, msg: TaggedPacket) -> Option<TaggedPacket> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            for p in packets {
                if let Some(cc) = p.as_any().downcast_ref::<TransportLayerCc>() {
                    let mut coverage = self.0.0.coverage.lock().expect("coverage lock");
                    coverage.note(cc.base_sequence_number, cc.packet_status_count);
                }
            }
        }
        Some(msg)
    }
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
                capacity: None,
                newest_train: None,
                bottleneck: None,
                delivered: None,
                measured: false,
            }),
            arrived: Mutex::new(HashMap::new()),
            feedback: Notify::new(),
            coverage: Mutex::default(),
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

/// The estimator as the sending ledger drives it.
pub(super) struct Tracked {
    estimator: Estimator,
    shared: SendEstimates,
}

impl BandwidthEstimator for Tracked {
    fn on_reports(&mut self, now: Instant, reports: &[PacketReport]) {
        let (acks, left_out) = self
            .shared
            .0
            .coverage
            .lock()
            .expect("coverage lock")
            .acks(reports);
        if left_out {
            self.estimator.feedback_lost();
        }
        self.estimator.on_acks(now, &acks);
        if acks.is_empty() {
            self.shared
                .0
                .estimate
                .lock()
                .expect("estimate lock")
                .bottleneck = None;
            return;
        }
        {
            let mut s = self.shared.0.estimate.lock().expect("estimate lock");
            s.bps = self.estimator.target();
            s.reason = self.estimator.reason();
            s.queue_ms = self.estimator.queue_ms();
            s.loss = self.estimator.loss();
            s.capacity = self.estimator.capacity();
            s.newest_train = self.estimator.newest_train();
            s.bottleneck = self.estimator.bottleneck().map(|bps| (now, bps));
            s.delivered = self.estimator.received();
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

/// Send-side congestion control: the estimator the connection's sending ledger drives
/// (`outgoing.rs`), and the tap that notes what each feedback covered, added to
/// `registry` (the media engine already asks the far end for transport-wide feedback: see
/// `twcc_receiver`).
pub(super) fn congestion_control(
    registry: Registry,
    rate: SendRate,
) -> (Registry, SendEstimates, Tracked) {
    let start = rate.start.clamp(rate.min, rate.max);
    let shared = SendEstimates::new(start);
    let tracked = Tracked {
        estimator: Estimator::new(start, rate.min, rate.max).taking_probes(rate.take_probes),
        shared: shared.clone(),
    };
    let registry = registry.with(
        Slot::from(Slot::CongestionControl.slot() / 2),
        ReadOnly::new(CoverageTap(shared.clone())),
    );
    (registry, shared, tracked)
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

    fn report(twcc: u16, arrived: bool) -> PacketReport {
        PacketReport {
            ssrc: 1,
            id: u64::from(twcc),
            rtp_sequence_number: twcc,
            is_twcc: true,
            twcc_sequence_number: twcc,
            size: 1200,
            arrived,
            departure: Instant::now(),
            arrival: arrived.then(|| Duration::from_millis(u64::from(twcc))),
            ecn: Default::default(),
        }
    }

    #[test]
    fn packets_of_a_lost_feedback_are_not_lost_packets() {
        // Feedback covered 65530..=65535 and 10..=19 (across the wrap); the one for 0..=9 was
        // lost on the way back. webrtc-rs reports 0..=9 as not arrived with 10..=19.
        let mut c = Coverage::default();
        c.note(65_530, 6);
        c.note(10, 10);
        let mut reports: Vec<PacketReport> = (0..20).map(|s| report(s, s >= 10)).collect();
        reports[15].arrived = false; // lost, and said so
        reports.push(PacketReport {
            is_twcc: false,
            ..report(20, false)
        });
        let (acks, left_out) = c.acks(&reports);
        assert_eq!(acks.len(), 10, "{acks:?}");
        assert!(left_out);
        assert_eq!(acks.iter().filter(|a| a.arrival.is_none()).count(), 1);
        assert!(c.covers(65_535) && c.covers(10) && !c.covers(0) && !c.covers(20));
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
