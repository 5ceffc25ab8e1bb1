//! `AsyncCheckpointer`: the `Checkpointer` semantics from async code, store
//! I/O off the caller's thread, and cancellation at every await point.
//!
//! Futures are polled by hand so that each can be dropped at a chosen await
//! point; writes wait for the test to release them ([`gated`]).
//!
//! The S3 test needs a server: `scripts/seaweedfs.sh start`, then
//! `eval "$(scripts/seaweedfs.sh env)"`, or run `scripts/test.sh`.

mod common;

use checkpoint::store::ObjectStore;
use checkpoint::{AsyncCheckpointer, Checkpointer, Error, MemStore, Store};
use common::gated::{gated, Release};
use common::yielding::Yielding;
use common::{poll_once, runtime, Counter};

fn gated_async() -> (
    AsyncCheckpointer,
    std::sync::Arc<MemStore>,
    common::gated::Gate,
) {
    let (ckpt, store, gate) = gated();
    (AsyncCheckpointer::from(ckpt.keep_last(100)), store, gate)
}

fn key(seq: u64) -> String {
    format!("{seq:020}.ckpt")
}

#[test]
fn save_restore_and_list_behave_as_the_sync_checkpointer() {
    let dir = common::temp_dir();
    runtime().block_on(async {
        let ckpt = AsyncCheckpointer::open(dir.path()).await.unwrap();
        assert!(ckpt.restore_latest::<Counter>().await.unwrap().is_none());
        for n in 1..=3 {
            assert_eq!(ckpt.save(&Counter::at(n)).await.unwrap().seq, n);
        }
        let snapshot = ckpt.capture(&Counter::at(4)).unwrap();
        assert_eq!(ckpt.commit(snapshot).await.unwrap().seq, 4);

        let latest = ckpt.restore_latest::<Counter>().await.unwrap().unwrap();
        assert_eq!((latest.state, latest.meta.seq), (Counter::at(4), 4));
        let second = ckpt.restore::<Counter>(2).await.unwrap();
        assert_eq!(second.state, Counter::at(2));
        let seqs: Vec<u64> = ckpt.list().await.unwrap().iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);

        let err = ckpt.restore::<Counter>(9).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { seq: 9, .. }), "{err:?}");
    });

    // A reopened store continues the numbering, sync or async.
    assert_eq!(
        Checkpointer::open(dir.path())
            .unwrap()
            .save(&Counter::at(5))
            .unwrap()
            .seq,
        5
    );
    runtime().block_on(async {
        let ckpt = AsyncCheckpointer::new(checkpoint::DirStore::open(dir.path()).unwrap())
            .await
            .unwrap();
        assert_eq!(ckpt.save(&Counter::at(6)).await.unwrap().seq, 6);
    });
}

#[test]
fn an_older_capture_never_becomes_latest() {
    runtime().block_on(async {
        let ckpt = AsyncCheckpointer::new(MemStore::new()).await.unwrap();
        let older = ckpt.capture(&Counter::at(1)).unwrap();
        let newer = ckpt.capture(&Counter::at(2)).unwrap();
        ckpt.commit(newer).await.unwrap();
        let err = ckpt.commit(older).await.unwrap_err();
        assert!(
            matches!(err, Error::OlderCapture { seq: 1, newest: 2 }),
            "{err:?}"
        );
    });
}

#[test]
fn a_failed_commit_hands_the_snapshot_back() {
    let rt = runtime();
    let _context = rt.enter();
    let (ckpt, store, gate) = gated_async();
    let snapshot = ckpt.capture(&Counter::at(1)).unwrap();
    let mut commit = Box::pin(ckpt.commit(snapshot));
    assert!(poll_once(&mut commit).is_pending());
    gate.expect_write(1);
    gate.release(Release::Fail);
    let err = rt.block_on(commit).unwrap_err();
    let snapshot = err
        .into_snapshot()
        .expect("a commit error holds its snapshot");
    assert!(store.list("").unwrap().is_empty());

    let mut retry = Box::pin(ckpt.commit(snapshot));
    assert!(poll_once(&mut retry).is_pending());
    gate.expect_write(1);
    gate.release(Release::Write);
    assert_eq!(rt.block_on(retry).unwrap().seq, 1);
}

