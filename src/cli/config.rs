//! `vcall config show`.

use clap::{Args, Subcommand};

use super::common::ConnArgs;

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print the resolved connection settings and where each comes from (secrets masked).
    Show(ConfigShowArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ConfigShowArgs {
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    /// API key, for the commands that sign tokens [env: VCALL_API_KEY]
    #[arg(long, env = "VCALL_API_KEY", hide_env = true)]
    pub(crate) api_key: Option<String>,
    /// One JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}
