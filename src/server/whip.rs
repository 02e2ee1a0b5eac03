//! WHIP and WHEP on the embedded server: `POST /whip/{session}` makes the client a
//! connection with one published stream, `POST /whep/{session}[/{stream}]` a viewer of one.
//!
//! Each resource is a connection in the room core like any other, driven through a socket
//! that has no WebSocket behind it: the handler asks the core what a vcall client would
//! (join, then publish or subscribe, later restart ICE), reads the replies, and turns them
//! into HTTP. So tokens, roles, events, limits and the SFU behave
//! exactly as for native clients, and the core knows nothing of HTTP.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;

use super::intent::{Exchange, Receiving, Refusal, Reply, Request, Sending};
use super::tls::ClientAddr;
use super::{AppState, Counted, Shared, SockCmd};
use crate::peer::PeerState;
use crate::server::room::{Input, SockId};
use crate::session::{Reason, SessionEvent, StreamId};
use crate::signaling::whip::{IceFragment, link_for};

/// How long a request to the core may take (answering an offer included).
const REQUEST_LIMIT: Duration = Duration::from_secs(15);

/// The request id a join's reply is filed under.
pub(super) const CONNECT: u64 = 0;

/// Which way a resource's media goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Whip,
    Whep,
}

/// One WHIP or WHEP resource: a connection in the core, behind HTTP.
pub(super) struct Resource {
    sock: SockId,
    etag: Mutex<String>,
    /// The client's last offer, to which an ICE restart's fragment is applied.
    offer: Mutex<String>,
    client: Arc<Virtual>,
    /// Counted against the connection limits while it lives.
    _counted: Counted,
}

/// The core's side of a connection without a WebSocket: requests sent, replies matched by
/// `req` (WHIP's and WHEP's resources; LiveKit's participants, whose front end reads every
/// other reply from `events`).
pub(super) struct Virtual {
    pub(super) sock: SockId,
    waiters: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    next_req: AtomicU64,
    /// The stream this resource publishes or plays; its end ends the resource.
    stream: Mutex<Option<StreamId>>,
}

impl Virtual {
    /// Opens a socket in the core, served by a task that files replies, passes every other
    /// message to `events`, and ends the connection when the core closes it or its stream
    /// ends.
    pub(super) fn open(
        state: &AppState,
        events: Option<tokio::sync::mpsc::UnboundedSender<Reply>>,
    ) -> Arc<Virtual> {
        let (sock, mut rx) = state.open_sock();
        let v = Arc::new(Virtual {
            sock,
            waiters: Mutex::default(),
            next_req: AtomicU64::new(1),
            stream: Mutex::default(),
        });
        let (state, this) = (Arc::clone(state), Arc::clone(&v));
        tokio::spawn(async move {
            while let Some(SockCmd::Send(msg)) = rx.recv().await {
                if let Reply::Event(SessionEvent::StreamDestroyed { stream, .. }) = &msg
                    && this.stream.lock().expect("stream lock").as_ref() == Some(&stream.id)
                {
                    break;
                }
                // Its streams are never direct: nothing else is asked of it.
                let req = msg.req(CONNECT);
                let waiter =
                    req.and_then(|r| this.waiters.lock().expect("waiters lock").remove(&r));
                match (waiter, &events) {
                    (Some(w), _) => {
                        let _ = w.send(msg);
                    }
                    (None, Some(events)) => {
                        let _ = events.send(msg);
                    }
                    (None, None) => {}
                }
            }
            end(&state, sock, Reason::ClientDisconnected);
        });
        v
    }

    /// Sends the core `msg` (made with its request id) and waits for the reply.
    pub(super) async fn request(
        &self,
        state: &AppState,
        make: impl FnOnce(u64) -> Request,
    ) -> Result<Reply, Response> {
        let req = self.next_req.fetch_add(1, Ordering::Relaxed);
        self.ask(state, req, make(req)).await
    }

