//! `vcall echo-test`: is this media server healthy? The test pattern and tone go out, come
//! back, and the burned-in capture times give the round trip. Against Janus it is the
//! EchoTest plugin (one peer connection, media looped back by the server); against a vcall
//! server it is a publish and a subscription to that same stream (through the SFU and back).

use crate::media::sources::{AudioSpec, Limited, VideoSpec};
use crate::media::testsrc::Pattern;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;

use crate::cli::{EchoTestArgs, OutFormat};
use crate::client::measure::Measurements;
use crate::client::output::Sink;
use crate::client::progress::Progress;
use crate::client::publish::{
    Media, Sending, Sources, Ssrcs, TrackPair, VideoInput, add_tracks, new_msid, open_sources,
};
use crate::client::subscribe::{Incoming, Recording, SharedPeer, record_peer};
use crate::client::watch::{MediaAction, MediaWatch};
use crate::client::{Conn, Joined, Purpose, janus_options, join, peer_config};
use crate::exit::{CmdResult, Exit, Failure};
use crate::peer::{Network, Peer, PeerConfig, PeerError, PeerState, RemoteTrack};
use crate::record::{Container, RecordStats, Recorder};
use crate::session::{Reason, SessionEvent, Stream, now_ms};
use crate::signaling::janus::EchoTest;
use crate::signaling::native::Via;
use crate::signaling::server_url::ServerUrl;

const CONNECT_LIMIT: Duration = Duration::from_secs(20);
/// The longest wait, once sending has stopped, for the last frame sent to come back.
const RETURN_LIMIT: Duration = Duration::from_secs(3);
const NAME: &str = "echo-test";

/// How the media goes round.
enum Loop {
    Janus(Box<EchoTest>),
    Native(Box<Joined>, Arc<Peer>, crate::session::StreamId),
}

/// What an echo test sends, ready before anything connects.
struct Outbound {
    peer: Peer,
    /// What comes back on the same connection.
    incoming: mpsc::UnboundedReceiver<RemoteTrack>,
    msid: String,
    tracks: TrackPair,
    ssrcs: Ssrcs,
    sources: Sources,
}

/// Where what comes back goes: the recording's output, and the marks read from it.
struct Back {
    sink: Sink,
    measure: Arc<Mutex<Measurements>>,
}

/// The one stream of an echo test, as its recording knows it.
fn echo_stream() -> Stream {
    Stream {
        id: NAME.into(),
        name: NAME.into(),
        has_audio: true,
        has_video: true,
        connection_id: Default::default(),
        created_at: now_ms(),
        path: crate::session::MediaPath::Routed,
        owner: String::new(),
    }
}

/// What `vcall echo-test` was asked to do, read from the flags once.
struct Settings {
    conn: Conn,
    network: Network,
    duration: Duration,
    /// `--frames`: the video frames to send, instead of a duration.
    frames: Option<u64>,
    json: bool,
}

