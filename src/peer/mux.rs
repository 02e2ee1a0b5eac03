//! Which connection a datagram on a shared socket belongs to: a STUN Binding request by the
//! local ICE username fragment it names (the far end learned it from this connection's SDP),
//! an answer to a check by the transaction the connection's own check opened, everything else
//! by the address it came from, learned when the connection showed that address is its far
//! end (its ICE agent answers only checks that carry its password, so a forged request
//! teaches the table nothing). Pure: no socket, no clock.

use std::collections::HashMap;
use std::net::SocketAddr;

/// A connection's number on its engine.
pub(crate) type ConnId = u64;

#[derive(Debug, Default)]
pub(crate) struct Mux {
    ufrags: HashMap<String, ConnId>,
    addrs: HashMap<SocketAddr, ConnId>,
    /// Checks sent and not yet answered, by transaction id.
    checks: HashMap<[u8; 12], ConnId>,
}

/// Unanswered checks remembered at most (a far end that never answers leaves its checks
/// here; past this many, the oldest are forgotten with the rest).
const CHECKS: usize = 16_384;

impl Mux {
    /// `ufrag` is now `id`'s local username fragment (after an ICE restart, a new one; the
    /// old one stays until the connection is removed, for checks still in flight).
    pub(crate) fn name(&mut self, ufrag: &str, id: ConnId) {
        if self.ufrags.get(ufrag) != Some(&id) {
            self.ufrags.insert(ufrag.to_owned(), id);
        }
    }

    /// `id` sent a datagram to `addr`: what comes from there is its.
    pub(crate) fn learn(&mut self, addr: SocketAddr, id: ConnId) {
        if self.addrs.get(&addr) != Some(&id) {
            self.addrs.insert(addr, id);
        }
    }

    /// `id` sent `datagram`: if it is a check, its answer is `id`'s.
    pub(crate) fn sent(&mut self, datagram: &[u8], id: ConnId) {
        if let Some(tx) = transaction(datagram, BINDING_REQUEST) {
            if self.checks.len() >= CHECKS {
                self.checks.clear();
            }
            self.checks.insert(tx, id);
        }
    }

    pub(crate) fn remove(&mut self, id: ConnId) {
        self.ufrags.retain(|_, c| *c != id);
        self.addrs.retain(|_, c| *c != id);
        self.checks.retain(|_, c| *c != id);
    }

    /// The connection a STUN Binding request names by its username fragment, if any
    /// (what a new ICE-TCP stream must start with).
    pub(crate) fn named(&self, datagram: &[u8]) -> Option<ConnId> {
        self.ufrags.get(binding_request_ufrag(datagram)?).copied()
    }

    /// The connection `datagram` from `from` is for, if any.
    pub(crate) fn route(&mut self, datagram: &[u8], from: SocketAddr) -> Option<ConnId> {
        if let Some(ufrag) = binding_request_ufrag(datagram) {
            return self.ufrags.get(ufrag).copied();
        }
        let answer = [BINDING_SUCCESS, BINDING_ERROR]
            .into_iter()
            .find_map(|kind| transaction(datagram, kind));
        if let Some(id) = answer.and_then(|tx| self.checks.remove(&tx)) {
            return Some(id);
        }
        self.addrs.get(&from).copied()
    }
}

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const BINDING_ERROR: u16 = 0x0111;
const USERNAME: u16 = 0x0006;

/// The transaction id of a STUN Binding success, read in place.
pub(crate) fn success_transaction(d: &[u8]) -> Option<[u8; 12]> {
    transaction(d, BINDING_SUCCESS)
}

/// The transaction id of a STUN message of type `kind`.
fn transaction(d: &[u8], kind: u16) -> Option<[u8; 12]> {
    if d.len() < 20 || d[4..8] != MAGIC_COOKIE || u16::from_be_bytes([d[0], d[1]]) != kind {
        return None;
    }
    d[8..20].try_into().ok()
}

