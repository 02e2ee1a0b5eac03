//! `vcall load-test` against `vcall serve` on loopback: every frame of every subscribed
//! stream accounted for, and a broken path caught and named.

use crate::common::*;

/// `vcall load-test` of `server` with `args`, joining at 50/s unless they say otherwise,
/// JSON on stdout.
fn load_test_cmd(server: &Server, args: &[&str]) -> std::process::Command {
    load_test_at(server, &server.url, args)
}

/// [`load_test_cmd`] at another of `server`'s URLs.
fn load_test_at(server: &Server, url: &str, args: &[&str]) -> std::process::Command {
    let mut c = vcall();
    c.args([
        "load-test",
        "--url",
        url,
        "--api-key",
        &server.keys.key,
        "--api-secret",
        &server.keys.secret,
        "--json",
        // A starved test machine runs timers late; the verdicts asked for here are counted
        // by construction, so its lateness is not what these tests judge.
        "--generator-lag-limit",
        "60s",
    ])
    .args(args);
    if !args.contains(&"--join-rate") {
        c.args(["--join-rate", "50/s"]);
    }
    c
}

fn load_test(server: &Server, args: &[&str]) -> (i32, String, String) {
    let all: Vec<&str> = ["--stats-interval", "1s", "--per-stream"]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    run(load_test_cmd(server, &all))
}

fn lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn two_rooms_pass_with_every_frame_of_every_stream_accounted_for() {
    let server = Server::start();
    let (code, out, err) = load_test(
        &server,
        &[
            "--rooms",
            "2",
            "--publishers",
            "2",
            "--subscribers",
            "2",
            "--duration",
            "3s",
            "--expect",
            "joined==100%, streams==100%, streams.frames.lost==0, identity",
        ],
    );
    assert_eq!(code, 0, "{err}\n{out}");
    let raw: Vec<String> = out.lines().map(str::to_owned).collect();
    let events = crate::json::validate(&raw);
    assert!(
        events.contains("loadStream") && events.contains("loadSummary"),
        "{events:?}"
    );
    let all = lines(&out);
    let rooms: Vec<_> = all.iter().filter(|l| l["event"] == "loadRoom").collect();
    assert_eq!(rooms.len(), 2, "{out}");
    for r in rooms {
        assert_eq!(r["streams"], 4, "{r}");
        assert_eq!(r["framesLost"], 0, "{r}");
    }
    let summary = all.iter().find(|l| l["event"] == "loadSummary").unwrap();
    assert_eq!(summary["joined"], 8, "{summary}");
    assert_eq!(summary["streams"], 8, "{summary}");
    assert_eq!(summary["identityViolations"], 0);
    let streams: Vec<_> = all.iter().filter(|l| l["event"] == "loadStream").collect();
    assert_eq!(streams.len(), 8);
    for s in streams {
        // Every frame from the first whole and in order (how many came is the machine's
        // business: the numbers say none is missing).
        assert!(s["frames"].as_u64().unwrap() > 0, "{s}");
        assert_eq!(s["framesLost"], 0, "{s}");
        assert_eq!(s["outOfOrder"], 0, "{s}");
        assert!(s["audioPackets"].as_u64().unwrap() > 0, "{s}");
    }
}

#[test]
fn a_stream_whose_forwarding_stalls_fails_the_run_naming_it() {
    // The server forwards the first 30 packets of room 1's stream, then nothing: that
    // stream freezes for the rest of the run, however fast the machine.
    let server = Server::faulty(vcall::server::Fault::Stall("-r1-p0".into(), 30));
    let (code, out, err) = load_test(
        &server,
        &[
            "--rooms",
            "2",
            "--publishers",
            "1",
            "--subscribers",
            "1",
            "--duration",
            "4s",
            "--expect",
            "freeze.max.max<1500ms",
        ],
    );
    assert_eq!(code, 11, "{err}\n{out}");
    assert!(
        err.contains("expectation failed: freeze.max.max<1500ms"),
        "{err}"
    );
    assert!(err.contains("worst: room 1 subscriber 0"), "{err}");
}

