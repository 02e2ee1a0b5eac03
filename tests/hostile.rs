//! What the server does with clients that misbehave: silence after the handshake, binary
//! frames, oversized messages, another protocol version, too many sockets. Raw WebSockets, so nothing in vcall's own
//! client can smooth them over.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

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
