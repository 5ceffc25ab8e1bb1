//! Whether lookups and commits stay as fast after a long history as on a
//! fresh store: the newest committed epoch, a group commit, opening a
//! checkpointer, `restore_latest` and `save`, after 10, 1,000 and 10,000
//! epochs or checkpoints, with collection (`collect_garbage(3)`) and
//! retention (`keep_last(10)`) running as they do in production.
//!
//! ```text
//! cargo bench --bench history
//! ```
//!
//! The store lives in a fresh directory under `CHECKPOINT_BENCH_DIR` (the
//! system temporary directory by default; a tmpfs such as `/dev/shm` takes
//! the disk's fsync out of the figures). Under `cargo test --benches` each
//! history is cut to 10 entries so the run stays short.

use std::cell::Cell;

use checkpoint::group::Group;
use checkpoint::{Checkpoint, Checkpointer, DirStore};
use divan::Bencher;

mod common;

#[derive(Debug, Checkpoint)]
struct Shard {
    id: u64,
    values: Vec<u64>,
}

fn shard(id: u64) -> Shard {
    Shard {
        id,
        values: (0..64).map(|i| i * id).collect(),
    }
}

const HISTORY: [u64; 3] = [10, 1_000, 10_000];

fn main() {
    divan::main();
}

/// The history to build: the argument, or 10 outside `cargo bench`.
fn length(n: u64) -> u64 {
    if std::env::args().any(|a| a == "--bench") {
        n
    } else {
        n.min(10)
    }
}

fn bench_dir() -> tempfile::TempDir {
    common::bench_dir("checkpoint-history-")
}

/// A group that committed `n` epochs of two participants, collecting all
/// but the newest three after each, as a running system does.
fn group_after(n: u64) -> (tempfile::TempDir, Group) {
    let dir = bench_dir();
    let group = Group::new(DirStore::open(dir.path()).unwrap(), "bench").unwrap();
    for epoch in 1..=length(n) {
        commit_epoch(&group, epoch);
        if epoch % 16 == 0 {
            group.collect_garbage(3).unwrap();
        }
    }
    group.collect_garbage(3).unwrap();
    (dir, group)
}

fn commit_epoch(group: &Group, epoch: u64) {
    let parts = [
        group.save_part(epoch, "a", &shard(epoch)).unwrap(),
        group.save_part(epoch, "b", &shard(epoch + 1)).unwrap(),
    ];
    group.commit(epoch, &["a", "b"], &parts).unwrap();
}

#[divan::bench(args = HISTORY, sample_count = 200)]
fn newest_epoch(bencher: Bencher, n: u64) {
    let (_dir, group) = group_after(n);
    bencher.bench_local(|| group.latest_committed_epoch().unwrap());
}

#[divan::bench(args = HISTORY, sample_count = 100, sample_size = 1)]
fn group_commit(bencher: Bencher, n: u64) {
    let (_dir, group) = group_after(n);
    let next = Cell::new(length(n) + 1);
    bencher
        .with_inputs(|| {
            let epoch = next.get();
            next.set(epoch + 1);
            let parts = [
                group.save_part(epoch, "a", &shard(epoch)).unwrap(),
                group.save_part(epoch, "b", &shard(epoch + 1)).unwrap(),
            ];
            (epoch, parts)
        })
        .bench_local_values(|(epoch, parts)| group.commit(epoch, &["a", "b"], &parts).unwrap());
}

/// A directory that saw `n` checkpoints, keeping the newest ten.
fn checkpoints_after(n: u64) -> (tempfile::TempDir, Checkpointer) {
    let dir = bench_dir();
    let ckpt = Checkpointer::open(dir.path()).unwrap().keep_last(10);
    for i in 1..=length(n) {
        ckpt.save(&shard(i)).unwrap();
    }
    (dir, ckpt)
}

#[divan::bench(args = HISTORY, sample_count = 200)]
fn open_checkpointer(bencher: Bencher, n: u64) {
    let (dir, _ckpt) = checkpoints_after(n);
    bencher.bench_local(|| Checkpointer::open(dir.path()).unwrap());
}

#[divan::bench(args = HISTORY, sample_count = 200)]
fn restore_latest(bencher: Bencher, n: u64) {
    let (_dir, ckpt) = checkpoints_after(n);
    bencher.bench_local(|| ckpt.restore_latest::<Shard>().unwrap().unwrap());
}

#[divan::bench(args = HISTORY, sample_count = 100, sample_size = 1)]
fn save(bencher: Bencher, n: u64) {
    let (_dir, ckpt) = checkpoints_after(n);
    let state = shard(7);
    bencher.bench_local(|| ckpt.save(&state).unwrap());
}
