//! The outbox: mail Tessera would have sent, kept in the store when no SMTP server is
//! configured (embedded mode), so a developer can read sign-in links and invitations.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::store::StoreResult;

/// One message kept instead of sent. Its body holds live secrets (sign-in links and codes)
/// until they expire, so it never goes to `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxEmail {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for OutboxEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxEmail")
            .field("id", &self.id)
            .field("recipient", &self.recipient)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    async fn insert_outbox_email(&self, email: &OutboxEmail) -> StoreResult<()>;
}
