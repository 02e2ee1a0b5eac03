//! Where published media comes from: the test pattern and tone, media files (`file`), Y4M
//! and WAV files, Y4M on stdin, camera and microphone. Sources produce raw frames on demand; `publish` paces them on
//! one capture clock.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::SourceError;
use super::resample;
use super::testsrc::{self, Marks, Pattern};
use super::tone;
use crate::codec::OPUS_FRAME;
use crate::congestion::scaled_side;
use crate::vocab::I420;

/// A video source as named on the command line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum VideoSpec {
    Camera(Option<String>),
    /// A test pattern (testsrc, testsrc:busy, testsrc:calm).
    TestSrc(Pattern),
    Y4m(PathBuf),
    /// Any media file FFmpeg's libraries read (`media::file`).
    File(PathBuf),
    Stdin,
}

impl VideoSpec {
    pub(crate) fn parse(s: &str) -> Result<VideoSpec, SourceError> {
        Ok(match s {
            "camera" => VideoSpec::Camera(None),
            "testsrc" => VideoSpec::TestSrc(Pattern::Plain),
            "testsrc:busy" => VideoSpec::TestSrc(Pattern::Busy),
            "testsrc:calm" => VideoSpec::TestSrc(Pattern::Calm),
            "-" => VideoSpec::Stdin,
            _ if s.starts_with("camera:") => {
                VideoSpec::Camera(Some(s["camera:".len()..].to_owned()))
            }
            _ if s.to_ascii_lowercase().ends_with(".y4m") => VideoSpec::Y4m(PathBuf::from(s)),
            "" => {
                return Err(SourceError::invalid("expected camera, camera:INDEX, testsrc, testsrc:busy, testsrc:calm, a media file, or - for Y4M on stdin".to_string()));
            }
            _ => VideoSpec::File(PathBuf::from(s)),
        })
    }
}

/// An audio source as named on the command line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AudioSpec {
    Mic(Option<String>),
    Tone(f64),
    Wav(PathBuf),
    /// Any media file FFmpeg's libraries read (`media::file`).
    File(PathBuf),
}

impl AudioSpec {
    pub(crate) fn parse(s: &str) -> Result<AudioSpec, SourceError> {
        Ok(match s {
            "mic" => AudioSpec::Mic(None),
            "tone" => AudioSpec::Tone(440.0),
            _ if s.starts_with("mic:") => AudioSpec::Mic(Some(s[4..].to_owned())),
            _ if s.starts_with("tone:") => {
                let hz: f64 = s[5..]
                    .parse()
                    .ok()
                    .filter(|h| (20.0..=20_000.0).contains(h))
                    .ok_or_else(|| {
                        SourceError::invalid(
                            "the tone's frequency must be 20 to 20000 Hz".to_string(),
                        )
                    })?;
                AudioSpec::Tone(hz)
            }
            _ if s.to_ascii_lowercase().ends_with(".wav") => AudioSpec::Wav(PathBuf::from(s)),
            "" => {
                return Err(SourceError::invalid(
                    "expected mic, mic:NAME, tone, tone:HZ, or a media file".to_string(),
                ));
            }
            _ => AudioSpec::File(PathBuf::from(s)),
        })
    }
}

/// `--transcode`: whether a file's video may be sent as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transcode {
    /// As it is while that serves the far end (see [`Passage`]), encoded again otherwise.
    #[default]
    Auto,
    /// Always decoded and encoded again (H.264 under congestion control).
    Always,
    /// Always as it is: keyframe requests wait for the file's keyframes, the path's rate is
    /// not followed. Only for codecs vcall's tracks carry, without B-frames.
    Never,
}

impl Transcode {
    pub const NAMES: [&str; 3] = ["auto", "always", "never"];

    pub fn parse(s: &str) -> Option<Transcode> {
        match s {
            "auto" => Some(Transcode::Auto),
            "always" => Some(Transcode::Always),
            "never" => Some(Transcode::Never),
            _ => None,
        }
    }
}

