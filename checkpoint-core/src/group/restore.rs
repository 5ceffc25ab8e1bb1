//! Restoring a participant's part of a committed epoch.

use std::sync::Arc;

use super::{
    part, streamed, CommitRecord, Epoch, Group, GroupError, GroupRestored, PartInfo, LATEST_RETRIES,
};
use crate::incremental::{self, manifest::Manifest};
use crate::observe::{self, Op};
use crate::store::{StoreError, ValueReader};
use crate::{format, Checkpoint, Error};

impl Group {
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
                Err(e) if vanished(&e, retries) => match self.latest_committed_epoch()? {
                    Some(newer) if newer > epoch => retries += 1,
                    _ => return Err(e),
                },
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
        let entry = self.committed_part(epoch, participant, self.commit_record(epoch)?)?;
        let key = self.part_key(epoch, participant);
        if let Some(state) = self.restore_streamed(&entry, &key, context)? {
            return Ok(state);
        }
        let bytes = self.part_read(
            epoch,
            participant,
            self.store.get_at_most(&key, entry.info.len),
        )?;
        self.load_part(&entry, bytes, context)
    }

    /// The entry of `participant` in `record`, the commit record of `epoch`.
    pub(super) fn committed_part(
        &self,
        epoch: Epoch,
        participant: &str,
        record: Option<CommitRecord>,
    ) -> Result<CommittedPart, GroupError> {
        let record = record.ok_or_else(|| GroupError::NotCommitted {
            group: self.name.clone(),
            epoch,
        })?;
        let entry = record
            .parts
            .into_iter()
            .find(|p| p.participant == participant)
            .ok_or_else(|| GroupError::NotAParticipant {
                group: self.name.clone(),
                epoch,
                participant: participant.to_owned(),
            })?;
        Ok(CommittedPart {
            epoch,
            info: entry,
            legacy: record.legacy,
        })
    }

    fn unreadable(
        &self,
        epoch: Epoch,
        participant: &str,
        reason: String,
        source: Option<Error>,
    ) -> GroupError {
        GroupError::PartUnreadable {
            group: self.name.clone(),
            epoch,
            participant: participant.to_owned(),
            location: self.store.location(&self.part_key(epoch, participant)),
            reason,
            source: source.map(Box::new),
        }
    }

    /// The bytes of a committed part from its read of at most the committed
    /// length (`read`): never more than the record says the part holds.
    pub(super) fn part_read(
        &self,
        epoch: Epoch,
        participant: &str,
        read: Result<Option<Arc<Vec<u8>>>, StoreError>,
    ) -> Result<Arc<Vec<u8>>, GroupError> {
        let unreadable = |reason: String| self.unreadable(epoch, participant, reason, None);
        match read {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(unreadable("the part is missing".to_owned())),
            Err(StoreError::TooLarge { len, limit, .. }) => Err(unreadable(format!(
                "it is {len} bytes long, but the committed part is {limit}"
            ))),
            Err(StoreError::Unreadable { reason, .. }) => Err(unreadable(reason)),
            Err(e) => Err(e.into()),
        }
    }

    /// The state in the bytes of a committed part, checked against its
    /// entry in the record: the work of a restore once the part is read.
    pub(super) fn load_part<T: Checkpoint>(
        &self,
        committed: &CommittedPart,
        bytes: Arc<Vec<u8>>,
        context: &T::Context,
    ) -> Result<T, GroupError> {
        let (entry, epoch) = (&committed.info, committed.epoch);
        let participant = entry.participant.as_str();
        let because = |reason: String, source: Option<Error>| {
            self.unreadable(epoch, participant, reason, source)
        };
        let unreadable = |reason: String| because(reason, None);
        let location = self.store.location(&self.part_key(epoch, participant));
        let owner = self.owner(epoch, participant);
        let checkpoint = part::open_part(&bytes, &owner).map_err(unreadable)?;
        let checksum = if committed.legacy {
            part::legacy_part_checksum(&bytes)
        } else {
            part::part_checksum(&bytes)
        };
        if checksum != entry.checksum || bytes.len() as u64 != entry.len {
            // Damage is named as damage; an intact part that differs, as not
            // the one committed.
            let intact = if incremental::is_manifest(checkpoint) {
                Manifest::decode(checkpoint, epoch, &location).map(drop)
            } else {
                format::decode(checkpoint, epoch, &location).map(drop)
            };
            if let Err(e) = intact {
                return Err(because(e.to_string(), Some(e)));
            }
            return Err(self.not_committed(committed, checksum, bytes.len() as u64));
        }
        let owner_len = bytes.len() - checkpoint.len();
        let value = ValueReader::shared_from(bytes, owner_len);
        // An incremental part is read from its chunks, each checked against
        // its hash; a damaged one is named as the part's damage.
        let loaded = incremental::checkpoint_value(&self.store, value, epoch, &location)
            .and_then(|value| crate::restore::load_value::<T>(value, epoch, &location, context))
            .map_err(|e| {
                self.heal.note(&e);
                incremental::damage_in(e, epoch, &location)
            });
        match loaded {
            Ok((state, _)) => Ok(state),
            Err(e) => Err(self.not_loaded(epoch, participant, e)),
        }
    }

    /// Restores the whole part of `committed` at `key` as it is read,
    /// summing it on the way for the record's check, so that it is never
    /// whole in memory. `None` when the part is not one to stream (missing,
    /// of another length than committed, incremental, or with a head that
    /// does not hold): the caller reads it whole, which names what is
    /// wrong.
    fn restore_streamed<T: Checkpoint>(
        &self,
        committed: &CommittedPart,
        key: &str,
        context: &T::Context,
    ) -> Result<Option<T>, GroupError> {
        let (entry, epoch) = (&committed.info, committed.epoch);
        let participant = entry.participant.as_str();
        let reader = match self.store.get_reader(key) {
            Ok(Some(reader)) if reader.len() == entry.len => reader,
            Ok(_) | Err(StoreError::Unreadable { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Ok(Some((owner, value, sum))) = streamed::PartStream::open(reader, entry.len) else {
            return Ok(None);
        };
        let expected = self.owner(epoch, participant);
        part::open_part(&owner, &expected)
            .map_err(|reason| self.unreadable(epoch, participant, reason, None))?;
        let location = self.store.location(key);
        let loaded = crate::restore::load_value::<T>(value, epoch, &location, context);
        // Damage is named as damage; an intact part that differs, as not
        // the one committed, before any other failure to load it.
        if let Err(e) = &loaded {
            if e.is_damage() {
                let e = loaded.err().expect("an error");
                return Err(self.not_loaded(epoch, participant, e));
            }
        }
        let (checksum, legacy) = match sum.finish() {
            Ok(sums) => sums,
            Err(e) => {
                return Err(StoreError::io("read", location, e).into());
            }
        };
        let checksum = if committed.legacy { legacy } else { checksum };
        if checksum != entry.checksum {
            return Err(self.not_committed(committed, checksum, entry.len));
        }
        match loaded {
            Ok((state, _)) => Ok(Some(state)),
            Err(e) => Err(self.not_loaded(epoch, participant, e)),
        }
    }

    /// An intact part whose checksum or length (`checksum`, `len`) is not
    /// what the record of `committed` lists.
    fn not_committed(&self, committed: &CommittedPart, checksum: u32, len: u64) -> GroupError {
        let entry = &committed.info;
        self.unreadable(
            committed.epoch,
            &entry.participant,
            format!(
                "it is not the part that was committed (checksum {checksum:#010x}, {len} bytes; committed {:#010x}, {} bytes)",
                entry.checksum, entry.len
            ),
            None,
        )
    }

    /// Why `participant`'s part of `epoch`, the committed one, did not
    /// load.
    fn not_loaded(&self, epoch: Epoch, participant: &str, e: Error) -> GroupError {
        match e {
            e @ Error::WrongType { .. } => {
                self.unreadable(epoch, participant, e.to_string(), Some(e))
            }
            e if e.is_damage() => self.unreadable(epoch, participant, e.to_string(), Some(e)),
            // Reading a chunk failed: the part may well be intact.
            Error::Store(e) => GroupError::Store(e),
            Error::CheckFailed { reason, .. } => GroupError::CheckFailed {
                group: self.name.clone(),
                epoch,
                participant: participant.to_owned(),
                reason,
            },
            source => GroupError::Restore {
                group: self.name.clone(),
                epoch,
                participant: participant.to_owned(),
                source: Box::new(source),
            },
        }
    }
}

/// A committed part as its record lists it.
pub(super) struct CommittedPart {
    epoch: Epoch,
    pub(super) info: PartInfo,
    /// Whether the record is a `CKPTCMT1` one (checksums of old).
    legacy: bool,
}

/// Whether `restore_latest`, after `retries` moves to a newer epoch, is to
/// look for a newer committed epoch after `e`: a commit and a collection
/// between the listing and the reads remove the record or parts just
/// listed, and a collection only removes epochs below a newer committed
/// one, so when one is there now, that is the epoch to restore. Otherwise
/// the damage is real and the error stands.
pub(super) fn vanished(e: &GroupError, retries: usize) -> bool {
    matches!(
        e,
        GroupError::NotCommitted { .. } | GroupError::PartUnreadable { .. }
    ) && retries < LATEST_RETRIES
}
