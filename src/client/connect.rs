//! `vcall connect` (print events as they happen) and `vcall list-streams` (print what is there).

use std::io::Write;

use serde_json::json;

use crate::cli::{ConnectArgs, ListStreamsArgs};
use crate::client::{disconnected_failure, interrupted, join};
use crate::exit::{CmdResult, Exit};
use crate::session::{SessionEvent, Stream, now_ms};

/// One event as a human-readable line.
pub fn human(event: &SessionEvent) -> String {
    let media = |s: &Stream| match (s.has_audio, s.has_video) {
        (true, true) => "audio+video",
        (true, false) => "audio",
        (false, true) => "video",
        (false, false) => "no media",
    };
    match event {
        SessionEvent::SessionConnected {
            session_id: _,
            connection,
            connection_count,
            streams,
            ..
        } => {
            format!(
                "sessionConnected      connection={} connections={} streams={}",
                connection.id,
                connection_count,
                streams.len()
            )
        }
        SessionEvent::ConnectionCreated { connection } => {
            format!(
                "connectionCreated     connection={} data={:?} clientData={:?}",
                connection.id, connection.data, connection.client_data
            )
        }
        SessionEvent::ConnectionDestroyed { connection, reason } => {
            format!(
                "connectionDestroyed   connection={} reason={reason}",
                connection.id
            )
        }
        SessionEvent::StreamCreated { stream } => {
            format!(
                "streamCreated         stream={} name={:?} {} connection={}",
                stream.id,
                stream.name,
                media(stream),
                stream.connection_id
            )
        }
        SessionEvent::StreamDestroyed { stream, reason } => {
            format!(
                "streamDestroyed       stream={} name={:?} reason={reason}",
                stream.id, stream.name
            )
        }
        SessionEvent::SessionDisconnected { reason } => {
            format!("sessionDisconnected   reason={reason}")
        }
    }
}

/// One event as a JSON line: the event's fields plus `time` (Unix ms).
pub fn json_line(event: &SessionEvent) -> String {
    let mut v = serde_json::to_value(event).expect("events serialize");
    v["time"] = json!(now_ms());
    v.to_string()
}

fn print(event: &SessionEvent, as_json: bool) {
    let line = if as_json {
        json_line(event)
    } else {
        human(event)
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

pub async fn connect(args: ConnectArgs) -> CmdResult {
    let mut joined = match join(&args.conn).await {
        Ok(j) => j,
        Err(failure) => {
            // Scripts reading the event stream see why it ended, as OpenTok's sessionFailed.
            if failure.code != Exit::Usage {
                let line = if args.json {
                    json!({ "event": "sessionFailed", "reason": failure.message, "exitCode": failure.code as u8, "time": now_ms() }).to_string()
                } else {
                    format!("sessionFailed         reason={}", failure.message)
                };
                println!("{line}");
            }
            return Err(failure);
        }
    };
    print(&joined.first, args.json);
    let stop = async {
        match args.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);
    let ctrl_c = interrupted();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            ev = joined.events.recv() => {
                let Some(ev) = ev else { return Err(disconnected_failure("networkDisconnected")) };
                print(&ev, args.json);
                if let SessionEvent::SessionDisconnected { reason } = ev {
                    return Err(disconnected_failure(&reason));
                }
            }
            _ = &mut stop => { joined.client.disconnect().await; return Ok(Exit::Ok); }
            _ = &mut ctrl_c => { joined.client.disconnect().await; return Ok(Exit::Interrupted); }
        }
    }
}

pub async fn list_streams(args: ListStreamsArgs) -> CmdResult {
    let joined = join(&args.conn).await?;
    let SessionEvent::SessionConnected {
        session_id,
        connection_count,
        streams,
        ..
    } = &joined.first
    else {
        unreachable!("join returns sessionConnected");
    };
    // Our own connection is not one of the participants being listed.
    let others = connection_count.saturating_sub(1);
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = json!({ "sessionId": session_id, "connectionCount": others, "streams": streams, "time": now_ms() });
        let _ = writeln!(out, "{v}");
    } else {
        let _ = writeln!(
            out,
            "{:<20} {:<20} {:<6} {:<6} CONNECTION",
            "STREAM", "NAME", "AUDIO", "VIDEO"
        );
        for s in streams {
            let yn = |b: bool| if b { "yes" } else { "no" };
            let _ = writeln!(
                out,
                "{:<20} {:<20} {:<6} {:<6} {}",
                s.id,
                s.name,
                yn(s.has_audio),
                yn(s.has_video),
                s.connection_id
            );
        }
        let _ = writeln!(
            out,
            "{} stream(s), {} connection(s) besides this one",
            streams.len(),
            others
        );
    }
    let _ = out.flush();
    joined.client.disconnect().await;
    Ok(Exit::Ok)
}
