//! Janus's VideoRoom plugin as a vcall session: the room is the session, each participant a
//! connection, each publisher's feed a stream. A "control" handle joins as a publisher (that
//! is how one hears the room's events, and how one publishes); each subscription is a handle
//! of its own, for which Janus makes the offer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::videoroom_api::{
    ConfigureStream, Create, JanusId, Join, Publisher, Request, RoomData, SubscribeStream,
};
use super::{Handle, Incoming, JanusOptions, JanusSession, Jsep, sdp_of};
use crate::session::{Connection, SessionEvent, Stream, StreamId, now_ms};
use crate::signaling::Answerer;
use crate::signaling::SignalingError;

const PLUGIN: &str = "janus.plugin.videoroom";

/// Which room, and who we are in it.
#[derive(Debug, Clone)]
pub struct RoomOptions {
    /// Numeric, or a string where the server uses string ids.
    pub room: String,
    pub pin: Option<String>,
    /// The name others see; `None`: "vcall", and a publisher's stream name once it publishes.
    pub display: Option<String>,
    /// Create the room (H.264 and VP8, Opus) when it does not exist.
    pub create: bool,
    /// Which substream of a simulcast feed subscriptions get (`Auto`: Janus's choice, the
    /// highest).
    pub layer: crate::session::Layer,
}

/// A publisher's feed: the stream others see and the `mid`s of its media.
#[derive(Debug, Clone)]
struct Feed {
    stream: Stream,
    mids: Vec<(String, String)>,
}

fn feed(p: &Publisher) -> Feed {
    let id = p.id.to_string();
    let mids: Vec<(String, String)> = p
        .streams
        .iter()
        .filter(|s| !s.disabled)
        .filter_map(|s| Some((s.kind.clone()?, s.mid.clone()?)))
        .collect();
    let has = |k: &str| mids.iter().any(|(kind, _)| kind == k);
    Feed {
        stream: Stream {
            id: id.as_str().into(),
            name: p.display.clone().unwrap_or_else(|| id.clone()),
            has_audio: has("audio"),
            has_video: has("video"),
            connection_id: id.into(),
            created_at: now_ms(),
            path: crate::session::MediaPath::Routed,
            owner: p.display.clone().unwrap_or_default(),
        },
        mids,
    }
}

fn connection(id: &str, display: &str) -> Connection {
    Connection {
        id: id.into(),
        data: String::new(),
        client_data: display.to_owned(),
        created_at: now_ms(),
    }
}

/// What the event task and the requests share.
#[derive(Default)]
struct Room {
    feeds: HashMap<StreamId, Feed>,
    participants: HashMap<String, Connection>,
}

/// A joined room: the client, `sessionConnected`, and the events after it.
type Joined = (
    VideoRoomClient,
    SessionEvent,
    mpsc::UnboundedReceiver<SessionEvent>,
);

/// A client in a VideoRoom.
pub struct VideoRoomClient {
    session: Arc<JanusSession>,
    control: u64,
    room: JanusId,
    pin: Option<String>,
    display: Option<String>,
    me: String,
    private_id: Option<u64>,
    state: Arc<Mutex<Room>>,
    published: Arc<AtomicBool>,
    /// The one subscriber handle, once something is subscribed.
    subscriber: tokio::sync::Mutex<Option<Subscriber>>,
    /// The substream asked of simulcast feeds (0 the lowest, 2 the highest), if any.
    substream: Option<u8>,
    /// The session's events (`set_up_again` adds its own).
    events: mpsc::UnboundedSender<SessionEvent>,
}

impl VideoRoomClient {
    /// Creates a Janus session, joins the room, and reports it as `sessionConnected`.
    pub async fn connect(
        opts: &JanusOptions,
        room: &RoomOptions,
    ) -> Result<Joined, SignalingError> {
        if room.room.trim().is_empty() {
            return Err(SignalingError::usage(
                "--session must name the VideoRoom room (e.g. 1234)",
            ));
        }
        let session = Arc::new(JanusSession::connect(opts).await?);
        match Self::join(Arc::clone(&session), room).await {
            Ok(joined) => Ok(joined),
            Err(e) => {
                // Leave nothing behind on the server.
                session.destroy().await;
                Err(e)
            }
        }
    }

