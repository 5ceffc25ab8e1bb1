use checkpoint::Checkpoint;

#[derive(Checkpoint)]
#[checkpoint(removed = "scratch", removed = "log")]
struct Processor {
    log: Vec<u64>,
}

fn main() {}
