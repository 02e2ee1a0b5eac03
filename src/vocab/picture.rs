//! Raw pictures.

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
    /// A `width` x `height` picture (even sides) copied from three planes, each with its
    /// row stride (a decoder's pictures).
    pub(crate) fn from_planes(width: usize, height: usize, planes: [(&[u8], usize); 3]) -> I420 {
        let mut img = I420::new(width, height);
        let mut at = 0;
        for (i, (data, stride)) in planes.into_iter().enumerate() {
            let (pw, ph) = if i == 0 {
                (width, height)
            } else {
                (width / 2, height / 2)
            };
            for row in 0..ph {
                img.data[at..at + pw].copy_from_slice(&data[row * stride..row * stride + pw]);
                at += pw;
            }
        }
        img
    }

    pub(crate) fn y(&self) -> &[u8] {
        &self.data[..self.width * self.height]
    }

    /// The picture `width` x `height`, each pixel the mean of the `scale` x `scale` block it
    /// covers (a box filter: with the encoder's own smoothing, enough against aliasing for a
    /// picture made smaller to save bits). `width` x `height` fit in the source divided by
    /// `scale` and are even.
    pub(crate) fn downscaled(&self, width: usize, height: usize, scale: usize) -> I420 {
        let mut out = I420::new(width, height);
        let (sw, sh, dw, dh) = (self.width, self.height, width, height);
        let (src_chroma, dst_chroma) = ((sw / 2) * (sh / 2), (dw / 2) * (dh / 2));
        // Per plane: where it starts in the source, its width there; the same in the result,
        // and its height there.
        for (src_at, src_w, dst_at, dst_w, dst_h) in [
            (0, sw, 0, dw, dh),
            (sw * sh, sw / 2, dw * dh, dw / 2, dh / 2),
            (
                sw * sh + src_chroma,
                sw / 2,
                dw * dh + dst_chroma,
                dw / 2,
                dh / 2,
            ),
        ] {
            for y in 0..dst_h {
                for x in 0..dst_w {
                    let mut sum = 0u32;
                    for row in y * scale..(y + 1) * scale {
                        let from = src_at + row * src_w + x * scale;
                        sum += self.data[from..from + scale]
                            .iter()
                            .map(|&p| u32::from(p))
                            .sum::<u32>();
                    }
                    out.data[dst_at + y * dst_w + x] = (sum / (scale * scale) as u32) as u8;
                }
            }
        }
        out
    }
}
