//! A file's video on its way out: sent as it is (no encoding cost) while that serves the far
//! end, decoded and encoded again while it does not. [`Passage`] decides, packet by packet,
//! from what the file holds and what the far end and the path ask; [`file_video_thread`]
//! does it at the file's own timing.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::adapt::Rates;
use super::encoding::{Encoded, Encoding, send, sleep_until};
use crate::congestion::{Allocation, scaled_side};
use crate::exit::Failure;
use crate::media::file::{FilePacket, FileVideo};
pub use crate::media::sources::Transcode;
use crate::vocab::I420;

/// How far ahead the file is read: a keyframe asked for is met by the file's own when one is
/// this close, and encoded otherwise.
pub const KEYFRAME_WAIT: f64 = 0.2;

/// The most packets read ahead.
const AHEAD_LIMIT: usize = 256;

/// The file's bitrate is measured over this long (seconds).
const RATE_WINDOW: f64 = 2.0;

/// Passing through again after the path held the rate below the file's: the estimate must
/// carry this much more than the file for this long.
const RATE_MARGIN: f64 = 1.25;
const RATE_CALM: f64 = 2.0;

/// Why a file's video is being encoded again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Its codec or B-frames cannot be sent as they are, or `--transcode always`.
    Always,
    /// The file starts between keyframes (`--start`, an edit list): the pictures before its
    /// start are decoded, not sent.
    Start,
    /// A keyframe was asked for and the file has none close.
    Keyframe,
    /// The path carries less than the file's bitrate.
    Rate,
}

impl Why {
    fn says(self) -> &'static str {
        match self {
            Why::Always => "its codec is not sent as it is",
            Why::Start => "it starts between keyframes (--start or an edit list)",
            Why::Keyframe => "a keyframe was asked for and the file's next is not close",
            Why::Rate => "the path carries less than the file's bitrate",
        }
    }
}

/// What is done with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Sent as it is.
    Pass,
    /// Decoded, its pictures encoded; `Some`: the first (a keyframe), and why.
    Transcode(Option<Why>),
}

/// Decides, packet by packet, whether a file's video goes out as it is. It switches to
/// encoding at once when it must (a keyframe the file cannot give soon, a path narrower
/// than the file's rate, `--start` between keyframes) and back only at one of the file's
/// keyframes, once nothing holds it.
#[derive(Debug)]
pub struct Passage {
    policy: Transcode,
    /// The packets can be sent as they are (codec and order).
    sendable: bool,
    transcoding: Option<Why>,
    /// The file's packets over the last `RATE_WINDOW`: (time, bytes), and their bytes.
    window: VecDeque<(f64, usize)>,
    window_bytes: usize,
    /// Since when the path has carried the file's rate again (file time).
    calm_since: Option<f64>,
}

/// What the far end and the path ask when a packet is due.
#[derive(Debug, Clone, Copy, Default)]
pub struct Asks {
    /// The packet precedes its pass's start (`--start`, an edit list, on any loop).
    pub early: bool,
    /// A keyframe was asked for and not given yet.
    pub keyframe: bool,
    /// The file has a keyframe within `KEYFRAME_WAIT` of this packet (or this one is).
    pub key_soon: bool,
    /// Congestion control's allocation.
    pub want: Option<Allocation>,
}

impl Passage {
    pub fn new(policy: Transcode, sendable: bool) -> Passage {
        Passage {
            policy,
            sendable,
            transcoding: None,
            window: VecDeque::new(),
            window_bytes: 0,
            calm_since: None,
        }
    }

    /// The file's bitrate over the last window, bit/s.
    pub fn file_rate(&self) -> f64 {
        let span = match (self.window.front(), self.window.back()) {
            (Some(a), Some(b)) => (b.0 - a.0).max(0.5),
            _ => return 0.0,
        };
        self.window_bytes as f64 * 8.0 / span
    }

