//! Turns a track's RTP packets into whole frames: reorders within a window, reassembles
//! fragmented frames, and after a loss it cannot repair skips video to the next keyframe
//! (asking for one), so a recording never holds a frame built from missing pieces. Audio
//! never waits long: a gap is given up after a short wait, and the packet after it is handed
//! back to recover the lost one from its in-band FEC.
//! Pure: fed packets and the time, it hands back frames and requests.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::vocab::{BadPayload, Codec, Depacketizer, Rtp, bitstream};

/// At most this many packets wait behind a missing one, however young the gap.
const REORDER_WINDOW: u64 = 200;
/// How long packets wait behind a missing video packet: long enough for NACKs (sent every
/// 20 ms) to bring it back over paths with a few hundred ms of round trip.
const VIDEO_PATIENCE: Duration = Duration::from_millis(400);
/// How long packets wait behind a missing video packet once a whole keyframe of another
/// picture size waits behind it too (a simulcast layer switch, a sender's new size): what
/// the hole held only leads up to that keyframe, pictures of the size left, and a live
/// receiver would show the keyframe at once. Long enough for a retransmission on a short
/// path (a NACK goes at once); a path that narrowed, whose retransmissions come back behind
/// its queue, does not hold the picture (a simulcast switch's keyframe waited 300 ms behind
/// one lost packet). A keyframe of the same size waits the whole patience: under random
/// loss a retransmission may take a NACK or two more, and the frames before it are the
/// recording's.
const KEYFRAME_PATIENCE: Duration = Duration::from_millis(40);
/// How long packets wait behind a missing audio packet, which nobody retransmits: only for
/// a reordered one. A datagram held back on each of two legs (publisher to server, server to
/// subscriber) can come well over 100 ms behind the one after it (`--impair reorder` holds
/// one back by twice the jitter: with 30 ms of jitter, up to 100 ms a leg); given up, it was
/// lost though it came (at 100 ms, two in a row were, once, under load). Video already waits
/// longer, so the recording's latency is not what this sets.
const AUDIO_PATIENCE: Duration = Duration::from_millis(250);

/// One complete encoded frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// RTP timestamp, extended to 64 bits so it never wraps.
    pub timestamp: u64,
    /// H.264 in Annex B, AV1 as OBUs with their sizes, VP8, VP9 and Opus as their
    /// bitstreams.
    pub data: Bytes,
    pub keyframe: bool,
    /// Audio only: this frame was lost, and `data` is the packet after it, whose in-band FEC
    /// may carry it (see `codec::OpusRecovery`).
    pub fec: bool,
}

/// What the assembler asks of its driver besides taking frames.
#[derive(Debug, Default)]
pub struct Output {
    pub frames: Vec<Frame>,
    /// Ask the sender for a keyframe.
    pub request_keyframe: bool,
}

pub struct Assembler {
    codec: Codec,
    depack: Depacketizer,
    /// Packets not yet assembled, by extended sequence number, with when they arrived.
    pending: BTreeMap<u64, (Rtp, Instant)>,
    patience: Duration,
    /// The extended sequence number of the next packet to assemble.
    next: Option<u64>,
    last_seq: Option<u64>,
    last_ts: Option<u64>,
    /// Dropping video until the next keyframe.
    waiting_for_keyframe: bool,
    /// H.264 parameter sets (SPS and PPS) have been seen: a keyframe without them can only
    /// be decoded after one with them.
    have_params: bool,
    /// The picture size the newest keyframe taken said, where its first packet says one.
    size: Option<(u32, u32)>,
}

fn extend(last: Option<u64>, value: u32, bits: u32) -> u64 {
    let Some(last) = last else {
        return value as u64 + (1 << bits);
    };
    let modulus = 1u64 << bits;
    let base = last & !(modulus - 1);
    let candidates = [base.wrapping_sub(modulus), base, base + modulus];
    candidates
        .into_iter()
        .map(|b| b.wrapping_add(value as u64))
        .min_by_key(|c| c.abs_diff(last))
        .expect("three candidates")
}

