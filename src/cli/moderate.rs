//! `vcall moderate`.

use clap::{Args, Subcommand};

use super::common::ConnArgs;

#[derive(Debug, Subcommand)]
pub(crate) enum ModerateCommand {
    /// Force a stream to stop; its publisher and everyone else see streamDestroyed.
    ForceUnpublish(ForceUnpublishArgs),
    /// Force a connection out of the session.
    ForceDisconnect(ForceDisconnectArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ForceUnpublishArgs {
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    /// Stream id or name.
    #[arg(long = "stream", value_name = "ID_OR_NAME")]
    pub(crate) stream: String,
    /// The result as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ForceDisconnectArgs {
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    /// Connection id.
    #[arg(long = "connection", value_name = "ID")]
    pub(crate) connection: crate::session::ConnectionId,
    /// The result as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}
