//! The call model shared by every protocol: connections, streams and the events a session
//! reports (OpenTok's vocabulary). Nothing here knows a wire format.

use serde::{Deserialize, Serialize};

/// Ids are strings on every wire; a type of their own keeps a stream's id from being passed
/// where a connection's is wanted. Serialized as the bare string.
macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            #[allow(dead_code)] // the macro's ids do not all need it
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(id: &str) -> Result<$name, Self::Err> {
                Ok($name(id.to_owned()))
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> $name {
                $name(id.to_owned())
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&$name> for $name {
            fn eq(&self, other: &&$name) -> bool {
                self == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id!(
    /// A session: signed and self-describing on vcall's server, a room number on Janus.
    SessionId
);
id!(
    /// One participant's connection to a session.
    ConnectionId
);
id!(
    /// A published stream.
    StreamId
);
id!(
    /// One subscriber's subscription to a stream.
    SubscriptionId
);

/// A participant's connection to a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: ConnectionId,
    /// Token data (OpenVidu's serverData).
    #[serde(default)]
    pub data: String,
    /// Data the client gave on connect (OpenVidu's clientData).
    #[serde(default)]
    pub client_data: String,
    /// Unix milliseconds when it joined.
    pub created_at: u64,
}

/// A published stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stream {
    pub id: StreamId,
    pub name: String,
    pub has_audio: bool,
    pub has_video: bool,
    /// Id of the connection that publishes it.
    pub connection_id: ConnectionId,
    /// Unix milliseconds when it was created.
    pub created_at: u64,
    /// How its media reaches subscribers.
    #[serde(default)]
    pub path: MediaPath,
}

/// How a stream's media reaches its subscribers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MediaPath {
    /// Through the server (its SFU, or Janus, or a WHIP/WHEP endpoint).
    #[default]
    Routed,
    /// Directly between the two clients of a peer-to-peer session.
    Direct,
}

impl MediaPath {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaPath::Routed => "routed",
            MediaPath::Direct => "direct",
        }
    }
}

/// What a session reports to its participants, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum SessionEvent {
    #[serde(rename_all = "camelCase")]
    SessionConnected {
        session_id: SessionId,
        connection: Connection,
        connection_count: usize,
        connections: Vec<Connection>,
        streams: Vec<Stream>,
        /// Media goes directly between the (at most two) clients where it can.
        #[serde(default)]
        p2p: bool,
    },
    ConnectionCreated {
        connection: Connection,
    },
    ConnectionDestroyed {
        connection: Connection,
        reason: String,
    },
    StreamCreated {
        stream: Stream,
    },
    StreamDestroyed {
        stream: Stream,
        reason: String,
    },
    /// A stream's media changed its way (`stream.path`): in a peer-to-peer session, from
    /// direct to routed through the server, for `reason`.
    StreamPathChanged {
        stream: Stream,
        reason: String,
    },
    SessionDisconnected {
        reason: String,
    },
    /// The client's own: the signaling connection dropped (`reason`), and the client is
    /// trying to join again (`attempt` of `maxAttempts`).
    #[serde(rename_all = "camelCase")]
    Reconnecting {
        reason: String,
        attempt: u32,
        max_attempts: u32,
    },
    /// The client's own: joined again after [`SessionEvent::Reconnecting`], as a new
    /// connection; the session as it is now.
    #[serde(rename_all = "camelCase")]
    Reconnected {
        connection: Connection,
        connection_count: usize,
        streams: Vec<Stream>,
    },
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
