//! The authorization server's objects: the OAuth clients applications register in a tenant, and
//! the grants people give them.
//!
//! A grant is one person's authorization of one client: it begins as a single-use code and lives
//! on through a family of refresh tokens, each used once and replaced (OAuth 2.0 Security BCP
//! §4.14.2). Every access token issued from a grant names it, so revoking the grant — a replayed
//! code, a reused refresh token — ends every token of the family at once.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::scope::Scopes;
use crate::store::StoreResult;
use crate::{GrantId, OAuthClientId, TenantId, UserId};

/// `openid`: the client wants an ID token (OpenID Connect).
pub const OPENID: &str = "openid";
/// `profile`: the person's name, at `/oauth2/userinfo`.
pub const PROFILE: &str = "profile";
/// `email`: the person's email address, at `/oauth2/userinfo`.
pub const EMAIL: &str = "email";
/// `offline_access`: the client gets a refresh token and keeps access while the person is away.
pub const OFFLINE_ACCESS: &str = "offline_access";
/// The OpenID Connect scopes; a client registered without scopes may ask for these.
pub const OIDC_SCOPES: [&str; 4] = [OPENID, PROFILE, EMAIL, OFFLINE_ACCESS];

/// An application registered to sign people in through Tessera.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthClient {
    pub id: OAuthClientId,
    pub tenant_id: TenantId,
    pub name: String,
    /// How the client proves itself at the token endpoint.
    pub auth_method: ClientAuthMethod,
    /// SHA-256 of the client secret: exactly the clients that authenticate with a secret have
    /// one.
    pub secret_hash: Option<[u8; 32]>,
    /// The public keys of a `private_key_jwt` client (and only of one).
    pub keys: Option<ClientKeys>,
    /// Absolute URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// The most the client may ask for.
    pub scopes: Scopes,
    /// The grants the client registered for (RFC 7591 `grant_types`); the authorization and
    /// device endpoints refuse a client that did not name theirs.
    pub grant_types: Vec<AppGrant>,
    /// SHA-256 of the registration access token of a client that registered itself (RFC 7591);
    /// the token reads and deletes the registration (RFC 7592).
    pub registration_token_hash: Option<[u8; 32]>,
    pub created_at: OffsetDateTime,
}

impl OAuthClient {
    /// A browser or native app, which cannot keep a secret or a key and must use PKCE.
    pub fn is_public(&self) -> bool {
        self.auth_method == ClientAuthMethod::None
    }

    pub fn allows(&self, grant: AppGrant) -> bool {
        self.grant_types.contains(&grant)
    }

    /// What of `requested` a person's grant to this client can hold: `offline_access` (refresh
    /// tokens) only for a client registered for the `refresh_token` grant; for another it is
    /// ignored, as OpenID Connect Core §11 allows.
    pub fn grantable(&self, requested: Scopes) -> Scopes {
        if self.allows(AppGrant::RefreshToken) {
            requested
        } else {
            requested.without(OFFLINE_ACCESS)
        }
    }
}

/// RFC 7591 `token_endpoint_auth_method`, as far as Tessera supports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// A public client: it names itself with `client_id`.
    None,
    ClientSecretBasic,
    ClientSecretPost,
    /// RFC 7523 §2.2: a JWT signed with one of the client's keys.
    PrivateKeyJwt,
}

impl ClientAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::None,
            Self::ClientSecretBasic,
            Self::ClientSecretPost,
            Self::PrivateKeyJwt,
        ]
        .into_iter()
        .find(|m| m.as_str() == name)
    }

    /// Whether the client holds a secret.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

/// Where a `private_key_jwt` client's public keys are: registered inline (a JWK Set, as JSON),
/// or published at a URI Tessera fetches (and fetches again when an assertion names a new key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKeys {
    Jwks(String),
    JwksUri(String),
}

/// The grants an application may register for: a person's, started in a browser or on a
/// device, and kept up with refresh tokens. (A machine acting as itself is an agent, with its
/// own `client_credentials`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppGrant {
    AuthorizationCode,
    RefreshToken,
    /// RFC 8628.
    DeviceCode,
}

impl AppGrant {
    pub const ALL: [Self; 3] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::DeviceCode,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

// By hand: the secret's digest stays out of logs.
impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("auth_method", &self.auth_method)
            .field("redirect_uris", &self.redirect_uris)
            .finish_non_exhaustive()
    }
}

/// A person's authorization of a client, and the code that starts it.
#[derive(Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: GrantId,
    pub tenant_id: TenantId,
    pub client_id: OAuthClientId,
    pub user_id: UserId,
    pub scope: Scopes,
    /// When the person signed in (the ID token's `auth_time`).
    pub auth_time: OffsetDateTime,
    /// SHA-256 of the authorization code.
    pub code_hash: [u8; 32],
    /// The redirect URI the code was sent to; the token request must name it again.
    pub redirect_uri: String,
    /// The PKCE S256 challenge (base64url of SHA-256 of the verifier), when the client sent one.
    pub code_challenge: Option<String>,
    /// The OpenID Connect `nonce`, returned in the ID token.
    pub nonce: Option<String>,
    pub code_expires_at: OffsetDateTime,
    pub code_used_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    /// The resources (RFC 8707) the application asked for, in the request's order: each token
    /// request picks one as the token's `aud` (the first by default). Empty: Tessera's default
    /// audience only.
    pub resources: Vec<String>,
    /// The DPoP key (RFC 7638 thumbprint) the grant is bound to (RFC 9449): named by the
    /// authorization request's `dpop_jkt` (the code is then redeemed only with a proof by that
    /// key), or a public client's key at the code exchange (its refresh tokens then need a proof
    /// by that key).
    pub dpop_jkt: Option<String>,
}

