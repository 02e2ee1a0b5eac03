//! `--json`: every line the commands write is validated against `docs/json.schema.json`.

use std::collections::BTreeSet;

use vcall::auth::Role;

use crate::common::*;

pub fn validate(lines: &[String]) -> BTreeSet<String> {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/json.schema.json"
        ))
        .expect("schema file"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let mut events = BTreeSet::new();
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{line}\n{}", errors.join("\n"));
        events.insert(v["event"].as_str().unwrap().to_owned());
    }
    events
}

fn stdout_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_json_line_matches_the_schema() {
    let mut server = Server::start();
    let session = server.session();
    let mut lines = Vec::new();

    // connect: session events while a publisher comes and goes, then the wait's end.
    let mut watcher = Proc::spawn(server.cmd(
        &session,
        Role::Subscriber,
        &["connect", "--json", "--duration", "60s"],
    ));
    watcher.wait_for("sessionConnected");
    let mut p = publisher(
        &server,
        &session,
        "cam",
        &["--json", "--stats-interval", "500ms"],
    );
    watcher.wait_for("streamCreated");

    let (code, out, err) = run(server.cmd(&session, Role::Subscriber, &["list-streams", "--json"]));
    assert_eq!(code, 0, "{err}");
    lines.extend(stdout_lines(&out));
    let dir = temp_dir();
    let rec = path_str(&dir.path().join("r.mkv"));
    let (code, out, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &[
            "subscribe",
            "--json",
            "-o",
            &rec,
            "--duration",
            "2s",
            "--expect",
            "frames>=30, latency.p95<5s",
            "--stats-interval",
            "500ms",
        ],
    ));
    assert_eq!(code, 0, "{err}");
    lines.extend(stdout_lines(&out));
    // A failing expectation: `expect` with ok false, then `error`.
    let (code, out, _) = run(server.cmd(
        &session,
        Role::Subscriber,
        &[
            "subscribe",
            "--json",
            "-o",
            &rec,
            "--duration",
            "1s",
            "--no-audio",
            "--expect",
            "av-skew<40ms",
        ],
    ));
    assert_eq!(code, 11);
    lines.extend(stdout_lines(&out));
    let (code, out, err) = run(server.cmd(
        &session,
        Role::Publisher,
        &["echo-test", "--json", "--duration", "1s"],
    ));
    assert_eq!(code, 0, "{err}");
    lines.extend(stdout_lines(&out));
    let (code, out, _) = run(server.cmd(
        &session,
        Role::Subscriber,
        &["connect", "--json", "--wait-for", "streams>=1"],
    ));
    assert_eq!(code, 0);
    lines.extend(stdout_lines(&out));
    let (code, out, _) = run(server.cmd(
        &session,
        Role::Subscriber,
        &[
            "connect",
            "--json",
            "--wait-for",
            "streams>=5",
            "--timeout",
            "1s",
        ],
    ));
    assert_eq!(code, 11);
    lines.extend(stdout_lines(&out));

    // Moderation: a second publisher forced out.
    let mut q = publisher(&server, &session, "q", &[]);
    let (code, out, err) = run(server.cmd(
        &session,
        Role::Moderator,
        &["moderate", "force-unpublish", "--stream", "q", "--json"],
    ));
    assert_eq!(code, 0, "{err}");
    lines.extend(stdout_lines(&out));
    q.wait();
    let mut token = vcall();
    token.args(["token", "create", "--json", "--role", "subscriber"]);
    token.args(["--session", &session, "--api-key", &server.keys.key]);
    token.args(["--api-secret", &server.keys.secret]);
    let (code, out, err) = run(token);
    assert_eq!(code, 0, "{err}");
    lines.extend(stdout_lines(&out));
    let mut token = vcall();
    token.args(["token", "create", "--json", "--livekit", "--room", "r"]);
    token.args(["--identity", "i", "--api-key", &server.keys.key]);
    token.args(["--api-secret", &server.keys.secret]);
    let (code, out, err) = run(token);
    assert_eq!(code, 0, "{err}");
    lines.extend(stdout_lines(&out));
    let mut room = vcall();
    room.args(["session", "create", "--json", "--room", "r"]);
    room.args(["--api-key", &server.keys.key]);
    room.args(["--api-secret", &server.keys.secret]);
    let (code, out, err) = run(room);
    assert_eq!(code, 0, "{err}");
    lines.extend(stdout_lines(&out));
    let mut create = vcall();
    create.args(["session", "create", "--json", "--url", &server.url]);
    create.args([
        "--api-key",
        &server.keys.key,
        "--api-secret",
        &server.keys.secret,
    ]);
    let (code, out, err) = run(create);
    assert_eq!(code, 0, "{err}");
    lines.extend(stdout_lines(&out));

    p.interrupt();
    assert_eq!(p.wait(), 130);
    lines.extend(p.seen.iter().filter(|l| l.starts_with('{')).cloned());
    watcher.wait_for("streamDestroyed");
    watcher.wait_for("connectionDestroyed");
    watcher.interrupt();
    watcher.wait();
    lines.extend(watcher.seen.iter().filter(|l| l.starts_with('{')).cloned());

    // Refused: sessionFailed and error.
    let mut c = vcall();
    c.args([
        "connect",
        "--json",
        "--url",
        &server.url,
        "--session",
        &session,
        "--token",
        "bad",
    ]);
    let (code, out, _) = run(c);
    assert_eq!(code, 3);
    lines.extend(stdout_lines(&out));
    // A server of its own, and the demo.
    let mut serve = vcall();
    serve.args([
        "serve",
        "--json",
        "--listen",
        "127.0.0.1:0",
        "--udp-port",
        "0",
    ]);
    let mut serve = Proc::spawn(serve);
    serve.wait_for("\"serving\"");
    serve.interrupt();
    assert_eq!(serve.wait(), 0);
    lines.extend(serve.seen.iter().filter(|l| l.starts_with('{')).cloned());
    let dir = temp_dir();
    let demo_out = path_str(&dir.path().join("demo.mp4"));
    for args in [
        &["config", "show", "--json"][..],
        &["devices", "--json"][..],
        &["demo", "--json", "--duration", "1s", "-o", &demo_out][..],
    ] {
        let mut c = vcall();
        c.args(args);
        let (_, out, _) = run(c);
        lines.extend(stdout_lines(&out));
    }

    // The server going away: sessionDisconnected, then the error.
    let mut last = Proc::spawn(server.cmd(&session, Role::Subscriber, &["connect", "--json"]));
    last.wait_for("sessionConnected");
    server.stop();
    assert_eq!(last.wait(), 7);
    lines.extend(last.seen.iter().filter(|l| l.starts_with('{')).cloned());

    let events = validate(&lines);
    for e in [
        "sessionConnected",
        "sessionDisconnected",
        "session",
        "connectionCreated",
        "connectionDestroyed",
        "streamCreated",
        "streamDestroyed",
        "sessionFailed",
        "waitSatisfied",
        "waitTimedOut",
        "streams",
        "published",
        "publishSummary",
        "stats",
        "statsSummary",
        "serving",
        "serverStopped",
        "token",
        "moderated",
        "demo",
        "recordingStarted",
        "firstFrame",
        "recordingFinished",
        "expect",
        "echoTest",
        "config",
        "devices",
        "error",
    ] {
        assert!(events.contains(e), "no {e} line among {events:?}");
    }
}

#[test]
fn the_schema_rejects_what_it_does_not_describe() {
    // A check of the check: a line without `v`, an unknown event, a wrong type.
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/json.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for bad in [
        r#"{"event":"error","exitCode":3,"message":"x","time":1}"#,
        r#"{"event":"nonsense","v":1,"time":1}"#,
        r#"{"event":"error","exitCode":"3","message":"x","v":1,"time":1}"#,
        r#"{"event":"stats","streamId":"s","direction":"send","elapsedMs":1,"rttMs":null,"tracks":[{"kind":"video"}],"v":1,"time":1}"#,
    ] {
        let v: serde_json::Value = serde_json::from_str(bad).unwrap();
        assert!(!validator.is_valid(&v), "accepted {bad}");
    }
}
