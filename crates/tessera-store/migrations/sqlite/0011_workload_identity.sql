-- Workload identity federation and wallet bindings (SQLite). Keep it the same logical schema as
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

-- Wallet bindings: a person's main wallet (an address they hold) grants an agent's wallet
-- address a set of permissions (a JSON list), proven by the main wallet's EIP-191 signature,
-- of which only the SHA-256 is kept (unique: a signature binds once). At most one live binding
-- per pair of addresses.
CREATE TABLE wallet_bindings (
    id             TEXT    NOT NULL PRIMARY KEY,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    main_address   TEXT    NOT NULL,
    agent_address  TEXT    NOT NULL,
    grants         TEXT    NOT NULL,
    signature_hash BLOB    NOT NULL CHECK (length(signature_hash) = 32),
    issued_at      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER
) STRICT;
CREATE UNIQUE INDEX wallet_bindings_signature_hash_key ON wallet_bindings (signature_hash);
CREATE UNIQUE INDEX wallet_bindings_live_pair_key ON wallet_bindings (main_address, agent_address) WHERE revoked_at IS NULL;
CREATE INDEX wallet_bindings_user_id_idx ON wallet_bindings (user_id);
