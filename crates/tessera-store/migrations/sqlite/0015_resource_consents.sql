-- Several resources per grant, and consent per resource (SQLite). Keep it the same logical
-- schema as ../postgres/0015_resource_consents.sql.
-- A grant covers every resource (RFC 8707) its authorization request named, space-separated in
-- the request's order (resource identifiers are absolute URIs, which hold no space); NULL:
-- Tessera's API only. Each token request picks one of them as the token's `aud`.
-- Consent is remembered per client, person and resource: the empty string is Tessera's own
-- API (so the rows consented to before survive as consent to it). SQLite cannot alter a primary
-- key, so the table is rebuilt.

ALTER TABLE oauth_grants RENAME COLUMN resource TO resources;

CREATE TABLE oauth_consents_by_resource (
    client_id  TEXT    NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    resource   TEXT    NOT NULL,
    PRIMARY KEY (client_id, user_id, resource)
) STRICT;
INSERT INTO oauth_consents_by_resource (client_id, user_id, scope, granted_at, resource)
    SELECT client_id, user_id, scope, granted_at, '' FROM oauth_consents;
DROP TABLE oauth_consents;
ALTER TABLE oauth_consents_by_resource RENAME TO oauth_consents;
CREATE INDEX oauth_consents_user_id_idx ON oauth_consents (user_id);
