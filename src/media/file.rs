//! Media files in, through the system's FFmpeg libraries: libavformat demuxes any container
//! they read (MP4/MOV, Matroska/WebM, Ogg, IVF, WAV, …), libavcodec decodes any codec,
//! libswscale and libswresample convert pictures to I420 and sound to 48 kHz mono. Only this
//! module and `codec::av` (decoding received VP8, VP9 and AV1) know FFmpeg.
//!
//! Times are seconds on the publish's clock: a file's first picture or sample (its earliest
//! stream start, or `--start`) is 0, and each loop adds the file's length, so the video and
//! audio of one file, opened separately, stay in step.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use ff::codec::Id;
use ff::codec::packet::{Mut as _, Ref as _};
use ff::format::context::Input;
use ff::media::Type;
use ff::{ChannelLayout, Packet, Rational, frame};
use ffmpeg_next as ff;

use super::SourceError;
use super::sources::AudioSource;
use crate::codec::OPUS_FRAME;
use crate::vocab::{Codec, I420};

/// The audio rate every file's sound is converted to (Opus's).
const RATE: u32 = 48_000;

/// The largest picture side taken from a file (H.264's largest levels stop at 8192).
const MAX_SIDE: u32 = 8192;

fn seconds(ts: i64, tb: Rational) -> f64 {
    ts as f64 * f64::from(tb.numerator()) / f64::from(tb.denominator().max(1))
}

/// A file opened for one of its streams: the demuxer, where the file's time starts, and how
/// long one pass over it is.
struct Demuxer {
    path: PathBuf,
    input: Input,
    index: usize,
    tb: Rational,
    /// The file's time that is 0 on the publish's clock (seconds): its earliest stream start,
    /// plus `--start`.
    zero: f64,
    /// `--start`, seconds after the earliest stream start.
    start: f64,
    /// One pass's length (seconds from `zero`): the container's duration when it says, the
    /// end of what was read otherwise.
    length: Option<f64>,
    looping: bool,
    /// Added to times on each loop.
    offset: f64,
    /// The end of the latest packet read (seconds on the publish's clock).
    end: f64,
    /// Packets read, over every loop: a file that loops and holds none ends.
    read: u64,
    read_this_pass: u64,
}

/// An FFmpeg error in words (some have no message of their own).
fn says(e: ff::Error) -> String {
    let mut buf = [0 as std::ffi::c_char; 256];
    // SAFETY: av_strerror writes a NUL-terminated message of at most `buf.len()` bytes.
    let message = unsafe {
        ff::ffi::av_strerror(i32::from(e), buf.as_mut_ptr(), buf.len());
        std::ffi::CStr::from_ptr(buf.as_ptr())
            .to_string_lossy()
            .into_owned()
    };
    match message.trim() {
        "" => format!("error {}", i32::from(e)),
        m => m.to_owned(),
    }
}

/// What a file holds, for errors: "matroska,webm: video vp9 640x360, audio opus 48000 Hz".
fn describe(input: &Input) -> String {
    let streams: Vec<String> = input
        .streams()
        .map(|s| {
            let p = s.parameters();
            let kind = match p.medium() {
                Type::Video => "video",
                Type::Audio => "audio",
                Type::Subtitle => "subtitle",
                Type::Data => "data",
                Type::Attachment => "attachment",
                _ => "unknown",
            };
            let name = p.id().name();
            // SAFETY: the parameters belong to a stream of an open input.
            let (w, h, rate) = unsafe {
                let par = &*p.as_ptr();
                (par.width, par.height, par.sample_rate)
            };
            match p.medium() {
                Type::Video => format!("{kind} {name} {w}x{h}"),
                Type::Audio => format!("{kind} {name} {rate} Hz"),
                _ => format!("{kind} {name}"),
            }
        })
        .collect();
    let streams = match streams.is_empty() {
        true => "no streams".to_owned(),
        false => streams.join(", "),
    };
    format!("{}: {streams}", input.format().name())
}

