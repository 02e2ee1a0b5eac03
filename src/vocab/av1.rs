//! AV1 as RTP carries it (the AV1 RTP payload specification: an aggregation header, then OBU
//! elements that may be fragments) and as containers store it (the low-overhead bitstream:
//! every OBU with its size field, no temporal delimiters), and what a container needs of
//! its sequence header (`av1C`).

use bytes::{BufMut, Bytes, BytesMut};

use super::bits::Bits;

const OBU_SEQUENCE_HEADER: u8 = 1;
const OBU_TEMPORAL_DELIMITER: u8 = 2;
const OBU_FRAME_HEADER: u8 = 3;
const OBU_FRAME: u8 = 6;
const OBU_TILE_LIST: u8 = 8;
const OBU_PADDING: u8 = 15;

/// Aggregation header bits.
const Z_CONTINUES: u8 = 0x80;
const Y_CONTINUED: u8 = 0x40;
const N_NEW_SEQUENCE: u8 = 0x08;

/// Whether an RTP payload begins a new coded video sequence (N): a key frame with its
/// sequence header.
pub(crate) fn starts_keyframe(payload: &[u8]) -> bool {
    payload.first().is_some_and(|h| h & N_NEW_SEQUENCE != 0)
}

/// Whether an RTP payload's first OBU element is not the rest of an earlier packet's (Z).
pub(crate) fn starts_obu(payload: &[u8]) -> bool {
    payload.first().is_some_and(|h| h & Z_CONTINUES == 0)
}

/// Reads a LEB128 value at the start of `data`: the value and its length.
fn leb128(data: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in data.iter().take(8).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn put_leb128(out: &mut BytesMut, mut value: usize) {
    loop {
        let b = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.put_u8(b);
            return;
        }
        out.put_u8(b | 0x80);
    }
}

/// Joins the OBU elements of one frame's packets, in order, into OBUs with size fields.
#[derive(Debug, Default)]
pub(crate) struct Depacketizer {
    /// An OBU whose rest is in the next packet.
    partial: Option<BytesMut>,
}

/// An AV1 payload that does not read as the payload format says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Malformed {
    #[error("an empty payload")]
    Header,
    #[error("an OBU element runs past the payload")]
    Element,
    #[error("an OBU fragment without its start, or a new OBU before the last one's rest")]
    Fragment,
    #[error("an OBU header that cannot be read")]
    Obu,
}

impl Depacketizer {
    /// The whole OBUs this payload completes, each with its size field (temporal delimiters,
    /// tile lists and padding dropped, as containers want).
    pub(crate) fn push(&mut self, payload: &[u8]) -> Result<Bytes, Malformed> {
        let (&header, mut rest) = payload.split_first().ok_or(Malformed::Header)?;
        let count = (header >> 4) & 0x03;
        let mut out = BytesMut::new();
        let mut index = 0;
        while !rest.is_empty() {
            index += 1;
            // Every element but the last of a counted list has its length first.
            let element = if count == 0 || index < count {
                let (len, n) = leb128(rest).ok_or(Malformed::Element)?;
                let end = n.checked_add(len as usize).filter(|&e| e <= rest.len());
                let end = end.ok_or(Malformed::Element)?;
                let element = &rest[n..end];
                rest = &rest[end..];
                element
            } else {
                std::mem::take(&mut rest)
            };
            let continues = index == 1 && header & Z_CONTINUES != 0;
            let completes = !(rest.is_empty() && header & Y_CONTINUED != 0);
            // A whole OBU goes out from the payload; only fragments are gathered.
            match (continues, self.partial.take()) {
                (true, Some(mut p)) => {
                    p.extend_from_slice(element);
                    match completes {
                        true => sized(&p, &mut out)?,
                        false => self.partial = Some(p),
                    }
                }
                (true, None) | (false, Some(_)) => return Err(Malformed::Fragment),
                (false, None) if completes => sized(element, &mut out)?,
                (false, None) => self.partial = Some(BytesMut::from(element)),
            }
        }
        Ok(out.freeze())
    }
}

/// One OBU at the start of `data`: its type, the length of its header (with the extension
/// byte), its payload, and its whole length (all of `data` when it has no size field).
struct Obu<'a> {
    kind: u8,
    header_len: usize,
    payload: &'a [u8],
    len: usize,
}

