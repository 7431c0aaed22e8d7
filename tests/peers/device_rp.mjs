// The device authorization grant (RFC 8628) run by a certified relying party (npm
// `openid-client` 6) against Tessera, for crates/tessera/tests/integration/device.rs.
//
//   node tests/peers/device_rp.mjs device-flow < input.json
//
// Input JSON: {issuer, client_id, client_secret (absent: a public client), scope, cookie (a
// signed-in person's session cookie, `name=value`)}
//
// openid-client starts the device authorization and polls the token endpoint (honouring
// `interval` and `slow_down`) while the person's browser, played over HTTP with the cookie,
// opens `verification_uri_complete`, submits the user code, reads the consent screen and
// allows. openid-client then checks the token response and the ID token (signature from the
// JWKS, iss, aud, exp).
//
// Prints one JSON line: {device: {user_code, verification_uri, verification_uri_complete,
// expires_in, interval}, entry_prefilled, consent_scopes, finished, id_token_claims, tokens:
// {access_token, refresh_token, scope}}. Any failed check exits 1 with the reason on stderr.
//
// Mode `device-flow-dpop`: the device polls with a DPoP handle (RFC 9449, answering
// `use_dpop_nonce` itself), for crates/tessera/tests/integration/dpop_grants.rs; the output
// adds `jkt` (the handle key's thumbprint) and `tokens.token_type`.
import * as client from 'openid-client';
import { calculateJwkThumbprint, exportJWK } from 'jose';

const TIMEOUT_MS = 10_000;

function fail(reason) {
  process.stderr.write(`device_rp.mjs: ${reason}\n`);
  process.exit(1);
}

async function readInput() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function unescapeHtml(text) {
  return text.replace(/&(#\d+|#x[0-9a-f]+|amp|lt|gt|quot|apos);/gi, (_, entity) => {
    const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[entity.toLowerCase()];
    if (named) return named;
    return String.fromCodePoint(entity[1] === 'x' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10));
  });
}

// The person's browser on the verification page: enter the code, allow.
async function approve(device, input) {
  const origin = new URL(input.issuer).origin;
  const send = (url, init = {}) =>
    fetch(new URL(url, origin), {
      ...init,
      headers: { cookie: input.cookie, origin, ...(init.headers ?? {}) },
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  const entry = await send(device.verification_uri_complete);
  if (entry.status !== 200) fail(`verification page: HTTP ${entry.status}`);
  const typed = unescapeHtml(/name="user_code" value="([^"]*)"/.exec(await entry.text())?.[1] ?? '');
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const consent = await send('/console/device', {
    method: 'POST',
    headers: form,
    body: new URLSearchParams({ user_code: typed }),
  });
  if (consent.status !== 200) fail(`entering the code: HTTP ${consent.status} ${await consent.text()}`);
  const html = await consent.text();
  const handle = unescapeHtml(/name="request" value="([^"]+)"/.exec(html)?.[1] ?? '');
  const action = unescapeHtml(/<form id="consent" method="post" action="([^"]+)"/.exec(html)?.[1] ?? '');
  if (!handle || !action) fail('the consent screen has no form');
  const scopes = [...html.matchAll(/data-scope="([^"]+)"/g)].map((m) => unescapeHtml(m[1]));
  const answered = await send(action, {
    method: 'POST',
    headers: form,
    body: new URLSearchParams({ request: handle, decision: 'allow' }),
  });
  if (answered.status !== 200) fail(`allowing: HTTP ${answered.status}`);
  const finished = /<p id="message">([^<]*)<\/p>/.exec(await answered.text())?.[1] ?? '';
  return { prefilled: typed, scopes, finished: unescapeHtml(finished) };
}

async function deviceFlow(input, dpop = false) {
  const auth = input.client_secret ? client.ClientSecretBasic(input.client_secret) : client.None();
  const config = await client.discovery(new URL(input.issuer), input.client_id, undefined, auth, {
    execute: [client.allowInsecureRequests],
  });
  const device = await client.initiateDeviceAuthorization(config, { scope: input.scope });
  const keys = dpop ? await client.randomDPoPKeyPair('ES256') : undefined;
  const options = keys ? { DPoP: client.getDPoPHandle(config, keys) } : undefined;
  // The device polls while the person answers elsewhere.
  const polling = client.pollDeviceAuthorizationGrant(config, device, undefined, options);
  const person = await approve(device, input);
  const tokens = await polling;
  return {
    device: {
      user_code: device.user_code,
      verification_uri: device.verification_uri,
      verification_uri_complete: device.verification_uri_complete,
      expires_in: device.expires_in,
      interval: device.interval,
    },
    entry_prefilled: person.prefilled,
    consent_scopes: person.scopes,
    finished: person.finished,
    id_token_claims: tokens.claims() ?? null,
    jkt: keys ? await calculateJwkThumbprint(await exportJWK(keys.publicKey)) : null,
    tokens: {
      token_type: tokens.token_type,
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      scope: tokens.scope,
    },
  };
}

const mode = process.argv[2];
const input = await readInput();
try {
  if (mode !== 'device-flow' && mode !== 'device-flow-dpop') fail(`unknown mode ${mode}`);
  process.stdout.write(JSON.stringify(await deviceFlow(input, mode === 'device-flow-dpop')) + '\n');
} catch (error) {
  fail(`${error?.code ?? ''} ${error?.error ?? ''} ${error?.message ?? error} ${JSON.stringify(error?.cause ?? '')}`);
}
