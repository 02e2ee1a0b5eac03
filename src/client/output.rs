//! Where a subscription's frames go: a container (MP4, Matroska) through the recorder, or one
//! of the single-track stdout formats — H.264 Annex B, Ogg Opus, decoded Y4M, decoded WAV.

use std::io::{self, Write};
use std::time::Instant;

use crate::cli::OutFormat;
use crate::codec::{OpusDecoder, VideoDecoder};
use crate::record::assemble::Frame;
use crate::record::codecs::{OPUS_PRE_SKIP, opus_head};
use crate::record::{AUDIO, Output, RecordError, RecordStats, Recorder, VIDEO};
use crate::vocab::Codec;

/// A sink for one stream's frames, ending itself exactly at its limits.
pub struct Sink {
    kind: SinkKind,
    /// First RTP timestamp taken, to place frames against the duration limit.
    ts0: Option<u64>,
    limit_us: Option<i64>,
    limit_frames: Option<u64>,
    complete: bool,
}

enum SinkKind {
    Container(Box<Recorder>),
    H264 {
        out: Output,
        stats: RecordStats,
        ts0: Option<u64>,
    },
    Ogg(OggOpus),
    Y4m(Y4mWriter),
    Wav(WavWriter),
}

impl Sink {
    fn of(kind: SinkKind) -> Sink {
        Sink {
            kind,
            ts0: None,
            limit_us: None,
            limit_frames: None,
            complete: false,
        }
    }

    /// A sink writing a container through `recorder`.
    pub fn container(recorder: Recorder) -> Sink {
        Sink::of(SinkKind::Container(Box::new(recorder)))
    }

    /// How many tracks a container waits for before its header.
    pub fn set_expected(&mut self, expected: usize) {
        if let SinkKind::Container(r) = &mut self.kind {
            r.set_expected(expected);
        }
    }

    /// Ends the output after `duration` of media or `frames` video frames.
    pub fn set_limits(&mut self, duration: Option<std::time::Duration>, frames: Option<u64>) {
        match &mut self.kind {
            SinkKind::Container(r) => r.set_limits(duration, frames),
            SinkKind::Y4m(y) => y.limit = frames,
            _ => {}
        }
        self.limit_us = duration.map(|d| d.as_micros() as i64);
        self.limit_frames = frames;
    }

    /// A sink for `format` (stdout formats).
    pub fn for_format(
        format: OutFormat,
        out: Output,
        expected: usize,
    ) -> Result<Sink, RecordError> {
        Ok(Sink::of(match format {
            OutFormat::Mkv => SinkKind::Container(Box::new(Recorder::new(
                out,
                crate::record::Container::Mkv,
                expected,
            ))),
            OutFormat::H264 => SinkKind::H264 {
                out,
                stats: RecordStats::default(),
                ts0: None,
            },
            OutFormat::Ogg => SinkKind::Ogg(OggOpus::new(out)),
            OutFormat::Y4m => SinkKind::Y4m(Y4mWriter::new(out)?),
            OutFormat::Wav => SinkKind::Wav(WavWriter::new(out)?),
        }))
    }

    /// Whether a write may wait on a reader (a pipe, a terminal): such a sink is written from
    /// a thread of its own, a regular file's on the runtime.
    pub fn may_block(&self) -> bool {
        !matches!(&self.kind, SinkKind::Container(r) if r.writes_a_file())
    }

    /// Which slots this sink takes.
    pub fn wants(&self, slot: usize) -> bool {
        match self.kind {
            SinkKind::Container(_) => true,
            SinkKind::H264 { .. } | SinkKind::Y4m(_) => slot == VIDEO,
            SinkKind::Ogg(_) | SinkKind::Wav(_) => slot == AUDIO,
        }
    }

