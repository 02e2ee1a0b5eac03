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
    /// The session of the LiveKit room NAME on `vcall serve` (where LiveKit clients with a
    /// token for NAME land), made from the key pair alone: no server is asked.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["p2p", "location_hint"])]
    pub(crate) room: Option<String>,
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
    #[arg(
        long,
        env = "VCALL_SESSION",
        hide_env = true,
        required_unless_present = "livekit",
        conflicts_with = "livekit"
    )]
    pub(crate) session: Option<String>,
    /// What the holder may do.
    #[arg(
        long,
        value_enum,
        default_value = "publisher",
        conflicts_with = "livekit"
    )]
    pub(crate) role: Role,
    /// Token data, visible to the other participants.
    #[arg(long, default_value = "", conflicts_with = "livekit")]
    pub(crate) data: String,
    /// A LiveKit access token (for LiveKit, OpenVidu 3 or `vcall serve`'s `/rtc`), signed
    /// with the same --api-key/--api-secret; needs --room and --identity.
    #[arg(long, requires_all = ["room", "identity"])]
    pub(crate) livekit: bool,
    /// The LiveKit room the token admits to.
    #[arg(long, requires = "livekit")]
    pub(crate) room: Option<String>,
    /// The participant's identity in the LiveKit room (unique there).
    #[arg(long, requires = "livekit")]
    pub(crate) identity: Option<String>,
    /// The participant's display name.
    #[arg(long, requires = "livekit")]
    pub(crate) name: Option<String>,
    /// The participant's metadata, visible to the others.
    #[arg(long, requires = "livekit")]
    pub(crate) metadata: Option<String>,
    /// The participant may publish (given alone: only publish; neither this nor
    /// --can-subscribe: both).
    #[arg(long, requires = "livekit")]
    pub(crate) can_publish: bool,
    /// The participant may subscribe (given alone: only subscribe).
    #[arg(long, requires = "livekit")]
    pub(crate) can_subscribe: bool,
    /// Lifetime, e.g. 30m, 24h, 7d.
    #[arg(long, value_parser = parse_duration, default_value = "24h")]
    pub(crate) expire_in: Duration,
    #[command(flatten)]
    pub(crate) keys: KeyArgs,
    /// The token and its claims as one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}
