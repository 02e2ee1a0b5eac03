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
//! [`SPREAD`] or more apart crossed something slower than they were sent at. [`Spread`] is
//! the pure part, on the caller's clock; [`Eager`] puts it around rtc's transport-wide
//! feedback generator, whose report then goes with the packet that showed it (rtc's
//! generator has no "now": it is given its own next due time, so its next regular report
//! comes one interval after that).

use std::time::{Duration, Instant};

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;

/// Consecutive packets of one frame at least this far apart are a queue filling: one
/// 1200-byte packet every 15 ms is a path under 650 kbit/s. Paced senders spread a frame
/// far less (libwebrtc's pacer sends at 2.5x the target rate), and packets read together
/// after a stall arrive together.
pub(crate) const SPREAD: Duration = Duration::from_millis(15);
/// At most one early report per this: one per packet of a narrowed path at most.
pub(crate) const EAGER_GAP: Duration = Duration::from_millis(10);
/// A report due this soon anyway is not sent early.
const DUE_SOON: Duration = Duration::from_millis(5);
/// Streams remembered (the newest heard): a connection's video streams at once.
const STREAMS: usize = 16;

/// Which arrivals show a frame spreading out.
#[derive(Debug, Default)]
pub(crate) struct Spread {
    /// Per stream: its newest packet's RTP timestamp and arrival.
    last: Vec<(u32, u32, Instant)>,
    /// The last early report.
    sent: Option<Instant>,
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
        let due = spread
            && self
                .sent
                .is_none_or(|t| now.saturating_duration_since(t) >= EAGER_GAP);
        if due {
            self.sent = Some(now);
        }
        due
    }
}

/// rtc's transport-wide feedback generator, reporting at once when [`Spread`] says so.
pub(crate) struct Eager<I> {
    inner: I,
    spread: Spread,
}

impl<I: Interceptor> Eager<I> {
    pub(crate) fn new(inner: I) -> Eager<I> {
        Eager {
            inner,
            spread: Spread::default(),
        }
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
        let spread = match &msg.message.packet {
            Packet::Rtp(rtp) => self
                .spread
                .arrived(rtp.header.ssrc, rtp.header.timestamp, now),
            _ => false,
        };
        // Recorded first: the report includes this packet.
        self.inner.handle_read(msg)?;
        if spread
            && let Some(due) = self.inner.poll_timeout()
            && due > now + DUE_SOON
        {
            self.inner.handle_timeout(due)?;
        }
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.inner.poll_read()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.inner.handle_write(msg)
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.inner.poll_write()
    }
    fn handle_event(&mut self, evt: ()) -> Result<(), Self::Error> {
        self.inner.handle_event(evt)
    }
    fn poll_event(&mut self) -> Option<()> {
        self.inner.poll_event()
    }
    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        self.inner.handle_timeout(now)
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.inner.poll_timeout()
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
