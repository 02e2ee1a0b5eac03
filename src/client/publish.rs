//! `vcall publish`: sources are read and encoded on their own threads, paced by one capture
//! clock (frame n of a source at t0 + n / rate), and their RTP timestamps come from that same
//! clock, so audio and video stay in sync. The async side only packetizes and sends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::cli::PublishArgs;
use crate::client::adapt::{Adapter, Rates};
use crate::client::connect::{report_path, report_rejoin};
use crate::client::encoding::{
    Encoded, Encoding, Schedule, Wake, send, sleep_until, ticks, wait_for,
};
use crate::client::file_video::{Transcode, file_video_thread};
use crate::client::progress::Progress;
use crate::client::stats::{Figures, Monitor, Tracks, stats_ticker};
use crate::client::watch::{MediaWatch, SETUP_ATTEMPT};
use crate::client::{Conn, Joined, Purpose, disconnected_failure, join};
use crate::codec::{OPUS_FRAME, OpusEncoder, VideoEncoder};
use crate::congestion::Degradation;
use crate::congestion::{Allocation, Budget, VIDEO_FLOOR_BPS, split_layers};
use crate::exit::{CmdResult, Exit, Failure};
use crate::media::file::{FileAudio, FileCodec, FileVideo};
use crate::media::sources::{
    self, AudioSource, AudioSpec, Tone, VideoSource, VideoSpec, WavSource, Y4mSource,
};
use crate::peer::{
    LocalTrack, Network, Peer, PeerConfig, PeerState, Section, SendEstimate, SendRate,
};
use crate::session::{MediaPath, Reason, SessionEvent, StreamId, SubscriptionId, now_ms};
use crate::signaling::Client;
use crate::signaling::native::DirectRequest;
use crate::signaling::negotiate::Side;
use crate::vocab::Codec;

/// How long the frames still queued at the end may take to go out.
const PUMP_DRAIN: Duration = Duration::from_secs(2);

/// How long a publish that ends waits for the far end to confirm its last packets.
const DELIVERY_WAIT: Duration = Duration::from_secs(1);

/// A raw picture this far behind its time is not encoded.
const MAX_LATE: Duration = Duration::from_millis(500);

/// How often the encoders' rates follow the send estimates.
const ADAPT_INTERVAL: Duration = Duration::from_millis(100);

/// How often the media path to the server is looked at.
const MEDIA_CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// How long ICE/DTLS may take before the publish fails.
const CONNECT_LIMIT: Duration = Duration::from_secs(20);

/// Video to publish: raw pictures and their encoder, or a media file (sent as it is or
/// encoded again, as `Transcode` and the far end decide).
pub enum VideoInput {
    Raw(Box<dyn VideoSource>, Box<VideoEncoder>),
    File(Box<FileVideo>, Box<VideoEncoder>, Transcode),
    /// Raw pictures sent as simulcast: an encoder per layer (the largest first, each half
    /// the size of the one before) with its rate.
    Simulcast(Box<dyn VideoSource>, Vec<(VideoEncoder, u32)>),
}

/// Sound to publish and its encoder.
pub type AudioInput = (Box<dyn AudioSource>, OpusEncoder);

/// The sources a publish will read, with their encoders, ready before anything connects.
pub struct Sources {
    pub video: Option<VideoInput>,
    pub audio: Option<AudioInput>,
    /// The codecs the video may go out in, the preferred first: a file's own when it is sent
    /// as it is, `--video-codec`'s, or H.264, VP8 then VP9 for the far end to choose.
    pub video_codecs: Vec<Codec>,
}

/// What `vcall publish` was asked to do, read from the flags once.
pub struct Settings {
    pub conn: Conn,
    /// `--impair`: the network media goes through.
    pub network: Network,
    /// The stream's name.
    pub name: String,
    pub media: Media,
    pub degradation: Degradation,
    pub duration: Option<Duration>,
    pub stats_interval: Option<Duration>,
    pub json: bool,
}

impl Settings {
    pub fn new(args: &PublishArgs) -> Settings {
        Settings {
            conn: Conn::from_args(&args.conn),
            network: Network::new(args.impair.impair.as_ref()),
            name: args.name.clone(),
            media: Media {
                video: (!args.no_video).then(|| match &args.file {
                    Some(f) => VideoSpec::File(f.clone()),
                    None => args.video.clone(),
                }),
                audio: (!args.no_audio).then(|| match &args.file {
                    Some(f) => AudioSpec::File(f.clone()),
                    None => args.audio.clone(),
                }),
                width: args.width,
                height: args.height,
                fps: args.fps,
                video_bitrate: args.video_bitrate,
                audio_bitrate: args.audio_bitrate,
                keyframe_interval: args.keyframe_interval.max(1),
                looping: args.looping,
                start: args.start.map_or(0.0, |d| d.as_secs_f64()),
                transcode: args.transcode,
                whole_file: args.file.is_some(),
                video_codec: args.video_codec.codec(),
                simulcast: args.simulcast.unwrap_or(0),
            },
            degradation: args.degradation,
            duration: args.duration,
            stats_interval: args.stats_interval,
            json: args.json,
        }
    }

    /// An in-process publisher (the demo's): `media` to `conn`, as the flags' defaults
    /// have everything else.
    pub fn new_default(conn: Conn, name: &str, media: Media) -> Settings {
        Settings {
            conn,
            network: Network::default(),
            name: name.into(),
            media,
            degradation: Degradation::default(),
            duration: None,
            stats_interval: None,
            json: false,
        }
    }
}

/// What is published and how it is encoded.
#[derive(Debug, Clone)]
pub struct Media {
    /// The sources; `None`: none of that kind.
    pub video: Option<VideoSpec>,
    pub audio: Option<AudioSpec>,
    /// For the camera and the test pattern.
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    /// The most congestion control may spend on each kind, bits per second.
    pub video_bitrate: u32,
    pub audio_bitrate: u32,
    /// Frames between keyframes (at least 1).
    pub keyframe_interval: u32,
    /// File sources start again at their end.
    pub looping: bool,
    /// Media files: from this far in (seconds).
    pub start: f64,
    /// Media files: whether their video may be sent as it is.
    pub transcode: Transcode,
    /// The sources are one file's (`--file`): a kind it lacks is not sent, not an error.
    pub whole_file: bool,
    /// `--video-codec`: the one video is encoded to; `None`: the far end chooses.
    pub video_codec: Option<Codec>,
    /// `--simulcast`: how many layers raw pictures go out in (0 or 1: one stream).
    pub simulcast: u8,
}

impl Media {
    /// 640x480 at 30 fps with the flags' default rates.
    pub fn vga(video: VideoSpec, audio: AudioSpec) -> Media {
        Media {
            video: Some(video),
            audio: Some(audio),
            width: 640,
            height: 480,
            fps: 30.0,
            video_bitrate: 1_000_000,
            audio_bitrate: 48_000,
            keyframe_interval: 60,
            looping: false,
            start: 0.0,
            transcode: Transcode::Auto,
            whole_file: false,
            video_codec: None,
            simulcast: 0,
        }
    }

