//! The markers of the chunk protocol (`docs/FORMAT.md`, "Chunk
//! retention"): a saver's intent under `chunks/intents/`, a sweeper's
//! marker under `chunks/sweeping/`. Each holds its writer's wall-clock
//! time and process id; one older than the lease is taken as left by a
//! dead process.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::store::{Store, StoreError};

// Where savers and sweepers announce themselves.
pub(crate) use crate::keys::{INTENTS, SWEEPING};

/// A marker this process wrote; deleted when dropped.
#[derive(Debug)]
pub(crate) struct Marker<'a> {
    store: &'a dyn Store,
    dir: &'static str,
    key: String,
    written: Instant,
}

impl<'a> Marker<'a> {
    /// Writes a new marker under `dir`.
    pub(crate) fn put(store: &'a dyn Store, dir: &'static str) -> Result<Self, StoreError> {
        let key = format!("{dir}{}", unique_name());
        let written = Instant::now();
        store.put_if_absent(&key, content(SystemTime::now()).as_bytes())?;
        Ok(Marker {
            store,
            dir,
            key,
            written,
        })
    }

    /// How long ago it was written.
    pub(crate) fn age(&self) -> Duration {
        self.written.elapsed()
    }

    /// Its key.
    #[cfg(test)]
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Replaces it with a fresh one once it is older than `after`: the new
    /// one is written before the old one is deleted, so it is never absent.
    pub(crate) fn renew_after(&mut self, after: Duration) -> Result<(), StoreError> {
        if self.age() < after {
            return Ok(());
        }
        let fresh = Marker::put(self.store, self.dir)?;
        let old = std::mem::replace(self, fresh);
        drop(old);
        Ok(())
    }
}

impl Drop for Marker<'_> {
    fn drop(&mut self) {
        // A marker left behind only postpones others until it is stale.
        if let Err(e) = self.store.delete(&self.key) {
            tracing::warn!("could not delete the chunk marker `{}`: {e}", self.key);
        }
    }
}

/// The markers under `dir`, split into live ones (younger than `lease`)
/// and stale ones.
#[derive(Debug, Default)]
pub(crate) struct Markers {
    pub live: Vec<String>,
    pub stale: Vec<String>,
}

/// Lists and reads the markers under `dir`.
pub(crate) fn markers(
    store: &dyn Store,
    dir: &str,
    lease: Duration,
) -> Result<Markers, StoreError> {
    let now = SystemTime::now();
    let mut found = Markers::default();
    for key in store.list(dir)? {
        let written = match store.get_at_most(&key, 256) {
            Ok(Some(bytes)) => written_at(&bytes),
            // Deleted since listing: its writer is done.
            Ok(None) => continue,
            Err(e @ StoreError::Io { .. }) => return Err(e),
            Err(_) => None,
        };
        // A marker whose time does not read is taken as stale: nothing
        // else could ever remove it.
        let live = written.is_some_and(|t| now.duration_since(t).unwrap_or_default() < lease);
        if live {
            found.live.push(key);
        } else {
            found.stale.push(key);
        }
    }
    Ok(found)
}

/// What a marker holds: `<seconds>.<nanoseconds> <pid>` since the Unix epoch.
pub(crate) fn content(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!(
        "{}.{:09} {}\n",
        since.as_secs(),
        since.subsec_nanos(),
        std::process::id()
    )
}

/// The time a marker's content says it was written.
fn written_at(bytes: &[u8]) -> Option<SystemTime> {
    let text = std::str::from_utf8(bytes).ok()?;
    let time = text.split_whitespace().next()?;
    let (secs, nanos) = time.split_once('.')?;
    let since = Duration::new(secs.parse().ok()?, nanos.parse().ok()?);
    UNIX_EPOCH.checked_add(since)
}

/// A name no other marker has: time, process, a counter and random bits.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let random = RandomState::new().build_hasher().finish();
    format!(
        "{}{:09}-{}-{}-{random:016x}",
        since.as_secs(),
        since.subsec_nanos(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStore;

    #[test]
    fn markers_are_live_until_their_lease_ends() {
        let store = MemStore::new();
        let marker = Marker::put(&store, INTENTS).unwrap();
        let old = SystemTime::now() - Duration::from_secs(120);
        store
            .put_if_absent("chunks/intents/old", content(old).as_bytes())
            .unwrap();
        store.put_if_absent("chunks/intents/junk", b"?").unwrap();
        let found = markers(&store, INTENTS, Duration::from_secs(60)).unwrap();
        assert_eq!(found.live, [marker.key().to_owned()]);
        assert_eq!(found.stale, ["chunks/intents/junk", "chunks/intents/old"]);
        drop(marker);
        assert!(markers(&store, INTENTS, Duration::from_secs(60))
            .unwrap()
            .live
            .is_empty());
    }
}
