//! The only module that knows webrtc-rs: peer connections, local tracks that take RTP packets,
//! remote tracks that yield them, and keyframe requests in both directions.
//!
//! Everything else in vcall sees [`Peer`], [`LocalTrack`], [`RemoteTrack`] and [`Rtp`].
//! Signaling is not done here: a peer produces and consumes SDP strings. It gathers all of its
//! candidates before it hands out a description, so one message carries all, except where
//! the far end takes candidates trickled (WHIP/WHEP: `create_offer_within`, `trickle`).

mod choice;
pub mod counts;
mod eager;
mod engine;
mod flight;
mod granted;
mod impaired;
mod keys;
mod mux;
mod nack;
mod outgoing;
mod path;
mod rate;
mod resend;
mod seal;
mod silence;
mod tcp;
pub(crate) mod turn;
mod udp;

pub use engine::Engine;
pub use rate::SendRate;
pub(crate) use rate::{SendEstimate, SendEstimates};
#[cfg(target_os = "linux")]
pub use udp::{SEND_MANY_MAX, send_many};

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc::interceptor::{Attribute, Interceptor, Packet, Slot, StreamInfo, TaggedPacket};
use rtc::interceptor::{ReceiverReportBuilder, TwccReceiverBuilder};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::{
    Registry, configure_simulcast_extension_headers,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MediaEngine,
};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceServer;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
    TYPE_RTCP_FB_TRANSPORT_CC,
};
use rtc::rtp_transceiver::{RTCRtpSenderId, RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use rtc::sansio::Protocol;
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
    RTCPeerConnectionState,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::impair::Impairment;
use crate::vocab::{Codec, Kind, Rtp};

/// What can go wrong with a peer connection.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The WebRTC stack's own error, kept whole (and said in the message, so a log line
    /// that prints only this error loses nothing).
    #[error("WebRTC: {0}")]
    WebRtc(#[source] webrtc::error::Error),
    #[error("ICE gathering did not complete within {0:?}")]
    GatheringTimeout(Duration),
    #[error("the remote description is not valid SDP: {0}")]
    BadSdp(#[source] webrtc::error::Error),
    #[error("the remote candidate {candidate:?} is not valid: {source}")]
    BadCandidate {
        candidate: String,
        #[source]
        source: webrtc::error::Error,
    },
    #[error(
        "cannot use UDP port {addr} for media (another process has it? --udp-port 0 takes any free one)"
    )]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("media socket: {0}")]
    Io(#[source] std::io::Error),
    #[error("no UDP port free in {lo}-{hi} (--udp-ports) on {ip}")]
    NoFreePort { lo: u16, hi: u16, ip: IpAddr },
    /// It ended failed (or closed) before it connected.
    #[error("ICE/DTLS connection failed")]
    Failed,
    #[error("the peer connection closed")]
    Closed,
    #[error("ICE/DTLS connection not established within {0:?}")]
    ConnectTimeout(Duration),
    #[error("{0} was not negotiated")]
    NotNegotiated(&'static str),
    /// A sending section's answer took none of the codecs it offered.
    #[error("the far end takes none of the codecs offered for {kind} ({offered}){answered}")]
    CodecNotTaken {
        kind: &'static str,
        offered: String,
        /// What it answered with, as `; it answered with …`, or nothing.
        answered: String,
    },
    /// Something the WebRTC stack should always give was missing.
    #[error("the WebRTC stack gave no {0}")]
    Missing(&'static str),
    /// Asked of a connection that cannot do it.
    #[error("{0}")]
    Unsupported(&'static str),
    /// An offer named a section for a new subscription that still carries another one.
    #[error("section {0} is still in use")]
    SectionInUse(String),
    /// A subscription without an offer named a section that no ended leg of the same codec
    /// left (the client offers then).
    #[error("section {0} is not one an ended subscription of the same codec left")]
    NotKept(String),
}

fn webrtc_err(e: webrtc::error::Error) -> PeerError {
    PeerError::WebRtc(e)
}

/// Whether another socket holds `port` on `ip` (webrtc-rs logs a failed bind and reports
/// only that it has no socket, so the port is asked of the system directly).
fn port_taken(ip: IpAddr, port: u16) -> bool {
    matches!(
        std::net::UdpSocket::bind((ip, port)),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse
    )
}

/// What webrtc-rs needs to know of a codec.
trait CodecExt {
    fn from_mime(mime: &str) -> Option<Codec>;
    fn payload_type(self) -> u8;
    fn rtp_codec(self) -> RTCRtpCodec;
}

impl CodecExt for Codec {
    fn from_mime(mime: &str) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.mime().eq_ignore_ascii_case(mime))
    }

    /// Payload type vcall offers for this codec.
    fn payload_type(self) -> u8 {
        match self {
            Codec::H264 => 102,
            Codec::Vp8 => 96,
            Codec::Vp9 => 98,
            Codec::Av1 => 45,
            Codec::Opus => 111,
        }
    }

    fn rtp_codec(self) -> RTCRtpCodec {
        let video_fb = || {
            [("nack", ""), ("nack", "pli"), ("ccm", "fir")]
                .into_iter()
                .map(|(typ, parameter)| RTCPFeedback {
                    typ: typ.to_owned(),
                    parameter: parameter.to_owned(),
                })
                .collect()
        };
        match self {
            Codec::H264 => RTCRtpCodec {
                mime_type: MIME_TYPE_H264.to_owned(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line:
                    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
                        .to_owned(),
                rtcp_feedback: video_fb(),
            },
            Codec::Vp8 | Codec::Vp9 | Codec::Av1 => RTCRtpCodec {
                mime_type: self.mime().to_owned(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line: match self {
                    Codec::Vp9 => "profile-id=0",
                    _ => "",
                }
                .to_owned(),
                rtcp_feedback: video_fb(),
            },
            Codec::Opus => RTCRtpCodec {
                mime_type: MIME_TYPE_OPUS.to_owned(),
                clock_rate: 48_000,
                channels: 2,
                sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
                rtcp_feedback: vec![],
            },
        }
    }
}

/// What a sending section does besides sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    SendOnly,
    /// Also receives what the far end sends back in it (an echo service's answer).
    Echo,
}

/// How a peer binds its sockets and finds its way out.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Address the UDP socket binds; 127.0.0.1 gives loopback candidates, 0.0.0.0 all host ones.
    pub bind_ip: IpAddr,
    /// STUN/TURN URLs (`stun:host:port`, `turn:user:pass@host:port`).
    pub ice_servers: Vec<String>,
    /// The network the media goes through: the real one, or one impaired on purpose.
    pub network: Network,
    /// The UDP ports the socket may take (inclusive); any free one when `None`.
    pub ports: Option<(u16, u16)>,
    /// The address host candidates advertise instead of the bound one (1:1 NAT).
    pub public_ip: Option<IpAddr>,
    /// The DTLS certificate (see [`DtlsCertificate`]); a new ECDSA one when `None`.
    pub certificate: Option<DtlsCertificate>,
    /// Only relayed candidates (TURN): `--ice-transport relay`.
    pub relay_only: bool,
    /// The range congestion control keeps what this connection sends in.
    pub send_rate: SendRate,
    /// The media engine whose shared sockets carry this connection (`bind_ip`, `ports` and
    /// `network` are then the engine's); its own socket and driver task when `None`.
    pub engine: Option<Engine>,
    /// ICE-lite (RFC 8445 2.5): host candidates only, checks answered but never made, so the
    /// far end is always the controlling agent and nominates as soon as a check succeeds.
    /// For a server with a known address.
    pub ice_lite: bool,
}

impl PeerConfig {
    /// Whether a TURN server is among its ICE servers.
    pub(crate) fn has_turn(&self) -> bool {
        self.ice_servers.iter().any(|u| u.starts_with("turn:"))
    }
}

/// A DTLS certificate and its key, from a PEM file: for peers that take only RSA cipher
/// suites (the suite follows the DTLS server's certificate, and the one webrtc-rs makes
/// itself is ECDSA; it cannot make RSA keys).
#[derive(Clone)]
pub struct DtlsCertificate(rtc::peer_connection::certificate::RTCCertificate);

impl std::fmt::Debug for DtlsCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DtlsCertificate(..)")
    }
}

impl DtlsCertificate {
    /// Reads a PEM file holding a PKCS#8 private key (`BEGIN PRIVATE KEY`: RSA, ECDSA P-256
    /// or Ed25519) and its certificate.
    pub(crate) fn from_pem(text: &str) -> Result<DtlsCertificate, String> {
        let block = |tag: &str| -> Vec<String> {
            let (begin, end) = (
                format!("-----BEGIN {tag}-----"),
                format!("-----END {tag}-----"),
            );
            let mut found = Vec::new();
            let mut rest = text;
            while let Some(start) = rest.find(&begin) {
                let Some(len) = rest[start..].find(&end) else {
                    break;
                };
                let body = &rest[start + begin.len()..start + len];
                found.push(body.trim().to_owned());
                rest = &rest[start + len + end.len()..];
            }
            found
        };
        let keys = block("PRIVATE KEY");
        let certs = block("CERTIFICATE");
        if keys.len() != 1 || certs.is_empty() {
            return Err(format!(
                "expected one PKCS#8 private key (BEGIN PRIVATE KEY) and its certificate, found {} key(s) and {} certificate(s); `openssl pkcs8 -topk8 -nocrypt` converts other keys",
                keys.len(),
                certs.len()
            ));
        }
        // webrtc-rs's own PEM layout: the key first, under the tag PRIVATE_KEY.
        let mut pem = format!(
            "-----BEGIN PRIVATE_KEY-----\n{}\n-----END PRIVATE_KEY-----\n",
            keys[0]
        );
        for c in &certs {
            pem.push_str(&format!(
                "-----BEGIN CERTIFICATE-----\n{c}\n-----END CERTIFICATE-----\n"
            ));
        }
        let provider = rtc::crypto::default_provider().map_err(|e| e.to_string())?;
        let cert = rtc::dtls::crypto::Certificate::from_pem(&pem, provider.crypto())
            .map_err(|e| format!("not a usable key and certificate: {e}"))?;
        // WebRTC certificates are self-signed and checked by fingerprint, so their own
        // validity dates do not matter; this one is kept for as long as the process runs.
        let expires = std::time::SystemTime::now() + Duration::from_secs(365 * 24 * 3600);
        Ok(DtlsCertificate(
            rtc::peer_connection::certificate::RTCCertificate::from_existing(cert, expires),
        ))
    }
}

/// The network a process's peer connections use: every connection made with one `Network`
/// shares its impairment and the start its outages are timed from.
#[derive(Debug, Clone, Default)]
pub struct Network(Option<Arc<impaired::ImpairedRuntime>>);

impl Network {
    /// The real network when `spec` is `None`; else one impaired as `spec` says, from now.
    pub(crate) fn new(spec: Option<&Impairment>) -> Network {
        Network(spec.map(|spec| {
            tracing::info!("impairing media: {spec} (repeat a run with its seed)");
            Arc::new(impaired::ImpairedRuntime::new(spec.clone()))
        }))
    }
}

/// Connection state changes worth telling the user about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerState {
    New,
    Connected,
    /// The media path stopped answering; it may come back (or be restarted).
    Disconnected,
    Failed,
    Closed,
}

impl PeerState {
    /// The state worth telling of the stack's `state`, logged; `None` for the others.
    fn told(state: RTCPeerConnectionState) -> Option<PeerState> {
        tracing::debug!("peer connection state: {state}");
        Some(match state {
            RTCPeerConnectionState::Connected => PeerState::Connected,
            RTCPeerConnectionState::Disconnected => PeerState::Disconnected,
            RTCPeerConnectionState::Failed => PeerState::Failed,
            RTCPeerConnectionState::Closed => PeerState::Closed,
            _ => return None,
        })
    }
}

struct Handler {
    gathered: watch::Sender<bool>,
    /// Every local candidate so far (`a=candidate:` values), for trickling.
    local: watch::Sender<Vec<String>>,
    state: watch::Sender<PeerState>,
    tracks: mpsc::UnboundedSender<RemoteTrack>,
    /// The connection itself, to find a new track's `mid` (set once it is built).
    pc: std::sync::OnceLock<std::sync::Weak<dyn PeerConnection>>,
}

impl Handler {
    /// The `mid` of the transceiver that receives `track`.
    async fn mid_of(&self, track: &Arc<dyn TrackRemote>) -> Option<String> {
        let pc = self.pc.get()?.upgrade()?;
        for t in pc.get_transceivers().await {
            let Ok(Some(receiver)) = t.receiver().await else {
                continue;
            };
            if std::ptr::addr_eq(Arc::as_ptr(receiver.track()), Arc::as_ptr(track)) {
                return t.mid().await.ok().flatten();
            }
        }
        None
    }
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        let _ = self.gathered.send(state == RTCIceGatheringState::Complete);
    }

    async fn on_ice_candidate(&self, event: webrtc::peer_connection::RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            let value = init
                .candidate
                .strip_prefix("candidate:")
                .unwrap_or(&init.candidate)
                .to_owned();
            self.local.send_modify(|all| all.push(value));
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        if let Some(s) = PeerState::told(state) {
            let _ = self.state.send(s);
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let Some(ssrc) = track.ssrcs().await.first().copied() else {
            tracing::warn!("remote track without SSRC ignored");
            return;
        };
        let mime = track
            .codec(ssrc)
            .await
            .map(|c| c.mime_type)
            .unwrap_or_default();
        let Some(codec) = Codec::from_mime(&mime) else {
            tracing::warn!("remote track with unsupported codec {mime:?} ignored");
            return;
        };
        let remote = RemoteTrack {
            codec,
            ssrc,
            mid: self.mid_of(&track).await,
            stream_id: track.stream_id().await.to_string(),
            track_id: track.track_id().await.to_string(),
            rid: None,
            layers: 0,
            inner: Inner::Driver(track),
        };
        tracing::debug!(mid = ?remote.mid, stream = %remote.stream_id, ?codec, "remote track");
        let _ = self.tracks.send(remote);
    }
}

