//! LiveKit's signaling on the embedded server: `/rtc`, a WebSocket of protobuf
//! `SignalRequest`s and `SignalResponse`s, for LiveKit's own SDKs (and OpenVidu 3's).
//!
//! A participant is a connection of the room core like any other (a [`Virtual`] socket:
//! requests in, replies and session events out), so tokens, events and the SFU are the ones
//! native and WHIP clients meet in the same session. What is LiveKit's stays here: the token
//! (a LiveKit JWT, turned into the core's), the names (`PA_` participants, `TR_` tracks, the
//! room by name), and the two peer connections: the client offers on its publisher
//! connection, which this module answers once the core knows what it publishes; the server
//! offers each subscription on the client's subscriber connection (the driver makes the
//! offer, this module passes the client's answer back).
//!
//! Only the dual peer connection protocol (`/rtc`) is spoken: `/rtc/v1` is answered 404,
//! which is how the SDKs learn to fall back to it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use livekit_api::access_token::{Claims, TokenVerifier};
use livekit_protocol as lk;
use prost::Message as _;
use tokio::sync::mpsc;

use super::intent::{Exchange, Receiving, Refusal, Reply, Request, Sending, TrackName};
use super::tls::ClientAddr;
use super::whip::{CONNECT, Virtual, bearer, end, problem, refusal};
use super::{AppState, MAX_MESSAGE};
use crate::auth::{Role, TokenClaims, unix_now};
use crate::session::{
    Connection, ConnectionId, Layer, LayerWish, Reason, SessionEvent, Stream, StreamId,
    SubscriptionId, now_ms,
};
use crate::vocab::Kind;

/// The protocol version announced (17: data channels opened in-band, as `/rtc` has them).
const PROTOCOL: i32 = 17;
/// Seconds between the client's pings, and without a message before it gives up (LiveKit's
/// own; never zero: the Rust SDK cannot take zero).
const PING_INTERVAL: i32 = 5;
const PING_TIMEOUT: i32 = 15;
/// How long the client has to answer a subscriber offer.
const ANSWER_LIMIT: Duration = Duration::from_secs(15);

/// A participant's sid.
fn participant_sid(conn: &ConnectionId) -> String {
    format!("PA_{conn}")
}

/// The sid of a stream's track of `kind`: a stream may carry both kinds, a LiveKit track one.
fn track_sid(stream: &StreamId, kind: Kind) -> String {
    let k = match kind {
        Kind::Audio => 'A',
        Kind::Video => 'V',
    };
    format!("TR_{stream}{k}")
}

/// The stream and kind a track sid names.
fn track_of(track_sid: &str) -> Option<(StreamId, Kind)> {
    let s = track_sid.strip_prefix("TR_")?;
    let (s, kind) = match s.strip_suffix('A') {
        Some(s) => (s, Kind::Audio),
        None => (s.strip_suffix('V')?, Kind::Video),
    };
    Some((StreamId::from(s.to_owned()), kind))
}

/// Whether a track sid names a video track.
fn is_video(track_sid: &str) -> bool {
    track_of(track_sid).is_some_and(|(_, kind)| kind == Kind::Video)
}

/// The `msid` (stream id, track id) of a forwarded track on a LiveKit subscriber connection:
/// `PA_…|TR_…` and `TR_…`, how the SDKs find the participant and the track.
fn msid(owner: &ConnectionId, stream: &StreamId, kind: Kind) -> (String, String) {
    let track = track_sid(stream, kind);
    (format!("{}|{track}", participant_sid(owner)), track)
}

/// What a LiveKit participant says of itself in the core (its client data).
#[derive(serde::Serialize, serde::Deserialize)]
struct Identity {
    identity: String,
    #[serde(default)]
    name: String,
}

#[derive(serde::Deserialize, Default)]
pub(super) struct RtcQuery {
    access_token: Option<String>,
    auto_subscribe: Option<String>,
    reconnect: Option<String>,
}

fn flag(v: &Option<String>, default: bool) -> bool {
    v.as_deref().map_or(default, |v| v == "1" || v == "true")
}

/// The token's claims, or the response refusing it (401, as LiveKit's server does).
fn verify(
    state: &AppState,
    headers: &HeaderMap,
    q: &RtcQuery,
) -> Result<Claims, (StatusCode, String)> {
    let Some(token) = bearer(headers).or_else(|| q.access_token.clone()) else {
        return Err((
            StatusCode::UNAUTHORIZED,
            "permissions denied: no token".into(),
        ));
    };
    let keys = &state.config.keys;
    let claims = TokenVerifier::with_api_key(&keys.key, &keys.secret)
        .verify(&token)
        .map_err(|e| {
            let why = match Claims::from_unverified(&token) {
                Ok(c) if c.iss != keys.key => format!("invalid API key {:?}", c.iss),
                Ok(c) if (c.exp as u64) <= unix_now() => "the token expired".to_owned(),
                Ok(_) => "invalid authorization token: its signature is not this server's \
                          API secret's"
                    .to_owned(),
                _ => format!("invalid authorization token: {e}"),
            };
            (StatusCode::UNAUTHORIZED, why)
        })?;
    if !claims.video.room_join || claims.video.room.is_empty() {
        return Err((
            StatusCode::UNAUTHORIZED,
            "permissions denied: the token grants no room to join".into(),
        ));
    }
    if claims.sub.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "identity cannot be empty".into()));
    }
    Ok(claims)
}

