//! The client commands: joining a session, and what each command does once joined.

pub mod adapt;
pub mod connect;
pub mod echo;
pub mod encoding;
pub mod file_video;
pub mod loadtest;
pub mod measure;
pub mod moderate;
pub mod output;
pub mod progress;
pub mod publish;
pub mod stats;
pub mod subscribe;
pub mod watch;

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::cli::{ConnArgs, IceTransport};
use crate::exit::{Exit, Failure};
use crate::media::SourceError;
use crate::peer::DtlsCertificate;
use crate::peer::{Network, PeerConfig};
use crate::session::{LayerWish, Reason, SessionEvent, Stream};
use crate::signaling::janus::JanusOptions;
use crate::signaling::janus::videoroom::{RoomOptions, VideoRoomClient};
use crate::signaling::livekit::{self, LiveKitClient};
use crate::signaling::native::{Login, NativeClient};
use crate::signaling::server_url::ServerUrl;
use crate::signaling::whip::{self, WhipClient};
use crate::signaling::{Client, Retries};

/// A joined session.
pub struct Joined {
    pub client: Client,
    /// `sessionConnected`, with who and what was there.
    pub first: SessionEvent,
    pub events: mpsc::UnboundedReceiver<SessionEvent>,
    pub peer_config: PeerConfig,
}

impl Joined {
    pub fn streams(&self) -> &[Stream] {
        match &self.first {
            SessionEvent::SessionConnected { streams, .. } => streams,
            _ => &[],
        }
    }
}

/// The media socket address: loopback when the server is on loopback, else all interfaces.
fn media_ip(server: &ServerUrl) -> IpAddr {
    // `authority` always has a port: each of the URL schemes has a default one.
    let loopback = server
        .authority()
        .to_socket_addrs()
        .is_ok_and(|mut addrs| addrs.all(|a| a.ip().is_loopback()));
    if loopback {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

/// Where and as whom a command connects: the connection flags, read once at the command's
/// start; everything below the command takes this.
#[derive(Debug, Clone)]
pub struct Conn {
    pub url: ServerUrl,
    /// The session id (Janus: the room); unused by WHIP/WHEP and LiveKit.
    pub session: String,
    pub token: String,
    /// Client data, visible to the others.
    pub data: String,
    pub ice_servers: Vec<String>,
    /// Media only through TURN relays.
    pub relay_only: bool,
    pub dtls_certificate: Option<DtlsCertificate>,
    /// `--timeout`: the limit for each wait, when given.
    pub timeout: Option<Duration>,
    /// Attempts to join again (default: the protocol's), and the delay between them.
    pub max_retries: Option<u32>,
    pub retry_delay: Duration,
    /// Janus only.
    pub api_secret: Option<String>,
    pub pin: Option<String>,
    pub display: Option<String>,
    pub create_room: bool,
    pub keepalive: Option<Duration>,
    /// Which layer of a simulcast stream subscriptions get (`subscribe --layer`,
    /// `--max-size`).
    pub layer: LayerWish,
}

impl Conn {
    /// The settings the flags ask for.
    pub fn from_args(args: &ConnArgs) -> Conn {
        Conn {
            url: args.url.clone(),
            session: args.session.clone(),
            token: args.token.clone(),
            data: args.data.clone(),
            ice_servers: args.ice_servers.clone(),
            relay_only: args.ice_transport == IceTransport::Relay,
            dtls_certificate: args.dtls_certificate.clone(),
            timeout: args.timeout,
            max_retries: args.janus.max_retries,
            retry_delay: args.janus.retry_delay,
            api_secret: args.janus.api_secret.clone(),
            pin: args.janus.pin.clone(),
            display: args.janus.display.clone(),
            create_room: args.janus.create_room,
            keepalive: (!args.janus.keepalive_interval.is_zero())
                .then_some(args.janus.keepalive_interval),
            layer: LayerWish::default(),
        }
    }

    /// A session at `url` with `token`, everything else as the flags' defaults have it
    /// (for clients run in-process, as the demo's).
    pub fn new(url: ServerUrl, session: &str, token: String) -> Conn {
        Conn {
            url,
            session: session.into(),
            token,
            data: String::new(),
            ice_servers: Vec::new(),
            relay_only: false,
            dtls_certificate: None,
            timeout: None,
            max_retries: None,
            retry_delay: Duration::from_secs(1),
            api_secret: None,
            pin: None,
            display: None,
            create_room: false,
            keepalive: Some(Duration::from_secs(25)),
            layer: LayerWish::default(),
        }
    }

    /// The limit for each answer from the server.
    pub fn request_timeout(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(10))
    }

    /// How long setting a media connection up may take, every attempt together (a
    /// connection that has not come up within [`watch::SETUP_ATTEMPT`] is made anew).
    pub fn setup_limit(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(20))
    }
}

