//! A bad network on demand: `--impair 'loss=5%,delay=40ms,jitter=15ms,…'` parsed into an
//! [`Impairment`], and [`Link`], the pure schedule of one direction of one socket — given a
//! datagram and the time, when (if ever, and how many times) it arrives. The sockets that
//! apply it live with the WebRTC wrapper (`peer::impaired`); nothing here does I/O or reads a
//! clock, so a seed replays a run exactly.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What `--impair` asks for, applied to every datagram in each direction independently.
#[derive(Debug, Clone, PartialEq)]
pub struct Impairment {
    /// Share of datagrams dropped at random (0..=1): media (RTP, RTCP) only, unless
    /// `handshake`.
    pub loss: f64,
    /// `loss` drops connection setup's datagrams too (ICE's STUN, DTLS): `loss=10%,handshake`.
    pub handshake: bool,
    /// Fixed one-way delay added to every datagram.
    pub delay: Duration,
    /// Each datagram's delay varies uniformly within ±jitter; order is kept (as in a queue).
    pub jitter: Duration,
    /// Share of datagrams held back so that the ones after them overtake them.
    pub reorder: f64,
    /// Share of datagrams delivered twice.
    pub duplicate: f64,
    /// Windows (start, length) from the process's start in which nothing gets through.
    pub outages: Vec<(Duration, Duration)>,
    /// A bottleneck's rate in bit/s: datagrams queue behind each other.
    pub rate: Option<u64>,
    /// The bottleneck's rate from a time on (from the process's start), in order:
    /// `rate=3mbit@20s`.
    pub rate_steps: Vec<(Duration, u64)>,
    /// The bottleneck's queue, as the longest wait it holds; a datagram that would wait
    /// longer is dropped (tail drop).
    pub queue: Duration,
    /// Seed of the random choices; the same seed and traffic give the same draws.
    pub seed: u64,
    /// Times (from the process's start) at which the media sockets move to new ports, as
    /// when a NAT gives the flow a new mapping: the far end sees the same peer come from
    /// another address (`rebind=10s`).
    pub rebinds: Vec<Duration>,
}

impl Default for Impairment {
    fn default() -> Impairment {
        Impairment {
            loss: 0.0,
            handshake: false,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            reorder: 0.0,
            duplicate: 0.0,
            outages: Vec::new(),
            rate: None,
            rate_steps: Vec::new(),
            queue: Duration::from_millis(300),
            seed: 1,
            rebinds: Vec::new(),
        }
    }
}

/// `--impair`'s grammar: comma-separated `key=value` (and the word `handshake`). Shares are `5%` or `0.05`; durations
/// `40ms` or `2s`; an outage `LENGTH@START`; a rate `500kbit`, `2mbit` or `64000bit`, and
/// `RATE@START` for the rate from then on; `rebind=10s` moves the sockets to new ports then.
impl FromStr for Impairment {
    type Err = String;

