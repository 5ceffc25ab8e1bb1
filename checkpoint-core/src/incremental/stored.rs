//! What a save finds stored: the chunks it may list without storing them.
//!
//! A save learns which chunks the store holds from an earlier manifest:
//! the newest checkpoint's before it, or the participant's newest part's
//! ([`Earlier`]). A chunk it finds there, in a value the store still
//! lists, is listed again rather than stored (`docs/FORMAT.md`, "Packs").

use std::collections::{HashMap, HashSet};

use super::manifest::{Blob, ChunkRef, Manifest, HASH_LEN};
use super::writer::stored_chunks;
use crate::keys;
use crate::store::{Store, StoreError};
use crate::Error;

/// How many earlier checkpoints (or parts) a save reads at most to find
/// a manifest: past a few whole ones, it stores every chunk anew.
const LOOK_BACK: usize = 4;

/// Where a save looks for the chunks it may list without storing them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Earlier<'a> {
    /// The newest incremental checkpoint before the one being saved.
    Checkpoint,
    /// The newest incremental part of `participant` in group `group`
    /// before the epoch being saved.
    Part {
        group: &'a str,
        participant: &'a str,
    },
}

impl Earlier<'_> {
    /// The newest manifest it names before `seq` (a sequence number or an
    /// epoch) that reads; `None` when there is none among the last few.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub(crate) fn manifest(
        self,
        store: &dyn Store,
        seq: u64,
    ) -> Result<Option<Manifest>, StoreError> {
        let candidates: Vec<(u64, String)> = match self {
            Earlier::Checkpoint => keys::checkpoints(store)
                .map_err(into_store_error)?
                .into_iter()
                .filter(|(s, _)| *s < seq)
                .rev()
                .take(LOOK_BACK)
                .collect(),
            Earlier::Part { group, participant } => {
                let prefix = keys::group_parts(group);
                let mut epochs: Vec<u64> = store
                    .list_level(&prefix)?
                    .iter()
                    .filter_map(|name| keys::part_epoch(&prefix, name))
                    .filter(|e| *e < seq)
                    .collect();
                epochs.sort_unstable();
                epochs
                    .into_iter()
                    .rev()
                    .take(LOOK_BACK)
                    .map(|e| (e, keys::group_part(group, e, participant)))
                    .collect()
            }
        };
        for (s, key) in candidates {
            let location = store.location(&key);
            let read = match self {
                Earlier::Checkpoint => super::reader::read_manifest(store, &key, s, &location),
                Earlier::Part { .. } => super::sweep::part_manifest(store, &key, s, &location),
            };
            match read {
                Ok(Some(manifest)) => return Ok(Some(manifest)),
                // A whole checkpoint, an absent part, or one that does not
                // read: its chunks are not listed again.
                Ok(None) | Err(Error::Store(StoreError::Unreadable { .. })) => {}
                Err(Error::Store(e)) => return Err(e),
                Err(_) => {}
            }
        }
        Ok(None)
    }
}

fn into_store_error(error: Error) -> StoreError {
    match error {
        Error::Store(e) => e,
        other => StoreError::io(
            "list",
            String::new(),
            std::io::Error::other(other.to_string()),
        ),
    }
}

/// Where the store holds a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Alone, under its own hash.
    Alone,
    /// In `pack`, from byte `offset` on.
    Packed { pack: Blob, offset: u32 },
}

/// The chunks a save may list without storing them: those an earlier
/// manifest lists, in values the store lists, both read after the save's
/// intent as the chunk protocol asks (`docs/FORMAT.md`, "Chunk retention").
#[derive(Debug, Default)]
pub(crate) struct Stored {
    places: HashMap<[u8; HASH_LEN], Place>,
    /// The chunks an earlier attempt of the same save stored: read back
    /// intact as they were written, they need no reading back.
    own: HashSet<[u8; HASH_LEN]>,
}

impl Stored {
    /// Reads the manifest `earlier` names before `seq`, and lists the
    /// store's chunks and packs. `carried` are chunks an earlier attempt
    /// of the same save stored ([`Packer::stored_now`]): listed again too
    /// when the store still lists them.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub(crate) fn read(
        store: &dyn Store,
        earlier: Earlier<'_>,
        seq: u64,
        carried: &[([u8; HASH_LEN], Place)],
    ) -> Result<Stored, StoreError> {
        let manifest = earlier.manifest(store, seq)?;
        if manifest.is_none() && carried.is_empty() {
            return Ok(Stored::default());
        }
        let listed = stored_chunks(store)?;
        let mut stored = match manifest {
            Some(manifest) => Stored::from_manifest(&manifest, &listed),
            None => Stored::default(),
        };
        for (hash, place) in carried {
            let key = match place {
                Place::Alone => keys::chunk(&super::manifest::hex(hash)),
                Place::Packed { pack, .. } => pack.key(),
            };
            if listed.contains(&key) {
                stored.places.entry(*hash).or_insert(*place);
                stored.own.insert(*hash);
            }
        }
        Ok(stored)
    }

    /// The chunks `manifest` lists in values among `listed`.
    pub(super) fn from_manifest(manifest: &Manifest, listed: &HashSet<String>) -> Stored {
        let present: Vec<bool> = manifest
            .blobs
            .iter()
            .map(|blob| listed.contains(&blob.key()))
            .collect();
        let mut places = HashMap::new();
        for placed in &manifest.chunks {
            if !present[placed.blob as usize] {
                continue;
            }
            let blob = manifest.blob_of(placed);
            let place = if blob.packed {
                Place::Packed {
                    pack: *blob,
                    offset: placed.offset,
                }
            } else {
                Place::Alone
            };
            places.entry(placed.chunk.hash).or_insert(place);
        }
        Stored {
            places,
            own: HashSet::new(),
        }
    }

    /// Where the store holds `chunk`, if it does.
    pub(crate) fn place(&self, chunk: &ChunkRef) -> Option<Place> {
        self.places.get(&chunk.hash).copied()
    }

    /// Whether an earlier attempt of the same save stored `hash`.
    pub(crate) fn is_own(&self, hash: &[u8; HASH_LEN]) -> bool {
        self.own.contains(hash)
    }

    /// Forgets the chunks `damaged`: the save stores them anew.
    pub(crate) fn forget(&mut self, damaged: &HashSet<[u8; HASH_LEN]>) {
        self.places.retain(|hash, _| !damaged.contains(hash));
    }
}
