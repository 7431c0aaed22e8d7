-- Every write of a connection's token set bumps its revision. A refresh writes its outcome only
-- if the row is still at the revision it read, whoever holds the lease by then: a refresh that
-- outlived its lease still stores the rotated refresh token, unless someone stored newer tokens.
ALTER TABLE connections ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