/// `GET /rtc/validate`: what joining with this token would meet, without joining.
pub(super) async fn validate(
    State(state): State<AppState>,
    Query(q): Query<RtcQuery>,
    headers: HeaderMap,
) -> Response {
    let mut r = match verify(&state, &headers, &q) {
        Ok(_) => "success".into_response(),
        Err((status, why)) => problem(status, &why),
    };
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    r
}

/// `/rtc/v1` and `/rtc/v1/validate`: not spoken here; the SDKs fall back to `/rtc` on 404.
pub(super) async fn v1() -> Response {
    let mut r = problem(StatusCode::NOT_FOUND, "not found: this server speaks /rtc");
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    r
}

/// `GET /rtc`: the token checked and the participant joined to the core before the upgrade,
/// so a refusal is an HTTP status with the reason (what the SDKs read), not a closed socket.
pub(super) async fn rtc(
    State(state): State<AppState>,
    axum::Extension(live): axum::Extension<mpsc::Sender<()>>,
    ConnectInfo(ClientAddr(peer)): ConnectInfo<ClientAddr>,
    Query(q): Query<RtcQuery>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return problem(StatusCode::NOT_FOUND, "/rtc is a WebSocket");
    };
    let claims = match verify(&state, &headers, &q) {
        Ok(c) => c,
        Err((status, why)) => return problem(status, &why),
    };
    let counted = match state.admit(peer.ip()) {
        Ok(c) => c,
        Err(why) => return refusal(Refusal::TooManyConnections, &why),
    };
    let (events_tx, events) = mpsc::unbounded_channel();
    let client = Virtual::open(&state, Some(events_tx));
    let joined = match join(&state, &client, &claims).await {
        Ok(j) => j,
        Err(r) => {
            forget(&state, &client, Reason::ClientDisconnected);
            return r;
        }
    };
    tracing::info!(%peer, room = %claims.video.room, identity = %claims.sub, "LiveKit participant joined");
    let auto_subscribe = flag(&q.auto_subscribe, true) && claims.video.can_subscribe();
    let resuming = flag(&q.reconnect, false);
    ws.max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            let mut p = Participant::new(state, client, claims, joined, auto_subscribe, events);
            p.run(socket, resuming).await;
            drop(counted);
            drop(live);
        })
}

/// Ends the participant's connection in the core.
fn forget(state: &AppState, client: &Virtual, reason: Reason) {
    end(state, client.sock, reason);
}

/// What the core said when the participant joined.
struct Joined {
    me: Connection,
    connections: Vec<Connection>,
    streams: Vec<Stream>,
}

/// Joins the room's session with a core token made from the LiveKit one.
async fn join(state: &AppState, client: &Virtual, claims: &Claims) -> Result<Joined, Response> {
    let keys = &state.config.keys;
    let session = keys.room_session(&claims.video.room);
    let now = unix_now();
    let token = keys.create_token(&TokenClaims {
        iss: keys.key.clone(),
        sid: session.clone(),
        role: if claims.video.can_publish() {
            Role::Publisher
        } else {
            Role::Subscriber
        },
        data: claims.metadata.clone(),
        iat: now,
        exp: (claims.exp as u64).max(now + 1),
    });
    let who = Identity {
        identity: claims.sub.clone(),
        name: claims.name.clone(),
    };
    let join = Request::Join {
        session: session.into(),
        token,
        client_data: serde_json::to_string(&who).expect("identity serializes"),
    };
    match client.ask(state, CONNECT, join).await? {
        Reply::Event(SessionEvent::SessionConnected {
            connection,
            connections,
            streams,
            ..
        }) => Ok(Joined {
            me: connection,
            connections,
            streams,
        }),
        _ => Err(problem(StatusCode::INTERNAL_SERVER_ERROR, "joining failed")),
    }
}

/// A track the client announced (`add_track`) and has not offered yet.
struct Announced {
    stream: StreamId,
    name: String,
    kind: Kind,
}

/// What finished in the background.
enum Done {
    /// The publisher connection's answer to the offer numbered `id`.
    PublisherAnswer {
        id: u32,
        result: Result<String, crate::peer::PeerError>,
    },
    /// The core's reply to a subscribe: the server's offer of the stream's tracks.
    Subscribed {
        tracks: Vec<String>,
        /// The layer its video was asked at.
        layer: LayerWish,
        reply: Option<Reply>,
    },
}

