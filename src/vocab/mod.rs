//! The vocabulary every part of vcall shares: codecs and media kinds, RTP packets, pictures,
//! and what can be read from a bitstream without decoding it (NAL units, keyframes, picture
//! size). It imports nothing of vcall; everything else may import it.

pub(crate) mod av1;
pub(crate) mod bits;
pub(crate) mod bitstream;
pub(crate) mod picture;
pub(crate) mod vp9;

use bytes::Bytes;

pub use picture::I420;

/// Media kind of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Audio,
    Video,
}

impl Kind {
    /// The kinds wanted of `(audio, video)`, audio first.
    pub fn of((audio, video): (bool, bool)) -> impl Iterator<Item = Kind> {
        [(audio, Kind::Audio), (video, Kind::Video)]
            .into_iter()
            .filter_map(|(wanted, k)| wanted.then_some(k))
    }
}

/// The codecs vcall sends and receives (AV1 it receives only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    H264,
    Vp8,
    Vp9,
    Av1,
    Opus,
}

impl Codec {
    /// Every codec, in the order vcall prefers them within a kind.
    pub(crate) const ALL: [Codec; 5] =
        [Codec::H264, Codec::Vp8, Codec::Vp9, Codec::Av1, Codec::Opus];

    pub(crate) fn kind(self) -> Kind {
        match self {
            Codec::Opus => Kind::Audio,
            _ => Kind::Video,
        }
    }

    pub(crate) fn clock_rate(self) -> u32 {
        match self {
            Codec::Opus => 48_000,
            _ => 90_000,
        }
    }

    /// The codec's name, as SDP's `rtpmap` writes it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Codec::H264 => "H264",
            Codec::Vp8 => "VP8",
            Codec::Vp9 => "VP9",
            Codec::Av1 => "AV1",
            Codec::Opus => "opus",
        }
    }

    /// The codec's media type, as SDP and WebRTC name it.
    pub(crate) fn mime(self) -> &'static str {
        match self {
            Codec::H264 => "video/H264",
            Codec::Vp8 => "video/VP8",
            Codec::Vp9 => "video/VP9",
            Codec::Av1 => "video/AV1",
            Codec::Opus => "audio/opus",
        }
    }
}

/// The lowest of the header extension ids [`Rtp::padding`] fills (up to 255): far above
/// the ones SDP offers number (from 1).
const PADDING_EXTENSION_IDS: u8 = 240;
/// What a padding packet's extension elements carry (shared, not allocated per packet).
static ZEROS: [u8; 255] = [0; 255];

/// One RTP packet, as received or to be sent. Cloning shares the payload.
#[derive(Debug, Clone)]
pub(crate) struct Rtp(pub(crate) rtc::rtp::Packet);

impl Rtp {
    pub(crate) fn new(
        payload_type: u8,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: Bytes,
    ) -> Rtp {
        let mut p = rtc::rtp::Packet::default();
        p.header.version = 2;
        p.header.payload_type = payload_type;
        p.header.sequence_number = seq;
        p.header.timestamp = timestamp;
        p.header.marker = marker;
        p.payload = payload;
        Rtp(p)
    }
    /// A padding packet, as a sender probing its path sends one: no payload (receivers
    /// skip it; libwebrtc counts it as padding, its sequence number no gap) and about
    /// `bytes` in header extensions of ids nobody negotiated, which receivers ignore
    /// (RFC 8285). The stack pads a payload only to a multiple of four bytes, and an RTP
    /// padding count is one byte: the size goes in two-byte extension elements instead.
    pub(crate) fn padding(payload_type: u8, seq: u16, timestamp: u32, bytes: usize) -> Rtp {
        let mut rtp = Rtp::new(payload_type, seq, timestamp, false, Bytes::new());
        let h = &mut rtp.0.header;
        h.padding = true;
        h.extension = true;
        h.extension_profile = rtc::rtp::header::EXTENSION_PROFILE_TWO_BYTE;
        let mut left = bytes;
        for id in (PADDING_EXTENSION_IDS..=255).rev() {
            if left < 3 {
                break;
            }
            let len = (left - 2).min(255);
            h.extensions.push(rtc::rtp::header::Extension {
                id,
                payload: Bytes::from_static(&ZEROS[..len]),
            });
            left -= len + 2;
        }
        // The zeros that end the extensions on a four-byte boundary, as the stack counts them
        // (an extension the stack adds later keeps the count right).
        h.extensions_padding = (4 - h.get_extension_payload_len() % 4) % 4;
        rtp
    }
    pub(crate) fn seq(&self) -> u16 {
        self.0.header.sequence_number
    }
    pub(crate) fn ssrc(&self) -> u32 {
        self.0.header.ssrc
    }
    pub(crate) fn timestamp(&self) -> u32 {
        self.0.header.timestamp
    }
    pub(crate) fn marker(&self) -> bool {
        self.0.header.marker
    }
    pub(crate) fn payload(&self) -> &Bytes {
        &self.0.payload
    }
    /// Drops the header extensions (their ids mean nothing on another connection), so that
    /// copies of it carry no lists to clone.
    pub(crate) fn strip_extensions(&mut self) {
        let h = &mut self.0.header;
        h.extension = false;
        h.extensions.clear();
        h.extensions_padding = 0;
    }
}

