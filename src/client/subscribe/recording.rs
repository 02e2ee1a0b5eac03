//! One subscribed stream being recorded: each of its tracks assembled into frames on a task
//! of its own, one blocking task writing them to the stream's sink (a recorder or a stdout
//! writer), which alone touches the output; the way its media comes (through the server or
//! directly from the publisher) and how it changes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::sync::{mpsc, watch};

use super::shared::{Incoming, SharedPeer};
use crate::client::measure::{Measurements, TrackProbe};
use crate::client::output::Sink;
use crate::client::progress::Progress;
use crate::client::stats::{Figures, Monitor};
use crate::codec::OpusRecovery;
use crate::exit::{Exit, Failure};
use crate::peer::{Peer, PeerConfig, PeerState};
use crate::record::assemble::{Assembler, Frame, Output};
use crate::record::{AUDIO, RecordStats, VIDEO};
use crate::session::{Layer, MediaPath, Reason, Stream};
use crate::signaling::Client;
use crate::signaling::native::Via;
use crate::vocab::{Codec, Kind};

/// How long a direct path (a peer-to-peer session) has to bring its first frame before the
/// subscription goes through the server instead. A LAN needs well under a second (0.1 s
/// measured on loopback).
const DIRECT_FIRST_FRAME: Duration = Duration::from_secs(3);
/// The same when a TURN server is given: a relayed path takes an allocation and permissions
/// first (2.6 s measured through coturn on loopback).
const DIRECT_FIRST_FRAME_TURN: Duration = Duration::from_secs(6);
/// How long a direct path that brought frames may bring none before it counts as broken and
/// the subscription goes through the server.
const DIRECT_SILENCE: Duration = Duration::from_secs(1);

/// A frame on its way to its stream's sink.
struct Delivery {
    slot: usize,
    codec: crate::vocab::Codec,
    frame: Frame,
    arrival: Instant,
}

/// One subscribed stream being recorded.
pub(crate) struct Recording {
    pub(super) stream: Stream,
    pub(super) peer: Arc<Peer>,
    /// Closing it tells the sink task to finish.
    stop: Option<tokio::sync::oneshot::Sender<Duration>>,
    /// The sink task's outcome: the figures, or `None` when its reader went away.
    done: tokio::task::JoinHandle<Result<Option<RecordStats>, Failure>>,
    pub(super) stats: tokio::sync::watch::Receiver<RecordStats>,
    /// When the subscription was made: its media must connect within CONNECT_LIMIT.
    pub(super) started: Instant,
    /// This stream's line on the terminal.
    pub(super) progress: Progress,
    /// Where its media is measured, if it is.
    measure: Option<Arc<Mutex<Measurements>>>,
    /// Its `--stats-interval` figures.
    monitor: Option<Monitor>,
    /// Where it goes (for the report), and whether to report it as JSON.
    pub(super) output: String,
    pub(super) json: bool,
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
    direct: &PeerConfig,
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
                fallback = Some(Reason::DirectFailed);
            }
        }
    }
    shared
        .subscribe(client, &stream.id, kinds, feed, Via::Server(fallback))
        .await?;
    Ok(None)
}
/// What a recording starts from: the session, and what to do with one stream.
pub(super) struct RecordingPlan<'a> {
    pub(super) client: &'a Client,
    /// Every stream comes over this one connection, but those published directly.
    pub(super) shared: &'a SharedPeer,
    /// How a connection directly with a publisher is made.
    pub(super) direct: &'a PeerConfig,
    pub(super) stream: &'a Stream,
    pub(super) audio: bool,
    pub(super) video: bool,
    pub(super) measure: Option<Arc<Mutex<Measurements>>>,
    pub(super) progress: Progress,
    /// `--stats-interval`, and whether its reports are JSON.
    pub(super) stats: Option<(Duration, bool)>,
    /// Sampled for `--report` only (no `--stats-interval`).
    pub(super) report_only: bool,
    pub(super) json: bool,
}

