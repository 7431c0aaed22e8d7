//! A resource's side of DPoP (RFC 9449 §7): a token bound to a key (`cnf.jkt`) is accepted only
//! as `Authorization: DPoP <token>` with a proof, by that key, of this request and this token
//! (`ath`); a bearer token is not accepted under the DPoP scheme. The gateway and Tessera's own
//! token-protected endpoints ask the same question here.

use axum::http::{HeaderMap, Method, header};
use subtle::ConstantTimeEq;
use tessera_crypto::AccessTokenClaims;

use super::{ProofError, ProofTarget, proof_header};
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
            // A nonce a client holds is checked; a resource does not insist on one, so a
            // client need not make a round trip before each first call.
            require_nonce: false,
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
