//! The embedded server: signaling over WebSocket, a small HTTP API, and an SFU that forwards
//! every published track's RTP to its subscribers without decoding.
//!
//! The session logic is [`room::Core`], a state machine with no I/O; this module is its
//! driver: it runs the sockets and the peer connections, feeds what happens to the core and
//! does what the core says. The caller binds the listener and decides when to stop
//! (`run(listener, .., shutdown)`). The core and the driver's tables sit behind one
//! `std::sync::Mutex` that is never held across an `.await`.

mod forward;
mod forwarder;
mod intent;
mod layers;
mod livekit;
mod metrics;
mod native;
mod page;
mod room;
mod tls;
mod whip;

pub(crate) use tls::load as load_tls;

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

use crate::auth::{SessionProps, unix_now};
use crate::peer::{Network, Peer, PeerConfig, PeerError, PeerState, RemoteTrack};
use crate::session::{SessionId, StreamId, SubscriptionId, now_ms};
use crate::signaling::native::wire::{WireConnection, WireStream};
use crate::vocab::Kind;
use forward::{Hub, LegFault, LegWish, Subscription};
use intent::{Exchange, Reply, TrackName};
use room::{AnswerError, Core, Input, Output, SockId};
use tls::ClientAddr;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub(crate) keys: crate::auth::KeyPair,
    /// STUN/TURN servers for the server's own peer connections.
    pub(crate) ice_servers: Vec<String>,
    /// Address the media sockets bind (the listen address, or 0.0.0.0 for all interfaces).
    pub(crate) media_ip: IpAddr,
    /// The network its media goes through (`serve --impair`).
    pub(crate) network: Network,
    /// Signaling sockets open at once, in total and from one IP address.
    pub(crate) limits: Limits,
    /// The UDP port every media connection shares (0: any free one), unless `udp_ports`.
    pub(crate) udp_port: u16,
    /// The UDP ports the media port may be taken from (inclusive): the first free one.
    pub(crate) udp_ports: Option<(u16, u16)>,
    /// The media engine, when started before the server (so a taken port is told before it
    /// says it serves); else `run` starts one.
    pub(crate) engine: Option<crate::peer::Engine>,
    /// The address host candidates advertise (behind 1:1 NAT).
    pub(crate) public_ip: Option<IpAddr>,
    /// Serve HTTPS and WSS with this (`load_tls`).
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// The media connections' DTLS certificate; a new one each when `None`.
    pub(crate) certificate: Option<crate::peer::DtlsCertificate>,
    /// The most a publisher is asked to send (REMB), whatever its subscribers could take.
    pub(crate) max_subscriber_bitrate: Option<u32>,
    /// How long a stream whose publisher's connection was lost waits for it.
    pub(crate) publisher_grace: Duration,
    /// A fault committed on purpose (tests of what catches a faulty server).
    pub(crate) fault: Option<Fault>,
}

/// Faults a test asks the server to commit, to show that what checks a server (`vcall
/// load-test`) catches them. Never set outside tests.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub enum Fault {
    /// Subscriptions to the stream whose name contains the first get the stream whose name
    /// contains the second instead (a server that mixes streams up).
    Misroute(String, String),
    /// Subscriptions to a stream whose name contains this never get every `n`th packet (a
    /// server that loses packets it cannot send again).
    Drop(String, u64),
    /// Subscriptions to a stream whose name contains this get its first `n` packets of
    /// each track, then nothing (a server whose forwarding stalls).
    Stall(String, u64),
}

impl ServerConfig {
    /// Binds the media port and starts the engine every media connection runs on.
    pub(crate) fn start_engine(&self) -> Result<crate::peer::Engine, crate::peer::PeerError> {
        crate::peer::Engine::start(
            self.media_ip,
            self.udp_port,
            self.udp_ports,
            self.public_ip,
            &self.network,
        )
    }