    fn from_str(text: &str) -> Result<Impairment, String> {
        // Without `seed=`, a fresh seed each run; it is logged, so a run can be repeated.
        let mut spec = Impairment {
            seed: rand::random(),
            ..Impairment::default()
        };
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "handshake" {
                spec.handshake = true;
                continue;
            }
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}` is not key=value"))?;
            let value = value.trim();
            match key.trim() {
                "loss" => spec.loss = share(value)?,
                "delay" => spec.delay = duration(value)?,
                "jitter" => spec.jitter = duration(value)?,
                "reorder" => spec.reorder = share(value)?,
                "duplicate" => spec.duplicate = share(value)?,
                "outage" => {
                    let (length, start) = value.split_once('@').ok_or_else(|| {
                        format!("outage `{value}` must be LENGTH@START, e.g. 2s@10s")
                    })?;
                    spec.outages.push((duration(start)?, duration(length)?));
                }
                "rate" => match value.split_once('@') {
                    Some((bits, start)) => {
                        spec.rate_steps.push((duration(start)?, rate(bits)?));
                        spec.rate_steps.sort_by_key(|(start, _)| *start);
                    }
                    None => spec.rate = Some(rate(value)?),
                },
                "queue" => spec.queue = duration(value)?,
                "rebind" => {
                    spec.rebinds.push(duration(value)?);
                    spec.rebinds.sort();
                }
                "seed" => {
                    spec.seed = value
                        .parse()
                        .map_err(|_| format!("seed `{value}` is not a whole number"))?
                }
                other => {
                    return Err(format!(
                        "unknown impairment `{other}` (known: loss, handshake, delay, jitter, \
                         reorder, duplicate, outage, rate, queue, rebind, seed)"
                    ));
                }
            }
        }
        Ok(spec)
    }
}

impl fmt::Display for Impairment {
    /// The canonical form, which parses back to the same value (seed included).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "loss={}%,delay={}ms,jitter={}ms,reorder={}%,duplicate={}%",
            self.loss * 100.0,
            self.delay.as_millis(),
            self.jitter.as_millis(),
            self.reorder * 100.0,
            self.duplicate * 100.0
        )?;
        for (start, length) in &self.outages {
            write!(
                f,
                ",outage={}ms@{}ms",
                length.as_millis(),
                start.as_millis()
            )?;
        }
        if let Some(rate) = self.rate {
            write!(f, ",rate={rate}bit")?;
        }
        for (start, rate) in &self.rate_steps {
            write!(f, ",rate={rate}bit@{}ms", start.as_millis())?;
        }
        if self.rate.is_some() || !self.rate_steps.is_empty() {
            write!(f, ",queue={}ms", self.queue.as_millis())?;
        }
        for at in &self.rebinds {
            write!(f, ",rebind={}ms", at.as_millis())?;
        }
        if self.handshake {
            write!(f, ",handshake")?;
        }
        write!(f, ",seed={}", self.seed)
    }
}

fn share(value: &str) -> Result<f64, String> {
    let share = match value.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => value.parse::<f64>(),
    }
    .map_err(|_| format!("`{value}` is not a share (e.g. 5% or 0.05)"))?;
    if (0.0..=1.0).contains(&share) {
        Ok(share)
    } else {
        Err(format!("`{value}` is not between 0% and 100%"))
    }
}

fn duration(value: &str) -> Result<Duration, String> {
    let (number, unit) = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((value, ""), |i| value.split_at(i));
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{value}` is not a duration (e.g. 40ms or 2s)"))?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "s" => number,
        _ => return Err(format!("`{value}` needs a unit: ms or s")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{value}` is out of range"))
}

fn rate(value: &str) -> Result<u64, String> {
    let lower = value.to_ascii_lowercase();
    let (number, scale) = [("mbit", 1e6), ("kbit", 1e3), ("bit", 1.0)]
        .iter()
        .find_map(|(unit, scale)| lower.strip_suffix(unit).map(|n| (n.trim(), *scale)))
        .ok_or_else(|| format!("rate `{value}` needs a unit: bit, kbit or mbit"))?;
    let bits = number
        .parse::<f64>()
        .map_err(|_| format!("`{value}` is not a rate (e.g. 500kbit)"))?
        * scale;
    if bits >= 1000.0 && bits.is_finite() {
        Ok(bits as u64)
    } else {
        Err(format!("rate `{value}` is below 1kbit"))
    }
}

/// Up to two arrival times (a duplicated datagram arrives twice), as offsets from the epoch.
pub type Arrivals = [Option<Duration>; 2];

/// One direction of one socket: its random draws and its queue.
#[derive(Debug)]
pub struct Link {
    spec: Impairment,
    rng: StdRng,
    /// The latest arrival scheduled in order; jittered datagrams never overtake it.
    last: Duration,
    /// When the bottleneck finishes sending what it holds.
    busy_until: Duration,
}

impl Link {
    /// `stream` tells apart the directions and sockets that share one seed.
    pub fn new(spec: &Impairment, stream: u64) -> Link {
        Link {
            spec: spec.clone(),
            rng: StdRng::seed_from_u64(spec.seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            last: Duration::ZERO,
            busy_until: Duration::ZERO,
        }
    }

    /// When the datagram of `len` bytes handed over at `now` arrives: no time when it is
    /// lost, two when it is duplicated. Only `media` (RTP and RTCP) is lost, duplicated or
    /// reordered at random; everything sees the delay, the jitter, the bottleneck and outages.
    pub fn schedule(&mut self, now: Duration, len: usize, media: bool) -> Arrivals {
        let spec = &self.spec;
        if spec
            .outages
            .iter()
            .any(|&(start, length)| now >= start && now < start + length)
        {
            return [None, None];
        }
        if (media || spec.handshake) && spec.loss > 0.0 && self.rng.random_bool(spec.loss) {
            return [None, None];
        }
        let mut at = now;
        let rate = spec
            .rate_steps
            .iter()
            .rev()
            .find(|(start, _)| *start <= now)
            .map(|(_, rate)| *rate)
            .or(spec.rate);
        if let Some(rate) = rate {
            let start = self.busy_until.max(now);
            if start - now > spec.queue {
                return [None, None];
            }
            self.busy_until = start + Duration::from_secs_f64(len as f64 * 8.0 / rate as f64);
            at = self.busy_until;
        }
        at += spec.delay;
        if !spec.jitter.is_zero() {
            let jitter = spec.jitter.as_secs_f64();
            let offset = self.rng.random_range(-jitter..=jitter);
            at = Duration::from_secs_f64((at.as_secs_f64() + offset).max(now.as_secs_f64()));
        }
        at = at.max(self.last);
        if media && spec.reorder > 0.0 && self.rng.random_bool(spec.reorder) {
            // Held back past the next few datagrams, without holding up the ones behind it.
            at += (spec.jitter * 2).max(Duration::from_millis(10));
        } else {
            self.last = at;
        }
        let twice = media && spec.duplicate > 0.0 && self.rng.random_bool(spec.duplicate);
        [Some(at), twice.then_some(at)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn link(text: &str) -> Link {
        Link::new(&text.parse().unwrap(), 0)
    }

    #[test]
    fn the_grammar_reads_every_key_and_prints_what_it_read() {
        let spec: Impairment =
            "loss=5%, delay=40ms,jitter=15ms,reorder=1%,duplicate=0.01,outage=2s@10s,rate=500kbit,rate=3mbit@20s,queue=200ms,rebind=5s,rebind=2s,seed=7"
                .parse()
                .unwrap();
        assert_eq!(spec.loss, 0.05);
        assert_eq!(spec.delay, 40 * MS);
        assert_eq!(spec.jitter, 15 * MS);
        assert_eq!(spec.reorder, 0.01);
        assert_eq!(spec.duplicate, 0.01);
        assert_eq!(
            spec.outages,
            vec![(Duration::from_secs(10), Duration::from_secs(2))]
        );
        assert_eq!(spec.rate, Some(500_000));
        assert_eq!(spec.rate_steps, vec![(Duration::from_secs(20), 3_000_000)]);
        assert_eq!(spec.queue, 200 * MS);
        assert_eq!(spec.seed, 7);
        assert_eq!(
            spec.rebinds,
            vec![Duration::from_secs(2), Duration::from_secs(5)]
        );
        assert_eq!(spec.to_string().parse::<Impairment>().unwrap(), spec);
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        for (text, says) in [
            ("loss=150%", "between"),
            ("loss=x", "share"),
            ("delay=40", "unit"),
            ("outage=2s", "LENGTH@START"),
            ("rate=500", "unit"),
            ("rate=0.1kbit", "below"),
            ("rate=1mbit@soon", "duration"),
            ("bandwidth=1", "unknown impairment"),
            ("loss", "key=value"),
            ("seed=-1", "whole number"),
            ("rebind=soon", "duration"),
        ] {
            let error = text.parse::<Impairment>().unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn loss_drops_about_its_share_and_a_seed_replays_it() {
        let run = |seed: u64| {
            let mut link = link(&format!("loss=10%,seed={seed}"));
            (0..10_000)
                .map(|i| link.schedule(i * MS, 1000, true)[0].is_some())
                .collect::<Vec<_>>()
        };
        let kept = run(1).iter().filter(|&&k| k).count();
        assert!((8_800..9_200).contains(&kept), "{kept}");
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn jitter_varies_the_delay_but_keeps_the_order() {
        let mut link = link("delay=100ms,jitter=30ms");
        let mut last = Duration::ZERO;
        let mut delays = Vec::new();
        for i in 0..1000 {
            let now = i * 5 * MS;
            let at = link.schedule(now, 1000, true)[0].unwrap();
            assert!(at >= last, "order kept");
            assert!(at >= now + 70 * MS && at <= now + 130 * MS + 30 * MS);
            delays.push(at - now);
            last = at;
        }
        let spread = *delays.iter().max().unwrap() - *delays.iter().min().unwrap();
        assert!(spread > 30 * MS, "{spread:?}");
    }

    #[test]
    fn reordered_datagrams_are_overtaken_and_duplicates_arrive_twice() {
        let mut link = link("reorder=10%,duplicate=10%");
        let (mut reordered, mut doubled) = (0, 0);
        for i in 0..1000 {
            let now = i * MS;
            let arrivals = link.schedule(now, 100, true);
            let at = arrivals[0].unwrap();
            if at > now {
                assert_eq!(at, now + 10 * MS);
                reordered += 1;
            }
            doubled += arrivals[1].is_some() as u32;
        }
        assert!((60..140).contains(&reordered), "{reordered}");
        assert!((60..140).contains(&doubled), "{doubled}");
    }

    #[test]
    fn handshakes_are_delayed_but_never_lost_at_random() {
        let mut link = link("loss=100%,duplicate=100%,delay=40ms");
        assert_eq!(link.schedule(Duration::ZERO, 100, true), [None, None]);
        assert_eq!(
            link.schedule(Duration::ZERO, 100, false),
            [Some(40 * MS), None]
        );
    }

    #[test]
    fn with_handshake_the_setup_is_lost_at_random_too() {
        let mut link = link("loss=100%,handshake");
        assert_eq!(link.schedule(Duration::ZERO, 100, false), [None, None]);
        let spec: Impairment = "loss=10%,handshake,seed=3".parse().unwrap();
        assert!(spec.handshake);
        assert_eq!(spec.to_string().parse::<Impairment>().unwrap(), spec);
    }

    #[test]
    fn nothing_gets_through_an_outage() {
        let mut link = link("outage=2s@10s");
        assert!(link.schedule(Duration::from_millis(9_999), 100, true)[0].is_some());
        assert!(link.schedule(Duration::from_secs(10), 100, true)[0].is_none());
        assert!(link.schedule(Duration::from_millis(11_999), 100, true)[0].is_none());
        assert!(link.schedule(Duration::from_secs(12), 100, true)[0].is_some());
    }

    #[test]
    fn a_bottleneck_paces_datagrams_and_drops_when_its_queue_is_full() {
        // 1000 bytes at 80 kbit/s take 100 ms each; the queue holds 300 ms.
        let mut link = link("rate=80kbit,queue=300ms");
        let arrivals: Vec<_> = (0..6)
            .map(|_| link.schedule(Duration::ZERO, 1000, true)[0])
            .collect();
        assert_eq!(
            arrivals,
            vec![
                Some(100 * MS),
                Some(200 * MS),
                Some(300 * MS),
                Some(400 * MS),
                None,
                None
            ]
        );
        assert_eq!(
            link.schedule(Duration::from_secs(1), 1000, true)[0],
            Some(1100 * MS)
        );
    }

    #[test]
    fn a_rate_step_changes_the_bottleneck_from_its_time_on() {
        // 80 kbit/s, then 800 kbit/s from 2 s on: 1000 bytes take 100 ms, then 10 ms.
        let mut stepped = link("rate=80kbit,rate=800kbit@2s");
        assert_eq!(
            stepped.schedule(Duration::ZERO, 1000, true)[0],
            Some(100 * MS)
        );
        let at = Duration::from_secs(2);
        assert_eq!(stepped.schedule(at, 1000, true)[0], Some(at + 10 * MS));
        // A step alone leaves the path open before it.
        let mut open = link("rate=80kbit@2s");
        assert_eq!(
            open.schedule(Duration::ZERO, 1000, true)[0],
            Some(Duration::ZERO)
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn prop_any_impair_spec_is_read_or_refused(
                text in "((loss|delay|jitter|reorder|duplicate|outage|rate|queue|rebind|seed|x)=[0-9.%@a-z]{0,8},?){0,6}|\\PC{0,40}",
            ) {
                if let Ok(spec) = text.parse::<Impairment>() {
                    let mut link = Link::new(&spec, 0);
                    for i in 0..50u64 {
                        link.schedule(Duration::from_millis(i * 7), 1200, true);
                    }
                }
            }
        }
    }
}
