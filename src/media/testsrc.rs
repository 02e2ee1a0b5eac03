//! The test pattern: moving colour bars with the frame number and capture time burned in as
//! two rows of large black/white blocks that survive H.264 compression. A receiver reads them
//! back from the decoded picture (`read_marks`) and can regenerate the exact source frame
//! (`render`) to measure PSNR.

use crate::vocab::I420;

/// Bits of the frame-number row, then of the capture-time row.
const FRAME_BITS: usize = 32;
const TIME_BITS: usize = 48;
/// Height of a mark row in pixels.
const ROW_H: usize = 16;

/// The marks burned into a test-pattern frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marks {
    pub frame: u32,
    /// Capture time, Unix milliseconds (low 48 bits).
    pub capture_ms: u64,
}

fn block_w(width: usize) -> usize {
    width / TIME_BITS
}

/// Smallest picture the marks fit in.
pub(crate) const MIN_WIDTH: usize = 2 * TIME_BITS;
pub(crate) const MIN_HEIGHT: usize = 3 * ROW_H;

/// The three test patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Colour bars scrolling across the picture and a square bouncing along its bottom.
    Plain,
    /// The plain pattern under noise that uses the bitrate given ([`render_busy`]).
    Busy,
    /// A camera on a calm scene ([`render_calm`]).
    Calm,
}

/// `frames` pictures of `pattern` as YUV4MPEG2 at `fps`, frame n marked with its
/// number and n / fps seconds as its capture time: a clip to make media files from (the
/// tests and benchmarks of `publish --file`), whose pictures say which they are.
pub fn write_y4m(
    out: &mut impl std::io::Write,
    (width, height): (usize, usize),
    fps: u32,
    frames: u32,
    pattern: Pattern,
) -> std::io::Result<()> {
    writeln!(
        out,
        "YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg"
    )?;
    let mut img = I420::new(width, height);
    for n in 0..frames {
        render_pattern(
            pattern,
            &mut img,
            Marks {
                frame: n,
                capture_ms: u64::from(n) * 1000 / u64::from(fps),
            },
        );
        out.write_all(b"FRAME\n")?;
        out.write_all(&img.data)?;
    }
    Ok(())
}

/// Draws frame `marks.frame` of `pattern` into `img`.
pub fn render_pattern(pattern: Pattern, img: &mut I420, marks: Marks) {
    match pattern {
        Pattern::Plain => render(img, marks),
        Pattern::Busy => render_busy(img, marks),
        Pattern::Calm => render_calm(img, marks),
    }
}

/// Draws frame `marks.frame` of the pattern into `img` (even dimensions, at least MIN_*).
pub fn render(img: &mut I420, marks: Marks) {
    draw(img, marks, 4, 8);
}

/// Frame `marks.frame` of the calm pattern, what a camera sees of a calm scene (a face, a
/// slide, a room): the bars stand still, the square moves slowly, and the sensor adds a
/// little noise that changes every frame. Most of the picture costs an encoder nothing but
/// the noise, which it keeps only at a low QP.
pub fn render_calm(img: &mut I420, marks: Marks) {
    draw(img, marks, 0, 2);
    let (w, h) = (img.width, img.height);
    let mut next = noise(marks.frame);
    for row in 2 * ROW_H..h {
        for chunk in img.data[row * w..(row + 1) * w].chunks_mut(8) {
            let bits = next();
            for (i, px) in chunk.iter_mut().enumerate() {
                let grain = ((bits >> (i * 8)) & 0x03) as i32 - 1;
                *px = (*px as i32 + grain).clamp(16, 235) as u8;
            }
        }
    }
}

