//! Token signing keys and their rotation.

use tessera_core::StoreError;
use tessera_core::signing_key::SigningKeyRecord;
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::{db_error, write_error};
use crate::rows::{self, opt_secs, secs, signing_key_columns};

impl SqlStore {
    pub(crate) async fn read_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            signing_key_columns!(),
            " FROM signing_keys ORDER BY activates_at, kid"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows::all(rows, rows::signing_key)
    }

    pub(crate) async fn insert_signing_key_retiring_others(
        &self,
        next: &SigningKeyRecord,
        unpublish_retired_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Before the insert, so that the new key is the one key left unretired.
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $1, unpublish_at = $2 WHERE retired_at IS NULL",
        )
        .bind(secs(next.activates_at))
        .bind(secs(unpublish_retired_at))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query(concat!(
            "INSERT INTO signing_keys (",
            signing_key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&next.kid)
        .bind(&next.alg)
        .bind(next.sealed_private_key.as_slice())
        .bind(&next.public_jwk)
        .bind(secs(next.created_at))
        .bind(secs(next.activates_at))
        .bind(opt_secs(next.retired_at))
        .bind(opt_secs(next.unpublish_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "signing_keys.kid"))?;
        tx.commit().await.map_err(db_error)
    }
}
