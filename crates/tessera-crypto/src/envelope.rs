//! Envelope encryption: every record gets its own AES-256-GCM data key, and only that data key
//! is encrypted ("wrapped") under the master key. Rotating the master key rewraps data keys
//! without touching the records, and each sealed blob names the master-key version it needs.
//!
//! Layout of a sealed blob (all integers big-endian):
//! `0x01 | master version (u32) | wrap nonce (12) | wrapped data key (32 + 16 tag) | nonce (12) | ciphertext + tag (16)`.

use std::fmt;
use std::sync::{Arc, RwLock};

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
///
/// Clones share one ring, so a server that loads a new version ([`MasterKeys::replace_with`])
/// makes every part of it (key service, wallets, webhooks, the vault) open records rewrapped
/// under that version at once.
#[derive(Debug, Clone)]
pub struct MasterKeys(Arc<RwLock<Ring>>);

#[derive(Debug)]
struct Ring {
    current: MasterKey,
    older: Vec<MasterKey>,
}

impl Ring {
    fn find(&self, version: u32) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.older)
            .find(|k| k.version == version)
    }
}

impl MasterKeys {
    pub fn new(current: MasterKey, older: Vec<MasterKey>) -> Self {
        Self(Arc::new(RwLock::new(Ring { current, older })))
    }

    fn ring(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the text form of `TESSERA_MASTER_KEY` and the key file: entries separated by
    /// whitespace or commas, each `<version>:<base64>` or a bare base64 key (version 1, the
    /// form written before versions existed). The highest version seals.
    pub fn parse(text: &str) -> Result<Self, EnvelopeError> {
        let mut keys = Vec::new();
        for entry in text
            .split([',', ' ', '\n', '\r', '\t'])
            .filter(|e| !e.is_empty())
        {
            let key = match entry.split_once(':') {
                Some((version, key)) => MasterKey::from_base64(
                    version.parse().map_err(|_| EnvelopeError::BadMasterKey)?,
                    key,
                )?,
                None => MasterKey::from_base64(1, entry)?,
            };
            if keys.iter().any(|k: &MasterKey| k.version == key.version) {
                return Err(EnvelopeError::BadMasterKey);
            }
            keys.push(key);
        }
        keys.sort_by_key(|k| k.version);
        let current = keys.pop().ok_or(EnvelopeError::BadMasterKey)?;
        Ok(Self::new(current, keys))
    }

    /// The text [`MasterKeys::parse`] reads, every version on a line of its own.
    pub fn to_text(&self) -> Zeroizing<String> {
        let ring = self.ring();
        let mut text = Zeroizing::new(String::new());
        for key in ring.older.iter().chain(std::iter::once(&ring.current)) {
            text.push_str(&format!("{}:{}\n", key.version, key.to_base64().as_str()));
        }
        text
    }

    pub fn current_version(&self) -> u32 {
        self.ring().current.version
    }

    /// These keys with version `version` sealing and every other one only opening: how a
    /// cluster learns a new version before any instance seals with it (each instance must be
    /// able to open what another seals).
    pub fn sealing_with(self, version: u32) -> Result<Self, EnvelopeError> {
        let ring = self.ring();
        let all: Vec<MasterKey> = std::iter::once(&ring.current)
            .chain(&ring.older)
            .cloned()
            .collect();
        drop(ring);
        let (sealing, others): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|k| k.version == version);
        let current = sealing
            .into_iter()
            .next()
            .ok_or(EnvelopeError::UnknownMasterVersion(version))?;
        Ok(Self::new(current, others))
    }

    /// These keys with a newly generated one (the next version) sealing from now on.
    pub fn with_next(&self) -> Self {
        let ring = self.ring();
        let highest = ring
            .older
            .iter()
            .map(|k| k.version)
            .fold(ring.current.version, u32::max);
        let next = MasterKey::generate(highest + 1);
        let older = ring
            .older
            .iter()
            .cloned()
            .chain(std::iter::once(ring.current.clone()))
            .collect();
        Self::new(next, older)
    }

    /// Makes every holder of these keys use `other`'s versions from now on.
    pub fn replace_with(&self, other: &MasterKeys) {
        let (current, older) = {
            let theirs = other.ring();
            (theirs.current.clone(), theirs.older.clone())
        };
        let mut ring = self.0.write().unwrap_or_else(|p| p.into_inner());
        *ring = Ring { current, older };
    }

