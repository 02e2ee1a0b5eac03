//! The media engine: sans-IO peer connections (`rtc`'s) multiplexed on shared UDP sockets,
//! all driven by one task. Datagrams come in on a socket, go to the connection the [`Mux`]
//! names, and whatever that connection then has to send, tell or deliver is drained at once:
//! no task, socket or lock per connection, and no timer per connection beyond one entry in a
//! heap. An impairment (`--impair`) is a stage on the sockets' path, as on a real link.
//!
//! Everything outside the task talks to a connection with commands: a closure run on the
//! connection for negotiation and questions (rare), and a queue for RTP (per packet; full,
//! the packet is dropped and counted, never waited for).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::event::{RTCPeerConnectionEvent, RTCTrackEvent};
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::state::RTCIceGatheringState;
use rtc::rtp_transceiver::{RTCRtpReceiverId, RTCRtpSenderId};
use rtc::sansio::Protocol;
use rtc::shared::{TransportContext, TransportMessage, TransportProtocol};
use tokio::sync::{mpsc, oneshot, watch};

use super::flight::Flights;
use super::mux::{ConnId, Mux};
use super::path::Path;
use super::tcp::{StreamKey, TcpEvent};
use super::{CodecExt, PeerError, PeerState, RemoteTrack};
use crate::impair::Link;
use crate::vocab::{Codec, Rtp};

/// RTP packets waiting for the engine, from every connection's senders together.
const RTP_QUEUE: usize = 16_384;
/// Packets one received track may hold before its reader; more are dropped and counted.
const TRACK_QUEUE: usize = 1024;
/// Datagrams read in one go before the engine looks at its other work.
const RECV_BURST: usize = 64;
/// Socket buffers asked of the kernel: every connection's traffic shares them.
const SOCKET_BUFFER: usize = 4 << 20;

/// A running engine: where its sockets are, and the way in.
#[derive(Clone)]
pub struct Engine {
    ctl: mpsc::UnboundedSender<Command>,
    rtp: mpsc::Sender<(ConnId, RTCRtpSenderId, rtc::rtp::Packet)>,
    /// The address each socket's host candidate advertises.
    candidates: Arc<Vec<SocketAddr>>,
    /// The addresses whose passive TCP candidates a listener stands behind (a server's).
    tcp_candidates: Arc<Vec<SocketAddr>>,
    next: Arc<AtomicU64>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Engine({:?})", self.candidates)
    }
}

/// What runs on a connection inside the engine's task.
type Call = Box<dyn FnOnce(&mut Conn, Instant) + Send>;

enum Command {
    Open(ConnId, Box<Conn>),
    Call(ConnId, Call),
    /// Closes the connection; the sender hears once its last datagrams are out.
    Close(ConnId, Option<oneshot::Sender<()>>),
    /// Asks a STUN server, from every socket of its address family, what address it sees
    /// that socket at: each answer is (the socket's candidate address, the mapped address).
    Reflexive(SocketAddr, Answers),
}

/// Where the answers of a STUN server go: (the asking socket's candidate address, the
/// address the server saw it at).
type Answers = mpsc::UnboundedSender<(SocketAddr, SocketAddr)>;

/// How often a STUN server is asked again while it has not answered.
const STUN_RESEND: Duration = Duration::from_millis(250);
/// Unanswered asks kept at most.
const STUN_ASKS: usize = 1024;

/// One connection as the engine holds it.
pub(crate) struct Conn {
    pub(crate) pc: RTCPeerConnection,
    pub(crate) sink: Sink,
    /// The deadline its entry in the timer heap is for.
    deadline: Option<Instant>,
    /// Where its far end is, followed when its address changes.
    path: Path,
    /// Its DTLS handshake's flights, until it is connected (`None` after).
    flights: Option<Flights>,
    /// Datagrams of its last flight to send again (socket, to whom, what).
    resend: Vec<(usize, SocketAddr, Vec<u8>)>,
    /// Send-only sections whose track ended, for the next track of their kind
    /// ([`super::LocalTrack::release`]).
    pub(crate) freed: Vec<super::Freed>,
    /// Sections whose codec the next answer picks.
    pub(crate) choices: Vec<super::choice::Choice>,
    /// The RTP its far end may send, from its description (when `checked`).
    granted: super::granted::Granted,
    /// Whether RTP its far end did not declare is dropped (a server's connections).
    checked: bool,
    /// Packets of RTP it was not granted, dropped.
    ungranted: u64,
    /// Its SRTP keys, as vcall derives them and checks them on its packets.
    keys: super::keys::Check,
    /// Received SRTCP dropped by its key check (no key of its handshake opens it, or it
    /// says it is not encrypted under AES-CM).
    unauthenticated: u64,
    /// What it sends, in one ledger with its chain ([`super::outgoing`]).
    pub(crate) ledger: super::outgoing::Ledger,
    /// How its RTP leaves.
    way: Way,
    /// Where rtc last sent DTLS or SRTP: where what the engine seals goes.
    media_to: Option<TransportContext>,
    /// RTP the engine sealed, to go out when the connection is drained.
    sealed: Vec<BytesMut>,
}

/// How a connection's RTP leaves.
enum Way {
    /// Through rtc's chain, sealed by rtc: until vcall's own keys are known and checked.
    Rtc,
    /// Numbered in the ledger and sealed by the engine (no chain, no copy before sealing).
    Beneath(super::seal::Sealer),
    /// Through rtc for good: its handshake ran again after the engine had sealed, so rtc's
    /// new contexts and the far end's start afresh together.
    RtcAgain,
}

impl Conn {
    /// An SRTP or SRTCP datagram it sent, for its key check while that runs.
    fn keys_sent(&mut self, datagram: &[u8]) {
        self.rekeyed();
        if self.keys.wants() && super::keys::is_srtp(datagram) {
            let outcome = self.keys.sent(datagram);
            keys_told(outcome);
        }
    }

    /// Whether an SRTP or SRTCP datagram it received goes on to the stack
    /// ([`super::keys::Check::received`]); dropped and counted when not.
    fn keys_admit(&mut self, datagram: &[u8], from: SocketAddr) -> bool {
        self.rekeyed();
        if !(self.keys.guards() || self.keys.wants()) || !super::keys::is_srtp(datagram) {
            return true;
        }
        let (admitted, outcome) = self.keys.received(datagram);
        keys_told(outcome);
        if !admitted {
            self.unauthenticated += 1;
            super::counts::add(&super::counts::UNAUTHENTICATED, 1);
            if self.unauthenticated.is_power_of_two() {
                tracing::info!(%from, dropped = self.unauthenticated, "SRTCP its keys do not open, or unencrypted under AES-CM: dropped");
            }
        }
        admitted
    }

