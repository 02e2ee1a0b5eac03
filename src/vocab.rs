//! vcall's shared vocabulary: media kinds, codecs and pictures. It imports nothing of vcall,
//! so every other module can use it without depending on each other.

/// Media kind of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Audio,
    Video,
}

/// The codecs vcall sends and receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    H264,
    Vp8,
    Opus,
}

impl Codec {
    pub fn kind(self) -> Kind {
        match self {
            Codec::H264 | Codec::Vp8 => Kind::Video,
            Codec::Opus => Kind::Audio,
        }
    }

    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::H264 | Codec::Vp8 => 90_000,
            Codec::Opus => 48_000,
        }
    }
}

/// One I420 picture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I420 {
    pub width: usize,
    pub height: usize,
    /// Y plane, then U, then V; no padding.
    pub data: Vec<u8>,
}

impl I420 {
    pub fn new(width: usize, height: usize) -> I420 {
        I420 {
            width,
            height,
            data: vec![0; width * height * 3 / 2],
        }
    }
    pub fn y(&self) -> &[u8] {
        &self.data[..self.width * self.height]
    }
}