impl Assembler {
    pub fn new(codec: Codec) -> Assembler {
        Assembler {
            codec,
            depack: Depacketizer::new(codec),
            pending: BTreeMap::new(),
            patience: if codec == Codec::Opus {
                AUDIO_PATIENCE
            } else {
                VIDEO_PATIENCE
            },
            next: None,
            last_seq: None,
            last_ts: None,
            waiting_for_keyframe: codec != Codec::Opus,
            have_params: codec != Codec::H264,
            size: None,
        }
    }

    /// Feeds one packet that arrived at `now`; returns the frames it completes.
    pub fn push(&mut self, packet: Rtp, now: Instant) -> Output {
        let seq = extend(self.last_seq, packet.seq() as u32, 16);
        self.last_seq = Some(self.last_seq.map_or(seq, |l| l.max(seq)));
        let next = *self.next.get_or_insert(seq);
        if seq < next {
            return self.output(false); // late duplicate or retransmission of a done frame
        }
        self.pending.entry(seq).or_insert((packet, now));
        self.assemble(now, false)
    }

    /// When a gap will have waited long enough ([`poll`](Self::poll) then gives it up).
    pub fn deadline(&self) -> Option<Instant> {
        let (_, resume) = self.first_hole(self.next?)?;
        Some(self.pending[&resume].1 + self.patience_before(resume))
    }

    /// Gives up the gaps that have waited long enough by `now`.
    pub fn poll(&mut self, now: Instant) -> Output {
        self.assemble(now, false)
    }

    /// The track ended: every gap is given up, and whatever is whole comes out.
    pub fn flush(&mut self, now: Instant) -> Output {
        self.assemble(now, true)
    }

    fn assemble(&mut self, now: Instant, flush: bool) -> Output {
        let mut out = Output::default();
        while let Some(&first) = self.pending.keys().next() {
            let expected = self.next.expect("set by the first packet");
            if let Some(end) = (first == expected).then(|| self.frame_end(first)).flatten() {
                self.take_frame(first, end, &mut out);
                continue;
            }
            // Something is missing before the next whole frame: wait, or give it up.
            let Some((hole, resume)) = self.first_hole(expected) else {
                break; // the newest frame is still arriving
            };
            let newest = *self.pending.keys().next_back().expect("non-empty");
            let waited = now.saturating_duration_since(self.pending[&resume].1);
            if !flush && newest - hole < REORDER_WINDOW && waited < self.patience_before(resume) {
                break; // wait for the gap to fill (NACK or a late packet may bring it)
            }
            // Given up: the part of a frame before the hole goes too; resume after it.
            let partial: Vec<u64> = self.pending.range(..hole).map(|(&s, _)| s).collect();
            for s in partial {
                self.pending.remove(&s);
            }
            self.next = Some(resume);
            tracing::debug!(
                codec = ?self.codec,
                lost = resume - hole,
                hole = hole as u16,
                waited_ms = waited.as_millis() as u64,
                flush,
                "gave up a gap of packets"
            );
            if self.codec == Codec::Opus {
                out.frames.extend(self.fec_frame(resume - hole, resume));
            } else {
                self.depack = Depacketizer::new(self.codec);
                self.waiting_for_keyframe = true;
                out.request_keyframe = true;
            }
        }
        let mut o = self.output(false);
        o.frames = out.frames;
        // A request that a keyframe taken after it has answered is not made.
        o.request_keyframe |= out.request_keyframe && self.waiting_for_keyframe;
        o
    }

    /// How long a hole that packet `resume` came after may wait: `patience`, or
    /// `KEYFRAME_PATIENCE` once a whole keyframe of another size waits behind it, and then
    /// nothing if the track already waits for a keyframe (a hole before it was given up):
    /// what this hole held leads up to that keyframe, from the size left, and could only
    /// be dropped (a second hole before a layer switch's keyframe waited its own 40 ms after
    /// the first's).
    fn patience_before(&self, resume: u64) -> Duration {
        match self.whole_keyframe_after(resume) {
            true if self.waiting_for_keyframe => Duration::ZERO,
            true => self.patience.min(KEYFRAME_PATIENCE),
            false => self.patience,
        }
    }

