//! The forwarding decisions, as pure code on the caller's clock (`forward.rs` drives them):
//! what one subscriber's leg does with each packet of the track it is fed ([`Forwarder`]),
//! when a publisher is asked for a keyframe ([`KeyframeGate`]) and when it is told the rate
//! its subscribers can take ([`LimitCadence`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::vocab::bitstream::Vp8Ids;

/// What a leg does with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Send it, numbered and timed on the leg's own continuous line. `replay_from`: a video
    /// leg starts on this packet's source here, at a keyframe; every packet of the source
    /// from this sequence number on that came before this one was dropped while the leg
    /// waited and must go too, those numbered before it first ([`Forwarder::mark_sent`]
    /// numbers them). They are the keyframe's frame's first packets when the packet that
    /// shows it is a keyframe is not its first, and any after it that overtook it (it came
    /// again after a loss).
    Send {
        seq: u16,
        timestamp: u32,
        replay_from: Option<u16>,
    },
    /// Drop it; `ask_keyframe`: the leg waits for a keyframe nobody has asked for yet.
    Drop { ask_keyframe: bool },
}

/// The source a leg forwards now: its SSRC and what maps its numbering onto the leg's.
#[derive(Debug, Clone, Copy)]
struct Source {
    ssrc: u32,
    seq_offset: u16,
    ts_offset: u32,
}

/// One subscriber's leg of a track. The subscriber sees one stream whatever feeds it: a
/// video leg starts at a keyframe's frame (a picture's middle is of no use to a decoder; the
/// frame's first packets may come before the one that shows it is a keyframe), and when
/// the source changes (a new SSRC: a publisher that came back, another layer) the new
/// source's sequence numbers and timestamps continue the leg's, its timestamps moved on by
/// the time that passed, again from a keyframe. Packets of a source the leg left are
/// dropped.
#[derive(Debug)]
pub(crate) struct Forwarder {
    video: bool,
    clock_rate: u32,
    source: Option<Source>,
    /// The SSRC forwarded before the current one.
    left: Option<u32>,
    /// The newest packet sent: its sequence number, timestamp, and when.
    last: Option<(u16, u32, Instant)>,
    /// The SSRC the leg is to forward (a simulcast track's layer): packets of others but the
    /// current source are dropped, and the leg moves to it at its next keyframe. `None`: any
    /// new source (a publisher that came back).
    target: Option<u32>,
    /// A keyframe was asked for while waiting for one: when.
    asked: Option<Instant>,
    /// While waiting: the frame in progress, its timestamp and first sequence number.
    frame: Option<(u32, u16)>,
    /// Where the leg's numbering moves against the current source's, oldest first: after
    /// each source sequence number, the packets are numbered on by the shift. Padding that
    /// was not sent (a sender probing its path: of no use to a subscriber, and a slow one's
    /// path would carry it instead of media) shifts them by -1, the leg's own packets sent
    /// after one ([`Self::insert`]) by their count.
    shifts: VecDeque<(u16, i16)>,
    /// The sum of `shifts`.
    shifted: i16,
    /// The newest sequence number of the current source sent or skipped.
    newest: Option<u16>,
    /// The current source is no longer forwarded while the leg waits for its target's
    /// keyframe ([`Self::leave_for`]).
    cut: bool,
    /// The current source's first sequence number sent, while its newest is near it: a
    /// packet older (a late retransmission of a frame before the leg started on it) would
    /// be numbered where the leg's packets before that start already were.
    start: Option<u16>,
    /// Nothing is forwarded (the subscriber switched the track off) after the frame in
    /// progress; switched on again, the leg goes on from a keyframe, numbered on.
    paused: bool,
    /// How many sources the leg has started on (the current one's number).
    sources: u32,
}

/// Shifts further back than this are folded into the source's offset.
const SHIFT_SPAN: i16 = 4096;

impl Forwarder {
    pub(crate) fn new(video: bool, clock_rate: u32) -> Forwarder {
        Forwarder {
            video,
            clock_rate,
            source: None,
            left: None,
            target: None,
            last: None,
            asked: None,
            frame: None,
            shifts: VecDeque::new(),
            shifted: 0,
            newest: None,
            cut: false,
            start: None,
            paused: false,
            sources: 0,
        }
    }

    /// Switches the leg off (nothing more is forwarded once the frame in progress is
    /// finished) or on again: its next source, whichever it is, starts at a keyframe and is
    /// numbered on from the last packet sent, timed on by the time that passed.
    pub(crate) fn set_paused(&mut self, paused: bool) {
        if self.paused && !paused {
            let target = self.target;
            self.source_replaced();
            self.target = target;
            self.cut = false;
        }
        self.paused = paused;
    }

    /// Whether the leg is switched off ([`Self::set_paused`]).
    pub(crate) fn paused(&self) -> bool {
        self.paused
    }

    /// A padding packet (no payload) of `ssrc`: whether it is left out. Padding that is
    /// the newest of the current source is, and the packets after it are numbered as if it
    /// never came; padding older than something sent goes as any packet ([`Self::on_packet`]),
    /// as numbers already given cannot move.
    pub(crate) fn skip_padding(&mut self, ssrc: u32, seq: u16) -> bool {
        if self.source.is_none_or(|s| s.ssrc != ssrc) {
            // Not forwarded anyway.
            return true;
        }
        if self.newest.is_some_and(|n| seq.wrapping_sub(n) as i16 <= 0) {
            return false;
        }
        self.shift(seq, -1);
        self.newest_is(seq);
        true
    }

