//! The group commit protocol, run on every store: memory, files, and (with
//! `--features object-store` and a server) S3.

mod group_common;

use std::sync::Arc;

use checkpoint::group::{Group, GroupError};
use checkpoint::Store;
use checkpoint::{DirStore, MemStore};
use group_common::{overwrite, Ledger, NodeState};

const NODES: [&str; 3] = ["a", "b", "c"];

fn save_all(group: &Group, epoch: u64) {
    for node in NODES {
        group
            .save_part(epoch, node, &NodeState::at(node, epoch))
            .unwrap();
    }
}

fn part_key(group: &Group, epoch: u64, node: &str) -> String {
    format!("group/{}/parts/{epoch:020}/{node}", group.name())
}

fn every_participant_restores_the_same_committed_epoch(store: Arc<dyn Store>) {
    let group = Group::from_shared(store, "g").unwrap();
    assert!(group.latest_committed_epoch().unwrap().is_none());
    assert!(group.restore_latest::<NodeState>("a").unwrap().is_none());
    for epoch in 1..=3 {
        save_all(&group, epoch);
        group
            .save_part(
                epoch,
                "ledger",
                &Ledger {
                    balance: -(epoch as i64),
                },
            )
            .unwrap();
        let record = group.commit(epoch, &["a", "b", "c", "ledger"]).unwrap();
        assert_eq!(record.parts.len(), 4);
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
    group.save_part(1, "a", &NodeState::at("a", 1)).unwrap();
    group.save_part(1, "c", &NodeState::at("c", 1)).unwrap();
    let err = group.commit(1, &NODES).unwrap_err();
    assert!(
        matches!(&err, GroupError::PartMissing { participant, epoch: 1, .. } if participant == "b"),
        "{err:?}"
    );
    assert!(err.to_string().contains("participant `b`"), "{err}");
    assert_eq!(group.latest_committed_epoch().unwrap(), None);
    assert!(matches!(
        group.restore::<NodeState>(1, "a"),
        Err(GroupError::NotCommitted { epoch: 1, .. })
    ));
    // Once the part is there the same commit goes through.
    group.save_part(1, "b", &NodeState::at("b", 1)).unwrap();
    group.commit(1, &NODES).unwrap();
}

fn a_corrupt_part_refuses_the_commit_naming_it(store: Arc<dyn Store>) {
    let group = Group::from_shared(store.clone(), "g").unwrap();
    save_all(&group, 1);
    let key = part_key(&group, 1, "c");
    let mut bytes = store.get(&key).unwrap().unwrap();
    let last = bytes.len() - 6;
    bytes[last] ^= 1;
    overwrite(&*store, &key, &bytes);
    let err = group.commit(1, &NODES).unwrap_err();
    assert!(
        matches!(&err, GroupError::PartCorrupt { participant, .. } if participant == "c"),
        "{err:?}"
    );
    assert_eq!(group.latest_committed_epoch().unwrap(), None);
    // A part written for another epoch is refused too.
    group.save_part(2, "c", &NodeState::at("c", 2)).unwrap();
    let other = store.get(&part_key(&group, 2, "c")).unwrap().unwrap();
    overwrite(&*store, &key, &other);
    let err = group.commit(1, &NODES).unwrap_err();
    assert!(
        matches!(&err, GroupError::PartCorrupt { participant, .. } if participant == "c"),
        "{err:?}"
    );
}

fn uncommitted_epochs_are_never_restored(store: Arc<dyn Store>) {
    let group = Group::from_shared(store, "g").unwrap();
    save_all(&group, 1);
    group.commit(1, &NODES).unwrap();
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
        save_all(&group, epoch);
        group.commit(epoch, &NODES).unwrap();
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
    save_all(&group, 1);
    let records: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| group.commit(1, &NODES)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    assert!(records.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(store.list("group/g/commits/").unwrap().len(), 1);
    // A retry after success is a success; a different participant set is a conflict.
    group.commit(1, &NODES).unwrap();
    let err = group.commit(1, &["a", "b"]).unwrap_err();
    assert!(
        matches!(err, GroupError::CommitConflict { epoch: 1, .. }),
        "{err:?}"
    );
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
    group.commit(5, &NODES).unwrap();
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
        group.commit(5, &[]),
        Err(GroupError::InvalidName { .. })
    ));
    assert!(matches!(
        group.commit(6, &["a", "a"]),
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
    for epoch in 1..=7 {
        save_all(&group, epoch);
        if epoch != 4 && epoch != 7 {
            group.commit(epoch, &NODES).unwrap();
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
    group.commit(7, &NODES).unwrap();
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
            save_all(&group, epoch);
            group.commit(epoch, &NODES).unwrap();
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

macro_rules! protocol_tests {
    ($store:expr) => {
        #[test]
        fn every_participant_restores_the_same_committed_epoch() {
            if let Some(s) = $store {
                super::every_participant_restores_the_same_committed_epoch(s)
            }
        }
        #[test]
        fn a_missing_part_refuses_the_commit_naming_it() {
            if let Some(s) = $store {
                super::a_missing_part_refuses_the_commit_naming_it(s)
            }
        }
        #[test]
        fn a_corrupt_part_refuses_the_commit_naming_it() {
            if let Some(s) = $store {
                super::a_corrupt_part_refuses_the_commit_naming_it(s)
            }
        }
        #[test]
        fn uncommitted_epochs_are_never_restored() {
            if let Some(s) = $store {
                super::uncommitted_epochs_are_never_restored(s)
            }
        }
        #[test]
        fn an_unreadable_committed_part_is_an_error_not_a_fallback() {
            if let Some(s) = $store {
                super::an_unreadable_committed_part_is_an_error_not_a_fallback(s)
            }
        }
        #[test]
        fn concurrent_coordinators_write_exactly_one_record() {
            if let Some(s) = $store {
                super::concurrent_coordinators_write_exactly_one_record(s)
            }
        }
        #[test]
        fn parts_are_written_once_and_old_epochs_refused() {
            if let Some(s) = $store {
                super::parts_are_written_once_and_old_epochs_refused(s)
            }
        }
        #[test]
        fn retention_keeps_the_newest_committed_and_everything_in_flight() {
            if let Some(s) = $store {
                super::retention_keeps_the_newest_committed_and_everything_in_flight(s)
            }
        }
        #[test]
        fn garbage_collection_is_safe_while_participants_write() {
            if let Some(s) = $store {
                super::garbage_collection_is_safe_while_participants_write(s)
            }
        }
    };
}

mod memory {
    use super::*;
    protocol_tests!(Some(Arc::new(MemStore::new()) as Arc<dyn Store>));
}

mod directory {
    use super::*;
    fn store() -> Option<Arc<dyn Store>> {
        // The directory outlives the test only as long as the OS keeps /tmp.
        let dir = tempfile::tempdir().unwrap().keep();
        Some(Arc::new(DirStore::open(dir).unwrap()))
    }
    protocol_tests!(store());
}

#[cfg(feature = "object-store")]
mod s3 {
    use super::*;
    fn store() -> Option<Arc<dyn Store>> {
        group_common::s3_store("group protocol on S3").map(|s| Arc::new(s) as Arc<dyn Store>)
    }
    protocol_tests!(store());
}
