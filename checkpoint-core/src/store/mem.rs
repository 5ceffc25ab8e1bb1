//! A store in memory, for tests and benchmarks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Store, StoreError};

/// A [`Store`] that keeps checkpoints in memory; they end with it.
///
/// Values are shared, not copied, by
/// [`put_if_absent_owned`](Store::put_if_absent_owned) and
/// [`get_shared`](Store::get_shared), which the checkpointer uses.
///
/// # Examples
///
/// ```
/// use checkpoint::{MemStore, Store};
///
/// let store = MemStore::new();
/// store.put_if_absent("a", b"1")?;
/// assert_eq!(store.get("a")?, Some(b"1".to_vec()));
/// assert!(store.put_if_absent("a", b"2").is_err());
/// # Ok::<(), checkpoint::StoreError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemStore {
    entries: Mutex<BTreeMap<String, Arc<Vec<u8>>>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Vec<u8>>>> {
        // A panic elsewhere cannot leave the map half-changed.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemStore {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.put_if_absent_owned(key, bytes.to_vec())
            .map_err(|(e, _)| e)
    }

    fn put_if_absent_owned(&self, key: &str, bytes: Vec<u8>) -> Result<(), (StoreError, Vec<u8>)> {
        let mut entries = self.entries();
        if entries.contains_key(key) {
            let location = self.location(key);
            return Err((StoreError::AlreadyExists { location }, bytes));
        }
        entries.insert(key.to_owned(), Arc::new(bytes));
        Ok(())
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.entries().get(key).map(|v| v.to_vec()))
    }

    fn get_shared(&self, key: &str) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        Ok(self.entries().get(key).cloned())
    }

    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .entries()
            .get(key)
            .map(|v| v[..len.min(v.len())].to_vec()))
    }

    fn get_range(&self, key: &str, start: u64, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.entries().get(key).map(|v| {
            let from = usize::try_from(start).unwrap_or(usize::MAX).min(v.len());
            v[from..from + len.min(v.len() - from)].to_vec()
        }))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .entries()
            .range(prefix.to_owned()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(prefix))
            .cloned()
            .collect())
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.entries().remove(key);
        Ok(())
    }

    fn location(&self, key: &str) -> String {
        let mut location = String::with_capacity("memory:".len() + key.len());
        location.push_str("memory:");
        location.push_str(key);
        location
    }
}
