//! VP8 and VP9 encoding through the system's libvpx, by way of the thin C layer in `vpx.c` (built
//! by build.rs against the installed headers: libvpx's configuration struct follows its ABI
//! version, so no Rust code mirrors it).

use std::ffi::{CStr, c_char, c_int, c_uint, c_ulong};

use super::{CodecError, Hold};
use crate::vocab::{Codec, I420};

/// libvpx's encoder context and configuration, owned by the C layer.
#[repr(C)]
struct Raw {
    _private: [u8; 0],
}

unsafe extern "C" {
    fn vcall_vpx_new(
        vp9: c_int,
        width: c_uint,
        height: c_uint,
        bitrate_kbps: c_uint,
        keyframe_interval: c_uint,
        threads: c_uint,
        why: *mut *const c_char,
    ) -> *mut Raw;
    fn vcall_vpx_free(e: *mut Raw);
    fn vcall_vpx_error(e: *mut Raw) -> *const c_char;
    fn vcall_vpx_set_rate(e: *mut Raw, bitrate_kbps: c_uint) -> c_int;
    fn vcall_vpx_encode(
        e: *mut Raw,
        i420: *mut u8,
        pts: i64,
        duration: c_ulong,
        force_keyframe: c_int,
        out: *mut *const u8,
        len: *mut usize,
        key: *mut c_int,
    ) -> c_int;
    fn vcall_vpx_last_quantizer(e: *mut Raw) -> c_int;
}

/// One libvpx encoder for one picture size.
struct Context {
    raw: *mut Raw,
    size: (usize, usize),
}

// SAFETY: the context is used from one thread at a time (it is owned, and every call takes
// `&mut self`); libvpx keeps no thread-bound state in it.
unsafe impl Send for Context {}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: `raw` came from vcall_vpx_new and is freed once, here.
        unsafe { vcall_vpx_free(self.raw) }
    }
}

impl Context {
    fn error(&self) -> CodecError {
        // SAFETY: `raw` is live; the C layer returns a NUL-terminated string libvpx owns.
        let why = unsafe { CStr::from_ptr(vcall_vpx_error(self.raw)) };
        CodecError::Vpx(why.to_string_lossy().into_owned())
    }
}

/// A real-time VP8 or VP9 encoder (libvpx: constant bitrate, no lag, as browsers encode a
/// camera; see `vpx.c`). The picture size is the first picture's; a new size makes a new
/// encoder, whose first picture is a keyframe. The rate is held by skipping pictures here, as
/// for H.264 (libvpx's own frame dropping is off).
pub struct VpxEncoder {
    codec: Codec,
    ctx: Option<Context>,
    bitrate: u32,
    keyframe_interval: u32,
    /// The next picture's time, 1/90000 s.
    clock: f64,
    hold: Hold,
    /// A picture was encoded by the current context.
    started: bool,
}

/// libwebrtc's quality thresholds for its libvpx VP8 (quantizer, 0..127) and VP9 (quantizer
/// index, 0..255) encoders and for H.264 (QP): a libvpx quantizer is reported on H.264's scale by mapping
/// one pair onto the other, so that one quality scaler judges all three.
const VP8_Q: (f64, f64) = (29.0, 95.0);
const VP9_Q: (f64, f64) = (149.0, 205.0);
const H264_QP: (f64, f64) = (24.0, 37.0);

impl VpxEncoder {
    /// A VP8 encoder at `bitrate` and `fps`, a keyframe at least every `keyframe_interval`
    /// pictures.
    pub fn vp8(fps: f32, bitrate: u32, keyframe_interval: u32) -> VpxEncoder {
        VpxEncoder::new(Codec::Vp8, fps, bitrate, keyframe_interval)
    }

    /// A VP9 (profile 0) encoder, as [`VpxEncoder::vp8`].
    pub fn vp9(fps: f32, bitrate: u32, keyframe_interval: u32) -> VpxEncoder {
        VpxEncoder::new(Codec::Vp9, fps, bitrate, keyframe_interval)
    }

    /// An encoder of `codec`, VP8 or VP9.
    pub(crate) fn new(codec: Codec, fps: f32, bitrate: u32, keyframe_interval: u32) -> VpxEncoder {
        let fps = f64::from(fps.max(1.0));
        VpxEncoder {
            codec,
            ctx: None,
            bitrate,
            keyframe_interval,
            clock: 0.0,
            hold: Hold::new(f64::from(bitrate), fps),
            started: false,
        }
    }

