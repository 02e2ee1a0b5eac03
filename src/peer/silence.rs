//! Received streams that fall silent are let go (RFC 3550 6.3.5: a sender not heard from is
//! timed out of the reports).
//!
//! rtc binds an interceptor to a received SSRC at its first packet and unbinds it only when
//! the transceiver stops. A connection whose sections carry one stream after another (a
//! subscriber that sees thousands come and go) kept every SSRC it ever heard: rtc's
//! receiver reports went out for each of them every second, forever — one RTCP packet per
//! dead stream per second, encrypted and sent — and the state of each stayed.
//!
//! [`Silence`] is the pure part, on the caller's clock: which bound streams have been
//! silent for [`SILENT`], and which of the last [`REMEMBERED`] let go speak again (they are
//! bound again: a paused stream that resumes is reported on as before; rtc binds a stream
//! only at its first packet). [`Forgetful`] puts
//! it around an interceptor of received streams.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;

/// How long a received stream may send nothing before it is let go.
pub(crate) const SILENT: Duration = Duration::from_secs(10);
/// How many streams let go are remembered, to be bound again if they speak again (a few
/// hundred bytes each; retransmission SSRCs, silent on a clean path, take places too).
pub(crate) const REMEMBERED: usize = 1024;

/// The received streams an interceptor is bound to, and when each was last heard.
#[derive(Debug, Default)]
pub(crate) struct Silence {
    live: HashMap<u32, (StreamInfo, Instant)>,
    /// Streams let go, at most [`REMEMBERED`], by SSRC: when each went (a count) and its info.
    gone: HashMap<u32, (u64, StreamInfo)>,
    /// The order they went in, oldest first (an SSRC bound again leaves a stale entry).
    gone_order: VecDeque<(u64, u32)>,
    went: u64,
    /// No stream can be silent for [`SILENT`] before this.
    next: Option<Instant>,
}

impl Silence {
    /// The interceptor was bound to `info` at `now`.
    pub(crate) fn bound(&mut self, info: &StreamInfo, now: Instant) {
        self.gone.remove(&info.ssrc);
        self.live.insert(info.ssrc, (info.clone(), now));
        self.next.get_or_insert(now + SILENT);
    }

    /// Whether the interceptor is bound to `ssrc` (and has not let it go).
    pub(crate) fn is_live(&self, ssrc: u32) -> bool {
        self.live.contains_key(&ssrc)
    }

    /// The interceptor was unbound from `info`.
    pub(crate) fn unbound(&mut self, info: &StreamInfo) {
        self.live.remove(&info.ssrc);
        self.gone.remove(&info.ssrc);
    }

    /// A packet of `ssrc` came at `now`: the stream to bind again, when it had been let go.
    pub(crate) fn heard(&mut self, ssrc: u32, now: Instant) -> Option<StreamInfo> {
        if let Some((_, last)) = self.live.get_mut(&ssrc) {
            *last = now;
            return None;
        }
        let (_, info) = self.gone.remove(&ssrc)?;
        self.bound(&info, now);
        Some(info)
    }

    /// The streams silent for [`SILENT`] at `now`, to unbind; they are remembered.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<StreamInfo> {
        if self.next.is_none_or(|n| n > now) {
            return Vec::new();
        }
        let silent: Vec<u32> = self
            .live
            .iter()
            .filter(|(_, (_, last))| *last + SILENT <= now)
            .map(|(&ssrc, _)| ssrc)
            .collect();
        let mut out = Vec::with_capacity(silent.len());
        for ssrc in silent {
            if let Some((info, _)) = self.live.remove(&ssrc) {
                self.remember(info.clone());
                out.push(info);
            }
        }
        self.next = self.live.values().map(|(_, last)| *last + SILENT).min();
        out
    }

    /// Keeps `info` of a stream let go, forgetting the oldest past [`REMEMBERED`].
    fn remember(&mut self, info: StreamInfo) {
        self.went += 1;
        self.gone_order.push_back((self.went, info.ssrc));
        self.gone.insert(info.ssrc, (self.went, info));
        while self.gone.len() > REMEMBERED
            && let Some((went, ssrc)) = self.gone_order.pop_front()
        {
            if self.gone.get(&ssrc).is_some_and(|(w, _)| *w == went) {
                self.gone.remove(&ssrc);
            }
        }
        // Stale entries (SSRCs bound again) are dropped once they outnumber the kept ones.
        if self.gone_order.len() > 2 * REMEMBERED {
            let gone = &self.gone;
            self.gone_order
                .retain(|(went, ssrc)| gone.get(ssrc).is_some_and(|(w, _)| w == went));
        }
    }

    /// When a stream may next fall silent; `None` while none is bound.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.next
    }

    #[cfg(test)]
    fn live(&self) -> usize {
        self.live.len()
    }
}

