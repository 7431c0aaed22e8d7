//! The integration suite: one test binary (linking is the expensive part on 2 cores), one module
//! per surface. Every test starts its own real server on a loopback port through
//! `tessera-testkit`; the whole suite runs once on SQLite and once more on PostgreSQL when
//! `TESSERA_TEST_DATABASE_URL` is set (see `scripts/test`).

// Every function in this crate is test code, helpers included.
#![allow(clippy::unwrap_used)]

#[path = "integration/support.rs"]
mod support;

#[path = "integration/agent_keys.rs"]
mod agent_keys;
#[path = "integration/agents.rs"]
mod agents;
#[path = "integration/analytics.rs"]
mod analytics;
#[path = "integration/api_keys.rs"]
mod api_keys;
#[path = "integration/app_keys.rs"]
mod app_keys;
#[path = "integration/app_revocation.rs"]
mod app_revocation;
#[path = "integration/application_delegation.rs"]
mod application_delegation;
#[path = "integration/audit.rs"]
mod audit;
#[path = "integration/audit_log.rs"]
mod audit_log;
#[path = "integration/authorize.rs"]
mod authorize;
#[path = "integration/authorize_reauth.rs"]
mod authorize_reauth;
#[path = "integration/cli.rs"]
mod cli;
#[path = "integration/client_jwt.rs"]
mod client_jwt;
#[path = "integration/compliance.rs"]
mod compliance;
#[path = "integration/delegations.rs"]
mod delegations;
#[path = "integration/device.rs"]
mod device;
#[path = "integration/did.rs"]
mod did;
#[path = "integration/discovery.rs"]
mod discovery;
#[path = "integration/dpop.rs"]
mod dpop;
#[path = "integration/dpop_grants.rs"]
mod dpop_grants;
#[path = "integration/events_nats.rs"]
mod events_nats;
#[path = "integration/fuzz.rs"]
mod fuzz;
#[path = "integration/gateway.rs"]
mod gateway;
#[path = "integration/gateway_entities.rs"]
mod gateway_entities;
#[path = "integration/gateway_limits.rs"]
mod gateway_limits;
#[path = "integration/invitations.rs"]
mod invitations;
#[path = "integration/master_keys.rs"]
mod master_keys;
#[path = "integration/mcp.rs"]
mod mcp;
#[path = "integration/oauth2.rs"]
mod oauth2;
#[path = "integration/ops.rs"]
mod ops;
#[path = "integration/people.rs"]
mod people;
#[path = "integration/people_email.rs"]
mod people_email;
#[path = "integration/people_oauth.rs"]
mod people_oauth;
#[path = "integration/people_oauth_refused.rs"]
mod people_oauth_refused;
#[path = "integration/people_passkey.rs"]
mod people_passkey;
#[path = "integration/people_password.rs"]
mod people_password;
#[path = "integration/people_wallet.rs"]
mod people_wallet;
#[path = "integration/plans.rs"]
mod plans;
#[path = "integration/provisioning.rs"]
mod provisioning;
#[path = "integration/registration.rs"]
mod registration;
#[path = "integration/registration_grants.rs"]
mod registration_grants;
#[path = "integration/resources.rs"]
mod resources;
#[path = "integration/restart.rs"]
mod restart;
#[path = "integration/secrets_at_rest.rs"]
mod secrets_at_rest;
#[path = "integration/tenants.rs"]
mod tenants;
#[path = "integration/tenants_for_people.rs"]
mod tenants_for_people;
#[path = "integration/token_exchange.rs"]
mod token_exchange;
#[path = "integration/vault.rs"]
mod vault;

#[path = "integration/wallet_bindings.rs"]
mod wallet_bindings;
#[path = "integration/webhooks.rs"]
mod webhooks;
#[path = "integration/workload_identity.rs"]
mod workload_identity;
#[path = "integration/workload_tokens.rs"]
mod workload_tokens;
