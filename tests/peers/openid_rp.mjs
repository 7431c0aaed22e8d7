// A certified relying party (npm `openid-client` 6) against Tessera's own OpenID Provider, for
// the authorization server's tests (crates/tessera/tests/integration/authorize.rs).
//
//   node tests/peers/openid_rp.mjs code-flow < input.json
//
// Input JSON: {issuer, client_id, client_secret (absent: a public client), redirect_uri, scope,
//              email, password, and for a private_key_jwt client (RFC 7523) instead of a secret:
//              kid, private_key_pkcs8 (base64 DER of its ES256 key)}
//
// The browser's part is played over HTTP with a cookie jar: openid-client builds the
// authorization URL (PKCE S256, state, nonce); Tessera sends the browser to its sign-in page;
// the person signs in with the password door; back at the authorization endpoint the consent
// screen is read and its form posted; the redirect to the client carries the code. Then
// openid-client redeems it (checking state, iss, PKCE, the ID token's signature from the JWKS,
// iss, aud, exp, nonce), reads userinfo, and refreshes once (checking the refreshed ID token
// when there is one).
//
// Prints one JSON line: {login_page, consent_page_scopes, id_token_claims, userinfo, first:
// {access_token, refresh_token, scope, expires_in}, refreshed: {access_token, refresh_token,
// id_token_claims}}.
// Any failed check exits 1 with the reason on stderr.
//
//   node tests/peers/openid_rp.mjs code-flow-dpop < input.json
//
// The same flow with DPoP (RFC 9449, for crates/tessera/tests/integration/dpop_grants.rs):
// input adds `dpop_jkt`: "own" (the authorization request names the client's DPoP key),
// "other" (another key's) or absent. openid-client redeems the code with its DPoP handle
// (answering `use_dpop_nonce` itself); reads userinfo with a fresh handle of the same key, so
// the first proof there has no nonce; refreshes with the same key; then tries the next refresh
// token with another key and with no proof, and refreshes once more with the right key. Every
// request to Tessera is logged: {url, method, nonce (the proof's, or null), status,
// www_authenticate, dpop_nonce}.
//
// Prints {jkt, tokens: {token_type, access_token, refresh_token}, userinfo, refreshed:
// {token_type, access_token}, other_key: {status, error}, no_proof: {status, error}, again:
// {token_type, access_token}, log}, or with a refused code exchange {jkt, code_refused:
// {status, error, error_description}, log}.
import * as client from 'openid-client';
import { calculateJwkThumbprint, exportJWK } from 'jose';

const TIMEOUT_MS = 10_000;

function fail(reason) {
  process.stderr.write(`openid_rp.mjs: ${reason}\n`);
  process.exit(1);
}

async function readInput() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

// The browser: a cookie jar and fetch without automatic redirects.
class Browser {
  constructor(origin) {
    this.origin = origin;
    this.cookies = new Map();
  }

  async request(url, init = {}) {
    const headers = new Headers(init.headers ?? {});
    if (this.cookies.size) {
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    }
    const response = await fetch(new URL(url, this.origin), {
      ...init,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }
}

// What a browser reads from an HTML attribute (askama escapes &, <, >, " and ').
function unescapeHtml(text) {
  return text.replace(/&(#\d+|#x[0-9a-f]+|amp|lt|gt|quot|apos);/gi, (_, entity) => {
    const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[entity.toLowerCase()];
    if (named) return named;
    return String.fromCodePoint(entity[1] === 'x' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10));
  });
}

function location(response, what) {
  if (response.status !== 302 && response.status !== 303) {
    fail(`${what}: expected a redirect, got HTTP ${response.status}`);
  }
  return response.headers.get('location');
}

// The authorization request, signed in and consented to by the person: the callback URL with
// the code, and the checks to redeem it with.
async function authorized(config, input, extra = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: input.redirect_uri,
    scope: input.scope,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });

  const browser = new Browser(input.issuer);
  // No session yet: to the sign-in page, which knows where to come back to.
  const toLogin = location(await browser.request(authorizationUrl), 'authorize without a session');
  const loginPage = await browser.request(toLogin);
  if (loginPage.status !== 200) fail(`login page: HTTP ${loginPage.status}`);
  const loginHtml = await loginPage.text();
  const escaped = /id="after-sign-in" data-next="([^"]*)"/.exec(loginHtml)?.[1];
  if (!escaped) fail('the login page names no page to return to');
  const next = unescapeHtml(escaped);
  const signIn = await browser.request('/v1/auth/password/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: input.email, password: input.password }),
  });
  if (signIn.status !== 200) fail(`password login: HTTP ${signIn.status} ${await signIn.text()}`);

  // Signed in: back to the authorization endpoint, which asks for consent.
  const consentPage = await browser.request(next);
  if (consentPage.status !== 200) fail(`consent page: HTTP ${consentPage.status} ${await consentPage.text()}`);
  const consentHtml = await consentPage.text();
  const handle = unescapeHtml(/name="request" value="([^"]+)"/.exec(consentHtml)?.[1] ?? '');
  if (!handle) fail('the consent page has no request handle');
  const scopes = [...consentHtml.matchAll(/data-scope="([^"]+)"/g)].map((m) => unescapeHtml(m[1]));
  const answered = await browser.request('/oauth2/consent', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(input.issuer).origin },
    body: new URLSearchParams({ request: handle, decision: 'allow' }),
  });
  const callback = new URL(location(answered, 'consent'));
  const checks = { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true };
  return { toLogin, scopes, callback, checks };
}