    /// `count` packets of the leg's own go right after its packet numbered `after` (a probe
    /// of its path), when that is the newest it sent and its current source's newest: their
    /// sequence numbers and timestamp (the newest's: the same frame); else `None` (a
    /// retransmission that came late, skipped padding after it, a leg not started).
    pub(crate) fn insert(&mut self, after: u16, count: u16, now: Instant) -> Option<(u16, u32)> {
        let newest = self.newest?;
        let (last_seq, last_ts, _) = self.last?;
        if last_seq != after || self.map(newest, 0).0 != last_seq || count == 0 {
            return None;
        }
        self.shift(newest, count as i16);
        let first = last_seq.wrapping_add(1);
        self.last = Some((last_seq.wrapping_add(count), last_ts, now));
        Some((first, last_ts))
    }

    fn shift(&mut self, after: u16, by: i16) {
        self.shifts.push_back((after, by));
        self.shifted = self.shifted.wrapping_add(by);
    }

    /// `seq` is the current source's newest: shifts far behind it are folded into the
    /// source's offset (no packet that old is numbered again).
    fn newest_is(&mut self, seq: u16) {
        self.newest = Some(seq);
        if self
            .start
            .is_some_and(|start| seq.wrapping_sub(start) as i16 > SHIFT_SPAN)
        {
            self.start = None;
        }
        while let Some(&(old, by)) = self.shifts.front()
            && seq.wrapping_sub(old) as i16 > SHIFT_SPAN
        {
            self.shifts.pop_front();
            self.shifted = self.shifted.wrapping_sub(by);
            if let Some(source) = &mut self.source {
                source.seq_offset = source.seq_offset.wrapping_add(by as u16);
            }
        }
    }

    /// The leg is to forward `ssrc` from now on: it goes on with its current source until
    /// `ssrc`'s next keyframe, asking for one at `ssrc`'s first packet that is not (and again
    /// each second until one comes).
    pub(crate) fn target(&mut self, ssrc: u32) {
        if self.target != Some(ssrc) {
            self.target = Some(ssrc);
            self.asked = None;
            self.frame = None;
            self.cut = false;
        }
    }

    /// As [`Self::target`], but the current source is no longer forwarded meanwhile (after
    /// the frame in progress): a path too narrow for it would only queue what it sends
    /// still, ahead of the target's keyframe (the subscriber's picture stops at once, and
    /// starts again sooner).
    pub(crate) fn leave_for(&mut self, ssrc: u32) {
        self.target(ssrc);
        self.cut = self.current().is_some_and(|c| c != ssrc);
    }

    /// Whether the leg has stopped forwarding its current source for its target
    /// ([`Self::leave_for`]).
    pub(crate) fn leaving(&self) -> bool {
        self.cut
    }

    /// The SSRC the leg is to forward, if it was told one.
    pub(crate) fn wanted(&self) -> Option<u32> {
        self.target
    }

    /// The SSRC the leg forwards now, if it has started.
    pub(crate) fn current(&self) -> Option<u32> {
        self.source.map(|s| s.ssrc)
    }

    /// The current source's number: one more for each source the leg starts on (another
    /// SSRC, or the same one replaced).
    pub(crate) fn source_number(&self) -> u32 {
        self.sources
    }

    /// The leg goes on from `line`, where its section's last leg stopped (none: the first
    /// source keeps its own numbering): its first packet numbered next, timed on by the time
    /// that passed, so the section's receiver sees one RTP stream.
    pub(crate) fn after(mut self, line: Option<(u16, u32, Instant)>) -> Forwarder {
        self.last = line;
        self
    }

    /// The leg's newest packet: its sequence number, timestamp, and when it was sent (the
    /// line it was started `after` while it has sent nothing).
    pub(crate) fn last(&self) -> Option<(u16, u32, Instant)> {
        self.last
    }

    /// The track feeding the leg was replaced (its publisher came back): the next packet's
    /// source is a new one even with the same SSRC (a client that joined again keeps its
    /// SSRCs, not its numbering), numbered on from the leg's last packet, a video leg from a
    /// keyframe; no SSRC is held back as left, and no layer is its target any more.
    pub(crate) fn source_replaced(&mut self) {
        self.source = None;
        self.left = None;
        self.target = None;
        self.asked = None;
        self.frame = None;
        self.shifts.clear();
        self.shifted = 0;
        self.newest = None;
        self.start = None;
    }

    /// Numbers a packet of the current source as the leg does.
    pub(crate) fn map(&self, seq: u16, timestamp: u32) -> (u16, u32) {
        match self.source {
            Some(s) => {
                let before = |(k, _): &(u16, i16)| seq.wrapping_sub(*k) as i16 > 0;
                let shifted = match self.shifts.back() {
                    None => 0,
                    Some(k) if before(k) => self.shifted,
                    Some(_) => self
                        .shifts
                        .iter()
                        .take_while(|k| before(k))
                        .fold(0i16, |sum, (_, by)| sum.wrapping_add(*by)),
                };
                (
                    seq.wrapping_add(s.seq_offset).wrapping_add(shifted as u16),
                    timestamp.wrapping_add(s.ts_offset),
                )
            }
            None => (seq, timestamp),
        }
    }

