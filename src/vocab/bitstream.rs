//! What a bitstream says without decoding it: H.264 NAL units, keyframes (of a frame, or at
//! the start of an RTP packet's payload, so the forwarder knows when a keyframe it asked for
//! has gone out), an SPS's picture size.

use bytes::Bytes;

use super::Codec;
use super::bits::Bits;

/// Splits Annex B into NAL units (without start codes).
pub(crate) fn nal_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
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

/// Whether an encoded video frame is a keyframe: an H.264 access unit (Annex B) with an IDR
/// slice, a VP8 frame whose P bit (first byte, bit 0) is clear, a VP9 frame whose header says
/// key frame, an AV1 temporal unit with a sequence header and a key frame.
pub(crate) fn is_keyframe(codec: Codec, frame: &[u8]) -> bool {
    match codec {
        Codec::H264 => nal_units(frame).any(|n| n[0] & 0x1f == 5),
        Codec::Vp8 => frame.first().is_some_and(|b| b & 0x01 == 0),
        Codec::Vp9 => super::vp9::Header::read(frame).is_some_and(|h| h.keyframe),
        Codec::Av1 => super::av1::is_keyframe(frame),
        Codec::Opus => true,
    }
}

/// H.264's SEI NAL unit type, and the SEI payload type of user data a decoder does not know
/// (which it skips).
const SEI_NAL: u8 = 6;
const SEI_USER_DATA_UNREGISTERED: u8 = 5;
/// The user data's UUID that marks vcall's probe padding (no zero byte: no emulation
/// prevention needed around it).
const PROBE_UUID: &[u8; 16] = b"vcall:probe:fill";

/// Grows an H.264 access unit (Annex B) to about `len` bytes with an SEI NAL unit of user
/// data that every decoder skips, so that the frame leaves as a train of packets to probe
/// the path with (congestion control). Filler data NAL units would do, but RTP packetizers
/// (webrtc-rs's among them, as pion's) drop them.
pub(crate) fn pad_h264(frame: &mut Vec<u8>, len: usize) {
    // Start code, NAL header, payload type, payload size, UUID, the RBSP's stop bit.
    let Some(extra) = len.checked_sub(frame.len() + 4 + 1 + 1 + 1 + PROBE_UUID.len() + 1) else {
        return;
    };
    let size = PROBE_UUID.len() + extra - extra / 256;
    let mut sei = vec![0, 0, 0, 1, SEI_NAL, SEI_USER_DATA_UNREGISTERED];
    sei.resize(sei.len() + size / 255, 0xFF);
    sei.push((size % 255) as u8);
    sei.extend_from_slice(PROBE_UUID);
    // 0xFF bytes: never part of a start code or an emulation prevention pattern.
    sei.resize(sei.len() + size - PROBE_UUID.len(), 0xFF);
    sei.push(0x80);
    // An SEI comes before the access unit's first slice (after one, it starts the next).
    let at = nal_units(frame)
        .find(|n| (1..=5).contains(&(n[0] & 0x1f)))
        .map_or(frame.len(), |n| {
            let start = n.as_ptr() as usize - frame.as_ptr() as usize;
            // Back over its start code (three or four bytes).
            start - 3 - usize::from(start >= 4 && frame[start - 4] == 0)
        });
    frame.splice(at..at, sei);
}

/// H.264's filler data NAL unit type.
const FILLER_NAL: u8 = 12;

/// A filler data NAL unit of `len` bytes (at least two), as one RTP packet's payload: what a
/// forwarding server adds at the end of a frame to probe its subscriber's path (filler may
/// follow a picture's slices in its access unit; decoders skip it).
pub(crate) fn h264_filler(len: usize) -> Bytes {
    let mut nal = vec![0xFF; len.max(2)];
    nal[0] = FILLER_NAL;
    // The RBSP's stop bit.
    *nal.last_mut().expect("two bytes") = 0x80;
    Bytes::from(nal)
}

/// Whether a NAL unit is padding a vcall sent to probe a path: [`pad_h264`]'s, or filler data.
fn is_probe_padding(nal: &[u8]) -> bool {
    nal.first().is_some_and(|h| h & 0x1f == FILLER_NAL)
        || nal.len() > 2
            && nal[0] & 0x1f == SEI_NAL
            && nal[1] == SEI_USER_DATA_UNREGISTERED
            && nal[2..]
                .iter()
                .position(|&b| b != 0xFF)
                .and_then(|i| nal.get(2 + i + 1..2 + i + 1 + PROBE_UUID.len()))
                == Some(&PROBE_UUID[..])
}

