//! The test tone: a sine with a timing mark at every whole second of its samples — the first
//! `MARK_MS` of each second are silent (vcall's tone source puts them on the wall clock's
//! whole seconds). A receiver finds the marks (`find_marks`) and compares them with the video
//! frames captured at the same instants to measure A/V offset.

pub(crate) const SAMPLE_RATE: u32 = 48_000;
/// Length of the silent mark at the start of each second.
pub(crate) const MARK_MS: u32 = 50;
const AMPLITUDE: f64 = 0.3 * i16::MAX as f64;

/// Fills `out` with the tone's samples starting at sample index `start` (mono, 48 kHz).
pub fn render(hz: f64, start: u64, out: &mut [i16]) {
    let mark_len = (SAMPLE_RATE * MARK_MS / 1000) as u64;
    for (i, s) in out.iter_mut().enumerate() {
        let n = start + i as u64;
        *s = if n % SAMPLE_RATE as u64 >= mark_len {
            let t = n as f64 / SAMPLE_RATE as f64;
            (AMPLITUDE * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
        } else {
            0
        };
    }
}

/// `seconds` of the tone as 16-bit mono WAV at 48 kHz, its marks at every whole second from
/// the start: the sound for a clip made with [`super::testsrc::write_y4m`].
pub fn write_wav(path: &std::path::Path, hz: f64, seconds: u32) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec)?;
    let mut second = vec![0i16; SAMPLE_RATE as usize];
    for s in 0..u64::from(seconds) {
        render(hz, s * u64::from(SAMPLE_RATE), &mut second);
        for &v in &second {
            w.write_sample(v)?;
        }
    }
    w.finalize()
}

/// A/V offsets, ms (positive: audio late), from the tone's marks (their times, ms) and video
/// frames given as (time ms, burned-in capture time, Unix ms), both on one timeline: the marks
/// sit on the wall clock's whole seconds, so the first frame of each second, moved back by its
/// capture time's part of the second, is where that second's mark belongs. By capture time,
/// not frame number: skipped pictures or a lowered frame rate leave fewer frames than
/// seconds × fps.
pub fn av_skews(marks_ms: &[f64], frames: impl IntoIterator<Item = (f64, u64)>) -> Vec<f64> {
    let mut skews = Vec::new();
    let mut second = None;
    for (at_ms, capture_ms) in frames {
        if second.replace(capture_ms / 1000) == Some(capture_ms / 1000) {
            continue;
        }
        let v = at_ms - (capture_ms % 1000) as f64;
        if let Some(a) = marks_ms
            .iter()
            .min_by(|a, b| (*a - v).abs().total_cmp(&(*b - v).abs()))
            && (a - v).abs() < 500.0
        {
            skews.push(a - v);
        }
    }
    skews
}

/// The loudest sample that counts as silence.
pub(crate) fn quiet_level() -> i32 {
    (AMPLITUDE * 0.05) as i32
}

/// How many quiet samples in a row make a mark: 3/4 of one.
pub(crate) fn min_mark_run(rate: u32) -> usize {
    (rate * MARK_MS / 1000 * 3 / 4) as usize
}

/// Sample indices where a silent mark begins: a run of at least 3/4 of a mark of near-silence
/// after sound. Works on decoded audio whatever its absolute position.
pub fn find_marks(samples: &[i16], rate: u32) -> Vec<usize> {
    let min_run = min_mark_run(rate);
    let quiet = quiet_level();
    let mut marks = Vec::new();
    let mut run_start = None;
    let mut loud_before = false;
    for (i, &s) in samples.iter().enumerate() {
        if (s as i32).abs() <= quiet {
            let start = *run_start.get_or_insert(i);
            if i + 1 - start == min_run && loud_before {
                marks.push(start);
            }
        } else {
            // Zero crossings of the sine are far shorter than `min_run`: they never count.
            loud_before = true;
            run_start = None;
        }
    }
    marks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_pairs_with_the_first_frame_of_its_second_by_capture_time() {
        // Capture clock from 10_000.250 s; frames every 33 ms at their capture time, pictures
        // 40..=50 skipped; marks 10 ms late at the whole seconds (10_001 and 10_002 s, here
        // 750 and 1750 ms on the timeline).
        let frames = (0..60u64)
            .filter(|n| !(40..=50).contains(n))
            .map(|n| (n as f64 * 33.0, 10_000_250 + n * 33));
        assert_eq!(av_skews(&[760.0, 1760.0], frames), [10.0, 10.0]);
    }

    #[test]
    fn marks_are_found_at_whole_seconds() {
        let mut buf = vec![0i16; SAMPLE_RATE as usize * 3 + 3000];
        render(440.0, 0, &mut buf);
        // The first mark is at 0, after no sound: it is not reported.
        assert_eq!(find_marks(&buf, SAMPLE_RATE), vec![48_000, 96_000, 144_000]);
    }
}
