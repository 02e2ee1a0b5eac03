//! Congestion control, pure: what the far end says arrived (transport-wide feedback) in, a
//! send rate out ([`Estimator`]); and how a publisher spends that rate on its encoders
//! ([`Budget`]). Nothing here reads a clock or does I/O: every instant is handed in, so a
//! feedback sequence gives one bitrate trajectory, every time. `peer` feeds the estimator from
//! webrtc-rs's congestion-control interceptor; `publish` applies the allocation.
//!
//! The estimator follows Google Congestion Control's shape (a delay half and a loss half, the
//! lower wins; back off from what the path delivers, climb multiplicatively far from the last
//! known limit and additively near it), with the delay half measured as the queueing delay
//! itself: each packet's one-way delay above the smallest seen lately. On the bottlenecks it
//! is meant for — a narrow uplink with a queue in front of it — that is the signal a growing
//! queue gives, without a trend filter's warm-up. A queue counts as congestion only while it
//! grows (the one-way delay's slope over the last second): a path whose delay only jitters
//! keeps a standing "queue" of about the jitter that sending less would not shorten.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One packet the far end reported on, in send order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ack {
    /// When it left this endpoint.
    pub departure: Instant,
    /// When it arrived, on the receiver's clock (only differences mean anything); `None`: lost.
    pub arrival: Option<Duration>,
    /// Bytes on the wire.
    pub size: usize,
}

/// Why the estimate is where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No feedback yet: the configured rate.
    Start,
    /// Nothing queues and nothing is lost: climbing.
    Increase,
    /// Nothing queues and nothing is lost, and the rate is at its ceiling.
    Ceiling,
    /// Packets queue on the path: backed off below what it delivers.
    Delay,
    /// The far end reports losses above 10 %.
    Loss,
    /// The far end asked for less (REMB: a Janus room's cap, vcall serve's slowest subscriber).
    Remb,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Start => "start",
            Reason::Increase => "increase",
            Reason::Ceiling => "ceiling",
            Reason::Delay => "delay",
            Reason::Loss => "loss",
            Reason::Remb => "remb",
        }
    }
}

/// Queueing delay above which the path counts as congested, once it has been so in this many
/// feedbacks in a row (a busy machine's scheduling delays a packet now and then; a queue
/// stays).
const QUEUE_HIGH_MS: f64 = 40.0;
const QUEUE_HIGH_FEEDBACKS: u32 = 2;
/// Queueing delay below which the rate may climb; between the two it climbs only while the
/// queue shrinks.
const QUEUE_LOW_MS: f64 = 15.0;
/// The one-way delay's growth (ms per ms sent) above which a queue is growing: 3 % over the
/// path's rate. Jitter of ±30 ms moves the slope over a second by well under 1 %.
const GROWING: f64 = 0.03;
/// Packets over which the delay's slope is taken, by departure.
const TREND_WINDOW: Duration = Duration::from_secs(1);
/// Loss above which the rate backs off, and below which it may climb.
const LOSS_HIGH: f64 = 0.10;
const LOSS_LOW: f64 = 0.02;
/// A back-off goes to this share of what the path delivered.
const BACKOFF: f64 = 0.85;
/// Multiplicative climb per second, far from the last known limit.
const CLIMB_PER_SEC: f64 = 1.2;
/// Multiplicative climb per second before the first back-off (slow start: the rate doubles
/// every half second until the path shows a queue).
const STARTUP_CLIMB_PER_SEC: f64 = 4.0;
/// Additive climb near the last known limit: this share of the rate per second, at least
/// `ADDITIVE_MIN_BPS`.
const ADDITIVE_SHARE: f64 = 0.05;
const ADDITIVE_MIN_BPS: f64 = 50_000.0;
/// The last known limit is forgotten once the rate passes it by this factor without trouble.
const LIMIT_FORGOTTEN: f64 = 1.15;
/// The rate climbs to at most this multiple of what arrives (plus `HEADROOM_BPS`): an encoder
/// that does not use its rate does not let the estimate run away from what the path showed.
const RECEIVED_MULTIPLE: f64 = 1.5;
const HEADROOM_BPS: f64 = 50_000.0;
/// Windows: arrivals for the delivered rate, losses, and the smallest one-way delay.
const RATE_WINDOW: Duration = Duration::from_millis(500);
const LOSS_WINDOW: Duration = Duration::from_secs(1);
/// Feedback after this long without any reports the packets lost to an outage (nothing came
/// back while the path was down), not to the rate: its losses do not count.
const OUTAGE: Duration = Duration::from_secs(1);
const BASE_WINDOW_SECS: u64 = 10;
/// After a back-off, the next one waits until the queue has had time to drain, unless the
/// queue keeps growing.
const BACKOFF_SPACING: Duration = Duration::from_millis(300);
const BACKOFF_SETTLE: Duration = Duration::from_millis(1000);

