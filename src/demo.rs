//! `vcall demo`: the embedded server in-process on a free loopback port, a publisher (camera
//! and microphone where they exist, the test sources otherwise) and a recording subscriber,
//! then a summary and the commands that do the same by hand.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::auth::{KeyPair, Role, SessionProps, TokenClaims, unix_now};
use crate::cli::DemoArgs;
use crate::client::Conn;
use crate::client::measure::Measurements;
use crate::client::progress::Progress;
use crate::client::{publish, subscribe};
use crate::exit::{CmdResult, Exit, Failure};
use crate::media::sources::{AudioSpec, VideoSpec};
use crate::media::testsrc::Pattern;
use crate::server::{self, ServerConfig};
use crate::signaling::server_url::ServerUrl;

/// The embedded server, running in-process on a free loopback port, with a session and the
/// credentials to join it.
struct Embedded {
    addr: std::net::SocketAddr,
    keys: KeyPair,
    session: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), std::io::Error>>,
}

impl Embedded {
    async fn start() -> Result<Embedded, Failure> {
        let keys = KeyPair::generate();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let config = ServerConfig::new(keys.clone(), addr.ip());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, config, async {
            let _ = stopped.await;
        }));
        let session = keys.create_session(&SessionProps {
            p2p: false,
            location_hint: None,
            created_at: unix_now(),
            nonce: "demo".into(),
        });
        Ok(Embedded {
            addr,
            keys,
            session,
            stop,
            task,
        })
    }

    /// How a client with `role` joins the demo's session.
    fn conn(&self, role: Role) -> Conn {
        let token = self.keys.create_token(&TokenClaims {
            iss: self.keys.key.clone(),
            sid: self.session.clone(),
            role,
            data: String::new(),
            iat: unix_now(),
            exp: unix_now() + 3600,
        });
        let url = ServerUrl::parse(&format!("ws://{}", self.addr))
            .expect("a socket address is a URL's host");
        Conn::new(url, &self.session, token)
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// What the demo publishes: the camera and microphone where they work, the test sources
/// otherwise.
struct Media {
    camera: bool,
    mic: bool,
}

impl Media {
    fn detect() -> Media {
        Media {
            camera: crate::media::devices::open_camera(None, 640, 480, 30.0).is_ok(),
            mic: crate::media::devices::open_mic(None).is_ok(),
        }
    }

    fn specs(&self) -> (VideoSpec, AudioSpec) {
        let video = match self.camera {
            true => VideoSpec::Camera(None),
            false => VideoSpec::TestSrc(Pattern::Plain),
        };
        let audio = match self.mic {
            true => AudioSpec::Mic(None),
            false => AudioSpec::Tone(440.0),
        };
        (video, audio)
    }

    fn describe(&self) -> (&'static str, &'static str) {
        (
            match self.camera {
                true => "the camera",
                false => "the test pattern (no camera found)",
            },
            match self.mic {
                true => "the microphone",
                false => "a test tone (no microphone found)",
            },
        )
    }
}

/// What the demo's call brought: what was sent, and what the subscriber measured.
struct Call {
    sent: Progress,
    measured: Measurements,
}

/// Starts the embedded server, publishes and records for `--duration`, and reports.
pub async fn demo(args: DemoArgs, quiet: bool) -> CmdResult {
    let Some(container) = crate::record::Container::from_path(&args.output) else {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "{}: the file name must end in .mp4 or .mkv",
                args.output.display()
            ),
        ));
    };
    let server = Embedded::start().await?;
    let media = Media::detect();
    let (video, audio) = media.describe();
    eprintln!(
        "vcall demo: server on ws://{}; publishing {video} and {audio}",
        server.addr
    );
    let started = Instant::now();
    let call = run_call(&args, container, &server, &media, quiet).await;
    server.stop().await;
    let (exit, call) = call?;
    report(&args, &media, &call, started);
    Ok(exit)
}

