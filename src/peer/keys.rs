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
/// keys are right), and RTP received tried while they are not known.
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
    provider: Arc<dyn RTCCryptoProvider>,
}

impl Exported {
    /// The inputs seen so far, taken.
    fn take(&self) -> Option<Secret> {
        self.secret.lock().ok()?.take()
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
        let exported = Exported {
            secret: Arc::default(),
            provider: rtc::crypto::default_provider()?,
        };
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
            exported: self.exported.secret.clone(),
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
    exported: Arc<Mutex<Option<Secret>>>,
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
            if let Ok(mut secret) = self.exported.lock() {
                *secret = Some(Secret {
                    master: self.key.clone(),
                    seed: seed.to_vec(),
                });
            }
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

fn write_key_log(path: &std::path::Path, client_random: &[u8], master: &[u8]) {
    let line = key_log_line(client_random, master);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        tracing::warn!(path = %path.display(), error = %e, "SSLKEYLOGFILE not written");
    }
}

/// The keys of one profile and DTLS role, and whether they have opened a packet each way.
pub(crate) struct Candidate {
    profile: ProtectionProfile,
    material: Vec<u8>,
    is_client: bool,
    opened_sent: bool,
    opened_received: bool,
}

impl Candidate {
    fn new(profile: ProtectionProfile, material: Vec<u8>, is_client: bool) -> Candidate {
        Candidate {
            profile,
            material,
            is_client,
            opened_sent: false,
            opened_received: false,
        }
    }

    /// Its context for what the connection sends (`local`) or receives.
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

    /// Whether its keys for that way open `datagram` (authenticated: a wrong key fails).
    fn opens(&self, datagram: &[u8], sent: bool, crypto: &dyn RTCCrypto) -> bool {
        let Ok(mut context) = self.context(sent, crypto) else {
            return false;
        };
        if is_rtcp(datagram) {
            !unauthenticated(self.profile, datagram) && context.decrypt_rtcp(datagram).is_ok()
        } else {
            context.decrypt_rtp(datagram).is_ok()
        }
    }
}

/// Where a connection is in finding its keys.
pub(crate) enum Check {
    /// Its handshake has not run yet (nor has rtc's: it has no SRTP keys either).
    Waiting(Exported),
    /// Derived; packets are tried.
    Trying {
        exported: Exported,
        candidates: Vec<Candidate>,
        sent: u8,
        received: u8,
    },
    /// Found: each way, a packet was opened with them. What will take the keys themselves,
    /// a media path of vcall's own, is not built yet; the profile guards what is received.
    Checked(ProtectionProfile),
    /// Nothing opened what it sent or received (or nothing could be derived).
    Failed,
}

/// What a packet tried told.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing new.
    Pending,
    /// The keys opened a packet each way: their profile's name (RFC 5764, RFC 7714).
    Checked(&'static str),
    /// Given up: nothing is guarded.
    Failed,
}

impl Check {
    pub(crate) fn new(exported: Exported) -> Check {
        Check::Waiting(exported)
    }

    /// An SRTP or SRTCP datagram the connection sent, tried while the check runs. rtc's own
    /// packets decide the keys: nothing else can send them. Once one opens with a
    /// candidate, the others go.
    pub(crate) fn sent(&mut self, datagram: &[u8]) -> Outcome {
        if !self.derived() {
            return Outcome::Pending;
        }
        let Check::Trying {
            exported,
            candidates,
            sent,
            ..
        } = self
        else {
            return Outcome::Pending;
        };
        if *sent >= TRIES {
            return Outcome::Pending;
        }
        *sent += 1;
        let crypto = exported.provider.crypto();
        for c in candidates.iter_mut().filter(|c| !c.opened_sent) {
            c.opened_sent = c.opens(datagram, true, crypto);
        }
        if candidates.iter().any(|c| c.opened_sent) {
            candidates.retain(|c| c.opened_sent);
        }
        self.settle()
    }

