//! The controls Tessera implements today, each mapped to the SOC 2 Trust Services Criteria
//! (2017, revised points of focus 2022) and ISO/IEC 27001:2022 Annex A controls it supports.
//! Only what exists is listed; what the operator's deployment must provide says so. Mappings
//! say which criteria a control helps meet, not that a criterion is met by it alone.

use tessera_proto::compliance::{Control, ControlList, Framework, Responsibility};

struct Row {
    id: &'static str,
    title: &'static str,
    description: &'static str,
    responsibility: Responsibility,
    soc2: &'static [&'static str],
    iso27001: &'static [&'static str],
    evidence: &'static [&'static str],
}

const CONTROLS: &[Row] = &[
    Row {
        id: "tenant-isolation",
        title: "Tenant isolation",
        description: "Every tenant-owned record carries its tenant id and every read and write \
            is scoped to the caller's tenant. A key of another tenant gets the same 404 as an \
            object that does not exist; another tenant's tokens introspect as inactive.",
        responsibility: Responsibility::Tessera,
        soc2: &["CC6.1"],
        iso27001: &["A.5.15", "A.8.3"],
        evidence: &["GET /v1/tenants/{tenant_id}/* with another tenant's key answers 404"],
    },
    Row {
        id: "hashed-credentials",
        title: "Credentials stored only as hashes, never logged",
        description: "API keys and agent client secrets are 256 random bits with a prefix naming \
            their kind and a checksum for secret scanners. They are shown once, stored only as \
            SHA-256, compared in constant time, and never written to logs or the audit trail.",
        responsibility: Responsibility::Tessera,
        soc2: &["CC6.1"],
        iso27001: &["A.5.17", "A.8.5"],
        evidence: &[
            "POST /v1/tenants/{tenant_id}/api-keys (the key appears in this response only)",
        ],
    },
    Row {
        id: "least-privilege",
        title: "Scoped keys and a separate operator key",
        description: "API keys carry scopes (read, agents:write, api-keys:write, *); a key cannot \
            create a key broader than itself. Administration of the installation (tenants' \
            suspension, every tenant) needs the operator's key. An agent's tokens carry at \
            most the agent's scopes.",
        responsibility: Responsibility::Tessera,
        soc2: &["CC6.1", "CC6.3"],
        iso27001: &["A.5.15", "A.5.18", "A.8.2"],
        evidence: &["GET /v1/tenants/{tenant_id}/api-keys (scopes per key)"],
    },
    Row {
        id: "credential-lifecycle",
        title: "Credential expiry and immediate revocation",
        description: "API keys and client secrets can expire; client secrets rotate with \
            overlap. Revoking a key, disabling an agent or suspending a tenant refuses its \
            credentials and tokens at once on the instance that did it, and on every other \
            instance within `auth_cache_ttl_secs`.",
        responsibility: Responsibility::Tessera,
        soc2: &["CC6.2", "CC6.3"],
        iso27001: &["A.5.16", "A.5.18"],
        evidence: &[
            "DELETE /v1/tenants/{tenant_id}/api-keys/{key_id}",
            "GET /v1/tenants/{tenant_id}/compliance/report (keys without expiry, stale keys and agents)",
        ],
    },
    Row {
        id: "token-revocation",
        title: "Short-lived, revocable access tokens",
        description: "Access tokens are signed RFC 9068 JWTs that live one hour by default (60 s \
            to 24 h). A revoked token is refused by every instance and after restarts until it \
            would have expired anyway.",
        responsibility: Responsibility::Tessera,
        soc2: &["CC6.1", "CC6.3"],
        iso27001: &["A.5.18", "A.8.5"],
        evidence: &["POST /oauth2/revoke", "POST /oauth2/introspect"],
    },
    Row {
        id: "sealed-signing-keys",
        title: "Signing keys sealed at rest",
        description: "Private signing keys are stored encrypted with AES-256-GCM envelope \
            encryption: a data key per record, wrapped by the master key. The master key is a \
            0600 file in embedded mode and must come from the operator's secret store in \
            cluster mode; guarding it is the operator's part.",
        responsibility: Responsibility::Shared,
        soc2: &["CC6.1"],
        iso27001: &["A.8.24"],
        evidence: &["tessera keys list", "configuration: master_key"],
    },
    Row {
        id: "signing-key-rotation",
        title: "Signing key rotation",
        description: "`tessera keys rotate` publishes the next key before it signs; retired keys \
            stay in the JWKS until the last token they signed has expired, so rotation breaks \
            no relying party. Scheduling rotations is the operator's part.",
        responsibility: Responsibility::Shared,
        soc2: &["CC6.1"],
        iso27001: &["A.8.24"],
        evidence: &["tessera keys rotate", "GET /.well-known/jwks.json"],
    },
    Row {
        id: "audit-log",
        title: "Tamper-evident audit log",
        description: "State changes, token issuance and revocation, and failed authentications \
            are recorded with actor, tenant, target, outcome, client address and request id, \
            never a secret. Each tenant's events form a hash chain whose head is signed \
            periodically with the signing keys (checkpoints); verification names the first \
            broken link. Events are exported as JSON Lines for a SIEM; retention removes only \
            whole, checkpointed segments.",
        responsibility: Responsibility::Tessera,
        soc2: &["CC7.2"],
        iso27001: &["A.5.28", "A.5.33", "A.8.15"],
        evidence: &[
            "GET /v1/tenants/{tenant_id}/audit",
            "GET /v1/tenants/{tenant_id}/audit/verify",
            "GET /v1/tenants/{tenant_id}/audit/export",
        ],
    },
    Row {
        id: "brute-force-limits",
        title: "Brute-force and abuse limits",
        description: "Failed authentications are counted per client address; past \
            `auth_failures_per_minute` the API-key, token, introspection and revocation \
            endpoints answer 429 with Retry-After. Open registration is limited per address \
            (`registrations_per_hour`) and can be closed to the operator.",
        responsibility: Responsibility::Tessera,
        soc2: &["CC6.1", "CC6.6"],
        iso27001: &["A.8.5"],
        evidence: &[
            "configuration: auth_failures_per_minute, registrations_per_hour, registration",
        ],
    },
    Row {
        id: "monitoring",
        title: "Signals for monitoring",
        description: "Prometheus metrics count failed authentications by reason, tokens issued \
            and audit events written; per-agent usage analytics show activity. Scraping them \
            and alerting on anomalies is the operator's part.",
        responsibility: Responsibility::Shared,
        soc2: &["CC7.2"],
        iso27001: &["A.8.16"],
        evidence: &[
            "GET /metrics",
            "GET /v1/tenants/{tenant_id}/analytics/agent-activity",
        ],
    },
    Row {
        id: "input-handling",
        title: "Strict input handling",
        description: "Unknown fields, malformed identifiers and out-of-range values are refused \
            with a JSON 4xx before anything changes; bodies are size-limited; database errors \
            never reach clients. Every endpoint is in the OpenAPI document and fuzzed against \
            it in the test suite.",
        responsibility: Responsibility::Tessera,
        soc2: &["PI1.2"],
        iso27001: &["A.8.26", "A.8.28"],
        evidence: &["GET /openapi.json"],
    },
    Row {
        id: "transport-encryption",
        title: "TLS in transit",
        description: "Tessera's listener speaks plain HTTP: TLS must be terminated in front of it \
            (load balancer or reverse proxy) and `public_url` set to the https address. This is \
            the operator's.",
        responsibility: Responsibility::Operator,
        soc2: &["CC6.7"],
        iso27001: &["A.8.20", "A.8.24"],
        evidence: &["configuration: public_url"],
    },
    Row {
        id: "backup-and-storage",
        title: "Backups and storage encryption",
        description: "Tessera keeps all durable state in SQLite or PostgreSQL. Backing the \
            database up, testing restores and encrypting its disks are the operator's.",
        responsibility: Responsibility::Operator,
        soc2: &["A1.2"],
        iso27001: &["A.8.13"],
        evidence: &["configuration: data_dir, database_url"],
    },
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

pub(super) fn list() -> ControlList {
    ControlList {
        frameworks: vec![
            Framework {
                id: "soc2".to_owned(),
                name: "SOC 2: AICPA Trust Services Criteria (2017, revised points of focus 2022)"
                    .to_owned(),
            },
            Framework {
                id: "iso27001".to_owned(),
                name: "ISO/IEC 27001:2022 Annex A".to_owned(),
            },
        ],
        controls: CONTROLS
            .iter()
            .map(|row| Control {
                id: row.id.to_owned(),
                title: row.title.to_owned(),
                description: row.description.to_owned(),
                responsibility: row.responsibility,
                soc2: strings(row.soc2),
                iso27001: strings(row.iso27001),
                evidence: strings(row.evidence),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_unique_mapped_and_read_as_sentences() {
        let list = list();
        let mut ids: Vec<_> = list.controls.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), list.controls.len());
        for control in &list.controls {
            assert!(!control.soc2.is_empty() && !control.iso27001.is_empty());
            assert!(!control.evidence.is_empty(), "{}", control.id);
            let text = &control.description;
            assert!(
                text.ends_with('.') && !text.contains("  ") && !text.contains('\n'),
                "{text}"
            );
        }
    }
}
