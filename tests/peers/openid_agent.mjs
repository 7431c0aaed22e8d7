// A certified relying party (npm `openid-client` 6) acting as an agent against Tessera: client
// authentication with `private_key_jwt` (RFC 7523) and a DPoP-bound token (RFC 9449) used at a
// resource. For crates/tessera/tests/integration/dpop.rs.
//
//   node tests/peers/openid_agent.mjs private-key-jwt-dpop < input.json
//
// Input JSON: {issuer, client_id, kid, private_key_pkcs8 (base64 DER of the agent's registered
// ES256 key), resource_url}
//
// Discovery; a plain client_credentials token (private_key_jwt); a DPoP key pair and handle; a
// DPoP-bound token (openid-client answers Tessera's `use_dpop_nonce` itself); the bound token used
// at `resource_url` with its DPoP proof, by a fresh handle of the same key (so its first proof
// has no nonce and the resource's `use_dpop_nonce` is answered); introspection of the bound
// token (private_key_jwt again).
//
// Prints one JSON line: {plain: {token_type, access_token}, bound: {token_type, access_token},
// jkt, resource: {status, body}, resource_log: [{nonce (the proof's, or null), status,
// www_authenticate, dpop_nonce}], introspection}. Any failed step exits 1 with the reason on
// stderr.
import * as client from 'openid-client';
import { calculateJwkThumbprint, exportJWK } from 'jose';

function fail(reason) {
  process.stderr.write(`openid_agent.mjs: ${reason}\n`);
  process.exit(1);
}

async function readInput() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function privateKeyJwtDpop(input) {
  const key = await crypto.subtle.importKey(
    'pkcs8',
    Buffer.from(input.private_key_pkcs8, 'base64'),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  const config = await client.discovery(
    new URL(input.issuer),
    input.client_id,
    undefined,
    client.PrivateKeyJwt({ key, kid: input.kid }),
    { execute: [client.allowInsecureRequests] },
  );
  const plain = await client.clientCredentialsGrant(config);

  const dpopKeys = await client.randomDPoPKeyPair('ES256');
  const DPoP = client.getDPoPHandle(config, dpopKeys);
  const bound = await client.clientCredentialsGrant(config, {}, { DPoP });
  const jkt = await calculateJwkThumbprint(await exportJWK(dpopKeys.publicKey));

  // The resource's answers, and the nonce each proof carried.
  const resourceLog = [];
  config[client.customFetch] = async (url, options) => {
    const response = await fetch(url, options);
    if (String(url) === input.resource_url) {
      const proof = new Headers(options.headers).get('dpop');
      resourceLog.push({
        nonce: JSON.parse(Buffer.from(proof.split('.')[1], 'base64url')).nonce ?? null,
        status: response.status,
        www_authenticate: response.headers.get('www-authenticate'),
        dpop_nonce: response.headers.get('dpop-nonce'),
      });
    }
    return response;
  };
  const response = await client.fetchProtectedResource(
    config,
    bound.access_token,
    new URL(input.resource_url),
    'GET',
    undefined,
    undefined,
    { DPoP: client.getDPoPHandle(config, dpopKeys) },
  );
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  const introspection = await client.tokenIntrospection(config, bound.access_token);
  return {
    plain: { token_type: plain.token_type, access_token: plain.access_token },
    bound: { token_type: bound.token_type, access_token: bound.access_token },
    jkt,
    resource: { status: response.status, body },
    resource_log: resourceLog,
    introspection,
  };
}

const mode = process.argv[2];
const input = await readInput();
try {
  if (mode !== 'private-key-jwt-dpop') fail(`unknown mode ${mode}`);
  process.stdout.write(JSON.stringify(await privateKeyJwtDpop(input)) + '\n');
} catch (error) {
  fail(`${error?.code ?? ''} ${error?.message ?? error} ${JSON.stringify(error?.cause ?? '')}`);
}
