//! The Janus WebRTC Server's API: sessions, plugin handles, transactions, keepalives, and the
//! two transports (WebSocket and HTTP long poll). Only this module and its children know
//! Janus's JSON; `videoroom` maps the VideoRoom plugin onto vcall's session model.
//!
//! One supervisor task owns the transport. Everything Janus says reaches `route`: replies go
//! to the request waiting on their transaction (async plugin requests answer `ack` first and
//! an `event` with the same transaction later), unsolicited events go by `sender` to their
//! handle. When the transport drops, the supervisor reconnects with backoff and claims the
//! session back; requests written meanwhile wait in the queue.

pub mod videoroom;
mod videoroom_api;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::signaling::SignalingError;
use crate::signaling::server_url::ServerUrl;

/// How to reach a Janus server and how patiently.
#[derive(Debug, Clone)]
pub struct JanusOptions {
    /// `janus+ws://`, `janus+wss://`, `janus+http://` or `janus+https://`.
    pub url: ServerUrl,
    pub token: Option<String>,
    pub api_secret: Option<String>,
    /// Limit for each request's answer.
    pub timeout: Duration,
    /// Reconnection attempts after the transport drops (and connection attempts at start).
    pub max_retries: u32,
    /// First delay between attempts; doubles each time.
    pub retry_delay: Duration,
    /// `None`: no keepalives (Janus then drops the session after its timeout).
    pub keepalive: Option<Duration>,
}

/// Where the transport connects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    Ws(String),
    Http(String),
}

fn endpoint(url: &ServerUrl) -> Result<Endpoint, SignalingError> {
    match url {
        ServerUrl::Janus(u) if matches!(u.scheme(), "ws" | "wss") => {
            Ok(Endpoint::Ws(url.base().to_owned()))
        }
        ServerUrl::Janus(_) => Ok(Endpoint::Http(url.base().to_owned())),
        _ => Err(SignalingError::usage(format!("{url}: not a Janus URL"))),
    }
}

/// An error Janus reported, with its code.
fn janus_error(code: i64, reason: &str) -> SignalingError {
    let text = format!("{reason} (Janus error {code})");
    match code {
        // Core: unauthorized (token or API secret), unauthorized plugin.
        403 | 405 => SignalingError::Auth(text),
        // Core: no such session / handle.
        458 | 459 => SignalingError::lost(text),
        // Core: no such plugin.
        460 => SignalingError::NotFound(text),
        // VideoRoom: no such room.
        426 => SignalingError::SessionNotFound(text),
        // VideoRoom: no such feed.
        428 => SignalingError::NotFound(text),
        // VideoRoom: unauthorized (wrong PIN or secret).
        433 => SignalingError::Auth(text),
        // VideoRoom: already joined / published, publishers full, ID exists.
        425 | 432 | 434 | 436 => SignalingError::Forbidden(text),
        _ => SignalingError::Refused(text),
    }
}

/// A message from Janus: the envelope its API documents (what kind, which request it answers,
/// which handle it is from, an error, a created id, the plugin's reply, an SDP). The
/// plugin's own `data` stays JSON, for the plugin's module to read.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Incoming {
    #[serde(default)]
    pub janus: String,
    pub transaction: Option<String>,
    /// The handle an event is from.
    pub sender: Option<u64>,
    /// `create` and `attach`: the new session's or handle's id.
    pub data: Option<Created>,
    pub error: Option<ErrorBody>,
    pub plugindata: Option<PluginData>,
    pub jsep: Option<Jsep>,
    /// `media` events: whether Janus now receives (or stopped receiving) this kind.
    pub receiving: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Created {
    pub id: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct PluginData {
    #[serde(default)]
    pub data: Value,
}

/// An SDP offer or answer, as Janus carries it (both ways).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Jsep {
    #[serde(rename = "type")]
    pub kind: String,
    pub sdp: String,
    /// Sent as `false`: every candidate is in the SDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trickle: Option<bool>,
}

