//! Forwarding: one `Hub` per published track fans its RTP out to every subscribed leg.
//!
//! The per-packet path is: receive from the publisher's leg, clone the packet (the payload is
//! shared, not copied) and hand it to each subscriber's leg without waiting
//! (`LocalTrack::try_write`: the media engine's queue). A packet the engine cannot take is
//! dropped for that leg (it recovers through NACK or a keyframe); no subscriber ever slows
//! the publisher or the other subscribers.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::forwarder::{
    AskThrottle, BOTTLENECK_NEWS, Forwarder, KeyframeGate, LAYER_INTERVAL, LIMIT_INTERVAL,
    LimitCadence, PictureIds, Verdict,
};
use super::layers::{LayerChoice, Layers, Path};
use super::metrics::{LegCounts, Metrics, SubscriptionCounts};
use crate::peer::{
    KeyframeRequester, LocalTrack, Peer, PeerError, Place, RemoteTrack, SendEstimates,
};
use crate::session::{Layer, LayerWish};
use crate::vocab::bitstream::{h264_filler, keyframe_size, starts_keyframe};
use crate::vocab::{Codec, Kind, Rtp};

/// A subscriber's leg as its hub sees it.
struct Leg {
    id: u64,
    track: Arc<LocalTrack>,
    /// What it does with each packet: starts at a keyframe, numbers continuously.
    forwarder: Forwarder,
    /// A VP8 leg's picture ids, on one line as its sequence numbers are.
    pictures: PictureIds,
    /// Which layer of a simulcast track it gets.
    choice: LayerChoice,
    /// Counts every packet forwarded and dropped.
    counts: LegCounts,
    /// What the subscriber's connection can take.
    estimates: SendEstimates,
    /// Packets handed to this leg.
    sent: u64,
    /// A fault's (tests): which packets are not forwarded.
    fault: Option<LegFault>,
    seen: u64,
    /// Where each layer switch is told, and the SSRC last told.
    switches: Option<mpsc::UnboundedSender<Switch>>,
    told: Option<u32>,
    /// Its path is to be probed at the end of the next frame.
    probe_due: bool,
}

/// A probe of a leg's path: packets numbered on the leg's line after a frame's last packet,
/// of this size, so that the frame leaves as a train (`congestion`'s) of at least this many
/// packets: H.264 filler data in the frame (decoders skip it), padding packets after the
/// frame for other codecs (receivers skip them: [`Rtp::padding`]).
const PROBE_PACKETS: u16 = 4;
/// How many of each video SSRC's newest packets are kept for legs that start at a keyframe
/// (the keyframe's frame, and what overtook a packet of it that came again after a loss:
/// a few hundred milliseconds of the largest layer).
const RECENT: usize = 128;
const PROBE_BYTES: usize = 1000;

impl Leg {
    /// Its track is fed no more: its section's next leg numbers on from this one's newest.
    fn ended(&self) {
        self.track.leg_ended(self.forwarder.last());
    }
}

/// Packets a leg does not forward on purpose (a server's fault, for tests).
#[derive(Debug, Clone, Copy)]
pub(crate) enum LegFault {
    /// Every `n`th (`n` > 0).
    DropEvery(u64),
    /// All after the first `n`.
    StallAfter(u64),
}

impl LegFault {
    /// Whether the `n`th packet (from 1) is dropped.
    fn drops(self, n: u64) -> bool {
        match self {
            LegFault::DropEvery(every) => every > 0 && n % every == 0,
            LegFault::StallAfter(after) => n > after,
        }
    }
}

/// What a hub's packets go through, under one lock taken once per packet.
#[derive(Default)]
struct Fanout {
    legs: Vec<Leg>,
    /// Keyframe requests by the SSRC asked (a simulcast track's layers are asked apart).
    keyframes: HashMap<u32, KeyframeGate>,
    /// The newest [`RECENT`] packets of each video SSRC, in arrival order: a leg that starts
    /// at a keyframe takes those it dropped while it waited (`Verdict::Send`'s `replay_from`).
    recent: HashMap<u32, VecDeque<Rtp>>,
    /// A simulcast track's layers (`None`: a track of one encoding).
    layers: Option<Layers>,
}

