//! A tokio service that checkpoints in the background, crashes, and resumes.
//!
//! Requests arrive on a channel and change a ledger held behind a lock. A
//! checkpoint task wakes every few milliseconds, captures the ledger under
//! the lock (encoding only) and awaits the commit outside it, with the
//! store's writes and fsyncs on tokio's blocking pool: request handling never
//! waits for the disk. The first run is cut off without a final save, as a
//! crash would; the second resumes from the newest checkpoint, which holds
//! a ledger that existed (its total is the sum of its balances), then shuts
//! down cleanly with a last save.
//!
//! Run on the directory store:
//!
//! ```text
//! cargo run --example async_service --features tokio
//! ```
//!
//! adding `-- --dir PATH` to keep the checkpoints in `PATH` across runs, and
//! `--interval-ms N` to checkpoint every `N` ms (default 10); or on an
//! S3-compatible server (loopback SeaweedFS from the project's script;
//! bucket and credentials from `CHECKPOINT_S3_*`):
//!
//! ```text
//! scripts/seaweedfs.sh start && eval "$(scripts/seaweedfs.sh env)"
//! cargo run --example async_service --features tokio -- --s3 "$CHECKPOINT_S3_ENDPOINT"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use checkpoint::store::ObjectStore;
use checkpoint::{AsyncCheckpointer, Checkpoint};
use tokio::sync::{mpsc, oneshot, watch};

#[derive(Debug, Default, Checkpoint)]
struct Ledger {
    /// Requests applied so far.
    applied: u64,
    balances: BTreeMap<String, i64>,
    /// The sum of `balances`, kept by every request.
    total: i64,
}

struct Deposit {
    account: String,
    amount: i64,
    applied: oneshot::Sender<u64>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Where the checkpoints live.
enum Place {
    Dir(PathBuf),
    /// An S3 endpoint; the prefix is unique to this process.
    S3(String),
}

impl Place {
    async fn open(&self) -> Result<AsyncCheckpointer, Error> {
        Ok(match self {
            Place::Dir(dir) => AsyncCheckpointer::open(dir).await?,
            Place::S3(endpoint) => {
                let var = |name: &str, default: &str| {
                    std::env::var(name).unwrap_or_else(|_| default.into())
                };
                let store = ObjectStore::s3(
                    endpoint,
                    &var("CHECKPOINT_S3_BUCKET", "checkpoint-test"),
                    &format!("async-service-example-{}", std::process::id()),
                    &var("CHECKPOINT_S3_ACCESS_KEY_ID", "checkpoint"),
                    &var("CHECKPOINT_S3_SECRET_ACCESS_KEY", "checkpoint"),
                )?;
                AsyncCheckpointer::new(store).await?
            }
        })
    }
}

fn main() -> Result<(), Error> {
    let mut place = None;
    let mut keep = false;
    let mut interval = Duration::from_millis(10);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--dir", Some(path)) => (place, keep) = (Some(Place::Dir(path.into())), true),
            ("--s3", Some(endpoint)) => place = Some(Place::S3(endpoint)),
            ("--interval-ms", Some(ms)) => interval = Duration::from_millis(ms.parse()?),
            _ => {
                return Err(
                    "usage: async_service [--dir PATH | --s3 ENDPOINT] [--interval-ms N]".into(),
                )
            }
        }
    }
    let temp =
        std::env::temp_dir().join(format!("checkpoint-example-async-{}", std::process::id()));
    let place = place.unwrap_or_else(|| Place::Dir(temp.clone()));

    // First run: serve, then stop without a final save, as a crash would.
    let durable = run(&place, interval, false)?;
    println!("first run cut off with {durable} requests applied and checkpointed");
    // Second run: resume from the newest checkpoint, serve, shut down cleanly.
    let resumed_at = run(&place, interval, true)?;
    assert!(resumed_at >= durable, "a checkpointed request was lost");
    if !keep && matches!(place, Place::Dir(_)) {
        std::fs::remove_dir_all(&temp)?;
    }
    Ok(())
}

