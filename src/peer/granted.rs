//! Which RTP a server's connection may receive, read from the far end's description: the
//! SSRCs its sending sections declare. Media under any other SSRC is dropped before the
//! WebRTC stack reads it, and counted: a subscriber sending media it was not granted, or a peer sending
//! under an SSRC another connection owns. A far end that sends in a section without
//! declaring its SSRCs (simulcast by `rid`, some WHIP clients) leaves the stack to tell, as
//! before.

use std::collections::HashSet;

/// What a connection's far end may send, by SSRC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Granted {
    /// Anything: no description yet, or a sending section without SSRCs.
    Any,
    /// Only these SSRCs (none: the far end sends nothing, a subscriber).
    Only(HashSet<u32>),
}

impl Granted {
    /// From the far end's description `sdp`: the SSRCs of the audio and video sections it
    /// sends in (`sendrecv`, `sendonly`, not rejected).
    pub(crate) fn from_sdp(sdp: &str) -> Granted {
        let mut granted = HashSet::new();
        let mut section: Option<Section> = None;
        let close = |s: Option<Section>, granted: &mut HashSet<u32>| -> bool {
            match s {
                Some(s) if s.sends && !s.rejected => {
                    if s.ssrcs.is_empty() {
                        return false;
                    }
                    granted.extend(s.ssrcs);
                    true
                }
                _ => true,
            }
        };
        for line in sdp.lines().map(str::trim_end) {
            if let Some(m) = line.strip_prefix("m=") {
                if !close(section.take(), &mut granted) {
                    return Granted::Any;
                }
                let mut f = m.split_whitespace();
                let media = f.next().unwrap_or("");
                if media == "audio" || media == "video" {
                    section = Some(Section {
                        sends: true,
                        rejected: f.next() == Some("0"),
                        ssrcs: Vec::new(),
                    });
                }
                continue;
            }
            let Some(s) = section.as_mut() else { continue };
            match line {
                "a=recvonly" | "a=inactive" => s.sends = false,
                "a=sendrecv" | "a=sendonly" => s.sends = true,
                _ => {
                    if let Some(ssrc) = line
                        .strip_prefix("a=ssrc:")
                        .and_then(|r| r.split_whitespace().next())
                        .and_then(|n| n.parse().ok())
                    {
                        s.ssrcs.push(ssrc);
                    }
                }
            }
        }
        match close(section, &mut granted) {
            true => Granted::Only(granted),
            false => Granted::Any,
        }
    }

    /// Whether a datagram may go on to the stack: anything but RTP under an SSRC not granted.
    pub(crate) fn admits(&self, datagram: &[u8]) -> bool {
        match self {
            Granted::Any => true,
            Granted::Only(ssrcs) => rtp_ssrc(datagram).is_none_or(|s| ssrcs.contains(&s)),
        }
    }
}

struct Section {
    sends: bool,
    rejected: bool,
    ssrcs: Vec<u32>,
}

/// The SSRC of an (S)RTP packet, clear in its header; `None` for anything else: STUN, DTLS,
/// RTCP (RFC 7983's first byte, RFC 5761's payload types).
fn rtp_ssrc(d: &[u8]) -> Option<u32> {
    if d.len() < 12 || !(128..=191).contains(&d[0]) || (192..=223).contains(&d[1]) {
        return None;
    }
    Some(u32::from_be_bytes([d[8], d[9], d[10], d[11]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(ssrc: u32) -> Vec<u8> {
        let mut p = vec![0x80, 96, 0, 1, 0, 0, 0, 0];
        p.extend(ssrc.to_be_bytes());
        p.extend([0; 20]);
        p
    }

    const PUBLISHER: &str = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendonly\r\n\
        a=ssrc:11 cname:x\r\nm=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=sendrecv\r\n\
        a=ssrc-group:FID 22 23\r\na=ssrc:22 cname:x\r\na=ssrc:23 cname:x\r\n";

    #[test]
    fn a_publisher_may_send_what_its_sending_sections_declare_and_rtcp() {
        let g = Granted::from_sdp(PUBLISHER);
        assert_eq!(g, Granted::Only(HashSet::from([11, 22, 23])));
        assert!(g.admits(&rtp(22)) && g.admits(&rtp(23)) && g.admits(&rtp(11)));
        assert!(!g.admits(&rtp(7)));
        let mut rtcp = rtp(7);
        rtcp[1] = 200; // a sender report
        assert!(g.admits(&rtcp));
        assert!(g.admits(&[0, 1, 0, 0]), "STUN");
        assert!(g.admits(&[22, 254, 253]), "DTLS");
    }

    #[test]
    fn a_subscriber_sends_nothing_whatever_its_receiving_sections_declare() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=recvonly\r\na=ssrc:5 cname:y\r\n\
            m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\na=ssrc:6 cname:y\r\n\
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n";
        let g = Granted::from_sdp(sdp);
        assert_eq!(g, Granted::Only(HashSet::new()));
        assert!(!g.admits(&rtp(5)) && !g.admits(&rtp(6)));
    }

    #[test]
    fn a_sending_section_without_ssrcs_leaves_it_to_the_stack() {
        let sdp = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\na=rid:h send\r\n\
            m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ssrc:1 cname:z\r\n";
        assert_eq!(Granted::from_sdp(sdp), Granted::Any);
        assert!(Granted::Any.admits(&rtp(99)));
    }
}
