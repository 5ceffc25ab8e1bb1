use std::time::Instant;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Reader {
    started: Instant,
}

#[derive(Checkpoint)]
struct Writer {
    started: Instant,
}

fn main() {}
