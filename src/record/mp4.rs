//! A fragmented MP4 writer over `mp4-atom`: `ftyp` and `moov` up front, then a `moof`+`mdat`
//! pair about every second, each flushed when written, so a killed recording still plays up
//! to its last fragment. Sample durations come from the next sample's timestamp, so gaps stay
//! gaps. The boxes are `mp4-atom`'s typed structs; this file decides only what goes in them.

use std::io::Write;

use mp4_atom::{Atom, Encode};

use super::codecs::{OPUS_PRE_SKIP, VideoConfig};
use super::{RecordError, Sample, TrackSpec};
use crate::vocab::{Codec, vp9};

const FRAGMENT_US: i64 = 1_000_000;

/// `trun` sample flags: a sync sample, and a sample that depends on others and is not sync.
const SYNC: u32 = 0x0200_0000;
const NOT_SYNC: u32 = 0x0101_0000;

struct Pending {
    dts: i64,
    sample: Sample,
}

/// One sample of the fragment being built.
struct Queued {
    dts: i64,
    duration: u32,
    /// A sync sample: a video keyframe, or any audio sample.
    sync: bool,
    data: bytes::Bytes,
}

struct TrackState {
    timescale: u32,
    queued: Vec<Queued>,
    /// The newest sample, waiting for the next one to know its duration.
    last: Option<Pending>,
    last_duration: u32,
}

pub(crate) struct Mp4Writer<W: Write> {
    out: W,
    tracks: Vec<TrackState>,
    sequence: u32,
    fragment_start_us: Option<i64>,
}

fn encode(atom: &impl Encode, into: &mut Vec<u8>) -> Result<(), RecordError> {
    atom.encode(into).map_err(RecordError::Mp4)
}

/// The sample entry describing a track's codec.
fn sample_entry(spec: &TrackSpec) -> Result<mp4_atom::Codec, RecordError> {
    let visual = |w: u32, h: u32| mp4_atom::Visual {
        data_reference_index: 1,
        width: w as u16,
        height: h as u16,
        ..Default::default()
    };
    Ok(match (spec.codec, &spec.video) {
        (Codec::Opus, _) => mp4_atom::Opus {
            audio: mp4_atom::Audio {
                data_reference_index: 1,
                channel_count: 2,
                sample_size: 16,
                sample_rate: 48_000u16.into(),
            },
            dops: mp4_atom::Dops {
                output_channel_count: 2,
                pre_skip: OPUS_PRE_SKIP,
                input_sample_rate: 48_000,
                output_gain: 0,
                channel_mapping: None,
            },
            btrt: None,
        }
        .into(),
        (
            _,
            Some(VideoConfig::H264 {
                sps,
                pps,
                width,
                height,
            }),
        ) => mp4_atom::Avc1 {
            visual: visual(*width, *height),
            avcc: mp4_atom::Avcc::new(sps, pps).map_err(RecordError::Mp4)?,
            ..Default::default()
        }
        .into(),
        (_, Some(VideoConfig::Vp8 { width, height })) => mp4_atom::Vp08 {
            visual: visual(*width, *height),
            vpcc: vpcc(0, 8, 10),
            ..Default::default()
        }
        .into(),
        (_, Some(VideoConfig::Vp9(h))) => mp4_atom::Vp09 {
            visual: visual(h.width, h.height),
            vpcc: vpcc(
                h.profile,
                h.bit_depth,
                vp9::level(h.width.saturating_mul(h.height)),
            ),
            ..Default::default()
        }
        .into(),
        (_, Some(VideoConfig::Av1(s))) => mp4_atom::Av01 {
            visual: visual(s.width, s.height),
            // The one record Matroska stores too, read as mp4-atom's box.
            av1c: mp4_atom::Av1c::decode_body(&mut &s.av1c()[..]).map_err(RecordError::Mp4)?,
            ..Default::default()
        }
        .into(),
        (_, None) => return Err(RecordError::NoVideoConfig),
    })
}

/// A VP8 or VP9 decoder configuration: 4:2:0 colocated with luma, BT.709, studio range.
fn vpcc(profile: u8, bit_depth: u8, level: u8) -> mp4_atom::VpcC {
    mp4_atom::VpcC {
        profile,
        level,
        bit_depth: bit_depth.max(8),
        chroma_subsampling: 1,
        video_full_range_flag: false,
        color_primaries: 1,
        transfer_characteristics: 1,
        matrix_coefficients: 1,
        codec_initialization_data: Vec::new(),
    }
}

