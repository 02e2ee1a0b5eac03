//! `vcall connect` (print events as they happen) and `vcall list-streams` (print what is there),
//! and how session events are shown: a line for people, or a `--json` line whose types
//! (`EventOut`) are this output's own, apart from the model and from any wire.

use std::io::Write;

use serde_json::json;

use crate::cli::{ConnectArgs, ListStreamsArgs};
use crate::client::{Conn, Purpose, disconnected_failure, interrupted, join};
use crate::exit::{CmdResult, Exit, Failure};
use crate::peer::Network;
use serde::Serialize;

use crate::session::{Connection, ConnectionId, Reason, SessionEvent, SessionId, Stream, StreamId};

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
                "streamCreated         stream={} name={:?} {} connection={} path={}",
                stream.id,
                stream.name,
                media(stream),
                stream.connection_id,
                stream.path.as_str()
            )
        }
        SessionEvent::StreamPathChanged { stream, reason } => {
            format!(
                "streamPathChanged     stream={} path={} reason={reason}",
                stream.id,
                stream.path.as_str()
            )
        }
        SessionEvent::StreamDestroyed { stream, reason } => {
            format!(
                "streamDestroyed       stream={} name={:?} reason={reason}",
                stream.id, stream.name
            )
        }
        SessionEvent::StreamInterrupted { stream } => {
            format!(
                "streamInterrupted     stream={} name={:?}",
                stream.id, stream.name
            )
        }
        SessionEvent::StreamResumed { stream } => {
            format!(
                "streamResumed         stream={} name={:?} connection={}",
                stream.id, stream.name, stream.connection_id
            )
        }
        SessionEvent::SessionDisconnected { reason } => {
            format!("sessionDisconnected   reason={reason}")
        }
        SessionEvent::LayerSwitched {
            stream,
            layer,
            size,
        } => {
            let size = size.map_or(String::new(), |(w, h)| format!(" size={w}x{h}"));
            format!(
                "layerSwitched         stream={stream} layer={}{size}",
                layer.name()
            )
        }
        SessionEvent::Reconnecting {
            reason,
            attempt,
            max_attempts,
        } => format!("reconnecting          reason={reason} attempt={attempt}/{max_attempts}"),
        SessionEvent::Reconnected {
            connection,
            connection_count,
            streams,
        } => format!(
            "reconnected           connection={} connections={} streams={}",
            connection.id,
            connection_count,
            streams.len()
        ),
    }
}

/// One event as a JSON line (`docs/json.md`).
pub fn json_line(event: &SessionEvent) -> String {
    let out = EventOut::from(event);
    let v = serde_json::to_value(&out).expect("events serialize");
    crate::jsonl::line(out.name(), v)
}

/// A connection as `--json` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConnectionOut<'a> {
    id: &'a ConnectionId,
    data: &'a str,
    client_data: &'a str,
    created_at: u64,
}

impl<'a> From<&'a Connection> for ConnectionOut<'a> {
    fn from(c: &'a Connection) -> ConnectionOut<'a> {
        ConnectionOut {
            id: &c.id,
            data: &c.data,
            client_data: &c.client_data,
            created_at: c.created_at,
        }
    }
}

/// A stream as `--json` shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StreamOut<'a> {
    id: &'a StreamId,
    name: &'a str,
    has_audio: bool,
    has_video: bool,
    connection_id: &'a ConnectionId,
    created_at: u64,
    path: &'static str,
    #[serde(skip_serializing_if = "str::is_empty")]
    owner: &'a str,
}

impl<'a> From<&'a Stream> for StreamOut<'a> {
    fn from(s: &'a Stream) -> StreamOut<'a> {
        StreamOut {
            id: &s.id,
            name: &s.name,
            has_audio: s.has_audio,
            has_video: s.has_video,
            connection_id: &s.connection_id,
            created_at: s.created_at,
            path: s.path.as_str(),
            owner: &s.owner,
        }
    }
}

fn all<'a, M: 'a, O: From<&'a M>>(items: &'a [M]) -> Vec<O> {
    items.iter().map(O::from).collect()
}

