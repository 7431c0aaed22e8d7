-- Workload identity federation (PostgreSQL). Keep it the same logical schema as
-- ../sqlite/0011_workload_identity.sql.
-- A trust policy lets tokens of an outside OpenID issuer (GitHub Actions, a cloud, a partner's
-- identity provider) whose audience and claims match act as one agent of the tenant, with at
-- most the policy's scopes. Conditions are a JSON object of claim name → pattern. Policies are
-- looked up by issuer across tenants (an outside token names only its issuer), then checked
-- one by one. Deleting the agent deletes its policies. Times are unix seconds.

CREATE TABLE trust_policies (
    id         TEXT COLLATE "C" NOT NULL,
    tenant_id  TEXT COLLATE "C" NOT NULL,
    issuer     TEXT   NOT NULL,
    audience   TEXT   NOT NULL,
    conditions TEXT   NOT NULL,
    agent_id   TEXT COLLATE "C" NOT NULL,
    scopes     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT trust_policies_pkey PRIMARY KEY (id),
    CONSTRAINT trust_policies_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT trust_policies_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE CASCADE
);
CREATE INDEX trust_policies_tenant_id_idx ON trust_policies (tenant_id);
CREATE INDEX trust_policies_issuer_idx ON trust_policies (issuer);
CREATE INDEX trust_policies_agent_id_idx ON trust_policies (agent_id);