    /// A handshake that ran again after the engine sealed sends RTP back through rtc for
    /// good: looked at before the key check takes the new handshake's keys (the first packet
    /// either way after it), so none is sealed under the old ones.
    fn rekeyed(&mut self) {
        if matches!(self.way, Way::Beneath(_)) && self.keys.is_fresh() {
            tracing::info!("DTLS ran again: RTP goes through rtc from here on");
            self.way = Way::RtcAgain;
            self.sealed.clear();
        }
    }

    /// Seals `packet` itself and keeps the datagram for the drain, once its keys allow
    /// ([`Way`]): whether rtc has something new to say (its first packet set the sender
    /// reports' timer); the packet back when it goes through rtc instead.
    fn seal(
        &mut self,
        mut packet: rtc::rtp::Packet,
        now: Instant,
        again: bool,
    ) -> Result<bool, rtc::rtp::Packet> {
        use rtc::shared::marshal::{Marshal, MarshalSize};
        if matches!(self.way, Way::Rtc)
            && self.media_to.is_some()
            && let Some(sealer) = self.keys.sealer()
        {
            tracing::debug!(?sealer, "RTP sealed by the engine from here on");
            self.way = Way::Beneath(sealer);
        }
        self.rekeyed();
        let Way::Beneath(sealer) = &mut self.way else {
            return Err(packet);
        };
        if self.media_to.is_none() {
            // No pair selected (ICE failed, or restarts): rtc would drop it too.
            return Ok(false);
        }
        let (roc, timer) = {
            let mut books = self.ledger.lock();
            let timer = !books.reports_due();
            let Some(roc) = books.sent(&mut packet, now, true, again) else {
                return Err(packet);
            };
            (roc, timer)
        };
        let size = packet.marshal_size();
        let mut datagram = BytesMut::zeroed(size);
        datagram.reserve(sealer.overhead());
        let header = packet.header.marshal_size();
        let sealed = packet.marshal_to(&mut datagram[..]).ok().and_then(|_| {
            let h = &packet.header;
            sealer
                .seal(&mut datagram, header, h.ssrc, h.sequence_number, roc)
                .ok()
        });
        match sealed {
            Some(()) => self.sealed.push(datagram),
            None => tracing::trace!("RTP not sealed"),
        }
        Ok(timer)
    }

    /// Retransmissions its ledger was asked for of packets the engine sealed.
    fn seal_resends(&mut self, now: Instant) {
        let resends = self.ledger.lock().take_resends();
        for p in resends {
            let _ = self.seal(p, now, true);
        }
    }

    /// RTP under an SSRC its far end did not declare came from `from`: dropped, counted.
    fn refused(&mut self, from: SocketAddr) {
        self.ungranted += 1;
        super::counts::add(&super::counts::UNGRANTED, 1);
        if self.ungranted.is_power_of_two() {
            tracing::info!(%from, dropped = self.ungranted, "RTP under an SSRC its far end did not declare: dropped");
        }
    }
}

/// What a connection's key check came to, in its log.
fn keys_told(outcome: super::keys::Outcome) {
    match outcome {
        super::keys::Outcome::Pending => {}
        super::keys::Outcome::Confirmed(profile) => {
            tracing::debug!("SRTP keys derived by vcall ({profile}) opened a packet each way");
        }
        super::keys::Outcome::Failed(why) => {
            tracing::info!(
                "SRTP keys not derived by vcall ({why}): its received SRTCP is left to rtc"
            );
        }
    }
}

/// Where a connection's events and media go.
pub(crate) struct Sink {
    pub(crate) state: watch::Sender<PeerState>,
    pub(crate) gathered: watch::Sender<bool>,
    pub(crate) tracks: mpsc::UnboundedSender<RemoteTrack>,
    /// Received tracks by their track id, as `rtc` tags their packets, with their receiver.
    remote: HashMap<String, (RTCRtpReceiverId, mpsc::Sender<Rtp>)>,
    /// Keyframe requests for the streams we send, by SSRC (rtc tags a compound RTCP packet
    /// with one track only, so the PLI's and FIR's own media SSRCs say whose it is).
    pub(crate) keyframes: HashMap<u32, mpsc::Sender<u32>>,
    /// The engine, for the remote tracks it makes.
    engine: Engine,
    id: ConnId,
    /// Packets dropped because a received track's reader fell behind.
    dropped: u64,
}

impl Engine {
    /// Binds the engine's sockets (one per local address, all on one port: `port`, or the
    /// first free one in `ports`) and starts its task. `public_ip` is what candidates advertise
    /// instead of the bound address.
    pub(crate) fn start(
        bind_ip: IpAddr,
        port: u16,
        ports: Option<(u16, u16)>,
        public_ip: Option<IpAddr>,
        network: &super::Network,
    ) -> Result<Engine, PeerError> {
        Engine::with_sockets(bind_ip, port, ports, public_ip, network, false)
    }

    /// An engine for one connection (a client's): [`Engine::start`] on any free port, whose
    /// sockets close with that connection, before its close returns (so the port is free
    /// again for whoever asks next).
    pub(crate) fn for_one(
        bind_ip: IpAddr,
        ports: Option<(u16, u16)>,
        public_ip: Option<IpAddr>,
        network: &super::Network,
    ) -> Result<Engine, PeerError> {
        Engine::with_sockets(bind_ip, 0, ports, public_ip, network, true)
    }

