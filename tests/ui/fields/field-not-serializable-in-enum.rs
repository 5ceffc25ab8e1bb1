use checkpoint::Checkpoint;

struct Handle;

#[derive(Checkpoint)]
enum Connection {
    Closed,
    Open { handle: Handle },
}

fn main() {}
