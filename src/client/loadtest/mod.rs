//! `vcall load-test`: rooms of publishers and subscribers in one process, on one runtime
//! (every connection on a sans-IO engine and a socket of its own), joined at a given rate; every
//! subscribed stream checked frame by frame without decoding ([`check`]), and the run judged
//! by `--expect` over all of them.
//!
//! Encoding is shared: one encoder makes the pictures every publisher sends ([`media`]), and
//! each publisher puts its own mark (its id, the frame's number and capture time) in front of
//! each frame, so the generator measures the server, not openh264.

mod check;
mod ladder;
mod media;
mod pictures;
mod report;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot};

use crate::auth::{KeyPair, Role, TokenClaims, unix_now};
use crate::cli::load_test::MergeArgs;
use crate::cli::{LoadTestArgs, LoadTestCommand};
use crate::client::publish::{Ssrcs, TrackPair, add_tracks, media_connected, new_msid};
use crate::client::subscribe::{Incoming, STREAM_END_LINGER, SharedPeer};
use crate::client::{Conn, Purpose, join, peer_config};
use crate::exit::{CmdResult, Exit, Failure};
use crate::peer::{Network, Peer};
use crate::session::{SessionEvent, Stream};
use crate::signaling::livekit;
use crate::signaling::native::Via;
use crate::signaling::server_url::ServerUrl;
use crate::signaling::whip;
use crate::vocab::bitstream::LoadMark;
use crate::vocab::{Codec, Kind};

use check::{Clock, KeyframeNeed, Sequence, VideoCheck};
use ladder::Ladder;
use media::{Encoded, SharedMedia, TierFrame};
use pictures::PictureCheck;
use report::{Report, Shard, StreamReport, Summary};

/// Participants in one run (every shard's together).
const MAX_PARTICIPANTS: u64 = 1_000_000;
/// Publishers a room may have at once.
const MAX_LIVE_PUBLISHERS: u32 = 1_000;
/// After the encoders stop, how long frames still being repaired (retransmissions) may
/// take before the figures are read; freezes are taken as of the stop.
const DRAIN: Duration = Duration::from_millis(500);
/// How often a publisher's tier follows its send estimate.
const ADAPT_INTERVAL: Duration = Duration::from_secs(1);

