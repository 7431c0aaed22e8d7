//! Agents' public keys and the used-JWT-id record. A first use is one `INSERT … ON CONFLICT DO
//! NOTHING`, so of two instances seeing the same `jti` at once exactly one inserts it.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_core::agent_key::{AgentKey, AgentKeyStore, MAX_AGENT_KEYS, ReplayKind};
use tessera_core::store::StoreResult;
use tessera_core::{AgentId, StoreError, TenantId};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{db_error, write_error};
use crate::rows::{all, get, parsed, secs, time};

macro_rules! agent_key_columns {
    () => {
        "tenant_id, agent_id, kid, alg, jwk, created_at"
    };
}

fn agent_key(row: &AnyRow) -> Result<AgentKey, StoreError> {
    Ok(AgentKey {
        tenant_id: parsed(row, "tenant_id", str::parse)?,
        agent_id: parsed(row, "agent_id", str::parse)?,
        kid: get(row, "kid")?,
        alg: get(row, "alg")?,
        jwk: get(row, "jwk")?,
        created_at: time(row, "created_at")?,
    })
}

#[async_trait]
impl AgentKeyStore for SqlStore {
    async fn insert_agent_key(&self, key: &AgentKey) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Writing the agent's row first serializes key registrations of one agent, so the
        // count below cannot be raced past the limit.
        let touched = sqlx::query("UPDATE agents SET name = name WHERE id = $1 AND tenant_id = $2")
            .bind(key.agent_id.to_string())
            .bind(key.tenant_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if touched.rows_affected() == 0 {
            return Err(StoreError::Conflict("agent_keys.agent_id"));
        }
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM agent_keys WHERE agent_id = $1")
                .bind(key.agent_id.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_AGENT_KEYS {
            return Ok(false);
        }
        sqlx::query(concat!(
            "INSERT INTO agent_keys (",
            agent_key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(key.tenant_id.to_string())
        .bind(key.agent_id.to_string())
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.jwk)
        .bind(secs(key.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "agent_keys.agent_id"))?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn agent_keys(&self, tenant: TenantId, agent: AgentId) -> StoreResult<Vec<AgentKey>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            agent_key_columns!(),
            " FROM agent_keys WHERE tenant_id = $1 AND agent_id = $2 ORDER BY created_at, kid"
        ))
        .bind(tenant.to_string())
        .bind(agent.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        all(rows, agent_key)
    }

    async fn delete_agent_key(
        &self,
        tenant: TenantId,
        agent: AgentId,
        kid: &str,
    ) -> StoreResult<bool> {
        let deleted = sqlx::query(
            "DELETE FROM agent_keys WHERE tenant_id = $1 AND agent_id = $2 AND kid = $3",
        )
        .bind(tenant.to_string())
        .bind(agent.to_string())
        .bind(kid)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn first_use(
        &self,
        kind: ReplayKind,
        jti_hash: &[u8; 32],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        sqlx::query("DELETE FROM jwt_replays WHERE expires_at <= $1")
            .bind(secs(now))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        let inserted = sqlx::query(
            "INSERT INTO jwt_replays (kind, jti_hash, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (kind, jti_hash) DO NOTHING",
        )
        .bind(kind.as_str())
        .bind(jti_hash.as_slice())
        .bind(secs(expires_at))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(inserted.rows_affected() == 1)
    }
}
