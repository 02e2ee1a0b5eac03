//! LiveKit's signaling as a vcall session (`--url livekit+ws://…`, a LiveKit access token):
//! the room is the session, each participant a connection (its sid, `PA_…`), each published
//! track a stream of one kind (its sid, `TR_…`). LiveKit's `/rtc` WebSocket carries protobuf
//! `SignalRequest`s and `SignalResponse`s (the types of the `livekit-protocol` crate).
//!
//! LiveKit gives a participant two peer connections. On the publisher connection (the
//! command's own) the client offers: `add_track` for each track, `track_published` back, then
//! the offer and the server's answer. On the subscriber connection the server offers: the
//! client asks for a track (`subscription`) and answers the offer that brings it, with the
//! [`Answerer`] of the connection that receives. Pings go at the interval the server gives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use livekit_protocol as lk;
use prost::Message as _;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::{self, Message};

use super::server_url::ServerUrl;
use super::{Answerer, AskedToJoinAgain, JoinAgain, Retries, SignalingError, rejoin};
use crate::session::{
    Connection, Layer, LayerWish, MediaPath, Reason, SessionEvent, Stream, StreamId, now_ms,
};

/// How long the server has to answer `add_track` and an offer, and to offer a track asked for.
const REPLY_LIMIT: Duration = Duration::from_secs(15);

/// What joining needs.
#[derive(Clone)]
pub struct Options {
    pub url: ServerUrl,
    pub token: String,
    pub timeout: Duration,
    /// Joining again after the connection drops (a full rejoin: new connections, new
    /// sids).
    pub retries: Retries,
    /// Which layer of a simulcast track subscriptions ask for (`UpdateTrackSettings`'s
    /// quality, or with a maximum size its width and height, which the server prefers).
    pub layer: LayerWish,
}

/// A joined LiveKit room.
pub struct LiveKitClient {
    out: mpsc::UnboundedSender<lk::signal_request::Message>,
    shared: Arc<Mutex<Shared>>,
    can_publish: bool,
    /// True once the socket's task has ended (its `leave` sent).
    ended: tokio::sync::watch::Receiver<bool>,
    /// Wakes the socket's task to join again now (a subscriber connection whose media
    /// path broke: its restarts are the server's to offer).
    join_again: JoinAgain,
    /// What `UpdateTrackSettings` asks of each subscribed track.
    layer: LayerWish,
}

/// LiveKit's quality for `--layer`: the most the server may forward (`auto` and `high`
/// alike: the best the path carries, up to the largest layer).
fn quality_of(layer: Layer) -> lk::VideoQuality {
    match layer {
        Layer::Auto | Layer::High => lk::VideoQuality::High,
        Layer::Mid => lk::VideoQuality::Medium,
        Layer::Low => lk::VideoQuality::Low,
    }
}

/// A candidate the server trickled: an `a=candidate:` value, its section, and whether it is
/// the server's last.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub candidate: String,
    pub mid: Option<String>,
    pub last: bool,
}

/// Which of a participant's two connections.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    Publisher = 0,
    Subscriber = 1,
}

impl Shared {
    fn take_trickled(&mut self, target: Target) -> Option<mpsc::UnboundedReceiver<Candidate>> {
        self.candidates[target as usize].take()
    }

    /// Back in its place, unless a join since made another.
    fn keep_trickled(&mut self, target: Target, candidates: mpsc::UnboundedReceiver<Candidate>) {
        let slot = &mut self.candidates[target as usize];
        if slot.is_none() && !candidates.is_closed() {
            *slot = Some(candidates);
        }
    }
}

/// What the socket task and the requests share; all but the token and the offer count is
/// of one join (a rejoin starts it afresh).
#[derive(Default)]
struct Shared {
    /// The newest token: the server's `refresh_token`s replace the one joined with.
    token: String,
    /// Where trickled candidates go, per [`Target`].
    trickled: Vec<mpsc::UnboundedSender<Candidate>>,
    /// The candidates the server trickles for the publisher and the subscriber connection,
    /// until the connection that takes them is there.
    candidates: [Option<mpsc::UnboundedReceiver<Candidate>>; 2],
    me: String,
    /// Its own tracks, as last heard.
    mine: Vec<Stream>,
    /// Everyone else, by sid, as last heard.
    participants: HashMap<String, lk::ParticipantInfo>,
    /// `add_track`s waiting for `track_published`, by cid.
    published: HashMap<String, oneshot::Sender<lk::TrackInfo>>,
    /// The offer of the publisher connection waiting for its answer: its id, and the waiter.
    answer: Option<(u32, oneshot::Sender<String>)>,
    next_offer: u32,
    /// Answers the server's offers on the subscriber connection, once there is one.
    answerer: Option<Answerer>,
    /// Offers that came before there was an answerer.
    unanswered: Vec<lk::SessionDescription>,
    /// The section each track arrives in on the subscriber connection (track sid → mid).
    mids: HashMap<String, String>,
    mid_waiters: Vec<(String, oneshot::Sender<String>)>,
}

/// A joined room: the client, `sessionConnected`, and the events after it.
type Joined = (
    LiveKitClient,
    SessionEvent,
    mpsc::UnboundedReceiver<SessionEvent>,
);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn connection(p: &lk::ParticipantInfo) -> Connection {
    Connection {
        id: p.sid.clone().into(),
        data: p.metadata.clone(),
        client_data: if p.name.is_empty() || p.name == p.identity {
            p.identity.clone()
        } else {
            format!("{} ({})", p.identity, p.name)
        },
        created_at: u64::try_from(p.joined_at_ms).unwrap_or_default(),
    }
}

