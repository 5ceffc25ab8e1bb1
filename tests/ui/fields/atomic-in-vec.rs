use std::sync::atomic::AtomicU64;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Counters {
    hits: Vec<AtomicU64>,
}

fn main() {}
