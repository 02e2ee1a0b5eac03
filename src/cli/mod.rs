//! The command line: one clap definition per command, a file each under `cli/` (the flags
//! several share in `common.rs`). Doc comments are the help text; the completions and man page
//! in `completions/` are generated from these definitions. Values are parsed and checked here,
//! by clap, before a command does any I/O: a bad flag is a usage error (exit 2).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod admin;
mod common;
mod config;
mod connect;
mod demo;
mod echo;
pub(crate) mod load_test;
mod moderate;
mod publish;
mod report;
mod serve;
mod subscribe;

pub(crate) use admin::{SessionCommand, SessionCreateArgs, TokenCommand, TokenCreateArgs};
pub(crate) use common::{ConnArgs, IceTransport, KeyArgs};
pub(crate) use config::ConfigCommand;
pub(crate) use connect::{ConnectArgs, ListStreamsArgs};
pub(crate) use demo::{DemoArgs, DevicesArgs};
pub(crate) use echo::EchoTestArgs;
pub(crate) use load_test::{LoadTestArgs, LoadTestCommand};
pub(crate) use moderate::{ForceDisconnectArgs, ForceUnpublishArgs, ModerateCommand};
pub(crate) use publish::PublishArgs;
pub(crate) use report::ReportArgs;
pub(crate) use serve::ServeArgs;
pub(crate) use subscribe::{OutFormat, SubscribeArgs};

/// Join video calls from a terminal or a script: publish, subscribe, record, and serve.
#[derive(Debug, Parser)]
#[command(
    name = "vcall",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// More logging on stderr (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// Only errors on stderr; no progress display.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// The settings profile to use from the configuration file [env: VCALL_PROFILE]
    #[arg(long, global = true, env = "VCALL_PROFILE", hide_env = true)]
    pub(crate) profile: Option<String>,
    /// The configuration file (default: ~/.config/vcall/config.toml) [env: VCALL_CONFIG]
    #[arg(
        long,
        global = true,
        env = "VCALL_CONFIG",
        hide_env = true,
        value_name = "FILE"
    )]
    pub(crate) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the embedded server: signaling, media forwarding (SFU) and the session API.
    Serve(ServeArgs),
    /// Create sessions on a server.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Create tokens (offline, signed with the API secret).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Join a session and print its events until Ctrl-C or --duration.
    Connect(ConnectArgs),
    /// Print the streams in a session and the connection count, then exit.
    ListStreams(ListStreamsArgs),
    /// Publish a stream: camera and microphone, a test pattern and tone, files or stdin.
    Publish(PublishArgs),
    /// Subscribe to streams and record them to files or pipe them to stdout.
    Subscribe(SubscribeArgs),
    /// Moderator actions: force a stream to unpublish or a connection to leave.
    #[command(subcommand)]
    Moderate(ModerateCommand),
    /// Check a server end to end: send the test pattern and tone, get them back, report the
    /// round trip (Janus's EchoTest plugin, or publish-and-subscribe-to-self on a vcall server).
    EchoTest(EchoTestArgs),
    /// Load a server: many rooms of publishers and subscribers in one process, every frame
    /// of every subscribed stream checked (identity, order, loss, latency, freezes).
    LoadTest(LoadTestArgs),
    /// The configuration: settings from flags, environment and the profile in the file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// List cameras and microphones.
    Devices(DevicesArgs),
    /// Start a server, publish, subscribe and record a few seconds, all in one process.
    Demo(DemoArgs),
    /// Draw a run's JSON lines as a call report: one self-contained HTML file with plots over
    /// time, the --expect verdicts and pictures.
    Report(ReportArgs),
}

impl Command {
    /// Whether the command was asked for JSON output (then its error is a JSON line too).
    pub(crate) fn json(&self) -> bool {
        match self {
            Command::Connect(a) => a.json,
            Command::ListStreams(a) => a.json,
            Command::Publish(a) => a.json,
            Command::Subscribe(a) => a.json,
            Command::EchoTest(a) => a.json,
            Command::LoadTest(a) => match &a.merge {
                Some(LoadTestCommand::Merge(m)) => m.json,
                None => a.json,
            },
            Command::Devices(a) => a.json,
            Command::Config(ConfigCommand::Show(a)) => a.json,
            Command::Session(SessionCommand::Create(a)) => a.json,
            Command::Serve(a) => a.json,
            Command::Token(TokenCommand::Create(a)) => a.json,
            Command::Moderate(ModerateCommand::ForceUnpublish(a)) => a.json,
            Command::Moderate(ModerateCommand::ForceDisconnect(a)) => a.json,
            Command::Demo(a) => a.json,
            Command::Report(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::common::{parse_bitrate, parse_duration};
    use super::*;
    use clap::CommandFactory;
    use std::time::Duration;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_and_bitrates_parse() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("24h").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("0s").is_err());
        assert_eq!(parse_bitrate("800k").unwrap(), 800_000);
        assert!(parse_bitrate("1").is_err());
    }
}
