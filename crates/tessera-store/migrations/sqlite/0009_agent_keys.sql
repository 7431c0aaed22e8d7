-- Agents' registered public keys (private_key_jwt client authentication, DID documents), and
-- the used ids of client assertions and DPoP proofs, kept until they expire so that a replay is
-- refused on every instance.
CREATE TABLE agent_keys (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    agent_id   TEXT    NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    kid        TEXT    NOT NULL,
    alg        TEXT    NOT NULL CHECK (alg IN ('ES256', 'EdDSA', 'RS256')),
    jwk        TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (agent_id, kid)
) STRICT;

CREATE TABLE jwt_replays (
    kind       TEXT    NOT NULL CHECK (kind IN ('client_assertion', 'dpop_proof')),
    jti_hash   BLOB    NOT NULL CHECK (length(jti_hash) = 32),
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (kind, jti_hash)
) STRICT;
-- Purging the expired ids.
CREATE INDEX jwt_replays_expires_at_idx ON jwt_replays (expires_at);
