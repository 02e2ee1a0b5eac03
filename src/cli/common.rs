//! Flags several commands share: the server and how to reach it (`ConnArgs`, `JanusArgs`), the API
//! key pair, `--impair`, and the parsers of durations and bitrates.

use std::time::Duration;

use clap::Args;

use crate::signaling::server_url::ServerUrl;

/// The API key pair, from flags or the environment.
#[derive(Debug, Clone, Args)]
pub(crate) struct KeyArgs {
    /// API key [env: VCALL_API_KEY]
    #[arg(long, env = "VCALL_API_KEY", hide_env = true)]
    pub(crate) api_key: Option<String>,
    /// API secret [env: VCALL_API_SECRET]
    #[arg(
        long,
        env = "VCALL_API_SECRET",
        hide_env = true,
        hide_env_values = true
    )]
    pub(crate) api_secret: Option<String>,
}

/// A bad network on purpose, for rehearsing one (README: "Rehearse a bad network").
#[derive(Debug, Clone, Args)]
pub(crate) struct ImpairArgs {
    /// Impair this process's media, both directions, in userspace: comma-separated
    /// loss=5%, delay=40ms, jitter=15ms, reorder=1%, duplicate=1%, outage=2s@10s (length@start,
    /// repeatable), rate=500kbit, queue=300ms (the rate's queue), rebind=10s (the media
    /// sockets move to new ports then, as a NAT's new mapping; repeatable), seed=N [env:
    /// VCALL_IMPAIR]
    #[arg(long, value_name = "SPEC", env = "VCALL_IMPAIR", hide_env = true)]
    pub(crate) impair: Option<crate::impair::Impairment>,
}

/// Where and as whom to connect.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConnArgs {
    /// Server URL: ws(s)://HOST:PORT (vcall), janus+ws(s)://… or janus+http(s)://… (Janus),
    /// whip+http(s)://… (publish) or whep+http(s)://… (subscribe), livekit+ws(s)://… (LiveKit,
    /// OpenVidu 3; the room is the token's) [env: VCALL_URL]
    #[arg(
        long,
        env = "VCALL_URL",
        hide_env = true,
        default_value = "ws://127.0.0.1:7880"
    )]
    pub(crate) url: ServerUrl,
    /// Session id; for Janus, the VideoRoom room; not used by WHIP/WHEP [env: VCALL_SESSION]
    #[arg(
        long,
        env = "VCALL_SESSION",
        hide_env = true,
        default_value = "",
        hide_default_value = true
    )]
    pub(crate) session: String,
    /// Token (for LiveKit, a LiveKit access token) [env: VCALL_TOKEN]
    #[arg(
        long,
        env = "VCALL_TOKEN",
        hide_env = true,
        hide_env_values = true,
        default_value = "",
        hide_default_value = true
    )]
    pub(crate) token: String,
    /// Client data, visible to the other participants [env: VCALL_DATA]
    #[arg(long, env = "VCALL_DATA", hide_env = true, default_value = "")]
    pub(crate) data: String,
    /// STUN or TURN server for media (repeatable) [env: VCALL_ICE_SERVERS, comma-separated]
    #[arg(
        long = "ice-server",
        value_name = "URL",
        env = "VCALL_ICE_SERVERS",
        hide_env = true,
        value_delimiter = ','
    )]
    pub(crate) ice_servers: Vec<String>,
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
    pub(crate) ice_transport: IceTransport,
    /// DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one:
    /// an RSA one for far ends that take only RSA cipher suites [env: VCALL_DTLS_CERTIFICATE]
    #[arg(
        long,
        value_name = "PEM",
        env = "VCALL_DTLS_CERTIFICATE",
        hide_env = true,
        value_parser = parse_dtls_certificate
    )]
    pub(crate) dtls_certificate: Option<crate::peer::DtlsCertificate>,
    /// Limit for each wait: an answer from the server, the first media, a --wait-for condition
    /// (default: 10s for answers, no limit otherwise) [env: VCALL_TIMEOUT]
    #[arg(long, env = "VCALL_TIMEOUT", hide_env = true, value_parser = parse_duration)]
    pub(crate) timeout: Option<Duration>,
    #[command(flatten)]
    pub(crate) janus: JanusArgs,
}

/// Which ICE candidates media may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum IceTransport {
    /// Host, server-reflexive and relayed candidates
    All,
    /// Only relayed ones (TURN): the media goes through the TURN server
    Relay,
}

/// Options for Janus servers (`--url janus+ws://…` or `janus+http://…`).
#[derive(Debug, Clone, Args)]
pub(crate) struct JanusArgs {
    /// Janus API secret (`apisecret`) [env: VCALL_API_SECRET]
    #[arg(
        long,
        help_heading = "Janus",
        env = "VCALL_API_SECRET",
        hide_env = true,
        hide_env_values = true
    )]
    pub(crate) api_secret: Option<String>,
    /// The room's PIN [env: VCALL_PIN]
    #[arg(
        long,
        help_heading = "Janus",
        env = "VCALL_PIN",
        hide_env = true,
        hide_env_values = true
    )]
    pub(crate) pin: Option<String>,
    /// The name others see (default: the stream name when publishing, else "vcall") [env: VCALL_DISPLAY]
    #[arg(long, help_heading = "Janus", env = "VCALL_DISPLAY", hide_env = true)]
    pub(crate) display: Option<String>,
    /// Create the room (H.264 and VP8, Opus) when it does not exist [env: VCALL_CREATE_ROOM]
    #[arg(
        long,
        help_heading = "Janus",
        env = "VCALL_CREATE_ROOM",
        hide_env = true
    )]
    pub(crate) create_room: bool,
    /// Attempts to join again when the signaling connection drops or the server restarts;
    /// 0: none (default: 10 with vcall servers, after 0.25 s, 0.5 s, then every
    /// --retry-delay; 3 with Janus, the delay doubling) [env: VCALL_MAX_RETRIES]
    #[arg(long, value_name = "N", env = "VCALL_MAX_RETRIES", hide_env = true)]
    pub(crate) max_retries: Option<u32>,
    /// Delay between attempts to join again (see --max-retries) [env: VCALL_RETRY_DELAY]
    #[arg(
        long, env = "VCALL_RETRY_DELAY", hide_env = true, value_parser = parse_duration, default_value = "1s")]
    pub(crate) retry_delay: Duration,
    /// Keepalive period; Janus drops silent sessions after 60 s; 0 turns keepalives off [env: VCALL_KEEPALIVE_INTERVAL]
    #[arg(
        long,
        help_heading = "Janus", env = "VCALL_KEEPALIVE_INTERVAL", hide_env = true, value_parser = parse_duration_or_zero, default_value = "25s")]
    pub(crate) keepalive_interval: Duration,
}

/// Parses `500ms`, `10s`, `5m`, `24h`, `7d`, or plain seconds.
/// A duration where 0 means "off".
pub(crate) fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    if s.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic()) == "0" {
        return Ok(Duration::ZERO);
    }
    parse_duration(s)
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
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
pub(crate) fn parse_bitrate(s: &str) -> Result<u32, String> {
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

/// Parses a picture size, `640x360`.
pub(crate) fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?} is not a picture size (try 640x360)");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    if !(1..=16_384).contains(&w) || !(1..=16_384).contains(&h) {
        return Err(format!("{s:?}: each side must be between 1 and 16384"));
    }
    Ok((w, h))
}

pub(super) fn parse_dtls_certificate(path: &str) -> Result<crate::peer::DtlsCertificate, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    crate::peer::DtlsCertificate::from_pem(&text).map_err(|e| format!("{path}: {e}"))
}
