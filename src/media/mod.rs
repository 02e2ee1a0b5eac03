//! Media sources and their timing: the test pattern, the tone, Y4M and WAV files, stdin,
//! camera and microphone.

pub mod devices;
pub mod testsrc;
pub mod tone;

use crate::codec::OPUS_FRAME;
use crate::exit::Failure;
use crate::vocab::I420;

/// Raw pictures at a frame rate.
pub trait VideoSource: Send {
    fn size(&self) -> (usize, usize);
    fn fps(&self) -> f64;
    /// The next picture, captured at `capture_ms` (Unix ms); `None` at the end.
    fn next(&mut self, capture_ms: u64) -> Result<Option<I420>, Failure>;
}

/// 20 ms frames of 48 kHz mono audio.
pub trait AudioSource: Send {
    /// Fills the next frame; `false` at the end.
    fn next(&mut self, out: &mut [i16; OPUS_FRAME]) -> Result<bool, Failure>;
}
