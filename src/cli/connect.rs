//! `vcall connect` and `vcall list-streams`.

use std::time::Duration;

use clap::Args;

use super::common::{ConnArgs, parse_duration};

#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    /// Wait until the session reaches a state, then exit 0: comma-separated conditions on
    /// `streams` and `connections` (others than this one), e.g. 'streams>=2, connections>=3'.
    /// With --timeout, exit 11 when it is not reached in time.
    #[arg(long, value_name = "CONDITIONS", value_parser = crate::conditions::parse_wait_for)]
    pub(crate) wait_for: Option<crate::conditions::WaitFor>,
    /// Leave after this long (e.g. 10s); default: until Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// One JSON object per line.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListStreamsArgs {
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    /// One JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}
