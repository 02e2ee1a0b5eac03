//! `vcall subscribe`'s flags: where the streams go and what they must show (`--expect`).

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, ValueEnum};

use crate::session::Layer;

use super::common::{ConnArgs, ImpairArgs, parse_duration, parse_duration_or_zero, parse_size};

/// Formats for `-o -`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutFormat {
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
pub(crate) struct SubscribeArgs {
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    #[command(flatten)]
    pub(crate) impair: ImpairArgs,
    /// Stream id or name, or who publishes it (a LiveKit participant's identity, a Janus display name), to subscribe to (repeatable); default: every stream, including later ones.
    #[arg(long = "stream", value_name = "ID_OR_NAME")]
    pub(crate) streams: Vec<String>,
    /// Receive no audio.
    #[arg(long, conflicts_with = "no_video")]
    pub(crate) no_audio: bool,
    /// Receive no video.
    #[arg(long)]
    pub(crate) no_video: bool,
    /// Output file (.mp4 or .mkv: one file with audio and video), or - for stdout with --format.
    #[arg(short, long, value_name = "FILE", conflicts_with = "output_dir")]
    pub(crate) output: Option<PathBuf>,
    /// Record every stream to its own file in this folder, named from its name and id.
    #[arg(long, value_name = "DIR")]
    pub(crate) output_dir: Option<PathBuf>,
    /// Format on stdout (with -o -) or for --output-dir files (mp4 or mkv by default mp4).
    #[arg(long, value_enum)]
    pub(crate) format: Option<OutFormat>,
    /// Which layer of a simulcast video stream to receive: auto (the best the path carries,
    /// following it), high, mid or low (that layer, whatever the path). Against vcall serve
    /// and Janus (its substream: low 0, mid 1, high 2).
    #[arg(
        long,
        default_value = "auto",
        value_name = "LAYER",
        value_parser = PossibleValuesParser::new(Layer::NAMES)
            .map(|s| s.parse::<Layer>().unwrap_or_default()),
    )]
    pub(crate) layer: Layer,
    /// Of a simulcast video stream, no larger layer than a picture of this size needs
    /// (e.g. 640x360): the smallest whose sides are both at least 90 % of it, the largest
    /// when none is; `auto` stays at or under it. Against vcall serve and LiveKit (the
    /// track's display size, which its server prefers to --layer).
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    pub(crate) max_size: Option<(u32, u32)>,
    /// Stop after this much recorded media (e.g. 10s).
    #[arg(long, value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Stop after this many video frames.
    #[arg(long)]
    pub(crate) frames: Option<u64>,
    /// Conditions the received media must meet, checked at the end (exit 11 when one fails
    /// or cannot be measured), e.g. 'frames>=300, latency.p95<200ms, freeze.max<500ms,
    /// av-skew<40ms, loss<1%'. Metrics: frames, audio-frames, frames.lost, latency.p50,
    /// latency.p95, latency.max, freeze.max, av-skew, loss.
    #[arg(long, value_name = "CONDITIONS", value_parser = parse_expect)]
    pub(crate) expect: Option<Expect>,
    /// Per-track figures this often on stderr (bitrate, frame rate, size, packets, loss, jitter,
    /// round trip, NACKs, PLIs, keyframes, freezes; `stats` lines with --json) and a summary at
    /// the end; 0: the summary only.
    #[arg(long, value_name = "INTERVAL", value_parser = parse_duration_or_zero)]
    pub(crate) stats_interval: Option<Duration>,
    /// Write a call report when the recording ends, whatever its outcome: one self-contained
    /// HTML file with plots over time (bit rate, frame rate, freezes, latency, loss, picture
    /// size, A/V offset), the --expect verdicts, and pictures at intervals and around each
    /// freeze
    #[arg(long, value_name = "FILE.html")]
    pub(crate) report: Option<std::path::PathBuf>,
    /// Events and results as JSON lines on stdout (docs/json.md); not with -o -.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `--expect`'s conditions.
#[derive(Debug, Clone)]
pub(crate) struct Expect(pub Vec<crate::conditions::Condition>);

fn parse_expect(s: &str) -> Result<Expect, String> {
    crate::conditions::parse(s, crate::conditions::METRICS).map(Expect)
}