    /// Sends the core `msg`, which has no reply.
    pub(super) fn tell(&self, state: &AppState, msg: Request) {
        state.feed(Input::Message {
            sock: self.sock,
            msg,
        });
    }

    /// Sends the core `msg` and waits for the reply filed under `req`.
    pub(super) async fn ask(
        &self,
        state: &AppState,
        req: u64,
        msg: Request,
    ) -> Result<Reply, Response> {
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().expect("waiters lock").insert(req, tx);
        state.feed(Input::Message {
            sock: self.sock,
            msg,
        });
        match tokio::time::timeout(REQUEST_LIMIT, rx).await {
            Ok(Ok(Reply::Refused {
                refusal: why,
                message,
                ..
            })) => Err(refusal(why, &message)),
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the connection ended before the server answered",
            )),
            Err(_) => Err(problem(
                StatusCode::GATEWAY_TIMEOUT,
                &format!("no answer within {REQUEST_LIMIT:?}"),
            )),
        }
    }
}

/// Ends a resource's connection in the core (once) and forgets the resource.
pub(super) fn end(state: &AppState, sock: SockId, reason: Reason) {
    let known = {
        let mut t = state.tables.lock().expect("tables lock");
        t.resources.retain(|_, r| r.sock != sock);
        t.socks.remove(&sock).is_some()
    };
    if known {
        state.feed(Input::Closed { sock, reason });
    }
}

/// The HTTP status for an error the core answered with.
pub(super) fn refusal(why: Refusal, message: &str) -> Response {
    let status = match why {
        Refusal::InvalidToken | Refusal::TokenExpired | Refusal::WrongSession => {
            StatusCode::UNAUTHORIZED
        }
        Refusal::Forbidden => StatusCode::FORBIDDEN,
        Refusal::SessionNotFound | Refusal::NotFound => StatusCode::NOT_FOUND,
        Refusal::BadRequest => StatusCode::BAD_REQUEST,
        Refusal::Media => StatusCode::NOT_ACCEPTABLE,
        Refusal::TooManyConnections | Refusal::SessionFull => {
            let mut r = problem(StatusCode::SERVICE_UNAVAILABLE, message);
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }
        Refusal::Internal | Refusal::ConnectTimeout => StatusCode::INTERNAL_SERVER_ERROR,
    };
    problem(status, message)
}

/// A plain-text error response.
pub(super) fn problem(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// The sections of an offer vcall can take: at most one audio (Opus) and one video (H.264,
/// VP8, VP9 or AV1) section that carry media; `Err` names what is wrong (answered 406).
pub(crate) fn offered_media(sdp: &str) -> Result<(bool, bool), String> {
    let (mut audio, mut video) = (0, 0);
    let mut sections = sdp.split("\nm=").skip(1).peekable();
    if sections.peek().is_none() {
        return Err("the offer has no media sections".into());
    }
    for section in sections {
        let kind = section.split_whitespace().next().unwrap_or("");
        let rtpmaps: Vec<String> = section
            .lines()
            .filter_map(|l| l.trim().strip_prefix("a=rtpmap:"))
            .filter_map(|v| v.split_whitespace().nth(1))
            .map(|c| c.split('/').next().unwrap_or("").to_ascii_uppercase())
            .collect();
        let inactive = section.lines().any(|l| l.trim() == "a=inactive")
            || section.split_whitespace().nth(1) == Some("0");
        match kind {
            _ if inactive => {}
            "audio" => {
                if !rtpmaps.iter().any(|c| c == "OPUS") {
                    return Err(format!(
                        "the audio section offers {} and no Opus",
                        rtpmaps.join(", ")
                    ));
                }
                audio += 1;
            }
            "video" => {
                if !rtpmaps
                    .iter()
                    .any(|c| ["H264", "VP8", "VP9", "AV1"].contains(&c.as_str()))
                {
                    return Err(format!(
                        "the video section offers {} and none of H264, VP8, VP9, AV1",
                        rtpmaps.join(", ")
                    ));
                }
                video += 1;
            }
            other => {
                return Err(format!(
                    "a {other} section (only audio and video are taken)"
                ));
            }
        }
    }
    if audio > 1 || video > 1 {
        return Err(format!(
            "{audio} audio and {video} video sections; one of each at most"
        ));
    }
    if audio + video == 0 {
        return Err("no section carries media".into());
    }
    Ok((audio == 1, video == 1))
}

/// The media stream id the offer's tracks carry (`a=msid:` or `a=ssrc:… msid:`), if any.
fn offered_msid(sdp: &str) -> String {
    sdp.lines()
        .map(str::trim)
        .find_map(|l| {
            l.strip_prefix("a=msid:")
                .or_else(|| {
                    l.strip_prefix("a=ssrc:")
                        .and_then(|v| v.split_once(" msid:").map(|(_, m)| m))
                })
                .and_then(|v| v.split_whitespace().next())
        })
        .unwrap_or("")
        .to_owned()
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

fn content_type_is(headers: &HeaderMap, wanted: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(wanted))
}

fn new_etag() -> String {
    format!("\"{:016x}\"", rand::random::<u64>())
}

#[derive(serde::Deserialize, Default)]
pub(super) struct PostQuery {
    /// The published stream's name (WHIP).
    name: Option<String>,
}

pub(super) async fn whip_post(
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(peer)): ConnectInfo<ClientAddr>,
    Path(session): Path<String>,
    Query(q): Query<PostQuery>,
    headers: HeaderMap,
    offer: String,
) -> Response {
    let ask = Ask {
        role: Role::Whip,
        session,
        wanted: None,
        name: q.name.unwrap_or_else(|| "whip".into()),
    };
    post(&state, peer.ip(), ask, &headers, offer).await
}

