//! The group commit protocol, run on every store: memory, files, and (with
//! a server, see `scripts/test.sh`) S3.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use checkpoint::group::{Group, GroupError, PartInfo};
use checkpoint::{DirStore, MemStore};
use checkpoint::{Store, StoreError};
use common::group::{overwrite, Ledger, NodeState};

const NODES: [&str; 3] = ["a", "b", "c"];

/// Saves every node's part of `epoch` and returns what the saves returned.
fn save_all(group: &Group, epoch: u64) -> Vec<PartInfo> {
    NODES
        .iter()
        .map(|node| {
            group
                .save_part(epoch, node, &NodeState::at(node, epoch))
                .unwrap()
        })
        .collect()
}

/// Saves and commits `epoch` as a coordinator holding the saves' results.
fn save_and_commit(group: &Group, epoch: u64) {
    let parts = save_all(group, epoch);
    group.commit(epoch, &NODES, &parts).unwrap();
}

fn part_key(group: &Group, epoch: u64, node: &str) -> String {
    format!("group/{}/parts/{epoch:020}/{node}", group.name())
}

fn every_participant_restores_the_same_committed_epoch(store: Arc<dyn Store>) {
    let group = Group::from_shared(store, "g").unwrap();
    assert!(group.latest_committed_epoch().unwrap().is_none());
    assert!(group.restore_latest::<NodeState>("a").unwrap().is_none());
    for epoch in 1..=3 {
        let mut parts = save_all(&group, epoch);
        parts.push(
            group
                .save_part(
                    epoch,
                    "ledger",
                    &Ledger {
                        balance: -(epoch as i64),
                    },
                )
                .unwrap(),
        );
        let ids = ["a", "b", "c", "ledger"];
        // Epoch 2 goes through the coordinator that reads the parts back:
        // both commits write the same record.
        let record = if epoch == 2 {
            group.commit_verifying(epoch, &ids).unwrap()
        } else {
            group.commit(epoch, &ids, &parts).unwrap()
        };
        assert_eq!(record.parts.len(), 4);
        assert_eq!(group.commit_record(epoch).unwrap(), Some(record));
    }
    for node in NODES {
        let restored = group.restore_latest::<NodeState>(node).unwrap().unwrap();
        assert_eq!(restored.epoch, 3);
        assert_eq!(restored.state, NodeState::at(node, 3));
    }
    let ledger = group.restore_latest::<Ledger>("ledger").unwrap().unwrap();
    assert_eq!((ledger.epoch, ledger.state), (3, Ledger { balance: -3 }));
    assert_eq!(
        group.restore::<NodeState>(2, "b").unwrap(),
        NodeState::at("b", 2)
    );
    assert_eq!(group.committed_epochs().unwrap(), vec![1, 2, 3]);
}

fn a_missing_part_refuses_the_commit_naming_it(store: Arc<dyn Store>) {
    let group = Group::from_shared(store, "g").unwrap();
    let a = group.save_part(1, "a", &NodeState::at("a", 1)).unwrap();
    let c = group.save_part(1, "c", &NodeState::at("c", 1)).unwrap();
    let handed = [a.clone(), c.clone()];
    for err in [
        group.commit(1, &NODES, &handed).unwrap_err(),
        group.commit_verifying(1, &NODES).unwrap_err(),
    ] {
        assert!(
            matches!(&err, GroupError::PartMissing { participant, epoch: 1, .. } if participant == "b"),
            "{err:?}"
        );
        assert!(err.to_string().contains("participant `b`"), "{err}");
    }
    assert_eq!(group.latest_committed_epoch().unwrap(), None);
    assert!(matches!(
        group.restore::<NodeState>(1, "a"),
        Err(GroupError::NotCommitted { epoch: 1, .. })
    ));
    // Saved but not handed over is still missing: a part is never assumed.
    let b = group.save_part(1, "b", &NodeState::at("b", 1)).unwrap();
    let err = group.commit(1, &NODES, &handed).unwrap_err();
    assert!(
        matches!(&err, GroupError::PartMissing { participant, .. } if participant == "b"),
        "{err:?}"
    );
    assert_eq!(group.latest_committed_epoch().unwrap(), None);
    // Once every part is handed over the same commit goes through.
    group.commit(1, &NODES, &[c, b, a]).unwrap();
    assert_eq!(group.latest_committed_epoch().unwrap(), Some(1));
}

