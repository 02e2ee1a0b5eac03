//! vcall's native signaling protocol: JSON messages over one WebSocket (`/v1/signaling`).
//! The wire types live here and only here; `docs/protocol.md` is their prose description.
//! The client driver is a read task and a write task around the socket, with requests matched
//! to their responses by `req`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::session::SessionEvent;
use crate::signaling::SignalingError;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 2;

/// Messages from a client to the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClientMsg {
    /// The first message on a socket.
    #[serde(rename_all = "camelCase")]
    Connect {
        version: u32,
        session_id: String,
        token: String,
        #[serde(default)]
        client_data: String,
    },
    /// Publish a stream: `sdp` is an offer of the client's one peer connection with the
    /// stream's send-only sections added, whose tracks carry `msid` as their media stream id;
    /// answered by `published`.
    #[serde(rename_all = "camelCase")]
    Publish {
        req: u64,
        name: String,
        has_audio: bool,
        has_video: bool,
        msid: String,
        sdp: String,
    },
    /// Stop publishing; answered by `ok`.
    #[serde(rename_all = "camelCase")]
    Unpublish { req: u64, stream_id: String },
    /// Subscribe to a stream: `sdp` is an offer of the client's peer connection with a
    /// receive-only section added for each kind asked for (audio first); answered by
    /// `subscribed`.
    #[serde(rename_all = "camelCase")]
    Subscribe {
        req: u64,
        stream_id: String,
        audio: bool,
        video: bool,
        sdp: String,
    },
    /// Stop receiving a subscription; answered by `ok`.
    #[serde(rename_all = "camelCase")]
    Unsubscribe { req: u64, subscription_id: String },
    /// Moderators only: force a stream to stop; answered by `ok`.
    #[serde(rename_all = "camelCase")]
    ForceUnpublish { req: u64, stream_id: String },
    /// Moderators only: force a connection out; answered by `ok`.
    #[serde(rename_all = "camelCase")]
    ForceDisconnect { req: u64, connection_id: String },
    /// Leave the session.
    Disconnect,
}

/// Error codes the server sends; see docs/protocol.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    VersionUnsupported,
    BadRequest,
    InvalidToken,
    TokenExpired,
    SessionNotFound,
    WrongSession,
    Forbidden,
    NotFound,
    Media,
    Internal,
    /// A socket sent no `connect` in time.
    ConnectTimeout,
    /// The server's connection limits (in total, or from one address) are reached.
    TooManyConnections,
}

/// Messages from the server to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMsg {
    /// A session event (see `SessionEvent`).
    Event {
        #[serde(flatten)]
        event: SessionEvent,
    },
    /// The answer to `publish`.
    #[serde(rename_all = "camelCase")]
    Published {
        req: u64,
        stream_id: String,
        sdp: String,
    },
    /// The answer to `subscribe`: the stream's media arrives in the sections it offered.
    #[serde(rename_all = "camelCase")]
    Subscribed {
        req: u64,
        subscription_id: String,
        stream_id: String,
        sdp: String,
    },
    /// A request succeeded.
    Ok { req: u64 },
    /// A request (or, without `req`, the connection) failed.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        req: Option<u64>,
        code: ErrorCode,
        message: String,
    },
}

