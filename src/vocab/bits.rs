//! Reading (and, for tests, writing) a bitstream's fields, most significant bit first.

/// Reads a bitstream's fields, most significant bit first.
pub(crate) struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    pub(crate) fn new(data: &[u8]) -> Bits<'_> {
        Bits { data, pos: 0 }
    }
    pub(crate) fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(b as u32)
    }
    pub(crate) fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0, |acc, _| Some((acc << 1) | self.bit()?))
    }
    /// AV1's variable-length code (AV1 specification 4.10.3).
    pub(crate) fn uvlc(&mut self) -> Option<u32> {
        let mut zeros = 0u32;
        while self.bit()? == 0 {
            zeros += 1;
        }
        if zeros >= 32 {
            return Some(u32::MAX);
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }
    /// An unsigned Exp-Golomb code (H.264).
    pub(crate) fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some((1u32 << zeros) - 1 + self.bits(zeros)?)
    }
    /// A signed Exp-Golomb code (H.264).
    pub(crate) fn se(&mut self) -> Option<i32> {
        let v = self.ue()?;
        Some(if v & 1 == 1 {
            v.div_ceil(2) as i32
        } else {
            -((v / 2) as i32)
        })
    }
}

/// Writes fields most significant bit first, for tests that build headers.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct BitWriter(Vec<bool>);

#[cfg(test)]
impl BitWriter {
    pub(crate) fn put(&mut self, value: u32, bits: u32) {
        self.0
            .extend((0..bits).rev().map(|i| (value >> i) & 1 == 1));
    }
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let byte = |c: &[bool]| {
            c.iter()
                .enumerate()
                .fold(0, |b, (i, &x)| b | ((x as u8) << (7 - i)))
        };
        self.0.chunks(8).map(byte).collect()
    }
}
