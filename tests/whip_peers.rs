//! WHIP and WHEP against independent implementations: ffmpeg 9's WHIP muxer publishing into
//! `vcall serve`; vcall publishing into, and playing from, endpoints on aiortc; Chromium
//! publishing over WHIP (with trickle; H.264, VP8, VP9 and AV1) and playing over WHEP through
//! `vcall serve`.
//! `scripts/test.sh` installs them (Chromium from Debian, the rest from PyPI into
//! target/test-peers).

use std::path::{Path, PathBuf};
use std::process::Command;

use vcall::auth::Role;

use crate::common::*;

/// ffmpeg 9 with the WHIP muxer, from imageio-ffmpeg.
fn ffmpeg9() -> String {
    let out = Command::new(peers_python())
        .args([
            "-c",
            "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())",
        ])
        .output()
        .expect("python runs");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The aiortc endpoint, and its base URL.
fn aiortc_endpoint(extra: &[&str]) -> (Proc, String) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/aiortc_endpoint.py");
    let mut c = Command::new(peers_python());
    c.arg(script).args(extra);
    let mut p = Proc::spawn(c);
    let line = p.wait_for("listening on ");
    let url = line.split_whitespace().last().unwrap().to_owned();
    (p, url)
}

fn get_json(url: &str) -> serde_json::Value {
    let mut r = ureq::get(url).call().expect("GET answers");
    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap()
}

#[test]
fn ffmpeg_whip_muxer_publishes_into_vcall_serve() {
    let (mut serve, url) = serve_process("127.0.0.1:0", &["-v"]);
    let session = fixed_session("ffmpeg");
    let endpoint = format!("{}/whip/{session}", url.replace("ws://", "http://"));
    let mut ffmpeg = Command::new(ffmpeg9());
    ffmpeg.args([
        "-hide_banner",
        "-loglevel",
        "warning",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=15",
        "-f",
        "lavfi",
        "-i",
        "sine=sample_rate=48000",
        "-t",
        "8",
        "-c:v",
        "libx264",
        "-profile:v",
        "baseline",
        "-tune",
        "zerolatency",
        "-bf",
        "0",
        "-g",
        "15",
        "-c:a",
        "libopus",
        "-ar",
        "48000",
        "-ac",
        "2",
        "-authorization",
        &fixed_token(&session, Role::Publisher),
        "-f",
        "whip",
        &endpoint,
    ]);
    let mut ffmpeg = Proc::spawn(ffmpeg);
    let dir = temp_dir();
    let out = dir.path().join("ffmpeg.mp4");
    let mut sub = vcall();
    sub.args([
        "subscribe",
        "-o",
        &path_str(&out),
        "--frames",
        "45",
        "--expect",
        "frames>=45",
    ]);
    sub.args([
        "--url",
        &url,
        "--session",
        &session,
        "--token",
        &fixed_token(&session, Role::Subscriber),
    ]);
    let (code, _, err) = run(sub);
    assert_eq!(code, 0, "{err}\nffmpeg: {}", ffmpeg.output());
    let pictures = decode_video(&out);
    assert!(pictures.len() >= 45, "{} pictures", pictures.len());
    let (_, audio) = decode_audio(&out);
    assert!(audio.len() > 48_000, "{} audio samples", audio.len());
    assert_eq!(ffmpeg.wait(), 0, "{}", ffmpeg.output());
    // ffmpeg's WHIP muxer offers only AES-CM, and the server took it (its subscriber's leg
    // is AEAD: both ends are vcall's).
    serve.wait_for("SRTP SRTP_AES128_CM_HMAC_SHA1_80");
    serve.wait_for("SRTP SRTP_AEAD_AES_128_GCM");
    // It found both connections' keys itself.
    for profile in ["SRTP_AES128_CM_HMAC_SHA1_80", "SRTP_AEAD_AES_128_GCM"] {
        serve.said(&format!(
            "SRTP keys derived by vcall ({profile}) opened a packet each way"
        ));
    }
    // And sealed what it forwarded to the subscriber itself (the recording above decoded).
    serve.said("RTP sealed by the engine from here on sealer=Sealer(GCM)");
}

