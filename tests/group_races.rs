//! A group restore racing a commit and a collection, the wording of a
//! refused save, and what a collection leaves behind.

mod common;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use checkpoint::group::{Group, GroupError};
use checkpoint::{DirStore, Store, StoreError};
use common::group::NodeState;
use common::{forward_to_inner, temp_dir};

/// When the race runs: after the listing of the commits, or after the
/// read of the commit record.
const AFTER_LISTING: u8 = 1;
const AFTER_RECORD: u8 = 2;

/// A store in which, once, another coordinator commits the next epoch and
/// collects every older one between a reader's steps.
#[derive(Debug)]
struct CollectionBetweenSteps {
    inner: Arc<DirStore>,
    armed: Arc<AtomicU8>,
}

impl CollectionBetweenSteps {
    fn race(&self, at: u8) {
        if self
            .armed
            .compare_exchange(at, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            let other = Group::from_shared(self.inner.clone(), "g").unwrap();
            let next = other.latest_committed_epoch().unwrap().unwrap() + 1;
            let part = other
                .save_part(next, "a", &NodeState::at("a", next))
                .unwrap();
            other.commit(next, &["a"], &[part]).unwrap();
            other.collect_garbage(1).unwrap();
        }
    }
}

impl Store for CollectionBetweenSteps {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put_if_absent(key, bytes)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let keys = self.inner.list(prefix)?;
        if prefix.ends_with("/commits/") {
            self.race(AFTER_LISTING);
        }
        Ok(keys)
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self.inner.get(key)?;
        if key.contains("/commits/") {
            self.race(AFTER_RECORD);
        }
        Ok(value)
    }
    forward_to_inner!(get_prefix, delete, location);
}

fn raced_restore(at: u8) -> Result<Option<u64>, GroupError> {
    let dir = temp_dir();
    let inner = Arc::new(DirStore::open(dir.path()).unwrap());
    let setup = Group::from_shared(inner.clone(), "g").unwrap();
    for epoch in 1..=2 {
        let part = setup
            .save_part(epoch, "a", &NodeState::at("a", epoch))
            .unwrap();
        setup.commit(epoch, &["a"], &[part]).unwrap();
    }
    let armed = Arc::new(AtomicU8::new(0));
    let store = CollectionBetweenSteps {
        inner,
        armed: armed.clone(),
    };
    let reader = Group::new(store, "g").unwrap();
    armed.store(at, Ordering::SeqCst);
    let restored = reader.restore_latest::<NodeState>("a")?;
    assert_eq!(armed.load(Ordering::SeqCst), 0, "the race did not run");
    Ok(restored.map(|r| {
        assert_eq!(r.state, NodeState::at("a", r.epoch));
        r.epoch
    }))
}

#[test]
fn a_collection_between_listing_and_reading_restores_the_newer_epoch() {
    assert_eq!(raced_restore(AFTER_LISTING).unwrap(), Some(3));
}

#[test]
fn a_collection_between_the_record_and_the_part_restores_the_newer_epoch() {
    assert_eq!(raced_restore(AFTER_RECORD).unwrap(), Some(3));
}

#[test]
fn real_damage_still_gets_the_drastic_advice() {
    let dir = temp_dir();
    let group = Group::new(DirStore::open(dir.path()).unwrap(), "g").unwrap();
    let part = group.save_part(1, "a", &NodeState::at("a", 1)).unwrap();
    group.commit(1, &["a"], &[part]).unwrap();
    std::fs::remove_file(dir.path().join(format!("group/g/parts/{:020}/a", 1))).unwrap();
    let err = group.restore_latest::<NodeState>("a").unwrap_err();
    assert!(
        matches!(err, GroupError::PartUnreadable { epoch: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("from a backup"), "{err}");
}

#[test]
fn saving_a_part_of_the_newest_committed_epoch_says_it_is_committed() {
    let dir = temp_dir();
    let group = Group::new(DirStore::open(dir.path()).unwrap(), "g").unwrap();
    let a = group.save_part(2, "a", &NodeState::at("a", 2)).unwrap();
    group.commit(2, &["a"], &[a]).unwrap();
    let err = group.save_part(2, "b", &NodeState::at("b", 2)).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            GroupError::EpochSuperseded {
                epoch: 2,
                committed: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        message.contains("epoch 2 of group `g` is already committed")
            && !message.contains("older than"),
        "{message}"
    );
    let err = group.save_part(1, "b", &NodeState::at("b", 1)).unwrap_err();
    assert!(
        err.to_string()
            .contains("older than the newest committed epoch 2"),
        "{err}"
    );
}

#[test]
fn a_collection_leaves_no_empty_epoch_folders() {
    let dir = temp_dir();
    let group = Group::new(DirStore::open(dir.path()).unwrap(), "g").unwrap();
    for epoch in 1..=30 {
        let part = group
            .save_part(epoch, "a", &NodeState::at("a", epoch))
            .unwrap();
        group.commit(epoch, &["a"], &[part]).unwrap();
        group.collect_garbage(2).unwrap();
    }
    let folders = std::fs::read_dir(dir.path().join("group/g/parts"))
        .unwrap()
        .count();
    assert_eq!(folders, 2, "one folder per kept epoch");
    assert_eq!(group.committed_epochs().unwrap(), [29, 30]);
}

#[test]
fn a_part_longer_than_its_record_says_is_refused_unread() {
    let dir = temp_dir();
    let group = Group::new(DirStore::open(dir.path()).unwrap(), "g").unwrap();
    let part = group.save_part(1, "a", &NodeState::at("a", 1)).unwrap();
    group.commit(1, &["a"], &[part]).unwrap();
    let path = dir.path().join(format!("group/g/parts/{:020}/a", 1));
    let grown = std::fs::File::options().write(true).open(&path).unwrap();
    grown.set_len(64 << 30).unwrap();
    let err = group.restore_latest::<NodeState>("a").unwrap_err();
    assert!(
        matches!(err, GroupError::PartUnreadable { epoch: 1, .. })
            && err.to_string().contains("68719476736 bytes long"),
        "{err}"
    );
}
