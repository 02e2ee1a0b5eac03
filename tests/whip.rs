//! WHIP and WHEP: vcall publishing and playing through `vcall serve`'s WHIP/WHEP endpoints,
//! through a front that redirects, is busy, names ICE servers or answers with errors, and the
//! server's side of the protocol (CORS, PATCH, DELETE, refusals) checked over plain HTTP.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use vcall::auth::Role;

use crate::common::*;

/// The server's HTTP base (`http://127.0.0.1:PORT`).
fn http_base(server: &Server) -> String {
    server.url.replace("ws://", "http://")
}

/// `vcall <args> --url URL --token TOKEN` for a WHIP or WHEP URL.
fn cmd(url: &str, token: &str, args: &[&str]) -> std::process::Command {
    let mut c = vcall();
    c.args(args).args(["--url", url, "--token", token]);
    c
}

/// The session as the server's API sees it.
fn session_view(server: &Server, session: &str) -> serde_json::Value {
    session_api(&server.url, &server.keys, session)
}

#[test]
fn whip_publisher_is_a_stream_of_the_session_and_whep_plays_it() {
    let server = Server::start();
    let session = server.session();
    let base = http_base(&server);
    let whip = format!("whip+{base}/whip/{session}?name=cam");
    let token = server.token(&session, Role::Publisher);
    let mut publisher = Proc::spawn(cmd(&whip, &token, &publish_args("30s")));
    publisher.wait_for("stream is live");
    // WHIP has no word for the server making the stream live (its first packets arriving):
    // wait for it as scripts do.
    let (code, _, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &["connect", "--wait-for", "streams>=1", "--timeout", "30s"],
    ));
    assert_eq!(code, 0, "{err}");

    // Others see it as any stream: by name, with both kinds.
    let (code, out, err) = run(server.cmd(&session, Role::Subscriber, &["list-streams", "--json"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"name\":\"cam\""), "{out}");
    assert!(
        out.contains("\"hasVideo\":true") && out.contains("\"hasAudio\":true"),
        "{out}"
    );

    // Recorded over WHEP by name, and natively.
    let dir = temp_dir();
    let whep_out = dir.path().join("whep.mp4");
    let whep = format!("whep+{base}/whep/{session}/cam");
    let viewer = server.token(&session, Role::Subscriber);
    let (code, _, err) = run(cmd(
        &whep,
        &viewer,
        &[
            "subscribe",
            "-o",
            &path_str(&whep_out),
            "--frames",
            "45",
            "--expect",
            "frames>=45",
        ],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("WHEP resource created"), "{err}");
    assert!(err.contains("WHEP resource deleted"), "{err}");
    let pictures: Vec<_> = decode_video(&whep_out)
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert!(pictures.len() >= 45, "{} pictures", pictures.len());
    assert!(check_pattern(&pictures, 30.0).len() >= 45);
    let (_, audio) = decode_audio(&whep_out);
    assert!(!audio.is_empty());

    // The viewer left (DELETE): only the publisher is connected.
    assert_eq!(session_view(&server, &session)["connectionCount"], 1);

    // Ctrl-C: the publisher deletes its resource, the stream ends for everyone.
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
    assert!(
        publisher.output().contains("WHIP resource deleted"),
        "{}",
        publisher.output()
    );
    let view = session_view(&server, &session);
    assert_eq!(view["connectionCount"], 0, "{view}");
    assert_eq!(view["streams"].as_array().map(Vec::len), Some(0), "{view}");
}

#[test]
fn whep_without_a_stream_name_plays_the_first_one() {
    let server = Server::start();
    let session = server.session();
    let _publisher = publisher(&server, &session, "native", &[]);
    let dir = temp_dir();
    let out = dir.path().join("any.mkv");
    let whep = format!("whep+{}/whep/{session}", http_base(&server));
    let (code, _, err) = run(cmd(
        &whep,
        &server.token(&session, Role::Subscriber),
        &["subscribe", "-o", &path_str(&out), "--frames", "30"],
    ));
    assert_eq!(code, 0, "{err}");
    assert!(decode_video(&out).len() >= 30);
}

#[test]
fn whip_ice_restart_over_patch_brings_media_back_after_an_outage() {
    // 8 s without a datagram on the publisher: it restarts ICE with PATCH (If-Match: *), the
    // server answers with its new credentials, and a native subscriber's recording goes on.
    let server = Server::start();
    let session = server.session();
    let whip = format!("whip+{}/whip/{session}?name=cam", http_base(&server));
    let mut args = publish_args("60s");
    args.extend(["--impair", "outage=8s@2s"]);
    let mut publisher = Proc::spawn(cmd(&whip, &server.token(&session, Role::Publisher), &args));
    publisher.wait_for("stream is live");
    let dir = temp_dir();
    let out = dir.path().join("restart.mp4");
    // At most 60 frames are made before the outage (2 s at 30 fps): the rest of 150 come
    // after it, however long the restart takes.
    let (code, _, err) = run(server.cmd(
        &session,
        Role::Subscriber,
        &[
            "subscribe",
            "--stream",
            "cam",
            "-o",
            &path_str(&out),
            "--frames",
            "150",
        ],
    ));
    assert_eq!(code, 0, "{err}");
    publisher.interrupt();
    assert_eq!(publisher.wait(), 130, "{}", publisher.output());
    let said = publisher.output();
    assert!(said.contains("restarting ICE"), "{said}");
    assert!(said.contains("the media path is back"), "{said}");
    assert!(!said.contains("restarting ICE failed"), "{said}");
    at_most_one_gap(&out, 30);
}

#[test]
fn whip_and_whep_refusals_are_exit_codes() {
    let server = Server::start();
    let session = server.session();
    let base = http_base(&server);
    let whip = format!("whip+{base}/whip/{session}");
    let publisher_token = server.token(&session, Role::Publisher);
    let subscriber_token = server.token(&session, Role::Subscriber);
    let cases: Vec<(String, String, Vec<&str>, i32, &str)> = vec![
        // A bad token: 401, authentication.
        (
            whip.clone(),
            "nonsense".into(),
            publish_args("2s"),
            3,
            "HTTP 401",
        ),
        // A subscriber's token publishing: 403, forbidden... which WHIP calls authentication.
        (
            whip.clone(),
            subscriber_token.clone(),
            publish_args("2s"),
            3,
            "HTTP 403",
        ),
        // An unknown session: 404.
        (
            format!("whip+{base}/whip/1_nope.nope"),
            publisher_token.clone(),
            publish_args("2s"),
            4,
            "HTTP 404",
        ),
        // Nothing to play: 404.
        (
            format!("whep+{base}/whep/{session}"),
            subscriber_token.clone(),
            vec!["subscribe", "-o", "-", "--format", "h264"],
            4,
            "nothing is published",
        ),
        // Nobody listening.
        (
            "whip+http://127.0.0.1:9/whip/x".into(),
            publisher_token.clone(),
            publish_args("2s"),
            6,
            "127.0.0.1:9",
        ),
        // Commands that need a session, and the wrong way round: usage.
        (
            whip.clone(),
            publisher_token.clone(),
            vec!["echo-test"],
            2,
            "needs a session",
        ),
        (
            whip.clone(),
            publisher_token.clone(),
            vec!["connect"],
            2,
            "needs a session",
        ),
        (
            whip.clone(),
            publisher_token.clone(),
            vec!["list-streams"],
            2,
            "needs a session",
        ),
        (
            whip.clone(),
            publisher_token.clone(),
            vec!["subscribe", "-o", "-", "--format", "h264"],
            2,
            "WHEP",
        ),
        (
            format!("whep+{base}/whep/{session}"),
            publisher_token.clone(),
            publish_args("2s"),
            2,
            "WHIP",
        ),
        (
            "whip+ftp://x/y".into(),
            publisher_token.clone(),
            publish_args("2s"),
            2,
            "http or https",
        ),
    ];
    for (url, token, args, want, says) in cases {
        let (code, _, err) = run(cmd(&url, &token, &args));
        assert_eq!(code, want, "{url} {args:?}: {err}");
        assert!(err.contains(says), "{url} {args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Nothing was left behind by the refused ones.
    assert_eq!(session_view(&server, &session)["connectionCount"], 0);
}

/// A front for the real server: redirects, a 503 first, Link headers, chosen statuses; it
/// relays the rest and notes every request.
#[derive(Clone)]
struct Front {
    real: String,
    log: Arc<Mutex<Vec<String>>>,
    busy_once: Arc<Mutex<bool>>,
}

impl Front {
    fn start(real: String) -> (String, Front) {
        let front = Front {
            real,
            log: Arc::default(),
            busy_once: Arc::new(Mutex::new(true)),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let f = front.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new()
                    .route("/{*path}", axum::routing::any(front_handler))
                    .with_state(f);
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        (format!("http://{addr}"), front)
    }

    fn seen(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

async fn front_handler(
    State(front): State<Front>,
    method: Method,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    front.log.lock().unwrap().push(format!("{method} /{path}"));
    let (first, rest) = path.split_once('/').unwrap_or((&path, ""));
    match first {
        "moved" => (
            StatusCode::TEMPORARY_REDIRECT,
            [("location", format!("/relay/{rest}"))],
        )
            .into_response(),
        "permanent" => (
            StatusCode::PERMANENT_REDIRECT,
            [("location", format!("{}/{rest}", front.real))],
        )
            .into_response(),
        "busy" => {
            let first_time = std::mem::replace(&mut *front.busy_once.lock().unwrap(), false);
            if first_time {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [("retry-after", "1")],
                    "busy",
                )
                    .into_response()
            } else {
                relay(&front, method, rest, headers, body).await
            }
        }
        "status" => {
            let code: u16 = rest.parse().unwrap();
            (
                StatusCode::from_u16(code).unwrap(),
                "refused by the test front",
            )
                .into_response()
        }
        "relay" => relay(&front, method, rest, headers, body).await,
        // The resource's URL, relative to where the POST went: relayed too.
        "resources" => relay(&front, method, &path, headers, body).await,
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Relays a request to the real server, adding ICE servers to a created resource.
async fn relay(
    front: &Front,
    method: Method,
    path: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let url = format!("{}/{path}", front.real);
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| ["authorization", "content-type", "if-match"].contains(&k.as_str()))
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    let (status, out_headers, text) = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut req = ureq::http::Request::builder()
            .method(method.as_str())
            .uri(&url);
        for (k, v) in &headers {
            req = req.header(k, v);
        }
        let mut resp = agent.run(req.body(body.to_vec()).unwrap()).unwrap();
        let keep: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter(|(k, _)| ["content-type", "location", "etag"].contains(&k.as_str()))
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        (
            resp.status().as_u16(),
            keep,
            resp.body_mut().read_to_string().unwrap(),
        )
    })
    .await
    .unwrap();
    let mut r = (StatusCode::from_u16(status).unwrap(), text).into_response();
    for (k, v) in out_headers {
        r.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    if status == 201 {
        for link in [
            "<stun:127.0.0.1:3478>; rel=\"ice-server\"",
            "<turn:127.0.0.1:3478?transport=udp>; rel=\"ice-server\"; username=\"user\"; credential=\"pass\"; credential-type=\"password\"",
        ] {
            r.headers_mut().append("link", link.parse().unwrap());
        }
    }
    r
}

#[test]
fn whip_client_follows_redirects_waits_out_a_503_takes_link_ice_servers_and_always_deletes() {
    let server = Server::start();
    let session = server.session();
    let (front_url, front) = Front::start(http_base(&server));
    let token = server.token(&session, Role::Publisher);

    // 503 with Retry-After, then relayed: published, with the Link ICE servers taken; the
    // resource's relative Location resolves against the front, so DELETE goes there.
    let busy = format!("whip+{front_url}/busy/whip/{session}");
    let (code, _, err) = run(cmd(&busy, &token, &publish_args("2s")));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("unavailable (503)"), "{err}");
    assert!(
        err.contains("turn:user:pass@127.0.0.1:3478?transport=udp"),
        "{err}"
    );
    let seen = front.seen();
    assert_eq!(
        seen.iter().filter(|r| r.starts_with("POST /busy")).count(),
        2,
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|r| r.starts_with("DELETE /resources/")),
        "{seen:?}"
    );

    // 307 to a relative URL, 308 to the real server: same method and body; DELETE at the end,
    // where the resource is (the front, then the real server: the front sees no more).
    for (prefix, deletes_at_front) in [("moved", 2), ("permanent", 2)] {
        let url = format!("whip+{front_url}/{prefix}/whip/{session}");
        let (code, _, err) = run(cmd(&url, &token, &publish_args("2s")));
        assert_eq!(code, 0, "{prefix}: {err}");
        assert!(err.contains("redirected"), "{err}");
        assert!(err.contains("WHIP resource deleted"), "{err}");
        let deletes = front
            .seen()
            .iter()
            .filter(|r| r.starts_with("DELETE"))
            .count();
        assert_eq!(deletes, deletes_at_front, "{:?}", front.seen());
    }

    // An error after the resource exists (a condition not met) still deletes it.
    let dir = temp_dir();
    let _publisher = publisher(&server, &session, "cam", &[]);
    let whep = format!("whep+{front_url}/relay/whep/{session}");
    let (code, _, err) = run(cmd(
        &whep,
        &server.token(&session, Role::Subscriber),
        &[
            "subscribe",
            "-o",
            &path_str(&dir.path().join("x.mp4")),
            "--frames",
            "10",
            "--expect",
            "frames>=1000",
        ],
    ));
    assert_eq!(code, 11, "{err}");
    assert!(err.contains("WHEP resource deleted"), "{err}");
    assert_eq!(session_view(&server, &session)["connectionCount"], 1);

    // Each status is its exit code, with what the server said.
    for (status, want) in [
        (401, 3),
        (403, 3),
        (404, 4),
        (406, 8),
        (415, 8),
        (422, 8),
        (500, 1),
        (502, 1),
        (503, 6),
        (429, 6),
        (409, 1),
    ] {
        let url = format!("whip+{front_url}/status/{status}");
        let mut c = cmd(&url, &token, &publish_args("2s"));
        c.args(["--max-retries", "0"]);
        let (code, _, err) = run(c);
        assert_eq!(code, want, "HTTP {status}: {err}");
        assert!(err.contains(&format!("HTTP {status}")), "{err}");
        assert!(err.contains("refused by the test front"), "{err}");
    }
}

/// One request to the server over plain HTTP: (status, headers, body).
fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = agent.run(req.body(body.to_owned()).unwrap()).unwrap();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    (
        resp.status().as_u16(),
        headers,
        resp.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn whip_server_speaks_http_properly() {
    let server = Server::start();
    let session = server.session();
    let base = http_base(&server);
    let endpoint = format!("{base}/whip/{session}");
    let token = format!("Bearer {}", server.token(&session, Role::Publisher));

    // CORS: a browser's preflight, and what a page may read.
    let (status, h, _) = http(
        "OPTIONS",
        &endpoint,
        &[
            ("Origin", "http://page.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        "",
    );
    assert_eq!(status, 204);
    assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
    assert!(
        header(&h, "access-control-allow-methods")
            .unwrap()
            .contains("PATCH")
    );
    assert!(
        header(&h, "access-control-allow-headers")
            .unwrap()
            .contains("If-Match")
    );
    assert!(
        header(&h, "access-control-expose-headers")
            .unwrap()
            .contains("Location")
    );
    assert_eq!(header(&h, "accept-post"), Some("application/sdp"));

    // Refusals: no token, wrong type, offers it cannot take.
    let h265 = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 49\r\na=rtpmap:49 H265/90000\r\n";
    for (headers, body, want, says) in [
        (
            vec![("Content-Type", "application/sdp")],
            h265,
            401,
            "Bearer",
        ),
        (
            vec![
                ("Content-Type", "text/plain"),
                ("Authorization", token.as_str()),
            ],
            h265,
            415,
            "application/sdp",
        ),
        (
            vec![
                ("Content-Type", "application/sdp"),
                ("Authorization", token.as_str()),
            ],
            h265,
            406,
            "none of H264, VP8, VP9, AV1",
        ),
        (
            vec![
                ("Content-Type", "application/sdp"),
                ("Authorization", token.as_str()),
            ],
            "v=0\r\n",
            406,
            "no media",
        ),
    ] {
        let (status, h, text) = http("POST", &endpoint, &headers, body);
        assert_eq!(status, want, "{text}");
        assert!(text.contains(says), "{text}");
        assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
    }

    // A real resource from a WHIP publisher; its PATCH and DELETE rules.
    let whip = format!("whip+{endpoint}");
    let mut args = publish_args("60s");
    args.push("--json");
    let mut publisher = Proc::spawn(cmd(&whip, &server.token(&session, Role::Publisher), &args));
    let line = publisher.wait_for("\"event\":\"published\"");
    let published: serde_json::Value = serde_json::from_str(&line).unwrap();
    let resource = published["streamId"].as_str().unwrap().to_owned();
    assert!(
        resource.starts_with(&format!("{base}/resources/")),
        "{resource}"
    );
    let frag = "a=ice-ufrag:zzzz\r\na=ice-pwd:zzzzzzzzzzzzzzzzzzzzzzzz\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n";
    for (headers, want) in [
        (
            vec![("Content-Type", "application/sdp"), ("If-Match", "*")],
            415,
        ),
        (
            vec![("Content-Type", "application/trickle-ice-sdpfrag")],
            428,
        ),
        (
            vec![
                ("Content-Type", "application/trickle-ice-sdpfrag"),
                ("If-Match", "\"stale\""),
            ],
            412,
        ),
    ] {
        let (status, _, text) = http("PATCH", &resource, &headers, frag);
        assert_eq!(status, want, "{resource}: {text}");
    }
    assert_eq!(
        http("PATCH", &format!("{base}/resources/nope"), &[], frag).0,
        404
    );
    // DELETE from outside ends the stream: the publisher hears its media connection close.
    let (status, _, _) = http("DELETE", &resource, &[], "");
    assert_eq!(status, 200);
    assert_eq!(http("DELETE", &resource, &[], "").0, 404);
    let code = publisher.wait();
    assert_ne!(code, 0, "{}", publisher.output());
    assert_eq!(session_view(&server, &session)["connectionCount"], 0);
}

#[test]
fn serve_over_tls_in_a_port_range_advertising_a_public_ip() {
    // What a server facing the internet runs with: HTTPS/WSS from a certificate, media ports
    // bounded, candidates naming the address clients reach it at (here 127.0.0.2, while it
    // listens on every address; all of 127/8 is loopback).
    let dir = temp_dir();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("certificate");
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let mut serve = Proc::spawn({
        let mut c = vcall();
        c.args([
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--api-key",
            "k",
            "--api-secret",
            "s",
        ]);
        c.args([
            "--tls-cert",
            &path_str(&cert_pem),
            "--tls-key",
            &path_str(&key_pem),
        ]);
        c.args(["--udp-ports", "41700-41719", "--public-ip", "127.0.0.2"]);
        c
    });
    let line = serve.wait_for("serving on wss://");
    let url = line.split_whitespace().find(|w| w.starts_with("wss://"));
    let port = url.unwrap().rsplit(':').next().unwrap().to_owned();
    let wss = format!("wss://127.0.0.1:{port}");
    let session = fixed_session("tls");
    let trusted = |mut c: std::process::Command| {
        c.env("SSL_CERT_FILE", &cert_pem);
        c
    };

    // Native signaling over WSS, WHEP over HTTPS.
    let mut publisher = Proc::spawn(trusted({
        let mut c = vcall();
        c.args(publish_args("60s")).args(["--name", "cam"]);
        c.args([
            "--url",
            &wss,
            "--session",
            &session,
            "--token",
            &fixed_token(&session, Role::Publisher),
        ]);
        c
    }));
    publisher.wait_for("stream is live");
    let out = dir.path().join("tls.mp4");
    let whep = format!("whep+https://127.0.0.1:{port}/whep/{session}/cam");
    let (code, _, err) = run(trusted(cmd(
        &whep,
        &fixed_token(&session, Role::Subscriber),
        &["subscribe", "-o", &path_str(&out), "--frames", "30"],
    )));
    assert_eq!(code, 0, "{err}");
    assert!(decode_video(&out).len() >= 30);

    // Without trusting the certificate: a clear error, exit 6.
    let (code, _, err) = run(cmd(
        &whep,
        &fixed_token(&session, Role::Subscriber),
        &["subscribe", "-o", "-", "--format", "h264"],
    ));
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("certificate"), "{err}");

    // The server's media sockets are in the range.
    let ports = udp_ports_of(serve.child.id());
    assert!(!ports.is_empty());
    assert!(
        ports.iter().all(|p| (41700..=41719).contains(p)),
        "{ports:?}"
    );

    // An answer's candidates name the public address only.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let offer = rt.block_on(async {
        let config = vcall::peer::PeerConfig {
            bind_ip: "127.0.0.1".parse().unwrap(),
            ice_servers: vec![],
            network: Default::default(),
            ports: None,
            public_ip: None,
            certificate: None,
            relay_only: false,
            send_rate: Default::default(),
            engine: None,
            ice_lite: false,
        };
        let (peer, _) = vcall::peer::Peer::new(&config).await.unwrap();
        let (offer, _) = peer
            .offer_to_receive(&[vcall::vocab::Kind::Video])
            .await
            .unwrap();
        offer
    });
    let trust = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[
            ureq::tls::Certificate::from_der(cert.cert.der()).to_owned(),
        ]))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(trust)
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .post(format!("https://127.0.0.1:{port}/whep/{session}/cam"))
        .header("Content-Type", "application/sdp")
        .header(
            "Authorization",
            format!("Bearer {}", fixed_token(&session, Role::Subscriber)),
        )
        .send(offer)
        .expect("WHEP over HTTPS");
    let answer = resp.body_mut().read_to_string().unwrap();
    assert_eq!(resp.status().as_u16(), 201, "{answer}");
    let candidates: Vec<&str> = answer
        .lines()
        .filter(|l| l.starts_with("a=candidate:"))
        .collect();
    assert!(!candidates.is_empty(), "{answer}");
    assert!(
        candidates.iter().all(|c| c.contains(" 127.0.0.2 ")),
        "{candidates:?}"
    );
}

#[test]
fn serve_names_its_ice_servers_in_link_headers() {
    let (_serve, url) = serve_process(
        "127.0.0.1:0",
        &["--ice-server", "turn:user:pass@127.0.0.1:3478"],
    );
    let session = fixed_session("links");
    let base = url.replace("ws://", "http://");
    let (status, h, _) = http("OPTIONS", &format!("{base}/whip/{session}"), &[], "");
    assert_eq!(status, 204);
    let link = header(&h, "link").unwrap_or_default().to_owned();
    assert!(
        link.contains("<turn:127.0.0.1:3478>; rel=\"ice-server\""),
        "{link}"
    );
    assert!(
        link.contains("username=\"user\"; credential=\"pass\""),
        "{link}"
    );
}

/// A STUN server on 127.0.0.1 that answers each binding request only after `delay`, as a
/// far one does, with the address a NAT would have mapped: the asker's, on another port (a
/// mapping equal to the host candidate would be redundant, and left out).
fn slow_stun(delay: std::time::Duration) -> String {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            // A binding request: type 0x0001, the magic cookie, a transaction id.
            if n < 20 || buf[0..2] != [0, 1] || buf[4..8] != [0x21, 0x12, 0xA4, 0x42] {
                continue;
            }
            let std::net::SocketAddr::V4(from4) = from else {
                continue;
            };
            let mut reply = vec![0x01, 0x01, 0, 12];
            reply.extend_from_slice(&buf[4..20]);
            // XOR-MAPPED-ADDRESS: IPv4, port and address XORed with the cookie.
            reply.extend_from_slice(&[0x00, 0x20, 0, 8, 0, 1]);
            let mapped = from4.port().wrapping_add(1000);
            reply.extend_from_slice(&(mapped ^ 0x2112).to_be_bytes());
            let ip = u32::from(*from4.ip()) ^ 0x2112_A442;
            reply.extend_from_slice(&ip.to_be_bytes());
            let (socket, reply) = (socket.try_clone().unwrap(), reply);
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let _ = socket.send_to(&reply, from);
            });
        }
    });
    format!("stun:{addr}")
}

#[test]
fn whip_client_trickles_candidates_found_after_its_offer() {
    // A STUN server slower than the offer waits: its candidate goes by PATCH after the POST.
    let server = Server::start();
    let session = server.session();
    let stun = slow_stun(std::time::Duration::from_millis(1500));
    let whip = format!("whip+{}/whip/{session}", http_base(&server));
    let mut args = publish_args("3s");
    args.extend(["--ice-server", &stun]);
    let (code, _, err) = run(cmd(&whip, &server.token(&session, Role::Publisher), &args));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("trickled 1 candidate(s)"), "{err}");
    assert!(err.contains("end of candidates"), "{err}");
}
