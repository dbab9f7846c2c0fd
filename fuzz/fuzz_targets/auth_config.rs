//! `auth_config.json`, as the app and the CLI read it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    latchkey_auth::fuzzing::auth_config(&latchkey_fuzz::text(data));
});
