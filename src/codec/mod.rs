//! Encoders and decoders behind small types: H.264 through openh264, Opus through libopus.

use crate::vocab::I420;
use std::time::Duration;

/// What can go wrong in a codec.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("H.264: {0}")]
    H264(String),
    #[error("Opus: {0}")]
    Opus(String),
}

/// An H.264 encoder (constrained baseline, Annex B output with SPS/PPS on every keyframe).
pub struct H264Encoder {
    inner: openh264::encoder::Encoder,
    /// A picture was encoded (options can be changed from then on).
    started: bool,
    /// The next picture's time, ms, and the time between pictures: the rate control
    /// spends its bits by them (at one time for every picture it holds no rate at all).
    clock_ms: f64,
    frame_ms: f64,
    keyframe_interval: u32,
    /// The rate control may skip pictures (`set_rate`'s `hold`), and how many it skipped in a
    /// row.
    may_skip: bool,
    skipped: u32,
}

/// The longest run of pictures openh264 may skip. After a lowered rate it skips until its
/// buffer has paid for the bits spent at the old one — 1.1 s (17 pictures) at 15 fps after a
/// drop from 270 to 150 kbit/s, a freeze at every receiver. Within this, the gap stays under
/// what counts as a freeze (three frame times and 150 ms more than one); the next picture
/// goes out at whatever quality fits.
const MAX_SKIPPED: Duration = Duration::from_millis(150);

impl H264Encoder {
    /// An encoder at `bitrate` and `fps`; the picture size is the first picture's.
    pub fn new(fps: f32, bitrate: u32, keyframe_interval: u32) -> Result<H264Encoder, CodecError> {
        use openh264::encoder::{
            BitRate, EncoderConfig, FrameRate, IntraFramePeriod, RateControlMode, SpsPpsStrategy,
            UsageType,
        };
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bitrate))
            .max_frame_rate(FrameRate::from_hz(fps))
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
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
        Ok(H264Encoder {
            inner,
            started: false,
            clock_ms: 0.0,
            frame_ms: 1000.0 / f64::from(fps.max(1.0)),
            keyframe_interval,
            may_skip: false,
            skipped: 0,
        })
    }

    /// A new encoder for a new picture size, starting at `bitrate` and `fps`: its first
    /// picture is a keyframe with the new size's parameter sets. (openh264 re-initializes
    /// itself on a new size, but at the bitrate it was created with.)
    pub fn restart(&mut self, fps: f32, bitrate: u32) -> Result<(), CodecError> {
        *self = H264Encoder::new(fps, bitrate, self.keyframe_interval)?;
        Ok(())
    }

    /// Changes the target bitrate and frame rate while encoding (congestion control). Takes
    /// effect once the first picture has been encoded (the encoder is set up then); returns
    /// whether it was applied. `hold`: the rate control may skip pictures, which is the only
    /// way openh264 holds a bitrate (otherwise it never skips, so that a recording's first
    /// seconds are whole).
    pub fn set_rate(&mut self, bitrate: u32, fps: f32, hold: bool) -> bool {
        if !self.started {
            return false;
        }
        let mut info = openh264_sys2::SBitrateInfo {
            iLayer: openh264_sys2::SPATIAL_LAYER_ALL,
            iBitrate: bitrate.min(i32::MAX as u32) as i32,
        };
        let mut rate = fps;
        self.frame_ms = 1000.0 / f64::from(fps.max(1.0));
        self.may_skip = hold;
        // SAFETY: the encoder is initialized (a picture was encoded); each option takes a
        // pointer to a value it reads during the call.
        let applied = unsafe {
            let api = self.inner.raw_api();
            api.set_option(
                openh264_sys2::ENCODER_OPTION_BITRATE,
                std::ptr::addr_of_mut!(info).cast(),
            ) == 0
                && api.set_option(
                    openh264_sys2::ENCODER_OPTION_FRAME_RATE,
                    std::ptr::addr_of_mut!(rate).cast(),
                ) == 0
        };
        applied && self.set_skip(hold)
    }

    /// Lets the rate control skip pictures, or not.
    fn set_skip(&mut self, on: bool) -> bool {
        let mut skip = on;
        // SAFETY: as in `set_rate` (only called once a picture was encoded).
        unsafe {
            self.inner.raw_api().set_option(
                openh264_sys2::ENCODER_OPTION_RC_FRAME_SKIP,
                std::ptr::addr_of_mut!(skip).cast(),
            ) == 0
        }
    }

    /// Encodes one picture; returns the Annex B access unit and whether it is a keyframe.
    pub fn encode(
        &mut self,
        img: &I420,
        force_keyframe: bool,
    ) -> Result<(Vec<u8>, bool), CodecError> {
        if force_keyframe {
            self.inner.force_intra_frame();
        }
        let (w, h) = (img.width, img.height);
        let (y, uv) = img.data.split_at(w * h);
        let (u, v) = uv.split_at(w * h / 4);
        let src = openh264::formats::YUVSlices::new((y, u, v), (w, h), (w, w / 2, w / 2));
        let at = openh264::Timestamp::from_millis(self.clock_ms as u64);
        self.clock_ms += self.frame_ms;
        let most = (MAX_SKIPPED.as_secs_f64() * 1000.0 / self.frame_ms).max(1.0) as u32;
        let forced = self.may_skip && self.skipped >= most && self.set_skip(false);
        let (data, key) = {
            let bs = self
                .inner
                .encode_at(&src, at)
                .map_err(|e| CodecError::H264(e.to_string()))?;
            let key = matches!(
                bs.frame_type(),
                openh264::encoder::FrameType::IDR | openh264::encoder::FrameType::I
            );
            (bs.to_vec(), key)
        };
        self.started = true;
        if forced {
            self.set_skip(true);
        }
        self.skipped = if data.is_empty() { self.skipped + 1 } else { 0 };
        Ok((data, key))
    }
}