impl Jsep {
    pub(crate) fn offer(sdp: String) -> Jsep {
        Jsep {
            kind: "offer".into(),
            sdp,
            trickle: Some(false),
        }
    }

    pub(crate) fn answer(sdp: String) -> Jsep {
        Jsep {
            kind: "answer".into(),
            sdp,
            trickle: Some(false),
        }
    }
}

static NO_DATA: Value = Value::Null;

impl Incoming {
    /// Reads one message; `None` (logged) for one that is not Janus's JSON.
    fn read(v: Value) -> Option<Incoming> {
        serde_json::from_value(v)
            .inspect_err(|e| tracing::warn!("ignoring an unreadable Janus message: {e}"))
            .ok()
    }

    /// The plugin's reply (`plugindata.data`), or null.
    pub(crate) fn plugin_data(&self) -> &Value {
        self.plugindata.as_ref().map_or(&NO_DATA, |p| &p.data)
    }

    /// The id `create` or `attach` made.
    fn created_id(&self) -> Option<u64> {
        self.data.as_ref().and_then(|d| d.id)
    }
}

/// Turns a reply into an error when Janus (or the plugin) says it failed.
pub(crate) fn check(reply: Incoming) -> Result<Incoming, SignalingError> {
    if reply.janus == "error" {
        let e = reply.error.unwrap_or_default();
        let reason = match e.reason.is_empty() {
            true => "unknown error",
            false => &e.reason,
        };
        return Err(janus_error(e.code, reason));
    }
    let data = reply.plugin_data();
    if let Some(code) = data["error_code"].as_i64() {
        return Err(janus_error(
            code,
            data["error"].as_str().unwrap_or("plugin error"),
        ));
    }
    Ok(reply)
}

struct Waiter {
    tx: oneshot::Sender<Incoming>,
    /// Keepalive and claim are done at `ack`/`success`; plugin messages wait past `ack`.
    ack_done: bool,
}

#[derive(Default)]
struct Routes {
    pending: HashMap<String, Waiter>,
    handles: HashMap<u64, mpsc::UnboundedSender<Incoming>>,
}

/// Why the Janus session is over.
pub type Gone = watch::Receiver<Option<String>>;

/// Why one request over Janus's HTTP transport failed (the link is then treated as lost and
/// reconnected, so this only reaches the debug log).
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error(transparent)]
    Request(#[from] ureq::Error),
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
}

/// A Janus session: the unit of keepalive and cleanup, owning plugin handles.
pub struct JanusSession {
    pub id: u64,
    out: mpsc::UnboundedSender<Value>,
    routes: Arc<Mutex<Routes>>,
    next: AtomicU64,
    opts: JanusOptions,
    gone: Gone,
    /// Set on `destroy`: the supervisor then stops instead of reconnecting.
    closing: watch::Sender<bool>,
    /// Completes when the supervisor has written everything and closed the transport.
    finished: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

/// A plugin handle: its id and the unsolicited events Janus sends it.
pub(crate) struct Handle {
    pub id: u64,
    pub events: mpsc::UnboundedReceiver<Incoming>,
}

impl JanusSession {
    /// Connects (retrying per the options) and creates a session.
    pub async fn connect(opts: &JanusOptions) -> Result<JanusSession, SignalingError> {
        let endpoint = endpoint(&opts.url)?;
        let routes: Arc<Mutex<Routes>> = Arc::default();
        let (out_tx, out_rx) = mpsc::unbounded_channel::<Value>();
        let (gone_tx, gone_rx) = watch::channel(None);
        let (closing_tx, closing_rx) = watch::channel(false);
        let (finished_tx, finished_rx) = oneshot::channel();
        let (sid_tx, sid_rx) = watch::channel::<Option<u64>>(None);

        // The first connection is made here so that an unreachable server is reported as such.
        let link = open_with_retries(&endpoint, opts, sid_rx.clone()).await?;
        let supervisor = Supervisor {
            endpoint,
            opts: opts.clone(),
            routes: Arc::clone(&routes),
            sid: sid_rx,
            gone: gone_tx,
            closing: closing_rx,
        };
        tokio::spawn(async move {
            supervisor.run(link, out_rx).await;
            let _ = finished_tx.send(());
        });

        let mut session = JanusSession {
            id: 0,
            out: out_tx,
            routes,
            next: AtomicU64::new(1),
            opts: opts.clone(),
            gone: gone_rx,
            closing: closing_tx,
            finished: tokio::sync::Mutex::new(Some(finished_rx)),
        };
        let reply = session.request(json!({ "janus": "create" }), false).await?;
        let id = reply.created_id().ok_or_else(|| {
            SignalingError::protocol(format!("create: no session id in {reply:?}"))
        })?;
        session.id = id;
        let _ = sid_tx.send(Some(id));
        if let Some(every) = opts.keepalive {
            session.spawn_keepalive(every);
        }
        tracing::debug!(session = id, "Janus session created");
        Ok(session)
    }