#[test]
fn a_server_that_loses_packets_of_one_room_fails_the_run_naming_that_room() {
    // Every 50th packet (2 %) of the streams of room 1 is never forwarded: the server's
    // leg cannot send again what it never had, so those frames never arrive whole.
    let server = Server::faulty(vcall::server::Fault::Drop("-r1-p".into(), 50));
    let dir = temp_dir();
    let report = dir.path().join("load.html");
    let (code, out, err) = load_test(
        &server,
        &[
            "--report",
            &path_str(&report),
            "--rooms",
            "2",
            "--publishers",
            "1",
            "--subscribers",
            "1",
            "--duration",
            "3s",
            "--expect",
            "streams==100%, streams.frames.lost==0",
        ],
    );
    assert_eq!(code, 11, "{err}\n{out}");
    assert!(err.contains("streams.frames.lost==0"), "{err}");
    assert!(err.contains("worst: room 1 subscriber 0"), "{err}");
    let streams: Vec<_> = lines(&out)
        .into_iter()
        .filter(|l| l["event"] == "loadStream")
        .collect();
    for s in &streams {
        let lost = s["framesLost"].as_u64().unwrap();
        match s["room"].as_u64().unwrap() {
            0 => assert_eq!(lost, 0, "{s}"),
            _ => assert!(lost > 0, "{s}"),
        }
    }
    // The report, written although the run failed: the verdict, the charts over time, and
    // the room that lost frames first among the worst; nothing to fetch.
    let html = std::fs::read_to_string(&report).expect("the report is written");
    assert!(html.contains("<h2>Load test</h2>"), "{html}");
    assert!(html.contains("NOT met: ") && html.contains("streams.frames.lost==0"));
    assert_eq!(html.matches("<svg").count(), 6, "six charts");
    let rooms = html
        .split("The worst rooms")
        .nth(1)
        .expect("the rooms table");
    let first_row = rooms.split("<tr><td>").nth(1).expect("a row");
    assert!(first_row.starts_with("1</td>"), "room 1 first: {first_row}");
    assert!(html.contains("The worst streams"));
    assert!(
        !html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http"),
        "self-contained"
    );
}

#[test]
fn a_server_that_mixes_streams_up_is_caught_by_identity() {
    // Subscriptions to publisher 1's stream get publisher 0's frames.
    let server = Server::faulty(vcall::server::Fault::Misroute(
        "-r0-p1".into(),
        "-r0-p0".into(),
    ));
    // A second apart: publisher 0's stream is live before publisher 1 starts to join.
    let (code, out, err) = load_test(
        &server,
        &[
            "--publishers",
            "2",
            "--subscribers",
            "1",
            "--join-rate",
            "1/s",
            "--duration",
            "2s",
            "--expect",
            "identity",
        ],
    );
    assert_eq!(code, 11, "{err}\n{out}");
    assert!(err.contains("identity.violations==0"), "{err}");
    assert!(err.contains("-r0-p1"), "{err}");
    assert!(err.contains("frames of publisher #1"), "{err}");
}

#[test]
fn a_generator_past_its_limit_says_so_instead_of_blaming_the_server() {
    let server = Server::start();
    // Encoding alone takes more than a thousandth of the machine.
    let (code, out, err) = load_test(
        &server,
        &[
            "--duration",
            "2s",
            "--generator-cpu-limit",
            "0.1%",
            "--expect",
            "streams==100%",
        ],
    );
    assert_eq!(code, 12, "{err}\n{out}");
    assert!(err.contains("the load generator was the limit"), "{err}");
    let summary = lines(&out)
        .into_iter()
        .find(|l| l["event"] == "loadSummary")
        .unwrap();
    assert!(summary["overloaded"].is_string(), "{summary}");
}