/// An interceptor of received streams (rtc's receiver reports, vcall's NACK requester) that
/// lets silent streams go, as [`Silence`] says.
pub(crate) struct Forgetful<I> {
    inner: I,
    silence: Silence,
    /// The newest time the chain gave (bindings come without one).
    now: Option<Instant>,
}

impl<I: Interceptor> Forgetful<I> {
    pub(crate) fn new(inner: I) -> Forgetful<I> {
        Forgetful {
            inner,
            silence: Silence::default(),
            now: None,
        }
    }
}

impl<I: Interceptor> Protocol<TaggedPacket, TaggedPacket, ()> for Forgetful<I> {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.now = Some(msg.now);
        if let Packet::Rtp(rtp) = &msg.message.packet
            && let Some(info) = self.silence.heard(rtp.header.ssrc, msg.now)
        {
            self.inner.bind_remote_stream(&info);
        }
        self.inner.handle_read(msg)
    }
    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.inner.poll_read()
    }
    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.inner.handle_write(msg)
    }
    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.inner.poll_write()
    }
    fn handle_event(&mut self, evt: ()) -> Result<(), Self::Error> {
        self.inner.handle_event(evt)
    }
    fn poll_event(&mut self) -> Option<()> {
        self.inner.poll_event()
    }
    fn handle_timeout(&mut self, now: Instant) -> Result<(), Self::Error> {
        self.now = Some(now);
        for info in self.silence.due(now) {
            tracing::debug!(ssrc = info.ssrc, "a received stream fell silent: let go");
            self.inner.unbind_remote_stream(&info);
        }
        self.inner.handle_timeout(now)
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        match (self.inner.poll_timeout(), self.silence.next()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close()
    }
}

