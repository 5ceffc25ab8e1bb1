//! Saving a participant's part of an epoch.

use std::collections::HashSet;
use std::time::SystemTime;

use super::{beside, check_name, part, part_info, streamed, Epoch, Group, GroupError, PartInfo};
use crate::format::part::owner_header;
use crate::incremental::manifest::{Manifest, HASH_LEN};
use crate::incremental::stored::Earlier;
use crate::incremental::{
    self,
    writer::{self, Prepared},
};
use crate::observe::{self, Op};
use crate::store::{PendingValue, StoreError};
use crate::{Checkpoint, Error};

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
        if self.chunking.on {
            if let Some(info) = self.save_part_streamed(epoch, participant, state)? {
                return Ok(info);
            }
        } else if !crate::store::is_object_store(&*self.store) {
            // Not on an object store: a streamed value there is claimed by
            // its first bytes before its upload completes, and a crash in
            // between would leave a torn part in a slot written once, where
            // a retry of the epoch could not recognise its own part.
            check_name("participant id", participant)?;
            let key = self.part_key(epoch, participant);
            if let Some(pending) = self.store.create_streamed(&key)? {
                return self.save_part_to(pending, epoch, participant, state);
            }
        }
        let bytes = self.encode_part(epoch, participant, state)?;
        self.write_part(epoch, participant, bytes)
    }

    /// Saves a whole part into `pending`, the store's value for its key,
    /// as the state is encoded (a directory store's temporary file), so
    /// the part is never whole in memory.
    fn save_part_to<T: Checkpoint>(
        &self,
        mut pending: Box<dyn PendingValue>,
        epoch: Epoch,
        participant: &str,
        state: &T,
    ) -> Result<PartInfo, GroupError> {
        let owner = self.owner(epoch, participant);
        let key = self.part_key(epoch, participant);
        let location = self.store.location(&key);
        let mut out = streamed::PartOutput::new(&mut *pending, &owner);
        crate::encode::encode_to(
            state,
            &mut out,
            &location,
            epoch,
            SystemTime::now(),
            self.compression,
        )
        .map_err(|e| encode_failed(participant, epoch, e))?;
        let (len, checksum) = out.sealed.expect("a finished encode seals its output");
        let info = PartInfo {
            participant: participant.to_owned(),
            epoch,
            len,
            checksum,
        };
        self.finish_streamed(&owner, state, info, || pending.persist())
    }

    /// The end of a streamed part save: `write` (the part's create) with
    /// the commits listed beside it, as in `write_part`. A slot found
    /// taken (a retry, or another save of it) is compared with the part
    /// encoded whole, as `write_part` compares: rare, so the memory is
    /// spent there only.
    fn finish_streamed<T: Checkpoint>(
        &self,
        owner: &part::PartOwner<'_>,
        state: &T,
        info: PartInfo,
        write: impl FnOnce() -> Result<(), StoreError> + Send,
    ) -> Result<PartInfo, GroupError> {
        let (epoch, participant) = (owner.epoch, owner.participant);
        let (written, latest) = beside(write, || self.latest_committed_epoch());
        let info = match self.part_written(epoch, info, written, &latest)? {
            Written::Saved(info) => info,
            Written::Taken(location) => {
                let ours = self.encode_part(epoch, participant, state)?;
                let existing = self.store.get(&self.part_key(epoch, participant))?;
                self.part_taken(owner, &ours, existing.as_deref(), location)?
            }
        };
        listing_failed(participant, epoch, latest);
        Ok(info)
    }

    /// Saves an incremental part whose chunks are stored as the state is
    /// encoded (`incremental::stream`), so its checkpoint is never whole
    /// in memory; `None` when its head is too long to stream, and it must
    /// be cut whole.
    fn save_part_streamed<T: Checkpoint>(
        &self,
        epoch: Epoch,
        participant: &str,
        state: &T,
    ) -> Result<Option<PartInfo>, GroupError> {
        check_name("participant id", participant)?;
        let owner = self.owner(epoch, participant);
        let key = self.part_key(epoch, participant);
        let location = self.store.location(&key);
        let damaged = self.heal.pending();
        let plan = incremental::stream::Plan {
            seq: epoch,
            time: SystemTime::now(),
            compression: self.compression,
            lease_time: self.chunking.lease,
            earlier: Earlier::Part {
                group: &self.name,
                participant,
            },
            damaged: &damaged,
        };
        let streamed = incremental::stream::write_chunks(&*self.store, state, &plan, &location)
            .map_err(|e| encode_failed(participant, epoch, e))?;
        let Some(streamed) = streamed else {
            return Ok(None);
        };
        tracing::debug!(
            group = %self.name,
            epoch,
            chunk_bytes_written = streamed.written,
            "incremental part's chunks stored"
        );
        let mut stored = owner_header(&owner, streamed.manifest.len());
        stored.extend_from_slice(&streamed.manifest);
        let info = part_info(participant, epoch, &stored);
        let saved = self.finish_streamed(&owner, state, info, || {
            self.store.put_if_absent(&key, &stored)
        });
        // The intent stays until the part listing the chunks is stored.
        drop(streamed.intent);
        if saved.is_ok() {
            self.heal.healed(&damaged);
        }
        saved.map(Some)
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
        let owner = self.owner(epoch, participant);
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
        let owner = self.owner(epoch, participant);
        let key = self.part_key(epoch, participant);
        // An incremental part's chunks are stored first; its intent keeps
        // every sweep from deleting them until the part listing them is in
        // the store, as a checkpointer keeps it until its manifest is.
        let damaged = self.heal.pending();
        let chunked = if self.chunking.on {
            Some(self.store_chunks(epoch, participant, &bytes, &damaged)?)
        } else {
            None
        };
        let incremental = chunked.as_ref().map(|(part, _)| part.as_slice());
        let info = part_info(participant, epoch, incremental.unwrap_or(&bytes));
        // An epoch at or below the newest committed one can never be
        // restored; refusing it keeps the saver from believing otherwise.
        // The listing runs beside the write so it adds no round trip; a part
        // written for such an epoch is garbage the next collection removes.
        // A whole part is handed over, not copied (an object store would
        // copy a borrowed one), and comes back when the slot is taken.
        let key_ref = &key;
        let ((written, bytes), latest) = beside(
            move || match incremental {
                Some(part) => (self.store.put_if_absent(key_ref, part), Some(bytes)),
                None => match self.store.put_if_absent_owned(key_ref, bytes) {
                    Ok(()) => (Ok(()), None),
                    Err((e, bytes)) => (Err(e), Some(bytes)),
                },
            },
            || self.latest_committed_epoch(),
        );
        let info = match self.part_written(epoch, info, written, &latest)? {
            Written::Saved(info) => info,
            Written::Taken(location) => {
                let existing = self.store.get(&key)?;
                let ours = bytes.unwrap_or_default();
                self.part_taken(&owner, &ours, existing.as_deref(), location)?
            }
        };
        drop(chunked);
        self.heal.healed(&damaged);
        listing_failed(participant, epoch, latest);
        Ok(info)
    }

    /// Stores the chunks of the checkpoint in `whole`, a part made by
    /// [`encode_part`](Self::encode_part), that the store lacks, and
    /// returns the incremental part to write instead (its owner header and
    /// the checkpoint's manifest) with the save's intent: drop it once the
    /// part is written.
    fn store_chunks(
        &self,
        epoch: Epoch,
        participant: &str,
        whole: &[u8],
        damaged: &HashSet<[u8; HASH_LEN]>,
    ) -> Result<(Vec<u8>, Prepared<'_>), GroupError> {
        // Only a part this group encoded comes here: it always opens.
        let (_, checkpoint) = part::split_part(whole)
            .map_err(|reason| self.corrupt(epoch, participant, reason, None))?;
        let earlier = Earlier::Part {
            group: &self.name,
            participant,
        };
        let prepared = writer::prepare(
            &*self.store,
            checkpoint,
            epoch,
            self.chunking.lease,
            earlier,
            damaged,
        )?;
        tracing::debug!(
            group = %self.name,
            epoch,
            chunk_bytes_written = prepared.written,
            "incremental part's chunks stored"
        );
        let part = part::with_manifest(whole, checkpoint.len(), &prepared.manifest);
        Ok((part, prepared))
    }

    /// What a part's create-if-absent (`written`) and the listing of the
    /// commits beside it (`latest`) mean for the save of `info`'s part.
    pub(super) fn part_written(
        &self,
        epoch: Epoch,
        info: PartInfo,
        written: Result<(), StoreError>,
        latest: &Result<Option<Epoch>, GroupError>,
    ) -> Result<Written, GroupError> {
        if let Ok(Some(committed)) = latest.as_ref().map(|l| l.filter(|&c| c >= epoch)) {
            return Err(self.superseded(epoch, committed));
        }
        match written {
            Ok(()) => Ok(Written::Saved(info)),
            Err(StoreError::AlreadyExists { location }) => Ok(Written::Taken(location)),
            Err(e) => Err(e.into()),
        }
    }

    /// The save of `ours` into a slot that holds `existing` already.
    pub(super) fn part_taken(
        &self,
        owner: &part::PartOwner<'_>,
        ours: &[u8],
        existing: Option<&[u8]>,
        location: String,
    ) -> Result<PartInfo, GroupError> {
        // A retry whose earlier attempt landed (its answer lost to a
        // timeout, or its listing failed) finds its own part: the same
        // state saved again is that part, not a conflict.
        match existing {
            Some(existing) if self.holds_same(existing, ours, owner) => {
                Ok(part_info(owner.participant, owner.epoch, existing))
            }
            _ => Err(GroupError::PartExists {
                group: self.name.clone(),
                epoch: owner.epoch,
                participant: owner.participant.to_owned(),
                location,
            }),
        }
    }

    /// Whether `existing`, a whole or incremental part, holds what `ours`,
    /// a whole one, holds ([`part::same_part`]): an incremental part is
    /// compared by the checkpoint its chunks make up, read only when its
    /// length matches.
    fn holds_same(&self, existing: &[u8], ours: &[u8], owner: &part::PartOwner<'_>) -> bool {
        if part::same_part(existing, ours, owner) {
            return true;
        }
        let Ok(stored) = part::open_part(existing, owner) else {
            return false;
        };
        if !incremental::is_manifest(stored) {
            return false;
        }
        let owner_len = existing.len() - stored.len();
        let location = self
            .store
            .location(&self.part_key(owner.epoch, owner.participant));
        let Ok(manifest) = Manifest::decode(stored, owner.epoch, &location) else {
            return false;
        };
        if manifest.total_len != (ours.len() - owner_len.min(ours.len())) as u64 {
            return false;
        }
        match incremental::assemble(&self.store, manifest, owner.epoch, &location) {
            Ok(checkpoint) => {
                let mut whole = existing[..owner_len].to_vec();
                whole.extend_from_slice(&checkpoint);
                part::same_part(&whole, ours, owner)
            }
            Err(e) => {
                tracing::warn!("could not read back the incremental part at `{location}`: {e}");
                false
            }
        }
    }
}

/// What a part's create found.
pub(super) enum Written {
    /// The part is created.
    Saved(PartInfo),
    /// The slot at this location holds a part already.
    Taken(String),
}

/// The listing beside a save only advises: once the part is durable, a
/// commit of a superseded epoch is refused by the commit itself.
pub(super) fn listing_failed(
    participant: &str,
    epoch: Epoch,
    latest: Result<Option<Epoch>, GroupError>,
) {
    if let Err(e) = latest {
        tracing::warn!("saved the part of `{participant}` in epoch {epoch}, but could not list the commits: {e}");
    }
}

/// A streamed part save's failure: the store's, or the encode's.
fn encode_failed(participant: &str, epoch: Epoch, e: Error) -> GroupError {
    match e {
        Error::Store(e) => GroupError::Store(e),
        source => GroupError::Encode {
            participant: participant.to_owned(),
            epoch,
            source: Box::new(source),
        },
    }
}