    fn with_sockets(
        bind_ip: IpAddr,
        port: u16,
        ports: Option<(u16, u16)>,
        public_ip: Option<IpAddr>,
        network: &super::Network,
        for_one: bool,
    ) -> Result<Engine, PeerError> {
        // Behind a 1:1 NAT (`public_ip`) every socket would advertise the same address:
        // one wildcard socket takes what the NAT forwards, whichever private address it is
        // forwarded to, and replies leave by the route to the client.
        let ips = match public_ip {
            Some(_) if bind_ip.is_unspecified() => vec![bind_ip],
            _ => local_ips(bind_ip),
        };
        let sockets = match ports {
            None => bind_all(&ips, port).map_err(|source| PeerError::Bind {
                addr: SocketAddr::new(ips[0], port),
                source,
            })?,
            Some((lo, hi)) => {
                (lo..=hi)
                    .find_map(|p| bind_all(&ips, p).ok())
                    .ok_or(PeerError::NoFreePort {
                        lo,
                        hi,
                        ip: bind_ip,
                    })?
            }
        };
        let (mut socks, mut links, mut addrs) = (Vec::new(), Vec::new(), Vec::new());
        for socket in sockets {
            let bound = socket.local_addr().map_err(PeerError::Io)?;
            let advertised = SocketAddr::new(public_ip.unwrap_or(bound.ip()), bound.port());
            addrs.push((bound, advertised));
            links.push(network.0.as_ref().map(|n| n.links()));
            socks.push(Sock {
                io: super::udp::Udp::new(socket).map_err(PeerError::Io)?,
                advertised,
            });
        }
        let candidates = Arc::new(socks.iter().map(|s| s.advertised).collect::<Vec<_>>());
        let (ctl, ctl_rx) = mpsc::unbounded_channel();
        let (rtp, rtp_rx) = mpsc::channel(RTP_QUEUE);
        let epoch = network.0.as_ref().map_or_else(Instant::now, |n| n.epoch());
        // Moves already past (an engine made after them) are not made at once.
        let mut rebinds = network.0.as_ref().map(|n| n.rebinds()).unwrap_or_default();
        rebinds.retain(|at| *at > Instant::now());
        if !for_one && !rebinds.is_empty() {
            // A server's candidates name its port, and an ICE-lite server sends no checks
            // that would show its clients the new one: nobody could follow.
            return Err(PeerError::Unsupported(
                "--impair rebind= moves a client's media sockets; a server's cannot move",
            ));
        }
        // A server's clients may reach it over TCP too (ICE-TCP), on the same port; a
        // client's engine opens nothing it would listen on.
        let (tcp_tx, tcp_rx) = mpsc::channel(TCP_EVENTS);
        let tcp_candidates = match for_one {
            true => Vec::new(),
            false => super::tcp::listen(&addrs, &tcp_tx),
        };
        drop(tcp_tx);
        let out = socks.iter().map(|_| Vec::new()).collect();
        let task = Task {
            tcp: HashMap::new(),
            out,
            socks,
            links,
            conns: HashMap::new(),
            mux: Mux::default(),
            timers: BinaryHeap::new(),
            held: BinaryHeap::new(),
            held_count: 0,
            epoch,
            unrouted: 0,
            dirty: Vec::new(),
            sealed: Vec::new(),
            turn: 0,
            for_one,
            closed: Vec::new(),
            rebinds,
            asks: HashMap::new(),
        };
        tokio::spawn(task.run(ctl_rx, rtp_rx, tcp_rx));
        Ok(Engine {
            ctl,
            rtp,
            candidates,
            tcp_candidates: Arc::new(tcp_candidates),
            next: Arc::new(AtomicU64::new(1)),
        })
    }

    /// The addresses its sockets' candidates advertise.
    pub(crate) fn candidates(&self) -> &[SocketAddr] {
        &self.candidates
    }

    /// The addresses of its passive TCP candidates (ICE-TCP; a server's engine only).
    pub(crate) fn tcp_candidates(&self) -> &[SocketAddr] {
        &self.tcp_candidates
    }

    /// Hands `pc` to the engine; its events go to `sink`'s watches and channel.
    pub(crate) fn open(
        &self,
        pc: RTCPeerConnection,
        (state, gathered, tracks): (
            watch::Sender<PeerState>,
            watch::Sender<bool>,
            mpsc::UnboundedSender<RemoteTrack>,
        ),
        checked: bool,
        (exported, ledger): (super::keys::Exported, super::outgoing::Ledger),
    ) -> Result<ConnId, PeerError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Conn {
            pc,
            sink: Sink {
                state,
                gathered,
                tracks,
                remote: HashMap::new(),
                keyframes: HashMap::new(),
                engine: self.clone(),
                id,
                dropped: 0,
            },
            deadline: None,
            path: Path::default(),
            flights: Some(Flights::default()),
            resend: Vec::new(),
            freed: Vec::new(),
            choices: Vec::new(),
            granted: super::granted::Granted::Any,
            checked,
            ungranted: 0,
            keys: super::keys::Check::new(exported),
            unauthenticated: 0,
            ledger,
            way: Way::Rtc,
            media_to: None,
            sealed: Vec::new(),
        };
        self.ctl
            .send(Command::Open(id, Box::new(conn)))
            .map_err(|_| PeerError::Closed)?;
        Ok(id)
    }

    /// Runs `f` on connection `id` in the engine's task and returns what it returned.
    pub(crate) async fn call<R: Send + 'static>(
        &self,
        id: ConnId,
        f: impl FnOnce(&mut Conn, Instant) -> R + Send + 'static,
    ) -> Result<R, PeerError> {
        let (tx, rx) = oneshot::channel();
        let call: Call = Box::new(move |conn, now| {
            let _ = tx.send(f(conn, now));
        });
        self.ctl
            .send(Command::Call(id, call))
            .map_err(|_| PeerError::Closed)?;
        rx.await.map_err(|_| PeerError::Closed)
    }

    /// Runs `f` on connection `id` in the engine's task, not waiting for it: it runs before
    /// any call made after this one.
    pub(crate) fn post(&self, id: ConnId, f: impl FnOnce(&mut Conn, Instant) + Send + 'static) {
        let _ = self.ctl.send(Command::Call(id, Box::new(f)));
    }

    /// Runs `f` on the peer connection `id` in the engine's task: [`Engine::call`] for
    /// what may fail.
    pub(crate) async fn on_pc<R: Send + 'static>(
        &self,
        id: ConnId,
        f: impl FnOnce(&mut RTCPeerConnection, Instant) -> Result<R, PeerError> + Send + 'static,
    ) -> Result<R, PeerError> {
        self.call(id, move |c, now| f(&mut c.pc, now)).await?
    }

    /// Queues one RTP packet for `sender` of connection `id`; false when the queue is full
    /// (the packet is dropped) or the engine has stopped.
    pub(crate) fn send_rtp(
        &self,
        id: ConnId,
        sender: RTCRtpSenderId,
        packet: rtc::rtp::Packet,
    ) -> bool {
        self.rtp.try_send((id, sender, packet)).is_ok()
    }

    /// Closes connection `id` (its DTLS close goes out) and forgets it.
    pub(crate) fn close(&self, id: ConnId) {
        let _ = self.ctl.send(Command::Close(id, None));
    }

    /// The server-reflexive addresses of the sockets as `server` (a STUN server) sees them:
    /// (the socket's candidate address, the mapped one), one per socket of the server's
    /// address family that got an answer within `wait` (asked again every 250 ms).
    pub(crate) async fn reflexive(
        &self,
        server: SocketAddr,
        wait: Duration,
    ) -> Vec<(SocketAddr, SocketAddr)> {
        let wanted = self
            .candidates
            .iter()
            .filter(|c| c.is_ipv4() == server.is_ipv4())
            .count();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let deadline = tokio::time::Instant::now() + wait;
        let mut found: Vec<(SocketAddr, SocketAddr)> = Vec::new();
        while found.len() < wanted && tokio::time::Instant::now() < deadline {
            if self
                .ctl
                .send(Command::Reflexive(server, tx.clone()))
                .is_err()
            {
                break;
            }
            let again = (tokio::time::Instant::now() + STUN_RESEND).min(deadline);
            while let Ok(Some(answer)) = tokio::time::timeout_at(again, rx.recv()).await {
                if !found.iter().any(|(base, _)| *base == answer.0) {
                    found.push(answer);
                }
                if found.len() >= wanted {
                    break;
                }
            }
        }
        found
    }

    /// [`Engine::close`], returning once its DTLS close has gone out.
    pub(crate) async fn closed(&self, id: ConnId) {
        let (tx, rx) = oneshot::channel();
        if self.ctl.send(Command::Close(id, Some(tx))).is_ok() {
            let _ = rx.await;
        }
    }
}

