-- People (PostgreSQL). Keep it the same logical schema as ../sqlite/0005_people.sql.
-- Users exist through identities (one row per sign-in door, unique by kind and subject); each
-- user has one custodial wallet (private key sealed under the master key), memberships in
-- tenants with a role, and sessions whose refresh tokens are kept as SHA-256 only. Challenges
-- are the one-time secrets of sign-in flows (email links and codes, wallet nonces, OAuth state,
-- passkey ceremonies), also hashed. Times are unix seconds.

CREATE TABLE users (
    id         TEXT COLLATE "C" NOT NULL,
    email      TEXT,
    name       TEXT,
    created_at BIGINT NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id)
);

CREATE TABLE identities (
    id           TEXT COLLATE "C" NOT NULL,
    user_id      TEXT COLLATE "C" NOT NULL,
    kind         TEXT   NOT NULL,
    subject      TEXT   NOT NULL,
    credential   TEXT,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    CONSTRAINT identities_pkey PRIMARY KEY (id),
    CONSTRAINT identities_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX identities_kind_subject_key ON identities (kind, subject);
CREATE INDEX identities_user_id_idx ON identities (user_id);

CREATE TABLE wallets (
    id         TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    chain      TEXT   NOT NULL CHECK (chain IN ('eip155', 'solana')),
    address    TEXT   NOT NULL,
    sealed_key BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT wallets_pkey PRIMARY KEY (id),
    CONSTRAINT wallets_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX wallets_chain_address_key ON wallets (chain, address);
CREATE INDEX wallets_user_id_idx ON wallets (user_id);

CREATE TABLE memberships (
    tenant_id  TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL,
    role       TEXT   NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at BIGINT NOT NULL,
    CONSTRAINT memberships_pkey PRIMARY KEY (tenant_id, user_id),
    CONSTRAINT memberships_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT memberships_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX memberships_user_id_idx ON memberships (user_id);

CREATE TABLE sessions (
    id           TEXT COLLATE "C" NOT NULL,
    user_id      TEXT COLLATE "C" NOT NULL,
    method       TEXT   NOT NULL,
    client_ip    TEXT,
    user_agent   TEXT,
    created_at   BIGINT NOT NULL,
    refreshed_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    hash       BYTEA  NOT NULL CHECK (octet_length(hash) = 32),
    session_id TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (hash),
    CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

CREATE TABLE challenges (
    key        BYTEA  NOT NULL CHECK (octet_length(key) = 32),
    kind       TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    payload    TEXT   NOT NULL,
    failures   BIGINT NOT NULL CHECK (failures >= 0),
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT challenges_pkey PRIMARY KEY (key)
);
CREATE INDEX challenges_kind_subject_idx ON challenges (kind, subject, created_at);
CREATE INDEX challenges_expires_at_idx ON challenges (expires_at);

-- Mail Tessera would have sent, when no SMTP server is configured (embedded mode).
CREATE TABLE email_outbox (
    id         TEXT COLLATE "C" NOT NULL,
    recipient  TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    body       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT email_outbox_pkey PRIMARY KEY (id)
);

-- API keys may now belong to a user (acting with the user's memberships): "exactly one owner"
-- gains a third column.
ALTER TABLE api_keys ADD COLUMN user_id TEXT COLLATE "C";
ALTER TABLE api_keys ADD CONSTRAINT api_keys_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_one_owner;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_one_owner CHECK (
    (tenant_id IS NOT NULL)::int + (operator_id IS NOT NULL)::int + (user_id IS NOT NULL)::int = 1
);
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);
