//! Congestion control, end to end on loopback with `--impair`'s bottleneck (no root): a
//! publisher of the busy test pattern that was told more than its path carries settles under
//! the path, climbs back when the path widens, keeps to a Janus room's cap, and vcall serve
//! holds it to its slowest subscriber. Asserted with the publisher's own stats (`--json
//! --stats-interval`) and the subscribers' `--expect`.

use serde_json::Value;
use vcall::auth::Role;

use crate::common::janus;
use crate::common::*;
use crate::stats::json_lines;

/// The busy pattern at a size a loaded machine encodes in time, with a 1 Mbit/s ceiling (the
/// pattern at this size uses all of it), its stats every second.
const BUSY: [&str; 12] = [
    "--video",
    "testsrc:busy",
    "--audio",
    "tone",
    "--width",
    "320",
    "--height",
    "240",
    "--video-bitrate",
    "1M",
    "--json",
    "--stats-interval",
];

fn busy_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["publish", "--name", "busy"];
    args.extend(BUSY);
    args.push("1s");
    args.extend_from_slice(extra);
    args
}

/// The publisher's `stats` lines.
fn stats(lines: &[String]) -> Vec<Value> {
    json_lines(lines)
        .into_iter()
        .filter(|l| l["event"] == "stats")
        .collect()
}

fn elapsed_s(line: &Value) -> f64 {
    line["elapsedMs"].as_f64().unwrap() / 1000.0
}

/// What a stats line says was sent, kbit/s (every track).
fn sent_kbps(line: &Value) -> f64 {
    line["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["bitrateKbps"].as_f64().unwrap_or(0.0))
        .sum()
}

fn video_kbps(line: &Value) -> f64 {
    line["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == "video")
        .and_then(|t| t["bitrateKbps"].as_f64())
        .unwrap()
}

fn congestion<'a>(line: &'a Value, key: &str) -> &'a Value {
    &line["congestion"][key]
}

/// Reads `p`'s stats lines until one satisfies `done`, and returns it (every line read stays
/// in `p.seen`).
fn stats_until(p: &mut Proc, done: impl Fn(&Value) -> bool) -> Value {
    loop {
        let line = p.wait_for("\"event\":\"stats\"");
        let v: Value = serde_json::from_str(&line).expect("a JSON line");
        if done(&v) {
            return v;
        }
    }
}

/// Waits for `n` more stats lines of `p` (one a second).
fn seconds_of_stats(p: &mut Proc, n: usize) {
    for _ in 0..n {
        p.wait_for("\"event\":\"stats\"");
    }
}

#[test]
fn a_720p_publisher_on_a_clean_path_keeps_the_size_and_frame_rate_it_asked_for() {
    // Plain and calm pictures use a fraction of 2 Mbit/s. That is not congestion: the
    // estimate climbs to its ceiling (probes show the path), and the picture stays 1280x720
    // at 30 fps (its QP is fine), where it once settled at 640x360 and 15 fps.
    for pattern in ["testsrc", "testsrc:calm"] {
        let server = Server::start();
        let session = server.session();
        let mut p = Proc::spawn(server.cmd(
            &session,
            Role::Publisher,
            &[
                "publish",
                "--name",
                "hd",
                "--video",
                pattern,
                "--audio",
                "tone",
                "--width",
                "1280",
                "--height",
                "720",
                "--video-bitrate",
                "2M",
                "--json",
                "--stats-interval",
                "1s",
            ],
        ));
        p.wait_for("stream is live");
        let dir = temp_dir();
        let out = dir.path().join("hd.mp4");
        let (code, _, err) = run(server.cmd(
            &session,
            Role::Subscriber,
            &["subscribe", "-o", &path_str(&out), "--duration", "6s"],
        ));
        assert_eq!(code, 0, "{pattern}: {err}");
        p.interrupt();
        p.wait();
        let lines = stats(&p.seen);
        assert!(
            lines.iter().any(|l| congestion(l, "reason") == "ceiling"),
            "{pattern}: the estimate never reached its ceiling: {}",
            p.output()
        );
        for l in lines.iter().filter(|l| elapsed_s(l) >= 3.0) {
            assert_eq!(congestion(l, "targetWidth"), 1280, "{pattern}: {l}");
            assert_eq!(congestion(l, "targetFps"), 30.0, "{pattern}: {l}");
        }
        assert_no_frame_missing(&marks_at_size(&out, (1280, 720)));
    }
}

