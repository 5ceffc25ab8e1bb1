use std::cell::Cell;

use checkpoint::Checkpoint;

#[derive(serde::Serialize, serde::Deserialize)]
struct Wrapper<T>(T);

#[derive(Checkpoint)]
struct Sheet {
    cursor: Wrapper<Cell<u32>>,
}

fn main() {}
