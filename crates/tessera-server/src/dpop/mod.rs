//! DPoP (RFC 9449): checking a proof (`typ`, allowed `alg`, the public `jwk` in its header and
//! its signature, `htm`, `htu`, the `iat` window, single-use `jti`, `ath`, the server's nonce),
//! the server nonces themselves; in [`token_request`] what the token endpoint binds a token to,
//! and in [`resource`] what a resource requires of a bound token.
//!
//! Nonces are stateless so that any instance accepts another's: a nonce is the current
//! five-minute window sealed (AEAD) under the master key, good for that window and the next.

pub mod resource;
pub mod token_request;

use axum::http::{HeaderMap, HeaderValue, Method};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tessera_core::StoreError;
use tessera_core::agent_key::ReplayKind;
use tessera_crypto::client_key::{token_hash, unverified_header};
use tessera_crypto::{Algorithm, ClientJwtError, ClientKey, Confirmation, sha256};
use time::Duration;

use crate::state::AppState;

/// The `typ` of a proof (RFC 9449 §4.2).
pub const PROOF_TYP: &str = "dpop+jwt";
/// The header a proof travels in, and the one a server nonce is sent in.
pub const DPOP_HEADER: &str = "dpop";
pub const NONCE_HEADER: &str = "dpop-nonce";
/// How far a proof's `iat` may be from Tessera's clock, either way.
const IAT_WINDOW_SECS: i64 = 60;
/// A nonce is issued for a window this long and accepted during it and the next.
const NONCE_WINDOW_SECS: i64 = 300;
const NONCE_AAD: &[u8] = b"tessera dpop nonce";

/// The `token_type` of a token response or introspection: `DPoP` for a bound token.
pub fn token_type(cnf: Option<&Confirmation>) -> &'static str {
    if cnf.is_some() { "DPoP" } else { "Bearer" }
}

/// Whether `jkt` reads as an RFC 7638 thumbprint: base64url of a SHA-256 digest.
pub fn is_thumbprint(jkt: &str) -> bool {
    URL_SAFE_NO_PAD
        .decode(jkt)
        .is_ok_and(|digest| digest.len() == 32)
}

/// The algorithms a proof may be signed with.
pub fn proof_algs() -> [&'static str; 3] {
    Algorithm::ALL.map(Algorithm::as_str)
}

/// Why a proof was refused; the text goes to the client.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("{0}")]
    Invalid(String),
    /// The proof lacks a current server nonce: the client retries with the one sent.
    #[error("the proof must carry the server's current nonce (`DPoP-Nonce`)")]
    NonceRequired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(why: impl Into<String>) -> ProofError {
    ProofError::Invalid(why.into())
}

/// A checked proof: the thumbprint of the key that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    pub jkt: String,
}

#[derive(Debug, Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// What the proof is for: the request it was made for, the token it presents (at a resource),
/// and whether the server's nonce is required.
#[derive(Debug, Clone, Copy)]
pub struct ProofTarget<'a> {
    pub method: &'a Method,
    /// The request's path (no query): `htu` must be Tessera's public origin plus this.
    pub path: &'a str,
    pub access_token: Option<&'a str>,
    pub require_nonce: bool,
}

/// The request's one DPoP proof, None when it has none; two are refused.
pub fn proof_header(headers: &HeaderMap) -> Result<Option<&str>, ProofError> {
    let mut values = headers.get_all(DPOP_HEADER).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(invalid("send one DPoP proof, not several"));
    }
    first
        .map(|v| {
            v.to_str()
                .map_err(|_| invalid("the DPoP proof is not a JWT"))
        })
        .transpose()
}