/// The addresses to bind for `ip`: itself, or for a wildcard every usable interface address
/// of its family (a wildcard socket cannot tell which address a datagram came to, which ICE
/// must know), or the wildcard itself when there is none.
fn local_ips(ip: IpAddr) -> Vec<IpAddr> {
    if !ip.is_unspecified() {
        return vec![ip];
    }
    let mut ips: Vec<IpAddr> = rtc::shared::ifaces::ifaces()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| i.addr.map(|a| a.ip()))
        .filter(|a| a.is_ipv4() == ip.is_ipv4() && !a.is_loopback() && !a.is_unspecified())
        .filter(|a| match a {
            IpAddr::V4(v4) => !v4.is_link_local(),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
        })
        .collect();
    ips.dedup();
    if ips.is_empty() {
        ips.push(ip);
    }
    ips
}

/// One socket per address in `ips`, all on `port` (the first one's, when `port` is 0).
fn bind_all(ips: &[IpAddr], mut port: u16) -> std::io::Result<Vec<std::net::UdpSocket>> {
    let mut out = Vec::new();
    for ip in ips {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(SocketAddr::new(*ip, port)),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        // Larger buffers: every connection's traffic shares them. The kernel caps what it
        // grants; too little is not an error.
        let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
        let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
        socket.bind(&SocketAddr::new(*ip, port).into())?;
        socket.set_nonblocking(true)?;
        let socket: std::net::UdpSocket = socket.into();
        port = socket.local_addr()?.port();
        out.push(socket);
    }
    Ok(out)
}

struct Sock {
    io: super::udp::Udp,
    advertised: SocketAddr,
}

/// A socket's outbound and inbound impairment, when the network is impaired.
type Links = Option<(Link, Link)>;

/// A datagram the impairment holds back until its time.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    at: Instant,
    /// Arrival order among datagrams due at the same instant.
    n: u64,
    inbound: bool,
    sock: usize,
    peer: SocketAddr,
    data: Vec<u8>,
}

/// An ICE-TCP stream the engine took: where its packets go, the connection its first STUN
/// request named, and whether that connection's ICE agent has answered a check on it
/// (before that, only STUN from it reaches the connection, as over UDP only STUN from an
/// address not yet proven does).
struct TcpStream {
    out: mpsc::Sender<BytesMut>,
    conn: ConnId,
    proven: bool,
}

/// ICE-TCP streams one connection may have.
const TCP_STREAMS_PER_CONN: usize = 8;

/// Events from ICE-TCP streams waiting for the engine.
const TCP_EVENTS: usize = 4096;

struct Task {
    socks: Vec<Sock>,
    /// ICE-TCP streams, by their candidate's address and far end.
    tcp: HashMap<StreamKey, TcpStream>,
    links: Vec<Links>,
    conns: HashMap<ConnId, Box<Conn>>,
    mux: Mux,
    /// (deadline, connection); an entry whose deadline the connection no longer has is stale.
    timers: BinaryHeap<Reverse<(Instant, ConnId)>>,
    held: BinaryHeap<Reverse<Held>>,
    held_count: u64,
    epoch: Instant,
    /// Datagrams no connection claimed.
    unrouted: u64,
    /// Connections touched since their last drain.
    dirty: Vec<ConnId>,
    /// Connections with datagrams the engine sealed and nothing else new: what they have
    /// to send is sent, and rtc is not asked (nothing reached it).
    sealed: Vec<ConnId>,
    /// Which socket `recv_any` looks at first.
    turn: usize,
    /// The engine ends when its connection closes.
    for_one: bool,
    /// Those waiting for their connection's close, told once the sockets are closed too
    /// (for an engine of one connection).
    closed: Vec<oneshot::Sender<()>>,
    /// Datagrams to send, per socket: sent together (`sendmmsg`) at the end of each turn.
    out: Vec<Vec<(SocketAddr, BytesMut)>>,
    /// When the sockets move to new ports (`--impair rebind=`), soonest first.
    rebinds: std::collections::VecDeque<Instant>,
    /// STUN Binding requests sent to servers (not a connection's), by transaction id: the
    /// asking socket's candidate address and who waits for the answer.
    asks: HashMap<[u8; 12], (SocketAddr, Answers)>,
}

