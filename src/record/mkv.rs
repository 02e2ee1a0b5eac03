//! A live-style Matroska writer: unknown-size Segment and Clusters, so the file is valid up to
//! the last flushed Cluster even if the process is killed. Clusters close every second and at
//! every video keyframe; each is flushed to disk when it closes.
//!
//! A recording into a file is made seekable when it finishes: Cues (a cue per Cluster that
//! starts with a video keyframe, and the first; every Cluster without video) are appended, and space kept
//! at the start for it is filled in place: a SeekHead naming Info, Tracks and Cues, and the
//! Duration. The Segment and its Clusters keep their unknown sizes (a known-size Segment
//! around unknown-size Clusters is what players warn about). Until then that space holds Void elements, so a killed
//! recording is a valid file without them.

use std::io::Write;
use std::os::unix::fs::FileExt;

use super::codecs::VideoConfig;
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

/// A Void element of exactly `len` (>= 2, < 129) bytes.
fn void(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    v[0] = 0xEC;
    v[1] = 0x80 | (len - 2) as u8;
    v
}

const SEGMENT: u32 = 0x18538067;
const SEEK_HEAD: u32 = 0x114D9B74;
const INFO: u32 = 0x1549A966;
const TRACKS: u32 = 0x1654AE6B;
const CUES: u32 = 0x1C53BB6B;
const CLUSTER: u32 = 0x1F43B675;
/// Space kept for the SeekHead (three Seeks of 8-byte positions take 66 bytes).
const SEEK_HEAD_SPACE: usize = 80;
/// A Duration element: 2-byte ID, 1-byte size, an 8-byte float.
const DURATION_SPACE: usize = 11;

/// Where the finishing touches go, as offsets in the file.
#[derive(Debug, Clone, Copy, Default)]
struct Layout {
    /// The Segment's first byte: positions in the SeekHead and Cues count from here.
    segment_data: u64,
    seek_head: u64,
    info: u64,
    tracks: u64,
    /// The Void inside Info that becomes the Duration.
    duration: u64,
}

/// One cue: a Cluster's time (ms), the track its first block belongs to, and its position
/// from the Segment's start.
type Cue = (u64, u64, u64);

pub struct MkvWriter<W: Write> {
    out: W,
    /// Bytes written so far.
    pos: u64,
    layout: Layout,
    /// Whether the file has a video track (then only Clusters starting with a keyframe are
    /// cued).
    has_video: bool,
    cues: Vec<Cue>,
    /// Per track: the last sample's time (ms) and the step before it, for the Duration.
    ends: Vec<Option<(i64, i64)>>,
    /// Timestamp of the open Cluster, ms; `None` before the first.
    cluster_ms: Option<i64>,
}