/// Raw pictures at a frame rate.
pub(crate) trait VideoSource: Send {
    fn size(&self) -> (usize, usize);
    fn fps(&self) -> f64;
    /// The next picture, captured at `capture_ms` (Unix ms); `None` at the end.
    fn next(&mut self, capture_ms: u64) -> Result<Option<I420>, SourceError>;
    /// The same with its sides divided by `scale` (congestion control's smaller picture).
    fn next_scaled(&mut self, capture_ms: u64, scale: u32) -> Result<Option<I420>, SourceError> {
        Ok(self.next(capture_ms)?.map(|img| match scale {
            0 | 1 => img,
            s => img.downscaled(
                scaled_side(img.width, s),
                scaled_side(img.height, s),
                s as usize,
            ),
        }))
    }
    /// The next picture once per scale of `scales` (simulcast's layers), each with its
    /// sides divided by that scale.
    fn next_layers(
        &mut self,
        capture_ms: u64,
        scales: &[u32],
    ) -> Result<Option<Vec<I420>>, SourceError> {
        Ok(self.next(capture_ms)?.map(|img| {
            scales
                .iter()
                .map(|&s| match s {
                    0 | 1 => img.clone(),
                    s => img.downscaled(
                        scaled_side(img.width, s),
                        scaled_side(img.height, s),
                        s as usize,
                    ),
                })
                .collect()
        }))
    }
    /// Passes over the next picture (a lowered frame rate); `false` at the end.
    fn skip(&mut self, capture_ms: u64) -> Result<bool, SourceError> {
        Ok(self.next(capture_ms)?.is_some())
    }
    /// The last picture was not sent (the encoder's rate control skipped it).
    fn unsent(&mut self) {}
    /// Pictures that come with time (a camera, the test pattern): one whose time is long past
    /// is passed over, as a camera drops frames. A file's are all sent (`false`).
    fn live(&self) -> bool {
        true
    }
}

/// 20 ms frames of 48 kHz mono audio.
pub(crate) trait AudioSource: Send {
    /// Fills the next frame, captured at `capture_ms` (Unix ms); `false` at the end.
    fn next(&mut self, capture_ms: u64, out: &mut [i16; OPUS_FRAME]) -> Result<bool, SourceError>;
}

pub(crate) struct TestSrc {
    width: usize,
    height: usize,
    fps: f64,
    /// Its frame number counts the pictures made: a skipped one is never drawn, so the
    /// receiver's count of lost frames stays true at a lowered frame rate.
    frame: u32,
    pattern: Pattern,
}

impl TestSrc {
    pub(crate) fn new(
        width: u32,
        height: u32,
        fps: f64,
        pattern: Pattern,
    ) -> Result<TestSrc, SourceError> {
        let (w, h) = (width as usize, height as usize);
        if w < testsrc::MIN_WIDTH
            || h < testsrc::MIN_HEIGHT
            || w % 2 == 1
            || h % 2 == 1
            || w > 7680
            || h > 4320
        {
            return Err(SourceError::invalid(format!(
                "testsrc needs an even size from {}x{} to 7680x4320, not {w}x{h}",
                testsrc::MIN_WIDTH,
                testsrc::MIN_HEIGHT
            )));
        }
        Ok(TestSrc {
            width: w,
            height: h,
            fps,
            frame: 0,
            pattern,
        })
    }
}

