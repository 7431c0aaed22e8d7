//! Typed identifiers: a kind prefix and a UUIDv7 (`agt_0190…`), so ids sort by creation time,
//! say what they name, and a tenant id can never be passed where an agent id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why a string is not an identifier of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind} id (expected `{prefix}_` followed by 32 hex digits)")]
pub struct IdError {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new identifier, ordered after every identifier made before it.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Pieces written as they are: `write!` with the UUID's own `Display` went
                // through the formatting machinery twice, and the gateway formats ids on
                // every request.
                f.write_str($prefix)?;
                f.write_str("_")?;
                f.write_str(self.0.simple().encode_lower(&mut Uuid::encode_buffer()))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, IdError> {
                let error = || IdError { kind: $kind, prefix: $prefix, value: s.chars().take(80).collect() };
                let hex = s
                    .strip_prefix($prefix)
                    .and_then(|rest| rest.strip_prefix('_'))
                    .filter(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
                    .ok_or_else(error)?;
                Uuid::try_parse(hex).map(Self).map_err(|_| error())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

typed_id!(
    /// A tenant: the unit of isolation and billing.
    TenantId, "ten", "tenant"
);
typed_id!(
    /// An agent: a non-human principal inside a tenant, and its OAuth 2 client id.
    AgentId, "agt", "agent"
);
typed_id!(
    /// An API key (the public half; the secret is never stored).
    ApiKeyId, "key", "API key"
);
typed_id!(
    /// One of an agent's client secrets (an agent holds several while rotating).
    ClientSecretId, "sec", "client secret"
);
typed_id!(
    /// The operator account that administers the installation.
    OperatorId, "opr", "operator"
);
typed_id!(
    /// One audit event.
    AuditEventId, "evt", "audit event"
);
typed_id!(
    /// A webhook subscription.
    WebhookId, "whk", "webhook"
);
typed_id!(
    /// One event's delivery to one webhook subscription, with all its attempts.
    DeliveryId, "dlv", "webhook delivery"
);

typed_id!(
    /// A person.
    UserId, "usr", "user"
);
typed_id!(
    /// One sign-in door bound to a user (an email address, a password, a passkey, a wallet…).
    IdentityId, "idn", "identity"
);
typed_id!(
    /// A signed-in person's session: the family of refresh tokens rotated from one sign-in.
    SessionId, "ses", "session"
);
typed_id!(
    /// A user's custodial wallet.
    WalletId, "wal", "wallet"
);
typed_id!(
    /// An application's OAuth client, registered in a tenant (its `client_id`).
    OAuthClientId, "cli", "OAuth client"
);
typed_id!(
    /// A person's authorization of an OAuth client: its code and its family of refresh tokens.
    GrantId, "grt", "grant"
);
typed_id!(
    /// A person's delegation grant: their authorization of an agent to act for them.
    DelegationId, "dlg", "delegation"
);
typed_id!(
    /// A tenant's trust in an outside issuer's workload tokens (workload identity federation).
    TrustPolicyId, "tpl", "trust policy"
);
typed_id!(
    /// A main wallet's grant of permissions to an agent's wallet address.
    WalletBindingId, "wbd", "wallet binding"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_kinds() {
        let id = AgentId::generate();
        let text = id.to_string();
        assert!(text.starts_with("agt_") && text.len() == 36);
        assert_eq!(text.parse::<AgentId>(), Ok(id));
        assert!(text.parse::<TenantId>().is_err());
        assert!("agt_XYZ".parse::<AgentId>().is_err());
        assert!(text.to_uppercase().parse::<AgentId>().is_err());
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = TenantId::generate();
        let b = TenantId::generate();
        assert!(a < b && a.to_string() < b.to_string());
    }
}