/// Opens `path` for its best stream of `kind`; `None` when it has none and that is allowed.
fn open(
    path: &Path,
    kind: Type,
    start: f64,
    looping: bool,
    required: bool,
) -> Result<Option<Demuxer>, SourceError> {
    crate::codec::ffmpeg::init().map_err(SourceError::Library)?;
    let shown = path.display();
    if !path.is_file() {
        return Err(SourceError::invalid(format!("{shown}: no such file")));
    }
    let input = ff::format::input(path).map_err(|e| {
        SourceError::invalid(format!(
            "{shown}: not a media file vcall can read (FFmpeg's libraries: {})",
            says(e)
        ))
    })?;
    let Some(stream) = input.streams().best(kind) else {
        if required {
            let kind = if kind == Type::Video {
                "video"
            } else {
                "audio"
            };
            return Err(SourceError::invalid(format!(
                "{shown} ({}): it has no {kind}",
                describe(&input)
            )));
        }
        return Ok(None);
    };
    let (index, tb) = (stream.index(), stream.time_base());
    // The publish's 0: the earliest start among the streams vcall sends.
    let first = input
        .streams()
        .filter(|s| matches!(s.parameters().medium(), Type::Video | Type::Audio))
        .filter(|s| s.start_time() != ff::ffi::AV_NOPTS_VALUE)
        .map(|s| seconds(s.start_time(), s.time_base()))
        .fold(f64::INFINITY, f64::min);
    let first = if first.is_finite() { first } else { 0.0 };
    let declared = (input.duration() > 0).then(|| input.duration() as f64 / 1e6);
    // SAFETY: the format context is open; start_time is a plain field.
    let container_start = unsafe { (*input.as_ptr()).start_time };
    let container_start = match container_start {
        ff::ffi::AV_NOPTS_VALUE => first,
        t => t as f64 / 1e6,
    };
    let length = declared
        .map(|d| d + container_start - first - start)
        .filter(|l| *l > 0.0);
    if declared.is_some() && length.is_none() {
        return Err(SourceError::invalid(format!(
            "{shown}: --start {start:.3} s is past the file's end ({:.3} s)",
            declared.unwrap_or_default()
        )));
    }
    let mut d = Demuxer {
        path: path.to_owned(),
        input,
        index,
        tb,
        zero: first + start,
        start,
        length,
        looping,
        offset: 0.0,
        end: 0.0,
        read: 0,
        read_this_pass: 0,
    };
    if start > 0.0 {
        d.seek_to_start()?;
    }
    Ok(Some(d))
}

/// One demuxed packet and its time on the publish's clock.
pub(crate) struct FilePacket {
    packet: Packet,
    /// Presentation time, seconds on the publish's clock.
    pub(crate) time: f64,
    /// Where its pass over the file starts on that clock: a packet before it precedes
    /// `--start` (or an edit list's start), read only for what later ones refer to.
    pub(crate) pass_start: f64,
    /// The publish's time minus the file's for this packet (its pass's offset).
    shift: f64,
    pub(crate) key: bool,
    pub(crate) bytes: usize,
}

impl Demuxer {
    fn seek_to_start(&mut self) -> Result<(), SourceError> {
        let ts = (self.zero * 1e6).round() as i64;
        self.input.seek(ts, ..ts).map_err(|e| {
            SourceError::invalid(format!(
                "{}: cannot seek to {:.3} s: {}",
                self.path.display(),
                self.start,
                says(e)
            ))
        })
    }