fn parts_that_do_not_fit_the_commit_are_refused(store: Arc<dyn Store>) {
    let group = Group::from_shared(store, "g").unwrap();
    let old = save_all(&group, 1);
    let mut parts = save_all(&group, 2);
    let stranger = group.save_part(2, "d", &NodeState::at("d", 2)).unwrap();
    let cases = [
        // A part of another epoch for `b`.
        (
            vec![parts[0].clone(), old[1].clone(), parts[2].clone()],
            "b",
        ),
        // A part of a participant outside the set.
        (
            parts.iter().cloned().chain([stranger]).collect::<Vec<_>>(),
            "d",
        ),
        // Two different parts for `c`.
        (parts.iter().cloned().chain([old[2].clone()]).collect(), "c"),
    ];
    for (handed, culprit) in cases {
        let err = group.commit(2, &NODES, &handed).unwrap_err();
        assert!(
            matches!(&err, GroupError::PartsMismatch { participant, epoch: 2, .. } if participant == culprit),
            "{err:?}"
        );
        assert!(err.to_string().contains(&format!("`{culprit}`")), "{err}");
    }
    assert_eq!(group.latest_committed_epoch().unwrap(), None);
    // The same part handed twice is harmless.
    parts.push(parts[0].clone());
    group.commit(2, &NODES, &parts).unwrap();
}

fn a_corrupt_part_refuses_the_commit_naming_it(store: Arc<dyn Store>) {
    let group = Group::from_shared(store.clone(), "g").unwrap();
    save_all(&group, 1);
    let key = part_key(&group, 1, "c");
    let mut bytes = store.get(&key).unwrap().unwrap();
    let last = bytes.len() - 6;
    bytes[last] ^= 1;
    overwrite(&*store, &key, &bytes);
    let err = group.commit_verifying(1, &NODES).unwrap_err();
    assert!(
        matches!(&err, GroupError::PartCorrupt { participant, .. } if participant == "c"),
        "{err:?}"
    );
    assert_eq!(group.latest_committed_epoch().unwrap(), None);
    // A part written for another epoch is refused too.
    group.save_part(2, "c", &NodeState::at("c", 2)).unwrap();
    let other = store.get(&part_key(&group, 2, "c")).unwrap().unwrap();
    overwrite(&*store, &key, &other);
    let err = group.commit_verifying(1, &NODES).unwrap_err();
    assert!(
        matches!(&err, GroupError::PartCorrupt { participant, .. } if participant == "c"),
        "{err:?}"
    );
}

fn a_part_copied_into_another_slot_is_refused(store: Arc<dyn Store>) {
    let group = Group::from_shared(store.clone(), "g").unwrap();
    // `a` and `c` hold states of the same type, so only the slot differs.
    save_all(&group, 1);
    let from_a = store.get(&part_key(&group, 1, "a")).unwrap().unwrap();
    overwrite(&*store, &part_key(&group, 1, "c"), &from_a);
    let err = group.commit_verifying(1, &NODES).unwrap_err();
    assert!(
        matches!(&err, GroupError::PartCorrupt { participant, epoch: 1, .. } if participant == "c"),
        "{err:?}"
    );
    assert!(err.to_string().contains("participant `a`"), "{err}");
    assert_eq!(group.latest_committed_epoch().unwrap(), None);

    // After a commit, a copy over a committed part is refused at restore.
    save_and_commit(&group, 2);
    let from_a = store.get(&part_key(&group, 2, "a")).unwrap().unwrap();
    overwrite(&*store, &part_key(&group, 2, "b"), &from_a);
    let err = group.restore_latest::<NodeState>("b").unwrap_err();
    assert!(
        matches!(&err, GroupError::PartUnreadable { participant, epoch: 2, .. } if participant == "b"),
        "{err:?}"
    );
    assert!(err.to_string().contains("participant `a`"), "{err}");
    assert_eq!(
        group
            .restore_latest::<NodeState>("a")
            .unwrap()
            .unwrap()
            .state,
        NodeState::at("a", 2)
    );
}