/// What the far end's RTCP said about one stream we send.
#[derive(Debug, Default, Clone, Copy)]
struct Feedback {
    nacks: u32,
    /// PLIs and FIRs.
    plis: u32,
    /// From the last reception report: cumulative packets lost and jitter (RTP ticks).
    lost: i64,
    jitter: u32,
}

/// Feedback per SSRC, written by [`RtcpTap`], read by [`Peer::stats`].
type FeedbackLog = Arc<std::sync::Mutex<std::collections::HashMap<u32, Feedback>>>;

/// Sees the RTCP that arrives: marks keyframe requests (PLI, FIR) so that they reach the
/// application's local tracks, and counts the far end's feedback on what we send (webrtc-rs
/// 0.21.1 leaves its own send-side counters of it at zero).
struct RtcpTap {
    feedback: FeedbackLog,
    /// Where the far end's REMB goes.
    estimates: Option<SendEstimates>,
}

impl RtcpTap {
    /// Notes `packets`; whether one of them asks for a keyframe.
    fn note(&self, packets: &[Box<dyn rtc::rtcp::Packet>]) -> bool {
        let mut log = self.feedback.lock().expect("feedback lock");
        let mut keyframe = false;
        for p in packets {
            let any = p.as_any();
            for r in resend::report_blocks(p.as_ref()) {
                let f = log.entry(r.ssrc).or_default();
                // total_lost is a signed 24-bit field.
                f.lost = ((r.total_lost << 8) as i32 >> 8) as i64;
                f.jitter = r.jitter;
            }
            if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
                log.entry(pli.media_ssrc).or_default().plis += 1;
                keyframe = true;
            } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
                for e in &fir.fir {
                    log.entry(e.ssrc).or_default().plis += 1;
                }
                keyframe = true;
            } else if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
                log.entry(nack.media_ssrc).or_default().nacks += 1;
            } else if let Some(remb) = any.downcast_ref::<ReceiverEstimatedMaximumBitrate>()
                && let Some(estimates) = &self.estimates
            {
                estimates.remb(f64::from(remb.bitrate));
            }
        }
        keyframe
    }
}

/// The SSRCs `packets` ask keyframes of (PLI, FIR).
fn keyframes_asked(packets: &[Box<dyn rtc::rtcp::Packet>]) -> Vec<u32> {
    let mut ssrcs = Vec::new();
    for p in packets {
        let any = p.as_any();
        if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
            ssrcs.push(pli.media_ssrc);
        } else if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
            ssrcs.extend(fir.fir.iter().map(|e| e.ssrc));
        }
    }
    ssrcs
}

impl ReadFilter for RtcpTap {
    fn read(&mut self, mut msg: TaggedPacket) -> Option<TaggedPacket> {
        if let Packet::Rtcp(packets) = &msg.message.packet
            && self.note(packets)
        {
            msg.message.add(Attribute::DeliverToApplication);
        }
        Some(msg)
    }
}

/// An interceptor that looks at what it reads (and may drop it); what it writes passes.
trait ReadFilter: Send + Sync + 'static {
    /// The packet to pass up, or `None` to drop it.
    fn read(&mut self, msg: TaggedPacket) -> Option<TaggedPacket>;
}

/// A [`ReadFilter`] as webrtc-rs's interceptor chain takes it.
struct ReadOnly<F> {
    filter: F,
    read: std::collections::VecDeque<TaggedPacket>,
    write: std::collections::VecDeque<TaggedPacket>,
}

impl<F: ReadFilter> ReadOnly<F> {
    fn new(filter: F) -> ReadOnly<F> {
        ReadOnly {
            filter,
            read: Default::default(),
            write: Default::default(),
        }
    }
}

impl<F: ReadFilter> Protocol<TaggedPacket, TaggedPacket, ()> for ReadOnly<F> {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.read.extend(self.filter.read(msg));
        Ok(())
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.read.pop_front()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.write.pop_front()
    }
}

impl<F: ReadFilter> Interceptor for ReadOnly<F> {
    fn bind_local_stream(&mut self, _: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
}

const GATHER_TIMEOUT: Duration = Duration::from_secs(10);
/// How often ICE runs its checks while connecting. The controlling side nominates a pair
/// that answered at its next check, so this bounds the wait between "a pair works" and
/// "connected" (webrtc-rs's default, 200 ms, was most of vcall's time to first frame on a
/// LAN). Checks stop once connected; keepalives keep their own interval.
const ICE_CHECK_INTERVAL: Duration = Duration::from_millis(20);
/// Checks per candidate pair before it counts as failed: 2 s at ICE_CHECK_INTERVAL, a little
/// more than the 1.4 s webrtc-rs gives by default, so slow paths are not given up sooner.
const ICE_MAX_CHECKS: u16 = 100;

/// How often a connection reports what arrived (transport-wide feedback): libwebrtc's
/// interval at high rates. A sender learns that a path narrowed no sooner than this; webrtc-rs's
/// default, 100 ms, let a narrowed path's queue overflow before a simulcast leg could leave
/// its layer.
const FEEDBACK_INTERVAL: Duration = Duration::from_millis(50);

/// Transport-wide feedback negotiated for audio and video and sent every
/// `FEEDBACK_INTERVAL`, and at once when a frame's packets spread out ([`eager`]).
fn twcc_receiver(registry: Registry, media: &mut MediaEngine) -> Result<Registry, PeerError> {
    for kind in [RtpCodecKind::Video, RtpCodecKind::Audio] {
        media.register_feedback(
            RTCPFeedback {
                typ: TYPE_RTCP_FB_TRANSPORT_CC.to_owned(),
                ..Default::default()
            },
            kind,
        );
        media
            .register_header_extension(
                RTCRtpHeaderExtensionCapability {
                    uri: rtc::sdp::extmap::TRANSPORT_CC_URI.to_owned(),
                },
                kind,
                None,
            )
            .map_err(webrtc_err)?;
    }
    let twcc = TwccReceiverBuilder::new().with_interval(FEEDBACK_INTERVAL);
    Ok(registry.with(
        Slot::TwccReceiver,
        eager::Eager::new(twcc.build(), FEEDBACK_INTERVAL),
    ))
}

/// The interceptors: NACKs sent at once and kept up ([`nack`]), transport-wide feedback
/// every `FEEDBACK_INTERVAL`, receiver reports, and what is sent in one ledger
/// ([`outgoing`]: transport-wide numbers, congestion control within `rate`, NACKs answered,
/// sender reports) that the engine's own sealing shares. Receiver reports and NACKs let received streams that fall silent go
/// ([`silence`]): a connection whose sections carry one stream after another reports only on
/// those still sending.
fn interceptors(
    media: &mut MediaEngine,
    rate: SendRate,
) -> Result<(Registry, SendEstimates, outgoing::Ledger), PeerError> {
    // REMB: what Janus (and vcall serve) use to cap a publisher.
    media.register_feedback(
        RTCPFeedback {
            typ: "goog-remb".into(),
            parameter: String::new(),
        },
        RtpCodecKind::Video,
    );
    for parameter in ["", "pli"] {
        media.register_feedback(
            RTCPFeedback {
                typ: "nack".into(),
                parameter: parameter.into(),
            },
            RtpCodecKind::Video,
        );
    }
    let registry = Registry::new().with(
        Slot::NackGenerator,
        silence::Forgetful::new(nack::NackRequester::new()),
    );
    configure_simulcast_extension_headers(media).map_err(webrtc_err)?;
    let registry = twcc_receiver(registry, media)?;
    let (registry, estimates, estimator) = rate::congestion_control(registry, rate);
    let ledger = outgoing::Ledger::new(estimator);
    let registry = registry
        .with(
            Slot::CongestionControl,
            outgoing::Stage::new(ledger.clone()),
        )
        // Below the ledger, which answers NACKs: reads run from the wire up.
        .with(
            Slot::from(Slot::CongestionControl.slot() * 3 / 4),
            ReadOnly::new(resend::NackGate::new(estimates.clone())),
        )
        .with(
            Slot::ReceiverReport,
            silence::Forgetful::new(ReceiverReportBuilder::new().build()),
        );
    Ok((registry, estimates, ledger))
}

/// One WebRTC peer connection: everything one client sends and receives goes over one, with
/// renegotiation as streams come and go.
pub struct Peer {
    imp: Imp,
    gathered: watch::Receiver<bool>,
    local: watch::Receiver<Vec<String>>,
    state: watch::Receiver<PeerState>,
    feedback: FeedbackLog,
    estimates: SendEstimates,
    /// Held for the whole of one offer/answer exchange, so that exchanges never overlap.
    negotiation: tokio::sync::Mutex<()>,
    /// The STUN/TURN servers it was made with.
    ice_servers: Vec<String>,
    /// The address its host candidates advertise, when not the bound one.
    public_ip: Option<IpAddr>,
    /// Sections whose subscription ended, which the next ones of their kind take before new
    /// sections are added: a connection that sees thousands of streams come and go keeps as
    /// many sections as it ever carried at once.
    free: std::sync::Mutex<Vec<(Kind, String)>>,
    /// The last [`Peer::stats`] and when it was taken, for callers asking together.
    stats: tokio::sync::Mutex<Option<(Instant, PeerStats)>>,
}

/// How old a snapshot of a connection's figures may be to be handed out again: the
/// recordings sharing a connection sample it one after another at each tick, and the
/// stack's snapshot costs in proportion to every stream the connection ever carried.
const STATS_REUSE: Duration = Duration::from_millis(100);

/// Where a peer connection lives.
enum Imp {
    /// webrtc-rs's: its own socket and driver task.
    Driver(Arc<dyn PeerConnection>),
    /// On a media engine's shared sockets.
    Engine { engine: Engine, id: mux::ConnId },
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Imp::Engine { engine, id } = &self.imp {
            engine.close(*id);
        }
    }
}

/// What building a connection takes, the same wherever it lives.
struct Parts {
    media: MediaEngine,
    registry: Registry,
    config: rtc::peer_connection::configuration::RTCConfiguration,
    settings: rtc::peer_connection::configuration::setting_engine::SettingEngine,
    feedback: FeedbackLog,
    estimates: SendEstimates,
    /// Its DTLS exporter's inputs, for the keys vcall derives itself ([`keys`]).
    exported: keys::Exported,
    /// What it sends, which its engine shares with its chain ([`outgoing`]).
    ledger: outgoing::Ledger,
}

impl Parts {
    fn new(config: &PeerConfig) -> Result<Parts, PeerError> {
        let mut media = MediaEngine::default();
        for codec in Codec::ALL {
            let kind = rtp_kind(codec.kind());
            media
                .register_codec(
                    RTCRtpCodecParameters {
                        rtp_codec: codec.rtp_codec(),
                        payload_type: codec.payload_type(),
                    },
                    kind,
                )
                .map_err(webrtc_err)?;
        }
        let (registry, estimates, ledger) = interceptors(&mut media, config.send_rate)?;
        let feedback = FeedbackLog::default();
        let registry = registry.with(
            Slot::from(14_000),
            ReadOnly::new(RtcpTap {
                feedback: Arc::clone(&feedback),
                estimates: Some(estimates.clone()),
            }),
        );
        let ice_servers = config
            .ice_servers
            .iter()
            .map(|url| parse_ice_server(url))
            .collect();
        let mut rtc_config = RTCConfigurationBuilder::new().with_ice_servers(ice_servers);
        if config.relay_only {
            rtc_config = rtc_config.with_ice_transport_policy(
                rtc::peer_connection::configuration::RTCIceTransportPolicy::Relay,
            );
        }
        if let Some(cert) = &config.certificate {
            rtc_config = rtc_config.with_certificates(vec![cert.0.clone()]);
        }
        let (crypto, exported) =
            keys::Recorder::new().map_err(|_| PeerError::Missing("crypto provider"))?;
        // No mDNS: host candidates carry IPs, and no multicast socket is needed (binding one
        // fails with ENODEV on hosts without a multicast route, such as minimal containers).
        let settings =
            rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder::new()
                .with_crypto_provider(crypto)
                .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
                .with_ice_connection_attempts(Some(ICE_CHECK_INTERVAL), Some(ICE_MAX_CHECKS))
                .with_lite(config.ice_lite)
                // An ICE-lite server answering an `actpass` offer takes the DTLS server role:
                // the far end, controlling, knows first that a path works, and as the DTLS
                // client starts the handshake at once (as the server it waited for the
                // server to learn of the nomination, at the far end's next check).
                .with_answering_dtls_role(if config.ice_lite {
                    rtc::peer_connection::transport::RTCDtlsRole::Server
                } else {
                    rtc::peer_connection::transport::RTCDtlsRole::Unspecified
                })
                .build();
        Ok(Parts {
            media,
            registry,
            config: rtc_config.build(),
            settings,
            feedback,
            estimates,
            exported,
            ledger,
        })
    }
}