/// The first part of a STUN Binding request's USERNAME (`receiver:sender`), read in place;
/// `None` for anything else, however malformed.
fn binding_request_ufrag(d: &[u8]) -> Option<&str> {
    if d.len() < 20 || d[4..8] != MAGIC_COOKIE {
        return None;
    }
    if u16::from_be_bytes([d[0], d[1]]) != BINDING_REQUEST {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
    let mut attrs = d.get(20..20 + len)?;
    while attrs.len() >= 4 {
        let kind = u16::from_be_bytes([attrs[0], attrs[1]]);
        let len = usize::from(u16::from_be_bytes([attrs[2], attrs[3]]));
        let value = attrs.get(4..4 + len)?;
        if kind == USERNAME {
            let name = std::str::from_utf8(value).ok()?;
            return name.split(':').next();
        }
        attrs = attrs.get(4 + len.next_multiple_of(4)..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request(username: &str) -> Vec<u8> {
        let mut attr = Vec::new();
        attr.extend_from_slice(&USERNAME.to_be_bytes());
        attr.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attr.extend_from_slice(username.as_bytes());
        attr.resize(attr.len().next_multiple_of(4), 0);
        // A MESSAGE-INTEGRITY after it, as real checks carry.
        attr.extend_from_slice(&[0x00, 0x08, 0x00, 0x14]);
        attr.extend_from_slice(&[7; 20]);
        let mut d = Vec::new();
        d.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
        d.extend_from_slice(&(attr.len() as u16).to_be_bytes());
        d.extend_from_slice(&MAGIC_COOKIE);
        d.extend_from_slice(&[1; 12]);
        d.extend_from_slice(&attr);
        d
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn checks_go_by_username_and_the_rest_by_address() {
        let mut mux = Mux::default();
        mux.name("aaaa", 1);
        mux.name("bbbb", 2);
        // A check from an address another connection sent to still goes by its name.
        mux.learn(addr(5000), 1);
        assert_eq!(mux.route(&request("bbbb:xyz"), addr(5000)), Some(2));
        assert_eq!(mux.route(&request("aaaa:xyz"), addr(6000)), Some(1));
        assert_eq!(mux.route(&request("cccc:xyz"), addr(5000)), None);
        let srtp = [0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(mux.route(&srtp, addr(5000)), Some(1));
        assert_eq!(mux.route(&srtp, addr(6000)), None);
        // An answer to connection 2's own check, from an address nobody learned.
        let mut check = request("remote:bbbb");
        mux.sent(&check, 2);
        check[0..2].copy_from_slice(&BINDING_SUCCESS.to_be_bytes());
        assert_eq!(mux.route(&check, addr(7000)), Some(2));
        // Answered once: a replay goes by address (here: nowhere).
        assert_eq!(mux.route(&check, addr(7000)), None);
        mux.remove(1);
        assert_eq!(mux.route(&srtp, addr(5000)), None);
        assert_eq!(mux.route(&request("aaaa:xyz"), addr(6000)), None);
        assert_eq!(mux.route(&request("bbbb:xyz"), addr(6000)), Some(2));
    }

    proptest! {
        // Whatever arrives on the shared port, the table answers without panicking, names
        // only connections it knows, and a datagram from an address no connection sent to is
        // routed only if it is a check naming a known fragment.
        #[test]
        fn garbage_is_dropped_and_never_reaches_another_connection(
            data in proptest::collection::vec(any::<u8>(), 0..300),
            port in 1u16..,
            name in "[a-z]{0,6}(:[a-z]{0,4})?",
        ) {
            let mut mux = Mux::default();
            mux.name("known", 1);
            mux.learn(addr(1), 2);
            let from = addr(port.max(2));
            prop_assert_eq!(mux.route(&data, from), None.or_else(|| {
                (binding_request_ufrag(&data) == Some("known")).then_some(1)
            }));
            let check = request(&name);
            let want = (name.split(':').next() == Some("known")).then_some(1);
            prop_assert_eq!(mux.route(&check, from), want);
            // Cut anywhere, a check is still either read whole or not at all.
            for cut in 0..check.len() {
                let routed = mux.route(&check[..cut], from);
                prop_assert!(routed.is_none() || routed == want);
            }
        }
    }
}
