//! Encoders and decoders behind small types: H.264 through openh264, VP8 and VP9 through
//! libvpx, Opus through libopus; received VP8, VP9 and AV1 decoded through FFmpeg's libavcodec.

mod av;
pub(crate) mod ffmpeg;
mod vpx;

use crate::vocab::{Codec, I420};
use std::time::Duration;

pub use vpx::VpxEncoder;

/// A video encoder of a codec vcall sends (`--video-codec`).
pub enum VideoEncoder {
    /// Boxed: openh264's wrapper holds its parameters inline (7 KB).
    H264(Box<H264Encoder>),
    Vpx(VpxEncoder),
}

impl VideoEncoder {
    /// An encoder of `codec` (a video codec) at `bitrate` and `fps`; the picture size is the
    /// first picture's.
    pub(crate) fn new(
        codec: Codec,
        fps: f32,
        bitrate: u32,
        keyframe_interval: u32,
    ) -> Result<VideoEncoder, CodecError> {
        Ok(match codec {
            Codec::Vp8 | Codec::Vp9 => {
                VideoEncoder::Vpx(VpxEncoder::new(codec, fps, bitrate, keyframe_interval))
            }
            Codec::H264 => {
                VideoEncoder::H264(Box::new(H264Encoder::new(fps, bitrate, keyframe_interval)?))
            }
            other => return Err(CodecError::NotEncoded(other.name())),
        })
    }

    pub(crate) fn codec(&self) -> Codec {
        match self {
            VideoEncoder::H264(_) => Codec::H264,
            VideoEncoder::Vpx(e) => e.codec(),
        }
    }

    /// Encodes to `codec` from now on (a new encoder with the same settings, when another).
    pub(crate) fn switch(&mut self, codec: Codec) -> Result<(), CodecError> {
        if codec == self.codec() {
            return Ok(());
        }
        let (fps, bitrate, keyframe_interval) = match self {
            VideoEncoder::H264(e) => (e.made_fps, e.hold.bitrate, e.keyframe_interval),
            VideoEncoder::Vpx(e) => e.settings(),
        };
        *self = VideoEncoder::new(codec, fps as f32, bitrate as u32, keyframe_interval)?;
        Ok(())
    }

    /// A new encoder for a new picture size: its first picture is a keyframe.
    pub(crate) fn restart(&mut self, fps: f32, bitrate: u32) -> Result<(), CodecError> {
        match self {
            VideoEncoder::H264(e) => e.restart(fps, bitrate),
            VideoEncoder::Vpx(e) => {
                e.restart(fps, bitrate);
                Ok(())
            }
        }
    }

    /// See [`H264Encoder::set_rate`].
    pub(crate) fn set_rate(&mut self, bitrate: u32, fps: f32, hold: bool) -> bool {
        match self {
            VideoEncoder::H264(e) => e.set_rate(bitrate, fps, hold),
            VideoEncoder::Vpx(e) => e.set_rate(bitrate, fps, hold),
        }
    }

    /// The last picture's QP on H.264's scale (the quality scaler's).
    pub fn qp(&mut self) -> Option<u32> {
        match self {
            VideoEncoder::H264(e) => e.qp(),
            VideoEncoder::Vpx(e) => e.qp(),
        }
    }

    /// Encodes one picture: the frame (empty when skipped to hold the rate; H.264 as Annex B)
    /// and whether it is a keyframe.
    pub fn encode(
        &mut self,
        img: &I420,
        force_keyframe: bool,
    ) -> Result<(Vec<u8>, bool), CodecError> {
        match self {
            VideoEncoder::H264(e) => e.encode(img, force_keyframe),
            VideoEncoder::Vpx(e) => e.encode(img, force_keyframe),
        }
    }
}

/// A decoder of received video: H.264 through openh264, the others through libavcodec.
pub(crate) enum VideoDecoder {
    H264(H264Decoder),
    Av(av::Decoder),
}

impl VideoDecoder {
    /// A decoder for `codec`, a video codec.
    pub(crate) fn new(codec: Codec) -> Result<VideoDecoder, CodecError> {
        Ok(match codec {
            Codec::H264 => VideoDecoder::H264(H264Decoder::new()?),
            other => VideoDecoder::Av(av::Decoder::new(other)?),
        })
    }