/// One participant to join: which room, and which publisher or subscriber of it.
#[derive(Debug, Clone, Copy)]
struct Seat {
    room: u32,
    role: SeatRole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeatRole {
    Publisher(u32),
    Subscriber(u32),
}

/// The stream name of room `room`'s publisher `i`, and the id its marks carry.
fn publisher_name(run: &str, room: u32, i: u32) -> String {
    format!("{run}-r{room}-p{i}")
}

fn publisher_id(room: u32, i: u32, per_room: u32) -> u32 {
    room * per_room + i + 1
}

/// Which publisher a stream's name says it is (`None`: not one of this run's).
fn parse_publisher(run: &str, name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix(run)?.strip_prefix("-r")?;
    let (room, i) = rest.split_once("-p")?;
    Some((room.parse().ok()?, i.parse().ok()?))
}

/// What a run shares between its participants.
struct Run {
    id: String,
    target: Target,
    args: Settings,
    network: Network,
    media: SharedMedia,
    clock: Clock,
    report: Arc<Report>,
}

/// The server kind, and how a participant of a room gets in.
enum Target {
    /// `vcall serve`: a session per room made from the key pair, a token per participant.
    Native(ServerUrl, KeyPair),
    /// Janus's VideoRoom: a room per room, created when missing.
    Janus(ServerUrl, String, u64),
    /// LiveKit's protocol (LiveKit, OpenVidu 3, vcall serve's `/rtc`): a room per room, a
    /// LiveKit token per participant made from the key pair.
    LiveKit(ServerUrl, KeyPair),
    /// WHIP endpoints for the publishers and WHEP ones for the subscribers, from templates:
    /// tokens from the key pair (vcall serve) or the one `--token`.
    Whip {
        publish: String,
        play: Option<String>,
        keys: Option<KeyPair>,
        token: String,
    },
}

/// The flags a run keeps.
struct Settings {
    rooms: u32,
    publishers: u32,
    subscribers: u32,
    audio: bool,
    timeout: Duration,
    /// The share of streams decoded.
    decode: f64,
    /// How long each publisher publishes before it leaves; `None`: until the run ends.
    publish_for: Option<Duration>,
}

impl Settings {
    /// Whether subscriber `s` of `room` decodes publisher `i`'s stream.
    fn decodes(&self, room: u32, s: u32, i: u32) -> bool {
        let j = (u64::from(room) * u64::from(self.subscribers) + u64::from(s))
            * u64::from(self.publishers)
            + u64::from(i);
        pictures::sampled(j, self.decode)
    }
}

impl Run {
    /// How participant `seat` connects (over WHEP, to play `publisher`'s stream).
    fn conn(&self, seat: Seat, publisher: u32) -> Result<Conn, Failure> {
        Ok(match &self.target {
            Target::Native(url, keys) => {
                let session = keys.room_session(&format!("{}-r{}", self.id, seat.room));
                let token = session_token(keys, &session, seat.role);
                let mut conn = Conn::new(url.clone(), &session, token);
                conn.timeout = Some(self.args.timeout);
                conn
            }
            Target::LiveKit(url, keys) => {
                let room = format!("{}-r{}", self.id, seat.room);
                let (identity, publishes) = match seat.role {
                    SeatRole::Publisher(i) => (publisher_name(&self.id, seat.room, i), true),
                    SeatRole::Subscriber(i) => (format!("{room}-s{i}"), false),
                };
                // A token it just made cannot fail to encode; an empty one would be refused.
                let token = livekit::access_token(
                    &keys.key,
                    &keys.secret,
                    &livekit::Grant {
                        room: &room,
                        identity: &identity,
                        name: None,
                        metadata: None,
                        can_publish: publishes,
                        can_subscribe: !publishes,
                        ttl: Duration::from_secs(86_400),
                    },
                )
                .unwrap_or_default();
                let mut conn = Conn::new(url.clone(), "", token);
                conn.timeout = Some(self.args.timeout);
                conn
            }
            Target::Janus(url, token, base) => {
                let room = (base + u64::from(seat.room)).to_string();
                let mut conn = Conn::new(url.clone(), &room, token.clone());
                conn.create_room = true;
                conn.timeout = Some(self.args.timeout);
                conn.display = Some(match seat.role {
                    SeatRole::Publisher(i) => publisher_name(&self.id, seat.room, i),
                    SeatRole::Subscriber(i) => format!("{}-r{}-s{i}", self.id, seat.room),
                });
                conn
            }
            Target::Whip {
                publish,
                play,
                keys,
                token,
            } => {
                let name = format!("{}-r{}", self.id, seat.room);
                let room = keys
                    .as_ref()
                    .map_or(name.clone(), |k| k.room_session(&name));
                let template = match (seat.role, play) {
                    (SeatRole::Publisher(_), _) => publish,
                    (SeatRole::Subscriber(_), Some(play)) => play,
                    (SeatRole::Subscriber(_), None) => {
                        return Err(Failure::new(Exit::Usage, "no --whep-url to play from"));
                    }
                };
                let url = expand(
                    template,
                    &room,
                    &publisher_name(&self.id, seat.room, publisher),
                )?;
                let token = match keys {
                    Some(keys) => session_token(keys, &room, seat.role),
                    None => token.clone(),
                };
                let mut conn = Conn::new(url, &room, token);
                conn.timeout = Some(self.args.timeout);
                conn
            }
        })
    }