pub(super) async fn start_recording(
    plan: RecordingPlan<'_>,
    sink: Sink,
) -> Result<Recording, Failure> {
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
        report_only,
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
        match report_only {
            true => m.report_only(),
            false => m,
        }
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
    sink: Sink,
    (measure, monitor, first): (
        Option<Arc<Mutex<Measurements>>>,
        Option<Monitor>,
        Option<FirstFrame>,
    ),
    progress: Progress,
) -> Recording {
    let figures = monitor.as_ref().map(|m| m.tracks.clone());
    let timelines: Arc<Mutex<[Timeline; 2]>> = Arc::default();
    let (tx, rx) = mpsc::channel::<Delivery>(256);
    // Set by the writer once it has stopped taking what is on its way: every track task
    // hands over the frames it holds and ends (see `write_frames`).
    let (flush_tx, flush_rx) = watch::channel(false);
    let started = Instant::now();
    let measure_out = measure.clone();
    // A task per track. When the recording is finishing (its writer asks for what they
    // hold) or has finished (its writer is gone), they stop taking packets and tracks, so a
    // shared connection hands its sections to whoever subscribes to them next.
    let mut flushing = flush_rx.clone();
    tokio::spawn(async move {
        loop {
            let track = tokio::select! {
                t = incoming.recv() => match t {
                    Some(t) => t,
                    None => break,
                },
                _ = tx.closed() => break,
                _ = flushing.wait_for(|&f| f) => break,
            };
            let track_figures = figures.as_ref().map(|t| t.add(track.codec, track.ssrc));
            let probe = measure
                .as_ref()
                .map(|m| TrackProbe::new(track.codec, Arc::clone(m), started));
            let timelines = Arc::clone(&timelines);
            tokio::spawn(assemble_track(
                track,
                probe,
                track_figures,
                timelines,
                (tx.clone(), flush_rx.clone()),
            ));
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<Duration>();
    let (stats_tx, stats_rx) = tokio::sync::watch::channel(RecordStats::default());
    let stream_id = stream.id.to_string();
    let blocking = sink.may_block();
    let write = write_frames(
        sink,
        (rx, flush_tx),
        stop_rx,
        stats_tx,
        first.map(|f| (f, stream_id)),
    );
    // A file's writes go to the page cache at once: written on the runtime, a frame costs
    // no thread's wakeup. An output that may wait on its reader gets a thread of its own.
    let done = if blocking {
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || handle.block_on(write))
    } else {
        tokio::spawn(write)
    };
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

/// One track's task: its packets assembled into frames (lost audio recovered from the next
/// packet's FEC where it can be), each put on the recording's timeline, measured and
/// counted, and handed to the writer, until the track ends, the writer asks for what it
/// holds (`flushing`), or the writer is gone.
async fn assemble_track(
    mut track: Incoming,
    mut probe: Option<TrackProbe>,
    figures: Option<Figures>,
    timelines: Arc<Mutex<[Timeline; 2]>>,
    (tx, mut flushing): (mpsc::Sender<Delivery>, watch::Receiver<bool>),
) {
    let slot = match track.codec.kind() {
        Kind::Video => VIDEO,
        Kind::Audio => AUDIO,
    };
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
            _ = tx.closed() => return,
            _ = flushing.wait_for(|&f| f) => {
                // The recording is finishing: the packets already here, then every frame
                // held behind a gap, go to the writer, and the task ends.
                ended = true;
                let now = Instant::now();
                let mut frames = Vec::new();
                while let Some(Some(p)) = track.recv().now_or_never() {
                    if let Some(probe) = probe.as_mut() {
                        probe.packet(p.seq());
                    }
                    frames.extend(asm.push(p, now).frames);
                }
                frames.extend(asm.flush(now).frames);
                Output { frames, request_keyframe: false }
            }
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
            let delivery = Delivery {
                slot,
                codec: track.codec,
                frame,
                arrival,
            };
            if tx.send(delivery).await.is_err() {
                return;
            }
        }
        if ended {
            return;
        }
    }
}

/// Where a writer is in stopping.
#[derive(Clone, Copy)]
enum Stopping {
    /// Not told to stop.
    No,
    /// Told to stop: frames still on their way are taken until then (see [`next_lingering`]).
    Lingering(tokio::time::Instant),
    /// The track tasks were asked for the frames they hold behind a gap: taken until every
    /// task has handed them over and ended (the channel closes), or until then.
    Flushing(tokio::time::Instant),
}

/// How long a finishing recording waits for its track tasks' last frames. They only take
/// what is already queued, so they answer at once; this bounds a task that cannot.
const FLUSH_LIMIT: Duration = Duration::from_millis(500);

/// The writer (the only one touching the output): frames into `sink` until the tracks end,
/// a limit is reached, or `stop` says for how long frames still on their way are taken;
/// after that, the track tasks are asked (`flush`) for what they still hold, so that a
/// stop loses no frame that had arrived. Its figures go to `stats` after every frame.
/// `None`: the reader of the output went away (a closed pipe ends an output without
/// failing).
async fn write_frames(
    mut sink: Sink,
    (mut rx, flush): (mpsc::Receiver<Delivery>, watch::Sender<bool>),
    mut stop: tokio::sync::oneshot::Receiver<Duration>,
    stats: watch::Sender<RecordStats>,
    mut first: Option<(FirstFrame, String)>,
) -> Result<Option<RecordStats>, Failure> {
    let mut stopping = Stopping::No;
    loop {
        let d = match stopping {
            Stopping::No => tokio::select! {
                biased;
                d = rx.recv() => d,
                linger = &mut stop => {
                    let until = tokio::time::Instant::now() + linger.unwrap_or_default();
                    stopping = Stopping::Lingering(until);
                    continue;
                }
            },
            Stopping::Lingering(until) => match next_lingering(&mut rx, until).await {
                Some(d) => Some(d),
                None => {
                    flush.send_replace(true);
                    stopping = Stopping::Flushing(tokio::time::Instant::now() + FLUSH_LIMIT);
                    continue;
                }
            },
            Stopping::Flushing(limit) => tokio::time::timeout_at(limit, rx.recv())
                .await
                .ok()
                .flatten(),
        };
        let Some(d) = d else { break };
        if let Some((f, stream)) = &first
            && (d.slot == VIDEO || !f.video)
        {
            f.report(stream, d.arrival);
            first = None;
        }
        if let Err(e) = sink.push(d.slot, d.codec, d.frame, d.arrival) {
            // What was written stays: the file is finished either way.
            let _ = stats.send(sink.finish().unwrap_or_default());
            if e.is_broken_pipe() {
                return Ok(None);
            }
            return Err(Failure::from(e).with_context("writing the recording"));
        }
        let now = sink.stats();
        // Readers borrow the figures when they want them; only a completed recording is
        // announced (a wakeup per frame was a tenth of a recording's CPU).
        stats.send_if_modified(|s| {
            let completed = now.complete && !s.complete;
            *s = now;
            completed
        });
        if now.complete {
            break; // a limit was reached: nothing more goes in
        }
    }
    match sink.finish() {
        Ok(finished) => Ok(Some(finished)),
        Err(e) if e.is_broken_pipe() => Ok(None),
        Err(e) => Err(Failure::from(e).with_context("finishing the recording")),
    }
}

/// A stopped recording takes frames while they keep coming: a gap this long ends it.
const STOP_QUIET: Duration = Duration::from_millis(300);

/// How long a recording whose stream ended may take the frames still on their way (the
/// server's `streamDestroyed` can overtake the stream's last packets).
pub(crate) const STREAM_END_LINGER: Duration = Duration::from_secs(1);

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
    pub(super) async fn subscribe_again(
        &mut self,
        shared: &SharedPeer,
        direct: &PeerConfig,
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
        // Where ids do not outlive a connection (LiveKit's), it has a new one.
        self.stream.id = stream.id.clone();
        self.stream.connection_id = stream.connection_id.clone();
        self.set_path(stream.path);
        Ok(())
    }

    /// Whether its media comes over the shared connection (through the server).
    pub(super) fn routed(&self) -> bool {
        self.direct.is_none()
    }

    /// The simulcast layer its video comes in now, as the server told.
    pub(super) fn set_layer(&mut self, layer: Layer) {
        if let Some(m) = self.monitor.as_mut() {
            m.layer = Some(layer);
        }
    }

    fn set_path(&mut self, path: MediaPath) {
        if let Some(m) = self.monitor.as_mut() {
            m.path = path;
        }
    }

    /// Why the direct path must be left, if it must: it brought no frame within
    /// [`DIRECT_FIRST_FRAME`] (`directFailed`), or none for [`DIRECT_SILENCE`] after
    /// bringing some (`directLost`), or its connection failed.
    pub(super) fn direct_broken(&mut self) -> Option<Reason> {
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
            (failed || now.duration_since(leg.since) > leg.first_within)
                .then_some(Reason::DirectFailed)
        } else {
            (failed || now.duration_since(leg.seen.1) > DIRECT_SILENCE)
                .then_some(Reason::DirectLost)
        }
    }

    /// Leaves the direct path for `reason`: its connection closes (its tracks end), and the
    /// stream is subscribed through the server over `shared`, into the same output.
    pub(super) async fn fall_back(
        &mut self,
        shared: &SharedPeer,
        client: &Client,
        reason: Reason,
    ) -> Result<(), Failure> {
        let Some(leg) = self.direct.take() else {
            return Ok(());
        };
        tracing::warn!(stream = %self.stream.id, %reason, "the direct path is not working; going through the server");
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
    pub(super) async fn sample_stats(&mut self) {
        let Some(m) = self.monitor.as_mut() else {
            return;
        };
        let mut pictures = Vec::new();
        if let Some(measure) = &self.measure {
            let mut measured = measure.lock().expect("measurements lock");
            m.measured = Some(measured.take_interval());
            pictures = measured.take_thumbnails();
        }
        m.sample(&self.peer).await;
        for p in pictures {
            use base64::Engine;
            crate::jsonl::emit_or_keep(
                self.json,
                "thumbnail",
                serde_json::json!({
                    "streamId": self.stream.id, "atMs": p.at_ms.round(), "reason": p.reason,
                    "jpeg": base64::engine::general_purpose::STANDARD.encode(&p.jpeg),
                }),
            );
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
                {
                    crate::jsonl::emit_or_keep(
                        self.json,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::OutFormat;

    fn opus(n: u64) -> Delivery {
        Delivery {
            slot: AUDIO,
            codec: Codec::Opus,
            // A 20 ms CELT frame of silence.
            frame: Frame {
                timestamp: n * 960,
                data: bytes::Bytes::from_static(&[0xf8, 0xff, 0xfe]),
                keyframe: false,
                fec: false,
            },
            arrival: Instant::now(),
        }
    }

    /// A stop (Ctrl-C, `--duration`) loses none of the frames a track still holds: the
    /// writer asks for them once nothing more is on its way, and takes them before finishing,
    /// which it does as soon as the track has ended (the clock is virtual: a writer that
    /// waited out its limit would show it).
    #[tokio::test(start_paused = true)]
    async fn a_stopped_recording_takes_the_frames_its_tracks_still_hold() {
        let start = tokio::time::Instant::now();
        let sink = Sink::for_format(OutFormat::Ogg, Box::new(std::io::sink()), 1).unwrap();
        let (tx, rx) = mpsc::channel(16);
        let (flush_tx, mut flushing) = watch::channel(false);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let (stats_tx, _stats) = watch::channel(RecordStats::default());
        // A track that has handed over frames 0-2 and holds 4-5 behind a gap (3 lost).
        for n in 0..3 {
            tx.send(opus(n)).await.unwrap();
        }
        let track = tokio::spawn(async move {
            if flushing.wait_for(|&f| f).await.is_ok() {
                for n in 4..6 {
                    let _ = tx.send(opus(n)).await;
                }
            }
        });
        stop_tx.send(Duration::ZERO).unwrap();
        let stats = write_frames(sink, (rx, flush_tx), stop_rx, stats_tx, None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stats.audio_frames, 5,
            "frames 0-2, then the two the track held"
        );
        assert!(
            start.elapsed() < FLUSH_LIMIT,
            "finished when the track ended"
        );
        track.await.unwrap();
    }
}