    /// A server with `keys` whose media binds `media_ip`, with the defaults for the rest.
    pub fn new(keys: crate::auth::KeyPair, media_ip: IpAddr) -> ServerConfig {
        ServerConfig {
            keys,
            ice_servers: vec![],
            media_ip,
            network: Network::default(),
            limits: Limits::default(),
            udp_port: 0,
            udp_ports: None,
            engine: None,
            public_ip: None,
            tls: None,
            certificate: None,
            max_subscriber_bitrate: None,
            publisher_grace: Duration::from_secs(10),
            fault: None,
        }
    }

    /// This server commits `fault` (tests only).
    #[doc(hidden)]
    pub fn with_fault(mut self, fault: Fault) -> ServerConfig {
        self.fault = Some(fault);
        self
    }
}

/// How many signaling sockets the server keeps open.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) connections: usize,
    pub(crate) connections_per_ip: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connections: 1000,
            connections_per_ip: 100,
        }
    }
}

/// The largest signaling message taken (an offer for dozens of streams fits many times over).
const MAX_MESSAGE: usize = 1 << 20;

/// How long connections get to send their goodbyes when the server stops.
const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// What a socket's task is told to do.
enum SockCmd {
    Send(Reply),
    Close,
}

/// A publish whose tracks are awaited on its connection's peer connection.
struct PendingPublish {
    stream: StreamId,
    audio: bool,
    video: bool,
    tracks: Vec<RemoteTrack>,
}

/// A connection's one peer connection, and the publishes waiting for their tracks on it
/// (by the media stream id their tracks carry).
struct ConnMedia {
    peer: Arc<Peer>,
    pending: HashMap<String, PendingPublish>,
}

/// The core and the I/O it refers to by id.
struct Tables {
    core: Core,
    socks: HashMap<SockId, mpsc::UnboundedSender<SockCmd>>,
    next_sock: u64,
    /// Each live stream's hubs, one per track.
    published: HashMap<StreamId, Vec<Arc<Hub>>>,
    subscriptions: HashMap<SubscriptionId, Arc<Subscription>>,
    media: HashMap<SockId, ConnMedia>,
    /// The receiving peer connections of sockets whose subscriptions the server offers
    /// (LiveKit's participants: their subscriber connection).
    subscriber_media: HashMap<SockId, Arc<Peer>>,
    /// WHIP and WHEP resources by the id in their URL.
    resources: HashMap<String, Arc<whip::Resource>>,
    /// Media packets forwarded to subscribers, by session (for as long as the server runs).
    forwarded: HashMap<SessionId, Arc<AtomicU64>>,
}

/// A subscription to make: its id, its stream's hubs, and the session's forwarding count.
struct Leg {
    sub: SubscriptionId,
    stream: StreamId,
    hubs: Vec<Arc<Hub>>,
    counts: metrics::SubscriptionCounts,
    /// The layer it gets, and a fault's packets not forwarded.
    wish: LegWish,
}

/// Who offers a subscription's sections.
enum SubscribeBy {
    /// The client offered (`sdp`) on its one connection, the subscription's sections
    /// named by `mids` when they are ended ones it reuses; the server answers.
    Answering { sdp: String, mids: Vec<String> },
    /// The server offers on the client's subscriber connection, each hub's track named by
    /// the `msid` (stream and track id) the client's protocol expects for its kind.
    Offering(Vec<TrackName>),
}

struct Shared {
    config: ServerConfig,
    /// Every media connection's sockets.
    engine: crate::peer::Engine,
    tables: Mutex<Tables>,
    /// Woken when the core's next deadline may have changed.
    timer: Notify,
    /// Open signaling sockets by client address.
    open: Mutex<HashMap<IpAddr, usize>>,
    metrics: Arc<metrics::Metrics>,
    /// Whether the server listens on loopback only: `/metrics` then needs no credentials.
    local_only: bool,
}

