// An OpenID Provider nobody here wrote: oidc-provider (OpenID Certified), configured the way a
// real deployment for a native app would be. Used by Latchkey's interop tests only.
//
//   node provider.mjs PORT AUDIENCE [dpop-nonce]
//
// A public native client `latchkey-desktop` (loopback redirect, any port; PKCE S256 required),
// refresh token rotation, revocation (RFC 7009), RP-initiated logout, the device flow (RFC 8628), and resource indicators
// that issue RS256 JWT access tokens for AUDIENCE, and DPoP (RFC 9449, on by default in
// oidc-provider 9: tokens requested with a proof are bound to its key, a public client's
// refresh tokens too); with `dpop-nonce`, every proof must carry a server nonce. Prints
// "ready ISSUER" when listening.
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const audience = process.argv[3] || 'urn:latchkey:sample-api';
const dpopNonces = process.argv[4] === 'dpop-nonce';
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'latchkey-desktop',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1/callback'],
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    response_types: ['code'],
  }],
  pkce: { required: () => true },
  rotateRefreshToken: true,
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    profile: ['name', 'nickname'],
    email: ['email', 'email_verified'],
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: `Interop ${id}`, nickname: id, email: `${id}@example.com`, email_verified: true };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    dPoP: dpopNonces
      ? { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true }
      : { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'openid profile email offline_access',
        audience,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
