//! zstd levels 1 and 3 against no compression, on the benchmark state
//! (records and numeric samples, 16 MiB) and on a text-heavy state (16 MiB
//! of log lines): save to and restore from a `MemStore`, with raw postcard
//! and raw postcard + zstd of the same data as baselines in the same run.
//! The sizes and ratios are printed before the timings.
//!
//! Run with `cargo bench --bench compression`; docs/PERFORMANCE.md has the
//! figures.

use std::sync::LazyLock;

use checkpoint::{Checkpoint, Checkpointer, Compression, MemStore};
use common::{state, State};
use divan::Bencher;

mod common;

/// Log lines as services write them: words from a small vocabulary, ids,
/// timestamps and numbers.
#[derive(Debug, Checkpoint)]
struct Logs {
    lines: Vec<String>,
}

/// About `mib` MiB of log lines.
fn logs(mib: usize) -> Logs {
    const WORDS: [&str; 16] = [
        "request", "served", "user", "session", "timeout", "retry", "cache", "miss", "hit",
        "upstream", "latency", "ms", "ok", "error", "queue", "flushed",
    ];
    let mut lines = Vec::new();
    let mut bytes = 0;
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    while bytes < mib << 20 {
        let mut line = format!(
            "2026-11-30T12:{:02}:{:02}.{:03}Z INFO worker-{} id={:016x}",
            (x >> 8) % 60,
            (x >> 16) % 60,
            (x >> 24) % 1000,
            x % 8,
            x
        );
        for k in 0..6 + x % 6 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            line.push(' ');
            line.push_str(WORDS[((x >> (k * 4)) % 16) as usize]);
        }
        line.push_str(&format!(" took={}ms", x % 5000));
        bytes += line.len();
        lines.push(line);
    }
    Logs { lines }
}

const MIB: usize = 16;
static NUMERIC: LazyLock<State> = LazyLock::new(|| state(MIB));
static TEXT: LazyLock<Logs> = LazyLock::new(|| logs(MIB));

/// No compression, zstd level 1, zstd level 3.
const LEVELS: [i32; 3] = [0, 1, 3];

fn compression(level: i32) -> Compression {
    if level == 0 {
        Compression::none()
    } else {
        Compression::zstd(level)
    }
}

fn saved<T: Checkpoint>(state: &T, level: i32) -> Checkpointer {
    let ckpt = Checkpointer::new(MemStore::new())
        .unwrap()
        .compression(compression(level));
    ckpt.save(state).unwrap();
    ckpt
}

fn main() {
    for level in LEVELS {
        for (name, raw, size) in [
            (
                "benchmark state",
                postcard::to_allocvec(&*NUMERIC).unwrap().len(),
                saved(&*NUMERIC, level).list().unwrap()[0].size,
            ),
            (
                "text-heavy state",
                postcard::to_allocvec(&TEXT.lines).unwrap().len(),
                saved(&*TEXT, level).list().unwrap()[0].size,
            ),
        ] {
            println!(
                "{name}, level {level}: postcard {raw} bytes, checkpoint {size} bytes, ratio {:.2}:1",
                raw as f64 / size as f64
            );
        }
    }
    divan::main();
}

#[divan::bench(args = LEVELS, sample_count = 10, sample_size = 1)]
fn save_numeric(bencher: Bencher, level: i32) {
    let ckpt = saved(&*NUMERIC, level).keep_last(1);
    bencher.bench_local(|| ckpt.save(&*NUMERIC).unwrap());
}

#[divan::bench(args = LEVELS, sample_count = 10, sample_size = 1)]
fn restore_numeric(bencher: Bencher, level: i32) {
    let ckpt = saved(&*NUMERIC, level);
    bencher.bench_local(|| ckpt.restore_latest::<State>().unwrap().unwrap());
}

#[divan::bench(args = LEVELS, sample_count = 10, sample_size = 1)]
fn save_text(bencher: Bencher, level: i32) {
    let ckpt = saved(&*TEXT, level).keep_last(1);
    bencher.bench_local(|| ckpt.save(&*TEXT).unwrap());
}

#[divan::bench(args = LEVELS, sample_count = 10, sample_size = 1)]
fn restore_text(bencher: Bencher, level: i32) {
    let ckpt = saved(&*TEXT, level);
    bencher.bench_local(|| ckpt.restore_latest::<Logs>().unwrap().unwrap());
}

/// The baseline: postcard, then zstd of the whole, at the same level.
#[divan::bench(args = LEVELS, sample_count = 10, sample_size = 1)]
fn save_raw_postcard_zstd_text(bencher: Bencher, level: i32) {
    bencher.bench_local(|| {
        let bytes = postcard::to_allocvec(&TEXT.lines).unwrap();
        if level == 0 {
            bytes
        } else {
            zstd::bulk::compress(&bytes, level).unwrap()
        }
    });
}

#[divan::bench(args = LEVELS, sample_count = 10, sample_size = 1)]
fn save_raw_postcard_zstd_numeric(bencher: Bencher, level: i32) {
    bencher.bench_local(|| {
        let bytes = postcard::to_allocvec(&*NUMERIC).unwrap();
        if level == 0 {
            bytes
        } else {
            zstd::bulk::compress(&bytes, level).unwrap()
        }
    });
}