/// A participant's tracks as streams of one kind each, video first (a command that records
/// one stream, named by a name its audio shares, records the picture).
fn streams(p: &lk::ParticipantInfo) -> Vec<Stream> {
    let mut tracks: Vec<&lk::TrackInfo> = p.tracks.iter().collect();
    tracks.sort_by_key(|t| t.r#type() != lk::TrackType::Video);
    tracks
        .into_iter()
        .filter_map(|t| {
            let (audio, video) = match t.r#type() {
                lk::TrackType::Audio => (true, false),
                lk::TrackType::Video => (false, true),
                lk::TrackType::Data => return None,
            };
            Some(Stream {
                id: t.sid.clone().into(),
                name: if t.name.is_empty() {
                    t.sid.clone()
                } else {
                    t.name.clone()
                },
                has_audio: audio,
                has_video: video,
                connection_id: p.sid.clone().into(),
                created_at: now_ms(),
                path: MediaPath::Routed,
                owner: p.identity.clone(),
            })
        })
        .collect()
}

/// The error an HTTP refusal of the upgrade means, with the server's reason.
fn refused(url: &ServerUrl, status: u16, body: &str) -> SignalingError {
    let why = if body.trim().is_empty() {
        format!("HTTP {status}")
    } else {
        body.trim().to_owned()
    };
    match status {
        401 => SignalingError::Auth(why),
        403 => SignalingError::Forbidden(why),
        404 => SignalingError::NotFound(format!("{url}: {why}")),
        429 | 503 => SignalingError::Busy(why),
        400..=499 => SignalingError::Refused(why),
        _ => SignalingError::Server(why),
    }
}

impl Shared {
    /// The socket is gone: requests waiting for its replies get none (their waiters hear
    /// that the connection closed, at once).
    fn give_up(&mut self) {
        self.published.clear();
        self.answer = None;
        self.mid_waiters.clear();
    }

    /// Starts afresh for the join `join` (the first, or one after the connection dropped):
    /// its participants, new candidate channels; waiters of the one before give up.
    /// Returns `sessionConnected` for it.
    fn joined(&mut self, join: &lk::JoinResponse) -> Result<SessionEvent, SignalingError> {
        let me = join
            .participant
            .as_ref()
            .ok_or_else(|| SignalingError::protocol("the join response names no participant"))?;
        let (pub_tx, pub_rx) = mpsc::unbounded_channel();
        let (sub_tx, sub_rx) = mpsc::unbounded_channel();
        *self = Shared {
            token: std::mem::take(&mut self.token),
            next_offer: self.next_offer.max(1),
            me: me.sid.clone(),
            trickled: vec![pub_tx, sub_tx],
            candidates: [Some(pub_rx), Some(sub_rx)],
            ..Default::default()
        };
        let mut connections = vec![connection(me)];
        let mut all_streams = Vec::new();
        for p in &join.other_participants {
            connections.push(connection(p));
            all_streams.extend(streams(p));
            self.participants.insert(p.sid.clone(), p.clone());
        }
        Ok(SessionEvent::SessionConnected {
            session_id: join
                .room
                .as_ref()
                .map(|r| r.name.clone())
                .unwrap_or_default()
                .into(),
            connection: connection(me),
            connection_count: connections.len(),
            connections,
            streams: all_streams,
            p2p: false,
        })
    }
}

/// Opens `/rtc` with `token` and waits for the join response.
async fn open(opts: &Options, token: &str) -> Result<(Socket, lk::JoinResponse), SignalingError> {
    let url = &opts.url;
    let ws_url = format!(
        "{}/rtc?access_token={}&auto_subscribe=0&adaptive_stream=0&sdk=vcall&version={}&protocol=17",
        url.base(),
        token.trim(),
        env!("CARGO_PKG_VERSION")
    );
    let timeout = opts.timeout;
    let (mut ws, _) = tokio::time::timeout(timeout, tokio_tungstenite::connect_async(&ws_url))
        .await
        .map_err(|_| SignalingError::unreachable(format!("{url}: no answer within {timeout:?}")))?
        .map_err(|e| match e {
            tungstenite::Error::Http(r) => {
                let body =
                    String::from_utf8_lossy(r.body().as_deref().unwrap_or_default()).into_owned();
                refused(url, r.status().as_u16(), &body)
            }
            e => SignalingError::unreachable_by(url.to_string(), e),
        })?;
    let join = tokio::time::timeout(timeout, first_join(&mut ws))
        .await
        .map_err(|_| {
            SignalingError::Timeout(format!("{url}: no join response within {timeout:?}"))
        })??;
    Ok((ws, join))
}

/// The ping interval and timeout a join response gives (LiveKit's defaults, 5 s and 15 s,
/// where it gives none).
fn ping_of(join: &lk::JoinResponse) -> (Duration, Duration) {
    let secs = |s: i32, default: u64| {
        Duration::from_secs(u64::try_from(s).ok().filter(|s| *s > 0).unwrap_or(default))
    };
    (secs(join.ping_interval, 5), secs(join.ping_timeout, 15))
}

