//! Retransmissions at most once per round trip. Receivers ask for a lost packet again every
//! 20 ms (quick repair on short paths); on a path with a queue, the first retransmission is
//! still on its way when the next requests arrive, and answering each sent every lost packet
//! up to eight times — on a congested path, more traffic into the queue that lost them (a
//! 150 kbit/s path carried 300–500 kbit/s of repeats and stayed at 70 % loss). [`Resends`]
//! lets a packet go again only once the last copy has had a round trip (the path's: the
//! smallest measured lately) and the queue ahead of it (which the congestion estimate
//! measures) to arrive; [`NackGate`] applies it to the
//! NACKs on their way to webrtc-rs's responder.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rtc::interceptor::{Packet, TaggedPacket};
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{
    TransportLayerNack, nack_pairs_from_sequence_numbers,
};

use super::{ReadFilter, SendEstimates};

/// The shortest spacing between two copies of one packet: a little under the receivers'
/// NACK interval (20 ms), so that a request that comes a moment early (its timer or the one
/// before it late) still gets its copy.
const MIN_GAP: Duration = Duration::from_millis(15);
/// How long a packet's last resend is remembered (longer than any round trip worth repairing).
const MEMORY: Duration = Duration::from_secs(2);
/// The round trip taken is the smallest measured in this long: a queue or a busy machine
/// (a report read late) only ever adds to one, and the queue is added apart. The last
/// sample alone held a stall's gap until the next report, a second later: a copy lost
/// meanwhile waited that long to go again, and a recording waits 400 ms.
const RTT_WINDOW: Duration = Duration::from_secs(10);

/// Which requested packets to send again, pure: times are handed in.
#[derive(Debug, Default)]
pub(crate) struct Resends {
    /// When each (SSRC, sequence number) was last let through, oldest first.
    last: HashMap<(u32, u16), Instant>,
    order: VecDeque<(Instant, (u32, u16))>,
    /// Round trips measured from receiver reports within [`RTT_WINDOW`], each smaller than
    /// every later one: the first is the smallest.
    rtts: VecDeque<(Instant, Duration)>,
}

impl Resends {
    pub(crate) fn note_rtt(&mut self, now: Instant, rtt: Duration) {
        while self
            .rtts
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > RTT_WINDOW)
        {
            self.rtts.pop_front();
        }
        // One no smaller than this newer one will never be the smallest again.
        while self.rtts.back().is_some_and(|(_, r)| *r >= rtt) {
            self.rtts.pop_back();
        }
        self.rtts.push_back((now, rtt));
    }

    /// The path's round trip: the smallest measured lately.
    fn rtt(&self) -> Duration {
        self.rtts.front().map_or(Duration::ZERO, |(_, r)| *r)
    }

    /// Of `seqs` asked for on `ssrc` at `now`, those to send again: not sent again within a
    /// round trip plus `queue` (the send path's queueing delay).
    pub(crate) fn admit(
        &mut self,
        now: Instant,
        ssrc: u32,
        seqs: &[u16],
        queue: Duration,
    ) -> Vec<u16> {
        while let Some(&(at, key)) = self.order.front()
            && now.saturating_duration_since(at) > MEMORY
        {
            self.order.pop_front();
            if self.last.get(&key) == Some(&at) {
                self.last.remove(&key);
            }
        }
        let gap = (self.rtt() + queue).max(MIN_GAP);
        let mut out = Vec::new();
        for &seq in seqs {
            let key = (ssrc, seq);
            if self
                .last
                .get(&key)
                .is_some_and(|at| now.saturating_duration_since(*at) < gap)
            {
                continue;
            }
            self.last.insert(key, now);
            self.order.push_back((now, key));
            out.push(seq);
        }
        out
    }
}

/// The reception report blocks of a receiver or sender report (none for other packets).
pub(crate) fn report_blocks(p: &dyn rtc::rtcp::Packet) -> &[ReceptionReport] {
    let any = p.as_any();
    if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
        &rr.reports
    } else if let Some(sr) = any.downcast_ref::<SenderReport>() {
        &sr.reports
    } else {
        &[]
    }
}

/// NTP time now in the compact form reports use (16.16 seconds).
fn ntp_compact_now() -> u32 {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = unix.as_secs() + 0x83AA_7E80;
    let frac = (u64::from(unix.subsec_nanos()) << 32) / 1_000_000_000;
    (((secs & 0xffff) << 16) | (frac >> 16)) as u32
}

/// A round trip from a report block: now − the sender report it answers − the time the far
/// end held it (RFC 3550 §6.4.1); `None` without a sender report or when it makes no sense.
fn rtt(now_compact: u32, last_sr: u32, delay: u32) -> Option<Duration> {
    if last_sr == 0 {
        return None;
    }
    let units = now_compact.wrapping_sub(last_sr).wrapping_sub(delay);
    (units < 60 << 16).then(|| Duration::from_secs_f64(f64::from(units) / 65536.0))
}