/// One published track and the legs it feeds, for as long as its stream lives: when the
/// publisher comes back after losing its connection, its new track feeds the same legs.
pub(crate) struct Hub {
    pub(crate) codec: Codec,
    /// Asks the current publisher's track for keyframes and tells it the rate.
    source: Mutex<KeyframeRequester>,
    fanout: Mutex<Fanout>,
    next_leg: AtomicU64,
    /// Packets dropped because the engine's queue was full.
    dropped: AtomicU64,
    /// Its stream ended.
    closed: AtomicBool,
    /// Subscribers' own keyframe requests, throttled.
    subscriber_asks: Mutex<AskThrottle>,
    metrics: Arc<Metrics>,
}

impl Hub {
    /// Starts forwarding `track` until the hub is closed. A video track's publisher is told
    /// to send at most what its slowest subscriber can take, and at most `cap`; one that
    /// sends simulcast (its track has a rid), at most `cap`, as each leg gets the layer its
    /// own subscriber's path carries.
    pub(crate) fn start(track: RemoteTrack, cap: Option<f64>, metrics: &Arc<Metrics>) -> Arc<Hub> {
        let fanout = Fanout {
            layers: track.rid.is_some().then(|| Layers::new(track.layers)),
            ..Fanout::default()
        };
        let hub = Arc::new(Hub {
            codec: track.codec,
            source: Mutex::new(track.keyframe_requester(track.ssrc)),
            fanout: Mutex::new(fanout),
            next_leg: AtomicU64::new(1),
            dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            subscriber_asks: Mutex::default(),
            metrics: Arc::clone(metrics),
        });
        hub.feed(track);
        if hub.codec.kind() == Kind::Video {
            tokio::spawn(limit_publisher(Arc::downgrade(&hub), cap));
        }
        hub
    }

    /// Feeds the legs from `track` (of the same codec) from now on: the publisher is back.
    /// Each leg goes on from the new track's first keyframe, numbered on.
    pub(crate) fn resume(self: &Arc<Self>, track: RemoteTrack) {
        *self.source.lock().expect("source lock") = track.keyframe_requester(track.ssrc);
        {
            let mut fanout = self.fanout.lock().expect("fanout lock");
            fanout.recent.clear();
            fanout.keyframes.clear();
            fanout.layers = track.rid.is_some().then(|| Layers::new(track.layers));
            for leg in &mut fanout.legs {
                leg.forwarder.source_replaced();
                leg.choice.restart(track.layers);
            }
        }
        self.feed(track);
    }

    /// Forwards `track`'s packets, in a task that ends with the track.
    fn feed(self: &Arc<Self>, track: RemoteTrack) {
        let h = Arc::clone(self);
        tokio::spawn(async move {
            while let Some(mut packet) = track.recv().await {
                packet.strip_extensions();
                if h.forward(&packet) {
                    h.request_keyframe(Some(packet.ssrc())).await;
                }
            }
            let dropped = h.dropped.load(Ordering::Relaxed);
            if dropped > 0 {
                tracing::info!(codec = ?h.codec, dropped, "track ended; packets dropped for slow subscribers");
            }
        });
    }

    /// What asks the current publisher for keyframes and tells it the rate.
    fn requester(&self) -> KeyframeRequester {
        self.source.lock().expect("source lock").clone()
    }

