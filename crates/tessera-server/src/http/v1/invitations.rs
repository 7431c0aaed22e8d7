//! Invitations into a tenant. Owners and admins invite an email address with a role (only
//! owners invite owners); the address gets a single-use `tml_` token valid 7 days, kept as a
//! hashed challenge (kind `invitation`, subject = the tenant). Either the emailed link, which
//! proves the address like the email door's link and signs in as that address's user, or an
//! API call whose session's user holds the invited address as a proven `email` door: a
//! forwarded or leaked invitation never makes anyone but the address's holder a member.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tessera_core::people::{Challenge, ChallengeKind, IdentityKind, Membership, Role};
use tessera_core::{StoreError, TenantId, UserId, validate};
use tessera_crypto::{GeneratedSecret, SecretKind, sha256};
use tessera_proto::ErrorCode;
use tessera_proto::people as wire;
use time::Duration;
use url::Url;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::Fact;
use crate::auth::extract::{MembersWrite, TenantAccess};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::{ApiJson, ApiQuery};
use crate::http::openapi::{BodyErrors, KeyErrors, SessionErrors};
use crate::http::v1::me::{membership_view, role_view};
use crate::http::v1::members::is_owner;
use crate::mail::OutgoingEmail;
use crate::people::accounts::Door;
use crate::people::redirect::{failed_to, signed_in_to};
use crate::people::sessions::actor;
use crate::people::signed_in::SignedIn;
use crate::state::AppState;

/// How long an invitation can be accepted.
const TTL: Duration = Duration::days(7);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invite, list_invitations))
        .routes(routes!(revoke_invitation))
        .routes(routes!(accept, accept_link))
}

/// What an invitation's challenge keeps.
#[derive(Serialize, Deserialize)]
struct Invited {
    id: String,
    email: String,
    /// The role's stored form (`member`…).
    role: String,
}

impl Invited {
    fn role(&self) -> Result<Role, ApiError> {
        Role::parse(&self.role).ok_or_else(|| ApiError::internal("an invitation names no role"))
    }
}

/// Invite an email address into the tenant with a role; the address receives a single-use
/// token valid 7 days. Inviting an owner takes an owner.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/invitations", tag = "tenants",
    params(("tenant_id" = String, Path)),
    request_body = wire::CreateInvitationRequest,
    responses((status = 201, body = wire::Invitation),
        (status = 503, description = "The email could not be sent; try again later.", body = tessera_proto::ErrorBody),
        KeyErrors, BodyErrors),
    security(("api_key" = []), ("session" = [])))]
async fn invite(
    State(state): State<AppState>,
    ctx: RequestContext,
    access: TenantAccess<MembersWrite>,
    ApiJson(body): ApiJson<wire::CreateInvitationRequest>,
) -> Result<(StatusCode, Json<wire::Invitation>), ApiError> {
    let email = validate::email(&body.email)?;
    let role = role_of(body.role);
    if role == Role::Owner && !is_owner(&access.principal) {
        return Err(ApiError::new(
            ErrorCode::InsufficientScope,
            "only an owner invites an owner",
        ));
    }
    let tenant = state
        .store
        .tenant(access.tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let token = GeneratedSecret::new(SecretKind::EmailLink);
    let now = state.clock.now();
    let invited = Invited {
        id: format!("inv_{}", uuid::Uuid::now_v7().simple()),
        email: email.clone(),
        role: role.as_str().to_owned(),
    };
    let challenge = Challenge {
        key: token.hash,
        kind: ChallengeKind::Invitation,
        subject: access.tenant_id.to_string(),
        payload: serde_json::to_string(&invited).map_err(ApiError::internal)?,
        failures: 0,
        expires_at: now + TTL,
        created_at: now,
    };
    state.store.insert_challenge(&challenge).await?;
    let text = format!(
        "You are invited to join {} on Tessera as {}.\n\n\
         To accept, open this link (it signs you in with this address):\n\
         {}/v1/invitations/accept?token={}\n\n\
         Or, signed in with this address, accept from an application with\n\
         POST {}/v1/invitations/accept {{\"token\": \"{}\"}}\n\n\
         The invitation works once, for {} days.\n",
        tenant.name,
        role.as_str(),
        state.issuer,
        token.secret.expose(),
        state.issuer,
        token.secret.expose(),
        TTL.whole_days()
    );
    let message = OutgoingEmail {
        to: email,
        subject: format!("Join {} on Tessera", tenant.name),
        text,
    };
    if let Err(error) = state.send_email(message).await {
        tracing::error!(request_id = ?ctx.request_id, %error, "sending an invitation failed");
        state
            .store
            .take_challenge(ChallengeKind::Invitation, &token.hash, now)
            .await?;
        return Err(ApiError::new(
            ErrorCode::Unavailable,
            "the invitation could not be sent; try again later",
        ));
    }
    state
        .audit(&ctx, access.fact("invitation.create", &invited.id))
        .await;
    Ok((StatusCode::CREATED, Json(view(&challenge, invited)?)))
}

/// The tenant's pending invitations, oldest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/invitations", tag = "tenants",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = wire::InvitationList), KeyErrors),
    security(("api_key" = []), ("session" = [])))]
