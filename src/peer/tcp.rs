//! ICE over TCP (RFC 6544) for a server's engine, for clients behind firewalls that drop
//! UDP: a listener on each media socket's address and port (its passive TCP candidate), and
//! one pair of small tasks per accepted stream that turn RFC 4571's framing (a two-byte
//! length before each packet) into [`TcpEvent`]s for the engine and back. The engine's
//! task stays the only one that touches a connection; a stream only carries bytes.
//!
//! A stream must prove itself: its first frame, of at most [`FIRST_FRAME_MAX`] bytes, comes
//! within [`FIRST_FRAME`], and nothing more is read from it until the engine has taken it,
//! which it does only for a STUN Binding request naming a connection's username fragment
//! (and only after that connection's ICE agent has answered a check on it does anything but
//! STUN reach the connection: the engine's rule). Streams not yet taken
//! are capped per address ([`PENDING_PER_IP`]) and in all ([`MAX_STREAMS`]). A stream whose
//! far end stops reading loses what the engine sends it (the queue is bounded, the engine
//! never waits) and is closed when a write makes no progress for [`WRITE_STALL`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};

/// One TCP stream: the address its listener advertises (the candidate's) and its far end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct StreamKey {
    pub(crate) local: SocketAddr,
    pub(crate) peer: SocketAddr,
}

/// What the streams tell the engine.
#[derive(Debug)]
pub(crate) enum TcpEvent {
    /// A new stream and its first frame: what the engine sends it goes to `out`; the
    /// engine takes the stream by answering on `taken`, or lets it go (it closes) by
    /// dropping both.
    Opened {
        key: StreamKey,
        first: BytesMut,
        out: mpsc::Sender<BytesMut>,
        taken: oneshot::Sender<()>,
    },
    /// A packet came in on a stream the engine took.
    Frame(StreamKey, BytesMut),
    /// A stream the engine took ended (closed, broken, or its far end stopped reading).
    Closed(StreamKey),
}

/// Time a new stream has to send its first frame.
const FIRST_FRAME: Duration = Duration::from_secs(5);
/// The largest first frame (a STUN Binding request is a few hundred bytes).
const FIRST_FRAME_MAX: usize = 1500;
/// Streams from one address not yet taken by the engine; more are refused at once.
const PENDING_PER_IP: usize = 32;
/// A write that makes no progress for this long closes the stream.
const WRITE_STALL: Duration = Duration::from_secs(10);
/// Packets waiting for one stream's writer; more are dropped (as a full UDP buffer would).
const STREAM_QUEUE: usize = 512;
/// Streams open at once on one engine; more are refused at once.
const MAX_STREAMS: usize = 4096;

/// Binds a listener on each of `addrs` (bound address, advertised address) and accepts
/// on them until `events`' receiver is gone; the advertised addresses of those that bound
/// (one that cannot is logged and left out: its clients keep UDP).
pub(crate) fn listen(
    addrs: &[(SocketAddr, SocketAddr)],
    events: &mpsc::Sender<TcpEvent>,
) -> Vec<SocketAddr> {
    let limits = Arc::new(Limits::default());
    let mut bound = Vec::new();
    for &(at, advertised) in addrs {
        match bind(at) {
            Ok(listener) => {
                bound.push(advertised);
                tokio::spawn(accept(listener, advertised, events.clone(), limits.clone()));
            }
            Err(e) => tracing::warn!("no ICE over TCP on {at}: {e}; UDP only there"),
        }
    }
    bound
}

fn bind(at: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(at),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&at.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(socket.into())
}

/// The streams of an engine's listeners: how many are open, and how many from each address
/// the engine has not taken yet.
#[derive(Debug, Default)]
struct Limits {
    open: AtomicUsize,
    pending: Mutex<HashMap<IpAddr, usize>>,
}

/// A stream's place under the [`Limits`], given back when it is dropped.
struct Slot {
    limits: Arc<Limits>,
    ip: IpAddr,
    pending: bool,
}

impl Slot {
    /// A place for a new stream from `ip`, if the limits leave one.
    fn take(limits: &Arc<Limits>, ip: IpAddr) -> Option<Slot> {
        if limits.open.load(Ordering::Relaxed) >= MAX_STREAMS {
            return None;
        }
        let mut pending = limits.pending.lock().expect("pending lock");
        let n = pending.entry(ip).or_default();
        if *n >= PENDING_PER_IP {
            return None;
        }
        *n += 1;
        limits.open.fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            limits: limits.clone(),
            ip,
            pending: true,
        })
    }

    /// The engine took the stream: it no longer counts as pending.
    fn taken(&mut self) {
        if std::mem::take(&mut self.pending) {
            self.limits.unpend(self.ip);
        }
    }
}

