//! One negotiation interface for every protocol: a command hands [`Client`] its local peer
//! connection and says what it wants (publish these tracks, receive that stream, restart
//! ICE); the protocol decides who offers on which connection, how long an offer waits for
//! candidates, and what follows an answer (trickled candidates, ICE servers from the far
//! end). Commands never match on the protocol; a new protocol is a module and an arm here.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::livekit::{self, Target};
use super::native::Via;
use super::{Answerer, Client, SignalingError, whip};
use crate::peer::{Peer, PeerError, PeerState};
use crate::session::StreamId;
use crate::vocab::Kind;

/// An exchange that failed, on the server's side or the local connection's.
#[derive(Debug, thiserror::Error)]
pub enum NegotiationError {
    #[error(transparent)]
    Signaling(#[from] SignalingError),
    #[error(transparent)]
    Media(#[from] PeerError),
}

/// Which way a media connection carries media (a publisher's, or a subscriber's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Sending,
    Receiving,
}

/// How long a connection takes candidates the far end trickles after its answer.
const TRICKLE_LIMIT: Duration = Duration::from_secs(5);

/// Subscribes to `stream` in sections that ended subscriptions left on `peer`, one per kind,
/// with no new exchange: `vcall serve` sends the stream in them as they are (the same RTP
/// stream a section, going on), so neither side handles a description that grows with the
/// connection's sections. `None`: there are none for every kind, or the server cannot (a
/// different codec, a server without it); those sections are free again and the caller
/// offers.
async fn in_kept_sections(
    c: &super::native::NativeClient,
    peer: &Peer,
    stream: &StreamId,
    (audio, video): (bool, bool),
    via: &Via,
) -> Result<Option<Vec<String>>, NegotiationError> {
    let kinds: Vec<Kind> = Kind::of((audio, video)).collect();
    let _exchange = peer.negotiation().await;
    let Some(mids) = peer.take_free_sections(&kinds) else {
        return Ok(None);
    };
    match c
        .subscribe(
            stream,
            (audio, video),
            (String::new(), mids.clone()),
            via.clone(),
        )
        .await
    {
        Ok(_) => {
            tracing::debug!(?mids, "subscribed in kept sections");
            Ok(Some(mids))
        }
        Err(e) => {
            peer.release_sections(&kinds.into_iter().zip(mids).collect::<Vec<_>>());
            match e {
                SignalingError::Refused(why) => {
                    tracing::debug!("kept sections refused ({why}): offering");
                    Ok(None)
                }
                e => Err(e.into()),
            }
        }
    }
}

impl Client {
    /// Publishes the tracks already on `peer`, whose media stream id is `msid`, as `name`
    /// (`media`: audio, video); `again`, the stream's id before the client joined again.
    /// Returns the stream's id once the far end's answer is applied.
    pub async fn publish(
        &self,
        peer: &Peer,
        name: &str,
        media: (bool, bool),
        msid: &str,
        again: Option<&StreamId>,
    ) -> Result<StreamId, NegotiationError> {
        let exchange = peer.negotiation().await;
        let offer = match self.gathering_wait() {
            Some(wait) => peer.create_offer_within(wait).await?,
            None => peer.create_offer().await?,
        };
        let (stream_id, answer) = match self {
            Client::Native(c) => c.publish(name, media, msid, offer.clone(), again).await?,
            Client::Janus(c) => c.publish(name, offer.clone()).await?,
            Client::Whip(c) => c.publish(name, media, offer.clone()).await?,
            Client::LiveKit(c) => c.publish(name, media, offer.clone()).await?,
        };
        peer.accept_answer(&answer).await?;
        drop(exchange);
        self.after_answer(peer, &offer).await;
        Ok(stream_id)
    }

    /// Receives `stream` (the kinds asked for) on `peer`, `via` the server or (a vcall
    /// session's direct stream) its publisher. Returns the sections (`mid`s) it comes in.
    /// Where the client offers (vcall, WHIP/WHEP), an offer of receive-only sections is
    /// answered; where the server offers (Janus, LiveKit), its offers on `peer` are answered
    /// here, this one's and later ones.
    pub async fn subscribe(
        &self,
        peer: &Arc<Peer>,
        stream: &StreamId,
        (audio, video): (bool, bool),
        via: Via,
    ) -> Result<Vec<String>, NegotiationError> {
        match self {
            Client::Native(c) => {
                if matches!(via, Via::Server(_))
                    && let Some(mids) =
                        in_kept_sections(c, peer, stream, (audio, video), &via).await?
                {
                    return Ok(mids);
                }
                self.offer_to_receive(peer, (audio, video), |offer, mids| async move {
                    Ok(c.subscribe(stream, (audio, video), (offer, mids), via)
                        .await?
                        .1)
                })
                .await
            }
            Client::Whip(c) => {
                self.offer_to_receive(peer, (audio, video), |offer, _| async move {
                    Ok(c.offer(offer).await?.1)
                })
                .await
            }
            Client::Janus(c) => Ok(c.subscribe(stream, audio, video, answerer(peer)).await?),
            Client::LiveKit(c) => {
                // The subscriber connection takes every candidate the server trickles for it.
                if let Some(mut candidates) = c.trickled(Target::Subscriber) {
                    let peer = Arc::clone(peer);
                    tokio::spawn(async move {
                        while let Some(c) = candidates.recv().await {
                            let _ = peer
                                .add_remote_candidate(&c.candidate, c.mid.as_deref())
                                .await;
                        }
                    });
                }
                Ok(c.subscribe(stream, answerer(peer)).await?)
            }
        }
    }

