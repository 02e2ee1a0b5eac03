//! The one peer connection a subscriber receives every stream on: which recording takes
//! each section's packets, as an [`Incoming`] per stream, however the far end reuses its
//! sections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::exit::Failure;
use crate::peer::{KeyframeRequester, Peer, PeerConfig, RemoteTrack};
use crate::session::StreamId;
use crate::signaling::Client;
use crate::signaling::native::Via;
use crate::vocab::{Codec, Kind, Rtp};

/// One stream of packets as a recording takes it: one SSRC in one section.
pub(crate) struct Incoming {
    pub(crate) codec: Codec,
    pub(super) ssrc: u32,
    packets: mpsc::Receiver<Rtp>,
    pub(crate) keyframes: KeyframeRequester,
}

impl Incoming {
    pub(crate) async fn recv(&mut self) -> Option<Rtp> {
        self.packets.recv().await
    }

    /// Every track of a connection whole, as it comes (for a connection of one recording).
    pub(crate) fn all(
        mut tracks: mpsc::UnboundedReceiver<RemoteTrack>,
    ) -> mpsc::UnboundedReceiver<Incoming> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(track) = tracks.recv().await {
                let (ptx, packets) = mpsc::channel(INCOMING_QUEUE);
                let incoming = Incoming {
                    codec: track.codec,
                    ssrc: track.ssrc,
                    packets,
                    keyframes: track.keyframe_requester(track.ssrc),
                };
                if tx.send(incoming).is_err() {
                    break;
                }
                tokio::spawn(async move {
                    while let Some(p) = track.recv().await {
                        if ptx.send(p).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        rx
    }
}

/// Packets a recording's track may have waiting.
const INCOMING_QUEUE: usize = 512;
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

/// Reads one section of a shared connection for as long as it lasts and hands its packets to
/// the recording that owns the section now: a new SSRC, or the owner having finished, makes
/// a new [`Incoming`] for whoever owns it then (a far end may reuse a section with its SSRC
/// and `msid`: Janus does, and rtc then opens no new track). Packets wait (a few) until the
/// section has an owner, so a stream's first keyframe is not lost to a subscription still
/// being answered.
async fn section(track: RemoteTrack, routes: Routes) {
    let mid = track.mid.clone().unwrap_or_default();
    let mut current: Option<(u32, mpsc::Sender<Rtp>)> = None;
    let mut waiting: std::collections::VecDeque<Rtp> = Default::default();
    while let Some(packet) = track.recv().await {
        let ssrc = packet.ssrc();
        if current
            .as_ref()
            .is_some_and(|(s, tx)| *s != ssrc || tx.is_closed())
        {
            current = None;
        }
        if current.is_none() {
            let owner = routes.lock().expect("routes lock").get(&mid).cloned();
            if let Some(owner) = owner.filter(|o| !o.is_closed()) {
                let (tx, packets) = mpsc::channel(INCOMING_QUEUE);
                let incoming = Incoming {
                    codec: track.codec_of(ssrc).await,
                    ssrc,
                    packets,
                    keyframes: track.keyframe_requester(ssrc),
                };
                if owner.send(incoming).is_ok() {
                    current = Some((ssrc, tx));
                }
            }
        }
        let Some((_, tx)) = &current else {
            // Nobody owns the section (yet): keep the newest packets for whoever will.
            if waiting.len() == UNCLAIMED_QUEUE {
                waiting.pop_front();
            }
            waiting.push_back(packet);
            continue;
        };
        for p in waiting.drain(..).filter(|p| p.ssrc() == ssrc) {
            let _ = tx.send(p).await;
        }
        let _ = tx.send(packet).await;
    }
}
