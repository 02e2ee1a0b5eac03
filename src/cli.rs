//! The command line: one clap definition per command. Doc comments are the help text; the
//! completions and man page in `completions/` are generated from these definitions.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::auth::Role;
use crate::signaling::server_url::ServerUrl;

/// Join video calls from a terminal or a script: publish, subscribe, record, and serve.
#[derive(Debug, Parser)]
#[command(
    name = "vcall",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr; no progress display.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// The settings profile to use from the configuration file [env: VCALL_PROFILE]
    #[arg(long, global = true, env = "VCALL_PROFILE", hide_env = true)]
    pub profile: Option<String>,
    /// The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]
    #[arg(
        long,
        global = true,
        env = "VCALL_CONFIG",
        hide_env = true,
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded server: signaling, media forwarding (SFU) and the session API.
    Serve(ServeArgs),
    /// Create sessions on a server.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Create tokens (offline, signed with the API secret).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Join a session and print its events until Ctrl-C or --duration.
    Connect(ConnectArgs),
    /// Print the streams in a session and the connection count, then exit.
    ListStreams(ListStreamsArgs),
    /// Publish a stream: camera and microphone, a test pattern and tone, files or stdin.
    Publish(PublishArgs),
    /// Subscribe to streams and record them to files or pipe them to stdout.
    Subscribe(SubscribeArgs),
    /// Moderator actions: force a stream to unpublish or a connection to leave.
    #[command(subcommand)]
    Moderate(ModerateCommand),
    /// Check a server end to end: send the test pattern and tone, get them back, report the
    /// round trip (Janus's EchoTest plugin, or publish-and-subscribe-to-self on a vcall server).
    EchoTest(EchoTestArgs),
    /// The configuration: settings from flags, environment and the profile in the file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// List cameras and microphones.
    Devices(DevicesArgs),
    /// Start a server, publish, subscribe and record a few seconds, all in one process.
    Demo(DemoArgs),
}

/// The API key pair, from flags or the environment.
#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// API key [env: VCALL_API_KEY]
    #[arg(long, env = "VCALL_API_KEY", hide_env = true)]
    pub api_key: Option<String>,
    /// API secret [env: VCALL_API_SECRET]
    #[arg(
        long,
        env = "VCALL_API_SECRET",
        hide_env = true,
        hide_env_values = true
    )]
    pub api_secret: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address for signaling and the HTTP API.
    #[arg(long, default_value = "127.0.0.1:7880")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// STUN or TURN server for the server's media connections (repeatable);
    /// `turn:user:pass@host:port` carries credentials.
    #[arg(long = "ice-server", value_name = "URL")]
    pub ice_servers: Vec<String>,
    /// `serving` when it listens and `serverStopped` at the end, as JSON lines (docs/json.md).
    #[arg(long)]
    pub json: bool,
    /// Signaling connections open at once; more are refused with `tooManyConnections`.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_connections: usize,
    /// Signaling connections open at once from one IP address.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_connections_per_ip: usize,
    /// Serve HTTPS and WSS (signaling, session API, WHIP/WHEP) with this PEM certificate chain.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// UDP ports media may use, e.g. 40000-40999 (one per client connection); any when not given.
    #[arg(long, value_name = "LO-HI", value_parser = parse_port_range)]
    pub udp_ports: Option<(u16, u16)>,
    /// The address media candidates advertise, for a server behind 1:1 NAT (e.g. a cloud VM's
    /// public IP while it listens on its private one).
    #[arg(long, value_name = "IP")]
    pub public_ip: Option<std::net::IpAddr>,
    /// DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one.
    #[arg(long, value_name = "PEM", value_parser = parse_dtls_certificate)]
    pub dtls_certificate: Option<crate::peer::DtlsCertificate>,
    /// The most a publisher is asked to send (REMB, k and M suffixes work), like a Janus room's
    /// `bitrate`; publishers are also held to what their slowest subscriber can take.
    #[arg(long, value_name = "BPS", value_parser = parse_bitrate)]
    pub max_subscriber_bitrate: Option<u32>,
    #[command(flatten)]
    pub impair: ImpairArgs,
}

