//! `/v1/me`: the signed-in person — who they are, their doors, tenants, wallets and sessions;
//! the tenants they create ([`tenants`]) and the API keys that act as them ([`api_keys`]).

mod api_keys;
mod tenants;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tessera_core::people::{Membership, Role, Session, Unlinked, Wallet};
use tessera_core::{IdentityId, SessionId, WalletId};
use tessera_proto::ErrorCode;
use tessera_proto::people as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::{ApiJson, path_id};
use crate::http::openapi::{BodyErrors, SessionErrors};
use crate::people::accounts::{identity_view, user_view};
use crate::people::signed_in::SignedIn;
use crate::state::AppState;

/// The most a message to sign may hold, in bytes.
const MAX_MESSAGE_BYTES: usize = 4096;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(unlink_identity))
        .routes(routes!(list_wallets))
        .routes(routes!(sign))
        .merge(tenants::router())
        .merge(api_keys::router())
}

/// The signed-in user, their sign-in doors, tenants and wallets.
#[utoipa::path(get, path = "/v1/me", tag = "me",
    responses((status = 200, body = wire::Me), (status = 401, body = tessera_proto::ErrorBody), SessionErrors),
    security(("session" = [])))]
async fn me(State(state): State<AppState>, me: SignedIn) -> Result<Json<wire::Me>, ApiError> {
    let user =
        state.store.user(me.user_id).await?.ok_or_else(|| {
            ApiError::new(ErrorCode::Unauthenticated, "the user no longer exists")
        })?;
    let identities = state.store.identities(me.user_id).await?;
    let memberships = state.store.memberships(me.user_id).await?;
    let mut views = Vec::with_capacity(memberships.len());
    for membership in &memberships {
        if let Some(tenant) = state.store.tenant(membership.tenant_id).await? {
            views.push(membership_view(membership, &tenant.name));
        }
    }
    let wallets = state.store.wallets(me.user_id).await?;
    Ok(Json(wire::Me {
        user: user_view(&user),
        identities: identities.iter().map(identity_view).collect(),
        memberships: views,
        wallets: wallets.iter().map(wallet_view).collect(),
    }))
}

/// The user's live sessions, newest first.
#[utoipa::path(get, path = "/v1/me/sessions", tag = "me",
    responses((status = 200, body = wire::SessionList), (status = 401, body = tessera_proto::ErrorBody), SessionErrors),
    security(("session" = [])))]
async fn list_sessions(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Json<wire::SessionList>, ApiError> {
    let sessions = state
        .store
        .live_sessions(me.user_id, state.clock.now())
        .await?;
    Ok(Json(wire::SessionList {
        sessions: sessions
            .iter()
            .map(|s| session_view(s, s.id == me.session_id))
            .collect(),
    }))
}

/// End one of the user's sessions (another device, or this one).
#[utoipa::path(delete, path = "/v1/me/sessions/{session_id}", tag = "me",
    params(("session_id" = String, Path)),
    responses((status = 204), (status = 401, body = tessera_proto::ErrorBody), (status = 404, body = tessera_proto::ErrorBody), SessionErrors),
    security(("session" = [])))]
async fn revoke_session(
    State(state): State<AppState>,
    ctx: RequestContext,
    me: SignedIn,
    Path(session_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: SessionId = path_id(&session_id)?;
    if state.end_session(&ctx, me.user_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("session"))
    }
}

/// Remove a sign-in door. The last one cannot go: the user would be locked out.
#[utoipa::path(delete, path = "/v1/me/identities/{identity_id}", tag = "me",
    params(("identity_id" = String, Path)),
    responses((status = 204), (status = 404, body = tessera_proto::ErrorBody), (status = 409, body = tessera_proto::ErrorBody), SessionErrors),
    security(("session" = [])))]