#[test]
fn a_publisher_told_more_than_its_path_carries_settles_under_it() {
    let server = Server::start();
    let session = server.session();
    let mut p = Proc::spawn(server.cmd(
        &session,
        Role::Publisher,
        &busy_args(&["--impair", "rate=500kbit"]),
    ));
    p.wait_for("stream is live");
    // Settled within 5 s; a subscriber that joins then sees no freeze and little delay.
    seconds_of_stats(&mut p, 5);
    let dir = temp_dir();
    let (code, _, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &[
            "subscribe",
            "-o",
            &path_str(&dir.path().join("late.mp4")),
            "--duration",
            "8s",
            // Latency and freezes are scripts/bench_congestion.py's business (a 200 ms
            // target, measured on a quiet machine).
            "--expect",
            "frames>=60",
        ],
    ));
    assert_eq!(code, 0, "{err}");
    p.interrupt();
    p.wait();
    let lines = stats(&p.seen);
    let settled: Vec<&Value> = lines.iter().filter(|l| elapsed_s(l) > 5.5).collect();
    assert!(settled.len() >= 6, "{}", p.output());
    let mean = |f: &dyn Fn(&Value) -> f64| {
        settled.iter().map(|l| f(l)).sum::<f64>() / settled.len() as f64
    };
    let sent = mean(&sent_kbps);
    assert!(
        sent < 500.0,
        "sends {sent:.0} kbit/s into 500: {}",
        p.output()
    );
    assert!(sent > 250.0, "uses the path: {sent:.0} kbit/s");
    let loss = mean(&|l| congestion(l, "lossPercent").as_f64().unwrap_or(0.0));
    assert!(loss < 2.0, "{loss:.1} % lost: {}", p.output());
    // The stats say why: the path's queue, not the ceiling.
    assert!(
        settled
            .iter()
            .all(|l| congestion(l, "targetVideoKbps").as_f64().unwrap() < 500.0),
        "{}",
        p.output()
    );
}

#[test]
fn a_publisher_climbs_back_to_its_ceiling_when_the_path_widens() {
    let server = Server::start();
    let session = server.session();
    // 500 kbit/s for 12 s, then 3 Mbit/s; the publisher runs until it is back at its ceiling
    // (how soon is scripts/bench_congestion.py's business).
    let mut p = Proc::spawn(server.cmd(
        &session,
        Role::Publisher,
        &busy_args(&[
            "--impair",
            "rate=500kbit,rate=3mbit@12s",
            "--duration",
            "120s",
        ]),
    ));
    let target = |l: &Value| congestion(l, "targetVideoKbps").as_f64().unwrap();
    // The ceiling (1 Mbit/s of video) again after the step, and sent.
    let back = stats_until(&mut p, |l| {
        elapsed_s(l) > 12.0 && target(l) >= 1000.0 && video_kbps(l) > 700.0
    });
    p.interrupt();
    assert_eq!(p.wait(), 130, "{}", p.output());
    let lines = stats(&p.seen);
    let narrow = lines
        .iter()
        .filter(|l| (6.0..11.0).contains(&elapsed_s(l)))
        .map(target)
        .fold(0.0, f64::max);
    assert!(
        narrow < 500.0,
        "{narrow} kbit/s on the narrow path: {}",
        p.output()
    );
    eprintln!(
        "back at the ceiling {:.0} s after the start",
        elapsed_s(&back)
    );
}

#[test]
fn a_janus_rooms_bitrate_cap_holds_the_publisher() {
    let j = janus::shared();
    let (code, stdout, err) = run(j.cmd(&j.ws, "3000", &busy_args(&["--duration", "14s"])));
    assert_eq!(code, 0, "{err}");
    let lines = stats(&stdout.lines().map(str::to_owned).collect::<Vec<_>>());
    let settled: Vec<&Value> = lines.iter().filter(|l| elapsed_s(l) > 6.0).collect();
    assert!(settled.len() >= 5, "{stdout}");
    for l in &settled {
        assert_eq!(congestion(l, "reason"), "remb", "{stdout}");
        assert!(
            congestion(l, "rembKbps").as_f64().unwrap() <= 300.0,
            "{stdout}"
        );
    }
    let video = settled.iter().map(|l| video_kbps(l)).sum::<f64>() / settled.len() as f64;
    assert!(
        video <= 300.0,
        "{video:.0} kbit/s of video in a 300 kbit/s room: {stdout}"
    );
}