fn parse_dtls_certificate(path: &str) -> Result<crate::peer::DtlsCertificate, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    crate::peer::DtlsCertificate::from_pem(&text).map_err(|e| format!("{path}: {e}"))
}

/// `LO-HI`, both ports, LO <= HI.
fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let (lo, hi) = s
        .split_once('-')
        .ok_or_else(|| format!("{s:?}: a range is LO-HI, e.g. 40000-40999"))?;
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{p:?} is not a port (1-65535)"))
    };
    let (lo, hi) = (port(lo)?, port(hi)?);
    if lo > hi {
        return Err(format!("{s:?}: the range runs from low to high"));
    }
    Ok((lo, hi))
}

/// A bad network on purpose, for rehearsing one (README: "Rehearse a bad network").
#[derive(Debug, Clone, Default, Args)]
pub struct ImpairArgs {
    /// Impair this process's media, both directions, in userspace: comma-separated
    /// loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start,
    /// repeatable), rate=500kbit, queue=300ms (the rate's queue), seed=N [env: VCALL_IMPAIR]
    #[arg(long, value_name = "SPEC", env = "VCALL_IMPAIR", hide_env = true)]
    pub impair: Option<crate::impair::Impairment>,
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Ask the server for a new session and print its id.
    Create(SessionCreateArgs),
}

#[derive(Debug, Args)]
pub struct SessionCreateArgs {
    /// Server URL [env: VCALL_URL]
    #[arg(
        long,
        env = "VCALL_URL",
        hide_env = true,
        default_value = "ws://127.0.0.1:7880"
    )]
    pub url: String,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Peer-to-peer: media directly between the session's two clients, through the server
    /// when that fails
    #[arg(long)]
    pub p2p: bool,
    /// An IP address hinting where the session's media should be handled.
    #[arg(long, value_name = "IP")]
    pub location_hint: Option<std::net::IpAddr>,
    /// Print the whole session as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a token for a session.
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// The session the token admits to [env: VCALL_SESSION]
    #[arg(long, env = "VCALL_SESSION", hide_env = true)]
    pub session: String,
    /// What the holder may do.
    #[arg(long, value_enum, default_value = "publisher")]
    pub role: Role,
    /// Token data, visible to the other participants.
    #[arg(long, default_value = "")]
    pub data: String,
    /// Lifetime, e.g. 30m, 24h, 7d.
    #[arg(long, value_parser = parse_duration, default_value = "24h")]
    pub expire_in: Duration,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// The token and its claims as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Where and as whom to connect.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus),
    /// whip+http(s)://… (publish) or whep+http(s)://… (subscribe) [env: VCALL_URL]
    #[arg(
        long,
        env = "VCALL_URL",
        hide_env = true,
        default_value = "ws://127.0.0.1:7880"
    )]
    pub url: ServerUrl,
    /// Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]
    #[arg(
        long,
        env = "VCALL_SESSION",
        hide_env = true,
        default_value = "",
        hide_default_value = true
    )]
    pub session: String,
    /// Token [env: VCALL_TOKEN]
    #[arg(
        long,
        env = "VCALL_TOKEN",
        hide_env = true,
        hide_env_values = true,
        default_value = "",
        hide_default_value = true
    )]
    pub token: String,
    /// Client data, visible to the other participants [env: VCALL_DATA]
    #[arg(long, env = "VCALL_DATA", hide_env = true, default_value = "")]
    pub data: String,
    /// STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]
    #[arg(
        long = "ice-server",
        value_name = "URL",
        env = "VCALL_ICE_SERVERS",
        hide_env = true,
        value_delimiter = ','
    )]
    pub ice_servers: Vec<String>,
    /// Which ICE candidates media may use: `relay` only TURN relays (needs a
    /// `--ice-server turn:USER:PASS@HOST:PORT`) [env: VCALL_ICE_TRANSPORT]
    #[arg(
        long,
        value_enum,
        value_name = "WHICH",
        env = "VCALL_ICE_TRANSPORT",
        hide_env = true,
        default_value = "all"
    )]
    pub ice_transport: IceTransport,
    /// DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one:
    /// an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]
    #[arg(
        long,
        value_name = "PEM",
        env = "VCALL_DTLS_CERTIFICATE",
        hide_env = true,
        value_parser = parse_dtls_certificate
    )]
    pub dtls_certificate: Option<crate::peer::DtlsCertificate>,
    /// Limit for each wait: an answer from the server, the first media, a --wait-for condition
    /// (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]
    #[arg(long, env = "VCALL_TIMEOUT", hide_env = true, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    #[command(flatten)]
    pub janus: JanusArgs,
}

