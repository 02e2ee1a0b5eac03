//! `vcall subscribe`, in three steps: the flags become [`Settings`] (no I/O); a
//! [`Subscriber`] joins and runs one event loop (one `select!` over [`Event`]) that starts a
//! [`Recording`] per wanted stream and follows the session; the report finishes every
//! recording, checks `--expect` and picks the exit code. Every stream comes over one shared
//! peer connection (`shared.rs`), but those a peer-to-peer session sends directly.

mod recording;
mod shared;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::cli::{OutFormat, SubscribeArgs};
use crate::client::connect::{report_interruption, report_layer, report_path, report_rejoin};
use crate::client::measure::Measurements;
use crate::client::output::Sink;
use crate::client::progress::Progress;
use crate::client::stats::stats_ticker;
use crate::client::watch::MediaWatch;
use crate::client::{Conn, Joined, Purpose, disconnected_failure, join, match_stream};
use crate::conditions::Condition;
use crate::exit::{CmdResult, Exit, Failure};
use crate::peer::{Network, PeerConfig, PeerState};
use crate::record::{AUDIO, Container, RecordStats, Recorder, VIDEO};
use crate::session::{LayerWish, Reason, SessionEvent, Stream, StreamId};
use crate::signaling::Client;
use crate::signaling::negotiate::Side;

pub(crate) use recording::STREAM_END_LINGER;
pub(crate) use recording::{Recording, record_peer};
use recording::{RecordingPlan, start_recording};
pub(crate) use shared::{Incoming, SharedPeer};

/// How long a recording's media connection may take to come up (ICE and DTLS).
const CONNECT_LIMIT: Duration = Duration::from_secs(20);

/// How often the recordings' progress, the no-media limit, the media connections and the
/// direct paths are looked at.
const CHECK_INTERVAL: Duration = Duration::from_millis(200);
/// How often figures are sampled for `--report` without `--stats-interval`.
const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// Where the recordings go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// One stream into one file.
    File(PathBuf, Container),
    /// One stream to stdout.
    Stdout(OutFormat),
    /// Every stream into its own file in a folder.
    Dir(PathBuf, Container),
}

/// What `vcall subscribe` was asked to do, checked before any I/O: every conflict between
/// flags is a usage error here (exit 2), not a failure halfway through a call.
#[derive(Debug)]
pub(crate) struct Settings {
    target: Target,
    /// The streams to record, by id or name; empty: every stream, later ones too.
    streams: Vec<String>,
    /// The kinds to receive (a stream without one records the other).
    audio: bool,
    video: bool,
    /// `--duration` and `--frames`: each recording ends at the first reached.
    duration: Option<Duration>,
    frames: Option<u64>,
    /// `--expect`: checked on every recorded stream at the end.
    expect: Option<Vec<Condition>>,
    stats_interval: Option<Duration>,
    /// `--report`: the call report written when the recordings end.
    report: Option<PathBuf>,
    json: bool,
    /// `--timeout`: how long the call may bring no media at all.
    no_media_limit: Option<Duration>,
    conn: Conn,
    /// `--impair`: the network media goes through.
    network: Network,
}

impl Settings {
    /// The settings `args` ask for; `stdout_is_terminal` says whether media may not go to
    /// stdout (it would fill a terminal with binary).
    pub(crate) fn new(args: &SubscribeArgs, stdout_is_terminal: bool) -> Result<Settings, Failure> {
        let target = target(args, stdout_is_terminal)?;
        if args.json && matches!(target, Target::Stdout(_)) {
            return Err(Failure::new(
                Exit::Usage,
                "--json writes to stdout, which -o - gives to the media; record to a file or a folder",
            ));
        }
        if !matches!(target, Target::Dir(..)) && args.streams.len() > 1 {
            return Err(Failure::new(
                Exit::Usage,
                "-o records one stream; use --output-dir to record several",
            ));
        }
        Ok(Settings {
            target,
            streams: args.streams.clone(),
            audio: !args.no_audio,
            video: !args.no_video,
            duration: args.duration,
            frames: args.frames,
            expect: args.expect.as_ref().map(|e| e.0.clone()),
            stats_interval: args.stats_interval,
            report: args.report.clone(),
            json: args.json,
            no_media_limit: args.conn.timeout,
            conn: Conn {
                layer: LayerWish {
                    layer: args.layer,
                    max_size: args.max_size,
                    off: false,
                },
                ..Conn::from_args(&args.conn)
            },
            network: Network::new(args.impair.impair.as_ref()),
        })
    }