    /// An SRTP or SRTCP datagram received: whether it goes on to rtc, and what trying it
    /// told. rtc-srtp 0.21 takes an AES-CM SRTCP packet whose E flag is clear without
    /// checking its tag, so anyone who can send from a far end's address could put RTCP in
    /// its name (NACKs, PLIs, REMB, BYE). Here received SRTCP goes on only when keys of this
    /// handshake open it (while the check runs) or its E flag is set (after, under AES-CM).
    /// Every WebRTC stack encrypts its SRTCP. What is received never ends the check (a far
    /// end's address can be forged); RTP is rtc's to check, and tried only while the keys
    /// are not known.
    pub(crate) fn received(&mut self, datagram: &[u8]) -> (bool, Outcome) {
        let rtcp = is_rtcp(datagram);
        if !self.derived() {
            return (true, Outcome::Pending);
        }
        match self {
            Check::Trying {
                exported,
                candidates,
                received,
                ..
            } => {
                if !rtcp {
                    let known = candidates.iter().any(|c| c.opened_sent);
                    if known || *received >= TRIES {
                        return (true, Outcome::Pending);
                    }
                    *received += 1;
                }
                let crypto = exported.provider.crypto();
                let mut opened = false;
                for c in candidates.iter_mut() {
                    if c.opens(datagram, false, crypto) {
                        c.opened_received = true;
                        opened = true;
                    }
                }
                (!rtcp || opened, self.settle())
            }
            Check::Checked(profile) => (
                !rtcp || !unauthenticated(*profile, datagram),
                Outcome::Pending,
            ),
            Check::Waiting(_) | Check::Failed => (true, Outcome::Pending),
        }
    }

    /// Whether packets are still wanted.
    pub(crate) fn wants(&self) -> bool {
        matches!(self, Check::Waiting(_) | Check::Trying { .. })
    }

    /// Whether received SRTCP is still looked at: while the check runs, and after it under
    /// AES-CM.
    pub(crate) fn guards(&self) -> bool {
        match self {
            Check::Waiting(_) | Check::Trying { .. } => true,
            Check::Checked(profile) => !is_aead(*profile),
            Check::Failed => false,
        }
    }

    /// Derives the candidates once the handshake has run (and again if it runs again):
    /// whether there are any to try.
    fn derived(&mut self) -> bool {
        let exported = match self {
            Check::Waiting(e) | Check::Trying { exported: e, .. } => e,
            Check::Checked(_) | Check::Failed => return true,
        };
        let Some(secret) = exported.take() else {
            return !matches!(self, Check::Waiting(_));
        };
        let exported = exported.clone();
        *self = match derive(&exported, &secret) {
            Some(candidates) => Check::Trying {
                exported,
                candidates,
                sent: 0,
                received: 0,
            },
            None => Check::Failed,
        };
        true
    }

    /// After a packet was tried: checked when one candidate opened a packet each way,
    /// failed when the tries of what was sent are spent and nothing opened it.
    fn settle(&mut self) -> Outcome {
        let Check::Trying {
            candidates, sent, ..
        } = self
        else {
            return Outcome::Pending;
        };
        if let Some(c) = candidates
            .iter()
            .find(|c| c.opened_sent && c.opened_received)
        {
            let profile = c.profile;
            *self = Check::Checked(profile);
            return Outcome::Checked(name(profile));
        }
        if *sent >= TRIES && !candidates.iter().any(|c| c.opened_sent) {
            *self = Check::Failed;
            return Outcome::Failed;
        }
        Outcome::Pending
    }
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
        let exported = Exported {
            secret: Arc::default(),
            provider: rtc::crypto::default_provider().unwrap(),
        };
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

                *exported.secret.lock().unwrap() = Some(secret);
                let mut check = Check::new(exported);
                assert_eq!(check.sent(&sent), Outcome::Pending);
                assert_eq!(
                    check.received(&received),
                    (true, Outcome::Checked(name(profile))),
                    "{profile:?} client={is_client}"
                );
                assert!(matches!(check, Check::Checked(p) if name(p) == name(profile)));
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
        *exported.secret.lock().unwrap() = Some(secret);
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
        assert_eq!(*last, Outcome::Failed, "{outcomes:?}");
        assert!(first.iter().all(|o| *o == Outcome::Pending), "{outcomes:?}");
        assert!(matches!(check, Check::Failed) && !check.guards());
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
            *exported.secret.lock().unwrap() = Some(secret);
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
                (true, Outcome::Checked(name(profile)))
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
    /// either).
    #[test]
    fn before_the_handshake_packets_are_not_tried() {
        let (exported, _) = fixture();
        let mut check = Check::new(exported);
        assert_eq!(check.sent(&[0x80; 40]), Outcome::Pending);
        assert_eq!(check.received(&[0x80; 40]), (true, Outcome::Pending));
        assert!(check.wants() && check.guards());
    }

    #[test]
    fn a_key_log_line_is_nss_format() {
        assert_eq!(
            key_log_line(&[0xab; 32], &[0x01; 48]),
            format!("CLIENT_RANDOM {} {}\n", "ab".repeat(32), "01".repeat(48))
        );
    }
}
