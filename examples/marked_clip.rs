//! Writes a clip of vcall's test pattern and tone, every picture marked with its number and
//! time, every second of sound with a silent mark: the source the tests and
//! `scripts/bench_file.py` make media files from with ffmpeg.
//!
//! Usage: marked_clip WIDTHxHEIGHT FPS SECONDS OUT.y4m OUT.wav [busy]   (OUT.y4m may be - for
//! stdout; busy: the pattern under noise, which fills whatever bitrate it is encoded at)

use std::io::{BufWriter, Write};

use vcall::media::testsrc::Pattern;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("marked_clip: {e}");
        eprintln!("usage: marked_clip WIDTHxHEIGHT FPS SECONDS OUT.y4m OUT.wav [busy]");
        std::process::exit(2);
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let (pattern, args) = match args {
        [rest @ .., last] if last == "busy" => (Pattern::Busy, rest),
        _ => (Pattern::Plain, args),
    };
    let [size, fps, seconds, y4m, wav] = args else {
        return Err("five arguments, and busy or not".into());
    };
    let (w, h) = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
        .ok_or("WIDTHxHEIGHT")?;
    let fps: u32 = fps.parse().map_err(|_| "FPS")?;
    let seconds: u32 = seconds.parse().map_err(|_| "SECONDS")?;
    vcall::media::tone::write_wav(wav.as_ref(), 440.0, seconds).map_err(|e| e.to_string())?;
    let frames = fps * seconds;
    let write = |out: &mut dyn Write| -> std::io::Result<()> {
        let mut out = BufWriter::with_capacity(1 << 20, out);
        vcall::media::testsrc::write_y4m(&mut out, (w, h), fps, frames, pattern)?;
        out.flush()
    };
    match y4m.as_str() {
        "-" => write(&mut std::io::stdout().lock()),
        path => write(&mut std::fs::File::create(path).map_err(|e| e.to_string())?),
    }
    .map_err(|e| e.to_string())
}
