use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    log: Vec<u64>,
    #[derived(from = logs.len())]
    len: usize,
}

fn main() {}
