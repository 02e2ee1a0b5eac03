//! SRTP encryption of outgoing RTP in place (RFC 3711, RFC 7714), for the packets the engine
//! sends beneath rtc (the ledger, `outgoing.rs`): the datagram is the buffer, sealed where it lies,
//! its tag appended. Keys are a connection's own, as `keys.rs` derived and checked
//! them; the rollover counter is handed in, so a stream rtc started goes on with rtc's.
//! The ciphers are the connection's crypto provider's (rtc's own), the construction the one
//! rtc-srtp's contexts use — its unit tests open what this seals with them.

use bytes::BytesMut;
use rtc::crypto::{
    AeadAlgorithm, AeadCipher, BlockCipherAlgorithm, CryptoError, HmacAlgorithm, Mac, RTCCrypto,
    StreamCipher, StreamCipherAlgorithm,
};
use rtc::srtp::protection_profile::ProtectionProfile;

/// RFC 3711 4.3.1's labels.
const LABEL_ENCRYPTION: u8 = 0x00;
const LABEL_AUTHENTICATION: u8 = 0x01;
const LABEL_SALT: u8 = 0x02;

/// One connection's outgoing RTP keys, ready to seal.
pub(crate) enum Sealer {
    /// AEAD_AES_128_GCM or AEAD_AES_256_GCM: a 16-byte tag, the header authenticated.
    Gcm {
        cipher: Box<dyn AeadCipher>,
        salt: [u8; 12],
    },
    /// AES_CM with HMAC-SHA1: the payload under AES counter mode, then a tag over the packet
    /// and the rollover counter, cut to `tag` bytes.
    Cm {
        cipher: Box<dyn StreamCipher>,
        mac: Box<dyn Mac>,
        salt: [u8; 14],
        tag: usize,
    },
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sealer::Gcm { .. } => f.write_str("Sealer(GCM)"),
            Sealer::Cm { tag, .. } => write!(f, "Sealer(CM, {tag}-byte tag)"),
        }
    }
}

/// A session key of `len` bytes for `label` (RFC 3711 4.3.3 with a key derivation rate of 0,
/// as DTLS-SRTP has: the AES-CM PRF over the salt with the label in its eighth byte).
fn derive(
    crypto: &dyn RTCCrypto,
    master_key: &[u8],
    master_salt: &[u8],
    label: u8,
    len: usize,
) -> Result<Vec<u8>, CryptoError> {
    let algorithm = match master_key.len() {
        16 => BlockCipherAlgorithm::Aes128,
        _ => BlockCipherAlgorithm::Aes256,
    };
    let mut x = [0u8; 16];
    for (x, s) in x.iter_mut().zip(master_salt) {
        *x = *s;
    }
    x[7] ^= label;
    let mut out = Vec::with_capacity(len.div_ceil(16) * 16);
    for i in 0..len.div_ceil(16) {
        let mut block = x;
        block[14..].copy_from_slice(&(i as u16).to_be_bytes());
        crypto.block_encrypt(algorithm, master_key, &mut block)?;
        out.extend_from_slice(&block);
    }
    out.truncate(len);
    Ok(out)
}

