// A real OpenID provider for the nexus-token login tests: npm oidc-provider on
// http://127.0.0.1:PORT, in memory. Clients: nexus-cli (native, public: PKCE alone),
// nexus-secret (native, client_secret_basic). An interaction that logs in $OIDC_ACCOUNT
// (default alice) and consents at once, so curl can play the browser. nexus-vault and
// nexus-vault-secret (public / client_secret_basic) may also use the refresh_token grant:
// asked for offline_access with prompt=consent they get refresh tokens (rotated for the
// public one). OIDC_ACCESS_TTL sets the access token lifetime (seconds). The device
// authorization answer gets "interval": 1; with OIDC_SLOW_DOWN=1 the first pending poll is
// answered slow_down. OIDC_IDTOKEN_TTL sets the ID token lifetime (seconds).
// Prints "poll MS RESULT" for each device-code poll of the token endpoint.
// Usage: node oidc-provider.mjs PORT   (prints "ready" when it listens)
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const account = process.env.OIDC_ACCOUNT || 'alice';
const native = {
  application_type: 'native',
  redirect_uris: ['http://127.0.0.1/callback'],
  grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
  response_types: ['code'],
};
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
const provider = new Provider(issuer, {
  jwks: { keys: [{ ...rsa, kid: 'rsa-1', use: 'sig', alg: 'RS256' },
                 { ...ec, kid: 'ec-1', use: 'sig', alg: 'ES256' }] },
  clients: [
    { ...native, client_id: 'nexus-es256', token_endpoint_auth_method: 'none',
      id_token_signed_response_alg: 'ES256' },
    { ...native, client_id: 'nexus-cli', token_endpoint_auth_method: 'none' },
    { ...native, client_id: 'nexus-secret', client_secret: 'shh-its-a-secret',
      token_endpoint_auth_method: 'client_secret_basic' },
    { ...native, client_id: 'nexus-vault', token_endpoint_auth_method: 'none',
      grant_types: [...native.grant_types, 'refresh_token'] },
    { ...native, client_id: 'nexus-vault-secret', client_secret: 'vault-client-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [...native.grant_types, 'refresh_token'] },
  ],
  features: { devInteractions: { enabled: false }, deviceFlow: { enabled: true } },
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  conformIdTokenClaims: false,
  ttl: { IdToken: Number(process.env.OIDC_IDTOKEN_TTL || 3600),
         AccessToken: Number(process.env.OIDC_ACCESS_TTL || 3600) },
  scopes: ['openid', 'offline_access', 'email', 'files:read'],
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, email: `${sub}@example.test`, email_verified: true }),
  }),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});

let slowed = false;
provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/interaction/')) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    let result;
    if (details.prompt.name === 'login') {
      result = { login: { accountId: account } };
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope);
      result = { consent: { grantId: await grant.save() } };
    }
    ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false }));
    return;
  }
  await next();
  if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body) ctx.body.interval = 1;
  if (process.env.OIDC_SLOW_DOWN && !slowed && ctx.path === '/token' && ctx.body &&
      ctx.body.error === 'authorization_pending') {
    slowed = true;
    ctx.body = { ...ctx.body, error: 'slow_down' };
  }
  // one line per device-code poll, for the tests to see the client's pace
  if (ctx.path === '/token' && ctx.body && (ctx.body.error || ctx.body.id_token) &&
      ctx.oidc && ctx.oidc.params && ctx.oidc.params.grant_type === 'urn:ietf:params:oauth:grant-type:device_code')
    console.log(`poll ${Date.now()} ${ctx.body.error || 'ok'}`);
});
provider.listen(port, '127.0.0.1', () => console.log('ready'));
