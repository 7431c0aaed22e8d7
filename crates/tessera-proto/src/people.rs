//! People: sign-in requests, sessions, and what a signed-in person sees of themselves.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// What every sign-in door returns (the same values are also set as HttpOnly cookies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionGrant {
    /// A JWT (`typ: session+jwt`): `sub` is the user id, `entity_ids` the user's tenants.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Single-use: `POST /v1/auth/refresh` exchanges it for a new pair.
    pub refresh_token: String,
    pub user: User,
    /// Whether this sign-in created the user.
    pub created: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One sign-in door of the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Identity {
    pub id: String,
    /// `email`, `password`, `oauth:<provider>`, `passkey`, `wallet:eip155`, `wallet:solana`.
    pub kind: String,
    /// The email address, the provider's subject, the credential id or the address.
    pub subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Membership {
    pub tenant_id: String,
    pub tenant_name: String,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A custodial wallet: its address only; the private key never leaves Tessera.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Wallet {
    pub id: String,
    /// `eip155` or `solana`.
    pub chain: String,
    pub address: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub user: User,
    pub identities: Vec<Identity>,
    pub memberships: Vec<Membership>,
    pub wallets: Vec<Wallet>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub id: String,
    /// How it began: `password`, `email`, `oauth:<provider>`, `passkey`, `wallet:eip155`…
    pub method: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub refreshed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Whether this is the session of the token that asked.
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<Session>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WalletList {
    pub wallets: Vec<Wallet>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRegisterRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// At least 12 characters.
    pub password: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Where the confirmation link sends the browser after signing up (or with `?error=` when
    /// it fails): this server's origin or one of `sign_in_redirect_origins`. Without it the link
    /// answers with the session grant.
    #[serde(default)]
    pub redirect_to: Option<String>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordLoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetStartRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetFinishRequest {
    pub email: String,
    /// The 6 digits from the email.
    #[schema(example = "042917")]
    pub code: String,
    /// At least 12 characters.
    pub new_password: String,
}

impl std::fmt::Debug for PasswordResetFinishRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordResetFinishRequest")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

// By hand: the password stays out of logs.
impl std::fmt::Debug for PasswordRegisterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordRegisterRequest")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PasswordLoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordLoginRequest")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// The refresh token comes in the body (API clients) or the `tessera_refresh` cookie (browsers).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshRequest { .. }")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The text to sign (EIP-191 `personal_sign` for Ethereum wallets).
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Signature {
    pub wallet_id: String,
    pub chain: String,
    pub address: String,
    /// `0x` + 65 bytes hex (r, s, v) for Ethereum; base58 for Solana.
    pub signature: String,
}

/// A tenant created by a signed-in person, who becomes its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOwnedTenantRequest {
    #[schema(example = "Acme Robotics")]
    pub name: String,
    #[serde(default = "consumer")]
    pub kind: crate::tenants::TenantKind,
}

fn consumer() -> crate::tenants::TenantKind {
    crate::tenants::TenantKind::Consumer
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Member {
    pub user_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MemberList {
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoleRequest {
    pub role: Role,
}

/// Asks for a sign-in email (a link and a 6-digit code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailStartRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// Where the link sends the browser after signing in (or with `?error=` when it fails):
    /// this server's origin or one of `sign_in_redirect_origins`. Without it the link answers
    /// with the session grant.
    #[serde(default)]
    pub redirect_to: Option<String>,
}

/// The email is on its way (the same answer whether or not the address has an account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EmailStarted {
    /// Seconds the link and the code work.
    pub expires_in: i64,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailVerifyRequest {
    pub email: String,
    /// The 6 digits from the email.
    #[schema(example = "042917")]
    pub code: String,
}

// By hand: the code stays out of logs.
impl std::fmt::Debug for EmailVerifyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailVerifyRequest")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// The parameters of an emailed sign-in link.
#[derive(Clone, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EmailCallbackQuery {
    /// The link's `tml_…` token.
    pub token: String,
    /// Where to send the browser when the link fails (the one given at start).
    pub redirect_to: Option<String>,
}

impl std::fmt::Debug for EmailCallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailCallbackQuery")
            .field("redirect_to", &self.redirect_to)
            .finish_non_exhaustive()
    }
}

/// Invites someone, by email address, into a tenant with a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    #[schema(example = "grace@example.com")]
    pub email: String,
    pub role: Role,
}

/// A pending invitation (its token was emailed and is never shown again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InvitationList {
    pub invitations: Vec<Invitation>,
}

/// The parameters of an invitation email's link.
#[derive(Clone, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvitationLinkQuery {
    /// The invitation's `tml_…` token.
    pub token: String,
}

impl std::fmt::Debug for InvitationLinkQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvitationLinkQuery")
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The `tml_…` token from the invitation email.
    pub token: String,
}

impl std::fmt::Debug for AcceptInvitationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AcceptInvitationRequest { .. }")
    }
}

/// The wallet protocol of a sign-in: `eip155` (Sign-In with Ethereum, EIP-4361) or `solana`
/// (Sign-In With Solana).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WalletProtocol {
    #[default]
    Eip155,
    Solana,
}

impl WalletProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eip155 => "eip155",
            Self::Solana => "solana",
        }
    }
}

/// An empty body asks for an Ethereum nonce.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WalletNonceRequest {
    #[serde(default)]
    pub chain: WalletProtocol,
}

/// What a wallet needs to write the sign-in message: every field goes into it as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WalletNonce {
    /// Single use; the message's `Nonce`.
    pub nonce: String,
    /// When the nonce stops being accepted (10 minutes after it was issued).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The message's domain (the public URL's `host[:port]`).
    pub domain: String,
    /// The message's `URI` (any path on this origin is accepted).
    pub uri: String,
    pub chain: WalletProtocol,
    /// The message's `Chain ID`: the EIP-155 chain id (`1`) or the Solana network (`mainnet`).
    pub chain_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WalletVerifyRequest {
    /// The exact text the wallet signed (EIP-4361, or the Sign-In With Solana text).
    pub message: String,
    /// Ethereum: the `personal_sign` result (`0x` + 130 hex digits). Solana: the ed25519
    /// signature in base58 (or base64).
    pub signature: String,
    /// Default `eip155`.
    #[serde(default)]
    pub chain: WalletProtocol,
}

/// Starts registering a passkey: at sign-up (no session; `name` names the new user) or, with a
/// session, for the signed-in person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegisterStartRequest {
    /// The new user's name, shown by the authenticator too (sign-up only).
    #[serde(default)]
    #[schema(example = "Ada Lovelace")]
    pub name: Option<String>,
}

/// A WebAuthn ceremony in progress: what the browser needs, and the handle to send back.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PasskeyCeremony {
    /// Single use: send it back with the authenticator's answer to `…/finish`.
    pub handle: String,
    /// The options for `navigator.credentials.create()` or `.get()` (`{"publicKey": …}`;
    /// binary fields are base64url).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// The authenticator's answer to a ceremony.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyFinishRequest {
    /// The handle `…/start` returned.
    pub handle: String,
    /// The `PublicKeyCredential` as JSON (binary fields base64url): `rawId`, `response`
    /// (`clientDataJSON`, `attestationObject` or `authenticatorData` + `signature` +
    /// `userHandle`), `type`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

// By hand: the handle is a bearer of the ceremony.
impl std::fmt::Debug for PasskeyCeremony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyCeremony")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for PasskeyFinishRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasskeyFinishRequest { .. }")
    }
}