impl LiveKitClient {
    /// Joins the room the token names and reports it as `sessionConnected`. When the
    /// connection drops later (or the server asks for a reconnect), the client joins again
    /// as `opts.retries` allows — a full rejoin, the only kind `vcall serve` offers — and
    /// says so with `reconnecting` and `reconnected`.
    pub async fn connect(opts: &Options) -> Result<Joined, SignalingError> {
        if opts.token.trim().is_empty() {
            return Err(SignalingError::usage(
                "LiveKit needs an access token: --token (vcall token create --livekit makes one)",
            ));
        }
        let (ws, join) = open(opts, &opts.token).await?;
        let can_publish = join
            .participant
            .as_ref()
            .and_then(|p| p.permission.as_ref())
            .is_some_and(|p| p.can_publish);
        let mut shared = Shared {
            token: opts.token.clone(),
            ..Default::default()
        };
        let first = shared.joined(&join)?;
        let shared = Arc::new(Mutex::new(shared));
        let (out, out_rx) = mpsc::unbounded_channel();
        let (events, events_rx) = mpsc::unbounded_channel();
        let (ended_tx, ended) = tokio::sync::watch::channel(false);
        let (join_again, asked) = JoinAgain::new();
        let task = run(
            ws,
            ping_of(&join),
            opts.clone(),
            (out_rx, out.clone()),
            Arc::clone(&shared),
            events,
            asked,
        );
        tokio::spawn(async move {
            task.await;
            let _ = ended_tx.send(true);
        });
        let client = LiveKitClient {
            out,
            shared,
            can_publish,
            ended,
            join_again,
            layer: opts.layer,
        };
        Ok((client, first, events_rx))
    }

    /// Leaves and joins the room again now, as when the connection drops: LiveKit's SDKs
    /// recover a subscriber connection whose media path broke so (the server offers that
    /// connection, its ICE restarts too; vcall serve and vcall do not resume in place).
    /// While a rejoin is under way, nothing more happens.
    pub fn join_again(&self, reason: Reason) {
        self.join_again.ask(reason);
    }

    /// Publishes the tracks of `offer` (its sections' `msid` track ids are the tracks' cids):
    /// `add_track` for each, then the offer. Returns the first track's sid (the stream vcall
    /// reports) and the server's answer.
    pub async fn publish(
        &self,
        name: &str,
        (audio, video): (bool, bool),
        offer: String,
    ) -> Result<(StreamId, String), SignalingError> {
        if !self.can_publish {
            return Err(SignalingError::Forbidden(
                "the token does not allow publishing (canPublish)".into(),
            ));
        }
        let mut first = None;
        for (kind, wanted) in [(lk::TrackType::Video, video), (lk::TrackType::Audio, audio)] {
            if !wanted {
                continue;
            }
            let media = if kind == lk::TrackType::Video {
                "video"
            } else {
                "audio"
            };
            let cid = offered_track_id(&offer, media).ok_or_else(|| {
                SignalingError::protocol(format!("the offer has no {media} track to publish"))
            })?;
            let (tx, rx) = oneshot::channel();
            self.shared
                .lock()
                .expect("shared lock")
                .published
                .insert(cid.clone(), tx);
            let source = if kind == lk::TrackType::Video {
                lk::TrackSource::Camera
            } else {
                lk::TrackSource::Microphone
            };
            self.send(lk::signal_request::Message::AddTrack(lk::AddTrackRequest {
                cid: cid.clone(),
                name: name.to_owned(),
                r#type: kind as i32,
                source: source as i32,
                ..Default::default()
            }))?;
            let info = tokio::time::timeout(REPLY_LIMIT, rx)
                .await
                .map_err(|_| {
                    SignalingError::Timeout(format!(
                        "the server did not accept the {media} track within {REPLY_LIMIT:?}"
                    ))
                })?
                .map_err(|_| SignalingError::lost("the signaling connection closed"))?;
            tracing::info!(track = %info.sid, %cid, "LiveKit track accepted");
            first.get_or_insert(info.sid);
        }
        let answer = self.exchange(offer).await?;
        let stream = first.unwrap_or_default();
        Ok((stream.into(), answer))
    }

    /// Restarts ICE on the publisher connection: its new offer, answered by the server.
    /// (The subscriber connection's restarts are the server's to make.)
    pub async fn restart_ice(&self, offer: String) -> Result<String, SignalingError> {
        self.exchange(offer).await
    }

