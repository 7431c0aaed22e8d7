-- People (SQLite). Keep it the same logical schema as ../postgres/0005_people.sql.
-- Users exist through identities (one row per sign-in door, unique by kind and subject); each
-- user has one custodial wallet (private key sealed under the master key), memberships in
-- tenants with a role, and sessions whose refresh tokens are kept as SHA-256 only. Challenges
-- are the one-time secrets of sign-in flows (email links and codes, wallet nonces, OAuth state,
-- passkey ceremonies), also hashed. Times are unix seconds.

CREATE TABLE users (
    id         TEXT    NOT NULL PRIMARY KEY,
    email      TEXT,
    name       TEXT,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE identities (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    credential   TEXT,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
) STRICT;
-- Sign-in finds the door by what it is keyed by; one door belongs to one person.
CREATE UNIQUE INDEX identities_kind_subject_key ON identities (kind, subject);
CREATE INDEX identities_user_id_idx ON identities (user_id);

CREATE TABLE wallets (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chain      TEXT    NOT NULL CHECK (chain IN ('eip155', 'solana')),
    address    TEXT    NOT NULL,
    sealed_key BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX wallets_chain_address_key ON wallets (chain, address);
CREATE INDEX wallets_user_id_idx ON wallets (user_id);

CREATE TABLE memberships (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
) STRICT;
CREATE INDEX memberships_user_id_idx ON memberships (user_id);

CREATE TABLE sessions (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method       TEXT    NOT NULL,
    client_ip    TEXT,
    user_agent   TEXT,
    created_at   INTEGER NOT NULL,
    refreshed_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
) STRICT;
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    hash       BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

CREATE TABLE challenges (
    key        BLOB    NOT NULL PRIMARY KEY CHECK (length(key) = 32),
    kind       TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    failures   INTEGER NOT NULL CHECK (failures >= 0),
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX challenges_kind_subject_idx ON challenges (kind, subject, created_at);
CREATE INDEX challenges_expires_at_idx ON challenges (expires_at);

-- Mail Tessera would have sent, when no SMTP server is configured (embedded mode).
CREATE TABLE email_outbox (
    id         TEXT    NOT NULL PRIMARY KEY,
    recipient  TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- API keys may now belong to a user (acting with the user's memberships), so the rule "exactly
-- one owner" gains a third column. SQLite cannot change a CHECK in place: the table is rebuilt.
CREATE TABLE api_keys_next (
    id           TEXT    NOT NULL PRIMARY KEY,
    tenant_id    TEXT    REFERENCES tenants (id) ON DELETE CASCADE,
    operator_id  TEXT    REFERENCES operators (id),
    user_id      TEXT    REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    secret_hash  BLOB    NOT NULL CHECK (length(secret_hash) = 32),
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    created_at   INTEGER NOT NULL,
    CONSTRAINT api_keys_one_owner CHECK (
        (tenant_id IS NOT NULL) + (operator_id IS NOT NULL) + (user_id IS NOT NULL) = 1
    )
) STRICT;
INSERT INTO api_keys_next (id, tenant_id, operator_id, name, scopes, secret_hash, expires_at,
                           revoked_at, last_used_at, created_at)
    SELECT id, tenant_id, operator_id, name, scopes, secret_hash, expires_at, revoked_at,
           last_used_at, created_at
    FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_next RENAME TO api_keys;
CREATE UNIQUE INDEX api_keys_secret_hash_key ON api_keys (secret_hash);
CREATE INDEX api_keys_tenant_id_idx ON api_keys (tenant_id);
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);