    /// Encrypts `plaintext`; `aad` binds the blob to its record (a blob copied onto another
    /// record fails to open).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let ring = self.ring();
        let data_key = MasterKey::generate(0);
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&wrap(&ring.current, &data_key));

        let nonce = random_nonce();
        let mut body = plaintext.to_vec();
        seal_in_place(&data_key.aead(), nonce, aad, &mut body);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out
    }

    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        let (data_key, rest) = self.unwrap_data_key(sealed)?;
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let mut plaintext = Zeroizing::new(body.to_vec());
        let len = open_in_place(&aead_key(&data_key[..]), nonce, aad, &mut plaintext)?.len();
        plaintext.truncate(len);
        Ok(plaintext)
    }

    /// The blob with its data key wrapped by the current version instead, the record itself
    /// untouched (no associated data is needed); None when it already is.
    pub fn rewrap(&self, sealed: &[u8]) -> Result<Option<Vec<u8>>, EnvelopeError> {
        let ring = self.ring();
        if sealed.len() >= 5 && sealed[1..5] == ring.current.version.to_be_bytes() {
            return Ok(None);
        }
        drop(ring);
        let (data_key, rest) = self.unwrap_data_key(sealed)?;
        let data_key = MasterKey {
            version: 0,
            key: data_key,
        };
        let mut out = wrap(&self.ring().current, &data_key);
        out.extend_from_slice(rest);
        Ok(Some(out))
    }

    /// The data key of `sealed`, and what follows its header (nonce, ciphertext, tag).
    fn unwrap_data_key<'a>(
        &self,
        sealed: &'a [u8],
    ) -> Result<(Zeroizing<[u8; KEY_LEN]>, &'a [u8]), EnvelopeError> {
        if sealed.len() < HEADER_LEN + TAG_LEN || sealed[0] != FORMAT {
            return Err(EnvelopeError::Malformed);
        }
        let version_bytes: [u8; 4] = sealed[1..5]
            .try_into()
            .map_err(|_| EnvelopeError::Malformed)?;
        let version = u32::from_be_bytes(version_bytes);
        let ring = self.ring();
        let master = ring
            .find(version)
            .ok_or(EnvelopeError::UnknownMasterVersion(version))?;
        let (wrap_nonce, rest) = sealed[5..].split_at(NONCE_LEN);
        let (wrapped, rest) = rest.split_at(KEY_LEN + TAG_LEN);
        let mut buffer = Zeroizing::new(wrapped.to_vec());
        let opened = open_in_place(&master.aead(), wrap_nonce, &version_bytes, &mut buffer)?;
        let key: [u8; KEY_LEN] = (&*opened)
            .try_into()
            .map_err(|_| EnvelopeError::Malformed)?;
        Ok((Zeroizing::new(key), rest))
    }
}

/// `FORMAT | version | wrap nonce | data key wrapped by `master``: the header of a blob.
fn wrap(master: &MasterKey, data_key: &MasterKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.push(FORMAT);
    out.extend_from_slice(&master.version.to_be_bytes());
    let wrap_nonce = random_nonce();
    let mut wrapped = data_key.key.to_vec();
    seal_in_place(
        &master.aead(),
        wrap_nonce,
        &master.version.to_be_bytes(),
        &mut wrapped,
    );
    out.extend_from_slice(&wrap_nonce);
    out.extend_from_slice(&wrapped);
    out
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
    fn rotation_rewraps_without_the_record_and_every_holder_follows() {
        let v1 = MasterKeys::new(MasterKey::generate(1), vec![]);
        let shared = v1.clone();
        let sealed = v1.seal(b"token set", b"record");
        let v2 = v1.with_next();
        assert_eq!(v2.current_version(), 2);
        let rewrapped = v2.rewrap(&sealed).unwrap().unwrap();
        assert_eq!(&rewrapped[1..5], &2u32.to_be_bytes());
        assert_eq!(v2.rewrap(&rewrapped).unwrap(), None);
        // Only version 2 is needed now; the record's binding is unchanged.
        let only_v2 = MasterKeys::parse(v2.to_text().lines().last().unwrap()).unwrap();
        assert_eq!(
            &only_v2.open(&rewrapped, b"record").unwrap()[..],
            b"token set"
        );
        assert_eq!(
            only_v2.open(&rewrapped, b"other").unwrap_err(),
            EnvelopeError::Tampered
        );
        // A holder of the old ring learns version 2 when it is replaced.
        assert_eq!(
            shared.open(&rewrapped, b"record").unwrap_err(),
            EnvelopeError::UnknownMasterVersion(2)
        );
        shared.replace_with(&v2);
        assert_eq!(&v1.open(&rewrapped, b"record").unwrap()[..], b"token set");
    }

    #[test]
    fn key_text_has_versions_and_reads_the_old_bare_form() {
        let v1 = MasterKey::generate(1);
        let bare = MasterKeys::parse(&v1.to_base64()).unwrap();
        assert_eq!(bare.current_version(), 1);
        let both = bare.with_next();
        let again = MasterKeys::parse(&both.to_text()).unwrap();
        assert_eq!(again.current_version(), 2);
        let sealed = bare.seal(b"x", b"");
        assert_eq!(&again.open(&sealed, b"").unwrap()[..], b"x");
        for bad in [
            "",
            "1:c2hvcnQ=",
            "x:AAAA",
            &format!("1:{0} 1:{0}", v1.to_base64().as_str()),
        ] {
            assert_eq!(
                MasterKeys::parse(bad).unwrap_err(),
                EnvelopeError::BadMasterKey
            );
        }
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

    #[test]
    fn a_new_version_can_be_known_before_it_seals() {
        let old = MasterKeys::new(MasterKey::generate(1), vec![]);
        let both = old.with_next();
        let text = both.to_text();
        // An instance that already has version 2 but still seals with 1 ...
        let learning = MasterKeys::parse(&text).unwrap().sealing_with(1).unwrap();
        assert_eq!(learning.current_version(), 1);
        let sealed = learning.seal(b"z", b"aad");
        // ... writes what an instance without version 2 still opens, and opens what an
        // instance already sealing with 2 writes.
        assert_eq!(&old.open(&sealed, b"aad").unwrap()[..], b"z");
        let newer = both.seal(b"w", b"aad");
        assert_eq!(&learning.open(&newer, b"aad").unwrap()[..], b"w");
        assert_eq!(
            learning.rewrap(&newer).unwrap().map(|b| b[1..5].to_vec()),
            Some(1u32.to_be_bytes().to_vec())
        );
        // The next version after a pinned one is past the highest, not the pinned one.
        assert_eq!(learning.with_next().current_version(), 3);
        assert_eq!(
            MasterKeys::parse(&text)
                .unwrap()
                .sealing_with(7)
                .unwrap_err(),
            EnvelopeError::UnknownMasterVersion(7)
        );
    }
}
