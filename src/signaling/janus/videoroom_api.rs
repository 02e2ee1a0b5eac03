//! The VideoRoom plugin's messages, typed: the requests vcall sends in a `message`'s `body`,
//! and [`RoomData`], everything the plugin answers or reports in `plugindata.data`, read
//! once where it arrives. The envelope around them is `super::Incoming`'s.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An id in the VideoRoom (a room, a participant, a feed): a number, or a string where the
/// server is configured for string ids. vcall's ids are its text either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum JanusId {
    Number(u64),
    Text(String),
}

impl JanusId {
    /// A room or feed as the user or a stream id names it: a number when it reads as one.
    pub(super) fn parse(id: &str) -> JanusId {
        id.parse()
            .map_or_else(|_| JanusId::Text(id.to_owned()), JanusId::Number)
    }

    /// `"ok"`: said of ourselves (`leaving`, `unpublished`), not of another participant.
    pub(super) fn is_ok(&self) -> bool {
        matches!(self, JanusId::Text(t) if t == "ok")
    }
}

impl std::fmt::Display for JanusId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JanusId::Number(n) => write!(f, "{n}"),
            JanusId::Text(t) => f.write_str(t),
        }
    }
}

/// What vcall asks of the plugin.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "request", rename_all = "lowercase")]
pub(super) enum Request {
    /// Join a room as a publisher (the control handle) or a subscriber.
    Join(Join),
    /// Whether a room exists (`RoomData::exists`).
    Exists {
        room: JanusId,
    },
    /// Make a room that takes vcall's codecs.
    Create(Create),
    /// Everyone in the room (`RoomData::participants`).
    ListParticipants {
        room: JanusId,
    },
    /// Publish the offer that goes with the message.
    Publish {
        display: String,
    },
    Unpublish,
    /// Add feeds to the multistream subscriber.
    Subscribe {
        streams: Vec<SubscribeStream>,
    },
    /// Start the subscriber with the answer that goes with the message.
    Start,
    /// On the publisher handle, with a new offer: renegotiate (an ICE restart when the
    /// offer's ICE credentials are new). On the subscriber handle with `restart`: Janus makes
    /// a new offer with new ICE credentials.
    Configure {
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        restart: bool,
        /// On the subscriber handle: what its sections carry.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        streams: Vec<ConfigureStream>,
    },
    Leave,
}

/// A `join`.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Join {
    /// `publisher` or `subscriber`.
    pub ptype: &'static str,
    pub room: JanusId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// A subscriber's link to its publisher handle (the room then counts it as one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_id: Option<u64>,
    /// A subscriber's first feeds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<SubscribeStream>,
}

/// A `create`.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Create {
    pub room: JanusId,
    pub description: &'static str,
    /// How many may publish at once.
    pub publishers: u32,
    pub videocodec: &'static str,
    pub audiocodec: &'static str,
    /// Tell everyone when someone joins, not only when they publish.
    pub notify_joining: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
}

/// One feed (or one of its sections, by `mid`) for the subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct SubscribeStream {
    pub feed: JanusId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mid: Option<String>,
}

/// One of the subscriber's sections in a `configure`: which substream of a simulcast feed
/// it carries (0 the lowest, 2 the highest; Janus falls back to the nearest it has).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct ConfigureStream {
    pub mid: String,
    pub substream: u8,
}