/// One LiveKit participant on its WebSocket.
struct Participant {
    state: AppState,
    client: Arc<Virtual>,
    claims: Claims,
    me: ConnectionId,
    /// This participant as the core knows it.
    me_conn: Connection,
    room: String,
    /// Everyone in the room by connection, with the streams each publishes.
    others: HashMap<ConnectionId, (Connection, Vec<Stream>)>,
    mine: Vec<Stream>,
    /// The version of the participant infos this server sends (one counter for all).
    version: u32,
    auto_subscribe: bool,
    events: mpsc::UnboundedReceiver<Reply>,
    announced: HashMap<String, Announced>,
    /// Offers of the publisher connection, answered one at a time, in order.
    offers: mpsc::UnboundedSender<(u32, String)>,
    offers_rx: Option<mpsc::UnboundedReceiver<(u32, String)>>,
    done_tx: mpsc::UnboundedSender<Done>,
    done: mpsc::UnboundedReceiver<Done>,
    /// Tracks to subscribe to (a stream's tracks of one kind, or all of them), one exchange
    /// at a time on the subscriber connection.
    to_subscribe: VecDeque<(StreamId, Option<Kind>)>,
    /// The track sids subscribed to.
    subscribed: HashSet<String>,
    /// The layer each video track sid is asked at (`UpdateTrackSettings`; `auto` unless
    /// asked), and the subscription it is in once made.
    layers: HashMap<String, LayerWish>,
    subs: HashMap<String, SubscriptionId>,
    /// The subscriber offer the client has to answer (its id), and by when.
    awaiting_answer: Option<(u32, tokio::time::Instant)>,
    subscribing: bool,
    next_offer_id: u32,
}

impl Participant {
    fn new(
        state: AppState,
        client: Arc<Virtual>,
        claims: Claims,
        joined: Joined,
        auto_subscribe: bool,
        events: mpsc::UnboundedReceiver<Reply>,
    ) -> Participant {
        let (offers, offers_rx) = mpsc::unbounded_channel();
        let (done_tx, done) = mpsc::unbounded_channel();
        let me = joined.me.id.clone();
        let me_conn = joined.me.clone();
        let mut others: HashMap<ConnectionId, (Connection, Vec<Stream>)> = joined
            .connections
            .into_iter()
            .filter(|c| c.id != me)
            .map(|c| (c.id.clone(), (c, Vec::new())))
            .collect();
        let mut to_subscribe = VecDeque::new();
        for s in joined.streams {
            if let Some((_, streams)) = others.get_mut(&s.connection_id) {
                if auto_subscribe {
                    to_subscribe.push_back((s.id.clone(), None));
                }
                streams.push(s);
            }
        }
        Participant {
            room: claims.video.room.clone(),
            state,
            client,
            claims,
            me,
            me_conn,
            others,
            mine: Vec::new(),
            version: 1,
            auto_subscribe,
            events,
            announced: HashMap::new(),
            offers,
            offers_rx: Some(offers_rx),
            done_tx,
            done,
            to_subscribe,
            subscribed: HashSet::new(),
            layers: HashMap::new(),
            subs: HashMap::new(),
            awaiting_answer: None,
            subscribing: false,
            next_offer_id: 1,
        }
    }

    fn next_version(&mut self) -> u32 {
        self.version += 1;
        self.version
    }

    // `simulcast` is deprecated in the protocol for `codecs[].video_layer_mode`, but it is
    // what the SDKs read to let a subscriber choose a quality.
    #[allow(deprecated)]
    fn track_info(&self, s: &Stream, kind: Kind) -> lk::TrackInfo {
        let (r#type, source, mime) = match kind {
            Kind::Audio => (
                lk::TrackType::Audio,
                lk::TrackSource::Microphone,
                "audio/opus",
            ),
            Kind::Video => (lk::TrackType::Video, lk::TrackSource::Camera, ""),
        };
        lk::TrackInfo {
            sid: track_sid(&s.id, kind),
            name: s.name.clone(),
            r#type: r#type as i32,
            source: source as i32,
            mime_type: mime.into(),
            stream: s.name.clone(),
            // The SDKs let a subscriber choose a quality of simulcast tracks only.
            simulcast: kind == Kind::Video && self.state.is_simulcast(&s.id),
            ..Default::default()
        }
    }