/// Checks a server end to end: sends the test pattern and tone, records what comes back,
/// and reports the round trip.
pub async fn echo_test(
    flags: EchoTestArgs,
    quiet: bool,
    stop_signal: impl std::future::Future<Output = ()>,
) -> CmdResult {
    let args = Settings {
        conn: Conn::from_args(&flags.conn),
        network: Network::new(flags.impair.impair.as_ref()),
        duration: flags.duration,
        frames: flags.frames,
        json: flags.json,
    };
    let sink = match &flags.output {
        Some(path) => {
            let container = Container::from_path(path).ok_or_else(|| {
                Failure::new(
                    Exit::Usage,
                    format!("{}: the file name must end in .mp4 or .mkv", path.display()),
                )
            })?;
            Sink::container(Recorder::create(path, container, 2)?)
        }
        None => Sink::for_format(OutFormat::Mkv, Box::new(std::io::sink()), 2)?,
    };
    let mut sources = open_sources(&Media::vga(
        VideoSpec::TestSrc(Pattern::Plain),
        AudioSpec::Tone(440.0),
    ))?;
    // With `--frames`, the frames count once the way back is up (sending starts before: a
    // vcall server confirms a stream once its media arrives, and only then can it be
    // subscribed to).
    let counting = Arc::new(AtomicBool::new(false));
    if let Some(n) = args.frames {
        sources.video = match sources.video.take() {
            Some(VideoInput::Raw(src, enc)) => Some(VideoInput::Raw(
                Box::new(Limited::new(src, n, Arc::clone(&counting))),
                enc,
            )),
            other => other,
        };
    }
    let network = args.network.clone();
    let config = peer_config(&args.conn, network.clone());
    let sent = Progress::new("echo-test", quiet);
    let measure = Arc::new(Mutex::new(Measurements::default()));
    let back = Back {
        sink,
        measure: Arc::clone(&measure),
    };
    let started = Instant::now();

    // Out and back: the sending connection, and where what comes back is recorded. A
    // connection that does not come up within an attempt's time is made anew, with a new
    // offer, until the setup limit.
    let janus = matches!(args.conn.url, ServerUrl::Janus(_));
    let mut watch = MediaWatch::new(args.conn.setup_limit());
    let mut back = Some(back);
    let mut sources = Some(sources);
    let (lp, recording, sending) = loop {
        let out = outbound(&config, janus, sources.take().expect("kept")).await?;
        let attempt = match janus {
            true => through_janus(&args, out, &mut back, &sent, &mut watch).await?,
            false => {
                through_vcall(&args, network.clone(), out, &mut back, &sent, &mut watch).await?
            }
        };
        let (e, kept) = match attempt {
            Ok(up) => {
                counting.store(true, Ordering::Relaxed);
                break up;
            }
            Err(not_up) => not_up,
        };
        let state = match e {
            PeerError::ConnectTimeout(_) => PeerState::New,
            _ => PeerState::Failed,
        };
        if let MediaAction::Fail(why) = watch.decide(state, Instant::now()) {
            return Err(Failure::new(Exit::Media, format!("{why}: {e}")));
        }
        tracing::warn!("the media connection has not come up ({e}); setting it up anew");
        watch = watch.after_rejoin();
        sources = Some(kept);
    };

    // Send for the duration (or until Ctrl-C), then stop and tear down cleanly.
    let interrupted = run(&args, sending, &sent, stop_signal).await;
    // What is still on its way back: until the last frame sent has come back.
    let last_sent = sent.counts().0.checked_sub(1);
    if let Some(last) = last_sent
        && interrupted.as_ref().is_ok_and(|i| !i)
    {
        last_came_back(&measure, last).await;
    }
    let stats = recording.finish(Duration::ZERO).await;
    match lp {
        Loop::Janus(echo) => echo.stop().await,
        Loop::Native(joined, tx_peer, stream_id) => {
            if let Err(e) = joined.client.unpublish(&stream_id).await {
                tracing::debug!("unpublish: {e}");
            }
            joined.client.disconnect().await;
            tx_peer.close().await;
        }
    }
    sent.finish();
    let stats = stats?;
    let m = measure.lock().expect("measurements lock").clone();
    report(&args, &sent, &stats, &m, started)?;
    Ok(if interrupted? {
        Exit::Interrupted
    } else {
        Exit::Ok
    })
}

/// The sending connection with its tracks, and the sources.
async fn outbound(config: &PeerConfig, janus: bool, sources: Sources) -> Result<Outbound, Failure> {
    let (peer, incoming) = Peer::new(config).await?;
    let msid = new_msid();
    // Janus's EchoTest sends back in the sections it receives in.
    let ssrcs = Ssrcs::random();
    let tracks = add_tracks(&peer, sources.codecs(), &msid, janus, ssrcs).await?;
    Ok(Outbound {
        peer,
        incoming,
        msid,
        tracks,
        ssrcs,
        sources,
    })
}

/// The media was negotiated now: how long the attempt may wait for its connection.
fn attempt_time(watch: &mut MediaWatch) -> Duration {
    let now = Instant::now();
    watch.negotiated(now);
    watch.attempt_time(now)
}

/// One attempt's outcome: up, or not up (why, and the sources back for the next attempt).
type Attempt = Result<(Loop, Recording, Sending), (PeerError, Sources)>;