    /// The codecs encoded video may go out in, the preferred first.
    fn encoded_codecs(&self) -> Vec<Codec> {
        match self.video_codec {
            Some(codec) => vec![codec],
            None => vec![Codec::H264, Codec::Vp8, Codec::Vp9],
        }
    }
}

pub fn open_sources(args: &Media) -> Result<Sources, Failure> {
    let video = match &args.video {
        None => None,
        Some(spec) => open_video(spec.clone(), args)?,
    };
    let audio = open_audio(args)?;
    if video.is_none() && audio.is_none() {
        return Err(Failure::new(
            Exit::Usage,
            "nothing to publish: the file has neither video nor audio to send",
        ));
    }
    let video_codecs = match &video {
        None => Vec::new(),
        Some(VideoInput::File(file, _, policy)) if *policy != Transcode::Always => {
            match file.codec {
                FileCodec::Sendable(codec) => vec![codec],
                FileCodec::Other => args.encoded_codecs(),
            }
        }
        Some(_) => args.encoded_codecs(),
    };
    Ok(Sources {
        video,
        audio,
        video_codecs,
    })
}

/// `None`: a `--file` without video.
fn open_video(spec: VideoSpec, args: &Media) -> Result<Option<VideoInput>, Failure> {
    Ok(Some(match spec {
        VideoSpec::File(p) => {
            match FileVideo::open(&p, args.start, args.looping, !args.whole_file)? {
                Some(file) => file_video(file, args)?,
                None => {
                    tracing::info!("{}: no video in the file: audio only", p.display());
                    return Ok(None);
                }
            }
        }
        VideoSpec::TestSrc(pattern) => raw_video(
            Box::new(sources::TestSrc::new(
                args.width,
                args.height,
                args.fps,
                pattern,
            )?),
            args,
        )?,
        VideoSpec::Y4m(p) => raw_video(Box::new(Y4mSource::open(Some(&p), args.looping)?), args)?,
        VideoSpec::Stdin => raw_video(Box::new(Y4mSource::open(None, false)?), args)?,
        VideoSpec::Camera(which) => raw_video(
            crate::media::devices::open_camera(
                which.as_deref(),
                args.width,
                args.height,
                args.fps,
            )?,
            args,
        )?,
    }))
}

fn open_audio(args: &Media) -> Result<Option<AudioInput>, Failure> {
    let Some(spec) = &args.audio else {
        return Ok(None);
    };
    let src = match spec.clone() {
        AudioSpec::Tone(hz) => Box::new(Tone::new(hz)) as Box<dyn AudioSource>,
        AudioSpec::Wav(p) => Box::new(WavSource::open(&p, args.looping)?),
        AudioSpec::File(p) => {
            match FileAudio::open(&p, args.start, args.looping, !args.whole_file)? {
                Some(file) => Box::new(file),
                None => {
                    tracing::info!("{}: no audio in the file: video only", p.display());
                    return Ok(None);
                }
            }
        }
        AudioSpec::Mic(which) => crate::media::devices::open_mic(which.as_deref())?,
    };
    Ok(Some((src, OpusEncoder::new(args.audio_bitrate)?)))
}

/// A file's video with what `--transcode` and its codec allow: sent as it is when it can
/// be, encoded to H.264 otherwise (logged, with the reason).
fn file_video(file: FileVideo, args: &Media) -> Result<VideoInput, Failure> {
    if args.simulcast > 1 {
        return Err(Failure::new(
            Exit::Usage,
            "--simulcast encodes raw pictures (the test pattern, a camera, y4m); a media file goes as one stream",
        ));
    }
    let name = file.name().to_string();
    let forced_other = match (args.video_codec, file.codec) {
        (Some(wanted), FileCodec::Sendable(has)) => wanted != has,
        _ => false,
    };
    let policy = match (args.transcode, file.codec) {
        (Transcode::Always, _) => Transcode::Always,
        (Transcode::Never, _) if forced_other => {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "{name}: its {} video cannot be sent as {} without encoding it: use --transcode auto",
                    file.codec_name,
                    args.video_codec.map_or("", |c| c.name()),
                ),
            ));
        }
        (Transcode::Auto, _) if forced_other => {
            tracing::info!(
                "{name}: {} video encoded to {} (--video-codec)",
                file.codec_name,
                args.video_codec.map_or("", |c| c.name()),
            );
            Transcode::Always
        }
        (Transcode::Never, FileCodec::Other) => {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "{name}: its {} video cannot be sent as it is (vcall sends H.264 and VP8 as they are): use --transcode auto",
                    file.codec_name
                ),
            ));
        }
        (Transcode::Never, _) if file.reorders => {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "{name}: its {} video has B-frames, which WebRTC receivers do not reorder: use --transcode auto",
                    file.codec_name
                ),
            ));
        }
        // VP8 is sent as it is: vcall encodes only H.264, and a VP8 track cannot switch.
        (_, FileCodec::Sendable(Codec::Vp8)) if !file.reorders => {
            if args.transcode == Transcode::Auto {
                tracing::info!(
                    "{name}: VP8 sent as it is; keyframe requests wait for the file's keyframes and the path's rate is not followed (--transcode always: H.264)"
                );
            }
            Transcode::Never
        }
        (policy, _) => {
            if !file.sendable() {
                let why = match file.reorders {
                    true => "it has B-frames, which WebRTC receivers do not reorder",
                    false => "vcall sends H.264 and VP8 as they are",
                };
                tracing::info!("{name}: {} video encoded again: {why}", file.codec_name);
            }
            policy
        }
    };
    // What the file is encoded to: its own codec when it is also sent as it is.
    let codec = match (policy, file.codec) {
        (Transcode::Always, _) | (_, FileCodec::Other) => args.encoded_codecs()[0],
        (_, FileCodec::Sendable(codec)) => codec,
    };
    let enc = VideoEncoder::new(
        codec,
        file.fps as f32,
        args.video_bitrate,
        args.keyframe_interval,
    )?;
    Ok(VideoInput::File(Box::new(file), Box::new(enc), policy))
}

impl Sources {
    /// What congestion control may spend: video between its floor and `--video-bitrate`
    /// (its frame rate adapted only for raw pictures), audio at `--audio-bitrate`.
    pub fn budget(&self, args: &Media) -> Budget {
        let (size, fps) = match &self.video {
            Some(VideoInput::Raw(src, _)) | Some(VideoInput::Simulcast(src, _)) => {
                (src.size(), src.fps())
            }
            Some(VideoInput::File(file, _, _)) => {
                let (w, h) = file.size;
                ((w as usize, h as usize), file.fps)
            }
            None => ((0, 0), 0.0),
        };
        // A file sent as it is may go up to half again its own bitrate.
        let file_rate = match &self.video {
            Some(VideoInput::File(file, _, policy)) if *policy != Transcode::Always => {
                file.bitrate().map_or(0, |b| b.saturating_add(b / 2))
            }
            _ => 0,
        };
        Budget {
            video_floor: VIDEO_FLOOR_BPS,
            video_ceiling: match &self.video {
                Some(VideoInput::Simulcast(_, layers)) => layers.iter().map(|l| l.1).sum(),
                Some(_) => args.video_bitrate.max(file_rate),
                None => 0,
            },
            audio: if self.audio.is_some() {
                args.audio_bitrate
            } else {
                0
            },
            size,
            fps,
        }
    }
}

