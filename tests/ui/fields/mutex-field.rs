use std::sync::Mutex;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Shared {
    queue: Mutex<Vec<u64>>,
}

fn main() {}
