//! `--url`, parsed once (by clap, before any I/O) into which protocol it names and where,
//! with the `url` crate: hosts, ports, IPv6 literals and percent-escapes as URLs have them.

use std::fmt;

use url::Url;

use super::SignalingError;

/// Which way the media goes at a WHIP/WHEP endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// WHIP: vcall publishes.
    Whip,
    /// WHEP: vcall plays (subscribes).
    Whep,
}

/// A server a client command connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerUrl {
    /// vcall's own server: `ws://` or `wss://`.
    Native(Url),
    /// Janus (`janus+` taken off): its WebSocket API, or its HTTP API (at `/janus` when the
    /// URL names no path).
    Janus(Url),
    /// A WHIP or WHEP endpoint (`whip+`/`whep+` taken off): `http://` or `https://`.
    Whip(Role, Url),
    /// A LiveKit (or OpenVidu 3) server (`livekit+` taken off): `ws://` or `wss://`.
    LiveKit(Url),
}

impl ServerUrl {
    pub fn parse(text: &str) -> Result<ServerUrl, SignalingError> {
        if let Some(rest) = text.strip_prefix("janus+") {
            let bad = || {
                SignalingError::usage(format!(
                    "{text}: a Janus URL is janus+ws://HOST:8188, janus+wss://…, or janus+http(s)://HOST:8088/janus"
                ))
            };
            let mut url = with_host(rest, &["ws", "wss", "http", "https"]).ok_or_else(bad)?;
            if matches!(url.scheme(), "http" | "https") && url.path() == "/" {
                url.set_path("/janus");
            }
            return Ok(ServerUrl::Janus(url));
        }
        if let Some(rest) = text.strip_prefix("livekit+") {
            let url = with_host(rest, &["ws", "wss"]).ok_or_else(|| {
                SignalingError::usage(format!(
                    "{text}: a LiveKit URL is livekit+ws://HOST:7880 or livekit+wss://HOST"
                ))
            })?;
            return Ok(ServerUrl::LiveKit(url));
        }
        let http_media = (text.strip_prefix("whip+").map(|r| (Role::Whip, r)))
            .or_else(|| text.strip_prefix("whep+").map(|r| (Role::Whep, r)));
        if let Some((role, rest)) = http_media {
            let url = with_host(rest, &["http", "https"]).ok_or_else(|| {
                SignalingError::usage(format!(
                    "{text}: the scheme after whip+/whep+ must be http or https, with a host; \
                     a WHIP URL is whip+http(s)://HOST/PATH, a WHEP URL whep+http(s)://HOST/PATH"
                ))
            })?;
            return Ok(ServerUrl::Whip(role, url));
        }
        with_host(text, &["ws", "wss"])
            .map(ServerUrl::Native)
            .ok_or_else(|| {
                SignalingError::usage(format!(
                    "{text}: the server URL must start with ws:// or wss:// (vcall server), \
                 janus+ws://, janus+wss://, janus+http:// or janus+https:// (Janus), or \
                 whip+http(s):// / whep+http(s):// (WHIP/WHEP), or livekit+ws(s):// (LiveKit)"
                ))
            })
    }

    /// The URL without vcall's prefix.
    pub fn url(&self) -> &Url {
        match self {
            ServerUrl::Native(u)
            | ServerUrl::Janus(u)
            | ServerUrl::Whip(_, u)
            | ServerUrl::LiveKit(u) => u,
        }
    }

    /// `host:port` (the scheme's port when none is given): where the media interface is
    /// chosen from.
    pub fn authority(&self) -> String {
        let url = self.url();
        let host = url.host_str().unwrap_or_default();
        match url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// The URL as it is connected to, without a trailing `/` (paths are appended to it).
    pub fn base(&self) -> &str {
        self.url().as_str().trim_end_matches('/')
    }
}

/// `text` as a URL with one of `schemes` and a host.
fn with_host(text: &str, schemes: &[&str]) -> Option<Url> {
    let url = Url::parse(text).ok()?;
    (schemes.contains(&url.scheme()) && url.host_str().is_some_and(|h| !h.is_empty()))
        .then_some(url)
}

impl std::str::FromStr for ServerUrl {
    type Err = SignalingError;
    fn from_str(text: &str) -> Result<ServerUrl, SignalingError> {
        ServerUrl::parse(text)
    }
}

/// As it was written (normalized by the URL parser; no trailing `/` for an empty path).
impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self {
            ServerUrl::Native(_) => "",
            ServerUrl::Janus(_) => "janus+",
            ServerUrl::Whip(Role::Whip, _) => "whip+",
            ServerUrl::Whip(Role::Whep, _) => "whep+",
            ServerUrl::LiveKit(_) => "livekit+",
        };
        write!(f, "{prefix}{}", self.base())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_protocol_is_named_by_its_prefix() {
        let u = ServerUrl::parse("ws://127.0.0.1:7880").unwrap();
        assert!(matches!(u, ServerUrl::Native(_)));
        assert_eq!(
            (u.authority(), u.to_string()),
            ("127.0.0.1:7880".into(), "ws://127.0.0.1:7880".into())
        );
        let u = ServerUrl::parse("janus+http://h:8088").unwrap();
        assert_eq!(u.base(), "http://h:8088/janus");
        let u = ServerUrl::parse("janus+https://h/api/janus/").unwrap();
        assert_eq!(
            (u.base(), u.authority()),
            ("https://h/api/janus", "h:443".into())
        );
        let u = ServerUrl::parse("janus+ws://[::1]:8188").unwrap();
        assert_eq!(
            (u.base(), u.authority()),
            ("ws://[::1]:8188", "[::1]:8188".into())
        );
        let u = ServerUrl::parse("whep+https://example.com/play").unwrap();
        assert!(matches!(u, ServerUrl::Whip(Role::Whep, _)));
        assert_eq!(u.authority(), "example.com:443");
        assert_eq!(u.to_string(), "whep+https://example.com/play");
        let u = ServerUrl::parse("livekit+wss://lk.example").unwrap();
        assert!(matches!(u, ServerUrl::LiveKit(_)));
        assert_eq!(
            (u.authority(), u.to_string()),
            ("lk.example:443".into(), "livekit+wss://lk.example".into())
        );
        let u = ServerUrl::parse("wss://vcall.example").unwrap();
        assert_eq!(u.authority(), "vcall.example:443");
    }

    #[test]
    fn anything_else_is_a_usage_error_that_says_what_is_accepted() {
        for (bad, says) in [
            ("janus+ftp://h", "a Janus URL is"),
            ("janus+ws://", "a Janus URL is"),
            ("whip+ws://h/x", "http or https"),
            ("whip+http://", "http or https"),
            ("whip+nonsense", "http or https"),
            ("livekit+http://h", "a LiveKit URL is"),
            ("http://h/x", "must start with ws://"),
            ("ws://h:99999", "must start with ws://"),
            ("127.0.0.1:7880", "must start with ws://"),
        ] {
            match ServerUrl::parse(bad) {
                Err(e @ SignalingError::Usage(..)) => {
                    assert!(e.to_string().contains(says), "{bad}: {e}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
