//! OpenID Connect and PKCE: the claims of an ID token, the `at_hash` that binds it to its access
//! token, and the S256 code challenge of a PKCE verifier (RFC 7636).

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::signing::Algorithm;

/// The `typ` header of an ID token (OpenID Connect Core §2 leaves it to JWT's default).
pub const ID_TOKEN_TYP: &str = "JWT";

/// OpenID Connect Core §2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    /// The user id.
    pub sub: String,
    /// The client id.
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    /// When the person signed in.
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The left half of the access token's hash (§3.1.3.6).
    pub at_hash: String,
    /// The client the token was issued to (§2: `azp`).
    pub azp: String,
}

/// `at_hash` (and `c_hash`): base64url of the left half of the token's hash, with the hash the
/// signing algorithm uses — SHA-256 for ES256 and RS256, SHA-512 for EdDSA over Ed25519 (the
/// OpenID Connect errata for EdDSA).
pub fn half_hash(alg: Algorithm, token: &str) -> String {
    let hash = match alg {
        Algorithm::Es256 | Algorithm::Rs256 => digest::digest(&digest::SHA256, token.as_bytes()),
        Algorithm::EdDsa => digest::digest(&digest::SHA512, token.as_bytes()),
    };
    let bytes = hash.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}

/// The S256 code challenge of a PKCE verifier: base64url(SHA-256(verifier)).
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// Whether a string is a PKCE code verifier (or challenge): 43 to 128 unreserved characters.
pub fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(is_pkce_value(verifier));
        assert_eq!(
            pkce_s256(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(!is_pkce_value("short"));
        assert!(!is_pkce_value(&"a".repeat(129)));
        assert!(!is_pkce_value(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn at_hash_is_the_left_half_of_the_algorithms_hash() {
        // OpenID Connect Core §A.3's access token and at_hash (RS256: SHA-256).
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(half_hash(Algorithm::Rs256, token), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(half_hash(Algorithm::Es256, token), "77QmUPtjPfzWtF2AnpK9RQ");
        // SHA-512 has 64 bytes: half is 32, 43 characters of base64url.
        assert_eq!(half_hash(Algorithm::EdDsa, token).len(), 43);
    }
}
