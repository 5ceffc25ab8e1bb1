use checkpoint::Checkpoint;

#[derive(Checkpoint)]
#[derived(from = Processor { log: Vec::new() })]
struct Processor {
    log: Vec<u64>,
}

fn main() {}
