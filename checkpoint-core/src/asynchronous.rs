//! [`AsyncCheckpointer`]: the checkpointer for async code on tokio.

#[cfg(feature = "object-store")]
mod native;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::Mutex;

#[cfg(feature = "object-store")]
use crate::observe::{self, Op};
use crate::snapshot::{Meta, Restored, Snapshot};
use crate::store::{Store, StoreError};
use crate::{Background, Checkpoint, Checkpointer, Result};

/// A [`Checkpointer`] for async code: store I/O never blocks the async
/// workers.
///
/// Every method has the semantics and errors of its [`Checkpointer`]
/// namesake. [`capture`](Self::capture) is synchronous, as it only encodes:
/// call it under the state's lock, then `.await` [`commit`](Self::commit)
/// after releasing the lock. Clones share one store and one numbering.
///
/// How the store is reached:
///
/// - The object-store backend (`store::ObjectStore`, feature
///   `object-store`) is awaited: its requests are `object_store`'s futures,
///   run by the task that awaits the call, in the caller's runtime, with no
///   runtime of the store's own and no blocking. A restore decodes the
///   checkpoint on tokio's blocking pool (decoding a large state is work
///   for the CPU) as the task downloads it, a few pieces ahead, so memory
///   stays bounded as in a sync restore. (A commit that finds its key taken,
///   by another writer or by a retried write that had landed, is resolved
///   on the blocking pool as [`Checkpointer::commit`] resolves it.)
/// - Any other [`Store`] (the directory store's file writes and fsyncs, a
///   store of your own) runs its blocking calls on tokio's blocking pool
///   (`spawn_blocking`), so the runtime goes on serving other tasks.
///
/// **Cancellation.** Dropping a future of this type at any await point
/// leaves no partial checkpoint visible and never wedges the numbering.
/// On the object store a dropped commit abandons its request: the object
/// is created whole or not at all, and the next commit proceeds. On
/// another store a commit that has reached the blocking pool runs to its
/// end on its own: the checkpoint is then either complete or absent, like
/// any write of the store, and a later commit proceeds as usual (a
/// snapshot whose commit is still running when a newer one commits fails
/// quietly, as an older capture never becomes the latest). A future
/// dropped before its write starts commits nothing. Old checkpoints that
/// retention was deleting when a commit was dropped are deleted by the
/// next commit.
///
/// Must be used inside a tokio runtime (any flavour); on the object store,
/// one with the IO and time drivers its HTTP client needs (`enable_all()`,
/// which `#[tokio::main]` sets). Available with the `tokio` feature.
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
    /// The store's operations awaited, when it is an object store.
    #[cfg(feature = "object-store")]
    native: Option<native::Native>,
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
    /// the store to continue numbering after its newest checkpoint (awaited
    /// on the object store, on the blocking pool for other stores).
    ///
    /// A [`Checkpointer`] already built (with
    /// [`keep_last`](Checkpointer::keep_last), say) converts with
    /// [`From`], without I/O.
    ///
    /// # Errors
    ///
    /// [`Error::Store`](crate::Error::Store) when the store cannot be listed.
    pub async fn new(store: impl Store + 'static) -> Result<Self> {
        #[cfg(feature = "object-store")]
        if store.as_object_store().is_some() {
            let store: Arc<dyn Store> = Arc::new(store);
            let native = native::Native::of(&store).expect("an object store");
            let checkpointer = native.open().await?;
            return Ok(Self::from(checkpointer));
        }
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
    /// [`Checkpointer::commit`] (awaited on the object store, on the
    /// blocking pool for other stores).
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
    /// encoded on the calling thread, and written as
    /// [`commit`](Self::commit) writes.
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
        // An incremental commit (chunks, manifest, sweep) runs the
        // checkpointer's own protocol, on the blocking pool.
        #[cfg(feature = "object-store")]
        if let Some(native) = self
            .native
            .as_ref()
            .filter(|_| !self.inner.is_incremental())
        {
            let span = observe::commit_span(snapshot.seq());
            let commit = native.commit(&self.inner, snapshot);
            return observe::observe_async(Op::Commit, span, commit).await;
        }
        let inner = Arc::clone(&self.inner);
        let location = snapshot.meta().location.clone();
        blocking(location, move || inner.commit(snapshot)).await
    }

    /// Restores the newest valid checkpoint; `None` when there is none:
    /// [`Checkpointer::restore_latest`], decoded on the blocking pool (and
    /// read there too, but on the object store).
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
        #[cfg(feature = "object-store")]
        if let Some(native) = &self.native {
            let span = observe::restore_latest_span(T::SCHEMA.name);
            let restore = native.restore_latest::<T>(&self.inner, context);
            return observe::observe_async(Op::RestoreLatest, span, restore).await;
        }
        let inner = Arc::clone(&self.inner);
        let location = inner.store().location("");
        blocking(location, move || inner.restore_latest_with::<T>(&context)).await
    }

    /// Restores checkpoint `seq`: [`Checkpointer::restore`], decoded on the
    /// blocking pool (and read there too, but on the object store).
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
        #[cfg(feature = "object-store")]
        if let Some(native) = &self.native {
            let span = observe::restore_span(T::SCHEMA.name, seq);
            let restore = native.restore::<T>(&self.inner, seq, context);
            return observe::observe_async(Op::Restore, span, restore).await;
        }
        let inner = Arc::clone(&self.inner);
        let location = inner.store().location("");
        blocking(location, move || inner.restore_with::<T>(seq, &context)).await
    }

    /// Every checkpoint whose header reads, oldest first:
    /// [`Checkpointer::list`] (awaited on the object store, on the blocking
    /// pool for other stores).
    ///
    /// # Errors
    ///
    /// As [`Checkpointer::list`].
    pub async fn list(&self) -> Result<Vec<Meta>> {
        #[cfg(feature = "object-store")]
        if let Some(native) = &self.native {
            return native.list().await;
        }
        let inner = Arc::clone(&self.inner);
        let location = inner.store().location("");
        blocking(location, move || inner.list()).await
    }
}

impl From<Checkpointer> for AsyncCheckpointer {
    fn from(checkpointer: Checkpointer) -> Self {
        AsyncCheckpointer {
            #[cfg(feature = "object-store")]
            native: native::Native::of(&checkpointer.store),
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
