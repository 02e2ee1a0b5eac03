//! The media every publisher of a load test sends, made once: the test pattern encoded by one
//! H.264 encoder per rate tier and the tone by one Opus encoder, each kind on a thread of its
//! own at the capture clock, handed to every publisher (which marks the frames as its own and
//! sends the tier its congestion control picks, [`super::ladder`]).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::broadcast;

use super::check::Clock;
use crate::client::measure::Latencies;
use crate::codec::{H264Encoder, OPUS_FRAME, OpusEncoder};
use crate::exit::{Exit, Failure};
use crate::media::sources::TestSrc;
use crate::media::sources::{AudioSource, Tone, VideoSource};
use crate::media::testsrc::Pattern;

/// Frames a publisher may fall behind by before it misses some (counted as the generator's
/// dropped work).
const QUEUE: usize = 256;
/// Forced keyframes are at least this far apart: every new subscriber asks for one, and the
/// encoder serves them all.
const KEYFRAME_GAP: Duration = Duration::from_millis(250);
/// A keyframe at least this often, as a camera publisher's encoder makes them.
const KEYFRAME_INTERVAL_S: u32 = 10;
/// The tone's bitrate.
const AUDIO_BITRATE: u32 = 32_000;

/// One encoded unit, as every publisher gets it.
#[derive(Debug, Clone)]
pub(super) enum Encoded {
    /// One picture, as each tier encoded it (0: the top rate; `None`: a tier nobody sends,
    /// or a picture the encoder skipped): a publisher sends exactly one of them.
    Video {
        frame: FrameInfo,
        tiers: Arc<[Option<TierFrame>]>,
    },
    Audio {
        packet: Bytes,
        rtp_ts: u32,
    },
}

#[derive(Debug, Clone, Copy)]
pub(super) struct FrameInfo {
    /// When it was captured, Unix µs (the picture's burned-in time is this, in ms).
    pub(super) captured_us: u64,
    /// Its RTP timestamp, before a publisher's own offset (the same in every tier).
    pub(super) rtp_ts: u32,
}

/// One tier's encoding of a picture.
#[derive(Debug, Clone)]
pub(super) struct TierFrame {
    pub(super) au: Bytes,
    pub(super) keyframe: bool,
}

/// One rate tier's encoder, as publishers see it: keyframe requests, and how many publishers
/// send its frames (it encodes only while some do; the top tier always).
#[derive(Debug, Default)]
pub(super) struct Tier {
    keyframe: AtomicBool,
    users: AtomicU32,
}

impl Tier {
    /// Asks for a keyframe (requests are merged: at most one every [`KEYFRAME_GAP`]).
    pub(super) fn request_keyframe(&self) {
        self.keyframe.store(true, Ordering::Relaxed);
    }

    /// One more publisher sends (or moves to) this tier; one moving to it needs a keyframe
    /// to start from (a tier that was idle resumes with one too).
    pub(super) fn used(&self, moving: bool) {
        self.users.fetch_add(1, Ordering::Relaxed);
        if moving {
            self.request_keyframe();
        }
    }

