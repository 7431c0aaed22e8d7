// An outside workload issuer on loopback (the "GitHub Actions" of workload identity tests): the
// certified npm `oidc-provider` issuing RFC 9068 JWT access tokens through client_credentials
// with resource indicators, so each token's `aud` is the `resource` asked for and its claims
// carry what a CI job's token would (repository, ref, environment, workflow, actor), taken from
// the token request's `x-workload-claims` header (a JSON object; oidc-provider drops unknown
// body parameters of a grant). Driven by crates/tessera-testkit/src/workload_issuer.rs.
//
//   node tests/peers/workload_issuer.mjs '<config JSON>'
//
// Config JSON (every key optional):
//   issuer      the issuer to announce; default http://127.0.0.1:<port> (an impostor started with
//               another issuer's URL signs tokens that issuer's keys do not verify)
//   tokenTTL    token lifetime in seconds; default 300
//
// The one client is `ci` with secret `ci-secret` (client_secret_basic). Ask for a token with
//   POST /token grant_type=client_credentials&resource=<audience>
//   x-workload-claims: {"repository": "acme/api", "ref": "refs/heads/main"}
// Besides the provider:
//   POST /_test/rotate   a new signing key replaces the old one (a key rotation at the issuer):
//                        tokens are signed with it, the JWKS publishes only it
//   GET  /_test/counts   {paths: {path: n}}: requests seen per path (JWKS fetches)
//
// When ready it prints one JSON line on stdout, {"issuer": "...", "port": N}, and runs until it
// is killed or its stdin closes.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.argv[2] ?? '{}');
const CLAIMS = ['repository', 'repository_owner', 'ref', 'environment', 'workflow', 'actor'];

function signingKey() {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...pair.privateKey.export({ format: 'jwk' }), kid: `rs256-${randomUUID()}`, alg: 'RS256', use: 'sig' };
}

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = config.issuer ?? `http://127.0.0.1:${port}`;

function provider() {
  const p = new Provider(issuer, {
    clients: [{
      client_id: 'ci',
      client_secret: 'ci-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [signingKey()] },
    features: {
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resource) => ({
          audience: resource,
          scope: '',
          accessTokenTTL: config.tokenTTL ?? 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    async extraTokenClaims(ctx) {
      const asked = JSON.parse(ctx.get('x-workload-claims') || '{}');
      return Object.fromEntries(CLAIMS.filter((c) => asked[c] !== undefined).map((c) => [c, asked[c]]));
    },
    cookies: { keys: [randomUUID()] },
  });
  p.proxy = false;
  return p;
}

let callback = provider().callback();
const counts = { paths: {} };

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

server.on('request', (req, res) => {
  const path = new URL(req.url, `http://127.0.0.1:${port}`).pathname;
  counts.paths[path] = (counts.paths[path] ?? 0) + 1;
  if (path === '/_test/counts') return json(res, 200, counts);
  if (path === '/_test/rotate' && req.method === 'POST') {
    callback = provider().callback();
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
