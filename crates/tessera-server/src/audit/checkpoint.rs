//! Checkpoints: the head of each chain signed with the key ring as a compact JWS, so that
//! rewriting history is detectable by anyone holding the JWKS, even someone who can write to
//! the database (they cannot sign).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use tessera_core::audit::Checkpoint;

use crate::state::AppState;

/// The `typ` of a checkpoint JWS.
pub const CHECKPOINT_TYP: &str = "tessera-audit-checkpoint+jwt";
/// The `aud` of a checkpoint JWS: what it is for, so it is never mistaken for an access token.
pub const CHECKPOINT_AUDIENCE: &str = "tessera:audit";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    /// The chain: a tenant id, or `installation`.
    pub chain: String,
    /// The chain position of the head.
    pub seq: i64,
    /// The head's hash, base64url.
    pub hash: String,
}

/// Signs the head of every chain that moved since its last checkpoint; returns how many.
pub async fn checkpoint_all(state: &AppState) -> anyhow::Result<usize> {
    let heads = state.store.unsigned_chain_heads().await?;
    let now = state.clock.now();
    let ring = state.keys.ring();
    for (chain, seq, hash) in &heads {
        let claims = CheckpointClaims {
            iss: state.issuer.clone(),
            aud: CHECKPOINT_AUDIENCE.to_owned(),
            iat: now.unix_timestamp(),
            chain: chain.clone(),
            seq: *seq,
            hash: URL_SAFE_NO_PAD.encode(hash),
        };
        let signature = ring.sign(CHECKPOINT_TYP, &claims)?;
        let checkpoint = Checkpoint {
            chain: chain.clone(),
            chain_seq: *seq,
            hash: *hash,
            signature,
            created_at: now,
        };
        state.store.insert_checkpoint(&checkpoint).await?;
    }
    if !heads.is_empty() {
        metrics::counter!("tessera_audit_checkpoints_total").increment(heads.len() as u64);
    }
    Ok(heads.len())
}