impl VideoSource for TestSrc {
    fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }
    fn fps(&self) -> f64 {
        self.fps
    }
    fn next(&mut self, capture_ms: u64) -> Result<Option<I420>, SourceError> {
        self.next_scaled(capture_ms, 1)
    }
    /// Drawn at the smaller size, so that its marks stay as readable as at full size.
    fn next_scaled(&mut self, capture_ms: u64, scale: u32) -> Result<Option<I420>, SourceError> {
        let s = scale.max(1);
        let mut img = I420::new(scaled_side(self.width, s), scaled_side(self.height, s));
        let marks = Marks {
            frame: self.frame,
            capture_ms,
        };
        testsrc::render_pattern(self.pattern, &mut img, marks);
        self.frame += 1;
        Ok(Some(img))
    }
    /// Each drawn at its own size, with the same marks.
    fn next_layers(
        &mut self,
        capture_ms: u64,
        scales: &[u32],
    ) -> Result<Option<Vec<I420>>, SourceError> {
        let pictures = scales
            .iter()
            .map(|&s| {
                let s = s.max(1);
                let mut img = I420::new(scaled_side(self.width, s), scaled_side(self.height, s));
                let marks = Marks {
                    frame: self.frame,
                    capture_ms,
                };
                testsrc::render_pattern(self.pattern, &mut img, marks);
                img
            })
            .collect();
        self.frame += 1;
        Ok(Some(pictures))
    }
    fn skip(&mut self, _capture_ms: u64) -> Result<bool, SourceError> {
        Ok(true)
    }
    fn unsent(&mut self) {
        self.frame = self.frame.saturating_sub(1);
    }
}

/// A picture source that ends after `left` pictures sent once `counting` is set
/// (`echo-test --frames`: once the way back is up); pictures passed over or not sent do not
/// count.
pub(crate) struct Limited {
    inner: Box<dyn VideoSource>,
    left: u64,
    counting: Arc<AtomicBool>,
    /// Whether the last picture given was counted.
    counted: bool,
}

impl Limited {
    pub(crate) fn new(
        inner: Box<dyn VideoSource>,
        pictures: u64,
        counting: Arc<AtomicBool>,
    ) -> Limited {
        Limited {
            inner,
            left: pictures,
            counting,
            counted: false,
        }
    }
}

impl VideoSource for Limited {
    fn size(&self) -> (usize, usize) {
        self.inner.size()
    }
    fn fps(&self) -> f64 {
        self.inner.fps()
    }
    fn next(&mut self, capture_ms: u64) -> Result<Option<I420>, SourceError> {
        self.next_scaled(capture_ms, 1)
    }
    fn next_scaled(&mut self, capture_ms: u64, scale: u32) -> Result<Option<I420>, SourceError> {
        if self.left == 0 {
            return Ok(None);
        }
        let img = self.inner.next_scaled(capture_ms, scale)?;
        self.counted = img.is_some() && self.counting.load(Ordering::Relaxed);
        self.left -= u64::from(self.counted);
        Ok(img)
    }
    fn skip(&mut self, capture_ms: u64) -> Result<bool, SourceError> {
        Ok(self.left > 0 && self.inner.skip(capture_ms)?)
    }
    fn unsent(&mut self) {
        self.left += u64::from(std::mem::take(&mut self.counted));
        self.inner.unsent();
    }
    fn live(&self) -> bool {
        self.inner.live()
    }
}

/// The largest picture side taken from a file (H.264's largest levels stop at 8192).
const MAX_SIDE: usize = 8192;

/// YUV4MPEG2 (4:2:0 only) from a file or stdin.
pub(crate) struct Y4mSource {
    path: Option<PathBuf>,
    reader: Box<dyn BufRead + Send>,
    width: usize,
    height: usize,
    fps: f64,
    looping: bool,
}

fn y4m_error(path: &Option<PathBuf>, msg: impl std::fmt::Display) -> SourceError {
    let name = path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "stdin".into());
    SourceError::invalid(format!("{name}: {msg}"))
}

impl Y4mSource {
    pub(crate) fn open(path: Option<&Path>, looping: bool) -> Result<Y4mSource, SourceError> {
        let path = path.map(Path::to_owned);
        let reader: Box<dyn BufRead + Send> = match &path {
            Some(p) => Box::new(BufReader::new(
                File::open(p).map_err(|e| y4m_error(&path, e))?,
            )),
            None => Box::new(BufReader::new(std::io::stdin())),
        };
        let mut s = Y4mSource {
            path,
            reader,
            width: 0,
            height: 0,
            fps: 0.0,
            looping,
        };
        s.read_header()?;
        Ok(s)
    }

