//! The runtime the object store's synchronous API blocks on, and when a
//! thread may block on it.

use std::cell::Cell;
use std::future::Future;
use std::sync::OnceLock;

thread_local! {
    /// Set while a store call runs on tokio's blocking pool on behalf of
    /// `AsyncCheckpointer`: blocking is allowed there, and this store's own
    /// runtime starts, although a runtime handle is current.
    static ON_BLOCKING_POOL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work`, a closure on tokio's blocking pool, so that the object
/// stores it calls block on their own runtime instead of refusing.
#[cfg(feature = "tokio")]
pub(crate) fn on_blocking_pool<R>(work: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            ON_BLOCKING_POOL.set(self.0);
        }
    }
    let _restore = Restore(ON_BLOCKING_POOL.replace(true));
    work()
}

/// The runtime the synchronous API blocks on, started on first use (a store
/// used only by `AsyncCheckpointer` never starts it), and shared with the
/// readers it hands out, which download on it after the store may be gone.
///
/// It has one worker thread that always drives its connections: a
/// connection the HTTP client pooled while serving a blocking call may
/// serve an async one next, and must not wait for the next blocking call.
pub(super) struct OwnRuntime(OnceLock<Result<tokio::runtime::Runtime, String>>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime;
        // shutting it down in the background never does.
        if let Some(Ok(runtime)) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl OwnRuntime {
    pub(super) fn new() -> Self {
        OwnRuntime(OnceLock::new())
    }

    /// The runtime to block on, unless this thread must not block.
    pub(super) fn get(&self) -> Result<&tokio::runtime::Runtime, String> {
        if tokio::runtime::Handle::try_current().is_ok() && !ON_BLOCKING_POOL.get() {
            return Err(
                "called from a thread of a tokio runtime, where this store must not \
                 block (`tokio::task::spawn_blocking` included): use `AsyncCheckpointer`, or \
                 call it from a thread of your own"
                    .to_owned(),
            );
        }
        let started = self.0.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("checkpoint-object-store")
                .enable_all()
                .build()
                .map_err(|e| format!("its runtime did not start: {e}"))
        });
        started.as_ref().map_err(Clone::clone)
    }

    /// Runs `future` to completion, unless this thread must not block.
    pub(super) fn block_on<F: Future>(&self, future: F) -> Result<F::Output, String> {
        Ok(self.get()?.block_on(future))
    }
}
