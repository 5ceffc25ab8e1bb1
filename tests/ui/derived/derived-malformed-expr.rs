use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    log: Vec<u64>,
    #[derived(from = log.len() +)]
    len: usize,
}

fn main() {}
