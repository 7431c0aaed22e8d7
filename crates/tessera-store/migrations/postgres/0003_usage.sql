-- Usage counters (PostgreSQL). Keep it the same logical schema as ../sqlite/0003_usage.sql.
-- Maintained by the `usage` consumer of the audit log (and, later, by the gateway), read by
-- analytics; queries never scan the audit log. Times are unix seconds, hours start on UTC hours.
-- No foreign keys, like the audit log: counts outlive the agents they count, and a consumer must
-- never stall on an event about an agent deleted since. `kind` has no CHECK so that new kinds
-- need no migration; the domain refuses unknown kinds when it reads them.

-- What each agent did per hour: the source of trends and heat maps.
CREATE TABLE usage_hourly (
    tenant_id TEXT COLLATE "C" NOT NULL,
    hour      BIGINT NOT NULL CHECK (hour % 3600 = 0),
    agent_id  TEXT COLLATE "C" NOT NULL,
    kind      TEXT COLLATE "C" NOT NULL,
    n         BIGINT NOT NULL CHECK (n >= 0),
    CONSTRAINT usage_hourly_pkey PRIMARY KEY (tenant_id, hour, agent_id, kind)
);

-- All-time counts per agent and kind and the latest event counted: usage summaries and
-- "last seen" without summing every hour.
CREATE TABLE usage_totals (
    tenant_id TEXT COLLATE "C" NOT NULL,
    agent_id  TEXT COLLATE "C" NOT NULL,
    kind      TEXT COLLATE "C" NOT NULL,
    n         BIGINT NOT NULL CHECK (n >= 0),
    last_at   BIGINT NOT NULL,
    CONSTRAINT usage_totals_pkey PRIMARY KEY (tenant_id, agent_id, kind)
);
