//! The audit write path: one call per security-relevant fact. Reading and verifying the log,
//! and the hash chain, come with the audit issue; a failed write is logged, never hidden.

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
        if let Err(error) = self.store.append_audit(&event).await {
            tracing::error!(error = %error, action = event.action, "writing an audit event failed");
        }
    }
}