impl Limits {
    fn unpend(&self, ip: IpAddr) {
        let mut pending = self.pending.lock().expect("pending lock");
        if let Some(n) = pending.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                pending.remove(&ip);
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.taken();
        self.limits.open.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn accept(
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    events: mpsc::Sender<TcpEvent>,
    limits: Arc<Limits>,
) {
    loop {
        let accepted = tokio::select! {
            () = events.closed() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let Some(slot) = Slot::take(&limits, peer.ip()) else {
                    tracing::debug!(%peer, "ICE-TCP stream refused: too many open");
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let key = StreamKey { local, peer };
                tokio::spawn(serve(stream, key, events.clone(), slot));
            }
            // Out of descriptors, or a connection reset before it was accepted: go on.
            Err(e) => {
                tracing::debug!("ICE-TCP accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    key: StreamKey,
    events: mpsc::Sender<TcpEvent>,
    mut slot: Slot,
) {
    let (mut read, write) = stream.into_split();
    let first = tokio::time::timeout(FIRST_FRAME, read_frame(&mut read, FIRST_FRAME_MAX)).await;
    let Ok(Ok(first)) = first else {
        tracing::debug!(peer = %key.peer, "ICE-TCP stream closed: no first frame in time");
        return;
    };
    let (out, rx) = mpsc::channel(STREAM_QUEUE);
    let (taken, answer) = oneshot::channel();
    let opened = TcpEvent::Opened {
        key,
        first,
        out,
        taken,
    };
    if events.send(opened).await.is_err() || answer.await.is_err() {
        return;
    }
    slot.taken();
    // Whichever half ends first (the far end closed or stopped reading, the engine let the
    // stream go) ends the stream; the engine hears once.
    let mut reader = tokio::spawn(read_frames(read, key, events.clone()));
    tokio::select! {
        () = write_frames(write, rx) => reader.abort(),
        _ = &mut reader => {}
    }
    let _ = events.send(TcpEvent::Closed(key)).await;
}

async fn read_frames(mut read: OwnedReadHalf, key: StreamKey, events: mpsc::Sender<TcpEvent>) {
    while let Ok(frame) = read_frame(&mut read, usize::from(u16::MAX)).await {
        if !frame.is_empty() && events.send(TcpEvent::Frame(key, frame)).await.is_err() {
            return;
        }
    }
}

/// One RFC 4571 frame: a two-byte length, then that many bytes (at most `max`).
async fn read_frame(read: &mut OwnedReadHalf, max: usize) -> std::io::Result<BytesMut> {
    let len = usize::from(read.read_u16().await?);
    if len > max {
        return Err(std::io::ErrorKind::InvalidData.into());
    }
    let mut frame = BytesMut::zeroed(len);
    read.read_exact(&mut frame).await?;
    Ok(frame)
}

async fn write_frames(mut write: OwnedWriteHalf, mut rx: mpsc::Receiver<BytesMut>) {
    let mut buf = Vec::with_capacity(64 * 1024);
    while let Some(packet) = rx.recv().await {
        buf.clear();
        frame(&packet, &mut buf);
        // Whatever else is waiting goes in the same write.
        while buf.len() < 60 * 1024
            && let Ok(packet) = rx.try_recv()
        {
            frame(&packet, &mut buf);
        }
        if !write_all(&mut write, &buf).await {
            break;
        }
    }
    let _ = write.shutdown().await;
}

/// Writes all of `buf`; false when a write failed or made no progress for [`WRITE_STALL`].
async fn write_all(write: &mut OwnedWriteHalf, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        match tokio::time::timeout(WRITE_STALL, write.write(buf)).await {
            Ok(Ok(n)) if n > 0 => buf = &buf[n..],
            _ => return false,
        }
    }
    true
}

/// Appends `packet` to `out` with RFC 4571's length before it (a packet too long for it,
/// which no connection sends, is left out).
fn frame(packet: &[u8], out: &mut Vec<u8>) {
    if let Ok(len) = u16::try_from(packet.len()) {
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(packet);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_framed_with_their_length() {
        let mut out = Vec::new();
        frame(&[1, 2, 3], &mut out);
        frame(&[], &mut out);
        assert_eq!(out, [0, 3, 1, 2, 3, 0, 0]);
        frame(&vec![0; 65_536], &mut out);
        assert_eq!(out.len(), 7, "too long for a frame: left out");
    }

    #[test]
    fn streams_not_yet_taken_are_capped_per_address_and_give_their_place_back() {
        let limits = Arc::new(Limits::default());
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let mut slots: Vec<Slot> = (0..PENDING_PER_IP)
            .map(|_| Slot::take(&limits, a).expect("room"))
            .collect();
        assert!(
            Slot::take(&limits, a).is_none(),
            "a's pending streams are capped"
        );
        let other = Slot::take(&limits, b).expect("another address has room");
        // Taken by the engine: no longer pending, still open.
        slots[0].taken();
        slots[0].taken();
        let again = Slot::take(&limits, a).expect("a place given back");
        assert_eq!(limits.open.load(Ordering::Relaxed), PENDING_PER_IP + 2);
        drop((slots, other, again));
        assert_eq!(limits.open.load(Ordering::Relaxed), 0);
        assert!(limits.pending.lock().unwrap().is_empty());
    }
}