    pub fn push(
        &mut self,
        slot: usize,
        codec: Codec,
        frame: Frame,
        arrival: Instant,
    ) -> Result<(), RecordError> {
        if !self.wants(slot) || self.complete {
            return Ok(());
        }
        if !matches!(self.kind, SinkKind::Container(_)) {
            // Single-track outputs write at once: check each frame against the limits here.
            let t0 = *self.ts0.get_or_insert(frame.timestamp);
            let start_us =
                (frame.timestamp.saturating_sub(t0) * 1_000_000 / codec.clock_rate() as u64) as i64;
            if self.limit_us.is_some_and(|l| start_us >= l) {
                self.complete = true;
                return Ok(());
            }
        }
        let written = match &mut self.kind {
            SinkKind::Container(r) => r.push(slot, codec, frame, arrival),
            SinkKind::H264 { out, stats, ts0 } => {
                if codec != Codec::H264 {
                    return Err(RecordError::Unsupported(
                        "the stream's video is not H.264; use --format mkv",
                    ));
                }
                let t0 = *ts0.get_or_insert(frame.timestamp);
                out.write_all(&frame.data)?;
                out.flush()?;
                stats.video_frames += 1;
                stats.bytes += frame.data.len() as u64;
                stats.duration_us =
                    (frame.timestamp.saturating_sub(t0) * 1_000_000 / 90_000) as i64;
                Ok(())
            }
            SinkKind::Ogg(o) => o.push(&frame).map_err(RecordError::from),
            SinkKind::Y4m(y) => y.push(codec, &frame),
            SinkKind::Wav(w) => w.push(&frame),
        };
        // The last frame asked for: done now, not when the next one shows up (a Y4M's
        // pictures count its repeats).
        let frames = match &self.kind {
            SinkKind::Y4m(y) => y.written,
            _ => self.stats().video_frames,
        };
        if self.limit_frames.is_some_and(|l| frames >= l) {
            self.complete = true;
        }
        written
    }

    pub fn stats(&self) -> RecordStats {
        let mut stats = match &self.kind {
            SinkKind::Container(r) => r.stats(),
            SinkKind::H264 { stats, .. } => *stats,
            SinkKind::Ogg(o) => o.stats,
            SinkKind::Y4m(y) => y.stats,
            SinkKind::Wav(w) => w.stats,
        };
        stats.complete |= self.complete;
        stats
    }

    pub fn finish(self) -> Result<RecordStats, RecordError> {
        let complete = self.complete;
        let mut stats = match self.kind {
            SinkKind::Container(r) => r.finish()?,
            SinkKind::H264 { mut out, stats, .. } => out.flush().map(|_| stats)?,
            SinkKind::Ogg(o) => o.finish()?,
            SinkKind::Y4m(mut y) => y.out.flush().map(|_| y.stats)?,
            SinkKind::Wav(mut w) => w.out.flush().map(|_| w.stats)?,
        };
        stats.complete |= complete;
        Ok(stats)
    }
}

/// Ogg Opus (RFC 7845) by the `ogg` crate: each packet ends its page (and is flushed), so a
/// reader gets every packet as it arrives; granule positions from RTP time, pre-skip set.
pub struct OggOpus {
    out: ogg::PacketWriter<'static, Output>,
    serial: u32,
    ts0: Option<u64>,
    stats: RecordStats,
}

impl OggOpus {
    fn new(out: Output) -> OggOpus {
        OggOpus {
            out: ogg::PacketWriter::new(out),
            serial: rand::random(),
            ts0: None,
            stats: RecordStats::default(),
        }
    }

    fn page(&mut self, packet: Vec<u8>, granule: u64) -> io::Result<()> {
        self.out.write_packet(
            packet,
            self.serial,
            ogg::PacketWriteEndInfo::EndPage,
            granule,
        )
    }

    fn push(&mut self, frame: &Frame) -> io::Result<()> {
        if self.ts0.is_none() {
            self.page(opus_head(), 0)?;
            let vendor = concat!("vcall ", env!("CARGO_PKG_VERSION"));
            let mut tags = b"OpusTags".to_vec();
            tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
            tags.extend_from_slice(vendor.as_bytes());
            tags.extend_from_slice(&0u32.to_le_bytes());
            self.page(tags, 0)?;
        }
        let t0 = *self.ts0.get_or_insert(frame.timestamp);
        let samples = opus_samples(&frame.data);
        let granule = OPUS_PRE_SKIP as u64 + frame.timestamp.saturating_sub(t0) + samples;
        self.page(frame.data.to_vec(), granule)?;
        self.out.inner_mut().flush()?;
        self.stats.audio_frames += 1;
        self.stats.bytes += frame.data.len() as u64;
        self.stats.duration_us = ((granule - OPUS_PRE_SKIP as u64) * 1_000_000 / 48_000) as i64;
        Ok(())
    }

    fn finish(self) -> io::Result<RecordStats> {
        self.out.into_inner().flush()?;
        Ok(self.stats)
    }
}

