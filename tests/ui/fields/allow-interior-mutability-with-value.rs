use std::sync::Mutex;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Shared {
    #[checkpoint(allow_interior_mutability = true)]
    queue: Mutex<Vec<u64>>,
}

fn main() {}