/// A raw source with an encoder for its size and rate (of the preferred codec: the
/// negotiated one replaces it when another, [`Sending::start`]).
fn raw_video(src: Box<dyn VideoSource>, args: &Media) -> Result<VideoInput, Failure> {
    let fps = src.fps() as f32;
    let encoder = |bitrate| {
        VideoEncoder::new(
            args.encoded_codecs()[0],
            fps,
            bitrate,
            args.keyframe_interval,
        )
    };
    if args.simulcast < 2 {
        return Ok(VideoInput::Raw(src, Box::new(encoder(args.video_bitrate)?)));
    }
    let (width, height) = src.size();
    if width >> (args.simulcast - 1) < 16 || height >> (args.simulcast - 1) < 16 {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "--simulcast {}: {width}x{height} is too small for its smallest layer (each layer is half the size of the one above)",
                args.simulcast
            ),
        ));
    }
    let layers = (0..args.simulcast)
        .map(|i| {
            let rate = simulcast_rate(args.video_bitrate, i);
            encoder(rate).map(|e| (e, rate))
        })
        .collect::<Result<_, _>>()?;
    Ok(VideoInput::Simulcast(src, layers))
}

/// The rate of simulcast layer `i` (0: the largest, at `top`): a third of the one above, as
/// 1.5 Mbit/s at 720p, 500 kbit/s at 360p and 150 kbit/s at 180p are (browsers' own).
fn simulcast_rate(top: u32, i: u8) -> u32 {
    (top / 3u32.pow(u32::from(i))).max(VIDEO_FLOOR_BPS / 2)
}

/// The rids of simulcast layers, the largest first (as LiveKit names them: full, half,
/// quarter).
const RIDS: [&str; 3] = ["f", "h", "q"];

/// Encodes each picture of `src` once per simulcast layer that sends (the largest first,
/// each half the size of the one above), the total rate `rates` gives split over them
/// ([`split_layers`]: the largest paused first); a layer sent again after a pause starts
/// with a keyframe, and each layer makes one when its own far end asks (`keys`).
fn simulcast_thread(
    mut src: Box<dyn VideoSource>,
    layers: Vec<(VideoEncoder, u32)>,
    t0: (Instant, u64),
    stop: Arc<AtomicBool>,
    keys: Vec<Arc<AtomicBool>>,
    rates: Option<Arc<Rates>>,
    tx: mpsc::Sender<Encoded>,
) -> Result<(), Failure> {
    let fps = src.fps();
    let targets: Vec<u32> = layers.iter().map(|l| l.1).collect();
    let mut encoders: Vec<Encoding> = layers.into_iter().map(|l| Encoding::new(l.0)).collect();
    let mut paused = vec![false; encoders.len()];
    let scales: Vec<u32> = (0..encoders.len()).map(|i| 1 << i).collect();
    let live = src.live();
    let mut schedule = Schedule::new(fps);
    let any_asked = || keys.iter().any(|k| k.load(Ordering::Relaxed));
    for n in 0u64.. {
        let offset = schedule.at(n);
        let asked = || live && schedule.may_move() && any_asked();
        let times = (t0.0 + offset, t0.0 + schedule.earliest(n));
        let early = match wait_for(times, &stop, asked) {
            Wake::Stop => break,
            Wake::Due => false,
            Wake::Asked => true,
        };
        let capture_ms = t0.1 + offset.as_millis() as u64;
        let late = live && Instant::now().saturating_duration_since(t0.0 + offset) > MAX_LATE;
        if late {
            if !src.skip(capture_ms)? {
                break;
            }
            continue;
        }
        let Some(pictures) = src.next_layers(capture_ms, &scales)? else {
            break;
        };
        let total = rates
            .as_ref()
            .map_or(targets.iter().sum(), |r| r.get().video_bps);
        let split = split_layers(total, &targets);
        let ticks = ticks(offset);
        // The largest layer sending reports its QP and carries the probes (H.264's filler)
        // that let an estimate the smaller layers leave idle climb to the next.
        let largest = split.iter().position(|&bps| bps > 0);
        for (i, enc) in encoders.iter_mut().enumerate() {
            if split[i] == 0 {
                // Its keyframe comes when it resumes: a request meanwhile moves no picture.
                paused[i] = true;
                keys[i].store(false, Ordering::Relaxed);
                continue;
            }
            let picture = &pictures[i];
            let allocation = Allocation {
                video_bps: split[i],
                fps_divisor: 1,
                scale: 1,
                audio_bps: 0,
                hold: false,
            };
            let resumed = std::mem::take(&mut paused[i]);
            let probing = rates.as_deref().filter(|_| largest == Some(i));
            let encoded = enc.encode(
                picture,
                fps as f32,
                Some(allocation),
                &keys[i],
                probing,
                resumed,
            )?;
            let Some((data, key)) = encoded else { continue };
            let frame = Encoded {
                data: bytes::Bytes::from(data),
                ticks,
                key,
                layer: i,
            };
            if tx.blocking_send(frame).is_err() {
                return Ok(());
            }
        }
        schedule.taken(early, any_asked());
    }
    Ok(())
}

fn video_thread(
    mut src: Box<dyn VideoSource>,
    enc: VideoEncoder,
    t0: (Instant, u64),
    stop: Arc<AtomicBool>,
    keyframe: Arc<AtomicBool>,
    rates: Option<Arc<Rates>>,
    tx: mpsc::Sender<Encoded>,
) -> Result<(), Failure> {
    let fps = src.fps();
    let live = src.live();
    let mut encoding = Encoding::new(enc);
    let mut schedule = Schedule::new(fps);
    for n in 0u64.. {
        let offset = schedule.at(n);
        // Early only for a keyframe the encoder will make now, on a picture the frame rate
        // keeps.
        let asked = || {
            if !(live && schedule.may_move() && keyframe.load(Ordering::Relaxed)) {
                return false;
            }
            let want = rates.as_ref().map(|r| r.get());
            want.is_none_or(|w| w.fps_divisor == 1) && encoding.key_due(want, Instant::now())
        };
        let times = (t0.0 + offset, t0.0 + schedule.earliest(n));
        let early = match wait_for(times, &stop, asked) {
            Wake::Stop => break,
            Wake::Due => false,
            Wake::Asked => true,
        };
        let capture_ms = t0.1 + offset.as_millis() as u64;
        let want = rates.as_ref().map(|r| r.get());
        // A lowered frame rate: every `fps_divisor`-th picture is encoded. A picture whose
        // time is long past (a machine too busy to keep up) is passed over, as a camera drops
        // frames, so that the delay does not grow without end.
        let divisor = want.map_or(1, |w| u64::from(w.fps_divisor));
        let late = live && Instant::now().saturating_duration_since(t0.0 + offset) > MAX_LATE;
        if n % divisor != 0 || late {
            if !src.skip(capture_ms)? {
                break;
            }
            continue;
        }
        let Some(img) = src.next_scaled(capture_ms, want.map_or(1, |w| w.scale))? else {
            break;
        };
        let rate = (fps / divisor as f64) as f32;
        let encoded = encoding.encode(&img, rate, want, &keyframe, rates.as_deref(), false)?;
        schedule.taken(early, keyframe.load(Ordering::Relaxed));
        let Some((data, key)) = encoded else {
            src.unsent();
            continue;
        };
        if !send(&tx, data, ticks(offset), key) {
            break;
        }
    }
    Ok(())
}

