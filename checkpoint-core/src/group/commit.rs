//! Committing an epoch: one create-if-absent of its commit record, after
//! the parts it lists are known durable and intact.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    beside, check_name, check_participants, part, part_info, CommitRecord, Epoch, Group,
    GroupError, PartInfo, StoredEpoch,
};
use crate::incremental::{self, manifest::Manifest};
use crate::observe::{self, Op};
use crate::store::StoreError;
use crate::{format, keys, Error};

impl Group {
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
    /// See [the module documentation](crate::group).
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
        let record = self.handed_record(epoch, participants, parts)?;
        self.create_record(record)
    }

    /// The record [`Group::commit`] creates, built from the `PartInfo`s
    /// handed over, or why there is none.
    pub(super) fn handed_record(
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
        Ok(CommitRecord {
            group: self.name.clone(),
            epoch,
            parts,
            legacy: false,
        })
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
            Err(e) if parts_gone(&e) => {
                return Err(match newer(epoch, self.latest_committed_epoch()) {
                    Some(committed) if matches!(self.commit_record(epoch), Ok(None)) => {
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
        Ok(self.epochs_listed(&self.store.list(&self.commits_prefix())?))
    }

    /// The committed epochs, oldest first, of a listing of the commits.
    pub(super) fn epochs_listed(&self, listed: &[String]) -> Vec<Epoch> {
        let prefix = self.commits_prefix();
        let mut epochs: Vec<Epoch> = listed
            .iter()
            .filter_map(|key| keys::commit_epoch(&prefix, key))
            .collect();
        epochs.sort_unstable();
        epochs
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
        for key in self.store.list(&keys::group(&self.name))? {
            if let Some(epoch) = keys::commit_epoch(&commits, &key) {
                entry(&mut epochs, epoch).committed = true;
            } else if let Some((epoch, participant)) = keys::part_of(&parts, &key) {
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
        let bytes = self.store.get(&self.commit_key(epoch))?;
        self.record_read(epoch, bytes.as_deref())
    }

    /// The commit record of `epoch` in `bytes`, the value of its key.
    pub(super) fn record_read(
        &self,
        epoch: Epoch,
        bytes: Option<&[u8]>,
    ) -> Result<Option<CommitRecord>, GroupError> {
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let record = part::decode_commit(bytes).map_err(|r| self.record_corrupt(epoch, r))?;
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
        match self.record_created(record, created, latest)? {
            Created::Committed(record) => Ok(record),
            Created::Superseded(e) => {
                self.store.delete(&key)?;
                Err(e)
            }
            Created::Taken(ours) => {
                let existing = self.commit_record(epoch)?;
                self.existing_or_conflict(ours, existing)
            }
        }
    }

    /// What the create-if-absent of `record` (`created`) and the listing of
    /// the commits beside it (`latest`) mean for the commit.
    pub(super) fn record_created(
        &self,
        record: CommitRecord,
        created: Result<(), StoreError>,
        latest: Result<Option<Epoch>, GroupError>,
    ) -> Result<Created, GroupError> {
        let epoch = record.epoch;
        match created {
            Ok(()) => match latest {
                Ok(Some(committed)) if committed > epoch => {
                    Ok(Created::Superseded(self.superseded(epoch, committed)))
                }
                Ok(_) => Ok(Created::Committed(record)),
                // The record is durable: the epoch is committed, whatever
                // the listing beside it hit.
                Err(e) => {
                    tracing::warn!(
                        "committed epoch {epoch} of group `{}`, but could not list the commits: {e}",
                        self.name
                    );
                    Ok(Created::Committed(record))
                }
            },
            Err(StoreError::AlreadyExists { .. }) => Ok(Created::Taken(record)),
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

    /// Reads `participant`'s part of `epoch` and checks it as
    /// [`Group::commit_verifying`] does, whether or not the epoch is
    /// committed: that it is intact (every checksum, and every chunk of an
    /// incremental part against its hash) and saved as the part of that
    /// participant and epoch. What `checkpoint verify` runs on every stored
    /// part.
    ///
    /// The [`PartInfo`] it returns is what a commit record lists for the
    /// part; compare it with [`Group::commit_record`] to find a part that
    /// was replaced after its epoch was committed.
    ///
    /// # Errors
    ///
    /// [`GroupError::PartMissing`] when the part is not stored,
    /// [`GroupError::PartCorrupt`] when it is damaged or saved for another
    /// slot (for an incremental part, naming the damaged or missing chunk),
    /// [`GroupError::InvalidName`] for an invalid participant id,
    /// [`GroupError::Store`] when the store fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use checkpoint::group::Group;
    /// use checkpoint::{Checkpoint, MemStore};
    ///
    /// #[derive(Checkpoint)]
    /// struct Counter(u64);
    ///
    /// # fn main() -> Result<(), checkpoint::group::GroupError> {
    /// let group = Group::new(MemStore::new(), "orders")?;
    /// let saved = group.save_part(1, "node-a", &Counter(3))?;
    /// assert_eq!(group.verify_part(1, "node-a")?, saved);
    /// assert!(group.verify_part(1, "node-b").is_err());
    /// # Ok(()) }
    /// ```
    pub fn verify_part(&self, epoch: Epoch, participant: &str) -> Result<PartInfo, GroupError> {
        check_name("participant id", participant)?;
        let bytes = self.store.get(&self.part_key(epoch, participant))?;
        self.checked_part(epoch, participant, bytes.as_deref())
    }

    /// What the commit record lists for `participant`'s part of `epoch`,
    /// read as `bytes`, once it is there, intact and in its own slot.
    pub(super) fn checked_part(
        &self,
        epoch: Epoch,
        participant: &str,
        bytes: Option<&[u8]>,
    ) -> Result<PartInfo, GroupError> {
        let key = self.part_key(epoch, participant);
        let bytes = bytes.ok_or_else(|| self.missing(epoch, participant))?;
        let owner = self.owner(epoch, participant);
        let checkpoint = part::open_part(bytes, &owner)
            .map_err(|reason| self.corrupt(epoch, participant, reason, None))?;
        self.check_checkpoint(epoch, checkpoint, &self.store.location(&key))
            .map_err(|e| match e {
                // The chunks of an incremental part may well be intact.
                Error::Store(e) => GroupError::Store(e),
                e => self.corrupt(epoch, participant, e.to_string(), Some(e)),
            })?;
        Ok(part_info(participant, epoch, bytes))
    }

    /// Checks the checkpoint in a part of `epoch` at `location`: its whole
    /// checksum and that it was written for this epoch (its sequence
    /// number). An incremental part's manifest is checked so, then every
    /// chunk it lists is read and checked against its hash, and the
    /// checkpoint they make up is checked as a whole one is.
    fn check_checkpoint(
        &self,
        epoch: Epoch,
        checkpoint: &[u8],
        location: &str,
    ) -> Result<(), Error> {
        if !incremental::is_manifest(checkpoint) {
            return format::decode(checkpoint, epoch, location).map(drop);
        }
        let manifest = Manifest::decode(checkpoint, epoch, location)?;
        let whole = incremental::assemble(&self.store, manifest, epoch, location)?;
        format::decode(&whole, epoch, location).map(drop)
    }

    /// After a create found the record present: the same record (a retry or
    /// a concurrent coordinator) is a success, another one a conflict.
    pub(super) fn existing_or_conflict(
        &self,
        ours: CommitRecord,
        existing: Option<CommitRecord>,
    ) -> Result<CommitRecord, GroupError> {
        let epoch = ours.epoch;
        let existing = existing.ok_or_else(|| {
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
}

/// What a commit record's create found.
pub(super) enum Created {
    /// The epoch is committed with this record.
    Committed(CommitRecord),
    /// The record is created below a newer committed epoch: it is to be
    /// deleted again, and the commit fails with this error.
    Superseded(GroupError),
    /// A record of the epoch exists already; this is ours, to compare.
    Taken(CommitRecord),
}

/// Whether `commit_verifying` found a part absent or unusable: a retry of
/// a commit that went through, was superseded and was collected finds its
/// parts gone, and is told what happened to the epoch rather than to one
/// of its parts (when [`newer`] finds a newer epoch and the epoch has no
/// record).
pub(super) fn parts_gone(e: &GroupError) -> bool {
    matches!(
        e,
        GroupError::PartMissing { .. } | GroupError::PartCorrupt { .. }
    )
}

/// The newest committed epoch of `latest` when it is newer than `epoch`.
pub(super) fn newer(epoch: Epoch, latest: Result<Option<Epoch>, GroupError>) -> Option<Epoch> {
    latest.ok().flatten().filter(|&committed| committed > epoch)
}