fn a_damaged_part_keeps_the_checkpoint_error_as_its_source(store: Arc<dyn Store>) {
    let group = Group::from_shared(store.clone(), "g").unwrap();
    save_and_commit(&group, 1);
    let key = part_key(&group, 1, "b");
    let mut bytes = store.get(&key).unwrap().unwrap();
    // A byte of the checkpoint's body, inside the part.
    let at = bytes.len() - 5;
    bytes[at] ^= 0x01;
    overwrite(&*store, &key, &bytes);
    let err = group.restore_latest::<NodeState>("b").unwrap_err();
    assert!(matches!(err, GroupError::PartUnreadable { .. }), "{err:?}");
    let source = std::error::Error::source(&err).expect("the checkpoint error");
    let source = source
        .downcast_ref::<checkpoint::Error>()
        .expect("a checkpoint::Error");
    assert!(source.is_damage(), "{source:?}");

    // At commit, a damaged part is PartCorrupt, with the same kind of source.
    group.save_part(2, "a", &NodeState::at("a", 2)).unwrap();
    group.save_part(2, "b", &NodeState::at("b", 2)).unwrap();
    group.save_part(2, "c", &NodeState::at("c", 2)).unwrap();
    let key = part_key(&group, 2, "c");
    let mut bytes = store.get(&key).unwrap().unwrap();
    let at = bytes.len() - 5;
    bytes[at] ^= 0x01;
    overwrite(&*store, &key, &bytes);
    let err = group.commit_verifying(2, &NODES).unwrap_err();
    assert!(matches!(err, GroupError::PartCorrupt { .. }), "{err:?}");
    let source = std::error::Error::source(&err).expect("the checkpoint error");
    assert!(source
        .downcast_ref::<checkpoint::Error>()
        .is_some_and(checkpoint::Error::is_damage));
}

fn compressed_parts_commit_and_restore_beside_plain_ones(store: Arc<dyn Store>) {
    let plain = Group::from_shared(store.clone(), "g").unwrap();
    let zstd = Group::from_shared(store.clone(), "g")
        .unwrap()
        .compression(checkpoint::Compression::zstd(3));
    // Epoch 1: every part compressed, committed by a verifying coordinator.
    for node in NODES {
        zstd.save_part(1, node, &NodeState::at(node, 1)).unwrap();
    }
    plain.commit_verifying(1, &NODES).unwrap();
    for node in NODES {
        assert_eq!(
            plain.restore::<NodeState>(1, node).unwrap(),
            NodeState::at(node, 1)
        );
    }
    // Epoch 2: participants differ; a damaged compressed part is named.
    let infos: Vec<PartInfo> = NODES
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let group = if i % 2 == 0 { &zstd } else { &plain };
            group.save_part(2, node, &NodeState::at(node, 2)).unwrap()
        })
        .collect();
    zstd.commit(2, &NODES, &infos).unwrap();
    let key = part_key(&zstd, 2, "a");
    let mut bytes = store.get(&key).unwrap().unwrap();
    let at = bytes.len() - 5;
    bytes[at] ^= 0x01;
    overwrite(&*store, &key, &bytes);
    let err = zstd.restore_latest::<NodeState>("a").unwrap_err();
    assert!(
        matches!(err, GroupError::PartUnreadable { epoch: 2, .. }),
        "{err:?}"
    );
    let restored = zstd.restore_latest::<NodeState>("b").unwrap().unwrap();
    assert_eq!((restored.epoch, restored.state), (2, NodeState::at("b", 2)));
}

fn uncommitted_epochs_are_never_restored(store: Arc<dyn Store>) {
    let group = Group::from_shared(store, "g").unwrap();
    save_and_commit(&group, 1);
    // Epoch 2 complete on disk but not committed; epoch 3 half saved.
    save_all(&group, 2);
    group.save_part(3, "a", &NodeState::at("a", 3)).unwrap();
    for node in NODES {
        let restored = group.restore_latest::<NodeState>(node).unwrap().unwrap();
        assert_eq!(
            (restored.epoch, restored.state),
            (1, NodeState::at(node, 1))
        );
    }
    assert!(matches!(
        group.restore::<NodeState>(2, "a"),
        Err(GroupError::NotCommitted { epoch: 2, .. })
    ));
}

