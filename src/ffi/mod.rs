//! The C ABI: the only module with `extern "C"` and `unsafe`.
//!
//! Every entry point runs inside `boundary::run`, which catches panics
//! (`TOTO_RESULT_PANIC`) and turns failures into `toto_result` codes plus optional
//! details in a caller-owned `toto_error`. Entry points are plain `extern "C" fn`s that
//! take raw pointers; each pointer is checked (NULL, alignment, handle tag) in `args`
//! and `handle` before use.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

pub mod account;
pub mod account_store;
mod account_store_vtable;
mod args;
mod boundary;
pub mod bytes;
pub mod cache;
mod cache_vtable;
pub mod callback;
pub mod client_cache;
mod clock;
mod fork;
mod handle;
pub mod limits;
pub mod manager;
pub mod redis;
pub mod redis_account_store;
pub mod result;
pub mod session;
pub mod session_state;
pub mod sign;
pub mod value;
mod value_io;
pub mod version;
