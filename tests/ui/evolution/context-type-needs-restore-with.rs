use checkpoint::{Checkpoint, Checkpointer};

struct Clock {
    now: u64,
}

#[derive(Checkpoint)]
#[checkpoint(context = Clock)]
struct Session {
    user: String,
    #[derived(from = ctx.now)]
    started: u64,
}

fn main() {
    let ckpt = Checkpointer::open("state").unwrap();
    let _ = ckpt.restore_latest::<Session>();
}
