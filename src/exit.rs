//! Exit codes, one enum for the whole program (the README's table mirrors it), and the one
//! error type commands return: a code and a message for one line on stderr.

use std::error::Error;

use crate::causes;
use crate::codec::CodecError;
use crate::media::SourceError;
use crate::peer::PeerError;
use crate::record::RecordError;
use crate::signaling::SignalingError;
use crate::signaling::negotiate::NegotiationError;

/// Process exit codes. Documented in README.md; each is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Exit {
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
    /// A load test's generator, not the server, was the limit (its CPU, its timers, its
    /// publishers falling behind): the figures say nothing about the server.
    Generator = 12,
    /// Stopped by Ctrl-C (output finished cleanly).
    Interrupted = 130,
}

/// A command's failure: how to exit, what was being done, and the error that stopped it
/// with its causes. Made only where a command gives up (`From` each boundary's error enum, or
/// `with_context`), printed once by `main` as one line: the context, then each cause.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: Exit,
    context: String,
    cause: Option<Box<dyn Error + Send + Sync>>,
}

impl Failure {
    /// A failure with no error underneath (a condition not met, a usage mistake).
    pub(crate) fn new(code: Exit, message: impl Into<String>) -> Failure {
        Failure {
            code,
            context: message.into(),
            cause: None,
        }
    }

    /// A failure caused by `error`, printed as the error and its sources.
    pub(crate) fn caused_by(code: Exit, error: impl Error + Send + Sync + 'static) -> Failure {
        Failure {
            code,
            context: String::new(),
            cause: Some(Box::new(error)),
        }
    }

    /// Says what was being done when it failed: "finishing the recording: writing failed: …".
    pub(crate) fn with_context(mut self, context: impl Into<String>) -> Failure {
        let inner = std::mem::take(&mut self.context);
        self.context = match inner.is_empty() {
            true => context.into(),
            false => format!("{}: {inner}", context.into()),
        };
        self
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cause = self.cause.as_deref().map(|e| e as &(dyn Error + 'static));
        f.write_str(&causes::told(&self.context, cause))
    }
}

impl From<SignalingError> for Failure {
    fn from(e: SignalingError) -> Failure {
        let code = match &e {
            SignalingError::Unreachable(..)
            | SignalingError::Timeout(_)
            | SignalingError::Busy(_) => Exit::Unreachable,
            SignalingError::Usage(..) => Exit::Usage,
            SignalingError::Auth(_) => Exit::Auth,
            SignalingError::SessionNotFound(_) | SignalingError::NotFound(_) => Exit::NotFound,
            SignalingError::Forbidden(_) => Exit::Forbidden,
            SignalingError::Lost(..) => Exit::Disconnected,
            SignalingError::Refused(_) => Exit::Media,
            SignalingError::Protocol(..) | SignalingError::Server(_) => Exit::Failure,
        };
        Failure::caused_by(code, e)
    }
}

impl From<NegotiationError> for Failure {
    fn from(e: NegotiationError) -> Failure {
        match e {
            NegotiationError::Signaling(e) => e.into(),
            NegotiationError::Media(e) => e.into(),
        }
    }
}

impl From<PeerError> for Failure {
    fn from(e: PeerError) -> Failure {
        let code = match &e {
            PeerError::Unsupported(_) => Exit::Usage,
            _ => Exit::Media,
        };
        Failure::caused_by(code, e)
    }
}

impl From<SourceError> for Failure {
    fn from(e: SourceError) -> Failure {
        let code = match &e {
            SourceError::Invalid(_) => Exit::Usage,
            SourceError::Library(_) => Exit::Failure,
            SourceError::Device(_) => Exit::Device,
        };
        Failure::caused_by(code, e)
    }
}

impl From<CodecError> for Failure {
    fn from(e: CodecError) -> Failure {
        Failure::caused_by(Exit::Failure, e)
    }
}

impl From<RecordError> for Failure {
    fn from(e: RecordError) -> Failure {
        let code = match &e {
            RecordError::Unsupported(_) => Exit::Usage,
            _ => Exit::Failure,
        };
        Failure::caused_by(code, e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::caused_by(Exit::Failure, e)
    }
}

pub(crate) type CmdResult = Result<Exit, Failure>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signaling_error_keeps_its_cause_and_says_it_once() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = SignalingError::unreachable_by("ws://127.0.0.1:1", refused);
        let cause = e.source().expect("the socket's error kept");
        assert!(
            cause.downcast_ref::<std::io::Error>().is_some(),
            "{cause:?}"
        );
        let failure = Failure::from(e).with_context("joining");
        assert_eq!(failure.code, Exit::Unreachable);
        assert_eq!(
            failure.to_string(),
            "joining: cannot reach the server at ws://127.0.0.1:1: refused"
        );
        let plain = Failure::from(SignalingError::lost("the server went away"));
        assert_eq!(plain.code, Exit::Disconnected);
        assert_eq!(
            plain.to_string(),
            "signaling connection lost: the server went away"
        );
    }
}
