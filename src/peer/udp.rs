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

/// The most datagrams one [`send_many`] call takes.
#[cfg(target_os = "linux")]
pub const SEND_MANY_MAX: usize = 64;

/// Sends the first [`SEND_MANY_MAX`] datagrams of `batch` (each to its address) on the UDP
/// socket `fd` with one `sendmmsg`, without waiting: how many went, from the first (the
/// kernel stops at the first it refuses, whose error comes back when it was the first).
/// The media engine's one way out; `benches/floor.rs` measures the machine with it.
#[cfg(target_os = "linux")]
pub fn send_many(
    fd: std::os::fd::RawFd,
    batch: &[(SocketAddr, bytes::BytesMut)],
) -> io::Result<usize> {
    let chunk = &batch[..batch.len().min(SEND_MANY_MAX)];
    let addrs: Vec<socket2::SockAddr> = chunk.iter().map(|(a, _)| (*a).into()).collect();
    let mut iovs: Vec<libc::iovec> = chunk
        .iter()
        .map(|(_, d)| libc::iovec {
            iov_base: d.as_ptr() as *mut libc::c_void,
            iov_len: d.len(),
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = addrs
        .iter()
        .zip(iovs.iter_mut())
        .map(|(addr, iov)| {
            // SAFETY: an all-zero msghdr is a valid empty one; the fields set point into
            // `addrs` and `iovs`, which outlive the call below.
            let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
            hdr.msg_name = addr.as_ptr() as *mut libc::c_void;
            hdr.msg_namelen = addr.len();
            hdr.msg_iov = iov;
            hdr.msg_iovlen = 1;
            libc::mmsghdr {
                msg_hdr: hdr,
                msg_len: 0,
            }
        })
        .collect();
    // SAFETY: `msgs` holds `msgs.len()` valid headers whose buffers and addresses live until
    // this returns; the kernel only reads them (and sets msg_len).
    let n = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), msgs.len() as _, 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
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
