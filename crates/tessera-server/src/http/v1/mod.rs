//! Tessera's own API under `/v1`, one module per surface.

pub mod agent_keys;
pub mod agents;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod compliance;
pub mod connections;
pub mod delegations;
pub mod integrations;
pub mod invitations;
pub mod me;
pub mod members;
pub mod oauth_clients;
pub mod placements;
pub mod provisioning;
pub mod tenants;
pub mod trust_policies;
pub mod wallet_bindings;
pub mod webhooks;
pub mod workload_tokens;

use crate::error::ApiError;

/// Page size of list endpoints when the client names none, and the most it may ask for.
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// The `limit` of a list request, checked.
fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::invalid(format!(
            "limit: must be between 1 and {MAX_PAGE}"
        )))
    }
}

/// The `cursor` of a list request: an id this API returned as `next_cursor`.
fn cursor<T: std::str::FromStr>(cursor: Option<&str>) -> Result<Option<T>, ApiError> {
    cursor
        .map(|c| {
            c.parse::<T>()
                .map_err(|_| ApiError::invalid("cursor: not a cursor this API returned"))
        })
        .transpose()
}
