//! Media checked by decoding what came out: recordings, stdout formats, file and stdin
//! sources, a recording killed mid-way.

use std::io::Write;
use std::path::Path;

use vcall::auth::Role;
use vcall::media::testsrc::{self, Marks};
use vcall::media::tone;
use vcall::vocab::I420;

use crate::common::*;

/// Lowest PSNR accepted for the 320x240 test pattern at 600 kbit/s. The pattern is sharp-edged
/// colour bars; openh264 at this rate gives about 38-45 dB, so 30 dB leaves room for rate
/// control swings while still failing on a wrong, shifted or corrupted picture (which scores
/// well under 20 dB).
const MIN_PSNR: f64 = 30.0;

/// Audio/video offset the recording must stay within.
const MAX_AV_SKEW: f64 = 0.040;

/// A/V offsets (s) in a recording ([`tone::av_skews`]).
fn av_skews(path: &Path, video: &[(f64, I420)]) -> Vec<f64> {
    let (start, audio) = decode_audio(path);
    let marks: Vec<f64> = tone::find_marks(&audio, 48_000)
        .into_iter()
        .map(|i| (start + i as f64 / 48_000.0) * 1000.0)
        .collect();
    assert!(
        !marks.is_empty(),
        "no audio marks found in {}",
        path.display()
    );
    let frames = video
        .iter()
        .map(|(pts, pic)| (pts * 1000.0, testsrc::read_marks(pic).unwrap().capture_ms));
    tone::av_skews(&marks, frames)
        .into_iter()
        .map(|ms| ms / 1000.0)
        .collect()
}

pub(crate) fn check_recording(path: &Path, seconds: f64) {
    let video = decode_video(path);
    // How many frames a publisher makes in the time on a starved machine is the benchmarks'
    // business; here none may be missing (numbers consecutive) or extra (no more than the
    // time holds). Where each sits in time is the A/V check's below.
    let expected = seconds * 30.0;
    assert!(
        video.len() as f64 <= expected + 3.0 && video.len() as f64 >= expected / 2.0,
        "{} video frames for {seconds} s",
        video.len()
    );
    let pictures: Vec<I420> = video.iter().map(|(_, p)| p.clone()).collect();
    check_pattern(&pictures, MIN_PSNR);
    let (_, audio) = decode_audio(path);
    let audio_secs = audio.len() as f64 / 48_000.0;
    assert!(
        (audio_secs - seconds).abs() <= 0.1,
        "{audio_secs} s of audio for {seconds} s"
    );
    let skews = av_skews(path, &video);
    assert!(
        !skews.is_empty(),
        "no whole-second frames matched to audio marks"
    );
    for s in &skews {
        assert!(
            s.abs() < MAX_AV_SKEW,
            "audio/video offset {:.1} ms (all: {skews:?})",
            s * 1000.0
        );
    }
}

#[test]
fn recording_to_mp4_and_mkv_decodes_to_the_source() {
    let server = Server::start();
    let session = server.session();
    let _p = publisher(&server, &session, "src", &[]);
    let dir = temp_dir();
    for name in ["rec.mp4", "rec.mkv"] {
        let out = dir.path().join(name);
        let (code, _, err) = run(server.cmd(
            &session,
            Role::Subscriber,
            &["subscribe", "-o", &path_str(&out), "--duration", "4s"],
        ));
        assert_eq!(code, 0, "{err}");
        check_recording(&out, 4.0);
        // A finished recording tells players its length (Matroska: the Duration written at
        // the end, with Cues for seeking).
        let duration = probe(&out)["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse::<f64>().ok());
        assert!(
            duration.is_some_and(|d| (3.9..4.2).contains(&d)),
            "{name}: duration {duration:?}"
        );
    }
}

#[test]
fn frames_limit_stops_the_recording_exactly() {
    let server = Server::start();
    let session = server.session();
    let _p = publisher(&server, &session, "src", &["--no-audio"]);
    let dir = temp_dir();
    let out = dir.path().join("f.mkv");
    let (code, _, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &["subscribe", "-o", &path_str(&out), "--frames", "45"],
    ));
    assert_eq!(code, 0, "{err}");
    assert_eq!(decode_video(&out).len(), 45);
}

