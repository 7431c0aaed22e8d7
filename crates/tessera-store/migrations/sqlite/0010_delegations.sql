-- Delegation grants (SQLite). Keep it the same logical schema as
-- ../postgres/0010_delegations.sql.
-- A person authorizes an agent of a tenant they belong to to act for them (RFC 8693 token
-- exchange), within `scopes`, until `expires_at`. Tokens exchanged under a grant carry its id;
-- revoking the grant (revoked_at) ends them on every instance. Deleting the agent, the person
-- or the tenant deletes the grant, which ends its tokens just as well. Times are unix seconds.

CREATE TABLE delegations (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    agent_id   TEXT    NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    scopes     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX delegations_tenant_id_idx ON delegations (tenant_id);
CREATE INDEX delegations_user_id_idx ON delegations (user_id);
CREATE INDEX delegations_agent_id_idx ON delegations (agent_id);
