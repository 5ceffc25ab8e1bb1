use std::time::Instant;

use checkpoint::Checkpoint;

#[allow(non_camel_case_types)]
type clock = Instant;

#[derive(Checkpoint)]
struct Timer {
    clock: clock,
    u64: u64,
}

fn main() {}
