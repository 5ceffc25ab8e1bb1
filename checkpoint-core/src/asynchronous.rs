//! [`AsyncCheckpointer`]: the checkpointer for async code on tokio.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::snapshot::{Meta, Restored, Snapshot};
use crate::store::{Store, StoreError};
use crate::{Background, Checkpoint, Checkpointer, Result};

/// A [`Checkpointer`] for async code: store I/O never runs on the async
/// workers.
///
/// Every method has the semantics and errors of its [`Checkpointer`]
/// namesake. [`capture`](Self::capture) is synchronous, as it only encodes:
/// call it under the state's lock, then `.await` [`commit`](Self::commit)
/// after releasing the lock. The store's blocking calls (file writes and
/// fsyncs of a directory store) run on tokio's blocking pool
/// (`spawn_blocking`), so the runtime goes on serving other tasks. Clones
/// share one store and one numbering.
///
/// **Cancellation.** Dropping a future of this type at any await point
/// leaves no partial checkpoint visible and never wedges the numbering.
/// A commit that has reached the blocking pool runs to its end on its own:
/// the checkpoint is then either complete or absent, like any write of the
/// store, and a later commit proceeds as usual (a snapshot whose commit is
/// still running when a newer one commits fails quietly, as an older
/// capture never becomes the latest). A future dropped before that point
/// commits nothing.
///
/// Must be used inside a tokio runtime (any flavour). Available with the
/// `tokio` feature.
///
/// Any [`Store`] works. The object-store backend (`store::ObjectStore`,
/// feature `object-store`) is called on the blocking pool too, where it
/// blocks on the small runtime of its own; calling `object_store`'s async
/// API directly from the task, without that runtime, is still to come.
///
/// # Examples
///
/// ```
/// use checkpoint::AsyncCheckpointer;
/// use checkpoint::Checkpoint;
/// #[derive(Debug, PartialEq, Checkpoint)]
/// struct Counter { n: u64 }
/// # let dir = tempfile::tempdir().unwrap();
/// # let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # runtime.block_on(async {
/// let ckpt = AsyncCheckpointer::open(dir.path()).await?;
/// let mut counter = match ckpt.restore_latest::<Counter>().await? {
///     Some(restored) => restored.state,
///     None => Counter { n: 0 },
/// };
/// counter.n += 1;
/// assert_eq!(ckpt.save(&counter).await?.seq, 1);
///
/// // Capture under a lock, commit outside it.
/// let snapshot = ckpt.capture(&counter)?;
/// assert_eq!(ckpt.commit(snapshot).await?.seq, 2);
/// assert_eq!(ckpt.list().await?.len(), 2);
/// # Ok::<(), checkpoint::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct AsyncCheckpointer {
    inner: Arc<Checkpointer>,
    /// Held by `save` from capture to the end of its commit, and by
    /// `commit`, so that no commit comes between a save's capture and its
    /// commit (as the sync `save` guarantees).
    order: Arc<Mutex<()>>,
}

