use checkpoint::Checkpoint;

#[derive(Checkpoint)]
#[checkpoint(name = Processor)]
struct ProcessorV2 {
    log: Vec<u64>,
}

fn main() {}
