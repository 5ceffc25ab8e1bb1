//! The [`Checkpointer`]: sequencing, capture, commit and retention.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use crate::snapshot::{Meta, Snapshot};
use crate::store::{DirStore, PendingValue, Store, StoreError};
use crate::{format, Checkpoint, Compression, Error, Result};

const KEY_SUFFIX: &str = ".ckpt";

/// Saves and restores checkpoints of a state in one [`Store`].
///
/// Every method takes `&self`: threads share one `Checkpointer` behind an
/// [`Arc`]. Sequence numbers are 1, 2, 3, ... per store, continue after the
/// newest checkpoint when a store is reopened, and are never reused.
///
/// # Examples
///
/// ```
/// use checkpoint_core::{Checkpointer, MemStore};
/// # use checkpoint_core::{Checkpoint, FieldReader, FieldWriter, FieldSchema, Schema, Shape};
/// # #[derive(Debug, PartialEq)]
/// # struct Counter { n: u64 }
/// # impl Checkpoint for Counter {
/// #     type Context = ();
/// #     const SCHEMA: Schema = Schema::new("Counter", Shape::Struct(&[FieldSchema::serialized("n", "u64")]));
/// #     fn write_fields(&self, out: &mut FieldWriter<'_>) -> checkpoint_core::Result<()> { out.field("n", &self.n) }
/// #     fn read_fields(input: &mut FieldReader<'_>, _: &()) -> checkpoint_core::Result<Self> {
/// #         Ok(Counter { n: input.field("n")? })
/// #     }
/// # }
///
/// let ckpt = Checkpointer::new(MemStore::new())?;
/// assert!(ckpt.restore_latest::<Counter>()?.is_none());
/// assert_eq!(ckpt.save(&Counter { n: 41 })?.seq, 1);
/// assert_eq!(ckpt.save(&Counter { n: 42 })?.seq, 2);
/// let restored = ckpt.restore_latest::<Counter>()?.unwrap();
/// assert_eq!((restored.state, restored.meta.seq), (Counter { n: 42 }, 2));
/// # Ok::<(), checkpoint_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Checkpointer {
    pub(crate) store: Arc<dyn Store>,
    next_seq: AtomicU64,
    /// The newest sequence number known committed; held while committing so
    /// commits are ordered.
    newest_committed: Mutex<u64>,
    keep: usize,
    compression: Compression,
    size_hint: AtomicUsize,
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

    /// A checkpointer over any store. Lists the store's keys (reading no
    /// checkpoint) to continue numbering after the newest.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store cannot be listed.
    pub fn new(store: impl Store + 'static) -> Result<Self> {
        let store: Arc<dyn Store> = Arc::new(store);
        let newest = newest_seq(&*store)?;
        Ok(Checkpointer {
            store,
            next_seq: AtomicU64::new(newest.saturating_add(1)),
            newest_committed: Mutex::new(newest),
            keep: Self::DEFAULT_KEEP,
            compression: Compression::none(),
            size_hint: AtomicUsize::new(0),
        })
    }

    /// Keeps only the newest `k` checkpoints (at least 1): each commit
    /// deletes older ones. The checkpoint just committed is always kept.
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
    /// use checkpoint_core::{Checkpointer, Compression, MemStore};
    /// # use checkpoint_core::{Checkpoint, FieldReader, FieldWriter, FieldSchema, Schema, Shape};
    /// # #[derive(Debug, PartialEq)]
    /// # struct Log { lines: Vec<String> }
    /// # impl Checkpoint for Log {
    /// #     type Context = ();
    /// #     const SCHEMA: Schema = Schema::new("Log", Shape::Struct(&[FieldSchema::serialized("lines", "Vec<String>")]));
    /// #     fn write_fields(&self, out: &mut FieldWriter<'_>) -> checkpoint_core::Result<()> { out.field("lines", &self.lines) }
    /// #     fn read_fields(input: &mut FieldReader<'_>, _: &()) -> checkpoint_core::Result<Self> {
    /// #         Ok(Log { lines: input.field("lines")? })
    /// #     }
    /// # }
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
    /// # Ok::<(), checkpoint_core::Error>(())
    /// ```
    #[must_use]
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Captures `state` and commits it: [`capture`](Self::capture) then
    /// [`commit`](Self::commit), with no other commit in between, so
    /// threads sharing a checkpointer can all `save`.
    ///
    /// On a store that writes values piece by piece (a [`DirStore`]),
    /// `save` encodes straight into the store's temporary file, so the
    /// checkpoint is never whole in memory; it borrows `state` until the
    /// checkpoint is durable. To release a lock on the state sooner, use
    /// `capture` under the lock and `commit` after, at the price of holding
    /// the encoded checkpoint in memory in between.
    ///
    /// # Errors
    ///
    /// As `capture` and `commit`. A streamed save that the store fails
    /// returns [`Error::Store`] (there is no in-memory snapshot to hand
    /// back); older checkpoints are intact.
    pub fn save<T: Checkpoint>(&self, state: &T) -> Result<Meta> {
        let mut newest = self.lock_newest();
        let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
        let meta = match self.store.create_streamed(&key_of(seq))? {
            Some(pending) => self.save_streamed(&mut newest, state, seq, pending)?,
            None => {
                let snapshot = self.capture_as(state, seq)?;
                self.commit_locked(&mut newest, snapshot)?
            }
        };
        drop(newest);
        self.apply_retention();
        Ok(meta)
    }

    /// Encodes `state` as checkpoint `seq` into `pending` as it goes, then
    /// makes it durable.
    fn save_streamed<T: Checkpoint>(
        &self,
        newest: &mut MutexGuard<'_, u64>,
        state: &T,
        seq: u64,
        mut pending: Box<dyn PendingValue>,
    ) -> Result<Meta> {
        let key = key_of(seq);
        let time = SystemTime::now();
        let location = self.store.location(&key);
        let size = format::encode_to(state, &mut *pending, &location, seq, time, self.compression)?;
        match pending.persist() {
            Ok(()) => {
                **newest = seq;
                Ok(Meta {
                    seq,
                    time,
                    size,
                    type_name: T::SCHEMA.name.to_owned(),
                    key,
                    location,
                    skipped: Vec::new(),
                })
            }
            Err(StoreError::AlreadyExists { location }) => {
                let listed = newest_seq(&*self.store)?;
                self.next_seq
                    .fetch_max(listed.max(seq).saturating_add(1), Ordering::SeqCst);
                **newest = (**newest).max(listed);
                Err(Error::SequenceTaken { seq, location })
            }
            Err(e) => Err(Error::Store(e)),
        }
    }

    /// Encodes `state` and gives it the next sequence number. The only step
    /// that reads the state: hold the state's lock for this alone, and
    /// [`commit`](Self::commit) after releasing it.
    ///
    /// # Errors
    ///
    /// [`Error::FieldEncode`] when a field fails to encode; its sequence
    /// number is then never used.
    pub fn capture<T: Checkpoint>(&self, state: &T) -> Result<Snapshot> {
        self.capture_as(state, self.next_seq.fetch_add(1, Ordering::SeqCst))
    }

    fn capture_as<T: Checkpoint>(&self, state: &T, seq: u64) -> Result<Snapshot> {
        let time = SystemTime::now();
        let mut bytes = Vec::with_capacity(self.size_hint.load(Ordering::Relaxed));
        format::encode(state, &mut bytes, seq, time, self.compression)?;
        self.size_hint.store(bytes.len(), Ordering::Relaxed);
        let key = key_of(seq);
        Ok(Snapshot {
            meta: Meta {
                seq,
                time,
                size: bytes.len() as u64,
                type_name: T::SCHEMA.name.to_owned(),
                location: self.store.location(&key),
                key,
                skipped: Vec::new(),
            },
            bytes,
        })
    }

    /// Makes `snapshot` durable, then applies retention.
    ///
    /// # Errors
    ///
    /// - [`Error::OlderCapture`] when a snapshot captured later is already
    ///   committed: an older capture never becomes the latest.
    /// - [`Error::SequenceTaken`] when another process committed this
    ///   sequence number first; capture again (numbering has moved on).
    ///   Committing a snapshot whose bytes are already stored under its
    ///   number (a retry of a write that landed although the store reported
    ///   a failure) succeeds instead.
    /// - [`Error::Commit`] when the store fails (a full disk, say); older
    ///   checkpoints are intact and the error hands the snapshot back.
    pub fn commit(&self, snapshot: Snapshot) -> Result<Meta> {
        let mut newest = self.lock_newest();
        let meta = self.commit_locked(&mut newest, snapshot)?;
        drop(newest);
        self.apply_retention();
        Ok(meta)
    }

    fn lock_newest(&self) -> MutexGuard<'_, u64> {
        // The guarded number is updated in one assignment; a panic cannot
        // leave it half-changed.
        self.newest_committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn commit_locked(&self, newest: &mut MutexGuard<'_, u64>, snapshot: Snapshot) -> Result<Meta> {
        let seq = snapshot.seq();
        if seq < **newest {
            return Err(Error::OlderCapture {
                seq,
                newest: **newest,
            });
        }
        let Snapshot { meta, bytes } = snapshot;
        match self.store.put_if_absent_owned(&meta.key, bytes) {
            Ok(()) => {
                **newest = seq;
                Ok(meta)
            }
            Err((StoreError::AlreadyExists { location }, bytes)) => {
                // A write that landed can still be reported as failed (the
                // file is linked but the directory sync failed, or a
                // conditional PUT timed out after it was applied): the retry
                // then finds the key. If it holds our bytes, this commit is
                // done; only different bytes mean another writer.
                match self.store.get(&meta.key) {
                    Ok(Some(existing)) if existing == bytes => {
                        **newest = (**newest).max(seq);
                        return Ok(meta);
                    }
                    Ok(_) => {}
                    Err(source) => {
                        return Err(Error::Commit {
                            snapshot: Box::new(Snapshot { meta, bytes }),
                            source,
                        })
                    }
                }
                let listed = newest_seq(&*self.store)?;
                self.next_seq
                    .fetch_max(listed.max(seq).saturating_add(1), Ordering::SeqCst);
                **newest = (**newest).max(listed);
                Err(Error::SequenceTaken { seq, location })
            }
            Err((source, bytes)) => Err(Error::Commit {
                snapshot: Box::new(Snapshot { meta, bytes }),
                source,
            }),
        }
    }

    fn apply_retention(&self) {
        // The save is durable already: a failed cleanup is worth a warning,
        // not an error.
        let keys = match self.keys() {
            Ok(keys) => keys,
            Err(e) => {
                tracing::warn!("checkpoint retention could not list the store: {e}");
                return;
            }
        };
        let excess = keys.len().saturating_sub(self.keep);
        for (_, key) in &keys[..excess] {
            if let Err(e) = self.store.delete(key) {
                tracing::warn!("checkpoint retention could not delete an old checkpoint: {e}");
            }
        }
    }

    /// The checkpoint keys in the store with their sequence numbers, oldest first.
    pub(crate) fn keys(&self) -> Result<Vec<(u64, String)>> {
        keys(&*self.store)
    }

    /// Every checkpoint in the store whose header reads, oldest first. Reads
    /// headers only, never bodies; a checkpoint whose header is damaged is
    /// left out (restoring it reports why).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails.
    pub fn list(&self) -> Result<Vec<Meta>> {
        let mut metas = Vec::new();
        for (seq, key) in self.keys()? {
            let location = self.store.location(&key);
            let Some(mut bytes) = self.store.get_prefix(&key, format::HEADER_PROBE_LEN)? else {
                continue;
            };
            let mut header = format::decode_header(&bytes, seq, &location);
            if let Err(Error::Truncated { .. }) = header {
                // A header longer than the probe: its length is in the
                // prefix, so read exactly the header, never the body.
                let need = format::header_section_len(&bytes)
                    .filter(|need| bytes.len() == format::HEADER_PROBE_LEN && *need > bytes.len());
                if let Some(need) = need {
                    match self.store.get_prefix(&key, need)? {
                        Some(more) => bytes = more,
                        None => continue,
                    }
                    header = format::decode_header(&bytes, seq, &location);
                }
            }
            if let Ok(header) = header {
                metas.push(Meta {
                    seq,
                    time: header.time,
                    size: header.total_len(),
                    type_name: header.type_name,
                    key,
                    location,
                    skipped: Vec::new(),
                });
            }
        }
        Ok(metas)
    }
}

