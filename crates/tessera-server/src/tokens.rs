//! Access tokens: issuing them (RFC 9068 profile) and deciding whether one is still good —
//! signature, type, issuer, audience, expiry, then revocation, the tenant's and the agent's status
//! (or, for a token an application holds for a person, its grant's: see `grants`; for a token
//! from a token exchange, its chain's and its delegation grant's: see `delegation`).

use tessera_core::agent::{Agent, AgentStatus};
use tessera_core::tenant::TenantStatus;
use tessera_core::{AgentId, Scopes, StoreError, TenantId};
use tessera_crypto::{
    ACCESS_TOKEN_TYP, AccessTokenClaims, Confirmation, Expectation, KeyRingError, TokenError,
};

use crate::resources::claimed_audience;
use crate::state::AppState;

/// Why a token is not active.
#[derive(Debug, thiserror::Error)]
pub enum Inactive {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the token has been revoked")]
    Revoked,
    #[error("the token's tenant or agent is no longer active")]
    PrincipalInactive,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Inactive {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Token(TokenError::Malformed) => "malformed",
            Self::Token(TokenError::UnknownKey) => "unknown_key",
            Self::Token(TokenError::BadSignature) => "bad_signature",
            Self::Token(TokenError::WrongType) => "wrong_type",
            Self::Token(TokenError::WrongIssuer) => "wrong_issuer",
            Self::Token(TokenError::WrongAudience) => "wrong_audience",
            Self::Token(TokenError::Expired) => "expired",
            Self::Token(TokenError::NotYetValid) => "not_yet_valid",
            Self::Revoked => "revoked",
            Self::PrincipalInactive => "principal_inactive",
            Self::Store(_) => "store_unavailable",
        }
    }
}

impl AppState {
    /// Signs an access token for `agent` carrying `scopes`, for `audience` (a resource, RFC
    /// 8707) or else the default audience, bound to a client's key when `cnf` is given (DPoP).
    pub fn issue_access_token(
        &self,
        agent: &Agent,
        scopes: &Scopes,
        audience: Option<&str>,
        cnf: Option<Confirmation>,
    ) -> Result<(String, AccessTokenClaims), KeyRingError> {
        let now = self.clock.now().unix_timestamp();
        let claims = AccessTokenClaims {
            iss: self.issuer.clone(),
            sub: agent.id.to_string(),
            aud: audience.unwrap_or(&self.audience).to_owned(),
            exp: now + self.config.access_token_ttl_secs,
            iat: now,
            jti: uuid::Uuid::now_v7().simple().to_string(),
            client_id: agent.id.to_string(),
            scope: scopes.to_string(),
            tenant_id: agent.tenant_id.to_string(),
            gid: None,
            cnf,
            act: None,
            dgid: None,
        };
        let token = self.keys.ring().sign(ACCESS_TOKEN_TYP, &claims)?;
        Ok((token, claims))
    }

    /// The claims of an access token for Tessera's own API that is active right now.
    pub async fn validate_access_token(&self, token: &str) -> Result<AccessTokenClaims, Inactive> {
        let claims = self.verify_signed_token(token).await?;
        self.check_active(claims).await
    }

    /// The claims of an access token for any resource Tessera issues tokens for (RFC 8707)
    /// that is active right now: for the gateway and introspection, which then look at `aud`.
    pub async fn validate_any_access_token(
        &self,
        token: &str,
    ) -> Result<AccessTokenClaims, Inactive> {
        let claims = self.verify_any_signed_token(token).await?;
        self.check_active(claims).await
    }

    async fn check_active(&self, claims: AccessTokenClaims) -> Result<AccessTokenClaims, Inactive> {
        if self.revocations.is_revoked(&claims.jti).await? {
            return Err(Inactive::Revoked);
        }
        if claims.act.is_some() || claims.dgid.is_some() {
            self.check_delegated_token(&claims).await?;
            return Ok(claims);
        }
        if let Some(gid) = &claims.gid {
            let Ok(tenant) = claims.tenant_id.parse::<TenantId>() else {
                return Err(Inactive::PrincipalInactive);
            };
            self.check_grant_token(&claims, gid, tenant).await?;
            return Ok(claims);
        }
        let (Ok(tenant), Ok(agent)) = (
            claims.tenant_id.parse::<TenantId>(),
            claims.sub.parse::<AgentId>(),
        ) else {
            return Err(Inactive::PrincipalInactive);
        };
        if self.tenant_status(tenant).await? != Some(TenantStatus::Active)
            || self.agent_status(agent).await? != Some((tenant, AgentStatus::Active))
        {
            return Err(Inactive::PrincipalInactive);
        }
        Ok(claims)
    }

    /// Signature and registered claims only (revocation aside): what revocation needs to know
    /// that the token is one of ours.
    pub async fn verify_signed_token(&self, token: &str) -> Result<AccessTokenClaims, TokenError> {
        self.verify_signed_token_for(token, &self.audience).await
    }

    /// As [`Self::verify_signed_token`], for whichever known resource the token is for.
    pub async fn verify_any_signed_token(
        &self,
        token: &str,
    ) -> Result<AccessTokenClaims, TokenError> {
        match claimed_audience(token) {
            Some(aud) if aud != self.audience && self.is_known_audience(&aud) => {
                self.verify_signed_token_for(token, &aud).await
            }
            _ => self.verify_signed_token(token).await,
        }
    }

    async fn verify_signed_token_for(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<AccessTokenClaims, TokenError> {
        let expect = Expectation {
            typ: ACCESS_TOKEN_TYP,
            issuer: &self.issuer,
            audience,
            now: self.clock.now().unix_timestamp(),
        };
        match self.keys.ring().verify(token, &expect) {
            Err(TokenError::UnknownKey) => {
                self.keys.refresh_for_unknown_kid().await;
                self.keys.ring().verify(token, &expect)
            }
            other => other,
        }
    }
}