/// Which ICE candidates media may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IceTransport {
    /// Host, server-reflexive and relayed candidates
    All,
    /// Only relayed ones (TURN): the media goes through the TURN server
    Relay,
}

impl ConnArgs {
    /// The limit for each answer from the server.
    pub fn request_timeout(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(10))
    }
}

impl Default for JanusArgs {
    /// The same defaults as the flags'.
    fn default() -> JanusArgs {
        JanusArgs {
            api_secret: None,
            pin: None,
            display: None,
            create_room: false,
            max_retries: None,
            retry_delay: Duration::from_secs(1),
            keepalive_interval: Duration::from_secs(25),
        }
    }
}

/// Options for Janus servers (`--url janus+ws://…` or `janus+http://…`).
#[derive(Debug, Clone, Args)]
pub struct JanusArgs {
    /// Janus API secret (`apisecret`) [env: VCALL_API_SECRET]
    #[arg(
        long,
        help_heading = "Janus",
        env = "VCALL_API_SECRET",
        hide_env = true,
        hide_env_values = true
    )]
    pub api_secret: Option<String>,
    /// The room's PIN [env: VCALL_PIN]
    #[arg(
        long,
        help_heading = "Janus",
        env = "VCALL_PIN",
        hide_env = true,
        hide_env_values = true
    )]
    pub pin: Option<String>,
    /// The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]
    #[arg(long, help_heading = "Janus", env = "VCALL_DISPLAY", hide_env = true)]
    pub display: Option<String>,
    /// Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]
    #[arg(
        long,
        help_heading = "Janus",
        env = "VCALL_CREATE_ROOM",
        hide_env = true
    )]
    pub create_room: bool,
    /// Attempts to join again when the signaling connection drops or the server restarts;
    /// 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every
    /// --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]
    #[arg(long, value_name = "N", env = "VCALL_MAX_RETRIES", hide_env = true)]
    pub max_retries: Option<u32>,
    /// Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]
    #[arg(
        long, env = "VCALL_RETRY_DELAY", hide_env = true, value_parser = parse_duration, default_value = "1s")]
    pub retry_delay: Duration,
    /// Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]
    #[arg(
        long,
        help_heading = "Janus", env = "VCALL_KEEPALIVE_INTERVAL", hide_env = true, value_parser = parse_duration_or_zero, default_value = "25s")]
    pub keepalive_interval: Duration,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Wait until the session reaches a state, then exit 0: comma-separated conditions on
    /// `streams` and `connections` (others than this one), e.g. 'streams>=2, connections>=3'.
    /// With --timeout, exit 11 when it is not reached in time.
    #[arg(long, value_name = "CONDITIONS", value_parser = crate::client::conditions::parse_wait_for)]
    pub wait_for: Option<crate::client::conditions::WaitFor>,
    /// Leave after this long (e.g. 10s); default: until Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListStreamsArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
}

impl PublishArgs {
    /// Settings for in-process publishers (demo, echo-test): 640x480 at 30 fps, the flags'
    /// default rates.
    pub fn vga(conn: ConnArgs, name: &str, video: &str, audio: &str) -> PublishArgs {
        PublishArgs {
            conn,
            impair: ImpairArgs::default(),
            name: name.into(),
            video: video.into(),
            audio: audio.into(),
            no_audio: false,
            no_video: false,
            width: 640,
            height: 480,
            fps: 30.0,
            video_bitrate: 1_000_000,
            audio_bitrate: 48_000,
            keyframe_interval: 60,
            looping: false,
            duration: None,
            stats_interval: None,
            json: false,
        }
    }
}

