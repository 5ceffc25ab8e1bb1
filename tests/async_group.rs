//! `AsyncGroup`: the group operations from async code, with the `Group`
//! semantics, store I/O off the caller's thread (awaited in the caller's
//! runtime on the object store), and cancellation at every await point.
//!
//! Futures are polled by hand so that each can be dropped at a chosen await
//! point; writes wait for the test to release them ([`gated`]).
//!
//! The S3 test needs a server: `scripts/seaweedfs.sh start`, then
//! `eval "$(scripts/seaweedfs.sh env)"`, or run `scripts/test.sh`.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use checkpoint::group::{AsyncGroup, Group, GroupError, PartInfo};
use checkpoint::store::ObjectStore;
use checkpoint::{DirStore, MemStore, Store};
use common::gated::{gated_store, Gate, Release};
use common::group::{Ledger, NodeState};
use common::yielding::Yielding;
use common::{poll_once, runtime};

const IDS: [&str; 2] = ["node-a", "node-b"];

fn gated_group() -> (AsyncGroup, Arc<MemStore>, Gate) {
    let (store, inner, gate) = gated_store();
    (AsyncGroup::new(store, "orders").unwrap(), inner, gate)
}

async fn save_all(group: &AsyncGroup, epoch: u64) -> Vec<PartInfo> {
    let mut parts = Vec::new();
    for id in IDS {
        parts.push(
            group
                .save_part(epoch, id, &NodeState::at(id, epoch))
                .await
                .unwrap(),
        );
    }
    parts
}

/// Saves, commits, restores and collects through `store`.
async fn round_trip(store: Arc<dyn Store>) {
    let group = AsyncGroup::from_shared(Arc::clone(&store), "orders").unwrap();
    assert_eq!(group.latest_committed_epoch().await.unwrap(), None);
    assert!(group
        .restore_latest::<NodeState>("node-a")
        .await
        .unwrap()
        .is_none());

    let parts = save_all(&group, 1).await;
    let record = group.commit(1, &IDS, &parts).await.unwrap();
    assert_eq!(record.parts, parts);
    save_all(&group, 2).await;
    let record = group.commit_verifying(2, &IDS).await.unwrap();
    assert_eq!(record.epoch, 2);
    assert_eq!(group.latest_committed_epoch().await.unwrap(), Some(2));

    let restored = group
        .restore_latest::<NodeState>("node-b")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (restored.epoch, restored.state),
        (2, NodeState::at("node-b", 2))
    );
    assert_eq!(
        group.restore::<NodeState>(1, "node-a").await.unwrap(),
        NodeState::at("node-a", 1)
    );

    let removed = group.collect_garbage(1).await.unwrap();
    assert_eq!(removed.committed_epochs, [1]);
    assert_eq!(group.latest_committed_epoch().await.unwrap(), Some(2));
}

#[test]
fn save_commit_and_restore_behave_as_the_sync_group() {
    let dir = common::temp_dir();
    let store: Arc<dyn Store> = Arc::new(DirStore::open(dir.path()).unwrap());
    runtime().block_on(round_trip(Arc::clone(&store)));
    // A sync `Group` over the same store sees what the async one did.
    let sync = Group::from_shared(store, "orders").unwrap();
    assert_eq!(sync.committed_epochs().unwrap(), [2]);
    assert_eq!(
        sync.restore::<NodeState>(2, "node-a").unwrap(),
        NodeState::at("node-a", 2)
    );
}