    fn read_header(&mut self) -> Result<(), SourceError> {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .map_err(|e| y4m_error(&self.path, e))?;
        let mut parts = line.trim_end().split(' ');
        if parts.next() != Some("YUV4MPEG2") {
            return Err(y4m_error(&self.path, "not a YUV4MPEG2 stream"));
        }
        let (mut w, mut h, mut fps) = (0, 0, 30.0);
        for p in parts {
            let (tag, v) = p.split_at(1.min(p.len()));
            match tag {
                "W" => w = v.parse().unwrap_or(0),
                "H" => h = v.parse().unwrap_or(0),
                "F" => {
                    if let Some((n, d)) = v.split_once(':') {
                        let (n, d): (f64, f64) =
                            (n.parse().unwrap_or(0.0), d.parse().unwrap_or(0.0));
                        if n > 0.0 && d > 0.0 {
                            fps = n / d;
                        }
                    }
                }
                "C" if !v.starts_with("420") => {
                    return Err(y4m_error(
                        &self.path,
                        format!(
                            "colour space C{v} is not supported; convert to 4:2:0 (e.g. ffmpeg -pix_fmt yuv420p)"
                        ),
                    ));
                }
                "I" if v != "p" && v != "?" => {
                    return Err(y4m_error(&self.path, "interlaced Y4M is not supported"));
                }
                _ => {}
            }
        }
        if w == 0 || h == 0 || w % 2 == 1 || h % 2 == 1 || w > MAX_SIDE || h > MAX_SIDE {
            return Err(y4m_error(
                &self.path,
                format!(
                    "unsupported picture size {w}x{h} (needs even, non-zero, at most {MAX_SIDE})"
                ),
            ));
        }
        if self.width != 0 && (w, h) != (self.width, self.height) {
            return Err(y4m_error(&self.path, "picture size changed"));
        }
        (self.width, self.height, self.fps) = (w, h, fps);
        Ok(())
    }
}

impl VideoSource for Y4mSource {
    fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }
    fn live(&self) -> bool {
        false
    }
    fn fps(&self) -> f64 {
        self.fps
    }
    fn next(&mut self, _capture_ms: u64) -> Result<Option<I420>, SourceError> {
        self.read_frame(true)
    }
}

impl Y4mSource {
    /// The next frame; at the end, the first again when looping (once: a file without
    /// frames is not looped forever).
    fn read_frame(&mut self, may_loop: bool) -> Result<Option<I420>, SourceError> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .map_err(|e| y4m_error(&self.path, e))?;
        if n == 0 {
            if self.looping
                && may_loop
                && let Some(p) = self.path.clone()
            {
                self.reader = Box::new(BufReader::new(
                    File::open(&p).map_err(|e| y4m_error(&self.path, e))?,
                ));
                self.read_header()?;
                return match self.read_frame(false)? {
                    Some(frame) => Ok(Some(frame)),
                    None => Err(y4m_error(&self.path, "no frames to loop")),
                };
            }
            return Ok(None);
        }
        if !line.starts_with("FRAME") {
            return Err(y4m_error(&self.path, "corrupt stream: expected FRAME"));
        }
        let mut img = I420::new(self.width, self.height);
        match self.reader.read_exact(&mut img.data) {
            Ok(()) => Ok(Some(img)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                tracing::warn!(
                    "the Y4M stream ends in the middle of a frame; the partial frame is dropped"
                );
                Ok(None)
            }
            Err(e) => Err(y4m_error(&self.path, e)),
        }
    }
}

/// The test tone, its marks at the wall clock's whole seconds: the test pattern burns in the
/// same clock, so a receiver pairs a mark with any frame by its capture time.
pub(crate) struct Tone {
    hz: f64,
    /// The next sample's index, counted from the whole second before the first frame.
    sample: Option<u64>,
}

impl Tone {
    pub(crate) fn new(hz: f64) -> Tone {
        Tone { hz, sample: None }
    }
}

