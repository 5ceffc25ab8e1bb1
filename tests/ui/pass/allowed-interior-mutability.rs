use std::cell::RefCell;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Stats {
    #[checkpoint(allow_interior_mutability)]
    hits: AtomicU64,
    #[checkpoint(allow_interior_mutability)]
    queue: Mutex<Vec<u64>>,
    #[derived(from = RefCell::new(Vec::new()))]
    scratch: RefCell<Vec<u8>>,
    #[derived(from = Mutex::new(0))]
    #[checkpoint(allow_interior_mutability)]
    lock: Mutex<u8>,
}

fn main() {}
