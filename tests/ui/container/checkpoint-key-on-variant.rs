use checkpoint::Checkpoint;

#[derive(Checkpoint)]
enum Job {
    #[checkpoint(name = "Waiting")]
    Idle,
}

fn main() {}
