//! Signing keys as stored: the private key sealed under the master key, the public JWK in clear.

use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    /// JOSE algorithm name: `ES256`, `EdDSA` or `RS256`.
    pub alg: String,
    /// The PKCS#8 private key, sealed (envelope encryption, the kid as associated data).
    pub sealed_private_key: Vec<u8>,
    /// The public JWK as JSON.
    pub public_jwk: String,
    pub created_at: OffsetDateTime,
    /// From this moment the key may sign; before it, it is only published.
    pub activates_at: OffsetDateTime,
    /// Set when a newer key took over; the key stops signing then.
    pub retired_at: Option<OffsetDateTime>,
    /// When the last token this key can have signed expires; the JWKS drops it after that.
    pub unpublish_at: Option<OffsetDateTime>,
}
