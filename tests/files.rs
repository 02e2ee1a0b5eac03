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
    testsrc::write_y4m(&mut out, (320, 240), FPS, FRAMES, testsrc::Pattern::Plain)
        .expect("write y4m");
    drop(out);
    tone::write_wav(&wav, 440.0, SECONDS).expect("write wav");
    (y4m, wav)
}

/// `ffmpeg -i src.y4m -i src.wav ARGS dir/name`: a file made from the clip (`args` split at
/// spaces).
fn make(dir: &Path, name: &str, args: &str) -> PathBuf {
    let args: Vec<&str> = args.split_whitespace().collect();
    let (y4m, wav) = (dir.join("src.y4m"), dir.join("src.wav"));
    let out = dir.join(name);
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&y4m)
        .arg("-i")
        .arg(&wav)
        .args(&args)
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

/// What a recording of the clip must hold: the file's pictures (`keeps`: which frame
/// numbers it has), the first of them among `first`, the last `last` (when the file ends),
/// none missing between, each at its own time within a frame; and the sound in step with
/// them. Loops are followed (numbers start again at 0, 4 s later).
struct Expect {
    keeps: fn(u32) -> bool,
    first: std::ops::RangeInclusive<u32>,
    last: Option<u32>,
    /// One pass's length when looping, ms (the file's, less `--start`).
    pass_ms: u64,
}

const WHOLE: Expect = Expect {
    keeps: |_| true,
    first: 0..=6,
    last: Some(FRAMES - 1),
    pass_ms: SECONDS as u64 * 1000,
};

fn assert_pictures(rec: &Path, want: &Expect, what: &str) {
    let marks = marks(rec);
    assert!(!marks.is_empty(), "{what}: no pictures");
    // Frame numbers and capture times with loops unwrapped.
    let mut loops = 0;
    let mut unwrapped = Vec::with_capacity(marks.len());
    // For the A/V check, pictures with their capture time moved by whole seconds a pass (the
    // tone's marks sit on the file's whole seconds), without each pass's first second when
    // it starts inside one (no mark there to pair with).
    let mut av_frames = Vec::with_capacity(marks.len());
    let mut partial_second = None;
    for (i, (t, m)) in marks.iter().enumerate() {
        if i == 0 || m.frame < marks[i - 1].1.frame {
            loops += u64::from(i > 0);
            partial_second = (m.capture_ms % 1000 != 0).then_some(m.capture_ms / 1000);
        }
        let capture_ms = m.capture_ms + loops * want.pass_ms;
        unwrapped.push((*t, m.frame + loops as u32 * FRAMES, capture_ms));
        if partial_second != Some(m.capture_ms / 1000) {
            let whole_seconds = want.pass_ms.div_ceil(1000) * 1000;
            av_frames.push((*t * 1000.0, m.capture_ms + loops * whole_seconds));
        }
    }
    let first = unwrapped[0].1;
    assert!(
        want.first.contains(&first),
        "{what}: the first picture is the file's {first}, not in {:?}",
        want.first
    );
    let missing: Vec<u32> = unwrapped
        .windows(2)
        .flat_map(|w| (w[0].1 + 1)..w[1].1)
        .filter(|n| (want.keeps)(n % FRAMES))
        .collect();
    assert!(missing.is_empty(), "{what}: pictures missing: {missing:?}");
    let backwards = unwrapped.windows(2).filter(|w| w[1].1 <= w[0].1).count();
    assert_eq!(backwards, 0, "{what}: pictures out of order or twice");
    if let Some(last) = want.last {
        assert_eq!(
            unwrapped.last().unwrap().1 % FRAMES,
            last,
            "{what}: the last picture"
        );
    }
    let (t0, _, c0) = unwrapped[0];
    for (t, n, c) in &unwrapped {
        let file_time = (c - c0) as f64 / 1000.0;
        assert!(
            ((t - t0) - file_time).abs() <= 1.0 / f64::from(FPS),
            "{what}: picture {n} at {:.3} s, the file has it at {file_time:.3} s",
            t - t0
        );
    }
    assert_av_in_step(rec, &av_frames, what);
}

