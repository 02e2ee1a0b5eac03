//! What a load test knows of one subscribed stream without decoding it (pure: fed packets
//! and the time): whose frames they are, which arrived whole, in what order, how late after
//! their capture, and the longest wait between two — from the [`LoadMark`] its publisher put
//! in front of every frame and the RTP sequence numbers.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::client::measure::Latencies;
use crate::vocab::bitstream::LoadMark;

/// Sequence numbers remembered for duplicates (a retransmission of one already here).
const SEEN_WINDOW: u64 = 4096;
/// Frames being assembled at once; older ones are given up (their numbers count as lost).
const MAX_PENDING: usize = 256;
/// How long a frame may take to arrive whole (retransmissions included).
const PENDING_LIMIT: Duration = Duration::from_secs(3);

/// RTP sequence numbers extended past their wrap, with duplicates and losses counted.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sequence {
    highest: Option<u64>,
    first: u64,
    /// Packets received once (duplicates not counted).
    pub(crate) received: u64,
    pub(crate) duplicates: u64,
    seen: Vec<u64>,
    /// Packets in a row too old to tell: a sender that jumped its numbers far back.
    too_old: u32,
}

/// Packets in a row far behind the highest number before the numbering starts over from
/// them (a sender that restarted, or jumped by more than half the number space).
const RESYNC_AFTER: u32 = 64;

impl Sequence {
    /// The extended number of `seq`, and whether it is new (not a duplicate).
    pub(crate) fn push(&mut self, seq: u16) -> (u64, bool) {
        if self.seen.is_empty() {
            self.seen = vec![0; (SEEN_WINDOW / 64) as usize];
        }
        let e = match self.highest {
            // Room below the first for packets that were overtaken by it.
            None => u64::from(seq) + (1 << 16),
            Some(h) => h.saturating_add_signed(i64::from(seq.wrapping_sub(h as u16) as i16)),
        };
        let h = *self.highest.get_or_insert(e);
        if self.received == 0 {
            self.first = e;
        }
        if e + SEEN_WINDOW <= h {
            // Too old to tell: not counted as news, unless it goes on.
            self.too_old += 1;
            if self.too_old < RESYNC_AFTER {
                self.duplicates += 1;
                return (e, false);
            }
            // The count so far stays; the numbering starts again from here.
            let (received, duplicates) = (self.received, self.duplicates);
            let lost = self.lost();
            *self = Sequence::default();
            let (e, new) = self.push(seq);
            self.received += received;
            self.duplicates += duplicates;
            self.first = self.first.saturating_sub(lost + received);
            return (e, new);
        }
        self.too_old = 0;
        if e > h {
            // Numbers entering the window were last used a window ago.
            for n in (h + 1).max(e + 1 - SEEN_WINDOW)..=e {
                self.seen[(n % SEEN_WINDOW / 64) as usize] &= !(1 << (n % 64));
            }
            self.highest = Some(e);
        }
        self.first = self.first.min(e);
        let (word, bit) = ((e % SEEN_WINDOW / 64) as usize, e % 64);
        if self.seen[word] & (1 << bit) != 0 {
            self.duplicates += 1;
            return (e, false);
        }
        self.seen[word] |= 1 << bit;
        self.received += 1;
        (e, true)
    }

    /// Packets sent in the range seen that never arrived.
    pub(crate) fn lost(&self) -> u64 {
        self.highest
            .map_or(0, |h| (h - self.first + 1).saturating_sub(self.received))
    }
}

#[derive(Debug, Default)]
struct Pending {
    mark: Option<LoadMark>,
    /// The extended numbers of its first (the mark's) and last (marker bit) packets.
    first: Option<u64>,
    last: Option<u64>,
    got: u64,
    since: Option<Instant>,
}

/// The wall clock (Unix µs, which marks carry: every shard of a run on every machine
/// reads it) as of a monotonic instant, so that one reading of it serves the whole run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    pub(crate) epoch: Instant,
    pub(crate) unix_us: u64,
}

impl Clock {
    pub(crate) fn now() -> Clock {
        let unix_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        Clock {
            epoch: Instant::now(),
            unix_us,
        }
    }

    /// `at` on the wall clock, µs.
    pub(crate) fn unix_us(&self, at: Instant) -> u64 {
        self.unix_us + at.saturating_duration_since(self.epoch).as_micros() as u64
    }
}

