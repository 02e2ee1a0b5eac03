//! `vcall echo-test`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::common::{ConnArgs, ImpairArgs, parse_duration};

#[derive(Debug, Args)]
pub(crate) struct EchoTestArgs {
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    #[command(flatten)]
    pub(crate) impair: ImpairArgs,
    /// How long to send.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub(crate) duration: Duration,
    /// Send this many video frames once the way back is up (and the tone alongside), instead
    /// of for a duration, then wait for the last of them to come back: what was lost is then
    /// exact.
    #[arg(long, value_name = "N", conflicts_with = "duration", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) frames: Option<u64>,
    /// Also record what came back (.mp4 or .mkv).
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// The result as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}
