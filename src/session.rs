//! The call model shared by every protocol: connections, streams, the events a session
//! reports and why things end (OpenTok's vocabulary). Nothing here knows a wire format: the
//! native protocol's JSON (`signaling::native::wire`), Janus's (`signaling::janus`) and the
//! `--json` output (`client::connect`) are types of their own, converted at their edge. The
//! ids are the one exception: each is the bare string on every wire, so it serializes as it.

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: ConnectionId,
    /// Token data (OpenVidu's serverData).
    pub data: String,
    /// Data the client gave on connect (OpenVidu's clientData).
    pub client_data: String,
    /// Unix milliseconds when it joined.
    pub created_at: u64,
}

/// A published stream.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub path: MediaPath,
    /// Who publishes it, as the server names them where that name outlives a connection:
    /// LiveKit's participant identity, Janus's display name; empty for vcall's own protocol
    /// and WHIP/WHEP. `--stream` matches it, and a stream found again after joining again
    /// (under a new id) is known by it.
    pub owner: String,
}

impl Stream {
    /// Whether `other` is this stream again after a client joined again: the same id, or
    /// (where ids do not outlive a connection, as LiveKit's track sids) the same owner's
    /// stream of the same name and kinds.
    pub fn is_again(&self, other: &Stream) -> bool {
        self.id == other.id
            || (!self.owner.is_empty()
                && self.owner == other.owner
                && self.name == other.name
                && (self.has_audio, self.has_video) == (other.has_audio, other.has_video))
    }
}

/// How a stream's media reaches its subscribers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

/// Which layer of a simulcast video stream a subscriber receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layer {
    /// The best one its own path carries, following it as it changes.
    #[default]
    Auto,
    /// The largest.
    High,
    /// The one below the largest (the smallest when there are two).
    Mid,
    /// The smallest.
    Low,
}

impl Layer {
    pub const NAMES: [&'static str; 4] = ["auto", "high", "mid", "low"];

    /// The name of the layer at `index` among `count` ordered from the smallest: the
    /// largest is `High`, the smallest of two or more `Low`, any between `Mid`.
    pub fn at(index: usize, count: usize) -> Layer {
        if index + 1 >= count {
            Layer::High
        } else if index == 0 {
            Layer::Low
        } else {
            Layer::Mid
        }
    }

    pub fn name(self) -> &'static str {
        Layer::NAMES[self as usize]
    }

    /// The layer's index among `count` layers ordered from the smallest; `None` for `Auto`.
    pub fn index(self, count: usize) -> Option<usize> {
        let top = count.checked_sub(1)?;
        match self {
            Layer::Auto => None,
            Layer::High => Some(top),
            Layer::Mid => Some(if count >= 3 { top - 1 } else { 0 }),
            Layer::Low => Some(0),
        }
    }
}

/// What a subscriber asks of a simulcast video stream: a layer, and with `max_size` no
/// larger one than a picture of that size needs — the smallest layer whose sides are both at
/// least 90 % of it (LiveKit's rule for a subscriber's display size), the largest when none
/// is. `auto` stays at or under that one; a named layer larger than it gives it. `off`: no
/// video at all for now (LiveKit's disabled track; any stream, simulcast or not), on again
/// from a keyframe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerWish {
    pub layer: Layer,
    pub max_size: Option<(u32, u32)>,
    pub off: bool,
}

impl From<Layer> for LayerWish {
    fn from(layer: Layer) -> LayerWish {
        LayerWish {
            layer,
            max_size: None,
            off: false,
        }
    }
}

impl std::str::FromStr for Layer {
    type Err = String;

    fn from_str(s: &str) -> Result<Layer, String> {
        Ok(match s {
            "auto" => Layer::Auto,
            "high" => Layer::High,
            "mid" => Layer::Mid,
            "low" => Layer::Low,
            _ => return Err(format!("unknown layer {s:?}: one of auto, high, mid, low")),
        })
    }
}

/// What a session reports to its participants, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    SessionConnected {
        session_id: SessionId,
        connection: Connection,
        connection_count: usize,
        connections: Vec<Connection>,
        streams: Vec<Stream>,
        /// Media goes directly between the (at most two) clients where it can.
        p2p: bool,
    },
    ConnectionCreated {
        connection: Connection,
    },
    ConnectionDestroyed {
        connection: Connection,
        reason: Reason,
    },
    StreamCreated {
        stream: Stream,
    },
    StreamDestroyed {
        stream: Stream,
        reason: Reason,
    },
    /// A stream's media changed its way (`stream.path`): in a peer-to-peer session, from
    /// direct to routed through the server, for `reason`.
    StreamPathChanged {
        stream: Stream,
        reason: Reason,
    },
    /// A stream's publisher lost its connection (not left): the stream is kept, its
    /// subscriptions with it, for the server's grace period, in case the publisher comes back.
    StreamInterrupted {
        stream: Stream,
    },
    /// An interrupted stream's publisher is back (`stream.connection_id`, its new
    /// connection): its media goes on in the same subscriptions.
    StreamResumed {
        stream: Stream,
    },
    SessionDisconnected {
        reason: Reason,
    },
    /// To one subscriber: the layer of a simulcast stream it receives changed (at the new
    /// layer's keyframe) to `layer`, whose pictures are `size` when its keyframes say.
    LayerSwitched {
        stream: StreamId,
        layer: Layer,
        size: Option<(u32, u32)>,
    },
    /// The client's own: the signaling connection dropped (`reason`), and the client is
    /// trying to join again (`attempt` of `max_attempts`).
    Reconnecting {
        reason: Reason,
        attempt: u32,
        max_attempts: u32,
    },
    /// The client's own: joined again after [`SessionEvent::Reconnecting`], as a new
    /// connection; the session as it is now.
    Reconnected {
        connection: Connection,
        connection_count: usize,
        streams: Vec<Stream>,
    },
}

