//! `--stats-interval`: per-track figures on both ends of a call, as JSON and for people.

use serde_json::Value;
use vcall::auth::Role;

use crate::common::*;

/// The JSON lines among a process's output.
pub fn json_lines<'a>(lines: impl IntoIterator<Item = &'a String>) -> Vec<Value> {
    lines
        .into_iter()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The `statsSummary` track of `kind` among `lines`.
pub fn summary_track(lines: &[Value], kind: &str) -> Value {
    let summary = lines
        .iter()
        .find(|l| l["event"] == "statsSummary")
        .unwrap_or_else(|| panic!("no statsSummary among {lines:?}"));
    summary["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} track in {summary}"))
        .clone()
}

#[test]
fn both_ends_report_their_tracks_and_sum_them_up() {
    let server = Server::start();
    let session = server.session();
    let mut publisher = publisher(
        &server,
        &session,
        "cam",
        &["--fps", "15", "--json", "--stats-interval", "1s"],
    );
    let dir = temp_dir();
    let subscribe = |out: &str, extra: &[&str]| {
        let mut args = vec!["subscribe", "-o", out, "--duration", "3s"];
        args.extend_from_slice(extra);
        Proc::spawn(server.cmd(&session, Role::Subscriber, &args))
    };
    let mut machine = subscribe(
        &path_str(&dir.path().join("a.mkv")),
        &["--json", "--stats-interval", "1s"],
    );
    let mut person = subscribe(
        &path_str(&dir.path().join("b.mkv")),
        &["--stats-interval", "1s"],
    );
    assert_eq!(machine.wait(), 0, "{}", machine.output());
    assert_eq!(person.wait(), 0, "{}", person.output());
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130);

    // The receiving end, as JSON.
    let lines = json_lines(&machine.seen);
    let samples: Vec<&Value> = lines.iter().filter(|l| l["event"] == "stats").collect();
    assert!(!samples.is_empty(), "no stats lines: {lines:?}");
    assert!(samples.iter().all(|s| s["direction"] == "receive"));
    let video = summary_track(&lines, "video");
    let audio = summary_track(&lines, "audio");
    assert_eq!(
        (video["codec"].as_str(), audio["codec"].as_str()),
        (Some("H264"), Some("opus"))
    );
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(320), Some(240))
    );
    let fps = video["fps"].as_f64().unwrap();
    assert!((13.0..=17.0).contains(&fps), "received {fps} fps of 15");
    assert!(video["frames"].as_u64().unwrap() >= 40, "{video}");
    assert!(video["keyframes"].as_u64().unwrap() >= 1, "{video}");
    // The subscriber asks for a keyframe as its video starts.
    assert!(video["plis"].as_u64().unwrap() >= 1, "{video}");
    assert!(video["packets"].as_u64().unwrap() >= video["frames"].as_u64().unwrap());
    assert!(video["bitrateKbps"].as_f64().unwrap() > 10.0, "{video}");
    assert_eq!(video["freezes"].as_u64(), Some(0), "{video}");
    assert!(audio["frames"].as_u64().unwrap() >= 120, "{audio}");
    assert!(audio["fps"].is_null() && audio["keyframes"].is_null() && audio["freezes"].is_null());
    let summary = lines.iter().find(|l| l["event"] == "statsSummary").unwrap();
    assert!(summary["rttMs"]["max"].as_f64().is_some(), "{summary}");

    // The sending end: what it encoded and what the far end asked of it.
    let lines = json_lines(&publisher.seen);
    let video = summary_track(&lines, "video");
    let published = lines
        .iter()
        .find(|l| l["event"] == "publishSummary")
        .expect("publishSummary");
    assert_eq!(video["frames"], published["videoFrames"]);
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(320), Some(240))
    );
    // A keyframe at the start, and one for each subscriber that asked (through the server).
    assert!(video["keyframes"].as_u64().unwrap() >= 2, "{video}");
    assert!(video["plis"].as_u64().unwrap() >= 1, "{video}");
    assert!(video["freezes"].is_null());
    let sent = lines.iter().filter(|l| l["event"] == "stats").count();
    assert!(
        sent >= 3,
        "{sent} stats lines in a publish of more than 3 s"
    );

    // For people: a line per track and interval, and the summary table, on stderr.
    let text = person.output();
    assert!(text.contains("receive video H264 320x240"), "{text}");
    assert!(text.contains("receive audio opus"), "{text}");
    assert!(text.contains("stats summary: stream"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("video H264") && l.contains("320x240")),
        "{text}"
    );
}

#[test]
fn stats_interval_zero_gives_only_the_summary() {
    let server = Server::start();
    let session = server.session();
    let mut publisher = publisher(&server, &session, "cam", &[]);
    let dir = temp_dir();
    let out = path_str(&dir.path().join("r.mkv"));
    let (code, stdout, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &[
            "subscribe",
            "-o",
            &out,
            "--duration",
            "2s",
            "--json",
            "--stats-interval",
            "0",
        ],
    ));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    let lines = json_lines(&lines);
    assert!(!lines.iter().any(|l| l["event"] == "stats"), "{lines:?}");
    assert!(summary_track(&lines, "video")["frames"].as_u64().unwrap() > 0);
    publisher.interrupt();
    publisher.wait();
}
