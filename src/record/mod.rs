//! Recording: frames from the assembler become samples with presentation times, are
//! interleaved across tracks, and are written to MP4 or Matroska as they came (no transcoding).

pub mod assemble;
pub mod codecs;
pub mod mkv;
pub mod mp4;

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::vocab::Codec;
use assemble::Frame;
use codecs::VideoConfig;

/// Why a recording or an output stream could not be written. Commands turn it into a
/// `Failure` at the top; a reader that went away (`is_broken_pipe`) ends an output cleanly.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot create {}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Write(#[from] io::Error),
    #[error("a video track without its configuration (no keyframe with parameter sets yet)")]
    NoVideoConfig,
    #[error("laying out an MP4 box failed")]
    Mp4(#[source] mp4_atom::Error),
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("decoding for the output failed")]
    Decode(#[from] crate::codec::CodecError),
}

impl RecordError {
    /// The output's reader went away (a closed pipe): the end of the output, not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, RecordError::Write(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// A container format for recordings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Mp4,
    Mkv,
}

impl Container {
    /// From a file name's extension.
    pub fn from_path(path: &Path) -> Option<Container> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "mp4" | "m4v" => Some(Container::Mp4),
            "mkv" | "webm" | "mka" => Some(Container::Mkv),
            _ => None,
        }
    }
}

/// A track as the container describes it.
#[derive(Debug, Clone)]
pub struct TrackSpec {
    pub codec: Codec,
    pub video: Option<VideoConfig>,
}

/// One sample ready for a container.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Presentation time from the start of the recording, microseconds.
    pub pts_us: i64,
    /// H.264 length-prefixed; other codecs as they are.
    pub data: Bytes,
    pub keyframe: bool,
    pub video: bool,
}

/// Where a recording goes: a file, or stdout.
pub type Output = Box<dyn Write + Send>;

enum Writer {
    Mp4(mp4::Mp4Writer<Output>),
    Mkv(mkv::MkvWriter<Output>),
}

/// How long samples wait so that both tracks' samples go out in time order.
const INTERLEAVE: Duration = Duration::from_millis(500);
/// Once one track's frames reach `--duration`, how long the other's may still come: a frame
/// held behind a lost packet leaves the assembler late (audio waits up to 250 ms, video up to
/// 400), and what it held is the recording's. The same lag the interleaving allows.
const LIMIT_GRACE: Duration = INTERLEAVE;
/// How long after the first track's first frame to wait for every expected track before
/// writing the header without the missing (from the first frame, not the recorder's start: a
/// stream whose media comes late, after a setup made anew or a publisher's grace, still has
/// every track).
const TRACK_WAIT: Duration = Duration::from_secs(5);

/// Maps a track's RTP time to the recording's clock. The offset is the smallest seen of
/// (arrival - RTP time): network and scheduling delays only ever add to a frame's arrival,
/// so the minimum is the truest alignment, and both tracks get it the same way.
struct RecTrack {
    codec: Codec,
    /// RTP timestamp of the first frame.
    ts0: Option<u64>,
    /// min(arrival - RTP time), microseconds since the recorder's origin.
    offset_us: i64,
    /// Presentation time of this track's last written sample (kept increasing).
    last_pts: i64,
    config: Option<VideoConfig>,
    /// Index in the written file, once the header is out.
    index: Option<usize>,
    /// A sample of this track reached `--duration`: nothing more of it is written.
    at_limit: bool,
}

/// Counters for progress and summaries.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordStats {
    pub video_frames: u64,
    pub audio_frames: u64,
    pub bytes: u64,
    /// Presentation time of the newest sample written, microseconds.
    pub duration_us: i64,
    /// A limit was reached: nothing more will be written.
    pub complete: bool,
}

/// The two track slots of a stream.
pub const VIDEO: usize = 0;
pub const AUDIO: usize = 1;