/// xorshift, seeded by the frame: the same frame is the same picture.
fn noise(frame: u32) -> impl FnMut() -> u64 {
    let mut state =
        0x9E37_79B9_7F4A_7C15u64 ^ (u64::from(frame) + 1).wrapping_mul(0x2545_F491_4F6C_DD1D);
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// The pattern with its bars scrolling `scroll` px and its square moving `speed` px a frame.
fn draw(img: &mut I420, marks: Marks, scroll: usize, speed: usize) {
    let (w, h) = (img.width, img.height);
    let (y, uv) = img.data.split_at_mut(w * h);
    let (u, v) = uv.split_at_mut(w * h / 4);
    // Colour bars, with a luma ramp down the picture.
    let shift = (marks.frame as usize * scroll) % w;
    const BARS: [(u8, u8, u8); 8] = [
        (235, 128, 128),
        (210, 16, 146),
        (170, 166, 16),
        (145, 54, 34),
        (106, 202, 222),
        (81, 90, 240),
        (41, 240, 110),
        (16, 128, 128),
    ];
    // Which bar each column shows is the same on every row: worked out once a picture, and
    // each row is then a lookup (a 1080p picture in about a millisecond, not 30).
    let bars: Vec<usize> = (0..w).map(|col| ((col + shift) % w) * 8 / w).collect();
    for (row, line) in y.chunks_exact_mut(w).enumerate() {
        let ramp = (row * 64 / h) as i32 - 32;
        let luma = BARS.map(|bar| (bar.0 as i32 + ramp).clamp(16, 235) as u8);
        for (px, &bar) in line.iter_mut().zip(&bars) {
            *px = luma[bar];
        }
    }
    let (u_row, v_row): (Vec<u8>, Vec<u8>) = (0..w / 2)
        .map(|col| {
            let bar = BARS[bars[col * 2]];
            (bar.1, bar.2)
        })
        .unzip();
    for (u_line, v_line) in u.chunks_exact_mut(w / 2).zip(v.chunks_exact_mut(w / 2)) {
        u_line.copy_from_slice(&u_row);
        v_line.copy_from_slice(&v_row);
    }
    // A white square bouncing along the bottom, to give the encoder motion.
    let side = (h / 8).max(4);
    let span = w - side;
    let period = 2 * span;
    let p = (marks.frame as usize * speed) % period.max(1);
    let x0 = if p < span { p } else { period - p };
    let y0 = h - side - 2;
    for row in y0..y0 + side {
        for col in x0..x0 + side {
            y[row * w + col] = 235;
        }
    }
    // The mark rows, on a neutral background.
    draw_marks(y, u, v, w, marks);
}

/// Frame `marks.frame` of the busy pattern: the plain one under noise that changes every
/// frame, which an encoder keeps only as far as its bitrate allows, so that it uses the
/// bitrate it is given (the plain pattern at 1280x720 needs about a fifth of 2 Mbit/s) and
/// still fits a low one. The marks stay clean.
pub fn render_busy(img: &mut I420, marks: Marks) {
    render(img, marks);
    let (w, h) = (img.width, img.height);
    let (y, uv) = img.data.split_at_mut(w * h);
    let (u, v) = uv.split_at_mut(w * h / 4);
    let mut next = noise(marks.frame);
    for row in 2 * ROW_H..h {
        for chunk in y[row * w..(row + 1) * w].chunks_mut(8) {
            let bits = next();
            for (i, px) in chunk.iter_mut().enumerate() {
                let noise = ((bits >> (i * 8)) & 0x07) as i32 - 4;
                *px = (*px as i32 + noise).clamp(16, 235) as u8;
            }
        }
    }
    for plane in [u, v] {
        for chunk in plane[(ROW_H * w / 2)..].chunks_mut(8) {
            let bits = next();
            for (i, px) in chunk.iter_mut().enumerate() {
                let noise = ((bits >> (i * 8)) & 0x03) as i32 - 2;
                *px = (*px as i32 + noise).clamp(16, 240) as u8;
            }
        }
    }
}

fn draw_marks(y: &mut [u8], u: &mut [u8], v: &mut [u8], w: usize, marks: Marks) {
    let bw = block_w(w);
    let draw_row =
        |y: &mut [u8], u: &mut [u8], v: &mut [u8], top: usize, value: u64, bits: usize| {
            for bit in 0..bits {
                let on = (value >> (bits - 1 - bit)) & 1 == 1;
                for row in top..top + ROW_H {
                    for col in bit * bw..(bit + 1) * bw {
                        y[row * w + col] = if on { 235 } else { 16 };
                    }
                }
            }
            for row in top / 2..(top + ROW_H) / 2 {
                for col in 0..bits * bw / 2 {
                    u[row * (w / 2) + col] = 128;
                    v[row * (w / 2) + col] = 128;
                }
            }
        };
    draw_row(y, u, v, 0, marks.frame as u64, FRAME_BITS);
    draw_row(
        y,
        u,
        v,
        ROW_H,
        marks.capture_ms & ((1 << TIME_BITS) - 1),
        TIME_BITS,
    );
}

/// Reads the marks back from a (decoded) picture of the pattern.
pub fn read_marks(img: &I420) -> Option<Marks> {
    let w = img.width;
    if w < MIN_WIDTH || img.height < MIN_HEIGHT {
        return None;
    }
    let bw = block_w(w);
    let y = img.y();
    let read_row = |top: usize, bits: usize| -> (u64, u32) {
        let mut value = 0u64;
        let mut doubtful = 0;
        for bit in 0..bits {
            // Average the block's centre, away from edges the encoder may blur.
            let (mut sum, mut n) = (0u32, 0u32);
            for row in top + ROW_H / 4..top + ROW_H * 3 / 4 {
                for col in bit * bw + bw / 4..bit * bw + bw * 3 / 4 + 1 {
                    sum += y[row * w + col] as u32;
                    n += 1;
                }
            }
            let avg = sum / n.max(1);
            if (90..160).contains(&avg) {
                doubtful += 1;
            }
            value = (value << 1) | u64::from(avg >= 126);
        }
        (value, doubtful)
    };
    let (frame, d1) = read_row(0, FRAME_BITS);
    let (capture_ms, d2) = read_row(ROW_H, TIME_BITS);
    (d1 + d2 == 0).then_some(Marks {
        frame: frame as u32,
        capture_ms,
    })
}

/// PSNR of the luma planes, in dB (capped at 100 for identical pictures).
pub fn psnr_y(a: &I420, b: &I420) -> f64 {
    let n = a.width * a.height;
    let mse: f64 = a.y()[..n]
        .iter()
        .zip(&b.y()[..n])
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum::<f64>()
        / n as f64;
    if mse == 0.0 {
        100.0
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downscaling_averages_each_block_in_every_plane() {
        // 4x4 luma with a value per pixel, 2x2 chroma: halved, each pixel is its block's mean.
        let mut img = I420::new(4, 4);
        for (i, p) in img.data[..16].iter_mut().enumerate() {
            *p = (i % 4 * 10 + i / 4 * 50) as u8;
        }
        img.data[16..20].copy_from_slice(&[10, 20, 30, 40]);
        img.data[20..24].copy_from_slice(&[50, 60, 70, 80]);
        let half = img.downscaled(2, 2, 2);
        assert_eq!(&half.data[..4], &[30, 50, 130, 150]);
        assert_eq!(&half.data[4..], &[25, 65]);
        // A flat 1280x720 a quarter of its sides: flat, planes in their places.
        let mut img = I420::new(1280, 720);
        let n = 1280 * 720;
        img.data[..n].fill(100);
        img.data[n..n + n / 4].fill(50);
        img.data[n + n / 4..].fill(200);
        let q = img.downscaled(320, 180, 4);
        let m = 320 * 180;
        assert!(q.data[..m].iter().all(|&p| p == 100));
        assert!(q.data[m..m + m / 4].iter().all(|&p| p == 50));
        assert!(q.data[m + m / 4..].iter().all(|&p| p == 200));
    }

    #[test]
    fn marks_read_back_from_the_rendered_picture() {
        let mut img = I420::new(640, 480);
        let marks = Marks {
            frame: 123_456,
            capture_ms: 1_790_000_000_123,
        };
        render(&mut img, marks);
        assert_eq!(read_marks(&img), Some(marks));
    }

    #[test]
    fn marks_survive_noise() {
        let mut img = I420::new(320, 240);
        let marks = Marks {
            frame: 7,
            capture_ms: 42,
        };
        render(&mut img, marks);
        for (i, p) in img.data.iter_mut().enumerate() {
            *p = (*p as i32 + (i as i32 * 7919 % 41) - 20).clamp(0, 255) as u8;
        }
        assert_eq!(read_marks(&img), Some(marks));
    }
}
