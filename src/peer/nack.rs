//! Asking for lost packets (generic NACK, RFC 4585 6.2.1).
//!
//! A gap in a stream's sequence numbers is asked for as soon as a later packet shows it,
//! then again while it is still missing, at most [`TRIES`] times, further apart each time
//! ([`retry_after`]): a request or its answer lost again, or a far end busy for a moment,
//! still leaves requests for later. Nothing is
//! scheduled while nothing is missing: a clean path costs no timer (webrtc-rs's generator
//! wakes every interval for as long as the stream lives, 50 times a second at vcall's
//! 20 ms).
//!
//! [`Losses`] is the pure part, on the caller's clock; [`NackRequester`] puts it in
//! webrtc-rs's interceptor chain in place of rtc's generator.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use rtc::interceptor::{AttributedPacket, Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{
    TransportLayerNack, nack_pairs_from_sequence_numbers,
};
use rtc::sansio::Protocol;
use rtc::shared::TransportContext;

/// The shortest time after one request before a packet still missing is asked for again.
pub(crate) const RETRY: Duration = Duration::from_millis(20);
/// How many times one packet is asked for. On long paths a packet may be sent more than
/// once; that costs bandwidth only on losses (and the sender lets a packet go again only
/// once per round trip and queue: `resend.rs`).
pub(crate) const TRIES: u16 = 10;

/// How long after its `tries`-th request (from 1) a packet is asked for again: 20, 20, 20,
/// 40, 40, 40, 40, 60, 60 ms, so that the [`TRIES`] requests span 340 ms, and the last one's
/// answer has 60 ms to come within the time a recording waits for a missing packet (400
/// ms). Asked every 20 ms they spanned 140 ms: a machine or path slow for that long lost
/// the packet for good. Eight spanning 380 ms left the last one no time, and through a
/// server the first ones may reach it before the packet itself has (lost on the
/// publisher's leg, it is being repaired there): with 10 % loss on both legs, about one
/// call in a hundred lost a frame for good.
pub(crate) fn retry_after(tries: u16) -> Duration {
    RETRY * (1 + u32::from(tries) / 4)
}
/// Packets this far behind the newest are no longer asked for (a picture that old is
/// repaired by a keyframe, not by retransmission).
const WINDOW: u64 = 512;
/// A jump in sequence numbers larger than this is a restarted sender, not a loss.
const MAX_JUMP: i32 = 3000;

/// One packet asked for.
#[derive(Debug, Clone, Copy)]
struct Ask {
    due: Instant,
    tries: u16,
}

/// One stream's sequence numbers: the newest seen and what is missing below it.
#[derive(Debug, Default)]
struct Stream {
    /// The newest sequence number, extended past wraps.
    newest: Option<u64>,
    /// Missing packets by extended sequence number.
    missing: BTreeMap<u64, Ask>,
}

impl Stream {
    fn arrived(&mut self, seq: u16, now: Instant) {
        let Some(newest) = self.newest else {
            // Start high enough that packets before the first can be placed below it.
            self.newest = Some((1 << 32) + u64::from(seq));
            return;
        };
        let ahead = i32::from(seq.wrapping_sub(newest as u16) as i16);
        if ahead.abs() > MAX_JUMP {
            self.missing.clear();
            self.newest = Some(newest - (newest & 0xffff) + (1 << 16) + u64::from(seq));
            return;
        }
        let ext = newest.wrapping_add_signed(i64::from(ahead));
        if ahead <= 0 {
            self.missing.remove(&ext);
            return;
        }
        let first_missing = (newest + 1).max(ext.saturating_sub(WINDOW));
        for lost in first_missing..ext {
            self.missing.insert(lost, Ask { due: now, tries: 0 });
        }
        self.newest = Some(ext);
        let oldest = ext.saturating_sub(WINDOW);
        while self
            .missing
            .first_key_value()
            .is_some_and(|(&s, _)| s < oldest)
        {
            self.missing.pop_first();
        }
    }

    /// The sequence numbers to ask for now, in order; each is asked for again after
    /// [`retry_after`] until TRIES requests have gone.
    fn due(&mut self, now: Instant) -> Vec<u16> {
        let mut asked = Vec::new();
        self.missing.retain(|&seq, ask| {
            if ask.due > now {
                return true;
            }
            asked.push(seq as u16);
            ask.tries += 1;
            ask.due = now + retry_after(ask.tries);
            ask.tries < TRIES
        });
        asked
    }

    fn next(&self) -> Option<Instant> {
        self.missing.values().map(|a| a.due).min()
    }
}

/// The packets missing from each received stream, by SSRC.
#[derive(Debug, Default)]
pub(crate) struct Losses {
    streams: HashMap<u32, Stream>,
}

impl Losses {
    /// Starts watching `ssrc`'s sequence numbers.
    pub(crate) fn watch(&mut self, ssrc: u32) {
        self.streams.entry(ssrc).or_default();
    }

    pub(crate) fn forget(&mut self, ssrc: u32) {
        self.streams.remove(&ssrc);
    }

    /// A packet of `ssrc` arrived (a stream not watched is ignored).
    pub(crate) fn arrived(&mut self, ssrc: u32, seq: u16, now: Instant) {
        if let Some(s) = self.streams.get_mut(&ssrc) {
            s.arrived(seq, now);
        }
    }

