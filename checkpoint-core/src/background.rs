//! [`Background`]: commits that run beside the application, off its threads.

use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use crate::snapshot::{Meta, Snapshot};
use crate::{Checkpointer, Error, Result};

impl Checkpointer {
    /// A handle that commits snapshots on a thread of its own, so the
    /// thread that captured them goes on at once. See [`Background`].
    ///
    /// The handle shares this checkpointer's store, numbering and
    /// retention: snapshots from [`capture`](Self::capture) go to either,
    /// and commits through both are ordered as one.
    ///
    /// # Panics
    ///
    /// When the operating system cannot start a thread, as
    /// [`std::thread::spawn`].
    pub fn background(&self) -> Background {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            idle: Condvar::new(),
        });
        let checkpointer = self.share();
        let worker_shared = Arc::clone(&shared);
        // The commits' spans go where this thread's would: to a subscriber
        // set for this thread alone too, not only to the global one. With
        // none yet, the thread follows the global one, set later perhaps.
        let dispatch = tracing::dispatcher::get_default(|dispatch| {
            (!dispatch.is::<tracing::subscriber::NoSubscriber>()).then(|| dispatch.clone())
        });
        let worker = thread::Builder::new()
            .name("checkpoint-background".to_owned())
            .spawn(move || match dispatch {
                Some(dispatch) => {
                    tracing::dispatcher::with_default(&dispatch, || {
                        run(&checkpointer, &worker_shared)
                    });
                }
                None => run(&checkpointer, &worker_shared),
            })
            .expect("failed to start the checkpoint background thread");
        Background {
            shared,
            worker: Some(worker),
        }
    }
}

/// Commits snapshots in the background: [`submit`](Self::submit) returns at
/// once, and one thread owned by the handle makes the snapshots durable.
///
/// Made by [`Checkpointer::background`]. The contract:
///
/// - **One commit at a time.** At most one commit is in flight; a snapshot
///   submitted meanwhile waits.
/// - **Coalescing.** A snapshot submitted while another still waits replaces
///   it: the newer state makes the older, unwritten one pointless. A
///   snapshot older than one already submitted is dropped the same way, as
///   it could never become the latest. [`replaced`](Self::replaced) counts
///   both.
/// - **Numbering.** Sequence numbers are those given by
///   [`capture`](Checkpointer::capture), and, as for
///   [`commit`](Checkpointer::commit), an older capture never becomes the
///   latest checkpoint.
/// - **Errors are never lost.** A failed commit is returned by the next
///   [`submit`](Self::submit), [`flush`](Self::flush) or
///   [`close`](Self::close), whichever comes first, and only by that one. If
///   more commits fail before it is returned, the first failure is the one
///   returned (later ones usually share its cause), and the later ones are
///   logged as `tracing` warnings and counted by [`failed`](Self::failed). A
///   panic in the store during a commit is resumed the same way, in place of
///   an error not yet returned (which is then logged).
/// - **Closing.** [`close`](Self::close) and dropping the handle both finish
///   the pending commit before returning; `close` returns its outcome, while
///   drop can only log a failure (as a `tracing` error), so prefer `close`.
///
/// The handle is `Send` and `Sync`: threads may share it to submit.
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use checkpoint::{Checkpointer, MemStore};
/// use checkpoint::Checkpoint;
/// #[derive(Debug, PartialEq, Checkpoint)]
/// struct Counter { n: u64 }
///
/// let ckpt = Checkpointer::new(MemStore::new())?;
/// let state = Mutex::new(Counter { n: 0 });
/// let bg = ckpt.background();
/// for _ in 0..100 {
///     let mut counter = state.lock().unwrap();
///     counter.n += 1;
///     // Encoded under the lock; written by the background thread.
///     bg.submit(ckpt.capture(&*counter)?)?;
/// }
/// let newest = bg.close()?.expect("at least the last snapshot is committed");
/// assert_eq!(newest.seq, 100);
/// assert_eq!(ckpt.restore_latest::<Counter>()?.unwrap().state, Counter { n: 100 });
/// # Ok::<(), checkpoint::Error>(())
/// ```
pub struct Background {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the worker: a snapshot waits, or the handle closes.
    work: Condvar,
    /// Wakes flushers: a commit ended.
    idle: Condvar,
}

#[derive(Default)]
struct State {
    /// The snapshot to commit next.
    waiting: Option<Snapshot>,
    /// Whether the worker is committing a snapshot it took from `waiting`.
    committing: bool,
    /// The newest sequence number submitted, to drop older submissions.
    newest_submitted: u64,
    /// The newest checkpoint committed through this handle.
    newest: Option<Meta>,
    /// The first failure not yet returned to the user.
    failure: Option<Failure>,
    replaced: u64,
    failed: u64,
    closing: bool,
}

