use std::time::Instant;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct MessageProcessor {
    processed_messages: u64,
    started: Instant,
}

fn main() {}