fn trak(id: u32, spec: &TrackSpec) -> Result<mp4_atom::Trak, RecordError> {
    let audio = spec.codec == Codec::Opus;
    let (w, h) = spec.video.as_ref().map(|v| v.size()).unwrap_or((0, 0));
    let (handler, name) = if audio {
        (b"soun", "SoundHandler")
    } else {
        (b"vide", "VideoHandler")
    };
    Ok(mp4_atom::Trak {
        tkhd: mp4_atom::Tkhd {
            track_id: id,
            enabled: true,
            in_movie: true,
            volume: (if audio { 1u8 } else { 0 }).into(),
            width: (w as u16).into(),
            height: (h as u16).into(),
            ..Default::default()
        },
        mdia: mp4_atom::Mdia {
            mdhd: mp4_atom::Mdhd {
                timescale: spec.codec.clock_rate(),
                language: "und".into(),
                ..Default::default()
            },
            hdlr: mp4_atom::Hdlr {
                handler: handler.into(),
                name: name.into(),
            },
            minf: mp4_atom::Minf {
                vmhd: (!audio).then(mp4_atom::Vmhd::default),
                smhd: audio.then(mp4_atom::Smhd::default),
                dinf: mp4_atom::Dinf {
                    dref: mp4_atom::Dref {
                        entries: vec![mp4_atom::Url::default().into()],
                    },
                },
                stbl: mp4_atom::Stbl {
                    stsd: mp4_atom::Stsd {
                        codecs: vec![sample_entry(spec)?],
                    },
                    stco: Some(mp4_atom::Stco::default()),
                    ..Default::default()
                },
                ..Default::default()
            },
        },
        ..Default::default()
    })
}

impl<W: Write> Mp4Writer<W> {
    pub(crate) fn new(mut out: W, specs: &[TrackSpec]) -> Result<Mp4Writer<W>, RecordError> {
        let ftyp = mp4_atom::Ftyp {
            major_brand: b"isom".into(),
            minor_version: 512,
            compatible_brands: [b"isom", b"iso6", b"mp41", b"avc1"]
                .map(Into::into)
                .to_vec(),
        };
        let moov = mp4_atom::Moov {
            mvhd: mp4_atom::Mvhd {
                timescale: 1000,
                rate: 1u16.into(),
                volume: 1u8.into(),
                next_track_id: specs.len() as u32 + 1,
                ..Default::default()
            },
            trak: (1..)
                .zip(specs)
                .map(|(id, spec)| trak(id, spec))
                .collect::<Result<_, _>>()?,
            mvex: Some(mp4_atom::Mvex {
                mehd: None,
                trex: (1..=specs.len() as u32)
                    .map(|track_id| mp4_atom::Trex {
                        track_id,
                        default_sample_description_index: 1,
                        ..Default::default()
                    })
                    .collect(),
            }),
            ..Default::default()
        };
        let mut head = Vec::new();
        encode(&ftyp, &mut head)?;
        encode(&moov, &mut head)?;
        out.write_all(&head)?;
        out.flush()?;
        let tracks = specs
            .iter()
            .map(|t| TrackState {
                timescale: t.codec.clock_rate(),
                queued: Vec::new(),
                last: None,
                last_duration: t.codec.clock_rate() / 30,
            })
            .collect();
        Ok(Mp4Writer {
            out,
            tracks,
            sequence: 0,
            fragment_start_us: None,
        })
    }

    pub(crate) fn write(&mut self, track: usize, sample: &Sample) -> Result<(), RecordError> {
        let start = *self.fragment_start_us.get_or_insert(sample.pts_us);
        if sample.pts_us - start >= FRAGMENT_US
            && (!sample.video || sample.keyframe || sample.pts_us - start >= 3 * FRAGMENT_US)
        {
            self.flush_fragment()?;
            self.fragment_start_us = Some(sample.pts_us);
        }
        let t = &mut self.tracks[track];
        let dts = (sample.pts_us as i128 * t.timescale as i128 / 1_000_000) as i64;
        if let Some(prev) = t.last.take() {
            let duration = (dts - prev.dts).clamp(1, u32::MAX as i64) as u32;
            t.last_duration = duration;
            t.queued.push(Queued {
                dts: prev.dts,
                duration,
                sync: prev.sample.keyframe || !prev.sample.video,
                data: prev.sample.data,
            });
        }
        t.last = Some(Pending {
            dts,
            sample: sample.clone(),
        });
        Ok(())
    }

