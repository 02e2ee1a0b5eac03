//! A connection's SRTP keys, known to vcall as well as to the WebRTC stack.
//!
//! rtc keeps a connection's SRTP contexts to itself, but it derives their keys (RFC 5764
//! 4.2) through the connection's crypto provider: the DTLS exporter (RFC 5705) is
//! HMAC-SHA256 keyed with the handshake's master secret, first over the label
//! "EXTRACTOR-dtls_srtp" and both randoms. [`Recorder`] is rtc's own provider with a tap on
//! that one signature: it keeps the master secret and the seed ([`Exported`]). From them
//! [`Check`] derives the keys of every profile and DTLS role the handshake could have
//! chosen, and takes the one whose keys open the first SRTP or SRTCP packet the connection
//! sent *and* one it received. A key is taken only once it has opened real packets both
//! ways, never on what the handshake is believed to have chosen; a connection whose keys
//! open nothing keeps rtc's path alone.
//!
//! What the keys are for: a media path of vcall's own below rtc's (`ARCHITECTURE.md`,
//! "Known limits"), and `SSLKEYLOGFILE`: with it set, each handshake's master secret is
//! appended to that file in the NSS key log format that Wireshark reads, as browsers and
//! curl do, so a capture of vcall's DTLS can be read.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rtc::crypto::{
    ActiveKeyExchange, AeadAlgorithm, AeadCipher, BlockCipherAlgorithm, CbcAlgorithm, CbcCipher,
    CryptoAlgorithm, CryptoError, HashAlgorithm, HmacAlgorithm, KeyExchangeAlgorithm, Mac,
    PublicKey, RTCCrypto, RTCCryptoProvider, RTCRandom, SecretVec, SignatureScheme, SigningKey,
    StreamCipher, StreamCipherAlgorithm,
};
use rtc::srtp::config::Config;
use rtc::srtp::context::Context;
use rtc::srtp::protection_profile::ProtectionProfile;

/// RFC 5764's exporter label.
const LABEL: &[u8] = b"EXTRACTOR-dtls_srtp";
/// The exporter's seed: the label, the client's random, the server's (32 bytes each).
const SEED_LEN: usize = LABEL.len() + 64;
/// The profiles rtc's DTLS can agree on.
const PROFILES: [ProtectionProfile; 4] = [
    ProtectionProfile::AeadAes128Gcm,
    ProtectionProfile::AeadAes256Gcm,
    ProtectionProfile::Aes128CmHmacSha1_80,
    ProtectionProfile::Aes128CmHmacSha1_32,
];
/// Packets sent tried before a connection's keys are given up on (the first opens when the
/// keys are right), and packets received tried for the record.
const TRIES: u8 = 4;

/// What one handshake's exporter was keyed with and read over.
struct Secret {
    master: SecretVec,
    seed: Vec<u8>,
}

/// The exporter's inputs of a connection's latest handshake, once it has run.
#[derive(Clone)]
pub(crate) struct Exported {
    secret: Arc<Mutex<Option<Secret>>>,
    /// Set with `secret`: a handshake ran since it was last taken (read per packet, so
    /// without the lock).
    fresh: Arc<AtomicBool>,
    provider: Arc<dyn RTCCryptoProvider>,
}

impl Exported {
    fn new(provider: Arc<dyn RTCCryptoProvider>) -> Exported {
        Exported {
            secret: Arc::default(),
            fresh: Arc::default(),
            provider,
        }
    }

    /// The inputs of a handshake run since they were last taken.
    fn take(&self) -> Option<Secret> {
        if !self.is_fresh() || !self.fresh.swap(false, Ordering::Acquire) {
            return None;
        }
        self.secret.lock().ok()?.take()
    }

    fn is_fresh(&self) -> bool {
        self.fresh.load(Ordering::Relaxed)
    }

    fn put(&self, secret: Secret) {
        if let Ok(mut slot) = self.secret.lock() {
            *slot = Some(secret);
            self.fresh.store(true, Ordering::Release);
        }
    }

    /// `len` bytes of the exporter's output: TLS 1.2's P_SHA256 (RFC 5246 5).
    fn material(&self, secret: &Secret, len: usize) -> Result<Vec<u8>, CryptoError> {
        let crypto = self.provider.crypto();
        let mut hmac = crypto.new_hmac(HmacAlgorithm::Sha256, secret.master.as_ref())?;
        let mut a = vec![0; hmac.output_len()];
        hmac.sign(&[&secret.seed], &mut a)?;
        let mut out = Vec::with_capacity(len + a.len());
        while out.len() < len {
            let mut block = vec![0; a.len()];
            hmac.sign(&[&a, &secret.seed], &mut block)?;
            out.extend_from_slice(&block);
            let mut next = vec![0; a.len()];
            hmac.sign(&[&a], &mut next)?;
            a = next;
        }
        out.truncate(len);
        Ok(out)
    }
}