/// Samples (at 48 kHz) in one Opus packet, from its TOC byte.
pub fn opus_samples(packet: &[u8]) -> u64 {
    let Some(&toc) = packet.first() else { return 0 };
    let config = toc >> 3;
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][(config % 4) as usize],
        12..=15 => [480, 960][(config % 2) as usize],
        _ => [120, 240, 480, 960][(config % 4) as usize],
    };
    let count = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => packet.get(1).map(|b| (b & 0x3f) as u64).unwrap_or(1),
    };
    frame * count
}

/// The rate a one-picture Y4M's header names (`--frames 1`): it has none of its own.
const ONE_PICTURE_FPS: f64 = 30.0;

/// Decoded video as YUV4MPEG2 at a constant rate: gaps repeat the last picture, so the
/// stream's clock is kept.
pub struct Y4mWriter {
    out: Output,
    /// The decoder of the stream's codec, made at its first frame.
    decoder: Option<VideoDecoder>,
    /// Held until the second frame tells the frame rate.
    first: Option<(u64, crate::vocab::I420)>,
    fps: f64,
    /// At most this many pictures (`--frames`), gap fillers included.
    limit: Option<u64>,
    ts0: u64,
    written: u64,
    last: Option<crate::vocab::I420>,
    stats: RecordStats,
}

impl Y4mWriter {
    fn new(out: Output) -> Result<Y4mWriter, RecordError> {
        Ok(Y4mWriter {
            out,
            decoder: None,
            first: None,
            fps: 0.0,
            limit: None,
            ts0: 0,
            written: 0,
            last: None,
            stats: RecordStats::default(),
        })
    }

    fn push(&mut self, codec: Codec, frame: &Frame) -> Result<(), RecordError> {
        let decoder = match &mut self.decoder {
            Some(d) => d,
            None => self.decoder.insert(VideoDecoder::new(codec)?),
        };
        let Some(img) = decoder.decode(&frame.data)? else {
            return Ok(());
        };
        if self.fps == 0.0 {
            if self.limit == Some(1) {
                // One picture has no rate to wait for: it goes out at once.
                self.header(ONE_PICTURE_FPS, frame.timestamp, &img)?;
            } else {
                match self.first.take() {
                    None => {
                        self.first = Some((frame.timestamp, img));
                        return Ok(());
                    }
                    Some((ts, first)) => {
                        let dt = (frame.timestamp.saturating_sub(ts)).max(1) as f64 / 90_000.0;
                        // Snap to a common rate: 1/dt within 5%, else the nearest integer.
                        let fps = [5.0, 10.0, 12.0, 15.0, 24.0, 25.0, 30.0, 50.0, 60.0]
                            .into_iter()
                            .find(|r: &f64| ((1.0 / dt) - r).abs() / r < 0.05)
                            .unwrap_or((1.0 / dt).round().clamp(1.0, 120.0));
                        self.header(fps, ts, &first)?;
                        self.emit(ts, first)?;
                    }
                }
            }
        }
        self.emit(frame.timestamp, img)
    }

    /// The stream header, at `fps`, the stream's time starting at `ts`.
    fn header(&mut self, fps: f64, ts: u64, first: &crate::vocab::I420) -> io::Result<()> {
        self.fps = fps;
        self.ts0 = ts;
        let (n, d) = if fps.fract() == 0.0 {
            (fps as u64, 1)
        } else {
            ((fps * 1000.0) as u64, 1000)
        };
        writeln!(
            self.out,
            "YUV4MPEG2 W{} H{} F{n}:{d} Ip A1:1 C420jpeg",
            first.width, first.height
        )
    }

    /// Whether `--frames` pictures, repeats counted, are written.
    fn full(&self) -> bool {
        self.limit.is_some_and(|l| self.written >= l)
    }

    fn emit(&mut self, ts: u64, img: crate::vocab::I420) -> Result<(), RecordError> {
        let index = ((ts.saturating_sub(self.ts0) as f64 / 90_000.0) * self.fps).round() as u64;
        // Fill a gap with the previous picture.
        while self.written < index && !self.full() {
            let Some(prev) = &self.last else { break };
            self.out.write_all(b"FRAME\n")?;
            self.out.write_all(&prev.data)?;
            self.written += 1;
        }
        if index < self.written || self.full() {
            return Ok(()); // a frame for a slot already written, or one past the limit
        }
        self.out.write_all(b"FRAME\n")?;
        self.out.write_all(&img.data)?;
        self.out.flush()?;
        self.written += 1;
        self.stats.video_frames += 1;
        self.stats.bytes += img.data.len() as u64;
        self.stats.duration_us = (self.written as f64 / self.fps * 1e6) as i64;
        self.last = Some(img);
        Ok(())
    }
}