    /// The `moof` of the queued samples, each track's data at `offsets` from the moof's start.
    fn moof(&self, offsets: &[i32]) -> mp4_atom::Moof {
        let traf = (1..)
            .zip(&self.tracks)
            .zip(offsets)
            .filter(|((_, t), _)| !t.queued.is_empty())
            .map(|((track_id, t), offset)| mp4_atom::Traf {
                tfhd: mp4_atom::Tfhd {
                    track_id,
                    default_base_is_moof: true,
                    ..Default::default()
                },
                tfdt: Some(mp4_atom::Tfdt {
                    base_media_decode_time: t.queued[0].dts.max(0) as u64,
                }),
                trun: vec![mp4_atom::Trun {
                    data_offset: Some(*offset),
                    samples: t
                        .queued
                        .iter()
                        .map(|s| mp4_atom::TrunEntry {
                            duration: Some(s.duration),
                            size: Some(s.data.len() as u32),
                            flags: Some(if s.sync { SYNC } else { NOT_SYNC }),
                            cts: None,
                        })
                        .collect::<Vec<_>>()
                        .into(),
                }],
                ..Default::default()
            })
            .collect();
        mp4_atom::Moof {
            mfhd: mp4_atom::Mfhd {
                sequence_number: self.sequence,
            },
            traf,
        }
    }