/// `/whep/{session}` and `/whep/{session}/{stream}`.
pub(super) async fn whep_post(
    State(state): State<AppState>,
    ConnectInfo(ClientAddr(peer)): ConnectInfo<ClientAddr>,
    Path(mut params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    offer: String,
) -> Response {
    let ask = Ask {
        role: Role::Whep,
        session: params.remove("session").unwrap_or_default(),
        wanted: params.remove("stream"),
        name: String::new(),
    };
    post(&state, peer.ip(), ask, &headers, offer).await
}

/// What a POST asks for.
struct Ask {
    role: Role,
    session: String,
    /// WHEP: the stream by id or name (the session's first when `None`).
    wanted: Option<String>,
    /// WHIP: the stream's name.
    name: String,
}

/// A WHIP or WHEP POST: the request checked, a connection of the core joined with the
/// bearer token, the stream published or subscribed to with the offer, and the resource
/// registered; its answer is the response.
async fn post(
    state: &AppState,
    ip: IpAddr,
    ask: Ask,
    headers: &HeaderMap,
    offer: String,
) -> Response {
    let (token, media) = match check_post(headers, &offer) {
        Ok(checked) => checked,
        Err(bad) => return bad.response(),
    };
    let counted = match state.admit(ip) {
        Ok(c) => c,
        Err(why) => return refusal(Refusal::TooManyConnections, &why),
    };
    let role = ask.role;
    let client = Virtual::open(state, None);
    let (stream_id, answer) = match join_and_offer(state, &client, ask, token, media, &offer).await
    {
        Ok(made) => made,
        Err(response) => {
            end(state, client.sock, Reason::ClientDisconnected);
            return response;
        }
    };
    *client.stream.lock().expect("stream lock") = Some(stream_id.clone());
    let (id, etag) = register(state, client, offer, counted);
    tracing::info!(resource = %id, stream = %stream_id, "{role:?} resource created");
    let mut r = (
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, "application/sdp".to_owned()),
            (header::LOCATION, format!("/resources/{id}")),
            (header::ETAG, etag),
        ],
        answer,
    )
        .into_response();
    add_links(&state.config.ice_servers, r.headers_mut());
    r
}

