//! Usage counters: hourly counts per (tenant, agent, kind) and all-time totals per agent, both
//! written by additive upserts (`n = n + excluded.n`), which the two backends run alike.
//!
//! A consumer batch is applied in the same transaction that moves the consumer's cursor by
//! compare-and-set, so it is counted exactly once: a second instance holding the same batch
//! finds the cursor moved (PostgreSQL re-checks the row after the first commit; SQLite lets one
//! writer at a time in) and adds nothing, and a crash before commit leaves both unchanged.

use async_trait::async_trait;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use tessera_core::store::StoreResult;
use tessera_core::usage::{AgentUsage, Bucket, HourlyUsage, UsageCount, UsageKind, UsageStore};
use tessera_core::{AgentId, StoreError, TenantId};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{corrupt, db_error, write_error};
use crate::rows::{get, secs, time};

impl SqlStore {
    /// Adds counts on a connection inside the caller's transaction, in the order given (callers
    /// pass them sorted by key, so concurrent writers lock rows in the same order).
    async fn add_counts(conn: &mut AnyConnection, counts: &[UsageCount]) -> StoreResult<()> {
        for count in counts {
            let tenant = count.tenant_id.to_string();
            let agent = count.agent_id.to_string();
            sqlx::query(
                "INSERT INTO usage_hourly (tenant_id, hour, agent_id, kind, n) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, hour, agent_id, kind) \
                 DO UPDATE SET n = usage_hourly.n + excluded.n",
            )
            .bind(&tenant)
            .bind(secs(count.hour))
            .bind(&agent)
            .bind(count.kind.as_str())
            .bind(count.n)
            .execute(&mut *conn)
            .await
            .map_err(|e| write_error(e, "usage_hourly.tenant_id"))?;
            sqlx::query(
                "INSERT INTO usage_totals (tenant_id, agent_id, kind, n, last_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, agent_id, kind) \
                 DO UPDATE SET n = usage_totals.n + excluded.n, last_at = CASE \
                 WHEN excluded.last_at > usage_totals.last_at THEN excluded.last_at \
                 ELSE usage_totals.last_at END",
            )
            .bind(&tenant)
            .bind(&agent)
            .bind(count.kind.as_str())
            .bind(count.n)
            .bind(secs(count.last_at))
            .execute(&mut *conn)
            .await
            .map_err(|e| write_error(e, "usage_totals.tenant_id"))?;
        }
        Ok(())
    }
}

#[async_trait]
impl UsageStore for SqlStore {
    async fn add_usage(&self, counts: &[UsageCount]) -> StoreResult<()> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        Self::add_counts(&mut tx, counts).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn apply_usage_batch(
        &self,
        consumer: &str,
        from: i64,
        to: i64,
        counts: &[UsageCount],
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // A write first: SQLite takes its write lock here (before any read), PostgreSQL the
        // row's lock in the update below; either way a second instance waits for this one.
        sqlx::query(
            "INSERT INTO event_cursors (consumer, seq) VALUES ($1, 0) \
             ON CONFLICT (consumer) DO NOTHING",
        )
        .bind(consumer)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let moved =
            sqlx::query("UPDATE event_cursors SET seq = $3 WHERE consumer = $1 AND seq = $2")
                .bind(consumer)
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
        if moved != 1 {
            tx.rollback().await.map_err(db_error)?;
            return Ok(false);
        }
        Self::add_counts(&mut tx, counts).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn usage_series(
        &self,
        tenant: TenantId,
        kind: UsageKind,
        bucket: Bucket,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<Vec<(OffsetDateTime, i64)>> {
        // Counters sit on whole hours and buckets are whole hours or days, so
        // `hour - hour % width` is the start of the counter's bucket.
        let rows = sqlx::query(
            "SELECT hour - (hour % $2) AS bucket, CAST(SUM(n) AS BIGINT) AS n FROM usage_hourly \
             WHERE tenant_id = $1 AND kind = $3 AND hour >= $4 AND hour < $5 \
             GROUP BY 1 ORDER BY 1",
        )
        .bind(tenant.to_string())
        .bind(bucket.secs())
        .bind(kind.as_str())
        .bind(secs(since))
        .bind(secs(until))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| Ok((time(row, "bucket")?, get(row, "n")?)))
            .collect()
    }

    async fn usage_hourly(
        &self,
        tenant: TenantId,
        agent: Option<AgentId>,
        since: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<HourlyUsage>> {
        let rows = sqlx::query(
            "SELECT agent_id, hour, kind, n FROM usage_hourly \
             WHERE tenant_id = $1 AND hour >= $2 AND hour < $3 \
             AND ($4 IS NULL OR agent_id = $4) ORDER BY hour, agent_id, kind LIMIT $5",
        )
        .bind(tenant.to_string())
        .bind(secs(since))
        .bind(secs(until))
        .bind(agent.map(|a| a.to_string()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok(HourlyUsage {
                    agent_id: agent_of(row)?,
                    hour: time(row, "hour")?,
                    kind: kind_of(row)?,
                    n: get(row, "n")?,
                })
            })
            .collect()
    }

    async fn usage_totals(
        &self,
        tenant: TenantId,
        agents: Option<(AgentId, AgentId)>,
    ) -> StoreResult<Vec<AgentUsage>> {
        let (first, last) = agents.map_or((None, None), |(first, last)| {
            (Some(first.to_string()), Some(last.to_string()))
        });
        let rows = sqlx::query(
            "SELECT agent_id, kind, n, last_at FROM usage_totals WHERE tenant_id = $1 \
             AND ($2 IS NULL OR agent_id >= $2) AND ($3 IS NULL OR agent_id <= $3) \
             ORDER BY agent_id, kind",
        )
        .bind(tenant.to_string())
        .bind(first)
        .bind(last)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                Ok(AgentUsage {
                    agent_id: agent_of(row)?,
                    kind: kind_of(row)?,
                    n: get(row, "n")?,
                    last_at: time(row, "last_at")?,
                })
            })
            .collect()
    }
}

fn agent_of(row: &AnyRow) -> Result<AgentId, StoreError> {
    get::<String>(row, "agent_id")?
        .parse()
        .map_err(|e| corrupt("agent_id", e))
}

fn kind_of(row: &AnyRow) -> Result<UsageKind, StoreError> {
    let text: String = get(row, "kind")?;
    UsageKind::parse(&text).ok_or_else(|| corrupt("kind", format_args!("unknown kind `{text}`")))
}

#[cfg(test)]
mod tests;