    /// The next packet of the stream; at the end, the first again when looping.
    /// `Ok(None)`: the end. A file cut short ends where it is cut (logged).
    fn next(&mut self) -> Result<Option<FilePacket>, SourceError> {
        loop {
            let mut packet = Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) => {}
                Err(ff::Error::Eof) => {
                    if let Some(length) = self.length
                        && self.end - self.offset < (length - 0.5).min(length * 0.9)
                    {
                        tracing::warn!(
                            "{}: the file ends at {:.3} s, before the {length:.3} s it says it lasts (cut short?)",
                            self.path.display(),
                            self.end - self.offset
                        );
                    }
                    if !self.pass_again()? {
                        return Ok(None);
                    }
                    continue;
                }
                Err(e) => {
                    if self.read == 0 {
                        return Err(SourceError::invalid(format!(
                            "{}: cannot be read: {}",
                            self.path.display(),
                            says(e)
                        )));
                    }
                    tracing::warn!(
                        "{}: the file ends early at {:.3} s ({})",
                        self.path.display(),
                        self.end,
                        says(e)
                    );
                    if !self.pass_again()? {
                        return Ok(None);
                    }
                    continue;
                }
            }
            // An empty packet would tell a decoder or filter that the stream has ended.
            if packet.stream() != self.index
                || (packet.size() == 0 && packet.side_data().next().is_none())
            {
                continue;
            }
            let Some(ts) = packet.pts().or(packet.dts()) else {
                continue;
            };
            let time = seconds(ts, self.tb) - self.zero + self.offset;
            let duration = seconds(packet.duration(), self.tb);
            self.end = self.end.max(time + duration);
            self.read += 1;
            self.read_this_pass += 1;
            let key = packet.is_key();
            let bytes = packet.size();
            return Ok(Some(FilePacket {
                packet,
                time,
                pass_start: self.offset,
                shift: self.offset - self.zero,
                key,
                bytes,
            }));
        }
    }

    /// At the end of a pass: starts the next one when looping (`false`: the end).
    fn pass_again(&mut self) -> Result<bool, SourceError> {
        if !self.looping || self.read_this_pass == 0 {
            return Ok(false);
        }
        // The container's length when it says (the same for the video and the sound, so
        // they stay in step pass after pass), what was read otherwise.
        let length = self.length.unwrap_or(self.end - self.offset);
        self.offset += length;
        self.end = self.offset;
        self.read_this_pass = 0;
        if let Err(e) = self.seek_to_start() {
            tracing::warn!("{e}: the file ends here");
            return Ok(false);
        }
        Ok(true)
    }

    fn decoder(&self) -> Result<ff::decoder::Decoder, SourceError> {
        let stream = self.input.stream(self.index).expect("the demuxer's stream");
        let parameters = stream.parameters();
        let id = parameters.id();
        let mut ctx = ff::codec::context::Context::from_parameters(parameters).map_err(|e| {
            self.unreadable(&format!("its {} cannot be decoded: {}", id.name(), says(e)))
        })?;
        // Frame threads on every core: a group of pictures decoded at once when encoding
        // starts between keyframes is done sooner.
        ctx.set_threading(ff::threading::Config::kind(ff::threading::Type::Frame));
        let decoder = ctx.decoder();
        Ok(decoder)
    }

    fn unreadable(&self, what: &str) -> SourceError {
        SourceError::invalid(format!(
            "{} ({}): {what}",
            self.path.display(),
            describe(&self.input)
        ))
    }
}

/// The codec of a file's video, as far as sending it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileCodec {
    /// A codec vcall's tracks carry (H.264, VP8): it can be sent as it is.
    Sendable(Codec),
    /// Any other: it must be decoded and encoded again.
    Other,
}

/// A file's video: its packets as they are (H.264 made Annex B), or decoded to pictures.
pub(crate) struct FileVideo {
    demux: Demuxer,
    pub(crate) codec: FileCodec,
    /// The codec's name, for logs and errors.
    pub(crate) codec_name: &'static str,
    /// The stream has B-frames: its pictures are stored out of presentation order.
    pub(crate) reorders: bool,
    pub(crate) size: (u32, u32),
    /// Its frame rate as the container says (average), for the encoder's rate control.
    pub(crate) fps: f64,
    annexb: Option<AnnexB>,
    decoder: Option<ff::decoder::Video>,
    /// The publish's time minus the file's for what the decoder holds (it changes on a loop).
    shift: f64,
    scaler: Option<(
        ff::software::scaling::Context,
        (u32, u32, ff::format::Pixel),
    )>,
}

// SAFETY: FFmpeg's contexts (demuxer, decoder, scaler, filter) are owned by the FileVideo,
// never shared, and used by one thread at a time: the FileVideo moves to the thread that
// reads it. FFmpeg allows a context to be used from any one thread at a time.
unsafe impl Send for FileVideo {}

