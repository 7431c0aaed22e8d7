//! One-time challenges: the short-lived secrets a sign-in flow hands out and takes back once —
//! an email's link and code (to sign in, to confirm a password sign-up, to reset a password), a
//! wallet nonce, an OAuth `state`, a passkey ceremony, an invitation, an authorization request
//! awaiting the person's consent.
//! Only a SHA-256 of the secret is stored; taking a challenge deletes it, so it works once.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::store::StoreResult;

text_enum!(
    /// What a challenge is for; a secret of one kind is never accepted as another.
    ChallengeKind {
        Email = "email",
        // A password sign-up waiting for its address to be confirmed.
        PasswordSignUp = "password_sign_up",
        // A password reset waiting for the code mailed to the account's address.
        PasswordReset = "password_reset",
        Invitation = "invitation",
        WalletNonce = "wallet_nonce",
        OAuthState = "oauth_state",
        // The nonce of a begun per-agent OAuth connection (the token vault).
        ConnectionState = "connection_state",
        PasskeyRegistration = "passkey_registration",
        PasskeyLogin = "passkey_login",
        AuthorizationRequest = "authorization_request",
    }
);

#[derive(Clone, PartialEq, Eq)]
pub struct Challenge {
    /// SHA-256 of the secret handed out (link token, nonce, state…).
    pub key: [u8; 32],
    pub kind: ChallengeKind,
    /// Whom it was issued for (the email address, the wallet chain…), for lookups by subject.
    pub subject: String,
    /// What the flow needs back when the challenge is answered (JSON; its shape is the flow's).
    pub payload: String,
    /// Wrong answers so far (email codes).
    pub failures: u32,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

// By hand: the payload can hold verifier secrets (PKCE, code hashes).
impl std::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenge")
            .field("kind", &self.kind)
            .field("subject", &self.subject)
            .field("failures", &self.failures)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait ChallengeStore: Send + Sync {
    /// Stores a challenge (and drops challenges that expired before its creation).
    async fn insert_challenge(&self, challenge: &Challenge) -> StoreResult<()>;
    /// Deletes the challenges of one kind issued for `subject` (a new email code replaces the
    /// old one).
    async fn delete_challenges(&self, kind: ChallengeKind, subject: &str) -> StoreResult<()>;
    /// Takes (deletes and returns) a live challenge; None when unknown, expired or already taken.
    /// Of two concurrent takes, one gets it.
    async fn take_challenge(
        &self,
        kind: ChallengeKind,
        key: &[u8; 32],
        now: OffsetDateTime,
    ) -> StoreResult<Option<Challenge>>;
    /// The newest live challenge of one kind for `subject`, left in place.
    async fn latest_challenge(
        &self,
        kind: ChallengeKind,
        subject: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Challenge>>;
    /// The live challenges of one kind for `subject` (a tenant's pending invitations), oldest
    /// first, left in place.
    async fn live_challenges(
        &self,
        kind: ChallengeKind,
        subject: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<Challenge>>;
    /// Counts a wrong answer; the challenge is deleted at `max_failures`. Returns the count.
    async fn fail_challenge(&self, key: &[u8; 32], max_failures: u32) -> StoreResult<u32>;
}
