//! toto-session: the session and account layer of the Toto API framework, as a Rust
//! library with a C ABI (see `include/toto_session.h` and the README).
//!
//! Layers: the safe core (this crate's modules) and `ffi`, the only place with
//! `extern "C"` and `unsafe`.

pub mod account;
pub mod backend;
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
pub mod sign;
pub mod state_map;
pub mod value;
pub mod value_json;

pub mod ffi;

pub use account::Account;
pub use backend::{AccountStore, MemoryAccountStore, MemoryCache, SessionCache, StoreMode};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Error, Result};
pub use manager::{Manager, ManagerConfig};
pub use session::Session;
pub use sign::Signer;
pub use state_map::StateMap;
pub use value::{Value, ValueKind};

/// The crate version (also `TOTO_SESSION_VERSION` in the C header).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
