//! Where a connection's far end is, when its address changes under an established call (a
//! NAT gives the flow a new mapping: "NAT rebinding"). rtc's ICE agent keeps sending to the
//! pair it selected, and an ICE-lite agent never selects another, so the engine follows the
//! far end itself, as a NAT would translate: once the far end has shown a new address is its
//! own (it answered a check there, which only the password's holder can make it do, so the
//! [`super::mux::Mux`] routes that address to the connection) and media comes from there
//! while the old address has gone quiet, what rtc sends to the old address goes to the new
//! one, and what comes from the new one is shown to rtc as from the old (so its consent
//! freshness holds). Pure: no socket, no clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long the far end's address must have been silent before media from another of its
/// proven addresses moves the connection there. A live path carries media or feedback many
/// times a second; checks alone (a browser testing its other pairs) never move it.
pub(crate) const QUIET: Duration = Duration::from_millis(500);

#[derive(Debug, Default)]
pub(crate) struct Path {
    /// Where rtc sends DTLS and media (its selected pair's far end).
    remote: Option<SocketAddr>,
    /// Where the far end is now, when not at `remote`.
    moved: Option<SocketAddr>,
    /// When a datagram other than a check last came from where the far end is.
    heard: Option<Instant>,
}

impl Path {
    /// rtc sends a datagram (`check`: a STUN message) to `to`: where it goes.
    pub(crate) fn outbound(&mut self, to: SocketAddr, check: bool, now: Instant) -> SocketAddr {
        if !check && self.remote != Some(to) {
            // A pair of rtc's own choosing (the first, or one after an ICE restart).
            self.remote = Some(to);
            self.moved = None;
            self.heard = Some(now);
        }
        match self.moved {
            Some(at) if self.remote == Some(to) => at,
            _ => to,
        }
    }

    /// A datagram came from `from` (routed to this connection): the address rtc is to see
    /// it from. The second value is the address the far end just moved to, if it did.
    pub(crate) fn inbound(
        &mut self,
        from: SocketAddr,
        check: bool,
        now: Instant,
    ) -> (SocketAddr, Option<SocketAddr>) {
        let Some(remote) = self.remote else {
            return (from, None);
        };
        let current = self.moved.unwrap_or(remote);
        if from == current {
            if !check {
                self.heard = Some(now);
            }
            return (remote, None);
        }
        let quiet = self.heard.is_none_or(|h| now.duration_since(h) >= QUIET);
        // rtc writes from the socket of its pair's family: a move across families could not
        // be sent to.
        if check || !quiet || from.is_ipv4() != remote.is_ipv4() {
            return (from, None);
        }
        self.moved = (from != remote).then_some(from);
        self.heard = Some(now);
        (remote, Some(from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn media_follows_the_far_end_to_a_proven_address_once_the_old_one_is_quiet() {
        let t = Instant::now();
        let mut path = Path::default();
        // Before rtc sends anything, addresses are as they come.
        assert_eq!(path.inbound(addr(1), true, t), (addr(1), None));
        assert_eq!(path.outbound(addr(1), false, t), addr(1));
        assert_eq!(path.inbound(addr(1), false, t + 10 * MS), (addr(1), None));
        // The NAT moves the flow to port 2: its check is answered where it came from, its
        // media is shown as it is until the old address has been quiet long enough.
        assert_eq!(path.inbound(addr(2), true, t + 100 * MS), (addr(2), None));
        assert_eq!(path.outbound(addr(2), true, t + 100 * MS), addr(2));
        assert_eq!(path.inbound(addr(2), false, t + 200 * MS), (addr(2), None));
        assert_eq!(path.outbound(addr(1), false, t + 200 * MS), addr(1));
        let moved = t + 10 * MS + QUIET;
        assert_eq!(
            path.inbound(addr(2), false, moved),
            (addr(1), Some(addr(2)))
        );
        // From then on rtc sees the old address and its sends go to the new one, checks too.
        assert_eq!(path.outbound(addr(1), false, moved), addr(2));
        assert_eq!(path.outbound(addr(1), true, moved), addr(2));
        assert_eq!(path.inbound(addr(2), true, moved + MS), (addr(1), None));
        assert_eq!(path.inbound(addr(2), false, moved + MS), (addr(1), None));
        // Back to the first address later: followed the same way.
        let back = moved + MS + QUIET;
        assert_eq!(path.inbound(addr(1), false, back), (addr(1), Some(addr(1))));
        assert_eq!(path.outbound(addr(1), false, back), addr(1));
    }

    #[test]
    fn checks_alone_and_a_live_path_never_move_it() {
        let t = Instant::now();
        let mut path = Path::default();
        path.outbound(addr(1), false, t);
        // A browser checks its other pairs every so often: never followed.
        for i in 1..100 {
            let now = t + i * 100 * MS;
            assert_eq!(path.inbound(addr(3), true, now), (addr(3), None));
        }
        // Media from elsewhere while the far end's own address is live: not followed.
        let mut now = t + 10_000 * MS;
        for _ in 0..50 {
            now += 20 * MS;
            assert_eq!(path.inbound(addr(1), false, now), (addr(1), None));
            assert_eq!(path.inbound(addr(3), false, now + MS), (addr(3), None));
        }
        assert_eq!(path.outbound(addr(1), false, now), addr(1));
        // Nor to another address family, whatever the quiet.
        let v6 = SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 5));
        let later = now + 10 * QUIET;
        assert_eq!(path.inbound(v6, false, later), (v6, None));
        assert_eq!(path.outbound(addr(1), false, later), addr(1));
    }

    #[test]
    fn a_pair_rtc_selects_anew_replaces_a_move() {
        let t = Instant::now();
        let mut path = Path::default();
        path.outbound(addr(1), false, t);
        let moved = t + QUIET;
        assert_eq!(path.inbound(addr(2), false, moved).1, Some(addr(2)));
        // An ICE restart selects port 4: rtc's choice stands, the move is forgotten.
        assert_eq!(path.outbound(addr(4), false, moved + MS), addr(4));
        assert_eq!(
            path.inbound(addr(4), false, moved + 2 * MS),
            (addr(4), None)
        );
        assert_eq!(path.outbound(addr(1), false, moved + 3 * MS), addr(1));
    }
}
