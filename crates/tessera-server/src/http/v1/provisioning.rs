//! `/v1/start` and `/v1/start/stack`: mint an entity (a tenant), create the agents its
//! blueprint lists, start its runtime through the configured backend, post the blueprint to
//! the runtime, and record the placement. Everything a request can get wrong is checked
//! before anything is written. A runtime that fails after that is stopped and its placement
//! kept as `failed` (with why); the entity and its agents remain, audited, for the operator
//! to inspect or clear. Callers: the operator (signed-in users arrive with a later issue).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value};
use tessera_core::agent::Agent;
use tessera_core::placement::{Placement, PlacementStatus};
use tessera_core::tenant::{Plan, Tenant, TenantKind, TenantStatus};
use tessera_core::{TenantId, validate};
use tessera_proto::placements as wire;
use tessera_proto::{ErrorBody, ErrorCode, tenants::Plan as WirePlan};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::placements::{provision_error, status_view};
use super::{agents, tenants};
use crate::audit::Fact;
use crate::auth::extract::Operator;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::http::openapi::{BodyErrors, KeyErrors};
use crate::provision::{Slot, blueprint, stack};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(start_stack))
}

/// One entity to start, checked; nothing written yet.
struct Entity {
    tenant: Tenant,
    agents: Vec<Agent>,
    address: Option<String>,
    blueprint: Option<Value>,
}

/// Checks a request for one entity: its fields, its blueprint's agents against its plan, and
/// that this server can start it.
fn prepare(
    state: &AppState,
    name: &str,
    email: Option<&str>,
    plan: Option<WirePlan>,
    address: Option<String>,
    blueprint: Option<Value>,
) -> Result<Entity, ApiError> {
    let now = state.clock.now();
    let plan = match plan.unwrap_or(WirePlan::Explorer) {
        WirePlan::Explorer => Plan::Explorer,
        WirePlan::Professional => Plan::Professional,
        WirePlan::Business => Plan::Business,
        WirePlan::Enterprise => Plan::Enterprise,
    };
    let tenant = Tenant {
        id: TenantId::generate(),
        name: validate::name("name", name, 100)?,
        // An entity minted here has no contact until someone claims it.
        email: email.map(validate::email).transpose()?.unwrap_or_default(),
        kind: TenantKind::Provider,
        plan,
        status: TenantStatus::Active,
        created_at: now,
    };
    let requests = match &blueprint {
        Some(blueprint) => blueprint::agents(blueprint).map_err(ApiError::invalid)?,
        None => Vec::new(),
    };
    let agents = requests
        .into_iter()
        .map(|request| agents::draft(tenant.id, request, now))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(max) = state.config.plans.limits(plan).max_agents
        && agents.len() as u64 > max
    {
        return Err(ApiError::new(
            ErrorCode::PlanLimitReached,
            format!(
                "the blueprint lists {} agents; plan `{}` allows {max}",
                agents.len(),
                plan.as_str()
            ),
        ));
    }
    state
        .provisioning
        .check(address.as_deref())
        .map_err(|e| provision_error(e, "provisioning"))?;
    Ok(Entity {
        tenant,
        agents,
        address,
        blueprint,
    })
}

