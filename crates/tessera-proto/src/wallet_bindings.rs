//! Wallet bindings: a person's main wallet granting an agent's wallet address permissions.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWalletBindingRequest {
    /// One of the signed-in person's Ethereum addresses (custodial wallet or wallet door).
    #[schema(example = "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf")]
    pub main: String,
    /// The agent's wallet address.
    pub agent: String,
    /// What the agent wallet may do: 1 to 32 labels of a-z, 0-9, `:`, `_`, `.`, `-`.
    #[schema(example = json!(["payments:send"]))]
    pub grants: Vec<String>,
    /// When the statement was signed (RFC 3339, whole seconds); at most 10 minutes old.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// The main wallet's EIP-191 `personal_sign` signature of the statement
    /// "Tessera wallet binding\nMain wallet: <main>\nAgent wallet: <agent>\nGrants: <grants
    /// sorted, joined by \", \">\nIssued at: <issued_at>" (addresses lowercase).
    pub signature: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WalletBinding {
    pub id: String,
    pub main: String,
    pub agent: String,
    pub grants: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WalletBindingList {
    pub wallet_bindings: Vec<WalletBinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WalletBindingCheck {
    pub main: String,
    pub agent: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WalletBindingStatus {
    pub bound: bool,
    /// The live binding's grants; empty when not bound.
    pub grants: Vec<String>,
}