    /// A watch that turns `Some(reason)` when the session is over (timed out, transport lost).
    pub fn gone(&self) -> Gone {
        self.gone.clone()
    }

    fn spawn_keepalive(&self, every: Duration) {
        let out = self.out.clone();
        let routes = Arc::clone(&self.routes);
        let id = self.id;
        let mut closing = self.closing.subscribe();
        let auth = auth_fields(&self.opts);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = closed(&mut closing) => return,
                }
                let mut msg = json!({ "janus": "keepalive", "session_id": id, "transaction": format!("ka-{}", rand::random::<u32>()) });
                merge(&mut msg, &auth);
                // The reply (ack, or error 458 when the session is gone) is routed like any other;
                // nobody waits on it, so a lost session shows up through `timeout`/`gone` instead.
                let (tx, rx) = oneshot::channel();
                let txn = msg["transaction"].as_str().unwrap_or_default().to_owned();
                routes
                    .lock()
                    .expect("routes lock")
                    .pending
                    .insert(txn.clone(), Waiter { tx, ack_done: true });
                if out.send(msg).is_err() {
                    return;
                }
                let routes = Arc::clone(&routes);
                tokio::spawn(async move {
                    match tokio::time::timeout(every, rx).await {
                        Ok(Ok(reply)) if reply.janus == "error" => {
                            let reason = reply.error.unwrap_or_default().reason;
                            tracing::warn!("Janus refused a keepalive: {reason}");
                        }
                        Ok(_) => {}
                        // Unanswered (a dropped transport): stop waiting for it.
                        Err(_) => {
                            routes.lock().expect("routes lock").pending.remove(&txn);
                        }
                    }
                });
                tracing::trace!(session = id, "keepalive sent");
            }
        });
    }

    /// Sends `msg` with a new transaction and returns Janus's reply: the first that is not
    /// an `ack`, unless `ack_done`. Errors Janus reports become `SignalingError`s.
    pub(crate) async fn request(
        &self,
        mut msg: Value,
        ack_done: bool,
    ) -> Result<Incoming, SignalingError> {
        let txn = format!("t{}", self.next.fetch_add(1, Ordering::Relaxed));
        msg["transaction"] = json!(txn);
        if self.id != 0 {
            msg["session_id"] = json!(self.id);
        }
        merge(&mut msg, &auth_fields(&self.opts));
        let what = msg["janus"].as_str().unwrap_or("request").to_owned();
        let (tx, rx) = oneshot::channel();
        self.routes
            .lock()
            .expect("routes lock")
            .pending
            .insert(txn.clone(), Waiter { tx, ack_done });
        if self.out.send(msg).is_err() {
            self.forget(&txn);
            return Err(self.lost());
        }
        let mut gone = self.gone.clone();
        let reply = tokio::select! {
            r = tokio::time::timeout(self.opts.timeout, rx) => match r {
                Ok(Ok(reply)) => reply,
                Ok(Err(_)) => return Err(self.lost()),
                Err(_) => {
                    self.forget(&txn);
                    return Err(SignalingError::Timeout(format!(
                        "Janus did not answer `{what}` within {:?}", self.opts.timeout
                    )));
                }
            },
            _ = gone.wait_for(|g| g.is_some()) => {
                self.forget(&txn);
                return Err(self.lost());
            }
        };
        check(reply)
    }

    fn forget(&self, txn: &str) {
        self.routes.lock().expect("routes lock").pending.remove(txn);
    }

    fn lost(&self) -> SignalingError {
        let reason = self.gone.borrow().clone();
        SignalingError::lost(reason.unwrap_or_else(|| "the Janus connection is closed".into()))
    }

    /// Attaches a plugin handle.
    pub(crate) async fn attach(&self, plugin: &str) -> Result<Handle, SignalingError> {
        let reply = self
            .request(json!({ "janus": "attach", "plugin": plugin }), false)
            .await?;
        let id = reply.created_id().ok_or_else(|| {
            SignalingError::protocol(format!("attach: no handle id in {reply:?}"))
        })?;
        let (tx, rx) = mpsc::unbounded_channel();
        self.routes
            .lock()
            .expect("routes lock")
            .handles
            .insert(id, tx);
        Ok(Handle { id, events: rx })
    }

    /// Sends a plugin message (with an SDP when `jsep` is given) and returns the plugin's
    /// answer: `plugindata.data`, and the `jsep` if there is one.
    pub(crate) async fn message(
        &self,
        handle: u64,
        body: &impl serde::Serialize,
        jsep: Option<Jsep>,
    ) -> Result<(Value, Option<Jsep>), SignalingError> {
        let mut msg = json!({ "janus": "message", "handle_id": handle, "body": body });
        if let Some(j) = jsep {
            msg["jsep"] = json!(j);
        }
        let reply = self.request(msg, false).await?;
        let data = reply.plugin_data().clone();
        Ok((data, reply.jsep))
    }

    pub async fn detach(&self, handle: u64) -> Result<(), SignalingError> {
        let r = self
            .request(json!({ "janus": "detach", "handle_id": handle }), false)
            .await;
        self.routes
            .lock()
            .expect("routes lock")
            .handles
            .remove(&handle);
        r.map(drop)
    }

    /// Destroys the session and closes the transport (waits, briefly, until it is closed).
    pub async fn destroy(&self) {
        if self.gone.borrow().is_none()
            && let Err(e) = self.request(json!({ "janus": "destroy" }), false).await
        {
            tracing::debug!("destroying the Janus session: {e}");
        }
        let _ = self.closing.send(true);
        if let Some(rx) = self.finished.lock().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), rx).await;
        }
    }
}

