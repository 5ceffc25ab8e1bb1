//! Commit latency of one epoch with 1, 8 and 64 participants, on the
//! directory store and (when `CHECKPOINT_S3_ENDPOINT` is set) on S3, with
//! the cost of one conditional create alone measured in the same run.
//!
//! ```text
//! scripts/seaweedfs.sh start && eval "$(scripts/seaweedfs.sh env)"
//! cargo bench --features object-store --bench group_commit
//! ```
//!
//! The commit reads every part back (in parallel) to check it, then writes
//! the commit record with one conditional create; writing the parts is
//! measured separately and not included in the commit time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use checkpoint::group::Group;
use checkpoint::{Checkpoint, DirStore, Store};

#[derive(Debug, Checkpoint)]
struct Shard {
    id: u32,
    values: Vec<u64>,
}

const ROUNDS: usize = 30;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once, briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rounds = if quick { 2 } else { ROUNDS };
    let dir = tempfile::tempdir()?;
    let mut stores: Vec<(&str, Arc<dyn Store>)> =
        vec![("dir", Arc::new(DirStore::open(dir.path())?))];
    if let Some(s3) = s3_store()? {
        stores.push(("s3", s3));
    }
    println!(
        "{:<6} {:>12} {:>14} {:>14} {:>14}",
        "store", "participants", "parts (med)", "commit (med)", "commit (p90)"
    );
    for (name, store) in &stores {
        let create = time_creates(&**store, rounds)?;
        println!(
            "{name:<6} {:>12} {:>14} {:>14} {:>14}",
            "create",
            "-",
            fmt(median(&create)),
            fmt(p90(&create))
        );
        for participants in [1usize, 8, 64] {
            let (parts, commits) = time_commits(Arc::clone(store), participants, rounds)?;
            println!(
                "{name:<6} {participants:>12} {:>14} {:>14} {:>14}",
                fmt(median(&parts)),
                fmt(median(&commits)),
                fmt(p90(&commits))
            );
        }
    }
    Ok(())
}

fn time_creates(
    store: &dyn Store,
    rounds: usize,
) -> Result<Vec<Duration>, Box<dyn std::error::Error>> {
    let mut times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let key = format!("bench-create/{round:06}");
        let started = Instant::now();
        store.put_if_absent(
            &key,
            b"commit-record-sized payload, about one hundred bytes long ............",
        )?;
        times.push(started.elapsed());
    }
    Ok(times)
}

fn time_commits(
    store: Arc<dyn Store>,
    participants: usize,
    rounds: usize,
) -> Result<(Vec<Duration>, Vec<Duration>), Box<dyn std::error::Error>> {
    let group = Group::from_shared(store, &format!("bench-{participants}"))?;
    let ids: Vec<String> = (0..participants).map(|i| format!("p{i:03}")).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let (mut parts, mut commits) = (Vec::new(), Vec::new());
    for epoch in 1..=rounds as u64 {
        let started = Instant::now();
        std::thread::scope(|s| -> Result<(), checkpoint::group::GroupError> {
            let handles: Vec<_> = ids
                .chunks(ids.len().div_ceil(16))
                .map(|chunk| {
                    let group = &group;
                    s.spawn(move || {
                        chunk.iter().enumerate().try_for_each(|(i, id)| {
                            let shard = Shard {
                                id: i as u32,
                                values: vec![epoch; 128],
                            };
                            group.save_part(epoch, id, &shard).map(drop)
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().expect("saver panicked"))
        })?;
        parts.push(started.elapsed());
        let started = Instant::now();
        group.commit(epoch, &id_refs)?;
        commits.push(started.elapsed());
    }
    Ok((parts, commits))
}

#[cfg(feature = "object-store")]
fn s3_store() -> Result<Option<Arc<dyn Store>>, Box<dyn std::error::Error>> {
    let Ok(endpoint) = std::env::var("CHECKPOINT_S3_ENDPOINT") else {
        eprintln!("no CHECKPOINT_S3_ENDPOINT: measuring the directory store only");
        return Ok(None);
    };
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    Ok(Some(Arc::new(checkpoint::store::ObjectStore::s3(
        &endpoint,
        &var("CHECKPOINT_S3_BUCKET", "checkpoint-test"),
        &format!("bench-{nanos}"),
        &var("CHECKPOINT_S3_ACCESS_KEY_ID", "checkpoint"),
        &var("CHECKPOINT_S3_SECRET_ACCESS_KEY", "checkpoint"),
    )?)))
}

#[cfg(not(feature = "object-store"))]
fn s3_store() -> Result<Option<Arc<dyn Store>>, Box<dyn std::error::Error>> {
    eprintln!("built without `object-store`: measuring the directory store only");
    Ok(None)
}

fn median(times: &[Duration]) -> Duration {
    percentile(times, 50)
}

fn p90(times: &[Duration]) -> Duration {
    percentile(times, 90)
}

fn percentile(times: &[Duration], pct: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[(sorted.len() - 1) * pct / 100]
}

fn fmt(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
