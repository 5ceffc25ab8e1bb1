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
//! object store shared by many.
//!
//! # Examples
//!
//! Three participants of two types save epochs 1 and 2; epoch 2 is
//! committed by a coordinator holding their `PartInfo`s; after a restart
//! every participant restores epoch 2. Epoch 3 is saved by two of the three
//! only, so it cannot commit and is never restored.
//!
//! ```
//! use checkpoint_core::group::{Group, GroupError};
//! use checkpoint_core::DirStore;
//! # use checkpoint_core::{Checkpoint, FieldReader, FieldSchema, FieldWriter, Schema, Shape};
//! # #[derive(Debug, PartialEq)] struct Counter(u64);
//! # impl Checkpoint for Counter {
//! #     type Context = ();
//! #     const SCHEMA: Schema = Schema::new("Counter", Shape::Tuple(&[FieldSchema::serialized("0", "u64")]));
//! #     fn write_fields(&self, out: &mut FieldWriter<'_>) -> checkpoint_core::Result<()> { out.field("0", &self.0) }
//! #     fn read_fields(input: &mut FieldReader<'_>, _: &()) -> checkpoint_core::Result<Self> { Ok(Counter(input.field("0")?)) }
//! # }
//! # #[derive(Debug, PartialEq)] struct Ledger(i64);
//! # impl Checkpoint for Ledger {
//! #     type Context = ();
//! #     const SCHEMA: Schema = Schema::new("Ledger", Shape::Tuple(&[FieldSchema::serialized("0", "i64")]));
//! #     fn write_fields(&self, out: &mut FieldWriter<'_>) -> checkpoint_core::Result<()> { out.field("0", &self.0) }
//! #     fn read_fields(input: &mut FieldReader<'_>, _: &()) -> checkpoint_core::Result<Self> { Ok(Ledger(input.field("0")?)) }
//! # }
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
mod error;
mod part;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::checkpointer::parse_padded;
use crate::observe::{self, Op};
use crate::store::{Store, StoreError};
use crate::{format, Checkpoint};

#[cfg(feature = "tokio")]
pub use asynchronous::AsyncGroup;
pub use error::GroupError;

/// How often `restore_latest` moves on to a newer committed epoch when a
/// collection removed the one it listed.
const LATEST_RETRIES: usize = 16;

/// An epoch number: the round of a group checkpoint.
pub type Epoch = u64;

/// The commit record of an epoch: which participants it holds, and the
/// checksum and length of each one's part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CommitRecord {
    /// The group's name.
    pub group: String,
    /// The committed epoch.
    pub epoch: Epoch,
    /// One entry per participant, sorted by participant id.
    pub parts: Vec<PartInfo>,
    /// Written before parts' checksums covered every byte (`CKPTCMT1`):
    /// its checksums are each part's trailing CRC-32C.
    #[serde(skip)]
    pub(crate) legacy: bool,
}

/// One part as saved: whose it is, its length and its CRC-32C checksum.
///
/// [`Group::save_part`] returns it once the part is durable; handing every
/// participant's `PartInfo` to [`Group::commit`] commits the epoch without
/// reading any part back. It is a serde type, so participants in other
/// processes can send it to the coordinator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartInfo {
    /// The participant that saved the part.
    pub participant: String,
    /// The epoch it belongs to.
    pub epoch: Epoch,
    /// Its length in bytes.
    pub len: u64,
    /// The CRC-32C of every byte of the part except its three embedded
    /// checksums (owner header, checkpoint header, checkpoint), so that it
    /// changes with any byte of the part: see `docs/GROUP.md`.
    pub checksum: u32,
}

/// A participant's restored state and the epoch it comes from.
#[derive(Debug)]
#[non_exhaustive]
pub struct GroupRestored<T> {
    /// The committed epoch the state comes from.
    pub epoch: Epoch,
    /// The participant's state.
    pub state: T,
}