async fn list_invitations(
    State(state): State<AppState>,
    access: TenantAccess<MembersWrite>,
) -> Result<Json<wire::InvitationList>, ApiError> {
    let pending = pending(&state, access.tenant_id).await?;
    Ok(Json(wire::InvitationList {
        invitations: pending
            .into_iter()
            .map(|(challenge, invited)| view(&challenge, invited))
            .collect::<Result<_, _>>()?,
    }))
}

/// Revoke a pending invitation: its token stops working at once.
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/invitations/{invitation_id}", tag = "tenants",
    params(("tenant_id" = String, Path), ("invitation_id" = String, Path)),
    responses((status = 204), KeyErrors),
    security(("api_key" = []), ("session" = [])))]
async fn revoke_invitation(
    State(state): State<AppState>,
    ctx: RequestContext,
    access: TenantAccess<MembersWrite>,
    Path(ids): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let invitation_id = ids.1;
    let found = pending(&state, access.tenant_id)
        .await?
        .into_iter()
        .find(|(_, invited)| invited.id == invitation_id)
        .ok_or_else(|| ApiError::not_found("invitation"))?;
    state
        .store
        .take_challenge(ChallengeKind::Invitation, &found.0.key, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::not_found("invitation"))?;
    state
        .audit(&ctx, access.fact("invitation.revoke", &invitation_id))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Accept an invitation: the signed-in user, who must hold the invited address as an `email`
/// door (sign in or add it through `/v1/auth/email`), becomes a member with the invited role.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "tenants",
    request_body = wire::AcceptInvitationRequest,
    responses((status = 201, body = wire::Membership),
        (status = 403, description = "The invited address is not one of the user's proven email addresses.", body = tessera_proto::ErrorBody),
        BodyErrors, SessionErrors),
    security(("session" = [])))]
async fn accept(
    State(state): State<AppState>,
    ctx: RequestContext,
    me: SignedIn,
    ApiJson(body): ApiJson<wire::AcceptInvitationRequest>,
) -> Result<(StatusCode, Json<wire::Membership>), ApiError> {
    let (challenge, tenant_id, invited) = take(&state, &body.token).await?;
    let holds_address = state
        .store
        .identity(&IdentityKind::Email, &invited.email)
        .await?
        .is_some_and(|identity| identity.user_id == me.user_id);
    if !holds_address {
        // Not theirs to use: put it back for the invited person.
        state.store.insert_challenge(&challenge).await?;
        let fact = Fact::failure(
            Some(tenant_id),
            me.actor(),
            "invitation.accept",
            &invited.id,
            "email_not_proven",
        );
        state.audit(&ctx, fact).await;
        return Err(ApiError::new(
            ErrorCode::InsufficientScope,
            "the invitation is for another email address: sign in with it (or add it) first",
        ));
    }
    let (membership, tenant_name) = join(&state, &ctx, tenant_id, &invited, me.user_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(membership_view(&membership, &tenant_name)),
    ))
}

/// The invitation email's link, for browsers. It was mailed to the invited address, so, like
/// the email door's link, it proves that address: it signs in as the address's user (created
/// on first use, the address its `email` door), makes them a member with the invited role
/// (someone already a member just signs in), sets the session cookies and lands on
/// `/console`. A link that fails goes to `/console/login?error=<code>`.
#[utoipa::path(get, path = "/v1/invitations/accept", tag = "tenants",
    params(wire::InvitationLinkQuery),
    responses((status = 302, description = "Signed in and a member (cookies set): to `/console`; or failed: to `/console/login?error=<code>`."),
        (status = 400, description = "The link has no `token`.", body = tessera_proto::ErrorBody)))]
