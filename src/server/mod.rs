//! The embedded server: signaling over WebSocket, a small HTTP API, and an SFU that forwards
//! every published track's RTP to its subscribers without decoding.
//!
//! The caller binds the listener and decides when to stop (`run(listener, .., shutdown)`).
//! Room state sits behind one `std::sync::Mutex` that is never held across an `.await`.

mod forward;

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::auth::{AuthError, KeyPair, Role, SessionProps, unix_now};
use crate::peer::{Kind, Peer, PeerConfig, PeerEvent, RemoteTrack};
use crate::session::{Connection, SessionEvent, Stream, now_ms};
use crate::signaling::native::{ClientMsg, ErrorCode, PROTOCOL_VERSION, ServerMsg};
use forward::{Hub, Subscription};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub keys: KeyPair,
    /// STUN/TURN servers for the server's own peer connections.
    pub ice_servers: Vec<String>,
    /// Address the media sockets bind (the listen address, or 0.0.0.0 for all interfaces).
    pub media_ip: IpAddr,
}

/// How long a publisher has to get its tracks flowing before the publish is abandoned.
const TRACK_WAIT: Duration = Duration::from_secs(15);

struct Member {
    info: Connection,
    tx: mpsc::UnboundedSender<ServerMsg>,
}

struct Published {
    info: Stream,
    peer: Arc<Peer>,
    hubs: Vec<Arc<Hub>>,
}

#[derive(Default)]
struct Room {
    members: HashMap<String, Member>,
    streams: HashMap<String, Published>,
}

impl Room {
    fn broadcast(&self, event: &SessionEvent) {
        for m in self.members.values() {
            let _ = m.tx.send(ServerMsg::Event {
                event: event.clone(),
            });
        }
    }
}

struct Shared {
    config: ServerConfig,
    rooms: Mutex<HashMap<String, Room>>,
    shutdown: watch::Receiver<bool>,
}

type AppState = Arc<Shared>;

fn random_id(prefix: &str) -> String {
    format!("{prefix}{:016x}", rand::random::<u64>())
}

/// Serves until `shutdown` completes; then tells every client why and closes.
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        config,
        rooms: Mutex::default(),
        shutdown: stop_rx.clone(),
    });
    let app = Router::new()
        .route("/v1/signaling", get(ws_handler))
        .route("/v1/sessions", post(create_session))
        .route("/v1/sessions/{id}", get(get_session))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(Arc::clone(&shared));
    let mut stop_wait = stop_rx.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stop_wait.wait_for(|s| *s).await;
        // Give connection tasks a moment to send their goodbyes.
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    server.await?;
    // Close every media connection that is left.
    let peers: Vec<Arc<Peer>> = {
        let mut rooms = shared.rooms.lock().expect("rooms lock");
        rooms
            .drain()
            .flat_map(|(_, r)| r.streams.into_values().map(|p| p.peer))
            .collect()
    };
    for p in peers {
        p.close().await;
    }
    Ok(())
}

fn api_authorized(state: &Shared, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(value) else {
        return false;
    };
    let expected = format!("{}:{}", state.config.keys.key, state.config.keys.secret);
    decoded == expected.as_bytes()
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CreateSession {
    #[serde(default)]
    p2p: bool,
    #[serde(default)]
    location_hint: Option<String>,
}

fn api_error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

async fn create_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Option<Json<CreateSession>>,
) -> Response {
    if !api_authorized(&state, &headers) {
        return api_error(StatusCode::UNAUTHORIZED, "invalid API key or secret");
    }
    let req = body.map(|b| b.0).unwrap_or_default();
    if let Some(hint) = &req.location_hint
        && hint.parse::<IpAddr>().is_err()
    {
        return api_error(
            StatusCode::BAD_REQUEST,
            &format!("locationHint {hint:?} is not an IP address"),
        );
    }
    let props = SessionProps {
        p2p: req.p2p,
        location_hint: req.location_hint,
        created_at: unix_now(),
        nonce: format!("{:08x}", rand::random::<u32>()),
    };
    let id = state.config.keys.create_session(&props);
    Json(serde_json::json!({
        "sessionId": id,
        "p2p": props.p2p,
        "locationHint": props.location_hint,
        "createdAt": props.created_at,
    }))
    .into_response()
}