impl Grant {
    pub fn is_live(&self) -> bool {
        self.revoked_at.is_none()
    }
}

// By hand: the code's digest and the PKCE challenge stay out of logs.
impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("user_id", &self.user_id)
            .field("scope", &self.scope)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// A refresh token of a grant as stored: only the SHA-256 of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRefreshToken {
    pub hash: [u8; 32],
    pub grant_id: GrantId,
    pub expires_at: OffsetDateTime,
}

/// What presenting an authorization code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// The code was live and the client's: it is used up now.
    Redeemed(Grant),
    /// The code had been redeemed before: the grant, and every token issued from it, is revoked.
    Replayed(Grant),
    /// Unknown, expired, another client's, or of a revoked grant.
    Invalid,
}

/// What presenting a grant's refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRotation {
    /// The token was good: it is used up and the next one stored in its place.
    Rotated(Grant),
    /// The token had been used before: the grant (the whole family) is now revoked.
    Reused(Grant),
    /// Unknown, expired, another client's, or of a revoked grant.
    Invalid,
}

#[async_trait]
pub trait AuthorizationStore: Send + Sync {
    async fn create_oauth_client(&self, client: &OAuthClient) -> StoreResult<()>;
    async fn oauth_client(
        &self,
        tenant: TenantId,
        id: OAuthClientId,
    ) -> StoreResult<Option<OAuthClient>>;
    /// A client found by its id alone: at the authorization and token endpoints, where the
    /// tenant is not yet known.
    async fn oauth_client_by_id(&self, id: OAuthClientId) -> StoreResult<Option<OAuthClient>>;
    /// The tenant's clients, oldest first.
    async fn oauth_clients(&self, tenant: TenantId) -> StoreResult<Vec<OAuthClient>>;
    /// Deletes the client with its grants, tokens and consents; false when the tenant has no
    /// such client.
    async fn delete_oauth_client(&self, tenant: TenantId, id: OAuthClientId) -> StoreResult<bool>;
    /// Replaces a client's metadata (name, authentication, redirect URIs, scopes, grant types);
    /// false when the tenant has no such client.
    async fn update_oauth_client(&self, client: &OAuthClient) -> StoreResult<bool>;

    /// Records a grant whose code has just been issued.
    async fn create_grant(&self, grant: &Grant) -> StoreResult<()>;
    async fn grant(&self, id: GrantId) -> StoreResult<Option<Grant>>;
    /// Uses up the code hashed `code_hash` if `client` is the one it was issued to, in one
    /// transaction: of two concurrent redemptions one succeeds and the other is a replay.
    async fn redeem_code(
        &self,
        code_hash: &[u8; 32],
        client: OAuthClientId,
        at: OffsetDateTime,
    ) -> StoreResult<Redemption>;
    /// The grant a refresh token belongs to (whatever the token's state), to check a request
    /// against it before the token is used up.
    async fn grant_of_refresh_token(&self, hash: &[u8; 32]) -> StoreResult<Option<Grant>>;
    /// Revokes a grant: its refresh tokens and every access token issued from it stop working.
    /// False when it was revoked before (or does not exist).
    async fn revoke_grant(&self, id: GrantId, at: OffsetDateTime) -> StoreResult<bool>;
    /// Binds a grant not yet bound to the DPoP key thumbprinted `jkt`; a bound grant keeps its
    /// key.
    async fn bind_grant_dpop_key(&self, grant: GrantId, jkt: &str) -> StoreResult<()>;
    /// Stores the first refresh token of a live grant.
    async fn insert_grant_refresh_token(&self, token: &GrantRefreshToken) -> StoreResult<()>;
    /// Uses up the refresh token hashed `presented` (it must be `client`'s) and stores `next`
    /// in its place, in one transaction.
    async fn rotate_grant_refresh_token(
        &self,
        presented: &[u8; 32],
        client: OAuthClientId,
        next: &[u8; 32],
        next_expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> StoreResult<GrantRotation>;

    /// The scopes the person has consented to give the client for `resource` (None: Tessera's
    /// own API).
    async fn consent(
        &self,
        client: OAuthClientId,
        user: UserId,
        resource: Option<&str>,
    ) -> StoreResult<Option<Scopes>>;
    /// Records consent to `scope` for `resource` (added to what was consented before for it).
    async fn save_consent(
        &self,
        client: OAuthClientId,
        user: UserId,
        resource: Option<&str>,
        scope: &Scopes,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
}