/// Turns one RTP payload into codec bitstream: Annex B NAL units for H.264 (FU-A reassembled,
/// STAP-A split), the VP8 and VP9 frame data, AV1's OBUs with their size fields, the Opus
/// packet.
pub(crate) enum Depacketizer {
    /// The stack's, for H.264 and Opus.
    Stack(Box<dyn rtc::rtp::packetizer::Depacketizer + Send>),
    /// VP8's payload descriptor read here: the stack's refuses payloads under four bytes
    /// (the last packet of a frame may be two), and keeps one packet's descriptor flags
    /// for the next.
    Vp8,
    /// VP9's payload descriptor read here. Only the base spatial layer is kept: the layers
    /// of a picture would need a superframe index to be stored as one sample, and the base
    /// layer decodes alone.
    Vp9,
    /// AV1's OBU elements joined across packets (the stack's leaves fragments to the caller
    /// and OBUs without their sizes, which containers need).
    Av1(av1::Depacketizer),
}

impl Depacketizer {
    pub(crate) fn new(codec: Codec) -> Depacketizer {
        match codec {
            Codec::H264 => {
                Depacketizer::Stack(Box::new(rtc::rtp::codec::h264::H264Packet::default()))
            }
            Codec::Vp8 => Depacketizer::Vp8,
            Codec::Vp9 => Depacketizer::Vp9,
            Codec::Av1 => Depacketizer::Av1(av1::Depacketizer::default()),
            Codec::Opus => Depacketizer::Stack(Box::new(rtc::rtp::codec::opus::OpusPacket)),
        }
    }

    /// Whether this payload can begin a frame (not the middle of a fragmented unit; for VP8,
    /// the start of its first partition; for VP9, of the base layer's frame).
    pub(crate) fn is_frame_start(&self, payload: &Bytes) -> bool {
        match self {
            Depacketizer::Stack(d) => d.is_partition_head(payload),
            Depacketizer::Vp8 => payload.first().is_some_and(|b| b & 0x17 == 0x10),
            Depacketizer::Vp9 => {
                vp9::Descriptor::read(payload).is_some_and(|d| d.begins && d.spatial == 0)
            }
            Depacketizer::Av1(_) => av1::starts_obu(payload),
        }
    }

    /// The bytes this payload contributes to its frame (may be empty mid-fragment).
    pub(crate) fn push(&mut self, payload: &Bytes) -> Result<Bytes, BadPayload> {
        match self {
            Depacketizer::Stack(d) => d
                .depacketize(payload)
                .map_err(|e| BadPayload(e.to_string())),
            Depacketizer::Vp8 => bitstream::vp8_descriptor_len(payload)
                .map(|n| payload.slice(n..))
                .ok_or_else(|| BadPayload("a VP8 payload shorter than its descriptor".into())),
            Depacketizer::Vp9 => match vp9::Descriptor::read(payload) {
                Some(d) if d.spatial == 0 => Ok(payload.slice(d.len..)),
                Some(_) => Ok(Bytes::new()),
                None => Err(BadPayload(
                    "a VP9 payload shorter than its descriptor".into(),
                )),
            },
            Depacketizer::Av1(d) => d.push(payload).map_err(|e| BadPayload(format!("AV1: {e}"))),
        }
    }
}

