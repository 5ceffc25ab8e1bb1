//! Incremental checkpoints on the directory store: a large state with 1%
//! of its records changed between checkpoints. For each record size, the
//! bytes a save writes (chunks and manifest, counted through the store)
//! against a whole checkpoint's, the save time against a whole save's, and
//! the restore time against a whole checkpoint's restore.
//!
//! ```text
//! cargo bench --bench incremental                      # 128 MiB states
//! CHECKPOINT_BENCH_MIB=256 cargo bench --bench incremental
//! scripts/seaweedfs.sh start && eval "$(scripts/seaweedfs.sh env)"
//! cargo bench --bench incremental                      # and on S3
//! ```
//!
//! On the directory store both stores live in the same temporary directory
//! (on the same disk) and every file is synced, as the directory store
//! always does; restores read from the page cache in both cases. With
//! `CHECKPOINT_S3_ENDPOINT` set, two of the cases run on S3 too. Last, a
//! restore from a memory store 10 ms away per request, with 8 and with 32
//! chunk reads in flight.
//! docs/PERFORMANCE.md has the figures.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use checkpoint::{Checkpoint, Checkpointer, DirStore, Store, StoreError};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Record {
    id: u64,
    version: u64,
    payload: Vec<u8>,
}

#[derive(Debug, PartialEq, Checkpoint)]
struct Table {
    records: Vec<Record>,
}

fn payload(id: u64, version: u64, len: usize) -> Vec<u8> {
    let mut x = (id + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ version;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn table(mib: usize, record: usize) -> Table {
    let count = (mib << 20) / (record + 20);
    Table {
        records: (0..count as u64)
            .map(|id| Record {
                id,
                version: 0,
                payload: payload(id, 0, record),
            })
            .collect(),
    }
}

/// Changes 1% of the records, at positions drawn from `seed`, or one run
/// of adjacent records when `clustered`.
fn change(table: &mut Table, seed: &mut u64, clustered: bool) {
    let n = table.records.len();
    let changes = (n / 100).max(1);
    let start = (*seed as usize) % (n - changes);
    for k in 0..changes {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let i = if clustered {
            start + k
        } else {
            (*seed as usize) % n
        };
        let r = &mut table.records[i];
        r.version += 1;
        r.payload = payload(r.id, r.version, r.payload.len());
    }
}

/// Counts the bytes written through it.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn Store>,
    written: AtomicU64,
}

impl Store for Counting {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.put_if_absent(key, bytes)?;
        self.written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key)
    }
    fn get_at_most(&self, key: &str, limit: u64) -> Result<Option<Arc<Vec<u8>>>, StoreError> {
        self.inner.get_at_most(key, limit)
    }
    fn get_reader(&self, key: &str) -> Result<Option<checkpoint::store::ValueReader>, StoreError> {
        self.inner.get_reader(key)
    }
    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get_prefix(key, len)
    }
    fn get_range(&self, key: &str, start: u64, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get_range(key, start, len)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list(prefix)
    }
    fn list_level(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list_level(prefix)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key)
    }
    fn location(&self, key: &str) -> String {
        self.inner.location(key)
    }
    fn concurrent_requests(&self) -> usize {
        self.inner.concurrent_requests()
    }
}

/// A memory store `delay` away: each read and write waits that long
/// first, as a request to a remote object store does; `requests` is what
/// it asks to have in flight.
#[derive(Debug)]
struct Remote {
    inner: checkpoint::MemStore,
    delay: Duration,
    requests: usize,
}

impl Store for Remote {
    fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        std::thread::sleep(self.delay);
        self.inner.put_if_absent(key, bytes)
    }
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        std::thread::sleep(self.delay);
        self.inner.get(key)
    }
    fn get_reader(&self, key: &str) -> Result<Option<checkpoint::store::ValueReader>, StoreError> {
        std::thread::sleep(self.delay);
        self.inner.get_reader(key)
    }
    fn get_prefix(&self, key: &str, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        std::thread::sleep(self.delay);
        self.inner.get_prefix(key, len)
    }
    fn get_range(&self, key: &str, start: u64, len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        std::thread::sleep(self.delay);
        self.inner.get_range(key, start, len)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        std::thread::sleep(self.delay);
        self.inner.list(prefix)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        std::thread::sleep(self.delay);
        self.inner.delete(key)
    }
    fn location(&self, key: &str) -> String {
        self.inner.location(key)
    }
    fn concurrent_requests(&self) -> usize {
        self.requests
    }
}

/// Restores of a whole and of an incremental checkpoint from a store
/// 10 ms away, the incremental one with 8 and with 32 chunk reads in
/// flight: a restore from chunks waits on a round trip per chunk.
fn remote(mib: usize, rounds: usize) -> Result<(), Box<dyn std::error::Error>> {
    let delay = Duration::from_millis(10);
    println!(
        "store {} ms away, {mib} MiB of 16 KiB records, median of {rounds}",
        delay.as_millis()
    );
    println!(
        "{:<28} {:>10} {:>10}",
        "in flight (chunk reads)", "whole", "incremental"
    );
    let state = table(mib, 16 << 10);
    for requests in [8, 32] {
        let whole = Checkpointer::new(Remote {
            inner: checkpoint::MemStore::new(),
            delay,
            requests,
        })?;
        let chunked = Checkpointer::new(Remote {
            inner: checkpoint::MemStore::new(),
            delay,
            requests,
        })?
        .incremental(true);
        whole.save(&state)?;
        chunked.save(&state)?;
        let (mut w, mut c) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let started = Instant::now();
            whole.restore_latest::<Table>()?.expect("saved");
            w.push(started.elapsed());
            let started = Instant::now();
            let restored = chunked.restore_latest::<Table>()?.expect("saved");
            c.push(started.elapsed());
            assert!(restored.state == state);
        }
        println!(
            "{:<28} {:>10} {:>10}",
            requests,
            ms(median(w)),
            ms(median(c))
        );
    }
    Ok(())
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

