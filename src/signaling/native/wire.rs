//! The native protocol's messages as JSON carries them: what a client sends
//! ([`ClientMsg`]), what the server sends ([`ServerMsg`], session events as [`Event`]).
//! These are the only serde types of the protocol; the rest of vcall sees the model
//! (`crate::session`), converted here. `docs/protocol.md` is their prose description.

use serde::{Deserialize, Serialize};

use crate::session::{
    Connection, ConnectionId, Layer, MediaPath, SessionEvent, SessionId, Stream, StreamId,
    SubscriptionId,
};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 2;

/// Messages from a client to the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClientMsg {
    /// The first message on a socket.
    #[serde(rename_all = "camelCase")]
    Connect {
        version: u32,
        session_id: SessionId,
        token: String,
        #[serde(default)]
        client_data: String,
    },
    /// Publish a stream: `sdp` is an offer of the client's one peer connection with the
    /// stream's send-only sections added, whose tracks carry `msid` as their media stream id;
    /// answered by `published`. `streamId`, from a client publishing again after it joined
    /// again, asks for the id its stream had; the server grants it when no stream holds it.
    #[serde(rename_all = "camelCase")]
    Publish {
        req: u64,
        name: String,
        has_audio: bool,
        has_video: bool,
        msid: String,
        sdp: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stream_id: Option<StreamId>,
        /// In a peer-to-peer session: the stream's media goes to each subscriber directly
        /// (`subscribeOffer`), and `sdp` is empty. Answered at once.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        direct: bool,
    },
    /// Stop publishing; answered by `ok`.
    #[serde(rename_all = "camelCase")]
    Unpublish { req: u64, stream_id: StreamId },
    /// Subscribe to a stream: `sdp` is an offer of the client's peer connection with a
    /// receive-only section added for each kind asked for (audio first); answered by
    /// `subscribed`. An empty `sdp` with `mids` naming, for each kind, a section an ended
    /// subscription of the same codec left: the stream goes in those sections with no new
    /// exchange, and `subscribed` has an empty `sdp` (refused with `media` when the server
    /// cannot: the client offers then).
    #[serde(rename_all = "camelCase")]
    Subscribe {
        req: u64,
        stream_id: StreamId,
        audio: bool,
        video: bool,
        sdp: String,
        /// The sections of `sdp` that are this subscription's (audio first): a section of a
        /// subscription that ended may be named again. Empty: the offer's new sections.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mids: Vec<String>,
        /// Of a stream whose path is `direct`: `sdp` is the offer of a connection of its own,
        /// passed to the publisher, whose answer comes back in `subscribed`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        direct: bool,
        /// Of a `direct` stream subscribed through the server: why the direct path was left
        /// (`directFailed`, `directLost`), told to everyone in `streamPathChanged`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback: Option<String>,
        /// Of a simulcast stream: which layer (`auto`: the best the subscriber's path
        /// carries, the default; `high`, `mid`, `low`).
        #[serde(default, skip_serializing_if = "WireLayer::is_auto")]
        layer: WireLayer,
        /// Of a simulcast stream: no larger layer than a picture of this size needs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_size: Option<WireSize>,
    },
    /// The publisher's answer to a `subscribeOffer` (`sdp`), or why it has none (`error`).
    #[serde(rename_all = "camelCase")]
    SubscribeAnswer {
        subscription_id: SubscriptionId,
        #[serde(default)]
        sdp: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Restart ICE on the client's peer connection (its media path broke while signaling
    /// stayed up): `sdp` is an offer with new ICE credentials; answered by `iceRestarted`.
    #[serde(rename_all = "camelCase")]
    RestartIce { req: u64, sdp: String },
    /// Stop receiving a subscription; answered by `ok`.
    #[serde(rename_all = "camelCase")]
    Unsubscribe {
        req: u64,
        subscription_id: SubscriptionId,
    },
    /// Moderators only: force a stream to stop; answered by `ok`.
    #[serde(rename_all = "camelCase")]
    ForceUnpublish { req: u64, stream_id: StreamId },
    /// Moderators only: force a connection out; answered by `ok`.
    #[serde(rename_all = "camelCase")]
    ForceDisconnect {
        req: u64,
        connection_id: ConnectionId,
    },
    /// Leave the session.
    Disconnect,
}

