//! Signaling protocols. Each submodule knows one protocol's wire format; the rest of vcall
//! sees `SessionEvent`s and SDP strings.

pub mod janus;
pub mod livekit;
pub mod native;
pub mod negotiate;
pub mod server_url;
pub mod whip;

use crate::causes::Causes;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::session::{ConnectionId, Reason, SessionEvent, StreamId};
use native::ErrorCode;

/// What can go wrong talking to a signaling server.
#[derive(Debug, thiserror::Error)]
pub enum SignalingError {
    #[error("cannot reach the server at {0}")]
    Unreachable(String, #[source] Option<Cause>),
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("session not found: {0}")]
    SessionNotFound(String),
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("the server refused the request: {0}")]
    Refused(String),
    #[error("signaling connection lost: {0}")]
    Lost(String, #[source] Option<Cause>),
    #[error("the server is at its connection limit: {0}")]
    Busy(String),
    #[error("{0}")]
    Usage(String, #[source] Option<Cause>),
    #[error("{0}")]
    Timeout(String),
    #[error("protocol error: {0}")]
    Protocol(String, #[source] Option<Cause>),
    #[error("the server failed: {0}")]
    Server(String),
}

/// The error underneath a signaling error (a socket's, an HTTP client's, a decoder's),
/// kept as its source so that the whole chain is told.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

impl SignalingError {
    pub(crate) fn unreachable(what: impl Into<String>) -> SignalingError {
        SignalingError::Unreachable(what.into(), None)
    }

    pub(crate) fn lost(what: impl Into<String>) -> SignalingError {
        SignalingError::Lost(what.into(), None)
    }

    pub(crate) fn usage(what: impl Into<String>) -> SignalingError {
        SignalingError::Usage(what.into(), None)
    }

    pub(crate) fn protocol(what: impl Into<String>) -> SignalingError {
        SignalingError::Protocol(what.into(), None)
    }

    /// `what` could not be reached, for `cause`.
    pub(crate) fn unreachable_by(what: impl Into<String>, cause: impl Into<Cause>) -> Self {
        SignalingError::Unreachable(what.into(), Some(cause.into()))
    }

    /// The connection was lost while `what`, for `cause`.
    pub(crate) fn lost_by(what: impl Into<String>, cause: impl Into<Cause>) -> Self {
        SignalingError::Lost(what.into(), Some(cause.into()))
    }

    pub(crate) fn usage_by(what: impl Into<String>, cause: impl Into<Cause>) -> Self {
        SignalingError::Usage(what.into(), Some(cause.into()))
    }

    /// What the server sent (`what`) could not be read, for `cause`.
    pub(crate) fn protocol_by(what: impl Into<String>, cause: impl Into<Cause>) -> Self {
        SignalingError::Protocol(what.into(), Some(cause.into()))
    }

    pub(crate) fn from_code(code: ErrorCode, message: String) -> SignalingError {
        match code {
            ErrorCode::InvalidToken | ErrorCode::TokenExpired | ErrorCode::WrongSession => {
                SignalingError::Auth(message)
            }
            ErrorCode::SessionNotFound => SignalingError::SessionNotFound(message),
            ErrorCode::Forbidden => SignalingError::Forbidden(message),
            ErrorCode::NotFound => SignalingError::NotFound(message),
            ErrorCode::VersionUnsupported | ErrorCode::BadRequest | ErrorCode::ConnectTimeout => {
                SignalingError::protocol(message)
            }
            ErrorCode::Media => SignalingError::Refused(message),
            ErrorCode::Internal => SignalingError::Server(message),
            ErrorCode::TooManyConnections | ErrorCode::SessionFull => SignalingError::Busy(message),
        }
    }
}

/// A joined session on whichever server the URL names. Every command talks through this, so
/// each behaves the same against the embedded server and against Janus.
pub enum Client {
    Native(native::NativeClient),
    Janus(janus::videoroom::VideoRoomClient),
    /// A WHIP or WHEP endpoint: one stream, one way, no session.
    Whip(std::sync::Arc<whip::WhipClient>),
    /// A LiveKit room: each track a stream of its own.
    LiveKit(livekit::LiveKitClient),
}

impl Client {
    /// The client of a server whose sessions may carry media directly between clients
    /// (peer-to-peer streams, offered by their subscribers): only vcall's own.
    pub fn peer_to_peer(&self) -> Option<&native::NativeClient> {
        match self {
            Client::Native(c) => Some(c),
            Client::Janus(_) | Client::Whip(_) | Client::LiveKit(_) => None,
        }
    }

    pub async fn unpublish(&self, stream_id: &StreamId) -> Result<(), SignalingError> {
        match self {
            Client::Native(c) => c.unpublish(stream_id).await,
            Client::Janus(c) => c.unpublish().await,
            Client::Whip(c) => {
                c.disconnect().await;
                Ok(())
            }
            // Its tracks end when it leaves; LiveKit's `/rtc` has no request for it.
            Client::LiveKit(_) => Ok(()),
        }
    }

    pub async fn force_unpublish(&self, stream_id: &StreamId) -> Result<(), SignalingError> {
        match self {
            Client::Native(c) => c.force_unpublish(stream_id).await,
            Client::Janus(_) | Client::Whip(_) | Client::LiveKit(_) => Err(no_moderation()),
        }
    }

    pub async fn force_disconnect(
        &self,
        connection_id: &ConnectionId,
    ) -> Result<(), SignalingError> {
        match self {
            Client::Native(c) => c.force_disconnect(connection_id).await,
            Client::Janus(_) | Client::Whip(_) | Client::LiveKit(_) => Err(no_moderation()),
        }
    }

    /// Sets the client's media connections up anew: a connection that never came up (ICE
    /// or DTLS did not complete) cannot be mended in place, since both ends hold its state.
    /// Where one signaling connection owns one media connection on the server (vcall's,
    /// LiveKit's) the client leaves and joins again; on Janus the publisher's connection is
    /// hung up (`unpublish`) and the subscriber handle detached; on WHIP/WHEP the resource
    /// is deleted. Every kind then says `reconnecting` and `reconnected`, as after a dropped
    /// signaling connection, and the commands publish and subscribe again on new
    /// connections. While a rejoin is under way, asking again does nothing.
    pub async fn join_again(&self, reason: Reason) {
        match self {
            Client::Native(c) => c.join_again(reason),
            Client::LiveKit(c) => c.join_again(reason),
            Client::Janus(c) => c.set_up_again(reason).await,
            Client::Whip(c) => c.set_up_again(reason).await,
        }
    }

    /// Leaves the session cleanly.
    pub async fn disconnect(&self) {
        match self {
            Client::Native(c) => c.disconnect().await,
            Client::Janus(c) => c.disconnect().await,
            Client::Whip(c) => c.disconnect().await,
            Client::LiveKit(c) => c.disconnect().await,
        }
    }
}

/// Asks a client's socket task to leave and join again now, for a reason (its
/// `reconnecting` event's). An ask made while the task is busy is heard when it next waits;
/// one made while it is joining again is forgotten ([`AskedToJoinAgain::forget`]).
#[derive(Clone)]
pub(crate) struct JoinAgain(std::sync::Arc<tokio::sync::watch::Sender<Option<Reason>>>);

impl JoinAgain {
    /// The asking side, and the socket task's.
    pub(crate) fn new() -> (JoinAgain, AskedToJoinAgain) {
        let (tx, rx) = tokio::sync::watch::channel(None);
        (JoinAgain(std::sync::Arc::new(tx)), AskedToJoinAgain(rx))
    }

    pub(crate) fn ask(&self, reason: Reason) {
        self.0.send_replace(Some(reason));
    }
}

/// The socket task's side of [`JoinAgain`].
pub(crate) struct AskedToJoinAgain(tokio::sync::watch::Receiver<Option<Reason>>);

impl AskedToJoinAgain {
    /// Resolves when asked (cancel-safe: an ask is kept until it is heard).
    pub(crate) async fn asked(&mut self) -> Reason {
        if self.0.changed().await.is_err() {
            // The client is gone: nobody can ask any more.
            std::future::pending::<()>().await;
        }
        self.0
            .borrow_and_update()
            .clone()
            .unwrap_or(Reason::MediaStopped)
    }

    /// Forgets what was asked meanwhile (while joining again: the new connections are new).
    pub(crate) fn forget(&mut self) {
        self.0.borrow_and_update();
    }
}

/// Answers an offer the far end makes on a connection of the caller's (Janus's subscriber
/// connection, LiveKit's).
pub type Answerer = std::sync::Arc<
    dyn Fn(String) -> futures_util::future::BoxFuture<'static, Result<String, String>>
        + Send
        + Sync,
>;

/// How a client joins again after its signaling connection dropped.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    /// Attempts (0: none; the session ends at once).
    pub max: u32,
    /// The longest wait between attempts; the first comes after a quarter second at most,
    /// and the waits double up to this.
    pub delay: Duration,
}

/// The first wait before joining again: a signaling hiccup is over in well under this.
const FIRST_RETRY: Duration = Duration::from_millis(250);

/// Joins again, as every protocol's client does after its connection was lost for
/// `reason`: `reconnecting` before each attempt, waits that double up to the limit, then
/// `reconnected` (from the `sessionConnected` `attempt` returns beside what it opened) — or, when the attempts
/// run out or one is refused, `sessionDisconnected` and `None`. Requests sent meanwhile
/// (`out`) cannot be answered: each goes to `dropped`; one that `is_goodbye` (or the
/// client going away) ends it all with `None`.
pub(crate) async fn rejoin<T, M, F, Fut>(
    retries: Retries,
    out: &mut mpsc::UnboundedReceiver<M>,
    is_goodbye: impl Fn(&M) -> bool,
    mut dropped: impl FnMut(M),
    events: &mpsc::UnboundedSender<SessionEvent>,
    reason: Reason,
    mut attempt: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(T, SessionEvent), SignalingError>>,
{
    let mut delay = FIRST_RETRY.min(retries.delay);
    for n in 1..=retries.max {
        let _ = events.send(SessionEvent::Reconnecting {
            reason: reason.clone(),
            attempt: n,
            max_attempts: retries.max,
        });
        draining(tokio::time::sleep(delay), out, &is_goodbye, &mut dropped).await?;
        delay = (delay * 2).min(retries.delay);
        // A goodbye while joining is heard at once too.
        match draining(attempt(), out, &is_goodbye, &mut dropped).await? {
            Ok((
                opened,
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
                return Some(opened);
            }
            Ok((_, other)) => unreachable!("joining makes sessionConnected, not {other:?}"),
            Err(
                e @ (SignalingError::Unreachable(..)
                | SignalingError::Lost(..)
                | SignalingError::Timeout(_)
                | SignalingError::Busy(_)
                | SignalingError::Server(_)),
            ) => tracing::info!("joining again failed (attempt {n}): {}", Causes(&e)),
            Err(e) => {
                tracing::warn!("joining again was refused: {}", Causes(&e));
                break;
            }
        }
    }
    let _ = events.send(SessionEvent::SessionDisconnected { reason });
    None
}

/// Awaits `work` while requests sent meanwhile (`out`), which cannot be sent, go to
/// `dropped`; `None` at a goodbye (or the client going away).
async fn draining<T, M>(
    work: impl std::future::Future<Output = T>,
    out: &mut mpsc::UnboundedReceiver<M>,
    is_goodbye: &impl Fn(&M) -> bool,
    dropped: &mut impl FnMut(M),
) -> Option<T> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            done = &mut work => return Some(done),
            msg = out.recv() => match msg {
                Some(m) if !is_goodbye(&m) => dropped(m),
                _ => return None,
            },
        }
    }
}

