//! `--impair` applied where the datagrams are: a webrtc-rs `Runtime` that is tokio's in every
//! way but one — the UDP sockets it wraps pass each datagram, sent or received, through an
//! `impair::Link` that drops, delays, duplicates or reorders it. Everything above the socket
//! (ICE, DTLS, SRTP, NACK, the recorder) meets the bad network as it would meet a real one.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::ReadBuf;
use tokio::sync::mpsc;
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, RecvMeta, Runtime,
    TokioRuntime, Transmit,
};

use crate::impair::{Impairment, Link};

/// Tokio's runtime with impaired UDP sockets; one per process, so every socket shares the
/// epoch that outages are timed from.
#[derive(Debug)]
pub(crate) struct ImpairedRuntime {
    spec: Impairment,
    epoch: Instant,
    /// Numbers the sockets' links, so that each direction of each socket draws its own
    /// (repeatable) random sequence.
    sockets: AtomicU64,
}

impl ImpairedRuntime {
    pub(crate) fn new(spec: Impairment) -> ImpairedRuntime {
        ImpairedRuntime {
            spec,
            epoch: Instant::now(),
            sockets: AtomicU64::new(0),
        }
    }
}

impl ImpairedRuntime {
    /// The outbound and inbound links of one more socket.
    pub(crate) fn links(&self) -> (Link, Link) {
        let n = self.sockets.fetch_add(1, Ordering::Relaxed);
        (
            Link::new(&self.spec, 2 * n),
            Link::new(&self.spec, 2 * n + 1),
        )
    }

    /// What outages are timed from.
    pub(crate) fn epoch(&self) -> Instant {
        self.epoch
    }

    /// When the media sockets are to move to new ports (`rebind=`), soonest first.
    pub(crate) fn rebinds(&self) -> std::collections::VecDeque<Instant> {
        self.spec
            .rebinds
            .iter()
            .map(|at| self.epoch + *at)
            .collect()
    }
}

impl Runtime for ImpairedRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        TokioRuntime.spawn(future)
    }

    fn spawn_reactor(
        &self,
        reactor_pool_size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        TokioRuntime.spawn_reactor(reactor_pool_size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        socket.set_nonblocking(true)?;
        let io = Arc::new(tokio::net::UdpSocket::from_std(socket)?);
        let n = self.sockets.fetch_add(1, Ordering::Relaxed);
        let (later, queue) = mpsc::unbounded_channel();
        tokio::spawn(send_later(Arc::clone(&io), queue));
        Ok(Arc::new(ImpairedSocket {
            io,
            epoch: self.epoch,
            outbound: Mutex::new(Link::new(&self.spec, 2 * n)),
            later,
            inbound: Mutex::new(Inbound {
                link: Link::new(&self.spec, 2 * n + 1),
                held: BinaryHeap::new(),
                timer: None,
                buf: vec![0; 65_536],
                count: 0,
            }),
        }))
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        TokioRuntime.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        TokioRuntime.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move { tokio::net::lookup_host(host).await.map(Iterator::collect) })
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        TokioRuntime.sleep(duration)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        TokioRuntime.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        TokioRuntime.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        TokioRuntime.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio (impaired)"
    }
}

/// A datagram waiting for its time: sent later, or handed to the reader later.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    at: Instant,
    /// Arrival order, so that datagrams due at the same instant keep it.
    n: u64,
    peer: SocketAddr,
    data: Vec<u8>,
}

#[derive(Debug)]
struct Inbound {
    link: Link,
    held: BinaryHeap<Reverse<Held>>,
    /// Wakes the reader when the earliest held datagram is due.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    buf: Vec<u8>,
    count: u64,
}

#[derive(Debug)]
struct ImpairedSocket {
    io: Arc<tokio::net::UdpSocket>,
    epoch: Instant,
    outbound: Mutex<Link>,
    /// Datagrams to send at a later time, to the task that sends them.
    later: mpsc::UnboundedSender<Held>,
    inbound: Mutex<Inbound>,
}

impl AsyncUdpSocket for ImpairedSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        // Drawn only once the socket can take the datagram, so a retry draws nothing twice.
        std::task::ready!(self.io.poll_send_ready(cx))?;
        let now = Instant::now();
        let arrivals = self
            .outbound
            .lock()
            .expect("impairment link poisoned")
            .schedule(
                now - self.epoch,
                transmit.contents.len(),
                is_media(transmit.contents),
            );
        for at in arrivals.into_iter().flatten() {
            let at = self.epoch + at;
            if at <= now {
                match self.io.try_send_to(transmit.contents, transmit.destination) {
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Poll::Ready(Err(e)),
                    _ => continue,
                }
            }
            let _ = self.later.send(Held {
                at,
                n: 0,
                peer: transmit.destination,
                data: transmit.contents.to_vec(),
            });
        }
        Poll::Ready(Ok(transmit.contents.len()))
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let mut guard = self.inbound.lock().expect("impairment link poisoned");
        let inbound = &mut *guard;
        loop {
            let now = Instant::now();
            if inbound.held.peek().is_some_and(|Reverse(h)| h.at <= now) {
                let Reverse(held) = inbound.held.pop().expect("peeked");
                let len = held.data.len().min(bufs[0].len());
                bufs[0][..len].copy_from_slice(&held.data[..len]);
                let mut m = RecvMeta::default();
                (m.addr, m.len, m.stride) = (held.peer, len, len.max(1));
                (m.ecn, m.dst_ip) = (None, None);
                meta[0] = m;
                return Poll::Ready(Ok(1));
            }
            let mut read = ReadBuf::new(&mut inbound.buf);
            match self.io.poll_recv_from(cx, &mut read) {
                Poll::Ready(Ok(peer)) => {
                    let len = read.filled().len();
                    let media = is_media(&inbound.buf[..len]);
                    for at in inbound
                        .link
                        .schedule(now - self.epoch, len, media)
                        .into_iter()
                        .flatten()
                    {
                        inbound.count += 1;
                        let data = inbound.buf[..len].to_vec();
                        inbound.held.push(Reverse(Held {
                            at: self.epoch + at,
                            n: inbound.count,
                            peer,
                            data,
                        }));
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    let Some(Reverse(next)) = inbound.held.peek() else {
                        return Poll::Pending;
                    };
                    let deadline = tokio::time::Instant::from_std(next.at);
                    let timer = inbound
                        .timer
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                    timer.as_mut().reset(deadline);
                    if timer.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}

/// Whether a datagram is RTP or RTCP (RFC 7983: a first byte of 128 to 191) rather than STUN
/// or DTLS. Random loss is for media only: with handshake datagrams lost at random on a busy
/// machine, webrtc-rs 0.21's connection setup was seen to stall for 20 s and more, which is
/// not what a drill of the media is for.
pub(crate) fn is_media(datagram: &[u8]) -> bool {
    matches!(datagram.first(), Some(128..=191))
}

/// Sends each held datagram at its time, until the socket is dropped.
async fn send_later(io: Arc<tokio::net::UdpSocket>, mut queue: mpsc::UnboundedReceiver<Held>) {
    let mut held = BinaryHeap::new();
    let mut count = 0u64;
    loop {
        let next = held.peek().map(|Reverse(h): &Reverse<Held>| h.at);
        tokio::select! {
            item = queue.recv() => match item {
                Some(mut item) => {
                    count += 1;
                    item.n = count;
                    held.push(Reverse(item));
                }
                None => return,
            },
            () = sleep_until(next) => {
                let Reverse(item) = held.pop().expect("a deadline means a datagram");
                let _ = io.send_to(&item.data, item.peer).await;
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
