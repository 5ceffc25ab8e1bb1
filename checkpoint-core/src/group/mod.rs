//! Group checkpoints: several participants checkpoint one logical state
//! together, by epoch, and a restore never mixes parts of different epochs.
//!
//! A group has a name and, for each epoch, a fixed set of participant ids.
//! Each participant saves its part of epoch `E` (its own [`Checkpoint`]
//! type; participants may differ) and gets back a [`PartInfo`] once the part
//! is durable. A coordinator that is handed every participant's `PartInfo`
//! commits `E` ([`Group::commit`]) with one create-if-absent of the commit
//! record, listing each part's length and checksum: that single atomic
//! create is the commit point, and it is the only round trip the commit
//! adds to writing the parts. Before it the epoch does not exist for a
//! restore; after it the epoch is complete. A coordinator that only knows
//! the participant set uses [`Group::commit_verifying`], which reads every
//! part back first.
//!
//! Every participant restores from the same newest committed epoch
//! ([`Group::latest_committed_epoch`]), and each restore checks its part
//! against the record, so a part damaged, replaced or copied from another
//! participant after the commit is an error naming participant and epoch,
//! never a silent fall back to an older epoch. [`Group::collect_garbage`]
//! removes old epochs while participants keep writing. The protocol is
//! written down in `docs/GROUP.md`.
//!
//! It runs on any [`Store`]: the directory store on one machine, or an
//! object store shared by many. Parts may be compressed
//! ([`Group::compression`]) or incremental ([`Group::incremental`]: stored
//! as chunks shared across epochs, so a part that changed a little writes
//! little).
//!
//! # Examples
//!
//! Three participants of two types save epochs 1 and 2; epoch 2 is
//! committed by a coordinator holding their `PartInfo`s; after a restart
//! every participant restores epoch 2. Epoch 3 is saved by two of the three
//! only, so it cannot commit and is never restored.
//!
//! ```
//! use checkpoint::group::{Group, GroupError};
//! use checkpoint::DirStore;
//! use checkpoint::Checkpoint;
//! #[derive(Debug, PartialEq, Checkpoint)]
//! struct Counter(u64);
//! #[derive(Debug, PartialEq, Checkpoint)]
//! struct Ledger(i64);
//! # fn main() -> Result<(), GroupError> {
//! let dir = tempfile::tempdir().expect("a temporary directory");
//! let group = Group::new(DirStore::open(dir.path())?, "orders")?;
//! let ids = ["node-a", "node-b", "ledger"];
//! let (a, b, ledger) = (
//!     group.participant("node-a")?,
//!     group.participant("node-b")?,
//!     group.participant("ledger")?,
//! );
//!
//! for epoch in 1..=2 {
//!     // Each participant saves its part (usually in its own process) and
//!     // hands the returned `PartInfo` to the coordinator.
//!     let parts = [
//!         a.save(epoch, &Counter(10 * epoch))?,
//!         b.save(epoch, &Counter(20 * epoch))?,
//!         ledger.save(epoch, &Ledger(-(epoch as i64)))?,
//!     ];
//!     let record = group.commit(epoch, &ids, &parts)?;
//!     assert_eq!(record.parts.len(), 3);
//! }
//!
//! // Epoch 3: `ledger` never saves, so the epoch cannot commit.
//! let parts = [a.save(3, &Counter(30))?, b.save(3, &Counter(60))?];
//! let err = group.commit(3, &ids, &parts).unwrap_err();
//! assert!(matches!(err, GroupError::PartMissing { ref participant, .. } if participant == "ledger"));
//!
//! // After a crash: every participant restores the same committed epoch.
//! let group = Group::new(DirStore::open(dir.path())?, "orders")?;
//! assert_eq!(group.latest_committed_epoch()?, Some(2));
//! let restored = group.restore_latest::<Counter>("node-b")?.expect("epoch 2 is committed");
//! assert_eq!((restored.epoch, restored.state), (2, Counter(40)));
//! let restored = group.participant("ledger")?.restore_latest::<Ledger>()?.expect("committed");
//! assert_eq!((restored.epoch, restored.state), (2, Ledger(-2)));
//!
//! // Keep the newest committed epoch only; the unfinished epoch 3 stays.
//! let removed = group.collect_garbage(1)?;
//! assert_eq!(removed.committed_epochs, [1]);
//! # Ok(()) }
//! ```

#[cfg(feature = "tokio")]
mod asynchronous;
mod commit;
mod error;
mod garbage;
mod part;
mod records;
mod restore;
mod save;
mod streamed;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::incremental::{Chunking, Heal};
use crate::keys;
use crate::observe::Outcome;
use crate::store::{Store, StoreError};
use crate::{Checkpoint, Compression, Error};

