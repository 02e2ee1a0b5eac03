//! Transport-wide feedback sent at once when a path starts to queue.
//!
//! A receiver reports arrivals every `FEEDBACK_INTERVAL`, so a sender learns that a path
//! narrowed up to one interval after the evidence is in. On a narrowed path that interval is
//! what fills the path's queue: a 1280x720 frame sent at once crosses a 400 kbit/s link in
//! ~130 ms, and every frame sent before the sender knows only queues ahead of the smaller
//! layer's keyframe (a simulcast leg's freeze around its switch down).
//!
//! The evidence is plain at the receiver: the packets of one frame leave a sender (or a
//! forwarding server) together, so consecutive packets of one frame that arrive
//! [`SPREAD`] or more apart crossed something slower than they were sent at. Reports go at
//! once only while that is news (the first [`ONSET_WINDOW`] of it after [`QUIET`] without
//! it): enough for the sender to see the bottleneck, not a report with every packet of a
//! path that stays narrow. [`Spread`] is the pure part, on the caller's clock; [`Eager`] puts it around rtc's transport-wide
//! feedback generator and keeps that generator's clock: a report goes one interval after the
//! last one, early or regular. (The generator reports only when handed a time at or past its
//! own due time, and then schedules its next one an interval after the time it was handed:
//! it is always handed its own due time, so its schedule runs ahead of the real one and is
//! never used, and what it writes is stamped with the newest real time instead.)

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;

/// Consecutive packets of one frame at least this far apart are a queue filling: one
/// 1200-byte packet every 15 ms is a path under 650 kbit/s. Packets read together after a
/// stall arrive together. What else spreads a frame (libwebrtc's pacer, at 2.5x a target
/// under ~250 kbit/s; jitter; a retransmission of the newest frame's packet) costs an early
/// report, a small RTCP packet, at most every [`EAGER_GAP`].
pub(crate) const SPREAD: Duration = Duration::from_millis(15);
/// At most one early report per this: one per packet of a narrowed path at most.
pub(crate) const EAGER_GAP: Duration = Duration::from_millis(10);
/// Early reports go only this long after a queue starts to show (the first spread frame
/// after [`QUIET`] without one): until the queue is deep enough (40 ms) for the three packets
/// of one frame to show a bottleneck (`congestion::bottleneck`) on a path down to
/// ~200 kbit/s (a 100 ms window often ended before: a VP8 leg froze in one narrowing of
/// five). On a path that stays narrow the reports keep their interval after it: an early
/// report with every spread packet would be up to one per `EAGER_GAP`, five times the
/// regular rate (a path whose spread frames come more than `QUIET` apart, such as a leg sent
/// down to single-packet frames that spreads only its keyframes and probes, gets an early
/// report for each of those). (A train cut by early reports is read whole by the sender,
/// `congestion::Capacity`.)
const ONSET_WINDOW: Duration = Duration::from_millis(400);
/// How long without a spread frame before one is news again: longer than a frame interval
/// (a narrow path spreads every frame of several packets), short enough that a stray spread
/// frame (jitter) shortly before a path narrows does not use up the onset's window.
const QUIET: Duration = Duration::from_millis(250);
/// A report due this soon anyway is not sent early.
const DUE_SOON: Duration = Duration::from_millis(5);
/// Streams remembered (the newest heard): a connection's video streams at once.
const STREAMS: usize = 16;
/// Reports remembered until written (the chain writes each before the next input).
const MADE: usize = 8;

/// Which arrivals show a frame spreading out.
#[derive(Debug, Default)]
pub(crate) struct Spread {
    /// Per stream: its newest packet's RTP timestamp and arrival.
    last: Vec<(u32, u32, Instant)>,
    /// The last early report.
    sent: Option<Instant>,
    /// The last spread frame's packet, and when the spreading began.
    spread: Option<(Instant, Instant)>,
}

impl Spread {
    /// A packet of stream `ssrc` with RTP timestamp `timestamp` arrived at `now`: whether
    /// feedback should go now.
    pub(crate) fn arrived(&mut self, ssrc: u32, timestamp: u32, now: Instant) -> bool {
        let spread = match self.last.iter_mut().find(|(s, _, _)| *s == ssrc) {
            Some(entry) => {
                let (_, ts, at) = *entry;
                *entry = (ssrc, timestamp, now);
                ts == timestamp && now.saturating_duration_since(at) >= SPREAD
            }
            None => {
                if self.last.len() == STREAMS
                    && let Some(oldest) = (0..self.last.len()).min_by_key(|&i| self.last[i].2)
                {
                    self.last.swap_remove(oldest);
                }
                self.last.push((ssrc, timestamp, now));
                false
            }
        };
        if !spread {
            return false;
        }
        let onset = match self.spread {
            Some((last, onset)) if now.saturating_duration_since(last) < QUIET => onset,
            _ => now,
        };
        self.spread = Some((now, onset));
        let due = now.saturating_duration_since(onset) <= ONSET_WINDOW
            && self
                .sent
                .is_none_or(|t| now.saturating_duration_since(t) >= EAGER_GAP);
        if due {
            self.sent = Some(now);
        }
        due
    }
}

