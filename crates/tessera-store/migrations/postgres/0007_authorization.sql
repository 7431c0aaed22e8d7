-- The authorization server (PostgreSQL). Keep it the same logical schema as
-- ../sqlite/0007_authorization.sql.
-- Applications register OAuth clients in a tenant (a confidential client has the SHA-256 of its
-- secret, a public one none) with their exact redirect URIs, through the tenant's API or, when the
-- operator allows it, dynamically. A person's authorization of a
-- client is a grant: it begins with a single-use code (only its SHA-256 is stored) and lives on
-- through a family of rotating refresh tokens; revoking the grant ends every token issued from
-- it. Consent is remembered per client and person. Times are unix seconds.

CREATE TABLE oauth_clients (
    id            TEXT COLLATE "C" NOT NULL,
    tenant_id     TEXT COLLATE "C" NOT NULL,
    name          TEXT   NOT NULL,
    secret_hash   BYTEA  CHECK (secret_hash IS NULL OR length(secret_hash) = 32),
    redirect_uris TEXT   NOT NULL,
    scopes        TEXT   NOT NULL,
    -- Dynamically registered clients (RFC 7591): SHA-256 of the registration access token
    -- that reads or deletes the registration (RFC 7592).
    registration_token_hash BYTEA CHECK (registration_token_hash IS NULL OR length(registration_token_hash) = 32),
    created_at    BIGINT NOT NULL,
    CONSTRAINT oauth_clients_pkey PRIMARY KEY (id),
    CONSTRAINT oauth_clients_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
CREATE INDEX oauth_clients_tenant_id_idx ON oauth_clients (tenant_id);

CREATE TABLE oauth_grants (
    id              TEXT COLLATE "C" NOT NULL,
    tenant_id       TEXT COLLATE "C" NOT NULL,
    client_id       TEXT COLLATE "C" NOT NULL,
    user_id         TEXT COLLATE "C" NOT NULL,
    scope           TEXT   NOT NULL,
    auth_time       BIGINT NOT NULL,
    code_hash       BYTEA  NOT NULL CHECK (length(code_hash) = 32),
    redirect_uri    TEXT   NOT NULL,
    code_challenge  TEXT,
    nonce           TEXT,
    code_expires_at BIGINT NOT NULL,
    code_used_at    BIGINT,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT,
    CONSTRAINT oauth_grants_pkey PRIMARY KEY (id),
    CONSTRAINT oauth_grants_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT oauth_grants_client_id_fkey FOREIGN KEY (client_id) REFERENCES oauth_clients (id) ON DELETE CASCADE,
    CONSTRAINT oauth_grants_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX oauth_grants_code_hash_key ON oauth_grants (code_hash);
CREATE INDEX oauth_grants_client_id_idx ON oauth_grants (client_id);
CREATE INDEX oauth_grants_user_id_idx ON oauth_grants (user_id);

CREATE TABLE oauth_refresh_tokens (
    hash       BYTEA  NOT NULL CHECK (length(hash) = 32),
    grant_id   TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    CONSTRAINT oauth_refresh_tokens_pkey PRIMARY KEY (hash),
    CONSTRAINT oauth_refresh_tokens_grant_id_fkey FOREIGN KEY (grant_id) REFERENCES oauth_grants (id) ON DELETE CASCADE
);
CREATE INDEX oauth_refresh_tokens_grant_id_idx ON oauth_refresh_tokens (grant_id);

CREATE TABLE oauth_consents (
    client_id  TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    scope      TEXT   NOT NULL,
    granted_at BIGINT NOT NULL,
    CONSTRAINT oauth_consents_pkey PRIMARY KEY (client_id, user_id),
    CONSTRAINT oauth_consents_client_id_fkey FOREIGN KEY (client_id) REFERENCES oauth_clients (id) ON DELETE CASCADE,
    CONSTRAINT oauth_consents_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX oauth_consents_user_id_idx ON oauth_consents (user_id);
