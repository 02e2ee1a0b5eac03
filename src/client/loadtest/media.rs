//! The media every publisher of a load test sends, made once: the test pattern encoded by one
//! H.264 encoder and the tone by one Opus encoder, each on a thread of its own at the
//! capture clock, handed to every publisher (which marks the frames as its own).

use std::sync::atomic::{AtomicBool, Ordering};
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
    Video { frame: FrameInfo, au: Bytes },
    Audio { packet: Bytes, rtp_ts: u32 },
}

#[derive(Debug, Clone, Copy)]
pub(super) struct FrameInfo {
    /// Counts the frames sent.
    pub(super) number: u32,
    /// When it was captured, Unix µs.
    pub(super) captured_us: u64,
    /// Its RTP timestamp, before a publisher's own offset.
    pub(super) rtp_ts: u32,
}

/// Keyframe requests to the shared encoder.
#[derive(Clone)]
pub(super) struct Keyframes(Arc<AtomicBool>);

impl Keyframes {
    pub(super) fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The running encoders.
pub(super) struct SharedMedia {
    /// Taken at the stop: once the encoders' threads have ended too, publishers see their
    /// channel close.
    tx: Mutex<Option<broadcast::Sender<Encoded>>>,
    keyframe: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// How late each unit left after its capture time was due, ms.
    pacing: Arc<Mutex<Latencies>>,
}

impl SharedMedia {
    pub(super) fn start(
        width: u32,
        height: u32,
        fps: u32,
        bitrate: u32,
        audio: bool,
        clock: Clock,
    ) -> Result<SharedMedia, Failure> {
        let (tx, _) = broadcast::channel(QUEUE);
        let media = SharedMedia {
            tx: Mutex::new(Some(tx)),
            keyframe: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
            pacing: Arc::default(),
        };
        let src = TestSrc::new(width, height, f64::from(fps), Pattern::Plain)
            .map_err(|e| Failure::new(Exit::Usage, e.to_string()))?;
        let enc = H264Encoder::new(fps as f32, bitrate, fps * KEYFRAME_INTERVAL_S)?;
        let (tx, keyframe, stop, pacing) = media.handles();
        std::thread::Builder::new()
            .name("load-video".into())
            .spawn(move || video(src, enc, fps, clock, tx, keyframe, stop, pacing))
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
        Arc<AtomicBool>,
        Arc<AtomicBool>,
        Arc<Mutex<Latencies>>,
    ) {
        (
            self.sender(),
            Arc::clone(&self.keyframe),
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

    pub(super) fn keyframes(&self) -> Keyframes {
        Keyframes(Arc::clone(&self.keyframe))
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

#[allow(clippy::too_many_arguments)]
fn video(
    mut src: TestSrc,
    mut enc: H264Encoder,
    fps: u32,
    clock: Clock,
    tx: broadcast::Sender<Encoded>,
    keyframe: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    pacing: Arc<Mutex<Latencies>>,
) {
    let period = Duration::from_secs(1) / fps;
    let start = Instant::now();
    let mut last_forced: Option<Instant> = None;
    let (mut n, mut sent): (u32, u32) = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        let due = start + period * n;
        let late = wait_until(due);
        let captured = Instant::now();
        let force = keyframe.load(Ordering::Relaxed)
            && last_forced.is_none_or(|t| captured.duration_since(t) >= KEYFRAME_GAP);
        if force {
            keyframe.store(false, Ordering::Relaxed);
            last_forced = Some(captured);
        }
        let Ok(Some(img)) = src.next(crate::session::now_ms()) else {
            break;
        };
        let Ok((au, _key)) = enc.encode(&img, force) else {
            break;
        };
        pacing
            .lock()
            .expect("pacing lock")
            .push(late + captured.elapsed().as_secs_f64() * 1000.0);
        // A picture the encoder skipped (to hold its rate) is not a frame: the numbers
        // count the frames sent, so that a receiver's count of lost ones stays true.
        if !au.is_empty() {
            let frame = FrameInfo {
                number: sent,
                captured_us: clock.unix_us(captured),
                rtp_ts: n.wrapping_mul(90_000 / fps),
            };
            // Nobody listening yet (no publisher joined) is not an error.
            let _ = tx.send(Encoded::Video {
                frame,
                au: Bytes::from(au),
            });
            sent += 1;
        }
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
