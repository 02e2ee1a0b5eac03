//! `vcall moderate`: a moderator forces a stream to unpublish or a connection to leave.

use crate::cli::{ForceDisconnectArgs, ForceUnpublishArgs};
use crate::client::{Conn, Purpose, join, match_stream};
use crate::exit::{CmdResult, Exit, Failure};
use crate::peer::Network;

pub async fn force_unpublish(args: ForceUnpublishArgs) -> CmdResult {
    let joined = join(
        &Conn::from_args(&args.conn),
        Network::default(),
        Purpose::Session("moderate"),
    )
    .await?;
    let stream = match_stream(joined.streams(), &args.stream)
        .map(|s| s.id.clone())
        .ok_or_else(|| {
            Failure::new(
                Exit::NotFound,
                format!("no stream {:?} in this session", args.stream),
            )
        });
    let result = match stream {
        Ok(id) => joined
            .client
            .force_unpublish(&id)
            .await
            .map(|_| id)
            .map_err(Failure::from),
        Err(e) => Err(e),
    };
    joined.client.disconnect().await;
    let id = result?;
    report(args.json, "forceUnpublish", id.as_str());
    Ok(Exit::Ok)
}

/// Tells what was done: on stderr, or as a `moderated` line.
fn report(json: bool, action: &str, target: &str) {
    if json {
        crate::jsonl::emit(
            "moderated",
            serde_json::json!({ "action": action, "target": target }),
        );
    } else {
        tracing::info!(target, "{action} done");
    }
}

pub async fn force_disconnect(args: ForceDisconnectArgs) -> CmdResult {
    let joined = join(
        &Conn::from_args(&args.conn),
        Network::default(),
        Purpose::Session("moderate"),
    )
    .await?;
    let result = joined
        .client
        .force_disconnect(&args.connection)
        .await
        .map_err(Failure::from);
    joined.client.disconnect().await;
    result?;
    report(args.json, "forceDisconnect", args.connection.as_str());
    Ok(Exit::Ok)
}
