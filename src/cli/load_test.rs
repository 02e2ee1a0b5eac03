//! `vcall load-test`'s flags: how many rooms, publishers and subscribers, how fast they
//! join, what is sent, and what the run must show.

use std::time::Duration;

use clap::Args;

use super::common::{ImpairArgs, KeyArgs, parse_bitrate, parse_duration, parse_duration_or_zero};
use crate::signaling::server_url::ServerUrl;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct LoadTestArgs {
    #[command(subcommand)]
    pub(crate) merge: Option<LoadTestCommand>,
    /// Server URL: ws(s)://HOST:PORT (vcall serve: sessions and tokens are made from the API
    /// key pair), livekit+ws(s)://… (LiveKit, OpenVidu 3: LiveKit tokens from the key pair)
    /// or janus+ws(s)://…, janus+http(s)://… (a VideoRoom room per room, created when
    /// missing), or a WHIP endpoint for the publishers, whip+http(s)://…, as a template:
    /// {room} is the room (with a key pair, the vcall serve session made for it), {publisher}
    /// the publisher's stream name (needed with more than one publisher a room), e.g.
    /// 'whip+http://HOST:7880/whip/{room}?name={publisher}' [env: VCALL_URL]
    #[arg(
        long,
        env = "VCALL_URL",
        hide_env = true,
        default_value = "ws://127.0.0.1:7880"
    )]
    pub(crate) url: ServerUrl,
    #[command(flatten)]
    pub(crate) keys: KeyArgs,
    /// The WHEP endpoint subscribers play each publisher from, when --url is a WHIP one: a
    /// template with {room} and {publisher} as --url's, e.g.
    /// 'whep+http://HOST:7880/whep/{room}/{publisher}'.
    #[arg(long, value_name = "URL")]
    pub(crate) whep_url: Option<ServerUrl>,
    /// Janus's API token, or the bearer token of WHIP/WHEP endpoints without a key pair
    /// [env: VCALL_TOKEN]
    #[arg(
        long,
        env = "VCALL_TOKEN",
        hide_env = true,
        hide_env_values = true,
        default_value = "",
        hide_default_value = true
    )]
    pub(crate) token: String,
    #[command(flatten)]
    pub(crate) impair: ImpairArgs,
    /// Rooms (sessions), each with its own publishers and subscribers.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) rooms: u32,
    /// Publishers per room: at most 1,000, or 100,000 that come and go (--publish-for).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) publishers: u32,
    /// Subscribers per room; each receives every publisher of its room.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub(crate) subscribers: u32,
    /// How many participants join per second (publishers first, then subscribers; the other
    /// way round with --publish-for), e.g. 20/s.
    #[arg(long, value_name = "N/s", default_value = "10/s", value_parser = parse_rate)]
    pub(crate) join_rate: f64,
    /// How long the run lasts once every participant has joined (or failed to), e.g. 60s.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub(crate) duration: Duration,
    /// How long each publisher publishes before it leaves, e.g. 2s (default: until the run
    /// ends). A room's publishers then come and go, the next joining at the join rate
    /// (subscribers join first, so that they see every one), as in rooms where people
    /// drop in and out: every stream set up, received and torn down.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) publish_for: Option<Duration>,
    /// Video picture size and rate: one encoder for every publisher, each publisher's frames
    /// marked as its own.
    #[arg(long, default_value_t = 320)]
    pub(crate) width: u32,
    #[arg(long, default_value_t = 240)]
    pub(crate) height: u32,
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=60))]
    pub(crate) fps: u32,
    /// Video bitrate (e.g. 300k).
    #[arg(long, default_value = "300k", value_parser = parse_bitrate)]
    pub(crate) video_bitrate: u32,
    /// Rate tiers the shared encoders make (the bitrate, half of it, a quarter…); each
    /// publisher sends the highest its connection's send estimate carries, stepping down at
    /// once and back up after a quiet hold, as congestion control does. 1: a fixed rate.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=4))]
    pub(crate) rate_tiers: u32,
    /// The share of subscribed streams whose video is also decoded, each picture's
    /// burned-in capture time checked against its frame's mark (the rest are checked from
    /// the marks alone); spread over the run, the first stream always when above 0%.
    #[arg(long, value_name = "PERCENT", default_value = "1%", value_parser = parse_share)]
    pub(crate) decode: f64,
    /// Audio every publisher sends: the test tone, or none.
    #[arg(long, default_value = "tone", value_parser = ["tone", "none"])]
    pub(crate) audio: String,
    /// Conditions over the whole run, checked at the end (exit 11 when one fails), e.g.
    /// 'joined==100%, streams.frames.lost==0, latency.p95<200ms, freeze.max.p99<500ms,
    /// first-frame.p95<1s, identity'. Metrics: joined, streams, streams.frames,
    /// streams.frames.lost, loss, latency.p50/p95/p99/max (every frame of every stream),
    /// freeze.max.p50/p95/p99/max and first-frame.p50/p95/p99/max (across streams),
    /// identity (no stream carried another publisher's frames), pictures.decoded and
    /// pictures.bad (of the streams --decode samples).
    #[arg(long, value_name = "CONDITIONS", value_parser = parse_load_expect)]
    pub(crate) expect: Option<LoadExpect>,
    /// Figures this often on stderr (`loadStats` lines with --json); 0: only the summary.
    #[arg(long, value_name = "INTERVAL", default_value = "5s", value_parser = parse_duration_or_zero)]
    pub(crate) stats_interval: Duration,
    /// Results as JSON lines on stdout: per interval, the summary, and each stream with
    /// --per-stream.
    #[arg(long)]
    pub(crate) json: bool,
    /// Each stream's figures in the summary (a `loadStream` line each with --json).
    #[arg(long)]
    pub(crate) per_stream: bool,
    /// Write a report when the run ends, whatever its outcome: one self-contained HTML file
    /// with the verdict and totals, plots over time (participants, streams, frames received
    /// and lost, latency, freezes, loss) and the worst rooms and streams (as `vcall report`
    /// draws from the --json lines).
    #[arg(long, value_name = "FILE.html")]
    pub(crate) report: Option<std::path::PathBuf>,
    /// The share of this machine's cores the generator may use before it, not the server,
    /// is taken to be the limit of the run (exit 12), e.g. 50%.
    #[arg(long, value_name = "PERCENT", default_value = "90%", value_parser = parse_percent)]
    pub(crate) generator_cpu_limit: f64,
    /// Run this share of the run: the Ith of N processes (from 0, as a Kubernetes Indexed
    /// Job's JOB_COMPLETION_INDEX), each taking every Nth participant; every shard is given
    /// the same flags, and `load-test merge` judges their --json outputs as one run
    /// [env: VCALL_SHARD]
    #[arg(long, value_name = "I/N", env = "VCALL_SHARD", hide_env = true, value_parser = parse_shard)]
    pub(crate) shard: Option<(u32, u32)>,
    /// Start joining at this Unix time (seconds), so that shards started apart run together.
    #[arg(long, value_name = "UNIX_SECONDS", value_parser = parse_start_at)]
    pub(crate) start_at: Option<f64>,
    /// The run's name, which its rooms and streams are named after (default: random; with
    /// --shard, made from the flags, so that every shard agrees).
    #[arg(long, value_name = "NAME")]
    pub(crate) run_id: Option<String>,
    /// How late the generator's timers and encoders may run (p99) before it, not the
    /// server, is taken to be the limit of the run (exit 12).
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = parse_duration)]
    pub(crate) generator_lag_limit: Duration,
    /// Stop waiting for a join, a publish or a subscription after this long.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    pub(crate) timeout: Duration,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum LoadTestCommand {
    /// Judge the --json outputs of a run's shards as one run: counts added, latency
    /// histograms merged (quantiles of the whole run, not averages of the shards').
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// The shards' --json outputs.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<std::path::PathBuf>,
    /// Conditions over the whole run, as for a run (exit 11 when one fails).
    #[arg(long, value_name = "CONDITIONS", value_parser = parse_load_expect)]
    pub(crate) expect: Option<LoadExpect>,
    /// The merged summary as a JSON line on stdout.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `--expect`'s conditions for a load test.
