use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    #[serde(skip_serializing)]
    cache: Vec<u64>,
    #[serde(skip_deserializing)]
    seen: u64,
}

fn main() {}
