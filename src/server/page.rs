//! The page at `/`: the sessions, a WHEP player, the browser's camera published by WHIP
//! (`page/index.html`, built into the binary), and the small API it reads. Who may open it
//! (`Access`): anyone on this machine when the server listens on loopback only
//! (`open_locally`); otherwise the API key pair (HTTP Basic: the browser asks) or a token,
//! which shows its one session. `/metrics` follows the same rule but for tokens (its
//! figures are the whole server's).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::{AppState, Shared, api_authorized, api_error};
use crate::auth::{Role, SessionProps, TokenClaims, unix_now};
use crate::session::SessionId;
use crate::signaling::native::wire::{WireConnection, WireStream};

const PAGE: &str = include_str!("page/index.html");

/// How long a token the page is given lasts.
const PAGE_TOKEN_LIFETIME: u64 = 3600;

/// Who is asking.
pub(super) enum Access {
    /// Everything: a loopback-only server, or the API key pair.
    All,
    /// One session, as far as its token's role allows.
    Session(TokenClaims, String),
}

impl Access {
    /// Whether this access covers the whole server (not one session's token).
    pub(super) fn is_all(&self) -> bool {
        matches!(self, Access::All)
    }
}

/// Whether a request to a loopback-only server came from this machine as itself: `Host` a
/// loopback address or `localhost`, no proxy's `Forwarded`/`X-Forwarded-For`, and an
/// `Origin` (when a browser sends one) of the same kind. A page reached under another name
/// came through something else — a reverse proxy or tunnel, or a DNS name rebound to
/// 127.0.0.1 by a hostile site — and gets no open access.
pub(super) fn open_locally(state: &Shared, headers: &HeaderMap) -> bool {
    let local_name = |authority: &str| {
        let name = match authority.rsplit_once(':') {
            Some((name, port)) if port.parse::<u16>().is_ok() => name,
            _ => authority,
        };
        let name = name.trim_start_matches('[').trim_end_matches(']');
        name.eq_ignore_ascii_case("localhost")
            || name
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    };
    let text = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    state.local_only
        && !headers.contains_key(header::FORWARDED)
        && !headers.contains_key("x-forwarded-for")
        && text(header::HOST).is_some_and(local_name)
        && text(header::ORIGIN).is_none_or(|origin| {
            origin
                .split_once("://")
                .is_some_and(|(_, authority)| local_name(authority))
        })
}

/// Who is asking, from the headers (Basic key pair, Bearer token) or a `token` in the query.
pub(super) fn access(
    state: &Shared,
    headers: &HeaderMap,
    query_token: Option<&str>,
) -> Option<Access> {
    if open_locally(state, headers) || api_authorized(state, headers) {
        return Some(Access::All);
    }
    let token = super::whip::bearer(headers).or_else(|| query_token.map(str::to_owned))?;
    let claims = state
        .config
        .keys
        .verify_any_token(&token, unix_now())
        .ok()?;
    Some(Access::Session(claims, token))
}

/// 401 with a Basic challenge: a browser asks for the key pair.
pub(super) fn challenge(what: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"vcall\"")],
        format!(
            "{what} needs the API key pair (Basic: the key as user, the secret as password) or, for one session, ?token=: the server listens beyond loopback\n"
        ),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct TokenQuery {
    token: Option<String>,
}

pub(super) async fn index(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    match access(&state, &headers, q.token.as_deref()) {
        Some(_) => (
            [
                (header::CACHE_CONTROL, "no-store"),
                // Its own script and styles only; no frame may hold it (no clicks on its
                // Publish from another site's page).
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
                ),
            ],
            Html(PAGE),
        )
            .into_response(),
        None => challenge("this page"),
    }
}

/// `GET /v1/page/sessions`: every session with someone in it (or the token's one), with its
/// connections and live streams.
pub(super) async fn sessions(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(access) = access(&state, &headers, None) else {
        return challenge("the session list");
    };
    let t = state.tables.lock().expect("tables lock");
    let mut ids = match &access {
        Access::All => t.core.sessions(),
        Access::Session(claims, _) => vec![SessionId::from(claims.sid.clone())],
    };
    ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let sessions: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            let view = t.core.view(id);
            serde_json::json!({
                "sessionId": id,
                "connections": view.connections.iter().map(WireConnection::from).collect::<Vec<_>>(),
                "streams": view.streams.iter().map(WireStream::from).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(serde_json::json!({ "sessions": sessions, "all": access.is_all() })).into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct TokenRequest {
    session: String,
    role: Role,
    #[serde(default)]
    name: String,
}

/// `POST /v1/page/token`: a token for the page's player (subscriber) or camera (publisher).
/// With a session's token, that token, when it is for that session and its role allows.
pub(super) async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<TokenRequest>,
) -> Response {
    let Some(access) = access(&state, &headers, None) else {
        return challenge("a token");
    };
    if let Err(e) = state.config.keys.open_session(&req.session) {
        return api_error(StatusCode::NOT_FOUND, &e.to_string());
    }
    let token = match access {
        Access::All => {
            let now = unix_now();
            state.config.keys.create_token(&TokenClaims {
                iss: state.config.keys.key.clone(),
                sid: req.session,
                role: req.role,
                data: format!("page:{}", req.name),
                iat: now,
                exp: now + PAGE_TOKEN_LIFETIME,
            })
        }
        Access::Session(claims, token) => {
            let allowed = claims.sid == req.session
                && (req.role == Role::Subscriber || claims.role.may_publish());
            if !allowed {
                return api_error(
                    StatusCode::FORBIDDEN,
                    "the page's token does not allow that (another session, or publishing)",
                );
            }
            token
        }
    };
    Json(serde_json::json!({ "token": token })).into_response()
}

/// `POST /v1/page/session`: a new session (the whole server's access only).
pub(super) async fn new_session(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match access(&state, &headers, None) {
        Some(Access::All) => {}
        Some(Access::Session(..)) => {
            return api_error(
                StatusCode::FORBIDDEN,
                "a session's token cannot make sessions",
            );
        }
        None => return challenge("making a session"),
    }
    let props = SessionProps {
        p2p: false,
        location_hint: None,
        created_at: unix_now(),
        nonce: format!("{:08x}", rand::random::<u32>()),
    };
    Json(serde_json::json!({ "sessionId": state.config.keys.create_session(&props) }))
        .into_response()
}
