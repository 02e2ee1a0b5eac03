//! `vcall echo-test`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::common::{ConnArgs, ImpairArgs, parse_duration};

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