async fn unlink_identity(
    State(state): State<AppState>,
    ctx: RequestContext,
    me: SignedIn,
    Path(identity_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: IdentityId = path_id(&identity_id)?;
    match state.store.unlink_identity(me.user_id, id).await? {
        Unlinked::Removed => {
            let fact = Fact::success(None, me.actor(), "identity.unlink", id);
            state.audit(&ctx, fact).await;
            Ok(StatusCode::NO_CONTENT)
        }
        Unlinked::LastIdentity => {
            let fact = Fact::failure(None, me.actor(), "identity.unlink", id, "last_identity");
            state.audit(&ctx, fact).await;
            Err(ApiError::new(
                ErrorCode::LastIdentity,
                "this is your only way to sign in; add another before removing it",
            ))
        }
        Unlinked::NotFound => Err(ApiError::not_found("identity")),
    }
}

/// The user's custodial wallets (addresses only).
#[utoipa::path(get, path = "/v1/me/wallets", tag = "me",
    responses((status = 200, body = wire::WalletList), (status = 401, body = tessera_proto::ErrorBody), SessionErrors),
    security(("session" = [])))]
async fn list_wallets(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Json<wire::WalletList>, ApiError> {
    let wallets = state.store.wallets(me.user_id).await?;
    Ok(Json(wire::WalletList {
        wallets: wallets.iter().map(wallet_view).collect(),
    }))
}

/// Sign a message with the user's custodial wallet (EIP-191 `personal_sign` on Ethereum).
/// Audited and rate-limited per user.
#[utoipa::path(post, path = "/v1/me/wallets/{wallet_id}/sign", tag = "me",
    params(("wallet_id" = String, Path)),
    request_body = wire::SignRequest,
    responses((status = 200, body = wire::Signature), (status = 404, body = tessera_proto::ErrorBody), (status = 429, body = tessera_proto::ErrorBody), BodyErrors, SessionErrors),
    security(("session" = [])))]
async fn sign(
    State(state): State<AppState>,
    ctx: RequestContext,
    me: SignedIn,
    Path(wallet_id): Path<String>,
    ApiJson(body): ApiJson<wire::SignRequest>,
) -> Result<Response, ApiError> {
    let id: WalletId = path_id(&wallet_id)?;
    if body.message.is_empty() || body.message.len() > MAX_MESSAGE_BYTES {
        return Err(ApiError::invalid(format!(
            "message: must be 1 to {MAX_MESSAGE_BYTES} bytes"
        )));
    }
    let wallet = state
        .store
        .wallets(me.user_id)
        .await?
        .into_iter()
        .find(|w| w.id == id)
        .ok_or_else(|| ApiError::not_found("wallet"))?;
    if let Err(wait) = crate::limits::count(&state.people.signatures, &me.user_id) {
        let fact = Fact::failure(None, me.actor(), "wallet.sign", id, "rate_limited");
        state.audit(&ctx, fact).await;
        return Err(ApiError::rate_limited(wait));
    }
    let signature = state.sign_with_wallet(&wallet, body.message.as_bytes())?;
    let fact = Fact::success(None, me.actor(), "wallet.sign", id);
    state.audit(&ctx, fact).await;
    Ok(Json(wire::Signature {
        wallet_id: wallet.id.to_string(),
        chain: wallet.chain.as_str().to_owned(),
        address: wallet.address,
        signature,
    })
    .into_response())
}

pub fn wallet_view(wallet: &Wallet) -> wire::Wallet {
    wire::Wallet {
        id: wallet.id.to_string(),
        chain: wallet.chain.as_str().to_owned(),
        address: wallet.address.clone(),
        created_at: wallet.created_at,
    }
}

pub fn membership_view(membership: &Membership, tenant_name: &str) -> wire::Membership {
    wire::Membership {
        tenant_id: membership.tenant_id.to_string(),
        tenant_name: tenant_name.to_owned(),
        role: role_view(membership.role),
        created_at: membership.created_at,
    }
}

pub fn role_view(role: Role) -> wire::Role {
    match role {
        Role::Owner => wire::Role::Owner,
        Role::Admin => wire::Role::Admin,
        Role::Member => wire::Role::Member,
        Role::Viewer => wire::Role::Viewer,
    }
}

fn session_view(session: &Session, current: bool) -> wire::Session {
    wire::Session {
        id: session.id.to_string(),
        method: session.method.clone(),
        client_ip: session.client_ip.clone(),
        user_agent: session.user_agent.clone(),
        created_at: session.created_at,
        refreshed_at: session.refreshed_at,
        expires_at: session.expires_at,
        current,
    }
}