/// The answer as sent: with the DTLS role the offer left it (RFC 8842), `active` to a
/// `passive` offer and `passive` to an `active` one. webrtc-rs writes its configured
/// answering role whatever the offer said, and takes the right role anyway (the inverse of
/// an explicit one), so only the text is put right: a far end that reads it would otherwise
/// wait for a handshake nobody starts.
fn setup_as_offered(offer: &str, answer: String) -> String {
    let first_setup = |sdp: &str| {
        sdp.lines()
            .find_map(|l| l.trim_end().strip_prefix("a=setup:"))
            .map(str::to_owned)
    };
    let wanted = match first_setup(offer).as_deref() {
        Some("passive") => "active",
        Some("active") => "passive",
        _ => return answer,
    };
    match first_setup(&answer) {
        Some(have) if have != wanted => {
            answer.replace(&format!("a=setup:{have}"), &format!("a=setup:{wanted}"))
        }
        _ => answer,
    }
}

/// The WebRTC stack's name for `kind`.
fn rtp_kind(kind: Kind) -> RtpCodecKind {
    match kind {
        Kind::Audio => RtpCodecKind::Audio,
        Kind::Video => RtpCodecKind::Video,
    }
}

/// The transceiver of section `mid` of an engine's connection.
fn transceiver_by_mid(
    pc: &mut rtc::peer_connection::RTCPeerConnection,
    mid: &str,
) -> Option<rtc::rtp_transceiver::RTCRtpTransceiverId> {
    let ids: Vec<_> = pc.get_transceivers().collect();
    ids.into_iter().find(|&id| {
        pc.rtp_transceiver(id)
            .is_some_and(|t| t.mid().as_deref() == Some(mid))
    })
}

/// The transceiver of section `mid` of a driver's connection.
async fn driver_transceiver(
    pc: &Arc<dyn PeerConnection>,
    mid: &str,
) -> Option<Arc<dyn webrtc::rtp_transceiver::RtpTransceiver>> {
    for t in pc.get_transceivers().await {
        if t.mid().await.ok().flatten().as_deref() == Some(mid) {
            return Some(t);
        }
    }
    None
}

/// Which section a subscriber's leg goes in.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Place {
    /// A new one.
    New,
    /// Section `mid` of the subscriber's offer: one an ended leg left, or a new one.
    Offered(String),
    /// Any section of its kind an ended leg left, else a new one (the server offers).
    AnyFree,
    /// Section `mid`, which an ended leg of the same codec left: the leg goes in it with no
    /// new exchange (the section's RTP stream goes on; nothing negotiated changes).
    Kept(String),
}

impl Place {
    /// The section an ended leg left that this place is, if any; an offered section that
    /// still carries a leg is refused, as is a kept one that no ended leg of `codec` left.
    fn freed_section(
        &self,
        c: &mut engine::Conn,
        codec: Codec,
    ) -> Result<Option<Freed>, PeerError> {
        let kind = codec.kind();
        let i = match self {
            Place::New => return Ok(None),
            Place::Kept(mid) => {
                let sender = transceiver_by_mid(&mut c.pc, mid).map(RTCRtpSenderId::from);
                let kept = c
                    .freed
                    .iter()
                    .position(|f| Some(f.sender) == sender && f.codec == codec);
                kept.ok_or_else(|| PeerError::NotKept(mid.clone()))?
            }
            Place::Offered(mid) => match transceiver_by_mid(&mut c.pc, mid) {
                None => return Ok(None),
                Some(t) => {
                    let s = RTCRtpSenderId::from(t);
                    match c
                        .freed
                        .iter()
                        .position(|f| f.codec.kind() == kind && f.sender == s)
                    {
                        Some(i) => i,
                        None => return Err(PeerError::SectionInUse(mid.clone())),
                    }
                }
            },
            Place::AnyFree => match c.freed.iter().position(|f| f.codec.kind() == kind) {
                Some(i) => i,
                None => return Ok(None),
            },
        };
        Ok(Some(c.freed.remove(i)))
    }
}

/// Where an RTP stream's numbering stands: the sequence number and timestamp it last sent,
/// and when.
pub(crate) type Line = (u16, u32, Instant);

/// A send-only section whose leg ended, kept for the next leg of its kind. That leg goes on
/// as the same RTP stream: its SSRC, its numbering moved on from the last leg's (as Janus
/// keeps a subscriber's section's SSRC). So a connection carries as many RTP streams as it
/// has sections however many legs come and go: what the stack and the far end keep per SSRC
/// (statistics, SRTP state, reports) stays bounded, and the far end's SRTP sees one stream
/// whose sequence numbers never jump back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Freed {
    /// The last leg's codec (its kind, the section's): a leg of the same one may follow
    /// with no new exchange.
    codec: Codec,
    sender: RTCRtpSenderId,
    ssrc: u32,
    /// The last leg's numbering, if anything was sent in the section.
    line: Option<Line>,
}

/// Puts `track` in the section of `freed`, a sender whose track ended: the sender takes the
/// track (which has the section's SSRC), so the stack's state of the section's stream goes
/// on. A section without a sender gets a new one, which keeps its `mid`.
fn reuse_section(
    pc: &mut rtc::peer_connection::RTCPeerConnection,
    freed: RTCRtpSenderId,
    track: MediaStreamTrack,
) -> Result<(), PeerError> {
    if let Some(mut sender) = pc.rtp_sender(freed) {
        return sender.replace_track(track).map_err(webrtc_err);
    }
    // The stack gives a new track the first section of its kind without a sender: only the
    // freed one has none, as every other leg's section keeps its sender.
    let sender = pc.add_track(track).map_err(webrtc_err)?;
    if sender != freed {
        let _ = pc.remove_track(sender);
        return Err(PeerError::Missing("the freed section for a new track"));
    }
    Ok(())
}

/// A new section's transceiver: `direction`, no stream, encodings as negotiated.
fn transceiver_init(direction: RTCRtpTransceiverDirection) -> RTCRtpTransceiverInit {
    RTCRtpTransceiverInit {
        direction,
        streams: vec![],
        send_encodings: vec![],
    }
}

/// What every candidate the engine makes is: UDP, component 1, at `addr`.
fn udp_candidate(addr: SocketAddr) -> rtc::peer_connection::transport::CandidateConfig {
    rtc::peer_connection::transport::CandidateConfig {
        network: "udp".to_owned(),
        address: addr.ip().to_string(),
        port: addr.port(),
        component: 1,
        ..Default::default()
    }
}

/// The plain STUN servers (host, port) of `urls`; `None` when one is something else (TURN,
/// STUN over TLS), which webrtc-rs's driver gathers from.
fn stun_only(urls: &[String]) -> Option<Vec<(String, u16)>> {
    urls.iter()
        .map(|url| {
            let uri = rtc::stun::uri::Uri::parse_uri(url).ok()?;
            (uri.scheme == rtc::stun::uri::SCHEME).then(|| (uri.host, uri.port.unwrap_or(3478)))
        })
        .collect()
}

/// How long a STUN server has to answer (asked again meanwhile) before gathering goes on
/// without it.
const STUN_WAIT: Duration = Duration::from_secs(2);

