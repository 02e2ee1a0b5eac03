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
        // While the path limits the rate, a keyframe asked for waits until the last one has
        // had time to get through: there, a keyframe every request feeds the losses that make
        // the requests. Otherwise it comes at once (a new subscriber's first picture).
        let now = Instant::now();
        let key_due = !want.is_some_and(|w| w.hold)
            || self.last_key.is_none_or(|(at, bits)| {
                let rate = want.map_or(1e6, |w| f64::from(w.video_bps.max(1)));
                let gap = Duration::from_secs_f64(bits as f64 / rate * KEYFRAME_SPACING)
                    .max(KEYFRAME_MIN_GAP);
                now.saturating_duration_since(at) >= gap
            });
        let asked = key_due && keyframe.swap(false, Ordering::Relaxed);
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
