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
            // Publishing until the test is done with it (the driver is killed on drop).
            "600",
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
    let out_str = path_str(&out);
    let mut args = recording_args(&out_str, "30", "frames>=30");
    args.extend(["--stream", "browser-camera"]);
    let mut recorder = Proc::spawn(joined(Role::Subscriber, &args));
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
    let basic = credentials.map(|c| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(c)
        )
    });
    let headers: Vec<(&str, &str)> = basic
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    request(http, "GET", path, &headers, None).0
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

/// An HTTP request to the server at `http`: `method` `path` with `headers` and a JSON
/// `body`; the status and the body.
fn request(
    http: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{http}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = body.map_or(String::new(), |b| b.to_string());
    if !body.is_empty() {
        req = req.header("Content-Type", "application/json");
    }
    let mut response = agent
        .run(req.body(body).unwrap())
        .expect("the server answers");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

#[test]
fn a_sessions_token_opens_that_session_only_and_mints_nothing_more() {
    let (_serve, url) = serve_process("0.0.0.0:0", &[]);
    let port = url.rsplit(':').next().unwrap();
    let http = format!("http://127.0.0.1:{port}");
    let (mine, other) = (fixed_session("mine"), fixed_session("other"));
    let viewer = format!("Bearer {}", fixed_token(&mine, Role::Subscriber));
    let auth = [("Authorization", viewer.as_str())];
    let token_for = |session: &str, role: &str| {
        request(
            &http,
            "POST",
            "/v1/page/token",
            &auth,
            Some(serde_json::json!({ "session": session, "role": role })),
        )
        .0
    };
    assert_eq!(token_for(&mine, "subscriber"), 200);
    assert_eq!(
        token_for(&mine, "publisher"),
        403,
        "a viewer's token cannot publish"
    );
    assert_eq!(
        token_for(&other, "subscriber"),
        403,
        "nor reach another session"
    );
    assert_eq!(
        request(
            &http,
            "POST",
            "/v1/page/session",
            &auth,
            Some(serde_json::json!({}))
        )
        .0,
        403
    );
    let (status, body) = request(&http, "GET", "/v1/page/sessions", &auth, None);
    assert_eq!(status, 200);
    let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let ids: Vec<&str> = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sessionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine.as_str()]);
    assert_eq!(listed["all"], false);
}

#[test]
fn a_loopback_server_is_open_only_to_this_machine_under_its_own_name() {
    let (_serve, url) = serve_process("127.0.0.1:0", &[]);
    let http = url.replacen("ws://", "http://", 1);
    let get =
        |headers: &[(&str, &str)]| request(&http, "GET", "/v1/page/sessions", headers, None).0;
    assert_eq!(get(&[]), 200);
    assert_eq!(get(&[("Host", "localhost")]), 200);
    // A name rebound to 127.0.0.1 by another site, a proxy in front, another site's page.
    assert_eq!(get(&[("Host", "rebound.example")]), 401);
    assert_eq!(get(&[("X-Forwarded-For", "203.0.113.7")]), 401);
    assert_eq!(get(&[("Origin", "https://elsewhere.example")]), 401);
    assert_eq!(
        request(
            &http,
            "GET",
            "/metrics",
            &[("Host", "rebound.example")],
            None
        )
        .0,
        401
    );
    // The page says what it may load.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let page = agent.get(format!("{http}/")).call().unwrap();
    let csp = page
        .headers()
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}
