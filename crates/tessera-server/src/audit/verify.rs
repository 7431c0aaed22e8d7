//! Verifying a chain: every event's hash is recomputed and linked to the one before it, every
//! checkpoint's signature is checked against the key ring's public keys (all of them, retired
//! ones included: a checkpoint outlives the key that signed it), and every checkpoint must
//! still match the event at its position. The first break is named.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_core::audit::{ChainedEvent, Checkpoint, GENESIS_HASH, link_input};
use tessera_crypto::keyring::PublishedKey;
use tessera_crypto::{Algorithm, KeyRing};
pub use tessera_proto::audit::{BrokenLink, VerifyReport};

use super::checkpoint::{CHECKPOINT_AUDIENCE, CHECKPOINT_TYP, CheckpointClaims};
use crate::state::AppState;

/// Events read per query while verifying.
const PAGE: u32 = 1000;

fn broken(seq: i64, event: Option<&ChainedEvent>, reason: impl Into<String>) -> Option<BrokenLink> {
    Some(BrokenLink {
        seq,
        event_id: event.map(|e| e.event.id.to_string()),
        reason: reason.into(),
    })
}

/// Verifies one chain (a tenant id, or `installation`).
pub async fn verify_chain(state: &AppState, chain: &str) -> anyhow::Result<VerifyReport> {
    let ring = verification_ring(state).await?;
    let checkpoints = state.store.checkpoints(chain).await?;
    let mut report = VerifyReport {
        chain: chain.to_owned(),
        ok: true,
        events_checked: 0,
        checkpoints_checked: 0,
        head: 0,
        first_broken: None,
    };

    // Every checkpoint must carry a valid signature over exactly what the row says.
    for checkpoint in &checkpoints {
        report.checkpoints_checked += 1;
        if let Err(reason) = check_signature(&ring, checkpoint) {
            report.first_broken = broken(checkpoint.chain_seq, None, reason);
            report.ok = false;
            return Ok(report);
        }
    }

    let now = state.clock.now();
    let window = time::Duration::seconds(
        2 * i64::try_from(state.config.audit_checkpoint_secs).unwrap_or(i64::MAX / 4) + 60,
    );
    // The newest event old enough that a checkpoint must cover it by now.
    let mut newest_due: Option<i64> = None;
    let mut expected_prev = GENESIS_HASH;
    let mut position = 0;
    let mut first = true;
    let mut next_checkpoint = checkpoints.iter().peekable();
    loop {
        let page = state.store.audit_chain(chain, position, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for event in &page {
            if first {
                first = false;
                // After retention, the chain starts right after a signed anchor.
                if event.chain_seq != 1 {
                    match checkpoints
                        .iter()
                        .find(|c| c.chain_seq == event.chain_seq - 1)
                    {
                        Some(anchor) => expected_prev = anchor.hash,
                        None => {
                            report.first_broken = broken(
                                event.chain_seq - 1,
                                None,
                                "events before this one are missing and no checkpoint anchors the rest",
                            );
                            break;
                        }
                    }
                }
                position = event.chain_seq - 1;
            }
            if event.chain_seq != position + 1 {
                report.first_broken = broken(position + 1, None, "this event is missing (deleted)");
                break;
            }
            if event.prev_hash != expected_prev {
                report.first_broken = broken(
                    event.chain_seq,
                    Some(event),
                    "its link to the previous event does not match (an event before it was altered, or it was)",
                );
                break;
            }
            if tessera_crypto::sha256(&link_input(&event.prev_hash, event.chain_seq, &event.event))
                != event.hash
            {
                report.first_broken = broken(
                    event.chain_seq,
                    Some(event),
                    "its content does not match its hash (altered)",
                );
                break;
            }
            while let Some(checkpoint) = next_checkpoint.next_if(|c| c.chain_seq <= event.chain_seq)
            {
                if checkpoint.chain_seq == event.chain_seq && checkpoint.hash != event.hash {
                    report.first_broken = broken(
                        event.chain_seq,
                        Some(event),
                        "the signed checkpoint here names another hash (history was rewritten)",
                    );
                    break;
                }
            }
            if report.first_broken.is_some() {
                break;
            }
            report.events_checked += 1;
            if event.event.occurred_at + window < now {
                newest_due = Some(event.chain_seq);
            }
            expected_prev = event.hash;
            position = event.chain_seq;
        }
        if report.first_broken.is_some() {
            break;
        }
    }
    report.head = position;
    // Checkpoints are signed every `audit_checkpoint_secs`: an event older than two intervals
    // (plus slack) that no checkpoint covers means checkpoints were removed.
    let covered_through = checkpoints.last().map_or(0, |c| c.chain_seq);
    if report.first_broken.is_none()
        && let Some(due) = newest_due
        && covered_through < due
    {
        report.first_broken = broken(
            covered_through + 1,
            None,
            "no signed checkpoint covers this event although it is old enough to be (checkpoints were removed)",
        );
    }
    // A checkpoint past the last event means the tail was deleted.
    if report.first_broken.is_none()
        && let Some(last) = checkpoints.last()
        && last.chain_seq > position
    {
        report.first_broken = broken(
            position + 1,
            None,
            "events signed by a checkpoint are missing (the tail was deleted)",
        );
    }
    report.ok = report.first_broken.is_none();
    Ok(report)
}

fn check_signature(ring: &KeyRing, checkpoint: &Checkpoint) -> Result<(), String> {
    let claims: CheckpointClaims = ring
        .verify_signature(&checkpoint.signature, CHECKPOINT_TYP)
        .map_err(|e| format!("the checkpoint signature is invalid: {e}"))?;
    let matches = claims.aud == CHECKPOINT_AUDIENCE
        && claims.chain == checkpoint.chain
        && claims.seq == checkpoint.chain_seq
        && URL_SAFE_NO_PAD
            .decode(&claims.hash)
            .is_ok_and(|h| h == checkpoint.hash);
    if matches {
        Ok(())
    } else {
        Err("the checkpoint row differs from what was signed".to_owned())
    }
}

/// A ring holding every signing key ever stored (public halves only).
async fn verification_ring(state: &AppState) -> anyhow::Result<KeyRing> {
    let keys = state
        .store
        .signing_keys()
        .await?
        .into_iter()
        .filter_map(|record| {
            Some(PublishedKey {
                alg: Algorithm::parse(&record.alg)?,
                public_jwk: serde_json::from_str(&record.public_jwk).ok()?,
                kid: record.kid,
            })
        })
        .collect::<Vec<_>>();
    Ok(KeyRing::new(&keys, None)?)
}