/// Decoded audio as streaming WAV (48 kHz stereo 16-bit; sizes left open); gaps are silence.
pub struct WavWriter {
    out: Output,
    decoder: OpusDecoder,
    /// RTP time of the next sample to write.
    next: Option<u64>,
    stats: RecordStats,
}

impl WavWriter {
    fn new(out: Output) -> Result<WavWriter, RecordError> {
        Ok(WavWriter {
            out,
            decoder: OpusDecoder::new()?,
            next: None,
            stats: RecordStats::default(),
        })
    }

    fn push(&mut self, frame: &Frame) -> Result<(), RecordError> {
        if self.next.is_none() {
            let mut h = b"RIFF".to_vec();
            h.extend_from_slice(&u32::MAX.to_le_bytes());
            h.extend_from_slice(b"WAVEfmt ");
            h.extend_from_slice(&16u32.to_le_bytes());
            h.extend_from_slice(&1u16.to_le_bytes());
            h.extend_from_slice(&2u16.to_le_bytes());
            h.extend_from_slice(&48_000u32.to_le_bytes());
            h.extend_from_slice(&(48_000u32 * 4).to_le_bytes());
            h.extend_from_slice(&4u16.to_le_bytes());
            h.extend_from_slice(&16u16.to_le_bytes());
            h.extend_from_slice(b"data");
            h.extend_from_slice(&u32::MAX.to_le_bytes());
            self.out.write_all(&h)?;
            self.next = Some(frame.timestamp);
        }
        let next = self.next.expect("set above");
        if frame.timestamp < next {
            return Ok(()); // overlaps what is written
        }
        let gap = (frame.timestamp - next) as usize;
        if gap > 0 {
            let silence = vec![0u8; gap.min(48_000 * 60) * 4];
            self.out.write_all(&silence)?;
        }
        let pcm = self.decoder.decode(&frame.data)?;
        let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
        self.out.write_all(&bytes)?;
        self.out.flush()?;
        let samples = (pcm.len() / 2) as u64;
        self.next = Some(frame.timestamp + samples);
        self.stats.audio_frames += 1;
        self.stats.bytes += bytes.len() as u64;
        self.stats.duration_us += ((gap as u64 + samples) * 1_000_000 / 48_000) as i64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `Output` the test can read after the writer is done with it.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn ogg_opus_reads_back_packet_for_packet() {
        let buf = Shared::default();
        let mut ogg = OggOpus::new(Box::new(buf.clone()));
        // 20 ms packets from RTP time 1000, one lost (the granule keeps the gap), and one
        // larger than a page's 255 segments can hold in one (continued on the next page).
        let mut sent = Vec::new();
        for n in [0u64, 1, 2, 4, 5] {
            let len = if n == 4 { 70_000 } else { 60 + n as usize };
            let data = [vec![0xf8], vec![n as u8; len]].concat();
            let frame = Frame {
                timestamp: 1000 + n * 960,
                data: data.clone().into(),
                keyframe: false,
                fec: false,
            };
            ogg.push(&frame).unwrap();
            sent.push((data, OPUS_PRE_SKIP as u64 + n * 960 + 960));
        }
        let stats = ogg.finish().unwrap();
        assert_eq!(stats.audio_frames, 5);
        let bytes = buf.0.lock().unwrap().clone();
        let mut r = ogg::PacketReader::new(std::io::Cursor::new(bytes));
        let head = r.read_packet_expected().unwrap();
        assert!(head.first_in_stream() && head.data == opus_head());
        let tags = r.read_packet_expected().unwrap();
        assert!(tags.data.starts_with(b"OpusTags"));
        for (i, (data, granule)) in sent.iter().enumerate() {
            let p = r.read_packet_expected().unwrap();
            assert_eq!(&p.data, data, "packet {i}");
            assert_eq!(p.absgp_page(), *granule, "granule of packet {i}");
            assert_eq!(p.stream_serial(), head.stream_serial());
        }
        assert!(r.read_packet().unwrap().is_none());
    }

    #[test]
    fn opus_frame_sizes_come_from_the_toc() {
        assert_eq!(opus_samples(&[0xf8]), 960); // CELT FB 20 ms, one frame
        assert_eq!(opus_samples(&[0x08 | 1]), 1920); // SILK NB 20 ms, two frames
    }
}