impl AsyncCheckpointer {
    /// A checkpointer over the directory `dir`, created if absent; as
    /// [`Checkpointer::open`], on the blocking pool.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the directory cannot be created or listed.
    pub async fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let location = dir.display().to_string();
        let checkpointer = blocking(location, move || Checkpointer::open(dir)).await?;
        Ok(Self::from(checkpointer))
    }

    /// A checkpointer over any store; as [`Checkpointer::new`], which lists
    /// the store to continue numbering after its newest checkpoint, on the
    /// blocking pool.
    ///
    /// A [`Checkpointer`] already built (with
    /// [`keep_last`](Checkpointer::keep_last), say) converts with
    /// [`From`], without I/O.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the store cannot be listed.
    pub async fn new(store: impl Store + 'static) -> Result<Self> {
        let location = store.location("");
        let checkpointer = blocking(location, move || Checkpointer::new(store)).await?;
        Ok(Self::from(checkpointer))
    }

    /// The synchronous checkpointer underneath, sharing the store and the
    /// numbering: for [`background`](Checkpointer::background) commits, or
    /// calls from blocking code.
    pub fn checkpointer(&self) -> &Checkpointer {
        &self.inner
    }

    /// A [`Background`] handle on this checkpointer. Its
    /// [`submit`](Background::submit) never waits, so async code may call
    /// it directly; its [`flush`](Background::flush) and
    /// [`close`](Background::close) wait, and so does dropping it (for the
    /// pending commit), so do those in `spawn_blocking`.
    ///
    /// # Panics
    ///
    /// As [`Checkpointer::background`].
    pub fn background(&self) -> Background {
        self.inner.background()
    }

    /// Encodes `state` and gives it the next sequence number, on the
    /// calling thread: [`Checkpointer::capture`].
    ///
    /// # Errors
    ///
    /// As [`Checkpointer::capture`].
    pub fn capture<T: Checkpoint>(&self, state: &T) -> Result<Snapshot> {
        self.inner.capture(state)
    }

    /// Makes `snapshot` durable, then applies retention:
    /// [`Checkpointer::commit`], on the blocking pool.
    ///
    /// # Errors
    ///
    /// As [`Checkpointer::commit`].
    pub async fn commit(&self, snapshot: Snapshot) -> Result<Meta> {
        let _order = self.order.lock().await;
        self.commit_ordered(snapshot).await
    }

    /// Captures `state` and commits it, with no other commit of this
    /// checkpointer in between: [`Checkpointer::save`]. The state is
    /// encoded on the calling thread, and written on the blocking pool.
    ///
    /// # Errors
    ///
    /// As [`Checkpointer::save`].
    pub async fn save<T: Checkpoint>(&self, state: &T) -> Result<Meta> {
        let _order = self.order.lock().await;
        let snapshot = self.inner.capture(state)?;
        self.commit_ordered(snapshot).await
    }

    async fn commit_ordered(&self, snapshot: Snapshot) -> Result<Meta> {
        let inner = Arc::clone(&self.inner);
        let location = snapshot.meta().location.clone();
        blocking(location, move || inner.commit(snapshot)).await
    }

    /// Restores the newest valid checkpoint; `None` when there is none:
    /// [`Checkpointer::restore_latest`], read and decoded on the blocking
    /// pool.
    ///
    /// # Errors
    ///
    /// As [`Checkpointer::restore_latest`].
    pub async fn restore_latest<T>(&self) -> Result<Option<Restored<T>>>
    where
        T: Checkpoint<Context = ()> + Send + 'static,
    {
        self.restore_latest_with(()).await
    }

    /// [`restore_latest`](Self::restore_latest) for a type whose derived
    /// fields need a context: [`Checkpointer::restore_latest_with`].
    ///
    /// # Errors
    ///
    /// As [`Checkpointer::restore_latest`].
    pub async fn restore_latest_with<T>(&self, context: T::Context) -> Result<Option<Restored<T>>>
    where
        T: Checkpoint + Send + 'static,
        T::Context: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let location = inner.store().location("");
        blocking(location, move || inner.restore_latest_with::<T>(&context)).await
    }

    /// Restores checkpoint `seq`: [`Checkpointer::restore`], read and
    /// decoded on the blocking pool.
    ///
    /// # Errors
    ///
    /// As [`Checkpointer::restore`].
    pub async fn restore<T>(&self, seq: u64) -> Result<Restored<T>>
    where
        T: Checkpoint<Context = ()> + Send + 'static,
    {
        self.restore_with(seq, ()).await
    }

    /// [`restore`](Self::restore) for a type whose derived fields need a
    /// context: [`Checkpointer::restore_with`].
    ///
    /// # Errors
    ///
    /// As [`Checkpointer::restore`].
    pub async fn restore_with<T>(&self, seq: u64, context: T::Context) -> Result<Restored<T>>
    where
        T: Checkpoint + Send + 'static,
        T::Context: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let location = inner.store().location("");
        blocking(location, move || inner.restore_with::<T>(seq, &context)).await
    }

    /// Every checkpoint whose header reads, oldest first:
    /// [`Checkpointer::list`], on the blocking pool.
    ///
    /// # Errors
    ///
    /// As [`Checkpointer::list`].
    pub async fn list(&self) -> Result<Vec<Meta>> {
        let inner = Arc::clone(&self.inner);
        let location = inner.store().location("");
        blocking(location, move || inner.list()).await
    }
}

impl From<Checkpointer> for AsyncCheckpointer {
    fn from(checkpointer: Checkpointer) -> Self {
        AsyncCheckpointer {
            inner: Arc::new(checkpointer),
            order: Arc::default(),
        }
    }
}

impl fmt::Debug for AsyncCheckpointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncCheckpointer")
            .field("checkpointer", &self.inner)
            .finish_non_exhaustive()
    }
}

/// Runs `work` on tokio's blocking pool. A panic in it is resumed here; a
/// runtime shutting down before it ran is a store error at `location`.
pub(crate) async fn blocking<R, E>(
    location: String,
    work: impl FnOnce() -> Result<R, E> + Send + 'static,
) -> Result<R, E>
where
    R: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    // The caller's span and subscriber go along, so that the spans of the
    // work nest in the caller's.
    let span = tracing::Span::current();
    let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
    let work = move || tracing::dispatcher::with_default(&dispatch, || span.in_scope(work));
    #[cfg(feature = "object-store")]
    let work = move || crate::store::on_blocking_pool(work);
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(E::from(StoreError::Io {
            operation: "run a store call on",
            location,
            source: Box::new(e),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    // Compiled, not run: the futures can move between worker threads.
    #[allow(dead_code)]
    fn futures_are_send<T: Checkpoint + Sync>(ckpt: &AsyncCheckpointer, state: &T, snap: Snapshot) {
        assert_send(&ckpt.save(state));
        assert_send(&ckpt.commit(snap));
        assert_send(&ckpt.list());
    }

    #[test]
    fn async_checkpointer_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<AsyncCheckpointer>();
    }
}