/// Writes one stream (up to one video and one audio track) to one container.
pub struct Recorder {
    container: Container,
    out: Option<Output>,
    /// The output again, when it is a regular file: finishing writes in place through it.
    in_place: Option<std::fs::File>,
    writer: Option<Writer>,
    /// Slot VIDEO and slot AUDIO, filled as the tracks arrive.
    tracks: [Option<RecTrack>; 2],
    /// How many tracks the stream has; the header waits for all of them (or TRACK_WAIT).
    expected: usize,
    origin: Instant,
    /// When the first track's first frame was taken.
    first_frame: Option<Instant>,
    /// Presentation time subtracted so the file starts at zero.
    base_us: Option<i64>,
    /// Samples before the header, and samples waiting for interleaving, by time.
    queue: BTreeMap<(i64, u64), (usize, Sample)>,
    counter: u64,
    stats: RecordStats,
    /// Stop after this much media (microseconds) or this many video frames.
    limit_us: Option<i64>,
    limit_frames: Option<u64>,
    /// When (arrival, microseconds since `origin`) the first track's samples reached
    /// `--duration`: the others get [`LIMIT_GRACE`] to reach it too.
    closing_since: Option<i64>,
}

impl Recorder {
    /// Records into `out`; the header is written once `expected` tracks have sent a frame.
    pub fn new(out: Output, container: Container, expected: usize) -> Recorder {
        Recorder {
            container,
            out: Some(out),
            in_place: None,
            writer: None,
            tracks: [None, None],
            expected,
            origin: Instant::now(),
            first_frame: None,
            base_us: None,
            queue: BTreeMap::new(),
            counter: 0,
            stats: RecordStats::default(),
            limit_us: None,
            limit_frames: None,
            closing_since: None,
        }
    }

    /// Sets how many tracks the header waits for.
    pub fn set_expected(&mut self, expected: usize) {
        self.expected = expected;
    }

    /// Ends the recording after `duration` of media or `frames` video frames, exactly.
    pub fn set_limits(&mut self, duration: Option<Duration>, frames: Option<u64>) {
        self.limit_us = duration.map(|d| d.as_micros() as i64);
        self.limit_frames = frames;
    }

    /// Creates a file now (so a bad path fails before any media flows) and records into it.
    pub fn create(
        path: &Path,
        container: Container,
        expected: usize,
    ) -> Result<Recorder, RecordError> {
        let file = std::fs::File::create(path).map_err(|source| RecordError::Create {
            path: path.to_owned(),
            source,
        })?;
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        let in_place = regular.then(|| file.try_clone().ok()).flatten();
        let mut recorder = Recorder::new(Box::new(io::BufWriter::new(file)), container, expected);
        recorder.in_place = in_place;
        Ok(recorder)
    }

    pub fn stats(&self) -> RecordStats {
        self.stats
    }

    /// Whether the output is a regular file, whose writes never wait for a reader.
    pub fn writes_a_file(&self) -> bool {
        self.in_place.is_some()
    }

    /// Takes one frame of the track in `slot` (VIDEO or AUDIO) that arrived at `arrival`.
    pub fn push(
        &mut self,
        slot: usize,
        codec: Codec,
        frame: Frame,
        arrival: Instant,
    ) -> Result<(), RecordError> {
        if self.writer.is_some() && self.tracks[slot].as_ref().is_none_or(|t| t.index.is_none()) {
            return Ok(()); // a track that came after the header cannot be added
        }
        let t = self.tracks[slot].get_or_insert(RecTrack {
            codec,
            ts0: None,
            offset_us: i64::MAX,
            last_pts: i64::MIN,
            config: None,
            index: None,
            at_limit: false,
        });
        if t.config.is_none() && t.codec != Codec::Opus {
            t.config = VideoConfig::from_keyframe(t.codec, &frame.data);
            if t.config.is_none() {
                return Ok(()); // cannot describe the track yet: wait for a keyframe with it
            }
        }
        let ts0 = *t.ts0.get_or_insert(frame.timestamp);
        self.first_frame.get_or_insert_with(Instant::now);
        let rtp_us = ((frame.timestamp as i128 - ts0 as i128) * 1_000_000
            / t.codec.clock_rate() as i128) as i64;
        let arrival_us = arrival.saturating_duration_since(self.origin).as_micros() as i64;
        t.offset_us = t.offset_us.min(arrival_us - rtp_us);
        // Queued by arrival-based time; the final time is computed when written.
        let pts_us = rtp_us;
        let video = t.codec != Codec::Opus;
        let data = if t.codec == Codec::H264 {
            Bytes::from(crate::vocab::bitstream::annexb_to_avcc(&frame.data))
        } else {
            frame.data
        };
        self.counter += 1;
        self.queue.insert(
            (arrival_us, self.counter),
            (
                slot,
                Sample {
                    pts_us,
                    data,
                    keyframe: frame.keyframe,
                    video,
                },
            ),
        );
        // Once what is queued reaches a limit, what comes later belongs in the file only
        // while the other track catches up to `--duration`: write it all now instead of
        // waiting out the interleave window. (Only once the header can be written: every
        // track's first sample is in.)
        let header = self.writer.is_some() || self.ready_for_header();
        let limit = header && (self.queued_reaches_frames() || self.queued_reaches_duration());
        self.drain(limit || self.closing_since.is_some())?;
        if let Some(since) = self.closing_since {
            // Set only once the header is written: the file has a track.
            let caught_up = (self.tracks.iter().flatten())
                .filter(|t| t.index.is_some())
                .all(|t| t.at_limit);
            self.stats.complete |=
                caught_up || arrival_us - since >= LIMIT_GRACE.as_micros() as i64;
        }
        Ok(())
    }

