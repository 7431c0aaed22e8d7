//! Verifying an OpenID Connect ID token (Core §3.1.3.7): the signature with the issuer's
//! published key through jsonwebtoken (aws-lc-rs), then `iss`, `aud`/`azp`, `exp`, `iat`/`nbf`
//! and `nonce` against the configuration, the sign-in and the injected clock.
//!
//! Time tolerances: a token is still accepted [`EXPIRY_LEEWAY`] after its `exp` (clocks of
//! two parties disagree a little), and refused when its `iat` is more than
//! [`MAX_ISSUED_AHEAD`] (or its `nbf` more than [`EXPIRY_LEEWAY`]) in the future.

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::FederationError;
use crate::jwks::{JwksCache, Lookup};

/// How long after `exp` an ID token is still accepted.
pub const EXPIRY_LEEWAY: Duration = Duration::seconds(60);
/// How far in the future an ID token's `iat` may lie.
pub const MAX_ISSUED_AHEAD: Duration = Duration::seconds(300);

/// The verified claims of an ID token that Tessera uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    /// One string or an array in the token; always a list here.
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    #[serde(deserialize_with = "numeric_date")]
    pub exp: i64,
    #[serde(deserialize_with = "numeric_date")]
    pub iat: i64,
    #[serde(default, deserialize_with = "optional_numeric_date")]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Some providers send `"true"`/`"false"` as strings; both forms are read.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub name: Option<String>,
}

/// What the token must say.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
}

/// Verifies `token` with the issuer's keys and checks its claims.
pub(crate) async fn verify(
    token: &str,
    jwks: &JwksCache,
    http: &reqwest::Client,
    expected: Expected<'_>,
    now: OffsetDateTime,
) -> Result<IdTokenClaims, FederationError> {
    let header = Header::parse(token)?;
    let fits_alg = |jwk: &Jwk| fits(jwk, header.alg);
    let lookup = match &header.kid {
        Some(kid) => Lookup::Kid(kid),
        None => Lookup::Only(&fits_alg),
    };
    // A monotonic instant for the cache's fetch policy only; token times use `now`.
    let jwk = jwks.key(http, lookup, Instant::now()).await?;
    let claims = verify_signature(token, &jwk, header.alg)?;
    check_claims(&claims, expected, now)?;
    Ok(claims)
}

/// The protected header's `alg` (if accepted) and `kid`.
#[derive(Debug)]
pub(crate) struct Header {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

impl Header {
    pub(crate) fn parse(token: &str) -> Result<Self, FederationError> {
        #[derive(Deserialize)]
        struct Raw {
            alg: String,
            #[serde(default)]
            kid: Option<String>,
            #[serde(default)]
            crit: Option<serde_json::Value>,
        }
        let invalid = |why: &str| FederationError::InvalidIdToken(why.to_owned());
        let parts: Vec<&str> = token.split('.').collect();
        match parts.len() {
            3 => {}
            5 => return Err(invalid("encrypted (JWE) ID tokens are not supported")),
            _ => return Err(invalid("not a signed JWT")),
        }
        let raw: Raw = URL_SAFE_NO_PAD
            .decode(parts[0])
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| invalid("the header is not base64url JSON with `alg`"))?;
        // RFC 7515 §4.1.11: extensions we do not understand must be refused.
        if raw.crit.is_some() {
            return Err(invalid("the header has critical extensions"));
        }
        // Only public-key signatures: `none` proves nothing, and HS* keys are the client
        // secret, which the provider and anyone holding that secret could sign with.
        let alg = match raw.alg.as_str() {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "EdDSA" => Algorithm::EdDSA,
            other => {
                let shown: String = other.chars().take(16).collect();
                return Err(FederationError::DisallowedAlgorithm(shown));
            }
        };
        Ok(Self { alg, kid: raw.kid })
    }
}

