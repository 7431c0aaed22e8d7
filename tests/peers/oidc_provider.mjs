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
  grant_types: ['authorization_code'],
  response_types: ['code'],
}));

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: (config.signingAlgs ?? ['RS256']).map(signingKey) },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
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

server.on('request', provider.callback());

process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);

function stop() {
  server.close();
  process.exit(0);
}
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
