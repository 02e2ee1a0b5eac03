//! The server-side commands: `serve`, `session create`, `token create`.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};

use base64::Engine;

use crate::auth::{KeyPair, TokenClaims, unix_now};
use crate::cli::{KeyArgs, ServeArgs, SessionCreateArgs, TokenCreateArgs};
use crate::exit::{CmdResult, Exit, Failure};
use crate::peer::PeerError;
use crate::server::{self, ServerConfig};

fn key_pair(keys: &KeyArgs) -> Result<KeyPair, Failure> {
    match (&keys.api_key, &keys.api_secret) {
        (Some(key), Some(secret)) if !key.is_empty() && !secret.is_empty() => Ok(KeyPair {
            key: key.clone(),
            secret: secret.clone(),
        }),
        _ => Err(Failure::new(
            Exit::Usage,
            "an API key pair is needed: --api-key and --api-secret, or VCALL_API_KEY and VCALL_API_SECRET",
        )),
    }
}

pub async fn serve(args: ServeArgs) -> CmdResult {
    let generated = args.keys.api_key.is_none() && args.keys.api_secret.is_none();
    let keys = if generated {
        let k = KeyPair::generate();
        eprintln!("vcall: no API key pair given; generated a development pair:");
        eprintln!(
            "  export VCALL_API_KEY={} VCALL_API_SECRET={}",
            k.key, k.secret
        );
        k
    } else {
        key_pair(&args.keys)?
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(crate::server::load_tls(cert, key).map_err(|e| Failure::new(Exit::Usage, e))?)
        }
        _ => None,
    };
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| {
            Failure::new(
                Exit::Failure,
                format!("cannot listen on {}: {e}", args.listen),
            )
        })?;
    let addr = listener.local_addr()?;
    let media_ip = if addr.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        addr.ip()
    };
    let mut config = ServerConfig {
        ice_servers: args.ice_servers,
        network: crate::peer::Network::new(args.impair.impair.as_ref()),
        limits: crate::server::Limits {
            connections: args.max_connections,
            connections_per_ip: args.max_connections_per_ip,
        },
        udp_port: args.udp_port,
        udp_ports: args.udp_ports,
        public_ip: args.public_ip,
        tls,
        certificate: args.dtls_certificate,
        max_subscriber_bitrate: args.max_subscriber_bitrate,
        publisher_grace: args.publisher_grace,
        ..ServerConfig::new(keys.clone(), media_ip)
    };
    let engine = config.start_engine().map_err(|e| {
        let code = match e {
            PeerError::Unsupported(_) => Exit::Usage,
            _ => Exit::Failure,
        };
        Failure::caused_by(code, e).with_context("cannot start the media engine")
    })?;
    let media: Vec<String> = engine
        .candidates()
        .iter()
        .map(ToString::to_string)
        .collect();
    let media_tcp: Vec<String> = engine
        .tcp_candidates()
        .iter()
        .map(ToString::to_string)
        .collect();
    config.engine = Some(engine);
    // Listening for Ctrl-C before saying "serving": a Ctrl-C right after it stops cleanly.
    let stop = crate::client::interrupted();
    let tcp = match media_tcp.is_empty() {
        true => String::new(),
        false => format!("; ICE-TCP {}", media_tcp.join(", ")),
    };
    eprintln!(
        "vcall: serving on {scheme}://{addr} (media on UDP {}{tcp}; Ctrl-C stops)",
        media.join(", ")
    );
    if args.json {
        crate::jsonl::emit(
            "serving",
            serde_json::json!({
                "url": format!("{scheme}://{addr}"), "listen": addr.to_string(), "media": media,
                "mediaTcp": media_tcp,
                "generatedKeys": generated.then(|| serde_json::json!({
                    "apiKey": keys.key, "apiSecret": keys.secret,
                })),
            }),
        );
    }
    server::run(listener, config, async {
        stop.await;
        eprintln!("vcall: shutting down; telling clients");
    })
    .await?;
    if args.json {
        crate::jsonl::emit(
            "serverStopped",
            serde_json::json!({ "reason": "interrupted" }),
        );
    }
    Ok(Exit::Ok)
}

/// `ws://host:port/...` to `http://host:port`.
fn http_base(url: &str) -> Result<String, Failure> {
    let bad = || {
        Failure::new(
            Exit::Usage,
            format!("{url}: the server URL must start with ws://, wss://, http:// or https://"),
        )
    };
    let parsed = url::Url::parse(url).map_err(|_| bad())?;
    let scheme = match parsed.scheme() {
        "ws" | "http" => "http",
        "wss" | "https" => "https",
        _ => return Err(bad()),
    };
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(bad)?;
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    Ok(format!("{scheme}://{host}{port}"))
}