fn subscribe_stdout(server: &Server, session: &str, format: &str, extra: &[&str]) -> Vec<u8> {
    let mut c = server.cmd(
        session,
        Role::Subscriber,
        &["subscribe", "-o", "-", "--format", format],
    );
    c.args(extra);
    let (code, out, err) = run_bytes(c);
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn every_stdout_format_decodes() {
    let server = Server::start();
    let session = server.session();
    let _p = publisher(&server, &session, "src", &[]);
    let dir = temp_dir();

    let y4m = subscribe_stdout(&server, &session, "y4m", &["--duration", "2s"]);
    let pictures = parse_y4m(&y4m);
    assert!(
        (pictures.len() as i64 - 60).abs() <= 3,
        "{} pictures",
        pictures.len()
    );
    check_pattern(&pictures, MIN_PSNR);
    // `--frames N` is exactly N pictures, gap fillers counted; one picture goes out without
    // waiting for a second to tell the rate (the header names 30 fps).
    for n in [1, 5] {
        let y4m = subscribe_stdout(&server, &session, "y4m", &["--frames", &n.to_string()]);
        let pictures = parse_y4m(&y4m);
        assert_eq!(pictures.len(), n, "--frames {n}");
        check_pattern(&pictures, MIN_PSNR);
    }

    let wav = subscribe_stdout(&server, &session, "wav", &["--duration", "2s"]);
    let path = dir.path().join("a.wav");
    std::fs::write(&path, &wav).unwrap();
    let (_, samples) = decode_audio(&path);
    let secs = samples.len() as f64 / 48_000.0;
    assert!((secs - 2.0).abs() < 0.25, "{secs} s of WAV");
    assert!(
        !tone::find_marks(&samples, 48_000).is_empty() || secs < 1.5,
        "the tone's marks are in the WAV"
    );

    for (format, ext, codec) in [
        ("h264", "h264", "h264"),
        ("ogg", "ogg", "opus"),
        ("mkv", "mkv", "h264"),
    ] {
        let bytes = subscribe_stdout(&server, &session, format, &["--duration", "2s"]);
        let path = dir.path().join(format!("out.{ext}"));
        std::fs::write(&path, &bytes).unwrap();
        let p = probe(&path);
        let s = &p["streams"][0];
        assert_eq!(s["codec_name"], codec, "{format}: {p}");
        let frames: u64 = s["nb_read_frames"].as_str().unwrap_or("0").parse().unwrap();
        assert!(frames >= 40, "{format}: {frames} frames");
    }
}

#[test]
fn a_recording_killed_with_sigkill_still_plays_up_to_near_the_kill() {
    let server = Server::start();
    let session = server.session();
    let _p = publisher(&server, &session, "src", &[]);
    let dir = temp_dir();
    for name in ["killed.mp4", "killed.mkv"] {
        let out = dir.path().join(name);
        let mut sub = Proc::spawn(server.cmd(
            &session,
            Role::Subscriber,
            &["subscribe", "-o", &path_str(&out)],
        ));
        // Wait (on the file, not the clock) until about four seconds are on disk.
        wait_for_media(&out, 4.0, &sub);
        // The video a reader could see just before the kill, as media time (audio's packets
        // may sit further on: the comparison is of video with video).
        let before = stream_end(&out, "v:0");
        sub.kill9();
        sub.wait();
        let video = decode_video(&out);
        let last = video.last().map(|(t, _)| *t).unwrap_or(0.0);
        assert!(
            last >= before - 0.05 && last >= 2.0,
            "{name}: plays to {last} s, {before} s was on disk before the kill"
        );
        let pictures: Vec<I420> = video.into_iter().map(|(_, p)| p).collect();
        check_pattern(&pictures, MIN_PSNR);
    }
}

#[test]
fn ctrl_c_finishes_the_recording_and_a_second_one_quits_at_once() {
    let server = Server::start();
    let session = server.session();
    let _p = publisher(&server, &session, "src", &[]);
    let dir = temp_dir();
    // One Ctrl-C: the file is finished and plays to where the recording was.
    let out = dir.path().join("stopped.mp4");
    let mut sub = Proc::spawn(server.cmd(
        &session,
        Role::Subscriber,
        &["subscribe", "-o", &path_str(&out)],
    ));
    wait_for_media(&out, 2.0, &sub);
    let before = stream_end(&out, "v:0");
    sub.interrupt();
    assert_eq!(sub.wait(), 130, "{}", sub.output());
    let video = decode_video(&out);
    let last = video.last().map(|(t, _)| *t).unwrap_or(0.0);
    assert!(last >= before, "plays to {last} s, {before} s was on disk");
    let pictures: Vec<I420> = video.into_iter().map(|(_, p)| p).collect();
    check_pattern(&pictures, MIN_PSNR);

    // A recording that cannot finish: decoded video into a pipe nobody reads. One picture
    // (115 kB) is more than the pipe holds, so the writer blocks; the first Ctrl-C waits for
    // it, the second quits at once.
    use std::process::Stdio;
    let mut cmd = server.cmd(
        &session,
        Role::Subscriber,
        &["subscribe", "-o", "-", "--format", "y4m"],
    );
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("vcall starts");
    let unread = child.stdout.take().expect("stdout");
    let (tx, stderr) = std::sync::mpsc::channel();
    let err = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Blocked: one of its threads sleeps in the kernel's pipe write (wchan `pipe_write`, or
    // `anon_pipe_write` on newer kernels).
    let blocked = |pid: u32| {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|t| {
                std::fs::read_to_string(t.path().join("wchan"))
                    .is_ok_and(|w| w.contains("pipe_write"))
            })
    };
    let deadline = std::time::Instant::now() + LIMIT;
    while !blocked(child.id()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never blocked"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let wait_line = |needle: &str| loop {
        let line = stderr.recv_timeout(LIMIT).expect("stderr line");
        if line.contains(needle) {
            break;
        }
    };
    let int = |pid: u32| {
        std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .expect("kill");
    };
    int(child.id());
    wait_line("Ctrl-C again to quit at once");
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited on the first Ctrl-C"
    );
    int(child.id());
    wait_line("interrupted again, exiting now");
    assert_eq!(child.wait().unwrap().code(), Some(130));
    drop(unread);
}