impl FileVideo {
    /// `Ok(None)`: the file has no video.
    /// `Ok(None)`: it has none and `required` is false.
    pub(crate) fn open(
        path: &Path,
        start: f64,
        looping: bool,
        required: bool,
    ) -> Result<Option<FileVideo>, SourceError> {
        let Some(demux) = open(path, Type::Video, start, looping, required)? else {
            return Ok(None);
        };
        let stream = demux
            .input
            .stream(demux.index)
            .expect("the demuxer's stream");
        let parameters = stream.parameters();
        let id = parameters.id();
        // SAFETY: the parameters belong to a stream of an open input.
        let (width, height, delay) = unsafe {
            let p = &*parameters.as_ptr();
            (p.width, p.height, p.video_delay)
        };
        let rate = stream.avg_frame_rate();
        let rate = match rate.denominator() {
            0 => stream.rate(),
            _ => rate,
        };
        let fps = match rate.denominator() {
            0 => 30.0,
            d => (f64::from(rate.numerator()) / f64::from(d)).clamp(1.0, 120.0),
        };
        let (width, height) = (width.max(0) as u32, height.max(0) as u32);
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(demux.unreadable(&format!(
                "its {} picture is {width}x{height}: vcall takes up to {MAX_SIDE}x{MAX_SIDE}",
                id.name()
            )));
        }
        let codec = match id {
            Id::H264 => FileCodec::Sendable(Codec::H264),
            Id::VP8 => FileCodec::Sendable(Codec::Vp8),
            _ => FileCodec::Other,
        };
        let annexb = match id {
            Id::H264 => Some(AnnexB::new(&parameters).map_err(|e| demux.unreadable(&e))?),
            _ => None,
        };
        let mut video = FileVideo {
            codec_name: id.name(),
            demux,
            codec,
            reorders: delay > 0,
            size: (width, height),
            fps,
            annexb,
            decoder: None,
            shift: 0.0,
            scaler: None,
        };
        // A codec FFmpeg cannot decode is found now, not mid-call.
        video.decoder()?;
        Ok(Some(video))
    }

    /// The file's name, for logs.
    pub(crate) fn name(&self) -> std::path::Display<'_> {
        self.demux.path.display()
    }

    /// Its packets can be sent as they are: a codec vcall's tracks carry, in presentation
    /// order (no B-frames: WebRTC receivers play frames in the order they come).
    pub(crate) fn sendable(&self) -> bool {
        matches!(self.codec, FileCodec::Sendable(_)) && !self.reorders
    }

    /// Its bitrate as the container says, or the whole file's over its length.
    pub(crate) fn bitrate(&self) -> Option<u32> {
        let stream = self.demux.input.stream(self.demux.index)?;
        match stream.parameters().bit_rate() {
            b if b > 0 => Some(b as u32),
            _ => {
                let bytes = std::fs::metadata(&self.demux.path).ok()?.len();
                let length = self.demux.length.filter(|l| *l > 0.1)?;
                Some((bytes as f64 * 8.0 / length) as u32)
            }
        }
    }

    /// The next packet; `None` at the end.
    pub(crate) fn next(&mut self) -> Result<Option<FilePacket>, SourceError> {
        self.demux.next()
    }

    /// A packet as it is sent: H.264 in Annex B with its parameter sets before keyframes,
    /// other codecs as stored.
    pub(crate) fn payload(&mut self, p: &FilePacket) -> Result<Vec<u8>, SourceError> {
        match &mut self.annexb {
            Some(bsf) => bsf.filter(&p.packet).map_err(|e| {
                self.demux
                    .unreadable(&format!("H.264 to Annex B: {}", says(e)))
            }),
            None => Ok(p.packet.data().unwrap_or_default().to_vec()),
        }
    }

    fn decoder(&mut self) -> Result<&mut ff::decoder::Video, SourceError> {
        if self.decoder.is_none() {
            let name = self.codec_name;
            let d = self.demux.decoder()?.video().map_err(|e| {
                self.demux
                    .unreadable(&format!("its {name} video cannot be decoded: {}", says(e)))
            })?;
            self.decoder = Some(d);
        }
        Ok(self.decoder.as_mut().expect("made above"))
    }

    /// Decodes a packet: the pictures that come out (in presentation order, with their
    /// times; a decoder that reorders gives them later).
    pub(crate) fn decode(&mut self, p: &FilePacket) -> Result<Vec<(f64, I420)>, SourceError> {
        let shift = p.shift;
        // A new pass over the file: the last one's pictures come out first.
        let mut out = match (shift - self.shift).abs() > 1e-6 {
            true => self.drain()?,
            false => Vec::new(),
        };
        self.shift = shift;
        let decoder = self.decoder()?;
        if let Err(e) = decoder.send_packet(&p.packet) {
            // A damaged packet: what the decoder makes of the next ones still goes out.
            tracing::debug!("a video packet not decoded: {}", says(e));
        }
        out.extend(self.pictures()?);
        Ok(out)
    }

    /// What the decoder still holds at the end of a pass or of encoding: its last pictures;
    /// the next packet starts a new decoder.
    pub(crate) fn drain(&mut self) -> Result<Vec<(f64, I420)>, SourceError> {
        if self.decoder.is_none() {
            return Ok(Vec::new());
        }
        let _ = self.decoder()?.send_eof();
        let out = self.pictures();
        self.decoder = None;
        out
    }

    /// Pictures the decoder has ready, at the publish's times.
    fn pictures(&mut self) -> Result<Vec<(f64, I420)>, SourceError> {
        let shift = self.shift;
        let tb = self.demux.tb;
        let mut out = Vec::new();
        let mut frame = frame::Video::empty();
        while self
            .decoder
            .as_mut()
            .is_some_and(|d| d.receive_frame(&mut frame).is_ok())
        {
            let Some(ts) = frame.timestamp().or(frame.pts()) else {
                continue;
            };
            let time = seconds(ts, tb) + shift;
            out.push((time, self.picture(&frame)?));
        }
        Ok(out)
    }

    /// A decoded picture as I420 at its size, even sides (4:2:0).
    fn picture(&mut self, frame: &frame::Video) -> Result<I420, SourceError> {
        let (w, h, format) = (frame.width(), frame.height(), frame.format());
        let (ow, oh) = ((w & !1).max(2), (h & !1).max(2));
        let converted;
        let src = if format == ff::format::Pixel::YUV420P && (w, h) == (ow, oh) {
            frame
        } else {
            if self
                .scaler
                .as_ref()
                .is_none_or(|(_, k)| *k != (w, h, format))
            {
                let ctx = ff::software::scaling::Context::get(
                    format,
                    w,
                    h,
                    ff::format::Pixel::YUV420P,
                    ow,
                    oh,
                    ff::software::scaling::Flags::BILINEAR,
                )
                .map_err(|e| {
                    self.demux.unreadable(&format!(
                        "its {format:?} pictures cannot be converted: {}",
                        says(e)
                    ))
                })?;
                self.scaler = Some((ctx, (w, h, format)));
            }
            let mut out = frame::Video::empty();
            let (scaler, _) = self.scaler.as_mut().expect("made above");
            scaler.run(frame, &mut out).map_err(|e| {
                SourceError::invalid(format!("a picture cannot be converted: {}", says(e)))
            })?;
            converted = out;
            &converted
        };
        let plane = |i| (src.data(i), src.stride(i));
        Ok(I420::from_planes(
            ow as usize,
            oh as usize,
            [plane(0), plane(1), plane(2)],
        ))
    }
}

