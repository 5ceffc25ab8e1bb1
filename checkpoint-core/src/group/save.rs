//! Saving a participant's part of an epoch.

use super::{beside, check_name, part, part_info, Epoch, Group, GroupError, PartInfo};
use crate::observe::{self, Op};
use crate::store::StoreError;
use crate::Checkpoint;

impl Group {
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
        part::encode_part(&owner, state, self.compression).map_err(|source| GroupError::Encode {
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
}
