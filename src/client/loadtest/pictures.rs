//! The pictures themselves, for a sampled share of the streams (`--decode`): each whole frame
//! is decoded and its burned-in capture time read back, which must be the capture time its
//! mark in the bitstream carries. A picture that does not decode, whose marks cannot be read,
//! or that shows another frame's time is bad (a server that corrupts or mixes up payloads
//! while keeping their marks).

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::codec::H264Decoder;
use crate::media::testsrc::read_marks;
use crate::record::assemble::Assembler;
use crate::vocab::bitstream::{LoadMark, nal_units};
use crate::vocab::{Codec, Rtp};

/// The burned-in capture time holds the low 48 bits of Unix milliseconds.
const CAPTURE_MS_MASK: u64 = (1 << 48) - 1;

/// What the decoded pictures of one stream showed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Pictures {
    pub(super) decoded: u64,
    pub(super) bad: u64,
    /// What the first bad one was.
    pub(super) first_bad: Option<String>,
}

/// Decodes one stream's video and checks each picture against its mark.
pub(super) struct PictureCheck {
    assembler: Assembler,
    decoder: H264Decoder,
    pub(super) tally: Pictures,
}

impl PictureCheck {
    pub(super) fn new() -> Option<PictureCheck> {
        Some(PictureCheck {
            assembler: Assembler::new(Codec::H264),
            decoder: H264Decoder::new().ok()?,
            tally: Pictures::default(),
        })
    }

    /// One RTP packet: whether the tally changed (a frame it completed was decoded), and
    /// whether the decoder needs a keyframe to go on.
    pub(super) fn packet(&mut self, packet: Rtp, now: Instant) -> (bool, bool) {
        let out = self.assembler.push(packet, now);
        let changed = !out.frames.is_empty();
        for f in out.frames {
            self.frame(&f.data);
        }
        (changed, out.request_keyframe)
    }

    fn frame(&mut self, au: &[u8]) {
        let mark = nal_units(au).find_map(LoadMark::read);
        let picture = match self.decoder.decode(au) {
            Ok(Some(img)) => img,
            // No picture yet (the decoder holds it): the next one tells.
            Ok(None) => return,
            Err(e) => return self.bad(format!("a frame did not decode: {e}")),
        };
        self.tally.decoded += 1;
        let why = match (read_marks(&picture), mark) {
            (Some(seen), Some(m))
                if seen.capture_ms == (m.captured_us / 1000) & CAPTURE_MS_MASK =>
            {
                return;
            }
            (Some(seen), Some(m)) => format!(
                "frame {} of publisher #{} shows the picture captured at {} ms, its mark says {} ms",
                m.frame,
                m.publisher,
                seen.capture_ms,
                m.captured_us / 1000
            ),
            (None, _) => "a picture's burned-in marks could not be read".to_owned(),
            (Some(_), None) => "a decoded frame carried no load-test mark".to_owned(),
        };
        self.bad(why);
    }

    fn bad(&mut self, why: String) {
        self.tally.bad += 1;
        self.tally.first_bad.get_or_insert(why);
    }
}

/// Whether the `j`th stream of the run is among a `share` (0 to 1) decoded: spread evenly,
/// the first one always when the share is above zero.
pub(super) fn sampled(j: u64, share: f64) -> bool {
    (((j + 1) as f64) * share).ceil() > (j as f64 * share).ceil()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::H264Encoder;
    use crate::media::sources::{TestSrc, VideoSource};
    use crate::media::testsrc::Pattern;

    #[test]
    fn a_share_picks_that_many_streams_spread_out() {
        let count = |share: f64| (0..1000).filter(|j| sampled(*j, share)).count();
        assert_eq!(count(0.0), 0);
        assert_eq!(count(0.1), 100);
        assert_eq!(count(0.01), 10);
        assert_eq!(count(1.0), 1000);
        assert!(sampled(0, 0.001));
        assert!(!sampled(1, 0.1) && sampled(10, 0.1));
    }

    /// Frames of the test pattern with marks, packetized as a publisher sends them.
    fn packets(marks: impl Fn(u32, u64) -> LoadMark) -> Vec<Rtp> {
        let mut src = TestSrc::new(320, 240, 30.0, Pattern::Plain).unwrap();
        let mut enc = H264Encoder::new(30.0, 300_000, 300).unwrap();
        let mut out = Vec::new();
        let mut seq = 0u16;
        for n in 0..5u32 {
            let ms = 1_700_000_000_000 + u64::from(n) * 33;
            let img = src.next(ms).unwrap().unwrap();
            let (au, _) = enc.encode(&img, n == 0).unwrap();
            let data = marks(n, ms).prefix(&au);
            let payloads = fu_a(&data);
            let last = payloads.len() - 1;
            for (k, p) in payloads.into_iter().enumerate() {
                out.push(Rtp::new(102, seq, n * 3000, k == last, p));
                seq = seq.wrapping_add(1);
            }
        }
        out
    }

    /// Each NAL unit alone in a packet, or in FU-A fragments of 1000 bytes when larger.
    fn fu_a(au: &[u8]) -> Vec<bytes::Bytes> {
        let mut out = Vec::new();
        for nal in nal_units(au) {
            if nal.len() <= 1000 {
                out.push(bytes::Bytes::copy_from_slice(nal));
                continue;
            }
            let chunks: Vec<&[u8]> = nal[1..].chunks(1000).collect();
            for (k, c) in chunks.iter().enumerate() {
                let start = if k == 0 { 0x80 } else { 0 };
                let end = if k == chunks.len() - 1 { 0x40 } else { 0 };
                let mut p = vec![(nal[0] & 0xe0) | 28, start | end | (nal[0] & 0x1f)];
                p.extend_from_slice(c);
                out.push(p.into());
            }
        }
        out
    }

    fn check(packets: Vec<Rtp>) -> Pictures {
        let mut c = PictureCheck::new().unwrap();
        let now = Instant::now();
        for p in packets {
            c.packet(p, now);
        }
        c.tally
    }

    #[test]
    fn pictures_that_match_their_marks_are_good() {
        let t = check(packets(|n, ms| LoadMark {
            publisher: 1,
            frame: n,
            captured_us: ms * 1000 + 999,
        }));
        assert_eq!((t.decoded, t.bad), (5, 0), "{t:?}");
    }

    #[test]
    fn a_picture_under_another_frames_mark_is_bad() {
        let t = check(packets(|n, ms| LoadMark {
            publisher: 1,
            frame: n,
            captured_us: (ms + u64::from(n == 2) * 33) * 1000,
        }));
        assert_eq!(t.bad, 1, "{t:?}");
        assert!(t.first_bad.unwrap().contains("frame 2 of publisher #1"));
    }
}
