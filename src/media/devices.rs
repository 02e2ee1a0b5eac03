//! Cameras (nokhwa) and microphones (cpal). Each sits behind its cargo feature; without the
//! feature, or without a device, opening one fails with a message naming the alternatives.

use super::SourceError;
use super::sources::{AudioSource, VideoSource};

const NO_CAMERA_HINT: &str = "use --video testsrc, --video FILE.y4m, or --video - for Y4M on stdin";
const NO_MIC_HINT: &str = "use --audio tone or --audio FILE.wav";

/// What the backend (nokhwa, cpal) said, kept as the error's source.
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A capture device: the camera or the microphone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeviceKind {
    Camera,
    Microphone,
}

impl DeviceKind {
    fn hint(self) -> &'static str {
        match self {
            DeviceKind::Camera => NO_CAMERA_HINT,
            DeviceKind::Microphone => NO_MIC_HINT,
        }
    }
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceKind::Camera => "camera",
            DeviceKind::Microphone => "microphone",
        })
    }
}

/// Why a camera or microphone cannot be used (exit 10). The hint names what to use instead.
#[derive(Debug, thiserror::Error)]
#[cfg_attr(not(any(feature = "camera", feature = "mic")), allow(dead_code))]
pub(crate) enum DeviceError {
    #[error("this build of vcall has no {0} support; {hint}", hint = .0.hint())]
    #[cfg_attr(all(feature = "camera", feature = "mic"), allow(dead_code))]
    // without a feature
    NotBuilt(DeviceKind),
    #[error("no {kind}: {why}; {hint}", hint = .kind.hint())]
    Missing { kind: DeviceKind, why: String },
    #[error("the {kind} could not be opened")]
    Open {
        kind: DeviceKind,
        #[source]
        source: Cause,
    },
    #[error("the {0} stopped")]
    Stopped(DeviceKind),
    #[error("the {0} failed")]
    Failed(DeviceKind, #[source] Cause),
}

/// A capture device and what it offers.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Device {
    pub(crate) kind: &'static str,
    /// What `--video camera:ID` or `--audio mic:ID` takes.
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) formats: Vec<String>,
}

/// Every camera and microphone found; errors only for a backend that failed outright.
pub(crate) fn list() -> (Vec<Device>, Vec<DeviceError>) {
    let (mut devices, mut problems) = (Vec::new(), Vec::new());
    match cameras() {
        Ok(c) => devices.extend(c),
        Err(e) => problems.push(e),
    }
    match mics() {
        Ok(m) => devices.extend(m),
        Err(e) => problems.push(e),
    }
    (devices, problems)
}

