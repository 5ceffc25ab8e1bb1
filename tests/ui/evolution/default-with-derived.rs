use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    log: Vec<u64>,
    #[derived(from = log.len())]
    #[checkpoint(default = 0)]
    len: usize,
}

fn main() {}
