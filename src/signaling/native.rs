//! vcall's native signaling protocol: JSON messages over one WebSocket (`/v1/signaling`).
//! The wire types live here and only here; `docs/protocol.md` is their prose description.
//! The client driver is a read task and a write task around the socket, with requests matched
//! to their responses by `req`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::session::{ConnectionId, SessionEvent, SessionId, StreamId, SubscriptionId};
use crate::signaling::SignalingError;
use crate::signaling::server_url::ServerUrl;

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
        session_id: SessionId,
        token: String,
        #[serde(default)]
        client_data: String,
    },
    /// Publish a stream: `sdp` is an offer of the client's one peer connection with the
    /// stream's send-only sections added, whose tracks carry `msid` as their media stream id;
    /// answered by `published`. `streamId`, from a client publishing again after it joined
    /// again, asks for the id its stream had; the server grants it when no stream holds it.
    #[serde(rename_all = "camelCase")]
    Publish {
        req: u64,
        name: String,
        has_audio: bool,
        has_video: bool,
        msid: String,
        sdp: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stream_id: Option<StreamId>,
        /// In a peer-to-peer session: the stream's media goes to each subscriber directly
        /// (`subscribeOffer`), and `sdp` is empty. Answered at once.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        direct: bool,
    },
    /// Stop publishing; answered by `ok`.
    #[serde(rename_all = "camelCase")]
    Unpublish { req: u64, stream_id: StreamId },
    /// Subscribe to a stream: `sdp` is an offer of the client's peer connection with a
    /// receive-only section added for each kind asked for (audio first); answered by
    /// `subscribed`.
    #[serde(rename_all = "camelCase")]
    Subscribe {
        req: u64,
        stream_id: StreamId,
        audio: bool,
        video: bool,
        sdp: String,
        /// Of a stream whose path is `direct`: `sdp` is the offer of a connection of its own,
        /// passed to the publisher, whose answer comes back in `subscribed`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        direct: bool,
        /// Of a `direct` stream subscribed through the server: why the direct path was left
        /// (`directFailed`, `directLost`), told to everyone in `streamPathChanged`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback: Option<String>,
    },
    /// The publisher's answer to a `subscribeOffer` (`sdp`), or why it has none (`error`).
    #[serde(rename_all = "camelCase")]
    SubscribeAnswer {
        subscription_id: SubscriptionId,
        #[serde(default)]
        sdp: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Restart ICE on the client's peer connection (its media path broke while signaling
    /// stayed up): `sdp` is an offer with new ICE credentials; answered by `iceRestarted`.
    #[serde(rename_all = "camelCase")]
    RestartIce { req: u64, sdp: String },
    /// Stop receiving a subscription; answered by `ok`.
    #[serde(rename_all = "camelCase")]
    Unsubscribe {
        req: u64,
        subscription_id: SubscriptionId,
    },
    /// Moderators only: force a stream to stop; answered by `ok`.
    #[serde(rename_all = "camelCase")]
    ForceUnpublish { req: u64, stream_id: StreamId },
    /// Moderators only: force a connection out; answered by `ok`.
    #[serde(rename_all = "camelCase")]
    ForceDisconnect {
        req: u64,
        connection_id: ConnectionId,
    },
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
    /// A peer-to-peer session has its two clients with media.
    SessionFull,
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
        stream_id: StreamId,
        sdp: String,
    },
    /// The answer to `subscribe`: the stream's media arrives in the sections it offered.
    #[serde(rename_all = "camelCase")]
    Subscribed {
        req: u64,
        subscription_id: SubscriptionId,
        stream_id: StreamId,
        sdp: String,
        /// The answer is the publisher's, for a connection directly with it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        direct: bool,
    },
    /// To the publisher of a `direct` stream: a subscriber's offer, to answer with
    /// `subscribeAnswer` on a connection of its own.
    #[serde(rename_all = "camelCase")]
    SubscribeOffer {
        subscription_id: SubscriptionId,
        stream_id: StreamId,
        connection_id: ConnectionId,
        audio: bool,
        video: bool,
        sdp: String,
    },
    /// To the publisher of a `direct` stream: a direct subscription ended.
    #[serde(rename_all = "camelCase")]
    SubscriptionEnded { subscription_id: SubscriptionId },
    /// To the publisher of a `direct` stream: publish it through the server as well
    /// (`publish` with its `streamId`), for a subscriber that cannot have it directly.
    #[serde(rename_all = "camelCase")]
    Route { stream_id: StreamId },
    /// The answer to `restartIce`.
    #[serde(rename_all = "camelCase")]
    IceRestarted { req: u64, sdp: String },
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
            | ServerMsg::IceRestarted { req, .. }
            | ServerMsg::Ok { req } => Some(*req),
            ServerMsg::Error { req, .. } => *req,
            ServerMsg::Event { .. }
            | ServerMsg::SubscribeOffer { .. }
            | ServerMsg::SubscriptionEnded { .. }
            | ServerMsg::Route { .. } => None,
        }
    }
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<ServerMsg>>>>;

