//! The [`Checkpointer`]: sequencing, capture, commit and retention.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::incremental::{self, sweep::Swept, Chunking};
use crate::observe::{self, Op};
use crate::snapshot::{Meta, Snapshot};
use crate::store::{DirStore, PendingValue, Store, StoreError};
use crate::{format, keys, Checkpoint, Compression, Error, Result};

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
    /// chunks no remaining checkpoint lists, never one that a save in
    /// progress, in this process or another, may list (the protocol is in
    /// `docs/FORMAT.md`). A save writes its checkpoint in memory first, as
    /// [`capture`](Self::capture) does, then its chunks.
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
        observe::observe(Op::Save, observe::save_span(T::SCHEMA.name), || {
            self.save_unobserved(state)
        })
    }

    fn save_unobserved<T: Checkpoint>(&self, state: &T) -> Result<Meta> {
        let mut committed = self.lock_committed();
        let mut attempts = 0;
        let meta = loop {
            let seq = self.next_seq.fetch_add(1, Ordering::SeqCst);
            // Chunks are cut from a checkpoint encoded whole, in memory.
            let streamed = if self.chunking.on {
                None
            } else {
                self.store.create_streamed(&keys::checkpoint(seq))?
            };
            let attempt = match streamed {
                Some(pending) => self.save_streamed(&mut committed, state, seq, pending),
                None => self
                    .capture_at(state, seq)
                    .and_then(|snapshot| self.commit_locked(&mut committed, snapshot)),
            };
            match attempt {
                // Numbering has moved past what is in the way: the next
                // attempt takes a free number.
                Err(e @ Error::SequenceOccupied { .. }) if attempts < OCCUPIED_RETRIES => {
                    tracing::warn!("checkpoint saved under the next free number: {e}");
                    attempts += 1;
                }
                result => break result?,
            }
        };
        let victims = self.retention_victims(&mut committed);
        drop(committed);
        self.delete_old(victims);
        Ok(meta)
    }

    /// Encodes `state` as checkpoint `seq` into `pending` as it goes, then
    /// makes it durable.
    fn save_streamed<T: Checkpoint>(
        &self,
        committed: &mut Committed,
        state: &T,
        seq: u64,
        mut pending: Box<dyn PendingValue>,
    ) -> Result<Meta> {
        let key = keys::checkpoint(seq);
        let time = SystemTime::now();
        let location = self.store.location(&key);
        let size =
            crate::encode::encode_to(state, &mut *pending, &location, seq, time, self.compression)?;
        match pending.persist() {
            Ok(()) => {
                committed.newest = seq;
                committed.known.insert(seq);
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
                // Only the prefix of what is in the way is read.
                let in_the_way = match self.store.get_prefix(&key, format::PREFIX_LEN) {
                    Ok(Some(prefix)) if format::prefix_seq(&prefix) == Some(seq) => None,
                    Ok(Some(prefix)) if prefix.is_empty() => Some("it is an empty file".to_owned()),
                    Ok(Some(_)) => Some(format!("it does not start like checkpoint #{seq}")),
                    Ok(None) => Some("it was removed while this save ran".to_owned()),
                    Err(StoreError::Unreadable { reason, .. }) => Some(reason),
                    Err(source) => return Err(Error::Store(source)),
                };
                Err(self.collision(committed, seq, location, in_the_way)?)
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
        self.capture_at(state, self.next_seq.fetch_add(1, Ordering::SeqCst))
    }

    /// [`capture`](Self::capture) under a number already taken, observed as
    /// a capture (inside a `save` too).
    fn capture_at<T: Checkpoint>(&self, state: &T, seq: u64) -> Result<Snapshot> {
        observe::observe(Op::Capture, observe::capture_span(T::SCHEMA.name), || {
            self.capture_as(state, seq)
        })
    }

    fn capture_as<T: Checkpoint>(&self, state: &T, seq: u64) -> Result<Snapshot> {
        let time = SystemTime::now();
        let mut bytes = Vec::with_capacity(self.size_hint.load(Ordering::Relaxed));
        crate::encode::encode(state, &mut bytes, seq, time, self.compression)?;
        self.size_hint.store(bytes.len(), Ordering::Relaxed);
        let key = keys::checkpoint(seq);
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
    /// - [`Error::SequenceOccupied`] when something that is not a checkpoint
    ///   (a directory, an empty file) has this sequence number's name;
    ///   capture again (numbering has moved past it). [`save`](Self::save)
    ///   does so itself.
    /// - [`Error::Commit`] when the store fails (a full disk, say); older
    ///   checkpoints are intact and the error hands the snapshot back.
    pub fn commit(&self, snapshot: Snapshot) -> Result<Meta> {
        let span = observe::commit_span(snapshot.seq());
        observe::observe(Op::Commit, span, || self.commit_unobserved(snapshot))
    }

    pub(crate) fn commit_unobserved(&self, snapshot: Snapshot) -> Result<Meta> {
        let mut committed = self.lock_committed();
        let meta = self.commit_locked(&mut committed, snapshot)?;
        let victims = self.retention_victims(&mut committed);
        drop(committed);
        self.delete_old(victims);
        Ok(meta)
    }

    /// For a commit that writes outside the commit lock: refuses `seq` when
    /// a newer checkpoint is committed already, as a commit does.
    #[cfg(all(feature = "tokio", feature = "object-store"))]
    pub(crate) fn check_not_older(&self, seq: u64) -> Result<()> {
        let newest = self.lock_committed().newest;
        if seq < newest {
            return Err(Error::OlderCapture { seq, newest });
        }
        Ok(())
    }

    /// For a commit that wrote checkpoint `seq` outside the commit lock:
    /// records it, and returns what retention now deletes (give back what
    /// was not deleted with [`Checkpointer::not_deleted`]).
    #[cfg(all(feature = "tokio", feature = "object-store"))]
    pub(crate) fn written(&self, seq: u64) -> Vec<u64> {
        let mut committed = self.lock_committed();
        committed.newest = committed.newest.max(seq);
        committed.known.insert(seq);
        self.retention_victims(&mut committed)
    }

    /// Retention victims whose deletion never ran: the next commit's
    /// retention deletes them.
    #[cfg(all(feature = "tokio", feature = "object-store"))]
    pub(crate) fn not_deleted(&self, seqs: &[u64]) {
        self.lock_committed().known.extend(seqs);
    }

    fn lock_committed(&self) -> MutexGuard<'_, Committed> {
        // The guarded state is updated in single assignments and inserts; a
        // panic cannot leave it half-changed.
        self.committed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn commit_locked(&self, committed: &mut Committed, snapshot: Snapshot) -> Result<Meta> {
        if !self.chunking.on {
            return self.commit_value(committed, snapshot);
        }
        if snapshot.seq() < committed.newest {
            return Err(Error::OlderCapture {
                seq: snapshot.seq(),
                newest: committed.newest,
            });
        }
        let prepared = incremental::writer::prepare(
            &*self.store,
            &snapshot.bytes,
            snapshot.seq(),
            self.chunking.lease,
        );
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(source) => {
                return Err(Error::Commit {
                    snapshot: Box::new(snapshot),
                    source,
                })
            }
        };
        tracing::debug!(
            seq = snapshot.seq(),
            chunk_bytes_written = prepared.written,
            "incremental checkpoint's chunks stored"
        );
        let manifest = Snapshot {
            meta: snapshot.meta.clone(),
            bytes: prepared.manifest,
        };
        // The manifest commits like any checkpoint; the intent is dropped
        // (deleted) only after, so no sweep deletes a chunk it lists.
        let committed_manifest = self.commit_value(committed, manifest);
        drop(prepared.intent);
        match committed_manifest {
            // Handed back whole: committing it again cuts it again.
            Err(Error::Commit { source, .. }) => Err(Error::Commit {
                snapshot: Box::new(snapshot),
                source,
            }),
            result => result,
        }
    }

    /// Commits `snapshot`'s bytes, a checkpoint or a manifest, under its key.
    fn commit_value(&self, committed: &mut Committed, snapshot: Snapshot) -> Result<Meta> {
        let seq = snapshot.seq();
        if seq < committed.newest {
            return Err(Error::OlderCapture {
                seq,
                newest: committed.newest,
            });
        }
        let Snapshot { meta, bytes } = snapshot;
        let (location, bytes) = match self.store.put_if_absent_owned(&meta.key, bytes) {
            Ok(()) => {
                committed.newest = seq;
                committed.known.insert(seq);
                return Ok(meta);
            }
            Err((StoreError::AlreadyExists { location }, bytes)) => (location, bytes),
            Err((source, bytes)) => {
                return Err(Error::Commit {
                    snapshot: Box::new(Snapshot { meta, bytes }),
                    source,
                })
            }
        };
        // A write that landed can still be reported as failed (the file is
        // linked but the directory sync failed, or a conditional PUT timed
        // out after it was applied): the retry then finds the key. If it
        // holds our bytes, this commit is done; a checkpoint of this number
        // means another writer; anything else is in the way. Nothing longer
        // than our bytes is read.
        let in_the_way = match self.store.get_at_most(&meta.key, bytes.len() as u64) {
            Ok(Some(existing)) if *existing == bytes => {
                committed.newest = committed.newest.max(seq);
                committed.known.insert(seq);
                return Ok(meta);
            }
            Ok(Some(existing)) if format::prefix_seq(&existing) == Some(seq) => None,
            Ok(Some(existing)) if existing.is_empty() => Some("it is an empty file".to_owned()),
            Ok(Some(existing)) => Some(format!(
                "its {} bytes do not start like checkpoint #{seq}",
                existing.len()
            )),
            Err(StoreError::TooLarge { len, .. }) => {
                match self.store.get_prefix(&meta.key, format::PREFIX_LEN) {
                    Ok(Some(prefix)) if format::prefix_seq(&prefix) == Some(seq) => None,
                    _ => Some(format!(
                        "its {len} bytes do not start like checkpoint #{seq}"
                    )),
                }
            }
            Err(StoreError::Unreadable { reason, .. }) => Some(reason),
            // Gone again: a retry of the snapshot can succeed.
            Ok(None) => {
                return Err(Error::Commit {
                    snapshot: Box::new(Snapshot { meta, bytes }),
                    source: StoreError::AlreadyExists { location },
                })
            }
            Err(source) => {
                return Err(Error::Commit {
                    snapshot: Box::new(Snapshot { meta, bytes }),
                    source,
                })
            }
        };
        Err(self.collision(committed, seq, location, in_the_way)?)
    }

    /// After checkpoint `seq` found its key taken: numbering moves past
    /// everything now in the store, and the error says whether another
    /// writer's checkpoint (`in_the_way` is `None`) or something else holds
    /// the key.
    fn collision(
        &self,
        committed: &mut Committed,
        seq: u64,
        location: String,
        in_the_way: Option<String>,
    ) -> Result<Error> {
        let numbering = Numbering::of(&*self.store)?;
        let next = numbering.next_above(seq.max(committed.newest));
        self.next_seq.fetch_max(next, Ordering::SeqCst);
        committed.newest = committed.newest.max(numbering.newest);
        committed.known.extend(numbering.known());
        Ok(match in_the_way {
            None => Error::SequenceTaken { seq, location },
            Some(reason) => Error::SequenceOccupied {
                seq,
                location,
                reason,
            },
        })
    }

    /// The known checkpoints beyond the newest `keep`, taken out of the set.
    fn retention_victims(&self, committed: &mut Committed) -> Vec<u64> {
        let excess = committed.known.len().saturating_sub(self.keep);
        (0..excess)
            .filter_map(|_| committed.known.pop_first())
            .collect()
    }

    fn delete_old(&self, victims: Vec<u64>) {
        // The save is durable already: a failed cleanup is worth a warning,
        // not an error.
        let mut sweep = self.chunking.on && !victims.is_empty();
        for seq in victims {
            let key = keys::checkpoint(seq);
            // Incremental checkpoints written with other settings leave
            // chunks too.
            sweep = sweep
                || matches!(self.store.get_prefix(&key, format::PREFIX_LEN),
                    Ok(Some(prefix)) if incremental::is_manifest(&prefix));
            if let Err(e) = self.store.delete(&key) {
                tracing::warn!("checkpoint retention could not delete an old checkpoint: {e}");
            }
        }
        if sweep {
            match incremental::sweep::sweep(&*self.store, self.chunking.lease) {
                Ok(Swept::Done { deleted }) => {
                    tracing::debug!(deleted, "chunks no checkpoint lists deleted");
                }
                Ok(Swept::Postponed(reason)) => {
                    tracing::debug!("chunk sweep postponed to a later retention: {reason}");
                }
                Err(e) => tracing::warn!("checkpoint retention could not sweep chunks: {e}"),
            }
        }
    }

    /// The checkpoint keys in the store with their sequence numbers, oldest first.
    pub(crate) fn keys(&self) -> Result<Vec<(u64, String)>> {
        keys::checkpoints(&*self.store)
    }

    /// Every checkpoint in the store whose header reads, oldest first. Reads
    /// headers only, never bodies (of an incremental checkpoint, its
    /// manifest and the chunks that hold the header); a checkpoint whose
    /// header is damaged is left out (restoring it reports why).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails.
    pub fn list(&self) -> Result<Vec<Meta>> {
        let mut metas = Vec::new();
        for (seq, key) in self.keys()? {
            let location = self.store.location(&key);
            // An entry that cannot be read (a directory, a FIFO) is no
            // checkpoint to list; restoring it says why.
            let mut bytes = match self.store.get_prefix(&key, format::HEADER_PROBE_LEN) {
                Ok(Some(bytes)) => bytes,
                Ok(None) | Err(StoreError::Unreadable { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            if incremental::is_manifest(&bytes) {
                let header = match incremental::header_of(&self.store, &key, seq, &location) {
                    Ok(Some(header)) => header,
                    Err(e @ Error::Store(StoreError::Io { .. })) => return Err(e),
                    Ok(None) | Err(_) => continue,
                };
                metas.push(Meta {
                    seq,
                    time: header.time,
                    size: header.total_len(),
                    type_name: header.type_name,
                    key,
                    location,
                    skipped: Vec::new(),
                });
                continue;
            }
            let mut header = format::decode_header(&bytes, seq, &location);
            if let Err(Error::Truncated { .. }) = header {
                // A header longer than the probe: its length is in the
                // prefix, so read exactly the header, never the body.
                let need = format::header_section_len(&bytes)
                    .filter(|need| bytes.len() == format::HEADER_PROBE_LEN && *need > bytes.len());
                if let Some(need) = need {
                    match self.store.get_prefix(&key, need) {
                        Ok(Some(more)) => bytes = more,
                        Ok(None) | Err(StoreError::Unreadable { .. }) => continue,
                        Err(e) => return Err(e.into()),
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
