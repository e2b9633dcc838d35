//! The core: safe Rust, no I/O of its own, no `unsafe`. Sessions and their state
//! values, the record codec, ids, signing, passwords, accounts, the storage contracts
//! and the manager that runs Toto's lifecycle over them. The core never imports
//! `crate::backend` or `crate::ffi`.

pub mod account;
pub mod clock;
pub mod codec;
pub mod error;
pub mod id;
pub mod limits;
pub mod manager;
pub mod password;
pub mod record;
pub mod rng;
pub mod session;
pub mod session_io;
pub mod session_object;
pub mod sign;
pub mod state_map;
pub mod store;
pub mod value;
pub mod value_json;
