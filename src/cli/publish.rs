//! `vcall publish`'s flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};

use crate::congestion::Degradation;
use crate::media::sources::{AudioSpec, Transcode, VideoSpec};
use crate::vocab::Codec;

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
    /// testsrc:calm: a mostly still picture, as a camera on a calm scene), a media file (MP4,
    /// MOV, MKV, WebM, Ogg, IVF, …: its video; see --transcode), a .y4m file, or - for Y4M on
    /// stdin.
    #[arg(long, default_value = "camera", value_name = "SOURCE", value_parser = VideoSpec::parse)]
    pub(crate) video: VideoSpec,
    /// Audio source: mic[:NAME], tone[:HZ], or a media file (its sound; WAV, MP4, MKV,
    /// WebM, Ogg, MP3, FLAC, …).
    #[arg(long, default_value = "mic", value_name = "SOURCE", value_parser = AudioSpec::parse)]
    pub(crate) audio: AudioSpec,
    /// A media file's video and audio (whichever it has), at its own timing: --video FILE
    /// --audio FILE in one.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["video", "audio"])]
    pub(crate) file: Option<PathBuf>,
    /// A media file's video: auto sends it as it is (no encoding cost) while that serves
    /// the far end, and encodes it to H.264 while a keyframe is asked for that the file has
    /// not within 200 ms, while the path carries less than the file's bitrate, before
    /// --start's first keyframe, and always for codecs other than H.264 and VP8 or with
    /// B-frames; always encodes it; never sends it as it is (H.264 or VP8 without B-frames).
    #[arg(
        long,
        default_value = "auto",
        value_name = "WHEN",
        value_parser = PossibleValuesParser::new(Transcode::NAMES)
            .map(|s| Transcode::parse(&s).unwrap_or_default()),
    )]
    pub(crate) transcode: Transcode,
    /// Media files: start this far in (90, 1:30, 1:02:03.5, 500ms).
    #[arg(long, value_name = "TIME", value_parser = parse_position)]
    pub(crate) start: Option<Duration>,
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
    /// The codec video is encoded to: auto offers H.264, VP8 then VP9 and encodes to the one
    /// the far end chooses (a VP8-only Janus room gets VP8); h264, vp8 or vp9 offers that one
    /// only.
    /// A media file sent as it is goes in its own codec.
    #[arg(long, value_enum, default_value_t = VideoCodec::Auto, value_name = "CODEC")]
    pub(crate) video_codec: VideoCodec,
    /// Send the video as this many simulcast layers (2 or 3; raw pictures only: the test
    /// pattern, a camera, y4m): the full size at --video-bitrate, then half the size at a
    /// third of that, then a quarter at a ninth, each its own encoding with its own rid, so
    /// that a forwarding server gives each viewer the one its path carries. When the path
    /// narrows the largest layer pauses first.
    #[arg(long, value_name = "LAYERS", value_parser = clap::value_parser!(u8).range(2..=3))]
    pub(crate) simulcast: Option<u8>,
    /// Video bitrate, bits per second (k and M suffixes work).
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
    /// Start file sources again at their end (at --start).
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

/// A position in a file: seconds (90, 1.5), [H:]M:S (1:30, 1:02:03.5), or a duration (500ms).
fn parse_position(s: &str) -> Result<Duration, String> {
    if s.contains(':') {
        let mut secs = 0.0;
        for (i, part) in s.split(':').enumerate() {
            if i > 2 {
                return Err(format!("{s:?}: expected seconds, M:S or H:M:S"));
            }
            let v: f64 = part
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0 && (i == 0 || *v < 60.0))
                .ok_or_else(|| format!("{s:?}: expected seconds, M:S or H:M:S"))?;
            secs = secs * 60.0 + v;
        }
        return Ok(Duration::from_secs_f64(secs));
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Duration::from_secs_f64(v)),
        _ => parse_duration_or_zero(s),
    }
}

/// `--video-codec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum VideoCodec {
    /// H.264, VP8 or VP9, as the far end chooses
    Auto,
    /// H.264 (openh264) only
    H264,
    /// VP8 (libvpx) only
    Vp8,
    /// VP9 (libvpx, profile 0) only
    Vp9,
}

impl VideoCodec {
    /// The codec asked for; `None`: the far end chooses.
    pub(crate) fn codec(self) -> Option<Codec> {
        match self {
            VideoCodec::Auto => None,
            VideoCodec::H264 => Some(Codec::H264),
            VideoCodec::Vp8 => Some(Codec::Vp8),
            VideoCodec::Vp9 => Some(Codec::Vp9),
        }
    }
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
        let a = parse(&[
            "--file",
            "talk.mp4",
            "--start",
            "1:30",
            "--transcode",
            "never",
        ])
        .unwrap();
        assert_eq!(a.file, Some("talk.mp4".into()));
        assert_eq!(a.start, Some(Duration::from_secs(90)));
        assert_eq!(a.transcode, Transcode::Never);
        let a = parse(&["--video", "clip.webm", "--audio", "talk.ogg"]).unwrap();
        assert_eq!(a.video, VideoSpec::File("clip.webm".into()));
        assert_eq!(a.audio, AudioSpec::File("talk.ogg".into()));
        for bad in [
            &["--file", "a.mp4", "--video", "testsrc"][..],
            &["--start", "1:75"],
            &["--start", "-3"],
            &["--transcode", "sometimes"],
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

    #[test]
    fn a_position_is_seconds_or_minutes_and_seconds_or_a_duration() {
        let secs = |s| parse_position(s).map(|d| d.as_secs_f64());
        assert_eq!(secs("90"), Ok(90.0));
        assert_eq!(secs("1:30"), Ok(90.0));
        assert_eq!(secs("1:02:03.5"), Ok(3723.5));
        assert_eq!(secs("500ms"), Ok(0.5));
        for bad in ["1:2:3:4", "1:60", "x", "-1", ":"] {
            assert!(parse_position(bad).is_err(), "{bad}");
        }
    }
}
