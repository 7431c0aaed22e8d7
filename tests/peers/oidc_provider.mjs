// A real OpenID Provider (npm `oidc-provider`, certified) on loopback, for tests of Tessera as a
// relying party. Driven by crates/tessera-testkit/src/oidc_provider.rs.
//
//   node tests/peers/oidc_provider.mjs '<config JSON>'
//
// Config JSON (every key optional):
//   port                  port to listen on; 0 or absent picks a free one
//   issuer                the issuer to announce; default http://127.0.0.1:<port>
//   clients               [{client_id, client_secret, redirect_uris,
//                           token_endpoint_auth_method  (default client_secret_basic),
//                           id_token_signed_response_alg (default RS256)}]
//   signingAlgs           algorithms to hold a signing key for; default ["RS256"]
//                         (RS256, PS256, ES256, EdDSA); a client's id_token_signed_response_alg
//                         must be one of them
//   idTokenTTL            ID token lifetime in seconds; default 3600 (a test may also pass a
//                         `now` far in the future to the relying party instead)
//   claimsInIdToken       true (default): scope `email`/`profile` claims go into the ID token;
//                         false: they are only at the userinfo endpoint (the spec's default,
//                         oidc-provider's conformIdTokenClaims)
//   authorizedParty       an `azp` claim (Core §2: the client the ID token was issued to) for
//                         every ID token, through the `openid` scope's claims; absent by
//                         default, as oidc-provider sets none of its own. The token's `aud`
//                         stays the client that redeemed the code (oidc-provider fixes it), so
//                         this is the one way to have the real provider name another client
//                         in an ID token for this one
//   refreshTokens         true: clients may use the refresh_token grant, every code exchange
//                         issues a refresh token, every refresh rotates it, and RFC 7009
//                         revocation is on (a token vault's provider); default false
//
// Besides the provider, for tests of a client that keeps tokens (the token vault):
//   GET  /api/whoami           a protected API: 200 {sub} with a live access token, else 401
//   GET  /_test/counts         {refresh: attempts of the refresh_token grant, paths: {path: n}}
//   POST /_test/revoke-refresh destroys every refresh token (the user revoked the grant)
//   POST /_test/revoke-access  destroys every access token (they stop working before expiry)
//
// Accounts: any login name is an account whose `sub` is that name, with
// email `<login>@example.test`, email_verified true and name `User <login>`; the login `unverified`
// has email_verified false. The password is not checked.
//
// Login and consent are oidc-provider's devInteractions forms, driven over HTTP with a cookie jar
// (OidcProvider::login in the testkit): GET the authorization URL, follow to /interaction/<uid>,
// POST `prompt=login&login=<account>&password=<any>`, follow, POST `prompt=consent`, follow to
// the redirect URI with `code`.
//
// When ready it prints one JSON line on stdout: {"issuer": "...", "port": N}, and runs until it
// is killed or its stdin closes (so a dead test process never leaves it behind).

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] ?? '{}');

function signingKey(alg) {
  const kid = `${alg.toLowerCase()}-${randomUUID()}`;
  let pair;
  switch (alg) {
    case 'RS256':
    case 'PS256':
      pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      break;
    case 'ES256':
      pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      break;
    case 'EdDSA':
      pair = generateKeyPairSync('ed25519');
      break;
    default:
      throw new Error(`unsupported signing algorithm ${alg}`);
  }
  return { ...pair.privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(config.port ?? 0, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = config.issuer ?? `http://127.0.0.1:${port}`;

const clients = (config.clients ?? []).map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  redirect_uris: c.redirect_uris,
  token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
  id_token_signed_response_alg: c.id_token_signed_response_alg ?? 'RS256',
  grant_types: config.refreshTokens ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
  response_types: ['code'],
}));

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: (config.signingAlgs ?? ['RS256']).map(signingKey) },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: Boolean(config.refreshTokens) },
  },
  ...(config.refreshTokens
    ? {
        issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
        rotateRefreshToken: true,
      }
    : {}),
  conformIdTokenClaims: !(config.claimsInIdToken ?? true),
  claims: {
    openid: config.authorizedParty ? ['sub', 'azp'] : ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: `${sub}@example.test`,
          email_verified: sub !== 'unverified',
          name: `User ${sub}`,
          ...(config.authorizedParty ? { azp: config.authorizedParty } : {}),
        };
      },
    };
  },
  ttl: { IdToken: config.idTokenTTL ?? 3600 },
  // Fixed cookie keys silence the development-only warning; nothing here outlives the test.
  cookies: { keys: [randomUUID()] },
});
// Plain http on loopback: the relying party under test talks to it directly.
provider.proxy = false;

const counts = { refresh: 0, paths: {} };
const issued = { refresh: [], access: [] };
provider.on('refresh_token.saved', (token) => issued.refresh.push(token));
provider.on('access_token.saved', (token) => issued.access.push(token));
provider.on('access_token.issued', (token) => issued.access.push(token));
for (const event of ['grant.success', 'grant.error']) {
  provider.on(event, (ctx) => {
    if (ctx.oidc?.params?.grant_type === 'refresh_token') counts.refresh += 1;
  });
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  counts.paths[path] = (counts.paths[path] ?? 0) + 1;
  if (path === '/api/whoami') {
    const auth = req.headers.authorization ?? '';
    const value = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const token = value ? await provider.AccessToken.find(value) : undefined;
    if (!token || token.isExpired) return json(res, 401, { error: 'invalid_token' });
    return json(res, 200, { sub: token.accountId });
  }
  if (path === '/_test/counts') return json(res, 200, counts);
  if (path === '/_test/revoke-refresh' || path === '/_test/revoke-access') {
    const kind = path.endsWith('refresh') ? 'refresh' : 'access';
    await Promise.all(issued[kind].map((token) => token.destroy()));
    issued[kind] = [];
    return json(res, 200, {});
  }
  return callback(req, res);
});

process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);

function stop() {
  server.close();
  process.exit(0);
}
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
