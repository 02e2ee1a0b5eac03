//! Media files published (`publish --file`, `--video FILE`, `--audio FILE`): made by Debian's
//! ffmpeg from a clip of the test pattern and tone whose every picture carries its number and
//! time (`testsrc::write_y4m`, `tone::write_wav`), in the containers and codecs people have,
//! published to `vcall serve`, recorded by `vcall subscribe`, and the recordings decoded.

use std::path::{Path, PathBuf};
use std::process::Command;

use vcall::auth::Role;
use vcall::media::testsrc::{self, Marks};
use vcall::media::tone;

use crate::common::*;

/// The clip: 4 s of 320x240 at 30 fps.
const SECONDS: u32 = 4;
const FPS: u32 = 30;
const FRAMES: u32 = SECONDS * FPS;

/// A/V offset a recording must stay within.
const MAX_AV_SKEW_MS: f64 = 40.0;

/// The marked clip as Y4M and WAV in `dir`.
fn clip(dir: &Path) -> (PathBuf, PathBuf) {
    let (y4m, wav) = (dir.join("src.y4m"), dir.join("src.wav"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&y4m).expect("y4m"));
    testsrc::write_y4m(&mut out, (320, 240), FPS, FRAMES).expect("write y4m");
    drop(out);
    tone::write_wav(&wav, 440.0, SECONDS).expect("write wav");
    (y4m, wav)
}

/// `ffmpeg -i src.y4m -i src.wav ARGS dir/name`: a file made from the clip.
fn make(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let (y4m, wav) = (dir.join("src.y4m"), dir.join("src.wav"));
    let out = dir.join(name);
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&y4m)
        .arg("-i")
        .arg(&wav)
        .args(args)
        .arg(&out)
        .output()
        .expect("ffmpeg runs");
    assert!(
        made.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    out
}

/// Publishes with `args` (the file's, and any more) to a new session and records the stream
/// until it ends: the publisher's exit code and stderr.
fn publish_and_record(server: &Server, args: &[&str], out: &Path) -> (i32, String) {
    let session = server.session();
    let mut sub = Proc::spawn(server.cmd(
        &session,
        Role::Subscriber,
        &["subscribe", "--stream", "file", "-o", &path_str(out)],
    ));
    let mut publish = vec!["publish", "--name", "file"];
    publish.extend_from_slice(args);
    let (code, _, err) = run(server.cmd(&session, Role::Publisher, &publish));
    assert_eq!(sub.wait(), 0, "the recording: {}", sub.output());
    (code, err)
}

/// The recording's pictures' marks, and their times (s).
fn marks(path: &Path) -> Vec<(f64, Marks)> {
    decode_video(path)
        .into_iter()
        .map(|(t, p)| (t, testsrc::read_marks(&p).expect("marks in every picture")))
        .collect()
}

/// The recording holds the file's pictures from `first_by` on without a gap, to its last,
/// each at its time (within a frame), and its sound within `MAX_AV_SKEW_MS` of them.
fn assert_whole(rec: &Path, first_by: u32, what: &str) {
    let marks = marks(rec);
    let numbers: Vec<u32> = marks.iter().map(|(_, m)| m.frame).collect();
    assert!(!numbers.is_empty(), "{what}: no pictures");
    assert!(
        numbers[0] <= first_by,
        "{what}: the first picture is the file's {}",
        numbers[0]
    );
    let gaps: Vec<(u32, u32)> = numbers
        .windows(2)
        .filter(|w| w[1] != w[0] + 1)
        .map(|w| (w[0], w[1]))
        .collect();
    assert!(gaps.is_empty(), "{what}: pictures missing between {gaps:?}");
    assert_eq!(
        *numbers.last().unwrap(),
        FRAMES - 1,
        "{what}: the last picture"
    );
    let (t0, m0) = marks[0];
    for (t, m) in &marks {
        let file_time = f64::from(m.frame - m0.frame) / f64::from(FPS);
        assert!(
            ((t - t0) - file_time).abs() <= 1.0 / f64::from(FPS),
            "{what}: picture {} at {:.3} s, the file has it at {file_time:.3} s",
            m.frame,
            t - t0
        );
    }
    assert_av_in_step(rec, &marks, what);
}

fn assert_av_in_step(rec: &Path, marks: &[(f64, Marks)], what: &str) {
    let (start, audio) = decode_audio(rec);
    let audio_marks: Vec<f64> = tone::find_marks(&audio, 48_000)
        .into_iter()
        .map(|i| (start + i as f64 / 48_000.0) * 1000.0)
        .collect();
    let frames = marks.iter().map(|(t, m)| (t * 1000.0, m.capture_ms));
    let skews = tone::av_skews(&audio_marks, frames);
    assert!(!skews.is_empty(), "{what}: no audio marks beside pictures");
    for s in &skews {
        assert!(
            s.abs() < MAX_AV_SKEW_MS,
            "{what}: audio/video offset {s:.1} ms (all: {skews:?})"
        );
    }
}

#[test]
fn files_in_every_container_and_codec_are_published_whole() {
    let _turn = one_at_a_time();
    let dir = temp_dir();
    clip(dir.path());
    let server = Server::start();
    // (file, ffmpeg's arguments, the first picture the recording must have by): sent as it
    // is (H.264 without B-frames) or encoded again from the first picture (the rest), so
    // only what precedes the subscription is missing.
    let cases: &[(&str, &[&str])] = &[
        (
            "bframes.mp4",
            &[
                "-c:v", "libx264", "-preset", "veryfast", "-bf", "2", "-g", "30", "-c:a", "aac",
            ],
        ),
        (
            "baseline.mov",
            &[
                "-c:v",
                "libx264",
                "-profile:v",
                "baseline",
                "-g",
                "30",
                "-c:a",
                "pcm_s16le",
            ],
        ),
        (
            "hevc.mkv",
            &[
                "-c:v",
                "libx265",
                "-x265-params",
                "log-level=error",
                "-g",
                "30",
                "-c:a",
                "flac",
            ],
        ),
        (
            "vp9.webm",
            &[
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
                "-b:v",
                "500k",
                "-c:a",
                "libopus",
            ],
        ),
        (
            "av1.mp4",
            &[
                "-c:v",
                "libaom-av1",
                "-cpu-used",
                "8",
                "-g",
                "30",
                "-c:a",
                "libmp3lame",
            ],
        ),
    ];
    for (name, args) in cases {
        let file = make(dir.path(), name, args);
        let rec = dir.path().join(format!("{name}.rec.mkv"));
        let (code, err) = publish_and_record(&server, &["--file", &path_str(&file)], &rec);
        assert_eq!(code, 0, "{name}: {err}");
        assert_whole(&rec, 6, name);
        let codec = &probe(&rec)["streams"][0]["codec_name"];
        assert_eq!(codec, "h264", "{name}: recorded {codec}");
    }
}