/// The server-reflexive addresses `servers` see `engine`'s sockets at: (base, mapped).
/// A server that cannot be resolved or does not answer is logged and left out, as browsers
/// do (the host candidates remain).
async fn gather_reflexive(
    engine: &Engine,
    servers: &[(String, u16)],
) -> Vec<(SocketAddr, SocketAddr)> {
    let asks = servers.iter().map(|(host, port)| async move {
        let lookup =
            tokio::time::timeout(STUN_WAIT, tokio::net::lookup_host((host.as_str(), *port)));
        let addrs = match lookup.await {
            Ok(Ok(addrs)) => addrs.collect::<Vec<_>>(),
            Ok(Err(e)) => {
                tracing::warn!("STUN server {host}:{port} not resolved: {e}");
                return Vec::new();
            }
            Err(_) => {
                tracing::warn!("STUN server {host}:{port} not resolved within {STUN_WAIT:?}");
                return Vec::new();
            }
        };
        let families = engine.candidates();
        let Some(addr) = addrs
            .into_iter()
            .find(|a| families.iter().any(|c| c.is_ipv4() == a.is_ipv4()))
        else {
            return Vec::new();
        };
        let found = engine.reflexive(addr, STUN_WAIT).await;
        if found.is_empty() {
            tracing::warn!(
                "STUN server {host}:{port} ({addr}) did not answer within {STUN_WAIT:?}"
            );
        }
        found
    });
    futures_util::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Gathers from the STUN `servers` for connection `id` on `engine` and adds what they give
/// as server-reflexive candidates (told on `local` too, before gathering is said to end),
/// then the end of gathering. A mapped address that is a host candidate's (no NAT on the
/// way) is redundant and left out (RFC 8445 5.1.3).
async fn add_reflexive(
    engine: Engine,
    id: mux::ConnId,
    servers: Vec<(String, u16)>,
    local: watch::Sender<Vec<String>>,
) {
    use rtc::peer_connection::transport::{
        CandidateServerReflexiveConfig, RTCIceCandidate, RTCIceCandidateInit,
    };
    let found = gather_reflexive(&engine, &servers).await;
    let mut seen = engine.candidates().to_vec();
    let _ = engine
        .call(id, move |conn, _| {
            let mut lines = Vec::new();
            for (from, mapped) in found {
                if seen.contains(&mapped) {
                    continue;
                }
                seen.push(mapped);
                let init = CandidateServerReflexiveConfig {
                    base_config: udp_candidate(mapped),
                    rel_addr: from.ip().to_string(),
                    rel_port: from.port(),
                    url: None,
                }
                .new_candidate_server_reflexive()
                .and_then(|c| RTCIceCandidate::from(&c).to_json());
                match init {
                    Ok(init) => {
                        let line = init.candidate.trim_start_matches("candidate:").to_owned();
                        match conn.pc.add_local_candidate(init) {
                            Ok(()) => lines.push(line),
                            Err(e) => tracing::warn!("server-reflexive candidate not added: {e}"),
                        }
                    }
                    Err(e) => tracing::warn!("server-reflexive candidate not made: {e}"),
                }
            }
            local.send_modify(|l| l.extend(lines));
            let _ = conn.pc.add_local_candidate(RTCIceCandidateInit::default());
            let _ = conn.sink.gathered.send(true);
        })
        .await;
}

/// The `a=ice-ufrag:` values of `sdp`.
fn ice_ufrags(sdp: &str) -> impl Iterator<Item = &str> {
    sdp.lines()
        .filter_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
}

/// How many encodings the sender of section `mid` of `sdp` declares (`a=rid:… send`): a
/// simulcast section's layers, paused ones too.
fn send_rids(sdp: &str, mid: &str) -> usize {
    // Each section's lines, from its `m=` line to the next.
    sdp.split("\nm=")
        .skip(1)
        .find(|section| {
            section
                .lines()
                .any(|l| l.trim_end().strip_prefix("a=mid:") == Some(mid))
        })
        .map_or(0, |section| {
            section
                .lines()
                .filter_map(|l| l.trim_end().strip_prefix("a=rid:"))
                .filter(|rid| rid.split_whitespace().nth(1) == Some("send"))
                .count()
        })
}

impl Peer {
    /// Creates a peer connection and the receiver of its remote tracks (each once its first
    /// packet arrives).
    pub async fn new(
        config: &PeerConfig,
    ) -> Result<(Peer, mpsc::UnboundedReceiver<RemoteTrack>), PeerError> {
        if let Some(engine) = &config.engine {
            return Peer::on_engine(config, engine, &[]);
        }
        if !config.relay_only
            && let Some(servers) = stun_only(&config.ice_servers)
        {
            // Host candidates and, from STUN servers, server-reflexive ones: an engine of
            // its own, one socket.
            let engine = Engine::for_one(
                config.bind_ip,
                config.ports,
                config.public_ip,
                &config.network,
            )?;
            return Peer::on_engine(config, &engine, &servers);
        }
        if config
            .network
            .0
            .as_ref()
            .is_some_and(|n| !n.rebinds().is_empty())
        {
            return Err(PeerError::Unsupported(
                "--impair rebind= moves vcall's own media sockets; a connection that gathers \
                 from TURN servers runs on webrtc-rs's sockets, which cannot move",
            ));
        }
        let Some((lo, hi)) = config.ports else {
            return Peer::on_port(config, 0).await;
        };
        // From a random place in the range, the first port that is free.
        let span = u32::from(hi - lo) + 1;
        let start = rand::random::<u32>() % span;
        for i in 0..span {
            let port = lo + ((start + i) % span) as u16;
            if port_taken(config.bind_ip, port) {
                continue;
            }
            match Peer::on_port(config, port).await {
                // Taken between the question and webrtc-rs's bind.
                Err(_) if port_taken(config.bind_ip, port) => continue,
                made => return made,
            }
        }
        Err(PeerError::NoFreePort {
            lo,
            hi,
            ip: config.bind_ip,
        })
    }

    /// A connection on `engine`'s shared sockets, its host candidates (one per socket) added
    /// at once. Without `stun` servers gathering ends there, so every description it makes
    /// carries them all; with them, the server-reflexive candidates they give follow (for a
    /// description made later, or trickled), then the end of gathering.
    fn on_engine(
        config: &PeerConfig,
        engine: &Engine,
        stun: &[(String, u16)],
    ) -> Result<(Peer, mpsc::UnboundedReceiver<RemoteTrack>), PeerError> {
        use rtc::peer_connection::transport::{
            CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
        };
        let parts = Parts::new(config)?;
        let mut pc = rtc::peer_connection::RTCPeerConnectionBuilder::new()
            .with_configuration(parts.config)
            .with_setting_engine(parts.settings)
            .with_media_engine(parts.media)
            .with_interceptor_registry(parts.registry)
            .build(Instant::now())
            .map_err(webrtc_err)?;
        let mut locals = Vec::new();
        // UDP's first: a peer that reads only the first candidate (FFmpeg's WHIP) gets it.
        use rtc::ice::tcp_type::TcpType;
        let udp = engine
            .candidates()
            .iter()
            .map(|a| (udp_candidate(*a), TcpType::Unspecified));
        let tcp = engine.tcp_candidates().iter().map(|a| {
            let mut config = udp_candidate(*a);
            config.network = "tcp".to_owned();
            (config, TcpType::Passive)
        });
        for (base_config, tcp_type) in udp.chain(tcp) {
            let candidate = CandidateHostConfig {
                base_config,
                tcp_type,
            }
            .new_candidate_host()
            .map_err(webrtc_err)?;
            let init = RTCIceCandidate::from(&candidate)
                .to_json()
                .map_err(webrtc_err)?;
            locals.push(
                init.candidate
                    .strip_prefix("candidate:")
                    .unwrap_or(&init.candidate)
                    .to_owned(),
            );
            pc.add_local_candidate(init).map_err(webrtc_err)?;
        }
        if stun.is_empty() {
            pc.add_local_candidate(RTCIceCandidateInit::default())
                .map_err(webrtc_err)?;
        }
        let (gathered_tx, gathered) = watch::channel(stun.is_empty());
        let (local_tx, local) = watch::channel(locals);
        let (state_tx, state) = watch::channel(PeerState::New);
        let (tracks_tx, tracks) = mpsc::unbounded_channel();
        // A server's connections (ICE-lite) take only the RTP their far end declared; a
        // client's take a new stream's first packets even before the answer naming it.
        let checked = config.ice_lite;
        let id = engine.open(
            pc,
            (state_tx, gathered_tx, tracks_tx),
            checked,
            (parts.exported, parts.ledger),
        )?;
        if !stun.is_empty() {
            tokio::spawn(add_reflexive(engine.clone(), id, stun.to_vec(), local_tx));
        }
        Ok((
            Peer {
                imp: Imp::Engine {
                    engine: engine.clone(),
                    id,
                },
                gathered,
                local,
                state,
                feedback: parts.feedback,
                estimates: parts.estimates,
                negotiation: tokio::sync::Mutex::new(()),
                ice_servers: config.ice_servers.clone(),
                public_ip: None,
                free: Default::default(),
                stats: Default::default(),
            },
            tracks,
        ))
    }

    async fn on_port(
        config: &PeerConfig,
        port: u16,
    ) -> Result<(Peer, mpsc::UnboundedReceiver<RemoteTrack>), PeerError> {
        let parts = Parts::new(config)?;
        let (feedback, estimates) = (parts.feedback, parts.estimates);
        let (gathered_tx, gathered) = watch::channel(false);
        let (local_tx, local) = watch::channel(Vec::new());
        let (state_tx, state) = watch::channel(PeerState::New);
        let (tracks_tx, tracks) = mpsc::unbounded_channel();
        let handler = Arc::new(Handler {
            gathered: gathered_tx,
            local: local_tx,
            state: state_tx,
            tracks: tracks_tx,
            pc: std::sync::OnceLock::new(),
        });
        let mut builder = PeerConnectionBuilder::new();
        if let Some(runtime) = &config.network.0 {
            builder =
                builder.with_runtime(Arc::clone(runtime) as Arc<dyn webrtc::runtime::Runtime>);
        }
        let pc = builder
            .with_configuration(parts.config)
            .with_setting_engine(parts.settings)
            .with_media_engine(parts.media)
            .with_interceptor_registry(parts.registry)
            .with_handler(Arc::clone(&handler) as Arc<dyn PeerConnectionEventHandler>)
            .with_udp_addrs(vec![
                std::net::SocketAddr::new(config.bind_ip, port).to_string(),
            ])
            .build()
            .await
            .map_err(webrtc_err)?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let _ = handler.pc.set(Arc::downgrade(&pc));
        Ok((
            Peer {
                imp: Imp::Driver(pc),
                gathered,
                local,
                state,
                feedback,
                estimates,
                negotiation: tokio::sync::Mutex::new(()),
                ice_servers: config.ice_servers.clone(),
                public_ip: config.public_ip,
                free: Default::default(),
                stats: Default::default(),
            },
            tracks,
        ))
    }

    /// Waits until no other offer/answer exchange is under way on this connection; the
    /// exchange is this caller's until the guard is dropped.
    pub(crate) async fn negotiation(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.negotiation.lock().await
    }

    /// Adds a receive-only section for each of `kinds` (or takes one an ended subscription
    /// left, [`Peer::release_sections`]) and makes an offer with them; returns the offer and
    /// the sections' `mid`s, in the order of `kinds`.
    pub async fn offer_to_receive(
        &self,
        kinds: &[Kind],
    ) -> Result<(String, Vec<String>), PeerError> {
        self.offer_to_receive_within(kinds, None).await
    }

    /// [`Peer::offer_to_receive`], the offer going out once gathering completes or `wait` has
    /// passed (`None`: once it completes).
    pub async fn offer_to_receive_within(
        &self,
        kinds: &[Kind],
        wait: Option<Duration>,
    ) -> Result<(String, Vec<String>), PeerError> {
        let sections: Vec<(RtpCodecKind, Option<String>)> = kinds
            .iter()
            .map(|&k| (rtp_kind(k), self.take_free(k, None)))
            .collect();
        let made = self.receive_sections(sections.clone(), wait).await;
        if made.is_err() {
            // Whatever was taken is free again for the next attempt.
            let taken = kinds
                .iter()
                .zip(sections)
                .filter_map(|(&k, (_, m))| Some((k, m?)));
            self.free.lock().expect("free lock").extend(taken);
        }
        made
    }

    async fn receive_sections(
        &self,
        sections: Vec<(RtpCodecKind, Option<String>)>,
        wait: Option<Duration>,
    ) -> Result<(String, Vec<String>), PeerError> {
        let recvonly = || Some(transceiver_init(RTCRtpTransceiverDirection::Recvonly));
        let pc = match &self.imp {
            Imp::Driver(pc) => pc,
            Imp::Engine { engine, id } => {
                return engine
                    .on_pc(*id, move |pc, now| {
                        let mut ids = Vec::new();
                        for (kind, reused) in sections {
                            let id = match reused.and_then(|m| transceiver_by_mid(pc, &m)) {
                                Some(id) => id,
                                None => pc
                                    .add_transceiver_from_kind(kind, recvonly())
                                    .map_err(webrtc_err)?,
                            };
                            ids.push(id);
                        }
                        let offer = pc.create_offer(None).map_err(webrtc_err)?;
                        pc.set_local_description(now, offer).map_err(webrtc_err)?;
                        let mut mids = Vec::new();
                        for id in ids {
                            let mid = pc.rtp_transceiver(id).and_then(|t| t.mid().clone());
                            mids.push(mid.ok_or(PeerError::Missing("mid for a new section"))?);
                        }
                        let sdp = pc.local_description().map(|d| d.sdp);
                        Ok((sdp.ok_or(PeerError::Missing("local description"))?, mids))
                    })
                    .await;
            }
        };
        let mut transceivers = Vec::new();
        for (kind, reused) in sections {
            let old = match reused {
                Some(mid) => driver_transceiver(pc, &mid).await,
                None => None,
            };
            let t = match old {
                Some(t) => t,
                None => pc
                    .add_transceiver_from_kind(kind, recvonly())
                    .await
                    .map_err(webrtc_err)?,
            };
            transceivers.push(t);
        }
        let offer = match wait {
            Some(wait) => self.create_offer_within(wait).await?,
            None => self.create_offer().await?,
        };
        let mut mids = Vec::new();
        for t in transceivers {
            let mid = t.mid().await.map_err(webrtc_err)?;
            mids.push(mid.ok_or(PeerError::Missing("mid for a new section"))?);
        }
        Ok((offer, mids))
    }

    /// The sections `sections` (kind, `mid`), receive-only, carry nothing any more: the
    /// next section of its kind a subscription needs is this one. Their direction stays
    /// (the stack stops a section an offer calls inactive, for good).
    pub fn release_sections(&self, sections: &[(Kind, String)]) {
        self.free
            .lock()
            .expect("free lock")
            .extend_from_slice(sections);
    }

    /// A section an ended subscription left for each of `kinds`, or none (all stay free):
    /// what a subscription with no new exchange goes in.
    pub fn take_free_sections(&self, kinds: &[Kind]) -> Option<Vec<String>> {
        let mut taken: Vec<(Kind, String)> = Vec::new();
        for &kind in kinds {
            match self.take_free(kind, None) {
                Some(mid) => taken.push((kind, mid)),
                None => {
                    self.release_sections(&taken);
                    return None;
                }
            }
        }
        Some(taken.into_iter().map(|(_, mid)| mid).collect())
    }

    /// A section of `kind` an ended subscription left: the one whose `mid` is `named`, or,
    /// without a name, the first.
    fn take_free(&self, kind: Kind, named: Option<&str>) -> Option<String> {
        let mut free = self.free.lock().expect("free lock");
        let i = free
            .iter()
            .position(|(k, m)| *k == kind && named.is_none_or(|n| n == m))?;
        Some(free.remove(i).1)
    }

    /// Adds a section that sends the first of `codecs`, or another of them that the far
    /// end's answer puts first ([`choice`]: on a media engine's connection; a driver's offers
    /// the first only), and returns its writer ([`LocalTrack::codec`] says which once the
    /// answer is applied). Always a new section: receiving sections are never reused for
    /// sending. A send-only section, in an answer, takes the place of a receive-only section
    /// of its kind that the offer added.
    /// Its `msid` is `stream_label` and `{stream_label}-audio` or `-video`, unless
    /// `track_id` names the track.
    pub(crate) async fn add_track(
        &self,
        codecs: &[Codec],
        stream_label: &str,
        track_id: Option<&str>,
        ssrc: u32,
        section: Section,
    ) -> Result<LocalTrack, PeerError> {
        let direction = match section {
            Section::SendOnly => RTCRtpTransceiverDirection::Sendonly,
            Section::Echo => RTCRtpTransceiverDirection::Sendrecv,
        };
        let (&codec, others) = codecs
            .split_first()
            .ok_or(PeerError::Missing("codec for a send section"))?;
        let section = (stream_label, track_id, ssrc, direction, Place::New);
        self.add_section(codec, others.to_vec(), section).await
    }

    /// [`Peer::add_track`] for simulcast video: one send-only section whose encodings are
    /// `layers` (rid, SSRC), each sent with [`LocalTrack::send_layer_frame`] (the section
    /// offers `a=rid` and `a=simulcast`, and each packet names its section and rid in
    /// header extensions, as browsers send it). Only on a media engine's connection.
    pub(crate) async fn add_simulcast_track(
        &self,
        codecs: &[Codec],
        stream_label: &str,
        layers: Vec<(String, u32)>,
    ) -> Result<LocalTrack, PeerError> {
        if matches!(self.imp, Imp::Driver(_)) {
            return Err(PeerError::Missing(
                "simulcast on a connection through TURN (vcall sends simulcast on its own media engine only)",
            ));
        }
        let (&codec, others) = codecs
            .split_first()
            .ok_or(PeerError::Missing("codec for a send section"))?;
        let first = layers.first().map(|l| l.1).unwrap_or_default();
        let direction = RTCRtpTransceiverDirection::Sendonly;
        let section = (stream_label, None, first, direction, Place::New);
        self.add_section_of(codec, others.to_vec(), section, layers)
            .await
    }

    /// [`Peer::add_track`] for a subscriber's leg (send-only): the section it goes in is
    /// `place`, one an ended track left ([`LocalTrack::release`]) when it can be.
    pub(crate) async fn add_leg(
        &self,
        codec: Codec,
        stream_label: &str,
        track_id: Option<&str>,
        ssrc: u32,
        place: Place,
    ) -> Result<LocalTrack, PeerError> {
        let direction = RTCRtpTransceiverDirection::Sendonly;
        let section = (stream_label, track_id, ssrc, direction, place);
        self.add_section(codec, Vec::new(), section).await
    }

    /// Adds a section sending `codec`, or one of `others` the answer chooses.
    async fn add_section(
        &self,
        codec: Codec,
        others: Vec<Codec>,
        section: SectionPlan<'_>,
    ) -> Result<LocalTrack, PeerError> {
        self.add_section_of(codec, others, section, Vec::new())
            .await
    }

    /// [`Peer::add_section`] with simulcast `layers` (rid, SSRC; none: one stream).
    async fn add_section_of(
        &self,
        codec: Codec,
        others: Vec<Codec>,
        (stream_label, track_id, ssrc, direction, place): SectionPlan<'_>,
        layers: Vec<(String, u32)>,
    ) -> Result<LocalTrack, PeerError> {
        let kind = rtp_kind(codec.kind());
        let track_id = track_id.map_or_else(
            || {
                let kind = if kind == RtpCodecKind::Audio {
                    "audio"
                } else {
                    "video"
                };
                format!("{stream_label}-{kind}")
            },
            str::to_owned,
        );
        let stream_label = stream_label.to_owned();
        let encodings = match layers.is_empty() {
            true => vec![(String::new(), None)],
            false => layers.iter().map(|(r, s)| (r.clone(), Some(*s))).collect(),
        };
        let media_track = move |ssrc: u32, codec: Codec| {
            let encodings = encodings
                .iter()
                .map(|(rid, layer)| RTCRtpEncodingParameters {
                    rtp_coding_parameters: RTCRtpCodingParameters {
                        rid: rid.clone(),
                        ssrc: Some(layer.unwrap_or(ssrc)),
                        ..Default::default()
                    },
                    codec: codec.rtp_codec(),
                    ..Default::default()
                })
                .collect();
            MediaStreamTrack::new(
                stream_label.clone(),
                track_id.clone(),
                stream_label.clone(),
                kind,
                encodings,
            )
        };
        let track = {
            let media_track = media_track.clone();
            move |ssrc: u32| media_track(ssrc, codec)
        };
        let chosen = Arc::new(std::sync::Mutex::new(codec));
        // A driver's connection offers the first codec only.
        let offered: Vec<Codec> = match &self.imp {
            Imp::Driver(_) => vec![codec],
            Imp::Engine { .. } => std::iter::once(codec)
                .chain(others.iter().copied())
                .collect(),
        };
        let init = transceiver_init(direction);
        let layer_ssrcs: Vec<u32> = layers.iter().map(|l| l.1).collect();
        let (out, ssrc, line) = match &self.imp {
            Imp::Driver(pc) => {
                // A driver's connection keeps no ended legs' sections.
                if let Place::Kept(mid) = place {
                    return Err(PeerError::NotKept(mid));
                }
                let track = Arc::new(TrackLocalStaticRTP::new(track(ssrc)));
                let transceiver = pc
                    .add_transceiver_from_track(
                        Arc::clone(&track) as Arc<dyn TrackLocal>,
                        Some(init),
                    )
                    .await
                    .map_err(webrtc_err)?;
                let sender = transceiver
                    .sender()
                    .await
                    .map_err(webrtc_err)?
                    .ok_or(PeerError::Missing("sender for a send section"))?;
                (Out::Driver { track, sender }, ssrc, None)
            }
            Imp::Engine { engine, id } => {
                let (tx, rx) = mpsc::channel(4);
                let chosen = Arc::clone(&chosen);
                let codecs = offered.clone();
                let (sender, ssrc, line) = engine
                    .call(*id, move |c, _| {
                        let (sender, ssrc, line) = match place.freed_section(c, codec)? {
                            Some(f) => {
                                reuse_section(&mut c.pc, f.sender, track(f.ssrc))?;
                                (f.sender, f.ssrc, f.line)
                            }
                            None => {
                                let t = c.pc.add_transceiver_from_track(track(ssrc), Some(init));
                                let t = t.map_err(webrtc_err)?;
                                if codecs.len() > 1 {
                                    offer_in_order(&mut c.pc, t, &codecs)?;
                                    c.choices.push(choice::Choice {
                                        transceiver: t,
                                        codecs,
                                        chosen,
                                        track: Box::new(move |codec| media_track(ssrc, codec)),
                                    });
                                }
                                (t.into(), ssrc, None)
                            }
                        };
                        for s in std::iter::once(ssrc).chain(layer_ssrcs) {
                            c.sink.keyframes.insert(s, tx.clone());
                        }
                        Ok::<_, PeerError>((sender, ssrc, line))
                    })
                    .await??;
                let out = Out::Engine {
                    engine: engine.clone(),
                    conn: *id,
                    sender,
                    keyframes: tokio::sync::Mutex::new(rx),
                };
                (out, ssrc, line)
            }
        };
        Ok(LocalTrack {
            codec: chosen,
            offered,
            ssrc,
            out,
            payload_type: AtomicU8::new(0),
            packetizer: tokio::sync::Mutex::new(Packetizer {
                codec,
                payloader: payloader(codec),
                seq: rand::random(),
            }),
            last_seq: AtomicU32::new(NONE_SENT),
            line: std::sync::Mutex::new(line),
            layers: layers
                .into_iter()
                .map(|(rid, ssrc)| SendLayer {
                    rid: Bytes::from(rid.into_bytes()),
                    ssrc,
                    packetizer: tokio::sync::Mutex::new(Packetizer {
                        codec,
                        payloader: payloader(codec),
                        seq: rand::random(),
                    }),
                })
                .collect(),
            stamps: std::sync::OnceLock::new(),
        })
    }

    /// Creates an offer, applies it, waits for ICE gathering and returns the complete SDP.
    pub(crate) async fn create_offer(&self) -> Result<String, PeerError> {
        self.apply_offer(None).await?;
        self.local_sdp().await
    }

    /// Creates and applies an offer and returns it once gathering completes or `wait` has
    /// passed, whichever is first: for a far end that takes the rest trickled
    /// ([`Peer::trickle`]). Host candidates take no time; STUN and TURN ones may.
    pub(crate) async fn create_offer_within(&self, wait: Duration) -> Result<String, PeerError> {
        self.apply_offer(None).await?;
        let mut gathered = self.gathered.clone();
        let _ = tokio::time::timeout(wait, gathered.wait_for(|g| *g)).await;
        self.current_sdp().await
    }

    /// Local candidates as they are gathered, and whether gathering is complete.
    pub(crate) fn trickle(&self) -> (watch::Receiver<Vec<String>>, watch::Receiver<bool>) {
        (self.local.clone(), self.gathered.clone())
    }

    /// An offer that restarts ICE (new credentials, candidates gathered again) for a media
    /// path that broke while signaling stayed up. The caller holds [`Peer::negotiation`].
    pub(crate) async fn restart_offer(&self) -> Result<String, PeerError> {
        let pc = match &self.imp {
            Imp::Driver(pc) => pc,
            Imp::Engine { engine, id } => {
                engine
                    .on_pc(*id, |pc, now| {
                        pc.restart_ice();
                        let offer = pc.create_offer(None).map_err(webrtc_err)?;
                        pc.set_local_description(now, offer).map_err(webrtc_err)
                    })
                    .await?;
                return self.current_sdp().await;
            }
        };
        pc.restart_ice().await.map_err(webrtc_err)?;
        let options = rtc::peer_connection::configuration::RTCOfferOptions { ice_restart: true };
        self.apply_offer(Some(options)).await?;
        // Gathering starts again: wait for it to begin before waiting for it to complete.
        let mut gathered = self.gathered.clone();
        let _ = tokio::time::timeout(Duration::from_millis(500), gathered.wait_for(|g| !*g)).await;
        self.local_sdp().await
    }

    async fn apply_offer(
        &self,
        options: Option<rtc::peer_connection::configuration::RTCOfferOptions>,
    ) -> Result<(), PeerError> {
        let pc = match &self.imp {
            Imp::Driver(pc) => pc,
            Imp::Engine { engine, id } => {
                return engine
                    .on_pc(*id, move |pc, now| {
                        let offer = pc.create_offer(options).map_err(webrtc_err)?;
                        pc.set_local_description(now, offer).map_err(webrtc_err)
                    })
                    .await;
            }
        };
        let offer = pc.create_offer(options).await.map_err(webrtc_err)?;
        pc.set_local_description(offer).await.map_err(webrtc_err)
    }

    /// Applies a remote offer and returns the complete answer SDP.
    pub(crate) async fn accept_offer(&self, sdp: &str) -> Result<String, PeerError> {
        let offer = RTCSessionDescription::offer(sdp.to_owned()).map_err(PeerError::BadSdp)?;
        let pc = match &self.imp {
            Imp::Driver(pc) => pc,
            Imp::Engine { engine, id } => {
                let offered = sdp.to_owned();
                return engine
                    .on_pc(*id, move |pc, now| {
                        pc.set_remote_description(now, offer)
                            .map_err(PeerError::BadSdp)?;
                        let answer = pc.create_answer(None).map_err(webrtc_err)?;
                        pc.set_local_description(now, answer).map_err(webrtc_err)?;
                        let sdp = pc.local_description().map(|d| d.sdp);
                        let sdp = sdp.ok_or(PeerError::Missing("local description"))?;
                        Ok(setup_as_offered(&offered, sdp))
                    })
                    .await;
            }
        };
        pc.set_remote_description(offer)
            .await
            .map_err(PeerError::BadSdp)?;
        let answer = pc.create_answer(None).await.map_err(webrtc_err)?;
        pc.set_local_description(answer).await.map_err(webrtc_err)?;
        Ok(setup_as_offered(sdp, self.local_sdp().await?))
    }

    /// Applies the remote answer to our offer; sections that offered several codecs take
    /// the one it chose ([`choice`]).
    pub(crate) async fn accept_answer(&self, sdp: &str) -> Result<(), PeerError> {
        let answer = RTCSessionDescription::answer(sdp.to_owned()).map_err(PeerError::BadSdp)?;
        match &self.imp {
            Imp::Driver(pc) => pc
                .set_remote_description(answer)
                .await
                .map_err(PeerError::BadSdp),
            Imp::Engine { engine, id } => {
                let sdp = sdp.to_owned();
                engine
                    .call(*id, move |c, now| {
                        for choice in std::mem::take(&mut c.choices) {
                            choice.follow(&mut c.pc, &sdp)?;
                        }
                        c.pc.set_remote_description(now, answer)
                            .map_err(PeerError::BadSdp)
                    })
                    .await?
            }
        }
    }

    async fn local_sdp(&self) -> Result<String, PeerError> {
        let mut gathered = self.gathered.clone();
        tokio::time::timeout(GATHER_TIMEOUT, gathered.wait_for(|g| *g))
            .await
            .map_err(|_| PeerError::GatheringTimeout(GATHER_TIMEOUT))?
            .map_err(|_| PeerError::Closed)?;
        self.current_sdp().await
    }

    /// The local description as it is now, host candidates naming the public IP if any.
    async fn current_sdp(&self) -> Result<String, PeerError> {
        let desc = match &self.imp {
            Imp::Driver(pc) => pc.local_description().await,
            Imp::Engine { engine, id } => {
                engine
                    .on_pc(*id, |pc, _| Ok(pc.local_description()))
                    .await?
            }
        }
        .ok_or(PeerError::Missing("local description"))?;
        Ok(match self.public_ip {
            Some(ip) => advertise(&desc.sdp, ip),
            None => desc.sdp,
        })
    }

    /// Adds a candidate the far end trickled (`candidate` is an `a=candidate:` value) for the
    /// section `mid`.
    pub(crate) async fn add_remote_candidate(
        &self,
        candidate: &str,
        mid: Option<&str>,
    ) -> Result<(), PeerError> {
        let init = rtc::peer_connection::transport::RTCIceCandidateInit {
            candidate: format!("candidate:{candidate}"),
            sdp_mid: mid.map(str::to_owned),
            sdp_mline_index: mid.is_none().then_some(0),
            ..Default::default()
        };
        let bad = |source| PeerError::BadCandidate {
            candidate: candidate.to_owned(),
            source,
        };
        match &self.imp {
            Imp::Driver(pc) => pc.add_ice_candidate(init).await.map_err(bad),
            Imp::Engine { engine, id } => engine
                .on_pc(*id, move |pc, _| Ok(pc.add_remote_candidate(init)))
                .await?
                .map_err(bad),
        }
    }

    /// Adds STUN/TURN servers (vcall's form, as `--ice-server` takes them) to the ones it was
    /// made with; the next gathering (an ICE restart) uses them all.
    pub(crate) async fn add_ice_servers(&self, urls: &[String]) -> Result<(), PeerError> {
        let config = RTCConfigurationBuilder::new()
            .with_ice_servers(
                self.ice_servers
                    .iter()
                    .chain(urls)
                    .map(|u| parse_ice_server(u))
                    .collect(),
            )
            .build();
        match &self.imp {
            Imp::Driver(pc) => pc.set_configuration(config).await.map_err(webrtc_err),
            Imp::Engine { engine, id } => {
                engine
                    .on_pc(*id, move |pc, _| {
                        pc.set_configuration(config).map_err(webrtc_err)
                    })
                    .await
            }
        }
    }

    /// A watch on the connection state.
    pub(crate) fn state(&self) -> watch::Receiver<PeerState> {
        self.state.clone()
    }

    /// Waits until the connection is up; an error if it fails or the time runs out.
    pub(crate) async fn connected(&self, limit: Duration) -> Result<(), PeerError> {
        let mut state = self.state.clone();
        let res = tokio::time::timeout(
            limit,
            state.wait_for(|s| {
                matches!(
                    s,
                    PeerState::Connected | PeerState::Failed | PeerState::Closed
                )
            }),
        )
        .await;
        match res {
            Ok(Ok(s)) if *s == PeerState::Connected => Ok(()),
            Ok(Ok(_)) => Err(PeerError::Failed),
            Ok(Err(_)) => Err(PeerError::Closed),
            Err(_) => Err(PeerError::ConnectTimeout(limit)),
        }
    }

    /// What webrtc-rs counted on this connection so far: per RTP stream and the ICE round
    /// trip (a snapshot at most [`STATS_REUSE`] old).
    pub(crate) async fn stats(&self) -> PeerStats {
        let mut last = self.stats.lock().await;
        if let Some((at, stats)) = last.as_ref()
            && at.elapsed() < STATS_REUSE
        {
            return stats.clone();
        }
        let stats = self.stats_now().await;
        *last = Some((Instant::now(), stats.clone()));
        stats
    }

    async fn stats_now(&self) -> PeerStats {
        let report = match &self.imp {
            Imp::Driver(pc) => {
                pc.get_stats(Instant::now(), webrtc::peer_connection::StatsSelector::None)
                    .await
            }
            Imp::Engine { engine, id } => {
                // What the engine sealed itself rtc did not count.
                let feedback = Arc::clone(&self.feedback);
                let stats = engine
                    .call(*id, move |conn, now| {
                        let report = conn.pc.get_stats(now, rtc::statistics::StatsSelector::None);
                        let feedback = feedback.lock().expect("feedback lock").clone();
                        let mut stats = peer_stats(&report, &feedback);
                        let books = conn.ledger.lock();
                        for s in stats.streams.iter_mut().filter(|s| s.outbound) {
                            let (packets, bytes) = books.beneath(s.ssrc);
                            s.packets += packets;
                            s.bytes += bytes;
                        }
                        stats
                    })
                    .await;
                return stats.unwrap_or_default();
            }
        };
        let feedback = self.feedback.lock().expect("feedback lock").clone();
        peer_stats(&report, &feedback)
    }

    /// What this connection may send now (congestion control and the far end's REMB).
    pub(crate) fn send_estimate(&self) -> SendEstimate {
        self.estimates.get()
    }

    /// Waits until the far end has confirmed, in its transport-wide feedback, the last packet
    /// of each of `tracks`, for `limit` at most: what was sent is there before the stream is
    /// ended over signaling (which could overtake it). Whether it was confirmed.
    pub(crate) async fn delivered(&self, tracks: &[&LocalTrack], limit: Duration) -> bool {
        let last: Vec<(u32, u16)> = tracks.iter().filter_map(|t| t.last_sent()).collect();
        self.estimates.delivered(&last, limit).await
    }

    /// A handle on [`Peer::send_estimate`] that outlives no one's borrow.
    pub(crate) fn send_estimates(&self) -> SendEstimates {
        self.estimates.clone()
    }

    pub(crate) async fn close(&self) {
        match &self.imp {
            Imp::Driver(pc) => {
                if let Err(e) = pc.close().await {
                    tracing::debug!("closing peer connection: {e}");
                }
            }
            Imp::Engine { engine, id } => engine.closed(*id).await,
        }
    }
}

/// Transport-level figures of one RTP stream.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct RtpCounters {
    pub(crate) ssrc: u32,
    /// Sent by us (`true`) or received.
    pub(crate) outbound: bool,
    /// Packets and payload bytes sent or received.
    pub(crate) packets: u64,
    pub(crate) bytes: u64,
    /// Received: lost as our receiver reports count them; sent: as the far end reports.
    pub(crate) packets_lost: i64,
    /// Interarrival jitter (ours when receiving, the far end's report when sending), ms.
    pub(crate) jitter_ms: f64,
    /// NACKs and keyframe requests (PLI and FIR): sent when receiving, received when sending.
    pub(crate) nacks: u32,
    pub(crate) plis: u32,
}

