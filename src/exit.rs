//! Exit codes, one enum for the whole program (the README's table mirrors it), and the one
//! error type commands return: a code and a message for one line on stderr.

use crate::codec::CodecError;
use crate::media::SourceError;
use crate::peer::PeerError;
use crate::signaling::SignalingError;

/// Process exit codes. Documented in README.md; each is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Everything worked.
    Ok = 0,
    /// An unexpected failure (I/O, internal).
    Failure = 1,
    /// Bad flags or input.
    Usage = 2,
    /// The token or API credentials were refused (bad signature, expired, another session).
    Auth = 3,
    /// The session, stream or connection does not exist.
    NotFound = 4,
    /// The role does not allow the action.
    Forbidden = 5,
    /// The server could not be reached.
    Unreachable = 6,
    /// The session ended under us: server shut down or gone, forced out or unpublished.
    Disconnected = 7,
    /// Media could not flow: ICE/DTLS failure, the server got no media.
    Media = 8,
    /// No media arrived.
    NoMedia = 9,
    /// A capture device (camera, microphone) is missing or failed.
    Device = 10,
    /// A condition asked for (`--wait-for`, `--expect`) was not met.
    Assertion = 11,
    /// Stopped by Ctrl-C (output finished cleanly).
    Interrupted = 130,
}

/// A command's failure: what to print and how to exit.
#[derive(Debug)]
pub struct Failure {
    pub code: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(code: Exit, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<SignalingError> for Failure {
    fn from(e: SignalingError) -> Failure {
        let code = match &e {
            SignalingError::Unreachable(_)
            | SignalingError::Timeout(_)
            | SignalingError::Busy(_) => Exit::Unreachable,
            SignalingError::Usage(_) => Exit::Usage,
            SignalingError::Auth(_) => Exit::Auth,
            SignalingError::SessionNotFound(_) | SignalingError::NotFound(_) => Exit::NotFound,
            SignalingError::Forbidden(_) => Exit::Forbidden,
            SignalingError::Lost(_) => Exit::Disconnected,
            SignalingError::Refused(_) => Exit::Media,
            SignalingError::Protocol(_) | SignalingError::Server(_) => Exit::Failure,
        };
        Failure::new(code, e.to_string())
    }
}

impl From<PeerError> for Failure {
    fn from(e: PeerError) -> Failure {
        Failure::new(Exit::Media, e.to_string())
    }
}

impl From<SourceError> for Failure {
    fn from(e: SourceError) -> Failure {
        let code = match &e {
            SourceError::Invalid(_) => Exit::Usage,
            SourceError::Device(_) => Exit::Device,
        };
        Failure::new(code, e.to_string())
    }
}

impl From<CodecError> for Failure {
    fn from(e: CodecError) -> Failure {
        Failure::new(Exit::Failure, e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::new(Exit::Failure, e.to_string())
    }
}

pub type CmdResult = Result<Exit, Failure>;