/// Everything the plugin answers or reports in `plugindata.data`; which fields are there
/// says what it is. A field this build does not know is ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RoomData {
    /// What it is: `joined`, `event`, `participants`, `destroyed`, `attached`, `updated`, …
    pub videoroom: Option<String>,
    /// `joined`: our participant id (and our feed's, once we publish).
    pub id: Option<JanusId>,
    /// `joined`: what a subscriber joins with to be counted as ours.
    pub private_id: Option<u64>,
    /// `joined`, `event`: the feeds published (in an event, the new ones).
    pub publishers: Vec<Publisher>,
    /// `participants`: everyone in the room.
    pub participants: Vec<Participant>,
    /// `event`: someone joined (the room notifies joins).
    pub joining: Option<Participant>,
    /// `event`: a feed stopped (`ok`: ours).
    pub unpublished: Option<JanusId>,
    /// `event`: someone left (`ok`: we did), and why (`kicked`).
    pub leaving: Option<JanusId>,
    pub reason: Option<String>,
    /// `event`: someone was kicked.
    pub kicked: Option<JanusId>,
    /// The answer to `exists`.
    pub exists: Option<bool>,
    /// A subscriber's `attached`/`updated`: its sections and the feeds they carry.
    pub streams: Vec<SubscriberSection>,
    /// A subscriber's `event`: the substream a simulcast section (`mid`) now carries.
    pub substream: Option<u8>,
    pub mid: Option<String>,
}

impl RoomData {
    /// Reads `data`; what does not have the plugin's shape reads as nothing (and is logged).
    pub(super) fn read(data: &Value) -> RoomData {
        RoomData::deserialize(data).unwrap_or_else(|e| {
            tracing::debug!("unreadable VideoRoom data ({e}): {data}");
            RoomData::default()
        })
    }
}

/// A published feed.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Publisher {
    pub id: JanusId,
    #[serde(default)]
    pub display: Option<String>,
    #[serde(default)]
    pub streams: Vec<PublishedSection>,
}

/// One section of a published feed.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct PublishedSection {
    /// `audio`, `video` or `data`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub mid: Option<String>,
    #[serde(default)]
    pub disabled: bool,
}

/// A participant.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Participant {
    pub id: JanusId,
    #[serde(default)]
    pub display: Option<String>,
}

/// One section of the subscriber's connection.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct SubscriberSection {
    #[serde(default)]
    pub mid: Option<String>,
    #[serde(default)]
    pub feed_id: Option<JanusId>,
    /// `false` once its feed is gone (Janus keeps the section for the next feed).
    #[serde(default = "active")]
    pub active: bool,
}

fn active() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_are_written_as_the_plugin_reads_them() {
        let join = Request::Join(Join {
            ptype: "subscriber",
            room: JanusId::parse("1234"),
            display: None,
            pin: Some("p".into()),
            private_id: Some(9),
            streams: vec![SubscribeStream {
                feed: JanusId::parse("feed-a"),
                mid: Some("1".into()),
            }],
        });
        assert_eq!(
            serde_json::to_value(&join).unwrap(),
            json!({ "request": "join", "ptype": "subscriber", "room": 1234, "pin": "p",
                    "private_id": 9, "streams": [{ "feed": "feed-a", "mid": "1" }] })
        );
        assert_eq!(
            serde_json::to_value(Request::ListParticipants {
                room: JanusId::parse("7")
            })
            .unwrap(),
            json!({ "request": "listparticipants", "room": 7 })
        );
        assert_eq!(
            serde_json::to_value(Request::Start).unwrap(),
            json!({ "request": "start" })
        );
    }

    #[test]
    fn room_data_reads_numbers_strings_and_ok() {
        let d = RoomData::read(&json!({
            "videoroom": "event", "leaving": "ok", "reason": "kicked",
            "publishers": [{ "id": "abc", "streams": [{ "type": "video", "mid": "1" }] }],
        }));
        assert!(d.leaving.as_ref().is_some_and(JanusId::is_ok));
        assert_eq!(d.publishers[0].id.to_string(), "abc");
        assert_eq!(d.publishers[0].streams[0].kind.as_deref(), Some("video"));
        let d = RoomData::read(
            &json!({ "unpublished": 42, "streams": [{ "mid": "0", "feed_id": 42 }] }),
        );
        assert_eq!(d.unpublished, Some(JanusId::Number(42)));
        assert!(
            d.streams[0].active,
            "a section is active unless said otherwise"
        );
        // Not the plugin's shape: nothing, not a failure.
        assert!(
            RoomData::read(&json!({ "publishers": 5 }))
                .publishers
                .is_empty()
        );
        assert!(RoomData::read(&json!("text")).videoroom.is_none());
    }
}