/// How a subscription's media comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// From the publisher of a direct stream.
    Direct,
    /// Through the server; of a direct stream, for the reason given.
    Server(Option<&'static str>),
}

/// What the server asks of the publisher of a direct stream (a peer-to-peer session).
#[derive(Debug, Clone, PartialEq)]
pub enum DirectRequest {
    /// A subscriber's offer for `stream_id`, to answer with [`NativeClient::answer_direct`].
    Offer {
        subscription_id: SubscriptionId,
        stream_id: StreamId,
        connection_id: ConnectionId,
        sdp: String,
    },
    /// The subscription ended: its connection can go.
    Ended { subscription_id: SubscriptionId },
    /// Publish `stream_id` through the server as well.
    Route { stream_id: StreamId },
}

/// How a client joins a session, kept to join again when the connection drops.
#[derive(Debug, Clone)]
pub struct Login {
    pub url: ServerUrl,
    pub session_id: SessionId,
    pub token: String,
    pub client_data: String,
    /// Limit for each answer.
    pub timeout: Duration,
    /// Attempts to join again after the connection drops (0: none).
    pub max_retries: u32,
    /// The longest wait between attempts; the first comes after a quarter second at most,
    /// and the waits double up to this.
    pub retry_delay: Duration,
}

/// The first wait before joining again: a signaling hiccup is over in well under this.
const FIRST_RETRY: Duration = Duration::from_millis(250);

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A connected native-protocol client.
pub struct NativeClient {
    out: mpsc::UnboundedSender<ClientMsg>,
    pending: Pending,
    next_req: std::sync::atomic::AtomicU64,
    /// Limit for each answer.
    timeout: Duration,
    /// Resolves when the connection's task has ended (after the goodbye is on the wire).
    written: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
    /// What the server asks of a publisher of direct streams, until a command takes it.
    direct: Mutex<Option<mpsc::UnboundedReceiver<DirectRequest>>>,
}