/// The interceptor: reads round trips from receiver reports and thins NACKs before the
/// responder (a lower slot: reads run from the wire up).
pub(crate) struct NackGate {
    resends: Resends,
    /// The connection's estimate, for its queueing delay.
    estimates: SendEstimates,
}

impl NackGate {
    pub(crate) fn new(estimates: SendEstimates) -> NackGate {
        NackGate {
            resends: Resends::default(),
            estimates,
        }
    }

    /// The packets that still go up: NACKs only for what may be sent again; `None` when
    /// nothing is left.
    fn thin(
        &mut self,
        now: Instant,
        packets: Vec<Box<dyn rtc::rtcp::Packet>>,
    ) -> Option<Vec<Box<dyn rtc::rtcp::Packet>>> {
        let queue =
            Duration::from_secs_f64(self.estimates.get().queue_ms.unwrap_or(0.0).max(0.0) / 1000.0);
        let now_compact = ntp_compact_now();
        let mut out: Vec<Box<dyn rtc::rtcp::Packet>> = Vec::with_capacity(packets.len());
        for p in packets {
            for r in report_blocks(p.as_ref()) {
                if let Some(rtt) = rtt(now_compact, r.last_sender_report, r.delay) {
                    self.resends.note_rtt(now, rtt);
                }
            }
            if let Some(nack) = p.as_any().downcast_ref::<TransportLayerNack>() {
                let asked: Vec<u16> = nack.nacks.iter().flat_map(|n| n.packet_list()).collect();
                let admitted = self.resends.admit(now, nack.media_ssrc, &asked, queue);
                super::counts::add(&super::counts::NACKED, asked.len() as u64);
                super::counts::add(&super::counts::NACK_ADMITTED, admitted.len() as u64);
                if admitted.len() == asked.len() {
                    out.push(p);
                } else if !admitted.is_empty() {
                    out.push(Box::new(TransportLayerNack {
                        sender_ssrc: nack.sender_ssrc,
                        media_ssrc: nack.media_ssrc,
                        nacks: nack_pairs_from_sequence_numbers(&admitted),
                    }));
                }
                continue;
            }
            out.push(p);
        }
        (!out.is_empty()).then_some(out)
    }
}

impl ReadFilter for NackGate {
    fn read(&mut self, mut msg: TaggedPacket) -> Option<TaggedPacket> {
        if let Packet::Rtcp(packets) = &mut msg.message.packet {
            *packets = self.thin(msg.now, std::mem::take(packets))?;
        }
        Some(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packet_goes_again_once_per_round_trip_and_queue() {
        let mut r = Resends::default();
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let none = Duration::ZERO;
        // Before any round trip is known: a little under the receivers' own 20 ms.
        assert_eq!(r.admit(t0, 1, &[10, 11], none), [10, 11]);
        assert!(r.admit(ms(10), 1, &[10, 11], none).is_empty());
        assert_eq!(r.admit(ms(18), 1, &[10, 12], none), [10, 12]);
        // Another stream's numbers are its own.
        assert_eq!(r.admit(ms(18), 2, &[10], none), [10]);
        // A 100 ms round trip and 200 ms of queue: 300 ms between copies.
        r.note_rtt(ms(50), Duration::from_millis(100));
        let queue = Duration::from_millis(200);
        assert_eq!(r.admit(ms(100), 1, &[20], queue), [20]);
        for t in (120..400).step_by(20) {
            assert!(r.admit(ms(t), 1, &[20], queue).is_empty(), "at {t} ms");
        }
        assert_eq!(r.admit(ms(400), 1, &[20], queue), [20]);
        // A report read late (a busy machine) measures a longer round trip: the path's stays
        // the smallest lately measured.
        r.note_rtt(ms(450), Duration::from_millis(400));
        assert_eq!(r.admit(ms(500), 1, &[21], none), [21]);
        assert_eq!(r.admit(ms(600), 1, &[21], none), [21]);
        // Ten seconds on, only the longer ones are left.
        r.note_rtt(ms(10_100), Duration::from_millis(300));
        assert_eq!(r.rtt(), Duration::from_millis(300));
        // Forgotten after a while: memory stays bounded.
        r.admit(ms(15_000), 1, &[30], none);
        assert_eq!(r.last.len(), 1);
    }

    #[test]
    fn round_trips_come_from_report_blocks() {
        // Sent at 1.0 s (compact 0x0001_0000), held 0.25 s, answered now at 1.5 s: 0.25 s.
        assert_eq!(
            rtt(0x0001_8000, 0x0001_0000, 0x4000),
            Some(Duration::from_millis(250))
        );
        assert_eq!(rtt(0x0001_8000, 0, 0), None, "no sender report yet");
        // A report from before the clock wrapped (compact time wraps every 18 h).
        assert_eq!(
            rtt(0x0000_1000, 0xffff_f000, 0),
            Some(Duration::from_secs_f64(f64::from(0x2000u32) / 65536.0))
        );
        // Nonsense (the delay is longer than the time since): none.
        assert_eq!(rtt(0x0001_0000, 0x0001_0000, 0x0002_0000), None);
    }
}
