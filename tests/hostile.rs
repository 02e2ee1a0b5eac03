//! What the server does with clients that misbehave: silence after the handshake, binary
//! frames, oversized messages, another protocol version, too many sockets. Raw WebSockets, so nothing in vcall's own
//! client can smooth them over.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use vcall::auth::Role;

use crate::common::*;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Runtime::new().expect("runtime").block_on(f)
}

async fn open(url: &str) -> Socket {
    let (socket, _) = tokio_tungstenite::connect_async(format!("{url}/v1/signaling"))
        .await
        .expect("the server accepts the socket");
    socket
}

/// The next text message, or None when the socket closes first.
async fn next_text(socket: &mut Socket) -> Option<serde_json::Value> {
    loop {
        match tokio::time::timeout(LIMIT, socket.next()).await.ok()?? {
            Ok(Message::Text(text)) => return serde_json::from_str(&text).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// Whether the server closes the socket.
async fn closes(socket: &mut Socket) -> bool {
    tokio::time::timeout(LIMIT, async {
        while let Some(Ok(m)) = socket.next().await {
            if let Message::Close(_) = m {
                return true;
            }
        }
        true
    })
    .await
    .unwrap_or(false)
}

#[test]
fn a_socket_that_sends_no_connect_is_closed_after_10_s() {
    let server = Server::start();
    block_on(async {
        let started = std::time::Instant::now();
        let mut socket = open(&server.url).await;
        let error = next_text(&mut socket).await.expect("an error first");
        assert_eq!(error["type"], "error", "{error}");
        assert_eq!(error["code"], "connectTimeout", "{error}");
        assert!(closes(&mut socket).await);
        assert!(started.elapsed() >= Duration::from_secs(10));
    });
}

#[test]
fn binary_frames_get_an_error_not_silence() {
    let server = Server::start();
    block_on(async {
        let mut socket = open(&server.url).await;
        socket
            .send(Message::Binary(vec![0x7b, 0, 1].into()))
            .await
            .unwrap();
        let error = next_text(&mut socket).await.expect("an error");
        assert_eq!(error["code"], "badRequest", "{error}");
        assert!(
            error["message"].as_str().unwrap().contains("binary"),
            "{error}"
        );
        assert!(closes(&mut socket).await);
    });
}

#[test]
fn a_client_of_another_protocol_version_is_told_so_and_closed() {
    let server = Server::start();
    block_on(async {
        let mut socket = open(&server.url).await;
        let connect = r#"{"type":"connect","version":99,"sessionId":"x","token":"y"}"#;
        socket.send(Message::text(connect)).await.unwrap();
        let error = next_text(&mut socket).await.expect("an error");
        assert_eq!(error["code"], "versionUnsupported", "{error}");
        assert!(
            error["message"].as_str().unwrap().contains("version 99"),
            "{error}"
        );
        assert!(closes(&mut socket).await);
    });
}

#[test]
fn an_oversized_message_closes_the_socket() {
    let server = Server::start();
    block_on(async {
        let mut socket = open(&server.url).await;
        let huge = format!(
            "{{\"type\":\"disconnect\",\"pad\":\"{}\"}}",
            "x".repeat(2 << 20)
        );
        // The server may close while the frame is still going out.
        let _ = socket.send(Message::text(huge)).await;
        assert!(closes(&mut socket).await);
    });
}

#[test]
fn connections_beyond_the_limits_are_refused_with_the_reason() {
    let (mut serve, url) = serve_process("127.0.0.1:0", &["--max-connections-per-ip", "2"]);
    block_on(async {
        let _first = open(&url).await;
        let _second = open(&url).await;
        let mut third = open(&url).await;
        let error = next_text(&mut third).await.expect("an error");
        assert_eq!(error["code"], "tooManyConnections", "{error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("--max-connections-per-ip"),
            "{error}"
        );
        assert!(closes(&mut third).await);
        // The CLI says why, with the exit code for an unreachable server.
        let (code, _, err) = run(list_streams(&url));
        assert_eq!(code, 6, "{err}");
        assert!(err.contains("connection limit"), "{err}");
    });
    // Once the two are gone, a client gets in again (and fails on its made-up session).
    let (code, _, err) = run(list_streams(&url));
    assert_ne!(code, 6, "{err}");
    serve.interrupt();
    assert_eq!(serve.wait(), 0);
}

fn list_streams(url: &str) -> std::process::Command {
    let mut c = vcall();
    c.args([
        "list-streams",
        "--url",
        url,
        "--session",
        "x",
        "--token",
        "t",
    ]);
    c
}

#[test]
fn a_server_whose_media_port_is_taken_says_so_before_it_serves() {
    // Every client's media shares one port: a server that cannot have it fails at once
    // (exit 1, naming the port), rather than later, for each client.
    let held = std::net::UdpSocket::bind("127.0.0.1:0").expect("a port");
    let port = held.local_addr().expect("its address").port().to_string();
    let range = format!("{port}-{port}");
    for flags in [["--udp-port", &port], ["--udp-ports", &range]] {
        let mut c = vcall();
        c.args(["serve", "--listen", "127.0.0.1:0"]).args(flags);
        let (code, _, err) = run(c);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("cannot start the media engine"), "{err}");
        assert!(!err.contains("serving on"), "{err}");
        let said = if flags[0] == "--udp-port" {
            format!("cannot use UDP port 127.0.0.1:{port}")
        } else {
            format!("no UDP port free in {range}")
        };
        assert!(err.contains(&said), "{err}");
    }
    drop(held);
}

/// The last `stats` line's video track in a publisher's JSON output.
fn last_video_stats(out: &str) -> serde_json::Value {
    out.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "stats")
        .filter_map(|v| {
            v["tracks"]
                .as_array()?
                .iter()
                .find(|t| t["kind"] == "video")
                .cloned()
        })
        .next()
        .expect("a stats line with the video track")
}

/// A subscriber on another stack (aiortc, over WHEP) floods the server with 2,000 keyframe
/// requests and 2,000 retransmission requests while a vcall subscriber records. The publisher
/// hears at most one of its keyframe requests per 500 ms, none of its retransmission
/// requests (the server answers those from its own buffer), and the recording misses
/// nothing. Bounds by construction: the storm's own span, the throttle's gap.
#[test]
fn a_subscribers_rtcp_flood_does_not_reach_the_publisher() {
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let session = fixed_session("rtcp-storm");
    let on = |role: Role, args: &[&str]| client(&url, &session, role, args);
    let mut args = publish_args("60s");
    args.extend(["--stats-interval", "1s", "--json"]);
    let mut publisher = Proc::spawn(on(Role::Publisher, &args));
    publisher.wait_for("stream is live");
    let dir = temp_dir();
    let out = path_str(&dir.path().join("calm.mkv"));
    // Recording from before the storm until after it.
    let mut calm = Proc::spawn(on(
        Role::Subscriber,
        &["subscribe", "-o", &out, "--expect", "frames.lost==0"],
    ));
    calm.wait_for("first frame");
    let http = url.replacen("ws://", "http://", 1);
    let mut storm = std::process::Command::new(peers_python());
    storm.arg(peer_script("rtcp_storm.py")).args([
        &format!("{http}/whep/{session}"),
        &fixed_token(&session, Role::Subscriber),
        "2000",
    ]);
    let (code, stormed, err) = run(storm);
    assert_eq!(code, 0, "{err}");
    let stormed: serde_json::Value = serde_json::from_str(stormed.trim()).expect(&stormed);
    let (plis, nacks) = (
        stormed["plis"].as_f64().unwrap(),
        stormed["nacks"].as_f64().unwrap(),
    );
    assert!(plis == 2000.0 && nacks == 2000.0, "{stormed}");
    calm.interrupt();
    assert_eq!(calm.wait(), 130, "{}", calm.output());
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
    let video = last_video_stats(&publisher.output());
    // The storm's requests, one per 500 ms at most, and a few of the calm subscriber's
    // and of joining.
    let heard = video["plis"].as_f64().unwrap();
    let bound = stormed["seconds"].as_f64().unwrap() / 0.5 + 6.0;
    assert!(
        heard <= bound,
        "the publisher heard {heard} PLIs of {plis} (bound {bound}): {video}"
    );
    assert!(video["nacks"].as_f64().unwrap() < nacks / 100.0, "{video}");
}

/// A subscriber on another stack (aiortc, over WHEP) sends media it was not granted on its
/// own connection, encrypted as the connection's: 3,000 packets that look like H.264
/// keyframes, under the publisher's own SSRCs (another connection's), the SSRC the server
/// sends it the video on, and a random one. None of it reaches anyone: a vcall recording of
/// the stream made meanwhile has every frame, in order, each the publisher's picture (its
/// burned-in number), and the hostile subscriber's own video goes on. (rtc drops packets of
/// an SSRC no receiver was negotiated for before vcall sees them: they are not counted.)
#[test]
fn media_a_subscriber_was_not_granted_is_dropped_whatever_its_ssrc() {
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let session = fixed_session("rtp-inject");
    let on = |role: Role, args: &[&str]| client(&url, &session, role, args);
    let mut publisher = Proc::spawn(on(Role::Publisher, &publish_args("60s")));
    publisher.wait_for("stream is live");
    // The publisher's SSRCs, from its log.
    let ssrc = |name: &str| -> String {
        let out = publisher.output();
        let at = out.find(&format!("{name}=")).expect(&out) + name.len() + 1;
        out[at..].chars().take_while(char::is_ascii_digit).collect()
    };
    let owned = format!("{},{}", ssrc("video_ssrc"), ssrc("audio_ssrc"));
    let dir = temp_dir();
    let out = dir.path().join("calm.mkv");
    let mut calm = Proc::spawn(on(
        Role::Subscriber,
        &[
            "subscribe",
            "-o",
            &path_str(&out),
            "--expect",
            "frames.lost==0",
        ],
    ));
    calm.wait_for("first frame");
    let http = url.replacen("ws://", "http://", 1);
    let mut inject = std::process::Command::new(peers_python());
    inject.arg(peer_script("rtp_inject.py")).args([
        &format!("{http}/whep/{session}"),
        &fixed_token(&session, Role::Subscriber),
        &owned,
        "3000",
    ]);
    let (code, said, err) = run(inject);
    assert_eq!(code, 0, "{err}");
    let said: serde_json::Value = serde_json::from_str(said.trim()).expect(&said);
    assert_eq!(said["sent"], 3000, "{said}");
    assert!(said["framesAfter"].as_u64().unwrap() > 0, "{said}");
    // Dropped before the WebRTC stack, and counted: a loopback socket may lose some of a
    // burst under load, so at least most of them (none were counted before).
    let ungranted =
        crate::metrics::scrape(&url, None).get("vcall_dropped_packets_total{reason=ungranted}");
    assert!(
        (1000.0..=3000.0).contains(&ungranted),
        "{ungranted} counted"
    );
    calm.interrupt();
    assert_eq!(calm.wait(), 130, "{}", calm.output());
    let marks = marks_at_size(&out, (320, 240));
    assert!(marks.len() >= 60, "{} frames", marks.len());
    for w in marks.windows(2) {
        assert_eq!(w[1].frame, w[0].frame + 1, "frames in order, none missing");
    }
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
}

/// A subscriber on another stack (aiortc, over WHEP, AES-CM alone) has SRTCP sent from its
/// address that it did not seal: 200 NACKs (3,400 packets asked for) that say they are not
/// encrypted and carry no real tag. rtc-srtp would take them unchecked (`peer/keys.rs`), and
/// the server would send again what they ask for; it drops and counts them before the WebRTC
/// stack instead, and the subscriber's own SRTCP and video go on. The server found that
/// connection's AES-CM keys itself (its log says so), as it does the publisher's AEAD ones.
#[test]
fn srtcp_a_far_end_did_not_seal_is_dropped() {
    let (mut serve, url) = serve_process("127.0.0.1:0", &["-v"]);
    let session = fixed_session("srtcp-forge");
    let mut publisher = Proc::spawn(client(
        &url,
        &session,
        Role::Publisher,
        &publish_args("60s"),
    ));
    publisher.wait_for("stream is live");
    serve.wait_for("SRTP keys derived by vcall (SRTP_AEAD_AES_128_GCM) opened a packet each way");
    let http = url.replacen("ws://", "http://", 1);
    let mut forge = std::process::Command::new(peers_python());
    forge.arg(peer_script("srtcp_forge.py")).args([
        &format!("{http}/whep/{session}"),
        &fixed_token(&session, Role::Subscriber),
        "200",
    ]);
    let (code, said, err) = run(forge);
    assert_eq!(code, 0, "{err}");
    let said: serde_json::Value = serde_json::from_str(said.trim()).expect(&said);
    assert_eq!(said["sent"], 200, "{said}");
    assert!(said["framesAfter"].as_u64().unwrap() > 0, "{said}");
    serve.wait_for(
        "SRTP keys derived by vcall (SRTP_AES128_CM_HMAC_SHA1_80) opened a packet each way",
    );
    // What it forwarded to aiortc it sealed itself (aiortc decoded frames after the forging).
    serve.said("RTP sealed by the engine from here on sealer=Sealer(CM, 10-byte tag)");
    // Paced, on loopback: all of them arrive but under a load that drops some datagrams;
    // none of the subscriber's own (it sends reports all along) is among them.
    let metrics = crate::metrics::scrape(&url, None);
    let dropped = metrics.get("vcall_dropped_packets_total{reason=unauthenticated}");
    assert!((100.0..=200.0).contains(&dropped), "{dropped} counted");
    // What the real NACKs of a clean loopback path ask for, not the forged ones' 17 each.
    let asked = metrics.get("vcall_nack_requested_packets_total{}");
    assert!(asked < 1000.0, "{asked} packets asked for again");
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
}