/// One open socket counted against the limits, until dropped.
struct Counted {
    shared: AppState,
    ip: IpAddr,
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut open = self.shared.open.lock().expect("open lock");
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

impl Shared {
    fn new(config: ServerConfig, engine: crate::peer::Engine, local_only: bool) -> Arc<Shared> {
        let keys = config.keys.clone();
        let grace = config.publisher_grace.as_millis() as u64;
        Arc::new(Shared {
            config,
            engine,
            tables: Mutex::new(Tables {
                core: Core::new(keys, rand::random()).with_publisher_grace(grace),
                socks: HashMap::new(),
                next_sock: 1,
                published: HashMap::new(),
                subscriptions: HashMap::new(),
                media: HashMap::new(),
                subscriber_media: HashMap::new(),
                resources: HashMap::new(),
                forwarded: HashMap::new(),
            }),
            timer: Notify::new(),
            open: Mutex::new(HashMap::new()),
            metrics: Arc::new(metrics::Metrics::new()),
            local_only,
        })
    }

    /// Counts a socket from `ip`, or says which limit it would exceed.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Counted, String> {
        let limits = self.config.limits;
        let mut open = self.open.lock().expect("open lock");
        let total: usize = open.values().sum();
        let from_ip = open.get(&ip).copied().unwrap_or(0);
        if total >= limits.connections {
            return Err(format!(
                "the server has {total} connections open, its limit (--max-connections)"
            ));
        }
        if from_ip >= limits.connections_per_ip {
            return Err(format!(
                "{from_ip} connections are open from {ip}, the limit per address \
                 (--max-connections-per-ip)"
            ));
        }
        *open.entry(ip).or_default() += 1;
        Ok(Counted {
            shared: Arc::clone(self),
            ip,
        })
    }
}

type AppState = Arc<Shared>;

/// Peer connections to close, taken out of the tables under the lock, closed outside it.
#[derive(Default)]
struct Closing(Vec<Arc<Peer>>);

impl Closing {
    fn spawn(self) {
        if !self.0.is_empty() {
            tokio::spawn(self.run());
        }
    }
    async fn run(self) {
        for p in self.0 {
            p.close().await;
        }
    }
}

impl Shared {
    /// Feeds `input` to the core (after `before` updates the tables, under the same lock)
    /// and does what it says. Peer connections to close are returned.
    fn feed_with(self: &Arc<Self>, input: Input, before: impl FnOnce(&mut Tables)) -> Closing {
        let mut closing = Closing::default();
        let mut t = self.tables.lock().expect("tables lock");
        before(&mut t);
        let outputs = t.core.handle(input, now_ms());
        for output in outputs {
            self.execute(&mut t, output, &mut closing);
        }
        drop(t);
        self.timer.notify_one();
        closing
    }

    fn feed(self: &Arc<Self>, input: Input) {
        self.feed_with(input, |_| {}).spawn();
    }

