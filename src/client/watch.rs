//! Watching one media connection while signaling stays up: one that never came up is set up
//! anew (a new connection and a new offer: ICE or DTLS that did not complete cannot be mended
//! in place, since both ends hold its state), one that came up and broke is restarted (ICE).
//! The decisions are pure ([`MediaWatch::decide`], on the caller's clock); `check` acts on them.

use std::time::{Duration, Instant};

use crate::exit::{Exit, Failure};
use crate::peer::{Peer, PeerState};
use crate::session::Reason;
use crate::signaling::Client;
use crate::signaling::negotiate::Side;

/// How long a media path may stay broken (ICE restarts tried meanwhile) before the media
/// connection counts as failed.
pub const MEDIA_LOST_LIMIT: Duration = Duration::from_secs(20);

/// How often an ICE restart is tried while the media path stays broken.
const RESTART_EVERY: Duration = Duration::from_secs(3);

/// How long one attempt at setting a media connection up may take before it is made anew. On
/// a clean path setup takes tens of milliseconds; at 20 % loss each way, handshakes included,
/// about one in two takes a second or more and nearly all finish within this (BENCHMARKS.md,
/// "Connection setup over a lossy path").
pub const SETUP_ATTEMPT: Duration = Duration::from_secs(6);

/// A new attempt is made only while at least this much of the setup limit is left (less is
/// too short for a path that has just failed one).
const LAST_ATTEMPT: Duration = Duration::from_secs(3);

/// What to do about the connection now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaAction {
    Wait,
    /// It came up and broke: restart ICE.
    RestartIce,
    /// It has not come up: set it up anew (join again).
    SetUpAgain,
    /// Give up, for this reason.
    Fail(String),
}

/// The attempts at setting a connection up, while none has come up.
#[derive(Debug, Clone, Copy)]
struct Attempts {
    /// When the first began: the setup limit counts from it.
    first: Instant,
    /// When this one began (its media negotiated), or when it was last asked to be made anew.
    this: Option<Instant>,
    /// Attempts so far.
    count: u32,
    /// Setting up anew was asked for this attempt already.
    asked: bool,
}

/// Watches one media connection (see the module's documentation).
#[derive(Debug, Clone)]
pub struct MediaWatch {
    /// How long setting up may take, all attempts together (`--timeout`, else 20 s).
    setup_limit: Duration,
    /// The connection watched has come up: from then on it is mended by ICE restarts.
    up: bool,
    attempts: Option<Attempts>,
    lost_since: Option<Instant>,
    next_restart: Option<Instant>,
}

impl MediaWatch {
    pub fn new(setup_limit: Duration) -> MediaWatch {
        MediaWatch {
            setup_limit,
            up: false,
            attempts: None,
            lost_since: None,
            next_restart: None,
        }
    }

    /// Media was negotiated on the connection at `at`: it should come up from then on. Later
    /// negotiations on the same connection change nothing.
    pub fn negotiated(&mut self, at: Instant) {
        if self.up {
            return;
        }
        match &mut self.attempts {
            None => {
                self.attempts = Some(Attempts {
                    first: at,
                    this: Some(at),
                    count: 1,
                    asked: false,
                });
            }
            Some(a) if a.this.is_none() => a.this = Some(at),
            Some(_) => {}
        }
    }

    /// How long the attempt beginning at `now` may wait for its connection.
    pub fn attempt_time(&self, now: Instant) -> Duration {
        let spent = self
            .attempts
            .map_or(Duration::ZERO, |a| now.saturating_duration_since(a.first));
        SETUP_ATTEMPT.min(self.setup_limit.saturating_sub(spent))
    }

    /// While the connection has not come up: the attempts made so far.
    pub fn setting_up(&self) -> Option<u32> {
        self.attempts.filter(|_| !self.up).map(|a| a.count)
    }

    /// The failure of a setup given up: the limit and the attempts.
    pub fn setup_failure(&self) -> String {
        let count = self.attempts.map_or(1, |a| a.count);
        format!(
            "the media connection did not come up within {:?} ({count} attempt{}: ICE or DTLS \
             did not complete)",
            self.setup_limit,
            if count == 1 { "" } else { "s" }
        )
    }

    /// The watch of the connection made after joining again: the attempts at setting up go on
    /// counting (towards the setup limit, from the first), and so does a break the old
    /// connection had (towards [`MEDIA_LOST_LIMIT`]).
    pub fn after_rejoin(&self) -> MediaWatch {
        MediaWatch {
            setup_limit: self.setup_limit,
            up: false,
            attempts: self.attempts.map(|a| Attempts {
                this: None,
                count: a.count + 1,
                asked: false,
                ..a
            }),
            lost_since: self.lost_since,
            next_restart: None,
        }
    }

