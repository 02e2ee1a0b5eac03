//! What a connection sends, in one ledger: every RTP packet that leaves, whether rtc seals it
//! or the engine does beneath rtc (`seal.rs`), is numbered here (transport-wide
//! sequence numbers), recorded for congestion control (the send history the far end's
//! feedback is joined with, driving vcall's estimator), kept for retransmission (NACKs) and
//! counted for sender reports. In rtc's chain it is one interceptor, [`Stage`], where
//! webrtc-rs's TWCC sender, congestion control, NACK responder and sender reports were; the
//! engine writes to the same [`Ledger`] for the packets it seals itself, so the two paths
//! share one numbering and one history.
//!
//! A retransmission asked for by a NACK goes the way its packet went: through the chain
//! when rtc sealed it, else back to the engine ([`Ledger::take_resends`]).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rtc::interceptor::{
    Attribute, AttributedPacket, BandwidthEstimator, History, Interceptor, Packet, StreamInfo,
    TaggedPacket, convert_twcc,
};
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtcp::transport_feedbacks::transport_layer_cc::TransportLayerCc;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::sansio::Protocol;
use rtc::shared::marshal::MarshalSize;
use rtc::shared::time::SystemInstant;

use super::rate::Tracked;

/// Packets kept per stream for retransmission (webrtc-rs's responder kept as many).
const KEPT: usize = 1024;
/// How long a packet no feedback spoke of stays in the send history (webrtc-rs's horizon).
const HISTORY: Duration = Duration::from_secs(2);
/// Sender reports' interval (webrtc-rs's).
const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// One sending stream's books. Kept when rtc unbinds the stream (a section made inactive,
/// then negotiated again): its SSRC's rollover counter lives on in the far end's SRTP and
/// in rtc's, so it must here too.
struct Stream {
    /// Whether rtc has it bound (only a bound stream is sent on).
    bound: bool,
    /// The transport-wide sequence number's header extension id, when negotiated.
    twcc: Option<u8>,
    /// Whether the far end may ask for packets again.
    nack: bool,
    clock_rate: f64,
    /// The last `KEPT` packets by sequence number (without their transport-wide number),
    /// with their extended sequence number and whether the engine sealed each.
    kept: Vec<Option<Kept>>,
    /// The newest sequence number sent, extended by its rollovers (RFC 3711 3.3.1).
    index: Option<u64>,
    /// For sender reports: packets and payload bytes sent (RFC 3550 wraps them), the newest
    /// RTP timestamp and when it was sent (with the wall clock then: what rtc's reports
    /// take NTP time from).
    packets: u32,
    octets: u32,
    last: Option<(u32, Instant, SystemInstant)>,
    /// Sent by the engine beneath rtc, which rtc's statistics do not count.
    beneath: (u64, u64),
}

/// A packet kept for NACKs.
struct Kept {
    packet: rtc::rtp::Packet,
    index: u64,
    beneath: bool,
}

impl Stream {
    fn new(info: &StreamInfo) -> Stream {
        Stream {
            bound: true,
            twcc: info
                .rtp_header_extensions
                .iter()
                .find(|e| e.uri == rtc::sdp::extmap::TRANSPORT_CC_URI)
                .map(|e| e.id as u8),
            nack: info
                .rtcp_feedback
                .iter()
                .any(|f| f.typ == "nack" && f.parameter.is_empty()),
            clock_rate: f64::from(info.clock_rate.max(1)),
            kept: Vec::new(),
            index: None,
            packets: 0,
            octets: 0,
            last: None,
            beneath: (0, 0),
        }
    }

    /// Binds it again (rtc's stream info may have changed), keeping what its SSRC's SRTP
    /// state and its reports carry on from.
    fn rebind(&mut self, info: &StreamInfo) {
        let fresh = Stream::new(info);
        (self.bound, self.twcc, self.nack, self.clock_rate) =
            (true, fresh.twcc, fresh.nack, fresh.clock_rate);
    }

    /// `seq` extended by the rollovers its stream has seen (the newest within half the
    /// number space of it).
    fn extended(&self, seq: u16) -> u64 {
        let Some(newest) = self.index else {
            return u64::from(seq);
        };
        let delta = i64::from(seq.wrapping_sub(newest as u16) as i16);
        (newest as i64 + delta).max(0) as u64
    }

    /// [`Stream::extended`], and the stream's newest index updated.
    fn extend(&mut self, seq: u16) -> u64 {
        let index = self.extended(seq);
        if self.index.is_none_or(|newest| index > newest) {
            self.index = Some(index);
        }
        index
    }

