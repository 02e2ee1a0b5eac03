//! Sessions and tokens, signed with the API secret.
//!
//! A session id is self-describing and signed: it carries its properties (p2p, location hint,
//! creation time), so sessions never expire, survive a server restart and cannot be destroyed,
//! as in OpenTok. A token is a JWT (HS256) naming the session, the role, the token data and an
//! expiry; the server checks all of them on connect.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Why a session id or token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature is not valid for this server's API secret")]
    BadSignature,
    #[error("the token expired {0} s ago")]
    Expired(u64),
    #[error("the token was issued for another session")]
    WrongSession,
    #[error("the token was issued for API key {0:?}, not this server's")]
    WrongApiKey(String),
    #[error("no such session: {0:?}")]
    UnknownSession(String),
}

/// The role of a connection, as in OpenVidu.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May subscribe only.
    Subscriber,
    /// May publish and subscribe.
    Publisher,
    /// May publish, subscribe, and force others to unpublish or leave.
    Moderator,
}

impl Role {
    pub(crate) fn may_publish(self) -> bool {
        self != Role::Subscriber
    }
    pub(crate) fn may_moderate(self) -> bool {
        self == Role::Moderator
    }
}

/// An API key and its secret.
#[derive(Clone)]
pub struct KeyPair {
    pub key: String,
    pub secret: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyPair {{ key: {:?}, secret: *** }}", self.key)
    }
}

impl KeyPair {
    /// A random development pair.
    pub fn generate() -> KeyPair {
        let hex = |n: usize| {
            (0..n)
                .map(|_| format!("{:02x}", rand::random::<u8>()))
                .collect::<String>()
        };
        KeyPair {
            key: format!("dev{}", hex(4)),
            secret: hex(16),
        }
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.secret.as_bytes()).expect("HMAC takes any key");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// Whether `sig` is `data`'s tag (or its first 16 or more bytes), in constant time.
    fn verify(&self, data: &[u8], sig: &[u8]) -> bool {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.secret.as_bytes()).expect("HMAC takes any key");
        mac.update(data);
        sig.len() >= 16 && mac.verify_truncated_left(sig).is_ok()
    }

    /// Whether `credentials` are this pair's `KEY:SECRET` (HTTP Basic auth), compared in
    /// constant time: the tags of both are compared, never the secret itself.
    pub(crate) fn check_credentials(&self, credentials: &[u8]) -> bool {
        let expected = self.mac(format!("{}:{}", self.key, self.secret).as_bytes());
        self.verify(credentials, &expected)
    }

    /// Creates a new session id carrying its properties.
    pub fn create_session(&self, props: &SessionProps) -> String {
        let body = B64.encode(serde_json::to_vec(props).expect("props serialize"));
        let sig = B64.encode(&self.mac(body.as_bytes())[..16]);
        format!("1_{body}.{sig}")
    }

    /// The session of a room known by name (a LiveKit room): the same id for the same name
    /// and key pair, so every participant's token for the room lands in one session.
    pub fn room_session(&self, room: &str) -> String {
        self.create_session(&SessionProps {
            p2p: false,
            location_hint: None,
            created_at: 0,
            nonce: format!("room:{room}"),
        })
    }

    /// Checks a session id's signature and returns its properties.
    pub fn open_session(&self, id: &str) -> Result<SessionProps, AuthError> {
        let unknown = || AuthError::UnknownSession(id.to_owned());
        let rest = id.strip_prefix("1_").ok_or_else(unknown)?;
        let (body, sig) = rest.split_once('.').ok_or_else(unknown)?;
        let sig = B64.decode(sig).map_err(|_| unknown())?;
        if !self.verify(body.as_bytes(), &sig) {
            return Err(unknown());
        }
        let json = B64.decode(body).map_err(|_| unknown())?;
        serde_json::from_slice(&json).map_err(|_| unknown())
    }

    /// Signs a token.
    pub fn create_token(&self, claims: &TokenClaims) -> String {
        let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialize"));
        let signing_input = format!("{header}.{payload}");
        let sig = B64.encode(self.mac(signing_input.as_bytes()));
        format!("{signing_input}.{sig}")
    }

    /// Checks a token for whichever session it names, at time `now` (Unix seconds).
    pub(crate) fn verify_any_token(&self, token: &str, now: u64) -> Result<TokenClaims, AuthError> {
        let claims: TokenClaims = token
            .split('.')
            .nth(1)
            .and_then(|p| B64.decode(p).ok())
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or(AuthError::Malformed)?;
        self.verify_token(token, &claims.sid, now)
    }

    /// Checks a token for `session` at time `now` (Unix seconds).
    pub(crate) fn verify_token(
        &self,
        token: &str,
        session: &str,
        now: u64,
    ) -> Result<TokenClaims, AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed);
        };
        let sig = B64.decode(sig).map_err(|_| AuthError::Malformed)?;
        if !self.verify(format!("{header}.{payload}").as_bytes(), &sig) || sig.len() != 32 {
            return Err(AuthError::BadSignature);
        }
        let claims: TokenClaims = B64
            .decode(payload)
            .ok()
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or(AuthError::Malformed)?;
        if claims.iss != self.key {
            return Err(AuthError::WrongApiKey(claims.iss));
        }
        if claims.exp <= now {
            return Err(AuthError::Expired(now - claims.exp));
        }
        if claims.sid != session {
            return Err(AuthError::WrongSession);
        }
        Ok(claims)
    }
}

