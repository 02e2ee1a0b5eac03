//! A live-style Matroska writer: unknown-size Segment and Clusters, so the file is valid up to
//! the last flushed Cluster even if the process is killed. Clusters close every second and at
//! every video keyframe; each is flushed to disk when it closes.

use std::io::Write;

use super::{RecordError, Sample, TrackSpec};
use crate::vocab::Codec;

const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
/// Longest Cluster, in ms (relative block timestamps are 16-bit).
const CLUSTER_MS: i64 = 1000;

fn vint_size(n: u64) -> Vec<u8> {
    let len = (1..=8).find(|l| n < (1u64 << (7 * l)) - 1).unwrap_or(8);
    let mut v = n.to_be_bytes()[8 - len..].to_vec();
    v[0] |= 1 << (8 - len);
    v
}

fn id_bytes(id: u32) -> Vec<u8> {
    let b = id.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count();
    b[skip..].to_vec()
}

fn element(id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = id_bytes(id);
    out.extend(vint_size(body.len() as u64));
    out.extend_from_slice(body);
    out
}

fn uint(id: u32, v: u64) -> Vec<u8> {
    let b = v.to_be_bytes();
    let skip = b.iter().take_while(|&&x| x == 0).count().min(7);
    element(id, &b[skip..])
}

fn float(id: u32, v: f64) -> Vec<u8> {
    element(id, &v.to_be_bytes())
}

fn string(id: u32, s: &str) -> Vec<u8> {
    element(id, s.as_bytes())
}

pub struct MkvWriter<W: Write> {
    out: W,
    /// Timestamp of the open Cluster, ms; `None` before the first.
    cluster_ms: Option<i64>,
}

impl<W: Write> MkvWriter<W> {
    pub fn new(mut out: W, tracks: &[TrackSpec]) -> Result<MkvWriter<W>, RecordError> {
        let ebml = [
            uint(0x4286, 1),
            uint(0x42F7, 1),
            uint(0x42F2, 4),
            uint(0x42F3, 8),
            string(0x4282, "matroska"),
            uint(0x4287, 4),
            uint(0x4285, 2),
        ]
        .concat();
        out.write_all(&element(0x1A45DFA3, &ebml))?;
        out.write_all(&id_bytes(0x18538067))?;
        out.write_all(&UNKNOWN_SIZE)?;
        let app = concat!("vcall ", env!("CARGO_PKG_VERSION"));
        let info = [
            uint(0x2AD7B1, 1_000_000),
            string(0x4D80, app),
            string(0x5741, app),
        ]
        .concat();
        out.write_all(&element(0x1549A966, &info))?;
        let mut entries = Vec::new();
        for (i, t) in tracks.iter().enumerate() {
            let n = i as u64 + 1;
            let mut e = vec![uint(0xD7, n), uint(0x73C5, n), uint(0x9C, 0)];
            match (t.codec, &t.video) {
                (Codec::Opus, _) => {
                    e.push(uint(0x83, 2));
                    e.push(string(0x86, "A_OPUS"));
                    e.push(element(0x63A2, &super::codecs::opus_head()));
                    e.push(uint(
                        0x56AA,
                        super::codecs::OPUS_PRE_SKIP as u64 * 1_000_000_000 / 48_000,
                    ));
                    e.push(uint(0x56BB, 80_000_000));
                    e.push(element(
                        0xE1,
                        &[float(0xB5, 48_000.0), uint(0x9F, 2)].concat(),
                    ));
                }
                (codec, Some(v)) => {
                    e.push(uint(0x83, 1));
                    if codec == Codec::H264 {
                        e.push(string(0x86, "V_MPEG4/ISO/AVC"));
                        e.push(element(0x63A2, &v.avcc().unwrap_or_default()));
                    } else {
                        e.push(string(0x86, "V_VP8"));
                    }
                    let (w, h) = v.size();
                    e.push(element(
                        0xE0,
                        &[uint(0xB0, w as u64), uint(0xBA, h as u64)].concat(),
                    ));
                }
                (_, None) => return Err(RecordError::NoVideoConfig),
            }
            entries.push(element(0xAE, &e.concat()));
        }
        out.write_all(&element(0x1654AE6B, &entries.concat()))?;
        out.flush()?;
        Ok(MkvWriter {
            out,
            cluster_ms: None,
        })
    }