#[cfg(feature = "camera")]
fn cameras() -> Result<Vec<Device>, DeviceError> {
    use nokhwa::pixel_format::RgbFormat;
    use nokhwa::utils::{ApiBackend, RequestedFormat, RequestedFormatType};
    let infos = nokhwa::query(ApiBackend::Auto)
        .map_err(|e| DeviceError::Failed(DeviceKind::Camera, e.into()))?;
    Ok(infos
        .into_iter()
        .map(|info| {
            let formats = nokhwa::Camera::new(
                info.index().clone(),
                RequestedFormat::new::<RgbFormat>(RequestedFormatType::None),
            )
            .and_then(|mut c| c.compatible_camera_formats())
            .map(|fs| {
                fs.iter()
                    .map(|f| {
                        format!(
                            "{} {}x{}@{}",
                            f.format(),
                            f.resolution().width(),
                            f.resolution().height(),
                            f.frame_rate()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
            Device {
                kind: "camera",
                id: info.index().to_string(),
                name: info.human_name(),
                formats,
            }
        })
        .collect())
}

#[cfg(not(feature = "camera"))]
fn cameras() -> Result<Vec<Device>, DeviceError> {
    Err(DeviceError::NotBuilt(DeviceKind::Camera))
}

/// ALSA prints its own errors to stderr (on a machine without sound cards, a dozen lines
/// for each device it is asked about): on the calling thread (listing, opening, and the
/// thread that builds the stream; not cpal's own worker) they go to vcall's log instead
/// (`-v`), so results and vcall's own message stay readable. The audio stack, not a device
/// folder, decides whether there is a microphone: one reached through PulseAudio's or
/// PipeWire's ALSA plugin has no `/dev/snd`.
#[cfg(all(feature = "mic", target_os = "linux"))]
fn alsa_errors_to_log() {
    use std::ffi::{CStr, c_char, c_int};
    unsafe extern "C" fn to_log(
        _file: *const c_char,
        _line: c_int,
        func: *const c_char,
        err: c_int,
        fmt: *const c_char,
        _args: *mut alsa_sys::__va_list_tag,
    ) {
        // SAFETY: ALSA passes NUL-terminated strings that live through the call (or null).
        let text = |p: *const c_char| match p.is_null() {
            true => String::new(),
            false => unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned(),
        };
        // (The message's arguments are not expanded: reading a va_list is not portable.)
        let errno = match err {
            0 => String::new(),
            e => format!(
                " ({})",
                std::io::Error::from_raw_os_error(e.unsigned_abs() as i32)
            ),
        };
        tracing::debug!("ALSA: {}: {}{errno}", text(func), text(fmt).trim_end());
    }
    // SAFETY: sets this thread's handler; the function has the signature ALSA calls.
    unsafe { alsa_sys::snd_lib_error_set_local(Some(to_log)) };
}

#[cfg(all(feature = "mic", not(target_os = "linux")))]
fn alsa_errors_to_log() {}

/// Why no microphone was found (`what`, and the audio stack's own words): on a machine
/// without sound cards, that and where a microphone could still come from.
#[cfg(feature = "mic")]
fn no_mic_why(what: &str, stack_said: &dyn std::fmt::Display) -> String {
    tracing::debug!("{what}: {stack_said}");
    match cfg!(target_os = "linux") && !std::path::Path::new("/dev/snd").exists() {
        true => format!(
            "{what}: this machine has no sound card (/dev/snd), and ALSA is not set up for a sound server (PulseAudio, PipeWire) or a plugin that captures"
        ),
        false => format!("{what} ({stack_said})"),
    }
}

#[cfg(feature = "mic")]
fn mics() -> Result<Vec<Device>, DeviceError> {
    use cpal::traits::{DeviceTrait, HostTrait};
    alsa_errors_to_log();
    let host = cpal::default_host();
    let devices = host
        .input_devices()
        .map_err(|e| DeviceError::Failed(DeviceKind::Microphone, e.into()))?;
    Ok(devices
        .filter_map(|d| {
            let name = d.name().ok()?;
            let formats = d
                .supported_input_configs()
                .map(|cs| {
                    summarize_formats(cs.map(|c| {
                        let rates = (c.min_sample_rate().0, c.max_sample_rate().0);
                        (format!("{:?}", c.sample_format()), c.channels(), rates)
                    }))
                })
                .unwrap_or_default();
            Some(Device {
                kind: "microphone",
                id: name.clone(),
                name,
                formats,
            })
        })
        .collect())
}

/// A device's capture formats, one line per sample format: its channel counts and rates
/// (a plugin device takes any of dozens of channel counts, each a line of its own in cpal).
#[cfg(feature = "mic")]
fn summarize_formats(configs: impl Iterator<Item = (String, u16, (u32, u32))>) -> Vec<String> {
    type Span<T> = (T, T);
    let mut by_format: Vec<(String, Span<u16>, Span<u32>)> = Vec::new();
    for (format, channels, (low, high)) in configs {
        match by_format.iter_mut().find(|(f, ..)| *f == format) {
            Some((_, ch, rates)) => {
                *ch = (ch.0.min(channels), ch.1.max(channels));
                *rates = (rates.0.min(low), rates.1.max(high));
            }
            None => by_format.push((format, (channels, channels), (low, high))),
        }
    }
    by_format
        .into_iter()
        .map(|(format, (c0, c1), (r0, r1))| match c0 == c1 {
            true => format!("{format} {c0}ch {r0}-{r1} Hz"),
            false => format!("{format} {c0}-{c1}ch {r0}-{r1} Hz"),
        })
        .collect()
}

#[cfg(not(feature = "mic"))]
fn mics() -> Result<Vec<Device>, DeviceError> {
    Err(DeviceError::NotBuilt(DeviceKind::Microphone))
}

/// Pictures from the camera thread (nokhwa's camera is not Send, so one thread owns it).
#[cfg(feature = "camera")]
struct Camera {
    rx: std::sync::mpsc::Receiver<Result<crate::vocab::I420, Cause>>,
    width: usize,
    height: usize,
    fps: f64,
}

#[cfg(feature = "camera")]
impl VideoSource for Camera {
    fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }
    fn fps(&self) -> f64 {
        self.fps
    }
    fn next(&mut self, _capture_ms: u64) -> Result<Option<crate::vocab::I420>, SourceError> {
        match self.rx.recv() {
            Ok(Ok(img)) => Ok(Some(img)),
            Ok(Err(e)) => Err(DeviceError::Failed(DeviceKind::Camera, e).into()),
            Err(_) => Err(DeviceError::Stopped(DeviceKind::Camera).into()),
        }
    }
}

/// BT.601 RGB to I420, cropping to an even `w` x `h`.
#[cfg_attr(not(feature = "camera"), allow(dead_code))]
pub(crate) fn rgb_to_i420(
    rgb: &[u8],
    src_w: usize,
    src_h: usize,
    w: usize,
    h: usize,
) -> crate::vocab::I420 {
    let mut img = crate::vocab::I420::new(w, h);
    let (y, uv) = img.data.split_at_mut(w * h);
    let (u, v) = uv.split_at_mut(w * h / 4);
    let px = |x: usize, yy: usize| {
        let i = (yy.min(src_h - 1) * src_w + x.min(src_w - 1)) * 3;
        (rgb[i] as i32, rgb[i + 1] as i32, rgb[i + 2] as i32)
    };
    for row in 0..h {
        for col in 0..w {
            let (r, g, b) = px(col, row);
            y[row * w + col] = (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16).clamp(0, 255) as u8;
        }
    }
    for row in 0..h / 2 {
        for col in 0..w / 2 {
            let (r, g, b) = px(col * 2, row * 2);
            u[row * w / 2 + col] =
                (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
            v[row * w / 2 + col] =
                (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
        }
    }
    img
}

#[cfg(feature = "camera")]
pub(crate) fn open_camera(
    which: Option<&str>,
    width: u32,
    height: u32,
    fps: f64,
) -> Result<Box<dyn VideoSource>, SourceError> {
    use nokhwa::pixel_format::RgbFormat;
    use nokhwa::utils::{
        ApiBackend, CameraFormat, FrameFormat, RequestedFormat, RequestedFormatType,
    };
    let kind = DeviceKind::Camera;
    let none = |why: String| DeviceError::Missing { kind, why };
    let cams = nokhwa::query(ApiBackend::Auto).map_err(|e| DeviceError::Open {
        kind,
        source: e.into(),
    })?;
    let info = match which {
        None => cams.first(),
        Some(w) => cams
            .iter()
            .find(|c| c.index().to_string() == w || c.human_name() == w),
    }
    .ok_or_else(|| {
        none(match which {
            None => "none was found".into(),
            Some(w) => format!("{w:?} was not found"),
        })
    })?;
    let index = info.index().clone();
    let name = info.human_name();
    let wanted = CameraFormat::new_from(width, height, FrameFormat::MJPEG, fps.round() as u32);
    let (tx, rx) = std::sync::mpsc::sync_channel(2);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(usize, usize, f64), Cause>>();
    std::thread::spawn(move || {
        let opened = nokhwa::Camera::new(
            index,
            RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(wanted)),
        )
        .and_then(|mut cam| cam.open_stream().map(|_| cam));
        let mut cam = match opened {
            Ok(c) => c,
            Err(e) => {
                let _ = ready_tx.send(Err(e.into()));
                return;
            }
        };
        let f = cam.camera_format();
        let (w, h) = (
            (f.resolution().width() & !1) as usize,
            (f.resolution().height() & !1) as usize,
        );
        tracing::info!(
            "camera {name}: {} {w}x{h} at {} fps",
            f.format(),
            f.frame_rate()
        );
        let _ = ready_tx.send(Ok((w, h, f.frame_rate().max(1) as f64)));
        loop {
            let picture = cam
                .frame()
                .and_then(|frame| frame.decode_image::<RgbFormat>())
                .map(|rgb| {
                    rgb_to_i420(
                        rgb.as_raw(),
                        rgb.width() as usize,
                        rgb.height() as usize,
                        w,
                        h,
                    )
                })
                .map_err(Cause::from);
            let failed = picture.is_err();
            match tx.try_send(picture) {
                Err(std::sync::mpsc::TrySendError::Disconnected(_)) => break,
                _ if failed => break,
                _ => {} // a full queue drops the picture: the encoder is behind
            }
        }
    });
    let (w, h, rate) = ready_rx
        .recv()
        .map_err(|_| none("the capture thread failed".into()))?
        .map_err(|source| DeviceError::Open { kind, source })?;
    Ok(Box::new(Camera {
        rx,
        width: w,
        height: h,
        fps: rate,
    }))
}

#[cfg(not(feature = "camera"))]
pub(crate) fn open_camera(
    _which: Option<&str>,
    _w: u32,
    _h: u32,
    _fps: f64,
) -> Result<Box<dyn VideoSource>, SourceError> {
    Err(DeviceError::NotBuilt(DeviceKind::Camera).into())
}

#[cfg(feature = "mic")]
struct Mic {
    rx: std::sync::mpsc::Receiver<Vec<i16>>,
    buffered: std::collections::VecDeque<i16>,
    /// Keeps the capture thread (which owns the non-Send stream) alive.
    _stop: std::sync::mpsc::Sender<()>,
}

#[cfg(feature = "mic")]
impl AudioSource for Mic {
    fn next(
        &mut self,
        _capture_ms: u64,
        out: &mut [i16; crate::codec::OPUS_FRAME],
    ) -> Result<bool, SourceError> {
        while self.buffered.len() < out.len() {
            let chunk = self
                .rx
                .recv()
                .map_err(|_| DeviceError::Stopped(DeviceKind::Microphone))?;
            self.buffered.extend(chunk);
        }
        for s in out.iter_mut() {
            *s = self.buffered.pop_front().unwrap_or(0);
        }
        Ok(true)
    }
}

#[cfg(feature = "mic")]
pub(crate) fn open_mic(which: Option<&str>) -> Result<Box<dyn AudioSource>, SourceError> {
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    let kind = DeviceKind::Microphone;
    let none = |why: String| DeviceError::Missing { kind, why };
    let open = |source: Cause| DeviceError::Open { kind, source };
    alsa_errors_to_log();
    let host = cpal::default_host();
    let device = match which {
        None => host.default_input_device(),
        Some(w) => host
            .input_devices()
            .map_err(|e| open(e.into()))?
            .find(|d| d.name().is_ok_and(|n| n == w)),
    }
    .ok_or_else(|| {
        none(match which {
            None => no_mic_why("ALSA has no default capture device", &"none"),
            Some(w) => format!("{w:?} was not found"),
        })
    })?;
    let config = device.default_input_config().map_err(|e| match which {
        None => none(no_mic_why(
            "ALSA's default capture device cannot be opened",
            &e,
        )),
        Some(_) => open(e.into()),
    })?;
    let (rate, channels) = (config.sample_rate().0, config.channels() as usize);
    let (tx, rx) = std::sync::mpsc::channel::<Vec<i16>>();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), Cause>>();
    // cpal streams are not Send: one thread builds, runs and drops it.
    let mut resampler = super::resample::Resampler::new(rate, 48_000)
        .map_err(|why| DeviceError::Failed(kind, why.into()))?;
    let mut pace = Pace::new(rate);
    std::thread::spawn(move || {
        alsa_errors_to_log();
        let stream = device.build_input_stream(
            &config.into(),
            move |data: &[f32], _| {
                pace.wait_for(data.len() / channels);
                // Mix to mono, then resample to 48 kHz.
                let mono: Vec<f32> = data
                    .chunks(channels)
                    .map(|f| f.iter().sum::<f32>() / channels as f32)
                    .collect();
                let out = resampler
                    .push(&mono)
                    .into_iter()
                    .map(|s| (s * 32767.0).clamp(-32768.0, 32767.0) as i16)
                    .collect();
                let _ = tx.send(out);
            },
            |e| tracing::warn!("microphone: {e}"),
            None,
        );
        match stream {
            Ok(s) => match s.play() {
                Ok(()) => {
                    let _ = ready_tx.send(Ok(()));
                    let _ = stop_rx.recv();
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.into()));
                }
            },
            Err(e) => {
                let _ = ready_tx.send(Err(e.into()));
            }
        }
    });
    ready_rx
        .recv()
        .map_err(|_| none("the capture thread failed".into()))?
        .map_err(open)?;
    Ok(Box::new(Mic {
        rx,
        buffered: Default::default(),
        _stop: stop_tx,
    }))
}

/// Holds a capture device to the wall clock. A sound card delivers samples as they are
/// played in; a device that delivers far faster (an ALSA plugin over a file or the `null`
/// device) would otherwise fill memory and spin a core: its callback waits until the samples
/// it brought are nearly due. A card's clock may run a little fast (tens of ppm), so the
/// margin grows with the time (a thousandth of it, beyond 200 ms): a real card never waits.
#[cfg(feature = "mic")]
struct Pace {
    rate: u32,
    started: Option<std::time::Instant>,
    frames: u64,
}

#[cfg(feature = "mic")]
impl Pace {
    /// How far ahead of the clock a device may deliver, at first, before it is held back.
    const AHEAD: std::time::Duration = std::time::Duration::from_millis(200);

    fn new(rate: u32) -> Pace {
        Pace {
            rate,
            started: None,
            frames: 0,
        }
    }

    fn span(&self, frames: u64) -> std::time::Duration {
        std::time::Duration::from_secs_f64(frames as f64 / self.rate as f64)
    }

    /// Counts `frames` more delivered at `now`; how long to wait, when they are too far
    /// ahead of the clock. The first callback's frames were captured before it came.
    fn wait(&mut self, frames: usize, now: std::time::Instant) -> Option<std::time::Duration> {
        let first = self.span(frames as u64);
        let started = *self
            .started
            .get_or_insert_with(|| now.checked_sub(first).unwrap_or(now));
        self.frames += frames as u64;
        let elapsed = now.saturating_duration_since(started);
        let ahead = self.span(self.frames).checked_sub(elapsed)?;
        (ahead > Pace::AHEAD + elapsed / 1000).then(|| ahead - Pace::AHEAD / 2)
    }

    /// Counts `frames` more delivered now, and waits while they are too far ahead.
    fn wait_for(&mut self, frames: usize) {
        if let Some(wait) = self.wait(frames, std::time::Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

#[cfg(all(test, feature = "mic"))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_card_a_little_fast_never_waits_and_a_file_is_held_to_the_clock() {
        let t0 = Instant::now();
        // A card 100 ppm fast, 10 ms periods, for two hours: it never waits.
        let mut card = Pace::new(48_000);
        let period = Duration::from_micros(10_000 * 1_000_000 / 1_000_100);
        for n in 1..=720_000u32 {
            assert_eq!(card.wait(480, t0 + period * n), None, "period {n}");
        }
        // A file behind a plugin: everything at once. It waits until the samples are due
        // within the margin, then again for each callback ahead.
        let mut file = Pace::new(48_000);
        let mut now = t0;
        for _ in 0..500 {
            if let Some(wait) = file.wait(4_800, now) {
                now += wait;
            }
        }
        // 50 s of samples delivered: held to about 50 s of the clock.
        let held = now.duration_since(t0).as_secs_f64();
        assert!((49.5..=50.0).contains(&held), "{held}");
    }
}

#[cfg(not(feature = "mic"))]
pub(crate) fn open_mic(_which: Option<&str>) -> Result<Box<dyn AudioSource>, SourceError> {
    Err(DeviceError::NotBuilt(DeviceKind::Microphone).into())
}