/// A session event as `--json` shows it (`docs/json.schema.json`): its name in `event`,
/// the rest camelCase.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "camelCase")]
enum EventOut<'a> {
    #[serde(rename_all = "camelCase")]
    SessionConnected {
        session_id: &'a SessionId,
        connection: ConnectionOut<'a>,
        connection_count: usize,
        connections: Vec<ConnectionOut<'a>>,
        streams: Vec<StreamOut<'a>>,
        p2p: bool,
    },
    ConnectionCreated {
        connection: ConnectionOut<'a>,
    },
    ConnectionDestroyed {
        connection: ConnectionOut<'a>,
        reason: &'a str,
    },
    StreamCreated {
        stream: StreamOut<'a>,
    },
    StreamDestroyed {
        stream: StreamOut<'a>,
        reason: &'a str,
    },
    StreamPathChanged {
        stream: StreamOut<'a>,
        reason: &'a str,
    },
    StreamInterrupted {
        stream: StreamOut<'a>,
    },
    StreamResumed {
        stream: StreamOut<'a>,
    },
    SessionDisconnected {
        reason: &'a str,
    },
    #[serde(rename_all = "camelCase")]
    LayerSwitched {
        stream_id: &'a StreamId,
        layer: &'static str,
        width: Option<u32>,
        height: Option<u32>,
    },
    #[serde(rename_all = "camelCase")]
    Reconnecting {
        reason: &'a str,
        attempt: u32,
        max_attempts: u32,
    },
    #[serde(rename_all = "camelCase")]
    Reconnected {
        connection: ConnectionOut<'a>,
        connection_count: usize,
        streams: Vec<StreamOut<'a>>,
    },
}

impl EventOut<'_> {
    /// The `event` field.
    fn name(&self) -> &'static str {
        match self {
            EventOut::SessionConnected { .. } => "sessionConnected",
            EventOut::ConnectionCreated { .. } => "connectionCreated",
            EventOut::ConnectionDestroyed { .. } => "connectionDestroyed",
            EventOut::StreamCreated { .. } => "streamCreated",
            EventOut::StreamDestroyed { .. } => "streamDestroyed",
            EventOut::StreamPathChanged { .. } => "streamPathChanged",
            EventOut::StreamInterrupted { .. } => "streamInterrupted",
            EventOut::StreamResumed { .. } => "streamResumed",
            EventOut::SessionDisconnected { .. } => "sessionDisconnected",
            EventOut::LayerSwitched { .. } => "layerSwitched",
            EventOut::Reconnecting { .. } => "reconnecting",
            EventOut::Reconnected { .. } => "reconnected",
        }
    }
}

impl<'a> From<&'a SessionEvent> for EventOut<'a> {
    fn from(event: &'a SessionEvent) -> EventOut<'a> {
        match event {
            SessionEvent::SessionConnected {
                session_id,
                connection,
                connection_count,
                connections,
                streams,
                p2p,
            } => EventOut::SessionConnected {
                session_id,
                connection: connection.into(),
                connection_count: *connection_count,
                connections: all(connections),
                streams: all(streams),
                p2p: *p2p,
            },
            SessionEvent::ConnectionCreated { connection } => EventOut::ConnectionCreated {
                connection: connection.into(),
            },
            SessionEvent::ConnectionDestroyed { connection, reason } => {
                EventOut::ConnectionDestroyed {
                    connection: connection.into(),
                    reason: reason.as_str(),
                }
            }
            SessionEvent::StreamCreated { stream } => EventOut::StreamCreated {
                stream: stream.into(),
            },
            SessionEvent::StreamDestroyed { stream, reason } => EventOut::StreamDestroyed {
                stream: stream.into(),
                reason: reason.as_str(),
            },
            SessionEvent::StreamPathChanged { stream, reason } => EventOut::StreamPathChanged {
                stream: stream.into(),
                reason: reason.as_str(),
            },
            SessionEvent::StreamInterrupted { stream } => EventOut::StreamInterrupted {
                stream: stream.into(),
            },
            SessionEvent::StreamResumed { stream } => EventOut::StreamResumed {
                stream: stream.into(),
            },
            SessionEvent::SessionDisconnected { reason } => EventOut::SessionDisconnected {
                reason: reason.as_str(),
            },
            SessionEvent::LayerSwitched {
                stream,
                layer,
                size,
            } => EventOut::LayerSwitched {
                stream_id: stream,
                layer: layer.name(),
                width: size.map(|s| s.0),
                height: size.map(|s| s.1),
            },
            SessionEvent::Reconnecting {
                reason,
                attempt,
                max_attempts,
            } => EventOut::Reconnecting {
                reason: reason.as_str(),
                attempt: *attempt,
                max_attempts: *max_attempts,
            },
            SessionEvent::Reconnected {
                connection,
                connection_count,
                streams,
            } => EventOut::Reconnected {
                connection: connection.into(),
                connection_count: *connection_count,
                streams: all(streams),
            },
        }
    }
}