/// H.264 from MP4/Matroska (length-prefixed, parameter sets in the header) as Annex B with
/// the parameter sets before each keyframe: FFmpeg's `h264_mp4toannexb` bitstream filter,
/// which passes Annex B through as it is.
struct AnnexB {
    ctx: *mut ff::ffi::AVBSFContext,
}

impl AnnexB {
    fn new(parameters: &ff::codec::Parameters) -> Result<AnnexB, String> {
        // SAFETY: FFmpeg's documented bitstream filter API; every pointer is checked, and the
        // context is freed on failure and on drop.
        unsafe {
            let filter = ff::ffi::av_bsf_get_by_name(c"h264_mp4toannexb".as_ptr());
            if filter.is_null() {
                return Err("FFmpeg has no h264_mp4toannexb filter".into());
            }
            let mut ctx = std::ptr::null_mut();
            if ff::ffi::av_bsf_alloc(filter, &mut ctx) < 0 {
                return Err("out of memory".into());
            }
            let bsf = AnnexB { ctx };
            if ff::ffi::avcodec_parameters_copy((*ctx).par_in, parameters.as_ptr()) < 0
                || ff::ffi::av_bsf_init(ctx) < 0
            {
                return Err("its H.264 header (avcC) is not valid".into());
            }
            Ok(bsf)
        }
    }

