//! Commit latency of one epoch with 1, 8 and 64 participants, on the
//! directory store and (when `CHECKPOINT_S3_ENDPOINT` is set) on S3, with
//! the cost of one conditional create alone measured in the same run.
//!
//! ```text
//! scripts/seaweedfs.sh start && eval "$(scripts/seaweedfs.sh env)"
//! cargo bench --bench group_commit
//! ```
//!
//! Two commits per epoch count: `Group::commit`, handed the `PartInfo`s the
//! saves returned (one conditional create of the record, a listing of the
//! commits beside it), and `Group::commit_verifying`, which reads every part
//! back in parallel first. Each round saves the parts once and commits them
//! with one of the two, alternating, so both see the same store state.
//! Writing the parts is measured separately and not included.

use std::sync::Arc;
use std::time::{Duration, Instant};

use checkpoint::group::{Group, GroupError, PartInfo};
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
        "{:<6} {:>12} {:>13} {:>13} {:>13} {:>13} {:>13}",
        "store",
        "participants",
        "parts (med)",
        "commit (med)",
        "commit (p90)",
        "verify (med)",
        "verify (p90)"
    );
    for (name, store) in &stores {
        let create = time_creates(&**store, rounds)?;
        println!(
            "{name:<6} {:>12} {:>13} {:>13} {:>13}",
            "create",
            "-",
            fmt(median(&create)),
            fmt(p90(&create))
        );
        for participants in [1usize, 8, 64] {
            let t = time_commits(Arc::clone(store), participants, rounds)?;
            println!(
                "{name:<6} {participants:>12} {:>13} {:>13} {:>13} {:>13} {:>13}",
                fmt(median(&t.parts)),
                fmt(median(&t.commit)),
                fmt(p90(&t.commit)),
                fmt(median(&t.verifying)),
                fmt(p90(&t.verifying))
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

/// Times of one participant count: saving every part of an epoch, and the
/// two commits.
struct CommitTimes {
    parts: Vec<Duration>,
    commit: Vec<Duration>,
    verifying: Vec<Duration>,
}

fn time_commits(
    store: Arc<dyn Store>,
    participants: usize,
    rounds: usize,
) -> Result<CommitTimes, Box<dyn std::error::Error>> {
    let group = Group::from_shared(store, &format!("bench-{participants}"))?;
    let ids: Vec<String> = (0..participants).map(|i| format!("p{i:03}")).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut times = CommitTimes {
        parts: Vec::new(),
        commit: Vec::new(),
        verifying: Vec::new(),
    };
    for epoch in 1..=2 * rounds as u64 {
        let started = Instant::now();
        let infos = std::thread::scope(|s| -> Result<Vec<PartInfo>, GroupError> {
            let handles: Vec<_> = ids
                .chunks(ids.len().div_ceil(16))
                .map(|chunk| {
                    let group = &group;
                    s.spawn(move || {
                        chunk
                            .iter()
                            .enumerate()
                            .map(|(i, id)| {
                                let shard = Shard {
                                    id: i as u32,
                                    values: vec![epoch; 128],
                                };
                                group.save_part(epoch, id, &shard)
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            let mut infos = Vec::with_capacity(participants);
            for handle in handles {
                infos.extend(handle.join().expect("saver panicked")?);
            }
            Ok(infos)
        })?;
        times.parts.push(started.elapsed());
        let started = Instant::now();
        if epoch % 2 == 1 {
            group.commit(epoch, &id_refs, &infos)?;
            times.commit.push(started.elapsed());
        } else {
            group.commit_verifying(epoch, &id_refs)?;
            times.verifying.push(started.elapsed());
        }
    }
    Ok(times)
}

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
