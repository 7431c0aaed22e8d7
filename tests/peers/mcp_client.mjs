// An MCP client (npm `@modelcontextprotocol/sdk`, its client auth helpers) authorizing against
// Tessera exactly as the MCP authorization specification describes, for the tests of resource
// indicators and protected resource metadata (crates/tessera/tests/integration/mcp.rs).
//
//   node tests/peers/mcp_client.mjs authorize < input.json
//
// Input JSON: {server_url (the MCP server: a gateway route of Tessera's), cookie (a signed-in
// person's session cookie, `name=value`), redirect_uri, client_name}
//
// 1. An unauthenticated request to the MCP server: the 401's WWW-Authenticate names the
//    resource metadata (RFC 9728), which the SDK reads (`extractResourceMetadataUrl`).
// 2. The SDK's discovery helpers fetch and validate the protected resource metadata and the
//    authorization server metadata (their zod schemas).
// 3. The SDK's `auth()` runs the whole flow: discovery, dynamic client registration (RFC 7591),
//    the authorization request with PKCE and `resource` (RFC 8707) — the browser's part (the
//    consent screen) played over HTTP with the person's cookie — then the code exchange.
// 4. The access token is sent to the MCP server.
//
// Prints one JSON line: {resource_metadata_url, resource_metadata, authorization_server,
// client, authorization_url, tokens, call: {status, body}}. Any failure exits 1 with the
// reason on stderr.
import {
  auth,
  discoverAuthorizationServerMetadata,
  discoverOAuthProtectedResourceMetadata,
  extractResourceMetadataUrl,
} from '@modelcontextprotocol/sdk/client/auth.js';

const TIMEOUT_MS = 10_000;

function fail(reason) {
  process.stderr.write(`mcp_client.mjs: ${reason}\n`);
  process.exit(1);
}

async function readInput() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function request(url, init = {}) {
  return fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
}

// What a browser reads from an HTML attribute (askama escapes &, <, >, " and ').
function unescapeHtml(text) {
  return text.replace(/&(#\d+|#x[0-9a-f]+|amp|lt|gt|quot|apos);/gi, (_, entity) => {
    const named = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[entity.toLowerCase()];
    if (named) return named;
    return String.fromCodePoint(entity[1] === 'x' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10));
  });
}

// The browser's part of the authorization: the signed-in person allows the request on the
// consent screen; returns the code the redirect URI receives.
async function consent(authorizationUrl, input) {
  const page = await request(authorizationUrl, { headers: { cookie: input.cookie } });
  if (page.status !== 200) fail(`consent page: HTTP ${page.status} ${await page.text()}`);
  const html = await page.text();
  const handle = unescapeHtml(/name="request" value="([^"]+)"/.exec(html)?.[1] ?? '');
  if (!handle) fail('the consent page has no request handle');
  const origin = new URL(authorizationUrl).origin;
  const answered = await request(new URL('/oauth2/consent', origin), {
    method: 'POST',
    headers: { cookie: input.cookie, origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ request: handle, decision: 'allow' }),
  });
  if (answered.status !== 302 && answered.status !== 303) fail(`consent: HTTP ${answered.status}`);
  const callback = new URL(answered.headers.get('location'));
  const code = callback.searchParams.get('code');
  if (!code) fail(`the redirect carries no code: ${callback}`);
  return code;
}

// An OAuthClientProvider kept in memory, as a CLI would keep it on disk.
class Provider {
  constructor(input) {
    this.input = input;
    this.saved = {};
  }
  get redirectUrl() {
    return this.input.redirect_uri;
  }
  get clientMetadata() {
    return {
      client_name: this.input.client_name,
      redirect_uris: [this.input.redirect_uri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.saved.client;
  }
  saveClientInformation(client) {
    this.saved.client = client;
  }
  tokens() {
    return this.saved.tokens;
  }
  saveTokens(tokens) {
    this.saved.tokens = tokens;
  }
  async redirectToAuthorization(url) {
    this.saved.authorizationUrl = url.toString();
    this.saved.code = await consent(url.toString(), this.input);
  }
  saveCodeVerifier(verifier) {
    this.saved.verifier = verifier;
  }
  codeVerifier() {
    return this.saved.verifier;
  }
}

async function authorize(input) {
  const serverUrl = new URL(input.server_url);
  const unauthorized = await request(serverUrl);
  if (unauthorized.status !== 401) fail(`the MCP server without a token: HTTP ${unauthorized.status}`);
  const resourceMetadataUrl = extractResourceMetadataUrl(unauthorized);
  if (!resourceMetadataUrl) fail('the 401 names no resource_metadata');

  const resourceMetadata = await discoverOAuthProtectedResourceMetadata(serverUrl, { resourceMetadataUrl });
  const issuer = resourceMetadata.authorization_servers?.[0];
  if (!issuer) fail('the resource metadata names no authorization server');
  const authorizationServer = await discoverAuthorizationServerMetadata(issuer);
  if (!authorizationServer) fail('no authorization server metadata');

  const provider = new Provider(input);
  const first = await auth(provider, { serverUrl, resourceMetadataUrl });
  if (first !== 'REDIRECT') fail(`auth() without a code answered ${first}`);
  const second = await auth(provider, { serverUrl, resourceMetadataUrl, authorizationCode: provider.saved.code });
  if (second !== 'AUTHORIZED') fail(`auth() with the code answered ${second}`);

  const call = await request(serverUrl, {
    headers: { authorization: `Bearer ${provider.saved.tokens.access_token}` },
  });
  return {
    resource_metadata_url: resourceMetadataUrl.toString(),
    resource_metadata: resourceMetadata,
    authorization_server: authorizationServer,
    client: provider.saved.client,
    authorization_url: provider.saved.authorizationUrl,
    tokens: provider.saved.tokens,
    call: { status: call.status, body: await call.text() },
  };
}

const mode = process.argv[2];
const input = await readInput();
try {
  if (mode !== 'authorize') fail(`unknown mode ${mode}`);
  process.stdout.write(JSON.stringify(await authorize(input)) + '\n');
} catch (error) {
  fail(`${error?.name ?? ''} ${error?.message ?? error} ${error?.stack ?? ''}`);
}
