//! Deleting chunks that no checkpoint lists: the sweeper's side of the
//! chunk protocol (`docs/FORMAT.md`, "Chunk retention").

use std::collections::HashSet;
use std::time::Duration;

use super::lease::{self, Marker, INTENTS, SWEEPING};
use super::manifest::{self, Manifest, MAX_MANIFEST_LEN};
use super::reader::read_manifest;
use super::writer::stored_chunks;
use crate::keys::{self, checkpoints as checkpoint_keys};
use crate::store::StoreError;
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
        let read = read_manifest(store, &key, seq, &location);
        if let Some(why) = list_chunks(&mut listed, read, || format!("checkpoint #{seq}"))? {
            return Ok(Swept::Postponed(why));
        }
    }
    // Group parts list chunks too: a part no commit lists yet may be
    // committed later, so every stored part counts.
    for key in store.list(keys::GROUPS)? {
        let Some((_, epoch, _)) = keys::any_part(&key) else {
            continue;
        };
        let location = store.location(&key);
        let read = part_manifest(store, &key, epoch, &location);
        if let Some(why) =
            list_chunks(&mut listed, read, || format!("the group part `{location}`"))?
        {
            return Ok(Swept::Postponed(why));
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

/// Adds the chunks of a manifest `read` (of `what`) to `listed`. Damage
/// (its chunks are unknown: deleting any could lose one it lists) is why
/// the sweep must wait, returned; an unreadable value lists nothing.
fn list_chunks(
    listed: &mut HashSet<String>,
    read: Result<Option<Manifest>>,
    what: impl FnOnce() -> String,
) -> Result<Option<String>> {
    match read {
        Ok(Some(manifest)) => listed.extend(manifest.blob_keys()),
        Ok(None) | Err(Error::Store(StoreError::Unreadable { .. })) => {}
        Err(e) if e.is_damage() => return Ok(Some(format!("{} cannot be read: {e}", what()))),
        Err(e) => return Err(e),
    }
    Ok(None)
}

/// How many leading bytes of a part are read to tell a whole part from an
/// incremental one: its owner header (at most 286 bytes, with names of at
/// most 128) and a manifest's prefix.
pub(crate) const PART_HEAD: usize = 512;

/// The manifest in the group part stored at `key`, of `epoch`, when it is
/// an incremental part; `Ok(None)` when it is a whole one or is absent. A
/// whole part's first bytes alone are read.
///
/// # Errors
///
/// Damage to the part's owner header or to its manifest, or
/// [`Error::Store`].
pub(crate) fn part_manifest(
    store: &dyn Store,
    key: &str,
    epoch: u64,
    location: &str,
) -> Result<Option<Manifest>> {
    let damaged = |reason: String| Error::Malformed {
        seq: epoch,
        location: location.to_owned(),
        reason,
    };
    let Some(head) = store.get_prefix(key, PART_HEAD)? else {
        return Ok(None);
    };
    match crate::format::part::split_part(&head) {
        Ok((_, stored)) if !manifest::is_manifest(stored) => return Ok(None),
        // A longer owner header than any this library writes: read on.
        Err(_) if head.len() == PART_HEAD => {}
        Err(reason) => return Err(damaged(reason)),
        Ok(_) => {}
    }
    let bytes = match store.get_at_most(key, PART_HEAD as u64 + MAX_MANIFEST_LEN) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(None),
        Err(StoreError::TooLarge { len, .. }) => {
            return Err(damaged(format!(
                "it is {len} bytes long, more than a part holding a manifest can be"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let (_, stored) = crate::format::part::split_part(&bytes).map_err(damaged)?;
    if !manifest::is_manifest(stored) {
        return Ok(None);
    }
    // Read as the epoch its own prefix names: a part that sits in another
    // epoch's slot still keeps what it lists (restores refuse it anyway).
    let seq = crate::format::prefix_seq(stored).unwrap_or(epoch);
    Manifest::decode(stored, seq, location).map(Some)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::manifest::ChunkRef;
    use super::*;
    use crate::group::Group;
    use crate::{Checkpoint, FieldReader, FieldWriter, MemStore};

    struct Blob(Vec<u8>);

    impl Checkpoint for Blob {
        type Context = ();
        const SCHEMA: crate::Schema = crate::Schema::new(
            "Blob",
            crate::Shape::Tuple(&[crate::FieldSchema::serialized("0", "Vec<u8>")]),
        );
        fn write_fields(&self, out: &mut FieldWriter<'_>) -> Result<()> {
            out.field("0", &self.0)
        }
        fn read_fields(input: &mut FieldReader<'_>, _: &()) -> Result<Self> {
            Ok(Blob(input.field("0")?))
        }
    }

    #[test]
    fn group_parts_keep_their_chunks_and_a_damaged_one_postpones_the_sweep() {
        let lease = Duration::from_secs(60);
        let store = Arc::new(MemStore::new());
        let blob = Blob((0..300_000u32).map(|i| (i * 7 % 251) as u8).collect());
        // An incremental part no commit lists yet, and a whole one.
        Group::from_shared(store.clone(), "g")
            .unwrap()
            .incremental(true)
            .save_part(1, "a", &blob)
            .unwrap();
        Group::from_shared(store.clone(), "g")
            .unwrap()
            .save_part(1, "b", &blob)
            .unwrap();
        let listed = stored_chunks(&*store).unwrap();
        assert!(!listed.is_empty());
        let orphan = ChunkRef::of(b"listed by nothing");
        store
            .put_if_absent(&orphan.key(), b"listed by nothing")
            .unwrap();
        assert_eq!(sweep(&*store, lease).unwrap(), Swept::Done { deleted: 1 });
        assert_eq!(stored_chunks(&*store).unwrap(), listed);

        // The part's owner header no longer reads: what it lists is
        // unknown, so nothing is deleted.
        let key = crate::keys::group_part("g", 1, "a");
        let mut bytes = store.get(&key).unwrap().unwrap();
        bytes[14] ^= 1;
        store.delete(&key).unwrap();
        store.put_if_absent(&key, &bytes).unwrap();
        store
            .put_if_absent(&orphan.key(), b"listed by nothing")
            .unwrap();
        match sweep(&*store, lease).unwrap() {
            Swept::Postponed(reason) => assert!(reason.contains(&key), "{reason}"),
            done => panic!("{done:?}"),
        }
        assert_eq!(stored_chunks(&*store).unwrap().len(), listed.len() + 1);
    }
}