/// The token and API secret every request carries.
fn auth_fields(opts: &JanusOptions) -> Value {
    let mut v = json!({});
    if let Some(t) = &opts.token {
        v["token"] = json!(t);
    }
    if let Some(s) = &opts.api_secret {
        v["apisecret"] = json!(s);
    }
    v
}

/// Completes when `closing` turns true (holding no borrow of it afterwards).
async fn closed(closing: &mut watch::Receiver<bool>) {
    let _ = closing.wait_for(|c| *c).await;
}

fn merge(msg: &mut Value, fields: &Value) {
    if let (Some(m), Some(f)) = (msg.as_object_mut(), fields.as_object()) {
        for (k, v) in f {
            m.insert(k.clone(), v.clone());
        }
    }
}

/// Delivers one message from Janus to whoever waits for it.
fn route(routes: &Mutex<Routes>, gone: Option<&watch::Sender<Option<String>>>, msg: Value) {
    let Some(msg) = Incoming::read(msg) else {
        return;
    };
    let kind = msg.janus.as_str();
    let mut r = routes.lock().expect("routes lock");
    if let Some(txn) = msg.transaction.as_deref()
        && let Some(waiter) = r.pending.get(txn)
        && (kind != "ack" || waiter.ack_done)
    {
        let waiter = r.pending.remove(txn).expect("present");
        let _ = waiter.tx.send(msg);
        return;
    }
    if kind == "ack" {
        return;
    }
    if kind == "timeout" {
        tracing::warn!("Janus timed the session out (no keepalive)");
        if let Some(g) = gone {
            let _ = g.send(Some("Janus timed the session out".into()));
        }
        return;
    }
    if let Some(sender) = msg.sender
        && let Some(tx) = r.handles.get(&sender)
    {
        let _ = tx.send(msg);
        return;
    }
    tracing::trace!("unrouted Janus message: {msg:?}");
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One connection to the server; it ends when the transport fails or the queue closes.
enum Link {
    Ws(Box<Ws>),
    Http(HttpLink),
}

/// How a link ended.
enum LinkEnd {
    /// The queue closed or the session is being closed: stop.
    Done,
    /// The transport failed; the message being sent, if any, is still owed.
    Lost(Option<Value>),
}

async fn open(
    endpoint: &Endpoint,
    sid: watch::Receiver<Option<u64>>,
    opts: &JanusOptions,
) -> Result<Link, SignalingError> {
    match endpoint {
        Endpoint::Ws(url) => {
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let mut req = url
                .as_str()
                .into_client_request()
                .map_err(|e| SignalingError::usage_by(url.to_string(), e))?;
            req.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                "janus-protocol".parse().expect("valid header"),
            );
            let (ws, _) = tokio::time::timeout(opts.timeout, tokio_tungstenite::connect_async(req))
                .await
                .map_err(|_| {
                    SignalingError::unreachable(format!(
                        "{url}: no answer within {:?}",
                        opts.timeout
                    ))
                })?
                .map_err(|e| SignalingError::unreachable_by(url.to_string(), e))?;
            Ok(Link::Ws(Box::new(ws)))
        }
        Endpoint::Http(base) => {
            let link = HttpLink::new(base, sid, opts);
            // An HTTP server is "reachable" when it answers; ask for the server's info.
            link.check().await?;
            Ok(Link::Http(link))
        }
    }
}

