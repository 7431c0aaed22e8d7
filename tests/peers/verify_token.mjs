#!/usr/bin/env node
// Verify a Tessera access token the way an independent relying party would,
// with npm `jose` (a second ecosystem beside verify_token.py).
//
// Usage: node verify_token.mjs ISSUER_URL TOKEN AUDIENCE
//
// Only public material is used: ISSUER_URL/.well-known/openid-configuration
// and the JWKS it points to. Checks: discovery `issuer` equals ISSUER_URL
// exactly; signature against the JWKS key named by `kid` (ES256, EdDSA or
// RS256); `iss`, `aud`, `exp`/`nbf`; presence of exp, iat, iss, aud, sub, jti;
// header `typ` is `at+jwt` (RFC 9068; jose compares case-insensitively and
// accepts the `application/` prefix).
//
// Exit 0 and the claims as JSON on stdout when valid; exit 1 with the reason
// on stderr otherwise. Dependencies: tests/peers/package.json.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const ALGORITHMS = ['ES256', 'EdDSA', 'RS256'];
const REQUIRED_CLAIMS = ['exp', 'iat', 'iss', 'aud', 'sub', 'jti'];
const TIMEOUT_MS = 10_000;

function fail(reason) {
  process.stderr.write(`verify_token.mjs: ${reason}\n`);
  process.exit(1);
}

async function verify(issuer, token, audience) {
  const discoveryUrl = issuer.replace(/\/+$/, '') + '/.well-known/openid-configuration';
  const res = await fetch(discoveryUrl, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (!res.ok) fail(`GET ${discoveryUrl}: HTTP ${res.status}`);
  const discovery = await res.json();
  if (discovery.issuer !== issuer) {
    fail(`discovery issuer ${JSON.stringify(discovery.issuer)} != ${JSON.stringify(issuer)} (${discoveryUrl})`);
  }
  if (typeof discovery.jwks_uri !== 'string' || discovery.jwks_uri === '') {
    fail(`discovery document has no jwks_uri (${discoveryUrl})`);
  }
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri), { timeoutDuration: TIMEOUT_MS });
  const { payload } = await jwtVerify(token, jwks, {
    issuer,
    audience,
    typ: 'at+jwt',
    algorithms: ALGORITHMS,
    requiredClaims: REQUIRED_CLAIMS,
  });
  return payload;
}

const args = process.argv.slice(2);
if (args.length !== 3) fail('usage: verify_token.mjs ISSUER_URL TOKEN AUDIENCE');
const [issuer, token, audience] = args;
try {
  const claims = await verify(issuer, token, audience);
  const sorted = Object.fromEntries(Object.entries(claims).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  process.stdout.write(JSON.stringify(sorted) + '\n');
  process.exit(0);
} catch (err) {
  fail(`${err?.code ?? err?.name ?? 'Error'}: ${err?.message ?? err}`);
}