/// Why a connection, a stream or a session ended, or a stream's path changed. Each is a
/// camelCase word on every wire (`docs/protocol.md`); one this build does not know (from
/// another server, or a newer one) is kept as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The client left (or its socket closed).
    ClientDisconnected,
    /// A moderator forced the connection out.
    ForceDisconnected,
    /// The connection was lost (signaling or media).
    NetworkDisconnected,
    /// The server is shutting down.
    ServerShutdown,
    /// The publisher stopped the stream.
    Unpublished,
    /// A moderator stopped the stream.
    ForceUnpublished,
    /// The stream's media stopped arriving.
    MediaStopped,
    /// Janus destroyed the room.
    RoomDestroyed,
    /// Janus timed the session out (no keepalives arrived).
    SessionTimeout,
    /// A WHIP/WHEP resource is gone.
    ResourceGone,
    /// A direct path never brought media.
    DirectFailed,
    /// A direct path stopped bringing media.
    DirectLost,
    /// A subscriber that cannot have a direct stream directly (it is not one of the two
    /// clients with media) made the stream go through the server.
    RoutedSubscriber,
    /// The same for a WHEP subscriber.
    WhepSubscriber,
    /// A media connection did not come up (ICE or DTLS did not complete): the client joins
    /// again to set it up anew.
    SetupFailed,
    /// A reason this build does not know, as it came.
    Other(String),
}

impl Reason {
    /// The word every wire carries.
    pub fn as_str(&self) -> &str {
        match self {
            Reason::ClientDisconnected => "clientDisconnected",
            Reason::ForceDisconnected => "forceDisconnected",
            Reason::NetworkDisconnected => "networkDisconnected",
            Reason::ServerShutdown => "serverShutdown",
            Reason::Unpublished => "unpublished",
            Reason::ForceUnpublished => "forceUnpublished",
            Reason::MediaStopped => "mediaStopped",
            Reason::RoomDestroyed => "roomDestroyed",
            Reason::SessionTimeout => "sessionTimeout",
            Reason::ResourceGone => "resourceGone",
            Reason::DirectFailed => "directFailed",
            Reason::DirectLost => "directLost",
            Reason::RoutedSubscriber => "routedSubscriber",
            Reason::WhepSubscriber => "whepSubscriber",
            Reason::SetupFailed => "setupFailed",
            Reason::Other(word) => word,
        }
    }

    /// Every reason this build knows, for tests and documentation.
    #[cfg(test)]
    pub const KNOWN: [Reason; 15] = [
        Reason::ClientDisconnected,
        Reason::ForceDisconnected,
        Reason::NetworkDisconnected,
        Reason::ServerShutdown,
        Reason::Unpublished,
        Reason::ForceUnpublished,
        Reason::MediaStopped,
        Reason::RoomDestroyed,
        Reason::SessionTimeout,
        Reason::ResourceGone,
        Reason::DirectFailed,
        Reason::DirectLost,
        Reason::RoutedSubscriber,
        Reason::WhepSubscriber,
        Reason::SetupFailed,
    ];
}

impl From<&str> for Reason {
    fn from(word: &str) -> Reason {
        match word {
            "clientDisconnected" => Reason::ClientDisconnected,
            "forceDisconnected" => Reason::ForceDisconnected,
            "networkDisconnected" => Reason::NetworkDisconnected,
            "serverShutdown" => Reason::ServerShutdown,
            "unpublished" => Reason::Unpublished,
            "forceUnpublished" => Reason::ForceUnpublished,
            "mediaStopped" => Reason::MediaStopped,
            "roomDestroyed" => Reason::RoomDestroyed,
            "sessionTimeout" => Reason::SessionTimeout,
            "resourceGone" => Reason::ResourceGone,
            "directFailed" => Reason::DirectFailed,
            "directLost" => Reason::DirectLost,
            "routedSubscriber" => Reason::RoutedSubscriber,
            "whepSubscriber" => Reason::WhepSubscriber,
            "setupFailed" => Reason::SetupFailed,
            other => Reason::Other(other.to_owned()),
        }
    }
}

impl From<String> for Reason {
    fn from(word: String) -> Reason {
        Reason::from(word.as_str())
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_from_its_word() {
        for reason in Reason::KNOWN {
            assert_eq!(Reason::from(reason.as_str()), reason);
        }
        let unknown = Reason::from("roomClosedByAdmin");
        assert_eq!(unknown, Reason::Other("roomClosedByAdmin".into()));
        assert_eq!(unknown.to_string(), "roomClosedByAdmin");
    }

    #[test]
    fn a_stream_is_found_again_by_id_or_by_its_owner_name_and_kinds() {
        let camera = Stream {
            id: "TR_1".into(),
            name: "camera".into(),
            has_audio: false,
            has_video: true,
            connection_id: "PA_1".into(),
            created_at: 1,
            path: MediaPath::Routed,
            owner: "alice".into(),
        };
        let again = Stream {
            id: "TR_2".into(),
            connection_id: "PA_2".into(),
            ..camera.clone()
        };
        assert!(camera.is_again(&again));
        let microphone = Stream {
            has_audio: true,
            has_video: false,
            ..again.clone()
        };
        assert!(!camera.is_again(&microphone));
        let bob = Stream {
            owner: "bob".into(),
            ..again.clone()
        };
        assert!(!camera.is_again(&bob));
        // Without an owner only the id says it is the same.
        let anonymous = |id: &str| Stream {
            id: id.into(),
            owner: String::new(),
            ..camera.clone()
        };
        assert!(!anonymous("a").is_again(&anonymous("b")));
        assert!(anonymous("a").is_again(&anonymous("a")));
    }
}
