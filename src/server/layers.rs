//! Simulcast, as pure code on the caller's clock (`forward.rs` drives it): what each layer of
//! a published track is sending ([`Layers`]), and which layer one subscriber's leg gets
//! ([`LayerChoice`]).
//!
//! Layers are told apart by their SSRCs and ordered by the picture size their keyframes say
//! (not by the order of the rids, which each sender picks), by their rate where no size is
//! known (AV1). A layer that has sent nothing for a while is paused (browsers pause their
//! top layer when their path narrows) and is nobody's target.

use std::time::{Duration, Instant};

use crate::congestion::CAPACITY_SHARE;
use crate::session::{Layer, LayerWish};

/// A layer silent this long is paused.
const PAUSED_AFTER: Duration = Duration::from_millis(700);
/// The rate is counted over two windows of this length (the current and the last whole one).
const RATE_WINDOW: Duration = Duration::from_millis(500);
/// A layer fits a path whose estimate is at least its rate over this share.
const FIT: f64 = 0.85;
/// A leg goes up only after the layer above fitted this long without a break; after a step
/// up that failed (down again within `UP_TRIAL`), twice as long, up to `UP_HOLD_MAX`; a step
/// up that held for `UP_SETTLED` brings the hold back.
const UP_HOLD: Duration = Duration::from_secs(1);
const UP_HOLD_MAX: Duration = Duration::from_secs(30);
const UP_TRIAL: Duration = Duration::from_secs(4);
const UP_SETTLED: Duration = Duration::from_secs(10);
/// A leg going down while its path queues this long goes to the smallest layer: the path
/// has narrowed by more than the estimate (from what arrived over the last half second,
/// before it narrowed too) can say yet, and a layer between that does not fit would cost
/// a second switch, each behind its own keyframe.
const DEEP_QUEUE_MS: f64 = 100.0;
/// A leg that follows its path and gets less than the largest layer has its path probed this
/// often: what a path that widened again carries shows only in trains of packets, and a
/// small layer's frames make none. When the newest train showed room for the layer above,
/// again after `PROBE_AGAIN`, so that the median of the trains follows within a second.
const PROBE_EVERY: Duration = Duration::from_secs(1);
const PROBE_AGAIN: Duration = Duration::from_millis(250);
/// A leg sent down probes no sooner than this after: what its path queued drains first (a
/// probe sent into that queue overflows it, and is lost with the frame it ends).
const PROBE_AFTER_DOWN: Duration = Duration::from_secs(2);
/// No probe while the path queues more than this: a probe would only queue behind it.
const PROBE_QUEUE_MS: f64 = 15.0;

/// One layer as the hub sees it.
#[derive(Debug, Clone)]
struct Seen {
    ssrc: u32,
    size: Option<(u32, u32)>,
    /// Bytes in the current window and in the last whole one.
    bytes: u64,
    last_bytes: u64,
    window: Instant,
    newest: Instant,
    first: Instant,
}

/// A layer sending now, as the rungs of [`Layers::rungs`] list them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rung {
    pub(crate) ssrc: u32,
    /// Bit/s of RTP payload and header over the last half second or so.
    pub(crate) bps: f64,
    pub(crate) size: Option<(u32, u32)>,
}

/// What each layer of one simulcast track sends.
#[derive(Debug, Default)]
pub(crate) struct Layers {
    seen: Vec<Seen>,
    /// How many layers its sender declared (0: not known).
    declared: usize,
}

impl Layers {
    /// The layers of a track whose sender declared `declared` of them.
    pub(crate) fn new(declared: usize) -> Layers {
        Layers {
            seen: Vec::new(),
            declared,
        }
    }

    /// The name of rung `index` of the `count` sending now. A sender pauses its largest
    /// layers first (and starts them last), so the ones sending are the smallest it declared:
    /// a lone smallest layer is `low`, not `high`.
    pub(crate) fn name(&self, index: usize, count: usize) -> Layer {
        Layer::at(index, count.max(self.declared))
    }

    /// How many layers its sender declared (0: not known).
    pub(crate) fn declared(&self) -> usize {
        self.declared
    }