impl Obu<'_> {
    fn read(data: &[u8]) -> Result<Obu<'_>, Malformed> {
        let h = *data.first().ok_or(Malformed::Obu)?;
        if h & 0x80 != 0 {
            return Err(Malformed::Obu); // forbidden bit
        }
        let header_len = if h & 0x04 != 0 { 2 } else { 1 };
        let after = data.get(header_len..).ok_or(Malformed::Obu)?;
        let (payload, len) = if h & 0x02 != 0 {
            let (size, n) = leb128(after).ok_or(Malformed::Obu)?;
            let end = n.checked_add(size as usize).filter(|&e| e <= after.len());
            let end = end.ok_or(Malformed::Obu)?;
            (&after[n..end], header_len + end)
        } else {
            (after, data.len())
        };
        Ok(Obu {
            kind: (h >> 3) & 0x0f,
            header_len,
            payload,
            len,
        })
    }
}

/// Appends `obu` to `out` with its size field set, unless containers drop its type.
fn sized(obu: &[u8], out: &mut BytesMut) -> Result<(), Malformed> {
    let o = Obu::read(obu)?;
    if matches!(o.kind, OBU_TEMPORAL_DELIMITER | OBU_TILE_LIST | OBU_PADDING) {
        return Ok(());
    }
    out.put_u8(obu[0] | 0x02);
    out.extend_from_slice(&obu[1..o.header_len]);
    put_leb128(out, o.payload.len());
    out.extend_from_slice(o.payload);
    Ok(())
}

/// The OBUs of a temporal unit in the low-overhead format: type, whole OBU, payload.
fn obus(data: &[u8]) -> impl Iterator<Item = (u8, &[u8], &[u8])> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.first()? & 0x02 == 0 {
            return None; // without a size field it cannot be told from what follows
        }
        let o = Obu::read(rest).ok()?;
        let (whole, after) = rest.split_at(o.len);
        rest = after;
        Some((o.kind, whole, o.payload))
    })
}

/// What containers need of a sequence header: the `av1C` fields and the picture size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SequenceHeader {
    pub(crate) profile: u8,
    pub(crate) level: u8,
    pub(crate) tier: u8,
    pub(crate) high_bitdepth: bool,
    pub(crate) twelve_bit: bool,
    pub(crate) monochrome: bool,
    pub(crate) subsampling_x: bool,
    pub(crate) subsampling_y: bool,
    pub(crate) chroma_sample_position: u8,
    pub(crate) reduced_still_picture: bool,
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// The whole OBU, with its size field.
    pub(crate) obu: Vec<u8>,
}

impl SequenceHeader {
    /// The sequence header among a temporal unit's OBUs (low-overhead format).
    pub(crate) fn find(data: &[u8]) -> Option<SequenceHeader> {
        let (_, obu, payload) = obus(data).find(|(k, ..)| *k == OBU_SEQUENCE_HEADER)?;
        let mut s = SequenceHeader::read(payload)?;
        s.obu = obu.to_vec();
        Some(s)
    }