/// Creates the entity and its agents, starts its runtime and hands it its blueprint. On a
/// runtime failure the runtime is stopped and the placement left `failed`.
async fn provision(
    state: &AppState,
    ctx: &RequestContext,
    actor: &str,
    entity: Entity,
    slot: Slot,
    label: &str,
) -> Result<(wire::StartedEntity, Placement), ApiError> {
    let tenant = &entity.tenant;
    let api_key = tenants::register(state, ctx, actor.to_owned(), tenant).await?;
    let mut started_agents = Vec::with_capacity(entity.agents.len());
    for agent in &entity.agents {
        let (generated, secret) = agents::new_secret(agent.id, None, agent.created_at)?;
        let max_agents = state.config.plans.limits(tenant.plan).max_agents;
        if !state.store.create_agent(agent, &secret, max_agents).await? {
            // Checked before anything was written; only a concurrent creation gets here.
            return Err(ApiError::new(
                ErrorCode::PlanLimitReached,
                format!("plan `{}` allows no more agents", tenant.plan.as_str()),
            ));
        }
        let fact = Fact::success(Some(tenant.id), actor.to_owned(), "agent.create", agent.id);
        state.audit(ctx, fact).await;
        started_agents.push(wire::StartedAgent {
            name: agent.name.clone(),
            agent_id: agent.id.to_string(),
            client_secret: generated.secret.expose().to_owned(),
        });
    }
    let failed = |reason| {
        Fact::failure(
            Some(tenant.id),
            actor.to_owned(),
            "placement.start",
            tenant.id,
            reason,
        )
    };
    let first_agent = entity.agents.first().map(|a| a.id);
    let mut placement = match state
        .provisioning
        .launch(tenant.id, first_agent, slot)
        .await
    {
        Ok(placement) => placement,
        Err(error) => {
            state
                .audit(ctx, failed(ErrorCode::RuntimeFailed.code()))
                .await;
            return Err(provision_error(error, label));
        }
    };
    if let Some(blueprint) = &entity.blueprint
        && let Err(error) = state.provisioning.init(&placement, blueprint).await
    {
        let detail = error.to_string();
        state
            .provisioning
            .halt(&mut placement, PlacementStatus::Failed, detail)
            .await
            .map_err(|e| provision_error(e, label))?;
        state
            .audit(ctx, failed(ErrorCode::RuntimeFailed.code()))
            .await;
        return Err(provision_error(error, label));
    }
    let fact = Fact::success(
        Some(tenant.id),
        actor.to_owned(),
        "placement.start",
        tenant.id,
    );
    state.audit(ctx, fact).await;
    let started = wire::StartedEntity {
        entity_id: tenant.id.to_string(),
        name: tenant.name.clone(),
        port: placement.port,
        address: placement.address.clone(),
        status: status_view(placement.status),
        api_key: api_key.secret.expose().to_owned(),
        agents: started_agents,
    };
    Ok((started, placement))
}

/// Start an entity: mint it (a tenant), create its blueprint's agents, start its runtime on a
/// free port, post the blueprint to the runtime's init path, record the placement (operator).
#[utoipa::path(post, path = "/v1/start", tag = "provisioning",
    request_body = wire::StartRequest,
    responses((status = 201, body = wire::StartedEntity),
        (status = 502, description = "The runtime failed; it was stopped", body = ErrorBody),
        (status = 503, description = "Provisioning is off, or no port is free", body = ErrorBody),
        KeyErrors, BodyErrors),
    security(("api_key" = [])))]
async fn start(
    State(state): State<AppState>,
    Operator(operator): Operator,
    ctx: RequestContext,
    ApiJson(body): ApiJson<wire::StartRequest>,
) -> Result<(StatusCode, Json<wire::StartedEntity>), ApiError> {
    let entity = prepare(
        &state,
        &body.name,
        body.email.as_deref(),
        body.plan,
        body.address,
        body.blueprint,
    )?;
    let address = entity.address.clone();
    let slot = take_slots(&state, vec![address]).await?.remove(0);
    let label = format!("the runtime of {}", entity.tenant.id);
    let (started, _) = provision(&state, &ctx, &operator.actor(), entity, slot, &label).await?;
    Ok((StatusCode::CREATED, Json(started)))
}

async fn take_slots(
    state: &AppState,
    addresses: Vec<Option<String>>,
) -> Result<Vec<Slot>, ApiError> {
    state
        .provisioning
        .slots(addresses)
        .await
        .map_err(|e| provision_error(e, "provisioning"))
}

/// Start a stack: its components in dependency order (each like `/v1/start`), then its edges,
/// each posted to the `from` runtime's edges path. A dependency cycle is refused with its
/// path; if a component or an edge fails, every component started is stopped (operator).
#[utoipa::path(post, path = "/v1/start/stack", tag = "provisioning",
    request_body = wire::StackRequest,
    responses((status = 201, body = wire::StartedStack),
        (status = 502, description = "A component or an edge failed; the stack was stopped", body = ErrorBody),
        (status = 503, description = "Provisioning is off, or not enough ports are free", body = ErrorBody),
        KeyErrors, BodyErrors),
    security(("api_key" = [])))]
