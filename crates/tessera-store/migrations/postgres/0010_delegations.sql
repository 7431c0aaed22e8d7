-- Delegation grants (PostgreSQL). Keep it the same logical schema as
-- ../sqlite/0010_delegations.sql.
-- A person authorizes an agent of a tenant they belong to to act for them (RFC 8693 token
-- exchange), within `scopes`, until `expires_at`. Tokens exchanged under a grant carry its id;
-- revoking the grant (revoked_at) ends them on every instance. Deleting the agent, the person
-- or the tenant deletes the grant, which ends its tokens just as well. Times are unix seconds.

CREATE TABLE delegations (
    id         TEXT COLLATE "C" NOT NULL,
    tenant_id  TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    agent_id   TEXT COLLATE "C" NOT NULL,
    scopes     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    CONSTRAINT delegations_pkey PRIMARY KEY (id),
    CONSTRAINT delegations_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT delegations_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT delegations_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE CASCADE
);
CREATE INDEX delegations_tenant_id_idx ON delegations (tenant_id);
CREATE INDEX delegations_user_id_idx ON delegations (user_id);
CREATE INDEX delegations_agent_id_idx ON delegations (agent_id);