fn write_y4m(path: &Path, frames: u32) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "YUV4MPEG2 W320 H240 F25:1 Ip A1:1 C420jpeg").unwrap();
    let mut img = I420::new(320, 240);
    for n in 0..frames {
        testsrc::render(
            &mut img,
            Marks {
                frame: n,
                capture_ms: 1000 + n as u64 * 40,
            },
        );
        f.write_all(b"FRAME\n").unwrap();
        f.write_all(&img.data).unwrap();
    }
}

fn write_wav(path: &Path, seconds: u32, rate: u32) {
    let mut pcm = vec![0i16; (rate * seconds) as usize];
    // A 440 Hz tone at the file's own rate.
    for (i, s) in pcm.iter_mut().enumerate() {
        *s = (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / rate as f64).sin()) as i16;
    }
    let data: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut h = b"RIFF".to_vec();
    h.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * 2).to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&(data.len() as u32).to_le_bytes());
    h.extend_from_slice(&data);
    std::fs::write(path, h).unwrap();
}

#[test]
fn y4m_and_wav_files_and_y4m_on_stdin_are_published_whole() {
    let server = Server::start();
    let session = server.session();
    let dir = temp_dir();
    let y4m = dir.path().join("clip.y4m");
    let wav = dir.path().join("clip.wav");
    write_y4m(&y4m, 75);
    write_wav(&wav, 3, 44_100);

    for stdin in [false, true] {
        let out = dir.path().join(format!("from-file-{stdin}.mkv"));
        let mut sub = Proc::spawn(server.cmd(
            &session,
            Role::Subscriber,
            &["subscribe", "-o", &path_str(&out), "-v"],
        ));
        sub.wait_for("waiting for a stream");
        let mut cmd = server.cmd(
            &session,
            Role::Publisher,
            &[
                "publish",
                "--name",
                "file",
                "--video",
                if stdin { "-" } else { y4m.to_str().unwrap() },
                "--audio",
                wav.to_str().unwrap(),
            ],
        );
        if stdin {
            cmd.stdin(std::fs::File::open(&y4m).unwrap());
        }
        let (code, _, err) = run(cmd);
        assert_eq!(code, 0, "{err}");
        // The stream ended with the file: the subscriber finishes on its own.
        assert_eq!(sub.wait(), 0, "{}", sub.output());
        let video = decode_video(&out);
        let pictures: Vec<I420> = video.iter().map(|(_, p)| p.clone()).collect();
        let numbers = check_pattern(&pictures, MIN_PSNR);
        // From the first keyframe the subscriber gets (it joins while the file is already
        // playing: the stream exists for others only once its media flows), every frame of the
        // file arrives, to the last.
        assert_eq!(*numbers.last().unwrap(), 74, "{numbers:?}");
        assert!(numbers.len() >= 50, "{} of 75 frames", numbers.len());
        // Pacing follows the file's 25 fps, not the disk: 75 frames span about 3 s.
        let span = video.last().unwrap().0 - video.first().unwrap().0;
        assert!(
            (span - 74.0 / 25.0).abs() < 0.2 + (75 - numbers.len()) as f64 / 25.0,
            "{span} s"
        );
        let (_, audio) = decode_audio(&out);
        assert!(
            audio.len() as f64 / 48_000.0 > 2.0,
            "{} s of audio",
            audio.len() as f64 / 48_000.0
        );
    }
}