impl Sealer {
    /// A sealer for `profile`'s packets under these master keys; `None` for a profile it
    /// does not know (rtc may agree on no other: `keys.rs`).
    pub(crate) fn new(
        profile: ProtectionProfile,
        master_key: &[u8],
        master_salt: &[u8],
        crypto: &dyn RTCCrypto,
    ) -> Result<Option<Sealer>, CryptoError> {
        let key = derive(
            crypto,
            master_key,
            master_salt,
            LABEL_ENCRYPTION,
            master_key.len(),
        )?;
        let salt = derive(
            crypto,
            master_key,
            master_salt,
            LABEL_SALT,
            master_salt.len(),
        )?;
        let sealer = match profile {
            ProtectionProfile::AeadAes128Gcm | ProtectionProfile::AeadAes256Gcm => {
                let algorithm = match profile {
                    ProtectionProfile::AeadAes128Gcm => AeadAlgorithm::Aes128Gcm,
                    _ => AeadAlgorithm::Aes256Gcm,
                };
                let Ok(salt) = <[u8; 12]>::try_from(&salt[..]) else {
                    return Ok(None);
                };
                Sealer::Gcm {
                    cipher: crypto.new_aead(algorithm, &key)?,
                    salt,
                }
            }
            ProtectionProfile::Aes128CmHmacSha1_80 | ProtectionProfile::Aes128CmHmacSha1_32 => {
                let auth = derive(
                    crypto,
                    master_key,
                    master_salt,
                    LABEL_AUTHENTICATION,
                    profile.auth_key_len(),
                )?;
                let Ok(salt) = <[u8; 14]>::try_from(&salt[..]) else {
                    return Ok(None);
                };
                Sealer::Cm {
                    cipher: crypto.new_stream_cipher(StreamCipherAlgorithm::Aes128Ctr, &key)?,
                    mac: crypto.new_hmac(HmacAlgorithm::Sha1, &auth)?,
                    salt,
                    tag: profile.rtp_auth_tag_len(),
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(sealer))
    }

    /// Seals the RTP packet `datagram` holds (its header `header_len` bytes long, then the
    /// payload) in place, for SSRC `ssrc`, sequence number `seq` and rollover counter `roc`,
    /// and appends the tag.
    pub(crate) fn seal(
        &mut self,
        datagram: &mut BytesMut,
        header_len: usize,
        ssrc: u32,
        seq: u16,
        roc: u32,
    ) -> Result<(), CryptoError> {
        match self {
            Sealer::Gcm { cipher, salt } => {
                // RFC 7714 8.1: 00 00 | SSRC | ROC | SEQ, XORed with the salt.
                let mut iv = [0u8; 12];
                iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
                iv[6..10].copy_from_slice(&roc.to_be_bytes());
                iv[10..].copy_from_slice(&seq.to_be_bytes());
                for (v, s) in iv.iter_mut().zip(salt.iter()) {
                    *v ^= s;
                }
                let mut tag = [0u8; 16];
                let (aad, payload) = datagram.split_at_mut(header_len);
                cipher.seal_in_place(&iv, aad, payload, &mut tag)?;
                datagram.extend_from_slice(&tag);
            }
            Sealer::Cm {
                cipher,
                mac,
                salt,
                tag,
            } => {
                // RFC 3711 4.1.1: salt·2^16 XOR SSRC·2^64 XOR index·2^16.
                let mut iv = [0u8; 16];
                iv[4..8].copy_from_slice(&ssrc.to_be_bytes());
                iv[8..12].copy_from_slice(&roc.to_be_bytes());
                iv[12..14].copy_from_slice(&seq.to_be_bytes());
                for (v, s) in iv.iter_mut().zip(salt.iter()) {
                    *v ^= s;
                }
                cipher.apply_keystream(&iv, &mut datagram[header_len..])?;
                let mut full = [0u8; 20];
                mac.sign(&[&datagram[..], &roc.to_be_bytes()], &mut full)?;
                datagram.extend_from_slice(&full[..*tag]);
            }
        }
        Ok(())
    }

    /// Bytes a sealed packet has beyond its plaintext.
    pub(crate) fn overhead(&self) -> usize {
        match self {
            Sealer::Gcm { .. } => 16,
            Sealer::Cm { tag, .. } => *tag,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc::shared::marshal::{Marshal, MarshalSize};
    use rtc::srtp::context::Context;

    fn packet(ssrc: u32, seq: u16, payload: &[u8]) -> rtc::rtp::Packet {
        rtc::rtp::Packet {
            header: rtc::rtp::header::Header {
                version: 2,
                payload_type: 96,
                sequence_number: seq,
                timestamp: 90_000,
                ssrc,
                marker: true,
                ..Default::default()
            },
            payload: bytes::Bytes::copy_from_slice(payload),
        }
    }

    /// What rtc-srtp opens is what it sealed itself: every profile, across a rollover.
    #[test]
    fn rtc_srtp_opens_what_it_seals_in_every_profile_across_a_rollover() {
        let provider = rtc::crypto::default_provider().unwrap();
        let crypto = provider.crypto();
        for profile in [
            ProtectionProfile::AeadAes128Gcm,
            ProtectionProfile::AeadAes256Gcm,
            ProtectionProfile::Aes128CmHmacSha1_80,
            ProtectionProfile::Aes128CmHmacSha1_32,
        ] {
            let key: Vec<u8> = (0..profile.key_len() as u8).collect();
            let salt: Vec<u8> = (100..100 + profile.salt_len() as u8).collect();
            let mut sealer = Sealer::new(profile, &key, &salt, crypto).unwrap().unwrap();
            let mut opener = Context::new(&key, &salt, profile, None, None, crypto).unwrap();
            let mut roc = 0;
            for (i, seq) in [65_533u16, 65_534, 65_535, 0, 1, 2].into_iter().enumerate() {
                if seq == 0 {
                    roc += 1;
                }
                let payload = vec![i as u8; 300 + i];
                let p = packet(0x1234_5678, seq, &payload);
                let mut datagram = BytesMut::with_capacity(p.marshal_size() + 16);
                datagram.extend_from_slice(&p.marshal().unwrap());
                let plain = datagram.clone();
                sealer
                    .seal(
                        &mut datagram,
                        p.header.marshal_size(),
                        0x1234_5678,
                        seq,
                        roc,
                    )
                    .unwrap();
                assert_eq!(datagram.len(), plain.len() + sealer.overhead());
                assert_ne!(datagram[12..plain.len()], plain[12..], "{profile:?}");
                let opened = opener.decrypt_rtp(&datagram).expect("opens");
                assert_eq!(opened[..], plain[..], "{profile:?} seq {seq}");
            }
            // A packet sealed under another rollover counter does not open.
            let p = packet(0x1234_5678, 3, b"late");
            let mut datagram = BytesMut::from(&p.marshal().unwrap()[..]);
            sealer.seal(&mut datagram, 12, 0x1234_5678, 3, 7).unwrap();
            assert!(opener.decrypt_rtp(&datagram).is_err(), "{profile:?}");
        }
    }
}