fn audio_thread(
    mut src: Box<dyn AudioSource>,
    mut enc: OpusEncoder,
    t0: (Instant, u64),
    stop: Arc<AtomicBool>,
    rates: Option<Arc<Rates>>,
    tx: mpsc::Sender<Encoded>,
) -> Result<(), Failure> {
    let mut pcm = [0i16; OPUS_FRAME];
    let mut applied = rates.as_ref().map(|r| r.get().audio_bps);
    for m in 0u64.. {
        if !sleep_until(t0.0 + Duration::from_millis(20 * m), &stop) {
            break;
        }
        if !src.next(t0.1 + 20 * m, &mut pcm)? {
            break;
        }
        let want = rates.as_ref().map(|r| r.get().audio_bps);
        if let Some(bps) = want.filter(|w| Some(*w) != applied) {
            enc.set_bitrate(bps)?;
            applied = Some(bps);
        }
        let data = enc.encode(&pcm)?;
        if !send(&tx, data, m * OPUS_FRAME as u64, false) {
            break;
        }
    }
    Ok(())
}

/// Sends a source's frames on every track it has now (the server's connection, direct ones
/// to subscribers; a new connection after joining again), counting those that went out on
/// any. RTP time stays on the capture clock throughout.
async fn pump(
    codec: Codec,
    tracks: watch::Receiver<Vec<Arc<LocalTrack>>>,
    mut rx: mpsc::Receiver<Encoded>,
    progress: Progress,
    figures: Option<Figures>,
) -> Result<(), Failure> {
    let base: u32 = rand::random();
    let video = codec != Codec::Opus;
    while let Some(frame) = rx.recv().await {
        let tracks = tracks.borrow().clone();
        let len = frame.data.len();
        if let Some(f) = figures.as_ref().filter(|_| frame.layer == 0) {
            let mut f = f.lock().expect("figures lock");
            f.frame(codec, &frame.data, frame.key, Instant::now());
        }
        let mut sent = false;
        let timestamp = base.wrapping_add(frame.ticks as u32);
        for track in &tracks {
            // A simulcast track takes each layer's frames; any other (a direct connection's)
            // the largest layer's.
            let data = frame.data.clone();
            let out = match (track.is_simulcast(), frame.layer) {
                (true, layer) => track.send_layer_frame(layer, data, timestamp).await,
                (false, 0) => track.send_frame(data, timestamp).await,
                (false, _) => continue,
            };
            // A connection that is going away drops what it cannot send.
            match out {
                Ok(_) => sent = true,
                Err(e) => tracing::debug!("a frame not sent: {e}"),
            }
        }
        if sent {
            progress.add(video, len as u64);
        }
    }
    Ok(())
}

/// Waits for the media connection to the server; its failure is a media failure (exit 8).
pub(crate) async fn media_connected(peer: &Peer) -> Result<(), Failure> {
    peer.connected(CONNECT_LIMIT).await.map_err(|e| {
        Failure::new(
            Exit::Media,
            format!("media connection to the server failed: {e}"),
        )
    })
}

/// A fresh media stream id for the tracks of one published stream (how the server tells
/// one publish's tracks from another's on the same connection).
pub(crate) fn new_msid() -> String {
    format!("vcall-{:016x}", rand::random::<u64>())
}

/// The SSRCs of a publish's tracks, the same on every connection they go out on (the
/// server's, direct ones, a new one after joining again), so its figures find them on any.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ssrcs {
    pub video: u32,
    pub audio: u32,
    /// Simulcast layers (0: none), the largest's SSRC `video`, the others' `simulcast`'s.
    pub layers: u8,
    pub simulcast: [u32; 2],
}

impl Ssrcs {
    pub fn random() -> Ssrcs {
        Ssrcs {
            video: rand::random(),
            audio: rand::random(),
            layers: 0,
            simulcast: rand::random(),
        }
    }

    /// With `layers` simulcast layers (0 or 1: one stream).
    pub fn with_layers(self, layers: u8) -> Ssrcs {
        Ssrcs {
            layers: if layers > 1 { layers.min(3) } else { 0 },
            ..self
        }
    }

    /// The simulcast layers' rids and SSRCs, the largest first (none without simulcast).
    fn layers(&self) -> Vec<(String, u32)> {
        std::iter::once(self.video)
            .chain(self.simulcast)
            .zip(RIDS)
            .take(usize::from(self.layers))
            .map(|(ssrc, rid)| (rid.to_owned(), ssrc))
            .collect()
    }
}

/// A publish's tracks on one connection (video, audio).
pub(crate) type TrackPair = (Option<Arc<LocalTrack>>, Option<Arc<LocalTrack>>);

/// Adds a track for each source: video in the first of `video_codecs` or another of them
/// the far end's answer chooses (none: no video), and Opus, both carrying the media stream
/// id `msid`; send-only, or also receiving what comes back in the same sections with `echo`.
pub(crate) async fn add_tracks(
    peer: &Peer,
    (video_codecs, has_audio): (&[Codec], bool),
    msid: &str,
    echo: bool,
    ssrcs: Ssrcs,
) -> Result<TrackPair, Failure> {
    let section = if echo {
        Section::Echo
    } else {
        Section::SendOnly
    };
    let add = |codecs, ssrc| async move {
        let track = peer.add_track(codecs, msid, None, ssrc, section).await?;
        Ok::<_, Failure>(Arc::new(track))
    };
    let video = match (video_codecs.is_empty(), ssrcs.layers) {
        (true, _) => None,
        (false, 0) => Some(add(video_codecs, ssrcs.video).await?),
        (false, _) => {
            let track = peer
                .add_simulcast_track(video_codecs, msid, ssrcs.layers())
                .await?;
            Some(Arc::new(track))
        }
    };
    let audio = match has_audio {
        true => Some(add(&[Codec::Opus], ssrcs.audio).await?),
        false => None,
    };
    Ok((video, audio))
}

impl Sources {
    /// The codecs these sources may send: the video's ([`Sources::video_codecs`]) and
    /// whether there is Opus audio.
    pub(crate) fn codecs(&self) -> (&[Codec], bool) {
        (&self.video_codecs, self.audio.is_some())
    }
}

/// The sources running: one thread each on one capture clock, their frames pumped onto the
/// tracks, keyframes made when the far end asks.
pub(crate) struct Sending {
    pub stop: Arc<AtomicBool>,
    /// A source's end (`Ok`) or failure.
    pub done: mpsc::Receiver<Result<(), Failure>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// The tasks sending the sources' frames on the tracks.
    pumps: Vec<tokio::task::JoinHandle<Result<(), Failure>>>,
    /// The tracks the pumps send on (video, audio).
    targets: (Option<Target>, Option<Target>),
    /// Set to make the video encoder's next frame a keyframe (one per simulcast layer, the
    /// largest's first).
    keys: Vec<Arc<AtomicBool>>,
    /// The video's thread, woken when a keyframe is asked for (a live source's is made at
    /// once: `encoding::Schedule`).
    wake: Option<std::thread::Thread>,
}

