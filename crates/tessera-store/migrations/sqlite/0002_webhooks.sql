-- Webhooks (SQLite). Keep it the same logical schema as ../postgres/0002_webhooks.sql.
-- A subscription's signing secret is sealed (AEAD envelope under the master key, associated data:
-- the webhook id), because signing needs it in clear. Deliveries are the queue: one row per
-- (subscription, event), attempted until delivered or dead-lettered; a lease (token + expiry)
-- keeps two instances from sending the same attempt at once.

CREATE TABLE webhooks (
    id                         TEXT    NOT NULL PRIMARY KEY,
    tenant_id                  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url                        TEXT    NOT NULL,
    event_types                TEXT    NOT NULL,
    description                TEXT,
    status                     TEXT    NOT NULL CHECK (status IN ('active', 'disabled')),
    disabled_reason            TEXT    CHECK (disabled_reason IN ('manual', 'dead_letters', 'failing_too_long')),
    sealed_secret              BLOB    NOT NULL,
    previous_sealed_secret     BLOB,
    previous_secret_expires_at INTEGER,
    dead_letter_streak         INTEGER NOT NULL,
    failing_since              INTEGER,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
) STRICT;
-- Listing pages through one tenant's subscriptions in id order; fan-out reads its active ones.
CREATE INDEX webhooks_tenant_id_id_idx ON webhooks (tenant_id, id);

CREATE TABLE webhook_deliveries (
    id               TEXT    NOT NULL PRIMARY KEY,
    tenant_id        TEXT    NOT NULL,
    webhook_id       TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         TEXT    NOT NULL,
    event_type       TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'dead_letter')),
    attempts         INTEGER NOT NULL,
    round_start      INTEGER NOT NULL,
    next_attempt_at  INTEGER,
    lease_token      TEXT,
    lease_until      INTEGER,
    last_attempt_at  INTEGER,
    last_status_code INTEGER,
    last_error       TEXT,
    delivered_at     INTEGER,
    created_at       INTEGER NOT NULL,
    -- An event is queued once per subscription, however often it is fanned out.
    CONSTRAINT webhook_deliveries_webhook_id_event_id_key UNIQUE (webhook_id, event_id)
) STRICT;
-- The deliverer's question: what is due?
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- Deliveries leased by one claim.
CREATE INDEX webhook_deliveries_lease_token_idx ON webhook_deliveries (lease_token) WHERE lease_token IS NOT NULL;
-- History per subscription and dead letters per tenant, newest first.
CREATE INDEX webhook_deliveries_webhook_id_id_idx ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_tenant_id_status_id_idx ON webhook_deliveries (tenant_id, status, id);
-- Pruning finished deliveries past `webhooks_history_days`, oldest first.
CREATE INDEX webhook_deliveries_created_at_idx ON webhook_deliveries (created_at) WHERE status <> 'pending';

CREATE TABLE webhook_attempts (
    delivery_id  TEXT    NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    tenant_id    TEXT    NOT NULL,
    attempted_at INTEGER NOT NULL,
    status_code  INTEGER,
    error        TEXT,
    duration_ms  INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, number)
) STRICT;