fn an_unreadable_committed_part_is_an_error_not_a_fallback(store: Arc<dyn Store>) {
    let group = Group::from_shared(store.clone(), "g").unwrap();
    for epoch in 1..=2 {
        save_and_commit(&group, epoch);
    }
    let key = part_key(&group, 2, "b");
    let mut bytes = store.get(&key).unwrap().unwrap();
    bytes[12] ^= 0xff;
    overwrite(&*store, &key, &bytes);
    let err = group.restore_latest::<NodeState>("b").unwrap_err();
    assert!(
        matches!(&err, GroupError::PartUnreadable { participant, epoch: 2, .. } if participant == "b"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("participant `b`") && text.contains("epoch 2"),
        "{text}"
    );
    // A part replaced by another intact part is caught by the record's checksum.
    store.delete(&key).unwrap();
    let err = group.restore_latest::<NodeState>("b").unwrap_err();
    assert!(
        matches!(err, GroupError::PartUnreadable { epoch: 2, .. }),
        "{err:?}"
    );
    // The others still restore epoch 2; nobody silently gets epoch 1.
    assert_eq!(
        group
            .restore_latest::<NodeState>("a")
            .unwrap()
            .unwrap()
            .epoch,
        2
    );
    // The wrong type is named, not misread.
    let err = group.restore_latest::<Ledger>("a").unwrap_err();
    assert!(err.to_string().contains("NodeState"), "{err}");
}

fn concurrent_coordinators_write_exactly_one_record(store: Arc<dyn Store>) {
    let group = Group::from_shared(store.clone(), "g").unwrap();
    let parts = save_all(&group, 1);
    let records: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (group, parts) = (&group, &parts);
                s.spawn(move || {
                    if i % 2 == 0 {
                        group.commit(1, &NODES, parts)
                    } else {
                        group.commit_verifying(1, &NODES)
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    assert!(records.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(store.list("group/g/commits/").unwrap().len(), 1);
    // A retry after success is a success; a different participant set is a conflict.
    group.commit(1, &NODES, &parts).unwrap();
    group.commit_verifying(1, &NODES).unwrap();
    let err = group.commit(1, &["a", "b"], &parts[..2]).unwrap_err();
    assert!(
        matches!(err, GroupError::CommitConflict { epoch: 1, .. }),
        "{err:?}"
    );
    let err = group.commit_verifying(1, &["a", "b"]).unwrap_err();
    assert!(
        matches!(err, GroupError::CommitConflict { epoch: 1, .. }),
        "{err:?}"
    );
}

fn a_retried_commit_of_a_superseded_collected_epoch_says_so(store: Arc<dyn Store>) {
    let group = Group::from_shared(store, "g").unwrap();
    let first = save_all(&group, 1);
    group.commit(1, &NODES, &first).unwrap();
    for epoch in 2..=3 {
        save_and_commit(&group, epoch);
    }
    // Not yet collected: a retry finds its record and succeeds.
    group.commit(1, &NODES, &first).unwrap();
    group.commit_verifying(1, &NODES).unwrap();
    // Collected: the retry is told its epoch is older than the newest one.
    group.collect_garbage(1).unwrap();
    let errors = [
        group.commit(1, &NODES, &first).unwrap_err(),
        group.commit_verifying(1, &NODES).unwrap_err(),
    ];
    for err in errors {
        assert!(
            matches!(
                err,
                GroupError::EpochSuperseded {
                    epoch: 1,
                    committed: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("older than the newest committed epoch 3"),
            "{err}"
        );
    }
    // Nothing came back to life.
    assert_eq!(group.committed_epochs().unwrap(), vec![3]);
    assert!(matches!(
        group.restore::<NodeState>(1, "a"),
        Err(GroupError::NotCommitted { epoch: 1, .. })
    ));
}

fn parts_are_written_once_and_old_epochs_refused(store: Arc<dyn Store>) {
    let group = Group::from_shared(store, "g").unwrap();
    save_all(&group, 5);
    let err = group
        .save_part(5, "a", &NodeState::at("a", 99))
        .unwrap_err();
    assert!(
        matches!(err, GroupError::PartExists { epoch: 5, .. }),
        "{err:?}"
    );
    group.commit_verifying(5, &NODES).unwrap();
    assert_eq!(
        group.restore::<NodeState>(5, "a").unwrap(),
        NodeState::at("a", 5)
    );
    let err = group.save_part(4, "a", &NodeState::at("a", 4)).unwrap_err();
    assert!(
        matches!(
            err,
            GroupError::EpochSuperseded {
                epoch: 4,
                committed: 5,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        group.commit(5, &[], &[]),
        Err(GroupError::InvalidName { .. })
    ));
    assert!(matches!(
        group.commit_verifying(6, &["a", "a"]),
        Err(GroupError::InvalidName { .. })
    ));
    assert!(matches!(
        group.participant("../x"),
        Err(GroupError::InvalidName { .. })
    ));
    assert!(Group::from_shared(Arc::new(MemStore::new()), "a/b").is_err());
}

fn retention_keeps_the_newest_committed_and_everything_in_flight(store: Arc<dyn Store>) {
    let group = Group::from_shared(store.clone(), "g").unwrap();
    let mut in_flight = Vec::new();
    for epoch in 1..=7 {
        let parts = save_all(&group, epoch);
        if epoch != 4 && epoch != 7 {
            group.commit(epoch, &NODES, &parts).unwrap();
        } else {
            in_flight = parts;
        }
    }
    let report = group.collect_garbage(2).unwrap();
    assert_eq!(report.committed_epochs, vec![1, 2, 3]);
    assert_eq!(report.uncommitted_epochs, vec![4]);
    assert_eq!(group.committed_epochs().unwrap(), vec![5, 6]);
    let parts = store.list("group/g/parts/").unwrap();
    let epochs: std::collections::BTreeSet<u64> = parts
        .iter()
        .map(|k| k["group/g/parts/".len()..][..20].parse().unwrap())
        .collect();
    assert_eq!(epochs.into_iter().collect::<Vec<_>>(), vec![5, 6, 7]);
    // The in-flight epoch 7 survives and commits.
    group.commit(7, &NODES, &in_flight).unwrap();
    for node in NODES {
        assert_eq!(
            group
                .restore_latest::<NodeState>(node)
                .unwrap()
                .unwrap()
                .epoch,
            7
        );
    }
    assert_eq!(
        group.restore::<NodeState>(5, "c").unwrap(),
        NodeState::at("c", 5)
    );
    assert_eq!(group.collect_garbage(2).unwrap().committed_epochs, vec![5]);
}

fn garbage_collection_is_safe_while_participants_write(store: Arc<dyn Store>) {
    let group = Group::from_shared(store, "g").unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                group.collect_garbage(1).unwrap();
            }
        });
        for epoch in 1..=15 {
            save_and_commit(&group, epoch);
            for node in NODES {
                let restored = group.restore_latest::<NodeState>(node).unwrap().unwrap();
                assert!(restored.epoch >= epoch);
                assert_eq!(restored.state, NodeState::at(node, restored.epoch));
            }
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    group.collect_garbage(1).unwrap();
    assert_eq!(group.committed_epochs().unwrap(), vec![15]);
    assert_eq!(
        group.collect_garbage(1).unwrap().keys,
        0,
        "a second pass finds nothing"
    );
}

/// A store that counts the calls the protocol makes.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn Store>,
    creates: AtomicUsize,
    reads: AtomicUsize,
    lists: AtomicUsize,
}

impl Counting {
    fn reset(&self) -> [usize; 3] {
        [&self.creates, &self.reads, &self.lists].map(|n| n.swap(0, Ordering::SeqCst))
    }
}

impl Store for Counting {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.creates.fetch_add(1, Ordering::SeqCst);
        self.inner.put_if_absent(key, bytes)
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key)
    }
    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get_prefix(key, len)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        self.inner.list(prefix)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key)
    }
    fn location(&self, key: &str) -> String {
        self.inner.location(key)
    }
}

fn a_commit_handed_the_parts_is_one_create_and_reads_nothing(store: Arc<dyn Store>) {
    let counting = Arc::new(Counting {
        inner: store,
        creates: AtomicUsize::new(0),
        reads: AtomicUsize::new(0),
        lists: AtomicUsize::new(0),
    });
    let group = Group::from_shared(counting.clone(), "g").unwrap();
    let parts = save_all(&group, 1);
    // Each save: its create, and a listing of the commits beside it.
    assert_eq!(counting.reset(), [3, 0, 3]);
    group.commit(1, &NODES, &parts).unwrap();
    // The record's create, and a listing of the commits beside it.
    assert_eq!(counting.reset(), [1, 0, 1]);
    save_all(&group, 2);
    counting.reset();
    group.commit_verifying(2, &NODES).unwrap();
    assert_eq!(counting.reset(), [1, 3, 1], "one read per part");
    assert_eq!(
        group
            .restore_latest::<NodeState>("c")
            .unwrap()
            .unwrap()
            .state,
        NodeState::at("c", 2)
    );
}

/// A store whose next `list` fails, or whose next create lands but answers
/// with an error (a reply lost to a timeout), when armed.
#[derive(Debug)]
struct Flaky {
    inner: Arc<dyn Store>,
    fail_list: AtomicBool,
    lose_create_answer: AtomicBool,
}

impl Flaky {
    fn new(inner: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Flaky {
            inner,
            fail_list: AtomicBool::new(false),
            lose_create_answer: AtomicBool::new(false),
        })
    }

    fn failure(&self, operation: &'static str, key: &str) -> StoreError {
        StoreError::io(
            operation,
            self.location(key),
            std::io::Error::new(std::io::ErrorKind::TimedOut, "injected fault"),
        )
    }
}

