//! Wallet bindings: a person's main wallet grants an agent's wallet address a set of
//! permissions, proven by an EIP-191 signature of the main wallet over the binding's statement
//! (see [`statement`]). Anyone who can check a signature could check the binding; Tessera keeps
//! it so that a platform can ask "is this agent wallet bound to that main wallet, and for what?"
//! without holding the signature itself.

use async_trait::async_trait;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::store::StoreResult;
use crate::{UserId, WalletBindingId};

/// A live or revoked binding. Addresses are lowercase `0x` + 40 hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletBinding {
    pub id: WalletBindingId,
    pub user_id: UserId,
    pub main_address: String,
    pub agent_address: String,
    /// Sorted, without repeats.
    pub grants: Vec<String>,
    /// SHA-256 of the signature: a signature binds once (no replay after a revocation).
    pub signature_hash: [u8; 32],
    pub issued_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// The text the main wallet signs with `personal_sign`, one field a line.
pub fn statement(main: &str, agent: &str, grants: &[String], issued_at: OffsetDateTime) -> String {
    let issued = issued_at
        .format(&Rfc3339)
        .unwrap_or_else(|_| issued_at.unix_timestamp().to_string());
    format!(
        "Tessera wallet binding\nMain wallet: {main}\nAgent wallet: {agent}\nGrants: {}\nIssued at: {issued}",
        grants.join(", ")
    )
}

#[async_trait]
pub trait WalletBindingStore: Send + Sync {
    /// Stores a binding. `Conflict` when a live binding of the same pair exists or the
    /// signature was used before.
    async fn create_wallet_binding(&self, binding: &WalletBinding) -> StoreResult<()>;
    /// A person's bindings, oldest first (revoked ones included).
    async fn wallet_bindings(&self, user: UserId) -> StoreResult<Vec<WalletBinding>>;
    /// Revokes a person's live binding; false when they have no such live binding.
    async fn revoke_wallet_binding(
        &self,
        user: UserId,
        id: WalletBindingId,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// The live binding of `agent` to `main`, if any.
    async fn live_wallet_binding(
        &self,
        main: &str,
        agent: &str,
    ) -> StoreResult<Option<WalletBinding>>;
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_statement_names_every_field() {
        let text = statement(
            "0xaa",
            "0xbb",
            &["pay".to_owned(), "sign".to_owned()],
            datetime!(2030-01-01 00:00 UTC),
        );
        assert_eq!(
            text,
            "Tessera wallet binding\nMain wallet: 0xaa\nAgent wallet: 0xbb\nGrants: pay, sign\n\
             Issued at: 2030-01-01T00:00:00Z"
        );
    }
}
