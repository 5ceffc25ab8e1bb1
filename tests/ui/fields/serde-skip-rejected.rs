use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    processed: u64,
    #[serde(skip)]
    cache: Vec<u64>,
}

fn main() {}
