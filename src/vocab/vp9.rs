//! VP9 as RTP carries it (RFC 9628's payload descriptor) and what a container needs of its
//! bitstream (the uncompressed header of a key frame: profile, bit depth, picture size).

use bytes::Bytes;

use super::bits::Bits;

/// What a VP9 payload descriptor says of its packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Descriptor {
    /// Bytes before the VP9 data.
    pub(crate) len: usize,
    /// B: the first packet of a layer frame.
    pub(crate) begins: bool,
    /// P: the frame refers to an earlier picture (not intra).
    pub(crate) predicted: bool,
    /// The spatial layer (0 without layer indices).
    pub(crate) spatial: u8,
}

impl Descriptor {
    /// Reads the descriptor at the start of `payload` (RFC 9628 section 4.2), when it is all
    /// there.
    pub(crate) fn read(payload: &[u8]) -> Option<Descriptor> {
        let first = *payload.first()?;
        let flag = |bit: u8| first & bit != 0;
        let (picture_id, layers, flexible) = (flag(0x80), flag(0x20), flag(0x10));
        let (predicted, begins, structure) = (flag(0x40), flag(0x08), flag(0x02));
        let mut at = 1;
        let byte = |at: &mut usize| -> Option<u8> {
            let b = *payload.get(*at)?;
            *at += 1;
            Some(b)
        };
        if picture_id && byte(&mut at)? & 0x80 != 0 {
            byte(&mut at)?; // M: a 15-bit picture ID
        }
        let mut spatial = 0;
        if layers {
            spatial = (byte(&mut at)? >> 1) & 0x07; // TID, U, SID, D
            if !flexible {
                byte(&mut at)?; // TL0PICIDX
            }
        }
        if flexible && predicted {
            // Up to three reference differences, each saying whether another follows (N).
            for _ in 0..3 {
                if byte(&mut at)? & 0x01 == 0 {
                    break;
                }
            }
        }
        if structure {
            let ss = byte(&mut at)?;
            let spatial_layers = (ss >> 5) as usize + 1;
            if ss & 0x10 != 0 {
                at += 4 * spatial_layers; // Y: each layer's width and height
            }
            if ss & 0x08 != 0 {
                // G: a picture group, each picture with R reference differences.
                for _ in 0..byte(&mut at)? {
                    let refs = (byte(&mut at)? >> 2) & 0x03;
                    at += refs as usize;
                }
            }
        }
        (at <= payload.len()).then_some(Descriptor {
            len: at,
            begins,
            predicted,
            spatial,
        })
    }

    /// Whether this packet begins a key frame of the base layer.
    pub(crate) fn starts_keyframe(&self) -> bool {
        self.begins && !self.predicted && self.spatial == 0
    }
}

/// Splits VP9 frames into RTP payloads (RFC 9628, flexible mode): a 15-bit picture ID on
/// every packet; an inter frame says it refers to the picture before it (P, one P_DIFF of 1:
/// libvpx's real-time references are that picture or older ones on the same chain); a key
/// frame's first packet carries the scalability structure with its size (V, one layer).
/// rtc's payloader never sets P, so a receiver would take every frame for a key frame.
#[derive(Debug, Clone, Default)]
pub(crate) struct Payloader {
    picture_id: u16,
}