    /// Decodes one frame (H.264: an Annex B access unit); `None` when it yields no picture.
    pub(crate) fn decode(&mut self, frame: &[u8]) -> Result<Option<I420>, CodecError> {
        match self {
            VideoDecoder::H264(d) => d.decode(frame),
            VideoDecoder::Av(d) => d.decode(frame),
        }
    }
}

/// What can go wrong in a codec.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("H.264: {0}")]
    H264(String),
    #[error("Opus: {0}")]
    Opus(String),
    #[error("libvpx: {0}")]
    Vpx(String),
    /// A received picture FFmpeg could not decode (VP8, VP9, AV1).
    #[error("{0}")]
    Decode(String),
    #[error("{0} is received only: vcall does not encode it")]
    NotEncoded(&'static str),
}

/// An H.264 encoder (constrained baseline, Annex B output with SPS/PPS on every keyframe).
///
/// Its rate is held here, not by openh264's own frame skipping: once that has been on,
/// openh264 goes on skipping runs of 10 and more pictures after it is turned off again (a
/// freeze at every receiver), and its rate control keeps the per-picture budget of the frame
/// rate it was made with, whatever frame rate it is told later (at twice the rate it sends
/// twice the bits).
pub struct H264Encoder {
    inner: openh264::encoder::Encoder,
    /// A picture was encoded (options can be changed from then on).
    started: bool,
    /// The frame rate the encoder was made with: its rate control's budget per picture is
    /// the bitrate it is told divided by this.
    made_fps: f64,
    /// What openh264 was told for the target.
    told: f64,
    /// The next picture's time, ms (the rate control spends its bits by them).
    clock_ms: f64,
    keyframe_interval: u32,
    hold: Hold,
}

/// An encoder's rate held by skipping pictures while the bits sent run ahead of the target
/// (`set_rate`'s `hold`), as encoders' own frame dropping would: neither openh264's nor
/// libvpx's is used (see [`H264Encoder`]).
#[derive(Debug, Clone, Copy)]
struct Hold {
    /// The target (bit/s) and the time between pictures.
    bitrate: f64,
    frame_ms: f64,
    /// Whether the rate is held; how far ahead the bits sent are, and how many pictures
    /// were skipped in a row.
    on: bool,
    ahead_bits: f64,
    skipped: u32,
}

/// How far (in time at the target rate) the bits sent may run ahead of the target while it
/// is held, before pictures are skipped: a keyframe (about four pictures' worth) passes.
const HOLD_AHEAD: Duration = Duration::from_millis(250);

/// The longest run of pictures skipped to hold the rate: within this, the gap stays under
/// what counts as a freeze (three frame times and 150 ms more than one); the next picture
/// goes out at whatever quality fits.
const MAX_SKIPPED: Duration = Duration::from_millis(150);

impl Hold {
    fn new(bitrate: f64, fps: f64) -> Hold {
        Hold {
            bitrate,
            frame_ms: 1000.0 / fps,
            on: false,
            ahead_bits: 0.0,
            skipped: 0,
        }
    }

    /// A new target, frame rate and whether it is held.
    fn set(&mut self, bitrate: f64, fps: f64, on: bool) {
        self.bitrate = bitrate;
        self.frame_ms = 1000.0 / fps;
        self.on = on;
    }

    /// Whether the next picture is skipped (`started`: the encoder has made one).
    fn skips(&mut self, started: bool) -> bool {
        // The target pays back one picture's worth of what was sent ahead of it.
        self.ahead_bits = (self.ahead_bits - self.bitrate * self.frame_ms / 1000.0).max(0.0);
        let most = (MAX_SKIPPED.as_secs_f64() * 1000.0 / self.frame_ms).max(1.0) as u32;
        let skip = self.on
            && started
            && self.ahead_bits > self.bitrate * HOLD_AHEAD.as_secs_f64()
            && self.skipped < most;
        self.skipped += u32::from(skip);
        skip
    }

    /// A picture of `bytes` went out.
    fn sent(&mut self, bytes: usize) {
        self.skipped = 0;
        // What is paid back by skipping stays bounded: a second at the target.
        self.ahead_bits = (self.ahead_bits + (bytes * 8) as f64).min(self.bitrate);
    }
}

