//! The DPoP proof check (RFC 9449 §4.3) the sample API and the dev IdP make of a `DPoP`
//! header: any bytes as the proof, and with an odd first byte any bytes signed as its claims
//! by a real key with a real proof header, so the checks behind the signature (`htm`, `htu`,
//! `iat`, `ath`, `jti`, `nonce`) are reached too.
#![no_main]

use std::sync::OnceLock;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use latchkey_dpop::{ProofKey, Request, verify};

const NOW: u64 = 1_800_000_000;

struct Signer {
    encoding: EncodingKey,
    jwk: Jwk,
}

fn signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let key = ProofKey::generate();
        let encoding = EncodingKey::from_ec_der(key.pkcs8());
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).expect("a JWK");
        Signer { encoding, jwk }
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let proof = if mode % 2 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let Ok(claims) = serde_json::from_slice::<serde_json::Value>(rest) else {
            return;
        };
        let signer = signer();
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(signer.jwk.clone());
        match jsonwebtoken::encode(&header, &claims, &signer.encoding) {
            Ok(proof) => proof,
            Err(_) => return,
        }
    };
    let request = Request {
        method: "GET",
        url: "https://api.fuzz.example/api/messages/protected?x=1",
        access_token: if mode & 2 == 0 { Some("token") } else { None },
    };
    let _ = verify(&proof, request, NOW);
});