    /// Reads a sequence header OBU's payload (AV1 specification 5.5).
    fn read(payload: &[u8]) -> Option<SequenceHeader> {
        let mut r = Bits::new(payload);
        let profile = r.bits(3)? as u8;
        r.bit()?; // still_picture
        let reduced = r.bit()? == 1;
        let (mut level, mut tier) = (0, 0);
        if reduced {
            level = r.bits(5)? as u8;
        } else {
            let mut decoder_model = None;
            if r.bit()? == 1 {
                // timing_info
                r.bits(32)?;
                r.bits(32)?;
                if r.bit()? == 1 {
                    r.uvlc()?;
                }
                if r.bit()? == 1 {
                    // decoder_model_info
                    decoder_model = Some(r.bits(5)? + 1);
                    r.bits(32)?;
                    r.bits(10)?;
                }
            }
            let initial_display_delay = r.bit()? == 1;
            let points = r.bits(5)? + 1;
            for i in 0..points {
                r.bits(12)?; // operating_point_idc
                let l = r.bits(5)? as u8;
                let t = if l > 7 { r.bit()? as u8 } else { 0 };
                if i == 0 {
                    (level, tier) = (l, t);
                }
                if let Some(delay_bits) = decoder_model {
                    if r.bit()? == 1 {
                        r.bits(delay_bits)?;
                        r.bits(delay_bits)?;
                        r.bit()?;
                    }
                }
                if initial_display_delay && r.bit()? == 1 {
                    r.bits(4)?;
                }
            }
        }
        let width_bits = r.bits(4)? + 1;
        let height_bits = r.bits(4)? + 1;
        let width = r.bits(width_bits)? + 1;
        let height = r.bits(height_bits)? + 1;
        if !reduced && r.bit()? == 1 {
            r.bits(7)?; // frame id lengths
        }
        r.bits(3)?; // 128x128 superblocks, filter intra, intra edge filter
        if !reduced {
            r.bits(4)?; // interintra, masked compound, warped motion, dual filter
            let order_hint = r.bit()? == 1;
            if order_hint {
                r.bits(2)?; // jnt_comp, ref_frame_mvs
            }
            let screen_content = if r.bit()? == 1 { 2 } else { r.bit()? };
            if screen_content > 0 && r.bit()? == 0 {
                r.bit()?; // seq_force_integer_mv
            }
            if order_hint {
                r.bits(3)?;
            }
        }
        r.bits(3)?; // superres, cdef, restoration
        // color_config
        let high_bitdepth = r.bit()? == 1;
        let twelve_bit = profile == 2 && high_bitdepth && r.bit()? == 1;
        let monochrome = profile != 1 && r.bit()? == 1;
        let (mut primaries, mut transfer, mut matrix) = (2, 2, 2);
        if r.bit()? == 1 {
            (primaries, transfer, matrix) = (r.bits(8)?, r.bits(8)?, r.bits(8)?);
        }
        let (mut sx, mut sy, mut position) = (true, true, 0);
        if monochrome {
            r.bit()?;
        } else if (primaries, transfer, matrix) == (1, 13, 0) {
            (sx, sy) = (false, false); // sRGB
        } else {
            r.bit()?; // color_range
            (sx, sy) = match profile {
                0 => (true, true),
                1 => (false, false),
                _ if twelve_bit => {
                    let x = r.bit()? == 1;
                    (x, x && r.bit()? == 1)
                }
                _ => (true, false),
            };
            if sx && sy {
                position = r.bits(2)? as u8;
            }
        }
        Some(SequenceHeader {
            profile,
            level,
            tier,
            high_bitdepth,
            twelve_bit,
            monochrome,
            subsampling_x: sx,
            subsampling_y: sy,
            chroma_sample_position: position,
            reduced_still_picture: reduced,
            width,
            height,
            obu: Vec::new(),
        })
    }

    /// The `AV1CodecConfigurationRecord` (`av1C`), for MP4 and Matroska alike.
    pub(crate) fn av1c(&self) -> Vec<u8> {
        let bit = |b: bool, shift: u8| (b as u8) << shift;
        let mut out = vec![
            0x81, // marker, version 1
            (self.profile << 5) | self.level,
            bit(self.tier == 1, 7)
                | bit(self.high_bitdepth, 6)
                | bit(self.twelve_bit, 5)
                | bit(self.monochrome, 4)
                | bit(self.subsampling_x, 3)
                | bit(self.subsampling_y, 2)
                | self.chroma_sample_position,
            0,
        ];
        out.extend_from_slice(&self.obu);
        out
    }
}