    /// Each connection has a socket of its own on an engine of its own: a client's
    /// connections all reach the same server address, which one shared socket could not
    /// tell apart.
    fn peer_config(&self, conn: &Conn) -> crate::peer::PeerConfig {
        peer_config(conn, self.network.clone())
    }
}

/// A vcall serve token for a participant of `session`, made from the key pair.
fn session_token(keys: &KeyPair, session: &str, seat: SeatRole) -> String {
    let now = unix_now();
    keys.create_token(&TokenClaims {
        iss: keys.key.clone(),
        sid: session.to_owned(),
        role: match seat {
            SeatRole::Publisher(_) => Role::Publisher,
            SeatRole::Subscriber(_) => Role::Subscriber,
        },
        data: String::new(),
        iat: now,
        exp: now + 86_400,
    })
}

/// A WHIP/WHEP URL template with its `{room}` and `{publisher}` filled in (the URL parser
/// may have percent-encoded the braces).
fn expand(template: &str, room: &str, publisher: &str) -> Result<ServerUrl, Failure> {
    let text = template
        .replace("{room}", room)
        .replace("%7Broom%7D", room)
        .replace("{publisher}", publisher)
        .replace("%7Bpublisher%7D", publisher);
    ServerUrl::parse(&text).map_err(|e| Failure::new(Exit::Usage, e.to_string()))
}

/// Whether a URL template names `{what}`.
fn names(template: &str, what: &str) -> bool {
    template.contains(&format!("{{{what}}}")) || template.contains(&format!("%7B{what}%7D"))
}

/// The WHIP/WHEP target from `--url` and `--whep-url`, or why they do not make one.
fn whip_target(args: &LoadTestArgs, keys: Option<KeyPair>) -> Result<Target, Failure> {
    let usage = |m: String| Err(Failure::new(Exit::Usage, m));
    let publish = args.url.to_string();
    let play = match (&args.whep_url, args.subscribers) {
        (Some(u @ ServerUrl::Whip(whip::Role::Whep, _)), _) => Some(u.to_string()),
        (Some(other), _) => {
            return usage(format!(
                "--whep-url {other}: expected a WHEP endpoint, whep+http(s)://…"
            ));
        }
        (None, 0) => None,
        (None, _) => {
            return usage(
                "the subscribers of a WHIP run play from a WHEP endpoint: give --whep-url (e.g. whep+http://HOST:7880/whep/{room}/{publisher}), or --subscribers 0".into(),
            );
        }
    };
    // Rooms, and publishers of a room, need endpoints of their own: a WHIP or WHEP
    // resource carries one stream (a publisher's name holds its room's).
    let every = |what: &str| names(&publish, what) && play.as_ref().is_none_or(|p| names(p, what));
    let both = if play.is_some() {
        " and --whep-url"
    } else {
        ""
    };
    for (count, what, told_by) in [
        (args.rooms, "rooms", every("room") || every("publisher")),
        (args.publishers, "publishers a room", every("publisher")),
    ] {
        if count > 1 && !told_by {
            let placeholder = if what == "rooms" {
                "{room}"
            } else {
                "{publisher}"
            };
            return usage(format!(
                "{count} {what}: each needs an endpoint of its own; put {placeholder} in --url{both}"
            ));
        }
    }
    Ok(Target::Whip {
        publish,
        play,
        keys,
        token: args.token.clone(),
    })
}

/// `vcall load-test` (and `load-test merge`).
pub async fn load_test(
    args: LoadTestArgs,
    quiet: bool,
    stop: impl std::future::Future<Output = ()>,
) -> CmdResult {
    if let Some(LoadTestCommand::Merge(m)) = &args.merge {
        return merge(m, quiet);
    }
    let shard = args
        .shard
        .map_or(Shard::default(), |(index, count)| Shard { index, count });
    let run_id = match (&args.run_id, shard.count) {
        (Some(id), _) => id.clone(),
        // Every shard is given the same flags: its name comes from them.
        (None, 1..) => format!(
            "lt{:06x}",
            fnv1a(&format!(
                "{} {} {} {} {:?}",
                args.url, args.rooms, args.publishers, args.subscribers, args.start_at
            )) & 0xff_ffff
        ),
        (None, 0) => format!("lt{:06x}", rand::random::<u32>() & 0xff_ffff),
    };
    let keys = || match (&args.keys.api_key, &args.keys.api_secret) {
        (Some(key), Some(secret)) => Ok(KeyPair {
            key: key.clone(),
            secret: secret.clone(),
        }),
        _ => Err(Failure::new(
            Exit::Usage,
            "a load test of vcall serve or a LiveKit server makes its tokens: give --api-key and --api-secret (or VCALL_API_KEY and VCALL_API_SECRET)",
        )),
    };
    if args.whep_url.is_some() && !matches!(args.url, ServerUrl::Whip(whip::Role::Whip, _)) {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "--whep-url goes with a WHIP --url (whip+http(s)://…), not {}",
                args.url
            ),
        ));
    }
    let target = match &args.url {
        ServerUrl::Native(_) => Target::Native(args.url.clone(), keys()?),
        ServerUrl::Whip(whip::Role::Whip, _) => {
            // A half-given key pair is a mistake, not "no key pair".
            let given = args.keys.api_key.is_some() || args.keys.api_secret.is_some();
            whip_target(&args, given.then(keys).transpose()?)?
        }
        ServerUrl::Whip(whip::Role::Whep, _) => {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "{}: --url is where the publishers go, a WHIP endpoint (whip+http(s)://…); the WHEP one goes in --whep-url",
                    args.url
                ),
            ));
        }
        ServerUrl::LiveKit(_) => Target::LiveKit(args.url.clone(), keys()?),
        ServerUrl::Janus(_) => Target::Janus(
            args.url.clone(),
            args.token.clone(),
            // Rooms of the run's own, the same in every shard.
            (fnv1a(&run_id) % 100_000) * 10_000 + 10_000_000,
        ),
    };
    let network = Network::new(args.impair.impair.as_ref());
    let clock = Clock::now();
    let media = SharedMedia::start(
        args.width,
        args.height,
        args.fps,
        &tiers(args.video_bitrate, args.rate_tiers),
        args.audio == "tone",
        clock,
    )?;
    if args.publishers > MAX_LIVE_PUBLISHERS && args.publish_for.is_none() {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "{} publishers a room: at most {MAX_LIVE_PUBLISHERS} publish at once (more can come and go, with --publish-for)",
                args.publishers
            ),
        ));
    }
    if let Some(publish_for) = args.publish_for {
        let at_once = args.join_rate * publish_for.as_secs_f64();
        if at_once > f64::from(MAX_LIVE_PUBLISHERS) {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "--join-rate {}/s × --publish-for {publish_for:?}: {at_once:.0} publishers at once; at most {MAX_LIVE_PUBLISHERS}",
                    args.join_rate
                ),
            ));
        }
        if matches!(args.url, ServerUrl::Whip(..)) {
            return Err(Failure::new(
                Exit::Usage,
                "--publish-for is not for WHIP/WHEP runs: a WHEP subscriber plays each publisher over a connection of its own, which publishers that come and go would pile up",
            ));
        }
    }
    let total = u64::from(args.rooms) * u64::from(args.publishers + args.subscribers);
    if total > MAX_PARTICIPANTS {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "{total} participants: a run has at most {MAX_PARTICIPANTS} (split it into runs)"
            ),
        ));
    }
    let seats = seats(
        args.rooms,
        args.publishers,
        args.subscribers,
        args.publish_for.is_some(),
    );
    let mine: Vec<(usize, Seat)> = seats
        .into_iter()
        .enumerate()
        .filter(|(k, _)| shard.count == 0 || *k as u32 % shard.count == shard.index)
        .collect();
    let subscribers = mine
        .iter()
        .filter(|(_, s)| matches!(s.role, SeatRole::Subscriber(_)))
        .count() as u64;
    let report = Arc::new(Report::new(
        mine.len() as u64,
        subscribers * u64::from(args.publishers),
        shard,
    ));
    let run = Arc::new(Run {
        id: run_id,
        target,
        args: Settings {
            rooms: args.rooms,
            publishers: args.publishers,
            subscribers: args.subscribers,
            audio: args.audio == "tone",
            timeout: args.timeout,
            decode: args.decode,
            publish_for: args.publish_for,
        },
        network,
        media,
        clock,
        report: Arc::clone(&report),
    });
    if !quiet {
        let part = match shard.count {
            0 => String::new(),
            _ => format!(" (shard {shard}: {} of its participants)", mine.len()),
        };
        eprintln!(
            "vcall: load test {}: {} rooms × ({} publishers + {} subscribers) at {}/s, then {:?}{part}",
            run.id,
            run.args.rooms,
            run.args.publishers,
            run.args.subscribers,
            args.join_rate,
            args.duration
        );
    }
    let start = match args.start_at {
        Some(at) => {
            let wait = at - clock.unix_us as f64 / 1e6;
            if wait < 0.0 {
                tracing::warn!("--start-at is {:.1} s past: starting now", -wait);
            }
            tokio::time::Instant::now() + Duration::from_secs_f64(wait.max(0.0))
        }
        None => tokio::time::Instant::now(),
    };
    if args.report.is_some() {
        crate::jsonl::keep_for_report();
    }
    let watch = report::Watch::start();
    let joins = tokio::spawn(join_all(Arc::clone(&run), mine, args.join_rate, start));
    let stats = tokio::spawn(report::intervals(
        Arc::clone(&report),
        args.stats_interval,
        args.json,
        quiet,
    ));
    // Shards end together: at the whole run's last join plus the hold, on the wall clock
    // they share; a run in one process holds once its own joins have settled.
    let all_joined = start + Duration::from_secs_f64(total as f64 / args.join_rate);
    let shared_end = (shard.count > 0).then_some(all_joined + args.duration);
    tokio::pin!(stop);
    let joins_abort = joins.abort_handle();
    let interrupted = tokio::select! {
        _ = async {
            let _ = joins.await;
            match shared_end {
                Some(end) => tokio::time::sleep_until(end).await,
                None => tokio::time::sleep(args.duration).await,
            }
        } => false,
        () = &mut stop => true,
    };
    joins_abort.abort();
    stats.abort();
    let mut generator = watch.finish(args.generator_cpu_limit, args.generator_lag_limit);
    generator.pacing_p99 = run.media.pacing_p99();
    run.media.stop();
    let stopped = Instant::now();
    if !interrupted {
        tokio::time::sleep(DRAIN).await;
    }
    let summary = report.summary(stopped, generator);
    summary.print(args.json, args.per_stream || shard.count > 0, quiet);
    let verdict = summary.verdict(args.expect.as_ref().map(|e| e.0.as_slice()));
    if let Some(path) = &args.report {
        let failure = verdict.as_ref().err().map(ToString::to_string);
        let said = serde_json::json!({ "event": "loadVerdict", "failure": failure });
        crate::report::write_kept(path, "vcall load-test: report", Some(said))?;
    }
    if interrupted {
        return Ok(Exit::Interrupted);
    }
    verdict
}

