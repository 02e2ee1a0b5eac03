//! LiveKit's protocol on `vcall serve`, against LiveKit's official Python SDK (its FFI library
//! carries Google's libwebrtc; `scripts/test-peers.sh` installs it into target/test-peers):
//! SDK participants publish H.264, VP8 and Opus that vcall records, and play a vcall
//! publisher; tokens from `vcall token create --livekit`; bad tokens and bad frames refused
//! with their reasons while the server keeps serving.

use std::path::PathBuf;
use std::process::Command;

use futures_util::{SinkExt, StreamExt};
use livekit_protocol as lk;
use prost::Message as _;
use tokio_tungstenite::tungstenite;
use vcall::auth::Role;

use crate::common::*;

/// `tests/peers/livekit_peer.py` with `args`.
fn sdk_peer(args: &[&str]) -> Command {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/livekit_peer.py");
    let mut c = Command::new(peers_python());
    c.arg(script).args(args);
    c
}

/// A LiveKit token of the key pair `k`/`s`, by `vcall token create --livekit`.
fn lk_token(room: &str, identity: &str, extra: &[&str]) -> String {
    lk_token_signed("s", room, identity, extra)
}

/// A LiveKit token of the API key `k` signed with `secret`.
fn lk_token_signed(secret: &str, room: &str, identity: &str, extra: &[&str]) -> String {
    let mut c = vcall();
    c.args(["token", "create", "--livekit", "--room", room])
        .args([
            "--identity",
            identity,
            "--api-key",
            "k",
            "--api-secret",
            secret,
        ])
        .args(extra);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    out.trim().to_owned()
}

