//! FFmpeg's libraries, loaded at their first use (src/codec/ffmpeg.c): a vcall process that
//! reads no media file and decodes no VP8, VP9 or AV1 never loads them, and their ~120
//! dependencies cost it nothing at start.

use std::sync::OnceLock;

#[cfg(ffmpeg_lazy)]
unsafe extern "C" {
    fn vcall_ffmpeg_load(error: *mut std::ffi::c_char, len: usize) -> std::ffi::c_int;
}

/// Another FFmpeg than 5 or 6 is linked as usual (build.rs): loaded already.
#[cfg(not(ffmpeg_lazy))]
unsafe fn vcall_ffmpeg_load(_error: *mut std::ffi::c_char, _len: usize) -> std::ffi::c_int {
    0
}

/// Loads FFmpeg's libraries (once) and quiets their log: what matters comes back as
/// errors. Called before vcall's first call into them; the error says why they could not be
/// loaded (the loader's own words: a library missing, say).
pub(crate) fn init() -> Result<(), String> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let mut error = [0 as std::ffi::c_char; 512];
            // SAFETY: the buffer is writable for its length; the function NUL-terminates.
            let loaded = unsafe { vcall_ffmpeg_load(error.as_mut_ptr(), error.len()) };
            if loaded != 0 {
                // SAFETY: NUL-terminated by vcall_ffmpeg_load within the buffer.
                let why = unsafe { std::ffi::CStr::from_ptr(error.as_ptr()) };
                return Err(format!(
                    "FFmpeg's libraries could not be loaded ({}): install FFmpeg's libraries (libavformat, libavcodec, libswscale, libswresample)",
                    why.to_string_lossy()
                ));
            }
            ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
            Ok(())
        })
        .clone()
}
