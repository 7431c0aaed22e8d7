//! Rewrapping every sealed column under a new master-key version (`tessera keys
//! rotate-master`). Each row is replaced only if its blob is still the one read (a refresh or
//! a new consent meanwhile keeps its own, already sealed under the current version).

use sqlx::any::AnyRow;
use tessera_core::StoreError;
use tessera_core::store::StoreResult;

use crate::SqlStore;
use crate::error::db_error;
use crate::rows::get;

/// A sealed column: how to list its rows (key columns, then the blob) and how to replace one
/// blob (`$1` the new blob, then the key columns, then the old blob).
struct Sealed {
    select: &'static str,
    update: &'static str,
    keys: usize,
}

const SEALED: [Sealed; 5] = [
    Sealed {
        select: "SELECT kid, sealed_private_key AS blob FROM signing_keys",
        update: "UPDATE signing_keys SET sealed_private_key = $1 WHERE kid = $2 \
                 AND sealed_private_key = $3",
        keys: 1,
    },
    Sealed {
        select: "SELECT id, sealed_key AS blob FROM wallets",
        update: "UPDATE wallets SET sealed_key = $1 WHERE id = $2 AND sealed_key = $3",
        keys: 1,
    },
    Sealed {
        select: "SELECT id, sealed_secret AS blob FROM webhooks",
        update: "UPDATE webhooks SET sealed_secret = $1 WHERE id = $2 AND sealed_secret = $3",
        keys: 1,
    },
    Sealed {
        select: "SELECT id, previous_sealed_secret AS blob FROM webhooks \
                 WHERE previous_sealed_secret IS NOT NULL",
        update: "UPDATE webhooks SET previous_sealed_secret = $1 WHERE id = $2 \
                 AND previous_sealed_secret = $3",
        keys: 1,
    },
    Sealed {
        select: "SELECT tenant_id, scope_kind, scope_id, provider, name, sealed_tokens AS blob \
                 FROM connections WHERE status <> 'revoked'",
        update: "UPDATE connections SET sealed_tokens = $1 WHERE tenant_id = $2 \
                 AND scope_kind = $3 AND scope_id = $4 AND provider = $5 AND name = $6 \
                 AND sealed_tokens = $7",
        keys: 5,
    },
];

/// What a rewrap changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rewrapped {
    /// Blobs now under the current version.
    pub rewrapped: u64,
    /// Blobs that changed while being rewrapped (their new value is already current).
    pub skipped: u64,
}

impl SqlStore {
    /// Runs `rewrap` over every sealed blob (signing keys, wallet keys, webhook secrets, vault
    /// tokens) and stores what it returns; `None` leaves a blob as it is.
    pub async fn rewrap_sealed<E: std::fmt::Display>(
        &self,
        rewrap: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, E>,
    ) -> StoreResult<Rewrapped> {
        let mut outcome = Rewrapped::default();
        for sealed in &SEALED {
            let rows: Vec<AnyRow> = sqlx::query(sealed.select)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
            for row in &rows {
                let old: Vec<u8> = get(row, "blob")?;
                let Some(new) = rewrap(&old)
                    .map_err(|e| StoreError::Corrupt(format!("a sealed value: {e}")))?
                else {
                    continue;
                };
                let mut update = sqlx::query(sealed.update).bind(new);
                for index in 0..sealed.keys {
                    let key: String = sqlx::Row::try_get(row, index).map_err(db_error)?;
                    update = update.bind(key);
                }
                let done = update
                    .bind(old)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if done.rows_affected() == 1 {
                    outcome.rewrapped += 1;
                } else {
                    outcome.skipped += 1;
                }
            }
        }
        Ok(outcome)
    }
}