    /// Restarts ICE on `peer`, a media connection that sends or receives (`side`), through
    /// the server.
    pub async fn restart_ice(&self, peer: &Peer, side: Side) -> Result<(), NegotiationError> {
        match (self, side) {
            // Janus offers the subscriber connection, its restarts too: asked for, its new
            // offer is answered by the subscriber's own answerer.
            (Client::Janus(c), Side::Receiving) => return Ok(c.restart_subscriber().await?),
            // LiveKit's subscriber connection is offered by the server, its restarts too:
            // the client joins the room again, as LiveKit's SDKs do when they cannot
            // resume (the commands go on through `reconnecting`/`reconnected`).
            (Client::LiveKit(c), Side::Receiving) => {
                c.join_again(crate::session::Reason::MediaStopped);
                return Ok(());
            }
            _ => {}
        }
        let _exchange = peer.negotiation().await;
        let offer = peer.restart_offer().await?;
        let answer = match self {
            Client::Native(c) => c.restart_ice(offer).await?,
            Client::Whip(c) => c.restart_ice(offer).await?,
            Client::LiveKit(c) => c.restart_ice(offer).await?,
            Client::Janus(c) => c.restart_publisher(offer).await?,
        };
        peer.accept_answer(&answer).await?;
        Ok(())
    }

    /// How long an offer waits for ICE gathering before it goes: `None`, until it completes
    /// (one message carries every candidate); WHIP/WHEP take the late ones trickled.
    fn gathering_wait(&self) -> Option<Duration> {
        match self {
            Client::Whip(_) => Some(whip::TRICKLE_AFTER),
            Client::Native(_) | Client::Janus(_) | Client::LiveKit(_) => None,
        }
    }

    /// Offers receive-only sections for the kinds asked for on `peer`, applies the answer
    /// `ask` gets for it, and does what follows an answer; the sections' mids.
    async fn offer_to_receive<F, Fut>(
        &self,
        peer: &Peer,
        (audio, video): (bool, bool),
        ask: F,
    ) -> Result<Vec<String>, NegotiationError>
    where
        F: FnOnce(String, Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Result<String, SignalingError>>,
    {
        let kinds: Vec<Kind> = Kind::of((audio, video)).collect();
        let _exchange = peer.negotiation().await;
        let (offer, mids) = peer
            .offer_to_receive_within(&kinds, self.gathering_wait())
            .await?;
        let sections = offer.lines().filter(|l| l.starts_with("m=")).count();
        tracing::debug!(sections, ?mids, "offer to receive");
        let answered = async {
            let answer = ask(offer.clone(), mids.clone()).await?;
            Ok::<_, NegotiationError>(peer.accept_answer(&answer).await?)
        };
        if let Err(e) = answered.await {
            // The sections carry nothing: the next subscription's.
            peer.release_sections(&kinds.into_iter().zip(mids).collect::<Vec<_>>());
            return Err(e);
        }
        self.after_answer(peer, &offer).await;
        Ok(mids)
    }

    /// What follows an answer to `offer`: on WHIP/WHEP, the candidates gathered after the
    /// offer went out are trickled, and the ICE servers the endpoint named (`Link` headers)
    /// are added to `peer`'s own, for its ICE restarts; on LiveKit's publisher connection,
    /// the candidates the server trickles are taken. Nothing for the other servers.
    async fn after_answer(&self, peer: &Peer, offer: &str) {
        match self {
            Client::LiveKit(c) => {
                // Kept for the next exchange: the server trickles an ICE restart's
                // candidates on the same channel.
                if let Some(candidates) = c.trickled(Target::Publisher) {
                    let candidates = apply_trickled(peer, candidates).await;
                    c.keep_trickled(Target::Publisher, candidates);
                }
            }
            Client::Whip(c) => {
                let (local, gathered) = peer.trickle();
                c.trickle(offer, local, gathered);
                let offered = c.ice_servers.lock().expect("ice servers lock").clone();
                if offered.is_empty() {
                    return;
                }
                if let Err(e) = peer.add_ice_servers(&offered).await {
                    tracing::warn!("the server's ICE servers could not be used: {e}");
                }
            }
            Client::Native(_) | Client::Janus(_) => {}
        }
    }
}

/// Answers the far end's offers on `peer` (Janus's, LiveKit's), one exchange at a time.
fn answerer(peer: &Arc<Peer>) -> Answerer {
    let peer = Arc::clone(peer);
    Arc::new(move |offer: String| {
        let peer = Arc::clone(&peer);
        Box::pin(async move {
            let _exchange = peer.negotiation().await;
            peer.accept_offer(&offer).await.map_err(|e| e.to_string())
        })
    })
}

/// Adds a LiveKit server's trickled candidates to `peer` until it connects, the server's last
/// candidate has come, or [`TRICKLE_LIMIT`] has passed (a server that trickles nothing, as
/// vcall serve, whose answers carry every candidate, costs nothing: the peer connects).
/// Returns the channel, for the next exchange's candidates.
async fn apply_trickled(
    peer: &Peer,
    mut candidates: mpsc::UnboundedReceiver<livekit::Candidate>,
) -> mpsc::UnboundedReceiver<livekit::Candidate> {
    let mut state = peer.state();
    let until = tokio::time::sleep(TRICKLE_LIMIT);
    tokio::pin!(until);
    loop {
        if *state.borrow() == PeerState::Connected {
            return candidates;
        }
        tokio::select! {
            c = candidates.recv() => {
                let Some(c) = c else { return candidates };
                if let Err(e) = peer.add_remote_candidate(&c.candidate, c.mid.as_deref()).await {
                    tracing::debug!("a trickled candidate was not taken: {e}");
                }
                if c.last {
                    return candidates;
                }
            }
            changed = state.changed() => if changed.is_err() { return candidates },
            _ = &mut until => return candidates,
        }
    }
}
