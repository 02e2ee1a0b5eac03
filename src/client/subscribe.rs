//! `vcall subscribe`: one peer connection per subscribed stream; each track's packets are
//! assembled into frames on the track's task and handed to the stream's sink (a recorder or
//! a stdout writer), which alone touches the output.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::cli::{OutFormat, SubscribeArgs};
use crate::client::connect::{report_path, report_rejoin};
use crate::client::measure::{Measurements, TrackProbe};
use crate::client::output::Sink;
use crate::client::progress::Progress;
use crate::client::stats::{Monitor, stats_ticker};
use crate::client::{
    Joined, MediaWatch, Purpose, after_answer, disconnected_failure, join, match_stream,
};
use crate::codec::OpusRecovery;
use crate::exit::{CmdResult, Exit, Failure};
use crate::peer::{KeyframeRequester, Network, Peer, PeerState, RemoteTrack};
use crate::record::assemble::{Assembler, Frame};
use crate::record::{AUDIO, Container, RecordStats, Recorder, VIDEO};
use crate::session::{MediaPath, SessionEvent, Stream, StreamId};
use crate::signaling::Client;
use crate::signaling::janus::videoroom::Answerer;
use crate::signaling::native::Via;
use crate::vocab::{Codec, Kind, Rtp};

const CONNECT_LIMIT: Duration = Duration::from_secs(20);

/// How long a direct path (a peer-to-peer session) has to bring its first frame before the
/// subscription goes through the server instead. A LAN needs well under a second (0.1 s
/// measured on loopback).
pub const DIRECT_FIRST_FRAME: Duration = Duration::from_secs(3);
/// The same when a TURN server is given: a relayed path takes an allocation and permissions
/// first (2.6 s measured through coturn on loopback).
pub const DIRECT_FIRST_FRAME_TURN: Duration = Duration::from_secs(6);
/// How long a direct path that brought frames may bring none before it counts as broken and
/// the subscription goes through the server.
pub const DIRECT_SILENCE: Duration = Duration::from_secs(1);

/// Where the recordings go.
enum Target {
    /// One stream into one file.
    File(PathBuf, Container),
    /// One stream to stdout.
    Stdout(OutFormat),
    /// Every stream into its own file in a folder.
    Dir(PathBuf, Container),
}

fn target(args: &SubscribeArgs) -> Result<Target, Failure> {
    let usage = |m: String| Failure::new(Exit::Usage, m);
    match (&args.output, &args.output_dir) {
        (Some(p), _) if p.as_os_str() == "-" => {
            let format = args.format.unwrap_or(OutFormat::Mkv);
            if std::io::stdout().is_terminal() {
                return Err(usage(
                    "refusing to write media to a terminal: redirect stdout or pipe it to a player"
                        .into(),
                ));
            }
            Ok(Target::Stdout(format))
        }
        (Some(p), _) => {
            let c = Container::from_path(p).ok_or_else(|| {
                usage(format!(
                    "{}: the file name must end in .mp4 or .mkv (or use -o - with --format)",
                    p.display()
                ))
            })?;
            // The extension chooses the container; --format may only agree with it.
            match args.format {
                None => Ok(Target::File(p.clone(), c)),
                Some(OutFormat::Mkv) if c == Container::Mkv => Ok(Target::File(p.clone(), c)),
                Some(f) => Err(usage(format!("--format {f:?} applies to -o - only; the file's extension chooses its container").to_lowercase())),
            }
        }
        (None, Some(dir)) => {
            let c = match args.format {
                None => Container::Mp4,
                Some(OutFormat::Mkv) => Container::Mkv,
                Some(f) => {
                    return Err(usage(
                        format!("--output-dir records mp4 or mkv files, not {f:?}").to_lowercase(),
                    ));
                }
            };
            std::fs::create_dir_all(dir).map_err(|e| {
                Failure::new(
                    Exit::Failure,
                    format!("cannot create {}: {e}", dir.display()),
                )
            })?;
            Ok(Target::Dir(dir.clone(), c))
        }
        (None, None) => Err(usage(
            "nothing to do: give -o FILE (.mp4 or .mkv), -o - with --format, or --output-dir DIR"
                .into(),
        )),
    }
}

/// A file name from a stream's name and id, safe on every file system.
fn file_name(stream: &Stream, container: Container) -> String {
    let clean: String = stream
        .name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let ext = if container == Container::Mp4 {
        "mp4"
    } else {
        "mkv"
    };
    format!(
        "{}-{}.{ext}",
        if clean.is_empty() { "stream" } else { &clean },
        stream.id
    )
}

/// A frame on its way to its stream's sink.
struct Delivery {
    slot: usize,
    codec: crate::vocab::Codec,
    frame: Frame,
    arrival: Instant,
}

/// One subscribed stream being recorded.
pub(crate) struct Recording {
    stream: Stream,
    peer: Arc<Peer>,
    /// Closing it tells the sink task to finish.
    stop: Option<tokio::sync::oneshot::Sender<Duration>>,
    /// The sink task's outcome: the figures, or `None` when its reader went away.
    done: tokio::task::JoinHandle<Result<Option<RecordStats>, Failure>>,
    pub stats: tokio::sync::watch::Receiver<RecordStats>,
    /// When the subscription was made: its media must connect within CONNECT_LIMIT.
    started: Instant,
    /// This stream's line on the terminal.
    progress: Progress,
    /// Where its media is measured, if it is.
    measure: Option<Arc<Mutex<Measurements>>>,
    /// Its `--stats-interval` figures.
    monitor: Option<Monitor>,
    /// Where it goes (for the report), and whether to report it as JSON.
    pub output: String,
    pub json: bool,
    /// Whether the peer connection is this recording's alone (closed when it finishes).
    close_peer: bool,
    /// Where a shared connection hands this recording its tracks (kept to subscribe again
    /// after joining again), and the kinds it subscribed to.
    feed: Option<(mpsc::UnboundedSender<Incoming>, bool, bool)>,
    /// The connection directly with the publisher, while the media comes that way.
    direct: Option<DirectLeg>,
}