/// rtc's crypto provider, with the DTLS exporter's inputs kept ([`Exported`]) and, with
/// `SSLKEYLOGFILE` set, each handshake's master secret written there.
pub(crate) struct Recorder {
    tap: Tap,
}

impl Recorder {
    /// The default provider with a tap, and the handle its exporter's inputs are read from.
    pub(crate) fn new() -> Result<(Arc<Recorder>, Exported), CryptoError> {
        let exported = Exported::new(rtc::crypto::default_provider()?);
        let log = std::env::var_os("SSLKEYLOGFILE").filter(|p| !p.is_empty());
        let tap = Tap {
            exported: exported.clone(),
            log: log.map(std::path::PathBuf::from),
        };
        Ok((Arc::new(Recorder { tap }), exported))
    }
}

impl RTCCryptoProvider for Recorder {
    fn name(&self) -> &'static str {
        self.tap.exported.provider.name()
    }

    fn crypto(&self) -> &dyn RTCCrypto {
        &self.tap
    }

    fn random(&self) -> &dyn RTCRandom {
        self.tap.exported.provider.random()
    }
}

struct Tap {
    exported: Exported,
    log: Option<std::path::PathBuf>,
}

impl Tap {
    fn inner(&self) -> &dyn RTCCrypto {
        self.exported.provider.crypto()
    }
}

/// Every operation is the inner provider's; an HMAC-SHA256 (the handshake's PRF: a few
/// dozen per handshake, never per packet) is watched for the exporter's first signature.
impl RTCCrypto for Tap {
    fn supports(&self, algorithm: CryptoAlgorithm) -> bool {
        self.inner().supports(algorithm)
    }

    fn hash(&self, algorithm: HashAlgorithm, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.inner().hash(algorithm, data)
    }

    fn block_encrypt(
        &self,
        algorithm: BlockCipherAlgorithm,
        key: &[u8],
        block: &mut [u8],
    ) -> Result<(), CryptoError> {
        self.inner().block_encrypt(algorithm, key, block)
    }

    fn new_hmac(&self, algorithm: HmacAlgorithm, key: &[u8]) -> Result<Box<dyn Mac>, CryptoError> {
        let inner = self.inner().new_hmac(algorithm, key)?;
        if algorithm != HmacAlgorithm::Sha256 {
            return Ok(inner);
        }
        Ok(Box::new(Watched {
            inner,
            key: SecretVec::new(key.to_vec()),
            exported: self.exported.clone(),
            log: self.log.clone(),
        }))
    }

    fn new_stream_cipher(
        &self,
        algorithm: StreamCipherAlgorithm,
        key: &[u8],
    ) -> Result<Box<dyn StreamCipher>, CryptoError> {
        self.inner().new_stream_cipher(algorithm, key)
    }

    fn new_aead(
        &self,
        algorithm: AeadAlgorithm,
        key: &[u8],
    ) -> Result<Box<dyn AeadCipher>, CryptoError> {
        self.inner().new_aead(algorithm, key)
    }

    fn new_cbc(
        &self,
        algorithm: CbcAlgorithm,
        key: &[u8],
    ) -> Result<Box<dyn CbcCipher>, CryptoError> {
        self.inner().new_cbc(algorithm, key)
    }

    fn start_key_exchange(
        &self,
        algorithm: KeyExchangeAlgorithm,
    ) -> Result<Box<dyn ActiveKeyExchange>, CryptoError> {
        self.inner().start_key_exchange(algorithm)
    }

    fn generate_signing_key(
        &self,
        scheme: SignatureScheme,
    ) -> Result<Arc<dyn SigningKey>, CryptoError> {
        self.inner().generate_signing_key(scheme)
    }

    fn import_signing_key(
        &self,
        scheme: SignatureScheme,
        pkcs8_der: &[u8],
    ) -> Result<Arc<dyn SigningKey>, CryptoError> {
        self.inner().import_signing_key(scheme, pkcs8_der)
    }

    fn verify_signature(
        &self,
        scheme: SignatureScheme,
        public_key: PublicKey<'_>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        self.inner()
            .verify_signature(scheme, public_key, message, signature)
    }
}

/// An HMAC-SHA256 whose key and input are kept when the input is the SRTP exporter's seed.
struct Watched {
    inner: Box<dyn Mac>,
    key: SecretVec,
    exported: Exported,
    log: Option<std::path::PathBuf>,
}

impl Mac for Watched {
    fn output_len(&self) -> usize {
        self.inner.output_len()
    }