/// The smallest one-way delay over the last `BASE_WINDOW_SECS` seconds, kept as one minimum per
/// second (clocks drift apart slowly; a route can change).
#[derive(Debug, Default)]
struct BaseDelay {
    seconds: VecDeque<(u64, f64)>,
}

impl BaseDelay {
    fn note(&mut self, second: u64, owd_ms: f64) {
        match self.seconds.back_mut() {
            Some((s, min)) if *s == second => *min = min.min(owd_ms),
            _ => self.seconds.push_back((second, owd_ms)),
        }
        while self
            .seconds
            .front()
            .is_some_and(|(s, _)| s + BASE_WINDOW_SECS <= second)
        {
            self.seconds.pop_front();
        }
    }

    fn min(&self) -> Option<f64> {
        self.seconds.iter().map(|(_, m)| *m).reduce(f64::min)
    }
}

/// The slope of one-way delay over departure time, least squares over `TREND_WINDOW`.
#[derive(Debug, Default)]
struct Trend {
    /// (departure ms, one-way delay ms), in departure order.
    points: VecDeque<(f64, f64)>,
}

impl Trend {
    fn note(&mut self, departure_ms: f64, owd_ms: f64) {
        self.points.push_back((departure_ms, owd_ms));
        let window = TREND_WINDOW.as_secs_f64() * 1000.0;
        while self
            .points
            .front()
            .is_some_and(|(d, _)| *d + window < departure_ms)
        {
            self.points.pop_front();
        }
    }

    /// ms of delay per ms sent; `None` with too few packets or too short a span to say.
    fn slope(&self) -> Option<f64> {
        let n = self.points.len() as f64;
        let (first, last) = (self.points.front()?, self.points.back()?);
        if n < 8.0 || last.0 - first.0 < 100.0 {
            return None;
        }
        let (mx, my) = self
            .points
            .iter()
            .fold((0.0, 0.0), |(x, y), (d, o)| (x + d / n, y + o / n));
        let (sxy, sxx) = self.points.iter().fold((0.0, 0.0), |(xy, xx), (d, o)| {
            (xy + (d - mx) * (o - my), xx + (d - mx) * (d - mx))
        });
        (sxx > 0.0).then(|| sxy / sxx)
    }
}

/// A send-side bandwidth estimate from per-packet feedback.
#[derive(Debug)]
pub struct Estimator {
    min: f64,
    max: f64,
    target: f64,
    reason: Reason,
    /// The first departure seen: one-way delays are measured from it.
    epoch: Option<Instant>,
    base: BaseDelay,
    trend: Trend,
    /// Smoothed queueing delay, ms.
    queue_ms: Option<f64>,
    /// Arrivals (receiver clock) and sizes, for the delivered rate.
    arrivals: VecDeque<(Duration, usize)>,
    /// Lost and reported packets per feedback, for the loss rate.
    losses: VecDeque<(Instant, usize, usize)>,
    /// What the path delivered at the last back-off: approached carefully.
    limit: Option<f64>,
    last_update: Option<Instant>,
    /// The last back-off and the queueing delay then.
    last_backoff: Option<(Instant, f64)>,
    /// Feedbacks in a row that showed a queue above `QUEUE_HIGH_MS`.
    queued: u32,
}

impl Estimator {
    /// An estimate starting at `initial`, kept within `min..=max` (bit/s).
    pub fn new(initial: f64, min: f64, max: f64) -> Estimator {
        let max = max.max(min);
        Estimator {
            min,
            max,
            target: initial.clamp(min, max),
            reason: Reason::Start,
            epoch: None,
            base: BaseDelay::default(),
            trend: Trend::default(),
            queue_ms: None,
            arrivals: VecDeque::new(),
            losses: VecDeque::new(),
            limit: None,
            last_update: None,
            last_backoff: None,
            queued: 0,
        }
    }