    /// Sends an offer of the publisher connection; the server's answer.
    async fn exchange(&self, offer: String) -> Result<String, SignalingError> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut s = self.shared.lock().expect("shared lock");
            s.next_offer += 1;
            s.answer = Some((s.next_offer, tx));
            s.next_offer
        };
        self.send(lk::signal_request::Message::Offer(lk::SessionDescription {
            r#type: "offer".into(),
            sdp: offer,
            id,
            ..Default::default()
        }))?;
        let answer = tokio::time::timeout(REPLY_LIMIT, rx)
            .await
            .map_err(|_| {
                SignalingError::Timeout(format!("no answer to the offer within {REPLY_LIMIT:?}"))
            })?
            .map_err(|_| SignalingError::lost("the signaling connection closed"))?;
        Ok(answer)
    }

    /// Subscribes to the track `stream`: the server offers it on the subscriber connection,
    /// which `answer` answers. Returns the `mid` it comes in.
    pub async fn subscribe(
        &self,
        stream: &StreamId,
        answer: Answerer,
    ) -> Result<Vec<String>, SignalingError> {
        let (tx, rx) = oneshot::channel();
        let waiting = {
            let mut s = self.shared.lock().expect("shared lock");
            if s.answerer.is_none() {
                s.answerer = Some(answer);
            }
            match s.mids.get(stream.as_str()) {
                Some(mid) => {
                    let _ = tx.send(mid.clone());
                }
                None => s.mid_waiters.push((stream.to_string(), tx)),
            }
            std::mem::take(&mut s.unanswered)
        };
        for offer in waiting {
            answer_offer(Arc::clone(&self.shared), self.out.clone(), offer);
        }
        self.send(lk::signal_request::Message::Subscription(
            lk::UpdateSubscription {
                track_sids: vec![stream.to_string()],
                subscribe: true,
                ..Default::default()
            },
        ))?;
        // From a simulcast publisher, the layer asked for: LiveKit's quality is the most the
        // server forwards, within what this connection's estimate allows.
        self.send(lk::signal_request::Message::TrackSetting(
            lk::UpdateTrackSettings {
                track_sids: vec![stream.to_string()],
                disabled: false,
                quality: quality_of(self.layer.layer) as i32,
                width: self.layer.max_size.map_or(0, |s| s.0),
                height: self.layer.max_size.map_or(0, |s| s.1),
                ..Default::default()
            },
        ))?;
        let mid = tokio::time::timeout(REPLY_LIMIT, rx)
            .await
            .map_err(|_| {
                SignalingError::Timeout(format!(
                    "the server did not offer track {stream} within {REPLY_LIMIT:?}"
                ))
            })?
            .map_err(|_| SignalingError::lost("the signaling connection closed"))?;
        Ok(vec![mid])
    }

    /// The candidates the server trickles for `target`'s connection (`None` while another
    /// exchange has them).
    pub fn trickled(&self, target: Target) -> Option<mpsc::UnboundedReceiver<Candidate>> {
        self.shared
            .lock()
            .expect("shared lock")
            .take_trickled(target)
    }

    /// Gives back what [`LiveKitClient::trickled`] lent, for the next exchange (a publisher's
    /// ICE restart is trickled on the same channel).
    pub fn keep_trickled(&self, target: Target, candidates: mpsc::UnboundedReceiver<Candidate>) {
        self.shared
            .lock()
            .expect("shared lock")
            .keep_trickled(target, candidates);
    }

    /// Leaves the room.
    pub async fn disconnect(&self) {
        let _ = self.send(lk::signal_request::Message::Leave(lk::LeaveRequest {
            action: lk::leave_request::Action::Disconnect as i32,
            reason: lk::DisconnectReason::ClientInitiated as i32,
            ..Default::default()
        }));
        // The socket's task sends it and closes the socket.
        let mut ended = self.ended.clone();
        let _ = tokio::time::timeout(Duration::from_secs(1), ended.wait_for(|e| *e)).await;
    }

    fn send(&self, msg: lk::signal_request::Message) -> Result<(), SignalingError> {
        self.out
            .send(msg)
            .map_err(|_| SignalingError::lost("the signaling connection closed"))
    }
}

/// The track id (`a=msid:<stream> <track>`) of the offer's first sending section of `media`.
fn offered_track_id(sdp: &str, media: &str) -> Option<String> {
    sdp.split("\nm=").skip(1).find_map(|section| {
        if !section.starts_with(media)
            || section
                .lines()
                .any(|l| matches!(l.trim(), "a=recvonly" | "a=inactive"))
        {
            return None;
        }
        section.lines().find_map(|l| {
            let v = l.trim().strip_prefix("a=msid:")?;
            v.split_whitespace().nth(1).map(str::to_owned)
        })
    })
}

/// The sections of an offer by the track they carry: (track id of `msid`, mid).
fn offered_mids(sdp: &str) -> Vec<(String, String)> {
    sdp.split("\nm=")
        .skip(1)
        .filter_map(|section| {
            let mut track = None;
            let mut mid = None;
            for l in section.lines().map(str::trim) {
                if let Some(v) = l.strip_prefix("a=msid:") {
                    track = v.split_whitespace().nth(1).map(str::to_owned);
                } else if let Some(v) = l.strip_prefix("a=mid:") {
                    mid = Some(v.to_owned());
                }
            }
            Some((track?, mid?))
        })
        .collect()
}

/// The first message must be the join response; a `leave` instead is a refusal.
async fn first_join(ws: &mut Socket) -> Result<lk::JoinResponse, SignalingError> {
    while let Some(frame) = ws.next().await {
        let data = match frame {
            Ok(Message::Binary(b)) => b,
            Ok(Message::Close(c)) => {
                let why = c.map(|c| c.reason.to_string()).unwrap_or_default();
                return Err(SignalingError::lost(format!(
                    "the server closed the connection before joining {why}"
                )));
            }
            Ok(_) => continue,
            Err(e) => return Err(SignalingError::lost_by("waiting for the join response", e)),
        };
        let resp = lk::SignalResponse::decode(data)
            .map_err(|e| SignalingError::protocol_by("an unreadable SignalResponse", e))?;
        match resp.message {
            Some(lk::signal_response::Message::Join(j)) => return Ok(j),
            Some(lk::signal_response::Message::Leave(l)) => {
                return Err(SignalingError::Refused(format!(
                    "the server asked to leave before joining ({:?})",
                    l.reason()
                )));
            }
            _ => continue,
        }
    }
    Err(SignalingError::lost(
        "the server closed the connection before joining",
    ))
}

