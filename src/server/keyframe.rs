//! Which RTP packets begin a keyframe, read from the payload's first bytes (no decoding), so
//! the forwarder knows when a keyframe it asked for has gone out.

use crate::peer::Codec;

/// Whether `payload` (one RTP packet's) begins a keyframe: for H.264 an IDR slice or a
/// sequence parameter set, alone, first in a STAP-A, or starting an FU-A; for VP8 the first
/// packet of a key frame.
pub(crate) fn starts_keyframe(codec: Codec, payload: &[u8]) -> bool {
    match codec {
        Codec::H264 => h264_starts_keyframe(payload),
        Codec::Vp8 => vp8_starts_keyframe(payload),
        Codec::Opus => false,
    }
}

fn is_key_nal(nal_type: u8) -> bool {
    matches!(nal_type, 5 | 7)
}

fn h264_starts_keyframe(p: &[u8]) -> bool {
    let Some(&first) = p.first() else {
        return false;
    };
    match first & 0x1f {
        // STAP-A: 2-byte size, then the first unit.
        24 => p.get(3).is_some_and(|h| is_key_nal(h & 0x1f)),
        // FU-A: the start bit, and the unit's type in the FU header.
        28 => p
            .get(1)
            .is_some_and(|h| h & 0x80 != 0 && is_key_nal(h & 0x1f)),
        t => is_key_nal(t),
    }
}

/// RFC 7741: the payload descriptor (with its optional extensions), then on the first
/// packet of partition 0 the VP8 header, whose lowest bit is 0 on a key frame.
fn vp8_starts_keyframe(p: &[u8]) -> bool {
    let Some(&d) = p.first() else {
        return false;
    };
    let (extended, start, partition) = (d & 0x80 != 0, d & 0x10 != 0, d & 0x07);
    if !start || partition != 0 {
        return false;
    }
    let mut i = 1;
    if extended {
        let Some(&x) = p.get(1) else {
            return false;
        };
        i = 2;
        if x & 0x80 != 0 {
            // PictureID: 7 or 15 bits.
            i += if p.get(i).is_some_and(|b| b & 0x80 != 0) {
                2
            } else {
                1
            };
        }
        if x & 0x40 != 0 {
            i += 1; // TL0PICIDX
        }
        if x & 0x30 != 0 {
            i += 1; // TID / KEYIDX
        }
    }
    p.get(i).is_some_and(|h| h & 0x01 == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_keyframes_are_seen_alone_aggregated_and_fragmented() {
        assert!(starts_keyframe(Codec::H264, &[0x65, 0x88]));
        assert!(starts_keyframe(Codec::H264, &[0x67, 0x42]));
        assert!(!starts_keyframe(Codec::H264, &[0x41, 0x9a]));
        // STAP-A holding SPS first.
        assert!(starts_keyframe(
            Codec::H264,
            &[0x78, 0x00, 0x0a, 0x67, 0x42]
        ));
        assert!(!starts_keyframe(
            Codec::H264,
            &[0x78, 0x00, 0x0a, 0x41, 0x42]
        ));
        // FU-A: start of an IDR, middle of an IDR, start of a P slice.
        assert!(starts_keyframe(Codec::H264, &[0x7c, 0x85, 0x00]));
        assert!(!starts_keyframe(Codec::H264, &[0x7c, 0x05, 0x00]));
        assert!(!starts_keyframe(Codec::H264, &[0x7c, 0x81, 0x00]));
        assert!(!starts_keyframe(Codec::H264, &[]));
    }

    #[test]
    fn vp8_keyframes_are_seen_past_the_descriptor() {
        // Start of partition 0, no extensions: key frame, then inter frame.
        assert!(starts_keyframe(Codec::Vp8, &[0x10, 0x50]));
        assert!(!starts_keyframe(Codec::Vp8, &[0x10, 0x51]));
        // Extended with a 15-bit PictureID.
        assert!(starts_keyframe(Codec::Vp8, &[0x90, 0x80, 0x80, 0x01, 0x50]));
        // Not the start of the partition.
        assert!(!starts_keyframe(Codec::Vp8, &[0x00, 0x50]));
        assert!(!starts_keyframe(Codec::Opus, &[0x00]));
    }
}
