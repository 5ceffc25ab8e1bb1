use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    #[serde(rename = "count")]
    processed: u64,
}

fn main() {}
