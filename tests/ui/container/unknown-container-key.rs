use checkpoint::Checkpoint;

#[derive(Checkpoint)]
#[checkpoint(nmae = "Processor", context = ())]
struct ProcessorV2 {
    log: Vec<u64>,
}

fn main() {}
