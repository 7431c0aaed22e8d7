-- How OAuth clients authenticate, and which grants they registered for (RFC 7591). Keep it the
-- same logical schema in ../sqlite and ../postgres.
-- `auth_method`: none (public), client_secret_basic, client_secret_post or private_key_jwt
-- (RFC 7523). A private_key_jwt client has its public keys inline (`jwks`, a JWK Set as JSON)
-- or at `jwks_uri`, never both, and no secret. `grant_types`: a JSON array of grant type names.
-- Clients registered before keep what they could do: a secret is used with Basic (or post),
-- clients of the tenants' API every person's grant, dynamically registered ones what their
-- registration said (authorization_code, refresh_token).
ALTER TABLE oauth_clients ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'client_secret_basic';
ALTER TABLE oauth_clients ADD COLUMN jwks TEXT;
ALTER TABLE oauth_clients ADD COLUMN jwks_uri TEXT;
ALTER TABLE oauth_clients ADD COLUMN grant_types TEXT NOT NULL
    DEFAULT '["authorization_code","refresh_token","urn:ietf:params:oauth:grant-type:device_code"]';
UPDATE oauth_clients SET auth_method = 'none' WHERE secret_hash IS NULL;
UPDATE oauth_clients SET grant_types = '["authorization_code","refresh_token"]'
    WHERE registration_token_hash IS NOT NULL;