/// Opens a socket and joins: the socket, and `sessionConnected`.
async fn open(login: &Login) -> Result<(Ws, SessionEvent), SignalingError> {
    let url = &login.url;
    let timeout = login.timeout;
    let ws_url = format!("{}/v1/signaling", url.base());
    let (mut ws, _) = tokio::time::timeout(timeout, tokio_tungstenite::connect_async(&ws_url))
        .await
        .map_err(|_| SignalingError::Unreachable(format!("{url}: no answer within {timeout:?}")))?
        .map_err(|e| SignalingError::Unreachable(format!("{url}: {e}")))?;
    let connect = ClientMsg::Connect {
        version: PROTOCOL_VERSION,
        session_id: login.session_id.clone(),
        token: login.token.clone(),
        client_data: login.client_data.clone(),
    };
    let text = serde_json::to_string(&connect).expect("client messages serialize");
    ws.send(Message::text(text))
        .await
        .map_err(|e| SignalingError::Lost(e.to_string()))?;
    let joined = async {
        while let Some(frame) = ws.next().await {
            let text = match frame {
                Ok(Message::Text(t)) => t,
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => continue,
            };
            match serde_json::from_str::<ServerMsg>(&text) {
                Ok(ServerMsg::Event { event }) => {
                    if matches!(event, SessionEvent::SessionConnected { .. }) {
                        return Ok(event);
                    }
                }
                Ok(ServerMsg::Error { code, message, .. }) => {
                    return Err(SignalingError::from_code(code, message));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("ignoring unreadable server message: {e}"),
            }
        }
        Err(SignalingError::Lost(
            "the server closed the connection before the session was joined".into(),
        ))
    };
    let first = tokio::time::timeout(timeout, joined).await.map_err(|_| {
        SignalingError::Timeout(format!("the server did not answer within {timeout:?}"))
    })??;
    Ok((ws, first))
}

/// How one socket's life ended.
enum Ended {
    /// The client said goodbye.
    Left,
    /// The session ended for good (`sessionDisconnected` other than a server shutdown).
    Final,
    /// The connection dropped, or the server shut down: worth joining again.
    Lost(String),
}

/// Serves one socket: what the client sends goes out in order; responses go to their
/// waiters, events to the event channel.
async fn serve(
    ws: &mut Ws,
    out: &mut mpsc::UnboundedReceiver<ClientMsg>,
    pending: &Pending,
    events: &mpsc::UnboundedSender<SessionEvent>,
    direct: &mpsc::UnboundedSender<DirectRequest>,
) -> Ended {
    loop {
        tokio::select! {
            msg = out.recv() => {
                let Some(msg) = msg else {
                    let _ = ws.close(None).await;
                    return Ended::Left;
                };
                let text = serde_json::to_string(&msg).expect("client messages serialize");
                if ws.send(Message::text(text)).await.is_err() {
                    return Ended::Lost("networkDisconnected".into());
                }
                if matches!(msg, ClientMsg::Disconnect) {
                    let _ = ws.close(None).await;
                    return Ended::Left;
                }
            }
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => {
                        return Ended::Lost("networkDisconnected".into());
                    }
                    Some(Ok(_)) => continue,
                };
                let msg: ServerMsg = match serde_json::from_str(&text) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!("ignoring unreadable server message: {e}");
                        continue;
                    }
                };
                if let Some(req) = msg.req() {
                    if let Some(waiter) = pending.lock().expect("pending lock").remove(&req) {
                        let _ = waiter.send(msg);
                    }
                    continue;
                }
                match msg {
                    ServerMsg::Event {
                        event: SessionEvent::SessionDisconnected { reason },
                    } => {
                        if reason == "serverShutdown" {
                            return Ended::Lost(reason);
                        }
                        let _ = events.send(SessionEvent::SessionDisconnected { reason });
                        return Ended::Final;
                    }
                    ServerMsg::Event { event } => {
                        let _ = events.send(event);
                    }
                    ServerMsg::Error { message, .. } => tracing::warn!("server error: {message}"),
                    ServerMsg::SubscribeOffer { subscription_id, stream_id, connection_id, sdp, .. } => {
                        let _ = direct.send(DirectRequest::Offer { subscription_id, stream_id, connection_id, sdp });
                    }
                    ServerMsg::SubscriptionEnded { subscription_id } => {
                        let _ = direct.send(DirectRequest::Ended { subscription_id });
                    }
                    ServerMsg::Route { stream_id } => {
                        let _ = direct.send(DirectRequest::Route { stream_id });
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Joins again after the connection was lost for `reason`, with backoff; `None` when the
/// client gave up (and said so with `sessionDisconnected`) or said goodbye meanwhile.
async fn rejoin(
    login: &Login,
    out: &mut mpsc::UnboundedReceiver<ClientMsg>,
    pending: &Pending,
    events: &mpsc::UnboundedSender<SessionEvent>,
    reason: String,
) -> Option<Ws> {
    let mut delay = FIRST_RETRY.min(login.retry_delay);
    for attempt in 1..=login.max_retries {
        let _ = events.send(SessionEvent::Reconnecting {
            reason: reason.clone(),
            attempt,
            max_attempts: login.max_retries,
        });
        // Nothing can be answered meanwhile: requests fail at once; a goodbye ends it all.
        let wait = tokio::time::sleep(delay);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                msg = out.recv() => match msg {
                    None | Some(ClientMsg::Disconnect) => return None,
                    Some(_) => pending.lock().expect("pending lock").clear(),
                },
            }
        }
        delay = (delay * 2).min(login.retry_delay);
        match open(login).await {
            Ok((
                ws,
                SessionEvent::SessionConnected {
                    connection,
                    connection_count,
                    streams,
                    ..
                },
            )) => {
                let _ = events.send(SessionEvent::Reconnected {
                    connection,
                    connection_count,
                    streams,
                });
                return Some(ws);
            }
            Ok(_) => unreachable!("open returns sessionConnected"),
            Err(
                e @ (SignalingError::Unreachable(_)
                | SignalingError::Lost(_)
                | SignalingError::Timeout(_)
                | SignalingError::Busy(_)),
            ) => tracing::info!("joining again failed (attempt {attempt}): {e}"),
            Err(e) => {
                tracing::warn!("joining again was refused: {e}");
                break;
            }
        }
    }
    let _ = events.send(SessionEvent::SessionDisconnected { reason });
    None
}

impl NativeClient {
    /// Opens the socket, sends `connect`, and waits for `sessionConnected`.
    /// Returns the client, the first event, and the receiver of all later events. When the
    /// connection drops (or the server shuts down) later, the client joins again as `login`
    /// allows, and says so with `reconnecting` and `reconnected` events.
    pub async fn connect(
        login: Login,
    ) -> Result<
        (
            NativeClient,
            SessionEvent,
            mpsc::UnboundedReceiver<SessionEvent>,
        ),
        SignalingError,
    > {
        let (mut ws, first) = open(&login).await?;
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<ClientMsg>();
        let (events_tx, events_rx) = mpsc::unbounded_channel::<SessionEvent>();
        let (direct_tx, direct_rx) = mpsc::unbounded_channel::<DirectRequest>();
        let pending: Pending = Arc::default();
        let (written_tx, written_rx) = oneshot::channel::<()>();
        let p = Arc::clone(&pending);
        let timeout = login.timeout;
        tokio::spawn(async move {
            let _written = written_tx; // dropped when the task ends: the socket is done
            loop {
                let ended = serve(&mut ws, &mut out_rx, &p, &events_tx, &direct_tx).await;
                // Wake every waiter: their requests will not be answered.
                p.lock().expect("pending lock").clear();
                let Ended::Lost(reason) = ended else { return };
                match rejoin(&login, &mut out_rx, &p, &events_tx, reason).await {
                    Some(again) => ws = again,
                    None => return,
                }
            }
        });
        let client = NativeClient {
            out: out_tx,
            pending,
            timeout,
            next_req: 1.into(),
            written: tokio::sync::Mutex::new(Some(written_rx)),
            direct: Mutex::new(Some(direct_rx)),
        };
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

    /// Publishes a stream whose tracks carry `msid` (as `again`, when it is given, after
    /// joining again); returns its id and the server's answer.
    pub async fn publish(
        &self,
        name: &str,
        media: (bool, bool),
        msid: &str,
        offer: String,
        again: Option<&StreamId>,
    ) -> Result<(StreamId, String), SignalingError> {
        self.publish_as(name, media, (msid, offer), again, false)
            .await
    }

    /// Publishes a stream directly (a peer-to-peer session): no media goes to the server;
    /// returns its id. `again` as for [`NativeClient::publish`].
    pub async fn publish_direct(
        &self,
        name: &str,
        media: (bool, bool),
        again: Option<&StreamId>,
    ) -> Result<StreamId, SignalingError> {
        let published = self
            .publish_as(name, media, ("", String::new()), again, true)
            .await?;
        Ok(published.0)
    }

    async fn publish_as(
        &self,
        name: &str,
        (has_audio, has_video): (bool, bool),
        (msid, sdp): (&str, String),
        again: Option<&StreamId>,
        direct: bool,
    ) -> Result<(StreamId, String), SignalingError> {
        let publish = |req| ClientMsg::Publish {
            req,
            name: name.to_owned(),
            has_audio,
            has_video,
            msid: msid.to_owned(),
            sdp,
            stream_id: again.cloned(),
            direct,
        };
        match self.request(publish).await? {
            ServerMsg::Published { stream_id, sdp, .. } => Ok((stream_id, sdp)),
            other => Err(unexpected(other)),
        }
    }

    /// What the server asks of this client as the publisher of direct streams; `None` once
    /// taken.
    pub fn direct_requests(&self) -> Option<mpsc::UnboundedReceiver<DirectRequest>> {
        self.direct.lock().expect("direct lock").take()
    }

    /// Answers a subscriber's offer for a direct stream: `Ok(answer)`, or why there is none.
    pub fn answer_direct(
        &self,
        subscription_id: &SubscriptionId,
        answer: Result<String, String>,
    ) -> Result<(), SignalingError> {
        let (sdp, error) = match answer {
            Ok(sdp) => (sdp, None),
            Err(e) => (String::new(), Some(e)),
        };
        self.send(ClientMsg::SubscribeAnswer {
            subscription_id: subscription_id.to_owned(),
            sdp,
            error,
        })
    }

    pub async fn unpublish(&self, stream_id: &StreamId) -> Result<(), SignalingError> {
        self.request(|req| ClientMsg::Unpublish {
            req,
            stream_id: stream_id.to_owned(),
        })
        .await
        .map(drop)
    }

    /// Subscribes with `offer` (receive-only sections for the kinds asked for); returns the
    /// subscription's id and the answer: the server's, or, with `how` direct, the
    /// publisher's. A routed subscription to a direct stream says why in `how`'s fallback.
    pub async fn subscribe(
        &self,
        stream_id: &StreamId,
        (audio, video): (bool, bool),
        offer: String,
        how: Via,
    ) -> Result<(SubscriptionId, String), SignalingError> {
        let (direct, fallback) = match how {
            Via::Direct => (true, None),
            Via::Server(fallback) => (false, fallback.map(str::to_owned)),
        };
        match self
            .request(|req| ClientMsg::Subscribe {
                req,
                stream_id: stream_id.to_owned(),
                audio,
                video,
                sdp: offer,
                direct,
                fallback,
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

    /// Restarts ICE with `offer`; returns the server's answer.
    pub async fn restart_ice(&self, offer: String) -> Result<String, SignalingError> {
        match self
            .request(|req| ClientMsg::RestartIce { req, sdp: offer })
            .await?
        {
            ServerMsg::IceRestarted { sdp, .. } => Ok(sdp),
            other => Err(unexpected(other)),
        }
    }

    pub async fn force_unpublish(&self, stream_id: &StreamId) -> Result<(), SignalingError> {
        self.request(|req| ClientMsg::ForceUnpublish {
            req,
            stream_id: stream_id.to_owned(),
        })
        .await
        .map(drop)
    }

    pub async fn force_disconnect(
        &self,
        connection_id: &ConnectionId,
    ) -> Result<(), SignalingError> {
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
