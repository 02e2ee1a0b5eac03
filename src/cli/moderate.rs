//! `vcall moderate`.

use clap::{Args, Subcommand};

use super::common::ConnArgs;

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
    pub connection: crate::session::ConnectionId,
    /// The result as one JSON object.
    #[arg(long)]
    pub json: bool,
}