/// The tracks a pump sends on.
type Target = watch::Sender<Vec<Arc<LocalTrack>>>;

/// Makes a keyframe whenever the far end of `track` asks: of the simulcast layer it asks
/// of (`keys` has one flag per layer, the largest's first; one without simulcast), the
/// video's thread (`wake`) woken to make it at once.
fn keyframes_on_request(
    track: Arc<LocalTrack>,
    keys: Vec<Arc<AtomicBool>>,
    wake: Option<std::thread::Thread>,
) {
    tokio::spawn(async move {
        while let Some(ssrc) = track.keyframe_request().await {
            let layer = track.layer_of(ssrc).unwrap_or(0);
            tracing::debug!(layer, "keyframe requested");
            if let Some(key) = keys.get(layer) {
                key.store(true, Ordering::Relaxed);
                if let Some(t) = &wake {
                    t.unpark();
                }
            }
        }
    });
}

impl Sending {
    /// Starts the sources, sending on `tracks` (none yet for a direct stream), counting
    /// into `stats` by `ssrcs`; the encoders follow `rates` when given.
    pub fn start(
        sources: Sources,
        (video_track, audio_track): TrackPair,
        ssrcs: Ssrcs,
        progress: &Progress,
        stats: Option<&Tracks>,
        rates: Option<Arc<Rates>>,
    ) -> Sending {
        // The video goes out in its track's codec (the one the far end chose), or for a
        // direct stream in the preferred one.
        let video_codec = video_track
            .as_ref()
            .map(|t| t.codec())
            .or(sources.video_codecs.first().copied());
        let stop = Arc::new(AtomicBool::new(false));
        let layers = match &sources.video {
            Some(VideoInput::Simulcast(_, l)) => l.len(),
            _ => 1,
        };
        let keys: Vec<Arc<AtomicBool>> = (0..layers).map(|_| Arc::default()).collect();
        let keyframe = Arc::clone(&keys[0]);
        let t0 = (Instant::now(), now_ms());
        let (done_tx, done) = mpsc::channel::<Result<(), Failure>>(4);
        let mut threads = Vec::new();
        let mut pumps = Vec::new();
        let mut targets = (None, None);
        let mut wake = None;
        if let (Some(input), Some(codec)) = (sources.video, video_codec) {
            let (tx, rx) = mpsc::channel(8);
            let (stop2, key2) = (Arc::clone(&stop), Arc::clone(&keyframe));
            let done = done_tx.clone();
            let rates2 = rates.clone();
            let keys2 = keys.clone();
            let thread = std::thread::spawn(move || {
                let r = match input {
                    VideoInput::Simulcast(src, mut layers) => layers
                        .iter_mut()
                        .try_for_each(|(enc, _)| enc.switch(codec))
                        .map_err(Failure::from)
                        .and_then(|()| simulcast_thread(src, layers, t0, stop2, keys2, rates2, tx)),
                    VideoInput::Raw(src, mut enc) => enc
                        .switch(codec)
                        .map_err(Failure::from)
                        .and_then(|()| video_thread(src, *enc, t0, stop2, key2, rates2, tx)),
                    VideoInput::File(file, mut enc, policy) => match enc.switch(codec) {
                        Err(e) => Err(e.into()),
                        Ok(()) => file_video_thread(
                            *file,
                            Encoding::new(*enc),
                            policy,
                            t0.0,
                            stop2,
                            key2,
                            rates2,
                            tx,
                        ),
                    },
                };
                let _ = done.blocking_send(r);
            });
            wake = Some(thread.thread().clone());
            threads.push(thread);
            let figures = stats.map(|s| s.add(codec, ssrcs.video));
            if let Some(track) = &video_track {
                keyframes_on_request(Arc::clone(track), keys.clone(), wake.clone());
            }
            let (target, current) = watch::channel(video_track.into_iter().collect());
            targets.0 = Some(target);
            let progress = progress.clone();
            pumps.push(tokio::spawn(pump(codec, current, rx, progress, figures)));
        }
        if let Some((src, enc)) = sources.audio {
            let (tx, rx) = mpsc::channel(8);
            let stop2 = Arc::clone(&stop);
            let done = done_tx.clone();
            threads.push(std::thread::spawn(move || {
                let r = audio_thread(src, enc, t0, stop2, rates, tx);
                let _ = done.blocking_send(r);
            }));
            let figures = stats.map(|s| s.add(Codec::Opus, ssrcs.audio));
            let (target, current) = watch::channel(audio_track.into_iter().collect());
            targets.1 = Some(target);
            let progress = progress.clone();
            pumps.push(tokio::spawn(pump(
                Codec::Opus,
                current,
                rx,
                progress,
                figures,
            )));
        }
        Sending {
            stop,
            done,
            threads,
            pumps,
            targets,
            keys,
            wake,
        }
    }

    /// Sends on these tracks (a new connection's) too from now on, starting with a keyframe.
    pub fn attach(&self, (video, audio): TrackPair) {
        if let (Some(target), Some(track)) = (&self.targets.0, video) {
            keyframes_on_request(Arc::clone(&track), self.keys.clone(), self.wake.clone());
            target.send_modify(|t| t.push(track));
            for key in &self.keys {
                key.store(true, Ordering::Relaxed);
            }
            if let Some(t) = &self.wake {
                t.unpark();
            }
        }
        if let (Some(target), Some(track)) = (&self.targets.1, audio) {
            target.send_modify(|t| t.push(track));
        }
    }

    /// Stops sending on every track (the connections are going away).
    pub fn clear(&self) {
        for target in [&self.targets.0, &self.targets.1].into_iter().flatten() {
            target.send_modify(Vec::clear);
        }
    }

    /// Stops sending on these tracks (a connection going away).
    pub fn detach(&self, (video, audio): &TrackPair) {
        for (target, track) in [(&self.targets.0, video), (&self.targets.1, audio)] {
            if let (Some(target), Some(track)) = (target, track) {
                target.send_modify(|t| t.retain(|x| !Arc::ptr_eq(x, track)));
            }
        }
    }

    /// Stops the sources, waits for their threads, and lets the frames already encoded go out
    /// (so every count agrees on what was sent).
    pub async fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
        for pump in self.pumps {
            // A connection that no longer takes packets must not hold the exit up.
            if let Ok(Ok(Err(e))) = tokio::time::timeout(PUMP_DRAIN, pump).await {
                tracing::debug!("sending the last frames: {e}");
            }
        }
    }
}

/// What ended a publish.
enum End {
    Duration,
    Interrupted,
    SourceEnded,
}

/// Everything a running publish waits for.
enum Event {
    /// `--duration` has passed.
    DurationReached,
    /// Ctrl-C, or the caller's stop.
    Interrupted,
    /// A source ended (`Ok`) or failed.
    SourceDone(Option<Result<(), Failure>>),
    /// Time to redraw the progress line.
    ProgressDue,
    /// Time for `--stats-interval`'s figures.
    StatsDue,
    /// Time for the encoders to follow the send estimates.
    AdaptDue,
    /// The server has not confirmed the stream within [`CONNECT_LIMIT`].
    ConfirmOverdue,
    /// The server connection's state changed (`false`: it failed or closed).
    ServerConnection(bool),
    /// Time to look at the media path (a broken one is restarted).
    MediaCheckDue,
    /// The server asks something of a direct stream's publisher (`None`: it no longer can).
    Direct(Option<DirectRequest>),
    /// The session said something (`None`: its connection is gone).
    Session(Option<SessionEvent>),
}

