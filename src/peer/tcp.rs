//! ICE over TCP (RFC 6544) for a server's engine, for clients behind firewalls that drop
//! UDP: a listener on each media socket's address and port (its passive TCP candidate), and
//! one pair of small tasks per accepted stream that turn RFC 4571's framing (a two-byte
//! length before each packet) into [`TcpEvent`]s for the engine and back. The engine's
//! task stays the only one that touches a connection; a stream only carries bytes.
//!
//! A stream must prove itself: its first frame is a STUN message within [`FIRST_FRAME`], and
//! the engine drops it unless that is a Binding request naming a connection's username
//! fragment. A stream whose far end stops reading loses what the engine sends it (the queue
//! is bounded, the engine never waits) and is closed after [`WRITE_STALL`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

/// One TCP stream: the address its listener advertises (the candidate's) and its far end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct StreamKey {
    pub(crate) local: SocketAddr,
    pub(crate) peer: SocketAddr,
}

/// What the streams tell the engine.
#[derive(Debug)]
pub(crate) enum TcpEvent {
    /// A stream was accepted: what the engine sends it goes here.
    Opened(StreamKey, mpsc::Sender<BytesMut>),
    /// A packet came in on it.
    Frame(StreamKey, BytesMut),
    /// It ended (closed, broken, or it did not prove itself).
    Closed(StreamKey),
}

/// Time a new stream has to send its first frame.
const FIRST_FRAME: Duration = Duration::from_secs(10);
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
    let open = Arc::new(AtomicUsize::new(0));
    let mut bound = Vec::new();
    for &(at, advertised) in addrs {
        match bind(at) {
            Ok(listener) => {
                bound.push(advertised);
                tokio::spawn(accept(listener, advertised, events.clone(), open.clone()));
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

async fn accept(
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    events: mpsc::Sender<TcpEvent>,
    open: Arc<AtomicUsize>,
) {
    loop {
        let accepted = tokio::select! {
            () = events.closed() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                if open.load(Ordering::Relaxed) >= MAX_STREAMS {
                    tracing::debug!(%peer, "ICE-TCP stream refused: {MAX_STREAMS} open");
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let key = StreamKey { local, peer };
                tokio::spawn(serve(stream, key, events.clone(), open.clone()));
            }
            // Out of descriptors, or a connection reset before it was accepted: go on.
            Err(e) => {
                tracing::debug!("ICE-TCP accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Counts a stream as open while it lives.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    key: StreamKey,
    events: mpsc::Sender<TcpEvent>,
    open: Arc<AtomicUsize>,
) {
    open.fetch_add(1, Ordering::Relaxed);
    let _open = Open(open);
    let (read, write) = stream.into_split();
    let (tx, rx) = mpsc::channel(STREAM_QUEUE);
    if events.send(TcpEvent::Opened(key, tx)).await.is_err() {
        return;
    }
    let reader = tokio::spawn(read_frames(read, key, events));
    // Ends when the engine lets the stream go (its connection closed, or the stream ended
    // and was told) or the far end stopped reading; the reader goes with it.
    write_frames(write, rx).await;
    reader.abort();
}

async fn read_frames(mut read: OwnedReadHalf, key: StreamKey, events: mpsc::Sender<TcpEvent>) {
    let mut first = true;
    loop {
        let frame = match first {
            true => tokio::time::timeout(FIRST_FRAME, read_frame(&mut read))
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
            false => read_frame(&mut read).await,
        };
        let Ok(frame) = frame else { break };
        if first && !matches!(frame.first(), Some(0..=3)) {
            tracing::debug!(peer = %key.peer, "ICE-TCP stream closed: its first frame is not STUN");
            break;
        }
        first = false;
        if !frame.is_empty() && events.send(TcpEvent::Frame(key, frame)).await.is_err() {
            return;
        }
    }
    let _ = events.send(TcpEvent::Closed(key)).await;
}

/// One RFC 4571 frame: a two-byte length, then that many bytes.
async fn read_frame(read: &mut OwnedReadHalf) -> std::io::Result<BytesMut> {
    let len = usize::from(read.read_u16().await?);
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
        match tokio::time::timeout(WRITE_STALL, write.write_all(&buf)).await {
            Ok(Ok(())) => {}
            _ => break,
        }
    }
    let _ = write.shutdown().await;
}

/// Appends `packet` to `out` with RFC 4571's length before it (a packet too long for it,
/// which no connection sends, is left out).
pub(crate) fn frame(packet: &[u8], out: &mut Vec<u8>) {
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
}
