//! People: users, the identities (sign-in doors) bound to them, their memberships in tenants,
//! their custodial wallets, their sessions, and the one-time challenges sign-in flows hand out.
//!
//! A user exists only through identities: every door (email, password, OAuth provider, passkey,
//! wallet) is an identity row, unique by `(kind, subject)`, so the same door always leads to the
//! same person, and a signed-in person may add more doors.

mod challenge;
mod session;

pub use challenge::{Challenge, ChallengeKind, ChallengeStore};
pub use session::{RefreshToken, Rotation, Session, SessionStore};

use std::borrow::Cow;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::store::StoreResult;
use crate::tenant::Tenant;
use crate::{IdentityId, TenantId, UserId, WalletId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    /// The address the person signed up with or verified last, for display and invitations.
    pub email: Option<String>,
    pub name: Option<String>,
    pub created_at: OffsetDateTime,
}

/// Which door an identity is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdentityKind {
    /// A verified email address (magic link or code).
    Email,
    /// An email address and a password (argon2id hash in `credential`).
    Password,
    /// An account at an outside OAuth 2 / OIDC provider, named as configured (`google`).
    OAuth(String),
    /// A WebAuthn credential (its id is the subject; the public key and counter the credential).
    Passkey,
    /// An Ethereum address, lowercase `0x…` (one identity whatever case a wallet writes).
    Ethereum,
    /// A Solana address (base58).
    Solana,
}

impl IdentityKind {
    /// The stored form: `email`, `password`, `oauth:google`, `passkey`, `wallet:eip155`,
    /// `wallet:solana`.
    pub fn as_str(&self) -> Cow<'static, str> {
        match self {
            Self::Email => Cow::Borrowed("email"),
            Self::Password => Cow::Borrowed("password"),
            Self::OAuth(provider) => Cow::Owned(format!("oauth:{provider}")),
            Self::Passkey => Cow::Borrowed("passkey"),
            Self::Ethereum => Cow::Borrowed("wallet:eip155"),
            Self::Solana => Cow::Borrowed("wallet:solana"),
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "email" => Self::Email,
            "password" => Self::Password,
            "passkey" => Self::Passkey,
            "wallet:eip155" => Self::Ethereum,
            "wallet:solana" => Self::Solana,
            other => {
                let provider = other.strip_prefix("oauth:")?;
                if provider.is_empty() {
                    return None;
                }
                Self::OAuth(provider.to_owned())
            }
        })
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: IdentityId,
    pub user_id: UserId,
    pub kind: IdentityKind,
    /// What the door is keyed by: the normalized email, the provider's `sub`, the credential id,
    /// the address.
    pub subject: String,
    /// What the door checks, when it is stored here: the password's PHC string, the passkey.
    pub credential: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

// By hand: the credential (a password hash) stays out of logs.
impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .field("subject", &self.subject)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

text_enum!(
    /// What a member may do in a tenant: owners and admins manage keys, agents and members
    /// (only owners make or remove owners); members use the tenant; viewers read.
    Role { Owner = "owner", Admin = "admin", Member = "member", Viewer = "viewer" }
);

impl Role {
    /// Whether this role manages the tenant's API keys, agents and webhooks.
    pub fn manages(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// Whether this role may act (beyond reading) in the tenant.
    pub fn writes(self) -> bool {
        !matches!(self, Self::Viewer)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role: Role,
    pub created_at: OffsetDateTime,
}

text_enum!(
    /// The chain of a wallet (CAIP-2 namespaces).
    Chain { Ethereum = "eip155", Solana = "solana" }
);

#[derive(Clone, PartialEq, Eq)]
pub struct Wallet {
    pub id: WalletId,
    pub user_id: UserId,
    pub chain: Chain,
    pub address: String,
    /// The private key sealed under the master key; no API returns it.
    pub sealed_key: Vec<u8>,
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wallet")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("chain", &self.chain)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// What unlinking an identity did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlinked {
    Removed,
    /// Refused: it is the user's only door.
    LastIdentity,
    NotFound,
}

/// What a membership change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    Done,
    /// Refused: the tenant would be left without an owner.
    LastOwner,
    NotFound,
}

#[async_trait]
pub trait PeopleStore: Send + Sync {
    /// Creates a user with its first identities and its wallet in one transaction. An identity
    /// that already exists is `Conflict("identities.kind")` and nothing is written.
    async fn create_user(
        &self,
        user: &User,
        identities: &[Identity],
        wallet: &Wallet,
    ) -> StoreResult<()>;
    async fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// Sets the user's display email (after a verified email sign-in, say).
    async fn set_user_email(&self, id: UserId, email: &str) -> StoreResult<()>;

    /// The identity behind a door, and so the user.
    async fn identity(&self, kind: &IdentityKind, subject: &str) -> StoreResult<Option<Identity>>;
    /// Binds more doors to an existing user, all or none (one transaction);
    /// `Conflict("identities.kind")` when one of them already belongs to someone.
    async fn insert_identities(&self, identities: &[Identity]) -> StoreResult<()>;
    async fn identities(&self, user: UserId) -> StoreResult<Vec<Identity>>;
    /// Records a use of the door, and its new credential when it changed (a passkey's counter, a
    /// password rehashed with stronger parameters).
    async fn touch_identity(
        &self,
        id: IdentityId,
        credential: Option<&str>,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Replaces a door's credential only if it is still `expected`; false when it changed (or
    /// the door went) meanwhile. A passkey's signature counter then moves forward once, even
    /// when two sign-ins with the same counter race.
    async fn replace_identity_credential(
        &self,
        id: IdentityId,
        expected: &str,
        credential: &str,
    ) -> StoreResult<bool>;
    /// Removes a door, unless it is the user's last one (checked in the same transaction).
    async fn unlink_identity(&self, user: UserId, id: IdentityId) -> StoreResult<Unlinked>;

    async fn wallets(&self, user: UserId) -> StoreResult<Vec<Wallet>>;

    /// Creates a tenant and makes `owner` its owner, in one transaction.
    async fn create_owned_tenant(&self, tenant: &Tenant, owner: UserId) -> StoreResult<()>;
    /// Adds a member; `Conflict("memberships.tenant_id")` when already one.
    async fn insert_membership(&self, membership: &Membership) -> StoreResult<()>;
    async fn membership(&self, tenant: TenantId, user: UserId) -> StoreResult<Option<Membership>>;
    /// The user's memberships, oldest first.
    async fn memberships(&self, user: UserId) -> StoreResult<Vec<Membership>>;
    /// The tenant's members, oldest first.
    async fn members(&self, tenant: TenantId) -> StoreResult<Vec<Membership>>;
    /// Changes a role, refusing to demote the last owner.
    async fn set_role(
        &self,
        tenant: TenantId,
        user: UserId,
        role: Role,
    ) -> StoreResult<MemberChange>;
    /// Removes a member, refusing to remove the last owner.
    async fn remove_member(&self, tenant: TenantId, user: UserId) -> StoreResult<MemberChange>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_kinds_round_trip() {
        for kind in [
            IdentityKind::Email,
            IdentityKind::Password,
            IdentityKind::OAuth("google".to_owned()),
            IdentityKind::Passkey,
            IdentityKind::Ethereum,
            IdentityKind::Solana,
        ] {
            assert_eq!(IdentityKind::parse(&kind.as_str()), Some(kind));
        }
        assert_eq!(IdentityKind::parse("oauth:"), None);
        assert_eq!(IdentityKind::parse("wallet"), None);
    }
}