/// The tone's marks in the recording within `MAX_AV_SKEW_MS` of the pictures captured at the
/// same instants ((time ms, capture ms)).
fn assert_av_in_step(rec: &Path, frames: &[(f64, u64)], what: &str) {
    let (start, audio) = decode_audio(rec);
    let audio_marks: Vec<f64> = tone::find_marks(&audio, 48_000)
        .into_iter()
        .map(|i| (start + i as f64 / 48_000.0) * 1000.0)
        .collect();
    let skews = tone::av_skews(&audio_marks, frames.iter().copied());
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
    let dir = temp_dir();
    clip(dir.path());
    let server = Server::start();
    // (file, ffmpeg's arguments, the first picture the recording must have by): sent as it
    // is (H.264 without B-frames) or encoded again from the first picture (the rest), so
    // only what precedes the subscription is missing.
    let cases: &[(&str, &str)] = &[
        (
            "bframes.mp4",
            "-c:v libx264 -preset veryfast -bf 2 -g 30 -c:a aac",
        ),
        (
            "baseline.mov",
            "-c:v libx264 -profile:v baseline -g 30 -c:a pcm_s16le",
        ),
        (
            "hevc.mkv",
            "-c:v libx265 -x265-params log-level=error -g 30 -c:a flac",
        ),
        (
            "vp9.webm",
            "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 500k -c:a libopus",
        ),
        (
            "av1.mp4",
            "-c:v libaom-av1 -cpu-used 8 -g 30 -c:a libmp3lame",
        ),
    ];
    for (name, args) in cases {
        let file = make(dir.path(), name, args);
        let rec = dir.path().join(format!("{name}.rec.mkv"));
        let (code, err) = publish_and_record(&server, &["--file", &path_str(&file)], &rec);
        assert_eq!(code, 0, "{name}: {err}");
        assert_pictures(&rec, &WHOLE, name);
        let codec = &probe(&rec)["streams"][0]["codec_name"];
        assert_eq!(codec, "h264", "{name}: recorded {codec}");
    }
}