    async fn join(
        session: Arc<JanusSession>,
        opts: &RoomOptions,
    ) -> Result<Joined, SignalingError> {
        let control = session.attach(PLUGIN).await?;
        let room = JanusId::parse(&opts.room);
        if opts.create {
            create_room(&session, control.id, &room, opts.pin.as_deref()).await?;
        }
        let display = opts.display.clone().unwrap_or_else(|| "vcall".into());
        let join = Request::Join(Join {
            ptype: "publisher",
            room: room.clone(),
            display: Some(display.clone()),
            pin: opts.pin.clone(),
            private_id: None,
            streams: Vec::new(),
        });
        let (answer, _) = session.message(control.id, &join, None).await?;
        let joined = RoomData::read(&answer);
        let (Some("joined"), Some(me)) = (joined.videoroom.as_deref(), &joined.id) else {
            return Err(SignalingError::protocol(format!(
                "unexpected answer to join: {answer}"
            )));
        };
        let me = me.to_string();
        let mut state = Room::default();
        for p in &joined.publishers {
            let f = feed(p);
            state.feeds.insert(f.stream.id.clone(), f);
        }
        // Everyone in the room, publishing or not.
        let list = Request::ListParticipants { room: room.clone() };
        let (list, _) = session.message(control.id, &list, None).await?;
        for p in RoomData::read(&list).participants {
            let id = p.id.to_string();
            let c = connection(&id, p.display.as_deref().unwrap_or_default());
            state.participants.insert(id, c);
        }
        let myself = state
            .participants
            .remove(&me)
            .unwrap_or_else(|| connection(&me, &display));
        let mut connections: Vec<Connection> = state.participants.values().cloned().collect();
        connections.push(myself.clone());
        let first = SessionEvent::SessionConnected {
            session_id: opts.room.clone().into(),
            connection: myself,
            connection_count: connections.len(),
            connections,
            streams: state.feeds.values().map(|f| f.stream.clone()).collect(),
            p2p: false,
        };
        let state = Arc::new(Mutex::new(state));
        let published = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::unbounded_channel();
        let control_id = control.id;
        tokio::spawn(translate(
            control,
            session.gone(),
            me.clone(),
            Arc::clone(&state),
            Arc::clone(&published),
            tx.clone(),
        ));
        let client = VideoRoomClient {
            substream: substream(opts.layer),
            control: control_id,
            session,
            room,
            pin: opts.pin.clone(),
            display: opts.display.clone(),
            me,
            private_id: joined.private_id,
            state,
            published,
            subscriber: tokio::sync::Mutex::new(None),
            events: tx,
        };
        Ok((client, first, rx))
    }

    /// Publishes with `offer`; returns our feed id (the stream id) and Janus's answer.
    pub async fn publish(
        &self,
        name: &str,
        offer: String,
    ) -> Result<(StreamId, String), SignalingError> {
        let display = self.display.clone().unwrap_or_else(|| name.to_owned());
        let (_, jsep) = self
            .session
            .message(
                self.control,
                &Request::Publish { display },
                Some(Jsep::offer(offer)),
            )
            .await?;
        let answer = sdp_of(jsep, "answer")?;
        tracing::trace!("Janus answered:\n{answer}");
        let refused = rejected_media(&answer);
        if !refused.is_empty() {
            let _ = self
                .session
                .message(self.control, &Request::Unpublish, None)
                .await;
            return Err(SignalingError::Refused(format!(
                "Janus refused the {} of this stream: room {} does not take its codec (rooms take \
                 VP8 and Opus unless configured otherwise; --create-room makes rooms that take \
                 H.264 and VP8; vcall offers H.264, VP8 and VP9 unless --video-codec names one or \
                 a media file is sent in its own codec)",
                refused.join(" and "),
                self.room
            )));
        }
        self.published.store(true, Ordering::SeqCst);
        Ok((self.me.clone().into(), answer))
    }

