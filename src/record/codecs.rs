//! What a container needs to know about a codec's bitstream: H.264 parameter sets and picture
//! size, VP8 and VP9 keyframe sizes, AV1's sequence header, the Opus identification header.

use crate::vocab::bitstream::{nal_units, sps_size};
use crate::vocab::{Codec, av1, vp9};

/// The decoder configuration of a video track, learned from its first keyframe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoConfig {
    H264 {
        sps: Vec<u8>,
        pps: Vec<u8>,
        width: u32,
        height: u32,
    },
    Vp8 {
        width: u32,
        height: u32,
    },
    /// A key frame's header.
    Vp9(vp9::Header),
    Av1(av1::SequenceHeader),
}

impl VideoConfig {
    pub fn size(&self) -> (u32, u32) {
        match self {
            VideoConfig::H264 { width, height, .. } | VideoConfig::Vp8 { width, height } => {
                (*width, *height)
            }
            VideoConfig::Vp9(h) => (h.width, h.height),
            VideoConfig::Av1(s) => (s.width, s.height),
        }
    }

    /// From a video keyframe of `codec`.
    pub fn from_keyframe(codec: Codec, keyframe: &[u8]) -> Option<VideoConfig> {
        match codec {
            Codec::H264 => VideoConfig::from_h264(keyframe),
            Codec::Vp8 => VideoConfig::from_vp8(keyframe),
            Codec::Vp9 => vp9::Header::read(keyframe)
                .filter(|h| h.keyframe)
                .map(VideoConfig::Vp9),
            Codec::Av1 => av1::SequenceHeader::find(keyframe).map(VideoConfig::Av1),
            Codec::Opus => None,
        }
    }

    /// From an H.264 keyframe (Annex B) carrying SPS and PPS.
    pub fn from_h264(keyframe: &[u8]) -> Option<VideoConfig> {
        let sps = nal_units(keyframe)
            .find(|n| n[0] & 0x1f == 7 && n.len() >= 4)?
            .to_vec();
        let pps = nal_units(keyframe).find(|n| n[0] & 0x1f == 8)?.to_vec();
        let (width, height) = sps_size(&sps)?;
        Some(VideoConfig::H264 {
            sps,
            pps,
            width,
            height,
        })
    }

    /// From a VP8 keyframe.
    pub fn from_vp8(keyframe: &[u8]) -> Option<VideoConfig> {
        if keyframe.len() < 10 || keyframe[3..6] != [0x9d, 0x01, 0x2a] {
            return None;
        }
        let width = u16::from_le_bytes([keyframe[6], keyframe[7]]) & 0x3fff;
        let height = u16::from_le_bytes([keyframe[8], keyframe[9]]) & 0x3fff;
        Some(VideoConfig::Vp8 {
            width: width as u32,
            height: height as u32,
        })
    }

    /// The `avcC` record (ISO 14496-15), used by both MP4 and Matroska.
    pub fn avcc(&self) -> Option<Vec<u8>> {
        let VideoConfig::H264 { sps, pps, .. } = self else {
            return None;
        };
        let mut out = vec![1, sps[1], sps[2], sps[3], 0xff, 0xe1];
        out.extend_from_slice(&(sps.len() as u16).to_be_bytes());
        out.extend_from_slice(sps);
        out.push(1);
        out.extend_from_slice(&(pps.len() as u16).to_be_bytes());
        out.extend_from_slice(pps);
        Some(out)
    }
}

/// Pre-skip written in Opus headers: libopus's encoder delay at 48 kHz, which WebRTC senders
/// use; RTP does not carry it.
pub const OPUS_PRE_SKIP: u16 = 312;

/// The Ogg/Matroska `OpusHead` (RFC 7845), stereo (WebRTC Opus is signalled as 2 channels).
pub fn opus_head() -> Vec<u8> {
    let mut h = b"OpusHead".to_vec();
    h.push(1); // version
    h.push(2); // channels
    h.extend_from_slice(&OPUS_PRE_SKIP.to_le_bytes());
    h.extend_from_slice(&48_000u32.to_le_bytes());
    h.extend_from_slice(&0i16.to_le_bytes()); // output gain
    h.push(0); // mapping family
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::bitstream::is_keyframe;

    #[test]
    fn size_and_keyframes_of_openh264_output() {
        let mut enc = crate::codec::H264Encoder::new(30.0, 500_000, 60).unwrap();
        let mut img = crate::vocab::I420::new(320, 240);
        crate::media::testsrc::render(
            &mut img,
            crate::media::testsrc::Marks {
                frame: 0,
                capture_ms: 0,
            },
        );
        let (au, key) = enc.encode(&img, true).unwrap();
        assert!(key && is_keyframe(Codec::H264, &au));
        assert_eq!(
            VideoConfig::from_keyframe(Codec::H264, &au).unwrap().size(),
            (320, 240)
        );
        let (au, key) = enc.encode(&img, false).unwrap();
        assert!(!key && !is_keyframe(Codec::H264, &au));
        assert_eq!(VideoConfig::from_keyframe(Codec::H264, &au), None);
    }

    #[test]
    fn vp8_keyframes_carry_their_size() {
        // A VP8 keyframe's frame tag (P bit clear), start code, 14-bit width and height.
        let key = [0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00];
        assert!(is_keyframe(Codec::Vp8, &key));
        assert_eq!(
            VideoConfig::from_keyframe(Codec::Vp8, &key).unwrap().size(),
            (320, 240)
        );
        assert!(!is_keyframe(Codec::Vp8, &[0x51, 0, 0]));
    }
}
