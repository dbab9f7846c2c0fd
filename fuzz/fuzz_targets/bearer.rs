//! The sample API's bearer-token check: an `Authorization` header of any bytes, extracted
//! and validated against the provider's key. An odd first byte signs the rest as claims, so
//! the claim checks behind the signature are reached too.
#![no_main]

use std::sync::OnceLock;

use latchkey_api::{TokenValidator, bearer_token};

struct Api {
    validator: TokenValidator,
    runtime: tokio::runtime::Runtime,
}

fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| {
        let set =
            serde_json::from_value(latchkey_fuzz::signer().jwks().clone()).expect("the JWKS reads");
        Api {
            validator: TokenValidator::with_keys(
                latchkey_fuzz::ISSUER,
                "urn:latchkey:sample-api",
                &set,
            ),
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a runtime"),
        }
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let header = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        match latchkey_fuzz::signer().sign(rest) {
            Some(token) => format!("Bearer {token}").into_bytes(),
            None => return,
        }
    };
    let Ok(value) = http::HeaderValue::from_bytes(&header) else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", value);
    let api = api();
    if let Ok(token) = bearer_token(&headers) {
        let _ = api.runtime.block_on(api.validator.validate(token));
    }
});
