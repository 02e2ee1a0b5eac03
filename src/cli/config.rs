//! `vcall config show`.

use clap::{Args, Subcommand};

use super::common::ConnArgs;

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