/// A stream published through the server on one connection.
struct Live {
    peer: Peer,
    tracks: TrackPair,
    stream_id: StreamId,
    /// When its media was negotiated (the connection should come up from then on).
    negotiated: Instant,
}

/// What a publish needs to make a connection for its tracks.
struct Plan {
    client: Client,
    peer_config: PeerConfig,
    /// The video's codecs ([`Sources::video_codecs`]; once a server's connection chose, that
    /// one only: one encoder feeds every connection) and whether there is audio.
    codecs: (Vec<Codec>, bool),
    ssrcs: Ssrcs,
    name: String,
}

/// Publishes through the server on a new connection, and waits for its media to flow (one
/// attempt's time at most: a connection that has not come up by then is the event loop's
/// [`MediaWatch`]'s to set up anew); `again`: the id the stream had before the client joined
/// again, or the id of the direct stream to route through the server.
async fn go_live(plan: &Plan, again: Option<&StreamId>, wait: Duration) -> Result<Live, Failure> {
    let (peer, _tracks) = Peer::new(&plan.peer_config).await?;
    let msid = new_msid();
    let codecs = (plan.codecs.0.as_slice(), plan.codecs.1);
    let tracks = add_tracks(&peer, codecs, &msid, false, plan.ssrcs).await?;
    let media = (tracks.1.is_some(), tracks.0.is_some());
    let negotiated = Instant::now();
    let stream_id = plan
        .client
        .publish(&peer, &plan.name, media, &msid, again)
        .await?;
    // A far end that took none of a section's codecs is said now, naming what it took.
    for track in [&tracks.0, &tracks.1].into_iter().flatten() {
        if let Err(e) = track.ready().await {
            peer.close().await;
            return Err(e.into());
        }
    }
    tracing::info!(
        stream = %stream_id,
        video_ssrc = plan.ssrcs.video,
        audio_ssrc = plan.ssrcs.audio,
        "publishing"
    );
    if let Err(e) = peer.connected(wait).await {
        tracing::info!(stream = %stream_id, "the media connection has not come up: {e}");
    }
    Ok(Live {
        peer,
        tracks,
        stream_id,
        negotiated,
    })
}

/// Publishes directly (a peer-to-peer session): the stream is announced, and its media goes
/// to each subscriber that asks, on a connection of its own.
async fn go_direct(plan: &Plan, again: Option<&StreamId>) -> Result<StreamId, Failure> {
    let Some(c) = plan.client.peer_to_peer() else {
        return Err(Failure::new(
            Exit::Usage,
            "only a vcall server has peer-to-peer sessions",
        ));
    };
    let media = (plan.codecs.1, !plan.codecs.0.is_empty());
    let stream_id = c.publish_direct(&plan.name, media, again).await?;
    tracing::info!(stream = %stream_id, "publishing directly (peer-to-peer)");
    Ok(stream_id)
}

/// A connection directly with one subscriber of a direct stream.
struct DirectOut {
    peer: Arc<Peer>,
    tracks: TrackPair,
}

/// Answers a subscriber's offer on a new connection carrying the stream's tracks.
async fn answer_direct(plan: &Plan, offer: &str) -> Result<(DirectOut, String), Failure> {
    let (peer, _tracks) = Peer::new(&plan.peer_config).await?;
    // The answer carries the codec the encoder has (the preferred one, when no server's
    // connection chose).
    let codecs = (&plan.codecs.0[..plan.codecs.0.len().min(1)], plan.codecs.1);
    let tracks = add_tracks(&peer, codecs, &new_msid(), false, plan.ssrcs).await?;
    match peer.accept_offer(offer).await {
        Ok(answer) => Ok((
            DirectOut {
                peer: Arc::new(peer),
                tracks,
            },
            answer,
        )),
        Err(e) => {
            peer.close().await;
            Err(e.into())
        }
    }
}

/// Where a publish's media goes: the server's connection (always, but for a direct stream
/// not routed yet) and the connections directly with subscribers, by subscription.
#[derive(Default)]
struct Outlets {
    server: Option<(Peer, TrackPair)>,
    direct: std::collections::HashMap<SubscriptionId, DirectOut>,
}

impl Outlets {
    /// The connection whose figures `--stats-interval` reports: the server's, else a direct one.
    fn stats_peer(&self) -> Option<&Peer> {
        self.server
            .as_ref()
            .map(|(p, _)| p)
            .or_else(|| self.direct.values().next().map(|d| &*d.peer))
    }

    /// Waits (up to `DELIVERY_WAIT`, all connections at once) until each connection's far
    /// end confirmed the last packet of each of its tracks.
    async fn delivered(&self) {
        let server = self.server.iter().map(|(p, t)| (p, t));
        let direct = self.direct.values().map(|d| (&*d.peer, &d.tracks));
        let waits = server
            .chain(direct)
            .map(|(peer, (video, audio))| async move {
                let tracks: Vec<&LocalTrack> =
                    [video, audio].into_iter().flatten().map(|t| &**t).collect();
                if !peer.delivered(&tracks, DELIVERY_WAIT).await {
                    tracing::debug!("the last packets were not confirmed within {DELIVERY_WAIT:?}");
                }
            });
        futures_util::future::join_all(waits).await;
    }

    /// What each connection may send now.
    fn estimates(&self) -> Vec<SendEstimate> {
        let server = self.server.iter().map(|(p, _)| p.send_estimate());
        let direct = self.direct.values().map(|d| d.peer.send_estimate());
        server.chain(direct).collect()
    }

    fn path(&self) -> MediaPath {
        match (&self.server, self.direct.is_empty()) {
            (None, false) => MediaPath::Direct,
            _ => MediaPath::Routed,
        }
    }

    /// Closes every connection (the direct ones in the background).
    async fn close(&mut self) {
        for (_, d) in self.direct.drain() {
            tokio::spawn(async move { d.peer.close().await });
        }
        if let Some((peer, _)) = self.server.take() {
            peer.close().await;
        }
    }
}

/// Waits for a change of the state of `peer`, if there is one.
async fn state_change(state: &mut Option<watch::Receiver<PeerState>>) -> bool {
    match state {
        Some(s) => s.changed().await.is_ok() && *s.borrow() != PeerState::Closed,
        None => std::future::pending().await,
    }
}

/// Publishes until the duration, the end of the sources, or `stop` (Ctrl-C for the CLI):
/// the sources are opened and the session joined (plan), one event loop follows the
/// session and the connections (run), and the end is reported once everything sent has
/// arrived (report).
pub async fn publish(
    settings: Settings,
    progress: Progress,
    stop: impl std::future::Future<Output = ()>,
) -> CmdResult {
    let sources = open_sources(&settings.media)?;
    let budget = sources.budget(&settings.media);
    let mut joined = join(&settings.conn, settings.network.clone(), Purpose::Publish).await?;
    let (min, max) = budget.range();
    joined.peer_config.send_rate = SendRate {
        min,
        max,
        start: SendRate::PUBLISHER_START,
        take_probes: false,
    };
    let mut publisher = Publisher::start(&settings, sources, budget, joined, progress).await?;
    let outcome = publisher.run(stop).await;
    publisher.report(outcome).await
}

