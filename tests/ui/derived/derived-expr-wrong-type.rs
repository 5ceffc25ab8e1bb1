use std::collections::HashMap;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    log: Vec<u64>,
    #[derived(from = log.clone())]
    index: HashMap<u64, usize>,
}

fn main() {}
