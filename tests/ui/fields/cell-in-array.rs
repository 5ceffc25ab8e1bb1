use std::cell::Cell;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Grid {
    cells: [Cell<u8>; 4],
}

fn main() {}
