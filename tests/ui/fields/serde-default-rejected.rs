use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    #[serde(default)]
    retries: u32,
}

fn main() {}
