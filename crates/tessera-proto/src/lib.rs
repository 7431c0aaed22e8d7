//! Tessera's wire format: every request and response body of the HTTP API, the table of error
//! codes, and their OpenAPI schemas (utoipa). Serde and utoipa only: no behaviour lives here.

pub mod agent_keys;
pub mod agents;
pub mod analytics;
pub mod api_keys;
pub mod audit;
pub mod compliance;
pub mod connections;
pub mod delegations;
pub mod did;
pub mod error;
pub mod oauth2;
pub mod oauth_clients;
pub mod ops;
pub mod people;
pub mod placements;
pub mod tenants;
pub mod wallet_bindings;
pub mod webhooks;
pub mod workload;

pub use error::{ErrorBody, ErrorCode, OAuthErrorBody, OAuthErrorCode};
