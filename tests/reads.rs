//! `open` reads no checkpoint and `restore_latest` reads only the newest
//! (plus what a fallback needs), so both stay fast with thousands kept.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use checkpoint::{Checkpointer, MemStore, Store, StoreError};
use common::Counter;

/// A store that counts the reads of checkpoint contents.
#[derive(Debug, Default)]
struct CountingStore {
    inner: MemStore,
    reads: AtomicUsize,
}

impl CountingStore {
    fn reads(&self) -> usize {
        self.reads.swap(0, Ordering::SeqCst)
    }
}

impl Store for CountingStore {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put_if_absent(key, bytes)
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key)
    }
    fn get_shared(&self, key: &str) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get_shared(key)
    }
    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get_prefix(key, len)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list(prefix)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key)
    }
    fn location(&self, key: &str) -> String {
        self.inner.location(key)
    }
}

const KEPT: u64 = 2_000;

fn store_with_many_checkpoints() -> Arc<CountingStore> {
    let store = Arc::new(CountingStore::default());
    let ckpt = Checkpointer::new(store.clone())
        .unwrap()
        .keep_last(KEPT as usize);
    for n in 1..=KEPT {
        ckpt.save(&Counter::at(n)).unwrap();
    }
    store.reads();
    store
}

#[test]
fn open_and_restore_latest_read_only_the_newest_checkpoint() {
    let store = store_with_many_checkpoints();

    let ckpt = Checkpointer::new(store.clone()).unwrap();
    assert_eq!(store.reads(), 0, "open must read no checkpoint");

    let latest = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!((latest.meta.seq, latest.state), (KEPT, Counter::at(KEPT)));
    assert_eq!(store.reads(), 1, "restore_latest reads the newest alone");

    assert_eq!(ckpt.save(&Counter::at(0)).unwrap().seq, KEPT + 1);
}

#[test]
fn a_fallback_reads_one_more_checkpoint_per_damaged_one() {
    let store = store_with_many_checkpoints();
    // Replace the newest with a torn copy of itself.
    let newest = format!("{KEPT:020}.ckpt");
    let bytes = store.inner.get(&newest).unwrap().unwrap();
    store.inner.delete(&newest).unwrap();
    store
        .inner
        .put_if_absent(&newest, &bytes[..bytes.len() / 2])
        .unwrap();
    store.reads();

    let ckpt = Checkpointer::new(store.clone()).unwrap();
    let latest = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!(latest.meta.seq, KEPT - 1);
    assert_eq!(latest.meta.skipped.len(), 1);
    assert_eq!(store.reads(), 2);
}