    fn sign(&mut self, input: &[&[u8]], output: &mut [u8]) -> Result<(), CryptoError> {
        if let [seed] = input
            && seed.len() == SEED_LEN
            && seed.starts_with(LABEL)
        {
            if let Some(path) = &self.log {
                write_key_log(
                    path,
                    &seed[LABEL.len()..LABEL.len() + 32],
                    self.key.as_ref(),
                );
            }
            self.exported.put(Secret {
                master: self.key.clone(),
                seed: seed.to_vec(),
            });
        }
        self.inner.sign(input, output)
    }

    fn verify(&mut self, input: &[&[u8]], expected: &[u8]) -> Result<(), CryptoError> {
        self.inner.verify(input, expected)
    }
}

/// One line of the NSS key log format (what Wireshark reads for TLS and DTLS 1.2).
fn key_log_line(client_random: &[u8], master: &[u8]) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!("CLIENT_RANDOM {} {}\n", hex(client_random), hex(master))
}

/// Appended at once, inside the handshake (a blocking write on the engine's task, once per
/// handshake, and only with `SSLKEYLOGFILE` set); a file it creates is its owner's alone.
fn write_key_log(path: &std::path::Path, client_random: &[u8], master: &[u8]) {
    use std::os::unix::fs::OpenOptionsExt;
    let line = key_log_line(client_random, master);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "SSLKEYLOGFILE not written");
    }
}

/// The keys of one profile and DTLS role, their contexts once used, and whether they have
/// opened a packet each way.
pub(crate) struct Candidate {
    profile: ProtectionProfile,
    material: Vec<u8>,
    is_client: bool,
    /// For what the connection sends, then for what it receives (no replay window: a
    /// datagram repeated on its way is still opened).
    contexts: [Option<Context>; 2],
    opened_sent: bool,
    opened_received: bool,
    /// Opened a received RTP packet: what tells AES-CM's two profiles apart when the
    /// connection sends only RTCP (their RTP tags differ). What opens is the far end's:
    /// nobody else has its keys.
    opened_received_rtp: bool,
}

impl Candidate {
    fn new(profile: ProtectionProfile, material: Vec<u8>, is_client: bool) -> Candidate {
        Candidate {
            profile,
            material,
            is_client,
            contexts: [None, None],
            opened_sent: false,
            opened_received: false,
            opened_received_rtp: false,
        }
    }

    /// Tries a received datagram: whether it opened.
    fn received(&mut self, datagram: &[u8], crypto: &dyn RTCCrypto) -> bool {
        let opened = self.opens(datagram, false, crypto);
        self.opened_received |= opened;
        self.opened_received_rtp |= opened && !is_rtcp(datagram);
        opened
    }

    /// A new context for what the connection sends (`local`) or receives.
    fn context(
        &self,
        local: bool,
        crypto: &dyn RTCCrypto,
    ) -> Result<Context, rtc::shared::error::Error> {
        let mut config = Config {
            profile: self.profile,
            ..Default::default()
        };
        config.set_session_keys_from_keying_material(&self.material, self.is_client)?;
        let k = &config.keys;
        let (key, salt) = if local {
            (&k.local_master_key, &k.local_master_salt)
        } else {
            (&k.remote_master_key, &k.remote_master_salt)
        };
        Context::new(key, salt, self.profile, None, None, crypto)
    }

    /// Whether its keys for that way open `datagram` (authenticated: a wrong key fails). A
    /// panic in rtc-srtp over a stranger's datagram is taken as "does not open": it must not
    /// end the engine's task.
    fn opens(&mut self, datagram: &[u8], sent: bool, crypto: &dyn RTCCrypto) -> bool {
        if is_rtcp(datagram) && unauthenticated(self.profile, datagram) {
            return false;
        }
        let way = usize::from(!sent);
        if self.contexts[way].is_none() {
            self.contexts[way] = self.context(sent, crypto).ok();
        }
        let Some(context) = self.contexts[way].as_mut() else {
            return false;
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if is_rtcp(datagram) {
                context.decrypt_rtcp(datagram).is_ok()
            } else {
                context.decrypt_rtp(datagram).is_ok()
            }
        }))
        .unwrap_or(false)
    }
}

/// Where a connection is in finding its keys. Only what rtc itself sent decides them
/// (nothing else can send it); what is received can neither decide nor end the check, since
/// a far end's address can be forged.
pub(crate) enum Check {
    /// Its handshake has not run yet (nor has rtc's: it has no SRTP keys either).
    Waiting(Exported),
    /// Derived; the connection's own packets are tried.
    Trying {
        exported: Exported,
        candidates: Vec<Candidate>,
        sent: u8,
        received: u8,
    },
    /// Its own packets opened with these candidates (one profile, or AES-CM's two, whose
    /// SRTCP is the same, until an RTP packet sent or received tells them apart); what it
    /// receives is tried until one opens a packet each way.
    Known {
        exported: Exported,
        candidates: Vec<Candidate>,
        sent: u8,
        received: u8,
        confirmed: bool,
    },
    /// Nothing derived opened its own packets, or the tap never saw the exporter: nothing
    /// is guarded.
    Failed(Exported),
}

