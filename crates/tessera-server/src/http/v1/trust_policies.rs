//! `/v1/tenants/{tenant_id}/trust-policies`: which outside workload tokens (GitHub Actions, a
//! cloud's or a partner's OpenID issuer) may act as which agent of the tenant (create, list,
//! delete). The exchange itself is the `jwt-bearer` grant of `/oauth2/token`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_core::trust::{
    MAX_CLAIM_NAME, MAX_CONDITIONS, MAX_PATTERN, TrustPolicy, is_wildcard_only,
};
use tessera_core::{AgentId, Scopes, TrustPolicyId, validate};
use tessera_proto::workload as wire;
use tessera_proto::{ErrorBody, ErrorCode};
use url::Url;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::extract::{AgentsWrite, Read, TenantAccess};
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::{ApiJson, path_id};
use crate::http::openapi::{BodyErrors, KeyErrors};
use crate::people::oauth::check_outbound;
use crate::state::AppState;

/// The most trust policies one tenant may have.
const MAX_POLICIES: u32 = 100;
/// Claims the policy's own fields or the token's checks already cover.
const RESERVED_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_policy, list_policies))
        .routes(routes!(delete_policy))
}

fn view(policy: &TrustPolicy) -> wire::TrustPolicy {
    wire::TrustPolicy {
        id: policy.id.to_string(),
        tenant_id: policy.tenant_id.to_string(),
        issuer: policy.issuer.clone(),
        audience: policy.audience.clone(),
        conditions: policy.conditions.clone(),
        agent_id: policy.agent_id.to_string(),
        scopes: policy.scopes.iter().map(str::to_owned).collect(),
        created_at: policy.created_at,
    }
}

/// The issuer as given (tokens must name it byte for byte), if it is an https URL (http only
/// where private issuers are allowed: tests, on-premises) that is not Tessera itself.
fn issuer(state: &AppState, raw: &str) -> Result<String, ApiError> {
    let invalid = |why: &str| ApiError::invalid(format!("issuer: {why}"));
    if raw.len() > 512 {
        return Err(invalid("must be at most 512 characters"));
    }
    let url = Url::parse(raw).map_err(|_| invalid("must be an absolute URL"))?;
    let allow_private = state.config.oauth_allow_private_issuers;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(invalid("must be an https URL")),
    }
    if url.host().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must have a host and no query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not hold credentials"));
    }
    // Tessera's own tokens are exchanged with token exchange, not by trusting itself.
    if raw.trim_end_matches('/') == state.issuer.trim_end_matches('/') {
        return Err(invalid("is Tessera itself"));
    }
    check_outbound(&url, allow_private).map_err(|why| invalid(&why))?;
    Ok(raw.to_owned())
}

fn conditions(raw: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, ApiError> {
    let invalid = |why: String| ApiError::invalid(format!("conditions: {why}"));
    if raw.is_empty() || raw.len() > MAX_CONDITIONS {
        return Err(invalid(format!("between 1 and {MAX_CONDITIONS} claims")));
    }
    for (claim, pattern) in &raw {
        let name_ok = (1..=MAX_CLAIM_NAME).contains(&claim.len())
            && claim
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
        if !name_ok {
            return Err(invalid(format!(
                "claim names are 1 to {MAX_CLAIM_NAME} of A-Z, a-z, 0-9, `_`, `-`, `.`, `:`"
            )));
        }
        if RESERVED_CLAIMS.contains(&claim.as_str()) {
            return Err(invalid(format!(
                "`{claim}` is checked by the policy itself (issuer, audience, lifetime)"
            )));
        }
        if pattern.is_empty()
            || pattern.len() > MAX_PATTERN
            || pattern.chars().any(char::is_control)
        {
            return Err(invalid(format!(
                "`{claim}`: a pattern is 1 to {MAX_PATTERN} characters, no control characters"
            )));
        }
    }
    // Anyone can get a token from a public issuer such as GitHub's: a policy must say whose.
    if raw.values().all(|p| is_wildcard_only(p)) {
        return Err(invalid(
            "at least one condition must be more than `*` (any holder of a token from the \
             issuer would match)"
                .to_owned(),
        ));
    }
    Ok(raw)
}

/// Trust an outside issuer's tokens whose audience and claims match to act as an agent.
#[utoipa::path(post, path = "/v1/tenants/{tenant_id}/trust-policies", tag = "workload-identity",
    params(("tenant_id" = String, Path)),
    request_body = wire::CreateTrustPolicyRequest,
    responses((status = 201, body = wire::TrustPolicy), (status = 409, body = ErrorBody), KeyErrors, BodyErrors),
    security(("api_key" = []), ("session" = [])))]
