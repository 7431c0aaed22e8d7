-- Workload identity federation (SQLite). Keep it the same logical schema as
-- ../postgres/0011_workload_identity.sql.
-- A trust policy lets tokens of an outside OpenID issuer (GitHub Actions, a cloud, a partner's
-- identity provider) whose audience and claims match act as one agent of the tenant, with at
-- most the policy's scopes. Conditions are a JSON object of claim name → pattern. Policies are
-- looked up by issuer across tenants (an outside token names only its issuer), then checked
-- one by one. Deleting the agent deletes its policies. Times are unix seconds.

CREATE TABLE trust_policies (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    issuer     TEXT    NOT NULL,
    audience   TEXT    NOT NULL,
    conditions TEXT    NOT NULL,
    agent_id   TEXT    NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX trust_policies_tenant_id_idx ON trust_policies (tenant_id);
CREATE INDEX trust_policies_issuer_idx ON trust_policies (issuer);
CREATE INDEX trust_policies_agent_id_idx ON trust_policies (agent_id);
