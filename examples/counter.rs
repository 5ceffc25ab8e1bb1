//! Threads increment a shared state while checkpoints are taken.
//!
//! The classic bug: a checkpoint copies fields one by one while writers
//! keep changing them, so it holds a state that never existed. Here the
//! state's lock is held for `capture` alone (which encodes it) and the slow
//! durable `commit` runs after the lock is released. Every restored
//! checkpoint is a state that existed: its total equals the sum of its
//! per-thread counts.
//!
//! Run with `cargo run --example counter`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use checkpoint::{Checkpoint, Checkpointer};

#[derive(Debug, Checkpoint)]
struct Counters {
    total: u64,
    per_thread: Vec<u64>,
}

const THREADS: usize = 4;
const CHECKPOINTS: usize = 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir =
        std::env::temp_dir().join(format!("checkpoint-example-counter-{}", std::process::id()));
    let ckpt = Checkpointer::open(&dir)?.keep_last(usize::MAX);
    let state = Arc::new(Mutex::new(Counters {
        total: 0,
        per_thread: vec![0; THREADS],
    }));

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut s = state.lock().unwrap();
                    s.per_thread[t] += 1;
                    s.total += 1;
                }
            })
        })
        .collect();

    for _ in 0..CHECKPOINTS {
        let snapshot = {
            let s = state.lock().unwrap();
            ckpt.capture(&*s)?
        }; // lock released: writers go on while the snapshot is made durable
        ckpt.commit(snapshot)?;
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let last = ckpt.save(&*state.lock().unwrap())?;
    println!(
        "{CHECKPOINTS} checkpoints taken while {THREADS} threads counted; the last is #{}",
        last.seq
    );

    for meta in ckpt.list()? {
        let restored = ckpt.restore::<Counters>(meta.seq)?.state;
        let sum: u64 = restored.per_thread.iter().sum();
        assert_eq!(restored.total, sum, "checkpoint #{} is torn", meta.seq);
    }
    let latest = ckpt.restore_latest::<Counters>()?.unwrap().state;
    assert_eq!(latest.total, state.lock().unwrap().total);
    println!(
        "every checkpoint is a state that existed; the latest counts {} = {:?}",
        latest.total, latest.per_thread
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