/// The key of checkpoint `seq`: zero-padded so keys sort by number.
pub(crate) fn key_of(seq: u64) -> String {
    format!("{seq:020}{KEY_SUFFIX}")
}

/// The sequence number a checkpoint key (or a directory store's file name)
/// stands for.
pub(crate) fn seq_of(key: &str) -> Option<u64> {
    parse_padded(key.strip_suffix(KEY_SUFFIX)?)
}

/// A number written with exactly 20 digits, as keys write sequence numbers
/// and epochs so that listing order is numeric order.
pub(crate) fn parse_padded(digits: &str) -> Option<u64> {
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

fn keys(store: &dyn Store) -> Result<Vec<(u64, String)>> {
    Ok(store
        .list("")?
        .into_iter()
        .filter_map(|key| Some((seq_of(&key)?, key)))
        .collect())
}

fn newest_seq(store: &dyn Store) -> Result<u64> {
    Ok(keys(store)?.last().map_or(0, |(seq, _)| *seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_sequence_number() {
        assert!(key_of(9) < key_of(10));
        assert_eq!(seq_of(&key_of(u64::MAX)), Some(u64::MAX));
        assert_eq!(seq_of("00000000000000000007.ckpt"), Some(7));
        assert_eq!(seq_of("7.ckpt"), None);
        assert_eq!(seq_of("other"), None);
    }

    #[test]
    fn checkpointer_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Checkpointer>();
    }
}
