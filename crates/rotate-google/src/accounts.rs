//! The service-account token sources of a provider's keys: one per key, made on first
//! use from the key's JSON value and kept while that value stays the same (a reload
//! that changes it makes a new one).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use rotate_core::error::{ErrorKind, ProviderError};
use rotate_core::provider::KeyInfo;

use crate::auth::{ServiceAccount, TokenSource};

/// A cached token source and the key it was made for.
struct Entry {
    key: Arc<KeyInfo>,
    source: Arc<TokenSource>,
}

/// The token sources of one provider's keys.
#[derive(Default)]
pub struct Accounts {
    entries: Mutex<HashMap<Arc<str>, Entry>>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("keys", &self.entries.lock().len())
            .finish()
    }
}

impl Accounts {
    /// The token source of `key` when its value is a service-account JSON key; `None`
    /// when the value is not JSON (an API key, or an access token). A JSON value that is
    /// not a usable service account is an `Auth` error.
    pub fn source(&self, key: &Arc<KeyInfo>) -> Result<Option<Arc<TokenSource>>, ProviderError> {
        let mut entries = self.entries.lock();
        if let Some(entry) = entries.get_mut(key.id()) {
            if Arc::ptr_eq(&entry.key, key) || entry.key.secret().expose() == key.secret().expose()
            {
                entry.key = key.clone();
                return Ok(Some(entry.source.clone()));
            }
        }
        let Some(parsed) = ServiceAccount::parse(key.secret().expose()) else {
            return Ok(None);
        };
        let source = parsed
            .and_then(TokenSource::new)
            .map(Arc::new)
            .map_err(|m| ProviderError::new(ErrorKind::Auth, m))?;
        entries.insert(
            key.id_arc().clone(),
            Entry {
                key: key.clone(),
                source: source.clone(),
            },
        );
        Ok(Some(source))
    }
}