#[test]
fn the_store_write_runs_off_the_calling_thread() {
    let rt = runtime();
    let _context = rt.enter();
    let (ckpt, _store, gate) = gated_async();
    let state = Counter::at(1);
    let mut save = Box::pin(ckpt.save(&state));
    // One poll hands the write to the blocking pool and returns: the write
    // is under way while this thread, the runtime's only one, is free.
    assert!(poll_once(&mut save).is_pending());
    gate.expect_write(1);
    gate.release(Release::Write);
    assert_eq!(rt.block_on(save).unwrap().seq, 1);
}

/// A commit future dropped while its write runs: the write ends on its own,
/// complete or absent, and the next save is neither blocked nor misnumbered.
#[test]
fn a_commit_dropped_during_its_write_leaves_no_partial_checkpoint() {
    for outcome in [Release::Write, Release::Fail] {
        let landed = matches!(outcome, Release::Write);
        let rt = runtime();
        let _context = rt.enter();
        let (ckpt, store, gate) = gated_async();
        let snapshot = ckpt.capture(&Counter::at(1)).unwrap();
        let mut commit = Box::pin(ckpt.commit(snapshot));
        assert!(poll_once(&mut commit).is_pending());
        gate.expect_write(1);
        drop(commit);
        assert!(
            store.list("").unwrap().is_empty(),
            "nothing is visible mid-write"
        );

        let state = Counter::at(2);
        let mut save = Box::pin(ckpt.save(&state));
        assert!(poll_once(&mut save).is_pending());
        gate.release(outcome);
        gate.expect_write(2);
        gate.release(Release::Write);
        assert_eq!(rt.block_on(save).unwrap().seq, 2);

        let expected: Vec<String> = if landed {
            vec![key(1), key(2)]
        } else {
            vec![key(2)]
        };
        assert_eq!(store.list("").unwrap(), expected);
        let latest = rt
            .block_on(ckpt.restore_latest::<Counter>())
            .unwrap()
            .unwrap();
        assert_eq!((latest.state, latest.meta.seq), (Counter::at(2), 2));
    }
}

/// A save future dropped during its write: as a dropped commit.
#[test]
fn a_save_dropped_during_its_write_leaves_no_partial_checkpoint() {
    let rt = runtime();
    let _context = rt.enter();
    let (ckpt, store, gate) = gated_async();
    let state = Counter::at(1);
    let mut save = Box::pin(ckpt.save(&state));
    assert!(poll_once(&mut save).is_pending());
    gate.expect_write(1);
    drop(save);
    assert!(store.list("").unwrap().is_empty());
    gate.release(Release::Fail);

    let state = Counter::at(2);
    let mut next = Box::pin(ckpt.save(&state));
    assert!(poll_once(&mut next).is_pending());
    gate.expect_write(2);
    gate.release(Release::Write);
    assert_eq!(rt.block_on(next).unwrap().seq, 2);
    assert_eq!(store.list("").unwrap(), [key(2)]);
}