/// A snapshot of a peer connection's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PeerStats {
    /// Round trip of the selected ICE candidate pair's last STUN check, ms.
    pub(crate) rtt_ms: Option<f64>,
    /// The SRTP protection profile DTLS agreed on (RFC 5764's name), once it has.
    pub(crate) srtp: Option<String>,
    pub(crate) streams: Vec<RtpCounters>,
}

impl PeerStats {
    pub(crate) fn stream(&self, ssrc: u32) -> Option<&RtpCounters> {
        self.streams.iter().find(|s| s.ssrc == ssrc)
    }
}

fn peer_stats(
    report: &webrtc::peer_connection::RTCStatsReport,
    feedback: &std::collections::HashMap<u32, Feedback>,
) -> PeerStats {
    use webrtc::peer_connection::RTCStatsReportEntry as E;
    // webrtc-rs reports RTCP's jitter as it is on the wire: in RTP clock ticks.
    let jitter_ms = |kind: RtpCodecKind, ticks: f64| {
        let rate = if kind == RtpCodecKind::Audio {
            Codec::Opus.clock_rate()
        } else {
            Codec::H264.clock_rate()
        };
        ticks * 1000.0 / rate as f64
    };
    let mut stats = PeerStats::default();
    let selected = report.iter().find_map(|e| match e {
        E::Transport(t) if !t.selected_candidate_pair_id.is_empty() => {
            Some(t.selected_candidate_pair_id.clone())
        }
        _ => None,
    });
    for entry in report.iter() {
        match entry {
            E::Transport(t) if !t.srtp_cipher.is_empty() => {
                stats.srtp = Some(t.srtp_cipher.clone());
            }
            E::InboundRtp(i) => {
                let r = &i.received_rtp_stream_stats;
                stats.streams.push(RtpCounters {
                    ssrc: r.rtp_stream_stats.ssrc,
                    outbound: false,
                    packets: r.packets_received,
                    bytes: i.bytes_received,
                    packets_lost: r.packets_lost,
                    jitter_ms: jitter_ms(r.rtp_stream_stats.kind, r.jitter),
                    nacks: i.nack_count,
                    plis: i.pli_count + i.fir_count,
                });
            }
            E::OutboundRtp(o) => {
                let s = &o.sent_rtp_stream_stats;
                let ssrc = s.rtp_stream_stats.ssrc;
                let f = feedback.get(&ssrc).copied().unwrap_or_default();
                stats.streams.push(RtpCounters {
                    ssrc,
                    outbound: true,
                    packets: s.packets_sent,
                    bytes: s.bytes_sent,
                    packets_lost: f.lost,
                    jitter_ms: jitter_ms(s.rtp_stream_stats.kind, f.jitter as f64),
                    nacks: f.nacks,
                    plis: f.plis,
                });
            }
            E::IceCandidatePair(p)
                if selected.as_deref() == Some(p.stats.id.as_str())
                    && p.current_round_trip_time > 0.0 =>
            {
                stats.rtt_ms = Some(p.current_round_trip_time * 1000.0);
            }
            _ => {}
        }
    }
    stats.streams.sort_by_key(|s| (s.outbound, s.ssrc));
    stats
}

