-- Agents' registered public keys (private_key_jwt client authentication, DID documents), and
-- the used ids of client assertions and DPoP proofs, kept until they expire so that a replay is
-- refused on every instance.
CREATE TABLE agent_keys (
    tenant_id  TEXT COLLATE "C" NOT NULL,
    agent_id   TEXT COLLATE "C" NOT NULL,
    kid        TEXT COLLATE "C" NOT NULL,
    alg        TEXT   NOT NULL CHECK (alg IN ('ES256', 'EdDSA', 'RS256')),
    jwk        TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT agent_keys_pkey PRIMARY KEY (agent_id, kid),
    CONSTRAINT agent_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT agent_keys_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE CASCADE
);

CREATE TABLE jwt_replays (
    kind       TEXT COLLATE "C" NOT NULL CHECK (kind IN ('client_assertion', 'dpop_proof')),
    jti_hash   BYTEA  NOT NULL CHECK (octet_length(jti_hash) = 32),
    expires_at BIGINT NOT NULL,
    CONSTRAINT jwt_replays_pkey PRIMARY KEY (kind, jti_hash)
);
-- Purging the expired ids.
CREATE INDEX jwt_replays_expires_at_idx ON jwt_replays (expires_at);
