-- Resource indicators and the device authorization grant (PostgreSQL). Keep it the same logical
-- schema as ../sqlite/0008_resources_devices.sql.
-- A grant remembers the resource (RFC 8707) its application asked for: the `aud` of its tokens.
-- A device authorization (RFC 8628) waits, pending, for a signed-in person to enter its user code
-- and approve or deny it, while the device polls with its device code; only the SHA-256 of each
-- code is stored. Approval records the person; the first poll after it redeems it, once.
-- Times are unix seconds.

ALTER TABLE oauth_grants ADD COLUMN resource TEXT;

CREATE TABLE oauth_device_authorizations (
    device_code_hash BYTEA  NOT NULL CHECK (length(device_code_hash) = 32),
    user_code_hash   BYTEA  NOT NULL CHECK (length(user_code_hash) = 32),
    tenant_id        TEXT COLLATE "C" NOT NULL,
    client_id        TEXT COLLATE "C" NOT NULL,
    scope            TEXT   NOT NULL,
    resource         TEXT,
    -- pending, approved, denied or redeemed
    status           TEXT   NOT NULL,
    user_id          TEXT COLLATE "C",
    auth_time        BIGINT,
    interval_secs    BIGINT NOT NULL,
    last_polled_at   BIGINT,
    expires_at       BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    CONSTRAINT oauth_device_authorizations_pkey PRIMARY KEY (device_code_hash),
    CONSTRAINT oauth_device_authorizations_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT oauth_device_authorizations_client_id_fkey FOREIGN KEY (client_id) REFERENCES oauth_clients (id) ON DELETE CASCADE,
    CONSTRAINT oauth_device_authorizations_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX oauth_device_authorizations_user_code_hash_key
    ON oauth_device_authorizations (user_code_hash);
CREATE INDEX oauth_device_authorizations_client_id_idx ON oauth_device_authorizations (client_id);
CREATE INDEX oauth_device_authorizations_tenant_id_idx ON oauth_device_authorizations (tenant_id);
CREATE INDEX oauth_device_authorizations_user_id_idx ON oauth_device_authorizations (user_id);