impl H264Encoder {
    /// An encoder at `bitrate` and `fps`; the picture size is the first picture's.
    pub fn new(fps: f32, bitrate: u32, keyframe_interval: u32) -> Result<H264Encoder, CodecError> {
        use openh264::encoder::{
            BitRate, EncoderConfig, FrameRate, IntraFramePeriod, QpRange, RateControlMode,
            SpsPpsStrategy, UsageType,
        };
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bitrate))
            .max_frame_rate(FrameRate::from_hz(fps))
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            // The whole range: openh264's default for cameras stops at 42, where busy
            // pictures at low rates need more bits than they are given.
            .qp(QpRange::new(1, 51))
            .skip_frames(false)
            .scene_change_detect(false)
            .sps_pps_strategy(SpsPpsStrategy::ConstantId)
            .intra_frame_period(IntraFramePeriod::from_num_frames(keyframe_interval));
        let mut inner = openh264::encoder::Encoder::with_api_config(
            openh264::OpenH264API::from_source(),
            config,
        )
        .map_err(|e| CodecError::H264(e.to_string()))?;
        // openh264 logs its parameter checks to stderr when the encoder is initialized (at the
        // first picture), before the crate applies the configured log level: quiet it now.
        let mut quiet = openh264_sys2::WELS_LOG_QUIET;
        // SAFETY: the encoder was created above; the option takes a pointer to an int that
        // it reads during the call.
        unsafe {
            inner.raw_api().set_option(
                openh264_sys2::ENCODER_OPTION_TRACE_LEVEL,
                std::ptr::addr_of_mut!(quiet).cast(),
            );
        }
        let fps = f64::from(fps.max(1.0));
        Ok(H264Encoder {
            inner,
            started: false,
            made_fps: fps,
            told: f64::from(bitrate),
            clock_ms: 0.0,
            keyframe_interval,
            hold: Hold::new(f64::from(bitrate), fps),
        })
    }

    /// A new encoder for a new picture size, starting at `bitrate` and `fps`: its first
    /// picture is a keyframe with the new size's parameter sets. (openh264 re-initializes
    /// itself on a new size, but at the bitrate it was created with.)
    pub(crate) fn restart(&mut self, fps: f32, bitrate: u32) -> Result<(), CodecError> {
        *self = H264Encoder::new(fps, bitrate, self.keyframe_interval)?;
        Ok(())
    }

    /// Changes the target bitrate and frame rate while encoding (congestion control). Takes
    /// effect once the first picture has been encoded (the encoder is set up then); returns
    /// whether it was applied. `hold`: pictures are skipped while the bits sent run ahead of
    /// the target (otherwise none is, so that a recording's first seconds are whole).
    pub(crate) fn set_rate(&mut self, bitrate: u32, fps: f32, hold: bool) -> bool {
        if !self.started {
            return false;
        }
        let fps = f64::from(fps.max(1.0));
        // The rate control spends the bitrate it is told over `made_fps` pictures a second.
        let told = (f64::from(bitrate) * self.made_fps / fps).min(f64::from(i32::MAX));
        // The layer's maximum moves with it: openh264 refuses a bitrate above the maximum
        // (which it was made with at its first bitrate), so that goes first when the rate
        // rises and last when it falls.
        let (mut max, mut target) = (
            openh264_sys2::SBitrateInfo {
                iLayer: openh264_sys2::SPATIAL_LAYER_0,
                iBitrate: told as i32,
            },
            openh264_sys2::SBitrateInfo {
                iLayer: openh264_sys2::SPATIAL_LAYER_ALL,
                iBitrate: told as i32,
            },
        );
        let (max, target) = (
            (openh264_sys2::ENCODER_OPTION_MAX_BITRATE, &raw mut max),
            (openh264_sys2::ENCODER_OPTION_BITRATE, &raw mut target),
        );
        let order = if told >= self.told {
            [max, target]
        } else {
            [target, max]
        };
        // SAFETY: the encoder is initialized (a picture was encoded); each option takes a
        // pointer to a value that lives through the call, which reads it.
        let applied = order.into_iter().all(|(option, info)| unsafe {
            self.inner.raw_api().set_option(option, info.cast()) == 0
        });
        if applied {
            self.told = told;
            self.hold.set(f64::from(bitrate), fps, hold);
        }
        applied
    }

    /// The average QP of the last picture encoded (what a quality scaler reads: libwebrtc
    /// reads the same of openh264); `None` before the first.
    pub fn qp(&mut self) -> Option<u32> {
        if !self.started {
            return None;
        }
        // SAFETY: all-zero is a valid value of this plain C struct of numbers.
        let mut stats: openh264_sys2::SEncoderStatistics = unsafe { std::mem::zeroed() };
        // SAFETY: the encoder is initialized (a picture was encoded); the option writes the
        // struct it is given a pointer to, which lives through the call.
        let ok = unsafe {
            self.inner.raw_api().get_option(
                openh264_sys2::ENCODER_OPTION_GET_STATISTICS,
                (&raw mut stats).cast(),
            )
        } == 0;
        ok.then_some(stats.uiAverageFrameQP)
    }

    /// Encodes one picture; returns the Annex B access unit (empty when the picture was
    /// skipped to hold the rate) and whether it is a keyframe.
    pub fn encode(
        &mut self,
        img: &I420,
        force_keyframe: bool,
    ) -> Result<(Vec<u8>, bool), CodecError> {
        let at = openh264::Timestamp::from_millis(self.clock_ms as u64);
        self.clock_ms += self.hold.frame_ms;
        if self.hold.skips(self.started) {
            return Ok((Vec::new(), false));
        }
        if force_keyframe {
            self.inner.force_intra_frame();
        }
        let (w, h) = (img.width, img.height);
        let (y, uv) = img.data.split_at(w * h);
        let (u, v) = uv.split_at(w * h / 4);
        let src = openh264::formats::YUVSlices::new((y, u, v), (w, h), (w, w / 2, w / 2));
        let bs = self
            .inner
            .encode_at(&src, at)
            .map_err(|e| CodecError::H264(e.to_string()))?;
        let key = matches!(
            bs.frame_type(),
            openh264::encoder::FrameType::IDR | openh264::encoder::FrameType::I
        );
        let data = bs.to_vec();
        self.started = true;
        self.hold.sent(data.len());
        Ok((data, key))
    }
}

