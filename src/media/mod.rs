//! Media sources and their timing: the test pattern, the tone, media files (through FFmpeg's
//! libraries), Y4M and WAV files, stdin, camera and microphone.

pub(crate) mod devices;
pub(crate) mod file;
pub(crate) mod resample;
pub(crate) mod sources;
pub mod testsrc;
pub mod tone;

/// Why a source cannot be opened or read on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    /// As given, it cannot be used: a size out of range, a file that is not what it should
    /// be, a file that cannot be read.
    #[error("{0}")]
    Invalid(String),
    /// FFmpeg's libraries, which read media files, could not be loaded.
    #[error("{0}")]
    Library(String),
    /// A camera or microphone is missing, busy or stopped.
    #[error(transparent)]
    Device(#[from] devices::DeviceError),
}

impl SourceError {
    pub(crate) fn invalid(message: impl Into<String>) -> SourceError {
        SourceError::Invalid(message.into())
    }
}