/// `sdp` with its host candidates naming `ip` (a server behind 1:1 NAT: the address it is
/// reached at, not the one it binds), each port once.
fn advertise(sdp: &str, ip: IpAddr) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let fields: Vec<&str> = line.trim_end().split(' ').collect();
        if line.starts_with("a=candidate:") && fields.len() >= 8 && fields[7] == "host" {
            let mut fields = fields;
            let ip = ip.to_string();
            fields[4] = &ip;
            // One candidate per component and port (a socket bound to every address is
            // gathered once per interface).
            if seen.insert((fields[1].to_owned(), fields[5].to_owned())) {
                out.push_str(&fields.join(" "));
                out.push_str("\r\n");
            }
            continue;
        }
        out.push_str(line);
    }
    out
}

fn parse_ice_server(url: &str) -> RTCIceServer {
    // `turn:user:pass@host:port` carries its credentials inline.
    if let Some((scheme, rest)) = url.split_once(':')
        && let Some((creds, host)) = rest.rsplit_once('@')
        && let Some((user, pass)) = creds.split_once(':')
    {
        return RTCIceServer {
            urls: vec![format!("{scheme}:{host}")],
            username: user.to_owned(),
            credential: pass.to_owned(),
        };
    }
    RTCIceServer {
        urls: vec![url.to_owned()],
        ..Default::default()
    }
}

/// A track we send: write RTP packets, read keyframe requests.
pub(crate) struct LocalTrack {
    /// What it sends: its section's codec, or the one the answer chose ([`choice`]).
    codec: Arc<std::sync::Mutex<Codec>>,
    /// The codecs its section offered (the errors name them).
    offered: Vec<Codec>,
    ssrc: u32,
    out: Out,
    /// The payload type negotiated on this leg, learned on the first write (0 = not yet).
    payload_type: AtomicU8,
    /// Splits encoded frames into RTP payloads, for tracks fed with frames.
    packetizer: tokio::sync::Mutex<Packetizer>,
    /// The sequence number last written, or `NONE_SENT`.
    last_seq: AtomicU32,
    /// Where a forwarded leg's numbering stood when it ended (at first, the section's, when
    /// the track took an ended leg's): the section's next leg numbers on from it.
    line: std::sync::Mutex<Option<Line>>,
    /// A simulcast track's encodings (none: one stream, `ssrc`).
    layers: Vec<SendLayer>,
    /// What a simulcast packet names: its section's `mid` and the header extension ids of
    /// mid and rid, learned once negotiated.
    stamps: std::sync::OnceLock<Stamps>,
}

/// One encoding of a simulcast track.
struct SendLayer {
    /// Its rid, as its packets' header extension carries it.
    rid: Bytes,
    ssrc: u32,
    packetizer: tokio::sync::Mutex<Packetizer>,
}

/// The header extensions every simulcast packet carries: the section's `mid` and the
/// encoding's rid (RFC 8852), by their negotiated ids.
#[derive(Debug, Clone)]
struct Stamps {
    mid: Bytes,
    mid_id: u8,
    rid_id: u8,
}

/// What a new send section is: its stream label, track id, SSRC, direction and place.
type SectionPlan<'a> = (
    &'a str,
    Option<&'a str>,
    u32,
    RTCRtpTransceiverDirection,
    Place,
);

const NONE_SENT: u32 = u32::MAX;

/// Where a local track's packets go.
enum Out {
    Driver {
        track: Arc<TrackLocalStaticRTP>,
        sender: Arc<dyn RtpSender>,
    },
    Engine {
        engine: Engine,
        conn: mux::ConnId,
        sender: rtc::rtp_transceiver::RTCRtpSenderId,
        keyframes: tokio::sync::Mutex<mpsc::Receiver<u32>>,
    },
}

struct Packetizer {
    /// The codec its payloader is for.
    codec: Codec,
    payloader: Box<dyn rtc::rtp::packetizer::Payloader>,
    seq: u16,
}

impl Packetizer {
    /// `frame` of `codec` as RTP packets of payload type `pt` stamped `timestamp`, numbered
    /// on from the last.
    fn packets(
        &mut self,
        codec: Codec,
        frame: &Bytes,
        (pt, timestamp): (u8, u32),
    ) -> Result<Vec<Rtp>, PeerError> {
        if self.codec != codec {
            self.payloader = payloader(codec);
            self.codec = codec;
        }
        let payloads = self
            .payloader
            .payload(RTP_PAYLOAD_MTU, frame)
            .map_err(webrtc_err)?;
        let n = payloads.len();
        Ok(payloads
            .into_iter()
            .enumerate()
            .map(|(i, payload)| {
                self.seq = self.seq.wrapping_add(1);
                Rtp::new(pt, self.seq, timestamp, i + 1 == n, payload)
            })
            .collect())
    }
}

/// The error for a section whose far end took none of `offered` (`codec` the one it sends):
/// it names what it answered with instead.
fn not_taken(codec: Codec, offered: &[Codec], answered: &[RTCRtpCodecParameters]) -> PeerError {
    let names = |v: Vec<&str>| v.join(", ");
    let answered: Vec<&str> = answered
        .iter()
        .map(|c| c.rtp_codec.mime_type.split('/').next_back().unwrap_or(""))
        .collect();
    PeerError::CodecNotTaken {
        kind: if codec.kind() == Kind::Video {
            "video"
        } else {
            "audio"
        },
        offered: names(offered.iter().map(|c| c.name()).collect()),
        answered: match answered.is_empty() {
            true => String::new(),
            false => format!("; it answered with {}", names(answered)),
        },
    }
}

fn payloader(codec: Codec) -> Box<dyn rtc::rtp::packetizer::Payloader> {
    match codec {
        Codec::H264 => Box::new(rtc::rtp::codec::h264::H264Payloader::default()),
        Codec::Vp8 => Box::new(rtc::rtp::codec::vp8::Vp8Payloader::default()),
        Codec::Vp9 => Box::new(crate::vocab::vp9::Payloader::default()),
        Codec::Av1 => Box::new(rtc::rtp::codec::av1::Av1Payloader {}),
        Codec::Opus => Box::new(rtc::rtp::codec::opus::OpusPayloader),
    }
}

/// Makes a new section's offer list `codecs`, in that order (the far end picks).
fn offer_in_order(
    pc: &mut rtc::peer_connection::RTCPeerConnection,
    transceiver: rtc::rtp_transceiver::RTCRtpTransceiverId,
    codecs: &[Codec],
) -> Result<(), PeerError> {
    let params = codecs
        .iter()
        .map(|c| RTCRtpCodecParameters {
            rtp_codec: c.rtp_codec(),
            payload_type: c.payload_type(),
        })
        .collect();
    pc.rtp_transceiver(transceiver)
        .ok_or(PeerError::Missing("transceiver for a new section"))?
        .set_codec_preferences(params)
        .map_err(webrtc_err)
}

/// Payload bytes per RTP packet, leaving room for SRTP and headers under a 1280-byte path MTU.
const RTP_PAYLOAD_MTU: usize = 1160;

impl LocalTrack {
    /// What it sends (once the answer is applied, the codec the far end chose).
    pub(crate) fn codec(&self) -> Codec {
        *self.codec.lock().expect("codec lock")
    }

    /// Sends one packet; SSRC and payload type are set to this leg's, header extensions dropped.
    pub(crate) async fn write(&self, rtp: Rtp) -> Result<(), PeerError> {
        let pt = self.ready().await?;
        let rtp = self.rewrite(rtp, pt);
        let seq = rtp.0.header.sequence_number;
        match &self.out {
            Out::Driver { track, .. } => track.write_rtp(rtp.0).await.map_err(webrtc_err)?,
            // A full queue drops the packet, as a full socket buffer would.
            Out::Engine {
                engine,
                conn,
                sender,
                ..
            } => {
                engine.send_rtp(*conn, *sender, rtp.0);
            }
        }
        self.last_seq.store(u32::from(seq), Ordering::Relaxed);
        Ok(())
    }

    /// Sends one packet at once, as [`LocalTrack::write`] does, for a track on an engine
    /// whose [`LocalTrack::ready`] has returned; whether it was queued (a full queue drops
    /// it, as a full socket buffer would; a driver's track takes nothing this way).
    pub(crate) fn try_write(&self, rtp: Rtp) -> bool {
        self.try_send(|pt| self.rewrite(rtp, pt))
    }

