//! What the room core is asked and what it answers, in no protocol's words.
//!
//! Each signaling front end of the server is a codec between its wire and these: the native
//! WebSocket (`server/native.rs`), WHIP and WHEP (`server/whip.rs`) and LiveKit's `/rtc`
//! (`server/livekit.rs`). Who offers on which of a client's peer connections is data here
//! ([`Sending`], [`Exchange`]), so the core runs a LiveKit participant's two connections and a
//! vcall client's one by the same rules.

use crate::session::{
    ConnectionId, LayerWish, Reason, SessionEvent, SessionId, StreamId, SubscriptionId,
};
use crate::vocab::Kind;

/// What a connection asks of its session. `req` numbers a request; its reply carries it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    /// Join `session` with `token` (the first request of a connection); answered by the
    /// `sessionConnected` event.
    Join {
        session: SessionId,
        token: String,
        client_data: String,
    },
    /// Publish a stream whose tracks carry `msid` as their media stream id. `stream`, from a
    /// client back after joining again, asks for the id its stream had (granted when no
    /// stream holds it); of a direct stream of its own, routes it through the server.
    Publish {
        req: u64,
        name: String,
        audio: bool,
        video: bool,
        msid: String,
        sending: Sending,
        stream: Option<StreamId>,
    },
    Unpublish {
        req: u64,
        stream: StreamId,
    },
    /// Subscribe to a stream's tracks of the kinds asked for. `fallback`: of a direct stream
    /// subscribed through the server, why the direct path was left.
    Subscribe {
        req: u64,
        stream: StreamId,
        audio: bool,
        video: bool,
        receiving: Receiving,
        fallback: Option<Reason>,
        /// Which layer of a simulcast stream it gets.
        layer: LayerWish,
    },
    /// Another layer of a simulcast stream for a subscription of the connection's (no
    /// reply: LiveKit's track settings have none; any other's is ignored).
    SetLayer {
        sub: SubscriptionId,
        layer: LayerWish,
    },
    /// The publisher of a direct stream answered a subscriber's offer, or says why not.
    DirectAnswer {
        sub: SubscriptionId,
        answer: Result<String, String>,
    },
    /// Restart ICE on the connection's peer connection: an offer with new credentials.
    RestartIce {
        req: u64,
        offer: String,
    },
    Unsubscribe {
        req: u64,
        sub: SubscriptionId,
    },
    /// Moderators only.
    ForceUnpublish {
        req: u64,
        stream: StreamId,
    },
    /// Moderators only.
    ForceDisconnect {
        req: u64,
        conn: ConnectionId,
    },
    /// Leave the session.
    Leave,
}

/// How a published stream's media reaches the server.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Sending {
    /// On the client's one peer connection: its offer with the stream's sections, which
    /// the server answers.
    ClientOffers(String),
    /// On a peer connection whose offers the front end answers apart from publishing
    /// (LiveKit's publisher connection, offered before or after `add_track`): the core
    /// only waits for the tracks.
    AnsweredApart,
    /// Directly to each subscriber (a peer-to-peer session): nothing on the server.
    Direct,
}

/// How a subscription's media reaches the client.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Receiving {
    /// Through the server.
    Routed(Exchange),
    /// Directly from the publisher of a direct stream: the subscriber's offer, passed on.
    Direct(String),
}

/// Who offers a subscription's sections through the server.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Exchange {
    /// The client, on its one peer connection: `sdp` with a receive-only section per kind
    /// (audio first), `mids` naming them when it reuses ended subscriptions' sections
    /// (empty: the offer's new ones); the server answers.
    ClientOffers { sdp: String, mids: Vec<String> },
    /// The server, on the client's receiving peer connection (LiveKit's subscriber
    /// connection), each track named as the client's protocol expects; the client's answer
    /// goes to that connection apart from the core.
    ServerOffers(Vec<TrackName>),
}

/// The media stream id and track id a server-offered track carries for one kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrackName {
    pub(crate) kind: Kind,
    pub(crate) stream: String,
    pub(crate) track: String,
}

/// What the core tells a connection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    Event(SessionEvent),
    /// A publish is answered: `answer` to its offer (none when it sends directly, or its
    /// connection is answered apart).
    Published {
        req: u64,
        stream: StreamId,
        answer: Option<String>,
    },
    /// A subscribe is answered: the answer to its offer (the publisher's, when `direct`),
    /// or the server's offer ([`Exchange::ServerOffers`]).
    Subscribed {
        req: u64,
        sub: SubscriptionId,
        stream: StreamId,
        sdp: String,
        direct: bool,
    },
    /// To the publisher of a direct stream: a subscriber's offer, to answer with
    /// [`Request::DirectAnswer`] on a connection of its own.
    OfferToPublisher {
        sub: SubscriptionId,
        stream: StreamId,
        subscriber: ConnectionId,
        audio: bool,
        video: bool,
        offer: String,
    },
    /// To the publisher of a direct stream: a direct subscription ended.
    SubscriptionEnded {
        sub: SubscriptionId,
    },
    /// To the publisher of a direct stream: publish it through the server as well.
    Route {
        stream: StreamId,
    },
    IceRestarted {
        req: u64,
        answer: String,
    },
    /// A request succeeded.
    Done {
        req: u64,
    },
    /// A request (or, without `req`, the connection) was refused.
    Refused {
        req: Option<u64>,
        refusal: Refusal,
        message: String,
    },
}

impl Reply {
    /// The request this replies to; a join's reply (its `sessionConnected`, or a refusal
    /// without a request) is filed under `join`.
    pub(crate) fn req(&self, join: u64) -> Option<u64> {
        match self {
            Reply::Event(SessionEvent::SessionConnected { .. }) => Some(join),
            Reply::Refused { req: None, .. } => Some(join),
            Reply::Published { req, .. }
            | Reply::Subscribed { req, .. }
            | Reply::IceRestarted { req, .. }
            | Reply::Done { req }
            | Reply::Refused { req: Some(req), .. } => Some(*req),
            Reply::Event(_)
            | Reply::OfferToPublisher { .. }
            | Reply::SubscriptionEnded { .. }
            | Reply::Route { .. } => None,
        }
    }
}

/// Why a request was refused; each front end says it in its own words (the native
/// protocol's error codes, HTTP statuses, LiveKit's leave reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    BadRequest,
    InvalidToken,
    TokenExpired,
    SessionNotFound,
    WrongSession,
    Forbidden,
    NotFound,
    /// The client's offer or media cannot be taken.
    Media,
    /// The server failed.
    Internal,
    /// No join within the time a new connection has.
    ConnectTimeout,
    /// A peer-to-peer session has its two clients with media.
    SessionFull,
    /// The server's connection limits are reached.
    TooManyConnections,
}
