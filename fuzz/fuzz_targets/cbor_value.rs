#![no_main]
//! Fuzz target: see tests/support/fuzz_checks.rs (`cbor_value`).

#[path = "../../tests/support/fuzz_checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::cbor_value(data));