#[test]
fn vcall_serve_holds_a_publisher_to_its_slowest_subscriber() {
    let server = Server::start();
    let session = server.session();
    let mut p = Proc::spawn(server.cmd(
        &session,
        Role::Publisher,
        &busy_args(&["--duration", "22s"]),
    ));
    p.wait_for("stream is live");
    let dir = temp_dir();
    let subscriber = |impair: Option<&str>| {
        let out = path_str(&dir.path().join(format!("{}.mp4", impair.is_some())));
        let mut args = vec![
            "subscribe".to_owned(),
            "-o".into(),
            out,
            "--duration".into(),
            "15s".into(),
            "--expect".into(),
            "frames>=100".into(),
        ];
        if let Some(spec) = impair {
            args.extend(["--impair".into(), spec.into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Proc::spawn(server.cmd(&session, Role::Subscriber, &args))
    };
    let mut slow = subscriber(Some("rate=400kbit"));
    let mut fast = subscriber(None);
    for (name, s) in [("slow", &mut slow), ("fast", &mut fast)] {
        // How long either froze is scripts/bench_congestion.py's business.
        assert_eq!(s.wait(), 0, "the {name} subscriber: {}", s.output());
    }
    assert_eq!(p.wait(), 0, "{}", p.output());
    // The policy: the publisher sends what its slowest subscriber can take (REMB).
    let lines = stats(&p.seen);
    let late: Vec<&Value> = lines
        .iter()
        .filter(|l| (8.0..16.0).contains(&elapsed_s(l)))
        .collect();
    assert!(late.len() >= 5, "{}", p.output());
    for l in &late {
        assert_eq!(congestion(l, "reason"), "remb", "{}", p.output());
    }
    // Under the slow path on average; a second's figure may pass it while the slow
    // subscriber's estimate probes a little above its path.
    let mean = late.iter().map(|l| sent_kbps(l)).sum::<f64>() / late.len() as f64;
    assert!(mean < 400.0, "{mean:.0} kbit/s: {}", p.output());
}

#[test]
fn a_path_too_narrow_for_the_picture_makes_it_smaller_and_the_recording_follows() {
    let server = Server::start();
    let session = server.session();
    // 852x480 at 2 Mbit/s on a wide path, which narrows to 200 kbit/s after 3 s: too few
    // bits for 480p even at 15 fps, enough for 426x240 (a size a loaded machine encodes in
    // time in a debug build, unlike 720p).
    let mut p = Proc::spawn(server.cmd(
        &session,
        Role::Publisher,
        &[
            "publish",
            "--name",
            "busy",
            "--video",
            "testsrc:busy",
            "--audio",
            "tone",
            "--width",
            "852",
            "--height",
            "480",
            "--video-bitrate",
            "2M",
            "--json",
            "--stats-interval",
            "1s",
            "--impair",
            "rate=5mbit,rate=200kbit@3s",
            "--duration",
            "120s",
        ],
    ));
    p.wait_for("stream is live");
    let dir = temp_dir();
    let out = dir.path().join("both.mp4");
    // Recorded from before the narrowing until the picture has been the smaller one for 4 s
    // (how soon it gets smaller is scripts/bench_congestion.py's business).
    let mut sub = Proc::spawn(server.cmd(
        &session,
        Role::Subscriber,
        &["subscribe", "-o", &path_str(&out)],
    ));
    sub.wait_for("first frame");
    let size = |l: &Value| {
        (
            congestion(l, "targetWidth").as_u64(),
            congestion(l, "targetHeight").as_u64(),
        )
    };
    let smaller = |l: &Value| size(l) == (Some(426), Some(240));
    let first_smaller = stats_until(&mut p, smaller);
    let settled = elapsed_s(&first_smaller) + 2.0;
    stats_until(&mut p, |l| elapsed_s(l) > settled + 2.0);
    sub.interrupt();
    assert_eq!(sub.wait(), 130, "{}", sub.output());
    p.interrupt();
    assert_eq!(p.wait(), 130, "{}", p.output());
    let lines = stats(&p.seen);
    let first = lines.first().expect("stats lines");
    assert_eq!(size(first), (Some(852), Some(480)), "{}", p.output());
    // Smaller from then on, and under the path's rate 2 s later (the queue of the larger
    // pictures drained).
    for l in lines
        .iter()
        .filter(|l| elapsed_s(l) >= elapsed_s(&first_smaller))
    {
        assert!(smaller(l), "{l}: {}", p.output());
    }
    for l in lines.iter().filter(|l| elapsed_s(l) > settled) {
        assert!(sent_kbps(l) < 200.0, "{l}: {}", p.output());
    }
    // The recording holds both sizes, in that order, and every frame decodes (ffprobe decodes
    // each to tell its size, and says nothing else).
    let (mut sizes, said) = video_frame_entries(&out, "width,height");
    sizes.dedup();
    assert_eq!(sizes, ["852,480", "426,240"], "sizes in the recording");
    assert!(said.is_empty(), "{said}");
}