/// An H.264 decoder producing I420 pictures.
pub(crate) struct H264Decoder {
    inner: openh264::decoder::Decoder,
}

impl H264Decoder {
    pub(crate) fn new() -> Result<H264Decoder, CodecError> {
        let inner =
            openh264::decoder::Decoder::new().map_err(|e| CodecError::H264(e.to_string()))?;
        Ok(H264Decoder { inner })
    }

    /// Decodes one Annex B access unit; `None` when it yields no picture (yet).
    pub(crate) fn decode(&mut self, au: &[u8]) -> Result<Option<I420>, CodecError> {
        use openh264::formats::YUVSource;
        let Some(pic) = self
            .inner
            .decode(au)
            .map_err(|e| CodecError::H264(e.to_string()))?
        else {
            return Ok(None);
        };
        let (w, h) = pic.dimensions();
        let (sy, su, sv) = pic.strides();
        let planes = [(pic.y(), sy), (pic.u(), su), (pic.v(), sv)];
        Ok(Some(I420::from_planes(w, h, planes)))
    }
}

/// Samples per Opus frame at 48 kHz (20 ms).
pub const OPUS_FRAME: usize = 960;

/// An Opus encoder: 48 kHz mono, 20 ms frames, in-band FEC on.
pub struct OpusEncoder {
    inner: opus::Encoder,
    out: Vec<u8>,
}

impl OpusEncoder {
    pub fn new(bitrate: u32) -> Result<OpusEncoder, CodecError> {
        let e = |e: opus::Error| CodecError::Opus(e.to_string());
        let mut inner =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).map_err(e)?;
        inner
            .set_bitrate(opus::Bitrate::Bits(bitrate as i32))
            .map_err(e)?;
        inner.set_inband_fec(true).map_err(e)?;
        // FEC sized for 10 % loss: a single lost packet is carried again, coarser, in the next.
        inner.set_packet_loss_perc(10).map_err(e)?;
        Ok(OpusEncoder {
            inner,
            out: vec![0; 4000],
        })
    }

    /// Changes the bitrate while encoding (congestion control).
    pub(crate) fn set_bitrate(&mut self, bitrate: u32) -> Result<(), CodecError> {
        self.inner
            .set_bitrate(opus::Bitrate::Bits(bitrate as i32))
            .map_err(|e| CodecError::Opus(e.to_string()))
    }

    /// Encodes one 20 ms frame of mono samples.
    pub fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>, CodecError> {
        let n = self
            .inner
            .encode(pcm, &mut self.out)
            .map_err(|e| CodecError::Opus(e.to_string()))?;
        Ok(self.out[..n].to_vec())
    }
}

