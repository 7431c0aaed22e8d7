//! Retention: a chain is pruned only through a checkpoint older than the retention period,
//! so what remains always starts at a signed anchor and still verifies.

use time::Duration;

use crate::state::AppState;

/// Prunes every chain through its newest checkpoint made before `now - retention`; returns the
/// number of events removed.
pub async fn prune(state: &AppState, retention_days: u32) -> anyhow::Result<u64> {
    if retention_days == 0 {
        return Ok(0);
    }
    let cutoff = state.clock.now() - Duration::days(i64::from(retention_days));
    let mut removed = 0;
    for chain in state.store.audit_chains().await? {
        let checkpoints = state.store.checkpoints(&chain).await?;
        if let Some(anchor) = checkpoints.iter().rev().find(|c| c.created_at < cutoff) {
            removed += state.store.prune_audit(&chain, anchor.chain_seq).await?;
        }
    }
    Ok(removed)
}
