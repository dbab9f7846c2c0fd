//! The provider's RS256 signing keys: generated at start, rotatable, published as a JWKS.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// One RSA key pair with its key id.
pub(crate) struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Value,
}

impl SigningKey {
    pub(crate) fn generate() -> anyhow::Result<Self> {
        let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)?;
        let der = private.to_pkcs1_der()?;
        let kid = crate::random_token(12);
        let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
        let decoding = DecodingKey::from_rsa_components(&n, &e)?;
        let jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": n,
            "e": e,
        });
        Ok(Self {
            kid,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding,
            jwk,
        })
    }

    /// Signs `claims` as a compact RS256 JWS carrying this key's `kid`.
    pub(crate) fn sign<T: Serialize>(&self, claims: &T, typ: &str) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_owned());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

/// The current key plus the ones it replaced, so tokens signed before a rotation still verify.
pub(crate) struct KeyRing {
    current: SigningKey,
    previous: Vec<SigningKey>,
}

impl KeyRing {
    pub(crate) fn generate() -> anyhow::Result<Self> {
        Ok(Self {
            current: SigningKey::generate()?,
            previous: Vec::new(),
        })
    }

    pub(crate) fn current(&self) -> &SigningKey {
        &self.current
    }

    /// Makes a fresh key current; the old one stays published for verification.
    pub(crate) fn rotate(&mut self) -> anyhow::Result<String> {
        let fresh = SigningKey::generate()?;
        let old = std::mem::replace(&mut self.current, fresh);
        self.previous.insert(0, old);
        self.previous.truncate(2);
        Ok(self.current.kid.clone())
    }

    /// Verifies a token this provider signed (any published key, RS256 only, `iss` checked).
    pub(crate) fn verify<T: DeserializeOwned>(&self, token: &str, issuer: &str) -> Option<T> {
        let kid = jsonwebtoken::decode_header(token).ok()?.kid?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.kid == kid)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.validate_aud = false;
        jsonwebtoken::decode::<T>(token, &key.decoding, &validation)
            .ok()
            .map(|d| d.claims)
    }

    pub(crate) fn jwks(&self) -> Value {
        let keys: Vec<&Value> = std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|k| &k.jwk)
            .collect();
        json!({ "keys": keys })
    }
}