    fn flush_fragment(&mut self) -> Result<(), RecordError> {
        if self.tracks.iter().all(|t| t.queued.is_empty()) {
            return Ok(());
        }
        self.sequence += 1;
        // The moof's size does not depend on the offsets in it: lay it out once to learn it.
        let mut sized = Vec::new();
        encode(&self.moof(&vec![0; self.tracks.len()]), &mut sized)?;
        let mdat_header = 8;
        let mut at = sized.len() + mdat_header;
        let mut offsets = Vec::with_capacity(self.tracks.len());
        for t in &self.tracks {
            offsets.push(at as i32);
            at += t.queued.iter().map(|s| s.data.len()).sum::<usize>();
        }
        let mut fragment = Vec::with_capacity(at);
        encode(&self.moof(&offsets), &mut fragment)?;
        let mdat = mp4_atom::Mdat {
            data: self
                .tracks
                .iter_mut()
                .flat_map(|t| t.queued.drain(..))
                .flat_map(|s| s.data)
                .collect(),
        };
        encode(&mdat, &mut fragment)?;
        debug_assert_eq!(fragment.len(), at);
        self.out.write_all(&fragment)?;
        self.out.flush()?;
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<(), RecordError> {
        for t in &mut self.tracks {
            if let Some(last) = t.last.take() {
                t.queued.push(Queued {
                    dts: last.dts,
                    duration: t.last_duration,
                    sync: last.sample.keyframe || !last.sample.video,
                    data: last.sample.data,
                });
            }
        }
        self.flush_fragment()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::fixture::{PPS, SPS, samples, specs};
    use mp4_atom::{Any, Decode};

    /// A sample read back: track, decode time in its timescale, duration, sync, data.
    type ReadSample = (u32, u64, u32, bool, Vec<u8>);

    /// Parses a whole file with mp4-atom: its header, then each moof's samples taken from the
    /// mdat after it at the offsets the trun gives.
    fn read_back(file: &[u8]) -> (mp4_atom::Moov, Vec<ReadSample>, usize) {
        let mut buf = std::io::Cursor::new(file);
        let ftyp = mp4_atom::Ftyp::decode(&mut buf).expect("ftyp");
        assert_eq!(ftyp.major_brand, b"isom".into());
        let moov = mp4_atom::Moov::decode(&mut buf).expect("moov");
        let mut read = Vec::new();
        let mut fragments = 0;
        while (buf.position() as usize) < file.len() {
            let moof_start = buf.position() as usize;
            let moof = match Any::decode(&mut buf).expect("a box") {
                Any::Moof(m) => m,
                other => panic!("expected moof, found {other:?}"),
            };
            let Any::Mdat(_) = Any::decode(&mut buf).expect("mdat") else {
                panic!("a moof without its mdat");
            };
            fragments += 1;
            assert_eq!(moof.mfhd.sequence_number, fragments as u32);
            for traf in &moof.traf {
                assert!(traf.tfhd.default_base_is_moof);
                let mut dts = traf.tfdt.as_ref().expect("tfdt").base_media_decode_time;
                for trun in &traf.trun {
                    let mut at = moof_start + trun.data_offset.expect("data offset") as usize;
                    for e in trun.samples.iter() {
                        let (duration, size) = (e.duration.unwrap(), e.size.unwrap() as usize);
                        let sync = e.flags.unwrap() & 0x0001_0000 == 0;
                        let data = file[at..at + size].to_vec();
                        read.push((traf.tfhd.track_id, dts, duration, sync, data));
                        at += size;
                        dts += duration as u64;
                    }
                }
            }
        }
        (moov, read, fragments)
    }

    #[test]
    fn the_file_reads_back_sample_for_sample() {
        let mut file = Vec::new();
        let mut w = Mp4Writer::new(&mut file, &specs()).unwrap();
        let written = samples();
        for (track, s) in &written {
            w.write(*track, s).unwrap();
        }
        w.finish().unwrap();

        let (moov, read, fragments) = read_back(&file);
        // The header describes both tracks as the specs say.
        assert_eq!(moov.trak.len(), 2);
        assert_eq!(moov.mvex.as_ref().unwrap().trex.len(), 2);
        let video = &moov.trak[0];
        assert_eq!(video.mdia.mdhd.timescale, 90_000);
        assert_eq!(video.mdia.hdlr.handler, b"vide".into());
        match &video.mdia.minf.stbl.stsd.codecs[..] {
            [mp4_atom::Codec::Avc1(avc1)] => {
                assert_eq!((avc1.visual.width, avc1.visual.height), (640, 360));
                assert_eq!(avc1.avcc.sequence_parameter_sets, vec![SPS.to_vec()]);
                assert_eq!(avc1.avcc.picture_parameter_sets, vec![PPS.to_vec()]);
            }
            other => panic!("video sample entry {other:?}"),
        }
        let audio = &moov.trak[1];
        assert_eq!(audio.mdia.mdhd.timescale, 48_000);
        match &audio.mdia.minf.stbl.stsd.codecs[..] {
            [mp4_atom::Codec::Opus(opus)] => {
                assert_eq!(opus.dops.pre_skip, OPUS_PRE_SKIP);
                assert_eq!(opus.dops.output_channel_count, 2);
            }
            other => panic!("audio sample entry {other:?}"),
        }
        // A fragment about every second, cut at video keyframes once video is late enough.
        assert!((2..=3).contains(&fragments), "{fragments} fragments");
        // Every sample comes back, with its bytes, time and sync flag.
        for (track_id, clock) in [(1u32, 90_000i64), (2, 48_000)] {
            let want: Vec<_> = written
                .iter()
                .filter(|(t, _)| *t + 1 == track_id as usize)
                .collect();
            let got: Vec<_> = read.iter().filter(|r| r.0 == track_id).collect();
            assert_eq!(got.len(), want.len(), "track {track_id}");
            for (i, ((_, s), r)) in want.iter().zip(&got).enumerate() {
                assert_eq!(r.4, s.data.to_vec(), "track {track_id} sample {i}");
                assert_eq!(r.1 as i64, s.pts_us * clock / 1_000_000, "decode time {i}");
                assert_eq!(r.3, !s.video || s.keyframe, "sync {i}");
                if let Some((_, next)) = want.get(i + 1) {
                    // A duration reaches the next sample, so the dropped frames stay a gap.
                    let gap = (next.pts_us - s.pts_us) * clock / 1_000_000;
                    assert!(
                        (r.2 as i64 - gap).abs() <= 1,
                        "duration {i}: {} vs {gap}",
                        r.2
                    );
                }
            }
        }
    }

    #[test]
    fn a_recording_cut_off_plays_up_to_its_last_fragment() {
        let mut file = Vec::new();
        let mut w = Mp4Writer::new(&mut file, &specs()).unwrap();
        for (track, s) in samples() {
            w.write(track, &s).unwrap();
        }
        drop(w); // killed: no finish
        let (moov, read, fragments) = read_back(&file);
        assert_eq!(moov.trak.len(), 2);
        assert!(fragments >= 2, "{fragments}");
        assert!(read.iter().any(|r| r.0 == 1) && read.iter().any(|r| r.0 == 2));
    }

    #[test]
    fn a_video_track_without_its_configuration_is_an_error() {
        let specs = [TrackSpec {
            codec: Codec::H264,
            video: None,
        }];
        assert!(matches!(
            Mp4Writer::new(Vec::new(), &specs),
            Err(RecordError::NoVideoConfig)
        ));
    }
}