/// The errors of `Group` for the same mistakes and races.
async fn errors(group: AsyncGroup) {
    let part = group
        .save_part(1, "node-a", &NodeState::at("node-a", 1))
        .await
        .unwrap();
    let err = group.commit(1, &IDS, &[part]).await.unwrap_err();
    assert!(
        matches!(err, GroupError::PartMissing { ref participant, .. } if participant == "node-b"),
        "{err}"
    );
    let err = group.commit_verifying(1, &IDS).await.unwrap_err();
    assert!(matches!(err, GroupError::PartMissing { .. }), "{err}");
    let err = group.restore::<NodeState>(1, "node-a").await.unwrap_err();
    assert!(
        matches!(err, GroupError::NotCommitted { epoch: 1, .. }),
        "{err}"
    );
    let err = group
        .save_part(1, "node-a", &NodeState::at("node-a", 99))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GroupError::PartExists { epoch: 1, .. }),
        "{err}"
    );

    let parts = save_all(&group, 2).await;
    group.commit(2, &IDS, &parts).await.unwrap();
    let err = group
        .save_part(2, "node-a", &NodeState::at("node-a", 99))
        .await
        .unwrap_err();
    assert!(matches!(err, GroupError::EpochSuperseded { .. }), "{err}");
    let err = group.restore::<Ledger>(2, "node-a").await.unwrap_err();
    assert!(matches!(err, GroupError::PartUnreadable { .. }), "{err}");
    let err = group.restore::<NodeState>(2, "node-c").await.unwrap_err();
    assert!(matches!(err, GroupError::NotAParticipant { .. }), "{err}");
    let err = group
        .save_part(3, "no/slash", &NodeState::at("x", 3))
        .await
        .unwrap_err();
    assert!(matches!(err, GroupError::InvalidName { .. }), "{err}");

    // A save below the newest committed epoch is refused, although its
    // part is written; epoch 1's parts are all there then, and the record a
    // commit creates for it is withdrawn.
    let err = group
        .save_part(1, "node-b", &NodeState::at("node-b", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, GroupError::EpochSuperseded { epoch: 1, .. }),
        "{err}"
    );
    let err = group.commit_verifying(1, &IDS).await.unwrap_err();
    assert!(
        matches!(
            err,
            GroupError::EpochSuperseded {
                epoch: 1,
                committed: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(group.commit_record(1).await.unwrap(), None);

    // A different record of a committed epoch is a conflict.
    let ours = save_all(&group, 3).await;
    group.commit(3, &IDS, &ours).await.unwrap();
    let err = group.commit_verifying(3, &["node-a"]).await.unwrap_err();
    assert!(
        matches!(err, GroupError::CommitConflict { epoch: 3, .. }),
        "{err}"
    );

    // A retried verifying commit of an epoch superseded and collected.
    group.collect_garbage(1).await.unwrap();
    let err = group.commit_verifying(2, &IDS).await.unwrap_err();
    assert!(
        matches!(
            err,
            GroupError::EpochSuperseded {
                epoch: 2,
                committed: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn errors_are_those_of_the_sync_group() {
    runtime().block_on(errors(AsyncGroup::new(MemStore::new(), "orders").unwrap()));
}

#[test]
fn native_errors_are_those_of_the_sync_group() {
    let (_backend, group) = yielding_group();
    runtime().block_on(errors(group));
}

#[test]
fn the_part_is_written_off_the_calling_thread() {
    let rt = runtime();
    let _context = rt.enter();
    let (group, _store, gate) = gated_group();
    let state = NodeState::at("node-a", 1);
    let mut save = Box::pin(group.save_part(1, "node-a", &state));
    // One poll encodes the part and hands its write to the blocking pool:
    // the write is under way while this thread, the runtime's only one, is
    // free.
    assert!(poll_once(&mut save).is_pending());
    assert!(gate.expect_key().contains("node-a"));
    gate.release(Release::Write);
    assert_eq!(rt.block_on(save).unwrap().epoch, 1);
}

/// Futures dropped before their first poll write nothing.
#[test]
fn futures_dropped_before_they_run_write_nothing() {
    let rt = runtime();
    let _context = rt.enter();
    let (group, store, _gate) = gated_group();
    let state = NodeState::at("node-a", 1);
    drop(group.save_part(1, "node-a", &state));
    let part = Group::new(MemStore::new(), "orders")
        .unwrap()
        .save_part(1, "node-a", &state)
        .unwrap();
    drop(group.commit(1, &["node-a"], &[part]));
    drop(group.commit_verifying(1, &["node-a"]));
    drop(group.collect_garbage(1));
    assert!(store.list("").unwrap().is_empty());
}

/// A part's save dropped while its write runs: the write ends on its own,
/// complete or absent, and saving the same state again returns the same
/// part either way.
#[test]
fn a_save_dropped_during_its_write_leaves_no_partial_part() {
    for outcome in [Release::Write, Release::Fail] {
        let rt = runtime();
        let _context = rt.enter();
        let (group, store, gate) = gated_group();
        let state = NodeState::at("node-a", 1);
        let mut save = Box::pin(group.save_part(1, "node-a", &state));
        assert!(poll_once(&mut save).is_pending());
        let key = gate.expect_key();
        drop(save);
        assert!(
            store.list("").unwrap().is_empty(),
            "nothing is visible mid-write"
        );
        gate.release(outcome);

        let mut retry = Box::pin(group.save_part(1, "node-a", &state));
        assert!(poll_once(&mut retry).is_pending());
        assert_eq!(gate.expect_key(), key);
        gate.release(Release::Write);
        let part = rt.block_on(retry).unwrap();
        assert_eq!(store.list("").unwrap(), std::slice::from_ref(&key));
        let parts = [part];
        let mut commit = Box::pin(group.commit(1, &["node-a"], &parts));
        assert!(poll_once(&mut commit).is_pending());
        gate.expect_key();
        gate.release(Release::Write);
        let record = rt.block_on(commit).unwrap();
        assert_eq!(record.parts.len(), 1);
    }
}

/// A commit dropped while its record is written: the record is complete
/// or absent, and committing the same parts again succeeds either way.
#[test]
fn a_commit_dropped_during_its_write_leaves_no_partial_commit() {
    for outcome in [Release::Write, Release::Fail] {
        let rt = runtime();
        let _context = rt.enter();
        let (group, store, gate) = gated_group();
        let mut parts = Vec::new();
        for id in IDS {
            let state = NodeState::at(id, 1);
            let mut save = Box::pin(group.save_part(1, id, &state));
            assert!(poll_once(&mut save).is_pending());
            gate.expect_key();
            gate.release(Release::Write);
            parts.push(rt.block_on(save).unwrap());
        }
        // The same store, without the gate.
        let sync = Group::from_shared(Arc::clone(&store) as Arc<dyn Store>, "orders").unwrap();

        let mut commit = Box::pin(group.commit(1, &IDS, &parts));
        assert!(poll_once(&mut commit).is_pending());
        let key = gate.expect_key();
        drop(commit);
        assert_eq!(sync.latest_committed_epoch().unwrap(), None);
        gate.release(outcome);

        let mut retry = Box::pin(group.commit(1, &IDS, &parts));
        assert!(poll_once(&mut retry).is_pending());
        assert_eq!(gate.expect_key(), key);
        gate.release(Release::Write);
        assert_eq!(rt.block_on(retry).unwrap().parts, parts);
        assert_eq!(sync.committed_epochs().unwrap(), [1]);
        let restored = rt
            .block_on(group.restore_latest::<NodeState>("node-a"))
            .unwrap()
            .unwrap();
        assert_eq!(restored.state, NodeState::at("node-a", 1));
    }
}

/// Restores and listings dropped mid-way change nothing.
#[test]
fn dropped_reads_change_nothing() {
    let rt = runtime();
    let _context = rt.enter();
    let group = AsyncGroup::new(MemStore::new(), "orders").unwrap();
    let parts = rt.block_on(save_all(&group, 1));
    rt.block_on(group.commit(1, &IDS, &parts)).unwrap();

    let mut restore = Box::pin(group.restore_latest::<NodeState>("node-a"));
    let _ = poll_once(&mut restore);
    drop(restore);
    let mut restore = Box::pin(group.restore::<NodeState>(1, "node-b"));
    let _ = poll_once(&mut restore);
    drop(restore);
    let mut latest = Box::pin(group.latest_committed_epoch());
    let _ = poll_once(&mut latest);
    drop(latest);

    let restored = rt
        .block_on(group.restore_latest::<NodeState>("node-b"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (restored.epoch, restored.state),
        (1, NodeState::at("node-b", 1))
    );
}

#[test]
fn the_object_store_backend_works_from_async_code() {
    let memory = Arc::new(object_store::memory::InMemory::new());
    let store: Arc<dyn Store> =
        Arc::new(ObjectStore::from_object_store(memory, "async-group").unwrap());
    runtime().block_on(round_trip(store));
}

#[test]
fn s3_works_from_async_code() {
    let Some(store) = common::group::s3_store("async_group_s3") else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(store);
    runtime().block_on(round_trip(store));
}

fn yielding_group() -> (Arc<Yielding>, AsyncGroup) {
    let backend = Arc::new(Yielding::default());
    let store = ObjectStore::from_object_store(backend.clone(), "native").unwrap();
    (backend, AsyncGroup::new(store, "orders").unwrap())
}

/// On the object store every group operation's requests are the caller's
/// futures: they run on the thread that awaits them (a current-thread
/// runtime's only one), never on the blocking pool or a runtime of the
/// store's own. Retries that find their part or record there read it the
/// same way.
#[test]
fn the_object_store_is_awaited_on_the_callers_thread() {
    let (backend, group) = yielding_group();
    runtime().block_on(async {
        round_trip(Arc::clone(group.group().store())).await;
        // A retried save and commit find what they wrote.
        let parts = save_all(&group, 3).await;
        assert_eq!(save_all(&group, 3).await, parts);
        let record = group.commit(3, &IDS, &parts).await.unwrap();
        assert_eq!(group.commit(3, &IDS, &parts).await.unwrap(), record);
        assert_eq!(group.commit_record(3).await.unwrap(), Some(record));
        assert_eq!(group.committed_epochs().await.unwrap(), [2, 3]);
        let restored = group
            .restore_latest::<NodeState>("node-a")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(restored.state, NodeState::at("node-a", 3));
        group.collect_garbage(1).await.unwrap();
    });
    let threads = backend.threads.lock().unwrap().clone();
    assert_eq!(threads, HashSet::from([std::thread::current().id()]));
}

/// Polls `future` `polls` times (each poll runs it to its next await on the
/// object store), then drops it; whether it finished first.
fn poll_then_drop<F: std::future::Future>(future: F, polls: usize) -> bool {
    let mut future = Box::pin(future);
    (0..polls).any(|_| poll_once(&mut future).is_ready())
}

/// Saves, commits (both kinds), restores and collections dropped at every
/// await point they reach on the object store (before a write, with the
/// object written but not yet answered, during the listing beside it,
/// during the reads of a retry, of `commit_verifying` or of a restore):
/// what is stored is whole, and the same calls made again succeed, commit
/// and restore.
#[test]
fn native_operations_dropped_at_every_await_point_leave_no_partial_write() {
    let mut polls = 0;
    loop {
        polls += 1;
        let (_backend, group) = yielding_group();
        let rt = runtime();
        let _context = rt.enter();
        let parts = rt.block_on(save_all(&group, 1));
        rt.block_on(group.commit(1, &IDS, &parts)).unwrap();

        // Epoch 2: node-a's save and the commit dropped, then made again.
        let state = NodeState::at("node-a", 2);
        let saved = poll_then_drop(group.save_part(2, "node-a", &state), polls);
        let parts = rt.block_on(save_all(&group, 2));
        let committed = poll_then_drop(group.commit(2, &IDS, &parts), polls);
        let latest = rt.block_on(group.latest_committed_epoch()).unwrap();
        assert!(
            matches!(latest, Some(1 | 2)),
            "after {polls} polls: {latest:?}"
        );
        if latest == Some(2) {
            let record = rt.block_on(group.commit_record(2)).unwrap().unwrap();
            assert_eq!(record.parts, parts, "after {polls} polls");
        }
        let record = rt.block_on(group.commit(2, &IDS, &parts)).unwrap();
        assert_eq!(record.parts, parts);

        // Epoch 3: a verifying commit dropped, then made again.
        let parts = rt.block_on(save_all(&group, 3));
        let verified = poll_then_drop(group.commit_verifying(3, &IDS), polls);
        let record = rt.block_on(group.commit_verifying(3, &IDS)).unwrap();
        assert_eq!(record.parts, parts, "after {polls} polls");

        // Restores dropped midway change nothing.
        let restored = [
            poll_then_drop(group.restore_latest::<NodeState>("node-a"), polls),
            poll_then_drop(group.restore::<NodeState>(2, "node-b"), polls),
        ];

        // A collection dropped midway; the next one finishes its work.
        let collected = poll_then_drop(group.collect_garbage(1), polls);
        rt.block_on(group.collect_garbage(1)).unwrap();
        assert_eq!(rt.block_on(group.committed_epochs()).unwrap(), [3]);
        for id in IDS {
            let restored = rt
                .block_on(group.restore_latest::<NodeState>(id))
                .unwrap()
                .unwrap();
            assert_eq!((restored.epoch, restored.state), (3, NodeState::at(id, 3)));
        }
        if saved && committed && verified && collected && restored.iter().all(|r| *r) {
            assert!(polls > 3, "a commit awaits several times: {polls}");
            break;
        }
    }
}

#[test]
fn s3_errors_are_those_of_the_sync_group() {
    let Some(store) = common::group::s3_store("async_group_s3_errors") else {
        return;
    };
    runtime().block_on(errors(AsyncGroup::new(store, "orders").unwrap()));
}
