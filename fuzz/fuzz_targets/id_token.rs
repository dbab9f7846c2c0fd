//! ID token validation. An even first byte: the rest is the token's text (header, payload
//! and signature as anyone could send them). An odd one: the rest is a claims object the
//! provider's own key signs, so the claim checks behind the signature are reached too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fixture = latchkey_fuzz::fixture();
    if mode % 2 == 0 {
        fixture.id_token(&latchkey_fuzz::text(rest));
    } else if let Some(token) = latchkey_fuzz::signer().sign(rest) {
        fixture.id_token(&token);
    }
});
