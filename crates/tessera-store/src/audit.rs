//! The audit log: appends link each event to its chain's head inside one transaction that
//! holds the log-wide lock (`audit_log`), so chains never fork and `seq` is commit order.

use sqlx::Row;
use tessera_core::audit::{
    AuditEvent, AuditFilter, ChainedEvent, Checkpoint, GENESIS_HASH, LinkHash, chain_of, link_input,
};
use tessera_core::{Page, StoreError, TenantId};

use crate::SqlStore;
use crate::error::{db_error, write_error};
use crate::rows::{self, audit_columns, secs};

impl SqlStore {
    pub(crate) async fn append_audit_events(
        &self,
        events: &[AuditEvent],
        sha256: LinkHash,
    ) -> Result<Vec<ChainedEvent>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Taking the log-wide row first serializes every append, on every instance.
        let count =
            i64::try_from(events.len()).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let last: i64 =
            sqlx::query("UPDATE audit_log SET seq = seq + $1 WHERE id = 1 RETURNING seq")
                .bind(count)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?
                .try_get("seq")
                .map_err(db_error)?;
        let mut seq = last - count;
        let mut chained = Vec::with_capacity(events.len());
        for event in events {
            seq += 1;
            let chain = chain_of(event.tenant_id);
            let head = sqlx::query("SELECT chain_seq, hash FROM audit_heads WHERE chain = $1")
                .bind(&chain)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
            let (chain_seq, prev_hash) = match head {
                Some(row) => {
                    let position: i64 = row.try_get("chain_seq").map_err(db_error)?;
                    let bytes: Vec<u8> = row.try_get("hash").map_err(db_error)?;
                    let hash = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                        StoreError::Corrupt(format!("head of chain {chain} is not 32 bytes"))
                    })?;
                    (position + 1, hash)
                }
                None => (1, GENESIS_HASH),
            };
            let hash = sha256(&link_input(&prev_hash, chain_seq, event));
            sqlx::query(concat!(
                "INSERT INTO audit_events (chain, ",
                audit_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            ))
            .bind(&chain)
            .bind(seq)
            .bind(chain_seq)
            .bind(prev_hash.to_vec())
            .bind(hash.to_vec())
            .bind(event.id.to_string())
            .bind(event.tenant_id.map(|id| id.to_string()))
            .bind(&event.actor)
            .bind(&event.action)
            .bind(&event.target)
            .bind(event.outcome.as_str())
            .bind(&event.reason)
            .bind(event.client_ip.as_deref())
            .bind(event.request_id.as_deref())
            .bind(secs(event.occurred_at))
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "audit_events.id"))?;
            sqlx::query(
                "INSERT INTO audit_heads (chain, chain_seq, hash) VALUES ($1, $2, $3) \
                 ON CONFLICT (chain) DO UPDATE SET chain_seq = excluded.chain_seq, hash = excluded.hash",
            )
            .bind(&chain)
            .bind(chain_seq)
            .bind(hash.to_vec())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            chained.push(ChainedEvent {
                seq,
                chain_seq,
                prev_hash,
                hash,
                event: event.clone(),
            });
        }
        tx.commit().await.map_err(db_error)?;
        Ok(chained)
    }

    pub(crate) async fn audit_page_of(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<ChainedEvent, i64>, StoreError> {
        let limit = limit.max(1);
        let rows = sqlx::query(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_events WHERE chain = $1 AND chain_seq > $2",
            " AND ($3 IS NULL OR actor = $3) AND ($4 IS NULL OR action = $4)",
            " AND ($5 IS NULL OR target = $5) AND ($6 IS NULL OR outcome = $6)",
            " AND ($7 IS NULL OR occurred_at >= $7) AND ($8 IS NULL OR occurred_at < $8)",
            " ORDER BY chain_seq LIMIT $9"
        ))
        .bind(tenant.to_string())
        .bind(after.unwrap_or(0))
        .bind(filter.actor.as_deref())
        .bind(filter.action.as_deref())
        .bind(filter.target.as_deref())
        .bind(filter.outcome.map(|o| o.as_str()))
        .bind(filter.since.map(secs))
        .bind(filter.until.map(secs))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut items = rows::all(rows, rows::chained_event)?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|e| e.chain_seq)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    pub(crate) async fn audit_chain_after(
        &self,
        chain: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ChainedEvent>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_events WHERE chain = $1 AND chain_seq > $2 ORDER BY chain_seq LIMIT $3"
        ))
        .bind(chain)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows::all(rows, rows::chained_event)
    }

    pub(crate) async fn audit_log_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<ChainedEvent>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            audit_columns!(),
            " FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows::all(rows, rows::chained_event)
    }

    pub(crate) async fn insert_audit_checkpoint(
        &self,
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_checkpoints (chain, chain_seq, hash, signature, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (chain, chain_seq) DO NOTHING",
        )
        .bind(&checkpoint.chain)
        .bind(checkpoint.chain_seq)
        .bind(checkpoint.hash.to_vec())
        .bind(&checkpoint.signature)
        .bind(secs(checkpoint.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "audit_checkpoints.chain"))?;
        Ok(())
    }

    pub(crate) async fn audit_checkpoints(
        &self,
        chain: &str,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT chain, chain_seq, hash, signature, created_at FROM audit_checkpoints \
             WHERE chain = $1 ORDER BY chain_seq",
        )
        .bind(chain)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows::all(rows, rows::checkpoint)
    }

    pub(crate) async fn audit_chain_names(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT chain FROM audit_heads ORDER BY chain")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| row.try_get("chain").map_err(db_error))
            .collect()
    }

    pub(crate) async fn audit_unsigned_heads(
        &self,
    ) -> Result<Vec<(String, i64, [u8; 32])>, StoreError> {
        let rows = sqlx::query(
            "SELECT h.chain, h.chain_seq, h.hash FROM audit_heads h WHERE h.chain_seq > \
             COALESCE((SELECT MAX(c.chain_seq) FROM audit_checkpoints c WHERE c.chain = h.chain), 0) \
             ORDER BY h.chain",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let chain: String = row.try_get("chain").map_err(db_error)?;
                let position: i64 = row.try_get("chain_seq").map_err(db_error)?;
                let bytes: Vec<u8> = row.try_get("hash").map_err(db_error)?;
                let hash = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                    StoreError::Corrupt(format!("head of chain {chain} is not 32 bytes"))
                })?;
                Ok((chain, position, hash))
            })
            .collect()
    }

    pub(crate) async fn prune_audit_chain(
        &self,
        chain: &str,
        through: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let deleted = sqlx::query("DELETE FROM audit_events WHERE chain = $1 AND chain_seq <= $2")
            .bind(chain)
            .bind(through)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        // The checkpoint at `through` stays: it anchors the first remaining event.
        sqlx::query("DELETE FROM audit_checkpoints WHERE chain = $1 AND chain_seq < $2")
            .bind(chain)
            .bind(through)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(deleted)
    }

    pub(crate) async fn read_event_cursor(&self, consumer: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT seq FROM event_cursors WHERE consumer = $1")
            .bind(consumer)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map_or(Ok(0), |row| row.try_get("seq").map_err(db_error))
    }

    pub(crate) async fn move_event_cursor(
        &self,
        consumer: &str,
        from: i64,
        to: i64,
    ) -> Result<bool, StoreError> {
        sqlx::query("INSERT INTO event_cursors (consumer, seq) VALUES ($1, 0) ON CONFLICT (consumer) DO NOTHING")
            .bind(consumer)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        let moved =
            sqlx::query("UPDATE event_cursors SET seq = $3 WHERE consumer = $1 AND seq = $2")
                .bind(consumer)
                .bind(from)
                .bind(to)
                .execute(&self.pool)
                .await
                .map_err(db_error)?
                .rows_affected();
        Ok(moved == 1)
    }
}