    /// Its frame rate, bitrate and keyframe interval.
    pub(super) fn settings(&self) -> (f64, f64, u32) {
        (
            1000.0 / self.hold.frame_ms,
            self.hold.bitrate,
            self.keyframe_interval,
        )
    }

    /// A new encoder for a new picture size, starting at `bitrate` and `fps`.
    pub(crate) fn restart(&mut self, fps: f32, bitrate: u32) {
        *self = VpxEncoder::new(self.codec, fps, bitrate, self.keyframe_interval);
    }

    pub(crate) fn codec(&self) -> Codec {
        self.codec
    }

    fn context(&mut self, size: (usize, usize)) -> Result<&mut Context, CodecError> {
        if self.ctx.as_ref().is_some_and(|c| c.size != size) {
            self.ctx = None;
        }
        if self.ctx.is_none() {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            // A second thread pays from 720p on, where one core is the limit.
            let threads = if size.0 * size.1 >= 1280 * 720 && cores > 1 {
                2
            } else {
                1
            };
            let dim =
                |d: usize| c_uint::try_from(d).map_err(|_| CodecError::Vpx("too large".into()));
            let mut why: *const c_char = std::ptr::null();
            // SAFETY: plain values in; `why` is written on failure with a static string.
            let raw = unsafe {
                vcall_vpx_new(
                    c_int::from(self.codec == Codec::Vp9),
                    dim(size.0)?,
                    dim(size.1)?,
                    (self.bitrate / 1000).max(1),
                    self.keyframe_interval.max(1),
                    threads,
                    &raw mut why,
                )
            };
            if raw.is_null() {
                let why = if why.is_null() {
                    "unknown error".into()
                } else {
                    // SAFETY: a NUL-terminated static string from the C layer or libvpx.
                    unsafe { CStr::from_ptr(why) }
                        .to_string_lossy()
                        .into_owned()
                };
                return Err(CodecError::Vpx(format!("{}x{}: {why}", size.0, size.1)));
            }
            self.ctx = Some(Context { raw, size });
            self.started = false;
        }
        Ok(self.ctx.as_mut().expect("made above"))
    }

    /// Changes the target bitrate and frame rate while encoding; returns whether it was
    /// applied (once the first picture has been encoded, as for H.264). libvpx follows the
    /// frame rate from the pictures' times by itself.
    pub(crate) fn set_rate(&mut self, bitrate: u32, fps: f32, hold: bool) -> bool {
        let Some(ctx) = self.ctx.as_mut().filter(|_| self.started) else {
            return false;
        };
        // SAFETY: `raw` is live.
        if unsafe { vcall_vpx_set_rate(ctx.raw, (bitrate / 1000).max(1)) } != 0 {
            return false;
        }
        self.bitrate = bitrate;
        self.hold
            .set(f64::from(bitrate), f64::from(fps.max(1.0)), hold);
        true
    }

    /// The last picture's quantizer on H.264's QP scale (see `VP8_Q`, `VP9_Q`); `None`
    /// before the first.
    pub fn qp(&mut self) -> Option<u32> {
        let ctx = self.ctx.as_mut().filter(|_| self.started)?;
        // SAFETY: `raw` is live.
        let q = unsafe { vcall_vpx_last_quantizer(ctx.raw) };
        if q < 0 {
            return None;
        }
        let own = if self.codec == Codec::Vp9 {
            VP9_Q
        } else {
            VP8_Q
        };
        let scale = (H264_QP.1 - H264_QP.0) / (own.1 - own.0);
        let qp = H264_QP.0 + (f64::from(q) - own.0) * scale;
        Some(qp.round().clamp(1.0, 51.0) as u32)
    }

