//! vcall's own signaling on the embedded server: `/v1/signaling`, a WebSocket of JSON
//! messages (`docs/protocol.md`). This module is the codec between that wire
//! (`signaling::native::wire`) and the room core's requests and replies: it checks the
//! protocol version, reads each message as a [`Request`], and writes each [`Reply`].

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use tokio::sync::mpsc;

use super::intent::{Exchange, Receiving, Refusal, Reply, Request, Sending};
use super::room::Input;
use super::tls::ClientAddr;
use super::{AppState, SockCmd};
use crate::session::{LayerWish, Reason};
use crate::signaling::native::wire::Event;
use crate::signaling::native::{ClientMsg, ErrorCode, PROTOCOL_VERSION, ServerMsg};

pub(super) async fn ws_handler(
    State(state): State<AppState>,
    axum::Extension(live): axum::Extension<mpsc::Sender<()>>,
    axum::extract::ConnectInfo(ClientAddr(peer)): axum::extract::ConnectInfo<ClientAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    let admitted = state.admit(peer.ip());
    ws.max_message_size(super::MAX_MESSAGE)
        .max_frame_size(super::MAX_MESSAGE)
        .on_upgrade(move |mut socket| async move {
            match admitted {
                Ok(_counted) => serve_socket(state, socket).await,
                Err(why) => {
                    tracing::warn!(%peer, "connection refused: {why}");
                    let msg = ServerMsg::Error {
                        req: None,
                        code: ErrorCode::TooManyConnections,
                        message: why,
                    };
                    let _ = socket.send(json(&msg)).await;
                    let _ = socket.send(Message::Close(None)).await;
                }
            }
            drop(live);
        })
}

fn json(msg: &ServerMsg) -> Message {
    Message::text(serde_json::to_string(msg).expect("server messages serialize"))
}

/// One signaling socket: requests in go to the core, its replies go out.
async fn serve_socket(state: AppState, mut socket: WebSocket) {
    let (sock, mut rx) = state.open_sock();
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(SockCmd::Send(reply)) => {
                    let Some(msg) = to_wire(reply) else { continue };
                    if socket.send(json(&msg)).await.is_err() {
                        state.feed(Input::Closed { sock, reason: Reason::NetworkDisconnected });
                        break;
                    }
                }
                Some(SockCmd::Close) | None => {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
            },
            incoming = socket.recv() => {
                let input = match incoming {
                    Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClientMsg>(&text) {
                        Ok(msg) => match from_wire(msg) {
                            Ok(msg) => Input::Message { sock, msg },
                            Err(refused) => {
                                // A version this server does not speak: nothing else it
                                // says can be read.
                                let _ = socket.send(json(&refused.refusal())).await;
                                let _ = socket.send(Message::Close(None)).await;
                                state.feed(Input::Closed { sock, reason: Reason::ClientDisconnected });
                                break;
                            }
                        },
                        Err(e) => Input::Unreadable { sock, error: e.to_string() },
                    },
                    Some(Ok(Message::Binary(_))) => Input::Unreadable {
                        sock,
                        error: "binary frames are not part of the protocol (JSON text only)".into(),
                    },
                    // A close frame is a client's goodbye; a socket that just ends (a client
                    // killed, its network gone) is a lost connection.
                    Some(Ok(Message::Close(_))) => Input::Closed { sock, reason: Reason::ClientDisconnected },
                    None => Input::Closed { sock, reason: Reason::NetworkDisconnected },
                    Some(Ok(_)) => continue, // ping and pong
                    Some(Err(_)) => Input::Closed { sock, reason: Reason::NetworkDisconnected },
                };
                let closed = matches!(input, Input::Closed { .. });
                state.feed(input);
                if closed {
                    break;
                }
            }
        }
    }
    state
        .tables
        .lock()
        .expect("tables lock")
        .socks
        .remove(&sock);
}

/// A `connect` of a protocol version this server does not speak.
#[derive(Debug)]
pub(super) struct OtherVersion(u32);

