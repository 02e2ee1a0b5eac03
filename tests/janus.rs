//! Against a real Janus (Debian's package, started by the harness): the same commands, events,
//! recordings and exit codes as against the embedded server, over both Janus transports.

use std::process::Command;

use crate::common::janus::{self, Janus};
use crate::common::*;

/// A publisher of the test pattern and tone into `room` (created if missing).
pub(crate) fn publisher(j: &Janus, url: &str, room: &str, name: &str) -> Proc {
    let mut p = Proc::spawn(j.cmd(
        url,
        room,
        &[
            "publish",
            "--create-room",
            "--name",
            name,
            "--video",
            "testsrc",
            "--audio",
            "tone",
            "--width",
            "320",
            "--height",
            "240",
            "--video-bitrate",
            "600k",
            // Debug lines too (the key check's, the sealing's).
            "-v",
        ],
    ));
    p.wait_for("stream is live");
    p
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn a_stream_published_into_a_room_is_recorded_intact() {
    // Published over the WebSocket transport, recorded over HTTP long poll.
    let j = janus::shared();
    let mut p = publisher(j, &j.ws, "1001", "cam");
    let dir = temp_dir();
    let out = dir.path().join("room.mp4");
    let (code, stdout, err) = run(j.cmd(
        &j.http,
        "1001",
        &[
            "subscribe",
            "-o",
            &path_str(&out),
            "--duration",
            "4s",
            "--json",
            "--stats-interval",
            "1s",
            "-v",
        ],
    ));
    assert_eq!(code, 0, "{err}");
    crate::media::check_recording(&out, 4.0);
    // Stats from Janus's leg: its packets, the picture's size, the ICE round trip.
    let lines = json_lines(&stdout);
    assert!(lines.iter().any(|l| l["event"] == "stats"), "{stdout}");
    let video = crate::stats::summary_track(&lines, "video");
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(320), Some(240))
    );
    assert!(video["packets"].as_u64().unwrap() >= 100, "{video}");
    assert!(video["keyframes"].as_u64().unwrap() >= 1, "{video}");
    let audio = crate::stats::summary_track(&lines, "audio");
    assert!(audio["frames"].as_u64().unwrap() >= 150, "{audio}");
    let summary = lines.iter().find(|l| l["event"] == "statsSummary").unwrap();
    assert!(summary["rttMs"]["avg"].as_f64().is_some(), "{summary}");
    // The SRTP profile: an AEAD one (vcall offers them first; Janus's libsrtp takes the
    // 256-bit one).
    let srtp = lines.iter().rev().find_map(|l| l["srtp"].as_str());
    assert_eq!(srtp, Some("SRTP_AEAD_AES_256_GCM"), "{stdout}");
    // vcall found the keys itself too.
    assert!(
        err.contains("SRTP keys derived by vcall (SRTP_AEAD_AES_256_GCM) opened a packet each way"),
        "{err}"
    );
    // The publisher sealed what it sent itself, which Janus's libsrtp opened (the
    // recording above is of what Janus forwarded).
    p.said("SRTP keys derived by vcall (SRTP_AEAD_AES_256_GCM) opened a packet each way");
    p.said("RTP sealed by the engine from here on sealer=Sealer(GCM)");
}

#[test]
fn vp8_from_a_browser_like_publisher_is_recorded() {
    let j = janus::shared();
    let dir = temp_dir();
    let ivf = vp8_clip(dir.path());
    let out = dir.path().join("vp8.mkv");
    let mut sub = Proc::spawn(j.cmd(
        &j.ws,
        "1005",
        &[
            "subscribe",
            "--create-room",
            "-o",
            &path_str(&out),
            "--frames",
            "25",
            "-v",
        ],
    ));
    sub.wait_for("waiting for a stream");
    let mut p = Proc::spawn(j.cmd(
        &j.ws,
        "1005",
        &["publish", "--video", &path_str(&ivf), "--no-audio"],
    ));
    assert_eq!(sub.wait(), 0, "{}", sub.output());
    p.interrupt();
    p.wait();
    let probe = probe(&out);
    assert_eq!(probe["streams"][0]["codec_name"], "vp8", "{probe}");
    assert_eq!(decode_video(&out).len(), 25);
}