    /// Hands `packet` to every leg as its forwarder decides; whether a leg waits for a
    /// keyframe of the packet's SSRC nobody has asked for.
    fn forward(&self, packet: &Rtp) -> bool {
        let now = Instant::now();
        let video = self.codec.kind() == Kind::Video;
        let key = video && starts_keyframe(self.codec, packet.payload());
        let ssrc = packet.ssrc();
        // Padding alone: a sender probing its own path, nothing for a subscriber.
        let padding = packet.payload().is_empty();
        let mut fanout = self.fanout.lock().expect("fanout lock");
        let Fanout {
            legs,
            keyframes,
            recent,
            layers,
        } = &mut *fanout;
        if key && let Some(gate) = keyframes.get_mut(&ssrc) {
            gate.keyframe_sent();
        }
        if let Some(layers) = layers
            && !padding
        {
            let size = key
                .then(|| keyframe_size(self.codec, packet.payload()))
                .flatten();
            layers.on_packet(ssrc, packet.payload().len() + 12, size, now);
        }
        let recent = video.then(|| {
            let recent = recent.entry(ssrc).or_default();
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(packet.clone());
            &*recent
        });
        let mut ask = false;
        for leg in legs.iter_mut() {
            if padding && leg.forwarder.skip_padding(ssrc, packet.seq()) {
                continue;
            }
            let verdict = leg
                .forwarder
                .on_packet(ssrc, packet.seq(), packet.timestamp(), key, now);
            let Verdict::Send {
                seq,
                timestamp,
                replay_from,
            } = verdict
            else {
                ask |= matches!(verdict, Verdict::Drop { ask_keyframe: true });
                continue;
            };
            if key
                && leg.told != Some(ssrc)
                && let (Some(layers), Some(tx)) = (layers.as_mut(), &leg.switches)
                && leg.forwarder.current() == Some(ssrc)
            {
                leg.told = Some(ssrc);
                let rungs = layers.rungs(now);
                if let Some(i) = rungs.iter().position(|r| r.ssrc == ssrc) {
                    let _ = tx.send((layers.name(i, rungs.len()), rungs[i].size));
                }
            }
            // The leg starts here: what it dropped while it waited, from `replay_from` on,
            // goes too, in order around this packet.
            let (before, after) = match (replay_from, recent) {
                (Some(from), Some(recent)) => dropped_while_waiting(recent, from, packet.seq()),
                _ => Default::default(),
            };
            for p in before {
                self.replay(leg, p, now);
            }
            if leg.probe_due
                && packet.marker()
                && !leg.forwarder.leaving()
                && !leg.forwarder.paused()
            {
                self.probe(leg, packet, seq, timestamp, now);
            } else {
                self.send(leg, packet, seq, timestamp);
            }
            for p in after {
                self.replay(leg, p, now);
            }
        }
        ask
    }

    /// Sends `packet`, which `leg` dropped while it waited for the keyframe it starts at
    /// (padding is left out as it would have been then).
    fn replay(&self, leg: &mut Leg, packet: &Rtp, now: Instant) {
        if packet.payload().is_empty() && leg.forwarder.skip_padding(packet.ssrc(), packet.seq()) {
            return;
        }
        let (seq, timestamp) = leg
            .forwarder
            .mark_sent(packet.seq(), packet.timestamp(), now);
        self.send(leg, packet, seq, timestamp);
    }

    /// Sends a frame's last packet (`packet`, numbered `seq` and timed `timestamp`) on
    /// `leg` followed by a probe of its path: H.264's filler data in the same frame, the last
    /// of it marking the frame's end; other codecs' padding packets after it.
    fn probe(&self, leg: &mut Leg, packet: &Rtp, seq: u16, timestamp: u32, now: Instant) {
        leg.probe_due = false;
        let Some((first, ts)) = leg.forwarder.insert(seq, PROBE_PACKETS, now) else {
            self.send(leg, packet, seq, timestamp);
            return;
        };
        tracing::trace!(leg = leg.id, "a leg's path probed");
        if self.codec != Codec::H264 {
            self.send(leg, packet, seq, timestamp);
            for i in 0..PROBE_PACKETS {
                self.send_with(leg, PROBE_BYTES, |track| {
                    track.try_write_padding(first.wrapping_add(i), ts, PROBE_BYTES)
                });
            }
            return;
        }
        let mut last = packet.clone();
        last.0.header.marker = false;
        self.send(leg, &last, seq, timestamp);
        let mut filler = packet.clone();
        filler.0.payload = h264_filler(PROBE_BYTES);
        for i in 0..PROBE_PACKETS {
            filler.0.header.marker = i + 1 == PROBE_PACKETS;
            self.send(leg, &filler, first.wrapping_add(i), ts);
        }
    }