#[test]
fn vcall_publishes_into_an_aiortc_whip_endpoint() {
    let (_endpoint, base) = aiortc_endpoint(&[]);
    let mut c = vcall();
    c.args(publish_args("4s"))
        .args(["--url", &format!("whip+{base}/whip")]);
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let stats = get_json(&format!("{base}/stats"));
    // aiortc decoded what vcall sent (H.264 and Opus), and the resource was deleted.
    assert!(stats["video"].as_u64().unwrap() >= 60, "{stats}");
    assert!(stats["audio"].as_u64().unwrap() >= 100, "{stats}");
    assert_eq!(stats["deleted"], 1, "{stats}");
    assert!(stats["codecs"].to_string().contains("H264"), "{stats}");
}

#[test]
fn an_endpoint_that_takes_only_vp8_gets_vp8_from_a_publisher_that_names_no_codec() {
    let (_endpoint, base) = aiortc_endpoint(&["--video-codec", "VP8"]);
    let url = format!("whip+{base}/whip");
    let mut c = vcall();
    c.args(publish_args("4s")).args(["--url", &url, "--json"]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#""videoCodec":"VP8""#), "{out}");
    let stats = get_json(&format!("{base}/stats"));
    // aiortc decoded vcall's VP8 (libvpx): the far end chose, vcall encoded to its choice.
    assert!(stats["video"].as_u64().unwrap() >= 60, "{stats}");
    assert_eq!(stats["codecs"][0], "video/VP8", "{stats}");
}

#[test]
fn vcall_plays_from_an_aiortc_whep_endpoint() {
    let (_endpoint, base) = aiortc_endpoint(&[]);
    let dir = temp_dir();
    let out = dir.path().join("aiortc.mkv");
    let mut c = vcall();
    c.args([
        "subscribe",
        "-o",
        &path_str(&out),
        "--frames",
        "45",
        "--url",
        &format!("whep+{base}/whep"),
    ]);
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(decode_video(&out).len() >= 45);
    let (_, audio) = decode_audio(&out);
    assert!(!audio.is_empty());
    assert_eq!(get_json(&format!("{base}/stats"))["deleted"], 1);
}

#[test]
fn vcall_takes_dtls_peers_that_offer_only_ecdsa_or_only_rsa_suites() {
    // The suite follows the DTLS server's certificate; aiortc answers as the DTLS client, so
    // vcall's certificate decides: its own ECDSA one for ECDSA-only peers, an RSA one given
    // with --dtls-certificate for RSA-only peers.
    let dir = temp_dir();
    let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=vcall",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs (installed by the test command)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let pem = dir.path().join("rsa.pem");
    let both = [std::fs::read(&key).unwrap(), std::fs::read(&cert).unwrap()].concat();
    std::fs::write(&pem, both).unwrap();
    for (suites, extra) in [
        ("ecdsa", vec![]),
        ("rsa", vec!["--dtls-certificate", pem.to_str().unwrap()]),
    ] {
        let (_endpoint, base) = aiortc_endpoint(&["--dtls", suites]);
        let mut c = vcall();
        c.args(publish_args("3s"))
            .args(["--url", &format!("whip+{base}/whip")]);
        c.args(&extra);
        let (code, _, err) = run(c);
        assert_eq!(code, 0, "{suites}: {err}");
        let stats = get_json(&format!("{base}/stats"));
        assert!(stats["video"].as_u64().unwrap() >= 45, "{suites}: {stats}");
        let out = dir.path().join(format!("{suites}.mkv"));
        let mut c = vcall();
        c.args([
            "subscribe",
            "-o",
            &path_str(&out),
            "--frames",
            "30",
            "--url",
            &format!("whep+{base}/whep"),
        ]);
        c.args(&extra);
        let (code, _, err) = run(c);
        assert_eq!(code, 0, "{suites}: {err}");
        assert!(decode_video(&out).len() >= 30);
    }
    // A file without a key is refused at once.
    let mut c = vcall();
    c.args([
        "publish",
        "--duration",
        "1s",
        "--url",
        "whip+http://127.0.0.1:9/x",
    ]);
    c.args(["--dtls-certificate", cert.to_str().unwrap()]);
    let (code, _, err) = run(c);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("PRIVATE KEY"), "{err}");
}

