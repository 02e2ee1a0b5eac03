//! `vcall session create` and `vcall token create`.

use std::time::Duration;

use clap::{Args, Subcommand};

use super::common::{KeyArgs, parse_duration};
use crate::auth::Role;

#[derive(Debug, Subcommand)]
pub(crate) enum SessionCommand {
    /// Ask the server for a new session and print its id.
    Create(SessionCreateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SessionCreateArgs {
    /// Server URL [env: VCALL_URL]
    #[arg(
        long,
        env = "VCALL_URL",
        hide_env = true,
        default_value = "ws://127.0.0.1:7880"
    )]
    pub(crate) url: String,
    #[command(flatten)]
    pub(crate) keys: KeyArgs,
    /// Peer-to-peer: media directly between the session's two clients, through the server
    /// when that fails
    #[arg(long)]
    pub(crate) p2p: bool,
    /// An IP address hinting where the session's media should be handled.
    #[arg(long, value_name = "IP")]
    pub(crate) location_hint: Option<std::net::IpAddr>,
    /// Print the whole session as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Print a token for a session.
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct TokenCreateArgs {
    /// The session the token admits to [env: VCALL_SESSION]
    #[arg(long, env = "VCALL_SESSION", hide_env = true)]
    pub(crate) session: String,
    /// What the holder may do.
    #[arg(long, value_enum, default_value = "publisher")]
    pub(crate) role: Role,
    /// Token data, visible to the other participants.
    #[arg(long, default_value = "")]
    pub(crate) data: String,
    /// Lifetime, e.g. 30m, 24h, 7d.
    #[arg(long, value_parser = parse_duration, default_value = "24h")]
    pub(crate) expire_in: Duration,
    #[command(flatten)]
    pub(crate) keys: KeyArgs,
    /// The token and its claims as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}
