//! Helpers shared by integration tests (each test file uses what it needs).
#![allow(dead_code)]
pub mod fuzz_checks;
pub mod redis_server;