/// Error codes the server sends; see docs/protocol.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    VersionUnsupported,
    BadRequest,
    InvalidToken,
    TokenExpired,
    SessionNotFound,
    WrongSession,
    Forbidden,
    NotFound,
    Media,
    Internal,
    /// A socket sent no `connect` in time.
    ConnectTimeout,
    /// A peer-to-peer session has its two clients with media.
    SessionFull,
    /// The server's connection limits (in total, or from one address) are reached.
    TooManyConnections,
}

/// Messages from the server to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMsg {
    /// A session event.
    Event {
        #[serde(flatten)]
        event: Event,
    },
    /// The answer to `publish`.
    #[serde(rename_all = "camelCase")]
    Published {
        req: u64,
        stream_id: StreamId,
        sdp: String,
    },
    /// The answer to `subscribe`: the stream's media arrives in the sections it offered.
    #[serde(rename_all = "camelCase")]
    Subscribed {
        req: u64,
        subscription_id: SubscriptionId,
        stream_id: StreamId,
        sdp: String,
        /// The answer is the publisher's, for a connection directly with it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        direct: bool,
    },
    /// To the publisher of a `direct` stream: a subscriber's offer, to answer with
    /// `subscribeAnswer` on a connection of its own.
    #[serde(rename_all = "camelCase")]
    SubscribeOffer {
        subscription_id: SubscriptionId,
        stream_id: StreamId,
        connection_id: ConnectionId,
        audio: bool,
        video: bool,
        sdp: String,
    },
    /// To the publisher of a `direct` stream: a direct subscription ended.
    #[serde(rename_all = "camelCase")]
    SubscriptionEnded { subscription_id: SubscriptionId },
    /// To the publisher of a `direct` stream: publish it through the server as well
    /// (`publish` with its `streamId`), for a subscriber that cannot have it directly.
    #[serde(rename_all = "camelCase")]
    Route { stream_id: StreamId },
    /// The answer to `restartIce`.
    #[serde(rename_all = "camelCase")]
    IceRestarted { req: u64, sdp: String },
    /// A request succeeded.
    Ok { req: u64 },
    /// A request (or, without `req`, the connection) failed.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req: Option<u64>,
        code: ErrorCode,
        message: String,
    },
}

impl ServerMsg {
    pub(super) fn req(&self) -> Option<u64> {
        match self {
            ServerMsg::Published { req, .. }
            | ServerMsg::Subscribed { req, .. }
            | ServerMsg::IceRestarted { req, .. }
            | ServerMsg::Ok { req } => Some(*req),
            ServerMsg::Error { req, .. } => *req,
            ServerMsg::Event { .. }
            | ServerMsg::SubscribeOffer { .. }
            | ServerMsg::SubscriptionEnded { .. }
            | ServerMsg::Route { .. } => None,
        }
    }
}

/// A connection as the protocol carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireConnection {
    pub id: ConnectionId,
    #[serde(default)]
    pub data: String,
    #[serde(default)]
    pub client_data: String,
    pub created_at: u64,
}

/// A stream as the protocol carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireStream {
    pub id: StreamId,
    pub name: String,
    pub has_audio: bool,
    pub has_video: bool,
    pub connection_id: ConnectionId,
    pub created_at: u64,
    /// `routed` (the default, for servers before peer-to-peer sessions) or `direct`.
    #[serde(default)]
    pub path: WirePath,
}

/// A stream's `path`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WirePath {
    #[default]
    Routed,
    Direct,
}

/// A session event as the server sends it (`type: "event"`, the event's name in `event`).
/// The client's own events (`reconnecting`, `reconnected`) are not the server's to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event {
    #[serde(rename_all = "camelCase")]
    SessionConnected {
        session_id: SessionId,
        connection: WireConnection,
        connection_count: usize,
        connections: Vec<WireConnection>,
        streams: Vec<WireStream>,
        #[serde(default)]
        p2p: bool,
    },
    ConnectionCreated {
        connection: WireConnection,
    },
    ConnectionDestroyed {
        connection: WireConnection,
        reason: String,
    },
    StreamCreated {
        stream: WireStream,
    },
    StreamDestroyed {
        stream: WireStream,
        reason: String,
    },
    StreamPathChanged {
        stream: WireStream,
        reason: String,
    },
    StreamInterrupted {
        stream: WireStream,
    },
    StreamResumed {
        stream: WireStream,
    },
    SessionDisconnected {
        reason: String,
    },
    /// To one subscriber: the simulcast layer it receives of `streamId` changed.
    #[serde(rename_all = "camelCase")]
    LayerSwitched {
        stream_id: StreamId,
        layer: WireLayer,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        width: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        height: Option<u32>,
    },
}