/// Tells the user (and a script, with `--json`) that a stream's media changed its way.
pub fn report_path(event: &SessionEvent, json: bool) {
    if let SessionEvent::StreamPathChanged { stream, reason } = event {
        tracing::warn!(stream = %stream.id, %reason, "the stream's media now goes {}", match stream.path {
            crate::session::MediaPath::Direct => "directly",
            crate::session::MediaPath::Routed => "through the server",
        });
        if json {
            crate::jsonl::out(&json_line(event));
        }
    }
}

/// Tells the user (and a script, with `--json`) that the simulcast layer received of a
/// stream changed.
pub fn report_layer(event: &SessionEvent, json: bool) {
    if let SessionEvent::LayerSwitched {
        stream,
        layer,
        size,
    } = event
    {
        let size = size.map_or(String::new(), |(w, h)| format!(" ({w}x{h})"));
        tracing::info!(%stream, "receiving the {} layer{size}", layer.name());
        if json {
            crate::jsonl::out(&json_line(event));
        }
    }
}

/// Tells the user (and a script, with `--json`, as the session event) that a recorded
/// stream's publisher lost its connection, or came back.
pub fn report_interruption(event: &SessionEvent, json: bool) {
    match event {
        SessionEvent::StreamInterrupted { stream } => tracing::warn!(
            stream = %stream.id,
            "the stream's publisher lost its connection; the recording waits for it to come back"
        ),
        SessionEvent::StreamResumed { stream } => tracing::info!(
            stream = %stream.id, connection = %stream.connection_id,
            "the stream's publisher is back; the recording goes on"
        ),
        _ => return,
    }
    if json {
        crate::jsonl::out(&json_line(event));
    }
}

/// Tells the user (and a script, with `--json`) that the session is being joined again.
pub fn report_rejoin(event: &SessionEvent, json: bool) {
    match event {
        SessionEvent::Reconnecting {
            reason: Reason::MediaStopped,
            attempt,
            max_attempts,
        } => tracing::warn!(
            "the media connection broke and only the server can restart it; joining the room again (attempt {attempt} of {max_attempts})"
        ),
        SessionEvent::Reconnecting {
            reason: Reason::SetupFailed,
            attempt,
            max_attempts,
        } => tracing::warn!(
            "setting the media connections up anew (attempt {attempt} of {max_attempts})"
        ),
        SessionEvent::Reconnecting {
            reason,
            attempt,
            max_attempts,
        } => tracing::warn!(
            "the signaling connection was lost ({reason}); joining again (attempt {attempt} of {max_attempts})"
        ),
        SessionEvent::Reconnected { connection, .. } => {
            tracing::info!(connection = %connection.id, "joined the session again")
        }
        _ => return,
    }
    if json {
        crate::jsonl::out(&json_line(event));
    }
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
    // Ctrl-C is handled from before `sessionConnected` is printed: a script that stops this
    // as soon as it is connected never kills it mid-way.
    let ctrl_c = interrupted();
    let mut joined = match join(
        &Conn::from_args(&args.conn),
        Network::default(),
        Purpose::Session("connect"),
    )
    .await
    {
        Ok(j) => j,
        Err(failure) => {
            // Scripts reading the event stream see why it ended, as OpenTok's sessionFailed.
            if failure.code != Exit::Usage {
                let line = if args.json {
                    crate::jsonl::line(
                        "sessionFailed",
                        json!({ "reason": failure.to_string(), "exitCode": failure.code as u8 }),
                    )
                } else {
                    format!("sessionFailed         reason={failure}")
                };
                crate::jsonl::out(&line);
            }
            return Err(failure);
        }
    };
    print(&joined.first, args.json);
    let mut state = State::from(&joined.first);
    let stop = async {
        match args.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stop);
    let wait_limit = async {
        match (&args.wait_for, args.conn.timeout) {
            (Some(_), Some(d)) => tokio::time::sleep(d).await,
            _ => std::future::pending().await,
        }
    };
    tokio::pin!(wait_limit);
    tokio::pin!(ctrl_c);
    let end = loop {
        if let Some(wait) = &args.wait_for
            && wait.0.iter().all(|c| c.holds(state.value(&c.metric)))
        {
            print_wait(&args, "waitSatisfied", &state);
            break Ok(Exit::Ok);
        }
        let event = tokio::select! {
            ev = joined.events.recv() => Event::Session(ev),
            () = &mut wait_limit => Event::WaitTimedOut,
            () = &mut stop => Event::DurationReached,
            () = &mut ctrl_c => Event::Interrupted,
        };
        match event {
            Event::Session(None) => {
                return Err(disconnected_failure(&Reason::NetworkDisconnected));
            }
            Event::Session(Some(ev)) => {
                print(&ev, args.json);
                state.apply(&ev);
                if let SessionEvent::SessionDisconnected { reason } = ev {
                    return Err(disconnected_failure(&reason));
                }
            }
            Event::WaitTimedOut => {
                print_wait(&args, "waitTimedOut", &state);
                break Err(unmet(&args, &state));
            }
            Event::DurationReached => break Ok(Exit::Ok),
            Event::Interrupted => break Ok(Exit::Interrupted),
        }
    };
    joined.client.disconnect().await;
    end
}

