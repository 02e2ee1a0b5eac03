//! A media engine's UDP socket, watched for reading only.
//!
//! Tokio's `UdpSocket` registers every socket for writing too, and Linux reports a UDP
//! socket writable again each time a sent datagram's buffer is freed: each datagram the
//! engine sent woke its thread once more, for nothing. The engine never waits to write — a
//! datagram the socket buffer cannot take is dropped, as the network would drop it — so its
//! sockets are registered for reading alone, and sending is a plain non-blocking call.

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use tokio::io::{Interest, unix::AsyncFd};

pub(crate) struct Udp(AsyncFd<std::net::UdpSocket>);

impl Udp {
    /// Takes a bound, non-blocking socket. Must be called within the runtime.
    pub(crate) fn new(socket: std::net::UdpSocket) -> io::Result<Udp> {
        // SAFETY: the socket is owned by the `AsyncFd` and never handed out by value, so its
        // descriptor stays open and the same for as long as the registration.
        let io = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }?;
        Ok(Udp(io))
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().local_addr()
    }

    /// The next datagram, when one is waiting; registers the task's waker otherwise.
    pub(crate) fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        loop {
            let mut ready = std::task::ready!(self.0.poll_read_ready(cx))?;
            // Readiness that reads since used up is cleared here; the loop then waits.
            if let Ok(got) = ready.try_io(|s| s.get_ref().recv_from(buf)) {
                return Poll::Ready(got);
            }
        }
    }

    /// A datagram if one is waiting (`WouldBlock` if none).
    pub(crate) fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.get_ref().recv_from(buf)
    }

    /// Sends at once; `WouldBlock` when the socket buffer is full.
    pub(crate) fn try_send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.0.get_ref().send_to(data, to)
    }

    /// For `sendmmsg`, which the standard library has no call for.
    #[cfg(target_os = "linux")]
    pub(crate) fn raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound() -> Udp {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_nonblocking(true).unwrap();
        Udp::new(s).unwrap()
    }

    #[tokio::test]
    async fn sends_and_reads_without_waiting_to_write() {
        let (a, b) = (bound(), bound());
        let mut buf = [0u8; 64];
        assert_eq!(
            b.try_recv_from(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        for i in 0..3u8 {
            assert_eq!(a.try_send_to(&[i; 5], b.local_addr().unwrap()).unwrap(), 5);
        }
        // The first through readiness, the rest as the engine reads a burst.
        let (n, from) = std::future::poll_fn(|cx| b.poll_recv_from(cx, &mut buf))
            .await
            .unwrap();
        assert_eq!((n, from, buf[0]), (5, a.local_addr().unwrap(), 0));
        for i in 1..3u8 {
            assert_eq!(b.try_recv_from(&mut buf).unwrap().0, 5);
            assert_eq!(buf[0], i);
        }
        // Readiness the burst used up is cleared: the next read waits.
        let waiting = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(b.poll_recv_from(cx, &mut buf).is_pending())
        });
        assert!(waiting.await);
    }
}