    /// Decides on a packet of `ssrc`; `keyframe_start`: it is a keyframe's first packet.
    pub(crate) fn on_packet(
        &mut self,
        ssrc: u32,
        seq: u16,
        timestamp: u32,
        keyframe_start: bool,
        now: Instant,
    ) -> Verdict {
        if (self.cut || self.paused) && self.current() == Some(ssrc) {
            // The frame in progress is finished (its first packets are on their way, and of
            // no use without the rest); nothing after it goes.
            let (_, mapped) = self.map(seq, timestamp);
            if self.last.is_some_and(|(_, ts, _)| ts == mapped) {
                return self.send(seq, timestamp, None, now);
            }
            return Verdict::Drop {
                ask_keyframe: false,
            };
        }
        if self.paused {
            return Verdict::Drop {
                ask_keyframe: false,
            };
        }
        if self.source.is_none_or(|s| s.ssrc != ssrc) {
            let elsewhere = match self.target {
                Some(target) => target != ssrc,
                None => self.left == Some(ssrc),
            };
            if elsewhere {
                return Verdict::Drop {
                    ask_keyframe: false,
                };
            }
            if self.video && !keyframe_start {
                match &mut self.frame {
                    Some((ts, first)) if *ts == timestamp => {
                        if (first.wrapping_sub(seq) as i16) > 0 {
                            *first = seq;
                        }
                    }
                    frame => *frame = Some((timestamp, seq)),
                }
                // Asked again when the keyframe has not come within a while (the request
                // or the keyframe lost, or a publisher that ignored it).
                let ask = self
                    .asked
                    .is_none_or(|at| now.saturating_duration_since(at) >= ASK_AGAIN);
                if ask {
                    self.asked = Some(now);
                }
                return Verdict::Drop { ask_keyframe: ask };
            }
            let start = match self.frame.take() {
                Some((ts, first)) if ts == timestamp && (seq.wrapping_sub(first) as i16) > 0 => {
                    first
                }
                _ => seq,
            };
            let replay_from = self.video.then_some(start);
            let (seq_offset, ts_offset) = match self.last {
                // The first source keeps its own numbering.
                None => (0, 0),
                Some((last_seq, last_ts, at)) => {
                    let elapsed = now.saturating_duration_since(at).as_secs_f64();
                    let gap = ((elapsed * f64::from(self.clock_rate)) as u32).max(1);
                    (
                        last_seq.wrapping_add(1).wrapping_sub(start),
                        last_ts.wrapping_add(gap).wrapping_sub(timestamp),
                    )
                }
            };
            self.left = self.source.map(|s| s.ssrc);
            self.sources = self.sources.wrapping_add(1);
            self.source = Some(Source {
                ssrc,
                seq_offset,
                ts_offset,
            });
            self.shifts.clear();
            self.shifted = 0;
            self.newest = None;
            self.asked = None;
            self.cut = false;
            self.start = Some(start);
            return self.send(seq, timestamp, replay_from, now);
        }
        if self
            .start
            .is_some_and(|start| (seq.wrapping_sub(start) as i16) < 0)
        {
            return Verdict::Drop {
                ask_keyframe: false,
            };
        }
        self.send(seq, timestamp, None, now)
    }

    /// A packet of the current source sent now (one replayed as [`Verdict::Send`]'s
    /// `replay_from` said, or the one decided on): its sequence number and timestamp on the
    /// leg's line, which moves past it when it is the newest.
    pub(crate) fn mark_sent(&mut self, seq: u16, timestamp: u32, now: Instant) -> (u16, u32) {
        if self.newest.is_none_or(|n| seq.wrapping_sub(n) as i16 > 0) {
            self.newest_is(seq);
        }
        let (seq, timestamp) = self.map(seq, timestamp);
        if self
            .last
            .is_none_or(|(last, _, _)| seq.wrapping_sub(last) as i16 > 0)
        {
            self.last = Some((seq, timestamp, now));
        }
        (seq, timestamp)
    }

    fn send(
        &mut self,
        seq: u16,
        timestamp: u32,
        replay_from: Option<u16>,
        now: Instant,
    ) -> Verdict {
        let (seq, timestamp) = self.mark_sent(seq, timestamp, now);
        Verdict::Send {
            seq,
            timestamp,
            replay_from,
        }
    }
}

/// A VP8 leg's picture numbering (RFC 7741's PictureID and TL0PICIDX) on one line across
/// its sources, as [`Forwarder`] keeps its sequence numbers: a new source's ids are moved on
/// from the newest the leg sent, so a receiver that follows them (libwebrtc's reference
/// finder) sees the next picture after the last, not a jump to another layer's own count.
/// The first source keeps its own ids.
#[derive(Debug, Default)]
pub(crate) struct PictureIds {
    /// The source (its [`Forwarder::source_number`]) the lines are moved for.
    source: Option<u32>,
    picture: IdLine,
    tl0: IdLine,
}

