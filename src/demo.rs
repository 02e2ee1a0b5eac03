//! `vcall demo`: the embedded server in-process on a free loopback port, a publisher (camera
//! and microphone where they exist, the test sources otherwise) and a recording subscriber,
//! then a summary and the commands that do the same by hand.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::auth::{KeyPair, Role, SessionProps, TokenClaims, unix_now};
use crate::cli::{ConnArgs, DemoArgs, PublishArgs, SubscribeArgs};
use crate::client::measure::Measurements;
use crate::exit::{CmdResult, Exit, Failure};
use crate::media::sources::{AudioSpec, VideoSpec};
use crate::server::{self, ServerConfig};
use crate::signaling::server_url::ServerUrl;

pub async fn demo(args: DemoArgs, quiet: bool) -> CmdResult {
    if crate::record::Container::from_path(&args.output).is_none() {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "{}: the file name must end in .mp4 or .mkv",
                args.output.display()
            ),
        ));
    }
    let keys = KeyPair::generate();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = ServerConfig::new(keys.clone(), addr.ip());
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::run(listener, config, async {
        let _ = server_stopped.await;
    }));
    let session = keys.create_session(&SessionProps {
        p2p: false,
        location_hint: None,
        created_at: unix_now(),
        nonce: "demo".into(),
    });
    let token = |role| {
        keys.create_token(&TokenClaims {
            iss: keys.key.clone(),
            sid: session.clone(),
            role,
            data: String::new(),
            iat: unix_now(),
            exp: unix_now() + 3600,
        })
    };
    let url = ServerUrl::parse(&format!("ws://{addr}")).expect("a socket address is a URL's host");
    let conn = |role| ConnArgs {
        url: url.clone(),
        session: session.clone(),
        token: token(role),
        data: String::new(),
        ice_servers: vec![],
        ice_transport: crate::cli::IceTransport::All,
        dtls_certificate: None,
        timeout: None,
        janus: crate::cli::JanusArgs::default(),
    };

    // Camera and microphone where they work, the test sources otherwise.
    let camera = crate::media::devices::open_camera(None, 640, 480, 30.0).is_ok();
    let mic = crate::media::devices::open_mic(None).is_ok();
    let video = match camera {
        true => VideoSpec::Camera(None),
        false => VideoSpec::TestSrc { busy: false },
    };
    let audio = match mic {
        true => AudioSpec::Mic(None),
        false => AudioSpec::Tone(440.0),
    };
    eprintln!(
        "vcall demo: server on ws://{addr}; publishing {} and {}",
        if camera {
            "the camera"
        } else {
            "the test pattern (no camera found)"
        },
        if mic {
            "the microphone"
        } else {
            "a test tone (no microphone found)"
        }
    );
    let publish_args = PublishArgs::vga(conn(Role::Publisher), "demo", video, audio);
    let (stop_pub, pub_stopped) = tokio::sync::oneshot::channel::<()>();
    let sent = crate::client::progress::Progress::new("publish", true);
    let publisher = tokio::spawn(crate::client::publish::publish(
        publish_args,
        sent.clone(),
        async {
            let _ = pub_stopped.await;
        },
    ));
    let measure = Arc::new(Mutex::new(Measurements::default()));
    let subscribe_args = SubscribeArgs {
        conn: conn(Role::Subscriber),
        impair: Default::default(),
        streams: vec![],
        no_audio: false,
        no_video: false,
        output: Some(args.output.clone()),
        output_dir: None,
        format: None,
        duration: Some(args.duration),
        frames: None,
        expect: None,
        stats_interval: None,
        json: false,
    };
    let started = Instant::now();
    let sub_result = crate::client::subscribe::subscribe(
        subscribe_args,
        quiet,
        crate::client::interrupted(),
        Some(Arc::clone(&measure)),
    )
    .await;
    let _ = stop_pub.send(());
    let pub_result = publisher
        .await
        .map_err(|e| Failure::new(Exit::Failure, e.to_string()))?;
    let _ = stop_server.send(());
    let _ = server.await;
    let sub_exit = sub_result?;
    pub_result?;

    let m = measure.lock().expect("measurements lock").clone();
    let (video_sent, audio_sent, _) = sent.counts();
    let latency = (!camera)
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
        return Ok(sub_exit);
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
        None if camera => {
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
    Ok(sub_exit)
}
