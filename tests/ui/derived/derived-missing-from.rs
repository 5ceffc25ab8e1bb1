use std::collections::HashMap;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    log: Vec<u64>,
    #[derived]
    index: HashMap<u64, usize>,
}

fn main() {}

#[derive(Checkpoint)]
struct Shared {
    #[derived]
    lock: std::sync::Mutex<u8>,
}
