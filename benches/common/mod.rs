//! What the benchmarks share: the benchmark state and small helpers.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use checkpoint::Checkpoint;

/// One record of the benchmark state.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    pub id: u64,
    pub value: f64,
    pub tag: String,
}

/// The benchmark state: records and samples, and a field rebuilt on
/// restore.
#[derive(Debug, Checkpoint)]
pub struct State {
    pub last_seq: u64,
    pub records: Vec<Record>,
    pub samples: Vec<u32>,
    #[derived(from = records.len())]
    pub len: usize,
}

/// A state whose postcard encoding is about `mib` MiB: half records, half
/// samples.
pub fn state(mib: usize) -> State {
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

/// A fresh directory under `CHECKPOINT_BENCH_DIR` (the system's temporary
/// directory by default), removed when dropped.
pub fn bench_dir(prefix: &str) -> tempfile::TempDir {
    let base = std::env::var_os("CHECKPOINT_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(base)
        .expect("a temporary directory")
}

/// The number in environment variable `name`, `default` when unset.
pub fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The median of `values`; zero when there are none.
pub fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}