/// What a packet tried told.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing new.
    Pending,
    /// A candidate opened a packet each way: its profile's name (RFC 5764, RFC 7714).
    Confirmed(&'static str),
    /// Given up: nothing is guarded.
    Failed(&'static str),
}

impl Check {
    pub(crate) fn new(exported: Exported) -> Check {
        Check::Waiting(exported)
    }

    fn exported(&self) -> &Exported {
        match self {
            Check::Waiting(e) | Check::Failed(e) => e,
            Check::Trying { exported, .. } | Check::Known { exported, .. } => exported,
        }
    }

    /// Whether packets are still wanted: the check has not settled and has tries left, or
    /// the handshake ran again (its keys are new).
    pub(crate) fn wants(&self) -> bool {
        match self {
            Check::Waiting(_) | Check::Trying { .. } => true,
            Check::Known {
                exported,
                candidates,
                sent,
                received,
                confirmed,
            } => {
                (!confirmed && *received < TRIES)
                    || (ambiguous(candidates) && *sent < TRIES)
                    || exported.is_fresh()
            }
            Check::Failed(e) => e.is_fresh(),
        }
    }

    /// Whether received SRTCP is looked at: until the profile is known, and after under
    /// AES-CM (under AEAD rtc checks every tag).
    pub(crate) fn guards(&self) -> bool {
        match self {
            Check::Waiting(_) | Check::Trying { .. } => true,
            Check::Known { candidates, .. } => {
                !candidates.iter().all(|c| is_aead(c.profile)) || self.exported().is_fresh()
            }
            Check::Failed(e) => e.is_fresh(),
        }
    }

    /// Whether a handshake ran again since the keys were taken (they are then no more).
    pub(crate) fn is_fresh(&self) -> bool {
        self.exported().is_fresh()
    }

    /// A sealer for what the connection sends ([`super::seal`]), once its own packets
    /// left one candidate (one profile, one DTLS role) and no newer handshake waits.
    pub(crate) fn sealer(&self) -> Option<super::seal::Sealer> {
        let Check::Known {
            exported,
            candidates,
            ..
        } = self
        else {
            return None;
        };
        let [c] = &candidates[..] else {
            return None;
        };
        if exported.is_fresh() {
            return None;
        }
        let mut config = Config {
            profile: c.profile,
            ..Default::default()
        };
        config
            .set_session_keys_from_keying_material(&c.material, c.is_client)
            .ok()?;
        let k = &config.keys;
        super::seal::Sealer::new(
            c.profile,
            &k.local_master_key,
            &k.local_master_salt,
            exported.provider.crypto(),
        )
        .ok()
        .flatten()
    }

    /// An SRTP or SRTCP datagram the connection sent.
    pub(crate) fn sent(&mut self, datagram: &[u8]) -> Outcome {
        if let Some(outcome) = self.renew(true) {
            return outcome;
        }
        let (exported, candidates, sent) = match self {
            Check::Trying {
                exported,
                candidates,
                sent,
                ..
            } => (exported, candidates, sent),
            Check::Known {
                exported,
                candidates,
                sent,
                ..
            } if ambiguous(candidates) => (exported, candidates, sent),
            _ => return Outcome::Pending,
        };
        if *sent >= TRIES {
            return Outcome::Pending;
        }
        *sent += 1;
        let crypto = exported.provider.crypto();
        let mut opened = false;
        for c in candidates.iter_mut() {
            c.opened_sent = c.opens(datagram, true, crypto);
            opened |= c.opened_sent;
        }
        if opened {
            candidates.retain(|c| c.opened_sent);
        }
        self.settle(opened)
    }

    /// An SRTP or SRTCP datagram received: whether it goes on to rtc, and what trying it
    /// told. rtc-srtp 0.21 takes an AES-CM SRTCP packet whose E flag is clear without
    /// checking its tag, so anyone who can send from a far end's address could put RTCP in
    /// its name (NACKs, PLIs, REMB, BYE). Here received SRTCP goes on only when keys of this
    /// handshake open it (until the profile is known) or its E flag is set (after, under
    /// AES-CM). Every WebRTC stack encrypts its SRTCP.
    pub(crate) fn received(&mut self, datagram: &[u8]) -> (bool, Outcome) {
        if let Some(outcome) = self.renew(false) {
            return (true, outcome);
        }
        let rtcp = is_rtcp(datagram);
        match self {
            Check::Trying {
                exported,
                candidates,
                received,
                ..
            } => {
                // RTP is rtc's to check; a few packets are tried, for the record.
                if !rtcp && *received >= TRIES {
                    return (true, Outcome::Pending);
                }
                if !rtcp {
                    *received += 1;
                }
                let crypto = exported.provider.crypto();
                let mut opened = false;
                for c in candidates.iter_mut() {
                    opened |= c.received(datagram, crypto);
                }
                (!rtcp || opened, Outcome::Pending)
            }
            Check::Known {
                exported,
                candidates,
                received,
                confirmed,
                ..
            } => {
                let cm = !candidates.iter().all(|c| is_aead(c.profile));
                // AES-CM's two profiles put the E flag in the same place in SRTCP.
                if rtcp && cm && unauthenticated(candidates[0].profile, datagram) {
                    return (false, Outcome::Pending);
                }
                if *confirmed || *received >= TRIES {
                    return (true, Outcome::Pending);
                }
                *received += 1;
                let crypto = exported.provider.crypto();
                for c in candidates.iter_mut() {
                    c.received(datagram, crypto);
                }
                (true, self.settle(false))
            }
            Check::Waiting(_) | Check::Failed(_) => (true, Outcome::Pending),
        }
    }

    /// Takes a handshake's new exporter inputs: the candidates derived from them are tried
    /// from the start. `Some` when that or its absence decides the packet's outcome.
    fn renew(&mut self, sent: bool) -> Option<Outcome> {
        if let Some(secret) = self.exported().take() {
            let exported = self.exported().clone();
            *self = match derive(&exported, &secret) {
                Some(candidates) => Check::Trying {
                    exported,
                    candidates,
                    sent: 0,
                    received: 0,
                },
                None => Check::Failed(exported),
            };
            return matches!(self, Check::Failed(_))
                .then_some(Outcome::Failed("none could be derived"));
        }
        match self {
            // rtc protects nothing before its exporter has run: a tap that missed it is
            // given up on at the first packet sent.
            Check::Waiting(exported) if sent => {
                *self = Check::Failed(exported.clone());
                Some(Outcome::Failed("the DTLS exporter was not seen"))
            }
            Check::Waiting(_) => Some(Outcome::Pending),
            _ => None,
        }
    }

    /// After a packet was tried (`opened`: one the connection sent opened): known once its
    /// own packets opened, confirmed once a candidate opened a packet each way and only one
    /// profile is left; failed when its own packets' tries are spent and nothing opened them.
    fn settle(&mut self, opened: bool) -> Outcome {
        let exported = self.exported().clone();
        let state = std::mem::replace(self, Check::Failed(exported));
        *self = match state {
            Check::Trying {
                exported,
                candidates,
                sent,
                received,
            } if opened => Check::Known {
                exported,
                candidates,
                sent,
                received,
                confirmed: false,
            },
            Check::Trying { exported, sent, .. } if sent >= TRIES => {
                *self = Check::Failed(exported);
                return Outcome::Failed("nothing derived opened the packets it sent");
            }
            other => other,
        };
        let Check::Known {
            candidates,
            confirmed,
            ..
        } = self
        else {
            return Outcome::Pending;
        };
        if ambiguous(candidates) && candidates.iter().any(|c| c.opened_received_rtp) {
            candidates.retain(|c| c.opened_received_rtp);
        }
        if *confirmed || ambiguous(candidates) {
            return Outcome::Pending;
        }
        match candidates
            .iter()
            .find(|c| c.opened_sent && c.opened_received)
        {
            Some(c) => {
                *confirmed = true;
                Outcome::Confirmed(name(c.profile))
            }
            None => Outcome::Pending,
        }
    }
}

/// Whether candidates of more than one profile are left (AES-CM's two open the same SRTCP).
fn ambiguous(candidates: &[Candidate]) -> bool {
    candidates
        .windows(2)
        .any(|w| name(w[0].profile) != name(w[1].profile))
}

fn is_aead(profile: ProtectionProfile) -> bool {
    profile.aead_auth_tag_len() > 0
}

/// Whether an SRTCP packet under AES-CM `profile` says it is not encrypted (RFC 3711 3.4:
/// the E flag, the top bit of the word before the tag): its tag is then not checked by
/// rtc-srtp. (Under AEAD the tag is always checked.)
fn unauthenticated(profile: ProtectionProfile, datagram: &[u8]) -> bool {
    if is_aead(profile) {
        return false;
    }
    datagram
        .len()
        .checked_sub(profile.rtcp_auth_tag_len() + 4)
        .and_then(|at| datagram.get(at))
        .is_none_or(|&e| e & 0x80 == 0)
}

/// Every profile's and role's keys from one handshake's exporter.
fn derive(exported: &Exported, secret: &Secret) -> Option<Vec<Candidate>> {
    let longest = PROFILES.iter().map(|&p| material_len(p)).max()?;
    let all = exported.material(secret, longest).ok()?;
    Some(
        PROFILES
            .iter()
            .flat_map(|&profile| {
                let material = all[..material_len(profile)].to_vec();
                [true, false].map(|is_client| Candidate::new(profile, material.clone(), is_client))
            })
            .collect(),
    )
}

/// A profile's name, as the SDP and the statistics spell it.
fn name(profile: ProtectionProfile) -> &'static str {
    match profile {
        ProtectionProfile::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
        ProtectionProfile::AeadAes256Gcm => "SRTP_AEAD_AES_256_GCM",
        ProtectionProfile::Aes128CmHmacSha1_80 => "SRTP_AES128_CM_HMAC_SHA1_80",
        ProtectionProfile::Aes128CmHmacSha1_32 => "SRTP_AES128_CM_HMAC_SHA1_32",
        _ => "another SRTP profile",
    }
}