    /// Writes one sample of track `track` (index into the specs) at `pts_ms`.
    pub fn write(&mut self, track: usize, sample: &Sample) -> Result<(), RecordError> {
        let pts = sample.pts_us.div_euclid(1000);
        let new_cluster = match self.cluster_ms {
            None => true,
            Some(c) => {
                pts - c >= CLUSTER_MS
                    || pts < c - 30_000
                    || (sample.keyframe && sample.video && pts != c)
            }
        };
        if new_cluster {
            self.out.flush()?;
            self.out.write_all(&id_bytes(0x1F43B675))?;
            self.out.write_all(&UNKNOWN_SIZE)?;
            self.out.write_all(&uint(0xE7, pts.max(0) as u64))?;
            self.cluster_ms = Some(pts.max(0));
        }
        let rel =
            (pts - self.cluster_ms.unwrap_or(0)).clamp(i16::MIN as i64, i16::MAX as i64) as i16;
        let mut block = vint_size(track as u64 + 1);
        // vint_size encodes a size; a track number uses the same coding.
        block.extend_from_slice(&rel.to_be_bytes());
        block.push(if sample.keyframe { 0x80 } else { 0 });
        self.out.write_all(&id_bytes(0xA3))?;
        self.out
            .write_all(&vint_size((block.len() + sample.data.len()) as u64))?;
        self.out.write_all(&block)?;
        self.out.write_all(&sample.data)?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), RecordError> {
        self.out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::fixture::{samples, specs};
    use matroska_demuxer::{Frame, MatroskaFile, TrackType};

    fn write(finish: bool) -> Vec<u8> {
        let mut file = Vec::new();
        let mut w = MkvWriter::new(&mut file, &specs()).unwrap();
        for (track, s) in samples() {
            w.write(track, &s).unwrap();
        }
        if finish {
            w.finish().unwrap();
        }
        file
    }

    #[test]
    fn the_file_reads_back_frame_for_frame() {
        let file = write(true);
        let mut mkv = MatroskaFile::open(std::io::Cursor::new(file)).expect("a Matroska file");
        let tracks = mkv.tracks();
        assert_eq!(tracks.len(), 2);
        assert_eq!(tracks[0].track_type(), TrackType::Video);
        assert_eq!(tracks[0].codec_id(), "V_MPEG4/ISO/AVC");
        let avcc = tracks[0].codec_private().expect("avcC");
        assert_eq!(
            &avcc[8..8 + crate::record::fixture::SPS.len()],
            crate::record::fixture::SPS
        );
        let video = tracks[0].video().expect("video settings");
        assert_eq!(
            (video.pixel_width().get(), video.pixel_height().get()),
            (640, 360)
        );
        assert_eq!(tracks[1].codec_id(), "A_OPUS");
        assert_eq!(
            tracks[1].codec_private(),
            Some(&crate::record::codecs::opus_head()[..])
        );
        assert_eq!(mkv.info().timestamp_scale().get(), 1_000_000);

        let mut read = Vec::new();
        let mut frame = Frame::default();
        while mkv.next_frame(&mut frame).expect("a frame") {
            read.push(frame.clone());
        }
        let written = samples();
        assert_eq!(read.len(), written.len());
        // Frames come back in the order written, each with its bytes, track, time (ms) and
        // keyframe flag.
        for (i, (r, (track, s))) in read.iter().zip(&written).enumerate() {
            assert_eq!(r.track, *track as u64 + 1, "frame {i}");
            assert_eq!(r.data, s.data.to_vec(), "frame {i}");
            assert_eq!(r.timestamp as i64, s.pts_us / 1000, "frame {i}");
            if s.video {
                assert_eq!(r.is_keyframe, Some(s.keyframe), "frame {i}");
            }
        }
    }

    #[test]
    fn finishing_adds_nothing_so_a_killed_recording_is_whole() {
        // Nothing is written at the end (unknown sizes): a file without finish is the same.
        assert_eq!(write(false), write(true));
    }
}