/// A vcall subscriber recording what Chromium publishes into `session` to `out`: 30 frames,
/// checked as they come.
fn chromium_recorder(ns: &LoopbackOnly, url: &str, session: &str, out: &Path) -> Proc {
    Proc::spawn(ns.vcall(&[
        "subscribe",
        "-o",
        &path_str(out),
        "--frames",
        "30",
        "--expect",
        "frames>=30",
        "--url",
        url,
        "--session",
        session,
        "--token",
        &fixed_token(session, Role::Subscriber),
    ]))
}

/// Chromium publishes its fake camera and microphone over WHIP into `vcall serve` (a vcall
/// subscriber records 30 frames of it, checked), then plays a vcall publisher over WHEP;
/// `no_udp`: Chromium's UDP is dropped by a firewall (ICE-TCP). Each page's result, and how
/// many of Chromium's UDP packets the firewall dropped.
fn chromium_whip_then_whep(no_udp: bool) -> (serde_json::Value, serde_json::Value, u64) {
    let ns = LoopbackOnly::create();
    let (mut serve, url) = ns.serve();
    let http = url.replace("ws://", "http://");
    let session = fixed_session("chromium");
    let dir = temp_dir();
    let chromium = |query: &str, profile: &str| match no_udp {
        true => ns.chromium_without_udp("whip.html", query, &dir.path().join(profile)),
        false => (
            ns.chromium("whip.html", query, &dir.path().join(profile)),
            0,
        ),
    };
    let token = |role| fixed_token(&session, role);
    let out = dir.path().join("chromium.mkv");
    let mut recorder = chromium_recorder(&ns, &url, &session, &out);
    let publisher_token = token(Role::Publisher);
    let query = format!("mode=whip&url={http}/whip/{session}&token={publisher_token}&seconds=6");
    let (published, dropped) = chromium(&query, "profile-whip");
    assert_eq!(published["state"], "connected", "{published}");
    assert!(
        published["framesSent"].as_u64().unwrap() >= 30,
        "{published}"
    );
    assert_eq!(published["deleted"], 200, "{published}");
    assert_eq!(recorder.wait(), 0, "{}", recorder.output());
    assert!(decode_video(&out).len() >= 30);

    let mut args = publish_args("60s");
    args.extend(["--name", "cam", "--url", &url, "--session", &session]);
    args.extend(["--token", &publisher_token]);
    let mut publisher = Proc::spawn(ns.vcall(&args));
    publisher.wait_for("stream is live");
    let subscriber_token = token(Role::Subscriber);
    let query =
        format!("mode=whep&url={http}/whep/{session}/cam&token={subscriber_token}&seconds=4");
    let (played, _) = chromium(&query, "profile-whep");
    assert_eq!(played["state"], "connected", "{played}");
    assert!(played["framesDecoded"].as_u64().unwrap() >= 40, "{played}");
    assert!(played["audioPackets"].as_u64().unwrap() >= 50, "{played}");
    assert_eq!(played["deleted"], 200, "{played}");
    // The server found Chromium's SRTP keys itself (AES-CM, over UDP or TCP) and let all of
    // its SRTCP through.
    serve.said("SRTP keys derived by vcall (SRTP_AES128_CM_HMAC_SHA1_80) opened a packet each way");
    // What it forwarded to Chromium it sealed itself, and Chromium decoded it (above).
    serve.said("RTP sealed by the engine from here on sealer=Sealer(CM, 10-byte tag)");
    serve.drain();
    assert!(
        !serve
            .seen
            .iter()
            .any(|l| l.contains("SRTCP its keys do not open")),
        "{}",
        serve.seen.join("\n")
    );
    (published, played, dropped)
}