#[test]
fn vp8_and_sound_only_files_are_sent_as_they_are_and_decoded() {
    let dir = temp_dir();
    clip(dir.path());
    let server = Server::start();
    // VP8 goes out as it is (vcall encodes only H.264): the recording starts at the file's
    // first keyframe after the subscription, one a second.
    let vp8 = make(
        dir.path(),
        "vp8.webm",
        "-c:v libvpx -b:v 500k -g 30 -c:a libopus",
    );
    let rec = dir.path().join("vp8.rec.mkv");
    let (code, err) = publish_and_record(&server, &["--file", &path_str(&vp8)], &rec);
    assert_eq!(code, 0, "{err}");
    let first_keyframe = Expect {
        first: 30..=30,
        ..WHOLE
    };
    assert_pictures(&rec, &first_keyframe, "vp8.webm");
    assert_eq!(probe(&rec)["streams"][0]["codec_name"], "vp8");
    // Sound only: Ogg Opus, MP3, FLAC; the tone's marks a second apart, all of them.
    for (name, codec) in [
        ("tone.ogg", "libopus"),
        ("tone.mp3", "libmp3lame"),
        ("tone.flac", "flac"),
    ] {
        let file = dir.path().join(name);
        let made = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(dir.path().join("src.wav"))
            .args(["-c:a", codec])
            .arg(&file)
            .status()
            .expect("ffmpeg");
        assert!(made.success());
        let rec = dir.path().join(format!("{name}.rec.mkv"));
        let (code, err) = publish_and_record(&server, &["--file", &path_str(&file)], &rec);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(
            err.contains("no video in the file: audio only"),
            "{name}: {err}"
        );
        let streams = probe(&rec)["streams"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(streams.len(), 1, "{name}: {streams:?}");
        let (_, audio) = decode_audio(&rec);
        let marks = tone::find_marks(&audio, 48_000);
        // The first second's mark may precede the subscription; the others are a second apart
        // (within what Opus's coding moves a silence's edge, 20 ms short of a lost frame).
        assert!(
            marks.len() >= SECONDS as usize - 1,
            "{name}: {} marks",
            marks.len()
        );
        for w in marks.windows(2) {
            let apart = (w[1] - w[0]) as f64 / 48_000.0;
            assert!(
                (apart - 1.0).abs() < 0.010,
                "{name}: marks {apart:.4} s apart"
            );
        }
    }
}

#[test]
fn odd_files_are_published_as_they_play() {
    let dir = temp_dir();
    clip(dir.path());
    let server = Server::start();
    let publish = |args: &[&str], name: &str| {
        let rec = dir.path().join(format!("{name}.rec.mkv"));
        let (code, err) = publish_and_record(&server, args, &rec);
        assert_eq!(code, 0, "{name}: {err}");
        (rec, err)
    };

    // Variable frame rate: from 1 s to 2 s, one picture in three (100 ms apart).
    let vfr = make(
        dir.path(),
        "vfr.mkv",
        "-vf select='not(between(n,30,59)*mod(n,3))' -fps_mode vfr -c:v libx264 -profile:v baseline -g 30 -c:a aac",
    );
    let (rec, _) = publish(&["--file", &path_str(&vfr)], "vfr");
    let vfr_keeps = Expect {
        keeps: |n| !(30..60).contains(&n) || n % 3 == 0,
        ..WHOLE
    };
    assert_pictures(&rec, &vfr_keeps, "vfr.mkv");

    // An MP4 cut by stream copy at 1.5 s: its edit list starts it between keyframes.
    let base = make(
        dir.path(),
        "base.mp4",
        "-c:v libx264 -profile:v baseline -g 30 -c:a aac",
    );
    let edit = dir.path().join("edit.mp4");
    let cut = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-ss", "1.5", "-i"])
        .arg(&base)
        .args(["-c", "copy"])
        .arg(&edit)
        .status()
        .expect("ffmpeg");
    assert!(cut.success());
    let (rec, err) = publish(&["--file", &path_str(&edit)], "edit");
    assert!(err.contains("it starts between keyframes"), "{err}");
    let from_the_cut = Expect {
        first: 45..=51,
        ..WHOLE
    };
    assert_pictures(&rec, &from_the_cut, "edit.mp4");

    // --start between keyframes, the same.
    let (rec, _) = publish(&["--file", &path_str(&base), "--start", "0:01.5"], "start");
    assert_pictures(&rec, &from_the_cut, "--start 0:01.5");

    // --loop: the file again and again, seamless, for --duration.
    let (rec, _) = publish(
        &["--file", &path_str(&base), "--loop", "--duration", "10s"],
        "loop",
    );
    let looped = Expect {
        last: None,
        ..WHOLE
    };
    assert_pictures(&rec, &looped, "--loop");
    let numbers: Vec<u32> = marks(&rec).iter().map(|(_, m)| m.frame).collect();
    let loops = numbers.windows(2).filter(|w| w[1] < w[0]).count();
    assert_eq!(loops, 2, "10 s of a 4 s file");

    // --start and --loop: every pass starts at --start, nothing before it is sent again.
    let (rec, _) = publish(
        &[
            "--file",
            &path_str(&base),
            "--start",
            "1.5",
            "--loop",
            "--duration",
            "7s",
        ],
        "start-loop",
    );
    let from_the_start_each_pass = Expect {
        keeps: |n| n >= 45,
        first: 45..=51,
        last: None,
        pass_ms: 2500,
    };
    assert_pictures(&rec, &from_the_start_each_pass, "--start 1.5 --loop");
    let numbers: Vec<u32> = marks(&rec).iter().map(|(_, m)| m.frame).collect();
    assert!(numbers.iter().all(|n| *n >= 45), "{numbers:?}");
    assert_eq!(numbers.windows(2).filter(|w| w[1] < w[0]).count(), 2);

    // A file cut short (its header says 4 s): what it holds, and a warning.
    let whole = std::fs::read(dir.path().join("base.mp4")).expect("read");
    let fast = dir.path().join("fast.mp4");
    let moved = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(dir.path().join("base.mp4"))
        .args(["-c", "copy", "-movflags", "+faststart"])
        .arg(&fast)
        .status()
        .expect("ffmpeg");
    assert!(moved.success() && !whole.is_empty());
    let fast_bytes = std::fs::read(&fast).expect("read");
    let short = dir.path().join("short.mp4");
    std::fs::write(&short, &fast_bytes[..fast_bytes.len() * 6 / 10]).expect("write");
    let (rec, err) = publish(&["--file", &path_str(&short)], "short");
    assert!(err.contains("cut short"), "{err}");
    let held = Expect {
        last: None,
        ..WHOLE
    };
    assert_pictures(&rec, &held, "a file cut short");
    let n = marks(&rec).len();
    assert!(
        (40..FRAMES as usize - 20).contains(&n),
        "{n} pictures of a file cut at 60 %"
    );
}

#[test]
fn files_vcall_cannot_send_are_refused_with_exit_2_naming_what_they_hold() {
    let dir = temp_dir();
    clip(dir.path());
    let garbage = dir.path().join("garbage.mp4");
    std::fs::write(
        &garbage,
        (0..100_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect::<Vec<u8>>(),
    )
    .expect("write");
    let sound = dir.path().join("sound.ogg");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(dir.path().join("src.wav"))
        .args(["-c:a", "libopus"])
        .arg(&sound)
        .status()
        .expect("ffmpeg");
    assert!(made.success());
    let hevc = make(
        dir.path(),
        "hevc.mkv",
        "-c:v libx265 -x265-params log-level=error -an",
    );
    let bframes = make(
        dir.path(),
        "b.mp4",
        "-c:v libx264 -preset veryfast -bf 2 -an",
    );
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--file".into(), path_str(&garbage)],
            "not a media file vcall can read (FFmpeg's libraries: Invalid data found",
        ),
        (
            vec!["--file".into(), path_str(&dir.path().join("none.mp4"))],
            "none.mp4: no such file",
        ),
        (
            vec!["--video".into(), path_str(&sound), "--no-audio".into()],
            "(ogg: audio opus 48000 Hz): it has no video",
        ),
        (
            vec!["--audio".into(), path_str(&hevc), "--no-video".into()],
            "(matroska,webm: video hevc 320x240): it has no audio",
        ),
        (
            vec![
                "--file".into(),
                path_str(&hevc),
                "--transcode".into(),
                "never".into(),
            ],
            "its hevc video cannot be sent as it is",
        ),
        (
            vec![
                "--file".into(),
                path_str(&bframes),
                "--transcode".into(),
                "never".into(),
            ],
            "has B-frames",
        ),
        (
            vec![
                "--file".into(),
                path_str(&sound),
                "--start".into(),
                "1:00".into(),
            ],
            "is past the file's end",
        ),
    ];
    for (args, says) in cases {
        let mut c = vcall();
        c.args(["publish", "--url", "ws://127.0.0.1:9", "--token", "t"])
            .args(&args);
        let (code, _, err) = run(c);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn a_file_sent_as_it_is_honours_keyframe_requests_and_the_paths_rate() {
    let dir = temp_dir();
    clip(dir.path());
    let server = Server::start();
    // One keyframe, at the start: the subscription comes after it, so the recording's first
    // picture within 200 ms of the file's start is one encoded when the server asked.
    let one_key = make(
        dir.path(),
        "onekey.mp4",
        "-c:v libx264 -profile:v baseline -g 1000 -c:a aac",
    );
    let rec = dir.path().join("onekey.rec.mkv");
    let (code, err) = publish_and_record(&server, &["--file", &path_str(&one_key)], &rec);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("a keyframe was asked for"), "{err}");
    assert_pictures(&rec, &WHOLE, "a file with one keyframe");

    // 2 Mbit/s through a 500 kbit/s path: encoded again under the path's rate.
    let heavy = make(
        dir.path(),
        "heavy.mp4",
        "-vf noise=alls=25:allf=t -c:v libx264 -profile:v baseline -g 30 -b:v 2M -minrate 2M -maxrate 2M -bufsize 1M -x264-params nal-hrd=cbr -c:a aac",
    );
    let rec = dir.path().join("heavy.rec.mkv");
    let (code, err) = publish_and_record(
        &server,
        &[
            "--file",
            &path_str(&heavy),
            "--loop",
            "--duration",
            "12s",
            "--impair",
            "rate=500kbit",
        ],
        &rec,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("the path carries less than the file's bitrate"),
        "{err}"
    );
    // The second half's media (video and audio) under the path's rate.
    let packets = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "packet=pts_time,size",
            "-of",
            "csv=p=0",
        ])
        .arg(&rec)
        .output()
        .expect("ffprobe");
    let bytes: f64 = String::from_utf8_lossy(&packets.stdout)
        .lines()
        .filter_map(|l| {
            let (t, size) = l.split_once(',')?;
            (t.parse::<f64>().ok()? >= 6.0).then(|| size.trim().parse::<f64>().ok())?
        })
        .sum();
    let span = media_end(&rec) - 6.0;
    let kbps = bytes * 8.0 / span / 1000.0;
    assert!(
        span > 4.0 && kbps < 500.0,
        "{kbps:.0} kbit/s over the last {span:.1} s"
    );
    // Pictures in the file's order, never twice.
    let numbers: Vec<u32> = marks(&rec).iter().map(|(_, m)| m.frame).collect();
    let loops = numbers.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(loops <= 3, "{numbers:?}");
    let twice = numbers.windows(2).filter(|w| w[1] == w[0]).count();
    assert_eq!(twice, 0, "{numbers:?}");
}