    fn filter(&mut self, packet: &Packet) -> Result<Vec<u8>, ff::Error> {
        let mut input = Packet::empty();
        let mut out = Vec::new();
        // SAFETY: the packets are valid; `input` is a new reference to the packet's buffer
        // (not a copy: `Packet::clone` makes it writable, copying the data), the filter takes
        // it and gives each output's, which `Packet` frees.
        unsafe {
            match ff::ffi::av_packet_ref(input.as_mut_ptr(), packet.as_ptr()) {
                0 => {}
                e => return Err(ff::Error::from(e)),
            }
            match ff::ffi::av_bsf_send_packet(self.ctx, input.as_mut_ptr()) {
                0 => {}
                e => return Err(ff::Error::from(e)),
            }
            loop {
                let mut filtered = Packet::empty();
                match ff::ffi::av_bsf_receive_packet(self.ctx, filtered.as_mut_ptr()) {
                    0 => out.extend_from_slice(filtered.data().unwrap_or_default()),
                    e if e == ff::ffi::AVERROR(ff::ffi::EAGAIN) || e == ff::ffi::AVERROR_EOF => {
                        break;
                    }
                    e => return Err(ff::Error::from(e)),
                }
            }
        }
        Ok(out)
    }
}

impl Drop for AnnexB {
    fn drop(&mut self) {
        // SAFETY: allocated by av_bsf_alloc, freed once.
        unsafe { ff::ffi::av_bsf_free(&mut self.ctx) };
    }
}

/// A file's sound, decoded and converted to 48 kHz mono, in 20 ms frames on the publish's
/// clock: silence where the file has none (before its audio starts, in gaps), overlaps
/// dropped.
pub(crate) struct FileAudio {
    demux: Demuxer,
    decoder: ff::decoder::Audio,
    resampler: Option<(
        ff::software::resampling::Context,
        (ff::format::Sample, u64, u32),
    )>,
    /// Samples ready, the first at `position`.
    queue: VecDeque<i16>,
    /// Samples handed out so far.
    given: u64,
    ended: bool,
    /// The publish's time of the packets being decoded minus the file's.
    shift: f64,
    /// Where their pass starts (sound before it precedes `--start`).
    pass_start: f64,
}

// SAFETY: as for FileVideo: its demuxer, decoder and resampler are its own, used by one
// thread at a time.
unsafe impl Send for FileAudio {}

impl FileAudio {
    /// `Ok(None)`: the file has no audio.
    /// `Ok(None)`: it has none and `required` is false.
    pub(crate) fn open(
        path: &Path,
        start: f64,
        looping: bool,
        required: bool,
    ) -> Result<Option<FileAudio>, SourceError> {
        let Some(demux) = open(path, Type::Audio, start, looping, required)? else {
            return Ok(None);
        };
        let name = demux
            .input
            .stream(demux.index)
            .expect("the demuxer's stream")
            .parameters()
            .id()
            .name();
        let decoder = demux.decoder()?.audio().map_err(|e| {
            demux.unreadable(&format!("its {name} audio cannot be decoded: {}", says(e)))
        })?;
        Ok(Some(FileAudio {
            demux,
            decoder,
            resampler: None,
            queue: VecDeque::new(),
            given: 0,
            ended: false,
            shift: 0.0,
            pass_start: 0.0,
        }))
    }

    /// Decodes the next packet (or the decoder's last frames at the end) into the queue.
    fn fill(&mut self) -> Result<(), SourceError> {
        let offset = self.demux.offset;
        match self.demux.next()? {
            Some(p) => {
                // A new pass: what the decoder holds belongs to the last one.
                if self.demux.offset != offset {
                    self.finish_pass()?;
                }
                self.pass_start = p.pass_start;
                self.shift = p.shift;
                if let Err(e) = self.decoder.send_packet(&p.packet) {
                    tracing::debug!("an audio packet not decoded: {}", says(e));
                }
                self.frames()
            }
            None => {
                self.finish_pass()?;
                self.ended = true;
                Ok(())
            }
        }
    }

    /// The decoder's last frames of a pass; it then starts clean.
    fn finish_pass(&mut self) -> Result<(), SourceError> {
        let _ = self.decoder.send_eof();
        self.frames()?;
        self.decoder.flush();
        Ok(())
    }