/// What a session id carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionProps {
    /// Media goes directly between its (at most two) clients with media, through the server
    /// when that fails (docs/protocol.md, "Peer-to-peer sessions").
    #[serde(default)]
    pub p2p: bool,
    /// An IP address hinting where the session's media server should be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_hint: Option<String>,
    /// Unix seconds at creation.
    pub created_at: u64,
    /// Makes every id unique.
    pub nonce: String,
}

/// The claims of a vcall token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The API key that signed it.
    pub iss: String,
    /// The session it admits to.
    pub sid: String,
    pub role: Role,
    /// Token data (OpenVidu's serverData), visible to the other participants.
    #[serde(default)]
    pub data: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_credentials_must_match_exactly() {
        let keys = KeyPair {
            key: "key".into(),
            secret: "secret".into(),
        };
        assert!(keys.check_credentials(b"key:secret"));
        for wrong in [
            &b"key:secreT"[..],
            b"key:secret ",
            b"key:",
            b"",
            b"other:secret",
        ] {
            assert!(!keys.check_credentials(wrong), "{wrong:?}");
        }
    }

    fn pair() -> KeyPair {
        KeyPair {
            key: "k".into(),
            secret: "s3cret".into(),
        }
    }

    fn claims(sid: &str, exp: u64) -> TokenClaims {
        TokenClaims {
            iss: "k".into(),
            sid: sid.into(),
            role: Role::Publisher,
            data: "d".into(),
            iat: 100,
            exp,
        }
    }

    #[test]
    fn session_ids_round_trip_and_reject_tampering() {
        let p = pair();
        let props = SessionProps {
            p2p: true,
            location_hint: Some("10.1.2.3".into()),
            created_at: 5,
            nonce: "n".into(),
        };
        let id = p.create_session(&props);
        assert_eq!(p.open_session(&id).unwrap(), props);
        let other = KeyPair {
            secret: "x".into(),
            ..pair()
        };
        assert!(other.open_session(&id).is_err());
        assert!(p.open_session(&id.replace("1_", "1_x")).is_err());
    }

    #[test]
    fn tokens_are_checked_for_signature_expiry_and_session() {
        let p = pair();
        let t = p.create_token(&claims("s1", 200));
        assert_eq!(p.verify_token(&t, "s1", 150).unwrap().data, "d");
        assert_eq!(p.verify_token(&t, "s1", 250), Err(AuthError::Expired(50)));
        assert_eq!(p.verify_token(&t, "s2", 150), Err(AuthError::WrongSession));
        let other = KeyPair {
            secret: "x".into(),
            ..pair()
        };
        assert_eq!(
            other.verify_token(&t, "s1", 150),
            Err(AuthError::BadSignature)
        );
        assert_eq!(p.verify_token("abc", "s1", 150), Err(AuthError::Malformed));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn keys() -> KeyPair {
            KeyPair {
                key: "k".into(),
                secret: "s".into(),
            }
        }

        proptest! {
            #[test]
            fn prop_any_token_or_session_id_is_checked_without_panic(text in "\\PC{0,200}") {
                let k = keys();
                let _ = k.verify_token(&text, "s1", 100);
                let _ = k.open_session(&text);
                let _ = k.check_credentials(text.as_bytes());
            }

            #[test]
            fn prop_a_changed_token_or_session_id_is_refused(at in any::<prop::sample::Index>(), with in any::<char>()) {
                let k = keys();
                let claims = TokenClaims {
                    iss: "k".into(), sid: "s1".into(), role: Role::Publisher,
                    data: "d".into(), iat: 0, exp: 200,
                };
                let token = k.create_token(&claims);
                let session = k.create_session(&SessionProps {
                    p2p: false, location_hint: None, created_at: 0, nonce: "n".into(),
                });
                for original in [token, session] {
                    let mut chars: Vec<char> = original.chars().collect();
                    let i = at.index(chars.len());
                    if chars[i] == with {
                        continue;
                    }
                    chars[i] = with;
                    let changed: String = chars.into_iter().collect();
                    // Base64's last character may carry unused bits: a change there can decode
                    // to the same bytes, which is the same token.
                    let same_bytes = |a: &str, b: &str| {
                        a.rsplit('.').next().and_then(|x| B64.decode(x).ok())
                            == b.rsplit('.').next().and_then(|x| B64.decode(x).ok())
                            && a.rsplit_once('.').map(|x| x.0) == b.rsplit_once('.').map(|x| x.0)
                    };
                    if same_bytes(&original, &changed) {
                        continue;
                    }
                    prop_assert!(k.verify_token(&changed, "s1", 100).is_err());
                    prop_assert!(k.open_session(&changed).is_err());
                }
            }
        }
    }
}