    /// Sends a copy of `packet` on `leg`, numbered `seq` and timed `timestamp`.
    fn send(&self, leg: &mut Leg, packet: &Rtp, seq: u16, timestamp: u32) {
        let mut out = packet.clone();
        out.0.header.sequence_number = seq;
        out.0.header.timestamp = timestamp;
        if self.codec == Codec::Vp8
            && let Some(payload) = leg
                .pictures
                .rewrite(leg.forwarder.source_number(), packet.payload())
        {
            out.0.payload = payload;
        }
        let bytes = out.payload().len();
        self.send_with(leg, bytes, |track| track.try_write(out));
    }

    /// Sends a packet of `bytes` on `leg` with `write` (whether its track took it), unless
    /// the leg's fault drops it; counted.
    fn send_with(&self, leg: &mut Leg, bytes: usize, write: impl FnOnce(&LocalTrack) -> bool) {
        leg.seen += 1;
        if leg.fault.is_some_and(|f| f.drops(leg.seen)) {
            return;
        }
        if write(&leg.track) {
            leg.sent += 1;
            leg.counts.forwarded(bytes);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            leg.counts.dropped();
        }
    }

    /// Feeds `track` (ready: [`LocalTrack::ready`]) from now on; the leg's id.
    fn attach(
        &self,
        track: Arc<LocalTrack>,
        counts: LegCounts,
        estimates: SendEstimates,
        wish: &LegWish,
    ) -> u64 {
        let id = self.next_leg.fetch_add(1, Ordering::Relaxed);
        let video = self.codec.kind() == Kind::Video;
        let mut forwarder = Forwarder::new(video, self.codec.clock_rate()).after(track.line());
        forwarder.set_paused(video && wish.layer.off);
        let mut fanout = self.fanout.lock().expect("fanout lock");
        let declared = fanout.layers.as_ref().map_or(0, Layers::declared);
        let mut choice = LayerChoice::new(wish.layer, declared);
        // A simulcast track's leg starts on the layer it would get now.
        if let Some(layers) = &mut fanout.layers
            && let Some(ssrc) = choice.pick(
                &layers.rungs(Instant::now()),
                measured(&estimates),
                Instant::now(),
            )
        {
            forwarder.target(ssrc);
        }
        fanout.legs.push(Leg {
            id,
            track,
            forwarder,
            pictures: PictureIds::default(),
            choice,
            counts,
            estimates,
            sent: 0,
            fault: wish.fault,
            seen: 0,
            switches: wish.switches.clone().filter(|_| video),
            told: None,
            probe_due: false,
        });
        id
    }

    fn detach(&self, id: u64) {
        self.fanout.lock().expect("fanout lock").legs.retain(|leg| {
            if leg.id == id {
                tracing::debug!(codec = ?self.codec, sent = leg.sent, "subscriber leg detached");
                leg.ended();
            }
            leg.id != id
        });
    }

    /// What the publisher may send: the lowest of its subscribers' measured estimates and
    /// `cap` (only `cap` for a simulcast track: each leg gets the layer its path carries);
    /// `None` when neither says anything.
    fn limit(&self, cap: Option<f64>) -> Option<f64> {
        let fanout = self.fanout.lock().expect("fanout lock");
        let legs = match fanout.layers {
            Some(_) => &[][..],
            None => &fanout.legs[..],
        };
        legs.iter()
            .map(|leg| leg.estimates.get())
            .filter(|e| e.measured)
            .map(|e| e.bps)
            .chain(cap)
            .reduce(f64::min)
    }