/// What [`Group::collect_garbage`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GarbageReport {
    /// Committed epochs whose record and parts were removed.
    pub committed_epochs: Vec<Epoch>,
    /// Uncommitted epochs whose parts were removed.
    pub uncommitted_epochs: Vec<Epoch>,
    /// Keys removed in all.
    pub keys: usize,
}

/// One epoch of a group as its store holds it: what [`Group::epochs`]
/// lists.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredEpoch {
    /// The epoch.
    pub epoch: Epoch,
    /// The participants whose part of the epoch is stored, sorted.
    pub parts: Vec<String>,
    /// Whether the epoch's commit record exists: only then may a restore
    /// read its parts.
    pub committed: bool,
}

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
/// use checkpoint_core::group::{self, Group};
/// use checkpoint_core::MemStore;
/// # use checkpoint_core::{Checkpoint, FieldReader, FieldSchema, FieldWriter, Schema, Shape};
/// # struct Counter(u64);
/// # impl Checkpoint for Counter {
/// #     type Context = ();
/// #     const SCHEMA: Schema = Schema::new("Counter", Shape::Tuple(&[FieldSchema::serialized("0", "u64")]));
/// #     fn write_fields(&self, out: &mut FieldWriter<'_>) -> checkpoint_core::Result<()> { out.field("0", &self.0) }
/// #     fn read_fields(input: &mut FieldReader<'_>, _: &()) -> checkpoint_core::Result<Self> { Ok(Counter(input.field("0")?)) }
/// # }
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
    const PREFIX: &str = "group/";
    Ok(store
        .list_level(PREFIX)?
        .into_iter()
        .filter_map(|name| name.strip_prefix(PREFIX).map(str::to_owned))
        .filter(|name| check_name("group name", name).is_ok())
        .collect())
}

