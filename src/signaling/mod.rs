//! Signaling protocols. Each submodule knows one protocol's wire format; the rest of vcall
//! sees `SessionEvent`s and SDP strings.

pub mod janus;
pub mod livekit;
pub mod native;
pub mod server_url;
pub mod whip;

use crate::session::{ConnectionId, StreamId};
use native::ErrorCode;

/// What can go wrong talking to a signaling server.
#[derive(Debug, thiserror::Error)]
pub enum SignalingError {
    #[error("cannot reach the server at {0}")]
    Unreachable(String),
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
    Lost(String),
    #[error("the server is at its connection limit: {0}")]
    Busy(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Timeout(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("the server failed: {0}")]
    Server(String),
}

impl SignalingError {
    pub(crate) fn from_code(code: ErrorCode, message: String) -> SignalingError {
        match code {
            ErrorCode::InvalidToken | ErrorCode::TokenExpired | ErrorCode::WrongSession => {
                SignalingError::Auth(message)
            }
            ErrorCode::SessionNotFound => SignalingError::SessionNotFound(message),
            ErrorCode::Forbidden => SignalingError::Forbidden(message),
            ErrorCode::NotFound => SignalingError::NotFound(message),
            ErrorCode::VersionUnsupported | ErrorCode::BadRequest | ErrorCode::ConnectTimeout => {
                SignalingError::Protocol(message)
            }
            ErrorCode::Media | ErrorCode::Internal => SignalingError::Refused(message),
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
    /// Publishes with `offer`, whose tracks carry the media stream id `msid`; returns the
    /// stream id and the server's answer. `again`: the id the stream had before the client
    /// joined again (kept where the server can).
    pub async fn publish(
        &self,
        name: &str,
        media: (bool, bool),
        msid: &str,
        offer: String,
        again: Option<&StreamId>,
    ) -> Result<(StreamId, String), SignalingError> {
        match self {
            Client::Native(c) => c.publish(name, media, msid, offer, again).await,
            Client::Janus(c) => c.publish(name, offer).await,
            Client::Whip(c) => c.publish(name, media, offer).await,
            Client::LiveKit(c) => c.publish(name, media, offer).await,
        }
    }

    /// How long an offer waits for ICE gathering before it goes: `None`, until it completes
    /// (one message carries every candidate); WHIP/WHEP take the late ones trickled.
    pub fn gathering_wait(&self) -> Option<std::time::Duration> {
        match self {
            Client::Whip(_) => Some(whip::TRICKLE_AFTER),
            Client::Native(_) | Client::Janus(_) | Client::LiveKit(_) => None,
        }
    }

    /// Restarts ICE on the media connection with `offer`; returns the answer.
    pub async fn restart_ice(&self, offer: String) -> Result<String, SignalingError> {
        match self {
            Client::Native(c) => c.restart_ice(offer).await,
            Client::Janus(_) => Err(SignalingError::Usage(
                "ICE restarts are not implemented against Janus".into(),
            )),
            Client::Whip(c) => c.restart_ice(offer).await,
            Client::LiveKit(_) => Err(SignalingError::Usage(
                "ICE restarts are not implemented against LiveKit".into(),
            )),
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

fn no_moderation() -> SignalingError {
    SignalingError::Usage(
        "moderation needs a vcall server (Janus's VideoRoom kick needs the room secret; WHIP/WHEP has no session; LiveKit's is its server API)".into(),
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
