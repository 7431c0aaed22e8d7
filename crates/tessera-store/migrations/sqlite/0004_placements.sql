-- Placements (SQLite). Keep it the same logical schema as ../postgres/0004_placements.sql.
-- Where each entity's (tenant's) runtime listens. The gateway reads one row per request by
-- entity id (the primary key) or, for older clients, by agent id (a unique index); the
-- supervising instance reads its own rows by owner at start. Times are unix seconds.
CREATE TABLE placements (
    entity_id  TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    agent_id   TEXT    REFERENCES agents (id) ON DELETE SET NULL,
    address    TEXT    NOT NULL,
    port       INTEGER CHECK (port BETWEEN 1 AND 65535),
    backend    TEXT    NOT NULL CHECK (backend IN ('process', 'systemd', 'static')),
    owner      TEXT    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('starting', 'running', 'restarting', 'failed', 'stopped')),
    pid        INTEGER,
    restarts   INTEGER NOT NULL CHECK (restarts >= 0),
    detail     TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX placements_agent_id_key ON placements (agent_id);
CREATE INDEX placements_owner ON placements (owner);
