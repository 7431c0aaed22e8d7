//! Agents and their client secrets.

use sqlx::AnyConnection;
use tessera_core::agent::{Agent, AgentPatch, ClientSecret};
use tessera_core::{AgentId, ClientSecretId, Page, StoreError, TenantId};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{db_error, write_error};
use crate::rows::{self, agent_columns, capabilities_json, client_secret_columns, opt_secs, secs};

impl SqlStore {
    pub(crate) async fn insert_agent_with_secret(
        &self,
        agent: &Agent,
        secret: &ClientSecret,
        max_agents: Option<u64>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        if let Some(max) = max_agents {
            // Writing the tenant row first serializes agent creation in the tenant (a row lock
            // on PostgreSQL, the database write lock on SQLite) until this transaction ends,
            // so the count below cannot be raced past the limit.
            sqlx::query("UPDATE tenants SET plan = plan WHERE id = $1")
                .bind(agent.tenant_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            let (count,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM agents WHERE tenant_id = $1")
                    .bind(agent.tenant_id.to_string())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
            if u64::try_from(count).unwrap_or(0) >= max {
                return Ok(false);
            }
        }
        sqlx::query(concat!(
            "INSERT INTO agents (",
            agent_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(agent.id.to_string())
        .bind(agent.tenant_id.to_string())
        .bind(&agent.name)
        .bind(agent.description.as_deref())
        .bind(capabilities_json(&agent.capabilities))
        .bind(agent.scopes.to_string())
        .bind(agent.status.as_str())
        .bind(secs(agent.created_at))
        .bind(secs(agent.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "agents.tenant_id"))?;
        Self::write_client_secret(&mut tx, secret).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    pub(crate) async fn read_agent(
        &self,
        tenant: TenantId,
        id: AgentId,
    ) -> Result<Option<Agent>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        Self::read_agent_on(&mut conn, tenant, id).await
    }

    async fn read_agent_on(
        conn: &mut AnyConnection,
        tenant: TenantId,
        id: AgentId,
    ) -> Result<Option<Agent>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            agent_columns!(),
            " FROM agents WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(rows::agent)
        .transpose()
    }

    pub(crate) async fn read_agent_by_client_id(
        &self,
        id: AgentId,
    ) -> Result<Option<Agent>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            agent_columns!(),
            " FROM agents WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(rows::agent)
        .transpose()
    }

    pub(crate) async fn read_agents(
        &self,
        tenant: TenantId,
        after: Option<AgentId>,
        limit: u32,
    ) -> Result<Page<Agent, AgentId>, StoreError> {
        // A page must make progress, so a limit of 0 reads as 1.
        let limit = limit.max(1);
        // Every id sorts after the empty string, so "no cursor" needs no second query text.
        let after = after.map(|id| id.to_string()).unwrap_or_default();
        let rows = sqlx::query(concat!(
            "SELECT ",
            agent_columns!(),
            " FROM agents WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .bind(tenant.to_string())
        .bind(after)
        // One more than asked tells whether another page exists.
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut items = rows::all(rows, rows::agent)?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = if more {
            items.last().map(|agent| agent.id)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    pub(crate) async fn patch_agent(
        &self,
        tenant: TenantId,
        id: AgentId,
        patch: &AgentPatch,
        at: OffsetDateTime,
    ) -> Result<Option<Agent>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Write first: it takes the row lock on PostgreSQL and the write lock on SQLite before
        // the read, so a concurrent update can neither be lost nor make the commit fail.
        let touched =
            sqlx::query("UPDATE agents SET updated_at = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.to_string())
                .bind(id.to_string())
                .bind(secs(at))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
        if touched == 0 {
            return Ok(None);
        }
        let Some(mut agent) = Self::read_agent_on(&mut tx, tenant, id).await? else {
            return Ok(None);
        };
        apply(&mut agent, patch, at);
        sqlx::query(
            "UPDATE agents SET name = $3, description = $4, capabilities = $5, scopes = $6, \
             status = $7, updated_at = $8 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(&agent.name)
        .bind(agent.description.as_deref())
        .bind(capabilities_json(&agent.capabilities))
        .bind(agent.scopes.to_string())
        .bind(agent.status.as_str())
        .bind(secs(agent.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(Some(agent))
    }

    pub(crate) async fn delete_agent_row(
        &self,
        tenant: TenantId,
        id: AgentId,
    ) -> Result<bool, StoreError> {
        // The agent's secrets go with it (ON DELETE CASCADE).
        let result = sqlx::query("DELETE FROM agents WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(result.rows_affected() > 0)
    }

    /// Inserts a secret on a connection that may be inside a transaction (agent creation).
    async fn write_client_secret(
        conn: &mut AnyConnection,
        secret: &ClientSecret,
    ) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO client_secrets (",
            client_secret_columns!(),
            ") VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(secret.id.to_string())
        .bind(secret.agent_id.to_string())
        .bind(secret.secret_hash.as_slice())
        .bind(opt_secs(secret.expires_at))
        .bind(secs(secret.created_at))
        .execute(conn)
        .await
        .map_err(|e| write_error(e, "client_secrets.agent_id"))?;
        Ok(())
    }

    pub(crate) async fn insert_client_secret_row(
        &self,
        secret: &ClientSecret,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        Self::write_client_secret(&mut conn, secret).await
    }

    pub(crate) async fn read_client_secrets(
        &self,
        agent: AgentId,
    ) -> Result<Vec<ClientSecret>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            client_secret_columns!(),
            " FROM client_secrets WHERE agent_id = $1 ORDER BY id"
        ))
        .bind(agent.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows::all(rows, rows::client_secret)
    }

    pub(crate) async fn delete_client_secret_row(
        &self,
        agent: AgentId,
        id: ClientSecretId,
    ) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM client_secrets WHERE agent_id = $1 AND id = $2")
            .bind(agent.to_string())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(result.rows_affected() > 0)
    }
}

fn apply(agent: &mut Agent, patch: &AgentPatch, at: OffsetDateTime) {
    if let Some(name) = &patch.name {
        agent.name.clone_from(name);
    }
    if let Some(description) = &patch.description {
        agent.description.clone_from(description);
    }
    if let Some(capabilities) = &patch.capabilities {
        agent.capabilities.clone_from(capabilities);
    }
    if let Some(scopes) = &patch.scopes {
        agent.scopes = scopes.clone();
    }
    if let Some(status) = patch.status {
        agent.status = status;
    }
    agent.updated_at = at;
}