impl rtc::rtp::packetizer::Payloader for Payloader {
    fn payload(&mut self, mtu: usize, frame: &Bytes) -> rtc::shared::error::Result<Vec<Bytes>> {
        let header = Header::read(frame);
        let key = header.is_some_and(|h| h.keyframe);
        let id = self.picture_id;
        self.picture_id = (id + 1) & 0x7fff;
        let mut out = Vec::new();
        let mut rest = &frame[..];
        while !rest.is_empty() {
            let first = out.is_empty();
            let mut d = Vec::with_capacity(12);
            d.push(0x90 | if key { 0 } else { 0x40 }); // I, F, P
            d.push(0x80 | (id >> 8) as u8);
            d.push(id as u8);
            if !key {
                d.push(0x02); // P_DIFF 1, no more
            }
            if first {
                d[0] |= 0x08; // B
                if let Some(h) = header.filter(|_| key) {
                    d[0] |= 0x02; // V: one layer (N_S 0), its size (Y), no group
                    d.push(0x10);
                    d.extend_from_slice(&(h.width as u16).to_be_bytes());
                    d.extend_from_slice(&(h.height as u16).to_be_bytes());
                }
            }
            let room = mtu.saturating_sub(d.len()).max(1);
            let (part, after) = rest.split_at(room.min(rest.len()));
            rest = after;
            if rest.is_empty() {
                d[0] |= 0x04; // E
            }
            d.extend_from_slice(part);
            out.push(Bytes::from(d));
        }
        Ok(out)
    }

    fn clone_to(&self) -> Box<dyn rtc::rtp::packetizer::Payloader> {
        Box::new(self.clone())
    }
}

/// What a VP9 frame's uncompressed header says (VP9 bitstream specification, 6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) keyframe: bool,
    pub(crate) profile: u8,
    /// Known on key frames only (0 otherwise), as are the sizes.
    pub(crate) bit_depth: u8,
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl Header {
    pub(crate) fn read(frame: &[u8]) -> Option<Header> {
        let mut r = Bits::new(frame);
        if r.bits(2)? != 2 {
            return None; // frame_marker
        }
        let low = r.bit()?;
        let profile = ((r.bit()? << 1) | low) as u8;
        if profile == 3 {
            r.bit()?;
        }
        let mut header = Header {
            keyframe: false,
            profile,
            bit_depth: 0,
            width: 0,
            height: 0,
        };
        if r.bit()? == 1 {
            return Some(header); // show_existing_frame
        }
        header.keyframe = r.bit()? == 0;
        if !header.keyframe {
            return Some(header);
        }
        r.bits(2)?; // show_frame, error_resilient_mode
        if r.bits(24)? != 0x49_83_42 {
            return None; // frame_sync_code
        }
        header.bit_depth = match profile >= 2 {
            true if r.bit()? == 1 => 12,
            true => 10,
            false => 8,
        };
        let rgb = r.bits(3)? == 7;
        if !rgb {
            r.bit()?; // color_range
        }
        if profile == 1 || profile == 3 {
            r.bits(if rgb { 1 } else { 3 })?; // subsampling, reserved
        }
        header.width = r.bits(16)? + 1;
        header.height = r.bits(16)? + 1;
        Some(header)
    }
}

