//! A load-test publisher's congestion control: which of the shared encoders' rate tiers it
//! sends, from its connection's send estimate. Encoding is shared, so a publisher cannot set
//! its own encoder's rate as `publish` does; it steps between the tiers instead, as a
//! simulcast sender drops its top layer when the path narrows.
//!
//! One tier down each time the estimate (the delay-based one, or the far end's REMB when
//! lower) falls under what the publisher sent over the last interval: the path no longer
//! carries it. One tier up after a quiet hold, which doubles each time a step up is soon
//! followed by a step down (the path did not carry it), up to [`MAX_HOLD`], and starts over
//! when a step down comes long after.

use std::time::{Duration, Instant};

/// How long a publisher stays at a lower tier before it tries the next one up.
const HOLD: Duration = Duration::from_secs(8);
const MAX_HOLD: Duration = Duration::from_secs(64);
/// What the wire adds to the media's rate (RTP, SRTP, UDP and IP headers).
const OVERHEAD: f64 = 1.08;
/// How far under the rate sent an estimate must be to mean congestion (not noise).
const MARGIN: f64 = 0.9;

/// Where one publisher is among the tiers (0: the top rate).
#[derive(Debug)]
pub(super) struct Ladder {
    tiers: usize,
    current: usize,
    /// Since when it has been at `current`.
    since: Instant,
    hold: Duration,
    /// When it last stepped up.
    stepped_up: Option<Instant>,
}

impl Ladder {
    pub(super) fn new(tiers: usize, now: Instant) -> Ladder {
        Ladder {
            tiers,
            current: 0,
            since: now,
            hold: HOLD,
            stepped_up: None,
        }
    }

    /// The tier to send after an estimate of `bps`, when `sent_bps` of media went out over
    /// the last interval (`measured`: the far end's feedback has shaped the estimate; before
    /// that it is only the configured start and says nothing).
    pub(super) fn step(&mut self, bps: f64, measured: bool, sent_bps: f64, now: Instant) -> usize {
        if !measured {
            return self.current;
        }
        if bps < sent_bps * OVERHEAD * MARGIN {
            if self.current + 1 < self.tiers {
                // Down soon after a step up: that rate was too much; wait longer to try
                // again. Long after it: the path changed; the hold starts over.
                self.hold = match self.stepped_up {
                    Some(t) if now.duration_since(t) < self.hold * 2 => {
                        (self.hold * 2).min(MAX_HOLD)
                    }
                    _ => HOLD,
                };
                self.move_to(self.current + 1, now);
            } else {
                // Nowhere lower: the quiet hold before a step up starts after the trouble.
                self.since = now;
            }
        } else if self.current > 0 && now.duration_since(self.since) >= self.hold {
            self.stepped_up = Some(now);
            self.move_to(self.current - 1, now);
        }
        self.current
    }

    fn move_to(&mut self, tier: usize, now: Instant) {
        self.current = tier;
        self.since = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 200 kbit/s sent; an estimate above it is no congestion, 150k is.
    const SENT: f64 = 200_000.0;
    const FITS: f64 = 400_000.0;
    const NARROW: f64 = 150_000.0;

    #[test]
    fn an_estimate_above_what_is_sent_keeps_the_top_tier() {
        let t0 = Instant::now();
        let mut l = Ladder::new(3, t0);
        for s in 1..100 {
            assert_eq!(l.step(FITS, true, SENT, t0 + Duration::from_secs(s)), 0);
        }
        // Before feedback, the start figure is no reason to move.
        assert_eq!(l.step(10_000.0, false, SENT, t0), 0);
    }

    #[test]
    fn a_narrow_path_steps_down_a_tier_each_time_to_the_lowest() {
        let t0 = Instant::now();
        let mut l = Ladder::new(3, t0);
        assert_eq!(l.step(NARROW, true, SENT, t0), 1);
        assert_eq!(l.step(NARROW / 2.0, true, SENT / 2.0, t0), 2);
        assert_eq!(l.step(1_000.0, true, SENT / 4.0, t0), 2);
        // Trouble at the bottom for a long while: the hold counts from its end.
        let later = t0 + HOLD * 4;
        assert_eq!(l.step(1_000.0, true, SENT / 4.0, later), 2);
        assert_eq!(l.step(FITS, true, SENT / 4.0, later + HOLD / 2), 2);
        assert_eq!(l.step(FITS, true, SENT / 4.0, later + HOLD), 1);
    }

    #[test]
    fn it_tries_one_tier_up_after_the_hold_and_waits_longer_when_that_fails() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut l = Ladder::new(3, t0);
        assert_eq!(l.step(NARROW, true, SENT, at(0)), 1);
        assert_eq!(l.step(FITS, true, SENT / 2.0, at(7)), 1);
        assert_eq!(l.step(FITS, true, SENT / 2.0, at(8)), 0);
        // The top tier did not fit: down again, and the next try waits twice as long.
        assert_eq!(l.step(NARROW, true, SENT, at(9)), 1);
        assert_eq!(l.step(FITS, true, SENT / 2.0, at(24)), 1);
        assert_eq!(l.step(FITS, true, SENT / 2.0, at(25)), 0);
        // It held this time: a later narrowing is not the step up's fault.
        assert_eq!(l.step(FITS, true, SENT, at(100)), 0);
        assert_eq!(l.step(NARROW, true, SENT, at(101)), 1);
        assert_eq!(l.step(FITS, true, SENT / 2.0, at(109)), 0);
    }

    #[test]
    fn one_tier_is_a_fixed_rate() {
        let t0 = Instant::now();
        let mut l = Ladder::new(1, t0);
        assert_eq!(l.step(1_000.0, true, SENT, t0), 0);
        assert_eq!(l.step(FITS, true, SENT, t0 + HOLD * 10), 0);
    }
}