/// Everything `connect` waits for.
enum Event {
    /// The session said something (`None`: its connection is gone).
    Session(Option<SessionEvent>),
    /// `--wait-for` was not reached within `--timeout`.
    WaitTimedOut,
    /// `--duration` has passed.
    DurationReached,
    Interrupted,
}

/// The failure for a `--wait-for` not reached: which conditions, and where they stand.
fn unmet(args: &ConnectArgs, state: &State) -> Failure {
    let wait = args.wait_for.as_ref().expect("a wait");
    let unmet: Vec<String> = wait
        .0
        .iter()
        .filter(|c| !c.holds(state.value(&c.metric)))
        .map(|c| format!("{c} (is {})", c.show(state.value(&c.metric))))
        .collect();
    Failure::new(
        Exit::Assertion,
        format!(
            "not reached within {:?}: {}",
            args.conn.timeout.unwrap_or_default(),
            unmet.join(", ")
        ),
    )
}

/// The session as events tell it: its streams, and the connections besides ours.
struct State {
    streams: std::collections::HashSet<crate::session::StreamId>,
    others: i64,
}

impl State {
    fn from(first: &SessionEvent) -> State {
        match first {
            SessionEvent::SessionConnected {
                streams,
                connection_count,
                ..
            } => State {
                streams: streams.iter().map(|s| s.id.clone()).collect(),
                others: *connection_count as i64 - 1,
            },
            _ => State {
                streams: Default::default(),
                others: 0,
            },
        }
    }

    fn apply(&mut self, event: &SessionEvent) {
        match event {
            SessionEvent::ConnectionCreated { .. } => self.others += 1,
            SessionEvent::ConnectionDestroyed { .. } => self.others -= 1,
            SessionEvent::StreamCreated { stream } => {
                self.streams.insert(stream.id.clone());
            }
            SessionEvent::StreamDestroyed { stream, .. } => {
                self.streams.remove(&stream.id);
            }
            SessionEvent::Reconnected {
                streams,
                connection_count,
                ..
            } => {
                self.streams = streams.iter().map(|s| s.id.clone()).collect();
                self.others = *connection_count as i64 - 1;
            }
            _ => {}
        }
    }

    fn value(&self, metric: &str) -> f64 {
        match metric {
            "streams" => self.streams.len() as f64,
            _ => self.others.max(0) as f64,
        }
    }
}

fn print_wait(args: &ConnectArgs, event: &str, state: &State) {
    let conditions = args
        .wait_for
        .as_ref()
        .map(|w| {
            w.0.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let (streams, connections) = (state.value("streams"), state.value("connections"));
    if args.json {
        crate::jsonl::emit(
            event,
            json!({ "conditions": conditions, "streams": streams as u64, "connections": connections as u64 }),
        );
    } else {
        crate::jsonl::out(&format!(
            "{event:<21} {conditions} streams={streams} connections={connections}"
        ));
    }
}

pub async fn list_streams(args: ListStreamsArgs) -> CmdResult {
    let joined = join(
        &Conn::from_args(&args.conn),
        Network::default(),
        Purpose::Session("list-streams"),
    )
    .await?;
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
        let streams: Vec<StreamOut> = all(streams);
        let v = json!({ "sessionId": session_id, "connectionCount": others, "streams": streams });
        let _ = writeln!(out, "{}", crate::jsonl::line("streams", v));
    } else {
        let _ = writeln!(
            out,
            "{:<20} {:<20} {:<6} {:<6} {:<7} CONNECTION",
            "STREAM", "NAME", "AUDIO", "VIDEO", "PATH"
        );
        for s in streams {
            let yn = |b: bool| if b { "yes" } else { "no" };
            let _ = writeln!(
                out,
                "{:<20} {:<20} {:<6} {:<6} {:<7} {}",
                s.id,
                s.name,
                yn(s.has_audio),
                yn(s.has_video),
                s.path.as_str(),
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