impl Task {
    async fn run(
        mut self,
        mut ctl: mpsc::UnboundedReceiver<Command>,
        mut rtp: mpsc::Receiver<(ConnId, RTCRtpSenderId, rtc::rtp::Packet)>,
        mut tcp: mpsc::Receiver<TcpEvent>,
    ) {
        let mut buf = vec![0u8; 65_536];
        let sleep = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(sleep);
        loop {
            let next = self.next_deadline();
            if let Some(at) = next {
                sleep.as_mut().reset(at.into());
            }
            let mut last = false;
            tokio::select! {
                cmd = ctl.recv() => {
                    let Some(cmd) = cmd else { break };
                    self.command(cmd);
                    while let Ok(cmd) = ctl.try_recv() {
                        self.command(cmd);
                    }
                    last = self.for_one && self.conns.is_empty();
                }
                Some((id, sender, packet)) = rtp.recv() => {
                    let now = Instant::now();
                    self.write_rtp(id, sender, packet, now);
                    for _ in 0..RECV_BURST * 4 {
                        let Ok((id, sender, packet)) = rtp.try_recv() else { break };
                        self.write_rtp(id, sender, packet, now);
                    }
                }
                (i, from, n) = recv_any(&self.socks, &mut buf, &mut self.turn) => {
                    let now = Instant::now();
                    self.datagram(i, from, &buf[..n], now);
                    for _ in 1..RECV_BURST {
                        let Ok((n, from)) = self.socks[i].io.try_recv_from(&mut buf) else { break };
                        self.datagram(i, from, &buf[..n], now);
                    }
                }
                Some(event) = tcp.recv() => {
                    let now = Instant::now();
                    self.tcp_event(event, now);
                    for _ in 1..RECV_BURST {
                        let Ok(event) = tcp.try_recv() else { break };
                        self.tcp_event(event, now);
                    }
                }
                () = &mut sleep, if next.is_some() => self.due(Instant::now()),
            }
            self.drain();
            for (sock, out) in self.socks.iter().zip(&mut self.out) {
                if !out.is_empty() {
                    send_batch(&sock.io, out);
                    out.clear();
                }
            }
            // A closed connection's last datagrams are out: its closer hears (an engine of
            // one connection tells once its sockets are closed too, below).
            if !self.for_one {
                for done in self.closed.drain(..) {
                    let _ = done.send(());
                }
            }
            if last {
                break;
            }
        }
        let Task {
            socks,
            mut conns,
            closed,
            ..
        } = self;
        for (_, conn) in conns.iter_mut() {
            let _ = conn.pc.close();
        }
        drop(socks);
        for done in closed {
            let _ = done.send(());
        }
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        // Entries a connection's later deadline left behind would wake the task for nothing.
        while let Some(Reverse((at, id))) = self.timers.peek()
            && self.conns.get(id).is_none_or(|c| c.deadline != Some(*at))
        {
            self.timers.pop();
        }
        let timer = self.timers.peek().map(|Reverse((at, _))| *at);
        let held = self.held.peek().map(|Reverse(h)| h.at);
        [timer, held, self.rebinds.front().copied()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Each socket moves to a new port on its address, as when a NAT gives the flow a new
    /// mapping; the host candidates still name the old one (as a NAT's clients' do).
    fn rebind(&mut self) {
        for sock in &mut self.socks {
            let Ok(old) = sock.io.local_addr() else {
                continue;
            };
            let moved = bind_all(&[old.ip()], 0)
                .and_then(|mut s| s.pop().ok_or(std::io::ErrorKind::AddrNotAvailable.into()))
                .and_then(super::udp::Udp::new);
            match moved {
                Ok(io) => {
                    let to = io.local_addr().map(|a| a.port()).unwrap_or_default();
                    tracing::info!(
                        from = old.port(),
                        to,
                        "impairment: a media socket moved to a new port (rebind)"
                    );
                    sock.io = io;
                }
                Err(e) => tracing::warn!("impairment: a media socket could not move (rebind): {e}"),
            }
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Open(id, conn) => {
                self.conns.insert(id, conn);
                self.dirty.push(id);
            }
            Command::Call(id, call) => {
                if let Some(conn) = self.conns.get_mut(&id) {
                    let now = Instant::now();
                    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        call(conn, now);
                    }));
                    if ran.is_err() {
                        self.fail(id);
                        return;
                    }
                    self.dirty.push(id);
                }
            }
            Command::Close(id, done) => {
                if let Some(mut conn) = self.conns.remove(&id) {
                    let _ = conn.pc.close();
                    let now = Instant::now();
                    drain_conn(
                        &mut conn,
                        id,
                        &mut self.mux,
                        &self.socks,
                        &mut Sending {
                            now,
                            epoch: self.epoch,
                            tcp: &mut self.tcp,
                            links: &mut self.links,
                            held: &mut self.held,
                            count: &mut self.held_count,
                            out: &mut self.out,
                        },
                    );
                    let _ = conn.sink.state.send(PeerState::Closed);
                    if conn.sink.dropped > 0 {
                        tracing::debug!(
                            dropped = conn.sink.dropped,
                            "connection closed; packets dropped for slow readers"
                        );
                    }
                }
                self.mux.remove(id);
                self.tcp.retain(|_, s| s.conn != id);
                self.closed.extend(done);
            }
            Command::Reflexive(server, answers) => {
                if self.asks.len() >= STUN_ASKS {
                    self.asks.clear();
                }
                for (i, sock) in self.socks.iter().enumerate() {
                    if sock.advertised.is_ipv4() != server.is_ipv4() {
                        continue;
                    }
                    let Some((tx, request)) = binding_request() else {
                        continue;
                    };
                    self.asks.insert(tx, (sock.advertised, answers.clone()));
                    self.out[i].push((server, BytesMut::from(&request[..])));
                }
            }
        }
    }

    /// A connection whose stack panicked is dropped, failed; the others go on.
    fn fail(&mut self, id: ConnId) {
        tracing::warn!("a media connection's WebRTC stack panicked; that connection is closed");
        if let Some(conn) = self.conns.remove(&id) {
            let _ = conn.sink.state.send(PeerState::Failed);
        }
        self.mux.remove(id);
        self.tcp.retain(|_, s| s.conn != id);
    }

    fn write_rtp(
        &mut self,
        id: ConnId,
        sender: RTCRtpSenderId,
        packet: rtc::rtp::Packet,
        now: Instant,
    ) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        // Padding too: it shares its stream's sequence numbers, so the keys' rollover
        // counter, with the media.
        let packet = match conn.seal(packet, now, false) {
            Ok(false) => return self.sealed.push(id),
            Ok(true) => return self.dirty.push(id),
            Err(packet) => packet,
        };
        self.dirty.push(id);
        let Some(mut s) = conn.pc.rtp_sender(sender) else {
            return;
        };
        let written = match packet.header.padding && packet.payload.is_empty() {
            // A padding packet (`Rtp::padding`): its extensions are of ids nobody
            // negotiated, which the sender's own write refuses; it goes in below it.
            true => {
                let track = s.track().track_id().to_owned();
                let message = RTCMessage::RtpPacket(track, packet);
                conn.pc.handle_write(TaggedRTCMessage { now, message })
            }
            false => s.write_rtp(now, packet),
        };
        if let Err(e) = written {
            tracing::trace!("RTP not sent: {e}");
        }
    }

    /// A datagram from the wire: through the inbound impairment, to its connection.
    fn datagram(&mut self, sock: usize, from: SocketAddr, data: &[u8], now: Instant) {
        if let Some((_, inbound)) = &mut self.links[sock] {
            let arrivals = inbound.schedule(
                now - self.epoch,
                data.len(),
                super::impaired::is_media(data),
            );
            for at in arrivals.into_iter().flatten() {
                self.held_count += 1;
                self.held.push(Reverse(Held {
                    at: self.epoch + at,
                    n: self.held_count,
                    inbound: true,
                    sock,
                    peer: from,
                    data: data.to_vec(),
                }));
            }
            return;
        }
        self.deliver(sock, from, data, now);
    }

    fn deliver(&mut self, sock: usize, from: SocketAddr, data: &[u8], now: Instant) {
        // An answer to a STUN server ask: told by its transaction, read in place (a
        // connection's own check answers are not parsed).
        if !self.asks.is_empty()
            && let Some(tx) = super::mux::success_transaction(data)
            && let Some((base, answers)) = self.asks.remove(&tx)
        {
            if let Some(mapped) = mapped_address(data) {
                let _ = answers.send((base, mapped));
            }
            return;
        }
        let Some(id) = self.mux.route(data, from) else {
            self.unrouted += 1;
            super::counts::add(&super::counts::UNROUTED, 1);
            if self.unrouted.is_power_of_two() {
                tracing::debug!(%from, unrouted = self.unrouted, "datagram for no connection dropped");
            }
            return;
        };
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let local_addr = self.socks[sock].advertised;
        if let Some(flights) = conn.flights.as_mut() {
            let received = flights.on_received(data, now);
            if !received.again.is_empty() {
                tracing::debug!(%from, datagrams = received.again.len(), "the far end repeated its handshake flight; ours again");
                conn.resend
                    .extend(received.again.into_iter().map(|d| (sock, from, d)));
                self.dirty.push(id);
            }
            if !received.deliver {
                return;
            }
        }
        if !conn.granted.admits(data) {
            conn.refused(from);
            return;
        }
        if !conn.keys_admit(data, from) {
            return;
        }
        let (peer_addr, moved) = conn.path.inbound(from, is_stun(data), now);
        if let Some(to) = moved {
            tracing::info!(%to, "a far end's address changed (a NAT's new mapping?): its media follows it");
        }
        let transport = TransportContext {
            local_addr,
            peer_addr,
            ecn: None,
            transport_protocol: TransportProtocol::UDP,
        };
        self.read(id, transport, BytesMut::from(data), now);
    }

    /// Hands `message` to connection `id`'s stack.
    fn read(&mut self, id: ConnId, transport: TransportContext, message: BytesMut, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            conn.pc.handle_read(TransportMessage {
                now,
                transport,
                message,
            })
        }));
        if read.is_err() {
            self.fail(id);
            return;
        }
        self.dirty.push(id);
    }

    /// What an ICE-TCP stream tells: a new stream is taken when its first frame, a STUN
    /// request, names a connection that has room for it (else it is let go: closed); its
    /// frames go to that connection as datagrams do, past the impairment (`--impair` is
    /// UDP's) and the address and flight followers (a stream neither moves nor loses).
    fn tcp_event(&mut self, event: TcpEvent, now: Instant) {
        let (key, data) = match event {
            TcpEvent::Opened {
                key,
                first,
                out,
                taken,
            } => {
                let named = self.mux.named(&first);
                let Some(id) = named.filter(|id| self.conns.contains_key(id)) else {
                    tracing::debug!(peer = %key.peer, "ICE-TCP stream for no connection closed");
                    return;
                };
                let streams = self.tcp.values().filter(|s| s.conn == id).count();
                if streams >= TCP_STREAMS_PER_CONN || taken.send(()).is_err() {
                    return;
                }
                tracing::debug!(peer = %key.peer, "a connection's far end came over TCP (ICE-TCP)");
                let stream = TcpStream {
                    out,
                    conn: id,
                    proven: false,
                };
                self.tcp.insert(key, stream);
                (key, first)
            }
            TcpEvent::Closed(key) => {
                self.tcp.remove(&key);
                return;
            }
            TcpEvent::Frame(key, data) => (key, data),
        };
        let Some(stream) = self.tcp.get(&key) else {
            return;
        };
        if !stream.proven && !is_stun(&data) {
            return;
        }
        let id = stream.conn;
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if !conn.granted.admits(&data) {
            conn.refused(key.peer);
            return;
        }
        if !conn.keys_admit(&data, key.peer) {
            return;
        }
        let transport = TransportContext {
            local_addr: key.local,
            peer_addr: key.peer,
            ecn: None,
            transport_protocol: TransportProtocol::TCP,
        };
        self.read(id, transport, data, now);
    }

    /// Runs what is due: connections' timeouts and held datagrams.
    fn due(&mut self, now: Instant) {
        while self.rebinds.front().is_some_and(|at| *at <= now) {
            self.rebinds.pop_front();
            self.rebind();
        }
        while let Some(Reverse(h)) = self.held.peek()
            && h.at <= now
        {
            let Reverse(h) = self.held.pop().expect("peeked");
            if h.inbound {
                self.deliver(h.sock, h.peer, &h.data, now);
            } else {
                let _ = self.socks[h.sock].io.try_send_to(&h.data, h.peer);
            }
        }
        while let Some(Reverse((at, id))) = self.timers.peek().copied()
            && at <= now
        {
            self.timers.pop();
            let Some(conn) = self.conns.get_mut(&id) else {
                continue;
            };
            if conn.deadline != Some(at) {
                continue;
            }
            conn.deadline = None;
            let _ = conn.pc.handle_timeout(now);
            self.dirty.push(id);
        }
    }

    /// Drains every connection touched since the last time.
    fn drain(&mut self) {
        if self.dirty.is_empty() && self.sealed.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut sending = Sending {
            now,
            epoch: self.epoch,
            tcp: &mut self.tcp,
            links: &mut self.links,
            held: &mut self.held,
            count: &mut self.held_count,
            out: &mut self.out,
        };
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for id in dirty.drain(..) {
            let Some(conn) = self.conns.get_mut(&id) else {
                continue;
            };
            drain_conn(conn, id, &mut self.mux, &self.socks, &mut sending);
            // A deadline that has passed is run now (a connection drained often, by a
            // stream of packets, must not push its timers back), then once more 1 ms later
            // at the soonest, so a connection that keeps one cannot spin the task.
            if conn.pc.poll_timeout().is_some_and(|at| at <= now) {
                let _ = conn.pc.handle_timeout(now);
                drain_conn(conn, id, &mut self.mux, &self.socks, &mut sending);
            }
            let next = conn
                .pc
                .poll_timeout()
                .map(|at| at.max(now + Duration::from_millis(1)));
            if next != conn.deadline {
                conn.deadline = next;
                if let Some(at) = next {
                    self.timers.push(Reverse((at, id)));
                }
            }
        }
        self.dirty = dirty;
        // Those that only had sealed datagrams (a connection also drained above has none
        // left): rtc is not asked, nothing reached it.
        let mut sealed = std::mem::take(&mut self.sealed);
        sealed.sort_unstable();
        sealed.dedup();
        for id in sealed.drain(..) {
            if let Some(conn) = self.conns.get_mut(&id) {
                send_sealed(conn, id, &mut self.mux, &self.socks, &mut sending);
            }
        }
        self.sealed = sealed;
    }
}