    /// Restarts ICE on our publishing connection: `offer` (with new ICE credentials) goes
    /// with a `configure`; Janus's answer.
    pub async fn restart_publisher(&self, offer: String) -> Result<String, SignalingError> {
        let (_, jsep) = self
            .session
            .message(
                self.control,
                &Request::Configure {
                    restart: false,
                    streams: Vec::new(),
                },
                Some(Jsep::offer(offer)),
            )
            .await?;
        sdp_of(jsep, "answer")
    }

    /// Restarts ICE on the subscriber connection: Janus makes a new offer with new ICE
    /// credentials (`configure` with `restart`), answered as its others are.
    pub async fn restart_subscriber(&self) -> Result<(), SignalingError> {
        let subscriber = self.subscriber.lock().await;
        let Some(sub) = subscriber.as_ref() else {
            return Err(SignalingError::usage("no subscription to restart"));
        };
        let (reply, done) = tokio::sync::oneshot::channel();
        sub.commands
            .send(Command::Restart(reply))
            .map_err(|_| SignalingError::lost("the subscriber handle is gone"))?;
        drop(subscriber);
        tokio::time::timeout(OFFER_WAIT, done)
            .await
            .map_err(|_| {
                SignalingError::Timeout(format!(
                    "Janus made no restart offer within {OFFER_WAIT:?}"
                ))
            })?
            .map_err(|_| SignalingError::lost("the subscriber handle is gone"))?
    }

    pub async fn unpublish(&self) -> Result<(), SignalingError> {
        self.published.store(false, Ordering::SeqCst);
        self.session
            .message(self.control, &Request::Unpublish, None)
            .await
            .map(drop)
    }

    /// Subscribes to a feed over the one subscriber handle (Janus's multistream subscriber):
    /// Janus offers the subscription's sections on the same peer connection as the others,
    /// `answer` answers on it. Returns the `mid`s the feed's media comes in.
    pub async fn subscribe(
        &self,
        stream_id: &StreamId,
        audio: bool,
        video: bool,
        answer: Answerer,
    ) -> Result<Vec<String>, SignalingError> {
        let feed = JanusId::parse(stream_id.as_str());
        let streams: Vec<SubscribeStream> = {
            let state = self.state.lock().expect("room lock");
            match state.feeds.get(stream_id) {
                Some(f) if !(audio && video) => f
                    .mids
                    .iter()
                    .filter(|(kind, _)| (kind == "audio" && audio) || (kind == "video" && video))
                    .map(|(_, mid)| SubscribeStream {
                        feed: feed.clone(),
                        mid: Some(mid.clone()),
                    })
                    .collect(),
                _ => vec![SubscribeStream { feed, mid: None }],
            }
        };
        let mut subscriber = self.subscriber.lock().await;
        if subscriber.is_none() {
            let handle = self.session.attach(PLUGIN).await?;
            let join = Join {
                ptype: "subscriber",
                room: self.room.clone(),
                display: None,
                pin: self.pin.clone(),
                private_id: self.private_id,
                streams: Vec::new(),
            };
            let (tx, rx) = mpsc::unbounded_channel();
            let id = handle.id;
            tokio::spawn(run_subscriber(
                Arc::clone(&self.session),
                handle,
                (answer, self.events.clone()),
                join,
                rx,
            ));
            *subscriber = Some(Subscriber {
                handle: id,
                commands: tx,
            });
        }
        let sub = subscriber.as_ref().expect("subscriber");
        let (reply, mids) = tokio::sync::oneshot::channel();
        let substream = self.substream.filter(|_| video);
        sub.commands
            .send(Command::Add(AddFeed {
                feed: stream_id.to_string(),
                streams,
                reply,
            }))
            .map_err(|_| SignalingError::lost("the subscriber handle is gone"))?;
        let commands = sub.commands.clone();
        drop(subscriber);
        let mids = tokio::time::timeout(OFFER_WAIT, mids)
            .await
            .map_err(|_| {
                SignalingError::Timeout(format!(
                    "Janus made no offer for feed {stream_id} within {OFFER_WAIT:?}"
                ))
            })?
            .map_err(|_| SignalingError::lost("the subscriber handle is gone"))??;
        // The substream asked for, of each of the feed's sections (Janus takes it of video
        // ones, of a feed that sends simulcast).
        if let Some(substream) = substream {
            let streams = mids
                .iter()
                .map(|mid| ConfigureStream {
                    mid: mid.clone(),
                    substream,
                })
                .collect();
            let (reply, done) = tokio::sync::oneshot::channel();
            commands
                .send(Command::Configure(streams, reply))
                .map_err(|_| SignalingError::lost("the subscriber handle is gone"))?;
            done.await
                .map_err(|_| SignalingError::lost("the subscriber handle is gone"))??;
        }
        Ok(mids)
    }