    /// What to do about the connection in `state` at `now`.
    pub fn decide(&mut self, state: PeerState, now: Instant) -> MediaAction {
        if matches!(state, PeerState::Connected | PeerState::Closed) {
            if self.lost_since.take().is_some() {
                tracing::info!("the media path is back");
            }
            self.up = true;
            self.attempts = None;
            self.next_restart = None;
            return MediaAction::Wait;
        }
        if let Some(since) = self.lost_since
            && now.duration_since(since) > MEDIA_LOST_LIMIT
        {
            return MediaAction::Fail(format!(
                "the media path has been broken for {MEDIA_LOST_LIMIT:?}; ICE restarts did not \
                 bring it back"
            ));
        }
        if !self.up {
            // A connection fails only once something was negotiated on it, whether or not
            // the caller said so.
            if state == PeerState::Failed && self.attempts.is_none_or(|a| a.this.is_none()) {
                self.negotiated(now);
            }
            // Nothing negotiated on it yet: nothing to wait for.
            let Some(a) = self.attempts.as_mut() else {
                return MediaAction::Wait;
            };
            let Some(this) = a.this else {
                return MediaAction::Wait;
            };
            let spent = now.duration_since(a.first);
            if spent >= self.setup_limit {
                return MediaAction::Fail(self.setup_failure());
            }
            let failed = state == PeerState::Failed && !a.asked;
            if failed || now.duration_since(this) >= SETUP_ATTEMPT {
                if spent + LAST_ATTEMPT > self.setup_limit {
                    return MediaAction::Fail(self.setup_failure());
                }
                // Asked again after another attempt's time when nothing came of it.
                a.this = Some(now);
                a.asked = true;
                return MediaAction::SetUpAgain;
            }
            return MediaAction::Wait;
        }
        if state == PeerState::New {
            // Connecting again after a restart.
            self.next_restart = None;
            return MediaAction::Wait;
        }
        let since = *self.lost_since.get_or_insert(now);
        let due = *self
            .next_restart
            .get_or_insert(since + Duration::from_secs(1));
        if now >= due {
            self.next_restart = Some(now + RESTART_EVERY);
            return MediaAction::RestartIce;
        }
        MediaAction::Wait
    }