/// An Opus decoder to 48 kHz stereo (what WebRTC senders signal).
pub(crate) struct OpusDecoder {
    inner: opus::Decoder,
    out: Vec<i16>,
}

impl OpusDecoder {
    pub(crate) fn new() -> Result<OpusDecoder, CodecError> {
        let inner = opus::Decoder::new(48_000, opus::Channels::Stereo)
            .map_err(|e| CodecError::Opus(e.to_string()))?;
        Ok(OpusDecoder {
            inner,
            out: vec![0; 5760 * 2],
        })
    }

    /// Decodes one packet to interleaved stereo samples; an empty packet conceals a lost one.
    pub(crate) fn decode(&mut self, packet: &[u8]) -> Result<&[i16], CodecError> {
        let n = self
            .inner
            .decode(packet, &mut self.out, false)
            .map_err(|e| CodecError::Opus(e.to_string()))?;
        Ok(&self.out[..n * 2])
    }
}

/// Recovers a lost Opus frame from the in-band FEC (LBRR) of the packet after it, encoded
/// anew as a packet of its own so that a recording holds it; everything else is kept as it
/// was received.
pub(crate) struct OpusRecovery {
    decoder: opus::Decoder,
    encoder: opus::Encoder,
    pcm: Vec<i16>,
    out: Vec<u8>,
    /// The last packet received: decoded only when a loss follows it, so a clean stream
    /// costs no decoding (decoding every packet was an eighth of a recording's CPU).
    last: Vec<u8>,
}