    /// Sets the media connections up anew (one never came up): the publisher's is hung up
    /// (`unpublish`; a new `publish` offers a new one, under the same feed id) and the
    /// subscriber handle detached (the next subscription attaches a new one). The room is
    /// not left; the commands hear `reconnecting` and `reconnected` (the room as it is) and
    /// publish and subscribe again.
    pub async fn set_up_again(&self, reason: crate::session::Reason) {
        let _ = self.events.send(SessionEvent::Reconnecting {
            reason,
            attempt: 1,
            max_attempts: 1,
        });
        if self.published.swap(false, Ordering::SeqCst)
            && let Err(e) = self
                .session
                .message(self.control, &Request::Unpublish, None)
                .await
        {
            tracing::debug!("unpublishing to set up again: {e}");
        }
        if let Some(sub) = self.subscriber.lock().await.take()
            && let Err(e) = self.session.detach(sub.handle).await
        {
            tracing::debug!("detaching the subscriber handle to set up again: {e}");
        }
        let (connections, streams) = {
            let state = self.state.lock().expect("room lock");
            let streams = state.feeds.values().map(|f| f.stream.clone()).collect();
            (state.participants.len() + 1, streams)
        };
        let _ = self.events.send(SessionEvent::Reconnected {
            connection: connection(&self.me, self.display.as_deref().unwrap_or_default()),
            connection_count: connections,
            streams,
        });
    }

    /// Leaves: subscriptions detached, the room left, the session destroyed.
    pub async fn disconnect(&self) {
        if let Some(sub) = self.subscriber.lock().await.take()
            && let Err(e) = self.session.detach(sub.handle).await
        {
            tracing::debug!("detaching the subscriber handle: {e}");
        }
        if self.session.gone().borrow().is_none() {
            if let Err(e) = self
                .session
                .message(self.control, &Request::Leave, None)
                .await
            {
                tracing::debug!("leaving the room: {e}");
            }
            if let Err(e) = self.session.detach(self.control).await {
                tracing::debug!("detaching: {e}");
            }
        }
        self.session.destroy().await;
    }
}

/// How long a subscription waits for Janus's offer (it postpones one while another is
/// unanswered).
const OFFER_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// The one subscriber handle and the task that owns it.
struct Subscriber {
    handle: u64,
    commands: mpsc::UnboundedSender<Command>,
}

/// What the subscriber's task is asked to do.
enum Command {
    Add(AddFeed),
    /// Restart ICE: ask Janus for a new offer and answer it; told when answered.
    Restart(tokio::sync::oneshot::Sender<Result<(), SignalingError>>),
    /// Set what these sections carry (a simulcast feed's substream); told when Janus took it.
    Configure(
        Vec<ConfigureStream>,
        tokio::sync::oneshot::Sender<Result<(), SignalingError>>,
    ),
}

/// Janus's substream for `layer` (`None`: leave it Janus's, the highest).
fn substream(layer: crate::session::Layer) -> Option<u8> {
    use crate::session::Layer;
    match layer {
        Layer::Auto => None,
        Layer::High => Some(2),
        Layer::Mid => Some(1),
        Layer::Low => Some(0),
    }
}

