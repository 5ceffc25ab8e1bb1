use checkpoint::Checkpoint;

#[derive(Checkpoint)]
struct Session {
    user: String,
    #[checkpoint(default = ctx.now)]
    started: u64,
}

fn main() {}