impl<W: Write> MkvWriter<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    pub fn new(out: W, tracks: &[TrackSpec]) -> Result<MkvWriter<W>, RecordError> {
        let mut w = MkvWriter {
            out,
            pos: 0,
            layout: Layout::default(),
            has_video: tracks.iter().any(|t| t.codec != Codec::Opus),
            cues: Vec::new(),
            ends: vec![None; tracks.len()],
            cluster_ms: None,
        };
        w.header(tracks)?;
        Ok(w)
    }

    fn header(&mut self, tracks: &[TrackSpec]) -> Result<(), RecordError> {
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
        self.put(&element(0x1A45DFA3, &ebml))?;
        self.put(&id_bytes(SEGMENT))?;
        self.put(&UNKNOWN_SIZE)?;
        self.layout.segment_data = self.pos;
        self.layout.seek_head = self.pos;
        self.put(&void(SEEK_HEAD_SPACE))?;
        let app = concat!("vcall ", env!("CARGO_PKG_VERSION"));
        let info = [
            uint(0x2AD7B1, 1_000_000),
            string(0x4D80, app),
            string(0x5741, app),
        ]
        .concat();
        self.layout.info = self.pos;
        let info = element(INFO, &[info, void(DURATION_SPACE)].concat());
        self.layout.duration = self.pos + (info.len() - DURATION_SPACE) as u64;
        self.put(&info)?;
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
                (_, Some(v)) => {
                    e.push(uint(0x83, 1));
                    match v {
                        VideoConfig::H264 { .. } => {
                            e.push(string(0x86, "V_MPEG4/ISO/AVC"));
                            e.push(element(0x63A2, &v.avcc().unwrap_or_default()));
                        }
                        VideoConfig::Vp8 { .. } => e.push(string(0x86, "V_VP8")),
                        VideoConfig::Vp9(_) => e.push(string(0x86, "V_VP9")),
                        VideoConfig::Av1(s) => {
                            e.push(string(0x86, "V_AV1"));
                            e.push(element(0x63A2, &s.av1c()));
                        }
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
        self.layout.tracks = self.pos;
        self.put(&element(TRACKS, &entries.concat()))?;
        self.out.flush()?;
        Ok(())
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
            let at = self.pos - self.layout.segment_data;
            if sample.keyframe && sample.video || !self.has_video || self.cues.is_empty() {
                self.cues.push((pts.max(0) as u64, track as u64 + 1, at));
            }
            self.put(&id_bytes(CLUSTER))?;
            self.put(&UNKNOWN_SIZE)?;
            self.put(&uint(0xE7, pts.max(0) as u64))?;
            self.cluster_ms = Some(pts.max(0));
        }
        if let Some(end) = self.ends.get_mut(track) {
            let step = end.map_or(0, |(last, _)| pts - last);
            *end = Some((
                pts,
                if step > 0 {
                    step
                } else {
                    end.map_or(0, |e| e.1)
                },
            ));
        }
        let rel =
            (pts - self.cluster_ms.unwrap_or(0)).clamp(i16::MIN as i64, i16::MAX as i64) as i16;
        let mut block = vint_size(track as u64 + 1);
        // vint_size encodes a size; a track number uses the same coding.
        block.extend_from_slice(&rel.to_be_bytes());
        block.push(if sample.keyframe { 0x80 } else { 0 });
        self.put(&id_bytes(0xA3))?;
        self.put(&vint_size((block.len() + sample.data.len()) as u64))?;
        self.put(&block)?;
        self.put(&sample.data)?;
        Ok(())
    }

    /// Ends the file. With `file` (the same file, for writing in place) it is made seekable:
    /// Cues appended, then the SeekHead and the Duration written over
    /// the space kept for them.
    pub fn finish(mut self, file: Option<&std::fs::File>) -> Result<(), RecordError> {
        let Some(file) = file else {
            self.out.flush()?;
            return Ok(());
        };
        let cues_at = self.pos - self.layout.segment_data;
        let points: Vec<u8> = self
            .cues
            .iter()
            .map(|&(ms, track, at)| {
                let positions = [uint(0xF7, track), uint(0xF1, at)].concat();
                element(0xBB, &[uint(0xB3, ms), element(0xB7, &positions)].concat())
            })
            .collect::<Vec<_>>()
            .concat();
        if !points.is_empty() {
            self.put(&element(CUES, &points))?;
        }
        self.out.flush()?;
        let l = self.layout;
        let seek = |id: u32, at: u64| {
            let target = element(0x53AB, &id_bytes(id));
            element(
                0x4DBB,
                &[target, element(0x53AC, &at.to_be_bytes())].concat(),
            )
        };
        let mut seeks = vec![
            seek(INFO, l.info - l.segment_data),
            seek(TRACKS, l.tracks - l.segment_data),
        ];
        if !points.is_empty() {
            seeks.push(seek(CUES, cues_at));
        }
        let head = element(SEEK_HEAD, &seeks.concat());
        let head = [head.clone(), void(SEEK_HEAD_SPACE - head.len())].concat();
        file.write_all_at(&head, l.seek_head)?;
        let duration = self
            .ends
            .iter()
            .flatten()
            .map(|&(last, step)| last + step)
            .max()
            .unwrap_or(0);
        file.write_all_at(&float(0x4489, duration as f64), l.duration)?;
        file.sync_data()?;
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
            w.finish(None).unwrap();
        }
        file
    }

    /// A recording finished in a file (made seekable), and the same unfinished (killed).
    fn finished_in_place() -> (Vec<u8>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.mkv");
        let file = std::fs::File::create(&path).unwrap();
        let in_place = file.try_clone().unwrap();
        let mut w = MkvWriter::new(std::io::BufWriter::new(file), &specs()).unwrap();
        for (track, s) in samples() {
            w.write(track, &s).unwrap();
        }
        w.finish(Some(&in_place)).unwrap();
        (std::fs::read(&path).unwrap(), write(false))
    }

    #[test]
    fn a_finished_file_has_a_duration_and_cues_and_seeks_to_keyframes() {
        let (file, _) = finished_in_place();
        let written = samples();
        let last = written.iter().map(|(_, s)| s.pts_us / 1000).max().unwrap();
        let mut mkv = MatroskaFile::open(std::io::Cursor::new(file)).expect("a Matroska file");
        let duration = mkv.info().duration().expect("a Duration");
        assert!(
            duration > last as f64 && duration < last as f64 + 100.0,
            "{duration} after {last}"
        );
        // The SeekHead points at Info, Tracks and Cues; each cue at a Cluster that starts
        // with that keyframe.
        let file = finished_in_place().0;
        let segment_data = 4 + 1 + (file[4] & 0x7f) as usize + 4 + 8; // EBML header, Segment
        let at = |pos: u64, id: u32| {
            let p = segment_data + pos as usize;
            assert_eq!(
                &file[p..p + id_bytes(id).len()],
                &id_bytes(id)[..],
                "at {pos}"
            );
        };
        let head = &file[segment_data..segment_data + SEEK_HEAD_SPACE];
        assert_eq!(&head[..4], &id_bytes(SEEK_HEAD)[..]);
        let mut targets = Vec::new();
        for seek in head
            .windows(3)
            .enumerate()
            .filter(|(_, w)| w[..2] == [0x53, 0xAB])
        {
            let i = seek.0 + 3;
            let id = u32::from_be_bytes(head[i..i + 4].try_into().unwrap());
            let pos = u64::from_be_bytes(head[i + 4 + 3..i + 4 + 3 + 8].try_into().unwrap());
            at(pos, id);
            targets.push((id, pos));
        }
        assert_eq!(
            targets.iter().map(|t| t.0).collect::<Vec<_>>(),
            [INFO, TRACKS, CUES]
        );
        let cues = segment_data + targets[2].1 as usize;
        let keyframes: Vec<u64> = written
            .iter()
            .filter(|(_, s)| s.video && s.keyframe)
            .map(|(_, s)| (s.pts_us / 1000) as u64)
            .collect();
        let vint = |b: &[u8]| {
            let len = b[0].leading_zeros() as usize + 1;
            let mut v = u64::from(b[0] & (0xff >> len));
            for x in &b[1..len] {
                v = v << 8 | u64::from(*x);
            }
            (v, len)
        };
        let uint_at = |b: &[u8]| b.iter().fold(0u64, |v, x| v << 8 | u64::from(*x));
        let body = &file[cues + 4..];
        let (size, n) = vint(body);
        let mut points = &body[n..n + size as usize];
        let mut cued = Vec::new();
        while !points.is_empty() {
            assert_eq!(points[0], 0xBB, "a CuePoint");
            let (size, n) = vint(&points[1..]);
            let point = &points[1 + n..1 + n + size as usize];
            assert_eq!(point[0], 0xB3, "its CueTime");
            let (len, m) = vint(&point[1..]);
            let time = uint_at(&point[1 + m..1 + m + len as usize]);
            let positions = &point[1 + m + len as usize..];
            assert_eq!(positions[0], 0xB7, "its CueTrackPositions");
            let (_, k) = vint(&positions[1..]);
            let fields = &positions[1 + k..];
            // CueTrack, then CueClusterPosition.
            let (len, m) = vint(&fields[1..]);
            let track = uint_at(&fields[1 + m..1 + m + len as usize]);
            let rest = &fields[1 + m + len as usize..];
            assert_eq!(rest[0], 0xF1);
            let (len, m) = vint(&rest[1..]);
            let cluster = uint_at(&rest[1 + m..1 + m + len as usize]);
            at(cluster, CLUSTER);
            cued.push((time, track));
            points = &points[1 + n + size as usize..];
        }
        let first_track = if written[0].1.video { 1 } else { 2 };
        assert_eq!(cued[0], (0, first_track), "the first Cluster is cued");
        let cued: Vec<u64> = cued[1..]
            .iter()
            .map(|&(t, track)| {
                assert_eq!(track, 1, "later cues are video keyframes");
                t
            })
            .collect();
        assert_eq!(cued, keyframes[1..], "each keyframe's Cluster is cued");
        assert_eq!(&file[cues..cues + 4], &id_bytes(CUES)[..]);
        mkv.seek(keyframes[1]).expect("seek");
        let mut frame = Frame::default();
        assert!(mkv.next_frame(&mut frame).unwrap());
        assert_eq!((frame.track, frame.timestamp), (1, keyframes[1]));
        assert_eq!(frame.is_keyframe, Some(true));
    }

    #[test]
    fn finishing_in_place_keeps_every_frame_and_a_killed_file_differs_only_in_what_finishing_adds()
    {
        let (finished, killed) = finished_in_place();
        let frames = |file: Vec<u8>| {
            let mut mkv = MatroskaFile::open(std::io::Cursor::new(file)).unwrap();
            let mut all = Vec::new();
            let mut frame = Frame::default();
            while mkv.next_frame(&mut frame).unwrap() {
                all.push((frame.track, frame.timestamp, frame.data.clone()));
            }
            all
        };
        assert!(finished.len() > killed.len(), "Cues appended");
        assert_eq!(frames(finished.clone()), frames(killed.clone()));
        // Only the kept space changed, besides what was appended.
        let changed = finished.iter().zip(&killed).filter(|(a, b)| a != b).count();
        assert!(changed <= SEEK_HEAD_SPACE + DURATION_SPACE, "{changed}");
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
