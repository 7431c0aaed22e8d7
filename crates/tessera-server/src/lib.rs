//! The Tessera server. A map of the crate:
//!
//! - [`config`]: layered configuration (defaults < file < environment < flags);
//! - [`bootstrap`]: opening the store, the master key, the operator account;
//! - [`keys`]: the signing-key service (first key, rotation, refresh across instances);
//! - [`auth`]: API-key authentication and the authorization extractors;
//! - [`tokens`], [`revocation`]: issuing and validating access tokens, revoking them;
//! - [`dpop`]: DPoP proofs, server nonces, and sender-constrained tokens at resources;
//! - [`resources`]: the resources tokens may be bound to (RFC 8707) and their metadata;
//! - [`grants`]: the tokens an application holds for a person (access, ID and refresh tokens);
//! - [`delegation`]: tokens from token exchange (RFC 8693): the `act` chain, people's
//!   delegation grants to agents, and whether an exchanged token still stands;
//! - [`http`]: the routers (`/v1`, `/oauth2`, `/.well-known`, operations), the OpenAPI
//!   document and the middleware;
//! - [`gateway`]: `/api/*`, authenticated, rate-limited by plan and forwarded to the tenant's
//!   runtime or a configured service;
//! - [`people`]: people signing in: the doors' shared account logic, sessions, passwords,
//!   custodial wallets;
//! - [`provision`]: starting entities' runtimes (process, systemd, static), supervising them,
//!   and their placements;
//! - [`usage`]: the consumer of the audit log that keeps the usage counters analytics read;
//! - [`webhooks`]: the consumers that send events out: signed webhooks with retries and dead
//!   letters, and NATS JetStream;
//! - [`workload`]: workload identity: outside workloads become agents through trust policies;
//! - [`mail`]: outgoing mail (SMTP, or the outbox table in embedded mode);
//! - [`audit`], [`limits`], [`telemetry`]: the audit write path, abuse limits, logs and metrics;
//! - [`App`]: all of it assembled, and [`App::serve`] with graceful shutdown.
//!
//! Domain types and ports live in `tessera-core`, cryptography in `tessera-crypto`, storage in
//! `tessera-store`, wire types in `tessera-proto`.

pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod config;
pub mod context;
pub mod delegation;
pub mod dpop;
pub mod error;
pub mod gateway;
pub mod grants;
pub mod http;
pub mod keys;
pub mod limits;
pub mod mail;
pub mod people;
pub mod provision;
pub mod resources;
pub mod revocation;
pub mod state;
pub mod telemetry;
pub mod tokens;
pub mod usage;
pub mod vault;
pub mod webhooks;
pub mod workload;

mod app;

pub use app::{App, Listeners, Started, shutdown_signal};
pub use config::{Config, Overrides, Secret};
pub use tessera_core::{Clock, SystemClock};