/// The VP9 level (times ten, as `vpcC` writes it) whose largest picture holds `luma`
/// samples.
pub(crate) fn level(luma: u32) -> u8 {
    const LEVELS: [(u32, u8); 9] = [
        (36_864, 10),
        (73_728, 11),
        (122_880, 20),
        (245_760, 21),
        (552_960, 30),
        (983_040, 31),
        (2_228_224, 40),
        (8_912_896, 50),
        (35_651_584, 60),
    ];
    LEVELS
        .iter()
        .find(|(max, _)| luma <= *max)
        .map_or(62, |(_, l)| *l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::bits::BitWriter;
    use proptest::prelude::*;

    #[test]
    fn descriptors_are_read_with_their_optional_fields() {
        let d = |len, begins, predicted, spatial| Descriptor {
            len,
            begins,
            predicted,
            spatial,
        };
        let cases: [(&[u8], Option<Descriptor>); 7] = [
            // B and E alone.
            (&[0x0c, 0x82], Some(d(1, true, false, 0))),
            // I with a 15-bit picture ID, B, V with one layer's size and no group.
            (
                &[0x8a, 0x80, 0x01, 0x10, 0x02, 0x80, 0x01, 0x68, 0x82],
                Some(d(8, true, false, 0)),
            ),
            // I (7 bits), P, L non-flexible (TL0PICIDX), spatial layer 1.
            (&[0xe4, 0x05, 0x02, 0x07, 0x00], Some(d(4, false, true, 1))),
            // Flexible, predicted, two reference differences.
            (&[0x58, 0x03, 0x04, 0xaa], Some(d(3, true, true, 0))),
            // V with a group of two pictures, the second with one reference.
            (
                &[0x0a, 0x08, 0x02, 0x00, 0x04, 0x02, 0x9d],
                Some(d(6, true, false, 0)),
            ),
            // Cut short.
            (&[0x80], None),
            (&[], None),
        ];
        for (payload, want) in cases {
            assert_eq!(Descriptor::read(payload), want, "{payload:02x?}");
        }
        assert!(Descriptor::read(&[0x08, 0x82]).unwrap().starts_keyframe());
        assert!(!Descriptor::read(&[0x48, 0x82]).unwrap().starts_keyframe());
        assert!(!Descriptor::read(&[0x00, 0x82]).unwrap().starts_keyframe());
    }

    #[test]
    fn a_key_frame_header_gives_profile_depth_and_size() {
        // Profile 0, key frame, shown, sync code, BT.709, studio range, 640x360.
        let mut w = BitWriter::default();
        w.put(2, 2);
        w.put(0, 2); // profile 0
        w.put(0, 1); // not show_existing_frame
        w.put(0, 1); // key frame
        w.put(1, 1);
        w.put(0, 1);
        w.put(0x49_83_42, 24);
        w.put(2, 3); // BT.709
        w.put(0, 1);
        w.put(639, 16);
        w.put(359, 16);
        let h = Header::read(&w.bytes()).unwrap();
        assert_eq!(
            h,
            Header {
                keyframe: true,
                profile: 0,
                bit_depth: 8,
                width: 640,
                height: 360
            }
        );
        // An inter frame: the marker, profile 0, not key.
        let h = Header::read(&[0b1000_0100]).unwrap();
        assert!(!h.keyframe);
        assert!(Header::read(&[0x00]).is_none());
        assert_eq!(level(640 * 360), 21);
        assert_eq!(level(1280 * 720), 31);
    }

    #[test]
    fn frames_are_split_with_descriptors_a_receiver_reads_back() {
        use rtc::rtp::packetizer::Payloader as _;
        let mut w = BitWriter::default();
        for (v, n) in [
            (2, 2),
            (0, 4),
            (1, 1),
            (0, 1),
            (0x49_83_42, 24),
            (2, 3),
            (0, 1),
        ] {
            w.put(v, n);
        }
        w.put(319, 16);
        w.put(179, 16);
        let mut key = w.bytes();
        key.resize(2500, 0x55);
        let inter = vec![0x86u8; 1900];
        let mut p = Payloader::default();
        for (frame, is_key) in [(key, true), (inter, false)] {
            let payloads = p.payload(1200, &Bytes::from(frame.clone())).unwrap();
            assert!(payloads.len() > 1 && payloads.iter().all(|b| b.len() <= 1200));
            let mut joined = Vec::new();
            for (i, payload) in payloads.iter().enumerate() {
                let d = Descriptor::read(payload).unwrap();
                assert_eq!(d.begins, i == 0);
                assert_eq!(d.predicted, !is_key);
                assert_eq!(payload[0] & 0x04 != 0, i == payloads.len() - 1, "E");
                joined.extend_from_slice(&payload[d.len..]);
            }
            assert_eq!(joined, frame);
            assert_eq!(
                Descriptor::read(&payloads[0]).unwrap().starts_keyframe(),
                is_key
            );
        }
    }

    proptest! {
        #[test]
        fn prop_any_bytes_are_read_or_refused(data in prop::collection::vec(any::<u8>(), 0..40)) {
            if let Some(d) = Descriptor::read(&data) {
                prop_assert!(d.len <= data.len());
            }
            let _ = Header::read(&data);
        }
    }
}