#[cfg(feature = "tokio")]
pub use asynchronous::AsyncGroup;
pub use error::GroupError;
pub use records::{CommitRecord, GarbageReport, GroupRestored, PartInfo, StoredEpoch};

/// How often `restore_latest` moves on to a newer committed epoch when a
/// collection removed the one it listed.
const LATEST_RETRIES: usize = 16;

/// An epoch number: the round of a group checkpoint.
pub type Epoch = u64;

/// The names of the groups that have anything in `store`, sorted: the
/// names under `group/` that are valid group names.
///
/// # Errors
///
/// [`StoreError::Io`] when the store cannot be listed.
///
/// # Examples
///
/// ```
/// use checkpoint::group::{self, Group};
/// use checkpoint::MemStore;
/// use checkpoint::Checkpoint;
/// #[derive(Checkpoint)]
/// struct Counter(u64);
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = std::sync::Arc::new(MemStore::new());
/// let orders = Group::from_shared(store.clone(), "orders")?;
/// let part = orders.save_part(1, "a", &Counter(1))?;
/// orders.commit(1, &["a"], &[part])?;
/// orders.save_part(2, "a", &Counter(2))?;
///
/// assert_eq!(group::groups(&*store)?, ["orders"]);
/// let epochs = orders.epochs()?;
/// assert_eq!(epochs.iter().map(|e| (e.epoch, e.committed)).collect::<Vec<_>>(), [(1, true), (2, false)]);
/// assert_eq!(epochs[1].parts, ["a"]);
/// # Ok(()) }
/// ```
pub fn groups(store: &dyn Store) -> Result<Vec<String>, StoreError> {
    Ok(store
        .list_level(keys::GROUPS)?
        .into_iter()
        .filter_map(|name| name.strip_prefix(keys::GROUPS).map(str::to_owned))
        .filter(|name| check_name("group name", name).is_ok())
        .collect())
}

/// A named group of participants checkpointing together in one [`Store`].
#[derive(Debug, Clone)]
pub struct Group {
    store: Arc<dyn Store>,
    name: String,
    compression: Compression,
    chunking: Chunking,
    /// Chunks a restore found damaged, for the next save to store anew.
    heal: Heal,
}

/// One participant of a [`Group`]: the group's calls with the id filled in.
#[derive(Debug, Clone)]
pub struct Participant {
    group: Group,
    id: String,
}

impl Group {
    /// The group `name` in `store`.
    ///
    /// # Errors
    ///
    /// [`GroupError::InvalidName`] unless `name` is 1 to 128 characters of
    /// ASCII letters, digits, `-`, `_` and `.`.
    pub fn new(store: impl Store + 'static, name: &str) -> Result<Self, GroupError> {
        Self::from_shared(Arc::new(store), name)
    }

    /// The group `name` in a store shared with other users of it.
    ///
    /// # Errors
    ///
    /// As [`Group::new`].
    pub fn from_shared(store: Arc<dyn Store>, name: &str) -> Result<Self, GroupError> {
        check_name("group name", name)?;
        Ok(Group {
            store,
            name: name.to_owned(),
            compression: Compression::none(),
            chunking: Chunking::default(),
            heal: Heal::default(),
        })
    }