/// One subscribed video stream as the load test checks it.
#[derive(Debug)]
pub(crate) struct VideoCheck {
    /// The publisher whose frames it must carry.
    expected: u32,
    /// Marks' capture times are on its wall clock.
    clock: Clock,
    /// When the subscription was asked for.
    asked: Instant,
    pub(crate) seq: Sequence,
    pending: BTreeMap<u32, Pending>,
    pub(crate) figures: Figures,
    last_frame: Option<(u32, Instant)>,
}

/// What one stream showed, as reports and verdicts read it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Figures {
    /// Frames that arrived whole.
    pub(crate) frames: u64,
    /// Frame numbers, from the first whole one to the highest, that never arrived whole.
    pub(crate) frames_lost: u64,
    /// Whole frames that came after a later-numbered one.
    pub(crate) out_of_order: u64,
    /// Frames of another publisher than the one subscribed to, and one of theirs.
    pub(crate) wrong: u64,
    pub(crate) wrong_publisher: Option<u32>,
    /// Capture to arrival, ms, every whole frame.
    pub(crate) latency: Latencies,
    /// The longest wait between two whole frames (from the subscription to the first).
    pub(crate) freeze_max_ms: f64,
    /// From the subscription to the first whole frame.
    pub(crate) first_frame_ms: Option<f64>,
    /// RTP packets received and lost (filled in by `figures_at`, from the sequence).
    pub(crate) packets: u64,
    pub(crate) packets_lost: u64,
    first_number: Option<u32>,
    highest_number: Option<u32>,
}

impl VideoCheck {
    pub(crate) fn new(expected: u32, clock: Clock, asked: Instant) -> VideoCheck {
        VideoCheck {
            expected,
            clock,
            asked,
            seq: Sequence::default(),
            pending: BTreeMap::new(),
            figures: Figures::default(),
            last_frame: None,
        }
    }

    /// One RTP packet of the stream, arrived at `now`.
    pub(crate) fn packet(&mut self, seq: u16, ts: u32, marker: bool, payload: &[u8], now: Instant) {
        let (e, new) = self.seq.push(seq);
        if !new {
            return;
        }
        let p = self.pending.entry(ts).or_default();
        p.since.get_or_insert(now);
        p.got += 1;
        if let Some(mark) = LoadMark::in_rtp(payload) {
            p.mark = Some(mark);
            p.first = Some(e);
        }
        if marker {
            p.last = Some(e);
        }
        if let (Some(mark), Some(first), Some(last)) = (p.mark, p.first, p.last)
            && last >= first
            && p.got == last - first + 1
        {
            self.pending.remove(&ts);
            self.whole(mark, now);
            // Frames given up are looked for once a frame, not once a packet.
            self.expire(now);
        } else if self.pending.len() > MAX_PENDING {
            self.expire(now);
        }
    }

    fn whole(&mut self, mark: LoadMark, now: Instant) {
        let f = &mut self.figures;
        if mark.publisher != self.expected {
            f.wrong += 1;
            f.wrong_publisher.get_or_insert(mark.publisher);
            return;
        }
        f.frames += 1;
        // Negative when another machine's clock runs ahead of this one's.
        let late_us = i128::from(self.clock.unix_us(now)) - i128::from(mark.captured_us);
        f.latency.push(late_us as f64 / 1000.0);
        let since = self.last_frame.map_or(self.asked, |(_, at)| at);
        f.freeze_max_ms = f
            .freeze_max_ms
            .max(now.saturating_duration_since(since).as_secs_f64() * 1000.0);
        if f.first_frame_ms.is_none() {
            f.first_frame_ms =
                Some(now.saturating_duration_since(self.asked).as_secs_f64() * 1000.0);
            // The first whole frame's wait is the first frame's, not a freeze.
            f.freeze_max_ms = 0.0;
        }
        let first = f.first_number.map_or(mark.frame, |n| n.min(mark.frame));
        f.first_number = Some(first);
        match f.highest_number {
            Some(h) if mark.frame < h => f.out_of_order += 1,
            _ => f.highest_number = Some(mark.frame),
        }
        let h = f.highest_number.unwrap_or(mark.frame);
        f.frames_lost = (u64::from(h) - u64::from(first) + 1).saturating_sub(f.frames);
        self.last_frame = Some((mark.frame, now));
    }

