use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    #[checkpoint(was = u32)]
    retries: u64,
}

fn main() {}
