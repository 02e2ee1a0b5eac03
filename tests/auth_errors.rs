//! Every refusal a user will hit: one clear line on stderr and its documented exit code.

use vcall::auth::{KeyPair, Role, TokenClaims, unix_now};

use crate::common::*;

fn connect_with(server: &Server, session: &str, token: &str, args: &[&str]) -> (i32, String) {
    let mut c = vcall();
    c.args(args)
        .args(["--url", &server.url, "--session", session, "--token", token]);
    let (code, _, err) = run(c);
    (code, err)
}

#[test]
fn a_subscriber_token_cannot_publish_and_no_stream_appears() {
    let server = Server::start();
    let session = server.session();
    let (code, err) = connect_with(
        &server,
        &session,
        &server.token(&session, Role::Subscriber),
        &["publish", "--video", "testsrc", "--audio", "tone"],
    );
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("subscriber token cannot publish"), "{err}");
    let (code, out, _) = run(server.cmd(&session, Role::Subscriber, &["list-streams", "--json"]));
    assert_eq!(code, 0);
    assert!(out.contains("\"streams\":[]"), "{out}");
}

#[test]
fn bad_tokens_are_refused_with_the_auth_code() {
    let server = Server::start();
    let session = server.session();
    let other_session = server.session();
    let expired = server.token_with(&session, Role::Publisher, "", unix_now() - 10);
    let (code, err) = connect_with(&server, &session, &expired, &["connect"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("expired"), "{err}");

    let (code, err) = connect_with(
        &server,
        &session,
        &server.token(&other_session, Role::Publisher),
        &["connect"],
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("another session"), "{err}");

    let forger = KeyPair {
        key: server.keys.key.clone(),
        secret: "not-the-secret".into(),
    };
    let forged = forger.create_token(&TokenClaims {
        iss: forger.key.clone(),
        sid: session.clone(),
        role: Role::Moderator,
        data: String::new(),
        iat: unix_now(),
        exp: unix_now() + 60,
    });
    let (code, err) = connect_with(&server, &session, &forged, &["connect"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("signature"), "{err}");

    let (code, err) = connect_with(&server, &session, "garbage", &["list-streams"]);
    assert_eq!(code, 3, "{err}");

    // `connect` also reports the failure as an event on stdout, for scripts.
    let mut c = vcall();
    c.args([
        "connect",
        "--json",
        "--url",
        &server.url,
        "--session",
        &session,
        "--token",
        &expired,
    ]);
    let (code, out, _) = run(c);
    assert_eq!(code, 3);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0]["event"], "sessionFailed");
    assert_eq!(lines[0]["exitCode"], 3);
    // The command's failure, last, as every --json command ends one.
    assert_eq!(lines[1]["event"], "error");
    assert_eq!(lines[1]["exitCode"], 3);
}

#[test]
fn an_unknown_session_is_not_found() {
    let server = Server::start();
    let (code, err) = connect_with(&server, "1_nope.nope", "x.y.z", &["connect"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("session not found"), "{err}");
}

#[test]
fn an_unreachable_server_has_its_own_code() {
    // Bind and drop a port: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = vcall();
    c.args([
        "list-streams",
        "--url",
        &format!("ws://127.0.0.1:{port}"),
        "--session",
        "s",
        "--token",
        "t",
    ]);
    let (code, _, err) = run(c);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("cannot reach the server"), "{err}");
}

