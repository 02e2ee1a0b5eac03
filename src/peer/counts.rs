//! What the WebRTC layer drops or repairs, counted for the whole process: read by `vcall
//! serve`'s `/metrics` (the server has one engine; a client's counts are its own). Each is
//! one relaxed atomic add where it happens; nothing here is on a lock.

use std::sync::atomic::{AtomicU64, Ordering};

/// Datagrams on a shared media port that no connection claimed (strangers, late packets of
/// a closed connection).
pub(crate) static UNROUTED: AtomicU64 = AtomicU64::new(0);
/// Received packets dropped because their track's reader's queue was full.
pub(crate) static READER_DROPS: AtomicU64 = AtomicU64::new(0);
/// Datagrams not sent because the socket's buffer was full.
pub(crate) static SOCKET_DROPS: AtomicU64 = AtomicU64::new(0);
/// RTP packets under an SSRC their connection's far end did not declare (a subscriber
/// sending media, a peer using another's SSRC), dropped before the WebRTC stack.
pub(crate) static UNGRANTED: AtomicU64 = AtomicU64::new(0);
/// SRTCP packets no key of their connection's handshake opens, or that say they are not
/// encrypted under AES-CM (`keys.rs`): not the far end's.
pub(crate) static UNAUTHENTICATED: AtomicU64 = AtomicU64::new(0);
/// Packets the far ends asked for again (NACK).
pub(crate) static NACKED: AtomicU64 = AtomicU64::new(0);
/// Of those, the ones let through to be sent again (`NackGate`: not already on their way).
pub(crate) static NACK_ADMITTED: AtomicU64 = AtomicU64::new(0);

pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// The process's totals so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub unrouted: u64,
    pub reader_drops: u64,
    pub socket_drops: u64,
    pub ungranted: u64,
    pub unauthenticated: u64,
    pub nacked: u64,
    pub nack_admitted: u64,
}

pub fn counts() -> Counts {
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    Counts {
        unrouted: get(&UNROUTED),
        reader_drops: get(&READER_DROPS),
        socket_drops: get(&SOCKET_DROPS),
        ungranted: get(&UNGRANTED),
        unauthenticated: get(&UNAUTHENTICATED),
        nacked: get(&NACKED),
        nack_admitted: get(&NACK_ADMITTED),
    }
}
