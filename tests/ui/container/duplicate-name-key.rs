use checkpoint::Checkpoint;

#[derive(Checkpoint)]
#[checkpoint(name = "Processor", name = "Other")]
struct ProcessorV2 {
    log: Vec<u64>,
}

fn main() {}
