use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    log: Vec<u64>,
    #[derived(from = total * 2)]
    double: usize,
    #[derived(from = log.len())]
    total: usize,
}

fn main() {}
