//! The domain of Tessera: typed identifiers, the objects of DESIGN.md §1 that exist so far
//! (tenants, API keys, trust policies, agents and their client secrets, signing keys, revoked tokens, audit events,
//! placements, third-party connections, people: users, their identities, memberships, wallets
//! and sessions, and the authorization server's OAuth clients and grants, people's delegation grants to agents),
//! the scope vocabulary, and the ports the rest of the system is written against:
//!
//! - [`Store`]: durable state; `tessera-store` implements it over SQLite and PostgreSQL.
//! - [`Clock`]: the current time, injected so tests control it.
//!
//! Nothing in this crate performs I/O.

/// An enum stored and sent as one of a fixed set of lowercase words.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

pub mod agent;
pub mod agent_key;
pub mod api_key;
pub mod audit;
pub mod authz;
pub mod clock;
pub mod connection;
pub mod delegation;
pub mod device;
pub mod id;
pub mod mail;
pub mod people;
pub mod placement;
pub mod plan;
pub mod scope;
pub mod signing_key;
pub mod store;
pub mod tenant;
pub mod trust;
pub mod usage;
pub mod validate;
pub mod wallet_binding;
pub mod webhook;

pub use clock::{Clock, SystemClock};
pub use id::{
    AgentId, ApiKeyId, AuditEventId, ClientSecretId, DelegationId, DeliveryId, GrantId, IdError,
    IdentityId, OAuthClientId, OperatorId, SessionId, TenantId, TrustPolicyId, UserId,
    WalletBindingId, WalletId, WebhookId,
};
pub use plan::{PlanLimits, PlanTable};
pub use scope::{ScopeError, Scopes};
pub use store::{Page, Store, StoreError};