    /// What to ask for now: per SSRC, the sequence numbers in order.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<(u32, Vec<u16>)> {
        let mut out = Vec::new();
        for (&ssrc, s) in &mut self.streams {
            let asked = s.due(now);
            if !asked.is_empty() {
                out.push((ssrc, asked));
            }
        }
        out
    }

    /// When something is next to be asked for; `None` while nothing is missing.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.streams.values().filter_map(Stream::next).min()
    }
}

/// [`Losses`] as an interceptor: it reads the RTP of streams that accept generic NACK and
/// writes the requests.
pub(crate) struct NackRequester {
    losses: Losses,
    sender_ssrc: u32,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl NackRequester {
    pub(crate) fn new() -> NackRequester {
        NackRequester {
            losses: Losses::default(),
            sender_ssrc: rand::random(),
            read: VecDeque::new(),
            write: VecDeque::new(),
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for NackRequester {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtp(rtp) = &msg.message.packet {
            self.losses
                .arrived(rtp.header.ssrc, rtp.header.sequence_number, msg.now);
        }
        self.read.push_back(msg);
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        for (media_ssrc, seqs) in self.losses.due(now) {
            let nack = TransportLayerNack {
                sender_ssrc: self.sender_ssrc,
                media_ssrc,
                nacks: nack_pairs_from_sequence_numbers(&seqs),
            };
            self.write.push_back(TaggedPacket {
                now,
                transport: TransportContext::default(),
                message: AttributedPacket::new(Packet::Rtcp(vec![Box::new(nack)])),
            });
        }
        Ok(())
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.losses.next()
    }
}

impl Interceptor for NackRequester {
    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        if info
            .rtcp_feedback
            .iter()
            .any(|fb| fb.typ == "nack" && fb.parameter.is_empty())
        {
            self.losses.watch(info.ssrc);
        }
    }
    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.losses.forget(info.ssrc);
    }
    fn bind_local_stream(&mut self, _: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSRC: u32 = 7;

    fn losses() -> (Losses, Instant) {
        let mut l = Losses::default();
        l.watch(SSRC);
        (l, Instant::now())
    }

    fn ms(t: Instant, n: u64) -> Instant {
        t + Duration::from_millis(n)
    }

    #[test]
    fn a_clean_stream_schedules_nothing() {
        let (mut l, t) = losses();
        for seq in 0..1000u16 {
            l.arrived(SSRC, seq, ms(t, u64::from(seq)));
            assert_eq!(l.next(), None);
        }
        assert!(l.due(ms(t, 2000)).is_empty());
    }

    #[test]
    fn a_gap_is_asked_for_at_once_then_further_apart_until_tries_run_out() {
        let (mut l, t) = losses();
        l.arrived(SSRC, 10, t);
        l.arrived(SSRC, 13, t);
        assert_eq!(l.next(), Some(t));
        assert_eq!(l.due(t), vec![(SSRC, vec![11, 12])]);
        assert_eq!(l.next(), Some(t + RETRY));
        assert!(l.due(ms(t, 19)).is_empty());
        let mut asked_at = vec![0];
        while let Some(due) = l.next() {
            assert!(l.due(due - Duration::from_millis(1)).is_empty());
            assert_eq!(l.due(due), vec![(SSRC, vec![11, 12])]);
            asked_at.push(due.duration_since(t).as_millis());
        }
        assert_eq!(asked_at, [0, 20, 40, 60, 100, 140, 180, 220, 280, 340]);
        assert_eq!(asked_at.len(), usize::from(TRIES));
    }

    #[test]
    fn a_repaired_or_reordered_packet_is_not_asked_for_again() {
        let (mut l, t) = losses();
        l.arrived(SSRC, 1, t);
        l.arrived(SSRC, 4, t);
        assert_eq!(l.due(t), vec![(SSRC, vec![2, 3])]);
        l.arrived(SSRC, 3, ms(t, 5));
        assert_eq!(l.due(ms(t, 20)), vec![(SSRC, vec![2])]);
        l.arrived(SSRC, 2, ms(t, 25));
        assert_eq!(l.next(), None);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let (mut l, t) = losses();
        l.arrived(SSRC, 65534, t);
        l.arrived(SSRC, 1, t);
        assert_eq!(l.due(t), vec![(SSRC, vec![65535, 0])]);
        l.arrived(SSRC, 0, t);
        l.arrived(SSRC, 65535, t);
        assert_eq!(l.next(), None);
    }

    #[test]
    fn a_restarted_sender_is_not_a_loss_and_old_losses_are_bounded() {
        let (mut l, t) = losses();
        l.arrived(SSRC, 100, t);
        l.arrived(SSRC, 30_000, t);
        assert_eq!(l.next(), None, "a jump is a restart");
        // A gap wider than the window asks for the newest WINDOW packets only.
        l.arrived(SSRC, 32_000, t);
        let asked = l.due(t);
        assert_eq!(asked[0].1.len(), WINDOW as usize);
        assert_eq!(asked[0].1.last(), Some(&31_999));
    }

    #[test]
    fn streams_not_watched_are_ignored() {
        let (mut l, t) = losses();
        l.arrived(99, 1, t);
        l.arrived(99, 9, t);
        assert_eq!(l.next(), None);
        l.forget(SSRC);
        l.arrived(SSRC, 1, t);
        l.arrived(SSRC, 9, t);
        assert_eq!(l.next(), None);
    }
}
