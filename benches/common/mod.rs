//! What the benchmarks share: the benchmark state and small helpers.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use checkpoint::store::ObjectStore;
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

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Side {
    Buy,
    Sell,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Status {
    New,
    Filled { qty: u32 },
    Cancelled(u8),
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Price {
    pub units: i64,
    pub nanos: i32,
}

/// One order of the struct-heavy state: a struct or a variant every few
/// bytes, the worst case for per-value bookkeeping.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub id: u64,
    pub side: Side,
    pub price: Price,
    pub status: Status,
    pub flags: Option<u8>,
}

/// Orders whose postcard encoding is about 1 MiB.
pub fn orders() -> Vec<Order> {
    (0..(1 << 20) / 16)
        .map(|i: u64| Order {
            id: i,
            side: if i % 3 == 0 { Side::Sell } else { Side::Buy },
            price: Price {
                units: (i % 1000) as i64,
                nanos: (i * 7 % 1_000_000) as i32,
            },
            status: match i % 4 {
                0 => Status::New,
                1 | 2 => Status::Filled {
                    qty: (i % 500) as u32,
                },
                _ => Status::Cancelled((i % 7) as u8),
            },
            flags: (i % 5 == 0).then_some(3),
        })
        .collect()
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

/// Whether a server listens at `endpoint` (`http://host:port`).
pub fn answers(endpoint: &str) -> bool {
    use std::net::ToSocketAddrs;
    let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
        })
}

/// The S3 server of `CHECKPOINT_S3_ENDPOINT` (as `scripts/seaweedfs.sh env`
/// prints it), when one is set and answers; `Err` says why not.
pub fn s3_endpoint() -> Result<String, String> {
    match std::env::var("CHECKPOINT_S3_ENDPOINT") {
        Ok(endpoint) if answers(&endpoint) => Ok(endpoint),
        Ok(endpoint) => Err(format!("nothing answers at {endpoint}")),
        Err(_) => Err("set CHECKPOINT_S3_ENDPOINT to include SeaweedFS".to_owned()),
    }
}

/// A store under a fresh prefix (`name`, the process and the time) of the
/// test bucket at `endpoint`.
pub fn s3_store(endpoint: &str, name: &str) -> ObjectStore {
    let var =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let prefix = format!(
        "{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    ObjectStore::s3(
        endpoint,
        &var("CHECKPOINT_S3_BUCKET", "checkpoint-test"),
        &prefix,
        &var("CHECKPOINT_S3_ACCESS_KEY_ID", "checkpoint"),
        &var("CHECKPOINT_S3_SECRET_ACCESS_KEY", "checkpoint"),
    )
    .unwrap()
}
