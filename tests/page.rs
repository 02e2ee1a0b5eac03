//! The page at `/` of `vcall serve`, in headless Chromium driven as a person would (the
//! DevTools protocol, `tests/peers/drive_page.py`): it lists a vcall publisher's stream,
//! plays it (frames decoded), publishes its fake camera, and vcall records that. Beyond
//! loopback the page needs the key pair or a token.

use vcall::auth::Role;

use crate::common::*;

/// The JSON after `step ` in a line of the driver's.
fn step(line: &str, step: &str) -> serde_json::Value {
    let json = line.split_once(&format!("{step} ")).expect("the step").1;
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {line}"))
}

#[test]
fn the_page_lists_plays_and_publishes_the_browsers_camera() {
    let _turn = one_at_a_time();
    let ns = LoopbackOnly::create();
    let (_serve, url) = ns.serve();
    let http = url.replacen("ws://", "http://", 1);
    let session = fixed_session("page");
    let dir = temp_dir();
    let joined = |role: Role, args: &[&str]| {
        let token = fixed_token(&session, role);
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--url", &url, "--session", &session, "--token", &token]);
        ns.vcall(&all)
    };
    let mut args = publish_args("60s");
    args.extend(["--name", "cli-camera"]);
    let mut publisher = Proc::spawn(joined(Role::Publisher, &args));
    publisher.wait_for("stream is live");

    let driver = peer_script("drive_page.py");
    let profile = dir.path().join("profile");
    let mut page = Proc::spawn(ns.cmd(
        &path_str(&peers_python()),
        &[
            &path_str(&driver),
            &format!("{http}/"),
            "cli-camera",
            "browser-camera",
            "30",
            &path_str(&profile),
        ],
    ));
    let listed = step(&page.wait_for("LISTED "), "LISTED");
    assert_eq!(listed["session"], session.as_str(), "{listed}");
    let played = step(&page.wait_for("PLAYED "), "PLAYED");
    // The CLI publisher's 320x240 test pattern, decoded in the browser.
    assert_eq!(played["resolution"], "320x240", "{played}");
    assert!(played["framesDecoded"].as_u64().unwrap() > 30, "{played}");
    page.wait_for("PUBLISHED ");

    // The browser's camera, published from the page, recorded by vcall.
    let out = dir.path().join("browser.mkv");
    let mut recorder = Proc::spawn(joined(
        Role::Subscriber,
        &[
            "subscribe",
            "--stream",
            "browser-camera",
            "-o",
            &path_str(&out),
            "--frames",
            "30",
            "--expect",
            "frames>=30",
        ],
    ));
    assert_eq!(recorder.wait(), 0, "{}", recorder.output());
    let probe = probe(&out);
    assert!(
        probe["streams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["codec_type"] == "video"),
        "{probe}"
    );
    drop(page);
    drop(publisher);
}

/// An HTTP GET of the server at `http` (`path`), with Basic `credentials`: the status.
fn get_status(http: &str, path: &str, credentials: Option<&str>) -> u16 {
    use base64::Engine;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(format!("{http}{path}"));
    if let Some(c) = credentials {
        let basic = base64::engine::general_purpose::STANDARD.encode(c);
        req = req.header("Authorization", format!("Basic {basic}"));
    }
    req.call().expect("the server answers").status().as_u16()
}

#[test]
fn beyond_loopback_the_page_needs_the_key_pair_or_a_token() {
    let (_serve, url) = serve_process("0.0.0.0:0", &[]);
    let port = url.rsplit(':').next().unwrap();
    let http = format!("http://127.0.0.1:{port}");
    let session = fixed_session("page-auth");
    let token = fixed_token(&session, Role::Subscriber);
    for path in ["/", "/v1/page/sessions", "/metrics"] {
        assert_eq!(get_status(&http, path, None), 401, "{path}");
        assert_eq!(get_status(&http, path, Some("k:wrong")), 401, "{path}");
        assert_eq!(get_status(&http, path, Some("k:s")), 200, "{path}");
    }
    // A session's token opens the page for that session, not /metrics.
    assert_eq!(get_status(&http, &format!("/?token={token}"), None), 200);
    assert_eq!(
        get_status(&http, &format!("/metrics?token={token}"), None),
        401
    );
    // The page itself: built into the binary, the same for everyone (it holds no key).
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let body = agent
        .get(format!("{http}/?token={token}"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(body.contains("<title>vcall serve</title>"));
}
