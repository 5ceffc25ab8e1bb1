use checkpoint::Checkpoint;

#[derive(serde::Serialize, serde::Deserialize)]
struct Limits {
    max: u32,
}

#[derive(Checkpoint)]
struct Processor {
    #[serde(flatten)]
    limits: Limits,
}

fn main() {}
