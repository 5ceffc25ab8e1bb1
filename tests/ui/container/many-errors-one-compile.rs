use std::cell::RefCell;
use std::time::Instant;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
#[checkpoint(nam = "P")]
struct Processor {
    #[serde(skip)]
    cache: Vec<u64>,
    shared: RefCell<u64>,
    #[derived]
    index: Vec<usize>,
    #[derived(frm = 0)]
    len: usize,
}

#[derive(Checkpoint)]
struct Clock {
    started: Instant,
    stopped: Instant,
}

fn main() {}
