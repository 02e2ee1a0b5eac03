//! The one peer connection a subscriber receives every stream on: which recording takes
//! each section's packets, as an [`Incoming`] per stream, however the far end reuses its
//! sections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use std::collections::VecDeque;

use tokio::sync::{mpsc, oneshot};

use crate::exit::Failure;
use crate::peer::{KeyframeRequester, Peer, PeerConfig, RemoteTrack};
use crate::session::StreamId;
use crate::signaling::Client;
use crate::signaling::native::Via;
use crate::vocab::{Codec, Kind, Rtp};

/// One stream of packets as a recording takes it: one SSRC in one section. It reads the
/// section's track itself (no task between them), lent by the section's router
/// ([`section`]) until another SSRC comes or the recording lets go, when the track goes back.
pub(crate) struct Incoming {
    pub(crate) codec: Codec,
    pub(super) ssrc: u32,
    /// Packets that came before the recording took the stream, oldest first.
    held: VecDeque<Rtp>,
    /// `None` once the stream has ended here (its track given back).
    track: Option<RemoteTrack>,
    /// Where the track goes back to, with the first packet of another SSRC if one came
    /// (`None`: the track is the recording's alone).
    back: Option<oneshot::Sender<Returned>>,
    pub(crate) keyframes: KeyframeRequester,
}

/// A section's track given back to its router, with the packet that ended the stream.
struct Returned {
    track: RemoteTrack,
    next: Option<Rtp>,
}

impl Incoming {
    fn new(track: RemoteTrack, ssrc: u32, codec: Codec, held: VecDeque<Rtp>) -> Incoming {
        Incoming {
            codec,
            ssrc,
            held,
            keyframes: track.keyframe_requester(ssrc),
            track: Some(track),
            back: None,
        }
    }

    /// The stream's next packet; `None` once it has ended: its track ended, or another SSRC
    /// came in its section (that packet goes back to the router with the track).
    /// Cancel-safe, as the channels under it are.
    pub(crate) async fn recv(&mut self) -> Option<Rtp> {
        if let Some(p) = self.held.pop_front() {
            return Some(p);
        }
        let p = self.track.as_ref()?.recv().await?;
        if p.ssrc() == self.ssrc {
            return Some(p);
        }
        self.give_back(Some(p));
        None
    }

    fn give_back(&mut self, next: Option<Rtp>) {
        if let (Some(track), Some(back)) = (self.track.take(), self.back.take()) {
            let _ = back.send(Returned { track, next });
        }
    }

    /// Every track of a connection whole, as it comes (for a connection of one recording).
    pub(crate) fn all(
        mut tracks: mpsc::UnboundedReceiver<RemoteTrack>,
    ) -> mpsc::UnboundedReceiver<Incoming> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(track) = tracks.recv().await {
                let (ssrc, codec) = (track.ssrc, track.codec);
                if tx
                    .send(Incoming::new(track, ssrc, codec, VecDeque::new()))
                    .is_err()
                {
                    break;
                }
            }
        });
        rx
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        self.give_back(None);
    }
}

/// Packets a section keeps while no recording has claimed it yet.
const UNCLAIMED_QUEUE: usize = 512;

/// A connection shared by several recordings: which recording takes each section's packets.
type Routes = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Incoming>>>>;

/// A peer connection that receives for several recordings: each section's packets go to the
/// recording that subscribed to it, as an [`Incoming`] per stream. A section the far end
/// reuses for another stream (Janus does, after a feed leaves) goes to that stream's
/// recording. Every stream a subscriber records comes over one connection.
pub(crate) struct SharedPeer {
    peer: Arc<Peer>,
    routes: Routes,
    /// Each stream's sections (kind, `mid`), given back when it ends for the next stream's.
    sections: Mutex<HashMap<StreamId, Vec<(Kind, String)>>>,
}

impl SharedPeer {
    pub(crate) async fn new(config: &PeerConfig) -> Result<SharedPeer, Failure> {
        let (peer, tracks) = Peer::new(config).await?;
        Ok(SharedPeer::over(Arc::new(peer), tracks))
    }