impl Store for Flaky {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put_if_absent(key, bytes)?;
        if self.lose_create_answer.swap(false, Ordering::SeqCst) {
            return Err(self.failure("write", key));
        }
        Ok(())
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key)
    }
    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get_prefix(key, len)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        if self.fail_list.swap(false, Ordering::SeqCst) {
            return Err(self.failure("list", prefix));
        }
        self.inner.list(prefix)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key)
    }
    fn location(&self, key: &str) -> String {
        self.inner.location(key)
    }
}

fn a_failed_listing_beside_a_durable_write_is_no_failure(store: Arc<dyn Store>) {
    let flaky = Flaky::new(store);
    let group = Group::from_shared(flaky.clone(), "g").unwrap();
    let mut parts = Vec::new();
    for node in NODES {
        flaky.fail_list.store(true, Ordering::SeqCst);
        parts.push(
            group
                .save_part(1, node, &NodeState::at(node, 1))
                .expect("the part is durable; the listing only advises"),
        );
        assert!(!flaky.fail_list.load(Ordering::SeqCst), "the fault was hit");
    }
    flaky.fail_list.store(true, Ordering::SeqCst);
    let record = group
        .commit(1, &NODES, &parts)
        .expect("the record is durable; the listing only advises");
    assert!(!flaky.fail_list.load(Ordering::SeqCst), "the fault was hit");
    assert_eq!(record.parts, parts);
    assert_eq!(group.latest_committed_epoch().unwrap(), Some(1));
    for node in NODES {
        assert_eq!(
            group.restore::<NodeState>(1, node).unwrap(),
            NodeState::at(node, 1)
        );
    }
}

