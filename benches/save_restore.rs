//! `save` to memory and `restore` of a 1 MiB and a 64 MiB state, against
//! raw postcard (and bincode 2, serde_json for reference) of the same data;
//! the same for a struct-heavy state (many small nested structs and enums,
//! the worst case for per-value bookkeeping); and restores into an evolved
//! type (fields reordered and added, variants inserted), which resolve the
//! recorded schema by name.
//!
//! Run with `cargo bench --bench save_restore`; docs/PERFORMANCE.md has the
//! figures.

use std::sync::LazyLock;

use checkpoint::{Checkpoint, Checkpointer, MemStore};
use common::{orders, state, Order, State};
use divan::Bencher;

mod common;

/// `State` with `Record`'s fields reordered and one added.
mod evolved {
    use checkpoint::Checkpoint;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    pub struct Record {
        pub tag: String,
        pub id: u64,
        #[serde(default)]
        pub weight: u32,
        pub value: f64,
    }

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "State")]
    pub struct State {
        pub last_seq: u64,
        pub records: Vec<Record>,
        pub samples: Vec<u32>,
        #[derived(from = records.len())]
        pub len: usize,
    }

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    pub enum Side {
        Buy,
        Sell,
    }

    /// `Pending` inserted first.
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    pub enum Status {
        Pending,
        New,
        Filled { qty: u32 },
        Cancelled(u8),
    }

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    pub struct Price {
        pub units: i64,
        pub nanos: i32,
    }

    /// Fields reordered.
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    pub struct Order {
        pub status: Status,
        pub id: u64,
        pub price: Price,
        pub side: Side,
        pub flags: Option<u8>,
    }

    #[derive(Debug, Checkpoint)]
    #[checkpoint(name = "Book")]
    pub struct Book {
        pub orders: Vec<Order>,
    }
}

/// Many small nested structs and enums: every few bytes a struct or a
/// variant.
#[derive(Debug, Checkpoint)]
struct Book {
    orders: Vec<Order>,
}

/// A book whose postcard encoding is about 1 MiB.
fn book() -> Book {
    Book { orders: orders() }
}

static BOOK: LazyLock<Book> = LazyLock::new(book);

static SMALL: LazyLock<State> = LazyLock::new(|| state(1));
static LARGE: LazyLock<State> = LazyLock::new(|| state(64));

fn pick(mib: usize) -> &'static State {
    if mib == 1 {
        &SMALL
    } else {
        &LARGE
    }
}

const SIZES: [usize; 2] = [1, 64];

fn main() {
    for mib in SIZES {
        let s = pick(mib);
        let raw = postcard::to_allocvec(s).unwrap().len();
        let ckpt = Checkpointer::new(MemStore::new()).unwrap();
        let size = ckpt.save(s).unwrap().size;
        let restored = ckpt.restore_latest::<State>().unwrap().unwrap().state;
        assert_eq!(restored.len, s.records.len());
        println!(
            "{mib} MiB state ({} records): postcard {raw} bytes, checkpoint {size} bytes ({:+} bytes, {:.4}%)",
            restored.len,
            size as i64 - raw as i64,
            (size as f64 / raw as f64 - 1.0) * 100.0
        );
    }
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    ckpt.save(pick(1)).unwrap();
    let evolved = ckpt
        .restore_latest::<evolved::State>()
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(evolved.len, SMALL.records.len());
    assert_eq!(evolved.records[3].tag, SMALL.records[3].tag);
    let raw = postcard::to_allocvec(&*BOOK).unwrap().len();
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    let size = ckpt.save(&*BOOK).unwrap().size;
    let restored = ckpt
        .restore_latest::<evolved::Book>()
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(restored.orders.len(), BOOK.orders.len());
    assert_eq!(
        restored.orders[1].status,
        evolved::Status::Filled { qty: 1 }
    );
    println!(
        "struct-heavy state ({} orders): postcard {raw} bytes, checkpoint {size} bytes",
        BOOK.orders.len()
    );
    divan::main();
}

#[divan::bench(args = SIZES, sample_count = 30, sample_size = 1)]
fn save_checkpoint(bencher: Bencher, mib: usize) {
    let s = pick(mib);
    let ckpt = Checkpointer::new(MemStore::new()).unwrap().keep_last(1);
    bencher.bench_local(|| ckpt.save(s).unwrap());
}