/// Whether `jwk` is a verification key for `alg`: its `use`, `key_ops` and `alg` (when
/// present) allow it, and its type and curve are the algorithm's. This is what keeps a token
/// from choosing how its own key is read (an RSA key taken as an HMAC secret, and the like).
pub(crate) fn fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let usable = jwk
        .common
        .public_key_use
        .as_ref()
        .is_none_or(|u| *u == PublicKeyUse::Signature)
        && jwk
            .common
            .key_operations
            .as_ref()
            .is_none_or(|ops| ops.contains(&KeyOperations::Verify))
        && jwk
            .common
            .key_algorithm
            .is_none_or(|a| a == KeyAlgorithm::from(alg));
    let shaped = match (&jwk.algorithm, alg) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
            ec.curve == EllipticCurve::P256
        }
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => {
            ec.curve == EllipticCurve::P384
        }
        (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA) => {
            okp.curve == EllipticCurve::Ed25519
        }
        _ => false,
    };
    usable && shaped
}

/// Checks the signature of `token` (signed with `alg`) with `jwk` and reads its claims.
pub(crate) fn verify_signature(
    token: &str,
    jwk: &Jwk,
    alg: Algorithm,
) -> Result<IdTokenClaims, FederationError> {
    decode_signed(token, jwk, alg)
}

/// [`verify_signature`] into any claims type (workload tokens keep every claim).
pub(crate) fn decode_signed<T: serde::de::DeserializeOwned>(
    token: &str,
    jwk: &Jwk,
    alg: Algorithm,
) -> Result<T, FederationError> {
    if !fits(jwk, alg) {
        return Err(FederationError::InvalidIdToken(format!(
            "the key {:?} is not a {alg:?} verification key",
            jwk.common.key_id
        )));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| {
        FederationError::InvalidIdToken(format!("the provider's key is unusable: {e}"))
    })?;
    let mut validation = Validation::new(alg);
    // jsonwebtoken checks the signature only: the claims are checked by `check_claims`, against
    // the injected clock and with OpenID Connect's rules (azp, nonce) it does not know.
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    match jsonwebtoken::decode::<T>(token, &key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(e) => Err(match e.kind() {
            ErrorKind::InvalidSignature => FederationError::BadSignature,
            _ => FederationError::InvalidIdToken(e.to_string()),
        }),
    }
}

/// Core §3.1.3.7 steps 2–11 (the signature being step 6), against `now`.
pub(crate) fn check_claims(
    claims: &IdTokenClaims,
    expected: Expected<'_>,
    now: OffsetDateTime,
) -> Result<(), FederationError> {
    if claims.iss != expected.issuer {
        return Err(FederationError::WrongIssuer {
            expected: expected.issuer.to_owned(),
            found: claims.iss.clone(),
        });
    }
    if !claims.aud.iter().any(|a| a == expected.client_id) {
        return Err(FederationError::WrongAudience);
    }
    // A token for several audiences must name this client as the party it was issued to; an
    // `azp` naming another client is refused whatever the audience.
    match &claims.azp {
        Some(azp) if azp != expected.client_id => return Err(FederationError::WrongAudience),
        None if claims.aud.len() > 1 => return Err(FederationError::WrongAudience),
        _ => {}
    }
    let now = now.unix_timestamp();
    if claims.exp.saturating_add(EXPIRY_LEEWAY.whole_seconds()) <= now {
        return Err(FederationError::IdTokenExpired);
    }
    if claims.iat > now.saturating_add(MAX_ISSUED_AHEAD.whole_seconds())
        || claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(EXPIRY_LEEWAY.whole_seconds()))
    {
        return Err(FederationError::IdTokenNotYetValid);
    }
    let nonce_matches = !expected.nonce.is_empty()
        && claims
            .nonce
            .as_deref()
            .is_some_and(|n| bool::from(n.as_bytes().ct_eq(expected.nonce.as_bytes())));
    if !nonce_matches {
        return Err(FederationError::NonceMismatch);
    }
    if claims.sub.is_empty() {
        return Err(FederationError::InvalidIdToken("`sub` is empty".into()));
    }
    Ok(())
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// RFC 7519 NumericDate: seconds, possibly fractional.
fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_i64()
        .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
        .ok_or_else(|| D::Error::custom("a NumericDate out of range"))
}

fn optional_numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "numeric_date")] i64);
    Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
}

pub(crate) fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrString {
        Bool(bool),
        String(String),
    }
    match Option::<BoolOrString>::deserialize(d)? {
        None => Ok(None),
        Some(BoolOrString::Bool(b)) => Ok(Some(b)),
        Some(BoolOrString::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(BoolOrString::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(BoolOrString::String(_)) => Err(D::Error::custom("a boolean")),
    }
}

#[cfg(test)]
mod tests;
