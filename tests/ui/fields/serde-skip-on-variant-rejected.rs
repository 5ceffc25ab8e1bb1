use checkpoint::Checkpoint;

#[derive(Checkpoint)]
enum Job {
    Idle,
    #[serde(skip)]
    Scratch(u8),
}

fn main() {}