    /// Compresses the parts this group saves from now on (default: none),
    /// as [`Checkpointer::compression`](crate::Checkpointer::compression)
    /// does checkpoints. Restores and commits read compressed and plain
    /// parts alike, whatever this setting; participants of one epoch may
    /// differ.
    ///
    /// # Examples
    ///
    /// ```
    /// use checkpoint::group::Group;
    /// use checkpoint::{Checkpoint, Compression, MemStore};
    ///
    /// #[derive(Debug, PartialEq, Checkpoint)]
    /// struct Log { lines: Vec<String> }
    ///
    /// let log = Log { lines: vec!["the same line".to_owned(); 1000] };
    /// let store = std::sync::Arc::new(MemStore::new());
    /// let plain = Group::from_shared(store.clone(), "g")?.save_part(1, "a", &log)?;
    /// let group = Group::from_shared(store, "g")?.compression(Compression::zstd(3));
    /// let small = group.save_part(1, "b", &log)?;
    /// assert!(small.len * 10 < plain.len);
    /// group.commit(1, &["a", "b"], &[plain, small])?;
    /// assert_eq!(group.restore::<Log>(1, "b")?, log);
    /// assert_eq!(group.restore::<Log>(1, "a")?, log);
    /// # Ok::<(), checkpoint::group::GroupError>(())
    /// ```
    #[must_use]
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Writes the parts this group saves from now on as incremental ones
    /// when `on` (the default is off), as
    /// [`Checkpointer::incremental`](crate::Checkpointer::incremental) does
    /// checkpoints: the part's checkpoint is cut into content-defined
    /// chunks, each stored once per store under its BLAKE3 hash
    /// (`chunks/ab/abcd…`, shared with the store's checkpoints and every
    /// other group), and the part holds its owner header and a manifest
    /// listing them. A participant whose state changed a little since its
    /// last part writes a few chunks, not its whole state. The chunks are
    /// cut and stored as the state is encoded, so the part is never whole
    /// in memory, on any store (an object store included, where a whole
    /// part is built in memory: `docs/GROUP.md`, "Costs").
    ///
    /// Restores and commits read incremental and whole parts alike,
    /// whatever this setting, and check every chunk against its hash: a
    /// damaged or missing chunk makes the part unreadable, naming the
    /// chunk. The commit record's checksum covers the part as stored, which
    /// names each chunk by its hash. A chunk stays while any part or
    /// checkpoint in the store lists it: a checkpointer's retention on the
    /// same store keeps the chunks of every stored part, and
    /// [`collect_garbage`](Self::collect_garbage) deletes the packs of
    /// chunks that only the epochs it removed listed (the protocol is in
    /// `docs/FORMAT.md`).
    ///
    /// # Examples
    ///
    /// ```
    /// use checkpoint::group::Group;
    /// use checkpoint::{Checkpoint, MemStore, Store};
    ///
    /// #[derive(Debug, PartialEq, Checkpoint)]
    /// struct Log { lines: Vec<String> }
    ///
    /// let store = std::sync::Arc::new(MemStore::new());
    /// let group = Group::from_shared(store.clone(), "g")?.incremental(true);
    /// let mut log = Log { lines: (0..100_000).map(|i| format!("line {i}")).collect() };
    /// let first = group.save_part(1, "a", &log)?;
    /// group.commit(1, &["a"], &[first])?;
    /// let chunks = store.list("chunks/")?.len();
    ///
    /// log.lines[500] = "changed".to_owned();
    /// let second = group.save_part(2, "a", &log)?;
    /// group.commit(2, &["a"], &[second])?;
    /// // A few new chunks, not a second copy of the whole log.
    /// assert!(store.list("chunks/")?.len() < chunks + 4);
    /// assert_eq!(group.restore_latest::<Log>("a")?.expect("committed").state, log);
    ///
    /// // A log that shares nothing with the others: once the epochs before
    /// // it are dropped, no kept part lists their packs.
    /// let other = Log { lines: (0..100_000).map(|i| format!("entry {i}")).collect() };
    /// let third = group.save_part(3, "a", &other)?;
    /// group.commit(3, &["a"], &[third])?;
    /// let removed = group.collect_garbage(1)?;
    /// assert_eq!(removed.committed_epochs, [1, 2]);
    /// assert!(removed.chunks > 0);
    /// assert_eq!(group.restore_latest::<Log>("a")?.expect("committed").state, other);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn incremental(mut self, on: bool) -> Self {
        self.chunking.on = on;
        self
    }

    /// How long an incremental part's save, or a chunk sweep, counts as
    /// live to the others (default 60 s), as
    /// [`Checkpointer::chunk_lease`](crate::Checkpointer::chunk_lease): a
    /// participant killed while saving postpones chunk sweeps, and a
    /// collection killed while sweeping makes incremental saves wait, for
    /// at most this long. It must exceed the wall-clock skew between the
    /// machines sharing the store, and any pause of a live process.
    #[must_use]
    pub fn chunk_lease(mut self, lease: Duration) -> Self {
        self.chunking.lease = lease;
        self
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The store the group lives in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// A handle for participant `id`.
    ///
    /// # Errors
    ///
    /// [`GroupError::InvalidName`] when `id` is not a valid participant id
    /// (same rule as group names).
    pub fn participant(&self, id: &str) -> Result<Participant, GroupError> {
        check_name("participant id", id)?;
        Ok(Participant {
            group: self.clone(),
            id: id.to_owned(),
        })
    }

    fn missing(&self, epoch: Epoch, participant: &str) -> GroupError {
        GroupError::PartMissing {
            group: self.name.clone(),
            epoch,
            participant: participant.to_owned(),
            location: self.store.location(&self.part_key(epoch, participant)),
        }
    }

    fn superseded(&self, epoch: Epoch, committed: Epoch) -> GroupError {
        GroupError::EpochSuperseded {
            group: self.name.clone(),
            epoch,
            committed,
        }
    }

    fn corrupt(
        &self,
        epoch: Epoch,
        participant: &str,
        reason: String,
        source: Option<Error>,
    ) -> GroupError {
        GroupError::PartCorrupt {
            group: self.name.clone(),
            epoch,
            participant: participant.to_owned(),
            location: self.store.location(&self.part_key(epoch, participant)),
            reason,
            source: source.map(Box::new),
        }
    }

    fn record_corrupt(&self, epoch: Epoch, reason: String) -> GroupError {
        GroupError::CommitRecordCorrupt {
            group: self.name.clone(),
            epoch,
            location: self.store.location(&self.commit_key(epoch)),
            reason,
        }
    }

    fn commits_prefix(&self) -> String {
        keys::group_commits(&self.name)
    }

    fn parts_prefix(&self) -> String {
        keys::group_parts(&self.name)
    }

    fn commit_key(&self, epoch: Epoch) -> String {
        keys::group_commit(&self.name, epoch)
    }

    /// Whose part `participant`'s part of `epoch` is, as its owner header
    /// names it.
    fn owner<'a>(&'a self, epoch: Epoch, participant: &'a str) -> part::PartOwner<'a> {
        part::PartOwner {
            group: &self.name,
            participant,
            epoch,
        }
    }

    fn part_key(&self, epoch: Epoch, participant: &str) -> String {
        keys::group_part(&self.name, epoch, participant)
    }
}

