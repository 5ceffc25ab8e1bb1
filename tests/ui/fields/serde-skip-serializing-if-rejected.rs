use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Processor {
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
}

fn main() {}