/// A subscription's connection directly with the publisher (a peer-to-peer session).
struct DirectLeg {
    shared: SharedPeer,
    since: Instant,
    /// How long it has for its first frame.
    first_within: Duration,
    /// The frames recorded when their count last changed, and when.
    seen: (u64, Instant),
}

/// Subscribes `feed` to `stream`: directly from its publisher, on a connection of its own
/// made with `direct`, when the stream is published directly, else (or when that is refused
/// at once) over `shared`. Returns the direct connection when that is the way.
async fn subscribe_stream(
    client: &Client,
    shared: &SharedPeer,
    direct: &crate::peer::PeerConfig,
    stream: &Stream,
    kinds: (bool, bool),
    feed: &mpsc::UnboundedSender<Incoming>,
) -> Result<Option<DirectLeg>, Failure> {
    let mut fallback = None;
    if stream.path == MediaPath::Direct {
        let leg = SharedPeer::new(direct).await?;
        match leg
            .subscribe(client, &stream.id, kinds, feed, Via::Direct)
            .await
        {
            Ok(()) => {
                let now = Instant::now();
                return Ok(Some(DirectLeg {
                    shared: leg,
                    since: now,
                    first_within: match direct.has_turn() {
                        true => DIRECT_FIRST_FRAME_TURN,
                        false => DIRECT_FIRST_FRAME,
                    },
                    seen: (0, now),
                }));
            }
            Err(e) => {
                tracing::warn!(stream = %stream.id, "subscribing directly failed ({e}); through the server");
                leg.peer().close().await;
                fallback = Some("directFailed");
            }
        }
    }
    shared
        .subscribe(client, &stream.id, kinds, feed, Via::Server(fallback))
        .await?;
    Ok(None)
}

/// One stream of packets as a recording takes it: one SSRC in one section.
pub(crate) struct Incoming {
    pub codec: Codec,
    pub ssrc: u32,
    packets: mpsc::Receiver<Rtp>,
    keyframes: KeyframeRequester,
}

impl Incoming {
    async fn recv(&mut self) -> Option<Rtp> {
        self.packets.recv().await
    }

