//! Save and restore throughput of `AsyncCheckpointer` against the sync
//! `Checkpointer` driven from async code, in the same run, on a directory
//! store and (when a server answers) on SeaweedFS through S3:
//!
//! - `async`: `AsyncCheckpointer::save(&state).await` and
//!   `restore_latest().await`;
//! - `sync`: `Checkpointer::save` and `restore_latest` from the task, handed
//!   to a thread that may block: `tokio::task::spawn_blocking` for the
//!   directory store; a thread of the bench's own for S3, as the
//!   object-store backend refuses to block on any thread of a runtime,
//!   `spawn_blocking`'s included.
//!
//! Each way saves then restores the state `OPS` times per round; the ways
//! alternate within each round, and which goes first alternates between
//! rounds, so that other load on the machine spreads over both. Reports the median round's MiB/s. A plain timing loop on a
//! multi-thread runtime of two workers, as a service would run.
//!
//! Run with `cargo bench --bench async_throughput`; the directory store
//! lives under `CHECKPOINT_BENCH_DIR` (default: the system temp dir); S3 is
//! used when `CHECKPOINT_S3_ENDPOINT` is set (`eval "$(scripts/seaweedfs.sh
//! env)"`). Settings: `MIB` (default 16), `OPS` per way and round (default
//! 10), `ROUNDS` (default 6). docs/PERFORMANCE.md has the figures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use checkpoint::{AsyncCheckpointer, Checkpoint, Checkpointer, DirStore, Store};
use common::{median, setting};
use tokio::runtime::Runtime;

mod common;

#[derive(Debug, Checkpoint)]
struct Blob {
    seq: u64,
    data: Vec<u8>,
}

fn blob(mib: usize) -> Blob {
    Blob {
        seq: 0,
        data: (0..mib << 20)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8)
            .collect(),
    }
}

#[derive(Debug, Clone, Copy)]
enum Way {
    Async,
    Sync,
}

/// Where the sync way blocks.
#[derive(Debug, Clone, Copy)]
enum Blocking {
    SpawnBlocking,
    OwnThread,
}

#[derive(Default)]
struct Timings {
    save: Vec<Duration>,
    restore: Vec<Duration>,
}

/// The two ways' checkpointers, each over a store of its own.
struct Checkpointers {
    asynchronous: AsyncCheckpointer,
    sync: Arc<Checkpointer>,
}

async fn run(
    way: Way,
    blocking: Blocking,
    ckpts: &Checkpointers,
    state: &Arc<Blob>,
    ops: usize,
) -> (Duration, Duration) {
    let ckpt = &ckpts.asynchronous;
    let (mut save, mut restore) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..ops {
        let began = Instant::now();
        match way {
            Way::Async => {
                ckpt.save(&**state).await.unwrap();
            }
            Way::Sync => {
                let sync = Arc::clone(&ckpts.sync);
                let state = Arc::clone(state);
                off_task(blocking, move || sync.save(&*state).map(drop)).await;
            }
        }
        save += began.elapsed();
        let began = Instant::now();
        match way {
            Way::Async => {
                let restored = ckpt.restore_latest::<Blob>().await.unwrap().unwrap();
                assert_eq!(restored.state.data.len(), state.data.len());
            }
            Way::Sync => {
                let sync = Arc::clone(&ckpts.sync);
                let len = state.data.len();
                off_task(blocking, move || {
                    let restored = sync.restore_latest::<Blob>()?.unwrap();
                    assert_eq!(restored.state.data.len(), len);
                    Ok(())
                })
                .await;
            }
        }
        restore += began.elapsed();
    }
    (save, restore)
}

/// Runs `work` where it may block, and waits for it without blocking.
async fn off_task(
    blocking: Blocking,
    work: impl FnOnce() -> checkpoint::Result<()> + Send + 'static,
) {
    match blocking {
        Blocking::SpawnBlocking => tokio::task::spawn_blocking(work).await.unwrap().unwrap(),
        Blocking::OwnThread => {
            let (done, wait) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                let _ = done.send(work());
            });
            wait.await.unwrap().unwrap();
        }
    }
}

fn mib_per_s(mib: usize, ops: usize, d: Duration) -> f64 {
    (mib * ops) as f64 / d.as_secs_f64()
}

fn bench<S: Store + 'static>(
    rt: &Runtime,
    name: &str,
    store: impl Fn(&str) -> S,
    blocking: Blocking,
    mib: usize,
    ops: usize,
    rounds: usize,
) {
    let state = Arc::new(blob(mib));
    // Built outside the runtime: `Checkpointer::new` lists the store, and
    // the object-store backend blocks only outside a runtime.
    let ckpts = Checkpointers {
        asynchronous: AsyncCheckpointer::from(
            Checkpointer::new(store("async")).unwrap().keep_last(2),
        ),
        sync: Arc::new(Checkpointer::new(store("sync")).unwrap().keep_last(2)),
    };
    let mut timings = [Timings::default(), Timings::default()];
    for round in 0..rounds {
        // Which way goes first alternates too, so that neither always runs
        // in the other's wake (its page cache, its deletes by retention).
        let mut order = [(Way::Async, 0), (Way::Sync, 1)];
        if round % 2 == 1 {
            order.reverse();
        }
        for (way, index) in order {
            let (save, restore) = rt.block_on(run(way, blocking, &ckpts, &state, ops));
            timings[index].save.push(save);
            timings[index].restore.push(restore);
        }
    }
    let sync_name = match blocking {
        Blocking::SpawnBlocking => "sync from spawn_blocking",
        Blocking::OwnThread => "sync from a thread of its own",
    };
    for (label, timings) in ["AsyncCheckpointer", sync_name].into_iter().zip(timings) {
        println!(
            "| {name} | {label} | {:.0} | {:.0} |",
            mib_per_s(mib, ops, median(timings.save)),
            mib_per_s(mib, ops, median(timings.restore)),
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once, briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (mib, ops, rounds) = if quick {
        (1, 1, 1)
    } else {
        (
            setting("MIB", 16) as usize,
            setting("OPS", 10) as usize,
            setting("ROUNDS", 6) as usize,
        )
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = std::env::var_os("CHECKPOINT_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("checkpoint-async-throughput-")
        .tempdir_in(base)
        .unwrap();
    println!(
        "{mib} MiB state, {ops} saves and restores per way and round, {rounds} rounds with the \
         ways alternating; MiB/s of the median round"
    );
    println!();
    println!("| store | way | save MiB/s | restore MiB/s |");
    println!("|---|---|---:|---:|");
    let path = dir.path().to_path_buf();
    bench(
        &rt,
        "directory",
        |way| DirStore::open(path.join(way)).unwrap(),
        Blocking::SpawnBlocking,
        mib,
        ops,
        rounds,
    );
    match common::s3_endpoint() {
        Ok(endpoint) if !quick => {
            let name = format!("async-throughput-{}", std::process::id());
            bench(
                &rt,
                "SeaweedFS (S3)",
                |way| common::s3_store(&endpoint, &format!("{name}-{way}")),
                Blocking::OwnThread,
                mib,
                ops,
                rounds,
            );
        }
        Ok(_) => {}
        Err(why) => println!("(S3 skipped: {why})"),
    }
}
