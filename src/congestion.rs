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
//!
//! Application-limited is not congestion: an encoder that needs less than its rate (a calm
//! picture) sends less than the estimate, and what arrives says nothing of what the path
//! could carry. Trains of packets say it: nothing is paced, so a frame of several packets
//! leaves as a train, and the spread of the train's arrivals at the far end is the path's
//! rate (a probe cluster, as GCC's prober sends, made of the media itself). Where the media
//! makes no train of its own, a publisher grows a frame into one (`client::adapt` asks,
//! `vocab::bitstream::pad_h264` pads; a forwarding server ends a frame with filler, or
//! follows it with padding packets). The
//! estimate may climb to what the trains showed — for a forwarding server at once, when
//! several since a back-off agree and nothing queues or is lost (a path that widened again)
//! — and without them, to 1.5x what arrives.
//!
//! Random loss is not congestion either: loss under 10 % with no queue growing is repaired
//! (NACK, Opus FEC) and keeps the rate; only a growing queue, or heavier loss, lowers it.
//! Packets whose feedback was lost are not lost packets: `peer` leaves them out.

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
/// Loss above which the rate backs off; below `LOSS_LOW` it climbs at its full pace, between
/// the two (random loss, no queue growing) only additively.
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
/// The rate climbs to at most this multiple of what arrives (plus `HEADROOM_BPS`), or to
/// `CAPACITY_SHARE` of the rate the path's trains showed when that is more: an encoder that
/// does not use its rate does not let the estimate run away from what the path showed.
const RECEIVED_MULTIPLE: f64 = 1.5;
const HEADROOM_BPS: f64 = 50_000.0;
pub(crate) const CAPACITY_SHARE: f64 = 0.85;
/// A bottleneck shows in this many packets of one frame ([`bottleneck`]), each at least
/// `NARROW_MIN_BYTES` (a video packet's size: small packets a busy receiver read apart say
/// little), the newest queued at least `NARROW_QUEUE_MS`, the pairs' rates within
/// `NARROW_SPREAD` of each other.
const NARROW_PACKETS: usize = 3;
const NARROW_MIN_BYTES: usize = 500;
const NARROW_QUEUE_MS: f64 = 40.0;
const NARROW_SPREAD: f64 = 1.5;
/// A train: packets that left within `TRAIN_GAP` of the one before, at least
/// `TRAIN_PACKETS` of them, none lost. Its rate is its bytes over the longer of its send and
/// arrival spans, and at most over `TRAIN_MIN_SPAN` (feedback times arrivals in 250 µs
/// steps). The capacity is the median of the last `CAPACITY_SAMPLES` trains within
/// `CAPACITY_WINDOW` (a path that widens shows it within three probes); for a forwarding
/// server's estimate a queue's drain ([`bottleneck`]) counts as a train and drops the faster
/// ones ([`Capacity::narrowed`]).
const TRAIN_GAP: Duration = Duration::from_millis(2);
const TRAIN_PACKETS: usize = 5;
const TRAIN_MIN_SPAN: Duration = Duration::from_millis(1);
/// A train longer than this is not carried into the next feedback (a stream whose packets
/// never leave `TRAIN_GAP` apart is no train).
const OPEN_TRAIN_MAX: usize = 64;
const CAPACITY_WINDOW: Duration = Duration::from_secs(10);
const CAPACITY_SAMPLES: usize = 5;
const SETTLED_SAMPLES: usize = 3;
/// Windows: arrivals for the delivered rate, losses (long enough that 5 % random loss does
/// not read as 10 % by chance), and the smallest one-way delay.
const RATE_WINDOW: Duration = Duration::from_millis(500);
const LOSS_WINDOW: Duration = Duration::from_secs(2);
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

/// What the path carried, from the spread of trains' arrivals (see the module's docs).
#[derive(Debug, Default)]
struct Capacity {
    /// (when reported, bit/s), oldest first.
    samples: VecDeque<(Instant, f64)>,
    /// The last feedback's last packets, when they left together: a train the next feedback
    /// may go on with (a receiver that reports at once when a path starts to queue,
    /// `peer::eager`, cuts trains in two). When they were a train of their own, its rate is
    /// the newest sample, replaced by the whole train's.
    open: Vec<Ack>,
}

