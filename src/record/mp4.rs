//! A fragmented MP4 writer: `ftyp` and `moov` up front, then a `moof`+`mdat` pair about every
//! second, each flushed when written, so a killed recording still plays up to its last
//! fragment. Sample durations come from the next sample's timestamp, so gaps stay gaps.

use std::io::{self, Write};

use super::{Sample, TrackSpec};
use crate::vocab::Codec;

const FRAGMENT_US: i64 = 1_000_000;

fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(&(body.len() as u32 + 8).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

fn full(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut b = vec![version];
    b.extend_from_slice(&flags.to_be_bytes()[1..]);
    b.extend_from_slice(body);
    bx(kind, &b)
}

const MATRIX: [u32; 9] = [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000];

fn be32s(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

struct Pending {
    dts: i64,
    sample: Sample,
}

struct TrackState {
    timescale: u32,
    /// Samples of the fragment being built: (decode time, duration, keyframe, data).
    queued: Vec<(i64, u32, bool, bytes::Bytes)>,
    /// The newest sample, waiting for the next one to know its duration.
    last: Option<Pending>,
    last_duration: u32,
}

pub struct Mp4Writer<W: Write> {
    out: W,
    tracks: Vec<TrackState>,
    sequence: u32,
    fragment_start_us: Option<i64>,
}

impl<W: Write> Mp4Writer<W> {
    pub fn new(mut out: W, specs: &[TrackSpec]) -> io::Result<Mp4Writer<W>> {
        out.write_all(&bx(
            b"ftyp",
            &[
                b"isom".as_slice(),
                &512u32.to_be_bytes(),
                b"isom",
                b"iso6",
                b"mp41",
                b"avc1",
            ]
            .concat(),
        ))?;
        let mut traks = Vec::new();
        let mut trexs = Vec::new();
        for (i, t) in specs.iter().enumerate() {
            let id = i as u32 + 1;
            let audio = t.codec == Codec::Opus;
            let timescale = t.codec.clock_rate();
            let (w, h) = t.video.as_ref().map(|v| v.size()).unwrap_or((0, 0));
            let mut tkhd = be32s(&[0, 0, id, 0, 0, 0, 0]);
            tkhd.extend_from_slice(&[0, 0, 0, 0]); // layer, alternate group
            tkhd.extend_from_slice(&(if audio { 0x0100u16 } else { 0 }).to_be_bytes());
            tkhd.extend_from_slice(&[0, 0]);
            tkhd.extend(be32s(&MATRIX));
            tkhd.extend(be32s(&[w << 16, h << 16]));
            let mdhd = [be32s(&[0, 0, timescale, 0]), vec![0x55, 0xc4, 0, 0]].concat();
            let (handler, name) = if audio {
                (b"soun", "SoundHandler")
            } else {
                (b"vide", "VideoHandler")
            };
            let hdlr = [
                be32s(&[0]),
                handler.to_vec(),
                be32s(&[0, 0, 0]),
                name.as_bytes().to_vec(),
                vec![0],
            ]
            .concat();
            let xmhd = if audio {
                full(b"smhd", 0, 0, &[0, 0, 0, 0])
            } else {
                full(b"vmhd", 0, 1, &[0; 8])
            };
            let dinf = bx(
                b"dinf",
                &full(
                    b"dref",
                    0,
                    0,
                    &[be32s(&[1]), full(b"url ", 0, 1, &[])].concat(),
                ),
            );
            let entry = if audio {
                let mut e = vec![0u8; 6];
                e.extend_from_slice(&1u16.to_be_bytes());
                e.extend_from_slice(&[0; 8]);
                e.extend_from_slice(&2u16.to_be_bytes());
                e.extend_from_slice(&16u16.to_be_bytes());
                e.extend_from_slice(&[0; 4]);
                e.extend_from_slice(&(48_000u32 << 16).to_be_bytes());
                let mut dops = vec![0u8, 2];
                dops.extend_from_slice(&super::codecs::OPUS_PRE_SKIP.to_be_bytes());
                dops.extend_from_slice(&48_000u32.to_be_bytes());
                dops.extend_from_slice(&[0, 0, 0]);
                e.extend(bx(b"dOps", &dops));
                bx(b"Opus", &e)
            } else {
                let v = t
                    .video
                    .as_ref()
                    .ok_or_else(|| io::Error::other("video track without configuration"))?;
                let mut e = vec![0u8; 6];
                e.extend_from_slice(&1u16.to_be_bytes());
                e.extend_from_slice(&[0; 16]);
                e.extend_from_slice(&(w as u16).to_be_bytes());
                e.extend_from_slice(&(h as u16).to_be_bytes());
                e.extend(be32s(&[0x00480000, 0x00480000, 0]));
                e.extend_from_slice(&1u16.to_be_bytes());
                e.extend_from_slice(&[0; 32]);
                e.extend_from_slice(&0x0018u16.to_be_bytes());
                e.extend_from_slice(&0xffffu16.to_be_bytes());
                match v.avcc() {
                    Some(avcc) => {
                        e.extend(bx(b"avcC", &avcc));
                        bx(b"avc1", &e)
                    }
                    None => {
                        e.extend(full(b"vpcC", 1, 0, &[0, 10, 0x82, 1, 1, 1, 0, 0]));
                        bx(b"vp08", &e)
                    }
                }
            };
            let stsd = full(b"stsd", 0, 0, &[be32s(&[1]), entry].concat());
            let stbl = bx(
                b"stbl",
                &[
                    stsd,
                    full(b"stts", 0, 0, &be32s(&[0])),
                    full(b"stsc", 0, 0, &be32s(&[0])),
                    full(b"stsz", 0, 0, &be32s(&[0, 0])),
                    full(b"stco", 0, 0, &be32s(&[0])),
                ]
                .concat(),
            );
            let minf = bx(b"minf", &[xmhd, dinf, stbl].concat());
            let mdia = bx(
                b"mdia",
                &[full(b"mdhd", 0, 0, &mdhd), full(b"hdlr", 0, 0, &hdlr), minf].concat(),
            );
            traks.push(bx(b"trak", &[full(b"tkhd", 0, 3, &tkhd), mdia].concat()));
            trexs.push(full(b"trex", 0, 0, &be32s(&[id, 1, 0, 0, 0])));
        }
        let mut mvhd = be32s(&[0, 0, 1000, 0, 0x00010000]);
        mvhd.extend_from_slice(&0x0100u16.to_be_bytes());
        mvhd.extend_from_slice(&[0; 10]);
        mvhd.extend(be32s(&MATRIX));
        mvhd.extend(be32s(&[0; 6]));
        mvhd.extend(be32s(&[specs.len() as u32 + 1]));
        let moov = bx(
            b"moov",
            &[
                full(b"mvhd", 0, 0, &mvhd),
                traks.concat(),
                bx(b"mvex", &trexs.concat()),
            ]
            .concat(),
        );
        out.write_all(&moov)?;
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

    pub fn write(&mut self, track: usize, sample: &Sample) -> io::Result<()> {
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
            t.queued
                .push((prev.dts, duration, prev.sample.keyframe, prev.sample.data));
        }
        t.last = Some(Pending {
            dts,
            sample: sample.clone(),
        });
        Ok(())
    }

    fn flush_fragment(&mut self) -> io::Result<()> {
        if self.tracks.iter().all(|t| t.queued.is_empty()) {
            return Ok(());
        }
        self.sequence += 1;
        // Lay out the trafs once with zero offsets to learn the moof size, then fill them in.
        let build = |offsets: &[i32], tracks: &[TrackState], seq: u32| -> Vec<u8> {
            let mut trafs = Vec::new();
            for (i, t) in tracks.iter().enumerate() {
                if t.queued.is_empty() {
                    continue;
                }
                let tfhd = full(b"tfhd", 0, 0x020000, &be32s(&[i as u32 + 1]));
                let tfdt = full(b"tfdt", 1, 0, &(t.queued[0].0.max(0) as u64).to_be_bytes());
                let mut trun = be32s(&[t.queued.len() as u32]);
                trun.extend_from_slice(&offsets[i].to_be_bytes());
                for (_, dur, key, data) in &t.queued {
                    trun.extend(be32s(&[
                        *dur,
                        data.len() as u32,
                        if *key { 0x02000000 } else { 0x01010000 },
                    ]));
                }
                trafs.push(bx(
                    b"traf",
                    &[tfhd, tfdt, full(b"trun", 0, 0x000701, &trun)].concat(),
                ));
            }
            bx(
                b"moof",
                &[full(b"mfhd", 0, 0, &be32s(&[seq])), trafs.concat()].concat(),
            )
        };
        let zero = vec![0i32; self.tracks.len()];
        let moof_len = build(&zero, &self.tracks, self.sequence).len();
        let mut offsets = Vec::new();
        let mut at = moof_len + 8;
        for t in &self.tracks {
            offsets.push(at as i32);
            at += t.queued.iter().map(|s| s.3.len()).sum::<usize>();
        }
        let moof = build(&offsets, &self.tracks, self.sequence);
        let payload: usize = at - moof_len - 8;
        self.out.write_all(&moof)?;
        self.out.write_all(&(payload as u32 + 8).to_be_bytes())?;
        self.out.write_all(b"mdat")?;
        for t in &mut self.tracks {
            for (_, _, _, data) in t.queued.drain(..) {
                self.out.write_all(&data)?;
            }
        }
        self.out.flush()
    }

    pub fn finish(mut self) -> io::Result<()> {
        for t in &mut self.tracks {
            if let Some(last) = t.last.take() {
                t.queued.push((
                    last.dts,
                    t.last_duration,
                    last.sample.keyframe,
                    last.sample.data,
                ));
            }
        }
        self.flush_fragment()
    }
}
