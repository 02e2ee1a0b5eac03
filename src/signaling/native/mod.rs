//! vcall's native signaling protocol: JSON messages over one WebSocket (`/v1/signaling`).
//! The wire types live in `wire.rs` and only there; `docs/protocol.md` is their prose
//! description.
//! The client driver is a read task and a write task around the socket, with requests matched
//! to their responses by `req`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::session::{
    ConnectionId, LayerWish, Reason, SessionEvent, SessionId, StreamId, SubscriptionId,
};
use crate::signaling::server_url::ServerUrl;
use crate::signaling::{AskedToJoinAgain, JoinAgain, Retries, SignalingError, rejoin};

pub(crate) mod wire;

use wire::WireSize;
pub use wire::{ClientMsg, ErrorCode, PROTOCOL_VERSION, ServerMsg};

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<ServerMsg>>>>;

/// How a subscription's media comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// From the publisher of a direct stream.
    Direct,
    /// Through the server; of a direct stream, for the reason given.
    Server(Option<Reason>),
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
    /// Joining again after the connection drops.
    pub retries: Retries,
    /// Which layer of a simulcast stream subscriptions get.
    pub layer: LayerWish,
}

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
    /// Wakes the socket's task to leave and join again now (a media connection that never
    /// came up: the server holds one per signaling connection).
    join_again: JoinAgain,
    /// Which layer of a simulcast stream subscriptions get.
    layer: LayerWish,
}

/// Opens a socket and joins: the socket, and `sessionConnected`.
async fn open(login: &Login) -> Result<(Ws, SessionEvent), SignalingError> {
    let url = &login.url;
    let timeout = login.timeout;
    let ws_url = format!("{}/v1/signaling", url.base());
    let (mut ws, _) = tokio::time::timeout(timeout, tokio_tungstenite::connect_async(&ws_url))
        .await
        .map_err(|_| SignalingError::unreachable(format!("{url}: no answer within {timeout:?}")))?
        .map_err(|e| SignalingError::unreachable_by(url.to_string(), e))?;
    let connect = ClientMsg::Connect {
        version: PROTOCOL_VERSION,
        session_id: login.session_id.clone(),
        token: login.token.clone(),
        client_data: login.client_data.clone(),
    };
    let text = serde_json::to_string(&connect).expect("client messages serialize");
    ws.send(Message::text(text))
        .await
        .map_err(|e| SignalingError::lost_by("sending connect", e))?;
    let joined = async {
        while let Some(frame) = ws.next().await {
            let text = match frame {
                Ok(Message::Text(t)) => t,
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => continue,
            };
            match serde_json::from_str::<ServerMsg>(&text) {
                Ok(ServerMsg::Event {
                    event: event @ wire::Event::SessionConnected { .. },
                }) => return Ok(SessionEvent::from(event)),
                Ok(ServerMsg::Error { code, message, .. }) => {
                    return Err(SignalingError::from_code(code, message));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("ignoring unreadable server message: {e}"),
            }
        }
        Err(SignalingError::lost(
            "the server closed the connection before the session was joined",
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
    Lost(Reason),
}

/// Serves one socket: what the client sends goes out in order; responses go to their
/// waiters, events to the event channel.
async fn serve(
    ws: &mut Ws,
    out: &mut mpsc::UnboundedReceiver<ClientMsg>,
    pending: &Pending,
    events: &mpsc::UnboundedSender<SessionEvent>,
    direct: &mpsc::UnboundedSender<DirectRequest>,
    join_again: &mut AskedToJoinAgain,
) -> Ended {
    loop {
        tokio::select! {
            // No goodbye: to the server the connection dropped, so a publisher's stream
            // waits out its grace period for the rejoin to take it back.
            reason = join_again.asked() => {
                let _ = ws.close(None).await;
                return Ended::Lost(reason);
            }
            msg = out.recv() => {
                let Some(msg) = msg else {
                    let _ = ws.close(None).await;
                    return Ended::Left;
                };
                let text = serde_json::to_string(&msg).expect("client messages serialize");
                let sent = ws.send(Message::text(text)).await;
                // A goodbye ends it, said or not: a socket that fails then is not rejoined.
                if sent.is_err() && !matches!(msg, ClientMsg::Disconnect) {
                    return Ended::Lost(Reason::NetworkDisconnected);
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
                        return Ended::Lost(Reason::NetworkDisconnected);
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
                    ServerMsg::Event { event } => match SessionEvent::from(event) {
                        SessionEvent::SessionDisconnected { reason: Reason::ServerShutdown } => {
                            return Ended::Lost(Reason::ServerShutdown);
                        }
                        ended @ SessionEvent::SessionDisconnected { .. } => {
                            let _ = events.send(ended);
                            return Ended::Final;
                        }
                        event => {
                            let _ = events.send(event);
                        }
                    },
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
        let layer = login.layer;
        let (join_again, mut asked) = JoinAgain::new();
        tokio::spawn(async move {
            let _written = written_tx; // dropped when the task ends: the socket is done
            loop {
                let ended =
                    serve(&mut ws, &mut out_rx, &p, &events_tx, &direct_tx, &mut asked).await;
                // Wake every waiter: their requests will not be answered.
                p.lock().expect("pending lock").clear();
                let Ended::Lost(reason) = ended else { return };
                let again = rejoin(
                    login.retries,
                    &mut out_rx,
                    |m| matches!(m, ClientMsg::Disconnect),
                    |_| p.lock().expect("pending lock").clear(),
                    &events_tx,
                    reason,
                    || open(&login),
                )
                .await;
                match again {
                    Some(again) => ws = again,
                    None => return,
                }
                asked.forget();
            }
        });
        let client = NativeClient {
            out: out_tx,
            pending,
            timeout,
            next_req: 1.into(),
            written: tokio::sync::Mutex::new(Some(written_rx)),
            direct: Mutex::new(Some(direct_rx)),
            join_again,
            layer,
        };
        Ok((client, first, events_rx))
    }

    /// Leaves and joins the session again now, as when the connection drops (see
    /// [`crate::signaling::Client::join_again`]).
    pub fn join_again(&self, reason: Reason) {
        self.join_again.ask(reason);
    }

    fn send(&self, msg: ClientMsg) -> Result<(), SignalingError> {
        self.out
            .send(msg)
            .map_err(|_| SignalingError::lost("the signaling connection is closed"))
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
            Err(_) => Err(SignalingError::lost(
                "the signaling connection closed before the server answered",
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

    /// Subscribes with `offer` (receive-only sections `mids` for the kinds asked for, audio
    /// first); returns the subscription's id and the answer: the server's, or, with `how`
    /// direct, the publisher's. A routed subscription to a direct stream says why in `how`'s
    /// fallback.
    pub async fn subscribe(
        &self,
        stream_id: &StreamId,
        (audio, video): (bool, bool),
        (offer, mids): (String, Vec<String>),
        how: Via,
    ) -> Result<(SubscriptionId, String), SignalingError> {
        let (direct, fallback) = match how {
            Via::Direct => (true, None),
            Via::Server(fallback) => (false, fallback.map(|r| r.to_string())),
        };
        match self
            .request(|req| ClientMsg::Subscribe {
                req,
                stream_id: stream_id.to_owned(),
                audio,
                video,
                sdp: offer,
                mids,
                direct,
                fallback,
                layer: self.layer.layer.into(),
                max_size: self
                    .layer
                    .max_size
                    .map(|(width, height)| WireSize { width, height }),
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
    SignalingError::protocol(format!("unexpected response {msg:?}"))
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