impl OtherVersion {
    fn refusal(&self) -> ServerMsg {
        ServerMsg::Error {
            req: None,
            code: ErrorCode::VersionUnsupported,
            message: format!(
                "protocol version {} is not supported; this server speaks {PROTOCOL_VERSION}",
                self.0
            ),
        }
    }
}

/// A client's message as the core's request; a `connect` of another protocol version is
/// refused here.
pub(super) fn from_wire(msg: ClientMsg) -> Result<Request, OtherVersion> {
    Ok(match msg {
        ClientMsg::Connect {
            version,
            session_id,
            token,
            client_data,
        } => {
            if version != PROTOCOL_VERSION {
                return Err(OtherVersion(version));
            }
            Request::Join {
                session: session_id,
                token,
                client_data,
            }
        }
        ClientMsg::Publish {
            req,
            name,
            has_audio,
            has_video,
            msid,
            sdp,
            stream_id,
            direct,
        } => Request::Publish {
            req,
            name,
            audio: has_audio,
            video: has_video,
            msid,
            sending: if direct {
                Sending::Direct
            } else {
                Sending::ClientOffers(sdp)
            },
            stream: stream_id,
        },
        ClientMsg::Unpublish { req, stream_id } => Request::Unpublish {
            req,
            stream: stream_id,
        },
        ClientMsg::Subscribe {
            req,
            stream_id,
            audio,
            video,
            sdp,
            mids,
            direct,
            fallback,
            layer,
            max_size,
        } => Request::Subscribe {
            req,
            stream: stream_id,
            audio,
            video,
            receiving: if direct {
                Receiving::Direct(sdp)
            } else {
                Receiving::Routed(Exchange::ClientOffers { sdp, mids })
            },
            fallback: fallback.map(Reason::from),
            layer: LayerWish {
                layer: layer.into(),
                max_size: max_size
                    .filter(|s| s.width > 0 && s.height > 0)
                    .map(|s| (s.width, s.height)),
                off: false,
            },
        },
        ClientMsg::SubscribeAnswer {
            subscription_id,
            sdp,
            error,
        } => Request::DirectAnswer {
            sub: subscription_id,
            answer: error.map_or(Ok(sdp), Err),
        },
        ClientMsg::RestartIce { req, sdp } => Request::RestartIce { req, offer: sdp },
        ClientMsg::Unsubscribe {
            req,
            subscription_id,
        } => Request::Unsubscribe {
            req,
            sub: subscription_id,
        },
        ClientMsg::ForceUnpublish { req, stream_id } => Request::ForceUnpublish {
            req,
            stream: stream_id,
        },
        ClientMsg::ForceDisconnect { req, connection_id } => Request::ForceDisconnect {
            req,
            conn: connection_id,
        },
        ClientMsg::Disconnect => Request::Leave,
    })
}

/// The core's reply as the native protocol says it (`None` for what it has no words for).
pub(super) fn to_wire(reply: Reply) -> Option<ServerMsg> {
    Some(match reply {
        Reply::Event(event) => ServerMsg::Event {
            event: Event::from_session(event)?,
        },
        Reply::Published {
            req,
            stream,
            answer,
        } => ServerMsg::Published {
            req,
            stream_id: stream,
            sdp: answer.unwrap_or_default(),
        },
        Reply::Subscribed {
            req,
            sub,
            stream,
            sdp,
            direct,
        } => ServerMsg::Subscribed {
            req,
            subscription_id: sub,
            stream_id: stream,
            sdp,
            direct,
        },
        Reply::OfferToPublisher {
            sub,
            stream,
            subscriber,
            audio,
            video,
            offer,
        } => ServerMsg::SubscribeOffer {
            subscription_id: sub,
            stream_id: stream,
            connection_id: subscriber,
            audio,
            video,
            sdp: offer,
        },
        Reply::SubscriptionEnded { sub } => ServerMsg::SubscriptionEnded {
            subscription_id: sub,
        },
        Reply::Route { stream } => ServerMsg::Route { stream_id: stream },
        Reply::IceRestarted { req, answer } => ServerMsg::IceRestarted { req, sdp: answer },
        Reply::Done { req } => ServerMsg::Ok { req },
        Reply::Refused {
            req,
            refusal,
            message,
        } => ServerMsg::Error {
            req,
            code: code(refusal),
            message,
        },
    })
}

