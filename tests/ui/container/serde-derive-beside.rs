use checkpoint::Checkpoint;

#[derive(Checkpoint, serde::Serialize)]
struct Processor {
    log: Vec<u64>,
}

fn main() {}