    /// Whether a whole keyframe of a picture size other than the newest one taken waits at
    /// or after `from`, with nothing missing from its first packet to its last: a live
    /// receiver would show it now, and what the hole before it held can only lead up to it.
    fn whole_keyframe_after(&self, from: u64) -> bool {
        let Some(size) = self.size else {
            return false;
        };
        self.codec.kind() == crate::vocab::Kind::Video
            && self.pending.range(from..).any(|(&s, (p, _))| {
                bitstream::starts_keyframe(self.codec, p.payload())
                    && bitstream::keyframe_size(self.codec, p.payload()).is_some_and(|k| k != size)
                    && self.frame_end(s).is_some()
            })
    }

    /// The first missing sequence number from `expected` that a later packet has passed, and
    /// that packet's.
    fn first_hole(&self, expected: u64) -> Option<(u64, u64)> {
        let mut want = expected;
        for &s in self.pending.range(expected..).map(|(s, _)| s) {
            if s != want {
                return Some((want, s));
            }
            want = s + 1;
        }
        None
    }

    /// The last packet of the frame that begins at `first`, when all of it is here.
    fn frame_end(&self, first: u64) -> Option<u64> {
        if self.codec == Codec::Opus {
            return Some(first);
        }
        let ts = self.pending[&first].0.timestamp();
        let mut s = first;
        while let Some((p, _)) = self.pending.get(&s) {
            if p.timestamp() != ts {
                return Some(s - 1); // marker lost: the timestamp changed
            }
            if p.marker() {
                return Some(s);
            }
            s += 1;
        }
        None
    }

    fn take_frame(&mut self, first: u64, end: u64, out: &mut Output) {
        // Padding alone (a sender probing the path: an empty payload) carries nothing.
        let packets: Vec<Rtp> = (first..=end)
            .filter_map(|s| self.pending.remove(&s).map(|(p, _)| p))
            .filter(|p| !p.payload().is_empty())
            .collect();
        self.next = Some(end + 1);
        if packets.is_empty() {
            return;
        }
        // A frame whose first packet is the middle of a fragmented unit lost its start
        // (we joined mid-frame, or gave up on a gap): it cannot be decoded.
        if !self.depack.is_frame_start(packets[0].payload()) {
            if self.codec != Codec::Opus {
                self.waiting_for_keyframe = true;
                out.request_keyframe = true;
            }
            self.depack = Depacketizer::new(self.codec);
            return;
        }
        let built = match self.build(&packets) {
            Ok(built) => built,
            Err(e) => {
                // Dropped alone: waiting for a keyframe here cost H.264 under random loss
                // frames by the second (a frame rebuilt after a gap was given up on).
                tracing::debug!("dropping a frame with an undecodable packet: {e}");
                None
            }
        };
        if let Some(frame) = built {
            if self.waiting_for_keyframe && !(frame.keyframe && self.have_params) {
                out.request_keyframe = true;
                return;
            }
            self.waiting_for_keyframe = false;
            if frame.keyframe
                && let Some(size) = bitstream::keyframe_size(self.codec, packets[0].payload())
            {
                self.size = Some(size);
            }
            out.frames.push(frame);
        }
    }

    /// The last of `missing` lost audio packets before the one at `after`, to be recovered
    /// from that packet's in-band FEC; its time lies one frame before it.
    fn fec_frame(&self, missing: u64, after: u64) -> Option<Frame> {
        let last = self.last_ts?;
        let (packet, _) = self.pending.get(&after)?;
        if packet.payload().is_empty() {
            return None;
        }
        let ts = extend(Some(last), packet.timestamp(), 32);
        let frame = ts.checked_sub(last)? / (missing + 1);
        (frame > 0).then(|| Frame {
            timestamp: ts - frame,
            data: packet.payload().clone(),
            keyframe: true,
            fec: true,
        })
    }

    fn output(&self, request_keyframe: bool) -> Output {
        Output {
            frames: Vec::new(),
            request_keyframe,
        }
    }

