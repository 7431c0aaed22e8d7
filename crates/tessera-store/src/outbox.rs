//! The mail outbox (embedded mode without SMTP): written once, read by people, never by Tessera.

use async_trait::async_trait;
use tessera_core::mail::{OutboxEmail, OutboxStore};
use tessera_core::store::StoreResult;

use crate::SqlStore;
use crate::error::write_error;
use crate::rows::secs;

#[async_trait]
impl OutboxStore for SqlStore {
    async fn insert_outbox_email(&self, email: &OutboxEmail) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO email_outbox (id, recipient, subject, body, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&email.id)
        .bind(&email.recipient)
        .bind(&email.subject)
        .bind(&email.body)
        .bind(secs(email.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "email_outbox.id"))?;
        Ok(())
    }
}