fn a_retried_save_whose_write_landed_gets_its_part_info(store: Arc<dyn Store>) {
    let flaky = Flaky::new(store);
    let group = Group::from_shared(flaky.clone(), "g").unwrap();
    let mut parts = Vec::new();
    for node in NODES {
        let state = NodeState::at(node, 1);
        flaky.lose_create_answer.store(true, Ordering::SeqCst);
        let err = group.save_part(1, node, &state).unwrap_err();
        assert!(matches!(err, GroupError::Store(_)), "{err:?}");
        // The retry finds the part its first attempt wrote, and says what
        // that part is, so the coordinator can commit it.
        let info = group.save_part(1, node, &state).expect("a retry succeeds");
        let again = group.save_part(1, node, &state).expect("and again");
        assert_eq!(info, again);
        parts.push(info);
    }
    // A different state in the same slot is still refused.
    let err = group.save_part(1, "a", &NodeState::at("a", 2)).unwrap_err();
    assert!(
        matches!(err, GroupError::PartExists { epoch: 1, .. }),
        "{err:?}"
    );
    group.commit(1, &NODES, &parts).unwrap();
    for node in NODES {
        assert_eq!(
            group.restore::<NodeState>(1, node).unwrap(),
            NodeState::at(node, 1)
        );
    }
}

/// A store that runs `hook` (once) just before the create of `key`, and
/// holds every listing back until the hook has run (at most two seconds):
/// the commit of a newer epoch and a garbage collection that land between
/// a coordinator's reading of the parts and its create of the record.
struct Interleave {
    inner: Arc<dyn Store>,
    key: String,
    hook: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    ran: (Mutex<bool>, Condvar),
}

impl std::fmt::Debug for Interleave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interleave")
            .field("key", &self.key)
            .finish()
    }
}

impl Store for Interleave {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        if key == self.key {
            if let Some(hook) = self.hook.lock().unwrap().take() {
                hook();
                *self.ran.0.lock().unwrap() = true;
                self.ran.1.notify_all();
            }
        }
        self.inner.put_if_absent(key, bytes)
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key)
    }
    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get_prefix(key, len)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let ran = self.ran.0.lock().unwrap();
        drop(
            self.ran
                .1
                .wait_timeout_while(ran, Duration::from_secs(2), |ran| !*ran)
                .unwrap(),
        );
        self.inner.list(prefix)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key)
    }
    fn location(&self, key: &str) -> String {
        self.inner.location(key)
    }
}