impl Capacity {
    /// Takes the trains of one feedback's packets (in send order).
    fn note(&mut self, now: Instant, acks: &[Ack]) {
        let mut open = std::mem::take(&mut self.open);
        let goes_on = match (open.last(), acks.first()) {
            (Some(last), Some(first)) => {
                first.departure >= last.departure
                    && first.departure.duration_since(last.departure) <= TRAIN_GAP
            }
            _ => false,
        };
        if !goes_on {
            open.clear();
        } else if train_rate(&open).is_some() {
            self.samples.pop_back();
        }
        let mut start = 0;
        for i in 1..=acks.len() {
            let ends = i == acks.len()
                || acks[i]
                    .departure
                    .saturating_duration_since(acks[i - 1].departure)
                    > TRAIN_GAP;
            if !ends {
                continue;
            }
            let run: &[Ack] = if start == 0 && !open.is_empty() {
                open.extend_from_slice(&acks[..i]);
                &open
            } else {
                &acks[start..i]
            };
            if let Some(bps) = train_rate(run) {
                self.samples.push_back((now, bps));
            }
            if i == acks.len() && run.len() <= OPEN_TRAIN_MAX {
                self.open = run.to_vec();
            }
            start = i;
        }
        while self.samples.len() > CAPACITY_SAMPLES
            || self
                .samples
                .front()
                .is_some_and(|(t, _)| now.saturating_duration_since(*t) > CAPACITY_WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// A queue drained at `bps` ([`bottleneck`]): the path no longer carries what faster
    /// trains showed (a leg would step up into a narrowed path on what it carried before,
    /// again and again, while no probe's train crossed it), and the drain is a train of its
    /// own. One reading wrong (a busy receiver reading a queue out evenly) holds the capacity
    /// down until probes show the path again: three of them, 2–3 s for a server's leg.
    fn narrowed(&mut self, now: Instant, bps: f64) {
        self.samples.retain(|(_, r)| *r <= bps);
        self.samples.push_back((now, bps));
        if self.samples.len() > CAPACITY_SAMPLES {
            self.samples.pop_front();
        }
        self.open.clear();
    }

    /// Packets were left out before the next feedback's (their feedback was lost): a train
    /// does not go on across them.
    fn gap(&mut self) {
        self.open.clear();
    }

    /// The newest train's rate, bit/s.
    fn newest(&self) -> Option<f64> {
        self.samples.back().map(|(_, r)| *r)
    }

    /// The median rate of the trains reported after `since`, bit/s, once there are
    /// `SETTLED_SAMPLES` of them (one train read wrong — a receiver that read a slow path's
    /// train at once after a stall — does not move it).
    fn settled(&self, since: Instant) -> Option<f64> {
        let rates = self.sorted(Some(since));
        (rates.len() >= SETTLED_SAMPLES).then(|| rates[rates.len() / 2])
    }

    /// The median train rate of the window, bit/s.
    fn bps(&self) -> Option<f64> {
        let rates = self.sorted(None);
        rates.get(rates.len() / 2).copied()
    }

    /// The rates of the window's trains reported after `since` (all: `None`), slowest first.
    fn sorted(&self, since: Option<Instant>) -> Vec<f64> {
        let mut rates: Vec<f64> = self
            .samples
            .iter()
            .filter(|(at, _)| since.is_none_or(|s| *at > s))
            .map(|(_, r)| *r)
            .collect();
        rates.sort_by(f64::total_cmp);
        rates
    }
}

/// The rate of a bottleneck the newest packets show, bit/s (a feedback's reading is that of
/// the last of its frames that can be read): the last three that arrived left
/// together (one frame's) and came out of the path spaced by their sizes at one rate (each
/// pair's within `NARROW_SPREAD`; the fastest is taken), while the newest waited at least
/// `NARROW_QUEUE_MS`: a queue in
/// front of a narrower link, draining at its rate. Feedback a frame or two after a path
/// narrows says it, before the queue's growth moves the smoothed figures. A receiver that
/// stalled reads what piled up at once (one long gap, then none), which is not a bottleneck.
/// `newest` is (departure, arrival, bytes), oldest first.
fn bottleneck(newest: &VecDeque<(Instant, Duration, usize)>, queue_ms: f64) -> Reading {
    let (Some(first), Some(last)) = (newest.front(), newest.back()) else {
        return Reading::Unread;
    };
    if newest.len() < NARROW_PACKETS
        || last.0.saturating_duration_since(first.0) > TRAIN_GAP
        || newest.iter().any(|p| p.2 < NARROW_MIN_BYTES)
    {
        return Reading::Unread;
    }
    if queue_ms < NARROW_QUEUE_MS {
        return Reading::Clear;
    }
    let (mut fastest, mut slowest) = (0.0f64, f64::INFINITY);
    for (a, b) in newest.iter().zip(newest.iter().skip(1)) {
        // Read together (a receiver stamps what it reads at once alike): no spacing seen.
        let Some(gap) = b.1.checked_sub(a.1).filter(|g| *g >= TRAIN_MIN_SPAN) else {
            return Reading::Unread;
        };
        let rate = b.2 as f64 * 8.0 / gap.as_secs_f64();
        (fastest, slowest) = (fastest.max(rate), slowest.min(rate));
    }
    // Spaced alike, as a link spaces them (two stalls of a busy machine seldom are).
    match fastest <= slowest * NARROW_SPREAD {
        true => Reading::Narrow(fastest),
        false => Reading::Unread,
    }
}

/// What three packets of one frame say of a bottleneck ([`bottleneck`]).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reading {
    /// Nothing: not three large packets of one frame, or not spaced by a link.
    Unread,
    /// A frame the path carried without queueing it: no bottleneck.
    Clear,
    /// A frame that drained from a queue at this rate, bit/s.
    Narrow(f64),
}

/// The rate a train of packets went through at, or `None` when it is no train (too short,
/// or a packet of it lost).
fn train_rate(train: &[Ack]) -> Option<f64> {
    if train.len() < TRAIN_PACKETS {
        return None;
    }
    let arrivals: Option<Vec<Duration>> = train.iter().map(|a| a.arrival).collect();
    let arrivals = arrivals?;
    let first = *arrivals.iter().min()?;
    let last = *arrivals.iter().max()?;
    let sent = train[train.len() - 1]
        .departure
        .saturating_duration_since(train[0].departure);
    let span = (last - first).max(sent).max(TRAIN_MIN_SPAN);
    // The first packet's bytes went before the span began.
    let bytes: usize = train.iter().skip(1).map(|a| a.size).sum();
    Some(bytes as f64 * 8.0 / span.as_secs_f64())
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
    /// What the path's trains showed it carries.
    capacity: Capacity,
    /// Whether trains since a back-off lift the estimate at once.
    take_probes: bool,
    /// The bottleneck the last feedback showed, bit/s.
    bottleneck: Option<f64>,
    /// The newest packets that arrived one after the other (none lost between), oldest
    /// first: (departure, arrival, bytes).
    newest: VecDeque<(Instant, Duration, usize)>,
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
            capacity: Capacity::default(),
            take_probes: false,
            bottleneck: None,
            newest: VecDeque::new(),
        }
    }

    /// After a back-off, when three trains since agree that the path carries more, nothing
    /// queues and little is lost, the estimate goes to 85 % of their median at once (as GCC
    /// takes a probe's result), instead of climbing from the limit the path no longer has.
    /// And a bottleneck's reading replaces faster trains ([`Capacity::narrowed`]): a sender
    /// that probes (a forwarding server, every second) shows the path again within seconds
    /// when it widens.
    pub fn taking_probes(mut self, yes: bool) -> Estimator {
        self.take_probes = yes;
        self
    }

    /// The estimate, bit/s.
    pub fn target(&self) -> f64 {
        self.target
    }

    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// What the path's trains showed it carries, bit/s.
    pub fn capacity(&self) -> Option<f64> {
        self.capacity.bps()
    }

    /// The rate the newest train showed, bit/s (a probe's answer, before the median of
    /// [`Self::capacity`] follows it; or a bottleneck's, see [`Self::taking_probes`]).
    pub fn newest_train(&self) -> Option<f64> {
        self.capacity.newest()
    }

    /// The rate of the bottleneck the last feedback showed a queue in front of, bit/s: the
    /// path narrowed below what is sent (see [`bottleneck`]).
    pub fn bottleneck(&self) -> Option<f64> {
        self.bottleneck
    }

    /// The smoothed queueing delay the last feedback showed, ms.
    pub fn queue_ms(&self) -> Option<f64> {
        self.queue_ms
    }

    /// Packets sent before the next feedback's were left out of it (their own feedback never
    /// arrived): nothing read across them.
    pub fn feedback_lost(&mut self) {
        self.capacity.gap();
        self.newest.clear();
    }

    /// Takes one feedback's packets (in send order), received at `now`.
    pub fn on_acks(&mut self, now: Instant, acks: &[Ack]) {
        if acks.is_empty() {
            self.bottleneck = None;
            return;
        }
        let epoch = *self.epoch.get_or_insert(acks[0].departure);
        let mut queues = Vec::with_capacity(acks.len());
        let mut arrived = 0usize;
        let mut lost = 0usize;
        let mut narrowed = None;
        let after_outage = self
            .last_update
            .is_some_and(|t| now.saturating_duration_since(t) > OUTAGE);
        for ack in acks {
            let Some(arrival) = ack.arrival else {
                lost += usize::from(!after_outage);
                self.newest.clear();
                continue;
            };
            if self.newest.len() == NARROW_PACKETS {
                self.newest.pop_front();
            }
            self.newest.push_back((ack.departure, arrival, ack.size));
            let sent = ack.departure.saturating_duration_since(epoch);
            let owd_ms = (arrival.as_secs_f64() - sent.as_secs_f64()) * 1000.0;
            self.base.note(sent.as_secs(), owd_ms);
            self.trend.note(sent.as_secs_f64() * 1000.0, owd_ms);
            let base = self.base.min().unwrap_or(owd_ms);
            let queue = (owd_ms - base).max(0.0);
            queues.push(queue);
            // The newest frame in this feedback that says anything: packets after it
            // (audio, a new frame's first) say nothing of the path.
            match bottleneck(&self.newest, queue) {
                Reading::Unread => {}
                Reading::Clear => narrowed = None,
                Reading::Narrow(bps) => narrowed = Some(bps),
            }
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
        self.bottleneck = narrowed;
        if arrived > 0 {
            let q = queues.iter().sum::<f64>() / arrived as f64;
            self.queue_ms = Some(self.queue_ms.map_or(q, |s| 0.5 * s + 0.5 * q));
        }
        self.capacity.note(now, acks);
        if let Some(bps) = narrowed.filter(|_| self.take_probes) {
            self.capacity.narrowed(now, bps);
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
    pub fn received(&self) -> Option<f64> {
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

    /// The share of packets the far end reported lost over the last two seconds.
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
        } else if loss <= LOSS_HIGH
            && dt > 0.0
            && (queue < QUEUE_LOW_MS || queue < QUEUE_HIGH_MS && slope.is_some_and(|s| s < 0.0))
        {
            if self
                .limit
                .is_some_and(|limit| self.target > limit * LIMIT_FORGOTTEN)
            {
                self.limit = None;
            }
            let additive = self.target + (self.target * ADDITIVE_SHARE).max(ADDITIVE_MIN_BPS) * dt;
            let mut next = if self.limit.is_some() || loss >= LOSS_LOW {
                // Near the last known limit, or losing packets at random: carefully.
                additive
            } else if self.last_backoff.is_none() {
                self.target * STARTUP_CLIMB_PER_SEC.powf(dt)
            } else {
                self.target * CLIMB_PER_SEC.powf(dt)
            };
            // What several trains since the last back-off showed the path carries, it
            // carries now (a probe's result, as GCC takes one): after a back-off, climbing
            // back from the limit a path no longer has would take seconds.
            if self.take_probes
                && let Some((backoff, _)) = self.last_backoff
                && let Some(c) = self.capacity.settled(backoff)
                && loss < LOSS_LOW
                && queue < QUEUE_LOW_MS
                && c * CAPACITY_SHARE > next
            {
                next = c * CAPACITY_SHARE;
                self.limit = None;
            }
            if let Some(r) = received {
                let shown = self.capacity.bps().map_or(0.0, |c| c * CAPACITY_SHARE);
                let cap = (r * RECEIVED_MULTIPLE + HEADROOM_BPS).max(shown);
                next = next.min(cap.max(self.target));
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

/// How a publisher spends an estimate: video between a floor and its ceiling, audio at its
/// configured rate until the estimate cannot carry video's floor beside it. The picture's
/// size and frame rate are the [`Scaler`]'s.
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

/// Simulcast: the video rate `total` spent on layers whose rates are `targets` (the
/// largest layer first): from the smallest up, each gets up to its target; a layer that would
/// get less than half of it is paused (0), and so is every one above it, so the largest goes
/// first as the path narrows, as browsers do. The smallest always sends; what is left over
/// goes to the largest layer sending, up to half again its target.
pub fn split_layers(total: u32, targets: &[u32]) -> Vec<u32> {
    let mut out = vec![0; targets.len()];
    let mut left = total;
    let mut top = None;
    for (i, &target) in targets.iter().enumerate().rev() {
        let share = left.min(target);
        if top.is_some() && share < target / 2 {
            break;
        }
        out[i] = share.max(target.min(VIDEO_FLOOR_BPS / 2));
        left -= share;
        top = Some(i);
    }
    if let Some(i) = top {
        out[i] += left.min(targets[i] / 2);
    }
    out
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

    /// Spends `estimate` (bit/s on the wire) on pictures at `step` (frame-rate divisor, side
    /// divisor: the [`Scaler`]'s).
    pub fn allocate(&self, estimate: f64, step: (u32, u32)) -> Allocation {
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
        let (fps_divisor, scale) = if self.size.0 * self.size.1 > 0 {
            step
        } else {
            (1, 1)
        };
        Allocation {
            video_bps: video as u32,
            fps_divisor,
            scale,
            audio_bps,
            hold: false,
        }
    }
}

/// What a publisher gives up first when the picture needs more bits than it gets, as
/// browsers' `degradationPreference`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Degradation {
    /// The frame rate halves, then the picture's sides, alternating.
    #[default]
    Balanced,
    /// Only the picture's sides halve.
    MaintainFramerate,
    /// Only the frame rate halves.
    MaintainResolution,
}

impl Degradation {
    pub const NAMES: [&'static str; 3] = ["balanced", "maintain-framerate", "maintain-resolution"];

    pub fn parse(s: &str) -> Option<Degradation> {
        match s {
            "balanced" => Some(Degradation::Balanced),
            "maintain-framerate" => Some(Degradation::MaintainFramerate),
            "maintain-resolution" => Some(Degradation::MaintainResolution),
            _ => None,
        }
    }

    /// The ladder's steps, (frame-rate divisor, side divisor), from the top.
    fn ladder(self) -> &'static [(u32, u32)] {
        match self {
            Degradation::Balanced => &[(1, 1), (2, 1), (2, 2), (4, 2), (4, 4)],
            Degradation::MaintainFramerate => &[(1, 1), (1, 2), (1, 4)],
            Degradation::MaintainResolution => &[(1, 1), (2, 1), (4, 1)],
        }
    }
}

/// What the encoder made since it was last asked: pictures, the sum of their average QPs,
/// and pictures it skipped to hold its rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quality {
    pub frames: u32,
    pub qp_sum: u32,
    pub skipped: u32,
}

impl Quality {
    fn add(&mut self, q: Quality) {
        self.frames += q.frames;
        self.qp_sum += q.qp_sum;
        self.skipped += q.skipped;
    }
}

/// An H.264 picture's average QP above which it needs more bits than it has (the picture
/// steps down), and below which it has bits to spare (it steps up): libwebrtc's thresholds
/// for openh264. A step changes the pixels a second by 2x or 4x, about 6 or 12 QP: the
/// gap between the two is the hysteresis.
const QP_HIGH: f64 = 37.0;
const QP_LOW: f64 = 24.0;
/// Share of pictures skipped to hold the rate above which the picture steps down.
const SKIPPED_HIGH: f64 = 0.3;
/// The QP is judged over this long, and at least this many pictures (the first window after
/// a step is not).
const QP_WINDOW: Duration = Duration::from_secs(1);
const QP_FRAMES: u32 = 5;
/// A window in which the rate the encoder was given rose by more than this factor is not
/// judged: its QP is that of a rate control still catching up (the start's climb reaching
/// its ceiling, slower on a busy machine), not of the rate it has now.
const RATE_MOVED: f64 = 1.5;
/// A step up waits this long after any step (the encoder's rate control settles, and a
/// picture that just stepped down does not step straight back).
const STEP_UP_SETTLE: Duration = Duration::from_secs(3);
/// A step up needs at least this many bits per pixel at the step above, with the rate the
/// estimate gives (as libwebrtc keeps a resolution's minimum start bitrate): a picture with
/// bits to spare for a moment (a calm second of busy content) does not go up to a size whose
/// keyframes the path carries only slowly. Only steps up: a picture that stays at its size
/// (a calm 720p one at 300 kbit/s, 0.011) is judged by its QP alone.
const STEP_UP_BPP: f64 = 0.02;
/// A step left for a high QP is taken again only once the rate has grown by this factor
/// since, or after `LEFT_FORGOTTEN` (the content may have changed), or when even there its QP
/// would be low (`QP_PER_DOUBLING`): a picture that has bits
/// to spare one step down does not go back up into the QP it left (the ladder would
/// oscillate, a keyframe at each size).
const RETURN_GROWTH: f64 = 1.5;
/// What a doubling of the pixels a second costs in QP at the same rate, about: a step left
/// for its QP is also taken again when the QP now is low enough that it would be under
/// `QP_LOW` there.
const QP_PER_DOUBLING: f64 = 6.0;
/// A step up is taken only when the QP it would land at (`QP_PER_DOUBLING` a doubling) is a
/// doubling under `QP_HIGH`: a picture with bits to spare at a quarter of the pixels (QP 22
/// at 426x240) is not yet one with bits enough at four times them (~34 at 852x480, where a
/// busier second steps it straight back down).
const STEP_UP_LANDING: f64 = QP_HIGH - QP_PER_DOUBLING;
const LEFT_FORGOTTEN: Duration = Duration::from_secs(30);
/// The lowest frame rate the ladder goes to.
const MIN_FPS: f64 = 5.0;
/// The smallest picture it goes to.
const MIN_SIDES: (usize, usize) = (160, 90);

/// Picks the picture's size and frame rate from what the encoder reports, as libwebrtc's
/// quality scaler does: down a step when the pictures' QP says they need more bits than the
/// rate gives (or the encoder skips pictures to hold it), up a step when they have bits to
/// spare. A calm picture keeps its size and frame rate at a rate busy content could not.
#[derive(Debug)]
pub struct Scaler {
    /// The ladder's steps this source can take (frame rate and sides within their minimums).
    ladder: Vec<(u32, u32)>,
    step: usize,
    size: (usize, usize),
    fps: f64,
    /// What the encoder reported since `since`, and the lowest and highest rate it was
    /// given meanwhile.
    window: Quality,
    since: Option<Instant>,
    window_rates: Option<(f64, f64)>,
    last_step: Option<Instant>,
    /// The last window's average QP.
    judged: Option<f64>,
    /// Per step: the rate it was last left at for a high QP, and when.
    left: Vec<Option<(f64, Instant)>>,
}

impl Scaler {
    pub fn new(preference: Degradation, size: (usize, usize), fps: f64) -> Scaler {
        let (w, h) = size;
        let ladder: Vec<(u32, u32)> = preference
            .ladder()
            .iter()
            .copied()
            .filter(|&(divisor, scale)| {
                (divisor == 1 || fps / f64::from(divisor) >= MIN_FPS)
                    && (scale == 1
                        || scaled_side(w, scale) >= MIN_SIDES.0
                            && scaled_side(h, scale) >= MIN_SIDES.1)
            })
            .collect();
        Scaler {
            left: vec![None; ladder.len()],
            ladder,
            step: 0,
            size,
            fps,
            window: Quality::default(),
            since: None,
            window_rates: None,
            last_step: None,
            judged: None,
        }
    }

    /// (frame-rate divisor, side divisor).
    pub fn step(&self) -> (u32, u32) {
        self.ladder[self.step]
    }

    /// The average QP of the last window judged.
    pub fn last_qp(&self) -> Option<f64> {
        self.judged
    }

    /// Takes what the encoder reported at `now`; `video_bps` is the rate it is given, and
    /// `rate_found` whether that rate is what the path carries (not still the start's climb,
    /// when a QP says only that the climb has not ended). Returns whether the step changed.
    pub fn observe(&mut self, now: Instant, q: Quality, video_bps: f64, rate_found: bool) -> bool {
        self.window.add(q);
        let (low, high) = self.window_rates.unwrap_or((video_bps, video_bps));
        self.window_rates = Some((low.min(video_bps), high.max(video_bps)));
        let since = *self.since.get_or_insert(now);
        let Quality {
            frames, skipped, ..
        } = self.window;
        if now.saturating_duration_since(since) < QP_WINDOW || frames + skipped < QP_FRAMES {
            return false;
        }
        // Not judged, and not kept: a window before the rate is found (the first judged starts
        // then), and the first after a step (the rate control finding its feet: a new encoder,
        // or a new budget per picture).
        let settling = self.last_step.is_some_and(|t| since <= t);
        let rate_moved = self
            .window_rates
            .is_some_and(|(low, high)| high > RATE_MOVED * low);
        if !rate_found || settling || rate_moved {
            self.restart_window(now);
            return false;
        }
        let qp = if frames > 0 {
            f64::from(self.window.qp_sum) / f64::from(frames)
        } else {
            51.0
        };
        self.judged = (frames > 0).then_some(qp);
        let skipped_share = f64::from(skipped) / f64::from(frames + skipped);
        let settled = self
            .last_step
            .is_none_or(|t| now.saturating_duration_since(t) >= STEP_UP_SETTLE);
        let next = if (qp > QP_HIGH || skipped_share > SKIPPED_HIGH)
            && self.step + 1 < self.ladder.len()
        {
            self.step + 1
        } else if qp < QP_LOW
            && self.step > 0
            && settled
            && self.bpp(self.step - 1, video_bps) >= STEP_UP_BPP
            && qp + QP_PER_DOUBLING * self.doublings_above(self.step) < STEP_UP_LANDING
            && self.left[self.step - 1].is_none_or(|(bps, at)| {
                video_bps >= RETURN_GROWTH * bps
                    || now.saturating_duration_since(at) >= LEFT_FORGOTTEN
                    || qp + QP_PER_DOUBLING * self.doublings_above(self.step) < QP_LOW
            })
        {
            self.step - 1
        } else {
            self.step
        };
        self.restart_window(now);
        if next == self.step {
            return false;
        }
        tracing::debug!(qp, skipped_share, from = ?self.step(), to = ?self.ladder[next], "picture step");
        if next > self.step {
            self.left[self.step] = Some((video_bps, now));
        }
        self.step = next;
        self.last_step = Some(now);
        true
    }

    fn restart_window(&mut self, now: Instant) {
        self.window = Quality::default();
        self.since = Some(now);
        self.window_rates = None;
    }

    /// How many doublings of the pixels a second the step above step `i` is.
    fn doublings_above(&self, i: usize) -> f64 {
        let rate = |i: usize| self.bpp(i, 1.0).recip();
        (rate(i - 1) / rate(i)).log2()
    }

    /// Bits per pixel per picture at ladder step `i` with `video_bps`.
    fn bpp(&self, i: usize, video_bps: f64) -> f64 {
        let (divisor, scale) = self.ladder[i];
        let pixels = scaled_side(self.size.0, scale) * scaled_side(self.size.1, scale);
        video_bps / (pixels.max(1) as f64 * (self.fps / f64::from(divisor)).max(1.0))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn simulcast_layers_pause_from_the_largest_as_the_rate_falls() {
        let targets = [1_500_000, 500_000, 150_000];
        assert_eq!(
            split_layers(2_150_000, &targets),
            vec![1_500_000, 500_000, 150_000]
        );
        // Spare rate goes to the largest, up to half again its target.
        assert_eq!(
            split_layers(5_000_000, &targets),
            vec![2_250_000, 500_000, 150_000]
        );
        // The largest cannot have half its target: paused, the rest to the middle.
        assert_eq!(split_layers(1_200_000, &targets), vec![0, 750_000, 150_000]);
        assert_eq!(split_layers(400_000, &targets), vec![0, 250_000, 150_000]);
        assert_eq!(split_layers(300_000, &targets), vec![0, 0, 225_000]);
        // The smallest always sends, even on nothing.
        assert_eq!(split_layers(0, &targets), vec![0, 0, 50_000]);
    }

    use super::*;

    #[test]
    fn a_queue_that_drains_evenly_shows_its_bottleneck_and_a_stall_does_not() {
        let t = Instant::now();
        let ms = |n: f64| Duration::from_secs_f64(n / 1000.0);
        // Three packets of one frame: they left together at `sent` ms and arrived at `at`
        // (each 1180 bytes: 23.6 ms apart at 400 kbit/s), after a clean second's base.
        let frame = |sent: f64, at: [f64; 3]| -> Vec<Ack> {
            at.iter()
                .map(|&a| Ack {
                    departure: t + ms(sent),
                    arrival: Some(ms(a)),
                    size: 1180,
                })
                .collect()
        };
        let reading = |last: Vec<Ack>| {
            let mut e = Estimator::new(1e6, 1e5, 5e7);
            for i in 0..30 {
                let sent = f64::from(i) * 33.0;
                e.on_acks(t + ms(sent + 30.0), &frame(sent, [sent + 20.0; 3]));
            }
            e.on_acks(t + ms(1100.0), &last);
            e.bottleneck()
        };
        let narrowed = reading(frame(1000.0, [1043.6, 1067.2, 1090.8])).expect("a bottleneck");
        assert!((narrowed - 400_000.0).abs() < 10_000.0, "{narrowed}");
        // A receiver that stalled, then read what piled up: one long gap, then short ones.
        assert_eq!(reading(frame(1000.0, [1021.0, 1080.0, 1080.5])), None);
        // ... all of them at once, after a stall.
        assert_eq!(reading(frame(1000.0, [1080.0, 1080.0, 1080.0])), None);
        // Small packets (audio) a busy receiver read a few ms apart.
        let mut small = frame(1000.0, [1060.0, 1063.0, 1066.0]);
        small.iter_mut().for_each(|a| a.size = 120);
        assert_eq!(reading(small), None);
        // Two stalls unlike each other.
        assert_eq!(reading(frame(1000.0, [1030.0, 1040.0, 1090.0])), None);
        // Spaced alike but hardly queued: the path carries the frame.
        assert_eq!(reading(frame(1000.0, [1021.0, 1022.0, 1023.0])), None);
        // The queued frame followed, in the same feedback, by an audio packet and the next
        // frame's first: the frame's reading stands.
        let mut then = frame(1000.0, [1043.6, 1067.2, 1090.8]);
        then.push(Ack {
            departure: t + ms(1010.0),
            arrival: Some(ms(1092.0)),
            size: 120,
        });
        then.push(Ack {
            departure: t + ms(1033.0),
            arrival: Some(ms(1115.6)),
            size: 1180,
        });
        let after = reading(then.clone()).expect("the frame's bottleneck");
        assert!((after - narrowed).abs() < 1.0, "{after} against {narrowed}");
        // ... and by a whole frame the path carried at once: the queue is gone.
        let mut cleared = then;
        cleared.extend(frame(1033.0, [1053.0, 1054.0, 1055.0]));
        assert_eq!(reading(cleared), None);
        // Packets of two frames: what is between them is the sender's own spacing.
        let mut two = frame(1000.0, [1043.6, 1067.2, 1090.8]);
        two[2].departure = t + ms(1033.0);
        assert_eq!(reading(two), None);
        // A packet lost among them: no reading until three arrive one after the other.
        let mut lost = frame(1000.0, [1043.6, 1067.2, 1090.8]);
        lost.insert(
            1,
            Ack {
                arrival: None,
                ..lost[0]
            },
        );
        assert_eq!(reading(lost), None);
    }

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
    fn the_estimate_stays_in_its_range() {
        let mut est = Estimator::new(5e6, 2e5, 1e6);
        assert_eq!(est.target(), 1e6);
        let mut p = Path::new();
        for r in run(&mut est, &mut p, 5.0, |_| 50_000.0) {
            assert!((2e5..=1e6).contains(&r), "{r}");
        }
    }

    /// Sends frames: every 1/30 s, `send_bps`' worth as a train of `PACKET`-byte packets
    /// leaving 10 µs apart, a train of six every `probe_every` frames (0: never), into a
    /// bottleneck of `path_bps` (queue 300 ms); each `lose_every`-th packet is lost on the
    /// way (0: none). Feedback every 100 ms; every `feedback_lost_every`-th feedback never
    /// arrives (its packets are never reported). Returns the estimate every 100 ms.
    struct Frames {
        send_bps: f64,
        path_bps: f64,
        probe_every: u64,
        lose_every: u64,
        feedback_lost_every: u64,
    }

    fn run_frames(est: &mut Estimator, f: &Frames, secs: u64) -> Vec<f64> {
        Sim::new().run(est, f, secs)
    }

    /// Where a run of [`Frames`] is: the next run goes on from it (its clock, its queue).
    struct Sim {
        t0: Instant,
        frame: u64,
        free_at_ms: f64,
        sent: u64,
        pending: Vec<Ack>,
    }

    impl Sim {
        fn new() -> Sim {
            Sim {
                t0: Instant::now(),
                frame: 0,
                free_at_ms: 0.0,
                sent: 0,
                pending: vec![],
            }
        }

        fn run(&mut self, est: &mut Estimator, f: &Frames, secs: u64) -> Vec<f64> {
            let t0 = self.t0;
            let mut out = vec![];
            let frame_ms = 1000.0 / 30.0;
            for frame in self.frame..self.frame + secs * 30 {
                let at_ms = frame as f64 * frame_ms;
                let mut n = ((f.send_bps / 30.0 / 8.0) / PACKET as f64).ceil().max(1.0) as u64;
                if f.probe_every > 0 && frame % f.probe_every == 0 {
                    n = n.max(6);
                }
                for i in 0..n {
                    let dep_ms = at_ms + i as f64 * 0.01;
                    self.sent += 1;
                    let lost = f.lose_every > 0 && self.sent % f.lose_every == 0;
                    let start = self.free_at_ms.max(dep_ms);
                    let arrival = (!lost && start - dep_ms <= 300.0).then(|| {
                        self.free_at_ms = start + PACKET as f64 * 8.0 / f.path_bps * 1000.0;
                        Duration::from_secs_f64((self.free_at_ms + 20.0) / 1000.0)
                    });
                    self.pending.push(Ack {
                        departure: t0 + Duration::from_secs_f64(dep_ms / 1000.0),
                        arrival,
                        size: PACKET,
                    });
                }
                // Feedback on what left in the last 100 ms (arrivals are near enough).
                if (frame + 1) % 3 == 0 {
                    let batch = (frame + 1) / 3;
                    let now = t0 + Duration::from_secs_f64((at_ms + frame_ms) / 1000.0);
                    let acks = std::mem::take(&mut self.pending);
                    if f.feedback_lost_every == 0 || batch % f.feedback_lost_every != 0 {
                        est.on_acks(now, &acks);
                    }
                    out.push(est.target());
                }
            }
            self.frame += secs * 30;
            out
        }
    }

    #[test]
    fn a_train_cut_by_a_feedback_is_read_whole_and_once() {
        // Eight 1200-byte packets leave together and cross a 1 Mbit/s link (9.6 ms apart);
        // feedback goes whole, cut in two or in three (early reports as a queue starts to
        // show): the train's rate is read once, from all eight packets, however the reports
        // cut it (none of the pieces is a train by itself).
        let t0 = Instant::now();
        let train = |first: u64| -> Vec<Ack> {
            (0..8)
                .map(|i| Ack {
                    departure: t0 + Duration::from_micros(first + i * 100),
                    arrival: Some(Duration::from_micros(first + i * 9_600)),
                    size: 1200,
                })
                .collect()
        };
        let whole = 7.0 * 1200.0 * 8.0 / 0.0672;
        for cuts in [vec![], vec![4], vec![3, 6], vec![5]] {
            let mut c = Capacity::default();
            let acks = train(0);
            let mut from = 0;
            for (n, &to) in cuts.iter().chain([8].iter()).enumerate() {
                c.note(t0 + Duration::from_millis(10 * n as u64), &acks[from..to]);
                from = to;
            }
            let rates = c.sorted(None);
            assert_eq!(rates.len(), 1, "cut at {cuts:?}: {rates:?}");
            assert!((rates[0] - whole).abs() < 1.0, "cut at {cuts:?}: {rates:?}");
        }
        // The next frame's train, 33 ms later, is a train of its own.
        let mut c = Capacity::default();
        c.note(t0, &train(0)[..5]);
        c.note(t0 + Duration::from_millis(50), &train(33_000));
        assert_eq!(c.sorted(None).len(), 2);
        // A stream that never leaves a gap is not carried on without bound.
        let mut c = Capacity::default();
        let steady: Vec<Ack> = (0..1000)
            .map(|i| Ack {
                departure: t0 + Duration::from_micros(i * 500),
                arrival: Some(Duration::from_micros(i * 500)),
                size: 1200,
            })
            .collect();
        for chunk in steady.chunks(30) {
            c.note(t0, chunk);
            assert!(c.open.len() <= OPEN_TRAIN_MAX);
        }
        // Nor across packets whose feedback was lost.
        let mut c = Capacity::default();
        c.note(t0, &train(0)[..4]);
        c.gap();
        c.note(t0 + Duration::from_millis(10), &train(0)[6..]);
        assert!(c.sorted(None).is_empty());
    }

    #[test]
    fn a_path_that_narrows_no_longer_shows_what_it_carried() {
        // Probes showed a 30 Mbit/s path; it narrows to 400 kbit/s under 1.5 Mbit/s: once a
        // queue drains at the new rate, what the path carries is that rate, not the old
        // trains' (a simulcast leg would step up on them into the narrow path).
        let mut est = Estimator::new(1_500_000.0, 50_000.0, 50e6).taking_probes(true);
        let mut sim = Sim::new();
        let wide = Frames {
            send_bps: 1_500_000.0,
            path_bps: 30e6,
            probe_every: 3,
            lose_every: 0,
            feedback_lost_every: 0,
        };
        sim.run(&mut est, &wide, 3);
        assert!(
            est.capacity().is_some_and(|c| c > 10e6),
            "{:?}",
            est.capacity()
        );
        let narrow = Frames {
            path_bps: 400_000.0,
            ..wide
        };
        sim.run(&mut est, &narrow, 1);
        let c = est.capacity();
        assert!(c.is_some_and(|c| c < 450_000.0), "{c:?}");
    }

    #[test]
    fn after_a_back_off_trains_that_show_a_wider_path_lift_the_estimate_at_once() {
        // 600 kbit/s into 300 kbit/s: backed off. Then 150 kbit/s (a smaller layer) with a
        // probe a second: held near what arrives. The path widens, and probes come every
        // 200 ms: the ceiling within 1.5 s, as soon as three trains since the back-off agree,
        // not minutes of climbing.
        let mut est = Estimator::new(1_000_000.0, 100_000.0, 2_000_000.0).taking_probes(true);
        let mut sim = Sim::new();
        let narrow = Frames {
            send_bps: 600_000.0,
            path_bps: 300_000.0,
            probe_every: 0,
            lose_every: 0,
            feedback_lost_every: 0,
        };
        sim.run(&mut est, &narrow, 3);
        assert!(est.target() < 400_000.0, "{}", est.target());
        let small = Frames {
            send_bps: 150_000.0,
            probe_every: 30,
            ..narrow
        };
        let rates = sim.run(&mut est, &small, 3);
        assert!(rates.iter().all(|r| *r < 500_000.0), "{rates:?}");
        let widened = Frames {
            path_bps: 100_000_000.0,
            probe_every: 6,
            ..small
        };
        let rates = sim.run(&mut est, &widened, 2);
        // (Near the limit it knew, it would climb 5 kbit/s per feedback.)
        assert_eq!(rates[14], 2_000_000.0, "{rates:?}");
        // Not taking probes (a publisher): it climbs from the limit.
        let mut est = Estimator::new(1_000_000.0, 100_000.0, 2_000_000.0);
        let mut sim = Sim::new();
        sim.run(&mut est, &narrow, 3);
        sim.run(&mut est, &small, 3);
        let rates = sim.run(&mut est, &widened, 2);
        assert!(rates[14] < 500_000.0, "{rates:?}");
    }

    #[test]
    fn an_application_limited_sender_that_probes_climbs_to_the_ceiling() {
        // A calm picture: 150 kbit/s of single-packet frames, a probe train every second, on a
        // wide path: the ceiling within 3 s, whatever the encoder needs.
        let mut est = Estimator::new(300_000.0, 100_000.0, 2_000_000.0);
        let calm = Frames {
            send_bps: 150_000.0,
            path_bps: 100_000_000.0,
            probe_every: 30,
            lose_every: 0,
            feedback_lost_every: 0,
        };
        let rates = run_frames(&mut est, &calm, 5);
        assert_eq!(rates[29], 2_000_000.0, "{:?} {rates:?}", est.capacity());
        assert_eq!(est.reason(), Reason::Ceiling);
        // Without probes (nothing shows what the path carries) it stays near what arrives:
        // 1200 bytes 30 times a second (288 kbit/s), times 1.5, and 50 kbit/s.
        let mut est = Estimator::new(300_000.0, 100_000.0, 2_000_000.0);
        let rates = run_frames(
            &mut est,
            &Frames {
                probe_every: 0,
                ..calm
            },
            5,
        );
        assert!(rates.iter().all(|r| *r <= 482_001.0), "{rates:?}");
    }

    #[test]
    fn probes_do_not_lift_the_estimate_past_a_narrow_path() {
        // The same calm sender behind 500 kbit/s: the trains arrive at the path's rate.
        let mut est = Estimator::new(300_000.0, 100_000.0, 2_000_000.0);
        let calm = Frames {
            send_bps: 150_000.0,
            path_bps: 500_000.0,
            probe_every: 30,
            lose_every: 0,
            feedback_lost_every: 0,
        };
        let rates = run_frames(&mut est, &calm, 10);
        // What arrives (345 kbit/s with the probes) times 1.5, and 50 kbit/s, as without
        // them: no climb to the ceiling.
        assert!(rates.iter().all(|r| *r < 700_000.0), "{rates:?}");
        let capacity = est.capacity();
        assert!(
            capacity.is_some_and(|c| (450_000.0..550_000.0).contains(&c)),
            "{capacity:?}"
        );
    }

    #[test]
    fn random_loss_without_a_queue_keeps_the_rate() {
        // One packet in 20 lost (5 %), and one in 12 (8 %), on a wide path, the sender using
        // its whole rate: nothing lowers the estimate, and it climbs.
        for lose_every in [20, 12] {
            let mut est = Estimator::new(1_000_000.0, 100_000.0, 2_000_000.0);
            let mut reasons = vec![];
            let f = Frames {
                send_bps: 1_000_000.0,
                path_bps: 100_000_000.0,
                probe_every: 30,
                lose_every,
                feedback_lost_every: 0,
            };
            for r in run_frames(&mut est, &f, 10) {
                assert!(r >= 1_000_000.0, "{lose_every}: {r}");
                reasons.push(est.reason());
            }
            assert!(est.loss() > 0.04, "{}", est.loss());
            assert!(!reasons.contains(&Reason::Loss), "{reasons:?}");
            assert!(est.target() > 1_200_000.0, "{lose_every}: {}", est.target());
        }
    }

    #[test]
    fn feedback_that_never_arrives_is_not_loss() {
        // Every fifth feedback lost on the way back: its packets are never reported (`peer`
        // leaves them out), and the rest say nothing was lost.
        let mut est = Estimator::new(300_000.0, 100_000.0, 2_000_000.0);
        let f = Frames {
            send_bps: 150_000.0,
            path_bps: 100_000_000.0,
            probe_every: 30,
            lose_every: 0,
            feedback_lost_every: 5,
        };
        let rates = run_frames(&mut est, &f, 5);
        assert_eq!(est.loss(), 0.0);
        assert_eq!(*rates.last().unwrap(), 2_000_000.0, "{rates:?}");
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
        let a = b.allocate(max, (1, 1));
        assert_eq!(a.video_bps, 2_000_000);
        assert_eq!(a.audio_bps, 32_000);
        assert_eq!((a.fps_divisor, a.scale), (1, 1));
        // A source that is not adapted (pre-encoded) keeps its pictures whatever the step.
        let encoded = Budget {
            size: (0, 0),
            fps: 0.0,
            ..b
        };
        let a = encoded.allocate(max, (2, 2));
        assert_eq!((a.fps_divisor, a.scale), (1, 1));
    }

    #[test]
    fn audio_gives_way_only_below_videos_floor() {
        let b = budget();
        assert_eq!(b.allocate(200_000.0, (1, 1)).audio_bps, 32_000);
        let a = b.allocate(120_000.0, (1, 1));
        assert_eq!(a.audio_bps, AUDIO_FLOOR_BPS);
        assert_eq!(a.video_bps, VIDEO_FLOOR_BPS);
        let (min, _) = b.range();
        assert!(min < 150_000.0, "{min}");
    }

    /// Feeds `scaler` `secs` seconds of 30 pictures a second at `qp` (`None`: skipped), at
    /// `video_bps`, in 100 ms ticks from `t`; returns the step after each second.
    fn feed(
        scaler: &mut Scaler,
        t: &mut Instant,
        secs: u32,
        qp: Option<u32>,
        video_bps: f64,
    ) -> Vec<(u32, u32)> {
        let mut steps = vec![];
        for tick in 0..secs * 10 {
            *t += Duration::from_millis(100);
            let q = match qp {
                Some(qp) => Quality {
                    frames: 3,
                    qp_sum: 3 * qp,
                    skipped: 0,
                },
                None => Quality {
                    frames: 1,
                    qp_sum: 40,
                    skipped: 2,
                },
            };
            scaler.observe(*t, q, video_bps, true);
            if tick % 10 == 9 {
                steps.push(scaler.step());
            }
        }
        steps
    }

    #[test]
    fn a_calm_picture_keeps_its_size_and_frame_rate_at_a_low_rate() {
        // 720p30 at 300 kbit/s with its QP fine: nothing changes (the bit-per-pixel rule
        // this replaced took it to 640x360 at 15 fps).
        let mut s = Scaler::new(Degradation::Balanced, (1280, 720), 30.0);
        let mut t = Instant::now();
        let steps = feed(&mut s, &mut t, 20, Some(30), 300_000.0);
        assert!(steps.iter().all(|s| *s == (1, 1)), "{steps:?}");
        assert_eq!(s.last_qp(), Some(30.0));
    }

    #[test]
    fn busy_pictures_step_down_and_come_back_when_they_have_bits_to_spare() {
        let mut s = Scaler::new(Degradation::Balanced, (1280, 720), 30.0);
        let mut t = Instant::now();
        // QP 45: a step down every two seconds (one window judged, one to settle), to the
        // bottom of the ladder.
        let down = feed(&mut s, &mut t, 10, Some(45), 300_000.0);
        assert_eq!(&down[..4], &[(1, 1), (2, 1), (2, 1), (2, 2)], "{down:?}");
        assert_eq!(s.step(), (4, 4), "{down:?}");
        // QP 30 (between the thresholds): it stays.
        let held = feed(&mut s, &mut t, 10, Some(30), 300_000.0);
        assert!(held.iter().all(|s| *s == (4, 4)), "{held:?}");
        // QP 16: back up, a step at most every three seconds (a step that quadruples the
        // pixels lands about 12 QP higher: at 28, under the step down's 37 with room).
        let up = feed(&mut s, &mut t, 14, Some(16), 2_000_000.0);
        let changes: Vec<usize> = (1..up.len()).filter(|&i| up[i] != up[i - 1]).collect();
        assert!(changes.windows(2).all(|w| w[1] - w[0] >= 3), "{up:?}");
        assert_eq!(s.step(), (1, 1), "{up:?}");
    }

    #[test]
    fn a_picture_waits_for_the_start_to_find_the_rate() {
        // The estimate still climbs from where it started: a high QP then is not judged.
        let mut s = Scaler::new(Degradation::Balanced, (1920, 1080), 30.0);
        let mut t = Instant::now();
        let q = Quality {
            frames: 3,
            qp_sum: 3 * 45,
            skipped: 0,
        };
        for _ in 0..30 {
            t += Duration::from_millis(100);
            assert!(!s.observe(t, q, 700_000.0, false));
        }
        assert_eq!(s.step(), (1, 1));
        assert_eq!(feed(&mut s, &mut t, 2, Some(45), 700_000.0)[1], (2, 1));
    }

    #[test]
    fn a_window_in_which_the_rate_rose_is_not_judged() {
        // The climb reaching its ceiling: the window's QP is from the lower rates before,
        // the rate control still catching up. Not judged; at the rate it has now, it is.
        let mut s = Scaler::new(Degradation::Balanced, (1280, 720), 30.0);
        let mut t = Instant::now();
        let q = Quality {
            frames: 3,
            qp_sum: 3 * 45,
            skipped: 0,
        };
        for i in 0..10 {
            t += Duration::from_millis(100);
            let climbing = 1_000_000.0 + 110_000.0 * f64::from(i);
            assert!(!s.observe(t, q, climbing, true));
        }
        assert_eq!(s.step(), (1, 1));
        assert_eq!(
            feed(&mut s, &mut t, 2, Some(45), 2_000_000.0),
            [(1, 1), (2, 1)],
            "the first window is the climb's end; the next is judged"
        );
    }

    #[test]
    fn a_step_left_for_its_qp_is_taken_again_once_the_rate_has_grown() {
        // 720p15 left at 250 kbit/s; one step down the QP is low at the same rate: going
        // back would only find the QP it left. At 1.5 times the rate it goes back.
        let mut s = Scaler::new(Degradation::Balanced, (1280, 720), 30.0);
        let mut t = Instant::now();
        feed(&mut s, &mut t, 4, Some(45), 250_000.0);
        assert_eq!(s.step(), (2, 2));
        let held = feed(&mut s, &mut t, 10, Some(16), 300_000.0);
        assert!(held.iter().all(|s| *s == (2, 2)), "{held:?}");
        feed(&mut s, &mut t, 3, Some(16), 380_000.0);
        assert_eq!(s.step(), (2, 1), "720p15 at 380 kbit/s: 0.027 bit a pixel");
        // Left at the ceiling (the rate cannot grow), but QP 12 at 15 fps would be about 18
        // at 30: it goes back.
        let mut s = Scaler::new(Degradation::MaintainResolution, (1920, 1080), 30.0);
        feed(&mut s, &mut t, 2, Some(45), 2_000_000.0);
        assert_eq!(s.step(), (2, 1));
        feed(&mut s, &mut t, 4, Some(12), 2_000_000.0);
        assert_eq!(s.step(), (1, 1));
        // Half a minute later the content may be another: it tries again.
        let mut s = Scaler::new(Degradation::Balanced, (1280, 720), 30.0);
        feed(&mut s, &mut t, 2, Some(45), 600_000.0);
        assert_eq!(s.step(), (2, 1));
        feed(&mut s, &mut t, 29, Some(30), 600_000.0);
        feed(&mut s, &mut t, 2, Some(20), 600_000.0);
        assert_eq!(s.step(), (1, 1), "720p30 at 600 kbit/s: 0.022 bit a pixel");
    }

    #[test]
    fn a_step_up_that_would_land_near_the_step_down_is_not_taken() {
        // 852x480 left at 100 kbit/s as the path narrowed; at 426x240 15 fps QP 22 with
        // 155 kbit/s (1.5 times the rate it left at): four times the pixels would be at ~34,
        // a busier second from stepping down again. It stays; at QP 16 (~28 there) it goes.
        let mut s = Scaler::new(Degradation::Balanced, (852, 480), 30.0);
        let mut t = Instant::now();
        feed(&mut s, &mut t, 4, Some(45), 100_000.0);
        assert_eq!(s.step(), (2, 2));
        let held = feed(&mut s, &mut t, 10, Some(22), 155_000.0);
        assert!(held.iter().all(|s| *s == (2, 2)), "{held:?}");
        feed(&mut s, &mut t, 2, Some(16), 155_000.0);
        assert_eq!(s.step(), (2, 1));
    }

    #[test]
    fn pictures_skipped_to_hold_the_rate_step_down() {
        let mut s = Scaler::new(Degradation::Balanced, (1280, 720), 30.0);
        let mut t = Instant::now();
        let steps = feed(&mut s, &mut t, 2, None, 300_000.0);
        assert_eq!(steps.last(), Some(&(2, 1)), "{steps:?}");
    }

    #[test]
    fn a_rate_the_step_above_cannot_carry_keeps_the_step() {
        // QP 20 at the bottom step, but 400 kbit/s would give 1080p30 0.006 bit a pixel:
        // it goes up only as far as the rate carries.
        let mut s = Scaler::new(Degradation::MaintainFramerate, (1920, 1080), 30.0);
        let mut t = Instant::now();
        feed(&mut s, &mut t, 6, Some(45), 110_000.0);
        assert_eq!(s.step(), (1, 4));
        feed(&mut s, &mut t, 20, Some(16), 400_000.0);
        assert_eq!(s.step(), (1, 2), "960x540 at 400 kbit/s: 0.026 bit a pixel");
    }

    #[test]
    fn each_degradation_preference_keeps_what_it_promises() {
        for (preference, bottom) in [
            (Degradation::MaintainFramerate, (1, 4)),
            (Degradation::MaintainResolution, (4, 1)),
            (Degradation::Balanced, (4, 4)),
        ] {
            let mut s = Scaler::new(preference, (1280, 720), 30.0);
            let mut t = Instant::now();
            let steps = feed(&mut s, &mut t, 12, Some(48), 110_000.0);
            for (divisor, scale) in &steps {
                match preference {
                    Degradation::MaintainFramerate => assert_eq!(*divisor, 1),
                    Degradation::MaintainResolution => assert_eq!(*scale, 1),
                    Degradation::Balanced => {}
                }
            }
            assert_eq!(s.step(), bottom, "{preference:?}: {steps:?}");
            assert_eq!(
                Degradation::parse(Degradation::NAMES[preference as usize]),
                Some(preference)
            );
        }
    }

    #[test]
    fn the_ladder_stays_within_its_minimums() {
        // 320x180 at 15 fps: one halving of the sides (160x90), none of the frame rate that
        // would go under 5 fps twice.
        let mut s = Scaler::new(Degradation::Balanced, (320, 180), 15.0);
        let mut t = Instant::now();
        feed(&mut s, &mut t, 20, Some(50), 100_000.0);
        assert_eq!(s.step(), (2, 2));
        assert_eq!(scaled_side(320, 2), 160);
        let mut s = Scaler::new(Degradation::MaintainFramerate, (240, 136), 30.0);
        feed(&mut s, &mut t, 20, Some(50), 100_000.0);
        assert_eq!(s.step(), (1, 1), "240x136 cannot halve");
    }
}