impl<I: Interceptor> Interceptor for Forgetful<I> {
    fn bind_local_stream(&mut self, info: &StreamInfo) {
        self.inner.bind_local_stream(info);
    }
    fn unbind_local_stream(&mut self, info: &StreamInfo) {
        self.inner.unbind_local_stream(info);
    }
    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        let now = *self.now.get_or_insert_with(Instant::now);
        // Bound already: a section carries the next stream on the same SSRC (one RTP stream
        // a section, as Janus and vcall serve send), which rtc binds again at the new track's
        // first packet. The binding goes on: its state, and the SSRC its reports go out
        // under (rtc draws one per binding), for which the far end keeps state of its own.
        let again = self.silence.is_live(info.ssrc);
        self.silence.bound(info, now);
        if !again {
            self.inner.bind_remote_stream(info);
        }
    }
    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        self.silence.unbound(info);
        self.inner.unbind_remote_stream(info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(ssrc: u32) -> StreamInfo {
        StreamInfo {
            ssrc,
            clock_rate: 90_000,
            ..Default::default()
        }
    }

    fn s(t: Instant, secs: u64) -> Instant {
        t + Duration::from_secs(secs)
    }

    #[test]
    fn a_stream_heard_from_is_kept_and_a_silent_one_let_go_once() {
        let t = Instant::now();
        let mut q = Silence::default();
        q.bound(&info(1), t);
        q.bound(&info(2), t);
        assert_eq!(q.next(), Some(s(t, 10)));
        assert!(q.due(s(t, 9)).is_empty());
        assert!(q.heard(1, s(t, 9)).is_none());
        let gone: Vec<u32> = q.due(s(t, 10)).iter().map(|i| i.ssrc).collect();
        assert_eq!(gone, [2]);
        assert_eq!(q.live(), 1);
        assert_eq!(q.next(), Some(s(t, 19)));
        assert!(q.due(s(t, 18)).is_empty());
        assert_eq!(q.due(s(t, 19)).len(), 1);
        assert_eq!(q.next(), None, "nothing bound, nothing to wake for");
    }

    #[test]
    fn a_stream_let_go_that_speaks_again_is_bound_again() {
        let t = Instant::now();
        let mut q = Silence::default();
        q.bound(&info(7), t);
        assert_eq!(q.due(s(t, 10)).len(), 1);
        let back = q.heard(7, s(t, 30)).expect("bound again");
        assert_eq!((back.ssrc, back.clock_rate), (7, 90_000));
        assert!(q.heard(7, s(t, 31)).is_none(), "already bound");
        assert_eq!(q.next(), Some(s(t, 40)));
        assert!(q.heard(99, s(t, 31)).is_none(), "never bound: not ours");
    }

    #[test]
    fn thousands_of_streams_come_and_go_and_what_is_kept_stays_bounded() {
        let t = Instant::now();
        let mut q = Silence::default();
        for n in 0..5_000u32 {
            let at = s(t, u64::from(n) * 2);
            q.due(at);
            q.bound(&info(n), at);
            q.heard(n, at);
        }
        assert!(q.live() <= 6, "{} live", q.live());
        assert_eq!(q.gone.len(), REMEMBERED);
        assert!(q.gone_order.len() <= 2 * REMEMBERED + 1);
        // The oldest are forgotten for good; the newest let go are remembered.
        assert!(q.heard(0, s(t, 20_000)).is_none());
        assert!(q.heard(4_990, s(t, 20_000)).is_some());
    }

    /// An interceptor that counts its bindings.
    #[derive(Default)]
    struct Binds(u32);

    impl Protocol<TaggedPacket, TaggedPacket, ()> for Binds {
        type Rout = TaggedPacket;
        type Wout = TaggedPacket;
        type Eout = ();
        type Error = rtc::shared::error::Error;
        type Time = Instant;
        fn handle_read(&mut self, _: TaggedPacket) -> Result<(), Self::Error> {
            Ok(())
        }
        fn poll_read(&mut self) -> Option<TaggedPacket> {
            None
        }
        fn handle_write(&mut self, _: TaggedPacket) -> Result<(), Self::Error> {
            Ok(())
        }
        fn poll_write(&mut self) -> Option<TaggedPacket> {
            None
        }
        fn handle_timeout(&mut self, _: Instant) -> Result<(), Self::Error> {
            Ok(())
        }
        fn poll_timeout(&mut self) -> Option<Instant> {
            None
        }
    }

    impl Interceptor for Binds {
        fn bind_local_stream(&mut self, _: &StreamInfo) {}
        fn unbind_local_stream(&mut self, _: &StreamInfo) {}
        fn bind_remote_stream(&mut self, _: &StreamInfo) {
            self.0 += 1;
        }
        fn unbind_remote_stream(&mut self, _: &StreamInfo) {
            self.0 -= 1;
        }
    }

    #[test]
    fn a_section_that_carries_the_next_stream_on_its_ssrc_keeps_its_binding() {
        let t = Instant::now();
        let mut f = Forgetful::new(Binds::default());
        f.handle_timeout(t).unwrap();
        f.bind_remote_stream(&info(5));
        // The next stream's track, bound by rtc at its first packet: the same RTP stream.
        f.bind_remote_stream(&info(5));
        assert_eq!(f.inner.0, 1);
        f.bind_remote_stream(&info(6));
        assert_eq!(f.inner.0, 2);
        // Let go when silent, and bound once more when rtc binds it again.
        f.handle_timeout(s(t, 10)).unwrap();
        assert_eq!(f.inner.0, 0);
        f.bind_remote_stream(&info(5));
        assert_eq!(f.inner.0, 1);
    }

    #[test]
    fn a_stream_unbound_by_rtc_is_not_bound_again() {
        let t = Instant::now();
        let mut q = Silence::default();
        q.bound(&info(3), t);
        assert_eq!(q.due(s(t, 10)).len(), 1);
        q.unbound(&info(3));
        assert!(q.heard(3, s(t, 11)).is_none());
    }
}
