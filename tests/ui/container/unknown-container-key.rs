use checkpoint::Checkpoint;

#[derive(Checkpoint)]
#[checkpoint(nmae = "Processor", version = 2)]
struct ProcessorV2 {
    log: Vec<u64>,
}

fn main() {}