    /// The packet at `time` (a keyframe or not, `bytes` long): what to do with it.
    pub fn step(&mut self, time: f64, key: bool, bytes: usize, asks: Asks) -> Step {
        self.window.push_back((time, bytes));
        self.window_bytes += bytes;
        while let Some(&(t, b)) = self.window.front()
            && t < time - RATE_WINDOW
        {
            self.window.pop_front();
            self.window_bytes -= b;
        }
        let narrow = asks
            .want
            .is_some_and(|w| w.hold && f64::from(w.video_bps) < self.file_rate());
        // Wide again: the estimate itself carries the file with room (while encoding at
        // less, the path no longer limits it, so `hold` says nothing).
        let wide = asks
            .want
            .is_none_or(|w| f64::from(w.video_bps) >= self.file_rate() * RATE_MARGIN);
        match (wide, self.calm_since) {
            (true, None) => self.calm_since = Some(time),
            (false, _) => self.calm_since = None,
            _ => {}
        }
        let must = if self.policy == Transcode::Always || !self.sendable {
            Some(Why::Always)
        } else if self.policy == Transcode::Never {
            None
        } else if asks.early {
            Some(Why::Start)
        } else if asks.keyframe && !asks.key_soon {
            Some(Why::Keyframe)
        } else if narrow {
            Some(Why::Rate)
        } else {
            None
        };
        match (self.transcoding, must) {
            (None, None) => Step::Pass,
            (None, Some(why)) => {
                self.transcoding = Some(why);
                Step::Transcode(Some(why))
            }
            (Some(Why::Always), _) => Step::Transcode(None),
            (Some(why), must) => {
                // The path's narrowing holds until it has been wide for a while; any other
                // reason gives way to a newer one.
                if let Some(m) = must
                    && why != Why::Rate
                {
                    self.transcoding = Some(m);
                }
                let calm = self
                    .calm_since
                    .is_some_and(|since| time - since >= RATE_CALM);
                let rate_held = self.transcoding == Some(Why::Rate) && !calm;
                if key && must.is_none() && !rate_held {
                    self.transcoding = None;
                    Step::Pass
                } else {
                    Step::Transcode(None)
                }
            }
        }
    }

    /// Why it is encoding now, if it is.
    pub fn transcoding(&self) -> Option<Why> {
        self.transcoding
    }
}

/// The packets since the last keyframe that was sent as it is: decoded at once when encoding
/// starts between keyframes, so that the decoder holds what the next picture refers to.
/// Bounded: a group longer than this is not kept, and a switch then waits for a keyframe.
const GOP_LIMIT: usize = 64 << 20;

/// Where a file's frames go: sent at their times on the publish's clock, pictures encoded
/// first (following `rates` and keyframe requests).
struct Outlet {
    encoding: Encoding,
    fps: f64,
    t0: Instant,
    stop: Arc<AtomicBool>,
    keyframe: Arc<AtomicBool>,
    rates: Option<Arc<Rates>>,
    tx: mpsc::Sender<Encoded>,
    /// The next picture encoded must be a keyframe (encoding has just started).
    need_key: bool,
    /// Pictures offered to the encoder, for a lowered frame rate.
    pictures: u64,
}

impl Outlet {
    /// Sends a frame at `t`; `false` once the publish stops or the network side is gone.
    fn send(&self, t: f64, data: Vec<u8>, key: bool) -> bool {
        let t = t.max(0.0);
        sleep_until(self.t0 + Duration::from_secs_f64(t), &self.stop)
            && send(&self.tx, data, (t * 90_000.0).round() as u64, key)
    }

    /// Encodes a decoded picture at the allocation's scale and frame rate and sends it.
    fn picture(&mut self, t: f64, img: &I420) -> Result<bool, Failure> {
        let want = self.rates.as_ref().map(|r| r.get());
        self.pictures += 1;
        let divisor = want.map_or(1, |w| w.fps_divisor.max(1));
        if self.pictures % u64::from(divisor) != 0 && !self.need_key {
            return Ok(true);
        }
        let scaled;
        let img = match want.map_or(1, |w| w.scale.max(1)) {
            1 => img,
            s => {
                scaled = img.downscaled(
                    scaled_side(img.width, s),
                    scaled_side(img.height, s),
                    s as usize,
                );
                &scaled
            }
        };
        let rate = (self.fps / f64::from(divisor)) as f32;
        let rates = self.rates.as_deref();
        match self
            .encoding
            .encode(img, rate, want, &self.keyframe, rates, self.need_key)?
        {
            Some((data, key)) => {
                self.need_key = false;
                Ok(self.send(t, data, key))
            }
            // Skipped by the rate control: a keyframe still due comes with the next.
            None => Ok(true),
        }
    }