fn a_record_created_after_its_epoch_was_superseded_is_withdrawn(store: Arc<dyn Store>) {
    let plain = Group::from_shared(store.clone(), "g").unwrap();
    save_and_commit(&plain, 1);
    for (verifying, epoch) in [(false, 2), (true, 5)] {
        // The coordinator of `epoch` is slow: before its record lands, a
        // newer epoch commits and a collection removes `epoch`'s parts.
        let newer = epoch + 1;
        let parts = save_all(&plain, epoch);
        let hook_group = plain.clone();
        let slow = Arc::new(Interleave {
            inner: store.clone(),
            key: format!("group/g/commits/{epoch:020}"),
            hook: Mutex::new(Some(Box::new(move || {
                save_and_commit(&hook_group, newer);
                hook_group.collect_garbage(1).unwrap();
            }))),
            ran: (Mutex::new(false), Condvar::new()),
        });
        let group = Group::from_shared(slow, "g").unwrap();
        let err = if verifying {
            group.commit_verifying(epoch, &NODES).unwrap_err()
        } else {
            group.commit(epoch, &NODES, &parts).unwrap_err()
        };
        assert!(
            matches!(err, GroupError::EpochSuperseded { epoch: e, committed: c, .. } if e == epoch && c == newer),
            "{err:?}"
        );
        // No record of an epoch without parts stays behind.
        assert_eq!(plain.commit_record(epoch).unwrap(), None);
        assert!(matches!(
            plain.restore::<NodeState>(epoch, "a"),
            Err(GroupError::NotCommitted { .. })
        ));
        assert_eq!(plain.latest_committed_epoch().unwrap(), Some(newer));
    }
}

macro_rules! protocol_tests {
    ($store:expr) => {
        #[test]
        fn every_participant_restores_the_same_committed_epoch() {
            if let Some((s, _keep)) = $store {
                super::every_participant_restores_the_same_committed_epoch(s)
            }
        }
        #[test]
        fn a_missing_part_refuses_the_commit_naming_it() {
            if let Some((s, _keep)) = $store {
                super::a_missing_part_refuses_the_commit_naming_it(s)
            }
        }
        #[test]
        fn parts_that_do_not_fit_the_commit_are_refused() {
            if let Some((s, _keep)) = $store {
                super::parts_that_do_not_fit_the_commit_are_refused(s)
            }
        }
        #[test]
        fn a_part_copied_into_another_slot_is_refused() {
            if let Some((s, _keep)) = $store {
                super::a_part_copied_into_another_slot_is_refused(s)
            }
        }
        #[test]
        fn a_retried_commit_of_a_superseded_collected_epoch_says_so() {
            if let Some((s, _keep)) = $store {
                super::a_retried_commit_of_a_superseded_collected_epoch_says_so(s)
            }
        }
        #[test]
        fn a_commit_handed_the_parts_is_one_create_and_reads_nothing() {
            if let Some((s, _keep)) = $store {
                super::a_commit_handed_the_parts_is_one_create_and_reads_nothing(s)
            }
        }
        #[test]
        fn a_corrupt_part_refuses_the_commit_naming_it() {
            if let Some((s, _keep)) = $store {
                super::a_corrupt_part_refuses_the_commit_naming_it(s)
            }
        }
        #[test]
        fn uncommitted_epochs_are_never_restored() {
            if let Some((s, _keep)) = $store {
                super::uncommitted_epochs_are_never_restored(s)
            }
        }
        #[test]
        fn a_damaged_part_keeps_the_checkpoint_error_as_its_source() {
            if let Some((s, _keep)) = $store {
                super::a_damaged_part_keeps_the_checkpoint_error_as_its_source(s)
            }
        }
        #[test]
        fn compressed_parts_commit_and_restore_beside_plain_ones() {
            if let Some((s, _keep)) = $store {
                super::compressed_parts_commit_and_restore_beside_plain_ones(s)
            }
        }
        #[test]
        fn an_unreadable_committed_part_is_an_error_not_a_fallback() {
            if let Some((s, _keep)) = $store {
                super::an_unreadable_committed_part_is_an_error_not_a_fallback(s)
            }
        }
        #[test]
        fn concurrent_coordinators_write_exactly_one_record() {
            if let Some((s, _keep)) = $store {
                super::concurrent_coordinators_write_exactly_one_record(s)
            }
        }
        #[test]
        fn parts_are_written_once_and_old_epochs_refused() {
            if let Some((s, _keep)) = $store {
                super::parts_are_written_once_and_old_epochs_refused(s)
            }
        }
        #[test]
        fn retention_keeps_the_newest_committed_and_everything_in_flight() {
            if let Some((s, _keep)) = $store {
                super::retention_keeps_the_newest_committed_and_everything_in_flight(s)
            }
        }
        #[test]
        fn a_failed_listing_beside_a_durable_write_is_no_failure() {
            if let Some((s, _keep)) = $store {
                super::a_failed_listing_beside_a_durable_write_is_no_failure(s)
            }
        }
        #[test]
        fn a_retried_save_whose_write_landed_gets_its_part_info() {
            if let Some((s, _keep)) = $store {
                super::a_retried_save_whose_write_landed_gets_its_part_info(s)
            }
        }
        #[test]
        fn a_record_created_after_its_epoch_was_superseded_is_withdrawn() {
            if let Some((s, _keep)) = $store {
                super::a_record_created_after_its_epoch_was_superseded_is_withdrawn(s)
            }
        }
        #[test]
        fn garbage_collection_is_safe_while_participants_write() {
            if let Some((s, _keep)) = $store {
                super::garbage_collection_is_safe_while_participants_write(s)
            }
        }
    };
}

