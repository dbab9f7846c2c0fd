//! What the fuzz targets share: an RSA key the fixed provider publishes, so a target can
//! sign claims the fuzzer chose and reach the claim checks behind the signature.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;

pub use latchkey_auth::fuzzing::{CLIENT_ID, Fixture, ISSUER};

/// The key id the fixed provider publishes.
pub const KID: &str = "fuzz-key";

pub struct Signer {
    key: EncodingKey,
    jwks: serde_json::Value,
}

impl Signer {
    /// The provider's key set: the one public key, as a JWKS document.
    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }

    /// `claims` signed RS256 under [`KID`], or `None` when they are not a JSON object.
    pub fn sign(&self, claims: &[u8]) -> Option<String> {
        let claims: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(claims).ok()?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KID.into());
        jsonwebtoken::encode(&header, &claims, &self.key).ok()
    }
}

/// One key per run (generating RSA keys is slow).
pub fn signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let mut rng = rsa::rand_core::OsRng;
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("an RSA key");
        let der = private.to_pkcs1_der().expect("the key encodes");
        let public = private.to_public_key();
        let jwks = serde_json::json!({"keys": [{
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": KID,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }]});
        Signer {
            key: EncodingKey::from_rsa_der(der.as_bytes()),
            jwks,
        }
    })
}

/// The fixed provider and session, trusting [`signer`]'s key.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture::new(signer().jwks()))
}

/// The input as text (lossy: a target that reads text sees every byte sequence as some text).
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}