    /// Encodes and sends what the decoder still holds from `from` on.
    fn drain(&mut self, file: &mut FileVideo, from: f64) -> Result<bool, Failure> {
        for (t, img) in file.drain()? {
            if t >= from && !self.picture(t, &img)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Sends a file's video at its own timing: as it is while [`Passage`] says so, decoded and
/// encoded again (`encoding`, following `rates` and keyframe requests) otherwise.
#[allow(clippy::too_many_arguments)]
pub(crate) fn file_video_thread(
    mut file: FileVideo,
    encoding: Encoding,
    policy: Transcode,
    t0: Instant,
    stop: Arc<AtomicBool>,
    keyframe: Arc<AtomicBool>,
    rates: Option<Arc<Rates>>,
    tx: mpsc::Sender<Encoded>,
) -> Result<(), Failure> {
    let mut passage = Passage::new(policy, file.sendable());
    let mut outlet = Outlet {
        encoding,
        fps: file.fps,
        t0,
        stop,
        keyframe,
        rates,
        tx,
        need_key: false,
        pictures: 0,
    };
    let mut ahead: VecDeque<FilePacket> = VecDeque::new();
    let mut gop: Vec<FilePacket> = Vec::new();
    let mut gop_bytes = 0usize;
    // While encoding: pictures before this time were sent as they were (or precede --start).
    let mut sent_until = f64::NEG_INFINITY;
    let mut ended = false;
    loop {
        // Read ahead by KEYFRAME_WAIT of the file's time, and at most AHEAD_LIMIT packets
        // (a file whose times stall or jump back would otherwise be read whole).
        while !ended
            && ahead.len() < AHEAD_LIMIT
            && ahead.front().is_none_or(|f| {
                ahead
                    .back()
                    .is_some_and(|b| b.time >= f.time && b.time < f.time + KEYFRAME_WAIT)
            })
        {
            match file.next()? {
                Some(p) => ahead.push_back(p),
                None => ended = true,
            }
        }
        let Some(p) = ahead.pop_front() else {
            break;
        };
        let asks = Asks {
            early: p.time < p.pass_start,
            keyframe: outlet.keyframe.load(Ordering::Relaxed),
            key_soon: p.key
                || ahead
                    .iter()
                    .any(|q| q.key && q.time <= p.time + KEYFRAME_WAIT),
            want: outlet.rates.as_ref().map(|r| r.get()),
        };
        match passage.step(p.time, p.key, p.bytes, asks) {
            Step::Pass => {
                if sent_until.is_finite() {
                    // Back to the file's own: the decoder's last pictures go first.
                    if !outlet.drain(&mut file, sent_until)? {
                        return Ok(());
                    }
                    tracing::info!("{}: sent as it is again from {:.3} s", file.name(), p.time);
                    sent_until = f64::NEG_INFINITY;
                }
                let data = file.payload(&p)?;
                if p.key {
                    if !data.is_empty() {
                        outlet.keyframe.store(false, Ordering::Relaxed);
                    }
                    gop.clear();
                    gop_bytes = 0;
                }
                let (time, key) = (p.time, p.key);
                match gop_bytes + p.bytes <= GOP_LIMIT {
                    true if key || !gop.is_empty() => {
                        gop_bytes += p.bytes;
                        gop.push(p);
                    }
                    // Too long a group: none of it is kept until the next keyframe.
                    false => {
                        gop.clear();
                        gop_bytes = GOP_LIMIT;
                    }
                    true => {}
                }
                // A packet the filter made nothing of is not sent (nor is a keyframe).
                if !data.is_empty() && !outlet.send(time, data, key) {
                    break;
                }
            }
            Step::Transcode(first) => {
                if let Some(why) = first {
                    tracing::info!(
                        "{}: {} video encoded again from {:.3} s: {}",
                        file.name(),
                        file.codec_name,
                        p.time.max(p.pass_start),
                        why.says()
                    );
                    outlet.need_key = true;
                    sent_until = p.time.max(p.pass_start);
                    if !p.key && gop.is_empty() {
                        tracing::warn!(
                            "{}: the pictures before {:.3} s were not kept: the encoding starts damaged until the file's next keyframe",
                            file.name(),
                            p.time
                        );
                    }
                    // What was sent as it is is decoded, not sent again.
                    for q in gop.drain(..) {
                        let _decoded_already_sent = file.decode(&q)?;
                    }
                    gop_bytes = 0;
                }
                for (t, img) in file.decode(&p)? {
                    if t >= sent_until && !outlet.picture(t, &img)? {
                        return Ok(());
                    }
                }
            }
        }
    }
    if passage.transcoding().is_some() {
        outlet.drain(&mut file, sent_until)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(video_bps: u32, hold: bool) -> Option<Allocation> {
        Some(Allocation {
            video_bps,
            fps_divisor: 1,
            scale: 1,
            audio_bps: 48_000,
            hold,
        })
    }

    /// 30 packets a second of `bytes` each, a keyframe every `gop`; the steps taken.
    fn run(
        p: &mut Passage,
        from: u32,
        to: u32,
        gop: u32,
        bytes: usize,
        asks: impl Fn(u32) -> Asks,
    ) -> Vec<Step> {
        (from..to)
            .map(|n| p.step(f64::from(n) / 30.0, n % gop == 0, bytes, asks(n)))
            .collect()
    }

    #[test]
    fn a_clean_path_passes_every_packet_through() {
        let mut p = Passage::new(Transcode::Auto, true);
        let steps = run(&mut p, 0, 300, 60, 4_000, |_| Asks {
            want: alloc(300_000, false),
            ..Asks::default()
        });
        assert!(steps.iter().all(|s| *s == Step::Pass));
    }

    #[test]
    fn a_keyframe_far_off_is_encoded_at_once_and_the_file_taken_up_at_its_next() {
        let mut p = Passage::new(Transcode::Auto, true);
        run(&mut p, 0, 10, 60, 1000, |_| Asks::default());
        let asked = Asks {
            keyframe: true,
            ..Asks::default()
        };
        assert_eq!(
            p.step(10.0 / 30.0, false, 1000, asked),
            Step::Transcode(Some(Why::Keyframe))
        );
        let steps = run(&mut p, 11, 61, 60, 1000, |_| Asks::default());
        assert!(steps[..49].iter().all(|s| *s == Step::Transcode(None)));
        assert_eq!(steps[49], Step::Pass, "the file's keyframe at 60");
    }

    #[test]
    fn a_keyframe_close_in_the_file_is_waited_for() {
        let mut p = Passage::new(Transcode::Auto, true);
        let asked = Asks {
            keyframe: true,
            key_soon: true,
            ..Asks::default()
        };
        assert_eq!(p.step(1.9, false, 1000, asked), Step::Pass);
    }

    #[test]
    fn a_narrow_path_encodes_until_it_has_carried_the_file_for_a_while() {
        let mut p = Passage::new(Transcode::Auto, true);
        // 30 packets of 4,000 bytes a second: 960 kbit/s.
        run(&mut p, 0, 60, 60, 4_000, |_| Asks::default());
        let steps = run(&mut p, 60, 120, 60, 4_000, |_| Asks {
            want: alloc(500_000, true),
            ..Asks::default()
        });
        assert_eq!(steps[0], Step::Transcode(Some(Why::Rate)));
        // Wide again at 4 s: the keyframe at 4 s is too soon, the one at 6 s is taken.
        let steps = run(&mut p, 120, 240, 60, 4_000, |_| Asks {
            want: alloc(2_000_000, true),
            ..Asks::default()
        });
        assert_eq!(steps[0], Step::Transcode(None));
        assert_eq!(steps[60], Step::Pass);
        assert!(steps[..60].iter().all(|s| *s == Step::Transcode(None)));
    }

    #[test]
    fn a_start_between_keyframes_is_encoded_until_the_next() {
        let mut p = Passage::new(Transcode::Auto, true);
        let steps = run(&mut p, 0, 61, 60, 1000, |_| Asks::default());
        assert_eq!(steps[0], Step::Pass);
        let mut p = Passage::new(Transcode::Auto, true);
        let early = Asks {
            early: true,
            ..Asks::default()
        };
        assert_eq!(
            p.step(-0.5, true, 1000, early),
            Step::Transcode(Some(Why::Start))
        );
        // On a later loop too: the pass starts at 4 s, the keyframe before --start is at 3.5.
        let mut q = Passage::new(Transcode::Auto, true);
        assert_eq!(q.step(3.9, true, 1000, Asks::default()), Step::Pass);
        assert_eq!(
            q.step(7.5, true, 1000, early),
            Step::Transcode(Some(Why::Start))
        );
        assert_eq!(
            p.step(0.0, false, 1000, Asks::default()),
            Step::Transcode(None)
        );
        assert_eq!(p.step(1.0, true, 1000, Asks::default()), Step::Pass);
    }

    #[test]
    fn never_passes_and_always_encodes_whatever_is_asked() {
        let asks = |_| Asks {
            keyframe: true,
            want: alloc(100_000, true),
            ..Asks::default()
        };
        let mut never = Passage::new(Transcode::Never, true);
        assert!(
            run(&mut never, 0, 90, 60, 4_000, asks)
                .iter()
                .all(|s| *s == Step::Pass)
        );
        let mut always = Passage::new(Transcode::Auto, false);
        let steps = run(&mut always, 0, 90, 60, 4_000, |_| Asks::default());
        assert_eq!(steps[0], Step::Transcode(Some(Why::Always)));
        assert!(steps[1..].iter().all(|s| *s == Step::Transcode(None)));
    }
}