    /// Sends a padding packet of about `bytes` ([`Rtp::padding`]), numbered `seq` and timed
    /// `timestamp`, as [`LocalTrack::try_write`] sends a packet.
    pub(crate) fn try_write_padding(&self, seq: u16, timestamp: u32, bytes: usize) -> bool {
        self.try_send(|pt| {
            let mut rtp = Rtp::padding(pt, seq, timestamp, bytes);
            rtp.0.header.ssrc = self.ssrc;
            rtp
        })
    }

    /// Queues the packet `make` makes for the negotiated payload type on the engine.
    fn try_send(&self, make: impl FnOnce(u8) -> Rtp) -> bool {
        let pt = self.payload_type.load(Ordering::Relaxed);
        let Out::Engine {
            engine,
            conn,
            sender,
            ..
        } = &self.out
        else {
            return false;
        };
        if pt == 0 {
            return false;
        }
        let rtp = make(pt);
        let seq = rtp.0.header.sequence_number;
        let sent = engine.send_rtp(*conn, *sender, rtp.0);
        self.last_seq.store(u32::from(seq), Ordering::Relaxed);
        sent
    }

    fn rewrite(&self, mut rtp: Rtp, pt: u8) -> Rtp {
        rtp.0.header.ssrc = self.ssrc;
        rtp.0.header.payload_type = pt;
        rtp.0.header.extension = false;
        rtp.0.header.extensions.clear();
        // The padding of the extensions cleared above would be counted in the size again.
        rtp.0.header.extensions_padding = 0;
        rtp
    }

    /// Learns what sending needs (the payload type negotiated on this leg) and returns it.
    pub(crate) async fn ready(&self) -> Result<u8, PeerError> {
        let mut pt = self.payload_type.load(Ordering::Relaxed);
        if pt == 0 {
            let codec = self.codec();
            let offered = self.offered.clone();
            let find = move |codecs: &[RTCRtpCodecParameters]| {
                let mime = codec.mime();
                codecs
                    .iter()
                    .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case(mime))
                    .map(|c| c.payload_type)
                    .ok_or_else(|| not_taken(codec, &offered, codecs))
            };
            pt = match &self.out {
                Out::Driver { sender, .. } => {
                    let params = sender.get_parameters().await.map_err(webrtc_err)?;
                    find(&params.rtp_parameters.codecs)?
                }
                Out::Engine {
                    engine,
                    conn,
                    sender,
                    ..
                } => {
                    let sender = *sender;
                    engine
                        .on_pc(*conn, move |pc, _| {
                            let mut s = pc
                                .rtp_sender(sender)
                                .ok_or(PeerError::Missing("sender for a send section"))?;
                            find(&s.get_parameters().rtp_parameters.codecs)
                        })
                        .await?
                }
            };
            self.payload_type.store(pt, Ordering::Relaxed);
        }
        Ok(pt)
    }

    /// This track's SSRC and the sequence number it last sent, if it sent anything.
    pub(crate) fn last_sent(&self) -> Option<(u32, u16)> {
        let seq = self.last_seq.load(Ordering::Relaxed);
        (seq != NONE_SENT).then_some((self.ssrc, seq as u16))
    }

    /// Where this track's section's numbering stands: as its forwarded leg left it, else as
    /// the section's last leg did. A forwarder numbers on from it.
    pub(crate) fn line(&self) -> Option<Line> {
        *self.line.lock().expect("line lock")
    }

    /// The forwarded leg on this track ended with its numbering at `line` (its newest packet:
    /// a retransmission sent late does not set it back).
    pub(crate) fn leg_ended(&self, line: Option<Line>) {
        *self.line.lock().expect("line lock") = line;
    }

    /// Packetizes one encoded frame (Annex B for H.264) stamped `timestamp` and sends it.
    pub(crate) async fn send_frame(
        &self,
        frame: Bytes,
        timestamp: u32,
    ) -> Result<usize, PeerError> {
        let packets = self
            .packetizer
            .lock()
            .await
            .packets(self.codec(), &frame, (0, timestamp))?;
        let n = packets.len();
        for packet in packets {
            self.write(packet).await?;
        }
        Ok(n)
    }

    /// The index of the simulcast layer sent under `ssrc`, if it is one.
    pub(crate) fn layer_of(&self, ssrc: u32) -> Option<usize> {
        self.layers.iter().position(|l| l.ssrc == ssrc)
    }

    /// Whether it sends simulcast ([`LocalTrack::send_layer_frame`]).
    pub(crate) fn is_simulcast(&self) -> bool {
        !self.layers.is_empty()
    }

    /// Packetizes one encoded frame of simulcast layer `layer` (Annex B for H.264) stamped
    /// `timestamp` and sends it under that layer's SSRC, each packet naming its section and
    /// rid.
    pub(crate) async fn send_layer_frame(
        &self,
        layer: usize,
        frame: Bytes,
        timestamp: u32,
    ) -> Result<usize, PeerError> {
        let l = self
            .layers
            .get(layer)
            .ok_or(PeerError::Missing("a simulcast layer of this track"))?;
        let pt = self.ready().await?;
        let stamps = self.stamps().await?;
        let Out::Engine {
            engine,
            conn,
            sender,
            ..
        } = &self.out
        else {
            return Err(PeerError::Missing("a simulcast track's engine"));
        };
        let packets = l
            .packetizer
            .lock()
            .await
            .packets(self.codec(), &frame, (pt, timestamp))?;
        let n = packets.len();
        for Rtp(mut rtp) in packets {
            rtp.header.ssrc = l.ssrc;
            let stamped = rtp
                .header
                .set_extension(stamps.mid_id, stamps.mid.clone())
                .and_then(|()| rtp.header.set_extension(stamps.rid_id, l.rid.clone()));
            stamped.map_err(webrtc_err)?;
            engine.send_rtp(*conn, *sender, rtp);
        }
        Ok(n)
    }

    /// The section's `mid` and the mid and rid header extension ids, once negotiated.
    async fn stamps(&self) -> Result<Stamps, PeerError> {
        if let Some(s) = self.stamps.get() {
            return Ok(s.clone());
        }
        let Out::Engine {
            engine,
            conn,
            sender,
            ..
        } = &self.out
        else {
            return Err(PeerError::Missing("a simulcast track's engine"));
        };
        let sender = *sender;
        let stamps = engine
            .on_pc(*conn, move |pc, _| {
                let mid = pc
                    .rtp_transceiver(sender.into())
                    .and_then(|t| t.mid().clone())
                    .ok_or(PeerError::Missing("the mid of a simulcast section"))?;
                let mut s = pc
                    .rtp_sender(sender)
                    .ok_or(PeerError::Missing("sender for a send section"))?;
                let params = s.get_parameters();
                let id = |uri: &str| {
                    params
                        .rtp_parameters
                        .header_extensions
                        .iter()
                        .find(|e| e.uri == uri)
                        .map(|e| e.id as u8)
                };
                match (
                    id("urn:ietf:params:rtp-hdrext:sdes:mid"),
                    id("urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"),
                ) {
                    (Some(mid_id), Some(rid_id)) => Ok(Stamps {
                        mid: Bytes::from(mid.into_bytes()),
                        mid_id,
                        rid_id,
                    }),
                    _ => Err(PeerError::Missing(
                        "the mid and rid header extensions (the far end did not take simulcast)",
                    )),
                }
            })
            .await?;
        Ok(self.stamps.get_or_init(|| stamps).clone())
    }

    /// Waits for the next keyframe request (PLI or FIR) from the far end: the SSRC it asks
    /// of (a simulcast track's layer); `None` once closed.
    pub(crate) async fn keyframe_request(&self) -> Option<u32> {
        let track = match &self.out {
            Out::Driver { track, .. } => track,
            Out::Engine { keyframes, .. } => return keyframes.lock().await.recv().await,
        };
        loop {
            match track.poll().await? {
                TrackLocalEvent::OnRtcpPacket(_) => return Some(self.ssrc),
                #[allow(unreachable_patterns)]
                _ => continue,
            }
        }
    }

    /// This track is over: its section carries nothing from now on and is the next of its
    /// kind a leg takes ([`Place`]), which sends on as the section's RTP stream ([`Freed`]).
    /// Takes effect before any later exchange on the connection. (A driver's connection keeps
    /// its sections.)
    pub(crate) fn release(&self) {
        let Out::Engine {
            engine,
            conn,
            sender,
            ..
        } = &self.out
        else {
            return;
        };
        let freed = Freed {
            codec: self.codec(),
            sender: *sender,
            ssrc: self.ssrc,
            line: self.line(),
        };
        let layers: Vec<u32> = self.layers.iter().map(|l| l.ssrc).collect();
        // Its direction stays: a subscriber's stack (webrtc-rs's) stops a section an offer
        // calls inactive, for good.
        engine.post(*conn, move |c, _| {
            c.sink.keyframes.remove(&freed.ssrc);
            for ssrc in layers {
                c.sink.keyframes.remove(&ssrc);
            }
            if !c.freed.iter().any(|f| f.sender == freed.sender) {
                c.freed.push(freed);
            }
        });
    }
}

/// A track we receive.
pub struct RemoteTrack {
    pub(crate) codec: Codec,
    pub(crate) ssrc: u32,
    /// The section it arrives in (how a subscriber knows which stream it belongs to).
    pub(crate) mid: Option<String>,
    /// The sender's media stream id (`msid`): how the server knows which publish it is.
    pub(crate) stream_id: String,
    /// The sender's track id (`msid`'s second part): how a LiveKit client names a track.
    pub(crate) track_id: String,
    /// The RTP stream id of its first stream (RFC 8852), when the sender names its streams:
    /// a simulcast track, whose every layer's packets come through this one track, each
    /// layer under its own SSRC.
    pub(crate) rid: Option<String>,
    /// How many layers its sender declares (0: not simulcast, or not known).
    pub(crate) layers: usize,
    inner: Inner,
}

/// Where a remote track's packets come from.
#[derive(Clone)]
enum Inner {
    Driver(Arc<dyn TrackRemote>),
    Engine(Arc<EngineRemote>),
}

/// A remote track of a connection on an engine.
pub(crate) struct EngineRemote {
    pub(crate) engine: Engine,
    pub(crate) conn: mux::ConnId,
    pub(crate) receiver: rtc::rtp_transceiver::RTCRtpReceiverId,
    pub(crate) packets: tokio::sync::Mutex<mpsc::Receiver<Rtp>>,
}

impl RemoteTrack {
    pub(crate) fn on_engine(
        codec: Codec,
        ssrc: u32,
        mid: Option<String>,
        (stream_id, track_id, rid): (String, String, Option<String>),
        remote: EngineRemote,
    ) -> RemoteTrack {
        RemoteTrack {
            codec,
            ssrc,
            mid,
            stream_id,
            track_id,
            rid,
            layers: 0,
            inner: Inner::Engine(Arc::new(remote)),
        }
    }

    /// The next RTP packet; `None` once the track has ended.
    pub(crate) async fn recv(&self) -> Option<Rtp> {
        let inner = match &self.inner {
            Inner::Driver(inner) => inner,
            Inner::Engine(e) => return e.packets.lock().await.recv().await,
        };
        loop {
            match inner.poll().await? {
                TrackRemoteEvent::OnRtpPacket(p) => return Some(Rtp(p)),
                TrackRemoteEvent::OnEnded => return None,
                _ => continue,
            }
        }
    }

    /// A cheap handle to request keyframes of the stream `ssrc` in this track's section.
    pub(crate) fn keyframe_requester(&self, ssrc: u32) -> KeyframeRequester {
        KeyframeRequester {
            ssrc,
            inner: self.inner.clone(),
        }
    }

    /// The codec of the stream `ssrc` in this track's section (a section can carry another
    /// stream later, when the far end reuses it).
    pub(crate) async fn codec_of(&self, ssrc: u32) -> Codec {
        let mime = match &self.inner {
            Inner::Driver(inner) => inner.codec(ssrc).await.map(|c| c.mime_type),
            Inner::Engine(e) => {
                let receiver = e.receiver;
                e.engine
                    .call(e.conn, move |c, _| {
                        let r = c.pc.rtp_receiver(receiver)?;
                        r.track().codec(ssrc).map(|c| c.mime_type.clone())
                    })
                    .await
                    .ok()
                    .flatten()
            }
        };
        mime.and_then(|m| Codec::from_mime(&m))
            .unwrap_or(self.codec)
    }
}

/// Sends PLIs for one remote track.
#[derive(Clone)]
pub(crate) struct KeyframeRequester {
    ssrc: u32,
    inner: Inner,
}

impl KeyframeRequester {
    /// The same track's stream `ssrc` (another layer of a simulcast track).
    pub(crate) fn for_ssrc(&self, ssrc: u32) -> KeyframeRequester {
        KeyframeRequester {
            ssrc,
            inner: self.inner.clone(),
        }
    }

    /// The stream it asks.
    pub(crate) fn ssrc(&self) -> u32 {
        self.ssrc
    }

    async fn write_rtcp(&self, packet: Box<dyn rtc::rtcp::Packet + Send>) -> Result<(), PeerError> {
        match &self.inner {
            Inner::Driver(inner) => inner.write_rtcp(vec![packet]).await.map_err(webrtc_err),
            Inner::Engine(e) => {
                let receiver = e.receiver;
                e.engine
                    .on_pc(e.conn, move |pc, now| {
                        let mut r = pc
                            .rtp_receiver(receiver)
                            .ok_or(PeerError::Missing("receiver"))?;
                        r.write_rtcp(now, vec![packet]).map_err(webrtc_err)
                    })
                    .await
            }
        }
    }

