//! A JWKS document, parsed and then used to check a token the real key signed.
#![no_main]

use std::sync::OnceLock;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static TOKEN: OnceLock<String> = OnceLock::new();
    let token = TOKEN.get_or_init(|| {
        let claims = serde_json::json!({
            "iss": latchkey_fuzz::ISSUER,
            "aud": latchkey_fuzz::CLIENT_ID,
            "sub": "someone",
            "iat": 1_700_000_000,
            "exp": 4_000_000_000_u64,
        });
        latchkey_fuzz::signer()
            .sign(claims.to_string().as_bytes())
            .expect("the claims sign")
    });
    latchkey_auth::fuzzing::jwks(data, token);
});