/// A feed to add to the subscription; answered with the `mid`s its media comes in.
struct AddFeed {
    feed: String,
    /// The `streams` of Janus's `join`/`subscribe` request.
    streams: Vec<SubscribeStream>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<String>, SignalingError>>,
}

/// The multistream subscriber: joins with the first feed, adds later ones with `subscribe`,
/// and answers every offer Janus makes — for the feeds asked for, unasked when a feed
/// leaves (`updated`), and for an ICE restart asked for — with `start`. Janus makes one offer
/// at a time and may fold several requests into one, so waiters are answered from the layout
/// each offer describes.
async fn run_subscriber(
    session: Arc<JanusSession>,
    mut handle: Handle,
    (answer, events): (Answerer, mpsc::UnboundedSender<SessionEvent>),
    join: Join,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut joined = false;
    // (mid, feed) of every active section.
    let mut layout: Vec<(String, String)> = Vec::new();
    let mut waiting: Vec<AddFeed> = Vec::new();
    // An ICE restart whose offer has not been answered yet.
    let mut restarting: Option<tokio::sync::oneshot::Sender<Result<(), SignalingError>>> = None;
    loop {
        let offered = tokio::select! {
            cmd = commands.recv() => match cmd {
                None => break,
                Some(Command::Add(add)) => {
                    let body = match joined {
                        true => Request::Subscribe { streams: add.streams.clone() },
                        false => Request::Join(Join { streams: add.streams.clone(), ..join.clone() }),
                    };
                    match session.message(handle.id, &body, None).await {
                        Ok((data, jsep)) => {
                            joined = true;
                            waiting.push(add);
                            jsep.map(|j| (data, j))
                        }
                        Err(e) => {
                            let _ = add.reply.send(Err(e));
                            None
                        }
                    }
                }
                Some(Command::Configure(streams, reply)) => {
                    let body = Request::Configure { restart: false, streams };
                    let done = session.message(handle.id, &body, None).await.map(|_| ());
                    let _ = reply.send(done);
                    None
                }
                Some(Command::Restart(reply)) => {
                    let body = Request::Configure { restart: true, streams: Vec::new() };
                    match session.message(handle.id, &body, None).await {
                        // The offer comes with the reply, or after it as an event.
                        Ok((data, jsep)) => {
                            restarting = Some(reply);
                            jsep.map(|j| (data, j))
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                            None
                        }
                    }
                }
            },
            ev = handle.events.recv() => {
                let Some(ev) = ev else { break };
                if let Some(switched) = layer_switched(&RoomData::read(ev.plugin_data()), &layout) {
                    let _ = events.send(switched);
                }
                ev.jsep.clone().map(|j| (ev.plugin_data().clone(), j))
            }
        };
        if let Some((data, jsep)) = offered {
            let answered = answer_offer(&session, handle.id, &answer, jsep).await;
            if let Some(reply) = restarting.take() {
                let _ = reply.send(answered.clone().map_err(SignalingError::Refused));
            }
            if let Err(e) = answered {
                for w in waiting.drain(..) {
                    let _ = w.reply.send(Err(SignalingError::Refused(e.clone())));
                }
                continue;
            }
            let sections = RoomData::read(&data).streams;
            if !sections.is_empty() {
                layout = sections
                    .into_iter()
                    .filter(|s| s.active)
                    .filter_map(|s| Some((s.mid?, s.feed_id?.to_string())))
                    .collect();
            }
        }
        let mut still = Vec::new();
        for w in waiting.drain(..) {
            let mids: Vec<String> = layout
                .iter()
                .filter(|(_, feed)| *feed == w.feed)
                .map(|(mid, _)| mid.clone())
                .collect();
            if mids.is_empty() {
                still.push(w);
            } else {
                let _ = w.reply.send(Ok(mids));
            }
        }
        waiting = still;
    }
}

