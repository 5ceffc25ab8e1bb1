//! [`AsyncGroup`](super::AsyncGroup) on the object store: the
//! `object_store` client's futures awaited in the caller's runtime, with no
//! runtime of the store's own and no blocking. Checking and decoding the
//! parts read back, which is work for the CPU, runs on tokio's blocking
//! pool.
//!
//! Each operation is its [`Group`] namesake with the store calls awaited:
//! the rules between the calls (what a create that found its key taken
//! means, which error a commit returns, what a collection deletes) are the
//! sync group's own functions, called from both.
//!
//! Dropped at any await, an operation leaves every key it writes complete
//! or absent: a part or a record is created whole by one conditional
//! create, or not at all. A commit dropped after creating a record that its
//! listing found superseded, before withdrawing it, leaves the record below
//! the newest committed epoch, as a coordinator that stops there does
//! (`docs/GROUP.md`, "The window left open"); a collection dropped midway
//! leaves deletable leftovers that the next one removes.

use std::collections::BTreeSet;

use futures_util::future::join;
use futures_util::{stream, StreamExt};
use tracing::Instrument;

use super::super::commit::{newer, parts_gone, Created};
use super::super::garbage::{holds_manifest, Collection};
use super::super::restore::vanished;
use super::super::save::{listing_failed, Written};
use super::super::{
    check_participants, part, part_info, CommitRecord, Epoch, GarbageReport, Group, GroupError,
    GroupRestored, PartInfo,
};
use crate::asynchronous::blocking;
use crate::incremental::sweep::PART_HEAD;
use crate::observe::{self, Op};
use crate::store::{ObjectStore, Store};
use crate::Checkpoint;

/// How many parts `commit_verifying` reads at once, as the sync group's
/// threads do.
const READS_IN_FLIGHT: usize = 16;

/// A [`Group`] whose store is an object store, awaited.
pub(super) struct Native<'g> {
    group: &'g Group,
    store: &'g ObjectStore,
}

impl<'g> Native<'g> {
    /// The native path to `group`'s store, when it is an object store.
    pub(super) fn of(group: &'g Group) -> Option<Self> {
        let store = group.store.as_object_store()?;
        Some(Native { group, store })
    }

    /// [`Group::write_part`]: the part's conditional create with the
    /// listing of the commits beside it.
    pub(super) async fn write_part(
        &self,
        epoch: Epoch,
        participant: &str,
        bytes: Vec<u8>,
    ) -> Result<PartInfo, GroupError> {
        let group = self.group;
        let key = group.part_key(epoch, participant);
        let info = part_info(participant, epoch, &bytes);
        let (written, latest) = join(
            self.store.put_if_absent_async(&key, bytes),
            self.latest_committed_epoch(),
        )
        .await;
        // A refused create hands the bytes back, to compare with the part
        // that took the slot.
        let (written, ours) = match written {
            Ok(()) => (Ok(()), Vec::new()),
            Err((e, bytes)) => (Err(e), bytes),
        };
        let info = match group.part_written(epoch, info, written, &latest)? {
            Written::Saved(info) => info,
            Written::Taken(location) => {
                let existing = self.store.get_async(&key).await?;
                // An incremental part found there is compared by its
                // chunks, read through the sync store: on the blocking pool.
                let (group, participant) = (group.clone(), participant.to_owned());
                blocking(self.store.location(&key), move || {
                    let owner = part::PartOwner {
                        group: &group.name,
                        participant: &participant,
                        epoch,
                    };
                    group.part_taken(&owner, &ours, existing.as_deref(), location)
                })
                .await?
            }
        };
        listing_failed(participant, epoch, latest);
        Ok(info)
    }

    /// [`Group::commit`] without its span.
    pub(super) async fn commit(
        &self,
        epoch: Epoch,
        participants: &[&str],
        parts: &[PartInfo],
    ) -> Result<CommitRecord, GroupError> {
        let record = self.group.handed_record(epoch, participants, parts)?;
        self.create_record(record).await
    }