/// An H.264 decoder producing I420 pictures.
pub struct H264Decoder {
    inner: openh264::decoder::Decoder,
}

impl H264Decoder {
    pub fn new() -> Result<H264Decoder, CodecError> {
        let inner =
            openh264::decoder::Decoder::new().map_err(|e| CodecError::H264(e.to_string()))?;
        Ok(H264Decoder { inner })
    }

    /// Decodes one Annex B access unit; `None` when it yields no picture (yet).
    pub fn decode(&mut self, au: &[u8]) -> Result<Option<I420>, CodecError> {
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
        let mut out = I420::new(w, h);
        let (y, uv) = out.data.split_at_mut(w * h);
        let (u, v) = uv.split_at_mut(w * h / 4);
        for row in 0..h {
            y[row * w..(row + 1) * w].copy_from_slice(&pic.y()[row * sy..row * sy + w]);
        }
        for row in 0..h / 2 {
            u[row * w / 2..(row + 1) * w / 2].copy_from_slice(&pic.u()[row * su..row * su + w / 2]);
            v[row * w / 2..(row + 1) * w / 2].copy_from_slice(&pic.v()[row * sv..row * sv + w / 2]);
        }
        Ok(Some(out))
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
    pub fn set_bitrate(&mut self, bitrate: u32) -> Result<(), CodecError> {
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
pub struct OpusDecoder {
    inner: opus::Decoder,
    out: Vec<i16>,
}

impl OpusDecoder {
    pub fn new() -> Result<OpusDecoder, CodecError> {
        let inner = opus::Decoder::new(48_000, opus::Channels::Stereo)
            .map_err(|e| CodecError::Opus(e.to_string()))?;
        Ok(OpusDecoder {
            inner,
            out: vec![0; 5760 * 2],
        })
    }

    /// Decodes one packet to interleaved stereo samples; an empty packet conceals a lost one.
    pub fn decode(&mut self, packet: &[u8]) -> Result<&[i16], CodecError> {
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
pub struct OpusRecovery {
    decoder: opus::Decoder,
    encoder: opus::Encoder,
    pcm: Vec<i16>,
    out: Vec<u8>,
}

impl OpusRecovery {
    pub fn new() -> Result<OpusRecovery, CodecError> {
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
        })
    }

    /// Keeps the decoder in step with the stream, so what it recovers continues it.
    pub fn observe(&mut self, packet: &[u8]) {
        let _ = self.decoder.decode(packet, &mut self.pcm, false);
    }

    /// The frame lost before `next`, when `next` carries it as FEC (it is as long as `next`).
    pub fn recover(&mut self, next: &[u8]) -> Option<Vec<u8>> {
        let len = i32::try_from(next.len()).ok()?;
        // SAFETY: reads `len` bytes of `next`, a live slice, and keeps no pointer.
        let has_fec = unsafe { opusic_sys::opus_packet_has_lbrr(next.as_ptr(), len) } == 1;
        let samples = opus::packet::get_nb_samples(next, 48_000).ok()?;
        if !has_fec || !matches!(samples, 120 | 240 | 480 | 960 | 1920 | 2880) {
            return None;
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

    /// The rate (bit/s) an encoder makes of busy 720p pictures at 30 fps: `frames` of them,
    /// counted from the `skip`-th on.
    fn busy_rate(enc: &mut H264Encoder, first: u32, frames: u32, skip: u32) -> f64 {
        let mut img = I420::new(1280, 720);
        let mut bits = 0;
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
            }
        }
        bits as f64 * 30.0 / f64::from(frames - skip)
    }

    #[test]
    fn the_busy_pattern_uses_the_bitrate_it_is_given_and_a_new_rate_is_followed() {
        let mut enc = H264Encoder::new(30.0, 2_000_000, 600).unwrap();
        let high = busy_rate(&mut enc, 0, 45, 15);
        assert!(high >= 0.8 * 2e6, "busy 720p at 2 Mbit/s: {high:.0} bit/s");
        assert!(enc.set_rate(400_000, 30.0, true), "the new rate is taken");
        let low = busy_rate(&mut enc, 45, 45, 15);
        assert!(
            (0.6 * 400e3..=1.3 * 400e3).contains(&low),
            "after set_rate(400k): {low:.0} bit/s"
        );
    }

    #[test]
    fn a_lowered_rate_skips_pictures_for_150_ms_at_most() {
        // 720p noise at 2 Mbit/s, then 30 kbit/s: far more than its buffer allows, so
        // openh264 skips; never more than 150 ms of pictures in a row (a freeze at every
        // receiver otherwise): four at 30 fps.
        let mut enc = H264Encoder::new(30.0, 2_000_000, 600).unwrap();
        busy_rate(&mut enc, 0, 15, 0);
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
}