/// `load-test merge`: the shards' outputs judged as one run.
fn merge(args: &MergeArgs, quiet: bool) -> CmdResult {
    let mut outputs = Vec::new();
    for path in &args.files {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::new(Exit::Usage, format!("cannot read {}: {e}", path.display()))
        })?;
        outputs.push((path.display().to_string(), text));
    }
    let summary = Summary::merge(&outputs)?;
    summary.print(args.json, false, quiet);
    summary.verdict(args.expect.as_ref().map(|e| e.0.as_slice()))
}

/// The lowest rate a tier is made at, bit/s.
const MIN_TIER_BPS: u32 = 30_000;

/// The rate tiers' video bitrates: `top`, then halves, `count` at most, none under
/// [`MIN_TIER_BPS`] (but the top).
fn tiers(top: u32, count: u32) -> Vec<u32> {
    let mut out = vec![top];
    out.extend(
        (1..count)
            .map(|k| top >> k)
            .take_while(|b| *b >= MIN_TIER_BPS),
    );
    out
}

/// FNV-1a: a hash every process computes alike (std's is seeded per process).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Every participant: each room's publishers first, then its subscribers, room by room.
fn seats(rooms: u32, publishers: u32, subscribers: u32, subscribers_first: bool) -> Vec<Seat> {
    let of = |role: fn(u32) -> SeatRole, n: u32| {
        (0..rooms).flat_map(move |room| {
            (0..n).map(move |i| Seat {
                room,
                role: role(i),
            })
        })
    };
    let publishers = of(SeatRole::Publisher, publishers);
    let subscribers = of(SeatRole::Subscriber, subscribers);
    match subscribers_first {
        false => publishers.chain(subscribers).collect(),
        true => subscribers.chain(publishers).collect(),
    }
}