#[test]
fn a_late_subscriber_gets_a_keyframe_by_asking_for_one() {
    // No periodic keyframes after the first: only a keyframe request (PLI) relayed by the
    // server to the publisher can start the late subscriber's recording.
    let server = Server::start();
    let session = server.session();
    let _p = publisher(
        &server,
        &session,
        "src",
        &["--keyframe-interval", "100000", "--no-audio"],
    );
    let dir = temp_dir();
    let out = dir.path().join("late.mkv");
    let (code, _, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &["subscribe", "-o", &path_str(&out), "--frames", "30"],
    ));
    assert_eq!(code, 0, "{err}");
    let pictures: Vec<I420> = decode_video(&out).into_iter().map(|(_, p)| p).collect();
    assert_eq!(pictures.len(), 30);
    let numbers = check_pattern(&pictures, MIN_PSNR);
    assert!(
        numbers[0] > 0,
        "the recording starts at a requested keyframe, not the first frame"
    );
}

#[test]
fn a_looped_file_plays_again_from_the_start() {
    let server = Server::start();
    let session = server.session();
    let dir = temp_dir();
    let y4m = dir.path().join("short.y4m");
    write_y4m(&y4m, 20);
    let mut p = Proc::spawn(server.cmd(
        &session,
        Role::Publisher,
        &[
            "publish",
            "--video",
            y4m.to_str().unwrap(),
            "--loop",
            "--no-audio",
        ],
    ));
    p.wait_for("stream is live");
    let out = dir.path().join("loop.mkv");
    let (code, _, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &["subscribe", "-o", &path_str(&out), "--frames", "50"],
    ));
    assert_eq!(code, 0, "{err}");
    let numbers: Vec<u32> = decode_video(&out)
        .iter()
        .map(|(_, p)| testsrc::read_marks(p).expect("marks").frame)
        .collect();
    assert_eq!(numbers.len(), 50);
    // 50 frames of a 20-frame file: it wrapped from 19 back to 0 at least once.
    assert!(
        numbers.windows(2).any(|w| w[0] == 19 && w[1] == 0),
        "{numbers:?}"
    );
    assert!(
        numbers.windows(2).all(|w| w[1] == (w[0] + 1) % 20),
        "{numbers:?}"
    );
}

#[test]
fn vp8_is_recorded_as_it_comes_into_mp4_and_mkv() {
    // VP8, as browsers send it: an IVF made by ffmpeg (libvpx) is published as it is, and the
    // recording holds the same VP8, not a transcode.
    let dir = temp_dir();
    let ivf = vp8_clip(dir.path());
    let server = Server::start();
    let session = server.session();
    for name in ["vp8.mkv", "vp8.mp4"] {
        let out = dir.path().join(name);
        let mut sub = Proc::spawn(server.cmd(
            &session,
            Role::Subscriber,
            &["subscribe", "-o", &path_str(&out), "--frames", "25", "-v"],
        ));
        sub.wait_for("waiting for a stream");
        let mut p = Proc::spawn(server.cmd(
            &session,
            Role::Publisher,
            &["publish", "--video", ivf.to_str().unwrap(), "--no-audio"],
        ));
        assert_eq!(sub.wait(), 0, "{}", sub.output());
        p.interrupt();
        p.wait();
        let probe = probe(&out);
        assert_eq!(probe["streams"][0]["codec_name"], "vp8", "{probe}");
        assert_eq!(probe["streams"][0]["width"], 320, "{probe}");
        assert_eq!(decode_video(&out).len(), 25, "{name}");
    }
}