    /// Each leg of a simulcast track is set to the layer its subscriber's path carries now
    /// (it moves there at that layer's next keyframe).
    fn choose_layers(&self) {
        let now = Instant::now();
        let mut fanout = self.fanout.lock().expect("fanout lock");
        let Fanout { legs, layers, .. } = &mut *fanout;
        let Some(layers) = layers else { return };
        let rungs = layers.rungs(now);
        let rank = |ssrc: Option<u32>| rungs.iter().position(|r| Some(r.ssrc) == ssrc);
        for leg in legs.iter_mut() {
            // Switched off: nothing to choose (what it knew of its path goes stale meanwhile).
            if leg.forwarder.paused() {
                continue;
            }
            let estimate = measured(&leg.estimates);
            let Some(ssrc) = leg.choice.pick(&rungs, estimate, now) else {
                continue;
            };
            // Probed only on the layer it gets and keeps (not while it goes down).
            if leg.forwarder.current() == Some(ssrc)
                && !leg.forwarder.leaving()
                && leg.choice.probe(&rungs, estimate, now)
            {
                leg.probe_due = true;
            }
            if leg.forwarder.wanted() == Some(ssrc) {
                continue;
            }
            tracing::debug!(leg = leg.id, ssrc, ?estimate, "a simulcast leg's layer");
            // Down because the path no longer carries the layer it is on (not because its
            // subscriber asked for a smaller size): what that layer would send until the
            // smaller one's keyframe only queues ahead of it.
            let down = matches!(
                (rank(Some(ssrc)), rank(leg.forwarder.current())),
                (Some(to), Some(from)) if to < from && from <= leg.choice.ceiling(&rungs)
            );
            match down && leg.choice.follows_path() {
                true => leg.forwarder.leave_for(ssrc),
                false => leg.forwarder.target(ssrc),
            }
        }
    }

    /// Whether its track arrives as simulcast layers.
    pub(crate) fn is_simulcast(&self) -> bool {
        self.fanout.lock().expect("fanout lock").layers.is_some()
    }

    /// Leg `id`'s subscriber asks for another layer (it moves there at that layer's next
    /// keyframe, asked for at the next choice), or switches its video off or on.
    fn set_layer(&self, id: u64, layer: LayerWish) {
        let video = self.codec.kind() == Kind::Video;
        let mut fanout = self.fanout.lock().expect("fanout lock");
        if let Some(leg) = fanout.legs.iter_mut().find(|leg| leg.id == id) {
            leg.choice.set_wish(layer);
            leg.forwarder.set_paused(video && layer.off);
        }
    }

    /// Ends every leg (their queues close).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        let mut fanout = self.fanout.lock().expect("fanout lock");
        fanout.legs.iter().for_each(Leg::ended);
        fanout.legs.clear();
    }

    /// The subscriber of leg `id` asked for a keyframe: on to the publisher (for the layer
    /// that leg gets) unless subscribers' requests passed within [`AskThrottle`]'s gap
    /// (however many subscriptions a flood comes over).
    async fn subscriber_asked(&self, id: u64) {
        let pass = self
            .subscriber_asks
            .lock()
            .expect("asks lock")
            .pass(Instant::now());
        match pass {
            true => {
                tracing::debug!("a subscriber asked for a keyframe");
                if let Some(ssrc) = self.leg_ssrc(id) {
                    self.request_keyframe(ssrc).await;
                }
            }
            false => self.metrics.keyframe_throttled(),
        }
    }

    /// What a keyframe for leg `id` is asked of: the SSRC it forwards, or is to forward, if
    /// known (`Some(None)`: the track's first); `None` for a leg that takes none (gone, or
    /// switched off: [`Forwarder::set_paused`]).
    fn leg_ssrc(&self, id: u64) -> Option<Option<u32>> {
        let fanout = self.fanout.lock().expect("fanout lock");
        let leg = fanout.legs.iter().find(|l| l.id == id)?;
        if leg.forwarder.paused() {
            return None;
        }
        // A leg leaving its layer asks for the one it waits for (the one it left, a larger
        // picture on a path that no longer carries it, is not forwarded).
        Some(match leg.forwarder.leaving() {
            true => leg.forwarder.wanted(),
            false => leg.forwarder.current().or(leg.forwarder.wanted()),
        })
    }

    /// Asks the publisher for a keyframe of `ssrc` (`None`: of its track's first SSRC),
    /// unless [`KeyframeGate`] merges it with one on its way.
    pub(crate) async fn request_keyframe(&self, ssrc: Option<u32>) {
        if self.codec.kind() != Kind::Video {
            return;
        }
        let requester = self.requester();
        let requester = match ssrc {
            Some(ssrc) => requester.for_ssrc(ssrc),
            None => requester,
        };
        let ask = self
            .fanout
            .lock()
            .expect("fanout lock")
            .keyframes
            .entry(requester.ssrc())
            .or_default()
            .ask(Instant::now());
        self.metrics.keyframe_request(ask);
        if ask {
            requester.request().await;
        }
    }
}