/// Futures dropped while they wait for a save in progress: the commit's
/// snapshot is never written, and the save never captured (its number is
/// not used).
#[test]
fn futures_dropped_while_waiting_for_another_save_commit_nothing() {
    let rt = runtime();
    let _context = rt.enter();
    let (ckpt, store, gate) = gated_async();
    let state = Counter::at(1);
    let mut first = Box::pin(ckpt.save(&state));
    assert!(poll_once(&mut first).is_pending());
    gate.expect_write(1);

    let waiting_snapshot = ckpt.capture(&Counter::at(2)).unwrap();
    let mut waiting_commit = Box::pin(ckpt.commit(waiting_snapshot));
    assert!(poll_once(&mut waiting_commit).is_pending());
    let state = Counter::at(99);
    let mut waiting_save = Box::pin(ckpt.save(&state));
    assert!(poll_once(&mut waiting_save).is_pending());
    drop(waiting_commit);
    drop(waiting_save);

    gate.release(Release::Write);
    assert_eq!(rt.block_on(first).unwrap().seq, 1);
    // #2 was captured and dropped uncommitted; the dropped save took no number.
    let state = Counter::at(3);
    let mut next = Box::pin(ckpt.save(&state));
    assert!(poll_once(&mut next).is_pending());
    gate.expect_write(3);
    gate.release(Release::Write);
    assert_eq!(rt.block_on(next).unwrap().seq, 3);
    assert_eq!(store.list("").unwrap(), [key(1), key(3)]);
}

/// Reads dropped mid-way change nothing.
#[test]
fn dropped_opens_and_reads_change_nothing() {
    let dir = common::temp_dir();
    let rt = runtime();
    let _context = rt.enter();
    let mut open = Box::pin(AsyncCheckpointer::open(dir.path()));
    let _ = poll_once(&mut open);
    drop(open);
    let ckpt = rt.block_on(AsyncCheckpointer::open(dir.path())).unwrap();
    rt.block_on(ckpt.save(&Counter::at(1))).unwrap();

    let mut restore = Box::pin(ckpt.restore_latest::<Counter>());
    let _ = poll_once(&mut restore);
    drop(restore);
    let mut list = Box::pin(ckpt.list());
    let _ = poll_once(&mut list);
    drop(list);

    assert_eq!(rt.block_on(ckpt.save(&Counter::at(2))).unwrap().seq, 2);
    let latest = rt
        .block_on(ckpt.restore_latest::<Counter>())
        .unwrap()
        .unwrap();
    assert_eq!(latest.state, Counter::at(2));
}

#[test]
fn the_sync_checkpointer_and_background_share_the_numbering() {
    runtime().block_on(async {
        let ckpt = AsyncCheckpointer::new(MemStore::new()).await.unwrap();
        assert_eq!(ckpt.save(&Counter::at(1)).await.unwrap().seq, 1);
        assert_eq!(ckpt.checkpointer().save(&Counter::at(2)).unwrap().seq, 2);
        let bg = ckpt.background();
        bg.submit(ckpt.capture(&Counter::at(3)).unwrap()).unwrap();
        let newest = tokio::task::spawn_blocking(move || bg.close())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(newest.unwrap().seq, 3);
        assert_eq!(ckpt.save(&Counter::at(4)).await.unwrap().seq, 4);
        assert_eq!(ckpt.checkpointer().store().list("").unwrap().len(), 4);
    });
}

/// Saves, restores and lists through `store`, then reopens it.
async fn round_trip(store: impl Fn() -> ObjectStore) {
    let ckpt = AsyncCheckpointer::new(store()).await.unwrap();
    assert!(ckpt.restore_latest::<Counter>().await.unwrap().is_none());
    for n in 1..=3 {
        assert_eq!(ckpt.save(&Counter::at(n)).await.unwrap().seq, n);
    }
    let latest = ckpt.restore_latest::<Counter>().await.unwrap().unwrap();
    assert_eq!((latest.state, latest.meta.seq), (Counter::at(3), 3));
    assert_eq!(
        ckpt.restore::<Counter>(2).await.unwrap().state,
        Counter::at(2)
    );
    let seqs: Vec<u64> = ckpt.list().await.unwrap().iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);

    let reopened = AsyncCheckpointer::new(store()).await.unwrap();
    assert_eq!(reopened.save(&Counter::at(4)).await.unwrap().seq, 4);
}

#[test]
fn the_object_store_backend_works_from_async_code() {
    let memory = std::sync::Arc::new(object_store::memory::InMemory::new());
    runtime().block_on(round_trip(|| {
        ObjectStore::from_object_store(memory.clone(), "async").unwrap()
    }));
}