impl Command {
    /// Whether the command was asked for JSON output (then its error is a JSON line too).
    pub fn json(&self) -> bool {
        match self {
            Command::Connect(a) => a.json,
            Command::ListStreams(a) => a.json,
            Command::Publish(a) => a.json,
            Command::Subscribe(a) => a.json,
            Command::EchoTest(a) => a.json,
            Command::Devices(a) => a.json,
            Command::Config(ConfigCommand::Show(a)) => a.json,
            Command::Session(SessionCommand::Create(a)) => a.json,
            Command::Serve(a) => a.json,
            Command::Token(TokenCommand::Create(a)) => a.json,
            Command::Moderate(ModerateCommand::ForceUnpublish(a)) => a.json,
            Command::Moderate(ModerateCommand::ForceDisconnect(a)) => a.json,
            Command::Demo(a) => a.json,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved connection settings and where each comes from (secrets masked).
    Show(ConfigShowArgs),
}

#[derive(Debug, Args)]
pub struct ConfigShowArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// API key, for the commands that sign tokens [env: VCALL_API_KEY]
    #[arg(long, env = "VCALL_API_KEY", hide_env = true)]
    pub api_key: Option<String>,
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EchoTestArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub impair: ImpairArgs,
    /// How long to send.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub duration: Duration,
    /// Also record what came back (.mp4 or .mkv).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub impair: ImpairArgs,
    /// The stream's name, visible to others.
    #[arg(long, default_value = "vcall")]
    pub name: String,
    /// Video source: camera[:INDEX|NAME], testsrc, a .y4m file, a .ivf file (VP8 or H.264, sent as
    /// it is), or - for Y4M on stdin.
    #[arg(long, default_value = "camera")]
    pub video: String,
    /// Audio source: mic[:NAME], tone[:HZ], or a .wav file.
    #[arg(long, default_value = "mic")]
    pub audio: String,
    /// Send no audio.
    #[arg(long)]
    pub no_audio: bool,
    /// Send no video.
    #[arg(long)]
    pub no_video: bool,
    /// Picture width for camera and testsrc.
    #[arg(long, default_value_t = 640)]
    pub width: u32,
    /// Picture height for camera and testsrc.
    #[arg(long, default_value_t = 480)]
    pub height: u32,
    /// Frame rate for camera and testsrc.
    #[arg(long, default_value_t = 30.0)]
    pub fps: f64,
    /// H.264 bitrate, bits per second (k and M suffixes work).
    #[arg(long, value_parser = parse_bitrate, default_value = "1M")]
    pub video_bitrate: u32,
    /// Opus bitrate, bits per second.
    #[arg(long, value_parser = parse_bitrate, default_value = "48k")]
    pub audio_bitrate: u32,
    /// Frames between keyframes (a keyframe is also sent whenever a receiver asks).
    #[arg(long, default_value_t = 60)]
    pub keyframe_interval: u32,
    /// Start file sources again at their end.
    #[arg(long = "loop")]
    pub looping: bool,
    /// Unpublish after this long; default: until Ctrl-C or the end of the sources.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Per-track figures this often on stderr (bitrate, frame rate, size, packets, loss, jitter,
    /// round trip, NACKs, PLIs, keyframes, freezes; `stats` lines with --json) and a summary at
    /// the end; 0: the summary only.
    #[arg(long, value_name = "INTERVAL", value_parser = parse_duration_or_zero)]
    pub stats_interval: Option<Duration>,
    /// Events and the result as JSON lines on stdout (docs/json.md).
    #[arg(long)]
    pub json: bool,
}

/// Formats for `-o -`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// Matroska with the encoded streams.
    Mkv,
    /// Decoded video, YUV4MPEG2.
    Y4m,
    /// Decoded audio, 48 kHz stereo 16-bit WAV.
    Wav,
    /// Encoded H.264, Annex B.
    H264,
    /// Encoded Opus in Ogg.
    Ogg,
}

