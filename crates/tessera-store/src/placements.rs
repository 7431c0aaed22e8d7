//! Placements: where each entity's runtime listens. The two lookups the gateway makes per
//! request are single index reads (primary key, unique agent index).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_core::placement::{
    Placement, PlacementBackend, PlacementState, PlacementStatus, PlacementStore,
};
use tessera_core::store::StoreResult;
use tessera_core::{AgentId, Page, StoreError, TenantId};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{corrupt, db_error, write_error};
use crate::rows::{all, get, parsed, parsed_opt, secs, time, word};

macro_rules! placement_columns {
    () => {
        "entity_id, agent_id, address, port, backend, owner, status, pid, restarts, detail, created_at, updated_at"
    };
}

fn placement(row: &AnyRow) -> Result<Placement, StoreError> {
    let port: Option<i64> = get(row, "port")?;
    let pid: Option<i64> = get(row, "pid")?;
    let restarts: i64 = get(row, "restarts")?;
    Ok(Placement {
        entity_id: parsed(row, "entity_id", str::parse)?,
        agent_id: parsed_opt(row, "agent_id", str::parse)?,
        address: get(row, "address")?,
        port: port
            .map(u16::try_from)
            .transpose()
            .map_err(|e| corrupt("placements.port", e))?,
        backend: word(row, "backend", PlacementBackend::parse)?,
        owner: get(row, "owner")?,
        status: word(row, "status", PlacementStatus::parse)?,
        state: PlacementState {
            pid: pid
                .map(u32::try_from)
                .transpose()
                .map_err(|e| corrupt("placements.pid", e))?,
            restarts: u32::try_from(restarts).map_err(|e| corrupt("placements.restarts", e))?,
            detail: get(row, "detail")?,
        },
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

#[async_trait]
impl PlacementStore for SqlStore {
    async fn insert_placement(&self, p: &Placement) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO placements (",
            placement_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(p.entity_id.to_string())
        .bind(p.agent_id.map(|a| a.to_string()))
        .bind(&p.address)
        .bind(p.port.map(i64::from))
        .bind(p.backend.as_str())
        .bind(&p.owner)
        .bind(p.status.as_str())
        .bind(p.state.pid.map(i64::from))
        .bind(i64::from(p.state.restarts))
        .bind(p.state.detail.as_deref())
        .bind(secs(p.created_at))
        .bind(secs(p.updated_at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "placements.entity_id"))?;
        Ok(())
    }

    async fn placement(&self, entity: TenantId) -> StoreResult<Option<Placement>> {
        sqlx::query(concat!(
            "SELECT ",
            placement_columns!(),
            " FROM placements WHERE entity_id = $1"
        ))
        .bind(entity.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(placement)
        .transpose()
    }

    async fn placement_by_agent(&self, agent: AgentId) -> StoreResult<Option<Placement>> {
        sqlx::query(concat!(
            "SELECT ",
            placement_columns!(),
            " FROM placements WHERE agent_id = $1"
        ))
        .bind(agent.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(placement)
        .transpose()
    }

    async fn placements(
        &self,
        after: Option<TenantId>,
        limit: u32,
    ) -> StoreResult<Page<Placement, TenantId>> {
        let limit = limit.max(1);
        let rows = sqlx::query(concat!(
            "SELECT ",
            placement_columns!(),
            " FROM placements WHERE entity_id > $1 ORDER BY entity_id LIMIT $2"
        ))
        // Every id sorts after the empty string.
        .bind(after.map(|id| id.to_string()).unwrap_or_default())
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut items = all(rows, placement)?;
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = if more {
            items.last().map(|p| p.entity_id)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn owned_placements(&self, owner: &str) -> StoreResult<Vec<Placement>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            placement_columns!(),
            " FROM placements WHERE owner = $1 ORDER BY entity_id"
        ))
        .bind(owner)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        all(rows, placement)
    }

    async fn set_placement_state(
        &self,
        entity: TenantId,
        status: PlacementStatus,
        state: &PlacementState,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE placements SET status = $2, pid = $3, restarts = $4, detail = $5, \
             updated_at = $6 WHERE entity_id = $1",
        )
        .bind(entity.to_string())
        .bind(status.as_str())
        .bind(state.pid.map(i64::from))
        .bind(i64::from(state.restarts))
        .bind(state.detail.as_deref())
        .bind(secs(at))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn delete_placement(&self, entity: TenantId) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM placements WHERE entity_id = $1")
            .bind(entity.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(result.rows_affected() > 0)
    }
}
