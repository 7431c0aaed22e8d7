//! Device authorizations (RFC 8628). A poll runs in one transaction: it locks and reads the row,
//! enforces the interval, and redeems an approval with `UPDATE … WHERE status = 'approved'`, so
//! of two concurrent polls exactly one gets the tokens.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_core::device::{
    DeviceAuthorization, DeviceDecision, DevicePoll, DeviceStatus, DeviceStore,
};
use tessera_core::store::StoreResult;
use tessera_core::{OAuthClientId, Scopes, StoreError};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{db_error, write_error};
use crate::rows::{get, hash, opt_secs, opt_time, parsed, parsed_opt, secs, time, word};

macro_rules! device_columns {
    () => {
        "device_code_hash, user_code_hash, tenant_id, client_id, scope, resource, status, \
         user_id, auth_time, interval_secs, last_polled_at, expires_at, created_at"
    };
}

/// What `slow_down` adds to the interval (RFC 8628 §3.5).
const SLOW_DOWN_SECS: i64 = 5;

fn device(row: &AnyRow) -> Result<DeviceAuthorization, StoreError> {
    Ok(DeviceAuthorization {
        device_code_hash: hash(row, "device_code_hash")?,
        user_code_hash: hash(row, "user_code_hash")?,
        tenant_id: parsed(row, "tenant_id", str::parse)?,
        client_id: parsed(row, "client_id", str::parse)?,
        scope: parsed(row, "scope", Scopes::parse)?,
        resource: get(row, "resource")?,
        status: word(row, "status", DeviceStatus::parse)?,
        user_id: parsed_opt(row, "user_id", str::parse)?,
        auth_time: opt_time(row, "auth_time")?,
        interval_secs: get(row, "interval_secs")?,
        last_polled_at: opt_time(row, "last_polled_at")?,
        expires_at: time(row, "expires_at")?,
        created_at: time(row, "created_at")?,
    })
}

#[async_trait]
impl DeviceStore for SqlStore {
    async fn create_device_authorization(&self, d: &DeviceAuthorization) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Expired authorizations go first, so that their user codes can be dealt again.
        sqlx::query("DELETE FROM oauth_device_authorizations WHERE expires_at <= $1")
            .bind(secs(d.created_at))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(concat!(
            "INSERT INTO oauth_device_authorizations (",
            device_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(d.device_code_hash.as_slice())
        .bind(d.user_code_hash.as_slice())
        .bind(d.tenant_id.to_string())
        .bind(d.client_id.to_string())
        .bind(d.scope.to_string())
        .bind(d.resource.as_deref())
        .bind(d.status.as_str())
        .bind(d.user_id.map(|u| u.to_string()))
        .bind(opt_secs(d.auth_time))
        .bind(d.interval_secs)
        .bind(opt_secs(d.last_polled_at))
        .bind(secs(d.expires_at))
        .bind(secs(d.created_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "oauth_device_authorizations.user_code_hash"))?;
        tx.commit().await.map_err(db_error)
    }

    async fn pending_device_authorization(
        &self,
        user_code_hash: &[u8; 32],
        at: OffsetDateTime,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        sqlx::query(concat!(
            "SELECT ",
            device_columns!(),
            " FROM oauth_device_authorizations \
             WHERE user_code_hash = $1 AND status = 'pending' AND expires_at > $2"
        ))
        .bind(user_code_hash.as_slice())
        .bind(secs(at))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(device)
        .transpose()
    }

    async fn decide_device_authorization(
        &self,
        user_code_hash: &[u8; 32],
        decision: DeviceDecision,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let (status, user, auth_time) = match decision {
            DeviceDecision::Approve { user, auth_time } => (
                DeviceStatus::Approved,
                Some(user.to_string()),
                Some(secs(auth_time)),
            ),
            DeviceDecision::Deny => (DeviceStatus::Denied, None, None),
        };
        let changed = sqlx::query(
            "UPDATE oauth_device_authorizations SET status = $2, user_id = $3, auth_time = $4 \
             WHERE user_code_hash = $1 AND status = 'pending' AND expires_at > $5",
        )
        .bind(user_code_hash.as_slice())
        .bind(status.as_str())
        .bind(user)
        .bind(auth_time)
        .bind(secs(at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "oauth_device_authorizations.user_id"))?
        .rows_affected();
        Ok(changed == 1)
    }

    async fn poll_device_authorization(
        &self,
        device_code_hash: &[u8; 32],
        client: OAuthClientId,
        at: OffsetDateTime,
    ) -> StoreResult<DevicePoll> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // A write first: SQLite takes its write lock now, rather than failing to upgrade a read
        // lock later while another connection writes.
        sqlx::query(
            "UPDATE oauth_device_authorizations SET status = status WHERE device_code_hash = $1",
        )
        .bind(device_code_hash.as_slice())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let found = sqlx::query(concat!(
            "SELECT ",
            device_columns!(),
            " FROM oauth_device_authorizations WHERE device_code_hash = $1"
        ))
        .bind(device_code_hash.as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(device)
        .transpose()?;
        let Some(mut found) = found.filter(|d| d.client_id == client) else {
            return Ok(DevicePoll::Invalid);
        };
        match found.status {
            DeviceStatus::Redeemed => return Ok(DevicePoll::Invalid),
            _ if found.expires_at <= at => return Ok(DevicePoll::Expired),
            DeviceStatus::Denied => return Ok(DevicePoll::Denied),
            DeviceStatus::Pending | DeviceStatus::Approved => {}
        }
        let too_soon = found
            .last_polled_at
            .is_some_and(|last| (at - last).whole_seconds() < found.interval_secs);
        let interval = if too_soon {
            found.interval_secs + SLOW_DOWN_SECS
        } else {
            found.interval_secs
        };
        sqlx::query(
            "UPDATE oauth_device_authorizations SET last_polled_at = $2, interval_secs = $3 \
             WHERE device_code_hash = $1",
        )
        .bind(device_code_hash.as_slice())
        .bind(secs(at))
        .bind(interval)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let outcome = if too_soon {
            DevicePoll::SlowDown
        } else if found.status == DeviceStatus::Pending {
            DevicePoll::Pending
        } else {
            let redeemed = sqlx::query(
                "UPDATE oauth_device_authorizations SET status = 'redeemed' \
                 WHERE device_code_hash = $1 AND status = 'approved'",
            )
            .bind(device_code_hash.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
            if redeemed != 1 {
                return Ok(DevicePoll::Invalid);
            }
            found.status = DeviceStatus::Redeemed;
            DevicePoll::Approved(Box::new(found))
        };
        tx.commit().await.map_err(db_error)?;
        Ok(outcome)
    }
}