    /// Gives up frames that did not arrive whole in time, and the oldest beyond the limit.
    fn expire(&mut self, now: Instant) {
        self.pending.retain(|_, p| {
            p.since
                .is_none_or(|s| now.saturating_duration_since(s) < PENDING_LIMIT)
        });
        while self.pending.len() > MAX_PENDING {
            let oldest = self
                .pending
                .iter()
                .min_by_key(|(_, p)| p.since)
                .map(|(ts, _)| *ts);
            match oldest {
                Some(ts) => self.pending.remove(&ts),
                None => break,
            };
        }
    }

    /// The figures as of `now`: a stream that stopped shows the wait since its last frame.
    pub(crate) fn figures_at(&self, now: Instant) -> Figures {
        let mut f = self.figures.clone();
        f.packets = self.seq.received;
        f.packets_lost = self.seq.lost();
        if let Some((_, at)) = self.last_frame {
            f.freeze_max_ms = f
                .freeze_max_ms
                .max(now.saturating_duration_since(at).as_secs_f64() * 1000.0);
        }
        f
    }
}

/// How long a frame may be missing (being repaired by retransmission) before the
/// subscriber asks for a keyframe, as a decoder that cannot go on would.
const REPAIR_WAIT: Duration = Duration::from_millis(250);

/// When a subscriber that does not decode asks for a keyframe: frames missing for longer
/// than [`REPAIR_WAIT`] (a decoder could not go on without them), once for each such loss.
#[derive(Debug, Default)]
pub(crate) struct KeyframeNeed {
    /// Missing frames a keyframe was asked for.
    asked_for: u64,
    /// Since when more frames have been missing than that.
    since: Option<Instant>,
}

