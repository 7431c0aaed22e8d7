//! Sessions: one per sign-in, holding a family of refresh tokens. Each refresh uses up the
//! presented token and hands out the next; a used token presented again means it was stolen (or
//! its holder is confused), and the whole family is revoked (OAuth 2.0 Security BCP §4.14.2).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::store::StoreResult;
use crate::{SessionId, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    /// How the session began (`password`, `email`, `oauth:google`…), for the user's list.
    pub method: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: OffsetDateTime,
    pub refreshed_at: OffsetDateTime,
    /// When the newest refresh token expires; the session ends then unless refreshed.
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

impl Session {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A refresh token as stored: only the SHA-256 of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub hash: [u8; 32],
    pub session_id: SessionId,
    pub expires_at: OffsetDateTime,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was good: it is used up, `next` replaces it, and this is the session now.
    Rotated(Session),
    /// The token had been used before: the session (every token of the family) is now revoked.
    Reused(Session),
    /// Unknown, expired, or of a revoked session.
    Invalid,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Records a session and its first refresh token in one transaction.
    async fn create_session(&self, session: &Session, first: &RefreshToken) -> StoreResult<()>;
    async fn session(&self, id: SessionId) -> StoreResult<Option<Session>>;
    /// The user's sessions that are neither revoked nor expired, newest first.
    async fn live_sessions(&self, user: UserId, now: OffsetDateTime) -> StoreResult<Vec<Session>>;
    /// Revokes one of the user's sessions; false when the user has no such live session.
    async fn revoke_session(
        &self,
        user: UserId,
        id: SessionId,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// Uses up the token whose hash is `presented` and stores the token hashed `next` in its
    /// place (same session, expiring at `next_expires_at`), in one transaction: of two concurrent
    /// presentations of one token, one rotates and the other is reuse.
    async fn rotate_refresh_token(
        &self,
        presented: &[u8; 32],
        next: &[u8; 32],
        next_expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> StoreResult<Rotation>;
}
