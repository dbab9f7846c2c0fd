//! A token endpoint's answer (first byte: the HTTP status class), read by oauth2 as the
//! engine reads it, then its lifetime and ID token.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&status, body)) = data.split_first() else {
        return;
    };
    let status = match status % 4 {
        0 => 200,
        1 => 400,
        2 => 401,
        _ => 500,
    };
    latchkey_fuzz::fixture().token_response(status, body);
});
