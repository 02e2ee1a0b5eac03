//! A sending section that lets the far end choose among several codecs: the offer lists
//! them in order of preference, and before the answer is applied the section's track takes
//! the codec the answer put first, so that the stack binds its reports, NACK responses and
//! congestion feedback to what is actually sent (it binds them by the track's codec when the
//! answer is applied, and never again).

use std::sync::{Arc, Mutex};

use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::RTCPeerConnection;
use rtc::rtp_transceiver::RTCRtpTransceiverId;

use super::{CodecExt, PeerError, webrtc_err};
use crate::vocab::Codec;

/// A section whose codec the answer picks.
pub(crate) struct Choice {
    pub(crate) transceiver: RTCRtpTransceiverId,
    /// What it offers, the preferred first.
    pub(crate) codecs: Vec<Codec>,
    /// The codec its track has (the local track reads it).
    pub(crate) chosen: Arc<Mutex<Codec>>,
    /// Its track with another codec (same ids and SSRC).
    pub(crate) track: Box<dyn Fn(Codec) -> MediaStreamTrack + Send>,
}

impl Choice {
    /// Gives the section's track the codec `answer` chose for it, when that is another of
    /// those offered. A section the answer rejected, or answered with none of them, keeps
    /// its codec (sending on it then fails as not negotiated).
    pub(crate) fn follow(self, pc: &mut RTCPeerConnection, answer: &str) -> Result<(), PeerError> {
        let Some(mid) = pc
            .rtp_transceiver(self.transceiver)
            .and_then(|t| t.mid().clone())
        else {
            return Ok(());
        };
        let Some(picked) = answered_codec(answer, &mid) else {
            return Ok(());
        };
        let mut chosen = self.chosen.lock().expect("codec lock");
        if picked == *chosen || !self.codecs.contains(&picked) {
            return Ok(());
        }
        let mut sender = pc
            .rtp_sender(self.transceiver.into())
            .ok_or(PeerError::Missing("sender for a send section"))?;
        sender
            .replace_track((self.track)(picked))
            .map_err(webrtc_err)?;
        tracing::debug!(
            mid,
            codec = picked.mime(),
            "the far end chose this section's codec"
        );
        *chosen = picked;
        Ok(())
    }
}

/// The codec `sdp` puts first in the section `mid`, when it is one vcall knows and the
/// section is not rejected (port 0).
pub(crate) fn answered_codec(sdp: &str, mid: &str) -> Option<Codec> {
    let tag = format!("a=mid:{mid}");
    let section = sdp
        .split("\nm=")
        .skip(1)
        .find(|s| s.lines().any(|l| l.trim_end() == tag))?;
    // `video 9 UDP/TLS/RTP/SAVPF 96 102 …`
    let mut line = section.lines().next()?.split_whitespace();
    let (kind, port, pt) = (line.next()?, line.next()?, line.nth(1)?);
    if port == "0" {
        return None;
    }
    let rtpmap = format!("a=rtpmap:{pt} ");
    let name = section
        .lines()
        .find_map(|l| l.trim_end().strip_prefix(rtpmap.as_str()))?
        .split('/')
        .next()?;
    Codec::from_mime(&format!("{kind}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 100 102\r\na=mid:1\r\na=rtpmap:100 VP8/90000\r\n\
        a=rtpmap:102 H264/90000\r\n\
        m=video 0 UDP/TLS/RTP/SAVPF 102\r\na=mid:2\r\na=rtpmap:102 H264/90000\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 49\r\na=mid:3\r\na=rtpmap:49 H265/90000\r\n";

    #[test]
    fn the_answer_picks_its_first_codec_of_a_section_it_accepts() {
        assert_eq!(answered_codec(ANSWER, "0"), Some(Codec::Opus));
        assert_eq!(
            answered_codec(ANSWER, "1"),
            Some(Codec::Vp8),
            "its own payload type"
        );
        assert_eq!(answered_codec(ANSWER, "2"), None, "a rejected section");
        assert_eq!(
            answered_codec(ANSWER, "3"),
            None,
            "a codec vcall does not know"
        );
        assert_eq!(answered_codec(ANSWER, "4"), None, "no such section");
        assert_eq!(answered_codec(ANSWER, "a=mid:1"), None);
    }
}
