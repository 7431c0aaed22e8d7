//! Tessera's own API under `/v1`, one module per surface.

pub mod agents;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod compliance;
pub mod placements;
pub mod provisioning;
pub mod tenants;
pub mod webhooks;