fn material_len(profile: ProtectionProfile) -> usize {
    Config {
        profile,
        ..Default::default()
    }
    .keying_material_len()
}

/// Whether an SRTP-range datagram is RTCP: its second byte a payload type of 192–223
/// (RFC 5761 4), where RTP's, with the marker bit taken off, are below 128.
fn is_rtcp(datagram: &[u8]) -> bool {
    datagram.get(1).is_some_and(|&b| (192..=223).contains(&b))
}

/// Whether a datagram is SRTP or SRTCP (RFC 7983: first byte 128–191).
pub(crate) fn is_srtp(datagram: &[u8]) -> bool {
    datagram.first().is_some_and(|&b| (128..=191).contains(&b)) && datagram.len() >= 12
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exported secret and the keys rtc would derive from it for `profile` and `is_client`,
    /// by rtc's own exporter split.
    fn fixture() -> (Exported, Secret) {
        let exported = Exported::new(rtc::crypto::default_provider().unwrap());
        let mut seed = LABEL.to_vec();
        seed.extend((0..64u8).map(|i| i.wrapping_mul(7)));
        let secret = Secret {
            master: SecretVec::new((0..48u8).collect()),
            seed,
        };
        (exported, secret)
    }

    /// The P_SHA256 here against RFC 5246's construction written out longhand.
    #[test]
    fn the_exporter_output_is_tls_1_2_p_sha256() {
        let (exported, secret) = fixture();
        let crypto = exported.provider.crypto();
        let hmac = |data: &[&[u8]]| {
            let mut m = crypto
                .new_hmac(HmacAlgorithm::Sha256, secret.master.as_ref())
                .unwrap();
            let mut out = vec![0; 32];
            m.sign(data, &mut out).unwrap();
            out
        };
        let a1 = hmac(&[&secret.seed]);
        let a2 = hmac(&[&a1]);
        let a3 = hmac(&[&a2]);
        let mut expected = hmac(&[&a1, &secret.seed]);
        expected.extend(hmac(&[&a2, &secret.seed]));
        expected.extend(hmac(&[&a3, &secret.seed]));
        expected.truncate(88);
        assert_eq!(exported.material(&secret, 88).unwrap(), expected);
        assert_eq!(exported.material(&secret, 56).unwrap(), expected[..56]);
    }

    fn sealed_rtp(c: &Candidate, crypto: &dyn RTCCrypto) -> bytes::BytesMut {
        let rtp = rtc::rtp::packet::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                payload_type: 96,
                sequence_number: 7,
                ssrc: 0x1234,
                ..Default::default()
            },
            payload: bytes::Bytes::from_static(&[1, 2, 3, 4, 5, 6, 7, 8]),
        };
        let plain = rtc::shared::marshal::Marshal::marshal(&rtp).unwrap();
        c.context(true, crypto)
            .unwrap()
            .encrypt_rtp(&plain)
            .unwrap()
    }

    fn receiver_report() -> bytes::BytesMut {
        let rr = rtc::rtcp::receiver_report::ReceiverReport {
            ssrc: 0x99,
            ..Default::default()
        };
        rtc::shared::marshal::Marshal::marshal(&rr).unwrap()
    }

    /// A packet sealed with one profile's and role's keys is opened by that candidate alone:
    /// the check takes the right keys and never a wrong one.
    #[test]
    fn the_check_takes_the_keys_that_open_both_ways_and_no_others() {
        for profile in PROFILES {
            for is_client in [true, false] {
                let (exported, secret) = fixture();
                let material = exported.material(&secret, material_len(profile)).unwrap();
                let crypto = exported.provider.crypto();
                let ours = Candidate::new(profile, material.clone(), is_client);
                let theirs = Candidate::new(profile, material, !is_client);
                let sent = sealed_rtp(&ours, crypto);
                let received = theirs
                    .context(true, crypto)
                    .unwrap()
                    .encrypt_rtcp(&receiver_report())
                    .unwrap();
                assert!(is_srtp(&sent) && !is_rtcp(&sent));
                assert!(is_srtp(&received) && is_rtcp(&received));

                exported.put(secret);
                let mut check = Check::new(exported);
                assert_eq!(check.sent(&sent), Outcome::Pending);
                assert_eq!(
                    check.received(&received),
                    (true, Outcome::Confirmed(name(profile))),
                    "{profile:?} client={is_client}"
                );
                assert!(
                    matches!(&check, Check::Known { candidates, confirmed: true, .. } if candidates.len() == 1 && name(candidates[0].profile) == name(profile))
                );
                assert!(!check.wants());
            }
        }
    }

    /// SRTCP received that no candidate opens (sealed with keys of another handshake) goes
    /// no further, however much of it comes, and never ends the check (anyone can send it).
    /// What ends it is the connection's own packets opening with no candidate: nothing is
    /// guarded then, and no wrong key is ever taken.
    #[test]
    fn only_what_the_connection_sent_can_fail_the_check() {
        let (exported, secret) = fixture();
        let crypto = exported.provider.crypto();
        let stranger = Candidate::new(ProtectionProfile::AeadAes128Gcm, vec![0x5a; 56], true);
        let mut sealer = stranger.context(true, crypto).unwrap();
        exported.put(secret);
        let mut check = Check::new(exported);
        for _ in 0..100 {
            let rtcp = sealer.encrypt_rtcp(&receiver_report()).unwrap();
            assert_eq!(check.received(&rtcp), (false, Outcome::Pending));
        }
        assert!(check.wants() && check.guards());
        let mut outcomes = Vec::new();
        for _ in 0..TRIES {
            outcomes.push(check.sent(&sealer.encrypt_rtcp(&receiver_report()).unwrap()));
        }
        let (last, first) = outcomes.split_last().unwrap();
        assert!(matches!(last, Outcome::Failed(_)), "{outcomes:?}");
        assert!(first.iter().all(|o| *o == Outcome::Pending), "{outcomes:?}");
        assert!(matches!(check, Check::Failed(_)) && !check.guards());
        let next = sealer.encrypt_rtcp(&receiver_report()).unwrap();
        assert_eq!(check.received(&next), (true, Outcome::Pending));
    }

    /// An AES-CM SRTCP packet with its E flag clear and a made-up tag: rtc-srtp opens it
    /// (the hole); the check never lets it through, before its keys are found or after.
    #[test]
    fn srtcp_with_its_e_flag_clear_goes_no_further_under_aes_cm() {
        for profile in [
            ProtectionProfile::Aes128CmHmacSha1_80,
            ProtectionProfile::Aes128CmHmacSha1_32,
        ] {
            let (exported, secret) = fixture();
            let material = exported.material(&secret, material_len(profile)).unwrap();
            let provider = exported.provider.clone();
            let crypto = provider.crypto();
            let ours = Candidate::new(profile, material.clone(), true);
            let theirs = Candidate::new(profile, material, false);
            let mut forged = receiver_report().to_vec();
            forged.extend([0x00, 0x00, 0x00, 0x07]); // the E flag clear, index 7
            forged.extend([0xee; 10]); // not a tag
            assert!(
                ours.context(false, crypto)
                    .unwrap()
                    .decrypt_rtcp(&forged)
                    .is_ok(),
                "rtc-srtp checks the tag of an unencrypted SRTCP packet now: the guard \
                 in `Check::received` may go"
            );
            exported.put(secret);
            let mut check = Check::new(exported);
            // A flood before anything was sent (the keys not known yet), then after.
            for _ in 0..100 {
                assert_eq!(
                    check.received(&forged),
                    (false, Outcome::Pending),
                    "{profile:?}"
                );
            }
            assert_eq!(check.sent(&sealed_rtp(&ours, crypto)), Outcome::Pending);
            assert_eq!(
                check.received(&forged),
                (false, Outcome::Pending),
                "{profile:?}"
            );
            let mut their_rtcp = theirs.context(true, crypto).unwrap();
            let genuine = their_rtcp.encrypt_rtcp(&receiver_report()).unwrap();
            assert_eq!(
                check.received(&genuine),
                (true, Outcome::Confirmed(name(profile)))
            );
            assert!(check.guards());
            assert!(!check.received(&forged).0, "{profile:?}");
            let genuine = their_rtcp.encrypt_rtcp(&receiver_report()).unwrap();
            assert!(check.received(&genuine).0, "{profile:?}");
            // RTP is rtc's to check (it always checks RTP's tag).
            assert!(check.received(&sealed_rtp(&theirs, crypto)).0);
        }
    }

    /// Before the handshake nothing is tried and everything goes on (rtc has no keys yet
    /// either); SRTP sent with no exporter seen means the tap missed it: given up, said.
    #[test]
    fn before_the_handshake_nothing_is_tried_and_a_missed_exporter_is_given_up() {
        let (exported, _) = fixture();
        let mut check = Check::new(exported);
        assert_eq!(check.received(&[0x80; 40]), (true, Outcome::Pending));
        assert!(check.wants() && check.guards());
        assert!(matches!(check.sent(&[0x80; 40]), Outcome::Failed(_)));
        assert!(!check.wants() && !check.guards());
    }

    /// AES-CM's two profiles share their keys and their SRTCP: an SRTCP packet sent opens
    /// with both, and the profile is named only once an RTP packet, sent or received, tells
    /// them apart (their RTP tags differ). Meanwhile the E flag is guarded as for either.
    #[test]
    fn aes_cm_80_and_32_are_told_apart_by_rtp() {
        for told_by_received in [false, true] {
            let (exported, secret) = fixture();
            let profile = ProtectionProfile::Aes128CmHmacSha1_32;
            let material = exported.material(&secret, material_len(profile)).unwrap();
            let provider = exported.provider.clone();
            let crypto = provider.crypto();
            let ours = Candidate::new(profile, material.clone(), false);
            let theirs = Candidate::new(profile, material, true);
            let (mut our_rtcp, mut their_rtcp) = (
                ours.context(true, crypto).unwrap(),
                theirs.context(true, crypto).unwrap(),
            );
            exported.put(secret);
            let mut check = Check::new(exported);
            let sent = our_rtcp.encrypt_rtcp(&receiver_report()).unwrap();
            assert_eq!(check.sent(&sent), Outcome::Pending);
            assert!(matches!(&check, Check::Known { candidates, .. } if candidates.len() == 2));
            let genuine = their_rtcp.encrypt_rtcp(&receiver_report()).unwrap();
            assert_eq!(check.received(&genuine), (true, Outcome::Pending));
            let mut forged = receiver_report().to_vec();
            forged.extend([0, 0, 0, 9]);
            forged.extend([0xee; 10]);
            assert!(!check.received(&forged).0);
            let outcome = if told_by_received {
                check.received(&sealed_rtp(&theirs, crypto)).1
            } else {
                check.sent(&sealed_rtp(&ours, crypto))
            };
            assert_eq!(outcome, Outcome::Confirmed("SRTP_AES128_CM_HMAC_SHA1_32"));
            assert!(!check.wants() && check.guards());
            assert!(!check.received(&forged).0);
        }
    }

    /// A handshake run again (new keys) is checked again: until its own packets open,
    /// received SRTCP needs the new keys, even after an AEAD check that guarded nothing.
    #[test]
    fn a_handshake_run_again_is_checked_again() {
        let (exported, secret) = fixture();
        let profile = ProtectionProfile::AeadAes128Gcm;
        let material = exported.material(&secret, material_len(profile)).unwrap();
        let provider = exported.provider.clone();
        let crypto = provider.crypto();
        let ours = Candidate::new(profile, material.clone(), true);
        let theirs = Candidate::new(profile, material, false);
        let mut their_rtcp = theirs.context(true, crypto).unwrap();
        exported.put(secret);
        let mut check = Check::new(exported.clone());
        check.sent(&sealed_rtp(&ours, crypto));
        let genuine = their_rtcp.encrypt_rtcp(&receiver_report()).unwrap();
        assert_eq!(
            check.received(&genuine),
            (true, Outcome::Confirmed(name(profile)))
        );
        assert!(!check.wants() && !check.guards());
        let mut again = LABEL.to_vec();
        again.extend([0x33; 64]);
        exported.put(Secret {
            master: SecretVec::new(vec![0x44; 48]),
            seed: again,
        });
        assert!(check.wants() && check.guards());
        let old_keys = their_rtcp.encrypt_rtcp(&receiver_report()).unwrap();
        assert_eq!(check.received(&old_keys), (false, Outcome::Pending));
    }

    #[test]
    fn a_key_log_line_is_nss_format() {
        assert_eq!(
            key_log_line(&[0xab; 32], &[0x01; 48]),
            format!("CLIENT_RANDOM {} {}\n", "ab".repeat(32), "01".repeat(48))
        );
    }
}