#[test]
fn vcalls_own_vp8_and_vp9_are_recorded_and_measured_through_the_embedded_server() {
    // `--video-codec vp8` and `vp9`: libvpx encodes the test pattern; the subscriber decodes
    // it for its marks (--expect), and ffmpeg decodes the recording to every frame, in order.
    let server = Server::start();
    let dir = temp_dir();
    for codec in ["vp8", "vp9"] {
        let session = server.session();
        let mut p = publisher(
            &server,
            &session,
            codec,
            &["--video-codec", codec, "--json"],
        );
        let out = dir.path().join(format!("{codec}.mkv"));
        let (code, _, err) = run(server.cmd(
            &session,
            Role::Subscriber,
            &[
                "subscribe",
                "-o",
                &path_str(&out),
                "--frames",
                "60",
                "--expect",
                "frames>=60, frames.lost==0, latency.max<3s, av-skew<80ms",
            ],
        ));
        assert_eq!(code, 0, "{codec}: {err}");
        // Decoded to Y4M on stdout too (libavcodec): the pattern's pictures with their marks.
        let y4m = subscribe_stdout(&server, &session, "y4m", &["--frames", "30"]);
        let pictures = parse_y4m(&y4m);
        assert_eq!(pictures.len(), 30, "{codec}");
        check_pattern(&pictures, MIN_PSNR);
        p.interrupt();
        p.wait();
        let said = format!(r#""videoCodec":"{}""#, codec.to_uppercase());
        assert!(p.output().contains(&said), "{}", p.output());
        assert_whole_pattern_in(&out, codec, 60);
    }
}

/// vcall publishes three simulcast layers of 1280x720 pictures (`--simulcast 3`): a
/// subscriber asking for `low` records the 320x180 layer whole (every picture, marks in
/// order), one asking for `high` ends on the 1280x720 layer, and one on `auto` behind a
/// 300 kbit/s path ends on a smaller one, and one whose path widens after 4 s is back on
/// the 1280x720 layer (the server probed its path), and one with `--max-size 600x340` ends
/// on the 640x360 layer; each file's pictures decode at their own size.
#[test]
fn vcalls_simulcast_gives_each_subscriber_the_layer_asked_for_or_its_path_carries() {
    let server = Server::start();
    let dir = temp_dir();
    let session = server.session();
    let mut p = publisher(&server, &session, "cam", &SIMULCAST_720P);
    let record = |name: &str, frames: &str, extra: &[&str]| {
        let out = dir.path().join(format!("{name}.mkv"));
        let mut args = vec!["subscribe", "--no-audio", "-o", &*path_str(&out)]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        args.extend(
            ["--frames", frames, "--expect", &format!("frames>={frames}")].map(str::to_owned),
        );
        args.extend(["--json", "--stats-interval", "1s"].map(str::to_owned));
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        (
            out,
            Proc::spawn(server.cmd(&session, Role::Subscriber, &args)),
        )
    };
    let recordings = [
        record("low", "60", &["--layer", "low"]),
        record("high", "150", &["--layer", "high"]),
        record("auto", "150", &["--impair", "rate=300kbit"]),
        record(
            "widened",
            "450",
            &["--impair", "rate=300kbit,rate=1000mbit@4s"],
        ),
        record("sized", "150", &["--max-size", "600x340"]),
    ];
    let mut last_widths = Vec::new();
    let mut switches = Vec::new();
    for (out, mut r) in recordings {
        assert_eq!(r.wait(), 0, "{}", r.output());
        let (sizes, errors) = video_frame_entries(&out, "width");
        assert!(errors.is_empty(), "{out:?}: {errors}");
        last_widths.push(sizes.last().unwrap().parse::<u32>().unwrap());
        // Each layer switch is told (`layerSwitched`, the layer and its size), and the stats
        // lines after it name the layer; every line as the schema says.
        let lines: Vec<String> = r
            .seen
            .iter()
            .filter(|l| l.starts_with('{'))
            .cloned()
            .collect();
        crate::json::validate(&lines);
        let json: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let told: Vec<(String, u64)> = json
            .iter()
            .filter(|v| v["event"] == "layerSwitched")
            .map(|v| {
                let layer = v["layer"].as_str().unwrap().to_owned();
                (layer, v["width"].as_u64().unwrap())
            })
            .collect();
        let mut current = serde_json::Value::Null;
        for v in &json {
            match v["event"].as_str() {
                Some("layerSwitched") => current = v["layer"].clone(),
                Some("stats") => assert_eq!(v["tracks"][0]["layer"], current, "{v}"),
                _ => {}
            }
        }
        switches.push(told);
    }
    let widths = |t: &[(String, u64)]| t.iter().map(|t| t.1).collect::<Vec<_>>();
    assert_eq!(widths(&switches[0]), [320], "low: {switches:?}");
    assert_eq!(switches[0][0].0, "low");
    assert_eq!(
        switches[1].last().map(|t| (t.0.as_str(), t.1)),
        Some(("high", 1280))
    );
    // auto: every switch it was told of is a layer its pictures were at, the last one below
    // the top.
    assert!(!switches[2].is_empty(), "{switches:?}");
    assert_eq!(
        switches[2].last().unwrap().1 as u32,
        last_widths[2],
        "{switches:?}"
    );
    // The smallest layer, whole: a quarter of the size, every picture in order.
    let low = marks_at_size(&dir.path().join("low.mkv"), (320, 180));
    assert_eq!(low.len(), 60);
    assert_no_frame_missing(&low);
    assert_eq!(last_widths[1], 1280, "high, then auto: {last_widths:?}");
    assert!(last_widths[2] < 1280, "high, then auto: {last_widths:?}");
    // A path that widens: the smallest layer's frames make no trains of packets to show it,
    // the server's probes do, and the leg is back on the top layer.
    assert_eq!(switches[3].first().map(|t| t.1), Some(320), "{switches:?}");
    assert_eq!(
        switches[3].last().map(|t| (t.0.as_str(), t.1)),
        Some(("high", 1280)),
        "{switches:?}"
    );
    assert_eq!(last_widths[3], 1280, "{last_widths:?}");
    // At most the layer a 600x340 picture needs (640x360), however wide the path.
    assert!(
        widths(&switches[4]).iter().all(|w| *w <= 640),
        "{switches:?}"
    );
    assert_eq!(switches[4].last().map(|t| t.1), Some(640), "{switches:?}");
    assert_eq!(last_widths[4], 640, "{last_widths:?}");
    p.interrupt();
    p.wait();
}

/// The same widening with VP8 layers (Chromium's default simulcast): VP8 has no filler a
/// decoder skips, so the server probes the leg's path with padding packets after a frame
/// (`Rtp::padding`); the leg is back on the top layer and the recording decodes.
#[test]
fn a_vp8_simulcast_leg_is_probed_back_to_the_top_layer_when_its_path_widens() {
    let server = Server::start();
    let dir = temp_dir();
    let session = server.session();
    let vp8 = [&SIMULCAST_720P[..], &["--video-codec", "vp8"]].concat();
    let mut p = publisher(&server, &session, "cam", &vp8);
    let out = dir.path().join("widened.mkv");
    let mut r = Proc::spawn(server.cmd(
        &session,
        Role::Subscriber,
        &[
            "subscribe",
            "--no-audio",
            "-o",
            &path_str(&out),
            // Fifteen seconds, not a number of frames: three copies of this test and two
            // CPU-burning loops on two cores made 450 frames of three VP8 720p layers take
            // 45-63 s; the layers' switches go by the clock, not by frames.
            "--duration",
            "15s",
            "--expect",
            "frames>=90",
            "--json",
            "--impair",
            "rate=300kbit,rate=1000mbit@4s",
        ],
    ));
    assert_eq!(r.wait(), 0, "{}", r.output());
    let widths: Vec<u64> = r
        .seen
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "layerSwitched")
        .map(|v| v["width"].as_u64().unwrap())
        .collect();
    assert_eq!(widths.first(), Some(&320), "{widths:?}");
    assert_eq!(widths.last(), Some(&1280), "{widths:?}");
    let (sizes, errors) = video_frame_entries(&out, "width");
    assert!(errors.is_empty(), "{errors}");
    assert_eq!(sizes.last().map(String::as_str), Some("1280"));
    p.interrupt();
    p.wait();
}

