//! Three participants and a coordinator checkpoint one logical state by
//! epoch; a crash between the parts and the commit leaves the epoch out.
//!
//! Each participant (a shard of orders, a shard of orders, a ledger: two
//! different types) saves its part of epoch E; the coordinator commits E
//! once every part is durable. Then the participants save epoch E+1 and the
//! "cluster" crashes before the commit. On restart every participant
//! restores epoch E, the same one, never a mix of E and E+1.
//!
//! Run on the directory store:
//!
//! ```text
//! cargo run --example cluster
//! ```
//!
//! or on an S3-compatible server (loopback SeaweedFS from the project's script):
//!
//! ```text
//! scripts/seaweedfs.sh start && eval "$(scripts/seaweedfs.sh env)"
//! cargo run --example cluster -- --s3 "$CHECKPOINT_S3_ENDPOINT"
//! ```

use std::sync::Arc;

use checkpoint::group::Group;
use checkpoint::{Checkpoint, DirStore, Store};

#[derive(Debug, PartialEq, Checkpoint)]
struct OrderShard {
    shard: u32,
    open_orders: Vec<u64>,
    processed: u64,
}

#[derive(Debug, PartialEq, Checkpoint)]
struct Ledger {
    balance: i64,
    entries: u64,
}

const EPOCHS: u64 = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = open_store()?;
    println!("store: {}", store.location(""));
    let group = Group::from_shared(Arc::clone(&store), "orders")?;
    let first = group.latest_committed_epoch()?.unwrap_or(0) + 1;

    let mut shards = [shard(0, first - 1), shard(1, first - 1)];
    let mut ledger = ledger_at(first - 1);
    for epoch in first..first + EPOCHS {
        // Work, then each participant saves its own part of the epoch.
        for s in &mut shards {
            *s = shard(s.shard, epoch);
        }
        ledger = ledger_at(epoch);
        let parts = [
            group.save_part(epoch, "shard-0", &shards[0])?,
            group.save_part(epoch, "shard-1", &shards[1])?,
            group.save_part(epoch, "ledger", &ledger)?,
        ];
        // The coordinator, handed what the saves returned: one conditional
        // create makes the epoch whole.
        let record = group.commit(epoch, &["shard-0", "shard-1", "ledger"], &parts)?;
        println!("committed epoch {epoch} ({} parts)", record.parts.len());
    }
    let report = group.collect_garbage(2)?;
    println!("retention removed epochs {:?}", report.committed_epochs);

    // Epoch N+1: every part is saved, then the cluster crashes before commit.
    let crashed = first + EPOCHS;
    group.save_part(crashed, "shard-0", &shard(0, crashed))?;
    group.save_part(crashed, "shard-1", &shard(1, crashed))?;
    group.save_part(crashed, "ledger", &ledger_at(crashed))?;
    println!("saved every part of epoch {crashed}, crashing before its commit");
    drop(group);

    // Restart: each participant restores on its own and gets the same epoch.
    let group = Group::from_shared(store, "orders")?;
    let s0 = group
        .restore_latest::<OrderShard>("shard-0")?
        .ok_or("nothing committed")?;
    let s1 = group
        .restore_latest::<OrderShard>("shard-1")?
        .ok_or("nothing committed")?;
    let l = group
        .restore_latest::<Ledger>("ledger")?
        .ok_or("nothing committed")?;
    println!(
        "restored epoch {} for shard-0, {} for shard-1, {} for the ledger",
        s0.epoch, s1.epoch, l.epoch
    );
    assert!(s0.epoch == crashed - 1 && s1.epoch == s0.epoch && l.epoch == s0.epoch);
    assert_eq!(s0.state, shard(0, s0.epoch));
    assert_eq!(s1.state, shards[1]);
    assert_eq!(l.state, ledger);
    println!("epoch {crashed} was never committed and is not restored");
    Ok(())
}

fn shard(shard: u32, epoch: u64) -> OrderShard {
    OrderShard {
        shard,
        open_orders: (0..epoch % 4)
            .map(|i| epoch * 100 + u64::from(shard) * 10 + i)
            .collect(),
        processed: epoch * 3 + u64::from(shard),
    }
}

fn ledger_at(epoch: u64) -> Ledger {
    Ledger {
        balance: 1_000 - 7 * epoch as i64,
        entries: epoch * 2,
    }
}

/// The directory store under the temporary directory, or S3 with `--s3 URL`
/// (credentials and bucket from `CHECKPOINT_S3_*`).
fn open_store() -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args
        .iter()
        .position(|a| a == "--s3")
        .map(|at| {
            args.get(at + 1)
                .cloned()
                .ok_or("--s3 needs an endpoint URL")
        })
        .transpose()?;
    let Some(endpoint) = endpoint else {
        let dir = std::env::temp_dir().join(format!("checkpoint-cluster-{}", std::process::id()));
        return Ok(Arc::new(DirStore::open(dir)?));
    };
    s3_store(&endpoint)
}

fn s3_store(endpoint: &str) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let prefix = format!("cluster-example-{}", std::process::id());
    Ok(Arc::new(checkpoint::store::ObjectStore::s3(
        endpoint,
        &var("CHECKPOINT_S3_BUCKET", "checkpoint-test"),
        &prefix,
        &var("CHECKPOINT_S3_ACCESS_KEY_ID", "checkpoint"),
        &var("CHECKPOINT_S3_SECRET_ACCESS_KEY", "checkpoint"),
    )?))
}
