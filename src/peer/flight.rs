//! A DTLS handshake's last flight sent again when the far end repeats the flight it answers
//! (RFC 6347 4.2.4), for as long as a connection is being set up. Pure: datagrams in, what to
//! send again out.
//!
//! rtc-dtls 0.21 stops its own retransmission timer whenever a handshake datagram arrives
//! while it waits, and does not answer a repeated flight: a server whose flight 4 is lost
//! hears the client's ClientHello again every second and says nothing, until the client gives
//! up (measured: 1 publish in 12 failed with exit 8 at 10 % loss each way). The engine sees
//! every datagram, so it does what the stack does not: it keeps the datagrams of the flight
//! it sent last, and sends them again, as they were, when a handshake message the flight
//! answered arrives a second time. A copy of a datagram that did arrive is dropped by the far
//! end's replay window; one that was lost is taken.
//!
//! Only a repeat of what the current flight answers counts: a far end sending the rest of
//! its own next flight again (its first try partly lost) must not get our older flight, which
//! would stop its timer too. For the same reason a datagram that brings nothing the stack has
//! not already answered (every record a handshake message our last flight answers: a
//! repeated flight, or a second answer to our own repeated flight) is not handed to the
//! stack, which would only stop its timer. A message received but not answered yet is handed
//! over again: the stack may have dropped the first copy (a ClientHello that came before the
//! connection was ready for it).

use std::collections::HashSet;
use std::time::{Duration, Instant};

/// A DTLS handshake message fragment as sent in epoch 0 (in the clear): its message
/// sequence number and fragment offset.
type Key = (u16, u32);

/// The least time between two resends of a flight.
const RESEND_GAP: Duration = Duration::from_millis(250);

/// One connection's handshake, seen from the engine.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    /// What the far end sent before our last flight began: that flight answers it.
    answered: HashSet<Key>,
    /// What the far end sent since.
    fresh: HashSet<Key>,
    /// Our last flight's datagrams, by the key of their first record (a retransmission by
    /// the stack replaces its earlier copy).
    ours: Vec<(Option<Key>, Vec<u8>)>,
    /// Last time our flight was sent again.
    resent: Option<Instant>,
}

impl Flights {
    /// A datagram the connection sends.
    pub(crate) fn on_sent(&mut self, datagram: &[u8]) {
        if !is_dtls(datagram) {
            return;
        }
        if !self.fresh.is_empty() {
            // The far end said something new since our last flight: this one answers it.
            self.answered.extend(self.fresh.drain());
            self.ours.clear();
        }
        let key = handshake_keys(datagram).next();
        match self
            .ours
            .iter_mut()
            .find(|(k, _)| key.is_some() && *k == key)
        {
            Some((_, d)) => *d = datagram.to_vec(),
            None => self.ours.push((key, datagram.to_vec())),
        }
    }

    /// A datagram the connection received at `now`: whether the stack is to have it, and
    /// our last flight's datagrams to send again when the far end repeated what it answers.
    pub(crate) fn on_received(&mut self, datagram: &[u8], now: Instant) -> Received {
        let mut received = Received {
            deliver: true,
            again: Vec::new(),
        };
        if !is_dtls(datagram) {
            return received;
        }
        let (mut repeated, mut new, mut records) = (false, false, 0);
        for record in records_of(datagram) {
            records += 1;
            match record {
                Some(key) if self.answered.contains(&key) => repeated = true,
                Some(key) => {
                    self.fresh.insert(key);
                    new = true;
                }
                None => new = true,
            }
        }
        received.deliver = new || records == 0;
        let due = self.resent.is_none_or(|at| now >= at + RESEND_GAP);
        if repeated && due && !self.ours.is_empty() {
            self.resent = Some(now);
            received.again = self.ours.iter().map(|(_, d)| d.clone()).collect();
        }
        received
    }
}

/// What to do with a received datagram.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Received {
    /// Hand it to the stack (it brings something new, or is not a handshake's).
    pub(crate) deliver: bool,
    /// Send these again.
    pub(crate) again: Vec<Vec<u8>>,
}

/// Whether a datagram is DTLS (RFC 7983: a first byte of 20 to 63).
fn is_dtls(datagram: &[u8]) -> bool {
    matches!(datagram.first(), Some(20..=63))
}

/// The keys of the epoch-0 handshake records in a datagram, as far as they can be read.
fn handshake_keys(datagram: &[u8]) -> impl Iterator<Item = Key> + '_ {
    records_of(datagram).flatten()
}