/// Tells the publisher of `hub`'s track, every `LIMIT_INTERVAL` while the hub lives, the rate
/// its subscribers can take (REMB) when [`LimitCadence`] says so, and sets a simulcast
/// track's legs' layers every `LAYER_INTERVAL` (a path that narrows fills its queue within a
/// frame or two: the sooner a leg leaves its layer, the less of it queues). Nothing is
/// decoded: the subscribers' own connections' estimates say it.
async fn limit_publisher(hub: std::sync::Weak<Hub>, cap: Option<f64>) {
    let mut cadence = LimitCadence::default();
    loop {
        let simulcast = hub.upgrade().is_some_and(|h| h.is_simulcast());
        tokio::time::sleep(match simulcast {
            true => LAYER_INTERVAL,
            false => LIMIT_INTERVAL,
        })
        .await;
        let Some(hub) = hub.upgrade() else { return };
        if hub.closed.load(Ordering::Relaxed) {
            return;
        }
        hub.choose_layers();
        let Some(bps) = hub.limit(cap) else { continue };
        if cadence.due(bps, Instant::now()) {
            hub.requester().limit(bps).await;
        }
    }
}

/// What a subscriber's connection carries, once measured.
fn measured(estimates: &SendEstimates) -> Option<Path> {
    let e = estimates.get();
    e.measured.then_some(Path {
        bps: e.bps,
        capacity: e.capacity,
        queue_ms: e.queue_ms,
        newest_train: e.newest_train,
        // A reading stays news for a few feedbacks.
        bottleneck: e
            .bottleneck
            .filter(|(at, _)| at.elapsed() <= BOTTLENECK_NEWS)
            .map(|(_, bps)| bps),
    })
}

/// A leg attached to a hub, by the id the hub gave it.
type Attachment = (Arc<Hub>, u64);

/// One subscriber's subscription to one stream: send-only sections on the subscriber's one
/// peer connection, fed by the stream's hubs.
pub(crate) struct Subscription {
    peer: Arc<Peer>,
    /// What its legs count.
    counts: SubscriptionCounts,
    legs: Vec<(Arc<Hub>, Arc<LocalTrack>)>,
    /// The hubs this leg is attached to; `None` once detached, so a leg that connects after
    /// its subscription ended is never attached.
    attached: Mutex<Option<Vec<Attachment>>>,
    /// The layer its legs get, and a fault's (tests) packets not forwarded (taken with
    /// `attached`, so a leg attached as the layer changes has the new one).
    wish: Mutex<LegWish>,
}

/// What a subscription asks of its legs beyond the stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct LegWish {
    /// Which layer of a simulcast track.
    pub(crate) layer: LayerWish,
    /// A fault's (tests): which packets are not forwarded.
    pub(crate) fault: Option<LegFault>,
    /// Where a simulcast leg tells each layer it switched to (at that layer's keyframe).
    pub(crate) switches: Option<mpsc::UnboundedSender<Switch>>,
}