impl Event {
    /// A session event as the server sends it; `None` for the client's own
    /// (`reconnecting`, `reconnected`), which no server sends.
    pub fn from_session(event: SessionEvent) -> Option<Event> {
        let conn = |c: Connection| WireConnection::from(&c);
        let stream = |s: Stream| WireStream::from(&s);
        Some(match event {
            SessionEvent::SessionConnected {
                session_id,
                connection,
                connection_count,
                connections,
                streams,
                p2p,
            } => Event::SessionConnected {
                session_id,
                connection: conn(connection),
                connection_count,
                connections: connections.into_iter().map(conn).collect(),
                streams: streams.into_iter().map(stream).collect(),
                p2p,
            },
            SessionEvent::ConnectionCreated { connection } => Event::ConnectionCreated {
                connection: conn(connection),
            },
            SessionEvent::ConnectionDestroyed { connection, reason } => {
                Event::ConnectionDestroyed {
                    connection: conn(connection),
                    reason: reason.to_string(),
                }
            }
            SessionEvent::StreamCreated { stream: s } => Event::StreamCreated { stream: stream(s) },
            SessionEvent::StreamDestroyed { stream: s, reason } => Event::StreamDestroyed {
                stream: stream(s),
                reason: reason.to_string(),
            },
            SessionEvent::StreamPathChanged { stream: s, reason } => Event::StreamPathChanged {
                stream: stream(s),
                reason: reason.to_string(),
            },
            SessionEvent::StreamInterrupted { stream: s } => {
                Event::StreamInterrupted { stream: stream(s) }
            }
            SessionEvent::StreamResumed { stream: s } => Event::StreamResumed { stream: stream(s) },
            SessionEvent::SessionDisconnected { reason } => Event::SessionDisconnected {
                reason: reason.to_string(),
            },
            SessionEvent::LayerSwitched {
                stream,
                layer,
                size,
            } => Event::LayerSwitched {
                stream_id: stream,
                layer: layer.into(),
                width: size.map(|s| s.0),
                height: size.map(|s| s.1),
            },
            SessionEvent::Reconnecting { .. } | SessionEvent::Reconnected { .. } => return None,
        })
    }
}

impl From<&Connection> for WireConnection {
    fn from(c: &Connection) -> WireConnection {
        WireConnection {
            id: c.id.clone(),
            data: c.data.clone(),
            client_data: c.client_data.clone(),
            created_at: c.created_at,
        }
    }
}

impl From<WireConnection> for Connection {
    fn from(c: WireConnection) -> Connection {
        Connection {
            id: c.id,
            data: c.data,
            client_data: c.client_data,
            created_at: c.created_at,
        }
    }
}

impl From<&Stream> for WireStream {
    fn from(s: &Stream) -> WireStream {
        WireStream {
            id: s.id.clone(),
            name: s.name.clone(),
            has_audio: s.has_audio,
            has_video: s.has_video,
            connection_id: s.connection_id.clone(),
            created_at: s.created_at,
            path: match s.path {
                MediaPath::Routed => WirePath::Routed,
                MediaPath::Direct => WirePath::Direct,
            },
        }
    }
}

impl From<WireStream> for Stream {
    fn from(s: WireStream) -> Stream {
        Stream {
            id: s.id,
            name: s.name,
            has_audio: s.has_audio,
            has_video: s.has_video,
            connection_id: s.connection_id,
            created_at: s.created_at,
            path: match s.path {
                WirePath::Routed => MediaPath::Routed,
                WirePath::Direct => MediaPath::Direct,
            },
            owner: String::new(),
        }
    }
}

fn all<W, M: From<W>>(items: Vec<W>) -> Vec<M> {
    items.into_iter().map(M::from).collect()
}