#[test]
fn chromium_publishes_over_whip_and_plays_over_whep_through_vcall_serve() {
    let (published, played, _) = chromium_whip_then_whep(false);
    // Chromium lists AES-CM first and keeps to it in either DTLS role (rtc-dtls's server
    // takes the client's order; as the server Chromium chose it too): the profile both take.
    assert_eq!(
        published["srtpCipher"], "SRTP_AES128_CM_HMAC_SHA1_80",
        "{published}"
    );
    if published["trickled"].as_u64().unwrap() > 0 {
        assert_eq!(published["patchStatus"], 204, "trickle PATCH: {published}");
    }
    assert_eq!(played["protocol"], "udp", "{played}");
}

/// A browser behind a firewall that drops UDP reaches `vcall serve` over TCP (ICE-TCP: the
/// server's passive TCP candidate on its media port): Chromium, whose UDP the namespace's
/// firewall drops, publishes over WHIP (vcall records it) and plays vcall over WHEP, its
/// media over TCP both times.
#[test]
fn chromium_behind_a_firewall_that_drops_udp_publishes_and_plays_over_ice_tcp() {
    let (published, played, dropped) = chromium_whip_then_whep(true);
    assert_eq!(published["protocol"], "tcp", "{published}");
    assert_eq!(played["protocol"], "tcp", "{played}");
    assert!(dropped > 0, "the firewall dropped none of Chromium's UDP");
}

/// Chromium sends VP9 (profile 0) and AV1, each the only video codec it offers; two vcall
/// subscribers record each at once, one into Matroska and one into MP4, checking the frames
/// as they go (`--expect` decodes them), and ffmpeg decodes both files at the size they say.
/// Then Chromium plays vcall's own VP9.
#[test]
fn chromium_and_vcall_exchange_vp9_and_av1_recorded_in_matroska_and_mp4() {
    let ns = LoopbackOnly::create();
    let (_serve, url) = ns.serve();
    let http = url.replace("ws://", "http://");
    let dir = temp_dir();
    for codec in ["VP9", "AV1"] {
        let session = fixed_session(&format!("chromium-{codec}"));
        let token = |role| fixed_token(&session, role);
        let recorders: Vec<(PathBuf, Proc)> = ["mkv", "mp4"]
            .into_iter()
            .map(|ext| {
                let out = dir.path().join(format!("{codec}.{ext}"));
                let recorder = chromium_recorder(&ns, &url, &session, &out);
                (out, recorder)
            })
            .collect();
        let published = ns.chromium(
            "whip.html",
            &format!(
                "mode=whip&codec={codec}&url={http}/whip/{session}&token={}&seconds=6",
                token(Role::Publisher)
            ),
            &dir.path().join(format!("profile-{codec}")),
        );
        assert_eq!(published["state"], "connected", "{published}");
        let sent = published["codecs"].to_string();
        assert!(sent.contains(&format!("video/{codec}")), "{published}");
        for (out, mut recorder) in recorders {
            assert_eq!(recorder.wait(), 0, "{}", recorder.output());
            let probed = probe(&out);
            let streams = probed["streams"].as_array().unwrap();
            let stream = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
            assert_eq!(stream["codec_name"], codec.to_lowercase(), "{stream}");
            let frames = decode_video(&out);
            assert!(frames.len() >= 30, "{} frames in {out:?}", frames.len());
            let first = &frames[0].1;
            let said = (stream["width"].as_u64(), stream["height"].as_u64());
            assert_eq!(
                said,
                (Some(first.width as u64), Some(first.height as u64)),
                "{out:?}"
            );
        }
    }

    // vcall's own VP9 (libvpx; its payload descriptors say which frames are predicted),
    // played over WHEP and decoded by Chromium.
    let session = fixed_session("vcall-vp9");
    let publisher_token = fixed_token(&session, Role::Publisher);
    let mut args = publish_args("60s");
    args.extend(["--name", "cam", "--video-codec", "vp9", "--url", &url]);
    args.extend(["--session", &session, "--token", &publisher_token]);
    let mut publisher = Proc::spawn(ns.vcall(&args));
    publisher.wait_for("stream is live");
    let played = ns.chromium(
        "whip.html",
        &format!(
            "mode=whep&url={http}/whep/{session}/cam&token={}&seconds=4",
            fixed_token(&session, Role::Subscriber)
        ),
        &dir.path().join("profile-whep"),
    );
    assert_eq!(played["state"], "connected", "{played}");
    assert!(played["framesDecoded"].as_u64().unwrap() >= 40, "{played}");
    assert!(
        played["codecs"].to_string().contains("video/VP9"),
        "{played}"
    );
}

