use std::cell::RefCell;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Cache(u32, (String, RefCell<Vec<u8>>));

fn main() {}