/// An RTP payload its codec's payload format cannot read.
#[derive(Debug, thiserror::Error)]
#[error("malformed RTP payload: {0}")]
pub(crate) struct BadPayload(String);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rtc::shared::marshal::{Marshal, MarshalSize, Unmarshal};

    #[test]
    fn a_padding_packet_has_no_payload_and_the_size_asked_for() {
        for bytes in [0, 3, 100, 1000, 1001, 1002, 1003] {
            let mut rtp = Rtp::padding(96, 7, 9000, bytes);
            // The stack adds its transport-wide sequence number.
            let _ = rtp.0.header.set_extension(3, Bytes::from_static(&[0, 1]));
            let wire = rtp.0.marshal().unwrap();
            assert_eq!(wire.len(), rtp.0.marshal_size(), "{bytes}");
            // Header, extension header, the padding's extensions, the stack's 4-byte padding.
            assert!(wire.len() >= 12 + 4 + bytes + 4, "{bytes}: {}", wire.len());
            assert!(
                wire.len() <= 12 + 4 + bytes + 4 + 8,
                "{bytes}: {}",
                wire.len()
            );
            let back = rtc::rtp::Packet::unmarshal(&mut &wire[..]).unwrap();
            assert!(back.payload.is_empty());
            assert!(back.header.padding);
            assert_eq!(back.header.sequence_number, 7);
            assert_eq!(back.header.timestamp, 9000);
            assert_eq!(
                back.header.get_extension(3),
                Some(Bytes::from_static(&[0, 1]))
            );
        }
    }

    #[test]
    fn vp8_payloads_are_read_past_their_descriptor_whatever_their_length() {
        let mut d = Depacketizer::new(Codec::Vp8);
        let cases: [(&[u8], Option<&[u8]>); 8] = [
            // The last two bytes of a frame: the stack's depacketizer refused them.
            (&[0x00, 0xaa, 0xbb], Some(&[0xaa, 0xbb])),
            (&[0x10, 0x9d], Some(&[0x9d])),
            (&[0x00], Some(&[])),
            // X, I with a 15-bit PictureID, L, T/K.
            (&[0x90, 0xf0, 0x81, 0x23, 0x05, 0x40, 0x9d], Some(&[0x9d])),
            // X, I with a 7-bit PictureID; then X without I: nothing of the last carries over.
            (&[0x90, 0x80, 0x12, 0x9d], Some(&[0x9d])),
            (&[0x80, 0x00, 0x9d], Some(&[0x9d])),
            (&[0x90, 0x80, 0x81], None),
            (&[], None),
        ];
        for (payload, want) in cases {
            let got = d.push(&Bytes::copy_from_slice(payload)).ok();
            assert_eq!(got.as_deref(), want, "{payload:02x?}");
        }
        // A frame starts at the start (S) of partition 0 only.
        assert!(d.is_frame_start(&Bytes::from_static(&[0x10, 0])));
        assert!(!d.is_frame_start(&Bytes::from_static(&[0x11, 0])));
        assert!(!d.is_frame_start(&Bytes::from_static(&[0x00, 0])));
    }

    proptest! {
        /// RTP payloads from the network: read or refused, never a panic.
        #[test]
        fn prop_depacketizers_take_any_payload(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..20),
        ) {
            for codec in [Codec::H264, Codec::Vp8, Codec::Opus] {
                let mut d = Depacketizer::new(codec);
                for p in &payloads {
                    let p = Bytes::from(p.clone());
                    d.is_frame_start(&p);
                    let _ = d.push(&p);
                }
            }
        }
    }
}
