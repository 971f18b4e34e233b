// A real OpenID Provider (the `oidc-provider` library) for the integration
// tests, on 127.0.0.1 with an ephemeral port. Prints `READY <issuer>` once
// it listens.
//
// The provider's own endpoints (discovery, JWKS, device authorization,
// token) are the library's. Beside them, /test/* endpoints stand in for the
// person at the browser and for an attacker:
//   POST /test/approve {user_code, sub, groups}  approve a device code as `sub`
//   POST /test/token   {client_id, sub, groups}  run a whole device flow, return the token response
//   POST /test/forge   {kind, sub, aud}          a token the provider would never issue
//   POST /test/rotate                            replace every signing key (new kids)
// The device authorization response also gets `interval: 1` so the login
// test polls once a second instead of RFC 8628's default five.
import http from 'node:http';
import crypto from 'node:crypto';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const groupsOf = new Map();
let keys;
let current;
let issuer;

async function makeKeys() {
  const out = [];
  for (const alg of ['RS256', 'ES256', 'EdDSA']) {
    const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true, crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
    const jwk = await jose.exportJWK(privateKey);
    jwk.kid = `${alg.toLowerCase()}-${crypto.randomBytes(4).toString('hex')}`;
    jwk.alg = alg;
    jwk.use = 'sig';
    out.push({ alg, jwk, privateKey, publicKey });
  }
  return out;
}

function client(id, alg) {
  return {
    client_id: id,
    token_endpoint_auth_method: 'none',
    grant_types: [DEVICE, 'refresh_token'],
    response_types: [],
    redirect_uris: [],
    id_token_signed_response_alg: alg,
  };
}

function makeProvider() {
  const provider = new Provider(issuer, {
    clients: [
      client('portcullis', 'RS256'),
      client('portcullis-es', 'ES256'),
      client('portcullis-ed', 'EdDSA'),
      client('portcullis-short', 'RS256'),
      client('other-app', 'RS256'),
    ],
    jwks: { keys: keys.map((k) => k.jwk) },
    features: { deviceFlow: { enabled: true }, devInteractions: { enabled: false } },
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256', 'EdDSA'] },
    scopes: ['openid', 'offline_access', 'email', 'groups'],
    claims: { openid: ['sub'], email: ['email'], groups: ['groups'] },
    conformIdTokenClaims: false,
    ttl: {
      IdToken: (ctx, token, c) => (c?.clientId === 'portcullis-short' ? 3 : 3600),
      AccessToken: 3600,
      DeviceCode: 600,
      Grant: 3600,
      RefreshToken: 3600,
    },
    findAccount: async (ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, email: `${sub}@example.test`, groups: groupsOf.get(sub) ?? [] }),
    }),
  });
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/device/auth' && ctx.body && ctx.body.device_code) {
      ctx.body = { ...ctx.body, interval: 1 };
    }
  });
  return provider;
}

async function approve({ user_code, sub, groups }) {
  groupsOf.set(sub, groups ?? []);
  const normalized = String(user_code).replace(/[^A-Za-z]/g, '').toUpperCase();
  const code = await current.DeviceCode.findByUserCode(normalized);
  if (!code) throw new Error(`no device code for ${user_code}`);
  const scope = code.params.scope || 'openid';
  const grant = new current.Grant({ accountId: sub, clientId: code.clientId });
  grant.addOIDCScope(scope);
  code.grantId = await grant.save();
  code.accountId = sub;
  code.authTime = Math.floor(Date.now() / 1000);
  code.scope = scope;
  await code.save();
}

async function post(path, form) {
  const res = await fetch(`${issuer}${path}`, { method: 'POST', body: new URLSearchParams(form) });
  return res.json();
}

async function wholeFlow({ client_id, sub, groups, scope }) {
  const auth = await post('/device/auth', { client_id, scope: scope ?? 'openid email groups' });
  await approve({ user_code: auth.user_code, sub, groups });
  return post('/token', { grant_type: DEVICE, device_code: auth.device_code, client_id });
}

async function forge({ kind, sub, aud }) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: issuer, sub, aud: aud ?? 'portcullis', iat: now, exp: now + 600, groups: groupsOf.get(sub) ?? [] };
  const rsa = keys.find((k) => k.alg === 'RS256');
  switch (kind) {
    case 'none': {
      const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`;
    }
    case 'hs256-public': {
      // The classic confusion: HMAC keyed with the issuer's public key.
      const pem = await jose.exportSPKI(rsa.publicKey);
      return new jose.SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', kid: rsa.jwk.kid })
        .sign(new TextEncoder().encode(pem));
    }
    case 'unknown-kid': {
      const { privateKey } = await jose.generateKeyPair('RS256');
      return new jose.SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: `stranger-${crypto.randomBytes(4).toString('hex')}` })
        .sign(privateKey);
    }
    case 'wrong-iss':
      return new jose.SignJWT({ ...claims, iss: 'http://127.0.0.1:1/elsewhere' })
        .setProtectedHeader({ alg: 'RS256', kid: rsa.jwk.kid })
        .sign(rsa.privateKey);
    case 'not-yet-valid':
      return new jose.SignJWT({ ...claims, nbf: now + 600 })
        .setProtectedHeader({ alg: 'RS256', kid: rsa.jwk.kid })
        .sign(rsa.privateKey);
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

async function readJson(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text ? JSON.parse(text) : {};
}

async function test(req, res) {
  const body = await readJson(req);
  let out;
  switch (req.url) {
    case '/test/approve': await approve(body); out = { ok: true }; break;
    case '/test/token': out = await wholeFlow(body); break;
    case '/test/forge': out = { token: await forge(body) }; break;
    case '/test/rotate':
      keys = await makeKeys();
      current = makeProvider();
      out = { kids: keys.map((k) => k.jwk.kid) };
      break;
    default: res.writeHead(404).end(); return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/test/')) {
    test(req, res).catch((e) => res.writeHead(500).end(String(e)));
  } else {
    current.callback()(req, res);
  }
});
server.listen(0, '127.0.0.1', async () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  keys = await makeKeys();
  current = makeProvider();
  process.stdout.write(`READY ${issuer}\n`);
});
