-- Several resources per grant, and consent per resource (PostgreSQL). Keep it the same logical
-- schema as ../sqlite/0015_resource_consents.sql.
-- A grant covers every resource (RFC 8707) its authorization request named, space-separated in
-- the request's order (resource identifiers are absolute URIs, which hold no space); NULL:
-- Tessera's API only. Each token request picks one of them as the token's `aud`.
-- Consent is remembered per client, person and resource: the empty string is Tessera's own
-- API (so the rows consented to before survive as consent to it).

ALTER TABLE oauth_grants RENAME COLUMN resource TO resources;

ALTER TABLE oauth_consents ADD COLUMN resource TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE oauth_consents ALTER COLUMN resource DROP DEFAULT;
ALTER TABLE oauth_consents DROP CONSTRAINT oauth_consents_pkey;
ALTER TABLE oauth_consents ADD CONSTRAINT oauth_consents_pkey PRIMARY KEY (client_id, user_id, resource);
