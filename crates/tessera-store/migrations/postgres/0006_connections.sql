-- Third-party connections (the token vault): one row per scope key, the token set sealed under
-- the master key. `lease_owner`/`lease_until` let one instance at a time refresh a row.
CREATE TABLE connections (
    tenant_id     TEXT COLLATE "C" NOT NULL,
    scope_kind    TEXT COLLATE "C" NOT NULL CHECK (scope_kind IN ('tenant', 'role', 'agent')),
    scope_id      TEXT COLLATE "C" NOT NULL,
    provider      TEXT COLLATE "C" NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    status        TEXT   NOT NULL CHECK (status IN ('connected', 'expired', 'needs_reauth', 'revoked')),
    scopes        TEXT   NOT NULL,
    account       TEXT,
    sealed_tokens BYTEA  NOT NULL,
    expires_at    BIGINT,
    connected_at  BIGINT NOT NULL,
    refreshed_at  BIGINT,
    updated_at    BIGINT NOT NULL,
    lease_owner   TEXT,
    lease_until   BIGINT,
    CONSTRAINT connections_pkey PRIMARY KEY (tenant_id, scope_kind, scope_id, provider, name),
    CONSTRAINT connections_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