#[derive(Debug, Clone)]
pub(crate) struct LoadExpect(pub Vec<crate::conditions::Condition>);

fn parse_load_expect(s: &str) -> Result<LoadExpect, String> {
    // `identity` alone: no stream carried another publisher's frames.
    let text = s
        .split(',')
        .map(|p| match p.trim() {
            "identity" => "identity.violations==0",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(",");
    crate::conditions::parse(&text, crate::conditions::LOAD_METRICS).map(LoadExpect)
}

/// `I/N`: the Ith of N shards, from 0.
fn parse_shard(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?}: expected I/N, the Ith of N shards from 0 (e.g. 0/4)");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (u32, u32) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// A Unix time in seconds within a day of now.
fn parse_start_at(s: &str) -> Result<f64, String> {
    let now = crate::auth::unix_now() as f64;
    match s.trim().parse::<f64>() {
        Ok(t) if t.is_finite() && (t - now).abs() <= 86_400.0 => Ok(t),
        _ => Err(format!(
            "{s:?}: expected a Unix time in seconds within a day of now (e.g. $(date -d '+1 min' +%s))"
        )),
    }
}

/// `50%` or `50`: a share, 0 to 1.
fn parse_percent(s: &str) -> Result<f64, String> {
    let n = s.strip_suffix('%').unwrap_or(s).trim();
    match n.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p / 100.0),
        _ => Err(format!("{s:?}: expected a share of the cores, e.g. 90%")),
    }
}

/// `10%` or `10`: a share of the streams, 0 to 1.
fn parse_share(s: &str) -> Result<f64, String> {
    let n = s.strip_suffix('%').unwrap_or(s).trim();
    match n.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p / 100.0),
        _ => Err(format!("{s:?}: expected a share from 0% to 100%, e.g. 10%")),
    }
}

/// `20/s` or `20`: joins per second.
fn parse_rate(s: &str) -> Result<f64, String> {
    let n = s.strip_suffix("/s").unwrap_or(s).trim();
    match n.parse::<f64>() {
        Ok(r) if r > 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!("{s:?}: expected joins per second, e.g. 20/s")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_conditions_parse() {
        assert_eq!(parse_rate("20/s").unwrap(), 20.0);
        assert_eq!(parse_rate("0.5").unwrap(), 0.5);
        assert!(parse_rate("0/s").is_err() && parse_rate("fast").is_err());
        assert_eq!(parse_percent("50%").unwrap(), 0.5);
        assert_eq!(parse_shard("2/4").unwrap(), (2, 4));
        assert!(
            parse_shard("4/4").is_err() && parse_shard("1").is_err() && parse_shard("0/0").is_err()
        );
        assert!(parse_percent("0%").is_err() && parse_percent("120%").is_err());
        assert_eq!(parse_share("0%").unwrap(), 0.0);
        assert_eq!(parse_share("10").unwrap(), 0.1);
        assert!(parse_share("-1%").is_err() && parse_share("101%").is_err());
        let e = parse_load_expect("joined==100%, identity, freeze.max.p99<500ms").unwrap();
        assert_eq!(e.0.len(), 3);
        assert_eq!(e.0[1].to_string(), "identity.violations==0");
        assert!(parse_load_expect("frames>=3").is_err());
    }
}
