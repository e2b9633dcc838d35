//! The embedded default account store: a map of maps behind a lock.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::backend::{AccountStore, Property};
use crate::core::error::{Error, Result};
use crate::core::value::Value;

/// A thread-safe in-memory [`AccountStore`].
#[derive(Default)]
pub struct MemoryAccountStore {
    accounts: RwLock<HashMap<String, HashMap<String, Value>>>,
}

impl std::fmt::Debug for MemoryAccountStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Property values may hold password hashes: never print them.
        let n = self.accounts.read().map(|a| a.len()).unwrap_or(0);
        f.debug_struct("MemoryAccountStore")
            .field("accounts", &n)
            .finish()
    }
}

impl MemoryAccountStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn owned<'a>(properties: &'a [(&str, &Value)]) -> impl Iterator<Item = (String, Value)> + 'a {
    properties
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).clone()))
}

impl AccountStore for MemoryAccountStore {
    fn load(&self, user_id: &str, names: Option<&[&str]>) -> Result<Option<Vec<Property>>> {
        let accounts = self.accounts.read().unwrap_or_else(|p| p.into_inner());
        let Some(props) = accounts.get(user_id) else {
            return Ok(None);
        };
        Ok(Some(match names {
            None => props.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Some(names) => names
                .iter()
                .filter_map(|n| props.get(*n).map(|v| ((*n).to_owned(), v.clone())))
                .collect(),
        }))
    }

    fn save(&self, user_id: &str, properties: &[(&str, &Value)]) -> Result<()> {
        let mut accounts = self.accounts.write().unwrap_or_else(|p| p.into_inner());
        let props = accounts.get_mut(user_id).ok_or(Error::InvalidCredentials)?;
        props.extend(owned(properties));
        Ok(())
    }

    fn create(&self, user_id: &str, properties: &[(&str, &Value)]) -> Result<()> {
        let mut accounts = self.accounts.write().unwrap_or_else(|p| p.into_inner());
        if accounts.contains_key(user_id) {
            return Err(Error::UserIdExists);
        }
        accounts.insert(user_id.to_owned(), owned(properties).collect());
        Ok(())
    }

    fn remove(&self, user_id: &str) -> Result<()> {
        let mut accounts = self.accounts.write().unwrap_or_else(|p| p.into_inner());
        accounts
            .remove(user_id)
            .map(|_| ())
            .ok_or(Error::InvalidCredentials)
    }
}
