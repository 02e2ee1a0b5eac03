//! Signaling protocols. Each submodule knows one protocol's wire format; the rest of vcall
//! sees `SessionEvent`s and SDP strings.

pub mod native;

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
    #[error("protocol error: {0}")]
    Protocol(String),
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
            ErrorCode::VersionUnsupported | ErrorCode::BadRequest => {
                SignalingError::Protocol(message)
            }
            ErrorCode::Media | ErrorCode::Internal => SignalingError::Refused(message),
        }
    }
}
