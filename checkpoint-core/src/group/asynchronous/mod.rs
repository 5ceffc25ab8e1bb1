//! [`AsyncGroup`]: the group operations for async code on tokio.

#[cfg(feature = "object-store")]
mod native;

use std::sync::Arc;

use crate::asynchronous::blocking;
use crate::observe::{self, Op};
use crate::store::Store;
use crate::Checkpoint;

use super::{CommitRecord, Epoch, GarbageReport, Group, GroupError, GroupRestored, PartInfo};

/// A [`Group`] for async code: store I/O never blocks the async workers.
///
/// Every method has the semantics and errors of its [`Group`] namesake, as
/// [`AsyncCheckpointer`](crate::AsyncCheckpointer)'s have those of
/// [`Checkpointer`](crate::Checkpointer)'s. [`save_part`](Self::save_part)
/// encodes the state on the calling thread (the only step that reads it).
/// Clones share the store.
///
/// How the store is reached:
///
/// - The object-store backend (`store::ObjectStore`, feature
///   `object-store`) is awaited: its requests are `object_store`'s futures,
///   run by the task that awaits the call, in the caller's runtime, with no
///   runtime of the store's own and no blocking. The parts a restore or
///   [`commit_verifying`](Self::commit_verifying) reads back are checked
///   and decoded on tokio's blocking pool (work for the CPU).
/// - Any other [`Store`] runs each operation on tokio's blocking pool
///   (`spawn_blocking`) whole, so the runtime goes on serving other tasks.
///
/// **Cancellation.** Dropping a future of this type at any await point
/// leaves no partial part or commit visible. On the object store a dropped
/// write abandons its request: the part or the commit record is created
/// whole or not at all. On another store a write that has reached the
/// blocking pool runs to its end on its own: the part or the commit record
/// is then either complete or absent, as every write of the store is. A
/// retry is safe either way: saving the same state again returns the
/// stored part's [`PartInfo`], and committing the same parts again finds
/// the identical record and succeeds. A future dropped before its write
/// starts writes nothing.
///
/// Must be used inside a tokio runtime (any flavour); on the object store,
/// one with the IO and time drivers its HTTP client needs (`enable_all()`,
/// which `#[tokio::main]` sets). Available with the `tokio` feature.
///
/// # Examples
///
/// ```
/// use checkpoint::group::{AsyncGroup, GroupError};
/// use checkpoint::MemStore;
/// use checkpoint::Checkpoint;
/// #[derive(Debug, PartialEq, Checkpoint)]
/// struct Counter(u64);
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// let group = AsyncGroup::new(MemStore::new(), "orders")?;
/// let ids = ["node-a", "node-b"];
/// let parts = [
///     group.save_part(1, "node-a", &Counter(10)).await?,
///     group.save_part(1, "node-b", &Counter(20)).await?,
/// ];
/// group.commit(1, &ids, &parts).await?;
///
/// let restored = group.restore_latest::<Counter>("node-b").await?.expect("epoch 1");
/// assert_eq!((restored.epoch, restored.state), (1, Counter(20)));
/// # Ok::<(), GroupError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct AsyncGroup {
    inner: Group,
}

impl AsyncGroup {
    /// The group `name` in `store`: [`Group::new`], which does no I/O.
    ///
    /// # Errors
    ///
    /// As [`Group::new`].
    pub fn new(store: impl Store + 'static, name: &str) -> Result<Self, GroupError> {
        Group::new(store, name).map(Self::from)
    }

    /// The group `name` in a store shared with other users of it:
    /// [`Group::from_shared`].
    ///
    /// # Errors
    ///
    /// As [`Group::new`].
    pub fn from_shared(store: Arc<dyn Store>, name: &str) -> Result<Self, GroupError> {
        Group::from_shared(store, name).map(Self::from)
    }

    /// Compresses the parts this group saves from now on:
    /// [`Group::compression`].
    #[must_use]
    pub fn compression(self, compression: crate::Compression) -> Self {
        AsyncGroup {
            inner: self.inner.compression(compression),
        }
    }

