//! Received VP8, VP9 and AV1 decoded through the system's libavcodec (AV1 by its libdav1d
//! wrapper where it has one: FFmpeg's own AV1 decoder needs hardware), for the pictures'
//! marks (`--expect`) and `--format y4m`.

use ffmpeg_next as ff;

use super::CodecError;
use crate::vocab::{Codec, I420};

/// A libavcodec video decoder fed one frame at a time.
pub(crate) struct Decoder {
    inner: ff::decoder::Video,
    frame: ff::frame::Video,
}

// SAFETY: the decoder's context is owned and used from one thread at a time (every call
// takes `&mut self`).
unsafe impl Send for Decoder {}

fn err(e: ff::Error) -> CodecError {
    CodecError::Decode(e.to_string())
}

impl Decoder {
    pub(crate) fn new(codec: Codec) -> Result<Decoder, CodecError> {
        super::ffmpeg::init().map_err(CodecError::Decode)?;
        let id = match codec {
            Codec::Vp8 => ff::codec::Id::VP8,
            Codec::Vp9 => ff::codec::Id::VP9,
            Codec::Av1 => ff::codec::Id::AV1,
            other => {
                return Err(CodecError::Decode(format!(
                    "{} is not decoded by libavcodec here",
                    other.mime()
                )));
            }
        };
        let found = (codec == Codec::Av1)
            .then(|| ff::decoder::find_by_name("libdav1d"))
            .flatten()
            .or_else(|| ff::decoder::find(id))
            .ok_or_else(|| CodecError::Decode(format!("this FFmpeg has no {id:?} decoder")))?;
        let mut ctx = ff::codec::Context::new_with_codec(found);
        // One thread, no frame delay: each frame's picture comes out of its own call.
        ctx.set_threading(ff::threading::Config {
            count: 1,
            ..ff::threading::Config::kind(ff::threading::Type::None)
        });
        let inner = ctx.decoder().video().map_err(err)?;
        Ok(Decoder {
            inner,
            frame: ff::frame::Video::empty(),
        })
    }

    /// Decodes one frame; `None` when it yields no picture.
    pub(crate) fn decode(&mut self, data: &[u8]) -> Result<Option<I420>, CodecError> {
        self.inner
            .send_packet(&ff::Packet::copy(data))
            .map_err(err)?;
        let mut last = None;
        while self.inner.receive_frame(&mut self.frame).is_ok() {
            let f = &self.frame;
            if f.format() != ff::format::Pixel::YUV420P {
                return Err(CodecError::Decode(format!(
                    "pictures in {:?}, not 4:2:0 8-bit",
                    f.format()
                )));
            }
            let (w, h) = (f.width() as usize & !1, f.height() as usize & !1);
            let plane = |i| (f.data(i), f.stride(i));
            last = Some(I420::from_planes(w, h, [plane(0), plane(1), plane(2)]));
        }
        Ok(last)
    }
}