/// A publisher and a recording subscriber in the demo's session, until the recording has
/// its duration; then the publisher stops.
async fn run_call(
    args: &DemoArgs,
    container: crate::record::Container,
    server: &Embedded,
    media: &Media,
    quiet: bool,
) -> Result<(Exit, Call), Failure> {
    let (video, audio) = media.specs();
    let publish = publish::Settings::new_default(
        server.conn(Role::Publisher),
        "demo",
        publish::Media::vga(video, audio),
    );
    let (stop_pub, pub_stopped) = tokio::sync::oneshot::channel::<()>();
    let sent = Progress::new("publish", true);
    let publisher = tokio::spawn(publish::publish(publish, sent.clone(), async {
        let _ = pub_stopped.await;
    }));
    let measure = Arc::new(Mutex::new(Measurements::default()));
    let recording = subscribe::Settings::record_for(
        server.conn(Role::Subscriber),
        (args.output.clone(), container),
        args.duration,
    );
    let sub_result = subscribe::subscribe(
        recording,
        quiet,
        crate::client::interrupted(),
        Some(Arc::clone(&measure)),
    )
    .await;
    let _ = stop_pub.send(());
    let pub_result = publisher
        .await
        .map_err(|e| Failure::new(Exit::Failure, e.to_string()))?;
    let exit = sub_result?;
    pub_result?;
    let measured = measure.lock().expect("measurements lock").clone();
    Ok((exit, Call { sent, measured }))
}

/// The summary (a `demo` JSON line with `--json`), and the commands that do the same by hand.
fn report(args: &DemoArgs, media: &Media, call: &Call, started: Instant) {
    let m = &call.measured;
    let (video_sent, audio_sent, _) = call.sent.counts();
    let latency = (!media.camera)
        .then(|| Some((m.value("latency.p50").ok()?, m.value("latency.p95").ok()?)))
        .flatten();
    let first_ms = m
        .first_frame
        .map(|first| first.duration_since(started).as_secs_f64() * 1000.0);
    if args.json {
        crate::jsonl::emit(
            "demo",
            serde_json::json!({
                "output": args.output.display().to_string(),
                "durationMs": args.duration.as_millis() as u64,
                "sent": { "videoFrames": video_sent, "audioFrames": audio_sent },
                "received": { "decodedFrames": m.decoded, "unreadableMarks": m.unreadable },
                "latencyMs": latency.map(|(p50, p95)| serde_json::json!({ "p50": p50, "p95": p95 })),
                "firstFrameMs": first_ms.map(|ms| ms.round() as u64),
            }),
        );
        return;
    }
    println!(
        "recorded {} ({:?} of audio and video)",
        args.output.display(),
        args.duration
    );
    println!("frames sent: {video_sent} video, {audio_sent} audio");
    println!(
        "video frames received and decoded: {} (marks unreadable in {})",
        m.decoded, m.unreadable
    );
    match latency {
        Some((p50, p95)) => {
            println!("latency (capture to receipt): p50 {p50:.1} ms, p95 {p95:.1} ms")
        }
        None if media.camera => {
            println!("latency: not measured (the camera's pictures carry no capture marks)")
        }
        None => println!("latency: not measured (no frame's marks could be read)"),
    }
    if let Some(ms) = first_ms {
        println!("first decoded frame {ms:.0} ms after subscribing");
    }
    println!();
    println!("The same by hand, in separate terminals:");
    println!("  vcall serve --api-key KEY --api-secret SECRET");
    println!("  export VCALL_API_KEY=KEY VCALL_API_SECRET=SECRET");
    println!("  export VCALL_SESSION=$(vcall session create)");
    println!(
        "  vcall publish --token \"$(vcall token create --role publisher)\" --video testsrc --audio tone"
    );
    println!("  vcall list-streams --token \"$(vcall token create --role subscriber)\"");
    println!(
        "  vcall subscribe --token \"$(vcall token create --role subscriber)\" -o call.mp4 --duration 10s"
    );
}