/// Starts each participant `k` (its place in the whole run) at `start` + `k / rate`, so
/// shards interleave at the run's rate; returns once every one of this shard's has joined
/// or failed (so the run's `--duration` is held by all of them, however long joins took).
async fn join_all(
    run: Arc<Run>,
    seats: Vec<(usize, Seat)>,
    rate: f64,
    start: tokio::time::Instant,
) {
    let mut settled = Vec::new();
    for (k, seat) in seats {
        tokio::time::sleep_until(start + Duration::from_secs_f64(k as f64 / rate)).await;
        let run = Arc::clone(&run);
        let (tx, rx) = oneshot::channel();
        settled.push(rx);
        tokio::spawn(async move {
            // Dropped when the participant ends, whether it joined or not.
            let mut joined = Some(tx);
            let result = match (seat.role, &run.target) {
                (SeatRole::Publisher(i), _) => publisher(&run, seat, i, &mut joined).await,
                (SeatRole::Subscriber(s), Target::Whip { .. }) => {
                    whep_subscriber(&run, seat, s, &mut joined).await
                }
                (SeatRole::Subscriber(s), _) => subscriber(&run, seat, s, &mut joined).await,
            };
            if let Err(e) = result {
                run.report.failed(seat.room, &e.to_string());
            }
        });
    }
    for rx in settled {
        let _ = rx.await;
    }
}

/// Tells the run a participant has joined (once).
fn settle(joined: &mut Option<oneshot::Sender<()>>) {
    if let Some(tx) = joined.take() {
        let _ = tx.send(());
    }
}

