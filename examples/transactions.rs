//! Ordered transactions restored in order after a crash.
//!
//! The classic bug: a checkpoint holds balances but not which transaction
//! they include, so after a crash the replay applies some transactions
//! twice or skips some. Here the ledger saves the sequence number of the
//! last transaction it applied, replay starts right after it, and the
//! checkpoints' own sequence numbers say which checkpoint is newest.
//!
//! Run with `cargo run --example transactions`.

use std::collections::BTreeMap;

use checkpoint::{Checkpoint, Checkpointer};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Transaction {
    seq: u64,
    from: String,
    to: String,
    amount: i64,
}

#[derive(Debug, PartialEq, Checkpoint)]
struct Ledger {
    last_applied: u64,
    balances: BTreeMap<String, i64>,
}

impl Ledger {
    fn apply(&mut self, tx: &Transaction) {
        assert_eq!(tx.seq, self.last_applied + 1, "transactions apply in order");
        *self.balances.entry(tx.from.clone()).or_default() -= tx.amount;
        *self.balances.entry(tx.to.clone()).or_default() += tx.amount;
        self.last_applied = tx.seq;
    }
}

/// The durable input log, e.g. a message queue the ledger consumes.
fn transactions() -> Vec<Transaction> {
    let names = ["alice", "bob", "carol"];
    (1..=12)
        .map(|seq| Transaction {
            seq,
            from: names[seq as usize % 3].into(),
            to: names[(seq as usize + 1) % 3].into(),
            amount: seq as i64 * 10,
        })
        .collect()
}

/// Applies transactions after the restored one; checkpoints every third.
/// Returns early, without a checkpoint, at `crash_after`.
fn run(ckpt: &Checkpointer, crash_after: Option<u64>) -> Result<Ledger, checkpoint::Error> {
    let mut ledger = match ckpt.restore_latest::<Ledger>()? {
        Some(r) => {
            println!(
                "restored checkpoint #{}: transactions up to {} applied",
                r.meta.seq, r.state.last_applied
            );
            r.state
        }
        None => Ledger {
            last_applied: 0,
            balances: BTreeMap::new(),
        },
    };
    let resume_after = ledger.last_applied;
    for tx in transactions().iter().filter(|tx| tx.seq > resume_after) {
        ledger.apply(tx);
        if tx.seq % 3 == 0 {
            let meta = ckpt.save(&ledger)?;
            println!(
                "applied up to transaction {}; checkpoint #{}",
                tx.seq, meta.seq
            );
        }
        if Some(tx.seq) == crash_after {
            println!("crash after transaction {} (not checkpointed)", tx.seq);
            return Ok(ledger);
        }
    }
    Ok(ledger)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("checkpoint-example-tx-{}", std::process::id()));
    let ckpt = Checkpointer::open(&dir)?;
    let _lost = run(&ckpt, Some(8))?;
    drop(ckpt);

    let ckpt = Checkpointer::open(&dir)?;
    let recovered = run(&ckpt, None)?;

    let mut expected = Ledger {
        last_applied: 0,
        balances: BTreeMap::new(),
    };
    transactions().iter().for_each(|tx| expected.apply(tx));
    assert_eq!(recovered, expected, "each transaction applied exactly once");
    println!(
        "recovered ledger matches a run without a crash: {:?}",
        recovered.balances
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