#[test]
fn s3_works_from_async_code() {
    let prefix = common::group::unique("s3_works_from_async_code");
    if common::group::s3_store_at("s3_works_from_async_code", &prefix).is_none() {
        return;
    }
    runtime().block_on(round_trip(|| {
        common::group::s3_store_at("s3_works_from_async_code", &prefix).unwrap()
    }));
}

/// A current-thread runtime drives the connections opened in it only while
/// it runs. A blocking call made while it is idle (a last save after the
/// runtime's work, a test looking at the store) must not be handed one of
/// them: it would wait for the request's timeout, then fail.
#[test]
fn s3_blocking_calls_work_while_an_async_callers_runtime_is_idle() {
    let test = "s3_blocking_calls_while_a_runtime_is_idle";
    let prefix = common::group::unique(test);
    let Some(store) = common::group::s3_store_at(test, &prefix) else {
        return;
    };
    let idle = runtime();
    let ckpt = idle
        .block_on(AsyncCheckpointer::new(store.clone()))
        .unwrap();
    idle.block_on(ckpt.save(&Counter::at(1))).unwrap();

    let started = std::time::Instant::now();
    let sync = Checkpointer::new(store).unwrap();
    assert_eq!(sync.save(&Counter::at(2)).unwrap().seq, 2);
    let latest = sync.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!(latest.state, Counter::at(2));
    // Loopback answers in milliseconds; a connection nobody drives waits
    // for the client's 30 s timeout.
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    // And the runtime, running again, still works beside the blocking calls.
    let again = idle.block_on(ckpt.restore::<Counter>(2)).unwrap();
    assert_eq!(again.state, Counter::at(2));
    drop(idle);
}

#[test]
fn the_object_store_still_refuses_a_call_from_an_async_task() {
    let memory = std::sync::Arc::new(object_store::memory::InMemory::new());
    let store = ObjectStore::from_object_store(memory, "p").unwrap();
    let err = runtime()
        .block_on(async { store.put_if_absent("k", b"v") })
        .unwrap_err();
    assert!(err.to_string().contains("AsyncCheckpointer"), "{err}");
    drop(store);
}

fn yielding() -> (std::sync::Arc<Yielding>, ObjectStore) {
    let backend = std::sync::Arc::new(Yielding::default());
    let store = ObjectStore::from_object_store(backend.clone(), "native").unwrap();
    (backend, store)
}

/// The sequence numbers of the checkpoints under `backend`'s prefix.
fn stored(backend: &Yielding) -> Vec<u64> {
    let runtime = runtime();
    let listed = runtime.block_on(async {
        object_store::ObjectStore::list_with_delimiter(
            &backend.inner,
            Some(&object_store::path::Path::from("native")),
        )
        .await
        .unwrap()
    });
    listed
        .objects
        .iter()
        .filter_map(|meta| {
            meta.location
                .filename()?
                .strip_suffix(".ckpt")?
                .parse()
                .ok()
        })
        .collect()
}

/// The object store's requests are the caller's futures: they run on the
/// thread that awaits them (a current-thread runtime's only one), never on
/// the blocking pool or a runtime of the store's own.
#[test]
fn the_object_store_is_awaited_on_the_callers_thread() {
    let (backend, store) = yielding();
    runtime().block_on(async {
        let ckpt = AsyncCheckpointer::new(store).await.unwrap();
        // Past the ten kept by default, so that retention deletes too.
        for n in 1..=12 {
            assert_eq!(ckpt.save(&Counter::at(n)).await.unwrap().seq, n);
        }
        let latest = ckpt.restore_latest::<Counter>().await.unwrap().unwrap();
        assert_eq!((latest.state, latest.meta.seq), (Counter::at(12), 12));
        assert_eq!(
            ckpt.restore::<Counter>(11).await.unwrap().state,
            Counter::at(11)
        );
        assert_eq!(
            ckpt.list().await.unwrap().len(),
            10,
            "retention deleted two"
        );
    });
    let threads = backend.threads.lock().unwrap().clone();
    assert_eq!(
        threads,
        std::collections::HashSet::from([std::thread::current().id()])
    );
    assert_eq!(stored(&backend), (3..=12).collect::<Vec<_>>());
}

