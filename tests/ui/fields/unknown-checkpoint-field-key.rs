use std::sync::Mutex;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Shared {
    #[checkpoint(allow_interior_mutabilty)]
    queue: Mutex<Vec<u64>>,
    #[checkpoint(rename = "count")]
    retries: u32,
}

fn main() {}