    /// [`Group::commit_verifying`] without its span.
    pub(super) async fn commit_verifying(
        &self,
        epoch: Epoch,
        participants: &[&str],
    ) -> Result<CommitRecord, GroupError> {
        let group = self.group;
        let ids = check_participants(participants)?;
        let parts = match self.verify_parts(epoch, &ids).await {
            Ok(parts) => parts,
            Err(e) if parts_gone(&e) => {
                return Err(match newer(epoch, self.latest_committed_epoch().await) {
                    Some(committed) if matches!(self.commit_record(epoch).await, Ok(None)) => {
                        group.superseded(epoch, committed)
                    }
                    _ => e,
                });
            }
            Err(e) => return Err(e),
        };
        self.create_record(CommitRecord {
            group: group.name.clone(),
            epoch,
            parts,
            legacy: false,
        })
        .await
    }

    /// Reads the parts side by side and checks each on the blocking pool;
    /// the first error in participant order, as the sync group returns.
    async fn verify_parts(
        &self,
        epoch: Epoch,
        ids: &BTreeSet<&str>,
    ) -> Result<Vec<PartInfo>, GroupError> {
        // Made first, so that no closure is part of the future's type
        // (which would keep it from being `Send`).
        let reads: Vec<_> = ids.iter().map(|id| self.verify_part(epoch, id)).collect();
        let verified: Vec<Result<PartInfo, GroupError>> = stream::iter(reads)
            .buffered(READS_IN_FLIGHT)
            .collect()
            .await;
        verified.into_iter().collect()
    }

    async fn verify_part(&self, epoch: Epoch, participant: &str) -> Result<PartInfo, GroupError> {
        let key = self.group.part_key(epoch, participant);
        let bytes = self.store.get_async(&key).await?;
        let (group, participant) = (self.group.clone(), participant.to_owned());
        blocking(self.store.location(&key), move || {
            group.checked_part(epoch, &participant, bytes.as_deref())
        })
        .await
    }

    /// The commit point of both commits, as `Group::create_record`.
    async fn create_record(&self, record: CommitRecord) -> Result<CommitRecord, GroupError> {
        let group = self.group;
        let epoch = record.epoch;
        let key = group.commit_key(epoch);
        let bytes = part::encode_commit(&record);
        let (created, latest) = join(
            self.store.put_if_absent_async(&key, bytes),
            self.latest_committed_epoch(),
        )
        .await;
        match group.record_created(record, created.map_err(|(e, _)| e), latest)? {
            Created::Committed(record) => Ok(record),
            Created::Superseded(e) => {
                self.store.delete_async(&key).await?;
                Err(e)
            }
            Created::Taken(ours) => {
                let existing = self.commit_record(epoch).await?;
                group.existing_or_conflict(ours, existing)
            }
        }
    }

    /// [`Group::latest_committed_epoch`].
    pub(super) async fn latest_committed_epoch(&self) -> Result<Option<Epoch>, GroupError> {
        Ok(self.committed_epochs().await?.last().copied())
    }

    /// [`Group::committed_epochs`].
    pub(super) async fn committed_epochs(&self) -> Result<Vec<Epoch>, GroupError> {
        let listed = self.store.list_async(&self.group.commits_prefix()).await?;
        Ok(self.group.epochs_listed(&listed))
    }

    /// [`Group::commit_record`].
    pub(super) async fn commit_record(
        &self,
        epoch: Epoch,
    ) -> Result<Option<CommitRecord>, GroupError> {
        let bytes = self.store.get_async(&self.group.commit_key(epoch)).await?;
        self.group.record_read(epoch, bytes.as_deref())
    }

    /// [`Group::restore_latest_with`].
    pub(super) async fn restore_latest<T>(
        &self,
        participant: &str,
        context: T::Context,
    ) -> Result<Option<GroupRestored<T>>, GroupError>
    where
        T: Checkpoint + Send + 'static,
        T::Context: Send + 'static,
    {
        let span = observe::group_restore_latest_span(&self.group.name, participant);
        let restored = self
            .restore_latest_unobserved(participant, context)
            .instrument(span.clone())
            .await;
        if let Ok(Some(restored)) = &restored {
            span.record("epoch", restored.epoch);
        }
        restored
    }