    pub(super) fn unused(&self) {
        self.users.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The running encoders.
pub(super) struct SharedMedia {
    /// Taken at the stop: once the encoders' threads have ended too, publishers see their
    /// channel close.
    tx: Mutex<Option<broadcast::Sender<Encoded>>>,
    tiers: Arc<[Tier]>,
    stop: Arc<AtomicBool>,
    /// How late each unit left after its capture time was due, ms.
    pacing: Arc<Mutex<Latencies>>,
}

impl SharedMedia {
    /// Starts the encoders: the video at each of `bitrates` (highest first), the tone if
    /// `audio`.
    pub(super) fn start(
        width: u32,
        height: u32,
        fps: u32,
        bitrates: &[u32],
        audio: bool,
        clock: Clock,
    ) -> Result<SharedMedia, Failure> {
        let (tx, _) = broadcast::channel(QUEUE);
        let media = SharedMedia {
            tx: Mutex::new(Some(tx)),
            tiers: bitrates.iter().map(|_| Tier::default()).collect(),
            stop: Arc::new(AtomicBool::new(false)),
            pacing: Arc::default(),
        };
        let src = TestSrc::new(width, height, f64::from(fps), Pattern::Plain)
            .map_err(|e| Failure::new(Exit::Usage, e.to_string()))?;
        let encoders = bitrates
            .iter()
            .map(|b| H264Encoder::new(fps as f32, *b, fps * KEYFRAME_INTERVAL_S))
            .collect::<Result<Vec<_>, _>>()?;
        let (tx, tiers, stop, pacing) = media.handles();
        std::thread::Builder::new()
            .name("load-video".into())
            .spawn(move || video(src, encoders, fps, clock, tx, &tiers, stop, pacing))
            .map_err(|e| Failure::new(Exit::Failure, format!("cannot start a thread: {e}")))?;
        if audio {
            let enc = OpusEncoder::new(AUDIO_BITRATE)?;
            let (tx, _, stop, pacing) = media.handles();
            std::thread::Builder::new()
                .name("load-audio".into())
                .spawn(move || tone(enc, tx, stop, pacing))
                .map_err(|e| Failure::new(Exit::Failure, format!("cannot start a thread: {e}")))?;
        }
        Ok(media)
    }

    #[allow(clippy::type_complexity)]
    fn handles(
        &self,
    ) -> (
        broadcast::Sender<Encoded>,
        Arc<[Tier]>,
        Arc<AtomicBool>,
        Arc<Mutex<Latencies>>,
    ) {
        (
            self.sender(),
            Arc::clone(&self.tiers),
            Arc::clone(&self.stop),
            Arc::clone(&self.pacing),
        )
    }

    fn sender(&self) -> broadcast::Sender<Encoded> {
        match &*self.tx.lock().expect("sender lock") {
            Some(tx) => tx.clone(),
            // Stopped: a channel that is closed already.
            None => broadcast::channel(1).0,
        }
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Encoded> {
        self.sender().subscribe()
    }

    /// How late the encoders made their units (p99), ms.
    pub(super) fn pacing_p99(&self) -> f64 {
        self.pacing
            .lock()
            .expect("pacing lock")
            .quantile(0.99)
            .unwrap_or(0.0)
    }

    /// The rate tiers' encoders, highest first.
    pub(super) fn tiers(&self) -> Arc<[Tier]> {
        Arc::clone(&self.tiers)
    }

    /// Stops the encoders; publishers see their channel close once their threads end.
    pub(super) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.tx.lock().expect("sender lock").take();
    }
}

/// Waits for `due` (the thread's schedule) and says how late it woke, ms.
fn wait_until(due: Instant) -> f64 {
    let now = Instant::now();
    if due > now {
        std::thread::sleep(due - now);
    }
    Instant::now().saturating_duration_since(due).as_secs_f64() * 1000.0
}

/// Captures each picture once and encodes it with every tier some publisher sends.
#[allow(clippy::too_many_arguments)]
fn video(
    mut src: TestSrc,
    mut encoders: Vec<H264Encoder>,
    fps: u32,
    clock: Clock,
    tx: broadcast::Sender<Encoded>,
    tiers: &[Tier],
    stop: Arc<AtomicBool>,
    pacing: Arc<Mutex<Latencies>>,
) {
    let period = Duration::from_secs(1) / fps;
    let start = Instant::now();
    let mut last_forced: Vec<Option<Instant>> = vec![None; encoders.len()];
    let mut n: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        let due = start + period * n;
        let late = wait_until(due);
        let captured = Instant::now();
        let captured_us = clock.unix_us(captured);
        // The burned-in time is the mark's: a decoded picture is matched to its mark.
        let Ok(Some(img)) = src.next(captured_us / 1000) else {
            break;
        };
        let mut made: Vec<Option<TierFrame>> = vec![None; encoders.len()];
        for (k, (enc, tier)) in encoders.iter_mut().zip(tiers).enumerate() {
            if k > 0 && tier.users.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let force = tier.keyframe.load(Ordering::Relaxed)
                && last_forced[k].is_none_or(|t| captured.duration_since(t) >= KEYFRAME_GAP);
            if force {
                tier.keyframe.store(false, Ordering::Relaxed);
                last_forced[k] = Some(captured);
            }
            let (au, keyframe) = match enc.encode(&img, force) {
                Ok(done) => done,
                Err(e) => {
                    // The publishers' video stops: the run's checks will show it.
                    tracing::warn!("the shared video encoder (tier {k}) failed: {e}");
                    return;
                }
            };
            // A picture the encoder skipped (to hold its rate) is not a frame.
            if !au.is_empty() {
                made[k] = Some(TierFrame {
                    au: Bytes::from(au),
                    keyframe,
                });
            }
        }
        if made.iter().any(Option::is_some) {
            let frame = FrameInfo {
                captured_us,
                rtp_ts: n.wrapping_mul(90_000 / fps),
            };
            // Nobody listening yet (no publisher joined) is not an error.
            let _ = tx.send(Encoded::Video {
                frame,
                tiers: made.into(),
            });
        }
        pacing
            .lock()
            .expect("pacing lock")
            .push(late + captured.elapsed().as_secs_f64() * 1000.0);
        n += 1;
    }
}

fn tone(
    mut enc: OpusEncoder,
    tx: broadcast::Sender<Encoded>,
    stop: Arc<AtomicBool>,
    pacing: Arc<Mutex<Latencies>>,
) {
    let mut src = Tone::new(440.0);
    let period = Duration::from_millis(20);
    let start = Instant::now();
    let mut pcm = [0i16; OPUS_FRAME];
    let mut n: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        let late = wait_until(start + period * n);
        if !matches!(src.next(crate::session::now_ms(), &mut pcm), Ok(true)) {
            break;
        }
        let Ok(packet) = enc.encode(&pcm) else {
            break;
        };
        pacing.lock().expect("pacing lock").push(late);
        let _ = tx.send(Encoded::Audio {
            packet: Bytes::from(packet),
            rtp_ts: n.wrapping_mul(960),
        });
        n += 1;
    }
}
