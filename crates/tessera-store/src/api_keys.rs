//! API keys: tenant and operator keys, looked up by the hash of their secret.

use sqlx::AnyConnection;
use tessera_core::api_key::{ApiKey, KeyOwner};
use tessera_core::{ApiKeyId, StoreError};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{db_error, write_error};
use crate::rows::{self, api_key_columns, opt_secs, secs};

impl SqlStore {
    /// Inserts a key on a connection that may be inside a transaction (tenant creation).
    pub(crate) async fn write_api_key(
        conn: &mut AnyConnection,
        key: &ApiKey,
    ) -> Result<(), StoreError> {
        // The owner column is also the foreign key that can fail, which SQLite does not name.
        let (tenant, operator, user, owner_rule) = match key.owner {
            KeyOwner::Tenant(id) => (Some(id.to_string()), None, None, "api_keys.tenant_id"),
            KeyOwner::Operator(id) => (None, Some(id.to_string()), None, "api_keys.operator_id"),
            KeyOwner::User(id) => (None, None, Some(id.to_string()), "api_keys.user_id"),
        };
        sqlx::query(concat!(
            "INSERT INTO api_keys (",
            api_key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(key.id.to_string())
        .bind(tenant)
        .bind(operator)
        .bind(user)
        .bind(&key.name)
        .bind(key.scopes.to_string())
        .bind(key.secret_hash.as_slice())
        .bind(opt_secs(key.expires_at))
        .bind(opt_secs(key.revoked_at))
        .bind(opt_secs(key.last_used_at))
        .bind(secs(key.created_at))
        .execute(conn)
        .await
        .map_err(|e| write_error(e, owner_rule))?;
        Ok(())
    }

    pub(crate) async fn insert_api_key_row(&self, key: &ApiKey) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        Self::write_api_key(&mut conn, key).await
    }

    pub(crate) async fn read_api_key_by_hash(
        &self,
        secret_hash: &[u8; 32],
    ) -> Result<Option<ApiKey>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            api_key_columns!(),
            " FROM api_keys WHERE secret_hash = $1"
        ))
        .bind(secret_hash.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .as_ref()
        .map(rows::api_key)
        .transpose()
    }

    pub(crate) async fn read_api_keys(&self, owner: KeyOwner) -> Result<Vec<ApiKey>, StoreError> {
        let (column, id) = owner_column(owner);
        let query = match column {
            Owner::Tenant => concat!(
                "SELECT ",
                api_key_columns!(),
                " FROM api_keys WHERE tenant_id = $1 ORDER BY id DESC"
            ),
            Owner::Operator => concat!(
                "SELECT ",
                api_key_columns!(),
                " FROM api_keys WHERE operator_id = $1 ORDER BY id DESC"
            ),
            Owner::User => concat!(
                "SELECT ",
                api_key_columns!(),
                " FROM api_keys WHERE user_id = $1 ORDER BY id DESC"
            ),
        };
        let rows = sqlx::query(query)
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows::all(rows, rows::api_key)
    }

    pub(crate) async fn mark_api_key_revoked(
        &self,
        owner: KeyOwner,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<Option<ApiKey>, StoreError> {
        let (column, owner_id) = owner_column(owner);
        // One statement, so two concurrent revocations cannot both report success.
        let query = match column {
            Owner::Tenant => concat!(
                "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING ",
                api_key_columns!()
            ),
            Owner::Operator => concat!(
                "UPDATE api_keys SET revoked_at = $3 WHERE operator_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING ",
                api_key_columns!()
            ),
            Owner::User => concat!(
                "UPDATE api_keys SET revoked_at = $3 WHERE user_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING ",
                api_key_columns!()
            ),
        };
        sqlx::query(query)
            .bind(owner_id)
            .bind(id.to_string())
            .bind(secs(at))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .as_ref()
            .map(rows::api_key)
            .transpose()
    }

    pub(crate) async fn mark_api_key_used(
        &self,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        // Runs on every authenticated request: skip the write when the stored time is not older
        // (the common case within the same second, or a late caller).
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $2 \
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
        )
        .bind(id.to_string())
        .bind(secs(at))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }
}

/// The owner column a key is filed under.
enum Owner {
    Tenant,
    Operator,
    User,
}

fn owner_column(owner: KeyOwner) -> (Owner, String) {
    match owner {
        KeyOwner::Tenant(id) => (Owner::Tenant, id.to_string()),
        KeyOwner::Operator(id) => (Owner::Operator, id.to_string()),
        KeyOwner::User(id) => (Owner::User, id.to_string()),
    }
}