    /// An in-process recording (the demo's): every kind of the first stream at `conn`
    /// into `output`, a `container` file, for `duration`.
    pub(crate) fn record_for(
        conn: Conn,
        (output, container): (PathBuf, Container),
        duration: Duration,
    ) -> Settings {
        Settings {
            target: Target::File(output, container),
            streams: Vec::new(),
            audio: true,
            video: true,
            duration: Some(duration),
            frames: None,
            expect: None,
            stats_interval: None,
            report: None,
            json: false,
            no_media_limit: None,
            conn,
            network: Network::default(),
        }
    }

    /// How often each recording's figures are sampled: `--stats-interval`, or a second for
    /// `--report` alone.
    fn sample_every(&self) -> Option<Duration> {
        match (self.stats_interval, &self.report) {
            (Some(i), _) if !i.is_zero() => Some(i),
            (_, Some(_)) => Some(REPORT_INTERVAL),
            (i, None) => i,
        }
    }

    /// Whether one stream is recorded (to a file or stdout), not every stream into a folder.
    fn single(&self) -> bool {
        !matches!(self.target, Target::Dir(..))
    }

    /// Whether the recordings end by themselves (`--duration`, `--frames`).
    fn limited(&self) -> bool {
        self.duration.is_some() || self.frames.is_some()
    }

    fn wants(&self, stream: &Stream) -> bool {
        self.streams.is_empty()
            || self
                .streams
                .iter()
                .any(|w| match_stream([stream], w).is_some())
    }

    /// Tracks a stream will deliver to a sink.
    fn expected_tracks(&self, stream: &Stream, sink: &Sink) -> usize {
        usize::from(stream.has_video && self.video && sink.wants(VIDEO))
            + usize::from(stream.has_audio && self.audio && sink.wants(AUDIO))
    }
}

