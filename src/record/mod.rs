//! Recording: frames from the assembler become samples with presentation times, are
//! interleaved across tracks, and are written to MP4 or Matroska as they came (no transcoding).

pub mod assemble;
pub mod codecs;
pub mod mkv;
pub mod mp4;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::peer::Codec;
use assemble::Frame;
use codecs::VideoConfig;

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

enum Writer {
    Mp4(mp4::Mp4Writer<BufWriter<File>>),
    Mkv(mkv::MkvWriter<BufWriter<File>>),
}

/// How long samples wait so that both tracks' samples go out in time order.
const INTERLEAVE: Duration = Duration::from_millis(500);
/// How long to wait for every expected track before writing the header without the missing.
const TRACK_WAIT: Duration = Duration::from_secs(5);

struct RecTrack {
    codec: Codec,
    /// Arrival instant and RTP timestamp of the first frame: maps RTP time to the clock.
    anchor: Option<(Instant, u64)>,
    config: Option<VideoConfig>,
    /// Index in the written file, once the header is out.
    index: Option<usize>,
    frames: u64,
}

/// Counters for progress and summaries.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordStats {
    pub video_frames: u64,
    pub audio_frames: u64,
    pub bytes: u64,
    /// Presentation time of the newest sample written, microseconds.
    pub duration_us: i64,
}

/// Writes one stream (up to one audio and one video track) to one file.
pub struct Recorder {
    path: PathBuf,
    container: Container,
    file: Option<File>,
    writer: Option<Writer>,
    tracks: Vec<RecTrack>,
    origin: Instant,
    /// Presentation time subtracted so the file starts at zero.
    base_us: Option<i64>,
    /// Samples before the header, and samples waiting for interleaving, by time.
    queue: BTreeMap<(i64, u64), (usize, Sample)>,
    counter: u64,
    stats: RecordStats,
}

impl Recorder {
    /// Creates the file now (so a bad path fails before any media flows).
    pub fn create(path: &Path, container: Container, codecs: &[Codec]) -> io::Result<Recorder> {
        let file = File::create(path).map_err(|e| io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display())))?;
        Ok(Recorder {
            path: path.to_owned(),
            container,
            file: Some(file),
            writer: None,
            tracks: codecs
                .iter()
                .map(|&codec| RecTrack { codec, anchor: None, config: None, index: None, frames: 0 })
                .collect(),
            origin: Instant::now(),
            base_us: None,
            queue: BTreeMap::new(),
            counter: 0,
            stats: RecordStats::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn stats(&self) -> RecordStats {
        self.stats
    }

    /// Takes one frame of track `track` that arrived at `arrival`.
    pub fn push(&mut self, track: usize, frame: Frame, arrival: Instant) -> io::Result<()> {
        let t = &mut self.tracks[track];
        if t.config.is_none() && t.codec != Codec::Opus {
            t.config = match t.codec {
                Codec::H264 => VideoConfig::from_h264(&frame.data),
                _ => VideoConfig::from_vp8(&frame.data),
            };
            if t.config.is_none() {
                return Ok(()); // cannot describe the track yet: wait for a keyframe with it
            }
        }
        let (at, ts0) = *t.anchor.get_or_insert((arrival, frame.timestamp));
        let offset = (at.saturating_duration_since(self.origin)).as_micros() as i64;
        let rel = (frame.timestamp as i128 - ts0 as i128) * 1_000_000 / t.codec.clock_rate() as i128;
        let pts_us = offset + rel as i64;
        let video = t.codec != Codec::Opus;
        let data = if t.codec == Codec::H264 { Bytes::from(codecs::annexb_to_avcc(&frame.data)) } else { frame.data };
        self.counter += 1;
        self.queue.insert((pts_us, self.counter), (track, Sample { pts_us, data, keyframe: frame.keyframe, video }));
        self.drain(false)
    }

    fn ready_for_header(&self) -> bool {
        self.tracks.iter().all(|t| t.anchor.is_some()) || self.origin.elapsed() > TRACK_WAIT
    }

    fn write_header(&mut self) -> io::Result<()> {
        let mut specs = Vec::new();
        for t in self.tracks.iter_mut() {
            if t.anchor.is_some() {
                t.index = Some(specs.len());
                specs.push(TrackSpec { codec: t.codec, video: t.config.clone() });
            }
        }
        let file = BufWriter::new(self.file.take().expect("header written once"));
        self.writer = Some(match self.container {
            Container::Mp4 => Writer::Mp4(mp4::Mp4Writer::new(file, &specs)?),
            Container::Mkv => Writer::Mkv(mkv::MkvWriter::new(file, &specs)?),
        });
        self.base_us = self.queue.keys().next().map(|k| k.0);
        Ok(())
    }

    /// Writes what is old enough (or everything, at the end).
    fn drain(&mut self, all: bool) -> io::Result<()> {
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
            let Some(index) = self.tracks[track].index else { continue };
            sample.pts_us -= base;
            if sample.pts_us < 0 {
                continue;
            }
            self.tracks[track].frames += 1;
            if sample.video { self.stats.video_frames += 1 } else { self.stats.audio_frames += 1 }
            self.stats.bytes += sample.data.len() as u64;
            self.stats.duration_us = self.stats.duration_us.max(sample.pts_us);
            match self.writer.as_mut().expect("header written") {
                Writer::Mp4(w) => w.write(index, &sample)?,
                Writer::Mkv(w) => w.write(index, &sample)?,
            }
        }
        Ok(())
    }

    /// Writes everything left and closes the file.
    pub fn finish(mut self) -> io::Result<RecordStats> {
        self.drain(true)?;
        match self.writer.take() {
            Some(Writer::Mp4(w)) => w.finish()?,
            Some(Writer::Mkv(w)) => w.finish()?,
            None => {}
        }
        Ok(self.stats)
    }
}