impl KeyframeNeed {
    /// With `lost` frames missing at `now`: whether to ask for a keyframe.
    pub(crate) fn lost(&mut self, lost: u64, now: Instant) -> bool {
        // Repairs that came late lower the count.
        self.asked_for = self.asked_for.min(lost);
        if lost == self.asked_for {
            self.since = None;
            return false;
        }
        let since = *self.since.get_or_insert(now);
        if now.saturating_duration_since(since) < REPAIR_WAIT {
            return false;
        }
        self.asked_for = lost;
        self.since = None;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream of frames `numbers`, each `packets` packets after its mark, sent 33 ms
    /// apart and arriving `late` after capture.
    struct Sender {
        publisher: u32,
        seq: u16,
        epoch: Instant,
    }

    impl Sender {
        fn frame(&mut self, n: u32, packets: usize) -> Vec<(u16, u32, bool, Vec<u8>)> {
            let mark = LoadMark {
                publisher: self.publisher,
                frame: n,
                captured_us: u64::from(n) * 33_000,
            };
            let mut out = vec![(self.seq, n * 3000, false, mark.to_nal()[4..].to_vec())];
            for i in 0..packets {
                self.seq = self.seq.wrapping_add(1);
                out.push((self.seq, n * 3000, i + 1 == packets, vec![0x41, 0, 0]));
            }
            self.seq = self.seq.wrapping_add(1);
            out
        }
        fn at(&self, n: u32, late_ms: u64) -> Instant {
            self.epoch + Duration::from_millis(u64::from(n) * 33 + late_ms)
        }
    }

    fn feed(check: &mut VideoCheck, packets: &[(u16, u32, bool, Vec<u8>)], at: Instant) {
        for (seq, ts, marker, payload) in packets {
            check.packet(*seq, *ts, *marker, payload, at);
        }
    }

    #[test]
    fn whole_frames_are_counted_with_their_latency_and_gaps() {
        let epoch = Instant::now();
        let mut s = Sender {
            publisher: 7,
            seq: 65_530,
            epoch,
        };
        let mut check = VideoCheck::new(7, Clock { epoch, unix_us: 0 }, epoch);
        for n in 0..100 {
            let packets = s.frame(n, 3);
            if n == 40 {
                // One packet of frame 40 is lost for good: the frame never arrives whole.
                feed(
                    &mut check,
                    &[packets[0].clone(), packets[1].clone(), packets[3].clone()],
                    s.at(n, 20),
                );
                continue;
            }
            if (50..60).contains(&n) {
                continue; // a freeze: ten frames never sent
            }
            feed(&mut check, &packets, s.at(n, 20));
        }
        let f = check.figures_at(s.at(99, 20));
        assert_eq!(f.frames, 89);
        assert_eq!(f.frames_lost, 11);
        assert_eq!((f.out_of_order, f.wrong), (0, 0));
        assert_eq!(f.packets_lost, 1 + 40);
        let p50 = f.latency.quantile(0.5).unwrap();
        assert!((19.0..21.0).contains(&p50), "{p50}");
        // From frame 49 to frame 60: eleven frame times.
        assert!(
            (f.freeze_max_ms - 11.0 * 33.0).abs() < 1.0,
            "{}",
            f.freeze_max_ms
        );
        assert!((f.first_frame_ms.unwrap() - 20.0).abs() < 1.0);
    }

    #[test]
    fn reordered_and_repeated_packets_still_make_one_whole_frame() {
        let epoch = Instant::now();
        let mut s = Sender {
            publisher: 1,
            seq: 10,
            epoch,
        };
        let mut check = VideoCheck::new(1, Clock { epoch, unix_us: 0 }, epoch);
        let mut packets = s.frame(0, 4);
        packets.reverse();
        packets.push(packets[0].clone());
        feed(&mut check, &packets, s.at(0, 5));
        let f = check.figures_at(s.at(0, 5));
        assert_eq!((f.frames, f.packets, f.packets_lost), (1, 5, 0));
        assert_eq!(check.seq.duplicates, 1);
    }

    #[test]
    fn another_publishers_frames_and_late_frames_are_told() {
        let epoch = Instant::now();
        let mut mine = Sender {
            publisher: 1,
            seq: 0,
            epoch,
        };
        // The server switched the stream to another publisher's, numbers continued.
        let mut theirs = Sender {
            publisher: 2,
            seq: 4,
            epoch,
        };
        let mut check = VideoCheck::new(1, Clock { epoch, unix_us: 0 }, epoch);
        let (a, b) = (mine.frame(0, 1), mine.frame(1, 1));
        feed(&mut check, &b, mine.at(1, 5));
        feed(&mut check, &a, mine.at(1, 6));
        feed(&mut check, &theirs.frame(2, 1), mine.at(2, 5));
        let f = check.figures_at(mine.at(2, 5));
        assert_eq!((f.frames, f.out_of_order, f.frames_lost), (2, 1, 0));
        assert_eq!((f.wrong, f.wrong_publisher), (1, Some(2)));
    }

    #[test]
    fn numbers_that_jump_far_back_start_the_count_again() {
        let mut seq = Sequence::default();
        for n in 0..100u16 {
            seq.push(n);
        }
        // The sender jumps by half the number space: the first few are taken as stale.
        for n in 0..200u16 {
            seq.push(40_000 + n);
        }
        assert_eq!(seq.received, 100 + 200 - u64::from(RESYNC_AFTER) + 1);
        assert_eq!(seq.lost(), 0);
        assert!(seq.push(40_200).1);
    }

    #[test]
    fn a_stream_that_stopped_shows_the_wait_since_its_last_frame() {
        let epoch = Instant::now();
        let mut s = Sender {
            publisher: 3,
            seq: 0,
            epoch,
        };
        let mut check = VideoCheck::new(3, Clock { epoch, unix_us: 0 }, epoch);
        feed(&mut check, &s.frame(0, 2), s.at(0, 1));
        let f = check.figures_at(s.at(0, 1) + Duration::from_secs(2));
        assert!((f.freeze_max_ms - 2000.0).abs() < 1.0);
    }

    #[test]
    fn a_keyframe_is_asked_for_once_a_loss_outlasts_its_repair() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut k = KeyframeNeed::default();
        assert!(!k.lost(0, at(0)));
        // A frame missing while its retransmission comes: no keyframe.
        assert!(!k.lost(1, at(10)));
        assert!(!k.lost(0, at(100)));
        // Missing for longer: one request, and not again for the same loss.
        assert!(!k.lost(1, at(200)));
        assert!(k.lost(1, at(450)));
        assert!(!k.lost(1, at(2000)));
        // A new loss asks again.
        assert!(!k.lost(3, at(2100)));
        assert!(k.lost(3, at(2400)));
    }
}
