//! Compliance: `GET /v1/compliance/controls` (public: what Tessera implements, mapped to SOC 2
//! and ISO/IEC 27001:2022), `GET /v1/tenants/{tenant_id}/compliance/report` (the tenant's
//! posture, computed at most once per 5 minutes per tenant and instance) and
//! `GET /v1/tenants/{tenant_id}/compliance/agent-cards` (its agents as AGNTCY OASF records;
//! one agent's card at `GET /v1/tenants/{tenant_id}/agents/{agent_id}/card`).

mod controls;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use tessera_core::agent::{Agent, AgentStatus};
use tessera_core::api_key::{ApiKey, KeyOwner};
use tessera_core::audit::chain_of;
use tessera_core::{AgentId, TenantId};
use tessera_proto::agents::AgentStatus as WireStatus;
use tessera_proto::compliance as wire;
use time::{Duration, OffsetDateTime};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::analytics::page;
use crate::audit::verify::verify_chain;
use crate::auth::extract::{Read, TenantAccess};
use crate::error::ApiError;
use crate::http::json::ApiQuery;
use crate::http::openapi::KeyErrors;
use crate::state::AppState;

/// How long a tenant's report is served before it is computed again.
const REPORT_TTL: Duration = Duration::minutes(5);
/// Keys and agents unused for this long are stale.
const STALE_AFTER_DAYS: u32 = 90;
/// Items a finding lists at most (its count covers all).
const MAX_ITEMS: usize = 100;
/// Agents read per store query while building a report.
const AGENT_PAGE: u32 = 200;
/// The OASF record schema the agent cards follow.
const OASF_SCHEMA_VERSION: &str = "0.7.0";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_controls))
        .routes(routes!(report))
        .routes(routes!(agent_cards))
        .routes(routes!(agent_card))
}

/// Reports per tenant, each served until its `cached_until`.
#[derive(Debug)]
pub struct ReportCache(quick_cache::sync::Cache<TenantId, Arc<wire::ComplianceReport>>);

impl ReportCache {
    pub fn new(capacity: usize) -> Self {
        Self(quick_cache::sync::Cache::new(capacity.max(1)))
    }

    fn fresh(&self, tenant: TenantId, now: OffsetDateTime) -> Option<Arc<wire::ComplianceReport>> {
        self.0.get(&tenant).filter(|r| now < r.cached_until)
    }

    fn put(&self, tenant: TenantId, report: Arc<wire::ComplianceReport>) {
        self.0.insert(tenant, report);
    }
}

/// The controls Tessera implements, mapped to SOC 2 and ISO/IEC 27001:2022 Annex A.
#[utoipa::path(get, path = "/v1/compliance/controls", tag = "compliance",
    responses((status = 200, body = wire::ControlList)))]
async fn list_controls() -> Json<wire::ControlList> {
    Json(controls::list())
}

/// The tenant's compliance posture: keys without expiry, stale keys and agents, people's
/// sign-in hygiene, and the audit chain's verification. Computed at most every 5 minutes.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/compliance/report", tag = "compliance",
    params(("tenant_id" = String, Path)),
    responses((status = 200, body = wire::ComplianceReport), KeyErrors),
    security(("api_key" = [])))]
async fn report(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
) -> Result<Json<wire::ComplianceReport>, ApiError> {
    let now = state.clock.now();
    if let Some(cached) = state.compliance_reports.fresh(access.tenant_id, now) {
        return Ok(Json(cached.as_ref().clone()));
    }
    let report = Arc::new(build_report(&state, access.tenant_id, now).await?);
    state
        .compliance_reports
        .put(access.tenant_id, Arc::clone(&report));
    Ok(Json(report.as_ref().clone()))
}

async fn build_report(
    state: &AppState,
    tenant: TenantId,
    now: OffsetDateTime,
) -> Result<wire::ComplianceReport, ApiError> {
    let stale_before = now - Duration::days(i64::from(STALE_AFTER_DAYS));

    let keys = state.store.api_keys(KeyOwner::Tenant(tenant)).await?;
    let live: Vec<_> = keys
        .iter()
        .filter(|k| k.revoked_at.is_none() && !k.is_expired(now))
        .collect();
    let api_keys = wire::ApiKeyPosture {
        active: live.len() as u64,
        without_expiry: key_findings(live.iter().copied().filter(|k| k.expires_at.is_none())),
        stale: key_findings(
            live.iter()
                .copied()
                .filter(|k| k.last_used_at.unwrap_or(k.created_at) < stale_before),
        ),
    };

    let last_seen: HashMap<AgentId, OffsetDateTime> = state
        .store
        .usage_totals(tenant, None)
        .await?
        .into_iter()
        .fold(HashMap::new(), |mut seen, usage| {
            let at = seen.entry(usage.agent_id).or_insert(usage.last_at);
            *at = (*at).max(usage.last_at);
            seen
        });
    let mut active = 0_u64;
    let mut stale = Vec::new();
    for agent in all_agents(state, tenant).await? {
        if agent.status != AgentStatus::Active {
            continue;
        }
        active += 1;
        let seen = last_seen.get(&agent.id).copied();
        if seen.unwrap_or(agent.created_at) < stale_before {
            stale.push(wire::AgentFinding {
                id: agent.id.to_string(),
                name: agent.name,
                created_at: agent.created_at,
                last_seen_at: seen,
            });
        }
    }
    let agents = wire::AgentPosture {
        active,
        stale: wire::AgentFindings {
            count: stale.len() as u64,
            items: stale.into_iter().take(MAX_ITEMS).collect(),
        },
    };

    // Verify what this instance has accepted so far, like `/audit/verify` does.
    state.audit_writer.flush().await;
    let audit_chain = verify_chain(state, &chain_of(Some(tenant)))
        .await
        .map_err(ApiError::internal)?;

    Ok(wire::ComplianceReport {
        tenant_id: tenant.to_string(),
        generated_at: now,
        cached_until: now + REPORT_TTL,
        stale_after_days: STALE_AFTER_DAYS,
        api_keys,
        agents,
        people: wire::PeoplePosture {
            accounts: None,
            passkey_adoption: None,
            mfa_adoption: None,
            note: "Tessera has no people accounts yet (sign-in for people, passkeys and second \
                   factors are not built), so there is nothing to measure: these figures are \
                   null, not zero."
                .to_owned(),
        },
        audit_chain,
    })
}

