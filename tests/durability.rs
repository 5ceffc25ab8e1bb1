//! A failed write leaves committed checkpoints intact and says why.

mod common;

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use checkpoint::{Checkpointer, DirStore, MemStore, Store, StoreError};
use common::{forward_to_inner, temp_dir, Counter};

/// A store whose writes fail as a full disk does while `full` is set.
#[derive(Debug)]
struct FullDisk<S> {
    inner: S,
    full: AtomicBool,
}

impl<S: Store> Store for FullDisk<S> {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        if self.full.load(Ordering::SeqCst) {
            return Err(StoreError::io(
                "write",
                self.location(key),
                io::Error::from_raw_os_error(28),
            ));
        }
        self.inner.put_if_absent(key, bytes)
    }
    forward_to_inner!(get, get_prefix, list, delete, location);
}

#[test]
fn a_full_disk_fails_the_save_clearly_and_keeps_older_checkpoints() {
    let dir = temp_dir();
    let store = Arc::new(FullDisk {
        inner: DirStore::open(dir.path()).unwrap(),
        full: AtomicBool::new(false),
    });
    let ckpt = Checkpointer::new(store.clone()).unwrap().keep_last(1);
    ckpt.save(&Counter::at(1)).unwrap();

    store.full.store(true, Ordering::SeqCst);
    let err = ckpt.save(&Counter::at(2)).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("checkpoint #2 was not saved")
            && message.contains("older checkpoints are intact"),
        "{message}"
    );
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("No space left on device"), "{source}");
    let restored = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!((restored.meta.seq, restored.state), (1, Counter::at(1)));

    // Once space is back, the snapshot the error handed back commits as is.
    store.full.store(false, Ordering::SeqCst);
    let snapshot = err.into_snapshot().unwrap();
    assert_eq!(ckpt.commit(snapshot).unwrap().seq, 2);
    let restored = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!((restored.meta.seq, restored.state), (2, Counter::at(2)));
}

#[test]
fn a_failed_capture_does_not_reuse_or_hold_a_number() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    let lost = ckpt.capture(&Counter::at(1)).unwrap();
    drop(lost);
    assert_eq!(ckpt.save(&Counter::at(2)).unwrap().seq, 2);
}

#[test]
fn a_committed_checkpoint_is_a_complete_file_and_no_temporary_file_remains() {
    let dir = temp_dir();
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    let meta = ckpt.save(&Counter::at(5)).unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, std::slice::from_ref(&meta.key));
    assert_eq!(std::fs::metadata(&meta.location).unwrap().len(), meta.size);
    assert!(matches!(
        ckpt.store().put_if_absent(&meta.key, b"x"),
        Err(StoreError::AlreadyExists { .. })
    ));
}

/// A store whose writes land but report a failure while `lie` is set, as a
/// directory whose sync fails after the link, or a conditional PUT that
/// times out after it was applied.
#[derive(Debug)]
struct LandsThenFails<S> {
    inner: S,
    lie: AtomicBool,
}

impl<S: Store> Store for LandsThenFails<S> {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put_if_absent(key, bytes)?;
        if self.lie.load(Ordering::SeqCst) {
            return Err(StoreError::io(
                "write",
                self.location(key),
                io::Error::from_raw_os_error(5),
            ));
        }
        Ok(())
    }
    forward_to_inner!(get, get_prefix, list, delete, location);
}

#[test]
fn retrying_a_commit_that_landed_but_reported_a_failure_succeeds() {
    let dir = temp_dir();
    let store = Arc::new(LandsThenFails {
        inner: DirStore::open(dir.path()).unwrap(),
        lie: AtomicBool::new(true),
    });
    let ckpt = Checkpointer::new(store.clone()).unwrap();
    let err = ckpt.save(&Counter::at(1)).unwrap_err();
    let snapshot = err.into_snapshot().unwrap();

    store.lie.store(false, Ordering::SeqCst);
    assert_eq!(ckpt.commit(snapshot).unwrap().seq, 1);
    let restored = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!((restored.meta.seq, restored.state), (1, Counter::at(1)));
    assert_eq!(ckpt.save(&Counter::at(2)).unwrap().seq, 2);
}

#[test]
fn committing_the_same_snapshot_twice_succeeds_both_times() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    let snapshot = ckpt.capture(&Counter::at(1)).unwrap();
    assert_eq!(ckpt.commit(snapshot.clone()).unwrap().seq, 1);
    assert_eq!(ckpt.commit(snapshot).unwrap().seq, 1);
    assert_eq!(ckpt.list().unwrap().len(), 1);
}