fn no_moderation() -> SignalingError {
    SignalingError::usage(
        "moderation needs a vcall server (Janus's VideoRoom kick needs the room secret; WHIP/WHEP has no session; LiveKit's is its server API)",
    )
}

/// HTTPS trusts what WebSockets over TLS trust: the system's roots (and `SSL_CERT_FILE`).
pub fn tls_config() -> ureq::tls::TlsConfig {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::debug!("loading system certificates: {e}");
    }
    let certs: Vec<ureq::tls::Certificate<'static>> = found
        .certs
        .iter()
        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Connection;

    /// Tries `rejoin` whose attempts give `results` in turn; what it returned, the events it
    /// sent, and how long it took (virtual time).
    async fn rejoined(
        results: Vec<Result<(), SignalingError>>,
        goodbye_after: Option<Duration>,
    ) -> (Option<&'static str>, Vec<SessionEvent>, Duration) {
        let (tx, mut out) = mpsc::unbounded_channel::<&'static str>();
        if let Some(after) = goodbye_after {
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = tx.send("request");
                tokio::time::sleep(after).await;
                let _ = tx.send("goodbye");
            });
        }
        let (events, mut seen) = mpsc::unbounded_channel();
        let mut results = results.into_iter();
        let mut dropped = 0;
        let start = tokio::time::Instant::now();
        let got = rejoin(
            Retries {
                max: 4,
                delay: Duration::from_secs(1),
            },
            &mut out,
            |m| *m == "goodbye",
            |_| dropped += 1,
            &events,
            Reason::NetworkDisconnected,
            || {
                let r = results.next().expect("no more attempts than results");
                async move {
                    r.map(|()| {
                        let back = SessionEvent::SessionConnected {
                            session_id: "s".into(),
                            connection: Connection {
                                id: "back".into(),
                                data: String::new(),
                                client_data: String::new(),
                                created_at: 0,
                            },
                            connection_count: 1,
                            connections: Vec::new(),
                            streams: Vec::new(),
                            p2p: false,
                        };
                        ("socket", back)
                    })
                }
            },
        )
        .await;
        drop(tx);
        let mut all = Vec::new();
        while let Ok(e) = seen.try_recv() {
            all.push(e);
        }
        assert!(
            goodbye_after.is_none() || dropped == 1,
            "the request before the goodbye"
        );
        (got, all, start.elapsed())
    }

    fn attempts(events: &[SessionEvent]) -> Vec<u32> {
        events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Reconnecting { attempt, .. } => Some(*attempt),
                _ => None,
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn joining_again_backs_off_until_an_attempt_succeeds() {
        let down = || Err(SignalingError::unreachable("down"));
        let (got, events, took) = rejoined(vec![down(), down(), Ok(())], None).await;
        assert_eq!(got, Some("socket"));
        assert_eq!(attempts(&events), [1, 2, 3]);
        assert!(
            matches!(events.last(), Some(SessionEvent::Reconnected { connection, .. }) if connection.id == "back")
        );
        // A quarter second, then doubling up to the limit.
        assert_eq!(took, Duration::from_millis(250 + 500 + 1000));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_or_the_last_attempt_ends_the_session() {
        let refused = Err(SignalingError::Auth("expired".into()));
        let (got, events, _) = rejoined(vec![refused], None).await;
        assert_eq!((got, attempts(&events)), (None, vec![1]));
        assert!(
            matches!(events.last(), Some(SessionEvent::SessionDisconnected { reason }) if *reason == Reason::NetworkDisconnected)
        );
        let down = || Err(SignalingError::lost("closed"));
        let (got, events, _) = rejoined(vec![down(), down(), down(), down()], None).await;
        assert_eq!((got, attempts(&events)), (None, vec![1, 2, 3, 4]));
        assert!(matches!(
            events.last(),
            Some(SessionEvent::SessionDisconnected { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_goodbye_while_waiting_ends_it_quietly() {
        let down = || Err(SignalingError::unreachable("down"));
        let (got, events, took) = rejoined(vec![down()], Some(Duration::from_millis(400))).await;
        assert_eq!((got, attempts(&events)), (None, vec![1, 2]));
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, SessionEvent::SessionDisconnected { .. }))
        );
        assert_eq!(took, Duration::from_millis(400));
    }

    #[tokio::test(start_paused = true)]
    async fn a_goodbye_while_joining_ends_it_at_once() {
        let (tx, mut out) = mpsc::unbounded_channel::<&'static str>();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let _ = tx.send("goodbye");
            std::future::pending::<()>().await;
        });
        let (events, _seen) = mpsc::unbounded_channel();
        let start = tokio::time::Instant::now();
        // An attempt that never finishes (a server that accepts and never answers).
        let got: Option<()> = rejoin(
            Retries {
                max: 3,
                delay: Duration::from_secs(1),
            },
            &mut out,
            |m| *m == "goodbye",
            |_| {},
            &events,
            Reason::NetworkDisconnected,
            std::future::pending,
        )
        .await;
        assert!(got.is_none());
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }
}
