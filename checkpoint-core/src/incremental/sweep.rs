//! Deleting chunks that no checkpoint lists: the sweeper's side of the
//! chunk protocol (`docs/FORMAT.md`, "Chunk retention").

use std::collections::HashSet;
use std::time::Duration;

use super::lease::{self, Marker, INTENTS, SWEEPING};
use super::reader::read_manifest;
use super::writer::stored_chunks;
use crate::keys::checkpoints as checkpoint_keys;
use crate::{Error, Result, Store};

/// What a sweep did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Swept {
    /// It deleted this many chunks no checkpoint lists.
    Done { deleted: usize },
    /// It deleted nothing, for this reason; a later sweep will.
    Postponed(String),
}

/// Deletes the chunks that no checkpoint in `store` lists, unless a save
/// may be about to list them: announce the sweep (a marker), then look for
/// saves (intents); with one live, delete nothing.
///
/// # Errors
///
/// [`Error::Store`] when the store fails.
pub(crate) fn sweep(store: &dyn Store, lease_time: Duration) -> Result<Swept> {
    let marker = Marker::put(store, SWEEPING)?;
    for key in lease::markers(store, SWEEPING, lease_time)?.stale {
        store.delete(&key)?;
    }
    let intents = lease::markers(store, INTENTS, lease_time)?;
    for key in &intents.stale {
        store.delete(key)?;
    }
    if !intents.live.is_empty() {
        return Ok(Swept::Postponed(format!(
            "a save is in progress (`{}`)",
            store.location(&intents.live[0])
        )));
    }
    let mut listed = HashSet::new();
    for (seq, key) in checkpoint_keys(store)? {
        let location = store.location(&key);
        match read_manifest(store, &key, seq, &location) {
            Ok(Some(manifest)) => listed.extend(manifest.chunks.iter().map(|c| c.key())),
            Ok(None) => {}
            // Its chunks are unknown: deleting any could lose one it lists.
            Err(e) if e.is_damage() => {
                return Ok(Swept::Postponed(format!(
                    "checkpoint #{seq} cannot be read: {e}"
                )))
            }
            Err(Error::Store(crate::StoreError::Unreadable { .. })) => {}
            Err(e) => return Err(e),
        }
    }
    let mut deleted = 0;
    for key in stored_chunks(store)? {
        if listed.contains(&key) {
            continue;
        }
        // Savers take a marker this old for a dead sweeper's: stop before
        // they could.
        if marker.age() > lease_time / 2 {
            return Ok(Swept::Postponed(format!(
                "the sweep took longer than half the chunk lease ({lease_time:?})"
            )));
        }
        store.delete(&key)?;
        deleted += 1;
    }
    drop(marker);
    Ok(Swept::Done { deleted })
}
