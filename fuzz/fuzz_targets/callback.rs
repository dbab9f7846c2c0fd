//! The query string of a request to the loopback callback (or of a deep link): parsing,
//! the `state` check, and the flow's reading of `iss`, `error` and `code`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    latchkey_fuzz::fixture().callback(&latchkey_fuzz::text(data));
});
