//! H.264 encode speed of the test pattern at 720p and 1080p; VP8 (libvpx) beside H.264
//! (openh264) at 640x480 30 fps in CPU per second of video; Opus encode speed.
//! `cargo bench --bench encode` prints a table; BENCHMARKS.md records it.

mod common;

use std::time::{Duration, Instant};

use common::thread_cpu;

use vcall::codec::{H264Encoder, OPUS_FRAME, OpusEncoder, VpxEncoder};
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

/// 10 s of test pattern at 30 fps (`busy`: the noisy one that uses its whole bitrate) of
/// `size` encoded by `encode` at 500 kbit/s: CPU ms per second of video, and the bitrate it
/// made (kbit/s).
fn cpu_per_second(
    busy: bool,
    size: (usize, usize),
    mut encode: impl FnMut(&I420) -> usize,
) -> (f64, f64) {
    let (fps, seconds) = (30, 10);
    let mut img = I420::new(size.0, size.1);
    let (mut cpu, mut bytes) = (Duration::ZERO, 0);
    for n in 0..fps * seconds {
        let marks = Marks {
            frame: n,
            capture_ms: u64::from(n) * 33,
        };
        if busy {
            testsrc::render_busy(&mut img, marks);
        } else {
            testsrc::render(&mut img, marks);
        }
        let start = thread_cpu();
        bytes += encode(&img);
        cpu += thread_cpu() - start;
    }
    let ms = cpu.as_secs_f64() * 1000.0 / f64::from(seconds);
    (ms, bytes as f64 * 8.0 / f64::from(seconds) / 1000.0)
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
    for (busy, pattern) in [(false, "test pattern"), (true, "busy test pattern")] {
        for size in [(640, 480), (640, 360)] {
            let mut h264 = H264Encoder::new(30.0, 500_000, 60).expect("encoder");
            let (h_ms, h_kbps) = cpu_per_second(busy, size, |img| {
                h264.encode(img, false).expect("encode").0.len()
            });
            let mut vp8 = VpxEncoder::vp8(30.0, 500_000, 60);
            let (v8_ms, v8_kbps) = cpu_per_second(busy, size, |img| {
                vp8.encode(img, false).expect("encode").0.len()
            });
            let mut vp9 = VpxEncoder::vp9(30.0, 500_000, 60);
            let (v9_ms, v9_kbps) = cpu_per_second(busy, size, |img| {
                vp9.encode(img, false).expect("encode").0.len()
            });
            println!(
                "| {}x{} 30 fps {pattern}, 500 kbit/s: CPU per second of video | H.264 (openh264) {h_ms:.0} ms ({h_kbps:.0} kbit/s made), VP8 (libvpx) {v8_ms:.0} ms ({v8_kbps:.0} kbit/s), VP9 (libvpx) {v9_ms:.0} ms ({v9_kbps:.0} kbit/s): VP8/H.264 {:.2}x, VP9/H.264 {:.2}x |",
                size.0,
                size.1,
                v8_ms / h_ms,
                v9_ms / h_ms
            );
        }
    }
    println!(
        "| Opus encode, 48 kHz mono 20 ms frames | {:.0}x real time |",
        opus_realtime_factor(60)
    );
}