/// One publisher: joins, publishes its room's stream `i`, and sends the shared encoder's
/// frames with its own marks until the run ends.
async fn publisher(
    run: &Run,
    seat: Seat,
    i: u32,
    joined_tx: &mut Option<oneshot::Sender<()>>,
) -> Result<(), Failure> {
    let conn = run.conn(seat, i)?;
    let joined = join(&conn, run.network.clone(), Purpose::Publish).await?;
    let (peer, _incoming) = Peer::new(&run.peer_config(&conn)).await?;
    let msid = new_msid();
    let (v, a): TrackPair = add_tracks(
        &peer,
        (&[Codec::H264], run.args.audio),
        &msid,
        false,
        Ssrcs::random(),
    )
    .await?;
    let name = publisher_name(&run.id, seat.room, i);
    let stream_id = joined
        .client
        .publish(&peer, &name, (run.args.audio, true), &msid, None)
        .await
        .map_err(Failure::from)?;
    media_connected(&peer).await?;
    run.report.joined();
    settle(joined_tx);
    let id = publisher_id(seat.room, i, run.args.publishers);
    let (Some(v), a) = (v, a) else {
        return Err(Failure::new(Exit::Failure, "no video track was made"));
    };
    // Keyframe requests reach the encoder of the tier being sent (which merges them).
    let tiers = run.media.tiers();
    let sending = Arc::new(AtomicUsize::new(0));
    tiers[0].used(false);
    let (vk, t, s) = (Arc::clone(&v), Arc::clone(&tiers), Arc::clone(&sending));
    tokio::spawn(async move {
        while vk.keyframe_request().await.is_some() {
            t[s.load(Ordering::Relaxed)].request_keyframe();
        }
    });
    let mut ladder = Ladder::new(tiers.len(), Instant::now());
    // Media bytes sent since the last adaptation.
    let mut sent: usize = 0;
    // The tier it moves to once that tier's keyframe comes.
    let mut target: Option<usize> = None;
    let mut adapt = tokio::time::interval(ADAPT_INTERVAL);
    adapt.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut counted_since = Instant::now();
    let mut frames = run.media.subscribe();
    let offset: u32 = rand::random();
    // Counts the frames it sent: a receiver's count of lost ones stays true across tiers.
    let mut number: u32 = 0;
    let leave = run
        .args
        .publish_for
        .map(|d| tokio::time::Instant::now() + d);
    loop {
        let unit = tokio::select! {
            unit = frames.recv() => unit,
            () = sleep_until_some(leave) => break,
            _ = adapt.tick() => {
                let estimate = peer.send_estimate();
                let now = Instant::now();
                // Over the time it took (a late tick is not a faster sender).
                let took = now.duration_since(counted_since).as_secs_f64().max(0.1);
                counted_since = now;
                let sent_bps = std::mem::take(&mut sent) as f64 * 8.0 / took;
                let want = ladder.step(estimate.bps, estimate.measured, sent_bps, now);
                let current = sending.load(Ordering::Relaxed);
                if target == Some(want) {
                    // Its keyframe may have been missed: asked again (requests are merged).
                    tiers[want].request_keyframe();
                } else {
                    if let Some(t) = target.take() {
                        tiers[t].unused();
                    }
                    if want != current {
                        tiers[want].used(true);
                        target = Some(want);
                    }
                }
                continue;
            }
        };
        match unit {
            Ok(Encoded::Video { frame, tiers: made }) => {
                let current = sending.load(Ordering::Relaxed);
                let tier = pick(current, target, &made);
                if tier != current {
                    tiers[current].unused();
                    sending.store(tier, Ordering::Relaxed);
                    target = None;
                    run.report.stepped(tier > current);
                }
                let Some(TierFrame { au, .. }) = &made[tier] else {
                    continue;
                };
                let mark = LoadMark {
                    publisher: id,
                    frame: number,
                    captured_us: frame.captured_us,
                };
                number = number.wrapping_add(1);
                let ts = offset.wrapping_add(frame.rtp_ts);
                sent += au.len();
                if v.send_frame(mark.prefix(au).into(), ts).await.is_err() {
                    break;
                }
            }
            Ok(Encoded::Audio { packet, rtp_ts }) => {
                if let Some(a) = &a {
                    sent += packet.len();
                    let _ = a.send_frame(packet, offset.wrapping_add(rtp_ts)).await;
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => run.report.generator_dropped(n),
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
    for t in target.into_iter().chain([sending.load(Ordering::Relaxed)]) {
        tiers[t].unused();
    }
    if leave.is_some() {
        // Leaves on its own: its stream ends at once (not after a dropped publisher's grace).
        if let Err(e) = joined.client.unpublish(&stream_id).await {
            tracing::debug!("unpublish: {e}");
        }
        joined.client.disconnect().await;
        peer.close().await;
    }
    // Else it leaves with the run: the process ends; the server sees the connections close.
    Ok(())
}

/// Sleeps until `at`; forever without one.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The tier whose frame of a picture a publisher sends — exactly one a picture: its target
/// tier's once that one is a keyframe (the switch), else its current tier's.
fn pick(current: usize, target: Option<usize>, made: &[Option<TierFrame>]) -> usize {
    target
        .filter(|t| {
            made.get(*t)
                .is_some_and(|f| f.as_ref().is_some_and(|f| f.keyframe))
        })
        .unwrap_or(current)
}

/// One subscriber: joins, subscribes to each of its room's publishers as it appears, and
/// checks every packet of every stream it gets.
async fn subscriber(
    run: &Run,
    seat: Seat,
    s: u32,
    joined_tx: &mut Option<oneshot::Sender<()>>,
) -> Result<(), Failure> {
    let conn = run.conn(seat, 0)?;
    let mut joined = join(&conn, run.network.clone(), Purpose::Subscribe).await?;
    let shared = Arc::new(SharedPeer::new(&run.peer_config(&conn)).await?);
    run.report.joined();
    settle(joined_tx);
    let mut wanted: Vec<Stream> = joined.streams().to_vec();
    let mut taken = std::collections::HashSet::new();
    // The report of each stream being received, by stream: told when its stream ends.
    let mut live = std::collections::HashMap::new();
    // One report per publisher: over LiveKit's protocol its audio and video are two streams.
    let mut slots = std::collections::HashMap::new();
    let mut pending = 0usize;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
    loop {
        for stream in std::mem::take(&mut wanted) {
            let Some((room, i)) = parse_publisher(&run.id, &stream.name) else {
                continue;
            };
            if room != seat.room || !taken.insert(stream.id.clone()) {
                continue;
            }
            let kinds = (run.args.audio && stream.has_audio, stream.has_video);
            if kinds == (false, false) {
                continue;
            }
            let expected = publisher_id(room, i, run.args.publishers);
            let (feed, incoming) = mpsc::unbounded_channel();
            let asked = Instant::now();
            let subscribed = shared
                .subscribe(&joined.client, &stream.id, kinds, &feed, Via::Server(None))
                .await;
            if let Err(e) = subscribed {
                // The others go on: this stream is one the server did not give.
                run.report
                    .failed(seat.room, &format!("subscribing to {}: {e}", stream.name));
                continue;
            }
            pending += 1;
            let slot = slots
                .entry((room, i))
                .or_insert_with(|| run.report.stream(StreamReport::new(seat, &stream.name)))
                .clone();
            live.insert(stream.id.clone(), Arc::clone(&slot));
            let done = done_tx.clone();
            let check = Check {
                expected,
                clock: run.clock,
                asked,
                decode: run.args.decodes(room, s, i),
            };
            tokio::spawn(async move {
                check_stream(incoming, feed, slot, check).await;
                let _ = done.send(());
            });
        }
        tokio::select! {
            ev = joined.events.recv() => match ev {
                Some(SessionEvent::StreamCreated { stream }) => wanted.push(stream),
                // Its check ends, and its sections carry the next streams, once its last
                // packets are in.
                Some(SessionEvent::StreamDestroyed { stream, .. }) if taken.remove(&stream.id) => {
                    if let Some(slot) = live.remove(&stream.id) {
                        slot.lock().expect("stream lock").ended = Some(Instant::now());
                    }
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        tokio::time::sleep(STREAM_END_LINGER).await;
                        shared.ended(&stream.id);
                    });
                }
                Some(SessionEvent::SessionDisconnected { .. }) | None => break,
                Some(_) => {}
            },
            Some(()) = done_rx.recv(), if pending > 0 => pending -= 1,
        }
    }
    drop(shared);
    Ok(())
}

/// One subscriber of a WHIP run: plays each publisher of its room from the WHEP endpoint, a
/// connection each (a WHEP resource plays one stream). It has joined once each has been
/// asked for (and has given a stream, or failed).
async fn whep_subscriber(
    run: &Arc<Run>,
    seat: Seat,
    s: u32,
    joined_tx: &mut Option<oneshot::Sender<()>>,
) -> Result<(), Failure> {
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<bool>();
    let mut plays = Vec::new();
    for i in 0..run.args.publishers {
        let (run, ready) = (Arc::clone(run), ready_tx.clone());
        plays.push(tokio::spawn(async move {
            if let Err(e) = whep_play(&run, seat, s, i, &ready).await {
                let _ = ready.send(false);
                run.report.failed(
                    seat.room,
                    &format!("playing {}: {e}", publisher_name(&run.id, seat.room, i)),
                );
            }
        }));
    }
    drop(ready_tx);
    // Each playback says once whether it got its stream (and then keeps its sender).
    let mut any = false;
    for _ in 0..run.args.publishers {
        match ready_rx.recv().await {
            Some(ok) => any |= ok,
            None => break,
        }
    }
    if any {
        run.report.joined();
    }
    settle(joined_tx);
    for p in plays {
        let _ = p.await;
    }
    Ok(())
}

/// How long a WHEP endpoint that does not know a stream yet is asked again after.
const WHEP_RETRY: Duration = Duration::from_millis(250);

/// One WHEP playback of publisher `i`'s stream, checked until it ends. A stream the
/// endpoint does not have yet (its publisher is still joining) is asked for again until
/// the timeout.
async fn whep_play(
    run: &Run,
    seat: Seat,
    s: u32,
    i: u32,
    ready: &mpsc::UnboundedSender<bool>,
) -> Result<(), Failure> {
    let conn = run.conn(seat, i)?;
    let give_up = Instant::now() + run.args.timeout;
    let (feed, incoming) = mpsc::unbounded_channel();
    let mut asked;
    let (_joined, _shared) = loop {
        // From the attempt that found the stream: the retries waited for its publisher.
        asked = Instant::now();
        let joined = join(&conn, run.network.clone(), Purpose::Subscribe).await?;
        let shared = SharedPeer::new(&run.peer_config(&conn)).await?;
        let Some(stream) = joined.streams().first().cloned() else {
            return Err(Failure::new(
                Exit::Failure,
                "the WHEP endpoint has no stream",
            ));
        };
        let kinds = (run.args.audio, true);
        match shared
            .subscribe(&joined.client, &stream.id, kinds, &feed, Via::Server(None))
            .await
        {
            Ok(()) => break (joined, shared),
            Err(e) if e.code == Exit::NotFound && Instant::now() + WHEP_RETRY < give_up => {
                tracing::debug!("not there yet: {e}");
                tokio::time::sleep(WHEP_RETRY).await;
            }
            Err(e) => return Err(e),
        }
    };
    let name = publisher_name(&run.id, seat.room, i);
    let slot = run.report.stream(StreamReport::new(seat, &name));
    let _ = ready.send(true);
    let check = Check {
        expected: publisher_id(seat.room, i, run.args.publishers),
        clock: run.clock,
        asked,
        decode: run.args.decodes(seat.room, s, i),
    };
    check_stream(incoming, feed, slot, check).await;
    Ok(())
}

/// What a subscribed stream is checked against.
#[derive(Debug, Clone, Copy)]
struct Check {
    /// The publisher whose marks it must carry.
    expected: u32,
    clock: Clock,
    /// When the subscription was asked for.
    asked: Instant,
    /// Whether its pictures are decoded too.
    decode: bool,
}

/// Checks every track of one subscribed stream as it arrives.
async fn check_stream(
    mut incoming: mpsc::UnboundedReceiver<Incoming>,
    feed: mpsc::UnboundedSender<Incoming>,
    slot: Arc<Mutex<StreamReport>>,
    check: Check,
) {
    // The sender is kept only by the subscription's routes from here on.
    drop(feed);
    let mut tasks = Vec::new();
    while let Some(mut track) = incoming.recv().await {
        let slot = Arc::clone(&slot);
        tasks.push(tokio::spawn(async move {
            match track.codec.kind() {
                Kind::Video => {
                    slot.lock()
                        .expect("stream lock")
                        .video
                        .get_or_insert_with(|| {
                            VideoCheck::new(check.expected, check.clock, check.asked)
                        });
                    // The marks ride in H.264's SEI: other codecs' pictures are not checked.
                    let h264 = track.codec == Codec::H264;
                    let mut pictures = (check.decode && h264).then(PictureCheck::new).flatten();
                    if check.decode {
                        let mut s = slot.lock().expect("stream lock");
                        match &pictures {
                            // Sampled: counted among the decoded streams from the start.
                            Some(c) => s.pictures = Some(c.tally.clone()),
                            None if h264 => tracing::warn!(
                                "{}: no H.264 decoder: its pictures are not checked",
                                s.name
                            ),
                            None => tracing::warn!(
                                "{}: its video is {}, not H.264: its pictures are not checked",
                                s.name,
                                track.codec.name()
                            ),
                        }
                    }
                    let mut need = KeyframeNeed::default();
                    while let Some(p) = track.recv().await {
                        let now = Instant::now();
                        // Decoded outside the lock the figures are read under.
                        let (decoded, undecodable) = pictures
                            .as_mut()
                            .map_or((false, false), |c| c.packet(p.clone(), now));
                        let lost = {
                            let mut s = slot.lock().expect("stream lock");
                            if decoded {
                                s.pictures = pictures.as_ref().map(|c| c.tally.clone());
                            }
                            s.video.as_mut().map_or(0, |c| {
                                c.packet(p.seq(), p.timestamp(), p.marker(), p.payload(), now);
                                c.figures.frames_lost
                            })
                        };
                        // As a client whose decoder cannot go on asks for a keyframe.
                        if need.lost(lost, now) || undecodable {
                            track.keyframes.request().await;
                        }
                    }
                }
                Kind::Audio => {
                    while let Some(p) = track.recv().await {
                        let mut s = slot.lock().expect("stream lock");
                        s.audio.get_or_insert_with(Sequence::default).push(p.seq());
                    }
                }
            }
        }));
    }
    // The stream has ended (its subscription gave its sections back): what its tracks would
    // still bring is the next stream's.
    for t in tasks {
        t.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_say_whose_they_are() {
        let name = publisher_name("lt00ab12", 3, 7);
        assert_eq!(parse_publisher("lt00ab12", &name), Some((3, 7)));
        assert_eq!(parse_publisher("lt00ab13", &name), None);
        assert_eq!(parse_publisher("lt00ab12", "lt00ab12-r3-s1"), None);
        assert_ne!(publisher_id(0, 1, 2), publisher_id(1, 0, 2));
    }

    #[test]
    fn a_publisher_sends_one_frame_a_picture_and_switches_at_a_keyframe() {
        let f = |keyframe| {
            Some(TierFrame {
                au: bytes::Bytes::new(),
                keyframe,
            })
        };
        // Moving down: the lower tier's delta frame is not a place to switch.
        assert_eq!(pick(0, Some(1), &[f(false), f(false)]), 0);
        assert_eq!(pick(0, Some(1), &[f(false), f(true)]), 1);
        // Moving up, and no move at all.
        assert_eq!(pick(1, Some(0), &[f(true), f(false)]), 0);
        assert_eq!(pick(1, None, &[f(true), f(false)]), 1);
        // A tier that skipped the picture: nothing of it is sent.
        assert_eq!(pick(1, Some(0), &[f(false), None]), 1);
    }

    #[test]
    fn publishers_join_before_subscribers_unless_they_come_and_go() {
        let publisher = |s: &Seat| matches!(s.role, SeatRole::Publisher(_));
        let s = seats(2, 1, 2, false);
        assert_eq!(s.len(), 6);
        assert!(s[..2].iter().all(publisher));
        assert!(!s[2..].iter().any(publisher));
        // Publishers that leave are seen only by subscribers already there.
        let s = seats(2, 1, 2, true);
        assert_eq!(s.len(), 6);
        assert!(!s[..4].iter().any(publisher));
        assert!(s[4..].iter().all(publisher));
        assert_eq!((s[0].room, s[2].room, s[4].room, s[5].room), (0, 1, 0, 1));
    }
}