    /// The estimate, bit/s.
    pub fn target(&self) -> f64 {
        self.target
    }

    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The smoothed queueing delay the last feedback showed, ms.
    pub fn queue_ms(&self) -> Option<f64> {
        self.queue_ms
    }

    /// Takes one feedback's packets (in send order), received at `now`.
    pub fn on_acks(&mut self, now: Instant, acks: &[Ack]) {
        if acks.is_empty() {
            return;
        }
        let epoch = *self.epoch.get_or_insert(acks[0].departure);
        let mut queue_sum = 0.0;
        let mut arrived = 0usize;
        let mut lost = 0usize;
        let after_outage = self
            .last_update
            .is_some_and(|t| now.saturating_duration_since(t) > OUTAGE);
        for ack in acks {
            let Some(arrival) = ack.arrival else {
                lost += usize::from(!after_outage);
                continue;
            };
            let sent = ack.departure.saturating_duration_since(epoch);
            let owd_ms = (arrival.as_secs_f64() - sent.as_secs_f64()) * 1000.0;
            self.base.note(sent.as_secs(), owd_ms);
            self.trend.note(sent.as_secs_f64() * 1000.0, owd_ms);
            let base = self.base.min().unwrap_or(owd_ms);
            queue_sum += (owd_ms - base).max(0.0);
            arrived += 1;
            self.arrivals.push_back((arrival, ack.size));
        }
        if let Some(&(newest, _)) = self.arrivals.back() {
            while self
                .arrivals
                .front()
                .is_some_and(|(a, _)| *a + RATE_WINDOW < newest)
            {
                self.arrivals.pop_front();
            }
        }
        if arrived > 0 {
            let q = queue_sum / arrived as f64;
            self.queue_ms = Some(self.queue_ms.map_or(q, |s| 0.5 * s + 0.5 * q));
        }
        self.losses.push_back((now, lost, arrived + lost));
        while self
            .losses
            .front()
            .is_some_and(|(t, _, _)| *t + LOSS_WINDOW < now)
        {
            self.losses.pop_front();
        }
        self.update(now);
    }

    /// What the path delivered over the last `RATE_WINDOW`, bit/s; `None` while too little
    /// has arrived to say.
    fn received(&self) -> Option<f64> {
        let (first, _) = self.arrivals.front()?;
        let (last, _) = self.arrivals.back()?;
        let span = last.saturating_sub(*first).as_secs_f64();
        if span < 0.1 || self.arrivals.len() < 4 {
            return None;
        }
        // The first packet's bytes arrived before the span began.
        let bytes: usize = self.arrivals.iter().skip(1).map(|(_, s)| s).sum();
        Some(bytes as f64 * 8.0 / span)
    }

    /// The share of packets the far end reported lost over the last second.
    pub fn loss(&self) -> f64 {
        let (lost, total) = self
            .losses
            .iter()
            .fold((0, 0), |(l, t), (_, lost, total)| (l + lost, t + total));
        if total < 20 {
            0.0
        } else {
            lost as f64 / total as f64
        }
    }

    fn update(&mut self, now: Instant) {
        let dt = self
            .last_update
            .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64())
            .min(1.0);
        self.last_update = Some(now);
        let queue = self.queue_ms.unwrap_or(0.0);
        let loss = self.loss();
        let received = self.received();
        let slope = self.trend.slope();
        tracing::trace!(
            target = self.target,
            queue,
            slope,
            loss,
            received,
            "congestion feedback"
        );
        let may_back_off = self.last_backoff.is_none_or(|(at, q)| {
            let since = now.saturating_duration_since(at);
            since >= BACKOFF_SETTLE || (since >= BACKOFF_SPACING && queue > q)
        });
        self.queued = if queue > QUEUE_HIGH_MS && slope.is_some_and(|s| s > GROWING) {
            self.queued + 1
        } else {
            0
        };
        if self.queued >= QUEUE_HIGH_FEEDBACKS && may_back_off {
            // Before the path has shown what it delivers, the next feedback will.
            let Some(delivered) = received else { return };
            self.target = (delivered * BACKOFF).min(self.target);
            self.limit = Some(delivered);
            self.last_backoff = Some((now, queue));
            self.reason = Reason::Delay;
        } else if loss > LOSS_HIGH && may_back_off {
            self.target *= 1.0 - 0.5 * loss;
            self.limit = Some(received.unwrap_or(self.target));
            self.last_backoff = Some((now, queue));
            self.reason = Reason::Loss;
        } else if loss < LOSS_LOW
            && dt > 0.0
            && (queue < QUEUE_LOW_MS || queue < QUEUE_HIGH_MS && slope.is_some_and(|s| s < 0.0))
        {
            if self
                .limit
                .is_some_and(|limit| self.target > limit * LIMIT_FORGOTTEN)
            {
                self.limit = None;
            }
            let mut next = if self.limit.is_some() {
                self.target + (self.target * ADDITIVE_SHARE).max(ADDITIVE_MIN_BPS) * dt
            } else if self.last_backoff.is_none() {
                self.target * STARTUP_CLIMB_PER_SEC.powf(dt)
            } else {
                self.target * CLIMB_PER_SEC.powf(dt)
            };
            if let Some(r) = received {
                next = next.min((r * RECEIVED_MULTIPLE + HEADROOM_BPS).max(self.target));
            }
            if next > self.target {
                self.reason = Reason::Increase;
            }
            self.target = next;
            if self.target >= self.max {
                self.reason = Reason::Ceiling;
            }
        }
        self.target = self.target.clamp(self.min, self.max);
    }
}