/// How to reach Janus, from the connection settings.
pub fn janus_options(conn: &Conn) -> JanusOptions {
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    JanusOptions {
        url: conn.url.clone(),
        token: nonempty(&conn.token),
        api_secret: conn.api_secret.clone(),
        timeout: conn.request_timeout(),
        max_retries: conn.max_retries.unwrap_or(3),
        retry_delay: conn.retry_delay,
        keepalive: conn.keepalive,
    }
}

/// The peer connection settings for a server at `url`.
pub fn peer_config(conn: &Conn, network: Network) -> PeerConfig {
    PeerConfig {
        ports: None,
        public_ip: None,
        certificate: conn.dtls_certificate.clone(),
        bind_ip: media_ip(&conn.url),
        ice_servers: conn.ice_servers.clone(),
        network,
        relay_only: conn.relay_only,
        send_rate: crate::peer::SendRate::default(),
        engine: None,
        ice_lite: false,
    }
}

/// With `--ice-transport relay`, a relay is asked of every TURN server before anything
/// else, so that wrong credentials (exit 3) or an unreachable server (exit 6) are said
/// plainly instead of ending as an ICE timeout. Otherwise the TURN servers are tried in
/// the background and a failure is a warning.
async fn check_turn(config: &PeerConfig) -> Result<(), Failure> {
    use crate::peer::turn::{TurnError, check_turn_servers};
    if !config.relay_only {
        if config.has_turn() {
            let (urls, ip) = (config.ice_servers.clone(), config.bind_ip);
            tokio::spawn(async move {
                if let Err(e) = check_turn_servers(&urls, ip).await {
                    tracing::warn!("{e}; media will not be relayed through it");
                }
            });
        }
        return Ok(());
    }
    if !config.has_turn() {
        return Err(Failure::new(
            Exit::Usage,
            "--ice-transport relay needs a TURN server: --ice-server turn:USER:PASS@HOST:PORT",
        ));
    }
    check_turn_servers(&config.ice_servers, config.bind_ip)
        .await
        .map_err(|e| {
            let code = match e {
                TurnError::Refused(..) => Exit::Auth,
                TurnError::Unreachable(_) => Exit::Unreachable,
                TurnError::Bad(..) => Exit::Usage,
            };
            Failure::new(code, e.to_string())
        })
}

/// What a command joins for: WHIP and WHEP endpoints carry one stream one way, without a
/// session.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    Publish,
    Subscribe,
    /// A command that needs a session (events, other participants), by name.
    Session(&'static str),
}

/// Connects to the session named by `conn`, for `purpose`; media will go through `network`.
pub async fn join(conn: &Conn, network: Network, purpose: Purpose) -> Result<Joined, Failure> {
    let peer_config = peer_config(conn, network);
    check_turn(&peer_config).await?;
    if let ServerUrl::Whip(role, _) = &conn.url {
        let role = *role;
        match (purpose, role) {
            (Purpose::Publish, whip::Role::Whip) | (Purpose::Subscribe, whip::Role::Whep) => {}
            (Purpose::Publish, whip::Role::Whep) | (Purpose::Subscribe, whip::Role::Whip) => {
                let (is, use_) = match role {
                    whip::Role::Whep => (
                        "a WHEP endpoint plays streams",
                        "publish to a WHIP one (whip+http(s)://…)",
                    ),
                    whip::Role::Whip => (
                        "a WHIP endpoint takes streams",
                        "subscribe from a WHEP one (whep+http(s)://…)",
                    ),
                };
                return Err(Failure::new(
                    Exit::Usage,
                    format!("{}: {is}; {use_}", conn.url),
                ));
            }
            (Purpose::Session(command), _) => whip::refuse(&conn.url, command)?,
        }
        let (c, first, events) = WhipClient::new(whip::Options {
            url: conn.url.clone(),
            token: conn.token.clone(),
            timeout: conn.request_timeout(),
            max_retries: conn.max_retries.unwrap_or(3),
            retry_delay: conn.retry_delay,
        })?;
        return Ok(Joined {
            client: Client::Whip(std::sync::Arc::new(c)),
            first,
            events,
            peer_config,
        });
    }
    if let ServerUrl::LiveKit(_) = &conn.url {
        // The room is the token's.
        let (c, first, events) = LiveKitClient::connect(&livekit::Options {
            url: conn.url.clone(),
            token: conn.token.clone(),
            timeout: conn.request_timeout(),
            retries: rejoin_retries(conn),
            layer: conn.layer,
        })
        .await?;
        return Ok(Joined {
            client: Client::LiveKit(c),
            first,
            events,
            peer_config,
        });
    }
    if conn.session.trim().is_empty() {
        return Err(Failure::new(Exit::Usage, "--session is empty"));
    }
    let (client, first, events) = if let ServerUrl::Janus(_) = &conn.url {
        if conn.layer.max_size.is_some() {
            return Err(Failure::new(
                Exit::Usage,
                "--max-size: Janus VideoRoom's substreams have no sizes to choose by; use --layer",
            ));
        }
        let room = RoomOptions {
            room: conn.session.clone(),
            pin: conn.pin.clone(),
            display: conn.display.clone(),
            create: conn.create_room,
            layer: conn.layer.layer,
        };
        let (c, first, events) = VideoRoomClient::connect(&janus_options(conn), &room).await?;
        (Client::Janus(c), first, events)
    } else {
        let (c, first, events) = NativeClient::connect(Login {
            url: conn.url.clone(),
            session_id: conn.session.clone().into(),
            token: conn.token.clone(),
            client_data: conn.data.clone(),
            timeout: conn.request_timeout(),
            retries: rejoin_retries(conn),
            layer: conn.layer,
        })
        .await?;
        (Client::Native(c), first, events)
    };
    Ok(Joined {
        client,
        first,
        events,
        peer_config,
    })
}