    /// Whether the video frames written and queued reach `--frames`.
    fn queued_reaches_frames(&self) -> bool {
        self.limit_frames.is_some_and(|l| {
            let queued = self.queue.values().filter(|(_, s)| s.video).count() as u64;
            self.stats.video_frames + queued >= l
        })
    }

    /// Whether a queued sample may reach `--duration` (before the header, its time is not
    /// yet the file's: [`Self::drain`] decides).
    fn queued_reaches_duration(&self) -> bool {
        let base = self.base_us.unwrap_or(0);
        self.limit_us.is_some_and(|l| {
            self.queue.values().any(|(slot, s)| {
                self.tracks[*slot]
                    .as_ref()
                    .is_some_and(|t| s.pts_us + t.offset_us - base >= l)
            })
        })
    }

    fn ready_for_header(&self) -> bool {
        self.tracks
            .iter()
            .flatten()
            .filter(|t| t.ts0.is_some())
            .count()
            >= self.expected
            || self.first_frame.is_some_and(|f| f.elapsed() > TRACK_WAIT)
    }

    fn write_header(&mut self) -> Result<(), RecordError> {
        let mut specs = Vec::new();
        for t in self.tracks.iter_mut().flatten() {
            if t.ts0.is_some() {
                t.index = Some(specs.len());
                specs.push(TrackSpec {
                    codec: t.codec,
                    video: t.config.clone(),
                });
            }
        }
        let file = self.out.take().expect("header written once");
        self.writer = Some(match self.container {
            Container::Mp4 => Writer::Mp4(mp4::Mp4Writer::new(file, &specs)?),
            Container::Mkv => Writer::Mkv(mkv::MkvWriter::new(file, &specs)?),
        });
        self.base_us = self
            .queue
            .values()
            .filter_map(|(slot, s)| self.tracks[*slot].as_ref().map(|t| s.pts_us + t.offset_us))
            .min();
        Ok(())
    }

    /// Writes what is old enough (or everything, at the end).
    fn drain(&mut self, all: bool) -> Result<(), RecordError> {
        if self.writer.is_none() {
            if !(self.ready_for_header() || all) || self.queue.is_empty() {
                return Ok(());
            }
            self.write_header()?;
        }
        let newest = self.queue.keys().next_back().map(|k| k.0).unwrap_or(0);
        let base = self.base_us.unwrap_or(0);
        while let Some((&(pts, _), _)) = self.queue.first_key_value() {
            if !all && pts > newest - INTERLEAVE.as_micros() as i64 {
                break;
            }
            let (_, (track, mut sample)) = self.queue.pop_first().expect("non-empty");
            let Some(t) = self.tracks[track].as_mut() else {
                continue;
            };
            let Some(index) = t.index else { continue };
            // The offset may still shrink a little after the header: never below zero, never
            // back in time.
            sample.pts_us = (sample.pts_us + t.offset_us - base)
                .max(t.last_pts + 1)
                .max(0);
            if self.stats.complete || t.at_limit {
                continue;
            }
            t.last_pts = sample.pts_us;
            if self.limit_us.is_some_and(|l| sample.pts_us >= l) {
                t.at_limit = true;
                self.closing_since.get_or_insert(pts);
                continue;
            }
            if sample.video
                && self
                    .limit_frames
                    .is_some_and(|l| self.stats.video_frames >= l)
            {
                self.stats.complete = true;
                continue;
            }
            if sample.video {
                self.stats.video_frames += 1
            } else {
                self.stats.audio_frames += 1
            }
            self.stats.bytes += sample.data.len() as u64;
            self.stats.duration_us = self.stats.duration_us.max(sample.pts_us);
            match self.writer.as_mut().expect("header written") {
                Writer::Mp4(w) => w.write(index, &sample)?,
                Writer::Mkv(w) => w.write(index, &sample)?,
            }
            // The last frame asked for: done now, not when the next one shows up.
            if self
                .limit_frames
                .is_some_and(|l| self.stats.video_frames >= l)
            {
                self.stats.complete = true;
            }
        }
        Ok(())
    }