/// The records of a datagram, as far as they can be read: each epoch-0 handshake record's
/// key, `None` for any other record (encrypted, a change of cipher spec, an alert).
fn records_of(datagram: &[u8]) -> impl Iterator<Item = Option<Key>> + '_ {
    const RECORD_HEADER: usize = 13;
    const HANDSHAKE: u8 = 22;
    let mut rest = datagram;
    std::iter::from_fn(move || {
        if rest.len() < RECORD_HEADER {
            return None;
        }
        let (content, epoch) = (rest[0], u16::from_be_bytes([rest[3], rest[4]]));
        let length = usize::from(u16::from_be_bytes([rest[11], rest[12]]));
        let body = rest.get(RECORD_HEADER..RECORD_HEADER + length)?;
        rest = &rest[RECORD_HEADER + length..];
        // Handshake header: type (1), length (3), message_seq (2), fragment_offset (3).
        Some(
            (content == HANDSHAKE && epoch == 0 && body.len() >= 9).then(|| {
                let seq = u16::from_be_bytes([body[4], body[5]]);
                let offset = u32::from_be_bytes([0, body[6], body[7], body[8]]);
                (seq, offset)
            }),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A datagram of epoch-0 handshake records, one per `(message_seq, fragment_offset)`,
    /// each with record sequence number `record`.
    fn flight(record: u64, messages: &[Key]) -> Vec<u8> {
        let mut d = Vec::new();
        for &(seq, offset) in messages {
            let mut body = vec![1, 0, 0, 4];
            body.extend(seq.to_be_bytes());
            body.extend(&offset.to_be_bytes()[1..]);
            body.extend([0, 0, 4, 9, 9, 9, 9]);
            d.extend([22, 0xfe, 0xfd, 0, 0]);
            d.extend(&record.to_be_bytes()[2..]);
            d.extend((body.len() as u16).to_be_bytes());
            d.extend(body);
        }
        d
    }

    #[test]
    fn a_repeated_flight_gets_our_answer_again_as_it_was_sent_last() {
        let t = Instant::now();
        let mut f = Flights::default();
        // Client side of the exchange, seen by the server.
        assert!(f.on_received(&flight(0, &[(0, 0)]), t).again.is_empty());
        f.on_sent(&flight(0, &[(0, 0)])); // HelloVerifyRequest
        assert!(f.on_received(&flight(1, &[(1, 0)]), t).again.is_empty());
        let four = flight(1, &[(1, 0), (2, 0), (3, 0), (4, 0), (5, 0)]);
        f.on_sent(&four);
        // The stack's own retransmission replaces the copy (new record numbers).
        let four_again = flight(2, &[(1, 0), (2, 0), (3, 0), (4, 0), (5, 0)]);
        f.on_sent(&four_again);
        // The ClientHello again (a new record number): flight 4 was lost. The stack does
        // not get it (it would only stop its timer).
        assert_eq!(
            f.on_received(&flight(2, &[(1, 0)]), t),
            Received {
                deliver: false,
                again: vec![four_again.clone()]
            }
        );
        // Not more often than the gap.
        assert!(
            f.on_received(&flight(3, &[(1, 0)]), t + RESEND_GAP / 2)
                .again
                .is_empty()
        );
        assert_eq!(
            f.on_received(&flight(4, &[(1, 0)]), t + RESEND_GAP).again,
            vec![four_again]
        );
    }

    #[test]
    fn the_rest_of_the_far_ends_next_flight_again_gets_nothing() {
        let t = Instant::now();
        let mut f = Flights::default();
        f.on_received(&flight(1, &[(1, 0)]), t);
        f.on_sent(&flight(1, &[(1, 0), (2, 0)]));
        // Flight 5 in two datagrams, the first sent twice: what is new since our flight is
        // not a repeat of what it answers, and the stack gets it each time (it may have
        // dropped a copy).
        let nothing = |deliver| Received {
            deliver,
            again: Vec::new(),
        };
        assert_eq!(f.on_received(&flight(2, &[(2, 0)]), t), nothing(true));
        assert_eq!(f.on_received(&flight(3, &[(2, 0)]), t), nothing(true));
        assert_eq!(f.on_received(&flight(4, &[(3, 0)]), t), nothing(true));
    }

    #[test]
    fn a_message_not_answered_yet_reaches_the_stack_each_time_it_comes() {
        let t = Instant::now();
        let mut f = Flights::default();
        // A ClientHello the stack dropped (the connection not ready) and its repeat.
        for record in 0..3 {
            let r = f.on_received(&flight(record, &[(0, 0)]), t);
            assert!(r.deliver && r.again.is_empty());
        }
        // Answered now: a repeat gets our answer and stays away from the stack.
        f.on_sent(&flight(0, &[(0, 0)]));
        let r = f.on_received(&flight(3, &[(0, 0)]), t);
        assert!(!r.deliver && r.again.len() == 1);
    }

    #[test]
    fn a_new_flight_of_ours_replaces_the_last_and_what_it_answers_grows() {
        let t = Instant::now();
        let mut f = Flights::default();
        f.on_received(&flight(0, &[(0, 0)]), t);
        let two = flight(0, &[(0, 0)]);
        f.on_sent(&two);
        f.on_received(&flight(1, &[(1, 0)]), t);
        let four = flight(1, &[(1, 0), (2, 0)]);
        f.on_sent(&four);
        // The first ClientHello again (late): flight 4 answers it too; only flight 4 goes.
        assert_eq!(f.on_received(&flight(5, &[(0, 0)]), t).again, vec![four]);
    }

    #[test]
    fn media_stun_and_unreadable_datagrams_change_nothing() {
        let t = Instant::now();
        let mut f = Flights::default();
        f.on_received(&flight(0, &[(0, 0)]), t);
        f.on_sent(&flight(0, &[(0, 0)]));
        for junk in [&[0x80u8, 1, 2][..], &[0, 1, 0, 0], &[]] {
            f.on_sent(junk);
        }
        for junk in [
            &[0x80u8, 1, 2][..],
            &[0, 1, 0, 0],
            &[22, 0xfe],
            &[22; 40],
            &[],
        ] {
            let r = f.on_received(junk, t);
            assert!(r.deliver && r.again.is_empty(), "{junk:?}");
        }
        assert_eq!(f.on_received(&flight(1, &[(0, 0)]), t).again.len(), 1);
    }
}
