-- Placements (PostgreSQL). Keep it the same logical schema as ../sqlite/0004_placements.sql.
-- Where each entity's (tenant's) runtime listens. The gateway reads one row per request by
-- entity id (the primary key) or, for older clients, by agent id (a unique index); the
-- supervising instance reads its own rows by owner at start. Times are unix seconds.
CREATE TABLE placements (
    entity_id  TEXT COLLATE "C" NOT NULL,
    agent_id   TEXT COLLATE "C",
    address    TEXT   NOT NULL,
    port       BIGINT CHECK (port BETWEEN 1 AND 65535),
    backend    TEXT   NOT NULL CHECK (backend IN ('process', 'systemd', 'static')),
    owner      TEXT   NOT NULL,
    status     TEXT   NOT NULL CHECK (status IN ('starting', 'running', 'restarting', 'failed', 'stopped')),
    pid        BIGINT,
    restarts   BIGINT NOT NULL CHECK (restarts >= 0),
    detail     TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT placements_pkey PRIMARY KEY (entity_id),
    CONSTRAINT placements_entity_id_fkey FOREIGN KEY (entity_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT placements_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE SET NULL
);

CREATE UNIQUE INDEX placements_agent_id_key ON placements (agent_id);
CREATE INDEX placements_owner ON placements (owner);
