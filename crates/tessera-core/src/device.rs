//! Device authorizations (RFC 8628): a device without a browser asks for one, shows a person a
//! short user code, and polls with its device code while the person, signed in elsewhere,
//! enters the code and approves or denies. An approval is redeemed by exactly one poll.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::scope::Scopes;
use crate::store::StoreResult;
use crate::{OAuthClientId, TenantId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Denied,
    /// Approved and already answered with tokens: the device code is used up.
    Redeemed,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Redeemed => "redeemed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            "redeemed" => Some(Self::Redeemed),
            _ => None,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct DeviceAuthorization {
    pub device_code_hash: [u8; 32],
    pub user_code_hash: [u8; 32],
    pub tenant_id: TenantId,
    pub client_id: OAuthClientId,
    pub scope: Scopes,
    /// The resource (RFC 8707) the tokens are for; None: the default audience.
    pub resource: Option<String>,
    pub status: DeviceStatus,
    /// Who approved it, and when they signed in (the ID token's `auth_time`).
    pub user_id: Option<UserId>,
    pub auth_time: Option<OffsetDateTime>,
    /// The seconds a device must wait between polls; raised by each `slow_down`.
    pub interval_secs: i64,
    pub last_polled_at: Option<OffsetDateTime>,
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

// By hand: the codes' digests stay out of logs.
impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("status", &self.status)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// A person's answer on the console's device page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceDecision {
    Approve {
        user: UserId,
        auth_time: OffsetDateTime,
    },
    Deny,
}

/// What a device's poll finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePoll {
    /// Approved, and now redeemed by this poll: issue the tokens.
    Approved(Box<DeviceAuthorization>),
    Pending,
    /// Polled before the interval passed; the interval is now longer.
    SlowDown,
    Denied,
    Expired,
    /// Unknown, another client's, or already redeemed.
    Invalid,
}

#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Fails with a conflict when the user code is already taken by another authorization.
    async fn create_device_authorization(&self, device: &DeviceAuthorization) -> StoreResult<()>;
    /// The pending, unexpired authorization with this user code.
    async fn pending_device_authorization(
        &self,
        user_code_hash: &[u8; 32],
        at: OffsetDateTime,
    ) -> StoreResult<Option<DeviceAuthorization>>;
    /// Records the person's answer; false when no pending, unexpired authorization has the code.
    async fn decide_device_authorization(
        &self,
        user_code_hash: &[u8; 32],
        decision: DeviceDecision,
        at: OffsetDateTime,
    ) -> StoreResult<bool>;
    /// A poll by `client`: enforces the interval and redeems an approval, once.
    async fn poll_device_authorization(
        &self,
        device_code_hash: &[u8; 32],
        client: OAuthClientId,
        at: OffsetDateTime,
    ) -> StoreResult<DevicePoll>;
}