    /// A packet of `bytes` (payload and header) of layer `ssrc` arrived; `size`: the picture
    /// size its keyframe says, when it starts one.
    pub(crate) fn on_packet(
        &mut self,
        ssrc: u32,
        bytes: usize,
        size: Option<(u32, u32)>,
        now: Instant,
    ) {
        let i = match self.seen.iter().position(|s| s.ssrc == ssrc) {
            Some(i) => i,
            None => {
                self.seen.push(Seen {
                    ssrc,
                    size: None,
                    bytes: 0,
                    last_bytes: 0,
                    window: now,
                    newest: now,
                    first: now,
                });
                self.seen.len() - 1
            }
        };
        let s = &mut self.seen[i];
        roll(s, now);
        s.bytes += bytes as u64;
        s.newest = now;
        if size.is_some() {
            s.size = size;
        }
    }

    /// The layers sending now (none paused), from the smallest picture to the largest.
    pub(crate) fn rungs(&mut self, now: Instant) -> Vec<Rung> {
        let mut rungs: Vec<Rung> = self
            .seen
            .iter_mut()
            .filter(|s| now.saturating_duration_since(s.newest) < PAUSED_AFTER)
            .map(|s| {
                roll(s, now);
                // A layer seen only lately is counted over the time since.
                let span = (RATE_WINDOW + now.saturating_duration_since(s.window))
                    .min(now.saturating_duration_since(s.first))
                    .max(Duration::from_millis(50));
                Rung {
                    ssrc: s.ssrc,
                    bps: (s.bytes + s.last_bytes) as f64 * 8.0 / span.as_secs_f64(),
                    size: s.size,
                }
            })
            .collect();
        // By size where every layer's is known (a keyframe whose first packet does not say
        // it leaves a layer without one for a while), else by rate.
        match rungs.iter().all(|r| r.size.is_some()) {
            true => {
                let area = |r: &Rung| r.size.map_or(0, |(w, h)| u64::from(w) * u64::from(h));
                rungs.sort_by(|a, b| area(a).cmp(&area(b)).then(a.bps.total_cmp(&b.bps)));
            }
            false => rungs.sort_by(|a, b| a.bps.total_cmp(&b.bps)),
        }
        rungs
    }
}

/// Moves `s`'s windows on to `now`.
fn roll(s: &mut Seen, now: Instant) {
    let since = now.saturating_duration_since(s.window);
    if since >= RATE_WINDOW * 2 {
        s.last_bytes = 0;
        s.bytes = 0;
        s.window = now;
    } else if since >= RATE_WINDOW {
        s.last_bytes = s.bytes;
        s.bytes = 0;
        s.window += RATE_WINDOW;
    }
}

/// What a leg's connection is known to carry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Path {
    /// Its congestion control's estimate, bit/s.
    pub(crate) bps: f64,
    /// What trains of packets showed it carries, when any did lately.
    pub(crate) capacity: Option<f64>,
    /// The queueing delay its feedback shows, ms.
    pub(crate) queue_ms: Option<f64>,
    /// What the newest train showed, bit/s.
    pub(crate) newest_train: Option<f64>,
    /// The bottleneck the newest feedback showed a queue in front of, bit/s: the path has
    /// narrowed to this.
    pub(crate) bottleneck: Option<f64>,
}

/// Which layer one leg is to get: the one asked for (`high`, `mid`, `low`: that layer,
/// whatever the path), or with `auto` the largest whose rate fits the leg's path — down at
/// once when the current layer no longer fits, up only once the layer above has fitted for
/// a hold that doubles after each step up that failed. A server's estimate of a path that
/// shows no trouble sits at its ceiling (nothing it sends fills the path), so where trains
/// showed what the path carries, that bounds it; a step up where none did is a trial, and
/// the larger layer's frames are the trains that tell.
#[derive(Debug)]
pub(crate) struct LayerChoice {
    wish: LayerWish,
    target: Option<u32>,
    /// Since when a larger layer than the target has fitted.
    up_since: Option<Instant>,
    /// How long a larger layer must fit before the leg goes up.
    hold: Duration,
    /// When the leg last went up.
    went_up: Option<Instant>,
    /// How many layers the sender declared (0: not known): a named layer is its place among
    /// them, as `Layers::name` names it.
    declared: usize,
    /// No probe before this.
    next_probe: Option<Instant>,
}