async fn open_with_retries(
    endpoint: &Endpoint,
    opts: &JanusOptions,
    sid: watch::Receiver<Option<u64>>,
) -> Result<Link, SignalingError> {
    let mut delay = opts.retry_delay;
    let mut attempt = 0;
    loop {
        match open(endpoint, sid.clone(), opts).await {
            Ok(link) => return Ok(link),
            Err(e @ SignalingError::Unreachable(..)) if attempt < opts.max_retries => {
                attempt += 1;
                tracing::warn!(
                    "cannot reach Janus ({e}); attempt {attempt} of {} in {delay:?}",
                    opts.max_retries
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
            Err(e) => return Err(e),
        }
    }
}

struct Supervisor {
    endpoint: Endpoint,
    opts: JanusOptions,
    routes: Arc<Mutex<Routes>>,
    sid: watch::Receiver<Option<u64>>,
    gone: watch::Sender<Option<String>>,
    closing: watch::Receiver<bool>,
}

impl Supervisor {
    async fn run(mut self, mut link: Link, mut out: mpsc::UnboundedReceiver<Value>) {
        let mut owed: Option<Value> = None;
        loop {
            let end = match &mut link {
                Link::Ws(ws) => self.run_ws(ws, &mut out, owed.take()).await,
                Link::Http(h) => self.run_http(h, &mut out, owed.take()).await,
            };
            match end {
                LinkEnd::Done => return,
                LinkEnd::Lost(msg) => owed = msg,
            }
            if *self.closing.borrow() {
                return;
            }
            tracing::warn!("lost the connection to Janus; reconnecting");
            link = match open_with_retries(&self.endpoint, &self.opts, self.sid.clone()).await {
                Ok(l) => l,
                Err(e) => {
                    let _ = self.gone.send(Some(format!(
                        "the connection to Janus was lost and could not be restored: {e}"
                    )));
                    self.fail_pending();
                    return;
                }
            };
            // A WebSocket session belongs to its socket: claim it on the new one.
            let sid = *self.sid.borrow();
            if let (Link::Ws(ws), Some(id)) = (&mut link, sid) {
                match claim(ws, id, &self.opts).await {
                    Ok(()) => {
                        tracing::info!(session = id, "reconnected to Janus and claimed the session")
                    }
                    Err(e) => {
                        let _ = self.gone.send(Some(format!(
                            "reconnected to Janus, but the session is gone: {e}"
                        )));
                        self.fail_pending();
                        return;
                    }
                }
            }
        }
    }

    fn fail_pending(&self) {
        // Dropping the waiters wakes their requests with "connection closed".
        self.routes.lock().expect("routes lock").pending.clear();
    }

    async fn run_ws(
        &mut self,
        ws: &mut Ws,
        out: &mut mpsc::UnboundedReceiver<Value>,
        mut owed: Option<Value>,
    ) -> LinkEnd {
        let mut closing = self.closing.clone();
        loop {
            if let Some(msg) = owed.take() {
                if ws.send(Message::text(msg.to_string())).await.is_err() {
                    return LinkEnd::Lost(Some(msg));
                }
                continue;
            }
            tokio::select! {
                m = out.recv() => match m {
                    Some(msg) => owed = Some(msg),
                    None => { let _ = ws.close(None).await; return LinkEnd::Done; }
                },
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(t))) => self.deliver(&t),
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return LinkEnd::Lost(None),
                    Some(Ok(_)) => {}
                },
                _ = closed(&mut closing) => {
                    // Write what is queued (the destroy), then close.
                    while let Ok(msg) = out.try_recv() {
                        let _ = ws.send(Message::text(msg.to_string())).await;
                    }
                    let _ = ws.close(None).await;
                    return LinkEnd::Done;
                }
            }
        }
    }

    async fn run_http(
        &mut self,
        link: &mut HttpLink,
        out: &mut mpsc::UnboundedReceiver<Value>,
        mut owed: Option<Value>,
    ) -> LinkEnd {
        let (poll_tx, mut poll_rx) = mpsc::unbounded_channel::<Result<Value, HttpError>>();
        let poller = link.spawn_poll(poll_tx);
        let mut closing = self.closing.clone();
        let end = loop {
            if let Some(msg) = owed.take() {
                match link.post(&msg).await {
                    Ok(reply) => route(&self.routes, Some(&self.gone), reply),
                    Err(e) => {
                        tracing::debug!("Janus HTTP request failed: {e}");
                        break LinkEnd::Lost(Some(msg));
                    }
                }
                continue;
            }
            tokio::select! {
                m = out.recv() => match m {
                    Some(msg) => owed = Some(msg),
                    None => break LinkEnd::Done,
                },
                ev = poll_rx.recv() => match ev {
                    Some(Ok(v)) => route(&self.routes, Some(&self.gone), v),
                    Some(Err(e)) => { tracing::debug!("Janus long poll failed: {e}"); break LinkEnd::Lost(None) }
                    None => break LinkEnd::Lost(None),
                },
                _ = closed(&mut closing) => {
                    while let Ok(msg) = out.try_recv() {
                        let _ = link.post(&msg).await;
                    }
                    break LinkEnd::Done;
                }
            }
        };
        poller.abort();
        end
    }

    fn deliver(&self, text: &str) {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => route(&self.routes, Some(&self.gone), v),
            Err(e) => tracing::warn!("ignoring an unreadable Janus message: {e}"),
        }
    }
}