async fn accept_link(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<wire::InvitationLinkQuery>,
) -> Response {
    let to = |path: &str| Url::parse(&format!("{}{path}", state.issuer)).ok();
    let joined = async {
        let (_, tenant_id, invited) = take(&state, &query.token).await?;
        let door = Door {
            email: Some(invited.email.clone()),
            ..Door::new(IdentityKind::Email, invited.email.clone())
        };
        let entered = state.enter(&ctx, door, None).await?;
        match join(&state, &ctx, tenant_id, &invited, entered.user.id).await {
            Err(error) if error.code() != ErrorCode::Conflict => return Err(error),
            _ => {}
        }
        state
            .start_session(&ctx, &headers, &entered.user, "email", entered.created)
            .await
    }
    .await;
    match joined {
        Ok(issued) => signed_in_to(issued, to("/console")),
        Err(error) => {
            let reason = error.code().code();
            let fact = Fact::failure(
                None,
                "anonymous".to_owned(),
                "invitation.accept",
                "",
                reason,
            );
            state.audit(&ctx, fact).await;
            failed_to(error, reason, to("/console/login"))
        }
    }
}

/// Uses up the invitation `token` names: its challenge (to put back if it is not the caller's
/// to use), its tenant, and what it invites.
async fn take(state: &AppState, token: &str) -> Result<(Challenge, TenantId, Invited), ApiError> {
    let unknown = || ApiError::not_found("invitation (unknown, used, revoked or expired)");
    if SecretKind::of(token) != Some(SecretKind::EmailLink) {
        return Err(unknown());
    }
    let key = sha256(token.as_bytes());
    let challenge = state
        .store
        .take_challenge(ChallengeKind::Invitation, &key, state.clock.now())
        .await?
        .ok_or_else(unknown)?;
    let invited: Invited = serde_json::from_str(&challenge.payload).map_err(ApiError::internal)?;
    let tenant_id: TenantId = challenge
        .subject
        .parse()
        .map_err(|_| ApiError::internal("an invitation names a malformed tenant"))?;
    Ok((challenge, tenant_id, invited))
}

/// Makes `user` a member of `tenant_id` with the invited role (audited); 409 when they already
/// are one. Returns the membership and the tenant's name.
async fn join(
    state: &AppState,
    ctx: &RequestContext,
    tenant_id: TenantId,
    invited: &Invited,
    user: UserId,
) -> Result<(Membership, String), ApiError> {
    let membership = Membership {
        tenant_id,
        user_id: user,
        role: invited.role()?,
        created_at: state.clock.now(),
    };
    match state.store.insert_membership(&membership).await {
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "you are already a member of this tenant",
            ));
        }
        other => other?,
    }
    let tenant = state
        .store
        .tenant(tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let fact = Fact::success(
        Some(tenant_id),
        actor(user),
        "invitation.accept",
        &invited.id,
    );
    state.audit(ctx, fact).await;
    Ok((membership, tenant.name))
}

async fn pending(
    state: &AppState,
    tenant: TenantId,
) -> Result<Vec<(Challenge, Invited)>, ApiError> {
    let challenges = state
        .store
        .live_challenges(
            ChallengeKind::Invitation,
            &tenant.to_string(),
            state.clock.now(),
        )
        .await?;
    challenges
        .into_iter()
        .map(|challenge| {
            let invited = serde_json::from_str(&challenge.payload).map_err(ApiError::internal)?;
            Ok((challenge, invited))
        })
        .collect()
}

fn view(challenge: &Challenge, invited: Invited) -> Result<wire::Invitation, ApiError> {
    Ok(wire::Invitation {
        role: role_view(invited.role()?),
        id: invited.id,
        email: invited.email,
        expires_at: challenge.expires_at,
        created_at: challenge.created_at,
    })
}

fn role_of(role: wire::Role) -> Role {
    match role {
        wire::Role::Owner => Role::Owner,
        wire::Role::Admin => Role::Admin,
        wire::Role::Member => Role::Member,
        wire::Role::Viewer => Role::Viewer,
    }
}