/// Chromium publishes VP8 simulcast (three encodings of a 640x360 camera, the largest
/// first) over WHIP; vcall serve forwards each subscriber the layer it asks for, or with
/// `auto` the best its own path carries: one subscriber asking for `low`, one for `high`, and
/// one on `auto` behind a 250 kbit/s path record pictures of three sizes that decode.
#[test]
fn chromium_simulcast_reaches_each_subscriber_as_the_layer_its_path_or_wish_gives() {
    let ns = LoopbackOnly::create();
    let (_serve, url) = ns.serve();
    let http = url.replace("ws://", "http://");
    let session = fixed_session("chromium-simulcast");
    let dir = temp_dir();
    let token = |role| fixed_token(&session, role);
    let subscriber = |name: &str, frames: u32, extra: &[&str]| {
        let out = dir.path().join(format!("{name}.mkv"));
        let mut args = vec![
            "subscribe".to_owned(),
            "-o".to_owned(),
            path_str(&out),
            "--no-audio".to_owned(),
            "--frames".to_owned(),
            frames.to_string(),
            "--expect".to_owned(),
            format!("frames>={frames}"),
            "--url".to_owned(),
            url.clone(),
            "--session".to_owned(),
            session.clone(),
            "--token".to_owned(),
            token(Role::Subscriber),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        (out, Proc::spawn(ns.vcall(&args)))
    };
    let recorders = [
        subscriber("low", 60, &["--layer", "low"]),
        subscriber("high", 150, &["--layer", "high"]),
        subscriber("auto", 150, &["--impair", "rate=250kbit"]),
    ];
    let published = ns.chromium(
        "whip.html",
        &format!(
            "mode=whip&codec=VP8&simulcast=3&width=1280&height=720&fps=30&url={http}/whip/{session}&token={}&seconds=14",
            token(Role::Publisher)
        ),
        &dir.path().join("profile"),
    );
    assert_eq!(published["state"], "connected", "{published}");
    let layers = published["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3, "{published}");
    let mut widths = Vec::new();
    for (out, mut recorder) in recorders {
        assert_eq!(recorder.wait(), 0, "{}", recorder.output());
        // Each picture's own size (decode_video scales them all to the first one's).
        let (sizes, errors) = video_frame_entries(&out, "width");
        assert!(
            sizes.len() >= 60,
            "{} frames in {out:?}: {errors}",
            sizes.len()
        );
        assert!(errors.is_empty(), "{out:?}: {errors}");
        widths.push(sizes.last().unwrap().parse::<u32>().unwrap());
    }
    assert!(
        widths[0] < widths[1],
        "low, high, auto: {widths:?}; {published}"
    );
    assert!(
        widths[2] < widths[1],
        "low, high, auto: {widths:?}; {published}"
    );
}
