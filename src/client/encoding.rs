//! A publisher's encoded frames on their way out: `Encoding`, the video encoder that follows
//! congestion control's rates and the far end's keyframe requests (raw sources' and media
//! files' alike), and the hand-over to the network side at the capture clock's times.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::client::adapt::Rates;
use crate::codec::VideoEncoder;
use crate::congestion::Allocation;
use crate::exit::Failure;
use crate::vocab::Codec;
use crate::vocab::I420;
use crate::vocab::bitstream::pad_h264;

/// Keyframes asked for are at least this far apart, and further while the last one is still
/// going out at the video rate (times `KEYFRAME_SPACING`).
const KEYFRAME_MIN_GAP: Duration = Duration::from_millis(300);
const KEYFRAME_SPACING: f64 = 1.5;

/// A probe: a frame grown to this many bytes (six packets) with filler that decoders skip,
/// which leaves as a train whose arrivals show what the path carries (`congestion`).
const PROBE_BYTES: usize = 6 * 1160;
/// One encoded frame on its way to the network.
pub(crate) struct Encoded {
    pub(crate) data: Bytes,
    /// RTP ticks since the capture clock's start.
    pub(crate) ticks: u64,
    /// A video keyframe (as the encoder or the file says).
    pub(crate) key: bool,
    /// The simulcast layer it is of (0: the largest, or the only one).
    pub(crate) layer: usize,
}

/// Hands an encoded frame to the network side; `false` once that side is gone.
pub(crate) fn send(tx: &mpsc::Sender<Encoded>, data: Vec<u8>, ticks: u64, key: bool) -> bool {
    tx.blocking_send(Encoded {
        data: Bytes::from(data),
        ticks,
        key,
        layer: 0,
    })
    .is_ok()
}

pub(crate) fn sleep_until(t: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= t {
            return true;
        }
        std::thread::sleep((t - now).min(Duration::from_millis(50)));
    }
}

/// How a wait for a picture's time ended.
pub(crate) enum Wake {
    /// The picture's time came.
    Due,
    /// A keyframe was asked for first (`wait_for`'s `asked`).
    Asked,
    /// The source is told to stop.
    Stop,
}

/// Waits until `t` (a picture's tick), unless told to stop or, sooner, `asked` says a
/// keyframe is wanted — answered no sooner than `earliest`; the thread is woken for that by
/// its `unpark` (a request's `keyframes_on_request`).
pub(crate) fn wait_for(
    (t, earliest): (Instant, Instant),
    stop: &AtomicBool,
    asked: impl Fn() -> bool,
) -> Wake {
    loop {
        if stop.load(Ordering::Relaxed) {
            return Wake::Stop;
        }
        let now = Instant::now();
        if now >= t {
            return Wake::Due;
        }
        let until = match asked() {
            true if now >= earliest => return Wake::Asked,
            true => earliest,
            false => t,
        };
        std::thread::park_timeout((until - now).min(Duration::from_millis(50)));
    }
}

/// When a live source's pictures are taken: picture `n` is stamped `n`/fps from the capture
/// clock's start, and is taken then — except that a keyframe asked for takes the next picture
/// at once, ahead of its time, so that a new subscriber's first picture does not wait for
/// the next tick — but no sooner than half a frame's time after the picture before it
/// ([`Schedule::earliest`]), so that the gap after it is at most one and a half frames'
/// (viewers already watching see a picture at most half a frame early). The stamps stay regular whatever the requests
/// (a recording's rate, a window's frame count, the audio's offset); the early picture's
/// RTP time and burned-in capture time are its tick's, up to a frame's time after it was
/// taken (so a receiver reads that one picture's latency up to that much lower), as a
/// camera sampled at the ticks already is. Only a keyframe the encoder will make at once
/// (not one it spaces) on a picture the frame rate keeps moves a picture. Never two early
/// pictures in a row: requests a few ms apart (the server's when a leg comes up, the
/// subscriber's own) are answered by one early picture and the next on time; and a request
/// the encoder holds back (its keyframes spaced) moves no picture until none is left over.
#[derive(Debug)]
pub(crate) struct Schedule {
    fps: f64,
    /// Whether a request may take the next picture early.
    armed: bool,
}

impl Schedule {
    pub(crate) fn new(fps: f64) -> Schedule {
        Schedule { fps, armed: true }
    }

    /// Picture `n`'s time, from the capture clock's start.
    pub(crate) fn at(&self, n: u64) -> Duration {
        Duration::from_secs_f64(n as f64 / self.fps)
    }

    /// The soonest picture `n` may be taken early: half a frame's time after picture
    /// `n - 1`'s tick.
    pub(crate) fn earliest(&self, n: u64) -> Duration {
        match n {
            0 => Duration::ZERO,
            n => Duration::from_secs_f64((n as f64 - 0.5) / self.fps),
        }
    }

    /// Whether a keyframe asked for now may take the next picture early.
    pub(crate) fn may_move(&self) -> bool {
        self.armed
    }

    /// After a picture (`early` if it was taken for a request): whether a keyframe is still
    /// asked for. The picture after an early one is taken on time; after one on time, a
    /// request may move the next once none is left over.
    pub(crate) fn taken(&mut self, early: bool, still_asked: bool) {
        self.armed = !early && (self.armed || !still_asked);
    }
}

/// RTP ticks (90 kHz) of a picture taken `at` from the capture clock's start.
pub(crate) fn ticks(at: Duration) -> u64 {
    (at.as_secs_f64() * 90_000.0).round() as u64
}