/// Answers a server offer on the subscriber connection (in the background) and notes the
/// sections its tracks come in.
fn answer_offer(
    shared: Arc<Mutex<Shared>>,
    out: mpsc::UnboundedSender<lk::signal_request::Message>,
    offer: lk::SessionDescription,
) {
    let answerer = shared.lock().expect("shared lock").answerer.clone();
    let Some(answerer) = answerer else {
        shared.lock().expect("shared lock").unanswered.push(offer);
        return;
    };
    tokio::spawn(async move {
        match answerer(offer.sdp.clone()).await {
            Ok(sdp) => {
                let _ = out.send(lk::signal_request::Message::Answer(
                    lk::SessionDescription {
                        r#type: "answer".into(),
                        sdp,
                        id: offer.id,
                        ..Default::default()
                    },
                ));
                let mut s = shared.lock().expect("shared lock");
                for (track, mid) in offered_mids(&offer.sdp) {
                    s.mids.insert(track, mid);
                }
                let waiters = std::mem::take(&mut s.mid_waiters);
                for (track, tx) in waiters {
                    match s.mids.get(&track) {
                        Some(mid) => {
                            let _ = tx.send(mid.clone());
                        }
                        None => s.mid_waiters.push((track, tx)),
                    }
                }
            }
            Err(e) => tracing::warn!("the server's subscriber offer could not be answered: {e}"),
        }
    });
}

/// How one socket's life ended.
enum Ended {
    /// The client left (or went away).
    Left,
    /// The server ended the session for good.
    Final(Reason),
    /// The connection dropped, or the server asked for a reconnect: worth joining again.
    Lost(Reason),
}

/// The socket's task: serves each socket in turn, joining again when one is lost.
async fn run(
    mut ws: Socket,
    mut ping: (Duration, Duration),
    opts: Options,
    (mut out, out_tx): (
        mpsc::UnboundedReceiver<lk::signal_request::Message>,
        mpsc::UnboundedSender<lk::signal_request::Message>,
    ),
    shared: Arc<Mutex<Shared>>,
    events: mpsc::UnboundedSender<SessionEvent>,
    mut join_again: AskedToJoinAgain,
) {
    // The sender this task holds answers offers; the client's own going away ends the task.
    let out_tx = out_tx.downgrade();
    loop {
        let ended = tokio::select! {
            ended = serve(&mut ws, &mut out, &out_tx, &shared, &events, ping) => ended,
            reason = join_again.asked() => {
                let leave = lk::SignalRequest {
                    message: Some(lk::signal_request::Message::Leave(lk::LeaveRequest {
                        action: lk::leave_request::Action::Reconnect as i32,
                        reason: lk::DisconnectReason::ClientInitiated as i32,
                        ..Default::default()
                    })),
                };
                let _ = ws.send(Message::Binary(leave.encode_to_vec().into())).await;
                Ended::Lost(reason)
            }
        };
        let _ = ws.close(None).await;
        shared.lock().expect("shared lock").give_up();
        let reason = match ended {
            Ended::Left => return,
            Ended::Final(reason) => {
                let _ = events.send(SessionEvent::SessionDisconnected { reason });
                return;
            }
            Ended::Lost(reason) => reason,
        };
        let again = rejoin(
            opts.retries,
            &mut out,
            |m| matches!(m, lk::signal_request::Message::Leave(_)),
            |m| tracing::debug!("not sent while joining again: {m:?}"),
            &events,
            reason,
            || async {
                let token = shared.lock().expect("shared lock").token.clone();
                let (ws, join) = open(&opts, &token).await?;
                let connected = shared.lock().expect("shared lock").joined(&join)?;
                Ok(((ws, ping_of(&join)), connected))
            },
        )
        .await;
        match again {
            Some((again, timing)) => (ws, ping) = (again, timing),
            None => return,
        }
        join_again.forget();
    }
}

/// Serves one socket: requests out, responses in (turned into session events), pings.
async fn serve(
    ws: &mut Socket,
    out: &mut mpsc::UnboundedReceiver<lk::signal_request::Message>,
    out_tx: &mpsc::WeakUnboundedSender<lk::signal_request::Message>,
    shared: &Arc<Mutex<Shared>>,
    events: &mpsc::UnboundedSender<SessionEvent>,
    (every, limit): (Duration, Duration),
) -> Ended {
    let mut ping = tokio::time::interval(every);
    let mut last_heard = tokio::time::Instant::now();
    loop {
        tokio::select! {
            msg = out.recv() => {
                let Some(msg) = msg else { return Ended::Left };
                let leaving = matches!(msg, lk::signal_request::Message::Leave(_));
                let req = lk::SignalRequest { message: Some(msg) };
                let sent = ws.send(Message::Binary(req.encode_to_vec().into())).await;
                // A goodbye ends it, said or not: a socket that fails then is not rejoined.
                if leaving {
                    return Ended::Left;
                }
                if sent.is_err() {
                    return Ended::Lost(Reason::NetworkDisconnected);
                }
            }
            frame = ws.next() => {
                let data = match frame {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        return Ended::Lost(Reason::NetworkDisconnected);
                    }
                    Some(Ok(_)) => continue,
                };
                last_heard = tokio::time::Instant::now();
                let Ok(resp) = lk::SignalResponse::decode(data) else {
                    tracing::debug!("an unreadable SignalResponse ignored");
                    continue;
                };
                let Some(msg) = resp.message else { continue };
                if let Some(ended) = response(msg, shared, out_tx, events) {
                    return ended;
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > limit {
                    tracing::warn!("no message from the LiveKit server within {limit:?}");
                    return Ended::Lost(Reason::NetworkDisconnected);
                }
                let req = lk::SignalRequest {
                    message: Some(lk::signal_request::Message::PingReq(lk::Ping {
                        timestamp: now_ms() as i64,
                        rtt: 0,
                    })),
                };
                if ws.send(Message::Binary(req.encode_to_vec().into())).await.is_err() {
                    return Ended::Lost(Reason::NetworkDisconnected);
                }
            }
        }
    }
}

