//! The gateway's moving parts, free of Tessera's server state so each can be tested alone:
//!
//! - [`routes`]: the configured route table (longest prefix wins);
//! - [`headers`]: header hygiene (hop-by-hop, spoofable identity headers, forwarding headers);
//! - [`proxy`]: forwarding a request to an upstream with pooled keep-alive connections,
//!   streaming bodies both ways, upgrades (WebSocket) passed through, and timeouts;
//! - [`ratelimit`]: plan limits counted per tenant per minute and per day, in process or in
//!   Redis (failing open onto the in-process counters), and concurrent requests per tenant.
//!
//! `tessera-server` assembles them into the `/api` router with authentication and placements.

pub mod headers;
pub mod proxy;
pub mod ratelimit;
pub mod routes;