// How the client authenticates: its key, its secret, or nothing (a public client).
async function clientAuth(input) {
  if (input.private_key_pkcs8) {
    const key = await crypto.subtle.importKey(
      'pkcs8',
      Buffer.from(input.private_key_pkcs8, 'base64'),
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['sign'],
    );
    return client.PrivateKeyJwt({ key, kid: input.kid });
  }
  return input.client_secret ? client.ClientSecretBasic(input.client_secret) : client.None();
}

async function discover(input) {
  const auth = await clientAuth(input);
  return client.discovery(new URL(input.issuer), input.client_id, undefined, auth, {
    execute: [client.allowInsecureRequests],
  });
}

async function codeFlow(input) {
  const config = await discover(input);
  const { toLogin, scopes, callback, checks } = await authorized(config, input);
  const tokens = await client.authorizationCodeGrant(config, callback, checks);
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  return {
    login_page: toLogin,
    consent_page_scopes: scopes,
    id_token_claims: claims,
    userinfo,
    first: {
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      scope: tokens.scope,
      expires_in: tokens.expires_in,
    },
    refreshed: {
      access_token: refreshed.access_token,
      refresh_token: refreshed.refresh_token,
      id_token_claims: refreshed.claims() ?? null,
    },
  };
}

// Every request openid-client sends, with the nonce its DPoP proof carried, and the answer.
function logRequests(config) {
  const log = [];
  config[client.customFetch] = async (url, options) => {
    const proof = new Headers(options.headers).get('dpop');
    const nonce = proof ? JSON.parse(Buffer.from(proof.split('.')[1], 'base64url')).nonce ?? null : null;
    const response = await fetch(url, options);
    log.push({
      url: String(url),
      method: options.method,
      nonce,
      status: response.status,
      www_authenticate: response.headers.get('www-authenticate'),
      dpop_nonce: response.headers.get('dpop-nonce'),
    });
    return response;
  };
  return log;
}

// What a refused grant said.
async function refused(promise) {
  try {
    await promise;
  } catch (error) {
    return { status: error?.status ?? null, error: error?.error ?? error?.code ?? null, error_description: error?.error_description ?? null };
  }
  fail('a grant that should have been refused was not');
}

const thumbprint = async (keys) => calculateJwkThumbprint(await exportJWK(keys.publicKey));

async function codeFlowDpop(input) {
  const config = await discover(input);
  const log = logRequests(config);
  const keys = await client.randomDPoPKeyPair('ES256');
  const otherKeys = await client.randomDPoPKeyPair('ES256');
  const jkt = await thumbprint(keys);
  const extra = {};
  if (input.dpop_jkt === 'own') extra.dpop_jkt = jkt;
  if (input.dpop_jkt === 'other') extra.dpop_jkt = await thumbprint(otherKeys);
  const { callback, checks } = await authorized(config, input, extra);
  const DPoP = client.getDPoPHandle(config, keys);
  if (input.dpop_jkt === 'other') {
    const code_refused = await refused(client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP }));
    return { jkt, code_refused, log };
  }
  const tokens = await client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP });
  const sub = tokens.claims().sub;
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, sub, {
    DPoP: client.getDPoPHandle(config, keys),
  });
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
  const other = client.getDPoPHandle(config, otherKeys);
  const other_key = await refused(client.refreshTokenGrant(config, refreshed.refresh_token, undefined, { DPoP: other }));
  const no_proof = await refused(client.refreshTokenGrant(config, refreshed.refresh_token));
  const again = await client.refreshTokenGrant(config, refreshed.refresh_token, undefined, { DPoP });
  return {
    jkt,
    tokens: { token_type: tokens.token_type, access_token: tokens.access_token, refresh_token: tokens.refresh_token },
    userinfo,
    refreshed: { token_type: refreshed.token_type, access_token: refreshed.access_token },
    other_key,
    no_proof,
    again: { token_type: again.token_type, access_token: again.access_token },
    log,
  };
}

const mode = process.argv[2];
const input = await readInput();
try {
  const modes = { 'code-flow': codeFlow, 'code-flow-dpop': codeFlowDpop };
  if (!modes[mode]) fail(`unknown mode ${mode}`);
  process.stdout.write(JSON.stringify(await modes[mode](input)) + '\n');
} catch (error) {
  fail(`${error?.code ?? ''} ${error?.message ?? error} ${JSON.stringify(error?.cause ?? '')}`);
}