impl LayerChoice {
    /// A leg's choice of the layers of a sender that declared `declared` of them.
    pub(crate) fn new(wish: impl Into<LayerWish>, declared: usize) -> LayerChoice {
        LayerChoice {
            wish: wish.into(),
            declared,
            target: None,
            up_since: None,
            hold: UP_HOLD,
            went_up: None,
            next_probe: None,
        }
    }

    /// Starts again, as new (a publisher that came back sends new layers).
    pub(crate) fn restart(&mut self, declared: usize) {
        *self = LayerChoice::new(self.wish, declared);
    }

    /// Whether the layer follows the leg's path (`auto`), rather than the subscriber's wish.
    pub(crate) fn follows_path(&self) -> bool {
        self.wish.layer == Layer::Auto
    }

    /// The subscriber asks for another layer: chosen anew from the next pick, going on from
    /// the layer it gets now (what failed steps up and probes taught stays).
    pub(crate) fn set_wish(&mut self, wish: LayerWish) {
        if wish != self.wish {
            self.wish = wish;
            self.up_since = None;
        }
    }

    /// Whether to probe the leg's path now (a train of packets: `forward.rs` ends a frame
    /// with filler data, or follows it with padding packets): not within
    /// `PROBE_AFTER_DOWN` of its path sending it down, and it
    /// follows its path, gets less than the largest layer sending, no larger one fits yet
    /// as far as it knows, and the path does not queue.
    pub(crate) fn probe(&mut self, rungs: &[Rung], path: Option<Path>, now: Instant) -> bool {
        let Some(path) = path else { return false };
        let Some(above) = self
            .target
            .and_then(|t| rungs.iter().position(|r| r.ssrc == t))
            .filter(|&cur| cur < self.ceiling(rungs))
            .and_then(|cur| rungs.get(cur + 1))
        else {
            return false;
        };
        if !self.follows_path()
            || self.up_since.is_some()
            || path.queue_ms.is_some_and(|q| q > PROBE_QUEUE_MS)
            || self.next_probe.is_some_and(|at| now < at)
        {
            return false;
        }
        let room = path
            .newest_train
            .is_some_and(|t| t * CAPACITY_SHARE * FIT >= above.bps);
        self.next_probe = Some(now + if room { PROBE_AGAIN } else { PROBE_EVERY });
        true
    }

    /// The largest layer the wish allows of `rungs` (not empty): with a maximum size, the
    /// smallest whose picture is at least 90 % of it each way, or the largest when none is
    /// or a layer's size is not known (AV1's).
    pub(crate) fn ceiling(&self, rungs: &[Rung]) -> usize {
        let top = rungs.len().saturating_sub(1);
        let Some((w, h)) = self.wish.max_size else {
            return top;
        };
        let covers = |(rw, rh): (u32, u32)| {
            f64::from(rw) >= 0.9 * f64::from(w) && f64::from(rh) >= 0.9 * f64::from(h)
        };
        rungs
            .iter()
            .map(|r| r.size.map(covers))
            .collect::<Option<Vec<bool>>>()
            .and_then(|c| c.iter().position(|&c| c))
            .unwrap_or(top)
    }