/// How a client whose signaling connection dropped joins again: `--max-retries` (10 unless
/// given) attempts, waits up to `--retry-delay`.
fn rejoin_retries(conn: &Conn) -> Retries {
    Retries {
        max: conn.max_retries.unwrap_or(10),
        delay: conn.retry_delay,
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Completes at the first Ctrl-C (SIGINT) or SIGTERM; a second Ctrl-C exits at once with 130.
///
/// The signals are caught from the moment this is called, not from its first poll: a command
/// that says "ready" after calling it never dies of a Ctrl-C that came right after. Must be
/// called inside the runtime.
pub fn interrupted() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (mut int, mut term) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = next_signal(int.as_mut()) => {}
                _ = next_signal(term.as_mut()) => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        if !INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("vcall: interrupted; finishing (Ctrl-C again to quit at once)");
            // `int` still listens: a second Ctrl-C after the message is never missed.
            tokio::spawn(async move {
                #[cfg(unix)]
                next_signal(int.as_mut()).await;
                #[cfg(not(unix))]
                let _ = tokio::signal::ctrl_c().await;
                eprintln!("vcall: interrupted again, exiting now");
                std::process::exit(Exit::Interrupted as i32);
            });
        }
    }
}

/// The next delivery of a signal that is being listened for; never, for one that is not.
#[cfg(unix)]
async fn next_signal(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// The exit code for a session that ended with `sessionDisconnected { reason }`.
pub fn disconnected_failure(reason: &Reason) -> Failure {
    let text = match reason {
        Reason::ServerShutdown => "the server shut down".to_owned(),
        Reason::ForceDisconnected => {
            "a moderator removed this connection from the session".to_owned()
        }
        Reason::NetworkDisconnected => "the connection to the server was lost".to_owned(),
        Reason::SessionTimeout => {
            "the server timed the session out (no keepalives arrived)".to_owned()
        }
        Reason::RoomDestroyed => "the room was destroyed".to_owned(),
        other => format!("disconnected from the session ({other})"),
    };
    Failure::new(Exit::Disconnected, format!("session ended: {text}"))
}

/// Finds a stream by id, else by name, else by who publishes it (its owner: a LiveKit
/// participant's identity, a Janus display name).
pub fn match_stream<'a>(
    streams: impl IntoIterator<Item = &'a Stream>,
    wanted: &str,
) -> Option<&'a Stream> {
    let all: Vec<&Stream> = streams.into_iter().collect();
    all.iter()
        .find(|s| s.id == wanted)
        .or_else(|| all.iter().find(|s| s.name == wanted))
        .or_else(|| {
            all.iter()
                .find(|s| !s.owner.is_empty() && s.owner == wanted)
        })
        .copied()
}

/// `vcall devices`: cameras and microphones with their formats.
pub fn devices(args: crate::cli::DevicesArgs) -> crate::exit::CmdResult {
    use std::io::Write;
    let (devices, problems) = crate::media::devices::list();
    // Each problem as one line with its causes, as a failure would print it.
    let problems: Vec<String> = problems
        .into_iter()
        .map(|e| Failure::from(SourceError::from(e)).to_string())
        .collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        let _ = writeln!(
            out,
            "{}",
            crate::jsonl::line(
                "devices",
                serde_json::json!({ "devices": devices, "problems": problems })
            )
        );
    } else {
        for d in &devices {
            let _ = writeln!(out, "{:<10} {:<24} {}", d.kind, d.id, d.name);
            for f in &d.formats {
                let _ = writeln!(out, "{:<10} {:<24}   {f}", "", "");
            }
        }
        if !devices.iter().any(|d| d.kind == "camera") {
            let _ = writeln!(out, "no cameras found");
        }
        if !devices.iter().any(|d| d.kind == "microphone") {
            let _ = writeln!(out, "no microphones found");
        }
        for p in &problems {
            eprintln!("vcall: {p}");
        }
    }
    Ok(crate::exit::Exit::Ok)
}
