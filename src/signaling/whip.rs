//! WHIP (RFC 9725, publishing) and WHEP (playback): one peer connection negotiated over
//! HTTP, without a session. The client POSTs its offer to the endpoint, gets the answer and a
//! resource (`Location`, `ETag`), restarts ICE with PATCH (`application/trickle-ice-sdpfrag`)
//! and ends with DELETE. The pure parts (URLs, `Link` ICE servers, SDP fragments) are shared
//! with the server side (`server::whip`).
//!
//! vcall offers once gathering completes or [`TRICKLE_AFTER`] has passed (host candidates take
//! no time, so on a LAN the offer carries them all); candidates found later (STUN, TURN) wait
//! for the resource and go by PATCH (`If-Match` its ETag), as does an ICE restart. A server
//! that answers 405/501/422 to PATCH gets no more of them.

use crate::causes::Causes;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::session::{Connection, SessionEvent, Stream, StreamId, now_ms};
use crate::signaling::SignalingError;
pub use crate::signaling::server_url::Role;
use crate::signaling::server_url::ServerUrl;

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Whip => "WHIP",
            Role::Whep => "WHEP",
        }
    }
}

/// Commands that need a session (events, other participants) have none on WHIP/WHEP.
pub fn refuse(url: &ServerUrl, command: &str) -> Result<(), SignalingError> {
    if !matches!(url, ServerUrl::Whip(..)) {
        return Ok(());
    }
    Err(SignalingError::usage(format!(
        "{command} needs a session, and WHIP/WHEP ({url}) has none: it carries one stream \
         one way. Use `vcall publish` with a whip+ URL or `vcall subscribe` with a whep+ URL"
    )))
}

/// ICE servers in vcall's form (`turn:user:pass@host:port`) from `Link` header values
/// (RFC 9725 §4.6): `<turn:host:3478>; rel="ice-server"; username="u"; credential="p"`.
pub fn ice_servers_from_links<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut servers = Vec::new();
    for value in values {
        for link in split_outside_quotes(value, ',') {
            let mut parts = split_outside_quotes(&link, ';').into_iter();
            let Some(target) = parts.next() else { continue };
            let Some(target) = target
                .trim()
                .strip_prefix('<')
                .and_then(|t| t.strip_suffix('>'))
            else {
                continue;
            };
            let mut params = std::collections::HashMap::new();
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    params.insert(
                        k.trim().to_ascii_lowercase(),
                        v.trim().trim_matches('"').to_owned(),
                    );
                }
            }
            if !params
                .get("rel")
                .is_some_and(|r| r.eq_ignore_ascii_case("ice-server"))
            {
                continue;
            }
            let Some((scheme, rest)) = target.split_once(':') else {
                continue;
            };
            if !matches!(scheme, "stun" | "stuns" | "turn" | "turns") {
                continue;
            }
            servers.push(match (params.get("username"), params.get("credential")) {
                (Some(user), Some(pass)) => format!("{scheme}:{user}:{pass}@{rest}"),
                _ => target.to_owned(),
            });
        }
    }
    servers
}

/// A `Link` header value for one of vcall's ICE server strings.
pub fn link_for(server: &str) -> String {
    if let Some((scheme, rest)) = server.split_once(':')
        && let Some((creds, host)) = rest.rsplit_once('@')
        && let Some((user, pass)) = creds.split_once(':')
    {
        return format!(
            "<{scheme}:{host}>; rel=\"ice-server\"; username=\"{user}\"; credential=\"{pass}\"; credential-type=\"password\""
        );
    }
    format!("<{server}>; rel=\"ice-server\"")
}

fn split_outside_quotes(s: &str, sep: char) -> Vec<String> {
    let (mut parts, mut cur, mut quoted, mut angled) = (Vec::new(), String::new(), false, false);
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angled = true,
            '>' if !quoted => angled = false,
            c if c == sep && !quoted && !angled => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    parts.retain(|p| !p.trim().is_empty());
    parts
}

