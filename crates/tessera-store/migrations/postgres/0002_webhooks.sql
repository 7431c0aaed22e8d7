-- Webhooks (PostgreSQL). Keep it the same logical schema as ../sqlite/0002_webhooks.sql.
-- A subscription's signing secret is sealed (AEAD envelope under the master key, associated data:
-- the webhook id), because signing needs it in clear. Deliveries are the queue: one row per
-- (subscription, event), attempted until delivered or dead-lettered; a lease (token + expiry)
-- keeps two instances from sending the same attempt at once.

CREATE TABLE webhooks (
    id                         TEXT COLLATE "C" NOT NULL,
    tenant_id                  TEXT COLLATE "C" NOT NULL,
    url                        TEXT   NOT NULL,
    event_types                TEXT   NOT NULL,
    description                TEXT,
    status                     TEXT   NOT NULL CHECK (status IN ('active', 'disabled')),
    disabled_reason            TEXT   CHECK (disabled_reason IN ('manual', 'dead_letters', 'failing_too_long')),
    sealed_secret              BYTEA  NOT NULL,
    previous_sealed_secret     BYTEA,
    previous_secret_expires_at BIGINT,
    dead_letter_streak         BIGINT NOT NULL,
    failing_since              BIGINT,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL,
    CONSTRAINT webhooks_pkey PRIMARY KEY (id),
    CONSTRAINT webhooks_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
-- Listing pages through one tenant's subscriptions in id order; fan-out reads its active ones.
CREATE INDEX webhooks_tenant_id_id_idx ON webhooks (tenant_id, id);

CREATE TABLE webhook_deliveries (
    id               TEXT COLLATE "C" NOT NULL,
    tenant_id        TEXT COLLATE "C" NOT NULL,
    webhook_id       TEXT COLLATE "C" NOT NULL,
    event_id         TEXT COLLATE "C" NOT NULL,
    event_type       TEXT   NOT NULL,
    payload          TEXT   NOT NULL,
    status           TEXT   NOT NULL CHECK (status IN ('pending', 'delivered', 'dead_letter')),
    attempts         BIGINT NOT NULL,
    round_start      BIGINT NOT NULL,
    next_attempt_at  BIGINT,
    lease_token      TEXT COLLATE "C",
    lease_until      BIGINT,
    last_attempt_at  BIGINT,
    last_status_code BIGINT,
    last_error       TEXT,
    delivered_at     BIGINT,
    created_at       BIGINT NOT NULL,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id),
    CONSTRAINT webhook_deliveries_webhook_id_fkey FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE,
    -- An event is queued once per subscription, however often it is fanned out.
    CONSTRAINT webhook_deliveries_webhook_id_event_id_key UNIQUE (webhook_id, event_id)
);
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
    delivery_id  TEXT COLLATE "C" NOT NULL,
    number       BIGINT NOT NULL,
    tenant_id    TEXT COLLATE "C" NOT NULL,
    attempted_at BIGINT NOT NULL,
    status_code  BIGINT,
    error        TEXT,
    duration_ms  BIGINT NOT NULL,
    CONSTRAINT webhook_attempts_pkey PRIMARY KEY (delivery_id, number),
    CONSTRAINT webhook_attempts_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES webhook_deliveries (id) ON DELETE CASCADE
);
