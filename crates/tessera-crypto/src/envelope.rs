//! Envelope encryption: every record gets its own AES-256-GCM data key, and only that data key
//! is encrypted ("wrapped") under the master key. Rotating the master key rewraps data keys
//! without touching the records, and each sealed blob names the master-key version it needs.
//!
//! Layout of a sealed blob (all integers big-endian):
//! `0x01 | master version (u32) | wrap nonce (12) | wrapped data key (32 + 16 tag) | nonce (12) | ciphertext + tag (16)`.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

const FORMAT: u8 = 1;
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN + KEY_LEN + TAG_LEN + NONCE_LEN;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the master key must be 32 bytes, base64-encoded")]
    BadMasterKey,
    #[error("sealed data is malformed")]
    Malformed,
    #[error("sealed under master key version {0}, which is not loaded")]
    UnknownMasterVersion(u32),
    #[error("sealed data failed authentication (wrong key, or it was altered)")]
    Tampered,
}

/// One version of the master key.
#[derive(Clone)]
pub struct MasterKey {
    version: u32,
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl MasterKey {
    pub fn generate(version: u32) -> Self {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        #[allow(clippy::expect_used)] // no safe fallback exists for a broken system RNG
        aws_lc_rs::rand::fill(&mut key[..]).expect("system random number generator failed");
        Self { version, key }
    }

    /// Reads the base64 form used in `TESSERA_MASTER_KEY` and the key file.
    pub fn from_base64(version: u32, text: &str) -> Result<Self, EnvelopeError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| EnvelopeError::BadMasterKey)?,
        );
        let key: [u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| EnvelopeError::BadMasterKey)?;
        Ok(Self {
            version,
            key: Zeroizing::new(key),
        })
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(&self.key[..]))
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    fn aead(&self) -> LessSafeKey {
        aead_key(&self.key[..])
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The master keys in use: the newest seals, every loaded version opens.
#[derive(Debug, Clone)]
pub struct MasterKeys {
    current: MasterKey,
    older: Vec<MasterKey>,
}

impl MasterKeys {
    pub fn new(current: MasterKey, older: Vec<MasterKey>) -> Self {
        Self { current, older }
    }

    /// Encrypts `plaintext`; `aad` binds the blob to its record (a blob copied onto another
    /// record fails to open).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let data_key = MasterKey::generate(0);
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        out.push(FORMAT);
        out.extend_from_slice(&self.current.version.to_be_bytes());

        let wrap_nonce = random_nonce();
        let mut wrapped = data_key.key.to_vec();
        seal_in_place(
            &self.current.aead(),
            wrap_nonce,
            &self.current.version.to_be_bytes(),
            &mut wrapped,
        );
        out.extend_from_slice(&wrap_nonce);
        out.extend_from_slice(&wrapped);

        let nonce = random_nonce();
        let mut body = plaintext.to_vec();
        seal_in_place(&data_key.aead(), nonce, aad, &mut body);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        if sealed.len() < HEADER_LEN + TAG_LEN || sealed[0] != FORMAT {
            return Err(EnvelopeError::Malformed);
        }
        let version_bytes: [u8; 4] = sealed[1..5]
            .try_into()
            .map_err(|_| EnvelopeError::Malformed)?;
        let version = u32::from_be_bytes(version_bytes);
        let master = std::iter::once(&self.current)
            .chain(&self.older)
            .find(|k| k.version == version)
            .ok_or(EnvelopeError::UnknownMasterVersion(version))?;

        let (wrap_nonce, rest) = sealed[5..].split_at(NONCE_LEN);
        let (wrapped, rest) = rest.split_at(KEY_LEN + TAG_LEN);
        let (nonce, body) = rest.split_at(NONCE_LEN);

        let mut data_key = Zeroizing::new(wrapped.to_vec());
        let data_key = open_in_place(&master.aead(), wrap_nonce, &version_bytes, &mut data_key)?;
        let mut plaintext = Zeroizing::new(body.to_vec());
        let len = open_in_place(&aead_key(data_key), nonce, aad, &mut plaintext)?.len();
        plaintext.truncate(len);
        Ok(plaintext)
    }
}

fn aead_key(key: &[u8]) -> LessSafeKey {
    #[allow(clippy::expect_used)] // every caller passes exactly KEY_LEN bytes
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("AES-256 key is 32 bytes"))
}

fn random_nonce() -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    #[allow(clippy::expect_used)] // no safe fallback exists for a broken system RNG
    aws_lc_rs::rand::fill(&mut nonce).expect("system random number generator failed");
    nonce
}

fn seal_in_place(key: &LessSafeKey, nonce: [u8; NONCE_LEN], aad: &[u8], data: &mut Vec<u8>) {
    #[allow(clippy::expect_used)] // sealing only fails for inputs larger than GCM allows (64 GiB)
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), data)
        .expect("AES-GCM seal");
}

fn open_in_place<'a>(
    key: &LessSafeKey,
    nonce: &[u8],
    aad: &[u8],
    data: &'a mut [u8],
) -> Result<&'a mut [u8], EnvelopeError> {
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| EnvelopeError::Malformed)?;
    key.open_in_place(nonce, Aad::from(aad), data)
        .map_err(|_| EnvelopeError::Tampered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> MasterKeys {
        MasterKeys::new(MasterKey::generate(1), vec![])
    }

    #[test]
    fn seals_and_opens() {
        let keys = keys();
        let sealed = keys.seal(b"private key", b"kid-1");
        assert!(!sealed.windows(11).any(|w| w == b"private key"));
        assert_eq!(&keys.open(&sealed, b"kid-1").unwrap()[..], b"private key");
    }

    #[test]
    fn refuses_other_record_other_key_and_tampering() {
        let keys = keys();
        let sealed = keys.seal(b"secret", b"a");
        assert_eq!(
            keys.open(&sealed, b"b").unwrap_err(),
            EnvelopeError::Tampered
        );
        let other = MasterKeys::new(MasterKey::generate(1), vec![]);
        assert_eq!(
            other.open(&sealed, b"a").unwrap_err(),
            EnvelopeError::Tampered
        );
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            keys.open(&flipped, b"a").unwrap_err(),
            EnvelopeError::Tampered
        );
        assert_eq!(
            keys.open(&sealed[..10], b"a").unwrap_err(),
            EnvelopeError::Malformed
        );
    }

    #[test]
    fn older_versions_still_open_after_rotation() {
        let v1 = MasterKey::generate(1);
        let sealed = MasterKeys::new(v1.clone(), vec![]).seal(b"x", b"r");
        let rotated = MasterKeys::new(MasterKey::generate(2), vec![v1]);
        assert_eq!(&rotated.open(&sealed, b"r").unwrap()[..], b"x");
        let without_v1 = MasterKeys::new(MasterKey::generate(2), vec![]);
        assert_eq!(
            without_v1.open(&sealed, b"r").unwrap_err(),
            EnvelopeError::UnknownMasterVersion(1)
        );
    }

    #[test]
    fn master_key_text_round_trips() {
        let key = MasterKey::generate(3);
        let again = MasterKey::from_base64(3, &key.to_base64()).unwrap();
        let sealed = MasterKeys::new(key, vec![]).seal(b"y", b"");
        assert_eq!(
            &MasterKeys::new(again, vec![]).open(&sealed, b"").unwrap()[..],
            b"y"
        );
        assert_eq!(
            MasterKey::from_base64(1, "c2hvcnQ=").unwrap_err(),
            EnvelopeError::BadMasterKey
        );
    }
}
