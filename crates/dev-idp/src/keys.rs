//! The provider's RS256 signing keys: generated at first start (or read from the data
//! file), rotatable, published as a JWKS.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::RsaPrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::store::{StoredKey, Writer};

/// One RSA key pair with its key id.
pub(crate) struct SigningKey {
    kid: String,
    /// The private key, PKCS#1 DER, for the data file.
    der: Vec<u8>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Value,
}

impl SigningKey {
    pub(crate) fn generate() -> anyhow::Result<Self> {
        let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)?;
        Self::from_private(crate::random_token(12), &private)
    }

    /// A key read back from the data file.
    fn from_stored(stored: &StoredKey) -> anyhow::Result<Self> {
        let private = RsaPrivateKey::from_pkcs1_der(&stored.der)
            .map_err(|e| anyhow::anyhow!("signing key {:?} does not read: {e}", stored.kid))?;
        Self::from_private(stored.kid.clone(), &private)
    }

    fn from_private(kid: String, private: &RsaPrivateKey) -> anyhow::Result<Self> {
        let der = private.to_pkcs1_der()?;
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
            der: der.as_bytes().to_vec(),
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
    /// Where a rotation is written when the provider has a data file.
    writer: Option<Writer>,
}

impl KeyRing {
    pub(crate) fn generate() -> anyhow::Result<Self> {
        Ok(Self {
            current: SigningKey::generate()?,
            previous: Vec::new(),
            writer: None,
        })
    }

    /// The keys of the data file (current first), or a new one written there when it has none.
    pub(crate) fn load(stored: &[StoredKey], writer: Option<Writer>) -> anyhow::Result<Self> {
        let mut keys = stored.iter().map(SigningKey::from_stored);
        let ring = match keys.next() {
            Some(current) => Self {
                current: current?,
                previous: keys.collect::<anyhow::Result<_>>()?,
                writer,
            },
            None => {
                let ring = Self {
                    writer,
                    ..Self::generate()?
                };
                ring.save();
                ring
            }
        };
        Ok(ring)
    }

    fn save(&self) {
        if let Some(writer) = &self.writer {
            let keys = std::iter::once(&self.current)
                .chain(&self.previous)
                .map(|k| StoredKey {
                    kid: k.kid.clone(),
                    der: k.der.clone(),
                })
                .collect();
            writer.keys(keys);
        }
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
        self.save();
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
