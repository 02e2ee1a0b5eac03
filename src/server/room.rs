//! The server's session logic as a state machine: joins, leaves, publishing, subscribing,
//! moderation, shutdown and token checks, for every session the server holds.
//!
//! [`Core`] owns no socket, task, peer connection or clock. It is fed an [`Input`] (a client's
//! message, the result of media work the driver did, the current time) and returns
//! [`Output`]s (messages to send, sockets to close, media work to start or end). The async
//! driver in `server/mod.rs` does the I/O and feeds the results back, so every flow can be
//! stepped in a unit test on virtual time, without WebRTC.

use std::collections::{BTreeMap, HashMap};

use super::intent::{Exchange, Receiving, Refusal, Reply, Request, Sending};
use crate::auth::{AuthError, KeyPair, Role};
use crate::peer::PeerError;
use crate::session::{
    Connection, ConnectionId, Layer, LayerWish, MediaPath, Reason, SessionEvent, SessionId, Stream,
    StreamId, SubscriptionId,
};

/// How long a publisher has to get its tracks flowing before the publish is abandoned, ms.
pub(crate) const TRACK_WAIT_MS: u64 = 15_000;
/// How long a new socket has to send `connect` before it is closed.
pub(crate) const CONNECT_WAIT_MS: u64 = 10_000;
/// How long the publisher of a direct stream has to answer a subscriber's offer.
pub(crate) const PUBLISHER_ANSWER_MS: u64 = 10_000;
/// The most clients with media (publishing or subscribing) a peer-to-peer session takes
/// (OpenTok's rule: streams go directly between clients in sessions of no more than two).
/// Connections that only watch (`connect`, `list-streams`) do not count.
pub(crate) const P2P_CLIENTS: usize = 2;

/// The driver's handle for one signaling socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SockId(pub u64);

/// Why the server did not answer a connection's offer: the offer's fault (nothing the server
/// can take), or the server's own (no UDP port free, gathering stuck, its media connection
/// gone), each told to the client as what it is, with its causes.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AnswerError {
    #[error(transparent)]
    Media(#[from] PeerError),
    #[error("there is no media connection to {0}")]
    NoConnection(&'static str),
}

impl AnswerError {
    /// What the client is told: its offer was at fault ([`Refusal::Media`]), or the
    /// server ([`Refusal::Internal`]).
    fn refusal(&self) -> Refusal {
        match self {
            AnswerError::Media(
                PeerError::BadSdp(_)
                | PeerError::BadCandidate { .. }
                | PeerError::NotNegotiated(_)
                | PeerError::SectionInUse(_)
                | PeerError::NotKept(_),
            ) => Refusal::Media,
            AnswerError::Media(_) | AnswerError::NoConnection(_) => Refusal::Internal,
        }
    }
}

/// What happened, as the driver tells it.
#[derive(Debug)]
pub(crate) enum Input {
    /// A socket was accepted: it must join within [`CONNECT_WAIT_MS`].
    Opened { sock: SockId },
    /// A request arrived on a socket (the first must be [`Request::Join`]).
    Message { sock: SockId, msg: Request },
    /// A frame its front end could not read as a request.
    Unreadable { sock: SockId, error: String },
    /// The socket ended: the client went away (`clientDisconnected`) or the network did
    /// (`networkDisconnected`).
    Closed { sock: SockId, reason: Reason },
    /// The connection's offer (a publish or a subscribe) was answered by its peer
    /// connection on the server, or could not be.
    Answered {
        sock: SockId,
        result: Result<String, AnswerError>,
    },
    /// Every track of a published stream arrived.
    PublishMedia { stream: StreamId },
    /// A connection's peer connection failed or closed.
    MediaFailed { sock: SockId },
    /// A subscription's leg now forwards another layer of its simulcast stream.
    LayerSwitched {
        sub: SubscriptionId,
        layer: Layer,
        size: Option<(u32, u32)>,
    },
    /// Time passed (the driver calls at [`Core::poll_timeout`]).
    Timeout,
    /// The server is stopping.
    Shutdown,
}

/// What the driver is to do, in order.
#[derive(Debug, PartialEq)]
pub(crate) enum Output {
    Send {
        sock: SockId,
        msg: Reply,
    },
    /// Close the socket once what was sent before is out.
    Close {
        sock: SockId,
    },
    /// Answer `offer` on the socket's peer connection (made at its first offer; without an
    /// offer, one its front end answers apart), feeding `Answered`; then wait for the
    /// tracks carrying `msid` (`PublishMedia`).
    StartPublish {
        sock: SockId,
        stream: StreamId,
        msid: String,
        offer: Option<String>,
        audio: bool,
        video: bool,
    },
    /// Add send-only sections with `stream`'s tracks of these kinds to the socket's peer
    /// connection and answer the client's offer with them, or offer them on its receiving
    /// connection (`exchange`), feeding `Answered`; forward once connected.
    StartSubscription {
        sock: SockId,
        /// The session, whose forwarded packets it counts.
        session: SessionId,
        sub: SubscriptionId,
        stream: StreamId,
        audio: bool,
        video: bool,
        exchange: Exchange,
        /// Which layer of a simulcast stream it gets.
        layer: LayerWish,
    },
    /// A subscription's legs get another layer of a simulcast stream.
    SetLayer {
        sub: SubscriptionId,
        layer: LayerWish,
    },
    /// Stop forwarding a stream.
    EndStream {
        stream: StreamId,
    },
    /// Stop forwarding to a subscription.
    EndSubscription {
        sub: SubscriptionId,
    },
    /// Close the socket's peer connection.
    CloseMedia {
        sock: SockId,
    },
    /// Answer an ICE restart offer on the socket's peer connection.
    RestartIce {
        sock: SockId,
        sdp: String,
    },
}

/// Where a published stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamState {
    /// Its offer is being answered.
    Negotiating,
    /// Answered; its media must arrive before `deadline` (Unix ms).
    AwaitingMedia { deadline: u64 },
    /// Others see it and may subscribe.
    Live,
    /// Published directly (`info.path` is direct), with no media on the server.
    Direct,
    /// Its publisher's connection was lost: kept, with its subscriptions, until `deadline`
    /// (Unix ms) for the publisher to come back and resume it.
    Interrupted { deadline: u64 },
}

struct StreamEntry {
    info: Stream,
    /// Where its media on the server is (a direct stream's, once it is routed too).
    state: StreamState,
    /// A direct stream asked to be routed through the server: why.
    route_reason: Option<Reason>,
    /// Who publishes it, as its connection says (the token's data and what the client gave
    /// on connect, a LiveKit participant's identity): who may resume it.
    identity: String,
    /// Its media has been live on the server (its hubs are there until it ends, through
    /// interruptions).
    went_live: bool,
}

impl StreamEntry {
    /// Whether the others have been told of it (its media on the server has been live, or
    /// it is published directly).
    fn visible(&self) -> bool {
        self.went_live || self.info.path == MediaPath::Direct
    }

    /// Whether a subscription can be forwarded from the server now (its hubs are there,
    /// even while its publisher is away).
    fn forwarded(&self) -> bool {
        self.went_live && self.info.path == MediaPath::Routed
    }

    /// Whether a publish by someone with `identity` of a stream with these kinds, asking for
    /// this stream's id (a client that joined again) or, `by_name`, of the same name (the
    /// publisher started again), takes this interrupted stream up. By name only for a named
    /// identity: publishers whose tokens say nothing of who they are are told apart by
    /// nothing but the stream name, which two may share.
    fn resumable_by(
        &self,
        identity: &str,
        kinds: (bool, bool),
        asked: Option<&StreamId>,
        by_name: Option<&str>,
    ) -> bool {
        matches!(self.state, StreamState::Interrupted { .. })
            && self.identity == identity
            && (self.info.has_audio, self.info.has_video) == kinds
            && match by_name {
                Some(name) => !identity.is_empty() && self.info.name == name,
                None => asked == Some(&self.info.id),
            }
    }
}

/// Where a subscription is.
#[derive(Debug, Clone, PartialEq)]
enum SubState {
    /// Made on the server's media (being answered, or forwarded).
    Server,
    /// Of a direct stream, through the server: starts once the stream's media is routed.
    AwaitingRoute {
        sock: SockId,
        audio: bool,
        video: bool,
        exchange: Exchange,
    },
    /// Its offer went to the publisher of a direct stream, whose answer is due by
    /// `deadline`; `req` is the subscriber's.
    AwaitingPublisher {
        sock: SockId,
        req: u64,
        deadline: u64,
    },
    /// Answered by the publisher: the media goes directly.
    Direct,
}

struct Sub {
    conn: ConnectionId,
    stream: StreamId,
    state: SubState,
    /// Which layer of a simulcast stream it gets.
    layer: LayerWish,
}

/// The one offer/answer exchange a connection may have under way.
#[derive(Debug, Clone)]
enum Negotiation {
    Publish {
        req: u64,
        stream: StreamId,
        /// The client offered (else its connection is answered apart).
        offered: bool,
    },
    Subscribe {
        req: u64,
        sub: SubscriptionId,
        stream: StreamId,
    },
    RestartIce {
        req: u64,
    },
}

struct Member {
    info: Connection,
    sock: SockId,
    role: Role,
    /// The exchange under way on its peer connection, if any.
    negotiation: Option<Negotiation>,
    /// Publishes and subscribes that came while one was under way, in order.
    waiting: std::collections::VecDeque<Request>,
    /// It has published or subscribed (a client with media, in a peer-to-peer session's count).
    media: bool,
}

#[derive(Default)]
struct Room {
    members: BTreeMap<ConnectionId, Member>,
    streams: BTreeMap<StreamId, StreamEntry>,
    /// Media goes directly between its (at most two) clients where it can.
    p2p: bool,
}

impl Room {
    fn live_streams(&self) -> impl Iterator<Item = &Stream> {
        self.streams
            .values()
            .filter(|s| s.visible())
            .map(|s| &s.info)
    }
}