/// Through Janus's EchoTest plugin: one connection, the media looped back in the sections
/// it went out in.
async fn through_janus(
    args: &Settings,
    out: Outbound,
    back: &mut Option<Back>,
    sent: &Progress,
    watch: &mut MediaWatch,
) -> Result<Attempt, Failure> {
    let offer = out.peer.create_offer().await?;
    let (echo, answer) = EchoTest::start(&janus_options(&args.conn), offer).await?;
    if let Err(e) = out.peer.accept_answer(&answer).await {
        echo.stop().await;
        return Err(e.into());
    }
    if let Err(e) = out.peer.connected(attempt_time(watch)).await {
        echo.stop().await;
        out.peer.close().await;
        return Ok(Err((e, out.sources)));
    }
    let back = back.take().expect("one attempt comes up");
    let recording = record_peer(
        &echo_stream(),
        Arc::new(out.peer),
        Incoming::all(out.incoming),
        back.sink,
        (Some(back.measure), None, None),
        Progress::new(NAME, true),
    );
    let sending = Sending::start(out.sources, out.tracks, out.ssrcs, sent, None, None);
    Ok(Ok((Loop::Janus(Box::new(echo)), recording, sending)))
}

/// Through a vcall server: the stream published, and subscribed to on the same connection
/// once the server reports it live (out through the SFU and back).
async fn through_vcall(
    args: &Settings,
    network: Network,
    out: Outbound,
    back: &mut Option<Back>,
    sent: &Progress,
    watch: &mut MediaWatch,
) -> Result<Attempt, Failure> {
    let mut joined = join(&args.conn, network, Purpose::Session("echo-test")).await?;
    let published = joined
        .client
        .publish(&out.peer, NAME, (true, true), &out.msid, None)
        .await;
    let stream_id = match published {
        Ok(id) => id,
        Err(e) => {
            joined.client.disconnect().await;
            return Err(e.into());
        }
    };
    if let Err(e) = out.peer.connected(attempt_time(watch)).await {
        joined.client.disconnect().await;
        out.peer.close().await;
        return Ok(Err((e, out.sources)));
    }
    let back = back.take().expect("one attempt comes up");
    let sending = Sending::start(out.sources, out.tracks, out.ssrcs, sent, None, None);
    // What comes back comes over the same connection.
    let peer = SharedPeer::over(Arc::new(out.peer), out.incoming);
    let (feed, tracks) = mpsc::unbounded_channel();
    let subscribed = async {
        wait_for_stream(&mut joined, &stream_id).await?;
        peer.subscribe(
            &joined.client,
            &stream_id,
            (true, true),
            &feed,
            Via::Server(None),
        )
        .await
    }
    .await;
    if let Err(e) = subscribed {
        sending.finish().await;
        joined.client.disconnect().await;
        peer.peer().close().await;
        return Err(e);
    }
    let mut recording = record_peer(
        &echo_stream(),
        Arc::clone(peer.peer()),
        tracks,
        back.sink,
        (Some(back.measure), None, None),
        Progress::new(NAME, true),
    );
    recording.keep_peer();
    let lp = Loop::Native(Box::new(joined), Arc::clone(peer.peer()), stream_id);
    Ok(Ok((lp, recording, sending)))
}

/// Waits until the server reports our stream live.
async fn wait_for_stream(
    joined: &mut Joined,
    stream_id: &crate::session::StreamId,
) -> Result<(), Failure> {
    let wait = async {
        loop {
            match joined.events.recv().await {
                Some(SessionEvent::StreamCreated { stream }) if stream.id == stream_id => {
                    return Ok(());
                }
                Some(SessionEvent::SessionDisconnected { reason }) => {
                    return Err(crate::client::disconnected_failure(&reason));
                }
                None => {
                    return Err(crate::client::disconnected_failure(
                        &Reason::NetworkDisconnected,
                    ));
                }
                Some(_) => {}
            }
        }
    };
    tokio::time::timeout(CONNECT_LIMIT, wait)
        .await
        .map_err(|_| {
            Failure::new(
                Exit::Media,
                "the server did not confirm the stream: it received no media",
            )
        })?
}