#[test]
fn echo_test_through_the_embedded_server() {
    // Published and subscribed back through the SFU; the marks give the round trip.
    let server = Server::start();
    let session = server.session();
    let (code, out, err) = run(server.cmd(
        &session,
        Role::Publisher,
        &["echo-test", "--json", "--frames", "90"],
    ));
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(r["ok"], true, "{out}");
    assert_echo_came_back(&r, &out, 90);
    // Echo needs publishing rights.
    let (code, _, err) = run(server.cmd(&session, Role::Subscriber, &["echo-test"]));
    assert_eq!(code, 5, "{err}");
}

/// Power of `samples` (at 48 kHz) at `hz` (Goertzel), per sample.
fn power_at(samples: &[i16], hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / 48_000.0;
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in samples {
        let s = x as f64 + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) / samples.len() as f64
}

/// The microphone through the real capture path (cpal over ALSA) on a machine without a
/// sound card: ALSA's userspace plugins make a capture device of a file (`type file`, its
/// `infile` a raw 1 kHz tone, over the `null` device, which keeps no time: vcall holds it to
/// the clock), the default capture device in the publisher's own `~/.asoundrc`. What is
/// recorded is that tone: loud, at 1 kHz, not at the 440 Hz of vcall's own `--audio tone`.
#[test]
fn a_microphone_through_alsas_plugins_is_captured_without_a_sound_card() {
    let server = Server::start();
    let session = server.session();
    let dir = temp_dir();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let tone: Vec<u8> = (0..48_000 * 10)
        .map(|i| {
            (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 48_000.0).sin()) as i16
        })
        .flat_map(i16::to_le_bytes)
        .collect();
    let raw = dir.path().join("tone.raw");
    std::fs::write(&raw, tone).unwrap();
    std::fs::write(
        home.join(".asoundrc"),
        format!(
            r#"pcm.tonefile {{
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "{}"
    format "raw"
}}
pcm.!default {{
    type asym
    capture.pcm {{
        type plug
        slave {{ pcm "tonefile"; format S16_LE; rate 48000; channels 1 }}
    }}
    playback.pcm "null"
}}
"#,
            raw.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("mic.mkv");
    let mut sub = Proc::spawn(server.cmd(
        &session,
        Role::Subscriber,
        &["subscribe", "-o", &path_str(&out), "-v"],
    ));
    sub.wait_for("waiting for a stream");
    let mut publish = server.cmd(
        &session,
        Role::Publisher,
        &[
            "publish",
            "--no-video",
            "--audio",
            "mic",
            "--duration",
            "3s",
        ],
    );
    publish.env("HOME", &home);
    let (code, _, err) = run(publish);
    assert_eq!(code, 0, "{err}");
    // ALSA's own complaints stay out of the way (in the log with -v).
    assert!(!err.contains("ALSA lib"), "{err}");
    assert_eq!(sub.wait(), 0, "{}", sub.output());
    let (_, samples) = decode_audio(&out);
    assert!(samples.len() > 48_000, "{} samples", samples.len());
    let middle = &samples[samples.len() / 4..samples.len() * 3 / 4];
    let loud = middle.iter().filter(|s| s.unsigned_abs() > 2000).count();
    assert!(loud * 2 > middle.len(), "{loud} of {} loud", middle.len());
    let (at_1k, at_440) = (power_at(middle, 1000.0), power_at(middle, 440.0));
    assert!(
        at_1k > 100.0 * at_440,
        "1 kHz {at_1k:.0}, 440 Hz {at_440:.0}"
    );
}