async fn start_stack(
    State(state): State<AppState>,
    Operator(operator): Operator,
    ctx: RequestContext,
    ApiJson(body): ApiJson<wire::StackRequest>,
) -> Result<(StatusCode, Json<wire::StartedStack>), ApiError> {
    let nodes: Vec<stack::Node<'_>> = body
        .components
        .iter()
        .map(|c| stack::Node {
            name: &c.name,
            depends_on: &c.depends_on,
        })
        .collect();
    let order = stack::order(&nodes).map_err(ApiError::invalid)?;
    for (i, edge) in body.edges.iter().enumerate() {
        let known = |name: &str| body.components.iter().any(|c| c.name == name);
        if !known(&edge.from) || !known(&edge.to) || edge.from == edge.to {
            return Err(ApiError::invalid(format!(
                "edges[{i}]: `{}` → `{}` must join two different components of the stack",
                edge.from, edge.to
            )));
        }
    }
    let mut entities = Vec::with_capacity(order.len());
    for &i in &order {
        let c = &body.components[i];
        let entity = prepare(
            &state,
            &c.name,
            c.email.as_deref(),
            c.plan,
            c.address.clone(),
            c.blueprint.clone(),
        )
        .map_err(|e| e.prefixed(&format!("components[{i}] (`{}`)", c.name)))?;
        entities.push((c.name.clone(), entity));
    }
    let addresses = entities.iter().map(|(_, e)| e.address.clone()).collect();
    let slots = take_slots(&state, addresses).await?;

    let actor = operator.actor();
    let mut started: Vec<(wire::StartedEntity, Placement)> = Vec::new();
    for ((name, entity), slot) in entities.into_iter().zip(slots) {
        let label = format!("component `{name}`");
        match provision(&state, &ctx, &actor, entity, slot, &label).await {
            Ok(done) => started.push(done),
            Err(error) => {
                roll_back(
                    &state,
                    &ctx,
                    &actor,
                    &mut started,
                    &format!("component `{name}` failed"),
                )
                .await;
                return Err(error);
            }
        }
    }
    for edge in &body.edges {
        let placement_of =
            |name: &str| started.iter().find(|(s, _)| s.name == name).map(|(_, p)| p);
        let (Some(from), Some(to)) = (placement_of(&edge.from), placement_of(&edge.to)) else {
            return Err(ApiError::internal(
                "an edge names a component that was not started",
            ));
        };
        let message = edge_message(edge, to);
        if let Err(error) = state.provisioning.edge(from, &message).await {
            let why = format!("edge `{}` → `{}` failed", edge.from, edge.to);
            let label = format!("edge `{}` → `{}`", edge.from, edge.to);
            roll_back(&state, &ctx, &actor, &mut started, &why).await;
            return Err(provision_error(error, &label));
        }
        let fact = Fact::success(
            Some(from.entity_id),
            actor.clone(),
            "placement.edge",
            to.entity_id,
        );
        state.audit(&ctx, fact).await;
    }
    let components = started.into_iter().map(|(s, _)| s).collect();
    Ok((
        StatusCode::CREATED,
        Json(wire::StartedStack {
            components,
            edges: body.edges.len(),
        }),
    ))
}

/// What the `from` runtime receives for an edge: the names, where `to` listens, and the
/// edge's other fields.
fn edge_message(edge: &wire::StackEdge, to: &Placement) -> Value {
    let mut message = Map::new();
    message.insert("from".into(), edge.from.clone().into());
    message.insert("to".into(), edge.to.clone().into());
    message.insert("to_entity_id".into(), to.entity_id.to_string().into());
    message.insert("to_address".into(), to.address.clone().into());
    for (key, value) in &edge.attributes {
        message.entry(key.clone()).or_insert_with(|| value.clone());
    }
    Value::Object(message)
}

/// Stops every component started so far, leaving their placements `stopped` with `why`.
async fn roll_back(
    state: &AppState,
    ctx: &RequestContext,
    actor: &str,
    started: &mut [(wire::StartedEntity, Placement)],
    why: &str,
) {
    for (_, placement) in started.iter_mut() {
        let detail = format!("stack rolled back: {why}");
        if let Err(error) = state
            .provisioning
            .halt(placement, PlacementStatus::Stopped, detail)
            .await
        {
            tracing::error!(entity = %placement.entity_id, error = %error, "stopping a stack component failed");
        }
        let fact = Fact::success(
            Some(placement.entity_id),
            actor.to_owned(),
            "placement.stop",
            placement.entity_id,
        );
        state.audit(ctx, fact).await;
    }
}
