-- The authorization server (SQLite). Keep it the same logical schema as
-- ../postgres/0007_authorization.sql.
-- Applications register OAuth clients in a tenant (a confidential client has the SHA-256 of its
-- secret, a public one none) with their exact redirect URIs, through the tenant's API or, when the
-- operator allows it, dynamically. A person's authorization of a
-- client is a grant: it begins with a single-use code (only its SHA-256 is stored) and lives on
-- through a family of rotating refresh tokens; revoking the grant ends every token issued from
-- it. Consent is remembered per client and person. Times are unix seconds.

CREATE TABLE oauth_clients (
    id            TEXT    NOT NULL PRIMARY KEY,
    tenant_id     TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    secret_hash   BLOB    CHECK (secret_hash IS NULL OR length(secret_hash) = 32),
    redirect_uris TEXT    NOT NULL,
    scopes        TEXT    NOT NULL,
    -- Dynamically registered clients (RFC 7591): SHA-256 of the registration access token
    -- that reads or deletes the registration (RFC 7592).
    registration_token_hash BLOB CHECK (registration_token_hash IS NULL OR length(registration_token_hash) = 32),
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_clients_tenant_id_idx ON oauth_clients (tenant_id);

CREATE TABLE oauth_grants (
    id              TEXT    NOT NULL PRIMARY KEY,
    tenant_id       TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id       TEXT    NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope           TEXT    NOT NULL,
    auth_time       INTEGER NOT NULL,
    code_hash       BLOB    NOT NULL CHECK (length(code_hash) = 32),
    redirect_uri    TEXT    NOT NULL,
    code_challenge  TEXT,
    nonce           TEXT,
    code_expires_at INTEGER NOT NULL,
    code_used_at    INTEGER,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER
) STRICT;
CREATE UNIQUE INDEX oauth_grants_code_hash_key ON oauth_grants (code_hash);
CREATE INDEX oauth_grants_client_id_idx ON oauth_grants (client_id);
CREATE INDEX oauth_grants_user_id_idx ON oauth_grants (user_id);

CREATE TABLE oauth_refresh_tokens (
    hash       BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    grant_id   TEXT    NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX oauth_refresh_tokens_grant_id_idx ON oauth_refresh_tokens (grant_id);

CREATE TABLE oauth_consents (
    client_id  TEXT    NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, user_id)
) STRICT;
CREATE INDEX oauth_consents_user_id_idx ON oauth_consents (user_id);