fn target(args: &SubscribeArgs, stdout_is_terminal: bool) -> Result<Target, Failure> {
    let usage = |m: String| Failure::new(Exit::Usage, m);
    match (&args.output, &args.output_dir) {
        (Some(p), _) if p.as_os_str() == "-" => {
            if stdout_is_terminal {
                return Err(usage(
                    "refusing to write media to a terminal: redirect stdout or pipe it to a player"
                        .into(),
                ));
            }
            Ok(Target::Stdout(args.format.unwrap_or(OutFormat::Mkv)))
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
        (None, Some(dir)) => match args.format {
            None => Ok(Target::Dir(dir.clone(), Container::Mp4)),
            Some(OutFormat::Mkv) => Ok(Target::Dir(dir.clone(), Container::Mkv)),
            Some(f) => Err(usage(
                format!("--output-dir records mp4 or mkv files, not {f:?}").to_lowercase(),
            )),
        },
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

/// A stream's sink and the name of where it goes.
fn sink_for(target: &Target, stream: &Stream) -> Result<(Sink, String), Failure> {
    Ok(match target {
        Target::File(path, c) => (
            Sink::container(Recorder::create(path, *c, 0)?),
            path.display().to_string(),
        ),
        Target::Dir(dir, c) => {
            let path: PathBuf = Path::new(dir).join(file_name(stream, *c));
            (
                Sink::container(Recorder::create(&path, *c, 0)?),
                path.display().to_string(),
            )
        }
        Target::Stdout(f) => (
            Sink::for_format(*f, Box::new(std::io::stdout()), 0)?,
            "stdout".to_owned(),
        ),
    })
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Complete,
    Interrupted,
}

/// Everything a running subscribe waits for.
enum Event {
    /// The session said something (`None`: its connection is gone).
    Session(Option<SessionEvent>),
    /// Ctrl-C, or the caller's stop.
    Interrupted,
    /// Time for `--stats-interval`'s figures.
    StatsDue,
    /// Every recording reached its `--duration` or `--frames`.
    LimitsReached,
    /// Time to look at progress, the no-media limit and the media connections.
    CheckDue,
    /// A recording whose stream ended has taken its last frames.
    Finished(StreamId, Result<RecordStats, Failure>),
}

/// A subscribe under way: the session it joined, the recordings it keeps, and what it
/// knows of the session between events.
struct Subscriber {
    settings: Settings,
    client: Client,
    events: mpsc::UnboundedReceiver<SessionEvent>,
    /// How every connection of this subscriber is made.
    peer_config: PeerConfig,
    quiet: bool,
    /// The terminal's progress lines, one per recording.
    bars: Option<indicatif::MultiProgress>,
    /// The caller's measurements (the demo's), shared by every recording; else, with
    /// `--expect`, one per recording in `measured`.
    measure: Option<Arc<Mutex<Measurements>>>,
    measured: Vec<(Stream, Arc<Mutex<Measurements>>)>,
    /// Wanted streams not recorded yet.
    pending: VecDeque<Stream>,
    recordings: Vec<Recording>,
    /// Recordings whose stream ended, taking the frames still on their way: each finishes
    /// on its own, so streams that end together do not wait for one another.
    finishing: tokio::task::JoinSet<(StreamId, Result<RecordStats, Failure>)>,
    /// The figures of recordings that ended.
    finished: Vec<RecordStats>,
    /// The connection every stream comes over (but direct ones), made with the first
    /// subscription and made again after joining again.
    shared: Option<SharedPeer>,
    started: Instant,
    /// Between `reconnecting` and `reconnected`: the old connection's failure is expected.
    rejoining: bool,
    /// After `reconnected`, recordings whose stream has not come back yet, as it was.
    awaiting: Vec<Stream>,
    media_watch: MediaWatch,
}

/// Subscribes until the limits, the end of the stream, or `stop` (Ctrl-C for the CLI).
/// With `measure`, video from vcall's test pattern is decoded and its marks read.
pub(crate) async fn subscribe(
    settings: Settings,
    quiet: bool,
    stop: impl std::future::Future<Output = ()>,
    measure: Option<Arc<Mutex<Measurements>>>,
) -> CmdResult {
    if let Target::Dir(dir, _) = &settings.target {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::new(
                Exit::Failure,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
    }
    if settings.report.is_some() {
        crate::jsonl::keep_for_report();
    }
    let joined = join(&settings.conn, settings.network.clone(), Purpose::Subscribe).await?;
    let mut subscriber = Subscriber::new(settings, joined, quiet, measure);
    let outcome = subscriber.run(stop).await;
    subscriber.report(outcome).await
}

impl Subscriber {
    fn new(
        settings: Settings,
        joined: Joined,
        quiet: bool,
        measure: Option<Arc<Mutex<Measurements>>>,
    ) -> Subscriber {
        let pending: VecDeque<Stream> = joined
            .streams()
            .iter()
            .filter(|s| settings.wants(s))
            .cloned()
            .collect();
        if pending.is_empty() {
            tracing::info!("waiting for a stream to be published");
        }
        let media_watch = MediaWatch::new(settings.conn.setup_limit());
        let Joined {
            client,
            events,
            peer_config,
            ..
        } = joined;
        Subscriber {
            settings,
            client,
            events,
            peer_config,
            quiet,
            bars: Progress::group(quiet),
            measure,
            measured: Vec::new(),
            pending,
            recordings: Vec::new(),
            finishing: tokio::task::JoinSet::new(),
            finished: Vec::new(),
            shared: None,
            started: Instant::now(),
            rejoining: false,
            awaiting: Vec::new(),
            media_watch,
        }
    }

    /// The event loop: records the wanted streams as they come until an [`End`] or a
    /// failure.
    async fn run(&mut self, stop: impl std::future::Future<Output = ()>) -> Result<End, Failure> {
        tokio::pin!(stop);
        let mut check = tokio::time::interval(CHECK_INTERVAL);
        let mut stats = stats_ticker(self.settings.sample_every());
        let (stats_on, limited) = (
            self.settings.sample_every().is_some(),
            self.settings.limited(),
        );
        loop {
            self.start_pending().await?;
            let event = tokio::select! {
                ev = self.events.recv() => Event::Session(ev),
                () = &mut stop => Event::Interrupted,
                _ = stats.tick(), if stats_on => Event::StatsDue,
                () = all_complete(&mut self.recordings), if limited => Event::LimitsReached,
                _ = check.tick() => Event::CheckDue,
                Some(done) = self.finishing.join_next(), if !self.finishing.is_empty() => {
                    let (stream, result) = done.map_err(|e| {
                        Failure::new(Exit::Failure, format!("recording task failed: {e}"))
                    })?;
                    Event::Finished(stream, result)
                }
            };
            let end = match event {
                Event::Session(Some(ev)) => self.on_session_event(ev).await?,
                Event::Session(None) => {
                    return Err(disconnected_failure(&Reason::NetworkDisconnected));
                }
                Event::Interrupted => Some(End::Interrupted),
                Event::StatsDue => {
                    for r in self.recordings.iter_mut() {
                        r.sample_stats().await;
                    }
                    None
                }
                Event::LimitsReached => Some(End::Complete),
                Event::CheckDue => self.check().await?,
                Event::Finished(stream, result) => {
                    self.finished.push(result?);
                    if let Some(shared) = &self.shared {
                        shared.ended(&stream);
                    }
                    self.settings.single().then_some(End::Complete)
                }
            };
            if let Some(end) = end {
                return Ok(end);
            }
        }
    }

    /// Starts a recording for each stream waiting for one (but one, with `-o`).
    async fn start_pending(&mut self) -> Result<(), Failure> {
        while let Some(stream) = self.pending.pop_front() {
            let had_one = !self.recordings.is_empty()
                || !self.finishing.is_empty()
                || !self.finished.is_empty();
            if self.settings.single() && had_one {
                self.pending.clear();
                return Ok(());
            }
            // An output that cannot be made, or no connection, ends the subscribe; a stream
            // that cannot be subscribed to ends it only when it is the one asked for.
            let (sink, label) = sink_for(&self.settings.target, &stream)?;
            // The file of one of many streams, removed when its subscription fails.
            let made = matches!(self.settings.target, Target::Dir(..)).then(|| label.clone());
            if self.shared.is_none() {
                self.shared = Some(SharedPeer::new(&self.peer_config).await?);
            }
            match self.start(&stream, sink, label).await {
                Ok(r) => {
                    if r.routed() {
                        self.media_watch.negotiated(Instant::now());
                    }
                    self.recordings.push(r)
                }
                Err(e) if self.settings.single() => return Err(e),
                Err(e) => {
                    eprintln!("vcall: stream {}: {e}", stream.id);
                    // Nothing of it was recorded: no empty file is left for it.
                    if let Some(path) = made {
                        let _ = std::fs::remove_file(path);
                    }
                }
            }
        }
        Ok(())
    }

    /// Subscribes to `stream`, recording into `sink` (`label` says where that is).
    async fn start(
        &mut self,
        stream: &Stream,
        mut sink: Sink,
        label: String,
    ) -> Result<Recording, Failure> {
        let settings = &self.settings;
        sink.set_expected(settings.expected_tracks(stream, &sink));
        sink.set_limits(settings.duration, settings.frames);
        tracing::info!(stream = %stream.id, name = %stream.name, "recording to {label}");
        let measure = match (&self.measure, &settings.expect) {
            (Some(m), _) => Some(Arc::clone(m)),
            (None, expect) if expect.is_some() || settings.report.is_some() => {
                let mut measurements = Measurements::default();
                measurements.thumbnails_wanted = settings.report.is_some();
                let m = Arc::new(Mutex::new(measurements));
                self.measured.push((stream.clone(), Arc::clone(&m)));
                Some(m)
            }
            (None, _) => None,
        };
        let plan = RecordingPlan {
            client: &self.client,
            shared: self.shared.as_ref().expect("made before"),
            direct: &self.peer_config,
            json: settings.json,
            stream,
            audio: settings.audio,
            video: settings.video,
            progress: Progress::in_group(self.bars.as_ref(), &label, self.quiet),
            stats: settings
                .stats_interval
                .or(settings.report.as_ref().map(|_| Duration::ZERO))
                .map(|i| (i, settings.json)),
            report_only: settings.stats_interval.is_none() && settings.report.is_some(),
            measure,
        };
        let mut r = start_recording(plan, sink).await?;
        if settings.json {
            crate::jsonl::emit(
                "recordingStarted",
                serde_json::json!({ "streamId": stream.id, "name": stream.name, "output": label }),
            );
        }
        r.output = label;
        r.json = settings.json;
        Ok(r)
    }

    async fn on_session_event(&mut self, event: SessionEvent) -> Result<Option<End>, Failure> {
        let json = self.settings.json;
        match event {
            SessionEvent::StreamCreated { stream }
                if self.awaiting.iter().any(|a| a.is_again(&stream)) =>
            {
                self.awaiting.retain(|a| !a.is_again(&stream));
                let shared = self.shared.as_ref().expect("made before any recording");
                if let Some(r) = self
                    .recordings
                    .iter_mut()
                    .find(|r| r.stream.is_again(&stream))
                {
                    r.subscribe_again(shared, &self.peer_config, &self.client, &stream)
                        .await?;
                    if r.routed() {
                        self.media_watch.negotiated(Instant::now());
                    }
                }
            }
            SessionEvent::StreamCreated { stream } if self.settings.wants(&stream) => {
                self.pending.push_back(stream)
            }
            SessionEvent::StreamDestroyed { stream, reason } => {
                self.pending.retain(|s| s.id != stream.id);
                if let Some(i) = self
                    .recordings
                    .iter()
                    .position(|r| r.stream.id == stream.id)
                {
                    tracing::info!(stream = %stream.id, %reason, "stream ended");
                    // Its last packets may still be on their way behind the news.
                    let recording = self.recordings.remove(i);
                    let id = stream.id.clone();
                    self.finishing
                        .spawn(async move { (id, recording.finish(STREAM_END_LINGER).await) });
                }
            }
            SessionEvent::SessionDisconnected { reason } => {
                return Err(disconnected_failure(&reason));
            }
            ev @ SessionEvent::StreamPathChanged { .. } => report_path(&ev, json),
            SessionEvent::StreamInterrupted { ref stream }
            | SessionEvent::StreamResumed { ref stream } => {
                if let Some(r) = self
                    .recordings
                    .iter_mut()
                    .find(|r| r.stream.id == stream.id)
                {
                    report_interruption(&event, json);
                    r.stream = stream.clone();
                }
            }
            SessionEvent::LayerSwitched {
                ref stream, layer, ..
            } => {
                if let Some(r) = self.recordings.iter_mut().find(|r| r.stream.id == *stream) {
                    report_layer(&event, json);
                    r.set_layer(layer);
                }
            }
            ev @ SessionEvent::Reconnecting { .. } => {
                report_rejoin(&ev, json);
                self.rejoining = true;
            }
            ev @ SessionEvent::Reconnected { .. } => {
                report_rejoin(&ev, json);
                if let SessionEvent::Reconnected { streams, .. } = ev {
                    self.rejoined(&streams).await?;
                }
            }
            _ => {}
        }
        Ok(None)
    }

    /// Joined again (as a new connection): a new shared connection for everything, and each
    /// recording subscribes again as its stream is back, going on in the same output.
    async fn rejoined(&mut self, streams: &[Stream]) -> Result<(), Failure> {
        let fresh = SharedPeer::new(&self.peer_config).await?;
        if let Some(old) = self.shared.replace(fresh) {
            tokio::spawn(async move { old.peer().close().await });
        }
        let shared = self.shared.as_ref().expect("just made");
        self.rejoining = false;
        self.media_watch = self.media_watch.after_rejoin();
        self.awaiting.clear();
        for r in self.recordings.iter_mut() {
            match streams.iter().find(|s| r.stream.is_again(s)) {
                Some(stream) => {
                    r.subscribe_again(shared, &self.peer_config, &self.client, stream)
                        .await?;
                    if r.routed() {
                        self.media_watch.negotiated(Instant::now());
                    }
                }
                None => self.awaiting.push(r.stream.clone()),
            }
        }
        Ok(())
    }

    /// Shows progress, and ends the subscribe when its limits are reached, no media came
    /// within `--timeout`, or a media connection never came up; restarts a broken media
    /// path (ICE) while signaling stays up, and leaves a broken direct one for the server.
    async fn check(&mut self) -> Result<Option<End>, Failure> {
        let mut all_complete = !self.recordings.is_empty();
        for r in &self.recordings {
            let st = *r.stats.borrow();
            all_complete &= st.complete;
            r.progress.set(st.video_frames, st.audio_frames, st.bytes);
            r.progress.refresh();
        }
        if all_complete && self.settings.limited() {
            return Ok(Some(End::Complete));
        }
        let nothing = |s: &RecordStats| s.video_frames + s.audio_frames == 0;
        if let Some(limit) = self.settings.no_media_limit
            && self.started.elapsed() > limit
            && self.finished.iter().all(nothing)
            && self.recordings.iter().all(|r| nothing(&r.stats.borrow()))
        {
            // A connection that never came up is a media failure, not a quiet stream.
            if self.media_watch.setting_up().is_some() {
                return Err(Failure::new(Exit::Media, self.media_watch.setup_failure()));
            }
            return Err(Failure::new(
                Exit::NoMedia,
                format!("no media arrived within {limit:?}"),
            ));
        }
        if self.rejoining {
            return Ok(None);
        }
        let never_connected = self.recordings.iter().find(|r| {
            !self.awaiting.iter().any(|a| a.id == r.stream.id)
                && *r.peer.state().borrow() == PeerState::New
                && r.started.elapsed() > CONNECT_LIMIT
        });
        if let Some(r) = never_connected {
            return Err(Failure::new(
                Exit::Media,
                format!(
                    "the media connection for stream {} failed (ICE/DTLS)",
                    r.stream.id
                ),
            ));
        }
        if let Some(shared) = self.shared.as_ref() {
            self.media_watch
                .check(shared.peer(), &self.client, Side::Receiving)
                .await?;
            for r in self.recordings.iter_mut() {
                if let Some(reason) = r.direct_broken() {
                    r.fall_back(shared, &self.client, reason).await?;
                    // Its media comes over the shared connection now, which is watched.
                    self.media_watch.negotiated(Instant::now());
                }
            }
        }
        Ok(None)
    }

    /// Whatever ended the call, every recording is finished so nothing received is lost;
    /// then the session is left, `--expect` checked, and the exit code chosen.
    async fn report(self, outcome: Result<End, Failure>) -> CmdResult {
        let Subscriber {
            settings,
            client,
            recordings,
            mut finishing,
            mut finished,
            shared,
            measured,
            ..
        } = self;
        let mut results = Vec::new();
        for r in recordings {
            results.push(r.finish(Duration::ZERO).await);
        }
        while let Some(done) = finishing.join_next().await {
            results.push(done.map_or_else(
                |e| {
                    Err(Failure::new(
                        Exit::Failure,
                        format!("recording task failed: {e}"),
                    ))
                },
                |(_, r)| r,
            ));
        }
        let mut first_error = None;
        for result in results {
            match result {
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
        let result = (|| {
            let end = outcome?;
            if let Some(e) = first_error {
                return Err(e);
            }
            if end == End::Complete
                && finished
                    .iter()
                    .all(|s| s.video_frames + s.audio_frames == 0)
            {
                return Err(Failure::new(Exit::NoMedia, "no media was received"));
            }
            if let Some(expect) = &settings.expect {
                check_expectations(expect, &measured, settings.json)?;
            }
            Ok(match end {
                End::Complete => Exit::Ok,
                End::Interrupted => Exit::Interrupted,
            })
        })();
        // The report, whatever the outcome: a failed call is the one it is most needed for.
        let Some(path) = &settings.report else {
            return result;
        };
        match (
            crate::report::write_kept(path, "vcall subscribe: call report", None),
            result,
        ) {
            (Ok(()), result) => result,
            (Err(e), Ok(_)) => Err(e),
            (Err(e), Err(first)) => {
                eprintln!("vcall: {e}");
                Err(first)
            }
        }
    }
}

/// Checks `--expect` on every stream recorded; prints each result on stderr.
fn check_expectations(
    conditions: &[Condition],
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
            if json || crate::jsonl::reporting() {
                let (measured, reason) = match m.value(&c.metric) {
                    Ok(v) => (Some(v), None),
                    Err(why) => (None, Some(why)),
                };
                crate::jsonl::emit_or_keep(
                    json,
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        args: SubscribeArgs,
    }

    fn settings(flags: &[&str], terminal: bool) -> Result<Settings, Failure> {
        let cmd = Cmd::try_parse_from(std::iter::once("subscribe").chain(flags.iter().copied()))
            .expect("flags parse");
        Settings::new(&cmd.args, terminal)
    }

    fn usage(flags: &[&str], terminal: bool) -> String {
        match settings(flags, terminal) {
            Ok(s) => panic!("{flags:?} gave {s:?}, not a usage error"),
            Err(f) => {
                assert_eq!(f.code, Exit::Usage, "{flags:?}: {f}");
                f.to_string()
            }
        }
    }

    #[test]
    fn the_output_flags_choose_one_target() {
        let file = settings(&["-o", "a.mkv"], true).unwrap();
        assert_eq!(file.target, Target::File("a.mkv".into(), Container::Mkv));
        assert!(file.single());
        let dir = settings(&["--output-dir", "d", "--format", "mkv"], true).unwrap();
        assert_eq!(dir.target, Target::Dir("d".into(), Container::Mkv));
        assert!(!dir.single());
        let piped = settings(&["-o", "-", "--format", "y4m"], false).unwrap();
        assert_eq!(piped.target, Target::Stdout(OutFormat::Y4m));
        let default_piped = settings(&["-o", "-"], false).unwrap();
        assert_eq!(default_piped.target, Target::Stdout(OutFormat::Mkv));
    }

    #[test]
    fn conflicting_output_flags_are_usage_errors_before_any_io() {
        assert!(usage(&[], false).contains("nothing to do"));
        assert!(usage(&["-o", "a.avi"], false).contains(".mp4 or .mkv"));
        assert!(usage(&["-o", "a.mp4", "--format", "mkv"], false).contains("--format"));
        assert!(usage(&["-o", "-"], true).contains("terminal"));
        assert!(usage(&["--output-dir", "d", "--format", "wav"], false).contains("not wav"));
        assert!(usage(&["-o", "-", "--json"], false).contains("--json"));
        assert!(
            usage(&["-o", "a.mp4", "--stream", "x", "--stream", "y"], false)
                .contains("--output-dir")
        );
        // Several streams into a folder are fine; so is one stream with -o.
        settings(
            &["--output-dir", "d", "--stream", "x", "--stream", "y"],
            true,
        )
        .unwrap();
        settings(&["-o", "a.mp4", "--stream", "x"], true).unwrap();
    }

    #[test]
    fn limits_kinds_and_conditions_are_carried() {
        let s = settings(
            &[
                "-o",
                "a.mp4",
                "--no-audio",
                "--frames",
                "30",
                "--expect",
                "frames>=30",
            ],
            true,
        )
        .unwrap();
        assert!(s.video && !s.audio);
        assert!(s.limited());
        assert_eq!(s.frames, Some(30));
        assert_eq!(s.expect.as_ref().map(Vec::len), Some(1));
        assert!(!settings(&["-o", "a.mp4"], true).unwrap().limited());
    }
}
