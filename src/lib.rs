//! toto-session: the session and account layer of the Toto API framework (Python,
//! Tornado), as a Rust library with a C ABI for C/C++ servers and, through that ABI,
//! Go and Ruby bindings.
//!
//! Rust users get the same library as an ordinary crate:
//!
//! - a [`Manager`] (Toto's `DBConnection`) runs the lifecycle: accounts with Argon2id
//!   password hashes (Toto's legacy `$p5k2$` hashes verify and are upgraded on login),
//!   login and logout, sessions with Toto's TTLs and renewal rule, rotation, "log out
//!   everywhere", and one-call request verification;
//! - a [`Session`] holds a Toto id, a user id, an expiry, an optional HMAC key and a
//!   typed state map of [`Value`]s, and signs and verifies Toto's `x-toto-hmac`;
//! - a [`SessionCache`] keeps sessions (as one CBOR record, the same bytes in every
//!   language) and an [`AccountStore`] keeps account properties: the built-in
//!   [`MemoryCache`], [`MemoryAccountStore`] and [`backend::RedisCache`], or your own
//!   implementations of the traits.
//!
//! ```
//! use std::sync::Arc;
//! use toto_session::{Manager, ManagerConfig, MemoryAccountStore, MemoryCache, Value};
//!
//! let manager = Manager::new(
//!     Arc::new(MemoryCache::new()),
//!     Arc::new(MemoryAccountStore::new()),
//!     ManagerConfig::default(),
//! )?;
//! let email = Value::Text("alice@example.com".into());
//! manager.create_account("Alice", "correct horse", &[("email", &email)])?;
//!
//! // Login creates a session with a fresh HMAC key: the client gets id, expiry and key.
//! let mut session = manager.login("alice", "correct horse")?;
//! session.set("visits", Value::Integer(1))?;
//! manager.save_session(&mut session)?;
//!
//! // The client signs METHOD + URI + BODY; the server checks it in one call.
//! let mac = session.sign_request(b"POST", b"/", b"{}")?;
//! let again = manager.verify_request(session.id(), mac.as_bytes(), b"POST", b"/", b"{}")?;
//! assert_eq!(again.get("visits"), Some(&Value::Integer(1)));
//! assert!(manager
//!     .verify_request(session.id(), mac.as_bytes(), b"POST", b"/", b"tampered")
//!     .is_err());
//! # Ok::<(), toto_session::Error>(())
//! ```
//!
//! The crate has three layers, one folder each (ARCHITECTURE.md has the map): `core`
//! (safe Rust: sessions, values, the record codec, signing, passwords, accounts, the
//! storage traits and the manager; never imports the other two), [`backend`] (the
//! built-in caches and stores, written against the core's public API) and [`ffi`] (the
//! C ABI: the only place with `extern "C"` and `unsafe`).

pub mod backend;
mod core;
pub mod ffi;

// The core's public modules under their short paths (`toto_session::session`, ...).
pub use crate::core::{
    account, clock, error, id, manager, password, record, rng, session, sign, store, value,
};

/// Not API: internals that the repository's own tests and fuzz targets check directly
/// (`tests/support/fuzz_checks.rs`). They may change in any release.
#[doc(hidden)]
pub mod internals {
    pub use crate::core::{codec, limits, value_json};
}

pub use crate::core::state_map::StateMap;
pub use account::Account;
pub use backend::{AccountStore, MemoryAccountStore, MemoryCache, SessionCache, StoreMode};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Error, Result};
pub use manager::{Manager, ManagerConfig, SavePolicy};
pub use session::Session;
pub use sign::{MacText, Signer};
pub use value::{Value, ValueKind};

/// The crate version (also `TOTO_SESSION_VERSION` in the C header).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