/// How a publisher spends an estimate: video between a floor and its ceiling, at full frame
/// rate and size while the picture gets enough bits; when not, down a ladder that halves the
/// frame rate, then the picture's sides, then each again ([`LADDER`]); audio at its
/// configured rate until the estimate cannot carry video's floor beside it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub video_floor: u32,
    pub video_ceiling: u32,
    /// The configured audio bitrate (0: no audio).
    pub audio: u32,
    /// The source's picture size and frame rate ((0, 0) and 0: no raw video to adapt).
    pub size: (usize, usize),
    pub fps: f64,
}

/// What the encoders are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    pub video_bps: u32,
    /// Every how many source pictures one is encoded (1, 2 or 4).
    pub fps_divisor: u32,
    /// The picture's sides are divided by this (1, 2 or 4).
    pub scale: u32,
    pub audio_bps: u32,
    /// The path or the far end limits the rate (not only the ceiling): the encoder must hold
    /// it, skipping pictures if it has to.
    pub hold: bool,
}

/// Video's lowest bitrate: below it a picture is not worth sending.
pub const VIDEO_FLOOR_BPS: u32 = 100_000;
/// Audio's rate when the estimate cannot carry video's floor beside the configured one.
pub const AUDIO_FLOOR_BPS: u32 = 16_000;
/// Packet headers on the wire (IP, UDP, SRTP, RTP and its extensions), bytes.
const HEADER_BYTES: f64 = 60.0;
/// Audio packets per second (20 ms frames).
const AUDIO_PACKETS_PER_SEC: f64 = 50.0;
/// Share of video's wire rate that is payload (1200-byte packets with their headers).
const VIDEO_PAYLOAD_SHARE: f64 = 0.95;
/// Bits per pixel per encoded picture below which the frame rate halves, and above which
/// (at the higher rate) it comes back.
const BPP_DROP: f64 = 0.02;
const BPP_RESTORE: f64 = 0.035;
/// The lowest frame rate the ladder goes to.
const MIN_FPS: f64 = 5.0;
/// The smallest picture it goes to.
const MIN_SIDES: (usize, usize) = (160, 90);
/// The ladder's steps, (frame-rate divisor, side divisor): a lower frame rate first (motion
/// stays sharp), then a smaller picture, alternating.
const LADDER: [(u32, u32); 5] = [(1, 1), (2, 1), (2, 2), (4, 2), (4, 4)];

/// A side divided by `scale`, kept even (4:2:0).
pub fn scaled_side(side: usize, scale: u32) -> usize {
    (side / scale as usize) & !1
}

impl Budget {
    fn audio_wire(audio: u32) -> f64 {
        if audio == 0 {
            0.0
        } else {
            audio as f64 + AUDIO_PACKETS_PER_SEC * HEADER_BYTES * 8.0
        }
    }

    /// The estimator's range: audio and video's floor at the bottom, both ceilings at the top.
    pub fn range(&self) -> (f64, f64) {
        let floor = self.video_floor.min(self.video_ceiling) as f64 / VIDEO_PAYLOAD_SHARE
            + Budget::audio_wire(self.audio.min(AUDIO_FLOOR_BPS));
        let ceiling =
            self.video_ceiling as f64 / VIDEO_PAYLOAD_SHARE + Budget::audio_wire(self.audio);
        (floor, ceiling)
    }