/// Polls `future` `polls` times (each poll runs it to its next await on the
/// object store), then drops it; whether it finished first.
fn poll_then_drop<F: std::future::Future>(future: F, polls: usize) -> bool {
    let mut future = Box::pin(future);
    (0..polls).any(|_| poll_once(&mut future).is_ready())
}

/// Commits and saves dropped at every await point they reach on the object
/// store (before the write, with the object written but not yet answered,
/// during retention's deletes): every stored checkpoint is whole, the next
/// save takes a new number and becomes the latest, and retention catches
/// up with the deletes a dropped commit did not make.
#[test]
fn native_commits_dropped_at_every_await_point_leave_whole_checkpoints() {
    for save in [false, true] {
        let mut polls = 0;
        loop {
            polls += 1;
            let (backend, store) = yielding();
            let rt = runtime();
            let ckpt = AsyncCheckpointer::from(Checkpointer::new(store).unwrap().keep_last(1));
            let _context = rt.enter();
            rt.block_on(ckpt.save(&Counter::at(1))).unwrap();
            let state = Counter::at(2);
            let finished = if save {
                poll_then_drop(ckpt.save(&state), polls)
            } else {
                poll_then_drop(ckpt.commit(ckpt.capture(&state).unwrap()), polls)
            };

            for seq in stored(&backend) {
                let restored = rt.block_on(ckpt.restore::<Counter>(seq)).unwrap();
                assert_eq!(restored.state, Counter::at(seq), "after {polls} polls");
            }
            let next = rt.block_on(ckpt.save(&Counter::at(3))).unwrap();
            assert_eq!(next.seq, 3, "after {polls} polls");
            let latest = rt
                .block_on(ckpt.restore_latest::<Counter>())
                .unwrap()
                .unwrap();
            assert_eq!(latest.meta.seq, 3);
            let left = stored(&backend);
            // #1 was committed and known, so retention deletes it; #2 may
            // stay only when its write landed after its commit was dropped.
            assert!(
                left == [3] || left == [2, 3],
                "after {polls} polls: {left:?}"
            );
            if finished {
                assert_eq!(left, [3]);
                assert!(polls > 3, "a commit awaits several times: {polls}");
                break;
            }
        }
    }
}

/// Opens, restores and lists dropped at every await point change nothing.
#[test]
fn native_reads_dropped_at_every_await_point_change_nothing() {
    let (backend, store) = yielding();
    let rt = runtime();
    let ckpt = AsyncCheckpointer::from(Checkpointer::new(store).unwrap());
    let _context = rt.enter();
    for n in 1..=3 {
        rt.block_on(ckpt.save(&Counter::at(n))).unwrap();
    }
    for polls in 0.. {
        let store = ObjectStore::from_object_store(backend.clone(), "native").unwrap();
        let done = [
            poll_then_drop(AsyncCheckpointer::new(store), polls),
            poll_then_drop(ckpt.restore_latest::<Counter>(), polls),
            poll_then_drop(ckpt.restore::<Counter>(2), polls),
            poll_then_drop(ckpt.list(), polls),
        ];
        assert_eq!(stored(&backend), [1, 2, 3]);
        if done.iter().all(|d| *d) {
            break;
        }
    }
    assert_eq!(rt.block_on(ckpt.save(&Counter::at(4))).unwrap().seq, 4);
    let store = ObjectStore::from_object_store(backend.clone(), "native").unwrap();
    let reopened = rt.block_on(AsyncCheckpointer::new(store)).unwrap();
    assert_eq!(rt.block_on(reopened.save(&Counter::at(5))).unwrap().seq, 5);
}