/// The session a LiveKit room is on `vcall serve` (`vcall session create --room`).
fn room_session(room: &str) -> String {
    let mut c = vcall();
    c.args([
        "session",
        "create",
        "--room",
        room,
        "--api-key",
        "k",
        "--api-secret",
        "s",
    ]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let id = out.trim().to_owned();
    assert_eq!(id, fixed_keys().room_session(room));
    id
}

/// A vcall subscriber of the room's stream `stream` into `path`, for `frames` video frames.
fn record(url: &str, room: &str, stream: &str, path: &str, extra: &[&str]) -> Proc {
    let session = room_session(room);
    let mut c = vcall();
    c.args(["subscribe", "--url", url, "--session", &session, "--token"])
        .arg(fixed_token(&session, Role::Subscriber))
        .args(["--stream", stream, "--output", path])
        .args(extra);
    Proc::spawn(c)
}

#[test]
fn token_create_livekit_makes_a_token_livekit_verifies() {
    let token = lk_token("room1", "alice", &["--name", "Alice", "--can-subscribe"]);
    let claims = livekit_api::access_token::TokenVerifier::with_api_key("k", "s")
        .verify(&token)
        .expect("a valid LiveKit token");
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.name, "Alice");
    assert_eq!(claims.video.room, "room1");
    assert!(claims.video.room_join);
    assert!(claims.video.can_subscribe());
    assert!(!claims.video.can_publish());
    // Without a room: a usage error.
    let mut c = vcall();
    c.args(["token", "create", "--livekit", "--identity", "a"])
        .args(["--api-key", "k", "--api-secret", "s"]);
    let (code, _, err) = run(c);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn the_python_sdk_publishes_h264_and_opus_that_vcall_records() {
    let dir = temp_dir();
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let token = lk_token("h264", "py-publisher", &[]);
    let mut publisher = Proc::spawn(sdk_peer(&["publish", &url, &token, "--seconds", "30"]));
    publisher.wait_for("\"published\"");
    let video = file(dir.path(), "camera.mp4");
    let audio = file(dir.path(), "microphone.mkv");
    let mut v = record(
        &url,
        "h264",
        "camera",
        &path_str(&video),
        &["--frames", "60"],
    );
    let mut a = record(
        &url,
        "h264",
        "microphone",
        &path_str(&audio),
        &["--duration", "2"],
    );
    assert_eq!(v.wait(), 0, "{}", v.output());
    assert_eq!(a.wait(), 0, "{}", a.output());
    let frames = decode_video(&video);
    assert!(frames.len() >= 60, "{} frames", frames.len());
    assert_eq!((frames[0].1.width, frames[0].1.height), (320, 240));
    let p = probe(&video);
    assert_eq!(p["streams"][0]["codec_name"], "h264", "{p}");
    let (_, samples) = decode_audio(&audio);
    let seconds = samples.len() as f64 / 48000.0;
    assert!(seconds >= 1.5, "{seconds} s of audio");
    // The SDK's 440 Hz tone, not silence.
    let loud = samples.iter().filter(|s| s.unsigned_abs() > 2000).count();
    assert!(loud * 4 > samples.len(), "{loud} of {} loud", samples.len());
    publisher.interrupt();
}

#[test]
fn the_python_sdk_publishes_vp8_recorded_as_vp8() {
    let dir = temp_dir();
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let token = lk_token("vp8", "py-vp8", &[]);
    let mut publisher = Proc::spawn(sdk_peer(&[
        "publish",
        &url,
        &token,
        "--seconds",
        "30",
        "--codec",
        "vp8",
        "--no-audio",
    ]));
    publisher.wait_for("\"published\"");
    let video = file(dir.path(), "camera.mkv");
    let mut v = record(
        &url,
        "vp8",
        "camera",
        &path_str(&video),
        &["--frames", "45"],
    );
    assert_eq!(v.wait(), 0, "{}", v.output());
    let p = probe(&video);
    assert_eq!(p["streams"][0]["codec_name"], "vp8", "{p}");
    let frames = decode_video(&video);
    assert!(frames.len() >= 45, "{} frames", frames.len());
    publisher.interrupt();
}

/// The Python SDK publishes 1280x720 VP8 in its simulcast layers (rids q, h, f): vcall
/// subscribers get the layer each asks for, and an SDK subscriber the quality it sets
/// (`set_video_quality`, which the SDK allows on a track the server says is simulcast).
#[test]
fn the_python_sdk_publishes_simulcast_and_each_subscriber_gets_its_layer() {
    let dir = temp_dir();
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let token = lk_token("sim", "py-sim", &[]);
    let mut publisher = Proc::spawn(sdk_peer(&[
        "publish",
        &url,
        &token,
        "--seconds",
        "60",
        "--codec",
        "vp8",
        "--no-audio",
        "--size",
        "1280x720",
        "--simulcast",
    ]));
    publisher.wait_for("\"published\"");
    for (layer, width) in [("low", 320), ("high", 1280)] {
        let video = file(dir.path(), &format!("{layer}.mkv"));
        let mut v = record(
            &url,
            "sim",
            "camera",
            &path_str(&video),
            &["--frames", "60", "--layer", layer],
        );
        assert_eq!(v.wait(), 0, "{layer}: {}", v.output());
        let (sizes, errors) = video_frame_entries(&video, "width");
        assert!(errors.is_empty(), "{layer}: {errors}");
        assert_eq!(sizes.last(), Some(&width.to_string()), "{layer}: {sizes:?}");
    }
    let viewer = lk_token("sim", "py-viewer", &["--can-subscribe"]);
    let (code, out, err) = run(sdk_peer(&[
        "subscribe",
        &url,
        &viewer,
        "--frames",
        "90",
        "--quality",
        "low",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let r: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let widths: Vec<u64> = r["widths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_u64().unwrap())
        .collect();
    // It may start on another layer before its quality is set (the server's first pick);
    // then on the smallest (without the setting, a loopback path climbs to 1280).
    assert!(widths.len() >= 90, "{widths:?}");
    assert!(widths[60..].iter().all(|w| *w == 320), "{widths:?}");
    publisher.interrupt();
}

#[test]
fn the_python_sdk_plays_a_vcall_publisher() {
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let session = room_session("play");
    let mut c = vcall();
    c.args(publish_args("60s"))
        .args(["--url", &url, "--session", &session, "--token"])
        .arg(fixed_token(&session, Role::Publisher));
    let mut publisher = Proc::spawn(c);
    publisher.wait_for("stream is live");
    let token = lk_token("play", "py-viewer", &["--can-subscribe"]);
    let (code, out, err) = run(sdk_peer(&["subscribe", &url, &token, "--frames", "60"]));
    assert_eq!(code, 0, "{out}{err}");
    let r: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert!(r["frames"].as_u64().unwrap() >= 60, "{r}");
    assert!(r["audioFrames"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(
        (r["width"].as_u64(), r["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert!(r["trackSid"].as_str().unwrap().starts_with("TR_"), "{r}");
    publisher.interrupt();
}

/// The `/rtc` URL of the server at `ws_url` with `query`.
fn rtc(ws_url: &str, query: &str) -> String {
    format!("{ws_url}/rtc?{query}")
}

/// The status and body an HTTP GET gets.
fn http_get(url: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut r = agent.get(url).call().expect("the server answers");
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
}

#[test]
fn bad_tokens_are_refused_with_their_reason_before_the_upgrade() {
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let http = url.replace("ws://", "http://");
    let other = livekit_api::access_token::AccessToken::with_api_key("k", "another secret")
        .with_identity("a")
        .with_grants(livekit_api::access_token::VideoGrants {
            room_join: true,
            room: "r".into(),
            ..Default::default()
        })
        .to_jwt()
        .unwrap();
    let now = vcall::auth::unix_now();
    let expired = signed(&serde_json::json!({
        "iss": "k", "sub": "a", "nbf": now - 600, "exp": now - 120,
        "video": { "roomJoin": true, "room": "r" },
    }));
    let no_room = signed(&serde_json::json!({
        "iss": "k", "sub": "a", "nbf": now - 10, "exp": now + 600, "video": {},
    }));
    let cases = [
        (other, 401, "invalid authorization token"),
        (expired, 401, "expired"),
        (no_room, 401, "no room"),
        (String::new(), 401, "no token"),
    ];
    for (token, status, why) in cases {
        let q = if token.is_empty() {
            String::new()
        } else {
            format!("access_token={token}")
        };
        let (got, body) = http_get(&format!("{http}/rtc/validate?{q}"));
        assert_eq!(got, status, "{body}");
        assert!(body.contains(why), "{why:?} in {body:?}");
        // The upgrade is refused the same way.
        let rt = tokio::runtime::Runtime::new().unwrap();
        let refused = rt.block_on(tokio_tungstenite::connect_async(rtc(&url, &q)));
        match refused {
            Err(tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), status),
            other => panic!("{other:?}"),
        }
    }
    // `/rtc/v1` is not spoken: 404, which sends the SDKs to `/rtc`.
    assert_eq!(http_get(&format!("{http}/rtc/v1/validate")).0, 404);
    let good = lk_token("r", "a", &[]);
    let (got, body) = http_get(&format!("{http}/rtc/validate?access_token={good}"));
    assert_eq!((got, body.as_str()), (200, "success"));
}

/// A JWT of `claims` signed (HS256) with the secret `s`.
fn signed(claims: &serde_json::Value) -> String {
    use base64::Engine;
    use hmac::Mac;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let input = format!(
        "{}.{}",
        b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64.encode(claims.to_string())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s").unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64.encode(mac.finalize().into_bytes()))
}

/// Joins over `/rtc` with `token`: the socket and the `JoinResponse`.
async fn join(
    url: &str,
    token: &str,
) -> (
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    lk::JoinResponse,
) {
    let (mut ws, _) = tokio_tungstenite::connect_async(rtc(url, &format!("access_token={token}")))
        .await
        .expect("joined");
    let first = ws.next().await.expect("a message").expect("readable");
    let resp = lk::SignalResponse::decode(first.into_data()).expect("a SignalResponse");
    let Some(lk::signal_response::Message::Join(join)) = resp.message else {
        panic!("the first message is not a join: {resp:?}");
    };
    (ws, join)
}

#[test]
fn the_join_response_names_the_room_and_pings_are_answered() {
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (mut first, _) = join(&url, &lk_token("room", "first", &[])).await;
        let (mut ws, j) = join(&url, &lk_token("room", "second", &["--can-subscribe"])).await;
        assert_eq!(j.room.as_ref().unwrap().name, "room");
        let me = j.participant.as_ref().unwrap();
        assert!(me.sid.starts_with("PA_"), "{me:?}");
        assert_eq!(me.identity, "second");
        let perm = me.permission.as_ref().unwrap();
        assert!(perm.can_subscribe && !perm.can_publish, "{perm:?}");
        assert_eq!(j.other_participants.len(), 1, "{j:?}");
        assert_eq!(j.other_participants[0].identity, "first");
        assert!(j.ping_interval > 0 && j.ping_timeout > 0);
        assert!(!j.server_info.as_ref().unwrap().version.is_empty());
        let ping = lk::SignalRequest {
            message: Some(lk::signal_request::Message::PingReq(lk::Ping {
                timestamp: 1234,
                rtt: 0,
            })),
        };
        ws.send(tungstenite::Message::Binary(ping.encode_to_vec().into()))
            .await
            .unwrap();
        let pong = loop {
            let m = ws.next().await.unwrap().unwrap();
            let r = lk::SignalResponse::decode(m.into_data()).unwrap();
            if let Some(lk::signal_response::Message::PongResp(p)) = r.message {
                break p;
            }
        };
        assert_eq!(pong.last_ping_timestamp, 1234);
        // The first sees the second leave: DISCONNECTED.
        ws.close(None).await.unwrap();
        loop {
            let m = first.next().await.unwrap().unwrap();
            let r = lk::SignalResponse::decode(m.into_data()).unwrap();
            if let Some(lk::signal_response::Message::Update(u)) = r.message
                && u.participants.iter().any(|p| {
                    p.identity == "second" && p.state() == lk::participant_info::State::Disconnected
                })
            {
                break;
            }
        }
    });
}

#[test]
fn garbage_and_oversized_frames_close_that_socket_and_the_server_keeps_serving() {
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let token = lk_token("g", "garbage", &[]);
        let (mut ws, _) = join(&url, &token).await;
        ws.send(tungstenite::Message::Binary(vec![0xff; 64].into()))
            .await
            .unwrap();
        let closed = loop {
            match ws.next().await {
                Some(Ok(tungstenite::Message::Close(frame))) => break frame,
                Some(Ok(_)) => continue,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(u16::from(closed.unwrap().code), 1007);
        let (mut ws, _) = join(&url, &token).await;
        let big = vec![0u8; 2 << 20];
        let _ = ws.send(tungstenite::Message::Binary(big.into())).await;
        // Closed by the server; no reply to it.
        loop {
            match ws.next().await {
                Some(Ok(tungstenite::Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => continue,
            }
        }
        // And the next participant joins.
        let (_ws, j) = join(&url, &lk_token("g", "after", &[])).await;
        assert_eq!(j.participant.unwrap().identity, "after");
    });
}

/// `vcall ARGS --url livekit+ws://… --token TOKEN`.
fn over_livekit(args: &[&str], url: &str, token: &str) -> Command {
    let mut c = vcall();
    c.args(args).args([
        "--url",
        &url.replace("ws://", "livekit+ws://"),
        "--token",
        token,
    ]);
    c
}

/// A media connection that does not come up (every datagram of the first 8 s dropped) is set
/// up anew by joining the room again, as LiveKit's SDKs do: new connections, new offers.
#[test]
fn over_livekit_a_dead_connection_is_set_up_anew_by_joining_again() {
    use crate::setup::{DEAD_START, set_up_anew};
    let dir = temp_dir();
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let mut args = publish_args("60s");
    args.extend(["--json", "--impair", DEAD_START, "--timeout", "40s"]);
    let mut publisher = Proc::spawn(over_livekit(&args, &url, &lk_token("su", "publisher", &[])));
    publisher.wait_for("\"event\":\"reconnected\"");
    set_up_anew(&publisher.output());

    let viewer = lk_token("su", "viewer", &["--can-subscribe"]);
    // Each track is a stream of its own: the video's, by its id, once published again.
    let video = poll_until("the publisher's video track", || {
        let (code, listed, _) = run(over_livekit(&["list-streams", "--json"], &url, &viewer));
        let listed: serde_json::Value = serde_json::from_str(listed.trim()).ok()?;
        (code == 0).then_some(())?;
        listed["streams"]
            .as_array()?
            .iter()
            .find(|s| s["hasVideo"] == true)
            .and_then(|s| s["id"].as_str().map(str::to_owned))
    });
    let out = file(dir.path(), "anew.mp4");
    let mut c = over_livekit(&["subscribe", "--stream", &video], &url, &viewer);
    c.arg("--output").arg(&out).args([
        "--frames",
        "60",
        "--expect",
        "frames>=60,frames.lost==0",
        "--json",
        "--impair",
        DEAD_START,
        "--timeout",
        "40s",
    ]);
    let (code, said, err) = run(c);
    assert_eq!(code, 0, "{err}");
    set_up_anew(&said);
    let marks = marks_at_size(&out, (320, 240));
    assert!(marks.len() >= 60, "{} frames", marks.len());
    for w in marks.windows(2) {
        assert_eq!(w[1].frame, w[0].frame + 1, "frames in order, none missing");
    }
}

#[test]
fn vcall_publishes_and_records_every_track_over_livekit() {
    let dir = temp_dir();
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let mut publisher = Proc::spawn(over_livekit(
        &publish_args("60s"),
        &url,
        &lk_token("vv", "publisher", &[]),
    ));
    publisher.wait_for("stream is live");
    let viewer = lk_token("vv", "viewer", &["--can-subscribe"]);
    // One track, checked: every frame of the test pattern, in order.
    let one = file(dir.path(), "one.mp4");
    let mut c = over_livekit(&["subscribe", "--stream", "vcall"], &url, &viewer);
    c.arg("--output")
        .arg(&one)
        .args(["--frames", "60", "--expect", "frames>=60,frames.lost==0"]);
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let marks = marks_at_size(&one, (320, 240));
    assert!(marks.len() >= 60, "{} frames", marks.len());
    for w in marks.windows(2) {
        assert_eq!(w[1].frame, w[0].frame + 1, "frames in order, none missing");
    }
    // Every track of the room, each into a file of its own.
    let all = dir.path().join("all");
    let mut c = over_livekit(&["subscribe", "--duration", "3"], &url, &viewer);
    c.arg("--output-dir").arg(&all);
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&all)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    let (audio, video) = if path_str(&files[0]).ends_with("A.mp4") {
        (&files[0], &files[1])
    } else {
        (&files[1], &files[0])
    };
    assert!(decode_video(video).len() >= 30);
    let (_, samples) = decode_audio(audio);
    assert!(samples.len() >= 48_000, "{} samples", samples.len());
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
}

/// A simulcast publisher (vcall, three layers) and a vcall subscriber over LiveKit's protocol
/// asking for `--layer low` and `mid` (`UpdateTrackSettings`' quality `LOW`, `MEDIUM`; the
/// server's front end gives the subscription that layer, also when the setting comes while
/// the subscription is still being made): the pictures recorded are that layer's size.
#[test]
fn over_livekit_a_subscriber_gets_the_simulcast_layer_its_quality_asks_for() {
    let dir = temp_dir();
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let mut args = publish_args("60s");
    args.extend(["--simulcast", "3", "--video-bitrate", "1.5M"]);
    for (flag, value) in [("--width", "1280"), ("--height", "720")] {
        let at = args.iter().position(|a| *a == flag).unwrap();
        args[at + 1] = value;
    }
    let mut publisher = Proc::spawn(over_livekit(&args, &url, &lk_token("sl", "publisher", &[])));
    publisher.wait_for("stream is live");
    let viewer = lk_token("sl", "viewer", &["--can-subscribe"]);
    // A maximum size goes as the track's width and height (an SDK's adaptive stream), which
    // the server takes before the quality: 600x340 is within 10 % of the 640x360 layer.
    for (layer, ask, width, frames) in [
        ("low", ["--layer", "low"], 320, "60"),
        ("mid", ["--layer", "mid"], 640, "60"),
        // `auto` under it: up from the smallest once its path is measured.
        ("sized", ["--max-size", "600x340"], 640, "150"),
    ] {
        let out = file(dir.path(), &format!("{layer}.mkv"));
        let mut c = over_livekit(&["subscribe", "--stream", "vcall"], &url, &viewer);
        c.arg("--output").arg(&out).args(ask).args([
            "--frames",
            frames,
            "--expect",
            &format!("frames>={frames}"),
        ]);
        let (code, _, err) = run(c);
        assert_eq!(code, 0, "{layer}: {err}");
        let (sizes, errors) = video_frame_entries(&out, "width");
        assert!(errors.is_empty(), "{layer}: {errors}");
        // The subscription may start on the smallest layer before its setting is taken; once
        // on the layer asked for, it stays.
        let widths: Vec<u32> = sizes.iter().map(|w| w.parse().unwrap()).collect();
        let from = widths.iter().position(|w| *w == width);
        assert!(from.is_some(), "{layer}: {widths:?}");
        assert!(
            widths[from.unwrap()..].iter().all(|w| *w == width),
            "{layer}: {widths:?}"
        );
        assert!(widths.iter().all(|w| *w <= width), "{layer}: {widths:?}");
    }
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
}

#[test]
fn a_participant_leaving_is_told_as_session_events() {
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let mut watcher = Proc::spawn(over_livekit(
        &["connect", "--json", "--duration", "60s"],
        &url,
        &lk_token("ev", "watcher", &["--can-subscribe"]),
    ));
    watcher.wait_for("\"sessionConnected\"");
    let mut publisher = Proc::spawn(over_livekit(
        &publish_args("60s"),
        &url,
        &lk_token("ev", "pub1", &["--name", "Pub One"]),
    ));
    let created = watcher.wait_for("\"connectionCreated\"");
    assert!(created.contains("pub1 (Pub One)"), "{created}");
    assert!(created.contains("\"PA_"), "{created}");
    watcher.wait_for("\"streamCreated\"");
    watcher.wait_for("\"streamCreated\"");
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
    watcher.wait_for("\"streamDestroyed\"");
    watcher.wait_for("\"streamDestroyed\"");
    let gone = watcher.wait_for("\"connectionDestroyed\"");
    assert!(gone.contains("clientDisconnected"), "{gone}");
    watcher.interrupt();
}

#[test]
fn a_server_restart_mid_recording_over_livekit_goes_on_in_the_same_file() {
    let (mut server, url) = serve_process("127.0.0.1:0", &[]);
    let listen = url.trim_start_matches("ws://").to_owned();
    let mut publish = publish_args("60s");
    publish.push("--json");
    let mut publisher = Proc::spawn(over_livekit(&publish, &url, &lk_token("rs", "cam", &[])));
    publisher.wait_for("\"event\":\"published\"");
    let dir = temp_dir();
    let out = dir.path().join("restart.mkv");
    // The publisher by its identity: its camera (a LiveKit participant's tracks are streams
    // of one kind each, video first).
    let mut c = over_livekit(
        // 8 s of frames: far more than are made before the kill below, so that the rest
        // come after the server is back, however long it takes.
        &["subscribe", "--stream", "cam", "--frames", "240", "--json"],
        &url,
        &lk_token("rs", "viewer", &["--can-subscribe"]),
    );
    c.arg("--output").arg(&out);
    let mut subscriber = Proc::spawn(c);
    subscriber.wait_for("firstFrame");
    wait_for_media(&out, 1.0, &subscriber);

    // Killed outright (no goodbye), and back on the same address: the track sids are new
    // there; the recording finds its stream again by owner, name and kind.
    server.kill9();
    server.wait();
    let (mut again, _) = serve_process(&listen, &[]);
    assert_eq!(subscriber.wait(), 0, "{}", subscriber.output());
    crate::reconnect::said_it_joined_again(&subscriber.output());
    publisher.wait_for("\"event\":\"reconnected\"");
    publisher.wait_for("\"event\":\"published\"");
    // One file, every frame in order: those before the outage, a jump over the frames made
    // while the server was down, then the rest without another gap.
    one_gap(&out, 15, 30);
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
    again.interrupt();
    assert_eq!(again.wait(), 0);
}

#[test]
fn a_livekit_publisher_whose_media_path_breaks_restarts_ice_and_goes_on() {
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    // 8 s without a datagram on the publisher's path: ICE calls it disconnected, and the
    // publisher restarts ICE with a new offer on its publisher connection (signaling never
    // dropped).
    let mut publish = publish_args("60s");
    publish.extend(["--json", "--impair", "outage=8s@3s"]);
    let mut publisher = Proc::spawn(over_livekit(&publish, &url, &lk_token("ice", "cam", &[])));
    publisher.wait_for("\"event\":\"published\"");
    let dir = temp_dir();
    let out = dir.path().join("ice.mkv");
    // At most 90 frames are made before the outage (3 s at 30 fps): the rest of 150 come
    // after it, however long the restart takes.
    let mut c = over_livekit(
        &["subscribe", "--stream", "cam", "--frames", "150"],
        &url,
        &lk_token("ice", "viewer", &["--can-subscribe"]),
    );
    c.arg("--output").arg(&out);
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    publisher.wait_for("restarting ICE");
    publisher.wait_for("the media path is back");
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
    let said = publisher.output();
    assert!(
        !said.contains("\"event\":\"reconnecting\""),
        "not a new call: {said}"
    );
    // Frames in order, one gap (the outage's), and frames after it.
    at_most_one_gap(&out, 30);
}

#[test]
fn a_livekit_subscriber_whose_media_path_breaks_joins_again_and_records_on() {
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let mut publish = publish_args("60s");
    publish.push("--json");
    let mut publisher = Proc::spawn(over_livekit(
        &publish,
        &url,
        &lk_token("sub-ice", "cam", &[]),
    ));
    publisher.wait_for("\"event\":\"published\"");
    // 8 s without a datagram on the subscriber's path: its connection is offered by the
    // server, so it cannot restart ICE itself; it joins the room again (as the SDKs do when
    // they cannot resume) and goes on in the same file.
    let dir = temp_dir();
    let out = dir.path().join("sub-ice.mkv");
    let mut c = over_livekit(
        &[
            "subscribe",
            "--stream",
            "cam",
            // At most 90 frames before the outage (3 s of this process): the rest come after.
            "--frames",
            "150",
            "--json",
            "--impair",
            "outage=8s@3s",
        ],
        &url,
        &lk_token("sub-ice", "viewer", &["--can-subscribe"]),
    );
    c.arg("--output").arg(&out);
    let (code, stdout, err) = run(c);
    publisher.interrupt();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("the media connection broke"),
        "the broken path was the reason: {err}"
    );
    assert!(stdout.contains("\"reason\":\"mediaStopped\""), "{stdout}");
    crate::reconnect::said_it_joined_again(&stdout);
    at_most_one_gap(&out, 30);
}

#[test]
fn livekit_refusals_have_their_exit_codes_and_reasons() {
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    // Signed with another secret: 3.
    let bad = lk_token_signed("wrong", "r", "x", &[]);
    let (code, _, err) = run(over_livekit(&["list-streams"], &url, bad.trim()));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("signature"), "{err}");
    // Publishing without canPublish: 5.
    let mut publish = publish_args("2s");
    publish.extend(["--timeout", "10s"]);
    let (code, _, err) = run(over_livekit(
        &publish,
        &url,
        &lk_token("r", "viewer", &["--can-subscribe"]),
    ));
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("canPublish"), "{err}");
    // No token: a usage error before anything is sent.
    let (code, _, err) = run(over_livekit(&["list-streams"], &url, ""));
    assert_eq!(code, 2, "{err}");
    // A server that closes the socket before the join: 7, the connection lost.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            if let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await {
                let _ = ws.close(None).await;
            }
        }
    });
    let closing = format!("ws://127.0.0.1:{port}");
    let (code, _, err) = run(over_livekit(
        &["list-streams"],
        &closing,
        &lk_token("r", "a", &[]),
    ));
    assert_eq!(code, 7, "{err}");
    assert!(err.contains("before joining"), "{err}");
}

#[test]
fn the_browser_sdk_publishes_into_and_plays_from_vcall_serve() {
    let ns = LoopbackOnly::create();
    let (_serve, url) = ns.serve();
    let lk_url = url.replace("ws://", "livekit+ws://");
    let dir = temp_dir();

    // Chromium publishes its fake camera and microphone (VP8, Opus); vcall records the camera
    // over LiveKit's protocol.
    let out = dir.path().join("browser.mkv");
    let viewer = lk_token("browser", "recorder", &["--can-subscribe"]);
    let mut recorder = Proc::spawn(ns.vcall(&[
        "subscribe",
        "--stream",
        "camera",
        "-o",
        &path_str(&out),
        "--frames",
        "30",
        "--expect",
        "frames>=30",
        "--url",
        &lk_url,
        "--token",
        &viewer,
    ]));
    let published = ns.chromium(
        "livekit.html",
        &format!(
            "mode=publish&url={url}&token={}&seconds=6",
            lk_token("browser", "chromium", &[])
        ),
        &dir.path().join("profile-publish"),
    );
    assert!(published.get("error").is_none(), "{published}");
    assert_eq!(
        published["published"].as_array().unwrap().len(),
        2,
        "{published}"
    );
    assert!(
        published["framesSent"].as_u64().unwrap() >= 30,
        "{published}"
    );
    assert_eq!(recorder.wait(), 0, "{}", recorder.output());
    assert_eq!(probe(&out)["streams"][0]["codec_name"], "vp8");
    assert!(decode_video(&out).len() >= 30);

    // vcall publishes over LiveKit's protocol; Chromium plays it and decodes it, switches
    // the video off (`UpdateTrackSettings` disabled: the server forwards none of it) and on
    // again (it goes on from a keyframe).
    let mut args = publish_args("60s");
    let publisher = lk_token("browser", "vcall-cam", &[]);
    args.extend(["--url", &lk_url, "--token", &publisher]);
    let mut publisher = Proc::spawn(ns.vcall(&args));
    publisher.wait_for("stream is live");
    let played = ns.chromium(
        "livekit.html",
        &format!(
            "mode=play&pause=1&url={url}&token={}&seconds=4",
            lk_token("browser", "chromium-viewer", &["--can-subscribe"])
        ),
        &dir.path().join("profile-play"),
    );
    assert!(played.get("error").is_none(), "{played}");
    assert_eq!(played["pause"]["stopped"], true, "{played}");
    assert_eq!(played["pause"]["paused"], 0, "{played}");
    assert!(
        played["pause"]["resumed"].as_u64().unwrap() >= 30,
        "{played}"
    );
    assert!(played["framesDecoded"].as_u64().unwrap() >= 40, "{played}");
    assert!(played["audioPackets"].as_u64().unwrap() >= 50, "{played}");
    let identities: Vec<&str> = played["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["identity"].as_str())
        .collect();
    assert!(identities.contains(&"vcall-cam"), "{played}");
    publisher.interrupt();
}

/// A browser subscriber of a vcall VP8 simulcast publisher gets the layer its own path
/// carries. Its path is the server's media port's traffic class (`tc`: 400 kbit/s, a 15 KB
/// queue; the publisher's path is not in it): the smallest layer. Once the class widens, the
/// server's probes of the leg (RTP padding packets after a frame, which libwebrtc takes as
/// padding) show the wider path, and Chromium is back on the 1280x720 layer.
#[test]
fn a_browser_subscriber_gets_the_layer_its_path_carries_and_climbs_back_when_it_widens() {
    let ns = LoopbackOnly::create();
    let tc = |args: &[&str]| {
        let ok = ns.cmd("tc", args).status().is_ok_and(|s| s.success());
        assert!(ok, "tc {args:?} failed (this test needs the htb qdisc)");
    };
    tc(&[
        "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10",
    ]);
    tc(&[
        "class", "add", "dev", "lo", "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit",
    ]);
    let narrow = ["rate", "400kbit", "ceil", "400kbit"];
    let mut class = vec![
        "class", "add", "dev", "lo", "parent", "1:", "classid", "1:20", "htb",
    ];
    class.extend(narrow);
    tc(&class);
    tc(&[
        "qdisc", "add", "dev", "lo", "parent", "1:20", "bfifo", "limit", "15000",
    ]);
    tc(&[
        "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
        "match", "ip", "sport", "7882", "0xffff", "flowid", "1:20",
    ]);
    let mut serve = ns.vcall(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--udp-port",
        "7882",
        "--api-key",
        "k",
        "--api-secret",
        "s",
    ]);
    // Each probe of a leg's path is logged.
    serve.env("RUST_LOG", "info,vcall::server::forward=trace");
    let mut serve = Proc::spawn(serve);
    let url = serve_url(&mut serve);
    let lk_url = url.replace("ws://", "livekit+ws://");
    let token = lk_token("layers", "vcall-cam", &[]);
    let mut args = vec!["publish", "--video", "testsrc", "--audio", "tone"];
    args.extend(SIMULCAST_720P);
    args.extend(["--duration", "120s"]);
    args.extend(["--video-codec", "vp8", "--url", &lk_url, "--token", &token]);
    let mut publisher = Proc::spawn(ns.vcall(&args));
    publisher.wait_for("stream is live");
    let dir = temp_dir();
    let mut browser = ns.chromium_proc(
        "livekit.html",
        &format!(
            "mode=play&layers=1&url={url}&token={}&seconds=60",
            lk_token("layers", "chromium-viewer", &["--can-subscribe"])
        ),
        &dir.path().join("profile"),
    );
    browser.wait_for("NARROW 320");
    tc(&[
        "class", "change", "dev", "lo", "parent", "1:", "classid", "1:20", "htb", "rate", "10gbit",
    ]);
    let played = chromium_result(&mut browser);
    assert!(played.get("error").is_none(), "{played}");
    let widths: Vec<u64> = played["widths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_u64().unwrap())
        .collect();
    assert!(widths.contains(&320), "{played}");
    assert_eq!(widths.last(), Some(&1280), "{played}");
    // The server's media went through the class, which held it back at its rate.
    let out = ns
        .cmd(
            "tc",
            &["-s", "class", "show", "dev", "lo", "classid", "1:20"],
        )
        .output()
        .unwrap();
    let stats = String::from_utf8_lossy(&out.stdout);
    let after = |word: &str| -> u64 {
        let mut words = stats.split_whitespace().skip_while(|w| *w != word);
        let n = words.nth(1).unwrap_or("0");
        n.trim_end_matches(')').parse().unwrap_or(0)
    };
    assert!(after("Sent") > 100_000, "{stats}");
    assert!(after("overlimits") > 0, "{stats}");
    publisher.interrupt();
    publisher.wait();
    // Chromium's leg was probed (padding packets: VP8 has no filler) and it decoded on.
    serve.interrupt();
    serve.wait();
    assert!(serve.output().contains("a leg's path probed"));
}
