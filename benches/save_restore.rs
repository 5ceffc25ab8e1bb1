//! `save` to memory and `restore` of a 1 MiB and a 64 MiB state, against
//! raw postcard (and bincode 2, serde_json for reference) of the same data.
//!
//! Run with `cargo bench --bench save_restore`; docs/PERFORMANCE.md has the
//! figures.

use std::sync::LazyLock;

use checkpoint::{Checkpoint, Checkpointer, MemStore};
use divan::Bencher;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Record {
    id: u64,
    value: f64,
    tag: String,
}

#[derive(Debug, Checkpoint)]
struct State {
    last_seq: u64,
    records: Vec<Record>,
    samples: Vec<u32>,
    #[derived(from = records.len())]
    len: usize,
}

/// A state whose postcard encoding is about `mib` MiB: half records, half
/// samples.
fn state(mib: usize) -> State {
    let half = mib << 19;
    let records: Vec<Record> = (0..half / 24)
        .map(|i| Record {
            id: i as u64 * 7919,
            value: i as f64 * 0.5,
            tag: format!("tag-{:08}", i % 100_000),
        })
        .collect();
    let samples = (0..half / 3)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761) >> 12)
        .collect();
    State {
        last_seq: 42,
        len: records.len(),
        records,
        samples,
    }
}

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