#[derive(Debug, Args)]
pub struct SubscribeArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub impair: ImpairArgs,
    /// Stream id or name to subscribe to (repeatable); default: every stream, including later ones.
    #[arg(long = "stream", value_name = "ID_OR_NAME")]
    pub streams: Vec<String>,
    /// Receive no audio.
    #[arg(long)]
    pub no_audio: bool,
    /// Receive no video.
    #[arg(long)]
    pub no_video: bool,
    /// Output file (.mp4 or .mkv: one file with audio and video), or - for stdout with --format.
    #[arg(short, long, value_name = "FILE", conflicts_with = "output_dir")]
    pub output: Option<PathBuf>,
    /// Record every stream to its own file in this folder, named from its name and id.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Format on stdout (with -o -) or for --output-dir files (mp4 or mkv by default mp4).
    #[arg(long, value_enum)]
    pub format: Option<OutFormat>,
    /// Stop after this much recorded media (e.g. 10s).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many video frames.
    #[arg(long)]
    pub frames: Option<u64>,
    /// Conditions the received media must meet, checked at the end (exit 11 when one fails
    /// or cannot be measured), e.g. 'frames>=300, latency.p95<200ms, freeze.max<500ms,
    /// av-skew<40ms, loss<1%'. Metrics: frames, audio-frames, frames.lost, latency.p50,
    /// latency.p95, latency.max, freeze.max, av-skew, loss.
    #[arg(long, value_name = "CONDITIONS", value_parser = parse_expect)]
    pub expect: Option<Expect>,
    /// Per-track figures this often on stderr (bitrate, frame rate, size, packets, loss, jitter,
    /// round trip, NACKs, PLIs, keyframes, freezes; `stats` lines with --json) and a summary at
    /// the end; 0: the summary only.
    #[arg(long, value_name = "INTERVAL", value_parser = parse_duration_or_zero)]
    pub stats_interval: Option<Duration>,
    /// Events and results as JSON lines on stdout (docs/json.md); not with -o -.
    #[arg(long)]
    pub json: bool,
}

/// `--expect`'s conditions.
#[derive(Debug, Clone)]
pub struct Expect(pub Vec<crate::client::conditions::Condition>);

fn parse_expect(s: &str) -> Result<Expect, String> {
    crate::client::conditions::parse(s, crate::client::conditions::METRICS).map(Expect)
}

#[derive(Debug, Subcommand)]
pub enum ModerateCommand {
    /// Force a stream to stop; its publisher and everyone else see streamDestroyed.
    ForceUnpublish(ForceUnpublishArgs),
    /// Force a connection out of the session.
    ForceDisconnect(ForceDisconnectArgs),
}

#[derive(Debug, Args)]
pub struct ForceUnpublishArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Stream id or name.
    #[arg(long = "stream", value_name = "ID_OR_NAME")]
    pub stream: String,
    /// The result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ForceDisconnectArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Connection id.
    #[arg(long = "connection", value_name = "ID")]
    pub connection: String,
    /// The result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// One JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How much to record.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub duration: Duration,
    /// The recording.
    #[arg(short, long, default_value = "vcall-demo.mp4")]
    pub output: PathBuf,
    /// The report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Parses `500ms`, `10s`, `5m`, `24h`, `7d`, or plain seconds.
/// A duration where 0 means "off".
pub fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    if s.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic()) == "0" {
        return Ok(Duration::ZERO);
    }
    parse_duration(s)
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (try 500ms, 10s, 5m, 24h, 7d)"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86400.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {s:?} (use ms, s, m, h or d)"
            ));
        }
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("{s:?}: a duration must be positive"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses `800000`, `800k`, `2M`.
pub fn parse_bitrate(s: &str) -> Result<u32, String> {
    let (num, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1_000.0),
        Some('M' | 'm') => (&s[..s.len() - 1], 1_000_000.0),
        _ => (s, 1.0),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a bitrate (try 800k or 2M)"))?;
    let bps = v * mult;
    if !(6_000.0..=100_000_000.0).contains(&bps) {
        return Err(format!("{s:?}: a bitrate must be between 6k and 100M"));
    }
    Ok(bps as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_and_bitrates_parse() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("0s").is_err());
        assert_eq!(parse_bitrate("800k").unwrap(), 800_000);
        assert!(parse_bitrate("1").is_err());
    }
}