/// A publish under way: its connections, its sources sending on them, and what it knows of
/// the session between events.
struct Publisher {
    plan: Plan,
    events: mpsc::UnboundedReceiver<SessionEvent>,
    /// Whether the session is peer-to-peer (the stream is published directly).
    p2p: bool,
    /// What the server asks of a direct stream's publisher.
    direct_requests: Option<mpsc::UnboundedReceiver<DirectRequest>>,
    outlets: Outlets,
    stream_id: StreamId,
    sending: Sending,
    adapter: Adapter,
    monitor: Option<Monitor>,
    progress: Progress,
    duration: Option<Duration>,
    stats_interval: Option<Duration>,
    json: bool,
    /// The server connection's state, while there is one.
    peer_state: Option<watch::Receiver<PeerState>>,
    /// Whether the server confirmed the stream (`streamCreated`): it receives media.
    confirmed: bool,
    /// Between `reconnecting` and publishing again: the old connection's failure is expected.
    rejoining: bool,
    media_watch: MediaWatch,
}

impl Publisher {
    /// Publishes (through the server, or directly in a peer-to-peer session) and starts the
    /// sources; the session is left cleanly when that fails.
    async fn start(
        args: &Settings,
        sources: Sources,
        budget: Budget,
        joined: Joined,
        progress: Progress,
    ) -> Result<Publisher, Failure> {
        let Joined {
            client,
            first,
            events,
            peer_config,
        } = joined;
        let p2p = matches!(first, SessionEvent::SessionConnected { p2p: true, .. });
        if p2p && args.media.simulcast > 1 {
            client.disconnect().await;
            return Err(Failure::new(
                Exit::Usage,
                "--simulcast needs a forwarding server to pick a layer per viewer; this session is peer-to-peer",
            ));
        }
        let direct_requests = client
            .peer_to_peer()
            .filter(|_| p2p)
            .and_then(|c| c.direct_requests());
        let mut plan = Plan {
            client,
            peer_config,
            codecs: (sources.video_codecs.clone(), sources.audio.is_some()),
            ssrcs: Ssrcs::random().with_layers(args.media.simulcast),
            name: args.name.clone(),
        };
        let mut outlets = Outlets::default();
        let mut media_watch = MediaWatch::new(args.conn.setup_limit());
        let started = match p2p {
            true => go_direct(&plan, None).await,
            false => go_live(&plan, None, media_watch.attempt_time(Instant::now()))
                .await
                .map(|live| {
                    media_watch.negotiated(live.negotiated);
                    if let Some(video) = &live.tracks.0 {
                        tracing::info!("video in {}", video.codec().name());
                        plan.codecs.0 = vec![video.codec()];
                    }
                    outlets.server = Some((live.peer, live.tracks));
                    live.stream_id
                }),
        };
        let stream_id = match started {
            Ok(s) => s,
            Err(e) => {
                plan.client.disconnect().await;
                return Err(e);
            }
        };
        // One encoder feeds every connection: a direct stream's (and a later route's) goes
        // out in the codec it starts with.
        plan.codecs.0.truncate(1);
        let adapter = Adapter::new(budget, args.degradation);
        let monitor = args
            .stats_interval
            .map(|i| Monitor::new(stream_id.as_str(), true, i, args.json, progress.clone()));
        let first_tracks = outlets
            .server
            .as_ref()
            .map_or((None, None), |(_, t)| t.clone());
        let sending = Sending::start(
            sources,
            first_tracks,
            plan.ssrcs,
            &progress,
            monitor.as_ref().map(|m| &m.tracks),
            Some(adapter.rates()),
        );
        Ok(Publisher {
            peer_state: outlets.server.as_ref().map(|(p, _)| p.state()),
            plan,
            events,
            p2p,
            direct_requests,
            outlets,
            stream_id,
            sending,
            adapter,
            monitor,
            progress,
            duration: args.duration,
            stats_interval: args.stats_interval,
            json: args.json,
            confirmed: false,
            rejoining: false,
            media_watch,
        })
    }

    /// The event loop: one `select!` over everything a publish waits for, each [`Event`]
    /// handled in turn, until an [`End`] or a failure.
    async fn run(&mut self, stop: impl std::future::Future<Output = ()>) -> Result<End, Failure> {
        tokio::pin!(stop);
        let duration = sleep_for(self.duration);
        tokio::pin!(duration);
        let confirm_limit = tokio::time::sleep(CONNECT_LIMIT);
        tokio::pin!(confirm_limit);
        let mut stats = stats_ticker(self.stats_interval);
        let mut media_check = tokio::time::interval(MEDIA_CHECK_INTERVAL);
        let mut adapt = tokio::time::interval(ADAPT_INTERVAL);
        loop {
            let waiting = !self.rejoining;
            let event = tokio::select! {
                () = &mut duration => Event::DurationReached,
                () = &mut stop => Event::Interrupted,
                r = self.sending.done.recv() => Event::SourceDone(r),
                _ = self.progress.tick() => Event::ProgressDue,
                _ = stats.tick(), if self.monitor.is_some() => Event::StatsDue,
                _ = adapt.tick() => Event::AdaptDue,
                () = &mut confirm_limit, if !self.confirmed && waiting => Event::ConfirmOverdue,
                alive = state_change(&mut self.peer_state), if waiting => Event::ServerConnection(alive),
                _ = media_check.tick(), if waiting => Event::MediaCheckDue,
                req = async { self.direct_requests.as_mut()?.recv().await },
                    if self.direct_requests.is_some() && waiting => Event::Direct(req),
                ev = self.events.recv() => Event::Session(ev),
            };
            let rejoined = matches!(
                event,
                Event::Session(Some(SessionEvent::Reconnected { .. }))
            );
            if let Some(end) = self.handle(event).await? {
                return Ok(end);
            }
            if rejoined {
                // The stream is published again: its confirmation is awaited from now.
                confirm_limit
                    .as_mut()
                    .reset(tokio::time::Instant::now() + CONNECT_LIMIT);
            }
        }
    }

