#![no_main]
//! Fuzz target: see tests/support/fuzz_checks.rs (`toto_pickle`).

#[path = "../../tests/support/fuzz_checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::toto_pickle(data));
