use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    log: Vec<u64>,
    #[derived(from = log.len(), from = 0)]
    len: usize,
}

fn main() {}