    /// Writes the parts this group saves from now on as incremental ones
    /// when `on`: [`Group::incremental`]. An incremental part's chunks and
    /// the part itself are written on the blocking pool, on every store,
    /// under the chunk protocol the sync group follows.
    ///
    /// # Examples
    ///
    /// ```
    /// use checkpoint::group::AsyncGroup;
    /// use checkpoint::{Checkpoint, MemStore};
    /// #[derive(Debug, PartialEq, Checkpoint)]
    /// struct Log { lines: Vec<String> }
    /// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # runtime.block_on(async {
    /// let group = AsyncGroup::new(MemStore::new(), "g")?.incremental(true);
    /// let log = Log { lines: (0..10_000).map(|i| format!("line {i}")).collect() };
    /// let part = group.save_part(1, "a", &log).await?;
    /// group.commit(1, &["a"], &[part]).await?;
    /// assert_eq!(group.restore::<Log>(1, "a").await?, log);
    /// # Ok::<(), checkpoint::group::GroupError>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn incremental(self, on: bool) -> Self {
        AsyncGroup {
            inner: self.inner.incremental(on),
        }
    }

    /// How long an incremental part's save, or a chunk sweep, counts as
    /// live to the others: [`Group::chunk_lease`].
    #[must_use]
    pub fn chunk_lease(self, lease: std::time::Duration) -> Self {
        AsyncGroup {
            inner: self.inner.chunk_lease(lease),
        }
    }

    /// The synchronous group underneath, for calls from blocking code.
    pub fn group(&self) -> &Group {
        &self.inner
    }

    /// Saves `participant`'s part of `epoch`, durably: [`Group::save_part`].
    /// The state is encoded on the calling thread, and the part written
    /// (awaited on the object store, on the blocking pool for other
    /// stores).
    ///
    /// # Errors
    ///
    /// As [`Group::save_part`].
    pub async fn save_part<T: Checkpoint>(
        &self,
        epoch: Epoch,
        participant: &str,
        state: &T,
    ) -> Result<PartInfo, GroupError> {
        let span = observe::group_save_part_span(&self.inner.name, participant, epoch);
        observe::observe_async(Op::GroupSavePart, span, async {
            let bytes = self.inner.encode_part(epoch, participant, state)?;
            // An incremental part (chunks, intent, part) runs the sync
            // group's protocol, on the blocking pool.
            #[cfg(feature = "object-store")]
            if let Some(native) =
                native::Native::of(&self.inner).filter(|_| !self.inner.chunking.on)
            {
                return native.write_part(epoch, participant, bytes).await;
            }
            let group = self.inner.clone();
            let participant = participant.to_owned();
            let location = group.store.location(&group.part_key(epoch, &participant));
            blocking(location, move || {
                group.write_part(epoch, &participant, bytes)
            })
            .await
        })
        .await
    }

    /// Commits `epoch` with exactly the parts of `participants`, given the
    /// [`PartInfo`] each participant's save returned: [`Group::commit`]
    /// (awaited on the object store, on the blocking pool for other
    /// stores).
    ///
    /// # Errors
    ///
    /// As [`Group::commit`].
    pub async fn commit(
        &self,
        epoch: Epoch,
        participants: &[&str],
        parts: &[PartInfo],
    ) -> Result<CommitRecord, GroupError> {
        #[cfg(feature = "object-store")]
        if let Some(native) = native::Native::of(&self.inner) {
            let span = observe::group_commit_span(&self.inner.name, epoch, false);
            let commit = native.commit(epoch, participants, parts);
            return observe::observe_async(Op::GroupCommit, span, commit).await;
        }
        let group = self.inner.clone();
        let participants = owned(participants);
        let parts = parts.to_vec();
        let location = group.store.location(&group.commit_key(epoch));
        blocking(location, move || {
            group.commit(epoch, &borrowed(&participants), &parts)
        })
        .await
    }

    /// Commits `epoch` with exactly the parts of `participants`, reading
    /// every part back first: [`Group::commit_verifying`] (awaited on the
    /// object store, on the blocking pool for other stores).
    ///
    /// # Errors
    ///
    /// As [`Group::commit_verifying`].
    pub async fn commit_verifying(
        &self,
        epoch: Epoch,
        participants: &[&str],
    ) -> Result<CommitRecord, GroupError> {
        #[cfg(feature = "object-store")]
        if let Some(native) = native::Native::of(&self.inner) {
            let span = observe::group_commit_span(&self.inner.name, epoch, true);
            let commit = native.commit_verifying(epoch, participants);
            return observe::observe_async(Op::GroupCommit, span, commit).await;
        }
        let group = self.inner.clone();
        let participants = owned(participants);
        let location = group.store.location(&group.commit_key(epoch));
        blocking(location, move || {
            group.commit_verifying(epoch, &borrowed(&participants))
        })
        .await
    }

    /// The newest committed epoch, `None` before the first commit:
    /// [`Group::latest_committed_epoch`] (awaited on the object store, on
    /// the blocking pool for other stores).
    ///
    /// # Errors
    ///
    /// As [`Group::latest_committed_epoch`].
    pub async fn latest_committed_epoch(&self) -> Result<Option<Epoch>, GroupError> {
        #[cfg(feature = "object-store")]
        if let Some(native) = native::Native::of(&self.inner) {
            return native.latest_committed_epoch().await;
        }
        let group = self.inner.clone();
        let location = group.store.location(&group.commits_prefix());
        blocking(location, move || group.latest_committed_epoch()).await
    }

    /// Every committed epoch, oldest first: [`Group::committed_epochs`]
    /// (awaited on the object store, on the blocking pool for other
    /// stores).
    ///
    /// # Errors
    ///
    /// As [`Group::committed_epochs`].
    pub async fn committed_epochs(&self) -> Result<Vec<Epoch>, GroupError> {
        #[cfg(feature = "object-store")]
        if let Some(native) = native::Native::of(&self.inner) {
            return native.committed_epochs().await;
        }
        let group = self.inner.clone();
        let location = group.store.location(&group.commits_prefix());
        blocking(location, move || group.committed_epochs()).await
    }

    /// The commit record of `epoch`, `None` when it is not committed:
    /// [`Group::commit_record`] (awaited on the object store, on the
    /// blocking pool for other stores).
    ///
    /// # Errors
    ///
    /// As [`Group::commit_record`].
    pub async fn commit_record(&self, epoch: Epoch) -> Result<Option<CommitRecord>, GroupError> {
        #[cfg(feature = "object-store")]
        if let Some(native) = native::Native::of(&self.inner) {
            return native.commit_record(epoch).await;
        }
        let group = self.inner.clone();
        let location = group.store.location(&group.commit_key(epoch));
        blocking(location, move || group.commit_record(epoch)).await
    }

    /// Restores `participant`'s part of the newest committed epoch, `None`
    /// before the first commit: [`Group::restore_latest`], decoded on the
    /// blocking pool (and read there too, but on the object store).
    ///
    /// # Errors
    ///
    /// As [`Group::restore`].
    pub async fn restore_latest<T>(
        &self,
        participant: &str,
    ) -> Result<Option<GroupRestored<T>>, GroupError>
    where
        T: Checkpoint<Context = ()> + Send + 'static,
    {
        self.restore_latest_with(participant, ()).await
    }

    /// [`restore_latest`](Self::restore_latest) for a type that needs a
    /// restore context: [`Group::restore_latest_with`].
    ///
    /// # Errors
    ///
    /// As [`Group::restore`].
    pub async fn restore_latest_with<T>(
        &self,
        participant: &str,
        context: T::Context,
    ) -> Result<Option<GroupRestored<T>>, GroupError>
    where
        T: Checkpoint + Send + 'static,
        T::Context: Send + 'static,
    {
        #[cfg(feature = "object-store")]
        if let Some(native) = native::Native::of(&self.inner) {
            return native.restore_latest::<T>(participant, context).await;
        }
        let group = self.inner.clone();
        let participant = participant.to_owned();
        let location = group.store.location(&group.commits_prefix());
        blocking(location, move || {
            group.restore_latest_with::<T>(&participant, &context)
        })
        .await
    }

    /// Restores `participant`'s part of the committed `epoch`:
    /// [`Group::restore`], decoded on the blocking pool (and read there too,
    /// but on the object store).
    ///
    /// # Errors
    ///
    /// As [`Group::restore`].
    pub async fn restore<T>(&self, epoch: Epoch, participant: &str) -> Result<T, GroupError>
    where
        T: Checkpoint<Context = ()> + Send + 'static,
    {
        self.restore_with(epoch, participant, ()).await
    }

    /// [`restore`](Self::restore) for a type that needs a restore context:
    /// [`Group::restore_with`].
    ///
    /// # Errors
    ///
    /// As [`Group::restore`].
    pub async fn restore_with<T>(
        &self,
        epoch: Epoch,
        participant: &str,
        context: T::Context,
    ) -> Result<T, GroupError>
    where
        T: Checkpoint + Send + 'static,
        T::Context: Send + 'static,
    {
        #[cfg(feature = "object-store")]
        if let Some(native) = native::Native::of(&self.inner) {
            return native.restore::<T>(epoch, participant, context).await.0;
        }
        let group = self.inner.clone();
        let participant = participant.to_owned();
        let location = group.store.location(&group.part_key(epoch, &participant));
        blocking(location, move || {
            group.restore_with::<T>(epoch, &participant, &context)
        })
        .await
    }

    /// Deletes what no restore can need: [`Group::collect_garbage`]
    /// (awaited on the object store, on the blocking pool for other
    /// stores; the sweep of chunks runs on the blocking pool).
    ///
    /// # Errors
    ///
    /// As [`Group::collect_garbage`].
    pub async fn collect_garbage(&self, keep: usize) -> Result<GarbageReport, GroupError> {
        #[cfg(feature = "object-store")]
        if let Some(native) = native::Native::of(&self.inner) {
            return native.collect_garbage(keep).await;
        }
        let group = self.inner.clone();
        let location = group.store.location(&group.commits_prefix());
        blocking(location, move || group.collect_garbage(keep)).await
    }
}

impl From<Group> for AsyncGroup {
    fn from(group: Group) -> Self {
        AsyncGroup { inner: group }
    }
}

fn owned(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|&id| id.to_owned()).collect()
}

fn borrowed(ids: &[String]) -> Vec<&str> {
    ids.iter().map(String::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    // Compiled, not run: the futures can move between worker threads.
    #[allow(dead_code)]
    fn futures_are_send<T: Checkpoint + Sync>(group: &AsyncGroup, state: &T, part: PartInfo) {
        assert_send(&group.save_part(1, "a", state));
        assert_send(&group.commit(1, &["a"], &[part]));
        assert_send(&group.commit_verifying(1, &["a"]));
        assert_send(&group.latest_committed_epoch());
        assert_send(&group.committed_epochs());
        assert_send(&group.commit_record(1));
        assert_send(&group.collect_garbage(1));
    }

    #[test]
    fn async_group_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<AsyncGroup>();
    }
}