    fn report(&self, ssrc: u32, now: Instant) -> Option<SenderReport> {
        let (timestamp, at, wall) = self.last?;
        let since = now.saturating_duration_since(at);
        Some(SenderReport {
            ssrc,
            ntp_time: wall.ntp(now),
            rtp_time: timestamp.wrapping_add((since.as_secs_f64() * self.clock_rate) as u32),
            packet_count: self.packets,
            octet_count: self.octets,
            ..Default::default()
        })
    }
}

/// The books of one connection's sending.
pub(crate) struct Books {
    streams: HashMap<u32, Stream>,
    next_twcc: u16,
    history: History,
    estimator: Tracked,
    /// Packets asked for again that the engine sealed: it sends them again.
    resends: Vec<rtc::rtp::Packet>,
    next_report: Option<Instant>,
}

/// A connection's [`Books`], shared by its chain's [`Stage`] and its engine.
#[derive(Clone)]
pub(crate) struct Ledger(Arc<Mutex<Books>>);

impl Ledger {
    pub(super) fn new(estimator: Tracked) -> Ledger {
        Ledger(Arc::new(Mutex::new(Books {
            streams: HashMap::new(),
            next_twcc: 0,
            history: History::new(),
            estimator,
            resends: Vec::new(),
            next_report: None,
        })))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Books> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Books {
    /// `packet` leaves now (`beneath`: sealed by the engine): numbered, recorded, kept and
    /// counted. Its rollover counter, for sealing; `None` for a stream rtc has not bound.
    pub(crate) fn sent(
        &mut self,
        packet: &mut rtc::rtp::Packet,
        now: Instant,
        beneath: bool,
        again: bool,
    ) -> Option<u32> {
        let ssrc = packet.header.ssrc;
        let stream = self.streams.get_mut(&ssrc).filter(|s| s.bound)?;
        let seq = packet.header.sequence_number;
        let index = stream.extend(seq);
        if stream.nack && !again {
            if stream.kept.is_empty() {
                stream.kept.resize_with(KEPT, || None);
            }
            stream.kept[usize::from(seq) % KEPT] = Some(Kept {
                packet: packet.clone(),
                index,
                beneath,
            });
        }
        let twcc = stream.twcc.map(|id| {
            let n = self.next_twcc;
            self.next_twcc = n.wrapping_add(1);
            let number = bytes::Bytes::copy_from_slice(&n.to_be_bytes());
            if packet.header.set_extension(id, number).is_err() {
                tracing::trace!(ssrc, "transport-wide number not written");
            }
            n
        });
        self.history.add_outgoing(
            ssrc,
            seq,
            twcc.is_some(),
            twcc.unwrap_or_default(),
            packet.marshal_size(),
            now,
        );
        stream.packets = stream.packets.wrapping_add(1);
        stream.octets = stream.octets.wrapping_add(packet.payload.len() as u32);
        let newest = stream.index == Some(index);
        if newest
            && stream
                .last
                .is_none_or(|(ts, _, _)| ts != packet.header.timestamp)
        {
            stream.last = Some((packet.header.timestamp, now, SystemInstant::now(now)));
        }
        if beneath {
            stream.beneath.0 += 1;
            stream.beneath.1 += packet.payload.len() as u64;
        }
        if self.next_report.is_none() {
            self.next_report = Some(now + REPORT_INTERVAL);
        }
        Some((index >> 16) as u32)
    }

    /// Packets a NACK asked for: rtc's go back into the chain (`chain`), the engine's wait
    /// for [`Ledger::take_resends`].
    fn nacked(
        &mut self,
        nack: &TransportLayerNack,
        now: Instant,
        chain: &mut VecDeque<TaggedPacket>,
    ) {
        let Some(stream) = self.streams.get(&nack.media_ssrc).filter(|s| s.bound) else {
            return;
        };
        if stream.kept.is_empty() {
            return;
        }
        let newest = stream.index.unwrap_or_default();
        let mut again = Vec::new();
        for seq in nack.nacks.iter().flat_map(|n| n.packet_list()) {
            // Only the packet sent under that number in this rollover, and no older than
            // what is kept: another would go under a number (a nonce) already used.
            let index = stream.extended(seq);
            if let Some(k) = &stream.kept[usize::from(seq) % KEPT]
                && k.index == index
                && newest.checked_sub(index).is_some_and(|d| d < KEPT as u64)
            {
                again.push((k.packet.clone(), k.beneath));
            }
        }
        for (mut p, beneath) in again {
            if beneath {
                self.resends.push(p);
                continue;
            }
            self.sent(&mut p, now, false, true);
            chain.push_back(TaggedPacket {
                now,
                transport: Default::default(),
                message: AttributedPacket::new(Packet::Rtp(p)).with(Attribute::Retransmission),
            });
        }
    }

    /// The far end's transport-wide feedback, joined with what was sent, to the estimator.
    fn feedback(&mut self, cc: &TransportLayerCc, now: Instant) {
        for ack in convert_twcc(cc) {
            self.history.on_twcc_feedback(now, ack);
        }
        let reports = self.history.take_reports();
        self.estimator.on_reports(now, &reports);
    }

    /// Whether sender reports have their timer (set by the first packet sent).
    pub(crate) fn reports_due(&self) -> bool {
        self.next_report.is_some()
    }

    /// Sender reports at `now` rather than at their interval (when any stream has sent).
    pub(crate) fn report_soon(&mut self, now: Instant) {
        if self.next_report.is_some() {
            self.next_report = Some(now);
        }
    }

    /// Retransmissions the engine is to seal and send.
    pub(crate) fn take_resends(&mut self) -> Vec<rtc::rtp::Packet> {
        std::mem::take(&mut self.resends)
    }

    /// Packets and payload bytes the engine sent beneath rtc on `ssrc`.
    pub(crate) fn beneath(&self, ssrc: u32) -> (u64, u64) {
        self.streams.get(&ssrc).map_or((0, 0), |s| s.beneath)
    }
}

/// The ledger as webrtc-rs's chain takes it: the wire-most interceptor that writes.
pub(crate) struct Stage {
    ledger: Ledger,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

impl Stage {
    pub(crate) fn new(ledger: Ledger) -> Stage {
        Stage {
            ledger,
            read: VecDeque::new(),
            write: VecDeque::new(),
        }
    }
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for Stage {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &msg.message.packet {
            let mut books = self.ledger.lock();
            for p in packets {
                let any = p.as_any();
                if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
                    books.nacked(nack, msg.now, &mut self.write);
                } else if let Some(cc) = any.downcast_ref::<TransportLayerCc>() {
                    books.feedback(cc, msg.now);
                }
            }
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        let retransmission = msg.message.has(&Attribute::Retransmission);
        if let Packet::Rtp(p) = &mut msg.message.packet {
            self.ledger.lock().sent(p, msg.now, false, retransmission);
        }
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        let mut books = self.ledger.lock();
        books
            .history
            .prune_before(now.checked_sub(HISTORY).unwrap_or(now));
        books.estimator.handle_timeout(now);
        if books.next_report.is_some_and(|at| now >= at) {
            books.next_report = Some(now + REPORT_INTERVAL);
            for (&ssrc, stream) in books.streams.iter().filter(|(_, s)| s.bound) {
                if let Some(sr) = stream.report(ssrc, now) {
                    self.write.push_back(TaggedPacket {
                        now,
                        transport: Default::default(),
                        message: AttributedPacket::new(Packet::Rtcp(vec![Box::new(sr)])),
                    });
                }
            }
        }
        Ok(())
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let books = self.ledger.lock();
        [books.next_report, books.estimator.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }
}

impl Interceptor for Stage {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        let mut books = self.ledger.lock();
        match books.streams.get_mut(&info.ssrc) {
            Some(stream) => stream.rebind(info),
            None => {
                books.streams.insert(info.ssrc, Stream::new(info));
            }
        }
    }
    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        if let Some(stream) = self.ledger.lock().streams.get_mut(&info.ssrc) {
            stream.bound = false;
            stream.kept = Vec::new();
        }
    }
    fn bind_remote_stream(&mut self, _: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sequence_number_is_extended_across_its_rollovers_and_back() {
        let info = StreamInfo::default();
        let mut s = Stream::new(&info);
        assert_eq!(s.extend(65_534), 65_534);
        assert_eq!(s.extend(65_535), 65_535);
        assert_eq!(s.extend(0), 65_536);
        assert_eq!(
            s.extend(65_535),
            65_535,
            "a late one keeps its own rollover"
        );
        assert_eq!(s.extend(1), 65_537);
        assert_eq!(s.index, Some(65_537));
        // A stream unbound and bound again goes on in its rollover.
        s.bound = false;
        s.rebind(&info);
        assert_eq!(s.extend(2), 65_538);
        // Far behind the start: never below zero.
        let mut s = Stream::new(&info);
        assert_eq!(s.extend(10), 10);
        assert_eq!(s.extend(65_530), 0);
    }
}
