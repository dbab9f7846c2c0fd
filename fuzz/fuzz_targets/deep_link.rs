//! A link the OS hands over (a command-line argument, an "open URL" event), delivered to a
//! sign-in that waits for its answer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    latchkey_fuzz::fixture().deep_link(&latchkey_fuzz::text(data));
});
