//! Media sources and their timing: the test pattern, the tone, Y4M and WAV files, stdin,
//! camera and microphone.

pub mod devices;
pub mod testsrc;
pub mod tone;
