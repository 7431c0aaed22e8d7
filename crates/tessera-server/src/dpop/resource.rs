//! A resource's side of DPoP (RFC 9449 §7): a token bound to a key (`cnf.jkt`) is accepted only
//! as `Authorization: DPoP <token>` with a proof, by that key, of this request and this token
//! (`ath`) and, unless configured otherwise, with the server's current nonce (§9); a bearer
//! token is not accepted under the DPoP scheme. The gateway and Tessera's own token-protected
//! endpoints ask the same question here, and answer a refusal with the same `DPoP` challenge
//! (§7.1): `WWW-Authenticate: DPoP error=…, algs=…`, with a fresh `DPoP-Nonce` when the client
//! lacks one.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use subtle::ConstantTimeEq;
use tessera_crypto::AccessTokenClaims;

use super::{NONCE_HEADER, ProofError, ProofTarget, proof_algs, proof_header};
use crate::state::AppState;

/// How an access token was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

/// The token in `Authorization: DPoP <token>`, if the request uses that scheme.
pub fn dpop_token(headers: &HeaderMap) -> Option<&str> {
    let authorization = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = authorization.split_once(' ')?;
    scheme.eq_ignore_ascii_case("dpop").then(|| value.trim())
}

/// Why a presented token's binding does not hold; the text goes to the client.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    #[error("this token is bound to a key: present it as `Authorization: DPoP` with a proof")]
    BoundTokenAsBearer,
    #[error("this token is not DPoP-bound: present it as `Authorization: Bearer`")]
    BearerTokenAsDpop,
    #[error("the DPoP proof was made by another key than the token's")]
    OtherKey,
    #[error("invalid DPoP proof: {0}")]
    Proof(ProofError),
}

impl BindingError {
    /// Whether Tessera failed, not the client.
    pub fn is_store(&self) -> bool {
        matches!(self, Self::Proof(ProofError::Store(_)))
    }

    /// The challenge that answers this refusal.
    pub fn challenge(&self) -> DpopChallenge {
        let error = match self {
            Self::BoundTokenAsBearer | Self::BearerTokenAsDpop => DpopError::InvalidToken,
            Self::Proof(ProofError::NonceRequired) => DpopError::UseDpopNonce,
            Self::OtherKey | Self::Proof(ProofError::Invalid(_) | ProofError::Store(_)) => {
                DpopError::InvalidDpopProof
            }
        };
        DpopChallenge {
            error,
            description: self.to_string(),
        }
    }
}

/// The `error` of a `DPoP` challenge (RFC 9449 §7.1, §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopError {
    /// The token is not good under this scheme (not bound, bound but sent as Bearer, inactive).
    InvalidToken,
    InvalidDpopProof,
    /// The proof lacks the server's current nonce: the answer carries one.
    UseDpopNonce,
}

impl DpopError {
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidToken => "invalid_token",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }
}

/// How a resource refuses a DPoP presentation: `401` with `WWW-Authenticate: DPoP`.
#[derive(Debug, Clone)]
pub struct DpopChallenge {
    pub error: DpopError,
    pub description: String,
}

impl DpopChallenge {
    pub fn new(error: DpopError, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }

    /// Makes `response` this challenge's: status 401, the `DPoP` challenge in place of any
    /// other, and a fresh nonce when the client needs one.
    pub fn apply(&self, state: &AppState, response: &mut Response) {
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        // A quoted-string holds printable ASCII; `"` and `\` would end or escape it.
        let description: String = self
            .description
            .chars()
            .map(|c| match c {
                '"' | '\\' => '\'',
                c if c.is_ascii_graphic() || c == ' ' => c,
                _ => '?',
            })
            .collect();
        let value = format!(
            "DPoP error=\"{}\", error_description=\"{description}\", algs=\"{}\"",
            self.error.code(),
            proof_algs().join(" "),
        );
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if self.error == DpopError::UseDpopNonce {
            headers.insert(NONCE_HEADER, state.dpop_nonce());
        }
    }
}

impl AppState {
    /// Checks that `claims`' binding holds for this request. `token` is the token as presented,
    /// under `scheme`; `method` and `path` are the request's.
    pub async fn check_token_binding(
        &self,
        headers: &HeaderMap,
        method: &Method,
        path: &str,
        scheme: Scheme,
        token: &str,
        claims: &AccessTokenClaims,
    ) -> Result<(), BindingError> {
        let Some(cnf) = &claims.cnf else {
            return match scheme {
                Scheme::Bearer => Ok(()),
                Scheme::Dpop => Err(BindingError::BearerTokenAsDpop),
            };
        };
        if scheme == Scheme::Bearer {
            return Err(BindingError::BoundTokenAsBearer);
        }
        let proof =
            proof_header(headers)
                .map_err(BindingError::Proof)?
                .ok_or(BindingError::Proof(ProofError::Invalid(
                    "the request carries no `DPoP` proof".to_owned(),
                )))?;
        let target = ProofTarget {
            method,
            path,
            access_token: Some(token),
            require_nonce: self.config.dpop_resource_nonce,
        };
        let checked = self
            .check_dpop_proof(proof, target)
            .await
            .map_err(BindingError::Proof)?;
        if bool::from(checked.jkt.as_bytes().ct_eq(cnf.jkt.as_bytes())) {
            Ok(())
        } else {
            Err(BindingError::OtherKey)
        }
    }
}