/// rtc's transport-wide feedback generator, reporting every `interval` and at once when
/// [`Spread`] says so.
pub(crate) struct Eager<I> {
    inner: I,
    spread: Spread,
    interval: Duration,
    /// When the next regular report is due: an interval after the last report (`None` until
    /// the generator has heard a packet it reports on).
    next: Option<Instant>,
    /// The newest time the chain gave.
    now: Option<Instant>,
    /// The reports not yet written: the time the generator was handed (which it stamps
    /// them with) and when each was made.
    made: VecDeque<(Instant, Instant)>,
}

impl<I: Interceptor> Eager<I> {
    pub(crate) fn new(inner: I, interval: Duration) -> Eager<I> {
        Eager {
            inner,
            spread: Spread::default(),
            interval,
            next: None,
            now: None,
            made: VecDeque::new(),
        }
    }

    /// The generator reports now (what it has heard since its last report, if anything).
    fn report(&mut self, now: Instant) -> Result<(), rtc::shared::error::Error> {
        if let Some(due) = self.inner.poll_timeout() {
            let handed = due.max(now);
            self.inner.handle_timeout(handed)?;
            if self.made.len() == MADE {
                self.made.pop_front();
            }
            self.made.push_back((handed, now));
        }
        self.next = Some(now + self.interval);
        Ok(())
    }
}

impl<I: Interceptor> Protocol<TaggedPacket, TaggedPacket, ()> for Eager<I> {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        let now = msg.now;
        self.now = Some(now);
        let spread = match &msg.message.packet {
            Packet::Rtp(rtp) => self
                .spread
                .arrived(rtp.header.ssrc, rtp.header.timestamp, now),
            _ => false,
        };
        // Recorded first: the report includes this packet.
        self.inner.handle_read(msg)?;
        if self.next.is_none() && self.inner.poll_timeout().is_some() {
            self.next = Some(now + self.interval);
        }
        if spread && self.next.is_some_and(|next| next > now + DUE_SOON) {
            self.report(now)?;
        }
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.inner.poll_read()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.now = Some(msg.now);
        self.inner.handle_write(msg)
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        let mut msg = self.inner.poll_write()?;
        // A report comes stamped with the time the generator was handed, later than any the
        // chain gave (what passes through keeps its own): it is stamped when it was made.
        if self.now.is_some_and(|now| msg.now > now) {
            while let Some(&(handed, made)) = self.made.front() {
                if handed >= msg.now {
                    msg.now = made;
                    break;
                }
                self.made.pop_front();
            }
        }
        Some(msg)
    }
    fn handle_event(&mut self, evt: ()) -> Result<(), Self::Error> {
        self.inner.handle_event(evt)
    }
    fn poll_event(&mut self) -> Option<()> {
        self.inner.poll_event()
    }
    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        self.now = Some(now);
        match self.next {
            Some(next) if now >= next => self.report(now),
            _ => Ok(()),
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.next
    }
    fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close()
    }
}