    /// Routes the tracks of an existing peer connection.
    pub(crate) fn over(
        peer: Arc<Peer>,
        mut tracks: mpsc::UnboundedReceiver<RemoteTrack>,
    ) -> SharedPeer {
        let routes: Routes = Arc::default();
        let r = Arc::clone(&routes);
        tokio::spawn(async move {
            while let Some(track) = tracks.recv().await {
                tokio::spawn(section(track, Arc::clone(&r)));
            }
        });
        SharedPeer {
            peer,
            routes,
            sections: Mutex::default(),
        }
    }

    /// The streams that arrive in sections `mids` go to `feed`.
    fn route(&self, mids: &[String], feed: &mpsc::UnboundedSender<Incoming>) {
        let mut routes = self.routes.lock().expect("routes lock");
        for mid in mids {
            routes.insert(mid.clone(), feed.clone());
        }
    }

    /// Subscribes to `stream` over this connection (`via` the server, or a vcall session's
    /// direct stream from its publisher); the tracks that come are handed to `feed`.
    pub(crate) async fn subscribe(
        &self,
        client: &Client,
        stream: &StreamId,
        kinds: (bool, bool),
        feed: &mpsc::UnboundedSender<Incoming>,
        via: Via,
    ) -> Result<(), Failure> {
        let mids = client.subscribe(&self.peer, stream, kinds, via).await?;
        self.route(&mids, feed);
        let sections = Kind::of(kinds).zip(mids).collect();
        self.sections
            .lock()
            .expect("sections lock")
            .insert(stream.clone(), sections);
        Ok(())
    }

    /// `stream` ended, and its recording has everything it sent: its sections carry the
    /// next streams.
    pub(crate) fn ended(&self, stream: &StreamId) {
        let sections = self.sections.lock().expect("sections lock").remove(stream);
        let Some(sections) = sections else { return };
        {
            let mut routes = self.routes.lock().expect("routes lock");
            for (_, mid) in &sections {
                routes.remove(mid);
            }
        }
        self.peer.release_sections(&sections);
    }

    pub(crate) fn peer(&self) -> &Arc<Peer> {
        &self.peer
    }
}

/// Routes one section of a shared connection for as long as it lasts: its track is lent to
/// the recording that owns the section (an [`Incoming`], which reads it directly) until a new
/// SSRC comes or that recording lets go; then whoever owns the section has it (a far end may
/// reuse a section with its SSRC and `msid`: Janus does, and rtc then opens no new track).
/// Packets wait (a few) until the section has an owner, so a stream's first keyframe is not
/// lost to a subscription still being answered.
async fn section(track: RemoteTrack, routes: Routes) {
    let mid = track.mid.clone().unwrap_or_default();
    let mut track = Some(track);
    let mut next: Option<Rtp> = None;
    let mut waiting: VecDeque<Rtp> = VecDeque::new();
    while let Some(t) = track.take() {
        let packet = match next.take() {
            Some(p) => p,
            None => match t.recv().await {
                Some(p) => p,
                None => return,
            },
        };
        let ssrc = packet.ssrc();
        // Nobody owns the section (yet): keep the newest packets for whoever will.
        if waiting.len() == UNCLAIMED_QUEUE {
            waiting.pop_front();
        }
        waiting.push_back(packet);
        let owner = routes.lock().expect("routes lock").get(&mid).cloned();
        let Some(owner) = owner.filter(|o| !o.is_closed()) else {
            track = Some(t);
            continue;
        };
        let held = waiting.drain(..).filter(|p| p.ssrc() == ssrc).collect();
        let codec = t.codec_of(ssrc).await;
        let (back, returned) = oneshot::channel();
        let mut incoming = Incoming::new(t, ssrc, codec, held);
        incoming.back = Some(back);
        // A recording that finished meanwhile gives the track back as it is dropped.
        let _ = owner.send(incoming);
        let Ok(r) = returned.await else { return };
        track = Some(r.track);
        next = r.next;
    }
}
