use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    #[checkpoint(convert = u64::from)]
    retries: u64,
}

fn main() {}