    pub(crate) async fn request(&self) {
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: self.ssrc,
        };
        if let Err(e) = self.write_rtcp(Box::new(pli)).await {
            tracing::debug!("PLI not sent: {e}");
        }
    }

    /// Tells the sender of this stream to send at most `bps` (REMB).
    pub(crate) async fn limit(&self, bps: f64) {
        let remb = ReceiverEstimatedMaximumBitrate {
            sender_ssrc: 0,
            bitrate: bps as f32,
            ssrcs: vec![self.ssrc],
        };
        if let Err(e) = self.write_rtcp(Box::new(remb)).await {
            tracing::debug!("REMB not sent: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sections_declared_layers_are_its_send_rids() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rid:x send\r\n\
            m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rid:f send pt=96;max-width=1280\r\n\
            a=mid:1\r\na=rid:h send\r\na=rid:q send\r\na=rid:r recv\r\n\
            a=simulcast:send f;h;q\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\n";
        assert_eq!(send_rids(sdp, "1"), 3);
        assert_eq!(send_rids(sdp, "0"), 1);
        assert_eq!(send_rids(sdp, "2"), 0);
        assert_eq!(send_rids(sdp, "9"), 0);
    }

    /// A connection of its own on loopback, as a client's.
    fn loopback_config() -> PeerConfig {
        PeerConfig {
            ports: None,
            public_ip: None,
            certificate: None,
            relay_only: false,
            send_rate: SendRate::default(),
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            ice_servers: vec![],
            network: Network::default(),
            engine: None,
            ice_lite: false,
        }
    }

    /// A STUN server on loopback that answers each Binding request at once with the asker's
    /// address on the port `map` gives (a NAT's mapping).
    fn stun_server(map: fn(u16) -> u16) -> String {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let SocketAddr::V4(from) = from else { continue };
                if n < 20 || buf[0..2] != [0, 1] {
                    continue;
                }
                let mut reply = vec![0x01, 0x01, 0, 12];
                reply.extend_from_slice(&buf[4..20]);
                reply.extend_from_slice(&[0x00, 0x20, 0, 8, 0, 1]);
                reply.extend_from_slice(&(map(from.port()) ^ 0x2112).to_be_bytes());
                reply.extend_from_slice(&(u32::from(*from.ip()) ^ 0x2112_A442).to_be_bytes());
                let _ = socket.send_to(&reply, from);
            }
        });
        format!("stun:{addr}")
    }

    /// Waits for the end of `peer`'s gathering; its candidates then.
    async fn gathered(peer: &Peer) -> Vec<String> {
        let mut gathered = peer.gathered.clone();
        tokio::time::timeout(Duration::from_secs(20), gathered.wait_for(|g| *g))
            .await
            .expect("gathering ends")
            .expect("the peer lives");
        peer.local.borrow().clone()
    }

    #[tokio::test]
    async fn a_client_on_its_engine_gathers_server_reflexive_candidates_from_stun() {
        let stun = stun_server(|port| port.wrapping_add(1000));
        let (peer, _) = Peer::new(&PeerConfig {
            ice_servers: vec![stun],
            ..loopback_config()
        })
        .await
        .unwrap();
        assert!(matches!(peer.imp, Imp::Engine { .. }), "not on an engine");
        let local = gathered(&peer).await;
        let host = local.iter().find(|l| l.contains("typ host")).expect("host");
        let port: u16 = host.split_whitespace().nth(5).unwrap().parse().unwrap();
        let srflx = local
            .iter()
            .find(|l| l.contains("typ srflx"))
            .unwrap_or_else(|| panic!("no srflx: {local:?}"));
        let expected = format!(
            "127.0.0.1 {} typ srflx raddr 127.0.0.1 rport {port}",
            port.wrapping_add(1000)
        );
        assert!(srflx.contains(&expected), "{srflx}");
        // A description made now carries it.
        peer.offer_to_receive(&[Kind::Video]).await.unwrap();
        let offer = peer.create_offer().await.unwrap();
        assert!(offer.contains("typ srflx"), "{offer}");
    }

    #[tokio::test]
    async fn stun_without_a_nat_or_an_answer_leaves_the_host_candidates() {
        // Mapped to the host candidate itself (no NAT): redundant. A server that never
        // answers: gathering ends without it.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for stun in [
            stun_server(|port| port),
            format!("stun:{}", silent.local_addr().unwrap()),
        ] {
            let (peer, _) = Peer::new(&PeerConfig {
                ice_servers: vec![stun.clone()],
                ..loopback_config()
            })
            .await
            .unwrap();
            let local = gathered(&peer).await;
            assert_eq!(local.len(), 1, "{stun}: {local:?}");
            assert!(local[0].contains("typ host"), "{stun}: {local:?}");
        }
    }

    #[tokio::test]
    async fn an_answer_takes_the_dtls_role_the_offer_left_it() {
        // The server's setting: it answers `actpass` as the DTLS server.
        let config = PeerConfig {
            ice_lite: true,
            ..loopback_config()
        };
        for (offered, answered) in [
            ("passive", "active"),
            ("active", "passive"),
            ("actpass", "passive"),
        ] {
            let (offerer, _) = Peer::new(&PeerConfig {
                ice_lite: false,
                ..config.clone()
            })
            .await
            .unwrap();
            offerer.offer_to_receive(&[Kind::Video]).await.unwrap();
            let offer = offerer
                .create_offer()
                .await
                .unwrap()
                .replace("a=setup:actpass", &format!("a=setup:{offered}"));
            let (answerer, _) = Peer::new(&config).await.unwrap();
            let answer = answerer.accept_offer(&offer).await.unwrap();
            assert!(
                answer.contains(&format!("a=setup:{answered}\r\n")),
                "{offered}: {answer}"
            );
        }
    }

    #[tokio::test]
    async fn a_kept_section_takes_a_leg_of_its_last_codec_only_and_stays_one_rtp_stream() {
        let server = PeerConfig {
            ice_lite: true,
            ..loopback_config()
        };
        let (subscriber, _) = Peer::new(&loopback_config()).await.unwrap();
        let (offer, mids) = subscriber.offer_to_receive(&[Kind::Video]).await.unwrap();
        let (peer, _) = Peer::new(&server).await.unwrap();
        let place = || Place::Kept(mids[0].clone());
        let leg = |codec, place| peer.add_leg(codec, "s", None, 7, place);
        let first = leg(Codec::H264, Place::Offered(mids[0].clone()))
            .await
            .unwrap();
        let answer = peer.accept_offer(&offer).await.unwrap();
        subscriber.accept_answer(&answer).await.unwrap();
        let not_kept = |r: Result<LocalTrack, PeerError>| matches!(r, Err(PeerError::NotKept(_)));
        // Still carrying its leg; a section nobody has.
        assert!(not_kept(leg(Codec::H264, place()).await));
        assert!(not_kept(leg(Codec::H264, Place::Kept("9".into())).await));
        first.release();
        // Another codec (not what was negotiated for it, perhaps) or kind: not without an
        // exchange. Its own: the same RTP stream goes on.
        assert!(not_kept(leg(Codec::Vp8, place()).await));
        assert!(not_kept(leg(Codec::Opus, place()).await));
        let next = leg(Codec::H264, place()).await.unwrap();
        assert_eq!(next.ssrc, first.ssrc);
        assert_eq!(next.ready().await.unwrap(), first.ready().await.unwrap());
        // Taken now.
        assert!(not_kept(leg(Codec::H264, place()).await));
    }

    #[test]
    fn the_stacks_error_is_kept_and_said_once() {
        use std::error::Error as _;
        let e = PeerError::BadCandidate {
            candidate: "1 1 udp".into(),
            source: webrtc::error::Error::Other("no address".into()),
        };
        assert!(e.source().is_some(), "the cause is kept");
        assert_eq!(
            crate::exit::Failure::from(e).to_string(),
            "the remote candidate \"1 1 udp\" is not valid: no address"
        );
    }

    #[test]
    fn a_port_another_socket_holds_is_taken() {
        let held = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let ip = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
        assert!(port_taken(ip, held.local_addr().unwrap().port()));
    }

    #[test]
    fn a_port_range_skips_the_ports_other_sockets_hold() {
        // Four ports in a row, all held but one (found free by binding them).
        let (held, free) = (1..200)
            .find_map(|k| {
                let lo = 42_000 + k * 5;
                let socks: Vec<_> = (lo..lo + 4)
                    .map(|p| std::net::UdpSocket::bind(("127.0.0.1", p)))
                    .collect::<Result<_, _>>()
                    .ok()?;
                Some((socks, lo))
            })
            .expect("four free ports in a row");
        let mut held = held;
        drop(held.remove(2));
        let config = PeerConfig {
            ports: Some((free, free + 3)),
            public_ip: None,
            certificate: None,
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            ice_servers: vec![],
            network: Network::default(),
            relay_only: false,
            send_rate: SendRate::default(),
            engine: None,
            ice_lite: false,
        };
        let rt = tokio::runtime::Runtime::new().unwrap();
        for _ in 0..4 {
            // Whichever port it starts from, it ends on the free one.
            let made = rt.block_on(Peer::new(&config));
            let (peer, _) = made.expect("the free port in the range");
            rt.block_on(peer.close());
        }
    }

    #[test]
    fn a_public_ip_replaces_host_candidates_addresses_each_port_once() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
            a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host\r\n\
            a=candidate:2 1 udp 2130706431 172.17.0.1 40000 typ host\r\n\
            a=candidate:3 1 udp 1694498815 198.51.100.9 5000 typ srflx raddr 0.0.0.0 rport 0\r\n\
            a=end-of-candidates\r\n";
        let out = advertise(sdp, "203.0.113.7".parse().unwrap());
        let candidates: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("a=candidate"))
            .collect();
        assert_eq!(
            candidates,
            [
                "a=candidate:1 1 udp 2130706431 203.0.113.7 40000 typ host",
                "a=candidate:3 1 udp 1694498815 198.51.100.9 5000 typ srflx raddr 0.0.0.0 rport 0",
            ]
        );
        assert!(out.ends_with("a=end-of-candidates\r\n"));
    }
    use rtc::rtcp::payload_feedbacks::full_intra_request::FirEntry;
    use rtc::rtcp::receiver_report::ReceiverReport;
    use rtc::rtcp::reception_report::ReceptionReport;

    #[test]
    fn rtcp_feedback_is_counted_per_stream_and_keyframe_requests_flagged() {
        let tap = RtcpTap {
            feedback: FeedbackLog::default(),
            estimates: None,
        };
        let report = |ssrc, total_lost, jitter| ReceptionReport {
            ssrc,
            total_lost,
            jitter,
            ..Default::default()
        };
        let rr = ReceiverReport {
            reports: vec![report(1, 5, 900), report(2, 0x00ff_fffe, 0)],
            ..Default::default()
        };
        let nack = TransportLayerNack {
            media_ssrc: 1,
            ..Default::default()
        };
        assert!(!tap.note(&[Box::new(rr), Box::new(nack.clone()), Box::new(nack)]));
        let pli = PictureLossIndication {
            sender_ssrc: 0,
            media_ssrc: 1,
        };
        let fir = FullIntraRequest {
            fir: vec![FirEntry {
                ssrc: 2,
                sequence_number: 1,
            }],
            ..Default::default()
        };
        assert!(tap.note(&[Box::new(pli)]));
        assert!(tap.note(&[Box::new(fir)]));
        let log = tap.feedback.lock().unwrap();
        let (one, two) = (log[&1], log[&2]);
        assert_eq!((one.nacks, one.plis, one.lost, one.jitter), (2, 1, 5, 900));
        // A negative 24-bit total (duplicates outnumber losses) stays negative.
        assert_eq!((two.nacks, two.plis, two.lost), (0, 1, -2));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn prop_any_rtcp_from_a_peer_is_parsed_or_refused(
                bytes in prop::collection::vec(any::<u8>(), 0..300),
                header in prop::collection::vec(any::<u8>(), 4),
            ) {
                let tap = RtcpTap {
                    feedback: FeedbackLog::default(),
                    estimates: None,
                };
                // Half the cases start as RTCP version 2 of a known type, so parsing goes deep.
                let mut data = bytes.clone();
                if header[0] & 1 == 0 && data.len() >= 4 {
                    data[0] = 0x80 | (data[0] & 0x1f);
                    data[1] = [200, 201, 202, 203, 204, 205, 206][header[1] as usize % 7];
                    let words = (data.len() / 4).saturating_sub(1) as u16;
                    data[2..4].copy_from_slice(&words.to_be_bytes());
                }
                if let Ok(packets) = rtc::rtcp::packet::unmarshal(&mut Bytes::from(data)) {
                    tap.note(&packets);
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(ProptestConfig::default().cases / 8 + 1))]

            /// SDP a remote peer (or a server passing one on) sends: refused with an error, never
            /// a panic. Starts from a real offer and damages it.
            #[test]
            fn prop_any_sdp_from_a_peer_is_taken_or_refused(
                cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), "[ -~\r\n]{0,12}"), 0..4),
            ) {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let config = loopback_config();
                    let (offerer, _) = Peer::new(&config).await.unwrap();
                    offerer.offer_to_receive(&[Kind::Audio, Kind::Video]).await.unwrap();
                    let mut sdp = offerer.create_offer().await.unwrap();
                    for (at, len, with) in &cuts {
                        let chars: Vec<char> = sdp.chars().collect();
                        let start = at.index(chars.len() + 1);
                        let end = (start + len.index(40)).min(chars.len());
                        sdp = chars[..start].iter().chain(with.chars().collect::<Vec<_>>().iter()).chain(chars[end..].iter()).collect();
                    }
                    let (answerer, _) = Peer::new(&config).await.unwrap();
                    let _ = answerer.accept_offer(&sdp).await;
                    answerer.close().await;
                    offerer.close().await;
                });
            }
        }
    }
}