fn key_findings<'a>(keys: impl Iterator<Item = &'a ApiKey>) -> wire::KeyFindings {
    let found: Vec<_> = keys.collect();
    wire::KeyFindings {
        count: found.len() as u64,
        items: found
            .iter()
            .take(MAX_ITEMS)
            .map(|k| wire::KeyFinding {
                id: k.id.to_string(),
                name: k.name.clone(),
                created_at: k.created_at,
                expires_at: k.expires_at,
                last_used_at: k.last_used_at,
            })
            .collect(),
    }
}

async fn all_agents(state: &AppState, tenant: TenantId) -> Result<Vec<Agent>, ApiError> {
    let mut agents = Vec::new();
    let mut after = None;
    loop {
        let page = state.store.agents(tenant, after, AGENT_PAGE).await?;
        agents.extend(page.items);
        match page.next_cursor {
            Some(cursor) => after = Some(cursor),
            None => return Ok(agents),
        }
    }
}

/// The tenant's agents as agent cards (AGNTCY OASF records, schema 0.7.0), a page at a time.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/compliance/agent-cards", tag = "compliance",
    params(("tenant_id" = String, Path), wire::AgentCardsQuery),
    responses((status = 200, body = wire::AgentCardList), KeyErrors),
    security(("api_key" = [])))]
async fn agent_cards(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    ApiQuery(query): ApiQuery<wire::AgentCardsQuery>,
) -> Result<Json<wire::AgentCardList>, ApiError> {
    let (limit, after) = page(query.limit, query.cursor.as_deref())?;
    let tenant = state
        .store
        .tenant(access.tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let page = state.store.agents(access.tenant_id, after, limit).await?;
    Ok(Json(wire::AgentCardList {
        agent_cards: page
            .items
            .iter()
            .map(|agent| card(&state, &tenant.name, agent))
            .collect(),
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

/// One agent's card (an AGNTCY OASF record), for export.
#[utoipa::path(get, path = "/v1/tenants/{tenant_id}/agents/{agent_id}/card", tag = "agents",
    params(("tenant_id" = String, Path), ("agent_id" = String, Path)),
    responses((status = 200, body = wire::AgentCard), KeyErrors),
    security(("api_key" = [])))]
async fn agent_card(
    State(state): State<AppState>,
    access: TenantAccess<Read>,
    Path(ids): Path<(String, String)>,
) -> Result<Json<wire::AgentCard>, ApiError> {
    let agent = super::agents::find_agent(&state, access.tenant_id, &ids.1).await?;
    let tenant = state
        .store
        .tenant(access.tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    Ok(Json(card(&state, &tenant.name, &agent)))
}

fn card(state: &AppState, tenant_name: &str, agent: &Agent) -> wire::AgentCard {
    let issuer = &state.issuer;
    let version = agent
        .updated_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| agent.updated_at.unix_timestamp().to_string());
    wire::AgentCard {
        schema_version: OASF_SCHEMA_VERSION.to_owned(),
        name: agent.name.clone(),
        version,
        description: agent
            .description
            .clone()
            .unwrap_or_else(|| format!("{} (no description given)", agent.name)),
        authors: vec![tenant_name.to_owned()],
        created_at: agent.created_at,
        skills: agent
            .capabilities
            .iter()
            .map(|name| wire::OasfSkill { name: name.clone() })
            .collect(),
        domains: Vec::new(),
        locators: Vec::new(),
        modules: vec![wire::AgentCardModule {
            name: "tessera/identity".to_owned(),
            data: wire::AgentIdentity {
                issuer: issuer.clone(),
                token_endpoint: format!("{issuer}/oauth2/token"),
                jwks_uri: format!("{issuer}/.well-known/jwks.json"),
                client_id: agent.id.to_string(),
                grant_types: vec!["client_credentials".to_owned()],
                token_endpoint_auth_methods: vec![
                    "client_secret_basic".to_owned(),
                    "client_secret_post".to_owned(),
                    "private_key_jwt".to_owned(),
                ],
                scopes: agent.scopes.iter().map(str::to_owned).collect(),
                access_token_type: "application/at+jwt".to_owned(),
                status: match agent.status {
                    AgentStatus::Active => WireStatus::Active,
                    AgentStatus::Disabled => WireStatus::Disabled,
                },
            },
        }],
        annotations: BTreeMap::from([
            ("tessera.agent_id".to_owned(), agent.id.to_string()),
            ("tessera.tenant_id".to_owned(), agent.tenant_id.to_string()),
            (
                "tessera.did".to_owned(),
                crate::http::did::agent_did(issuer, agent.id),
            ),
        ]),
    }
}