impl ServerMsg {
    fn req(&self) -> Option<u64> {
        match self {
            ServerMsg::Published { req, .. }
            | ServerMsg::Subscribed { req, .. }
            | ServerMsg::Ok { req } => Some(*req),
            ServerMsg::Error { req, .. } => *req,
            ServerMsg::Event { .. } => None,
        }
    }
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<ServerMsg>>>>;

/// A connected native-protocol client.
pub struct NativeClient {
    out: mpsc::UnboundedSender<ClientMsg>,
    pending: Pending,
    next_req: std::sync::atomic::AtomicU64,
    /// Limit for each answer.
    timeout: std::time::Duration,
    /// Resolves when the write task has sent everything and closed the socket.
    written: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

impl NativeClient {
    /// Opens the socket, sends `connect`, and waits for `sessionConnected`.
    /// Returns the client, the first event, and the receiver of all later events.
    pub async fn connect(
        url: &str,
        session_id: &str,
        token: &str,
        client_data: &str,
        timeout: std::time::Duration,
    ) -> Result<
        (
            NativeClient,
            SessionEvent,
            mpsc::UnboundedReceiver<SessionEvent>,
        ),
        SignalingError,
    > {
        let ws_url = format!("{}/v1/signaling", url.trim_end_matches('/'));
        let (ws, _) = tokio::time::timeout(timeout, tokio_tungstenite::connect_async(&ws_url))
            .await
            .map_err(|_| {
                SignalingError::Unreachable(format!("{url}: no answer within {timeout:?}"))
            })?
            .map_err(|e| SignalingError::Unreachable(format!("{url}: {e}")))?;
        let (mut sink, mut stream) = ws.split();

        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<ClientMsg>();
        let (events_tx, events_rx) = mpsc::unbounded_channel::<SessionEvent>();
        let pending: Pending = Arc::default();

        // Write task: everything the client sends goes through here, in order.
        let (written_tx, written_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _written = written_tx; // dropped when the task ends: the socket is done
            while let Some(msg) = out_rx.recv().await {
                let text = serde_json::to_string(&msg).expect("client messages serialize");
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
                if matches!(msg, ClientMsg::Disconnect) {
                    let _ = sink.close().await;
                    break;
                }
            }
        });

        // Read task: responses go to their waiters, events to the event channel. When the
        // socket ends without a `sessionDisconnected`, report the loss as one.
        let (first_tx, first_rx) = oneshot::channel::<Result<SessionEvent, SignalingError>>();
        let pending_r = Arc::clone(&pending);
        tokio::spawn(async move {
            let mut first_tx = Some(first_tx);
            let mut disconnected = false;
            while let Some(frame) = stream.next().await {
                let text = match frame {
                    Ok(Message::Text(t)) => t,
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => continue,
                };
                let msg: ServerMsg = match serde_json::from_str(&text) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!("ignoring unreadable server message: {e}");
                        continue;
                    }
                };
                if let Some(req) = msg.req() {
                    if let Some(waiter) = pending_r.lock().expect("pending lock").remove(&req) {
                        let _ = waiter.send(msg);
                    }
                    continue;
                }
                match msg {
                    ServerMsg::Event { event } => {
                        if matches!(event, SessionEvent::SessionDisconnected { .. }) {
                            disconnected = true;
                        }
                        if matches!(event, SessionEvent::SessionConnected { .. })
                            && let Some(tx) = first_tx.take()
                        {
                            let _ = tx.send(Ok(event));
                            continue;
                        }
                        let _ = events_tx.send(event);
                    }
                    ServerMsg::Error { code, message, .. } => {
                        let err = SignalingError::from_code(code, message.clone());
                        if let Some(tx) = first_tx.take() {
                            let _ = tx.send(Err(err));
                        } else {
                            tracing::warn!("server error: {message}");
                        }
                    }
                    _ => {}
                }
            }
            if let Some(tx) = first_tx.take() {
                let _ = tx.send(Err(SignalingError::Lost(
                    "the server closed the connection before the session was joined".into(),
                )));
            } else if !disconnected {
                let _ = events_tx.send(SessionEvent::SessionDisconnected {
                    reason: "networkDisconnected".into(),
                });
            }
            // Wake every waiter: their requests will not be answered.
            pending_r.lock().expect("pending lock").clear();
        });