    async fn restore_latest_unobserved<T>(
        &self,
        participant: &str,
        mut context: T::Context,
    ) -> Result<Option<GroupRestored<T>>, GroupError>
    where
        T: Checkpoint + Send + 'static,
        T::Context: Send + 'static,
    {
        let mut retries = 0;
        loop {
            let Some(epoch) = self.latest_committed_epoch().await? else {
                return Ok(None);
            };
            let (restored, given_back) = self.restore::<T>(epoch, participant, context).await;
            match restored {
                Ok(state) => return Ok(Some(GroupRestored { epoch, state })),
                Err(e) if vanished(&e, retries) => {
                    match (self.latest_committed_epoch().await?, given_back) {
                        (Some(newer), Some(given_back)) if newer > epoch => {
                            retries += 1;
                            context = given_back;
                        }
                        _ => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// [`Group::restore_with`]: the record and the part downloaded here,
    /// the part checked and decoded on the blocking pool. Gives `context`
    /// back beside the outcome, unless the blocking pool failed (then the
    /// outcome is that error).
    pub(super) async fn restore<T>(
        &self,
        epoch: Epoch,
        participant: &str,
        context: T::Context,
    ) -> (Result<T, GroupError>, Option<T::Context>)
    where
        T: Checkpoint + Send + 'static,
        T::Context: Send + 'static,
    {
        let group = self.group;
        let span = observe::group_restore_span(&group.name, participant, epoch);
        let mut given_back = None;
        let load = async {
            let read = async {
                let record = self.commit_record(epoch).await?;
                let entry = group.committed_part(epoch, participant, record)?;
                let key = group.part_key(epoch, participant);
                let read = self.store.get_at_most_async(&key, entry.info.len).await;
                Ok((entry, group.part_read(epoch, participant, read)?))
            };
            let (entry, bytes) = match read.await {
                Ok(read) => read,
                Err(e) => {
                    given_back = Some(context);
                    return Err(e);
                }
            };
            let location = group.store.location(&group.part_key(epoch, participant));
            let group = group.clone();
            let (state, context) = blocking(location, move || {
                let state = group.load_part::<T>(&entry, bytes, &context);
                Ok::<_, GroupError>((state, context))
            })
            .await?;
            given_back = Some(context);
            state.map(observe::GroupState)
        };
        let restored = observe::observe_async(Op::GroupRestore, span, load).await;
        (restored.map(|state| state.0), given_back)
    }

    /// [`Group::collect_garbage`]: the same collection, its deletes awaited
    /// one by one in the same order.
    pub(super) async fn collect_garbage(&self, keep: usize) -> Result<GarbageReport, GroupError> {
        let group = self.group;
        let Some(mut collection) = Collection::of(&self.committed_epochs().await?, keep) else {
            return Ok(GarbageReport::default());
        };
        for epoch in collection.expired() {
            self.store.delete_async(&group.commit_key(epoch)).await?;
            collection.record_deleted(epoch);
        }
        let prefix = group.parts_prefix();
        let mut chunked = false;
        for key in self.store.list_async(&prefix).await? {
            if let Some(epoch) = collection.stale_part(&prefix, &key) {
                if !chunked {
                    chunked = group.chunking.on || {
                        let head = self.store.get_prefix_async(&key, PART_HEAD).await;
                        holds_manifest(head.ok().flatten().as_deref())
                    };
                }
                self.store.delete_async(&key).await?;
                collection.part_deleted(epoch);
            }
        }
        let mut report = collection.report();
        if chunked {
            // The chunk protocol's reads and deletes, through the sync
            // store, on the blocking pool.
            let group = group.clone();
            let location = self.store.location(crate::keys::CHUNKS);
            report.chunks =
                blocking(location, move || Ok::<_, GroupError>(group.sweep_chunks())).await?;
        }
        Ok(report)
    }
}