#[test]
fn missing_camera_and_microphone_are_device_errors() {
    let server = Server::start();
    let session = server.session();
    let (code, _, err) = run(server.cmd(
        &session,
        Role::Publisher,
        &["publish", "--video", "camera", "--no-audio"],
    ));
    assert_eq!(code, 10, "{err}");
    assert!(
        err.contains("testsrc"),
        "the error names the alternatives: {err}"
    );
    // ALSA is asked (no ~/.asoundrc of the user's here): without a sound card or a
    // plugin that captures, no microphone, said in one line.
    let home = temp_dir();
    let mut mic = server.cmd(
        &session,
        Role::Publisher,
        &["publish", "--audio", "mic", "--no-video"],
    );
    mic.env("HOME", home.path());
    let (code, _, err) = run(mic);
    assert_eq!(code, 10, "{err}");
    assert!(err.contains("tone"), "{err}");
    assert!(!err.contains("ALSA lib"), "{err}");
    let (code, out, _) = run({
        let mut c = vcall();
        c.arg("devices");
        c
    });
    assert_eq!(code, 0);
    assert!(out.contains("no cameras found"), "{out}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec![
            "publish",
            "--session",
            "s",
            "--token",
            "t",
            "--video",
            "nonsense",
        ],
        vec![
            "publish",
            "--session",
            "s",
            "--token",
            "t",
            "--no-audio",
            "--no-video",
        ],
        vec!["subscribe", "--session", "s", "--token", "t"],
        vec!["subscribe", "--session", "s", "--token", "t", "-o", "x.avi"],
        vec!["token", "create", "--session", "s"],
        vec![
            "connect",
            "--session",
            "s",
            "--token",
            "t",
            "--url",
            "http://x",
        ],
        vec![
            "connect",
            "--session",
            "s",
            "--token",
            "t",
            "--duration",
            "soon",
        ],
        vec!["subscribe", "-o", "x.mkv", "--max-size", "640"],
        vec!["subscribe", "-o", "x.mkv", "--max-size", "0x360"],
        // Janus's substreams have no sizes to choose by (refused before connecting).
        vec![
            "subscribe",
            "-o",
            "x.mkv",
            "--url",
            "janus+ws://127.0.0.1:9",
            "--session",
            "1",
            "--max-size",
            "640x360",
        ],
    ] {
        let mut c = vcall();
        c.args(&args);
        let (code, _, err) = run(c);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn serve_session_create_token_create_and_ctrl_c_from_the_command_line() {
    let mut serve = Proc::spawn({
        let mut c = vcall();
        c.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--udp-port",
            "0",
            "--api-key",
            "key1",
            "--api-secret",
            "secret1",
        ]);
        c
    });
    let url = serve_url(&mut serve);
    let keyed = |args: &[&str]| {
        let mut c = vcall();
        c.args(args)
            .env("VCALL_API_KEY", "key1")
            .env("VCALL_API_SECRET", "secret1")
            .env("VCALL_URL", &url);
        run(c)
    };
    let (code, session, err) =
        keyed(&["session", "create", "--p2p", "--location-hint", "10.0.0.1"]);
    assert_eq!(code, 0, "{err}");
    let session = session.trim().to_owned();
    let (code, json, _) = keyed(&["session", "create", "--json"]);
    assert_eq!(code, 0);
    assert!(json.contains("\"p2p\":false"), "{json}");
    let props = KeyPair {
        key: "key1".into(),
        secret: "secret1".into(),
    }
    .open_session(&session)
    .unwrap();
    assert!(props.p2p);
    assert_eq!(props.location_hint.as_deref(), Some("10.0.0.1"));

    let mut wrong = vcall();
    wrong.args([
        "session",
        "create",
        "--url",
        &url,
        "--api-key",
        "key1",
        "--api-secret",
        "wrong",
    ]);
    assert_eq!(run(wrong).0, 3);

    let (code, token, err) = keyed(&[
        "token",
        "create",
        "--session",
        &session,
        "--role",
        "subscriber",
        "--expire-in",
        "1h",
    ]);
    assert_eq!(code, 0, "{err}");
    let mut c = vcall();
    c.args([
        "connect",
        "--url",
        &url,
        "--session",
        &session,
        "--token",
        token.trim(),
    ]);
    let mut client = Proc::spawn(c);
    client.wait_for("sessionConnected");
    serve.interrupt();
    assert_eq!(serve.wait(), 0, "{}", serve.output());
    assert_eq!(client.wait(), 7, "{}", client.output());
    assert!(
        client.output().contains("the server shut down"),
        "{}",
        client.output()
    );
}
