//! The audit log. Handlers record [`Fact`]s; the [`writer`] appends them in batches to
//! per-tenant hash chains; [`checkpoint`] signs chain heads with the key ring; [`verify`]
//! recomputes a chain and checks its checkpoints; [`retention`] prunes whole, checkpointed
//! segments. The log is also the outbox every event consumer (webhooks, NATS, usage) reads.

pub mod checkpoint;
pub mod retention;
pub mod verify;
pub mod writer;

use tessera_core::audit::{AuditEvent, Outcome};
use tessera_core::{AuditEventId, TenantId};

use crate::context::RequestContext;
use crate::state::AppState;

/// What happened, before the request context is attached.
#[derive(Debug, Clone)]
pub struct Fact<'a> {
    pub tenant: Option<TenantId>,
    pub actor: String,
    pub action: &'static str,
    pub target: String,
    /// None for success; the error code for a failure.
    pub failure: Option<&'a str>,
}

impl Fact<'_> {
    pub fn success(
        tenant: Option<TenantId>,
        actor: String,
        action: &'static str,
        target: impl ToString,
    ) -> Self {
        Fact {
            tenant,
            actor,
            action,
            target: target.to_string(),
            failure: None,
        }
    }
}

impl<'a> Fact<'a> {
    pub fn failure(
        tenant: Option<TenantId>,
        actor: String,
        action: &'static str,
        target: impl ToString,
        reason: &'a str,
    ) -> Self {
        Fact {
            tenant,
            actor,
            action,
            target: target.to_string(),
            failure: Some(reason),
        }
    }
}

impl AppState {
    /// Records a fact. Returns once the event is queued for the writer (waiting only when the
    /// bounded queue is full), not when it is stored: a request never waits on the database
    /// for its audit trail, and the writer stores everything queued before shutdown completes.
    pub async fn audit(&self, ctx: &RequestContext, fact: Fact<'_>) {
        let event = AuditEvent {
            id: AuditEventId::generate(),
            tenant_id: fact.tenant,
            actor: fact.actor,
            action: fact.action.to_owned(),
            target: fact.target,
            outcome: if fact.failure.is_some() {
                Outcome::Failure
            } else {
                Outcome::Success
            },
            reason: fact.failure.unwrap_or_default().to_owned(),
            client_ip: Some(ctx.client_ip.to_string()),
            request_id: ctx.request_id.clone(),
            occurred_at: self.clock.now(),
        };
        self.audit_writer.record(event).await;
    }
}
