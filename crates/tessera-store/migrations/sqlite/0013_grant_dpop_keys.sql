-- The DPoP key a grant is bound to (RFC 9449): the authorization request's `dpop_jkt`, or a
-- public client's proof key at the code exchange; its RFC 7638 thumbprint.
ALTER TABLE oauth_grants ADD COLUMN dpop_jkt TEXT;