impl AudioSource for Tone {
    fn next(&mut self, capture_ms: u64, out: &mut [i16; OPUS_FRAME]) -> Result<bool, SourceError> {
        let sample = self
            .sample
            .get_or_insert((capture_ms % 1000) * u64::from(tone::SAMPLE_RATE) / 1000);
        tone::render(self.hz, *sample, out);
        *sample += OPUS_FRAME as u64;
        Ok(true)
    }
}

/// A WAV file (8- to 32-bit PCM or 32-bit float, any rate and channel count, read by
/// `hound`), mixed to mono and resampled to 48 kHz.
pub(crate) struct WavSource {
    /// The whole file as 48 kHz mono, read up front (WAV files for calls are small).
    samples: Vec<i16>,
    pos: usize,
    looping: bool,
}

impl WavSource {
    pub(crate) fn open(path: &Path, looping: bool) -> Result<WavSource, SourceError> {
        let err = |m: String| SourceError::invalid(format!("{}: {m}", path.display()));
        let mut reader = hound::WavReader::open(path).map_err(|e| err(e.to_string()))?;
        let spec = reader.spec();
        let (channels, rate) = (usize::from(spec.channels), spec.sample_rate);
        if channels == 0 || !(1_000..=384_000).contains(&rate) {
            return Err(err(format!(
                "{channels} channels at {rate} Hz: needs at least one channel, 1 to 384 kHz"
            )));
        }
        // Every sample on the 16-bit scale, each frame mixed to mono.
        let mut mono = Vec::new();
        let mut frame = Vec::with_capacity(channels);
        let mut take = |sample: f32| {
            frame.push(sample);
            if frame.len() == channels {
                mono.push(frame.iter().sum::<f32>() / channels as f32);
                frame.clear();
            }
        };
        match spec.sample_format {
            hound::SampleFormat::Int => {
                let scale = 32768.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
                for s in reader.samples::<i32>() {
                    match s {
                        Ok(s) => take(s as f32 * scale),
                        Err(e) => {
                            cut_short(path, e);
                            break;
                        }
                    }
                }
            }
            hound::SampleFormat::Float => {
                for s in reader.samples::<f32>() {
                    match s {
                        Ok(s) => take(s * 32767.0),
                        Err(e) => {
                            cut_short(path, e);
                            break;
                        }
                    }
                }
            }
        }
        let samples: Vec<i16> = resample::resample(&mono, rate, tone::SAMPLE_RATE)
            .map_err(err)?
            .into_iter()
            .map(|s| s.clamp(-32768.0, 32767.0) as i16)
            .collect();
        if samples.is_empty() {
            return Err(err("no audio in the file".into()));
        }
        Ok(WavSource {
            samples,
            pos: 0,
            looping,
        })
    }
}

/// A file that ends inside its data (a recording cut off) plays what it holds.
fn cut_short(path: &Path, e: hound::Error) {
    tracing::warn!("{}: the audio ends early: {e}", path.display());
}

impl AudioSource for WavSource {
    fn next(&mut self, _capture_ms: u64, out: &mut [i16; OPUS_FRAME]) -> Result<bool, SourceError> {
        if self.pos >= self.samples.len() {
            if !self.looping {
                return Ok(false);
            }
            self.pos = 0;
        }
        let take = (self.samples.len() - self.pos).min(OPUS_FRAME);
        out[..take].copy_from_slice(&self.samples[self.pos..self.pos + take]);
        out[take..].fill(0);
        self.pos += take;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reads up to a few frames of `bytes` as each file type; Ok or a SourceError, never a panic.
    fn read_all(bytes: &[u8], looping: bool) {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in ["a.y4m", "a.wav", "a.ivf"] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("write");
            match name {
                "a.y4m" => {
                    if let Ok(mut s) = Y4mSource::open(Some(&path), looping) {
                        for _ in 0..3 {
                            if !matches!(s.next(0), Ok(Some(_))) {
                                break;
                            }
                        }
                    }
                }
                "a.wav" => {
                    if let Ok(mut s) = WavSource::open(&path, looping) {
                        let mut out = [0i16; OPUS_FRAME];
                        for _ in 0..3 {
                            if !matches!(s.next(0, &mut out), Ok(true)) {
                                break;
                            }
                        }
                    }
                }
                _ => {
                    if let Ok(Some(mut s)) =
                        super::super::file::FileVideo::open(&path, 0.0, looping, true)
                    {
                        for _ in 0..3 {
                            match s.next() {
                                Ok(Some(p)) => {
                                    let _ = s.payload(&p);
                                    let _ = s.decode(&p);
                                }
                                _ => break,
                            }
                        }
                    }
                }
            }
        }
    }