/// Claims session `id` on a fresh WebSocket.
async fn claim(ws: &mut Ws, id: u64, opts: &JanusOptions) -> Result<(), SignalingError> {
    let mut msg = json!({ "janus": "claim", "session_id": id, "transaction": "claim" });
    merge(&mut msg, &auth_fields(opts));
    ws.send(Message::text(msg.to_string()))
        .await
        .map_err(|e| SignalingError::lost_by("sending the claim", e))?;
    let answer = tokio::time::timeout(opts.timeout, async {
        while let Some(frame) = ws.next().await {
            if let Ok(Message::Text(t)) = frame
                && let Ok(v) = serde_json::from_str::<Value>(&t)
                && v["transaction"] == "claim"
            {
                return Some(v);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(|| SignalingError::lost("no answer to the claim"))?;
    Incoming::read(answer)
        .ok_or_else(|| SignalingError::protocol("an unreadable answer to the claim"))
        .and_then(check)
        .map(drop)
}

/// Janus's HTTP transport: requests are POSTs answered in their response; events come from
/// a long poll (GET on the session) running beside them.
struct HttpLink {
    base: String,
    sid: watch::Receiver<Option<u64>>,
    agent: ureq::Agent,
    query: String,
}

impl HttpLink {
    fn new(base: &str, sid: watch::Receiver<Option<u64>>, opts: &JanusOptions) -> HttpLink {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(super::tls_config())
            .timeout_global(Some(Duration::from_secs(45).max(opts.timeout)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("maxev", "10");
        if let Some(t) = &opts.token {
            query.append_pair("token", t);
        }
        if let Some(s) = &opts.api_secret {
            query.append_pair("apisecret", s);
        }
        let query = query.finish();
        HttpLink {
            base: base.to_owned(),
            sid,
            agent,
            query,
        }
    }

    async fn check(&self) -> Result<(), SignalingError> {
        let url = format!("{}/info", self.base);
        let agent = self.agent.clone();
        let r = tokio::task::spawn_blocking(move || agent.get(&url).call())
            .await
            .map_err(|e| SignalingError::protocol_by("the HTTP request's task", e))?;
        match r {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => Err(SignalingError::unreachable(format!(
                "{}: HTTP {} (is this Janus's HTTP API path?)",
                self.base,
                resp.status()
            ))),
            Err(e) => Err(SignalingError::unreachable_by(self.base.clone(), e)),
        }
    }

    /// POSTs one request to the path its ids name, and returns the reply.
    async fn post(&self, msg: &Value) -> Result<Value, HttpError> {
        let mut url = self.base.clone();
        if let Some(s) = msg["session_id"].as_u64() {
            url.push_str(&format!("/{s}"));
            if let Some(h) = msg["handle_id"].as_u64() {
                url.push_str(&format!("/{h}"));
            }
        }
        let agent = self.agent.clone();
        let body = msg.clone();
        tokio::task::spawn_blocking(move || -> Result<Value, HttpError> {
            let mut resp = agent.post(&url).send_json(&body)?;
            Ok(resp.body_mut().read_json::<Value>()?)
        })
        .await?
    }

    /// Starts the long poll; each event (or the error that ended it) goes to `tx`.
    fn spawn_poll(
        &self,
        tx: mpsc::UnboundedSender<Result<Value, HttpError>>,
    ) -> tokio::task::JoinHandle<()> {
        let mut sid = self.sid.clone();
        let agent = self.agent.clone();
        let base = self.base.clone();
        let query = self.query.clone();
        tokio::spawn(async move {
            let Ok(id) = sid
                .wait_for(|s| s.is_some())
                .await
                .map(|s| s.expect("some"))
            else {
                return;
            };
            let url = format!("{base}/{id}?{query}");
            loop {
                let agent = agent.clone();
                let url = url.clone();
                let r = tokio::task::spawn_blocking(move || -> Result<Value, HttpError> {
                    let mut resp = agent.get(&url).call()?;
                    Ok(resp.body_mut().read_json::<Value>()?)
                })
                .await
                .unwrap_or_else(|e| Err(e.into()));
                match r {
                    Ok(Value::Array(events)) => {
                        for e in events {
                            if tx.send(Ok(e)).is_err() {
                                return;
                            }
                        }
                    }
                    Ok(v) => {
                        if tx.send(Ok(v)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        })
    }
}

/// The SDP of a `jsep` of the expected type.
pub(crate) fn sdp_of(jsep: Option<Jsep>, kind: &str) -> Result<String, SignalingError> {
    let jsep = jsep.ok_or_else(|| SignalingError::protocol(format!("Janus sent no {kind}")))?;
    if jsep.kind != kind {
        return Err(SignalingError::protocol(format!(
            "Janus sent a {:?} where an {kind} was expected",
            jsep.kind
        )));
    }
    Ok(jsep.sdp)
}

/// A call to the EchoTest plugin: what we send comes back.
pub struct EchoTest {
    session: JanusSession,
    handle: u64,
}

impl EchoTest {
    /// Creates a session, attaches the plugin and hands it `offer`; returns Janus's answer.
    pub async fn start(
        opts: &JanusOptions,
        offer: String,
    ) -> Result<(EchoTest, String), SignalingError> {
        let session = JanusSession::connect(opts).await?;
        let started = async {
            let handle = session.attach("janus.plugin.echotest").await?;
            let (_, jsep) = session
                .message(
                    handle.id,
                    &json!({ "audio": true, "video": true }),
                    Some(Jsep::offer(offer)),
                )
                .await?;
            Ok::<_, SignalingError>((handle.id, sdp_of(jsep, "answer")?))
        }
        .await;
        match started {
            Ok((handle, answer)) => Ok((EchoTest { session, handle }, answer)),
            Err(e) => {
                session.destroy().await;
                Err(e)
            }
        }
    }

    pub async fn stop(&self) {
        if let Err(e) = self.session.detach(self.handle).await {
            tracing::debug!("detaching the EchoTest handle: {e}");
        }
        self.session.destroy().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming(v: Value) -> Incoming {
        Incoming::read(v).expect("Janus's JSON")
    }

    #[test]
    fn endpoints() {
        let at = |u: &str| endpoint(&ServerUrl::parse(u).unwrap()).unwrap();
        assert_eq!(
            at("janus+ws://127.0.0.1:8188"),
            Endpoint::Ws("ws://127.0.0.1:8188".into())
        );
        assert_eq!(
            at("janus+http://h:8088"),
            Endpoint::Http("http://h:8088/janus".into())
        );
        assert_eq!(
            at("janus+https://h/api/janus/"),
            Endpoint::Http("https://h/api/janus".into())
        );
    }

    #[test]
    fn routing_waits_past_ack_and_routes_events_by_sender() {
        let routes = Mutex::new(Routes::default());
        let (tx, mut rx) = oneshot::channel();
        routes.lock().unwrap().pending.insert(
            "t1".into(),
            Waiter {
                tx,
                ack_done: false,
            },
        );
        let (htx, mut hrx) = mpsc::unbounded_channel();
        routes.lock().unwrap().handles.insert(7, htx);
        route(&routes, None, json!({"janus": "ack", "transaction": "t1"}));
        assert!(rx.try_recv().is_err());
        route(
            &routes,
            None,
            json!({"janus": "event", "sender": 7, "plugindata": {}}),
        );
        assert_eq!(hrx.try_recv().unwrap().sender, Some(7));
        route(
            &routes,
            None,
            json!({"janus": "event", "transaction": "t1", "sender": 7}),
        );
        assert_eq!(rx.try_recv().unwrap().janus, "event");
        assert!(routes.lock().unwrap().pending.is_empty());
    }

    #[test]
    fn errors_map_to_kinds() {
        let e = check(incoming(
            json!({"janus": "error", "error": {"code": 403, "reason": "Unauthorized"}}),
        ));
        assert!(matches!(e, Err(SignalingError::Auth(_))));
        let e = check(incoming(
            json!({"janus": "event", "plugindata": {"data": {"error_code": 426, "error": "No such room"}}}),
        ));
        assert!(matches!(e, Err(SignalingError::SessionNotFound(_))));
        let e = check(incoming(
            json!({"janus": "event", "plugindata": {"data": {"error_code": 433, "error": "wrong pin"}}}),
        ));
        assert!(matches!(e, Err(SignalingError::Auth(_))));
        assert!(check(incoming(json!({"janus": "success"}))).is_ok());
    }
}