#[test]
fn three_shards_merged_give_the_verdict_of_one_process() {
    let server = Server::start();
    let dir = temp_dir();
    let start = format!("{}", vcall::auth::unix_now() + 3);
    let flags = |extra: &[&str]| {
        let mut c = load_test_cmd(&server, &["--rooms", "2", "--publishers", "1"]);
        c.args([
            "--subscribers",
            "2",
            "--duration",
            "3s",
            "--stats-interval",
            "0",
        ])
        .args(extra);
        c
    };
    let shards: Vec<Proc> = (0..3)
        .map(|i| {
            let shard = format!("{i}/3");
            Proc::spawn(flags(&["--shard", &shard, "--start-at", &start]))
        })
        .collect();
    let mut files = Vec::new();
    for (i, mut p) in shards.into_iter().enumerate() {
        assert_eq!(p.wait(), 0, "{}", p.output());
        let path = dir.path().join(format!("shard-{i}.jsonl"));
        let out: String = p
            .output()
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&path, out).unwrap();
        files.push(path_str(&path));
    }
    let expect = "joined==100%, streams==100%, streams.frames.lost==0, identity";
    let mut m = vcall();
    m.args(["load-test", "merge", "--json", "--expect", expect])
        .args(&files);
    let (code, out, err) = run(m);
    assert_eq!(code, 0, "{err}\n{out}");
    let merged = lines(&out)
        .into_iter()
        .find(|l| l["event"] == "loadSummary")
        .unwrap();
    // The same run in one process.
    let (code, out, err) = run(flags(&["--expect", expect]));
    assert_eq!(code, 0, "{err}\n{out}");
    let single = lines(&out)
        .into_iter()
        .find(|l| l["event"] == "loadSummary")
        .unwrap();
    for key in [
        "participants",
        "joined",
        "streamsExpected",
        "streams",
        "framesLost",
        "identityViolations",
    ] {
        assert_eq!(merged[key], single[key], "{key}: {merged} vs {single}");
    }
    assert_eq!(merged["generators"].as_array().unwrap().len(), 3);
    // A file that is not a shard's output is named.
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "{\"event\":\"stats\"}\n").unwrap();
    let mut m = vcall();
    m.args(["load-test", "merge"]).arg(&junk);
    let (code, _, err) = run(m);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("junk.jsonl: no loadSummary line"), "{err}");
}

#[test]
fn the_same_run_holds_over_livekits_protocol() {
    // vcall serve's LiveKit endpoint: each publisher's audio and video are two tracks (two
    // streams), checked as one publisher's.
    let server = Server::start();
    let url = server.url.replace("ws://", "livekit+ws://");
    let mut c = load_test_at(&server, &url, &["--stats-interval", "0", "--per-stream"]);
    c.args([
        "--rooms",
        "2",
        "--publishers",
        "1",
        "--subscribers",
        "2",
        "--duration",
        "3s",
        "--expect",
        "joined==100%, streams==100%, streams.frames.lost==0, identity",
    ]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}\n{out}");
    let all = lines(&out);
    let summary = all.iter().find(|l| l["event"] == "loadSummary").unwrap();
    assert_eq!(summary["streams"], 4, "{summary}");
    for s in all.iter().filter(|l| l["event"] == "loadStream") {
        assert!(s["frames"].as_u64().unwrap() > 0, "{s}");
        assert_eq!(s["framesLost"], 0, "{s}");
        assert!(s["audioPackets"].as_u64().unwrap() > 0, "{s}");
    }
}