/// What the object store's async path reports is what the sync one does:
/// a damaged newest checkpoint is skipped and named, a missing one is
/// `NotFound`, another writer's number is `SequenceTaken`.
#[test]
fn native_restores_and_commits_report_as_the_sync_checkpointer() {
    let (backend, store) = yielding();
    let rt = runtime();
    let sync = Checkpointer::new(store).unwrap().keep_last(100);
    sync.save(&Counter::at(1)).unwrap();
    sync.save(&Counter::at(2)).unwrap();
    let mut bytes = sync.store().get(&key(2)).unwrap().unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 1;
    sync.store().delete(&key(2)).unwrap();
    sync.store().put_if_absent(&key(2), &bytes).unwrap();
    let ckpt = AsyncCheckpointer::from(
        Checkpointer::new(ObjectStore::from_object_store(backend.clone(), "native").unwrap())
            .unwrap()
            .keep_last(100),
    );
    let _context = rt.enter();

    let latest = rt
        .block_on(ckpt.restore_latest::<Counter>())
        .unwrap()
        .unwrap();
    assert_eq!(latest.meta.seq, 1);
    assert_eq!(latest.meta.skipped.len(), 1);
    assert_eq!(latest.meta.skipped[0].seq, 2);
    assert!(matches!(
        rt.block_on(ckpt.restore::<Counter>(2)),
        Err(Error::Corrupt { seq: 2, .. })
    ));
    assert!(matches!(
        rt.block_on(ckpt.restore::<Counter>(9)),
        Err(Error::NotFound { seq: 9, .. })
    ));

    // Another writer commits #3 first: this one's #3 is refused, and its
    // next save is numbered after it.
    let ours = ckpt.capture(&Counter::at(3)).unwrap();
    drop(_context);
    sync.save(&Counter::at(30)).unwrap();
    let _context = rt.enter();
    let err = rt.block_on(ckpt.commit(ours)).unwrap_err();
    assert!(matches!(err, Error::SequenceTaken { seq: 3, .. }), "{err}");
    assert_eq!(rt.block_on(ckpt.save(&Counter::at(4))).unwrap().seq, 4);
}

/// On a real server: saves cut short by timeouts of growing length (so
/// that they stop before the request, in it, in its answer, or in
/// retention's deletes) leave only whole checkpoints, and saving goes on
/// numbering.
#[test]
fn s3_saves_cut_short_leave_whole_checkpoints() {
    let prefix = common::group::unique("s3_saves_cut_short");
    let Some(store) = common::group::s3_store_at("s3_saves_cut_short", &prefix) else {
        return;
    };
    // Numbered outside the runtime, where the store may block.
    let ckpt = AsyncCheckpointer::from(Checkpointer::new(store).unwrap().keep_last(3));
    runtime().block_on(async {
        let mut cut = std::time::Duration::from_micros(20);
        let (mut newest, mut cut_short) = (0, 0);
        for n in 1..=40 {
            let state = Counter::at(n);
            match tokio::time::timeout(cut, ckpt.save(&state)).await {
                Ok(saved) => newest = saved.unwrap().seq,
                Err(_) => cut_short += 1,
            }
            cut = (cut * 5 / 4).min(std::time::Duration::from_millis(200));
        }
        eprintln!("{cut_short} of 40 saves cut short");
        assert!(cut_short > 0);
        for meta in ckpt.list().await.unwrap() {
            let restored = ckpt.restore::<Counter>(meta.seq).await.unwrap();
            assert_eq!(restored.state.n, meta.seq, "#{}", meta.seq);
            newest = newest.max(meta.seq);
        }
        let last = ckpt.save(&Counter::at(99)).await.unwrap();
        assert!(last.seq > newest, "#{} after #{newest}", last.seq);
        let latest = ckpt.restore_latest::<Counter>().await.unwrap().unwrap();
        assert_eq!((latest.meta.seq, latest.state), (last.seq, Counter::at(99)));
    });
}