    /// The layer to forward, from the layers sending now (`rungs`, smallest first) and the
    /// leg's path (`None` before it has been measured, when `auto` starts on the smallest:
    /// the quickest first picture, and no burst a narrow path must queue); `None` while no
    /// layer sends.
    pub(crate) fn pick(&mut self, rungs: &[Rung], path: Option<Path>, now: Instant) -> Option<u32> {
        let estimate = path.map_or(0.0, |p| p.capacity.map_or(p.bps, |c| c.min(p.bps)));
        if rungs.is_empty() {
            return self.target;
        }
        if self
            .went_up
            .is_some_and(|at| now.saturating_duration_since(at) >= UP_SETTLED)
        {
            self.hold = UP_HOLD;
            self.went_up = None;
        }
        let at = |ssrc| rungs.iter().position(|r: &Rung| r.ssrc == ssrc);
        let cur = self.target.and_then(at);
        // Whether a larger layer fits and the hold runs.
        let mut holding = false;
        // A named layer among those declared; one not sending (a sender pauses its largest
        // first) gives the largest that is.
        let ceiling = self.ceiling(rungs);
        let named = self
            .wish
            .layer
            .index(rungs.len().max(self.declared))
            .map(|i| i.min(ceiling));
        let chosen = match named {
            Some(i) => i,
            None => {
                let best = rungs[..=ceiling]
                    .iter()
                    .rposition(|r| r.bps <= estimate * FIT)
                    .unwrap_or(0);
                let deep = path
                    .and_then(|p| p.queue_ms)
                    .is_some_and(|q| q > DEEP_QUEUE_MS);
                // A path that narrowed: nothing above what its bottleneck carries, and from
                // a layer over it, down at once, before its queue overflows.
                let carried = path.and_then(|p| p.bottleneck).map(|b| {
                    rungs[..=ceiling]
                        .iter()
                        .rposition(|r| r.bps <= b * FIT)
                        .unwrap_or(0)
                });
                let best = carried.map_or(best, |c| best.min(c));
                let narrowed = carried.filter(|&c| cur.is_some_and(|cur| cur > c));
                match cur {
                    // A first pick (or the leg's layer paused): where no train showed the
                    // path, no higher than the one above the smallest.
                    None if path.is_some_and(|p| p.capacity.is_none()) => best.min(1),
                    None => best,
                    Some(cur) if best > cur && !deep => {
                        let since = *self.up_since.get_or_insert(now);
                        holding = now.saturating_duration_since(since) < self.hold;
                        if holding {
                            cur
                        } else {
                            self.went_up = Some(now);
                            // A trial goes one layer up: a larger layer's first frame, a
                            // keyframe, is what a narrow path must queue.
                            match path.is_some_and(|p| p.capacity.is_some()) {
                                true => best,
                                false => cur + 1,
                            }
                        }
                    }
                    // Down once the current layer is over the estimate itself (between the
                    // two, it stays), or the path queues deep (before the estimate has
                    // backed off: to the smallest), or it is over the ceiling; soon after a
                    // step up, that step failed.
                    Some(cur)
                        if rungs[cur].bps > estimate
                            || deep && cur > 0
                            || narrowed.is_some()
                            || cur > ceiling =>
                    {
                        if self
                            .went_up
                            .is_some_and(|at| now.saturating_duration_since(at) < UP_TRIAL)
                        {
                            self.hold = (self.hold * 2).min(UP_HOLD_MAX);
                        }
                        self.went_up = None;
                        let to = if deep { 0 } else { best };
                        // Sent down by its path (not by a smaller size asked for).
                        if to < cur && cur <= ceiling {
                            self.next_probe = Some(now + PROBE_AFTER_DOWN);
                        }
                        to
                    }
                    Some(cur) => cur,
                }
            }
        };
        if !holding {
            self.up_since = None;
        }
        let ssrc = rungs[chosen].ssrc;
        self.target = Some(ssrc);
        Some(ssrc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_layer_is_its_place_among_those_declared() {
        let t = Instant::now();
        // Three declared, the largest paused: mid is the larger of the two sending, and
        // high the largest that sends.
        let two = &rungs()[..2];
        assert_eq!(
            LayerChoice::new(Layer::Mid, 3).pick(two, est(1e9), t),
            Some(2)
        );
        assert_eq!(
            LayerChoice::new(Layer::High, 3).pick(two, est(1e9), t),
            Some(2)
        );
        assert_eq!(
            LayerChoice::new(Layer::Low, 3).pick(two, est(1e9), t),
            Some(3)
        );
        // Not declared: among those sending, mid of two is the smaller.
        assert_eq!(
            LayerChoice::new(Layer::Mid, 0).pick(two, est(1e9), t),
            Some(3)
        );
    }

    #[test]
    fn layers_are_named_among_those_declared() {
        let three = Layers::new(3);
        // Only the smallest sends yet: it is the low one of three, not the only one.
        assert_eq!(three.name(0, 1), Layer::Low);
        assert_eq!(three.name(1, 2), Layer::Mid);
        assert_eq!(three.name(2, 3), Layer::High);
        // Not declared (a sender that did not say): named among those sending.
        let unknown = Layers::default();
        assert_eq!(unknown.name(0, 1), Layer::High);
        assert_eq!(unknown.name(0, 2), Layer::Low);
        assert_eq!(unknown.name(1, 2), Layer::High);
    }

    fn ms(t: Instant, n: u64) -> Instant {
        t + Duration::from_millis(n)
    }

    /// Three layers at 150k, 500k and 1500k bit/s, sent for `secs` from `t` (a packet of 1000
    /// bytes each 1000*8/rate seconds), the top one only until `top_until` ms.
    fn three_layers(t: Instant, ms_total: u64, top_until: u64) -> Layers {
        let mut layers = Layers::default();
        let sizes = [(320, 180), (640, 360), (1280, 720)];
        for (i, (ssrc, rate)) in [(3u32, 150_000u64), (2, 500_000), (1, 1_500_000)]
            .into_iter()
            .enumerate()
        {
            let gap_us = 8_000_000_000 / rate; // µs per 1000-byte packet
            let mut at = 0u64;
            while at / 1000 < ms_total {
                if ssrc != 1 || at / 1000 < top_until {
                    let size = (at == 0).then_some(sizes[i]);
                    layers.on_packet(ssrc, 1000, size, t + Duration::from_micros(at));
                }
                at += gap_us;
            }
        }
        layers
    }

    #[test]
    fn layers_are_ranked_by_picture_size_and_paused_ones_left_out() {
        let t = Instant::now();
        let mut layers = three_layers(t, 2000, 2000);
        let rungs = layers.rungs(ms(t, 2000));
        let order: Vec<u32> = rungs.iter().map(|r| r.ssrc).collect();
        assert_eq!(order, vec![3, 2, 1]);
        for (r, want) in rungs.iter().zip([150_000.0, 500_000.0, 1_500_000.0]) {
            assert!((r.bps - want).abs() < want * 0.1, "{r:?}");
        }
        // The top layer stops: a while later it is paused.
        let mut layers = three_layers(t, 3000, 2000);
        let order: Vec<u32> = layers.rungs(ms(t, 3000)).iter().map(|r| r.ssrc).collect();
        assert_eq!(order, vec![3, 2]);
    }

    fn rungs() -> Vec<Rung> {
        [(3, 150_000.0), (2, 500_000.0), (1, 1_500_000.0)]
            .into_iter()
            .map(|(ssrc, bps)| Rung {
                ssrc,
                bps,
                size: None,
            })
            .collect()
    }

    fn est(bps: f64) -> Option<Path> {
        Some(Path {
            bps,
            capacity: None,
            queue_ms: None,
            newest_train: None,
            bottleneck: None,
        })
    }

    /// A path whose trains showed it carries more than `bps`.
    fn shown(bps: f64) -> Option<Path> {
        Some(Path {
            bps,
            capacity: Some(1e9),
            queue_ms: None,
            newest_train: None,
            bottleneck: None,
        })
    }

    #[test]
    fn a_leg_whose_path_queues_deep_goes_down_to_the_smallest() {
        let t = Instant::now();
        let mut c = LayerChoice::new(Layer::Auto, 0);
        assert_eq!(c.pick(&rungs(), shown(10e6), t), Some(1));
        // The estimate still says the middle layer fits, but the path queues 250 ms.
        let queued = Path {
            bps: 700_000.0,
            capacity: Some(1e9),
            queue_ms: Some(250.0),
            newest_train: None,
            bottleneck: None,
        };
        assert_eq!(c.pick(&rungs(), Some(queued), ms(t, 100)), Some(3));
        // Before the estimate has backed off at all, too.
        let mut c = LayerChoice::new(Layer::Auto, 0);
        c.pick(&rungs(), shown(10e6), t);
        let ceiling = Some(Path {
            bps: 10e6,
            ..queued
        });
        assert_eq!(c.pick(&rungs(), ceiling, ms(t, 100)), Some(3));
        // Nor does it go up while the queue is deep.
        assert_eq!(c.pick(&rungs(), ceiling, ms(t, 5000)), Some(3));
        // A shallow queue: down to what fits.
        let mut c = LayerChoice::new(Layer::Auto, 0);
        c.pick(&rungs(), shown(10e6), t);
        let shallow = Some(Path {
            queue_ms: Some(30.0),
            ..queued
        });
        assert_eq!(c.pick(&rungs(), shallow, ms(t, 100)), Some(2));
    }

    #[test]
    fn a_leg_whose_path_narrowed_goes_at_once_to_the_layer_its_bottleneck_carries() {
        let t = Instant::now();
        let mut c = LayerChoice::new(Layer::Auto, 0);
        assert_eq!(c.pick(&rungs(), shown(10e6), t), Some(1));
        // The estimate has not moved yet, but the newest packets drained at 700 kbit/s.
        let narrowed = |bottleneck: f64| {
            Some(Path {
                bottleneck: Some(bottleneck),
                ..shown(10e6).expect("a path")
            })
        };
        assert_eq!(c.pick(&rungs(), narrowed(700_000.0), ms(t, 50)), Some(2));
        // Nor does it go up while the bottleneck shows, however long.
        for n in 1..100 {
            let at = ms(t, 50 + 100 * n);
            assert_eq!(c.pick(&rungs(), narrowed(700_000.0), at), Some(2));
        }
        // Narrower than the smallest layer: the smallest.
        assert_eq!(c.pick(&rungs(), narrowed(100_000.0), ms(t, 5050)), Some(3));
        // A bottleneck the layer fits moves nothing.
        let mut c = LayerChoice::new(Layer::Auto, 0);
        c.pick(&rungs(), shown(10e6), t);
        assert_eq!(c.pick(&rungs(), narrowed(5e6), ms(t, 50)), Some(1));
        // Nor does it move a named layer.
        let mut c = LayerChoice::new(Layer::High, 0);
        c.pick(&rungs(), shown(10e6), t);
        assert_eq!(c.pick(&rungs(), narrowed(100_000.0), ms(t, 50)), Some(1));
    }

    #[test]
    fn a_leg_below_the_largest_layer_probes_its_path_while_it_does_not_queue() {
        let t = Instant::now();
        let path = |queue: f64, newest_train: Option<f64>| {
            Some(Path {
                bps: 400_000.0,
                capacity: Some(400_000.0),
                queue_ms: Some(queue),
                newest_train,
                bottleneck: None,
            })
        };
        let mut c = LayerChoice::new(Layer::Auto, 0);
        assert_eq!(c.pick(&rungs(), path(0.0, None), t), Some(3));
        // Unmeasured: no probe.
        assert!(!c.probe(&rungs(), None, t));
        assert!(c.probe(&rungs(), path(0.0, None), t));
        // Once a second.
        assert!(!c.probe(&rungs(), path(0.0, None), ms(t, 500)));
        // Not while the path queues.
        assert!(!c.probe(&rungs(), path(40.0, None), ms(t, 1000)));
        assert!(c.probe(&rungs(), path(0.0, Some(400_000.0)), ms(t, 1100)));
        // The newest train showed room for the middle layer: again soon, to confirm it.
        assert!(!c.probe(&rungs(), path(0.0, Some(5e6)), ms(t, 2000)));
        assert!(c.probe(&rungs(), path(0.0, Some(5e6)), ms(t, 2100)));
        assert!(c.probe(&rungs(), path(0.0, Some(5e6)), ms(t, 2350)));
        // Sent down (its path narrowed): none until what it queued has drained.
        let mut down = LayerChoice::new(Layer::Auto, 0);
        assert_eq!(down.pick(&rungs(), shown(10e6), t), Some(1));
        let narrowed = Some(Path {
            bottleneck: Some(400_000.0),
            ..shown(10e6).expect("a path")
        });
        assert_eq!(down.pick(&rungs(), narrowed, ms(t, 100)), Some(3));
        assert!(!down.probe(&rungs(), path(0.0, Some(5e6)), ms(t, 200)));
        assert!(!down.probe(&rungs(), path(0.0, Some(5e6)), ms(t, 2000)));
        assert!(down.probe(&rungs(), path(0.0, Some(5e6)), ms(t, 2100)));
        // On the smallest with an estimate under even that one: nowhere to go down, so no
        // hold on its probes.
        let mut low = LayerChoice::new(Layer::Auto, 0);
        assert_eq!(low.pick(&rungs(), path(0.0, None), t), Some(3));
        let under = Some(Path {
            bps: 100_000.0,
            capacity: None,
            ..path(0.0, None).expect("a path")
        });
        for n in 0..10 {
            assert_eq!(low.pick(&rungs(), under, ms(t, 100 * n)), Some(3));
        }
        assert!(low.probe(&rungs(), under, ms(t, 1000)));
        // On the largest layer, or with a layer asked for by name: none.
        let mut top = LayerChoice::new(Layer::Auto, 0);
        assert_eq!(top.pick(&rungs(), shown(10e6), t), Some(1));
        assert!(!top.probe(&rungs(), shown(10e6), t));
        let mut low = LayerChoice::new(Layer::Low, 0);
        low.pick(&rungs(), path(0.0, None), t);
        assert!(!low.probe(&rungs(), path(0.0, None), t));
    }

    #[test]
    fn a_maximum_size_caps_the_layer_at_the_smallest_that_covers_it() {
        let t = Instant::now();
        let sized: Vec<Rung> = rungs()
            .into_iter()
            .zip([(320, 180), (640, 360), (1280, 720)])
            .map(|(r, size)| Rung {
                size: Some(size),
                ..r
            })
            .collect();
        let wish = |layer, w, h| LayerWish {
            layer,
            max_size: Some((w, h)),
            off: false,
        };
        // 600x340 is within 10 % of 640x360: the middle layer, however wide the path.
        let mut c = LayerChoice::new(wish(Layer::Auto, 600, 340), 0);
        assert_eq!(c.pick(&sized, shown(10e6), t), Some(2));
        assert_eq!(c.pick(&sized, shown(10e6), ms(t, 5000)), Some(2));
        // Under it, the path still decides; and no probe for a layer it may not get.
        assert_eq!(c.pick(&sized, est(200_000.0), ms(t, 5100)), Some(3));
        let mut top = LayerChoice::new(wish(Layer::Auto, 600, 340), 0);
        top.pick(&sized, shown(10e6), t);
        assert!(!top.probe(&sized, shown(10e6), ms(t, 2000)));
        // A named layer above it gives it; below it, that layer.
        let mut c = LayerChoice::new(wish(Layer::High, 600, 340), 0);
        assert_eq!(c.pick(&sized, est(1e9), t), Some(2));
        let mut c = LayerChoice::new(wish(Layer::Low, 600, 340), 0);
        assert_eq!(c.pick(&sized, est(1e9), t), Some(3));
        // Larger than every layer: the largest. 100x100: the smallest.
        let mut c = LayerChoice::new(wish(Layer::Auto, 1920, 1080), 0);
        assert_eq!(c.pick(&sized, shown(10e6), t), Some(1));
        let mut c = LayerChoice::new(wish(Layer::Auto, 100, 100), 0);
        assert_eq!(c.pick(&sized, shown(10e6), t), Some(3));
        // Sizes not known: not applied.
        let mut c = LayerChoice::new(wish(Layer::Auto, 100, 100), 0);
        assert_eq!(c.pick(&rungs(), shown(10e6), t), Some(1));
        // Asked for while on the top layer: down to it.
        let mut c = LayerChoice::new(Layer::Auto, 0);
        assert_eq!(c.pick(&sized, shown(10e6), t), Some(1));
        c.set_wish(wish(Layer::Auto, 320, 180));
        assert_eq!(c.pick(&sized, shown(10e6), ms(t, 100)), Some(3));
    }

    #[test]
    fn a_named_layer_is_kept_whatever_the_estimate() {
        let t = Instant::now();
        for (wish, want) in [(Layer::High, 1), (Layer::Mid, 2), (Layer::Low, 3)] {
            let mut c = LayerChoice::new(wish, 0);
            assert_eq!(c.pick(&rungs(), est(100_000.0), t), Some(want));
            assert_eq!(c.pick(&rungs(), est(10e6), ms(t, 5000)), Some(want));
        }
        // Two layers: mid is the smaller.
        let two = &rungs()[..2];
        assert_eq!(
            LayerChoice::new(Layer::Mid, 0).pick(two, est(1e9), t),
            Some(3)
        );
        assert_eq!(
            LayerChoice::new(Layer::High, 0).pick(two, est(1e9), t),
            Some(2)
        );
    }

    #[test]
    fn auto_starts_at_the_largest_that_fits_goes_down_at_once_and_up_after_a_hold() {
        let t = Instant::now();
        let mut c = LayerChoice::new(Layer::Auto, 0);
        // Before the path is measured: the smallest.
        assert_eq!(c.pick(&rungs(), None, t), Some(3));
        let mut c = LayerChoice::new(Layer::Auto, 0);
        assert_eq!(c.pick(&rungs(), shown(2_000_000.0), t), Some(1));
        // Between the rate and the fit: it stays.
        assert_eq!(c.pick(&rungs(), est(1_600_000.0), ms(t, 50)), Some(1));
        // Under the top layer's rate: down at once, to the largest that fits.
        assert_eq!(c.pick(&rungs(), est(400_000.0), ms(t, 100)), Some(3));
        // The estimate climbs: up only after the hold, without a break.
        assert_eq!(c.pick(&rungs(), est(2_000_000.0), ms(t, 200)), Some(3));
        assert_eq!(c.pick(&rungs(), est(2_000_000.0), ms(t, 900)), Some(3));
        assert_eq!(c.pick(&rungs(), est(300_000.0), ms(t, 1000)), Some(3));
        assert_eq!(c.pick(&rungs(), est(2_000_000.0), ms(t, 1100)), Some(3));
        assert_eq!(c.pick(&rungs(), est(2_000_000.0), ms(t, 2000)), Some(3));
        // Without trains that showed the path, one layer at a time.
        assert_eq!(c.pick(&rungs(), est(2_000_000.0), ms(t, 2100)), Some(2));
        // Nothing fits: the smallest.
        assert_eq!(c.pick(&rungs(), est(50_000.0), ms(t, 2200)), Some(3));
        // Its layer pauses: the largest that fits among the others.
        let mut c = LayerChoice::new(Layer::Auto, 0);
        assert_eq!(c.pick(&rungs(), shown(5e6), t), Some(1));
        // Where no train showed the path, a first pick goes no higher than the second.
        assert_eq!(
            LayerChoice::new(Layer::Auto, 0).pick(&rungs(), est(5e6), t),
            Some(2)
        );
        assert_eq!(c.pick(&rungs()[..2], est(5e6), ms(t, 10)), Some(2));
        // And no layer at all: it keeps what it had.
        assert_eq!(c.pick(&[], est(5e6), ms(t, 20)), Some(2));
    }

    #[test]
    fn what_trains_showed_bounds_the_estimate_and_failed_steps_up_wait_longer() {
        let t = Instant::now();
        let mut c = LayerChoice::new(Layer::Auto, 0);
        let narrow = Some(Path {
            bps: 50e6,
            capacity: Some(250_000.0),
            queue_ms: None,
            newest_train: None,
            bottleneck: None,
        });
        assert_eq!(c.pick(&rungs(), narrow, t), Some(3));
        // No train lately: the ceiling is all it knows; a step up after the hold, a trial.
        assert_eq!(c.pick(&rungs(), est(50e6), ms(t, 100)), Some(3));
        assert_eq!(c.pick(&rungs(), est(50e6), ms(t, 1100)), Some(2));
        // The larger frames' trains show the path: down, and the next trial waits 2 s.
        assert_eq!(c.pick(&rungs(), narrow, ms(t, 2300)), Some(3));
        assert_eq!(c.pick(&rungs(), est(50e6), ms(t, 2400)), Some(3));
        assert_eq!(c.pick(&rungs(), est(50e6), ms(t, 3400)), Some(3));
        assert_eq!(c.pick(&rungs(), est(50e6), ms(t, 4400)), Some(2));
        assert_eq!(c.pick(&rungs(), narrow, ms(t, 4500)), Some(3));
        // 4 s after that; and a step up that holds for 10 s brings the hold back to 1 s.
        assert_eq!(c.pick(&rungs(), est(50e6), ms(t, 4600)), Some(3));
        assert_eq!(c.pick(&rungs(), est(50e6), ms(t, 8500)), Some(3));
        assert_eq!(c.pick(&rungs(), est(50e6), ms(t, 8600)), Some(2));
        assert_eq!(c.pick(&rungs(), est(50e6), ms(t, 18_600)), Some(2));
        assert_eq!(c.pick(&rungs(), narrow, ms(t, 18_700)), Some(3));
        assert_eq!(c.pick(&rungs(), est(50e6), ms(t, 18_800)), Some(3));
        assert_eq!(c.pick(&rungs(), est(50e6), ms(t, 19_800)), Some(2));
        // Where trains showed a wide path, straight to the largest that fits.
        let wide = Some(Path {
            bps: 50e6,
            capacity: Some(100e6),
            queue_ms: None,
            newest_train: None,
            bottleneck: None,
        });
        assert_eq!(c.pick(&rungs(), wide, ms(t, 20_900)), Some(2));
        assert_eq!(c.pick(&rungs(), wide, ms(t, 21_900)), Some(1));
    }
}
