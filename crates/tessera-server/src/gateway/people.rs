//! People calling through the gateway, by session (bearer JWT or the browser's cookie) or by
//! one of their API keys. A person is not bound to one tenant: the request names the entity
//! (`X-Entity` / `entity=`, a tenant id or an agent id with a placement), or the person belongs
//! to exactly one tenant. Membership is read on every request, so a removed member is refused at
//! once (a token an application holds for a person is checked the same way); the role decides
//! the scopes the runtime sees (viewers: `read`).

use tessera_core::people::Role;
use tessera_core::tenant::TenantStatus;
use tessera_core::{Scopes, TenantId, UserId};
use tessera_proto::ErrorCode;

use super::authenticate::{Authentication, GatewayCaller};
use super::placements::Lookup;
use crate::auth::Principal;
use crate::state::AppState;

/// The gateway caller for `user` (whose key or session carries `scopes`) reaching `entity`.
pub async fn caller(
    state: &AppState,
    user: UserId,
    scopes: &Scopes,
    entity: Option<&str>,
) -> Result<GatewayCaller, Authentication> {
    let unavailable = |_| Authentication::Unavailable;
    let tenant: TenantId = match entity {
        Some(raw) => match state.gateway.placements.find(state, raw).await {
            Ok(Lookup::Found(placement)) => placement.entity_id,
            Ok(Lookup::Unknown) => match raw.parse() {
                // A tenant without a runtime may still be reached on a configured route.
                Ok(tenant) => tenant,
                Err(_) => {
                    let message = format!("no entity {raw:?} has a placement");
                    return Err(refused(ErrorCode::UnknownEntity, &message));
                }
            },
            Ok(Lookup::Malformed) => {
                let message = "`X-Entity` must be an entity id (`ten_…`) or an agent id (`agt_…`)";
                return Err(refused(ErrorCode::InvalidId, message));
            }
            Err(error) => return Err(unavailable(error)),
        },
        None => {
            let memberships = state.store.memberships(user).await.map_err(unavailable)?;
            match memberships.as_slice() {
                [only] => only.tenant_id,
                _ => {
                    let message = "a person belonging to several tenants (or none) names the \
                                   entity with `X-Entity` or `entity=`";
                    return Err(refused(ErrorCode::TenantMismatch, message));
                }
            }
        }
    };
    let role = membership(state, tenant, user).await?;
    let principal = Principal::User {
        user_id: user,
        key_id: None,
        scopes: scopes.clone(),
        membership: Some((tenant, role)),
    };
    Ok(GatewayCaller {
        tenant_id: Some(tenant),
        agent_id: None,
        user_id: Some(user),
        scopes: principal.grantable(),
        token_audience: None,
    })
}

/// The person's role in `tenant`, which must be active, or why they may not pass. Read on every
/// request, never cached: a removed member is refused at once.
pub async fn membership(
    state: &AppState,
    tenant: TenantId,
    user: UserId,
) -> Result<Role, Authentication> {
    let unavailable = |_| Authentication::Unavailable;
    let Some(member) = state
        .store
        .membership(tenant, user)
        .await
        .map_err(unavailable)?
    else {
        let message = "the signed-in person is not a member of this entity";
        return Err(refused(ErrorCode::TenantMismatch, message));
    };
    if state.tenant_status(tenant).await.map_err(unavailable)? != Some(TenantStatus::Active) {
        return Err(refused(
            ErrorCode::TenantSuspended,
            "the tenant is suspended",
        ));
    }
    Ok(member.role)
}

/// A refusal about the person (membership, tenant), not about a token's proof: no DPoP challenge.
fn refused(code: ErrorCode, message: &str) -> Authentication {
    Authentication::Refused {
        code,
        message: message.to_owned(),
        dpop: None,
    }
}