pub async fn session_create(args: SessionCreateArgs) -> CmdResult {
    let keys = key_pair(&args.keys)?;
    if let Some(room) = &args.room {
        let id = keys.room_session(room);
        if args.json {
            crate::jsonl::emit(
                "session",
                serde_json::json!({ "sessionId": id, "room": room }),
            );
        } else {
            println!("{id}");
        }
        return Ok(Exit::Ok);
    }
    let url = format!("{}/v1/sessions", http_base(&args.url)?);
    let body = serde_json::json!({ "p2p": args.p2p, "locationHint": args.location_hint.map(|ip| ip.to_string()) });
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", keys.key, keys.secret));
    let url2 = url.clone();
    let result = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(crate::signaling::tls_config())
            .http_status_as_error(false)
            .build()
            .into();
        agent
            .post(&url2)
            .header("authorization", &format!("Basic {auth}"))
            .send_json(&body)
    })
    .await
    .map_err(|e| Failure::new(Exit::Failure, e.to_string()))?;
    let mut resp = result.map_err(|e| {
        Failure::new(
            Exit::Unreachable,
            format!("cannot reach the server at {url}: {e}"),
        )
    })?;
    let status = resp.status();
    let json: serde_json::Value = resp.body_mut().read_json().unwrap_or_default();
    if status == 401 {
        return Err(Failure::new(
            Exit::Auth,
            "the server refused the API key or secret",
        ));
    }
    if !status.is_success() {
        let msg = json["error"].as_str().unwrap_or("no details").to_owned();
        return Err(Failure::new(
            Exit::Failure,
            format!("the server refused to create a session ({status}): {msg}"),
        ));
    }
    let id = json["sessionId"]
        .as_str()
        .ok_or_else(|| Failure::new(Exit::Failure, "the server's answer has no sessionId"))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let _ = writeln!(out, "{}", crate::jsonl::line("session", json.clone()));
    } else {
        let _ = writeln!(out, "{id}");
    }
    Ok(Exit::Ok)
}

pub fn token_create(args: TokenCreateArgs) -> CmdResult {
    let keys = key_pair(&args.keys)?;
    if args.livekit {
        return livekit_token_create(&keys, args);
    }
    let session = args.session.unwrap_or_default();
    if keys.open_session(&session).is_err() {
        return Err(Failure::new(
            Exit::NotFound,
            format!(
                "{session:?} is not a session of this API key pair (create one with `vcall session create`)"
            ),
        ));
    }
    let now = unix_now();
    let claims = TokenClaims {
        iss: keys.key.clone(),
        sid: session,
        role: args.role,
        data: args.data,
        iat: now,
        exp: now + args.expire_in.as_secs().max(1),
    };
    let token = keys.create_token(&claims);
    if args.json {
        crate::jsonl::emit(
            "token",
            serde_json::json!({
                "token": token, "sessionId": claims.sid, "role": claims.role,
                "data": claims.data, "expiresAt": claims.exp,
            }),
        );
    } else {
        println!("{token}");
    }
    Ok(Exit::Ok)
}

/// `token create --livekit`: a LiveKit access token (HS256, the `video` grant naming the room).
fn livekit_token_create(keys: &KeyPair, args: TokenCreateArgs) -> CmdResult {
    let (room, identity) = (
        args.room.unwrap_or_default(),
        args.identity.unwrap_or_default(),
    );
    // Neither given: both, as LiveKit's own default.
    let both = !args.can_publish && !args.can_subscribe;
    let (can_publish, can_subscribe) = (both || args.can_publish, both || args.can_subscribe);
    let jwt = crate::signaling::livekit::access_token(
        &keys.key,
        &keys.secret,
        &crate::signaling::livekit::Grant {
            room: &room,
            identity: &identity,
            name: args.name.as_deref(),
            metadata: args.metadata.as_deref(),
            can_publish,
            can_subscribe,
            ttl: args.expire_in,
        },
    )
    .map_err(|e| Failure::new(Exit::Usage, e))?;
    if args.json {
        let expires = unix_now() + args.expire_in.as_secs().max(1);
        crate::jsonl::emit(
            "token",
            serde_json::json!({
                "token": jwt, "room": room, "identity": identity,
                "canPublish": can_publish, "canSubscribe": can_subscribe,
                "expiresAt": expires,
            }),
        );
    } else {
        println!("{jwt}");
    }
    Ok(Exit::Ok)
}