    /// Takes the connection's state now and acts on it; `Err` once it cannot be had.
    pub async fn check(&mut self, peer: &Peer, client: &Client, side: Side) -> Result<(), Failure> {
        let state = *peer.state().borrow();
        match self.decide(state, Instant::now()) {
            MediaAction::Wait => Ok(()),
            MediaAction::Fail(why) => Err(Failure::new(Exit::Media, why)),
            MediaAction::RestartIce => {
                tracing::warn!("the media path is broken ({state:?}); restarting ICE");
                if let Err(e) = client.restart_ice(peer, side).await {
                    tracing::warn!("restarting ICE failed: {e}");
                }
                Ok(())
            }
            MediaAction::SetUpAgain => {
                tracing::warn!(
                    "the media connection has not come up ({state:?}; ICE or DTLS did not \
                     complete); setting it up anew"
                );
                client.join_again(Reason::SetupFailed).await;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MediaAction::*;
    use PeerState::*;

    const LIMIT: Duration = Duration::from_secs(20);

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn a_connection_that_comes_up_in_time_is_left_alone() {
        let t0 = Instant::now();
        let mut w = MediaWatch::new(LIMIT);
        // Nothing negotiated yet: nothing is late.
        assert_eq!(w.decide(New, at(t0, 60_000)), Wait);
        w.negotiated(at(t0, 60_000));
        assert_eq!(w.decide(New, at(t0, 65_900)), Wait);
        assert_eq!(w.decide(Connected, at(t0, 65_950)), Wait);
        assert_eq!(w.decide(Connected, at(t0, 200_000)), Wait);
    }

    #[test]
    fn one_that_does_not_come_up_is_set_up_anew_each_attempt_until_the_limit() {
        let t0 = Instant::now();
        let mut w = MediaWatch::new(LIMIT);
        w.negotiated(t0);
        assert_eq!(w.decide(New, at(t0, 5_999)), Wait);
        assert_eq!(w.decide(New, at(t0, 6_000)), SetUpAgain);
        // Asked once: not again while the rejoin is under way.
        assert_eq!(w.decide(New, at(t0, 6_250)), Wait);
        assert_eq!(w.decide(Failed, at(t0, 6_500)), Wait);
        // The new connection, negotiated at 7 s, gets an attempt's time of its own.
        let mut w = w.after_rejoin();
        assert_eq!(
            w.decide(New, at(t0, 12_500)),
            Wait,
            "nothing negotiated yet"
        );
        w.negotiated(at(t0, 7_000));
        w.negotiated(at(t0, 9_000));
        assert_eq!(w.decide(New, at(t0, 12_999)), Wait);
        assert_eq!(w.decide(New, at(t0, 13_000)), SetUpAgain);
        let mut w = w.after_rejoin();
        w.negotiated(at(t0, 14_000));
        // The limit counts from the first attempt; the last one waits only what is left.
        assert_eq!(w.attempt_time(at(t0, 14_000)), Duration::from_secs(6));
        assert_eq!(w.attempt_time(at(t0, 16_000)), Duration::from_secs(4));
        assert_eq!(w.setting_up(), Some(3));
        assert_eq!(w.decide(New, at(t0, 19_999)), Wait);
        match w.decide(New, at(t0, 20_000)) {
            Fail(why) => assert!(why.contains("3 attempts"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_attempt_is_made_that_the_limit_leaves_no_time_for() {
        let t0 = Instant::now();
        let mut w = MediaWatch::new(Duration::from_secs(14));
        w.negotiated(t0);
        assert_eq!(w.decide(New, at(t0, 6_000)), SetUpAgain);
        let mut w = w.after_rejoin();
        w.negotiated(at(t0, 6_500));
        // At 12.5 s, 1.5 s would be left: given up rather than tried.
        match w.decide(New, at(t0, 12_500)) {
            Fail(why) => assert!(why.contains("within 14s (2 attempts"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_connection_that_fails_unannounced_is_set_up_anew() {
        // A connection the caller did not say was negotiated (a leg routed through the
        // server after a direct path failed) still fails only after a negotiation.
        let t0 = Instant::now();
        let mut w = MediaWatch::new(LIMIT);
        assert_eq!(w.decide(New, at(t0, 30_000)), Wait);
        assert_eq!(w.decide(Failed, at(t0, 31_000)), SetUpAgain);
        assert_eq!(w.setting_up(), Some(1));
    }

    #[test]
    fn a_failed_setup_is_made_anew_at_once_and_asked_again_when_nothing_comes_of_it() {
        let t0 = Instant::now();
        let mut w = MediaWatch::new(LIMIT);
        w.negotiated(t0);
        assert_eq!(w.decide(Failed, at(t0, 1_000)), SetUpAgain);
        assert_eq!(w.decide(Failed, at(t0, 1_250)), Wait);
        // No rejoin came of it (a request lost while another was under way): asked again.
        assert_eq!(w.decide(Failed, at(t0, 7_000)), SetUpAgain);
        let mut w = w.after_rejoin();
        w.negotiated(at(t0, 7_500));
        assert_eq!(w.decide(Connected, at(t0, 7_600)), Wait);
    }

    #[test]
    fn a_connection_that_came_up_and_broke_is_restarted_then_given_up() {
        let t0 = Instant::now();
        let mut w = MediaWatch::new(LIMIT);
        w.negotiated(t0);
        assert_eq!(w.decide(Connected, at(t0, 100)), Wait);
        assert_eq!(w.decide(Disconnected, at(t0, 1_000)), Wait);
        assert_eq!(w.decide(Disconnected, at(t0, 2_000)), RestartIce);
        assert_eq!(
            w.decide(New, at(t0, 2_100)),
            Wait,
            "connecting after the restart"
        );
        // The restart's own attempt failed: restarted again, then every 3 s.
        assert_eq!(w.decide(Failed, at(t0, 4_000)), RestartIce);
        assert_eq!(w.decide(Failed, at(t0, 6_999)), Wait);
        assert_eq!(w.decide(Failed, at(t0, 7_000)), RestartIce);
        assert!(matches!(w.decide(Failed, at(t0, 21_001)), Fail(_)));
        // A break carried across a rejoin ends at the same time, whatever the new attempt.
        let mut w = MediaWatch::new(LIMIT);
        w.negotiated(t0);
        w.decide(Connected, t0);
        w.decide(Failed, at(t0, 1_000));
        let mut w = w.after_rejoin();
        w.negotiated(at(t0, 18_000));
        assert_eq!(w.decide(New, at(t0, 20_900)), Wait);
        assert!(matches!(w.decide(New, at(t0, 21_001)), Fail(_)));
    }

    #[test]
    fn a_rejoin_after_the_connection_was_up_starts_the_setup_limit_afresh() {
        let t0 = Instant::now();
        let mut w = MediaWatch::new(LIMIT);
        w.negotiated(t0);
        w.decide(Connected, at(t0, 100));
        // Signaling dropped (the media was fine); the new connection is negotiated at 60 s.
        let mut w = w.after_rejoin();
        assert_eq!(w.decide(New, at(t0, 59_000)), Wait);
        w.negotiated(at(t0, 60_000));
        assert_eq!(w.decide(New, at(t0, 65_999)), Wait);
        assert_eq!(w.decide(New, at(t0, 66_000)), SetUpAgain);
    }
}