/// Of `recent` (one SSRC's newest packets), those numbered from `from` on but `current`,
/// each once, in order: those before `current` and those after it. A leg that starts at
/// `current` (from `from`, its frame's first) dropped them while it waited: the frame's
/// first packets, and any that overtook a packet from `from` on that came again after a
/// loss (the frame's own, the next frame's).
fn dropped_while_waiting(
    recent: &VecDeque<Rtp>,
    from: u16,
    current: u16,
) -> (Vec<&Rtp>, Vec<&Rtp>) {
    let ahead = |seq: u16| seq.wrapping_sub(from);
    let mut dropped: Vec<&Rtp> = recent
        .iter()
        .filter(|p| p.seq() != current && usize::from(ahead(p.seq())) < 2 * RECENT)
        .collect();
    dropped.sort_by_key(|p| ahead(p.seq()));
    dropped.dedup_by_key(|p| p.seq());
    let split = dropped.partition_point(|p| ahead(p.seq()) < ahead(current));
    let after = dropped.split_off(split);
    (dropped, after)
}

/// A simulcast leg now forwards `layer`, whose pictures are `size` when its keyframes said.
pub(crate) type Switch = (Layer, Option<(u32, u32)>);

impl Subscription {
    /// Adds a send-only section per hub to `peer` and answers the subscriber's `offer`, whose
    /// receive-only sections `mids` (audio first; empty: its new ones) they fill: new
    /// sections, or ones of ended subscriptions the subscriber reuses. An empty `offer`
    /// names kept sections only ([`Place::Kept`]), and the answer is empty.
    pub(crate) async fn answer(
        peer: Arc<Peer>,
        stream_id: &str,
        mut hubs: Vec<Arc<Hub>>,
        (offer, mids): (&str, &[String]),
        counts: SubscriptionCounts,
        wish: LegWish,
    ) -> Result<(Subscription, String), PeerError> {
        hubs.sort_by_key(|h| h.codec.kind() != Kind::Audio);
        // The offer's sections, when it names one per hub; else the new ones it added. No
        // offer: the sections named are ones ended legs of the same codecs left, and the
        // stream goes in them with no exchange (the answer is empty).
        let named_all = mids.len() == hubs.len();
        let quiet = offer.is_empty();
        if quiet && !named_all {
            return Err(PeerError::NotKept(mids.join(",")));
        }
        let named = hubs.into_iter().enumerate().map(|(i, h)| {
            let place = match (named_all, quiet) {
                (true, true) => Place::Kept(mids[i].clone()),
                (true, false) => Place::Offered(mids[i].clone()),
                (false, _) => Place::New,
            };
            (h, stream_id.to_owned(), None, place)
        });
        let subscription = Subscription::with_sections(peer, named, counts, wish).await?;
        if quiet {
            return Ok((subscription, String::new()));
        }
        let sdp = subscription.peer.accept_offer(offer).await?;
        Ok((subscription, sdp))
    }

    /// Adds a send-only section per hub to `peer`, each with its `msid` (stream and track
    /// id), and makes the offer, for a subscriber that answers (LiveKit's).
    pub(crate) async fn offer(
        peer: Arc<Peer>,
        hubs: Vec<(Arc<Hub>, String, String)>,
        counts: SubscriptionCounts,
        wish: LegWish,
    ) -> Result<(Subscription, String), PeerError> {
        let named = hubs
            .into_iter()
            .map(|(h, s, t)| (h, s, Some(t), Place::AnyFree));
        let subscription = Subscription::with_sections(peer, named, counts, wish).await?;
        let sdp = subscription.peer.create_offer().await?;
        Ok((subscription, sdp))
    }

    async fn with_sections(
        peer: Arc<Peer>,
        hubs: impl Iterator<Item = (Arc<Hub>, String, Option<String>, Place)>,
        counts: SubscriptionCounts,
        wish: LegWish,
    ) -> Result<Subscription, PeerError> {
        let mut legs: Vec<(Arc<Hub>, Arc<LocalTrack>)> = Vec::new();
        for (hub, stream, track, place) in hubs {
            let added = peer
                .add_leg(hub.codec, &stream, track.as_deref(), rand::random(), place)
                .await;
            match added {
                Ok(track) => legs.push((hub, Arc::new(track))),
                Err(e) => {
                    // The sections already taken are free again.
                    legs.iter().for_each(|(_, t)| t.release());
                    return Err(e);
                }
            }
        }
        Ok(Subscription {
            peer,
            counts,
            legs,
            attached: Mutex::new(Some(Vec::new())),
            wish: Mutex::new(wish),
        })
    }

