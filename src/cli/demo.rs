//! `vcall demo` and `vcall devices`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::common::parse_duration;

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// How much to record.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub(crate) duration: Duration,
    /// The recording.
    #[arg(short, long, default_value = "vcall-demo.mp4")]
    pub(crate) output: PathBuf,
    /// The report as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DevicesArgs {
    /// One JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}