    /// Writes everything left and closes the file.
    pub fn finish(mut self) -> Result<RecordStats, RecordError> {
        self.drain(true)?;
        match self.writer.take() {
            Some(Writer::Mp4(w)) => w.finish()?,
            Some(Writer::Mkv(w)) => w.finish(self.in_place.as_ref())?,
            None => {}
        }
        Ok(self.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::testsrc::{Marks, read_marks};
    use crate::vocab::{I420, Rtp};

    fn frame(timestamp: u64, data: Vec<u8>, keyframe: bool) -> Frame {
        Frame {
            timestamp,
            data: data.into(),
            keyframe,
            fec: false,
        }
    }

    #[test]
    fn a_frames_limit_is_complete_with_the_frame_that_reaches_it() {
        // `--frames 1`: the first video frame (after the audio's first) completes the
        // recording at once; the header it needed is written then, not at the next sample.
        let mut rec = Recorder::new(Box::new(io::sink()), Container::Mkv, 2);
        rec.set_limits(None, Some(1));
        let t = Instant::now();
        rec.push(AUDIO, Codec::Opus, frame(960, vec![0x78, 1, 2], false), t)
            .unwrap();
        assert!(!rec.stats().complete);
        let mut keyframe = vec![0, 0, 0, 1];
        keyframe.extend_from_slice(&fixture::SPS);
        keyframe.extend_from_slice(&[0, 0, 0, 1]);
        keyframe.extend_from_slice(&fixture::PPS);
        keyframe.extend_from_slice(&[0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00]);
        let later = t + Duration::from_millis(10);
        rec.push(VIDEO, Codec::H264, frame(900, keyframe, true), later)
            .unwrap();
        let stats = rec.stats();
        assert!(stats.complete, "{stats:?}");
        assert_eq!((stats.video_frames, stats.audio_frames), (1, 1));
    }

    /// An H.264 keyframe with its parameter sets, or a frame that follows one.
    fn h264(key: bool) -> Vec<u8> {
        let mut data = Vec::new();
        if key {
            for nal in [&fixture::SPS[..], &fixture::PPS[..]] {
                data.extend_from_slice(&[0, 0, 0, 1]);
                data.extend_from_slice(nal);
            }
            data.extend_from_slice(&[0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00]);
        } else {
            data.extend_from_slice(&[0, 0, 0, 1, 0x41, 0x9a, 0x00]);
        }
        data
    }

    /// A 1 s recording of 30 fps video and 20 ms audio frames, each pushed when its media
    /// time has passed, except the audio of 0.8 s to 1.0 s: held behind a lost packet, it
    /// comes at `late` (after the video reached the limit). Then one more audio frame (at the
    /// limit) or video frame comes at `last`, when given. Returns the recording's figures.
    fn a_second_with_late_audio(late: Duration, last: Option<(usize, Duration)>) -> RecordStats {
        let mut rec = Recorder::new(Box::new(io::sink()), Container::Mkv, 2);
        rec.set_limits(Some(Duration::from_secs(1)), None);
        // The media comes 5 s after the recorder was made (a call set up slowly): the
        // limit counts from the file's start, not the recorder's.
        let t0 = Instant::now() + Duration::from_secs(5);
        let mut pushes = Vec::new();
        for i in 0..=30u64 {
            let at = Duration::from_micros(i * 1_000_000 / 30);
            pushes.push((
                at,
                VIDEO,
                Codec::H264,
                frame(i * 3000, h264(i == 0), i == 0),
            ));
        }
        for j in 0..50u64 {
            let at = Duration::from_millis(j * 20);
            let at = if j >= 40 { late } else { at };
            pushes.push((
                at,
                AUDIO,
                Codec::Opus,
                frame(j * 960, vec![0x78, 1, 2], false),
            ));
        }
        match last {
            Some((AUDIO, at)) => {
                pushes.push((at, AUDIO, Codec::Opus, frame(48_000, vec![0x78], false)))
            }
            Some((_, at)) => {
                pushes.push((at, VIDEO, Codec::H264, frame(93_000, h264(false), false)))
            }
            None => {}
        }
        pushes.sort_by_key(|p| p.0);
        for (at, slot, codec, f) in pushes {
            let complete = rec.stats().complete;
            rec.push(slot, codec, f, t0 + at).unwrap();
            // Nothing ends the recording before the last push.
            assert!(!complete, "complete before the push at {at:?}");
        }
        let stats = rec.stats();
        rec.finish().unwrap();
        stats
    }

    #[test]
    fn a_duration_limit_takes_the_other_tracks_frames_up_to_it() {
        // The video reaches 1 s first; the audio held behind a gap until 1.25 s is still
        // written, and the audio frame at 1 s completes the recording.
        let stats = a_second_with_late_audio(
            Duration::from_millis(1250),
            Some((AUDIO, Duration::from_millis(1260))),
        );
        assert!(stats.complete, "{stats:?}");
        assert_eq!((stats.video_frames, stats.audio_frames), (30, 50));
        // A track that never gets there is waited for no longer than the grace: a video
        // frame 0.5 s after the limit was reached completes it.
        let stats = a_second_with_late_audio(
            Duration::from_millis(1250),
            Some((VIDEO, Duration::from_millis(1000) + LIMIT_GRACE)),
        );
        assert!(stats.complete, "{stats:?}");
        assert_eq!((stats.video_frames, stats.audio_frames), (30, 50));
        // Without it, the recording is not complete (the track's end finishes it).
        let stats = a_second_with_late_audio(Duration::from_millis(1250), None);
        assert!(!stats.complete, "{stats:?}");
    }

    /// `n` test pictures (320x240) encoded to `codec` by libavcodec's libvpx-vp9 or
    /// libaom-av1 in real-time mode, as a browser would send them; each with its marks.
    fn encoded(codec: Codec, n: u32) -> Vec<(Bytes, Marks)> {
        use ffmpeg_next as ff;
        crate::codec::ffmpeg::init().unwrap();
        let (name, speed) = match codec {
            Codec::Vp9 => ("libvpx-vp9", "8"),
            _ => ("libaom-av1", "8"),
        };
        let found = ff::encoder::find_by_name(name).expect(name);
        let mut ctx = ff::codec::Context::new_with_codec(found)
            .encoder()
            .video()
            .unwrap();
        ctx.set_width(320);
        ctx.set_height(240);
        ctx.set_format(ff::format::Pixel::YUV420P);
        ctx.set_time_base((1, 30));
        ctx.set_bit_rate(300_000);
        ctx.set_gop(n);
        let mut opts = ff::Dictionary::new();
        opts.set("cpu-used", speed);
        opts.set("lag-in-frames", "0");
        opts.set(
            if codec == Codec::Vp9 {
                "deadline"
            } else {
                "usage"
            },
            "realtime",
        );
        let mut enc = ctx.open_with(opts).unwrap();
        let mut frame = ff::frame::Video::new(ff::format::Pixel::YUV420P, 320, 240);
        let mut marks = Vec::new();
        let mut out = Vec::new();
        let mut drain = |enc: &mut ff::encoder::Video, marks: &[Marks]| {
            let mut p = ff::Packet::empty();
            while enc.receive_packet(&mut p).is_ok() {
                let at = p.pts().expect("a time") as usize;
                out.push((Bytes::copy_from_slice(p.data().unwrap()), marks[at]));
            }
        };
        for i in 0..n {
            let m = Marks {
                frame: i,
                capture_ms: 1_700_000_000_000 + u64::from(i) * 33,
            };
            marks.push(m);
            let mut img = I420::new(320, 240);
            crate::media::testsrc::render(&mut img, m);
            let (y, rest) = img.data.split_at(320 * 240);
            let (u, v) = rest.split_at(160 * 120);
            for (plane, (src, w)) in [(y, 320), (u, 160), (v, 160)].into_iter().enumerate() {
                let stride = frame.stride(plane);
                let dst = frame.data_mut(plane);
                for (row, line) in src.chunks(w).enumerate() {
                    dst[row * stride..row * stride + w].copy_from_slice(line);
                }
            }
            frame.set_pts(Some(i64::from(i)));
            enc.send_frame(&frame).unwrap();
            drain(&mut enc, &marks);
        }
        enc.send_eof().unwrap();
        drain(&mut enc, &marks);
        out
    }

    #[test]
    fn vp9_and_av1_over_rtp_are_recorded_and_decode_with_their_marks() {
        use ffmpeg_next as ff;
        use rtc::rtp::packetizer::Payloader;
        let dir = tempfile::tempdir().unwrap();
        for codec in [Codec::Vp9, Codec::Av1] {
            let sent = encoded(codec, 12);
            assert_eq!(sent.len(), 12, "{codec:?}: one packet a picture");
            let mut payloader: Box<dyn Payloader> = match codec {
                Codec::Vp9 => Box::new(crate::vocab::vp9::Payloader::default()),
                _ => Box::new(rtc::rtp::codec::av1::Av1Payloader {}),
            };
            let mut assembler = assemble::Assembler::new(codec);
            let (mut seq, t) = (0u16, Instant::now());
            let mut frames = Vec::new();
            for (i, (data, _)) in sent.iter().enumerate() {
                let payloads = payloader.payload(300, data).unwrap();
                let last = payloads.len() - 1;
                for (j, p) in payloads.into_iter().enumerate() {
                    let rtp = Rtp::new(96, seq, i as u32 * 3000, j == last, p);
                    frames.extend(assembler.push(rtp, t).frames);
                    seq = seq.wrapping_add(1);
                }
            }
            let keys: Vec<bool> = frames.iter().map(|f| f.keyframe).collect();
            assert_eq!(keys.len(), 12, "{codec:?}");
            assert!(keys[0] && !keys[1..].contains(&true), "{codec:?}: {keys:?}");
            for container in [Container::Mkv, Container::Mp4] {
                let path = dir.path().join(format!("{codec:?}.{container:?}"));
                let mut rec = Recorder::create(&path, container, 1).unwrap();
                for f in &frames {
                    rec.push(VIDEO, codec, f.clone(), t).unwrap();
                }
                rec.finish().unwrap();
                // Read back by libavformat, decoded by vcall's decoder: every mark, in order.
                let mut input = ff::format::input(&path).unwrap();
                let stream = input.streams().best(ff::media::Type::Video).unwrap();
                let index = stream.index();
                let params = ff::codec::Context::from_parameters(stream.parameters()).unwrap();
                let video = params.decoder().video().unwrap();
                assert_eq!((video.width(), video.height()), (320, 240), "{path:?}");
                let mut dec = crate::codec::VideoDecoder::new(codec).unwrap();
                let mut read = Vec::new();
                for (s, packet) in input.packets() {
                    if s.index() == index {
                        let pic = dec.decode(packet.data().unwrap()).unwrap();
                        read.extend(pic.and_then(|p| read_marks(&p)));
                    }
                }
                let want: Vec<Marks> = sent.iter().map(|(_, m)| *m).collect();
                assert_eq!(read, want, "{path:?}");
            }
        }
    }
}

/// What the muxers' tests write: a stream's two tracks and their samples.
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;

    pub(crate) const SPS: [u8; 10] = [0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8, 0x40];
    pub(crate) const PPS: [u8; 4] = [0x68, 0xce, 0x3c, 0x80];

    pub(crate) fn specs() -> Vec<TrackSpec> {
        vec![
            TrackSpec {
                codec: Codec::H264,
                video: Some(VideoConfig::H264 {
                    sps: SPS.to_vec(),
                    pps: PPS.to_vec(),
                    width: 640,
                    height: 360,
                }),
            },
            TrackSpec {
                codec: Codec::Opus,
                video: None,
            },
        ]
    }

    /// 2.5 s of 30 fps video (keyframes every 2 s, a gap of two frames at 1.2 s) and 20 ms
    /// audio, interleaved by time as the recorder hands them over.
    pub(crate) fn samples() -> Vec<(usize, Sample)> {
        let mut out = Vec::new();
        for n in 0..75i64 {
            if n == 36 || n == 37 {
                continue;
            }
            let data = vec![n as u8; 100 + n as usize];
            out.push((0, n * 1_000_000 / 30, data, n % 60 == 0, true));
        }
        for n in 0..125i64 {
            out.push((1, n * 20_000, vec![0xf8, n as u8, 7], false, false));
        }
        out.sort_by_key(|s| s.1);
        out.into_iter()
            .map(|(track, pts_us, data, keyframe, video)| {
                let sample = Sample {
                    pts_us,
                    data: data.into(),
                    keyframe,
                    video,
                };
                (track, sample)
            })
            .collect()
    }
}