    fn execute(self: &Arc<Self>, t: &mut Tables, output: Output, closing: &mut Closing) {
        match output {
            Output::Send { sock, msg } => {
                if let Some(tx) = t.socks.get(&sock) {
                    let _ = tx.send(SockCmd::Send(msg));
                }
            }
            Output::Close { sock } => {
                if let Some(tx) = t.socks.remove(&sock) {
                    let _ = tx.send(SockCmd::Close);
                }
            }
            Output::StartPublish {
                sock,
                stream,
                msid,
                offer,
                audio,
                video,
            } => {
                let pending = PendingPublish {
                    stream,
                    audio,
                    video,
                    tracks: Vec::new(),
                };
                tokio::spawn(Arc::clone(self).publish(sock, msid, pending, offer));
            }
            Output::StartSubscription {
                sock,
                session,
                sub,
                stream,
                audio,
                video,
                exchange,
                layer,
            } => {
                let (fed_by, fault) = self.fault_for(&t.core, &session, &stream);
                let hubs: Vec<Arc<Hub>> = t
                    .published
                    .get(&fed_by)
                    .into_iter()
                    .flatten()
                    .filter(|h| match h.codec.kind() {
                        Kind::Audio => audio,
                        Kind::Video => video,
                    })
                    .cloned()
                    .collect();
                let session_packets = Arc::clone(t.forwarded.entry(session.clone()).or_default());
                let counts =
                    self.metrics
                        .subscription(session_packets, session.as_str(), sub.as_str());
                let by = match exchange {
                    Exchange::ClientOffers { sdp, mids } => SubscribeBy::Answering { sdp, mids },
                    Exchange::ServerOffers(names) => SubscribeBy::Offering(names),
                };
                let leg = Leg {
                    sub,
                    stream,
                    hubs,
                    counts,
                    wish: LegWish {
                        layer,
                        fault,
                        switches: None,
                    },
                };
                tokio::spawn(Arc::clone(self).subscribe(sock, leg, by));
            }
            Output::RestartIce { sock, sdp } => {
                let media = t.media.get(&sock).map(|m| Arc::clone(&m.peer));
                let this = Arc::clone(self);
                tokio::spawn(async move {
                    let result = match media {
                        Some(peer) => {
                            let _exchange = peer.negotiation().await;
                            peer.accept_offer(&sdp).await.map_err(AnswerError::from)
                        }
                        None => Err(AnswerError::NoConnection("restart")),
                    };
                    this.feed(Input::Answered { sock, result });
                });
            }
            Output::EndStream { stream } => {
                for hub in t.published.remove(&stream).into_iter().flatten() {
                    hub.close();
                }
                for m in t.media.values_mut() {
                    m.pending.retain(|_, p| p.stream != stream);
                }
            }
            Output::SetLayer { sub, layer } => {
                // One still being made takes the core's layer once made.
                if let Some(s) = t.subscriptions.get(&sub) {
                    s.set_layer(layer);
                }
            }
            Output::EndSubscription { sub } => {
                if let Some(s) = t.subscriptions.remove(&sub) {
                    s.detach();
                }
            }
            Output::CloseMedia { sock } => {
                if let Some(m) = t.media.remove(&sock) {
                    closing.0.push(m.peer);
                }
                if let Some(peer) = t.subscriber_media.remove(&sock) {
                    closing.0.push(peer);
                }
            }
        }
    }

    /// What feeds a subscription to `stream`, and which of its packets are not forwarded:
    /// the stream itself and all of them, unless the server commits a fault.
    fn fault_for(
        &self,
        core: &Core,
        session: &SessionId,
        stream: &StreamId,
    ) -> (StreamId, Option<LegFault>) {
        let Some(fault) = &self.config.fault else {
            return (stream.clone(), None);
        };
        let streams = core.view(session).streams;
        let named = |part: &str| {
            streams
                .iter()
                .any(|s| s.id == *stream && s.name.contains(part))
        };
        match fault {
            Fault::Misroute(from, to) if named(from) => {
                let other = streams.iter().find(|s| s.name.contains(to.as_str()));
                (other.map_or_else(|| stream.clone(), |s| s.id.clone()), None)
            }
            Fault::Drop(part, n) if named(part) && *n > 0 => {
                (stream.clone(), Some(LegFault::DropEvery(*n)))
            }
            Fault::Stall(part, n) if named(part) => {
                (stream.clone(), Some(LegFault::StallAfter(*n)))
            }
            _ => (stream.clone(), None),
        }
    }