/// One response of the server's; `Some` when the socket's life ends.
fn response(
    msg: lk::signal_response::Message,
    shared: &Arc<Mutex<Shared>>,
    out: &mpsc::WeakUnboundedSender<lk::signal_request::Message>,
    events: &mpsc::UnboundedSender<SessionEvent>,
) -> Option<Ended> {
    use lk::signal_response::Message as Resp;
    match msg {
        Resp::TrackPublished(p) => {
            let waiter = shared.lock().expect("shared lock").published.remove(&p.cid);
            if let (Some(w), Some(track)) = (waiter, p.track) {
                let _ = w.send(track);
            }
        }
        Resp::Answer(a) => {
            let mut s = shared.lock().expect("shared lock");
            // The answer to the offer waiting (one to an older offer, from before a rejoin,
            // answers nothing).
            if s.answer.as_ref().is_some_and(|(id, _)| *id == a.id)
                && let Some((_, w)) = s.answer.take()
            {
                let _ = w.send(a.sdp);
            }
        }
        Resp::Offer(o) => {
            if let Some(out) = out.upgrade() {
                answer_offer(Arc::clone(shared), out, o);
            }
        }
        Resp::Update(u) => {
            for event in updated(&mut shared.lock().expect("shared lock"), u.participants) {
                let _ = events.send(event);
            }
        }
        Resp::Trickle(t) => {
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Init {
                candidate: String,
                sdp_mid: Option<String>,
            }
            match serde_json::from_str::<Init>(&t.candidate_init) {
                Ok(init) => {
                    let c = Candidate {
                        candidate: init
                            .candidate
                            .strip_prefix("candidate:")
                            .unwrap_or(&init.candidate)
                            .to_owned(),
                        mid: init.sdp_mid,
                        last: t.r#final,
                    };
                    let target = usize::from(t.target() == lk::SignalTarget::Subscriber);
                    if let Some(tx) = shared.lock().expect("shared lock").trickled.get(target) {
                        let _ = tx.send(c);
                    }
                }
                Err(e) => tracing::debug!("an unreadable trickled candidate ignored: {e}"),
            }
        }
        Resp::Leave(l) => {
            tracing::info!(reason = ?l.reason(), action = ?l.action(), "the LiveKit server asked to leave");
            return Some(left(&l));
        }
        Resp::RefreshToken(token) => {
            tracing::debug!("the LiveKit server refreshed the token");
            shared.lock().expect("shared lock").token = token;
        }
        // Pongs, quality, speakers and the rest: nothing a vcall command acts on.
        other => tracing::trace!("LiveKit response ignored: {other:?}"),
    }
    None
}

/// What the server's `leave` means: join again when it asks for a reconnect (or a resume,
/// which vcall does as a full rejoin) or shuts down; otherwise the session is over.
fn left(l: &lk::LeaveRequest) -> Ended {
    use lk::leave_request::Action;
    let reason = match l.reason() {
        lk::DisconnectReason::ServerShutdown => Reason::ServerShutdown,
        lk::DisconnectReason::ParticipantRemoved => Reason::ForceDisconnected,
        lk::DisconnectReason::RoomDeleted | lk::DisconnectReason::RoomClosed => {
            Reason::RoomDestroyed
        }
        _ => Reason::NetworkDisconnected,
    };
    match l.action() {
        Action::Reconnect | Action::Resume => Ended::Lost(reason),
        Action::Disconnect if reason == Reason::ServerShutdown => Ended::Lost(reason),
        Action::Disconnect => Ended::Final(reason),
    }
}

/// What a participant update changes, as session events.
fn updated(s: &mut Shared, participants: Vec<lk::ParticipantInfo>) -> Vec<SessionEvent> {
    use lk::participant_info::State;
    let mut out = Vec::new();
    for p in participants {
        if p.sid == s.me {
            // Its own tracks come and go as streams (a publisher learns its stream is live);
            // it is no connection of its own.
            let new = streams(&p);
            let old = std::mem::replace(&mut s.mine, new.clone());
            for o in old.iter().filter(|o| !new.iter().any(|n| n.id == o.id)) {
                out.push(SessionEvent::StreamDestroyed {
                    stream: o.clone(),
                    reason: Reason::Unpublished,
                });
            }
            for n in new.iter().filter(|n| !old.iter().any(|o| o.id == n.id)) {
                out.push(SessionEvent::StreamCreated { stream: n.clone() });
            }
            continue;
        }
        let before = s.participants.get(&p.sid);
        if let Some(b) = before
            && b.version > p.version
            && p.version != 0
        {
            continue;
        }
        let old: Vec<Stream> = before.map(streams).unwrap_or_default();
        let gone = p.state() == State::Disconnected;
        let new: Vec<Stream> = if gone { Vec::new() } else { streams(&p) };
        if before.is_none() && !gone {
            out.push(SessionEvent::ConnectionCreated {
                connection: connection(&p),
            });
        }
        for o in &old {
            if !new.iter().any(|n| n.id == o.id) {
                out.push(SessionEvent::StreamDestroyed {
                    stream: o.clone(),
                    reason: if gone {
                        Reason::ClientDisconnected
                    } else {
                        Reason::Unpublished
                    },
                });
            }
        }
        for n in &new {
            if !old.iter().any(|o| o.id == n.id) {
                out.push(SessionEvent::StreamCreated { stream: n.clone() });
            }
        }
        if gone {
            if s.participants.remove(&p.sid).is_some() {
                out.push(SessionEvent::ConnectionDestroyed {
                    connection: connection(&p),
                    reason: Reason::ClientDisconnected,
                });
            }
        } else {
            s.participants.insert(p.sid.clone(), p);
        }
    }
    out
}

