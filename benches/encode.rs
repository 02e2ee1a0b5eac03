//! H.264 encode speed of the test pattern at 720p and 1080p, and Opus encode speed.
//! `cargo bench --bench encode` prints a table; BENCHMARKS.md records it.

use std::time::Instant;

use vcall::codec::{H264Encoder, OPUS_FRAME, OpusEncoder};
use vcall::media::testsrc::{self, Marks};
use vcall::vocab::I420;

fn h264_fps(width: usize, height: usize, frames: u32) -> f64 {
    let mut enc = H264Encoder::new(30.0, 2_500_000, 60).expect("encoder");
    let pictures: Vec<I420> = (0..frames)
        .map(|n| {
            let mut img = I420::new(width, height);
            testsrc::render(
                &mut img,
                Marks {
                    frame: n,
                    capture_ms: n as u64 * 33,
                },
            );
            img
        })
        .collect();
    // Warm up on the first picture (the first frame is an IDR and allocates).
    enc.encode(&pictures[0], false).expect("encode");
    let start = Instant::now();
    for p in &pictures[1..] {
        enc.encode(p, false).expect("encode");
    }
    (frames - 1) as f64 / start.elapsed().as_secs_f64()
}

fn opus_realtime_factor(seconds: u32) -> f64 {
    let mut enc = OpusEncoder::new(48_000).expect("encoder");
    let mut pcm = [0i16; OPUS_FRAME];
    let frames = seconds * 50;
    let start = Instant::now();
    for m in 0..frames {
        vcall::media::tone::render(440.0, m as u64 * OPUS_FRAME as u64, &mut pcm);
        enc.encode(&pcm).expect("encode");
    }
    seconds as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    println!("| what | result |");
    println!("|---|---|");
    for (w, h, n) in [(1280, 720, 150), (1920, 1080, 90)] {
        println!(
            "| H.264 encode, test pattern {w}x{h}, 2.5 Mbit/s | {:.0} fps |",
            h264_fps(w, h, n)
        );
    }
    println!(
        "| Opus encode, 48 kHz mono 20 ms frames | {:.0}x real time |",
        opus_realtime_factor(60)
    );
}