    async fn media_for(self: &Arc<Self>, sock: SockId) -> Result<Arc<Peer>, PeerError> {
        if let Some(m) = self.tables.lock().expect("tables lock").media.get(&sock) {
            return Ok(Arc::clone(&m.peer));
        }
        let (peer, mut tracks) = self.new_peer(sock).await?;
        {
            let mut t = self.tables.lock().expect("tables lock");
            // Made twice at once (a LiveKit client's trickle and offer): the first one stays,
            // and the other one, dropped, closes without ending anything.
            if let Some(m) = t.media.get(&sock) {
                return Ok(Arc::clone(&m.peer));
            }
            t.media.insert(
                sock,
                ConnMedia {
                    peer: Arc::clone(&peer),
                    pending: HashMap::new(),
                },
            );
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            while let Some(track) = tracks.recv().await {
                this.track_arrived(sock, track);
            }
        });
        Ok(peer)
    }

    /// The socket's subscriber connection (LiveKit's second peer connection, on which the
    /// server offers), made when first needed.
    async fn subscriber_media(self: &Arc<Self>, sock: SockId) -> Result<Arc<Peer>, PeerError> {
        if let Some(peer) = self
            .tables
            .lock()
            .expect("tables lock")
            .subscriber_media
            .get(&sock)
        {
            return Ok(Arc::clone(peer));
        }
        let (peer, _tracks) = self.new_peer(sock).await?;
        let mut t = self.tables.lock().expect("tables lock");
        // Made twice at once: the first one stays.
        Ok(Arc::clone(t.subscriber_media.entry(sock).or_insert(peer)))
    }

    /// A peer connection of the socket's, whose failure ends the connection's media.
    async fn new_peer(
        self: &Arc<Self>,
        sock: SockId,
    ) -> Result<(Arc<Peer>, mpsc::UnboundedReceiver<RemoteTrack>), PeerError> {
        let config = PeerConfig {
            ports: self.config.udp_ports,
            public_ip: self.config.public_ip,
            certificate: self.config.certificate.clone(),
            bind_ip: self.config.media_ip,
            ice_servers: self.config.ice_servers.clone(),
            network: self.config.network.clone(),
            relay_only: false,
            send_rate: crate::peer::SendRate::default(),
            engine: Some(self.engine.clone()),
            ice_lite: true,
        };
        let (peer, tracks) = Peer::new(&config).await?;
        let peer = Arc::new(peer);
        let (this, mut state) = (Arc::clone(self), peer.state());
        let up = Arc::downgrade(&peer);
        tokio::spawn(async move {
            let ended = |s: &PeerState| matches!(s, PeerState::Failed | PeerState::Closed);
            let connected = state
                .wait_for(|s| *s == PeerState::Connected || ended(s))
                .await
                .is_ok_and(|s| *s == PeerState::Connected);
            if connected && let Some(peer) = up.upgrade() {
                let srtp = peer.stats().await.srtp;
                tracing::debug!(
                    ?sock,
                    "media connection up, SRTP {}",
                    srtp.unwrap_or_default()
                );
            }
            let _ = state.wait_for(ended).await;
            // Only the socket's own connection ends its media: not one made twice at once
            // and dropped, nor one the core closed (no longer in the tables either).
            if up
                .upgrade()
                .is_some_and(|peer| this.is_media_of(sock, &peer))
            {
                this.feed(Input::MediaFailed { sock });
            }
        });
        Ok((peer, tracks))
    }

    /// Whether `stream`'s video arrives as simulcast layers.
    fn is_simulcast(&self, stream: &StreamId) -> bool {
        let t = self.tables.lock().expect("tables lock");
        t.published
            .get(stream)
            .is_some_and(|hubs| hubs.iter().any(|h| h.is_simulcast()))
    }

    /// Whether `peer` is one of the socket's peer connections (its own or its subscriber one).
    fn is_media_of(&self, sock: SockId, peer: &Arc<Peer>) -> bool {
        let t = self.tables.lock().expect("tables lock");
        t.media
            .get(&sock)
            .is_some_and(|m| Arc::ptr_eq(&m.peer, peer))
            || t.subscriber_media
                .get(&sock)
                .is_some_and(|p| Arc::ptr_eq(p, peer))
    }

    /// Answers an offer on the socket's peer connection outside the core: a LiveKit
    /// client's publisher connection, whose publishes the core was told of first.
    async fn answer_offer(self: &Arc<Self>, sock: SockId, sdp: &str) -> Result<String, PeerError> {
        let peer = self.media_for(sock).await?;
        let _exchange = peer.negotiation().await;
        peer.accept_offer(sdp).await
    }

    /// A remote track goes to the publish that waits for its media stream id; once a publish
    /// has all of its tracks, its hubs start and the stream goes live.
    fn track_arrived(self: &Arc<Self>, sock: SockId, track: RemoteTrack) {
        let mut ready: Option<PendingPublish> = None;
        {
            let mut t = self.tables.lock().expect("tables lock");
            let Some(media) = t.media.get_mut(&sock) else {
                return;
            };
            // By the media stream id its tracks carry; a client that publishes one stream at
            // a time (WHIP) may name none, or another one per track.
            // A LiveKit client's tracks by their track id.
            let msid = if media.pending.contains_key(&track.track_id) {
                track.track_id.clone()
            } else if media.pending.len() == 1 && !media.pending.contains_key(&track.stream_id) {
                media.pending.keys().next().cloned().unwrap_or_default()
            } else {
                track.stream_id.clone()
            };
            let Some(p) = media.pending.get_mut(&msid) else {
                tracing::debug!(stream = %msid, "a track nobody waits for");
                return;
            };
            let wanted = match track.codec.kind() {
                Kind::Audio => p.audio,
                Kind::Video => p.video,
            };
            if wanted
                && !p
                    .tracks
                    .iter()
                    .any(|t| t.codec.kind() == track.codec.kind())
            {
                p.tracks.push(track);
            }
            if p.tracks.len() == usize::from(p.audio) + usize::from(p.video) {
                ready = media.pending.remove(&msid);
            }
        }
        let Some(p) = ready else { return };
        let cap = self.config.max_subscriber_bitrate.map(f64::from);
        // Its publisher is back (the stream was interrupted): the same hubs go on, each with
        // the new track of its codec. A track of another codec cannot feed legs negotiated
        // for the old one: the stream is not told live again, and ends at its media deadline.
        let hubs = self
            .tables
            .lock()
            .expect("tables lock")
            .published
            .get(&p.stream)
            .cloned();
        match hubs {
            Some(hubs) => {
                let paired: Option<Vec<(Arc<Hub>, RemoteTrack)>> = p
                    .tracks
                    .into_iter()
                    .map(|track| {
                        let hub = hubs.iter().find(|h| h.codec == track.codec)?;
                        Some((Arc::clone(hub), track))
                    })
                    .collect();
                let Some(paired) = paired else {
                    tracing::warn!(stream = %p.stream, "a resumed stream's publisher sends another codec; not resumed");
                    return;
                };
                for (hub, track) in paired {
                    hub.resume(track);
                }
                self.feed(Input::PublishMedia { stream: p.stream });
            }
            None => self
                .feed_with(
                    Input::PublishMedia {
                        stream: p.stream.clone(),
                    },
                    |t| {
                        let hubs = p
                            .tracks
                            .into_iter()
                            .map(|t| Hub::start(t, cap, &self.metrics))
                            .collect();
                        t.published.insert(p.stream, hubs);
                    },
                )
                .spawn(),
        }
    }

    /// A publish's offer, answered on the connection's peer connection.
    async fn publish(
        self: Arc<Self>,
        sock: SockId,
        msid: String,
        pending: PendingPublish,
        offer: Option<String>,
    ) {
        let result = async {
            let peer = self.media_for(sock).await?;
            let _exchange = peer.negotiation().await;
            if let Some(m) = self
                .tables
                .lock()
                .expect("tables lock")
                .media
                .get_mut(&sock)
            {
                m.pending.insert(msid, pending);
            }
            match offer {
                Some(sdp) => peer.accept_offer(&sdp).await,
                // Its connection's offers are answered apart, by its front end (LiveKit's).
                None => Ok(String::new()),
            }
        }
        .await
        .map_err(AnswerError::from);
        self.feed(Input::Answered { sock, result });
    }

    /// A subscribe's offer, answered with send-only sections fed by the stream's hubs; or
    /// the server's offer of them, which the client answers outside the core.
    async fn subscribe(self: Arc<Self>, sock: SockId, leg: Leg, by: SubscribeBy) {
        let Leg {
            sub,
            stream,
            hubs,
            counts,
            mut wish,
        } = leg;
        // Its simulcast legs' switches, told to the subscriber (until its legs are gone).
        let (switches, mut switched) = mpsc::unbounded_channel();
        wish.switches = Some(switches);
        let (this, switching) = (Arc::clone(&self), sub.clone());
        tokio::spawn(async move {
            while let Some((layer, size)) = switched.recv().await {
                this.feed(Input::LayerSwitched {
                    sub: switching.clone(),
                    layer,
                    size,
                });
            }
        });
        let made = async {
            match by {
                SubscribeBy::Answering { sdp, mids } => {
                    let peer = self.media_for(sock).await?;
                    let _exchange = peer.negotiation().await;
                    Subscription::answer(
                        Arc::clone(&peer),
                        stream.as_str(),
                        hubs,
                        (&sdp, &mids),
                        counts,
                        wish,
                    )
                    .await
                }
                SubscribeBy::Offering(names) => {
                    let peer = self.subscriber_media(sock).await?;
                    // Each hub under the name asked for its kind.
                    let named = hubs
                        .into_iter()
                        .filter_map(|h| {
                            let n = names.iter().find(|n| n.kind == h.codec.kind())?;
                            Some((h, n.stream.clone(), n.track.clone()))
                        })
                        .collect();
                    Subscription::offer(peer, named, counts, wish).await
                }
            }
            .map_err(AnswerError::from)
        }
        .await;
        match made {
            Ok((subscription, answer)) => {
                let subscription = Arc::new(subscription);
                subscription.start();
                self.feed_with(
                    Input::Answered {
                        sock,
                        result: Ok(answer),
                    },
                    |t| {
                        // Its socket may have gone while it was being made: then nothing
                        // would end it (nor drop its metrics' series). A layer asked for
                        // meanwhile is taken now.
                        match t.core.subscription_layer(&sub) {
                            Some(layer) => {
                                subscription.set_layer(layer);
                                t.subscriptions.insert(sub, subscription);
                            }
                            None => subscription.detach(),
                        }
                    },
                )
                .spawn();
            }
            Err(e) => self.feed(Input::Answered {
                sock,
                result: Err(e),
            }),
        }
    }

    /// Calls the core at its deadlines.
    async fn run_timer(self: Arc<Self>) {
        loop {
            let next = self.tables.lock().expect("tables lock").core.poll_timeout();
            let notified = self.timer.notified();
            match next {
                Some(at) => {
                    let wait = Duration::from_millis(at.saturating_sub(now_ms()));
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => self.feed(Input::Timeout),
                        _ = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }
}

/// Serves until `shutdown` completes; then tells every client why and closes.
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let engine = match &config.engine {
        Some(engine) => engine.clone(),
        None => config.start_engine().map_err(std::io::Error::other)?,
    };
    let local_only = listener.local_addr()?.ip().is_loopback();
    let shared = Shared::new(config, engine, local_only);
    // Every socket task holds a clone of `live`; when all are gone, `drained` ends.
    let (live, mut drained) = mpsc::channel::<()>(1);
    let app = Router::new()
        .route("/v1/signaling", get(native::ws_handler))
        .route("/v1/sessions", post(create_session))
        .route("/v1/sessions/{id}", get(get_session))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(serve_metrics))
        .route("/", get(page::index))
        .route("/v1/page/sessions", get(page::sessions))
        .route("/v1/page/token", post(page::token))
        .route("/v1/page/session", post(page::new_session))
        .route("/rtc", get(livekit::rtc))
        .route("/rtc/validate", get(livekit::validate))
        .route("/rtc/v1", get(livekit::v1))
        .route("/rtc/v1/validate", get(livekit::v1))
        .merge(
            Router::new()
                .route(
                    "/whip/{session}",
                    post(whip::whip_post).options(whip::options),
                )
                .route(
                    "/whep/{session}",
                    post(whip::whep_post).options(whip::options),
                )
                .route(
                    "/whep/{session}/{stream}",
                    post(whip::whep_post).options(whip::options),
                )
                .route(
                    "/resources/{id}",
                    axum::routing::patch(whip::patch)
                        .delete(whip::delete)
                        .options(whip::options),
                )
                .layer(axum::middleware::map_response(whip::cors)),
        )
        .layer(axum::Extension(live))
        .with_state(Arc::clone(&shared));
    let timer = tokio::spawn(Arc::clone(&shared).run_timer());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stopped = async move {
        let _ = stop_rx.await;
    };
    let server = match shared.config.tls.clone() {
        Some(tls) => {
            let listener = tls::TlsListener::new(listener, tls)?;
            tokio::spawn(
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<ClientAddr>(),
                )
                .with_graceful_shutdown(stopped)
                .into_future(),
            )
        }
        None => tokio::spawn(
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<ClientAddr>(),
            )
            .with_graceful_shutdown(stopped)
            .into_future(),
        ),
    };
    shutdown.await;
    // Every client hears `sessionDisconnected`, every socket closes, every peer connection
    // closes; the listener stops once the sockets have said their goodbyes.
    let closing = shared.feed_with(Input::Shutdown, |_| {});
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(DRAIN_LIMIT, drained.recv()).await;
    closing.run().await;
    timer.abort();
    server.await.map_err(std::io::Error::other)?
}

