//! `vcall publish`'s flags.

use std::time::Duration;

use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};

use crate::congestion::Degradation;
use crate::media::sources::{AudioSpec, VideoSpec};

use super::common::{ConnArgs, ImpairArgs, parse_bitrate, parse_duration, parse_duration_or_zero};

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    #[command(flatten)]
    pub(crate) conn: ConnArgs,
    #[command(flatten)]
    pub(crate) impair: ImpairArgs,
    /// The stream's name, visible to others.
    #[arg(long, default_value = "vcall")]
    pub(crate) name: String,
    /// Video source: camera[:INDEX|NAME], testsrc (testsrc:busy: noisy, uses its whole bitrate;
    /// testsrc:calm: a mostly still picture, as a camera on a calm scene), a .y4m file, a .ivf file (VP8 or H.264, sent as
    /// it is), or - for Y4M on stdin.
    #[arg(long, default_value = "camera", value_name = "SOURCE", value_parser = VideoSpec::parse)]
    pub(crate) video: VideoSpec,
    /// Audio source: mic[:NAME], tone[:HZ], or a .wav file.
    #[arg(long, default_value = "mic", value_name = "SOURCE", value_parser = AudioSpec::parse)]
    pub(crate) audio: AudioSpec,
    /// Send no audio.
    #[arg(long, conflicts_with = "no_video")]
    pub(crate) no_audio: bool,
    /// Send no video.
    #[arg(long)]
    pub(crate) no_video: bool,
    /// Picture width for camera and testsrc.
    #[arg(long, default_value_t = 640)]
    pub(crate) width: u32,
    /// Picture height for camera and testsrc.
    #[arg(long, default_value_t = 480)]
    pub(crate) height: u32,
    /// Frame rate for camera and testsrc.
    #[arg(long, default_value_t = 30.0, value_parser = parse_fps)]
    pub(crate) fps: f64,
    /// H.264 bitrate, bits per second (k and M suffixes work).
    #[arg(long, value_parser = parse_bitrate, default_value = "1M")]
    pub(crate) video_bitrate: u32,
    /// Opus bitrate, bits per second.
    #[arg(long, value_parser = parse_bitrate, default_value = "48k")]
    pub(crate) audio_bitrate: u32,
    /// What gives way when the picture needs more bits than the path carries (the encoder's
    /// QP says so): balanced halves the frame rate, then the size, alternating;
    /// maintain-framerate only the size; maintain-resolution only the frame rate.
    #[arg(
        long,
        default_value = "balanced",
        value_name = "PREFERENCE",
        value_parser = PossibleValuesParser::new(Degradation::NAMES)
            .map(|s| Degradation::parse(&s).unwrap_or_default()),
    )]
    pub(crate) degradation: Degradation,
    /// Frames between keyframes (a keyframe is also sent whenever a receiver asks).
    #[arg(long, default_value_t = 60)]
    pub(crate) keyframe_interval: u32,
    /// Start file sources again at their end.
    #[arg(long = "loop")]
    pub(crate) looping: bool,
    /// Unpublish after this long; default: until Ctrl-C or the end of the sources.
    #[arg(long, value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Per-track figures this often on stderr (bitrate, frame rate, size, packets, loss, jitter,
    /// round trip, NACKs, PLIs, keyframes, freezes; `stats` lines with --json) and a summary at
    /// the end; 0: the summary only.
    #[arg(long, value_name = "INTERVAL", value_parser = parse_duration_or_zero)]
    pub(crate) stats_interval: Option<Duration>,
    /// Events and the result as JSON lines on stdout (docs/json.md).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `--fps`: 1 to 120 pictures a second.
fn parse_fps(s: &str) -> Result<f64, String> {
    let fps: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    match (1.0..=120.0).contains(&fps) {
        true => Ok(fps),
        false => Err(format!("{fps}: must be 1 to 120")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        publish: PublishArgs,
    }

    fn parse(args: &[&str]) -> Result<PublishArgs, clap::Error> {
        let argv = ["vcall", "--url", "ws://127.0.0.1:1", "--token", "t"];
        Cli::try_parse_from(argv.iter().chain(args)).map(|c| c.publish)
    }

    #[test]
    fn sources_and_rates_are_settled_before_anything_runs() {
        let a = parse(&["--video", "clip.Y4M", "--audio", "tone:1000", "--fps", "15"]).unwrap();
        assert_eq!(a.video, VideoSpec::Y4m("clip.Y4M".into()));
        assert_eq!(a.audio, AudioSpec::Tone(1000.0));
        assert_eq!(a.fps, 15.0);
        let a = parse(&[]).unwrap();
        assert_eq!(
            (a.video, a.audio),
            (VideoSpec::Camera(None), AudioSpec::Mic(None))
        );
        for bad in [
            &["--video", "clip.mp4"][..],
            &["--audio", "tone:5"],
            &["--fps", "0"],
            &["--fps", "121"],
            &["--fps", "fast"],
            &["--no-audio", "--no-video"],
            &["--video-bitrate", "1"],
        ] {
            let e = parse(bad).expect_err(&format!("{bad:?} accepted"));
            assert_eq!(e.exit_code(), 2, "{bad:?}: {e}");
        }
    }
}