impl<I: Interceptor> Interceptor for Eager<I> {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        self.inner.bind_local_stream(info);
    }
    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.inner.unbind_local_stream(info);
    }
    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        self.inner.bind_remote_stream(info);
    }
    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.inner.unbind_remote_stream(info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_whose_packets_spread_out_is_reported_at_once() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut s = Spread::default();
        // A frame's packets together: nothing early.
        assert!(!s.arrived(1, 100, ms(0)));
        assert!(!s.arrived(1, 100, ms(1)));
        // The next frame 33 ms on: another timestamp, nothing.
        assert!(!s.arrived(1, 200, ms(34)));
        // Its packets 24 ms apart (a 400 kbit/s link): at once, once per EAGER_GAP.
        assert!(s.arrived(1, 200, ms(58)));
        assert!(s.arrived(1, 200, ms(82)));
        // Another stream's frame spreading 5 ms after: within the gap, not again.
        assert!(!s.arrived(2, 7, ms(70)));
        assert!(!s.arrived(2, 7, ms(87)));
        // Just under the spread: nothing.
        assert!(!s.arrived(1, 200, ms(96)));
        // A path that stays narrow: reports keep their interval after the onset's window.
        assert!(s.arrived(1, 200, ms(120)));
        assert!(s.arrived(1, 200, ms(330)));
        assert!(!s.arrived(1, 200, ms(500)));
        assert!(!s.arrived(1, 200, ms(720)));
        // A spread frame QUIET after the last (a narrow path whose spread frames come far
        // apart; a stray spread frame of jitter before a path narrows leaves it only what is
        // left of its window): news.
        assert!(s.arrived(1, 200, ms(1000)));
        assert!(s.arrived(1, 200, ms(1200)));
        assert!(!s.arrived(1, 200, ms(1420)));
        // Quiet for QUIET: the next spread frame is news again.
        assert!(!s.arrived(1, 300, ms(3500)));
        assert!(s.arrived(1, 300, ms(3520)));
    }

    /// An RTP packet of `ssrc` carrying transport-wide sequence number `twcc`.
    fn rtp(ssrc: u32, timestamp: u32, twcc: u16, now: Instant) -> TaggedPacket {
        let mut packet = rtc::rtp::Packet::default();
        packet.header.ssrc = ssrc;
        packet.header.timestamp = timestamp;
        packet.header.extension = true;
        packet.header.extension_profile = 0xBEDE;
        packet
            .header
            .set_extension(EXT, bytes::Bytes::copy_from_slice(&twcc.to_be_bytes()))
            .expect("a one-byte extension");
        TaggedPacket {
            now,
            transport: rtc::shared::TransportContext::default(),
            message: rtc::interceptor::AttributedPacket::new(Packet::Rtp(packet)),
        }
    }

    const EXT: u8 = 5;

    /// The reports written, with their stamps.
    fn reports(e: &mut Eager<impl Interceptor>) -> Vec<Instant> {
        std::iter::from_fn(|| e.poll_write())
            .filter(|m| matches!(m.message.packet, Packet::Rtcp(_)))
            .map(|m| m.now)
            .collect()
    }

    #[test]
    fn reports_come_an_interval_apart_and_at_once_when_a_frame_spreads() {
        let interval = Duration::from_millis(50);
        let generator = rtc::interceptor::TwccReceiverBuilder::new()
            .with_interval(interval)
            .build();
        let mut e = Eager::new(generator, interval);
        e.bind_remote_stream(&StreamInfo {
            ssrc: 1,
            rtp_header_extensions: vec![rtc::interceptor::RTPHeaderExtension {
                uri: rtc::sdp::extmap::TRANSPORT_CC_URI.to_owned(),
                id: u16::from(EXT),
            }],
            ..Default::default()
        });
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut twcc = 0u16;
        let mut read = |e: &mut Eager<_>, ts: u32, at: Instant| {
            twcc += 1;
            e.handle_read(rtp(1, ts, twcc, at)).expect("read");
            while e.poll_read().is_some() {}
        };
        // A clean path: frames of two packets together, reports every 50 ms.
        assert_eq!(e.poll_timeout(), None);
        read(&mut e, 0, ms(0));
        read(&mut e, 0, ms(1));
        assert_eq!(e.poll_timeout(), Some(ms(50)));
        read(&mut e, 3000, ms(33));
        read(&mut e, 3000, ms(34));
        e.handle_timeout(ms(50)).expect("timeout");
        assert_eq!(reports(&mut e), [ms(50)]);
        assert_eq!(e.poll_timeout(), Some(ms(100)));
        // The path narrows: each frame's packets 24 ms apart. A report goes with each packet
        // that shows it, and the regular one stays an interval after the last: however long
        // it lasts, no report is stamped later than the time it was made, and none is more
        // than an interval after the one before.
        let mut last = ms(50);
        let mut early = Vec::new();
        for (i, at) in (66..1000).step_by(24).enumerate() {
            let mut regular = Vec::new();
            while let Some(next) = e.poll_timeout()
                && next <= ms(at)
            {
                e.handle_timeout(next).expect("timeout");
                regular.extend(reports(&mut e));
            }
            read(&mut e, 6000 + 3000 * (i as u32 / 6), ms(at));
            let now = reports(&mut e);
            early.extend(now.iter().copied());
            for stamp in regular.into_iter().chain(now) {
                assert!(stamp <= ms(at), "stamped {stamp:?} at {at} ms");
                assert!(stamp.duration_since(last) <= interval);
                last = stamp;
            }
            assert!(e.poll_timeout().expect("due") <= ms(at) + interval);
        }
        assert_eq!(e.poll_timeout(), Some(last + interval));
        // A report with each packet that came spread out in the onset window (but where the
        // regular one was due within DUE_SOON), then the regular ones alone.
        assert!(early.len() >= 3, "{early:?}");
        assert!(
            early
                .iter()
                .all(|t| t.duration_since(early[0]) <= ONSET_WINDOW)
        );
        // Single-packet frames again: regular reports an interval apart.
        let due = e.poll_timeout().expect("due");
        read(&mut e, 90_000, due - Duration::from_millis(10));
        e.handle_timeout(due).expect("timeout");
        assert_eq!(reports(&mut e), [due]);
        assert_eq!(e.poll_timeout(), Some(due + interval));
    }

    #[test]
    fn streams_remembered_stay_bounded() {
        let t0 = Instant::now();
        let mut s = Spread::default();
        for ssrc in 0..1000u32 {
            s.arrived(ssrc, 1, t0 + Duration::from_millis(u64::from(ssrc)));
        }
        assert_eq!(s.last.len(), STREAMS);
        // The newest are kept.
        assert!(s.arrived(999, 1, t0 + Duration::from_millis(1100)));
    }
}
