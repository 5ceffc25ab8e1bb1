//! Collecting the epochs no restore can need, and the chunks only they
//! used.

use std::collections::BTreeSet;

use super::{part, Epoch, GarbageReport, Group, GroupError};
use crate::incremental::sweep::{Swept, PART_HEAD};
use crate::{incremental, keys};

impl Group {
    /// Deletes what no restore can need: committed epochs older than the
    /// newest `keep` committed ones (at least one is always kept), and parts
    /// of uncommitted epochs older than the newest committed one.
    ///
    /// Safe while participants save and coordinators commit: nothing at or
    /// above the newest committed epoch seen at the start is touched, and an
    /// old epoch's record is removed before its parts, so a committed epoch
    /// never lacks a part.
    ///
    /// When a deleted part was incremental (or this group saves
    /// incremental parts), the chunks no part or checkpoint left in the
    /// store lists are then deleted too, under the chunk protocol of
    /// `docs/FORMAT.md`, so that chunks only the removed epochs used go
    /// ([`GarbageReport::chunks`]). That sweep is postponed while an
    /// incremental save is under way, and a failure of it is logged, not
    /// returned: the epochs are removed, and a later collection or
    /// retention deletes the chunks.
    ///
    /// # Errors
    ///
    /// [`GroupError::Store`] when the store fails; what was deleted before
    /// stays deleted, and running again finishes the work.
    pub fn collect_garbage(&self, keep: usize) -> Result<GarbageReport, GroupError> {
        let Some(mut collection) = Collection::of(&self.committed_epochs()?, keep) else {
            return Ok(GarbageReport::default());
        };
        for epoch in collection.expired() {
            self.store.delete(&self.commit_key(epoch))?;
            collection.record_deleted(epoch);
        }
        let prefix = self.parts_prefix();
        let mut chunked = false;
        for key in self.store.list(&prefix)? {
            if let Some(epoch) = collection.stale_part(&prefix, &key) {
                chunked = chunked || self.chunking.on || {
                    let head = self.store.get_prefix(&key, PART_HEAD);
                    holds_manifest(head.ok().flatten().as_deref())
                };
                self.store.delete(&key)?;
                collection.part_deleted(epoch);
            }
        }
        let mut report = collection.report();
        if chunked {
            report.chunks = self.sweep_chunks();
        }
        Ok(report)
    }

    /// Deletes the chunks no part or checkpoint in the store lists; how
    /// many. A sweep postponed or failed deletes none: a later one will.
    pub(super) fn sweep_chunks(&self) -> usize {
        match incremental::sweep::sweep(&*self.store, self.chunking.lease) {
            Ok(Swept::Done { deleted }) => {
                tracing::debug!(deleted, group = %self.name, "chunks no part or checkpoint lists deleted");
                deleted
            }
            Ok(Swept::Postponed(reason)) => {
                tracing::debug!(
                    "chunk sweep of group `{}` postponed to a later collection: {reason}",
                    self.name
                );
                0
            }
            Err(e) => {
                tracing::warn!(
                    "the collection of group `{}` could not sweep chunks: {e}",
                    self.name
                );
                0
            }
        }
    }
}

/// Whether a part whose first bytes are `head` is an incremental one (its
/// owner header followed by a manifest). A part that cannot be read is
/// taken as one: a sweep finds out what it lists, and postpones when it
/// cannot.
pub(super) fn holds_manifest(head: Option<&[u8]>) -> bool {
    match head.map(part::split_part) {
        Some(Ok((_, stored))) => incremental::is_manifest(stored),
        Some(Err(_)) => true,
        None => false,
    }
}

/// One run of `collect_garbage`, planned from the committed epochs it
/// listed; the caller deletes, record first, and reports each delete.
pub(super) struct Collection {
    newest: Epoch,
    kept: BTreeSet<Epoch>,
    expired: BTreeSet<Epoch>,
    uncommitted: BTreeSet<Epoch>,
    report: GarbageReport,
}

impl Collection {
    /// The collection keeping the newest `keep` (at least one) of
    /// `committed`, sorted; `None` when nothing is committed.
    pub(super) fn of(committed: &[Epoch], keep: usize) -> Option<Collection> {
        let &newest = committed.last()?;
        let kept: BTreeSet<Epoch> = committed.iter().rev().take(keep.max(1)).copied().collect();
        let expired = committed
            .iter()
            .copied()
            .filter(|e| !kept.contains(e))
            .collect();
        Some(Collection {
            newest,
            kept,
            expired,
            uncommitted: BTreeSet::new(),
            report: GarbageReport::default(),
        })
    }

    /// The committed epochs whose records go, oldest first.
    pub(super) fn expired(&self) -> Vec<Epoch> {
        self.expired.iter().copied().collect()
    }

    pub(super) fn record_deleted(&mut self, epoch: Epoch) {
        self.report.committed_epochs.push(epoch);
        self.report.keys += 1;
    }

    /// The epoch of the part under `key`, listed under `prefix`, when it
    /// goes: nothing at or above the newest committed epoch is touched.
    pub(super) fn stale_part(&self, prefix: &str, key: &str) -> Option<Epoch> {
        keys::part_epoch(prefix, key).filter(|e| *e < self.newest && !self.kept.contains(e))
    }

    pub(super) fn part_deleted(&mut self, epoch: Epoch) {
        self.report.keys += 1;
        if !self.expired.contains(&epoch) {
            self.uncommitted.insert(epoch);
        }
    }

    pub(super) fn report(mut self) -> GarbageReport {
        self.report.uncommitted_epochs = self.uncommitted.into_iter().collect();
        self.report
    }
}