impl AppState {
    /// A fresh server nonce, to send as `DPoP-Nonce`.
    pub fn dpop_nonce(&self) -> HeaderValue {
        let window = self
            .clock
            .now()
            .unix_timestamp()
            .div_euclid(NONCE_WINDOW_SECS);
        let sealed = self.master.seal(&window.to_be_bytes(), NONCE_AAD);
        // base64url is always a valid header value.
        HeaderValue::from_str(&URL_SAFE_NO_PAD.encode(sealed))
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    fn nonce_is_current(&self, nonce: &str) -> bool {
        let Ok(sealed) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        let Ok(opened) = self.master.open(&sealed, NONCE_AAD) else {
            return false;
        };
        let Ok(bytes) = <[u8; 8]>::try_from(opened.as_slice()) else {
            return false;
        };
        let issued = i64::from_be_bytes(bytes);
        let now = self
            .clock
            .now()
            .unix_timestamp()
            .div_euclid(NONCE_WINDOW_SECS);
        issued == now || issued + 1 == now
    }

    /// Checks a DPoP proof for `target` and spends its `jti`.
    pub async fn check_dpop_proof(
        &self,
        proof: &str,
        target: ProofTarget<'_>,
    ) -> Result<Proof, ProofError> {
        let (header, alg) = unverified_header(proof).map_err(|e| match e {
            ClientJwtError::AlgorithmNotAllowed => {
                invalid("the proof's `alg` is not one of ES256, EdDSA, RS256")
            }
            _ => invalid("the DPoP proof is not a well-formed JWT"),
        })?;
        let typ_ok = header
            .get("typ")
            .and_then(|t| t.as_str())
            .is_some_and(|t| t.eq_ignore_ascii_case(PROOF_TYP));
        if !typ_ok {
            return Err(invalid("the proof's `typ` must be `dpop+jwt`"));
        }
        let jwk = header
            .get("jwk")
            .ok_or_else(|| invalid("the proof's header must carry the public `jwk`"))?;
        let key = ClientKey::from_jwk(jwk, Some(alg.as_str()))
            .map_err(|e| invalid(format!("the proof's `jwk`: {e}")))?;
        let claims: ProofClaims = key.verify(proof).map_err(|e| match e {
            ClientJwtError::BadSignature => invalid("the proof's signature does not verify"),
            _ => invalid("the proof lacks `jti`, `htm`, `htu` or `iat`"),
        })?;
        if claims.htm != target.method.as_str() {
            return Err(invalid("the proof's `htm` is not this request's method"));
        }
        if !self.htu_matches(&claims.htu, target.path) {
            return Err(invalid("the proof's `htu` is not this request's URL"));
        }
        let now = self.clock.now();
        if (claims.iat - now.unix_timestamp()).abs() > IAT_WINDOW_SECS {
            return Err(invalid(
                "the proof's `iat` is too far from the server's time",
            ));
        }
        if claims.jti.is_empty() || claims.jti.len() > 256 {
            return Err(invalid("the proof's `jti` must be 1 to 256 characters"));
        }
        match (target.access_token, &claims.ath) {
            (Some(token), Some(ath)) => {
                if !bool::from(token_hash(token).as_bytes().ct_eq(ath.as_bytes())) {
                    return Err(invalid("the proof's `ath` is not the hash of this token"));
                }
            }
            (Some(_), None) => return Err(invalid("the proof must carry `ath`")),
            (None, _) => {}
        }
        match &claims.nonce {
            Some(nonce) if !self.nonce_is_current(nonce) => return Err(ProofError::NonceRequired),
            None if target.require_nonce => return Err(ProofError::NonceRequired),
            _ => {}
        }
        // Spent only once everything else holds, so a refused proof can be fixed and resent.
        let spent = sha256(format!("{}\n{}", key.thumbprint, claims.jti).as_bytes());
        let keep_until = now + Duration::seconds(2 * IAT_WINDOW_SECS);
        if !self
            .store
            .first_use(ReplayKind::DpopProof, &spent, keep_until, now)
            .await?
        {
            return Err(invalid("the proof has been used before"));
        }
        Ok(Proof {
            jkt: key.thumbprint,
        })
    }

    /// Whether `htu` names Tessera's public URL with `path` (query and fragment ignored,
    /// RFC 9449 §4.3).
    fn htu_matches(&self, htu: &str, path: &str) -> bool {
        let (Ok(mut presented), Ok(expected)) = (
            url::Url::parse(htu),
            url::Url::parse(&format!("{}{path}", self.issuer)),
        ) else {
            return false;
        };
        presented.set_query(None);
        presented.set_fragment(None);
        presented == expected
    }
}
