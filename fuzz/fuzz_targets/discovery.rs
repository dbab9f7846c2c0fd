//! A discovery document, parsed and checked as the engine does before it trusts a provider.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    latchkey_auth::fuzzing::discovery(data);
});
