use std::time::Instant;

use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Clock {
    #[derived(from = Instant::now())]
    started: Instant,
}

#[derive(Checkpoint)]
struct Stamp(#[derived(from = Instant::now())] Instant);

#[derive(Checkpoint)]
enum Timer {
    Stopped,
    Running(#[derived(from = Instant::now())] Instant),
    Paused {
        #[derived(from = Instant::now())]
        at: Instant,
    },
}

fn main() {}