/// Why a POST is refused before anything is joined.
#[derive(Debug, PartialEq)]
enum BadPost {
    /// The body is not `application/sdp`.
    NotSdp,
    /// No `Authorization: Bearer`.
    NoToken,
    /// The offer has nothing vcall takes, and why.
    Offer(String),
}

impl BadPost {
    fn response(self) -> Response {
        match self {
            BadPost::NotSdp => problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the offer must be sent as Content-Type: application/sdp",
            ),
            BadPost::NoToken => {
                let mut r = problem(
                    StatusCode::UNAUTHORIZED,
                    "a token is required: Authorization: Bearer TOKEN",
                );
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                r
            }
            BadPost::Offer(why) => problem(
                StatusCode::NOT_ACCEPTABLE,
                &format!("offer not taken: {why}"),
            ),
        }
    }
}

/// What a POST must have before anything is joined: an SDP offer with audio or video in a
/// form vcall takes, and a bearer token. Returns the token and the kinds offered.
fn check_post(headers: &HeaderMap, offer: &str) -> Result<(String, (bool, bool)), BadPost> {
    if !content_type_is(headers, "application/sdp") {
        return Err(BadPost::NotSdp);
    }
    let token = bearer(headers).ok_or(BadPost::NoToken)?;
    let media = offered_media(offer).map_err(BadPost::Offer)?;
    Ok((token, media))
}

/// Joins the session as `client` with `token`, then publishes (WHIP) or subscribes (WHEP)
/// with `offer`. Returns the stream and the answer.
async fn join_and_offer(
    state: &AppState,
    client: &Virtual,
    Ask {
        role,
        session,
        wanted,
        name,
    }: Ask,
    token: String,
    (has_audio, has_video): (bool, bool),
    offer: &str,
) -> Result<(StreamId, String), Response> {
    let join = Request::Join {
        session: session.clone().into(),
        token,
        client_data: format!("{role:?}").to_lowercase(),
    };
    let joined = client.ask(state, CONNECT, join).await?;
    let Reply::Event(SessionEvent::SessionConnected { streams, .. }) = joined else {
        return Err(problem(StatusCode::INTERNAL_SERVER_ERROR, "joining failed"));
    };
    let failed = |what| problem(StatusCode::INTERNAL_SERVER_ERROR, what);
    match role {
        Role::Whip => {
            let reply = client
                .request(state, |req| Request::Publish {
                    req,
                    name,
                    audio: has_audio,
                    video: has_video,
                    msid: offered_msid(offer),
                    sending: Sending::ClientOffers(offer.to_owned()),
                    stream: None,
                })
                .await?;
            match reply {
                Reply::Published {
                    stream,
                    answer: Some(answer),
                    ..
                } => Ok((stream, answer)),
                _ => Err(failed("publishing failed")),
            }
        }
        Role::Whep => {
            let stream = match &wanted {
                Some(w) => streams
                    .iter()
                    .find(|s| s.id == w.as_str())
                    .or_else(|| streams.iter().find(|s| &s.name == w)),
                None => streams.first(),
            };
            let Some(stream) = stream else {
                return Err(problem(
                    StatusCode::NOT_FOUND,
                    &match &wanted {
                        Some(w) => format!("no stream {w:?} in session {session}"),
                        None => format!("nothing is published in session {session}"),
                    },
                ));
            };
            let reply = client
                .request(state, |req| Request::Subscribe {
                    req,
                    stream: stream.id.clone(),
                    audio: has_audio && stream.has_audio,
                    video: has_video && stream.has_video,
                    receiving: Receiving::Routed(Exchange::ClientOffers {
                        sdp: offer.to_owned(),
                        mids: Vec::new(),
                    }),
                    fallback: Some(Reason::WhepSubscriber),
                    layer: crate::session::LayerWish::default(),
                })
                .await?;
            match reply {
                Reply::Subscribed { stream, sdp, .. } => Ok((stream, sdp)),
                _ => Err(failed("subscribing failed")),
            }
        }
    }
}