async fn create_policy(
    State(state): State<AppState>,
    access: TenantAccess<AgentsWrite>,
    ctx: RequestContext,
    ApiJson(body): ApiJson<wire::CreateTrustPolicyRequest>,
) -> Result<(StatusCode, Json<wire::TrustPolicy>), ApiError> {
    let issuer = issuer(&state, &body.issuer)?;
    let audience = validate::name("audience", &body.audience, 512)?;
    let conditions = conditions(body.conditions)?;
    let agent_id: AgentId = body
        .agent_id
        .parse()
        .map_err(|_| ApiError::invalid("agent_id: not an agent id"))?;
    let agent = state
        .store
        .agent(access.tenant_id, agent_id)
        .await?
        .ok_or_else(|| ApiError::invalid("agent_id: the tenant has no such agent"))?;
    let scopes = Scopes::new(body.scopes).map_err(|e| ApiError::invalid(format!("scopes: {e}")))?;
    if scopes.is_empty() || !scopes.is_subset(&agent.scopes) {
        return Err(ApiError::invalid(
            "scopes: one or more, all among the agent's scopes",
        ));
    }
    let policy = TrustPolicy {
        id: TrustPolicyId::generate(),
        tenant_id: access.tenant_id,
        issuer,
        audience,
        conditions,
        agent_id,
        scopes,
        created_at: state.clock.now(),
    };
    if !state
        .store
        .create_trust_policy(&policy, MAX_POLICIES)
        .await?
    {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("a tenant has at most {MAX_POLICIES} trust policies"),
        ));
    }
    state
        .audit(&ctx, access.fact("trust_policy.create", policy.id))
        .await;
    Ok((StatusCode::CREATED, Json(view(&policy))))
}

/// The tenant's trust policies, oldest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/trust-policies", tag = "workload-identity",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = wire::TrustPolicyList), KeyErrors),
    security(("api_key" = []), ("session" = [])))]
async fn list_policies(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
) -> Result<Json<wire::TrustPolicyList>, ApiError> {
    let policies = state.store.trust_policies(access.tenant_id).await?;
    Ok(Json(wire::TrustPolicyList {
        trust_policies: policies.iter().map(view).collect(),
    }))
}

/// Delete a trust policy: its issuer's tokens stop being exchanged for the agent at once
/// (tokens already issued live out their short lifetime).
#[utoipa::path(delete, path = "/v1/tenants/{tenant_id}/trust-policies/{policy_id}", tag = "workload-identity",
    params(("tenant_id" = String, Path), ("policy_id" = String, Path)),
    responses((status = 204), KeyErrors),
    security(("api_key" = []), ("session" = [])))]
async fn delete_policy(
    State(state): State<AppState>,
    access: TenantAccess<AgentsWrite>,
    ctx: RequestContext,
    Path(ids): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: TrustPolicyId = path_id(&ids.1)?;
    if !state
        .store
        .delete_trust_policy(access.tenant_id, id)
        .await?
    {
        return Err(ApiError::not_found("trust policy"));
    }
    state
        .audit(&ctx, access.fact("trust_policy.delete", id))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(claim: &str, pattern: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(claim.to_owned(), pattern.to_owned())])
    }

    #[test]
    fn conditions_must_say_whose_tokens() {
        assert!(conditions(one("repository", "acme/api")).is_ok());
        assert!(conditions(one("sub", "repo:acme/*:ref:refs/heads/main")).is_ok());
        assert!(conditions(BTreeMap::new()).is_err());
        assert!(conditions(one("repository", "*")).is_err());
        assert!(conditions(one("aud", "x")).is_err());
        assert!(conditions(one("bad name", "x")).is_err());
        assert!(conditions(one("ref", "")).is_err());
        assert!(conditions(one("ref", "a\nb")).is_err());
    }
}