/// Runs the service on its own runtime until it has served a few hundred
/// requests. Without a clean shutdown it is cut off while requests are still
/// coming, and returns how many the newest checkpoint it saw covers; with
/// one, it returns how many requests were applied when it resumed.
fn run(place: &Place, interval: Duration, clean_shutdown: bool) -> Result<u64, Error> {
    // IO and time: the object store's requests run in this runtime.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Dropping the runtime at the end stops every task where it stands.
    runtime.block_on(async {
        let ckpt = place.open().await?;
        let ledger = match ckpt.restore_latest::<Ledger>().await? {
            Some(restored) => {
                let ledger = restored.state;
                assert_eq!(ledger.total, ledger.balances.values().sum::<i64>(), "torn");
                println!(
                    "resumed from checkpoint #{} with {} requests applied",
                    restored.meta.seq, ledger.applied
                );
                ledger
            }
            None => Ledger::default(),
        };
        let start = ledger.applied;
        let ledger = Arc::new(Mutex::new(ledger));
        let (covered_tx, mut covered) = watch::channel(start);
        let checkpointer =
            checkpoint_every(interval, ckpt.clone(), Arc::clone(&ledger), covered_tx);
        tokio::spawn(async move {
            // Ending the task ends the wait for it below, with an error.
            if let Err(e) = checkpointer.await {
                eprintln!("checkpointing stopped: {e}");
            }
        });
        let (requests, inbox) = mpsc::channel(16);
        tokio::spawn(serve(Arc::clone(&ledger), inbox));

        // The clients: each request waits for its reply.
        let mut last = start;
        for i in 0..300 {
            last = deposit(&requests, i).await?;
            if i % 50 == 0 {
                tokio::time::sleep(interval).await; // traffic comes in bursts
            }
        }
        // Wait for a checkpoint of (at least) everything served so far.
        let durable = *covered.wait_for(|covered| *covered >= last).await?;
        if !clean_shutdown {
            // More requests, then the crash: these may be lost.
            for i in 0..20 {
                deposit(&requests, i).await?;
            }
            return Ok(durable);
        }
        let snapshot = ckpt.capture(&*ledger.lock().unwrap())?;
        let meta = ckpt.commit(snapshot).await?;
        println!("shut down cleanly with checkpoint #{}", meta.seq);
        Ok(start)
    })
}

/// Sends one request and returns how many requests were applied after it.
async fn deposit(requests: &mpsc::Sender<Deposit>, i: i64) -> Result<u64, Error> {
    let (reply, applied) = oneshot::channel();
    let deposit = Deposit {
        account: format!("account-{}", i % 7),
        amount: i % 11 - 3,
        applied: reply,
    };
    requests
        .send(deposit)
        .await
        .map_err(|_| "the service stopped")?;
    Ok(applied.await?)
}

async fn serve(ledger: Arc<Mutex<Ledger>>, mut inbox: mpsc::Receiver<Deposit>) {
    while let Some(deposit) = inbox.recv().await {
        let applied = {
            let mut ledger = ledger.lock().unwrap();
            *ledger.balances.entry(deposit.account).or_default() += deposit.amount;
            ledger.total += deposit.amount;
            ledger.applied += 1;
            ledger.applied
        };
        let _ = deposit.applied.send(applied);
    }
}

async fn checkpoint_every(
    interval: Duration,
    ckpt: AsyncCheckpointer,
    ledger: Arc<Mutex<Ledger>>,
    covered: watch::Sender<u64>,
) -> Result<(), Error> {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        let (snapshot, applied) = {
            let ledger = ledger.lock().unwrap();
            if ledger.applied == *covered.borrow() {
                continue; // nothing new since the last checkpoint
            }
            (ckpt.capture(&*ledger)?, ledger.applied)
        }; // the lock is released: requests go on during the commit
        ckpt.commit(snapshot).await?;
        covered.send_replace(applied);
    }
}
