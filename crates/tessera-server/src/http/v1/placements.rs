//! `/v1/placements`: where entities' runtimes listen (operator): list, read, delete (which
//! stops the runtime). Created by `/v1/start` ([`super::provisioning`]).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_core::TenantId;
use tessera_core::placement::{Placement, PlacementBackend, PlacementStatus};
use tessera_proto::ErrorCode;
use tessera_proto::placements as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::Fact;
use crate::auth::extract::Operator;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::{ApiQuery, path_id};
use crate::http::openapi::KeyErrors;
use crate::provision::ProvisionError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_placements))
        .routes(routes!(get_placement, delete_placement))
}

pub(crate) fn view(placement: &Placement) -> wire::Placement {
    wire::Placement {
        entity_id: placement.entity_id.to_string(),
        agent_id: placement.agent_id.map(|a| a.to_string()),
        address: placement.address.clone(),
        port: placement.port,
        backend: match placement.backend {
            PlacementBackend::Process => wire::PlacementBackend::Process,
            PlacementBackend::Systemd => wire::PlacementBackend::Systemd,
            PlacementBackend::Static => wire::PlacementBackend::Static,
        },
        owner: placement.owner.clone(),
        status: status_view(placement.status),
        pid: placement.state.pid,
        restarts: placement.state.restarts,
        detail: placement.state.detail.clone(),
        created_at: placement.created_at,
        updated_at: placement.updated_at,
    }
}

pub(crate) fn status_view(status: PlacementStatus) -> wire::PlacementStatus {
    match status {
        PlacementStatus::Starting => wire::PlacementStatus::Starting,
        PlacementStatus::Running => wire::PlacementStatus::Running,
        PlacementStatus::Restarting => wire::PlacementStatus::Restarting,
        PlacementStatus::Failed => wire::PlacementStatus::Failed,
        PlacementStatus::Stopped => wire::PlacementStatus::Stopped,
    }
}

/// The error a provisioning failure answers with; `label` names the failing runtime.
pub(crate) fn provision_error(error: ProvisionError, label: &str) -> ApiError {
    match error {
        ProvisionError::NotConfigured(why) => {
            ApiError::new(ErrorCode::ProvisioningNotConfigured, why)
        }
        ProvisionError::Address(why) => ApiError::invalid(why),
        exhausted @ ProvisionError::PortsExhausted { .. } => {
            ApiError::new(ErrorCode::PortsExhausted, exhausted.to_string())
        }
        ProvisionError::Runtime(why) => {
            ApiError::new(ErrorCode::RuntimeFailed, format!("{label}: {why}"))
        }
        ProvisionError::Store(error) => error.into(),
    }
}

/// List every placement, oldest entity first, a page at a time (operator).
#[utoipa::path(get, path = "/v1/placements", tag = "provisioning",
    params(wire::ListPlacementsQuery),
    responses((status = 200, body = wire::PlacementList), KeyErrors),
    security(("api_key" = [])))]
async fn list_placements(
    State(state): State<AppState>,
    _operator: Operator,
    ApiQuery(query): ApiQuery<wire::ListPlacementsQuery>,
) -> Result<Json<wire::PlacementList>, ApiError> {
    let limit = super::page_limit(query.limit)?;
    let after: Option<TenantId> = super::cursor(query.cursor.as_deref())?;
    let page = state.store.placements(after, limit).await?;
    Ok(Json(wire::PlacementList {
        placements: page.items.iter().map(view).collect(),
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

/// Read an entity's placement (operator).
#[utoipa::path(get, path = "/v1/placements/{entity_id}", tag = "provisioning",
    params(("entity_id" = String, Path)),
    responses((status = 200, body = wire::Placement), KeyErrors),
    security(("api_key" = [])))]
async fn get_placement(
    State(state): State<AppState>,
    _operator: Operator,
    Path(entity_id): Path<String>,
) -> Result<Json<wire::Placement>, ApiError> {
    let entity: TenantId = path_id(&entity_id)?;
    let placement = state
        .store
        .placement(entity)
        .await?
        .ok_or_else(|| ApiError::not_found("placement"))?;
    Ok(Json(view(&placement)))
}

/// Stop an entity's runtime and delete its placement (operator). The entity (tenant) and its
/// agents remain.
#[utoipa::path(delete, path = "/v1/placements/{entity_id}", tag = "provisioning",
    params(("entity_id" = String, Path)),
    responses((status = 204), (status = 502, body = tessera_proto::ErrorBody), KeyErrors),
    security(("api_key" = [])))]
async fn delete_placement(
    State(state): State<AppState>,
    Operator(operator): Operator,
    ctx: RequestContext,
    Path(entity_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let entity: TenantId = path_id(&entity_id)?;
    state
        .provisioning
        .remove(entity)
        .await
        .map_err(|e| provision_error(e, &format!("stopping the runtime of {entity}")))?
        .ok_or_else(|| ApiError::not_found("placement"))?;
    let fact = Fact::success(Some(entity), operator.actor(), "placement.delete", entity);
    state.audit(&ctx, fact).await;
    Ok(StatusCode::NO_CONTENT)
}