/// The ICE part of a description: credentials and candidates, as an SDP fragment carries
/// them (RFC 8840).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IceFragment {
    pub ufrag: String,
    pub pwd: String,
    /// The first media section's `mid` (with BUNDLE, every section shares its transport).
    pub mid: Option<String>,
    /// `a=candidate:` values.
    pub candidates: Vec<String>,
}

impl IceFragment {
    /// The ICE part of a whole SDP (session- or media-level credentials, the candidates of
    /// every section, each once).
    pub fn of_sdp(sdp: &str) -> IceFragment {
        let mut f = IceFragment::default();
        for line in sdp.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("a=ice-ufrag:") {
                if f.ufrag.is_empty() {
                    f.ufrag = v.to_owned();
                }
            } else if let Some(v) = line.strip_prefix("a=ice-pwd:") {
                if f.pwd.is_empty() {
                    f.pwd = v.to_owned();
                }
            } else if let Some(v) = line.strip_prefix("a=mid:") {
                f.mid.get_or_insert_with(|| v.to_owned());
            } else if let Some(v) = line.strip_prefix("a=candidate:")
                && !f.candidates.iter().any(|c| c == v)
            {
                f.candidates.push(v.to_owned());
            }
        }
        f
    }

    /// Reads an `application/trickle-ice-sdpfrag` body.
    pub fn parse(text: &str) -> Result<IceFragment, String> {
        if text.len() > 64 * 1024 {
            return Err("the fragment is larger than 64 KiB".into());
        }
        let f = IceFragment::of_sdp(text);
        if !text
            .lines()
            .map(str::trim)
            .all(|l| l.is_empty() || l.as_bytes().get(1) == Some(&b'='))
        {
            return Err("not an SDP fragment (every line is TYPE=VALUE)".into());
        }
        Ok(f)
    }

    /// The fragment's text: credentials, then one media line with its `mid` and candidates.
    pub fn to_sdpfrag(&self) -> String {
        let mut s = format!("a=ice-ufrag:{}\r\na=ice-pwd:{}\r\n", self.ufrag, self.pwd);
        s.push_str("m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n");
        if let Some(mid) = &self.mid {
            s.push_str(&format!("a=mid:{mid}\r\n"));
        }
        for c in &self.candidates {
            s.push_str(&format!("a=candidate:{c}\r\n"));
        }
        s.push_str("a=end-of-candidates\r\n");
        s
    }

    /// `sdp` with this fragment's credentials in place of its own, and its candidates (in the
    /// first media section) in place of the old ones: a whole description again.
    pub fn apply_to(&self, sdp: &str) -> String {
        let mut out = String::with_capacity(sdp.len());
        let mut first_media_seen = false;
        let mut placed = false;
        for line in sdp.lines() {
            let line = line.trim_end_matches('\r');
            if line.starts_with("a=candidate:") || line == "a=end-of-candidates" {
                continue;
            }
            if line.starts_with("m=") {
                if first_media_seen && !placed {
                    self.push_candidates(&mut out);
                    placed = true;
                }
                first_media_seen = true;
            }
            if line.starts_with("a=ice-ufrag:") {
                out.push_str(&format!("a=ice-ufrag:{}\r\n", self.ufrag));
            } else if line.starts_with("a=ice-pwd:") {
                out.push_str(&format!("a=ice-pwd:{}\r\n", self.pwd));
            } else {
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
        if !placed {
            self.push_candidates(&mut out);
        }
        out
    }

    fn push_candidates(&self, out: &mut String) {
        for c in &self.candidates {
            out.push_str(&format!("a=candidate:{c}\r\n"));
        }
        out.push_str("a=end-of-candidates\r\n");
    }
}

/// How to reach a WHIP or WHEP endpoint.
#[derive(Debug, Clone)]
pub struct Options {
    pub url: ServerUrl,
    /// Sent as `Authorization: Bearer` when not empty.
    pub token: String,
    /// Limit for each request.
    pub timeout: Duration,
    /// Attempts after a `503 Service Unavailable`.
    pub max_retries: u32,
    /// The wait after a 503 without `Retry-After`.
    pub retry_delay: Duration,
}

/// The resource the endpoint made for this client.
#[derive(Debug, Clone, Default)]
struct Resource {
    url: Option<url::Url>,
    etag: Option<String>,
    /// The server's last answer, for rebuilding a whole one from an ICE restart's fragment.
    answer: String,
    /// Whether the server takes PATCH (it said 405/501/422 once: not).
    patchable: bool,
}

/// An HTTP response, read whole.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    /// Where it came from, after redirects.
    url: url::Url,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How long an offer waits for gathering before it goes, the rest trickled after it.
pub const TRICKLE_AFTER: Duration = Duration::from_millis(250);

/// At most this many redirects are followed.
const MAX_REDIRECTS: usize = 5;
/// A `Retry-After` longer than this is cut to it.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// One WHIP or WHEP client: at most one resource.
pub struct WhipClient {
    pub role: Role,
    endpoint: url::Url,
    opts: Options,
    agent: ureq::Agent,
    resource: Mutex<Resource>,
    events: mpsc::UnboundedSender<SessionEvent>,
    /// This client, and the streams there are, as `sessionConnected` said.
    me: Connection,
    streams: Vec<Stream>,
    /// ICE servers the endpoint named in its `Link` headers (vcall's form).
    pub ice_servers: Mutex<Vec<String>>,
}

impl WhipClient {
    /// A client for the endpoint, and a session as vcall's commands see one: the client
    /// alone, and (WHEP) the one stream the endpoint plays. Nothing is sent yet.
    pub fn new(
        opts: Options,
    ) -> Result<
        (
            WhipClient,
            SessionEvent,
            mpsc::UnboundedReceiver<SessionEvent>,
        ),
        SignalingError,
    > {
        let ServerUrl::Whip(role, endpoint) = opts.url.clone() else {
            return Err(SignalingError::usage(format!(
                "{}: not a WHIP or WHEP URL",
                opts.url
            )));
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(super::tls_config())
            .timeout_global(Some(opts.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let me = Connection {
            id: "local".into(),
            data: String::new(),
            client_data: String::new(),
            created_at: now_ms(),
        };
        let streams = match role {
            Role::Whip => vec![],
            Role::Whep => vec![Stream {
                id: endpoint.to_string().into(),
                name: endpoint.path().to_owned(),
                has_audio: true,
                has_video: true,
                connection_id: "remote".into(),
                created_at: now_ms(),
                path: crate::session::MediaPath::Routed,
                owner: String::new(),
            }],
        };
        let first = SessionEvent::SessionConnected {
            session_id: endpoint.to_string().into(),
            connection: me.clone(),
            connection_count: 1,
            connections: vec![me.clone()],
            streams: streams.clone(),
            p2p: false,
        };
        let (events, rx) = mpsc::unbounded_channel();
        Ok((
            WhipClient {
                role,
                endpoint,
                opts,
                agent,
                resource: Mutex::new(Resource::default()),
                events,
                me,
                streams,
                ice_servers: Mutex::new(Vec::new()),
            },
            first,
            rx,
        ))
    }

    /// POSTs `offer`; returns the resource's URL (the stream's id) and the answer.
    pub async fn offer(&self, offer: String) -> Result<(String, String), SignalingError> {
        if self.resource.lock().expect("resource lock").url.is_some() {
            return Err(SignalingError::usage(format!(
                "{}: one stream per {} resource",
                self.endpoint,
                self.role.name()
            )));
        }
        let mut attempt = 0;
        let reply = loop {
            let reply = self
                .send(
                    "POST",
                    self.endpoint.clone(),
                    &[],
                    Some(("application/sdp", offer.clone())),
                )
                .await?;
            if reply.status == 503 && attempt < self.opts.max_retries {
                attempt += 1;
                let wait = reply
                    .header("retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
                    .unwrap_or(self.opts.retry_delay)
                    .min(MAX_RETRY_AFTER);
                tracing::warn!(
                    "{}: the server is unavailable (503); trying again in {wait:?} ({attempt} of {})",
                    reply.url,
                    self.opts.max_retries
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            break reply;
        };
        if reply.status != 201 {
            return Err(self.status_error("offer", &reply));
        }
        if !reply
            .header("content-type")
            .is_some_and(|t| t.trim().starts_with("application/sdp"))
            || !reply.body.trim_start().starts_with("v=")
        {
            return Err(SignalingError::protocol(format!(
                "{}: the 201 response is not an SDP answer (Content-Type {:?})",
                reply.url,
                reply.header("content-type").unwrap_or("none")
            )));
        }
        let location = reply.header("location").ok_or_else(|| {
            SignalingError::protocol(format!(
                "{}: the 201 response has no Location header",
                reply.url
            ))
        })?;
        let resource = reply.url.join(location).map_err(|e| {
            SignalingError::protocol_by(format!("{}: Location {location:?}", reply.url), e)
        })?;
        let servers = ice_servers_from_links(
            reply
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("link"))
                .map(|(_, v)| v.as_str()),
        );
        if !servers.is_empty() {
            tracing::info!(?servers, "ICE servers from the endpoint's Link headers");
        }
        *self.ice_servers.lock().expect("ice servers lock") = servers;
        tracing::info!(resource = %resource, "{} resource created", self.role.name());
        *self.resource.lock().expect("resource lock") = Resource {
            url: Some(resource.clone()),
            etag: reply.header("etag").map(str::to_owned),
            answer: reply.body.clone(),
            patchable: true,
        };
        Ok((resource.to_string(), reply.body))
    }

    /// Publishing (WHIP): POSTs the offer; the stream counts as created once its media
    /// connects (there is nobody to confirm it otherwise).
    pub async fn publish(
        &self,
        name: &str,
        (has_audio, has_video): (bool, bool),
        offer: String,
    ) -> Result<(StreamId, String), SignalingError> {
        let (id, answer) = self.offer(offer).await?;
        let id = StreamId::from(id);
        let _ = self.events.send(SessionEvent::StreamCreated {
            stream: Stream {
                id: id.clone(),
                name: name.to_owned(),
                has_audio,
                has_video,
                connection_id: "local".into(),
                created_at: now_ms(),
                path: crate::session::MediaPath::Routed,
                owner: String::new(),
            },
        });
        Ok((id, answer))
    }

    /// Restarts ICE: PATCHes the offer's credentials and candidates (`If-Match: *`) and
    /// returns the whole answer rebuilt from the server's fragment.
    pub async fn restart_ice(&self, offer: String) -> Result<String, SignalingError> {
        let (url, previous) = {
            let r = self.resource.lock().expect("resource lock");
            match (&r.url, r.patchable) {
                (Some(url), true) => (url.clone(), r.answer.clone()),
                (Some(_), false) => {
                    return Err(SignalingError::usage(
                        "the endpoint does not take PATCH, so ICE cannot be restarted",
                    ));
                }
                (None, _) => {
                    return Err(SignalingError::protocol("no resource to restart"));
                }
            }
        };
        let fragment = IceFragment::of_sdp(&offer).to_sdpfrag();
        let reply = self
            .send(
                "PATCH",
                url,
                &[("If-Match", "*".into())],
                Some(("application/trickle-ice-sdpfrag", fragment)),
            )
            .await?;
        if matches!(reply.status, 405 | 501 | 422) {
            self.resource.lock().expect("resource lock").patchable = false;
            return Err(SignalingError::usage(format!(
                "the endpoint does not restart ICE (PATCH answered {})",
                reply.status
            )));
        }
        if reply.status == 404 {
            self.gone("the endpoint no longer has the resource");
        }
        if reply.status != 200 {
            return Err(self.status_error("ICE restart", &reply));
        }
        let theirs = IceFragment::parse(&reply.body)
            .map_err(|e| SignalingError::protocol_by("the ICE restart's answer", e))?;
        let answer = theirs.apply_to(&previous);
        let mut r = self.resource.lock().expect("resource lock");
        if let Some(etag) = reply.header("etag") {
            r.etag = Some(etag.to_owned());
        }
        r.answer = answer.clone();
        Ok(answer)
    }

    /// The far end ended the resource (its stream ended, or it was deleted): the stream is
    /// over, and there is nothing to DELETE.
    fn gone(&self, why: &str) {
        let url = self.resource.lock().expect("resource lock").url.take();
        let Some(url) = url else { return };
        tracing::info!(resource = %url, "{why}");
        let id = match self.role {
            Role::Whip => url.to_string(),
            Role::Whep => self.endpoint.to_string(),
        };
        let _ = self.events.send(SessionEvent::StreamDestroyed {
            stream: Stream {
                id: id.into(),
                name: String::new(),
                has_audio: true,
                has_video: true,
                connection_id: Default::default(),
                created_at: now_ms(),
                path: crate::session::MediaPath::Routed,
                owner: String::new(),
            },
            reason: "resourceGone".into(),
        });
    }

    /// Sends by PATCH the candidates gathered after `offer` went out, as they come, and
    /// `a=end-of-candidates` when gathering completes; stops when the server does not take
    /// PATCH or the resource ends.
    pub fn trickle(
        self: &std::sync::Arc<Self>,
        offer: &str,
        mut local: tokio::sync::watch::Receiver<Vec<String>>,
        mut gathered: tokio::sync::watch::Receiver<bool>,
    ) {
        let this = std::sync::Arc::clone(self);
        let offered = IceFragment::of_sdp(offer);
        tokio::spawn(async move {
            let mut sent: Vec<String> = offered.candidates.clone();
            loop {
                let done = *gathered.borrow_and_update();
                let fresh: Vec<String> = local
                    .borrow_and_update()
                    .iter()
                    .filter(|c| !sent.contains(c))
                    .cloned()
                    .collect();
                if !fresh.is_empty() || done {
                    let fragment = IceFragment {
                        candidates: fresh.clone(),
                        ..offered.clone()
                    };
                    match this.patch_candidates(&fragment, done).await {
                        Ok(true) => sent.extend(fresh),
                        Ok(false) => return,
                        Err(e) => {
                            tracing::warn!("trickling candidates: {}", Causes(&e));
                            return;
                        }
                    }
                }
                if done {
                    return;
                }
                tokio::select! {
                    r = local.changed() => if r.is_err() { return },
                    r = gathered.changed() => if r.is_err() { return },
                }
            }
        });
    }

    /// One trickle PATCH; `Ok(false)` when there is no use sending more.
    async fn patch_candidates(
        &self,
        fragment: &IceFragment,
        end: bool,
    ) -> Result<bool, SignalingError> {
        let (url, etag) = {
            let r = self.resource.lock().expect("resource lock");
            match (&r.url, r.patchable) {
                (Some(url), true) => (url.clone(), r.etag.clone().unwrap_or_else(|| "*".into())),
                _ => return Ok(false),
            }
        };
        let mut body = fragment.to_sdpfrag();
        if !end {
            body = body.replace("a=end-of-candidates\r\n", "");
        }
        let reply = self
            .send(
                "PATCH",
                url,
                &[("If-Match", etag)],
                Some(("application/trickle-ice-sdpfrag", body)),
            )
            .await?;
        match reply.status {
            200..=299 => {
                tracing::info!(
                    "trickled {} candidate(s){}",
                    fragment.candidates.len(),
                    if end { ", end of candidates" } else { "" }
                );
                Ok(true)
            }
            405 | 501 | 422 => {
                tracing::info!(
                    "the endpoint does not take trickled candidates ({})",
                    reply.status
                );
                self.resource.lock().expect("resource lock").patchable = false;
                Ok(false)
            }
            _ => Err(self.status_error("trickle", &reply)),
        }
    }

    /// Sets the media connection up anew (it never came up): the resource is deleted, and
    /// the command, told `reconnecting` and `reconnected`, makes a new one with a new
    /// connection's offer.
    pub async fn set_up_again(&self, reason: crate::session::Reason) {
        let _ = self.events.send(SessionEvent::Reconnecting {
            reason,
            attempt: 1,
            max_attempts: 1,
        });
        self.disconnect().await;
        let _ = self.events.send(SessionEvent::Reconnected {
            connection: self.me.clone(),
            connection_count: 1,
            streams: self.streams.clone(),
        });
    }

    /// Ends the resource (DELETE), once; errors are logged, not returned: the command is
    /// ending anyway.
    pub async fn disconnect(&self) {
        let url = self.resource.lock().expect("resource lock").url.take();
        let Some(url) = url else { return };
        match self.send("DELETE", url.clone(), &[], None).await {
            Ok(r) if (200..300).contains(&r.status) => {
                tracing::info!(resource = %url, "{} resource deleted", self.role.name());
            }
            Ok(r) => tracing::warn!("{url}: DELETE answered {}: {}", r.status, r.body.trim()),
            Err(e) => tracing::warn!("{url}: DELETE failed: {}", Causes(&e)),
        }
    }

    /// Sends one request, following 307/308 redirects with the same method and body.
    async fn send(
        &self,
        method: &'static str,
        url: url::Url,
        extra: &[(&'static str, String)],
        body: Option<(&'static str, String)>,
    ) -> Result<Reply, SignalingError> {
        let mut headers: Vec<(&'static str, String)> = extra.to_vec();
        if !self.opts.token.is_empty() {
            headers.push(("Authorization", format!("Bearer {}", self.opts.token)));
        }
        if let Some((ctype, _)) = &body {
            headers.push(("Content-Type", (*ctype).to_owned()));
        }
        let body = body.map(|(_, b)| b);
        let mut url = url;
        for _ in 0..=MAX_REDIRECTS {
            let agent = self.agent.clone();
            let (h, b, u) = (headers.clone(), body.clone(), url.clone());
            let reply = tokio::task::spawn_blocking(move || request(&agent, method, u, &h, b))
                .await
                .map_err(|e| SignalingError::protocol_by("the HTTP request's task", e))??;
            if matches!(reply.status, 307 | 308) {
                let to = reply.header("location").ok_or_else(|| {
                    SignalingError::protocol(format!(
                        "{url}: redirect {} without a Location",
                        reply.status
                    ))
                })?;
                let next = url.join(to).map_err(|e| {
                    SignalingError::protocol_by(format!("{url}: redirect to {to:?}"), e)
                })?;
                tracing::info!("{method} {url}: redirected ({}) to {next}", reply.status);
                url = next;
                continue;
            }
            return Ok(reply);
        }
        Err(SignalingError::protocol(format!(
            "{url}: more than {MAX_REDIRECTS} redirects"
        )))
    }

    /// What an unexpected status means, as one of vcall's errors.
    fn status_error(&self, what: &str, r: &Reply) -> SignalingError {
        let body = r.body.trim();
        let said = if body.is_empty() {
            String::new()
        } else {
            format!(": {}", body.chars().take(300).collect::<String>())
        };
        let text = format!(
            "{} {what} at {}: HTTP {}{said}",
            self.role.name(),
            r.url,
            r.status
        );
        match r.status {
            401 | 403 => SignalingError::Auth(text),
            404 => SignalingError::NotFound(text),
            406 | 415 | 422 | 400 => SignalingError::Refused(format!(
                "{text} (the endpoint refused the offer: its media, codecs or format)"
            )),
            429 | 503 => SignalingError::Busy(text),
            _ if r.status >= 500 => SignalingError::Server(text),
            _ => SignalingError::protocol(text),
        }
    }
}

/// One blocking HTTP request, no redirects followed.
fn request(
    agent: &ureq::Agent,
    method: &str,
    url: url::Url,
    headers: &[(&str, String)],
    body: Option<String>,
) -> Result<Reply, SignalingError> {
    let unreachable = |e: ureq::Error| SignalingError::unreachable_by(url.to_string(), e);
    let mut builder = ureq::http::Request::builder()
        .method(method)
        .uri(url.as_str());
    for (k, v) in headers {
        builder = builder.header(*k, v);
    }
    let request = builder
        .body(body.unwrap_or_default())
        .map_err(|e| SignalingError::usage_by(url.to_string(), e))?;
    let mut resp = agent.run(request).map_err(unreachable)?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let body = resp
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .map_err(unreachable)?;
    Ok(Reply {
        status,
        headers,
        body,
        url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn link_headers_become_ice_servers_with_credentials() {
        let servers = ice_servers_from_links([
            "<stun:stun.example.net>; rel=\"ice-server\"",
            "<turn:turn.example.net:3478?transport=udp>; rel=\"ice-server\"; username=\"u\"; credential=\"p;w,d\"; credential-type=\"password\", <https://x>; rel=\"next\"",
        ]);
        assert_eq!(
            servers,
            [
                "stun:stun.example.net",
                "turn:u:p;w,d@turn.example.net:3478?transport=udp"
            ]
        );
        // And back: what the server sends for its --ice-server list reads the same.
        for s in [
            "stun:stun.example.net:3478",
            "turn:user:secret@10.0.0.1:3478",
        ] {
            assert_eq!(ice_servers_from_links([link_for(s).as_str()]), [s]);
        }
    }

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ice-ufrag:old\r\na=ice-pwd:oldpwd\r\n\
        a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=mid:1\r\na=ice-ufrag:old\r\na=ice-pwd:oldpwd\r\n\
        a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n";

    #[test]
    fn a_fragment_carries_the_ice_part_and_goes_back_into_a_description() {
        let f = IceFragment::of_sdp(OFFER);
        assert_eq!((f.ufrag.as_str(), f.pwd.as_str()), ("old", "oldpwd"));
        assert_eq!(f.mid.as_deref(), Some("0"));
        assert_eq!(f.candidates.len(), 1);
        let text = f.to_sdpfrag();
        assert_eq!(IceFragment::parse(&text).unwrap(), f);

        let new = IceFragment {
            ufrag: "new".into(),
            pwd: "newpwd".into(),
            mid: Some("0".into()),
            candidates: vec!["2 1 udp 2130706431 127.0.0.2 6000 typ host".into()],
        };
        let sdp = new.apply_to(OFFER);
        assert!(!sdp.contains("old"));
        assert_eq!(sdp.matches("a=ice-ufrag:new").count(), 2);
        assert_eq!(sdp.matches("a=candidate:").count(), 1);
        let audio = sdp.split("m=video").next().unwrap();
        assert!(audio.contains("127.0.0.2 6000"));
        assert_eq!(IceFragment::of_sdp(&sdp), new);
    }

    #[test]
    fn a_fragment_that_is_not_sdp_is_refused() {
        assert!(IceFragment::parse("hello world").is_err());
        assert!(IceFragment::parse(&"a=x\r\n".repeat(20_000)).is_err());
    }

    proptest! {
        #[test]
        fn prop_any_link_header_or_fragment_is_read_without_panic(s in ".{0,300}") {
            let _ = ice_servers_from_links([s.as_str()]);
            if let Ok(f) = IceFragment::parse(&s) {
                let _ = f.apply_to(OFFER);
            }
            for prefix in ["", "janus+", "whip+", "whep+"] {
                let _ = ServerUrl::parse(&format!("{prefix}{s}"));
            }
        }
    }
}