enum Failure {
    Error(Error),
    Panic(Box<dyn Any + Send>),
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No user code runs under this lock; the state is valid between
        // any two statements.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn record(&mut self, failure: Failure) {
        self.failed += 1;
        let unreturned = match self.failure.take() {
            None => {
                self.failure = Some(failure);
                return;
            }
            // A panic outranks an error: it is what the user must see.
            Some(Failure::Error(first)) if matches!(failure, Failure::Panic(_)) => {
                self.failure = Some(failure);
                Failure::Error(first)
            }
            Some(first) => {
                self.failure = Some(first);
                failure
            }
        };
        match unreturned {
            Failure::Error(e) => tracing::warn!(
                "a background checkpoint commit failed, logged only as another failure is \
                 returned first: {e}"
            ),
            Failure::Panic(_) => tracing::warn!(
                "a background checkpoint commit panicked, logged only as another panic is \
                 returned first"
            ),
        }
    }

    /// Hands the first undelivered failure to the caller, resuming a panic.
    fn deliver(&mut self) -> Result<()> {
        match self.failure.take() {
            None => Ok(()),
            Some(Failure::Error(e)) => Err(e),
            Some(Failure::Panic(payload)) => panic::resume_unwind(payload),
        }
    }

    fn busy(&self) -> bool {
        self.waiting.is_some() || self.committing
    }
}

fn run(checkpointer: &Checkpointer, shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if let Some(snapshot) = state.waiting.take() {
            state.committing = true;
            drop(state);
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| checkpointer.commit(snapshot)));
            state = shared.lock();
            state.committing = false;
            match outcome {
                Ok(Ok(meta)) => {
                    if state
                        .newest
                        .as_ref()
                        .is_none_or(|newest| newest.seq < meta.seq)
                    {
                        state.newest = Some(meta);
                    }
                }
                Ok(Err(e)) => state.record(Failure::Error(e)),
                Err(payload) => state.record(Failure::Panic(payload)),
            }
            shared.idle.notify_all();
        } else if state.closing {
            return;
        } else {
            state = shared
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Background {
    /// Hands `snapshot` to the background thread and returns at once.
    ///
    /// It replaces a snapshot still waiting (see [`replaced`](Self::replaced));
    /// one older than a snapshot already submitted is dropped.
    ///
    /// # Errors
    ///
    /// The first failure of an earlier commit not yet returned, as
    /// [`Checkpointer::commit`] returns it ([`Error::Commit`] hands that
    /// snapshot back, [`Error::SequenceTaken`], [`Error::OlderCapture`]);
    /// its sequence number says which snapshot failed. `snapshot` is queued
    /// either way.
    ///
    /// # Panics
    ///
    /// Resumes a panic of the store during an earlier commit.
    pub fn submit(&self, snapshot: Snapshot) -> Result<()> {
        let mut state = self.shared.lock();
        let seq = snapshot.seq();
        if seq < state.newest_submitted {
            state.replaced += 1;
            crate::observe::replaced();
        } else {
            state.newest_submitted = seq;
            if state.waiting.replace(snapshot).is_some() {
                state.replaced += 1;
                crate::observe::replaced();
            }
            self.shared.work.notify_one();
        }
        state.deliver()
    }

    /// Waits until every submitted snapshot is committed or replaced, and
    /// returns the newest checkpoint committed through this handle (`None`
    /// when none is yet).
    ///
    /// # Errors
    ///
    /// The first failure of a commit since the last one returned, as
    /// [`submit`](Self::submit) says.
    ///
    /// # Panics
    ///
    /// Resumes a panic of the store during a commit.
    pub fn flush(&self) -> Result<Option<Meta>> {
        let mut state = self.shared.lock();
        while state.busy() {
            state = self
                .shared
                .idle
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.deliver()?;
        Ok(state.newest.clone())
    }

    /// Finishes the pending commit, stops the background thread and returns
    /// as [`flush`](Self::flush) does.
    ///
    /// # Errors
    ///
    /// As [`flush`](Self::flush): a failure not yet returned.
    ///
    /// # Panics
    ///
    /// Resumes a panic of the store during a commit.
    pub fn close(mut self) -> Result<Option<Meta>> {
        self.stop();
        let mut state = self.shared.lock();
        state.deliver()?;
        Ok(state.newest.clone())
    }

    /// How many submitted snapshots were replaced by newer ones before
    /// their commit started, and so never written.
    pub fn replaced(&self) -> u64 {
        self.shared.lock().replaced
    }

    /// How many commits failed, returned or not.
    pub fn failed(&self) -> u64 {
        self.shared.lock().failed
    }

    fn stop(&mut self) {
        let Some(worker) = self.worker.take() else {
            return;
        };
        self.shared.lock().closing = true;
        self.shared.work.notify_one();
        // The worker catches the store's panics; it cannot panic itself.
        let _ = worker.join();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
        match self.shared.lock().failure.take() {
            Some(Failure::Error(e)) => {
                tracing::error!(
                    "a background checkpoint commit failed and the handle was dropped: {e}"
                );
            }
            Some(Failure::Panic(_)) => {
                tracing::error!(
                    "a background checkpoint commit panicked and the handle was dropped"
                );
            }
            None => {}
        }
    }
}

impl fmt::Debug for Background {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("Background")
            .field("waiting", &state.waiting.as_ref().map(Snapshot::seq))
            .field("committing", &state.committing)
            .field("newest", &state.newest.as_ref().map(|meta| meta.seq))
            .field("replaced", &state.replaced)
            .field("failed", &state.failed)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Background>();
    }
}