impl OpusRecovery {
    pub(crate) fn new() -> Result<OpusRecovery, CodecError> {
        let e = |e: opus::Error| CodecError::Opus(e.to_string());
        let decoder = opus::Decoder::new(48_000, opus::Channels::Mono).map_err(e)?;
        let mut encoder =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).map_err(e)?;
        encoder
            .set_bitrate(opus::Bitrate::Bits(32_000))
            .map_err(e)?;
        Ok(OpusRecovery {
            decoder,
            encoder,
            pcm: vec![0; 5760],
            out: vec![0; 4000],
            last: Vec::new(),
        })
    }

    /// Notes a packet received, so that what is recovered after it continues it.
    pub(crate) fn observe(&mut self, packet: &[u8]) {
        self.last.clear();
        self.last.extend_from_slice(packet);
    }

    /// The frame lost before `next`, when `next` carries it as FEC (it is as long as `next`).
    pub(crate) fn recover(&mut self, next: &[u8]) -> Option<Vec<u8>> {
        let len = i32::try_from(next.len()).ok()?;
        // SAFETY: reads `len` bytes of `next`, a live slice, and keeps no pointer.
        let has_fec = unsafe { opusic_sys::opus_packet_has_lbrr(next.as_ptr(), len) } == 1;
        let samples = opus::packet::get_nb_samples(next, 48_000).ok()?;
        if !has_fec || !matches!(samples, 120 | 240 | 480 | 960 | 1920 | 2880) {
            return None;
        }
        // The decoder starts from the packet before the loss (about as far back as its
        // prediction and overlap reach), not from the whole stream.
        self.decoder.reset_state().ok()?;
        if !self.last.is_empty() {
            let _ = self.decoder.decode(&self.last, &mut self.pcm, false);
        }
        let pcm = &mut self.pcm[..samples];
        let n = self.decoder.decode(next, pcm, true).ok()?;
        let n = self.encoder.encode(&pcm[..n], &mut self.out).ok()?;
        Some(self.out[..n].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::testsrc::{Marks, read_marks, render_busy};

    /// What a simulcast layer's keyframe says of its size, as a forwarding server reads it from
    /// the first RTP payload: H.264's SPS alone and in a STAP-A, VP8's key frame header after
    /// its descriptor, VP9's frame header after vcall's own descriptor.
    #[test]
    fn a_keyframes_first_payload_says_the_picture_size() {
        use crate::vocab::bitstream::{keyframe_size, nal_units};
        use rtc::rtp::packetizer::Payloader;
        let img = I420::new(320, 180);
        for codec in [Codec::H264, Codec::Vp8, Codec::Vp9] {
            let mut enc = VideoEncoder::new(codec, 30.0, 300_000, 60).unwrap();
            let (frame, key) = enc.encode(&img, true).unwrap();
            assert!(key);
            let first = match codec {
                Codec::H264 => {
                    let sps = nal_units(&frame)
                        .find(|n| n[0] & 0x1f == 7)
                        .unwrap()
                        .to_vec();
                    assert_eq!(keyframe_size(codec, &sps), Some((320, 180)));
                    let mut stap = vec![24, 0, 2, 0x09, 0x10];
                    stap.extend_from_slice(&(sps.len() as u16).to_be_bytes());
                    stap.extend_from_slice(&sps);
                    stap
                }
                Codec::Vp8 => [&[0x10][..], &frame].concat(),
                _ => crate::vocab::vp9::Payloader::default()
                    .payload(1200, &bytes::Bytes::from(frame.clone()))
                    .unwrap()[0]
                    .to_vec(),
            };
            assert_eq!(keyframe_size(codec, &first), Some((320, 180)), "{codec:?}");
            // An inter frame says nothing.
            let (inter, key) = enc.encode(&img, false).unwrap();
            assert!(!key);
            let p = match codec {
                Codec::Vp8 => [&[0x10][..], &inter].concat(),
                _ => inter,
            };
            assert_eq!(keyframe_size(codec, &p), None, "{codec:?}");
        }
    }

    /// The rate (bit/s) an encoder makes of busy 720p pictures at `fps`: `frames` of them,
    /// counted from the `skip`-th on; and how many of those it skipped.
    fn busy_rate(
        enc: &mut H264Encoder,
        fps: f64,
        first: u32,
        frames: u32,
        skip: u32,
    ) -> (f64, u32) {
        let mut img = I420::new(1280, 720);
        let (mut bits, mut skipped) = (0, 0);
        for frame in first..first + frames {
            render_busy(
                &mut img,
                Marks {
                    frame,
                    capture_ms: 0,
                },
            );
            let (data, _) = enc.encode(&img, false).unwrap();
            if frame >= first + skip {
                bits += data.len() * 8;
                skipped += u32::from(data.is_empty());
            }
        }
        (bits as f64 * fps / f64::from(frames - skip), skipped)
    }

    #[test]
    fn the_busy_pattern_uses_the_bitrate_it_is_given_and_a_new_rate_is_followed() {
        let mut enc = H264Encoder::new(30.0, 2_000_000, 600).unwrap();
        let (high, _) = busy_rate(&mut enc, 30.0, 0, 45, 15);
        assert!(high >= 0.8 * 2e6, "busy 720p at 2 Mbit/s: {high:.0} bit/s");
        assert!(enc.set_rate(400_000, 30.0, true), "the new rate is taken");
        let (low, _) = busy_rate(&mut enc, 30.0, 45, 45, 15);
        assert!(
            (0.6 * 400e3..=1.3 * 400e3).contains(&low),
            "after set_rate(400k): {low:.0} bit/s"
        );
    }

    #[test]
    fn a_lowered_rate_skips_pictures_for_150_ms_at_most() {
        // 720p noise at 2 Mbit/s, then 30 kbit/s: far more than the hold allows, so
        // pictures are skipped; never more than 150 ms of pictures in a row (a freeze at every
        // receiver otherwise): four at 30 fps.
        let mut enc = H264Encoder::new(30.0, 2_000_000, 600).unwrap();
        busy_rate(&mut enc, 30.0, 0, 15, 0);
        assert!(enc.set_rate(30_000, 30.0, true));
        let mut img = I420::new(1280, 720);
        let (mut skipped, mut longest) = (0, 0);
        for frame in 15..75 {
            let marks = Marks {
                frame,
                capture_ms: 0,
            };
            render_busy(&mut img, marks);
            let (data, _) = enc.encode(&img, false).unwrap();
            skipped = if data.is_empty() { skipped + 1 } else { 0 };
            longest = longest.max(skipped);
        }
        assert_eq!(longest, 4, "the longest run of skipped pictures");
    }

    #[test]
    fn a_new_frame_rate_keeps_the_bitrate() {
        // openh264's rate control keeps its per-picture budget from the frame rate it was
        // made with: told 30 fps after 15, it sent twice the bits. And it refused a rate above
        // the one it was made with.
        let mut enc = H264Encoder::new(15.0, 300_000, 600).unwrap();
        busy_rate(&mut enc, 15.0, 0, 15, 0);
        assert!(enc.set_rate(1_400_000, 30.0, false));
        let (up, _) = busy_rate(&mut enc, 30.0, 15, 90, 30);
        assert!(
            (0.8 * 1.4e6..=1.25 * 1.4e6).contains(&up),
            "15 -> 30 fps at 1.4 Mbit/s: {up:.0} bit/s"
        );
        assert!(enc.set_rate(500_000, 15.0, false));
        let (down, _) = busy_rate(&mut enc, 15.0, 105, 45, 15);
        assert!(
            (0.8 * 500e3..=1.25 * 500e3).contains(&down),
            "30 -> 15 fps at 500 kbit/s: {down:.0} bit/s"
        );
    }

    #[test]
    fn once_the_rate_is_no_longer_held_no_picture_is_skipped() {
        // openh264's own frame skipping, once turned on and off again, went on skipping
        // runs of ten pictures and more.
        let mut enc = H264Encoder::new(30.0, 2_000_000, 600).unwrap();
        busy_rate(&mut enc, 30.0, 0, 15, 0);
        assert!(enc.set_rate(100_000, 30.0, true));
        let (_, held) = busy_rate(&mut enc, 30.0, 15, 30, 0);
        assert!(held > 0, "a held low rate skips pictures");
        assert!(enc.set_rate(400_000, 30.0, false));
        let (_, skipped) = busy_rate(&mut enc, 30.0, 45, 150, 0);
        assert_eq!(skipped, 0, "pictures skipped once the rate is not held");
    }

    #[test]
    fn the_busy_patterns_marks_survive_a_low_bitrate() {
        let mut enc = H264Encoder::new(30.0, 300_000, 600).unwrap();
        let mut dec = H264Decoder::new().unwrap();
        let mut img = I420::new(1280, 720);
        for frame in 0..10 {
            let marks = Marks {
                frame,
                capture_ms: 1_700_000_000_000 + u64::from(frame) * 33,
            };
            render_busy(&mut img, marks);
            let (data, _) = enc.encode(&img, false).unwrap();
            if data.is_empty() {
                continue;
            }
            let pic = dec.decode(&data).unwrap().expect("a picture");
            assert_eq!(read_marks(&pic), Some(marks));
        }
    }

    #[test]
    fn a_frame_padded_to_probe_decodes_as_it_was_and_reports_its_qp() {
        use crate::media::testsrc::render;
        use crate::vocab::bitstream::{annexb_to_avcc, h264_filler, pad_h264};
        let mut enc = H264Encoder::new(30.0, 1_000_000, 600).unwrap();
        assert_eq!(enc.qp(), None, "no QP before the first picture");
        let mut dec = H264Decoder::new().unwrap();
        let mut img = I420::new(640, 480);
        for frame in 0..10 {
            let marks = Marks {
                frame,
                capture_ms: 1_700_000_000_000 + u64::from(frame) * 33,
            };
            render(&mut img, marks);
            let (mut data, _) = enc.encode(&img, false).unwrap();
            let qp = enc.qp().expect("a QP");
            assert!((1..=51).contains(&qp), "{qp}");
            let plain = annexb_to_avcc(&data);
            pad_h264(&mut data, 6960);
            assert!((6950..=6970).contains(&data.len()), "{}", data.len());
            // Recordings leave the padding out.
            assert_eq!(annexb_to_avcc(&data), plain);
            // A forwarding server's probe: filler data after the picture's slices.
            for _ in 0..4 {
                data.extend_from_slice(&[0, 0, 0, 1]);
                data.extend_from_slice(&h264_filler(1000));
            }
            assert_eq!(annexb_to_avcc(&data), plain);
            let pic = dec.decode(&data).unwrap().expect("a picture");
            assert_eq!(read_marks(&pic), Some(marks), "frame {frame}");
        }
    }
}