/// One id's line: what is added to the source's ids (mod their range), set at the
/// source's first id, and the newest id sent.
#[derive(Debug, Default)]
struct IdLine {
    offset: Option<u16>,
    newest: Option<u16>,
}

impl IdLine {
    /// `id` (of `range` values) on the leg's line.
    fn map(&mut self, id: u16, range: u16) -> u16 {
        let offset = *self.offset.get_or_insert_with(|| match self.newest {
            Some(newest) => newest.wrapping_add(1).wrapping_sub(id) % range,
            None => 0,
        });
        // Ranges divide 2^16: wrapping arithmetic is arithmetic modulo each.
        let out = id.wrapping_add(offset) % range;
        let ahead = |n: u16| out.wrapping_sub(n) % range;
        if self
            .newest
            .is_none_or(|n| (1..range / 2).contains(&ahead(n)))
        {
            self.newest = Some(out);
        }
        out
    }
}

impl PictureIds {
    /// `payload` (a VP8 packet the leg sends of its source numbered `source`) with its ids
    /// on the leg's line; `None` when it goes as it is (the same ids, or no descriptor).
    pub(crate) fn rewrite(&mut self, source: u32, payload: &Bytes) -> Option<Bytes> {
        let ids = Vp8Ids::find(payload)?;
        if self.source != Some(source) {
            self.source = Some(source);
            self.picture.offset = None;
            self.tl0.offset = None;
        }
        let picture = ids
            .picture(payload)
            .map(|(id, range)| (id, self.picture.map(id, range)));
        let tl0 = ids
            .tl0
            .map(|at| (payload[at], self.tl0.map(payload[at].into(), 256) as u8));
        if picture.is_none_or(|(a, b)| a == b) && tl0.is_none_or(|(a, b)| a == b) {
            return None;
        }
        let mut out = BytesMut::from(&payload[..]);
        if let Some((_, id)) = picture {
            ids.set_picture(&mut out, id);
        }
        if let (Some(at), Some((_, id))) = (ids.tl0, tl0) {
            out[at] = id;
        }
        Some(out.freeze())
    }
}

/// A leg waiting for a keyframe asks again after this long.
const ASK_AGAIN: Duration = Duration::from_secs(1);

/// Keyframe requests to a publisher are merged within this window.
const KEYFRAME_REQUEST_GAP: Duration = Duration::from_millis(300);

/// When a publisher is asked for a keyframe: not again while one asked for within
/// [`KEYFRAME_REQUEST_GAP`] has not gone out (every leg attached by then gets that one); a
/// keyframe that has gone out does not hold back a new request.
#[derive(Debug, Default)]
pub(crate) struct KeyframeGate {
    asked: Option<Instant>,
    pending: bool,
}

impl KeyframeGate {
    /// Whether to ask now (and it counts as asked).
    pub(crate) fn ask(&mut self, now: Instant) -> bool {
        if self.pending
            && self
                .asked
                .is_some_and(|at| now.saturating_duration_since(at) < KEYFRAME_REQUEST_GAP)
        {
            return false;
        }
        self.asked = Some(now);
        self.pending = true;
        true
    }

    /// A keyframe went out.
    pub(crate) fn keyframe_sent(&mut self) {
        self.pending = false;
    }
}

/// The shortest time between two subscribers' keyframe requests that go on to a track's
/// publisher.
pub(crate) const SUBSCRIBER_ASK_GAP: Duration = Duration::from_millis(500);

/// Subscribers' keyframe requests (PLI, FIR) for one track: the first goes through, then at
/// most one per [`SUBSCRIBER_ASK_GAP`] since the last that went through; the rest are
/// dropped. A subscriber flooding requests (over one subscription or many) would otherwise
/// have the publisher send keyframe after keyframe, which every subscriber pays for. A new
/// subscription's own request for its first picture does not pass through here.
#[derive(Debug, Default)]
pub(crate) struct AskThrottle {
    passed: Option<Instant>,
}

impl AskThrottle {
    /// Whether a request at `now` goes on to the hub.
    pub(crate) fn pass(&mut self, now: Instant) -> bool {
        if self
            .passed
            .is_some_and(|at| now.saturating_duration_since(at) < SUBSCRIBER_ASK_GAP)
        {
            return false;
        }
        self.passed = Some(now);
        true
    }
}

/// How often the rate a publisher's subscribers can take is looked at.
pub(crate) const LIMIT_INTERVAL: Duration = Duration::from_millis(50);
/// How often a simulcast track's legs' layers are looked at (each leg's subscriber reports
/// what arrived every 50 ms).
pub(crate) const LAYER_INTERVAL: Duration = Duration::from_millis(10);
/// How long a bottleneck a subscriber's feedback showed stays news to its legs' layers.
pub(crate) const BOTTLENECK_NEWS: Duration = Duration::from_millis(150);
/// A publisher is told (REMB) when that rate moved by more than this share, and at least
/// every LIMIT_REPEAT (as Janus does).
const LIMIT_CHANGE: f64 = 0.1;
const LIMIT_REPEAT: Duration = Duration::from_secs(1);

/// When a publisher is told the rate its subscribers can take.
#[derive(Debug, Default)]
pub(crate) struct LimitCadence {
    told: Option<(Instant, f64)>,
}