    /// Forwarding starts once the connection is up (at once when it is up already).
    pub(crate) fn start(self: &Arc<Self>) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            match this.peer.connected(Duration::from_secs(30)).await {
                Ok(()) => this.forward().await,
                Err(e) => tracing::info!("subscriber leg did not connect: {e}"),
            }
        });
    }

    async fn forward(&self) {
        for (hub, track) in &self.legs {
            match track.ready().await {
                Ok(pt) => tracing::debug!(codec = ?hub.codec, pt, "forwarding to a subscriber"),
                Err(e) => {
                    tracing::info!("subscriber leg not forwarded: {e}");
                    return;
                }
            }
        }
        let mut attached = self.attached.lock().expect("attached lock");
        let Some(attached) = attached.as_mut() else {
            return;
        };
        let wish = self.wish.lock().expect("wish lock").clone();
        for (hub, track) in &self.legs {
            let id = hub.attach(
                Arc::clone(track),
                self.counts.leg(hub.codec.kind()),
                self.peer.send_estimates(),
                &wish,
            );
            attached.push((Arc::clone(hub), id));
            // Keyframe requests from the subscriber reach the publisher, a flood's throttled.
            if hub.codec.kind() == Kind::Video {
                let (hub2, track2) = (Arc::clone(hub), Arc::clone(track));
                tokio::spawn(async move {
                    while track2.keyframe_request().await.is_some() {
                        hub2.subscriber_asked(id).await;
                    }
                });
            }
        }
        // A late joiner gets a keyframe as soon as its leg is up, not at the next periodic one
        // (of the layer it starts on).
        let legs = attached.clone();
        tokio::spawn(async move {
            for (hub, id) in legs {
                if let Some(ssrc) = hub.leg_ssrc(id) {
                    hub.request_keyframe(ssrc).await;
                }
            }
        });
    }

    /// The subscriber asks for another layer of a simulcast stream.
    pub(crate) fn set_layer(&self, layer: LayerWish) {
        let attached = self.attached.lock().expect("attached lock");
        self.wish.lock().expect("wish lock").layer = layer;
        for (hub, id) in attached.iter().flatten() {
            hub.set_layer(*id, layer);
        }
    }

    /// Stops forwarding to this subscription; its sections are free for the next ones.
    pub(crate) fn detach(&self) {
        let attached = self.attached.lock().expect("attached lock").take();
        for (hub, id) in attached.into_iter().flatten() {
            hub.detach(id);
        }
        for (_, track) in &self.legs {
            track.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packets(seqs: &[u16]) -> VecDeque<Rtp> {
        seqs.iter()
            .map(|&s| Rtp::new(96, s, 9000, false, bytes::Bytes::from_static(&[1])))
            .collect()
    }

    fn seqs(v: &[&Rtp]) -> Vec<u16> {
        v.iter().map(|p| p.seq()).collect()
    }

    #[test]
    fn a_leg_starting_at_a_keyframe_takes_what_it_dropped_around_it() {
        // The keyframe's first packet (18589) came again after a loss, once 18591 and a
        // copy of it had overtaken it; older packets (another frame) stay out.
        let recent = packets(&[18_580, 18_591, 18_591, 18_589]);
        let (before, after) = dropped_while_waiting(&recent, 18_589, 18_589);
        assert_eq!((seqs(&before), seqs(&after)), (vec![], vec![18_591]));
        // Its frame's first packets came before the one that shows it is a keyframe, and
        // one after it overtook that one; the numbers wrap.
        let recent = packets(&[65_534, 0, 65_535, 1]);
        let (before, after) = dropped_while_waiting(&recent, 65_534, 1);
        assert_eq!(
            (seqs(&before), seqs(&after)),
            (vec![65_534, 65_535, 0], vec![])
        );
        let (before, after) = dropped_while_waiting(&recent, 65_534, 65_535);
        assert_eq!((seqs(&before), seqs(&after)), (vec![65_534], vec![0, 1]));
    }
}
