-- The foundation schema (SQLite). Keep it the same logical schema as ../postgres/0001_foundation.sql:
-- ids are the typed id strings, times are unix seconds, hashes are 32-byte blobs, scopes are
-- space-separated, capabilities are a JSON array. STRICT makes SQLite refuse values of the
-- wrong type, as PostgreSQL would.

CREATE TABLE operators (
    id         TEXT    NOT NULL PRIMARY KEY,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE tenants (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    email      TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('consumer', 'provider')),
    plan       TEXT    NOT NULL CHECK (plan IN ('explorer', 'professional', 'business', 'enterprise')),
    status     TEXT    NOT NULL CHECK (status IN ('active', 'suspended')),
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    tenant_id    TEXT    REFERENCES tenants (id) ON DELETE CASCADE,
    operator_id  TEXT    REFERENCES operators (id),
    name         TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    secret_hash  BLOB    NOT NULL CHECK (length(secret_hash) = 32),
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    created_at   INTEGER NOT NULL,
    CONSTRAINT api_keys_one_owner CHECK ((tenant_id IS NULL) <> (operator_id IS NULL))
) STRICT;
-- Every authenticated request looks its key up by hash.
CREATE UNIQUE INDEX api_keys_secret_hash_key ON api_keys (secret_hash);
CREATE INDEX api_keys_tenant_id_idx ON api_keys (tenant_id);

CREATE TABLE agents (
    id           TEXT    NOT NULL PRIMARY KEY,
    tenant_id    TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    description  TEXT,
    capabilities TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
-- Listing pages through one tenant's agents in id order.
CREATE INDEX agents_tenant_id_id_idx ON agents (tenant_id, id);

CREATE TABLE client_secrets (
    id          TEXT    NOT NULL PRIMARY KEY,
    agent_id    TEXT    NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    secret_hash BLOB    NOT NULL CHECK (length(secret_hash) = 32),
    expires_at  INTEGER,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX client_secrets_agent_id_idx ON client_secrets (agent_id);

CREATE TABLE signing_keys (
    kid                TEXT    NOT NULL PRIMARY KEY,
    alg                TEXT    NOT NULL,
    sealed_private_key BLOB    NOT NULL,
    public_jwk         TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    activates_at       INTEGER NOT NULL,
    retired_at         INTEGER,
    unpublish_at       INTEGER
) STRICT;

CREATE TABLE revoked_tokens (
    jti        TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL
) STRICT;

-- The audit log: one hash chain per tenant plus one for the installation. `seq` orders the
-- whole log and is handed out under the lock of `audit_log`, so commit order equals `seq`
-- order and consumers reading "after seq N" never skip a late commit.
-- No foreign key on tenant_id: the audit trail outlives what it mentions.
CREATE TABLE audit_log (
    id  INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
) STRICT;
INSERT INTO audit_log (id, seq) VALUES (1, 0);

CREATE TABLE audit_events (
    seq         INTEGER NOT NULL PRIMARY KEY,
    chain       TEXT    NOT NULL,
    chain_seq   INTEGER NOT NULL,
    prev_hash   BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash        BLOB    NOT NULL CHECK (length(hash) = 32),
    id          TEXT    NOT NULL UNIQUE,
    tenant_id   TEXT,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('success', 'failure')),
    reason      TEXT    NOT NULL,
    client_ip   TEXT,
    request_id  TEXT,
    occurred_at INTEGER NOT NULL,
    UNIQUE (chain, chain_seq)
) STRICT;
CREATE INDEX audit_events_tenant_id_seq_idx ON audit_events (tenant_id, seq);

-- The head of each chain: where the next event links to.
CREATE TABLE audit_heads (
    chain     TEXT    NOT NULL PRIMARY KEY,
    chain_seq INTEGER NOT NULL,
    hash      BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

CREATE TABLE audit_checkpoints (
    chain      TEXT    NOT NULL,
    chain_seq  INTEGER NOT NULL,
    hash       BLOB    NOT NULL CHECK (length(hash) = 32),
    signature  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (chain, chain_seq)
) STRICT;

-- How far each consumer of the log (webhooks, NATS, usage counters) has read.
CREATE TABLE event_cursors (
    consumer TEXT    NOT NULL PRIMARY KEY,
    seq      INTEGER NOT NULL
) STRICT;