/// Files `client`'s resource under a new id with a new ETag; a client that goes away
/// without DELETE leaves when its media connection fails. Returns the id and the ETag.
fn register(
    state: &AppState,
    client: Arc<Virtual>,
    offer: String,
    counted: Counted,
) -> (String, String) {
    let id = format!("{:016x}", rand::random::<u64>());
    let etag = new_etag();
    let sock = client.sock;
    let resource = Arc::new(Resource {
        sock,
        etag: Mutex::new(etag.clone()),
        offer: Mutex::new(offer),
        client,
        _counted: counted,
    });
    let peer = {
        let mut t = state.tables.lock().expect("tables lock");
        t.resources.insert(id.clone(), resource);
        t.media.get(&sock).map(|m| m.peer.state())
    };
    if let Some(mut peer_state) = peer {
        let state = Arc::clone(state);
        tokio::spawn(async move {
            let _ = peer_state
                .wait_for(|s| matches!(s, PeerState::Failed | PeerState::Closed))
                .await;
            // Its media failed: the stream ends (no grace, which is for signaling lost).
            end(&state, sock, Reason::MediaStopped);
        });
    }
    (id, etag)
}

fn add_links(servers: &[String], headers: &mut HeaderMap) {
    for s in servers {
        if let Ok(v) = HeaderValue::from_str(&link_for(s)) {
            headers.append(header::LINK, v);
        }
    }
    if !servers.is_empty() {
        headers.insert(
            "Access-Control-Expose-Headers",
            HeaderValue::from_static(EXPOSED),
        );
    }
}

fn resource(state: &Shared, id: &str) -> Option<Arc<Resource>> {
    state
        .tables
        .lock()
        .expect("tables lock")
        .resources
        .get(id)
        .cloned()
}

pub(super) async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(r) = resource(&state, &id) else {
        return problem(StatusCode::NOT_FOUND, "no such resource");
    };
    end(&state, r.sock, Reason::ClientDisconnected);
    tracing::info!(resource = %id, "resource deleted");
    StatusCode::OK.into_response()
}

/// Trickled candidates (same ICE credentials) or an ICE restart (new ones).
pub(super) async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let Some(r) = resource(&state, &id) else {
        return problem(StatusCode::NOT_FOUND, "no such resource");
    };
    if !content_type_is(&headers, "application/trickle-ice-sdpfrag") {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "PATCH takes Content-Type: application/trickle-ice-sdpfrag",
        );
    }
    let Some(if_match) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) else {
        return problem(StatusCode::PRECONDITION_REQUIRED, "If-Match is required");
    };
    let fragment = match IceFragment::parse(&body) {
        Ok(f) => f,
        Err(why) => return problem(StatusCode::BAD_REQUEST, &why),
    };
    let current = IceFragment::of_sdp(&r.offer.lock().expect("offer lock"));
    let restart = !fragment.ufrag.is_empty() && fragment.ufrag != current.ufrag;
    let etag_now = r.etag.lock().expect("etag lock").clone();
    if !(if_match.trim() == etag_now || (restart && if_match.trim() == "*")) {
        return problem(
            StatusCode::PRECONDITION_FAILED,
            "If-Match does not match the resource's ETag",
        );
    }
    if !restart {
        let peer = state
            .tables
            .lock()
            .expect("tables lock")
            .media
            .get(&r.sock)
            .map(|m| Arc::clone(&m.peer));
        let Some(peer) = peer else {
            return problem(StatusCode::CONFLICT, "the resource has no media connection");
        };
        for c in &fragment.candidates {
            if let Err(e) = peer.add_remote_candidate(c, fragment.mid.as_deref()).await {
                return problem(StatusCode::BAD_REQUEST, &e.to_string());
            }
        }
        return StatusCode::NO_CONTENT.into_response();
    }
    let offer = fragment.apply_to(&r.offer.lock().expect("offer lock"));
    let reply = r
        .client
        .request(&state, |req| Request::RestartIce {
            req,
            offer: offer.clone(),
        })
        .await;
    let answer = match reply {
        Ok(Reply::IceRestarted { answer, .. }) => answer,
        Ok(_) => return problem(StatusCode::INTERNAL_SERVER_ERROR, "restart failed"),
        Err(response) => return response,
    };
    *r.offer.lock().expect("offer lock") = offer;
    let etag = new_etag();
    *r.etag.lock().expect("etag lock") = etag.clone();
    tracing::info!(resource = %id, "ICE restarted");
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "application/trickle-ice-sdpfrag".to_owned(),
            ),
            (header::ETAG, etag),
        ],
        IceFragment::of_sdp(&answer).to_sdpfrag(),
    )
        .into_response()
}