/// `/metrics`: open on a loopback-only server to this machine (`page::open_locally`), else
/// for the API key pair (Basic); a session's token does not open it (the figures are the
/// whole server's).
async fn serve_metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !page::open_locally(&state, &headers) && !api_authorized(&state, &headers) {
        return page::challenge("/metrics");
    }
    let now = {
        let t = state.tables.lock().expect("tables lock");
        let (sessions, connections, streams) = t.core.counts();
        metrics::Now {
            sessions,
            connections,
            streams,
            subscriptions: t.subscriptions.len(),
        }
    };
    (
        [(axum::http::header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        state.metrics.render(now),
    )
        .into_response()
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
    state.config.keys.check_credentials(&decoded)
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
    Path(id): Path<SessionId>,
) -> Response {
    if !api_authorized(&state, &headers) {
        return api_error(StatusCode::UNAUTHORIZED, "invalid API key or secret");
    }
    let props = match state.config.keys.open_session(id.as_str()) {
        Ok(p) => p,
        Err(e) => return api_error(StatusCode::NOT_FOUND, &e.to_string()),
    };
    let (view, forwarded) = {
        let t = state.tables.lock().expect("tables lock");
        let forwarded = t
            .forwarded
            .get(&id)
            .map_or(0, |c| c.load(Ordering::Relaxed));
        (t.core.view(&id), forwarded)
    };
    Json(serde_json::json!({
        "sessionId": id,
        "p2p": props.p2p,
        "locationHint": props.location_hint,
        "createdAt": props.created_at,
        "connectionCount": view.connections.len(),
        "connections": view.connections.iter().map(WireConnection::from).collect::<Vec<_>>(),
        "streams": view.streams.iter().map(WireStream::from).collect::<Vec<_>>(),
        "forwardedPackets": forwarded,
    }))
    .into_response()
}

impl Shared {
    /// A new socket in the core (`Opened` fed), and what the core sends it.
    fn open_sock(self: &Arc<Self>) -> (SockId, mpsc::UnboundedReceiver<SockCmd>) {
        let (tx, rx) = mpsc::unbounded_channel::<SockCmd>();
        let sock = {
            let mut t = self.tables.lock().expect("tables lock");
            let sock = SockId(t.next_sock);
            t.next_sock += 1;
            t.socks.insert(sock, tx);
            sock
        };
        self.feed(Input::Opened { sock });
        (sock, rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_asked_for_twice_at_once_is_made_once() {
        // A LiveKit client's first trickled candidate and its offer both ask for its
        // publisher connection; the one made second was dropped, and its close ended the
        // client's subscriptions.
        let keys = crate::auth::KeyPair {
            key: "k".into(),
            secret: "s".into(),
        };
        let config = ServerConfig::new(keys, IpAddr::from([127, 0, 0, 1]));
        let engine = config.start_engine().unwrap();
        let shared = Shared::new(config, engine, true);
        let sock = SockId(1);
        let (a, b) = tokio::join!(shared.media_for(sock), shared.media_for(sock));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(Arc::ptr_eq(&a, &b));
        assert!(shared.is_media_of(sock, &a));
    }
}
