//! The JSON body of an event, the same on every channel (webhooks, NATS):
//! `{"type": "<action>", "timestamp": "<RFC 3339>", "data": {…the event's fields…}}`.
//! Audit events never hold secrets, so neither does the body.

use serde_json::json;
use tessera_core::audit::AuditEvent;
use time::format_description::well_known::Rfc3339;

/// The body of `event`.
pub fn event_body(event: &AuditEvent) -> String {
    let occurred_at = event
        .occurred_at
        .format(&Rfc3339)
        .unwrap_or_else(|_| event.occurred_at.unix_timestamp().to_string());
    json!({
        "type": event.action,
        "timestamp": occurred_at,
        "data": {
            "id": event.id.to_string(),
            "tenant_id": event.tenant_id.map(|t| t.to_string()),
            "actor": event.actor,
            "action": event.action,
            "target": event.target,
            "outcome": event.outcome.as_str(),
            "reason": (!event.reason.is_empty()).then_some(&event.reason),
            "client_ip": event.client_ip,
            "request_id": event.request_id,
            "occurred_at": occurred_at,
        },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use tessera_core::audit::Outcome;
    use tessera_core::{AuditEventId, TenantId};
    use time::OffsetDateTime;

    use super::*;

    #[test]
    fn names_the_type_and_carries_the_fields() {
        let event = AuditEvent {
            id: AuditEventId::generate(),
            tenant_id: Some(TenantId::generate()),
            actor: "api_key:key_1".into(),
            action: "agent.create".into(),
            target: "agt_1".into(),
            outcome: Outcome::Success,
            reason: String::new(),
            client_ip: Some("127.0.0.1".into()),
            request_id: Some("r1".into()),
            occurred_at: OffsetDateTime::UNIX_EPOCH,
        };
        let body: serde_json::Value = serde_json::from_str(&event_body(&event)).unwrap();
        assert_eq!(body["type"], "agent.create");
        assert_eq!(body["timestamp"], "1970-01-01T00:00:00Z");
        assert_eq!(body["data"]["id"], event.id.to_string());
        assert_eq!(body["data"]["target"], "agt_1");
        assert!(body["data"]["reason"].is_null());
    }
}
