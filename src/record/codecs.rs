//! What a container needs to know about a codec's bitstream: H.264 parameter sets and picture
//! size, VP8 keyframe size, the Opus identification header.

use crate::peer::Codec;

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
}

impl VideoConfig {
    pub fn size(&self) -> (u32, u32) {
        match self {
            VideoConfig::H264 { width, height, .. } | VideoConfig::Vp8 { width, height } => {
                (*width, *height)
            }
        }
    }

    /// From a video keyframe of `codec`.
    pub fn from_keyframe(codec: Codec, keyframe: &[u8]) -> Option<VideoConfig> {
        match codec {
            Codec::H264 => VideoConfig::from_h264(keyframe),
            Codec::Vp8 => VideoConfig::from_vp8(keyframe),
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

/// Whether an encoded video frame is a keyframe: an H.264 access unit (Annex B) with an IDR
/// Splits Annex B into NAL units (without start codes).
pub fn nal_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .map(|&s| {
            let mut e = s - 3;
            while e > 0 && data[e - 1] == 0 {
                e -= 1;
            }
            e
        })
        .chain(std::iter::once(data.len()))
        .collect();
    starts
        .into_iter()
        .zip(ends)
        .filter(|(s, e)| e > s)
        .map(move |(s, e)| &data[s..e])
}

/// slice, a VP8 frame whose P bit (first byte, bit 0) is clear.
pub fn is_keyframe(codec: Codec, frame: &[u8]) -> bool {
    match codec {
        Codec::H264 => nal_units(frame).any(|n| n[0] & 0x1f == 5),
        Codec::Vp8 => frame.first().is_some_and(|b| b & 0x01 == 0),
        Codec::Opus => true,
    }
}

/// Annex B to length-prefixed (4-byte) NAL units, as MP4 and Matroska store H.264.
pub fn annexb_to_avcc(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    for nal in nal_units(data) {
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
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

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(b as u32)
    }
    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0, |acc, _| Some((acc << 1) | self.bit()?))
    }
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }
    fn se(&mut self) -> Option<i32> {
        let v = self.ue()?;
        Some(if v & 1 == 1 {
            v.div_ceil(2) as i32
        } else {
            -((v / 2) as i32)
        })
    }
}

/// Picture size from an SPS NAL unit (with its header byte).
pub fn sps_size(sps: &[u8]) -> Option<(u32, u32)> {
    // Remove emulation prevention bytes.
    let mut rbsp = Vec::with_capacity(sps.len());
    let mut zeros = 0;
    for &b in &sps[1..] {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        rbsp.push(b);
    }
    let mut r = Bits {
        data: &rbsp,
        pos: 0,
    };
    let profile = r.bits(8)?;
    r.bits(16)?; // constraints, level
    r.ue()?; // sps id
    let mut chroma_format = 1;
    if [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].contains(&profile) {
        chroma_format = r.ue()?;
        if chroma_format == 3 {
            r.bit()?;
        }
        r.ue()?;
        r.ue()?;
        r.bit()?;
        if r.bit()? == 1 {
            for i in 0..if chroma_format == 3 { 12 } else { 8 } {
                if r.bit()? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i32, 8i32);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()? + 256) % 256;
                        }
                        last = if next == 0 { last } else { next };
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num
    match r.ue()? {
        0 => {
            r.ue()?;
        }
        1 => {
            r.bit()?;
            r.se()?;
            r.se()?;
            for _ in 0..r.ue()? {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max refs
    r.bit()?;
    let w_mbs = r.ue()? + 1;
    let h_units = r.ue()? + 1;
    let frame_mbs_only = r.bit()?;
    if frame_mbs_only == 0 {
        r.bit()?;
    }
    r.bit()?;
    let (mut cl, mut cr, mut ct, mut cb) = (0, 0, 0, 0);
    if r.bit()? == 1 {
        (cl, cr, ct, cb) = (r.ue()?, r.ue()?, r.ue()?, r.ue()?);
    }
    let (crop_x, crop_y) = match chroma_format {
        0 => (1, 2 - frame_mbs_only),
        1 => (2, 2 * (2 - frame_mbs_only)),
        2 => (2, 2 - frame_mbs_only),
        _ => (1, 2 - frame_mbs_only),
    };
    let width = w_mbs * 16 - crop_x * (cl + cr);
    let height = (2 - frame_mbs_only) * h_units * 16 - crop_y * (ct + cb);
    Some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_and_keyframes_of_openh264_output() {
        let mut enc = crate::codec::H264Encoder::new(30.0, 500_000, 60).unwrap();
        let mut img = crate::media::testsrc::I420::new(320, 240);
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