/// Waits for a datagram on any of `socks`: (which socket, from where, its length).
/// Each call starts from the socket after the one the last started from, so a busy one does
/// not starve the others.
async fn recv_any(socks: &[Sock], buf: &mut [u8], turn: &mut usize) -> (usize, SocketAddr, usize) {
    *turn = (*turn + 1) % socks.len();
    let first = *turn;
    std::future::poll_fn(|cx| {
        for k in 0..socks.len() {
            let i = (first + k) % socks.len();
            let s = &socks[i];
            match s.io.poll_recv_from(cx, buf) {
                std::task::Poll::Ready(Ok((n, from))) => {
                    return std::task::Poll::Ready((i, from, n));
                }
                // ICMP errors (a peer's port closed) surface here on Linux: nothing to do.
                std::task::Poll::Ready(Err(_)) => {
                    cx.waker().wake_by_ref();
                    return std::task::Poll::Pending;
                }
                std::task::Poll::Pending => {}
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// The outbound half of the sockets' path, with the impairment's queue.
struct Sending<'a> {
    now: Instant,
    epoch: Instant,
    tcp: &'a mut HashMap<StreamKey, TcpStream>,
    links: &'a mut [Links],
    held: &'a mut BinaryHeap<Reverse<Held>>,
    count: &'a mut u64,
    out: &'a mut [Vec<(SocketAddr, BytesMut)>],
}

/// Everything `conn` has to send, tell and deliver, until it has nothing more. Each
/// `poll_write` runs the connection's whole write pipeline again, so a pass is repeated only
/// when events (which may queue writes: a finished handshake) were seen.
fn drain_conn(
    conn: &mut Conn,
    id: ConnId,
    mux: &mut Mux,
    socks: &[Sock],
    sending: &mut Sending<'_>,
) {
    for (i, peer, data) in conn.resend.drain(..) {
        send(i, peer, BytesMut::from(&data[..]), sending);
    }
    conn.seal_resends(sending.now);
    send_sealed(conn, id, mux, socks, sending);
    loop {
        while let Some(out) = conn.pc.poll_write() {
            conn.keys_sent(&out.message);
            if !is_stun(&out.message) {
                conn.media_to = Some(out.transport);
            }
            if out.transport.transport_protocol == TransportProtocol::UDP
                && let Some(flights) = conn.flights.as_mut()
            {
                flights.on_sent(&out.message);
            }
            route(conn, id, out.transport, out.message, mux, socks, sending);
        }
        let mut events = false;
        while let Some(event) = conn.pc.poll_event() {
            events = true;
            on_event(conn, event, mux, id);
        }
        while let Some(TaggedRTCMessage { message, .. }) = conn.pc.poll_read() {
            on_message(&mut conn.sink, message);
        }
        if !events {
            break;
        }
        // What a protocol queued in answer to an event leaves only at a timeout: DTLS's first
        // flight, when ICE selects a pair, would wait for the next ICE check (20 ms).
        let _ = conn.pc.handle_timeout(Instant::now());
    }
}

/// What the engine sealed for `conn`, on its way to where rtc sends.
fn send_sealed(
    conn: &mut Conn,
    id: ConnId,
    mux: &mut Mux,
    socks: &[Sock],
    sending: &mut Sending<'_>,
) {
    if let Some(to) = conn.media_to {
        for datagram in std::mem::take(&mut conn.sealed) {
            route(conn, id, to, datagram, mux, socks, sending);
        }
    }
}

/// One datagram of `conn`'s on its way: over TCP to its stream, or over UDP to the far end
/// where it is now ([`Path`]), from the socket of the local address it names.
fn route(
    conn: &mut Conn,
    id: ConnId,
    transport: TransportContext,
    message: BytesMut,
    mux: &mut Mux,
    socks: &[Sock],
    sending: &mut Sending<'_>,
) {
    if transport.transport_protocol == TransportProtocol::TCP {
        let key = StreamKey {
            local: transport.local_addr,
            peer: transport.peer_addr,
        };
        let proves = proves_address(&message);
        let taken = sending.tcp.get_mut(&key).is_some_and(|s| {
            s.proven |= proves;
            s.out.try_send(message).is_ok()
        });
        if !taken {
            super::counts::add(&super::counts::SOCKET_DROPS, 1);
        }
        return;
    }
    let stun = is_stun(&message);
    let peer = conn.path.outbound(transport.peer_addr, stun, sending.now);
    if proves_address(&message) {
        mux.learn(peer, id);
    } else {
        mux.sent(&message, id);
    }
    let i = socks
        .iter()
        .position(|s| s.advertised == transport.local_addr)
        .unwrap_or(0);
    send(i, peer, message, sending);
}

/// Whether sending `datagram` shows its destination is this connection's far end: an answer
/// to a check that carried this connection's password, or DTLS and SRTP (which go only to
/// the selected pair). Our own checks do not: they go to addresses the far end merely named,
/// which may be anyone's.
fn proves_address(datagram: &[u8]) -> bool {
    const BINDING_SUCCESS: [u8; 2] = [0x01, 0x01];
    !is_stun(datagram) || datagram.get(..2) == Some(&BINDING_SUCCESS[..])
}

/// A STUN Binding request with a fresh transaction id: (the id, the datagram).
fn binding_request() -> Option<([u8; 12], Vec<u8>)> {
    use rtc::stun::message::{BINDING_REQUEST, Message, TransactionId};
    let mut m = Message::new();
    m.build(&[Box::new(BINDING_REQUEST), Box::new(TransactionId::new())])
        .ok()?;
    Some((m.transaction_id.0, m.raw))
}

/// The XOR-MAPPED-ADDRESS a STUN Binding success carries.
fn mapped_address(datagram: &[u8]) -> Option<SocketAddr> {
    use rtc::stun::message::{Getter, Message};
    use rtc::stun::xoraddr::XorMappedAddress;
    let mut m = Message::new();
    m.unmarshal_binary(datagram).ok()?;
    let mut mapped = XorMappedAddress::default();
    mapped.get_from(&m).ok()?;
    Some(SocketAddr::new(mapped.ip, mapped.port))
}

/// Whether `datagram` is a STUN message (RFC 7983's demultiplexing: first byte 0–3).
fn is_stun(datagram: &[u8]) -> bool {
    matches!(datagram.first(), Some(0..=3))
}

fn send(i: usize, peer: SocketAddr, data: BytesMut, sending: &mut Sending<'_>) {
    if let Some((outbound, _)) = &mut sending.links[i] {
        let now = sending.now;
        let media = super::impaired::is_media(&data);
        for at in outbound
            .schedule(now - sending.epoch, data.len(), media)
            .into_iter()
            .flatten()
        {
            let at = sending.epoch + at;
            if at <= now {
                sending.out[i].push((peer, data.clone()));
                continue;
            }
            *sending.count += 1;
            sending.held.push(Reverse(Held {
                at,
                n: *sending.count,
                inbound: false,
                sock: i,
                peer,
                data: data.to_vec(),
            }));
        }
        return;
    }
    sending.out[i].push((peer, data));
}

/// Sends `batch` on `io`: with one `sendmmsg` per 64 datagrams on Linux. A datagram the
/// socket refuses is dropped (NACK and keyframes repair media), as is the rest of the batch
/// when the socket's buffer is full.
fn send_batch(io: &super::udp::Udp, batch: &[(SocketAddr, BytesMut)]) {
    #[cfg(target_os = "linux")]
    {
        let mut rest = batch;
        while !rest.is_empty() {
            match super::udp::send_many(io.raw_fd(), rest) {
                Ok(n) if n > 0 => rest = &rest[n..],
                Ok(_) => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    super::counts::add(&super::counts::SOCKET_DROPS, rest.len() as u64);
                    tracing::trace!(
                        dropped = rest.len(),
                        "socket buffer full: datagrams not sent"
                    );
                    return;
                }
                Err(e) => {
                    tracing::trace!(peer = %rest[0].0, "datagram not sent: {e}");
                    rest = &rest[1..];
                }
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    for (peer, data) in batch {
        if let Err(e) = io.try_send_to(data, *peer) {
            tracing::trace!(%peer, "datagram not sent: {e}");
        }
    }
}

fn on_event(conn: &mut Conn, event: RTCPeerConnectionEvent, mux: &mut Mux, id: ConnId) {
    match event {
        RTCPeerConnectionEvent::OnConnectionStateChangeEvent(state) => {
            if state == rtc::peer_connection::state::RTCPeerConnectionState::Connected {
                // Its handshake is over: nothing more to send again.
                conn.flights = None;
            }
            if let Some(s) = PeerState::told(state) {
                let _ = conn.sink.state.send(s);
            }
        }
        RTCPeerConnectionEvent::OnIceConnectionStateChangeEvent(state) => {
            use rtc::peer_connection::state::RTCIceConnectionState as Ice;
            match state {
                // A pair selected anew (an ICE restart) is learned from what rtc sends on
                // it (`media_to`): its sender reports go now, so what the engine seals
                // follows at once.
                Ice::Connected => conn.ledger.lock().report_soon(Instant::now()),
                // No pair to send on (rtc drops what it would send): nor does the engine,
                // until rtc sends on a pair again.
                Ice::Checking | Ice::Failed | Ice::Closed => {
                    conn.media_to = None;
                    conn.sealed.clear();
                }
                _ => {}
            }
        }
        RTCPeerConnectionEvent::OnIceGatheringStateChangeEvent(state) => {
            let _ = conn
                .sink
                .gathered
                .send(state == RTCIceGatheringState::Complete);
        }
        RTCPeerConnectionEvent::OnSignalingStateChangeEvent(_) => {
            // A new local description may carry new ICE credentials (a restart).
            if let Some(desc) = conn.pc.local_description() {
                for ufrag in super::ice_ufrags(&desc.sdp) {
                    mux.name(ufrag, id);
                }
            }
            // A new remote one may declare new SSRCs, or none any more.
            if conn.checked
                && let Some(desc) = conn.pc.remote_description()
            {
                conn.granted = super::granted::Granted::from_sdp(&desc.sdp);
            }
        }
        RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnOpen(init)) => {
            // A simulcast track opens once per layer; its packets, every layer's, already
            // go to the track the first one made.
            if conn.sink.remote.contains_key(&init.track_id) {
                tracing::debug!(rid = ?init.rid, ssrc = init.ssrc, "another layer of a track");
                return;
            }
            let Some(receiver) = conn.pc.rtp_receiver(init.receiver_id) else {
                return;
            };
            let track = receiver.track();
            let mime = track
                .codec(init.ssrc)
                .map(|c| c.mime_type.clone())
                .unwrap_or_default();
            let Some(codec) = Codec::from_mime(&mime) else {
                tracing::warn!("remote track with unsupported codec {mime:?} ignored");
                return;
            };
            let (stream_id, track_id) = (track.stream_id().clone(), track.track_id().clone());
            let mid = conn
                .pc
                .rtp_transceiver(init.receiver_id.into())
                .and_then(|t| t.mid().clone());
            let (tx, rx) = mpsc::channel(TRACK_QUEUE);
            // A section the far end reuses for another stream has a new track: the old one,
            // which will carry nothing more (rtc tells no track's end), ends here.
            conn.sink.remote.retain(|_, (r, _)| *r != init.receiver_id);
            conn.sink
                .remote
                .insert(init.track_id.clone(), (init.receiver_id, tx));
            let layers = match (&mid, conn.pc.remote_description()) {
                (Some(mid), Some(desc)) if init.rid.is_some() => super::send_rids(&desc.sdp, mid),
                _ => 0,
            };
            let mut remote = RemoteTrack::on_engine(
                codec,
                init.ssrc,
                mid,
                (stream_id, track_id, init.rid.clone()),
                super::EngineRemote {
                    engine: conn.sink.engine.clone(),
                    conn: conn.sink.id,
                    receiver: init.receiver_id,
                    packets: tokio::sync::Mutex::new(rx),
                },
            );
            remote.layers = layers;
            tracing::debug!(mid = ?remote.mid, stream = %remote.stream_id, ?codec, layers, "remote track");
            let _ = conn.sink.tracks.send(remote);
        }
        RTCPeerConnectionEvent::OnTrack(RTCTrackEvent::OnClose(track_id)) => {
            conn.sink.remote.remove(&track_id);
        }
        _ => {}
    }
}

fn on_message(sink: &mut Sink, message: RTCMessage) {
    match message {
        RTCMessage::RtpPacket(track_id, packet) => {
            if let Some((_, tx)) = sink.remote.get(&track_id)
                && let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(Rtp(packet))
            {
                sink.dropped += 1;
                super::counts::add(&super::counts::READER_DROPS, 1);
            }
        }
        RTCMessage::RtcpPacket(_, packets) => {
            // Only packets with keyframe requests are let through to here (`RtcpTap`).
            for ssrc in super::keyframes_asked(&packets) {
                if let Some(tx) = sink.keyframes.get(&ssrc) {
                    let _ = tx.try_send(ssrc);
                }
            }
        }
        _ => {}
    }
}