    /// Encodes one picture; returns the frame (empty when skipped to hold the rate) and
    /// whether it is a keyframe.
    pub fn encode(
        &mut self,
        img: &I420,
        force_keyframe: bool,
    ) -> Result<(Vec<u8>, bool), CodecError> {
        let duration = 90.0 * self.hold.frame_ms;
        let pts = self.clock as i64;
        self.clock += duration;
        if self.hold.skips(self.started) {
            return Ok((Vec::new(), false));
        }
        // libvpx reads an odd side's chroma rounded up: past the end of such a buffer.
        if img.width % 2 == 1 || img.height % 2 == 1 {
            return Err(CodecError::Vpx(format!(
                "{}x{}: {} pictures here have even sides",
                img.width,
                img.height,
                self.codec.name()
            )));
        }
        if img.data.len() < img.width * img.height * 3 / 2 {
            return Err(CodecError::Vpx("a picture smaller than its size".into()));
        }
        let ctx = self.context((img.width, img.height))?;
        let (mut out, mut len, mut key) = (std::ptr::null(), 0usize, 0 as c_int);
        // SAFETY: `raw` is live; the picture is one I420 buffer of the context's size, its
        // sides even (checked above), which libvpx only reads during the call; `out` then points into libvpx's own
        // buffer, `len` bytes long, valid until the next call: it is copied at once.
        let data = unsafe {
            let r = vcall_vpx_encode(
                ctx.raw,
                img.data.as_ptr().cast_mut(),
                pts,
                duration.round().max(1.0) as c_ulong,
                c_int::from(force_keyframe),
                &raw mut out,
                &raw mut len,
                &raw mut key,
            );
            match r {
                0 => {}
                -2 => return Err(CodecError::Vpx("the picture could not be wrapped".into())),
                _ => return Err(ctx.error()),
            }
            if out.is_null() || len == 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(out, len).to_vec()
            }
        };
        self.started = true;
        if !data.is_empty() {
            self.hold.sent(data.len());
        }
        Ok((data, key != 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::testsrc::{Marks, read_marks, render, render_busy};

    #[test]
    fn vp8_and_vp9_follow_a_new_rate_and_their_pictures_decode_with_their_marks() {
        for codec in [Codec::Vp8, Codec::Vp9] {
            follows_a_new_rate_and_decodes_with_marks(codec);
        }
    }

    fn follows_a_new_rate_and_decodes_with_marks(codec: Codec) {
        let mut enc = VpxEncoder::new(codec, 30.0, 1_500_000, 600);
        assert_eq!(enc.qp(), None, "no quantizer before the first picture");
        assert!(
            !enc.set_rate(500_000, 30.0, false),
            "not before the first picture"
        );
        let mut dec = super::super::VideoDecoder::new(codec).unwrap();
        let mut img = I420::new(1280, 720);
        let mut bits = [0usize; 2];
        for frame in 0..120u32 {
            if frame == 60 {
                assert!(enc.set_rate(300_000, 30.0, false));
            }
            let marks = Marks {
                frame,
                capture_ms: 1_700_000_000_000 + u64::from(frame) * 33,
            };
            render_busy(&mut img, marks);
            let (data, key) = enc.encode(&img, frame == 90).unwrap();
            assert!(!data.is_empty(), "frame {frame}: nothing is skipped unheld");
            assert_eq!(key, frame == 0 || frame == 90, "frame {frame}");
            if (30..60).contains(&frame) {
                bits[0] += data.len() * 8;
            } else if frame >= 75 && frame != 90 {
                bits[1] += data.len() * 8;
            }
            let qp = enc.qp().expect("a quantizer");
            assert!((1..=51).contains(&qp), "{codec:?}: {qp}");
            let pic = dec.decode(&data).unwrap().expect("a picture");
            assert_eq!((pic.width, pic.height), (1280, 720));
            assert_eq!(read_marks(&pic), Some(marks), "{codec:?} frame {frame}");
        }
        let high = bits[0] as f64 / 1.0;
        let low = bits[1] as f64 * 30.0 / 44.0;
        assert!(
            (0.7 * 1.5e6..=1.3 * 1.5e6).contains(&high),
            "{codec:?} at 1.5 Mbit/s: {high:.0}"
        );
        assert!(
            (0.6 * 3e5..=1.4 * 3e5).contains(&low),
            "{codec:?} at 300 kbit/s: {low:.0}"
        );
        // A new size: a new encoder, its first picture a keyframe.
        let mut small = I420::new(640, 360);
        render(
            &mut small,
            Marks {
                frame: 120,
                capture_ms: 0,
            },
        );
        let (data, key) = enc.encode(&small, false).unwrap();
        assert!(key, "the first picture at a new size is a keyframe");
        let pic = dec.decode(&data).unwrap().expect("a picture");
        assert_eq!((pic.width, pic.height), (640, 360));
    }
}