/// Headers a browser client may read.
const EXPOSED: &str = "Location, Link, ETag, Accept-Patch, Retry-After";

/// CORS preflight and capability discovery.
pub(super) async fn options(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    h.insert("Accept-Post", HeaderValue::from_static("application/sdp"));
    h.insert(
        "Accept-Patch",
        HeaderValue::from_static("application/trickle-ice-sdpfrag"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("OPTIONS, POST, PATCH, DELETE"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, Content-Type, If-Match"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    // A preflight is not told the ICE servers (RFC 9725 §4.6); a plain OPTIONS is.
    if !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        add_links(&state.config.ice_servers, h);
    }
    r
}

/// Every WHIP/WHEP response may be read by a page from any origin.
pub(super) async fn cors(method: Method, mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED),
    );
    if method == Method::OPTIONS {
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(sections: &[(&str, &str)]) -> String {
        let mut s = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n".to_owned();
        for (kind, codec) in sections {
            s.push_str(&format!(
                "m={kind} 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 {codec}\r\na=sendonly\r\n"
            ));
        }
        s
    }

    #[test]
    fn offers_are_taken_with_one_audio_and_one_video_section_of_known_codecs() {
        assert_eq!(
            offered_media(&offer(&[
                ("audio", "opus/48000/2"),
                ("video", "H264/90000")
            ])),
            Ok((true, true))
        );
        assert_eq!(
            offered_media(&offer(&[("video", "VP8/90000")])),
            Ok((false, true))
        );
        for (bad, says) in [
            (
                offer(&[("video", "H265/90000")]),
                "none of H264, VP8, VP9, AV1",
            ),
            (offer(&[("audio", "PCMU/8000")]), "no Opus"),
            (
                offer(&[("video", "H264/90000"), ("video", "H264/90000")]),
                "one of each",
            ),
            (
                offer(&[("application", "webrtc-datachannel")]),
                "application",
            ),
            (offer(&[]), "no media"),
        ] {
            let err = offered_media(&bad).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn the_msid_comes_from_either_attribute() {
        assert_eq!(offered_msid("a=msid:cam v0\r\n"), "cam");
        assert_eq!(offered_msid("a=ssrc:1 msid:FFmpeg audio\r\n"), "FFmpeg");
        assert_eq!(offered_msid("a=ssrc:1 cname:x\r\n"), "");
    }

    #[test]
    fn a_post_needs_sdp_a_token_and_an_offer_it_takes() {
        let headers = |pairs: &[(header::HeaderName, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(k, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        let good = offer(&[("video", "H264/90000")]);
        let sdp = (header::CONTENT_TYPE, "application/sdp");
        let bearer = (header::AUTHORIZATION, "Bearer t0k");
        assert_eq!(
            check_post(&headers(&[sdp.clone(), bearer.clone()]), &good),
            Ok(("t0k".to_owned(), (false, true)))
        );
        assert_eq!(
            check_post(&headers(std::slice::from_ref(&bearer)), &good),
            Err(BadPost::NotSdp)
        );
        assert_eq!(
            check_post(&headers(std::slice::from_ref(&sdp)), &good),
            Err(BadPost::NoToken)
        );
        assert!(matches!(
            check_post(&headers(&[sdp, bearer]), &offer(&[])),
            Err(BadPost::Offer(why)) if why.contains("no media")
        ));
        let refused = BadPost::NoToken.response();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert!(refused.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