/// A subscriber handle's event saying a simulcast section now carries another substream
/// (0 the smallest, 2 the largest): the layer received of the feed in that section (of the
/// only section, when the event names none). Janus does not say how many substreams a feed
/// has: of a feed with two, the larger is substream 1, told as `mid` (vcall serve, which
/// knows, tells it as `high`).
fn layer_switched(data: &RoomData, layout: &[(String, String)]) -> Option<SessionEvent> {
    let substream = data.substream?;
    let feed = match &data.mid {
        Some(mid) => layout.iter().find(|(m, _)| m == mid)?,
        None if layout.len() == 1 => &layout[0],
        None => return None,
    };
    Some(SessionEvent::LayerSwitched {
        stream: feed.1.clone().into(),
        layer: crate::session::Layer::at(usize::from(substream), 3),
        size: None,
    })
}

/// Answers one of Janus's offers on the subscriber's connection and sends the answer.
async fn answer_offer(
    session: &JanusSession,
    handle: u64,
    answer: &Answerer,
    jsep: Jsep,
) -> Result<(), String> {
    let offer = sdp_of(Some(jsep), "offer").map_err(|e| e.to_string())?;
    let sdp = answer(offer).await?;
    session
        .message(handle, &Request::Start, Some(Jsep::answer(sdp)))
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The media sections an answer rejects ("audio", "video"): port 0, or, as Janus answers a
/// codec the room does not take, `a=inactive`.
fn rejected_media(sdp: &str) -> Vec<&str> {
    let mut sections: Vec<(&str, bool)> = Vec::new();
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            let mut parts = m.split_whitespace();
            let kind = parts.next().unwrap_or_default();
            sections.push((kind, parts.next() == Some("0")));
        } else if line == "a=inactive"
            && let Some((_, rejected)) = sections.last_mut()
        {
            *rejected = true;
        }
    }
    sections
        .into_iter()
        .filter(|(_, rejected)| *rejected)
        .map(|(kind, _)| kind)
        .collect()
}

