use std::sync::Mutex;

use checkpoint::Checkpoint;

type Counter = Mutex<u64>;

#[derive(Checkpoint)]
struct Stats {
    hits: Counter,
    per_shard: Vec<Counter>,
}

fn main() {}