    /// Spends `estimate` (bit/s on the wire); `previous` gives the frame-rate ladder its
    /// hysteresis.
    pub fn allocate(&self, estimate: f64, previous: Option<Allocation>) -> Allocation {
        let floor = self.video_floor.min(self.video_ceiling) as f64;
        let audio_bps = if self.audio > AUDIO_FLOOR_BPS
            && estimate < floor / VIDEO_PAYLOAD_SHARE + Budget::audio_wire(self.audio)
        {
            AUDIO_FLOOR_BPS
        } else {
            self.audio
        };
        let video = ((estimate - Budget::audio_wire(audio_bps)) * VIDEO_PAYLOAD_SHARE)
            .clamp(floor, self.video_ceiling as f64);
        let (w, h) = self.size;
        let bpp = |(divisor, scale): (u32, u32)| {
            let pixels = scaled_side(w, scale) * scaled_side(h, scale);
            video / (pixels.max(1) as f64 * (self.fps / divisor as f64).max(1.0))
        };
        let usable = |(divisor, scale): (u32, u32)| {
            self.fps / divisor as f64 >= MIN_FPS
                && (scale == 1
                    || scaled_side(w, scale) >= MIN_SIDES.0 && scaled_side(h, scale) >= MIN_SIDES.1)
        };
        let mut step = previous
            .and_then(|p| LADDER.iter().position(|s| *s == (p.fps_divisor, p.scale)))
            .unwrap_or(0);
        if w * h > 0 {
            while step + 1 < LADDER.len()
                && bpp(LADDER[step]) < BPP_DROP
                && usable(LADDER[step + 1])
            {
                step += 1;
            }
            while step > 0 && bpp(LADDER[step - 1]) > BPP_RESTORE {
                step -= 1;
            }
        } else {
            step = 0;
        }
        let (fps_divisor, scale) = LADDER[step];
        Allocation {
            video_bps: video as u32,
            fps_divisor,
            scale,
            audio_bps,
            hold: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sender at `send_bps` into a bottleneck of `path_bps` with a queue of `queue_ms`,
    /// reported every 100 ms; the estimate drives the sender when `follow` is set.
    struct Path {
        t0: Instant,
        /// Departure and arrival of the packets not yet reported.
        pending: Vec<Ack>,
        /// When the bottleneck's queue empties (ms after t0).
        free_at_ms: f64,
        sent_ms: f64,
        lost: usize,
        /// The longest wait in the queue so far (reset by the caller).
        max_queue_ms: f64,
        /// Each packet's delay varies by up to ± this, order kept (as `--impair jitter`).
        jitter_ms: f64,
        last_arrival_ms: f64,
        seed: u64,
    }

    const PACKET: usize = 1200;

    impl Path {
        fn new() -> Path {
            Path {
                t0: Instant::now(),
                pending: Vec::new(),
                free_at_ms: 0.0,
                sent_ms: 0.0,
                lost: 0,
                max_queue_ms: 0.0,
                jitter_ms: 0.0,
                last_arrival_ms: 0.0,
                seed: 0x9E37_79B9_7F4A_7C15,
            }
        }

        /// -1..1, xorshift: the same run every time.
        fn random(&mut self) -> f64 {
            self.seed ^= self.seed << 13;
            self.seed ^= self.seed >> 7;
            self.seed ^= self.seed << 17;
            (self.seed >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }

        /// Sends at `send_bps` for 100 ms through `path_bps` (queue `queue_ms`, base delay
        /// 50 ms); returns the feedback.
        fn step(&mut self, send_bps: f64, path_bps: f64, queue_ms: f64) -> (Instant, Vec<Ack>) {
            let gap_ms = PACKET as f64 * 8.0 / send_bps * 1000.0;
            let end = self.sent_ms + 100.0;
            while self.sent_ms < end {
                let at = self.sent_ms;
                let start = self.free_at_ms.max(at);
                let arrival = if start - at > queue_ms {
                    self.lost += 1;
                    None
                } else {
                    self.max_queue_ms = self.max_queue_ms.max(start - at);
                    self.free_at_ms = start + PACKET as f64 * 8.0 / path_bps * 1000.0;
                    let jitter = self.jitter_ms * self.random();
                    let arrival = (self.free_at_ms + 50.0 + jitter).max(self.last_arrival_ms);
                    self.last_arrival_ms = arrival;
                    Some(Duration::from_secs_f64(arrival / 1000.0))
                };
                self.pending.push(Ack {
                    departure: self.t0 + Duration::from_secs_f64(at / 1000.0),
                    arrival,
                    size: PACKET,
                });
                self.sent_ms += gap_ms;
            }
            let now = self.t0 + Duration::from_secs_f64(end / 1000.0);
            (now, std::mem::take(&mut self.pending))
        }
    }

    /// Runs `secs` of a sender that follows the estimate through a path whose rate is
    /// `path(t)`; returns the estimate every 100 ms.
    fn run(est: &mut Estimator, p: &mut Path, secs: f64, path: impl Fn(f64) -> f64) -> Vec<f64> {
        let mut out = Vec::new();
        for _ in 0..(secs * 10.0) as usize {
            let t = p.sent_ms / 1000.0;
            let (now, acks) = p.step(est.target(), path(t), 300.0);
            est.on_acks(now, &acks);
            out.push(est.target());
        }
        out
    }

    #[test]
    fn no_feedback_keeps_the_start_rate() {
        let mut est = Estimator::new(2e6, 1e5, 3e6);
        est.on_acks(Instant::now(), &[]);
        assert_eq!(est.target(), 2e6);
        assert_eq!(est.reason(), Reason::Start);
    }

    #[test]
    fn a_narrow_path_brings_the_rate_under_it_within_two_seconds() {
        let mut est = Estimator::new(2_100_000.0, 150_000.0, 2_100_000.0);
        let mut p = Path::new();
        let start = run(&mut est, &mut p, 2.0, |_| 500_000.0);
        assert!(start[19] < 500_000.0, "after 2 s: {start:?}");
        // Then it probes a little above the path now and then, without losses or a long
        // queue, and uses most of it.
        let (lost, queue) = (p.lost, p.max_queue_ms);
        let rates = run(&mut est, &mut p, 20.0, |_| 500_000.0);
        assert_eq!(p.lost, lost, "losses after settling");
        assert!(
            p.max_queue_ms - queue < 150.0,
            "queue {} ms",
            p.max_queue_ms
        );
        assert!(rates.iter().all(|r| *r < 550_000.0), "{rates:?}");
        let mean = rates.iter().sum::<f64>() / rates.len() as f64;
        assert!((400_000.0..500_000.0).contains(&mean), "mean {mean}");
    }

    #[test]
    fn a_new_estimate_finds_the_path_quickly_and_without_loss() {
        // From a low start, a wide path is climbed to the ceiling within 3 s...
        let mut est = Estimator::new(300_000.0, 100_000.0, 2_000_000.0);
        let mut p = Path::new();
        let rates = run(&mut est, &mut p, 3.0, |_| 10_000_000.0);
        assert_eq!(rates[29], 2_000_000.0, "{rates:?}");
        // ...and a narrow one is found before its queue overflows.
        let mut est = Estimator::new(300_000.0, 100_000.0, 2_000_000.0);
        let mut p = Path::new();
        let rates = run(&mut est, &mut p, 5.0, |_| 500_000.0);
        assert_eq!(p.lost, 0, "{rates:?}");
        assert!(p.max_queue_ms < 200.0, "queue {} ms", p.max_queue_ms);
        assert!(rates[49] < 500_000.0, "{rates:?}");
    }

    #[test]
    fn a_wider_path_is_climbed_to_the_ceiling_within_fifteen_seconds() {
        let mut est = Estimator::new(2_100_000.0, 150_000.0, 2_100_000.0);
        let mut p = Path::new();
        run(&mut est, &mut p, 10.0, |_| 500_000.0);
        assert!(est.target() < 550_000.0);
        let rates = run(&mut est, &mut p, 15.0, |_| 3_000_000.0);
        let at = rates.iter().position(|r| *r >= 2_100_000.0);
        assert!(
            at.is_some_and(|i| i <= 150),
            "ceiling reached at {at:?}: {rates:?}"
        );
        assert_eq!(est.target(), 2_100_000.0);
    }

    #[test]
    fn jitter_is_not_a_queue() {
        // ±30 ms on a wide path: the delay varies, nothing grows. The rate climbs to its
        // ceiling and stays.
        let mut est = Estimator::new(1_000_000.0, 100_000.0, 2_000_000.0);
        let mut p = Path::new();
        p.jitter_ms = 30.0;
        let mut reasons = Vec::new();
        for _ in 0..300 {
            let (now, acks) = p.step(est.target(), 10_000_000.0, 300.0);
            est.on_acks(now, &acks);
            reasons.push(est.reason());
        }
        assert!(!reasons.contains(&Reason::Delay), "{reasons:?}");
        assert_eq!(est.target(), 2_000_000.0);
        // The same jitter in front of a narrow path: the growing queue still shows.
        let mut est = Estimator::new(2_000_000.0, 100_000.0, 2_000_000.0);
        let mut p = Path::new();
        p.jitter_ms = 30.0;
        let rates = run(&mut est, &mut p, 3.0, |_| 500_000.0);
        assert!(rates[19] < 500_000.0, "after 2 s: {rates:?}");
    }

    #[test]
    fn one_late_feedback_is_not_a_queue() {
        // 300 kbit/s on a wide path; one feedback's packets arrive 80 ms late (a busy
        // machine), the rest on time.
        let mut est = Estimator::new(1_000_000.0, 100_000.0, 2_000_000.0);
        let t0 = Instant::now();
        for batch in 0..30u64 {
            let now = t0 + Duration::from_millis(100 * (batch + 1));
            let late = if batch == 15 { 80 } else { 0 };
            let acks: Vec<Ack> = (0..3u64)
                .map(|i| {
                    let sent = batch * 100 + i * 33;
                    Ack {
                        departure: t0 + Duration::from_millis(sent),
                        arrival: Some(Duration::from_millis(sent + 20 + late)),
                        size: PACKET,
                    }
                })
                .collect();
            est.on_acks(now, &acks);
            assert_ne!(est.reason(), Reason::Delay, "backed off at batch {batch}");
        }
    }

    #[test]
    fn heavy_loss_without_queueing_backs_off() {
        let mut est = Estimator::new(1_000_000.0, 100_000.0, 2_000_000.0);
        let t0 = Instant::now();
        for batch in 0..20u64 {
            let now = t0 + Duration::from_millis(100 * (batch + 1));
            let acks: Vec<Ack> = (0..10u64)
                .map(|i| {
                    let sent = batch * 100 + i * 10;
                    Ack {
                        departure: t0 + Duration::from_millis(sent),
                        // Every third packet lost, the rest on time.
                        arrival: (i % 3 != 0).then(|| Duration::from_millis(sent + 20)),
                        size: PACKET,
                    }
                })
                .collect();
            est.on_acks(now, &acks);
        }
        assert!(est.target() < 500_000.0, "{}", est.target());
        assert_eq!(est.reason(), Reason::Loss);
    }

    #[test]
    fn packets_lost_to_an_outage_are_not_congestion() {
        // 300 kbit/s on a wide path; nothing comes back for 3 s, then the feedback reports
        // every packet of those 3 s lost: the rate stays.
        let mut est = Estimator::new(1_000_000.0, 100_000.0, 2_000_000.0);
        let t0 = Instant::now();
        let ack = |sent: u64, arrived: bool| Ack {
            departure: t0 + Duration::from_millis(sent),
            arrival: arrived.then(|| Duration::from_millis(sent + 20)),
            size: PACKET,
        };
        for batch in 0..10u64 {
            let acks: Vec<Ack> = (0..3).map(|i| ack(batch * 100 + i * 33, true)).collect();
            est.on_acks(t0 + Duration::from_millis(100 * batch + 100), &acks);
        }
        let before = est.target();
        let mut acks: Vec<Ack> = (0..90).map(|i| ack(1_000 + i * 33, false)).collect();
        acks.extend((0..3).map(|i| ack(4_000 + i * 33, true)));
        est.on_acks(t0 + Duration::from_millis(4_100), &acks);
        assert_eq!(est.loss(), 0.0);
        assert!(est.target() >= before, "{} after {before}", est.target());
        assert_ne!(est.reason(), Reason::Loss);
    }

    #[test]
    fn an_idle_encoder_does_not_let_the_estimate_run_away() {
        // 200 kbit/s flowing on a wide path: the estimate stays near 1.5x that.
        let mut est = Estimator::new(300_000.0, 100_000.0, 10_000_000.0);
        let mut p = Path::new();
        for _ in 0..100 {
            let (now, acks) = p.step(200_000.0, 10_000_000.0, 300.0);
            est.on_acks(now, &acks);
        }
        assert!(est.target() <= 400_000.0, "{}", est.target());
    }

    #[test]
    fn the_estimate_stays_in_its_range() {
        let mut est = Estimator::new(5e6, 2e5, 1e6);
        assert_eq!(est.target(), 1e6);
        let mut p = Path::new();
        for r in run(&mut est, &mut p, 5.0, |_| 50_000.0) {
            assert!((2e5..=1e6).contains(&r), "{r}");
        }
    }

    fn budget() -> Budget {
        Budget {
            video_floor: VIDEO_FLOOR_BPS,
            video_ceiling: 2_000_000,
            audio: 32_000,
            size: (1280, 720),
            fps: 30.0,
        }
    }

    #[test]
    fn a_wide_estimate_gives_the_ceilings() {
        let b = budget();
        let (_, max) = b.range();
        let a = b.allocate(max, None);
        assert_eq!(a.video_bps, 2_000_000);
        assert_eq!(a.audio_bps, 32_000);
        assert_eq!(a.fps_divisor, 1);
        assert_eq!(a.scale, 1);
    }

    #[test]
    fn a_narrow_estimate_lowers_the_frame_rate_then_restores_it() {
        let b = budget();
        let low = b.allocate(500_000.0, None);
        assert!(
            low.video_bps < 500_000 && low.video_bps > 350_000,
            "{low:?}"
        );
        assert_eq!(low.fps_divisor, 2, "720p at ~0.4 Mbit/s runs at 15 fps");
        assert_eq!(low.audio_bps, 32_000);
        // Hysteresis: a little more keeps 15 fps; much more restores 30.
        assert_eq!(b.allocate(600_000.0, Some(low)).fps_divisor, 2);
        assert_eq!(b.allocate(1_200_000.0, Some(low)).fps_divisor, 1);
    }

    /// Where `b` settles at `estimate`, coming down from the top.
    fn lower_at(b: &Budget, estimate: f64) -> Allocation {
        let mut a = b.allocate(1e9, None);
        for e in [1e6, 5e5, 3e5, estimate] {
            a = b.allocate(e, Some(a));
        }
        a
    }

    #[test]
    fn a_narrower_estimate_lowers_the_picture_size_then_the_frame_rate_again() {
        let b = budget();
        let low = b.allocate(500_000.0, None);
        assert_eq!((low.fps_divisor, low.scale), (2, 1));
        // 720p at 15 fps and ~0.25 Mbit/s: 640x360.
        let lower = b.allocate(300_000.0, Some(low));
        assert_eq!((lower.fps_divisor, lower.scale), (2, 2), "{lower:?}");
        // Video's floor is enough for 640x360 at 15 fps.
        assert_eq!(b.allocate(110_000.0, Some(lower)), lower_at(&b, 110_000.0));
        // 1080p at the floor: 960x540 at 7.5 fps.
        let hd = Budget {
            size: (1920, 1080),
            video_ceiling: 4_000_000,
            ..b
        };
        let lowest = hd.allocate(110_000.0, None);
        assert_eq!((lowest.fps_divisor, lowest.scale), (4, 2), "{lowest:?}");
        assert_eq!(scaled_side(1920, 2), 960);
        // Back up the same way, with hysteresis.
        let up = hd.allocate(400_000.0, Some(lowest));
        assert_eq!((up.fps_divisor, up.scale), (2, 2), "{up:?}");
        assert_eq!(hd.allocate(5e6, Some(lowest)), hd.allocate(1e9, None));
        // Never below 160x90: 320x180 halves once, 240x136 not at all.
        for (size, scale) in [((320, 180), 2), ((240, 136), 1)] {
            let small = Budget { size, ..b };
            let a = small.allocate(110_000.0, Some(small.allocate(110_000.0, None)));
            assert!(a.scale <= scale, "{size:?}: {a:?}");
        }
    }

    #[test]
    fn audio_gives_way_only_below_videos_floor() {
        let b = budget();
        assert_eq!(b.allocate(200_000.0, None).audio_bps, 32_000);
        let a = b.allocate(120_000.0, None);
        assert_eq!(a.audio_bps, AUDIO_FLOOR_BPS);
        assert_eq!(a.video_bps, VIDEO_FLOOR_BPS);
        let (min, _) = b.range();
        assert!(min < 150_000.0, "{min}");
    }
}
