//! `open` reads only the newest checkpoint's 32-byte prefix and
//! `restore_latest` reads only the newest (its prefix, then as many bytes as
//! the prefix declares), plus what a fallback needs, so both stay fast with
//! thousands kept.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use checkpoint::{
    Checkpoint, Checkpointer, FieldReader, FieldSchema, FieldWriter, MemStore, Schema, Shape,
    Store, StoreError,
};
use common::{forward_to_inner, Counter};

/// A store that counts the reads of checkpoint contents.
#[derive(Debug, Default)]
struct CountingStore {
    inner: MemStore,
    reads: AtomicUsize,
    bytes_read: AtomicUsize,
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
        let bytes = self.inner.get_prefix(key, len)?;
        let read = bytes.as_ref().map_or(0, Vec::len);
        self.bytes_read.fetch_add(read, Ordering::SeqCst);
        Ok(bytes)
    }
    forward_to_inner!(list, delete, location);
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

    store.bytes_read.swap(0, Ordering::SeqCst);
    let ckpt = Checkpointer::new(store.clone()).unwrap();
    assert_eq!(
        store.reads(),
        1,
        "open reads the newest checkpoint's prefix alone"
    );
    assert_eq!(store.bytes_read.swap(0, Ordering::SeqCst), 32);

    let latest = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!((latest.meta.seq, latest.state), (KEPT, Counter::at(KEPT)));
    assert_eq!(
        store.reads(),
        1,
        "restore_latest reads the newest alone, in one streamed read"
    );

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
    assert_eq!(store.reads(), 1);
    let latest = ckpt.restore_latest::<Counter>().unwrap().unwrap();
    assert_eq!(latest.meta.seq, KEPT - 1);
    assert_eq!(latest.meta.skipped.len(), 1);
    assert_eq!(store.reads(), 2, "one read for each checkpoint tried");
}

/// A field type name long enough to push the header past the probe.
const LONG_TYPE: &str = match std::str::from_utf8(&[b'T'; 6000]) {
    Ok(name) => name,
    Err(_) => panic!("ASCII is UTF-8"),
};

/// A state whose header is longer than the first read of `list` and whose
/// body is much longer still.
#[derive(Debug, PartialEq)]
struct Wide {
    data: Vec<u8>,
}

impl Checkpoint for Wide {
    type Context = ();
    const SCHEMA: Schema = Schema::new(
        "Wide",
        Shape::Struct(&[FieldSchema::serialized("data", LONG_TYPE)]),
    );

    fn write_fields(&self, out: &mut FieldWriter<'_>) -> checkpoint::Result<()> {
        out.field("data", &self.data)
    }

    fn read_fields(input: &mut FieldReader<'_>, _: &()) -> checkpoint::Result<Self> {
        Ok(Wide {
            data: input.field("data")?,
        })
    }
}

#[test]
fn list_reads_a_long_header_but_not_the_body() {
    let store = Arc::new(CountingStore::default());
    let ckpt = Checkpointer::new(store.clone()).unwrap();
    let meta = ckpt
        .save(&Wide {
            data: vec![7; 200_000],
        })
        .unwrap();
    store.reads();
    store.bytes_read.swap(0, Ordering::SeqCst);

    let listed = ckpt.list().unwrap();
    assert_eq!(listed, std::slice::from_ref(&meta));
    assert_eq!(store.reads(), 2, "a probe, then the whole header");
    let read = store.bytes_read.swap(0, Ordering::SeqCst);
    assert!(
        read > 6000 && read < 4096 + 6000 + 200,
        "list read {read} bytes of a {}-byte checkpoint",
        meta.size
    );
}
