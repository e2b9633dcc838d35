//! Helpers shared by integration tests (each test file uses what it needs).
#![allow(dead_code)]
pub mod cache_suite;
pub mod fuzz_checks;
pub mod redis_server;
pub mod signals;
