//! One-time challenges. Taking one is a single `DELETE … RETURNING`, so a secret works once even
//! when two requests present it at the same moment.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_core::StoreError;
use tessera_core::people::{Challenge, ChallengeKind, ChallengeStore};
use tessera_core::store::StoreResult;
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{corrupt, db_error, write_error};
use crate::rows::{get, hash, secs, time, word};

macro_rules! challenge_columns {
    () => {
        "key, kind, subject, payload, failures, expires_at, created_at"
    };
}

fn challenge(row: &AnyRow) -> Result<Challenge, StoreError> {
    let failures: i64 = get(row, "failures")?;
    Ok(Challenge {
        key: hash(row, "key")?,
        kind: word(row, "kind", ChallengeKind::parse)?,
        subject: get(row, "subject")?,
        payload: get(row, "payload")?,
        failures: u32::try_from(failures).map_err(|e| corrupt("challenges.failures", e))?,
        expires_at: time(row, "expires_at")?,
        created_at: time(row, "created_at")?,
    })
}

#[async_trait]
impl ChallengeStore for SqlStore {
    async fn insert_challenge(&self, c: &Challenge) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query("DELETE FROM challenges WHERE expires_at <= $1")
            .bind(secs(c.created_at))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(concat!(
            "INSERT INTO challenges (",
            challenge_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(c.key.as_slice())
        .bind(c.kind.as_str())
        .bind(&c.subject)
        .bind(&c.payload)
        .bind(i64::from(c.failures))
        .bind(secs(c.expires_at))
        .bind(secs(c.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "challenges.key"))?;
        tx.commit().await.map_err(db_error)
    }

    async fn delete_challenges(&self, kind: ChallengeKind, subject: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM challenges WHERE kind = $1 AND subject = $2")
            .bind(kind.as_str())
            .bind(subject)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn take_challenge(
        &self,
        kind: ChallengeKind,
        key: &[u8; 32],
        now: OffsetDateTime,
    ) -> StoreResult<Option<Challenge>> {
        let taken = sqlx::query(concat!(
            "DELETE FROM challenges WHERE key = $1 AND kind = $2 RETURNING ",
            challenge_columns!()
        ))
        .bind(key.as_slice())
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(challenge)
        .transpose()?;
        Ok(taken.filter(|c| c.expires_at > now))
    }

    async fn latest_challenge(
        &self,
        kind: ChallengeKind,
        subject: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Challenge>> {
        sqlx::query(concat!(
            "SELECT ",
            challenge_columns!(),
            " FROM challenges WHERE kind = $1 AND subject = $2 AND expires_at > $3 \
             ORDER BY created_at DESC LIMIT 1"
        ))
        .bind(kind.as_str())
        .bind(subject)
        .bind(secs(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(challenge)
        .transpose()
    }

    async fn live_challenges(
        &self,
        kind: ChallengeKind,
        subject: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Challenge>> {
        sqlx::query(concat!(
            "SELECT ",
            challenge_columns!(),
            " FROM challenges WHERE kind = $1 AND subject = $2 AND expires_at > $3 \
             ORDER BY created_at, key"
        ))
        .bind(kind.as_str())
        .bind(subject)
        .bind(secs(now))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(challenge)
        .collect()
    }

    async fn fail_challenge(&self, key: &[u8; 32], max_failures: u32) -> StoreResult<u32> {
        let row = sqlx::query(
            "UPDATE challenges SET failures = failures + 1 WHERE key = $1 RETURNING failures",
        )
        .bind(key.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(max_failures);
        };
        let failures: i64 = get(&row, "failures")?;
        let failures = u32::try_from(failures).map_err(|e| corrupt("challenges.failures", e))?;
        if failures >= max_failures {
            sqlx::query("DELETE FROM challenges WHERE key = $1")
                .bind(key.as_slice())
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
        }
        Ok(failures)
    }
}