#[test]
fn urls_that_do_not_make_a_run_are_usage_errors() {
    let usage = |args: &[&str], says: &str| {
        let mut c = vcall();
        c.args(["load-test", "--duration", "1s"]).args(args);
        let (code, _, err) = run(c);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    };
    usage(&["--url", "ws://127.0.0.1:9"], "--api-key");
    let keys = [
        "--url",
        "ws://127.0.0.1:9",
        "--api-key",
        "k",
        "--api-secret",
        "s",
    ];
    let with_keys = |more: &[&'static str]| [&keys[..], more].concat();
    usage(
        &with_keys(&["--publishers", "1001"]),
        "at most 1000 publish at once",
    );
    usage(
        &with_keys(&[
            "--publishers",
            "5000",
            "--join-rate",
            "100/s",
            "--publish-for",
            "20s",
        ]),
        "2000 publishers at once",
    );
    usage(
        &[
            "--url",
            "whip+http://127.0.0.1:9/whip/{room}?name={publisher}",
            "--whep-url",
            "whep+http://127.0.0.1:9/whep/{room}/{publisher}",
            "--publish-for",
            "1s",
        ],
        "not for WHIP/WHEP",
    );
    usage(
        &["--url", "whep+http://127.0.0.1:9/whep/{room}"],
        "--whep-url",
    );
    usage(
        &["--url", "whip+http://127.0.0.1:9/whip/{room}"],
        "give --whep-url",
    );
    usage(
        &[
            "--url",
            "whip+http://127.0.0.1:9/whip/{room}",
            "--whep-url",
            "whep+http://127.0.0.1:9/whep/{room}",
            "--publishers",
            "2",
        ],
        "put {publisher} in --url and --whep-url",
    );
    usage(
        &[
            "--url",
            "whip+http://127.0.0.1:9/whip/one",
            "--subscribers",
            "0",
            "--rooms",
            "2",
        ],
        "put {room} in --url",
    );
    usage(
        &[
            "--url",
            "whip+http://127.0.0.1:9/whip/{room}",
            "--subscribers",
            "0",
            "--api-key",
            "k",
        ],
        "--api-secret",
    );
    usage(
        &[
            "--url",
            "ws://127.0.0.1:9",
            "--whep-url",
            "whep+http://127.0.0.1:9/whep/{room}",
        ],
        "--whep-url goes with a WHIP --url",
    );
}

#[test]
fn the_same_run_holds_over_whip_and_whep_with_every_picture_checked() {
    let server = Server::start();
    let base = server.url.replacen("ws://", "http://", 1);
    let whip = format!("whip+{base}/whip/{{room}}?name={{publisher}}");
    let whep = format!("whep+{base}/whep/{{room}}/{{publisher}}");
    let (code, out, err) = run(load_test_at(
        &server,
        &whip,
        &[
            "--whep-url",
            &whep,
            "--rooms",
            "2",
            "--publishers",
            "2",
            "--subscribers",
            "1",
            "--duration",
            "3s",
            "--decode",
            "100%",
            "--per-stream",
            "--expect",
            "joined==100%, streams==100%, streams.frames.lost==0, identity, pictures.bad==0, pictures.decoded>0",
        ],
    ));
    assert_eq!(code, 0, "{err}\n{out}");
    let all = lines(&out);
    let summary = all.iter().find(|l| l["event"] == "loadSummary").unwrap();
    assert_eq!(summary["streams"], 4, "{summary}");
    assert_eq!(summary["streamsDecoded"], 4, "{summary}");
    let streams: Vec<_> = all.iter().filter(|l| l["event"] == "loadStream").collect();
    assert_eq!(streams.len(), 4);
    for s in streams {
        // Every whole frame decoded, each picture the one its mark names.
        assert_eq!(s["pictures"]["bad"], 0, "{s}");
        assert!(s["pictures"]["decoded"].as_u64().unwrap() > 0, "{s}");
    }
}

#[test]
fn a_publisher_whose_path_cannot_carry_its_rate_steps_down_a_tier() {
    // 1 Mbit/s of 640x480 into a 300 kbit/s path: the path's queue overflows whatever the
    // machine's speed, the estimate falls under what was sent, and the publisher moves to
    // a lower tier (at a keyframe of it, so the frames go on, each picture the one its mark
    // names).
    let server = Server::start();
    let (code, out, err) = load_test(
        &server,
        &[
            "--impair",
            "rate=300kbit",
            "--video-bitrate",
            "1M",
            "--width",
            "640",
            "--height",
            "480",
            "--duration",
            "6s",
            "--decode",
            "100%",
            "--expect",
            "streams==100%, identity, pictures.bad==0",
        ],
    );
    assert_eq!(code, 0, "{err}\n{out}");
    let all = lines(&out);
    let summary = all.iter().find(|l| l["event"] == "loadSummary").unwrap();
    assert!(summary["stepsDown"].as_u64().unwrap() >= 1, "{summary}");
}

#[test]
fn the_same_run_holds_against_janus() {
    let j = crate::common::janus::shared();
    let mut c = vcall();
    c.args([
        "load-test",
        "--url",
        &j.ws,
        "--token",
        crate::common::janus::TOKEN,
        "--rooms",
        "2",
        "--publishers",
        "1",
        "--subscribers",
        "2",
        "--join-rate",
        "50/s",
        "--duration",
        "3s",
        "--generator-lag-limit",
        "60s",
        "--json",
        "--expect",
        "joined==100%, streams==100%, streams.frames.lost==0, identity",
    ]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}\n{out}");
    let summary = lines(&out)
        .into_iter()
        .find(|l| l["event"] == "loadSummary")
        .unwrap();
    assert_eq!(summary["streams"], 4, "{summary}");
    assert_eq!(summary["framesLost"], 0, "{summary}");
}
