//! The program: read the configuration file, parse the flags, run the command on a tokio
//! runtime, print a failure once with its causes, and map the outcome to an exit code.
//! `main.rs` only calls [`main`].

use std::process::ExitCode;

use crate::cli::{Cli, Command, ConfigCommand, ModerateCommand, SessionCommand, TokenCommand};
use crate::config::{self, Applied};
use crate::exit::{Exit, Failure};
use crate::{admin, client, demo};
use clap::{ArgMatches, CommandFactory, FromArgMatches};

/// Whose log a command's default level keeps quiet.
#[derive(PartialEq)]
enum Logs {
    All,
    /// The demo's in-process server would interleave its log with the demo's own report.
    Demo,
    /// A load test's hundreds of connections would each log their setup: warnings only
    /// (a participant that failed), its own figures aside.
    LoadTest,
}

fn init_logging(verbose: u8, quiet: bool, logs: Logs) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) if logs == Logs::Demo => "error,vcall=info,vcall::server=warn",
        (false, 0) if logs == Logs::LoadTest => "error,vcall=warn",
        (false, 0) => "error,vcall=info",
        (false, 1) => "warn,vcall=debug",
        _ => "debug,vcall=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

async fn run(cli: Cli, matches: ArgMatches, applied: Applied) -> Result<Exit, Failure> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Config(ConfigCommand::Show(a)) => {
            let show = matches
                .subcommand_matches("config")
                .and_then(|m| m.subcommand_matches("show"))
                .expect("config show matched");
            config::show(&applied, show, a.json)
        }
        Command::Serve(a) => admin::serve(a).await,
        Command::Session(SessionCommand::Create(a)) => admin::session_create(a).await,
        Command::Token(TokenCommand::Create(a)) => admin::token_create(a),
        Command::Connect(a) => client::connect::connect(a).await,
        Command::ListStreams(a) => client::connect::list_streams(a).await,
        Command::Publish(a) => {
            let progress = client::progress::Progress::new("publish", quiet || a.json);
            let settings = client::publish::Settings::new(&a);
            client::publish::publish(settings, progress, client::interrupted()).await
        }
        Command::Subscribe(a) => {
            let quiet = quiet || a.json;
            let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
            let settings = client::subscribe::Settings::new(&a, tty)?;
            client::subscribe::subscribe(settings, quiet, client::interrupted(), None).await
        }
        Command::Moderate(ModerateCommand::ForceUnpublish(a)) => {
            client::moderate::force_unpublish(a).await
        }
        Command::Moderate(ModerateCommand::ForceDisconnect(a)) => {
            client::moderate::force_disconnect(a).await
        }
        Command::EchoTest(a) => client::echo::echo_test(a, quiet, client::interrupted()).await,
        Command::LoadTest(a) => client::loadtest::load_test(a, quiet, client::interrupted()).await,
        Command::Devices(a) => client::devices(a),
        Command::Report(a) => crate::report::command(a),
        Command::Demo(a) => {
            let quiet = quiet || a.json;
            demo::demo(a, quiet).await
        }
    }
}

/// Runs vcall with the process's arguments.
pub fn main() -> ExitCode {
    // The configuration file goes into the environment first: flags > environment > file.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let applied = match config::apply(&args) {
        Ok(a) => a,
        Err(e) => {
            let f = Failure::from(e);
            eprintln!("vcall: error: {f}");
            return ExitCode::from(f.code as u8);
        }
    };
    let matches = Cli::command().get_matches_from(&args);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let logs = match cli.command {
        Command::Demo(_) => Logs::Demo,
        Command::LoadTest(_) => Logs::LoadTest,
        _ => Logs::All,
    };
    init_logging(cli.verbose, cli.quiet, logs);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vcall: error: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Failure as u8);
        }
    };
    let json = cli.command.json();
    let result = runtime.block_on(run(cli, matches, applied));
    // Threads blocked on stdin or a device must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(f) => {
            eprintln!("vcall: error: {f}");
            if json {
                crate::jsonl::emit(
                    "error",
                    serde_json::json!({ "exitCode": f.code as u8, "message": f.to_string() }),
                );
            }
            ExitCode::from(f.code as u8)
        }
    }
}