    /// Converts the decoder's frames and places them on the clock.
    fn frames(&mut self) -> Result<(), SourceError> {
        let mut frame = frame::Audio::empty();
        while self.decoder.receive_frame(&mut frame).is_ok() {
            let at = frame
                .timestamp()
                .or(frame.pts())
                .map(|ts| seconds(ts, self.demux.tb) + self.shift);
            let samples = self.convert(&mut frame)?;
            self.place(at, &samples);
        }
        Ok(())
    }

    fn convert(&mut self, frame: &mut frame::Audio) -> Result<Vec<i16>, SourceError> {
        // Some decoders (PCM) leave the layout unset: the usual one for the channel count.
        if frame.channel_layout().is_empty() {
            frame.set_channel_layout(ChannelLayout::default(i32::from(frame.channels().max(1))));
        }
        let layout = frame.channel_layout();
        let key = (frame.format(), layout.bits(), frame.rate());
        if self.resampler.as_ref().is_none_or(|(_, k)| *k != key) {
            let ctx = ff::software::resampling::Context::get(
                frame.format(),
                layout,
                frame.rate(),
                ff::format::Sample::I16(ff::format::sample::Type::Packed),
                ChannelLayout::MONO,
                RATE,
            )
            .map_err(|e| {
                self.demux.unreadable(&format!(
                    "its sound ({:?}, {} Hz) cannot be converted: {}",
                    frame.format(),
                    frame.rate(),
                    says(e)
                ))
            })?;
            self.resampler = Some((ctx, key));
        }
        let (resampler, _) = self.resampler.as_mut().expect("made above");
        let room = frame.samples() * RATE as usize / frame.rate().max(1) as usize + 256;
        let mut out = frame::Audio::new(
            ff::format::Sample::I16(ff::format::sample::Type::Packed),
            room,
            ChannelLayout::MONO,
        );
        out.set_rate(RATE);
        resampler
            .run(frame, &mut out)
            .map_err(|e| SourceError::invalid(format!("audio cannot be converted: {}", says(e))))?;
        Ok(out.plane::<i16>(0)[..out.samples()].to_vec())
    }

    /// Puts samples that play from `at` (seconds; `None`: right after the last) in the queue:
    /// silence before them when they start later than the queue ends, the overlap dropped
    /// when earlier, and what precedes their pass's start dropped.
    fn place(&mut self, at: Option<f64>, samples: &[i16]) {
        let end = self.given + self.queue.len() as u64;
        let Some(at) = at else {
            self.queue.extend(samples);
            return;
        };
        let early = ((self.pass_start - at) * f64::from(RATE)).round();
        let (at, samples) = match early {
            e if e >= samples.len() as f64 => return,
            e if e > 0.0 => (self.pass_start, &samples[e as usize..]),
            _ => (at, samples),
        };
        let first = (at * f64::from(RATE)).round() as i64;
        let gap = first - end as i64;
        // Closer than 10 ms: a rounding, not a gap. Further than a minute: the file's clock
        // jumped (a broken or joined file), so the sound goes on where it is.
        if gap > i64::from(RATE) * 60 {
            tracing::debug!(
                "the file's sound jumps {:.1} s ahead: played on",
                gap as f64 / f64::from(RATE)
            );
            self.queue.extend(samples);
        } else if gap > i64::from(RATE / 100) {
            self.queue.extend(std::iter::repeat_n(0, gap as usize));
            self.queue.extend(samples);
        } else if gap < -i64::from(RATE / 50) {
            let skip = ((-gap) as usize).min(samples.len());
            self.queue.extend(&samples[skip..]);
        } else {
            self.queue.extend(samples);
        }
    }
}

impl AudioSource for FileAudio {
    fn next(&mut self, _capture_ms: u64, out: &mut [i16; OPUS_FRAME]) -> Result<bool, SourceError> {
        while self.queue.len() < OPUS_FRAME && !self.ended {
            self.fill()?;
        }
        if self.queue.is_empty() {
            return Ok(false);
        }
        let take = self.queue.len().min(OPUS_FRAME);
        for (o, s) in out.iter_mut().zip(self.queue.drain(..take)) {
            *o = s;
        }
        out[take..].fill(0);
        self.given += OPUS_FRAME as u64;
        Ok(true)
    }
}