    async fn handle(&mut self, event: Event) -> Result<Option<End>, Failure> {
        match event {
            Event::DurationReached => return Ok(Some(End::Duration)),
            Event::Interrupted => return Ok(Some(End::Interrupted)),
            Event::SourceDone(Some(Err(e))) => return Err(e),
            Event::SourceDone(_) => return Ok(Some(End::SourceEnded)),
            Event::ProgressDue => {}
            Event::StatsDue => {
                if let (Some(m), Some(peer)) = (self.monitor.as_mut(), self.outlets.stats_peer()) {
                    m.path = self.outlets.path();
                    m.congestion = Some((self.adapter.json(), self.adapter.line()));
                    m.sample(peer).await;
                }
            }
            Event::AdaptDue => {
                self.adapter.step(Instant::now(), self.outlets.estimates());
            }
            Event::ConfirmOverdue => {
                return Err(Failure::new(
                    Exit::Media,
                    "the server did not confirm the stream: it received no media",
                ));
            }
            Event::ServerConnection(true) => {}
            Event::ServerConnection(false) => {
                return Err(Failure::new(
                    Exit::Media,
                    "the media connection to the server failed",
                ));
            }
            Event::MediaCheckDue => {
                // A broken media path is restarted (ICE) while signaling stays up.
                if let Some((peer, _)) = &self.outlets.server {
                    self.media_watch
                        .check(peer, &self.plan.client, Side::Sending)
                        .await?;
                }
            }
            Event::Direct(None) => self.direct_requests = None,
            Event::Direct(Some(req)) => {
                serve_direct(
                    &self.plan,
                    req,
                    &self.stream_id,
                    &mut self.outlets,
                    &self.sending,
                )
                .await?;
                if self.peer_state.is_none() {
                    self.peer_state = self.outlets.server.as_ref().map(|(p, _)| p.state());
                    if self.peer_state.is_some() {
                        // Routed through the server now: its connection is watched too.
                        self.media_watch.negotiated(Instant::now());
                    }
                }
            }
            Event::Session(None) => return Err(disconnected_failure(&Reason::NetworkDisconnected)),
            Event::Session(Some(ev)) => return self.on_session_event(ev).await,
        }
        Ok(None)
    }

    async fn on_session_event(&mut self, event: SessionEvent) -> Result<Option<End>, Failure> {
        match event {
            SessionEvent::StreamCreated { stream } if stream.id == self.stream_id => {
                self.confirmed = true;
                tracing::info!(stream = %self.stream_id, "stream is live");
                if self.json {
                    let (video, audio) = (!self.plan.codecs.0.is_empty(), self.plan.codecs.1);
                    crate::jsonl::emit(
                        "published",
                        serde_json::json!({
                            "streamId": self.stream_id, "name": self.plan.name,
                            "hasAudio": audio, "hasVideo": video,
                            "videoCodec": self.plan.codecs.0.first().map(|c| c.name()),
                            "path": stream.path.as_str(),
                        }),
                    );
                }
            }
            SessionEvent::StreamDestroyed { stream, reason } if stream.id == self.stream_id => {
                return Err(Failure::new(
                    Exit::Disconnected,
                    format!("the stream was stopped by the server ({reason})"),
                ));
            }
            SessionEvent::SessionDisconnected { reason } => {
                return Err(disconnected_failure(&reason));
            }
            ev @ SessionEvent::StreamPathChanged { .. } => report_path(&ev, self.json),
            ev @ SessionEvent::Reconnecting { .. } => {
                report_rejoin(&ev, self.json);
                self.rejoining = true;
            }
            ev @ SessionEvent::Reconnected { .. } => {
                report_rejoin(&ev, self.json);
                self.publish_again().await?;
            }
            _ => {}
        }
        Ok(None)
    }

    /// After joining again: the stream again, on new connections, under its old id where
    /// the server can; the sources never stopped.
    async fn publish_again(&mut self) -> Result<(), Failure> {
        self.sending.clear();
        std::mem::take(&mut self.outlets).close().await;
        self.stream_id = match self.p2p {
            true => go_direct(&self.plan, Some(&self.stream_id)).await?,
            false => {
                self.media_watch = self.media_watch.after_rejoin();
                let wait = self.media_watch.attempt_time(Instant::now());
                let live = go_live(&self.plan, Some(&self.stream_id), wait).await?;
                self.media_watch.negotiated(live.negotiated);
                self.sending.attach(live.tracks.clone());
                self.outlets.server = Some((live.peer, live.tracks));
                live.stream_id
            }
        };
        self.peer_state = self.outlets.server.as_ref().map(|(p, _)| p.state());
        self.confirmed = false;
        self.rejoining = false;
        Ok(())
    }

    /// Stops the sources and sends what they made, waits until it is there, sums up, then
    /// leaves cleanly; the exit code from `outcome`.
    async fn report(self, outcome: Result<End, Failure>) -> CmdResult {
        let Publisher {
            plan,
            mut outlets,
            stream_id,
            sending,
            adapter,
            monitor,
            progress,
            json,
            ..
        } = self;
        sending.finish().await;
        outlets.delivered().await;
        if let (Some(mut m), Some(peer)) = (monitor, outlets.stats_peer()) {
            m.congestion = Some((adapter.summary_json(), adapter.summary_line()));
            m.finish(peer).await;
        }
        let session_alive = !matches!(&outcome, Err(f) if f.code == Exit::Disconnected);
        if session_alive {
            if let Err(e) = plan.client.unpublish(&stream_id).await {
                tracing::debug!("unpublish: {e}");
            }
            plan.client.disconnect().await;
        }
        outlets.close().await;
        progress.finish();
        if json {
            let (video, audio, bytes) = progress.counts();
            crate::jsonl::emit(
                "publishSummary",
                serde_json::json!({
                    "streamId": stream_id, "videoFrames": video, "audioFrames": audio,
                    "bytes": bytes, "durationMs": progress.elapsed().as_millis() as u64,
                }),
            );
        }
        match outcome? {
            End::Duration | End::SourceEnded => Ok(Exit::Ok),
            End::Interrupted => Ok(Exit::Interrupted),
        }
    }
}

/// Completes after `d`, or never.
async fn sleep_for(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Does what the server asks of the publisher of a direct stream: answers a subscriber on a
/// connection of its own, closes one whose subscription ended, or publishes through the
/// server as well.
async fn serve_direct(
    plan: &Plan,
    req: DirectRequest,
    stream_id: &StreamId,
    outlets: &mut Outlets,
    sending: &Sending,
) -> Result<(), Failure> {
    let Some(c) = plan.client.peer_to_peer() else {
        return Ok(());
    };
    match req {
        DirectRequest::Offer {
            subscription_id,
            stream_id: asked,
            connection_id,
            sdp,
        } => {
            let answered = match asked == stream_id {
                true => answer_direct(plan, &sdp).await,
                false => Err(Failure::new(
                    Exit::Failure,
                    format!("no stream {asked} here"),
                )),
            };
            match answered {
                Ok((out, answer)) => {
                    tracing::info!(subscriber = %connection_id, "sending directly");
                    sending.attach(out.tracks.clone());
                    outlets.direct.insert(subscription_id.clone(), out);
                    c.answer_direct(&subscription_id, Ok(answer))?;
                }
                Err(e) => c.answer_direct(&subscription_id, Err(e.to_string()))?,
            }
        }
        DirectRequest::Ended { subscription_id } => {
            if let Some(out) = outlets.direct.remove(&subscription_id) {
                sending.detach(&out.tracks);
                tokio::spawn(async move { out.peer.close().await });
            }
        }
        DirectRequest::Route { stream_id: asked } if asked == stream_id => {
            if outlets.server.is_none() {
                tracing::info!(stream = %stream_id, "routing the stream through the server");
                let live = go_live(plan, Some(stream_id), SETUP_ATTEMPT).await?;
                sending.attach(live.tracks.clone());
                outlets.server = Some((live.peer, live.tracks));
            }
        }
        DirectRequest::Route { .. } => {}
    }
    Ok(())
}
