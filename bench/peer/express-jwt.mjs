// The peer for `cargo xtask bench`: the protected message of Latchkey's sample API, written the
// way an Express app protects a route with express-jwt and jwks-rsa (RS256, cached JWKS),
// validating the same tokens against the same JWKS. One process, as the Rust API is.
import express from 'express';
import { expressjwt } from 'express-jwt';
import jwksRsa from 'jwks-rsa';

const { ISSUER, AUDIENCE, JWKS_URI, PORT } = process.env;
const app = express();
app.disable('x-powered-by');

const checkJwt = expressjwt({
  secret: jwksRsa.expressJwtSecret({ jwksUri: JWKS_URI, cache: true, rateLimit: true }),
  audience: AUDIENCE,
  issuer: ISSUER,
  algorithms: ['RS256'],
});

app.get('/api/messages/protected', checkJwt, (req, res) => {
  res.json({ text: 'The API successfully validated your access token.' });
});

// express-jwt's errors carry their status (401 for a bad token); nothing else is expected.
app.use((err, req, res, _next) => {
  res.status(err.status || 500).json({ message: err.message });
});

app.listen(Number(PORT), '127.0.0.1', () => console.log(`listening on ${PORT}`));
