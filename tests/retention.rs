//! Retention keeps the newest K checkpoints.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use checkpoint::{Checkpointer, MemStore, Store, StoreError};
use common::{forward_to_inner, temp_dir, Counter};

#[test]
fn only_the_newest_k_are_kept() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap().keep_last(3);
    for n in 0..7 {
        ckpt.save(&Counter::at(n)).unwrap();
    }
    let seqs: Vec<u64> = ckpt.list().unwrap().iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [5, 6, 7]);
    assert!(ckpt.restore::<Counter>(4).is_err());
}

#[test]
fn the_default_keeps_ten() {
    let dir = temp_dir();
    let ckpt = Checkpointer::open(dir.path()).unwrap();
    for n in 0..12 {
        ckpt.save(&Counter::at(n)).unwrap();
    }
    assert_eq!(ckpt.list().unwrap().len(), Checkpointer::DEFAULT_KEEP);
    assert_eq!(ckpt.list().unwrap()[0].seq, 3);
}

#[test]
fn keeping_zero_still_keeps_the_newest() {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap().keep_last(0);
    ckpt.save(&Counter::at(1)).unwrap();
    ckpt.save(&Counter::at(2)).unwrap();
    let latest = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!((latest.meta.seq, latest.state), (2, Counter::at(2)));
}

/// A store in which, once, another process's retention runs between a
/// reader's listing and its reads: three newer checkpoints are committed
/// and every checkpoint the reader listed is deleted.
#[derive(Debug)]
struct RetentionBetweenListAndRead {
    inner: Arc<MemStore>,
    armed: Arc<AtomicBool>,
}

impl Store for RetentionBetweenListAndRead {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put_if_absent(key, bytes)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let keys = self.inner.list(prefix)?;
        if self.armed.swap(false, Ordering::SeqCst) {
            let other = Checkpointer::new(self.inner.clone()).unwrap().keep_last(3);
            for n in 0..3 {
                other.save(&Counter::at(100 + n)).unwrap();
            }
        }
        Ok(keys)
    }
    forward_to_inner!(get, get_prefix, delete, location);
}

#[test]
fn a_restore_never_returns_none_while_retention_deletes_what_it_listed() {
    let inner = Arc::new(MemStore::new());
    let writer = Checkpointer::new(inner.clone()).unwrap().keep_last(3);
    for n in 1..=3 {
        writer.save(&Counter::at(n)).unwrap();
    }
    let armed = Arc::new(AtomicBool::new(false));
    let store = RetentionBetweenListAndRead {
        inner,
        armed: armed.clone(),
    };
    let reader = Checkpointer::new(store).unwrap();
    // Armed only now, so the race hits `restore_latest`'s listing.
    armed.store(true, Ordering::SeqCst);
    let restored = reader.restore_latest::<Counter>().unwrap();
    let restored = restored.expect("checkpoints exist: restore_latest must not say none");
    assert_eq!((restored.meta.seq, restored.state), (6, Counter::at(102)));
}