/// Whether `id` has the shape of the stream ids this server makes (`s-` and 16 hex digits).
fn is_stream_id(id: &StreamId) -> bool {
    let id = id.as_str();
    id.strip_prefix("s-")
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Every session the server holds, and every socket it talks to.
pub(crate) struct Core {
    keys: KeyPair,
    /// Session id → its room (present while it has members or streams).
    rooms: HashMap<SessionId, Room>,
    /// Socket → the session and connection it joined (absent before `connect`).
    socks: HashMap<SockId, Option<(SessionId, ConnectionId)>>,
    /// Sockets that have not joined yet, with the time by which they must have.
    unjoined: BTreeMap<SockId, u64>,
    subs: HashMap<SubscriptionId, Sub>,
    /// Makes ids: unique per server run, unpredictable across runs.
    id_seed: u64,
    id_counter: u64,
    shutting_down: bool,
    /// How long a stream whose publisher's connection was lost waits for it (ms; 0: it
    /// ends at once).
    publisher_grace: u64,
    /// The time of the input being handled (Unix ms).
    now: u64,
    out: Vec<Output>,
}

fn error(req: Option<u64>, refusal: Refusal, message: impl Into<String>) -> Reply {
    Reply::Refused {
        req,
        refusal,
        message: message.into(),
    }
}

/// The whole of a session as the HTTP API shows it.
pub(crate) struct SessionView {
    pub(crate) connections: Vec<Connection>,
    pub(crate) streams: Vec<Stream>,
}

impl Core {
    /// A core that checks tokens with `keys`; `id_seed` makes its ids (random in the server,
    /// fixed in tests).
    pub(crate) fn new(keys: KeyPair, id_seed: u64) -> Core {
        Core {
            keys,
            rooms: HashMap::new(),
            socks: HashMap::new(),
            unjoined: BTreeMap::new(),
            subs: HashMap::new(),
            id_seed,
            id_counter: 0,
            shutting_down: false,
            publisher_grace: 0,
            now: 0,
            out: Vec::new(),
        }
    }

    /// Keeps a stream whose publisher's connection is lost for `ms`, for the publisher to
    /// come back (see [`StreamState::Interrupted`]).
    pub(crate) fn with_publisher_grace(mut self, ms: u64) -> Core {
        self.publisher_grace = ms;
        self
    }

    /// Takes `input` at `now` (Unix ms); returns what to do, in order.
    pub(crate) fn handle(&mut self, input: Input, now: u64) -> Vec<Output> {
        self.now = now;
        match input {
            Input::Opened { sock } => {
                self.unjoined.insert(sock, now + CONNECT_WAIT_MS);
            }
            Input::Message { sock, msg } => {
                self.message(sock, msg, now);
                if matches!(self.socks.get(&sock), Some(Some(_))) {
                    self.unjoined.remove(&sock);
                }
            }
            Input::Unreadable { sock, error: e } => {
                let joined = matches!(self.socks.get(&sock), Some(Some(_)));
                self.send(
                    sock,
                    error(
                        None,
                        Refusal::BadRequest,
                        format!("unreadable message: {e}"),
                    ),
                );
                if !joined {
                    self.out.push(Output::Close { sock });
                }
            }
            Input::Closed { sock, reason } => {
                self.unjoined.remove(&sock);
                if let Some(Some((session, conn))) = self.socks.remove(&sock) {
                    self.leave(&session, &conn, &reason);
                }
            }
            Input::Answered { sock, result } => self.answered(sock, result, now),
            Input::PublishMedia { stream } => self.publish_media(stream, now),
            Input::MediaFailed { sock } => self.media_failed(sock),
            Input::LayerSwitched { sub, layer, size } => {
                if let Some(s) = self.subs.get(&sub) {
                    let stream = s.stream.clone();
                    let sock = self
                        .rooms
                        .values()
                        .find_map(|r| r.members.get(&s.conn))
                        .map(|m| m.sock);
                    if let Some(sock) = sock {
                        let event = SessionEvent::LayerSwitched {
                            stream,
                            layer,
                            size,
                        };
                        self.send(sock, Reply::Event(event));
                    }
                }
            }
            Input::Timeout => self.timeout(now),
            Input::Shutdown => self.shutdown(),
        }
        std::mem::take(&mut self.out)
    }

    /// When the core next needs [`Input::Timeout`] (Unix ms), if ever.
    pub(crate) fn poll_timeout(&self) -> Option<u64> {
        self.rooms
            .values()
            .flat_map(|r| r.streams.values())
            .filter_map(|s| match s.state {
                StreamState::AwaitingMedia { deadline } | StreamState::Interrupted { deadline } => {
                    Some(deadline)
                }
                _ => None,
            })
            .chain(self.unjoined.values().copied())
            .chain(self.subs.values().filter_map(|s| match s.state {
                SubState::AwaitingPublisher { deadline, .. } => Some(deadline),
                _ => None,
            }))
            .min()
    }

    /// A session's connections and live streams, oldest first.
    pub(crate) fn view(&self, session: &SessionId) -> SessionView {
        let Some(room) = self.rooms.get(session) else {
            return SessionView {
                connections: vec![],
                streams: vec![],
            };
        };
        let mut connections: Vec<Connection> =
            room.members.values().map(|m| m.info.clone()).collect();
        connections.sort_by_key(|c| c.created_at);
        let mut streams: Vec<Stream> = room.live_streams().cloned().collect();
        streams.sort_by_key(|s| s.created_at);
        SessionView {
            connections,
            streams,
        }
    }

    /// The layer subscription `id` asks for now, while it is made or being made (its socket
    /// has not gone).
    pub(crate) fn subscription_layer(&self, id: &SubscriptionId) -> Option<LayerWish> {
        self.subs.get(id).map(|s| s.layer)
    }

    /// The sessions with members or streams.
    pub(crate) fn sessions(&self) -> Vec<SessionId> {
        self.rooms.keys().cloned().collect()
    }

    /// How many sessions (with members or streams), connections and streams there are.
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        let sum = |f: fn(&Room) -> usize| self.rooms.values().map(f).sum();
        (
            self.rooms.len(),
            sum(|r| r.members.len()),
            sum(|r| r.streams.len()),
        )
    }

    fn stream_id_taken(&self, id: &StreamId) -> bool {
        self.rooms.values().any(|r| r.streams.contains_key(id))
    }

    fn next_id<Id: From<String>>(&mut self, prefix: &str) -> Id {
        self.id_counter += 1;
        // splitmix64: distinct for every counter value, unpredictable without the seed.
        let mut z = self
            .id_seed
            .wrapping_add(self.id_counter.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        format!("{prefix}{:016x}", z ^ (z >> 31)).into()
    }

    fn send(&mut self, sock: SockId, msg: Reply) {
        self.out.push(Output::Send { sock, msg });
    }

    fn broadcast(&mut self, session: &SessionId, event: SessionEvent) {
        let Some(room) = self.rooms.get(session) else {
            return;
        };
        let socks: Vec<SockId> = room.members.values().map(|m| m.sock).collect();
        for sock in socks {
            self.send(sock, Reply::Event(event.clone()));
        }
    }

    fn message(&mut self, sock: SockId, msg: Request, now: u64) {
        let joined = match self.socks.get(&sock) {
            Some(Some(j)) => Some(j.clone()),
            Some(None) | None => None,
        };
        let Some((session, conn)) = joined else {
            return self.connect(sock, msg, now);
        };
        let Some(role) = self
            .rooms
            .get(&session)
            .and_then(|r| r.members.get(&conn))
            .map(|m| m.role)
        else {
            return;
        };
        let reply = match msg {
            Request::Join { .. } => error(None, Refusal::BadRequest, "already joined"),
            Request::Leave => {
                self.socks.remove(&sock);
                self.leave(&session, &conn, &Reason::ClientDisconnected);
                self.out.push(Output::Close { sock });
                return;
            }
            msg @ (Request::Publish { .. }
            | Request::Subscribe { .. }
            | Request::RestartIce { .. }) => {
                let member = self.member_mut(&session, &conn).expect("member");
                if member.negotiation.is_some() {
                    member.waiting.push_back(msg);
                    return;
                }
                match self.negotiate(sock, &session, &conn, role, msg) {
                    Some(reply) => reply,
                    None => return,
                }
            }
            Request::Unpublish {
                req,
                stream: stream_id,
            } => {
                let owned = self
                    .rooms
                    .get(&session)
                    .and_then(|r| r.streams.get(&stream_id))
                    .is_some_and(|s| s.info.connection_id == conn);
                if owned {
                    self.end_stream(&session, &stream_id, &Reason::Unpublished);
                    Reply::Done { req }
                } else {
                    error(
                        Some(req),
                        Refusal::NotFound,
                        format!("you publish no stream {stream_id:?}"),
                    )
                }
            }
            Request::Unsubscribe {
                req,
                sub: subscription_id,
            } => {
                if self
                    .subs
                    .get(&subscription_id)
                    .is_some_and(|s| s.conn == conn)
                {
                    self.end_subscription(&session, &subscription_id);
                    Reply::Done { req }
                } else {
                    error(
                        Some(req),
                        Refusal::NotFound,
                        format!("no subscription {subscription_id:?}"),
                    )
                }
            }
            Request::DirectAnswer { sub, answer } => {
                return self.publisher_answered(&session, &conn, sub, answer);
            }
            Request::SetLayer { sub, layer } => {
                if let Some(s) = self.subs.get_mut(&sub).filter(|s| s.conn == conn) {
                    s.layer = layer;
                    // Waiting for its route, it starts with the layer; on its way or
                    // forwarded, its legs take it.
                    if s.state == SubState::Server {
                        self.out.push(Output::SetLayer { sub, layer });
                    }
                }
                return;
            }
            Request::ForceUnpublish {
                req,
                stream: stream_id,
            } => {
                if !role.may_moderate() {
                    forbidden(req, role, "force an unpublish")
                } else if self.end_stream(&session, &stream_id, &Reason::ForceUnpublished) {
                    Reply::Done { req }
                } else {
                    error(
                        Some(req),
                        Refusal::NotFound,
                        format!("no stream {stream_id:?} in this session"),
                    )
                }
            }
            Request::ForceDisconnect {
                req,
                conn: connection_id,
            } => {
                let target = self
                    .rooms
                    .get(&session)
                    .and_then(|r| r.members.get(&connection_id))
                    .map(|m| m.sock);
                match target {
                    _ if !role.may_moderate() => forbidden(req, role, "force a disconnect"),
                    None => error(
                        Some(req),
                        Refusal::NotFound,
                        format!("no connection {connection_id:?} in this session"),
                    ),
                    Some(target) => {
                        self.send(target, disconnected(&Reason::ForceDisconnected));
                        self.out.push(Output::Close { sock: target });
                        self.socks.remove(&target);
                        self.leave(&session, &connection_id, &Reason::ForceDisconnected);
                        Reply::Done { req }
                    }
                }
            }
        };
        self.send(sock, reply);
    }

    /// A socket's first request: checks the session and the token, and joins.
    fn connect(&mut self, sock: SockId, msg: Request, now: u64) {
        let refuse = |core: &mut Core, code, message: String| {
            core.send(sock, error(None, code, message));
            core.out.push(Output::Close { sock });
        };
        let Request::Join {
            session: session_id,
            token,
            client_data,
        } = msg
        else {
            return refuse(
                self,
                Refusal::BadRequest,
                "the first message must be connect (join the session first)".into(),
            );
        };
        let props = match self.keys.open_session(session_id.as_str()) {
            Ok(p) => p,
            Err(e) => return refuse(self, Refusal::SessionNotFound, e.to_string()),
        };
        let claims = match self
            .keys
            .verify_token(&token, session_id.as_str(), now / 1000)
        {
            Ok(c) => c,
            Err(e) => {
                let code = match e {
                    AuthError::Expired(_) => Refusal::TokenExpired,
                    AuthError::WrongSession => Refusal::WrongSession,
                    _ => Refusal::InvalidToken,
                };
                return refuse(self, code, e.to_string());
            }
        };
        if self.shutting_down {
            self.send(sock, disconnected(&Reason::ServerShutdown));
            self.out.push(Output::Close { sock });
            return;
        }
        let info = Connection {
            id: self.next_id("c-"),
            data: claims.data,
            client_data,
            created_at: now,
        };
        self.broadcast(
            &session_id,
            SessionEvent::ConnectionCreated {
                connection: info.clone(),
            },
        );
        self.rooms
            .entry(session_id.clone())
            .or_insert_with(|| Room {
                p2p: props.p2p,
                ..Room::default()
            })
            .members
            .insert(
                info.id.clone(),
                Member {
                    info: info.clone(),
                    sock,
                    role: claims.role,
                    negotiation: None,
                    waiting: Default::default(),
                    media: false,
                },
            );
        self.socks
            .insert(sock, Some((session_id.clone(), info.id.clone())));
        let view = self.view(&session_id);
        self.send(
            sock,
            Reply::Event(SessionEvent::SessionConnected {
                session_id,
                connection: info.clone(),
                connection_count: view.connections.len(),
                connections: view.connections,
                streams: view.streams,
                p2p: props.p2p,
            }),
        );
        tracing::info!(connection = %info.id, role = ?claims.role, "joined");
    }

    /// Starts a publish or a subscribe on the connection's peer connection; a reply when it
    /// is refused at once, `None` when it started.
    fn negotiate(
        &mut self,
        sock: SockId,
        session: &SessionId,
        conn: &ConnectionId,
        role: Role,
        msg: Request,
    ) -> Option<Reply> {
        if let Request::Publish { req, .. } | Request::Subscribe { req, .. } = msg {
            let room = self.rooms.get_mut(session).expect("member's room");
            let with_media = room.members.values().filter(|m| m.media).count();
            let member = room.members.get_mut(conn).expect("member");
            if room.p2p && !member.media && with_media >= P2P_CLIENTS {
                return Some(error(
                    Some(req),
                    Refusal::SessionFull,
                    format!(
                        "this peer-to-peer session has {with_media} clients with media, the most \
                         one takes; create a session without p2p for more"
                    ),
                ));
            }
            member.media = true;
        }
        match msg {
            Request::RestartIce { req, offer } => {
                self.member_mut(session, conn).expect("member").negotiation =
                    Some(Negotiation::RestartIce { req });
                self.out.push(Output::RestartIce { sock, sdp: offer });
                None
            }
            msg @ Request::Publish { .. } => self.publish(sock, session, conn, role, msg),
            msg @ Request::Subscribe { .. } => self.subscribe(sock, session, conn, msg),
            _ => unreachable!("only publishes and subscribes negotiate"),
        }
    }

    /// A `publish`: a new stream (or, after joining again, the old one's id; or a direct
    /// stream of the connection's own, to route through the server), negotiated with the
    /// server's peer connection; a direct stream is live at once.
    fn publish(
        &mut self,
        sock: SockId,
        session: &SessionId,
        conn: &ConnectionId,
        role: Role,
        msg: Request,
    ) -> Option<Reply> {
        let Request::Publish {
            req,
            name,
            audio: has_audio,
            video: has_video,
            msid,
            sending,
            stream: stream_id,
        } = msg
        else {
            unreachable!("negotiate passes publishes")
        };
        let (direct, offer) = match sending {
            Sending::Direct => (true, None),
            Sending::ClientOffers(sdp) => (false, Some(sdp)),
            Sending::AnsweredApart => (false, None),
        };
        if !role.may_publish() {
            return Some(error(
                Some(req),
                Refusal::Forbidden,
                "a subscriber token cannot publish; ask for a publisher or moderator token",
            ));
        }
        if !has_audio && !has_video {
            return Some(error(
                Some(req),
                Refusal::BadRequest,
                "a stream needs audio or video",
            ));
        }
        let room = self.rooms.get_mut(session).expect("member's room");
        if direct && !room.p2p {
            return Some(error(
                Some(req),
                Refusal::BadRequest,
                "publishing directly needs a peer-to-peer session",
            ));
        }
        // Its own direct stream, published through the server as well (`route`); or its
        // stream interrupted when its connection was lost, taken up again.
        let identity = room
            .members
            .get(conn)
            .map(|m| identity_of(&m.info))
            .unwrap_or_default();
        let routing = stream_id
            .as_ref()
            .filter(|id| {
                room.streams.get(*id).is_some_and(|e| {
                    !direct && e.info.connection_id == conn && e.state == StreamState::Direct
                })
            })
            .cloned();
        // The stream asked for by id first, then one of the same name.
        let kinds = (has_audio, has_video);
        let resumed = [None, Some(name.as_str())]
            .into_iter()
            .find_map(|by_name| {
                room.streams.values().find(|e| {
                    !direct && e.resumable_by(&identity, kinds, stream_id.as_ref(), by_name)
                })
            })
            .map(|e| e.info.id.clone());
        let id = if let Some(entry) = routing.and_then(|id| room.streams.get_mut(&id)) {
            entry.state = StreamState::Negotiating;
            entry.info.id.clone()
        } else if let Some(entry) = resumed.and_then(|id| room.streams.get_mut(&id)) {
            // Its publisher is back: the same stream, its subscriptions waiting.
            tracing::info!(stream = %entry.info.id, connection = %conn, "publisher back; resuming its stream");
            entry.state = StreamState::Negotiating;
            entry.info.connection_id = conn.clone();
            entry.info.id.clone()
        } else {
            // A publisher back after joining again keeps its stream's id where it can.
            let id = match stream_id {
                Some(id) if is_stream_id(&id) && !self.stream_id_taken(&id) => id,
                _ => self.next_id("s-"),
            };
            let path = if direct {
                MediaPath::Direct
            } else {
                MediaPath::Routed
            };
            let entry = StreamEntry {
                info: Stream {
                    id: id.clone(),
                    name,
                    has_audio,
                    has_video,
                    connection_id: conn.clone(),
                    created_at: if direct { self.now } else { 0 },
                    path,
                    owner: String::new(),
                },
                state: if direct {
                    StreamState::Direct
                } else {
                    StreamState::Negotiating
                },
                route_reason: None,
                identity,
                went_live: false,
            };
            let info = entry.info.clone();
            let room = self.rooms.get_mut(session).expect("member's room");
            room.streams.insert(id.clone(), entry);
            if direct {
                // Nothing to answer: it is live, its media to go to each subscriber.
                let reply = Reply::Published {
                    req,
                    stream: id,
                    answer: None,
                };
                self.send(sock, reply);
                tracing::info!(stream = %info.id, name = %info.name, "direct stream created");
                self.broadcast(session, SessionEvent::StreamCreated { stream: info });
                return None;
            }
            id
        };
        let room = self.rooms.get_mut(session).expect("member's room");
        room.members.get_mut(conn).expect("member").negotiation = Some(Negotiation::Publish {
            req,
            stream: id.clone(),
            offered: offer.is_some(),
        });
        self.out.push(Output::StartPublish {
            sock,
            stream: id,
            msid,
            offer,
            audio: has_audio,
            video: has_video,
        });
        None
    }

    /// What a subscription to `stream` may have: the stream's state and owner, and the kinds
    /// it has of those asked for; or the refusal.
    fn subscribable(
        &self,
        session: &SessionId,
        stream: &StreamId,
        (audio, video): (bool, bool),
        direct: bool,
    ) -> Result<(bool, ConnectionId, bool, bool), (Refusal, String)> {
        let Some(entry) = self
            .rooms
            .get(session)
            .and_then(|r| r.streams.get(stream))
            .filter(|s| s.visible())
        else {
            return Err((
                Refusal::NotFound,
                format!("no stream {stream:?} in this session"),
            ));
        };
        let (audio, video) = (entry.info.has_audio && audio, entry.info.has_video && video);
        if !audio && !video {
            return Err((
                Refusal::BadRequest,
                "nothing to subscribe to: the stream has none of the requested media".into(),
            ));
        }
        if direct && entry.info.path != MediaPath::Direct {
            return Err((
                Refusal::BadRequest,
                format!("stream {stream:?} is not published directly; subscribe without direct"),
            ));
        }
        let owner = entry.info.connection_id.clone();
        Ok((entry.forwarded(), owner, audio, video))
    }

    /// A `subscribe`: through the server (at once when the stream is live there, else once
    /// its direct publisher has routed it), or directly, the offer passed to the publisher.
    fn subscribe(
        &mut self,
        sock: SockId,
        session: &SessionId,
        conn: &ConnectionId,
        msg: Request,
    ) -> Option<Reply> {
        let Request::Subscribe {
            req,
            stream: stream_id,
            audio,
            video,
            receiving,
            fallback,
            layer,
        } = msg
        else {
            unreachable!("negotiate passes subscribes")
        };
        let direct = matches!(receiving, Receiving::Direct(_));
        let (forwarded, owner, audio, video) =
            match self.subscribable(session, &stream_id, (audio, video), direct) {
                Ok(found) => found,
                Err((code, message)) => return Some(error(Some(req), code, message)),
            };
        if !direct {
            // Through the server instead: the direct one it replaces is ended (its
            // publisher stops sending there).
            let replaced: Vec<SubscriptionId> = self
                .subs
                .iter()
                .filter(|(_, s)| {
                    s.conn == conn && s.stream == stream_id && s.state == SubState::Direct
                })
                .map(|(id, _)| id.clone())
                .collect();
            for sub in replaced {
                self.end_subscription(session, &sub);
            }
        }
        let id: SubscriptionId = self.next_id("sub-");
        let state = if direct {
            SubState::AwaitingPublisher {
                sock,
                req,
                deadline: self.now + PUBLISHER_ANSWER_MS,
            }
        } else if forwarded {
            SubState::Server
        } else {
            let Receiving::Routed(exchange) = receiving.clone() else {
                unreachable!("a direct subscription awaits its publisher")
            };
            SubState::AwaitingRoute {
                sock,
                audio,
                video,
                exchange,
            }
        };
        let start = state == SubState::Server;
        self.subs.insert(
            id.clone(),
            Sub {
                conn: conn.to_owned(),
                stream: stream_id.clone(),
                state: state.clone(),
                layer,
            },
        );
        self.member_mut(session, conn).expect("member").negotiation =
            Some(Negotiation::Subscribe {
                req,
                sub: id.clone(),
                stream: stream_id.clone(),
            });
        let owner_sock = self.sock_of(session, &owner);
        if let Receiving::Direct(offer) = receiving {
            if let Some(owner_sock) = owner_sock {
                let offer = Reply::OfferToPublisher {
                    sub: id,
                    stream: stream_id,
                    subscriber: conn.clone(),
                    audio,
                    video,
                    offer,
                };
                self.send(owner_sock, offer);
            }
        } else if let (true, Receiving::Routed(exchange)) = (start, receiving) {
            self.out.push(Output::StartSubscription {
                sock,
                session: session.to_owned(),
                sub: id,
                stream: stream_id,
                audio,
                video,
                exchange,
                layer,
            });
        } else {
            // A direct stream, to be routed through the server first (once).
            let entry = self
                .rooms
                .get_mut(session)
                .and_then(|r| r.streams.get_mut(&stream_id))
                .expect("visible stream");
            if entry.route_reason.is_none() {
                entry.route_reason = Some(fallback.unwrap_or(Reason::RoutedSubscriber));
                if let Some(owner_sock) = owner_sock {
                    tracing::info!(stream = %stream_id, "routing a direct stream");
                    self.send(owner_sock, Reply::Route { stream: stream_id });
                }
            }
        }
        None
    }

    /// The connection's exchange is over: the client gets the answer (even when what it was
    /// for has ended meanwhile, so both peer connections stay in step) and the next waiting
    /// publish or subscribe starts.
    fn answered(&mut self, sock: SockId, result: Result<String, AnswerError>, now: u64) {
        let Some(Some((session, conn))) = self.socks.get(&sock).cloned() else {
            return;
        };
        let Some(negotiation) = self
            .member_mut(&session, &conn)
            .and_then(|m| m.negotiation.take())
        else {
            return;
        };
        match (negotiation, result) {
            (
                Negotiation::Publish {
                    req,
                    stream,
                    offered,
                },
                Ok(sdp),
            ) => {
                let entry = self
                    .rooms
                    .get_mut(&session)
                    .and_then(|r| r.streams.get_mut(&stream));
                let ended = entry.is_none();
                if let Some(entry) = entry {
                    entry.state = StreamState::AwaitingMedia {
                        deadline: now + TRACK_WAIT_MS,
                    };
                }
                let reply = Reply::Published {
                    req,
                    stream: stream.clone(),
                    answer: offered.then_some(sdp),
                };
                self.send(sock, reply);
                if ended {
                    // Ended meanwhile: its media is not to be waited for.
                    self.out.push(Output::EndStream { stream });
                }
            }
            (Negotiation::Publish { req, stream, .. }, Err(e)) => {
                self.send(sock, error(Some(req), e.refusal(), e.to_string()));
                // A direct stream that could not be routed ends as any stream whose media
                // stopped; one nobody saw yet goes quietly.
                let visible = self
                    .rooms
                    .get(&session)
                    .and_then(|r| r.streams.get(&stream))
                    .is_some_and(StreamEntry::visible);
                if visible {
                    self.end_stream(&session, &stream, &Reason::MediaStopped);
                } else {
                    if let Some(room) = self.rooms.get_mut(&session) {
                        room.streams.remove(&stream);
                    }
                    self.out.push(Output::EndStream { stream });
                }
            }
            (
                Negotiation::Subscribe {
                    req,
                    sub,
                    stream: stream_id,
                },
                Ok(sdp),
            ) => {
                let ended = !self.subs.contains_key(&sub);
                let reply = Reply::Subscribed {
                    req,
                    sub: sub.clone(),
                    stream: stream_id,
                    sdp,
                    direct: false,
                };
                self.send(sock, reply);
                if ended {
                    // Its stream ended meanwhile: nothing is to be forwarded.
                    self.out.push(Output::EndSubscription { sub });
                }
            }
            (Negotiation::Subscribe { req, sub, .. }, Err(e)) => {
                self.subs.remove(&sub);
                self.send(sock, error(Some(req), e.refusal(), e.to_string()));
                self.out.push(Output::EndSubscription { sub });
            }
            (Negotiation::RestartIce { req }, Ok(sdp)) => {
                self.send(sock, Reply::IceRestarted { req, answer: sdp });
            }
            (Negotiation::RestartIce { req }, Err(e)) => {
                self.send(sock, error(Some(req), e.refusal(), e.to_string()));
            }
        }
        self.next_exchange(&session, &conn, sock, now);
    }

    /// The connection's exchange is over: the publishes and subscribes that waited for it
    /// start, in order, up to the next that has to wait.
    fn next_exchange(&mut self, session: &SessionId, conn: &ConnectionId, sock: SockId, now: u64) {
        while let Some(member) = self.member_mut(session, conn)
            && member.negotiation.is_none()
            && let Some(next) = member.waiting.pop_front()
        {
            self.message(sock, next, now);
        }
    }

    /// The publisher of a direct stream answered a subscriber's offer (or could not): the
    /// subscriber gets the answer, and its next exchange starts.
    fn publisher_answered(
        &mut self,
        session: &SessionId,
        conn: &ConnectionId,
        sub: SubscriptionId,
        answer: Result<String, String>,
    ) {
        let Some(entry) = self.subs.get(&sub) else {
            return; // ended meanwhile; its subscriber has been told
        };
        let SubState::AwaitingPublisher { sock, req, .. } = entry.state else {
            return;
        };
        let owned = self
            .rooms
            .get(session)
            .and_then(|r| r.streams.get(&entry.stream))
            .is_some_and(|s| s.info.connection_id == conn);
        if !owned {
            return;
        }
        let sdp = match answer {
            Ok(sdp) => sdp,
            Err(e) => {
                let message = format!("the publisher could not answer: {e}");
                return self.fail_subscription(session, &sub, Refusal::Media, message);
            }
        };
        let (subscriber, stream_id) = (entry.conn.clone(), entry.stream.clone());
        if let Some(s) = self.subs.get_mut(&sub) {
            s.state = SubState::Direct;
        }
        if let Some(m) = self.member_mut(session, &subscriber) {
            m.negotiation = None;
        }
        let reply = Reply::Subscribed {
            req,
            sub,
            stream: stream_id,
            sdp,
            direct: true,
        };
        self.send(sock, reply);
        self.next_exchange(session, &subscriber, sock, self.now);
    }

    /// Ends a subscription that was never answered: its subscriber gets `code` for its
    /// request, and its next exchange starts.
    fn fail_subscription(
        &mut self,
        session: &SessionId,
        sub: &SubscriptionId,
        code: Refusal,
        message: String,
    ) {
        let Some(entry) = self.subs.remove(sub) else {
            return;
        };
        let sock = match entry.state {
            SubState::AwaitingPublisher { sock, .. } | SubState::AwaitingRoute { sock, .. } => sock,
            SubState::Server | SubState::Direct => return,
        };
        let Some(member) = self.member_mut(session, &entry.conn) else {
            return;
        };
        let req = match &member.negotiation {
            Some(Negotiation::Subscribe { req, sub: s, .. }) if s == sub => Some(*req),
            _ => None,
        };
        if let Some(req) = req {
            member.negotiation = None;
            self.send(sock, error(Some(req), code, message));
        }
        self.next_exchange(session, &entry.conn, sock, self.now);
    }

    /// Ends a subscription its subscriber no longer wants (or that left): forwarding stops,
    /// or, for a direct one, its publisher is told.
    fn end_subscription(&mut self, session: &SessionId, sub: &SubscriptionId) {
        let Some(entry) = self.subs.remove(sub) else {
            return;
        };
        if entry.state == SubState::Direct {
            let owner = self
                .rooms
                .get(session)
                .and_then(|r| r.streams.get(&entry.stream))
                .map(|s| s.info.connection_id.clone());
            if let Some(owner_sock) = owner.and_then(|o| self.sock_of(session, &o)) {
                let msg = Reply::SubscriptionEnded {
                    sub: sub.to_owned(),
                };
                self.send(owner_sock, msg);
            }
        } else {
            self.out.push(Output::EndSubscription {
                sub: sub.to_owned(),
            });
        }
    }

    /// A connection's media is gone: its streams end, its subscriptions stop.
    fn media_failed(&mut self, sock: SockId) {
        let Some(Some((session, conn))) = self.socks.get(&sock).cloned() else {
            return;
        };
        // Direct streams and subscriptions do not go through the server's connection.
        let own: Vec<StreamId> = self.rooms.get(&session).map_or_else(Vec::new, |r| {
            r.streams
                .values()
                .filter(|s| s.info.connection_id == conn && s.state != StreamState::Direct)
                .map(|s| s.info.id.clone())
                .collect()
        });
        for stream in own {
            self.end_stream(&session, &stream, &Reason::MediaStopped);
        }
        self.end_subscriptions_of(&session, &conn, |s| *s == SubState::Server);
    }

    /// Ends the subscriptions of `conn` in a state that `which` picks.
    fn end_subscriptions_of(
        &mut self,
        session: &SessionId,
        conn: &ConnectionId,
        which: impl Fn(&SubState) -> bool,
    ) {
        let subs: Vec<SubscriptionId> = self
            .subs
            .iter()
            .filter(|(_, s)| s.conn == conn && which(&s.state))
            .map(|(id, _)| id.clone())
            .collect();
        for sub in subs {
            self.end_subscription(session, &sub);
        }
    }

    fn member_mut(&mut self, session: &SessionId, conn: &ConnectionId) -> Option<&mut Member> {
        self.rooms.get_mut(session)?.members.get_mut(conn)
    }

    fn publish_media(&mut self, stream: StreamId, now: u64) {
        let Some(session) = self.session_of_stream(&stream) else {
            self.out.push(Output::EndStream { stream });
            return;
        };
        let room = self.rooms.get_mut(&session).expect("stream's room");
        let entry = room.streams.get_mut(&stream).expect("stream");
        if !matches!(entry.state, StreamState::AwaitingMedia { .. }) {
            return;
        }
        entry.state = StreamState::Live;
        let resumed = std::mem::replace(&mut entry.went_live, true);
        if resumed {
            // Its publisher learns that it is live, as for any publish; the others that it
            // goes on.
            let info = entry.info.clone();
            tracing::info!(stream = %info.id, name = %info.name, "stream resumed");
            let owner = self.sock_of(&session, &info.connection_id);
            let socks: Vec<SockId> = self.rooms[&session]
                .members
                .values()
                .map(|m| m.sock)
                .collect();
            for sock in socks {
                let event = if Some(sock) == owner {
                    SessionEvent::StreamCreated {
                        stream: info.clone(),
                    }
                } else {
                    SessionEvent::StreamResumed {
                        stream: info.clone(),
                    }
                };
                self.send(sock, Reply::Event(event));
            }
            return;
        }
        if entry.info.path == MediaPath::Direct {
            // A direct stream now routed: everyone is told, and the subscriptions that
            // waited for it start.
            entry.info.path = MediaPath::Routed;
            let info = entry.info.clone();
            let reason = entry
                .route_reason
                .clone()
                .unwrap_or(Reason::RoutedSubscriber);
            tracing::info!(stream = %info.id, %reason, "direct stream routed");
            self.broadcast(
                &session,
                SessionEvent::StreamPathChanged {
                    stream: info,
                    reason,
                },
            );
            let waiting: Vec<(SubscriptionId, SubState, LayerWish)> = self
                .subs
                .iter()
                .filter(|(_, s)| s.stream == stream)
                .map(|(id, s)| (id.clone(), s.state.clone(), s.layer))
                .collect();
            for (sub, state, layer) in waiting {
                if let SubState::AwaitingRoute {
                    sock,
                    audio,
                    video,
                    exchange,
                } = state
                {
                    self.subs.get_mut(&sub).expect("listed").state = SubState::Server;
                    self.out.push(Output::StartSubscription {
                        sock,
                        session: session.clone(),
                        sub,
                        stream: stream.clone(),
                        audio,
                        video,
                        exchange,
                        layer,
                    });
                }
            }
            return;
        }
        entry.info.created_at = now;
        let info = entry.info.clone();
        tracing::info!(stream = %info.id, name = %info.name, "stream created");
        self.broadcast(&session, SessionEvent::StreamCreated { stream: info });
    }

    fn timeout(&mut self, now: u64) {
        let idle: Vec<SockId> = self
            .unjoined
            .iter()
            .filter(|&(_, &deadline)| deadline <= now)
            .map(|(&sock, _)| sock)
            .collect();
        for sock in idle {
            self.unjoined.remove(&sock);
            self.send(
                sock,
                error(
                    None,
                    Refusal::ConnectTimeout,
                    format!("no connect message within {} s", CONNECT_WAIT_MS / 1000),
                ),
            );
            self.out.push(Output::Close { sock });
        }
        let late = self.streams_due(now, |state| match state {
            StreamState::AwaitingMedia { deadline } => Some(deadline),
            _ => None,
        });
        let unanswered: Vec<SubscriptionId> = self
            .subs
            .iter()
            .filter(|(_, s)| {
                matches!(s.state, SubState::AwaitingPublisher { deadline, .. } if deadline <= now)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for sub in unanswered {
            if let Some(session) = self.session_of_stream(&self.subs[&sub].stream) {
                let message = format!(
                    "the publisher did not answer within {} s",
                    PUBLISHER_ANSWER_MS / 1000
                );
                self.fail_subscription(&session, &sub, Refusal::Media, message);
            }
        }
        let abandoned = self.streams_due(now, |state| match state {
            StreamState::Interrupted { deadline } => Some(deadline),
            _ => None,
        });
        for (session, stream) in abandoned {
            tracing::info!(%stream, "its publisher did not come back within the grace period");
            self.end_stream(&session, &stream, &Reason::NetworkDisconnected);
            if self
                .rooms
                .get(&session)
                .is_some_and(|r| r.members.is_empty() && r.streams.is_empty())
            {
                self.rooms.remove(&session);
            }
        }
        for (session, stream) in late {
            tracing::warn!(%stream, "publisher's media did not arrive; publish abandoned");
            let owner = self.rooms[&session].streams[&stream]
                .info
                .connection_id
                .clone();
            if let Some(sock) = self.sock_of(&session, &owner) {
                self.send(
                    sock,
                    error(
                        None,
                        Refusal::Media,
                        "the server received no media for the published stream",
                    ),
                );
            }
            self.end_stream(&session, &stream, &Reason::MediaStopped);
        }
    }

    /// The streams whose deadline (as `deadline_of` reads it from their state) has come, with
    /// their sessions.
    fn streams_due(
        &self,
        now: u64,
        deadline_of: impl Fn(StreamState) -> Option<u64>,
    ) -> Vec<(SessionId, StreamId)> {
        self.rooms
            .iter()
            .flat_map(|(session, r)| {
                r.streams
                    .values()
                    .filter(|s| deadline_of(s.state).is_some_and(|d| d <= now))
                    .map(move |s| (session.clone(), s.info.id.clone()))
            })
            .collect()
    }

    fn shutdown(&mut self) {
        self.shutting_down = true;
        let socks: Vec<(SockId, bool)> =
            self.socks.iter().map(|(s, j)| (*s, j.is_some())).collect();
        for (sock, joined) in socks {
            if joined {
                self.send(sock, disconnected(&Reason::ServerShutdown));
                self.out.push(Output::CloseMedia { sock });
            }
            self.out.push(Output::Close { sock });
        }
        self.socks.clear();
        // Nobody hears of the streams and connections the shutdown ends.
        for (_, room) in self.rooms.drain() {
            for stream in room.streams.into_keys() {
                self.out.push(Output::EndStream { stream });
            }
        }
        for sub in self.subs.drain().map(|(id, _)| id).collect::<Vec<_>>() {
            self.out.push(Output::EndSubscription { sub });
        }
    }

    /// Removes a connection: its streams end, its subscriptions close, the others are told.
    fn leave(&mut self, session: &SessionId, conn: &ConnectionId, reason: &Reason) {
        let own: Vec<StreamId> = self.rooms.get(session).map_or_else(Vec::new, |r| {
            r.streams
                .values()
                .filter(|s| s.info.connection_id == conn)
                .map(|s| s.info.id.clone())
                .collect()
        });
        for stream in own {
            if !self.interrupt(session, &stream, reason) {
                self.end_stream(session, &stream, reason);
            }
        }
        self.end_subscriptions_of(session, conn, |_| true);
        let Some(room) = self.rooms.get_mut(session) else {
            return;
        };
        let Some(member) = room.members.remove(conn) else {
            return;
        };
        self.out.push(Output::CloseMedia { sock: member.sock });
        if room.members.is_empty() && room.streams.is_empty() {
            self.rooms.remove(session);
        }
        self.broadcast(
            session,
            SessionEvent::ConnectionDestroyed {
                connection: member.info,
                reason: reason.clone(),
            },
        );
        tracing::info!(connection = %conn, %reason, "left");
    }

    /// Keeps a stream whose publisher's connection was lost (`reason`) for the grace period,
    /// if it has one and the stream's media has been forwarded; everyone is told. Whether
    /// it was kept.
    fn interrupt(&mut self, session: &SessionId, stream: &StreamId, reason: &Reason) -> bool {
        let grace = self.publisher_grace;
        let Some(entry) = self
            .rooms
            .get_mut(session)
            .and_then(|r| r.streams.get_mut(stream))
            .filter(|e| grace > 0 && *reason == Reason::NetworkDisconnected && e.forwarded())
        else {
            return false;
        };
        entry.state = StreamState::Interrupted {
            deadline: self.now + grace,
        };
        let info = entry.info.clone();
        tracing::info!(%stream, grace_ms = grace, "publisher's connection lost; its stream waits for it");
        self.broadcast(session, SessionEvent::StreamInterrupted { stream: info });
        true
    }

    /// Ends a stream in any state: its subscriptions close, and if others could see it they
    /// are told. Whether there was such a stream.
    fn end_stream(&mut self, session: &SessionId, stream: &StreamId, reason: &Reason) -> bool {
        let Some(entry) = self
            .rooms
            .get_mut(session)
            .and_then(|r| r.streams.remove(stream))
        else {
            return false;
        };
        let subs: Vec<SubscriptionId> = self
            .subs
            .iter()
            .filter(|(_, s)| s.stream == stream)
            .map(|(id, _)| id.clone())
            .collect();
        let event = SessionEvent::StreamDestroyed {
            stream: entry.info.clone(),
            reason: reason.clone(),
        };
        if entry.visible() {
            self.broadcast(session, event);
        } else if let Some(owner) = self.sock_of(session, &entry.info.connection_id) {
            // Nobody else had seen it; its publisher learns that it will not go live.
            self.send(owner, Reply::Event(event));
        }
        for sub in subs {
            match self.subs.get(&sub).map(|s| &s.state) {
                Some(SubState::AwaitingPublisher { .. } | SubState::AwaitingRoute { .. }) => {
                    let message = format!("stream {stream:?} ended ({reason})");
                    self.fail_subscription(session, &sub, Refusal::NotFound, message);
                }
                Some(SubState::Direct) => {
                    self.subs.remove(&sub);
                }
                Some(SubState::Server) | None => {
                    self.subs.remove(&sub);
                    self.out.push(Output::EndSubscription { sub });
                }
            }
        }
        self.out.push(Output::EndStream {
            stream: stream.to_owned(),
        });
        tracing::info!(%stream, %reason, "stream ended");
        true
    }

    fn session_of_stream(&self, stream: &StreamId) -> Option<SessionId> {
        self.rooms
            .iter()
            .find(|(_, r)| r.streams.contains_key(stream))
            .map(|(s, _)| s.clone())
    }

    fn sock_of(&self, session: &SessionId, conn: &ConnectionId) -> Option<SockId> {
        Some(self.rooms.get(session)?.members.get(conn)?.sock)
    }
}

/// Who a connection is, for resuming its streams: its token's data and what it said on
/// connect (empty when both are).
fn identity_of(c: &Connection) -> String {
    if c.data.is_empty() && c.client_data.is_empty() {
        return String::new();
    }
    format!("{}\n{}", c.data, c.client_data)
}

fn forbidden(req: u64, role: Role, what: &str) -> Reply {
    error(
        Some(req),
        Refusal::Forbidden,
        format!("a {role:?} token cannot {what}; a moderator token can").to_lowercase(),
    )
}

fn disconnected(reason: &Reason) -> Reply {
    Reply::Event(SessionEvent::SessionDisconnected {
        reason: reason.clone(),
    })
}

#[cfg(test)]
mod tests {
    //! Whole scenarios stepped on virtual time: no sockets, no WebRTC, no clock.

    use super::*;
    use crate::auth::{SessionProps, TokenClaims};
    use crate::server::intent::TrackName;
    use crate::server::native::{from_wire, to_wire};
    use crate::signaling::native::{ClientMsg, ErrorCode, PROTOCOL_VERSION, ServerMsg};

    const T0: u64 = 1_800_000_000_000;

    struct Harness {
        core: Core,
        keys: KeyPair,
        session: SessionId,
        now: u64,
    }

    fn harness() -> Harness {
        let keys = KeyPair {
            key: "k".into(),
            secret: "s".into(),
        };
        let session = keys.create_session(&SessionProps {
            p2p: false,
            location_hint: None,
            created_at: T0 / 1000,
            nonce: "n".into(),
        });
        Harness {
            core: Core::new(keys.clone(), 7),
            keys,
            session: session.into(),
            now: T0,
        }
    }

    fn msgs(out: &[Output], to: SockId) -> Vec<ServerMsg> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send { sock, msg } if *sock == to => to_wire(msg.clone()),
                _ => None,
            })
            .collect()
    }

    /// The core's reply as a native client reads it.
    fn sent(reply: Reply) -> ServerMsg {
        to_wire(reply).expect("a server's reply")
    }

    /// A native message as the core's request (the scenarios speak the native protocol).
    fn wire(msg: ClientMsg) -> Request {
        from_wire(msg).expect("this protocol version")
    }

    fn events(out: &[Output], to: SockId) -> Vec<SessionEvent> {
        msgs(out, to)
            .into_iter()
            .filter_map(|m| match m {
                ServerMsg::Event { event } => Some(SessionEvent::from(event)),
                _ => None,
            })
            .collect()
    }

    fn error_code(out: &[Output], to: SockId) -> Option<ErrorCode> {
        msgs(out, to).into_iter().find_map(|m| match m {
            ServerMsg::Error { code, .. } => Some(code),
            _ => None,
        })
    }

    impl Harness {
        fn input(&mut self, input: Input) -> Vec<Output> {
            self.core.handle(input, self.now)
        }

        fn msg(&mut self, sock: u64, msg: ClientMsg) -> Vec<Output> {
            self.input(Input::Message {
                sock: SockId(sock),
                msg: wire(msg),
            })
        }

        fn token(&self, role: Role, exp: u64) -> String {
            self.keys.create_token(&TokenClaims {
                iss: "k".into(),
                sid: self.session.to_string(),
                role,
                data: format!("{role:?}"),
                iat: self.now / 1000,
                exp,
            })
        }

        fn connect_msg(&self, token: String) -> ClientMsg {
            ClientMsg::Connect {
                version: PROTOCOL_VERSION,
                session_id: self.session.clone(),
                token,
                client_data: String::new(),
            }
        }

        /// Joins on `sock`; returns the connection id.
        fn join(&mut self, sock: u64, role: Role) -> ConnectionId {
            let token = self.token(role, self.now / 1000 + 60);
            let out = self.msg(sock, self.connect_msg(token));
            match events(&out, SockId(sock)).as_slice() {
                [SessionEvent::SessionConnected { connection, .. }] => connection.id.clone(),
                other => panic!("not joined: {other:?}"),
            }
        }

        /// Publishes from `sock` up to the stream being live; returns its id.
        fn publish_live(&mut self, sock: u64, req: u64) -> StreamId {
            let stream = self.publish_answered(sock, req);
            let out = self.input(Input::PublishMedia {
                stream: stream.clone(),
            });
            assert!(matches!(
                events(&out, SockId(sock)).as_slice(),
                [SessionEvent::StreamCreated { .. }]
            ));
            stream
        }

        /// Publishes from `sock` up to the answer; returns the stream id.
        fn publish_answered(&mut self, sock: u64, req: u64) -> StreamId {
            let out = self.msg(sock, publish(req));
            let [Output::StartPublish { stream, msid, .. }] = out.as_slice() else {
                panic!("{out:?}");
            };
            assert_eq!(msid, "m");
            let stream = stream.clone();
            let out = self.answered(sock, Ok("answer"));
            assert_eq!(
                msgs(&out, SockId(sock)),
                [ServerMsg::Published {
                    req,
                    stream_id: stream.clone(),
                    sdp: "answer".into()
                }]
            );
            stream
        }

        fn answered(&mut self, sock: u64, result: Result<&str, AnswerError>) -> Vec<Output> {
            self.input(Input::Answered {
                sock: SockId(sock),
                result: result.map(str::to_owned),
            })
        }

        /// Starts subscribing `sock` to `stream`; returns the subscription id.
        fn subscribe_started(&mut self, sock: u64, req: u64, stream: &StreamId) -> SubscriptionId {
            let out = self.msg(sock, subscribe(req, stream));
            let [
                Output::StartSubscription {
                    sub,
                    audio: true,
                    video: true,
                    exchange: Exchange::ClientOffers { sdp, .. },
                    ..
                },
            ] = out.as_slice()
            else {
                panic!("{out:?}");
            };
            assert_eq!(sdp, "offer");
            sub.clone()
        }

        /// Subscribes `sock` to `stream` up to the answer; returns the subscription id.
        fn subscribed(&mut self, sock: u64, req: u64, stream: &StreamId) -> SubscriptionId {
            let sub = self.subscribe_started(sock, req, stream);
            let out = self.answered(sock, Ok("answer"));
            assert_eq!(
                msgs(&out, SockId(sock)),
                [ServerMsg::Subscribed {
                    direct: false,
                    req,
                    subscription_id: sub.clone(),
                    stream_id: stream.clone(),
                    sdp: "answer".into()
                }]
            );
            sub
        }
    }

    fn unpublish(req: u64, stream: &StreamId) -> ClientMsg {
        ClientMsg::Unpublish {
            req,
            stream_id: stream.clone(),
        }
    }

    fn subscribe(req: u64, stream: &StreamId) -> ClientMsg {
        ClientMsg::Subscribe {
            direct: false,
            fallback: None,
            req,
            stream_id: stream.clone(),
            audio: true,
            video: true,
            sdp: "offer".into(),
            mids: Vec::new(),
            layer: Default::default(),
            max_size: None,
        }
    }

    fn publish(req: u64) -> ClientMsg {
        ClientMsg::Publish {
            direct: false,
            req,
            name: "cam".into(),
            has_audio: true,
            has_video: true,
            msid: "m".into(),
            sdp: "offer".into(),
            stream_id: None,
        }
    }

    #[test]
    fn joining_tells_the_newcomer_everything_and_the_others_of_the_newcomer() {
        let mut h = harness();
        let a = h.join(1, Role::Publisher);
        let stream = h.publish_live(1, 1);
        h.now += 1000;
        let token = h.token(Role::Subscriber, h.now / 1000 + 60);
        let out = h.msg(2, h.connect_msg(token));
        match events(&out, SockId(2)).as_slice() {
            [
                SessionEvent::SessionConnected {
                    connection_count: 2,
                    connections,
                    streams,
                    ..
                },
            ] => {
                assert_eq!(connections[0].id, a);
                assert_eq!(connections[1].created_at, h.now);
                assert_eq!(streams[0].id, stream);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            events(&out, SockId(1)).as_slice(),
            [SessionEvent::ConnectionCreated { connection }] if connection.data == "Subscriber"
        ));
    }

    #[test]
    fn a_publisher_back_after_joining_again_keeps_its_stream_id_when_free() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        let first = h.publish_live(1, 1);
        let again = |h: &mut Harness, sock: u64, id: &str| {
            let out = h.msg(
                sock,
                ClientMsg::Publish {
                    direct: false,
                    req: 9,
                    name: "cam".into(),
                    has_audio: true,
                    has_video: true,
                    msid: "m".into(),
                    sdp: "offer".into(),
                    stream_id: Some(id.into()),
                },
            );
            match out.as_slice() {
                [Output::StartPublish { stream, .. }] => stream.clone(),
                other => panic!("{other:?}"),
            }
        };
        // Taken (by a live stream) or not one of this server's shapes: a new id.
        h.join(2, Role::Publisher);
        assert_ne!(again(&mut h, 2, first.as_str()), first);
        h.join(3, Role::Publisher);
        assert_ne!(again(&mut h, 3, "s-../../etc"), "s-../../etc");
        // Free again once its publisher is gone: granted.
        h.input(Input::Closed {
            sock: SockId(1),
            reason: Reason::NetworkDisconnected,
        });
        h.join(4, Role::Publisher);
        assert_eq!(again(&mut h, 4, first.as_str()), first);
    }

    /// A harness whose core keeps a lost publisher's streams for 5 s.
    fn grace_harness() -> Harness {
        let mut h = harness();
        h.core = Core::new(h.keys.clone(), 7).with_publisher_grace(5_000);
        h
    }

    fn ends(out: &[Output]) -> usize {
        out.iter()
            .filter(|o| matches!(o, Output::EndStream { .. } | Output::EndSubscription { .. }))
            .count()
    }

    #[test]
    fn a_lost_publisher_is_waited_for_and_its_stream_goes_on_when_it_is_back() {
        let mut h = grace_harness();
        h.join(1, Role::Publisher);
        let stream = h.publish_live(1, 1);
        h.join(2, Role::Subscriber);
        h.subscribed(2, 1, &stream);
        let out = h.input(Input::Closed {
            sock: SockId(1),
            reason: Reason::NetworkDisconnected,
        });
        // Kept, and everyone told; nothing forwarded is ended.
        assert_eq!(ends(&out), 0, "{out:?}");
        assert!(matches!(
            events(&out, SockId(2)).as_slice(),
            [SessionEvent::StreamInterrupted { stream: s }, SessionEvent::ConnectionDestroyed { .. }]
                if s.id == stream
        ));
        assert_eq!(h.core.poll_timeout(), Some(T0 + 5_000));
        // Still there for a newcomer, who may subscribe at once (its hubs are there).
        h.now += 1_000;
        h.join(3, Role::Subscriber);
        h.subscribed(3, 1, &stream);
        // The publisher back, a new process (no id asked): the same stream.
        h.now += 1_000;
        let back = h.join(4, Role::Publisher);
        let out = h.msg(4, publish(1));
        assert!(
            matches!(out.as_slice(), [Output::StartPublish { stream: s, .. }] if *s == stream),
            "{out:?}"
        );
        h.answered(4, Ok("answer"));
        let out = h.input(Input::PublishMedia {
            stream: stream.clone(),
        });
        for sub in [2, 3] {
            assert!(matches!(
                events(&out, SockId(sub)).as_slice(),
                [SessionEvent::StreamResumed { stream: s }] if s.id == stream && s.connection_id == back
            ));
        }
        assert!(matches!(
            events(&out, SockId(4)).as_slice(),
            [SessionEvent::StreamCreated { stream: s }] if s.id == stream
        ));
        assert_eq!(ends(&out), 0);
        // Live again: the deadline is gone.
        assert_eq!(h.core.poll_timeout(), None);
    }

    #[test]
    fn a_lost_publisher_not_back_in_time_ends_its_stream_and_a_goodbye_ends_it_at_once() {
        let mut h = grace_harness();
        h.join(1, Role::Publisher);
        let stream = h.publish_live(1, 1);
        h.join(2, Role::Subscriber);
        h.subscribed(2, 1, &stream);
        h.input(Input::Closed {
            sock: SockId(1),
            reason: Reason::NetworkDisconnected,
        });
        // Someone else of the same name but other token data makes a new stream.
        h.join(3, Role::Moderator);
        let out = h.msg(3, publish(1));
        assert!(
            matches!(out.as_slice(), [Output::StartPublish { stream: s, .. }] if *s != stream),
            "{out:?}"
        );
        h.now += 4_999;
        assert_eq!(ends(&h.input(Input::Timeout)), 0);
        h.now += 1;
        let out = h.input(Input::Timeout);
        assert_eq!(ends(&out), 2, "{out:?}");
        assert!(matches!(
            events(&out, SockId(2)).as_slice(),
            [SessionEvent::StreamDestroyed { stream: s, reason: Reason::NetworkDisconnected }]
                if s.id == stream
        ));
        // A publisher that says goodbye (or a close frame) ends its stream at once.
        h.join(4, Role::Publisher);
        let other = h.publish_live(4, 1);
        let out = h.input(Input::Closed {
            sock: SockId(4),
            reason: Reason::ClientDisconnected,
        });
        assert!(matches!(
            events(&out, SockId(2)).first(),
            Some(SessionEvent::StreamDestroyed { stream: s, .. }) if s.id == other
        ));
    }

    #[test]
    fn a_stream_is_resumed_by_name_only_for_a_named_publisher_and_by_id_first() {
        let mut h = grace_harness();
        let token = |h: &Harness, data: &str| {
            h.keys.create_token(&TokenClaims {
                iss: "k".into(),
                sid: h.session.to_string(),
                role: Role::Publisher,
                data: data.into(),
                iat: h.now / 1000,
                exp: h.now / 1000 + 60,
            })
        };
        let join = |h: &mut Harness, sock: u64, data: &str| {
            let msg = h.connect_msg(token(h, data));
            h.msg(sock, msg);
        };
        let publish_as = |h: &mut Harness, sock: u64, asked: Option<&StreamId>| -> StreamId {
            let mut msg = publish(1);
            if let ClientMsg::Publish { stream_id, .. } = &mut msg {
                *stream_id = asked.cloned();
            }
            let out = h.msg(sock, msg);
            let [Output::StartPublish { stream, .. }] = out.as_slice() else {
                panic!("{out:?}");
            };
            let stream = stream.clone();
            h.answered(sock, Ok("answer"));
            h.input(Input::PublishMedia {
                stream: stream.clone(),
            });
            stream
        };
        let lose = |h: &mut Harness, sock: u64| {
            h.input(Input::Closed {
                sock: SockId(sock),
                reason: Reason::NetworkDisconnected,
            });
        };
        // Nameless tokens: another publisher's stream of the same name is not taken over,
        // but asking for the id (a vcall client joining again) resumes it.
        join(&mut h, 1, "");
        let anonymous = publish_as(&mut h, 1, None);
        lose(&mut h, 1);
        join(&mut h, 2, "");
        assert_ne!(publish_as(&mut h, 2, None), anonymous);
        join(&mut h, 3, "");
        assert_eq!(publish_as(&mut h, 3, Some(&anonymous)), anonymous);
        // Named: two interrupted streams of the same name; the one asked for by id wins,
        // and the other is resumed by name.
        join(&mut h, 4, "cam-7");
        let a = publish_as(&mut h, 4, None);
        join(&mut h, 5, "cam-7");
        let c = publish_as(&mut h, 5, None);
        assert_ne!(a, c);
        lose(&mut h, 4);
        lose(&mut h, 5);
        join(&mut h, 6, "cam-7");
        assert_eq!(publish_as(&mut h, 6, Some(&c)), c);
        join(&mut h, 7, "cam-7");
        assert_eq!(publish_as(&mut h, 7, None), a);
    }

    #[test]
    fn a_room_left_with_only_an_interrupted_stream_goes_when_the_stream_ends() {
        let mut h = grace_harness();
        h.join(1, Role::Publisher);
        h.publish_live(1, 1);
        h.input(Input::Closed {
            sock: SockId(1),
            reason: Reason::NetworkDisconnected,
        });
        assert_eq!(h.core.rooms.len(), 1);
        h.now += 5_000;
        h.input(Input::Timeout);
        assert!(h.core.rooms.is_empty());
    }

    #[test]
    fn an_ice_restart_is_answered_in_turn_with_other_exchanges() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        // A publish under way: the restart waits for its answer.
        h.msg(1, publish(1));
        let restart = ClientMsg::RestartIce {
            req: 2,
            sdp: "restart offer".into(),
        };
        assert!(h.msg(1, restart).is_empty());
        let out = h.answered(1, Ok("answer"));
        assert!(
            out.iter().any(|o| matches!(o, Output::RestartIce { sock: SockId(1), sdp } if sdp == "restart offer")),
            "{out:?}"
        );
        let out = h.answered(1, Ok("restart answer"));
        assert_eq!(
            msgs(&out, SockId(1)),
            vec![ServerMsg::IceRestarted {
                req: 2,
                sdp: "restart answer".into()
            }]
        );
        // One that cannot be answered is a media error for that request.
        h.msg(
            1,
            ClientMsg::RestartIce {
                req: 3,
                sdp: "x".into(),
            },
        );
        let out = h.answered(1, Err(PeerError::NotNegotiated("video/AV1").into()));
        assert_eq!(error_code(&out, SockId(1)), Some(ErrorCode::Media));
    }

    #[test]
    fn a_socket_that_never_connects_is_closed_after_the_connect_wait() {
        let mut h = harness();
        h.input(Input::Opened { sock: SockId(1) });
        h.input(Input::Opened { sock: SockId(2) });
        assert_eq!(h.core.poll_timeout(), Some(T0 + CONNECT_WAIT_MS));
        h.now += 1_000;
        h.join(2, Role::Subscriber);
        h.now = T0 + CONNECT_WAIT_MS - 1;
        assert!(h.input(Input::Timeout).is_empty());
        h.now += 1;
        let out = h.input(Input::Timeout);
        assert!(
            matches!(
                out.as_slice(),
                [
                    Output::Send {
                        sock: SockId(1),
                        msg: Reply::Refused {
                            refusal: Refusal::ConnectTimeout,
                            ..
                        }
                    },
                    Output::Close { sock: SockId(1) }
                ]
            ),
            "{out:?}"
        );
        // The joined socket stays; nothing more is due.
        assert_eq!(h.core.poll_timeout(), None);
    }

    #[test]
    fn connect_is_refused_with_the_reason_and_the_socket_closed() {
        let mut h = harness();
        let exp = h.now / 1000 + 60;
        let cases: Vec<(ClientMsg, ErrorCode)> = vec![
            (publish(1), ErrorCode::BadRequest),
            (
                h.connect_msg(h.token(Role::Publisher, h.now / 1000 - 1)),
                ErrorCode::TokenExpired,
            ),
            (h.connect_msg("a.b.c".into()), ErrorCode::InvalidToken),
            (
                ClientMsg::Connect {
                    version: PROTOCOL_VERSION,
                    session_id: "1_nope.nope".into(),
                    token: h.token(Role::Publisher, exp),
                    client_data: String::new(),
                },
                ErrorCode::SessionNotFound,
            ),
        ];
        let other = h.keys.create_session(&SessionProps {
            p2p: false,
            location_hint: None,
            created_at: 1,
            nonce: "other".into(),
        });
        let wrong_session = ClientMsg::Connect {
            version: PROTOCOL_VERSION,
            session_id: other.into(),
            token: h.token(Role::Publisher, exp),
            client_data: String::new(),
        };
        for (i, (msg, code)) in cases
            .into_iter()
            .chain([(wrong_session, ErrorCode::WrongSession)])
            .enumerate()
        {
            let sock = 10 + i as u64;
            let out = h.msg(sock, msg);
            assert_eq!(error_code(&out, SockId(sock)), Some(code));
            assert_eq!(out.last(), Some(&Output::Close { sock: SockId(sock) }));
        }
        assert!(h.core.view(&h.session).connections.is_empty());
    }

    #[test]
    fn a_stream_is_seen_by_everyone_once_its_media_arrives() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        h.join(2, Role::Subscriber);
        let stream = h.publish_answered(1, 5);
        assert!(h.core.view(&h.session).streams.is_empty());
        h.now += 300;
        let out = h.input(Input::PublishMedia {
            stream: stream.clone(),
        });
        for sock in [1, 2] {
            assert!(matches!(
                events(&out, SockId(sock)).as_slice(),
                [SessionEvent::StreamCreated { stream: s }] if s.id == stream && s.created_at == h.now
            ));
        }
        assert_eq!(h.core.poll_timeout(), None);
    }

    #[test]
    fn a_subscriber_that_joined_first_subscribes_when_the_stream_appears() {
        let mut h = harness();
        h.join(2, Role::Subscriber);
        h.join(1, Role::Publisher);
        let stream = h.publish_live(1, 1);
        h.subscribed(2, 1, &stream);
    }

    #[test]
    fn subscribing_needs_a_live_stream_with_the_media_asked_for() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        let pending = h.publish_answered(1, 1);
        let out = h.msg(1, subscribe(2, &pending));
        assert_eq!(error_code(&out, SockId(1)), Some(ErrorCode::NotFound));
        let out = h.msg(
            1,
            ClientMsg::Publish {
                direct: false,
                req: 3,
                name: "mic".into(),
                has_audio: true,
                has_video: false,
                msid: "m2".into(),
                sdp: "offer".into(),
                stream_id: None,
            },
        );
        let [Output::StartPublish { stream, .. }] = out.as_slice() else {
            panic!("{out:?}");
        };
        let audio_only = stream.clone();
        h.answered(1, Ok("a"));
        h.input(Input::PublishMedia {
            stream: audio_only.clone(),
        });
        let out = h.msg(
            1,
            ClientMsg::Subscribe {
                direct: false,
                fallback: None,
                req: 4,
                stream_id: audio_only,
                audio: false,
                video: true,
                sdp: "offer".into(),
                mids: Vec::new(),
                layer: Default::default(),
                max_size: None,
            },
        );
        assert_eq!(error_code(&out, SockId(1)), Some(ErrorCode::BadRequest));
    }

    #[test]
    fn a_second_exchange_waits_for_the_first() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        h.join(2, Role::Publisher);
        let live = h.publish_live(2, 1);
        let out = h.msg(1, publish(1));
        assert!(matches!(out.as_slice(), [Output::StartPublish { .. }]));
        // A subscribe while the publish is being answered waits its turn.
        assert!(h.msg(1, subscribe(2, &live)).is_empty());
        let out = h.answered(1, Ok("answer"));
        assert!(matches!(
            msgs(&out, SockId(1)).as_slice(),
            [ServerMsg::Published { req: 1, .. }]
        ));
        assert!(matches!(
            out.last(),
            Some(Output::StartSubscription { stream, .. }) if *stream == live
        ));
    }

    #[test]
    fn a_stream_unpublished_while_being_subscribed_ends_the_subscription_quietly() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        h.join(2, Role::Subscriber);
        let stream = h.publish_live(1, 1);
        let sub = h.subscribe_started(2, 1, &stream);
        let out = h.msg(1, unpublish(2, &stream));
        assert!(matches!(
            events(&out, SockId(2)).as_slice(),
            [SessionEvent::StreamDestroyed { reason, .. }] if *reason == Reason::Unpublished
        ));
        assert_eq!(
            msgs(&out, SockId(1)).last(),
            Some(&ServerMsg::Ok { req: 2 })
        );
        assert!(out.contains(&Output::EndSubscription { sub: sub.clone() }));
        assert!(out.contains(&Output::EndStream {
            stream: stream.clone()
        }));
        // The exchange under way still ends with its answer, so both ends stay in step;
        // nothing is forwarded.
        let out = h.answered(2, Ok("answer"));
        assert!(matches!(
            msgs(&out, SockId(2)).as_slice(),
            [ServerMsg::Subscribed { req: 1, .. }]
        ));
        assert!(out.contains(&Output::EndSubscription { sub }));
    }

    #[test]
    fn only_the_owner_unpublishes_or_unsubscribes_and_only_publishers_publish() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        h.join(2, Role::Subscriber);
        let stream = h.publish_live(1, 1);
        let sub = h.subscribed(2, 1, &stream);
        let out = h.msg(2, unpublish(2, &stream));
        assert_eq!(error_code(&out, SockId(2)), Some(ErrorCode::NotFound));
        let unsubscribe = |req| ClientMsg::Unsubscribe {
            req,
            subscription_id: sub.clone(),
        };
        let out = h.msg(1, unsubscribe(3));
        assert_eq!(error_code(&out, SockId(1)), Some(ErrorCode::NotFound));
        let out = h.msg(2, unsubscribe(4));
        assert_eq!(msgs(&out, SockId(2)), [ServerMsg::Ok { req: 4 }]);
        assert!(out.contains(&Output::EndSubscription { sub: sub.clone() }));
        let out = h.msg(2, publish(5));
        assert_eq!(error_code(&out, SockId(2)), Some(ErrorCode::Forbidden));
        let out = h.msg(
            1,
            ClientMsg::Publish {
                direct: false,
                req: 6,
                name: "nothing".into(),
                has_audio: false,
                has_video: false,
                msid: "m".into(),
                sdp: String::new(),
                stream_id: None,
            },
        );
        assert_eq!(error_code(&out, SockId(1)), Some(ErrorCode::BadRequest));
        let out = h.msg(
            1,
            ClientMsg::ForceDisconnect {
                req: 7,
                connection_id: "c-x".into(),
            },
        );
        assert_eq!(error_code(&out, SockId(1)), Some(ErrorCode::Forbidden));
    }

    #[test]
    fn a_moderator_removes_a_subscriber_in_the_middle_of_its_negotiation() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        let victim = h.join(2, Role::Subscriber);
        h.join(3, Role::Moderator);
        let stream = h.publish_live(1, 1);
        let sub = h.subscribe_started(2, 1, &stream);
        let out = h.msg(
            3,
            ClientMsg::ForceDisconnect {
                req: 9,
                connection_id: victim.clone(),
            },
        );
        assert_eq!(
            events(&out, SockId(2)),
            [SessionEvent::SessionDisconnected {
                reason: Reason::ForceDisconnected
            }]
        );
        for o in [
            Output::Close { sock: SockId(2) },
            Output::EndSubscription { sub },
            Output::CloseMedia { sock: SockId(2) },
        ] {
            assert!(out.contains(&o), "{o:?} missing from {out:?}");
        }
        assert!(matches!(
            events(&out, SockId(1)).as_slice(),
            [SessionEvent::ConnectionDestroyed { connection, reason }]
                if connection.id == victim && *reason == Reason::ForceDisconnected
        ));
        assert_eq!(
            msgs(&out, SockId(3)).last(),
            Some(&ServerMsg::Ok { req: 9 })
        );
        // The answer that was being made finishes into nothing.
        let out = h.answered(2, Ok("answer"));
        assert!(out.is_empty(), "{out:?}");
        // Its socket closing later changes nothing.
        let out = h.input(Input::Closed {
            sock: SockId(2),
            reason: Reason::ClientDisconnected,
        });
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(h.core.view(&h.session).connections.len(), 2);
    }

    #[test]
    fn a_moderator_force_unpublishes_a_stream_still_negotiating() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        h.join(2, Role::Subscriber);
        h.join(3, Role::Moderator);
        let out = h.msg(1, publish(1));
        let [Output::StartPublish { stream, .. }] = out.as_slice() else {
            panic!("{out:?}");
        };
        let stream = stream.clone();
        let out = h.msg(
            3,
            ClientMsg::ForceUnpublish {
                req: 2,
                stream_id: stream.clone(),
            },
        );
        // Nobody else had seen it; its publisher learns it will not go live.
        assert!(events(&out, SockId(2)).is_empty());
        assert!(matches!(
            events(&out, SockId(1)).as_slice(),
            [SessionEvent::StreamDestroyed { stream: s, reason }]
                if s.id == stream && *reason == Reason::ForceUnpublished
        ));
        assert_eq!(msgs(&out, SockId(3)), [ServerMsg::Ok { req: 2 }]);
        assert!(out.contains(&Output::EndStream {
            stream: stream.clone()
        }));
        let out = h.answered(1, Ok("answer"));
        assert!(matches!(
            msgs(&out, SockId(1)).as_slice(),
            [ServerMsg::Published { req: 1, .. }]
        ));
        assert!(out.contains(&Output::EndStream { stream }));
        assert_eq!(h.core.poll_timeout(), None);
    }

    #[test]
    fn a_publish_whose_media_never_arrives_is_abandoned_at_its_deadline() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        let stream = h.publish_answered(1, 1);
        assert_eq!(h.core.poll_timeout(), Some(T0 + TRACK_WAIT_MS));
        h.now += TRACK_WAIT_MS - 1;
        assert!(h.input(Input::Timeout).is_empty());
        h.now += 1;
        let out = h.input(Input::Timeout);
        assert_eq!(error_code(&out, SockId(1)), Some(ErrorCode::Media));
        assert!(out.contains(&Output::EndStream { stream }));
        assert_eq!(h.core.poll_timeout(), None);
    }

    #[test]
    fn who_offers_is_the_requests_to_say() {
        // A LiveKit participant: its publisher connection is answered apart, and the server
        // offers its subscriptions on its receiving connection, tracks named as asked.
        let mut h = harness();
        h.join(1, Role::Publisher);
        h.join(2, Role::Subscriber);
        h.join(3, Role::Publisher);
        let live = h.publish_live(1, 1);
        let apart = Request::Publish {
            req: 2,
            name: "cam".into(),
            audio: false,
            video: true,
            msid: "TR_x".into(),
            sending: Sending::AnsweredApart,
            stream: None,
        };
        let out = h.input(Input::Message {
            sock: SockId(3),
            msg: apart,
        });
        let [Output::StartPublish { offer: None, .. }] = out.as_slice() else {
            panic!("{out:?}");
        };
        let out = h.answered(3, Ok(""));
        assert!(
            matches!(
                out.as_slice(),
                [Output::Send {
                    sock: SockId(3),
                    msg: Reply::Published {
                        req: 2,
                        answer: None,
                        ..
                    }
                }]
            ),
            "{out:?}"
        );
        let names = vec![TrackName {
            kind: crate::vocab::Kind::Video,
            stream: "PA_c|TR_v".into(),
            track: "TR_v".into(),
        }];
        let out = h.input(Input::Message {
            sock: SockId(2),
            msg: Request::Subscribe {
                req: 1,
                stream: live.clone(),
                audio: true,
                video: true,
                receiving: Receiving::Routed(Exchange::ServerOffers(names.clone())),
                fallback: None,
                layer: Layer::Auto.into(),
            },
        });
        let [
            Output::StartSubscription {
                exchange,
                audio: true,
                video: true,
                ..
            },
        ] = out.as_slice()
        else {
            panic!("{out:?}");
        };
        assert_eq!(*exchange, Exchange::ServerOffers(names));
        let out = h.answered(2, Ok("the server's offer"));
        assert!(
            matches!(
                msgs(&out, SockId(2)).as_slice(),
                [ServerMsg::Subscribed { req: 1, sdp, direct: false, .. }] if sdp == "the server's offer"
            ),
            "{out:?}"
        );
    }

    #[test]
    fn a_subscription_asks_for_another_layer_and_only_its_own_connection_may() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        h.join(2, Role::Subscriber);
        h.join(3, Role::Subscriber);
        let live = h.publish_live(1, 1);
        let out = h.input(Input::Message {
            sock: SockId(2),
            msg: Request::Subscribe {
                req: 1,
                stream: live,
                audio: false,
                video: true,
                receiving: Receiving::Routed(Exchange::ServerOffers(Vec::new())),
                fallback: None,
                layer: Layer::Auto.into(),
            },
        });
        let [Output::StartSubscription { sub, layer, .. }] = out.as_slice() else {
            panic!("{out:?}");
        };
        assert_eq!(*layer, Layer::Auto.into());
        let sub = sub.clone();
        let set = |sock, layer: Layer| Input::Message {
            sock: SockId(sock),
            msg: Request::SetLayer {
                sub: sub.clone(),
                layer: layer.into(),
            },
        };
        // Being made or forwarded: its legs take the layer; nothing is said back.
        assert_eq!(
            h.input(set(2, Layer::Low)),
            [Output::SetLayer {
                sub: sub.clone(),
                layer: Layer::Low.into()
            }]
        );
        assert_eq!(h.core.subscription_layer(&sub), Some(Layer::Low.into()));
        // Another connection's request changes nothing.
        assert!(h.input(set(3, Layer::High)).is_empty());
        assert_eq!(h.core.subscription_layer(&sub), Some(Layer::Low.into()));
        // Its legs' switches are told to it alone.
        let out = h.input(Input::LayerSwitched {
            sub,
            layer: Layer::Low,
            size: Some((320, 180)),
        });
        assert!(
            matches!(
                events(&out, SockId(2)).as_slice(),
                [SessionEvent::LayerSwitched {
                    layer: Layer::Low,
                    size: Some((320, 180)),
                    ..
                }]
            ),
            "{out:?}"
        );
        assert_eq!(out.len(), 1, "{out:?}");
    }

    #[test]
    fn a_failed_answer_is_an_error_for_the_request() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        let out = h.msg(1, publish(7));
        let [Output::StartPublish { stream, .. }] = out.as_slice() else {
            panic!("{out:?}");
        };
        let stream = stream.clone();
        let out = h.answered(1, Err(PeerError::NotNegotiated("video/AV1").into()));
        assert_eq!(
            msgs(&out, SockId(1)),
            [sent(error(
                Some(7),
                Refusal::Media,
                "video/AV1 was not negotiated"
            ))]
        );
        assert!(out.contains(&Output::EndStream { stream }));
    }

    #[test]
    fn a_failure_of_the_servers_own_is_internal_not_the_offers_fault() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        h.msg(1, publish(7));
        let no_port = PeerError::NoFreePort {
            lo: 40000,
            hi: 40000,
            ip: std::net::Ipv4Addr::LOCALHOST.into(),
        };
        let out = h.answered(1, Err(no_port.into()));
        assert_eq!(
            msgs(&out, SockId(1)),
            [sent(error(
                Some(7),
                Refusal::Internal,
                "no UDP port free in 40000-40000 (--udp-ports) on 127.0.0.1"
            ))]
        );
    }

    #[test]
    fn failed_media_ends_the_connections_streams_and_subscriptions() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        h.join(2, Role::Publisher);
        let mine = h.publish_live(1, 1);
        let theirs = h.publish_live(2, 1);
        let sub = h.subscribed(1, 2, &theirs);
        let out = h.input(Input::MediaFailed { sock: SockId(1) });
        assert!(matches!(
            events(&out, SockId(2)).as_slice(),
            [SessionEvent::StreamDestroyed { stream, reason }]
                if stream.id == mine && *reason == Reason::MediaStopped
        ));
        assert!(out.contains(&Output::EndSubscription { sub }));
        assert_eq!(h.core.view(&h.session).connections.len(), 2);
    }

    #[test]
    fn a_publisher_leaving_ends_its_streams_before_its_connection() {
        let mut h = harness();
        let a = h.join(1, Role::Publisher);
        h.join(2, Role::Subscriber);
        let stream = h.publish_live(1, 1);
        let sub = h.subscribed(2, 1, &stream);
        let out = h.input(Input::Closed {
            sock: SockId(1),
            reason: Reason::NetworkDisconnected,
        });
        match events(&out, SockId(2)).as_slice() {
            [
                SessionEvent::StreamDestroyed {
                    stream: s,
                    reason: r1,
                },
                SessionEvent::ConnectionDestroyed {
                    connection,
                    reason: r2,
                },
            ] => {
                assert_eq!(
                    (s.id.as_str(), r1.as_str()),
                    (stream.as_str(), "networkDisconnected")
                );
                assert_eq!(
                    (connection.id.as_str(), r2.as_str()),
                    (a.as_str(), "networkDisconnected")
                );
            }
            other => panic!("{other:?}"),
        }
        for o in [
            Output::EndSubscription { sub },
            Output::EndStream { stream },
            Output::CloseMedia { sock: SockId(1) },
        ] {
            assert!(out.contains(&o), "{o:?} missing from {out:?}");
        }
    }

    #[test]
    fn shutdown_tells_every_joined_client_only_that_and_ends_all_media() {
        let mut h = harness();
        h.join(1, Role::Publisher);
        h.join(2, Role::Subscriber);
        // Socket 3 is open but has not joined; socket 1 has a live stream and one negotiating;
        // socket 2 has a subscription being negotiated.
        h.input(Input::Unreadable {
            sock: SockId(3),
            error: "x".into(),
        });
        let live = h.publish_live(1, 1);
        let out = h.msg(1, publish(2));
        let [
            Output::StartPublish {
                stream: negotiating,
                ..
            },
        ] = out.as_slice()
        else {
            panic!("{out:?}");
        };
        let negotiating = negotiating.clone();
        let sub = h.subscribe_started(2, 1, &live);
        let out = h.input(Input::Shutdown);
        for sock in [1, 2] {
            assert_eq!(
                msgs(&out, SockId(sock)),
                [sent(disconnected(&Reason::ServerShutdown))],
                "socket {sock}"
            );
            assert!(out.contains(&Output::Close { sock: SockId(sock) }));
            assert!(out.contains(&Output::CloseMedia { sock: SockId(sock) }));
        }
        assert!(msgs(&out, SockId(3)).is_empty());
        for o in [
            Output::EndStream { stream: live },
            Output::EndStream {
                stream: negotiating.clone(),
            },
            Output::EndSubscription { sub: sub.clone() },
        ] {
            assert!(out.contains(&o), "{o:?} missing from {out:?}");
        }
        // What was under way finishes into nothing; sockets closing are not news.
        for input in [
            Input::Answered {
                sock: SockId(1),
                result: Ok("a".into()),
            },
            Input::PublishMedia {
                stream: negotiating,
            },
            Input::Closed {
                sock: SockId(1),
                reason: Reason::ClientDisconnected,
            },
        ] {
            let out = h.input(input);
            assert!(
                out.iter().all(|o| !matches!(o, Output::Send { .. })),
                "{out:?}"
            );
        }
        // A client arriving now is turned away.
        let token = h.token(Role::Publisher, h.now / 1000 + 60);
        let out = h.msg(4, h.connect_msg(token));
        assert_eq!(
            msgs(&out, SockId(4)),
            [sent(disconnected(&Reason::ServerShutdown))]
        );
    }

    fn p2p_harness() -> Harness {
        let mut h = harness();
        h.session = (h.keys.create_session(&SessionProps {
            p2p: true,
            location_hint: None,
            created_at: T0 / 1000,
            nonce: "p".into(),
        }))
        .into();
        h
    }

    fn publish_direct(req: u64) -> ClientMsg {
        ClientMsg::Publish {
            req,
            name: "cam".into(),
            has_audio: true,
            has_video: true,
            msid: String::new(),
            sdp: String::new(),
            stream_id: None,
            direct: true,
        }
    }

    #[test]
    fn a_p2p_session_passes_offers_to_the_publisher_and_takes_two_clients_with_media() {
        let mut h = p2p_harness();
        h.join(1, Role::Publisher);
        let sub_conn = h.join(2, Role::Subscriber);
        // One that only watches joins too.
        h.join(3, Role::Subscriber);

        // Published directly: live at once, no media work, everyone told.
        let out = h.msg(1, publish_direct(1));
        let stream = match msgs(&out, SockId(1)).as_slice() {
            [
                ServerMsg::Published {
                    req: 1,
                    stream_id,
                    sdp,
                },
                ..,
            ] if sdp.is_empty() => stream_id.clone(),
            other => panic!("{other:?}"),
        };
        assert!(!out.iter().any(|o| matches!(o, Output::StartPublish { .. })));
        assert!(matches!(
            events(&out, SockId(2)).as_slice(),
            [SessionEvent::StreamCreated { stream: s }] if s.path == MediaPath::Direct
        ));

        // A direct subscribe goes to the publisher; its answer comes back.
        let mut sub = subscribe(2, &stream);
        if let ClientMsg::Subscribe { direct, .. } = &mut sub {
            *direct = true;
        }
        let out = h.msg(2, sub);
        let sub_id = match msgs(&out, SockId(1)).as_slice() {
            [
                ServerMsg::SubscribeOffer {
                    subscription_id,
                    connection_id,
                    sdp,
                    ..
                },
            ] => {
                assert_eq!((connection_id, sdp.as_str()), (&sub_conn, "offer"));
                subscription_id.clone()
            }
            other => panic!("{other:?}"),
        };
        assert!(out.iter().all(|o| matches!(o, Output::Send { .. })));
        let out = h.msg(
            1,
            ClientMsg::SubscribeAnswer {
                subscription_id: sub_id.clone(),
                sdp: "direct answer".into(),
                error: None,
            },
        );
        assert_eq!(
            msgs(&out, SockId(2)),
            [ServerMsg::Subscribed {
                req: 2,
                subscription_id: sub_id.clone(),
                stream_id: stream.clone(),
                sdp: "direct answer".into(),
                direct: true,
            }]
        );

        // The direct path failed: through the server; the publisher is asked to route.
        let mut routed = subscribe(3, &stream);
        if let ClientMsg::Subscribe { fallback, .. } = &mut routed {
            *fallback = Some("directFailed".into());
        }
        let out = h.msg(2, routed);
        assert_eq!(
            msgs(&out, SockId(1)),
            [
                ServerMsg::SubscriptionEnded {
                    subscription_id: sub_id.clone()
                },
                ServerMsg::Route {
                    stream_id: stream.clone()
                }
            ]
        );
        assert!(msgs(&out, SockId(2)).is_empty(), "it waits for the route");
        let mut again = publish(4);
        if let ClientMsg::Publish { stream_id, .. } = &mut again {
            *stream_id = Some(stream.clone());
        }
        let out = h.msg(1, again);
        assert!(matches!(out.as_slice(), [Output::StartPublish { stream: s, .. }] if *s == stream));
        h.answered(1, Ok("answer"));
        let out = h.input(Input::PublishMedia {
            stream: stream.clone(),
        });
        assert!(matches!(
            events(&out, SockId(2)).as_slice(),
            [SessionEvent::StreamPathChanged { stream: s, reason }]
                if s.path == MediaPath::Routed && *reason == Reason::DirectFailed
        ));
        assert!(out.iter().any(
            |o| matches!(o, Output::StartSubscription { sock: SockId(2), stream: s, .. } if *s == stream)
        ));
        let out = h.answered(2, Ok("server answer"));
        assert!(matches!(
            msgs(&out, SockId(2)).as_slice(),
            [ServerMsg::Subscribed {
                req: 3,
                direct: false,
                ..
            }]
        ));
        // A third client with media is refused; the watcher stays.
        let out = h.msg(3, subscribe(1, &stream));
        assert_eq!(error_code(&out, SockId(3)), Some(ErrorCode::SessionFull));
        assert!(!out.contains(&Output::Close { sock: SockId(3) }));
    }

    #[test]
    fn an_unanswered_direct_subscribe_fails_at_its_deadline_and_the_next_goes_on() {
        let mut h = p2p_harness();
        h.join(1, Role::Publisher);
        h.join(2, Role::Subscriber);
        let out = h.msg(1, publish_direct(1));
        let stream = match msgs(&out, SockId(1)).as_slice() {
            [ServerMsg::Published { stream_id, .. }, ..] => stream_id.clone(),
            other => panic!("{other:?}"),
        };

        let mut sub = subscribe(2, &stream);
        if let ClientMsg::Subscribe { direct, .. } = &mut sub {
            *direct = true;
        }
        h.msg(2, sub);
        assert_eq!(h.core.poll_timeout(), Some(h.now + PUBLISHER_ANSWER_MS));
        h.now += PUBLISHER_ANSWER_MS;
        let out = h.input(Input::Timeout);
        assert_eq!(error_code(&out, SockId(2)), Some(ErrorCode::Media));
        // A direct publish in a session without p2p is refused.
        let mut plain = harness();
        plain.join(1, Role::Publisher);
        let out = plain.msg(1, publish_direct(1));
        assert_eq!(error_code(&out, SockId(1)), Some(ErrorCode::BadRequest));
    }

    #[test]
    fn ids_are_unique() {
        let mut core = Core::new(
            KeyPair {
                key: "k".into(),
                secret: "s".into(),
            },
            1,
        );
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| core.next_id::<String>("c-")).collect();
        assert_eq!(ids.len(), 1000);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// One step a client, the driver or the clock may take; ids are picked among those the
        /// core has handed out so far (or made up), so that deep states are reached.
        #[derive(Debug, Clone)]
        enum Op {
            Open(u8),
            Connect(u8, u8, bool),
            Publish(u8, bool, bool),
            Unpublish(u8, u8),
            Subscribe(u8, u8, bool, bool),
            PublisherAnswer(u8, u8, bool),
            Unsubscribe(u8, u8),
            ForceUnpublish(u8, u8),
            ForceDisconnect(u8, u8),
            Leave(u8),
            Unreadable(u8),
            /// A socket that closes: its client left, or (true) its connection was lost.
            Close(u8, bool),
            Answer(u8, bool),
            Media(u8),
            MediaFailed(u8),
            Tick(u16),
        }

        fn op() -> impl Strategy<Value = Op> {
            let s = 0u8..6;
            prop_oneof![
                s.clone().prop_map(Op::Open),
                (s.clone(), 0u8..4, any::<bool>()).prop_map(|(a, b, c)| Op::Connect(a, b, c)),
                (s.clone(), any::<bool>(), any::<bool>())
                    .prop_map(|(a, b, c)| Op::Publish(a, b, c)),
                (s.clone(), any::<u8>()).prop_map(|(a, b)| Op::Unpublish(a, b)),
                (s.clone(), any::<u8>(), any::<bool>(), any::<bool>())
                    .prop_map(|(a, b, c, d)| Op::Subscribe(a, b, c, d)),
                (s.clone(), any::<u8>(), any::<bool>())
                    .prop_map(|(a, b, c)| Op::PublisherAnswer(a, b, c)),
                (s.clone(), any::<u8>()).prop_map(|(a, b)| Op::Unsubscribe(a, b)),
                (s.clone(), any::<u8>()).prop_map(|(a, b)| Op::ForceUnpublish(a, b)),
                (s.clone(), any::<u8>()).prop_map(|(a, b)| Op::ForceDisconnect(a, b)),
                s.clone().prop_map(Op::Leave),
                s.clone().prop_map(Op::Unreadable),
                (s.clone(), any::<bool>()).prop_map(|(n, lost)| Op::Close(n, lost)),
                (s.clone(), any::<bool>()).prop_map(|(a, b)| Op::Answer(a, b)),
                any::<u8>().prop_map(Op::Media),
                s.clone().prop_map(Op::MediaFailed),
                (0u16..20_000).prop_map(Op::Tick),
            ]
        }

        fn pick(ids: &[String], i: u8) -> String {
            if ids.is_empty() || i == u8::MAX {
                "made-up".into()
            } else {
                ids[i as usize % ids.len()].clone()
            }
        }

        proptest! {
            #[test]
            fn prop_the_core_takes_any_sequence_of_inputs(
                ops in prop::collection::vec(op(), 0..60),
                shutdown in any::<bool>(),
                p2p in any::<bool>(),
                grace in any::<bool>(),
            ) {
                let mut h = if p2p { p2p_harness() } else { harness() };
                if grace {
                    h.core.publisher_grace = 5_000;
                }
                let (mut streams, mut subs, mut conns) = (vec![], vec![], vec![]);
                let mut closed = std::collections::HashSet::new();
                for (req, op) in (1..).zip(ops) {
                    let sock = |n: u8| SockId(n as u64);
                    let input = match op {
                        Op::Open(n) => Input::Opened { sock: sock(n) },
                        Op::Connect(n, which, good) => {
                            let roles = [Role::Publisher, Role::Subscriber, Role::Moderator];
                            let token = match roles.get(which as usize) {
                                Some(&role) => h.token(role, h.now / 1000 + 60),
                                None => "junk".into(),
                            };
                            let mut msg = h.connect_msg(token);
                            if !good {
                                if let ClientMsg::Connect { session_id, .. } = &mut msg {
                                    *session_id = format!("{session_id}x").into();
                                }
                            }
                            Input::Message { sock: sock(n), msg: wire(msg) }
                        }
                        Op::Publish(n, with_media, direct) => Input::Message {
                            sock: sock(n),
                            msg: wire(ClientMsg::Publish {
                                direct,
                                req,
                                name: "cam".into(),
                                has_audio: with_media,
                                has_video: true,
                                msid: "m".into(),
                                sdp: "offer".into(),
                                stream_id: None,
                            }),
                        },
                        Op::Unpublish(n, i) => Input::Message {
                            sock: sock(n),
                            msg: wire(ClientMsg::Unpublish { req, stream_id: (pick(&streams, i)).into() }),
                        },
                        Op::Subscribe(n, i, audio, direct) => Input::Message {
                            sock: sock(n),
                            msg: wire(ClientMsg::Subscribe {
                                direct,
                                fallback: None,
                                req,
                                stream_id: (pick(&streams, i)).into(),
                                audio,
                                video: true,
                                sdp: "offer".into(),
                                mids: Vec::new(),
                                layer: Default::default(),
            max_size: None,
                            }),
                        },
                        Op::PublisherAnswer(n, i, ok) => Input::Message {
                            sock: sock(n),
                            msg: wire(ClientMsg::SubscribeAnswer {
                                subscription_id: (pick(&subs, i)).into(),
                                sdp: "answer".into(),
                                error: (!ok).then(|| "no".into()),
                            }),
                        },
                        Op::Unsubscribe(n, i) => Input::Message {
                            sock: sock(n),
                            msg: wire(ClientMsg::Unsubscribe { req, subscription_id: (pick(&subs, i)).into() }),
                        },
                        Op::ForceUnpublish(n, i) => Input::Message {
                            sock: sock(n),
                            msg: wire(ClientMsg::ForceUnpublish { req, stream_id: (pick(&streams, i)).into() }),
                        },
                        Op::ForceDisconnect(n, i) => Input::Message {
                            sock: sock(n),
                            msg: wire(ClientMsg::ForceDisconnect { req, connection_id: (pick(&conns, i)).into() }),
                        },
                        Op::Leave(n) => Input::Message { sock: sock(n), msg: wire(ClientMsg::Disconnect) },
                        Op::Unreadable(n) => Input::Unreadable { sock: sock(n), error: "x".into() },
                        Op::Close(n, lost) => Input::Closed {
                            sock: sock(n),
                            reason: if lost { Reason::NetworkDisconnected } else { Reason::ClientDisconnected },
                        },
                        Op::Answer(n, ok) => Input::Answered {
                            sock: sock(n),
                            result: if ok { Ok("answer".into()) } else { Err(AnswerError::Media(PeerError::Closed)) },
                        },
                        Op::Media(i) => Input::PublishMedia { stream: (pick(&streams, i)).into() },
                        Op::MediaFailed(n) => Input::MediaFailed { sock: sock(n) },
                        Op::Tick(ms) => {
                            h.now += ms as u64;
                            Input::Timeout
                        }
                    };
                    // The driver never feeds a socket again once it has closed.
                    let on = match &input {
                        Input::Opened { sock }
                        | Input::Message { sock, .. }
                        | Input::Unreadable { sock, .. }
                        | Input::Closed { sock, .. }
                        | Input::Answered { sock, .. }
                        | Input::MediaFailed { sock } => Some(*sock),
                        _ => None,
                    };
                    if on.is_some_and(|s| closed.contains(&s)) {
                        continue;
                    }
                    let closing = match &input {
                        Input::Closed { sock, .. } => Some(*sock),
                        _ => None,
                    };
                    let out = h.input(input);
                    for o in &out {
                        match o {
                            Output::StartPublish { stream, .. } => streams.push(stream.to_string()),
                            Output::StartSubscription { sub, .. } => subs.push(sub.to_string()),
                            Output::Send { sock, msg } => {
                                prop_assert!(!closed.contains(sock), "sent to closed {sock:?}: {msg:?}");
                                match msg {
                                    Reply::Published { stream, .. } => streams.push(stream.to_string()),
                                    Reply::OfferToPublisher { sub, .. } => subs.push(sub.to_string()),
                                    Reply::Event(SessionEvent::SessionConnected { connection, .. }) => {
                                        conns.push(connection.id.to_string());
                                    }
                                    _ => {}
                                }
                            }
                            _ => {}
                        }
                    }
                    if let Some(sock) = closing {
                        closed.insert(sock);
                    }
                }
                if shutdown {
                    h.input(Input::Shutdown);
                }
                h.now += 60_000;
                h.input(Input::Timeout);
                // Nothing outlives its owners: a room whose members all left is gone once
                // the streams kept for them have ended.
                prop_assert!(h.core.rooms.values().all(|r| !r.members.is_empty()));
            }
        }
    }
}
