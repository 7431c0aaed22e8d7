-- Third-party connections (the token vault): one row per scope key, the token set sealed under
-- the master key. `lease_owner`/`lease_until` let one instance at a time refresh a row.
CREATE TABLE connections (
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    scope_kind    TEXT    NOT NULL CHECK (scope_kind IN ('tenant', 'role', 'agent')),
    scope_id      TEXT    NOT NULL,
    provider      TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('connected', 'expired', 'needs_reauth', 'revoked')),
    scopes        TEXT    NOT NULL,
    account       TEXT,
    sealed_tokens BLOB    NOT NULL,
    expires_at    INTEGER,
    connected_at  INTEGER NOT NULL,
    refreshed_at  INTEGER,
    updated_at    INTEGER NOT NULL,
    lease_owner   TEXT,
    lease_until   INTEGER,
    PRIMARY KEY (tenant_id, scope_kind, scope_id, provider, name)
) STRICT;
