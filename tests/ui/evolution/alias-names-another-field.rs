use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    log: Vec<u64>,
    #[checkpoint(alias = "log")]
    entries: Vec<u64>,
    #[checkpoint(alias = "count", alias = "total")]
    total: u64,
}

fn main() {}