async fn get_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !api_authorized(&state, &headers) {
        return api_error(StatusCode::UNAUTHORIZED, "invalid API key or secret");
    }
    let props = match state.config.keys.open_session(&id) {
        Ok(p) => p,
        Err(e) => return api_error(StatusCode::NOT_FOUND, &e.to_string()),
    };
    let rooms = state.rooms.lock().expect("rooms lock");
    let (connections, streams): (Vec<Connection>, Vec<Stream>) = rooms
        .get(&id)
        .map(|r| {
            (
                r.members.values().map(|m| m.info.clone()).collect(),
                r.streams.values().map(|s| s.info.clone()).collect(),
            )
        })
        .unwrap_or_default();
    Json(serde_json::json!({
        "sessionId": id,
        "p2p": props.p2p,
        "locationHint": props.location_hint,
        "createdAt": props.created_at,
        "connectionCount": connections.len(),
        "connections": connections,
        "streams": streams,
    }))
    .into_response()
}

async fn ws_handler(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| async move {
        if let Err(e) = serve_connection(state, socket).await {
            tracing::debug!("connection ended: {e}");
        }
    })
}

fn error_msg(req: Option<u64>, code: ErrorCode, message: impl Into<String>) -> ServerMsg {
    ServerMsg::Error {
        req,
        code,
        message: message.into(),
    }
}

async fn send(socket: &mut WebSocket, msg: &ServerMsg) -> Result<(), axum::Error> {
    socket
        .send(Message::text(
            serde_json::to_string(msg).expect("server messages serialize"),
        ))
        .await
}

/// What one connection has open besides its membership.
struct ConnCtx {
    session: String,
    id: String,
    role: Role,
    /// This connection's outbound messages.
    tx: mpsc::UnboundedSender<ServerMsg>,
    /// Subscriptions offered but not yet answered, and those running.
    subscriptions: HashMap<String, Arc<Subscription>>,
}

async fn serve_connection(state: AppState, mut socket: WebSocket) -> Result<(), axum::Error> {
    // The first message must be `connect`.
    let first = loop {
        match socket.recv().await {
            Some(Ok(Message::Text(t))) => break t,
            Some(Ok(Message::Close(_))) | None => return Ok(()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e),
        }
    };
    let (session, token, client_data) = match serde_json::from_str::<ClientMsg>(&first) {
        Ok(ClientMsg::Connect {
            version,
            session_id,
            token,
            client_data,
        }) => {
            if version != PROTOCOL_VERSION {
                let msg = error_msg(
                    None,
                    ErrorCode::VersionUnsupported,
                    format!(
                        "protocol version {version} is not supported; this server speaks {PROTOCOL_VERSION}"
                    ),
                );
                return send(&mut socket, &msg).await;
            }
            (session_id, token, client_data)
        }
        _ => {
            let msg = error_msg(
                None,
                ErrorCode::BadRequest,
                "the first message must be connect",
            );
            return send(&mut socket, &msg).await;
        }
    };
    let keys = &state.config.keys;
    if let Err(e) = keys.open_session(&session) {
        return send(
            &mut socket,
            &error_msg(None, ErrorCode::SessionNotFound, e.to_string()),
        )
        .await;
    }
    let claims = match keys.verify_token(&token, &session, unix_now()) {
        Ok(c) => c,
        Err(e) => {
            let code = match e {
                AuthError::Expired(_) => ErrorCode::TokenExpired,
                AuthError::WrongSession => ErrorCode::WrongSession,
                _ => ErrorCode::InvalidToken,
            };
            return send(&mut socket, &error_msg(None, code, e.to_string())).await;
        }
    };

    let (tx, mut rx) = mpsc::unbounded_channel::<ServerMsg>();
    let info = Connection {
        id: random_id("c-"),
        data: claims.data,
        client_data,
        created_at: now_ms(),
    };
    {
        let mut rooms = state.rooms.lock().expect("rooms lock");
        let room = rooms.entry(session.clone()).or_default();
        room.broadcast(&SessionEvent::ConnectionCreated {
            connection: info.clone(),
        });
        room.members.insert(
            info.id.clone(),
            Member {
                info: info.clone(),
                tx: tx.clone(),
            },
        );
        let mut connections: Vec<Connection> =
            room.members.values().map(|m| m.info.clone()).collect();
        connections.sort_by_key(|c| c.created_at);
        let mut streams: Vec<Stream> = room.streams.values().map(|s| s.info.clone()).collect();
        streams.sort_by_key(|s| s.created_at);
        let _ = tx.send(ServerMsg::Event {
            event: SessionEvent::SessionConnected {
                session_id: session.clone(),
                connection: info.clone(),
                connection_count: connections.len(),
                connections,
                streams,
            },
        });
    }
    tracing::info!(connection = %info.id, role = ?claims.role, "joined");

    let mut ctx = ConnCtx {
        session,
        id: info.id.clone(),
        role: claims.role,
        tx: tx.clone(),
        subscriptions: HashMap::new(),
    };
    let mut shutdown = state.shutdown.clone();
    let mut reason = "clientDisconnected";
    loop {
        tokio::select! {
            out = rx.recv() => {
                let Some(msg) = out else { break };
                let ends = matches!(&msg, ServerMsg::Event { event: SessionEvent::SessionDisconnected { .. } });
                if send(&mut socket, &msg).await.is_err() { reason = "networkDisconnected"; break; }
                if ends { reason = "forceDisconnected"; break; }
            }
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => continue,
                    Some(Err(_)) => { reason = "networkDisconnected"; break; }
                };
                match serde_json::from_str::<ClientMsg>(&text) {
                    Ok(ClientMsg::Disconnect) => break,
                    Ok(msg) => handle(&state, &mut ctx, msg).await,
                    Err(e) => { let _ = tx.send(error_msg(None, ErrorCode::BadRequest, format!("unreadable message: {e}"))); }
                }
            }
            _ = async { let _ = shutdown.wait_for(|s| *s).await; } => {
                let _ = send(&mut socket, &ServerMsg::Event { event: SessionEvent::SessionDisconnected { reason: "serverShutdown".into() } }).await;
                reason = "serverShutdown";
                break;
            }
        }
    }
    leave(&state, &ctx, reason).await;
    let _ = socket.send(Message::Close(None)).await;
    Ok(())
}

