//! The built-in backends: implementations of the core's storage contracts
//! ([`SessionCache`], [`AccountStore`], defined in `crate::core::store`). A backend
//! imports the core's public API only; nothing in the core imports a backend.

mod client_cache;
mod memory_cache;
mod memory_entry;
mod memory_store;
mod memory_user_index;
mod redis_account_store;
mod redis_cache;
mod redis_pool;
mod redis_toto;
pub mod toto_pickle;

pub use client_cache::{
    ClientCache, ClientKey, CLIENT_KEY_LEN, CLIENT_TOKEN_OVERHEAD, MAX_CLIENT_KEYS,
    MAX_CLIENT_RECORD_LEN,
};
pub use memory_cache::MemoryCache;
pub use memory_store::MemoryAccountStore;
pub use redis_account_store::{RedisAccountStore, RedisAccountStoreOptions};
pub use redis_cache::{RedisCache, RedisOptions, REMOVE_USER_BATCH};
pub use redis_toto::{toto_session_key, TotoCompat};

// The contracts, under the paths users of `toto_session::backend` have known.
pub use crate::core::session_io::{load_session, store_session, LoadedSession};
pub use crate::core::store::{AccountStore, Loaded, Property, Renewal, SessionCache, StoreMode};