/// A video encoder that follows congestion control's rates and the far end's keyframe
/// requests.
pub(crate) struct Encoding {
    enc: VideoEncoder,
    /// The rates the encoder runs at; `None` until it takes them (after its first picture).
    applied: Option<Allocation>,
    /// The last keyframe's time and size (bits).
    last_key: Option<(Instant, usize)>,
    /// The size of the pictures the encoder was given.
    picture: Option<(usize, usize)>,
}

impl Encoding {
    pub(crate) fn new(enc: VideoEncoder) -> Encoding {
        Encoding {
            enc,
            applied: None,
            last_key: None,
            picture: None,
        }
    }

    /// Whether a keyframe asked for `now` is made with the next picture. While the path
    /// limits the rate, it waits until the last one has had time to get through: there, a
    /// keyframe every request feeds the losses that make the requests. Otherwise it comes at
    /// once (a new subscriber's first picture).
    pub(crate) fn key_due(&self, want: Option<Allocation>, now: Instant) -> bool {
        !want.is_some_and(|w| w.hold)
            || self.last_key.is_none_or(|(at, bits)| {
                let rate = want.map_or(1e6, |w| f64::from(w.video_bps.max(1)));
                let gap = Duration::from_secs_f64(bits as f64 / rate * KEYFRAME_SPACING)
                    .max(KEYFRAME_MIN_GAP);
                now.saturating_duration_since(at) >= gap
            })
    }

    /// Encodes a picture (already at the allocation's scale) at `rate` pictures a second: a
    /// keyframe when `key_now`, or when one was asked for (`keyframe`) and is due. `None`:
    /// the rate control skipped it (a keyframe asked for comes with the next).
    pub(crate) fn encode(
        &mut self,
        img: &I420,
        rate: f32,
        want: Option<Allocation>,
        keyframe: &AtomicBool,
        rates: Option<&Rates>,
        key_now: bool,
    ) -> Result<Option<(Vec<u8>, bool)>, Failure> {
        let size = (img.width, img.height);
        if let Some(w) = want
            && self.picture.is_some_and(|p| p != size)
        {
            // A new picture size: a new encoder, its first picture a keyframe.
            self.enc.restart(rate, w.video_bps)?;
            self.applied = None;
            self.last_key = None;
        }
        self.picture = Some(size);
        if let Some(w) = want
            && self.applied != Some(w)
            && self.enc.set_rate(w.video_bps, rate, w.hold)
        {
            self.applied = Some(w);
        }
        let now = Instant::now();
        let asked = self.key_due(want, now) && keyframe.swap(false, Ordering::Relaxed);
        let force = asked || key_now;
        let (mut data, key) = self.enc.encode(img, force)?;
        if key && !data.is_empty() {
            self.last_key = Some((now, data.len() * 8));
        }
        if let Some(r) = rates {
            r.encoded(if data.is_empty() { None } else { self.enc.qp() });
        }
        if data.is_empty() {
            if asked {
                keyframe.store(true, Ordering::Relaxed);
            }
            return Ok(None);
        }
        // Only H.264 has filler a decoder skips: VP8's and VP9's rate climbs without probes.
        if self.enc.codec() == Codec::H264 && rates.is_some_and(|r| r.take_probe()) {
            pad_h264(&mut data, PROBE_BYTES);
        }
        Ok(Some((data, key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn pictures_keep_their_times_whatever_the_requests() {
        let s = Schedule::new(25.0);
        assert_eq!(s.at(0), Duration::ZERO);
        assert_eq!(s.at(10), MS(400));
        assert_eq!(ticks(s.at(10)), 36_000);
        assert_eq!(ticks(Schedule::new(30.0).at(30)), 90_000);
        // An early picture is half a frame after the one before at the soonest.
        assert_eq!(s.earliest(0), Duration::ZERO);
        assert_eq!(s.earliest(10), MS(380));
        assert!(s.earliest(10) > s.at(9) && s.earliest(10) < s.at(10));
    }

    #[test]
    fn requests_a_few_ms_apart_move_one_picture_not_two() {
        let mut s = Schedule::new(30.0);
        assert!(s.may_move());
        // The server's request: the next picture is taken at once. The subscriber's, a few
        // ms later: the picture after that is on time (a keyframe then).
        s.taken(true, true);
        assert!(!s.may_move());
        s.taken(false, false);
        assert!(s.may_move());
        // An early picture's request answered, another arrives at once: still on time.
        s.taken(true, false);
        assert!(!s.may_move());
        // The encoder holds a request back (a keyframe spaced): nothing moves until it clears.
        s.taken(false, true);
        assert!(!s.may_move());
        s.taken(false, true);
        assert!(!s.may_move());
        s.taken(false, false);
        assert!(s.may_move());
        // Asked just after a picture on time, while armed: the next may be early.
        s.taken(false, true);
        assert!(s.may_move());
    }

    #[test]
    fn never_two_early_pictures_in_a_row() {
        // Any pattern of requests: an early picture is always followed by one on time.
        for pattern in 0u32..1 << 12 {
            let mut s = Schedule::new(30.0);
            let mut last_early = false;
            for n in 0..12 {
                let asked = pattern & (1 << n) != 0;
                let early = asked && s.may_move();
                assert!(!(early && last_early), "pattern {pattern:#b}, picture {n}");
                s.taken(early, asked && n % 3 == 0);
                last_early = early;
            }
        }
    }
}