impl LimitCadence {
    /// Whether to tell `bps` now (and it counts as told).
    pub(crate) fn due(&mut self, bps: f64, now: Instant) -> bool {
        let due = self.told.is_none_or(|(at, last)| {
            now.saturating_duration_since(at) >= LIMIT_REPEAT
                || (bps - last).abs() > LIMIT_CHANGE * last
        });
        if due {
            self.told = Some((now, bps));
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscribers_requests_pass_at_most_once_per_gap() {
        let t0 = Instant::now();
        let mut throttle = AskThrottle::default();
        // A flood: one request a millisecond for two seconds.
        let passed: Vec<u64> = (0..2000).filter(|&n| throttle.pass(ms(t0, n))).collect();
        assert_eq!(passed, vec![0, 500, 1000, 1500]);
        // After a quiet while, the next request passes at once.
        assert!(throttle.pass(ms(t0, 5000)));
    }

    fn ms(t: Instant, n: u64) -> Instant {
        t + Duration::from_millis(n)
    }

    /// A packet sent: its number and time on the leg's line (a video leg's start says
    /// where its replay begins: tested apart).
    fn sent(v: Verdict) -> (u16, u32) {
        match v {
            Verdict::Send { seq, timestamp, .. } => (seq, timestamp),
            other => panic!("not sent: {other:?}"),
        }
    }

    #[test]
    fn a_video_leg_starts_at_a_keyframe_and_asks_for_one_once() {
        let t = Instant::now();
        let mut f = Forwarder::new(true, 90_000);
        assert_eq!(
            f.on_packet(1, 100, 9000, false, t),
            Verdict::Drop { ask_keyframe: true }
        );
        assert_eq!(
            f.on_packet(1, 101, 9000, false, t),
            Verdict::Drop {
                ask_keyframe: false
            }
        );
        // The first source keeps its numbering, from the keyframe on.
        assert_eq!(sent(f.on_packet(1, 102, 12_000, true, t)), (102, 12_000));
        assert_eq!(sent(f.on_packet(1, 103, 12_000, false, t)), (103, 12_000));
    }

    #[test]
    fn a_keyframe_frame_whose_first_packets_came_before_is_sent_from_its_start() {
        // A frame's first packet (an SEI, say) does not show it is a keyframe; the next does.
        let t = Instant::now();
        let mut f = Forwarder::new(true, 90_000);
        f.on_packet(1, 10, 3000, false, t);
        f.on_packet(1, 12, 6000, false, t);
        f.on_packet(1, 11, 6000, false, t); // reordered: the frame starts at 11
        assert_eq!(
            f.on_packet(1, 13, 6000, true, t),
            Verdict::Send {
                seq: 13,
                timestamp: 6000,
                replay_from: Some(11)
            }
        );
        assert_eq!(f.map(11, 6000), (11, 6000));
        // After a source change the replayed packets come first on the leg's line.
        let later = ms(t, 1000);
        f.on_packet(2, 500, 1, false, later);
        let Verdict::Send {
            seq, replay_from, ..
        } = f.on_packet(2, 501, 1, true, later)
        else {
            panic!("the keyframe is sent");
        };
        assert_eq!(replay_from, Some(500));
        assert_eq!(
            f.map(500, 1).0,
            14,
            "the frame's first packet follows the last sent"
        );
        assert_eq!(seq, 15);
    }

    #[test]
    fn a_video_leg_replays_what_overtook_its_keyframe_and_numbers_on_after_it() {
        // The keyframe's first packet (20) was lost on the way in: 21 and 22 overtook its
        // copy while the leg waited.
        let t = Instant::now();
        let mut f = Forwarder::new(true, 90_000);
        f.on_packet(1, 21, 6000, false, t);
        f.on_packet(1, 22, 6000, false, t);
        assert_eq!(
            f.on_packet(1, 20, 6000, true, t),
            Verdict::Send {
                seq: 20,
                timestamp: 6000,
                replay_from: Some(20)
            }
        );
        assert_eq!(f.mark_sent(21, 6000, t), (21, 6000));
        assert_eq!(f.mark_sent(22, 6000, t), (22, 6000));
        // The leg's line is past them: its own packets go after the newest replayed.
        assert_eq!(f.insert(22, 2, t), Some((23, 6000)));
        assert_eq!(sent(f.on_packet(1, 23, 9000, false, t)), (25, 9000));
    }

    #[test]
    fn an_audio_leg_starts_at_once() {
        let t = Instant::now();
        let mut f = Forwarder::new(false, 48_000);
        assert_eq!(sent(f.on_packet(5, 7, 960, false, t)), (7, 960));
    }

    #[test]
    fn a_new_source_continues_the_legs_numbering_and_time_from_its_keyframe() {
        let t = Instant::now();
        let mut f = Forwarder::new(true, 90_000);
        for (i, seq) in (65_530u16..=65_535).enumerate() {
            let key = i == 0;
            f.on_packet(1, seq, 90_000 + 3000 * i as u32, key, ms(t, 33 * i as u64));
        }
        // The publisher comes back 2 s later with a new SSRC and numbering of its own.
        let back = ms(t, 5 * 33 + 2000);
        assert_eq!(
            f.on_packet(2, 40, 7, false, back),
            Verdict::Drop { ask_keyframe: true }
        );
        let Verdict::Send {
            seq,
            timestamp: ts,
            replay_from: Some(40),
        } = f.on_packet(2, 41, 7, true, back)
        else {
            panic!("sent from the frame's first packet");
        };
        assert_eq!(f.map(40, 7).0, 0, "continues after 65535 with no gap");
        assert_eq!(seq, 1);
        assert_eq!(ts, 90_000 + 5 * 3000 + 2000 * 90);
        assert_eq!(
            sent(f.on_packet(2, 42, 3007, false, ms(back, 33))),
            (2, ts + 3000)
        );
        // A late packet of the source it left is dropped, not switched back to.
        assert_eq!(
            f.on_packet(1, 65_534, 105_000, true, ms(back, 40)),
            Verdict::Drop {
                ask_keyframe: false
            }
        );
        // Retransmissions of the current source keep its mapping.
        assert_eq!(sent(f.on_packet(2, 41, 7, true, ms(back, 50))), (seq, ts));
    }

    #[test]
    fn a_leg_that_leaves_its_layer_at_once_sends_nothing_until_the_targets_keyframe() {
        let t = Instant::now();
        let mut f = Forwarder::new(true, 90_000);
        assert_eq!(sent(f.on_packet(1, 10, 0, true, t)), (10, 0));
        assert_eq!(sent(f.on_packet(1, 11, 3000, false, ms(t, 33))), (11, 3000));
        // Told to go to layer 2 and to stop forwarding layer 1 meanwhile: the frame in
        // progress is finished, nothing after it goes.
        f.leave_for(2);
        assert_eq!(sent(f.on_packet(1, 12, 3000, false, ms(t, 40))), (12, 3000));
        assert_eq!(
            f.on_packet(1, 13, 6000, false, ms(t, 66)),
            Verdict::Drop {
                ask_keyframe: false
            }
        );
        assert_eq!(
            f.on_packet(2, 500, 6000, false, ms(t, 70)),
            Verdict::Drop { ask_keyframe: true }
        );
        // The target's keyframe goes on right after the last packet sent.
        let (seq, _) = sent(f.on_packet(2, 501, 9000, true, ms(t, 100)));
        assert_eq!(seq, 13);
        assert_eq!(f.current(), Some(2));
        assert_eq!(sent(f.on_packet(2, 502, 9000, false, ms(t, 101))).0, 14);
        // Back to a layer it is on: nothing is cut.
        f.leave_for(2);
        assert_eq!(sent(f.on_packet(2, 503, 12_000, false, ms(t, 133))).0, 15);
    }

    #[test]
    fn a_leg_switched_off_finishes_its_frame_and_goes_on_from_a_keyframe_when_on_again() {
        let t = Instant::now();
        let mut f = Forwarder::new(true, 90_000);
        f.target(1);
        assert_eq!(sent(f.on_packet(1, 10, 0, true, t)), (10, 0));
        assert_eq!(sent(f.on_packet(1, 11, 3000, false, ms(t, 33))), (11, 3000));
        f.set_paused(true);
        // The frame in progress is finished; nothing after it goes, and no keyframe is
        // asked for.
        assert_eq!(sent(f.on_packet(1, 12, 3000, false, ms(t, 40))), (12, 3000));
        for (i, seq) in (13..40).enumerate() {
            let ts = 6000 + 3000 * i as u32;
            assert_eq!(
                f.on_packet(1, seq, ts, seq == 20, ms(t, 66 + 33 * i as u64)),
                Verdict::Drop {
                    ask_keyframe: false
                }
            );
        }
        // Switched on a second later: a keyframe is asked for, and the target's goes on
        // right after the last packet sent, its time moved on by the time that passed.
        f.set_paused(false);
        let on = ms(t, 1040);
        assert_eq!(
            f.on_packet(1, 40, 90_000, false, on),
            Verdict::Drop { ask_keyframe: true }
        );
        assert_eq!(
            f.on_packet(2, 900, 5, true, on),
            Verdict::Drop {
                ask_keyframe: false
            }
        );
        assert_eq!(
            sent(f.on_packet(1, 41, 93_000, true, ms(on, 10))),
            (13, 3000 + 1010 * 90)
        );
        assert_eq!(sent(f.on_packet(1, 42, 93_000, false, ms(on, 11))).0, 14);
        // A late retransmission of a frame from before it was on again: not numbered again.
        assert_eq!(
            f.on_packet(1, 30, 57_000, false, ms(on, 12)),
            Verdict::Drop {
                ask_keyframe: false
            }
        );
        // Switching on a leg that is on changes nothing.
        f.set_paused(false);
        assert_eq!(sent(f.on_packet(1, 43, 96_000, false, ms(on, 43))).0, 15);
    }

    #[test]
    fn a_replaced_track_with_the_same_ssrc_is_a_new_source_from_its_keyframe() {
        let t = Instant::now();
        let mut f = Forwarder::new(true, 90_000);
        f.on_packet(1, 100, 9000, true, t);
        f.on_packet(1, 101, 12_000, false, ms(t, 33));
        // The same client back on a new connection: same SSRC, new numbering, and an
        // encoder whose next frames refer to pictures the leg never got.
        f.source_replaced();
        let back = ms(t, 1033);
        assert_eq!(
            f.on_packet(1, 5000, 500, false, back),
            Verdict::Drop { ask_keyframe: true }
        );
        assert_eq!(
            sent(f.on_packet(1, 5001, 3500, true, back)),
            (102, 12_000 + 1000 * 90)
        );
        assert_eq!(
            sent(f.on_packet(1, 5002, 6500, false, ms(back, 33))),
            (103, 12_000 + 1000 * 90 + 3000)
        );
    }

    #[test]
    fn a_leg_in_a_reused_section_numbers_on_from_the_last_legs_line() {
        let t = Instant::now();
        // The section's last leg sent 65535 at timestamp 4_294_967_000, a second ago.
        let mut f = Forwarder::new(true, 90_000).after(Some((65_535, 4_294_967_000, t)));
        let now = ms(t, 1000);
        assert_eq!(
            f.on_packet(7, 300, 123, false, now),
            Verdict::Drop { ask_keyframe: true }
        );
        assert_eq!(
            sent(f.on_packet(7, 301, 3123, true, now)),
            (0, 4_294_967_000u32.wrapping_add(90_000))
        );
        assert_eq!(
            sent(f.on_packet(7, 302, 6123, false, ms(now, 33))),
            (1, 4_294_967_000u32.wrapping_add(93_000))
        );
        // An audio leg without a line keeps its source's numbering.
        let mut a = Forwarder::new(false, 48_000).after(None);
        assert_eq!(sent(a.on_packet(9, 40, 960, false, t)), (40, 960));
    }

    #[test]
    fn a_late_retransmission_does_not_set_a_legs_line_back() {
        let t = Instant::now();
        let mut f = Forwarder::new(false, 48_000);
        assert!(f.last().is_none());
        f.on_packet(3, 65_534, 1000, false, t);
        f.on_packet(3, 65_535, 4000, false, t);
        f.on_packet(3, 0, 7000, false, ms(t, 33));
        // A retransmission of 65,535, forwarded after 0: the line stays at 0.
        f.on_packet(3, 65_535, 4000, false, ms(t, 50));
        let (seq, ts, at) = f.last().expect("a line");
        assert_eq!((seq, ts), (0, 7000));
        assert_eq!(at.duration_since(t), Duration::from_millis(33));
        // A section's line handed to a new leg is kept as it was.
        let (seq, ts, _) = Forwarder::new(true, 90_000)
            .after(Some((9, 99, t)))
            .last()
            .expect("a line");
        assert_eq!((seq, ts), (9, 99));
    }

    #[test]
    fn padding_is_left_out_and_the_packets_after_it_close_the_gap() {
        let t = Instant::now();
        let mut f = Forwarder::new(true, 90_000);
        assert_eq!(sent(f.on_packet(1, 10, 3000, true, t)), (10, 3000));
        // Padding before the leg started on a source is not forwarded either.
        assert!(f.skip_padding(2, 500));
        // Two probes after 10: left out; 13 goes as 11.
        assert!(f.skip_padding(1, 11));
        assert!(f.skip_padding(1, 12));
        assert_eq!(sent(f.on_packet(1, 13, 6000, false, t)), (11, 6000));
        // A retransmission of 10, late, keeps its number; one after the probes too.
        assert_eq!(sent(f.on_packet(1, 10, 3000, true, t)), (10, 3000));
        assert_eq!(sent(f.on_packet(1, 13, 6000, false, t)), (11, 6000));
        // Padding older than what was sent cannot be left out: it goes as a packet.
        assert!(!f.skip_padding(1, 12));
        // Far past the probes (past the wrap): still one number apart per probe.
        for seq in 14..=u16::MAX {
            f.on_packet(1, seq, 9000, false, t);
        }
        assert_eq!(sent(f.on_packet(1, 2, 9000, false, t)), (0, 9000));
        assert!(f.skip_padding(1, 3));
        assert_eq!(sent(f.on_packet(1, 4, 9000, false, t)), (1, 9000));
    }

    #[test]
    fn packets_of_the_legs_own_go_after_its_newest_and_the_source_numbers_on_after_them() {
        let t = Instant::now();
        let mut f = Forwarder::new(true, 90_000);
        // Nothing sent yet: nothing to go after.
        assert_eq!(f.insert(0, 3, t), None);
        assert_eq!(sent(f.on_packet(1, 10, 3000, true, t)), (10, 3000));
        assert_eq!(sent(f.on_packet(1, 11, 3000, false, t)), (11, 3000));
        // Three after 11, in its frame; 12 goes as 15.
        assert_eq!(f.insert(11, 3, t), Some((12, 3000)));
        assert_eq!(sent(f.on_packet(1, 12, 6000, true, t)), (15, 6000));
        // A late retransmission of 11 keeps its number, and nothing goes after it.
        assert_eq!(sent(f.on_packet(1, 11, 3000, false, t)), (11, 3000));
        assert_eq!(f.insert(11, 3, t), None);
        // With skipped padding between: both count.
        assert!(f.skip_padding(1, 13));
        assert_eq!(sent(f.on_packet(1, 14, 9000, false, t)), (16, 9000));
        assert_eq!(f.insert(16, 2, t), Some((17, 9000)));
        assert_eq!(sent(f.on_packet(1, 15, 12_000, false, t)), (19, 12_000));
        // Newest skipped padding: its place is not the leg's newest.
        assert!(f.skip_padding(1, 16));
        assert_eq!(f.insert(19, 2, t), None);
        // Far past (past the wrap): the shifts are folded into the offset.
        for seq in 17..=u16::MAX {
            f.on_packet(1, seq, 15_000, false, t);
        }
        assert_eq!(sent(f.on_packet(1, 2, 15_000, false, t)), (5, 15_000));
    }

    #[test]
    fn keyframe_requests_are_merged_until_the_keyframe_goes_out() {
        let t = Instant::now();
        let mut g = KeyframeGate::default();
        assert!(g.ask(t));
        assert!(!g.ask(ms(t, 100)), "merged with the one on its way");
        assert!(g.ask(ms(t, 300)), "asked again once the window has passed");
        g.keyframe_sent();
        assert!(
            g.ask(ms(t, 310)),
            "a keyframe that went out holds nothing back"
        );
    }

    #[test]
    fn the_publisher_is_told_on_a_change_or_every_second() {
        let t = Instant::now();
        let mut c = LimitCadence::default();
        assert!(c.due(1_000_000.0, t));
        assert!(!c.due(1_050_000.0, ms(t, 50)), "a 5 % move is not news");
        assert!(c.due(880_000.0, ms(t, 100)), "a 12 % drop is");
        assert!(!c.due(880_000.0, ms(t, 1050)));
        assert!(c.due(880_000.0, ms(t, 1100)), "repeated every second");
    }

    /// A VP8 payload: a 15-bit PictureID, a TL0PICIDX, one byte of frame.
    fn vp8(picture: u16, tl0: u8) -> Bytes {
        let [hi, lo] = (picture | 0x8000).to_be_bytes();
        Bytes::from(vec![0x90, 0xc0, hi, lo, tl0, 0x9d])
    }

    fn ids(payload: &Bytes) -> (u16, u8) {
        (
            u16::from_be_bytes([payload[2], payload[3]]) & 0x7fff,
            payload[4],
        )
    }

    #[test]
    fn a_vp8_legs_picture_ids_go_on_from_the_last_sent_when_its_source_changes() {
        let mut p = PictureIds::default();
        // The first source keeps its own ids.
        assert_eq!(p.rewrite(1, &vp8(32_766, 9)), None);
        assert_eq!(p.rewrite(1, &vp8(32_767, 10)), None);
        // Another layer, far from them: the next ids, and its own later on that line.
        let moved = |p: &mut PictureIds, source, picture, tl0| {
            ids(&p.rewrite(source, &vp8(picture, tl0)).expect("moved"))
        };
        assert_eq!(moved(&mut p, 2, 500, 200), (0, 11));
        assert_eq!(moved(&mut p, 2, 501, 201), (1, 12));
        // An older packet of it (a retransmission) is moved as much, and is not the newest.
        assert_eq!(moved(&mut p, 2, 499, 199), (32_767, 10));
        // Back to the first layer (a new source number): after the newest, 1 and 12.
        assert_eq!(moved(&mut p, 3, 40, 250), (2, 13));
        // The rest of the payload is untouched; no descriptor, nothing to do.
        assert_eq!(p.rewrite(3, &vp8(41, 251)).unwrap()[5], 0x9d);
        assert_eq!(p.rewrite(3, &Bytes::from_static(&[0x10, 0x9d])), None);
        assert_eq!(p.rewrite(3, &Bytes::new()), None);
    }

    #[test]
    fn seven_bit_picture_ids_wrap_in_their_width() {
        let mut p = PictureIds::default();
        assert_eq!(
            p.rewrite(1, &Bytes::from_static(&[0x90, 0x80, 0x7e, 0])),
            None
        );
        let out = p.rewrite(2, &Bytes::from_static(&[0x90, 0x80, 0x10, 0]));
        assert_eq!(out.as_deref(), Some(&[0x90, 0x80, 0x7f, 0][..]));
        let out = p.rewrite(2, &Bytes::from_static(&[0x90, 0x80, 0x11, 0]));
        assert_eq!(out.as_deref(), Some(&[0x90, 0x80, 0x00, 0][..]));
    }

    proptest::proptest! {
        /// Payloads from any sender: rewritten or left, never a panic; a rewrite changes
        /// nothing but the ids.
        #[test]
        fn prop_picture_ids_take_any_payload(
            payloads in proptest::collection::vec(
                (0u32..3, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8)),
                0..20,
            ),
        ) {
            let mut p = PictureIds::default();
            for (source, payload) in payloads {
                let payload = Bytes::from(payload);
                if let Some(out) = p.rewrite(source, &payload) {
                    proptest::prop_assert_eq!(out.len(), payload.len());
                    let len = crate::vocab::bitstream::vp8_descriptor_len(&payload).unwrap();
                    proptest::prop_assert_eq!(&out[len..], &payload[len..]);
                    proptest::prop_assert_eq!(out[0], payload[0]);
                }
            }
        }
    }
}
