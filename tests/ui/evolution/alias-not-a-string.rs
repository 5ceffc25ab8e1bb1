use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    #[checkpoint(alias = retries)]
    attempts: u64,
}

fn main() {}
