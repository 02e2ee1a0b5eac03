//! Progress on a terminal (indicatif): elapsed time, frames, bitrate, bytes. Silent when
//! stderr is not a terminal or with --quiet; the closing summary is printed unless --quiet.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

struct Inner {
    label: String,
    start: Instant,
    video_frames: AtomicU64,
    audio_frames: AtomicU64,
    bytes: AtomicU64,
    bar: Option<ProgressBar>,
    /// No summary either (`--quiet`).
    quiet: bool,
}

/// Counters of one command's media, shared by its tasks.
#[derive(Clone)]
pub struct Progress(Arc<Inner>);

impl Progress {
    /// A progress line of its own, shown when stderr is a terminal and not `quiet`.
    pub fn new(label: &str, quiet: bool) -> Progress {
        let group = Progress::group(quiet);
        Progress::in_group(group.as_ref(), label, quiet)
    }

    /// Where several progress lines share the terminal; `None` when nothing is to be shown.
    pub fn group(quiet: bool) -> Option<MultiProgress> {
        (!quiet && std::io::stderr().is_terminal()).then(MultiProgress::new)
    }

    /// A progress line in `group` (none without a group).
    pub fn in_group(group: Option<&MultiProgress>, label: &str, quiet: bool) -> Progress {
        let bar = group.map(|group| {
            let bar = group.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {elapsed_precise} {msg}")
                    .expect("valid template"),
            );
            bar.set_prefix(label.to_owned());
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress(Arc::new(Inner {
            label: label.to_owned(),
            start: Instant::now(),
            video_frames: AtomicU64::new(0),
            audio_frames: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            bar,
            quiet,
        }))
    }

    /// Counts one frame of `bytes` bytes.
    pub fn add(&self, video: bool, bytes: u64) {
        let counter = if video {
            &self.0.video_frames
        } else {
            &self.0.audio_frames
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.0.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Sets the counters from elsewhere (a recorder's totals).
    pub fn set(&self, video_frames: u64, audio_frames: u64, bytes: u64) {
        self.0.video_frames.store(video_frames, Ordering::Relaxed);
        self.0.audio_frames.store(audio_frames, Ordering::Relaxed);
        self.0.bytes.store(bytes, Ordering::Relaxed);
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.0.start.elapsed()
    }

    /// Video frames, audio frames and bytes so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.0.video_frames.load(Ordering::Relaxed),
            self.0.audio_frames.load(Ordering::Relaxed),
            self.0.bytes.load(Ordering::Relaxed),
        )
    }

    fn line(&self) -> String {
        let secs = self.0.start.elapsed().as_secs_f64().max(0.001);
        let bytes = self.0.bytes.load(Ordering::Relaxed);
        format!(
            "video {} frames, audio {} frames, {:.2} MB, {:.0} kbit/s",
            self.0.video_frames.load(Ordering::Relaxed),
            self.0.audio_frames.load(Ordering::Relaxed),
            bytes as f64 / 1e6,
            bytes as f64 * 8.0 / secs / 1000.0
        )
    }

    /// Shows the current counts now.
    pub fn refresh(&self) {
        if let Some(bar) = &self.0.bar {
            bar.set_message(self.line());
        }
    }

    /// Resolves once a second to refresh the display; never when there is no display.
    pub async fn tick(&self) {
        match &self.0.bar {
            Some(bar) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                bar.set_message(self.line());
            }
            None => std::future::pending().await,
        }
    }

    /// Prints `line` on stderr above the progress lines (nothing when quiet).
    pub fn println(&self, line: &str) {
        match &self.0.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None if !self.0.quiet => eprintln!("{line}"),
            None => {}
        }
    }

    /// Clears the progress line and prints the one-line summary (unless quiet).
    pub fn finish(&self) {
        if let Some(bar) = &self.0.bar {
            bar.finish_and_clear();
        }
        if !self.0.quiet {
            eprintln!(
                "{}: {:.1} s, {}",
                self.0.label,
                self.0.start.elapsed().as_secs_f64(),
                self.line()
            );
        }
    }
}