        let client = NativeClient {
            out: out_tx,
            pending,
            timeout,
            next_req: 1.into(),
            written: tokio::sync::Mutex::new(Some(written_rx)),
        };
        client.send(ClientMsg::Connect {
            version: PROTOCOL_VERSION,
            session_id: session_id.to_owned(),
            token: token.to_owned(),
            client_data: client_data.to_owned(),
        })?;
        let first = tokio::time::timeout(timeout, first_rx)
            .await
            .map_err(|_| {
                SignalingError::Timeout(format!("the server did not answer within {timeout:?}"))
            })?
            .map_err(|_| SignalingError::Lost("signaling task ended".into()))??;
        Ok((client, first, events_rx))
    }

    fn send(&self, msg: ClientMsg) -> Result<(), SignalingError> {
        self.out
            .send(msg)
            .map_err(|_| SignalingError::Lost("the signaling connection is closed".into()))
    }

    fn next_req(&self) -> u64 {
        self.next_req
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends a request built with a fresh `req` id and waits for its response.
    async fn request(
        &self,
        build: impl FnOnce(u64) -> ClientMsg,
    ) -> Result<ServerMsg, SignalingError> {
        let req = self.next_req();
        let (tx, rx) = oneshot::channel();
        self.pending.lock().expect("pending lock").insert(req, tx);
        self.send(build(req))?;
        let answer = tokio::time::timeout(self.timeout, rx).await.map_err(|_| {
            self.pending.lock().expect("pending lock").remove(&req);
            SignalingError::Timeout(format!(
                "the server did not answer within {:?}",
                self.timeout
            ))
        })?;
        match answer {
            Ok(ServerMsg::Error { code, message, .. }) => {
                Err(SignalingError::from_code(code, message))
            }
            Ok(msg) => Ok(msg),
            Err(_) => Err(SignalingError::Lost(
                "the signaling connection closed before the server answered".into(),
            )),
        }
    }

    /// Publishes a stream whose tracks carry `msid`; returns its id and the server's answer.
    pub async fn publish(
        &self,
        name: &str,
        has_audio: bool,
        has_video: bool,
        msid: &str,
        offer: String,
    ) -> Result<(String, String), SignalingError> {
        match self
            .request(|req| ClientMsg::Publish {
                req,
                name: name.to_owned(),
                has_audio,
                has_video,
                msid: msid.to_owned(),
                sdp: offer,
            })
            .await?
        {
            ServerMsg::Published { stream_id, sdp, .. } => Ok((stream_id, sdp)),
            other => Err(unexpected(other)),
        }
    }

    pub async fn unpublish(&self, stream_id: &str) -> Result<(), SignalingError> {
        self.request(|req| ClientMsg::Unpublish {
            req,
            stream_id: stream_id.to_owned(),
        })
        .await
        .map(drop)
    }

    /// Subscribes with `offer` (receive-only sections for the kinds asked for); returns the
    /// subscription's id and the server's answer.
    pub async fn subscribe(
        &self,
        stream_id: &str,
        audio: bool,
        video: bool,
        offer: String,
    ) -> Result<(String, String), SignalingError> {
        match self
            .request(|req| ClientMsg::Subscribe {
                req,
                stream_id: stream_id.to_owned(),
                audio,
                video,
                sdp: offer,
            })
            .await?
        {
            ServerMsg::Subscribed {
                subscription_id,
                sdp,
                ..
            } => Ok((subscription_id, sdp)),
            other => Err(unexpected(other)),
        }
    }

    pub async fn force_unpublish(&self, stream_id: &str) -> Result<(), SignalingError> {
        self.request(|req| ClientMsg::ForceUnpublish {
            req,
            stream_id: stream_id.to_owned(),
        })
        .await
        .map(drop)
    }

    pub async fn force_disconnect(&self, connection_id: &str) -> Result<(), SignalingError> {
        self.request(|req| ClientMsg::ForceDisconnect {
            req,
            connection_id: connection_id.to_owned(),
        })
        .await
        .map(drop)
    }

    /// Leaves the session (the server tells the others) and waits, briefly, until the
    /// goodbye is on the wire.
    pub async fn disconnect(&self) {
        let _ = self.send(ClientMsg::Disconnect);
        if let Some(rx) = self.written.lock().await.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), rx).await;
        }
    }
}

fn unexpected(msg: ServerMsg) -> SignalingError {
    SignalingError::Protocol(format!("unexpected response {msg:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever arrives on the socket either is a message or is refused; messages damaged
        /// at random included.
        #[test]
        fn prop_any_text_is_a_message_or_refused(
            text in "\\PC{0,300}",
            at in any::<prop::sample::Index>(),
            cut in 0usize..30,
        ) {
            let _ = serde_json::from_str::<ClientMsg>(&text);
            let _ = serde_json::from_str::<ServerMsg>(&text);
            let valid = r#"{"type":"subscribe","req":3,"streamId":"s-1","audio":true,"video":false,"sdp":"v=0"}"#;
            let i = at.index(valid.len());
            let damaged = format!("{}{}{}", &valid[..i], text.chars().take(cut).collect::<String>(), &valid[(i + cut).min(valid.len())..]);
            let _ = serde_json::from_str::<ClientMsg>(&damaged);
            let _ = serde_json::from_str::<ServerMsg>(&damaged);
        }
    }
}
