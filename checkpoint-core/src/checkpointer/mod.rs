//! The [`Checkpointer`]: its settings and numbering here; what it does in
//! one file each:
//!
//! - `save.rs`: `save`, `capture`, `commit` (whole and incremental);
//! - `restore.rs`: `restore_latest`, `restore`;
//! - `list.rs`: `list`;
//! - `retention.rs`: `keep_last` applied after a commit.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::incremental::{self, sweep::Swept, Chunking, Heal};
use crate::observe::{self, Op};
use crate::snapshot::{Meta, Snapshot};
use crate::store::{DirStore, PendingValue, Store, StoreError};
use crate::{format, keys, Checkpoint, Compression, Error, Result};

pub(crate) mod list;
mod restore;
mod retention;
mod save;

/// How often `save` captures again when its number is taken by something
/// that is not a checkpoint.
const OCCUPIED_RETRIES: usize = 8;

/// What a checkpointer knows of the committed checkpoints.
#[derive(Debug, Default)]
struct Committed {
    /// The newest committed sequence number.
    newest: u64,
    /// The names retention may delete: listed when the store was opened or
    /// last re-listed, and committed since. Retention deletes from this set,
    /// so it never lists the store to find what to delete.
    known: BTreeSet<u64>,
}

/// Saves and restores checkpoints of a state in one [`Store`].
///
/// Every method takes `&self`: threads share one `Checkpointer` behind an
/// [`Arc`]. Sequence numbers are 1, 2, 3, ... per store, continue after the
/// newest checkpoint when a store is reopened, and are never reused.
///
/// # Examples
///
/// ```
/// use checkpoint::{Checkpointer, MemStore};
/// use checkpoint::Checkpoint;
/// #[derive(Debug, PartialEq, Checkpoint)]
/// struct Counter { n: u64 }
///
/// let ckpt = Checkpointer::new(MemStore::new())?;
/// assert!(ckpt.restore_latest::<Counter>()?.is_none());
/// assert_eq!(ckpt.save(&Counter { n: 41 })?.seq, 1);
/// assert_eq!(ckpt.save(&Counter { n: 42 })?.seq, 2);
/// let restored = ckpt.restore_latest::<Counter>()?.unwrap();
/// assert_eq!((restored.state, restored.meta.seq), (Counter { n: 42 }, 2));
/// # Ok::<(), checkpoint::Error>(())
/// ```
#[derive(Debug)]
pub struct Checkpointer {
    pub(crate) store: Arc<dyn Store>,
    next_seq: Arc<AtomicU64>,
    /// The newest sequence number known committed and the checkpoints
    /// retention knows of; held while committing so commits are ordered.
    committed: Arc<Mutex<Committed>>,
    keep: usize,
    compression: Compression,
    chunking: Chunking,
    /// Chunks a restore found damaged, for the next save to store anew.
    heal: Heal,
    size_hint: Arc<AtomicUsize>,
}

impl Checkpointer {
    /// How many checkpoints are kept unless [`keep_last`](Self::keep_last) says otherwise.
    pub const DEFAULT_KEEP: usize = 10;