/// Sends until the duration is over or `stop` fires; `Ok(true)` when interrupted.
async fn run(
    args: &Settings,
    mut sending: Sending,
    sent: &Progress,
    stop: impl std::future::Future<Output = ()>,
) -> Result<bool, Failure> {
    let end = tokio::time::sleep(args.duration);
    tokio::pin!(end, stop);
    // Until every source has said it ended (`None`): its channel is then closed.
    let mut sources_open = true;
    let outcome = loop {
        let event = tokio::select! {
            // With `--frames`, the test pattern's end is the end, not the duration.
            () = &mut end, if args.frames.is_none() => Event::DurationReached,
            () = &mut stop => Event::Interrupted,
            r = sending.done.recv(), if sources_open => Event::SourceDone(r),
            _ = sent.tick() => Event::ProgressDue,
        };
        match event {
            Event::DurationReached => break Ok(false),
            Event::Interrupted => break Ok(true),
            Event::SourceDone(Some(Err(e))) => break Err(e),
            // With `--frames`, the test pattern's end is the end (the tone does not end).
            Event::SourceDone(None | Some(Ok(()))) if args.frames.is_some() => break Ok(false),
            Event::SourceDone(None) => sources_open = false,
            Event::SourceDone(Some(Ok(()))) | Event::ProgressDue => {}
        }
    };
    sending.finish().await;
    outcome
}

/// Waits until the frame numbered `last` (the last sent) has come back, or
/// [`RETURN_LIMIT`]: frames lost on the way back are then counted as lost, not as late.
async fn last_came_back(measure: &Mutex<Measurements>, last: u64) {
    let back = || {
        let m = measure.lock().expect("measurements lock");
        m.last_frame_number().is_some_and(|n| u64::from(n) >= last)
    };
    let deadline = tokio::time::Instant::now() + RETURN_LIMIT;
    let mut poll = tokio::time::interval(Duration::from_millis(10));
    while !back() && tokio::time::Instant::now() < deadline {
        poll.tick().await;
    }
}

/// Everything the echo test's sending waits for.
enum Event {
    DurationReached,
    Interrupted,
    /// A source ended (the test pattern and tone do not) or failed; `None`: all are done.
    SourceDone(Option<Result<(), Failure>>),
    /// Time to redraw the progress line.
    ProgressDue,
}

/// Video frames that did not come back: those missing between the first that came back
/// (earlier ones were sent before the way back was set up) and the last sent. `None`: none
/// came back readable.
fn lost_frames(m: &Measurements, video_sent: u64) -> Option<u64> {
    let last_back = u64::from(m.last_frame_number()?);
    Some(m.frames_lost + video_sent.saturating_sub(1).saturating_sub(last_back))
}

/// Prints the result; nothing back (audio or video) is a failure.
fn report(
    args: &Settings,
    sent: &Progress,
    back: &RecordStats,
    m: &Measurements,
    started: Instant,
) -> Result<(), Failure> {
    let (video_sent, audio_sent, _) = sent.counts();
    let lost = lost_frames(m, video_sent);
    // The round trip is the latency the marks measure: sent and received on one clock.
    let rtt = |metric: &str| m.value(metric).ok();
    let (p50, p95, max) = (rtt("latency.p50"), rtt("latency.p95"), rtt("latency.max"));
    let first_ms = m
        .first_frame
        .map(|t| t.duration_since(started).as_millis() as u64);
    let missing: Vec<&str> = [("video", back.video_frames), ("audio", back.audio_frames)]
        .iter()
        .filter(|(_, n)| *n == 0)
        .map(|(k, _)| *k)
        .collect();
    if args.json {
        let v = json!({
            "url": args.conn.url.to_string(),
            "ok": missing.is_empty(),
            "sent": { "videoFrames": video_sent, "audioFrames": audio_sent },
            "received": { "videoFrames": back.video_frames, "audioFrames": back.audio_frames, "decodedFrames": m.decoded, "lostVideoFrames": lost },
            "rttMs": { "p50": p50, "p95": p95, "max": max },
            "firstFrameMs": first_ms,
        });
        crate::jsonl::emit("echoTest", v);
    } else {
        println!("sent      {video_sent} video frames, {audio_sent} audio frames");
        println!(
            "returned  {} video frames ({} decoded, {} lost), {} audio frames",
            back.video_frames,
            m.decoded,
            lost.map_or("?".into(), |n| n.to_string()),
            back.audio_frames
        );
        match (p50, p95, max) {
            (Some(p50), Some(p95), Some(max)) => println!(
                "round trip  p50 {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms ({} frames measured)",
                m.latencies_ms.len()
            ),
            _ => println!("round trip  not measured (no test-pattern frame came back readable)"),
        }
        if let Some(ms) = first_ms {
            println!("first frame back {ms} ms after the start");
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(
            Exit::NoMedia,
            format!(
                "echo test failed: no {} came back from the server (sent {video_sent} video and {audio_sent} audio frames)",
                missing.join(" and no ")
            ),
        ))
    }
}
