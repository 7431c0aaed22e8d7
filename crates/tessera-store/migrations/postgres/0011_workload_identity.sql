-- Workload identity federation and wallet bindings (PostgreSQL). Keep it the same logical schema as
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

-- Wallet bindings: a person's main wallet (an address they hold) grants an agent's wallet
-- address a set of permissions (a JSON list), proven by the main wallet's EIP-191 signature,
-- of which only the SHA-256 is kept (unique: a signature binds once). At most one live binding
-- per pair of addresses.
CREATE TABLE wallet_bindings (
    id             TEXT COLLATE "C" NOT NULL,
    user_id        TEXT COLLATE "C" NOT NULL,
    main_address   TEXT   NOT NULL,
    agent_address  TEXT   NOT NULL,
    grants         TEXT   NOT NULL,
    signature_hash BYTEA  NOT NULL CHECK (length(signature_hash) = 32),
    issued_at      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    CONSTRAINT wallet_bindings_pkey PRIMARY KEY (id),
    CONSTRAINT wallet_bindings_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX wallet_bindings_signature_hash_key ON wallet_bindings (signature_hash);
CREATE UNIQUE INDEX wallet_bindings_live_pair_key ON wallet_bindings (main_address, agent_address) WHERE revoked_at IS NULL;
CREATE INDEX wallet_bindings_user_id_idx ON wallet_bindings (user_id);