    /// The frame `packets` carry; `None` when they carry nothing.
    fn build(&mut self, packets: &[Rtp]) -> Result<Option<Frame>, BadPayload> {
        let Some(first) = packets.first() else {
            return Ok(None);
        };
        let ts = extend(self.last_ts, first.timestamp(), 32);
        self.last_ts = Some(ts);
        let mut data = BytesMut::new();
        for p in packets {
            match self.depack.push(p.payload()) {
                Ok(b) => data.extend_from_slice(&b),
                Err(e) => {
                    self.depack = Depacketizer::new(self.codec); // no half-built NAL carries over
                    return Err(e);
                }
            }
        }
        if data.is_empty() {
            return Ok(None);
        }
        let keyframe = match self.codec {
            Codec::Opus => true,
            Codec::H264 => {
                let types: Vec<u8> = bitstream::nal_units(&data).map(|n| n[0] & 0x1f).collect();
                self.have_params |= types.contains(&7) && types.contains(&8);
                types.contains(&5)
            }
            codec => bitstream::is_keyframe(codec, &data),
        };
        Ok(Some(Frame {
            timestamp: ts,
            data: data.freeze(),
            keyframe,
            fec: false,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Instant {
        static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *T0.get_or_init(Instant::now)
    }

    fn at(ms: u64) -> Instant {
        t0() + Duration::from_millis(ms)
    }

    fn opus(seq: u16, ts: u32) -> Rtp {
        Rtp::new(111, seq, ts, true, Bytes::from_static(&[0xf8, 1, 2]))
    }

    #[test]
    fn reordered_audio_comes_out_in_order() {
        let mut a = Assembler::new(Codec::Opus);
        assert_eq!(a.push(opus(10, 0), t0()).frames.len(), 1);
        assert!(a.push(opus(12, 1920), t0()).frames.is_empty());
        let out = a.push(opus(11, 960), t0());
        let ts: Vec<u64> = out.frames.iter().map(|f| f.timestamp).collect();
        assert_eq!(ts.len(), 2);
        assert_eq!(ts[1] - ts[0], 960);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut a = Assembler::new(Codec::Opus);
        let mut n = 0;
        for (i, seq) in [65534u16, 65535, 0, 1].into_iter().enumerate() {
            n += a.push(opus(seq, i as u32 * 960), t0()).frames.len();
        }
        assert_eq!(n, 4);
    }

    fn pkt(seq: u16, ts: u32, marker: bool, payload: &'static [u8]) -> Rtp {
        Rtp::new(102, seq, ts, marker, Bytes::from_static(payload))
    }

    /// STAP-A carrying an SPS (type 7) and a PPS (type 8).
    const PARAMS: &[u8] = &[0x78, 0, 3, 0x67, 0x42, 0xc0, 0, 2, 0x68, 0xce];

    #[test]
    fn fragmented_h264_is_reassembled_and_loss_waits_for_a_keyframe() {
        let mut a = Assembler::new(Codec::H264);
        // Parameter sets, then an IDR (type 5) in two FU-A fragments: indicator 0x7c,
        // header start 0x85 / end 0x45.
        assert!(a.push(pkt(1, 0, false, PARAMS), t0()).frames.is_empty());
        assert!(
            a.push(pkt(2, 0, false, &[0x7c, 0x85, 1, 2]), t0())
                .frames
                .is_empty()
        );
        let out = a.push(pkt(3, 0, true, &[0x7c, 0x45, 3]), t0());
        assert_eq!(out.frames.len(), 1);
        assert!(out.frames[0].keyframe);
        assert!(out.frames[0].data.ends_with(&[0, 0, 0, 1, 0x65, 1, 2, 3]));
        // A P frame after a gap that never fills is dropped and a keyframe requested.
        let mut requested = false;
        for seq in 5..(5 + REORDER_WINDOW as u16 + 1) {
            let o = a.push(pkt(seq, 3000 * seq as u32, true, &[0x41, 9, 9]), t0());
            requested |= o.request_keyframe;
            assert!(o.frames.is_empty());
        }
        assert!(requested);
        let o = a.push(
            pkt(5 + REORDER_WINDOW as u16 + 1, 900_000, true, &[0x65, 7, 7]),
            t0(),
        );
        assert_eq!(o.frames.len(), 1);
    }

    #[test]
    fn a_frame_with_a_payload_that_cannot_be_read_is_dropped_alone() {
        // VP8: a keyframe, then a frame whose second packet's descriptor is cut short: that
        // frame is dropped, the next ones are kept.
        let mut a = Assembler::new(Codec::Vp8);
        let key = a.push(pkt(1, 0, true, &[0x10, 0x00, 1]), t0());
        assert!(key.frames.len() == 1 && key.frames[0].keyframe);
        assert!(
            a.push(pkt(2, 3000, false, &[0x10, 0x01, 2]), t0())
                .frames
                .is_empty()
        );
        let bad = a.push(pkt(3, 3000, true, &[0x80]), t0());
        assert!(bad.frames.is_empty());
        let after = a.push(pkt(4, 6000, true, &[0x10, 0x01, 3]), t0());
        assert_eq!(after.frames.len(), 1);
        assert_eq!(&after.frames[0].data[..], &[0x01, 3]);
    }

    #[test]
    fn the_first_keyframe_needs_parameter_sets_and_a_start() {
        let mut a = Assembler::new(Codec::H264);
        // Joined mid-frame: the end of a fragmented IDR alone is no frame.
        let o = a.push(pkt(10, 0, true, &[0x7c, 0x45, 3]), t0());
        assert!(o.frames.is_empty() && o.request_keyframe);
        // A whole IDR, but no SPS/PPS seen yet: a decoder could not start here.
        let o = a.push(pkt(11, 3000, true, &[0x65, 7, 7]), t0());
        assert!(o.frames.is_empty() && o.request_keyframe);
        // Parameter sets and IDR together: the recording starts.
        assert!(a.push(pkt(12, 6000, false, PARAMS), t0()).frames.is_empty());
        assert_eq!(
            a.push(pkt(13, 6000, true, &[0x65, 7, 7]), t0())
                .frames
                .len(),
            1
        );
    }

    #[test]
    fn audio_gives_up_a_gap_soon_and_hands_back_the_packet_after_it_for_fec() {
        let mut a = Assembler::new(Codec::Opus);
        assert_eq!(a.push(opus(1, 0), at(0)).frames.len(), 1);
        // 2 is lost; 3 and 4 wait for it, but not for long.
        assert!(a.push(opus(3, 1920), at(40)).frames.is_empty());
        assert!(a.push(opus(4, 2880), at(60)).frames.is_empty());
        assert_eq!(a.deadline(), Some(at(40) + AUDIO_PATIENCE));
        assert!(a.poll(at(100)).frames.is_empty());
        let out = a.poll(at(40) + AUDIO_PATIENCE);
        let got: Vec<(u64, bool)> = out.frames.iter().map(|f| (f.timestamp, f.fec)).collect();
        let base = out.frames[0].timestamp - 960;
        assert_eq!(
            got,
            vec![
                (base + 960, true),
                (base + 1920, false),
                (base + 2880, false)
            ]
        );
        assert_eq!(a.deadline(), None);
    }

    #[test]
    fn a_hole_inside_a_video_frame_is_given_up_in_time_and_a_keyframe_asked_for() {
        let mut a = Assembler::new(Codec::H264);
        assert!(a.push(pkt(1, 0, false, PARAMS), at(0)).frames.is_empty());
        assert_eq!(
            a.push(pkt(2, 0, true, &[0x65, 7, 7]), at(0)).frames.len(),
            1
        );
        // A P frame in three fragments loses its middle one; the next frame waits behind it.
        a.push(pkt(3, 3000, false, &[0x7c, 0x81, 1]), at(33));
        a.push(pkt(5, 3000, true, &[0x7c, 0x41, 3]), at(34));
        a.push(pkt(6, 6000, true, &[0x41, 9, 9]), at(66));
        assert_eq!(a.deadline(), Some(at(34) + VIDEO_PATIENCE));
        let o = a.poll(at(34) + VIDEO_PATIENCE);
        assert!(o.frames.is_empty() && o.request_keyframe);
        // The next keyframe resumes the recording.
        let o = a.push(pkt(7, 9000, true, &[0x65, 7, 7]), at(500));
        assert_eq!(o.frames.len(), 1);
    }

    /// A VP8 keyframe's first payload: the descriptor (S), the frame tag (a key frame), the
    /// start code, the size.
    fn vp8_key(w: u16, h: u16) -> &'static [u8] {
        let [w0, w1] = w.to_le_bytes();
        let [h0, h1] = h.to_le_bytes();
        vec![0x10, 0x00, 0, 0, 0x9d, 0x01, 0x2a, w0, w1, h0, h1, 7].leak()
    }

    #[test]
    fn a_hole_with_a_whole_keyframe_of_another_size_behind_it_waits_only_a_little() {
        let inter: &'static [u8] = &[0x10, 0x01, 0, 0, 9];
        let mut a = Assembler::new(Codec::Vp8);
        assert_eq!(
            a.push(pkt(1, 0, true, vp8_key(1280, 720)), at(0))
                .frames
                .len(),
            1
        );
        // A frame loses its first packet; a keyframe of another size (a smaller layer)
        // follows, its last packet not yet here: the hole waits as long as ever.
        a.push(pkt(3, 3000, true, &[0x00, 9]), at(33));
        a.push(pkt(4, 6000, false, vp8_key(320, 180)), at(66));
        assert_eq!(a.deadline(), Some(at(33) + VIDEO_PATIENCE));
        // The keyframe is whole: the hole waits KEYFRAME_PATIENCE from the packet after it.
        let o = a.push(pkt(5, 6000, true, &[0x00, 8]), at(70));
        assert!(o.frames.is_empty());
        assert_eq!(a.deadline(), Some(at(33) + KEYFRAME_PATIENCE));
        let o = a.poll(at(33) + KEYFRAME_PATIENCE);
        assert_eq!(o.frames.len(), 1);
        assert!(o.frames[0].keyframe && !o.request_keyframe);
        // A keyframe of the size it has (a periodic one, one asked for): the hole waits its
        // whole patience (a retransmission may take a NACK or two more under loss), and what
        // it brings is kept.
        let mut a = Assembler::new(Codec::Vp8);
        a.push(pkt(1, 0, true, vp8_key(640, 360)), at(0));
        a.push(pkt(3, 6000, true, vp8_key(640, 360)), at(33));
        assert_eq!(a.deadline(), Some(at(33) + VIDEO_PATIENCE));
        let o = a.push(pkt(2, 3000, true, inter), at(300));
        assert_eq!(o.frames.len(), 2);
        assert!(!o.request_keyframe);
        // A retransmission within the short wait still fills the hole.
        let mut a = Assembler::new(Codec::Vp8);
        a.push(pkt(1, 0, true, vp8_key(1280, 720)), at(0));
        a.push(pkt(3, 6000, true, vp8_key(320, 180)), at(33));
        let o = a.push(pkt(2, 3000, true, inter), at(50));
        assert_eq!(o.frames.len(), 2);
    }

    #[test]
    fn holes_before_a_whole_keyframe_are_not_waited_for_while_a_keyframe_is_wanted() {
        let inter: &'static [u8] = &[0x10, 0x01, 0, 0, 9];
        let mut a = Assembler::new(Codec::Vp8);
        a.push(pkt(1, 0, true, vp8_key(1280, 720)), at(0));
        // Two holes (2 and 4) before a whole keyframe of another size (a layer switch).
        a.push(pkt(3, 3000, true, inter), at(33));
        a.push(pkt(5, 6000, true, inter), at(50));
        a.push(pkt(6, 9000, false, vp8_key(320, 180)), at(60));
        assert!(
            a.push(pkt(7, 9000, true, &[0x00, 8]), at(61))
                .frames
                .is_empty()
        );
        // The first waits KEYFRAME_PATIENCE; once given up, a keyframe is wanted and the
        // second (whose frames could only be dropped) is given up with it.
        assert_eq!(a.deadline(), Some(at(33) + KEYFRAME_PATIENCE));
        let o = a.poll(at(33) + KEYFRAME_PATIENCE);
        assert_eq!(o.frames.len(), 1);
        assert!(o.frames[0].keyframe && !o.request_keyframe);
        assert_eq!(a.deadline(), None);
        // A keyframe of the size the track had, while it waits for one: the hole before it
        // waits its whole patience (it may hold an earlier keyframe a retransmission
        // repairs, and the frames after that one).
        let mut a = Assembler::new(Codec::Vp8);
        a.push(pkt(1, 0, true, vp8_key(640, 360)), at(0));
        a.push(pkt(3, 3000, true, inter), at(33));
        a.poll(at(33) + VIDEO_PATIENCE);
        a.push(pkt(5, 6000, true, vp8_key(640, 360)), at(500));
        assert_eq!(a.deadline(), Some(at(500) + VIDEO_PATIENCE));
        // Joining mid-stream (no size yet): the hole before the first keyframe waits too.
        let mut a = Assembler::new(Codec::Vp8);
        a.push(pkt(10, 0, true, inter), at(0));
        a.push(pkt(12, 3000, true, vp8_key(640, 360)), at(5));
        assert_eq!(a.deadline(), Some(at(5) + VIDEO_PATIENCE));
    }

    #[test]
    fn a_retransmission_in_time_fills_the_hole() {
        let mut a = Assembler::new(Codec::H264);
        a.push(pkt(1, 0, false, PARAMS), at(0));
        a.push(pkt(2, 0, true, &[0x65, 7, 7]), at(0));
        a.push(pkt(4, 6000, true, &[0x41, 9, 9]), at(66));
        let o = a.push(pkt(3, 3000, true, &[0x41, 8, 8]), at(90));
        assert_eq!(o.frames.len(), 2);
        assert!(!o.request_keyframe);
    }

    #[test]
    fn flushing_gives_up_every_gap() {
        let mut a = Assembler::new(Codec::Opus);
        a.push(opus(1, 0), at(0));
        a.push(opus(3, 1920), at(40));
        assert_eq!(a.flush(at(41)).frames.len(), 2);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Packets as a hostile or broken sender might send them: sequence numbers and
        /// timestamps near each other (so frames do form) or anywhere, any payload.
        fn packets() -> impl Strategy<Value = Vec<(u16, u32, bool, Vec<u8>, u64)>> {
            prop::collection::vec(
                (
                    prop_oneof![0u16..40, any::<u16>()],
                    prop_oneof![(0u32..8).prop_map(|t| t * 3000), any::<u32>()],
                    any::<bool>(),
                    prop_oneof![
                        prop::collection::vec(any::<u8>(), 0..8),
                        prop::collection::vec(any::<u8>(), 0..1400),
                    ],
                    0u64..2000,
                ),
                0..80,
            )
        }

        proptest! {
            #[test]
            fn prop_any_packets_give_whole_frames_or_none(
                codec in prop_oneof![Just(Codec::H264), Just(Codec::Vp8), Just(Codec::Opus)],
                packets in packets(),
            ) {
                let mut a = Assembler::new(codec);
                let mut frames = Vec::new();
                for (seq, ts, marker, payload, ms) in packets {
                    let rtp = Rtp::new(96, seq, ts, marker, Bytes::from(payload));
                    frames.extend(a.push(rtp, at(ms)).frames);
                    frames.extend(a.poll(at(ms)).frames);
                    if let Some(deadline) = a.deadline() {
                        prop_assert!(deadline >= at(0));
                    }
                }
                frames.extend(a.flush(at(5000)).frames);
                for f in frames {
                    prop_assert!(!f.data.is_empty());
                    if codec == Codec::H264 {
                        prop_assert!(f.data.starts_with(&[0, 0, 0, 1]));
                    }
                }
            }
        }
    }
}
