//! [`AsyncGroup`]: the group operations for async code on tokio.

use std::sync::Arc;

use crate::asynchronous::blocking;
use crate::observe::{self, Op};
use crate::store::Store;
use crate::Checkpoint;

use super::{CommitRecord, Epoch, GarbageReport, Group, GroupError, GroupRestored, PartInfo};

/// A [`Group`] for async code: store I/O never runs on the async workers.
///
/// Every method has the semantics and errors of its [`Group`] namesake, as
/// [`AsyncCheckpointer`](crate::AsyncCheckpointer)'s have those of
/// [`Checkpointer`](crate::Checkpointer)'s. [`save_part`](Self::save_part)
/// encodes the state on the calling thread (the only step that reads it)
/// and writes the part on tokio's blocking pool; commits and restores run
/// there whole. Clones share the store.
///
/// **Cancellation.** Dropping a future of this type at any await point
/// leaves no partial part or commit visible. A write that has reached the
/// blocking pool runs to its end on its own: the part or the commit record
/// is then either complete or absent, as every write of the store is. A
/// retry is safe either way: saving the same state again returns the
/// stored part's [`PartInfo`], and committing the same parts again finds
/// the identical record and succeeds. A future dropped before that point
/// writes nothing.
///
/// Must be used inside a tokio runtime (any flavour). Available with the
/// `tokio` feature.
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

    /// The synchronous group underneath, for calls from blocking code.
    pub fn group(&self) -> &Group {
        &self.inner
    }

    /// Saves `participant`'s part of `epoch`, durably: [`Group::save_part`].
    /// The state is encoded on the calling thread, and the part written on
    /// the blocking pool.
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
    /// [`PartInfo`] each participant's save returned: [`Group::commit`], on
    /// the blocking pool.
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
    /// every part back first: [`Group::commit_verifying`], on the blocking
    /// pool.
    ///
    /// # Errors
    ///
    /// As [`Group::commit_verifying`].
    pub async fn commit_verifying(
        &self,
        epoch: Epoch,
        participants: &[&str],
    ) -> Result<CommitRecord, GroupError> {
        let group = self.inner.clone();
        let participants = owned(participants);
        let location = group.store.location(&group.commit_key(epoch));
        blocking(location, move || {
            group.commit_verifying(epoch, &borrowed(&participants))
        })
        .await
    }

    /// The newest committed epoch, `None` before the first commit:
    /// [`Group::latest_committed_epoch`], on the blocking pool.
    ///
    /// # Errors
    ///
    /// As [`Group::latest_committed_epoch`].
    pub async fn latest_committed_epoch(&self) -> Result<Option<Epoch>, GroupError> {
        let group = self.inner.clone();
        let location = group.store.location(&group.commits_prefix());
        blocking(location, move || group.latest_committed_epoch()).await
    }

    /// Restores `participant`'s part of the newest committed epoch, `None`
    /// before the first commit: [`Group::restore_latest`], read and decoded
    /// on the blocking pool.
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
        let group = self.inner.clone();
        let participant = participant.to_owned();
        let location = group.store.location(&group.commits_prefix());
        blocking(location, move || {
            group.restore_latest_with::<T>(&participant, &context)
        })
        .await
    }

    /// Restores `participant`'s part of the committed `epoch`:
    /// [`Group::restore`], read and decoded on the blocking pool.
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
        let group = self.inner.clone();
        let participant = participant.to_owned();
        let location = group.store.location(&group.part_key(epoch, &participant));
        blocking(location, move || {
            group.restore_with::<T>(epoch, &participant, &context)
        })
        .await
    }

    /// Deletes what no restore can need: [`Group::collect_garbage`], on the
    /// blocking pool.
    ///
    /// # Errors
    ///
    /// As [`Group::collect_garbage`].
    pub async fn collect_garbage(&self, keep: usize) -> Result<GarbageReport, GroupError> {
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
        assert_send(&group.collect_garbage(1));
    }

    #[test]
    fn async_group_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<AsyncGroup>();
    }
}
