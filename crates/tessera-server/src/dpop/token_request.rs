//! The token endpoint's side of DPoP (RFC 9449 §5): a token request with a proof gets tokens
//! bound to the proof's key. One check for every grant: the proof is read before anything of
//! the grant is spent (a code, a refresh token, an assertion), because a client told to fetch a
//! nonce (`use_dpop_nonce`, with `DPoP-Nonce`) retries with the same grant.

use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use tessera_crypto::Confirmation;
use tessera_proto::OAuthErrorCode;

use super::{NONCE_HEADER, ProofError, ProofTarget, proof_header};
use crate::error::OAuthError;
use crate::state::AppState;

/// A token request's refused proof: `400 invalid_dpop_proof`, or `400 use_dpop_nonce` with a
/// fresh `DPoP-Nonce`.
#[derive(Debug)]
pub struct RefusedProof {
    pub error: OAuthError,
    nonce: bool,
}

impl RefusedProof {
    pub fn into_response(self, state: &AppState) -> Response {
        let mut response = self.error.into_response();
        if self.nonce {
            response
                .headers_mut()
                .insert(NONCE_HEADER, state.dpop_nonce());
        }
        response
    }
}

impl AppState {
    /// The key a token request's tokens are to be bound to: its DPoP proof's, None without a
    /// proof. The proof must be of `POST /oauth2/token` and carry a current server nonce; its
    /// `jti` is spent.
    pub async fn token_request_binding(
        &self,
        headers: &HeaderMap,
    ) -> Result<Option<Confirmation>, RefusedProof> {
        let invalid = |why: String| RefusedProof {
            error: OAuthError::new(OAuthErrorCode::InvalidDpopProof, why),
            nonce: false,
        };
        let Some(proof) = proof_header(headers).map_err(|e| invalid(e.to_string()))? else {
            return Ok(None);
        };
        let target = ProofTarget {
            method: &Method::POST,
            path: "/oauth2/token",
            access_token: None,
            require_nonce: true,
        };
        match self.check_dpop_proof(proof, target).await {
            Ok(proof) => Ok(Some(Confirmation { jkt: proof.jkt })),
            Err(ProofError::NonceRequired) => Err(RefusedProof {
                error: OAuthError::new(
                    OAuthErrorCode::UseDpopNonce,
                    ProofError::NonceRequired.to_string(),
                ),
                nonce: true,
            }),
            Err(ProofError::Store(error)) => Err(RefusedProof {
                error: error.into(),
                nonce: false,
            }),
            Err(error @ ProofError::Invalid(_)) => Err(invalid(error.to_string())),
        }
    }
}