// Each test gets a store and whatever must live as long as the test.

mod memory {
    use super::*;
    protocol_tests!(Some((Arc::new(MemStore::new()) as Arc<dyn Store>, ())));
}

mod directory {
    use super::*;
    /// The store and its directory, removed when the test ends.
    fn store() -> Option<(Arc<dyn Store>, tempfile::TempDir)> {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(DirStore::open(dir.path()).unwrap());
        Some((store, dir))
    }
    protocol_tests!(store());
}

mod s3 {
    use super::*;
    fn store() -> Option<(Arc<dyn Store>, ())> {
        common::group::s3_store("group protocol on S3").map(|s| (Arc::new(s) as Arc<dyn Store>, ()))
    }
    protocol_tests!(store());
}

thread_local! {
    /// The directory a [`Probe`] measures while it is being encoded.
    static PROBED: std::cell::RefCell<Option<std::path::PathBuf>> = const { std::cell::RefCell::new(None) };
    /// The bytes of the files under it then.
    static SEEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn bytes_under(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => bytes_under(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// A field that, when encoded, notes how many bytes the probed directory
/// holds; restores as itself.
#[derive(Debug, PartialEq, serde::Deserialize)]
struct Probe;

impl serde::Serialize for Probe {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PROBED.with(|p| {
            if let Some(dir) = &*p.borrow() {
                SEEN.set(bytes_under(dir));
            }
        });
        s.serialize_unit_struct("Probe")
    }
}

#[derive(Debug, PartialEq, checkpoint::Checkpoint)]
struct Probed {
    data: Vec<u64>,
    probe: Probe,
}

/// On a directory a whole part goes to its temporary file as the state is
/// encoded, never whole in memory: a probe field after 8 MiB of data finds
/// them on disk already. The part info it returns is the one a verifying
/// commit reads back, and a retried save finds the part.
#[test]
fn a_whole_part_on_a_directory_is_written_as_it_is_encoded() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(DirStore::open(dir.path()).unwrap());
    let group = Group::from_shared(Arc::clone(&store), "g").unwrap();
    let state = Probed {
        data: (0..1u64 << 20)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect(),
        probe: Probe,
    };
    PROBED.with(|p| *p.borrow_mut() = Some(dir.path().to_owned()));
    let info = group.save_part(1, "a", &state).unwrap();
    PROBED.with(|p| *p.borrow_mut() = None);
    let seen = SEEN.get();
    assert!(
        seen >= 8 << 20,
        "{seen} bytes on disk before the last field"
    );
    assert_eq!(info.len, bytes_under(dir.path()));

    assert_eq!(group.save_part(1, "a", &state).unwrap(), info);
    let record = group.commit_verifying(1, &["a"]).unwrap();
    assert_eq!(record.parts, [info]);
    assert_eq!(group.restore::<Probed>(1, "a").unwrap(), state);

    // A state that fails to encode halfway leaves no part and no file.
    let err = group
        .save_part(
            2,
            "a",
            &Failing {
                data: vec![1; 1 << 20],
                last: Refuse,
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, GroupError::Encode { epoch: 2, .. }),
        "{err:?}"
    );
    let epoch_2 = dir.path().join(format!("group/g/parts/{:020}", 2));
    assert_eq!(bytes_under(&epoch_2), 0, "a file was left behind");
    assert!(store
        .list("group/g/parts/")
        .unwrap()
        .iter()
        .all(|k| !k.contains(&format!("{:020}", 2))));
    assert_eq!(group.epochs().unwrap().len(), 1);
}

/// A second field that refuses to encode.
#[derive(Debug, checkpoint::Checkpoint)]
struct Failing {
    data: Vec<u8>,
    last: Refuse,
}

#[derive(Debug, serde::Deserialize)]
struct Refuse;

impl serde::Serialize for Refuse {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refused"))
    }
}
