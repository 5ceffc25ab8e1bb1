use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    #[serde(skip)]
    cache: Vec<u64>,
}

fn needs_checkpoint<T: Checkpoint + serde::Serialize>(_: &T) {}

fn main() {
    needs_checkpoint(&Processor { cache: Vec::new() });
}
