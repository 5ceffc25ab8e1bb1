use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    log: Vec<u64>,
    #[derived(from = log.len())]
    #[checkpoint(alias = "count", was = u32, convert = usize::from)]
    len: usize,
}

fn main() {}
