//! Secrets handed out by Tessera: `<kind>_<base58check(256 random bits)>`.
//!
//! The kind prefix says what a leaked string is; base58check (a 4-byte double-SHA-256
//! checksum inside the encoding) lets a secret scanner confirm a match without asking Tessera.
//! Only [`sha256`] of the whole string is ever stored: these secrets carry 256 bits of entropy,
//! so a fast hash is safe, and it keeps validation on the hot path a single index lookup.

use std::fmt;

use aws_lc_rs::digest;
use zeroize::{Zeroize, Zeroizing};

/// What a secret is for; the prefix names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// A tenant's API key.
    TenantApiKey,
    /// The operator's API key (scope `admin`).
    OperatorKey,
    /// An agent's OAuth 2 client secret.
    ClientSecret,
    /// A session's refresh token (single-use; rotated on every refresh).
    RefreshToken,
    /// The token of an emailed sign-in link or invitation (single-use, short-lived).
    EmailLink,
    /// The handle of a passkey ceremony between its start and its finish (single-use).
    PasskeyCeremony,
    /// An OAuth authorization code (single-use, 60 seconds).
    AuthorizationCode,
    /// A refresh token an application holds for a person's grant (single-use; rotated).
    GrantRefreshToken,
    /// The handle of an authorization request awaiting consent (single-use; bound to the
    /// session that saw the consent screen).
    ConsentRequest,
    /// The registration access token of a dynamically registered client (RFC 7592).
    RegistrationAccessToken,
    /// The device code of a device authorization (RFC 8628; single-use, 10 minutes).
    DeviceCode,
}

impl SecretKind {
    pub const ALL: [SecretKind; 11] = [
        Self::TenantApiKey,
        Self::OperatorKey,
        Self::ClientSecret,
        Self::RefreshToken,
        Self::EmailLink,
        Self::PasskeyCeremony,
        Self::AuthorizationCode,
        Self::GrantRefreshToken,
        Self::ConsentRequest,
        Self::RegistrationAccessToken,
        Self::DeviceCode,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            Self::TenantApiKey => "tsk",
            Self::OperatorKey => "tso",
            Self::ClientSecret => "tcs",
            Self::RefreshToken => "trt",
            Self::EmailLink => "tml",
            Self::PasskeyCeremony => "tpc",
            Self::AuthorizationCode => "tac",
            Self::GrantRefreshToken => "tgr",
            Self::ConsentRequest => "tcq",
            Self::RegistrationAccessToken => "tra",
            Self::DeviceCode => "tdc",
        }
    }

    /// The kind of a well-formed secret: known prefix and a valid checksum.
    pub fn of(secret: &str) -> Option<Self> {
        let (prefix, body) = secret.split_once('_')?;
        let kind = Self::ALL.into_iter().find(|k| k.prefix() == prefix)?;
        let mut decoded = Zeroizing::new([0u8; 40]);
        let len = bs58::decode(body)
            .with_check(None)
            .onto(&mut decoded[..])
            .ok()?;
        // `onto` returns the payload length, checksum excluded: exactly the 256 random bits.
        (len == 32).then_some(kind)
    }
}

/// A secret in clear. It never prints and is wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret itself: for the one response that shows it, or for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// A new secret and the digest to store.
#[derive(Debug)]
pub struct GeneratedSecret {
    pub secret: SecretString,
    pub hash: [u8; 32],
}

impl GeneratedSecret {
    pub fn new(kind: SecretKind) -> Self {
        let mut random = Zeroizing::new([0u8; 32]);
        // The system RNG failing is unrecoverable; there is nothing safe to hand out instead.
        #[allow(clippy::expect_used)]
        aws_lc_rs::rand::fill(&mut random[..]).expect("system random number generator failed");
        let body = bs58::encode(&random[..]).with_check().into_string();
        let secret = SecretString(format!("{}_{}", kind.prefix(), body));
        let hash = sha256(secret.expose().as_bytes());
        Self { secret, hash }
    }
}

/// SHA-256 of a byte string.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_their_kind_and_a_checksum() {
        for kind in SecretKind::ALL {
            let generated = GeneratedSecret::new(kind);
            let text = generated.secret.expose();
            assert!(text.starts_with(kind.prefix()));
            assert_eq!(SecretKind::of(text), Some(kind));
            assert_eq!(generated.hash, sha256(text.as_bytes()));
            assert!(text.len() >= 4 + 48, "{text}");
        }
    }

    #[test]
    fn a_changed_character_breaks_the_checksum() {
        let generated = GeneratedSecret::new(SecretKind::TenantApiKey);
        let text = generated.secret.expose();
        let last = text.chars().last().unwrap_or('1');
        let replacement = if last == '2' { '3' } else { '2' };
        let tampered = format!("{}{}", &text[..text.len() - 1], replacement);
        assert_eq!(SecretKind::of(&tampered), None);
        assert_eq!(SecretKind::of("tsk_notbase58!"), None);
        assert_eq!(SecretKind::of("xyz_abc"), None);
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let generated = GeneratedSecret::new(SecretKind::ClientSecret);
        assert!(!format!("{generated:?}").contains(generated.secret.expose()));
    }
}