/// Who a LiveKit access token admits, and to do what.
pub(crate) struct Grant<'a> {
    pub(crate) room: &'a str,
    pub(crate) identity: &'a str,
    pub(crate) name: Option<&'a str>,
    pub(crate) metadata: Option<&'a str>,
    pub(crate) can_publish: bool,
    pub(crate) can_subscribe: bool,
    pub(crate) ttl: Duration,
}

/// A LiveKit access token (HS256 JWT, the `video` grant naming the room) signed with `key`
/// and `secret`.
pub(crate) fn access_token(key: &str, secret: &str, g: &Grant<'_>) -> Result<String, String> {
    let grants = livekit_api::access_token::VideoGrants {
        room_join: true,
        room: g.room.to_owned(),
        can_publish: Some(g.can_publish),
        can_subscribe: Some(g.can_subscribe),
        can_publish_data: Some(g.can_publish),
        ..Default::default()
    };
    let mut token = livekit_api::access_token::AccessToken::with_api_key(key, secret)
        .with_identity(g.identity)
        .with_ttl(g.ttl.max(Duration::from_secs(1)))
        .with_grants(grants);
    if let Some(name) = g.name {
        token = token.with_name(name);
    }
    if let Some(metadata) = g.metadata {
        token = token.with_metadata(metadata);
    }
    token
        .to_jwt()
        .map_err(|e| format!("cannot make a LiveKit token: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participant(
        sid: &str,
        version: u32,
        tracks: &[(&str, lk::TrackType)],
    ) -> lk::ParticipantInfo {
        lk::ParticipantInfo {
            sid: sid.into(),
            identity: format!("id-{sid}"),
            version,
            state: lk::participant_info::State::Active as i32,
            tracks: tracks
                .iter()
                .map(|(t, k)| lk::TrackInfo {
                    sid: (*t).into(),
                    name: "camera".into(),
                    r#type: *k as i32,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn participant_updates_become_session_events() {
        let mut s = Shared {
            me: "PA_me".into(),
            ..Default::default()
        };
        let e = updated(&mut s, vec![participant("PA_a", 1, &[])]);
        assert!(matches!(&e[..], [SessionEvent::ConnectionCreated { .. }]));
        let e = updated(
            &mut s,
            vec![participant("PA_a", 2, &[("TR_v", lk::TrackType::Video)])],
        );
        let [SessionEvent::StreamCreated { stream }] = &e[..] else {
            panic!("{e:?}")
        };
        assert_eq!((stream.id.as_str(), stream.has_video), ("TR_v", true));
        // An older version changes nothing; our own updates are not events.
        assert!(updated(&mut s, vec![participant("PA_a", 1, &[])]).is_empty());
        assert!(updated(&mut s, vec![participant("PA_me", 9, &[])]).is_empty());
        let e = updated(
            &mut s,
            vec![participant(
                "PA_me",
                10,
                &[("TR_mine", lk::TrackType::Audio)],
            )],
        );
        assert!(
            matches!(&e[..], [SessionEvent::StreamCreated { stream }] if stream.id == "TR_mine"),
            "{e:?}"
        );
        let mut left = participant("PA_a", 3, &[("TR_v", lk::TrackType::Video)]);
        left.state = lk::participant_info::State::Disconnected as i32;
        let e = updated(&mut s, vec![left]);
        assert!(
            matches!(
                &e[..],
                [
                    SessionEvent::StreamDestroyed { .. },
                    SessionEvent::ConnectionDestroyed { .. }
                ]
            ),
            "{e:?}"
        );
    }

    #[test]
    fn offers_name_their_tracks_and_sections() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\n\
                   a=msid:s s-audio\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\n\
                   a=msid:s s-video\r\n";
        assert_eq!(offered_track_id(sdp, "video").as_deref(), Some("s-video"));
        assert_eq!(offered_track_id(sdp, "audio").as_deref(), Some("s-audio"));
        assert_eq!(
            offered_mids(sdp),
            vec![
                ("s-audio".into(), "0".into()),
                ("s-video".into(), "1".into())
            ]
        );
    }

    #[test]
    fn trickled_candidates_go_to_their_connection() {
        let (pub_tx, mut pub_rx) = mpsc::unbounded_channel();
        let (sub_tx, mut sub_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Mutex::new(Shared {
            trickled: vec![pub_tx, sub_tx],
            ..Default::default()
        }));
        let (out, _out_rx) = mpsc::unbounded_channel();
        let (events, _events_rx) = mpsc::unbounded_channel();
        let trickle = |target: lk::SignalTarget, last: bool| {
            lk::signal_response::Message::Trickle(lk::TrickleRequest {
                candidate_init: r#"{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}"#.into(),
                target: target as i32,
                r#final: last,
            })
        };
        let weak = out.downgrade();
        assert!(
            response(
                trickle(lk::SignalTarget::Subscriber, false),
                &shared,
                &weak,
                &events
            )
            .is_none()
        );
        assert!(
            response(
                trickle(lk::SignalTarget::Publisher, true),
                &shared,
                &weak,
                &events
            )
            .is_none()
        );
        let c = sub_rx.try_recv().expect("the subscriber's");
        assert_eq!(c.candidate, "1 1 udp 2130706431 127.0.0.1 5000 typ host");
        assert_eq!((c.mid.as_deref(), c.last), (Some("0"), false));
        assert!(pub_rx.try_recv().expect("the publisher's").last);
        assert!(sub_rx.try_recv().is_err());
    }

    #[test]
    fn the_publishers_candidates_are_there_for_every_exchange() {
        // An ICE restart's candidates come on the channel the first exchange used: lent,
        // given back, lent again with what came meanwhile.
        let (tx, rx) = mpsc::unbounded_channel();
        let mut shared = Shared {
            trickled: vec![tx.clone()],
            candidates: [Some(rx), None],
            ..Default::default()
        };
        let lent = shared.take_trickled(Target::Publisher).expect("lent");
        assert!(
            shared.take_trickled(Target::Publisher).is_none(),
            "lent once at a time"
        );
        shared.keep_trickled(Target::Publisher, lent);
        let candidate = Candidate {
            candidate: "2 1 udp 1 127.0.0.1 6000 typ host".into(),
            mid: Some("0".into()),
            last: true,
        };
        tx.send(candidate).unwrap();
        let mut again = shared.take_trickled(Target::Publisher).expect("given back");
        assert!(again.try_recv().expect("the restart's candidate").last);
        // A channel from before a rejoin does not replace the new join's.
        let (new_tx, new_rx) = mpsc::unbounded_channel::<Candidate>();
        shared.candidates[0] = Some(new_rx);
        shared.keep_trickled(Target::Publisher, again);
        drop(tx);
        new_tx
            .send(Candidate {
                candidate: "3".into(),
                mid: None,
                last: false,
            })
            .unwrap();
        let mut current = shared
            .take_trickled(Target::Publisher)
            .expect("the new join's");
        assert_eq!(current.try_recv().unwrap().candidate, "3");
    }

    #[test]
    fn a_leave_asking_for_a_reconnect_is_joined_again_and_a_disconnect_is_final() {
        use lk::leave_request::Action;
        let leave = |action: Action, reason: lk::DisconnectReason| lk::LeaveRequest {
            action: action as i32,
            reason: reason as i32,
            ..Default::default()
        };
        let again = |e: Ended| matches!(e, Ended::Lost(_));
        assert!(again(left(&leave(
            Action::Reconnect,
            lk::DisconnectReason::ServerShutdown
        ))));
        assert!(again(left(&leave(
            Action::Resume,
            lk::DisconnectReason::SignalClose
        ))));
        // Older servers say "disconnect" when they shut down: joined again all the same.
        assert!(again(left(&leave(
            Action::Disconnect,
            lk::DisconnectReason::ServerShutdown
        ))));
        assert!(matches!(
            left(&leave(
                Action::Disconnect,
                lk::DisconnectReason::ParticipantRemoved
            )),
            Ended::Final(Reason::ForceDisconnected)
        ));
        assert!(matches!(
            left(&leave(
                Action::Disconnect,
                lk::DisconnectReason::RoomDeleted
            )),
            Ended::Final(Reason::RoomDestroyed)
        ));
    }

    #[test]
    fn a_refreshed_token_is_the_one_a_rejoin_uses_and_a_rejoin_starts_afresh() {
        let shared = Arc::new(Mutex::new(Shared {
            token: "first".into(),
            ..Default::default()
        }));
        let (out, _out_rx) = mpsc::unbounded_channel();
        let (events, _events_rx) = mpsc::unbounded_channel();
        let refresh = lk::signal_response::Message::RefreshToken("second".into());
        assert!(response(refresh, &shared, &out.downgrade(), &events).is_none());
        let join = lk::JoinResponse {
            participant: Some(participant("PA_me", 1, &[])),
            other_participants: vec![participant("PA_b", 1, &[("TR_b", lk::TrackType::Video)])],
            ..Default::default()
        };
        let mut s = shared.lock().unwrap();
        s.mids.insert("TR_old".into(), "0".into());
        let SessionEvent::SessionConnected {
            streams,
            connection_count,
            ..
        } = s.joined(&join).unwrap()
        else {
            panic!("sessionConnected")
        };
        assert_eq!(s.token, "second");
        assert!(s.mids.is_empty() && s.answerer.is_none());
        assert!(s.candidates.iter().all(Option::is_some));
        assert_eq!(connection_count, 2);
        assert_eq!(streams[0].owner, "id-PA_b");
    }

    #[test]
    fn refusals_keep_the_servers_reason() {
        let url = ServerUrl::parse("livekit+ws://h:7880").unwrap();
        assert!(matches!(
            refused(&url, 401, "invalid authorization token: expired\n"),
            SignalingError::Auth(m) if m == "invalid authorization token: expired"
        ));
        assert!(matches!(
            refused(&url, 404, "requested room does not exist"),
            SignalingError::NotFound(_)
        ));
        assert!(matches!(refused(&url, 503, ""), SignalingError::Busy(m) if m == "HTTP 503"));
    }
}