impl Outcome for PartInfo {
    fn bytes(&self) -> Option<u64> {
        Some(self.len)
    }
}

impl Outcome for CommitRecord {
    fn record_on(&self, span: &tracing::Span) {
        span.record("parts", self.parts.len());
    }
}

impl Participant {
    /// This participant's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The group it belongs to.
    pub fn group(&self) -> &Group {
        &self.group
    }

    /// Saves this participant's part of `epoch`; see [`Group::save_part`].
    ///
    /// # Errors
    ///
    /// As [`Group::save_part`].
    pub fn save<T: Checkpoint>(&self, epoch: Epoch, state: &T) -> Result<PartInfo, GroupError> {
        self.group.save_part(epoch, &self.id, state)
    }

    /// Restores this participant's part of the newest committed epoch; see
    /// [`Group::restore_latest`].
    ///
    /// # Errors
    ///
    /// As [`Group::restore`].
    pub fn restore_latest<T: Checkpoint<Context = ()>>(
        &self,
    ) -> Result<Option<GroupRestored<T>>, GroupError> {
        self.group.restore_latest(&self.id)
    }
}

/// What the commit record lists for a part saved as `bytes`.
fn part_info(participant: &str, epoch: Epoch, bytes: &[u8]) -> PartInfo {
    PartInfo {
        participant: participant.to_owned(),
        epoch,
        len: bytes.len() as u64,
        checksum: part::part_checksum(bytes),
    }
}

/// Runs `second` on a scoped thread while `first` runs here: two store
/// calls that would otherwise cost two round trips cost one.
fn beside<A: Send, B: Send>(
    first: impl FnOnce() -> A + Send,
    second: impl FnOnce() -> B + Send,
) -> (A, B) {
    std::thread::scope(|scope| {
        let second = scope.spawn(second);
        let first = first();
        match second.join() {
            Ok(second) => (first, second),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The participant set of a commit: valid ids, none twice, at least one.
fn check_participants<'a>(participants: &[&'a str]) -> Result<BTreeSet<&'a str>, GroupError> {
    let mut ids = BTreeSet::new();
    for id in participants {
        check_name("participant id", id)?;
        if !ids.insert(*id) {
            return Err(GroupError::InvalidName {
                what: "participant id",
                name: (*id).to_owned(),
                reason: "it is listed twice".to_owned(),
            });
        }
    }
    if ids.is_empty() {
        return Err(GroupError::InvalidName {
            what: "participant set",
            name: String::new(),
            reason: "an epoch needs at least one participant".to_owned(),
        });
    }
    Ok(ids)
}

fn check_name(what: &'static str, name: &str) -> Result<(), GroupError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > 128 {
        "it is longer than 128 bytes"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        "only ASCII letters, digits, `-`, `_` and `.` are allowed"
    } else if name.starts_with('.') {
        "it starts with `.`"
    } else {
        return Ok(());
    };
    Err(GroupError::InvalidName {
        what,
        name: name.to_owned(),
        reason: reason.to_owned(),
    })
}