    /// A checkpointer over the directory `dir`, created if absent.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the directory cannot be created or listed.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::new(DirStore::open(dir)?)
    }

    /// A checkpointer over any store. Lists the store's keys and reads the
    /// 32-byte prefix of the newest (and of any newer entry that is not a
    /// checkpoint) to continue numbering after the newest checkpoint; no
    /// body is read. The numbering rule is in `docs/FORMAT.md`.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store cannot be listed.
    pub fn new(store: impl Store + 'static) -> Result<Self> {
        let store: Arc<dyn Store> = Arc::new(store);
        let numbering = Numbering::of(&*store)?;
        Ok(Self::numbered(store, numbering))
    }

    /// A checkpointer over `store` whose listing found checkpoint names
    /// `names`, the newest checkpoint among them being `newest` (0 for
    /// none): what [`Checkpointer::new`] finds, found by a caller that
    /// listed the store itself.
    #[cfg(all(feature = "tokio", feature = "object-store"))]
    pub(crate) fn listed(store: Arc<dyn Store>, names: BTreeSet<u64>, newest: u64) -> Self {
        Self::numbered(store, Numbering { names, newest })
    }

    fn numbered(store: Arc<dyn Store>, numbering: Numbering) -> Self {
        Checkpointer {
            store,
            next_seq: Arc::new(AtomicU64::new(numbering.next_above(0))),
            committed: Arc::new(Mutex::new(Committed {
                newest: numbering.newest,
                known: numbering.known(),
            })),
            keep: Self::DEFAULT_KEEP,
            compression: Compression::none(),
            chunking: Chunking::default(),
            heal: Heal::default(),
            size_hint: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A second handle on the same store, numbering and settings, for work
    /// that must outlive a borrow of `self` (a background commit thread):
    /// both handles number and order commits as one.
    pub(crate) fn share(&self) -> Checkpointer {
        Checkpointer {
            store: Arc::clone(&self.store),
            next_seq: Arc::clone(&self.next_seq),
            committed: Arc::clone(&self.committed),
            keep: self.keep,
            compression: self.compression,
            chunking: self.chunking,
            heal: self.heal.clone(),
            size_hint: Arc::clone(&self.size_hint),
        }
    }

    /// Keeps only the newest `k` checkpoints (at least 1): each commit
    /// deletes older ones. The checkpoint just committed is always kept.
    ///
    /// Retention deletes the checkpoints this checkpointer knows of (those
    /// listed when it was created or when its numbering met another
    /// writer's, and those it committed) without listing the store on
    /// every save.
    #[must_use]
    pub fn keep_last(mut self, k: usize) -> Self {
        self.keep = k.max(1);
        self
    }

    /// Compresses what [`capture`](Self::capture) and [`save`](Self::save)
    /// write from now on; the default is [`Compression::none`]. Each field is
    /// compressed on its own, and the header records it: restores read
    /// compressed and plain checkpoints alike, whatever this setting.
    ///
    /// # Examples
    ///
    /// ```
    /// use checkpoint::{Checkpointer, Compression, MemStore};
    /// use checkpoint::Checkpoint;
    /// #[derive(Debug, PartialEq, Checkpoint)]
    /// struct Log { lines: Vec<String> }
    ///
    /// let store = std::sync::Arc::new(MemStore::new());
    /// let log = Log { lines: vec!["the same line".to_owned(); 1000] };
    /// let plain = Checkpointer::new(store.clone())?.save(&log)?;
    /// let ckpt = Checkpointer::new(store)?.compression(Compression::zstd(3));
    /// let small = ckpt.save(&log)?;
    /// assert!(small.size * 10 < plain.size);
    /// // Both restore, whatever the setting.
    /// assert_eq!(ckpt.restore::<Log>(plain.seq)?.state, log);
    /// assert_eq!(ckpt.restore::<Log>(small.seq)?.state, log);
    /// # Ok::<(), checkpoint::Error>(())
    /// ```
    #[must_use]
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Writes checkpoints from now on as incremental ones when `on` (the
    /// default is off): the encoded checkpoint is cut into content-defined
    /// chunks (FastCDC, 16 KiB to 256 KiB, 64 KiB on average), each stored
    /// once per store under its BLAKE3 hash (`chunks/ab/abcd…`), and the
    /// checkpoint's key holds a manifest listing them. A save writes only
    /// the chunks the store lacks: a state that changed in a few places
    /// writes a few chunks. Restores read incremental and whole checkpoints
    /// alike, whatever this setting, and check every chunk against its hash.
    ///
    /// Retention ([`keep_last`](Self::keep_last)) then also deletes the
    /// chunks no remaining checkpoint or group part
    /// ([`Group::incremental`](crate::group::Group::incremental)) in the
    /// store lists, never one that a save in
    /// progress, in this process or another, may list (the protocol is in
    /// `docs/FORMAT.md`).
    ///
    /// A [`save`](Self::save) cuts the checkpoint as it is encoded and
    /// writes each new chunk meanwhile, on any store (an object store
    /// too), so it never holds the whole checkpoint: about one field's
    /// encoding and a few chunks beside the state. [`capture`](Self::capture)
    /// holds the whole encoded checkpoint until [`commit`](Self::commit)
    /// cuts it.
    ///
    /// With [`compression`](Self::compression) each field is compressed
    /// whole, so a field that changed at all is stored again whole: chunks
    /// pay most without compression, or with a state of many fields.
    ///
    /// # Examples
    ///
    /// ```
    /// use checkpoint::{Checkpointer, MemStore, Store};
    /// use checkpoint::Checkpoint;
    /// // With the `checkpoint` crate: `#[derive(Checkpoint)] struct Log { lines: Vec<String> }`
    /// #[derive(Debug, PartialEq, Checkpoint)]
    /// struct Log { lines: Vec<String> }
    ///
    /// let store = std::sync::Arc::new(MemStore::new());
    /// let ckpt = Checkpointer::new(store.clone())?.incremental(true);
    /// let mut log = Log { lines: (0..100_000).map(|i| format!("line {i}")).collect() };
    /// ckpt.save(&log)?;
    /// let chunks = store.list("chunks/")?.len();
    /// log.lines[500] = "changed".to_owned();
    /// ckpt.save(&log)?;
    /// // A few new chunks, not a second copy of the whole log.
    /// assert!(store.list("chunks/")?.len() < chunks + 4);
    /// assert_eq!(ckpt.restore_latest::<Log>()?.unwrap().state, log);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn incremental(mut self, on: bool) -> Self {
        self.chunking.on = on;
        self
    }

    /// Whether saves write chunks and a manifest.
    #[cfg(all(feature = "tokio", feature = "object-store"))]
    pub(crate) fn is_incremental(&self) -> bool {
        self.chunking.on
    }

    /// How long an incremental save's or a chunk sweep's marker counts as
    /// live (default 60 s). A process killed while saving postpones chunk
    /// sweeps, and one killed while sweeping makes incremental saves wait,
    /// for at most this long. It must exceed the wall-clock skew between
    /// the machines sharing a store, and any pause of a live process.
    #[must_use]
    pub fn chunk_lease(mut self, lease: Duration) -> Self {
        self.chunking.lease = lease;
        self
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    fn lock_committed(&self) -> MutexGuard<'_, Committed> {
        // The guarded state is updated in single assignments and inserts; a
        // panic cannot leave it half-changed.
        self.committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Sequence numbers as a store's listing shows them.
///
/// The rule (`docs/FORMAT.md`): numbering continues after the newest
/// checkpoint, the newest name whose 32-byte prefix is a checkpoint's for
/// that number. Names that hold something else (an empty file, a
/// directory) are never written over, and never make numbering jump.
struct Numbering {
    /// Every number a name in the store has.
    names: BTreeSet<u64>,
    /// The newest checkpoint's number, 0 when there is none.
    newest: u64,
}

impl Numbering {
    fn of(store: &dyn Store) -> Result<Self> {
        let names: BTreeSet<u64> = keys::checkpoints(store)?
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        let mut newest = 0;
        for &seq in names.iter().rev() {
            let prefix = match store.get_prefix(&keys::checkpoint(seq), format::PREFIX_LEN) {
                Ok(prefix) => prefix,
                Err(StoreError::Unreadable { .. }) => None,
                Err(e) => return Err(e.into()),
            };
            if prefix.is_some_and(|p| format::prefix_seq(&p) == Some(seq)) {
                newest = seq;
                break;
            }
        }
        Ok(Numbering { names, newest })
    }

    /// The smallest number above both `floor` and the newest checkpoint
    /// that no name has.
    fn next_above(&self, floor: u64) -> u64 {
        let mut next = floor.max(self.newest).saturating_add(1);
        while self.names.contains(&next) && next < u64::MAX {
            next += 1;
        }
        next
    }

    /// The names retention may delete: those up to the newest checkpoint.
    fn known(&self) -> BTreeSet<u64> {
        self.names.range(..=self.newest).copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpointer_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Checkpointer>();
    }
}