#[test]
fn two_publishers_are_listed_and_followed_until_one_leaves() {
    let j = janus::shared();
    let room = "1002";
    let mut watcher = Proc::spawn(j.cmd(&j.ws, room, &["connect", "--json", "--create-room"]));
    watcher.wait_for("sessionConnected");
    let _alice = publisher(j, &j.ws, room, "alice");
    let mut bob = publisher(j, &j.http, room, "bob");
    watcher.wait_for("\"name\":\"alice\"");
    watcher.wait_for("\"name\":\"bob\"");

    let (code, out, err) = run(j.cmd(&j.ws, room, &["list-streams", "--json"]));
    assert_eq!(code, 0, "{err}");
    let listed = &json_lines(&out)[0];
    let mut names: Vec<&str> = listed["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["alice", "bob"], "{out}");
    // The watcher and the two publishers, besides the lister itself.
    assert_eq!(listed["connectionCount"], 3, "{out}");
    let (code, out, _) = run(j.cmd(&j.http, room, &["list-streams"]));
    assert_eq!(code, 0);
    assert!(out.contains("2 stream(s), 3 connection(s)"), "{out}");

    bob.interrupt();
    assert_eq!(bob.wait(), 130, "{}", bob.output());
    let gone = watcher.wait_for("streamDestroyed");
    assert!(gone.contains("\"name\":\"bob\""), "{gone}");
    watcher.wait_for("connectionDestroyed");
    let (_, out, _) = run(j.cmd(&j.ws, room, &["list-streams", "--json"]));
    let streams = json_lines(&out)[0]["streams"].as_array().unwrap().clone();
    assert_eq!(streams.len(), 1, "{out}");
    assert_eq!(streams[0]["name"], "alice");
}

#[test]
fn echo_test_reports_the_round_trip() {
    let j = janus::shared();
    for url in [&j.ws, &j.http] {
        let (code, out, err) = run(j.cmd(url, "", &["echo-test", "--json", "--frames", "90"]));
        assert_eq!(code, 0, "{err}");
        let r = &json_lines(&out)[0];
        assert_eq!(r["ok"], true, "{out}");
        assert_echo_came_back(r, &out, 90);
    }
}

#[test]
fn tls_transports_work_with_a_trusted_certificate_and_refuse_others() {
    let j = janus::shared();
    for url in [&j.wss, &j.https] {
        let mut c = j.cmd(url, "", &["echo-test", "--json", "--duration", "1s"]);
        c.env("SSL_CERT_FILE", j.cert());
        let (code, out, err) = run(c);
        assert_eq!(code, 0, "{url}: {err}");
        assert_eq!(json_lines(&out)[0]["ok"], true, "{out}");
        // Without trusting it: the certificate is refused, clearly.
        let (code, _, err) = run(j.cmd(url, "1", &["list-streams", "--max-retries", "0"]));
        assert_eq!(code, 6, "{url}: {err}");
        assert!(err.contains("certificate"), "{url}: {err}");
    }
}

/// Drops, on arrival, RTP and RTCP (first byte 128-191, RFC 7983) from a Janus's media ports,
/// leaving ICE and DTLS alone: the call connects, and no media comes back.
struct DropRtpFrom(String);

impl DropRtpFrom {
    fn ports(range: (u16, u16)) -> DropRtpFrom {
        let spec = format!("{}:{}", range.0, range.1);
        let r = DropRtpFrom(spec);
        assert!(
            r.iptables("-A"),
            "iptables failed (this test needs root, iptables and the u32 match)"
        );
        r
    }
    fn iptables(&self, op: &str) -> bool {
        Command::new("iptables")
            .args([
                op, "INPUT", "-p", "udp", "--sport", &self.0, "-m", "u32", "--u32",
            ])
            .arg("0>>22&0x3C@8>>24=128:191")
            .args(["-j", "DROP"])
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for DropRtpFrom {
    fn drop(&mut self) {
        self.iptables("-D");
    }
}

#[test]
fn echo_test_fails_when_nothing_comes_back() {
    let j = Janus::start();
    let _drop = DropRtpFrom::ports(j.rtp_ports);
    let (code, out, err) = run(j.cmd(&j.ws, "", &["echo-test", "--duration", "2s"]));
    assert_eq!(code, 9, "{out}\n{err}");
    assert!(err.contains("no video and no audio came back"), "{err}");
}

#[test]
fn keepalives_hold_a_session_past_janus_timeout() {
    // Janus drops a silent session after 60 s. Two watchers join; the one without keepalives
    // is dropped, the other still hears the room afterwards.
    let j = janus::shared();
    let room = "1003";
    let mut kept = Proc::spawn(j.cmd(&j.ws, room, &["connect", "--json", "--create-room"]));
    kept.wait_for("sessionConnected");
    let mut silent = Proc::spawn(j.cmd(
        &j.ws,
        room,
        &["connect", "--json", "--keepalive-interval", "0"],
    ));
    silent.wait_for("sessionConnected");
    // Janus checks for silent sessions every couple of seconds after the 60 s.
    let timed_out =
        silent.wait_for_within("sessionDisconnected", std::time::Duration::from_secs(150));
    assert!(timed_out.contains("sessionTimeout"), "{timed_out}");
    assert_eq!(silent.wait(), 7, "{}", silent.output());
    assert!(
        silent.output().contains("timed the session out"),
        "{}",
        silent.output()
    );
    let _late = publisher(j, &j.ws, room, "late");
    kept.wait_for("\"name\":\"late\"");
}

#[test]
fn janus_errors_are_clear_and_coded() {
    let j = janus::shared();
    let cases: [(&str, &str, &str, i32, &str); 4] = [
        (janus::TOKEN, "999999", "", 4, "No such room"),
        (janus::TOKEN, "4321", "1111", 3, "wrong pin"),
        ("not-the-token", "4321", "", 3, "Unauthorized"),
        ("", "4321", "", 3, "Unauthorized"),
    ];
    for (token, room, pin, want, text) in cases {
        for url in [&j.ws, &j.http] {
            let mut c = vcall();
            c.args([
                "list-streams",
                "--url",
                url,
                "--session",
                room,
                "--token",
                token,
            ]);
            if !pin.is_empty() {
                c.args(["--pin", pin]);
            }
            let (code, _, err) = run(c);
            assert_eq!(code, want, "{token} {room} {pin} {url}: {err}");
            assert!(err.contains(text), "{token} {room} {pin} {url}: {err}");
        }
    }
    let (code, _, err) = run(j.cmd("janus+ftp://127.0.0.1:1", "1", &["list-streams"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a Janus URL is"), "{err}");
    // The right PIN gets in.
    let (code, _, err) = run(j.cmd(&j.ws, "4321", &["list-streams", "--pin", "2468"]));
    assert_eq!(code, 0, "{err}");
    // Nobody listening: retried, then exit 6.
    let closed = format!("janus+ws://127.0.0.1:{}", free_port());
    let mut c = j.cmd(
        &closed,
        "1",
        &[
            "list-streams",
            "--max-retries",
            "2",
            "--retry-delay",
            "50ms",
        ],
    );
    c.env("RUST_LOG", "warn");
    let (code, _, err) = run(c);
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("attempt 2 of 2"), "{err}");
    assert!(err.contains("cannot reach"), "{err}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP relay to Janus that can drop every connection through it, as a flaky network would.
struct Relay {
    port: u16,
    live: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Relay {
    fn to(target: &str) -> Relay {
        let target: std::net::SocketAddr = target.parse().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let live: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>> = Default::default();
        let live2 = live.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = std::net::TcpStream::connect(target) else {
                    continue;
                };
                let mut l = live2.lock().unwrap();
                l.push(client.try_clone().unwrap());
                l.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Relay { port, live }
    }

    /// Drops every connection now open; new ones are relayed again.
    fn cut(&self) {
        for s in self.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

#[test]
fn a_dropped_websocket_is_reconnected_and_the_session_claimed_back() {
    let j = janus::shared();
    let room = "1004";
    let relay = Relay::to(j.ws.trim_start_matches("janus+ws://"));
    let via_relay = format!("janus+ws://127.0.0.1:{}", relay.port);
    let mut watcher = Proc::spawn(j.cmd(
        &via_relay,
        room,
        &[
            "connect",
            "--json",
            "--create-room",
            "--retry-delay",
            "100ms",
        ],
    ));
    watcher.wait_for("sessionConnected");
    relay.cut();
    watcher.wait_for("reconnecting");
    watcher.wait_for("claimed the session");
    // Still in the room: a newcomer is seen.
    let _p = publisher(j, &j.ws, room, "after-the-drop");
    watcher.wait_for("\"name\":\"after-the-drop\"");
}

#[test]
fn a_vp8_only_room_gets_vp8_from_a_publisher_that_names_no_codec() {
    // Room 5556 takes VP8 only (Janus's default): vcall offers H.264, VP8 and VP9, Janus
    // answers VP8, and the test pattern is encoded to VP8; the recording decodes (ffmpeg) with
    // every frame's marks, and another stack (aiortc) receives and decodes it through Janus.
    let j = janus::shared();
    let dir = temp_dir();
    let out = dir.path().join("vp8-room.mkv");
    let mut sub = Proc::spawn(j.cmd(
        &j.ws,
        "5556",
        &[
            "subscribe",
            "-o",
            &path_str(&out),
            "--frames",
            "60",
            "--expect",
            "frames.lost==0, latency.max<3s",
            "-v",
        ],
    ));
    sub.wait_for("waiting for a stream");
    let mut p = Proc::spawn(j.cmd(
        &j.ws,
        "5556",
        &[
            "publish", "--video", "testsrc", "--audio", "tone", "--width", "320", "--height",
            "240", "--json",
        ],
    ));
    assert_eq!(sub.wait(), 0, "{}", sub.output());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peers/aiortc_janus_subscriber.py");
    let http = j.http.trim_start_matches("janus+");
    let aiortc = Command::new(peers_python())
        .arg(script)
        .args([http, janus::TOKEN, "5556", "30"])
        .output()
        .expect("python runs");
    let said = String::from_utf8_lossy(&aiortc.stdout);
    let line = said.lines().find_map(|l| l.strip_prefix("RESULT "));
    let r: serde_json::Value = serde_json::from_str(line.unwrap_or("null")).unwrap();
    let stderr = String::from_utf8_lossy(&aiortc.stderr);
    assert_eq!(r["codec"], "VP8", "{r} {stderr}");
    assert_eq!(r["frames"], 30, "{r}");
    assert_eq!(
        (&r["width"], &r["height"]),
        (&320.into(), &240.into()),
        "{r}"
    );
    p.interrupt();
    p.wait();
    assert!(
        p.output().contains(r#""videoCodec":"VP8""#),
        "{}",
        p.output()
    );
    assert_whole_pattern_in(&out, "vp8", 60);
}

/// vcall publishes three simulcast layers of 1280x720 pictures into a room it creates
/// (Janus takes RID-based simulcast, the largest layer first as its default order); a
/// subscriber asking for each substream in turn (`--layer low`, `mid`, `high`: Janus's
/// `configure` with `substream` 0, 1, 2) records that layer's pictures, at their size.
#[test]
fn a_simulcast_publisher_in_janus_is_received_at_each_substream_asked_for() {
    let j = janus::shared();
    let room = "1071";
    let mut p = Proc::spawn(
        j.cmd(
            &j.ws,
            room,
            &[
                &[
                    "publish",
                    "--create-room",
                    "--video",
                    "testsrc",
                    "--audio",
                    "tone",
                ][..],
                &SIMULCAST_720P,
            ]
            .concat(),
        ),
    );
    p.wait_for("stream is live");
    let dir = temp_dir();
    for (layer, frames, width) in [
        ("low", "60", 320),
        ("mid", "90", 640),
        ("high", "150", 1280),
    ] {
        let out = dir.path().join(format!("{layer}.mkv"));
        let (code, stdout, err) = run(j.cmd(
            &j.ws,
            room,
            &[
                "subscribe",
                "--json",
                "--no-audio",
                "--layer",
                layer,
                "-o",
                &path_str(&out),
                "--frames",
                frames,
                "--expect",
                &format!("frames>={frames}"),
            ],
        ));
        assert_eq!(code, 0, "{layer}: {err}");
        let (sizes, errors) = video_frame_entries(&out, "width");
        assert!(errors.is_empty(), "{layer}: {errors}");
        // Janus starts the subscription on a substream of its own choosing and moves to the
        // one asked for at that one's next keyframe: the first pictures may be another size.
        let width = width.to_string();
        let at_size = sizes.iter().filter(|w| **w == width).count();
        assert!(at_size * 10 >= sizes.len() * 9, "{layer}: {sizes:?}");
        assert_eq!(sizes.last(), Some(&width), "{layer}");
        // Janus tells each substream switch; the last is the one asked for.
        let told: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["event"] == "layerSwitched")
            .collect();
        assert_eq!(
            told.last().map(|v| v["layer"].clone()),
            Some(serde_json::json!(layer)),
            "{layer}: {stdout}"
        );
    }
    p.interrupt();
    p.wait();
}

#[test]
fn a_room_that_refuses_the_codec_asked_for_is_a_clear_media_error_and_left_cleanly() {
    let j = janus::shared();
    let (code, _, err) = run(j.cmd(
        &j.ws,
        "5555",
        &[
            "publish",
            "--video",
            "testsrc",
            "--audio",
            "tone",
            "--video-codec",
            "h264",
            "--duration",
            "5s",
        ],
    ));
    assert_eq!(code, 8, "{err}");
    assert!(err.contains("does not take its codec"), "{err}");
    // Nothing left behind in the room.
    let (code, out, err) = run(j.cmd(&j.http, "5555", &["list-streams"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 stream(s), 0 connection(s)"), "{out}");
}

/// A media path to Janus that breaks for 8 s while signaling stays up: each side restarts
/// ICE through Janus — the publisher with a new offer in a `configure`, the subscriber by
/// asking Janus for a new offer (`configure` with `restart`) — and the recording goes on in
/// the same file after each outage.
#[test]
fn a_broken_media_path_to_janus_is_restarted_on_both_sides() {
    let j = janus::shared();
    let room = "1006";
    let mut publisher = Proc::spawn(j.cmd(
        &j.ws,
        room,
        &[
            "publish",
            "--create-room",
            "--name",
            "restarted",
            "--video",
            "testsrc",
            "--audio",
            "tone",
            "--width",
            "320",
            "--height",
            "240",
            "--impair",
            "outage=8s@3s",
        ],
    ));
    publisher.wait_for("stream is live");
    let dir = temp_dir();
    let out = dir.path().join("restarted.mkv");
    let mut subscriber = Proc::spawn(j.cmd(
        &j.ws,
        room,
        &[
            "subscribe",
            "-o",
            &path_str(&out),
            "--impair",
            "outage=8s@16s",
            "--json",
        ],
    ));
    subscriber.wait_for("firstFrame");
    // The publisher's path broke, was restarted, and media flows again.
    publisher.wait_for("restarting ICE");
    publisher.wait_for("the media path is back");
    // Then the subscriber's.
    subscriber.wait_for("restarting ICE");
    subscriber.wait_for("the media path is back");
    let after = media_end(&out);
    wait_for_media(&out, after + 2.0, &subscriber);
    subscriber.interrupt();
    assert_eq!(subscriber.wait(), 130, "{}", subscriber.output());
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
    for (who, said) in [
        ("publisher", publisher.output()),
        ("subscriber", subscriber.output()),
    ] {
        assert!(!said.contains("restarting ICE failed"), "{who}: {said}");
        assert!(
            !said.contains("\"event\":\"reconnecting\""),
            "{who} joined again: {said}"
        );
    }
    // Janus itself restarted ICE on two handles (the publisher's and the subscriber's).
    let log = j.log();
    let handles: std::collections::HashSet<&str> = log
        .lines()
        .filter(|l| l.contains("ICE restart detected"))
        .filter_map(|l| l.split("] [").nth(1)?.split(']').next())
        .collect();
    assert!(handles.len() >= 2, "Janus restarted ICE on {handles:?}");
    // One file whose pictures go on after both outages, in order.
    let times = packet_times(&out, "v:0");
    assert!(times.windows(2).all(|w| w[1] > w[0]), "{times:?}");
    assert!(decode_video(&out).len() >= times.len());
}