/// While the server shuts down, every client is told `sessionDisconnected` and nothing else:
/// streams and connections ending on the way out are not news to anyone.
fn shutting_down(state: &Shared) -> bool {
    *state.shutdown.borrow()
}

/// Removes a connection: its streams end, its subscriptions close, the others are told.
async fn leave(state: &Shared, ctx: &ConnCtx, reason: &str) {
    let own_streams: Vec<String> = {
        let rooms = state.rooms.lock().expect("rooms lock");
        rooms
            .get(&ctx.session)
            .map(|r| {
                r.streams
                    .values()
                    .filter(|s| s.info.connection_id == ctx.id)
                    .map(|s| s.info.id.clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    for stream in own_streams {
        end_stream(state, &ctx.session, &stream, reason).await;
    }
    for sub in ctx.subscriptions.values() {
        sub.close().await;
    }
    let mut rooms = state.rooms.lock().expect("rooms lock");
    if let Some(room) = rooms.get_mut(&ctx.session)
        && let Some(member) = room.members.remove(&ctx.id)
    {
        if !shutting_down(state) {
            room.broadcast(&SessionEvent::ConnectionDestroyed {
                connection: member.info,
                reason: reason.to_owned(),
            });
        }
        if room.members.is_empty() && room.streams.is_empty() {
            rooms.remove(&ctx.session);
        }
    }
    tracing::info!(connection = %ctx.id, reason, "left");
}

/// Ends a stream: removes it, tells everyone, closes the publisher's peer connection.
async fn end_stream(state: &Shared, session: &str, stream_id: &str, reason: &str) -> bool {
    let published = {
        let mut rooms = state.rooms.lock().expect("rooms lock");
        let Some(room) = rooms.get_mut(session) else {
            return false;
        };
        let Some(p) = room.streams.remove(stream_id) else {
            return false;
        };
        if !shutting_down(state) {
            room.broadcast(&SessionEvent::StreamDestroyed {
                stream: p.info.clone(),
                reason: reason.to_owned(),
            });
        }
        p
    };
    for hub in &published.hubs {
        hub.close();
    }
    published.peer.close().await;
    tracing::info!(stream = %stream_id, reason, "stream ended");
    true
}

async fn handle(state: &AppState, ctx: &mut ConnCtx, msg: ClientMsg) {
    let reply = match msg {
        ClientMsg::Publish {
            req,
            name,
            has_audio,
            has_video,
            sdp,
        } => publish(state, ctx, req, name, has_audio, has_video, sdp).await,
        ClientMsg::Unpublish { req, stream_id } => {
            let owned = owner_of(state, &ctx.session, &stream_id).as_deref() == Some(&ctx.id);
            if !owned {
                error_msg(
                    Some(req),
                    ErrorCode::NotFound,
                    format!("you publish no stream {stream_id:?}"),
                )
            } else {
                end_stream(state, &ctx.session, &stream_id, "unpublished").await;
                ServerMsg::Ok { req }
            }
        }
        ClientMsg::Subscribe {
            req,
            stream_id,
            audio,
            video,
        } => subscribe(state, ctx, req, stream_id, audio, video).await,
        ClientMsg::SubscribeAnswer {
            req,
            subscription_id,
            sdp,
        } => match ctx.subscriptions.get(&subscription_id) {
            None => error_msg(
                Some(req),
                ErrorCode::NotFound,
                format!("no subscription {subscription_id:?}"),
            ),
            Some(sub) => match sub.start(&sdp).await {
                Ok(()) => ServerMsg::Ok { req },
                Err(e) => error_msg(Some(req), ErrorCode::Media, e.to_string()),
            },
        },
        ClientMsg::ForceUnpublish { req, stream_id } => {
            if !ctx.role.may_moderate() {
                error_msg(
                    Some(req),
                    ErrorCode::Forbidden,
                    format!(
                        "a {:?} token cannot force an unpublish; a moderator token can",
                        ctx.role
                    )
                    .to_lowercase(),
                )
            } else if end_stream(state, &ctx.session, &stream_id, "forceUnpublished").await {
                ServerMsg::Ok { req }
            } else {
                error_msg(
                    Some(req),
                    ErrorCode::NotFound,
                    format!("no stream {stream_id:?} in this session"),
                )
            }
        }
        ClientMsg::ForceDisconnect { req, connection_id } => {
            if !ctx.role.may_moderate() {
                error_msg(
                    Some(req),
                    ErrorCode::Forbidden,
                    format!(
                        "a {:?} token cannot force a disconnect; a moderator token can",
                        ctx.role
                    )
                    .to_lowercase(),
                )
            } else {
                let rooms = state.rooms.lock().expect("rooms lock");
                match rooms
                    .get(&ctx.session)
                    .and_then(|r| r.members.get(&connection_id))
                {
                    Some(m) => {
                        let _ = m.tx.send(ServerMsg::Event {
                            event: SessionEvent::SessionDisconnected {
                                reason: "forceDisconnected".into(),
                            },
                        });
                        ServerMsg::Ok { req }
                    }
                    None => error_msg(
                        Some(req),
                        ErrorCode::NotFound,
                        format!("no connection {connection_id:?} in this session"),
                    ),
                }
            }
        }
        ClientMsg::Connect { .. } => error_msg(None, ErrorCode::BadRequest, "already connected"),
        ClientMsg::Disconnect => return,
    };
    let _ = ctx.tx.send(reply);
}

fn owner_of(state: &Shared, session: &str, stream_id: &str) -> Option<String> {
    let rooms = state.rooms.lock().expect("rooms lock");
    rooms
        .get(session)?
        .streams
        .get(stream_id)
        .map(|s| s.info.connection_id.clone())
}

fn peer_config(state: &Shared) -> PeerConfig {
    PeerConfig {
        bind_ip: state.config.media_ip,
        ice_servers: state.config.ice_servers.clone(),
    }
}

async fn publish(
    state: &AppState,
    ctx: &ConnCtx,
    req: u64,
    name: String,
    has_audio: bool,
    has_video: bool,
    sdp: String,
) -> ServerMsg {
    if !ctx.role.may_publish() {
        return error_msg(
            Some(req),
            ErrorCode::Forbidden,
            "a subscriber token cannot publish; ask for a publisher or moderator token",
        );
    }
    if !has_audio && !has_video {
        return error_msg(
            Some(req),
            ErrorCode::BadRequest,
            "a stream needs audio or video",
        );
    }
    let (peer, mut events) = match Peer::new(&peer_config(state)).await {
        Ok(p) => p,
        Err(e) => return error_msg(Some(req), ErrorCode::Internal, e.to_string()),
    };
    let answer = match peer.accept_offer(&sdp).await {
        Ok(a) => a,
        Err(e) => return error_msg(Some(req), ErrorCode::Media, e.to_string()),
    };
    let peer = Arc::new(peer);
    let stream = Stream {
        id: random_id("s-"),
        name,
        has_audio,
        has_video,
        connection_id: ctx.id.clone(),
        created_at: 0,
    };
    let stream_id = stream.id.clone();
    // The stream exists for others once its tracks arrive.
    let state2 = Arc::clone(state);
    let session = ctx.session.clone();
    let owner_tx = ctx.tx.clone();
    tokio::spawn(async move {
        let wanted = usize::from(has_audio) + usize::from(has_video);
        let mut tracks: Vec<RemoteTrack> = Vec::new();
        let deadline = tokio::time::sleep(TRACK_WAIT);
        tokio::pin!(deadline);
        while tracks.len() < wanted {
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(PeerEvent::Track(t)) => {
                        let kind = t.codec.kind();
                        if (kind == Kind::Audio && has_audio) || (kind == Kind::Video && has_video) {
                            tracks.push(t);
                        }
                    }
                    None => break,
                },
                _ = &mut deadline => break,
            }
        }
        if tracks.len() < wanted {
            tracing::warn!(stream = %stream.id, "publisher's media did not arrive; publish abandoned");
            let _ = owner_tx.send(error_msg(
                None,
                ErrorCode::Media,
                "the server received no media for the published stream",
            ));
            peer.close().await;
            return;
        }
        let hubs: Vec<Arc<Hub>> = tracks.into_iter().map(Hub::start).collect();
        let mut stream = stream;
        stream.created_at = now_ms();
        {
            let mut rooms = state2.rooms.lock().expect("rooms lock");
            let Some(room) = rooms.get_mut(&session) else {
                return;
            };
            if !room.members.contains_key(&stream.connection_id) {
                return;
            }
            room.broadcast(&SessionEvent::StreamCreated {
                stream: stream.clone(),
            });
            room.streams.insert(
                stream.id.clone(),
                Published {
                    info: stream.clone(),
                    peer: Arc::clone(&peer),
                    hubs: hubs.clone(),
                },
            );
        }
        tracing::info!(stream = %stream.id, name = %stream.name, "stream created");
        // When the publisher's media ends (peer failed or closed), the stream ends.
        let mut peer_state = peer.state();
        let _ = peer_state
            .wait_for(|s| {
                matches!(
                    s,
                    crate::peer::PeerState::Failed | crate::peer::PeerState::Closed
                )
            })
            .await;
        end_stream(&state2, &session, &stream.id, "mediaStopped").await;
    });
    ServerMsg::Published {
        req,
        stream_id,
        sdp: answer,
    }
}

async fn subscribe(
    state: &AppState,
    ctx: &mut ConnCtx,
    req: u64,
    stream_id: String,
    audio: bool,
    video: bool,
) -> ServerMsg {
    let hubs: Vec<Arc<Hub>> = {
        let rooms = state.rooms.lock().expect("rooms lock");
        match rooms
            .get(&ctx.session)
            .and_then(|r| r.streams.get(&stream_id))
        {
            Some(p) => p
                .hubs
                .iter()
                .filter(|h| match h.codec.kind() {
                    Kind::Audio => audio,
                    Kind::Video => video,
                })
                .cloned()
                .collect(),
            None => {
                return error_msg(
                    Some(req),
                    ErrorCode::NotFound,
                    format!("no stream {stream_id:?} in this session"),
                );
            }
        }
    };
    if hubs.is_empty() {
        return error_msg(
            Some(req),
            ErrorCode::BadRequest,
            "nothing to subscribe to: the stream has none of the requested media",
        );
    }
    let subscription_id = random_id("sub-");
    match Subscription::offer(&peer_config(state), &stream_id, hubs).await {
        Ok((sub, sdp)) => {
            ctx.subscriptions
                .insert(subscription_id.clone(), Arc::new(sub));
            ServerMsg::SubscribeOffer {
                req,
                subscription_id,
                stream_id,
                sdp,
            }
        }
        Err(e) => error_msg(Some(req), ErrorCode::Internal, e.to_string()),
    }
}