impl From<Event> for SessionEvent {
    fn from(event: Event) -> SessionEvent {
        match event {
            Event::SessionConnected {
                session_id,
                connection,
                connection_count,
                connections,
                streams,
                p2p,
            } => SessionEvent::SessionConnected {
                session_id,
                connection: connection.into(),
                connection_count,
                connections: all(connections),
                streams: all(streams),
                p2p,
            },
            Event::ConnectionCreated { connection } => SessionEvent::ConnectionCreated {
                connection: connection.into(),
            },
            Event::ConnectionDestroyed { connection, reason } => {
                SessionEvent::ConnectionDestroyed {
                    connection: connection.into(),
                    reason: reason.into(),
                }
            }
            Event::StreamCreated { stream } => SessionEvent::StreamCreated {
                stream: stream.into(),
            },
            Event::StreamDestroyed { stream, reason } => SessionEvent::StreamDestroyed {
                stream: stream.into(),
                reason: reason.into(),
            },
            Event::StreamPathChanged { stream, reason } => SessionEvent::StreamPathChanged {
                stream: stream.into(),
                reason: reason.into(),
            },
            Event::StreamInterrupted { stream } => SessionEvent::StreamInterrupted {
                stream: stream.into(),
            },
            Event::StreamResumed { stream } => SessionEvent::StreamResumed {
                stream: stream.into(),
            },
            Event::SessionDisconnected { reason } => SessionEvent::SessionDisconnected {
                reason: reason.into(),
            },
            Event::LayerSwitched {
                stream_id,
                layer,
                width,
                height,
            } => SessionEvent::LayerSwitched {
                stream: stream_id,
                layer: layer.into(),
                size: width.zip(height),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Reason;

    #[test]
    fn events_read_as_the_protocol_documents_them() {
        let line = r#"{"type":"event","event":"streamDestroyed","reason":"forceUnpublished",
            "stream":{"id":"s1","name":"cam","hasAudio":true,"hasVideo":false,
            "connectionId":"c1","createdAt":5}}"#;
        let msg: ServerMsg = serde_json::from_str(line).unwrap();
        let ServerMsg::Event { event } = msg else {
            panic!("not an event: {msg:?}")
        };
        let SessionEvent::StreamDestroyed { stream, reason } = SessionEvent::from(event) else {
            panic!("not streamDestroyed")
        };
        assert_eq!(reason, Reason::ForceUnpublished);
        assert_eq!(stream.path, MediaPath::Routed, "path defaults to routed");
        assert!(stream.has_audio && !stream.has_video);
    }

    #[test]
    fn a_stream_goes_out_and_comes_back_the_same() {
        let stream = Stream {
            id: "s".into(),
            name: "n".into(),
            has_audio: false,
            has_video: true,
            connection_id: "c".into(),
            created_at: 9,
            path: MediaPath::Direct,
            owner: String::new(),
        };
        let event = Event::from_session(SessionEvent::StreamPathChanged {
            stream: stream.clone(),
            reason: Reason::DirectLost,
        });
        let sent = serde_json::to_string(&ServerMsg::Event {
            event: event.unwrap(),
        })
        .unwrap();
        assert!(sent.contains(r#""path":"direct""#), "{sent}");
        let ServerMsg::Event { event } = serde_json::from_str(&sent).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(
            SessionEvent::from(event),
            SessionEvent::StreamPathChanged {
                stream,
                reason: Reason::DirectLost
            }
        );
    }
}

/// A picture's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireSize {
    pub width: u32,
    pub height: u32,
}

/// A subscription's simulcast layer as the wire names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireLayer {
    #[default]
    Auto,
    High,
    Mid,
    Low,
}

impl WireLayer {
    fn is_auto(&self) -> bool {
        *self == WireLayer::Auto
    }
}

impl From<WireLayer> for Layer {
    fn from(l: WireLayer) -> Layer {
        match l {
            WireLayer::Auto => Layer::Auto,
            WireLayer::High => Layer::High,
            WireLayer::Mid => Layer::Mid,
            WireLayer::Low => Layer::Low,
        }
    }
}

impl From<Layer> for WireLayer {
    fn from(l: Layer) -> WireLayer {
        match l {
            Layer::Auto => WireLayer::Auto,
            Layer::High => WireLayer::High,
            Layer::Mid => WireLayer::Mid,
            Layer::Low => WireLayer::Low,
        }
    }
}
