//! Wallet bindings: a person's main wallet granting an agent's wallet permissions.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_core::store::StoreResult;
use tessera_core::wallet_binding::{WalletBinding, WalletBindingStore};
use tessera_core::{StoreError, UserId, WalletBindingId};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{db_error, write_error};
use crate::rows::{all, get, hash, opt_time, parsed, secs, time};

macro_rules! binding_columns {
    () => {
        "id, user_id, main_address, agent_address, grants, signature_hash, issued_at, \
         created_at, revoked_at"
    };
}

fn binding(row: &AnyRow) -> Result<WalletBinding, StoreError> {
    Ok(WalletBinding {
        id: parsed(row, "id", str::parse)?,
        user_id: parsed(row, "user_id", str::parse)?,
        main_address: get(row, "main_address")?,
        agent_address: get(row, "agent_address")?,
        grants: parsed(row, "grants", |text| {
            serde_json::from_str::<Vec<String>>(text)
        })?,
        signature_hash: hash(row, "signature_hash")?,
        issued_at: time(row, "issued_at")?,
        created_at: time(row, "created_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
    })
}

#[async_trait]
impl WalletBindingStore for SqlStore {
    async fn create_wallet_binding(&self, b: &WalletBinding) -> StoreResult<()> {
        let grants = serde_json::to_string(&b.grants)
            .map_err(|e| StoreError::Corrupt(format!("wallet binding grants: {e}")))?;
        sqlx::query(concat!(
            "INSERT INTO wallet_bindings (",
            binding_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(b.id.to_string())
        .bind(b.user_id.to_string())
        .bind(&b.main_address)
        .bind(&b.agent_address)
        .bind(grants)
        .bind(b.signature_hash.as_slice())
        .bind(secs(b.issued_at))
        .bind(secs(b.created_at))
        .bind(b.revoked_at.map(secs))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "wallet_bindings.live_pair"))?;
        Ok(())
    }

    async fn wallet_bindings(&self, user: UserId) -> StoreResult<Vec<WalletBinding>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            binding_columns!(),
            " FROM wallet_bindings WHERE user_id = $1 ORDER BY id"
        ))
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        all(rows, binding)
    }

    async fn revoke_wallet_binding(
        &self,
        user: UserId,
        id: WalletBindingId,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let revoked = sqlx::query(
            "UPDATE wallet_bindings SET revoked_at = $3 \
             WHERE user_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(user.to_string())
        .bind(id.to_string())
        .bind(secs(at))
        .execute(&self.pool)
        .await
        .map_err(db_error)?
        .rows_affected();
        Ok(revoked > 0)
    }

    async fn live_wallet_binding(
        &self,
        main: &str,
        agent: &str,
    ) -> StoreResult<Option<WalletBinding>> {
        sqlx::query(concat!(
            "SELECT ",
            binding_columns!(),
            " FROM wallet_bindings \
             WHERE main_address = $1 AND agent_address = $2 AND revoked_at IS NULL"
        ))
        .bind(main)
        .bind(agent)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(binding)
        .transpose()
    }
}