/// Annex B to length-prefixed (4-byte) NAL units, as MP4 and Matroska store H.264. Probe
/// padding (a vcall sender's, a forwarding server's filler) is left out.
pub(crate) fn annexb_to_avcc(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    for nal in nal_units(data).filter(|n| !is_probe_padding(n)) {
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

/// Picture size from an SPS NAL unit (with its header byte).
pub(crate) fn sps_size(sps: &[u8]) -> Option<(u32, u32)> {
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
    let mut r = Bits::new(&rbsp);
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
    let (crop_x, crop_y): (u32, u32) = match chroma_format {
        0 => (1, 2 - frame_mbs_only),
        1 => (2, 2 * (2 - frame_mbs_only)),
        2 => (2, 2 - frame_mbs_only),
        _ => (1, 2 - frame_mbs_only),
    };
    // Checked: the numbers are the sender's, and a crafted SPS must not overflow.
    let width = w_mbs
        .checked_mul(16)?
        .checked_sub(crop_x.checked_mul(cl.checked_add(cr)?)?)?;
    let height = (2 - frame_mbs_only)
        .checked_mul(h_units)?
        .checked_mul(16)?
        .checked_sub(crop_y.checked_mul(ct.checked_add(cb)?)?)?;
    (width > 0 && height > 0).then_some((width, height))
}

/// Whether `payload` (one RTP packet's) begins a keyframe: for H.264 an IDR slice or a
/// sequence parameter set, alone, first in a STAP-A, or starting an FU-A; for VP8 the first
/// packet of a key frame; for VP9 the first of a base-layer intra frame; for AV1 the first of
/// a new coded video sequence.
pub(crate) fn starts_keyframe(codec: Codec, payload: &[u8]) -> bool {
    match codec {
        Codec::H264 => h264_starts_keyframe(payload),
        Codec::Vp8 => vp8_starts_keyframe(payload),
        Codec::Vp9 => super::vp9::Descriptor::read(payload).is_some_and(|d| d.starts_keyframe()),
        Codec::Av1 => super::av1::starts_keyframe(payload),
        Codec::Opus => false,
    }
}

/// The picture size a keyframe's first RTP payload says, where it says one without the rest
/// of the frame: H.264's SPS (alone or in a STAP-A), VP8's key frame header, VP9's frame
/// header. `None` for AV1 and for a payload that does not carry it.
pub(crate) fn keyframe_size(codec: Codec, payload: &[u8]) -> Option<(u32, u32)> {
    match codec {
        Codec::H264 => {
            let first = *payload.first()?;
            match first & 0x1f {
                7 => sps_size(payload),
                24 => {
                    let mut rest = &payload[1..];
                    while rest.len() > 2 {
                        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                        let nal = rest.get(2..2 + len)?;
                        if nal.first().is_some_and(|h| h & 0x1f == 7) {
                            return sps_size(nal);
                        }
                        rest = &rest[2 + len..];
                    }
                    None
                }
                _ => None,
            }
        }
        Codec::Vp8 => {
            // The frame tag (3 bytes), the start code 9d 01 2a, then 14-bit width and height.
            let h = payload.get(vp8_descriptor_len(payload)?..)?;
            if h.len() < 10 || h[0] & 0x01 != 0 || h[3..6] != [0x9d, 0x01, 0x2a] {
                return None;
            }
            let width = u32::from(u16::from_le_bytes([h[6], h[7]]) & 0x3fff);
            let height = u32::from(u16::from_le_bytes([h[8], h[9]]) & 0x3fff);
            Some((width, height))
        }
        Codec::Vp9 => {
            let d = super::vp9::Descriptor::read(payload)?;
            let h = super::vp9::Header::read(payload.get(d.len..)?)?;
            h.keyframe.then_some((h.width, h.height))
        }
        Codec::Av1 | Codec::Opus => None,
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
    // The start (S) of partition 0, whose first byte after the descriptor says keyframe.
    p.first().is_some_and(|d| d & 0x17 == 0x10)
        && vp8_descriptor_len(p)
            .and_then(|i| p.get(i))
            .is_some_and(|h| h & 0x01 == 0)
}

/// The length of a VP8 payload descriptor (RFC 7741 section 4.2) at the start of `payload`,
/// when it is all there.
pub(crate) fn vp8_descriptor_len(payload: &[u8]) -> Option<usize> {
    let first = *payload.first()?;
    let mut len = 1;
    if first & 0x80 != 0 {
        // X: the extension byte says which optional fields follow.
        let ext = *payload.get(1)?;
        len = 2;
        if ext & 0x80 != 0 {
            // I: a PictureID of 7 bits, or 15 when its first bit (M) is set.
            len += if *payload.get(len)? & 0x80 != 0 { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            len += 1; // L: TL0PICIDX
        }
        if ext & 0x30 != 0 {
            len += 1; // T or K: TID, Y and KEYIDX in one byte
        }
    }
    (len <= payload.len()).then_some(len)
}

/// Where a VP8 payload descriptor (RFC 7741 section 4.2) keeps its picture numbering: the
/// PictureID (at its offset, 15 bits wide or 7) and the TL0PICIDX (at its offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Vp8Ids {
    pub(crate) picture: Option<(usize, bool)>,
    pub(crate) tl0: Option<usize>,
}

impl Vp8Ids {
    /// The fields of `payload`'s descriptor, when it is all there.
    pub(crate) fn find(payload: &[u8]) -> Option<Vp8Ids> {
        let mut ids = Vp8Ids {
            picture: None,
            tl0: None,
        };
        vp8_descriptor_len(payload)?;
        if payload[0] & 0x80 == 0 {
            return Some(ids);
        }
        let ext = payload[1];
        let mut at = 2;
        if ext & 0x80 != 0 {
            let wide = payload[at] & 0x80 != 0;
            ids.picture = Some((at, wide));
            at += if wide { 2 } else { 1 };
        }
        if ext & 0x40 != 0 {
            ids.tl0 = Some(at);
        }
        Some(ids)
    }

    /// The PictureID and how many values it has (2^15 or 2^7).
    pub(crate) fn picture(&self, payload: &[u8]) -> Option<(u16, u16)> {
        self.picture.map(|(at, wide)| match wide {
            true => (
                u16::from_be_bytes([payload[at], payload[at + 1]]) & 0x7fff,
                1 << 15,
            ),
            false => (u16::from(payload[at]), 1 << 7),
        })
    }

    /// Writes `id` (below the PictureID's range) as the PictureID, in its width.
    pub(crate) fn set_picture(&self, payload: &mut [u8], id: u16) {
        if let Some((at, wide)) = self.picture {
            match wide {
                true => payload[at..at + 2].copy_from_slice(&(id | 0x8000).to_be_bytes()),
                false => payload[at] = id as u8 & 0x7f,
            }
        }
    }
}

/// The user data's UUID that marks a load test's frame identity (no zero byte).
const LOAD_MARK_UUID: &[u8; 16] = b"vcall:load:mark!";

/// What a load test's publisher says of each frame it sends, in an SEI NAL unit that servers
/// forward untouched and decoders skip: whose stream it is, its number, when it was captured
/// (microseconds on the generator's clock). Every value is written seven bits to a byte with
/// the top bit set, so the NAL unit needs no emulation prevention and holds no start code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LoadMark {
    pub(crate) publisher: u32,
    pub(crate) frame: u32,
    pub(crate) captured_us: u64,
}

/// Bytes a `u64` takes seven bits at a time.
const MARK_U64: usize = 10;
const MARK_U32: usize = 5;
const MARK_DATA: usize = MARK_U32 * 2 + MARK_U64;

impl LoadMark {
    /// The SEI NAL unit (Annex B, with its start code).
    pub(crate) fn to_nal(self) -> Vec<u8> {
        let size = LOAD_MARK_UUID.len() + MARK_DATA;
        let mut nal = Vec::with_capacity(4 + 3 + size + 1);
        nal.extend_from_slice(&[0, 0, 0, 1, SEI_NAL, SEI_USER_DATA_UNREGISTERED, size as u8]);
        nal.extend_from_slice(LOAD_MARK_UUID);
        let mut put = |v: u64, n: usize| {
            for i in (0..n).rev() {
                nal.push(0x80 | ((v >> (7 * i)) & 0x7f) as u8);
            }
        };
        put(u64::from(self.publisher), MARK_U32);
        put(u64::from(self.frame), MARK_U32);
        put(self.captured_us, MARK_U64);
        nal.push(0x80);
        nal
    }

    /// The mark in a NAL unit (without start code), if it is one.
    pub(crate) fn read(nal: &[u8]) -> Option<LoadMark> {
        let rest = nal.strip_prefix(&[SEI_NAL, SEI_USER_DATA_UNREGISTERED])?;
        let (&size, rest) = rest.split_first()?;
        let rest = rest.strip_prefix(&LOAD_MARK_UUID[..])?;
        if usize::from(size) != LOAD_MARK_UUID.len() + MARK_DATA || rest.len() < MARK_DATA {
            return None;
        }
        let mut at = 0;
        let mut get = |n: usize| {
            let v = rest[at..at + n]
                .iter()
                .fold(0u64, |v, b| (v << 7) | u64::from(b & 0x7f));
            at += n;
            v
        };
        Some(LoadMark {
            publisher: get(MARK_U32) as u32,
            frame: get(MARK_U32) as u32,
            captured_us: get(MARK_U64),
        })
    }

    /// The mark an H.264 RTP payload carries: a single SEI NAL unit, or one inside an
    /// aggregation packet (STAP-A).
    pub(crate) fn in_rtp(payload: &[u8]) -> Option<LoadMark> {
        match payload.first()? & 0x1f {
            SEI_NAL => LoadMark::read(payload),
            24 => {
                let mut rest = &payload[1..];
                while rest.len() > 2 {
                    let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                    let nal = rest.get(2..2 + n)?;
                    if let Some(mark) = LoadMark::read(nal) {
                        return Some(mark);
                    }
                    rest = &rest[2 + n..];
                }
                None
            }
            _ => None,
        }
    }

    /// `frame` (an Annex B access unit) with this mark in front: the first packet of the
    /// frame on the wire (a packetizer holds parameter sets back for the unit after them),
    /// so a receiver knows where the frame starts.
    pub(crate) fn prefix(self, frame: &[u8]) -> Vec<u8> {
        let mut out = self.to_nal();
        out.extend_from_slice(frame);
        out
    }
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

    #[test]
    fn vp8_picture_ids_are_found_and_written_in_their_width() {
        // X; I with a 15-bit PictureID 0x0123, L with TL0PICIDX 5, T/K.
        let mut p = [0x90, 0xe0, 0x81, 0x23, 0x05, 0x40, 0x9d];
        let ids = Vp8Ids::find(&p).unwrap();
        assert_eq!(ids.picture(&p), Some((0x0123, 1 << 15)));
        assert_eq!(ids.tl0, Some(4));
        ids.set_picture(&mut p, 0x7ffe);
        assert_eq!(p, [0x90, 0xe0, 0xff, 0xfe, 0x05, 0x40, 0x9d]);
        // A 7-bit PictureID, no TL0PICIDX.
        let mut p = [0x90, 0x80, 0x12, 0x9d];
        let ids = Vp8Ids::find(&p).unwrap();
        assert_eq!((ids.picture(&p), ids.tl0), (Some((0x12, 1 << 7)), None));
        ids.set_picture(&mut p, 0x7f);
        assert_eq!(p, [0x90, 0x80, 0x7f, 0x9d]);
        // No extension; a descriptor cut short.
        let ids = Vp8Ids::find(&[0x10, 0x9d]).unwrap();
        assert_eq!((ids.picture, ids.tl0), (None, None));
        assert_eq!(Vp8Ids::find(&[0x90, 0x80, 0x81]), None);
    }

    #[test]
    fn a_load_mark_survives_the_bitstream_and_its_packets() {
        let mark = LoadMark {
            publisher: 4_000_000_000,
            frame: 123_456,
            captured_us: u64::MAX - 7,
        };
        let nal = mark.to_nal();
        // No start code inside and no byte that would need emulation prevention.
        assert!(nal[4..].windows(2).all(|w| w != [0, 0]));
        let frame = [
            &[0, 0, 0, 1, 0x67, 1, 2][..],
            &[0, 0, 1, 0x68, 3],
            &[0, 0, 1, 0x65, 9, 9],
        ]
        .concat();
        let marked = mark.prefix(&frame);
        let nals: Vec<&[u8]> = nal_units(&marked).collect();
        assert_eq!(nals.len(), 4);
        assert_eq!(nals[3], &[0x65, 9, 9]);
        assert_eq!(LoadMark::read(nals[0]), Some(mark));
        assert_eq!(LoadMark::in_rtp(nals[0]), Some(mark));
        // Inside an aggregation packet, after another unit.
        let mut stap = vec![24, 0, 2, 0x67, 1];
        stap.extend_from_slice(&(nals[0].len() as u16).to_be_bytes());
        stap.extend_from_slice(nals[0]);
        assert_eq!(LoadMark::in_rtp(&stap), Some(mark));
        // Other SEIs, slices and truncated marks are not marks.
        assert_eq!(LoadMark::in_rtp(&[0x65, 1, 2]), None);
        assert_eq!(LoadMark::read(&nals[0][..nals[0].len() - 3]), None);
        let mut padded = frame.clone();
        pad_h264(&mut padded, 200);
        assert!(nal_units(&padded).all(|n| LoadMark::read(n).is_none()));
    }
}