/// Whether a temporal unit (low-overhead format) holds a key frame a decoder can start at:
/// a sequence header, and a frame whose header says key frame.
pub(crate) fn is_keyframe(data: &[u8]) -> bool {
    let mut reduced = None;
    for (kind, _, payload) in obus(data) {
        match kind {
            OBU_SEQUENCE_HEADER => reduced = Some(payload.first().is_some_and(|b| b & 0x08 != 0)),
            OBU_FRAME_HEADER | OBU_FRAME => {
                let Some(reduced) = reduced else {
                    return false;
                };
                // show_existing_frame 0, then frame_type 0 (KEY_FRAME).
                return reduced || payload.first().is_some_and(|b| b & 0xe0 == 0);
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::bits::BitWriter;
    use proptest::prelude::*;

    /// A sequence header OBU payload: profile 0, level 8 (4.0), 640x360, 8-bit 4:2:0.
    fn sequence_header() -> Vec<u8> {
        let mut w = BitWriter::default();
        w.put(0, 3); // profile
        w.put(0, 2); // still, reduced
        w.put(0, 1); // timing info
        w.put(0, 1); // initial display delay
        w.put(0, 5); // one operating point
        w.put(0, 12);
        w.put(8, 5); // level 4.0
        w.put(0, 1); // tier
        w.put(15, 4);
        w.put(15, 4);
        w.put(639, 16);
        w.put(359, 16);
        w.put(0, 1); // frame ids
        w.put(0, 3);
        w.put(0, 4);
        w.put(1, 1); // order hint
        w.put(0, 2);
        w.put(1, 1); // choose screen content tools
        w.put(1, 1); // choose integer mv
        w.put(6, 3);
        w.put(0, 3);
        w.put(0, 1); // 8-bit
        w.put(0, 1); // not monochrome
        w.put(0, 1); // no color description
        w.put(0, 1); // color range
        w.put(2, 2); // chroma sample position
        w.put(0, 1); // separate uv delta q
        w.put(1, 1); // trailing bit
        w.bytes()
    }

    fn obu(kind: u8, payload: &[u8], with_size: bool) -> Vec<u8> {
        let mut o = vec![(kind << 3) | if with_size { 0x02 } else { 0 }];
        if with_size {
            o.push(payload.len() as u8);
        }
        o.extend_from_slice(payload);
        o
    }

    #[test]
    fn a_key_frame_split_over_packets_is_joined_with_size_fields() {
        let seq = sequence_header();
        let frame: Vec<u8> = (0..300).map(|i| (i % 200) as u8 & 0x1f).collect();
        let seq_obu = obu(OBU_SEQUENCE_HEADER, &seq, false);
        let frame_obu = obu(OBU_FRAME, &frame, false);
        // Packet 1 (N, W=2): the sequence header with its length, then the frame's start.
        let mut p1 = vec![0x28 | 0x40, seq_obu.len() as u8];
        p1.extend_from_slice(&seq_obu);
        p1.extend_from_slice(&frame_obu[..100]);
        // Packet 2 (Z, W=1): the frame's rest.
        let mut p2 = vec![0x80 | 0x10];
        p2.extend_from_slice(&frame_obu[100..]);
        assert!(starts_keyframe(&p1) && starts_obu(&p1));
        assert!(!starts_keyframe(&p2) && !starts_obu(&p2));
        let mut d = Depacketizer::default();
        let mut tu = d.push(&p1).unwrap().to_vec();
        tu.extend_from_slice(&d.push(&p2).unwrap());
        let kinds: Vec<u8> = obus(&tu).map(|(k, ..)| k).collect();
        assert_eq!(kinds, [OBU_SEQUENCE_HEADER, OBU_FRAME]);
        assert!(is_keyframe(&tu));
        let s = SequenceHeader::find(&tu).unwrap();
        assert_eq!((s.width, s.height, s.level, s.profile), (640, 360, 8, 0));
        assert!(s.subsampling_x && s.subsampling_y && !s.high_bitdepth);
        assert_eq!(s.chroma_sample_position, 2);
        let c = s.av1c();
        assert_eq!(&c[..4], &[0x81, 0x08, 0x0e, 0]);
        assert_eq!(&c[4..], &obu(OBU_SEQUENCE_HEADER, &seq, true)[..]);
        // An inter frame (frame_type 1) is not a key frame, nor one without a sequence header.
        let inter = obu(OBU_FRAME, &[0x20, 1, 2], true);
        assert!(!is_keyframe(
            &[obu(OBU_SEQUENCE_HEADER, &seq, true), inter].concat()
        ));
        assert!(!is_keyframe(&obu(OBU_FRAME, &[0x00, 1], true)));
    }

    #[test]
    fn delimiters_go_and_broken_fragments_are_refused() {
        let mut d = Depacketizer::default();
        // W=0: every element has its length; a temporal delimiter, then a frame.
        let td = obu(OBU_TEMPORAL_DELIMITER, &[], false);
        let f = obu(OBU_FRAME, &[0x10, 7], false);
        let mut p = vec![0x00, td.len() as u8];
        p.extend_from_slice(&td);
        p.push(f.len() as u8);
        p.extend_from_slice(&f);
        assert_eq!(
            &d.push(&p).unwrap()[..],
            &obu(OBU_FRAME, &[0x10, 7], true)[..]
        );
        // A continuation without a start; a length past the end; nothing at all.
        assert_eq!(d.push(&[0x90, 0x30, 1]), Err(Malformed::Fragment));
        assert_eq!(d.push(&[0x00, 9, 0x30]), Err(Malformed::Element));
        assert_eq!(d.push(&[]), Err(Malformed::Header));
        // A fragment, then a packet that starts a new OBU instead of its rest.
        assert!(d.push(&[0x50, 0x30, 1]).unwrap().is_empty());
        assert_eq!(d.push(&[0x10, 0x30, 1]), Err(Malformed::Fragment));
    }

    proptest! {
        /// Payloads from the network: read or refused, never a panic.
        #[test]
        fn prop_any_payloads_are_read_or_refused(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..48), 0..12),
        ) {
            let mut d = Depacketizer::default();
            for p in &payloads {
                if let Ok(tu) = d.push(p) {
                    let _ = is_keyframe(&tu);
                    let _ = SequenceHeader::find(&tu);
                }
            }
        }
    }
}
