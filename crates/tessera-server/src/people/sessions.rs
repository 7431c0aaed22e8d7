//! Session issuance, the one place every door ends: a session row, a refresh token (SHA-256
//! stored, rotated on use, reuse revokes the session), and a short-lived access JWT naming the
//! user and the tenants they belong to. Validation checks the session row on every use, so a
//! sign-out or a revoked session takes effect at once on every instance.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::people::{RefreshToken, Rotation, Session, User};
use tessera_core::{SessionId, StoreError, UserId};
use tessera_crypto::{
    Expectation, GeneratedSecret, SESSION_TOKEN_TYP, SecretKind, SessionClaims, TokenError, sha256,
};
use tessera_proto::ErrorCode;
use tessera_proto::people as wire;
use time::Duration;

use super::accounts::user_view;
use super::cookies;
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::state::AppState;

/// A session just issued or refreshed: the JSON body and the cookies.
#[derive(Debug)]
pub struct Issued {
    status: StatusCode,
    grant: wire::SessionGrant,
    refresh_ttl: i64,
    secure: bool,
}

impl Issued {
    /// The grant, for responses that are not the grant itself (a redirect after a callback).
    pub fn into_cookies(self, headers: &mut HeaderMap) {
        cookies::set(
            headers,
            &self.grant.access_token,
            self.grant.expires_in,
            &self.grant.refresh_token,
            self.refresh_ttl,
            self.secure,
        );
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl IntoResponse for Issued {
    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        // Tokens in the body: never cached by anything in between.
        headers.insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
        let status = self.status;
        let grant = self.grant.clone();
        self.into_cookies(&mut headers);
        (status, headers, Json(grant)).into_response()
    }
}

/// Why a session token is not good.
#[derive(Debug, thiserror::Error)]
pub enum SessionInvalid {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the session has ended (signed out, revoked or expired)")]
    Ended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppState {
    /// Starts a session for `user`, signed in by `method`.
    pub async fn start_session(
        &self,
        ctx: &RequestContext,
        headers: &HeaderMap,
        user: &User,
        method: &str,
        created: bool,
    ) -> Result<Issued, ApiError> {
        let now = self.clock.now();
        let refresh = GeneratedSecret::new(SecretKind::RefreshToken);
        let expires_at = now + self.refresh_ttl();
        let session = Session {
            id: SessionId::generate(),
            user_id: user.id,
            method: method.to_owned(),
            client_ip: Some(ctx.client_ip.to_string()),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(200).collect()),
            created_at: now,
            refreshed_at: now,
            expires_at,
            revoked_at: None,
        };
        let first = RefreshToken {
            hash: refresh.hash,
            session_id: session.id,
            expires_at,
        };
        self.store.create_session(&session, &first).await?;
        let fact = Fact::success(None, actor(user.id), "session.create", session.id);
        self.audit(ctx, fact).await;
        self.issued(user, session.id, refresh, created).await
    }

    /// Exchanges a refresh token for a new pair. A token used before revokes its session.
    pub async fn refresh_session(
        &self,
        ctx: &RequestContext,
        presented: &str,
    ) -> Result<Issued, ApiError> {
        let invalid =
            || ApiError::new(ErrorCode::Unauthenticated, "the refresh token is not valid");
        if SecretKind::of(presented) != Some(SecretKind::RefreshToken) {
            return Err(invalid());
        }
        let now = self.clock.now();
        let next = GeneratedSecret::new(SecretKind::RefreshToken);
        let rotation = self
            .store
            .rotate_refresh_token(
                &sha256(presented.as_bytes()),
                &next.hash,
                now + self.refresh_ttl(),
                now,
            )
            .await?;
        let session = match rotation {
            Rotation::Rotated(session) => session,
            Rotation::Reused(session) => {
                let fact = Fact::failure(
                    None,
                    actor(session.user_id),
                    "session.refresh",
                    session.id,
                    "refresh_token_reused",
                );
                self.audit(ctx, fact).await;
                return Err(ApiError::new(
                    ErrorCode::RefreshTokenReused,
                    "this refresh token was used before; its session is now revoked",
                ));
            }
            Rotation::Invalid => return Err(invalid()),
        };
        let user = self
            .store
            .user(session.user_id)
            .await?
            .ok_or_else(invalid)?;
        self.issued(&user, session.id, next, false).await
    }

    /// Ends one session (sign-out); false when it had already ended.
    pub async fn end_session(
        &self,
        ctx: &RequestContext,
        user: UserId,
        session: SessionId,
    ) -> Result<bool, ApiError> {
        let ended = self
            .store
            .revoke_session(user, session, self.clock.now())
            .await?;
        if ended {
            let fact = Fact::success(None, actor(user), "session.revoke", session);
            self.audit(ctx, fact).await;
        }
        Ok(ended)
    }

    /// The claims of a session token whose session is still live.
    pub async fn validate_session_token(
        &self,
        token: &str,
    ) -> Result<SessionClaims, SessionInvalid> {
        let expect = Expectation {
            typ: SESSION_TOKEN_TYP,
            issuer: &self.issuer,
            audience: &self.audience,
            now: self.clock.now().unix_timestamp(),
        };
        let claims: SessionClaims = match self.keys.ring().verify(token, &expect) {
            Err(TokenError::UnknownKey) => {
                self.keys.refresh_for_unknown_kid().await;
                self.keys.ring().verify(token, &expect)?
            }
            other => other?,
        };
        let id: SessionId = claims.sid.parse().map_err(|_| TokenError::Malformed)?;
        match self.store.session(id).await? {
            Some(session)
                if session.is_live(self.clock.now())
                    && session.user_id.to_string() == claims.sub =>
            {
                Ok(claims)
            }
            _ => Err(SessionInvalid::Ended),
        }
    }

    fn refresh_ttl(&self) -> Duration {
        Duration::days(i64::from(self.config.refresh_token_ttl_days))
    }

    async fn issued(
        &self,
        user: &User,
        session: SessionId,
        refresh: GeneratedSecret,
        created: bool,
    ) -> Result<Issued, ApiError> {
        let now = self.clock.now().unix_timestamp();
        let ttl = self.config.session_ttl_secs;
        let entity_ids = self
            .store
            .memberships(user.id)
            .await?
            .into_iter()
            .map(|m| m.tenant_id.to_string())
            .collect();
        let claims = SessionClaims {
            iss: self.issuer.clone(),
            sub: user.id.to_string(),
            aud: self.audience.clone(),
            exp: now + ttl,
            iat: now,
            jti: uuid::Uuid::now_v7().simple().to_string(),
            sid: session.to_string(),
            entity_ids,
        };
        let access_token = self
            .keys
            .ring()
            .sign(SESSION_TOKEN_TYP, &claims)
            .map_err(ApiError::internal)?;
        Ok(Issued {
            status: StatusCode::OK,
            grant: wire::SessionGrant {
                access_token,
                token_type: "Bearer".to_owned(),
                expires_in: ttl,
                refresh_token: refresh.secret.expose().to_owned(),
                user: user_view(user),
                created,
            },
            refresh_ttl: self.refresh_ttl().whole_seconds(),
            secure: cookies::secure_for(&self.issuer),
        })
    }
}

/// The actor of audit events about a person.
pub fn actor(user: UserId) -> String {
    format!("user:{user}")
}