    /// Every track of a connection whole, as it comes (for a connection of one recording).
    pub(crate) fn all(
        mut tracks: mpsc::UnboundedReceiver<RemoteTrack>,
    ) -> mpsc::UnboundedReceiver<Incoming> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(track) = tracks.recv().await {
                let (ptx, packets) = mpsc::channel(INCOMING_QUEUE);
                let incoming = Incoming {
                    codec: track.codec,
                    ssrc: track.ssrc,
                    packets,
                    keyframes: track.keyframe_requester(track.ssrc),
                };
                if tx.send(incoming).is_err() {
                    break;
                }
                tokio::spawn(async move {
                    while let Some(p) = track.recv().await {
                        if ptx.send(p).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        rx
    }
}

/// Packets a recording's track may have waiting.
const INCOMING_QUEUE: usize = 512;
/// Packets a section keeps while no recording has claimed it yet.
const UNCLAIMED_QUEUE: usize = 512;

/// A connection shared by several recordings: which recording takes each section's packets.
type Routes = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Incoming>>>>;

/// A peer connection that receives for several recordings: each section's packets go to the
/// recording that subscribed to it, as an [`Incoming`] per stream. A section the far end
/// reuses for another stream (Janus does, after a feed leaves) goes to that stream's
/// recording. Every stream a subscriber records comes over one connection.
pub(crate) struct SharedPeer {
    peer: Arc<Peer>,
    routes: Routes,
}

impl SharedPeer {
    pub(crate) async fn new(config: &crate::peer::PeerConfig) -> Result<SharedPeer, Failure> {
        let (peer, tracks) = Peer::new(config).await?;
        Ok(SharedPeer::over(Arc::new(peer), tracks))
    }

    /// Routes the tracks of an existing peer connection.
    pub(crate) fn over(
        peer: Arc<Peer>,
        mut tracks: mpsc::UnboundedReceiver<RemoteTrack>,
    ) -> SharedPeer {
        let routes: Routes = Arc::default();
        let r = Arc::clone(&routes);
        tokio::spawn(async move {
            while let Some(track) = tracks.recv().await {
                tokio::spawn(section(track, Arc::clone(&r)));
            }
        });
        SharedPeer { peer, routes }
    }

    /// The streams that arrive in sections `mids` go to `feed`.
    fn route(&self, mids: &[String], feed: &mpsc::UnboundedSender<Incoming>) {
        let mut routes = self.routes.lock().expect("routes lock");
        for mid in mids {
            routes.insert(mid.clone(), feed.clone());
        }
    }

    /// Subscribes to `stream` over this connection: with the native server, an offer with a
    /// receive-only section for each kind, which the server (or, `via` direct, the
    /// publisher) answers; with Janus, through its multistream subscriber, which offers and
    /// is answered here. The tracks that come are handed to `feed`.
    pub(crate) async fn subscribe(
        &self,
        client: &Client,
        stream: &StreamId,
        (audio, video): (bool, bool),
        feed: &mpsc::UnboundedSender<Incoming>,
        via: Via,
    ) -> Result<(), Failure> {
        match client {
            Client::Native(c) => {
                self.offer_to_receive((audio, video), feed, client, |offer| async move {
                    Ok(c.subscribe(stream, (audio, video), offer, via).await?.1)
                })
                .await
            }
            Client::Janus(c) => {
                let peer = Arc::clone(&self.peer);
                let answer: Answerer = Arc::new(move |offer: String| {
                    let peer = Arc::clone(&peer);
                    Box::pin(async move {
                        let _exchange = peer.negotiation().await;
                        peer.accept_offer(&offer).await.map_err(|e| e.to_string())
                    })
                });
                let mids = c.subscribe(stream, audio, video, answer).await?;
                self.route(&mids, feed);
                Ok(())
            }
            Client::Whip(c) => {
                self.offer_to_receive((audio, video), feed, client, |offer| async move {
                    Ok(c.offer(offer).await?.1)
                })
                .await
            }
        }
    }

    /// Offers receive-only sections for the kinds asked for (as `client` wants its offers),
    /// routes them to `feed`, applies the answer that `ask` gets for the offer from the far
    /// end, and does what follows an answer there.
    async fn offer_to_receive<F, Fut>(
        &self,
        (audio, video): (bool, bool),
        feed: &mpsc::UnboundedSender<Incoming>,
        client: &Client,
        ask: F,
    ) -> Result<(), Failure>
    where
        F: FnOnce(String) -> Fut,
        Fut: std::future::Future<Output = Result<String, Failure>>,
    {
        let kinds: Vec<Kind> = [(audio, Kind::Audio), (video, Kind::Video)]
            .into_iter()
            .filter_map(|(wanted, k)| wanted.then_some(k))
            .collect();
        let _exchange = self.peer.negotiation().await;
        let (offer, mids) = self
            .peer
            .offer_to_receive_within(&kinds, client.gathering_wait())
            .await?;
        self.route(&mids, feed);
        let answer = ask(offer.clone()).await?;
        self.peer.accept_answer(&answer).await?;
        after_answer(&self.peer, client, &offer).await;
        Ok(())
    }

    pub(crate) fn peer(&self) -> &Arc<Peer> {
        &self.peer
    }
}

/// Reads one section of a shared connection for as long as it lasts and hands its packets to
/// the recording that owns the section now: a new SSRC, or the owner having finished, makes
/// a new [`Incoming`] for whoever owns it then. Packets wait (a few) until the section has an
/// owner, so a stream's first keyframe is not lost to a subscription still being answered.
async fn section(track: RemoteTrack, routes: Routes) {
    let mid = track.mid.clone().unwrap_or_default();
    let mut current: Option<(u32, mpsc::Sender<Rtp>)> = None;
    let mut waiting: std::collections::VecDeque<Rtp> = Default::default();
    while let Some(packet) = track.recv().await {
        let ssrc = packet.ssrc();
        if current
            .as_ref()
            .is_some_and(|(s, tx)| *s != ssrc || tx.is_closed())
        {
            current = None;
        }
        if current.is_none() {
            let owner = routes.lock().expect("routes lock").get(&mid).cloned();
            if let Some(owner) = owner.filter(|o| !o.is_closed()) {
                let (tx, packets) = mpsc::channel(INCOMING_QUEUE);
                let incoming = Incoming {
                    codec: track.codec_of(ssrc).await,
                    ssrc,
                    packets,
                    keyframes: track.keyframe_requester(ssrc),
                };
                if owner.send(incoming).is_ok() {
                    current = Some((ssrc, tx));
                }
            }
        }
        let Some((_, tx)) = &current else {
            // Nobody owns the section (yet): keep the newest packets for whoever will.
            if waiting.len() == UNCLAIMED_QUEUE {
                waiting.pop_front();
            }
            waiting.push_back(packet);
            continue;
        };
        for p in waiting.drain(..).filter(|p| p.ssrc() == ssrc) {
            let _ = tx.send(p).await;
        }
        let _ = tx.send(packet).await;
    }
}

/// What a recording starts from: the session, and what to do with one stream.
struct RecordingPlan<'a> {
    client: &'a Client,
    /// Every stream comes over this one connection, but those published directly.
    shared: &'a SharedPeer,
    /// How a connection directly with a publisher is made.
    direct: &'a crate::peer::PeerConfig,
    stream: &'a Stream,
    audio: bool,
    video: bool,
    measure: Option<Arc<Mutex<Measurements>>>,
    progress: Progress,
    /// `--stats-interval`, and whether its reports are JSON.
    stats: Option<(Duration, bool)>,
    json: bool,
}

async fn start_recording(plan: RecordingPlan<'_>, sink: Sink) -> Result<Recording, Failure> {
    let RecordingPlan {
        client,
        shared,
        direct,
        stream,
        audio,
        video,
        measure,
        progress,
        stats,
        json,
    } = plan;
    let audio = audio && stream.has_audio && sink.wants(AUDIO);
    let video = video && stream.has_video && sink.wants(VIDEO);
    if !audio && !video {
        return Err(Failure::new(
            Exit::Usage,
            format!("stream {} has none of the media asked for", stream.id),
        ));
    }
    let requested = Instant::now();
    let (feed, tracks) = mpsc::unbounded_channel();
    let direct = subscribe_stream(client, shared, direct, stream, (audio, video), &feed).await?;
    let peer = Arc::clone(direct.as_ref().map_or(shared, |d| &d.shared).peer());
    let path = match direct {
        Some(_) => MediaPath::Direct,
        None => MediaPath::Routed,
    };
    let monitor = stats.map(|(interval, json)| {
        let mut m = Monitor::new(stream.id.as_str(), false, interval, json, progress.clone());
        m.path = path;
        m
    });
    let first = FirstFrame {
        requested,
        video,
        json,
    };
    let mut r = record_peer(
        stream,
        peer,
        tracks,
        sink,
        (measure, monitor, Some(first)),
        progress,
    );
    r.keep_peer();
    r.feed = Some((feed, audio, video));
    r.direct = direct;
    Ok(r)
}

/// When a subscription's first frame came (video's, or audio's for a stream without video):
/// logged, and a `firstFrame` line with `--json`.
#[derive(Clone, Copy)]
pub(crate) struct FirstFrame {
    requested: Instant,
    video: bool,
    json: bool,
}

impl FirstFrame {
    fn report(&self, stream: &str, at: Instant) {
        let ms = at.saturating_duration_since(self.requested).as_millis() as u64;
        tracing::info!(%stream, "first frame {ms} ms after the subscription was asked for");
        if self.json {
            crate::jsonl::emit(
                "firstFrame",
                serde_json::json!({ "streamId": stream, "afterMs": ms }),
            );
        }
    }
}

/// A track slot's RTP time across sources. A stream published again (after its publisher
/// or this subscriber joined again) comes as a new track with timestamps of its own; they
/// continue where the last source's left off, the gap as long as it was in arrival time, so
/// the recording goes on in the same file.
#[derive(Default)]
struct Timeline {
    source: Option<u32>,
    offset: i128,
    last: Option<(u64, Instant)>,
}

impl Timeline {
    fn map(&mut self, source: u32, timestamp: u64, arrival: Instant, clock_rate: u32) -> u64 {
        if self.source != Some(source) {
            if let Some((last, at)) = self.last {
                let gap = arrival.saturating_duration_since(at).as_secs_f64() * clock_rate as f64;
                self.offset = last as i128 + (gap as i128).max(1) - timestamp as i128;
            }
            self.source = Some(source);
        }
        let mapped = (timestamp as i128 + self.offset).max(0) as u64;
        self.last = Some((mapped, arrival));
        mapped
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Records what arrives on `peer` into `sink`: each track assembled into frames on its own
/// task (measured when `measure` is given, counted for `monitor`), one blocking task writing.
pub(crate) fn record_peer(
    stream: &Stream,
    peer: Arc<Peer>,
    mut incoming: mpsc::UnboundedReceiver<Incoming>,
    mut sink: Sink,
    (measure, monitor, mut first): (
        Option<Arc<Mutex<Measurements>>>,
        Option<Monitor>,
        Option<FirstFrame>,
    ),
    progress: Progress,
) -> Recording {
    let stream_id = stream.id.clone();
    let tracks = monitor.as_ref().map(|m| m.tracks.clone());
    let timelines: Arc<Mutex<[Timeline; 2]>> = Arc::default();
    let (tx, mut rx) = mpsc::channel::<Delivery>(256);
    let started = Instant::now();
    let measure_out = measure.clone();
    // Track tasks: packets -> frames. When the recording has finished (its writer is gone),
    // they stop taking packets and tracks at once, so a shared connection hands its sections
    // to whoever subscribes to them next.
    tokio::spawn(async move {
        loop {
            let mut track = tokio::select! {
                t = incoming.recv() => match t {
                    Some(t) => t,
                    None => break,
                },
                _ = tx.closed() => break,
            };
            let tx = tx.clone();
            let measure = measure.clone();
            let timelines = Arc::clone(&timelines);
            let figures = tracks.as_ref().map(|t| t.add(track.codec, track.ssrc));
            tokio::spawn(async move {
                let slot = if track.codec.kind() == Kind::Video {
                    VIDEO
                } else {
                    AUDIO
                };
                let mut probe = measure
                    .as_ref()
                    .map(|m| TrackProbe::new(track.codec, Arc::clone(m), started));
                let mut asm = Assembler::new(track.codec);
                let keyframes = track.keyframes.clone();
                if slot == VIDEO {
                    keyframes.request().await;
                }
                let mut recovery = (track.codec == Codec::Opus)
                    .then(|| OpusRecovery::new().ok())
                    .flatten();
                loop {
                    let deadline = asm.deadline();
                    let mut ended = false;
                    let out = tokio::select! {
                        p = track.recv() => match p {
                            Some(p) => {
                                if let Some(probe) = probe.as_mut() {
                                    probe.packet(p.seq());
                                }
                                asm.push(p, Instant::now())
                            }
                            None => {
                                ended = true;
                                asm.flush(Instant::now())
                            }
                        },
                        () = sleep_until(deadline) => asm.poll(Instant::now()),
                        _ = tx.closed() => break,
                    };
                    let arrival = Instant::now();
                    if out.request_keyframe {
                        keyframes.request().await;
                    }
                    for mut frame in out.frames {
                        if frame.fec {
                            // A lost audio frame: kept when the next packet carries it.
                            let recovered = recovery.as_mut().and_then(|r| r.recover(&frame.data));
                            let Some(data) = recovered else { continue };
                            (frame.data, frame.fec) = (data.into(), false);
                        } else if let Some(r) = recovery.as_mut() {
                            r.observe(&frame.data);
                        }
                        frame.timestamp = timelines.lock().expect("timelines lock")[slot].map(
                            track.ssrc,
                            frame.timestamp,
                            arrival,
                            track.codec.clock_rate(),
                        );
                        if let Some(p) = probe.as_mut() {
                            p.frame(&frame, arrival);
                        }
                        if let Some(f) = &figures {
                            let mut f = f.lock().expect("figures lock");
                            f.frame(track.codec, &frame.data, frame.keyframe, arrival);
                        }
                        if tx
                            .send(Delivery {
                                slot,
                                codec: track.codec,
                                frame,
                                arrival,
                            })
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    if ended {
                        break;
                    }
                }
            });
        }
    });
    // The sink task: the only writer of this stream's output.
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<Duration>();
    let (stats_tx, stats_rx) = tokio::sync::watch::channel(RecordStats::default());
    let done = tokio::task::spawn_blocking(move || {
        let handle = tokio::runtime::Handle::current();
        // Once told to stop: until when frames still on their way are taken.
        let mut until: Option<tokio::time::Instant> = None;
        loop {
            let d = handle.block_on(async {
                match until {
                    Some(u) => next_lingering(&mut rx, u).await,
                    None => tokio::select! {
                        biased;
                        d = rx.recv() => d,
                        linger = &mut stop_rx => {
                            let u = tokio::time::Instant::now() + linger.unwrap_or_default();
                            until = Some(u);
                            next_lingering(&mut rx, u).await
                        }
                    },
                }
            });
            let Some(d) = d else { break };
            if let Some(f) = first
                && (d.slot == VIDEO || !f.video)
            {
                f.report(stream_id.as_str(), d.arrival);
                first = None;
            }
            if let Err(e) = sink.push(d.slot, d.codec, d.frame, d.arrival) {
                // What was written stays: the file is finished either way.
                let stats = sink.finish().unwrap_or_default();
                let _ = stats_tx.send(stats);
                if e.is_broken_pipe() {
                    return Ok(None); // the reader went away: the output ends, no failure
                }
                return Err(Failure::from(e).with_context("writing the recording"));
            }
            let stats = sink.stats();
            let _ = stats_tx.send(stats);
            if stats.complete {
                break; // a limit was reached: nothing more goes in
            }
        }
        match sink.finish() {
            Ok(stats) => Ok(Some(stats)),
            Err(e) if e.is_broken_pipe() => Ok(None),
            Err(e) => Err(Failure::from(e).with_context("finishing the recording")),
        }
    });
    Recording {
        stream: stream.clone(),
        peer,
        stop: Some(stop_tx),
        done,
        stats: stats_rx,
        started: Instant::now(),
        progress,
        measure: measure_out,
        monitor,
        output: String::new(),
        json: false,
        close_peer: true,
        feed: None,
        direct: None,
    }
}

/// A stopped recording takes frames while they keep coming: a gap this long ends it.
const STOP_QUIET: Duration = Duration::from_millis(300);

/// How long a recording whose stream ended may take the frames still on their way (the
/// server's `streamDestroyed` can overtake the stream's last packets).
const STREAM_END_LINGER: Duration = Duration::from_secs(1);

/// The next frame of a stopped recording: one already queued, else one that comes before
/// `until` and within [`STOP_QUIET`]; `None` ends the recording.
async fn next_lingering(
    rx: &mut mpsc::Receiver<Delivery>,
    until: tokio::time::Instant,
) -> Option<Delivery> {
    if let Ok(d) = rx.try_recv() {
        return Some(d);
    }
    let quiet = (tokio::time::Instant::now() + STOP_QUIET).min(until);
    tokio::time::timeout_at(quiet, rx.recv())
        .await
        .ok()
        .flatten()
}

impl Recording {
    /// Subscribes again to this recording's stream, published again (a publisher that joins
    /// again gets its stream's id back), over `shared`, a new connection; what comes goes on
    /// into the same output.
    async fn subscribe_again(
        &mut self,
        shared: &SharedPeer,
        direct: &crate::peer::PeerConfig,
        client: &Client,
        stream: &Stream,
    ) -> Result<(), Failure> {
        let Some((feed, audio, video)) = self.feed.clone() else {
            return Ok(());
        };
        if let Some(old) = self.direct.take() {
            old.shared.peer().close().await;
        }
        self.direct =
            subscribe_stream(client, shared, direct, stream, (audio, video), &feed).await?;
        tracing::info!(stream = %stream.id, "recording again, into the same output");
        self.peer = Arc::clone(self.direct.as_ref().map_or(shared, |d| &d.shared).peer());
        self.started = Instant::now();
        self.stream.connection_id = stream.connection_id.clone();
        self.set_path(stream.path);
        Ok(())
    }

    fn set_path(&mut self, path: MediaPath) {
        if let Some(m) = self.monitor.as_mut() {
            m.path = path;
        }
    }

    /// Why the direct path must be left, if it must: it brought no frame within
    /// [`DIRECT_FIRST_FRAME`] (`directFailed`), or none for [`DIRECT_SILENCE`] after
    /// bringing some (`directLost`), or its connection failed.
    fn direct_broken(&mut self) -> Option<&'static str> {
        let leg = self.direct.as_mut()?;
        let stats = *self.stats.borrow();
        if stats.complete {
            return None;
        }
        let (frames, now) = (stats.video_frames + stats.audio_frames, Instant::now());
        if frames != leg.seen.0 {
            leg.seen = (frames, now);
        }
        let failed = matches!(
            *leg.shared.peer().state().borrow(),
            PeerState::Failed | PeerState::Closed
        );
        if frames == 0 {
            (failed || now.duration_since(leg.since) > leg.first_within).then_some("directFailed")
        } else {
            (failed || now.duration_since(leg.seen.1) > DIRECT_SILENCE).then_some("directLost")
        }
    }

    /// Leaves the direct path for `reason`: its connection closes (its tracks end), and the
    /// stream is subscribed through the server over `shared`, into the same output.
    async fn fall_back(
        &mut self,
        shared: &SharedPeer,
        client: &Client,
        reason: &'static str,
    ) -> Result<(), Failure> {
        let Some(leg) = self.direct.take() else {
            return Ok(());
        };
        tracing::warn!(stream = %self.stream.id, reason, "the direct path is not working; going through the server");
        leg.shared.peer().close().await;
        let Some((feed, audio, video)) = self.feed.clone() else {
            return Ok(());
        };
        shared
            .subscribe(
                client,
                &self.stream.id,
                (audio, video),
                &feed,
                Via::Server(Some(reason)),
            )
            .await?;
        self.peer = Arc::clone(shared.peer());
        self.started = Instant::now();
        self.set_path(MediaPath::Routed);
        Ok(())
    }

    /// The peer connection is shared: finishing leaves it open.
    pub(crate) fn keep_peer(&mut self) {
        self.close_peer = false;
    }

    /// Reports this stream's `--stats-interval` figures.
    async fn sample_stats(&mut self) {
        if let Some(m) = self.monitor.as_mut() {
            m.sample(&self.peer).await;
        }
    }

    /// Ends the recording: the frames already received are written, and for `linger` more
    /// (while they keep coming: see [`next_lingering`]) those still on their way.
    pub(crate) async fn finish(mut self, linger: Duration) -> Result<RecordStats, Failure> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(linger);
        }
        if let Some(m) = self.monitor.take() {
            m.finish(&self.peer).await;
        }
        if self.close_peer {
            self.peer.close().await;
        }
        if let Some(leg) = self.direct.take() {
            leg.shared.peer().close().await;
        }
        let r = self
            .done
            .await
            .map_err(|e| Failure::new(Exit::Failure, format!("recorder task failed: {e}")))?;
        match r {
            Ok(Some(stats)) => {
                if let Some(m) = &self.measure {
                    m.lock().expect("measurements lock").recorded =
                        Some((stats.video_frames, stats.audio_frames));
                }
                self.progress
                    .set(stats.video_frames, stats.audio_frames, stats.bytes);
                if self.json {
                    crate::jsonl::emit(
                        "recordingFinished",
                        serde_json::json!({
                            "streamId": self.stream.id, "name": self.stream.name, "output": self.output,
                            "videoFrames": stats.video_frames, "audioFrames": stats.audio_frames,
                            "bytes": stats.bytes, "durationMs": stats.duration_us / 1000,
                            "complete": stats.complete,
                        }),
                    );
                }
                self.progress.finish();
                Ok(stats)
            }
            Ok(None) => Ok(RecordStats::default()), // broken pipe: the reader is gone
            Err(f) => Err(f),
        }
    }
}

fn sink_for(target: &Target, stream: &Stream, expected: usize) -> Result<(Sink, String), Failure> {
    Ok(match target {
        Target::File(path, c) => (
            Sink::container(Recorder::create(path, *c, expected)?),
            path.display().to_string(),
        ),
        Target::Dir(dir, c) => {
            let path: PathBuf = Path::new(dir).join(file_name(stream, *c));
            (
                Sink::container(Recorder::create(&path, *c, expected)?),
                path.display().to_string(),
            )
        }
        Target::Stdout(f) => (
            Sink::for_format(*f, Box::new(std::io::stdout()), expected)?,
            "stdout".to_owned(),
        ),
    })
}

/// Tracks a stream will deliver to a sink.
fn expected_tracks(stream: &Stream, sink: &Sink, args: &SubscribeArgs) -> usize {
    usize::from(stream.has_video && !args.no_video && sink.wants(VIDEO))
        + usize::from(stream.has_audio && !args.no_audio && sink.wants(AUDIO))
}

/// Completes when every recording has reached its limits (`--duration`, `--frames`); never
/// while there is none, or one whose writer has stopped for another reason.
async fn all_complete(recordings: &mut [Recording]) {
    if recordings.is_empty() {
        return std::future::pending().await;
    }
    futures_util::future::join_all(recordings.iter_mut().map(|r| async move {
        if r.stats.wait_for(|s| s.complete).await.is_err() {
            std::future::pending::<()>().await;
        }
    }))
    .await;
}

/// What ended a subscribe.
enum End {
    Complete,
    Interrupted,
}

/// Subscribes until the limits, the end of the stream, or `stop` (Ctrl-C for the CLI).
/// With `measure`, video from vcall's test pattern is decoded and its marks read.
pub async fn subscribe(
    args: SubscribeArgs,
    quiet: bool,
    stop_signal: impl std::future::Future<Output = ()>,
    measure: Option<Arc<Mutex<Measurements>>>,
) -> CmdResult {
    let target = target(&args)?;
    if args.json && matches!(target, Target::Stdout(_)) {
        return Err(Failure::new(
            Exit::Usage,
            "--json writes to stdout, which -o - gives to the media; record to a file or a folder",
        ));
    }
    let single = !matches!(target, Target::Dir(..));
    if single && args.streams.len() > 1 {
        return Err(Failure::new(
            Exit::Usage,
            "-o records one stream; use --output-dir to record several",
        ));
    }
    let network = Network::new(args.impair.impair.as_ref());
    let joined = join(&args.conn, network, Purpose::Subscribe).await?;
    let initial: Vec<Stream> = joined.streams().to_vec();
    let Joined {
        client,
        mut events,
        peer_config,
        ..
    } = joined;
    let wanted = |s: &Stream| {
        args.streams.is_empty() || args.streams.iter().any(|w| match_stream([s], w).is_some())
    };
    let mut pending: std::collections::VecDeque<Stream> =
        initial.into_iter().filter(|s| wanted(s)).collect();
    if pending.is_empty() {
        tracing::info!("waiting for a stream to be published");
    }
    let bars = Progress::group(quiet);
    let mut measured: Vec<(Stream, Arc<Mutex<Measurements>>)> = Vec::new();
    let started = Instant::now();
    let mut recordings: Vec<Recording> = Vec::new();
    let mut finished: Vec<RecordStats> = Vec::new();
    // Every stream comes over one peer connection, made with the first subscription.
    let mut shared: Option<SharedPeer> = None;
    let ctrl_c = stop_signal;
    tokio::pin!(ctrl_c);
    let mut check = tokio::time::interval(Duration::from_millis(200));
    let mut stats_tick = stats_ticker(args.stats_interval);
    // Between `reconnecting` and `reconnected`, and then the recordings whose stream has not
    // come back yet (by their stream's id): their old connection's failure is expected.
    let mut rejoining = false;
    let mut awaiting: Vec<StreamId> = Vec::new();
    let mut media_watch = MediaWatch::default();
    let outcome: Result<End, Failure> = 'outer: loop {
        while let Some(stream) = pending.pop_front() {
            if single && (!recordings.is_empty() || !finished.is_empty()) {
                break;
            }
            let (mut sink, label) = match sink_for(&target, &stream, 0) {
                Ok(s) => s,
                Err(e) => break 'outer Err(e),
            };
            let expected = expected_tracks(&stream, &sink, &args);
            sink.set_expected(expected);
            sink.set_limits(args.duration, args.frames);
            tracing::info!(stream = %stream.id, name = %stream.name, "recording to {label}");
            if shared.is_none() {
                match SharedPeer::new(&peer_config).await {
                    Ok(p) => shared = Some(p),
                    Err(e) => break 'outer Err(e),
                }
            }
            let plan = RecordingPlan {
                client: &client,
                shared: shared.as_ref().expect("made above"),
                direct: &peer_config,
                json: args.json,
                stream: &stream,
                audio: !args.no_audio,
                video: !args.no_video,
                progress: Progress::in_group(bars.as_ref(), &label, quiet),
                stats: args.stats_interval.map(|i| (i, args.json)),
                measure: match (&measure, &args.expect) {
                    (Some(m), _) => Some(Arc::clone(m)),
                    (None, Some(_)) => {
                        let m = Arc::new(Mutex::new(Measurements::default()));
                        measured.push((stream.clone(), Arc::clone(&m)));
                        Some(m)
                    }
                    (None, None) => None,
                },
            };
            match start_recording(plan, sink).await {
                Ok(mut r) => {
                    if args.json {
                        crate::jsonl::emit(
                            "recordingStarted",
                            serde_json::json!({
                                "streamId": stream.id, "name": stream.name, "output": label,
                            }),
                        );
                    }
                    r.output = label;
                    r.json = args.json;
                    recordings.push(r);
                }
                Err(e) if single => break 'outer Err(e),
                Err(e) => eprintln!("vcall: stream {}: {e}", stream.id),
            }
        }
        tokio::select! {
            ev = events.recv() => match ev {
                Some(SessionEvent::StreamCreated { stream }) if awaiting.contains(&stream.id) => {
                    awaiting.retain(|id| id != &stream.id);
                    let shared = shared.as_ref().expect("made before any recording");
                    if let Some(r) = recordings.iter_mut().find(|r| r.stream.id == stream.id)
                        && let Err(e) = r.subscribe_again(shared, &peer_config, &client, &stream).await
                    {
                        break Err(e);
                    }
                }
                Some(SessionEvent::StreamCreated { stream }) if wanted(&stream) => pending.push_back(stream),
                Some(SessionEvent::StreamDestroyed { stream, reason }) => {
                    pending.retain(|s| s.id != stream.id);
                    if let Some(i) = recordings.iter().position(|r| r.stream.id == stream.id) {
                        tracing::info!(stream = %stream.id, reason, "stream ended");
                        // Its last packets may still be on their way behind the news.
                        match recordings.remove(i).finish(STREAM_END_LINGER).await {
                            Ok(st) => finished.push(st),
                            Err(e) => break Err(e),
                        }
                        if single {
                            break Ok(End::Complete);
                        }
                    }
                }
                Some(SessionEvent::SessionDisconnected { reason }) => break Err(disconnected_failure(&reason)),
                None => break Err(disconnected_failure("networkDisconnected")),
                Some(ev @ SessionEvent::StreamPathChanged { .. }) => report_path(&ev, args.json),
                Some(ev @ SessionEvent::Reconnecting { .. }) => {
                    report_rejoin(&ev, args.json);
                    rejoining = true;
                }
                Some(ev @ SessionEvent::Reconnected { .. }) => {
                    report_rejoin(&ev, args.json);
                    let SessionEvent::Reconnected { streams, .. } = ev else { unreachable!() };
                    // A new connection for everything; each recording subscribes again as its
                    // stream is back, and goes on in the same file.
                    let fresh = match SharedPeer::new(&peer_config).await {
                        Ok(p) => p,
                        Err(e) => break Err(e),
                    };
                    if let Some(old) = shared.replace(fresh) {
                        tokio::spawn(async move { old.peer().close().await });
                    }
                    let shared = shared.as_ref().expect("just made");
                    rejoining = false;
                    media_watch = MediaWatch::default();
                    awaiting.clear();
                    let mut failed = None;
                    for r in recordings.iter_mut() {
                        match streams.iter().find(|s| s.id == r.stream.id) {
                            Some(stream) => {
                                if let Err(e) = r.subscribe_again(shared, &peer_config, &client, stream).await {
                                    failed = Some(e);
                                    break;
                                }
                            }
                            None => awaiting.push(r.stream.id.clone()),
                        }
                    }
                    if let Some(e) = failed {
                        break Err(e);
                    }
                }
                Some(_) => {}
            },
            _ = &mut ctrl_c => break Ok(End::Interrupted),
            _ = stats_tick.tick(), if args.stats_interval.is_some() => {
                for r in recordings.iter_mut() {
                    r.sample_stats().await;
                }
            }
            _ = all_complete(&mut recordings), if args.duration.is_some() || args.frames.is_some() => {
                break Ok(End::Complete);
            }
            _ = check.tick() => {
                let mut all_complete = !recordings.is_empty();
                for r in &recordings {
                    let st = *r.stats.borrow();
                    all_complete &= st.complete;
                    r.progress.set(st.video_frames, st.audio_frames, st.bytes);
                    r.progress.refresh();
                }
                if all_complete && (args.duration.is_some() || args.frames.is_some()) {
                    break Ok(End::Complete);
                }
                if let Some(limit) = args.conn.timeout
                    && started.elapsed() > limit
                    && finished.iter().all(|s| s.video_frames + s.audio_frames == 0)
                    && recordings.iter().all(|r| { let s = r.stats.borrow(); s.video_frames + s.audio_frames == 0 })
                {
                    break Err(Failure::new(Exit::NoMedia, format!("no media arrived within {limit:?}")));
                }
                if let Some(r) = recordings.iter().filter(|r| !rejoining && !awaiting.contains(&r.stream.id)).find(|r| {
                    *r.peer.state().borrow() == PeerState::New && r.started.elapsed() > CONNECT_LIMIT
                }) {
                    break Err(Failure::new(Exit::Media, format!("the media connection for stream {} failed (ICE/DTLS)", r.stream.id)));
                }
                // A broken media path is restarted (ICE) while signaling stays up; a broken
                // direct one is left for the server.
                if let Some(sh) = shared.as_ref().filter(|_| !rejoining) {
                    if let Err(e) = media_watch.check(sh.peer(), &client).await {
                        break Err(e);
                    }
                    let mut failed = None;
                    for r in recordings.iter_mut() {
                        if let Some(reason) = r.direct_broken()
                            && let Err(e) = r.fall_back(sh, &client, reason).await
                        {
                            failed = Some(e);
                            break;
                        }
                    }
                    if let Some(e) = failed {
                        break Err(e);
                    }
                }
            }
        }
    };
    // Whatever ended the call, every recording is finished so nothing received is lost.
    let mut first_error = None;
    for r in recordings {
        match r.finish(Duration::ZERO).await {
            Ok(st) => finished.push(st),
            Err(e) => {
                eprintln!("vcall: {e}");
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(shared) = shared {
        shared.peer().close().await;
    }
    if !matches!(&outcome, Err(f) if f.code == Exit::Disconnected) {
        client.disconnect().await;
    }
    let end = outcome?;
    if let Some(e) = first_error {
        return Err(e);
    }
    if finished
        .iter()
        .all(|s| s.video_frames + s.audio_frames == 0)
        && matches!(end, End::Complete)
    {
        return Err(Failure::new(Exit::NoMedia, "no media was received"));
    }
    if let Some(expect) = &args.expect {
        check_expectations(&expect.0, &measured, args.json)?;
    }
    Ok(match end {
        End::Complete => Exit::Ok,
        End::Interrupted => Exit::Interrupted,
    })
}

/// Checks `--expect` on every stream recorded; prints each result on stderr.
fn check_expectations(
    conditions: &[crate::client::conditions::Condition],
    measured: &[(Stream, Arc<Mutex<Measurements>>)],
    json: bool,
) -> Result<(), Failure> {
    if measured.is_empty() {
        return Err(Failure::new(
            Exit::Assertion,
            "--expect: no stream was received to check",
        ));
    }
    let mut failures = Vec::new();
    for (stream, m) in measured {
        let m = m.lock().expect("measurements lock");
        for c in conditions {
            let line = match m.value(&c.metric) {
                Ok(v) if c.holds(v) => format!("ok      {c} (measured {})", c.show(v)),
                Ok(v) => format!("FAILED  {c} (measured {})", c.show(v)),
                Err(why) => format!("FAILED  {c} (cannot be measured: {why})"),
            };
            eprintln!("vcall: expect: stream {}: {line}", stream.id);
            if json {
                let (measured, reason) = match m.value(&c.metric) {
                    Ok(v) => (Some(v), None),
                    Err(why) => (None, Some(why)),
                };
                crate::jsonl::emit(
                    "expect",
                    serde_json::json!({
                        "streamId": stream.id, "condition": c.to_string(),
                        "ok": measured.is_some_and(|v| c.holds(v)),
                        "measured": measured, "reason": reason,
                    }),
                );
            }
        }
        failures.extend(
            m.check(conditions)
                .into_iter()
                .map(|f| format!("stream {}: {f}", stream.id)),
        );
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(Exit::Assertion, failures.join("; ")))
    }
}
