#![no_main]
//! Fuzz target: see tests/support/fuzz_checks.rs (`record`).

#[path = "../../tests/support/fuzz_checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::record(data));