/// A refusal's error code (`docs/protocol.md`).
fn code(refusal: Refusal) -> ErrorCode {
    match refusal {
        Refusal::BadRequest => ErrorCode::BadRequest,
        Refusal::InvalidToken => ErrorCode::InvalidToken,
        Refusal::TokenExpired => ErrorCode::TokenExpired,
        Refusal::SessionNotFound => ErrorCode::SessionNotFound,
        Refusal::WrongSession => ErrorCode::WrongSession,
        Refusal::Forbidden => ErrorCode::Forbidden,
        Refusal::NotFound => ErrorCode::NotFound,
        Refusal::Media => ErrorCode::Media,
        Refusal::Internal => ErrorCode::Internal,
        Refusal::ConnectTimeout => ErrorCode::ConnectTimeout,
        Refusal::SessionFull => ErrorCode::SessionFull,
        Refusal::TooManyConnections => ErrorCode::TooManyConnections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_protocol_version_is_refused_before_the_core() {
        let connect = |version| ClientMsg::Connect {
            version,
            session_id: "s".into(),
            token: "t".into(),
            client_data: String::new(),
        };
        let Err(refused) = from_wire(connect(PROTOCOL_VERSION + 1)) else {
            panic!("not refused");
        };
        let ServerMsg::Error {
            req: None, code, ..
        } = refused.refusal()
        else {
            panic!("not an error");
        };
        assert_eq!(code, ErrorCode::VersionUnsupported);
        assert!(matches!(
            from_wire(connect(PROTOCOL_VERSION)),
            Ok(Request::Join { .. })
        ));
    }

    #[test]
    fn the_wire_says_what_the_core_means() {
        let subscribe = ClientMsg::Subscribe {
            req: 4,
            stream_id: "s-1".into(),
            audio: true,
            video: false,
            sdp: "o".into(),
            mids: vec!["3".into()],
            direct: false,
            fallback: Some("directLost".into()),
            layer: crate::signaling::native::wire::WireLayer::Low,
            max_size: Some(crate::signaling::native::wire::WireSize {
                width: 640,
                height: 360,
            }),
        };
        assert_eq!(
            from_wire(subscribe).unwrap(),
            Request::Subscribe {
                req: 4,
                stream: "s-1".into(),
                audio: true,
                video: false,
                receiving: Receiving::Routed(Exchange::ClientOffers {
                    sdp: "o".into(),
                    mids: vec!["3".into()],
                }),
                fallback: Some(Reason::DirectLost),
                layer: LayerWish {
                    layer: crate::session::Layer::Low,
                    max_size: Some((640, 360)),
                    off: false,
                },
            }
        );
        let refused = ClientMsg::SubscribeAnswer {
            subscription_id: "sub-1".into(),
            sdp: String::new(),
            error: Some("no camera".into()),
        };
        assert_eq!(
            from_wire(refused).unwrap(),
            Request::DirectAnswer {
                sub: "sub-1".into(),
                answer: Err("no camera".into())
            }
        );
        let published = Reply::Published {
            req: 2,
            stream: "s-2".into(),
            answer: None,
        };
        assert_eq!(
            to_wire(published),
            Some(ServerMsg::Published {
                req: 2,
                stream_id: "s-2".into(),
                sdp: String::new()
            })
        );
        let ours = Reply::Event(crate::session::SessionEvent::Reconnecting {
            reason: Reason::NetworkDisconnected,
            attempt: 1,
            max_attempts: 2,
        });
        assert_eq!(to_wire(ours), None, "a client's own event is no server's");
    }
}