/// A named group of participants checkpointing together in one [`Store`].
#[derive(Debug, Clone)]
pub struct Group {
    store: Arc<dyn Store>,
    name: String,
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
        })
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

    /// Saves `participant`'s part of `epoch`, durably, and returns what the
    /// commit record will list for it.
    ///
    /// A part is written once, so a committed part can never change: saving
    /// another state as the same participant's part of the same epoch fails.
    /// Saving the same state again is a retry (say, after an error whose
    /// write had in fact landed) and returns the stored part's `PartInfo`.
    /// The commits are listed beside the write; once the part is durable a
    /// failure of that listing is logged, not returned.
    ///
    /// # Errors
    ///
    /// [`GroupError::PartExists`] when a different part was already saved,
    /// [`GroupError::EpochSuperseded`] when a newer or equal epoch is already
    /// committed, [`GroupError::Encode`] when the state does not encode,
    /// [`GroupError::Store`] when the store fails.
    pub fn save_part<T: Checkpoint>(
        &self,
        epoch: Epoch,
        participant: &str,
        state: &T,
    ) -> Result<PartInfo, GroupError> {
        let span = observe::group_save_part_span(&self.name, participant, epoch);
        observe::observe(Op::GroupSavePart, span, || {
            self.save_part_unobserved(epoch, participant, state)
        })
    }

    fn save_part_unobserved<T: Checkpoint>(
        &self,
        epoch: Epoch,
        participant: &str,
        state: &T,
    ) -> Result<PartInfo, GroupError> {
        let bytes = self.encode_part(epoch, participant, state)?;
        self.write_part(epoch, participant, bytes)
    }

    /// The bytes of `participant`'s part of `epoch` holding `state`: the
    /// half of [`save_part`](Self::save_part) that reads the state.
    pub(crate) fn encode_part<T: Checkpoint>(
        &self,
        epoch: Epoch,
        participant: &str,
        state: &T,
    ) -> Result<Vec<u8>, GroupError> {
        check_name("participant id", participant)?;
        let owner = part::PartOwner {
            group: &self.name,
            participant,
            epoch,
        };
        part::encode_part(&owner, state).map_err(|source| GroupError::Encode {
            participant: participant.to_owned(),
            epoch,
            source,
        })
    }

    /// Writes a part made by [`encode_part`](Self::encode_part): the half of
    /// [`save_part`](Self::save_part) that does I/O.
    pub(crate) fn write_part(
        &self,
        epoch: Epoch,
        participant: &str,
        bytes: Vec<u8>,
    ) -> Result<PartInfo, GroupError> {
        let owner = part::PartOwner {
            group: &self.name,
            participant,
            epoch,
        };
        let key = self.part_key(epoch, participant);
        // An epoch at or below the newest committed one can never be
        // restored; refusing it keeps the saver from believing otherwise.
        // The listing runs beside the write so it adds no round trip; a part
        // written for such an epoch is garbage the next collection removes.
        let (written, latest) = beside(
            || self.store.put_if_absent(&key, &bytes),
            || self.latest_committed_epoch(),
        );
        if let Ok(Some(committed)) = latest.as_ref().map(|l| l.filter(|&c| c >= epoch)) {
            return Err(self.superseded(epoch, committed));
        }
        let info = match written {
            Ok(()) => part_info(participant, epoch, &bytes),
            // A retry whose earlier attempt landed (its answer lost to a
            // timeout, or its listing failed) finds its own part: the same
            // state saved again is that part, not a conflict.
            Err(StoreError::AlreadyExists { location }) => match self.store.get(&key)? {
                Some(existing) if part::same_part(&existing, &bytes, &owner) => {
                    part_info(participant, epoch, &existing)
                }
                _ => {
                    return Err(GroupError::PartExists {
                        group: self.name.clone(),
                        epoch,
                        participant: participant.to_owned(),
                        location,
                    })
                }
            },
            Err(e) => return Err(e.into()),
        };
        // The listing only advises: the part is durable, and a commit of a
        // superseded epoch is refused by the commit itself.
        if let Err(e) = latest {
            tracing::warn!("saved the part of `{participant}` in epoch {epoch}, but could not list the commits: {e}");
        }
        Ok(info)
    }

    /// Commits `epoch` with exactly the parts of `participants`, given the
    /// [`PartInfo`] each participant's save returned: one create-if-absent
    /// of the commit record, and no read of any part.
    ///
    /// This is the commit of a coordinator that collects what the saves
    /// return (the same process, or `PartInfo`s sent to it: they are serde
    /// types). Every participant of the set must have handed its `PartInfo`:
    /// a part is never assumed. A coordinator that has no `PartInfo`s uses
    /// [`Group::commit_verifying`], which reads the parts back instead.
    ///
    /// Of two coordinators committing one epoch at once, exactly one writes
    /// the record; the other, like any retry, finds an identical record and
    /// succeeds too, even when newer epochs were committed since. Once the
    /// record is created the epoch is committed: a failure of the listing
    /// of the commits beside the create is logged, not returned.
    ///
    /// # Errors
    ///
    /// [`GroupError::PartMissing`] naming the first participant of the set
    /// whose `PartInfo` was not handed over, [`GroupError::PartsMismatch`]
    /// for a `PartInfo` of another epoch, of a participant outside the set,
    /// or two different ones for one participant (nothing is written in
    /// either case), [`GroupError::CommitConflict`] when a different record
    /// for `epoch` exists, [`GroupError::EpochSuperseded`] when a newer epoch
    /// is committed (a retry whose earlier commit was already removed by
    /// [`Group::collect_garbage`] ends here too), [`GroupError::InvalidName`]
    /// for an empty, repeated or invalid participant id,
    /// [`GroupError::Store`] when the store fails.
    ///
    /// # Examples
    ///
    /// See [the module documentation](self).
    pub fn commit(
        &self,
        epoch: Epoch,
        participants: &[&str],
        parts: &[PartInfo],
    ) -> Result<CommitRecord, GroupError> {
        let span = observe::group_commit_span(&self.name, epoch, false);
        observe::observe(Op::GroupCommit, span, || {
            self.commit_unobserved(epoch, participants, parts)
        })
    }

    fn commit_unobserved(
        &self,
        epoch: Epoch,
        participants: &[&str],
        parts: &[PartInfo],
    ) -> Result<CommitRecord, GroupError> {
        let ids = check_participants(participants)?;
        let mut handed = BTreeMap::new();
        for info in parts {
            let mismatch = |reason: String| GroupError::PartsMismatch {
                group: self.name.clone(),
                epoch,
                participant: info.participant.clone(),
                reason,
            };
            if !ids.contains(info.participant.as_str()) {
                return Err(mismatch(
                    "it is not in the participant set of the commit".to_owned(),
                ));
            }
            if info.epoch != epoch {
                return Err(mismatch(format!("its part is of epoch {}", info.epoch)));
            }
            if let Some(other) = handed.insert(info.participant.as_str(), info) {
                if other != info {
                    return Err(mismatch("two different parts were handed over".to_owned()));
                }
            }
        }
        let parts = ids
            .iter()
            .map(|id| {
                handed
                    .get(id)
                    .map(|&info| info.clone())
                    .ok_or_else(|| self.missing(epoch, id))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let record = CommitRecord {
            group: self.name.clone(),
            epoch,
            parts,
            legacy: false,
        };
        self.create_record(record)
    }

    /// Commits `epoch` with exactly the parts of `participants`, reading
    /// every part back first: for a coordinator that was not handed the
    /// [`PartInfo`]s (for instance one in another process that only knows
    /// the participant set).
    ///
    /// Checks that every part is there, intact and saved as the part of
    /// that participant and epoch, then writes the commit record with one
    /// create-if-absent. It costs one round of reads (in parallel) more than
    /// [`Group::commit`]. Concurrent coordinators and retries behave as with
    /// [`Group::commit`].
    ///
    /// # Errors
    ///
    /// [`GroupError::PartMissing`] or [`GroupError::PartCorrupt`] naming the
    /// first participant whose part is absent, damaged or saved for another
    /// slot (nothing is written), [`GroupError::CommitConflict`] when a
    /// different record for `epoch` exists, [`GroupError::EpochSuperseded`]
    /// when a newer epoch is committed and `epoch` has no record (a retry
    /// whose earlier commit was already removed by
    /// [`Group::collect_garbage`] ends here, not at a missing part),
    /// [`GroupError::InvalidName`] for an empty, repeated or invalid
    /// participant id, [`GroupError::Store`] when the store fails.
    pub fn commit_verifying(
        &self,
        epoch: Epoch,
        participants: &[&str],
    ) -> Result<CommitRecord, GroupError> {
        let span = observe::group_commit_span(&self.name, epoch, true);
        observe::observe(Op::GroupCommit, span, || {
            self.commit_verifying_unobserved(epoch, participants)
        })
    }

    fn commit_verifying_unobserved(
        &self,
        epoch: Epoch,
        participants: &[&str],
    ) -> Result<CommitRecord, GroupError> {
        let ids = check_participants(participants)?;
        let parts = match self.verify_parts(epoch, &ids) {
            Ok(parts) => parts,
            Err(e @ (GroupError::PartMissing { .. } | GroupError::PartCorrupt { .. })) => {
                // A retry of a commit that went through, was superseded
                // and was collected finds its parts gone: say what happened
                // to the epoch, not to one of its parts.
                return Err(match self.latest_committed_epoch() {
                    Ok(Some(committed))
                        if committed > epoch && matches!(self.commit_record(epoch), Ok(None)) =>
                    {
                        self.superseded(epoch, committed)
                    }
                    _ => e,
                });
            }
            Err(e) => return Err(e),
        };
        self.create_record(CommitRecord {
            group: self.name.clone(),
            epoch,
            parts,
            legacy: false,
        })
    }

    /// The newest committed epoch, `None` before the first commit. Every
    /// participant gets the same answer from the same store.
    ///
    /// # Errors
    ///
    /// [`GroupError::Store`] when the store fails.
    pub fn latest_committed_epoch(&self) -> Result<Option<Epoch>, GroupError> {
        Ok(self.committed_epochs()?.last().copied())
    }

    /// Every committed epoch, oldest first.
    ///
    /// # Errors
    ///
    /// [`GroupError::Store`] when the store fails.
    pub fn committed_epochs(&self) -> Result<Vec<Epoch>, GroupError> {
        let prefix = self.commits_prefix();
        let mut epochs: Vec<Epoch> = self
            .store
            .list(&prefix)?
            .iter()
            .filter_map(|key| parse_padded(&key[prefix.len()..]))
            .collect();
        epochs.sort_unstable();
        Ok(epochs)
    }

    /// Every epoch that has a part or a commit record in the store, oldest
    /// first, with the participants whose parts are stored and whether it
    /// is committed. One listing of the group's keys; no value is read, so
    /// a part's or a record's content is not checked (a restore checks it).
    ///
    /// # Errors
    ///
    /// [`GroupError::Store`] when the store fails.
    pub fn epochs(&self) -> Result<Vec<StoredEpoch>, GroupError> {
        let (commits, parts) = (self.commits_prefix(), self.parts_prefix());
        let mut epochs: BTreeMap<Epoch, StoredEpoch> = BTreeMap::new();
        fn entry(epochs: &mut BTreeMap<Epoch, StoredEpoch>, epoch: Epoch) -> &mut StoredEpoch {
            epochs.entry(epoch).or_insert_with(|| StoredEpoch {
                epoch,
                parts: Vec::new(),
                committed: false,
            })
        }
        for key in self.store.list(&format!("group/{}/", self.name))? {
            if let Some(epoch) = key.strip_prefix(&commits).and_then(parse_padded) {
                entry(&mut epochs, epoch).committed = true;
            } else if let Some((epoch, participant)) = key
                .strip_prefix(&parts)
                .and_then(|rest| rest.split_once('/'))
                .and_then(|(epoch, id)| Some((parse_padded(epoch)?, id)))
            {
                entry(&mut epochs, epoch).parts.push(participant.to_owned());
            }
        }
        Ok(epochs
            .into_values()
            .map(|mut e| {
                e.parts.sort();
                e
            })
            .collect())
    }

    /// The commit record of `epoch`, `None` when it is not committed.
    ///
    /// # Errors
    ///
    /// [`GroupError::CommitRecordCorrupt`] when the record does not pass its
    /// checksum, [`GroupError::Store`] when the store fails.
    pub fn commit_record(&self, epoch: Epoch) -> Result<Option<CommitRecord>, GroupError> {
        let Some(bytes) = self.store.get(&self.commit_key(epoch))? else {
            return Ok(None);
        };
        let record = part::decode_commit(&bytes).map_err(|r| self.record_corrupt(epoch, r))?;
        if record.epoch != epoch || record.group != self.name {
            return Err(self.record_corrupt(
                epoch,
                format!(
                    "it belongs to epoch {} of group `{}`",
                    record.epoch, record.group
                ),
            ));
        }
        Ok(Some(record))
    }

    /// Restores `participant`'s part of the newest committed epoch, `None`
    /// before the first commit.
    ///
    /// Never falls back to an older epoch: when the newest committed epoch's
    /// part cannot be read, that is the error. When a commit and a
    /// collection land between the listing of the commits and the reads (the
    /// record or part listed is gone, and a newer epoch is committed), the
    /// newer epoch is restored instead, a bounded number of times.
    ///
    /// # Errors
    ///
    /// As [`Group::restore`].
    pub fn restore_latest<T>(
        &self,
        participant: &str,
    ) -> Result<Option<GroupRestored<T>>, GroupError>
    where
        T: Checkpoint<Context = ()>,
    {
        self.restore_latest_with(participant, &())
    }

    /// [`Group::restore_latest`] for a type that needs a restore context.
    ///
    /// # Errors
    ///
    /// As [`Group::restore`].
    pub fn restore_latest_with<T: Checkpoint>(
        &self,
        participant: &str,
        context: &T::Context,
    ) -> Result<Option<GroupRestored<T>>, GroupError> {
        let span = observe::group_restore_latest_span(&self.name, participant);
        let restored = span.in_scope(|| self.restore_latest_unobserved(participant, context));
        if let Ok(Some(restored)) = &restored {
            span.record("epoch", restored.epoch);
        }
        restored
    }

    fn restore_latest_unobserved<T: Checkpoint>(
        &self,
        participant: &str,
        context: &T::Context,
    ) -> Result<Option<GroupRestored<T>>, GroupError> {
        let mut retries = 0;
        loop {
            let Some(epoch) = self.latest_committed_epoch()? else {
                return Ok(None);
            };
            match self.restore_with(epoch, participant, context) {
                Ok(state) => return Ok(Some(GroupRestored { epoch, state })),
                // A commit and a collection between the listing and the
                // reads remove the record or parts just listed; a collection
                // only removes epochs below a newer committed one, so when
                // one is there now, that is the epoch to restore. Otherwise
                // the damage is real and the error stands.
                Err(e @ (GroupError::NotCommitted { .. } | GroupError::PartUnreadable { .. }))
                    if retries < LATEST_RETRIES =>
                {
                    match self.latest_committed_epoch()? {
                        Some(newer) if newer > epoch => retries += 1,
                        _ => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Restores `participant`'s part of the committed `epoch`.
    ///
    /// # Errors
    ///
    /// [`GroupError::NotCommitted`] when `epoch` has no commit record (its
    /// parts are never restored), [`GroupError::NotAParticipant`] when the
    /// record does not list `participant`, [`GroupError::PartUnreadable`]
    /// naming participant and epoch when the part is gone, damaged, differs
    /// from what was committed or holds another type,
    /// [`GroupError::Restore`] when its fields do not restore,
    /// [`GroupError::Store`] when the store fails.
    pub fn restore<T: Checkpoint<Context = ()>>(
        &self,
        epoch: Epoch,
        participant: &str,
    ) -> Result<T, GroupError> {
        self.restore_with(epoch, participant, &())
    }

    /// [`Group::restore`] for a type that needs a restore context.
    ///
    /// # Errors
    ///
    /// As [`Group::restore`].
    pub fn restore_with<T: Checkpoint>(
        &self,
        epoch: Epoch,
        participant: &str,
        context: &T::Context,
    ) -> Result<T, GroupError> {
        let span = observe::group_restore_span(&self.name, participant, epoch);
        observe::observe(Op::GroupRestore, span, || {
            self.restore_unobserved(epoch, participant, context)
                .map(observe::GroupState)
        })
        .map(|state| state.0)
    }

    fn restore_unobserved<T: Checkpoint>(
        &self,
        epoch: Epoch,
        participant: &str,
        context: &T::Context,
    ) -> Result<T, GroupError> {
        let record = self
            .commit_record(epoch)?
            .ok_or_else(|| GroupError::NotCommitted {
                group: self.name.clone(),
                epoch,
            })?;
        let entry = record
            .parts
            .iter()
            .find(|p| p.participant == participant)
            .ok_or_else(|| GroupError::NotAParticipant {
                group: self.name.clone(),
                epoch,
                participant: participant.to_owned(),
            })?;
        let key = self.part_key(epoch, participant);
        let unreadable = |reason: String| GroupError::PartUnreadable {
            group: self.name.clone(),
            epoch,
            participant: participant.to_owned(),
            location: self.store.location(&key),
            reason,
        };
        // Never more than the record says the part holds.
        let bytes = match self.store.get_at_most(&key, entry.len) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Err(unreadable("the part is missing".to_owned())),
            Err(StoreError::TooLarge { len, limit, .. }) => {
                return Err(unreadable(format!(
                    "it is {len} bytes long, but the committed part is {limit}"
                )))
            }
            Err(StoreError::Unreadable { reason, .. }) => return Err(unreadable(reason)),
            Err(e) => return Err(e.into()),
        };
        let location = self.store.location(&key);
        let owner = part::PartOwner {
            group: &self.name,
            participant,
            epoch,
        };
        let checkpoint = part::open_part(&bytes, &owner).map_err(unreadable)?;
        let (header, body) =
            format::decode(checkpoint, epoch, &location).map_err(|e| unreadable(e.to_string()))?;
        let checksum = if record.legacy {
            part::legacy_part_checksum(&bytes)
        } else {
            part::part_checksum(&bytes)
        };
        if checksum != entry.checksum || bytes.len() as u64 != entry.len {
            return Err(unreadable(format!(
                "it is not the part that was committed (checksum {checksum:#010x}, {} bytes; committed {:#010x}, {} bytes)",
                bytes.len(),
                entry.checksum,
                entry.len
            )));
        }
        if header.type_name != T::SCHEMA.name {
            return Err(unreadable(format!(
                "it holds a `{}`, not a `{}`",
                header.type_name,
                T::SCHEMA.name
            )));
        }
        let restore_error = |source| GroupError::Restore {
            group: self.name.clone(),
            epoch,
            participant: participant.to_owned(),
            source: Box::new(source),
        };
        let state = crate::restore::read_state::<T>(&header, body, epoch, &location, context)
            .map_err(restore_error)?;
        state.check().map_err(|reason| GroupError::CheckFailed {
            group: self.name.clone(),
            epoch,
            participant: participant.to_owned(),
            reason,
        })?;
        Ok(state)
    }

    /// Deletes what no restore can need: committed epochs older than the
    /// newest `keep` committed ones (at least one is always kept), and parts
    /// of uncommitted epochs older than the newest committed one.
    ///
    /// Safe while participants save and coordinators commit: nothing at or
    /// above the newest committed epoch seen at the start is touched, and an
    /// old epoch's record is removed before its parts, so a committed epoch
    /// never lacks a part.
    ///
    /// # Errors
    ///
    /// [`GroupError::Store`] when the store fails; what was deleted before
    /// stays deleted, and running again finishes the work.
    pub fn collect_garbage(&self, keep: usize) -> Result<GarbageReport, GroupError> {
        let committed = self.committed_epochs()?;
        let Some(&newest) = committed.last() else {
            return Ok(GarbageReport::default());
        };
        let keep = keep.max(1);
        let kept: BTreeSet<Epoch> = committed.iter().rev().take(keep).copied().collect();
        let mut report = GarbageReport::default();
        let mut expired = BTreeSet::new();
        for &epoch in committed.iter().filter(|e| !kept.contains(e)) {
            self.store.delete(&self.commit_key(epoch))?;
            report.committed_epochs.push(epoch);
            report.keys += 1;
            expired.insert(epoch);
        }
        let prefix = self.parts_prefix();
        let mut uncommitted = BTreeSet::new();
        for key in self.store.list(&prefix)? {
            let Some(epoch) = key[prefix.len()..].split('/').next().and_then(parse_padded) else {
                continue;
            };
            if epoch >= newest || kept.contains(&epoch) {
                continue;
            }
            self.store.delete(&key)?;
            report.keys += 1;
            if !expired.contains(&epoch) {
                uncommitted.insert(epoch);
            }
        }
        report.uncommitted_epochs = uncommitted.into_iter().collect();
        Ok(report)
    }

    /// The commit point of both commits: creates `record` if absent, with a
    /// listing of the commits beside the create.
    ///
    /// A record below the newest committed epoch would only ever be restored
    /// by asking for its epoch, and a collection may already have removed its
    /// parts (they were uncommitted when it ran): when the listing shows a
    /// newer epoch, the record just created is taken back and the commit is
    /// `EpochSuperseded`. A listing that ran before the newer epoch's record
    /// and collection does not see them; `docs/GROUP.md` states that window.
    fn create_record(&self, record: CommitRecord) -> Result<CommitRecord, GroupError> {
        let epoch = record.epoch;
        let key = self.commit_key(epoch);
        let bytes = part::encode_commit(&record);
        let (created, latest) = beside(
            || self.store.put_if_absent(&key, &bytes),
            || self.latest_committed_epoch(),
        );
        match created {
            Ok(()) => match latest {
                Ok(Some(committed)) if committed > epoch => {
                    self.store.delete(&key)?;
                    Err(self.superseded(epoch, committed))
                }
                Ok(_) => Ok(record),
                // The record is durable: the epoch is committed, whatever
                // the listing beside it hit.
                Err(e) => {
                    tracing::warn!(
                        "committed epoch {epoch} of group `{}`, but could not list the commits: {e}",
                        self.name
                    );
                    Ok(record)
                }
            },
            Err(StoreError::AlreadyExists { .. }) => self.existing_or_conflict(record),
            Err(e) => Err(e.into()),
        }
    }

    fn verify_parts(
        &self,
        epoch: Epoch,
        ids: &BTreeSet<&str>,
    ) -> Result<Vec<PartInfo>, GroupError> {
        let ids: Vec<&str> = ids.iter().copied().collect();
        // Parts are independent reads: on an object store each is a round
        // trip, so read them side by side.
        let workers = ids.len().clamp(1, 16);
        let chunk = ids.len().div_ceil(workers);
        let results: Vec<Result<PartInfo, GroupError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = ids
                .chunks(chunk)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|id| self.verify_part(epoch, id))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| match h.join() {
                    Ok(results) => results,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        });
        results.into_iter().collect()
    }

    fn verify_part(&self, epoch: Epoch, participant: &str) -> Result<PartInfo, GroupError> {
        let key = self.part_key(epoch, participant);
        let bytes = self
            .store
            .get(&key)?
            .ok_or_else(|| self.missing(epoch, participant))?;
        let owner = part::PartOwner {
            group: &self.name,
            participant,
            epoch,
        };
        let checkpoint = part::open_part(&bytes, &owner)
            .map_err(|reason| self.corrupt(epoch, participant, reason))?;
        // `decode` checks the whole checksum and that the part was written
        // for this epoch (its sequence number).
        format::decode(checkpoint, epoch, &self.store.location(&key))
            .map_err(|e| self.corrupt(epoch, participant, e.to_string()))?;
        Ok(part_info(participant, epoch, &bytes))
    }

    /// After a create found the record present: the same record (a retry or
    /// a concurrent coordinator) is a success, another one a conflict.
    fn existing_or_conflict(&self, ours: CommitRecord) -> Result<CommitRecord, GroupError> {
        let epoch = ours.epoch;
        let existing = self.commit_record(epoch)?.ok_or_else(|| {
            self.record_corrupt(epoch, "it vanished after a conflicting create".to_owned())
        })?;
        if existing == ours {
            Ok(existing)
        } else {
            Err(GroupError::CommitConflict {
                group: self.name.clone(),
                epoch,
                location: self.store.location(&self.commit_key(epoch)),
            })
        }
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

    fn corrupt(&self, epoch: Epoch, participant: &str, reason: String) -> GroupError {
        GroupError::PartCorrupt {
            group: self.name.clone(),
            epoch,
            participant: participant.to_owned(),
            location: self.store.location(&self.part_key(epoch, participant)),
            reason,
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
        format!("group/{}/commits/", self.name)
    }

    fn parts_prefix(&self) -> String {
        format!("group/{}/parts/", self.name)
    }

    fn commit_key(&self, epoch: Epoch) -> String {
        format!("{}{epoch:020}", self.commits_prefix())
    }

    fn part_key(&self, epoch: Epoch, participant: &str) -> String {
        format!("{}{epoch:020}/{participant}", self.parts_prefix())
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