#[divan::bench(args = SIZES, sample_count = 30, sample_size = 1)]
fn save_raw_postcard(bencher: Bencher, mib: usize) {
    let s = pick(mib);
    bencher.bench_local(|| postcard::to_allocvec(s).unwrap());
}

#[divan::bench(args = SIZES, sample_count = 30, sample_size = 1)]
fn save_raw_bincode2(bencher: Bencher, mib: usize) {
    let s = pick(mib);
    bencher.bench_local(|| bincode::serde::encode_to_vec(s, bincode::config::standard()).unwrap());
}

#[divan::bench(args = SIZES, sample_count = 30, sample_size = 1)]
fn save_raw_serde_json(bencher: Bencher, mib: usize) {
    let s = pick(mib);
    bencher.bench_local(|| serde_json::to_vec(s).unwrap());
}

#[divan::bench(args = SIZES, sample_count = 30, sample_size = 1)]
fn restore_checkpoint(bencher: Bencher, mib: usize) {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    ckpt.save(pick(mib)).unwrap();
    // Returned, not dropped inside the timing, as the raw decoders' values are.
    bencher.bench_local(|| ckpt.restore_latest::<State>().unwrap().unwrap());
}

#[divan::bench(args = SIZES, sample_count = 30, sample_size = 1)]
fn restore_raw_postcard(bencher: Bencher, mib: usize) {
    let bytes = postcard::to_allocvec(pick(mib)).unwrap();
    bencher.bench_local(|| postcard::from_bytes::<State>(&bytes).unwrap());
}

#[divan::bench(args = SIZES, sample_count = 30, sample_size = 1)]
fn restore_raw_bincode2(bencher: Bencher, mib: usize) {
    let bytes = bincode::serde::encode_to_vec(pick(mib), bincode::config::standard()).unwrap();
    bencher.bench_local(|| {
        bincode::serde::decode_from_slice::<State, _>(&bytes, bincode::config::standard()).unwrap()
    });
}

#[divan::bench(args = SIZES, sample_count = 30, sample_size = 1)]
fn restore_raw_serde_json(bencher: Bencher, mib: usize) {
    let bytes = serde_json::to_vec(pick(mib)).unwrap();
    bencher.bench_local(|| serde_json::from_slice::<State>(&bytes).unwrap());
}

#[divan::bench(args = SIZES, sample_count = 30, sample_size = 1)]
fn restore_checkpoint_evolved(bencher: Bencher, mib: usize) {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    ckpt.save(pick(mib)).unwrap();
    bencher.bench_local(|| ckpt.restore_latest::<evolved::State>().unwrap().unwrap());
}

#[divan::bench(sample_count = 30, sample_size = 1)]
fn struct_heavy_save_checkpoint(bencher: Bencher) {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap().keep_last(1);
    bencher.bench_local(|| ckpt.save(&*BOOK).unwrap());
}

#[divan::bench(sample_count = 30, sample_size = 1)]
fn struct_heavy_save_raw_postcard(bencher: Bencher) {
    bencher.bench_local(|| postcard::to_allocvec(&*BOOK).unwrap());
}

#[divan::bench(sample_count = 30, sample_size = 1)]
fn struct_heavy_restore_checkpoint(bencher: Bencher) {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    ckpt.save(&*BOOK).unwrap();
    bencher.bench_local(|| ckpt.restore_latest::<Book>().unwrap().unwrap());
}

#[divan::bench(sample_count = 30, sample_size = 1)]
fn struct_heavy_restore_raw_postcard(bencher: Bencher) {
    let bytes = postcard::to_allocvec(&*BOOK).unwrap();
    bencher.bench_local(|| postcard::from_bytes::<Book>(&bytes).unwrap());
}

#[divan::bench(sample_count = 30, sample_size = 1)]
fn struct_heavy_restore_checkpoint_evolved(bencher: Bencher) {
    let ckpt = Checkpointer::new(MemStore::new()).unwrap();
    ckpt.save(&*BOOK).unwrap();
    bencher.bench_local(|| ckpt.restore_latest::<evolved::Book>().unwrap().unwrap());
}