    fn participant_info(
        &mut self,
        c: &Connection,
        streams: &[Stream],
        state: lk::participant_info::State,
    ) -> lk::ParticipantInfo {
        // A LiveKit participant by its identity; anyone else by its connection's id.
        let (identity, name) = match serde_json::from_str::<Identity>(&c.client_data) {
            Ok(i) => (i.identity, i.name),
            Err(_) => (c.id.to_string(), c.client_data.clone()),
        };
        let tracks = streams
            .iter()
            .flat_map(|s| {
                Kind::of((s.has_audio, s.has_video))
                    .map(|k| self.track_info(s, k))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>();
        lk::ParticipantInfo {
            sid: participant_sid(&c.id),
            identity,
            name,
            state: state as i32,
            is_publisher: !tracks.is_empty(),
            tracks,
            metadata: c.data.clone(),
            joined_at: (c.created_at / 1000) as i64,
            joined_at_ms: c.created_at as i64,
            version: self.next_version(),
            permission: Some(lk::ParticipantPermission {
                can_subscribe: true,
                can_publish: true,
                can_publish_data: true,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// This participant as the others see it, with its permissions.
    fn my_info(&mut self, state: lk::participant_info::State) -> lk::ParticipantInfo {
        let (me, mine) = (self.me_conn.clone(), self.mine.clone());
        let mut info = self.participant_info(&me, &mine, state);
        info.permission = Some(lk::ParticipantPermission {
            can_subscribe: self.claims.video.can_subscribe(),
            can_publish: self.claims.video.can_publish(),
            can_publish_data: self.claims.video.can_publish_data(),
            ..Default::default()
        });
        info
    }

    fn join_response(&mut self) -> lk::JoinResponse {
        let info = self.my_info(lk::participant_info::State::Joined);
        let others: Vec<(Connection, Vec<Stream>)> = self.others.values().cloned().collect();
        let other_participants = others
            .iter()
            .map(|(c, s)| self.participant_info(c, s, lk::participant_info::State::Active))
            .collect();
        let version = env!("CARGO_PKG_VERSION").to_owned();
        lk::JoinResponse {
            room: Some(lk::Room {
                sid: format!("RM_{}", self.room),
                name: self.room.clone(),
                num_participants: (self.others.len() + 1) as u32,
                creation_time: (now_ms() / 1000) as i64,
                ..Default::default()
            }),
            participant: Some(info),
            other_participants,
            server_version: version.clone(),
            subscriber_primary: false,
            ping_interval: PING_INTERVAL,
            ping_timeout: PING_TIMEOUT,
            server_info: Some(lk::ServerInfo {
                edition: lk::server_info::Edition::Standard as i32,
                version,
                protocol: PROTOCOL,
                node_id: "vcall".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    async fn run(&mut self, mut socket: WebSocket, resuming: bool) {
        if resuming {
            // Resuming is not supported: the SDKs join again from the start.
            tracing::info!("a LiveKit client asked to resume; told to reconnect");
            let leave = lk::LeaveRequest {
                can_reconnect: true,
                action: lk::leave_request::Action::Reconnect as i32,
                ..Default::default()
            };
            let _ = send(&mut socket, lk::signal_response::Message::Leave(leave)).await;
            forget(&self.state, &self.client, Reason::ClientDisconnected);
            return;
        }
        let join = self.join_response();
        if send(&mut socket, lk::signal_response::Message::Join(join))
            .await
            .is_err()
        {
            forget(&self.state, &self.client, Reason::NetworkDisconnected);
            return;
        }
        let publisher = tokio::spawn(answer_offers(
            Arc::clone(&self.state),
            self.client.sock,
            self.offers_rx.take().expect("offers taken once"),
            self.done_tx.clone(),
        ));
        let reason = self.serve(&mut socket).await;
        publisher.abort();
        forget(&self.state, &self.client, reason);
    }

    /// The participant's loop; returns why it ended.
    async fn serve(&mut self, socket: &mut WebSocket) -> Reason {
        let mut check = tokio::time::interval(Duration::from_secs(1));
        loop {
            self.next_subscription();
            let out: Vec<lk::signal_response::Message> = tokio::select! {
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Binary(bytes))) => match lk::SignalRequest::decode(bytes) {
                        Ok(req) => match self.request(req).await {
                            Ok(out) => out,
                            Err(reason) => return reason,
                        },
                        Err(e) => {
                            tracing::info!("a LiveKit client sent an unreadable message: {e}");
                            let _ = socket
                                .send(Message::Close(Some(CloseFrame {
                                    code: 1007,
                                    reason: "unreadable SignalRequest".into(),
                                })))
                                .await;
                            return Reason::NetworkDisconnected;
                        }
                    },
                    Some(Ok(Message::Text(_))) => {
                        tracing::info!("a LiveKit client sent text; the protocol is binary protobuf");
                        let _ = socket
                            .send(Message::Close(Some(CloseFrame {
                                code: 1003,
                                reason: "binary SignalRequest frames only".into(),
                            })))
                            .await;
                        return Reason::NetworkDisconnected;
                    }
                    Some(Ok(Message::Close(_))) | None => return Reason::ClientDisconnected,
                    Some(Ok(_)) => continue,
                    Some(Err(_)) => return Reason::NetworkDisconnected,
                },
                msg = self.events.recv() => match msg {
                    Some(msg) => match self.core_message(msg) {
                        Ok(out) => out,
                        Err(leave) => {
                            let _ = send(socket, lk::signal_response::Message::Leave(leave)).await;
                            let _ = socket.send(Message::Close(None)).await;
                            return Reason::ClientDisconnected;
                        }
                    },
                    None => {
                        // The core closed the connection (shutdown, or moved on without it):
                        // the participant may join again (on this server once it is back).
                        let leave = lk::LeaveRequest {
                            action: lk::leave_request::Action::Reconnect as i32,
                            reason: lk::DisconnectReason::ServerShutdown as i32,
                            ..Default::default()
                        };
                        let _ = send(socket, lk::signal_response::Message::Leave(leave)).await;
                        let _ = socket.send(Message::Close(None)).await;
                        return Reason::ClientDisconnected;
                    }
                },
                Some(done) = self.done.recv() => self.finished(done),
                _ = check.tick() => {
                    if let Some((id, by)) = self.awaiting_answer
                        && tokio::time::Instant::now() > by
                    {
                        tracing::info!(id, "a LiveKit client did not answer a subscriber offer");
                        return Reason::NetworkDisconnected;
                    }
                    Vec::new()
                }
            };
            for m in out {
                if send(socket, m).await.is_err() {
                    return Reason::NetworkDisconnected;
                }
            }
        }
    }

    /// One request of the client's; what to send back, or why the participant leaves.
    async fn request(
        &mut self,
        req: lk::SignalRequest,
    ) -> Result<Vec<lk::signal_response::Message>, Reason> {
        use lk::signal_request::Message as Req;
        use lk::signal_response::Message as Resp;
        let Some(msg) = req.message else {
            return Ok(Vec::new());
        };
        Ok(match msg {
            Req::Offer(offer) => {
                self.publish_offered(&offer.sdp).await;
                let _ = self.offers.send((offer.id, offer.sdp));
                Vec::new()
            }
            Req::Answer(answer) => {
                self.subscriber_answered(&answer.sdp).await;
                Vec::new()
            }
            Req::Trickle(t) => {
                self.trickled(&t).await;
                Vec::new()
            }
            Req::AddTrack(add) => self.add_track(add).into_iter().collect(),
            Req::Leave(_) => return Err(Reason::ClientDisconnected),
            Req::PingReq(ping) => vec![Resp::PongResp(lk::Pong {
                last_ping_timestamp: ping.timestamp,
                timestamp: now_ms() as i64,
            })],
            Req::Ping(_) => vec![Resp::Pong(now_ms() as i64)],
            Req::Subscription(update) => {
                let sids = update
                    .track_sids
                    .iter()
                    .chain(update.participant_tracks.iter().flat_map(|p| &p.track_sids));
                for sid in sids {
                    if let Some((stream, kind)) = track_of(sid)
                        && update.subscribe
                        && !self.subscribed.contains(sid)
                        && !self.to_subscribe.contains(&(stream.clone(), Some(kind)))
                    {
                        self.to_subscribe.push_back((stream, Some(kind)));
                    }
                }
                Vec::new()
            }
            Req::TrackSetting(settings) => {
                self.track_settings(&settings);
                Vec::new()
            }
            // Muting, publisher layers, metadata, data tracks, simulation: not taken.
            other => {
                tracing::debug!("LiveKit request ignored: {other:?}");
                Vec::new()
            }
        })
    }

    /// `UpdateTrackSettings`: the layer each video track is forwarded at, the most the
    /// server sends: with a width (the adaptive stream's display size, which LiveKit's
    /// server prefers to the quality) the best the path carries up to the smallest layer
    /// that covers the size; else by the quality, `high` is `auto` (the best the path
    /// carries), `medium` and `low` those layers. A video track disabled (`setEnabled(false)`,
    /// or an adaptive stream's video off screen), or at quality `OFF` (the protocol's; the
    /// SDKs do not send it), is not forwarded until enabled again; an audio track disabled
    /// is not taken.
    fn track_settings(&mut self, settings: &lk::UpdateTrackSettings) {
        let off = settings.disabled || settings.quality() == lk::VideoQuality::Off;
        for sid in settings.track_sids.iter().filter(|sid| is_video(sid)) {
            let layer = match settings.quality() {
                _ if settings.width > 0 => LayerWish {
                    layer: Layer::Auto,
                    max_size: Some((settings.width, settings.height)),
                    off,
                },
                lk::VideoQuality::Low => Layer::Low.into(),
                lk::VideoQuality::Medium => Layer::Mid.into(),
                lk::VideoQuality::High => Layer::Auto.into(),
                // Off: the layer asked before, for when it is on again.
                lk::VideoQuality::Off => self.layers.get(sid).copied().unwrap_or_default(),
            };
            let layer = LayerWish { off, ..layer };
            if self.layers.insert(sid.clone(), layer) == Some(layer) {
                continue;
            }
            if let Some(sub) = self.subs.get(sid) {
                let sub = sub.clone();
                self.client
                    .tell(&self.state, Request::SetLayer { sub, layer });
            }
        }
    }

    /// `add_track`: a stream of the core's is reserved for the track, its sid answered at once
    /// (the client offers the track once it has it).
    #[allow(deprecated)]
    fn add_track(&mut self, add: lk::AddTrackRequest) -> Option<lk::signal_response::Message> {
        if !self.claims.video.can_publish() {
            // As LiveKit's server: no answer; the SDK's publish times out.
            tracing::info!(cid = %add.cid, "a participant without canPublish tried to publish");
            return None;
        }
        let kind = match add.r#type() {
            lk::TrackType::Audio => Kind::Audio,
            lk::TrackType::Video => Kind::Video,
            lk::TrackType::Data => return None,
        };
        let stream = StreamId::from(format!("s-{:016x}", rand::random::<u64>()));
        let name = if add.name.is_empty() {
            match kind {
                Kind::Audio => "microphone".to_owned(),
                Kind::Video => "camera".to_owned(),
            }
        } else {
            add.name.clone()
        };
        let info = lk::TrackInfo {
            sid: track_sid(&stream, kind),
            name: name.clone(),
            r#type: add.r#type,
            source: add.source,
            muted: add.muted,
            width: add.width,
            height: add.height,
            stream: add.stream.clone(),
            encryption: add.encryption,
            simulcast: add.layers.len() > 1,
            layers: add.layers.clone(),
            ..Default::default()
        };
        self.announced
            .insert(add.cid.clone(), Announced { stream, name, kind });
        Some(lk::signal_response::Message::TrackPublished(
            lk::TrackPublishedResponse {
                cid: add.cid,
                track: Some(info),
            },
        ))
    }

    /// The tracks an offer of the publisher connection carries for the first time become
    /// streams of the core (which waits for their media) before the offer is answered.
    async fn publish_offered(&mut self, sdp: &str) {
        for cid in offered_track_ids(sdp) {
            let Some(a) = self.announced.remove(&cid) else {
                continue;
            };
            let reply = self
                .client
                .request(&self.state, |req| Request::Publish {
                    req,
                    name: a.name.clone(),
                    audio: a.kind == Kind::Audio,
                    video: a.kind == Kind::Video,
                    msid: cid.clone(),
                    sending: Sending::AnsweredApart,
                    stream: Some(a.stream.clone()),
                })
                .await;
            match reply {
                Ok(Reply::Published {
                    stream: stream_id, ..
                }) => {
                    tracing::info!(stream = %stream_id, track = %cid, "LiveKit track published");
                }
                _ => tracing::info!(track = %cid, "the core refused a LiveKit track"),
            }
        }
    }

    /// The client's answer to the server's last subscriber offer.
    async fn subscriber_answered(&mut self, sdp: &str) {
        let Some(peer) = self.subscriber_peer() else {
            return;
        };
        if let Err(e) = peer.accept_answer(sdp).await {
            tracing::info!("a LiveKit client's subscriber answer was not taken: {e}");
        }
        self.awaiting_answer = None;
        self.subscribing = false;
    }

    fn subscriber_peer(&self) -> Option<Arc<crate::peer::Peer>> {
        let t = self.state.tables.lock().expect("tables lock");
        t.subscriber_media.get(&self.client.sock).cloned()
    }

    fn publisher_peer(&self) -> Option<Arc<crate::peer::Peer>> {
        let t = self.state.tables.lock().expect("tables lock");
        t.media.get(&self.client.sock).map(|m| Arc::clone(&m.peer))
    }

    async fn trickled(&mut self, t: &lk::TrickleRequest) {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Init {
            candidate: String,
            sdp_mid: Option<String>,
        }
        let Ok(init) = serde_json::from_str::<Init>(&t.candidate_init) else {
            tracing::debug!("unreadable trickled candidate {:?}", t.candidate_init);
            return;
        };
        let Some(candidate) = init.candidate.strip_prefix("candidate:") else {
            return;
        };
        let peer = match t.target() {
            lk::SignalTarget::Publisher => match self.publisher_peer() {
                Some(p) => Some(p),
                None => self.state.media_for(self.client.sock).await.ok(),
            },
            lk::SignalTarget::Subscriber => self.subscriber_peer(),
        };
        if let Some(peer) = peer
            && let Err(e) = peer
                .add_remote_candidate(candidate, init.sdp_mid.as_deref())
                .await
        {
            tracing::debug!("trickled candidate not taken: {e}");
        }
    }

    /// A message of the core's: the room's changes become participant updates.
    fn core_message(
        &mut self,
        msg: Reply,
    ) -> Result<Vec<lk::signal_response::Message>, lk::LeaveRequest> {
        use lk::participant_info::State;
        use lk::{DisconnectReason, leave_request::Action};
        let Reply::Event(event) = msg else {
            return Ok(Vec::new());
        };
        let update = |infos: Vec<lk::ParticipantInfo>| {
            vec![lk::signal_response::Message::Update(
                lk::ParticipantUpdate {
                    participants: infos,
                },
            )]
        };
        Ok(match event {
            SessionEvent::ConnectionCreated { connection } if connection.id != self.me => {
                let info = self.participant_info(&connection, &[], State::Active);
                self.others
                    .insert(connection.id.clone(), (connection, Vec::new()));
                update(vec![info])
            }
            SessionEvent::ConnectionDestroyed { connection, .. } => {
                let Some((c, _)) = self.others.remove(&connection.id) else {
                    return Ok(Vec::new());
                };
                let info = self.participant_info(&c, &[], State::Disconnected);
                update(vec![info])
            }
            SessionEvent::StreamCreated { stream } if stream.connection_id == self.me => {
                // Its own track is live: told as LiveKit's server tells it.
                self.mine.retain(|s| s.id != stream.id);
                self.mine.push(stream);
                update(vec![self.my_info(State::Active)])
            }
            SessionEvent::StreamDestroyed { stream, .. } if stream.connection_id == self.me => {
                self.mine.retain(|s| s.id != stream.id);
                update(vec![self.my_info(State::Active)])
            }
            // A stream resumed by its publisher's new connection: told as that participant's
            // track (a subscription made before goes on; none is made twice).
            SessionEvent::StreamCreated { stream }
            | SessionEvent::StreamResumed { stream }
            | SessionEvent::StreamPathChanged { stream, .. } => {
                let Some((c, streams)) = self.others.get_mut(&stream.connection_id) else {
                    return Ok(Vec::new());
                };
                streams.retain(|s| s.id != stream.id);
                streams.push(stream.clone());
                let (c, streams) = (c.clone(), streams.clone());
                if self.auto_subscribe {
                    // After the update that lists its tracks: the SDKs drop a track they
                    // do not know yet.
                    self.to_subscribe.push_back((stream.id.clone(), None));
                }
                update(vec![self.participant_info(&c, &streams, State::Active)])
            }
            SessionEvent::StreamDestroyed { stream, .. } => {
                for kind in [Kind::Audio, Kind::Video] {
                    let sid = track_sid(&stream.id, kind);
                    self.subscribed.remove(&sid);
                    self.layers.remove(&sid);
                    self.subs.remove(&sid);
                }
                self.to_subscribe.retain(|(s, _)| *s != stream.id);
                let Some((c, streams)) = self.others.get_mut(&stream.connection_id) else {
                    return Ok(Vec::new());
                };
                streams.retain(|s| s.id != stream.id);
                let (c, streams) = (c.clone(), streams.clone());
                update(vec![self.participant_info(&c, &streams, State::Active)])
            }
            SessionEvent::SessionDisconnected { reason } => {
                tracing::info!(%reason, "LiveKit participant's session ended");
                let (action, reason) = match reason {
                    Reason::ForceDisconnected => {
                        (Action::Disconnect, DisconnectReason::ParticipantRemoved)
                    }
                    // A server going away tells its participants to join again.
                    Reason::ServerShutdown => (Action::Reconnect, DisconnectReason::ServerShutdown),
                    _ => (Action::Disconnect, DisconnectReason::UnknownReason),
                };
                return Err(lk::LeaveRequest {
                    action: action as i32,
                    reason: reason as i32,
                    ..Default::default()
                });
            }
            _ => Vec::new(),
        })
    }

    /// Starts the next subscription when none is under way.
    fn next_subscription(&mut self) {
        if self.subscribing {
            return;
        }
        let Some((stream, kind)) = self.to_subscribe.pop_front() else {
            return;
        };
        let Some(s) = self
            .others
            .values()
            .flat_map(|(_, s)| s)
            .find(|s| s.id == stream)
            .cloned()
        else {
            return;
        };
        // The tracks asked for that it has and that are not subscribed yet.
        let audio = s.has_audio
            && kind != Some(Kind::Video)
            && !self.subscribed.contains(&track_sid(&s.id, Kind::Audio));
        let video = s.has_video
            && kind != Some(Kind::Audio)
            && !self.subscribed.contains(&track_sid(&s.id, Kind::Video));
        if !audio && !video {
            return;
        }
        let names: Vec<TrackName> = Kind::of((audio, video))
            .map(|kind| {
                let (stream, track) = msid(&s.connection_id, &s.id, kind);
                TrackName {
                    kind,
                    stream,
                    track,
                }
            })
            .collect();
        let tracks: Vec<String> = names.iter().map(|n| n.track.clone()).collect();
        let layer = self
            .layers
            .get(&track_sid(&s.id, Kind::Video))
            .copied()
            .unwrap_or_default();
        self.subscribing = true;
        let (state, client, done) = (
            Arc::clone(&self.state),
            Arc::clone(&self.client),
            self.done_tx.clone(),
        );
        tokio::spawn(async move {
            let reply = client
                .request(&state, |req| Request::Subscribe {
                    req,
                    stream: s.id.clone(),
                    audio,
                    video,
                    receiving: Receiving::Routed(Exchange::ServerOffers(names)),
                    fallback: None,
                    layer,
                })
                .await
                .ok();
            let _ = done.send(Done::Subscribed {
                tracks,
                layer,
                reply,
            });
        });
    }

    fn finished(&mut self, done: Done) -> Vec<lk::signal_response::Message> {
        use lk::signal_response::Message as Resp;
        match done {
            Done::PublisherAnswer { id, result } => match result {
                Ok(sdp) => vec![Resp::Answer(lk::SessionDescription {
                    r#type: "answer".into(),
                    sdp,
                    id,
                    ..Default::default()
                })],
                Err(e) => {
                    tracing::info!("a LiveKit publisher offer was not answered: {e}");
                    Vec::new()
                }
            },
            Done::Subscribed {
                tracks,
                layer,
                reply,
            } => match reply {
                Some(Reply::Subscribed { sdp, sub, .. }) => {
                    // A layer asked for while it was being made goes to it now.
                    for sid in tracks.iter().filter(|t| is_video(t)) {
                        self.subs.insert(sid.clone(), sub.clone());
                        let asked = self.layers.get(sid).copied().unwrap_or_default();
                        if asked != layer {
                            self.client.tell(
                                &self.state,
                                Request::SetLayer {
                                    sub: sub.clone(),
                                    layer: asked,
                                },
                            );
                        }
                    }
                    self.subscribed.extend(tracks);
                    let id = self.next_offer_id;
                    self.next_offer_id += 1;
                    self.awaiting_answer = Some((id, tokio::time::Instant::now() + ANSWER_LIMIT));
                    vec![Resp::Offer(lk::SessionDescription {
                        r#type: "offer".into(),
                        sdp,
                        id,
                        ..Default::default()
                    })]
                }
                _ => {
                    tracing::info!(?tracks, "a subscription for a LiveKit participant failed");
                    self.subscribing = false;
                    Vec::new()
                }
            },
        }
    }
}

/// Answers the publisher connection's offers in the order they came.
async fn answer_offers(
    state: AppState,
    sock: super::room::SockId,
    mut offers: mpsc::UnboundedReceiver<(u32, String)>,
    done: mpsc::UnboundedSender<Done>,
) {
    while let Some((id, sdp)) = offers.recv().await {
        let result = state.answer_offer(sock, &sdp).await;
        if done.send(Done::PublisherAnswer { id, result }).is_err() {
            break;
        }
    }
}

/// The track ids (`a=msid:<stream> <track>`) of an offer's sections that send.
fn offered_track_ids(sdp: &str) -> Vec<String> {
    sdp.split("\nm=")
        .skip(1)
        .filter(|section| {
            !section
                .lines()
                .any(|l| matches!(l.trim(), "a=recvonly" | "a=inactive"))
        })
        .filter_map(|section| {
            section.lines().find_map(|l| {
                let v = l.trim().strip_prefix("a=msid:")?;
                v.split_whitespace().nth(1).map(str::to_owned)
            })
        })
        .collect()
}

async fn send(
    socket: &mut WebSocket,
    msg: lk::signal_response::Message,
) -> Result<(), axum::Error> {
    let resp = lk::SignalResponse { message: Some(msg) };
    socket
        .send(Message::Binary(resp.encode_to_vec().into()))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_sids_name_their_stream_and_kind() {
        let s = StreamId::from("s-0123456789abcdef".to_owned());
        assert_eq!(track_sid(&s, Kind::Video), "TR_s-0123456789abcdefV");
        assert_eq!(
            track_of(&track_sid(&s, Kind::Audio)),
            Some((s.clone(), Kind::Audio))
        );
        let (stream, track) = msid(&ConnectionId::from("c-1".to_owned()), &s, Kind::Audio);
        assert_eq!(stream, "PA_c-1|TR_s-0123456789abcdefA");
        assert_eq!(track, "TR_s-0123456789abcdefA");
        assert_eq!(track_of("PA_x"), None);
    }

    #[test]
    fn an_offer_names_the_tracks_it_sends() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=recvonly\r\na=msid:- x\r\n\
                   m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\na=msid:- cam1\r\n\
                   m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
        assert_eq!(offered_track_ids(sdp), vec!["cam1".to_owned()]);
    }
}
