-- The foundation schema (PostgreSQL). Keep it the same logical schema as ../sqlite/0001_foundation.sql:
-- ids are the typed id strings, times are unix seconds, hashes are 32-byte values, scopes are
-- space-separated, capabilities are a JSON array. Id columns use the "C" collation so that
-- `ORDER BY id` and `id > $cursor` compare bytes, as SQLite does, whatever the database locale.

CREATE TABLE operators (
    id         TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT operators_pkey PRIMARY KEY (id)
);

CREATE TABLE tenants (
    id         TEXT COLLATE "C" NOT NULL,
    name       TEXT   NOT NULL,
    email      TEXT   NOT NULL,
    kind       TEXT   NOT NULL CHECK (kind IN ('consumer', 'provider')),
    plan       TEXT   NOT NULL CHECK (plan IN ('explorer', 'professional', 'business', 'enterprise')),
    status     TEXT   NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at BIGINT NOT NULL,
    CONSTRAINT tenants_pkey PRIMARY KEY (id)
);

CREATE TABLE api_keys (
    id           TEXT COLLATE "C" NOT NULL,
    tenant_id    TEXT COLLATE "C",
    operator_id  TEXT COLLATE "C",
    name         TEXT   NOT NULL,
    scopes       TEXT   NOT NULL,
    secret_hash  BYTEA  NOT NULL CHECK (octet_length(secret_hash) = 32),
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT,
    created_at   BIGINT NOT NULL,
    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT api_keys_operator_id_fkey FOREIGN KEY (operator_id) REFERENCES operators (id),
    CONSTRAINT api_keys_one_owner CHECK ((tenant_id IS NULL) <> (operator_id IS NULL))
);
-- Every authenticated request looks its key up by hash.
CREATE UNIQUE INDEX api_keys_secret_hash_key ON api_keys (secret_hash);
CREATE INDEX api_keys_tenant_id_idx ON api_keys (tenant_id);

CREATE TABLE agents (
    id           TEXT COLLATE "C" NOT NULL,
    tenant_id    TEXT COLLATE "C" NOT NULL,
    name         TEXT   NOT NULL,
    description  TEXT,
    capabilities TEXT   NOT NULL,
    scopes       TEXT   NOT NULL,
    status       TEXT   NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    CONSTRAINT agents_pkey PRIMARY KEY (id),
    CONSTRAINT agents_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
-- Listing pages through one tenant's agents in id order.
CREATE INDEX agents_tenant_id_id_idx ON agents (tenant_id, id);

CREATE TABLE client_secrets (
    id          TEXT COLLATE "C" NOT NULL,
    agent_id    TEXT COLLATE "C" NOT NULL,
    secret_hash BYTEA  NOT NULL CHECK (octet_length(secret_hash) = 32),
    expires_at  BIGINT,
    created_at  BIGINT NOT NULL,
    CONSTRAINT client_secrets_pkey PRIMARY KEY (id),
    CONSTRAINT client_secrets_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE CASCADE
);
CREATE INDEX client_secrets_agent_id_idx ON client_secrets (agent_id);

CREATE TABLE signing_keys (
    kid                TEXT COLLATE "C" NOT NULL,
    alg                TEXT   NOT NULL,
    sealed_private_key BYTEA  NOT NULL,
    public_jwk         TEXT   NOT NULL,
    created_at         BIGINT NOT NULL,
    activates_at       BIGINT NOT NULL,
    retired_at         BIGINT,
    unpublish_at       BIGINT,
    CONSTRAINT signing_keys_pkey PRIMARY KEY (kid)
);

CREATE TABLE revoked_tokens (
    jti        TEXT COLLATE "C" NOT NULL,
    tenant_id  TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL,
    CONSTRAINT revoked_tokens_pkey PRIMARY KEY (jti)
);

-- The audit log: one hash chain per tenant plus one for the installation. `seq` orders the
-- whole log and is handed out under the lock of `audit_log`, so commit order equals `seq`
-- order and consumers reading "after seq N" never skip a late commit.
-- No foreign key on tenant_id: the audit trail outlives what it mentions.
CREATE TABLE audit_log (
    id  SMALLINT NOT NULL CHECK (id = 1),
    seq BIGINT   NOT NULL,
    CONSTRAINT audit_log_pkey PRIMARY KEY (id)
);
INSERT INTO audit_log (id, seq) VALUES (1, 0);

CREATE TABLE audit_events (
    seq         BIGINT NOT NULL,
    chain       TEXT COLLATE "C" NOT NULL,
    chain_seq   BIGINT NOT NULL,
    prev_hash   BYTEA  NOT NULL CHECK (length(prev_hash) = 32),
    hash        BYTEA  NOT NULL CHECK (length(hash) = 32),
    id          TEXT COLLATE "C" NOT NULL,
    tenant_id   TEXT COLLATE "C",
    actor       TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    target      TEXT   NOT NULL,
    outcome     TEXT   NOT NULL CHECK (outcome IN ('success', 'failure')),
    reason      TEXT   NOT NULL,
    client_ip   TEXT,
    request_id  TEXT,
    occurred_at BIGINT NOT NULL,
    CONSTRAINT audit_events_pkey PRIMARY KEY (seq),
    CONSTRAINT audit_events_id_key UNIQUE (id),
    CONSTRAINT audit_events_chain_seq_key UNIQUE (chain, chain_seq)
);
CREATE INDEX audit_events_tenant_id_seq_idx ON audit_events (tenant_id, seq);

-- The head of each chain: where the next event links to.
CREATE TABLE audit_heads (
    chain     TEXT COLLATE "C" NOT NULL,
    chain_seq BIGINT NOT NULL,
    hash      BYTEA  NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT audit_heads_pkey PRIMARY KEY (chain)
);

CREATE TABLE audit_checkpoints (
    chain      TEXT COLLATE "C" NOT NULL,
    chain_seq  BIGINT NOT NULL,
    hash       BYTEA  NOT NULL CHECK (length(hash) = 32),
    signature  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT audit_checkpoints_pkey PRIMARY KEY (chain, chain_seq)
);

-- How far each consumer of the log (webhooks, NATS, usage counters) has read.
CREATE TABLE event_cursors (
    consumer TEXT COLLATE "C" NOT NULL,
    seq      BIGINT NOT NULL,
    CONSTRAINT event_cursors_pkey PRIMARY KEY (consumer)
);