/// Where whole and incremental checkpoints go.
type StorePair = (Arc<dyn Store>, Arc<dyn Store>);

/// Two empty stores of one kind: one for whole checkpoints, one for
/// incremental ones.
fn stores(kind: &str, root: &std::path::Path) -> Result<StorePair, Box<dyn std::error::Error>> {
    if kind == "dir" {
        return Ok((
            Arc::new(DirStore::open(root.join("full"))?),
            Arc::new(DirStore::open(root.join("incremental"))?),
        ));
    }
    let endpoint = std::env::var("CHECKPOINT_S3_ENDPOINT")?;
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let s3 = |which: &str| {
        checkpoint::store::ObjectStore::s3(
            &endpoint,
            &var("CHECKPOINT_S3_BUCKET", "checkpoint-test"),
            &format!("bench-incremental-{nanos}-{which}"),
            &var("CHECKPOINT_S3_ACCESS_KEY_ID", "checkpoint"),
            &var("CHECKPOINT_S3_SECRET_ACCESS_KEY", "checkpoint"),
        )
    };
    Ok((Arc::new(s3("full")?), Arc::new(s3("incremental")?)))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once, small.
    let quick = !std::env::args().any(|a| a == "--bench");
    let mib: usize = std::env::var("CHECKPOINT_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 4 } else { 128 });
    let rounds = if quick { 1 } else { 3 };
    println!("state {mib} MiB, 1% of records changed per checkpoint, median of {rounds}");
    let mut kinds = vec!["dir"];
    if std::env::var("CHECKPOINT_S3_ENDPOINT").is_ok() {
        kinds.push("s3");
    } else {
        eprintln!("no CHECKPOINT_S3_ENDPOINT: measuring the directory store only");
    }
    println!(
        "{:<6}{:<22} {:>10} {:>12} {:>8} {:>10} {:>10} {:>10} {:>10}",
        "store",
        "records",
        "full bytes",
        "incr. bytes",
        "ratio",
        "full save",
        "incr. save",
        "full rest.",
        "incr. rest."
    );
    let cases = [
        (16 << 10, false),
        (4 << 10, false),
        (256, false),
        (256, true),
    ];
    // On S3, the case nearest the goal and the cluster of changes.
    let runs = kinds
        .iter()
        .flat_map(|k| cases.iter().map(move |c| (*k, *c)))
        .filter(|(k, (record, clustered))| *k == "dir" || *record == 16 << 10 || *clustered);
    for (kind, (record, clustered)) in runs {
        let root = tempfile::tempdir()?;
        let (full_store, incremental_store) = stores(kind, root.path())?;
        let full = Checkpointer::new(full_store)?.keep_last(2);
        let counting = Arc::new(Counting {
            inner: incremental_store,
            written: AtomicU64::new(0),
        });
        let incremental = Checkpointer::new(Arc::clone(&counting))?
            .incremental(true)
            .keep_last(2);
        let mut state = table(mib, record);
        let mut seed = 0x2545_F491_4F6C_DD1D_u64;
        incremental.save(&state)?;
        let (mut full_bytes, mut incr_bytes) = (0, 0);
        let (mut full_save, mut incr_save) = (Vec::new(), Vec::new());
        let (mut full_restore, mut incr_restore) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            change(&mut state, &mut seed, clustered);
            let started = Instant::now();
            full_bytes = full.save(&state)?.size;
            full_save.push(started.elapsed());
            counting.written.store(0, Ordering::Relaxed);
            let started = Instant::now();
            incremental.save(&state)?;
            incr_save.push(started.elapsed());
            incr_bytes = counting.written.load(Ordering::Relaxed);
            let started = Instant::now();
            let restored = full.restore_latest::<Table>()?.expect("saved");
            full_restore.push(started.elapsed());
            assert!(restored.state.records.len() == state.records.len());
            drop(restored);
            let started = Instant::now();
            let restored = incremental.restore_latest::<Table>()?.expect("saved");
            incr_restore.push(started.elapsed());
            assert!(restored.state == state);
        }
        let name = format!(
            "{} B{}",
            record,
            if clustered {
                ", one run"
            } else {
                ", scattered"
            }
        );
        println!(
            "{:<6}{:<22} {:>10} {:>12} {:>7.1}% {:>10} {:>10} {:>10} {:>10}",
            kind,
            name,
            full_bytes,
            incr_bytes,
            incr_bytes as f64 * 100.0 / full_bytes as f64,
            ms(median(full_save)),
            ms(median(incr_save)),
            ms(median(full_restore)),
            ms(median(incr_restore)),
        );
    }
    remote(if quick { 4 } else { 32 }, rounds)?;
    Ok(())
}