    /// A file's start as each format's header, then anything.
    fn files() -> impl Strategy<Value = Vec<u8>> {
        let head = prop_oneof![
            Just(b"YUV4MPEG2 W4 H2 F30:1 C420\nFRAME\n".to_vec()),
            Just(b"YUV4MPEG2 W99998 H99998\nFRAME\n".to_vec()),
            Just(b"YUV4MPEG2 W2 H2\n".to_vec()),
            Just(
                b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x80\xbb\0\0\0\0\0\0\x02\0\x10\0data"
                    .to_vec()
            ),
            Just(
                b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x01\0\0\0\0\0\0\0\x02\0\x10\0data"
                    .to_vec()
            ),
            Just(b"DKIF\0\0\x20\0VP80\x02\0\x02\0\x1e\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0".to_vec()),
            Just(b"DKIF\0\0\x20\0H264\x02\0\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec()),
            Just(Vec::new()),
        ];
        (head, prop::collection::vec(any::<u8>(), 0..200)).prop_map(|(mut h, tail)| {
            h.extend(tail);
            h
        })
    }

    proptest! {
        #[test]
        fn prop_y4m_wav_and_media_file_readers_take_any_file(bytes in files(), looping in any::<bool>()) {
            read_all(&bytes, looping);
        }
    }

    #[test]
    fn files_without_frames_are_not_looped_forever() {
        read_all(b"YUV4MPEG2 W2 H2\n", true);
        read_all(
            b"DKIF\0\0\x20\0VP80\x02\0\x02\0\x1e\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0",
            true,
        );
    }
}

#[cfg(test)]
mod wav_tests {
    use super::*;

    /// A WAV file of `secs` seconds of `value` (full scale 1.0) in `spec`, written by hound.
    fn write(path: &Path, spec: hound::WavSpec, secs: u32, value: f64) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for _ in 0..spec.sample_rate * secs * u32::from(spec.channels) {
            match spec.sample_format {
                hound::SampleFormat::Float => w.write_sample(value as f32).unwrap(),
                hound::SampleFormat::Int => {
                    let full = f64::from((1u32 << (spec.bits_per_sample - 1)) - 1);
                    w.write_sample((value * full) as i32).unwrap()
                }
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn wav_files_of_any_depth_and_rate_come_out_as_48khz_mono_at_their_level() {
        let dir = tempfile::tempdir().unwrap();
        for (bits, format, rate, channels) in [
            (8, hound::SampleFormat::Int, 8_000, 1),
            (16, hound::SampleFormat::Int, 44_100, 2),
            (24, hound::SampleFormat::Int, 96_000, 2),
            (32, hound::SampleFormat::Float, 48_000, 6),
        ] {
            let path = dir.path().join(format!("{bits}-{rate}.wav"));
            let spec = hound::WavSpec {
                channels,
                sample_rate: rate,
                bits_per_sample: bits,
                sample_format: format,
            };
            write(&path, spec, 1, 0.5);
            let wav = WavSource::open(&path, false).unwrap();
            assert_eq!(wav.samples.len(), 48_000, "{bits}-bit at {rate} Hz");
            // Away from the ends (a resampler rings at a step from silence); 8 bits hold
            // half scale as 63/128.
            let mid = wav.samples[24_000];
            assert!(
                (16_050..=16_700).contains(&mid),
                "{bits}-bit at {rate} Hz: {mid} for half scale"
            );
        }
    }
}
