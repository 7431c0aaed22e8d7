//! Sessions and their refresh tokens. Rotation is one transaction that first marks the
//! presented token used (`WHERE used_at IS NULL`): of two concurrent presentations exactly one
//! changes the row, and the other is treated as reuse.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_core::people::{RefreshToken, Rotation, Session, SessionStore};
use tessera_core::store::StoreResult;
use tessera_core::{SessionId, StoreError, UserId};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{db_error, write_error};
use crate::rows::{all, get, opt_time, parsed, secs, time};

macro_rules! session_columns {
    () => {
        "id, user_id, method, client_ip, user_agent, created_at, refreshed_at, expires_at, revoked_at"
    };
}

fn session(row: &AnyRow) -> Result<Session, StoreError> {
    Ok(Session {
        id: parsed(row, "id", str::parse)?,
        user_id: parsed(row, "user_id", str::parse)?,
        method: get(row, "method")?,
        client_ip: get(row, "client_ip")?,
        user_agent: get(row, "user_agent")?,
        created_at: time(row, "created_at")?,
        refreshed_at: time(row, "refreshed_at")?,
        expires_at: time(row, "expires_at")?,
        revoked_at: opt_time(row, "revoked_at")?,
    })
}

async fn insert_token(conn: &mut sqlx::AnyConnection, token: &RefreshToken) -> StoreResult<()> {
    sqlx::query("INSERT INTO refresh_tokens (hash, session_id, expires_at) VALUES ($1, $2, $3)")
        .bind(token.hash.as_slice())
        .bind(token.session_id.to_string())
        .bind(secs(token.expires_at))
        .execute(conn)
        .await
        .map_err(|e| write_error(e, "refresh_tokens.hash"))?;
    Ok(())
}

async fn read_session(conn: &mut sqlx::AnyConnection, id: &str) -> StoreResult<Option<Session>> {
    sqlx::query(concat!(
        "SELECT ",
        session_columns!(),
        " FROM sessions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
    .map_err(db_error)?
    .as_ref()
    .map(session)
    .transpose()
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn create_session(&self, s: &Session, first: &RefreshToken) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query(concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(s.id.to_string())
        .bind(s.user_id.to_string())
        .bind(&s.method)
        .bind(s.client_ip.as_deref())
        .bind(s.user_agent.as_deref())
        .bind(secs(s.created_at))
        .bind(secs(s.refreshed_at))
        .bind(secs(s.expires_at))
        .bind(s.revoked_at.map(secs))
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "sessions.id"))?;
        insert_token(&mut tx, first).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn session(&self, id: SessionId) -> StoreResult<Option<Session>> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        read_session(&mut conn, &id.to_string()).await
    }

    async fn live_sessions(&self, user: UserId, now: OffsetDateTime) -> StoreResult<Vec<Session>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY id DESC"
        ))
        .bind(user.to_string())
        .bind(secs(now))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        all(rows, session)
    }

    async fn revoke_session(
        &self,
        user: UserId,
        id: SessionId,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let revoked = sqlx::query(
            "UPDATE sessions SET revoked_at = $3 \
             WHERE user_id = $1 AND id = $2 AND revoked_at IS NULL AND expires_at > $3",
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

    async fn rotate_refresh_token(
        &self,
        presented: &[u8; 32],
        next: &[u8; 32],
        next_expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> StoreResult<Rotation> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let used = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $2 \
             WHERE hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(presented.as_slice())
        .bind(secs(at))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        let Some(row) = sqlx::query(
            "SELECT session_id, used_at, expires_at FROM refresh_tokens WHERE hash = $1",
        )
        .bind(presented.as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?
        else {
            return Ok(Rotation::Invalid);
        };
        let session_id: String = get(&row, "session_id")?;
        let Some(mut current) = read_session(&mut tx, &session_id).await? else {
            return Ok(Rotation::Invalid);
        };
        if used == 0 {
            // Known but not usable: used before (reuse: revoke the family), or expired.
            let used_at: Option<i64> = get(&row, "used_at")?;
            if used_at.is_none() || current.revoked_at.is_some() {
                return Ok(Rotation::Invalid);
            }
            sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1")
                .bind(&session_id)
                .bind(secs(at))
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            current.revoked_at = Some(at);
            return Ok(Rotation::Reused(current));
        }
        if !current.is_live(at) {
            return Ok(Rotation::Invalid);
        }
        let next = RefreshToken {
            hash: *next,
            session_id: current.id,
            expires_at: next_expires_at,
        };
        insert_token(&mut tx, &next).await?;
        sqlx::query("UPDATE sessions SET refreshed_at = $2, expires_at = $3 WHERE id = $1")
            .bind(&session_id)
            .bind(secs(at))
            .bind(secs(next.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        current.refreshed_at = at;
        current.expires_at = next.expires_at;
        Ok(Rotation::Rotated(current))
    }
}