async fn create_room(
    session: &JanusSession,
    handle: u64,
    room: &JanusId,
    pin: Option<&str>,
) -> Result<(), SignalingError> {
    let exists = Request::Exists { room: room.clone() };
    let (exists, _) = session.message(handle, &exists, None).await?;
    if RoomData::read(&exists).exists == Some(true) {
        return Ok(());
    }
    let create = Request::Create(Create {
        room: room.clone(),
        description: "created by vcall",
        publishers: 16,
        videocodec: "h264,vp8",
        audiocodec: "opus",
        notify_joining: true,
        pin: pin.map(str::to_owned),
    });
    match session.message(handle, &create, None).await {
        Ok(_) => {
            tracing::info!("created VideoRoom room {room}");
            Ok(())
        }
        // Someone else created it meanwhile.
        Err(SignalingError::Refused(m)) if m.contains("427") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Turns the control handle's events into session events.
async fn translate(
    mut control: Handle,
    mut gone: super::Gone,
    me: String,
    state: Arc<Mutex<Room>>,
    published: Arc<AtomicBool>,
    tx: mpsc::UnboundedSender<SessionEvent>,
) {
    let mut own_stream_live = false;
    loop {
        let msg = tokio::select! {
            m = control.events.recv() => m,
            _ = gone.wait_for(|g| g.is_some()) => None,
        };
        let Some(msg) = msg else {
            // Without a reason the handle was detached by us: a normal leave.
            let Some(reason) = gone.borrow().clone() else {
                return;
            };
            tracing::warn!("Janus session over: {reason}");
            let reason = if reason.contains("timed") {
                "sessionTimeout"
            } else {
                "networkDisconnected"
            };
            let _ = tx.send(SessionEvent::SessionDisconnected {
                reason: reason.into(),
            });
            return;
        };
        let events = {
            let mut room = state.lock().expect("room lock");
            events_for(&msg, &me, &mut room, &published, &mut own_stream_live)
        };
        for e in events {
            let end = matches!(e, SessionEvent::SessionDisconnected { .. });
            if tx.send(e).is_err() || end {
                return;
            }
        }
    }
}

/// The session events one Janus message means.
fn events_for(
    msg: &Incoming,
    me: &str,
    room: &mut Room,
    published: &AtomicBool,
    own_stream_live: &mut bool,
) -> Vec<SessionEvent> {
    let mut out = Vec::new();
    match msg.janus.as_str() {
        // Janus receives our media: the stream is live (like the embedded server's streamCreated).
        "media"
            if msg.receiving == Some(true)
                && published.load(Ordering::SeqCst)
                && !*own_stream_live =>
        {
            *own_stream_live = true;
            out.push(SessionEvent::StreamCreated {
                stream: own_stream(me),
            });
        }
        "hangup" if *own_stream_live => {
            *own_stream_live = false;
            out.push(SessionEvent::StreamDestroyed {
                stream: own_stream(me),
                reason: "mediaStopped".into(),
            });
        }
        "event" => {
            let data = RoomData::read(msg.plugin_data());
            if data.videoroom.as_deref() == Some("destroyed") {
                out.push(SessionEvent::SessionDisconnected {
                    reason: "roomDestroyed".into(),
                });
                return out;
            }
            if let Some(j) = &data.joining {
                let id = j.id.to_string();
                let c = connection(&id, j.display.as_deref().unwrap_or_default());
                if room.participants.insert(id, c.clone()).is_none() {
                    out.push(SessionEvent::ConnectionCreated { connection: c });
                }
            }
            for p in &data.publishers {
                let f = feed(p);
                if f.stream.id == me || room.feeds.contains_key(&f.stream.id) {
                    continue;
                }
                if !room.participants.contains_key(f.stream.id.as_str()) {
                    let c = connection(f.stream.id.as_str(), &f.stream.name);
                    room.participants.insert(f.stream.id.to_string(), c.clone());
                    out.push(SessionEvent::ConnectionCreated { connection: c });
                }
                out.push(SessionEvent::StreamCreated {
                    stream: f.stream.clone(),
                });
                room.feeds.insert(f.stream.id.clone(), f);
            }
            if let Some(id) = data.unpublished.as_ref().filter(|id| !id.is_ok()) {
                if let Some(f) = room.feeds.remove(id.to_string().as_str()) {
                    out.push(SessionEvent::StreamDestroyed {
                        stream: f.stream,
                        reason: "unpublished".into(),
                    });
                }
            }
            if let Some(id) = &data.leaving {
                if id.is_ok() {
                    if data.reason.as_deref() == Some("kicked") {
                        out.push(SessionEvent::SessionDisconnected {
                            reason: "forceDisconnected".into(),
                        });
                    }
                    return out;
                }
                let id = id.to_string();
                if let Some(f) = room.feeds.remove(id.as_str()) {
                    out.push(SessionEvent::StreamDestroyed {
                        stream: f.stream,
                        reason: "clientDisconnected".into(),
                    });
                }
                let c = room
                    .participants
                    .remove(&id)
                    .unwrap_or_else(|| connection(&id, ""));
                out.push(SessionEvent::ConnectionDestroyed {
                    connection: c,
                    reason: "clientDisconnected".into(),
                });
            }
            if let Some(id) = &data.kicked {
                let id = id.to_string();
                if let Some(f) = room.feeds.remove(id.as_str()) {
                    out.push(SessionEvent::StreamDestroyed {
                        stream: f.stream,
                        reason: "forceUnpublished".into(),
                    });
                }
                if let Some(c) = room.participants.remove(&id) {
                    out.push(SessionEvent::ConnectionDestroyed {
                        connection: c,
                        reason: "forceDisconnected".into(),
                    });
                }
            }
        }
        _ => {}
    }
    out
}

fn own_stream(me: &str) -> Stream {
    Stream {
        id: me.to_owned().into(),
        name: String::new(),
        has_audio: true,
        has_video: true,
        connection_id: me.to_owned().into(),
        created_at: now_ms(),
        path: crate::session::MediaPath::Routed,
        owner: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn read(msg: Value) -> Option<Incoming> {
        serde_json::from_value(msg).ok()
    }

    fn ev(data: Value) -> Incoming {
        read(json!({ "janus": "event", "sender": 1, "plugindata": { "plugin": PLUGIN, "data": data } }))
            .expect("an event")
    }

    #[test]
    fn rejected_sections_are_found() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nm=video 0 UDP/TLS/RTP/SAVPF 102\r\n";
        assert_eq!(rejected_media(sdp), ["video"]);
        assert!(rejected_media("m=audio 9 X 111\r\nm=video 9 X 96").is_empty());
        let janus =
            "m=video 9 UDP/TLS/RTP/SAVPF 0\r\na=inactive\r\nm=audio 9 X 111\r\na=recvonly\r\n";
        assert_eq!(rejected_media(janus), ["video"]);
    }

    #[test]
    fn room_events_become_session_events() {
        let mut room = Room::default();
        let published = AtomicBool::new(false);
        let mut live = false;
        let pubs = ev(json!({ "videoroom": "event", "publishers": [
            { "id": 42, "display": "cam", "streams": [
                { "type": "audio", "mid": "0", "codec": "opus" },
                { "type": "video", "mid": "1", "codec": "h264" } ] } ] }));
        let out = events_for(&pubs, "7", &mut room, &published, &mut live);
        assert!(
            matches!(&out[0], SessionEvent::ConnectionCreated { connection } if connection.id == "42")
        );
        assert!(
            matches!(&out[1], SessionEvent::StreamCreated { stream } if stream.name == "cam" && stream.has_audio && stream.has_video)
        );
        // The same publisher announced again is not a new stream.
        assert!(events_for(&pubs, "7", &mut room, &published, &mut live).is_empty());
        let out = events_for(
            &ev(json!({ "videoroom": "event", "unpublished": 42 })),
            "7",
            &mut room,
            &published,
            &mut live,
        );
        assert!(
            matches!(&out[0], SessionEvent::StreamDestroyed { stream, .. } if stream.id == "42")
        );
        let out = events_for(
            &ev(json!({ "videoroom": "event", "leaving": 42 })),
            "7",
            &mut room,
            &published,
            &mut live,
        );
        assert_eq!(out.len(), 1);
        assert!(
            matches!(&out[0], SessionEvent::ConnectionDestroyed { connection, .. } if connection.id == "42")
        );
        // Our own media reaching Janus makes our stream live, once.
        published.store(true, Ordering::SeqCst);
        let media =
            read(json!({ "janus": "media", "sender": 1, "type": "video", "receiving": true }))
                .expect("a media event");
        assert_eq!(
            events_for(&media, "7", &mut room, &published, &mut live).len(),
            1
        );
        assert!(events_for(&media, "7", &mut room, &published, &mut live).is_empty());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// JSON shaped like Janus's: the keys it uses, values of any kind.
        fn janus_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                (0u64..100).prop_map(Value::from),
                "[a-z0-9]{0,6}".prop_map(Value::from),
                Just(json!("event")),
                Just(json!("videoroom")),
            ];
            leaf.prop_recursive(4, 40, 6, |inner| {
                let key = prop_oneof![
                    Just("janus"),
                    Just("sender"),
                    Just("plugindata"),
                    Just("data"),
                    Just("plugin"),
                    Just("videoroom"),
                    Just("publishers"),
                    Just("id"),
                    Just("display"),
                    Just("streams"),
                    Just("type"),
                    Just("mid"),
                    Just("codec"),
                    Just("unpublished"),
                    Just("leaving"),
                    Just("joining"),
                    Just("attendees"),
                    Just("error"),
                    Just("error_code"),
                    Just("disabled"),
                ];
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    prop::collection::vec((key, inner), 0..6).prop_map(|kv| {
                        Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                    }),
                ]
            })
        }

        proptest! {
            #[test]
            fn prop_any_janus_message_becomes_events_or_nothing(msgs in prop::collection::vec(janus_json(), 1..6)) {
                let mut room = Room::default();
                let published = AtomicBool::new(false);
                let mut live = false;
                for msg in msgs {
                    // What is not Janus's envelope is dropped when read; what is, maps or not.
                    if let Some(m) = read(msg.clone()) {
                        events_for(&m, "7", &mut room, &published, &mut live);
                    }
                    events_for(&ev(msg), "7", &mut room, &published, &mut live);
                }
            }
        }
    }
}
