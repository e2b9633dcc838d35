#![no_main]
//! Fuzz target: see tests/support/fuzz_checks.rs (`client_token`).

#[path = "../../tests/support/fuzz_checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::client_token(data));
