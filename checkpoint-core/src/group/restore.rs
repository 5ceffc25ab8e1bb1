//! Restoring a participant's part of a committed epoch, and collecting
//! the epochs no restore can need.

use std::collections::BTreeSet;

use super::{part, Epoch, GarbageReport, Group, GroupError, GroupRestored, LATEST_RETRIES};
use crate::observe::{self, Op};
use crate::store::{StoreError, ValueReader};
use crate::{format, keys, Checkpoint, Error};

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
        let because = |reason: String, source: Option<Error>| GroupError::PartUnreadable {
            group: self.name.clone(),
            epoch,
            participant: participant.to_owned(),
            location: self.store.location(&key),
            reason,
            source: source.map(Box::new),
        };
        let unreadable = |reason: String| because(reason, None);
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
        let checksum = if record.legacy {
            part::legacy_part_checksum(&bytes)
        } else {
            part::part_checksum(&bytes)
        };
        if checksum != entry.checksum || bytes.len() as u64 != entry.len {
            // Damage is named as damage; an intact part that differs, as not
            // the one committed.
            if let Err(e) = format::decode(checkpoint, epoch, &location) {
                return Err(because(e.to_string(), Some(e)));
            }
            return Err(unreadable(format!(
                "it is not the part that was committed (checksum {checksum:#010x}, {} bytes; committed {:#010x}, {} bytes)",
                bytes.len(),
                entry.checksum,
                entry.len
            )));
        }
        let owner_len = bytes.len() - checkpoint.len();
        let value = ValueReader::shared_from(bytes, owner_len);
        match crate::restore::load_value::<T>(value, epoch, &location, context) {
            Ok((state, _)) => Ok(state),
            Err(e @ Error::WrongType { .. }) => Err(because(e.to_string(), Some(e))),
            Err(e) if e.is_damage() => Err(because(e.to_string(), Some(e))),
            Err(Error::CheckFailed { reason, .. }) => Err(GroupError::CheckFailed {
                group: self.name.clone(),
                epoch,
                participant: participant.to_owned(),
                reason,
            }),
            Err(source) => Err(GroupError::Restore {
                group: self.name.clone(),
                epoch,
                participant: participant.to_owned(),
                source: Box::new(source),
            }),
        }
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
            let Some(epoch) = keys::part_epoch(&prefix, &key) else {
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
}
